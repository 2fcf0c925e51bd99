//! The `relais` binary: parse the command line, start logging, run the command, map the
//! outcome to an exit code. Everything else lives in the library.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use relais::cli::{self, Cli, Command, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    start_logging(&cli);
    // Panics inside third-party parsers are contained (and recorded as parse errors);
    // say so in one log line rather than with the default hook's raw message.
    std::panic::set_hook(Box::new(|info| {
        tracing::error!("internal error (contained where possible): {info}");
    }));
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, naming the file, source or key: `{:#}` joins the context chain.
            eprintln!("relais: {error:#}");
            ExitCode::from(1)
        }
    }
}

/// Logs go to stderr. The daemon logs at info by default; one-shot commands only warn,
/// so their stdout stays the answer. RUST_LOG overrides either. tokio-cron-scheduler
/// narrates its own start-up at info ("Uninited", "Job creator created"): noise for
/// operators, so the daemon's default keeps it to warnings.
fn start_logging(cli: &Cli) {
    let default = match cli.command {
        Command::Run => "info,tokio_cron_scheduler=warn",
        _ => "warn",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

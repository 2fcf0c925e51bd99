//! The command line: clap definitions and one function per command. Commands print
//! results on stdout (one JSON document with `--json`) and leave logs to stderr. Every
//! error becomes one line naming the file, source or key; `main` maps it to exit code 1.

pub mod curate;

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;

mod import;

use crate::config::{Config, Location};
use crate::digest::Digester;
use crate::fetch::Fetcher;
use crate::model::{Item, Story};
use crate::normalise::{self, Context};
use crate::parse;
use crate::publish::Publisher;
use crate::refresh::{Outcome, Refresher};
use crate::store::{ItemQuery, Store, StoreError, StoreOptions};

#[cfg(test)]
mod help_tests;
mod output;
pub use output::{Output, PartialFile, Terminal};

/// relais — polls a network's partner feeds, keeps every item, republishes curated
/// channels.
#[derive(Debug, Parser)]
#[command(
    name = "relais",
    version,
    about,
    long_about = None,
    after_help = "Example: relais --config config/demo.toml run\n\n\
        Every command has --help with an example. While `relais run` holds the store, \
        store commands (items, sources, fetch, stories, curate, digest, backup, export) go through \
        it, over the socket beside the store (data/relais.db → data/relais.sock)."
)]
pub struct Cli {
    /// Configuration file [default: $RELAIS_CONFIG, then ./config/relais.toml]
    #[arg(long, global = true, env = "RELAIS_CONFIG")]
    pub config: Option<PathBuf>,

    /// Log format on stderr (the level comes from RUST_LOG).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: poll sources, serve HTTP; stops cleanly on SIGINT/SIGTERM and
    /// re-reads its configuration on SIGHUP (a file that does not validate is refused and
    /// the running configuration kept).
    ///
    /// Example: relais --config config/demo.toml run
    Run,
    /// Validate the configuration and print a summary (exit 0 valid, 1 invalid).
    ///
    /// Example: relais --config /etc/relais/relais.toml check
    Check,
    /// Poll now: every source, or the ones named; one line per source.
    ///
    /// Example: relais fetch --source ciedel --source cuf
    Fetch {
        /// A source id (repeatable).
        #[arg(long = "source", value_name = "ID")]
        sources: Vec<String>,
    },
    /// List sources with their health (last success, last error, failures, next poll).
    ///
    /// Example: relais sources --json
    ///
    /// Example: relais sources import partenaires.opml --dry-run
    #[command(args_conflicts_with_subcommands = true)]
    Sources {
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<SourcesCommand>,
    },
    /// List stored items, newest first.
    ///
    /// Example: relais items --source ciedel --limit 5
    ///
    /// With --channel, the channel's stories; --why adds the rule that kept each one,
    /// and --why STORY says why that story (its id, a number) is in or out.
    ///
    /// Example: relais items --channel cooperation-decentralisee --why
    Items {
        /// Only this source's items.
        #[arg(long, value_name = "ID")]
        source: Option<String>,
        /// The channel's selection, in its order.
        #[arg(long, value_name = "ID")]
        channel: Option<String>,
        /// With --channel: say why each story is kept, or why STORY (a story id, or an
        /// item as SOURCE/ITEM-ID) is in or out.
        #[arg(long, value_name = "STORY", num_args = 0..=1, default_missing_value = "", requires = "channel")]
        why: Option<String>,
        /// At most this many items.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Parse and normalise one feed file offline: no store, no network.
    ///
    /// Example: relais parse config/demo/ciedel.rss --url https://ciedel.example.org/feed.rss --json
    Parse {
        file: PathBuf,
        /// The URL the file was fetched from, to resolve relative links.
        #[arg(long)]
        url: Option<url::Url>,
        #[arg(long)]
        json: bool,
    },
    /// Write every published file (feeds, OPML, HTML pages, assets) for a static web
    /// server: the same bytes the daemon serves.
    ///
    /// Example: relais export --out /var/www/veille
    Export {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Write the whole store as JSON lines.
    ///
    /// Example: relais backup --out relais-2026-11-25.jsonl
    Backup {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Load a backup (JSON lines) into an empty store.
    ///
    /// Example: relais restore relais-2026-11-25.jsonl
    Restore { file: PathBuf },
    /// Digests: preview an issue, send one now, or show the ledger.
    ///
    /// Example: relais digest status hebdo
    #[command(subcommand)]
    Digest(DigestCommand),
    /// Stories: one per announcement, whichever partners published it. Show why items
    /// are together; split or merge them when matching got it wrong (durably: re-polls,
    /// edits and restarts keep the operator's decision).
    ///
    /// Example: relais stories show 42
    Stories {
        #[command(subcommand)]
        action: StoriesCommand,
    },
    /// Curation: pin a story at the top of a channel, hide it (one channel or
    /// everywhere), edit its republished title and summary, add it to a channel by hand;
    /// every action goes to an audit log (`curate log`). STORY is a story id or
    /// SOURCE/ITEM-ID.
    ///
    /// Example: relais curate pin 42 --channel cooperation-decentralisee
    Curate {
        #[command(subcommand)]
        action: curate::CurateCommand,
    },
    /// Evaluate story matching on labelled pairs (JSON lines: {"a": {source, title,
    /// summary, url, published}, "b": {…}, "same": bool, "kind": "…"}, `same` and
    /// `kind` optional): every item goes through the real matching in a temporary store,
    /// oldest first; reports whether each pair ended in one story, and precision and
    /// recall when labels are given.
    ///
    /// Example: relais dedup-eval ../shared/dedup/dev.jsonl --json
    DedupEval {
        /// The labelled pairs, one JSON object a line.
        file: PathBuf,
        /// One JSON document: {"pairs": [{line, same, rule, score, note, kind, label}],
        /// "precision", "recall", "by_kind", "stories_spanning_lines", …}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DigestCommand {
    /// Write an issue without sending it: the whole message (.eml), or its HTML part
    /// when FILE ends in .html, or its text part when it ends in .txt; stdout when no
    /// --out.
    ///
    /// Example: relais --config config/demo.toml digest preview hebdo --period 2026-W47 --out /tmp/d.html
    Preview {
        /// The digest id.
        id: String,
        /// The ISO week, such as 2026-W48 [default: the last complete week].
        #[arg(long, value_name = "P")]
        period: Option<String>,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Send an issue now, through the ledger: a period already sent is not sent again.
    ///
    /// Example: relais digest send hebdo --period 2026-W48
    ///
    /// A period whose delivery is uncertain (relais stopped after handing it to the SMTP
    /// server) is only sent again with --force, after checking the list's archive; the
    /// resent message keeps its Message-ID.
    Send {
        id: String,
        #[arg(long, value_name = "P")]
        period: Option<String>,
        /// Say what would be sent; send and record nothing.
        #[arg(long)]
        dry_run: bool,
        /// Resend a sent, failed or uncertain period (same message, same Message-ID).
        #[arg(long)]
        force: bool,
    },
    /// The ledger: every period of every digest (or one) and where it stands.
    ///
    /// Example: relais digest status --json
    Status {
        id: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// `relais sources …`
#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// Add the feeds of an OPML list to the configuration's sources_file.
    ///
    /// Each feed of the list (a feed reader's export, or /sources.opml) becomes a
    /// [[source]] entry: id from its title, OPML categories as tags. Feeds already
    /// configured are skipped, each on its own line; the file is appended to (comments
    /// kept) and only written if the whole configuration stays valid. Then reload the
    /// daemon (systemctl reload relais) to poll them.
    ///
    /// Example: relais sources import partenaires.opml --dry-run
    Import {
        /// The OPML file.
        file: PathBuf,
        /// Say what would be added; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `relais stories …`
#[derive(Debug, Subcommand)]
pub enum StoriesCommand {
    /// The story's members (source, id, title, link, date) and why each is there: the
    /// rule and score that matched it, `primary`, or `operator merge`. ID is a story id,
    /// or an item as SOURCE/ITEM-ID (its story).
    ///
    /// Example: relais stories show 42
    ///
    /// Example: relais stories show ciedel/ciedel-actu-0431 --json
    Show {
        /// A story id (a number), or an item as SOURCE/ITEM-ID.
        id: String,
        /// One JSON document: {"id", "members": [{source, id, title, url, published,
        /// primary, rule, score, with, why}]}.
        #[arg(long)]
        json: bool,
    },
    /// Detach an item (SOURCE/ITEM-ID) from its story into a story of its own; it will
    /// never join its former companions again by itself.
    ///
    /// Example: relais stories split cuf/https://cuf.example.org/rencontres-2021/presentation
    Split {
        /// The item, as SOURCE/ITEM-ID (`relais items --json` shows both).
        item: String,
    },
    /// Put two items' stories together (SOURCE/ITEM-ID each), whatever the vetoes say.
    ///
    /// Example: relais stories merge ciedel/ciedel-actu-0431 cuf/cuf-actu-2019-07
    Merge {
        /// One item, as SOURCE/ITEM-ID.
        item: String,
        /// The other item, as SOURCE/ITEM-ID.
        other: String,
    },
}

/// The configuration file to use: `--config`, `$RELAIS_CONFIG` (clap reads both), then
/// ./config/relais.toml.
fn config_path(cli: &Cli) -> PathBuf {
    cli.config
        .clone()
        .unwrap_or_else(|| PathBuf::from("config/relais.toml"))
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    Ok(Config::load(&config_path(cli))?)
}

fn open_store(config: &Config) -> Result<Store, StoreError> {
    let options = StoreOptions {
        story_window: config.stories.window,
        ..StoreOptions::default()
    };
    Store::open_with(&config.store.path, &options)
}

/// What a store command runs against: the configuration and the open store — the
/// daemon's own, with its refresher and digester (their limits and locks), when the
/// command comes through the control socket.
#[derive(Clone)]
pub struct Ctx {
    pub config: Arc<Config>,
    pub store: Arc<Store>,
    /// The daemon's refresher; a one-shot command builds its own.
    pub refresher: Option<Arc<Refresher>>,
    /// The daemon's digester (its lock serialises sends with the ticker's).
    pub digester: Option<Arc<Digester>>,
}

impl Ctx {
    /// A one-shot command's context: its own store, no daemon parts.
    pub fn local(config: Config, store: Store) -> Ctx {
        Ctx {
            config: Arc::new(config),
            store: Arc::new(store),
            refresher: None,
            digester: None,
        }
    }

    fn digester(&self) -> Arc<Digester> {
        self.digester.clone().unwrap_or_else(|| {
            Arc::new(Digester::new(
                Arc::clone(&self.config),
                Arc::clone(&self.store),
            ))
        })
    }
}

/// Run the command line. Errors are meant for a human: one line, naming what is wrong.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Run => run_daemon(load_config(&cli)?),
        Command::Check => check(&cli),
        Command::Parse { file, url, json } => parse_file(file, url.as_ref(), *json),
        Command::DedupEval { file, json } => crate::dedup_eval::run(file, *json),
        // The sources file, not the store: no daemon involved (reload it afterwards).
        Command::Sources {
            action: Some(SourcesCommand::Import { file, dry_run }),
            ..
        } => import::import(
            &load_config(&cli)?,
            file,
            *dry_run,
            &mut std::io::stdout().lock(),
        ),
        command => with_store(&cli, command),
    }
}

/// A store command: through the daemon when one answers on the store's control socket
/// (it holds the store), else on the store opened here.
fn with_store(cli: &Cli, command: &Command) -> anyhow::Result<()> {
    let config = load_config(cli)?;
    let socket = crate::control::socket_path(&config.store.path);
    let mut terminal = Terminal::new();
    let restoring = matches!(command, Command::Restore { .. });
    let through_daemon = |terminal: &mut Terminal| -> anyhow::Result<Option<anyhow::Result<()>>> {
        if restoring {
            if crate::control::answers(&socket) {
                bail!(
                    "stop the daemon first: restore loads a backup into an empty store, and the \
                     running daemon holds {} (it answers on {})",
                    config.store.path.display(),
                    socket.display()
                );
            }
            return Ok(None);
        }
        if !socket.exists() {
            return Ok(None);
        }
        let Some(argv) = std::env::args_os()
            .skip(1)
            .map(|a| a.into_string().ok())
            .collect::<Option<Vec<String>>>()
        else {
            bail!(
                "the command line is not UTF-8, so it cannot go through the daemon on {}",
                socket.display()
            );
        };
        crate::control::forward(&socket, argv, command, terminal)
    };
    if let Some(done) = through_daemon(&mut terminal)? {
        return done;
    }
    let store = match open_store(&config) {
        Ok(store) => store,
        Err(StoreError::Locked { .. }) => {
            // A daemon that is starting holds the store a moment before it answers.
            if let Some(done) = through_daemon(&mut terminal)? {
                return done;
            }
            let holder = crate::store::lock_holder(&config.store.path)
                .map(|pid| format!(" (pid {pid})"))
                .unwrap_or_default();
            bail!(
                "the store {} is in use by another process{holder} and no relais daemon answers on {}",
                config.store.path.display(),
                socket.display()
            );
        }
        Err(e) => return Err(e.into()),
    };
    execute(&Ctx::local(config, store), command, &mut terminal)
}

/// Parse a command line forwarded through the control socket (without the program
/// name); the error is clap's first line.
pub fn parse_args(argv: &[String]) -> Result<Command, String> {
    let args = std::iter::once("relais").chain(argv.iter().map(String::as_str));
    Cli::try_parse_from(args)
        .map(|cli| cli.command)
        .map_err(|e| {
            let text = e.to_string();
            let line = text.lines().next().unwrap_or_default();
            line.trim_start_matches("error: ").to_string()
        })
}

/// The file or folder a command writes, if any: a daemon running it for a client may
/// have the client write there and nowhere else.
pub fn writable(command: &Command) -> Option<&Path> {
    match command {
        Command::Backup { out } | Command::Export { out } => Some(out),
        Command::Digest(DigestCommand::Preview { out: Some(out), .. }) => Some(out),
        _ => None,
    }
}

/// Run a store command against `ctx`, writing to `io`. The daemon calls this for its
/// control-socket clients, so output is the same whichever process runs it.
pub fn execute(ctx: &Ctx, command: &Command, io: &mut dyn Output) -> anyhow::Result<()> {
    match command {
        Command::Fetch { sources } => fetch(ctx, sources, io),
        Command::Sources { json, action: None } => sources(ctx, *json, io.out()),
        Command::Items {
            source,
            channel: Some(channel),
            why,
            limit,
            json,
        } => channel_items(
            ctx,
            channel,
            source.as_deref(),
            why.as_deref(),
            *limit,
            *json,
            io.out(),
        ),
        Command::Items {
            source,
            limit,
            json,
            ..
        } => items(ctx, source.as_deref(), *limit, *json, io.out()),
        Command::Export { out } => export(ctx, out, io),
        Command::Backup { out } => backup(ctx, out, io),
        Command::Restore { file } => restore(ctx, file, io),
        Command::Digest(command) => digest(ctx, command, io),
        Command::Stories { action } => stories_command(ctx, action, io.out()),
        Command::Curate { action } => curate::run(&ctx.config, &ctx.store, action, io.out()),
        Command::Run
        | Command::Check
        | Command::Parse { .. }
        | Command::DedupEval { .. }
        | Command::Sources {
            action: Some(_), ..
        } => {
            bail!("this command does not use the store: run it without the daemon")
        }
    }
}

/// Run `future` to completion: on the daemon's runtime when called from one of its
/// blocking threads, else on a runtime made for the command.
fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => Ok(handle.block_on(future)),
        Err(_) => Ok(runtime()?.block_on(future)),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn run_daemon(config: Config) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.server.listen))?;
        let address = listener.local_addr()?;
        // The one line a newcomer needs, on stdout whatever the log settings.
        println!("relais: serving on http://{address}/ (Ctrl-C to stop)");
        let (reloader, requests) = crate::reload::channel();
        let options = crate::daemon::Options {
            reload: Some(requests),
            notify: crate::notify::Notifier::from_env(),
            ..crate::daemon::Options::default()
        };
        let hangups = tokio::spawn(reload_on_hangup(reloader, hangup_signal()));
        let result = crate::daemon::run_with(config, listener, shutdown_signal(), options).await;
        hangups.abort();
        result?;
        Ok(())
    })
}

/// SIGHUP's stream, installed before the daemon starts: from then on a SIGHUP no longer
/// has its default effect (ending the process), even before the daemon is ready.
#[cfg(unix)]
fn hangup_signal() -> Option<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::hangup()) {
        Ok(hangups) => Some(hangups),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP: reload needs a restart");
            None
        }
    }
}

#[cfg(not(unix))]
fn hangup_signal() -> Option<()> {
    None
}

/// Each SIGHUP asks the daemon to re-read its configuration file (`systemctl reload`).
#[cfg(unix)]
async fn reload_on_hangup(
    reloader: crate::reload::Reloader,
    hangups: Option<tokio::signal::unix::Signal>,
) {
    let Some(mut hangups) = hangups else { return };
    while hangups.recv().await.is_some() {
        if reloader.request().is_err() {
            return;
        }
    }
}

#[cfg(not(unix))]
async fn reload_on_hangup(_reloader: crate::reload::Reloader, _hangups: Option<()>) {}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

fn check(cli: &Cli) -> anyhow::Result<()> {
    let path = config_path(cli);
    let config = Config::load(&path)?;
    let files = config
        .sources
        .iter()
        .filter(|s| matches!(s.location, Location::File(_)))
        .count();
    let paused = config.sources.iter().filter(|s| s.paused).count();
    println!("{}: ok", path.display());
    println!(
        "  sources:  {} ({} http, {} local files, {} paused)",
        config.sources.len(),
        config.sources.len() - files,
        files,
        paused
    );
    println!("  channels: {}", config.channels.len());
    for d in &config.digests {
        println!(
            "  digest:   {} — « {} », `{}` in {}, to {}",
            d.id,
            d.title,
            d.schedule,
            d.timezone,
            d.to.join(", ")
        );
    }
    if let Some(smtp) = &config.smtp {
        println!(
            "  smtp:     {}:{} ({:?}), timeout {}",
            smtp.host,
            smtp.port,
            smtp.security,
            humantime::format_duration(smtp.timeout)
        );
    }
    println!(
        "  health:   silent after {} without a new item",
        humantime::format_duration(config.health.silent_after)
    );
    if let Some(a) = &config.alerts {
        println!(
            "  alerts:   to {}, failing for more than {}, checked every {}{}",
            a.to.join(", "),
            humantime::format_duration(a.failing_after),
            humantime::format_duration(a.check_every),
            a.weekly_summary
                .as_ref()
                .map(|s| format!(", weekly summary `{s}` in {}", a.timezone))
                .unwrap_or_default()
        );
    }
    if let Some(admin) = &config.admin {
        match admin.token {
            Some(_) => println!(
                "  admin:    API on /admin/api/ (token from ${}, acting as `{}`)",
                admin.token_env, admin.label
            ),
            None => println!(
                "  admin:    API off: ${} is not set (or empty)",
                admin.token_env
            ),
        }
    }
    println!("  store:    {}", config.store.path.display());
    let window = config.stories.window.as_secs();
    println!(
        "  stories:  items published up to {} apart are compared",
        if window % 86_400 == 0 {
            format!("{} days", window / 86_400)
        } else {
            humantime::format_duration(config.stories.window).to_string()
        }
    );
    println!(
        "  server:   {} (public URL {})",
        config.server.listen, config.server.base_url
    );
    println!(
        "  fetch:    every {}, timeout {}, at most {} at once ({} per host), body ≤ {} bytes{}",
        humantime::format_duration(config.fetch.interval),
        humantime::format_duration(config.fetch.timeout),
        config.fetch.concurrency,
        config.fetch.per_host,
        config.fetch.max_body,
        if config.fetch.allow_private {
            ", private addresses allowed"
        } else {
            ""
        }
    );
    for source in config.sources.iter() {
        if let Location::File(path) = &source.location {
            if !path.exists() {
                println!(
                    "  warning: source `{}`: {} does not exist (yet)",
                    source.id,
                    path.display()
                );
            }
        }
    }
    Ok(())
}

fn fetch(ctx: &Ctx, only: &[String], io: &mut dyn Output) -> anyhow::Result<()> {
    let config = &ctx.config;
    for id in only {
        if config.source(id).is_none() {
            bail!("no source has the id `{id}` in {}", config.path.display());
        }
    }
    let chosen: Vec<_> = config
        .sources
        .iter()
        .filter(|s| {
            if only.is_empty() {
                !s.paused
            } else {
                only.contains(&s.id)
            }
        })
        .cloned()
        .collect();
    let progress = io.progress(Some(chosen.len() as u64), "fetch");
    block_on(async {
        let refresher = match &ctx.refresher {
            Some(refresher) => Arc::clone(refresher),
            None => Arc::new(Refresher::new(
                Arc::clone(config),
                Fetcher::new(&config.fetch)?,
                Arc::clone(&ctx.store),
            )),
        };
        let mut tasks = tokio::task::JoinSet::new();
        for source in chosen {
            let refresher = Arc::clone(&refresher);
            tasks.spawn(async move { refresher.refresh(&source, Utc::now()).await });
        }
        while let Some(done) = tasks.join_next().await {
            let report = done.context("a poll task failed")?;
            crate::poll::log_report(&report);
            let status = report
                .status
                .map_or_else(|| "-".to_string(), |s| s.to_string());
            let detail = match &report.outcome {
                Outcome::Stored {
                    new,
                    updated,
                    unchanged,
                } => format!("{new} new, {updated} updated, {unchanged} unchanged"),
                Outcome::NotModified => "not modified".to_string(),
                Outcome::Unchanged => "unchanged body".to_string(),
                Outcome::Retired => "gone (410): source retired".to_string(),
                Outcome::Failed { error } => error.clone(),
            };
            progress.suspend(|| {
                let out = io.out();
                writeln!(
                    out,
                    "{:<20} {:<12} {:>3}  {}  ({} ms)",
                    report.source,
                    report.outcome.label(),
                    status,
                    detail,
                    report.duration.as_millis()
                )?;
                // One line per source as it completes, not all at the end.
                out.flush()
            })?;
            progress.inc(1);
        }
        anyhow::Ok(())
    })??;
    progress.finish();
    ctx.store.flush()?;
    Ok(())
}

fn sources(ctx: &Ctx, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let (config, store) = (&ctx.config, &ctx.store);
    let now = Utc::now();
    if json {
        let doc = crate::health::sources_document(config, store, now)?;
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
        return Ok(());
    }
    crate::health::write_text(out, &crate::health::gather(config, store, now)?, now)?;
    Ok(())
}

fn items(
    ctx: &Ctx,
    source: Option<&str>,
    limit: usize,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let config = &ctx.config;
    if let Some(id) = source {
        if config.source(id).is_none() {
            bail!("no source has the id `{id}` in {}", config.path.display());
        }
    }
    let items = ctx.store.items(&ItemQuery {
        source: source.map(str::to_string),
        limit: Some(limit),
    })?;
    print_items(&items, json, Source::Store(&ctx.store), out)
}

/// Where printed items come from: the store (they have stories) or a parsed file.
enum Source<'a> {
    Store(&'a Store),
    File(serde_json::Value),
}

/// An item in the JSON shape of the contracts: its fields, plus its story and the
/// story's other appearances when it has one (not for `parse`).
fn item_json(item: &Item, story: Option<&Story>) -> serde_json::Value {
    let mut value = serde_json::to_value(item).unwrap_or_default();
    if let (Some(story), Some(map)) = (story, value.as_object_mut()) {
        map.insert("story".into(), json!(story.id));
        let also: Vec<_> = story
            .also
            .iter()
            .map(|a| json!({ "source": a.source, "url": a.url, "published": a.published }))
            .collect();
        map.insert("also".into(), json!(also));
    }
    value
}

fn print_items(
    items: &[Item],
    json: bool,
    from: Source<'_>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if json {
        let mut list = Vec::with_capacity(items.len());
        for i in items {
            let story = match &from {
                Source::Store(store) => {
                    let source = i.source.as_deref().unwrap_or_default();
                    store.appearances(source, &i.id)?.map(|(id, also)| Story {
                        id: id.to_string(),
                        item: i.clone(),
                        also,
                    })
                }
                Source::File(_) => None,
            };
            list.push(item_json(i, story.as_ref()));
        }
        let doc = match from {
            Source::File(feed) => json!({ "feed": feed, "items": list }),
            Source::Store(_) => json!({ "items": list }),
        };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
    } else {
        for item in items {
            item_line(out, item)?;
            if let Some(url) = &item.url {
                writeln!(out, "{:18}{url}", "")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn channel_items(
    ctx: &Ctx,
    channel_id: &str,
    source: Option<&str>,
    why: Option<&str>,
    limit: usize,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (config, store) = (&ctx.config, &ctx.store);
    let Some(channel) = config.channel(channel_id) else {
        bail!(
            "no channel has the id `{channel_id}` in {}",
            config.path.display()
        );
    };
    // Each story shown, with the rule that kept it when asked (`--why`).
    let shown: Vec<(Story, Option<String>)> = if why.is_none() && source.is_none() {
        // The listing alone: the daemon's own selection, which stops at a full page. The
        // explanation below reads every story, to say why each is in or out.
        let publisher = Publisher::new(Arc::clone(config), Arc::clone(store));
        let stories = publisher.channel_stories(channel)?;
        stories.into_iter().take(limit).map(|s| (s, None)).collect()
    } else {
        let mut stories = Vec::new();
        store.walk_stories(source, &mut |visit| {
            stories.push(visit.story);
            true
        })?;
        let decisions = store.curation()?;
        let explanation = crate::curate::explain_curated(
            channel,
            &config.sources,
            &stories,
            &decisions,
            Utc::now(),
        );
        if let Some(asked) = why.filter(|w| !w.is_empty()) {
            // A story id, or an item (SOURCE/ITEM-ID) standing for its story.
            let story_id = match (asked.parse::<u64>(), asked.split_once('/')) {
                (Err(_), Some((source, item))) => store
                    .story_id_of(source, item)?
                    .map_or_else(|| asked.to_string(), |id| id.to_string()),
                _ => asked.to_string(),
            };
            let Some(verdict) = explanation.why(&story_id) else {
                bail!("no stored story has the id `{asked}` (a story id, or SOURCE/ITEM-ID; see `relais items --json`)");
            };
            match verdict {
                Ok(kept) => writeln!(out, "{asked}: {kept}")?,
                Err(left_out) => writeln!(out, "{asked}: {left_out}")?,
            }
            out.flush()?;
            return Ok(());
        }
        explanation
            .kept
            .iter()
            .take(limit)
            .map(|(story, kept)| {
                let reason = why.is_some().then(|| kept.to_string());
                (decisions.edited((*story).clone()), reason)
            })
            .collect()
    };
    if json {
        let list: Vec<_> = shown
            .iter()
            .map(|(story, reason)| {
                let mut v = item_json(&story.item, Some(story));
                if let (Some(reason), Some(map)) = (reason, v.as_object_mut()) {
                    map.insert("why".into(), json!(reason));
                }
                v
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &json!({ "channel": channel.id, "items": list }))?;
        writeln!(out)?;
    } else {
        for (story, reason) in &shown {
            item_line(out, &story.item)?;
            if let Some(reason) = reason {
                writeln!(out, "{:18}{} ({reason})", "", story.id)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn export(ctx: &Ctx, dir: &Path, io: &mut dyn Output) -> anyhow::Result<()> {
    let publisher = Publisher::new(Arc::clone(&ctx.config), Arc::clone(&ctx.store));
    let documents = publisher.all_documents();
    let progress = io.progress(Some(documents.len() as u64), "export");
    let mut written = 0;
    for doc in documents {
        progress.inc(1);
        let Some(rendered) = publisher.document(&doc)? else {
            continue;
        };
        let path = doc.path();
        // A page's path is a folder with an index.html, so that static servers map
        // `/channels/x` to it as the daemon does.
        let relative = match doc.kind() {
            crate::publish::Kind::Page => format!("{}/index.html", path.trim_matches('/')),
            _ => path.trim_start_matches('/').to_string(),
        };
        let file = dir.join(relative.trim_start_matches('/'));
        io.file(&file, &mut |w| Ok(w.write_all(&rendered.body)?))
            .with_context(|| format!("{}: cannot write", file.display()))?;
        written += 1;
    }
    progress.finish();
    writeln!(io.err(), "{}: {written} files written", dir.display())?;
    Ok(())
}

/// The largest file `relais parse` reads: far beyond any real feed, short of exhausting
/// memory on a mistaken argument.
const PARSE_MAX: u64 = 256 * 1024 * 1024;

/// The bytes of `file`, refused beyond `max` bytes (before reading) so a mistaken
/// argument cannot exhaust memory; errors name the file.
fn read_capped(file: &Path, max: u64) -> anyhow::Result<Vec<u8>> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("{}: cannot read", file.display()))?
        .len();
    if size > max {
        bail!(
            "{}: {size} bytes is more than relais reads here ({max})",
            file.display()
        );
    }
    std::fs::read(file).with_context(|| format!("{}: cannot read", file.display()))
}

fn parse_file(file: &Path, url: Option<&url::Url>, json: bool) -> anyhow::Result<()> {
    let bytes = read_capped(file, PARSE_MAX)?;
    let feed =
        parse::parse(&bytes, None).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let cx = Context {
        source: None,
        document_url: url,
        default_lang: None,
        now: Utc::now(),
    };
    let items = normalise::normalise(&feed, &cx);
    if !json {
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "{}: {} — {} items{}",
            file.display(),
            feed.title.as_deref().unwrap_or("(untitled feed)"),
            items.len(),
            if feed.repairs.is_empty() {
                String::new()
            } else {
                format!(" (repaired: {})", feed.repairs.join(", "))
            }
        )?;
    }
    let meta = json!({
        "title": feed.title,
        "link": feed.link,
        "lang": feed.lang,
        "kind": feed.kind.map(|k| k.as_str()),
        "repairs": feed.repairs,
    });
    print_items(
        &items,
        json,
        Source::File(meta),
        &mut BufWriter::new(std::io::stdout().lock()),
    )
}

fn backup(ctx: &Ctx, out: &Path, io: &mut dyn Output) -> anyhow::Result<()> {
    let progress = io.progress(None, "backup: records");
    let mut stats = None;
    io.file(out, &mut |w| {
        let mut counted = Counted {
            inner: w,
            progress: &progress,
        };
        stats = Some(ctx.store.backup(&mut counted)?);
        Ok(())
    })?;
    progress.finish();
    if let Some(stats) = stats {
        writeln!(io.err(), "{}: {stats}", out.display())?;
    }
    Ok(())
}

fn restore(ctx: &Ctx, file: &Path, io: &mut dyn Output) -> anyhow::Result<()> {
    let input =
        std::fs::File::open(file).with_context(|| format!("{}: cannot open", file.display()))?;
    let size = input.metadata().map(|m| m.len()).ok();
    let progress = io.progress(size, "restore: bytes");
    let mut reader = BufReader::new(Counted {
        inner: input,
        progress: &progress,
    });
    let stats = ctx
        .store
        .restore(&mut reader as &mut dyn BufRead)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    progress.finish();
    writeln!(io.err(), "{}: restored {stats}", file.display())?;
    Ok(())
}

/// A reader or writer that moves a progress indicator: by bytes read, or by lines
/// (backup records) written.
struct Counted<'a, T> {
    inner: T,
    progress: &'a crate::progress::Progress,
}

impl<T: std::io::Read> std::io::Read for Counted<'_, T> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}

impl<T: Write> Write for Counted<'_, T> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let lines = buf
            .get(..n)
            .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
        if lines > 0 {
            self.progress.inc(lines as u64);
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// An item's listing line: date, source, title.
fn item_line(out: &mut dyn Write, item: &Item) -> std::io::Result<()> {
    writeln!(
        out,
        "{}  {:<14} {}",
        short_time(item.published),
        item.source.as_deref().unwrap_or("-"),
        item.title
    )
}

fn parse_period(text: Option<&str>) -> anyhow::Result<Option<crate::digest::Period>> {
    text.map(|p| p.parse::<crate::digest::Period>())
        .transpose()
        .map_err(|e| anyhow::anyhow!("--period: {e}"))
}

fn digest(ctx: &Ctx, command: &DigestCommand, io: &mut dyn Output) -> anyhow::Result<()> {
    use crate::digest::Outcome;
    let config = &ctx.config;
    let known = |id: &str| -> anyhow::Result<()> {
        if config.digest(id).is_none() {
            bail!("no digest has the id `{id}` in {}", config.path.display());
        }
        Ok(())
    };
    match command {
        DigestCommand::Preview { id, period, out } => {
            known(id)?;
            let period = parse_period(period.as_deref())?;
            if ctx.store.count_items(None)? == 0 {
                writeln!(
                    io.err(),
                    "relais: the store {} holds no item yet: run `relais --config {} fetch` first",
                    config.store.path.display(),
                    config.path.display()
                )?;
            }
            let c = ctx.digester().preview(id, period, Utc::now())?;
            let (bytes, what) = match out
                .as_ref()
                .and_then(|o| o.extension())
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("html" | "htm") => (c.html.as_bytes(), "HTML part"),
                Some("txt") => (c.text.as_bytes(), "text part"),
                _ => (c.message.as_bytes(), "message"),
            };
            match out {
                Some(path) => {
                    io.file(path, &mut |w| Ok(w.write_all(bytes)?))?;
                    writeln!(
                        io.err(),
                        "{}: {what} of `{id}` for {} — {} — {} stories",
                        path.display(),
                        c.period,
                        c.subject,
                        c.stories
                    )?;
                }
                None => io.out().write_all(bytes)?,
            }
            Ok(())
        }
        DigestCommand::Send {
            id,
            period,
            dry_run,
            force,
        } => {
            known(id)?;
            let period = parse_period(period.as_deref())?;
            let digester = ctx.digester();
            let (period, outcome) =
                block_on(digester.send(id, period, Utc::now(), *force, *dry_run))??;
            ctx.store.flush()?;
            let out = io.out();
            match outcome {
                Outcome::Sent { stories } => {
                    writeln!(out, "{id} {period}: sent ({stories} stories)")?
                }
                Outcome::Empty => {
                    writeln!(out, "{id} {period}: no story this period, nothing sent")?
                }
                Outcome::AlreadyDone(state) => writeln!(
                    out,
                    "{id} {period}: already {}, not sent again (--force resends a sent or failed period)",
                    state.as_str()
                )?,
                Outcome::WouldSend {
                    stories,
                    subject,
                    state,
                } => writeln!(
                    out,
                    "{id} {period}: dry run — would send « {subject} » ({stories} stories); ledger: {}",
                    state.map_or("nothing yet", |s| s.as_str())
                )?,
                Outcome::Retrying { error, retry_at } => bail!(
                    "{id} {period}: not sent: {error}; the daemon retries from {}",
                    retry_at.to_rfc3339()
                ),
                Outcome::Failed { error } => bail!("{id} {period}: failed: {error}"),
            }
            Ok(())
        }
        DigestCommand::Status { id, json } => {
            if let Some(id) = id {
                known(id)?;
            }
            let store = &ctx.store;
            let mut rows = Vec::new();
            for d in config
                .digests
                .iter()
                .filter(|d| id.as_ref().is_none_or(|i| *i == d.id))
            {
                for e in store.digest_entries(&d.id)? {
                    rows.push(e);
                }
            }
            let tick = store.digest_tick()?;
            let out = io.out();
            if *json {
                let list: Vec<_> = rows
                    .iter()
                    .map(|e| {
                        json!({
                            "digest": e.digest, "period": e.period, "state": e.state.as_str(),
                            "due": e.due, "composed_at": e.composed_at, "sent_at": e.sent_at,
                            "stories": e.stories, "attempts": e.attempts, "retry_at": e.retry_at,
                            "error": e.error, "message_id": e.message_id, "subject": e.subject,
                        })
                    })
                    .collect();
                serde_json::to_writer_pretty(
                    &mut *out,
                    &json!({ "last_tick": tick, "entries": list }),
                )?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "scheduler last woke: {}",
                    tick.map_or_else(|| "never".into(), short_time)
                )?;
                for e in &rows {
                    writeln!(
                        out,
                        "{:<12} {:<9} {:<8} {:>3} stories  {}{}",
                        e.digest,
                        e.period,
                        e.state.as_str(),
                        e.stories,
                        e.sent_at
                            .or(Some(e.updated_at))
                            .map_or_else(String::new, short_time),
                        e.error
                            .as_deref()
                            .map_or_else(String::new, |m| format!("  {m}"))
                    )?;
                }
            }
            Ok(())
        }
    }
}

fn short_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// An item named on the command line: `SOURCE/ITEM-ID` (the id may itself hold
/// slashes, as URLs do; source ids never do).
fn parse_item_ref(text: &str) -> anyhow::Result<(&str, &str)> {
    match text.split_once('/') {
        Some((source, id)) if !source.is_empty() && !id.is_empty() => Ok((source, id)),
        _ => bail!("`{text}` is not an item: write SOURCE/ITEM-ID, as `relais items --json` shows them (source, id)"),
    }
}

fn stories_command(ctx: &Ctx, action: &StoriesCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = &ctx.store;
    match action {
        StoriesCommand::Show { id, json } => {
            let story_id = match id.parse::<u64>() {
                Ok(n) => n,
                Err(_) => {
                    let (source, item) = parse_item_ref(id)?;
                    store.story_id_of(source, item)?.ok_or_else(|| {
                        anyhow::anyhow!(
                            "no stored item has the id {source}/{item} (see `relais items --json`)"
                        )
                    })?
                }
            };
            let Some(detail) = store.story_detail(story_id)? else {
                bail!(
                    "no story has the id `{id}` (story ids are numbers; see `relais items --json`)"
                );
            };
            if *json {
                let members: Vec<_> = detail
                    .members
                    .iter()
                    .map(|m| {
                        json!({
                            "source": m.item.source,
                            "id": m.item.id,
                            "title": m.item.title,
                            "url": m.item.url,
                            "published": m.item.published,
                            "primary": m.primary,
                            "why": why_member(m),
                            "rule": m.rule.as_str(),
                            "score": m.score,
                            "with": m.with.as_ref().map(|(s, i)| format!("{s}/{i}")),
                        })
                    })
                    .collect();
                serde_json::to_writer_pretty(
                    &mut *out,
                    &json!({ "id": detail.id.to_string(), "members": members }),
                )?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "story {} — {} appearance{}",
                    detail.id,
                    detail.members.len(),
                    if detail.members.len() == 1 { "" } else { "s" }
                )?;
                for m in &detail.members {
                    let source = m.item.source.as_deref().unwrap_or("-");
                    writeln!(
                        out,
                        "  {}  {:<14} {}",
                        short_time(m.item.published),
                        source,
                        m.item.title
                    )?;
                    writeln!(out, "{:20}{source}/{}", "", m.item.id)?;
                    if let Some(url) = &m.item.url {
                        writeln!(out, "{:20}{url}", "")?;
                    }
                    writeln!(out, "{:20}why: {}", "", why_member(m))?;
                }
            }
        }
        StoriesCommand::Split { item } => {
            let (source, id) = parse_item_ref(item)?;
            let split = store.split_item(source, id)?;
            writeln!(
                out,
                "{source}/{id}: left story {}, now story {} on its own",
                split.from, split.story
            )?;
        }
        StoriesCommand::Merge { item, other } => {
            let a = parse_item_ref(item)?;
            let b = parse_item_ref(other)?;
            let merged = store.merge_items(a, b)?;
            match merged.absorbed {
                Some(gone) => writeln!(
                    out,
                    "{item} and {other}: story {gone} merged into story {}",
                    merged.story
                )?,
                None => writeln!(
                    out,
                    "{item} and {other}: already together in story {}",
                    merged.story
                )?,
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Why a member is in its story, in words: `primary`, `operator merge`, or the rule,
/// its score and the item it matched.
fn why_member(m: &crate::store::StoryMember) -> String {
    use crate::stories::Rule;
    let with = m
        .with
        .as_ref()
        .map(|(s, i)| format!(" with {s}/{i}"))
        .unwrap_or_default();
    match (m.primary, m.rule) {
        (true, Rule::Primary) => "primary".to_string(),
        (true, rule) => match m.score {
            Some(score) => format!("primary; joined by {} {score:.2}{with}", rule.as_str()),
            None => format!("primary; joined by {}{with}", rule.as_str()),
        },
        (false, Rule::Operator) => format!("operator merge{with}"),
        (false, Rule::Primary) => {
            "first stored; an earlier appearance joined later and is primary".to_string()
        }
        (false, rule) => match m.score {
            Some(score) => format!("{} {score:.2}{with}", rule.as_str()),
            None => format!("same {}{with}", rule.as_str()),
        },
    }
}

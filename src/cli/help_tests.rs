//! Every command's `--help` shows how to use it: walks the whole clap tree.

use clap::CommandFactory;

use super::Cli;

/// The commands, with their path from the root, that clap knows (its own `help` aside).
fn commands() -> Vec<(String, clap::Command)> {
    let mut found = Vec::new();
    let mut todo = vec![("relais".to_string(), Cli::command())];
    while let Some((path, command)) = todo.pop() {
        for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
            todo.push((format!("{path} {}", sub.get_name()), sub.clone()));
        }
        found.push((path, command));
    }
    found
}

#[test]
fn every_command_has_an_example_in_its_help() {
    let all = commands();
    assert!(all.len() > 15, "{} commands", all.len());
    let missing: Vec<_> = all
        .into_iter()
        .filter_map(|(path, mut command)| {
            let help = command.render_long_help().to_string();
            (!help.contains("Example: relais")).then_some(path)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "no `Example: relais …` in the help of: {missing:?}"
    );
}

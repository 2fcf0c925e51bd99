//! `relais curate …`: operators pin, hide, edit and add stories, and read the audit log.
//! The command takes the open store and the configuration and writes to a writer, so
//! that the same function serves the terminal and a daemon answering for it.
//!
//! A STORY is a story id (the `story` of `relais items --json`, the id of `relais
//! stories show`) or an item as SOURCE/ITEM-ID, standing for its story.

use std::io::Write;

use anyhow::bail;
use chrono::Utc;
use clap::Subcommand;
use serde_json::json;

use crate::config::Config;
use crate::curate::{self, Action, ActionFields};
use crate::store::{AuditEntry, Store};

/// The audit log's actor for actions taken on the command line.
pub const CLI_ACTOR: &str = "cli";

/// `relais curate …`
#[derive(Debug, Subcommand)]
pub enum CurateCommand {
    /// Pin a story at the top of a channel (listed there even if the rules would not),
    /// until unpinned or until DATE.
    ///
    /// Example: relais curate pin 42 --channel cooperation-decentralisee --until 2026-12-31
    Pin {
        /// A story id, or an item as SOURCE/ITEM-ID.
        story: String,
        #[arg(long, value_name = "ID")]
        channel: String,
        /// 2026-12-31 (through that day, UTC) or an RFC 3339 time.
        #[arg(long, value_name = "DATE")]
        until: Option<String>,
    },
    /// Take a pin off.
    ///
    /// Example: relais curate unpin 42 --channel cooperation-decentralisee
    Unpin {
        story: String,
        #[arg(long, value_name = "ID")]
        channel: String,
    },
    /// Hide a story from one channel, or from every channel without --channel.
    ///
    /// Example: relais curate hide ciedel/ciedel-actu-0431 --channel developpement-rural
    Hide {
        story: String,
        #[arg(long, value_name = "ID")]
        channel: Option<String>,
    },
    /// Show a hidden story again (without --channel: everywhere, every hide lifted).
    ///
    /// Example: relais curate unhide 42
    Unhide {
        story: String,
        #[arg(long, value_name = "ID")]
        channel: Option<String>,
    },
    /// Republish a story with another title and/or summary, in every channel and output;
    /// the stored item is untouched. An empty value puts the publisher's text back.
    ///
    /// Example: relais curate edit 42 --title "Rencontres 2027 : inscriptions ouvertes"
    Edit {
        story: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        summary: Option<String>,
        /// Refused with an explanation: edits are global.
        #[arg(long, value_name = "ID", hide = true)]
        channel: Option<String>,
    },
    /// Put a story into a channel by hand, whatever the channel's rules say.
    ///
    /// Example: relais curate add cuf/cuf-actu-2019-07 --channel cooperation-decentralisee
    Add {
        story: String,
        #[arg(long, value_name = "ID")]
        channel: String,
    },
    /// Undo an add.
    ///
    /// Example: relais curate remove 42 --channel cooperation-decentralisee
    Remove {
        story: String,
        #[arg(long, value_name = "ID")]
        channel: String,
    },
    /// The audit log of curation, newest first: when, who (`cli` or the admin token's
    /// label), what, which story and channel.
    ///
    /// Example: relais curate log --limit 20 --json
    Log {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON document: {"entries": [{at, actor, action, story, channel, until,
        /// title, summary, changed, details, story_title}]}.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `relais curate` command against an open store.
pub fn run(
    config: &Config,
    store: &Store,
    command: &CurateCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let on = |channel: &String| ActionFields {
        channel: Some(channel.clone()),
        ..ActionFields::default()
    };
    let (story, name, fields) = match command {
        CurateCommand::Log { limit, json } => return log(store, *limit, *json, out),
        CurateCommand::Pin {
            story,
            channel,
            until,
        } => (
            story,
            "pin",
            ActionFields {
                until: until.clone(),
                ..on(channel)
            },
        ),
        CurateCommand::Unpin { story, channel } => (story, "unpin", on(channel)),
        CurateCommand::Add { story, channel } => (story, "add", on(channel)),
        CurateCommand::Remove { story, channel } => (story, "remove", on(channel)),
        CurateCommand::Hide { story, channel } | CurateCommand::Unhide { story, channel } => (
            story,
            if matches!(command, CurateCommand::Hide { .. }) {
                "hide"
            } else {
                "unhide"
            },
            ActionFields {
                channel: channel.clone(),
                ..ActionFields::default()
            },
        ),
        CurateCommand::Edit {
            channel: Some(_), ..
        } => bail!(
            "an edit applies to every channel: drop --channel (to change a story in one channel only, hide it there)"
        ),
        CurateCommand::Edit {
            story,
            title,
            summary,
            channel: None,
        } => (
            story,
            "edit",
            ActionFields {
                title: title.clone(),
                summary: summary.clone(),
                ..ActionFields::default()
            },
        ),
    };
    let action = Action::from_fields(name, fields)?;
    if let Some(channel) = curate::unknown_channel(config, &action) {
        bail!(
            "no channel has the id `{channel}` in {}",
            config.path.display()
        );
    }
    let id = store.find_story(story)?;
    let entry = store.curate(id, &action, CLI_ACTOR, Utc::now())?;
    writeln!(out, "{}", describe(&entry))?;
    Ok(())
}

/// One line saying what an action did.
pub fn describe(e: &AuditEntry) -> String {
    let place = match e.action.channel() {
        Some(c) => format!(" in {c}"),
        None if matches!(e.action, Action::Edit { .. }) => String::new(),
        None => " everywhere".to_string(),
    };
    let verb = match e.action {
        Action::Pin { .. } => "pinned",
        Action::Unpin { .. } => "unpinned",
        Action::Hide { .. } => "hidden",
        Action::Unhide { .. } => "shown again",
        Action::Edit { .. } => "edited",
        Action::Add { .. } => "added",
        Action::Remove { .. } => "removed",
    };
    let mut line = format!("story {} « {} »: {verb}{place}", e.story, e.story_title);
    if let Some(d) = &e.details {
        line.push_str(&format!(" ({d})"));
    }
    if !e.changed {
        line.push_str(" — already so, nothing changed");
    }
    line
}

fn log(store: &Store, limit: usize, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let entries = store.curation_log(Some(limit))?;
    if json {
        let list: Vec<_> = entries.iter().map(AuditEntry::to_json).collect();
        serde_json::to_writer_pretty(&mut *out, &json!({ "entries": list }))?;
        writeln!(out)?;
        return Ok(());
    }
    if entries.is_empty() {
        writeln!(out, "no curation yet")?;
    }
    for e in &entries {
        writeln!(
            out,
            "{}  {:<10} {}",
            e.at.format("%Y-%m-%d %H:%M"),
            e.actor,
            describe(e)
        )?;
    }
    Ok(())
}

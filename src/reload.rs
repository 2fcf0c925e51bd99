//! Reloading the configuration of a running daemon: the request channel (SIGHUP in the
//! binary, a handle in tests), and what changed between two configurations (pure: no
//! I/O). The daemon does the stopping and starting; this module says what a new
//! configuration means for it — which sources keep their poll schedule, which settings
//! only a restart can apply — and words the log line.

use std::collections::HashSet;
use std::fmt;

use tokio::sync::{mpsc, oneshot};

use crate::config::{Config, ConfigError};

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file does not validate: the running configuration is kept.
    #[error("reload refused, running configuration kept: {0}")]
    Invalid(#[from] ConfigError),
    /// The new configuration validated but could not be started (fetcher set-up):
    /// the running configuration is kept.
    #[error("reload refused, running configuration kept: {0}")]
    Unusable(String),
    /// The daemon is stopping or gone.
    #[error("the daemon is not running")]
    NotRunning,
}

type Reply = oneshot::Sender<Result<Changes, ReloadError>>;

/// Asks a running daemon to re-read its configuration file. Cheap to clone; every clone
/// talks to the same daemon.
#[derive(Debug, Clone)]
pub struct Reloader(mpsc::UnboundedSender<Option<Reply>>);

/// The daemon's end of [`Reloader`].
#[derive(Debug)]
pub struct Requests(mpsc::UnboundedReceiver<Option<Reply>>);

/// A connected pair: give [`Requests`] to the daemon, keep the [`Reloader`].
pub fn channel() -> (Reloader, Requests) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Reloader(tx), Requests(rx))
}

impl Reloader {
    /// Reload and wait for the outcome.
    pub async fn reload(&self) -> Result<Changes, ReloadError> {
        let (tx, rx) = oneshot::channel();
        self.0.send(Some(tx)).map_err(|_| ReloadError::NotRunning)?;
        rx.await.map_err(|_| ReloadError::NotRunning)?
    }

    /// Ask for a reload without waiting (a signal handler); the outcome is logged.
    pub fn request(&self) -> Result<(), ReloadError> {
        self.0.send(None).map_err(|_| ReloadError::NotRunning)
    }
}

/// One reload asked of the daemon; answer it with [`Request::answer`].
#[derive(Debug)]
pub struct Request(Option<Reply>);

impl Requests {
    /// The next request; `None` once every [`Reloader`] is gone (then never again).
    pub async fn next(&mut self) -> Option<Request> {
        self.0.recv().await.map(Request)
    }
}

impl Request {
    pub fn answer(self, outcome: Result<Changes, ReloadError>) {
        if let Some(reply) = self.0 {
            let _ = reply.send(outcome);
        }
    }
}

/// What a new configuration changes, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub sources_added: Vec<String>,
    pub sources_removed: Vec<String>,
    /// Sources whose URL, interval, title, tags, language, site or pause changed.
    pub sources_changed: Vec<String>,
    pub channels_added: Vec<String>,
    pub channels_removed: Vec<String>,
    pub channels_changed: Vec<String>,
    /// Settings the running daemon cannot take on (`store.path`, `server.listen`,
    /// `stories.window`), each with the value still in use: they wait for a restart.
    pub ignored: Vec<String>,
}

impl Changes {
    /// Compare the running configuration with the new one.
    pub fn between(old: &Config, new: &Config) -> Changes {
        let mut c = Changes::default();
        for s in &new.sources {
            match old.source(&s.id) {
                None => c.sources_added.push(s.id.clone()),
                Some(before) if before != s || old.interval_of(before) != new.interval_of(s) => {
                    c.sources_changed.push(s.id.clone())
                }
                Some(_) => {}
            }
        }
        c.sources_removed = removed(old.sources.iter().map(|s| &s.id), |id| {
            new.source(id).is_some()
        });
        for ch in &new.channels {
            match old.channel(&ch.id) {
                None => c.channels_added.push(ch.id.clone()),
                Some(before) if before != ch => c.channels_changed.push(ch.id.clone()),
                Some(_) => {}
            }
        }
        c.channels_removed = removed(old.channels.iter().map(|ch| &ch.id), |id| {
            new.channel(id).is_some()
        });
        if old.store.path != new.store.path {
            c.ignored
                .push(format!("store.path (still {})", old.store.path.display()));
        }
        if old.server.listen != new.server.listen {
            c.ignored
                .push(format!("server.listen (still {})", old.server.listen));
        }
        if old.stories.window != new.stories.window {
            c.ignored.push(format!(
                "stories.window (still {})",
                humantime::format_duration(old.stories.window)
            ));
        }
        c
    }

    /// The sources whose poll schedule carries over: present before with the same feed
    /// location, interval and pause. A new title or tags changes the source but not when
    /// it is worth polling.
    pub fn kept_schedules(old: &Config, new: &Config) -> HashSet<String> {
        new.sources
            .iter()
            .filter(|s| {
                old.source(&s.id).is_some_and(|before| {
                    before.location == s.location
                        && before.paused == s.paused
                        && old.interval_of(before) == new.interval_of(s)
                })
            })
            .map(|s| s.id.clone())
            .collect()
    }

    /// `new`, with the settings only a restart applies put back to the running values,
    /// so that what the daemon reports is what it does.
    pub fn applicable(old: &Config, mut new: Config) -> Config {
        new.store.path = old.store.path.clone();
        new.server.listen = old.server.listen.clone();
        new.stories.window = old.stories.window;
        new
    }
}

fn removed<'a>(old: impl Iterator<Item = &'a String>, still: impl Fn(&str) -> bool) -> Vec<String> {
    old.filter(|id| !still(id)).cloned().collect()
}

impl fmt::Display for Changes {
    /// `+2 sources, -1, ~0 changed; channels +1, -0, ~1 changed`, then the ids.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "+{} sources, -{}, ~{} changed; channels +{}, -{}, ~{} changed",
            self.sources_added.len(),
            self.sources_removed.len(),
            self.sources_changed.len(),
            self.channels_added.len(),
            self.channels_removed.len(),
            self.channels_changed.len()
        )?;
        let lists = [
            ("+", &self.sources_added),
            ("-", &self.sources_removed),
            ("~", &self.sources_changed),
            ("+channel ", &self.channels_added),
            ("-channel ", &self.channels_removed),
            ("~channel ", &self.channels_changed),
        ];
        let named: Vec<String> = lists
            .iter()
            .flat_map(|(sign, ids)| ids.iter().map(move |id| format!("{sign}{id}")))
            .collect();
        if !named.is_empty() {
            write!(f, " ({})", named.join(" "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("/etc/relais/relais.toml")).unwrap()
    }

    #[test]
    fn changes_name_what_was_added_removed_and_changed() {
        let old = config(
            r#"
[[source]]
id = "a"
url = "https://a.example.org/feed"
[[source]]
id = "b"
url = "https://b.example.org/feed"
[[source]]
id = "c"
url = "https://c.example.org/feed"
[[channel]]
id = "tout"
title = "Tout"
"#,
        );
        let new = config(
            r#"
[server]
listen = "127.0.0.1:9999"
[[source]]
id = "a"
url = "https://a.example.org/feed"
[[source]]
id = "b"
url = "https://b.example.org/feed"
interval = "2h"
[[source]]
id = "d"
url = "https://d.example.org/feed"
[[channel]]
id = "tout"
title = "Tout, vraiment"
[[channel]]
id = "neuf"
title = "Neuf"
"#,
        );
        let c = Changes::between(&old, &new);
        assert_eq!(c.sources_added, ["d"]);
        assert_eq!(c.sources_removed, ["c"]);
        assert_eq!(c.sources_changed, ["b"]);
        assert_eq!(c.channels_added, ["neuf"]);
        assert_eq!(c.channels_changed, ["tout"]);
        assert!(c.channels_removed.is_empty());
        assert_eq!(c.ignored, ["server.listen (still 127.0.0.1:8080)"]);
        assert_eq!(
            Changes::kept_schedules(&old, &new),
            HashSet::from(["a".to_string()])
        );
        assert_eq!(
            c.to_string(),
            "+1 sources, -1, ~1 changed; channels +1, -0, ~1 changed (+d -c ~b +channel neuf ~channel tout)"
        );
        let applied = Changes::applicable(&old, new);
        assert_eq!(applied.server.listen, "127.0.0.1:8080");
    }

    #[test]
    fn a_new_default_interval_changes_the_sources_that_follow_it() {
        let old = config("[[source]]\nid = \"a\"\nurl = \"https://a.example.org/\"\n[[source]]\nid = \"b\"\nurl = \"https://b.example.org/\"\ninterval = \"1h\"\n");
        let new = config("[fetch]\ninterval = \"5m\"\n[[source]]\nid = \"a\"\nurl = \"https://a.example.org/\"\n[[source]]\nid = \"b\"\nurl = \"https://b.example.org/\"\ninterval = \"1h\"\n");
        let c = Changes::between(&old, &new);
        assert_eq!(c.sources_changed, ["a"]);
        assert_eq!(
            Changes::kept_schedules(&old, &new),
            HashSet::from(["b".to_string()])
        );
        assert_eq!(Changes::between(&old, &old), Changes::default());
        // New tags: a change, but the schedule stays.
        let retagged = config("[[source]]\nid = \"a\"\nurl = \"https://a.example.org/\"\ntags = [\"europe\"]\n[[source]]\nid = \"b\"\nurl = \"https://b.example.org/\"\ninterval = \"1h\"\n");
        assert_eq!(Changes::between(&old, &retagged).sources_changed, ["a"]);
        assert_eq!(Changes::kept_schedules(&old, &retagged).len(), 2);
    }
}

//! Operators' decisions over the channel rules: pin a story at the top of a channel
//! (optionally until a date), hide it from one channel or everywhere, edit the title and
//! summary it is republished with, add it to a channel by hand. Pure: the store keeps
//! these records and the audit log; this module says what an action does to a story's
//! decisions and what a channel's listing becomes with them, with `now` passed in.
//!
//! The rules of application (one place, used by feeds, pages, the digest and
//! `relais items --channel --why`):
//! - a channel lists the stories its rules keep, plus the ones added to it or pinned in
//!   it by hand, minus the ones hidden from it or hidden everywhere (hiding wins);
//! - pinned stories come first, the most recently pinned on top, then the usual order;
//!   a pin whose `until` is not after `now` is expired and counts for nothing;
//! - an edit is global (every channel, every output): the title and/or summary it gives
//!   replace the item's in what is republished; the stored item is never changed. An
//!   edited summary also stands in for the item's HTML content, otherwise RSS and feed
//!   readers would keep showing the publisher's text;
//! - the rules judge the publisher's text, not the edit: to take a story out, hide it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Story;

/// A pin of a story in one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// When it was pinned: the most recent pin is listed first.
    pub at: DateTime<Utc>,
    /// The pin lapses at this instant; `None` = until unpinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

impl Pin {
    pub fn active(&self, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|u| now < u)
    }
}

/// The title and summary a story is republished with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// Every decision about one story. Empty maps are left out of the JSON record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoryDecisions {
    /// Channel id → pin.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pinned: BTreeMap<String, Pin>,
    /// Channel id → when it was hidden there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hidden: BTreeMap<String, DateTime<Utc>>,
    /// When it was hidden from every channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_everywhere: Option<DateTime<Utc>>,
    /// Channel id → when it was added there by hand.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub added: BTreeMap<String, DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit: Option<Edit>,
}

/// What an operator asks for. `channel: None` means every channel (hide, unhide).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Pin {
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<DateTime<Utc>>,
    },
    Unpin {
        channel: String,
    },
    Hide {
        #[serde(default)]
        channel: Option<String>,
    },
    Unhide {
        #[serde(default)]
        channel: Option<String>,
    },
    /// `Some("")` for a field puts the publisher's text back.
    Edit {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary: Option<String>,
    },
    Add {
        channel: String,
    },
    /// Undoes an `add`.
    Remove {
        channel: String,
    },
}

impl Action {
    /// The verb, as the CLI and the API name it.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Pin { .. } => "pin",
            Action::Unpin { .. } => "unpin",
            Action::Hide { .. } => "hide",
            Action::Unhide { .. } => "unhide",
            Action::Edit { .. } => "edit",
            Action::Add { .. } => "add",
            Action::Remove { .. } => "remove",
        }
    }

    /// The channel it is about; `None` for every channel (hide, unhide, edit).
    pub fn channel(&self) -> Option<&str> {
        match self {
            Action::Pin { channel, .. }
            | Action::Unpin { channel }
            | Action::Add { channel }
            | Action::Remove { channel } => Some(channel),
            Action::Hide { channel } | Action::Unhide { channel } => channel.as_deref(),
            Action::Edit { .. } => None,
        }
    }
}

/// What an action did, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// False when the story already was as asked (unpin of an unpinned story…).
    pub changed: bool,
    /// Old and new values worth keeping (`title: « a » → « b »`, `until …`).
    pub details: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("nothing to edit: give a title, a summary, or both")]
    EmptyEdit,
    #[error("until {0} is not in the future")]
    PastUntil(String),
    #[error(
        "until `{0}` is not a date: write 2026-12-31 (through that day, UTC) or an RFC 3339 time"
    )]
    BadUntil(String),
    #[error("unknown action `{0}`: use pin, unpin, hide, unhide, edit, add or remove")]
    UnknownAction(String),
    #[error("{0} needs a channel")]
    NeedsChannel(&'static str),
}

/// The fields of an action as a request gives them (the admin API's JSON body).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionFields {
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

impl Action {
    /// The action `name` with `fields`; fields an action does not use are ignored.
    pub fn from_fields(name: &str, f: ActionFields) -> Result<Action, ActionError> {
        let channel = |verb: &'static str| f.channel.clone().ok_or(ActionError::NeedsChannel(verb));
        Ok(match name {
            "pin" => Action::Pin {
                channel: channel("pin")?,
                until: f.until.as_deref().map(parse_until).transpose()?,
            },
            "unpin" => Action::Unpin {
                channel: channel("unpin")?,
            },
            "hide" => Action::Hide { channel: f.channel },
            "unhide" => Action::Unhide { channel: f.channel },
            "edit" => Action::Edit {
                title: f.title,
                summary: f.summary,
            },
            "add" => Action::Add {
                channel: channel("add")?,
            },
            "remove" => Action::Remove {
                channel: channel("remove")?,
            },
            other => return Err(ActionError::UnknownAction(other.chars().take(40).collect())),
        })
    }
}

/// An operator's `until`: a date (the pin holds through that day, UTC) or an exact
/// RFC 3339 time.
pub fn parse_until(text: &str) -> Result<DateTime<Utc>, ActionError> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.succ_opt())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| ActionError::BadUntil(text.to_string()))
}

impl StoryDecisions {
    pub fn is_empty(&self) -> bool {
        self == &StoryDecisions::default()
    }

    /// Applies `action` at `now`. `original` is the publisher's title and summary, for
    /// the details of an edit. A pin `until` a past instant is refused: it would be
    /// expired from the start.
    pub fn apply(
        &mut self,
        action: &Action,
        original: (&str, &str),
        now: DateTime<Utc>,
    ) -> Result<Change, ActionError> {
        let change = |changed: bool, details: Option<String>| Change { changed, details };
        Ok(match action {
            Action::Pin { channel, until } => {
                if let Some(u) = until.filter(|u| *u <= now) {
                    return Err(ActionError::PastUntil(u.to_rfc3339()));
                }
                let details = until.map(|u| format!("until {}", u.to_rfc3339()));
                // The same pin again keeps its place among the pins (its time).
                if self.pinned.get(channel).is_some_and(|p| p.until == *until) {
                    return Ok(change(false, details));
                }
                let pin = Pin {
                    at: now,
                    until: *until,
                };
                self.pinned.insert(channel.clone(), pin);
                change(true, details)
            }
            Action::Unpin { channel } => change(self.pinned.remove(channel).is_some(), None),
            // Hiding or adding again keeps the first time.
            Action::Hide { channel: Some(c) } => {
                let new = !self.hidden.contains_key(c);
                self.hidden.entry(c.clone()).or_insert(now);
                change(new, None)
            }
            Action::Hide { channel: None } => {
                let new = self.hidden_everywhere.is_none();
                self.hidden_everywhere.get_or_insert(now);
                change(new, None)
            }
            Action::Unhide { channel: Some(c) } => change(self.hidden.remove(c).is_some(), None),
            Action::Unhide { channel: None } => {
                // Unhiding everywhere lifts every hide, channel by channel too.
                let any = self.hidden_everywhere.take().is_some() || !self.hidden.is_empty();
                self.hidden.clear();
                change(any, None)
            }
            Action::Add { channel } => {
                let new = !self.added.contains_key(channel);
                self.added.entry(channel.clone()).or_insert(now);
                change(new, None)
            }
            Action::Remove { channel } => change(self.added.remove(channel).is_some(), None),
            Action::Edit { title, summary } => {
                if title.is_none() && summary.is_none() {
                    return Err(ActionError::EmptyEdit);
                }
                let old = self.edit.take();
                let old_title = old.as_ref().and_then(|e| e.title.clone());
                let old_summary = old.as_ref().and_then(|e| e.summary.clone());
                // A field not given keeps its current edit; an empty one is dropped.
                let pick = |given: &Option<String>, kept: &Option<String>| match given {
                    Some(t) if t.trim().is_empty() => None,
                    Some(t) => Some(t.trim().to_string()),
                    None => kept.clone(),
                };
                let new_title = pick(title, &old_title);
                let new_summary = pick(summary, &old_summary);
                let mut details = Vec::new();
                let shown = |v: &Option<String>, original: &str| {
                    format!("« {} »", v.as_deref().unwrap_or(original))
                };
                if new_title != old_title {
                    details.push(format!(
                        "title: {} → {}",
                        shown(&old_title, original.0),
                        shown(&new_title, original.0)
                    ));
                }
                if new_summary != old_summary {
                    details.push(format!(
                        "summary: {} → {}",
                        shown(&old_summary, original.1),
                        shown(&new_summary, original.1)
                    ));
                }
                if new_title.is_some() || new_summary.is_some() {
                    self.edit = Some(Edit {
                        at: now,
                        title: new_title,
                        summary: new_summary,
                    });
                }
                let changed = !details.is_empty();
                change(changed, (!details.is_empty()).then(|| details.join("; ")))
            }
        })
    }
}

/// Every operator decision, by story id, as the store holds them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decisions {
    by_story: HashMap<String, StoryDecisions>,
    /// When the last curation action was recorded: pages and feeds show it in their
    /// Last-Modified (an unpin leaves no other date behind).
    pub changed: Option<DateTime<Utc>>,
}

/// Why the operator keeps a story out of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    InChannel,
    Everywhere,
}

impl Decisions {
    pub fn new(
        by_story: impl IntoIterator<Item = (String, StoryDecisions)>,
        changed: Option<DateTime<Utc>>,
    ) -> Decisions {
        Decisions {
            by_story: by_story
                .into_iter()
                .filter(|(_, d)| !d.is_empty())
                .collect(),
            changed,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_story.is_empty()
    }

    /// The stories that carry a decision.
    pub fn story_ids(&self) -> impl Iterator<Item = &str> {
        self.by_story.keys().map(String::as_str)
    }

    /// How many stories carry a decision.
    pub fn len(&self) -> usize {
        self.by_story.len()
    }

    pub fn of(&self, story: &str) -> Option<&StoryDecisions> {
        self.by_story.get(story)
    }

    /// The decisions as they bear on one channel at `now`.
    pub fn channel<'a>(&'a self, channel: &'a str, now: DateTime<Utc>) -> ChannelView<'a> {
        ChannelView {
            decisions: self,
            channel,
            now,
        }
    }

    /// The story as republished: the edit's title and summary in place of the item's.
    pub fn edited(&self, mut story: Story) -> Story {
        self.apply_edit(&mut story);
        story
    }

    pub fn apply_edit(&self, story: &mut Story) {
        let Some(edit) = self.of(&story.id).and_then(|d| d.edit.as_ref()) else {
            return;
        };
        if let Some(title) = &edit.title {
            story.item.title.clone_from(title);
        }
        if let Some(summary) = &edit.summary {
            story.item.summary.clone_from(summary);
            story.item.content_html = None;
        }
    }

    /// The earliest end of a pin still running at `now`: what is rendered with pins
    /// must be rendered again then.
    pub fn next_expiry(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.by_story
            .values()
            .flat_map(|d| d.pinned.values())
            .filter_map(|p| p.until)
            .filter(|u| *u > now)
            .min()
    }

    /// Stories pinned (and not expired) in any channel at `now`: retention keeps them.
    pub fn pinned_anywhere(&self, now: DateTime<Utc>) -> impl Iterator<Item = &str> {
        self.by_story
            .iter()
            .filter(move |(_, d)| d.pinned.values().any(|p| p.active(now)))
            .map(|(id, _)| id.as_str())
    }
}

/// One channel's side of the decisions.
#[derive(Debug, Clone, Copy)]
pub struct ChannelView<'a> {
    decisions: &'a Decisions,
    channel: &'a str,
    now: DateTime<Utc>,
}

impl<'a> ChannelView<'a> {
    pub fn hidden(&self, story: &str) -> Option<Hidden> {
        let d = self.decisions.of(story)?;
        if d.hidden_everywhere.is_some() {
            Some(Hidden::Everywhere)
        } else if d.hidden.contains_key(self.channel) {
            Some(Hidden::InChannel)
        } else {
            None
        }
    }

    pub fn added(&self, story: &str) -> bool {
        self.decisions
            .of(story)
            .is_some_and(|d| d.added.contains_key(self.channel))
    }

    /// The story's pin in this channel, if it has one that has not expired.
    pub fn pinned(&self, story: &str) -> Option<&'a Pin> {
        self.decisions
            .of(story)?
            .pinned
            .get(self.channel)
            .filter(|p| p.active(self.now))
    }

    /// The stories pinned here and not hidden, in listing order: the most recently
    /// pinned first (ties by story id, so the order never depends on the map's).
    pub fn pins(&self) -> Vec<&'a str> {
        let mut pins: Vec<(&str, &Pin)> = self
            .decisions
            .by_story
            .keys()
            .filter_map(|id| Some((id.as_str(), self.pinned(id)?)))
            .filter(|(id, _)| self.hidden(id).is_none())
            .collect();
        pins.sort_by(|(a, pa), (b, pb)| pb.at.cmp(&pa.at).then_with(|| a.cmp(b)));
        pins.into_iter().map(|(id, _)| id).collect()
    }

    /// Pinned stories first (in [`ChannelView::pins`] order), then newest first by the
    /// primary item's `published`, ties by story id.
    pub fn ordering(&self) -> impl Fn(&Story, &Story) -> std::cmp::Ordering + 'a {
        let pins = self.pins();
        move |a, b| {
            let rank = |s: &Story| pins.iter().position(|p| *p == s.id);
            match (rank(a), rank(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => b
                    .item
                    .published
                    .cmp(&a.item.published)
                    .then_with(|| a.id.cmp(&b.id)),
            }
        }
    }

    pub fn sort(&self, stories: &mut [&Story]) {
        let order = self.ordering();
        stories.sort_by(|a, b| order(a, b));
    }
}

impl fmt::Display for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hidden::InChannel => write!(f, "hidden by operator in this channel"),
            Hidden::Everywhere => write!(f, "hidden by operator everywhere"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn pin(channel: &str, until: Option<u32>) -> Action {
        Action::Pin {
            channel: channel.into(),
            until: until.map(at),
        }
    }

    #[test]
    fn actions_table() {
        let original = ("Titre", "Résumé");
        let hide = |c: Option<&str>| Action::Hide {
            channel: c.map(str::to_string),
        };
        let unhide = |c: Option<&str>| Action::Unhide {
            channel: c.map(str::to_string),
        };
        let edit = |t: Option<&str>, s: Option<&str>| Action::Edit {
            title: t.map(str::to_string),
            summary: s.map(str::to_string),
        };
        // Each case: actions in sequence, then what the last one reports.
        let cases: Vec<(Vec<Action>, bool, Option<&str>)> = vec![
            (vec![pin("a", None)], true, None),
            (vec![pin("a", None), pin("a", None)], false, None),
            (
                vec![
                    Action::Add {
                        channel: "a".into(),
                    },
                    Action::Add {
                        channel: "a".into(),
                    },
                ],
                false,
                None,
            ),
            (
                vec![pin("a", None), pin("a", Some(20))],
                true,
                Some("until 2026-11-20T12:00:00+00:00"),
            ),
            (
                vec![Action::Unpin {
                    channel: "a".into(),
                }],
                false,
                None,
            ),
            (
                vec![
                    pin("a", None),
                    Action::Unpin {
                        channel: "a".into(),
                    },
                ],
                true,
                None,
            ),
            (vec![hide(Some("a")), hide(Some("a"))], false, None),
            (vec![hide(None)], true, None),
            (vec![hide(Some("a")), unhide(None)], true, None),
            (vec![hide(None), unhide(Some("a"))], false, None),
            (
                vec![Action::Add {
                    channel: "a".into(),
                }],
                true,
                None,
            ),
            (
                vec![Action::Remove {
                    channel: "a".into(),
                }],
                false,
                None,
            ),
            (
                vec![edit(Some("Nouveau"), None)],
                true,
                Some("title: « Titre » → « Nouveau »"),
            ),
            (
                vec![edit(Some("Nouveau"), None), edit(None, Some("Court"))],
                true,
                Some("summary: « Résumé » → « Court »"),
            ),
            (
                vec![edit(Some("Nouveau"), None), edit(Some(""), None)],
                true,
                Some("title: « Nouveau » → « Titre »"),
            ),
            (
                vec![edit(Some("Nouveau"), None), edit(Some("Nouveau"), None)],
                false,
                None,
            ),
        ];
        for (actions, changed, details) in cases {
            let mut d = StoryDecisions::default();
            let mut last = None;
            for (i, a) in actions.iter().enumerate() {
                last = Some(d.apply(a, original, at(10 + i as u32)).unwrap());
            }
            let last = last.unwrap();
            assert_eq!(last.changed, changed, "{actions:?}");
            assert_eq!(last.details.as_deref(), details, "{actions:?}");
        }
    }

    #[test]
    fn until_table() {
        let cases = [
            ("2026-12-31", Some("2027-01-01T00:00:00+00:00")),
            (" 2026-02-28 ", Some("2026-03-01T00:00:00+00:00")),
            (
                "2026-12-31T08:00:00+01:00",
                Some("2026-12-31T07:00:00+00:00"),
            ),
            ("2026-02-30", None),
            ("demain", None),
            ("", None),
        ];
        for (text, want) in cases {
            let got = parse_until(text).ok().map(|t| t.to_rfc3339());
            assert_eq!(got.as_deref(), want, "{text:?}");
        }
    }

    #[test]
    fn refused_actions() {
        let mut d = StoryDecisions::default();
        let edit = Action::Edit {
            title: None,
            summary: None,
        };
        assert_eq!(
            d.apply(&edit, ("t", "s"), at(10)),
            Err(ActionError::EmptyEdit)
        );
        assert!(matches!(
            d.apply(&pin("a", Some(9)), ("t", "s"), at(10)),
            Err(ActionError::PastUntil(_))
        ));
        assert!(d.is_empty(), "a refused action changes nothing");
        // Putting back both fields leaves no edit at all.
        let mut d = StoryDecisions::default();
        let set = Action::Edit {
            title: Some("x".into()),
            summary: None,
        };
        let clear = Action::Edit {
            title: Some(" ".into()),
            summary: None,
        };
        d.apply(&set, ("t", "s"), at(10)).unwrap();
        d.apply(&clear, ("t", "s"), at(11)).unwrap();
        assert!(d.is_empty());
    }

    #[test]
    fn pins_expire_and_order_by_most_recent() {
        let mut a = StoryDecisions::default();
        a.apply(&pin("c", Some(20)), ("", ""), at(10)).unwrap();
        let mut b = StoryDecisions::default();
        b.apply(&pin("c", None), ("", ""), at(12)).unwrap();
        let mut hidden = StoryDecisions::default();
        hidden.apply(&pin("c", None), ("", ""), at(13)).unwrap();
        hidden
            .apply(&Action::Hide { channel: None }, ("", ""), at(13))
            .unwrap();
        let d = Decisions::new(
            [
                ("1".to_string(), a),
                ("2".to_string(), b),
                ("3".to_string(), hidden),
            ],
            None,
        );
        assert_eq!(d.channel("c", at(15)).pins(), ["2", "1"]);
        assert_eq!(d.channel("other", at(15)).pins(), Vec::<&str>::new());
        // At the until instant the pin has lapsed.
        assert_eq!(d.channel("c", at(20)).pins(), ["2"]);
        assert!(d.channel("c", at(20)).pinned("1").is_none());
        assert_eq!(d.next_expiry(at(15)), Some(at(20)));
        assert_eq!(d.next_expiry(at(20)), None);
        let mut anywhere: Vec<&str> = d.pinned_anywhere(at(21)).collect();
        anywhere.sort_unstable();
        assert_eq!(anywhere, ["2", "3"]);
        assert_eq!(d.channel("c", at(15)).hidden("3"), Some(Hidden::Everywhere));
    }
}

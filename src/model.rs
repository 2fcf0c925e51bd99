//! The nouns that travel the pipeline, shared by every stage so that no stage needs
//! another's outside crate: what `parse` reads out of a document (`RawFeed`, `RawEntry`),
//! what `normalise` makes of it (`Item`), and what the store remembers about each source
//! between polls (`SourceState`). Plain data: no I/O, no clock.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The syndication format a document turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedKind {
    /// RSS 0.9x and 2.0 (one family: `<rss>`).
    Rss,
    /// RSS 1.0 / RDF.
    Rdf,
    /// Atom 0.3 and 1.0.
    Atom,
    /// JSON Feed 1.0 and 1.1.
    JsonFeed,
}

impl FeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Rss => "rss",
            FeedKind::Rdf => "rdf",
            FeedKind::Atom => "atom",
            FeedKind::JsonFeed => "json_feed",
        }
    }
}

/// A text construct as the publisher wrote it: HTML or plain text, not yet cleaned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawText {
    pub body: String,
    pub is_html: bool,
}

/// One feed document after decoding, repair and parsing, before normalisation.
/// Links are as feed-rs left them: absolute where `xml:base` made them so, otherwise
/// possibly relative; normalise resolves the rest.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawFeed {
    pub kind: Option<FeedKind>,
    pub title: Option<String>,
    /// The site link: RSS channel `<link>`, Atom alternate link, JSON Feed `home_page_url`.
    pub link: Option<String>,
    pub lang: Option<String>,
    pub entries: Vec<RawEntry>,
    /// What repair changed before the parser saw the bytes ("decoded windows-1252",
    /// "replaced 12 html entities", …), for operators and `relais parse`.
    pub repairs: Vec<String>,
}

/// One entry as the publisher wrote it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawEntry {
    /// The publisher's own id: RSS `<guid>`, Atom `<id>`, RSS 1.0 `rdf:about`, JSON Feed
    /// `id`. `None` when the entry has none (feed-rs would otherwise invent a random one).
    pub guid: Option<String>,
    pub title: Option<RawText>,
    /// Alternate (web page) links, best first.
    pub links: Vec<String>,
    pub summary: Option<RawText>,
    pub content: Option<RawText>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    pub lang: Option<String>,
    pub enclosures: Vec<Enclosure>,
}

/// A media attachment (podcast episode, PDF, image).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enclosure {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

/// A normalised item: what relais stores, curates and republishes.
/// Its JSON form is the `items[]` shape of the contracts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Stable id scoped to the source: guid, else canonical link, else a hash of title and
    /// content. Never random, so a re-poll finds the same item again.
    pub id: String,
    /// The source id; `None` for `relais parse`, which has no source.
    pub source: Option<String>,
    /// Absolute http(s) link to the item's page.
    pub url: Option<String>,
    /// `url` canonicalised (lower-case host, no default port, fragment or tracking
    /// parameters): what deduplication compares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_url: Option<String>,
    /// Never empty: derived from the summary when the publisher gave none.
    pub title: String,
    /// Plain text, at most 600 characters, cut on a word.
    pub summary: String,
    /// Sanitised HTML, links absolute.
    pub content_html: Option<String>,
    pub published: DateTime<Utc>,
    pub updated: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    pub lang: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enclosures: Vec<Enclosure>,
    /// True when the publisher gave no usable date and `published` is the first-seen
    /// time: a later poll must then keep the stored date rather than move it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub published_guessed: bool,
    /// Hash of what the publisher controls (id, link, title, summary, content, dates they
    /// gave, authors, categories, enclosures), so an edited entry is told from an
    /// unchanged one. Guessed dates are left out so they cannot fake an edit.
    pub content_hash: String,
}

/// What the store remembers about a source between polls.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SourceState {
    pub id: String,
    /// Validators from the last 200, sent back as If-None-Match / If-Modified-Since.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Hash of the last body processed: an unchanged body is not parsed again.
    pub body_hash: Option<String>,
    /// Set when a chain of permanent redirects ended in a feed that parsed: polled
    /// instead of the configured URL from then on.
    pub permanent_url: Option<String>,
    pub feed_title: Option<String>,
    pub feed_link: Option<String>,
    pub last_poll: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Start of the current run of failures.
    pub failing_since: Option<DateTime<Utc>>,
    /// Consecutive failures; 0 when the last poll succeeded.
    pub failures: u32,
    pub next_poll: Option<DateTime<Utc>>,
    /// When the server answered 410 Gone: the source is retired, not dropped.
    pub retired_at: Option<DateTime<Utc>>,
    pub last_new_item: Option<DateTime<Utc>>,
    /// When relais first polled the source: how long a source that never brought a new
    /// item has been watched, so that it can be called silent (see `health`).
    #[serde(default)]
    pub watched_since: Option<DateTime<Utc>>,
}

/// A source's health as operators see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceStatus {
    Ok,
    Failing,
    Retired,
    Paused,
    /// Polled fine, but no new item for longer than `[health] silent_after`: decided by
    /// `health::assess`, which knows the threshold and the time (never by [`SourceStatus::of`]).
    Silent,
}

impl SourceStatus {
    pub fn of(state: Option<&SourceState>, paused: bool) -> SourceStatus {
        match state {
            _ if paused => SourceStatus::Paused,
            Some(s) if s.retired_at.is_some() => SourceStatus::Retired,
            Some(s) if s.failures > 0 => SourceStatus::Failing,
            _ => SourceStatus::Ok,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SourceStatus::Ok => "ok",
            SourceStatus::Failing => "failing",
            SourceStatus::Retired => "retired",
            SourceStatus::Paused => "paused",
            SourceStatus::Silent => "silent",
        }
    }
}

/// One announcement as subscribers see it: its primary item, and the other partners'
/// appearances of it. Channels, feeds, pages and the digest list stories, so that a
/// cross-posted announcement appears once and credits every partner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Story {
    pub id: String,
    /// The primary item: the earliest appearance, or the operator's choice.
    pub item: Item,
    /// Every other appearance, oldest first.
    pub also: Vec<Appearance>,
}

impl Story {
    /// A story of one item (what every item is until another partner posts it too).
    pub fn single(item: Item) -> Story {
        let id = format!("{}/{}", item.source.as_deref().unwrap_or("-"), item.id);
        Story {
            id,
            item,
            also: Vec::new(),
        }
    }

    /// Every source credited, the primary first.
    pub fn sources(&self) -> impl Iterator<Item = &str> {
        self.item
            .source
            .as_deref()
            .into_iter()
            .chain(self.also.iter().map(|a| a.source.as_str()))
    }
}

/// Another partner's appearance of a story.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appearance {
    pub source: String,
    pub url: Option<String>,
    pub published: DateTime<Utc>,
}

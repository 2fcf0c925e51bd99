//! Normalise: a `RawFeed` in, `Item`s out — stable ids, absolute canonical links, a title
//! always, plain-text summary, sanitised content, dates. Pure: no I/O, no clock (the
//! caller passes `now`), no global config.

pub mod dates;

use chrono::{DateTime, Utc};
use url::Url;

use crate::model::{Item, RawFeed};

/// What normalise needs to know beyond the document itself.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The source id (`None` for `relais parse`).
    pub source: Option<&'a str>,
    /// Where the document was fetched from: the last resort base for relative links.
    pub document_url: Option<&'a Url>,
    /// The source's configured default language.
    pub default_lang: Option<&'a str>,
    /// The fetch time: missing dates become it, future dates are clamped to it.
    pub now: DateTime<Utc>,
}

/// Turn every entry of `feed` into an `Item`.
pub fn normalise(feed: &RawFeed, cx: &Context<'_>) -> Vec<Item> {
    let _ = (feed, cx);
    Vec::new()
}

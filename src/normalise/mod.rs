//! Normalise: a `RawFeed` in, `Item`s out — stable ids, absolute canonical links, a title
//! always, plain-text summary, sanitised content, dates. Pure: no I/O, no clock (the
//! caller passes `now`), no global config.
//!
//! The helpers live in sub-modules, each table-tested on its own: [`dates`] (every date
//! form publishers write, also handed to feed-rs), [`urls`] (resolution, canonical form,
//! cross-source match key), [`text`] (HTML to text, truncation, derived titles),
//! [`sanitize`] (the only user of ammonia). This file holds the rules that tie them
//! together, written out where they are decided:
//!
//! - **Base for relative links.** RSS and RSS 1.0: the channel `<link>` (itself resolved
//!   against the document URL), else the document URL — partner CMSs write item links
//!   relative to their site, not to wherever the feed file lives. Atom and JSON Feed: the
//!   document URL (`xml:base` was applied by the parse stage); when there is no web
//!   document URL (a local file), the feed's site link.
//! - **Content base.** Links inside content resolve against the item's own URL when it
//!   has one (that is the page the HTML came from), else the base above.
//! - **Ids.** The publisher's guid (trimmed) when it is non-empty *and unique in the
//!   document*; else the canonical link; else `h:` and a SHA-256 (128 bits, hex) of
//!   title, content (or summary) and first enclosure. A guid or link longer than
//!   [`MAX_ID_LEN`] bytes, or one that is a `javascript:`/`vbscript:`/`data:` URL (an RSS
//!   guid is a permalink by default, and ids reach `items --json`), is replaced by `h:`
//!   and the hash of it. A guid shared by several entries of
//!   one document (a CMS giving every entry the channel URL) identifies none of them, so
//!   all of them fall back. After that, an entry whose id was already produced by an
//!   earlier entry of the same document is a repeat and is dropped: the first one wins.
//! - **Titles.** The entry title as text, else the first sentence of the summary, else of
//!   the content, else [`UNTITLED`]; whitespace collapsed, at most [`MAX_TITLE`] chars.
//! - **Dates.** Published falls back to updated, then to `now` (flagged as guessed);
//!   dates in the future are clamped to `now`; `updated` is kept only when the publisher
//!   gave one that differs from the published date.
//! - **Content hash.** Over what the publisher wrote (raw title, summary and content, the
//!   dates they gave, resolved link, authors, categories, enclosures), never over `now`
//!   or clamped dates, which would change every poll and fake an edit.

pub mod dates;
pub mod sanitize;
pub mod text;
pub mod urls;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use crate::model::{Enclosure, FeedKind, Item, RawEntry, RawFeed, RawText};

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

/// The title of an item that has no title, summary or content text at all. The network
/// writes French; an empty title would break every list that shows items.
pub const UNTITLED: &str = "Sans titre";
/// Longest title kept, in characters: some publishers put a whole paragraph there.
pub const MAX_TITLE: usize = 300;
/// Longest summary, in characters.
pub const MAX_SUMMARY: usize = 600;

/// Longest feed link kept for the source's state, in bytes: real site URLs are far
/// shorter, and the state is rewritten at every poll.
pub const MAX_FEED_LINK: usize = 2048;

/// The feed's own title as the source's state keeps it (pages and OPML show it):
/// whitespace collapsed and at most [`MAX_TITLE`] characters, like an item title. An
/// 8 MiB `<title>` must not be stored, and rewritten, at every poll.
pub fn feed_title(feed: &RawFeed) -> Option<String> {
    let title = text::collapse_whitespace(feed.title.as_deref()?);
    (!title.is_empty()).then(|| text::truncate_words(&title, MAX_TITLE))
}

/// The feed's site link as the source's state keeps it: trimmed, dropped when longer
/// than [`MAX_FEED_LINK`].
pub fn feed_link(feed: &RawFeed) -> Option<String> {
    let link = feed.link.as_deref()?.trim();
    (!link.is_empty() && link.len() <= MAX_FEED_LINK).then(|| link.to_string())
}

/// Turn every entry of `feed` into an `Item`, in document order.
pub fn normalise(feed: &RawFeed, cx: &Context<'_>) -> Vec<Item> {
    let base = links_base(feed, cx);
    let feed_lang = feed.lang.as_deref().and_then(normalise_lang);
    let lang = feed_lang.or_else(|| cx.default_lang.and_then(normalise_lang));

    let mut guid_uses: HashMap<&str, usize> = HashMap::new();
    for guid in feed
        .entries
        .iter()
        .filter_map(|e| usable_guid(e.guid.as_deref()))
    {
        *guid_uses.entry(guid).or_default() += 1;
    }

    let mut seen: HashSet<String> = HashSet::with_capacity(feed.entries.len());
    let mut items = Vec::with_capacity(feed.entries.len());
    for entry in &feed.entries {
        let url = item_url(entry, base.as_ref(), feed.kind);
        let canonical_url = url.as_ref().map(urls::canonical);
        let guid = usable_guid(entry.guid.as_deref())
            .filter(|g| guid_uses.get(g).copied().unwrap_or_default() == 1);
        let id = match (guid, &canonical_url) {
            (Some(g), _) => bounded_id(g),
            (None, Some(c)) => bounded_id(c.as_str()),
            (None, None) => hashed_id(entry),
        };
        if !seen.insert(id.clone()) {
            continue;
        }
        items.push(build_item(
            entry,
            cx,
            Ids {
                id,
                url,
                canonical_url,
            },
            base.as_ref(),
            lang.as_deref(),
        ));
    }
    items
}

/// The base relative entry links resolve against (see the module doc).
fn links_base(feed: &RawFeed, cx: &Context<'_>) -> Option<Url> {
    let document = cx.document_url.filter(|u| urls::is_web(u));
    let site = feed
        .link
        .as_deref()
        .and_then(|l| urls::resolve(cx.document_url, l));
    match feed.kind {
        Some(FeedKind::Rss | FeedKind::Rdf) => site.or_else(|| document.cloned()),
        Some(FeedKind::Atom | FeedKind::JsonFeed) | None => document.cloned().or(site),
    }
}

fn usable_guid(guid: Option<&str>) -> Option<&str> {
    guid.map(str::trim).filter(|g| !g.is_empty())
}

/// The first alternate link that resolves to a web URL. In RSS a guid is a permalink
/// unless told otherwise, so an item with no usable link falls back to a guid that is
/// itself an absolute web URL.
fn item_url(entry: &RawEntry, base: Option<&Url>, kind: Option<FeedKind>) -> Option<Url> {
    entry
        .links
        .iter()
        .find_map(|l| urls::resolve(base, l))
        .or_else(|| {
            let guid = usable_guid(entry.guid.as_deref())?;
            if kind == Some(FeedKind::Rss) {
                urls::resolve(None, guid)
            } else {
                None
            }
        })
}

/// Longest id kept as written, in bytes. Ids are store keys and appear in URLs; a
/// hostile or broken feed must not make them megabytes long.
pub const MAX_ID_LEN: usize = 512;

/// `id` itself, or when it is over-long or a script URL a hash of it (still stable).
fn bounded_id(id: &str) -> String {
    if id.len() <= MAX_ID_LEN && !urls::is_script_url(id) {
        return id.to_string();
    }
    hash_id(&Sha256::digest(id.as_bytes()))
}

/// `h:` and the first 128 bits of a digest in hex: unique enough within one source.
fn hash_id(digest: &[u8]) -> String {
    let mut out = String::with_capacity(34);
    out.push_str("h:");
    push_hex(&mut out, digest.get(..16).unwrap_or_default());
    out
}

/// The id of an entry with neither a usable guid nor a link: a hash of what it says.
fn hashed_id(entry: &RawEntry) -> String {
    let mut h = Sha256::new();
    h.update(body(&entry.title).unwrap_or_default().as_bytes());
    h.update(b"\n");
    h.update(
        body(&entry.content)
            .or_else(|| body(&entry.summary))
            .unwrap_or_default()
            .as_bytes(),
    );
    h.update(b"\n");
    if let Some(e) = entry.enclosures.first() {
        h.update(e.url.trim().as_bytes());
    }
    hash_id(&h.finalize())
}

/// A text construct's body, trimmed, when it has one.
fn body(t: &Option<RawText>) -> Option<&str> {
    t.as_ref().map(|t| t.body.trim()).filter(|b| !b.is_empty())
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            out.extend(char::from_digit(u32::from(nibble), 16));
        }
    }
}

struct Ids {
    id: String,
    url: Option<Url>,
    canonical_url: Option<Url>,
}

fn text_of(t: &RawText) -> String {
    if t.is_html {
        text::html_to_text(&t.body)
    } else {
        text::plain_to_text(&t.body)
    }
}

fn build_item(
    entry: &RawEntry,
    cx: &Context<'_>,
    ids: Ids,
    base: Option<&Url>,
    feed_lang: Option<&str>,
) -> Item {
    let summary_text = entry
        .summary
        .as_ref()
        .map(text_of)
        .filter(|t| !t.is_empty());
    // Content text is needed only when the summary or the title must come from it.
    let mut content_text_cache: Option<Option<String>> = None;
    let mut content_text = || {
        content_text_cache
            .get_or_insert_with(|| {
                entry
                    .content
                    .as_ref()
                    .map(text_of)
                    .filter(|t| !t.is_empty())
            })
            .clone()
    };

    let given_title = entry
        .title
        .as_ref()
        .map(|t| text::collapse_whitespace(&text_of(t)))
        .filter(|t| !t.is_empty());
    let title = match given_title {
        Some(t) => text::truncate_words(&t, MAX_TITLE),
        None => summary_text
            .as_deref()
            .and_then(text::derive_title)
            .or_else(|| content_text().as_deref().and_then(text::derive_title))
            .unwrap_or_else(|| UNTITLED.to_string()),
    };

    let content_base = ids.url.as_ref().or(base);
    let content_html = match entry.content.as_ref().filter(|t| !t.body.trim().is_empty()) {
        Some(content) => content_html(content, content_base, None),
        None => entry
            .summary
            .as_ref()
            .and_then(|s| content_html(s, content_base, summary_text.as_deref())),
    };

    let summary = match summary_text {
        Some(s) => text::truncate_words(&s, MAX_SUMMARY),
        None => content_text()
            .map(|s| text::truncate_words(&s, MAX_SUMMARY))
            .unwrap_or_default(),
    };

    let (published, published_guessed) = match entry.published.or(entry.updated) {
        Some(d) => (d.min(cx.now), false),
        None => (cx.now, true),
    };
    let updated = match (entry.published, entry.updated) {
        (Some(p), Some(u)) if p != u => Some(u.min(cx.now)).filter(|u| *u != published),
        _ => None,
    };

    let authors = dedup_names(entry.authors.iter().map(|a| author_name(a)));
    let categories = dedup_names(
        entry
            .categories
            .iter()
            .map(|c| text::collapse_whitespace(&text::decode_entities(c))),
    );
    let lang = entry
        .lang
        .as_deref()
        .and_then(normalise_lang)
        .or_else(|| feed_lang.map(str::to_string));
    let enclosures = enclosures(&entry.enclosures, content_base);

    let content_hash = content_hash(entry, &ids, &authors, &categories, &enclosures);
    Item {
        id: ids.id,
        source: cx.source.map(str::to_string),
        url: ids.url.map(String::from),
        canonical_url: ids.canonical_url.map(String::from),
        title,
        summary,
        content_html,
        published,
        updated,
        authors,
        categories,
        lang,
        enclosures,
        published_guessed,
        content_hash,
    }
}

/// Sanitised HTML of a text construct; `None` when nothing readable is left. `as_text`
/// is the construct's text when the caller already has it.
fn content_html(t: &RawText, base: Option<&Url>, as_text: Option<&str>) -> Option<String> {
    // Plain text, or entity-escaped text with no markup at all (common in RSS
    // descriptions): escaped paragraphs, no DOM needed.
    let html = if !t.is_html || !t.body.contains('<') {
        match as_text {
            Some(text) => sanitize::text_to_html(text),
            None => sanitize::text_to_html(&text_of(t)),
        }
    } else {
        sanitize::sanitize_html(&t.body, base)
    };
    let html = html.trim();
    if !text::has_visible_content(html) {
        return None;
    }
    Some(html.to_string())
}

/// An author as shown: entities decoded, whitespace collapsed, and the RSS
/// `email (Name)` form reduced to the name.
fn author_name(raw: &str) -> String {
    let s = text::collapse_whitespace(&text::decode_entities(raw));
    if let Some((email, rest)) = s.split_once(" (") {
        if email.contains('@') && !email.contains(' ') {
            if let Some(name) = rest
                .strip_suffix(')')
                .map(str::trim)
                .filter(|n| !n.is_empty())
            {
                return name.to_string();
            }
        }
    }
    s
}

/// Non-empty names, first spelling kept, repeats (ignoring case) dropped.
fn dedup_names(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    names
        .filter(|n| !n.is_empty())
        .filter(|n| seen.insert(n.to_lowercase()))
        .collect()
}

/// Enclosures with absolute web URLs, each URL once; blank MIME types and zero lengths
/// (a common placeholder) dropped.
fn enclosures(raw: &[Enclosure], base: Option<&Url>) -> Vec<Enclosure> {
    let mut seen = HashSet::new();
    raw.iter()
        .filter_map(|e| {
            let url = urls::resolve(base, &e.url)?;
            let url = String::from(url);
            if !seen.insert(url.clone()) {
                return None;
            }
            Some(Enclosure {
                url,
                mime: e
                    .mime
                    .as_deref()
                    .map(|m| m.trim().to_ascii_lowercase())
                    .filter(|m| !m.is_empty()),
                length: e.length.filter(|&l| l > 0),
            })
        })
        .collect()
}

/// A language tag in BCP 47 case: `fr`, `fr-FR`, `zh-Hant-TW`; `FR_fr` is read as
/// `fr-FR`. `None` for what is not a language tag ("French", "", "fr;q=0.8").
pub fn normalise_lang(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let mut out = String::with_capacity(raw.len());
    for (i, part) in raw.split(['-', '_']).enumerate() {
        if part.is_empty() || part.len() > 8 || !part.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        if i == 0 {
            if !(2..=3).contains(&part.len()) || !part.bytes().all(|b| b.is_ascii_alphabetic()) {
                return None;
            }
            out.push_str(&part.to_ascii_lowercase());
            continue;
        }
        out.push('-');
        let alpha = part.bytes().all(|b| b.is_ascii_alphabetic());
        match part.len() {
            2 if alpha => out.push_str(&part.to_ascii_uppercase()),
            4 if alpha => {
                let lower = part.to_ascii_lowercase();
                let mut chars = lower.chars();
                if let Some(first) = chars.next() {
                    out.push(first.to_ascii_uppercase());
                    out.push_str(chars.as_str());
                }
            }
            _ => out.push_str(&part.to_ascii_lowercase()),
        }
    }
    Some(out)
}

/// Feeds fields into a SHA-256 without ambiguity: each one tagged and length-prefixed,
/// so moving text from one field to the next changes the hash.
struct FieldHasher(Sha256);

impl FieldHasher {
    fn field(&mut self, tag: u8, value: &[u8]) {
        self.0.update([tag]);
        self.0.update((value.len() as u64).to_le_bytes());
        self.0.update(value);
    }

    fn text(&mut self, tag: u8, t: Option<&RawText>) {
        match t {
            Some(t) => {
                self.field(tag, &[u8::from(t.is_html)]);
                self.field(tag, t.body.as_bytes());
            }
            None => self.field(tag, b""),
        }
    }

    fn date(&mut self, tag: u8, d: Option<DateTime<Utc>>) {
        let s = d.map(|d| d.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        self.field(tag, s.as_deref().unwrap_or_default().as_bytes());
    }

    fn finish(self) -> String {
        let digest = self.0.finalize();
        let mut out = String::with_capacity(64);
        push_hex(&mut out, &digest);
        out
    }
}

fn content_hash(
    entry: &RawEntry,
    ids: &Ids,
    authors: &[String],
    categories: &[String],
    enclosures: &[Enclosure],
) -> String {
    let mut h = FieldHasher(Sha256::new());
    h.field(b'i', ids.id.as_bytes());
    h.field(b'l', ids.url.as_ref().map_or("", Url::as_str).as_bytes());
    h.text(b't', entry.title.as_ref());
    h.text(b's', entry.summary.as_ref());
    h.text(b'c', entry.content.as_ref());
    h.date(b'p', entry.published);
    h.date(b'u', entry.updated);
    for a in authors {
        h.field(b'a', a.as_bytes());
    }
    for c in categories {
        h.field(b'k', c.as_bytes());
    }
    for e in enclosures {
        h.field(b'e', e.url.as_bytes());
        h.field(b'm', e.mime.as_deref().unwrap_or_default().as_bytes());
        h.field(b'n', &e.length.unwrap_or_default().to_le_bytes());
    }
    h.finish()
}

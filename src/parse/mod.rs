//! Parse and repair: bytes of a feed document in, a `RawFeed` out. Owns feed-rs (used
//! nowhere else) and the repairs real partner feeds need before feed-rs can read them.
//! Pure: no I/O, no clock.
//!
//! The stages, each in its own module:
//! 1. `decode`: the bytes to UTF-8 (BOM, HTTP charset, XML declaration; windows-1252
//!    where "UTF-8" is not).
//! 2. Detection: empty, JSON (`{`), otherwise XML; an HTML page is refused by the scanner.
//! 3. `repair` (XML) or `json` (JSON Feed): one pass that makes the document something
//!    feed-rs reads, safely (no DOCTYPE, bounded depth, no NUL).
//!    `naked` then wraps HTML written unescaped inside text elements in CDATA, which
//!    feed-rs would otherwise cut at the first tag.
//! 4. feed-rs, inside `catch_unwind`: a panic in it is an error on the source, not a crash.
//! 5. `map`: feed-rs's model to ours, with what the scanner noted that feed-rs drops.

mod decode;
mod json;
mod map;
mod naked;
mod persons;
mod repair;

use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};

use feed_rs::parser::{ParseErrorKind, ParseFeedError};

use crate::model::{FeedKind, RawFeed};

pub use map::MAX_ENTRIES;
pub use repair::MAX_DEPTH;

/// Why a document could not be read as a feed. Messages are lower case; the caller adds
/// the source id / URL.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("empty document")]
    Empty,
    #[error("not a feed: {0}")]
    NotAFeed(String),
    #[error("malformed feed: {0}")]
    Malformed(String),
    #[error("too deeply nested: more than {0} open elements")]
    TooDeep(usize),
    #[error("parser panicked: {0}")]
    Panicked(String),
}

/// Decode, repair and parse one document. `content_type` is the HTTP Content-Type header
/// when there was one (its charset takes part in decoding, RFC 7303 order).
///
/// A panic inside feed-rs comes back as [`ParseError::Panicked`] with its one-line message.
/// The process's panic hook still runs first (by default it prints the panic on stderr);
/// quieting it is the binary's business, not this library's.
pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<RawFeed, ParseError> {
    // feed-rs and quick-xml are not ours; a panic in them (one is known on UTF-16BE with a
    // BOM, which decoding avoids) must stay an error on this one document. Nothing is
    // shared across the call, so no broken state can leak out of the unwind.
    match catch_unwind(AssertUnwindSafe(|| parse_document(bytes, content_type))) {
        Ok(result) => result,
        Err(payload) => Err(ParseError::Panicked(panic_message(payload.as_ref()))),
    }
}

/// Decode and repair an XML document that is not a feed (an OPML list) the way feeds are:
/// encoding sniffed, HTML entities and bare `&` repaired, DOCTYPE removed, nesting
/// bounded, an HTML page refused. Returns UTF-8 text for a strict XML parser.
pub fn repair_xml(bytes: &[u8]) -> Result<String, ParseError> {
    let decoded = decode::decode(bytes, None);
    if decoded.text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let repaired = repair::repair(&decoded.text).map_err(|refusal| match refusal {
        repair::Refusal::TooDeep => ParseError::TooDeep(MAX_DEPTH),
        repair::Refusal::Html(what) => ParseError::NotAFeed(format!("an html page ({what})")),
    })?;
    Ok(repaired.text.into_owned())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown cause");
    let line = text.lines().next().unwrap_or_default().trim();
    line.chars().take(200).collect()
}

fn parse_document(bytes: &[u8], content_type: Option<&str>) -> Result<RawFeed, ParseError> {
    let decoded = decode::decode(bytes, content_type);
    let text: &str = &decoded.text;
    let start = text.trim_start();
    if start.is_empty() {
        return Err(ParseError::Empty);
    }
    let mut repairs: Vec<String> = decoded.note.clone().into_iter().collect();
    if start.starts_with('{') {
        return parse_json(start, repairs);
    }
    if !text.contains('<') {
        return Err(ParseError::NotAFeed("neither xml nor json".to_string()));
    }

    let repaired = repair::repair(text).map_err(|refusal| match refusal {
        repair::Refusal::TooDeep => ParseError::TooDeep(MAX_DEPTH),
        repair::Refusal::Html(what) => ParseError::NotAFeed(format!("an html page ({what})")),
    })?;
    repairs.extend(repaired.repairs.iter().cloned());
    let root = repaired.root_name.as_deref().unwrap_or_default();
    if repaired.root_kind == repair::RootKind::None {
        return Err(ParseError::NotAFeed("no root element".to_string()));
    }

    // feed-rs fails a whole document over one element it cannot read (an unknown text
    // type, a required text missing, an unknown enum value) and says where: that element is
    // hidden from it and the document read again, a few times at most.
    let mut text = repaired.text;
    if let Some((wrapped, count)) = naked::wrap(&text) {
        text = Cow::Owned(wrapped);
        repairs.push(format!(
            "read the markup inside {count} text {} as escaped html",
            if count == 1 { "element" } else { "elements" }
        ));
    }
    let mut hidden: Vec<String> = Vec::new();
    // Person elements repair's scanner did not see as feed-rs will (see `persons`); last
    // first, so that the earlier offsets stay valid.
    if matches!(
        repaired.root_kind,
        repair::RootKind::Rss | repair::RootKind::Rdf
    ) {
        for at in persons::risky(&text).into_iter().rev() {
            match repair::hide_element_at(&text, at) {
                Some((fixed, name)) => {
                    hidden.push(name);
                    text = Cow::Owned(fixed);
                }
                // Open to the end of the document: nothing after it to keep.
                None => {
                    let cut = text.get(..at).and_then(|head| head.rfind('<'));
                    if let Some(cut) = cut {
                        repairs.push("cut the document at an unclosed author element".to_string());
                        text = Cow::Owned(text.get(..cut).unwrap_or_default().to_string());
                    }
                }
            }
        }
    }
    let result = loop {
        let result = parser().parse(text.as_bytes());
        let position = match &result {
            Err(ParseFeedError::ParseError(kind)) if may_retry(hidden.len(), text.len()) => {
                error_position(kind)
            }
            _ => None,
        };
        match position.and_then(|p| repair::hide_element_at(&text, p)) {
            Some((fixed, name)) => {
                hidden.push(name);
                text = Cow::Owned(fixed);
            }
            None => break result,
        }
    };
    if !hidden.is_empty() {
        repairs.push(format!(
            "hid from the parser what it could not read: {}",
            hidden.join(", ")
        ));
    }

    match result {
        Ok(feed) => {
            let hints = map::Hints {
                entries: &repaired.entries,
                feed_dc_language: repaired.feed_dc_language.as_deref(),
            };
            Ok(map::map_feed(feed, hints, None, repairs))
        }
        Err(ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot)) => match repaired.root_kind {
            // `<rss>` with no `<channel>`: a feed with nothing in it, not a broken one.
            repair::RootKind::Rss if !repaired.rss_has_channel => {
                repairs.push("read an rss document without a channel as an empty feed".to_string());
                Ok(RawFeed {
                    kind: Some(FeedKind::Rss),
                    repairs,
                    ..RawFeed::default()
                })
            }
            repair::RootKind::Other => Err(ParseError::NotAFeed(format!(
                "root element <{root}> is not rss, rdf or atom"
            ))),
            // feed-rs reports any XML error before the root element is read this way.
            _ => Err(ParseError::Malformed(format!(
                "cannot read the <{root}> element"
            ))),
        },
        Err(e) => Err(ParseError::Malformed(describe(e))),
    }
}

/// How many elements may be hidden from feed-rs before the document counts as broken…
const MAX_HIDDEN: usize = 16;
/// …and how many bytes it may read again in all, so that a large hostile document cannot
/// cost sixteen full parses.
const MAX_REREAD: usize = 32 << 20;

fn may_retry(hidden: usize, len: usize) -> bool {
    hidden < MAX_HIDDEN && (hidden + 1).saturating_mul(len) <= MAX_REREAD
}

fn error_position(kind: &ParseErrorKind) -> Option<usize> {
    match kind {
        ParseErrorKind::UnknownMimeType { position, .. }
        | ParseErrorKind::MissingContent { position, .. }
        | ParseErrorKind::UnknownEnumVariant { position, .. }
        | ParseErrorKind::IllegalState { position, .. } => usize::try_from(*position).ok(),
        ParseErrorKind::NoFeedRoot => None,
    }
}

fn parse_json(text: &str, mut repairs: Vec<String>) -> Result<RawFeed, ParseError> {
    let prepared = json::prepare(text)?;
    repairs.extend(prepared.repairs.iter().cloned());
    match parser().parse(prepared.bytes.as_slice()) {
        Ok(feed) => Ok(map::map_feed(
            feed,
            map::Hints::default(),
            Some(&prepared.extras),
            repairs,
        )),
        Err(ParseFeedError::JsonUnsupportedVersion(v)) => Err(ParseError::NotAFeed(format!(
            "unsupported json feed version {v:?}"
        ))),
        Err(e) => Err(ParseError::Malformed(describe(e))),
    }
}

/// feed-rs configured for relais:
/// - dates through relais's own lenient parser;
/// - entries without an id get [`map::NO_ID`] instead of a hash or a random UUID, so that
///   `RawEntry::guid` is `None` and normalise derives a stable id itself;
/// - content left raw (normalise sanitises it with ammonia);
/// - a base URI that only marks what is still relative, see [`map::RELATIVE_BASE`].
fn parser() -> feed_rs::parser::Parser {
    feed_rs::parser::Builder::new()
        .base_uri(Some(map::RELATIVE_BASE))
        .id_generator(|_, _, _| map::NO_ID.to_string())
        .timestamp_parser(crate::normalise::dates::parse_date)
        .sanitize_content(false)
        .build()
}

/// feed-rs's error, as a lower-case message without its "Parser error:"-style prefixes.
fn describe(e: ParseFeedError) -> String {
    let message = match e {
        ParseFeedError::ParseError(kind) => kind.to_string(),
        ParseFeedError::IoError(e) => format!("read error: {e}"),
        ParseFeedError::JsonSerde(e) => format!("json: {e}"),
        ParseFeedError::JsonUnsupportedVersion(v) => format!("unsupported json feed version {v:?}"),
        ParseFeedError::XmlReader(e) => {
            let text = e.to_string();
            let text = [
                "Parser error: ",
                "Url error: ",
                "Encoding error: ",
                "Escape error: ",
            ]
            .iter()
            .find_map(|p| text.strip_prefix(p))
            .unwrap_or(&text)
            .to_string();
            format!("xml: {text}")
        }
    };
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => message,
    }
}

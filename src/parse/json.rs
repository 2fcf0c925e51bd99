//! JSON Feed pre-pass: makes a JSON Feed document something feed-rs's strict serde model
//! accepts, and keeps what that model drops.
//!
//! feed-rs deserialises JSON Feed into fixed Rust types, so one field of an unexpected
//! type (a numeric `id`, which JSON Feed 1.0 publishers do write; a `tags` string; an
//! attachment without `mime_type`) fails the whole feed, and a `\u0000` escape survives
//! into the text. Here the document is read as a `serde_json::Value`, characters XML 1.0
//! forbids (NUL first) are dropped from every string, fields of the wrong type are
//! converted (numbers to strings) or removed, and it is written out again for feed-rs.
//! The home page URL and item languages (JSON Feed 1.1), which feed-rs's model does not
//! tell apart or keep, are taken here.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::repair::is_xml_char;
use super::ParseError;

/// What feed-rs's JSON model loses.
#[derive(Debug, Default)]
pub(crate) struct JsonExtras {
    /// `home_page_url` (feed-rs keeps it and `feed_url` as two untyped links).
    pub home_page_url: Option<String>,
    /// Each item's `language`, in item order.
    pub item_langs: Vec<Option<String>>,
}

#[derive(Debug)]
pub(crate) struct Prepared {
    pub bytes: Vec<u8>,
    pub extras: JsonExtras,
    pub repairs: Vec<String>,
}

#[derive(Debug, Default)]
struct Fixes {
    control_bytes: usize,
    dropped_chars: usize,
    fields: usize,
    version: Option<&'static str>,
}

/// Authors kept per feed or item.
const MAX_AUTHORS: usize = 16;

const VERSION_PREFIX: &str = "https://jsonfeed.org/version/1";

pub(crate) fn prepare(text: &str) -> Result<Prepared, ParseError> {
    let mut fixes = Fixes::default();
    // Raw control characters are not JSON anywhere (serde_json rejects them in strings).
    let text: Cow<'_, str> = if text
        .bytes()
        .any(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
    {
        let cleaned: String = text
            .chars()
            .filter(|&c| c >= ' ' || matches!(c, '\t' | '\n' | '\r'))
            .collect();
        fixes.control_bytes = text.len() - cleaned.len();
        Cow::Owned(cleaned)
    } else {
        Cow::Borrowed(text)
    };
    let mut value: Value =
        serde_json::from_str(&text).map_err(|e| ParseError::Malformed(format!("json: {e}")))?;
    let Some(feed) = value.as_object_mut() else {
        return Err(ParseError::NotAFeed(
            "a json document that is not a json feed".to_string(),
        ));
    };

    match feed.get("version").and_then(Value::as_str) {
        Some(v) if v.starts_with(VERSION_PREFIX) => {}
        Some(v) if v.starts_with("http://jsonfeed.org/version/1") => {
            let fixed = format!("https{}", v.trim_start_matches("http"));
            feed.insert("version".into(), Value::String(fixed));
            fixes.version = Some("rewrote the json feed version url with https");
        }
        Some(_) => {}
        None if feed.get("items").is_some_and(Value::is_array) => {
            feed.insert(
                "version".into(),
                Value::String(format!("{VERSION_PREFIX}.1")),
            );
            fixes.version = Some("added missing json feed version");
        }
        None => {
            return Err(ParseError::NotAFeed(
                "a json document that is not a json feed".to_string(),
            ))
        }
    }

    clean_strings(&mut value, &mut fixes);
    let extras = match value.as_object_mut() {
        Some(feed) => fix_feed(feed, &mut fixes),
        None => JsonExtras::default(),
    };
    let bytes =
        serde_json::to_vec(&value).map_err(|e| ParseError::Malformed(format!("json: {e}")))?;

    let mut repairs = Vec::new();
    if fixes.control_bytes > 0 {
        repairs.push(format!(
            "dropped {} control characters outside json strings",
            fixes.control_bytes
        ));
    }
    if let Some(v) = fixes.version {
        repairs.push(v.to_string());
    }
    if fixes.dropped_chars > 0 {
        repairs.push(format!(
            "dropped {} illegal in xml",
            if fixes.dropped_chars == 1 {
                "1 character".to_string()
            } else {
                format!("{} characters", fixes.dropped_chars)
            }
        ));
    }
    if fixes.fields > 0 {
        repairs.push(format!(
            "fixed {} of the wrong type",
            if fixes.fields == 1 {
                "1 json field".to_string()
            } else {
                format!("{} json fields", fixes.fields)
            }
        ));
    }
    Ok(Prepared {
        bytes,
        extras,
        repairs,
    })
}

/// Drop characters XML 1.0 forbids (NUL above all) from every string, keys included.
fn clean_strings(value: &mut Value, fixes: &mut Fixes) {
    match value {
        Value::String(s) => clean_string(s, fixes),
        Value::Array(items) => items.iter_mut().for_each(|v| clean_strings(v, fixes)),
        Value::Object(map) => {
            if map
                .keys()
                .any(|k| k.chars().any(|c| !is_xml_char(u32::from(c))))
            {
                let old = std::mem::take(map);
                for (mut k, v) in old {
                    clean_string(&mut k, fixes);
                    map.insert(k, v);
                }
            }
            map.values_mut().for_each(|v| clean_strings(v, fixes));
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn clean_string(s: &mut String, fixes: &mut Fixes) {
    if s.chars().any(|c| !is_xml_char(u32::from(c))) {
        let before = s.chars().count();
        s.retain(|c| is_xml_char(u32::from(c)));
        fixes.dropped_chars += before - s.chars().count();
    }
}

/// Keep `key` only if it is a string (numbers become strings when `numbers` is set).
fn string_field(map: &mut Map<String, Value>, key: &str, numbers: bool, fixes: &mut Fixes) {
    match map.get(key) {
        None | Some(Value::Null) | Some(Value::String(_)) => {}
        Some(Value::Number(n)) if numbers => {
            let s = n.to_string();
            map.insert(key.to_string(), Value::String(s));
            fixes.fields += 1;
        }
        Some(_) => {
            map.remove(key);
            fixes.fields += 1;
        }
    }
}

fn fix_author(author: &mut Map<String, Value>, fixes: &mut Fixes) {
    string_field(author, "name", false, fixes);
    string_field(author, "url", false, fixes);
    if let Some(Value::String(name)) = author.get_mut("name") {
        if let Some(padded) = pad_non_ascii(name) {
            *name = padded;
        }
    }
}

/// feed-rs 3.0.0 runs author names through an e-mail finder that slices the string at
/// byte offsets next to the address and panics when a multi-byte character sits there
/// ("Jean «jean@ex.fr»"). A space between every non-ASCII character and a neighbouring
/// ASCII one puts a one-byte character at both ends of any address; the name is trimmed
/// afterwards anyway.
fn pad_non_ascii(name: &str) -> Option<String> {
    if !name.contains('@') || name.is_ascii() {
        return None;
    }
    let mut out = String::with_capacity(name.len() + 8);
    let mut prev: Option<char> = None;
    for c in name.chars() {
        if let Some(p) = prev {
            // Only ASCII white space is a safe neighbour: a no-break space is multi-byte.
            let spaced = p.is_ascii_whitespace() || c.is_ascii_whitespace();
            if p.is_ascii() != c.is_ascii() && !spaced {
                out.push(' ');
            }
        }
        out.push(c);
        prev = Some(c);
    }
    Some(out)
}

fn fix_authors(map: &mut Map<String, Value>, fixes: &mut Fixes) {
    match map.get_mut("author") {
        None | Some(Value::Null) => {}
        Some(Value::Object(a)) => fix_author(a, fixes),
        Some(_) => {
            map.remove("author");
            fixes.fields += 1;
        }
    }
    match map.get_mut("authors") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            let before = list.len();
            list.retain(Value::is_object);
            // feed-rs dedups authors pairwise and copies the feed's into every item without
            // one: quadratic on a hostile document.
            list.truncate(MAX_AUTHORS);
            fixes.fields += before - list.len();
            for a in list.iter_mut().filter_map(Value::as_object_mut) {
                fix_author(a, fixes);
            }
        }
        Some(_) => {
            map.remove("authors");
            fixes.fields += 1;
        }
    }
}

fn fix_feed(feed: &mut Map<String, Value>, fixes: &mut Fixes) -> JsonExtras {
    match feed.get("title") {
        Some(Value::String(_)) => {}
        Some(Value::Number(n)) => {
            let s = n.to_string();
            feed.insert("title".into(), Value::String(s));
            fixes.fields += 1;
        }
        // feed-rs requires a title; an empty one maps to "no title".
        _ => {
            feed.insert("title".into(), Value::String(String::new()));
        }
    }
    for key in [
        "home_page_url",
        "feed_url",
        "language",
        "description",
        "icon",
        "favicon",
    ] {
        string_field(feed, key, false, fixes);
    }
    fix_authors(feed, fixes);

    let mut items = match feed.remove("items") {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            fixes.fields += 1;
            Vec::new()
        }
    };
    let before = items.len();
    items.retain(Value::is_object);
    fixes.fields += before - items.len();
    let mut item_langs = Vec::with_capacity(items.len());
    for item in items.iter_mut().filter_map(Value::as_object_mut) {
        fix_item(item, fixes);
        item_langs.push(
            item.get("language")
                .and_then(Value::as_str)
                .map(str::to_string),
        );
    }
    feed.insert("items".into(), Value::Array(items));

    JsonExtras {
        home_page_url: feed
            .get("home_page_url")
            .and_then(Value::as_str)
            .map(str::to_string),
        item_langs,
    }
}

fn fix_item(item: &mut Map<String, Value>, fixes: &mut Fixes) {
    string_field(item, "id", true, fixes);
    for key in [
        "url",
        "external_url",
        "title",
        "content_html",
        "content_text",
        "summary",
        "date_published",
        "date_modified",
        "language",
    ] {
        string_field(item, key, false, fixes);
    }
    fix_authors(item, fixes);
    match item.get_mut("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Array(tags)) => {
            let before = tags.len();
            tags.retain(|t| t.is_string() || t.is_number());
            fixes.fields += before - tags.len();
            for t in tags.iter_mut() {
                if let Value::Number(n) = t {
                    *t = Value::String(n.to_string());
                    fixes.fields += 1;
                }
            }
        }
        Some(_) => {
            item.remove("tags");
            fixes.fields += 1;
        }
    }
    match item.get_mut("attachments") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            let before = list.len();
            list.retain(|a| {
                a.get("url").is_some_and(Value::is_string)
                    && a.get("mime_type").is_some_and(Value::is_string)
            });
            fixes.fields += before - list.len();
            for a in list.iter_mut().filter_map(Value::as_object_mut) {
                string_field(a, "title", false, fixes);
                if a.get("size_in_bytes")
                    .is_some_and(|s| !s.is_null() && !s.is_u64())
                {
                    a.remove("size_in_bytes");
                    fixes.fields += 1;
                }
            }
        }
        Some(_) => {
            item.remove("attachments");
            fixes.fields += 1;
        }
    }
}

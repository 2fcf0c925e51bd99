//! Fuzz target `parse`: bytes → decode + repair + feed-rs + map (`relais::parse::parse`)
//! → normalise, the path of `relais parse` and of every poll. Asserts no panic (libFuzzer
//! aborts on any, even one relais would contain) and what normalise promises of its
//! output: http(s) links only, sanitised HTML without scripts or script URLs, bounded
//! ids, titles and summaries, no date after `now`, ids unique, the same output twice.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use relais::model::Item;
use relais::normalise::{self, Context, MAX_ID_LEN, MAX_SUMMARY, MAX_TITLE};

/// The Content-Type a server may have sent: decoding takes the HTTP charset into
/// account, so it is part of the input. A first byte 0x01–0x04 chooses one (and is not
/// part of the document); anything else is a document served without one, so plain feed
/// files are seeds as they are.
const CONTENT_TYPES: [&str; 4] = [
    "application/rss+xml; charset=utf-8",
    "text/xml; charset=windows-1252",
    "application/atom+xml; charset=utf-16",
    "application/feed+json",
];

fuzz_target!(|data: &[u8]| {
    let (content_type, doc) = match data.split_first() {
        Some((&b @ 1..=4, doc)) => (CONTENT_TYPES.get(usize::from(b - 1)).copied(), doc),
        _ => (None, data),
    };
    let Ok(feed) = relais::parse::parse(doc, content_type) else {
        return;
    };
    let base = url::Url::parse("https://partenaire.example.org/actualites/flux.xml").ok();
    let now = DateTime::<Utc>::from_timestamp(1_764_000_000, 0).unwrap_or_default();
    let cx = Context {
        source: Some("fuzz"),
        document_url: base.as_ref(),
        default_lang: Some("fr"),
        now,
    };
    let items = normalise::normalise(&feed, &cx);
    let mut ids = std::collections::HashSet::new();
    for item in &items {
        check_item(item, now);
        assert!(ids.insert(item.id.as_str()), "duplicate id {:?}", item.id);
    }
    assert_eq!(items, normalise::normalise(&feed, &cx), "normalise is not deterministic");
});

fn check_item(item: &Item, now: DateTime<Utc>) {
    assert!(!item.id.is_empty() && item.id.len() <= MAX_ID_LEN, "id {:?}", item.id);
    for url in [&item.url, &item.canonical_url].into_iter().flatten() {
        assert_web_url(url);
    }
    for e in &item.enclosures {
        assert_web_url(&e.url);
    }
    assert!(!item.title.trim().is_empty(), "empty title");
    assert!(item.title.chars().count() <= MAX_TITLE, "title too long");
    assert!(item.summary.chars().count() <= MAX_SUMMARY, "summary too long");
    assert!(item.published <= now, "published in the future: {}", item.published);
    if let Some(html) = &item.content_html {
        check_sanitised(html);
    }
}

fn assert_web_url(s: &str) {
    let url = url::Url::parse(s).unwrap_or_else(|e| panic!("not a URL {s:?}: {e}"));
    assert!(
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()),
        "not an http(s) URL with a host: {s:?}"
    );
}

/// Elements that must never survive sanitising, and attributes whose value is a URL.
const FORBIDDEN_TAGS: [&str; 10] = [
    "script", "style", "iframe", "object", "embed", "svg", "math", "form", "base", "meta",
];
const URL_ATTRS: [&str; 6] = ["href", "src", "action", "formaction", "srcset", "xlink:href"];

/// Walks the tags of ammonia's output (html5ever serialisation: attribute values in
/// double quotes, `"` and `&` escaped in them) and checks each one.
fn check_sanitised(html: &str) {
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == ':' || *c == '-')
            .collect();
        if name.is_empty() {
            continue; // `</…>` or `<!…`: nothing to check
        }
        let name = name.to_ascii_lowercase();
        assert!(!FORBIDDEN_TAGS.contains(&name.as_str()), "<{name}> kept in {html:?}");
        rest = &rest[name.len()..];
        rest = check_attributes(rest, html);
    }
}

/// Reads attributes up to the end of the tag; returns what follows it.
fn check_attributes<'a>(mut rest: &'a str, html: &str) -> &'a str {
    loop {
        rest = rest.trim_start();
        if rest.is_empty() || rest.starts_with('>') || rest.starts_with("/>") {
            return rest;
        }
        let end = rest
            .find(|c: char| c == '=' || c == '>' || c.is_whitespace())
            .unwrap_or(rest.len());
        let attr = rest[..end].to_ascii_lowercase();
        rest = &rest[end..];
        assert!(!attr.starts_with("on"), "event handler {attr} kept in {html:?}");
        assert!(attr != "style", "style attribute kept in {html:?}");
        let Some(after) = rest.strip_prefix("=\"") else {
            continue;
        };
        let close = after.find('"').unwrap_or(after.len());
        let value = &after[..close];
        rest = after.get(close + 1..).unwrap_or("");
        if URL_ATTRS.contains(&attr.as_str()) {
            let folded: String = value
                .replace("&amp;", "&")
                .chars()
                .filter(|c| !c.is_whitespace() && !c.is_control())
                .collect::<String>()
                .to_ascii_lowercase();
            // A scheme only counts at the start of a URL (of each candidate of a
            // srcset); `vbscript:` inside an https path is harmless text.
            for url in folded.split(',') {
                for scheme in ["javascript:", "vbscript:", "data:"] {
                    assert!(!url.starts_with(scheme), "{attr}={value:?} kept in {html:?}");
                }
            }
        }
    }
}

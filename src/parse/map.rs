//! Mapping: feed-rs's `Feed` to relais's `RawFeed`, adding what the repair scanner or the
//! JSON pre-pass noted that feed-rs does not expose, and undoing what feed-rs invents.
//!
//! Base URI (read from feed-rs 3.0.0's `xml` module and `Link::new`). feed-rs resolves links
//! against a stack of bases: the `base_uri` given to its builder at the root, then each
//! `xml:base` (an absolute one replaces the base, a relative one is joined to the current
//! base, and is silently ignored when there is none; one the url crate rejects outright
//! fails the whole document, which is why repair drops those). Every RSS `<link>`, Atom
//! `<link href>`, enclosure and `media:content` URL goes through `Url::join` with the
//! current base; with no base at all, a relative link is kept as written but a relative
//! enclosure or media URL is dropped, and a relative `xml:base` chain is lost. Giving the feed's own URL as `base_uri` would be wrong: a relative RSS
//! item `<link>` must resolve against the channel `<link>`, not the document URL.
//!
//! So the parser gets [`RELATIVE_BASE`], an address no real link can have, and whatever
//! comes back under it is turned back into the relative reference it stands for
//! ([`unresolve`]). Absolute `xml:base` values (and relative ones nested in them) are
//! applied exactly as feed-rs does; everything still relative stays relative — with any
//! relative `xml:base` applied — and normalise resolves it against the channel link or the
//! document URL.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Feed, FeedType, Link, Text};

use super::json::JsonExtras;
use super::repair::EntryHint;
use crate::model::{Enclosure, FeedKind, RawEntry, RawFeed, RawText};

/// Returned by the id generator: NUL cannot survive repair, so no publisher id equals it.
pub(crate) const NO_ID: &str = "\u{0}relais:no-id";

/// The base feed-rs resolves relative links against: a scheme of our own (so that a
/// protocol-relative `//host/path` stays recognisable) and eight directory levels of a
/// segment no real link uses (so that `../x` can be told from `/x`).
pub(crate) const RELATIVE_BASE: &str = "relais://relais.invalid/%01/%01/%01/%01/%01/%01/%01/%01/";
const BASE_LEVELS: usize = 8;

/// A URL as feed-rs returned it, with [`RELATIVE_BASE`] taken back out: the relative
/// reference it was resolved from (normalised by the url crate: dot segments removed,
/// unsafe characters percent-encoded).
pub(crate) fn unresolve(href: &str) -> String {
    if let Some(rest) = href.strip_prefix("relais://relais.invalid") {
        let split = rest.find(['?', '#']).unwrap_or(rest.len());
        let (path, tail) = rest.split_at(split);
        let mut p = path.strip_prefix('/').unwrap_or(path);
        let mut levels = 0;
        while levels < BASE_LEVELS {
            match p.strip_prefix("%01/") {
                Some(r) => {
                    p = r;
                    levels += 1;
                }
                None => break,
            }
        }
        return match levels {
            BASE_LEVELS if p.is_empty() && tail.is_empty() => "./".to_string(),
            BASE_LEVELS => format!("{p}{tail}"),
            0 => format!("/{p}{tail}"),
            up => format!("{}{p}{tail}", "../".repeat(BASE_LEVELS - up)),
        };
    }
    match href.strip_prefix("relais:") {
        // Protocol-relative: `//host/path` took our scheme.
        Some(rest) => rest.to_string(),
        None => href.to_string(),
    }
}

/// Feed authors copied into each Atom entry without one: a bound, because feed authors ×
/// entries is quadratic in a hostile document.
const MAX_INHERITED_AUTHORS: usize = 16;

/// Entries read from one document; the rest are dropped (and the drop recorded). A feed
/// carries its latest items — WordPress sends 10, the largest partner feed a few hundred
/// — while every entry costs a comparison with every other of the batch when stories
/// are planned: a hostile 100,000-entry document took hours. Document order is kept, and
/// feeds list the newest first.
pub const MAX_ENTRIES: usize = 1_000;

/// What the repair scanner noted that feed-rs does not expose.
#[derive(Debug, Default)]
pub(crate) struct Hints<'a> {
    pub entries: &'a [EntryHint],
    pub feed_dc_language: Option<&'a str>,
}

pub(crate) fn map_feed(
    feed: Feed,
    hints: Hints<'_>,
    json: Option<&JsonExtras>,
    repairs: Vec<String>,
) -> RawFeed {
    let kind = match feed.feed_type {
        FeedType::RSS0 | FeedType::RSS2 => FeedKind::Rss,
        FeedType::RSS1 => FeedKind::Rdf,
        FeedType::Atom => FeedKind::Atom,
        FeedType::JSON => FeedKind::JsonFeed,
    };
    let link = match json {
        Some(extras) => extras.home_page_url.clone(),
        None => site_link(&feed.links),
    };

    // feed-rs keeps RSS 1.0 items only when they have a link; the scanner saw them all.
    let usable: Vec<&EntryHint> = match kind {
        FeedKind::Rdf => hints.entries.iter().filter(|h| h.has_link).collect(),
        _ => hints.entries.iter().collect(),
    };
    let aligned = usable.len() == feed.entries.len();
    // An Atom entry without an author has the feed's (RFC 4287 4.2.1); feed-rs does this
    // itself for JSON Feed only.
    let inherited: Vec<String> = match kind {
        FeedKind::Atom => feed
            .authors
            .iter()
            .take(MAX_INHERITED_AUTHORS)
            .filter_map(|p| p.name.as_deref().and_then(clean_name))
            .collect(),
        _ => Vec::new(),
    };

    let mut repairs = repairs;
    if feed.entries.len() > MAX_ENTRIES {
        repairs.push(format!(
            "kept the first {MAX_ENTRIES} of {} entries",
            feed.entries.len()
        ));
    }
    let entries = feed
        .entries
        .into_iter()
        .take(MAX_ENTRIES)
        .enumerate()
        .map(|(i, entry)| {
            let hint = if aligned {
                usable.get(i).copied()
            } else {
                None
            };
            let json_lang = json.and_then(|j| j.item_langs.get(i).cloned().flatten());
            map_entry(entry, kind, hint, json_lang, &inherited)
        })
        .collect();

    RawFeed {
        kind: Some(kind),
        title: feed.title.and_then(feed_title),
        link,
        lang: feed
            .language
            .and_then(non_empty)
            .or_else(|| hints.feed_dc_language.map(str::to_string)),
        entries,
        repairs,
    }
}

/// The feed title as plain text: `RawFeed::title` has no HTML flag, and an Atom title of
/// type html or xhtml is markup.
fn feed_title(title: Text) -> Option<String> {
    if is_html_type(&title.content_type.essence().to_string()) {
        // As item titles are: script and style contents are no title text.
        non_empty(crate::normalise::text::collapse_whitespace(
            &crate::normalise::text::html_to_text(&title.content),
        ))
    } else {
        non_empty(title.content)
    }
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        None
    } else if t.len() == s.len() {
        Some(s)
    } else {
        Some(t.to_string())
    }
}

fn is_alternate(link: &Link) -> bool {
    link.target.is_none()
        && link
            .rel
            .as_deref()
            .is_none_or(|r| r.trim().eq_ignore_ascii_case("alternate"))
}

/// Alternate links in document order, those that are (or may be) web pages first.
fn alternates(links: &[Link]) -> Vec<String> {
    let mut found: Vec<(bool, String)> = links
        .iter()
        .filter(|l| is_alternate(l))
        .filter_map(|l| {
            let page = l.media_type.as_deref().is_none_or(|t| t.contains("html"));
            non_empty(unresolve(&l.href)).map(|href| (!page, href))
        })
        .collect();
    found.sort_by_key(|(not_page, _)| *not_page);
    dedup(found.into_iter().map(|(_, href)| href))
}

/// The first of equal strings, in order, in linear time: a hostile entry may carry
/// thousands of links or categories.
fn dedup(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|s| seen.insert(s.clone()))
        .collect()
}

/// The site: RSS channel `<link>` or the Atom alternate link, never the self link.
fn site_link(links: &[Link]) -> Option<String> {
    alternates(links).into_iter().next()
}

fn map_text(text: Option<Text>) -> Option<RawText> {
    let text = text?;
    let is_html = is_html_type(text.content_type.essence().to_string().as_str());
    non_empty(text.content).map(|body| RawText { body, is_html })
}

/// A person's name without the punctuation feed-rs leaves around it once it has cut the
/// e-mail out ("(Jean Dupont)", "Rédaction –").
fn clean_name(raw: &str) -> Option<String> {
    let trimmed =
        raw.trim_matches(|c: char| c.is_whitespace() || "()<>[]«»\"'“”‘’-–—:,;|/".contains(c));
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// An author string as RSS writes it ("jean@ex.fr (Jean Dupont)", "Jean Dupont
/// «jean@ex.fr»", "mailto:jean@ex.fr", "Jean Dupont"): the name when there is one,
/// else the e-mail address.
pub(crate) fn person_name(raw: &str) -> Option<String> {
    let is_email = |w: &str| w.contains('@');
    let name: Vec<&str> = raw.split_whitespace().filter(|w| !is_email(w)).collect();
    clean_name(&name.join(" ")).or_else(|| {
        raw.split_whitespace().find(|w| is_email(w)).and_then(|w| {
            let w = w.trim_matches(|c: char| "()<>[]«»\"'“”‘’,;".contains(c));
            clean_name(w.strip_prefix("mailto:").unwrap_or(w))
        })
    })
}

fn is_web_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// feed-rs types Atom xhtml as "application/xhtml" (its media type constant lacks the
/// "+xml").
fn is_html_type(essence: &str) -> bool {
    ["text/html", "application/xhtml", "application/xhtml+xml"]
        .iter()
        .any(|t| essence.eq_ignore_ascii_case(t))
}

fn map_entry(
    entry: Entry,
    kind: FeedKind,
    hint: Option<&EntryHint>,
    json_lang: Option<String>,
    inherited_authors: &[String],
) -> RawEntry {
    let mut guid = if entry.id == NO_ID {
        None
    } else {
        non_empty(entry.id)
    };
    if kind == FeedKind::Rdf {
        if let Some(about) = hint.and_then(|h| h.about.clone()) {
            guid = Some(about);
        }
    }

    let mut enclosures: Vec<Enclosure> = Vec::new();
    let mut enclosure_urls = HashSet::new();
    let mut add_enclosure = |url: String, mime: Option<String>, length: Option<u64>| {
        let url = url.trim().to_string();
        if !url.is_empty() && enclosure_urls.insert(url.clone()) {
            enclosures.push(Enclosure {
                url,
                mime: mime.and_then(non_empty),
                length,
            });
        }
    };
    for object in &entry.media {
        for c in &object.content {
            if let Some(url) = &c.url {
                add_enclosure(
                    unresolve(url.as_str()),
                    c.content_type.as_ref().map(|m| m.to_string()),
                    c.size,
                );
            }
        }
    }
    let links = if kind == FeedKind::JsonFeed {
        // JSON Feed: `url` and `external_url` come without a type, attachments with one.
        let mut pages = Vec::new();
        for l in &entry.links {
            match &l.media_type {
                Some(mime) => add_enclosure(unresolve(&l.href), Some(mime.clone()), l.length),
                None => pages.extend(non_empty(unresolve(&l.href))),
            }
        }
        dedup(pages)
    } else {
        for l in &entry.links {
            if l.rel
                .as_deref()
                .is_some_and(|r| r.trim().eq_ignore_ascii_case("enclosure"))
            {
                add_enclosure(unresolve(&l.href), l.media_type.clone(), l.length);
            }
        }
        let mut pages = alternates(&entry.links);
        // RSS 2.0: a guid is the item's permalink unless it says otherwise.
        let permalink = kind == FeedKind::Rss && !hint.is_some_and(|h| h.guid_not_permalink);
        if let Some(guid) = guid
            .as_ref()
            .filter(|g| permalink && pages.is_empty() && is_web_url(g))
        {
            pages.push(guid.clone());
        }
        pages
    };

    let people = entry.authors.into_iter().map(|p| {
        p.name
            .as_deref()
            .and_then(clean_name)
            .or_else(|| p.email.as_deref().and_then(clean_name))
    });
    let hidden = hint.map(|h| h.authors.clone()).unwrap_or_default();
    let mut authors = dedup(
        people
            .chain(hidden.iter().map(|raw| person_name(raw)))
            .flatten(),
    );
    if authors.is_empty() {
        authors = inherited_authors.to_vec();
    }

    let subjects = hint.map(|h| h.subjects.clone()).unwrap_or_default();
    let terms = entry
        .categories
        .into_iter()
        .map(|c| c.label.and_then(non_empty).unwrap_or(c.term));
    let categories = dedup(terms.chain(subjects).filter_map(non_empty));

    let content = entry.content.and_then(|c| {
        let essence = c.content_type.essence().to_string();
        let is_html = is_html_type(&essence);
        if !is_html && !essence.eq_ignore_ascii_case("text/plain") {
            return None;
        }
        c.body
            .and_then(non_empty)
            .map(|body| RawText { body, is_html })
    });

    let lang = hint
        .and_then(|h| h.lang.clone())
        .or(entry.language)
        .or_else(|| hint.and_then(|h| h.dc_language.clone()))
        .or(json_lang)
        .and_then(non_empty);

    let (published, updated) = dates(entry.published, entry.updated);
    RawEntry {
        guid,
        title: map_text(entry.title),
        links,
        summary: map_text(entry.summary),
        content,
        published,
        updated,
        authors,
        categories,
        lang,
        enclosures,
    }
}

/// feed-rs copies an RSS `pubDate` into `updated`; an `updated` equal to `published` says
/// nothing more, so it is dropped for every format alike. An entry with only an update
/// date keeps `published` empty: normalise decides what to make of it.
fn dates(
    published: Option<DateTime<Utc>>,
    updated: Option<DateTime<Utc>>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    match (published, updated) {
        (Some(p), Some(u)) if p == u => (Some(p), None),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_references_survive_the_sentinel_base() {
        let base = url::Url::parse(RELATIVE_BASE).ok();
        let cases = [
            ("foo/bar", "foo/bar"),
            ("/root/page", "/root/page"),
            ("../up", "../up"),
            ("../../two/up", "../../two/up"),
            ("?q=1", "?q=1"),
            ("#frag", "#frag"),
            ("", "./"),
            ("./", "./"),
            ("page?x=1#y", "page?x=1#y"),
            ("//cdn.example.org/a.mp3", "//cdn.example.org/a.mp3"),
            ("https://example.org/a", "https://example.org/a"),
            ("mailto:contact@example.org", "mailto:contact@example.org"),
            (
                "groupes-pays/burkina-faso/réunion",
                "groupes-pays/burkina-faso/r%C3%A9union",
            ),
        ];
        for (relative, expected) in cases {
            let resolved = base
                .as_ref()
                .and_then(|b| b.join(relative).ok())
                .map(|u| u.to_string());
            assert_eq!(
                resolved.as_deref().map(unresolve).as_deref(),
                Some(expected),
                "{relative}"
            );
        }
    }

    #[test]
    fn person_names() {
        let cases = [
            ("jean@ex.fr (Jean Dupont)", Some("Jean Dupont")),
            ("Jean Dupont «jean@ex.fr»", Some("Jean Dupont")),
            ("Jean Dupont <jean@ex.fr>", Some("Jean Dupont")),
            ("«jean@ex.fr» Jean Dupont", Some("Jean Dupont")),
            ("mailto:jean@ex.fr", Some("jean@ex.fr")),
            ("<jean@ex.fr>", Some("jean@ex.fr")),
            ("Rédaction – contact@ex.fr", Some("Rédaction")),
            ("Cités Unies France", Some("Cités Unies France")),
            ("  ", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(person_name(raw).as_deref(), expected, "{raw}");
        }
    }

    #[test]
    fn equal_updated_is_dropped() {
        let t = DateTime::parse_from_rfc3339("2021-02-15T09:00:00+01:00")
            .ok()
            .map(|d| d.with_timezone(&Utc));
        let later = DateTime::parse_from_rfc3339("2021-02-16T09:00:00+01:00")
            .ok()
            .map(|d| d.with_timezone(&Utc));
        assert_eq!(dates(t, t), (t, None));
        assert_eq!(dates(t, later), (t, later));
        assert_eq!(dates(None, later), (None, later));
    }
}

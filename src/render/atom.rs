//! A channel as Atom 1.0 (RFC 4287): the only module that speaks `atom_syndication`.
//! That crate's defaults are not valid Atom (empty `id` and `title`, `updated` of
//! 1970-01-01), so every `Feed`, `Entry` and `Source` here is built with all of them set,
//! from values that went through the helpers of [`super`].
//!
//! The feed: `id` (the self URL without its query, so archive pages share it as RFC
//! 5005 asks), `title`, `subtitle`, `updated` (newest story or the channel's date),
//! `self`, `alternate`, `hub` and paging links, `xml:lang`. Per entry: `id`, `title`,
//! `updated`, `published`, `alternate` link, authors (the partner when the item names
//! none, since Atom requires an author), categories, `atom:source` naming the partner,
//! plain-text `summary` and `content type="html"` with the credit of other partners.

use std::collections::BTreeMap;

use atom_syndication::extension::Extension;
use atom_syndication::{
    Category, Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Source, Text,
    WriteConfig,
};
use chrono::{DateTime, Utc};

use super::{
    clean, http_url, lang_tag, story_authors, story_categories, story_html, story_link,
    story_summary, story_title, story_updated, with_stylesheet, EntryIds, FeedMeta, RenderError,
    FEED_HISTORY_NS,
};
use crate::model::Story;

/// The channel as an Atom document, the stylesheet instruction atop when set.
pub fn render(meta: &FeedMeta<'_>, stories: &[&Story]) -> Result<String, RenderError> {
    let lang = meta.lang();
    let mut links = Vec::new();
    push_link(
        &mut links,
        "self",
        meta.self_url.as_str(),
        Some("application/atom+xml"),
    );
    push_link(
        &mut links,
        "alternate",
        meta.html_url.as_str(),
        Some("text/html"),
    );
    if let Some(hub) = &meta.hub {
        push_link(&mut links, "hub", hub.as_str(), None);
    }
    for (rel, url) in meta.pages.rels() {
        push_link(&mut links, rel, url.as_str(), Some("application/atom+xml"));
    }

    let mut namespaces = BTreeMap::new();
    let mut extensions = BTreeMap::new();
    if meta.pages.archive {
        namespaces.insert("fh".to_string(), FEED_HISTORY_NS.to_string());
        let mut archive = BTreeMap::new();
        archive.insert(
            "archive".to_string(),
            vec![Extension {
                name: "fh:archive".to_string(),
                ..Extension::default()
            }],
        );
        extensions.insert("fh".to_string(), archive);
    }

    let mut ids = EntryIds::default();
    let entries = stories
        .iter()
        .map(|story| entry(meta, story, &lang, &mut ids))
        .collect();
    let description = clean(meta.channel.description.trim()).into_owned();

    let feed = Feed {
        title: Text::plain(meta.title()),
        id: feed_id(meta),
        updated: fixed(meta.updated_with(stories)),
        links,
        subtitle: (!description.is_empty()).then(|| Text::plain(description)),
        generator: Some(Generator {
            value: "relais".to_string(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
        lang: Some(lang),
        namespaces,
        extensions,
        entries,
        ..Feed::default()
    };
    let config = WriteConfig {
        write_document_declaration: false,
        indent_size: Some(2),
    };
    let bytes = feed
        .write_with_config(Vec::new(), config)
        .map_err(|e| RenderError::Write {
            channel: meta.channel.id.clone(),
            format: "atom",
            message: e.to_string(),
        })?;
    let body = String::from_utf8(bytes).map_err(|e| RenderError::Write {
        channel: meta.channel.id.clone(),
        format: "atom",
        message: e.to_string(),
    })?;
    let xml = format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{body}\n");
    Ok(with_stylesheet(xml, meta.stylesheet.as_deref()))
}

/// An issue of a digest, as its archive feed lists it.
#[derive(Debug, Clone)]
pub struct IssueEntry {
    pub period: String,
    pub subject: String,
    pub sent_at: DateTime<Utc>,
    /// Its page in the archive, absolute.
    pub url: String,
    /// The issue's HTML part (ours, not a partner's: no sanitising needed beyond it
    /// being our own template's output).
    pub html: String,
    pub stories: usize,
}

/// A digest's archive as an Atom feed (`/digests/{id}.atom`): one entry per issue,
/// newest first, the whole issue as content.
pub fn digest_archive(
    id: &str,
    title: &str,
    self_url: &str,
    html_url: &str,
    updated: DateTime<Utc>,
    issues: &[IssueEntry],
) -> Result<String, RenderError> {
    let mut links = Vec::new();
    push_link(&mut links, "self", self_url, Some("application/atom+xml"));
    push_link(&mut links, "alternate", html_url, Some("text/html"));
    let entries = issues
        .iter()
        .map(|i| {
            let mut links = Vec::new();
            push_link(&mut links, "alternate", &i.url, Some("text/html"));
            Entry {
                title: Text::plain(clean(&i.subject).into_owned()),
                id: http_url(&i.url)
                    .unwrap_or_else(|| format!("urn:relais:digest:{id}:{}", i.period)),
                updated: fixed(i.sent_at),
                published: Some(fixed(i.sent_at)),
                authors: vec![Person {
                    name: clean(title).into_owned(),
                    ..Person::default()
                }],
                links,
                summary: Some(Text::plain(format!(
                    "{} article{}",
                    i.stories,
                    if i.stories > 1 { "s" } else { "" }
                ))),
                content: Some(Content {
                    value: Some(clean(&i.html).into_owned()),
                    content_type: Some("html".to_string()),
                    ..Content::default()
                }),
                ..Entry::default()
            }
        })
        .collect();
    let feed = Feed {
        title: Text::plain(clean(title).into_owned()),
        id: http_url(self_url).unwrap_or_else(|| format!("urn:relais:digest:{id}")),
        updated: fixed(
            issues
                .iter()
                .map(|i| i.sent_at)
                .max()
                .unwrap_or(updated)
                .max(updated),
        ),
        links,
        generator: Some(Generator {
            value: "relais".to_string(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
        lang: Some("fr".to_string()),
        entries,
        ..Feed::default()
    };
    let config = WriteConfig {
        write_document_declaration: false,
        indent_size: Some(2),
    };
    let failed = |message: String| RenderError::Write {
        channel: id.to_string(),
        format: "atom",
        message,
    };
    let bytes = feed
        .write_with_config(Vec::new(), config)
        .map_err(|e| failed(e.to_string()))?;
    let body = String::from_utf8(bytes).map_err(|e| failed(e.to_string()))?;
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{body}\n"
    ))
}

/// The self URL without query or fragment: the same for every page of the channel.
fn feed_id(meta: &FeedMeta<'_>) -> String {
    let mut url = meta.self_url.clone();
    url.set_query(None);
    url.set_fragment(None);
    http_url(url.as_str()).unwrap_or_else(|| meta.tag_uri("channel", &meta.channel.id))
}

fn fixed(t: DateTime<Utc>) -> FixedDateTime {
    t.fixed_offset()
}

fn push_link(links: &mut Vec<Link>, rel: &str, href: &str, mime: Option<&str>) {
    if let Some(href) = http_url(href) {
        links.push(Link {
            href,
            rel: rel.to_string(),
            mime_type: mime.map(str::to_string),
            ..Link::default()
        });
    }
}

fn entry(meta: &FeedMeta<'_>, story: &Story, feed_lang: &str, ids: &mut EntryIds) -> Entry {
    let partner = story.item.source.as_deref().map(|s| (s, meta.partner(s)));
    let updated = story_updated(story);

    let mut links = Vec::new();
    if let Some(link) = story_link(story) {
        push_link(&mut links, "alternate", &link, Some("text/html"));
    }
    for e in &story.item.enclosures {
        if let Some(href) = http_url(&e.url) {
            links.push(Link {
                href,
                rel: "enclosure".to_string(),
                mime_type: e
                    .mime
                    .as_deref()
                    .map(|m| clean(m.trim()).into_owned())
                    .filter(|m| !m.is_empty()),
                length: e.length.map(|l| l.to_string()),
                ..Link::default()
            });
        }
    }

    let mut authors: Vec<Person> = story_authors(story)
        .into_iter()
        .map(|name| Person {
            name,
            ..Person::default()
        })
        .collect();
    if authors.is_empty() {
        if let Some((_, p)) = &partner {
            authors.push(Person {
                name: p.title.clone(),
                uri: p.home().map(str::to_string),
                ..Person::default()
            });
        }
    }

    let source = partner.map(|(id, p)| {
        let mut links = Vec::new();
        if let Some(site) = &p.site {
            push_link(&mut links, "alternate", site, Some("text/html"));
        }
        if let Some(feed) = &p.feed {
            push_link(&mut links, "self", feed, None);
        }
        Source {
            id: p
                .feed
                .clone()
                .or_else(|| p.site.clone())
                .unwrap_or_else(|| meta.tag_uri("source", id)),
            title: Text::plain(p.title),
            updated: fixed(updated),
            links,
            ..Source::default()
        }
    });

    // An item in another language than the feed says so on its texts.
    let lang = story
        .item
        .lang
        .as_deref()
        .and_then(lang_tag)
        .filter(|l| !l.eq_ignore_ascii_case(feed_lang));
    let summary = story_summary(story);
    let html = story_html(meta, story);

    Entry {
        title: Text {
            lang: lang.clone(),
            ..Text::plain(story_title(story))
        },
        id: ids.of(meta, story),
        updated: fixed(updated),
        published: Some(fixed(story.item.published)),
        authors,
        categories: story_categories(story)
            .into_iter()
            .map(|term| Category {
                term,
                ..Category::default()
            })
            .collect(),
        links,
        source,
        summary: (!summary.is_empty()).then(|| Text {
            lang: lang.clone(),
            ..Text::plain(summary)
        }),
        content: (!html.is_empty()).then(|| Content {
            lang,
            value: Some(html),
            content_type: Some("html".to_string()),
            ..Content::default()
        }),
        ..Entry::default()
    }
}

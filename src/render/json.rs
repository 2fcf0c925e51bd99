//! A channel as JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>), written with serde.
//! JSON could carry any character, but the same [`super::clean`] applies so that every
//! format shows the same text.
//!
//! Top level: `version`, `title`, `home_page_url`, `feed_url`, `description`,
//! `language`, `authors` (the channel), `hubs` (WebSub), `next_url` (older items:
//! [`super::PageLinks::next`], else `prev_archive`). Per item: `id`, `url`, `title`,
//! `content_html` (with the credit line), `summary`, `date_published`, `date_modified`,
//! `authors` (the partner when the item names none), `tags`, `language` when it differs
//! from the feed's, `attachments`, and the extension `_relais` with the primary
//! `source` and the other appearances in `also` (`source`, `title`, `url`).

use serde::Serialize;

use super::{
    also_partners, clean, http_url, lang_tag, rfc3339, story_authors, story_categories, story_html,
    story_link, story_summary, story_title, story_updated, Credit, EntryIds, FeedMeta, RenderError,
};
use crate::model::Story;

pub const VERSION: &str = "https://jsonfeed.org/version/1.1";

#[derive(Serialize)]
struct JsonFeed {
    version: &'static str,
    title: String,
    home_page_url: String,
    feed_url: String,
    description: String,
    language: String,
    authors: Vec<Author>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_url: Option<String>,
    items: Vec<JsonItem>,
}

#[derive(Serialize)]
struct Author {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

#[derive(Serialize)]
struct Hub {
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
}

#[derive(Serialize)]
struct JsonItem {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    title: String,
    content_html: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    summary: String,
    date_published: String,
    date_modified: String,
    authors: Vec<Author>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Attachment>,
    #[serde(rename = "_relais")]
    relais: Extension,
}

#[derive(Serialize)]
struct Attachment {
    url: String,
    mime_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
}

#[derive(Serialize)]
struct Extension {
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<Credit>,
    also: Vec<Credit>,
}

impl Serialize for Credit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shape<'a> {
            source: &'a str,
            title: &'a str,
            url: Option<&'a str>,
        }
        Shape {
            source: &self.source,
            title: &self.title,
            url: self.link.as_deref(),
        }
        .serialize(s)
    }
}

/// The channel as a JSON Feed document (pretty-printed, ending with a newline).
pub fn render(meta: &FeedMeta<'_>, stories: &[&Story]) -> Result<String, RenderError> {
    let lang = meta.lang();
    let mut ids = EntryIds::default();
    let items = stories
        .iter()
        .map(|story| item(meta, story, &lang, &mut ids))
        .collect();
    let feed = JsonFeed {
        version: VERSION,
        title: meta.title(),
        home_page_url: http_url(meta.html_url.as_str()).unwrap_or_default(),
        feed_url: http_url(meta.self_url.as_str()).unwrap_or_default(),
        description: meta.description(),
        language: lang.clone(),
        authors: vec![Author {
            name: meta.title(),
            url: http_url(meta.html_url.as_str()),
        }],
        hubs: meta
            .hub
            .as_ref()
            .and_then(|h| http_url(h.as_str()))
            .map(|url| Hub {
                kind: "WebSub",
                url,
            })
            .into_iter()
            .collect(),
        next_url: meta
            .pages
            .next
            .as_ref()
            .or(meta.pages.prev_archive.as_ref())
            .and_then(|u| http_url(u.as_str())),
        items,
    };
    let mut out = serde_json::to_string_pretty(&feed).map_err(|e| RenderError::Write {
        channel: meta.channel.id.clone(),
        format: "json",
        message: e.to_string(),
    })?;
    out.push('\n');
    Ok(out)
}

fn item(meta: &FeedMeta<'_>, story: &Story, feed_lang: &str, ids: &mut EntryIds) -> JsonItem {
    let partner = story.item.source.as_deref().map(|s| (s, meta.partner(s)));
    let mut authors: Vec<Author> = story_authors(story)
        .into_iter()
        .map(|name| Author { name, url: None })
        .collect();
    if authors.is_empty() {
        if let Some((_, p)) = &partner {
            authors.push(Author {
                name: p.title.clone(),
                url: p.home().map(str::to_string),
            });
        }
    }
    JsonItem {
        id: ids.of(meta, story),
        url: story_link(story),
        title: story_title(story),
        content_html: story_html(meta, story),
        summary: story_summary(story),
        date_published: rfc3339(story.item.published),
        date_modified: rfc3339(story_updated(story)),
        authors,
        tags: story_categories(story),
        language: story
            .item
            .lang
            .as_deref()
            .and_then(lang_tag)
            .filter(|l| !l.eq_ignore_ascii_case(feed_lang)),
        attachments: story
            .item
            .enclosures
            .iter()
            .filter_map(|e| {
                Some(Attachment {
                    url: http_url(&e.url)?,
                    mime_type: e
                        .mime
                        .as_deref()
                        .map(|m| clean(m.trim()).into_owned())
                        .filter(|m| !m.is_empty())
                        .unwrap_or_else(|| "application/octet-stream".to_string()),
                    size_in_bytes: e.length,
                })
            })
            .collect(),
        relais: Extension {
            source: partner.map(|(id, p)| Credit {
                source: clean(id).into_owned(),
                link: story
                    .item
                    .url
                    .as_deref()
                    .and_then(http_url)
                    .or_else(|| p.home().map(str::to_string)),
                title: p.title,
            }),
            also: also_partners(meta, story),
        },
    }
}

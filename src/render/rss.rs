//! A channel as RSS 2.0: the only module that speaks the `rss` crate. Every value handed
//! to its writer has been through the helpers of [`super`] (the writer checks nothing).
//!
//! Per item: `title`, `link`, `description` (the HTML body with the « Aussi publié
//! par » credit, in CDATA that the writer splits around any `]]>`), `guid` (a permalink
//! only when it is the item's own URL, else `isPermaLink="false"` with the entry id),
//! `pubDate` in RFC 822, `<source url>` naming the partner (its feed, else its site;
//! omitted when it has neither over http), `dc:creator` per author, `category`, and the
//! first http(s) enclosure. The channel carries `atom:link` `self`, `hub` and the
//! RFC 5005 paging links.

use std::collections::BTreeMap;

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::extension::Extension;

use super::{
    clean, http_url, rfc822, story_authors, story_categories, story_html, story_link, story_title,
    with_stylesheet, EntryIds, FeedMeta, RenderError, FEED_HISTORY_NS,
};
use crate::model::Story;

/// The channel as an RSS 2.0 document, the stylesheet instruction atop when set.
pub fn render(meta: &FeedMeta<'_>, stories: &[&Story]) -> Result<String, RenderError> {
    let updated = meta.updated_with(stories);
    let mut links = vec![atom_link(
        "self",
        meta.self_url.as_str(),
        Some("application/rss+xml"),
    )];
    if let Some(hub) = &meta.hub {
        links.push(atom_link("hub", hub.as_str(), None));
    }
    for (rel, url) in meta.pages.rels() {
        links.push(atom_link(rel, url.as_str(), Some("application/rss+xml")));
    }
    // Links that did not survive http_url() are dropped rather than written empty.
    links.retain(|l| !l.href.is_empty());

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
    let items = stories
        .iter()
        .map(|story| item(meta, story, &mut ids))
        .collect();

    let channel = rss::Channel {
        title: meta.title(),
        link: http_url(meta.html_url.as_str()).unwrap_or_default(),
        description: meta.description(),
        language: Some(meta.lang()),
        last_build_date: Some(rfc822(updated)),
        generator: Some(format!("relais {}", env!("CARGO_PKG_VERSION"))),
        atom_ext: Some(AtomExtension { links }),
        namespaces,
        extensions,
        items,
        ..rss::Channel::default()
    };
    let bytes = channel
        .pretty_write_to(Vec::new(), b' ', 2)
        .map_err(|e| RenderError::Write {
            channel: meta.channel.id.clone(),
            format: "rss",
            message: e.to_string(),
        })?;
    let xml = String::from_utf8(bytes).map_err(|e| RenderError::Write {
        channel: meta.channel.id.clone(),
        format: "rss",
        message: e.to_string(),
    })?;
    let mut xml = with_stylesheet(xml, meta.stylesheet.as_deref());
    xml.push('\n');
    Ok(xml)
}

fn atom_link(rel: &str, href: &str, mime: Option<&str>) -> Link {
    Link {
        href: http_url(href).unwrap_or_default(),
        rel: rel.to_string(),
        mime_type: mime.map(str::to_string),
        ..Link::default()
    }
}

fn item(meta: &FeedMeta<'_>, story: &Story, ids: &mut EntryIds) -> rss::Item {
    let link = story_link(story);
    let id = ids.of(meta, story);
    let guid = rss::Guid {
        permalink: link.as_deref() == Some(id.as_str()),
        value: id,
    };
    let source = story.item.source.as_deref().and_then(|s| {
        let partner = meta.partner(s);
        let url = partner.feed.or(partner.site)?;
        Some(rss::Source {
            url,
            title: Some(partner.title),
        })
    });
    let authors = story_authors(story);
    let dublin_core_ext = (!authors.is_empty()).then(|| DublinCoreExtension {
        creators: authors,
        ..DublinCoreExtension::default()
    });
    let enclosure = story.item.enclosures.iter().find_map(|e| {
        Some(rss::Enclosure {
            url: http_url(&e.url)?,
            length: e.length.unwrap_or(0).to_string(),
            mime_type: e
                .mime
                .as_deref()
                .map(|m| clean(m.trim()).into_owned())
                .filter(|m| !m.is_empty() && !m.contains(char::is_whitespace))
                .unwrap_or_else(|| "application/octet-stream".to_string()),
        })
    });
    let html = story_html(meta, story);
    rss::Item {
        title: Some(story_title(story)),
        link,
        description: (!html.is_empty()).then_some(html),
        categories: story_categories(story)
            .into_iter()
            .map(|name| rss::Category { name, domain: None })
            .collect(),
        guid: Some(guid),
        pub_date: Some(rfc822(story.item.published)),
        source,
        enclosure,
        dublin_core_ext,
        ..rss::Item::default()
    }
}

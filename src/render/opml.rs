//! OPML 2.0 lists: the sources, for operators (`/sources.opml`: what relais polls, to
//! audit or to move to another aggregator), and the channels' feeds, for subscribers
//! (`/channels.opml`: import them into a reader in one go). Hand-written XML: the
//! documents are flat, and every value goes through [`super::escape`] after
//! [`super::one_line`] or [`super::http_url`].

use std::fmt::Write as _;

use url::Url;

use super::{channel_page_url, escape, feed_url, http_url, lang_tag, one_line, FeedFormat};
use crate::config::{Channel, Location, Source};
use crate::model::SourceState;

/// The sources as OPML: one `outline` each, `type="rss"` with `xmlUrl` for sources
/// polled over http(s) (the URL a permanent redirect led to, when `states` knows one),
/// `htmlUrl` from the configured site, tags as OPML categories (`/formation,/europe`),
/// and the language. Local-file sources have no `xmlUrl` to give and are listed as
/// plain outlines. Paused sources are listed too: they are still part of the network.
pub fn sources(sources: &[Source], states: &[SourceState], base_url: &Url) -> String {
    let host = base_url.host_str().unwrap_or("relais");
    let mut out = head(&format!("Sources du réseau — {host}"));
    for source in sources {
        let title = one_line(&source.title, 300).unwrap_or_else(|| source.id.clone());
        let moved = states
            .iter()
            .find(|s| s.id == source.id)
            .and_then(|s| s.permanent_url.as_deref())
            .and_then(http_url);
        let xml_url = match &source.location {
            Location::Http(u) => moved.or_else(|| http_url(u.as_str())),
            Location::File(_) => None,
        };
        out.push_str("    <outline");
        if xml_url.is_some() {
            out.push_str(" type=\"rss\"");
        }
        attr(&mut out, "text", Some(&title));
        attr(&mut out, "title", Some(&title));
        attr(&mut out, "xmlUrl", xml_url.as_deref());
        attr(
            &mut out,
            "htmlUrl",
            source
                .site
                .as_ref()
                .and_then(|u| http_url(u.as_str()))
                .as_deref(),
        );
        let tags: Vec<String> = source
            .tags
            .iter()
            .filter_map(|t| one_line(t, 100))
            // `,` separates categories and `/` their levels in OPML.
            .map(|t| format!("/{}", t.replace([',', '/'], " ")))
            .collect();
        attr(
            &mut out,
            "category",
            (!tags.is_empty()).then(|| tags.join(",")).as_deref(),
        );
        attr(
            &mut out,
            "language",
            source.lang.as_deref().and_then(lang_tag).as_deref(),
        );
        out.push_str("/>\n");
    }
    out.push_str(TAIL);
    out
}

/// The channels as OPML, one `outline type="rss"` per channel pointing at its feed in
/// `format` (one format only: a reader importing the file would otherwise subscribe to
/// each channel several times), with the channel page as `htmlUrl`.
pub fn channels(channels: &[Channel], base_url: &Url, format: FeedFormat) -> String {
    let host = base_url.host_str().unwrap_or("relais");
    let mut out = head(&format!("Chaînes de veille — {host}"));
    for channel in channels {
        let title = one_line(&channel.title, 300).unwrap_or_else(|| channel.id.clone());
        out.push_str("    <outline type=\"rss\"");
        attr(&mut out, "text", Some(&title));
        attr(&mut out, "title", Some(&title));
        attr(
            &mut out,
            "xmlUrl",
            http_url(feed_url(base_url, &channel.id, format).as_str()).as_deref(),
        );
        attr(
            &mut out,
            "htmlUrl",
            http_url(channel_page_url(base_url, &channel.id).as_str()).as_deref(),
        );
        attr(
            &mut out,
            "description",
            one_line(&channel.description, 1000).as_deref(),
        );
        attr(
            &mut out,
            "language",
            channel.lang.as_deref().and_then(lang_tag).as_deref(),
        );
        out.push_str("/>\n");
    }
    out.push_str(TAIL);
    out
}

const TAIL: &str = "  </body>\n</opml>\n";

fn head(title: &str) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n  <head>\n");
    let _ = writeln!(
        out,
        "    <title>{}</title>",
        escape(&one_line(title, 300).unwrap_or_default())
    );
    out.push_str("  </head>\n  <body>\n");
    out
}

fn attr(out: &mut String, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        let _ = write!(out, " {name}=\"{}\"", escape(v));
    }
}

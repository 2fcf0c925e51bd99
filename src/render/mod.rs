//! Render: a channel's stories as the documents subscribers fetch — RSS 2.0 ([`rss`]),
//! Atom 1.0 ([`atom`]), JSON Feed 1.1 ([`json`]) — the OPML lists ([`opml`]) and the HTML
//! pages ([`html`]). Pure:
//! every function maps its arguments to bytes, reads no clock and does no I/O, so the
//! server can cache the result per channel and `relais export` writes the same bytes.
//!
//! The writers of the `rss` and `atom_syndication` crates escape markup but pass through
//! characters XML forbids (NUL, U+000B, U+FFFE…) and write any link verbatim
//! (`javascript:` included). So every string handed to a writer goes through this
//! module's helpers first: [`clean`] for text, [`http_url`] for links; stories are read
//! only through the accessors below, which apply them.
//!
//! What every format says the same way, decided here once:
//! - **Entry id**: the publisher's own id when it is an absolute `http(s)`, `urn` or `tag`
//!   IRI (RFC 4287 asks a republished entry to keep its id, and a reader following both
//!   the partner and the channel then sees one entry); otherwise a `tag:` URI built from
//!   the `base_url` host and the story id. Unique within a document.
//! - **Link**: the primary item's URL, else the first other appearance's; only absolute
//!   http(s) URLs, never anything else.
//! - **Credit**: the HTML body ends with « Aussi publié par : X, Y » naming (and linking)
//!   the other partners that published the story, since every reader displays the body
//!   while few show RSS `<source>` or Atom `<source>`. JSON Feed also carries them in
//!   `_relais.also`.
//! - **Body**: the item's `content_html`, sanitised again (the store may come from a
//!   restored file), else its plain-text summary escaped into a paragraph.
//! - **Language**: the channel's `lang`, else `fr`.

pub mod atom;
pub mod digest;
pub mod html;
pub mod json;
pub mod opml;
pub mod rss;

use std::borrow::Cow;
use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use url::Url;

use crate::config::{Channel, Location, Source};
use crate::model::Story;

/// The XSL stylesheet that makes a browser show the RSS and Atom feeds as a French page;
/// to be served at [`stylesheet_url`]. Self-contained: no script, no external asset.
pub const FEED_XSL: &str = include_str!("feed.xsl");

/// The language of channels that do not set one.
pub const DEFAULT_LANG: &str = "fr";

/// A feed could not be written. Writing goes to memory, so this means a bug in a
/// writer rather than bad input; it names the channel.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("channel `{channel}`: cannot write the {format} feed: {message}")]
    Write {
        channel: String,
        format: &'static str,
        message: String,
    },
}

/// The three feed formats of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedFormat {
    Rss,
    Atom,
    Json,
}

impl FeedFormat {
    pub const ALL: [FeedFormat; 3] = [FeedFormat::Rss, FeedFormat::Atom, FeedFormat::Json];

    /// The file extension in `/feeds/{id}.{ext}`.
    pub fn extension(self) -> &'static str {
        match self {
            FeedFormat::Rss => "rss",
            FeedFormat::Atom => "atom",
            FeedFormat::Json => "json",
        }
    }

    /// The media type to announce in `<link rel="alternate" type>` and to serve to feed
    /// readers. Browsers apply the XSL stylesheet only to documents served as
    /// `application/xml` or `text/xml` (Chromium shows `application/atom+xml` as plain
    /// text), so a server may answer those to requests that accept `text/html`.
    pub fn media_type(self) -> &'static str {
        match self {
            FeedFormat::Rss => "application/rss+xml",
            FeedFormat::Atom => "application/atom+xml",
            FeedFormat::Json => "application/feed+json",
        }
    }

    /// A name for people (« S'abonner en Atom »).
    pub fn label(self) -> &'static str {
        match self {
            FeedFormat::Rss => "RSS",
            FeedFormat::Atom => "Atom",
            FeedFormat::Json => "JSON Feed",
        }
    }
}

/// The channel's feed in `format`: [`rss::render`], [`atom::render`] or [`json::render`].
pub fn feed(
    format: FeedFormat,
    meta: &FeedMeta<'_>,
    stories: &[&Story],
) -> Result<String, RenderError> {
    match format {
        FeedFormat::Rss => rss::render(meta, stories),
        FeedFormat::Atom => atom::render(meta, stories),
        FeedFormat::Json => json::render(meta, stories),
    }
}

/// `path` (relative, no leading slash) under `base_url`, keeping the base's own path
/// (`https://example.org/veille` + `feeds/a.rss` → `https://example.org/veille/feeds/a.rss`).
pub fn under(base_url: &Url, path: &str) -> Url {
    let mut base = base_url.clone();
    base.set_query(None);
    base.set_fragment(None);
    if !base.path().ends_with('/') {
        let with_slash = format!("{}/", base.path());
        base.set_path(&with_slash);
    }
    base.join(path).unwrap_or(base)
}

/// `/feeds/{id}.{rss,atom,json}` under `base_url`.
pub fn feed_url(base_url: &Url, channel_id: &str, format: FeedFormat) -> Url {
    under(
        base_url,
        &format!("feeds/{channel_id}.{}", format.extension()),
    )
}

/// `/channels/{id}` under `base_url`: the channel's HTML page.
pub fn channel_page_url(base_url: &Url, channel_id: &str) -> Url {
    under(base_url, &format!("channels/{channel_id}"))
}

/// `/assets/feed.xsl` under `base_url`, where [`FEED_XSL`] is to be served.
pub fn stylesheet_url(base_url: &Url) -> Url {
    under(base_url, "assets/feed.xsl")
}

/// The links of RFC 5005 (feed paging and archiving); each is written as an
/// `atom:link` of that `rel` in RSS and Atom. JSON Feed has only `next_url` (older
/// items): it gets `next`, else `prev_archive`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageLinks {
    pub first: Option<Url>,
    pub last: Option<Url>,
    pub previous: Option<Url>,
    pub next: Option<Url>,
    pub current: Option<Url>,
    pub prev_archive: Option<Url>,
    pub next_archive: Option<Url>,
    /// The document is an archive page (`<fh:archive/>`): its content will not change.
    pub archive: bool,
}

impl PageLinks {
    /// Every link that is set, with its `rel`, in a fixed order.
    pub fn rels(&self) -> impl Iterator<Item = (&'static str, &Url)> {
        [
            ("first", &self.first),
            ("last", &self.last),
            ("previous", &self.previous),
            ("next", &self.next),
            ("current", &self.current),
            ("prev-archive", &self.prev_archive),
            ("next-archive", &self.next_archive),
        ]
        .into_iter()
        .filter_map(|(rel, url)| url.as_ref().map(|u| (rel, u)))
    }
}

/// The namespace of RFC 5005's `<fh:archive/>`.
pub const FEED_HISTORY_NS: &str = "http://purl.org/syndication/history/1.0";

/// What a feed says about itself, beyond its stories.
#[derive(Debug, Clone)]
pub struct FeedMeta<'a> {
    pub channel: &'a Channel,
    /// The configured sources: partner titles, sites and feed URLs for credits.
    pub sources: &'a [Source],
    /// The public base URL (`[server] base_url`): tag URIs are minted from its host.
    pub base_url: &'a Url,
    /// This document's own absolute URL (`rel="self"`, JSON `feed_url`).
    pub self_url: Url,
    /// The channel's HTML page (`rel="alternate"`, RSS `<link>`, JSON `home_page_url`).
    pub html_url: Url,
    /// The WebSub hub, advertised as `rel="hub"` (JSON Feed: `hubs`).
    pub hub: Option<Url>,
    pub pages: PageLinks,
    /// When the channel last changed. The feed's date is the later of this and its
    /// newest story, so it is never 1970 nor older than what it lists.
    pub updated: DateTime<Utc>,
    /// `href` of the `<?xml-stylesheet?>` written atop RSS and Atom; `None` for none.
    pub stylesheet: Option<String>,
}

impl<'a> FeedMeta<'a> {
    /// The metadata of `channel`'s feed in `format` at the standard routes under
    /// `base_url`, with the stylesheet at its root-relative path (XSLT must come from
    /// the document's own origin, whatever host name the reader used).
    pub fn new(
        channel: &'a Channel,
        sources: &'a [Source],
        base_url: &'a Url,
        format: FeedFormat,
        updated: DateTime<Utc>,
    ) -> FeedMeta<'a> {
        FeedMeta {
            channel,
            sources,
            base_url,
            self_url: feed_url(base_url, &channel.id, format),
            html_url: channel_page_url(base_url, &channel.id),
            hub: None,
            pages: PageLinks::default(),
            updated,
            stylesheet: Some(stylesheet_url(base_url).path().to_string()),
        }
    }

    /// The feed's date: the later of `updated` and the newest story's.
    pub fn updated_with(&self, stories: &[&Story]) -> DateTime<Utc> {
        newest(stories).map_or(self.updated, |n| n.max(self.updated))
    }

    /// The channel's language tag, `fr` when unset or unusable.
    pub fn lang(&self) -> String {
        self.channel
            .lang
            .as_deref()
            .and_then(lang_tag)
            .unwrap_or_else(|| DEFAULT_LANG.to_string())
    }

    pub fn title(&self) -> String {
        one_line(&self.channel.title, 300).unwrap_or_else(|| self.channel.id.clone())
    }

    /// The channel description, else its title (RSS requires a description).
    pub fn description(&self) -> String {
        let d = clean(self.channel.description.trim()).into_owned();
        if d.is_empty() {
            self.title()
        } else {
            d
        }
    }

    /// The partner behind a source id.
    pub fn partner(&self, source: &str) -> Partner {
        let configured = self.sources.iter().find(|s| s.id == source);
        let title = configured
            .and_then(|s| one_line(&s.title, 200))
            .unwrap_or_else(|| clean(source).into_owned());
        let site = configured
            .and_then(|s| s.site.as_ref())
            .and_then(|u| http_url(u.as_str()));
        let feed = configured.and_then(|s| match &s.location {
            Location::Http(u) => http_url(u.as_str()),
            Location::File(_) => None,
        });
        Partner { title, site, feed }
    }

    /// A `tag:` URI under the base URL's host, for things without an IRI of their own.
    pub fn tag_uri(&self, kind: &str, id: &str) -> String {
        let host = self.base_url.host_str().unwrap_or("relais.invalid");
        format!("tag:{host},2025:{kind}/{}", percent_encode_tag(id))
    }
}

/// A partner as credited in a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    pub title: String,
    /// Its web site, when configured and http(s).
    pub site: Option<String>,
    /// Its feed, when fetched over http(s).
    pub feed: Option<String>,
}

impl Partner {
    /// Where to send a reader who wants the partner: its site, else its feed.
    pub fn home(&self) -> Option<&str> {
        self.site.as_deref().or(self.feed.as_deref())
    }
}

/// The newest date among the stories (`updated` when later than `published`).
pub fn newest(stories: &[&Story]) -> Option<DateTime<Utc>> {
    stories.iter().map(|s| story_updated(s)).max()
}

/// `s` without the characters XML 1.0 forbids (C0 controls but tab, LF and CR; U+FFFE,
/// U+FFFF) nor the C1 controls it discourages. Borrowed when nothing had to go.
pub fn clean(s: &str) -> Cow<'_, str> {
    fn allowed(c: char) -> bool {
        match c {
            '\t' | '\n' | '\r' => true,
            '\u{0}'..='\u{1F}' | '\u{7F}'..='\u{9F}' | '\u{FFFE}' | '\u{FFFF}' => false,
            _ => true,
        }
    }
    if s.chars().all(allowed) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|&c| allowed(c)).collect())
    }
}

/// `s` as an absolute http(s) URL in its serialised (percent-encoded) form, or `None`
/// for anything else: relative, `javascript:`, `data:`, unparseable.
pub fn http_url(s: &str) -> Option<String> {
    // Not cleaned first: a link with a control character in it is refused, not repaired.
    // What the url crate accepts it serialises percent-encoded, so the result is clean.
    let url = Url::parse(s.trim()).ok()?;
    let ok =
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty());
    ok.then(|| url.to_string())
}

/// `s` cleaned, whitespace runs collapsed to one space, cut to `max` characters (then
/// ended with an ellipsis); `None` when nothing is left.
pub fn one_line(s: &str, max: usize) -> Option<String> {
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut count = 0;
    for word in clean(s).split_whitespace() {
        if count > 0 {
            out.push(' ');
            count += 1;
        }
        for c in word.chars() {
            if count >= max {
                out.truncate(out.trim_end().len());
                out.push('…');
                return Some(out);
            }
            out.push(c);
            count += 1;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A language tag reduced to what BCP 47 allows (letters, digits, `-`), `_` read as `-`.
pub fn lang_tag(s: &str) -> Option<String> {
    let tag = s.trim().replace('_', "-");
    let ok = !tag.is_empty()
        && tag.len() <= 35
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !tag.starts_with('-');
    ok.then_some(tag)
}

/// Escape for XML and HTML text and attribute values alike.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// RFC 822 (as RFC 1123 writes it) in GMT, the form RSS 2.0 asks for.
pub fn rfc822(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// RFC 3339 in UTC, to the second.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The story's title for a feed: one line, at most 300 characters, never empty.
pub fn story_title(story: &Story) -> String {
    one_line(&story.item.title, 300).unwrap_or_else(|| "(sans titre)".to_string())
}

/// The story's link: the primary item's URL, else another appearance's; http(s) only.
pub fn story_link(story: &Story) -> Option<String> {
    story.item.url.as_deref().and_then(http_url).or_else(|| {
        story
            .also
            .iter()
            .find_map(|a| a.url.as_deref().and_then(http_url))
    })
}

/// The later of the primary item's `published` and `updated`.
pub fn story_updated(story: &Story) -> DateTime<Utc> {
    story
        .item
        .updated
        .map_or(story.item.published, |u| u.max(story.item.published))
}

/// The plain-text summary, cleaned; empty when there is none.
pub fn story_summary(story: &Story) -> String {
    clean(story.item.summary.trim()).into_owned()
}

/// Authors, cleaned, empty ones dropped.
pub fn story_authors(story: &Story) -> Vec<String> {
    story
        .item
        .authors
        .iter()
        .filter_map(|a| one_line(a, 200))
        .collect()
}

/// Categories, cleaned, empty and repeated ones dropped.
pub fn story_categories(story: &Story) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in &story.item.categories {
        if let Some(c) = one_line(c, 200) {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

/// Another partner that published the story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credit {
    /// The source id.
    pub source: String,
    pub title: String,
    /// Its appearance's URL, else the partner's site or feed.
    pub link: Option<String>,
}

/// The other partners that published the story, in appearance order, each partner once
/// and never the primary's.
pub fn also_partners(meta: &FeedMeta<'_>, story: &Story) -> Vec<Credit> {
    let primary = story.item.source.as_deref();
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for a in &story.also {
        if Some(a.source.as_str()) == primary || seen.contains(&a.source.as_str()) {
            continue;
        }
        seen.push(&a.source);
        let partner = meta.partner(&a.source);
        let link = a
            .url
            .as_deref()
            .and_then(http_url)
            .or_else(|| partner.home().map(str::to_string));
        out.push(Credit {
            source: clean(&a.source).into_owned(),
            title: partner.title,
            link,
        });
    }
    out
}

/// The HTML body, never empty: sanitised content (else the summary, else the title, as
/// a paragraph), then the credit of the other partners.
///
/// Content is sanitised again here although normalise already did: the store can also be
/// filled by `relais restore` from a file, and what subscribers' readers display must
/// not depend on that file being honest. Rendering is cached, so this costs once per
/// change.
pub fn story_html(meta: &FeedMeta<'_>, story: &Story) -> String {
    let mut html = match story.item.content_html.as_deref().map(str::trim) {
        Some(content) if !content.is_empty() => {
            let base = story.item.url.as_deref().and_then(|u| Url::parse(u).ok());
            clean(&crate::normalise::sanitize::sanitize_html(
                content,
                base.as_ref(),
            ))
            .into_owned()
        }
        _ => {
            // Never empty: Atom needs content when there is no link, JSON Feed always.
            let summary = story_summary(story);
            let text = if summary.is_empty() {
                story_title(story)
            } else {
                summary
            };
            format!("<p>{}</p>", escape(&text))
        }
    };
    let also = also_partners(meta, story);
    if !also.is_empty() {
        let names: Vec<String> = also
            .iter()
            .map(|c| match &c.link {
                Some(l) => format!("<a href=\"{}\">{}</a>", escape(l), escape(&c.title)),
                None => escape(&c.title),
            })
            .collect();
        html.push_str(&format!("<p>Aussi publié par : {}</p>", names.join(", ")));
    }
    html
}

/// Entry ids of one document, kept unique.
#[derive(Debug, Default)]
pub struct EntryIds {
    used: HashSet<String>,
}

impl EntryIds {
    /// The story's entry id (see the module doc), unique within this document.
    pub fn of(&mut self, meta: &FeedMeta<'_>, story: &Story) -> String {
        let own = publisher_iri(&story.item.id);
        let id = match own {
            Some(id) if !self.used.contains(&id) => id,
            _ => meta.tag_uri("story", &story.id),
        };
        self.used.insert(id.clone());
        id
    }
}

/// The publisher's id when it is an absolute IRI worth keeping.
fn publisher_iri(id: &str) -> Option<String> {
    let id = id.trim();
    if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let url = Url::parse(id).ok()?;
    match url.scheme() {
        "http" | "https" => http_url(id),
        "urn" | "tag" => Some(clean(id).into_owned()),
        _ => None,
    }
}

/// Percent-encode what may not appear in the specific part of a tag URI.
fn percent_encode_tag(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
                    | b'/'
            );
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Put `<?xml-stylesheet?>` right after the XML declaration that starts `xml`.
fn with_stylesheet(xml: String, href: Option<&str>) -> String {
    let Some(href) = href else {
        return xml;
    };
    let pi = format!(
        "<?xml-stylesheet type=\"text/xsl\" href=\"{}\"?>\n",
        // escape() turns `>` into `&gt;`, so the value cannot close the instruction.
        escape(&clean(href))
    );
    let at = if xml.starts_with("<?xml ") {
        xml.find("?>").map_or(0, |i| i + 2)
    } else {
        0
    };
    let (decl, rest) = xml.split_at(at);
    let mut out = String::with_capacity(xml.len() + pi.len() + 1);
    out.push_str(decl);
    if at > 0 {
        out.push('\n');
    }
    out.push_str(&pi);
    out.push_str(rest.trim_start_matches('\n'));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_drops_what_xml_forbids() {
        assert_eq!(
            clean("a\u{0}b\u{B}c\u{FFFE}d\u{FFFF}\u{85}e\tf\ng"),
            "abcde\tf\ng"
        );
        assert!(matches!(clean("déjà « vu »"), Cow::Borrowed(_)));
    }

    #[test]
    fn only_absolute_http_links_survive() {
        let cases = [
            ("https://example.org/a b", Some("https://example.org/a%20b")),
            ("  http://EXAMPLE.org  ", Some("http://example.org/")),
            ("javascript:alert(1)", None),
            ("JaVaScRiPt:alert(1)", None),
            ("data:text/html,x", None),
            ("/relative", None),
            ("mailto:a@example.org", None),
            ("https://\u{0}example.org/", None),
            (
                "https://example.org/a\u{FFFE}b\u{0}c\u{B}d",
                Some("https://example.org/a%EF%BF%BEb%00c%0Bd"),
            ),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(http_url(input).as_deref(), want, "{input:?}");
        }
    }

    #[test]
    fn urls_keep_the_base_path() {
        let base = Url::parse("https://example.org/veille").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            feed_url(&base, "c", FeedFormat::Atom).as_str(),
            "https://example.org/veille/feeds/c.atom"
        );
        assert_eq!(stylesheet_url(&base).path(), "/veille/assets/feed.xsl");
        let root = Url::parse("https://example.org").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            channel_page_url(&root, "c").as_str(),
            "https://example.org/channels/c"
        );
    }

    #[test]
    fn one_line_collapses_and_cuts() {
        assert_eq!(one_line("  a \n b\u{0} ", 10).as_deref(), Some("a b"));
        assert_eq!(one_line("abcdef", 3).as_deref(), Some("abc…"));
        assert_eq!(one_line("ab cd", 3).as_deref(), Some("ab…"));
        assert_eq!(one_line("ab cd", 5).as_deref(), Some("ab cd"));
        assert_eq!(one_line(" \u{B} ", 3), None);
    }

    #[test]
    fn publisher_ids_kept_only_when_iris() {
        let cases = [
            (
                "https://cuf.example.org/a",
                Some("https://cuf.example.org/a"),
            ),
            ("urn:uuid:1234", Some("urn:uuid:1234")),
            ("tag:example.org,2024:1", Some("tag:example.org,2024:1")),
            ("ciedel-actu-0431", None),
            ("javascript:alert(1)", None),
            ("https://a.example/ b", None),
        ];
        for (id, want) in cases {
            assert_eq!(publisher_iri(id).as_deref(), want, "{id:?}");
        }
        assert_eq!(percent_encode_tag("a b/é?#"), "a%20b/%C3%A9%3F%23");
    }

    #[test]
    fn stylesheet_goes_after_the_declaration() {
        let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss/>".to_string();
        assert_eq!(
            with_stylesheet(xml, Some("/assets/feed.xsl?a=1&b=\"2\"")),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
             <?xml-stylesheet type=\"text/xsl\" href=\"/assets/feed.xsl?a=1&amp;b=&quot;2&quot;\"?>\n<rss/>"
        );
    }
}

//! Publish: every document relais hands out — the index and channel pages, each
//! channel's feeds, the OPML lists, the stylesheets — rendered from the store, compressed
//! once, given validators, and cached until what they show changes. No HTTP types here:
//! the server maps requests onto [`Publisher::document`] and `respond`, and
//! `relais export` writes the very same bytes to files.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use crate::config::{Channel, Config};
use crate::curate::Curator;
use crate::model::{SourceState, Story};
use crate::render::html::{self, ChannelSummary, PageContext, Pagination, SourceRow};
use crate::render::{self, opml, FeedFormat, FeedMeta, PageLinks};
use crate::store::{Store, StoreError};

/// A document relais serves, named by what it is rather than by its URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Doc {
    Index,
    /// A channel's HTML page; page 1 is the newest.
    Channel {
        id: String,
        page: usize,
    },
    Feed {
        id: String,
        format: FeedFormat,
        page: usize,
    },
    SourcesOpml,
    ChannelsOpml,
    Stylesheet,
    FeedXsl,
    /// `/digests/{id}/`: the issues a digest sent, newest first.
    DigestArchive {
        id: String,
    },
    /// `/digests/{id}/{period}`: one issue, the HTML part as it was sent.
    DigestIssue {
        id: String,
        period: String,
    },
    /// `/digests/{id}.atom`: the issues as a feed.
    DigestFeed {
        id: String,
    },
}

/// What kind of thing a document is: it decides caching and security headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Page,
    Feed,
    /// Versioned by content (`?v=`) or fixed: cached for long.
    Asset,
}

impl Doc {
    /// The document at `path` (`page` from `?page=N`), if relais serves one there.
    pub fn from_path(path: &str, page: Option<usize>) -> Option<Doc> {
        let page = page.unwrap_or(1);
        if page == 0 {
            return None;
        }
        let plain = |doc: Doc| (page == 1).then_some(doc);
        match path {
            "/" | "/index.html" => plain(Doc::Index),
            "/sources.opml" => plain(Doc::SourcesOpml),
            "/channels.opml" => plain(Doc::ChannelsOpml),
            p if p == format!("/{}", html::STYLESHEET_PATH) => plain(Doc::Stylesheet),
            "/assets/feed.xsl" => plain(Doc::FeedXsl),
            p => {
                if let Some(rest) = p.strip_prefix("/digests/") {
                    return (page == 1).then(|| digest_doc(rest)).flatten();
                }
                if let Some(id) = p.strip_prefix("/channels/") {
                    let id = id.trim_end_matches('/');
                    return valid_id(id).then(|| Doc::Channel {
                        id: id.to_string(),
                        page,
                    });
                }
                let file = p.strip_prefix("/feeds/")?;
                let (id, ext) = file.rsplit_once('.')?;
                let format = FeedFormat::ALL.into_iter().find(|f| f.extension() == ext)?;
                valid_id(id).then(|| Doc::Feed {
                    id: id.to_string(),
                    format,
                    page,
                })
            }
        }
    }

    /// The path (and `?page=N` query) this document is served at.
    pub fn path(&self) -> String {
        let paged = |base: String, page: usize| {
            if page > 1 {
                format!("{base}?page={page}")
            } else {
                base
            }
        };
        match self {
            Doc::Index => "/".to_string(),
            Doc::Channel { id, page } => paged(format!("/channels/{id}"), *page),
            Doc::Feed { id, format, page } => {
                paged(format!("/feeds/{id}.{}", format.extension()), *page)
            }
            Doc::SourcesOpml => "/sources.opml".to_string(),
            Doc::ChannelsOpml => "/channels.opml".to_string(),
            Doc::Stylesheet => format!("/{}", html::STYLESHEET_PATH),
            Doc::FeedXsl => "/assets/feed.xsl".to_string(),
            Doc::DigestArchive { id } => format!("/digests/{id}/"),
            Doc::DigestIssue { id, period } => format!("/digests/{id}/{period}"),
            Doc::DigestFeed { id } => format!("/digests/{id}.atom"),
        }
    }

    /// The Content-Security-Policy of a page; `None` for other documents. An issue
    /// page is the message's HTML part, styled inline as mail clients need, so it allows
    /// inline styles (and still no script, no outside resource).
    pub fn content_security_policy(&self) -> Option<&'static str> {
        match self {
            Doc::DigestIssue { .. } => Some(
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
                 base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            ),
            _ if self.kind() == Kind::Page => Some(
                "default-src 'none'; style-src 'self'; img-src 'self'; \
                 base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            ),
            _ => None,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Doc::Index
            | Doc::Channel { .. }
            | Doc::DigestArchive { .. }
            | Doc::DigestIssue { .. } => Kind::Page,
            Doc::Feed { .. } | Doc::SourcesOpml | Doc::ChannelsOpml | Doc::DigestFeed { .. } => {
                Kind::Feed
            }
            Doc::Stylesheet | Doc::FeedXsl => Kind::Asset,
        }
    }

    /// The media type. RSS and Atom have two: their own for feed readers, and
    /// `application/xml` for browsers, which apply the XSL stylesheet only to that.
    pub fn media_type(&self, browser: bool) -> &'static str {
        match self {
            Doc::Index
            | Doc::Channel { .. }
            | Doc::DigestArchive { .. }
            | Doc::DigestIssue { .. } => "text/html; charset=utf-8",
            Doc::DigestFeed { .. } => "application/atom+xml; charset=utf-8",
            Doc::Feed {
                format: FeedFormat::Json,
                ..
            } => "application/feed+json; charset=utf-8",
            Doc::Feed { .. } if browser => "application/xml; charset=utf-8",
            Doc::Feed { format, .. } => match format {
                FeedFormat::Rss => "application/rss+xml; charset=utf-8",
                _ => "application/atom+xml; charset=utf-8",
            },
            Doc::SourcesOpml | Doc::ChannelsOpml => "text/x-opml; charset=utf-8",
            Doc::Stylesheet => "text/css; charset=utf-8",
            Doc::FeedXsl => "application/xslt+xml; charset=utf-8",
        }
    }

    /// The absolute URL this document is served at under `base_url`.
    pub fn url(&self, base_url: &Url) -> Url {
        render::under(base_url, self.path().trim_start_matches('/'))
    }

    /// Whether the media type depends on the request's Accept header.
    pub fn varies_by_accept(&self) -> bool {
        matches!(
            self,
            Doc::Feed {
                format: FeedFormat::Rss | FeedFormat::Atom,
                ..
            }
        )
    }
}

/// The digest document under `/digests/`: `{id}.atom`, `{id}/` (or `{id}`), or
/// `{id}/{period}` with the period in its canonical form.
fn digest_doc(rest: &str) -> Option<Doc> {
    if let Some(id) = rest.strip_suffix(".atom") {
        return valid_id(id).then(|| Doc::DigestFeed { id: id.to_string() });
    }
    let (id, period) = rest.split_once('/').unwrap_or((rest, ""));
    if !valid_id(id) {
        return None;
    }
    if period.is_empty() {
        return Some(Doc::DigestArchive { id: id.to_string() });
    }
    let p: crate::digest::Period = period.trim_end_matches('/').parse().ok()?;
    (p.to_string() == period.trim_end_matches('/')).then(|| Doc::DigestIssue {
        id: id.to_string(),
        period: p.to_string(),
    })
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A document's bytes in every encoding relais offers, with its validators.
#[derive(Debug)]
pub struct Rendered {
    pub body: Bytes,
    pub gzip: Bytes,
    pub brotli: Bytes,
    /// Opaque tag of the identity bytes, quoted (`"…"`); encoded forms add a suffix.
    pub etag: String,
    pub last_modified: DateTime<Utc>,
}

impl Rendered {
    fn new(body: Vec<u8>, last_modified: DateTime<Utc>) -> Rendered {
        let digest = Sha256::digest(&body);
        let etag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        Rendered {
            gzip: gzip(&body).into(),
            brotli: brotli(&body).into(),
            body: body.into(),
            etag: format!("\"{etag}\""),
            last_modified,
        }
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to memory cannot fail.
    let _ = enc.write_all(body);
    enc.finish().unwrap_or_default()
}

fn brotli(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    // Quality 9 of 11: most of the gain for a fraction of the time; done once per change.
    let params = brotli::enc::BrotliEncoderParams {
        quality: 9,
        lgwin: 22,
        ..Default::default()
    };
    let _ = brotli::BrotliCompress(&mut &body[..], &mut out, &params);
    out
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Render(String),
}

impl From<render::RenderError> for PublishError {
    fn from(e: render::RenderError) -> Self {
        PublishError::Render(e.to_string())
    }
}

impl From<html::RenderError> for PublishError {
    fn from(e: html::RenderError) -> Self {
        PublishError::Render(e.to_string())
    }
}

/// The store's change counters (items, states) when a document was rendered.
type Version = (u64, u64);

/// A cache entry: what the document was rendered from, until when it holds (the end of
/// a pin it shows), and the result.
type Cached = (Version, Option<DateTime<Utc>>, Arc<Rendered>);

/// A freshly rendered body and the last change it shows.
type Body = (Vec<u8>, DateTime<Utc>);

/// How many of the newest stories the index scans to count each channel's: enough
/// for any real channel's recent history, bounded whatever the store's size.
const INDEX_SCAN: usize = 10_000;

/// Renders documents from the store and keeps them until the store changes.
pub struct Publisher {
    config: Arc<Config>,
    store: Arc<Store>,
    cache: Mutex<HashMap<Doc, Cached>>,
}

impl Publisher {
    pub fn new(config: Arc<Config>, store: Arc<Store>) -> Publisher {
        Publisher {
            config,
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The document, rendered or from the cache; `None` when there is no such document
    /// (unknown channel, page beyond the last).
    pub fn document(&self, doc: &Doc) -> Result<Option<Arc<Rendered>>, PublishError> {
        if let Some(fresh) = self.cached(doc) {
            return Ok(Some(fresh));
        }
        let version = self.version();
        // A pin that lapses changes the listing without any store change.
        let fresh_until = match doc.kind() {
            Kind::Asset => None,
            _ => self.store.curation()?.next_expiry(Utc::now()),
        };
        let Some((body, last_modified)) = self.render(doc)? else {
            return Ok(None);
        };
        let rendered = Arc::new(Rendered::new(body, last_modified));
        if let Ok(mut cache) = self.cache.lock() {
            // Pages beyond the first are rare; keep the cache from growing without end.
            if cache.len() > 4096 {
                cache.clear();
            }
            cache.insert(doc.clone(), (version, fresh_until, Arc::clone(&rendered)));
        }
        Ok(Some(rendered))
    }

    /// The document if the cache holds it and nothing changed since: no store access,
    /// no blocking, so request handlers can call it directly.
    pub fn cached(&self, doc: &Doc) -> Option<Arc<Rendered>> {
        let version = self.version();
        let cache = self.cache.lock().ok()?;
        let (v, until, r) = cache.get(doc)?;
        if until.is_some_and(|u| Utc::now() >= u) {
            return None;
        }
        (*v == version || doc.kind() == Kind::Asset).then(|| Arc::clone(r))
    }

    fn version(&self) -> Version {
        (self.store.changes(), self.store.state_changes())
    }

    /// The bytes of one encoding.
    pub fn bytes(rendered: &Rendered, encoding: Encoding) -> Bytes {
        match encoding {
            Encoding::Identity => rendered.body.clone(),
            Encoding::Gzip => rendered.gzip.clone(),
            Encoding::Brotli => rendered.brotli.clone(),
        }
    }

    /// Every document of page 1: what `relais export` writes.
    pub fn all_documents(&self) -> Vec<Doc> {
        let mut docs = vec![
            Doc::Index,
            Doc::SourcesOpml,
            Doc::ChannelsOpml,
            Doc::Stylesheet,
            Doc::FeedXsl,
        ];
        for d in &self.config.digests {
            docs.push(Doc::DigestArchive { id: d.id.clone() });
            docs.push(Doc::DigestFeed { id: d.id.clone() });
            // A store that cannot be read shows up when the documents are rendered.
            for issue in self.store.digest_issues(&d.id).unwrap_or_default() {
                docs.push(Doc::DigestIssue {
                    id: d.id.clone(),
                    period: issue.period,
                });
            }
        }
        for c in &self.config.channels {
            docs.push(Doc::Channel {
                id: c.id.clone(),
                page: 1,
            });
            for format in FeedFormat::ALL {
                docs.push(Doc::Feed {
                    id: c.id.clone(),
                    format,
                    page: 1,
                });
            }
        }
        docs
    }

    fn render(&self, doc: &Doc) -> Result<Option<Body>, PublishError> {
        let config = &self.config;
        let base = &config.server.base_url;
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        Ok(Some(match doc {
            Doc::Stylesheet => (html::STYLESHEET.as_bytes().to_vec(), epoch),
            Doc::FeedXsl => (render::FEED_XSL.as_bytes().to_vec(), epoch),
            Doc::SourcesOpml => {
                let states = self.store.source_states()?;
                let changed = states.iter().filter_map(|s| s.last_success).max();
                (
                    opml::sources(&config.sources, &states, base).into_bytes(),
                    changed.unwrap_or(epoch),
                )
            }
            Doc::ChannelsOpml => (
                opml::channels(&config.channels, base, FeedFormat::Atom).into_bytes(),
                epoch,
            ),
            Doc::Index => {
                let (body, changed) = self.index()?;
                (body.into_bytes(), changed)
            }
            Doc::DigestArchive { id } => {
                let Some(digest) = config.digest(id) else {
                    return Ok(None);
                };
                let issues = self.store.digest_issues(id)?;
                let changed = issues.iter().map(|i| i.sent_at).max().unwrap_or(epoch);
                let links: Vec<html::IssueLink> = issues
                    .iter()
                    .map(|i| html::IssueLink {
                        subject: i.subject.clone(),
                        sent_at: i.sent_at,
                        stories: i.stories,
                        href: Doc::DigestIssue {
                            id: id.clone(),
                            period: i.period.clone(),
                        }
                        .url(base)
                        .to_string(),
                    })
                    .collect();
                let ctx = PageContext::new(base.clone(), changed);
                let body = html::digest_archive(&ctx, id, &digest.title, &links)?;
                (body.into_bytes(), changed)
            }
            Doc::DigestIssue { id, period } => {
                if config.digest(id).is_none() {
                    return Ok(None);
                }
                let Some(issue) = self.store.digest_issue(id, period)? else {
                    return Ok(None);
                };
                (issue.html.into_bytes(), issue.sent_at)
            }
            Doc::DigestFeed { id } => {
                let Some(digest) = config.digest(id) else {
                    return Ok(None);
                };
                let issues = self.store.digest_issues(id)?;
                let entries: Vec<render::atom::IssueEntry> = issues
                    .iter()
                    .map(|i| render::atom::IssueEntry {
                        period: i.period.clone(),
                        subject: i.subject.clone(),
                        sent_at: i.sent_at,
                        url: Doc::DigestIssue {
                            id: id.clone(),
                            period: i.period.clone(),
                        }
                        .url(base)
                        .to_string(),
                        html: i.html.clone(),
                        stories: i.stories,
                    })
                    .collect();
                let changed = issues.iter().map(|i| i.sent_at).max().unwrap_or(epoch);
                let body = render::atom::digest_archive(
                    id,
                    &digest.title,
                    doc.url(base).as_str(),
                    Doc::DigestArchive { id: id.clone() }.url(base).as_str(),
                    changed,
                    &entries,
                )?;
                (body.into_bytes(), changed)
            }
            Doc::Channel { id, page } => {
                let Some(channel) = config.channel(id) else {
                    return Ok(None);
                };
                let Some(sel) = self.select_page(channel, *page)? else {
                    return Ok(None);
                };
                let ctx = PageContext::new(base.clone(), sel.changed);
                let link = |p: usize| {
                    Doc::Channel {
                        id: id.clone(),
                        page: p,
                    }
                    .path()
                };
                let pages = Pagination {
                    newer: (*page > 1).then(|| link(page - 1)),
                    older: sel.more.then(|| link(page + 1)),
                };
                let body = html::channel(&ctx, channel, &sel.stories, &config.sources, &pages)?;
                (body.into_bytes(), sel.changed)
            }
            Doc::Feed { id, format, page } => {
                let Some(channel) = config.channel(id) else {
                    return Ok(None);
                };
                let Some(sel) = self.select_page(channel, *page)? else {
                    return Ok(None);
                };
                let mut meta = FeedMeta::new(channel, &config.sources, base, *format, sel.changed);
                let at = |p: usize| -> Url {
                    let path = Doc::Feed {
                        id: id.clone(),
                        format: *format,
                        page: p,
                    }
                    .path();
                    render::under(base, path.trim_start_matches('/'))
                };
                // RFC 5005 paged feed: the pages shift as news arrives, so they are
                // "next"/"previous", not stable archives.
                meta.pages = PageLinks {
                    first: (*page > 1 || sel.more).then(|| at(1)),
                    previous: (*page > 1).then(|| at(page - 1)),
                    next: sel.more.then(|| at(page + 1)),
                    ..PageLinks::default()
                };
                meta.self_url = at(*page);
                meta.hub = config.websub.as_ref().map(|w| w.hub.clone());
                let refs: Vec<&Story> = sel.stories.iter().collect();
                let body = render::feed(*format, &meta, &refs)?;
                (body.into_bytes(), sel.changed)
            }
        }))
    }

    /// The first page of a channel as its feeds show it (`relais items --channel`): read
    /// newest first and stopped once the page is full, so its cost follows the page, not
    /// the store.
    pub fn channel_stories(&self, channel: &Channel) -> Result<Vec<Story>, PublishError> {
        Ok(self
            .select_page(channel, 1)?
            .map(|sel| sel.stories)
            .unwrap_or_default())
    }

    /// The stories of one page of a channel: pinned stories first, then newest first,
    /// with the operators' decisions applied (see `curate`). `None` for a page beyond
    /// the last (page 1 always exists, if empty).
    fn select_page(
        &self,
        channel: &Channel,
        page: usize,
    ) -> Result<Option<Selection>, PublishError> {
        let size = channel.max_items.max(1);
        let skip = size * (page - 1);
        let decisions = self.store.curation()?;
        let curator = Curator::new(channel, &self.config.sources, &decisions, Utc::now());
        let mut changed = decisions.changed.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        // Pinned stories head the whole listing, wherever their date puts them.
        let mut pinned = Vec::new();
        for id in curator.view().pins() {
            let Ok(num) = id.parse::<u64>() else { continue };
            if let Some(story) = self.store.story(num)? {
                pinned.push(story);
            }
        }
        let pinned_ids: std::collections::HashSet<String> =
            pinned.iter().map(|s| s.id.clone()).collect();
        let mut stories: Vec<Story> = pinned.into_iter().skip(skip).take(size).collect();
        let mut matched = pinned_ids.len();
        let mut more = false;
        // Each story once, at the place of its primary item (its first appearance), with
        // every other partner's appearance in `also`.
        self.store.walk_stories(None, &mut |visit| {
            let story = visit.story;
            if pinned_ids.contains(&story.id) || curator.judge(&story).is_err() {
                return true;
            }
            matched += 1;
            if matched <= skip {
                return true;
            }
            if stories.len() == size {
                more = true;
                return false;
            }
            changed = changed.max(visit.changed);
            stories.push(story);
            true
        })?;
        if matched > skip + size {
            more = true;
        }
        if page > 1 && stories.is_empty() {
            return Ok(None);
        }
        let mut refs: Vec<&Story> = stories.iter().collect();
        curator.view().sort(&mut refs);
        let stories = refs
            .into_iter()
            .map(|s| decisions.edited(s.clone()))
            .collect();
        Ok(Some(Selection {
            stories,
            more,
            changed,
        }))
    }

    fn index(&self) -> Result<(String, DateTime<Utc>), PublishError> {
        let config = &self.config;
        let decisions = self.store.curation()?;
        let now = Utc::now();
        let selectors: Vec<Curator<'_>> = config
            .channels
            .iter()
            .map(|c| Curator::new(c, &config.sources, &decisions, now))
            .collect();
        let mut counts = vec![0usize; selectors.len()];
        let mut latest: Vec<Option<DateTime<Utc>>> = vec![None; selectors.len()];
        let mut scanned = 0;
        let mut changed = DateTime::<Utc>::UNIX_EPOCH;
        self.store.walk_stories(None, &mut |visit| {
            changed = changed.max(visit.changed);
            let story = visit.story;
            for (i, selector) in selectors.iter().enumerate() {
                if selector.judge(&story).is_ok() {
                    counts[i] += 1;
                    latest[i] = latest[i].max(Some(story.item.published));
                }
            }
            scanned += 1;
            scanned < INDEX_SCAN
        })?;
        let summaries: Vec<ChannelSummary<'_>> = config
            .channels
            .iter()
            .enumerate()
            .map(|(i, channel)| ChannelSummary {
                channel,
                items: counts[i],
                latest: latest[i],
            })
            .collect();
        let states: HashMap<String, SourceState> = self
            .store
            .source_states()?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        let mut rows = Vec::with_capacity(config.sources.len());
        for source in &config.sources {
            let state = states.get(&source.id);
            if let Some(s) = state {
                changed = changed.max(s.last_poll.unwrap_or(changed));
            }
            rows.push(SourceRow {
                source,
                state,
                items: self.store.count_items(Some(&source.id))? as usize,
            });
        }
        // The page's own date is the last change it shows, so its bytes (and ETag) stay
        // the same between changes.
        let mut ctx = PageContext::new(config.server.base_url.clone(), changed);
        ctx.silent_after = config.health.silent_after;
        Ok((html::index(&ctx, &summaries, &rows)?, changed))
    }
}

struct Selection {
    stories: Vec<Story>,
    more: bool,
    changed: DateTime<Utc>,
}

/// The encodings relais can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }
}

/// The best encoding the client accepts (RFC 9110 §12.5.3): brotli, then gzip, else
/// identity. A q of 0 refuses; `*` stands for what is not named.
pub fn negotiate_encoding(accept_encoding: Option<&str>) -> Encoding {
    let Some(header) = accept_encoding else {
        return Encoding::Identity;
    };
    let mut q_of = HashMap::new();
    for part in header.split(',') {
        let mut pieces = part.split(';');
        let name = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        let q = pieces
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
            })
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        q_of.insert(name, q);
    }
    let q = |name: &str| {
        q_of.get(name)
            .or_else(|| q_of.get("*"))
            .copied()
            .unwrap_or(0.0)
    };
    let (br, gz) = (q("br"), q("gzip").max(q("x-gzip")));
    if br > 0.0 && br >= gz {
        Encoding::Brotli
    } else if gz > 0.0 {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// The ETag of one encoding of a document: the identity tag, suffixed for compressed
/// bytes (they are other bytes, so another strong tag).
pub fn etag_for(rendered: &Rendered, encoding: Encoding) -> String {
    let bare = rendered.etag.trim_matches('"');
    match encoding {
        Encoding::Identity => rendered.etag.clone(),
        Encoding::Gzip => format!("\"{bare}-gz\""),
        Encoding::Brotli => format!("\"{bare}-br\""),
    }
}

/// Whether a conditional request is answered 304 (RFC 9110 §13.1): If-None-Match, when
/// present, decides alone — `*`, or any listed tag matching by weak comparison (any
/// encoding of the same bytes counts); otherwise If-Modified-Since, at second precision.
pub fn not_modified(
    rendered: &Rendered,
    if_none_match: Option<&str>,
    if_modified_since: Option<&str>,
) -> bool {
    if let Some(list) = if_none_match {
        let ours = rendered.etag.trim_matches('"');
        return list.split(',').any(|tag| {
            let tag = tag.trim();
            if tag == "*" {
                return true;
            }
            let tag = tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"');
            let base = tag
                .strip_suffix("-gz")
                .or_else(|| tag.strip_suffix("-br"))
                .unwrap_or(tag);
            base == ours
        });
    }
    if let Some(since) = if_modified_since.and_then(|s| httpdate::parse_http_date(s.trim()).ok()) {
        let since: DateTime<Utc> = since.into();
        return rendered.last_modified.timestamp() <= since.timestamp();
    }
    false
}

/// An HTTP date (IMF-fixdate) for Last-Modified.
pub fn http_date(t: DateTime<Utc>) -> String {
    let system: std::time::SystemTime = t.into();
    httpdate::fmt_http_date(system)
}

/// Whether a request's Accept header is a browser's (it asks for HTML first).
pub fn is_browser(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(body: &str, modified: &str) -> Rendered {
        Rendered::new(
            body.as_bytes().to_vec(),
            DateTime::parse_from_rfc3339(modified)
                .unwrap()
                .with_timezone(&Utc),
        )
    }

    #[test]
    fn documents_round_trip_through_their_paths() {
        let cases = [
            ("/", None, Some(Doc::Index)),
            ("/sources.opml", None, Some(Doc::SourcesOpml)),
            ("/channels.opml", None, Some(Doc::ChannelsOpml)),
            ("/assets/relais.css", None, Some(Doc::Stylesheet)),
            ("/assets/feed.xsl", None, Some(Doc::FeedXsl)),
            (
                "/channels/tout",
                Some(2),
                Some(Doc::Channel {
                    id: "tout".into(),
                    page: 2,
                }),
            ),
            (
                "/feeds/tout.atom",
                None,
                Some(Doc::Feed {
                    id: "tout".into(),
                    format: FeedFormat::Atom,
                    page: 1,
                }),
            ),
            (
                "/feeds/a-b.json",
                Some(3),
                Some(Doc::Feed {
                    id: "a-b".into(),
                    format: FeedFormat::Json,
                    page: 3,
                }),
            ),
            (
                "/digests/hebdo/",
                None,
                Some(Doc::DigestArchive { id: "hebdo".into() }),
            ),
            (
                "/digests/hebdo/2026-W48",
                None,
                Some(Doc::DigestIssue {
                    id: "hebdo".into(),
                    period: "2026-W48".into(),
                }),
            ),
            (
                "/digests/hebdo.atom",
                None,
                Some(Doc::DigestFeed { id: "hebdo".into() }),
            ),
            ("/digests/hebdo/2026-w48", None, None),
            ("/digests/hebdo/2026-W99", None, None),
            ("/digests/hebdo/", Some(2), None),
            ("/feeds/tout.xml", None, None),
            ("/feeds/Tout.rss", None, None),
            ("/feeds/../x.rss", None, None),
            ("/channels/", None, None),
            ("/channels/tout", Some(0), None),
            ("/sources.opml", Some(2), None),
            ("/nope", None, None),
        ];
        for (path, page, want) in cases {
            let got = Doc::from_path(path, page);
            assert_eq!(got, want, "{path} {page:?}");
            if let Some(doc) = got {
                let p = doc.path();
                let (p, q) = p
                    .split_once("?page=")
                    .map_or((p.as_str(), None), |(a, b)| (a, b.parse().ok()));
                assert_eq!(Doc::from_path(p, q), Some(doc));
            }
        }
    }

    #[test]
    fn encodings_are_negotiated() {
        let cases = [
            (None, Encoding::Identity),
            (Some("gzip"), Encoding::Gzip),
            (Some("gzip, deflate, br"), Encoding::Brotli),
            (Some("br;q=0.5, gzip"), Encoding::Gzip),
            (Some("br;q=0, gzip;q=0"), Encoding::Identity),
            (Some("*"), Encoding::Brotli),
            (Some("*;q=0.1, br;q=0"), Encoding::Gzip),
            (Some("identity"), Encoding::Identity),
            (Some("GZIP;Q=0.8"), Encoding::Gzip),
            (Some(""), Encoding::Identity),
        ];
        for (header, want) in cases {
            assert_eq!(negotiate_encoding(header), want, "{header:?}");
        }
    }

    #[test]
    fn conditional_requests() {
        let r = rendered("<feed/>", "2026-11-24T10:00:00Z");
        let tag = r.etag.clone();
        let bare = tag.trim_matches('"').to_string();
        let cases: Vec<(Option<String>, Option<&str>, bool, &str)> = vec![
            (Some(tag.clone()), None, true, "strong match"),
            (Some(format!("W/{tag}")), None, true, "weak match"),
            (Some(format!("\"other\", {tag}")), None, true, "in a list"),
            (Some("*".into()), None, true, "star"),
            (Some(format!("\"{bare}-gz\"")), None, true, "the gzip tag"),
            (
                Some(format!("W/\"{bare}-br\"")),
                None,
                true,
                "the weak brotli tag",
            ),
            (Some("\"other\"".into()), None, false, "no match"),
            (
                Some("\"other\"".into()),
                Some("Wed, 25 Nov 2026 10:00:00 GMT"),
                false,
                "If-None-Match decides alone",
            ),
            (
                None,
                Some("Tue, 24 Nov 2026 10:00:00 GMT"),
                true,
                "same second",
            ),
            (None, Some("Wed, 25 Nov 2026 10:00:00 GMT"), true, "later"),
            (
                None,
                Some("Mon, 23 Nov 2026 10:00:00 GMT"),
                false,
                "earlier",
            ),
            (None, Some("garbage"), false, "bad date"),
            (None, None, false, "unconditional"),
        ];
        for (inm, ims, want, what) in cases {
            assert_eq!(not_modified(&r, inm.as_deref(), ims), want, "{what}");
        }
        assert_eq!(etag_for(&r, Encoding::Gzip), format!("\"{bare}-gz\""));
        assert_eq!(etag_for(&r, Encoding::Identity), tag);
    }

    #[test]
    fn compressed_forms_decode_to_the_body() {
        use std::io::Read;
        let body = "Coopération décentralisée ".repeat(200);
        let r = rendered(&body, "2026-11-24T10:00:00Z");
        let mut out = String::new();
        flate2::read::GzDecoder::new(&r.gzip[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, body);
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &r.brotli[..], &mut out).unwrap();
        assert_eq!(out, body.as_bytes());
        assert!(r.brotli.len() < body.len() / 10);
    }
}

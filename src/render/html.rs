//! The HTML pages members read: `/` (the channels to follow, the sources and their
//! health) and `/channels/{id}` (a channel as a readable page). Pure rendering: every
//! input is passed in (configuration, stories, source states, the generation time), so
//! the server can render once per change and serve cached bytes, and `relais export`
//! writes the very same bytes.
//!
//! Why it looks the way it does:
//! - Templates (in `templates/`) are compiled into the binary and rendered by minijinja
//!   with HTML auto-escaping; they only ever receive plain view structs built here, in
//!   which every date is already written in French and every link already checked.
//! - Links taken from partner feeds are kept only when they are absolute http(s) URLs, so
//!   an item cannot smuggle a `javascript:` link into the page; text is cleared of
//!   characters XML forbids (NUL, U+000B, U+FFFE…) and escaped, so a hostile title shows
//!   as text. Item HTML is never inserted: listing pages show the plain summary.
//! - The markup is XHTML-compatible (void elements self-closed, only XML entities) so a
//!   strict XML parser can check every page, no JavaScript, no external asset: the only
//!   stylesheet is ours, [`STYLESHEET`], served at [`STYLESHEET_PATH`].

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use minijinja::{
    AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior, Value,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;

use crate::config::{Channel, Source};
use crate::model::{SourceState, SourceStatus, Story};

/// The network's name when the caller gives none.
pub const DEFAULT_NETWORK_TITLE: &str = "Veille du réseau";

/// The pages' stylesheet, to be served at [`STYLESHEET_PATH`] as `text/css`.
pub const STYLESHEET: &str = include_str!("../../templates/relais.css");

/// Where [`STYLESHEET`] is served, relative to the base URL. Pages link to it with a
/// `?v=` query naming its content, so it can be cached for long and still change.
pub const STYLESHEET_PATH: &str = "assets/relais.css";

const BASE_TEMPLATE: &str = include_str!("../../templates/base.html");
const INDEX_TEMPLATE: &str = include_str!("../../templates/index.html");
const CHANNEL_TEMPLATE: &str = include_str!("../../templates/channel.html");
const DIGESTS_TEMPLATE: &str = include_str!("../../templates/digests.html");

/// A page that could not be rendered. Templates are compiled in, so this means a bug in
/// relais rather than bad data; the server answers 500 and logs it.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot render {page}: {message}")]
    Render { page: String, message: String },
}

/// What every page needs besides its own content.
#[derive(Debug, Clone)]
pub struct PageContext {
    /// The public URL of the site (`[server] base_url`); every link is made from it.
    pub base_url: Url,
    /// The network's name, shown on every page.
    pub network_title: String,
    /// When the page is rendered, shown in the footer and used for "failing for 3 days".
    pub generated: DateTime<Utc>,
    /// The time zone dates are shown in.
    pub tz: Tz,
    /// `[health] silent_after`: a source without a new item for this long shows as silent.
    pub silent_after: std::time::Duration,
}

impl PageContext {
    /// A context with the default network title and dates shown in Europe/Paris.
    pub fn new(base_url: Url, generated: DateTime<Utc>) -> PageContext {
        PageContext {
            base_url,
            network_title: DEFAULT_NETWORK_TITLE.to_string(),
            generated,
            tz: chrono_tz::Europe::Paris,
            silent_after: crate::config::HealthConfig::default().silent_after,
        }
    }

    /// Name the network; a blank title keeps the default.
    pub fn with_title(mut self, title: Option<&str>) -> PageContext {
        if let Some(t) = title.map(str::trim).filter(|t| !t.is_empty()) {
            self.network_title = t.to_string();
        }
        self
    }

    /// `path` (relative, no leading slash) under the base URL. Plain concatenation so a
    /// base URL with a path (`https://example.org/veille`) keeps it.
    pub fn url(&self, path: &str) -> String {
        let mut base = self.base_url.clone();
        base.set_query(None);
        base.set_fragment(None);
        format!("{}/{}", base.as_str().trim_end_matches('/'), path)
    }

    fn stylesheet_href(&self) -> String {
        format!("{}?v={}", self.url(STYLESHEET_PATH), stylesheet_version())
    }
}

/// The addresses of a channel's page and feeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelLinks {
    /// `/channels/{id}`
    pub page: String,
    /// `/feeds/{id}.rss`
    pub rss: String,
    /// `/feeds/{id}.atom`
    pub atom: String,
    /// `/feeds/{id}.json`
    pub json: String,
}

/// The addresses of a channel's page and feeds under `ctx.base_url`.
pub fn channel_links(ctx: &PageContext, id: &str) -> ChannelLinks {
    ChannelLinks {
        page: ctx.url(&format!("channels/{id}")),
        rss: ctx.url(&format!("feeds/{id}.rss")),
        atom: ctx.url(&format!("feeds/{id}.atom")),
        json: ctx.url(&format!("feeds/{id}.json")),
    }
}

/// A channel as the index lists it.
#[derive(Debug, Clone, Copy)]
pub struct ChannelSummary<'a> {
    pub channel: &'a Channel,
    /// Stories currently in the channel.
    pub items: usize,
    /// Date of its newest story.
    pub latest: Option<DateTime<Utc>>,
}

/// A source as the index lists it: its configuration, what the store remembers of its
/// polls (`None` before the first), and how many items it has in the store.
#[derive(Debug, Clone, Copy)]
pub struct SourceRow<'a> {
    pub source: &'a Source,
    pub state: Option<&'a SourceState>,
    pub items: usize,
}

/// Links to the neighbouring pages of a channel's history, made by the caller
/// (`?page=N`). Both `None` on a channel that fits on one page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pagination {
    /// The page of more recent stories.
    pub newer: Option<String>,
    /// The page of older stories.
    pub older: Option<String>,
}

/// The `/` page: the channels with their subscribe links, then the sources and their
/// health, in the order given.
pub fn index(
    ctx: &PageContext,
    channels: &[ChannelSummary<'_>],
    sources: &[SourceRow<'_>],
) -> Result<String, RenderError> {
    let cards: Vec<ChannelCard> = channels.iter().map(|c| channel_card(ctx, c)).collect();
    let mut alternates = Vec::with_capacity(cards.len() * 3 + 1);
    alternates.push(Alternate {
        mime: "text/x-opml",
        title: "Tous les canaux (OPML)".to_string(),
        href: ctx.url("channels.opml"),
    });
    for c in &cards {
        alternates.extend(feed_alternates(&c.title, &c.links));
    }
    let rows: Vec<SourceLine> = sources.iter().map(|s| source_line(ctx, s)).collect();
    let failing = rows.iter().filter(|r| r.status == "failing").count();
    let page = IndexPage {
        channels: cards,
        channels_label: count(channels.len(), "canal", "canaux"),
        opml: ctx.url("channels.opml"),
        sources_label: count(rows.len(), "source", "sources"),
        failing_label: (failing > 0).then(|| count(failing, "en échec", "en échec")),
        sources: rows,
    };
    let site = Site::new(
        ctx,
        "fr".to_string(),
        ctx.network_title.clone(),
        Some(format!(
            "Les canaux de veille de {}\u{a0}: à lire en ligne ou à suivre dans un lecteur de flux.",
            ctx.network_title
        )),
        alternates,
    );
    render("index.html", "/", &site, &page)
}

/// The `/channels/{id}` page: the channel's stories in the order given (the channel's
/// order: newest first). `sources` gives partners' names and sites; a story from an
/// unknown source shows its id.
pub fn channel(
    ctx: &PageContext,
    channel: &Channel,
    stories: &[Story],
    sources: &[Source],
    pages: &Pagination,
) -> Result<String, RenderError> {
    let by_id: HashMap<&str, &Source> = sources.iter().map(|s| (s.id.as_str(), s)).collect();
    let lang = channel
        .lang
        .as_deref()
        .and_then(lang_tag)
        .unwrap_or_else(|| "fr".to_string());
    let links = channel_links(ctx, &channel.id);
    let alternates = Vec::from(feed_alternates(&channel.title, &links));
    let page = ChannelPage {
        title: typography(&channel.title, &lang),
        description: typography(&channel.description, &lang),
        count_label: count(stories.len(), "article", "articles"),
        stories: stories
            .iter()
            .map(|s| story_view(ctx, s, &by_id, &lang))
            .collect(),
        links,
        home: ctx.url(""),
        newer: pages.newer.clone(),
        older: pages.older.clone(),
        archive: pages.newer.is_some(),
    };
    let description = (!channel.description.trim().is_empty()).then(|| channel.description.clone());
    let site = Site::new(
        ctx,
        lang,
        format!("{} · {}", channel.title, ctx.network_title),
        description,
        alternates,
    );
    let path = format!("/channels/{}", channel.id);
    render("channel.html", &path, &site, &page)
}

/// An issue of a digest as its archive page lists it.
#[derive(Debug, Clone)]
pub struct IssueLink {
    pub subject: String,
    pub sent_at: DateTime<Utc>,
    pub stories: usize,
    /// Its page (`/digests/{id}/{period}`), absolute.
    pub href: String,
}

/// The `/digests/{id}/` page: a digest's issues, newest first, with its Atom feed.
pub fn digest_archive(
    ctx: &PageContext,
    id: &str,
    title: &str,
    issues: &[IssueLink],
) -> Result<String, RenderError> {
    #[derive(Serialize)]
    struct Row {
        subject: String,
        href: Option<String>,
        sent: DateLabel,
        count_label: String,
    }
    #[derive(Serialize)]
    struct ArchivePage {
        title: String,
        home: String,
        feed: String,
        issues: Vec<Row>,
    }
    let feed = ctx.url(&format!("digests/{id}.atom"));
    let page = ArchivePage {
        title: typography(title, "fr"),
        home: ctx.url(""),
        feed: feed.clone(),
        issues: issues
            .iter()
            .map(|i| Row {
                subject: typography(&i.subject, "fr"),
                href: http_href(&i.href),
                sent: DateLabel::long_with_time(ctx, i.sent_at),
                count_label: count(i.stories, "article", "articles"),
            })
            .collect(),
    };
    let site = Site::new(
        ctx,
        "fr".to_string(),
        format!("{title} · {}", ctx.network_title),
        Some(format!(
            "Les lettres « {title} » envoyées aux listes du réseau."
        )),
        vec![Alternate {
            mime: "application/atom+xml",
            title: format!("{title} (Atom)"),
            href: feed,
        }],
    );
    render("digests.html", &format!("/digests/{id}/"), &site, &page)
}

// --- French dates -------------------------------------------------------------------

/// French month names, lower case (shared with the digest).
pub(crate) const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

const MONTHS_SHORT: [&str; 12] = [
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
    "déc.",
];

fn weekday_fr(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "lundi",
        Weekday::Tue => "mardi",
        Weekday::Wed => "mercredi",
        Weekday::Thu => "jeudi",
        Weekday::Fri => "vendredi",
        Weekday::Sat => "samedi",
        Weekday::Sun => "dimanche",
    }
}

/// French writes the first of the month as an ordinal: « 1er juillet », « 2 juillet ».
fn day_fr(day: u32) -> String {
    if day == 1 {
        "1er".to_string()
    } else {
        day.to_string()
    }
}

fn month_fr<T: Datelike>(date: &T, names: &[&'static str; 12]) -> &'static str {
    names
        .get(date.month0() as usize)
        .copied()
        .unwrap_or_default()
}

/// « lundi 3 juillet 2019 », « mercredi 1er avril 2026 ».
pub fn french_date<T: TimeZone>(date: &DateTime<T>) -> String {
    format!(
        "{} {} {} {}",
        weekday_fr(date.weekday()),
        day_fr(date.day()),
        month_fr(date, &MONTHS_FR),
        date.year()
    )
}

/// « 3 juil. 2019 », « 1er avr. 2026 »: for tables.
pub fn french_short_date<T: TimeZone>(date: &DateTime<T>) -> String {
    format!(
        "{} {} {}",
        day_fr(date.day()),
        month_fr(date, &MONTHS_SHORT),
        date.year()
    )
}

/// « 14 h 05 », « 8 h 00 »: the French way, with no-break spaces so it never wraps.
pub fn french_time<T: TimeZone>(date: &DateTime<T>) -> String {
    format!("{}\u{a0}h\u{a0}{:02}", date.hour(), date.minute())
}

/// « mercredi 25 novembre 2026 à 14 h 05 ».
pub fn french_date_time<T: TimeZone>(date: &DateTime<T>) -> String {
    format!("{} à {}", french_date(date), french_time(date))
}

/// How long from `since` to `now`, as « 3 jours », « 5 heures », « moins d'une heure ».
pub fn french_duration(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - since).num_minutes().max(0);
    let (hours, days) = (minutes / 60, minutes / (60 * 24));
    if days >= 1 {
        plural(days, "jour", "jours")
    } else if hours >= 1 {
        plural(hours, "heure", "heures")
    } else {
        "moins d’une heure".to_string()
    }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    // French takes the singular for 0 and 1.
    format!("{n}\u{a0}{}", if n.abs() < 2 { one } else { many })
}

/// « 12 articles », « 1 article », « aucun article ».
fn count(n: usize, one: &str, many: &str) -> String {
    match n {
        0 => format!("aucun {one}"),
        1 => format!("1\u{a0}{one}"),
        _ => format!("{}\u{a0}{many}", group_thousands(n)),
    }
}

/// « 12 345 »: French groups digits with a narrow no-break space.
fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

// --- view structs: what templates see ------------------------------------------------

/// The frame every page shares.
#[derive(Serialize)]
struct Site {
    lang: String,
    /// `fr` when the page's language is not French: the interface text (written in
    /// French) then says so, for screen readers and translators.
    ui_lang: Option<&'static str>,
    title: String,
    description: Option<String>,
    network_title: String,
    home: String,
    opml: String,
    stylesheet: String,
    alternates: Vec<Alternate>,
    generated: DateLabel,
}

impl Site {
    fn new(
        ctx: &PageContext,
        lang: String,
        title: String,
        description: Option<String>,
        alternates: Vec<Alternate>,
    ) -> Site {
        Site {
            ui_lang: ui_lang(&lang),
            lang,
            title,
            description,
            network_title: ctx.network_title.clone(),
            home: ctx.url(""),
            opml: ctx.url("channels.opml"),
            stylesheet: ctx.stylesheet_href(),
            alternates,
            generated: DateLabel::long_with_time(ctx, ctx.generated),
        }
    }
}

/// A `<link rel="alternate">` for feed readers' autodiscovery.
#[derive(Serialize)]
struct Alternate {
    mime: &'static str,
    title: String,
    href: String,
}

fn feed_alternates(title: &str, links: &ChannelLinks) -> [Alternate; 3] {
    [
        Alternate {
            mime: "application/rss+xml",
            title: format!("{title} (RSS)"),
            href: links.rss.clone(),
        },
        Alternate {
            mime: "application/atom+xml",
            title: format!("{title} (Atom)"),
            href: links.atom.clone(),
        },
        Alternate {
            mime: "application/feed+json",
            title: format!("{title} (JSON Feed)"),
            href: links.json.clone(),
        },
    ]
}

/// A date for `<time datetime="…">text</time>`.
#[derive(Serialize)]
struct DateLabel {
    iso: String,
    text: String,
}

impl DateLabel {
    fn long(ctx: &PageContext, at: DateTime<Utc>) -> DateLabel {
        let local = at.with_timezone(&ctx.tz);
        DateLabel {
            iso: local.to_rfc3339(),
            text: french_date(&local),
        }
    }

    fn long_with_time(ctx: &PageContext, at: DateTime<Utc>) -> DateLabel {
        let local = at.with_timezone(&ctx.tz);
        DateLabel {
            iso: local.to_rfc3339(),
            text: french_date_time(&local),
        }
    }

    fn short(ctx: &PageContext, at: DateTime<Utc>) -> DateLabel {
        let local = at.with_timezone(&ctx.tz);
        DateLabel {
            iso: local.to_rfc3339(),
            text: format!("{}, {}", french_short_date(&local), french_time(&local)),
        }
    }
}

#[derive(Serialize)]
struct IndexPage {
    channels: Vec<ChannelCard>,
    channels_label: String,
    opml: String,
    sources: Vec<SourceLine>,
    sources_label: String,
    failing_label: Option<String>,
}

#[derive(Serialize)]
struct ChannelCard {
    title: String,
    description: String,
    count_label: String,
    latest: Option<DateLabel>,
    links: ChannelLinks,
}

fn channel_card(ctx: &PageContext, c: &ChannelSummary<'_>) -> ChannelCard {
    ChannelCard {
        title: typography(&c.channel.title, c.channel.lang.as_deref().unwrap_or("fr")),
        description: typography(
            &c.channel.description,
            c.channel.lang.as_deref().unwrap_or("fr"),
        ),
        count_label: count(c.items, "article", "articles"),
        latest: c.latest.map(|at| DateLabel::long(ctx, at)),
        links: channel_links(ctx, &c.channel.id),
    }
}

#[derive(Serialize)]
struct SourceLine {
    title: String,
    site: Option<String>,
    /// CSS class: ok, failing, silent, retired, paused, pending.
    status: &'static str,
    status_label: String,
    /// What the label alone does not say: since when, how many failures.
    detail: Option<String>,
    error: Option<String>,
    last_success: Option<DateLabel>,
    last_new_item: Option<DateLabel>,
    items: String,
}

/// Longest error text shown; the rest is in `relais sources`.
const ERROR_CHARS: usize = 240;

fn source_line(ctx: &PageContext, row: &SourceRow<'_>) -> SourceLine {
    let state = row.state;
    let status = crate::health::status(state, row.source.paused, ctx.generated, ctx.silent_after);
    let short = |at: DateTime<Utc>| {
        let local = at.with_timezone(&ctx.tz);
        format!("{}, {}", french_short_date(&local), french_time(&local))
    };
    let (class, label, detail) = match status {
        SourceStatus::Paused => (
            "paused",
            "en pause".to_string(),
            Some("relève suspendue par l’équipe".to_string()),
        ),
        SourceStatus::Retired => (
            "retired",
            "retirée".to_string(),
            Some(match state.and_then(|s| s.retired_at) {
                Some(at) => format!("le site a répondu «\u{a0}410 Gone\u{a0}» le {}", short(at)),
                None => "le site a répondu «\u{a0}410 Gone\u{a0}»".to_string(),
            }),
        ),
        SourceStatus::Failing => {
            let failures = state.map_or(0, |s| s.failures);
            let since = state.and_then(|s| s.failing_since);
            let label = match since {
                Some(at) => format!("en échec depuis {}", french_duration(at, ctx.generated)),
                None => "en échec".to_string(),
            };
            let tries = plural(i64::from(failures), "échec", "échecs consécutifs");
            let detail = match since {
                Some(at) => format!("{tries} depuis le {}", short(at)),
                None => tries,
            };
            ("failing", label, Some(detail))
        }
        SourceStatus::Silent => {
            let since = state.and_then(|s| s.last_new_item.or(s.watched_since));
            let label = match since {
                Some(at) => format!("silencieuse depuis {}", french_duration(at, ctx.generated)),
                None => "silencieuse".to_string(),
            };
            let detail = match state.and_then(|s| s.last_new_item) {
                Some(at) => format!("aucun nouvel article depuis le {}", short(at)),
                None => "aucun article depuis qu’elle est suivie".to_string(),
            };
            ("silent", label, Some(detail))
        }
        SourceStatus::Ok if state.is_none_or(|s| s.last_success.is_none()) => {
            ("pending", "pas encore relevée".to_string(), None)
        }
        SourceStatus::Ok => ("ok", "ok".to_string(), None),
    };
    // A retired source's last error is the 410 its detail already names.
    let error = match status {
        SourceStatus::Failing => state
            .and_then(|s| s.last_error.as_deref())
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| truncate(e, ERROR_CHARS)),
        _ => None,
    };
    let site = row.source.site.as_ref().map(Url::to_string).or_else(|| {
        state
            .and_then(|s| s.feed_link.as_deref())
            .and_then(http_href)
    });
    SourceLine {
        title: row.source.title.clone(),
        site,
        status: class,
        status_label: label,
        detail,
        error,
        last_success: state
            .and_then(|s| s.last_success)
            .map(|at| DateLabel::short(ctx, at)),
        last_new_item: state
            .and_then(|s| s.last_new_item)
            .map(|at| DateLabel::short(ctx, at)),
        items: group_thousands(row.items),
    }
}

#[derive(Serialize)]
struct ChannelPage {
    title: String,
    description: String,
    count_label: String,
    stories: Vec<StoryView>,
    links: ChannelLinks,
    home: String,
    newer: Option<String>,
    older: Option<String>,
    /// Not the first page: the heading says so.
    archive: bool,
}

#[derive(Serialize)]
struct StoryView {
    title: String,
    href: Option<String>,
    /// Set only when the item's language differs from the page's.
    lang: Option<String>,
    /// `fr` when the item is not in French: for the French text around it.
    ui_lang: Option<&'static str>,
    partner: Partner,
    authors: Option<String>,
    date: DateLabel,
    summary: String,
    categories: Vec<String>,
    also: Vec<Partner>,
    enclosures: Vec<Attachment>,
}

#[derive(Serialize)]
struct Partner {
    name: String,
    href: Option<String>,
}

#[derive(Serialize)]
struct Attachment {
    href: String,
    label: String,
}

fn story_view(
    ctx: &PageContext,
    story: &Story,
    sources: &HashMap<&str, &Source>,
    page_lang: &str,
) -> StoryView {
    let item = &story.item;
    let name_of = |id: &str| {
        sources
            .get(id)
            .map_or_else(|| id.to_string(), |s| s.title.clone())
    };
    let partner = match item.source.as_deref() {
        Some(id) => Partner {
            name: name_of(id),
            href: sources
                .get(id)
                .and_then(|s| s.site.as_ref())
                .map(Url::to_string),
        },
        None => Partner {
            name: "source inconnue".to_string(),
            href: None,
        },
    };
    // One credit per partner: a partner that posted twice, or the primary's own
    // partner, is named once.
    let mut seen: Vec<&str> = item.source.as_deref().into_iter().collect();
    let mut also = Vec::new();
    for a in &story.also {
        if seen.contains(&a.source.as_str()) {
            continue;
        }
        seen.push(&a.source);
        also.push(Partner {
            name: name_of(&a.source),
            href: a.url.as_deref().and_then(http_href),
        });
    }
    let lang = item
        .lang
        .as_deref()
        .and_then(lang_tag)
        .filter(|l| primary_subtag(l) != primary_subtag(page_lang));
    let text_lang = lang.as_deref().unwrap_or(page_lang);
    let ui_lang = ui_lang(text_lang);
    let title = typography(&item.title, text_lang);
    let summary = typography(item.summary.trim(), text_lang);
    let authors: Vec<&str> = item
        .authors
        .iter()
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
        .collect();
    let mut categories: Vec<String> = Vec::new();
    for c in item
        .categories
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
    {
        if !categories.iter().any(|k| k.eq_ignore_ascii_case(c)) {
            categories.push(c.to_string());
        }
    }
    StoryView {
        title,
        href: item.url.as_deref().and_then(http_href),
        lang,
        ui_lang,
        partner,
        authors: (!authors.is_empty()).then(|| authors.join(", ")),
        date: DateLabel::long(ctx, item.published),
        summary,
        categories,
        also,
        enclosures: item
            .enclosures
            .iter()
            .filter_map(|e| {
                Some(Attachment {
                    href: http_href(&e.url)?,
                    label: attachment_label(e.mime.as_deref(), e.length),
                })
            })
            .collect(),
    }
}

/// « PDF, 1,2 Mo », « audio MP3 », « fichier ».
fn attachment_label(mime: Option<&str>, length: Option<u64>) -> String {
    let kind = match mime.map(|m| m.trim().to_ascii_lowercase()) {
        Some(m) if m == "application/pdf" => "PDF".to_string(),
        Some(m) if m == "audio/mpeg" => "audio MP3".to_string(),
        Some(m) if m.starts_with("audio/") => "audio".to_string(),
        Some(m) if m.starts_with("video/") => "vidéo".to_string(),
        Some(m) if m.starts_with("image/") => "image".to_string(),
        _ => "fichier".to_string(),
    };
    match length.filter(|&n| n > 0) {
        Some(n) => format!("{kind}, {}", french_size(n)),
        None => kind,
    }
}

/// « 840 ko », « 1,2 Mo »: decimal units with a French decimal comma.
fn french_size(bytes: u64) -> String {
    const KB: u64 = 1_000;
    const MB: u64 = 1_000_000;
    if bytes < MB {
        format!("{}\u{a0}ko", bytes.div_ceil(KB))
    } else {
        let tenths = (bytes + MB / 20) / (MB / 10);
        format!("{},{}\u{a0}Mo", tenths / 10, tenths % 10)
    }
}

// --- safety helpers ------------------------------------------------------------------

/// `link` if it is an absolute http(s) URL with a host: the only links from partner
/// data a page may carry.
fn http_href(link: &str) -> Option<String> {
    let url = Url::parse(link.trim()).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host().is_some()).then(|| url.to_string())
}

/// `tag` if it looks like a BCP 47 language tag (`fr`, `fr-FR`, `en_GB` → `en-GB`).
fn lang_tag(tag: &str) -> Option<String> {
    let tag = tag.trim().replace('_', "-");
    let ok = (2..=35).contains(&tag.len())
        && tag.starts_with(|c: char| c.is_ascii_alphabetic())
        && tag.split('-').all(|part| {
            !part.is_empty() && part.len() <= 8 && part.chars().all(|c| c.is_ascii_alphanumeric())
        });
    ok.then_some(tag)
}

/// The language of the interface text (French), to mark on it when the surrounding
/// text is in `lang`; `None` when `lang` is French already.
fn ui_lang(lang: &str) -> Option<&'static str> {
    (primary_subtag(lang) != "fr").then_some("fr")
}

fn primary_subtag(tag: &str) -> String {
    tag.split('-').next().unwrap_or(tag).to_ascii_lowercase()
}

/// French text as French typography wants it: a no-break space inside « guillemets »
/// and before `:` `;` `!` `?`, so that none of them starts or ends a line alone.
/// Other languages are left as written.
pub(crate) fn typography(text: &str, lang: &str) -> String {
    if primary_subtag(lang) != "fr" {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' if matches!(chars.peek(), Some('»' | ':' | ';' | '!' | '?')) => out.push('\u{a0}'),
            '«' if chars.peek() == Some(&' ') => {
                chars.next();
                out.push_str("«\u{a0}");
            }
            _ => out.push(c),
        }
    }
    out
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
        None => text.to_string(),
    }
}

/// Whether XML 1.0 allows `c` in a document (and HTML does not flag it as a parse error):
/// no C0 controls but tab and line breaks, no DEL or C1 controls, no non-characters.
fn allowed_in_page(c: char) -> bool {
    let n = u32::from(c);
    match n {
        0x09 | 0x0A | 0x0D => true,
        0x00..=0x1F | 0x7F..=0x9F | 0xFDD0..=0xFDEF => false,
        _ => n & 0xFFFE != 0xFFFE,
    }
}

/// Write `text` escaped for HTML text and quoted attributes, dropping the characters
/// [`allowed_in_page`] refuses.
fn write_escaped(out: &mut Output<'_>, text: &str) -> std::fmt::Result {
    for c in text.chars() {
        match c {
            '&' => out.write_str("&amp;")?,
            '<' => out.write_str("&lt;")?,
            '>' => out.write_str("&gt;")?,
            '"' => out.write_str("&quot;")?,
            '\'' => out.write_str("&#39;")?,
            c if allowed_in_page(c) => out.write_char(c)?,
            _ => {}
        }
    }
    Ok(())
}

/// The formatter every `{{ … }}` goes through: strings are cleaned and escaped (unlike
/// minijinja's default it leaves `/` alone, so links read as links in the source);
/// printing `none` is refused so a template cannot show « none » to a reader.
fn formatter(out: &mut Output<'_>, state: &State<'_, '_>, value: &Value) -> Result<(), Error> {
    if value.is_none() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "a template printed none: guard it with `if`",
        ));
    }
    match (value.as_str(), state.auto_escape()) {
        (Some(text), AutoEscape::Html) if !value.is_safe() => {
            write_escaped(out, text).map_err(Error::from)
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

fn environment() -> Result<&'static Environment<'static>, String> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_formatter(formatter);
        for (name, source) in [
            ("base.html", BASE_TEMPLATE),
            ("index.html", INDEX_TEMPLATE),
            ("channel.html", CHANNEL_TEMPLATE),
            ("digests.html", DIGESTS_TEMPLATE),
        ] {
            env.add_template(name, source)
                .map_err(|e| format!("template {name}: {e}"))?;
        }
        Ok(env)
    })
    .as_ref()
    .map_err(Clone::clone)
}

fn render(
    template: &str,
    page_path: &str,
    site: &Site,
    page: &impl Serialize,
) -> Result<String, RenderError> {
    let failed = |message: String| RenderError::Render {
        page: page_path.to_string(),
        message,
    };
    let env = environment().map_err(failed)?;
    let tmpl = env
        .get_template(template)
        .map_err(|e| failed(e.to_string()))?;
    tmpl.render(minijinja::context! { site => site, page => page })
        .map_err(|e| failed(e.to_string()))
}

/// Renders template `name` out of `templates` (name, source) with `context`: for
/// templates that are not compiled in (the digest's, which operators may replace), so
/// that minijinja stays in this module. With `html`, output goes through the pages'
/// formatter (text cleaned and escaped); either way printing `none` is an error.
pub fn render_template(
    templates: &[(&str, &str)],
    name: &str,
    html: bool,
    context: &impl Serialize,
) -> Result<String, RenderError> {
    let failed = |message: String| RenderError::Render {
        page: name.to_string(),
        message,
    };
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_auto_escape_callback(move |_| {
        if html {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(formatter);
    for (n, source) in templates {
        env.add_template(n, source)
            .map_err(|e| failed(format!("template {n}: {e}")))?;
    }
    let tmpl = env.get_template(name).map_err(|e| failed(e.to_string()))?;
    tmpl.render(context).map_err(|e| failed(e.to_string()))
}

/// The first 8 hex digits of the stylesheet's SHA-256: its version in links.
fn stylesheet_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let digest = Sha256::digest(STYLESHEET.as_bytes());
        digest.iter().take(4).fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Location;
    use crate::model::{Appearance, Enclosure, Item};
    use std::path::PathBuf;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn ctx(base: &str) -> PageContext {
        PageContext::new(Url::parse(base).unwrap(), at("2026-11-26T09:00:00Z"))
    }

    fn source(id: &str, title: &str, site: Option<&str>, paused: bool) -> Source {
        Source {
            id: id.to_string(),
            title: title.to_string(),
            location: Location::File(PathBuf::from(format!("/srv/{id}.xml"))),
            site: site.map(|s| Url::parse(s).unwrap()),
            interval: None,
            tags: Vec::new(),
            lang: None,
            paused,
        }
    }

    fn channel_of(id: &str, title: &str, description: &str, lang: Option<&str>) -> Channel {
        Channel {
            id: id.to_string(),
            title: title.to_string(),
            description: description.to_string(),
            sources: Vec::new(),
            tags: Vec::new(),
            include: Vec::new(),
            exclude: Vec::new(),
            lang: lang.map(str::to_string),
            max_items: 50,
        }
    }

    fn item(source: &str, id: &str, title: &str, url: Option<&str>, published: &str) -> Item {
        Item {
            id: id.to_string(),
            source: Some(source.to_string()),
            url: url.map(str::to_string),
            canonical_url: None,
            title: title.to_string(),
            summary: String::new(),
            content_html: None,
            published: at(published),
            updated: None,
            authors: Vec::new(),
            categories: Vec::new(),
            lang: None,
            enclosures: Vec::new(),
            published_guessed: false,
            content_hash: String::new(),
        }
    }

    /// The fixture network: five sources in every health state, two channels.
    struct Fixture {
        sources: Vec<Source>,
        states: Vec<SourceState>,
        channels: Vec<Channel>,
        stories: Vec<Story>,
    }

    fn fixture() -> Fixture {
        let sources = vec![
            source(
                "ciedel",
                "CIEDEL",
                Some("https://ciedel.example.org/"),
                false,
            ),
            source(
                "cap-rural",
                "Cap Rural",
                Some("https://caprural.example.org/"),
                false,
            ),
            source(
                "cuf",
                "CUF",
                Some("https://cites-unies-france.example.org/"),
                false,
            ),
            source("resacoop", "RESACOOP", None, true),
            source("nouveau", "Le Nouveau Réseau", None, false),
        ];
        let states = vec![
            SourceState {
                id: "ciedel".into(),
                last_success: Some(at("2026-11-26T08:45:00Z")),
                last_new_item: Some(at("2026-11-25T10:30:00Z")),
                ..SourceState::default()
            },
            SourceState {
                id: "cap-rural".into(),
                last_success: Some(at("2026-11-23T07:00:00Z")),
                last_new_item: Some(at("2026-11-01T08:00:00Z")),
                failing_since: Some(at("2026-11-24T07:30:00Z")),
                failures: 5,
                last_error: Some(
                    "https://caprural.example.org/feed: HTTP 503 <Service Unavailable>".into(),
                ),
                ..SourceState::default()
            },
            SourceState {
                id: "cuf".into(),
                last_success: Some(at("2026-10-02T12:00:00Z")),
                retired_at: Some(at("2026-10-03T12:00:00Z")),
                last_status: Some(410),
                last_error: Some("410 Gone".into()),
                ..SourceState::default()
            },
            SourceState {
                id: "resacoop".into(),
                last_success: Some(at("2026-09-10T06:00:00Z")),
                // A hostile feed link: never a link on the page.
                feed_link: Some("javascript:alert(1)".into()),
                ..SourceState::default()
            },
        ];
        let channels = vec![
            channel_of(
                "internationalisation",
                "Internationalisation des territoires",
                "Coopération décentralisée, jumelages et « solidarité internationale ».",
                None,
            ),
            channel_of(
                "network-news",
                "Network news",
                "The network, in English.",
                Some("en"),
            ),
        ];

        let mut first = item(
            "ciedel",
            "a1",
            "Coopération décentralisée : l’appel à projets « Territoires solidaires » 2027 est ouvert",
            Some("https://ciedel.example.org/actu/appel-2027"),
            "2026-11-25T10:30:00Z",
        );
        first.summary = "Les collectivités peuvent déposer leur dossier jusqu’au 15 janvier. Réunion d’information à Lyon, l’après-midi.".into();
        first.categories = vec![
            "Coopération".into(),
            "Appel à projets".into(),
            "coopération".into(),
        ];
        first.authors = vec!["Émilie Durand".into()];
        let first = Story {
            id: "ciedel/a1".into(),
            item: first,
            also: vec![
                Appearance {
                    source: "cap-rural".into(),
                    url: Some("https://caprural.example.org/appel-2027".into()),
                    published: at("2026-11-25T12:00:00Z"),
                },
                Appearance {
                    source: "cuf".into(),
                    url: Some("https://cites-unies-france.example.org/appel".into()),
                    published: at("2026-11-25T13:00:00Z"),
                },
                Appearance {
                    source: "cap-rural".into(),
                    url: Some("javascript:alert(2)".into()),
                    published: at("2026-11-25T14:00:00Z"),
                },
            ],
        };

        let mut hostile = item(
            "cap-rural",
            "b2",
            "<script>alert(\"x\")</script> Rencontres \"Élus & territoires\"",
            Some("javascript:alert(1)"),
            "2026-11-01T08:00:00Z",
        );
        hostile.summary = "Programme : <b>table ronde</b>\u{0}\u{b} puis buffet\u{fffe}.".into();
        let hostile = Story::single(hostile);

        let mut english = item(
            "ciedel",
            "c3",
            "Decentralised cooperation in Europe",
            Some("https://ciedel.example.org/en/europe"),
            "2026-10-14T15:05:00Z",
        );
        english.lang = Some("en_GB".into());
        english.enclosures = vec![
            Enclosure {
                url: "https://ciedel.example.org/en/europe.pdf".into(),
                mime: Some("application/pdf".into()),
                length: Some(1_234_567),
            },
            Enclosure {
                url: "file:///etc/passwd".into(),
                mime: None,
                length: None,
            },
        ];
        let english = Story::single(english);

        Fixture {
            sources,
            states,
            channels,
            stories: vec![first, hostile, english],
        }
    }

    fn render_index(f: &Fixture, ctx: &PageContext) -> String {
        let channels = [
            ChannelSummary {
                channel: &f.channels[0],
                items: 3,
                latest: Some(at("2026-11-25T10:30:00Z")),
            },
            ChannelSummary {
                channel: &f.channels[1],
                items: 0,
                latest: None,
            },
        ];
        let rows: Vec<SourceRow<'_>> = f
            .sources
            .iter()
            .map(|s| SourceRow {
                source: s,
                state: f.states.iter().find(|st| st.id == s.id),
                items: if s.id == "ciedel" { 1234 } else { 7 },
            })
            .collect();
        index(ctx, &channels, &rows).unwrap()
    }

    fn render_channel(f: &Fixture, ctx: &PageContext, which: usize, pages: &Pagination) -> String {
        let stories: &[Story] = if which == 0 { &f.stories } else { &[] };
        channel(ctx, &f.channels[which], stories, &f.sources, pages).unwrap()
    }

    /// The page parsed as XML: markup is XHTML-compatible, so a strict parser checks
    /// that every tag is closed and every entity known.
    fn parse(page: &str) -> roxmltree::Document<'_> {
        let opts = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        };
        roxmltree::Document::parse_with_options(page, opts)
            .unwrap_or_else(|e| panic!("page is not well-formed: {e}\n{page}"))
    }

    /// What every page must be: well-formed, no script, no inline handler or style, no
    /// link outside http(s) or the site, a charset and a viewport.
    fn assert_sound(page: &str, lang: &str) {
        let doc = parse(page);
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "html");
        assert_eq!(root.attribute("lang"), Some(lang));
        assert!(!page.to_ascii_lowercase().contains("<script"), "{page}");
        for node in doc.descendants().filter(|n| n.is_element()) {
            assert_ne!(node.tag_name().name(), "script");
            assert_ne!(node.tag_name().name(), "iframe");
            for a in node.attributes() {
                assert!(!a.name().starts_with("on"), "handler {}", a.name());
                assert_ne!(a.name(), "style");
                if a.name() == "href" || a.name() == "src" {
                    assert!(
                        a.value().starts_with("https://")
                            || a.value().starts_with("http://")
                            || a.value().starts_with('#'),
                        "link {}",
                        a.value()
                    );
                }
            }
            for c in node.text().unwrap_or("").chars() {
                assert!(allowed_in_page(c), "{c:?} in text");
            }
        }
        let meta = |name: &str| {
            doc.descendants()
                .any(|n| n.has_tag_name("meta") && n.attribute("name") == Some(name))
        };
        assert!(doc
            .descendants()
            .any(|n| n.has_tag_name("meta") && n.attribute("charset") == Some("utf-8")));
        assert!(meta("viewport"));
        assert!(page.starts_with("<!DOCTYPE html>\n<html"));
    }

    fn alternates(page: &str) -> Vec<(String, String)> {
        parse(page)
            .descendants()
            .filter(|n| n.has_tag_name("link") && n.attribute("rel") == Some("alternate"))
            .map(|n| {
                (
                    n.attribute("type").unwrap_or_default().to_string(),
                    n.attribute("href").unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// The text of the element with this class, whitespace collapsed.
    fn texts_of_class(page: &str, class: &str) -> Vec<String> {
        parse(page)
            .descendants()
            .filter(|n| {
                n.attribute("class")
                    .is_some_and(|c| c.split(' ').any(|k| k == class))
            })
            .map(|n| {
                let text: String = n
                    .descendants()
                    .filter(|d| d.is_text())
                    .filter_map(|d| d.text())
                    .collect();
                // ASCII whitespace only: no-break spaces are part of the French text.
                text.split(|c: char| c.is_ascii_whitespace())
                    .filter(|w| !w.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    #[test]
    fn french_dates() {
        let paris = chrono_tz::Europe::Paris;
        let cases: &[(&str, &str, &str)] = &[
            (
                "2026-11-25T10:30:00Z",
                "mercredi 25 novembre 2026",
                "11\u{a0}h\u{a0}30",
            ),
            (
                "2026-11-01T08:00:00Z",
                "dimanche 1er novembre 2026",
                "9\u{a0}h\u{a0}00",
            ),
            (
                "2019-07-01T12:00:00Z",
                "lundi 1er juillet 2019",
                "14\u{a0}h\u{a0}00",
            ),
            (
                "2019-07-03T12:00:00Z",
                "mercredi 3 juillet 2019",
                "14\u{a0}h\u{a0}00",
            ),
            // The new year in Paris starts an hour before it does in UTC.
            (
                "2026-12-31T23:30:00Z",
                "vendredi 1er janvier 2027",
                "0\u{a0}h\u{a0}30",
            ),
            // Summer time began that night.
            (
                "2026-03-29T01:30:00Z",
                "dimanche 29 mars 2026",
                "3\u{a0}h\u{a0}30",
            ),
            (
                "2024-02-29T09:05:00Z",
                "jeudi 29 février 2024",
                "10\u{a0}h\u{a0}05",
            ),
            (
                "2025-08-16T22:00:00Z",
                "dimanche 17 août 2025",
                "0\u{a0}h\u{a0}00",
            ),
            (
                "2025-12-06T18:00:00Z",
                "samedi 6 décembre 2025",
                "19\u{a0}h\u{a0}00",
            ),
        ];
        for (utc, date, time) in cases {
            let local = at(utc).with_timezone(&paris);
            assert_eq!(french_date(&local), *date, "{utc}");
            assert_eq!(french_time(&local), *time, "{utc}");
        }
        let d = at("2026-02-01T10:00:00Z").with_timezone(&paris);
        assert_eq!(french_short_date(&d), "1er févr. 2026");
        assert_eq!(
            french_date_time(&d),
            "dimanche 1er février 2026 à 11\u{a0}h\u{a0}00"
        );
    }

    #[test]
    fn french_durations_counts_and_sizes() {
        let now = at("2026-11-26T09:00:00Z");
        for (since, want) in [
            ("2026-11-26T08:30:00Z", "moins d’une heure"),
            ("2026-11-26T08:00:00Z", "1\u{a0}heure"),
            ("2026-11-25T22:00:00Z", "11\u{a0}heures"),
            ("2026-11-25T09:00:00Z", "1\u{a0}jour"),
            ("2026-11-24T07:30:00Z", "2\u{a0}jours"),
            // A clock that went backwards says nothing absurd.
            ("2026-11-27T09:00:00Z", "moins d’une heure"),
        ] {
            assert_eq!(french_duration(at(since), now), want, "{since}");
        }
        assert_eq!(count(0, "article", "articles"), "aucun article");
        assert_eq!(count(1, "article", "articles"), "1\u{a0}article");
        assert_eq!(
            count(12345, "article", "articles"),
            "12\u{202f}345\u{a0}articles"
        );
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_000_000), "1\u{202f}000\u{202f}000");
        assert_eq!(french_size(840_000), "840\u{a0}ko");
        assert_eq!(french_size(1_234_567), "1,2\u{a0}Mo");
        assert_eq!(attachment_label(Some("audio/mpeg"), None), "audio MP3");
    }

    #[test]
    fn hrefs_languages_and_text_are_cleaned() {
        assert_eq!(
            http_href(" https://Ex.org/a b "),
            Some("https://ex.org/a%20b".to_string())
        );
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "file:///etc/passwd",
            "/relative",
            "mailto:a@b.c",
            "http://",
            "  ",
        ] {
            assert_eq!(http_href(bad), None, "{bad}");
        }
        assert_eq!(lang_tag("en_GB").as_deref(), Some("en-GB"));
        assert_eq!(lang_tag("fr").as_deref(), Some("fr"));
        for bad in ["", "f", "français", "fr\" onload=\"x", "-fr", "fr--be"] {
            assert_eq!(lang_tag(bad), None, "{bad}");
        }
        assert_eq!(
            typography("Appel : « Territoires » ouvert ! Vraiment ? Oui ; https://x.org:8080", "fr-FR"),
            "Appel\u{a0}: «\u{a0}Territoires\u{a0}» ouvert\u{a0}! Vraiment\u{a0}? Oui\u{a0}; https://x.org:8080"
        );
        assert_eq!(typography("Note : « x »", "en"), "Note : « x »");
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("éèà", 2), "éè…");
        for c in [
            '\u{0}',
            '\u{b}',
            '\u{c}',
            '\u{1f}',
            '\u{7f}',
            '\u{85}',
            '\u{fffe}',
            '\u{ffff}',
            '\u{1fffe}',
            '\u{fdd0}',
        ] {
            assert!(!allowed_in_page(c), "{c:?}");
        }
        for c in ['\t', '\n', 'é', '«', '\u{a0}', '\u{202f}', '\u{1f600}'] {
            assert!(allowed_in_page(c), "{c:?}");
        }
    }

    #[test]
    fn index_lists_channels_with_feeds_and_sources_with_health() {
        let f = fixture();
        let page = render_index(&f, &ctx("https://veille.example.org"));
        assert_sound(&page, "fr");
        assert!(page.contains("<title>Veille du réseau</title>"), "{page}");

        // Every channel is discoverable by a feed reader, and all of them as OPML.
        let alt = alternates(&page);
        for id in ["internationalisation", "network-news"] {
            for (mime, ext) in [
                ("application/rss+xml", "rss"),
                ("application/atom+xml", "atom"),
                ("application/feed+json", "json"),
            ] {
                let href = format!("https://veille.example.org/feeds/{id}.{ext}");
                assert!(
                    alt.contains(&(mime.to_string(), href.clone())),
                    "{href} in {alt:?}"
                );
                assert!(page.contains(&format!("<a href=\"{href}\" type=\"{mime}\">")));
            }
            assert!(page.contains(&format!(
                "href=\"https://veille.example.org/channels/{id}\""
            )));
        }
        assert!(alt.contains(&(
            "text/x-opml".to_string(),
            "https://veille.example.org/channels.opml".to_string()
        )));
        assert!(page.contains(
            "<a class=\"button\" href=\"https://veille.example.org/channels.opml\">Importer tous les canaux dans votre lecteur</a>"
        ));

        // Channel cards: escaped description, counts in French, latest date.
        assert!(page.contains(
            "Coopération décentralisée, jumelages et «\u{a0}solidarité internationale\u{a0}»."
        ));
        let metas = texts_of_class(&page, "meta");
        assert_eq!(
            metas,
            [
                "3\u{a0}articles · dernier le mercredi 25 novembre 2026",
                "aucun article"
            ]
        );

        // Sources, in the order given, with their health.
        let badges = texts_of_class(&page, "badge");
        assert_eq!(
            badges,
            [
                "ok",
                "en échec depuis 2\u{a0}jours",
                "retirée",
                "en pause",
                "pas encore relevée"
            ]
        );
        let details = texts_of_class(&page, "detail");
        assert_eq!(
            details,
            [
                "5\u{a0}échecs consécutifs depuis le 24 nov. 2026, 8\u{a0}h\u{a0}30",
                "le site a répondu «\u{a0}410 Gone\u{a0}» le 3 oct. 2026, 14\u{a0}h\u{a0}00",
                "relève suspendue par l’équipe",
            ]
        );
        assert_eq!(
            texts_of_class(&page, "error"),
            ["https://caprural.example.org/feed: HTTP 503 <Service Unavailable>"]
        );
        assert!(page.contains("HTTP 503 &lt;Service Unavailable&gt;"));
        assert!(page.contains("<a href=\"https://caprural.example.org/\">Cap Rural</a>"));
        assert!(page.contains(
            "<td data-label=\"Dernière relève réussie\"><time datetime=\"2026-11-26T09:45:00+01:00\">26 nov. 2026, 9\u{a0}h\u{a0}45</time></td>"
        ));
        assert!(page.contains(
            "<td data-label=\"Dernier nouvel article\"><time datetime=\"2026-11-01T09:00:00+01:00\">1er nov. 2026, 9\u{a0}h\u{a0}00</time></td>"
        ));
        assert!(page.contains("<td data-label=\"Articles\" class=\"num\">1\u{202f}234</td>"));
        assert!(
            !page.contains("javascript:"),
            "a feed's own link is checked"
        );
        assert!(page.contains("<th scope=\"row\">RESACOOP</th>"));
        assert!(page.contains("5\u{a0}sources · 1\u{a0}en échec"));
        assert!(page.contains("Page produite le <time datetime=\"2026-11-26T10:00:00+01:00\">jeudi 26 novembre 2026 à 10\u{a0}h\u{a0}00</time>"));
    }

    #[test]
    fn channel_page_shows_stories_safely_in_french() {
        let f = fixture();
        let ctx = ctx("https://veille.example.org/");
        let page = render_channel(&f, &ctx, 0, &Pagination::default());
        assert_sound(&page, "fr");
        assert!(
            page.contains("<title>Internationalisation des territoires · Veille du réseau</title>")
        );
        assert!(page.contains(
            "<meta name=\"description\" content=\"Coopération décentralisée, jumelages et « solidarité internationale ».\" />"
        ));
        assert_eq!(
            alternates(&page),
            [
                (
                    "application/rss+xml".to_string(),
                    "https://veille.example.org/feeds/internationalisation.rss".to_string()
                ),
                (
                    "application/atom+xml".to_string(),
                    "https://veille.example.org/feeds/internationalisation.atom".to_string()
                ),
                (
                    "application/feed+json".to_string(),
                    "https://veille.example.org/feeds/internationalisation.json".to_string()
                ),
            ]
        );
        assert!(page.contains(
            "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"Internationalisation des territoires (RSS)\" href=\"https://veille.example.org/feeds/internationalisation.rss\" />"
        ));

        // Stories, in the order given, with French dates.
        let doc = parse(&page);
        let titles: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("h3"))
            .map(|n| {
                n.descendants()
                    .filter_map(|d| if d.is_text() { d.text() } else { None })
                    .collect()
            })
            .collect();
        assert_eq!(
            titles,
            [
                "Coopération décentralisée\u{a0}: l’appel à projets «\u{a0}Territoires solidaires\u{a0}» 2027 est ouvert",
                "<script>alert(\"x\")</script> Rencontres \"Élus & territoires\"",
                "Decentralised cooperation in Europe",
            ]
        );
        assert!(page.contains("<h3><a href=\"https://ciedel.example.org/actu/appel-2027\">Coopération décentralisée\u{a0}: l’appel à projets «\u{a0}Territoires solidaires\u{a0}» 2027 est ouvert</a></h3>"));
        // The script is text, and its javascript: link is dropped.
        assert!(page.contains(
            "<h3>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Rencontres &quot;Élus &amp; territoires&quot;</h3>"
        ));
        assert!(!page.contains("javascript:"));
        assert_eq!(
            texts_of_class(&page, "meta"),
            [
                "mercredi 25 novembre 2026 · CIEDEL · Émilie Durand",
                "dimanche 1er novembre 2026 · Cap Rural",
                "mercredi 14 octobre 2026 · CIEDEL",
            ]
        );
        assert!(page.contains(
            "<time datetime=\"2026-11-25T11:30:00+01:00\">mercredi 25 novembre 2026</time>"
        ));
        assert!(
            page.contains("<a class=\"partner\" href=\"https://ciedel.example.org/\">CIEDEL</a>")
        );

        // Summaries are text: markup escaped, illegal characters gone.
        assert_eq!(
            texts_of_class(&page, "summary"),
            [
                "Les collectivités peuvent déposer leur dossier jusqu’au 15 janvier. Réunion d’information à Lyon, l’après-midi.",
                "Programme\u{a0}: <b>table ronde</b> puis buffet.",
            ]
        );
        assert!(page.contains("Programme\u{a0}: &lt;b&gt;table ronde&lt;/b&gt; puis buffet."));

        // Credits: every other partner once, each linked to its own appearance.
        assert_eq!(
            texts_of_class(&page, "also"),
            ["Aussi publié par\u{a0}: Cap Rural, CUF"]
        );
        assert!(page.contains(
            "Aussi publié par&#160;: <a href=\"https://caprural.example.org/appel-2027\">Cap Rural</a>, <a href=\"https://cites-unies-france.example.org/appel\">CUF</a></p>"
        ));

        // Categories, deduplicated; an English story says so; only http(s) attachments.
        assert_eq!(
            texts_of_class(&page, "tags"),
            ["Coopération Appel à projets"]
        );
        assert!(page.contains("<article lang=\"en-GB\">"));
        // Its French surroundings say they are French.
        assert!(page.contains(
            "<p class=\"meta\" lang=\"fr\"><time datetime=\"2026-10-14T17:05:00+02:00\">mercredi 14 octobre 2026</time>"
        ));
        assert!(page.contains("<ul class=\"attachments\" lang=\"fr\">"));
        assert_eq!(
            page.matches(" lang=\"fr\"").count(),
            3,
            "html, meta, attachments"
        );
        assert_eq!(page.matches("<article>").count(), 2);
        assert!(page.contains(
            "<li><a href=\"https://ciedel.example.org/en/europe.pdf\">Pièce jointe</a> (PDF, 1,2\u{a0}Mo)</li>"
        ));
        assert!(!page.contains("/etc/passwd"));
        // One page only: no pagination.
        assert!(!page.contains("class=\"pages\""));
        assert!(!page.contains("rel=\"next\""));
    }

    #[test]
    fn channel_lang_pagination_and_empty_channel() {
        let f = fixture();
        let ctx = ctx("https://example.org/veille/").with_title(Some("  Réseau « Coop »  "));
        let pages = Pagination {
            newer: Some("https://example.org/veille/channels/network-news?page=1".into()),
            older: Some("https://example.org/veille/channels/network-news?page=3".into()),
        };
        let page = render_channel(&f, &ctx, 1, &pages);
        assert_sound(&page, "en");
        assert!(page.contains("<title>Network news · Réseau « Coop »</title>"));
        assert!(page.contains(
            "<p class=\"empty\" lang=\"fr\">Aucun article dans ce canal pour l’instant.</p>"
        ));
        // The interface is French on an English page, and says so.
        for part in [
            "<header class=\"masthead\" lang=\"fr\">",
            "<nav class=\"crumbs\" lang=\"fr\"",
            "<div class=\"follow\" lang=\"fr\">",
            "<footer class=\"colophon\" lang=\"fr\">",
            "<nav class=\"pages\" lang=\"fr\"",
        ] {
            assert!(page.contains(part), "{part}");
        }
        // The base URL's path is kept in every link.
        assert!(page.contains("href=\"https://example.org/veille/feeds/network-news.atom\""));
        assert!(page.contains("href=\"https://example.org/veille/channels.opml\""));
        assert!(page.contains(&format!(
            "<link rel=\"stylesheet\" href=\"https://example.org/veille/assets/relais.css?v={}\" />",
            stylesheet_version()
        )));
        assert!(page.contains(
            "<a class=\"newer\" rel=\"prev\" href=\"https://example.org/veille/channels/network-news?page=1\">← Plus récents</a>"
        ));
        assert!(page.contains(
            "<a class=\"older\" rel=\"next\" href=\"https://example.org/veille/channels/network-news?page=3\">Plus anciens →</a>"
        ));
        assert!(page.contains("<link rel=\"next\" href=\"https://example.org/veille/channels/network-news?page=3\" />"));
        assert!(page.contains("<h2 id=\"articles\" lang=\"fr\">Articles plus anciens</h2>"));

        // Only a newer page: the first link alone.
        let last = Pagination {
            newer: pages.newer.clone(),
            older: None,
        };
        let page = render_channel(&f, &ctx, 1, &last);
        assert!(page.contains("← Plus récents"));
        assert!(!page.contains("Plus anciens →"));

        // A blank title keeps the default; a junk channel lang falls back to French.
        let ctx = PageContext::new(
            Url::parse("https://x.org").unwrap(),
            at("2026-01-01T00:00:00Z"),
        )
        .with_title(Some("   "));
        let mut odd = f.channels[1].clone();
        odd.lang = Some("anglais\" onload=\"x".into());
        let page = channel(&ctx, &odd, &[], &[], &Pagination::default()).unwrap();
        assert_sound(&page, "fr");
        assert!(page.contains("· Veille du réseau</title>"));
    }

    #[test]
    fn a_story_from_an_unknown_source_names_its_id() {
        let f = fixture();
        let story = Story::single(item("disparu", "z", "Titre", None, "2026-05-01T10:00:00Z"));
        let page = channel(
            &ctx("https://x.org"),
            &f.channels[0],
            &[story],
            &f.sources,
            &Pagination::default(),
        )
        .unwrap();
        assert_sound(&page, "fr");
        assert_eq!(
            texts_of_class(&page, "meta"),
            ["vendredi 1er mai 2026 · disparu"]
        );
        assert!(page.contains("<h3>Titre</h3>"));
    }

    #[test]
    fn empty_index_still_reads() {
        let page = index(&ctx("https://x.org"), &[], &[]).unwrap();
        assert_sound(&page, "fr");
        assert!(page.contains("Aucun canal n’est encore configuré."));
        assert!(page.contains("Aucune source n’est encore configurée."));
        assert!(page.contains("aucun canal"));
    }

    #[test]
    fn a_silent_source_shows_since_when_it_brought_nothing_new() {
        let quiet = source("quiet", "Partenaire discret", None, false);
        let state = SourceState {
            id: "quiet".into(),
            last_success: Some(at("2026-11-26T08:00:00Z")),
            last_new_item: Some(at("2026-09-01T08:00:00Z")),
            ..SourceState::default()
        };
        let row = SourceRow {
            source: &quiet,
            state: Some(&state),
            items: 4,
        };
        let mut c = ctx("https://x.org");
        let page = index(&c, &[], std::slice::from_ref(&row)).unwrap();
        assert_sound(&page, "fr");
        assert!(page.contains("<tr class=\"silent\">"), "{page}");
        assert!(
            page.contains(">silencieuse depuis 86\u{a0}jours<"),
            "{page}"
        );
        assert!(
            page.contains("aucun nouvel article depuis le 1er sept."),
            "{page}"
        );
        // The threshold is the configuration's.
        c.silent_after = std::time::Duration::from_secs(100 * 86_400);
        let page = index(&c, &[], &[row]).unwrap();
        assert!(page.contains("<tr class=\"ok\">"), "{page}");
    }

    #[test]
    fn stylesheet_is_self_contained() {
        assert!(!STYLESHEET.contains("@import"));
        assert!(!STYLESHEET.contains("url("));
        assert!(STYLESHEET.contains("prefers-color-scheme: dark"));
        assert_eq!(stylesheet_version().len(), 8);
    }

    /// With RELAIS_PAGES_DIR set, write the fixture's pages there (with the stylesheet
    /// under assets/) to be opened in a browser.
    #[test]
    fn write_pages_for_a_look() {
        let Some(dir) = std::env::var_os("RELAIS_PAGES_DIR") else {
            return;
        };
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        let base = Url::from_directory_path(&dir).unwrap();
        let ctx = PageContext::new(base, at("2026-11-26T09:00:00Z"));
        let f = fixture();
        std::fs::write(dir.join("assets/relais.css"), STYLESHEET).unwrap();
        std::fs::write(dir.join("index.html"), render_index(&f, &ctx)).unwrap();
        let pages = Pagination {
            newer: None,
            older: Some(ctx.url("channels/internationalisation?page=2")),
        };
        std::fs::write(
            dir.join("channel.html"),
            render_channel(&f, &ctx, 0, &pages),
        )
        .unwrap();
        std::fs::write(
            dir.join("channel-empty.html"),
            render_channel(&f, &ctx, 1, &Pagination::default()),
        )
        .unwrap();
    }
}

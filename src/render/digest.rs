//! A digest issue as a message: its subject, its text/plain part and its HTML part.
//! Pure: the stories, the time and the templates are passed in. Templates are minijinja
//! (rendered through [`super::html::render_template`], the one place minijinja lives);
//! the built-in ones are `config/templates/digest.html` and `digest.txt`, compiled in,
//! and a digest's `template_dir` may replace either.
//!
//! Templates only receive plain view structs built here, in which every date is already
//! written in the digest's language, every link is an absolute http(s) URL and French
//! text has its no-break spaces. The HTML is what mail clients render reliably: a table
//! layout 600 pixels wide with inline styles, no stylesheet, no script, no image, no
//! tracking of any kind (links go straight to the partners' pages).

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate};
use serde::Serialize;

use super::html::{french_date, render_template, typography, RenderError};
use super::{http_url, one_line};
use crate::config::{Channel, Digest, Locale, Source};
use crate::digest::Period;
use crate::model::Story;

/// The built-in HTML template.
pub const BUILTIN_HTML: &str = include_str!("../../config/templates/digest.html");
/// The built-in text template.
pub const BUILTIN_TEXT: &str = include_str!("../../config/templates/digest.txt");

/// Longest summary shown, in characters.
const SUMMARY_CHARS: usize = 320;
/// Width the text part is wrapped at (RFC 5322 recommends at most 78).
const TEXT_WIDTH: usize = 72;

/// The two templates an issue is rendered with.
#[derive(Debug, Clone)]
pub struct Templates {
    pub html: String,
    pub text: String,
}

impl Default for Templates {
    fn default() -> Templates {
        Templates {
            html: BUILTIN_HTML.to_string(),
            text: BUILTIN_TEXT.to_string(),
        }
    }
}

/// One channel's part of an issue.
#[derive(Debug, Clone)]
pub struct Section<'a> {
    pub channel: &'a Channel,
    /// Pinned stories first, then newest first; a story appears in one section only.
    pub stories: Vec<Story>,
}

/// Everything an issue shows.
#[derive(Debug, Clone)]
pub struct Issue<'a> {
    pub digest: &'a Digest,
    pub period: Period,
    pub sections: Vec<Section<'a>>,
    /// The configured sources: partners' names and sites.
    pub sources: &'a [Source],
    /// The issue's page in the archive (`/digests/{id}/{period}`).
    pub web_url: String,
    /// The archive of all issues.
    pub archive_url: String,
}

/// An issue rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// The subject line: « La lettre du réseau — semaine du 23 novembre 2026 ».
pub fn subject(digest: &Digest, period: Period) -> String {
    let title = one_line(&digest.title, 200).unwrap_or_else(|| digest.id.clone());
    match digest.locale {
        Locale::Fr => format!(
            "{title} — semaine du {}",
            day_month_year_fr(period.monday())
        ),
        Locale::En => format!("{title} — week of {}", day_month_year_en(period.monday())),
    }
}

/// Renders `issue` with `templates`.
pub fn render(issue: &Issue<'_>, templates: &Templates) -> Result<Rendered, RenderError> {
    let view = view(issue);
    let list: [(&str, &str); 2] = [
        ("digest.html", templates.html.as_str()),
        ("digest.txt", templates.text.as_str()),
    ];
    let html = render_template(&list, "digest.html", true, &view)?;
    let text = render_template(&list, "digest.txt", false, &view)?;
    Ok(Rendered {
        subject: view.subject.clone(),
        html,
        // Mail wants CRLF, lettre adds it; trailing spaces would be mangled by
        // format=flowed readers, so they go.
        text: text
            .lines()
            // "-- " is the signature separator (RFC 3676 §4.3): its space stays.
            .map(|l| if l == "-- " { l } else { l.trim_end() })
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_string()
            + "\n",
    })
}

// --- the view ---------------------------------------------------------------------

#[derive(Serialize)]
struct View {
    lang: &'static str,
    subject: String,
    title: String,
    /// « Semaine du 16 au 22 novembre 2026 ».
    period_label: String,
    period: String,
    /// « 12 articles de 5 partenaires »; `None` when empty.
    summary_line: Option<String>,
    sections: Vec<SectionView>,
    empty: bool,
    t: Labels,
    web_url: Option<String>,
    archive_url: Option<String>,
    /// The list the reader is on, for the footer.
    list: String,
    unsubscribe: Option<Link>,
    rule: String,
}

#[derive(Serialize)]
struct Link {
    href: String,
    label: String,
}

#[derive(Serialize)]
struct SectionView {
    title: String,
    anchor: String,
    count: usize,
    count_label: String,
    stories: Vec<StoryView>,
    /// The title's underline in the text part.
    rule: String,
}

#[derive(Serialize)]
struct StoryView {
    title: String,
    href: Option<String>,
    date: String,
    partners: String,
    summary: String,
    /// The summary wrapped for the text part, continuation lines indented.
    summary_text: String,
    /// The title wrapped for the text part.
    title_text: String,
}

/// The interface text of a locale.
#[derive(Serialize)]
struct Labels {
    contents: &'static str,
    read_online: &'static str,
    archive: &'static str,
    unsubscribe: &'static str,
    nothing_new: &'static str,
    nothing_new_detail: &'static str,
    you_receive: &'static str,
    sent_by: &'static str,
    read_more: &'static str,
    /// « : » in French (after a no-break space), ":" in English.
    colon: &'static str,
}

const FR: Labels = Labels {
    contents: "Au sommaire",
    read_online: "Lire cette lettre en ligne",
    archive: "Toutes les lettres",
    unsubscribe: "Se désabonner",
    nothing_new: "Rien de neuf cette semaine",
    nothing_new_detail: "Les partenaires du réseau n’ont rien publié dans les canaux de cette lettre pendant la semaine. Rendez-vous la semaine prochaine\u{a0}!",
    you_receive: "Vous recevez cette lettre parce que vous êtes inscrit·e à la liste",
    sent_by: "Lettre composée automatiquement par relais à partir des publications des partenaires du réseau.",
    read_more: "Lire la suite",
    colon: "\u{a0}:",
};

const EN: Labels = Labels {
    contents: "In this issue",
    read_online: "Read this issue online",
    archive: "All issues",
    unsubscribe: "Unsubscribe",
    nothing_new: "Nothing new this week",
    nothing_new_detail: "The network’s partners published nothing in this letter’s channels during the week. See you next week!",
    you_receive: "You receive this letter because you are subscribed to the list",
    sent_by: "Put together automatically by relais from the network partners’ publications.",
    read_more: "Read more",
    colon: ":",
};

fn view(issue: &Issue<'_>) -> View {
    let digest = issue.digest;
    let locale = digest.locale;
    let lang = locale.as_str();
    let by_id: HashMap<&str, &Source> = issue.sources.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut partners_seen: Vec<&str> = Vec::new();
    let mut total = 0;
    let sections: Vec<SectionView> = issue
        .sections
        .iter()
        .filter(|s| !s.stories.is_empty())
        .map(|s| {
            total += s.stories.len();
            for story in &s.stories {
                for p in story.sources() {
                    if !partners_seen.contains(&p) {
                        partners_seen.push(p);
                    }
                }
            }
            let title = typography(&s.channel.title, lang);
            SectionView {
                rule: "-".repeat(title.chars().count().min(TEXT_WIDTH)),
                anchor: s.channel.id.clone(),
                count: s.stories.len(),
                count_label: stories_label(locale, s.stories.len()),
                stories: s
                    .stories
                    .iter()
                    .map(|story| story_view(story, &by_id, digest))
                    .collect(),
                title,
            }
        })
        .collect();
    let summary_line = (total > 0).then(|| match locale {
        Locale::Fr => format!(
            "{} de {}",
            stories_label(locale, total),
            plural(partners_seen.len(), "partenaire", "partenaires")
        ),
        Locale::En => format!(
            "{} from {}",
            stories_label(locale, total),
            plural(partners_seen.len(), "partner", "partners")
        ),
    });
    let unsubscribe = digest
        .unsubscribe
        .iter()
        .find(|u| u.scheme() == "https" || u.scheme() == "http")
        .or_else(|| digest.unsubscribe.first())
        .map(|u| Link {
            href: u.to_string(),
            label: match u.scheme() {
                "mailto" => u.path().to_string(),
                _ => u.to_string(),
            },
        });
    let title = typography(
        &one_line(&digest.title, 200).unwrap_or_else(|| digest.id.clone()),
        lang,
    );
    View {
        lang,
        subject: subject(digest, issue.period),
        rule: "=".repeat(TEXT_WIDTH),
        title,
        period_label: period_label(locale, issue.period),
        period: issue.period.to_string(),
        summary_line,
        empty: total == 0,
        sections,
        t: match locale {
            Locale::Fr => FR,
            Locale::En => EN,
        },
        web_url: http_url(&issue.web_url),
        archive_url: http_url(&issue.archive_url),
        list: digest.to.join(", "),
        unsubscribe,
    }
}

fn story_view(story: &Story, sources: &HashMap<&str, &Source>, digest: &Digest) -> StoryView {
    let locale = digest.locale;
    let item = &story.item;
    let text_lang = item.lang.as_deref().unwrap_or(locale.as_str());
    let mut names: Vec<String> = Vec::new();
    for id in story.sources() {
        let name = sources
            .get(id)
            .and_then(|s| one_line(&s.title, 120))
            .unwrap_or_else(|| id.to_string());
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let title = typography(
        &one_line(&item.title, 300).unwrap_or_else(|| "(sans titre)".into()),
        text_lang,
    );
    let summary = one_line(&item.summary, 4 * SUMMARY_CHARS)
        .map(|s| typography(&cut_on_word(&s, SUMMARY_CHARS), text_lang))
        .unwrap_or_default();
    let local = item.published.with_timezone(&digest.timezone);
    StoryView {
        title_text: wrap(&title, TEXT_WIDTH - 2, "  "),
        summary_text: wrap(&summary, TEXT_WIDTH - 2, "  "),
        title,
        // The canonical form drops tracking parameters (utm_…) a partner may have left.
        href: item
            .canonical_url
            .as_deref()
            .and_then(http_url)
            .or_else(|| super::story_link(story)),
        date: long_date(locale, &local),
        partners: names.join(", "),
        summary,
    }
}

/// `text` cut to at most `max` characters on a word boundary, ended with « … » when cut.
fn cut_on_word(text: &str, max: usize) -> String {
    let Some((end, _)) = text.char_indices().nth(max) else {
        return text.to_string();
    };
    let head = text.get(..end).unwrap_or(text);
    let cut = head.rfind(' ').filter(|&i| i > end / 2).unwrap_or(end);
    format!(
        "{}…",
        text.get(..cut)
            .unwrap_or(head)
            .trim_end_matches(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == ':')
    )
}

/// `text` wrapped at `width` characters on spaces, lines after the first starting with
/// `indent` (the first one's indent is the template's).
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines.join(&format!("\n{indent}"))
}

fn stories_label(locale: Locale, n: usize) -> String {
    match locale {
        Locale::Fr => plural(n, "article", "articles"),
        Locale::En => plural(n, "story", "stories"),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n}\u{a0}{}", if n < 2 { one } else { many })
}

fn long_date<T: chrono::TimeZone>(locale: Locale, date: &DateTime<T>) -> String {
    match locale {
        Locale::Fr => french_date(date),
        Locale::En => format!(
            "{} {}",
            WEEKDAYS_EN
                .get(date.weekday().num_days_from_monday() as usize)
                .copied()
                .unwrap_or_default(),
            day_month_year_en(date.date_naive())
        ),
    }
}

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const WEEKDAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn month(names: &[&'static str; 12], date: NaiveDate) -> &'static str {
    names
        .get(date.month0() as usize)
        .copied()
        .unwrap_or_default()
}

fn day_fr(date: NaiveDate) -> String {
    if date.day() == 1 {
        "1er".to_string()
    } else {
        date.day().to_string()
    }
}

/// « 23 novembre 2026 », « 1er juin 2026 ».
fn day_month_year_fr(date: NaiveDate) -> String {
    format!(
        "{} {} {}",
        day_fr(date),
        month(&super::html::MONTHS_FR, date),
        date.year()
    )
}

/// "23 November 2026".
fn day_month_year_en(date: NaiveDate) -> String {
    format!("{} {} {}", date.day(), month(&MONTHS_EN, date), date.year())
}

/// « Semaine du 16 au 22 novembre 2026 », « Semaine du 26 octobre au 1er novembre
/// 2026 », « Semaine du 28 décembre 2026 au 3 janvier 2027 »; "Week of 16–22 November
/// 2026".
fn period_label(locale: Locale, period: Period) -> String {
    let (a, b) = (period.monday(), period.sunday());
    match locale {
        Locale::Fr if a.year() != b.year() => format!(
            "Semaine du {} au {}",
            day_month_year_fr(a),
            day_month_year_fr(b)
        ),
        Locale::Fr if a.month() != b.month() => format!(
            "Semaine du {} {} au {}",
            day_fr(a),
            month(&super::html::MONTHS_FR, a),
            day_month_year_fr(b)
        ),
        Locale::Fr => format!("Semaine du {} au {}", day_fr(a), day_month_year_fr(b)),
        Locale::En if a.year() != b.year() => format!(
            "Week of {} – {}",
            day_month_year_en(a),
            day_month_year_en(b)
        ),
        Locale::En if a.month() != b.month() => format!(
            "Week of {} {} – {}",
            a.day(),
            month(&MONTHS_EN, a),
            day_month_year_en(b)
        ),
        Locale::En => format!("Week of {}–{}", a.day(), day_month_year_en(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_labels_and_subjects() {
        let cases = [
            (Locale::Fr, "2026-W47", "Semaine du 16 au 22 novembre 2026"),
            (
                Locale::Fr,
                "2026-W44",
                "Semaine du 26 octobre au 1er novembre 2026",
            ),
            (
                Locale::Fr,
                "2026-W53",
                "Semaine du 28 décembre 2026 au 3 janvier 2027",
            ),
            (Locale::En, "2026-W47", "Week of 16–22 November 2026"),
            (
                Locale::En,
                "2026-W44",
                "Week of 26 October – 1 November 2026",
            ),
        ];
        for (locale, period, want) in cases {
            assert_eq!(period_label(locale, period.parse().unwrap()), want);
        }
        assert_eq!(
            day_month_year_fr(NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()),
            "1er juin 2026"
        );
    }

    #[test]
    fn text_is_wrapped_on_words() {
        let text = "Une journée d’échanges entre collectivités et associations du territoire sur la coopération";
        let wrapped = wrap(text, 30, "  ");
        for line in wrapped.lines() {
            assert!(line.chars().count() <= 32, "{line:?}");
        }
        assert_eq!(wrapped.replace("\n  ", " "), text);
        assert_eq!(wrap("", 30, "  "), "");
        assert_eq!(cut_on_word("un deux trois quatre", 12), "un deux…");
        assert_eq!(cut_on_word("court", 12), "court");
    }
}

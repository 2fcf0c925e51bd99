//! Stories: deciding, for a new item, whether it is another partner's appearance of a
//! story already stored — and which rule says so — or a story of its own. Pure: no I/O,
//! no clock; the store gathers the candidates (by URL, title and LSH band, inside the
//! time window) and writes the decision, this module only judges.
//!
//! # Rules, in order
//! 1. **Same page** ([`Rule::Url`]): the canonical URLs have the same
//!    [`match_key`] (scheme, `www.`, trailing slash,
//!    tracking parameters and fragment folded). Home pages (no path) never match, nor
//!    two items of one partner that say different things: some feeds link every item
//!    to the site's root or news page.
//! 2. **Same title** ([`Rule::Title`]): the normalised titles are equal (case, accents,
//!    punctuation, apostrophes and French elisions folded). Titles of fewer than four
//!    significant words (numbers aside: « Appel à projets 2021 » is many partners'
//!    title), generic ones (« Agenda », « Édito »…) and titles derived from the summary
//!    (the item had none) do not count.
//! 3. **Near-duplicate text** ([`Rule::Text`]): found through MinHash + LSH (see
//!    [`minhash`]), verified exactly: the weighted containment of the two word sets
//!    (shared weight over the smaller side's weight; proper nouns and dates weigh 3,
//!    numbers 2, other words 1) reaches [`TEXT_THRESHOLD`] (rising to
//!    [`TEXT_THRESHOLD_FAR`] for items published three weeks or more apart) and the
//!    two share at least one *anchor*: a proper noun, a number, a date, or one names the
//!    other's publisher. Two items of the same source match by text only when
//!    near-identical ([`SAME_SOURCE_THRESHOLD`]): a partner that announces something
//!    twice in other words is announcing two things (the next session, edition…).
//!
//! # Vetoes
//! Whatever the rule, two items never merge when both state facts that differ: event
//! dates ([`Veto::Date`]), years ([`Veto::Year`]), the town after « à »
//! ([`Veto::Place`]), edition or phase numbers ([`Veto::Edition`]), one is a call and
//! the other its results ([`Veto::CallResults`]), or one is about a workshop and the
//! other about the whole gathering it is part of ([`Veto::Part`]: « un atelier aux
//! Rencontres » vs « Rencontres : les inscriptions sont ouvertes »). A new item joins a story only if no
//! member vetoes it. Only an operator's merge overrides a veto (`relais stories merge`).
//!
//! A wrong merge hides news; a missed one shows it twice. Every threshold is chosen for
//! precision first.

pub mod minhash;
pub(crate) mod text;

use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Item;
use crate::normalise::urls::match_key;
use text::Token;
pub use text::{EventDate, Stage};

/// Version of what the store's story index is made of: the words read from a text, their
/// hashes, the MinHash functions and bands, the URL and title keys. Bump it with any
/// change to those: stores indexed by another version rebuild their index at open.
pub const INDEX_VERSION: u32 = 1;

/// Default candidate window: items published up to this far apart can be compared.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60 * 86_400);
/// Least weighted containment for a text match between items published close together.
pub const TEXT_THRESHOLD: f64 = 0.35;
/// Least weighted containment for items published `FAR` apart or more.
pub const TEXT_THRESHOLD_FAR: f64 = 0.50;
/// Least text score for two items of one source (a republished post).
pub const SAME_SOURCE_THRESHOLD: f64 = 0.85;
/// Up to this distance in time, [`TEXT_THRESHOLD`] applies.
const NEAR: f64 = 21.0 * 86_400.0;
/// From this distance on, [`TEXT_THRESHOLD_FAR`] applies; linear in between.
const FAR: f64 = 60.0 * 86_400.0;
/// Least significant words (not stop-words, not numbers) in a title for the title rule.
const MIN_TITLE_WORDS: usize = 4;
/// Least weight of the smaller side for a text match: three words prove nothing.
const MIN_WEIGHT: u32 = 5;

/// Why an item is in its story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The story's first item (or the one an operator split off).
    Primary,
    /// Same canonical URL.
    Url,
    /// Same normalised title.
    Title,
    /// Near-duplicate text.
    Text,
    /// An operator merged it.
    Operator,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Primary => "primary",
            Rule::Url => "url",
            Rule::Title => "title",
            Rule::Text => "text",
            Rule::Operator => "operator merge",
        }
    }

    /// Rank of an automatic rule: a same-URL match beats a same-title one, which beats
    /// a text one.
    fn rank(self) -> u8 {
        match self {
            Rule::Url => 3,
            Rule::Title => 2,
            Rule::Text => 1,
            Rule::Primary | Rule::Operator => 0,
        }
    }
}

/// A fact that differs between two items and keeps them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Veto {
    Date,
    Year,
    Place,
    Edition,
    CallResults,
    Part,
}

impl Veto {
    pub fn as_str(self) -> &'static str {
        match self {
            Veto::Date => "different event dates",
            Veto::Year => "different years",
            Veto::Place => "different places",
            Veto::Edition => "different edition or phase numbers",
            Veto::CallResults => "a call and its results",
            Veto::Part => "a workshop and the whole gathering",
        }
    }
}

/// An automatic match between two items: the rule and its score (1 for URL and title;
/// the weighted containment, 0–1, for text).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    pub rule: Rule,
    pub score: f64,
}

/// How two items compare.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    Same(Match),
    Vetoed(Veto),
    Different,
}

/// A word as matching counts it: its hash (of the folded, stemmed form), so that
/// comparing two texts compares numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word {
    pub key: u64,
    pub weight: u8,
    /// A proper noun, a number or a date: what two texts about one event share.
    pub anchor: bool,
}

/// What matching reads from an item, computed once per item.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    pub published: DateTime<Utc>,
    pub source: Option<String>,
    pub url_key: Option<String>,
    pub title_key: Option<String>,
    /// Sorted by key, each once.
    pub words: Vec<Word>,
    pub dates: Vec<EventDate>,
    pub years: Vec<i32>,
    pub places: Vec<String>,
    pub editions: Vec<u32>,
    pub stage: Option<Stage>,
    /// About one workshop (see [`Veto::Part`]).
    pub workshop: bool,
    /// Names a gathering (rencontres, forum…).
    pub gathering: bool,
    /// The folded tokens in order, space-separated, a capitalised one marked with a
    /// leading `^`: to find a publisher's name (rarely needed, so kept compact).
    names: String,
}

/// Titles that name a kind of post, not a story.
fn generic_title(key: &str) -> bool {
    let significant: Vec<&str> = key
        .split(' ')
        .filter(|w| !w.bytes().all(|b| b.is_ascii_digit()))
        .filter(|w| !text::is_stop(w) && !matches!(*w, "n" | "no" | "numero"))
        .collect();
    matches!(
        significant.join(" ").as_str(),
        "edito"
            | "editorial"
            | "agenda"
            | "actualites"
            | "actualite"
            | "newsletter"
            | "lettre information"
            | "lettre d information"
            | "communique presse"
            | "communique de presse"
            | "revue presse"
            | "revue de presse"
            | "sans titre"
            | "a la une"
            | "breves"
            | "en bref"
            | "news"
            | "untitled"
    )
}

impl Features {
    /// The features of `item` (its title, summary, canonical URL, date and source).
    pub fn of(item: &Item) -> Features {
        let title = item.title.trim();
        let summary = item.summary.trim();
        let bare_title = title.trim_end_matches(['…', '.', ' ']);
        // A title derived from the summary (the publisher gave none) is no title: it
        // neither matches by itself nor counts twice.
        let derived = !bare_title.is_empty()
            && crate::curate::fold(summary).starts_with(&crate::curate::fold(bare_title));
        let title_tokens = if derived {
            Vec::new()
        } else {
            text::tokenize(title)
        };
        let body_tokens = text::tokenize(summary);
        let mut all: Vec<Token> = title_tokens.clone();
        if let Some(first) = body_tokens.first() {
            let mut first = first.clone();
            first.start = true;
            all.push(first);
            all.extend(body_tokens.iter().skip(1).cloned());
        }

        let (dates, date_tokens) = text::dates(&all);
        let words = words_of(&all, &date_tokens, &dates);
        let title_key = title_key(&title_tokens);
        let url_key = item
            .canonical_url
            .as_deref()
            .or(item.url.as_deref())
            .and_then(|u| url::Url::parse(u).ok())
            .filter(|u| u.path().trim_matches('/').len() > 1 || u.query().is_some())
            .map(|u| match_key(&u));
        Features {
            published: item.published,
            source: item.source.clone(),
            url_key,
            title_key,
            words,
            dates,
            years: text::years(&all, item.published.year()),
            places: text::places(&all),
            editions: text::editions(&all),
            stage: text::stage(&title_tokens, &body_tokens),
            workshop: text::workshop(&all),
            gathering: text::names_gathering(&all),
            names: all
                .iter()
                .map(|t| {
                    if t.cap {
                        format!("^{}", t.word)
                    } else {
                        t.word.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    /// The shingles MinHash signs: the words (their hashes), without their weights.
    pub fn shingles(&self) -> impl Iterator<Item = u64> + '_ {
        self.words.iter().map(|w| w.key)
    }

    pub fn signature(&self) -> Option<minhash::Signature> {
        minhash::signature(self.shingles())
    }

    fn total_weight(&self) -> u32 {
        self.words.iter().map(|w| u32::from(w.weight)).sum()
    }

    /// Whether the text names `source` (a publisher id such as `cap-rural` or `cuf`):
    /// its parts as consecutive words (« Cap Rural »), run together (« caprural »), or
    /// as the initials of consecutive capitalised words (« Cités Unies France »).
    fn mentions(&self, source: &str) -> bool {
        let parts: Vec<String> = source
            .split(['-', '_', '.', ' '])
            .filter(|p| !p.is_empty())
            .map(crate::curate::fold)
            .collect();
        let joined: String = parts.concat();
        if joined.len() < 3 {
            return false;
        }
        let names: Vec<(&str, bool)> = self
            .names
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(|w| match w.strip_prefix('^') {
                Some(word) => (word, true),
                None => (w, false),
            })
            .collect();
        // One word, or two or three run together (« Cap Rural » for `caprural`).
        for n in 1..=3 {
            if names.windows(n).any(|w| {
                let mut rest = joined.as_str();
                w.iter().all(|(x, _)| match rest.strip_prefix(*x) {
                    Some(r) => {
                        rest = r;
                        true
                    }
                    None => false,
                }) && rest.is_empty()
            }) {
                return true;
            }
        }
        if parts.len() > 1
            && names
                .windows(parts.len())
                .any(|w| w.iter().zip(&parts).all(|((a, _), b)| a == b))
        {
            return true;
        }
        if parts.len() == 1 && joined.len() <= 6 && joined.is_ascii() {
            let n = joined.len();
            return names.windows(n).any(|w| {
                w.iter().all(|(_, cap)| *cap)
                    && w.iter()
                        .zip(joined.bytes())
                        .all(|((word, _), initial)| word.as_bytes().first() == Some(&initial))
            });
        }
        false
    }
}

/// The key of a word: 64 bits of hash (two distinct words colliding is a chance in
/// billions per comparison, and would add one shared word).
fn word_key(word: &str) -> u64 {
    minhash::fnv1a(word.as_bytes())
}

/// The normalised title: folded words, elisions dropped; `None` when it proves nothing.
fn title_key(tokens: &[Token]) -> Option<String> {
    let kept: Vec<&str> = tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| !text::elided(tokens, *i))
        .map(|(_, t)| t.word.as_str())
        .collect();
    // Numbers do not count: « Appel à projets 2021 » or « Assemblée générale 2024 »
    // are titles many partners use for different things.
    let significant = kept
        .iter()
        .filter(|w| !text::is_stop(w) && !w.bytes().all(|b| b.is_ascii_digit()))
        .count();
    let key = kept.join(" ");
    (significant >= MIN_TITLE_WORDS && !generic_title(&key)).then_some(key)
}

/// The weighted words of a text: stop-words, elisions and the tokens read as dates
/// dropped, English words translated, number words as digits, the rest stemmed; each
/// date as one word of its own (`#3-7`).
fn words_of(tokens: &[Token], date_tokens: &[usize], dates: &[EventDate]) -> Vec<Word> {
    let mut out: Vec<Word> = Vec::new();
    let mut i = 0;
    while let Some(t) = tokens.get(i) {
        let index = i;
        i += 1;
        if date_tokens.binary_search(&index).is_ok() || text::elided(tokens, index) {
            continue;
        }
        let w = t.word.as_str();
        // « dix-huit », « vingt-deux »: one number.
        if let Some(mut n) = text::number_word(w) {
            if let Some(next) = tokens.get(i).filter(|n| n.gap.hyphen) {
                if let Some(m) = text::number_word(&next.word).filter(|&m| m < 10 && n >= 10) {
                    n += m;
                    i += 1;
                }
            }
            out.push(Word {
                key: word_key(&n.to_string()),
                weight: if n >= 10 { 2 } else { 1 },
                anchor: false,
            });
            continue;
        }
        if text::is_stop(w) || (w.chars().count() < 2 && !w.bytes().all(|b| b.is_ascii_digit())) {
            continue;
        }
        let digits = w.bytes().all(|b| b.is_ascii_digit());
        if digits {
            let is_year =
                w.len() == 4 && w.parse::<u32>().is_ok_and(|y| (1900..=2099).contains(&y));
            let significant = w.len() >= 2 && !is_year;
            out.push(Word {
                key: word_key(w),
                weight: if significant { 2 } else { 1 },
                anchor: significant,
            });
            continue;
        }
        let proper = (t.caps || (t.cap && !t.start)) && !text::is_generic_proper(w);
        let word = text::translate(w).unwrap_or(w);
        out.push(Word {
            key: word_key(&text::stem(word)),
            weight: if proper { 3 } else { 1 },
            anchor: proper,
        });
    }
    for d in dates {
        out.push(Word {
            key: word_key(&format!("#{}-{}", d.day, d.month)),
            weight: 3,
            anchor: true,
        });
    }
    out.sort_by(|a, b| a.key.cmp(&b.key).then(b.weight.cmp(&a.weight)));
    // Keep each word once, with its highest weight (a name capitalised once is a name).
    out.dedup_by(|later, kept| {
        if later.key == kept.key {
            kept.anchor |= later.anchor;
            true
        } else {
            false
        }
    });
    out
}

/// The fact that keeps `a` and `b` apart, if both state one that differs.
pub fn veto(a: &Features, b: &Features) -> Option<Veto> {
    if !a.dates.is_empty()
        && !b.dates.is_empty()
        && !a.dates.iter().any(|x| b.dates.iter().any(|y| x.agrees(y)))
    {
        return Some(Veto::Date);
    }
    let disjoint =
        |x: &[i32], y: &[i32]| !x.is_empty() && !y.is_empty() && !x.iter().any(|v| y.contains(v));
    if disjoint(&a.years, &b.years) {
        return Some(Veto::Year);
    }
    if !a.places.is_empty()
        && !b.places.is_empty()
        && !a.places.iter().any(|p| b.places.contains(p))
    {
        return Some(Veto::Place);
    }
    if !a.editions.is_empty()
        && !b.editions.is_empty()
        && !a.editions.iter().any(|e| b.editions.contains(e))
    {
        return Some(Veto::Edition);
    }
    if matches!(
        (a.stage, b.stage),
        (Some(Stage::Call), Some(Stage::Results)) | (Some(Stage::Results), Some(Stage::Call))
    ) {
        return Some(Veto::CallResults);
    }
    if (a.workshop && !b.workshop && b.gathering) || (b.workshop && !a.workshop && a.gathering) {
        return Some(Veto::Part);
    }
    None
}

/// Seconds between two items' publication.
fn distance(a: &Features, b: &Features) -> f64 {
    (a.published - b.published).num_seconds().unsigned_abs() as f64
}

/// The text score of `a` and `b` and whether they share an anchor: weighted containment
/// of the word sets (see the module doc).
pub fn text_score(a: &Features, b: &Features) -> (f64, bool) {
    let (mut i, mut j) = (0, 0);
    let mut shared = 0u32;
    let mut anchored = false;
    while let (Some(x), Some(y)) = (a.words.get(i), b.words.get(j)) {
        match x.key.cmp(&y.key) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += u32::from(x.weight.max(y.weight));
                anchored |= x.anchor || y.anchor;
                i += 1;
                j += 1;
            }
        }
    }
    let smaller = a.total_weight().min(b.total_weight());
    if smaller < MIN_WEIGHT {
        return (0.0, false);
    }
    ((f64::from(shared) / f64::from(smaller)).min(1.0), anchored)
}

/// The text threshold for items `seconds` apart.
fn threshold(seconds: f64) -> f64 {
    let t = ((seconds - NEAR) / (FAR - NEAR)).clamp(0.0, 1.0);
    TEXT_THRESHOLD + (TEXT_THRESHOLD_FAR - TEXT_THRESHOLD) * t
}

/// The best automatic rule that matches `a` and `b` published within `window`, ignoring
/// vetoes (see [`compare`]).
pub fn similar(a: &Features, b: &Features, window: Duration) -> Option<Match> {
    let apart = distance(a, b);
    if apart > window.as_secs_f64() {
        return None;
    }
    let same_source = a.source.is_some() && a.source == b.source;
    let (score, anchored) = text_score(a, b);
    // One partner's two items on one page are the same item only if they say the same:
    // sloppy feeds link every item to their news page.
    if a.url_key.is_some()
        && a.url_key == b.url_key
        && (!same_source || score >= SAME_SOURCE_THRESHOLD)
    {
        return Some(Match {
            rule: Rule::Url,
            score: 1.0,
        });
    }
    let same_title = a.title_key.is_some() && a.title_key == b.title_key;
    if same_source {
        // Only a republication: near-identical words.
        return (score >= SAME_SOURCE_THRESHOLD).then(|| match same_title {
            true => Match {
                rule: Rule::Title,
                score: 1.0,
            },
            false => Match {
                rule: Rule::Text,
                score: (score * 100.0).round() / 100.0,
            },
        });
    }
    if same_title {
        return Some(Match {
            rule: Rule::Title,
            score: 1.0,
        });
    }
    // The publisher's name is looked for only when it is all that is missing.
    let mentioned = || match (&a.source, &b.source) {
        (Some(sa), Some(sb)) if sa != sb => a.mentions(sb) || b.mentions(sa),
        _ => false,
    };
    if score >= threshold(apart) && (anchored || mentioned()) {
        return Some(Match {
            rule: Rule::Text,
            score: (score * 100.0).round() / 100.0,
        });
    }
    None
}

/// How `a` and `b` compare: a veto first, then the rules in order.
pub fn compare(a: &Features, b: &Features, window: Duration) -> Verdict {
    if let Some(v) = veto(a, b) {
        return Verdict::Vetoed(v);
    }
    match similar(a, b, window) {
        Some(m) => Verdict::Same(m),
        None => Verdict::Different,
    }
}

/// A stored story a new item might join: the members the store could read (all of them,
/// so that any can veto), and whether an operator forbade the new item to join it.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    pub story: u64,
    pub members: Vec<(u64, &'a Features)>,
    pub forbidden: bool,
}

/// The story a new item joins, why, and the member it matched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Joined {
    pub story: u64,
    pub rule: Rule,
    pub score: f64,
    pub with: u64,
}

/// The story `new` joins among `groups`, or `None` for a story of its own. A group is
/// eligible when no member vetoes `new` and one member matches it; the best match wins
/// (rule rank, then score, then the older story).
pub fn decide(new: &Features, groups: &[Group<'_>], window: Duration) -> Option<Joined> {
    let mut best: Option<Joined> = None;
    for g in groups.iter().filter(|g| !g.forbidden) {
        if g.members.iter().any(|(_, f)| veto(new, f).is_some()) {
            continue;
        }
        for (item, f) in &g.members {
            let Some(m) = similar(new, f, window) else {
                continue;
            };
            let better = match &best {
                None => true,
                Some(b) => {
                    (m.rule.rank(), m.score, std::cmp::Reverse(g.story))
                        > (b.rule.rank(), b.score, std::cmp::Reverse(b.story))
                }
            };
            if better {
                best = Some(Joined {
                    story: g.story,
                    rule: m.rule,
                    score: m.score,
                    with: *item,
                });
            }
        }
    }
    best
}

#[cfg(test)]
mod tests;

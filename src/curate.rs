//! Curate: which stories a channel lists, and why. Pure: a function of the channel, the
//! configured sources and the stories handed in — no store, no clock — so that the feeds,
//! the pages, the digest and `relais items --channel ID --why` all agree.
//!
//! The rules, in order:
//! 1. **Membership.** A source belongs to the channel when the channel names it in
//!    `sources` or the source carries one of the channel's `tags`; a channel with neither
//!    takes every configured source. A story belongs when any of its appearances (the
//!    primary item or an `also`) comes from a member source. Sources no longer in the
//!    configuration are members of no channel, so removing a partner removes its items.
//! 2. **Phrases.** `include` and `exclude` phrases are matched on whole words against the
//!    title, the summary and each category, after [`fold`]ing both sides (case, accents,
//!    apostrophes and punctuation do not matter). `exclude` wins over `include`; with no
//!    `include`, every member story is a candidate.
//! 3. **Language.** With a channel `lang`, a story is kept when its language equals it or
//!    is a subtag of it (`fr` keeps `fr-FR`). The language is the primary item's, else its
//!    source's configured one; a story whose language is unknown is kept, because most
//!    partner feeds never state one and dropping them would empty French channels.
//! 4. **Order and size.** Newest first by the primary item's `published`, ties broken by
//!    story id so that equal dates never reorder between renders; then `max_items`.
//! 5. **Operators' decisions** (`decisions`): added and pinned stories are listed
//!    whatever the rules say, hidden ones never; pinned stories come first; edits replace
//!    the republished title and summary. [`Curator`] applies rules and decisions together.

mod decisions;

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::config::{Channel, Source};
use crate::model::Story;

pub use decisions::{
    parse_until, Action, ActionError, ActionFields, Change, ChannelView, Decisions, Edit, Hidden,
    Pin, StoryDecisions,
};

/// The channel an action names when the configuration has no such channel.
pub fn unknown_channel<'a>(config: &crate::config::Config, action: &'a Action) -> Option<&'a str> {
    action.channel().filter(|c| config.channel(c).is_none())
}

/// `text` reduced to what phrase matching compares: lower case, diacritics removed
/// (Latin-1 and Latin Extended-A letters by table, combining marks dropped), ligatures
/// spelled out (œ → oe, æ → ae, ß → ss), and every run of non-alphanumeric characters
/// (spaces, apostrophes ’ ' ʼ, hyphens, punctuation) turned into one space, trimmed.
///
/// `fold("Offre d’emploi — Coopération")` is `"offre d emploi cooperation"`.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // A separator is only written once the next word starts, so runs collapse and the
    // result is trimmed without a second pass.
    let mut pending_space = false;
    for c in text.chars() {
        if is_combining_mark(c) {
            continue;
        }
        if let Some(base) = latin_base(c) {
            push_word(&mut out, &mut pending_space, base);
        } else if c.is_alphanumeric() && !is_letter_apostrophe(c) {
            if c.is_ascii() {
                push_word_char(&mut out, &mut pending_space, c.to_ascii_lowercase());
            } else {
                for l in c.to_lowercase() {
                    push_word_char(&mut out, &mut pending_space, l);
                }
            }
        } else {
            pending_space = true;
        }
    }
    out
}

fn push_word(out: &mut String, pending_space: &mut bool, letters: &str) {
    for c in letters.chars() {
        push_word_char(out, pending_space, c);
    }
}

fn push_word_char(out: &mut String, pending_space: &mut bool, c: char) {
    if *pending_space && !out.is_empty() {
        out.push(' ');
    }
    *pending_space = false;
    out.push(c);
}

/// Modifier letters used as apostrophes (« lʼEurope »): letters to Unicode, separators to
/// a reader.
fn is_letter_apostrophe(c: char) -> bool {
    matches!(c, '\u{02BB}'..='\u{02BD}')
}

/// Combining diacritical marks: what an NFD-decomposed « é » carries after its « e ».
fn is_combining_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}')
}

/// The lower-case ASCII spelling of a Latin-1 Supplement or Latin Extended-A letter.
fn latin_base(c: char) -> Option<&'static str> {
    let s = match c {
        'À'..='Å' | 'à'..='å' => "a",
        'Æ' | 'æ' => "ae",
        'Ç' | 'ç' => "c",
        'È'..='Ë' | 'è'..='ë' => "e",
        'Ì'..='Ï' | 'ì'..='ï' => "i",
        'Ð' | 'ð' => "d",
        'Ñ' | 'ñ' => "n",
        'Ò'..='Ö' | 'Ø' | 'ò'..='ö' | 'ø' => "o",
        'Ù'..='Ü' | 'ù'..='ü' => "u",
        'Ý' | 'ý' | 'ÿ' => "y",
        'Þ' | 'þ' => "th",
        'ß' => "ss",
        // Latin Extended-A (U+0100–U+017F), mostly in upper/lower pairs.
        'Ā'..='ą' => "a",
        'Ć'..='č' => "c",
        'Ď'..='đ' => "d",
        'Ē'..='ě' => "e",
        'Ĝ'..='ģ' => "g",
        'Ĥ'..='ħ' => "h",
        'Ĩ'..='ı' => "i",
        'Ĳ' | 'ĳ' => "ij",
        'Ĵ' | 'ĵ' => "j",
        'Ķ' | 'ķ' | 'ĸ' => "k",
        'Ĺ'..='ł' => "l",
        'Ń'..='ŉ' => "n",
        'Ŋ' | 'ŋ' => "ng",
        'Ō'..='ő' => "o",
        'Œ' | 'œ' => "oe",
        'Ŕ'..='ř' => "r",
        'Ś'..='š' | 'ſ' => "s",
        'Ţ'..='ŧ' => "t",
        'Ũ'..='ų' => "u",
        'Ŵ' | 'ŵ' => "w",
        'Ŷ' | 'ŷ' | 'Ÿ' => "y",
        'Ź'..='ž' => "z",
        _ => return None,
    };
    Some(s)
}

/// Whether the folded `phrase` occurs in the folded `text` as a run of whole words.
fn contains_words(text: &str, phrase: &str) -> bool {
    if phrase.is_empty() {
        return false;
    }
    text.match_indices(phrase).any(|(at, _)| {
        let before = at == 0 || text.as_bytes().get(at - 1) == Some(&b' ');
        let end = at + phrase.len();
        let after = end == text.len() || text.as_bytes().get(end) == Some(&b' ');
        before && after
    })
}

/// Where a phrase was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title,
    Summary,
    Category,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Category => "categories",
        }
    }
}

/// A phrase of the channel and where it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhraseMatch {
    /// The phrase as written in the configuration.
    pub phrase: String,
    pub field: Field,
}

/// Why a story's source makes it a member of the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// The channel names the source.
    Source(String),
    /// The source carries one of the channel's tags.
    Tag { source: String, tag: String },
    /// The channel names neither sources nor tags: every configured source belongs.
    AllSources { source: String },
    /// No rule keeps it: an operator added or pinned it here.
    Operator,
}

/// The rules that kept a story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub membership: Membership,
    /// The include phrase that matched; `None` when the channel has no include phrase.
    pub include: Option<PhraseMatch>,
    /// Pinned by an operator: `Some(until)`, `Some(None)` for no end.
    pub pinned: Option<Option<DateTime<Utc>>>,
    /// Added to the channel by an operator.
    pub added: bool,
}

/// The rule that left a story out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeftOut {
    /// None of the story's sources belongs to the channel.
    NotMember { sources: Vec<String> },
    /// An exclude phrase matched (exclude wins over include).
    Excluded(PhraseMatch),
    /// The channel has include phrases and none matched.
    NoInclude,
    /// The story's language is not the channel's.
    Language { lang: String, wanted: String },
    /// It matched, but `max_items` newer stories come before it.
    BeyondMaxItems { rank: usize, max_items: usize },
    /// An operator hid it (hiding wins over everything).
    Hidden(Hidden),
}

impl fmt::Display for Membership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Membership::Source(s) => write!(f, "source `{s}` is named by the channel"),
            Membership::Tag { source, tag } => write!(f, "source `{source}` has tag `{tag}`"),
            Membership::AllSources { source } => {
                write!(f, "all sources (the channel names none; source `{source}`)")
            }
            Membership::Operator => write!(f, "by operator"),
        }
    }
}

impl fmt::Display for PhraseMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "phrase \"{}\" matched in {}",
            self.phrase,
            self.field.as_str()
        )
    }
}

impl fmt::Display for Kept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kept: ")?;
        let mut parts = Vec::new();
        match self.pinned {
            Some(Some(until)) => parts.push(format!(
                "pinned by operator until {}",
                until.format("%Y-%m-%d %H:%M UTC")
            )),
            Some(None) => parts.push("pinned by operator".to_string()),
            None => {}
        }
        if self.added {
            parts.push("added by operator".to_string());
        }
        if self.membership != Membership::Operator {
            parts.push(self.membership.to_string());
        }
        write!(f, "{}", parts.join("; "))?;
        match &self.include {
            Some(m) => write!(f, "; include {m}"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for LeftOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeftOut::NotMember { sources } if sources.is_empty() => {
                write!(f, "left out: the story has no source")
            }
            LeftOut::NotMember { sources } => write!(
                f,
                "left out: source not in channel ({})",
                sources
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            LeftOut::Excluded(m) => write!(f, "left out: excluded by {m}"),
            LeftOut::NoInclude => write!(f, "left out: no include phrase matched"),
            LeftOut::Language { lang, wanted } => {
                write!(f, "left out: language `{lang}` is not `{wanted}`")
            }
            LeftOut::BeyondMaxItems { rank, max_items } => write!(
                f,
                "left out: beyond max_items (rank {rank}, max_items = {max_items})"
            ),
            LeftOut::Hidden(h) => write!(f, "left out: {h}"),
        }
    }
}

/// A channel's rules, prepared once (phrases folded, member sources resolved) and then
/// applied to any number of stories.
#[derive(Debug, Clone)]
pub struct Selector<'a> {
    channel: &'a Channel,
    sources: &'a [Source],
    /// Every configured source that belongs to the channel, and why.
    members: HashMap<&'a str, Membership>,
    /// Folded include / exclude phrases next to the phrase as written.
    include: Vec<(String, &'a str)>,
    exclude: Vec<(String, &'a str)>,
}

impl<'a> Selector<'a> {
    pub fn new(channel: &'a Channel, sources: &'a [Source]) -> Selector<'a> {
        let prepare = |phrases: &'a [String]| {
            phrases
                .iter()
                .map(|p| (fold(p), p.as_str()))
                // A phrase of punctuation only folds to nothing and could match nothing.
                .filter(|(f, _)| !f.is_empty())
                .collect::<Vec<_>>()
        };
        let tags: Vec<String> = channel.tags.iter().map(|t| fold(t)).collect();
        let members = sources
            .iter()
            .filter_map(|s| {
                let id = s.id.clone();
                let why = if channel.sources.is_empty() && channel.tags.is_empty() {
                    Membership::AllSources { source: id }
                } else if channel.sources.contains(&s.id) {
                    Membership::Source(id)
                } else {
                    let tag = s.tags.iter().find_map(|t| {
                        let folded = fold(t);
                        let i = tags.iter().position(|c| *c == folded)?;
                        channel.tags.get(i)
                    })?;
                    Membership::Tag {
                        source: id,
                        tag: tag.clone(),
                    }
                };
                Some((s.id.as_str(), why))
            })
            .collect();
        Selector {
            channel,
            sources,
            members,
            include: prepare(&channel.include),
            exclude: prepare(&channel.exclude),
        }
    }

    pub fn channel(&self) -> &'a Channel {
        self.channel
    }

    /// Every rule but `max_items`, which depends on the other stories.
    pub fn judge(&self, story: &Story) -> Result<Kept, LeftOut> {
        let membership = story
            .sources()
            .find_map(|s| self.members.get(s))
            .cloned()
            .ok_or_else(|| LeftOut::NotMember {
                sources: story.sources().map(str::to_string).collect(),
            })?;
        let mut include = None;
        if !self.include.is_empty() || !self.exclude.is_empty() {
            let fields = Folded::of(story);
            if let Some(m) = fields.find(&self.exclude) {
                return Err(LeftOut::Excluded(m));
            }
            if !self.include.is_empty() {
                include = Some(fields.find(&self.include).ok_or(LeftOut::NoInclude)?);
            }
        }
        self.check_lang(story)?;
        Ok(Kept {
            membership,
            include,
            pinned: None,
            added: false,
        })
    }

    fn check_lang(&self, story: &Story) -> Result<(), LeftOut> {
        let Some(wanted) = self.channel.lang.as_deref() else {
            return Ok(());
        };
        let lang = story.item.lang.as_deref().or_else(|| {
            let source = story.item.source.as_deref()?;
            self.sources
                .iter()
                .find(|s| s.id == source)?
                .lang
                .as_deref()
        });
        match lang {
            Some(lang) if !lang_matches(lang, wanted) => Err(LeftOut::Language {
                lang: lang.to_string(),
                wanted: wanted.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// Every story the rules keep, newest first, not cut at `max_items` (archive pages
    /// walk past it).
    pub fn matching<'s>(&self, stories: &'s [Story]) -> Vec<&'s Story> {
        let mut kept: Vec<&Story> = stories.iter().filter(|s| self.judge(s).is_ok()).collect();
        sort_newest_first(&mut kept);
        kept
    }
}

/// The story's searchable fields, folded once however many phrases are tried.
struct Folded {
    title: String,
    summary: String,
    categories: Vec<String>,
}

impl Folded {
    fn of(story: &Story) -> Folded {
        Folded {
            title: fold(&story.item.title),
            summary: fold(&story.item.summary),
            categories: story.item.categories.iter().map(|c| fold(c)).collect(),
        }
    }

    fn find(&self, phrases: &[(String, &str)]) -> Option<PhraseMatch> {
        phrases.iter().find_map(|(folded, written)| {
            let field = if contains_words(&self.title, folded) {
                Field::Title
            } else if contains_words(&self.summary, folded) {
                Field::Summary
            } else if self.categories.iter().any(|c| contains_words(c, folded)) {
                Field::Category
            } else {
                return None;
            };
            Some(PhraseMatch {
                phrase: (*written).to_string(),
                field,
            })
        })
    }
}

/// `lang` is `wanted` or one of its subtags, ignoring case and `_` for `-`.
fn lang_matches(lang: &str, wanted: &str) -> bool {
    let norm = |s: &str| s.trim().to_ascii_lowercase().replace('_', "-");
    let (lang, wanted) = (norm(lang), norm(wanted));
    if wanted.is_empty() {
        return true;
    }
    lang == wanted
        || (lang.starts_with(&wanted) && lang.as_bytes().get(wanted.len()) == Some(&b'-'))
}

/// Newest first by the primary item's `published`; equal dates by story id, so the order
/// never depends on the order stories were handed in.
pub fn sort_newest_first(stories: &mut [&Story]) {
    stories.sort_by(|a, b| {
        b.item
            .published
            .cmp(&a.item.published)
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// The channel as listed by its rules alone: the stories they keep, newest first, at
/// most `max_items`.
pub fn select<'s>(channel: &Channel, sources: &[Source], stories: &'s [Story]) -> Vec<&'s Story> {
    let mut kept = Selector::new(channel, sources).matching(stories);
    kept.truncate(channel.max_items);
    kept
}

/// A channel's rules and the operators' decisions about it, applied together: the one
/// judge of what a channel lists (see the module doc, rule 5).
#[derive(Debug, Clone)]
pub struct Curator<'a> {
    selector: Selector<'a>,
    view: ChannelView<'a>,
}

impl<'a> Curator<'a> {
    pub fn new(
        channel: &'a Channel,
        sources: &'a [Source],
        decisions: &'a Decisions,
        now: DateTime<Utc>,
    ) -> Curator<'a> {
        Curator {
            selector: Selector::new(channel, sources),
            view: decisions.channel(&channel.id, now),
        }
    }

    pub fn view(&self) -> ChannelView<'a> {
        self.view
    }

    /// Every rule but `max_items`, then the operators' decisions: hidden stories are
    /// out whatever the rules say, added and pinned ones in.
    pub fn judge(&self, story: &Story) -> Result<Kept, LeftOut> {
        if let Some(h) = self.view.hidden(&story.id) {
            return Err(LeftOut::Hidden(h));
        }
        let pinned = self.view.pinned(&story.id).map(|p| p.until);
        let added = self.view.added(&story.id);
        match self.selector.judge(story) {
            Ok(kept) => Ok(Kept {
                pinned,
                added,
                ..kept
            }),
            Err(_) if pinned.is_some() || added => Ok(Kept {
                membership: Membership::Operator,
                include: None,
                pinned,
                added,
            }),
            Err(left_out) => Err(left_out),
        }
    }
}

/// The channel as republished: rules and decisions applied, pinned stories first, at
/// most `max_items`, edits applied.
pub fn select_curated(
    channel: &Channel,
    sources: &[Source],
    stories: &[Story],
    decisions: &Decisions,
    now: DateTime<Utc>,
) -> Vec<Story> {
    let curator = Curator::new(channel, sources, decisions, now);
    let mut kept: Vec<&Story> = stories
        .iter()
        .filter(|s| curator.judge(s).is_ok())
        .collect();
    curator.view().sort(&mut kept);
    kept.truncate(channel.max_items);
    kept.into_iter()
        .map(|s| decisions.edited(s.clone()))
        .collect()
}

/// The channel's selection with the reason for every story, for `relais items --why`.
#[derive(Debug, Clone)]
pub struct Explanation<'s> {
    /// The stories listed, in order, each with the rules that kept it.
    pub kept: Vec<(&'s Story, Kept)>,
    /// Every other story, in the order handed in, with the rule that left it out.
    pub left_out: Vec<(&'s Story, LeftOut)>,
}

impl<'s> Explanation<'s> {
    /// Why the story with this id is in or out; `None` when no such story was handed in.
    pub fn why(&self, story_id: &str) -> Option<Result<&Kept, &LeftOut>> {
        if let Some((_, k)) = self.kept.iter().find(|(s, _)| s.id == story_id) {
            return Some(Ok(k));
        }
        self.left_out
            .iter()
            .find(|(s, _)| s.id == story_id)
            .map(|(_, l)| Err(l))
    }
}

/// [`select`], with the rule behind every decision.
pub fn explain<'s>(channel: &Channel, sources: &[Source], stories: &'s [Story]) -> Explanation<'s> {
    explain_curated(
        channel,
        sources,
        stories,
        &Decisions::default(),
        DateTime::<Utc>::UNIX_EPOCH,
    )
}

/// [`select_curated`] (without the edits), with the rule or decision behind every story.
pub fn explain_curated<'s>(
    channel: &Channel,
    sources: &[Source],
    stories: &'s [Story],
    decisions: &Decisions,
    now: DateTime<Utc>,
) -> Explanation<'s> {
    let curator = Curator::new(channel, sources, decisions, now);
    let mut kept = Vec::new();
    let mut left_out = Vec::new();
    for story in stories {
        match curator.judge(story) {
            Ok(k) => kept.push((story, k)),
            Err(l) => left_out.push((story, l)),
        }
    }
    let order = curator.view().ordering();
    kept.sort_by(|(a, _), (b, _)| order(a, b));
    if kept.len() > channel.max_items {
        let beyond = kept.split_off(channel.max_items);
        left_out.extend(beyond.into_iter().enumerate().map(|(i, (story, _))| {
            (
                story,
                LeftOut::BeyondMaxItems {
                    rank: channel.max_items + i + 1,
                    max_items: channel.max_items,
                },
            )
        }));
    }
    Explanation { kept, left_out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Location;
    use crate::model::{Appearance, Item};
    use chrono::{DateTime, TimeZone, Utc};
    use std::path::PathBuf;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, day, 9, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn item(source: &str, id: &str, title: &str, day: u32) -> Item {
        Item {
            id: id.to_string(),
            source: Some(source.to_string()),
            url: Some(format!("https://{source}.example.org/{id}")),
            canonical_url: None,
            title: title.to_string(),
            summary: String::new(),
            content_html: None,
            published: at(day),
            updated: None,
            authors: Vec::new(),
            categories: Vec::new(),
            lang: None,
            enclosures: Vec::new(),
            published_guessed: false,
            content_hash: String::new(),
        }
    }

    fn story(source: &str, id: &str, title: &str, day: u32) -> Story {
        Story::single(item(source, id, title, day))
    }

    fn source(id: &str, tags: &[&str], lang: Option<&str>) -> Source {
        Source {
            id: id.to_string(),
            title: id.to_uppercase(),
            location: Location::File(PathBuf::from(format!("/feeds/{id}.xml"))),
            site: None,
            interval: None,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            lang: lang.map(str::to_string),
            paused: false,
        }
    }

    fn channel() -> Channel {
        Channel {
            id: "c".into(),
            title: "C".into(),
            description: String::new(),
            sources: Vec::new(),
            tags: Vec::new(),
            include: Vec::new(),
            exclude: Vec::new(),
            lang: None,
            max_items: 50,
        }
    }

    fn sources() -> Vec<Source> {
        vec![
            source("ciedel", &["formation"], None),
            source("cuf", &["Coopération"], None),
            source("resacoop", &["cooperation", "europe"], Some("fr")),
            source("agence", &[], Some("en")),
        ]
    }

    #[test]
    fn fold_table() {
        let cases = [
            ("Coopération", "cooperation"),
            ("ÉLECTION", "election"),
            ("Offre d’emploi", "offre d emploi"),
            ("offre d'emploi", "offre d emploi"),
            ("l\u{2BC}Europe", "l europe"),
            ("Cœur  —  Œuvre", "coeur oeuvre"),
            ("Straße", "strasse"),
            ("ex-æquo", "ex aequo"),
            ("Coope\u{301}ration", "cooperation"),
            ("  «  Saint-Étienne  »  ", "saint etienne"),
            ("Łódź, Škoda, Ğ", "lodz skoda g"),
            ("2025 : an 1", "2025 an 1"),
            ("ÄÖÜ ÿ Ÿ", "aou y y"),
            ("Ελλάδα", "ελλάδα"),
            ("", ""),
            ("…", ""),
        ];
        for (text, want) in cases {
            assert_eq!(fold(text), want, "fold({text:?})");
        }
    }

    #[test]
    fn phrase_matching_table() {
        // (phrase, text, matches)
        let cases = [
            ("cooperation", "La coopération décentralisée", true),
            (
                "Coopération décentralisée",
                "COOPERATION DECENTRALISEE",
                true,
            ),
            ("élection", "Une sélection de projets", false),
            ("élection", "Après l'élection municipale", true),
            ("offre d'emploi", "Offre d’emploi : chargé de mission", true),
            ("offre d'emploi", "offre-d-emploi", true),
            ("offre d'emploi", "offre d'emplois", false),
            ("europe", "L’Europe des territoires", true),
            ("europe", "européen", false),
            ("eau", "réseau", false),
            ("eau", "eau potable", true),
            ("action internationale", "l'action\ninternationale", true),
            ("action internationale", "l'action, internationale", true),
            ("action internationale", "internationale action", false),
        ];
        for (phrase, text, want) in cases {
            assert_eq!(
                contains_words(&fold(text), &fold(phrase)),
                want,
                "{phrase:?} in {text:?}"
            );
        }
    }

    #[test]
    fn membership_table() {
        let sources = sources();
        let stories = [
            story("ciedel", "1", "a", 1),
            story("cuf", "2", "b", 2),
            story("resacoop", "3", "c", 3),
            story("agence", "4", "d", 4),
            story("retired", "5", "e", 5),
        ];
        // (sources, tags, expected story ids newest first)
        let cases: [(&[&str], &[&str], &[&str]); 5] = [
            (&[], &[], &["agence/4", "resacoop/3", "cuf/2", "ciedel/1"]),
            (&["ciedel"], &[], &["ciedel/1"]),
            (&[], &["cooperation"], &["resacoop/3", "cuf/2"]),
            (&["ciedel"], &["europe"], &["resacoop/3", "ciedel/1"]),
            (&[], &["nothing"], &[]),
        ];
        for (names, tags, want) in cases {
            let mut ch = channel();
            ch.sources = names.iter().map(|s| s.to_string()).collect();
            ch.tags = tags.iter().map(|s| s.to_string()).collect();
            let got: Vec<&str> = select(&ch, &sources, &stories)
                .iter()
                .map(|s| s.id.as_str())
                .collect();
            assert_eq!(got, want, "sources {names:?} tags {tags:?}");
        }
    }

    #[test]
    fn an_also_appearance_makes_a_story_a_member() {
        let sources = sources();
        let mut s = story("agence", "x", "Cross-posted", 3);
        s.also.push(Appearance {
            source: "ciedel".into(),
            url: None,
            published: at(4),
        });
        let mut ch = channel();
        ch.sources = vec!["ciedel".into()];
        let stories = [s];
        let e = explain(&ch, &sources, &stories);
        assert_eq!(
            e.why("agence/x"),
            Some(Ok(&Kept {
                membership: Membership::Source("ciedel".into()),
                include: None,
                pinned: None,
                added: false,
            }))
        );
    }

    #[test]
    fn phrase_rules_table() {
        let sources = sources();
        let mut tagged = item("cuf", "t", "Rencontres 2025", 5);
        tagged.categories = vec!["Coopération décentralisée".into()];
        let mut summary = item("cuf", "s", "Appel à projets", 4);
        summary.summary = "Pour la coopération internationale.".into();
        let stories = [
            Story::single(tagged),
            Story::single(summary),
            story("cuf", "j", "Offre d’emploi : coopération", 3),
            story("cuf", "n", "Une sélection de livres", 2),
        ];
        let mut ch = channel();
        ch.include = vec!["coopération".into(), "élection".into()];
        ch.exclude = vec!["offre d'emploi".into()];
        let e = explain(&ch, &sources, &stories);
        let why = |id: &str| e.why(id).map(|r| r.cloned().map_err(Clone::clone));
        let found = |phrase: &str, field| PhraseMatch {
            phrase: phrase.into(),
            field,
        };
        let all = |s: &str| Membership::AllSources { source: s.into() };
        assert_eq!(
            why("cuf/t"),
            Some(Ok(Kept {
                membership: all("cuf"),
                include: Some(found("coopération", Field::Category)),
                pinned: None,
                added: false,
            }))
        );
        assert_eq!(
            why("cuf/s"),
            Some(Ok(Kept {
                membership: all("cuf"),
                include: Some(found("coopération", Field::Summary)),
                pinned: None,
                added: false,
            }))
        );
        // Exclude wins although "coopération" is in the title too.
        assert_eq!(
            why("cuf/j"),
            Some(Err(LeftOut::Excluded(found(
                "offre d'emploi",
                Field::Title
            ))))
        );
        assert_eq!(why("cuf/n"), Some(Err(LeftOut::NoInclude)));
        assert_eq!(why("cuf/none"), None);
        assert_eq!(
            e.kept
                .iter()
                .map(|(s, _)| s.id.as_str())
                .collect::<Vec<_>>(),
            ["cuf/t", "cuf/s"]
        );
    }

    #[test]
    fn language_table() {
        let sources = sources();
        // (channel lang, item lang, source, kept)
        let cases = [
            (Some("fr"), Some("fr-FR"), "cuf", true),
            (Some("fr"), Some("FR_be"), "cuf", true),
            (Some("fr"), Some("fr"), "cuf", true),
            (Some("fr"), Some("fry"), "cuf", false),
            (Some("fr"), Some("en"), "cuf", false),
            (Some("fr-FR"), Some("fr"), "cuf", false),
            (Some("fr"), None, "cuf", true),      // unknown: kept
            (Some("fr"), None, "agence", false),  // the source says en
            (Some("fr"), None, "resacoop", true), // the source says fr
            (Some("en"), Some("fr"), "agence", false),
            (None, Some("de"), "cuf", true),
        ];
        for (wanted, lang, src, kept) in cases {
            let mut ch = channel();
            ch.lang = wanted.map(str::to_string);
            let mut it = item(src, "l", "t", 1);
            it.lang = lang.map(str::to_string);
            let stories = [Story::single(it)];
            let got = Selector::new(&ch, &sources).judge(&stories[0]);
            assert_eq!(got.is_ok(), kept, "channel {wanted:?} item {lang:?} {src}");
            if !kept {
                assert!(matches!(got, Err(LeftOut::Language { .. })), "{got:?}");
            }
        }
    }

    #[test]
    fn max_items_and_stable_order_for_equal_dates() {
        let sources = sources();
        let stories = [
            story("cuf", "b", "b", 2),
            story("ciedel", "z", "z", 2),
            story("cuf", "a", "a", 2),
            story("cuf", "new", "new", 9),
            story("cuf", "old", "old", 1),
        ];
        let mut ch = channel();
        ch.max_items = 3;
        let ids = |v: Vec<&Story>| v.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(select(&ch, &sources, &stories)),
            ["cuf/new", "ciedel/z", "cuf/a"]
        );
        // Handing the stories in reverse changes nothing.
        let mut reversed = stories.to_vec();
        reversed.reverse();
        assert_eq!(
            ids(select(&ch, &sources, &reversed)),
            ["cuf/new", "ciedel/z", "cuf/a"]
        );
        let e = explain(&ch, &sources, &stories);
        assert_eq!(
            e.why("cuf/old"),
            Some(Err(&LeftOut::BeyondMaxItems {
                rank: 5,
                max_items: 3
            }))
        );
        assert_eq!(
            e.why("cuf/b")
                .map(|r| r.map_err(ToString::to_string))
                .and_then(Result::err),
            Some("left out: beyond max_items (rank 4, max_items = 3)".to_string())
        );
    }

    #[test]
    fn reasons_read_well() {
        let kept = Kept {
            membership: Membership::Tag {
                source: "cuf".into(),
                tag: "cooperation".into(),
            },
            include: Some(PhraseMatch {
                phrase: "coopération".into(),
                field: Field::Title,
            }),
            pinned: None,
            added: false,
        };
        assert_eq!(
            kept.to_string(),
            "kept: source `cuf` has tag `cooperation`; include phrase \"coopération\" matched in title"
        );
        let out = LeftOut::NotMember {
            sources: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            out.to_string(),
            "left out: source not in channel (`a`, `b`)"
        );
    }

    #[test]
    fn operators_decisions_over_the_rules() {
        let sources = sources();
        let mut ch = channel();
        ch.sources = vec!["cuf".into()];
        ch.max_items = 3;
        let stories = [
            story("cuf", "new", "Nouveau", 9),
            story("cuf", "mid", "Milieu", 5),
            story("cuf", "old", "Ancien", 1),
            story("ciedel", "other", "Ailleurs", 7),
            story("ciedel", "gone", "Caché", 8),
        ];
        let now = at(10);
        let mut decisions = Vec::new();
        let mut act = |id: &str, action: Action, when: DateTime<Utc>| {
            let mut d = StoryDecisions::default();
            d.apply(&action, ("", ""), when).unwrap();
            decisions.push((id.to_string(), d));
        };
        act(
            "cuf/old",
            Action::Pin {
                channel: "c".into(),
                until: None,
            },
            at(2),
        );
        act(
            "ciedel/other",
            Action::Add {
                channel: "c".into(),
            },
            at(2),
        );
        act(
            "cuf/new",
            Action::Hide {
                channel: Some("c".into()),
            },
            at(2),
        );
        act(
            "cuf/mid",
            Action::Edit {
                title: Some("Titre revu".into()),
                summary: Some("Court.".into()),
            },
            at(2),
        );
        let decisions = Decisions::new(decisions, Some(at(2)));
        let listed = select_curated(&ch, &sources, &stories, &decisions, now);
        let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["cuf/old", "ciedel/other", "cuf/mid"]);
        let mid = &listed[2];
        assert_eq!(mid.item.title, "Titre revu");
        assert_eq!(mid.item.summary, "Court.");
        assert_eq!(mid.item.content_html, None);
        assert_eq!(
            stories[1].item.title, "Milieu",
            "the stored story is untouched"
        );

        let e = explain_curated(&ch, &sources, &stories, &decisions, now);
        let why = |id: &str| match e.why(id) {
            Some(Ok(k)) => k.to_string(),
            Some(Err(l)) => l.to_string(),
            None => "absent".into(),
        };
        assert_eq!(
            why("cuf/old"),
            "kept: pinned by operator; source `cuf` is named by the channel"
        );
        assert_eq!(why("ciedel/other"), "kept: added by operator");
        assert_eq!(
            why("cuf/new"),
            "left out: hidden by operator in this channel"
        );
        assert_eq!(
            why("ciedel/gone"),
            "left out: source not in channel (`ciedel`)"
        );

        // Without decisions, the rules alone.
        let plain = select_curated(&ch, &sources, &stories, &Decisions::default(), now);
        let ids: Vec<&str> = plain.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["cuf/new", "cuf/mid", "cuf/old"]);
    }

    #[test]
    fn an_expired_pin_is_no_pin_and_hiding_everywhere_wins() {
        let sources = sources();
        let ch = channel();
        let stories = [story("cuf", "a", "A", 9), story("cuf", "b", "B", 1)];
        let mut pinned = StoryDecisions::default();
        pinned
            .apply(
                &Action::Pin {
                    channel: "c".into(),
                    until: Some(at(5)),
                },
                ("", ""),
                at(2),
            )
            .unwrap();
        let decisions = Decisions::new([("cuf/b".to_string(), pinned.clone())], None);
        let order = |now| {
            select_curated(&ch, &sources, &stories, &decisions, now)
                .into_iter()
                .map(|s| s.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(order(at(4)), ["cuf/b", "cuf/a"]);
        assert_eq!(order(at(5)), ["cuf/a", "cuf/b"]);
        pinned
            .apply(&Action::Hide { channel: None }, ("", ""), at(3))
            .unwrap();
        let decisions = Decisions::new([("cuf/b".to_string(), pinned)], None);
        let e = explain_curated(&ch, &sources, &stories, &decisions, at(4));
        assert_eq!(e.why("cuf/b").map(|r| r.is_err()), Some(true));
        assert_eq!(
            e.why("cuf/b")
                .and_then(Result::err)
                .map(ToString::to_string)
                .as_deref(),
            Some("left out: hidden by operator everywhere")
        );
    }
}

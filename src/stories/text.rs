//! What matching reads out of a short French (or English) news text: words folded for
//! comparison, and the facts that tell two look-alike announcements apart — event dates,
//! years, the town after « à », edition and phase numbers, call-for-projects vs results.
//! Pure: no I/O, no clock.
//!
//! Folding is [`crate::curate::fold`] per token (case, accents, ligatures), plus what
//! comparison needs on top: French elisions dropped (« l’IFRADEL » → `ifradel`,
//! « qu’il » → `il`), stop-words dropped (French and English), number words read as
//! digits (« huit » → `8`, « dix-huit » → `18`), thousands joined (« 1 200 » → `1200`),
//! a light suffix stripping (plural `s`/`x`, then a final `e`) so that « communes »
//! meets « commune », and a small English→French lexicon so that an English version of
//! an item shares words with the French one.
//!
//! The extractors err on the side of finding nothing: a fact found on one side only
//! never vetoes, and a veto only costs a missed merge, never a wrong one.

use crate::curate::fold;

/// One word of the text as written, with what matching needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// Folded: lower case, no accents.
    pub word: String,
    /// Starts with an upper-case letter.
    pub cap: bool,
    /// At least two letters, all upper case (an acronym: CIEDEL, LEADER, GAL).
    pub caps: bool,
    /// First word of a sentence, a quotation or a title: its capital says nothing.
    pub start: bool,
    /// The raw token was « à » (or « À »), not the verb « a ».
    pub a_grave: bool,
    /// What separated it from the previous token.
    pub gap: Gap,
}

/// The characters between two tokens, reduced to what the extractors look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Gap {
    /// Exactly one hyphen or dash (« Clermont-Ferrand », « 26-27 », « dix-huit »).
    pub hyphen: bool,
    /// Exactly one slash (« 03/07/2019 », « (1/2) »).
    pub slash: bool,
    /// Only spaces (regular or no-break): « 1 200 ».
    pub space: bool,
    /// An apostrophe ends the previous token (« l’ », « d' »).
    pub apostrophe: bool,
    /// A degree sign or º (« n°2 »).
    pub degree: bool,
    /// A period right after the previous token (« déc. »).
    pub period: bool,
}

/// Characters that end a sentence or open a quotation: the next capital is no sign of
/// a proper noun.
fn starts_sentence(c: char) -> bool {
    matches!(
        c,
        '.' | '!' | '?' | ':' | ';' | '«' | '"' | '“' | '(' | '[' | '\n' | '–' | '—' | '…' | '|'
    )
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | 'ʼ' | '‘' | '`' | '´')
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '‐' | '‑' | '‒' | '–' | '—')
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\u{A0}' || c == '\u{202F}' || c == '\t'
}

/// Splits `text` into tokens. Letters and digits make words; everything else separates
/// them and is summarised in the next token's [`Gap`].
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    let mut word = String::new();
    let mut gap_chars: Vec<char> = Vec::new();
    let mut at_start = true;
    for c in text.chars().chain(std::iter::once('\n')) {
        if c.is_alphanumeric() && !matches!(c, '\u{02BB}'..='\u{02BD}') {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            let gap = summarise(&gap_chars);
            let start = at_start || gap_chars.iter().any(|&g| starts_sentence(g));
            out.push(make_token(&word, gap, start));
            word.clear();
            gap_chars.clear();
            at_start = false;
        }
        gap_chars.push(c);
    }
    join_thousands(&mut out);
    out
}

fn summarise(gap: &[char]) -> Gap {
    let non_space: Vec<char> = gap.iter().copied().filter(|&c| !is_space(c)).collect();
    Gap {
        hyphen: non_space.len() == 1 && non_space.iter().all(|&c| is_dash(c)),
        slash: non_space == ['/'],
        space: !gap.is_empty() && non_space.is_empty(),
        apostrophe: gap.first().is_some_and(|&c| is_apostrophe(c)),
        degree: gap.first().is_some_and(|&c| c == '°' || c == 'º'),
        period: gap.first() == Some(&'.'),
    }
}

fn make_token(raw: &str, gap: Gap, start: bool) -> Token {
    let mut letters = raw.chars().filter(|c| c.is_alphabetic());
    let cap = raw.chars().next().is_some_and(char::is_uppercase);
    let caps =
        raw.chars().filter(|c| c.is_alphabetic()).count() >= 2 && letters.all(|c| c.is_uppercase());
    let word = if raw.is_ascii() {
        raw.to_ascii_lowercase()
    } else {
        fold(raw)
    };
    Token {
        word,
        cap,
        caps,
        start,
        a_grave: raw == "à" || raw == "À",
        gap,
    }
}

/// « 1 200 » and « 60 000 » are one number: a run of one to three digits followed,
/// across a space, by groups of exactly three.
fn join_thousands(tokens: &mut Vec<Token>) {
    let digits = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit());
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    for t in tokens.drain(..) {
        if let Some(head) = out.last_mut() {
            let joins = digits(&head.word)
                && head.word.len() <= 7
                && !is_year_word(&head.word)
                && t.gap.space
                && t.word.len() == 3
                && digits(&t.word);
            if joins {
                head.word.push_str(&t.word);
                continue;
            }
        }
        out.push(t);
    }
    *tokens = out;
}

fn is_year_word(w: &str) -> bool {
    w.len() == 4 && w.parse::<u32>().is_ok_and(|y| (1900..=2099).contains(&y))
}

/// Elided articles and pronouns: written with an apostrophe, they carry no meaning.
fn is_elision(word: &str) -> bool {
    matches!(
        word,
        "l" | "d"
            | "j"
            | "m"
            | "n"
            | "s"
            | "t"
            | "c"
            | "qu"
            | "jusqu"
            | "lorsqu"
            | "puisqu"
            | "quoiqu"
    )
}

/// True when token `i` is an elided word (« l’ », « qu’ »): the next token starts with
/// an apostrophe gap.
pub(crate) fn elided(tokens: &[Token], i: usize) -> bool {
    let Some(t) = tokens.get(i) else {
        return false;
    };
    tokens.get(i + 1).is_some_and(|n| n.gap.apostrophe) && is_elision(&t.word)
}

/// Words that say nothing about which announcement a text is (folded).
pub(crate) fn is_stop(word: &str) -> bool {
    STOP.binary_search(&word).is_ok()
}

/// French and English function words, folded, sorted (binary search).
const STOP: &[&str] = &[
    "a", "about", "afin", "after", "ainsi", "all", "also", "an", "and", "apres", "are", "as", "at",
    "au", "aucun", "aussi", "autre", "autres", "aux", "avant", "avec", "avoir", "be", "been",
    "before", "but", "by", "c", "ca", "can", "car", "ce", "ceci", "cela", "celle", "celles",
    "celui", "ces", "cet", "cette", "ceux", "chaque", "chez", "ci", "comme", "comment", "could",
    "d", "dans", "de", "deja", "depuis", "des", "donc", "dont", "du", "during", "elle", "elles",
    "en", "encore", "entre", "est", "et", "etaient", "etait", "ete", "etre", "eux", "for", "from",
    "had", "has", "have", "he", "her", "his", "how", "i", "il", "ils", "in", "into", "is", "it",
    "its", "j", "je", "jusqu", "l", "la", "le", "les", "leur", "leurs", "lors", "lui", "m", "ma",
    "mais", "me", "meme", "memes", "mes", "moi", "moins", "mon", "more", "most", "n", "ne", "ni",
    "no", "nos", "not", "notre", "nous", "of", "on", "ont", "or", "ou", "our", "out", "over",
    "par", "parmi", "pas", "pendant", "peu", "plus", "pour", "pourquoi", "qu", "quand", "que",
    "quel", "quelle", "quelles", "quels", "qui", "quoi", "s", "sa", "sans", "se", "selon", "ses",
    "she", "si", "son", "sont", "sous", "sur", "t", "ta", "te", "tes", "than", "that", "the",
    "their", "them", "these", "they", "this", "those", "to", "toi", "ton", "tous", "tout", "toute",
    "toutes", "tres", "tu", "un", "une", "up", "us", "vers", "via", "vos", "votre", "vous", "was",
    "we", "were", "what", "when", "where", "which", "who", "will", "with", "would", "y", "you",
    "your",
];

/// The value of a number word (French or English), if it is one.
pub(crate) fn number_word(word: &str) -> Option<u32> {
    Some(match word {
        "deux" | "two" => 2,
        "trois" | "three" => 3,
        "quatre" | "four" => 4,
        "cinq" | "five" => 5,
        "six" => 6,
        "sept" | "seven" => 7,
        "huit" | "eight" => 8,
        "neuf" | "nine" => 9,
        "dix" | "ten" => 10,
        "onze" | "eleven" => 11,
        "douze" | "twelve" => 12,
        "treize" | "thirteen" => 13,
        "quatorze" | "fourteen" => 14,
        "quinze" | "fifteen" => 15,
        "seize" | "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        "vingt" | "twenty" => 20,
        "trente" | "thirty" => 30,
        "quarante" | "forty" => 40,
        "cinquante" | "fifty" => 50,
        "soixante" | "sixty" => 60,
        "cent" | "hundred" => 100,
        _ => return None,
    })
}

/// A month name or abbreviation, French or English, folded.
pub(crate) fn month(word: &str) -> Option<u32> {
    Some(match word {
        "janvier" | "janv" | "january" => 1,
        "fevrier" | "fevr" | "fev" | "february" => 2,
        "mars" | "march" => 3,
        "avril" | "avr" | "april" => 4,
        "mai" | "may" => 5,
        "juin" | "june" => 6,
        "juillet" | "juil" | "july" => 7,
        "aout" | "august" => 8,
        "septembre" | "sept" | "september" => 9,
        "octobre" | "oct" | "october" => 10,
        "novembre" | "nov" | "november" => 11,
        "decembre" | "dec" | "december" => 12,
        _ => return None,
    })
}

/// The day of the month a token gives (« 3 », « 1er », « 15th »), if any.
fn day_number(word: &str) -> Option<u32> {
    let digits: &str = word
        .strip_suffix("er")
        .or_else(|| word.strip_suffix("re"))
        .or_else(|| word.strip_suffix("st"))
        .or_else(|| word.strip_suffix("nd"))
        .or_else(|| word.strip_suffix("rd"))
        .or_else(|| word.strip_suffix("th"))
        .unwrap_or(word);
    if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let d: u32 = digits.parse().ok()?;
    (1..=31).contains(&d).then_some(d)
}

/// Light stemming: plural `s`/`x` then a final `e` off words of five letters or more,
/// so that singular, plural and feminine forms meet. Numbers are left alone.
pub(crate) fn stem(word: &str) -> String {
    if word.bytes().all(|b| b.is_ascii_digit()) {
        return word.to_string();
    }
    let mut w = word;
    if w.len() >= 5 {
        if let Some(s) = w.strip_suffix('s').or_else(|| w.strip_suffix('x')) {
            w = s;
        }
    }
    if w.len() >= 5 {
        if let Some(s) = w.strip_suffix('e') {
            w = s;
        }
    }
    w.to_string()
}

/// English words of the network's vocabulary, and the French word they stand for, so
/// that the English version of an item shares words with the French one. General
/// vocabulary only (what any partner writes about), sorted for binary search.
const LEXICON: &[(&str, &str)] = &[
    ("agriculture", "agriculture"),
    ("agroforestry", "agroforesterie"),
    ("applications", "candidatures"),
    ("assessment", "diagnostic"),
    ("assessments", "diagnostics"),
    ("association", "association"),
    ("associations", "associations"),
    ("authorities", "collectivites"),
    ("authority", "collectivite"),
    ("awards", "prix"),
    ("budget", "budget"),
    ("budgets", "budgets"),
    ("call", "appel"),
    ("capacity", "capacite"),
    ("centre", "centre"),
    ("certificate", "certificat"),
    ("certificates", "certificats"),
    ("children", "enfants"),
    ("cities", "villes"),
    ("city", "ville"),
    ("climate", "climat"),
    ("conference", "conference"),
    ("cooperation", "cooperation"),
    ("council", "conseil"),
    ("councils", "conseils"),
    ("crisis", "crise"),
    ("decentralised", "decentralisee"),
    ("decentralized", "decentralisee"),
    ("delegation", "delegation"),
    ("democracy", "democratie"),
    ("development", "developpement"),
    ("drinking", "potable"),
    ("economic", "economique"),
    ("economy", "economie"),
    ("education", "education"),
    ("elected", "elus"),
    ("energy", "energie"),
    ("engineers", "ingenieurs"),
    ("environment", "environnement"),
    ("european", "europeen"),
    ("exchange", "echange"),
    ("exchanges", "echanges"),
    ("expert", "expertise"),
    ("experts", "experts"),
    ("farmers", "agriculteurs"),
    ("festival", "festival"),
    ("flood", "crue"),
    ("floods", "crues"),
    ("food", "alimentaire"),
    ("forum", "forum"),
    ("fund", "fonds"),
    ("funding", "financement"),
    ("governance", "gouvernance"),
    ("governments", "collectivites"),
    ("guide", "guide"),
    ("health", "sante"),
    ("heritage", "patrimoine"),
    ("historic", "historique"),
    ("housing", "logement"),
    ("inhabitants", "habitants"),
    ("international", "international"),
    ("launch", "lancement"),
    ("local", "local"),
    ("management", "gestion"),
    ("mayor", "maire"),
    ("mayors", "maires"),
    ("meeting", "reunion"),
    ("members", "membres"),
    ("migrants", "migrants"),
    ("migration", "migrations"),
    ("mission", "mission"),
    ("municipal", "communal"),
    ("municipalities", "communes"),
    ("municipality", "commune"),
    ("network", "reseau"),
    ("networks", "reseaux"),
    ("participants", "participants"),
    ("participation", "participation"),
    ("participatory", "participatif"),
    ("partners", "partenaires"),
    ("partnership", "partenariat"),
    ("partnerships", "partenariats"),
    ("peace", "paix"),
    ("plan", "plan"),
    ("plans", "plans"),
    ("policies", "politiques"),
    ("policy", "politique"),
    ("programme", "programme"),
    ("project", "projet"),
    ("projects", "projets"),
    ("publication", "publication"),
    ("region", "region"),
    ("regions", "regions"),
    ("report", "rapport"),
    ("research", "recherche"),
    ("resilient", "resilients"),
    ("restoration", "restauration"),
    ("results", "resultats"),
    ("rural", "rural"),
    ("sanitation", "assainissement"),
    ("school", "ecole"),
    ("schools", "ecoles"),
    ("seminar", "seminaire"),
    ("social", "social"),
    ("solidarity", "solidarite"),
    ("study", "etude"),
    ("survey", "enquete"),
    ("sustainable", "durable"),
    ("territories", "territoires"),
    ("territory", "territoire"),
    ("town", "ville"),
    ("training", "formation"),
    ("volunteers", "volontaires"),
    ("waste", "dechets"),
    ("water", "eau"),
    ("webinar", "webinaire"),
    ("winners", "laureats"),
    ("women", "femmes"),
    ("workshop", "atelier"),
    ("young", "jeunes"),
    ("youth", "jeunes"),
];

/// The French word an English word stands for, when the lexicon has it.
pub(crate) fn translate(word: &str) -> Option<&'static str> {
    LEXICON
        .binary_search_by(|(en, _)| en.cmp(&word))
        .ok()
        .and_then(|i| LEXICON.get(i))
        .map(|(_, fr)| *fr)
}

/// An event date: day and month, the year when the text gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventDate {
    pub day: u32,
    pub month: u32,
    pub year: Option<i32>,
}

impl EventDate {
    /// Same day and month, and the same year when both say one.
    pub fn agrees(&self, other: &EventDate) -> bool {
        self.day == other.day
            && self.month == other.month
            && (self.year.is_none() || other.year.is_none() || self.year == other.year)
    }
}

/// Event dates in `tokens`, and the indexes of the tokens they were read from (so the
/// words do not count them twice). French « le 3 juillet », « les 14 et 15 novembre
/// 2019 », « du 12 au 18 novembre », « 26-27 février », « le 10 déc. », « 1er
/// décembre »; numeric « 03/07/2019 »; English « 15 November », « May 28 ». A month
/// with no day (« en novembre ») is no date: too vague to tell events apart.
pub(crate) fn dates(tokens: &[Token]) -> (Vec<EventDate>, Vec<usize>) {
    let mut out = Vec::new();
    let mut used = Vec::new();
    let year_at = |i: usize| -> Option<i32> {
        let t = tokens.get(i)?;
        (t.word.len() == 4)
            .then(|| t.word.parse::<i32>().ok())
            .flatten()
            .filter(|y| (1900..=2099).contains(y))
    };
    for (i, t) in tokens.iter().enumerate() {
        let Some(m) = month(&t.word) else {
            // Numeric dd/mm/yyyy.
            if let (Some(d), Some(mt), Some(yt)) = (
                day_number(&t.word).filter(|_| t.word.len() <= 2),
                tokens.get(i + 1).filter(|n| n.gap.slash),
                tokens.get(i + 2).filter(|n| n.gap.slash),
            ) {
                let month_ok = mt.word.len() <= 2 && mt.word.bytes().all(|b| b.is_ascii_digit());
                let mo: u32 = mt.word.parse().unwrap_or(0);
                let y: Option<i32> = match yt.word.len() {
                    4 => yt.word.parse().ok(),
                    2 => yt.word.parse::<i32>().ok().map(|y| 2000 + y),
                    _ => None,
                };
                if month_ok && (1..=12).contains(&mo) && y.is_some() {
                    out.push(EventDate {
                        day: d,
                        month: mo,
                        year: y,
                    });
                    used.extend([i, i + 1, i + 2]);
                }
            }
            continue;
        };
        let year = year_at(i + 1);
        let mut days = Vec::new();
        // Days before the month: « 18 novembre », « 14 et 15 novembre », « 12 au 18 »,
        // « 26-27 ».
        if let Some(d) = i
            .checked_sub(1)
            .and_then(|j| tokens.get(j))
            .and_then(|p| day_number(&p.word))
        {
            days.push((d, i - 1));
            let j = i - 1;
            let hyphen_before = tokens.get(j).is_some_and(|p| p.gap.hyphen);
            let linked = if hyphen_before {
                j.checked_sub(1)
            } else {
                j.checked_sub(1)
                    .filter(|&k| {
                        tokens.get(k).is_some_and(|c| {
                            matches!(c.word.as_str(), "et" | "au" | "a" | "and" | "to")
                        })
                    })
                    .and_then(|k| k.checked_sub(1))
            };
            if let Some(k) = linked {
                if let Some(d0) = tokens.get(k).and_then(|p| day_number(&p.word)) {
                    days.push((d0, k));
                }
            }
        } else if let Some(d) = tokens.get(i + 1).and_then(|n| {
            // English « May 28 »: the day after the month, not a year.
            (n.word.len() <= 4).then(|| day_number(&n.word)).flatten()
        }) {
            days.push((d, i + 1));
        }
        if days.is_empty() {
            continue;
        }
        let year = year.or_else(|| {
            // « May 28, 2020 » / « le 28 mai 2020 » are handled; « 28 May 2020 » too.
            days.iter()
                .map(|&(_, k)| k)
                .max()
                .filter(|&k| k > i)
                .and_then(|k| year_at(k + 1))
        });
        for (d, k) in days {
            out.push(EventDate {
                day: d,
                month: m,
                year,
            });
            used.push(k);
        }
        used.push(i);
    }
    out.sort();
    out.dedup();
    used.sort_unstable();
    used.dedup();
    (out, used)
}

/// Years the text mentions (1950 up to four years after `published_year`: « Agenda
/// 2030 » or « d’ici 2030 » name a horizon, not the event's year).
pub(crate) fn years(tokens: &[Token], published_year: i32) -> Vec<i32> {
    let mut out: Vec<i32> = tokens
        .iter()
        .filter(|t| t.word.len() == 4)
        .filter_map(|t| t.word.parse::<i32>().ok())
        .filter(|y| (1950..=published_year + 4).contains(y))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Towns: the capitalised word (with its hyphenated continuation: « Clermont-Ferrand »,
/// « Bourg-en-Bresse ») right after « à ». Only « à »: « en » and « de » introduce
/// regions, countries and organisations far too often, and a wrong place vetoes a true
/// merge.
pub(crate) fn places(tokens: &[Token]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if !t.a_grave {
            continue;
        }
        let Some(first) = tokens.get(i + 1) else {
            continue;
        };
        if !first.cap || first.start || first.caps || !first.gap.space {
            continue;
        }
        let mut place = first.word.clone();
        let mut j = i + 2;
        while let Some(n) = tokens.get(j).filter(|n| n.gap.hyphen) {
            place.push('-');
            place.push_str(&n.word);
            j += 1;
        }
        out.push(place);
    }
    out.sort();
    out.dedup();
    out
}

/// Nouns whose ordinal tells two events apart (« la deuxième phase », « 2e édition »).
fn is_event_noun(word: &str) -> bool {
    matches!(
        stem(word).as_str(),
        "phas"
            | "edition"
            | "session"
            | "promotion"
            | "rencontr"
            | "assis"
            | "forum"
            | "cycl"
            | "volet"
            | "etap"
            | "tranch"
            | "vagu"
            | "saison"
            | "enquet"
            | "temp"
            | "conferenc"
            | "seminair"
            | "journe"
            | "semestr"
            | "round"
            | "wave"
            | "stag"
            | "meeting"
            | "survey"
    )
}

fn ordinal_word(word: &str) -> Option<u32> {
    Some(match word {
        "premier" | "premiere" | "first" => 1,
        "deuxieme" | "second" | "seconde" => 2,
        "troisieme" | "third" => 3,
        "quatrieme" | "fourth" => 4,
        "cinquieme" | "fifth" => 5,
        "sixieme" | "sixth" => 6,
        "septieme" => 7,
        "huitieme" => 8,
        "neuvieme" => 9,
        "dixieme" => 10,
        "onzieme" => 11,
        "douzieme" => 12,
        _ => return None,
    })
}

/// An ordinal written with digits: « 10es », « 2e », « 11ème », « 3rd ».
fn digit_ordinal(word: &str) -> Option<u32> {
    let end = word.find(|c: char| !c.is_ascii_digit())?;
    let (digits, suffix) = word.split_at(end);
    if digits.is_empty() || digits.len() > 3 {
        return None;
    }
    matches!(
        suffix,
        "e" | "es" | "eme" | "emes" | "er" | "ere" | "re" | "nd" | "rd" | "th" | "st"
    )
    .then(|| digits.parse().ok())
    .flatten()
}

/// Edition, phase and session numbers: « 10es Rencontres », « 10 èmes rencontres »,
/// « phase 2 », « la deuxième phase », « session 1 », « n°2 », « (1/2) ». A word
/// ordinal counts only next to an event noun, so « pour la première fois » is none.
pub(crate) fn editions(tokens: &[Token]) -> Vec<u32> {
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let next = tokens.get(i + 1);
        let next_is_month = next.is_some_and(|n| month(&n.word).is_some());
        if let Some(n) = digit_ordinal(&t.word) {
            if !next_is_month {
                out.push(n);
            }
            continue;
        }
        let small_number =
            |w: &str| (w.len() <= 3 && w.bytes().all(|b| b.is_ascii_digit())).then(|| w.parse());
        if let (Some(Ok(n)), Some(nx)) = (small_number(&t.word), next) {
            if matches!(nx.word.as_str(), "e" | "es" | "eme" | "emes" | "er" | "ere") {
                out.push(n);
                continue;
            }
        }
        let numbered = matches!(
            t.word.as_str(),
            "phase" | "session" | "edition" | "volet" | "etape" | "tranche" | "saison" | "numero"
        ) || (t.word == "n" && next.is_some_and(|n| n.gap.degree));
        if numbered {
            if let Some(Some(Ok(n))) = next.map(|n| small_number(&n.word)) {
                out.push(n);
                continue;
            }
        }
        // « (1/2) », « 2/2 »: a part of a series (three numbers would be a date).
        if let (Some(Ok(a)), Some(nx)) = (small_number(&t.word), next) {
            let after = tokens.get(i + 2);
            let prev_slash = t.gap.slash;
            if nx.gap.slash && !prev_slash && !after.is_some_and(|a| a.gap.slash) {
                if let Some(Ok(b)) = small_number(&nx.word) {
                    let b: u32 = b;
                    if a >= 1 && a <= b && b <= 12 {
                        out.push(a);
                        continue;
                    }
                }
            }
        }
        if let Some(n) = ordinal_word(&t.word) {
            let near = (i.saturating_sub(2)..i)
                .chain(i + 1..i + 3)
                .filter_map(|j| tokens.get(j))
                .any(|n| is_event_noun(&n.word));
            if near {
                out.push(n);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether a text announces a call (for projects, applications, contributions) or its
/// results (winners, projects retained). Told apart because the two share most words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Call,
    Results,
}

const CALL: &[&[&str]] = &[
    &["appel", "a", "projets"],
    &["appel", "a", "projet"],
    &["appel", "a", "candidatures"],
    &["appel", "a", "contributions"],
    &["appel", "a", "participants"],
    &["appel", "a", "propositions"],
    &["appel", "a", "manifestation"],
    &["appels", "a", "projets"],
    &["candidatures", "ouvertes"],
    &["candidatures", "sont", "ouvertes"],
    &["inscriptions", "ouvertes"],
    &["inscriptions", "sont", "ouvertes"],
    &["deposez"],
    &["candidatez"],
    &["postulez"],
    &["date", "limite"],
    &["call", "for"],
    &["applications", "open"],
    &["applications", "now", "open"],
    &["apply", "by"],
];

const RESULTS: &[&[&str]] = &[
    &["laureat"],
    &["laureats"],
    &["laureate"],
    &["laureates"],
    &["palmares"],
    &["resultats"],
    &["retenu"],
    &["retenus"],
    &["retenue"],
    &["retenues"],
    &["soutenus"],
    &["selectionnes"],
    &["selectionnees"],
    &["recompenses"],
    &["distingues"],
    &["winners"],
    &["awarded"],
    &["selected"],
];

fn has_phrase(tokens: &[Token], phrases: &[&[&str]]) -> bool {
    phrases.iter().any(|p| {
        tokens.windows(p.len()).any(|w| {
            w.iter()
                .zip(p.iter())
                .all(|(t, want)| t.word.as_str() == *want)
        })
    })
}

/// The stage a text is at. The title decides when it says (a results title may still
/// name the call: « Appel à projets 2020 : les lauréats »); otherwise the body, and
/// only when it is unambiguous (a call often promises « les projets retenus »).
pub(crate) fn stage(title: &[Token], body: &[Token]) -> Option<Stage> {
    if has_phrase(title, RESULTS) {
        return Some(Stage::Results);
    }
    if has_phrase(title, CALL) {
        return Some(Stage::Call);
    }
    match (has_phrase(body, CALL), has_phrase(body, RESULTS)) {
        (true, false) => Some(Stage::Call),
        (false, true) => Some(Stage::Results),
        _ => None,
    }
}

/// Whether the text is about one workshop (« un atelier », « Atelier : … »; the
/// plural « douze ateliers » describes a programme, not one of its parts).
pub(crate) fn workshop(tokens: &[Token]) -> bool {
    tokens
        .iter()
        .any(|t| matches!(t.word.as_str(), "atelier" | "workshop"))
}

/// Whether the text names a gathering that has workshops: rencontres, assises, forum,
/// colloque, congrès, festival, sommet, salon, université d'été.
pub(crate) fn names_gathering(tokens: &[Token]) -> bool {
    tokens.iter().any(|t| {
        matches!(
            t.word.as_str(),
            "rencontres"
                | "assises"
                | "forum"
                | "colloque"
                | "congres"
                | "festival"
                | "sommet"
                | "salon"
                | "summit"
                | "congress"
        )
    })
}

/// Proper nouns common to the whole network's news: a shared one says nothing.
pub(crate) fn is_generic_proper(word: &str) -> bool {
    matches!(
        word,
        "france" | "francais" | "francaise" | "europe" | "afrique" | "union" | "etat" | "monde"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        tokenize(text).into_iter().map(|t| t.word).collect()
    }

    #[test]
    fn tokens_fold_and_join_thousands() {
        assert_eq!(
            words("L’IFRADEL : 1 200 latrines, 60 000 actes, Clermont-Ferrand"),
            ["l", "ifradel", "1200", "latrines", "60000", "actes", "clermont", "ferrand"]
        );
        let t = tokenize("Atelier à Lyon. Le CIEDEL");
        assert!(t[0].start && t[0].cap);
        assert!(t[1].a_grave && !t[2].start && t[2].cap);
        assert!(t[3].start, "after a period");
        assert!(t[4].caps);
        assert!(elided(&tokenize("l’Europe"), 0));
        assert!(!elided(&tokenize("l Europe"), 0));
    }

    fn d(day: u32, month: u32, year: Option<i32>) -> EventDate {
        EventDate { day, month, year }
    }

    #[test]
    fn french_and_english_dates() {
        let cases: &[(&str, &[EventDate])] = &[
            ("le 3 juillet", &[d(3, 7, None)]),
            ("le 14 octobre 2021 à Grenoble", &[d(14, 10, Some(2021))]),
            ("le 03/07/2019", &[d(3, 7, Some(2019))]),
            ("le 10 déc. à 18 h", &[d(10, 12, None)]),
            (
                "Les 14 et 15 novembre 2019",
                &[d(14, 11, Some(2019)), d(15, 11, Some(2019))],
            ),
            ("du 12 au 18 novembre", &[d(12, 11, None), d(18, 11, None)]),
            ("26-27 février", &[d(26, 2, None), d(27, 2, None)]),
            ("le mardi 1er décembre", &[d(1, 12, None)]),
            ("on 15 November", &[d(15, 11, None)]),
            ("Thursday May 28, 2020", &[d(28, 5, Some(2020))]),
            ("en novembre dernier", &[]),
            ("sept projets soutenus", &[]),
            ("Agenda 2030 : 12 projets", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(dates(&tokenize(text)).0, *want, "{text}");
        }
        assert!(d(3, 7, None).agrees(&d(3, 7, Some(2019))));
        assert!(!d(3, 7, Some(2018)).agrees(&d(3, 7, Some(2019))));
        assert!(!d(4, 7, None).agrees(&d(3, 7, None)));
    }

    #[test]
    fn years_places_editions() {
        let t = tokenize("Les Rencontres 2019 et l’Agenda 2030, plan 2021-2025");
        assert_eq!(years(&t, 2021), [2019, 2021, 2025]);
        let cases: &[(&str, &[&str])] = &[
            ("une journée à Lyon", &["lyon"]),
            ("présentation à Bourg-en-Bresse le 19", &["bourg-en-bresse"]),
            (
                "à Clermont-Ferrand et à Lyon",
                &["clermont-ferrand", "lyon"],
            ),
            ("il a Lyon en tête", &[]),
            ("à la Maison des associations de Lyon", &[]),
            ("à RESACOOP", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(places(&tokenize(text)), *want, "{text}");
        }
        let cases: &[(&str, &[u32])] = &[
            ("Le CIEDEL aux 10es Rencontres", &[10]),
            ("des 10 èmes rencontres de CUF", &[10]),
            ("11es Rencontres « De l’action locale »", &[11]),
            ("la deuxième phase démarre", &[2]),
            ("les résultats de la phase 1", &[1]),
            ("Enquête flash n°2 : la reprise", &[2]),
            ("Webinaire « Circuits courts » (1/2)", &[1]),
            ("Pour la première fois, un volet", &[]),
            ("le 1er décembre", &[]),
            ("le 03/07/2019", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(editions(&tokenize(text)), *want, "{text}");
        }
    }

    #[test]
    fn calls_and_results() {
        let s = |title: &str, body: &str| stage(&tokenize(title), &tokenize(body));
        assert_eq!(
            s(
                "Appel à projets eau 2020",
                "Les projets retenus recevront 50 %."
            ),
            Some(Stage::Call)
        );
        assert_eq!(
            s("Appel à projets eau 2020 : les lauréats", ""),
            Some(Stage::Results)
        );
        assert_eq!(
            s("", "Le jury a retenu neuf projets."),
            Some(Stage::Results)
        );
        assert_eq!(
            s(
                "",
                "Déposez vos dossiers ; les projets retenus seront aidés."
            ),
            None
        );
        assert_eq!(
            s(
                "Resilient Territories: the 12 winners of the 2019 call for projects",
                ""
            ),
            Some(Stage::Results)
        );
        assert_eq!(s("Tiers-lieux : un guide", "Le guide est paru."), None);
    }

    #[test]
    fn workshops_and_gatherings() {
        let t = tokenize("L’IFRADEL anime un atelier aux Rencontres de l’ATC");
        assert!(workshop(&t) && names_gathering(&t));
        let t = tokenize("Deux plénières, douze ateliers : le programme des Rencontres");
        assert!(!workshop(&t) && names_gathering(&t));
        assert!(!names_gathering(&tokenize("Une rencontre à Lyon")));
    }

    #[test]
    fn stems_numbers_and_lexicon() {
        assert_eq!(stem("communes"), "commun");
        assert_eq!(stem("commune"), "commun");
        assert_eq!(stem("collectivites"), "collectivit");
        assert_eq!(stem("eaux"), "eaux");
        assert_eq!(stem("2019"), "2019");
        assert_eq!(number_word("huit"), Some(8));
        assert_eq!(translate("municipalities"), Some("communes"));
        assert_eq!(translate("the"), None);
        assert!(is_stop("les") && is_stop("the") && !is_stop("eau"));
        for pair in STOP.windows(2) {
            assert!(pair[0] < pair[1], "STOP must be sorted: {pair:?}");
        }
        for pair in LEXICON.windows(2) {
            assert!(pair[0].0 < pair[1].0, "LEXICON must be sorted: {pair:?}");
        }
    }
}

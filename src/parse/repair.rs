//! Repair: one linear pass over a decoded XML document that makes sloppy partner feeds
//! well-formed enough for feed-rs, and safe.
//!
//! The scanner knows just enough XML to tell text, attribute values, tags, comments,
//! CDATA sections, processing instructions and the DOCTYPE apart. In text and attribute
//! values it:
//! - turns HTML named entities (`&eacute;`, `&nbsp;`, `&rsquo;`, … — the whole WHATWG
//!   table, 2,231 names, taken from the `web_atoms` crate that html5ever, and so ammonia,
//!   already build) into the characters, keeping the five XML ones;
//! - escapes a bare `&` and an unknown `&name;` as `&amp;` (an unknown entity is never
//!   expanded), and a `<` that cannot start markup as `&lt;`;
//! - drops numeric references to characters XML forbids, and reads references to
//!   U+0080–U+009F as the windows-1252 characters their authors meant (`&#146;` → `’`).
//!
//! Everywhere, CDATA and comments included, it drops the characters XML 1.0 forbids (C0
//! controls other than tab, newline and carriage return; U+FFFE; U+FFFF). It removes the
//! DOCTYPE with its internal subset, so no entity declaration (billion laughs) or external
//! entity (XXE) can take effect whatever the parser downstream does; rewrites a stale
//! `encoding` in XML declarations (the text is UTF-8 by now); gives `<rss>` a version feed-rs
//! accepts; maps Atom 0.3 onto Atom 1.0 (namespace and renamed elements) and Atom text
//! `type` values feed-rs would reject; drops an `xml:base` the url crate cannot parse (feed-rs
//! would fail the whole document); takes `<rss>` out of a namespace feed-rs does not know;
//! declares well-known namespace prefixes a feed uses without declaring; and skips junk
//! (PHP warnings) before the XML declaration.
//!
//! Elements feed-rs 3.0.0 would panic on (author strings with an e-mail address next to a
//! non-ASCII character, `itunes:duration` with non-ASCII or 13+ digit runs) or fail the
//! whole document on (an empty `media:description`) are hidden from it under a name it
//! ignores; author text is noted and read by relais instead. [`hide_element_at`] does the
//! same afterwards for an element feed-rs reports it could not read.
//!
//! It refuses nesting deeper than [`MAX_DEPTH`] open elements before any recursive code sees
//! the document, and recognises an HTML page. Along the way it notes, per entry, what
//! feed-rs does not expose: RSS 1.0 `rdf:about`, the entry's `xml:lang`, `dc:subject`,
//! `dc:language` and RSS `isPermaLink="false"`.
//!
//! The output is borrowed when nothing needed changing; otherwise it is built once, in the
//! same pass, from the first change on (only the rare missing namespace declaration is
//! inserted afterwards).

use std::borrow::Cow;

use super::decode::{pseudo_attribute, xml_declaration};

/// Deepest element nesting accepted. Real feeds nest a dozen levels; hostile ones nest
/// thousands to overflow recursive parsers, and a stack overflow cannot be caught.
pub const MAX_DEPTH: usize = 512;

/// How far the scanner looks ahead into an element's text (author strings, durations).
const LOOKAHEAD: usize = 4096;

/// Why the scanner refused a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    TooDeep,
    /// An HTML page, with what gave it away.
    Html(&'static str),
}

/// What the root element says the document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum RootKind {
    /// No element at all.
    #[default]
    None,
    Rss,
    Rdf,
    AtomFeed,
    AtomEntry,
    Other,
}

/// What feed-rs does not tell about an entry, in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EntryHint {
    /// RSS 1.0 `rdf:about`.
    pub about: Option<String>,
    /// `xml:lang` on the entry element.
    pub lang: Option<String>,
    pub dc_language: Option<String>,
    pub subjects: Vec<String>,
    /// RSS 1.0: the item has a non-empty `<link>` (feed-rs drops items without one).
    pub has_link: bool,
    /// RSS 2.0: `<guid isPermaLink="false">` (the default is true).
    pub guid_not_permalink: bool,
    /// Author strings hidden from feed-rs (see `HIDDEN_PERSON`), as written.
    pub authors: Vec<String>,
}

/// The repaired document and what the scanner learnt.
#[derive(Debug)]
pub(crate) struct Repaired<'a> {
    pub text: Cow<'a, str>,
    pub repairs: Vec<String>,
    pub root_kind: RootKind,
    /// Qualified name of the root element, for messages.
    pub root_name: Option<String>,
    /// An `<rss>` root with a `<channel>` child.
    pub rss_has_channel: bool,
    /// `dc:language` of an RSS 2.0 channel.
    pub feed_dc_language: Option<String>,
    pub entries: Vec<EntryHint>,
}

/// The name elements are hidden from feed-rs under: unprefixed, so in the RSS namespace
/// (or the document's default one), where feed-rs has no use for it.
pub(crate) const HIDDEN: &str = "relais-hidden";

const ATOM03_NS: &str = "http://purl.org/atom/ns#";
/// Atom 0.3 and the names it had as a draft.
const ATOM03_LIKE_NS: [&str; 3] = [ATOM03_NS, "http://purl.org/echo/", "http://purl.org/pie/"];
const RSS090_NS: &str = "http://my.netscape.com/rdf/simple/0.9/";
const RSS10_NS: &str = "http://purl.org/rss/1.0/";
const ATOM10_NS: &str = "http://www.w3.org/2005/Atom";

/// Prefixes feeds use without declaring them, with the namespace feed-rs knows them by.
const KNOWN_PREFIXES: [(&str, &str); 7] = [
    ("dc", "http://purl.org/dc/elements/1.1/"),
    ("content", "http://purl.org/rss/1.0/modules/content/"),
    ("media", "http://search.yahoo.com/mrss/"),
    ("atom", ATOM10_NS),
    ("itunes", "http://www.itunes.com/dtds/podcast-1.0.dtd"),
    ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
    ("wfw", "http://wellformedweb.org/CommentAPI/"),
];

/// Byte classes for the text loop: 0 plain, 1 forbidden control, 2 `&`, 3 `<`, 4 0xEF
/// (lead byte of U+FFFE/U+FFFF).
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        if b != 0x09 && b != 0x0A && b != 0x0D {
            t[b] = 1;
        }
        b += 1;
    }
    t[b'&' as usize] = 2;
    t[b'<' as usize] = 3;
    t[0xEF] = 4;
    t
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Character data: references repaired, `<` is markup.
    Text,
    /// An attribute value: references repaired, `<` escaped.
    Attr,
    /// CDATA, comment, processing instruction: only forbidden characters dropped.
    Raw,
}

#[derive(Debug, Default)]
struct Counts {
    junk_bytes: usize,
    doctypes: usize,
    declarations: usize,
    misplaced_declarations: usize,
    html_entities: usize,
    unknown_entities: usize,
    bare_amps: usize,
    bare_lts: usize,
    illegal_chars: usize,
    illegal_refs: usize,
    cp1252_refs: usize,
    upper_x_refs: usize,
    unclosed_end_tag: bool,
    rss_version: Option<Option<String>>,
    atom03: usize,
    rss090: bool,
    rss_namespace: bool,
    atom_types: usize,
    bad_xml_bases: usize,
    hidden_persons: usize,
    hidden_other: usize,
    npt_attrs: usize,
    /// RSS 1.0 items given their `rdf:about` as `<link>` (feed-rs drops items without).
    rdf_links: usize,
    namespaces: Vec<&'static str>,
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Counts {
    fn describe(&self) -> Vec<String> {
        let mut r = Vec::new();
        if self.junk_bytes > 0 {
            r.push(format!(
                "skipped {} before the xml declaration",
                plural(self.junk_bytes, "byte", "bytes")
            ));
        }
        if self.doctypes > 0 {
            r.push("removed doctype".to_string());
        }
        if self.rdf_links > 0 {
            r.push(format!(
                "gave {} without a link its rdf:about as link",
                plural(self.rdf_links, "rss 1.0 item", "rss 1.0 items")
            ));
        }
        if self.declarations > 0 {
            r.push("replaced the declared encoding with utf-8".to_string());
        }
        if self.misplaced_declarations > 0 {
            r.push(format!(
                "removed {} after the start",
                plural(
                    self.misplaced_declarations,
                    "xml declaration",
                    "xml declarations"
                )
            ));
        }
        match &self.rss_version {
            Some(None) => r.push("added missing rss version".to_string()),
            Some(Some(v)) => r.push(format!("replaced rss version {v:?} with 2.0")),
            None => {}
        }
        if self.atom03 > 0 {
            r.push("mapped atom 0.3 to atom 1.0".to_string());
        }
        if self.rss_namespace {
            r.push("took the rss element out of its namespace".to_string());
        }
        if self.rss090 {
            r.push("mapped the rss 0.90 namespace to rss 1.0".to_string());
        }
        if !self.namespaces.is_empty() {
            r.push(format!(
                "declared missing namespace prefixes {}",
                self.namespaces.join(", ")
            ));
        }
        if self.html_entities > 0 {
            r.push(format!(
                "replaced {}",
                plural(self.html_entities, "html entity", "html entities")
            ));
        }
        if self.cp1252_refs > 0 {
            r.push(format!(
                "read {} as windows-1252",
                plural(
                    self.cp1252_refs,
                    "character reference",
                    "character references"
                )
            ));
        }
        if self.unknown_entities > 0 {
            r.push(format!(
                "escaped {}",
                plural(self.unknown_entities, "unknown entity", "unknown entities")
            ));
        }
        if self.bare_amps > 0 {
            r.push(format!(
                "escaped {}",
                plural(self.bare_amps, "bare ampersand", "bare ampersands")
            ));
        }
        if self.bare_lts > 0 {
            r.push(format!(
                "escaped {}",
                plural(self.bare_lts, "bare less-than sign", "bare less-than signs")
            ));
        }
        if self.illegal_chars > 0 {
            r.push(format!(
                "dropped {} illegal in xml",
                plural(self.illegal_chars, "character", "characters")
            ));
        }
        if self.illegal_refs > 0 {
            r.push(format!(
                "dropped {} to characters illegal in xml",
                plural(
                    self.illegal_refs,
                    "character reference",
                    "character references"
                )
            ));
        }
        if self.upper_x_refs > 0 {
            r.push(format!(
                "lower-cased the x of {}",
                plural(
                    self.upper_x_refs,
                    "hexadecimal reference",
                    "hexadecimal references"
                )
            ));
        }
        if self.unclosed_end_tag {
            r.push("closed the last end tag".to_string());
        }
        if self.atom_types > 0 {
            r.push(format!(
                "fixed {}",
                plural(self.atom_types, "text type", "text types")
            ));
        }
        if self.hidden_persons > 0 {
            r.push(format!(
                "read {} without feed-rs",
                plural(
                    self.hidden_persons,
                    "author with an e-mail next to a non-ascii character",
                    "authors with an e-mail next to a non-ascii character"
                )
            ));
        }
        if self.hidden_other > 0 {
            r.push(format!(
                "hid {} the parser cannot read",
                plural(self.hidden_other, "element", "elements")
            ));
        }
        if self.npt_attrs > 0 {
            r.push(format!(
                "dropped {}",
                plural(
                    self.npt_attrs,
                    "unreadable media time",
                    "unreadable media times"
                )
            ));
        }
        if self.bad_xml_bases > 0 {
            r.push(format!(
                "dropped {}",
                plural(
                    self.bad_xml_bases,
                    "invalid xml:base",
                    "invalid xml:base values"
                )
            ));
        }
        r
    }
}

/// One attribute of the tag being read: byte ranges of its name and of its value
/// (between the quotes).
#[derive(Debug, Clone, Copy)]
struct Attr {
    name: (usize, usize),
    value: Option<(usize, usize)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CaptureKind {
    Subject,
    Language,
    Link,
    FeedLanguage,
    Person,
}

#[derive(Debug, Clone, Copy)]
struct Capture {
    kind: CaptureKind,
    depth: usize,
    start: usize,
}

struct Scanner<'a> {
    src: &'a str,
    b: &'a [u8],
    out: Option<String>,
    /// Input before this offset is already in `out` (when `out` exists).
    copied: usize,
    counts: Counts,
    depth: usize,
    root_kind: RootKind,
    root_name: Option<String>,
    /// Output offset just after the root element's name, where missing namespace
    /// declarations go.
    root_insert_at: Option<usize>,
    doctype_html: bool,
    /// Depth of the element being hidden from feed-rs.
    hidden: Option<usize>,
    atom03: bool,
    /// Prefixes bound to the Atom 0.3 namespace ("" for the default namespace).
    atom03_prefixes: Vec<String>,
    used_prefixes: u8,
    declared_prefixes: u8,
    rss_has_channel: bool,
    in_first_channel: bool,
    feed_dc_language: Option<String>,
    entries: Vec<EntryHint>,
    in_entry: bool,
    capture: Option<Capture>,
    /// Reused for every tag so that reading attributes allocates nothing.
    attrs: Vec<Attr>,
}

/// Repair `src`. Fails only on documents that must not reach feed-rs.
pub(crate) fn repair(src: &str) -> Result<Repaired<'_>, Refusal> {
    let mut s = Scanner {
        src,
        b: src.as_bytes(),
        out: None,
        copied: 0,
        counts: Counts::default(),
        depth: 0,
        root_kind: RootKind::None,
        root_name: None,
        root_insert_at: None,
        doctype_html: false,
        hidden: None,
        atom03: false,
        atom03_prefixes: Vec::new(),
        used_prefixes: 0,
        declared_prefixes: 0,
        rss_has_channel: false,
        in_first_channel: false,
        feed_dc_language: None,
        entries: Vec::new(),
        in_entry: false,
        capture: None,
        attrs: Vec::new(),
    };
    s.run()?;
    let text = s.finish();
    let (text, late) = drop_late_declarations(text);
    s.counts.misplaced_declarations = late;
    let text = clean_own_declaration(text);
    Ok(Repaired {
        text,
        repairs: s.counts.describe(),
        root_kind: s.root_kind,
        root_name: s.root_name,
        rss_has_channel: s.rss_has_channel,
        feed_dc_language: s.feed_dc_language,
        entries: s.entries,
    })
}

/// Removes every XML declaration but the document's own, first thing in it. quick-xml
/// panics on a declaration with an encoding anywhere else ("set_encoding() called after
/// prefix buffer was drained"), and where the scanner and quick-xml read a broken tag
/// differently, only a pass over the repaired text sees what quick-xml will see. A
/// literal `<?xml …?>` inside CDATA goes too: HTML shows nothing for it.
fn drop_late_declarations(text: Cow<'_, str>) -> (Cow<'_, str>, usize) {
    // quick-xml's test: the target `xml`, then whitespace or the end of the instruction.
    let is_decl = |b: &[u8], at: usize| {
        b.get(at..at + 5) == Some(b"<?xml") && b.get(at + 5).is_some_and(|&c| is_ws(c) || c == b'?')
    };
    let b = text.as_bytes();
    let first = b.iter().take_while(|&&c| is_ws(c)).count();
    let from = if is_decl(b, first) { first + 5 } else { 0 };
    let late = |from: usize| {
        let mut at = from;
        while let Some(found) = find_seq(b, at, b"<?xml") {
            if is_decl(b, found) {
                return Some(found);
            }
            at = found + 1;
        }
        None
    };
    let Some(mut next) = late(from) else {
        return (text, 0);
    };
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut n = 0;
    // Once no `?>` follows, none follows a later one either: not looked for again, so
    // the pass stays linear whatever the document.
    let mut closes = true;
    loop {
        out.push_str(text.get(copied..next).unwrap_or_default());
        // Up to its `?>`; without one, only the `<?xml` that makes it a declaration.
        copied = match closes.then(|| find_seq(b, next + 5, b"?>")).flatten() {
            Some(e) => e + 2,
            None => {
                closes = false;
                next + 5
            }
        };
        n += 1;
        match late(copied) {
            Some(at) => next = at,
            None => break,
        }
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    (Cow::Owned(out), n)
}

/// The document's own declaration may name no encoding but UTF-8 (the text is UTF-8 by
/// now). The scanner rewrites a well-formed one; a mangled one it does not recognise
/// (`<?xml v<?xml version="1.0" encoding="utf-8"?>…`, two `encoding`s, a stray one
/// surviving the removal of a nested declaration) still reaches quick-xml, which switches
/// decoders on it and panics once its prefix buffer is drained (found by fuzzing). Such a
/// declaration is replaced by a plain UTF-8 one.
fn clean_own_declaration(text: Cow<'_, str>) -> Cow<'_, str> {
    let first = text.bytes().take_while(|&c| is_ws(c)).count();
    let Some(rest) = text.get(first..) else {
        return text;
    };
    if !rest.starts_with("<?xml") {
        return text;
    }
    let Some(end) = rest.find("?>") else {
        return text;
    };
    let Some(decl) = rest.get(..end + 2) else {
        return text;
    };
    let plain_utf8 = decl.matches("encoding").count() <= 1
        && pseudo_attribute(decl, "encoding")
            .is_none_or(|(_, _, value)| value.eq_ignore_ascii_case("utf-8"))
        && (!decl.contains("encoding") || pseudo_attribute(decl, "encoding").is_some());
    if plain_utf8 {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    out.push_str(text.get(..first).unwrap_or_default());
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    out.push_str(rest.get(end + 2..).unwrap_or_default());
    Cow::Owned(out)
}

pub(crate) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

pub(crate) fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80
}

/// Whether a code point may appear in an XML 1.0 document.
pub(crate) fn is_xml_char(cp: u32) -> bool {
    matches!(cp, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x1_0000..=0x10_FFFF)
}

pub(crate) fn find_seq(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while let Some(rel) = hay.get(i..)?.iter().position(|&c| c == first) {
        let at = i + rel;
        if hay.get(at..at + needle.len()) == Some(needle) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

fn starts_with_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.get(..needle.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(needle))
}

fn split_qname(name: &str) -> (&str, &str) {
    match name.split_once(':') {
        Some((prefix, local)) => (prefix, local),
        None => ("", name),
    }
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '&' => out.push_str("&amp;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&apos;"),
        c => out.push(c),
    }
}

/// The numeric value of `&#…;` digits, `None` when out of range.
fn char_ref_value(digits: &str, hex: bool) -> Option<u32> {
    if digits.len() > 8 {
        return None;
    }
    u32::from_str_radix(digits, if hex { 16 } else { 10 }).ok()
}

impl<'a> Scanner<'a> {
    /// Replace input `start..end` by `with` in the output. Edits come in increasing order.
    fn edit(&mut self, start: usize, end: usize, with: &str) {
        debug_assert!(self.copied <= start && start <= end, "edits out of order");
        let src = self.src;
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(src.len() + src.len() / 16 + 64));
        if let Some(kept) = src.get(self.copied..start) {
            out.push_str(kept);
        }
        out.push_str(with);
        self.copied = end;
    }

    /// Where input offset `at` lands in the output, given the edits so far (all before
    /// `at`).
    fn out_offset(&self, at: usize) -> usize {
        match &self.out {
            Some(out) => out.len() + at.saturating_sub(self.copied),
            None => at,
        }
    }

    fn finish(&mut self) -> Cow<'a, str> {
        let missing: Vec<(&'static str, &'static str)> = KNOWN_PREFIXES
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                self.used_prefixes & (1 << i) != 0 && self.declared_prefixes & (1 << i) == 0
            })
            .map(|(_, p)| *p)
            .collect();
        let text = match self.out.take() {
            Some(mut out) => {
                if let Some(rest) = self.src.get(self.copied..) {
                    out.push_str(rest);
                }
                Cow::Owned(out)
            }
            None => Cow::Borrowed(self.src),
        };
        match (missing.is_empty(), self.root_insert_at) {
            (false, Some(at)) => {
                let mut owned = text.into_owned();
                let mut decls = String::new();
                for (prefix, ns) in &missing {
                    decls.push_str(&format!(" xmlns:{prefix}=\"{ns}\""));
                    self.counts.namespaces.push(prefix);
                }
                if owned.is_char_boundary(at) {
                    owned.insert_str(at, &decls);
                }
                Cow::Owned(owned)
            }
            _ => text,
        }
    }

    fn run(&mut self) -> Result<(), Refusal> {
        let n = self.b.len();
        let mut i = self.skip_junk();
        loop {
            // Character data up to the next `<`.
            while let Some(&c) = self.b.get(i) {
                match CLASS[usize::from(c)] {
                    0 => i += 1,
                    3 => break,
                    _ => i = self.special(i, n, Mode::Text),
                }
            }
            if i >= n {
                return Ok(());
            }
            i = self.markup(i)?;
        }
    }

    /// PHP warnings and the like before `<?xml` would otherwise become the root element.
    fn skip_junk(&mut self) -> usize {
        let head = self
            .b
            .get(..self.b.len().min(64 * 1024))
            .unwrap_or_default();
        // A declaration, not `<?xml-stylesheet` standing after the root element.
        let mut from = 0;
        let decl = loop {
            let Some(at) = find_seq(head, from, b"<?xml") else {
                return 0;
            };
            if head.get(at + 5).is_some_and(|&c| is_ws(c)) {
                break at;
            }
            from = at + 1;
        };
        let junk = head.get(..decl).unwrap_or_default();
        // Junk holding a feed's root element is the feed: a declaration further on is
        // the misplaced one (dropped later), not the start.
        let holds_root = [&b"<rss"[..], b"<feed", b"<rdf:RDF", b"<channel"]
            .iter()
            .any(|root| find_seq(junk, 0, root).is_some());
        if decl == 0 || holds_root || junk.iter().all(|&c| is_ws(c)) {
            return 0;
        }
        self.edit(0, decl, "");
        self.counts.junk_bytes = decl;
        decl
    }

    /// Handle the byte at `i` (a control, `&`, `<` in an attribute, or 0xEF) inside a
    /// region ending at `end`; returns where to continue.
    fn special(&mut self, i: usize, end: usize, mode: Mode) -> usize {
        match self.b.get(i).copied() {
            Some(b'&') if mode != Mode::Raw => self.reference(i, end),
            Some(b'<') if mode == Mode::Attr => {
                self.edit(i, i + 1, "&lt;");
                self.counts.bare_lts += 1;
                i + 1
            }
            Some(0xEF) => {
                if matches!(self.b.get(i + 1..i + 3), Some([0xBF, 0xBE | 0xBF])) {
                    self.edit(i, i + 3, "");
                    self.counts.illegal_chars += 1;
                    i + 3
                } else {
                    i + 1
                }
            }
            Some(c) if CLASS[usize::from(c)] == 1 => {
                self.edit(i, i + 1, "");
                self.counts.illegal_chars += 1;
                i + 1
            }
            _ => i + 1,
        }
    }

    /// Repair every special byte in `start..end`.
    fn region(&mut self, start: usize, end: usize, mode: Mode) {
        let mut i = start;
        while i < end {
            match self.b.get(i) {
                Some(&c) if CLASS[usize::from(c)] != 0 => i = self.special(i, end, mode),
                Some(_) => i += 1,
                None => return,
            }
        }
    }

    /// An `&` at `p`, in text or an attribute value ending at `end`.
    fn reference(&mut self, p: usize, end: usize) -> usize {
        let rest = self.b.get(p + 1..end).unwrap_or_default();
        match rest.first() {
            Some(b'#') => {
                let hex = matches!(rest.get(1), Some(b'x' | b'X'));
                let digits_from = if hex { 2 } else { 1 };
                let digits = rest
                    .get(digits_from..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|c| {
                        if hex {
                            c.is_ascii_hexdigit()
                        } else {
                            c.is_ascii_digit()
                        }
                    })
                    .count();
                let semi = digits_from + digits;
                if digits == 0 || rest.get(semi) != Some(&b';') {
                    return self.bare_amp(p);
                }
                let ref_end = p + 1 + semi + 1;
                let digits_str = self
                    .src
                    .get(p + 1 + digits_from..p + 1 + semi)
                    .unwrap_or_default();
                let upper_x = rest.get(1) == Some(&b'X');
                match char_ref_value(digits_str, hex) {
                    Some(cp) if (0x80..=0x9F).contains(&cp) => {
                        if let Some(c) = crate::entities::windows_1252_c1(cp) {
                            let mut buf = String::new();
                            push_escaped(&mut buf, c);
                            self.edit(p, ref_end, &buf);
                            self.counts.cp1252_refs += 1;
                        }
                    }
                    // XML wants a lower-case x; quick-xml rejects `&#X41;`.
                    Some(cp) if is_xml_char(cp) && upper_x => {
                        self.edit(p + 2, p + 3, "x");
                        self.counts.upper_x_refs += 1;
                    }
                    Some(cp) if is_xml_char(cp) => {}
                    _ => {
                        self.edit(p, ref_end, "");
                        self.counts.illegal_refs += 1;
                    }
                }
                ref_end
            }
            Some(&c) if c.is_ascii_alphabetic() || c == b'_' || c == b':' => {
                let len = rest
                    .iter()
                    .take(65)
                    .take_while(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b':')
                    })
                    .count();
                if len > 64 || rest.get(len) != Some(&b';') {
                    return self.bare_amp(p);
                }
                let ref_end = p + 1 + len + 1;
                let name = self.src.get(p + 1..p + 1 + len).unwrap_or_default();
                if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
                    return ref_end;
                }
                let with_semicolon = self.src.get(p + 1..ref_end).unwrap_or_default();
                match crate::entities::named(with_semicolon) {
                    Some((a, b)) => {
                        let mut buf = String::new();
                        push_escaped(&mut buf, a);
                        if let Some(b) = b {
                            push_escaped(&mut buf, b);
                        }
                        self.edit(p, ref_end, &buf);
                        self.counts.html_entities += 1;
                    }
                    None => {
                        self.edit(p, p + 1, "&amp;");
                        self.counts.unknown_entities += 1;
                    }
                }
                ref_end
            }
            _ => self.bare_amp(p),
        }
    }

    fn bare_amp(&mut self, p: usize) -> usize {
        self.edit(p, p + 1, "&amp;");
        self.counts.bare_amps += 1;
        p + 1
    }

    /// A `<` at `p` in character data.
    fn markup(&mut self, p: usize) -> Result<usize, Refusal> {
        let n = self.b.len();
        let rest = self.b.get(p..).unwrap_or_default();
        if rest.starts_with(b"<!--") {
            let body_end = find_seq(self.b, p + 4, b"-->").unwrap_or(n);
            self.region(p + 4, body_end, Mode::Raw);
            return Ok((body_end + 3).min(n));
        }
        if rest.starts_with(b"<![CDATA[") {
            let body_end = find_seq(self.b, p + 9, b"]]>").unwrap_or(n);
            self.region(p + 9, body_end, Mode::Raw);
            return Ok((body_end + 3).min(n));
        }
        if starts_with_ci(rest, b"<!DOCTYPE") {
            return self.doctype(p);
        }
        if rest.starts_with(b"<?") {
            return Ok(self.processing_instruction(p));
        }
        if rest.starts_with(b"</") {
            return Ok(self.end_tag(p));
        }
        match rest.get(1) {
            Some(&c) if is_name_start(c) => self.start_tag(p),
            _ => {
                self.edit(p, p + 1, "&lt;");
                self.counts.bare_lts += 1;
                Ok(p + 1)
            }
        }
    }

    fn doctype(&mut self, p: usize) -> Result<usize, Refusal> {
        let n = self.b.len();
        let mut i = p + 9;
        while self.b.get(i).is_some_and(|&c| is_ws(c)) {
            i += 1;
        }
        let name_start = i;
        while self
            .b
            .get(i)
            .is_some_and(|&c| !is_ws(c) && c != b'[' && c != b'>')
        {
            i += 1;
        }
        // An HTML DOCTYPE before a feed root is a template mistake; the root decides.
        if self
            .b
            .get(name_start..i)
            .is_some_and(|name| name.eq_ignore_ascii_case(b"html"))
        {
            self.doctype_html = true;
        }
        let mut in_subset = false;
        while let Some(&c) = self.b.get(i) {
            match c {
                b'"' | b'\'' => {
                    i = self
                        .b
                        .get(i + 1..)
                        .and_then(|r| r.iter().position(|&x| x == c))
                        .map_or(n, |q| i + 1 + q);
                }
                b'[' if !in_subset => in_subset = true,
                b']' if in_subset => in_subset = false,
                b'<' if in_subset && self.b.get(i..).is_some_and(|r| r.starts_with(b"<!--")) => {
                    i = find_seq(self.b, i + 4, b"-->").map_or(n, |e| e + 2);
                }
                b'>' if !in_subset => {
                    i += 1;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        let end = i.min(n);
        self.edit(p, end, "");
        self.counts.doctypes += 1;
        Ok(end)
    }

    fn processing_instruction(&mut self, p: usize) -> usize {
        let n = self.b.len();
        let body_end = find_seq(self.b, p + 2, b"?>").unwrap_or(n);
        let end = (body_end + 2).min(n);
        let is_decl = self.b.get(p..end).and_then(xml_declaration).is_some();
        if is_decl {
            // The text is UTF-8 whatever the declaration said; a stale label would make
            // quick-xml re-decode it.
            let decl = self.src.get(p..end).unwrap_or_default();
            if let Some((s, e, value)) = pseudo_attribute(decl, "encoding") {
                let v = value.trim();
                if !v.eq_ignore_ascii_case("utf-8") && !v.eq_ignore_ascii_case("utf8") {
                    self.edit(p + s, p + e, "encoding=\"UTF-8\"");
                    self.counts.declarations += 1;
                }
            }
        } else {
            self.region(p + 2, body_end, Mode::Raw);
        }
        end
    }

    fn end_tag(&mut self, p: usize) -> usize {
        // An RSS 1.0 item closing without a link: feed-rs would drop it, so it gets its
        // `rdf:about` (the item's URI, "usually the same as link") when that is a web
        // URL. First, because edits go in document order.
        if self.in_entry
            && self.root_kind == RootKind::Rdf
            && Some(self.depth) == self.entry_depth()
        {
            let about = self
                .entries
                .last_mut()
                .filter(|h| !h.has_link)
                .and_then(|h| {
                    let about = h.about.clone().filter(|a| {
                        url::Url::parse(a).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
                    })?;
                    h.has_link = true;
                    Some(about)
                });
            if let Some(about) = about {
                let mut link = String::from("<link>");
                for c in about.chars() {
                    push_escaped(&mut link, c);
                }
                link.push_str("</link>");
                self.edit(p, p, &link);
                self.counts.rdf_links += 1;
            }
        }
        let n = self.b.len();
        let name_start = p + 2;
        let mut i = name_start;
        while self.b.get(i).is_some_and(|&c| !is_ws(c) && c != b'>') {
            i += 1;
        }
        let name_end = i;

        // Renamed elements: their end tags follow (edits go in document order, so before
        // anything after the name).
        if self.hidden == Some(self.depth) {
            self.hidden = None;
            self.edit(name_start, name_end, HIDDEN);
        } else if self.atom03 {
            let name = self.src.get(name_start..name_end).unwrap_or_default();
            if let Some(renamed) = self.atom03_rename(name) {
                self.edit(name_start, name_end, &renamed);
            }
        }

        let end = match self
            .b
            .get(i..)
            .and_then(|r| r.iter().position(|&c| c == b'>'))
        {
            Some(q) => i + q + 1,
            None => {
                // `</feed` at the very end: a lost `>`, nothing else.
                if name_end > name_start
                    && self
                        .b
                        .get(name_end..)
                        .is_some_and(|r| r.iter().all(|&c| is_ws(c)))
                {
                    self.edit(name_end, name_end, ">");
                    self.counts.unclosed_end_tag = true;
                }
                n
            }
        };

        let d = self.depth;
        if let Some(c) = self.capture.filter(|c| c.depth == d) {
            self.capture = None;
            let text = xml_text(self.src.get(c.start..p).unwrap_or_default());
            if c.kind == CaptureKind::FeedLanguage {
                if !text.is_empty() {
                    self.feed_dc_language = Some(text);
                }
            } else if let Some(hint) = self.entries.last_mut() {
                match c.kind {
                    CaptureKind::Subject if !text.is_empty() => hint.subjects.push(text),
                    CaptureKind::Language if !text.is_empty() => hint.dc_language = Some(text),
                    CaptureKind::Link => hint.has_link |= !text.is_empty(),
                    CaptureKind::Person if !text.is_empty() => hint.authors.push(text),
                    _ => {}
                }
            }
        }
        if self.in_entry && Some(d) == self.entry_depth() {
            self.in_entry = false;
        }
        self.depth = self.depth.saturating_sub(1);
        end
    }

    /// Depth of entry elements for the kind of document.
    fn entry_depth(&self) -> Option<usize> {
        match self.root_kind {
            RootKind::Rdf | RootKind::AtomFeed => Some(2),
            RootKind::Rss => Some(3),
            RootKind::AtomEntry => Some(1),
            RootKind::None | RootKind::Other => None,
        }
    }

    /// Whether the text of the element whose content starts at `from` could make feed-rs
    /// panic: an e-mail address with a non-ASCII character (or a reference that may
    /// become one) right before or after it.
    fn person_text_is_risky(&self, from: usize) -> bool {
        self.element_text(from).is_none_or(person_text_is_risky)
    }

    /// Whether the text of the element whose content starts at `from` is something feed-rs's
    /// time reader could panic on.
    fn npt_is_risky(&self, from: usize) -> bool {
        self.element_text(from).is_none_or(npt_is_risky)
    }

    /// The raw content from `from` to the element's end tag (CDATA sections and comments
    /// are stepped over, so a `</` inside them does not end it early), looked ahead of the
    /// scan. Bounded, so that hundreds of unclosed elements cannot make the pass quadratic:
    /// `None` past [`LOOKAHEAD`] bytes, and callers then assume the worst.
    fn element_text(&self, from: usize) -> Option<&'a [u8]> {
        let b: &'a [u8] = self.b;
        let window = b.get(from..b.len().min(from.saturating_add(LOOKAHEAD)))?;
        let reaches_end = from + window.len() == b.len();
        let mut i = 0;
        while let Some(lt) = window.get(i..)?.iter().position(|&c| c == b'<') {
            let at = i + lt;
            let rest = window.get(at..)?;
            let skip_to = |open: &[u8], close: &[u8]| -> Option<usize> {
                find_seq(window, at + open.len(), close).map(|e| e + close.len())
            };
            i = if rest.starts_with(b"</") {
                return window.get(..at);
            } else if rest.starts_with(b"<![CDATA[") {
                skip_to(b"<![CDATA[", b"]]>")?
            } else if rest.starts_with(b"<!--") {
                skip_to(b"<!--", b"-->")?
            } else {
                at + 1
            };
        }
        reaches_end.then_some(window)
    }

    /// Whether the element whose content starts at `from` has nothing but white space.
    fn is_empty_element(&self, from: usize) -> bool {
        let rest = self.b.get(from..).unwrap_or_default();
        let text = rest
            .iter()
            .take(LOOKAHEAD)
            .take_while(|&&c| c != b'<')
            .count();
        rest.get(..text)
            .is_some_and(|t| t.iter().all(|&c| is_ws(c)))
            && rest.get(text..).is_some_and(|r| r.starts_with(b"</"))
    }

    /// Atom 0.3 element names with an Atom 1.0 equivalent feed-rs reads.
    fn atom03_rename(&self, qname: &str) -> Option<String> {
        let (prefix, local) = split_qname(qname);
        if !self.atom03_prefixes.iter().any(|p| p == prefix) {
            return None;
        }
        let new_local = match local {
            "issued" => "published",
            "modified" => "updated",
            "tagline" => "subtitle",
            "copyright" => "rights",
            _ => return None,
        };
        Some(if prefix.is_empty() {
            new_local.to_string()
        } else {
            format!("{prefix}:{new_local}")
        })
    }

    /// Read a start tag at `p` (attributes into `self.attrs`), then apply the edits it
    /// needs in document order.
    fn start_tag(&mut self, p: usize) -> Result<usize, Refusal> {
        let n = self.b.len();
        let name_start = p + 1;
        let mut i = name_start;
        while self
            .b
            .get(i)
            .is_some_and(|&c| !is_ws(c) && c != b'>' && c != b'/' && c != b'<')
        {
            i += 1;
        }
        let name_end = i;
        let mut attrs = std::mem::take(&mut self.attrs);
        attrs.clear();
        let (tag_end, self_closing) = loop {
            while self.b.get(i).is_some_and(|&c| is_ws(c)) {
                i += 1;
            }
            match self.b.get(i) {
                None => break (n, false),
                Some(b'>') => break (i + 1, false),
                Some(b'/') if self.b.get(i + 1) == Some(&b'>') => break (i + 2, true),
                // A broken tag: leave the `<` to the main loop and the error to the parser.
                Some(b'<') => break (i, false),
                Some(b'/') | Some(b'=') => i += 1,
                Some(_) => {
                    let an_start = i;
                    while self
                        .b
                        .get(i)
                        .is_some_and(|&c| !is_ws(c) && !matches!(c, b'=' | b'>' | b'/' | b'<'))
                    {
                        i += 1;
                    }
                    let an_end = i;
                    let mut j = i;
                    while self.b.get(j).is_some_and(|&c| is_ws(c)) {
                        j += 1;
                    }
                    let mut value = None;
                    if self.b.get(j) == Some(&b'=') {
                        j += 1;
                        while self.b.get(j).is_some_and(|&c| is_ws(c)) {
                            j += 1;
                        }
                        match self.b.get(j).copied() {
                            Some(q @ (b'"' | b'\'')) => {
                                let vs = j + 1;
                                let ve = self
                                    .b
                                    .get(vs..)
                                    .and_then(|r| r.iter().position(|&c| c == q))
                                    .map_or(n, |x| vs + x);
                                value = Some((vs, ve));
                                j = (ve + 1).min(n);
                            }
                            _ => {
                                // Unquoted (HTML style): not XML; feed-rs skips it.
                                while self.b.get(j).is_some_and(|&c| !is_ws(c) && c != b'>') {
                                    j += 1;
                                }
                            }
                        }
                        i = j;
                    }
                    attrs.push(Attr {
                        name: (an_start, an_end),
                        value,
                    });
                }
            }
        };
        let result = self.apply_start_tag(name_start, name_end, &attrs, tag_end, self_closing);
        self.attrs = attrs;
        result.map(|()| tag_end)
    }

    /// Drop an attribute (whose value ends at `ve`) with the space before it.
    fn remove_attribute(&mut self, a: &Attr, ve: usize) {
        let from = self.b.get(..a.name.0).map_or(a.name.0, |before| {
            a.name.0 - before.iter().rev().take_while(|&&c| is_ws(c)).count()
        });
        self.edit(from, (ve + 1).min(self.b.len()), "");
    }

    fn attr_name(&self, a: &Attr) -> &'a str {
        self.src.get(a.name.0..a.name.1).unwrap_or_default()
    }

    fn attr_value_raw(&self, a: &Attr) -> Option<&'a str> {
        a.value.and_then(|(s, e)| self.src.get(s..e))
    }

    fn apply_start_tag(
        &mut self,
        name_start: usize,
        name_end: usize,
        attrs: &[Attr],
        tag_end: usize,
        self_closing: bool,
    ) -> Result<(), Refusal> {
        let qname = self.src.get(name_start..name_end).unwrap_or_default();
        let (prefix, local) = split_qname(qname);
        let d = self.depth + 1;
        if !self_closing {
            self.depth = d;
            if d > MAX_DEPTH {
                return Err(Refusal::TooDeep);
            }
        }
        if !prefix.is_empty() {
            if let Some(k) = KNOWN_PREFIXES.iter().position(|(p, _)| *p == prefix) {
                self.used_prefixes |= 1 << k;
            }
        }

        // What the root says the document is.
        let mut rss_version_attr: Option<usize> = None;
        let mut renamed_already = false;
        if d == 1 && self.root_kind == RootKind::None {
            self.root_name = Some(qname.to_string());
            self.root_kind = match local {
                "rss" => RootKind::Rss,
                "RDF" => RootKind::Rdf,
                "feed" => RootKind::AtomFeed,
                "entry" => RootKind::AtomEntry,
                l if l.eq_ignore_ascii_case("html") => {
                    return Err(Refusal::Html("an <html> root element"))
                }
                _ if self.doctype_html => return Err(Refusal::Html("<!DOCTYPE html>")),
                _ => RootKind::Other,
            };
            if matches!(self.root_kind, RootKind::AtomFeed | RootKind::AtomEntry) {
                let version_03 = attrs.iter().any(|a| {
                    self.attr_name(a) == "version"
                        && self.attr_value_raw(a).map(str::trim) == Some("0.3")
                });
                let ns_03 = attrs.iter().any(|a| {
                    self.attr_name(a).starts_with("xmlns")
                        && self
                            .attr_value_raw(a)
                            .is_some_and(|v| ATOM03_LIKE_NS.contains(&v.trim()))
                });
                self.atom03 = version_03 || ns_03;
                // Atom 0.3 without a namespace: its unprefixed names are Atom 0.3 names.
                if version_03 && !attrs.iter().any(|a| self.attr_name(a) == "xmlns") {
                    self.atom03_prefixes.push(String::new());
                }
            }
            if self.root_kind == RootKind::Rss {
                match attrs.iter().position(|a| self.attr_name(a) == "version") {
                    None => {
                        self.edit(name_end, name_end, " version=\"2.0\"");
                        self.counts.rss_version = Some(None);
                    }
                    Some(k) => {
                        let v = attrs
                            .get(k)
                            .and_then(|a| self.attr_value_raw(a))
                            .unwrap_or_default();
                        if !matches!(v, "2.0" | "0.91" | "0.92" | "") {
                            rss_version_attr = Some(k);
                            self.counts.rss_version = Some(Some(v.to_string()));
                        }
                    }
                }
            }
            self.root_insert_at = Some(self.out_offset(name_end));
        } else if self.atom03 {
            if let Some(renamed) = self.atom03_rename(qname) {
                self.edit(name_start, name_end, &renamed);
                renamed_already = true;
            }
        }

        // Elements feed-rs would panic or fail the whole document on are hidden from it
        // under a name it ignores (an unprefixed name is in the RSS namespace, where
        // nothing matches it).
        let mut person_capture = false;
        if d > 1 && self.hidden.is_none() && !renamed_already {
            let hide = match (prefix, local) {
                // feed-rs 3.0.0 slices person strings ("Jean «jean@ex.fr»") at byte offsets
                // next to the e-mail address and panics when a multi-byte character sits
                // there. Their text is noted instead, and read in `map`.
                ("", "author" | "managingEditor" | "webMaster")
                | ("dc", "creator")
                | ("itunes", "author" | "name")
                    if matches!(self.root_kind, RootKind::Rss | RootKind::Rdf)
                        && !self_closing
                        && self.person_text_is_risky(tag_end) =>
                {
                    self.counts.hidden_persons += 1;
                    person_capture = true;
                    true
                }
                // Its "normal play time" reader unwraps integer parses of any `\d+` run
                // (Unicode digits, 20-digit numbers).
                ("itunes", "duration") if !self_closing && self.npt_is_risky(tag_end) => {
                    self.counts.hidden_other += 1;
                    true
                }
                // An empty media:title or media:description fails the document.
                ("media", "title" | "description")
                    if self_closing || self.is_empty_element(tag_end) =>
                {
                    self.counts.hidden_other += 1;
                    true
                }
                _ => false,
            };
            if hide {
                self.edit(name_start, name_end, HIDDEN);
                if !self_closing {
                    self.hidden = Some(d);
                }
            }
        }

        let atom_text_element = matches!(self.root_kind, RootKind::AtomFeed | RootKind::AtomEntry)
            && matches!(
                local,
                "title"
                    | "subtitle"
                    | "summary"
                    | "rights"
                    | "content"
                    | "tagline"
                    | "copyright"
                    | "info"
            )
            && (prefix.is_empty()
                || prefix == "atom"
                || self.atom03_prefixes.iter().any(|p| p == prefix));
        let has_src = local == "content" && attrs.iter().any(|a| self.attr_name(a) == "src");

        // Entries, and what to note about them.
        if d == 2 && self.root_kind == RootKind::Rss {
            self.in_first_channel = local == "channel" && !self.rss_has_channel;
            self.rss_has_channel |= local == "channel";
        }
        let is_entry = match self.root_kind {
            RootKind::Rdf => d == 2 && local == "item",
            RootKind::Rss => d == 3 && local == "item" && self.in_first_channel,
            RootKind::AtomFeed => d == 2 && local == "entry",
            RootKind::AtomEntry => d == 1,
            RootKind::None | RootKind::Other => false,
        };
        if person_capture {
            if self.in_entry && Some(d) == self.entry_depth().map(|e| e + 1) {
                self.capture = Some(Capture {
                    kind: CaptureKind::Person,
                    depth: d,
                    start: tag_end,
                });
            }
        } else if is_entry {
            let mut hint = EntryHint::default();
            for a in attrs {
                let name = self.attr_name(a);
                let value = || {
                    self.attr_value_raw(a)
                        .map(xml_text)
                        .filter(|v| !v.is_empty())
                };
                if name == "xml:lang" {
                    hint.lang = value();
                } else if split_qname(name).1 == "about" {
                    hint.about = value();
                }
            }
            self.entries.push(hint);
            self.in_entry = !self_closing;
        } else if self.in_entry
            && self.root_kind == RootKind::Rss
            && d == 4
            && local == "guid"
            && prefix.is_empty()
        {
            let not_permalink = attrs.iter().any(|a| {
                self.attr_name(a) == "isPermaLink"
                    && self
                        .attr_value_raw(a)
                        .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
            });
            if let Some(hint) = self.entries.last_mut() {
                hint.guid_not_permalink = not_permalink;
            }
        } else if self.in_entry && !self_closing && Some(d) == self.entry_depth().map(|e| e + 1) {
            let kind = match (prefix, local) {
                ("dc", "subject") => Some(CaptureKind::Subject),
                ("dc", "language") => Some(CaptureKind::Language),
                ("", "link") if self.root_kind == RootKind::Rdf => Some(CaptureKind::Link),
                _ => None,
            };
            self.capture = kind.map(|kind| Capture {
                kind,
                depth: d,
                start: tag_end,
            });
        } else if d == 3
            && self.in_first_channel
            && !self_closing
            && (prefix, local) == ("dc", "language")
            && self.feed_dc_language.is_none()
        {
            // RSS 2.0 channels written with Dublin Core: feed-rs reads only <language>.
            self.capture = Some(Capture {
                kind: CaptureKind::FeedLanguage,
                depth: d,
                start: tag_end,
            });
        }

        for (k, a) in attrs.iter().enumerate() {
            let name = self.attr_name(a);
            let Some((vs, ve)) = a.value else { continue };
            let raw = self.src.get(vs..ve).unwrap_or_default();
            if name == "xmlns" || name.starts_with("xmlns:") {
                let bound = name.strip_prefix("xmlns:").unwrap_or("");
                if let Some(idx) = KNOWN_PREFIXES.iter().position(|(p, _)| *p == bound) {
                    self.declared_prefixes |= 1 << idx;
                }
                let ns = raw.trim();
                // Atom 0.3 (and its drafts) as Atom 1.0; RSS 0.90 as RSS 1.0. The default
                // namespace of an Atom 0.3 root is Atom 0.3 whatever it says.
                let atom03_default = d == 1 && self.atom03 && name == "xmlns" && ns != ATOM10_NS;
                if atom03_default || ATOM03_LIKE_NS.contains(&ns) {
                    self.atom03_prefixes.push(bound.to_string());
                    self.edit(vs, ve, ATOM10_NS);
                    self.counts.atom03 += 1;
                    continue;
                }
                if ns == RSS090_NS {
                    self.edit(vs, ve, RSS10_NS);
                    self.counts.rss090 = true;
                    continue;
                }
                // RSS 2.0 has no namespace; feed-rs reads nothing of an <rss> put in one
                // (http://backend.userland.com/rss2 and the like).
                if d == 1 && self.root_kind == RootKind::Rss && name == "xmlns" && !ns.is_empty() {
                    self.remove_attribute(a, ve);
                    self.counts.rss_namespace = true;
                    continue;
                }
            } else if Some(k) == rss_version_attr {
                self.edit(vs, ve, "2.0");
                continue;
            } else if name == "xml:base" && !xml_base_ok(&xml_text(raw)) {
                self.remove_attribute(a, ve);
                self.counts.bad_xml_bases += 1;
                continue;
            } else if name == "type" && atom_text_element {
                if let Some(fixed) = atom_type_fix(local, raw, has_src) {
                    self.edit(vs, ve, &fixed);
                    self.counts.atom_types += 1;
                    continue;
                }
            } else if prefix == "media"
                && name == "type"
                && matches!(local, "title" | "description")
            {
                // feed-rs knows "plain" and "html" here and fails the document otherwise.
                if raw != "plain" && raw != "html" {
                    let fixed = if raw.to_ascii_lowercase().contains("html") {
                        "html"
                    } else {
                        "plain"
                    };
                    self.edit(vs, ve, fixed);
                    self.counts.atom_types += 1;
                    continue;
                }
            } else if prefix == "media"
                && matches!(
                    (local, name),
                    ("text", "start" | "end") | ("thumbnail", "time")
                )
                && npt_is_risky(raw.as_bytes())
            {
                self.edit(vs, ve, "");
                self.counts.npt_attrs += 1;
                continue;
            }
            self.region(vs, ve, Mode::Attr);
        }
        Ok(())
    }
}

/// feed-rs 3.0.0 finds an e-mail address in person strings with a regex and slices the
/// string one byte before and one byte after the match; a multi-byte character there makes
/// it panic. The decision is made on the text feed-rs will be handed: references expanded,
/// markup stripped, and the characters XML forbids (which repair drops) gone, since a
/// dropped NUL can bring a multi-byte character next to the address. Every character the
/// match can span is ASCII, so it is enough to look at what surrounds each run of them
/// around an `@` (generously: the run may be longer than the match, never shorter, and both
/// sides are checked whichever one feed-rs slices).
fn person_text_is_risky(raw: &[u8]) -> bool {
    if !raw.contains(&b'@') {
        return false;
    }
    let mut text = xml_text_untrimmed(&String::from_utf8_lossy(raw));
    text.retain(|c| is_xml_char(c as u32));
    address_has_risky_neighbour(text.as_bytes())
}

/// Whether, in a person string as feed-rs receives it, a run of the characters an e-mail
/// match can span around an `@` has a non-ASCII character on either side.
pub(crate) fn address_has_risky_neighbour(text: &[u8]) -> bool {
    let in_left = |c: u8| c.is_ascii_alphanumeric() || b"._%+-:<[(".contains(&c);
    let in_right = |c: u8| c.is_ascii_alphanumeric() || b".->])".contains(&c);
    text.iter()
        .enumerate()
        .filter(|(_, &c)| c == b'@')
        .any(|(at, _)| {
            let before = text.get(..at).unwrap_or_default();
            let start = before.len() - before.iter().rev().take_while(|&&c| in_left(c)).count();
            let after = text.get(at + 1..).unwrap_or_default();
            let end = at + 1 + after.iter().take_while(|&&c| in_right(c)).count();
            let prev = start.checked_sub(1).and_then(|i| text.get(i)).copied();
            let next = text.get(end).copied();
            prev.is_some_and(|c| c >= 0x80) || next.is_some_and(|c| c >= 0x80)
        })
}

/// A value feed-rs's "normal play time" reader could panic on: it unwraps `u64` parses of
/// every `\d+` run, and `\d` matches non-ASCII digits.
fn npt_is_risky(value: &[u8]) -> bool {
    let mut run = 0;
    for &c in value {
        if c >= 0x80 {
            return true;
        }
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run > 12 {
            return true;
        }
    }
    false
}

/// Hide from feed-rs the element whose start tag ends at byte `pos` of `text` (where
/// feed-rs reports what it could not read), with its end tag. Returns the new text and the
/// element's name; `None` when no start tag ends there.
pub(crate) fn hide_element_at(text: &str, pos: usize) -> Option<(String, String)> {
    let b = text.as_bytes();
    let head = b.get(..pos)?;
    if head.last() != Some(&b'>') {
        return None;
    }
    // Repair escaped every `<` in attribute values, so the last one opens the tag.
    let lt = head.iter().rposition(|&c| c == b'<')?;
    let name_start = lt + 1;
    if !b.get(name_start).is_some_and(|&c| is_name_start(c)) {
        return None;
    }
    let name_len = b
        .get(name_start..pos)?
        .iter()
        .take_while(|&&c| !is_ws(c) && c != b'>' && c != b'/')
        .count();
    let name_end = name_start + name_len;
    let name = text.get(name_start..name_end)?.to_string();
    let mut out = String::with_capacity(text.len() + 2 * HIDDEN.len());
    out.push_str(text.get(..name_start)?);
    out.push_str(HIDDEN);
    if head.ends_with(b"/>") {
        out.push_str(text.get(name_end..)?);
        return Some((out, name));
    }
    let end_tag = matching_end_tag(b, pos)?;
    if !b
        .get(end_tag + 2..)
        .is_some_and(|r| r.starts_with(name.as_bytes()))
    {
        return None;
    }
    out.push_str(text.get(name_end..end_tag + 2)?);
    out.push_str(HIDDEN);
    out.push_str(text.get(end_tag + 2 + name.len()..)?);
    Some((out, name))
}

/// Offset of the `</` that closes the element whose content starts at `from`.
pub(crate) fn matching_end_tag(b: &[u8], from: usize) -> Option<usize> {
    let mut depth = 1usize;
    let mut i = from;
    loop {
        i += b.get(i..)?.iter().position(|&c| c == b'<')?;
        let rest = b.get(i..)?;
        let skip_to = |needle: &[u8]| find_seq(b, i + 1, needle).map(|e| e + needle.len());
        i = if rest.starts_with(b"<!--") {
            skip_to(b"-->")?
        } else if rest.starts_with(b"<![CDATA[") {
            skip_to(b"]]>")?
        } else if rest.starts_with(b"<?") {
            skip_to(b"?>")?
        } else if rest.starts_with(b"</") {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
            skip_to(b">")?
        } else {
            let mut j = i + 1;
            let mut quote = None;
            while let Some(&c) = b.get(j) {
                match quote {
                    Some(q) if c == q => quote = None,
                    Some(_) => {}
                    None if c == b'"' || c == b'\'' => quote = Some(c),
                    None if c == b'>' => break,
                    None => {}
                }
                j += 1;
            }
            if b.get(j.checked_sub(1)?) != Some(&b'/') {
                depth += 1;
            }
            j + 1
        };
    }
}

/// feed-rs fails a whole document on an `xml:base` the url crate rejects for another
/// reason than being relative.
fn xml_base_ok(value: &str) -> bool {
    !matches!(url::Url::parse(value), Err(e) if e != url::ParseError::RelativeUrlWithoutBase)
}

/// The `type` value feed-rs accepts for an Atom text construct, when `raw` is not one.
/// feed-rs reads text constructs as "text", "html", "text/html" or "xhtml" and fails the
/// document on anything else; `<content>` may also carry a MIME type, which must be one
/// (not "html") when there is a `src`.
fn atom_type_fix(local: &str, raw: &str, has_src: bool) -> Option<String> {
    let t = raw.trim().to_ascii_lowercase();
    let fixed = match (t.as_str(), has_src) {
        ("text" | "text/plain", true) => "text/plain".to_string(),
        ("html" | "text/html", true) => "text/html".to_string(),
        ("xhtml" | "application/xhtml+xml", true) => "application/xhtml+xml".to_string(),
        ("text" | "html" | "xhtml" | "text/html", false) => t,
        ("text/plain", false) => "text".to_string(),
        ("application/xhtml+xml", false) => "xhtml".to_string(),
        (other, _) if local == "content" && is_mime(other) => t,
        (_, true) => "text/html".to_string(),
        (_, false) => "text".to_string(),
    };
    (fixed != raw).then_some(fixed)
}

/// A MIME type as RFC 6838 spells one (what feed-rs's media type parser wants).
fn is_mime(t: &str) -> bool {
    let essence = t.split(';').next().unwrap_or_default().trim();
    let Some((ty, sub)) = essence.split_once('/') else {
        return false;
    };
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&c))
    };
    token(ty) && token(sub)
}

/// The text of an XML fragment as a parser would report it: CDATA kept, tags dropped,
/// references (XML, numeric, HTML named) resolved; trimmed.
pub(crate) fn xml_text(raw: &str) -> String {
    let out = xml_text_untrimmed(raw);
    let trimmed = out.trim();
    if trimmed.len() == out.len() {
        out
    } else {
        trimmed.to_string()
    }
}

/// [`xml_text`] as an XML parser reports it, white space kept.
fn xml_text_untrimmed(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(pos) = rest.find(['<', '&']) {
        out.push_str(rest.get(..pos).unwrap_or_default());
        rest = rest.get(pos..).unwrap_or_default();
        if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>").unwrap_or(cdata.len());
            out.push_str(cdata.get(..end).unwrap_or_default());
            rest = cdata.get(end + 3..).unwrap_or_default();
        } else if rest.starts_with('<') {
            let end = rest.find('>').map_or(rest.len(), |e| e + 1);
            rest = rest.get(end..).unwrap_or_default();
        } else {
            let semi = rest.get(..rest.len().min(34)).and_then(|h| h.find(';'));
            let resolved = semi.and_then(|s| {
                let name = rest.get(1..s)?;
                let c = match name {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => {
                        if let Some(num) = name.strip_prefix('#') {
                            let (digits, hex) = match num.strip_prefix(['x', 'X']) {
                                Some(h) => (h, true),
                                None => (num, false),
                            };
                            let cp = char_ref_value(digits, hex)?;
                            crate::entities::windows_1252_c1(cp)
                                .or_else(|| char::from_u32(cp).filter(|_| is_xml_char(cp)))?
                        } else {
                            let (a, b) = crate::entities::named(rest.get(1..=s)?)?;
                            if let Some(b) = b {
                                out.push(a);
                                b
                            } else {
                                a
                            }
                        }
                    }
                };
                Some((c, s + 1))
            });
            match resolved {
                Some((c, len)) => {
                    out.push(c);
                    rest = rest.get(len..).unwrap_or_default();
                }
                None => {
                    out.push('&');
                    rest = rest.get(1..).unwrap_or_default();
                }
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str) -> Repaired<'_> {
        match repair(src) {
            Ok(r) => r,
            Err(e) => panic!("refused {src:?}: {e:?}"),
        }
    }

    /// (case, input, expected output, expected repairs)
    const TABLE: &[(&str, &str, &str, &[&str])] = &[
        (
            "html entities in text",
            "<t>caf&eacute; &laquo;&nbsp;l&rsquo;&eacute;t&eacute;&nbsp;&raquo; &hellip; &Eacute;&oelig;</t>",
            "<t>café «\u{a0}l’été\u{a0}» … Éœ</t>",
            &["replaced 11 html entities"],
        ),
        (
            "html entities in an attribute, xml ones kept",
            "<a title=\"&Eacute;lus &amp; &lt;citoyens&gt; &quot;x&quot; &apos;\">x</a>",
            "<a title=\"Élus &amp; &lt;citoyens&gt; &quot;x&quot; &apos;\">x</a>",
            &["replaced 1 html entity"],
        ),
        (
            "an entity that stands for markup stays escaped",
            "<t a=\"&QUOT;\">&LT;b&GT; &AMP;</t>",
            "<t a=\"&quot;\">&lt;b&gt; &amp;</t>",
            &["replaced 4 html entities"],
        ),
        (
            "two-character entity",
            "<t>&NotEqualTilde;</t>",
            "<t>\u{2242}\u{338}</t>",
            &["replaced 1 html entity"],
        ),
        (
            "cdata, comments and processing instructions are left alone",
            "<t><![CDATA[caf&eacute; & <b>]]><!-- &nbsp; & --><?pi &eacute; & ?></t>",
            "<t><![CDATA[caf&eacute; & <b>]]><!-- &nbsp; & --><?pi &eacute; & ?></t>",
            &[],
        ),
        (
            "bare ampersands",
            "<t a=\"?x=1&y=2\">Liens & ressources &amp; &#38; &#x26; &# &#x; &eacute</t>",
            "<t a=\"?x=1&amp;y=2\">Liens &amp; ressources &amp; &#38; &#x26; &amp;# &amp;#x; &amp;eacute</t>",
            &["escaped 5 bare ampersands"],
        ),
        (
            "unknown entities are escaped, never expanded",
            "<t>&foo; &xxe; &lol9; &eacute;</t>",
            "<t>&amp;foo; &amp;xxe; &amp;lol9; é</t>",
            &["replaced 1 html entity", "escaped 3 unknown entities"],
        ),
        (
            "numeric references to characters illegal in xml",
            "<t>a&#0;b&#x1;c&#xD800;d&#1114112;e&#99999999999;f&#xFFFE;g&#65;</t>",
            "<t>abcdefg&#65;</t>",
            &["dropped 6 character references to characters illegal in xml"],
        ),
        (
            "references to c1 controls read as windows-1252",
            "<t>l&#146;&#233;t&#233; &#150; &#x80; &#129;</t>",
            "<t>l’&#233;t&#233; – € &#129;</t>",
            &["read 3 character references as windows-1252"],
        ),
        (
            "upper-case hexadecimal reference",
            "<t>&#X41;</t>",
            "<t>&#x41;</t>",
            &["lower-cased the x of 1 hexadecimal reference"],
        ),
        (
            "characters illegal in xml, everywhere",
            "<t a=\"x\u{1}\">a\u{0}b\u{b}c\u{c}d\u{1f}e\u{fffe}f\u{ffff}g\t\n\r<![CDATA[\u{0}]]><!--\u{8}--></t>",
            "<t a=\"x\">abcdefg\t\n\r<![CDATA[]]><!----></t>",
            &["dropped 9 characters illegal in xml"],
        ),
        (
            "bare less-than signs",
            "<t a=\"1 < 2\">a < b, x <3 y, 2<=3</t>",
            "<t a=\"1 &lt; 2\">a &lt; b, x &lt;3 y, 2&lt;=3</t>",
            &["escaped 4 bare less-than signs"],
        ),
        (
            "doctype with an internal subset (billion laughs)",
            "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n <!-- ] > -->\n <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;\">\n <!ATTLIST t a CDATA \"]>\">\n]>\n<t>&lol2;</t>",
            "<?xml version=\"1.0\"?>\n\n<t>&amp;lol2;</t>",
            &["removed doctype", "escaped 1 unknown entity"],
        ),
        (
            "doctype with an external entity (xxe)",
            "<!DOCTYPE rss [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><rss version=\"2.0\">&xxe;</rss>",
            "<rss version=\"2.0\">&amp;xxe;</rss>",
            &["removed doctype", "escaped 1 unknown entity"],
        ),
        (
            "public doctype",
            "<!DOCTYPE rss PUBLIC \"-//Netscape Communications//DTD RSS 0.91//EN\" \"http://my.netscape.com/publish/formats/rss-0.91.dtd\"><rss version=\"0.91\"/>",
            "<rss version=\"0.91\"/>",
            &["removed doctype"],
        ),
        (
            "an xml declaration after the start goes (quick-xml panics on it)",
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>a<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>b</title></channel></rss>",
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>ab</title></channel></rss>",
            &["replaced the declared encoding with utf-8", "removed 1 xml declaration after the start"],
        ),
        (
            "also when controls hide it until they are dropped, in CDATA, or unclosed",
            "<rss version=\"2.0\"><?\u{11}\u{11}xml version=\"0.0\" encoding=\"ISO-8859-1\"?><?xml-stylesheet href=\"a.xsl\"?><t><![CDATA[<?xml version=\"1.0\"?>x]]></t><?xml encoding=\"a\"</rss>",
            "<rss version=\"2.0\"><?xml-stylesheet href=\"a.xsl\"?><t><![CDATA[x]]></t> encoding=\"a\"</rss>",
            &["removed 3 xml declarations after the start", "dropped 2 characters illegal in xml"],
        ),
        ("missing rss version", "<rss><channel/></rss>", "<rss version=\"2.0\"><channel/></rss>", &["added missing rss version"]),
        (
            "unsupported rss version",
            "<rss version=\"0.94\" xmlns:a=\"b\"><channel/></rss>",
            "<rss version=\"2.0\" xmlns:a=\"b\"><channel/></rss>",
            &["replaced rss version \"0.94\" with 2.0"],
        ),
        ("supported rss versions are kept", "<rss version=\"0.91\"/>", "<rss version=\"0.91\"/>", &[]),
        (
            "stale encoding declaration",
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" standalone=\"yes\"?><t/>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><t/>",
            &["replaced the declared encoding with utf-8"],
        ),
        ("utf-8 declaration is kept", "<?xml version='1.0' encoding='utf-8'?><t/>", "<?xml version='1.0' encoding='utf-8'?><t/>", &[]),
        (
            "junk before the xml declaration",
            "<br />\n<b>Warning</b>: x in <b>feed.php</b><br />\n<?xml version=\"1.0\"?><rss version=\"2.0\"/>",
            "<?xml version=\"1.0\"?><rss version=\"2.0\"/>",
            &["skipped 50 bytes before the xml declaration"],
        ),
        (
            "atom 0.3",
            "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><tagline>t</tagline><entry><issued>i</issued><modified>m</modified><title type=\"text/plain\">x</title><content type=\"application/xhtml+xml\" mode=\"xml\">c</content></entry></feed>",
            "<feed version=\"0.3\" xmlns=\"http://www.w3.org/2005/Atom\"><subtitle>t</subtitle><entry><published>i</published><updated>m</updated><title type=\"text\">x</title><content type=\"xhtml\" mode=\"xml\">c</content></entry></feed>",
            &["mapped atom 0.3 to atom 1.0", "fixed 2 text types"],
        ),
        (
            "atom content src with a text type",
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><content src=\"a.html\" type=\"html\"/><title type=\"TEXT\">t</title></entry></feed>",
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><content src=\"a.html\" type=\"text/html\"/><title type=\"text\">t</title></entry></feed>",
            &["fixed 2 text types"],
        ),
        (
            "rss 0.90 namespace",
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://my.netscape.com/rdf/simple/0.9/\"/>",
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\"/>",
            &["mapped the rss 0.90 namespace to rss 1.0"],
        ),
        (
            "invalid xml:base is dropped",
            "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:base=\"http://[::1\"><entry xml:base=\"relative/\"/></feed>",
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry xml:base=\"relative/\"/></feed>",
            &["dropped 1 invalid xml:base"],
        ),
        (
            "undeclared well-known prefixes",
            "<rss version=\"2.0\" xmlns:media=\"http://search.yahoo.com/mrss/\"><channel><item><dc:creator>A</dc:creator><content:encoded>c</content:encoded><media:content url=\"u\"/></item></channel></rss>",
            "<rss xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" version=\"2.0\" xmlns:media=\"http://search.yahoo.com/mrss/\"><channel><item><dc:creator>A</dc:creator><content:encoded>c</content:encoded><media:content url=\"u\"/></item></channel></rss>",
            &["declared missing namespace prefixes dc, content"],
        ),
        (
            "rss in a namespace",
            "<rss version=\"2.0\" xmlns=\"http://backend.userland.com/rss2\" xmlns:dc=\"x\"><channel/></rss>",
            "<rss version=\"2.0\" xmlns:dc=\"x\"><channel/></rss>",
            &["took the rss element out of its namespace"],
        ),
        ("a lost > at the very end", "<feed><title>t</title></feed \n", "<feed><title>t</title></feed> \n", &["closed the last end tag"]),
    ];

    #[test]
    fn repairs_table() {
        for (case, input, expected, repairs) in TABLE {
            let r = run(input);
            assert_eq!(r.text, *expected, "{case}");
            assert_eq!(r.repairs, *repairs, "{case}");
        }
    }

    #[test]
    fn clean_input_is_borrowed() {
        let src = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>Élus &amp; territoires</title><item><description><![CDATA[<p>x & y</p>]]></description></item></channel></rss>";
        let r = run(src);
        assert!(matches!(r.text, Cow::Borrowed(_)));
        assert!(r.repairs.is_empty());
        assert_eq!(r.root_kind, RootKind::Rss);
        assert!(r.rss_has_channel);
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused() {
        let deep = |n: usize| {
            format!(
                "<rss version=\"2.0\">{}{}</rss>",
                "<a>".repeat(n),
                "</a>".repeat(n)
            )
        };
        assert!(repair(&deep(MAX_DEPTH - 1)).is_ok());
        assert_eq!(repair(&deep(MAX_DEPTH)).err(), Some(Refusal::TooDeep));
        assert_eq!(repair(&deep(100_000)).err(), Some(Refusal::TooDeep));
        // Self-closing elements do not nest.
        assert!(repair(&format!("<rss>{}</rss>", "<a/>".repeat(100_000))).is_ok());
    }

    #[test]
    fn html_pages_are_recognised() {
        for page in [
            "<!DOCTYPE html><html><head><title>Erreur 404</title></head></html>",
            "<!doctype HTML>\n<title>Maintenance</title><p>Revenez plus tard",
            "\n<HTML><BODY>Not found</BODY></HTML>",
            "<?xml version=\"1.0\"?><!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"x\"><html xmlns=\"http://www.w3.org/1999/xhtml\"/>",
        ] {
            assert!(matches!(repair(page), Err(Refusal::Html(_))), "{page}");
        }
        // An HTML DOCTYPE pasted in front of a feed does not make it a page.
        let r = run("<!DOCTYPE html><rss version=\"2.0\"><channel/></rss>");
        assert_eq!(r.root_kind, RootKind::Rss);
        assert_eq!(r.repairs, ["removed doctype"]);
    }

    #[test]
    fn entry_hints() {
        let rdf = "<rdf:RDF xmlns:rdf=\"r\" xmlns=\"http://purl.org/rss/1.0/\" xmlns:dc=\"d\"><channel rdf:about=\"c\"><link>x</link></channel>\
            <item rdf:about=\"https://ex.org/a?x=1&amp;y=2\"><link>https://ex.org/a</link><dc:subject>Coop&eacute;ration</dc:subject><dc:subject><![CDATA[Agenda]]></dc:subject><dc:language>fr</dc:language></item>\
            <item rdf:about=\"b\"><title>no link</title></item>\
            <item rdf:about=\"https://ex.org/c?a=1&amp;b=2\"><title>about only</title></item></rdf:RDF>";
        let r = run(rdf);
        assert_eq!(r.root_kind, RootKind::Rdf);
        assert_eq!(
            r.entries,
            vec![
                EntryHint {
                    about: Some("https://ex.org/a?x=1&y=2".into()),
                    subjects: vec!["Coopération".into(), "Agenda".into()],
                    dc_language: Some("fr".into()),
                    has_link: true,
                    ..EntryHint::default()
                },
                EntryHint {
                    about: Some("b".into()),
                    ..EntryHint::default()
                },
                EntryHint {
                    about: Some("https://ex.org/c?a=1&b=2".into()),
                    has_link: true,
                    ..EntryHint::default()
                },
            ]
        );
        assert!(r
            .text
            .contains("<title>about only</title><link>https://ex.org/c?a=1&amp;b=2</link></item>"));
        assert!(r
            .repairs
            .contains(&"gave 1 rss 1.0 item without a link its rdf:about as link".to_string()));

        let rss = "<rss version=\"2.0\"><channel><dc:language>fr</dc:language><item xml:lang=\"en\"><guid isPermaLink=\"false\">1</guid></item><item/></channel><channel><item/></channel></rss>";
        let r = run(rss);
        assert_eq!(r.feed_dc_language.as_deref(), Some("fr"));
        assert_eq!(
            r.entries,
            vec![
                EntryHint {
                    lang: Some("en".into()),
                    guid_not_permalink: true,
                    ..EntryHint::default()
                },
                EntryHint::default(),
            ]
        );
    }

    #[test]
    fn text_of_fragments() {
        assert_eq!(
            xml_text("  a &amp; b &eacute; &#233;&#x41;<b>c</b><![CDATA[<d>&amp;]]> &bogus; & "),
            "a & b é éAc<d>&amp; &bogus; &"
        );
    }
}

#[cfg(test)]
mod risk_tests {
    use super::*;

    #[test]
    fn person_strings_feed_rs_would_panic_on() {
        let cases: &[(&str, bool)] = &[
            ("Jean Dupont «jean@ex.fr»", true),
            ("«jean@ex.fr» Jean Dupont", true),
            ("Marie—marie@ex.fr", true),
            // Decoded, "Jean <jean@ex.fr>" has ASCII on both sides of the match.
            ("Jean &lt;jean@ex.fr&gt;", false),
            ("&laquo;jean@ex.fr&raquo;", true),
            ("&#171;jean@ex.fr", true),
            ("<![CDATA[«jean@ex.fr]]>", true),
            ("«<!-- -->jean@ex.fr", true),
            // Repair drops the NULs, which brings U+0080 next to the address.
            ("contac\u{80}\0\0t@ex.fr (Françoise)", true),
            ("jean@ex.fr\u{a0}", true),
            ("\u{a0}jean@ex.fr", true),
            ("AT&amp;T jean@ex.fr", false),
            ("jean@ex.fr (Équipe formation)", false),
            ("Rédaction – contact@ex.fr", false),
            ("Cités Unies France", false),
            ("jean@ex.fr", false),
        ];
        for (text, risky) in cases {
            assert_eq!(person_text_is_risky(text.as_bytes()), *risky, "{text}");
        }
    }

    #[test]
    fn times_feed_rs_would_panic_on() {
        let cases: &[(&str, bool)] = &[
            ("01:02:03", false),
            ("3600", false),
            ("1:02:03.5", false),
            ("99999999999999999999", true),
            ("١:٠٠", true),
            ("45 min", false),
        ];
        for (text, risky) in cases {
            assert_eq!(npt_is_risky(text.as_bytes()), *risky, "{text}");
        }
    }

    #[test]
    fn hide_an_element_by_position() {
        let text = "<feed><entry><content type=\"x\"><b>a</b><!-- </content> --></content><id>1</id></entry></feed>";
        let pos = text.find("<b>").unwrap_or_default();
        let hidden = hide_element_at(text, pos);
        assert_eq!(
            hidden,
            Some((
                "<feed><entry><relais-hidden type=\"x\"><b>a</b><!-- </content> --></relais-hidden><id>1</id></entry></feed>"
                    .to_string(),
                "content".to_string()
            ))
        );
        let self_closing = "<a><b x=\"1\"/></a>";
        assert_eq!(
            hide_element_at(self_closing, 13).map(|(t, _)| t),
            Some("<a><relais-hidden x=\"1\"/></a>".to_string())
        );
        assert_eq!(hide_element_at(text, 3), None);
        assert_eq!(hide_element_at(text, 10_000), None);
    }
}

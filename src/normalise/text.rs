//! Plain text out of publisher markup: what summaries, titles, channel filters and story
//! matching read. Pure.
//!
//! [`html_to_text`] is a single forward scan rather than an HTML parse: it runs on every
//! summary and content of every poll, the output is only ever text (escaped again
//! wherever it is shown), so exact tree construction buys nothing while a DOM per item
//! would cost several times the feed parse itself. What it must get right is what
//! readers see: no tags, no script or style bodies, entities decoded (the HTML names
//! too: `&eacute;` is everywhere in French feeds), block boundaries kept as line breaks,
//! whitespace collapsed. Lengths are counted in characters, never bytes, so accented text
//! is cut where a reader would expect.

use std::borrow::Cow;

/// What separates the next character from the last one written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Gap {
    None,
    Space,
    Break,
}

/// Collapses whitespace as it writes: runs become one space, block boundaries one line
/// break, nothing leads or trails.
struct Writer {
    out: String,
    gap: Gap,
}

impl Writer {
    fn with_capacity(n: usize) -> Writer {
        Writer {
            out: String::with_capacity(n),
            gap: Gap::None,
        }
    }

    fn gap(&mut self, g: Gap) {
        self.gap = self.gap.max(g);
    }

    fn push(&mut self, c: char) {
        if c.is_whitespace() {
            self.gap(Gap::Space);
            return;
        }
        // Soft hyphens and BOMs are invisible; other controls are noise from bad encodings.
        if c == '\u{AD}' || c == '\u{FEFF}' || c.is_control() {
            return;
        }
        self.write_gap();
        self.out.push(c);
    }

    /// A run of text, written a word at a time rather than a character at a time: text
    /// runs are most of what this module sees, and most of their bytes are ASCII.
    fn push_run(&mut self, run: &str) {
        let b = run.as_bytes();
        let mut word_start = 0;
        let mut i = 0;
        while let Some(&c) = b.get(i) {
            let (len, breaks, space) = if c > b' ' && c < 0x7f {
                (1, false, false)
            } else if c < 0x80 {
                (1, true, c.is_ascii_whitespace() || c == 0x0b)
            } else {
                let ch = run.get(i..).and_then(|r| r.chars().next()).unwrap_or(' ');
                let invisible = ch.is_control() || ch == '\u{AD}' || ch == '\u{FEFF}';
                let space = ch.is_whitespace();
                (ch.len_utf8(), space || invisible, space)
            };
            if breaks {
                self.push_word(run.get(word_start..i).unwrap_or_default());
                if space {
                    self.gap(Gap::Space);
                }
                word_start = i + len;
            }
            i += len;
        }
        self.push_word(run.get(word_start..).unwrap_or_default());
    }

    fn push_word(&mut self, word: &str) {
        if !word.is_empty() {
            self.write_gap();
            self.out.push_str(word);
        }
    }

    fn write_gap(&mut self) {
        if !self.out.is_empty() {
            match self.gap {
                Gap::None => {}
                Gap::Space => self.out.push(' '),
                Gap::Break => self.out.push('\n'),
            }
        }
        self.gap = Gap::None;
    }

    /// A newline in text that keeps its line structure (plain text, `<pre>`).
    fn push_keeping_lines(&mut self, c: char) {
        if c == '\n' {
            self.gap(Gap::Break);
        } else {
            self.push(c);
        }
    }
}

/// Elements whose start or end is a line break in the text.
fn is_block(name: &[u8]) -> bool {
    const BLOCKS: &[&[u8]] = &[
        b"p",
        b"br",
        b"div",
        b"li",
        b"ul",
        b"ol",
        b"dl",
        b"dt",
        b"dd",
        b"h1",
        b"h2",
        b"h3",
        b"h4",
        b"h5",
        b"h6",
        b"blockquote",
        b"pre",
        b"hr",
        b"table",
        b"tr",
        b"thead",
        b"tbody",
        b"tfoot",
        b"caption",
        b"figure",
        b"figcaption",
        b"section",
        b"article",
        b"header",
        b"footer",
        b"aside",
        b"nav",
        b"main",
        b"address",
        b"details",
        b"summary",
        b"form",
        b"fieldset",
        b"center",
    ];
    BLOCKS.iter().any(|b| b.eq_ignore_ascii_case(name))
}

/// Elements whose whole content is code or chrome, never text to read.
fn is_skipped(name: &[u8]) -> bool {
    const SKIPPED: &[&[u8]] = &[
        b"script",
        b"style",
        b"noscript",
        b"template",
        b"iframe",
        b"object",
        b"svg",
        b"math",
        b"head",
        b"title",
        b"textarea",
        b"select",
    ];
    SKIPPED.iter().any(|b| b.eq_ignore_ascii_case(name))
}

/// Position of `needle` in `hay[from..]`, ASCII case-insensitively.
fn find_ci(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let first = needle.first()?.to_ascii_lowercase();
    let mut i = from;
    while let Some(rest) = hay.get(i..) {
        let off = rest.iter().position(|c| c.to_ascii_lowercase() == first)?;
        let at = i + off;
        if hay
            .get(at..at + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
        {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// Position of `needle` in `hay[from..]`.
fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The end (index after `>`) of a tag whose attributes start at `i`; quoted attribute
/// values may contain `>`.
fn tag_end(b: &[u8], mut i: usize) -> usize {
    let mut quote: Option<u8> = None;
    let mut last = 0u8;
    while let Some(&c) = b.get(i) {
        i += 1;
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'>' => return i,
            None if (c == b'"' || c == b'\'') && last == b'=' => quote = Some(c),
            None => {
                if !c.is_ascii_whitespace() {
                    last = c;
                }
            }
        }
    }
    b.len()
}

/// HTML to plain text: tags removed, script/style and the like dropped with their
/// content, block elements turned into line breaks, entities decoded, whitespace
/// (non-breaking spaces included) collapsed to single spaces, no leading or trailing
/// space.
pub fn html_to_text(html: &str) -> String {
    let b = html.as_bytes();
    let mut w = Writer::with_capacity(html.len());
    let mut pre_depth = 0usize;
    let mut in_cdata = false;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'<' => {
                let rest = b.get(i..).unwrap_or_default();
                if rest.starts_with(b"<!--") {
                    i = find(b, i + 4, b"-->").map_or(b.len(), |e| e + 3);
                } else if rest.starts_with(b"<![CDATA[") {
                    // A CDATA section left inside HTML by a double-wrapping publisher:
                    // its content was meant to be read.
                    in_cdata = true;
                    i += 9;
                } else if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
                    i = tag_end(b, i + 2);
                } else {
                    let closing = rest.get(1) == Some(&b'/');
                    let start = i + 1 + usize::from(closing);
                    let name_len = b
                        .get(start..)
                        .unwrap_or_default()
                        .iter()
                        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-' || **c == b':')
                        .count();
                    let starts_with_letter = b.get(start).is_some_and(u8::is_ascii_alphabetic);
                    if !starts_with_letter {
                        // "a < b", "<3": text, as in a browser.
                        w.push('<');
                        i += 1;
                        continue;
                    }
                    let name = b.get(start..start + name_len).unwrap_or_default();
                    i = tag_end(b, start + name_len);
                    let self_closing = b.get(i.saturating_sub(2)) == Some(&b'/');
                    if !closing && !self_closing && is_skipped(name) {
                        let mut close = Vec::with_capacity(name.len() + 2);
                        close.extend_from_slice(b"</");
                        close.extend_from_slice(name);
                        i = find_ci(b, i, &close)
                            .map_or(b.len(), |at| tag_end(b, at + close.len()));
                        w.gap(Gap::Space);
                    } else if is_block(name) {
                        w.gap(Gap::Break);
                    } else if name.eq_ignore_ascii_case(b"td") || name.eq_ignore_ascii_case(b"th") {
                        w.gap(Gap::Space);
                    }
                    if name.eq_ignore_ascii_case(b"pre") && !self_closing {
                        if closing {
                            pre_depth = pre_depth.saturating_sub(1);
                        } else {
                            pre_depth += 1;
                        }
                    }
                }
            }
            b'&' => {
                let (ch, second, next) = entity_at(html, i);
                w.push(ch);
                if let Some(c) = second {
                    w.push(c);
                }
                i = next;
            }
            b']' if in_cdata && b.get(i..i + 3) == Some(b"]]>".as_slice()) => {
                in_cdata = false;
                i += 3;
            }
            _ => {
                let run_end = b
                    .get(i..)
                    .unwrap_or_default()
                    .iter()
                    .position(|&c| c == b'<' || c == b'&' || (in_cdata && c == b']'))
                    .map_or(b.len(), |p| i + p.max(1));
                let run = html.get(i..run_end).unwrap_or_default();
                if pre_depth > 0 {
                    run.chars().for_each(|ch| w.push_keeping_lines(ch));
                } else {
                    w.push_run(run);
                }
                i = run_end;
            }
        }
    }
    w.out
}

/// The character reference starting at `s[i] == '&'`: the character and the index after
/// it. An `&` that starts no known reference stands for itself.
fn entity_at(s: &str, i: usize) -> (char, Option<char>, usize) {
    let b = s.as_bytes();
    let literal = ('&', None, i + 1);
    if b.get(i + 1) == Some(&b'#') {
        let hex = matches!(b.get(i + 2), Some(b'x' | b'X'));
        let start = i + 2 + usize::from(hex);
        let digits = b
            .get(start..)
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
        if digits == 0 {
            return literal;
        }
        let mut end = start + digits;
        let value = s
            .get(start..end)
            .and_then(|d| u32::from_str_radix(d, if hex { 16 } else { 10 }).ok());
        if b.get(end) == Some(&b';') {
            end += 1;
        }
        return (numeric_char(value), None, end);
    }
    let name_len = b
        .get(i + 1..)
        .unwrap_or_default()
        .iter()
        .take(32)
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    let end = i + 1 + name_len;
    if name_len == 0 || b.get(end) != Some(&b';') {
        return literal;
    }
    match s.get(i + 1..=end).and_then(crate::entities::named) {
        Some((c, second)) => (c, second, end + 1),
        None => literal,
    }
}

/// What a numeric reference stands for, with the HTML rules: 0x80–0x9F are read as
/// windows-1252 (`&#146;` is ’), invalid code points become U+FFFD.
fn numeric_char(value: Option<u32>) -> char {
    match value {
        None | Some(0) => '\u{FFFD}',
        Some(v @ 0x80..=0x9F) => {
            crate::entities::windows_1252_c1(v).unwrap_or(char::from_u32(v).unwrap_or('\u{FFFD}'))
        }
        Some(v) => char::from_u32(v).unwrap_or('\u{FFFD}'),
    }
}

/// Character references decoded, nothing else touched.
pub fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(rel) = s.get(i..).and_then(|r| r.find('&')) {
        out.push_str(s.get(i..i + rel).unwrap_or_default());
        let (c, second, next) = entity_at(s, i + rel);
        out.push(c);
        out.extend(second);
        i = next;
    }
    out.push_str(s.get(i..).unwrap_or_default());
    Cow::Owned(out)
}

/// Publisher plain text made presentable: entities decoded (feeds marked "text" are
/// full of `&eacute;` that nobody meant literally), whitespace collapsed, line breaks
/// kept as single line breaks. Markup-looking text stays as written: it is text.
pub fn plain_to_text(s: &str) -> String {
    let decoded = decode_entities(s);
    let mut w = Writer::with_capacity(decoded.len());
    for line in decoded.split('\n') {
        w.push_run(line);
        w.gap(Gap::Break);
    }
    w.out
}

/// Every run of whitespace (line breaks included) as one space, trimmed.
pub fn collapse_whitespace(s: &str) -> String {
    let mut w = Writer::with_capacity(s.len());
    w.push_run(s);
    w.out
}

/// Whether sanitised HTML shows anything: text other than whitespace, or an image.
/// Cheaper than [`html_to_text`] when only the answer matters.
pub fn has_visible_content(html: &str) -> bool {
    let b = html.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'<' => {
                let rest = b.get(i..).unwrap_or_default();
                if rest.len() > 4
                    && rest
                        .get(1..4)
                        .is_some_and(|n| n.eq_ignore_ascii_case(b"img"))
                {
                    return true;
                }
                i = tag_end(b, i + 1);
            }
            b'&' => {
                let (ch, _, next) = entity_at(html, i);
                if !ch.is_whitespace() {
                    return true;
                }
                i = next;
            }
            c if c.is_ascii_whitespace() => i += 1,
            c if c.is_ascii() => return true,
            _ => {
                let ch = html.get(i..).and_then(|r| r.chars().next()).unwrap_or(' ');
                if !ch.is_whitespace() && ch != '\u{AD}' && ch != '\u{FEFF}' {
                    return true;
                }
                i += ch.len_utf8();
            }
        }
    }
    false
}

/// Characters that attach to the one before and must not be separated from it: combining
/// marks, variation selectors, joiners.
fn is_attached(c: char) -> bool {
    matches!(c,
        '\u{300}'..='\u{36F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{200C}'..='\u{200D}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{1F3FB}'..='\u{1F3FF}'
        | '\u{E0020}'..='\u{E007F}'
        | '\u{E0100}'..='\u{E01EF}')
}

/// Trailing characters that look wrong before an ellipsis.
fn is_dangling(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ',' | ';' | ':' | '.' | '-' | '–' | '—' | '(' | '«' | '“' | '"' | '\'' | '/'
        )
}

/// At most `max_chars` characters (not bytes), the ellipsis « … » included when the text
/// had to be cut. The cut falls on a word boundary unless that would lose more than half
/// the room (one very long word, a URL), and never between a character and the combining
/// mark or joiner that follows it.
pub fn truncate_words(s: &str, max_chars: usize) -> String {
    // Fast exit without counting when even the byte length fits.
    if s.len() <= max_chars || s.chars().count() <= max_chars {
        return s.to_string();
    }
    let Some(budget) = max_chars.checked_sub(1) else {
        return String::new();
    };
    let cut = s.char_indices().nth(budget).map_or(s.len(), |(i, _)| i);
    let head = s.get(..cut).unwrap_or_default();
    let tail = s.get(cut..).unwrap_or_default();
    let mut end = if tail.starts_with(char::is_whitespace) {
        cut
    } else {
        match head.rfind(char::is_whitespace) {
            Some(ws) if head.get(..ws).map_or(0, |h| h.chars().count()) * 2 >= budget => ws,
            _ => cut,
        }
    };
    // Step back over anything that would be left without its base character.
    while end > 0
        && s.get(end..)
            .and_then(|t| t.chars().next())
            .is_some_and(is_attached)
    {
        end = s
            .get(..end)
            .and_then(|h| h.char_indices().next_back())
            .map_or(0, |(i, _)| i);
    }
    let mut kept = s
        .get(..end)
        .unwrap_or_default()
        .trim_end_matches(is_dangling);
    if kept.is_empty() {
        kept = s.get(..end).unwrap_or_default();
    }
    let mut out = String::with_capacity(kept.len() + 3);
    out.push_str(kept);
    out.push('…');
    out
}

/// Longest derived title, in characters.
pub const MAX_DERIVED_TITLE: usize = 120;

/// Abbreviations whose period does not end a French or English sentence.
fn is_abbreviation(word: &str) -> bool {
    word.chars().count() == 1
        || matches!(
            word,
            "M" | "MM"
                | "Mme"
                | "Mmes"
                | "Mlle"
                | "Mlles"
                | "Me"
                | "Dr"
                | "Pr"
                | "St"
                | "Ste"
                | "Mgr"
                | "cf"
                | "Cf"
                | "av"
                | "env"
                | "hab"
                | "vol"
                | "Mr"
                | "Mrs"
                | "Ms"
                | "vs"
                | "No"
                | "no"
                | "p"
                | "pp"
                | "art"
        )
}

/// Closing marks that may sit between a sentence's final punctuation and the space after.
fn is_closing(c: char) -> bool {
    matches!(
        c,
        '»' | '"' | '”' | '’' | '\'' | ')' | ']' | '\u{A0}' | '\u{202F}'
    )
}

/// The first sentence of `text` (up to `.`, `!`, `?` or `…` followed by a space or the
/// end, or the first line break), whitespace collapsed, a lone final period dropped,
/// at most 120 characters cut on a word with an ellipsis. `None` when there is no text.
pub fn derive_title(text: &str) -> Option<String> {
    let first_line = text.split('\n').map(str::trim).find(|l| !l.is_empty())?;
    let mut end = first_line.len();
    let mut chars = first_line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !matches!(c, '.' | '!' | '?' | '…') {
            continue;
        }
        if c == '.' {
            let word = first_line
                .get(..i)
                .unwrap_or_default()
                .rsplit(|c: char| c.is_whitespace() || c == '(' || c == '«')
                .next()
                .unwrap_or_default();
            if word.chars().all(|c| c.is_alphabetic()) && is_abbreviation(word) {
                continue;
            }
        }
        let mut after = i + c.len_utf8();
        while let Some(&(j, d)) = chars.peek() {
            if matches!(d, '.' | '!' | '?' | '…') || is_closing(d) {
                after = j + d.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        // French spacing: « oui. » keeps its closing guillemet after a space.
        if let Some(rest) = first_line.get(after..) {
            let trimmed = rest.trim_start_matches([' ', '\u{A0}', '\u{202F}']);
            if trimmed.starts_with('»') && rest.len() - trimmed.len() <= 3 {
                after = first_line.len() - trimmed.len() + '»'.len_utf8();
            }
        }
        let at_boundary = first_line
            .get(after..)
            .is_none_or(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace));
        if at_boundary {
            end = after;
            break;
        }
    }
    let sentence = collapse_whitespace(first_line.get(..end).unwrap_or(first_line));
    let sentence = match sentence.strip_suffix('.') {
        Some(s) if !s.ends_with('.') => s.trim_end().to_string(),
        _ => sentence,
    };
    if sentence.is_empty() {
        return None;
    }
    Some(truncate_words(&sentence, MAX_DERIVED_TITLE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_to_text_table() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("plain", "plain"),
            ("<p>Un</p><p>Deux</p>", "Un\nDeux"),
            ("<p>Un</p>\n\n  <p>Deux</p>", "Un\nDeux"),
            ("a<br>b<br/>c<br />d", "a\nb\nc\nd"),
            ("<b>gras</b> et <i>italique</i>", "gras et italique"),
            ("mi<b>lieu</b>", "milieu"),
            ("  spaces \t\n and   tabs  ", "spaces and tabs"),
            (
                "caf&eacute; &laquo;&nbsp;cr&egrave;me&nbsp;&raquo;",
                "café « crème »",
            ),
            (
                "l&rsquo;action &amp; l&#39;&eacute;t&#xE9; &#8230;",
                "l\u{2019}action & l'été …",
            ),
            ("&#146;&#150;", "\u{2019}\u{2013}"),
            ("&#0;&#xD800;&#x110000;", "\u{FFFD}\u{FFFD}\u{FFFD}"),
            ("AT&T &unknown; &amp &", "AT&T &unknown; &amp &"),
            ("non\u{A0}breaking\u{202F}!", "non breaking !"),
            ("<script>alert('<p>x</p>')</script>après", "après"),
            ("<SCRIPT type=x>var a = '</p>';</SCRIPT>après", "après"),
            ("<style>p { color: red }</style>texte", "texte"),
            ("<!-- commentaire <p> -->visible", "visible"),
            ("<![CDATA[<p>dedans</p>]]> dehors", "dedans\ndehors"),
            ("a ]]> b", "a ]]> b"),
            ("<a href=\"x\" title='a > b'>lien</a>", "lien"),
            ("<img src=x alt=\"image\">texte", "texte"),
            ("<ul><li>un</li><li>deux</li></ul>", "un\ndeux"),
            (
                "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>",
                "a b\nc",
            ),
            ("<pre>ligne 1\nligne 2</pre>", "ligne 1\nligne 2"),
            ("<p>a\nb</p>", "a b"),
            ("1 < 2 et 3 > 2", "1 < 2 et 3 > 2"),
            ("<3 toujours", "<3 toujours"),
            ("<svg><text>logo</text></svg>titre", "titre"),
            ("<svg/>titre", "titre"),
            ("<p>unclosed <b", "unclosed"),
            ("<script>never closed", ""),
            ("<!-- never closed", ""),
            ("soft\u{AD}hyphen\u{FEFF}", "softhyphen"),
            ("<?xml version=\"1.0\"?><!DOCTYPE html><p>doc</p>", "doc"),
            (
                "<html><head><title>T</title></head><body>corps</body></html>",
                "corps",
            ),
            ("<h2>Titre</h2>Texte", "Titre\nTexte"),
        ];
        for &(input, want) in cases {
            assert_eq!(html_to_text(input), want, "html_to_text({input:?})");
        }
    }

    #[test]
    fn visible_content() {
        let cases: &[(&str, bool)] = &[
            ("", false),
            ("  \n ", false),
            ("<p> </p><br>", false),
            ("<p>&nbsp;\u{A0}&#32;</p>", false),
            ("<p>\u{AD}</p>", false),
            ("<p>x</p>", true),
            ("<p>é</p>", true),
            ("&amp;", true),
            ("<img src=\"https://ex.org/i.png\">", true),
            ("<p><IMG src=x></p>", true),
        ];
        for &(input, want) in cases {
            assert_eq!(has_visible_content(input), want, "{input:?}");
        }
    }

    #[test]
    fn plain_text_and_whitespace() {
        assert_eq!(
            plain_to_text("  Caf&eacute;  <b>\n\n\nligne  "),
            "Café <b>\nligne"
        );
        assert_eq!(collapse_whitespace(" a \n b\t\tc "), "a b c");
        assert_eq!(decode_entities("sans"), Cow::Borrowed("sans"));
        assert_eq!(decode_entities("&lt;p&gt; &amp;amp;"), "<p> &amp;");
        assert_eq!(decode_entities("fin &"), "fin &");
        assert_eq!(decode_entities("&#x"), "&#x");
        assert_eq!(decode_entities("&#99999999999999;"), "\u{FFFD}");
    }

    #[test]
    fn truncate_table() {
        let cases: &[(&str, usize, &str)] = &[
            ("court", 10, "court"),
            ("exactement", 10, "exactement"),
            ("", 5, ""),
            ("abc", 0, ""),
            ("un deux trois quatre", 10, "un deux…"),
            ("un deux trois quatre", 8, "un deux…"),
            ("un deux, trois", 9, "un deux…"),
            ("élément économie éducation", 12, "élément…"),
            ("ééééééééééééééé", 5, "éééé…"),
            ("https://example.org/very/long/url", 10, "https://e…"),
            ("mot « citation longue »", 7, "mot…"),
            ("Réunion. Suite", 10, "Réunion…"),
            // e + combining acute must stay together: the cut backs off before them.
            ("abcde\u{301}fgh", 6, "abcd…"),
            // A skin-tone modifier stays with its emoji.
            ("👍🏽👍🏽👍🏽", 3, "👍🏽…"),
            ("👍🏽👍🏽", 2, "…"),
        ];
        for &(input, max, want) in cases {
            let got = truncate_words(input, max);
            assert_eq!(got, want, "truncate_words({input:?}, {max})");
            assert!(got.chars().count() <= max, "{got:?} longer than {max}");
        }
    }

    #[test]
    fn derive_title_table() {
        let long = "mot ".repeat(60);
        let long_title = derive_title(&long).unwrap_or_default();
        assert!(long_title.chars().count() <= 120, "{long_title}");
        assert!(long_title.ends_with("mot…"), "{long_title}");
        let cases: &[(&str, Option<&str>)] = &[
            ("", None),
            ("   \n  ", None),
            ("Une phrase. Une autre.", Some("Une phrase")),
            ("Vraiment ? Oui.", Some("Vraiment ?")),
            ("Incroyable! Suite", Some("Incroyable!")),
            ("Et puis… la suite", Some("Et puis…")),
            ("Attendez... la suite", Some("Attendez...")),
            (
                "Le taux est de 3.5 % cette année. Fin",
                Some("Le taux est de 3.5 % cette année"),
            ),
            (
                "M. Dupont et Mme. Durand ont signé. Ensuite",
                Some("M. Dupont et Mme. Durand ont signé"),
            ),
            (
                "J. Martin présente le guide. Fin",
                Some("J. Martin présente le guide"),
            ),
            ("Il a dit « oui. » Puis non.", Some("Il a dit « oui. »")),
            ("Sans ponctuation finale", Some("Sans ponctuation finale")),
            ("Première ligne\nDeuxième ligne.", Some("Première ligne")),
            (
                "\n\n  Après des lignes vides. Oui",
                Some("Après des lignes vides"),
            ),
            (
                "www.example.org est le site. Fin",
                Some("www.example.org est le site"),
            ),
        ];
        for &(input, want) in cases {
            assert_eq!(
                derive_title(input).as_deref(),
                want,
                "derive_title({input:?})"
            );
        }
    }
}

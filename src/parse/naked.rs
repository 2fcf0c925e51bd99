//! Naked markup: HTML written unescaped inside an element whose content is text or
//! escaped HTML — `<description><p>Compte rendu…</p></description>`,
//! `<title>Un <b>gras</b> titre</title>`. Sloppy CMSs do it often. feed-rs reads such an
//! element's text only up to its first child element, so without this pass the title
//! above became « Un » and the description nothing at all: data lost without a word.
//! Here the element's content is wrapped in a CDATA section, which is what the publisher
//! meant (the markup as the element's escaped HTML). Pure string work on the repaired
//! document, before feed-rs.
//!
//! Atom 0.3 text constructs may also come base64-encoded (`mode="base64"`), which
//! feed-rs hands over still encoded: such content is decoded here (when it is UTF-8
//! text) and marked `mode="escaped"`.
//!
//! The RSS 2.0 era's `xhtml:body` (markup; also a bare `<body>` right inside an
//! `<item>`) and `fullitem` (escaped HTML), which feed-rs ignores, are renamed
//! `content:encoded`, which it reads as the content.
//!
//! Only unprefixed `title`, `description`, `summary`, `subtitle` and `tagline` are
//! touched, and never an element that declares inline XHTML (`type="xhtml"`,
//! `mode="xml"`): there child elements are legitimate, and such an element is skipped
//! whole, so a `<title>` inside inline SVG stays as it is. An element whose content
//! already has a CDATA section, or whose end tag is not where the nesting says, is left
//! alone (feed-rs decides).

use super::repair::{find_seq, is_name_start, is_ws, matching_end_tag};

const TEXT_ELEMENTS: &[&str] = &["title", "description", "summary", "subtitle", "tagline"];

/// The document with the naked markup of text elements wrapped in CDATA, and how many
/// elements were; `None` when there was none.
pub(crate) fn wrap(text: &str) -> Option<(String, usize)> {
    let b = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut wrapped = 0;
    // The elements open around the current position (those whose content is scanned):
    // a bare `<body>` is an item's content only right inside an `<item>`.
    let mut open: Vec<&str> = Vec::new();
    let mut i = 0;
    while let Some(rel) = b.get(i..).and_then(|r| r.iter().position(|&c| c == b'<')) {
        let lt = i + rel;
        let rest = b.get(lt..).unwrap_or_default();
        let skip_past = |needle: &[u8]| find_seq(b, lt + 1, needle).map(|e| e + needle.len());
        let next = if rest.starts_with(b"<!--") {
            skip_past(b"-->")
        } else if rest.starts_with(b"<![CDATA[") {
            skip_past(b"]]>")
        } else if rest.starts_with(b"<?") {
            skip_past(b"?>")
        } else if rest.starts_with(b"</") {
            let name = text
                .get(lt + 2..)
                .unwrap_or_default()
                .split(|c: char| c == '>' || c.is_ascii_whitespace())
                .next()
                .unwrap_or_default();
            if let Some(at) = open.iter().rposition(|o| *o == name) {
                open.truncate(at);
            }
            Some(lt + 2)
        } else if !b.get(lt + 1).is_some_and(|&c| is_name_start(c)) {
            Some(lt + 1)
        } else {
            let Some(head_end) = tag_end(b, lt) else {
                break;
            };
            let name_len = b
                .get(lt + 1..head_end)
                .unwrap_or_default()
                .iter()
                .take_while(|&&c| !is_ws(c) && c != b'/' && c != b'>')
                .count();
            let name = text.get(lt + 1..lt + 1 + name_len).unwrap_or_default();
            let attrs = text.get(lt + 1 + name_len..head_end).unwrap_or_default();
            let self_closing = attrs.ends_with('/');
            let content_start = head_end + 1;
            if self_closing {
                Some(content_start)
            } else if let Some(decoded) = base64_content(text, name, attrs, content_start) {
                let (end, decoded) = decoded;
                out.push_str(text.get(copied..lt).unwrap_or_default());
                let head = text.get(lt..content_start).unwrap_or_default();
                out.push_str(
                    &head
                        .replacen(BASE64_MODE.0, "mode=\"escaped\"", 1)
                        .replacen(BASE64_MODE.1, "mode='escaped'", 1),
                );
                push_cdata(&mut out, &decoded);
                copied = end;
                wrapped += 1;
                Some(end)
            } else if let Some(kind) = content_alias(name, attrs, open.last().copied()) {
                // The RSS 2.0 era's `xhtml:body` and `fullitem`: the item's content,
                // which feed-rs does not know, given as `content:encoded`.
                let end = closing(text, name, content_start);
                let close = end.and_then(|e| tag_end(b, e));
                match (end, close) {
                    (Some(end), Some(close)) => {
                        let content = text.get(content_start..end).unwrap_or_default();
                        out.push_str(text.get(copied..lt).unwrap_or_default());
                        out.push_str(CONTENT_ENCODED.0);
                        match kind {
                            Alias::Markup => push_cdata(&mut out, content),
                            Alias::Escaped => out.push_str(content),
                        }
                        out.push_str(CONTENT_ENCODED.1);
                        copied = close + 1;
                        wrapped += 1;
                        Some(close + 1)
                    }
                    _ => Some(content_start),
                }
            } else if declares_xhtml(attrs) {
                // Inline XHTML: legitimate children, skipped whole.
                matching_end_tag(b, content_start).or(Some(content_start))
            } else if TEXT_ELEMENTS.contains(&name) {
                match closing(text, name, content_start) {
                    Some(end) => {
                        let content = text.get(content_start..end).unwrap_or_default();
                        if has_child_element(content) && !content.contains("<![CDATA[") {
                            out.push_str(text.get(copied..content_start).unwrap_or_default());
                            push_cdata(&mut out, content);
                            copied = end;
                            wrapped += 1;
                        }
                        Some(end)
                    }
                    None => Some(content_start),
                }
            } else {
                open.push(name);
                Some(content_start)
            }
        };
        match next {
            Some(n) => i = n,
            None => break,
        }
    }
    if wrapped == 0 {
        return None;
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    Some((out, wrapped))
}

const CONTENT_ENCODED: (&str, &str) = (
    "<content:encoded xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">",
    "</content:encoded>",
);

/// How an element standing for an item's content holds it.
enum Alias {
    /// `xhtml:body`: the content is markup.
    Markup,
    /// `fullitem`: the content is escaped HTML already.
    Escaped,
}

fn content_alias(name: &str, attrs: &str, parent: Option<&str>) -> Option<Alias> {
    match name {
        "xhtml:body" => Some(Alias::Markup),
        "body" if attrs.contains("http://www.w3.org/1999/xhtml") || parent == Some("item") => {
            Some(Alias::Markup)
        }
        "fullitem" => Some(Alias::Escaped),
        _ => None,
    }
}

/// The attribute marking base64 content, in either quotes.
const BASE64_MODE: (&str, &str) = ("mode=\"base64\"", "mode='base64'");

/// For an element marked `mode="base64"`: where its end tag starts and its content
/// decoded, when that content is base64 of UTF-8 text.
fn base64_content(text: &str, name: &str, attrs: &str, from: usize) -> Option<(usize, String)> {
    use base64::Engine as _;
    if !(attrs.contains(BASE64_MODE.0) || attrs.contains(BASE64_MODE.1)) {
        return None;
    }
    let end = closing(text, name, from)?;
    let encoded: String = text
        .get(from..end)?
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    Some((end, String::from_utf8(bytes).ok()?))
}

fn push_cdata(out: &mut String, content: &str) {
    out.push_str("<![CDATA[");
    out.push_str(&content.replace("]]>", "]]]]><![CDATA[>"));
    out.push_str("]]>");
}

/// Offset of the `>` ending the tag that opens at `lt`, quotes respected.
fn tag_end(b: &[u8], lt: usize) -> Option<usize> {
    let mut quote = None;
    for (j, &c) in b.iter().enumerate().skip(lt + 1) {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if c == b'>' => return Some(j),
            None => {}
        }
    }
    None
}

/// Where the end tag of `name` whose content starts at `from` begins, if the nesting
/// leads to an end tag of that very name.
fn closing(text: &str, name: &str, from: usize) -> Option<usize> {
    let end = matching_end_tag(text.as_bytes(), from)?;
    let after = text.get(end + 2..)?;
    let rest = after.strip_prefix(name)?;
    rest.trim_start().starts_with('>').then_some(end)
}

fn declares_xhtml(attrs: &str) -> bool {
    let lower = attrs.to_ascii_lowercase();
    lower.contains("xhtml") || lower.contains("mode=\"xml\"") || lower.contains("mode='xml'")
}

/// Whether `content` has a start or end tag (not only text, comments or instructions).
fn has_child_element(content: &str) -> bool {
    let b = content.as_bytes();
    b.windows(2)
        .any(|w| w[0] == b'<' && (is_name_start(w[1]) || w[1] == b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_markup_in_text_elements_only() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "<item><title>Un <b>gras</b> titre</title></item>",
                Some("<item><title><![CDATA[Un <b>gras</b> titre]]></title></item>"),
            ),
            (
                "<description><p>a</p> b <br/> c</description>",
                Some("<description><![CDATA[<p>a</p> b <br/> c]]></description>"),
            ),
            // `]]>` in the text cannot end the section early.
            (
                "<summary><i>x</i> ]]&gt; ]]></summary>",
                Some("<summary><![CDATA[<i>x</i> ]]&gt; ]]]]><![CDATA[>]]></summary>"),
            ),
            // Plain text, escaped markup, CDATA: nothing to do.
            ("<title>Un &lt;b&gt; titre</title>", None),
            ("<description><![CDATA[<p>a</p>]]></description>", None),
            (
                "<description><![CDATA[<p>a</p>]]><p>b</p></description>",
                None,
            ),
            // Inline XHTML keeps its children, an SVG title inside it included.
            (
                "<content type=\"xhtml\"><div><svg><title>t <b>x</b></title></svg></div></content>",
                None,
            ),
            ("<summary mode=\"xml\"><p>a</p></summary>", None),
            // Other elements, prefixed ones, unbalanced markup: left to feed-rs.
            ("<link><b>x</b></link>", None),
            ("<media:title><b>x</b></media:title>", None),
            ("<title>a<br>b</title></channel>", None),
            ("<title>a <b>b</title>", None),
            // Base64 (Atom 0.3): decoded, marked escaped; not base64, or not text: kept.
            (
                "<title type=\"text/html\" mode=\"base64\">\n PGI+YTwvYj4=\n</title>",
                Some("<title type=\"text/html\" mode=\"escaped\"><![CDATA[<b>a</b>]]></title>"),
            ),
            ("<content mode=\"base64\">pas du base64 !</content>", None),
            // xhtml:body and fullitem become content:encoded.
            (
                "<item><body xmlns=\"http://www.w3.org/1999/xhtml\"><p>a</p></body></item>",
                Some("<item><content:encoded xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><![CDATA[<p>a</p>]]></content:encoded></item>"),
            ),
            (
                "<item><fullitem>&lt;p&gt;a&lt;/p&gt;</fullitem></item>",
                Some("<item><content:encoded xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">&lt;p&gt;a&lt;/p&gt;</content:encoded></item>"),
            ),
            // A bare <body> right inside an item too; anywhere else, not.
            (
                "<item><title>t</title><body><p>a</p></body></item>",
                Some("<item><title>t</title><content:encoded xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><![CDATA[<p>a</p>]]></content:encoded></item>"),
            ),
            ("<item><x><body><p>a</p></body></x></item>", None),
            ("<channel><body><p>a</p></body><item/></channel>", None),
            ("<content mode=\"base64\">/w==</content>", None),
        ];
        for (input, want) in cases {
            let got = wrap(input).map(|(text, _)| text);
            assert_eq!(got.as_deref(), *want, "{input}");
        }
        assert_eq!(
            wrap("<title><b>a</b></title><description><p>b</p></description>").map(|(_, n)| n),
            Some(2)
        );
    }

    #[test]
    fn hostile_input_does_not_panic() {
        for input in [
            "<",
            "<title",
            "<title>",
            "<title><b>",
            "<title><b></title",
            "<title a=\"></title>",
            "<!--",
            "<![CDATA[",
            "<?",
            "<title>é<b>ü</b></title>",
        ] {
            let _ = wrap(input);
        }
    }
}

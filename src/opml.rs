//! Reading OPML subscription lists (what feed readers and other aggregators export), for
//! `relais sources import`. Owns roxmltree. Pure: bytes in, feeds out; no I/O.
//!
//! OPML in the wild is loose, and this reader is too: the bytes go through the same
//! decoding and repair as feeds (any encoding, HTML entities, bare `&`, no DOCTYPE), then
//! a strict XML parser. Attribute names are matched ignoring case (`xmlUrl`, `xmlurl`,
//! `XMLURL`); `title` is preferred to `text`; nested outlines without a feed URL are
//! categories, and become tags of the feeds inside them, as do OPML `category`
//! attributes (`/europe/jumelage,/formation`). An outline with no feed URL and nothing
//! inside is reported, not silently dropped.

/// A feed listed in an OPML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// `title`, else `text`, trimmed and on one line; `None` when both are empty.
    pub title: Option<String>,
    /// The feed's URL exactly as written (trimmed): the caller decides what it accepts.
    pub xml_url: String,
    /// The site (`htmlUrl`), as written.
    pub html_url: Option<String>,
    /// Enclosing categories (outermost first), then the `category` attribute's.
    pub tags: Vec<String>,
    pub language: Option<String>,
}

/// Something in the document that is not a feed, worth telling the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The outline's title or text.
    pub title: String,
    pub line: u32,
    pub reason: &'static str,
}

/// A document's feeds, in document order, and the outlines that were not feeds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outlines {
    pub feeds: Vec<Feed>,
    pub skipped: Vec<Skipped>,
}

/// Why a document is not an OPML list. Messages are lower case; the caller names the file.
#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    #[error("not xml: {0}")]
    NotXml(String),
    #[error("malformed xml: {0}")]
    Malformed(String),
    #[error("not an opml document: the root element is <{0}>")]
    NotOpml(String),
    #[error("not an opml document: no <body>")]
    NoBody,
}

/// The most elements a document may hold: far beyond any real subscription list.
const MAX_NODES: u32 = 2_000_000;

/// Read an OPML document.
pub fn parse(bytes: &[u8]) -> Result<Outlines, OpmlError> {
    let text = crate::parse::repair_xml(bytes).map_err(|e| OpmlError::NotXml(e.to_string()))?;
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(&text, options)
        .map_err(|e| OpmlError::Malformed(e.to_string()))?;
    let root = doc.root_element();
    if !root.tag_name().name().eq_ignore_ascii_case("opml") {
        return Err(OpmlError::NotOpml(root.tag_name().name().to_string()));
    }
    let body = root
        .children()
        .find(|n| n.is_element() && n.tag_name().name().eq_ignore_ascii_case("body"))
        .ok_or(OpmlError::NoBody)?;
    let mut out = Outlines::default();
    let mut path = Vec::new();
    walk(&doc, body, &mut path, &mut out);
    Ok(out)
}

fn walk<'a>(
    doc: &roxmltree::Document<'a>,
    parent: roxmltree::Node<'a, 'a>,
    path: &mut Vec<String>,
    out: &mut Outlines,
) {
    for node in parent
        .children()
        .filter(|n| n.is_element() && n.tag_name().name().eq_ignore_ascii_case("outline"))
    {
        let label = one_line(attr(node, "title")).or_else(|| one_line(attr(node, "text")));
        let has_children = node.children().any(|n| n.is_element());
        let xml_url = attr(node, "xmlUrl")
            .or_else(|| {
                // Some exporters write `url` on `type="rss"` outlines; on others `url` is a
                // web page (`type="link"`), not a feed.
                attr(node, "type")
                    .filter(|t| is_feed_type(t))
                    .and_then(|_| attr(node, "url"))
            })
            .map(str::trim)
            .filter(|u| !u.is_empty());
        match xml_url {
            Some(url) => {
                let mut tags = path.clone();
                for tag in category_tags(attr(node, "category")) {
                    if !tags.contains(&tag) {
                        tags.push(tag);
                    }
                }
                out.feeds.push(Feed {
                    title: label,
                    xml_url: url.to_string(),
                    html_url: attr(node, "htmlUrl")
                        .map(str::trim)
                        .filter(|u| !u.is_empty())
                        .map(str::to_string),
                    tags,
                    language: attr(node, "language")
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_string),
                });
                // A feed outline with children is unusual; its children are still read.
                if has_children {
                    walk(doc, node, path, out);
                }
            }
            None if has_children => {
                let pushed = label.clone().filter(|l| !path.contains(l));
                if let Some(l) = &pushed {
                    path.push(l.clone());
                }
                walk(doc, node, path, out);
                if pushed.is_some() {
                    path.pop();
                }
            }
            None => out.skipped.push(Skipped {
                title: label.unwrap_or_else(|| "(untitled outline)".to_string()),
                line: doc.text_pos_at(node.range().start).row,
                reason: "no feed URL (xmlUrl)",
            }),
        }
    }
}

fn is_feed_type(t: &str) -> bool {
    ["rss", "atom", "feed", "json"]
        .iter()
        .any(|k| t.trim().eq_ignore_ascii_case(k))
}

/// An attribute by name, ignoring ASCII case (OPML files spell `xmlUrl` every way).
fn attr<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Option<&'a str> {
    node.attributes()
        .find(|a| a.name().eq_ignore_ascii_case(name))
        .map(|a| a.value())
}

/// Trimmed, inner whitespace runs as one space; `None` when empty.
fn one_line(text: Option<&str>) -> Option<String> {
    let joined = text?.split_whitespace().collect::<Vec<_>>().join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// OPML's `category`: comma-separated, each a `/`-separated path; every level is a tag.
fn category_tags(value: Option<&str>) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for part in value.unwrap_or_default().split(',') {
        for level in part.split('/') {
            if let Some(tag) = one_line(Some(level)) {
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feeds(text: &str) -> Vec<Feed> {
        parse(text.as_bytes()).unwrap().feeds
    }

    /// An expected feed: title, URL, tags.
    type Want = (&'static str, &'static str, &'static [&'static str]);

    #[test]
    fn loose_documents_are_read() {
        let cases: &[(&str, &[Want])] = &[
            (
                r#"<opml version="2.0"><body><outline type="rss" text="CIEDEL" xmlUrl="https://ciedel.example.org/feed"/></body></opml>"#,
                &[("CIEDEL", "https://ciedel.example.org/feed", &[])],
            ),
            // Lower-case attribute names, title preferred to text, whitespace folded.
            (
                r#"<opml><body><outline text="court" title="  Cités   Unies
                 France " xmlurl=" https://cites-unies-france.example.org/rss "/></body></opml>"#,
                &[(
                    "Cités Unies France",
                    "https://cites-unies-france.example.org/rss",
                    &[],
                )],
            ),
            // Nested categories become tags; category attributes add theirs.
            (
                r#"<?xml version="1.0"?>
                <opml version="1.0"><head><title>Export</title></head><body>
                  <outline text="Coopération">
                    <outline text="Europe">
                      <outline text="AFCCRE" xmlUrl="https://afccre.example.org/feed" category="/jumelage,/Europe"/>
                    </outline>
                    <outline title="Cap Rural" xmlUrl="https://caprural.example.org/rss"/>
                  </outline>
                  <outline text="Seul" xmlUrl="http://seul.example.org/atom"/>
                </body></opml>"#,
                &[
                    (
                        "AFCCRE",
                        "https://afccre.example.org/feed",
                        &["Coopération", "Europe", "jumelage"],
                    ),
                    (
                        "Cap Rural",
                        "https://caprural.example.org/rss",
                        &["Coopération"],
                    ),
                    ("Seul", "http://seul.example.org/atom", &[]),
                ],
            ),
            // HTML entities and a bare ampersand, as sloppy exporters write them.
            (
                r#"<opml><body><outline text="R&eacute;seau &amp; territoires &nbsp;" xmlUrl="https://r.example.org/feed?a=1&b=2"/></body></opml>"#,
                &[(
                    "Réseau & territoires",
                    "https://r.example.org/feed?a=1&b=2",
                    &[],
                )],
            ),
            // `url` on a feed-typed outline; `url` on a link outline is not a feed.
            (
                r#"<opml><body><outline type="RSS" text="Old" url="https://old.example.org/rss"/><outline type="link" text="Page" url="https://page.example.org/"/></body></opml>"#,
                &[("Old", "https://old.example.org/rss", &[])],
            ),
            // No title at all.
            (
                r#"<opml><body><outline xmlUrl="https://anonyme.example.org/feed"/></body></opml>"#,
                &[("", "https://anonyme.example.org/feed", &[])],
            ),
            // An empty body.
            ("<opml><head/><body/></opml>", &[]),
        ];
        for (doc, want) in cases {
            let got = feeds(doc);
            let got: Vec<(String, String, Vec<String>)> = got
                .into_iter()
                .map(|f| (f.title.unwrap_or_default(), f.xml_url, f.tags))
                .collect();
            let want: Vec<(String, String, Vec<String>)> = want
                .iter()
                .map(|(t, u, tags)| {
                    (
                        t.to_string(),
                        u.to_string(),
                        tags.iter().map(|t| t.to_string()).collect(),
                    )
                })
                .collect();
            assert_eq!(got, want, "{doc}");
        }
    }

    #[test]
    fn latin1_bytes_are_decoded() {
        let mut bytes = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><opml><body><outline text=\"Coop\xe9ration\" xmlUrl=\"https://c.example.org/\" htmlUrl=\"https://c.example.org/site\" language=\"fr\"/></body></opml>".to_vec();
        bytes.push(b'\n');
        let got = parse(&bytes).unwrap().feeds;
        assert_eq!(got[0].title.as_deref(), Some("Coopération"));
        assert_eq!(
            got[0].html_url.as_deref(),
            Some("https://c.example.org/site")
        );
        assert_eq!(got[0].language.as_deref(), Some("fr"));
    }

    #[test]
    fn outlines_without_a_feed_are_reported() {
        let got = parse(
            b"<opml><body>\n<outline text=\"Vide\"/>\n<outline text=\"Page\" type=\"link\" url=\"https://p.example.org/\"/></body></opml>",
        )
        .unwrap();
        assert!(got.feeds.is_empty());
        assert_eq!(got.skipped.len(), 2);
        assert_eq!(got.skipped[0].title, "Vide");
        assert_eq!(got.skipped[0].line, 2);
    }

    #[test]
    fn what_is_not_opml_is_an_error() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "not xml: empty document"),
            (
                b"<opml><body><outline text=\"x\"></body></opml>",
                "malformed xml:",
            ),
            (
                b"<rss version=\"2.0\"><channel/></rss>",
                "not an opml document: the root element is <rss>",
            ),
            (b"<opml><head/></opml>", "not an opml document: no <body>"),
            (
                b"<!DOCTYPE html><html><body><p>404</p></body></html>",
                "not xml: not a feed: an html page",
            ),
        ];
        for (doc, want) in cases {
            let got = parse(doc).unwrap_err().to_string();
            assert!(
                got.starts_with(want),
                "{got:?} for {:?}",
                String::from_utf8_lossy(doc)
            );
        }
    }
}

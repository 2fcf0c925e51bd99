//! Publisher HTML made safe to republish: the only place relais uses ammonia. Pure.
//!
//! Partner content ends up in relais's own pages, feeds and e-mails, so anything that can
//! run, load or restyle is removed: script, style, iframe, object, embed, forms, svg and
//! math (the two namespaces behind mutation-XSS tricks, dropped with their content), event
//! handlers, style and class attributes, and every URL scheme except http, https and
//! mailto — ammonia parses the fragment like a browser, so entity-encoded, mixed-case or
//! tab-split `javascript:` arrives at the scheme check already decoded. What stays is
//! reading markup: paragraphs, links, images, lists, quotes, emphasis, headings, figures,
//! tables, code. Headings are kept at the publisher's level: republished feeds should
//! carry the publisher's structure, and pages style them inside the item anyway.
//!
//! Relative `href`/`src` become absolute against the entry's base. ammonia's
//! `UrlRelative::RewriteWithBase` fixes the base when the `Builder` is made, and building
//! one (a dozen hash sets) per item would cost more than many items take to clean; so
//! one `Builder` is built once for the process, and its custom resolver reads the base
//! of the call in progress from a thread-local set around `clean`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use ammonia::{Builder, UrlRelative};
use url::Url;

use super::urls;

thread_local! {
    /// The base of the `sanitize_html` call running on this thread.
    static BASE: RefCell<Option<Url>> = const { RefCell::new(None) };
}

/// Relative `href`/`src` against the current base; dropped when there is none or the
/// result is not a web URL.
fn rewrite_relative(href: &str) -> Option<Cow<'_, str>> {
    BASE.with(|base| {
        let base = base.borrow();
        let joined = base.as_ref()?.join(href).ok()?;
        urls::is_web(&joined).then(|| Cow::Owned(String::from(joined)))
    })
}

fn builder() -> &'static Builder<'static> {
    static BUILDER: OnceLock<Builder<'static>> = OnceLock::new();
    BUILDER.get_or_init(|| {
        let tags: HashSet<&str> = [
            "a",
            "abbr",
            "b",
            "blockquote",
            "br",
            "caption",
            "cite",
            "code",
            "col",
            "colgroup",
            "dd",
            "del",
            "div",
            "dl",
            "dt",
            "em",
            "figcaption",
            "figure",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "hr",
            "i",
            "img",
            "ins",
            "kbd",
            "li",
            "mark",
            "ol",
            "p",
            "pre",
            "q",
            "s",
            "small",
            "span",
            "strong",
            "sub",
            "sup",
            "table",
            "tbody",
            "td",
            "tfoot",
            "th",
            "thead",
            "time",
            "tr",
            "u",
            "ul",
        ]
        .into_iter()
        .collect();
        // Removed with everything inside: code, chrome, or namespaces that re-parse
        // differently once serialised.
        let clean_content: HashSet<&str> = [
            "script", "style", "iframe", "noscript", "template", "object", "applet", "svg", "math",
            "select", "textarea", "noembed", "noframes", "title",
        ]
        .into_iter()
        .collect();
        let attrs = |list: &[&'static str]| list.iter().copied().collect::<HashSet<_>>();
        let tag_attributes: HashMap<&str, HashSet<&str>> = [
            ("a", attrs(&["href", "hreflang"])),
            ("img", attrs(&["src", "alt", "width", "height"])),
            ("td", attrs(&["colspan", "rowspan"])),
            ("th", attrs(&["colspan", "rowspan", "scope"])),
            ("col", attrs(&["span"])),
            ("colgroup", attrs(&["span"])),
            ("ol", attrs(&["start"])),
            ("time", attrs(&["datetime"])),
        ]
        .into_iter()
        .collect();
        let mut b = Builder::empty();
        b.tags(tags)
            .clean_content_tags(clean_content)
            .tag_attributes(tag_attributes)
            .generic_attributes(attrs(&["lang", "title"]))
            .url_schemes(attrs(&["http", "https", "mailto"]))
            .url_relative(UrlRelative::Custom(Box::new(rewrite_relative)))
            .link_rel(Some("noopener nofollow"))
            .strip_comments(true);
        b
    })
}

/// Sanitise an HTML fragment; relative links and images become absolute against `base`
/// (and are dropped when there is no base, since a relative link republished elsewhere
/// points nowhere).
pub fn sanitize_html(html: &str, base: Option<&Url>) -> String {
    BASE.with(|b| *b.borrow_mut() = base.cloned());
    let out = builder().clean(html).to_string();
    BASE.with(|b| *b.borrow_mut() = None);
    out
}

/// Plain text as HTML: each line a paragraph, escaped.
pub fn text_to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        out.push_str("<p>");
        for c in line.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                _ => out.push(c),
            }
        }
        out.push_str("</p>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        match Url::parse("https://ciedel.example.org/actualites/article") {
            Ok(u) => u,
            Err(e) => panic!("{e}"),
        }
    }

    fn clean(html: &str) -> String {
        sanitize_html(html, Some(&base()))
    }

    #[test]
    fn keeps_reading_markup() {
        let cases: &[(&str, &str)] = &[
            ("<p>Un <em>mot</em> et <strong>un autre</strong></p>", "<p>Un <em>mot</em> et <strong>un autre</strong></p>"),
            ("<ul><li>a</li></ul><ol start=\"3\"><li>b</li></ol>", "<ul><li>a</li></ul><ol start=\"3\"><li>b</li></ol>"),
            ("<blockquote>cité</blockquote>", "<blockquote>cité</blockquote>"),
            ("<h2>Titre</h2>", "<h2>Titre</h2>"),
            ("<figure><img src=\"https://ex.org/i.png\" alt=\"i\"><figcaption>légende</figcaption></figure>",
             "<figure><img src=\"https://ex.org/i.png\" alt=\"i\"><figcaption>légende</figcaption></figure>"),
            ("<table><tr><td colspan=\"2\">x</td></tr></table>", "<table><tbody><tr><td colspan=\"2\">x</td></tr></tbody></table>"),
            ("<pre><code>let x = 1;</code></pre>", "<pre><code>let x = 1;</code></pre>"),
            ("x<sup>es</sup> H<sub>2</sub>O<hr>", "x<sup>es</sup> H<sub>2</sub>O<hr>"),
            ("<p>caf&eacute; &laquo;&nbsp;oui&nbsp;&raquo;</p>", "<p>café «&nbsp;oui&nbsp;»</p>"),
            ("<a href=\"mailto:contact@ex.org\">écrire</a>", "<a href=\"mailto:contact@ex.org\" rel=\"noopener nofollow\">écrire</a>"),
        ];
        for &(input, want) in cases {
            assert_eq!(clean(input), want, "sanitize({input:?})");
        }
    }

    #[test]
    fn makes_links_absolute_with_rel() {
        let cases: &[(&str, &str)] = &[
            ("<a href=\"/recherche/internationalisation-villes-territoires\">lire</a>",
             "<a href=\"https://ciedel.example.org/recherche/internationalisation-villes-territoires\" rel=\"noopener nofollow\">lire</a>"),
            ("<img src=\"images/photo.jpg\">", "<img src=\"https://ciedel.example.org/actualites/images/photo.jpg\">"),
            ("<a href=\"//cdn.ex.org/f.pdf\">pdf</a>", "<a href=\"https://cdn.ex.org/f.pdf\" rel=\"noopener nofollow\">pdf</a>"),
            ("<a href=\"https://ex.org/\" rel=\"opener\" target=\"_blank\">x</a>", "<a href=\"https://ex.org/\" rel=\"noopener nofollow\">x</a>"),
            ("<a href=\"#note\">note</a>", "<a href=\"https://ciedel.example.org/actualites/article#note\" rel=\"noopener nofollow\">note</a>"),
        ];
        for &(input, want) in cases {
            assert_eq!(clean(input), want, "sanitize({input:?})");
        }
        // Without a base a relative link cannot be made to work: it goes, its text stays.
        assert_eq!(
            sanitize_html("<a href=\"/x\">lien</a><img src=\"y.png\">", None),
            "<a rel=\"noopener nofollow\">lien</a><img>"
        );
    }

    #[test]
    fn removes_dangerous_markup() {
        let cases: &[(&str, &str)] = &[
            ("<script>alert(1)</script>texte", "texte"),
            ("<style>body{display:none}</style>texte", "texte"),
            ("<iframe src=\"https://evil.example\"></iframe>texte", "texte"),
            ("<object data=\"x.swf\"><param name=a></object>texte", "texte"),
            ("<embed src=\"x.swf\">texte", "texte"),
            ("<form action=\"https://evil.example\"><input name=q><button>Go</button></form>", "Go"),
            ("<svg><circle r=\"5\"></circle></svg>texte", "texte"),
            ("<math><mi>x</mi></math>texte", "texte"),
            ("<p onclick=\"alert(1)\" style=\"color:red\" class=\"c\" id=\"i\">p</p>", "<p>p</p>"),
            ("<img src=\"https://ex.org/i.png\" onerror=\"alert(1)\">", "<img src=\"https://ex.org/i.png\">"),
            ("<a href=\"javascript:alert(1)\">x</a>", "<a rel=\"noopener nofollow\">x</a>"),
            ("<a href=\"JaVaScRiPt:alert(1)\">x</a>", "<a rel=\"noopener nofollow\">x</a>"),
            ("<a href=\"jav&#x09;ascript:alert(1)\">x</a>", "<a rel=\"noopener nofollow\">x</a>"),
            ("<a href=\"jav\tascript:alert(1)\">x</a>", "<a rel=\"noopener nofollow\">x</a>"),
            ("<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>", "<a rel=\"noopener nofollow\">x</a>"),
            ("<a href=\"javascript&colon;alert(1)\">x</a>", "<a rel=\"noopener nofollow\">x</a>"),
            ("<a href=\" &#14;javascript:alert(1)\">x</a>", "<a rel=\"noopener nofollow\">x</a>"),
            ("<a href=\"vbscript:msgbox(1)\">x</a>", "<a rel=\"noopener nofollow\">x</a>"),
            ("<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>", "<a rel=\"noopener nofollow\">x</a>"),
            ("<img src=\"data:image/svg+xml,<svg onload=alert(1)>\">", "<img>"),
            ("<!-- <script>alert(1)</script> -->texte", "texte"),
            ("<base href=\"https://evil.example/\"><meta http-equiv=refresh content=0>texte", "texte"),
            ("<link rel=stylesheet href=\"https://evil.example/x.css\">texte", "texte"),
        ];
        for &(input, want) in cases {
            assert_eq!(clean(input), want, "sanitize({input:?})");
        }
    }

    /// Mutation XSS: markup that a sanitiser sees one way and a browser, after
    /// serialisation, re-parses another. The output must be inert and must re-sanitise
    /// to itself (nothing changes meaning on a second parse).
    #[test]
    fn mutation_xss_is_inert() {
        let inputs = [
            "<svg><style><img src=x onerror=alert(1)>",
            "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
            "<svg></p><style><a id=\"</style><img src=1 onerror=alert(1)>\">",
            "<math><mtext><h1><a><h6></a></h6><mglyph><svg><mtext><style><a title=\"</style><img src onerror=alert(1)>\"></style></h1>",
            "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
            "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
            "<svg><foreignobject><p><style><img src=x onerror=alert(1)></style></p></foreignobject></svg>",
            "<a href=\"jav&#x09;ascript:alert(1)\">x</a><a href=\"JaVaScRiPt:alert(1)\">y</a>",
        ];
        for input in inputs {
            let once = clean(input);
            let lower = once.to_ascii_lowercase();
            for bad in [
                "onerror",
                "<style",
                "<svg",
                "<math",
                "<script",
                "javascript:",
                "<noscript",
            ] {
                assert!(!lower.contains(bad), "{input:?} gave {once:?}");
            }
            assert_eq!(
                clean(&once),
                once,
                "not stable under re-sanitising: {input:?}"
            );
        }
    }

    #[test]
    fn cdata_end_marker_becomes_harmless_text() {
        let out = clean("<p>fin ]]> <script>alert(1)</script> suite</p>");
        assert_eq!(out, "<p>fin ]]&gt;  suite</p>");
        assert!(!out.contains("]]>"));
    }

    #[test]
    fn base_does_not_leak_between_calls() {
        let _ = clean("<a href=\"/a\">a</a>");
        assert_eq!(
            sanitize_html("<a href=\"/b\">b</a>", None),
            "<a rel=\"noopener nofollow\">b</a>"
        );
    }

    #[test]
    fn text_to_html_escapes_and_wraps() {
        assert_eq!(
            text_to_html("Un <b>faux</b> & \"vrai\"\n\nDeux"),
            "<p>Un &lt;b&gt;faux&lt;/b&gt; &amp; \"vrai\"</p><p>Deux</p>"
        );
        assert_eq!(text_to_html("  \n "), "");
    }
}

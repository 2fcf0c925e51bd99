//! Links: making them absolute, keeping only the web ones, and reducing them to the forms
//! deduplication compares. Pure.
//!
//! Three levels, each for a different reader:
//! - [`resolve`] gives the link a browser would follow (absolute, http or https only —
//!   `javascript:`, `data:`, `mailto:` and the like are not item pages);
//! - [`canonical`] gives the same page without the noise that differs between two
//!   shares of it (fragment, default port, tracking parameters) — still a working URL;
//! - [`match_key`] folds further (scheme, `www.`, trailing slash) into a string that is
//!   no longer a URL, only a key for matching the same page across sources.

use url::Url;

/// Resolve `href` against `base` (or parse it alone when there is no base) and keep it
/// only when the result is an http(s) URL with a host.
///
/// `href` is expected entity-decoded already (the XML parser did that). Leading and
/// trailing spaces and control characters are ignored and tabs or newlines inside are
/// removed, as browsers do — which is also what turns an obfuscated `jav&#x09;ascript:`
/// back into `javascript:` so that it is refused. An empty `href` is `None` rather than
/// the base itself: an empty `<link/>` does not point at the channel's home page.
pub fn resolve(base: Option<&Url>, href: &str) -> Option<Url> {
    let href = href.trim_matches(|c: char| c <= ' ' || c.is_whitespace());
    if href.is_empty() {
        return None;
    }
    let url = match base {
        Some(base) => base.join(href).ok()?,
        None => Url::parse(href).ok()?,
    };
    is_web(&url).then_some(url)
}

/// Whether `s`, read as a browser reads an href (ASCII whitespace and control characters
/// ignored, case folded), is a URL whose scheme runs code or embeds a document:
/// `javascript:`, `vbscript:`, `data:`. For strings that are not links but may be taken
/// for one downstream (ids: an RSS guid is a permalink by default).
pub fn is_script_url(s: &str) -> bool {
    let mut folded = s
        .chars()
        .filter(|c| !(c.is_ascii_whitespace() || c.is_ascii_control()))
        .map(|c| c.to_ascii_lowercase());
    let head: String = folded.by_ref().take(11).collect();
    ["javascript:", "vbscript:", "data:"]
        .iter()
        .any(|scheme| head.starts_with(scheme))
}

/// http or https with a non-empty host.
pub fn is_web(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
}

/// Query parameters that only say where a click came from. Compared ASCII
/// case-insensitively; any `utm_*` goes too.
const TRACKING: &[&str] = &[
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid", "xtor",
    "_hsenc", "_hsmi", "yclid", "igshid",
];

fn is_tracking(key: &str) -> bool {
    let starts_utm = key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("utm_"));
    starts_utm || TRACKING.iter().any(|t| t.eq_ignore_ascii_case(key))
}

/// The same page without what differs between two shares of it: no fragment, no default
/// port (the url crate already drops it and lower-cases the host), no tracking
/// parameters. The other parameters keep their order and their exact encoding; an empty
/// query disappears.
pub fn canonical(url: &Url) -> Url {
    let mut out = url.clone();
    out.set_fragment(None);
    if let Some(query) = url.query() {
        let kept = filter_query(query);
        out.set_query(if kept.is_empty() { None } else { Some(&kept) });
    }
    out
}

/// The query without tracking parameters and empty pieces, raw pieces untouched.
fn filter_query(query: &str) -> String {
    let mut kept = String::with_capacity(query.len());
    for piece in query.split('&') {
        if piece.is_empty() {
            continue;
        }
        let key = piece.split('=').next().unwrap_or(piece);
        if is_tracking(key) {
            continue;
        }
        if !kept.is_empty() {
            kept.push('&');
        }
        kept.push_str(piece);
    }
    kept
}

/// A key for matching the same page across sources: [`canonical`], then `http` folded
/// into `https`, a leading `www.` dropped and a trailing slash removed
/// (`http://www.Example.org/a/?x=1#f` → `https://example.org/a?x=1`). Not a URL to
/// follow: `www.` and the scheme may matter to a server, they just never tell two
/// stories apart.
pub fn match_key(url: &Url) -> String {
    let c = canonical(url);
    let host = c.host_str().unwrap_or_default();
    let host = host.strip_prefix("www.").unwrap_or(host);
    let path = c.path();
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut key = String::with_capacity(url.as_str().len() + 1);
    key.push_str("https://");
    key.push_str(host);
    if let Some(port) = c.port() {
        key.push(':');
        key.push_str(&port.to_string());
    }
    key.push_str(path);
    if let Some(q) = c.query() {
        key.push('?');
        key.push_str(q);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        match Url::parse(s) {
            Ok(u) => u,
            Err(e) => panic!("bad test url {s}: {e}"),
        }
    }

    #[test]
    fn script_urls_in_every_disguise() {
        for s in [
            "javascript:alert(1)",
            " \t\u{1}JaVa\tScRiPt:alert(1)",
            "VBSCRIPT:msgbox",
            "data:text/html,x",
            "\njavascript\n:x",
        ] {
            assert!(is_script_url(s), "{s:?}");
        }
        for s in [
            "https://ex.org/javascript:x",
            "s1",
            "tag:ex.org,2026:javascript",
            "urn:data:x",
            "",
            "java",
        ] {
            assert!(!is_script_url(s), "{s:?}");
        }
    }

    #[test]
    fn resolve_table() {
        let channel = url("https://cuf.example.org/");
        let deep = url("https://ex.org/a/b/page.html?q=1");
        let cases: &[(Option<&Url>, &str, Option<&str>)] = &[
            // The CUF case of TRUTH.json url_notes: relative, no leading slash.
            (
                Some(&channel),
                "groupes-pays/burkina-faso/reunion-pleniere-14-fevrier-2019",
                Some("https://cuf.example.org/groupes-pays/burkina-faso/reunion-pleniere-14-fevrier-2019"),
            ),
            (Some(&deep), "/root", Some("https://ex.org/root")),
            (Some(&deep), "sibling", Some("https://ex.org/a/b/sibling")),
            (Some(&deep), "../up", Some("https://ex.org/a/up")),
            (Some(&deep), "?p=2", Some("https://ex.org/a/b/page.html?p=2")),
            (Some(&deep), "#frag", Some("https://ex.org/a/b/page.html?q=1#frag")),
            (Some(&deep), "//cdn.ex.org/x", Some("https://cdn.ex.org/x")),
            (Some(&deep), "http://other.org/x", Some("http://other.org/x")),
            (Some(&deep), "  https://other.org/x \n", Some("https://other.org/x")),
            (Some(&deep), "https://other.org/a b", Some("https://other.org/a%20b")),
            (Some(&deep), "HTTPS://Other.ORG:443/x", Some("https://other.org/x")),
            (None, "https://other.org/x", Some("https://other.org/x")),
            (None, "/relative/without/base", None),
            (None, "", None),
            (Some(&deep), "", None),
            (Some(&deep), "   ", None),
            (Some(&deep), "javascript:alert(1)", None),
            (Some(&deep), "JaVaScRiPt:alert(1)", None),
            (Some(&deep), " javascript:alert(1)", None),
            (Some(&deep), "\u{1}javascript:alert(1)", None),
            (Some(&deep), "jav\tascript:alert(1)", None),
            (Some(&deep), "jav\nascript:alert(1)", None),
            (Some(&deep), "vbscript:msgbox(1)", None),
            (Some(&deep), "data:text/html;base64,PHNjcmlwdD4=", None),
            (Some(&deep), "mailto:someone@example.org", None),
            (Some(&deep), "ftp://ex.org/file", None),
            (Some(&deep), "file:///etc/passwd", None),
            (Some(&deep), "http://", None),
            (Some(&deep), "https:///nohost", Some("https://nohost/")),
        ];
        let mut failures = Vec::new();
        for &(base, href, want) in cases {
            let got = resolve(base, href).map(|u| u.to_string());
            if got.as_deref() != want {
                failures.push(format!("{href:?} on {base:?}: got {got:?}, want {want:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn canonical_table() {
        let cases: &[(&str, &str)] = &[
            ("https://Ex.ORG:443/a?b=1#frag", "https://ex.org/a?b=1"),
            ("http://ex.org:80/a", "http://ex.org/a"),
            ("http://ex.org:8080/a", "http://ex.org:8080/a"),
            ("https://ex.org/a?utm_source=x&utm_medium=y", "https://ex.org/a"),
            ("https://ex.org/a?UTM_Campaign=x&id=3", "https://ex.org/a?id=3"),
            ("https://ex.org/a?utm_whatever=1&b=2&a=1", "https://ex.org/a?b=2&a=1"),
            (
                "https://ex.org/a?fbclid=1&gclid=2&dclid=3&msclkid=4&mc_cid=5&mc_eid=6&xtor=7&_hsenc=8&_hsmi=9&yclid=10&keep=1",
                "https://ex.org/a?keep=1",
            ),
            ("https://ex.org/a?", "https://ex.org/a"),
            ("https://ex.org/a?&&", "https://ex.org/a"),
            ("https://ex.org/a?x=1&&y=2", "https://ex.org/a?x=1&y=2"),
            ("https://ex.org/a?q=caf%C3%A9+cr%C3%A8me&utm_source=z", "https://ex.org/a?q=caf%C3%A9+cr%C3%A8me"),
            ("https://ex.org/a?flag&utm_x", "https://ex.org/a?flag"),
            ("https://ex.org/a?utmost=1", "https://ex.org/a?utmost=1"),
            ("https://www.ex.org/", "https://www.ex.org/"),
        ];
        for &(input, want) in cases {
            assert_eq!(canonical(&url(input)).as_str(), want, "canonical({input})");
        }
    }

    #[test]
    fn match_key_table() {
        let cases: &[(&str, &str)] = &[
            (
                "http://www.Example.org/a/?x=1#f",
                "https://example.org/a?x=1",
            ),
            ("https://example.org/", "https://example.org"),
            ("https://example.org", "https://example.org"),
            ("http://example.org:8080/a/", "https://example.org:8080/a"),
            ("https://www2.example.org/a", "https://www2.example.org/a"),
            (
                "https://example.org/a?utm_source=x",
                "https://example.org/a",
            ),
        ];
        for &(input, want) in cases {
            assert_eq!(match_key(&url(input)), want, "match_key({input})");
        }
    }

    /// Seed 8 of the network corpus TRUTH.json: RESACOOP's link to the CIEDEL synthesis
    /// carries utm_* parameters and a fragment, and must canonicalise to CIEDEL's link.
    #[test]
    fn seed_8_pair_shares_a_canonical_link() {
        let ciedel = url("https://ciedel.example.org/publications/irresistible-internationalisation-villes-territoires-synthese");
        let resacoop = url("https://ciedel.example.org/publications/irresistible-internationalisation-villes-territoires-synthese?utm_source=resacoop&utm_medium=rss#telecharger");
        assert_eq!(canonical(&resacoop), canonical(&ciedel));
        assert_eq!(canonical(&resacoop).as_str(), ciedel.as_str());
        assert_eq!(match_key(&resacoop), match_key(&ciedel));
        // A look-alike page of the same site stays apart.
        let other =
            url("https://ciedel.example.org/recherche/internationalisation-phase-2-objectifs");
        assert_ne!(match_key(&other), match_key(&ciedel));
    }
}

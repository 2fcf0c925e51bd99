//! The published documents of a channel, end to end through curate and render: whole
//! outputs compared with `tests/expected/` (rewrite them with `UPDATE_EXPECTED=1`), and
//! every output of a hostile story set checked with a strict XML parser, feed-rs, and
//! format rules (characters, links, dates, required fields).

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use url::Url;

use relais::config::{Channel, Location, Source};
use relais::curate;
use relais::model::{Appearance, Enclosure, Item, SourceState, Story};
use relais::render::{self, FeedFormat, FeedMeta, PageLinks};

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .unwrap_or_else(|| panic!("bad date {y}-{m}-{d}"))
}

fn url(s: &str) -> Url {
    Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn item(source: &str, id: &str, title: &str, published: DateTime<Utc>) -> Item {
    Item {
        id: id.to_string(),
        source: Some(source.to_string()),
        url: None,
        canonical_url: None,
        title: title.to_string(),
        summary: String::new(),
        content_html: None,
        published,
        updated: None,
        authors: Vec::new(),
        categories: Vec::new(),
        lang: None,
        enclosures: Vec::new(),
        published_guessed: false,
        content_hash: String::new(),
    }
}

fn sources() -> Vec<Source> {
    vec![
        Source {
            id: "ciedel".into(),
            title: "CIEDEL".into(),
            location: Location::Http(url("https://ciedel.example.org/feed.xml")),
            site: Some(url("https://ciedel.example.org/")),
            interval: None,
            tags: vec!["formation".into()],
            lang: Some("fr".into()),
            paused: false,
        },
        Source {
            id: "cuf".into(),
            title: "Cités Unies France".into(),
            location: Location::Http(url("https://cuf.example.org/rss")),
            site: None,
            interval: None,
            tags: vec!["coopération".into(), "europe".into()],
            lang: None,
            paused: false,
        },
        Source {
            id: "resacoop".into(),
            title: "RESACOOP « Auvergne-Rhône-Alpes »".into(),
            location: Location::File(PathBuf::from("/srv/demo/resacoop.rdf")),
            site: Some(url("https://resacoop.example.org/")),
            interval: None,
            tags: vec!["cooperation".into()],
            lang: None,
            paused: true,
        },
    ]
}

fn channel() -> Channel {
    Channel {
        id: "internationalisation".into(),
        title: "Internationalisation des territoires".into(),
        description: "La coopération décentralisée vue par le réseau.".into(),
        sources: vec!["ciedel".into()],
        tags: vec!["cooperation".into()],
        include: Vec::new(),
        exclude: vec!["offre d'emploi".into()],
        lang: None,
        max_items: 50,
    }
}

/// Three stories covering the cases: a guid that is not a URL, a cross-posted story, a
/// permalink guid with an enclosure and no author, a urn id in another language with no
/// link, and one story the channel must leave out.
fn fixture() -> Vec<Story> {
    let mut a = item(
        "ciedel",
        "ciedel-actu-0431",
        "Rencontres : l’action internationale des collectivités",
        at(2025, 3, 4, 9),
    );
    a.url = Some("https://ciedel.example.org/actu/0431".into());
    a.summary =
        "Atelier sur ce qui est propre à l'action internationale des collectivités françaises."
            .into();
    a.content_html = Some(
        "<p>Atelier sur ce qui est <em>propre</em> à l'action internationale des collectivités françaises.</p>"
            .into(),
    );
    a.authors = vec!["Marie Dupont".into()];
    a.categories = vec!["Coopération".into(), "Formation".into()];
    a.lang = Some("fr".into());
    let mut a = Story::single(a);
    a.also.push(Appearance {
        source: "cuf".into(),
        url: Some("https://cuf.example.org/rencontres-2025/atelier".into()),
        published: at(2025, 3, 5, 8),
    });

    let mut b = item(
        "cuf",
        "https://cuf.example.org/appel-a-projets",
        "Appel à projets 2025 & « jeunesse »",
        at(2025, 3, 2, 14),
    );
    b.url = Some("https://cuf.example.org/appel-a-projets".into());
    b.summary = "Date limite : 30 avril. Dossier <PDF> joint.".into();
    b.enclosures = vec![Enclosure {
        url: "https://cuf.example.org/files/appel.pdf".into(),
        mime: Some("application/pdf".into()),
        length: Some(123_456),
    }];

    let mut c = item(
        "resacoop",
        "urn:uuid:6f1c2a7e-0d1b-4c55-9a55-2f8f8a1f0c01",
        "Decentralised cooperation: a European view",
        at(2025, 3, 2, 14),
    );
    c.updated = Some(at(2025, 3, 3, 10));
    c.summary = "A summary in English.".into();
    c.lang = Some("en-GB".into());
    c.categories = vec!["Europe".into(), "Europe".into(), " ".into()];

    let mut job = item(
        "cuf",
        "job-1",
        "Offre d’emploi : chargé de mission",
        at(2025, 3, 6, 9),
    );
    job.url = Some("https://cuf.example.org/emploi/1".into());

    vec![Story::single(b), a, Story::single(c), Story::single(job)]
}

struct Outputs {
    rss: String,
    atom: String,
    json: String,
}

fn render_all(
    channel: &Channel,
    sources: &[Source],
    stories: &[&Story],
    tweak: impl Fn(&mut FeedMeta<'_>),
) -> Outputs {
    let base = url("https://veille.example.org/");
    let updated = at(2025, 3, 1, 0);
    let meta = |format| {
        let mut m = FeedMeta::new(channel, sources, &base, format, updated);
        m.hub = Some(url("https://hub.example.org/"));
        tweak(&mut m);
        m
    };
    let ok = |r: Result<String, render::RenderError>| r.unwrap_or_else(|e| panic!("{e}"));
    Outputs {
        rss: ok(render::rss::render(&meta(FeedFormat::Rss), stories)),
        atom: ok(render::atom::render(&meta(FeedFormat::Atom), stories)),
        json: ok(render::json::render(&meta(FeedFormat::Json), stories)),
    }
}

/// Compare with `tests/expected/NAME`, or write it when `UPDATE_EXPECTED=1`.
fn expect_file(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expected")
        .join(name);
    if std::env::var_os("UPDATE_EXPECTED").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap_or(&path))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}\nrun `UPDATE_EXPECTED=1 cargo test --test render` to create it",
            path.display()
        )
    });
    if expected != actual {
        let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
        let first = e
            .iter()
            .zip(&a)
            .position(|(x, y)| x != y)
            .unwrap_or(e.len().min(a.len()));
        let show = |lines: &[&str]| {
            lines
                .iter()
                .enumerate()
                .skip(first.saturating_sub(2))
                .take(6)
                .map(|(i, l)| format!("{:>5} | {l}", i + 1))
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{} differs from the output, first at line {}\n--- expected\n{}\n+++ actual\n{}\n\
             (check the change, then rewrite with `UPDATE_EXPECTED=1 cargo test --test render`)",
            path.display(),
            first + 1,
            show(&e),
            show(&a)
        );
    }
}

#[test]
fn whole_outputs_match_the_expected_files() {
    let (channel, sources, stories) = (channel(), sources(), fixture());
    let selected = curate::select(&channel, &sources, &stories);
    assert_eq!(
        selected.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        [
            "ciedel/ciedel-actu-0431",
            // Equal dates: story id order.
            "cuf/https://cuf.example.org/appel-a-projets",
            "resacoop/urn:uuid:6f1c2a7e-0d1b-4c55-9a55-2f8f8a1f0c01",
        ]
    );
    let out = render_all(&channel, &sources, &selected, |_| {});
    expect_file("internationalisation.rss", &out.rss);
    expect_file("internationalisation.atom", &out.atom);
    expect_file("internationalisation.json", &out.json);
    let base = url("https://veille.example.org/");
    let states = [SourceState {
        id: "cuf".into(),
        permanent_url: Some("https://www.cuf.example.org/feed".into()),
        ..SourceState::default()
    }];
    expect_file(
        "sources.opml",
        &render::opml::sources(&sources, &states, &base),
    );
    expect_file(
        "channels.opml",
        &render::opml::channels(
            &[
                channel.clone(),
                Channel {
                    id: "tout".into(),
                    title: "Tout le réseau".into(),
                    ..channel
                },
            ],
            &base,
            FeedFormat::Atom,
        ),
    );
}

#[test]
fn the_fixture_outputs_are_valid() {
    let (channel, sources, stories) = (channel(), sources(), fixture());
    let selected = curate::select(&channel, &sources, &stories);
    let out = render_all(&channel, &sources, &selected, |_| {});
    check_all(&out, 3);

    // RSS specifics the issue names.
    let doc = xml(&out.rss);
    let items: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("item"))
        .collect();
    let guid = |i: usize| {
        let g = items[i]
            .children()
            .find(|n| n.has_tag_name("guid"))
            .unwrap_or_else(|| panic!("item {i} has no guid"));
        (g.text().unwrap_or(""), g.attribute("isPermaLink"))
    };
    // Not a URL: isPermaLink="false" and a tag: id.
    assert_eq!(
        guid(0),
        (
            "tag:veille.example.org,2025:story/ciedel/ciedel-actu-0431",
            Some("false")
        )
    );
    // The publisher's guid is the item's URL: a permalink (the default, no attribute).
    assert_eq!(guid(1), ("https://cuf.example.org/appel-a-projets", None));
    // A urn is kept as the id but is no permalink.
    assert_eq!(
        guid(2),
        (
            "urn:uuid:6f1c2a7e-0d1b-4c55-9a55-2f8f8a1f0c01",
            Some("false")
        )
    );
    let source = items[0]
        .children()
        .find(|n| n.has_tag_name("source"))
        .unwrap_or_else(|| panic!("no source"));
    assert_eq!(
        source.attribute("url"),
        Some("https://ciedel.example.org/feed.xml")
    );
    assert_eq!(source.text(), Some("CIEDEL"));
    let dc = "http://purl.org/dc/elements/1.1/";
    let creator = items[0]
        .children()
        .find(|n| n.has_tag_name((dc, "creator")))
        .and_then(|n| n.text());
    assert_eq!(creator, Some("Marie Dupont"));
    assert!(out.rss.contains("Aussi publié par : <a href=\"https://cuf.example.org/rencontres-2025/atelier\">Cités Unies France</a>"));

    // feed-rs reads back what matters.
    let feed = feed_rs::parser::parse(out.atom.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(feed.language.as_deref(), Some("fr"));
    assert_eq!(feed.entries.len(), 3);
    assert_eq!(
        feed.entries[0]
            .authors
            .first()
            .and_then(|p| p.name.as_deref()),
        Some("Marie Dupont")
    );
    // No author: the partner is credited as the author.
    assert_eq!(
        feed.entries[1]
            .authors
            .first()
            .and_then(|p| p.name.as_deref()),
        Some("Cités Unies France")
    );
    let json = feed_rs::parser::parse(out.json.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json.entries.len(), 3);
    assert_eq!(
        json.entries[2].updated.map(|d| d.to_rfc3339()),
        Some("2025-03-03T10:00:00+00:00".to_string())
    );
}

#[test]
fn paging_archive_and_hub_links_are_advertised() {
    let (channel, sources, stories) = (channel(), sources(), fixture());
    let selected = curate::select(&channel, &sources, &stories);
    let out = render_all(&channel, &sources, &selected, |m| {
        m.pages = PageLinks {
            current: Some(url(
                "https://veille.example.org/feeds/internationalisation.atom",
            )),
            prev_archive: Some(url(
                "https://veille.example.org/feeds/internationalisation.atom?page=3",
            )),
            next_archive: Some(url(
                "https://veille.example.org/feeds/internationalisation.atom?page=1",
            )),
            archive: true,
            ..PageLinks::default()
        };
        m.self_url = url("https://veille.example.org/feeds/internationalisation.atom?page=2");
    });
    check_all(&out, 3);
    for doc in [&out.rss, &out.atom] {
        let d = xml(doc);
        let rels: HashMap<&str, &str> = d
            .descendants()
            .filter(|n| n.has_tag_name(("http://www.w3.org/2005/Atom", "link")))
            .filter(|n| {
                n.parent().is_some_and(|p| {
                    p.has_tag_name("channel")
                        || p.has_tag_name(("http://www.w3.org/2005/Atom", "feed"))
                })
            })
            .filter_map(|n| Some((n.attribute("rel")?, n.attribute("href")?)))
            .collect();
        assert_eq!(rels.get("hub"), Some(&"https://hub.example.org/"), "{doc}");
        assert_eq!(
            rels.get("self"),
            Some(&"https://veille.example.org/feeds/internationalisation.atom?page=2")
        );
        assert_eq!(
            rels.get("prev-archive"),
            Some(&"https://veille.example.org/feeds/internationalisation.atom?page=3")
        );
        assert!(rels.contains_key("next-archive") && rels.contains_key("current"));
        assert!(
            d.descendants()
                .any(|n| n.has_tag_name(("http://purl.org/syndication/history/1.0", "archive"))),
            "no fh:archive in {doc}"
        );
    }
    // Archive pages share the feed id.
    let atom = xml(&out.atom);
    let id = atom
        .root_element()
        .children()
        .find(|n| n.has_tag_name(("http://www.w3.org/2005/Atom", "id")))
        .and_then(|n| n.text());
    assert_eq!(
        id,
        Some("https://veille.example.org/feeds/internationalisation.atom")
    );
    let json: serde_json::Value = serde_json::from_str(&out.json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        json["next_url"],
        "https://veille.example.org/feeds/internationalisation.atom?page=3"
    );
    assert_eq!(json["hubs"][0]["url"], "https://hub.example.org/");
}

#[test]
fn an_empty_channel_is_valid_and_dated() {
    let (channel, sources) = (channel(), sources());
    let out = render_all(&channel, &sources, &[], |_| {});
    check_all(&out, 0);
    assert!(out
        .atom
        .contains("<updated>2025-03-01T00:00:00+00:00</updated>"));
}

/// Stories written to break a careless writer.
fn hostile() -> (Channel, Vec<Source>, Vec<Story>) {
    let evil = "<script>alert(1)</script>\u{0}\u{B}\u{FFFE}\u{FFFF}\u{1B}]]>&amp;\u{85}";
    let mut sources = sources();
    sources[0].title = format!("CIEDEL {evil}");
    sources[0].site = Some(url("javascript:alert(1)"));
    let channel = Channel {
        id: "hostile".into(),
        title: format!("Chaîne {evil}"),
        description: format!("]]> {evil}"),
        sources: Vec::new(),
        tags: Vec::new(),
        include: Vec::new(),
        exclude: Vec::new(),
        lang: Some("fr\"><x y=\"".into()),
        max_items: 50,
    };
    let mut stories = Vec::new();

    let mut a = item(
        "ciedel",
        &format!("id {evil}"),
        &format!("Titre {evil}"),
        at(2025, 3, 9, 9),
    );
    a.url = Some("javascript:alert(1)".into());
    a.summary = format!("Résumé {evil} ]]> ]]]]>>");
    // content_html is sanitised by normalise (no script, no javascript: link); what is
    // left to break a writer is what XML forbids and CDATA's terminator.
    a.content_html =
        Some("<p>]]></p>\u{0}\u{B}\u{FFFE}<![CDATA[x]]>]]]]>><p>&lt;script&gt;</p>".into());
    a.authors = vec![evil.into(), String::new(), "\u{0}".into()];
    a.categories = vec![evil.into(), "]]>".into(), String::new(), "\u{B}".into()];
    a.lang = Some(evil.into());
    a.enclosures = vec![
        Enclosure {
            url: "javascript:alert(1)".into(),
            mime: Some(evil.into()),
            length: None,
        },
        Enclosure {
            url: "https://ciedel.example.org/a b.mp3".into(),
            mime: Some("audio/mpeg\"".into()),
            length: Some(u64::MAX),
        },
    ];
    let mut a = Story::single(a);
    a.also = vec![
        Appearance {
            source: format!("unknown {evil}"),
            url: Some("javascript:alert(2)".into()),
            published: at(2025, 3, 9, 10),
        },
        Appearance {
            source: "cuf".into(),
            url: Some("data:text/html,<script>alert(3)</script>".into()),
            published: at(2025, 3, 9, 11),
        },
    ];
    stories.push(a);

    let mut long = item("cuf", "long", &"é".repeat(8 * 1024), at(2025, 3, 8, 9));
    long.url = Some(format!("https://cuf.example.org/{}", "a".repeat(8 * 1024)));
    stories.push(Story::single(long));

    let mut empty = item("cuf", "", "", at(2025, 3, 7, 9));
    empty.url = Some("//cuf.example.org/relative".into());
    stories.push(Story::single(empty));

    let mut blank = item("cuf", "\u{0}", " \u{B}\u{0} ", at(1970, 1, 1, 0));
    blank.url = Some("ftp://cuf.example.org/x".into());
    blank.updated = Some(at(1960, 1, 1, 0));
    stories.push(Story::single(blank));

    // Two stories claiming the same publisher id: entry ids must stay unique.
    for (n, src) in ["cuf", "ciedel"].iter().enumerate() {
        let mut dup = item(
            src,
            "https://example.org/same",
            "Même id",
            at(2025, 3, 1, n as u32),
        );
        dup.url = Some("https://example.org/same".into());
        stories.push(Story::single(dup));
    }
    (channel, sources, stories)
}

#[test]
fn a_hostile_story_set_yields_valid_outputs() {
    let (channel, sources, stories) = hostile();
    // Its garbage `lang` would filter stories out; render them all.
    let all = Channel {
        lang: None,
        ..channel.clone()
    };
    let selected = curate::select(&all, &sources, &stories);
    assert_eq!(selected.len(), stories.len());
    let out = render_all(&channel, &sources, &selected, |m| {
        m.hub = Some(url("javascript:alert(1)"));
        m.pages.next = Some(url("javascript:alert(1)"));
        m.stylesheet = Some("/assets/feed.xsl?\"><script>?>".into());
    });
    check_all(&out, stories.len());
    // `DUMP_HOSTILE=DIR` keeps the documents, to try them in other parsers and readers.
    if let Some(dir) = std::env::var_os("DUMP_HOSTILE") {
        let dir = PathBuf::from(dir);
        for (ext, doc) in [("rss", &out.rss), ("atom", &out.atom), ("json", &out.json)] {
            let path = dir.join(format!("hostile.{ext}"));
            std::fs::write(&path, doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
    for (name, doc) in [("rss", &out.rss), ("atom", &out.atom), ("json", &out.json)] {
        assert!(
            !doc.contains("javascript:"),
            "{name} has a javascript: link"
        );
        assert!(!doc.contains("data:text"), "{name} has a data: link");
    }
    // Markup in text fields stays text in XML (JSON strings need no escaping of `<`).
    for (name, doc) in [("rss", &out.rss), ("atom", &out.atom)] {
        assert!(!doc.contains("<script"), "{name} has a raw script tag");
    }
    // The title is cut, never empty.
    let feed = feed_rs::parser::parse(out.atom.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let titles: Vec<String> = feed
        .entries
        .iter()
        .map(|e| {
            e.title
                .as_ref()
                .map(|t| t.content.clone())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(titles[1].chars().count(), 301, "{}", titles[1]);
    assert_eq!(titles[2], "(sans titre)");
    assert_eq!(titles.last().map(String::as_str), Some("(sans titre)"));
}

// ---- checks shared by the tests ----

fn xml(doc: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(doc).unwrap_or_else(|e| panic!("not well-formed: {e}\n{doc}"))
}

fn check_all(out: &Outputs, entries: usize) {
    for (name, doc) in [("rss", &out.rss), ("atom", &out.atom), ("json", &out.json)] {
        if let Some(c) = doc.chars().find(|&c| illegal(c)) {
            panic!("{name}: character U+{:04X} is not allowed in XML", c as u32);
        }
        let feed = feed_rs::parser::parse(doc.as_bytes())
            .unwrap_or_else(|e| panic!("{name}: feed-rs: {e}\n{doc}"));
        assert_eq!(feed.entries.len(), entries, "{name}");
    }
    check_rss(&out.rss);
    check_atom(&out.atom);
    check_json(&out.json);
}

fn illegal(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

fn assert_http(what: &str, link: &str) {
    let u = Url::parse(link).unwrap_or_else(|e| panic!("{what}: `{link}`: {e}"));
    assert!(
        matches!(u.scheme(), "http" | "https"),
        "{what}: `{link}` is not http(s)"
    );
}

fn assert_stylesheet(doc: &roxmltree::Document<'_>) {
    let pi = doc
        .root()
        .children()
        .find_map(|n| n.pi())
        .unwrap_or_else(|| panic!("no processing instruction before the root"));
    assert_eq!(pi.target, "xml-stylesheet");
    assert!(pi
        .value
        .unwrap_or("")
        .starts_with("type=\"text/xsl\" href=\"/assets/feed.xsl"));
}

fn check_rss(doc: &str) {
    let d = xml(doc);
    assert_stylesheet(&d);
    let root = d.root_element();
    assert!(root.has_tag_name("rss") && root.attribute("version") == Some("2.0"));
    let atom = "http://www.w3.org/2005/Atom";
    for n in d.descendants().filter(|n| n.is_element()) {
        let name = n.tag_name().name();
        if n.tag_name().namespace().is_none() && name == "link" {
            assert_http("rss link", n.text().unwrap_or(""));
        }
        if n.has_tag_name((atom, "link")) {
            assert_http("atom:link", n.attribute("href").unwrap_or(""));
        }
        if matches!(name, "source" | "enclosure") {
            assert_http(name, n.attribute("url").unwrap_or(""));
        }
        if name == "guid" && n.attribute("isPermaLink") != Some("false") {
            assert_http("permalink guid", n.text().unwrap_or(""));
        }
        if matches!(name, "pubDate" | "lastBuildDate") {
            let t = n.text().unwrap_or("");
            let date =
                DateTime::parse_from_rfc2822(t).unwrap_or_else(|e| panic!("{name} `{t}`: {e}"));
            assert!(t.ends_with(" GMT"), "{name} `{t}`");
            let _ = date;
        }
        if matches!(name, "title" | "description")
            && n.parent().is_some_and(|p| p.has_tag_name("channel"))
        {
            assert!(
                !n.text().unwrap_or("").trim().is_empty(),
                "empty channel {name}"
            );
        }
        if name == "item" {
            let title = n
                .children()
                .find(|c| c.has_tag_name("title"))
                .and_then(|c| c.text());
            assert!(!title.unwrap_or("").trim().is_empty(), "item without title");
        }
    }
    let self_link = d
        .descendants()
        .any(|n| n.has_tag_name((atom, "link")) && n.attribute("rel") == Some("self"));
    assert!(self_link, "no atom:link rel=self");
}

fn check_atom(doc: &str) {
    let d = xml(doc);
    assert_stylesheet(&d);
    let ns = "http://www.w3.org/2005/Atom";
    let root = d.root_element();
    assert!(root.has_tag_name((ns, "feed")));
    let lang = root
        .attribute(("http://www.w3.org/XML/1998/namespace", "lang"))
        .unwrap_or_else(|| panic!("no xml:lang"));
    assert!(
        lang.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "{lang}"
    );
    let child = |n: roxmltree::Node<'_, '_>, name: &str| {
        n.children()
            .find(|c| c.has_tag_name((ns, name)))
            .and_then(|c| c.text())
            .unwrap_or("")
            .to_string()
    };
    let mut ids = std::collections::HashSet::new();
    for n in d.descendants().filter(|n| n.is_element()) {
        let name = n.tag_name().name();
        if matches!(name, "feed" | "entry" | "source") {
            assert!(!child(n, "id").trim().is_empty(), "{name} without id");
            assert!(!child(n, "title").trim().is_empty(), "{name} without title");
            let updated = child(n, "updated");
            let t = DateTime::parse_from_rfc3339(&updated)
                .unwrap_or_else(|e| panic!("{name} updated `{updated}`: {e}"));
            assert!(
                t.timestamp() > 0 || name != "feed",
                "{name} updated is 1970: {updated}"
            );
        }
        if name == "entry" {
            assert!(
                ids.insert(child(n, "id")),
                "duplicate entry id {}",
                child(n, "id")
            );
            let has_author = n.children().any(|c| c.has_tag_name((ns, "author")));
            assert!(has_author, "entry without author");
            let content = n.children().find(|c| c.has_tag_name((ns, "content")));
            assert_eq!(content.and_then(|c| c.attribute("type")), Some("html"));
        }
        if name == "published" {
            let t = n.text().unwrap_or("");
            DateTime::parse_from_rfc3339(t).unwrap_or_else(|e| panic!("published `{t}`: {e}"));
        }
        if name == "link" {
            assert_http("atom link", n.attribute("href").unwrap_or(""));
        }
        if name == "uri" {
            assert_http("atom uri", n.text().unwrap_or(""));
        }
    }
    let feed_links: Vec<&str> = root
        .children()
        .filter(|c| c.has_tag_name((ns, "link")))
        .filter_map(|c| c.attribute("rel"))
        .collect();
    assert!(feed_links.contains(&"self") && feed_links.contains(&"alternate"));
}

fn check_json(doc: &str) {
    let v: serde_json::Value = serde_json::from_str(doc).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["version"], "https://jsonfeed.org/version/1.1");
    assert!(!v["title"].as_str().unwrap_or("").is_empty());
    for key in ["home_page_url", "feed_url"] {
        assert_http(key, v[key].as_str().unwrap_or(""));
    }
    assert!(v["language"].is_string() && v["authors"][0]["name"].is_string());
    let items = v["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let mut ids = std::collections::HashSet::new();
    for it in items {
        assert!(
            ids.insert(it["id"].as_str().unwrap_or("").to_string()),
            "duplicate id"
        );
        assert!(!it["title"].as_str().unwrap_or("").is_empty());
        assert!(!it["content_html"].as_str().unwrap_or("").is_empty());
        for key in ["date_published", "date_modified"] {
            let t = it[key].as_str().unwrap_or("");
            DateTime::parse_from_rfc3339(t).unwrap_or_else(|e| panic!("{key} `{t}`: {e}"));
        }
        if let Some(u) = it["url"].as_str() {
            assert_http("item url", u);
        }
        for a in it["attachments"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            assert_http("attachment", a["url"].as_str().unwrap_or(""));
        }
        for a in it["_relais"]["also"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            if let Some(u) = a["url"].as_str() {
                assert_http("also url", u);
            }
        }
        assert!(
            !it["authors"].as_array().map(Vec::is_empty).unwrap_or(true),
            "no author"
        );
    }
}

#[test]
fn opml_documents_are_well_formed_and_list_everything() {
    let (channel, mut sources, _) = hostile();
    sources.push(Source {
        id: "evil".into(),
        title: "<\u{0}\"'&".into(),
        location: Location::Http(url("https://evil.example.org/feed?a=1&b=\"2\"")),
        site: None,
        interval: None,
        tags: vec!["a,b/c".into(), "\u{B}".into()],
        lang: Some("\"".into()),
        paused: false,
    });
    let base = url("https://veille.example.org/sub");
    let states = [SourceState {
        id: "evil".into(),
        permanent_url: Some("javascript:alert(1)".into()),
        ..SourceState::default()
    }];
    let s = render::opml::sources(&sources, &states, &base);
    let d = xml(&s);
    let outlines: Vec<_> = d
        .descendants()
        .filter(|n| n.has_tag_name("outline"))
        .collect();
    assert_eq!(outlines.len(), sources.len());
    let evil = outlines[3];
    assert_eq!(evil.attribute("text"), Some("<\"'&"));
    assert_eq!(
        evil.attribute("xmlUrl"),
        Some("https://evil.example.org/feed?a=1&b=%222%22")
    );
    assert_eq!(evil.attribute("category"), Some("/a b c"));
    assert_eq!(evil.attribute("language"), None);
    // The file source has no xmlUrl and is no rss outline.
    assert_eq!(outlines[2].attribute("type"), None);
    assert_eq!(outlines[2].attribute("xmlUrl"), None);
    assert!(!s.contains("javascript:"));

    for format in FeedFormat::ALL {
        let c = render::opml::channels(std::slice::from_ref(&channel), &base, format);
        let d = xml(&c);
        let o = d
            .descendants()
            .find(|n| n.has_tag_name("outline"))
            .unwrap_or_else(|| panic!("no outline"));
        assert_eq!(
            o.attribute("xmlUrl"),
            Some(
                format!(
                    "https://veille.example.org/sub/feeds/hostile.{}",
                    format.extension()
                )
                .as_str()
            )
        );
        assert_eq!(
            o.attribute("htmlUrl"),
            Some("https://veille.example.org/sub/channels/hostile")
        );
        assert!(!c.chars().any(illegal));
    }
}

#[test]
fn the_stylesheet_is_self_contained_xslt() {
    let d = xml(render::FEED_XSL);
    let xsl = "http://www.w3.org/1999/XSL/Transform";
    assert!(d.root_element().has_tag_name((xsl, "stylesheet")));
    let templates: Vec<&str> = d
        .descendants()
        .filter(|n| n.has_tag_name((xsl, "template")))
        .filter_map(|n| n.attribute("match"))
        .collect();
    assert!(templates.contains(&"rss/channel") && templates.contains(&"atom:feed"));
    let lower = render::FEED_XSL.to_ascii_lowercase();
    for banned in [
        "<script",
        "javascript:",
        "http://",
        "https://",
        "@import",
        "url(",
    ] {
        let allowed_ns = [
            "http://www.w3.org/1999/xsl/transform",
            "http://www.w3.org/2005/atom",
            "http://purl.org/dc/elements/1.1/",
        ];
        let mut rest = lower.clone();
        for ns in allowed_ns {
            rest = rest.replace(ns, "");
        }
        assert!(!rest.contains(banned), "the stylesheet has `{banned}`");
    }
}

/// `cargo test --release --test render -- --ignored --nocapture`: the cost of rendering
/// a 50-story channel in each format (the server caches the result per channel).
#[test]
#[ignore]
fn timing_of_a_50_story_channel() {
    let sources = sources();
    let channel = Channel {
        sources: Vec::new(),
        tags: Vec::new(),
        exclude: Vec::new(),
        ..channel()
    };
    let template = fixture();
    let stories: Vec<Story> = (0..50)
        .map(|i| {
            let mut s = template[i % 3].clone();
            s.id = format!("{}-{i}", s.id);
            s.item.id = format!("{}-{i}", s.item.id);
            s.item.content_html = Some("<p>Un paragraphe de contenu assez long. </p>".repeat(30));
            s
        })
        .collect();
    let selected = curate::select(&channel, &sources, &stories);
    assert_eq!(selected.len(), 50);
    let rounds = 200;
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        let _ = curate::select(&channel, &sources, &stories);
    }
    println!("select: {:?} per channel", start.elapsed() / rounds);
    let base = url("https://veille.example.org/");
    for format in FeedFormat::ALL {
        let meta = FeedMeta::new(&channel, &sources, &base, format, at(2025, 3, 1, 0));
        let start = std::time::Instant::now();
        let mut bytes = 0;
        for _ in 0..rounds {
            let out = render::feed(format, &meta, &selected);
            bytes = out.map(|s| s.len()).unwrap_or_else(|e| panic!("{e}"));
        }
        println!(
            "{}: {:?} per render, {bytes} bytes",
            format.label(),
            start.elapsed() / rounds
        );
    }
}

//! Normalisation rules on hand-built `RawFeed`s: one test per rule of the module doc, so
//! that none depends on the parse stage.

use chrono::{DateTime, Duration, TimeZone, Utc};
use url::Url;

use super::*;
use crate::model::{Enclosure, FeedKind, RawEntry, RawFeed, RawText};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0)
        .single()
        .expect("valid test date")
}

fn url(s: &str) -> Url {
    Url::parse(s).expect("valid test url")
}

fn html(s: &str) -> Option<RawText> {
    Some(RawText {
        body: s.to_string(),
        is_html: true,
    })
}

fn plain(s: &str) -> Option<RawText> {
    Some(RawText {
        body: s.to_string(),
        is_html: false,
    })
}

fn entry(guid: &str, title: &str, link: &str) -> RawEntry {
    RawEntry {
        guid: Some(guid.to_string()).filter(|g| !g.is_empty()),
        title: plain(title).filter(|_| !title.is_empty()),
        links: if link.is_empty() {
            vec![]
        } else {
            vec![link.to_string()]
        },
        published: Some(now() - Duration::days(3)),
        ..RawEntry::default()
    }
}

fn feed(kind: FeedKind, link: Option<&str>, entries: Vec<RawEntry>) -> RawFeed {
    RawFeed {
        kind: Some(kind),
        link: link.map(str::to_string),
        entries,
        ..RawFeed::default()
    }
}

fn run(feed: &RawFeed, document: Option<&Url>) -> Vec<Item> {
    normalise(
        feed,
        &Context {
            source: Some("cuf"),
            document_url: document,
            default_lang: Some("fr"),
            now: now(),
        },
    )
}

fn one(feed: &RawFeed, document: Option<&Url>) -> Item {
    let mut items = run(feed, document);
    assert_eq!(items.len(), 1, "{items:#?}");
    items.remove(0)
}

#[test]
fn rss_relative_link_resolves_against_channel_link() {
    // The CUF case of TRUTH.json url_notes: against the channel <link>, not the feed URL.
    let doc = url("https://cuf.example.org/feed/actualites.rss");
    let f = feed(
        FeedKind::Rss,
        Some("https://cuf.example.org/"),
        vec![entry(
            "cuf-gp-bf-2019-01",
            "Groupe-pays Burkina Faso : réunion plénière le 14 février",
            "groupes-pays/burkina-faso/reunion-pleniere-14-fevrier-2019",
        )],
    );
    let item = one(&f, Some(&doc));
    let want = "https://cuf.example.org/groupes-pays/burkina-faso/reunion-pleniere-14-fevrier-2019";
    assert_eq!(item.url.as_deref(), Some(want));
    assert_eq!(item.canonical_url.as_deref(), Some(want));
    assert_eq!(item.id, "cuf-gp-bf-2019-01");
    assert_eq!(item.source.as_deref(), Some("cuf"));
}

#[test]
fn link_bases_by_format() {
    let doc = url("https://ex.org/feeds/news.xml");
    /// (format, site link, document URL, expected item URL)
    type Case<'a> = (FeedKind, Option<&'a str>, Option<&'a Url>, Option<&'a str>);
    let cases: &[Case<'_>] = &[
        // RSS/RDF: channel link, itself relative to the document…
        (
            FeedKind::Rss,
            Some("/site/"),
            Some(&doc),
            Some("https://ex.org/site/post/1"),
        ),
        (
            FeedKind::Rdf,
            Some("https://other.org/"),
            Some(&doc),
            Some("https://other.org/post/1"),
        ),
        // …else the document.
        (
            FeedKind::Rss,
            None,
            Some(&doc),
            Some("https://ex.org/feeds/post/1"),
        ),
        (
            FeedKind::Rss,
            Some("javascript:void(0)"),
            Some(&doc),
            Some("https://ex.org/feeds/post/1"),
        ),
        // Atom/JSON: the document, even when there is a site link…
        (
            FeedKind::Atom,
            Some("https://ex.org/site/"),
            Some(&doc),
            Some("https://ex.org/feeds/post/1"),
        ),
        (
            FeedKind::JsonFeed,
            Some("https://ex.org/site/"),
            Some(&doc),
            Some("https://ex.org/feeds/post/1"),
        ),
        // …and the site link when the document is not on the web.
        (
            FeedKind::Atom,
            Some("https://ex.org/site/"),
            None,
            Some("https://ex.org/site/post/1"),
        ),
        // No base at all: a relative link cannot be used.
        (FeedKind::Rss, None, None, None),
    ];
    for &(kind, link, document, want) in cases {
        let f = feed(kind, link, vec![entry("g", "t", "post/1")]);
        let item = one(&f, document);
        assert_eq!(
            item.url.as_deref(),
            want,
            "{kind:?} link={link:?} doc={document:?}"
        );
    }
    // A local file as document: relative links go against the site link.
    let file = url("file:///srv/demo/feed.xml");
    let f = feed(
        FeedKind::Atom,
        Some("https://ex.org/"),
        vec![entry("g", "t", "a")],
    );
    assert_eq!(
        one(&f, Some(&file)).url.as_deref(),
        Some("https://ex.org/a")
    );
}

#[test]
fn javascript_and_other_non_web_links_are_dropped() {
    let doc = url("https://ex.org/feed");
    let mut e = entry("", "Titre", "");
    e.links = vec![
        "javascript:alert(1)".into(),
        "jav\tascript:alert(1)".into(),
        "data:text/html,x".into(),
        "mailto:a@ex.org".into(),
        "https://ex.org/vrai".into(),
    ];
    let item = one(&feed(FeedKind::Rss, None, vec![e.clone()]), Some(&doc));
    assert_eq!(item.url.as_deref(), Some("https://ex.org/vrai"));
    assert_eq!(item.id, "https://ex.org/vrai");

    e.links.pop();
    let item = one(&feed(FeedKind::Rss, None, vec![e]), Some(&doc));
    assert_eq!(item.url, None);
    assert_eq!(item.canonical_url, None);
    assert!(item.id.starts_with("h:"), "{}", item.id);
}

#[test]
fn rss_guid_url_stands_in_for_a_missing_link() {
    let f = feed(
        FeedKind::Rss,
        None,
        vec![entry("https://ex.org/p?id=4", "t", "")],
    );
    let item = one(&f, None);
    assert_eq!(item.url.as_deref(), Some("https://ex.org/p?id=4"));
    // Atom ids are names, not links.
    let f = feed(
        FeedKind::Atom,
        None,
        vec![entry("https://ex.org/p?id=4", "t", "")],
    );
    assert_eq!(one(&f, None).url, None);
}

#[test]
fn id_precedence_guid_then_canonical_link_then_hash() {
    let doc = url("https://ex.org/feed");
    let mut with_guid = entry("  ciedel-actu-0371 \n", "t", "/a?utm_source=x#f");
    with_guid.title = plain("Un");
    let blank_guid = entry("   ", "t", "/b?utm_source=x&id=2#f");
    let nothing = RawEntry {
        title: plain("Sans lien"),
        summary: html("<p>Résumé</p>"),
        ..RawEntry::default()
    };
    let items = run(
        &feed(
            FeedKind::Rss,
            None,
            vec![with_guid, blank_guid, nothing.clone()],
        ),
        Some(&doc),
    );
    let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids.first().copied(), Some("ciedel-actu-0371"));
    assert_eq!(ids.get(1).copied(), Some("https://ex.org/b?id=2"));
    let hashed = ids.get(2).copied().unwrap_or_default();
    assert!(hashed.starts_with("h:") && hashed.len() == 34, "{hashed}");

    // Never random: the same entry gives the same id on every run.
    let again = one(
        &feed(FeedKind::Rss, None, vec![nothing.clone()]),
        Some(&doc),
    );
    assert_eq!(again.id, hashed);
    // And a different entry gives another.
    let mut other = nothing;
    other.title = plain("Autre");
    let other = one(&feed(FeedKind::Rss, None, vec![other]), Some(&doc));
    assert_ne!(other.id, hashed);
}

#[test]
fn over_long_ids_are_hashed_stably() {
    let long_guid = "g".repeat(MAX_ID_LEN + 1);
    let f = feed(FeedKind::Atom, None, vec![entry(&long_guid, "t", "")]);
    let a = one(&f, None);
    assert!(a.id.starts_with("h:") && a.id.len() == 34, "{}", a.id);
    assert_eq!(one(&f, None).id, a.id);
    let at_limit = "g".repeat(MAX_ID_LEN);
    let f = feed(FeedKind::Atom, None, vec![entry(&at_limit, "t", "")]);
    assert_eq!(one(&f, None).id, at_limit);
}

#[test]
fn script_url_guids_are_hashed_stably() {
    // An RSS guid is a permalink by default: one that is a script URL must not reach
    // `items --json` (or any consumer linking ids) as written.
    let f = feed(
        FeedKind::Rss,
        None,
        vec![entry(" JaVaScript:alert(1)", "t", "")],
    );
    let a = one(&f, None);
    assert!(a.id.starts_with("h:") && a.id.len() == 34, "{}", a.id);
    assert_eq!(one(&f, None).id, a.id);
}

#[test]
fn duplicate_guids_fall_back_and_repeats_are_dropped() {
    let doc = url("https://ex.org/feed");
    // A CMS giving every entry the same guid: it identifies none of them.
    let f = feed(
        FeedKind::Rss,
        None,
        vec![
            entry("https://ex.org/", "Un", "/un"),
            entry("https://ex.org/", "Deux", "/deux"),
            entry("unique", "Trois", "/trois"),
        ],
    );
    let ids: Vec<String> = run(&f, Some(&doc)).into_iter().map(|i| i.id).collect();
    assert_eq!(ids, ["https://ex.org/un", "https://ex.org/deux", "unique"]);

    // The same entry twice (same guid, same link): kept once, the first one.
    let f = feed(
        FeedKind::Rss,
        None,
        vec![entry("g1", "Premier", "/x"), entry("g1", "Second", "/x")],
    );
    let items = run(&f, Some(&doc));
    assert_eq!(items.len(), 1);
    assert_eq!(items.first().map(|i| i.title.as_str()), Some("Premier"));

    // No guid, same link: one item.
    let f = feed(
        FeedKind::Rss,
        None,
        vec![entry("", "A", "/same#one"), entry("", "B", "/same#two")],
    );
    assert_eq!(run(&f, Some(&doc)).len(), 1);
}

#[test]
fn items_keep_document_order() {
    let entries = (0..20)
        .map(|n| entry(&format!("g{n}"), &format!("T{n}"), ""))
        .collect();
    let ids: Vec<String> = run(&feed(FeedKind::Atom, None, entries), None)
        .into_iter()
        .map(|i| i.id)
        .collect();
    let want: Vec<String> = (0..20).map(|n| format!("g{n}")).collect();
    assert_eq!(ids, want);
}

#[test]
fn dates() {
    let past = now() - Duration::days(10);
    let later = now() - Duration::days(2);
    let future = now() + Duration::days(30);
    type Case = (
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        bool,
    );
    let cases: &[(&str, Case)] = &[
        ("both", (Some(past), Some(later), past, Some(later), false)),
        ("published only", (Some(past), None, past, None, false)),
        ("updated only", (None, Some(later), later, None, false)),
        ("same", (Some(past), Some(past), past, None, false)),
        ("missing", (None, None, now(), None, true)),
        ("future published", (Some(future), None, now(), None, false)),
        (
            "future updated",
            (Some(past), Some(future), past, Some(now()), false),
        ),
        (
            "both future",
            (
                Some(future),
                Some(future + Duration::days(1)),
                now(),
                None,
                false,
            ),
        ),
    ];
    for (name, (published, updated, want_p, want_u, guessed)) in cases {
        let mut e = entry("g", "t", "");
        e.published = *published;
        e.updated = *updated;
        let item = one(&feed(FeedKind::Atom, None, vec![e]), None);
        assert_eq!(item.published, *want_p, "{name}: published");
        assert_eq!(item.updated, *want_u, "{name}: updated");
        assert_eq!(item.published_guessed, *guessed, "{name}: guessed");
    }
    // Year 9999 (parses) is clamped like any future date.
    let mut e = entry("g", "t", "");
    e.published = dates::parse_date("9999-12-31T23:59:59Z");
    assert!(e.published.is_some());
    assert_eq!(
        one(&feed(FeedKind::Atom, None, vec![e]), None).published,
        now()
    );
}

#[test]
fn titles() {
    let long_summary = format!("{} fin.", "mot ".repeat(80));
    let cases: Vec<(&str, RawEntry, String)> = vec![
        (
            "html title becomes text",
            RawEntry {
                title: html("<b>Caf&eacute;</b>  du\n  <i>matin</i> &amp; soir"),
                ..RawEntry::default()
            },
            "Café du matin & soir".into(),
        ),
        (
            "plain title trimmed, collapsed, entities decoded",
            RawEntry {
                title: plain("  L&rsquo;action\t internationale \n"),
                ..RawEntry::default()
            },
            "L\u{2019}action internationale".into(),
        ),
        (
            "derived from the summary",
            RawEntry {
                title: plain("   "),
                summary: html("<p>Les collectivités sont invitées à la plénière. Ordre du jour : sécurité.</p>"),
                ..RawEntry::default()
            },
            "Les collectivités sont invitées à la plénière".into(),
        ),
        (
            "derived from the content when there is no summary",
            RawEntry {
                content: html("<h2>Programme</h2><p>Deux jours d'ateliers.</p>"),
                ..RawEntry::default()
            },
            "Programme".into(),
        ),
        (
            "derived titles are cut on a word with an ellipsis",
            RawEntry {
                summary: plain(&long_summary),
                ..RawEntry::default()
            },
            format!("{}mot…", "mot ".repeat(29)),
        ),
        ("nothing at all", RawEntry::default(), UNTITLED.into()),
        (
            "markup only",
            RawEntry {
                title: html("<img src=x>"),
                content: html("<p> </p>"),
                ..RawEntry::default()
            },
            UNTITLED.into(),
        ),
    ];
    for (name, mut e, want) in cases {
        e.guid = Some("g".into());
        let item = one(&feed(FeedKind::Atom, None, vec![e]), None);
        assert_eq!(item.title, want, "{name}");
        assert!(item.title.chars().count() <= MAX_TITLE, "{name}");
    }
    // Over-long publisher titles are bounded too.
    let mut e = entry("g", &"titre ".repeat(100), "");
    e.title = plain(&"titre ".repeat(100));
    let item = one(&feed(FeedKind::Atom, None, vec![e]), None);
    assert!(item.title.chars().count() <= MAX_TITLE);
    assert!(item.title.ends_with("titre…"));
}

#[test]
fn summary_is_plain_text_bounded_on_a_word() {
    let body = format!("<p>{}</p>", "économie ".repeat(100));
    let mut e = entry("g", "t", "");
    e.summary = html(&body);
    let item = one(&feed(FeedKind::Atom, None, vec![e]), None);
    assert!(item.summary.chars().count() <= MAX_SUMMARY);
    assert!(
        item.summary.len() > MAX_SUMMARY,
        "counted in chars, not bytes"
    );
    assert!(item.summary.ends_with("économie…"), "{}", item.summary);
    assert!(!item.summary.contains('<'));

    // From the content when there is no summary.
    let mut e = entry("g", "t", "");
    e.content = html("<div><p>Premier paragraphe.</p><p>Second &eacute;.</p></div>");
    let item = one(&feed(FeedKind::Atom, None, vec![e]), None);
    assert_eq!(item.summary, "Premier paragraphe.\nSecond é.");

    // And empty when there is neither.
    let item = one(&feed(FeedKind::Atom, None, vec![entry("g", "t", "")]), None);
    assert_eq!(item.summary, "");
    assert_eq!(item.content_html, None);
}

#[test]
fn content_html() {
    let doc = url("https://ciedel.example.org/feed.rss");
    let channel = Some("https://ciedel.example.org/");
    type Case<'a> = (&'a str, Option<RawText>, Option<RawText>, Option<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        (
            "content sanitised, relative links absolute against the item url",
            html("<p onclick=x>Voir <a href=\"/recherche/internationalisation-villes-territoires\">la recherche</a> <img src=\"img/a.png\"></p><script>alert(1)</script>"),
            html("<p>ignored</p>"),
            Some("<p>Voir <a href=\"https://ciedel.example.org/recherche/internationalisation-villes-territoires\" rel=\"noopener nofollow\">la recherche</a> <img src=\"https://ciedel.example.org/actualites/img/a.png\"></p>"),
        ),
        (
            "html summary when there is no content",
            None,
            html("<p>R&eacute;sum&eacute; <a href=\"javascript:alert(1)\">x</a></p>"),
            Some("<p>Résumé <a rel=\"noopener nofollow\">x</a></p>"),
        ),
        (
            "plain summary becomes escaped paragraphs",
            None,
            plain("Un <b>texte</b> & \"brut\"\nDeuxième ligne"),
            Some("<p>Un &lt;b&gt;texte&lt;/b&gt; &amp; \"brut\"</p><p>Deuxième ligne</p>"),
        ),
        (
            "html without markup is one escaped paragraph",
            html("Caf&eacute; &lt;script&gt; &amp; cr&egrave;me"),
            None,
            Some("<p>Café &lt;script&gt; &amp; crème</p>"),
        ),
        ("blank content falls back to the summary", html("  "), html("<p>Résumé</p>"), Some("<p>Résumé</p>")),
        ("nothing readable left", html("<script>x</script><p> </p>"), None, None),
        (
            "an image alone is content",
            html("<img src=\"/i.png\">"),
            None,
            Some("<img src=\"https://ciedel.example.org/i.png\">"),
        ),
        (
            "CDATA end marker is harmless text",
            html("<p>a ]]> b</p>"),
            None,
            Some("<p>a ]]&gt; b</p>"),
        ),
    ];
    for (name, content, summary, want) in cases {
        let mut e = entry("g", "t", "/actualites/article");
        e.content = content;
        e.summary = summary;
        let item = one(&feed(FeedKind::Rss, channel, vec![e]), Some(&doc));
        assert_eq!(item.content_html.as_deref(), want, "{name}");
    }
}

#[test]
fn authors_categories_lang_enclosures() {
    let doc = url("https://ex.org/podcast/feed.xml");
    let mut e = entry("g", "t", "/ep1");
    e.authors = vec![
        " Marie  Dupont ".into(),
        "marie dupont".into(),
        "".into(),
        "  ".into(),
        "jean@ex.org (Jean Martin)".into(),
        "Cap&nbsp;Rural".into(),
    ];
    e.categories = vec![
        "Coopération".into(),
        " coopération ".into(),
        "COOPÉRATION".into(),
        "".into(),
        "Rencontres  2021".into(),
    ];
    e.lang = Some("FR_fr".into());
    e.enclosures = vec![
        Enclosure {
            url: "/media/ep1.mp3".into(),
            mime: Some(" Audio/MPEG ".into()),
            length: Some(1234),
        },
        Enclosure {
            url: "https://ex.org/media/ep1.mp3".into(),
            mime: None,
            length: None,
        },
        Enclosure {
            url: "javascript:alert(1)".into(),
            mime: None,
            length: None,
        },
        Enclosure {
            url: "https://cdn.ex.org/ep1.pdf".into(),
            mime: Some("".into()),
            length: Some(0),
        },
    ];
    let item = one(&feed(FeedKind::Rss, None, vec![e]), Some(&doc));
    assert_eq!(item.authors, ["Marie Dupont", "Jean Martin", "Cap Rural"]);
    assert_eq!(item.categories, ["Coopération", "Rencontres 2021"]);
    assert_eq!(item.lang.as_deref(), Some("fr-FR"));
    assert_eq!(
        item.enclosures,
        [
            Enclosure {
                url: "https://ex.org/media/ep1.mp3".into(),
                mime: Some("audio/mpeg".into()),
                length: Some(1234),
            },
            Enclosure {
                url: "https://cdn.ex.org/ep1.pdf".into(),
                mime: None,
                length: None,
            },
        ]
    );
}

#[test]
fn lang_falls_back_entry_feed_source() {
    let cases: &[(Option<&str>, Option<&str>, Option<&str>)] = &[
        (Some("en-us"), Some("fr"), Some("en-US")),
        (Some("not a tag"), Some("fr-fr"), Some("fr-FR")),
        (None, Some("French"), Some("fr")), // default_lang of the context
        (None, None, Some("fr")),
    ];
    for &(entry_lang, feed_lang, want) in cases {
        let mut e = entry("g", "t", "");
        e.lang = entry_lang.map(str::to_string);
        let mut f = feed(FeedKind::Atom, None, vec![e]);
        f.lang = feed_lang.map(str::to_string);
        assert_eq!(
            one(&f, None).lang.as_deref(),
            want,
            "{entry_lang:?} {feed_lang:?}"
        );
    }
    let f = feed(FeedKind::Atom, None, vec![entry("g", "t", "")]);
    let none = normalise(
        &f,
        &Context {
            source: None,
            document_url: None,
            default_lang: None,
            now: now(),
        },
    );
    assert_eq!(none.first().and_then(|i| i.lang.clone()), None);
}

#[test]
fn normalise_lang_table() {
    let cases: &[(&str, Option<&str>)] = &[
        ("fr", Some("fr")),
        ("FR", Some("fr")),
        (" fr-FR ", Some("fr-FR")),
        ("fr-fr", Some("fr-FR")),
        ("FR_fr", Some("fr-FR")),
        ("fr_CA", Some("fr-CA")),
        ("zh-hant-tw", Some("zh-Hant-TW")),
        ("es-419", Some("es-419")),
        ("fra", Some("fra")),
        ("", None),
        ("f", None),
        ("French", None),
        ("fr;q=0.8", None),
        ("fr--FR", None),
        ("fr-", None),
        ("12", None),
    ];
    for &(input, want) in cases {
        assert_eq!(normalise_lang(input).as_deref(), want, "{input:?}");
    }
}

#[test]
fn content_hash_is_stable_and_tracks_publisher_edits() {
    let mut e = entry("g", "Titre", "https://ex.org/a");
    e.summary = html("<p>Résumé</p>");
    e.authors = vec!["A".into()];
    let f = feed(FeedKind::Atom, None, vec![e.clone()]);
    let first = one(&f, None);
    let second = one(&f, None);
    assert_eq!(first.content_hash, second.content_hash);
    assert_eq!(first.content_hash.len(), 64);
    assert!(first.content_hash.bytes().all(|b| b.is_ascii_hexdigit()));

    let edits: Vec<(&str, RawEntry)> = vec![
        (
            "title",
            RawEntry {
                title: plain("Titre modifié"),
                ..e.clone()
            },
        ),
        (
            "summary",
            RawEntry {
                summary: html("<p>Résumé modifié</p>"),
                ..e.clone()
            },
        ),
        (
            "content",
            RawEntry {
                content: html("<p>Corps</p>"),
                ..e.clone()
            },
        ),
        (
            "link",
            RawEntry {
                links: vec!["https://ex.org/b".into()],
                ..e.clone()
            },
        ),
        (
            "published",
            RawEntry {
                published: Some(now() - Duration::days(9)),
                ..e.clone()
            },
        ),
        (
            "updated",
            RawEntry {
                updated: Some(now() - Duration::days(1)),
                ..e.clone()
            },
        ),
        (
            "authors",
            RawEntry {
                authors: vec!["B".into()],
                ..e.clone()
            },
        ),
        (
            "categories",
            RawEntry {
                categories: vec!["c".into()],
                ..e.clone()
            },
        ),
    ];
    for (what, edited) in edits {
        let item = one(&feed(FeedKind::Atom, None, vec![edited]), None);
        assert_eq!(item.id, first.id, "{what}: id must not move");
        assert_ne!(
            item.content_hash, first.content_hash,
            "{what}: edit not seen"
        );
    }
}

#[test]
fn guessed_and_clamped_dates_do_not_fake_an_edit() {
    let mut undated = entry("g", "t", "");
    undated.published = None;
    let mut future = entry("g", "t", "");
    future.published = Some(now() + Duration::days(5));
    for e in [undated, future] {
        let f = feed(FeedKind::Atom, None, vec![e]);
        let at = |now: DateTime<Utc>| {
            normalise(
                &f,
                &Context {
                    source: None,
                    document_url: None,
                    default_lang: None,
                    now,
                },
            )
        };
        let a = at(now());
        let b = at(now() + Duration::hours(1));
        let (Some(a), Some(b)) = (a.first(), b.first()) else {
            panic!("no item");
        };
        assert_ne!(a.published, b.published);
        assert_eq!(a.content_hash, b.content_hash);
    }
}

#[test]
fn hostile_entries_do_not_panic() {
    let junk = "<<<&&&#x;&#;]]><!--<![CDATA[<script><svg><math>\u{0}\u{FEFF}é\u{301}".repeat(50);
    let e = RawEntry {
        guid: Some(junk.clone()),
        title: html(&junk),
        links: vec![junk.clone(), "http://[::1".into(), "https://".into()],
        summary: html(&junk),
        content: plain(&junk),
        authors: vec![junk.clone()],
        categories: vec![junk.clone()],
        lang: Some(junk.clone()),
        enclosures: vec![Enclosure {
            url: junk.clone(),
            mime: Some(junk.clone()),
            length: Some(u64::MAX),
        }],
        ..RawEntry::default()
    };
    let f = RawFeed {
        kind: None,
        title: Some(junk.clone()),
        link: Some(junk.clone()),
        lang: Some(junk),
        entries: vec![e, RawEntry::default()],
        repairs: vec![],
    };
    let items = run(&f, None);
    assert_eq!(items.len(), 2);
    for item in &items {
        assert!(!item.title.is_empty());
        assert!(item.summary.chars().count() <= MAX_SUMMARY);
    }
}

#[test]
fn feed_title_and_link_are_bounded() {
    let mut f = feed(FeedKind::Rss, None, vec![]);
    f.title = Some(format!("  Le   réseau {}", "mot ".repeat(2 << 20)));
    f.link = Some(format!("https://ex.org/{}", "a".repeat(MAX_FEED_LINK)));
    let title = feed_title(&f).unwrap_or_default();
    assert!(title.starts_with("Le réseau mot mot"), "{title}");
    assert!(title.chars().count() <= MAX_TITLE, "{}", title.len());
    assert_eq!(feed_link(&f), None);
    f.title = Some(" \n ".into());
    f.link = Some(" https://ex.org/ ".into());
    assert_eq!(feed_title(&f), None);
    assert_eq!(feed_link(&f).as_deref(), Some("https://ex.org/"));
}

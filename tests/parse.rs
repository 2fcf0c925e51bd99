//! The parse stage through its public API: each repair, each format, the partner-network
//! sample in `$RELAIS_SHARED/corpus/network` (default `<manifest>/../shared`).

mod support;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use relais::model::{Enclosure, FeedKind, RawEntry, RawFeed, RawText};
use relais::parse::{parse, ParseError, MAX_DEPTH};

fn ok(doc: &[u8], content_type: Option<&str>) -> RawFeed {
    match parse(doc, content_type) {
        Ok(feed) => feed,
        Err(e) => panic!("parse failed: {e}\n{}", String::from_utf8_lossy(doc)),
    }
}

fn date(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn html(body: &str) -> Option<RawText> {
    Some(RawText {
        body: body.to_string(),
        is_html: true,
    })
}

fn text(body: &str) -> Option<RawText> {
    Some(RawText {
        body: body.to_string(),
        is_html: false,
    })
}

fn first(feed: &RawFeed) -> &RawEntry {
    match feed.entries.first() {
        Some(e) => e,
        None => panic!("no entry in {feed:?}"),
    }
}

/// An RSS 2.0 document whose channel title is `title`.
fn rss_titled(title: &str) -> String {
    format!("<rss version=\"2.0\"><channel><title>{title}</title><link>https://ex.org/</link></channel></rss>")
}

const FRENCH: &str = "Coopération décentralisée « été » – l’œuvre";

// ---------------------------------------------------------------- repairs

#[test]
fn repairs_table() {
    // (case, document, channel title expected, repair expected among the repairs)
    let cases: &[(&str, String, &str, &str)] = &[
        (
            "html entities in text",
            rss_titled("Coop&eacute;ration d&eacute;centralis&eacute;e &laquo;&nbsp;&eacute;t&eacute;&nbsp;&raquo; &ndash; l&rsquo;&oelig;uvre&hellip;"),
            "Coopération décentralisée «\u{a0}été\u{a0}» – l’œuvre…",
            "replaced 13 html entities",
        ),
        (
            "entities inside cdata are untouched",
            rss_titled("<![CDATA[Caf&eacute; & bar]]>"),
            "Caf&eacute; & bar",
            "",
        ),
        ("bare ampersand", rss_titled("Élus & territoires"), "Élus & territoires", "escaped 1 bare ampersand"),
        (
            "unknown entity is never expanded",
            rss_titled("R&D &partenaires; &amp; co"),
            "R&D &partenaires; & co",
            "escaped 1 unknown entity",
        ),
        (
            "characters illegal in xml",
            rss_titled("a\u{0}b\u{1}c\u{b}d\u{1f}e\u{fffe}f"),
            "abcdef",
            "dropped 5 characters illegal in xml",
        ),
        (
            "references to illegal characters",
            rss_titled("a&#0;b&#x1F;c&#xDFFF;d"),
            "abcd",
            "dropped 3 character references to characters illegal in xml",
        ),
        ("windows-1252 references", rss_titled("l&#146;&#233;t&#233;"), "l’été", "read 1 character reference as windows-1252"),
        (
            "missing rss version",
            "<rss><channel><title>Sans version</title></channel></rss>".to_string(),
            "Sans version",
            "added missing rss version",
        ),
        (
            "bare less-than sign",
            rss_titled("Budget < 10 000 €"),
            "Budget < 10 000 €",
            "escaped 1 bare less-than sign",
        ),
    ];
    for (case, doc, title, repair) in cases {
        let feed = ok(doc.as_bytes(), None);
        assert_eq!(feed.title.as_deref(), Some(*title), "{case}");
        if repair.is_empty() {
            assert!(feed.repairs.is_empty(), "{case}: {:?}", feed.repairs);
        } else {
            assert!(
                feed.repairs.iter().any(|r| r == repair),
                "{case}: {:?}",
                feed.repairs
            );
        }
    }
}

#[test]
fn entities_in_attributes() {
    let doc = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><id>1</id>\
        <link rel=\"alternate\" href=\"https://ex.org/agenda?lieu=Is&egrave;re&amp;type=atelier&x=1\"/>\
        <category term=\"coop\" label=\"Coop&eacute;ration &amp; solidarit&eacute;\"/></entry></feed>";
    let feed = ok(doc.as_bytes(), None);
    let e = first(&feed);
    assert_eq!(
        e.links,
        ["https://ex.org/agenda?lieu=Is%C3%A8re&type=atelier&x=1"]
    );
    assert_eq!(e.categories, ["Coopération & solidarité"]);
    assert!(
        feed.repairs
            .contains(&"replaced 3 html entities".to_string()),
        "{:?}",
        feed.repairs
    );
    assert!(
        feed.repairs
            .contains(&"escaped 1 bare ampersand".to_string()),
        "{:?}",
        feed.repairs
    );
}

#[test]
fn content_in_cdata_is_kept_verbatim() {
    let doc = "<rss version=\"2.0\"><channel><item><guid>1</guid><description><![CDATA[<p>Caf&eacute; &amp; <b>bar</b> & co</p>]]></description></item></channel></rss>";
    let feed = ok(doc.as_bytes(), None);
    assert_eq!(
        first(&feed).summary,
        html("<p>Caf&eacute; &amp; <b>bar</b> & co</p>")
    );
    assert!(feed.repairs.is_empty(), "{:?}", feed.repairs);
}

#[test]
fn billion_laughs_is_defused() {
    let doc = support::billion_laughs(
        "<rss version=\"2.0\"><channel><title>&lol9;</title></channel></rss>",
    );
    let feed = ok(doc.as_bytes(), None);
    assert_eq!(feed.title.as_deref(), Some("&lol9;"));
    assert!(feed.repairs.contains(&"removed doctype".to_string()));
}

#[test]
fn external_entities_never_resolve() {
    let doc = "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n\
        <rss version=\"2.0\"><channel><title>&xxe;</title><item><guid>1</guid><description>&xxe;</description></item></channel></rss>";
    let feed = ok(doc.as_bytes(), None);
    let everything = format!("{feed:?}");
    assert!(
        !everything.contains("root:"),
        "file content leaked: {everything}"
    );
    assert_eq!(feed.title.as_deref(), Some("&xxe;"));
    assert_eq!(first(&feed).summary, html("&xxe;"));
    assert!(feed.repairs.contains(&"removed doctype".to_string()));
}

fn utf16(s: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut v = Vec::new();
    if bom {
        v.extend(if big_endian {
            [0xFE, 0xFF]
        } else {
            [0xFF, 0xFE]
        });
    }
    for u in s.encode_utf16() {
        v.extend(if big_endian {
            u.to_be_bytes()
        } else {
            u.to_le_bytes()
        });
    }
    v
}

fn utf32(s: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let chars = bom.then_some('\u{feff}').into_iter().chain(s.chars());
    chars
        .flat_map(|c| {
            if big_endian {
                u32::from(c).to_be_bytes()
            } else {
                u32::from(c).to_le_bytes()
            }
        })
        .collect()
}

fn windows_1252(s: &str) -> Vec<u8> {
    encoding_rs::WINDOWS_1252.encode(s).0.into_owned()
}

/// (case, bytes, content type, title expected, decoding note expected)
type EncodingCase<'a> = (&'a str, Vec<u8>, Option<&'a str>, &'a str, Option<&'a str>);

#[test]
fn encodings_table() {
    let doc = |enc: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"{enc}\"?>{}",
            rss_titled(FRENCH)
        )
    };
    let latin1: Vec<u8> = doc("ISO-8859-1")
        .replace('–', "-")
        .replace('’', "'")
        .replace('œ', "oe")
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect();
    let cases: Vec<EncodingCase<'_>> = vec![
        ("utf-8", doc("utf-8").into_bytes(), None, FRENCH, None),
        (
            "utf-16le with bom",
            utf16(&doc("utf-16"), false, true),
            None,
            FRENCH,
            Some("decoded utf-16le"),
        ),
        // feed-rs 3.0.0 alone panics on this one inside quick-xml.
        (
            "utf-16be with bom",
            utf16(&doc("utf-16"), true, true),
            None,
            FRENCH,
            Some("decoded utf-16be"),
        ),
        (
            "utf-16le without bom",
            utf16(&doc("utf-16"), false, false),
            None,
            FRENCH,
            Some("decoded utf-16le"),
        ),
        (
            "utf-16be without bom",
            utf16(&doc("utf-16"), true, false),
            None,
            FRENCH,
            Some("decoded utf-16be"),
        ),
        (
            "utf-32le with bom",
            utf32(&doc("utf-32"), false, true),
            None,
            FRENCH,
            Some("decoded utf-32le"),
        ),
        (
            "utf-32be without bom",
            utf32(&doc("utf-32"), true, false),
            None,
            FRENCH,
            Some("decoded utf-32be"),
        ),
        (
            "windows-1252 declared as utf-8",
            windows_1252(&doc("utf-8")),
            None,
            FRENCH,
            Some("decoded 10 bytes as windows-1252: not valid utf-8"),
        ),
        (
            "iso-8859-1 declared",
            latin1,
            None,
            "Coopération décentralisée « été » - l'oeuvre",
            Some("decoded windows-1252"),
        ),
        (
            "http charset overrides the declaration",
            windows_1252(&doc("utf-8")),
            Some("application/rss+xml; charset=windows-1252"),
            FRENCH,
            Some("decoded windows-1252"),
        ),
    ];
    for (case, bytes, ct, title, note) in cases {
        let feed = ok(&bytes, ct);
        assert_eq!(feed.title.as_deref(), Some(title), "{case}");
        assert_eq!(
            feed.repairs.first().map(String::as_str),
            note,
            "{case}: {:?}",
            feed.repairs
        );
    }
}

#[test]
fn deep_nesting_is_refused_before_the_parser() {
    let deep = |n: usize| {
        format!(
            "<rss version=\"2.0\"><channel><title>t</title>{}{}</channel></rss>",
            "<x>".repeat(n),
            "</x>".repeat(n)
        )
    };
    assert!(matches!(
        parse(deep(100_000).as_bytes(), None),
        Err(ParseError::TooDeep(MAX_DEPTH))
    ));
    assert!(matches!(
        parse(deep(MAX_DEPTH).as_bytes(), None),
        Err(ParseError::TooDeep(_))
    ));
    assert_eq!(ok(deep(100).as_bytes(), None).title.as_deref(), Some("t"));
    let message = parse(deep(100_000).as_bytes(), None)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        message.as_deref(),
        Some("too deeply nested: more than 512 open elements")
    );
}

#[test]
fn what_is_not_a_feed() {
    let cases: &[(&str, &[u8])] = &[
        ("html page", b"<!DOCTYPE html>\n<html lang=\"fr\"><head><title>Accueil</title></head><body></body></html>"),
        ("html without doctype", b"\n<html><body>Erreur 404</body></html>"),
        ("another xml document", b"<?xml version=\"1.0\"?><opml version=\"2.0\"><body/></opml>"),
        ("plain text", b"Service temporarily unavailable"),
        ("json that is not a feed", b"{\"error\": \"not found\"}"),
    ];
    for (case, doc) in cases {
        assert!(
            matches!(parse(doc, None), Err(ParseError::NotAFeed(_))),
            "{case}: {:?}",
            parse(doc, None)
        );
    }
    let message = parse(cases[0].1, None).err().map(|e| e.to_string());
    assert_eq!(
        message.as_deref(),
        Some("not a feed: an html page (an <html> root element)")
    );
    for empty in [&b""[..], b"   \n\t ", &[0xEF, 0xBB, 0xBF, b'\n']] {
        assert!(
            matches!(parse(empty, None), Err(ParseError::Empty)),
            "{empty:?}"
        );
    }
}

#[test]
fn malformed_xml_is_an_error_not_a_panic() {
    for doc in [
        "<rss version=\"2.0\"><channel><title>a</title>",
        "<rss version=\"2.0\"><channel><title>a<br>b</title></channel></rss>",
        "<rss version=\"2.0\"><channel><item><title>x</item></channel></rss>",
    ] {
        assert!(
            matches!(parse(doc.as_bytes(), None), Err(ParseError::Malformed(_))),
            "{doc}"
        );
    }
}

#[test]
fn json_feed_with_nul_escapes() {
    let doc = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "Grand\u0000 Reims",
        "items": [{"id": "a\u0000b", "title": "Coop\u0000ération", "content_text": "x\u0000y"}]}"#;
    let feed = ok(doc.as_bytes(), None);
    assert_eq!(feed.title.as_deref(), Some("Grand Reims"));
    let e = first(&feed);
    assert_eq!(e.guid.as_deref(), Some("ab"));
    assert_eq!(e.title, text("Coopération"));
    assert_eq!(e.content, text("xy"));
    assert!(!format!("{feed:?}").contains('\0'));
    assert!(
        feed.repairs
            .contains(&"dropped 4 characters illegal in xml".to_string()),
        "{:?}",
        feed.repairs
    );
}

#[test]
fn panics_in_feed_rs_are_avoided() {
    // feed-rs 3.0.0 slices "Name «e-mail»" strings at non-character boundaries.
    let rss = "<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><managingEditor>Rédaction «redac@ex.fr»</managingEditor>\
        <item><guid>1</guid><author>Jean Dupont «jean@ex.fr»</author><dc:creator>Marie—marie@ex.fr</dc:creator></item></channel></rss>";
    let feed = ok(rss.as_bytes(), None);
    assert_eq!(first(&feed).authors, ["Jean Dupont", "Marie—marie@ex.fr"]);
    let json = r#"{"version": "https://jsonfeed.org/version/1", "title": "t", "items": [{"id": "1", "author": {"name": "Jean «jean@ex.fr»"}}]}"#;
    assert_eq!(first(&ok(json.as_bytes(), None)).authors, ["Jean"]);
    // …and unwraps integer parses of digit runs in itunes:duration.
    let podcast = "<rss version=\"2.0\" xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\"><channel>\
        <itunes:author>Radio «contact@radio.fr»</itunes:author><itunes:owner><itunes:name>Équipe «e@radio.fr»</itunes:name>\
        <itunes:email>e@radio.fr</itunes:email></itunes:owner><item><guid>1</guid>\
        <itunes:duration>99999999999999999999</itunes:duration><itunes:duration>١:٠٠</itunes:duration></item></channel></rss>";
    assert_eq!(
        first(&ok(podcast.as_bytes(), None)).guid.as_deref(),
        Some("1")
    );
}

#[test]
fn person_strings_risky_only_once_decoded_are_read_by_relais() {
    // Each author puts a multi-byte character next to the address only in the text feed-rs
    // would see: a dropped NUL (found by the parse fuzzer), a reference, a comment, a CDATA
    // section holding `</`, a trailing no-break space.
    let rss = "<rss version=\"2.0\"><channel><title>t</title>\
        <item><guid>1</guid><author>contac\u{80}\0\0t@ex.fr (Fran&ccedil;oise)</author></item>\
        <item><guid>2</guid><author>&#171;jean@ex.fr&#187;</author></item>\
        <item><guid>3</guid><author>«<!-- x -->marie@ex.fr</author></item>\
        <item><guid>4</guid><author><![CDATA[</b>]]>«paul@ex.fr</author></item>\
        <item><guid>5</guid><author>lea@ex.fr\u{a0}</author></item>\
        </channel></rss>";
    let feed = ok(rss.as_bytes(), None);
    let guids: Vec<_> = feed.entries.iter().filter_map(|e| e.guid.clone()).collect();
    assert_eq!(guids, ["1", "2", "3", "4", "5"]);
    assert!(
        feed.repairs.iter().any(|r| r.contains("author")),
        "{:?}",
        feed.repairs
    );
    let json = "{\"version\": \"https://jsonfeed.org/version/1\", \"title\": \"t\", \"items\": \
        [{\"id\": \"1\", \"author\": {\"name\": \"Jean\u{a0}jean@ex.fr\u{a0}\"}}]}";
    assert_eq!(first(&ok(json.as_bytes(), None)).authors, ["Jean"]);
}

#[test]
fn elements_feed_rs_rejects_are_hidden() {
    let doc = "<feed xmlns=\"http://www.w3.org/2005/Atom\" xmlns:media=\"http://search.yahoo.com/mrss/\">\
        <entry><id>1</id><title type=\"text/plain\">Vidéo</title><content type=\"image/png\"></content>\
        <media:group><media:content url=\"https://ex.org/v.mp4\" type=\"video/mp4\"/><media:description/></media:group></entry>\
        <entry><id>2</id><content src=\"https://ex.org/2\">not empty</content></entry></feed>";
    let feed = ok(doc.as_bytes(), None);
    assert_eq!(feed.entries.len(), 2);
    let e = first(&feed);
    assert_eq!(e.title, text("Vidéo"));
    assert_eq!(
        e.enclosures,
        [Enclosure {
            url: "https://ex.org/v.mp4".into(),
            mime: Some("video/mp4".into()),
            length: None
        }]
    );
    assert!(
        feed.repairs
            .contains(&"hid from the parser what it could not read: content, content".to_string()),
        "{:?}",
        feed.repairs
    );
}

// ---------------------------------------------------------------- formats

#[test]
fn rss_0_91() {
    let doc = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n\
        <!DOCTYPE rss PUBLIC \"-//Netscape Communications//DTD RSS 0.91//EN\" \"http://my.netscape.com/publish/formats/rss-0.91.dtd\">\n\
        <rss version=\"0.91\"><channel><title>Réseau &amp; territoires</title><link>https://reseau.example.org/</link>\
        <language>fr</language><item><title>Journ&eacute;e des &eacute;lus</title><link>https://reseau.example.org/journee</link>\
        <description>Le 14 octobre &agrave; Grenoble.</description></item></channel></rss>";
    let feed = ok(&windows_1252(doc), None);
    assert_eq!(feed.kind, Some(FeedKind::Rss));
    assert_eq!(feed.title.as_deref(), Some("Réseau & territoires"));
    assert_eq!(feed.link.as_deref(), Some("https://reseau.example.org/"));
    assert_eq!(feed.lang.as_deref(), Some("fr"));
    let e = first(&feed);
    assert_eq!(e.guid, None);
    assert_eq!(e.title, text("Journée des élus"));
    assert_eq!(e.links, ["https://reseau.example.org/journee"]);
    assert_eq!(e.summary, html("Le 14 octobre à Grenoble."));
}

#[test]
fn rss_2_0() {
    let doc = r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:media="http://search.yahoo.com/mrss/">
<channel>
  <title>CIEDEL – Actualités</title>
  <atom:link href="https://ciedel.example.org/feed.rss" rel="self" type="application/rss+xml"/>
  <link>https://ciedel.example.org/</link>
  <language>fr-FR</language>
  <item>
    <title>Formation « Piloter un projet »</title>
    <link>https://ciedel.example.org/formations/piloter?utm_source=rss</link>
    <comments>https://ciedel.example.org/formations/piloter#commentaires</comments>
    <guid isPermaLink="false">ciedel-formation-12</guid>
    <pubDate>Mon, 08 Mar 2021 10:15:00 +0100</pubDate>
    <author>formation@ciedel.example.org (Équipe formation)</author>
    <dc:creator>Marie Curie</dc:creator>
    <category>Formation</category>
    <category domain="x">Coopération</category>
    <description>&lt;p&gt;Inscriptions ouvertes&lt;/p&gt;</description>
    <content:encoded><![CDATA[<p>Programme <b>complet</b></p>]]></content:encoded>
    <enclosure url="https://ciedel.example.org/programme.pdf" length="123456" type="application/pdf"/>
    <media:content url="https://ciedel.example.org/affiche.jpg" type="image/jpeg" fileSize="2048"/>
  </item>
  <item>
    <title>Sans identifiant</title>
    <link>actualites/relative</link>
    <pubDate>Tue, 09 Mar 2021 10:15:00 +0100</pubDate>
    <atom:updated>2021-03-10T08:00:00Z</atom:updated>
    <enclosure url="/media/relative.mp3" length="12" type="audio/mpeg"/>
  </item>
  <item><guid>https://ciedel.example.org/permalien</guid></item>
</channel>
</rss>"#;
    let feed = ok(doc.as_bytes(), Some("application/rss+xml; charset=utf-8"));
    assert_eq!(feed.kind, Some(FeedKind::Rss));
    assert_eq!(feed.title.as_deref(), Some("CIEDEL – Actualités"));
    assert_eq!(
        feed.link.as_deref(),
        Some("https://ciedel.example.org/"),
        "the self link is not the site"
    );
    assert_eq!(feed.lang.as_deref(), Some("fr-fr"));
    assert!(feed.repairs.is_empty(), "{:?}", feed.repairs);
    assert_eq!(feed.entries.len(), 3);

    let e = &feed.entries[0];
    assert_eq!(e.guid.as_deref(), Some("ciedel-formation-12"));
    assert_eq!(e.title, text("Formation « Piloter un projet »"));
    assert_eq!(
        e.links,
        ["https://ciedel.example.org/formations/piloter?utm_source=rss"]
    );
    assert_eq!(e.published, date("2021-03-08T09:15:00Z"));
    assert_eq!(e.updated, None);
    assert_eq!(e.authors, ["Équipe formation", "Marie Curie"]);
    assert_eq!(e.categories, ["Formation", "Coopération"]);
    assert_eq!(e.summary, html("<p>Inscriptions ouvertes</p>"));
    assert_eq!(e.content, html("<p>Programme <b>complet</b></p>"));
    // feed-rs keeps media:content over <enclosure> when an item has both.
    assert_eq!(
        e.enclosures,
        [Enclosure {
            url: "https://ciedel.example.org/affiche.jpg".into(),
            mime: Some("image/jpeg".into()),
            length: Some(2048)
        }]
    );

    let e = &feed.entries[1];
    assert_eq!(e.guid, None, "no guid: no invented id");
    assert_eq!(
        e.links,
        ["actualites/relative"],
        "left relative for normalise"
    );
    assert_eq!(e.published, date("2021-03-09T09:15:00Z"));
    assert_eq!(e.updated, date("2021-03-10T08:00:00Z"));
    assert_eq!(
        e.enclosures,
        [Enclosure {
            url: "/media/relative.mp3".into(),
            mime: Some("audio/mpeg".into()),
            length: Some(12)
        }]
    );

    let e = &feed.entries[2];
    assert_eq!(
        e.links,
        ["https://ciedel.example.org/permalien"],
        "a guid is a permalink by default"
    );
}

#[test]
fn rss_1_0() {
    let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/">
  <channel rdf:about="https://resacoop.example.org/feed.rdf">
    <title>RESACOOP</title>
    <link>https://resacoop.example.org/</link>
    <description>Réseau régional</description>
    <dc:language>fr</dc:language>
  </channel>
  <item rdf:about="https://resacoop.example.org/agenda/1?x=1&amp;y=2">
    <title>Journée des élus</title>
    <link>https://resacoop.example.org/agenda/1</link>
    <description>Le 14 octobre.</description>
    <content:encoded>&lt;p&gt;Programme&lt;/p&gt;</content:encoded>
    <dc:date>2021-09-20T07:00:00Z</dc:date>
    <dc:subject>Agenda</dc:subject>
    <dc:subject>Élus</dc:subject>
    <dc:creator>RESACOOP</dc:creator>
    <dc:language>fr-FR</dc:language>
  </item>
  <item rdf:about="https://resacoop.example.org/sans-lien"><title>Sans lien</title></item>
  <item><title>Sans about</title><link>https://resacoop.example.org/2</link></item>
</rdf:RDF>"#;
    let feed = ok(doc.as_bytes(), None);
    assert_eq!(feed.kind, Some(FeedKind::Rdf));
    assert_eq!(feed.title.as_deref(), Some("RESACOOP"));
    assert_eq!(feed.link.as_deref(), Some("https://resacoop.example.org/"));
    assert_eq!(feed.lang.as_deref(), Some("fr"));
    // feed-rs drops items without a link: one with an rdf:about gets it as its link.
    assert_eq!(feed.entries.len(), 3);
    let e = &feed.entries[0];
    assert_eq!(
        e.guid.as_deref(),
        Some("https://resacoop.example.org/agenda/1?x=1&y=2")
    );
    assert_eq!(e.title, text("Journée des élus"));
    assert_eq!(e.links, ["https://resacoop.example.org/agenda/1"]);
    assert_eq!(e.summary, text("Le 14 octobre."));
    assert_eq!(e.content, html("<p>Programme</p>"));
    assert_eq!(e.published, date("2021-09-20T07:00:00Z"));
    assert_eq!(e.categories, ["Agenda", "Élus"]);
    assert_eq!(e.authors, ["RESACOOP"]);
    assert_eq!(e.lang.as_deref(), Some("fr-FR"));
    let about = "https://resacoop.example.org/sans-lien";
    assert_eq!(feed.entries[1].guid.as_deref(), Some(about));
    assert_eq!(feed.entries[1].links, [about]);
    assert_eq!(feed.entries[1].title, text("Sans lien"));
    assert_eq!(feed.entries[2].guid, None);
}

#[test]
fn atom_0_3() {
    let doc = r#"<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#" xml:lang="fr">
  <title>Cap Rural</title>
  <tagline>Développement local</tagline>
  <link rel="alternate" type="text/html" href="https://caprural.example.org/"/>
  <modified>2004-01-02T00:00:00Z</modified>
  <entry>
    <title type="text/plain" mode="escaped">Atelier &amp; visite</title>
    <link rel="alternate" type="text/html" href="https://caprural.example.org/atelier"/>
    <id>tag:caprural.example.org,2004:1</id>
    <issued>2004-01-01T10:00:00+01:00</issued>
    <modified>2004-01-02T10:00:00+01:00</modified>
    <author><name>Cap Rural</name></author>
    <summary type="text/html" mode="escaped">&lt;p&gt;Résumé&lt;/p&gt;</summary>
    <content type="application/xhtml+xml" mode="xml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Contenu</p></div></content>
  </entry>
</feed>"#;
    let feed = ok(doc.as_bytes(), None);
    assert_eq!(feed.kind, Some(FeedKind::Atom));
    assert_eq!(feed.title.as_deref(), Some("Cap Rural"));
    assert_eq!(feed.link.as_deref(), Some("https://caprural.example.org/"));
    assert_eq!(feed.lang.as_deref(), Some("fr"));
    let e = first(&feed);
    assert_eq!(e.guid.as_deref(), Some("tag:caprural.example.org,2004:1"));
    assert_eq!(e.title, text("Atelier & visite"));
    assert_eq!(e.published, date("2004-01-01T09:00:00Z"));
    assert_eq!(e.updated, date("2004-01-02T09:00:00Z"));
    assert_eq!(e.authors, ["Cap Rural"]);
    assert_eq!(e.summary, html("<p>Résumé</p>"));
    assert_eq!(e.content, html("<p>Contenu</p>"));
    assert!(
        feed.repairs
            .contains(&"mapped atom 0.3 to atom 1.0".to_string()),
        "{:?}",
        feed.repairs
    );
}

#[test]
fn atom_1_0() {
    let doc = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr" xml:base="https://caprural.example.org/">
  <title type="html">Cap Rural &amp;amp; partenaires</title>
  <link rel="self" href="feed.atom"/>
  <link rel="alternate" type="text/html" href="actualites/"/>
  <id>tag:caprural.example.org,2017:feed</id>
  <updated>2021-02-16T14:30:00+01:00</updated>
  <author><name>Cap Rural</name></author>
  <entry xml:base="ressources/" xml:lang="fr-FR">
    <title>Guide</title>
    <link rel="edit" href="edit/1"/>
    <link rel="enclosure" type="application/pdf" length="2480000" href="guide.pdf"/>
    <link rel="alternate" type="application/pdf" href="guide-version-pdf"/>
    <link rel="alternate" type="text/html" href="guide"/>
    <link rel="alternate" href="/racine"/>
    <id>tag:caprural.example.org,2021:8</id>
    <updated>2021-02-16T14:30:00+01:00</updated>
    <category term="ressources" label="Ressources"/>
    <category term="guides"/>
    <summary type="html">&lt;p&gt;Fiches pratiques&lt;/p&gt;</summary>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Contenu <b>riche</b></p></div></content>
  </entry>
  <entry>
    <title>Sans id</title>
    <link href="agenda/1"/>
    <author><name>Anne</name><email>anne@ex.org</email></author>
    <author><email>contact@ex.org</email></author>
    <published>2020-11-23T09:00:00+01:00</published>
    <updated>2020-11-23T09:00:00+01:00</updated>
  </entry>
</feed>"#;
    let feed = ok(doc.as_bytes(), None);
    assert_eq!(feed.kind, Some(FeedKind::Atom));
    assert_eq!(
        feed.title.as_deref(),
        Some("Cap Rural & partenaires"),
        "html title as text"
    );
    assert_eq!(
        feed.link.as_deref(),
        Some("https://caprural.example.org/actualites/")
    );
    assert_eq!(feed.lang.as_deref(), Some("fr"));

    let e = &feed.entries[0];
    assert_eq!(e.guid.as_deref(), Some("tag:caprural.example.org,2021:8"));
    // Alternate links first, web pages before other types; xml:base nested and applied.
    assert_eq!(
        e.links,
        [
            "https://caprural.example.org/ressources/guide",
            "https://caprural.example.org/racine",
            "https://caprural.example.org/ressources/guide-version-pdf"
        ]
    );
    assert_eq!(
        e.enclosures,
        [Enclosure {
            url: "https://caprural.example.org/ressources/guide.pdf".into(),
            mime: Some("application/pdf".into()),
            length: Some(2_480_000)
        }]
    );
    assert_eq!(
        e.published, None,
        "only updated: published is left to normalise"
    );
    assert_eq!(e.updated, date("2021-02-16T13:30:00Z"));
    assert_eq!(e.categories, ["Ressources", "guides"]);
    assert_eq!(e.authors, ["Cap Rural"], "inherited from the feed");
    assert_eq!(e.lang.as_deref(), Some("fr-FR"));
    assert_eq!(e.summary, html("<p>Fiches pratiques</p>"));
    assert_eq!(e.content, html("<p>Contenu <b>riche</b></p>"));

    let e = &feed.entries[1];
    assert_eq!(e.guid, None);
    assert_eq!(e.links, ["https://caprural.example.org/agenda/1"]);
    assert_eq!(e.authors, ["Anne", "contact@ex.org"]);
    assert_eq!(e.published, date("2020-11-23T08:00:00Z"));
    assert_eq!(e.updated, None);
}

#[test]
fn atom_without_absolute_base_keeps_links_relative() {
    let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom"><link href="/"/>
        <entry xml:base="dossier/"><id>1</id><link href="page"/><link rel="enclosure" href="../a.mp3"/></entry>
        <entry><id>2</id><link href="//cdn.example.org/x"/></entry></feed>"#;
    let feed = ok(doc.as_bytes(), None);
    assert_eq!(feed.link.as_deref(), Some("/"));
    assert_eq!(feed.entries[0].links, ["dossier/page"]);
    assert_eq!(
        feed.entries[0].enclosures.first().map(|e| e.url.as_str()),
        Some("a.mp3")
    );
    assert_eq!(feed.entries[1].links, ["//cdn.example.org/x"]);
}

#[test]
fn json_feed_1_0() {
    let doc = r#"{
      "version": "https://jsonfeed.org/version/1",
      "title": "Grand Reims",
      "home_page_url": "https://grandreims.example.org/",
      "feed_url": "https://grandreims.example.org/feed.json",
      "author": {"name": "Relations internationales"},
      "items": [
        {"id": 42, "url": "https://grandreims.example.org/a", "external_url": "https://partenaire.example.org/a",
         "title": "Forages à Boudry", "content_html": "<p>Trois forages</p>", "summary": "Résumé",
         "date_published": "2019-05-02T10:00:00+02:00", "date_modified": "2019-05-03T10:00:00+02:00",
         "tags": ["Eau", 2019],
         "attachments": [{"url": "https://grandreims.example.org/a.pdf", "mime_type": "application/pdf", "size_in_bytes": 1000},
                         {"url": "https://grandreims.example.org/bad"}]},
        {"content_text": "Sans identifiant"}
      ]
    }"#;
    let feed = ok(doc.as_bytes(), None);
    assert_eq!(feed.kind, Some(FeedKind::JsonFeed));
    assert_eq!(feed.title.as_deref(), Some("Grand Reims"));
    assert_eq!(
        feed.link.as_deref(),
        Some("https://grandreims.example.org/")
    );
    let e = &feed.entries[0];
    assert_eq!(e.guid.as_deref(), Some("42"));
    assert_eq!(
        e.links,
        [
            "https://grandreims.example.org/a",
            "https://partenaire.example.org/a"
        ]
    );
    assert_eq!(e.title, text("Forages à Boudry"));
    assert_eq!(e.summary, text("Résumé"));
    assert_eq!(e.content, html("<p>Trois forages</p>"));
    assert_eq!(e.published, date("2019-05-02T08:00:00Z"));
    assert_eq!(e.updated, date("2019-05-03T08:00:00Z"));
    assert_eq!(e.authors, ["Relations internationales"]);
    assert_eq!(e.categories, ["Eau", "2019"]);
    assert_eq!(
        e.enclosures,
        [Enclosure {
            url: "https://grandreims.example.org/a.pdf".into(),
            mime: Some("application/pdf".into()),
            length: Some(1000)
        }]
    );
    let e = &feed.entries[1];
    assert_eq!(e.guid, None);
    assert_eq!(e.content, text("Sans identifiant"));
    assert!(
        feed.repairs
            .contains(&"fixed 3 json fields of the wrong type".to_string()),
        "{:?}",
        feed.repairs
    );
}

#[test]
fn json_feed_1_1() {
    let doc = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "Grand Reims", "language": "fr-FR",
      "feed_url": "https://grandreims.example.org/feed.json",
      "authors": [{"name": "Grand Reims"}],
      "items": [{"id": "gr-1", "url": "https://grandreims.example.org/1", "language": "en",
                 "content_html": "<p>Cooperation</p>", "content_text": "Cooperation", "authors": [{"name": "Anne"}]}]}"#;
    let feed = ok(doc.as_bytes(), None);
    assert_eq!(feed.link, None, "the feed URL is not the site");
    assert_eq!(feed.lang.as_deref(), Some("fr-FR"));
    let e = first(&feed);
    assert_eq!(e.lang.as_deref(), Some("en"));
    assert_eq!(e.authors, ["Anne"]);
    assert_eq!(e.content, html("<p>Cooperation</p>"));
    assert_eq!(e.summary, text("Cooperation"));
}

// ---------------------------------------------------------------- partner network

fn shared_dir() -> PathBuf {
    std::env::var_os("RELAIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

#[test]
fn partner_network_sample() {
    let dir = shared_dir().join("corpus/network");
    let Ok(truth) = std::fs::read_to_string(dir.join("TRUTH.json")) else {
        println!(
            "skipped: no partner network sample at {} (set RELAIS_SHARED)",
            dir.display()
        );
        return;
    };
    let truth: serde_json::Value = match serde_json::from_str(&truth) {
        Ok(t) => t,
        Err(e) => panic!("TRUTH.json: {e}"),
    };
    let kinds = [
        ("caprural.atom", FeedKind::Atom),
        ("ciedel.rss", FeedKind::Rss),
        ("cuf.rss", FeedKind::Rss),
        ("grandreims.json", FeedKind::JsonFeed),
        ("resacoop.rdf", FeedKind::Rdf),
    ];
    for (file, kind) in kinds {
        let bytes = match std::fs::read(dir.join(file)) {
            Ok(b) => b,
            Err(e) => panic!("{file}: {e}"),
        };
        let feed = ok(&bytes, None);
        assert_eq!(feed.kind, Some(kind), "{file}");
        assert!(
            feed.title.is_some() && feed.link.is_some() && feed.lang.is_some(),
            "{file}: {feed:?}"
        );
        let expected = truth["items"][file].as_array().cloned().unwrap_or_default();
        assert_eq!(feed.entries.len(), expected.len(), "{file}");
        let site = feed.link.as_deref().and_then(|l| url::Url::parse(l).ok());
        for (entry, want) in feed.entries.iter().zip(&expected) {
            assert_eq!(entry.guid.as_deref(), want["id"].as_str(), "{file}");
            let title = want["title"].as_str().filter(|t| !t.is_empty());
            assert_eq!(
                entry.title.as_ref().map(|t| t.body.as_str()),
                title,
                "{file}"
            );
            // Relative links resolve against the channel link (normalise's job; checked here
            // to show that parse left them resolvable and did not resolve them wrongly).
            let link = entry.links.first().and_then(|l| match url::Url::parse(l) {
                Ok(u) => Some(u.to_string()),
                Err(_) => site
                    .as_ref()
                    .and_then(|s| s.join(l).ok())
                    .map(|u| u.to_string()),
            });
            assert_eq!(
                link.as_deref(),
                want["link"].as_str(),
                "{file} {:?}",
                entry.guid
            );
            let published = want["published"]
                .as_str()
                .and_then(relais::normalise::dates::parse_date);
            assert_eq!(entry.published, published, "{file} {:?}", entry.guid);
        }
    }
}

#[test]
fn odd_but_readable_documents() {
    // PHP warnings printed before the document.
    let doc = "<br />\n<b>Warning</b>:  date(): timezone in <b>/var/www/feed.php</b> on line <b>3</b><br />\n\
        <?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Avec avertissement</title></channel></rss>";
    let feed = ok(doc.as_bytes(), None);
    assert_eq!(feed.title.as_deref(), Some("Avec avertissement"));
    assert!(
        feed.repairs.iter().any(|r| r.starts_with("skipped ")),
        "{:?}",
        feed.repairs
    );

    // An <rss> with no channel is an empty feed, not a broken one.
    let feed = ok(b"<rss version=\"2.0\"></rss>", None);
    assert_eq!((feed.kind, feed.entries.len()), (Some(FeedKind::Rss), 0));

    // A lone Atom entry document.
    let doc = "<entry xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"fr\"><id>urn:x:1</id><title>Seule</title></entry>";
    let feed = ok(doc.as_bytes(), None);
    assert_eq!(feed.kind, Some(FeedKind::Atom));
    assert_eq!(first(&feed).guid.as_deref(), Some("urn:x:1"));
    assert_eq!(first(&feed).lang.as_deref(), Some("fr"));

    // RSS 2.0 put in a namespace feed-rs does not know.
    let doc = "<rss version=\"2.0\" xmlns=\"http://backend.userland.com/rss2\"><channel><title>Userland</title></channel></rss>";
    assert_eq!(ok(doc.as_bytes(), None).title.as_deref(), Some("Userland"));

    // Dublin Core used without being declared.
    let doc = "<rss version=\"2.0\"><channel><item><guid>1</guid><dc:creator>Anne</dc:creator><dc:subject>Eau</dc:subject></item></channel></rss>";
    let feed = ok(doc.as_bytes(), None);
    assert_eq!(first(&feed).authors, ["Anne"]);
    assert_eq!(first(&feed).categories, ["Eau"]);
}

#[test]
fn naked_markup_in_text_elements_is_kept() {
    // Unescaped HTML inside <title>/<description>: feed-rs alone stopped at the first tag.
    let doc = "<rss version=\"2.0\"><channel><title>T</title><item><guid>1</guid>\
        <title>Un <b>gras</b> titre</title>\
        <description><p>Compte <b>rendu</b></p> suite <br/> fin</description></item></channel></rss>";
    let feed = ok(doc.as_bytes(), None);
    let e = first(&feed);
    assert_eq!(
        e.title.as_ref().map(|t| t.body.as_str()),
        Some("Un <b>gras</b> titre")
    );
    assert_eq!(
        e.summary.as_ref().map(|t| t.body.as_str()),
        Some("<p>Compte <b>rendu</b></p> suite <br/> fin")
    );
    assert!(
        feed.repairs
            .contains(&"read the markup inside 2 text elements as escaped html".to_string()),
        "{:?}",
        feed.repairs
    );
}

#[test]
fn html_feed_titles_lose_their_scripts() {
    let doc = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title type=\"html\">safe&lt;script&gt;alert(1)&lt;/script&gt; titre</title></feed>";
    assert_eq!(
        ok(doc.as_bytes(), None).title.as_deref(),
        Some("safe titre")
    );
}

#[test]
fn entries_beyond_the_bound_are_dropped_with_a_note() {
    let items: String = (0..relais::parse::MAX_ENTRIES + 5)
        .map(|n| format!("<item><guid>{n}</guid><title>t{n}</title></item>"))
        .collect();
    let doc = format!("<rss version=\"2.0\"><channel><title>T</title>{items}</channel></rss>");
    let feed = ok(doc.as_bytes(), None);
    assert_eq!(feed.entries.len(), relais::parse::MAX_ENTRIES);
    assert_eq!(
        feed.entries.last().and_then(|e| e.guid.as_deref()),
        Some("999")
    );
    assert!(feed
        .repairs
        .contains(&"kept the first 1000 of 1005 entries".to_string()));
}

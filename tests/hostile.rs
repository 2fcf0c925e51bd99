//! Hostile feeds and hostile servers, end to end: each case is served as one source
//! beside a healthy one, through the real pipeline (fetch → parse → normalise → store →
//! publish), and asserts its exact outcome — the error recorded on the source, or the
//! repaired value stored — and then the same invariants every time ([`Bench::invariants`]):
//! the healthy source's items are stored, the items the hostile source published before it
//! turned hostile are still there, every published document (RSS, Atom, JSON Feed, HTML
//! pages, OPML) is well-formed, and nothing able to run script or reach a `javascript:`,
//! `vbscript:` or `data:` URL reaches the published output or `items --json`.
//!
//! ROBUSTNESS.md lists the cases with their expected outcome and the test that proves it.

mod support;

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use relais::config::{Config, Location};
use relais::fetch::Fetcher;
use relais::model::Item;
use relais::parse::MAX_ENTRIES;
use relais::publish::{Doc, Publisher};
use relais::refresh::{Outcome, Refresher, Report};
use relais::render::FeedFormat;
use relais::store::{ItemQuery, Store};
use support::billion_laughs;
use support::html::{bad_scheme, dangers};
use support::{FixtureServer, Reply, Request, Routes};

/// The hostile source as it was before it turned hostile: two items that must survive.
const GOOD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Partenaire</title><link>https://partenaire.example.org/</link>
<item><title>Avant 1</title><link>https://partenaire.example.org/avant-1</link><guid>kept-1</guid>
<pubDate>Mon, 23 Nov 2026 09:00:00 +0100</pubDate><description>Premier article.</description></item>
<item><title>Avant 2</title><link>https://partenaire.example.org/avant-2</link><guid>kept-2</guid>
<pubDate>Tue, 24 Nov 2026 09:00:00 +0100</pubDate><description>Second article.</description></item>
</channel></rss>"#;

/// The healthy neighbour, polled beside every hostile case.
const HEALTHY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Voisin</title><link>https://voisin.example.org/</link>
<item><title>Rencontre régionale à Lyon</title><link>https://voisin.example.org/lyon</link>
<guid>h-1</guid><pubDate>Mon, 23 Nov 2026 10:00:00 +0100</pubDate></item>
<item><title>Appel à projets 2027</title><link>https://voisin.example.org/appel</link>
<guid>h-2</guid><pubDate>Tue, 24 Nov 2026 10:00:00 +0100</pubDate></item>
</channel></rss>"#;

/// The fetch time handed to the pipeline: fixed, so dates compare exactly.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

fn rss_item(inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Partenaire</title>\
         <link>https://partenaire.example.org/</link>{inner}</channel></rss>"
    )
}

type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// One hostile source beside a healthy one, a store, and the publisher over it.
struct Bench {
    dir: tempfile::TempDir,
    server: FixtureServer,
    armed: Arc<AtomicBool>,
    r: Refresher,
    publisher: Publisher,
}

impl Bench {
    /// `fetch` is extra `[fetch]` lines; `hostile` answers `/hostile` once armed (before,
    /// it serves [`GOOD`]); `extra` are further routes (redirect hops, …).
    async fn start(
        fetch: &str,
        hostile: impl Fn(&Request) -> Reply + Send + Sync + 'static,
        extra: Routes,
    ) -> Bench {
        let armed = Arc::new(AtomicBool::new(false));
        let hostile: Handler = Arc::new(hostile);
        let routes = {
            let armed = Arc::clone(&armed);
            extra
                .fixed(
                    "/healthy",
                    Reply::ok(HEALTHY).header("content-type", "application/rss+xml"),
                )
                .at("/hostile", move |req| {
                    if armed.load(Ordering::SeqCst) {
                        hostile(req)
                    } else {
                        Reply::ok(GOOD)
                    }
                })
        };
        let server = FixtureServer::start(routes).await;
        let dir = tempfile::tempdir().unwrap();
        // Short enough that a regression fails fast rather than hanging the suite.
        let fetch = if fetch.contains("timeout") {
            fetch.to_string()
        } else {
            format!("timeout = \"5s\"\n{fetch}")
        };
        let text = format!(
            "[server]\nbase_url = \"https://veille.example.org\"\n[store]\npath = \"store\"\n\
             [fetch]\nallow_private = true\n{fetch}\n\
             [[source]]\nid = \"healthy\"\nurl = \"{healthy}\"\n\
             [[source]]\nid = \"hostile\"\nurl = \"{hostile}\"\n\
             [[channel]]\nid = \"tout\"\ntitle = \"Tout le réseau\"\nmax_items = 500\n",
            healthy = server.url("/healthy"),
            hostile = server.url("/hostile"),
        );
        let path = dir.path().join("relais.toml");
        std::fs::write(&path, text).unwrap();
        let config = Arc::new(Config::load(&path).unwrap());
        let store = Arc::new(Store::open(&config.store.path).unwrap());
        let r = Refresher::new(
            Arc::clone(&config),
            Fetcher::new(&config.fetch).unwrap(),
            Arc::clone(&store),
        );
        let publisher = Publisher::new(config, store);
        let bench = Bench {
            dir,
            server,
            armed,
            r,
            publisher,
        };
        for id in ["healthy", "hostile"] {
            let report = bench.poll(id).await;
            assert_eq!(
                report.outcome,
                Outcome::Stored {
                    new: 2,
                    updated: 0,
                    unchanged: 0
                },
                "{id} before the case"
            );
        }
        bench.armed.store(true, Ordering::SeqCst);
        bench
    }

    fn hostile_url(&self) -> String {
        self.server.url("/hostile")
    }

    async fn poll(&self, id: &str) -> Report {
        let source = self.r.config.source(id).unwrap().clone();
        self.r.refresh(&source, now()).await
    }

    /// Poll the hostile source, then check the invariants; the report.
    async fn hostile(&self) -> Report {
        let report = self.poll("hostile").await;
        self.invariants();
        report
    }

    fn last_error(&self) -> Option<String> {
        self.r
            .store
            .source_state("hostile")
            .unwrap()
            .unwrap()
            .last_error
    }

    fn items(&self, source: &str) -> Vec<Item> {
        self.r
            .store
            .items(&ItemQuery {
                source: Some(source.into()),
                limit: None,
            })
            .unwrap()
    }

    /// The hostile source's item with this title, stored from the hostile document.
    fn item(&self, id: &str) -> Item {
        self.items("hostile")
            .into_iter()
            .find(|i| i.id == id)
            .unwrap_or_else(|| panic!("no item {id:?}: {:#?}", self.items("hostile")))
    }

    /// What every case must leave true, whatever the hostile source did.
    fn invariants(&self) {
        let store = &self.r.store;
        let healthy: Vec<String> = self.items("healthy").into_iter().map(|i| i.id).collect();
        assert_eq!(healthy.len(), 2, "healthy items: {healthy:?}");
        for id in ["kept-1", "kept-2"] {
            assert!(
                store.get_item("hostile", id).unwrap().is_some(),
                "the hostile source's earlier item {id} was lost"
            );
        }
        assert_eq!(
            store.source_state("healthy").unwrap().unwrap().last_error,
            None
        );
        // `items --json` prints the stored items with serde: nothing dangerous in them.
        let all = store.items(&ItemQuery::default()).unwrap();
        for item in &all {
            let json = serde_json::to_value(item).unwrap();
            for url in [&json["url"], &json["canonical_url"]] {
                if let Some(url) = url.as_str() {
                    assert!(!bad_scheme(url) && url.starts_with("http"), "{url}");
                }
            }
            for e in &item.enclosures {
                assert!(e.url.starts_with("http"), "{e:?}");
            }
            if let Some(html) = &item.content_html {
                assert_eq!(dangers(html), Vec::<String>::new(), "{html}");
            }
        }
        for doc in self.publisher.all_documents() {
            let rendered = self
                .publisher
                .document(&doc)
                .unwrap_or_else(|e| panic!("{doc:?}: {e}"))
                .unwrap_or_else(|| panic!("{doc:?}: not rendered"));
            let body = std::str::from_utf8(&rendered.body)
                .unwrap_or_else(|e| panic!("{doc:?}: not utf-8: {e}"));
            check_document(&doc, body);
        }
    }
}

/// One published document: well-formed in its format, healthy items visible, and no
/// script or hostile URL in it once parsed as its readers will.
fn check_document(doc: &Doc, body: &str) {
    let what = format!("{doc:?}");
    match doc {
        Doc::Feed { format, .. } => {
            match format {
                FeedFormat::Json => check_json_feed(body, &what),
                _ => check_xml_feed(body, &what),
            }
            assert!(
                body.contains("Rencontre régionale à Lyon"),
                "{what}: the healthy source's item is missing"
            );
        }
        Doc::Channel { .. } | Doc::Index => {
            assert_eq!(dangers(body), Vec::<String>::new(), "{what}");
            if matches!(doc, Doc::Channel { .. }) {
                assert!(body.contains("Rencontre régionale à Lyon"), "{what}");
            }
        }
        Doc::SourcesOpml | Doc::ChannelsOpml => {
            xml(body, &what);
        }
        _ => {}
    }
}

fn xml<'a>(body: &'a str, what: &str) -> roxmltree::Document<'a> {
    roxmltree::Document::parse_with_options(
        body,
        roxmltree::ParsingOptions {
            allow_dtd: false,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{what}: not well-formed XML: {e}"))
}

/// RSS or Atom: XML a strict parser accepts, a feed feed-rs reads, no attribute or
/// link-like element with a dangerous URL, and embedded HTML inert once parsed.
fn check_xml_feed(body: &str, what: &str) {
    let doc = xml(body, what);
    feed_rs::parser::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{what}: feed-rs: {e}"));
    for node in doc.descendants().filter(|n| n.is_element()) {
        for a in node.attributes() {
            assert!(
                !bad_scheme(a.value()),
                "{what}: {}={:?}",
                a.name(),
                a.value()
            );
            assert!(
                !a.name().to_ascii_lowercase().starts_with("on"),
                "{what}: {}",
                a.name()
            );
        }
        let name = node.tag_name().name();
        let text = node.text().unwrap_or_default();
        if matches!(name, "link" | "guid" | "id" | "comments" | "url" | "docs") {
            assert!(!bad_scheme(text), "{what}: <{name}>{text}");
        }
        if matches!(name, "description" | "encoded" | "content" | "summary") {
            assert_eq!(
                dangers(text),
                Vec::<String>::new(),
                "{what}: <{name}>{text}"
            );
        }
    }
}

fn check_json_feed(body: &str, what: &str) {
    let feed: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
    for item in feed["items"].as_array().unwrap_or(&Vec::new()) {
        for key in ["url", "external_url", "id", "image"] {
            if let Some(v) = item[key].as_str() {
                assert!(!bad_scheme(v), "{what}: {key} = {v}");
            }
        }
        if let Some(html) = item["content_html"].as_str() {
            assert_eq!(dangers(html), Vec::<String>::new(), "{what}: {html}");
        }
    }
}

/// The time since `started` is under `secs` seconds (debug build, shared machine).
fn assert_within(started: Instant, secs: u64) {
    let took = started.elapsed();
    assert!(took < Duration::from_secs(secs), "took {took:?}");
}

/// A gzip stream of `size` zero bytes, built in 1 MiB steps.
fn gzip_zeros(size: usize) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..size >> 20 {
        enc.write_all(&zeros).unwrap();
    }
    enc.finish().unwrap()
}

fn brotli_zeros(size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = brotli::CompressorWriter::new(&mut out, 1 << 16, 1, 22);
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..size >> 20 {
            enc.write_all(&zeros).unwrap();
        }
    }
    out
}

// ------------------------------------------------------------------ hostile servers

#[tokio::test]
async fn hostile_servers_fail_the_source_with_the_exact_error() {
    const MIB: &str = "max_body = \"1MiB\"";
    let gzip_bomb = gzip_zeros(64 << 20);
    let brotli_bomb = brotli_zeros(64 << 20);
    assert!(gzip_bomb.len() < 1 << 20 && brotli_bomb.len() < 1 << 20);
    type Case = (&'static str, &'static str, Handler, Routes, &'static str);
    let cases: Vec<Case> = vec![
        (
            "gzip bomb (64 MiB of zeros)",
            MIB,
            Arc::new(move |_: &Request| {
                Reply::ok(gzip_bomb.clone()).header("Content-Encoding", "gzip")
            }),
            Routes::new(),
            "{url}: body larger than the 1048576-byte limit",
        ),
        (
            "brotli bomb (64 MiB of zeros)",
            MIB,
            Arc::new(move |_: &Request| {
                Reply::ok(brotli_bomb.clone()).header("Content-Encoding", "br")
            }),
            Routes::new(),
            "{url}: body larger than the 1048576-byte limit",
        ),
        (
            "a 1 GiB body with no length, streamed",
            MIB,
            Arc::new(|_: &Request| {
                Reply::script()
                    .write("HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close\r\n\r\n<rss version=\"2.0\"><channel>")
                    .repeat(format!("<item><title>{}</title></item>", "x".repeat(995)), 1 << 20)
            }),
            Routes::new(),
            "{url}: body larger than the 1048576-byte limit",
        ),
        (
            "a 1 GiB body announced by its Content-Length",
            MIB,
            Arc::new(|_: &Request| {
                Reply::script()
                    .write("HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\nConnection: close\r\n\r\n")
                    .repeat(vec![b' '; 1024], 1 << 20)
            }),
            Routes::new(),
            "{url}: body larger than the 1048576-byte limit",
        ),
        (
            "a Content-Length larger than the body, then the connection closes",
            "",
            Arc::new(|_: &Request| {
                Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n<rss version=\"2.0\"><channel>")
            }),
            Routes::new(),
            "{url}: cannot read the body: …",
        ),
        (
            "a Content-Length smaller than the body: the feed is cut there",
            "",
            Arc::new(|_: &Request| {
                Reply::ok(GOOD.replace("kept", "cut")).header("Content-Length", "200")
            }),
            Routes::new(),
            "{url}: malformed feed: …",
        ),
        (
            "a head that never comes",
            "timeout = \"1s\"",
            Arc::new(|_: &Request| Reply::ok(GOOD).delay(Duration::from_secs(30))),
            Routes::new(),
            "{url}: no complete response within 1s",
        ),
        (
            "a body that never ends",
            "timeout = \"1s\"\nmax_body = \"2GiB\"",
            Arc::new(|_: &Request| {
                Reply::script()
                    .write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n<rss version=\"2.0\"><channel>")
                    .repeat("<!-- still here -->", 1 << 20)
                    .pause(Duration::from_secs(30))
            }),
            Routes::new(),
            "{url}: no complete response within 1s",
        ),
        (
            "a redirect loop",
            "",
            Arc::new(|r: &Request| Reply::redirect(302, &r.url("/loop"))),
            Routes::new().at("/loop", |r| Reply::redirect(301, &r.url("/hostile"))),
            "{url}: redirect loop back to {url}",
        ),
        (
            "an 11-hop redirect chain",
            "",
            Arc::new(|r: &Request| Reply::redirect(302, &r.url("/hop/1"))),
            (1..=10).fold(Routes::new(), |routes, n| {
                routes.at(&format!("/hop/{n}"), move |r| {
                    if n == 10 {
                        Reply::ok(GOOD)
                    } else {
                        Reply::redirect(302, &r.url(&format!("/hop/{}", n + 1)))
                    }
                })
            }),
            "{url}: more than 5 redirects",
        ),
        (
            "a redirect to 0.0.0.0 (loopback in disguise, refused even with allow_private)",
            "",
            Arc::new(|r: &Request| {
                Reply::redirect(302, &format!("http://0.0.0.0:{}/healthy", r.server.port()))
            }),
            Routes::new(),
            "http://0.0.0.0:{port}/healthy: address 0.0.0.0 refused (unspecified)",
        ),
        (
            "a redirect to a file",
            "",
            Arc::new(|_: &Request| Reply::redirect(301, "file:///etc/passwd")),
            Routes::new(),
            "file:///etc/passwd: scheme \"file\" refused, only http and https are fetched",
        ),
        (
            "an html page",
            "",
            Arc::new(|_: &Request| {
                Reply::ok("<!DOCTYPE html>\n<html><head><title>Maintenance</title></head><body>Revenez plus tard</body></html>")
                    .header("content-type", "text/html")
            }),
            Routes::new(),
            "{url}: not a feed: an html page (an <html> root element)",
        ),
        (
            "an empty 200",
            "",
            Arc::new(|_: &Request| Reply::ok("")),
            Routes::new(),
            "{url}: empty document",
        ),
        (
            "an unclosed CDATA section",
            "",
            Arc::new(|_: &Request| {
                Reply::ok(rss_item(
                    "<item><title>a</title><description><![CDATA[<p>jamais fermé",
                ))
            }),
            Routes::new(),
            "{url}: malformed feed: …",
        ),
        (
            "100,000 nested elements",
            "",
            Arc::new(|_: &Request| {
                Reply::ok(rss_item(&format!(
                    "{}{}",
                    "<x>".repeat(100_000),
                    "</x>".repeat(100_000)
                )))
            }),
            Routes::new(),
            "{url}: too deeply nested: more than 512 open elements",
        ),
    ];
    for (name, fetch, handler, routes, expected) in cases {
        let started = Instant::now();
        let bench = Bench::start(fetch, move |r| handler(r), routes).await;
        let expected = expected
            .replace("{url}", &bench.hostile_url())
            .replace("{port}", &bench.server.port().to_string());
        let report = bench.hostile().await;
        let Outcome::Failed { error } = &report.outcome else {
            panic!("{name}: expected a failure, got {report:?}");
        };
        // `…`: the rest names the transport's or the XML parser's own words.
        if let Some(prefix) = expected.strip_suffix('…') {
            assert!(error.starts_with(prefix), "{name}: {error}");
        } else {
            assert_eq!(error, &expected, "{name}");
        }
        assert_eq!(bench.last_error().as_ref(), Some(error), "{name}");
        assert!(
            // A hang guard (each case's deadline is 1 s), not a speed test.
            started.elapsed() < Duration::from_secs(20),
            "{name}: took {:?}",
            started.elapsed()
        );
    }
}

// ------------------------------------------------------------------ hostile documents

fn utf16(s: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let units = bom.then_some(0xFEFF).into_iter().chain(s.encode_utf16());
    for u in units {
        out.extend(if big_endian {
            u.to_be_bytes()
        } else {
            u.to_le_bytes()
        });
    }
    out
}

fn utf32(s: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let chars = bom.then_some('\u{FEFF}').into_iter().chain(s.chars());
    for c in chars {
        let c = u32::from(c);
        out.extend(if big_endian {
            c.to_be_bytes()
        } else {
            c.to_le_bytes()
        });
    }
    out
}

/// An RSS document with one item whose title is `title` (raw XML) and guid `x`.
fn titled(title: &str) -> String {
    rss_item(&format!(
        "<item><title>{title}</title><link>https://partenaire.example.org/x</link><guid>x</guid></item>"
    ))
}

/// The same, declaring `encoding` (for re-encoded documents).
fn titled_in(encoding: &str, title: &str) -> String {
    titled(title).replacen("UTF-8", encoding, 1)
}

fn title_of(bench: &Bench, id: &str) -> String {
    bench.item(id).title
}

#[tokio::test]
async fn hostile_documents_are_repaired_and_stored() {
    const TITLE: &str = "Coopération décentralisée — 東京 «ok»";
    type Check = Box<dyn Fn(&Bench)>;
    let same_title = || -> Check { Box::new(|b: &Bench| assert_eq!(title_of(b, "x"), TITLE)) };
    let lol_root = "<rss version=\"2.0\"><channel><title>&lol9;</title><item><title>&lol9;</title><guid>x</guid><description>&lol9;</description></item></channel></rss>";
    let cases: Vec<(&str, Vec<u8>, Check)> = vec![
        (
            "billion laughs, UTF-8: the DOCTYPE is dropped, the entity stays literal",
            billion_laughs(lol_root).into_bytes(),
            Box::new(|b: &Bench| {
                let item = b.item("x");
                assert_eq!(item.title, "&lol9;");
                assert_eq!(item.summary, "&lol9;");
            }),
        ),
        (
            "billion laughs, UTF-16LE with BOM",
            utf16(
                &billion_laughs(lol_root).replacen("UTF-8", "UTF-16", 1),
                false,
                true,
            ),
            Box::new(|b: &Bench| assert_eq!(title_of(b, "x"), "&lol9;")),
        ),
        (
            "billion laughs, UTF-16BE without BOM",
            utf16(
                &billion_laughs(lol_root).replacen("UTF-8", "UTF-16", 1),
                true,
                false,
            ),
            Box::new(|b: &Bench| assert_eq!(title_of(b, "x"), "&lol9;")),
        ),
        (
            "XXE to a local file",
            titled("&xxe;")
                .replacen(
                    "<rss",
                    "<!DOCTYPE rss [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<rss",
                    1,
                )
                .into_bytes(),
            Box::new(|b: &Bench| {
                assert_eq!(title_of(b, "x"), "&xxe;");
                let all = format!("{:?}", b.items("hostile"));
                assert!(!all.contains("root:"), "{all}");
            }),
        ),
        (
            "windows-1252 bytes in a document declared UTF-8",
            {
                let mut doc = titled("Coop\u{1}ration \u{2}guillemets\u{3} \u{4}").into_bytes();
                for (marker, byte) in [(1u8, 0xE9u8), (2, 0x93), (3, 0x94), (4, 0x80)] {
                    for b in doc.iter_mut().filter(|b| **b == marker) {
                        *b = byte;
                    }
                }
                doc
            },
            Box::new(|b: &Bench| {
                assert_eq!(title_of(b, "x"), "Coopération “guillemets” €");
            }),
        ),
        (
            "NUL, U+000B and U+FFFE in XML",
            titled("Co\u{0}op\u{B}éra\u{FFFE}tion").into_bytes(),
            Box::new(|b: &Bench| assert_eq!(title_of(b, "x"), "Coopération")),
        ),
        (
            "\\u0000 in JSON Feed",
            r#"{"version": "https://jsonfeed.org/version/1.1", "title": "Grand\u0000 Reims",
                "items": [{"id": "x", "url": "https://partenaire.example.org/x",
                "title": "Coop\u0000ération", "content_text": "un\u0000deux"}]}"#
                .as_bytes()
                .to_vec(),
            Box::new(|b: &Bench| {
                let item = b.item("x");
                assert_eq!(item.title, "Coopération");
                assert_eq!(item.summary, "undeux");
            }),
        ),
        (
            "]]> in content, escaped and split across CDATA sections",
            rss_item(
                "<item><title>Fin ]]&gt; de section</title><guid>x</guid>\
                 <description><![CDATA[<p>avant ]]]]><![CDATA[> après</p>]]></description></item>",
            )
            .into_bytes(),
            Box::new(|b: &Bench| {
                let item = b.item("x");
                assert_eq!(item.title, "Fin ]]> de section");
                assert_eq!(
                    item.content_html.as_deref(),
                    Some("<p>avant ]]&gt; après</p>")
                );
                assert_eq!(item.summary, "avant ]]> après");
            }),
        ),
    ];
    // UTF-16 and UTF-32, both byte orders, with and without BOM.
    let mut cases = cases;
    for (name, width, big_endian, bom) in [
        ("UTF-16LE with BOM", 16, false, true),
        ("UTF-16BE with BOM", 16, true, true),
        ("UTF-16LE without BOM", 16, false, false),
        ("UTF-16BE without BOM", 16, true, false),
        ("UTF-32LE with BOM", 32, false, true),
        ("UTF-32BE with BOM", 32, true, true),
        ("UTF-32LE without BOM", 32, false, false),
        ("UTF-32BE without BOM", 32, true, false),
    ] {
        let bytes = if width == 16 {
            utf16(&titled_in("UTF-16", TITLE), big_endian, bom)
        } else {
            utf32(&titled_in("UTF-32", TITLE), big_endian, bom)
        };
        cases.push((name, bytes, same_title()));
    }
    for (name, body, check) in cases {
        let body = Arc::new(body);
        let bench = Bench::start("", move |_| Reply::ok(body.as_slice()), Routes::new()).await;
        let report = bench.hostile().await;
        assert!(
            matches!(report.outcome, Outcome::Stored { new: 1, .. }),
            "{name}: {report:?} ({:?})",
            bench.last_error()
        );
        check(&bench);
    }
}

#[tokio::test]
async fn xxe_never_reaches_the_canary() {
    let canary = FixtureServer::start(Routes::new()).await;
    let doctype = format!(
        "<!DOCTYPE rss [\n<!ENTITY % remote SYSTEM \"{c}/dtd\">\n%remote;\n\
         <!ENTITY xxe SYSTEM \"{c}/xxe\">\n<!ENTITY img SYSTEM \"{c}/img\" NDATA gif>]>\n",
        c = canary.base()
    );
    let doc = titled("&xxe;").replacen("<rss", &format!("{doctype}<rss"), 1);
    let bench = Bench::start("", move |_| Reply::ok(doc.as_str()), Routes::new()).await;
    let report = bench.hostile().await;
    assert!(
        matches!(report.outcome, Outcome::Stored { new: 1, .. }),
        "{report:?}"
    );
    assert_eq!(title_of(&bench, "x"), "&xxe;");
    assert!(canary.requests().is_empty(), "{:?}", canary.requests());
}

#[tokio::test]
async fn broken_dates_are_refused_or_clamped_never_invented() {
    let dates = [
        ("year-9999", "Fri, 31 Dec 9999 23:59:59 GMT"),
        ("hour-25", "Mon, 23 Nov 2026 25:00:00 +0100"),
        ("iso-hour-25", "2026-11-23T25:00:00Z"),
        ("feb-30", "Mon, 30 Feb 2026 09:00:00 +0100"),
        ("two-digit-26", "Mon, 23 Nov 26 09:00:00 +0100"),
        ("two-digit-99", "Tue, 23 Nov 99 09:00:00 GMT"),
        ("unknown-zone", "Mon, 23 Nov 2026 09:00:00 XYZ"),
        ("garbage", "hier soir"),
    ];
    let items: String = dates
        .iter()
        .map(|(id, date)| {
            format!("<item><title>{id}</title><guid>{id}</guid><pubDate>{date}</pubDate></item>")
        })
        .collect();
    let doc = rss_item(&items);
    let bench = Bench::start("", move |_| Reply::ok(doc.as_str()), Routes::new()).await;
    let report = bench.hostile().await;
    assert!(
        matches!(report.outcome, Outcome::Stored { new: 8, .. }),
        "{report:?}"
    );
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    // (id, published, guessed): a date in the future is clamped to the fetch time; one
    // that is no real date is refused and the item dated when first seen, flagged.
    let expected = [
        ("year-9999", now(), false),
        ("hour-25", now(), true),
        ("iso-hour-25", now(), true),
        ("feb-30", now(), true),
        ("two-digit-26", at("2026-11-23T08:00:00Z"), false),
        ("two-digit-99", at("1999-11-23T09:00:00Z"), false),
        ("unknown-zone", at("2026-11-23T09:00:00Z"), false),
        ("garbage", now(), true),
    ];
    for (id, published, guessed) in expected {
        let item = bench.item(id);
        assert_eq!(
            (item.published, item.published_guessed),
            (published, guessed),
            "{id}"
        );
        assert_eq!(item.updated, None, "{id}");
    }
}

/// Links and content hrefs that would run script if a reader followed them, in every
/// disguise: entity-encoded, tab-split, mixed case, leading spaces or control characters.
const SCHEMES_RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Partenaire</title><link>https://partenaire.example.org/</link>
<item><title>s1</title><link>javascript:alert(1)</link><guid isPermaLink="false">s1</guid></item>
<item><title>s2</title><link>&#x09;&#x0A; JaVaScRiPt:alert(2)</link><guid isPermaLink="false">s2</guid></item>
<item><title>s3</title><link>jav&#x09;ascript:alert(3)</link><guid isPermaLink="false">s3</guid></item>
<item><title>s4</title><link>&#106;avascript:alert(4)</link><guid isPermaLink="false">s4</guid></item>
<item><title>s5</title><link>vbscript:msgbox(5)</link><guid isPermaLink="false">s5</guid></item>
<item><title>s6</title><link>data:text/html;base64,PHNjcmlwdD5hbGVydCg2KTwvc2NyaXB0Pg==</link><guid isPermaLink="false">s6</guid></item>
<item><title>s7</title><guid isPermaLink="true">javascript:alert(7)</guid><comments>javascript:alert(7)</comments></item>
<item><title>s8</title><guid>s8</guid><link>https://partenaire.example.org/s8</link>
<enclosure url="javascript:alert(8)" type="audio/mpeg" length="10"/>
<enclosure url="data:audio/mpeg;base64,AAAA" type="audio/mpeg" length="10"/></item>
<item><title>s9</title><guid>s9</guid><link>https://partenaire.example.org/s9</link><description><![CDATA[
<p><a href="jav&#x09;ascript:alert(9)">a</a> <a href="&#106;avascript:alert(9)">b</a>
<a href=" JAVASCRIPT:alert(9)">c</a> <a href="&#x01;javascript:alert(9)">d</a>
<a href="javascript&colon;alert(9)">e</a> <a href="vbscript:msgbox(9)">f</a>
<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(9)">g</a>
<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoOSk+" alt="h">
<img src=" jav	ascript:alert(9)" alt="i">
<a href="data:text/html,&lt;script&gt;alert(9)&lt;/script&gt;">j</a>
<iframe src="javascript:alert(9)"></iframe>
<form action="javascript:alert(9)"><button formaction="javascript:alert(9)">k</button></form>
<a href="/relatif">l</a></p>]]></description></item>
</channel></rss>"#;

const SCHEMES_ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Partenaire</title><id>urn:p</id>
<link href="javascript:alert(0)"/><updated>2026-11-24T09:00:00Z</updated>
<entry><title>a1</title><id>a1</id><updated>2026-11-24T09:00:00Z</updated>
<link rel="alternate" href=" JaVaScRiPt:alert(1)"/><link rel="enclosure" href="vbscript:x" type="audio/mpeg"/>
<content type="html">&lt;a href="jav&amp;#x09;ascript:alert(1)"&gt;x&lt;/a&gt;</content></entry>
<entry><title>a2</title><id>a2</id><updated>2026-11-24T09:00:00Z</updated>
<link href="data:text/html,x"/>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><a href="javascript:alert(2)" onclick="alert(2)">y</a></div></content></entry>
</feed>"#;

const SCHEMES_JSON: &str = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "Partenaire",
"home_page_url": "javascript:alert(0)",
"items": [
 {"id": "j1", "title": "j1", "url": "javascript:alert(1)", "external_url": "vbscript:x",
  "content_html": "<a href=\"jav&#x09;ascript:alert(1)\">x</a><img src=\"data:image/png;base64,AAAA\">",
  "attachments": [{"url": "javascript:alert(1)", "mime_type": "audio/mpeg"}]},
 {"id": "j2", "title": "j2", "url": " \u0001javascript:alert(2)", "content_text": "texte"}
]}"#;

/// A stored or published text as a browser reads a URL: whitespace and control
/// characters gone, lower case.
fn folded(s: &str) -> String {
    s.chars()
        .filter(|c| !(c.is_whitespace() || c.is_control()))
        .collect::<String>()
        .to_lowercase()
}

#[tokio::test]
async fn script_urls_reach_no_output() {
    for (kind, doc, ids) in [
        (
            "rss",
            SCHEMES_RSS,
            &["s1", "s2", "s3", "s4", "s5", "s6", "s8", "s9"][..],
        ),
        ("atom", SCHEMES_ATOM, &["a1", "a2"][..]),
        ("json feed", SCHEMES_JSON, &["j1", "j2"][..]),
    ] {
        let bench = Bench::start("", move |_| Reply::ok(doc), Routes::new()).await;
        let report = bench.hostile().await;
        assert!(
            matches!(report.outcome, Outcome::Stored { .. }),
            "{kind}: {report:?}"
        );
        for id in ids {
            let item = bench.item(id);
            // The only link that survives is a real web page.
            if let Some(url) = &item.url {
                assert!(
                    url.starts_with("https://partenaire.example.org/"),
                    "{kind} {id}: {url}"
                );
            }
            assert!(
                item.enclosures.is_empty(),
                "{kind} {id}: {:?}",
                item.enclosures
            );
        }
        // Relative links in content are made absolute, the hostile ones dropped: the
        // sanitised HTML of s9 keeps only its one real link.
        if kind == "rss" {
            let html = bench.item("s9").content_html.unwrap_or_default();
            assert_eq!(html.matches("href=").count(), 1, "{html}");
            assert!(
                html.contains("href=\"https://partenaire.example.org/relatif\""),
                "{html}"
            );
            assert!(!html.contains("<img src"), "{html}");
            // `&#106;` is decoded by the XML parser: s4 is a plain javascript: link.
            assert_eq!(bench.item("s4").url, None);
        }
        // Everything published, folded like a browser folds a URL, never names the
        // schemes (the documents are also parsed and checked element by element by
        // `invariants`).
        for doc in bench.publisher.all_documents() {
            let body = bench
                .publisher
                .document(&doc)
                .unwrap()
                .unwrap()
                .body
                .clone();
            let text = folded(&String::from_utf8_lossy(&body));
            for scheme in [
                "javascript:",
                "vbscript:",
                "javascript&colon;",
                "data:text",
                "data:image",
                "data:audio",
            ] {
                assert!(!text.contains(scheme), "{kind}: {doc:?} contains {scheme}");
            }
        }
        // And `relais items --json`, run as an operator would, once the daemon is gone.
        let Bench {
            dir, r, publisher, ..
        } = bench;
        drop((r, publisher));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_relais"))
            .arg("--config")
            .arg(dir.path().join("relais.toml"))
            .args(["items", "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let text = folded(&json.to_string());
        assert!(text.contains("\"kept-1\""), "{kind}: the items are listed");
        for scheme in ["javascript:", "vbscript:", "javascript&colon;", "data:"] {
            assert!(
                !text.contains(scheme),
                "{kind}: items --json contains {scheme}: {text}"
            );
        }
    }
}

/// Mutation XSS: markup that a sanitiser serialises as inert but that a browser parses
/// back into script, mostly by moving between the HTML, SVG and MathML namespaces.
const MXSS: &[&str] = &[
    r#"<svg><style><img src=x onerror=alert(1)></style></svg>"#,
    r#"<math><mtext><table><mglyph><style><img src=x onerror=alert(2)></style></mglyph></table></mtext></math>"#,
    r#"<math><mtext><h1><a><h6></a></h6><mglyph><svg><mtext><style><a title="</style><img src onerror=alert(3)>"></style></svg></mglyph></h1></mtext></math>"#,
    r#"<svg></p><style><a id="</style><img src=1 onerror=alert(4)>">"#,
    r#"<noscript><p title="</noscript><img src=x onerror=alert(5)>"></noscript>"#,
    r#"<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(6)>"#,
    r#"<math><annotation-xml encoding="text/html"><style><img src=x onerror=alert(7)></style></annotation-xml></math>"#,
    r#"<svg><foreignObject><p><style><img src=x onerror=alert(8)></style></p></foreignObject></svg>"#,
    r#"<textarea><img title="</textarea><img src=x onerror=alert(9)>">"#,
    r#"<xmp><img title="</xmp><img src=x onerror=alert(10)>">"#,
    r#"<template><img src=x onerror=alert(11)></template>"#,
    r#"<table><svg><style><img src=x onerror=alert(12)></style></svg></table>"#,
    r#"<svg><a xlink:href="javascript:alert(13)"><text>x</text></a></svg>"#,
    r#"<math href="javascript:alert(14)">x</math>"#,
    r#"<div style="background:url(javascript:alert(15))">y</div><style>@import 'x';</style>"#,
    r#"<select><template><style><img src=x onerror=alert(16)></style></template></select>"#,
    r#"<svg><title><style><img src=x onerror=alert(17)></style></title></svg>"#,
    r#"<math><mi><mglyph><svg><mtext><textarea><path id="</textarea><img onerror=alert(18) src=1>"></textarea></mtext></svg></mglyph></mi></math>"#,
    r#"<noembed><img title="</noembed><img src=x onerror=alert(19)>"></noembed>"#,
    r#"<iframe srcdoc="&lt;script&gt;alert(20)&lt;/script&gt;"></iframe><object data="x.swf"></object><embed src="x">"#,
    r#"<img src=x onerror=alert(21)//<p>reste</p>"#,
    r#"<p>ok</p><base href="javascript:alert(22)//"><a href="/x">z</a>"#,
];

#[tokio::test]
async fn mutation_xss_is_inert_after_a_second_parse() {
    let items: String = MXSS
        .iter()
        .enumerate()
        .map(|(n, payload)| {
            format!(
                "<item><title>m{n}</title><guid>m{n}</guid><link>https://partenaire.example.org/m{n}</link>\
                 <description><![CDATA[<p>avant</p>{payload}<p>après</p>]]></description></item>"
            )
        })
        .collect();
    let doc = rss_item(&items);
    let bench = Bench::start("", move |_| Reply::ok(doc.as_str()), Routes::new()).await;
    let report = bench.hostile().await;
    assert!(
        matches!(report.outcome, Outcome::Stored { new, .. } if new == MXSS.len()),
        "{report:?}"
    );
    for (n, payload) in MXSS.iter().enumerate() {
        let item = bench.item(&format!("m{n}"));
        let html = item.content_html.unwrap_or_default();
        assert_eq!(dangers(&html), Vec::<String>::new(), "{payload}\n→ {html}");
        // The surrounding text survives the payload's removal.
        assert!(html.contains("avant"), "{payload}\n→ {html}");
        // And stays inert through a second sanitisation (an idempotent sanitiser
        // cannot be walked into a different tree by feeding it its own output).
        assert_eq!(
            relais::normalise::sanitize::sanitize_html(&html, None),
            html,
            "{payload}"
        );
    }
}

// ------------------------------------------------------------------ hostile servers, more

#[tokio::test]
async fn a_slow_drip_times_out_without_holding_up_the_neighbour() {
    let bench = Bench::start(
        "timeout = \"1s\"",
        |_| Reply::ok(GOOD.replace("kept", "drip")).drip(Duration::from_millis(50)),
        Routes::new(),
    )
    .await;
    let started = Instant::now();
    let (hostile, healthy) = tokio::join!(bench.poll("hostile"), bench.poll("healthy"));
    assert_eq!(
        hostile.outcome,
        Outcome::Failed {
            error: format!("{}: no complete response within 1s", bench.hostile_url())
        }
    );
    assert!(hostile.duration >= Duration::from_secs(1), "{hostile:?}");
    // A hang guard, not a speed test: the drip alone would last far longer.
    assert_within(started, 20);
    // The neighbour was fetched while the drip went on, and did not wait for it.
    assert_eq!(healthy.outcome, Outcome::Unchanged);
    assert!(healthy.duration < Duration::from_millis(900), "{healthy:?}");
    bench.invariants();
}

#[tokio::test]
async fn every_retry_after_form_sets_the_next_poll() {
    let in_secs =
        |s: u64| httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(s));
    let ago = httpdate::fmt_http_date(std::time::SystemTime::now() - Duration::from_secs(3600));
    let hour = Duration::from_secs(3600);
    let day = 24 * hour;
    // Without a usable Retry-After, the first failure backs off by half to all of the
    // 30-minute interval.
    let backoff = (Duration::from_secs(900), Duration::from_secs(1800));
    let cases: Vec<(&str, u16, String, (Duration, Duration))> = vec![
        ("seconds", 429, "7200".into(), (2 * hour, 2 * hour)),
        ("seconds on 503", 503, "10800".into(), (3 * hour, 3 * hour)),
        (
            "an HTTP date",
            503,
            in_secs(7200),
            (2 * hour - Duration::from_secs(5), 2 * hour),
        ),
        ("a past date", 429, ago, backoff),
        ("garbage", 429, "bientôt".into(), backoff),
        ("a negative number", 429, "-60".into(), backoff),
        (
            "zero (clamped to a minute, below the backoff)",
            429,
            "0".into(),
            backoff,
        ),
        (
            "ten years in seconds (clamped to a day)",
            429,
            "315360000".into(),
            (day, day),
        ),
        (
            "a date ten years ahead (clamped to a day)",
            503,
            in_secs(10 * 365 * 86_400),
            (day, day),
        ),
        (
            "too many digits for any integer",
            429,
            "9".repeat(40),
            (day, day),
        ),
    ];
    for (name, status, value, (min, max)) in cases {
        let header = value.clone();
        let bench = Bench::start(
            "",
            move |_| Reply::status(status).header("Retry-After", &header),
            Routes::new(),
        )
        .await;
        let report = bench.hostile().await;
        assert_eq!(report.status, Some(status), "{name}");
        let wait = (report.next_poll - now()).to_std().unwrap();
        assert!(
            wait >= min && wait <= max,
            "{name} ({value}): waits {wait:?}"
        );
        let error = bench.last_error().unwrap_or_default();
        assert!(
            error.starts_with(&format!("{}: http status {status}", bench.hostile_url())),
            "{name}: {error}"
        );
        // The neighbour keeps its own interval.
        let healthy = bench.poll("healthy").await;
        let wait = (healthy.next_poll - now()).to_std().unwrap();
        assert!(
            wait <= Duration::from_secs(33 * 60),
            "{name}: healthy waits {wait:?}"
        );
    }
}

#[tokio::test]
async fn private_addresses_and_ip_literal_tricks_are_refused_before_connecting() {
    // A canary listening on loopback: any request reaching it is an SSRF.
    let canary = FixtureServer::start(Routes::new().fixed("/feed", Reply::ok(GOOD))).await;
    let p = canary.port();
    let bench = Bench::start("", |_| Reply::ok(GOOD), Routes::new()).await;
    let cases: Vec<(String, &str, &str)> = vec![
        (
            format!("http://127.0.0.1:{p}/feed"),
            "127.0.0.1",
            "loopback",
        ),
        (
            format!("http://2130706433:{p}/feed"),
            "127.0.0.1",
            "loopback",
        ),
        (
            format!("http://0177.0.0.1:{p}/feed"),
            "127.0.0.1",
            "loopback",
        ),
        (
            format!("http://0x7f000001:{p}/feed"),
            "127.0.0.1",
            "loopback",
        ),
        (format!("http://0x7f.1:{p}/feed"), "127.0.0.1", "loopback"),
        (format!("http://127.1:{p}/feed"), "127.0.0.1", "loopback"),
        (format!("http://[::1]:{p}/feed"), "::1", "loopback"),
        (
            format!("http://[::ffff:127.0.0.1]:{p}/feed"),
            "::ffff:127.0.0.1",
            "loopback",
        ),
        (
            format!("http://[::ffff:7f00:1]:{p}/feed"),
            "::ffff:127.0.0.1",
            "loopback",
        ),
        (
            format!("http://[64:ff9b::7f00:1]:{p}/feed"),
            "64:ff9b::7f00:1",
            "loopback",
        ),
        (
            format!("http://[2002:7f00:1::]:{p}/feed"),
            "2002:7f00:1::",
            "loopback",
        ),
        (
            format!("http://[::127.0.0.1]:{p}/feed"),
            "::7f00:1",
            "reserved",
        ),
        (format!("http://0.0.0.0:{p}/feed"), "0.0.0.0", "unspecified"),
        (format!("http://0:{p}/feed"), "0.0.0.0", "unspecified"),
        (
            "http://169.254.169.254/latest/meta-data/".into(),
            "169.254.169.254",
            "cloud metadata",
        ),
        (
            "http://[fd00:ec2::254]/latest/meta-data/".into(),
            "fd00:ec2::254",
            "cloud metadata",
        ),
        (
            "http://0xa9fea9fe/latest/meta-data/".into(),
            "169.254.169.254",
            "cloud metadata",
        ),
        ("http://10.0.0.1/feed".into(), "10.0.0.1", "private"),
        ("http://172.16.0.1/feed".into(), "172.16.0.1", "private"),
        ("http://192.168.1.1/feed".into(), "192.168.1.1", "private"),
        ("http://[fd12::1]/feed".into(), "fd12::1", "private"),
        (
            "http://100.64.0.1/feed".into(),
            "100.64.0.1",
            "carrier-grade nat",
        ),
        (
            "http://169.254.1.1/feed".into(),
            "169.254.1.1",
            "link-local",
        ),
    ];
    for (trick, addr, kind) in cases {
        let mut config = (*bench.r.config).clone();
        config.fetch.allow_private = false;
        let source = config
            .sources
            .iter_mut()
            .find(|s| s.id == "hostile")
            .unwrap();
        source.location = Location::Http(trick.parse().unwrap());
        let source = source.clone();
        let r = Refresher::new(
            Arc::new(config.clone()),
            Fetcher::new(&config.fetch).unwrap(),
            Arc::clone(&bench.r.store),
        );
        let report = r.refresh(&source, now()).await;
        // Named by the URL as the url crate normalised it: the address actually meant.
        let normalised = url::Url::parse(&trick).unwrap().to_string();
        let error = format!("{normalised}: address {addr} refused ({kind})");
        assert_eq!(
            report.outcome,
            Outcome::Failed {
                error: error.clone()
            },
            "{trick}"
        );
        assert_eq!(bench.last_error(), Some(error), "{trick}");
    }
    // A name that resolves to loopback is refused by the resolver, with its own message.
    let mut config = (*bench.r.config).clone();
    config.fetch.allow_private = false;
    let source = config
        .sources
        .iter_mut()
        .find(|s| s.id == "hostile")
        .unwrap();
    source.location = Location::Http(format!("http://localhost:{p}/feed").parse().unwrap());
    let source = source.clone();
    let r = Refresher::new(
        Arc::new(config.clone()),
        Fetcher::new(&config.fetch).unwrap(),
        Arc::clone(&bench.r.store),
    );
    let report = r.refresh(&source, now()).await;
    let Outcome::Failed { error } = report.outcome else {
        panic!("localhost: {report:?}");
    };
    assert!(
        error.starts_with(&format!("http://localhost:{p}/feed: address ")),
        "{error}"
    );
    assert!(error.ends_with("refused (loopback)"), "{error}");
    assert!(canary.requests().is_empty(), "{:?}", canary.requests());
    bench.invariants();
}

// ------------------------------------------------------------------ size and identity

#[tokio::test]
async fn an_8_mib_title_is_truncated_stored_and_published() {
    let huge = "Mot ".repeat(2 << 20);
    let doc = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{huge}</title>\
         <link>https://partenaire.example.org/</link><item><title>{huge}</title><guid>x</guid>\
         <link>https://partenaire.example.org/x</link><description>{huge}</description></item></channel></rss>"
    );
    assert!(doc.len() > 3 * (8 << 20));
    let bench = Bench::start(
        "max_body = \"32MiB\"",
        move |_| Reply::ok(doc.as_str()),
        Routes::new(),
    )
    .await;
    let report = bench.hostile().await;
    assert!(
        matches!(report.outcome, Outcome::Stored { new: 1, .. }),
        "{report:?}"
    );
    let item = bench.item("x");
    assert!(
        item.title.chars().count() <= relais::normalise::MAX_TITLE,
        "{}",
        item.title.len()
    );
    assert!(item.title.starts_with("Mot Mot "), "{}", item.title);
    assert!(item.summary.chars().count() <= relais::normalise::MAX_SUMMARY);
    // The channel title is what the pages and OPML show for the source: bounded too.
    let state = bench.r.store.source_state("hostile").unwrap().unwrap();
    let feed_title = state.feed_title.unwrap_or_default();
    assert!(
        feed_title.chars().count() <= relais::normalise::MAX_TITLE,
        "feed title: {} bytes",
        feed_title.len()
    );
}

/// 100,000 entries (4.8 MB, under the body cap): the first [`MAX_ENTRIES`] are read,
/// the rest dropped with a note, so one document can neither hold the processing slot
/// for hours (planning stories compares each entry of a batch with the others) nor fill
/// the store.
#[tokio::test]
async fn a_hundred_thousand_items_are_bounded() {
    let items: String = (0..100_000)
        .map(|n| {
            format!("<item><title>n{n}</title><guid>g{n}</guid><pubDate>Mon, 02 Mar 2020 09:00:00 GMT</pubDate></item>")
        })
        .collect();
    let doc = rss_item(&items);
    let parsed = relais::parse::parse(doc.as_bytes(), None).unwrap();
    assert_eq!(parsed.entries.len(), MAX_ENTRIES);
    assert!(parsed
        .repairs
        .contains(&format!("kept the first {MAX_ENTRIES} of 100000 entries")));
    let bench = Bench::start("", move |_| Reply::ok(doc.as_str()), Routes::new()).await;
    let report = bench.hostile().await;
    assert_eq!(
        report.outcome,
        Outcome::Stored {
            new: MAX_ENTRIES,
            updated: 0,
            unchanged: 0
        }
    );
    assert_eq!(
        bench.r.store.count_items(Some("hostile")).unwrap(),
        2 + MAX_ENTRIES as u64
    );
    assert!(bench.r.store.get_item("hostile", "g999").unwrap().is_some());
    assert!(bench
        .r
        .store
        .get_item("hostile", "g1000")
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn duplicate_and_missing_guids_give_stable_ids() {
    let polls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&polls);
    let bench = Bench::start(
        "",
        move |_| {
            // Each poll differs (so it is processed again), the items do not.
            let n = counter.fetch_add(1, Ordering::SeqCst);
            Reply::ok(rss_item(&format!(
                "<lastBuildDate>poll {n}</lastBuildDate>\
                 <item><title>Un</title><guid>meme</guid><link>https://partenaire.example.org/un</link></item>\
                 <item><title>Deux</title><guid>meme</guid><link>https://partenaire.example.org/deux</link></item>\
                 <item><title>Trois</title><link>https://partenaire.example.org/trois</link></item>\
                 <item><title>Trois encore</title><link>https://partenaire.example.org/trois</link></item>\
                 <item><title>Quatre</title><description>Sans lien ni guid.</description></item>"
            )))
        },
        Routes::new(),
    )
    .await;
    let first = bench.hostile().await;
    assert_eq!(
        first.outcome,
        Outcome::Stored {
            new: 4,
            updated: 0,
            unchanged: 0
        }
    );
    // A guid shared by two entries identifies neither: both fall back to their link;
    // no guid: the link; the same link twice: the first entry; neither: a content hash.
    let mut ids: Vec<String> = bench
        .items("hostile")
        .into_iter()
        .map(|i| i.id)
        .filter(|id| !id.starts_with("kept-"))
        .collect();
    ids.sort();
    let hashed = ids.remove(0);
    assert!(hashed.starts_with("h:") && hashed.len() == 34, "{hashed}");
    assert_eq!(
        ids,
        [
            "https://partenaire.example.org/deux",
            "https://partenaire.example.org/trois",
            "https://partenaire.example.org/un",
        ]
    );
    assert_eq!(
        bench.item("https://partenaire.example.org/trois").title,
        "Trois"
    );
    // The same items at the next polls: nothing new, nothing updated.
    for _ in 0..2 {
        let again = bench.hostile().await;
        assert_eq!(
            again.outcome,
            Outcome::Stored {
                new: 0,
                updated: 0,
                unchanged: 4
            }
        );
    }
    assert_eq!(polls.load(Ordering::SeqCst), 3);
}

/// A guid that changes at every poll (a session id, a timestamp) with the article
/// itself unchanged: each poll stores one more item — the store knows items by id — but
/// they all join one story, so every published feed shows the article once. The extra
/// items go with the retention like any other (see ROBUSTNESS.md).
#[tokio::test]
async fn a_guid_that_changes_at_every_poll_is_published_once() {
    let polls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&polls);
    let bench = Bench::start(
        "",
        move |_| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            Reply::ok(rss_item(&format!(
                "<item><title>Assemblée générale du réseau des partenaires à Dakar</title>\
                 <guid isPermaLink=\"false\">session-{n}</guid>\
                 <link>https://partenaire.example.org/ag-dakar</link>\
                 <pubDate>Mon, 23 Nov 2026 09:00:00 +0100</pubDate>\
                 <description>Les membres votent le budget le 4 décembre.</description></item>"
            )))
        },
        Routes::new(),
    )
    .await;
    for poll in 1..=5 {
        let report = bench.hostile().await;
        assert_eq!(
            report.outcome,
            Outcome::Stored {
                new: 1,
                updated: 0,
                unchanged: 0
            },
            "poll {poll}"
        );
    }
    assert_eq!(bench.r.store.count_items(Some("hostile")).unwrap(), 2 + 5);
    for format in FeedFormat::ALL {
        let doc = Doc::Feed {
            id: "tout".into(),
            format,
            page: 1,
        };
        let rendered = bench.publisher.document(&doc).unwrap().unwrap();
        let body = String::from_utf8_lossy(&rendered.body);
        assert_eq!(
            body.matches("Assemblée générale du réseau des partenaires à Dakar")
                .count(),
            1,
            "{doc:?}"
        );
    }
}

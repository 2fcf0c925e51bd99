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
use relais::publish::{Doc, Publisher};
use relais::refresh::{Outcome, Refresher, Report};
use relais::render::FeedFormat;
use relais::store::{ItemQuery, Store};
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

    /// Poll the hostile source and expect it to fail with exactly `error`, recorded on the
    /// source for operators.
    async fn fails_with(&self, error: &str) {
        let report = self.hostile().await;
        assert_eq!(
            report.outcome,
            Outcome::Failed {
                error: error.to_string()
            }
        );
        assert_eq!(self.last_error().as_deref(), Some(error));
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
            store
                .source_state("healthy")
                .unwrap()
                .unwrap()
                .last_error,
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
            assert!(!bad_scheme(a.value()), "{what}: {}={:?}", a.name(), a.value());
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
            assert_eq!(dangers(text), Vec::<String>::new(), "{what}: <{name}>{text}");
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
                Reply::ok(rss_item("<item><title>a</title><description><![CDATA[<p>jamais fermé"))
            }),
            Routes::new(),
            "UNCLOSED",
        ),
        (
            "100,000 nested elements",
            "",
            Arc::new(|_: &Request| {
                Reply::ok(rss_item(&format!("{}{}", "<x>".repeat(100_000), "</x>".repeat(100_000))))
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
        if expected == "UNCLOSED" {
            let prefix = format!("{}: malformed feed: ", bench.hostile_url());
            assert!(error.starts_with(&prefix), "{name}: {error}");
        } else {
            assert_eq!(error, &expected, "{name}");
        }
        assert_eq!(bench.last_error().as_ref(), Some(error), "{name}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name}: took {:?}",
            started.elapsed()
        );
    }
}

//! The HTTP face of relais, served on port 0 over a fixture store: feeds and pages with
//! their media types, validators, conditional requests (a table), compression, HEAD,
//! 404s, security headers, paging, invalidation when the store changes, a hostile store
//! still giving well-formed feeds, and `relais export` writing the bytes served.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use relais::config::Config;
use relais::model::{Item, SourceState};
use relais::server::{self, AppState};
use relais::store::Store;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
}

fn item(source: &str, id: &str, title: &str, published: DateTime<Utc>) -> Item {
    Item {
        id: id.into(),
        source: Some(source.into()),
        url: Some(format!("https://{source}.example.org/{id}")),
        canonical_url: Some(format!("https://{source}.example.org/{id}")),
        title: title.into(),
        summary: format!("Résumé de « {title} »."),
        content_html: Some(format!("<p>Contenu de {title}.</p>")),
        published,
        updated: None,
        authors: vec!["Équipe communication".into()],
        categories: vec!["Coopération".into()],
        lang: Some("fr".into()),
        enclosures: vec![],
        published_guessed: false,
        content_hash: format!("h-{id}-{title}"),
    }
}

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
base_url = "https://veille.example.org"
[store]
path = "store"
[[source]]
id = "ciedel"
title = "CIEDEL"
url = "https://ciedel.example.org/feed.xml"
site = "https://ciedel.example.org/"
tags = ["cooperation"]
[[source]]
id = "cuf"
title = "Cités Unies France"
url = "https://cuf.example.org/feed.xml"
[[channel]]
id = "cooperation"
title = "Coopération décentralisée"
description = "Les partenariats des collectivités."
tags = ["cooperation"]
[[channel]]
id = "tout"
title = "Tout le réseau"
max_items = 2
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    base: String,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Fixture {
    async fn start(items: Vec<Item>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("relais.toml");
        std::fs::write(&config_path, CONFIG).unwrap();
        let config = Config::load(&config_path).unwrap();
        let store = Arc::new(Store::open(&config.store.path).unwrap());
        poll(&store, items);
        let (stop, base) = serve(config, Arc::clone(&store)).await;
        Fixture {
            _dir: dir,
            store,
            base,
            client: reqwest::Client::builder()
                .no_gzip()
                .no_brotli()
                .no_deflate()
                .build()
                .unwrap(),
            stop: Some(stop),
        }
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        self.client
            .get(format!("{}{path}", self.base))
            .headers(map)
            .send()
            .await
            .unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn poll(store: &Store, items: Vec<Item>) {
    let mut by_source: std::collections::BTreeMap<String, Vec<Item>> = Default::default();
    for i in items {
        by_source
            .entry(i.source.clone().unwrap())
            .or_default()
            .push(i);
    }
    for (source, items) in by_source {
        let state = SourceState {
            id: source,
            last_success: Some(at(25, 12)),
            ..SourceState::default()
        };
        store.apply_poll(&state, items, at(25, 12)).unwrap();
    }
}

async fn serve(config: Config, store: Arc<Store>) -> (tokio::sync::oneshot::Sender<()>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(Arc::new(config), store);
    tokio::spawn(server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    (stop, base)
}

fn fixture_items() -> Vec<Item> {
    vec![
        item("ciedel", "a", "Rencontre régionale à Lyon", at(20, 9)),
        item("ciedel", "b", "Atelier « coopération » à Dakar", at(22, 9)),
        item("cuf", "c", "Appel à projets 2027", at(23, 9)),
        item("cuf", "d", "Assemblée générale", at(24, 9)),
        item("cuf", "e", "Offre de stage", at(18, 9)),
    ]
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn assert_well_formed_feed(body: &str, what: &str) {
    roxmltree::Document::parse_with_options(
        body,
        roxmltree::ParsingOptions {
            allow_dtd: false,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{what}: not well-formed XML: {e}"));
    feed_rs::parser::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{what}: feed-rs: {e}"));
}

#[tokio::test]
async fn feeds_have_types_validators_and_parse() {
    let f = Fixture::start(fixture_items()).await;
    for (path, media) in [
        (
            "/feeds/cooperation.rss",
            "application/rss+xml; charset=utf-8",
        ),
        (
            "/feeds/cooperation.atom",
            "application/atom+xml; charset=utf-8",
        ),
        (
            "/feeds/cooperation.json",
            "application/feed+json; charset=utf-8",
        ),
    ] {
        let r = f.get(path, &[]).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&r, "content-type"), media, "{path}");
        assert!(header(&r, "etag").starts_with('"'), "{path}");
        assert_eq!(
            header(&r, "last-modified"),
            "Wed, 25 Nov 2026 12:00:00 GMT",
            "{path}"
        );
        assert_eq!(header(&r, "cache-control"), "public, max-age=300");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        let body = r.text().await.unwrap();
        if path.ends_with(".json") {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["items"].as_array().unwrap().len(), 2);
        } else {
            assert_well_formed_feed(&body, path);
            assert!(body.contains("Atelier « coopération » à Dakar"), "{path}");
            assert!(
                body.contains("https://veille.example.org/feeds/cooperation."),
                "self link"
            );
        }
    }
    // A browser gets RSS and Atom as application/xml, so it applies the stylesheet.
    let r = f
        .get(
            "/feeds/cooperation.atom",
            &[("accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
        )
        .await;
    assert_eq!(header(&r, "content-type"), "application/xml; charset=utf-8");
    assert_eq!(header(&r, "vary"), "Accept-Encoding, Accept");
    assert!(r.text().await.unwrap().contains("<?xml-stylesheet"));
    let r = f.get("/assets/feed.xsl", &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("xsl:stylesheet"));
}

#[tokio::test]
async fn conditional_requests_table() {
    let f = Fixture::start(fixture_items()).await;
    let r = f.get("/feeds/tout.atom", &[]).await;
    let etag = header(&r, "etag").to_string();
    let last_modified = header(&r, "last-modified").to_string();
    let bare = etag.trim_matches('"').to_string();
    type Case<'a> = (Vec<(&'a str, String)>, StatusCode, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![("if-none-match", etag.clone())],
            StatusCode::NOT_MODIFIED,
            "strong",
        ),
        (
            vec![("if-none-match", format!("W/{etag}"))],
            StatusCode::NOT_MODIFIED,
            "weak",
        ),
        (
            vec![("if-none-match", format!("\"x\", \"y\", {etag}"))],
            StatusCode::NOT_MODIFIED,
            "list",
        ),
        (
            vec![("if-none-match", "*".into())],
            StatusCode::NOT_MODIFIED,
            "star",
        ),
        (
            vec![("if-none-match", format!("\"{bare}-gz\""))],
            StatusCode::NOT_MODIFIED,
            "gzip tag",
        ),
        (
            vec![("if-none-match", "\"stale\"".into())],
            StatusCode::OK,
            "stale tag",
        ),
        (
            vec![("if-modified-since", last_modified.clone())],
            StatusCode::NOT_MODIFIED,
            "same date",
        ),
        (
            vec![("if-modified-since", "Mon, 23 Nov 2026 12:00:00 GMT".into())],
            StatusCode::OK,
            "older date",
        ),
        (
            vec![
                ("if-none-match", "\"stale\"".into()),
                ("if-modified-since", last_modified.clone()),
            ],
            StatusCode::OK,
            "If-None-Match decides",
        ),
        (
            vec![("if-modified-since", "not a date".into())],
            StatusCode::OK,
            "garbage date",
        ),
    ];
    for (headers, want, what) in cases {
        let hs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = f.get("/feeds/tout.atom", &hs).await;
        assert_eq!(r.status(), want, "{what}");
        if want == StatusCode::NOT_MODIFIED {
            assert!(
                !header(&r, "etag").is_empty(),
                "{what}: 304 carries the ETag"
            );
            assert_eq!(header(&r, "cache-control"), "public, max-age=300");
            assert!(r.bytes().await.unwrap().is_empty(), "{what}: no body");
        }
    }
}

#[tokio::test]
async fn compression_head_and_not_found() {
    use std::io::Read;
    let f = Fixture::start(fixture_items()).await;
    let plain = f.get("/feeds/tout.rss", &[]).await.bytes().await.unwrap();

    let r = f
        .get("/feeds/tout.rss", &[("accept-encoding", "gzip")])
        .await;
    assert_eq!(header(&r, "content-encoding"), "gzip");
    assert!(header(&r, "etag").ends_with("-gz\""));
    let gz = r.bytes().await.unwrap();
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain);

    let r = f
        .get("/feeds/tout.rss", &[("accept-encoding", "gzip, br")])
        .await;
    assert_eq!(header(&r, "content-encoding"), "br");
    let br = r.bytes().await.unwrap();
    let mut out = Vec::new();
    brotli::BrotliDecompress(&mut &br[..], &mut out).unwrap();
    assert_eq!(out, plain);

    let r = f
        .client
        .head(format!("{}/feeds/tout.rss", f.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "content-type"),
        "application/rss+xml; charset=utf-8"
    );
    assert_eq!(header(&r, "content-length"), plain.len().to_string());
    assert!(r.bytes().await.unwrap().is_empty());

    for path in [
        "/feeds/nope.rss",
        "/channels/nope",
        "/feeds/tout.xml",
        "/nope",
        "/feeds/tout.rss?page=abc",
        "/feeds/tout.rss?page=0",
        "/feeds/tout.rss?page=9",
    ] {
        assert_eq!(
            f.get(path, &[]).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(f.get("/healthz", &[]).await.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn pages_are_safe_html() {
    let f = Fixture::start(fixture_items()).await;
    for path in ["/", "/channels/cooperation"] {
        let r = f.get(path, &[]).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
        let csp = header(&r, "content-security-policy");
        assert!(
            csp.contains("default-src 'none'") && !csp.contains("script-src"),
            "{csp}"
        );
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        assert_eq!(
            header(&r, "referrer-policy"),
            "strict-origin-when-cross-origin"
        );
        let body = r.text().await.unwrap();
        assert!(!body.contains("<script"), "{path}");
        assert!(body.contains("<html lang=\"fr\""), "{path}");
        assert!(
            body.contains("type=\"application/atom+xml\"") && body.contains("rel=\"alternate\""),
            "{path}: autodiscovery"
        );
    }
    let page = f
        .get("/channels/cooperation", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Atelier « coopération » à Dakar")
            || page.contains("Atelier «\u{a0}coopération\u{a0}» à Dakar")
    );
    assert!(page.contains("dimanche 22 novembre 2026"), "French date");
    let css = f.get("/assets/relais.css", &[]).await;
    assert_eq!(header(&css, "content-type"), "text/css; charset=utf-8");
}

#[tokio::test]
async fn paging_walks_back_through_the_channel() {
    let f = Fixture::start(fixture_items()).await;
    let ids = |body: &str| -> Vec<String> {
        let feed = feed_rs::parser::parse(body.as_bytes()).unwrap();
        feed.entries
            .iter()
            .map(|e| e.title.clone().unwrap().content)
            .collect()
    };
    let p1 = f.get("/feeds/tout.atom", &[]).await.text().await.unwrap();
    assert_eq!(ids(&p1), ["Assemblée générale", "Appel à projets 2027"]);
    assert!(
        p1.contains("href=\"https://veille.example.org/feeds/tout.atom?page=2\" rel=\"next\""),
        "{p1}"
    );
    let p2 = f
        .get("/feeds/tout.atom?page=2", &[])
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        ids(&p2),
        [
            "Atelier « coopération » à Dakar",
            "Rencontre régionale à Lyon"
        ]
    );
    assert!(p2.contains("rel=\"previous\""));
    let p3 = f
        .get("/feeds/tout.atom?page=3", &[])
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(ids(&p3), ["Offre de stage"]);
    assert!(!p3.contains("rel=\"next\""));
    let html2 = f
        .get("/channels/tout?page=2", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(html2.contains("/channels/tout?page=3") && html2.contains("/channels/tout\""));
}

#[tokio::test]
async fn a_store_change_invalidates_what_was_rendered() {
    let f = Fixture::start(fixture_items()).await;
    let r = f.get("/feeds/cooperation.atom", &[]).await;
    let etag = header(&r, "etag").to_string();
    // Same request again: same bytes, same tag (served from the cache).
    let again = f.get("/feeds/cooperation.atom", &[]).await;
    assert_eq!(header(&again, "etag"), etag);
    poll(
        &f.store,
        vec![item("ciedel", "z", "Nouvelle formation", at(25, 10))],
    );
    let r = f
        .get("/feeds/cooperation.atom", &[("if-none-match", &etag)])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_ne!(header(&r, "etag"), etag);
    assert!(r.text().await.unwrap().contains("Nouvelle formation"));
}

#[tokio::test]
async fn a_hostile_store_still_gives_valid_feeds() {
    let mut evil = item(
        "ciedel",
        "evil",
        "Titre\u{0}avec NUL\u{b} et \u{fffe}",
        at(24, 10),
    );
    evil.url = Some("javascript:alert(1)".into());
    evil.summary = "Fin ]]> de section <script>alert(1)</script>".into();
    evil.content_html = Some(
        "<p onclick=\"x()\">ok</p><script>alert(1)</script><a href=\"javascript:alert(1)\">x</a>]]>"
            .into(),
    );
    evil.categories = vec!["\u{0}".into(), "Coopération".into()];
    let f = Fixture::start(vec![evil]).await;
    for path in ["/feeds/cooperation.rss", "/feeds/cooperation.atom"] {
        let body = f.get(path, &[]).await.text().await.unwrap();
        assert_well_formed_feed(&body, path);
        assert!(!body.contains('\u{0}') && !body.contains('\u{b}') && !body.contains('\u{fffe}'));
        assert!(!body.contains("javascript:"), "{path}: {body}");
        assert!(!body.contains("onclick"), "{path}");
        // The HTML body readers display carries no script; the plain-text summary may
        // say "<script>" as escaped text, which is harmless.
        let feed = feed_rs::parser::parse(body.as_bytes()).unwrap();
        let entry = &feed.entries[0];
        let html = entry
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .or_else(|| entry.summary.as_ref().map(|s| s.content.clone()))
            .unwrap();
        assert!(html.contains("<p>ok</p>"), "{path}: {html}");
        assert!(!html.contains("<script"), "{path}: {html}");
    }
    let json = f
        .get("/feeds/cooperation.json", &[])
        .await
        .text()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(!json.contains("javascript:"));
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    let html = v["items"][0]["content_html"].as_str().unwrap();
    assert!(
        html.contains("<p>ok</p>") && !html.contains("<script"),
        "{html}"
    );
    let page = f
        .get("/channels/cooperation", &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script") && !page.contains("javascript:"));
}

#[tokio::test]
async fn export_writes_the_bytes_served() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("relais.toml");
    std::fs::write(&config_path, CONFIG).unwrap();
    let config = Config::load(&config_path).unwrap();
    {
        let store = Store::open(&config.store.path).unwrap();
        poll(&store, fixture_items());
    }
    let out = dir.path().join("site");
    let status = tokio::task::spawn_blocking({
        let config_path = config_path.clone();
        let out = out.clone();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_relais"))
                .arg("--config")
                .arg(&config_path)
                .arg("export")
                .arg("--out")
                .arg(&out)
                .status()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(status.success());
    let store = Arc::new(Store::open(&config.store.path).unwrap());
    let (_stop, base) = serve(config, store).await;
    let client = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .unwrap();
    let files = [
        ("index.html", "/"),
        ("channels/cooperation/index.html", "/channels/cooperation"),
        ("feeds/cooperation.rss", "/feeds/cooperation.rss"),
        ("feeds/cooperation.atom", "/feeds/cooperation.atom"),
        ("feeds/tout.json", "/feeds/tout.json"),
        ("sources.opml", "/sources.opml"),
        ("channels.opml", "/channels.opml"),
        ("assets/relais.css", "/assets/relais.css"),
        ("assets/feed.xsl", "/assets/feed.xsl"),
    ];
    for (file, path) in files {
        let written = std::fs::read(out.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let served = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(written, served.to_vec(), "{file} differs from {path}");
    }
    assert!(!Path::new(&out.join("feeds/cooperation.xml")).exists());
}

/// Every document published for the bundled demo network is well-formed (a strict XML
/// parser for RSS, Atom, OPML and the XSL; JSON for JSON Feed), re-parses with feed-rs,
/// and carries only absolute http(s) links in feeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_output_is_valid() {
    use relais::fetch::Fetcher;
    use relais::publish::{Doc, Publisher};
    use relais::refresh::{Outcome, Refresher};

    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo.join("config/demo.toml"))
        .unwrap()
        .replace(
            "../data/demo",
            &dir.path().join("store").display().to_string(),
        );
    let path = repo.join("config/demo-test.toml.tmp");
    // Parse as if the file were in config/, so the demo's relative feed paths resolve.
    let config = Arc::new(Config::parse(&text, &path).unwrap());
    let store = Arc::new(Store::open(&config.store.path).unwrap());
    let refresher = Refresher::new(
        Arc::clone(&config),
        Fetcher::new(&config.fetch).unwrap(),
        Arc::clone(&store),
    );
    for source in &config.sources {
        let report = refresher.refresh(source, Utc::now()).await;
        assert!(
            matches!(report.outcome, Outcome::Stored { new, .. } if new > 0),
            "{report:?}"
        );
    }
    let publisher = Publisher::new(Arc::clone(&config), store);
    let docs = publisher.all_documents();
    assert_eq!(
        docs.len(),
        5 + 4 * config.channels.len() + 2 * config.digests.len()
    );
    for doc in docs {
        let rendered = publisher.document(&doc).unwrap().unwrap();
        let body = std::str::from_utf8(&rendered.body).unwrap();
        let path = doc.path();
        match doc {
            Doc::Feed {
                format: relais::render::FeedFormat::Json,
                ..
            } => {
                let v: serde_json::Value = serde_json::from_str(body).unwrap();
                assert!(!v["items"].as_array().unwrap().is_empty(), "{path}");
                feed_rs::parser::parse(body.as_bytes()).unwrap();
            }
            Doc::Feed { .. } => {
                assert_well_formed_feed(body, &path);
                let feed = feed_rs::parser::parse(body.as_bytes()).unwrap();
                assert!(!feed.entries.is_empty(), "{path}");
                for entry in &feed.entries {
                    for link in &entry.links {
                        assert!(link.href.starts_with("http"), "{path}: {}", link.href);
                    }
                }
            }
            Doc::SourcesOpml | Doc::ChannelsOpml | Doc::FeedXsl => {
                roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("{path}: {e}"));
            }
            Doc::DigestFeed { .. } => {
                roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("{path}: {e}"));
                feed_rs::parser::parse(body.as_bytes()).unwrap();
            }
            Doc::Index
            | Doc::Channel { .. }
            | Doc::DigestArchive { .. }
            | Doc::DigestIssue { .. } => {
                assert!(body.starts_with("<!DOCTYPE html>"), "{path}");
                assert!(!body.contains("<script"), "{path}");
            }
            Doc::Stylesheet => assert!(body.contains('{')),
        }
    }
}

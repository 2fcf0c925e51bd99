//! Source health where operators look for it: `/metrics` scraped from a real daemon and
//! read with a strict Prometheus text parser (fetches by outcome and status, sources by
//! status, a 304 counted after a conditional request), and `relais sources` showing a
//! silent source, as text and JSON.

mod support;

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use relais::config::Config;
use relais::model::SourceState;
use relais::store::Store;
use support::daemon::Daemon;
use support::prom;
use support::{FixtureServer, Reply, Routes};

const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Partenaire</title><link>https://partenaire.example.org/</link>
<item><title>Rencontre régionale à Lyon</title><link>https://partenaire.example.org/a</link>
<guid isPermaLink="false">a-1</guid><pubDate>Mon, 23 Nov 2026 09:00:00 +0100</pubDate>
<description>Une journée d’échanges.</description></item>
<item><title>Appel à projets 2027</title><link>https://partenaire.example.org/b</link>
<guid isPermaLink="false">b-2</guid><pubDate>Tue, 24 Nov 2026 09:00:00 +0100</pubDate>
<description>Dépôt des dossiers jusqu'au 15 janvier.</description></item>
</channel></rss>"#;

const EMPTY_RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Calme</title><link>https://calme.example.org/</link>
</channel></rss>"#;

/// A state saying the source brought its last new item 100 days ago.
fn quiet_state(id: &str) -> SourceState {
    let now = Utc::now();
    SourceState {
        id: id.into(),
        last_success: Some(now - chrono::Duration::days(1)),
        last_poll: Some(now - chrono::Duration::days(1)),
        last_new_item: Some(now - chrono::Duration::days(100)),
        watched_since: Some(now - chrono::Duration::days(300)),
        ..SourceState::default()
    }
}

fn write_config(dir: &Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("relais.toml");
    std::fs::write(&path, body).unwrap();
    path
}

use support::http_get as get;

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

async fn scrape(addr: std::net::SocketAddr) -> prom::Scrape {
    let (status, headers, body) = get(addr, "/metrics", "").await;
    assert!(status.contains("200"), "{status}");
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    prom::parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_fetches_documents_and_sources_by_status() {
    let fixture = FixtureServer::start(
        Routes::new()
            .fixed(
                "/feed.xml",
                Reply::ok(RSS).header("Content-Type", "application/rss+xml"),
            )
            .fixed(
                "/quiet.xml",
                Reply::ok(EMPTY_RSS).header("Content-Type", "application/rss+xml"),
            )
            .fixed("/broken", Reply::status(500).body("Internal Server Error"))
            .fixed("/gone", Reply::status(410)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &format!(
            r#"
[server]
listen = "127.0.0.1:0"
[store]
path = "store"
[fetch]
allow_private = true
interval = "1h"
[[source]]
id = "good"
url = "{good}"
[[source]]
id = "quiet"
url = "{quiet}"
[[source]]
id = "broken"
url = "{broken}"
[[source]]
id = "gone"
url = "{gone}"
[[source]]
id = "resting"
url = "{good}"
paused = true
[[channel]]
id = "tout"
title = "Tout"
"#,
            good = fixture.url("/feed.xml"),
            quiet = fixture.url("/quiet.xml"),
            broken = fixture.url("/broken"),
            gone = fixture.url("/gone"),
        ),
    );
    let config = Config::load(&path).unwrap();
    let store_path = config.store.path.clone();
    {
        let store = Store::open(&store_path).unwrap();
        store.save_source_state(&quiet_state("quiet")).unwrap();
    }

    let mut daemon = Daemon::start(&config).await;
    let addr = daemon.addr;
    // Each of the four polled sources once (the next polls are an hour or more away).
    daemon.polls(4, Duration::from_secs(30), |_| true).await;

    let m = scrape(addr).await;
    let fetches = |outcome, status| {
        m.value(
            "relais_fetches_total",
            &[("outcome", outcome), ("status", status)],
        )
    };
    assert_eq!(fetches("ok", "200"), Some(2.0), "good and quiet");
    assert_eq!(fetches("failed", "500"), Some(1.0));
    assert_eq!(fetches("retired", "410"), Some(1.0));
    assert_eq!(m.sum("relais_fetches_total"), 4.0);
    assert_eq!(
        m.types
            .get("relais_fetch_duration_seconds")
            .map(String::as_str),
        Some("histogram")
    );
    assert_eq!(
        m.value("relais_fetch_duration_seconds_count", &[]),
        Some(4.0)
    );
    assert_eq!(m.value("relais_items_new_total", &[]), Some(2.0));
    assert_eq!(m.value("relais_items_updated_total", &[]), Some(0.0));
    assert_eq!(m.value("relais_stories_merged_total", &[]), Some(0.0));
    for (status, n) in [
        ("ok", 1.0),
        ("failing", 1.0),
        ("silent", 1.0),
        ("retired", 1.0),
        ("paused", 1.0),
    ] {
        assert_eq!(
            m.value("relais_sources", &[("status", status)]),
            Some(n),
            "{status}"
        );
    }
    assert!(m
        .value("relais_store_size_bytes", &[])
        .is_some_and(|b| b > 0.0));
    assert_eq!(
        m.value(
            "relais_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    let started = m.value("process_start_time_seconds", &[]).unwrap();
    assert!(
        (started - Utc::now().timestamp() as f64).abs() < 600.0,
        "{started}"
    );
    assert_eq!(
        m.value("relais_document_requests_total", &[("kind", "feed")]),
        Some(0.0)
    );
    assert_eq!(
        m.value("relais_alert_sends_total", &[("outcome", "sent")]),
        Some(0.0)
    );

    // A reader fetches the feed, then asks again with its ETag: a 304, counted.
    let (status, headers, _) = get(addr, "/feeds/tout.rss", "").await;
    assert!(status.contains("200"), "{status}");
    let etag = header(&headers, "etag").unwrap().to_string();
    let (status, _, _) = get(
        addr,
        "/feeds/tout.rss",
        &format!("If-None-Match: {etag}\r\n"),
    )
    .await;
    assert!(status.contains("304"), "{status}");
    let (status, _, _) = get(addr, "/", "").await;
    assert!(status.contains("200"), "{status}");
    let m = scrape(addr).await;
    assert_eq!(
        m.value("relais_document_requests_total", &[("kind", "feed")]),
        Some(2.0)
    );
    assert_eq!(
        m.value("relais_document_not_modified_total", &[("kind", "feed")]),
        Some(1.0)
    );
    assert_eq!(
        m.value("relais_document_requests_total", &[("kind", "page")]),
        Some(1.0)
    );
    assert_eq!(
        m.value("relais_document_not_modified_total", &[("kind", "page")]),
        Some(0.0)
    );

    daemon.stop().await;
    // A poll that stored items also recorded when the next one is (an hour, ±10 %).
    let store = Store::open(&store_path).unwrap();
    let good = store.source_state("good").unwrap().unwrap();
    let next = good.next_poll.expect("next poll recorded");
    assert!(next > Utc::now() + chrono::Duration::minutes(50), "{next}");
}

#[test]
fn sources_shows_a_silent_source_in_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "[store]\npath = \"store\"\n[health]\nsilent_after = \"60d\"\n\
         [[source]]\nid = \"quiet\"\ntitle = \"Partenaire discret\"\nurl = \"https://calme.example.org/feed\"\n\
         [[source]]\nid = \"fresh\"\nurl = \"https://frais.example.org/feed\"\n",
    );
    let config = Config::load(&path).unwrap();
    {
        let store = Store::open(&config.store.path).unwrap();
        store.save_source_state(&quiet_state("quiet")).unwrap();
        // Watched for ten days without a new item: not silent yet.
        let fresh = SourceState {
            id: "fresh".into(),
            last_new_item: None,
            watched_since: Some(Utc::now() - chrono::Duration::days(10)),
            ..quiet_state("fresh")
        };
        store.save_source_state(&fresh).unwrap();
    }
    let relais = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_relais"))
            .arg("--config")
            .arg(&path)
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .expect("relais runs")
    };
    let out = relais(&["sources"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("quiet                silent: no new item since "),
        "{text}"
    );
    assert!(first.ends_with(" (100 days)"), "{text}");
    assert!(text.contains("fresh                ok\n"), "{text}");

    let out = relais(&["sources", "--json"]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let quiet = &doc["sources"][0];
    assert_eq!(quiet["id"], "quiet");
    assert_eq!(quiet["status"], "silent");
    assert_eq!(quiet["silent_since"], quiet["last_new_item"]);
    assert!(quiet["silent_since"].is_string());
    for key in [
        "title",
        "url",
        "last_success",
        "last_error",
        "failures",
        "next_poll",
        "items",
    ] {
        assert!(quiet.get(key).is_some(), "{key} missing: {quiet}");
    }
    let fresh = &doc["sources"][1];
    assert_eq!(fresh["status"], "ok");
    assert!(fresh["silent_since"].is_null());
}

#[test]
fn the_metrics_reader_refuses_what_is_not_the_format() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\"} 3\n";
    let s = prom::parse(good).unwrap();
    assert_eq!(s.value("a_total", &[("x", "q\"\\\n")]), Some(3.0));
    for bad in [
        "a_total 1\n",
        "# TYPE a counter\na{x=\"1\"} one\n",
        "# TYPE a counter\na{x=1} 1\n",
        "# TYPE a counter\na{x=\"\\t\"} 1\n",
        "# TYPE a counter\na 1\na 2\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE a counter\n# TYPE a gauge\n",
        "# TYPE 1a counter\n",
    ] {
        assert!(prom::parse(bad).is_err(), "accepted {bad:?}");
    }
}

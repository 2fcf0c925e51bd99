//! The daemon end to end: started on port 0 against fixture servers on loopback, it
//! polls every source, answers `/healthz`, records each source's outcome, and stops
//! cleanly (port closed, store flushed and released) when told to.

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use relais::config::Config;
use relais::model::SourceStatus;
use relais::refresh::{Outcome, Report};
use relais::store::{ItemQuery, Store};
use support::daemon::Daemon;
use support::{FixtureServer, Reply, Routes, PARTNER_RSS as RSS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

fn config(dir: &Path, server: &FixtureServer) -> Config {
    let feed_file = dir.join("local.rss");
    std::fs::write(&feed_file, RSS.replace("partenaire", "local")).unwrap();
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
[store]
path = "store"
[fetch]
allow_private = true
timeout = "5s"
[[source]]
id = "good"
url = "{good}"
[[source]]
id = "gone"
url = "{gone}"
[[source]]
id = "broken"
url = "{broken}"
[[source]]
id = "local"
url = "local.rss"
[[source]]
id = "resting"
url = "{good}"
paused = true
"#,
        good = server.url("/feed.xml"),
        gone = server.url("/gone"),
        broken = server.url("/broken"),
    );
    let path = dir.join("relais.toml");
    std::fs::write(&path, &text).unwrap();
    Config::load(&path).unwrap()
}

/// GET `path` over a raw connection; the status line and body.
async fn get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<(String, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response.lines().next().unwrap_or("").to_string();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Wait for one report from each of `sources`, up to a deadline.
async fn reports_from(rx: &mut mpsc::UnboundedReceiver<Report>, sources: &[&str]) -> Vec<Report> {
    let mut seen = HashSet::new();
    let mut reports = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.len() < sources.len() {
        let report = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("every source polled before the deadline")
            .expect("report channel open");
        if seen.insert(report.source.clone()) {
            reports.push(report);
        }
    }
    reports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_polls_serves_and_stops_cleanly() {
    let server = FixtureServer::start(
        Routes::new()
            .fixed(
                "/feed.xml",
                Reply::ok(RSS)
                    .header("content-type", "application/rss+xml")
                    .header("etag", "\"v1\""),
            )
            .fixed("/gone", Reply::status(410))
            .fixed(
                "/broken",
                Reply::ok("<!DOCTYPE html><html><body>Maintenance</body></html>")
                    .header("content-type", "text/html"),
            ),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &server);
    let store_path = config.store.path.clone();

    let mut daemon = Daemon::start(&config).await;
    let addr = daemon.addr;

    let (status, body) = get(addr, "/healthz").await.unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "ok");

    let reports = reports_from(&mut daemon.reports, &["good", "gone", "broken", "local"]).await;
    let outcome = |id: &str| {
        reports
            .iter()
            .find(|r| r.source == id)
            .map(|r| (r.outcome.clone(), r.status))
            .unwrap()
    };
    assert_eq!(
        outcome("good"),
        (
            Outcome::Stored {
                new: 2,
                updated: 0,
                unchanged: 0
            },
            Some(200)
        )
    );
    assert_eq!(outcome("gone"), (Outcome::Retired, Some(410)));
    assert!(
        matches!(&outcome("broken").0, Outcome::Failed { error } if error.contains("/broken") && error.contains("html")),
        "{:?}",
        outcome("broken")
    );
    assert_eq!(
        outcome("local").0,
        Outcome::Stored {
            new: 2,
            updated: 0,
            unchanged: 0
        }
    );
    // The paused source is never polled: only three paths were requested, once each.
    assert_eq!(server.requests_to("/feed.xml").len(), 1);

    daemon.stop().await;
    assert!(
        get(addr, "/healthz").await.is_err(),
        "the port is closed after shutdown"
    );

    // The store was flushed and released: it opens, and holds what was polled.
    let store = Store::open(&store_path).unwrap();
    assert_eq!(store.count_items(Some("good")).unwrap(), 2);
    assert_eq!(store.count_items(Some("local")).unwrap(), 2);
    assert_eq!(store.count_items(None).unwrap(), 4);
    let newest = store
        .items(&ItemQuery {
            source: Some("good".into()),
            limit: Some(1),
        })
        .unwrap();
    assert_eq!(newest[0].title, "Appel à projets 2027");

    let good = store.source_state("good").unwrap().unwrap();
    assert_eq!(good.etag.as_deref(), Some("\"v1\""));
    assert_eq!(SourceStatus::of(Some(&good), false), SourceStatus::Ok);
    let gone = store.source_state("gone").unwrap().unwrap();
    assert_eq!(SourceStatus::of(Some(&gone), false), SourceStatus::Retired);
    let broken = store.source_state("broken").unwrap().unwrap();
    assert_eq!(
        SourceStatus::of(Some(&broken), false),
        SourceStatus::Failing
    );
    assert_eq!(broken.failures, 1);
    assert!(broken.last_error.as_deref().unwrap().contains("/broken"));
    assert!(broken.next_poll.unwrap() > broken.last_poll.unwrap());
    assert!(store.source_state("resting").unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cancels_a_stalled_poll_and_keeps_the_store_usable() {
    let server = FixtureServer::start(
        Routes::new().fixed("/slow", Reply::ok(RSS).stall(Duration::from_secs(60))),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relais.toml");
    std::fs::write(
        &path,
        format!(
            "[store]\npath = \"store\"\n[fetch]\nallow_private = true\ntimeout = \"60s\"\n[[source]]\nid = \"slow\"\nurl = \"{}\"\n",
            server.url("/slow")
        ),
    )
    .unwrap();
    let config = Config::load(&path).unwrap();
    let store_path = config.store.path.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let daemon = tokio::spawn(relais::daemon::run(config, listener, async {
        let _ = stopped.await;
    }));

    // Wait (with a deadline) until the poll is under way, then stop.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while server.requests_to("/slow").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the poll never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), daemon)
        .await
        .expect("shutdown does not wait for a stalled server")
        .unwrap()
        .unwrap();
    let store = Store::open(&store_path).unwrap();
    assert_eq!(store.count_items(None).unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websub_hub_is_advertised_and_pinged_when_a_channel_changes() {
    let server = FixtureServer::start(
        Routes::new()
            .fixed("/feed.xml", Reply::ok(RSS))
            .fixed("/hub", Reply::status(204)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relais.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nbase_url = \"https://veille.example.org\"\n[store]\npath = \"store\"\n\
             [fetch]\nallow_private = true\n[websub]\nhub = \"{hub}\"\n\
             [[source]]\nid = \"good\"\nurl = \"{feed}\"\n\
             [[channel]]\nid = \"tout\"\ntitle = \"Tout\"\n\
             [[channel]]\nid = \"vide\"\ntitle = \"Vide\"\ninclude = [\"introuvable\"]\n",
            hub = server.url("/hub"),
            feed = server.url("/feed.xml"),
        ),
    )
    .unwrap();
    let config = Config::load(&path).unwrap();
    let mut daemon = Daemon::start(&config).await;
    let addr = daemon.addr;
    reports_from(&mut daemon.reports, &["good"]).await;

    // The channel that gained items is pinged, once per feed format; the empty one is not.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while server.requests_to("/hub").len() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "hub not pinged: {:?}",
            server.requests_to("/hub")
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut pinged: Vec<String> = server
        .requests_to("/hub")
        .iter()
        .map(|r| {
            assert_eq!(r.method, "POST");
            assert_eq!(
                r.header("content-type"),
                Some("application/x-www-form-urlencoded")
            );
            String::from_utf8(r.body.clone()).unwrap()
        })
        .collect();
    pinged.sort();
    assert_eq!(
        pinged,
        [
            "hub.mode=publish&hub.url=https%3A%2F%2Fveille.example.org%2Ffeeds%2Ftout.atom",
            "hub.mode=publish&hub.url=https%3A%2F%2Fveille.example.org%2Ffeeds%2Ftout.json",
            "hub.mode=publish&hub.url=https%3A%2F%2Fveille.example.org%2Ffeeds%2Ftout.rss",
        ]
    );

    // Feeds advertise the hub in the document and in a Link header.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /feeds/tout.atom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let hub = server.url("/hub");
    assert!(
        response.contains(&format!(
            "link: <{hub}>; rel=\"hub\", <https://veille.example.org/feeds/tout.atom>; rel=\"self\""
        )),
        "{response}"
    );
    assert!(
        response.contains(&format!("href=\"{hub}\" rel=\"hub\"")),
        "{response}"
    );

    daemon.stop().await;
    assert_eq!(
        server.requests_to("/hub").len(),
        3,
        "no ping without a change"
    );
}

//! One source's refresh against fixture servers: what is recorded on the source, and
//! what is never lost. The stored URL moves only after a permanent redirect chain ends in
//! a feed that parses; Retry-After decides the next poll; failures back off and keep the
//! items stored before; an unchanged body is not processed again; a feed that comes back
//! after 410 un-retires.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use relais::config::Config;
use relais::fetch::Fetcher;
use relais::model::SourceStatus;
use relais::refresh::{Outcome, Refresher};
use relais::store::Store;
use support::{FixtureServer, Reply, Routes};

const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>P</title><link>https://p.example.org/</link>
<item><title>Un</title><link>https://p.example.org/1</link><guid>p-1</guid>
<pubDate>Mon, 23 Nov 2026 09:00:00 +0100</pubDate></item>
</channel></rss>"#;

fn refresher(dir: &std::path::Path, sources: &[(&str, String)]) -> Refresher {
    let mut text = String::from(
        "[store]\npath = \"store\"\n[fetch]\nallow_private = true\ntimeout = \"5s\"\ninterval = \"30m\"\nmax_backoff = \"12h\"\n",
    );
    for (id, url) in sources {
        text.push_str(&format!("[[source]]\nid = \"{id}\"\nurl = \"{url}\"\n"));
    }
    let path = dir.join("relais.toml");
    std::fs::write(&path, text).unwrap();
    let config = Arc::new(Config::load(&path).unwrap());
    Refresher::new(
        Arc::clone(&config),
        Fetcher::new(&config.fetch).unwrap(),
        Arc::new(Store::open(&config.store.path).unwrap()),
    )
}

#[tokio::test]
async fn a_permanent_redirect_is_adopted_only_when_the_feed_parses() {
    let server = FixtureServer::start(
        Routes::new()
            .at("/old", |r| Reply::redirect(301, &r.url("/new")))
            .fixed("/new", Reply::ok(RSS))
            .at("/moved-to-a-page", |r| {
                Reply::redirect(308, &r.url("/page"))
            })
            .fixed(
                "/page",
                Reply::ok("<html><body>Parked domain</body></html>"),
            ),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let r = refresher(
        dir.path(),
        &[
            ("moved", server.url("/old")),
            ("parked", server.url("/moved-to-a-page")),
        ],
    );
    let moved = r.config.source("moved").unwrap().clone();
    let report = r.refresh(&moved, Utc::now()).await;
    assert!(
        matches!(report.outcome, Outcome::Stored { new: 1, .. }),
        "{report:?}"
    );
    let state = r.store.source_state("moved").unwrap().unwrap();
    assert_eq!(
        state.permanent_url.as_deref(),
        Some(server.url("/new").as_str())
    );
    // The next poll goes straight to the new URL.
    r.refresh(&moved, Utc::now()).await;
    assert_eq!(server.requests_to("/old").len(), 1);
    assert_eq!(server.requests_to("/new").len(), 2);

    let parked = r.config.source("parked").unwrap().clone();
    let report = r.refresh(&parked, Utc::now()).await;
    assert!(
        matches!(report.outcome, Outcome::Failed { .. }),
        "{report:?}"
    );
    let state = r.store.source_state("parked").unwrap().unwrap();
    assert_eq!(
        state.permanent_url, None,
        "a redirect to a page that is no feed is not adopted"
    );
}

#[tokio::test]
async fn retry_after_sets_the_next_poll_for_that_source_only() {
    let server = FixtureServer::start(
        Routes::new()
            .fixed("/busy", Reply::status(429).header("retry-after", "7200"))
            .fixed("/fine", Reply::ok(RSS)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let r = refresher(
        dir.path(),
        &[("busy", server.url("/busy")), ("fine", server.url("/fine"))],
    );
    let now = Utc::now();
    let busy = r.refresh(r.config.source("busy").unwrap(), now).await;
    assert_eq!(busy.status, Some(429));
    let wait = (busy.next_poll - now).to_std().unwrap();
    assert!(wait >= Duration::from_secs(7200), "{wait:?}");
    let fine = r.refresh(r.config.source("fine").unwrap(), now).await;
    let wait = (fine.next_poll - now).to_std().unwrap();
    assert!(
        wait <= Duration::from_secs(33 * 60),
        "the other source keeps its interval: {wait:?}"
    );
    let state = r.store.source_state("busy").unwrap().unwrap();
    assert!(state.last_error.unwrap().contains("429"));
}

#[tokio::test]
async fn failures_back_off_and_keep_what_was_stored() {
    let server = FixtureServer::start(Routes::new().fixed("/feed", Reply::ok(RSS))).await;
    let dir = tempfile::tempdir().unwrap();
    let r = refresher(dir.path(), &[("p", server.url("/feed"))]);
    let source = r.config.source("p").unwrap().clone();
    assert!(matches!(
        r.refresh(&source, Utc::now()).await.outcome,
        Outcome::Stored { new: 1, .. }
    ));
    // The partner's site breaks: its page is now HTML.
    drop(server);
    let broken = FixtureServer::start(
        Routes::new().fixed("/feed", Reply::ok("<!DOCTYPE html><html>Erreur</html>")),
    )
    .await;
    let mut c = (*r.config).clone();
    c.sources[0].location = relais::config::Location::Http(broken.url("/feed").parse().unwrap());
    let r = Refresher::new(Arc::new(c), r.fetcher, r.store);
    let source = r.config.sources[0].clone();
    let mut waits = Vec::new();
    for _ in 0..4 {
        let now = Utc::now();
        let report = r.refresh(&source, now).await;
        assert!(matches!(report.outcome, Outcome::Failed { .. }));
        waits.push((report.next_poll - now).to_std().unwrap());
    }
    let state = r.store.source_state("p").unwrap().unwrap();
    assert_eq!(state.failures, 4);
    assert_eq!(SourceStatus::of(Some(&state), false), SourceStatus::Failing);
    assert!(state.last_error.unwrap().contains("/feed"));
    // Equal jitter: the n-th wait is in [half, full] of interval × 2^(n-1).
    let interval = 30 * 60;
    for (n, wait) in waits.iter().enumerate() {
        let full = interval * (1u64 << n);
        assert!(
            wait.as_secs() >= full / 2 && wait.as_secs() <= full,
            "failure {}: {wait:?}",
            n + 1
        );
    }
    assert_eq!(
        r.store.count_items(Some("p")).unwrap(),
        1,
        "the item stored before stays"
    );
}

#[tokio::test]
async fn an_unchanged_body_is_not_processed_and_a_gone_feed_can_return() {
    let server = FixtureServer::start(
        Routes::new()
            .fixed("/feed", Reply::ok(RSS))
            .fixed("/gone", Reply::status(410)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let r = refresher(
        dir.path(),
        &[("p", server.url("/feed")), ("g", server.url("/gone"))],
    );
    let p = r.config.source("p").unwrap().clone();
    assert!(matches!(
        r.refresh(&p, Utc::now()).await.outcome,
        Outcome::Stored { new: 1, .. }
    ));
    assert_eq!(r.refresh(&p, Utc::now()).await.outcome, Outcome::Unchanged);

    let g = r.config.source("g").unwrap().clone();
    let report = r.refresh(&g, Utc::now()).await;
    assert_eq!(report.outcome, Outcome::Retired);
    let state = r.store.source_state("g").unwrap().unwrap();
    assert_eq!(SourceStatus::of(Some(&state), false), SourceStatus::Retired);
    // Retired, but looked at again later: when the feed is back, it un-retires.
    assert!(report.next_poll > Utc::now() + chrono::Duration::hours(11));
    let back = FixtureServer::start(Routes::new().fixed("/gone", Reply::ok(RSS))).await;
    let mut c = (*r.config).clone();
    c.sources[1].location = relais::config::Location::Http(back.url("/gone").parse().unwrap());
    let g = c.sources[1].clone();
    let report = r.refresh(&g, Utc::now()).await;
    assert!(
        matches!(report.outcome, Outcome::Stored { new: 1, .. }),
        "{report:?}"
    );
    let state = r.store.source_state("g").unwrap().unwrap();
    assert_eq!(SourceStatus::of(Some(&state), false), SourceStatus::Ok);
}

#[tokio::test]
async fn two_refreshes_of_one_source_take_turns() {
    // `relais fetch` through the daemon can ask for a source its schedule is polling:
    // the second refresh waits for the first and starts from what it recorded.
    let server = FixtureServer::start(Routes::new().fixed("/feed", Reply::ok(RSS))).await;
    let dir = tempfile::tempdir().unwrap();
    let r = refresher(dir.path(), &[("p", server.url("/feed"))]);
    let p = r.config.source("p").unwrap().clone();
    let (a, b) = tokio::join!(r.refresh(&p, Utc::now()), r.refresh(&p, Utc::now()));
    let mut outcomes = [a.outcome, b.outcome];
    outcomes.sort_by_key(|o| o.label());
    assert!(
        matches!(outcomes[0], Outcome::Stored { new: 1, .. }),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], Outcome::Unchanged);
    assert_eq!(r.store.count_items(Some("p")).unwrap(), 1);
}

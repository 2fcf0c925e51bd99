//! Operator alerts end to end: a real daemon on 127.0.0.1:0 polls a partner feed served
//! by a fixture server, which is switched to failing and back; a loopback SMTP server
//! receives what relais sends. Exactly one alert and exactly one "recovered" note arrive,
//! across a restart of the daemon in the middle of the incident. Waits are bounded and
//! driven by poll reports and received messages, never by sleeps.

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mail_parser::MessageParser;
use relais::config::Config;
use relais::refresh::{Outcome, Report};
use support::daemon::Daemon;
use support::smtp::SmtpServer;
use support::{FixtureServer, Reply, Routes};

const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Partenaire</title><link>https://partenaire.example.org/</link>
<item><title>Rencontre régionale à Lyon</title><link>https://partenaire.example.org/a</link>
<guid isPermaLink="false">a-1</guid><pubDate>Mon, 23 Nov 2026 09:00:00 +0100</pubDate>
<description>Une journée d’échanges.</description></item>
</channel></rss>"#;

const DEADLINE: Duration = Duration::from_secs(60);

fn config(dir: &Path, feed: &str, smtp_port: u16) -> Config {
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
base_url = "https://veille.example.org/"
[store]
path = "store"
[fetch]
allow_private = true
timeout = "5s"
max_backoff = "1s"
[[source]]
id = "partenaire"
title = "Partenaire de Lyon"
url = "{feed}"
interval = "1s"
[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
timeout = "10s"
[alerts]
to = "veille-admin@example.org"
from = "relais <relais@example.org>"
failing_after = "1s"
check_every = "1s"
"#
    );
    let path = dir.join("relais.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(&path).unwrap()
}

fn failed(r: &Report) -> bool {
    matches!(r.outcome, Outcome::Failed { .. })
}

fn succeeded(r: &Report) -> bool {
    !failed(r)
}

/// Subject and plain text of a received message.
fn read(data: &[u8]) -> (String, String, String) {
    let m = MessageParser::default()
        .parse(data)
        .expect("a parsable message");
    (
        m.subject().unwrap_or_default().to_string(),
        m.body_text(0).unwrap_or_default().replace("\r\n", "\n"),
        m.message_id().unwrap_or_default().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_source_alerts_once_and_recovers_once_across_a_restart() {
    let up = Arc::new(AtomicBool::new(true));
    let serving = Arc::clone(&up);
    let fixture = FixtureServer::start(Routes::new().at("/feed.xml", move |_| {
        if serving.load(Ordering::SeqCst) {
            Reply::ok(RSS).header("Content-Type", "application/rss+xml")
        } else {
            Reply::status(500).body("Internal Server Error")
        }
    }))
    .await;
    let smtp = SmtpServer::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &fixture.url("/feed.xml"), smtp.port());

    let mut daemon = Daemon::start(&config).await;
    daemon.polls(1, DEADLINE, succeeded).await;
    assert!(
        smtp.accepted().is_empty(),
        "nothing to say about a healthy source"
    );

    // The partner breaks: one alert once it has failed for longer than failing_after.
    up.store(false, Ordering::SeqCst);
    tokio::time::timeout(DEADLINE, smtp.wait_accepted(1))
        .await
        .expect("an alert within the deadline");
    let (subject, text, alert_id) = read(&smtp.accepted()[0].data);
    assert!(
        subject.starts_with("relais : la source « Partenaire de Lyon » est en échec depuis "),
        "{subject}"
    );
    assert!(
        text.contains("(partenaire) est en échec depuis le"),
        "{text}"
    );
    assert!(text.contains("Dernière erreur : "), "{text}");
    assert!(text.contains("/feed.xml") && text.contains("500"), "{text}");
    assert_eq!(smtp.accepted()[0].to, ["veille-admin@example.org"]);

    // Still failing, checked again after every poll: no second alert.
    daemon.polls(3, DEADLINE, failed).await;
    assert_eq!(smtp.accepted().len(), 1);

    // Nor after a restart that reads the ledger back.
    daemon.stop().await;
    let mut daemon = Daemon::start(&config).await;
    daemon.polls(3, DEADLINE, failed).await;
    assert_eq!(
        smtp.accepted().len(),
        1,
        "a restart does not repeat the alert"
    );

    // The partner is back: one "recovered" note.
    up.store(true, Ordering::SeqCst);
    tokio::time::timeout(DEADLINE, smtp.wait_accepted(2))
        .await
        .expect("a recovered note within the deadline");
    let (subject, text, note_id) = read(&smtp.accepted()[1].data);
    assert_eq!(
        subject,
        "relais : la source « Partenaire de Lyon » est rétablie"
    );
    assert!(
        text.contains("(partenaire) est rétablie : relevée avec succès le"),
        "{text}"
    );
    assert!(text.contains("Elle était en échec depuis le"), "{text}");
    assert_ne!(alert_id, note_id);

    daemon.polls(3, DEADLINE, succeeded).await;
    daemon.stop().await;
    assert_eq!(smtp.accepted().len(), 2, "exactly one alert and one note");
}

/// The weekly summary goes once per scheduled occurrence, through the ledger: a second
/// check, or a restarted checker, sends nothing more; an occurrence more than a day old
/// (relais was down) is not sent late.
#[tokio::test]
async fn the_weekly_summary_goes_once_per_week() {
    use relais::alerts::Alerter;
    let smtp = SmtpServer::start(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[store]
path = "store"
[[source]]
id = "partenaire"
title = "Partenaire de Lyon"
url = "https://partenaire.example.org/feed"
[smtp]
host = "127.0.0.1"
port = {}
security = "none"
[alerts]
to = "veille-admin@example.org"
from = "relais@example.org"
weekly_summary = "0 0 8 * * Mon"
locale = "en"
"#,
        smtp.port()
    );
    let path = dir.path().join("relais.toml");
    std::fs::write(&path, text).unwrap();
    let config = Arc::new(Config::load(&path).unwrap());
    let store = Arc::new(relais::store::Store::open(&config.store.path).unwrap());
    let at = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let alerter = Alerter::new(Arc::clone(&config), Arc::clone(&store)).unwrap();
    // Monday 30 November 2026, 08:05 in Paris.
    let checked = alerter.check(at("2026-11-30T07:05:00Z")).await.unwrap();
    assert_eq!(checked.sent.len(), 1, "{checked:?}");
    let (subject, body, _) = read(&smtp.accepted()[0].data);
    assert_eq!(subject, "relais: source health, week of 2026-11-30");
    assert!(
        body.contains("Health of the 1 sources on 2026-11-30 08:05 CET"),
        "{body}"
    );
    assert!(body.contains("     1  ok\n"), "{body}");
    let checked = alerter.check(at("2026-11-30T07:15:00Z")).await.unwrap();
    assert!(checked.sent.is_empty(), "{checked:?}");
    drop(alerter);
    let restarted = Alerter::new(Arc::clone(&config), Arc::clone(&store)).unwrap();
    assert!(restarted
        .check(at("2026-11-30T09:00:00Z"))
        .await
        .unwrap()
        .sent
        .is_empty());
    // Down from Monday to Wednesday: that Monday's summary is not sent late.
    assert!(restarted
        .check(at("2026-12-09T10:00:00Z"))
        .await
        .unwrap()
        .sent
        .is_empty());
    assert_eq!(smtp.accepted().len(), 1);
}

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
use support::smtp::SmtpServer;
use support::{FixtureServer, Reply, Routes};
use tokio::sync::{mpsc, oneshot};

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

/// A running daemon, its poll reports, and how to stop it.
struct Daemon {
    reports: mpsc::UnboundedReceiver<Report>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), relais::daemon::DaemonError>>,
}

impl Daemon {
    async fn start(config: &Config) -> Daemon {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (tx, reports) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(relais::daemon::run_with_reports(
            config.clone(),
            listener,
            async {
                let _ = stopped.await;
            },
            Some(tx),
        ));
        Daemon {
            reports,
            stop,
            task,
        }
    }

    /// Waits for the next `n` reports that satisfy `wanted`.
    async fn polls(&mut self, n: usize, wanted: impl Fn(&Report) -> bool) {
        let mut seen = 0;
        tokio::time::timeout(DEADLINE, async {
            while seen < n {
                let report = self.reports.recv().await.expect("the daemon reports polls");
                if wanted(&report) {
                    seen += 1;
                }
            }
        })
        .await
        .expect("polls within the deadline");
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }
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
        m.body_text(0).unwrap_or_default().to_string(),
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
    daemon.polls(1, succeeded).await;
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
    daemon.polls(3, failed).await;
    assert_eq!(smtp.accepted().len(), 1);

    // Nor after a restart that reads the ledger back.
    daemon.stop().await;
    let mut daemon = Daemon::start(&config).await;
    daemon.polls(3, failed).await;
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

    daemon.polls(3, succeeded).await;
    daemon.stop().await;
    assert_eq!(smtp.accepted().len(), 2, "exactly one alert and one note");
}

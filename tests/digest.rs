//! Digests end to end, with a real SMTP server on loopback (tests/support/smtp.rs):
//! the message as a mail client reads it (headers, part order, encodings, content),
//! the content rules (period, late stories, backlog, one story once), the schedule
//! across daylight-saving changes, and exactly-once delivery through restarts, a server
//! that is down then up, 4xx and 5xx replies, and repeated sends.

mod support;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mail_parser::{MessageParser, MimeHeaders};
use relais::config::Config;
use relais::digest::{Digester, Outcome, Period};
use relais::model::{Item, SourceState};
use relais::publish::{Doc, Publisher};
use relais::store::{LedgerEntry, LedgerState, Store};
use support::smtp::{free_port, Session, SmtpServer, Stage};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn period(s: &str) -> Period {
    s.parse().unwrap()
}

/// Three partners; `coop` takes a and b, `rural` b and c, so b's stories are in both.
fn config(dir: &Path, smtp_port: u16, extra: &str) -> Config {
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
base_url = "https://veille.example.org"
[store]
path = "store"
[[source]]
id = "a"
title = "Alliance des territoires coopérants"
url = "feeds/a.rss"
[[source]]
id = "b"
title = "IFRADEL"
url = "feeds/b.rss"
[[source]]
id = "c"
title = "Racines Rurales"
url = "feeds/c.rss"
[[channel]]
id = "coop"
title = "Coopération décentralisée"
sources = ["a", "b"]
[[channel]]
id = "rural"
title = "Développement rural"
sources = ["b", "c"]
[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
timeout = "5s"
[[digest]]
id = "hebdo"
title = "La lettre du réseau"
channels = ["coop", "rural"]
from = "Veille du réseau <veille@example.org>"
to = ["reseau@lists.example.org"]
unsubscribe = ["mailto:reseau-unsubscribe@lists.example.org", "https://lists.example.org/unsubscribe/reseau"]
{extra}
"#
    );
    let path = dir.join("relais.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(&path).unwrap()
}

fn item(source: &str, id: &str, title: &str, published: &str) -> Item {
    Item {
        id: id.to_string(),
        source: Some(source.to_string()),
        url: Some(format!("https://{source}.example.org/{id}")),
        canonical_url: None,
        title: title.to_string(),
        summary: format!("Une journée d’échanges entre partenaires ({id})."),
        content_html: None,
        published: at(published),
        updated: None,
        authors: Vec::new(),
        categories: Vec::new(),
        lang: None,
        enclosures: Vec::new(),
        published_guessed: false,
        content_hash: format!("{source}/{id}/{title}"),
    }
}

/// Stores `items` as one poll of `source` first seen at `seen`.
fn poll(store: &Store, source: &str, items: Vec<Item>, seen: &str) {
    let state = SourceState {
        id: source.to_string(),
        ..SourceState::default()
    };
    store.apply_poll(&state, items, at(seen)).unwrap();
}

struct Env {
    _dir: tempfile::TempDir,
    config: Arc<Config>,
}

impl Env {
    fn new(smtp_port: u16, extra: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let config = Arc::new(config(dir.path(), smtp_port, extra));
        Env { _dir: dir, config }
    }

    /// Opens the store and a digester on it; dropping both is a restart.
    fn open(&self) -> (Arc<Store>, Digester) {
        let store = Arc::new(Store::open(&self.config.store.path).unwrap());
        let d = Digester::new(Arc::clone(&self.config), Arc::clone(&store));
        (store, d)
    }
}

/// The week of 16–22 November 2026 (W47) with stories around it.
fn fill_w47(store: &Store) {
    poll(
        store,
        "a",
        vec![
            item(
                "a",
                "a1",
                "Rencontres régionales de la coopération",
                "2026-11-18T09:00:00+01:00",
            ),
            item(
                "a",
                "a0",
                "Une nouvelle d'avant",
                "2026-11-13T09:00:00+01:00",
            ),
            item(
                "a",
                "a2",
                "Appel à projets 2027",
                "2026-11-23T00:30:00+01:00",
            ),
        ],
        "2026-11-23T06:00:00Z",
    );
    poll(
        store,
        "b",
        vec![item(
            "b",
            "b1",
            "Guide des communs ruraux et des jumelages",
            "2026-11-16T00:10:00+01:00",
        )],
        "2026-11-23T06:00:00Z",
    );
    poll(
        store,
        "c",
        vec![item(
            "c",
            "c1",
            "Tiers-lieux en milieu rural",
            "2026-11-22T23:50:00+01:00",
        )],
        "2026-11-23T06:00:00Z",
    );
}

fn parse(data: &[u8]) -> mail_parser::Message<'_> {
    MessageParser::default()
        .parse(data)
        .expect("a parsable message")
}

#[tokio::test]
async fn an_issue_reads_right_in_a_mail_client() {
    let server = SmtpServer::start(vec![]).await;
    let env = Env::new(server.port(), "");
    let (store, digester) = env.open();
    fill_w47(&store);

    let (p, outcome) = digester
        .send(
            "hebdo",
            Some(period("2026-W47")),
            at("2026-11-23T07:00:00Z"),
            false,
            false,
        )
        .await
        .unwrap();
    assert_eq!(p, period("2026-W47"));
    assert_eq!(outcome, Outcome::Sent { stories: 3 });
    let got = server.accepted();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.from, "veille@example.org");
    assert_eq!(r.to, ["reseau@lists.example.org"]);
    assert!(r.data.is_ascii(), "7-bit message");
    let raw = String::from_utf8_lossy(&r.data).into_owned();

    // Headers, decoded as a mail client does, and encoded as RFC 2047 wants.
    let m = parse(&r.data);
    assert_eq!(
        m.subject(),
        Some("La lettre du réseau — semaine du 16 novembre 2026")
    );
    let raw_subject = m.header_raw("Subject").unwrap();
    assert!(raw_subject.contains("=?utf-8?"), "RFC 2047: {raw_subject}");
    assert!(raw_subject.is_ascii());
    let from = m.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Veille du réseau"));
    assert_eq!(from.address(), Some("veille@example.org"));
    assert_eq!(
        m.to().unwrap().first().unwrap().address(),
        Some("reseau@lists.example.org")
    );
    assert_eq!(
        m.date().unwrap().to_timestamp(),
        at("2026-11-23T07:00:00Z").timestamp()
    );
    assert_eq!(
        m.message_id(),
        Some("2026-W47.hebdo.digest@veille.example.org")
    );
    assert!(m
        .header_raw("List-Id")
        .unwrap()
        .contains("<hebdo.veille.example.org>"));
    let unsubscribe = m.header_raw("List-Unsubscribe").unwrap();
    assert!(
        unsubscribe.contains("<mailto:reseau-unsubscribe@lists.example.org>"),
        "{unsubscribe}"
    );
    assert!(
        unsubscribe.contains("<https://lists.example.org/unsubscribe/reseau>"),
        "{unsubscribe}"
    );
    assert_eq!(
        m.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(m
        .header_raw("List-Archive")
        .unwrap()
        .contains("https://veille.example.org/digests/hebdo/"));

    // multipart/alternative: text/plain first, text/html last, each in a 7-bit
    // transfer encoding of UTF-8.
    let root = m.root_part();
    let ct = root.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    let kids = root.sub_parts().unwrap();
    assert_eq!(kids.len(), 2);
    let kinds: Vec<String> = kids
        .iter()
        .map(|&i| {
            let part = m.part(i).unwrap();
            let ct = part.content_type().unwrap();
            assert_eq!(
                ct.attribute("charset")
                    .map(str::to_ascii_lowercase)
                    .as_deref(),
                Some("utf-8")
            );
            let cte = part
                .content_transfer_encoding()
                .unwrap_or("7bit")
                .to_ascii_lowercase();
            assert!(
                matches!(cte.as_str(), "quoted-printable" | "base64"),
                "{cte}"
            );
            format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""))
        })
        .collect();
    assert_eq!(kinds, ["text/plain", "text/html"]);
    assert!(raw.find("Content-Type: text/plain") < raw.find("Content-Type: text/html"));

    // Content: the week's stories, grouped by channel, newest first, in French.
    let text = m.body_text(0).unwrap().into_owned();
    let html = m.body_html(0).unwrap().into_owned();
    for body in [&text, &html] {
        assert!(body.contains("Semaine du 16 au 22 novembre 2026"), "{body}");
        assert!(body.contains("dimanche 22 novembre 2026"), "{body}");
        assert!(body.contains("lundi 16 novembre 2026"));
        assert!(
            !body.contains("Une nouvelle d'avant") && !body.contains("Une nouvelle d’avant"),
            "W46 is not in W47"
        );
        assert!(!body.contains("Appel à projets 2027"), "W48 is not in W47");
        // b's story is in both channels: shown once, in the first (coop).
        assert_eq!(
            body.matches("Guide des communs ruraux").count(),
            1,
            "{body}"
        );
        assert!(body.contains("IFRADEL"));
    }
    let coop = text.find("Coopération décentralisée (2").unwrap();
    let rural = text.find("Développement rural (1").unwrap();
    assert!(coop < rural);
    let newest = text.find("Rencontres régionales").unwrap();
    let oldest = text.find("Guide des communs").unwrap();
    assert!(
        coop < newest && newest < oldest && oldest < rural,
        "newest first within coop"
    );
    assert!(text.contains("https://a.example.org/a1"));
    assert!(html.contains("href=\"https://a.example.org/a1\""));
    assert!(text.contains("Une journée d’échanges entre partenaires (a1)."));
    assert!(html.contains("Une journée d’échanges entre partenaires (a1)."));
    // Inline-styled, no image, no script, no stylesheet to fetch.
    assert!(html.contains("style=\""));
    for absent in ["<img", "<script", "<link", "src="] {
        assert!(!html.contains(absent), "{absent} in the HTML part");
    }

    // Sending the same period again delivers nothing.
    let (_, again) = digester
        .send(
            "hebdo",
            Some(period("2026-W47")),
            at("2026-11-23T09:00:00Z"),
            false,
            false,
        )
        .await
        .unwrap();
    assert_eq!(again, Outcome::AlreadyDone(LedgerState::Sent));
    let ticked = digester.tick(at("2026-11-23T09:00:00Z")).await;
    assert!(ticked.is_empty(), "{ticked:?}");
    assert_eq!(server.accepted().len(), 1);

    // The archive has it: list, issue page and feed.
    let publisher = Publisher::new(Arc::clone(&env.config), Arc::clone(&store));
    let list = publisher
        .document(&Doc::from_path("/digests/hebdo/", None).unwrap())
        .unwrap()
        .unwrap();
    let list = String::from_utf8_lossy(&list.body).into_owned();
    assert!(
        list.contains("https://veille.example.org/digests/hebdo/2026-W47"),
        "{list}"
    );
    assert!(list.contains("semaine du 16 novembre 2026"));
    let page = publisher
        .document(&Doc::from_path("/digests/hebdo/2026-W47", None).unwrap())
        .unwrap()
        .unwrap();
    // The page is the HTML part as sent (the message had CRLF line ends).
    assert_eq!(
        String::from_utf8_lossy(&page.body),
        html.replace("\r\n", "\n")
    );
    let feed = publisher
        .document(&Doc::from_path("/digests/hebdo.atom", None).unwrap())
        .unwrap()
        .unwrap();
    let feed = String::from_utf8_lossy(&feed.body).into_owned();
    let doc = roxmltree::Document::parse(&feed).unwrap();
    let entries: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("entry"))
        .collect();
    assert_eq!(entries.len(), 1);
    assert!(publisher
        .document(&Doc::from_path("/digests/hebdo/2026-W46", None).unwrap())
        .unwrap()
        .is_none());
    assert!(publisher
        .document(&Doc::from_path("/digests/nope/", None).unwrap())
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn late_stories_go_to_the_next_issue_and_a_backlog_never_floods_it() {
    let server = SmtpServer::start(vec![]).await;
    let env = Env::new(server.port(), "");
    let (store, digester) = env.open();
    fill_w47(&store);
    // Monday 23 November, 08:00 in Paris: W47 goes out on schedule.
    let done = digester.tick(at("2026-11-23T07:00:00Z")).await;
    assert_eq!(
        done,
        [(
            "hebdo".to_string(),
            period("2026-W47"),
            Outcome::Sent { stories: 3 }
        )]
    );

    // Later that Monday: a slow poll brings a W47 story (late), a new source's backlog
    // from early November, and a W48 story.
    poll(
        &store,
        "c",
        vec![
            item(
                "c",
                "late",
                "Publié dimanche, relevé lundi",
                "2026-11-22T20:00:00+01:00",
            ),
            item(
                "c",
                "old",
                "Archive de début novembre",
                "2026-11-02T10:00:00+01:00",
            ),
            item(
                "c",
                "w48",
                "Nouvelle de la semaine 48",
                "2026-11-25T10:00:00+01:00",
            ),
        ],
        "2026-11-23T10:00:00Z",
    );
    let done = digester.tick(at("2026-11-30T07:00:00Z")).await;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].1, period("2026-W48"));
    let got = server.accepted();
    assert_eq!(got.len(), 2);
    let m = parse(&got[1].data);
    let text = m.body_text(0).unwrap().into_owned();
    assert!(text.contains("Nouvelle de la semaine 48"), "{text}");
    assert!(
        text.contains("Publié dimanche, relevé lundi"),
        "late story: {text}"
    );
    assert!(
        text.contains("Appel à projets 2027"),
        "published Monday 00:30, in W48"
    );
    assert!(
        !text.contains("Archive de début novembre"),
        "backlog: {text}"
    );
    assert!(
        !text.contains("Rencontres régionales"),
        "already in W47: {text}"
    );
    // What W47 said stays what it said.
    let w47 = parse(&got[0].data);
    assert!(!w47.body_text(0).unwrap().contains("Publié dimanche"));
}

#[tokio::test]
async fn the_monday_digest_goes_at_eight_paris_time_on_both_sides_of_dst() {
    // No SMTP needed: empty periods are skipped, and the ledger records when each was due.
    let env = Env::new(free_port().await, "");
    let (store, digester) = env.open();
    let mut seeded = LedgerEntry::new(
        "hebdo",
        "2026-W12",
        LedgerState::Sent,
        at("2026-03-23T07:00:00Z"),
    );
    seeded.composed_at = Some(at("2026-03-23T07:00:00Z"));
    store.save_digest_entry(&seeded).unwrap();
    let mut seeded = LedgerEntry::new(
        "hebdo",
        "2026-W42",
        LedgerState::Sent,
        at("2026-10-19T06:00:00Z"),
    );
    seeded.composed_at = Some(at("2026-10-19T06:00:00Z"));
    store.save_digest_entry(&seeded).unwrap();
    let cases = [
        // (now, the period it makes due, or none)
        ("2026-03-30T05:59:59Z", None), // 07:59:59 CEST: W12 is done, W13 not due yet
        (
            "2026-03-30T06:00:00Z",
            Some(("2026-W13", "2026-03-30T06:00:00Z")),
        ), // 08:00 CEST
    ];
    for (now, want) in cases {
        let done = digester.tick(at(now)).await;
        match want {
            None => assert!(done.is_empty(), "{now}: {done:?}"),
            Some((p, due)) => {
                assert_eq!(
                    done,
                    [("hebdo".to_string(), period(p), Outcome::Empty)],
                    "{now}"
                );
                let e = store.digest_entry("hebdo", p).unwrap().unwrap();
                assert_eq!(e.due, Some(at(due)), "{now}");
            }
        }
    }
    // October: W42 sent on the 19th, W43 due at 08:00 CET on Monday 26th = 07:00Z.
    let env = Env::new(free_port().await, "");
    let (store, digester) = env.open();
    store.save_digest_entry(&seeded).unwrap();
    assert!(
        digester.tick(at("2026-10-26T06:00:00Z")).await.is_empty(),
        "07:00 CET is too early"
    );
    assert!(digester.tick(at("2026-10-26T06:59:59Z")).await.is_empty());
    let done = digester.tick(at("2026-10-26T07:00:00Z")).await;
    assert_eq!(
        done,
        [("hebdo".to_string(), period("2026-W43"), Outcome::Empty)]
    );
    assert_eq!(
        store
            .digest_entry("hebdo", "2026-W43")
            .unwrap()
            .unwrap()
            .due,
        Some(at("2026-10-26T07:00:00Z"))
    );
}

/// A crash point: the label, the ledger state and hand-over flag relais restarts with,
/// the messages the restart delivers, and the state it leaves.
type Crash = (&'static str, (LedgerState, bool), usize, LedgerState);

/// Crash (restart) between each ledger step: whatever the step, the period is
/// delivered at most once, and never silently dropped.
#[tokio::test]
async fn restarts_between_ledger_steps_never_send_twice_nor_skip_silently() {
    // (what the ledger says when relais restarts, messages expected after the restart's
    // tick, the state after it)
    let cases: [Crash; 4] = [
        (
            "planned",
            (LedgerState::Planned, false),
            1,
            LedgerState::Sent,
        ),
        (
            "sending, not handed over",
            (LedgerState::Sending, false),
            1,
            LedgerState::Sent,
        ),
        (
            "sending, handed over",
            (LedgerState::Sending, true),
            0,
            LedgerState::Failed,
        ),
        ("sent", (LedgerState::Sent, true), 0, LedgerState::Sent),
    ];
    for (what, crashed_at, messages, after) in cases {
        let port = free_port().await;
        let env = Env::new(port, "");
        // 1. SMTP down: the tick composes and plans, the attempt is refused.
        {
            let (store, digester) = env.open();
            fill_w47(&store);
            let done = digester.tick(at("2026-11-23T07:00:00Z")).await;
            assert!(
                matches!(done[0].2, Outcome::Retrying { .. }),
                "{what}: {done:?}"
            );
            let e = store.digest_entry("hebdo", "2026-W47").unwrap().unwrap();
            assert_eq!(e.state, LedgerState::Planned, "{what}");
            assert!(
                e.error.as_deref().unwrap_or("").contains("127.0.0.1"),
                "{what}: {:?}",
                e.error
            );
            assert_eq!(e.retry_at, Some(at("2026-11-23T07:01:00Z")));
            // Forge the step the crash happened at.
            let (state, handed_over) = crashed_at;
            let mut e = e;
            e.step(state, at("2026-11-23T07:00:30Z"), Some("crash".into()));
            e.handed_over = handed_over;
            store.save_digest_entry(&e).unwrap();
        }
        // 2. Restart, server up.
        let server = SmtpServer::start_on(port, vec![]).await;
        let (store, digester) = env.open();
        let done = digester.tick(at("2026-11-23T07:02:00Z")).await;
        assert_eq!(server.accepted().len(), messages, "{what}: {done:?}");
        let e = store.digest_entry("hebdo", "2026-W47").unwrap().unwrap();
        assert_eq!(e.state, after, "{what}");
        if after == LedgerState::Failed {
            assert!(
                e.error
                    .as_deref()
                    .unwrap_or("")
                    .contains("delivery uncertain"),
                "{what}"
            );
            // Visible, and the operator can resend on purpose: same Message-ID.
            let (_, plain) = digester
                .send(
                    "hebdo",
                    Some(period("2026-W47")),
                    at("2026-11-23T08:00:00Z"),
                    false,
                    false,
                )
                .await
                .unwrap();
            assert_eq!(plain, Outcome::AlreadyDone(LedgerState::Failed), "{what}");
            let (_, forced) = digester
                .send(
                    "hebdo",
                    Some(period("2026-W47")),
                    at("2026-11-23T08:00:00Z"),
                    true,
                    false,
                )
                .await
                .unwrap();
            assert_eq!(forced, Outcome::Sent { stories: 3 });
            let m = parse(&server.accepted()[0].data)
                .message_id()
                .map(str::to_string);
            assert_eq!(
                m.as_deref(),
                Some("2026-W47.hebdo.digest@veille.example.org")
            );
        }
        // 3. Another restart and tick: nothing more.
        drop((store, digester));
        let (_store, digester) = env.open();
        assert!(
            digester.tick(at("2026-11-23T08:30:00Z")).await.is_empty(),
            "{what}"
        );
        let expected = if after == LedgerState::Failed {
            1
        } else {
            messages
        };
        assert_eq!(server.accepted().len(), expected, "{what}");
    }
}

#[tokio::test]
async fn a_message_taken_without_a_reply_is_not_sent_again() {
    let server = SmtpServer::start(vec![Session::HangUpAfterData]).await;
    let env = Env::new(server.port(), "");
    let (store, digester) = env.open();
    fill_w47(&store);
    let done = digester.tick(at("2026-11-23T07:00:00Z")).await;
    match &done[0].2 {
        Outcome::Failed { error } => assert!(error.contains("delivery uncertain"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.unanswered().len(), 1);
    let e = store.digest_entry("hebdo", "2026-W47").unwrap().unwrap();
    assert!(e.handed_over);
    assert!(digester.tick(at("2026-11-23T08:00:00Z")).await.is_empty());
    assert!(digester.tick(at("2026-11-23T12:00:00Z")).await.is_empty());
    assert_eq!(server.accepted().len() + server.unanswered().len(), 1);
}

#[tokio::test]
async fn smtp_replies_decide_between_retry_and_failure() {
    // 4xx at MAIL, then 421 at the greeting: retried with backoff, then delivered once.
    let server = SmtpServer::start(vec![
        Session::Reply {
            stage: Stage::Mail,
            code: 451,
        },
        Session::Reply {
            stage: Stage::Greeting,
            code: 421,
        },
    ])
    .await;
    let env = Env::new(server.port(), "");
    let (store, digester) = env.open();
    fill_w47(&store);
    let done = digester.tick(at("2026-11-23T07:00:00Z")).await;
    match &done[0].2 {
        Outcome::Retrying { error, retry_at } => {
            assert!(error.contains("451"), "{error}");
            assert_eq!(*retry_at, at("2026-11-23T07:01:00Z"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        digester.tick(at("2026-11-23T07:00:30Z")).await.is_empty(),
        "not before retry_at"
    );
    let done = digester.tick(at("2026-11-23T07:01:00Z")).await;
    match &done[0].2 {
        Outcome::Retrying { retry_at, .. } => assert_eq!(*retry_at, at("2026-11-23T07:03:00Z")),
        other => panic!("{other:?}"),
    }
    let done = digester.tick(at("2026-11-23T07:03:00Z")).await;
    assert_eq!(done[0].2, Outcome::Sent { stories: 3 });
    assert_eq!(server.accepted().len(), 1);
    assert_eq!(server.sessions(), 3);
    assert_eq!(
        store
            .digest_entry("hebdo", "2026-W47")
            .unwrap()
            .unwrap()
            .attempts,
        3
    );

    // 5xx: failed, visibly, and not retried.
    let server = SmtpServer::start(vec![Session::Reply {
        stage: Stage::Rcpt,
        code: 550,
    }])
    .await;
    let env = Env::new(server.port(), "");
    let (store, digester) = env.open();
    fill_w47(&store);
    let done = digester.tick(at("2026-11-23T07:00:00Z")).await;
    match &done[0].2 {
        Outcome::Failed { error } => assert!(error.contains("550"), "{error}"),
        other => panic!("{other:?}"),
    }
    let e = store.digest_entry("hebdo", "2026-W47").unwrap().unwrap();
    assert_eq!(e.state, LedgerState::Failed);
    assert!(digester.tick(at("2026-11-23T09:00:00Z")).await.is_empty());
    assert_eq!(server.sessions(), 1);
    // An operator who fixed the list resends by hand: composed again, delivered.
    let (_, outcome) = digester
        .send(
            "hebdo",
            Some(period("2026-W47")),
            at("2026-11-23T10:00:00Z"),
            false,
            false,
        )
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Sent { stories: 3 });
    assert_eq!(server.accepted().len(), 1);
}

#[tokio::test]
async fn after_downtime_the_latest_period_is_sent_and_older_ones_are_skipped() {
    let server = SmtpServer::start(vec![]).await;
    let env = Env::new(server.port(), "");
    let (store, digester) = env.open();
    fill_w47(&store);
    let mut w43 = LedgerEntry::new(
        "hebdo",
        "2026-W43",
        LedgerState::Sent,
        at("2026-10-26T07:00:00Z"),
    );
    w43.composed_at = Some(at("2026-10-26T07:00:00Z"));
    store.save_digest_entry(&w43).unwrap();
    let mut w44 = LedgerEntry::new(
        "hebdo",
        "2026-W44",
        LedgerState::Planned,
        at("2026-11-02T07:00:00Z"),
    );
    w44.retry_at = Some(at("2026-11-02T08:00:00Z"));
    store.save_digest_entry(&w44).unwrap();
    // relais comes back on Tuesday 24 November.
    let done = digester.tick(at("2026-11-24T10:00:00Z")).await;
    assert_eq!(
        done,
        [(
            "hebdo".to_string(),
            period("2026-W47"),
            Outcome::Sent { stories: 3 }
        )]
    );
    let states: Vec<(String, LedgerState)> = store
        .digest_entries("hebdo")
        .unwrap()
        .into_iter()
        .map(|e| (e.period, e.state))
        .collect();
    let want = [
        ("2026-W43", LedgerState::Sent),
        ("2026-W44", LedgerState::Skipped),
        ("2026-W45", LedgerState::Skipped),
        ("2026-W46", LedgerState::Skipped),
        ("2026-W47", LedgerState::Sent),
    ];
    assert_eq!(
        states,
        want.iter()
            .map(|(p, s)| (p.to_string(), *s))
            .collect::<Vec<_>>()
    );
    assert_eq!(server.accepted().len(), 1);
}

#[tokio::test]
async fn an_empty_week_sends_nothing_or_a_short_note() {
    let server = SmtpServer::start(vec![]).await;
    let env = Env::new(server.port(), "");
    let (_store, digester) = env.open();
    let (_, outcome) = digester
        .send(
            "hebdo",
            Some(period("2026-W47")),
            at("2026-11-23T07:00:00Z"),
            false,
            false,
        )
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Empty);
    assert_eq!(server.accepted().len(), 0);

    let env = Env::new(server.port(), "empty = \"note\"\nlocale = \"en\"");
    let (_store, digester) = env.open();
    let (_, outcome) = digester
        .send(
            "hebdo",
            Some(period("2026-W47")),
            at("2026-11-23T07:00:00Z"),
            false,
            false,
        )
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Sent { stories: 0 });
    let got = server.accepted();
    let m = parse(&got[0].data);
    assert_eq!(
        m.subject(),
        Some("La lettre du réseau — week of 16 November 2026")
    );
    let text = m.body_text(0).unwrap();
    assert!(text.contains("Nothing new this week"), "{text}");
    assert!(text.contains("Week of 16–22 November 2026"), "{text}");
}

#[tokio::test]
async fn a_dry_run_writes_and_sends_nothing() {
    let server = SmtpServer::start(vec![]).await;
    let env = Env::new(server.port(), "");
    let (store, digester) = env.open();
    fill_w47(&store);
    let (_, outcome) = digester
        .send(
            "hebdo",
            Some(period("2026-W47")),
            at("2026-11-23T07:00:00Z"),
            false,
            true,
        )
        .await
        .unwrap();
    match outcome {
        Outcome::WouldSend {
            stories,
            subject,
            state,
        } => {
            assert_eq!(stories, 3);
            assert_eq!(subject, "La lettre du réseau — semaine du 16 novembre 2026");
            assert_eq!(state, None);
        }
        other => panic!("{other:?}"),
    }
    assert!(store.digest_entries("hebdo").unwrap().is_empty());
    assert_eq!(server.sessions(), 0);
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (String, Vec<(String, String)>, String) {
    support::http_get(addr, path, "").await
}

/// The daemon sends the due period at start (here an empty one, as a note), shows its
/// scheduler's last tick on /healthz and the issue under /digests/, and stops cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_sends_at_start_and_publishes_the_archive() {
    let server = SmtpServer::start(vec![]).await;
    let env = Env::new(server.port(), "empty = \"note\"");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(relais::daemon::run(
        (*env.config).clone(),
        listener,
        async {
            let _ = stopped.await;
        },
    ));
    tokio::time::timeout(std::time::Duration::from_secs(30), server.wait_accepted(1))
        .await
        .expect("the due issue is sent at start");
    let (status, headers, body) = get(addr, "/healthz").await;
    assert!(status.contains("200"), "{status}");
    assert_eq!(body, "ok");
    let tick = headers
        .iter()
        .find(|(n, _)| n == "x-relais-digest-tick")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(DateTime::parse_from_rfc3339(&tick).is_ok(), "{tick}");
    let (status, headers, body) = get(addr, "/digests/hebdo/").await;
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("/digests/hebdo/20"), "{body}");
    assert!(headers
        .iter()
        .any(|(n, v)| n == "content-security-policy" && v.contains("style-src 'self'")));
    let accepted = server.accepted();
    let m = parse(&accepted[0].data);
    let id = m.message_id().unwrap().to_string();
    let issue_path = format!("/digests/hebdo/{}", id.split('.').next().unwrap());
    let (status, headers, body) = get(addr, &issue_path).await;
    assert!(status.contains("200"), "{issue_path}: {status}");
    assert!(body.contains("Rien de neuf cette semaine"), "{body}");
    assert!(headers.iter().any(|(n, v)| n == "content-security-policy"
        && v.contains("style-src 'unsafe-inline'")
        && v.contains("default-src 'none'")));
    let (status, _, body) = get(addr, "/digests/hebdo.atom").await;
    assert!(status.contains("200"));
    assert!(body.contains(&issue_path), "{body}");
    let _ = stop.send(());
    daemon.await.unwrap().unwrap();
    assert_eq!(server.accepted().len(), 1);
}

//! Incident detection as a table of checks: each step gives the sources' states at a
//! time, and the changes expected; the ledger carries over from step to step as the
//! store would (alerts marked sent as a successful delivery would), so a "restart" is
//! simply the same ledger seen again.

use super::*;
use crate::config::{HealthConfig, Location, Source};
use crate::model::SourceState;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn source(id: &str, paused: bool) -> Source {
    Source {
        id: id.into(),
        title: id.to_uppercase(),
        location: Location::Http(url::Url::parse("https://partner.example.org/feed").unwrap()),
        site: None,
        interval: None,
        tags: vec![],
        lang: None,
        paused,
    }
}

const T0: &str = "2026-11-20T08:00:00Z";

fn ok_state() -> SourceState {
    SourceState {
        id: "cuf".into(),
        last_success: Some(at(T0)),
        last_poll: Some(at(T0)),
        last_new_item: Some(at("2026-11-19T08:00:00Z")),
        watched_since: Some(at("2026-01-01T00:00:00Z")),
        ..SourceState::default()
    }
}

fn failing_since(since: &str) -> SourceState {
    SourceState {
        failures: 4,
        failing_since: Some(at(since)),
        last_error: Some("https://partner.example.org/feed: server error 500".into()),
        ..ok_state()
    }
}

/// What a step expects: nothing, or changes described as (kind, opened?, note owed?).
type Expect = Vec<(&'static str, IncidentKind, bool)>;

struct Step {
    name: &'static str,
    now: &'static str,
    state: Option<SourceState>,
    paused: bool,
    /// Whether deliveries succeed after this step (alerts and notes marked sent).
    delivered: bool,
    expect: Expect,
}

fn step(name: &'static str, now: &'static str, state: Option<SourceState>, expect: Expect) -> Step {
    Step {
        name,
        now,
        state,
        paused: false,
        delivered: true,
        expect,
    }
}

fn describe(changes: &[Change]) -> Expect {
    changes
        .iter()
        .map(|c| match c {
            Change::Open(i) => ("open", i.kind, false),
            Change::Resolve(i) => ("resolve", i.kind, i.recovery.is_some()),
        })
        .collect()
}

/// Runs the steps against one source `cuf`, carrying the ledger.
fn run(steps: Vec<Step>) -> Vec<Incident> {
    let mut ledger: Vec<Incident> = Vec::new();
    for s in steps {
        let now = at(s.now);
        let health: Vec<Health> = match &s.state {
            Some(state) => vec![health::assess(
                &source("cuf", s.paused),
                Some(state),
                3,
                now,
                &HealthConfig::default(),
            )],
            None => Vec::new(),
        };
        let changes = detect(
            &health,
            &ledger,
            now,
            Duration::from_secs(24 * 3600),
            "x.example.org",
        );
        assert_eq!(describe(&changes), s.expect, "step `{}`", s.name);
        for c in changes {
            let (Change::Open(mut i) | Change::Resolve(mut i)) = c;
            if s.delivered {
                if i.alert.state == NoticeState::Pending && i.resolved_at.is_none() {
                    i.alert.state = NoticeState::Sent;
                }
                if let Some(r) = i.recovery.as_mut() {
                    r.state = NoticeState::Sent;
                }
            }
            match ledger
                .iter_mut()
                .find(|l| l.source == i.source && l.kind == i.kind && l.since == i.since)
            {
                Some(l) => *l = i,
                None => ledger.push(i),
            }
        }
    }
    ledger
}

#[test]
fn a_failure_alerts_once_then_recovers_once() {
    use IncidentKind::*;
    let ledger = run(vec![
        step("healthy", "2026-11-20T08:00:00Z", Some(ok_state()), vec![]),
        step(
            "failing 23 h",
            "2026-11-21T07:00:00Z",
            Some(failing_since(T0)),
            vec![],
        ),
        step(
            "failing 25 h",
            "2026-11-21T09:00:00Z",
            Some(failing_since(T0)),
            vec![("open", Failing, false)],
        ),
        step(
            "still failing",
            "2026-11-21T09:10:00Z",
            Some(failing_since(T0)),
            vec![],
        ),
        // The ledger is what a restarted daemon reads back: nothing new.
        step(
            "after a restart",
            "2026-11-22T09:00:00Z",
            Some(failing_since(T0)),
            vec![],
        ),
        step(
            "recovered",
            "2026-11-22T10:00:00Z",
            Some(SourceState {
                last_success: Some(at("2026-11-22T10:00:00Z")),
                ..ok_state()
            }),
            vec![("resolve", Failing, true)],
        ),
        step(
            "healthy again",
            "2026-11-22T10:10:00Z",
            Some(ok_state()),
            vec![],
        ),
        // A new run of failures is a new incident, after its own 24 hours.
        step(
            "fails again 1 h",
            "2026-11-23T11:00:00Z",
            Some(failing_since("2026-11-23T10:00:00Z")),
            vec![],
        ),
        step(
            "fails again 25 h",
            "2026-11-24T11:00:00Z",
            Some(failing_since("2026-11-23T10:00:00Z")),
            vec![("open", Failing, false)],
        ),
    ]);
    assert_eq!(ledger.len(), 2);
    let first = &ledger[0];
    assert_eq!(first.since, at(T0));
    assert_eq!(
        first.alert.message_id,
        format!("<alert.cuf.failing.{}@x.example.org>", at(T0).timestamp())
    );
    assert_eq!(
        first.recovery.as_ref().map(|r| r.message_id.clone()),
        Some(format!(
            "<recovered.cuf.failing.{}@x.example.org>",
            at(T0).timestamp()
        ))
    );
    assert_eq!(
        first.error.as_deref(),
        Some("https://partner.example.org/feed: server error 500")
    );
}

#[test]
fn silence_alerts_once_and_ends_with_a_new_item() {
    use IncidentKind::*;
    let quiet = |last: &str| SourceState {
        last_new_item: Some(at(last)),
        ..ok_state()
    };
    let ledger = run(vec![
        step(
            "44 days",
            "2026-11-20T08:00:00Z",
            Some(quiet("2026-10-07T08:00:00Z")),
            vec![],
        ),
        step(
            "46 days",
            "2026-11-22T08:00:00Z",
            Some(quiet("2026-10-07T08:00:00Z")),
            vec![("open", Silent, false)],
        ),
        step(
            "47 days",
            "2026-11-23T08:00:00Z",
            Some(quiet("2026-10-07T08:00:00Z")),
            vec![],
        ),
        // Failing for a few hours does not end a silence, and is no failing incident yet.
        step(
            "silent and failing 2 h",
            "2026-11-23T10:00:00Z",
            Some(SourceState {
                last_new_item: Some(at("2026-10-07T08:00:00Z")),
                ..failing_since("2026-11-23T08:00:00Z")
            }),
            vec![],
        ),
        step(
            "new item",
            "2026-11-24T08:00:00Z",
            Some(quiet("2026-11-24T07:00:00Z")),
            vec![("resolve", Silent, true)],
        ),
    ]);
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].since, at("2026-10-07T08:00:00Z"));
}

#[test]
fn a_new_source_with_an_empty_feed_is_silent_only_after_the_threshold() {
    let never = |watched: &str| SourceState {
        last_new_item: None,
        watched_since: Some(at(watched)),
        ..ok_state()
    };
    run(vec![
        step(
            "watched 2 days",
            "2026-11-20T08:00:00Z",
            Some(never("2026-11-18T08:00:00Z")),
            vec![],
        ),
        step(
            "watched 46 days",
            "2027-01-03T09:00:00Z",
            Some(never("2026-11-18T08:00:00Z")),
            vec![("open", IncidentKind::Silent, false)],
        ),
    ]);
}

#[test]
fn endings_that_are_not_recoveries_send_no_note() {
    use IncidentKind::*;
    let retired = SourceState {
        retired_at: Some(at("2026-11-22T08:00:00Z")),
        last_status: Some(410),
        ..failing_since(T0)
    };
    run(vec![
        step(
            "failing 25 h",
            "2026-11-21T09:00:00Z",
            Some(failing_since(T0)),
            vec![("open", Failing, false)],
        ),
        // Failing turned into gone: the failing incident closes quietly, a retired one opens.
        step(
            "gone",
            "2026-11-22T08:00:00Z",
            Some(retired.clone()),
            vec![("resolve", Failing, false), ("open", Retired, false)],
        ),
        Step {
            paused: true,
            ..step(
                "paused by the operator",
                "2026-11-22T09:00:00Z",
                Some(retired),
                vec![("resolve", Retired, false)],
            )
        },
    ]);
    run(vec![
        step(
            "failing 25 h",
            "2026-11-21T09:00:00Z",
            Some(failing_since(T0)),
            vec![("open", Failing, false)],
        ),
        step(
            "removed from the configuration",
            "2026-11-21T10:00:00Z",
            None,
            vec![("resolve", Failing, false)],
        ),
    ]);
}

#[test]
fn an_alert_never_delivered_is_dropped_when_the_source_recovers() {
    let ledger = run(vec![
        Step {
            delivered: false,
            ..step(
                "failing 25 h, mail server down",
                "2026-11-21T09:00:00Z",
                Some(failing_since(T0)),
                vec![("open", IncidentKind::Failing, false)],
            )
        },
        step(
            "recovered before any delivery",
            "2026-11-21T10:00:00Z",
            Some(ok_state()),
            vec![("resolve", IncidentKind::Failing, false)],
        ),
    ]);
    assert_eq!(ledger[0].alert.state, NoticeState::Dropped);
    assert!(ledger[0].recovery.is_none());
}

#[test]
fn a_delivery_cut_by_a_stop_is_resent_only_if_the_body_was_not_handed_over() {
    let now = at(T0);
    let mut before = Notice::pending("<a@x>".into(), now);
    before.state = NoticeState::Sending;
    assert!(after_crash(&mut before, now));
    assert_eq!(before.state, NoticeState::Pending);
    assert!(due(&before, now));

    let mut after = Notice::pending("<a@x>".into(), now);
    after.state = NoticeState::Sending;
    after.handed_over = true;
    assert!(after_crash(&mut after, now));
    assert_eq!(after.state, NoticeState::Failed);
    assert!(!due(&after, now));
    assert!(after.error.unwrap().starts_with("delivery uncertain"));

    let mut sent = Notice::pending("<a@x>".into(), now);
    sent.state = NoticeState::Sent;
    assert!(!after_crash(&mut sent, now));
    let mut later = Notice::pending("<a@x>".into(), now);
    later.retry_at = Some(now + chrono::Duration::minutes(2));
    assert!(!due(&later, now));
    assert!(due(&later, now + chrono::Duration::minutes(2)));
}

#[test]
fn messages_name_the_source_and_the_error_in_french_and_english() {
    let now = at("2026-11-21T09:00:00Z");
    let h = health::assess(
        &source("cuf", false),
        Some(&failing_since(T0)),
        3,
        now,
        &HealthConfig::default(),
    );
    let changes = detect(
        std::slice::from_ref(&h),
        &[],
        now,
        Duration::from_secs(24 * 3600),
        "x.example.org",
    );
    let Some(Change::Open(i)) = changes.first() else {
        panic!("no incident: {changes:?}")
    };
    let mut a = AlertsConfig {
        to: vec!["admin@example.org".into()],
        from: "relais@example.org".into(),
        failing_after: Duration::from_secs(24 * 3600),
        check_every: Duration::from_secs(600),
        weekly_summary: None,
        timezone: chrono_tz::Europe::Paris,
        locale: Locale::Fr,
    };
    let base = url::Url::parse("https://veille.example.org/").unwrap();
    let (subject, text) = alert_text(i, Some(&h), &a, &base);
    assert_eq!(
        subject,
        "relais : la source « CUF » est en échec depuis 25 heures"
    );
    assert!(
        text.contains("(cuf) est en échec depuis le 2026-11-20 09:00 CET (4 échecs consécutifs)"),
        "{text}"
    );
    assert!(
        text.contains("Dernière erreur : https://partner.example.org/feed: server error 500"),
        "{text}"
    );
    a.locale = Locale::En;
    let (subject, text) = alert_text(i, Some(&h), &a, &base);
    assert_eq!(subject, "relais: source \"CUF\" failing for 25 hours");
    assert!(
        text.contains("Last error: https://partner.example.org/feed: server error 500"),
        "{text}"
    );

    let mut ended = i.clone();
    ended.resolved_at = Some(at("2026-11-23T09:00:00Z"));
    let fine = health::assess(
        &source("cuf", false),
        Some(&ok_state()),
        3,
        now,
        &HealthConfig::default(),
    );
    let (subject, text) = recovery_text(&ended, Some(&fine), &a);
    assert_eq!(subject, "relais: source \"CUF\" recovered");
    assert!(
        text.contains("It had been failing since 2026-11-20 09:00 CET (3 days)"),
        "{text}"
    );
    a.locale = Locale::Fr;
    let (subject, text) = summary_text(&[h, fine], at("2026-11-23T07:00:00Z"), now, &a, &base);
    assert_eq!(subject, "relais : santé des sources, semaine du 2026-11-23");
    assert!(text.contains("     1  en échec\n"), "{text}");
    assert!(
        text.contains("- CUF (cuf) : en échec depuis le 2026-11-20 09:00 CET"),
        "{text}"
    );
}

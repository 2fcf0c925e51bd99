//! Metrics for `GET /metrics`, in the Prometheus text exposition format 0.0.4.
//!
//! [`Metrics`] holds the counters: plain atomics (and one small map for fetches, whose
//! label set is only known as statuses come in), owned by the daemon and shared through
//! an `Arc` — no global registry, so two daemons in one process (parallel tests) never
//! share a count. The daemon feeds it every poll report, the server counts document
//! requests, digests and alerts count their sends. Gauges that describe the present
//! (sources by status, store size, last scheduler wake-ups) are read at scrape time
//! and passed to [`Metrics::render`] as a [`Snapshot`].
//!
//! Written by hand rather than with `prometheus-client`: that crate writes OpenMetrics
//! (`# EOF`, `_created`, its own content type), while the scrape format asked for here is
//! the classic 0.0.4 text; the format is a few lines of code, and owning it keeps the
//! label escaping (`\\`, `\"`, `\n`) visible and tested.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::model::SourceStatus;
use crate::refresh::{Outcome, Report};

/// The media type of the exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the fetch duration histogram: a local file or a 304 in
/// milliseconds, a slow partner CMS in seconds, the default deadline at 30 s.
const FETCH_BUCKETS: [f64; 11] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The kinds of published documents, as labels.
pub const DOCUMENT_KINDS: [&str; 3] = ["page", "feed", "asset"];

/// Everything counted since the process started.
#[derive(Debug)]
pub struct Metrics {
    started: DateTime<Utc>,
    /// (outcome label, HTTP status or "none") → polls.
    fetches: Mutex<BTreeMap<(&'static str, String), u64>>,
    /// Non-cumulative counts per bucket of [`FETCH_BUCKETS`], then the overflow.
    fetch_buckets: [AtomicU64; FETCH_BUCKETS.len() + 1],
    fetch_micros: AtomicU64,
    items_new: AtomicU64,
    items_updated: AtomicU64,
    stories_merged: AtomicU64,
    /// Per [`DOCUMENT_KINDS`]: requests, and those answered 304.
    documents: [AtomicU64; 3],
    not_modified: [AtomicU64; 3],
    digests_sent: AtomicU64,
    digests_failed: AtomicU64,
    alerts_sent: AtomicU64,
    alerts_failed: AtomicU64,
}

/// The gauges read at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub sources: Vec<(SourceStatus, usize)>,
    /// `None` when the store could not say.
    pub store_bytes: Option<u64>,
    /// Unix seconds of the digest scheduler's last wake-up; 0 = never.
    pub digest_tick: i64,
    /// Unix seconds of the alert checker's last run; 0 = never.
    pub alerts_check: i64,
}

impl Metrics {
    pub fn new(started: DateTime<Utc>) -> Metrics {
        Metrics {
            started,
            fetches: Mutex::new(BTreeMap::new()),
            fetch_buckets: Default::default(),
            fetch_micros: AtomicU64::new(0),
            items_new: AtomicU64::new(0),
            items_updated: AtomicU64::new(0),
            stories_merged: AtomicU64::new(0),
            documents: Default::default(),
            not_modified: Default::default(),
            digests_sent: AtomicU64::new(0),
            digests_failed: AtomicU64::new(0),
            alerts_sent: AtomicU64::new(0),
            alerts_failed: AtomicU64::new(0),
        }
    }

    /// Counts one poll.
    pub fn poll(&self, report: &Report) {
        let status = report
            .status
            .map_or_else(|| "none".to_string(), |s| s.to_string());
        {
            let mut fetches = self
                .fetches
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *fetches.entry((report.outcome.label(), status)).or_insert(0) += 1;
        }
        self.observe_fetch(report.duration);
        if let Outcome::Stored { new, updated, .. } = report.outcome {
            add(&self.items_new, new);
            add(&self.items_updated, updated);
        }
        add(&self.stories_merged, report.merged);
    }

    fn observe_fetch(&self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        let slot = FETCH_BUCKETS
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(FETCH_BUCKETS.len());
        if let Some(b) = self.fetch_buckets.get(slot) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        self.fetch_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Counts a request for a published document of `kind` (one of [`DOCUMENT_KINDS`]),
    /// answered 304 or not.
    pub fn document(&self, kind: &str, not_modified: bool) {
        if let Some(i) = DOCUMENT_KINDS.iter().position(|k| *k == kind) {
            if let Some(c) = self.documents.get(i) {
                c.fetch_add(1, Ordering::Relaxed);
            }
            if not_modified {
                if let Some(c) = self.not_modified.get(i) {
                    c.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Counts a digest delivery attempt.
    pub fn digest(&self, sent: bool) {
        outcome(&self.digests_sent, &self.digests_failed, sent);
    }

    /// Counts an alert delivery attempt.
    pub fn alert(&self, sent: bool) {
        outcome(&self.alerts_sent, &self.alerts_failed, sent);
    }

    /// The exposition text.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let mut out = String::with_capacity(4096);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);

        header(
            &mut out,
            "relais_build_info",
            "gauge",
            "The running relais; the value is always 1.",
        );
        sample(
            &mut out,
            "relais_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1.0,
        );
        header(
            &mut out,
            "process_start_time_seconds",
            "gauge",
            "When the process started, in Unix seconds.",
        );
        sample(
            &mut out,
            "process_start_time_seconds",
            &[],
            self.started.timestamp() as f64,
        );

        header(
            &mut out,
            "relais_fetches_total",
            "counter",
            "Polls of sources, by outcome and HTTP status (none: no response).",
        );
        let fetches = self
            .fetches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for ((outcome, status), n) in &fetches {
            sample(
                &mut out,
                "relais_fetches_total",
                &[("outcome", outcome), ("status", status)],
                *n as f64,
            );
        }

        header(
            &mut out,
            "relais_fetch_duration_seconds",
            "histogram",
            "Time taken by one poll, fetch to store.",
        );
        let mut cumulative = 0;
        for (i, le) in FETCH_BUCKETS.iter().enumerate() {
            cumulative += self.fetch_buckets.get(i).map_or(0, load);
            sample(
                &mut out,
                "relais_fetch_duration_seconds_bucket",
                &[("le", &format_value(*le))],
                cumulative as f64,
            );
        }
        cumulative += self.fetch_buckets.get(FETCH_BUCKETS.len()).map_or(0, load);
        sample(
            &mut out,
            "relais_fetch_duration_seconds_bucket",
            &[("le", "+Inf")],
            cumulative as f64,
        );
        sample(
            &mut out,
            "relais_fetch_duration_seconds_sum",
            &[],
            load(&self.fetch_micros) as f64 / 1e6,
        );
        sample(
            &mut out,
            "relais_fetch_duration_seconds_count",
            &[],
            cumulative as f64,
        );

        for (name, help, value) in [
            (
                "relais_items_new_total",
                "Items stored for the first time.",
                &self.items_new,
            ),
            (
                "relais_items_updated_total",
                "Stored items edited by their publisher.",
                &self.items_updated,
            ),
            (
                "relais_stories_merged_total",
                "New items that joined another item's story.",
                &self.stories_merged,
            ),
        ] {
            header(&mut out, name, "counter", help);
            sample(&mut out, name, &[], load(value) as f64);
        }

        header(
            &mut out,
            "relais_document_requests_total",
            "counter",
            "Requests for published documents (feeds, pages, assets), by kind.",
        );
        for (i, kind) in DOCUMENT_KINDS.iter().enumerate() {
            sample(
                &mut out,
                "relais_document_requests_total",
                &[("kind", kind)],
                self.documents.get(i).map_or(0, load) as f64,
            );
        }
        header(
            &mut out,
            "relais_document_not_modified_total",
            "counter",
            "Requests for published documents answered 304 Not Modified, by kind.",
        );
        for (i, kind) in DOCUMENT_KINDS.iter().enumerate() {
            sample(
                &mut out,
                "relais_document_not_modified_total",
                &[("kind", kind)],
                self.not_modified.get(i).map_or(0, load) as f64,
            );
        }

        for (name, help, sent, failed) in [
            (
                "relais_digest_sends_total",
                "Digest delivery attempts, by outcome (failed includes retried ones).",
                &self.digests_sent,
                &self.digests_failed,
            ),
            (
                "relais_alert_sends_total",
                "Operator alert deliveries, by outcome.",
                &self.alerts_sent,
                &self.alerts_failed,
            ),
        ] {
            header(&mut out, name, "counter", help);
            sample(&mut out, name, &[("outcome", "sent")], load(sent) as f64);
            sample(
                &mut out,
                name,
                &[("outcome", "failed")],
                load(failed) as f64,
            );
        }

        header(
            &mut out,
            "relais_sources",
            "gauge",
            "Configured sources, by health status.",
        );
        for (status, n) in &snapshot.sources {
            sample(
                &mut out,
                "relais_sources",
                &[("status", status.as_str())],
                *n as f64,
            );
        }
        if let Some(bytes) = snapshot.store_bytes {
            header(
                &mut out,
                "relais_store_size_bytes",
                "gauge",
                "Bytes the store's files take on disk.",
            );
            sample(&mut out, "relais_store_size_bytes", &[], bytes as f64);
        }
        header(
            &mut out,
            "relais_digest_last_tick_timestamp_seconds",
            "gauge",
            "When the digest scheduler last woke up, in Unix seconds (0: never).",
        );
        sample(
            &mut out,
            "relais_digest_last_tick_timestamp_seconds",
            &[],
            snapshot.digest_tick as f64,
        );
        header(
            &mut out,
            "relais_alerts_last_check_timestamp_seconds",
            "gauge",
            "When source health was last checked for alerts, in Unix seconds (0: never).",
        );
        sample(
            &mut out,
            "relais_alerts_last_check_timestamp_seconds",
            &[],
            snapshot.alerts_check as f64,
        );
        out
    }
}

fn outcome(sent: &AtomicU64, failed: &AtomicU64, ok: bool) {
    (if ok { sent } else { failed }).fetch_add(1, Ordering::Relaxed);
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape_label(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", format_value(value));
}

/// A label value as the format wants it: backslash, double quote and line feed escaped.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Integers without a fraction, others as Rust prints them; infinities as the format
/// spells them.
fn format_value(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else if v.is_nan() {
        "NaN".to_string()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(outcome: Outcome, status: Option<u16>, ms: u64, merged: usize) -> Report {
        Report {
            source: "cuf".into(),
            outcome,
            status,
            duration: Duration::from_millis(ms),
            next_poll: Utc::now(),
            merged,
        }
    }

    #[test]
    fn counts_render_as_exposition_text() {
        let m = Metrics::new(DateTime::from_timestamp(1_764_000_000, 0).unwrap());
        m.poll(&report(
            Outcome::Stored {
                new: 3,
                updated: 1,
                unchanged: 2,
            },
            Some(200),
            30,
            1,
        ));
        m.poll(&report(Outcome::NotModified, Some(304), 5, 0));
        m.poll(&report(
            Outcome::Failed { error: "x".into() },
            None,
            70_000,
            0,
        ));
        m.document("feed", false);
        m.document("feed", true);
        m.document("page", false);
        m.document("nonsense", true);
        m.digest(true);
        m.alert(false);
        let text = m.render(&Snapshot {
            sources: vec![(SourceStatus::Ok, 2), (SourceStatus::Silent, 1)],
            store_bytes: Some(4096),
            digest_tick: 1_764_000_060,
            alerts_check: 0,
        });
        for line in [
            "relais_build_info{version=\"",
            "process_start_time_seconds 1764000000\n",
            "relais_fetches_total{outcome=\"ok\",status=\"200\"} 1\n",
            "relais_fetches_total{outcome=\"not-modified\",status=\"304\"} 1\n",
            "relais_fetches_total{outcome=\"failed\",status=\"none\"} 1\n",
            "relais_fetch_duration_seconds_bucket{le=\"0.01\"} 1\n",
            "relais_fetch_duration_seconds_bucket{le=\"0.05\"} 2\n",
            "relais_fetch_duration_seconds_bucket{le=\"60\"} 2\n",
            "relais_fetch_duration_seconds_bucket{le=\"+Inf\"} 3\n",
            "relais_fetch_duration_seconds_sum 70.035\n",
            "relais_fetch_duration_seconds_count 3\n",
            "relais_items_new_total 3\n",
            "relais_items_updated_total 1\n",
            "relais_stories_merged_total 1\n",
            "relais_document_requests_total{kind=\"feed\"} 2\n",
            "relais_document_requests_total{kind=\"page\"} 1\n",
            "relais_document_not_modified_total{kind=\"feed\"} 1\n",
            "relais_document_not_modified_total{kind=\"page\"} 0\n",
            "relais_digest_sends_total{outcome=\"sent\"} 1\n",
            "relais_alert_sends_total{outcome=\"failed\"} 1\n",
            "relais_sources{status=\"silent\"} 1\n",
            "relais_store_size_bytes 4096\n",
            "relais_digest_last_tick_timestamp_seconds 1764000060\n",
            "# TYPE relais_fetch_duration_seconds histogram\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(3.0), "3");
    }
}

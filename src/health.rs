//! Source health as operators see it: from a configured source, what the store
//! remembers of its polls ([`SourceState`]), its item count, the time and the
//! `[health]` thresholds, one verdict — ok, failing (since when, how many failures in a
//! row, the last error), retired (410 Gone), silent (no new item for `silent_after`),
//! or paused — with the dates that explain it.
//!
//! One place decides, so that `relais sources` (text and `--json`), the `/` page,
//! `/metrics`, the admin API and alerts never disagree. [`assess`] and [`status`] are
//! pure (the time is passed in); [`gather`] is the one function here that reads the
//! store, for callers that hold one.
//!
//! A source is silent when relais has polled it fine for `silent_after` without seeing a
//! new item. The silence is counted from its last new item; a source that never brought
//! one (a feed that is empty, or whose items were all pruned before) is counted from when
//! relais first polled it (`watched_since`), so a freshly added source is not called
//! silent before it has been watched that long. A source whose state predates
//! `watched_since` starts that clock at its next poll.

use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{Config, HealthConfig, Source};
use crate::model::{SourceState, SourceStatus};
use crate::store::{Store, StoreError};

/// One source's health: the `sources[]` shape of `relais sources --json` and of the
/// admin API (`id`, `title`, `url`, `status`, `last_success`, `last_error`, `failures`,
/// `next_poll`, `items`, then what explains the status).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub id: String,
    pub title: String,
    /// The configured URL or file path.
    pub url: String,
    pub status: SourceStatus,
    pub last_success: Option<DateTime<Utc>>,
    /// Verbatim, naming the URL.
    pub last_error: Option<String>,
    /// Consecutive failures; 0 when the last poll succeeded.
    pub failures: u32,
    pub next_poll: Option<DateTime<Utc>>,
    pub items: u64,
    /// Start of the current run of failures.
    pub failing_since: Option<DateTime<Utc>>,
    pub last_new_item: Option<DateTime<Utc>>,
    /// Set when silent: the start of the silence (the last new item, or when relais
    /// started watching a source that never brought one).
    pub silent_since: Option<DateTime<Utc>>,
    pub retired_at: Option<DateTime<Utc>>,
    pub last_poll: Option<DateTime<Utc>>,
    /// When relais first polled the source.
    pub watched_since: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    /// Where a permanent redirect moved the source, polled instead of `url`.
    pub permanent_url: Option<String>,
}

/// Since when a source has brought nothing new, if it has been polled at all: its last
/// new item, else when relais started watching it.
pub fn quiet_since(state: &SourceState) -> Option<DateTime<Utc>> {
    state.last_new_item.or(state.watched_since)
}

impl Health {
    /// Since when the source has brought nothing new (see [`quiet_since`]).
    pub fn quiet_since(&self) -> Option<DateTime<Utc>> {
        self.last_new_item.or(self.watched_since)
    }
}

/// The status of a source at `now`. Paused wins (the operator said so), then retired,
/// failing and silent; a source never polled yet is `ok` (nothing is known against it).
pub fn status(
    state: Option<&SourceState>,
    paused: bool,
    now: DateTime<Utc>,
    silent_after: Duration,
) -> SourceStatus {
    let status = SourceStatus::of(state, paused);
    match (status, state) {
        (SourceStatus::Ok, Some(s)) if is_silent(s, now, silent_after) => SourceStatus::Silent,
        _ => status,
    }
}

fn is_silent(state: &SourceState, now: DateTime<Utc>, silent_after: Duration) -> bool {
    let after = chrono::Duration::from_std(silent_after).unwrap_or(chrono::Duration::MAX);
    quiet_since(state).is_some_and(|since| now.signed_duration_since(since) >= after)
}

/// The health of `source` at `now`.
pub fn assess(
    source: &Source,
    state: Option<&SourceState>,
    items: u64,
    now: DateTime<Utc>,
    thresholds: &HealthConfig,
) -> Health {
    let status = status(state, source.paused, now, thresholds.silent_after);
    Health {
        id: source.id.clone(),
        title: source.title.clone(),
        url: source.location.to_string(),
        status,
        last_success: state.and_then(|s| s.last_success),
        last_error: state.and_then(|s| s.last_error.clone()),
        failures: state.map_or(0, |s| s.failures),
        next_poll: state.and_then(|s| s.next_poll),
        items,
        failing_since: state.and_then(|s| s.failing_since),
        last_new_item: state.and_then(|s| s.last_new_item),
        silent_since: state
            .filter(|_| status == SourceStatus::Silent)
            .and_then(quiet_since),
        retired_at: state.and_then(|s| s.retired_at),
        last_poll: state.and_then(|s| s.last_poll),
        watched_since: state.and_then(|s| s.watched_since),
        last_status: state.and_then(|s| s.last_status),
        permanent_url: state.and_then(|s| s.permanent_url.clone()),
    }
}

/// Every configured source's health at `now`, in configuration order, read from the
/// store.
pub fn gather(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Vec<Health>, StoreError> {
    let mut states: std::collections::HashMap<String, SourceState> = store
        .source_states()?
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    let mut out = Vec::with_capacity(config.sources.len());
    for source in &config.sources {
        let state = states.remove(&source.id);
        let items = store.count_items(Some(&source.id))?;
        out.push(assess(source, state.as_ref(), items, now, &config.health));
    }
    Ok(out)
}

/// The JSON document of `relais sources --json`: `{ "sources": [ … ] }`.
pub fn sources_json(health: &[Health]) -> serde_json::Value {
    serde_json::json!({ "sources": health })
}

/// [`gather`] then [`sources_json`]: what `relais sources --json` prints and the admin
/// API's `GET /admin/api/sources` serves.
pub fn sources_document(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<serde_json::Value, StoreError> {
    Ok(sources_json(&gather(config, store, now)?))
}

/// How many sources are in each status, every status listed (zeros included), in a
/// fixed order: what `/metrics` exposes.
pub fn count_by_status(health: &[Health]) -> [(SourceStatus, usize); 5] {
    let mut out = [
        (SourceStatus::Ok, 0),
        (SourceStatus::Failing, 0),
        (SourceStatus::Silent, 0),
        (SourceStatus::Retired, 0),
        (SourceStatus::Paused, 0),
    ];
    for h in health {
        if let Some(slot) = out.iter_mut().find(|(s, _)| *s == h.status) {
            slot.1 += 1;
        }
    }
    out
}

/// `relais sources` without `--json`: three or four lines per source.
pub fn write_text(
    out: &mut dyn Write,
    health: &[Health],
    now: DateTime<Utc>,
) -> std::io::Result<()> {
    let when = |d: Option<DateTime<Utc>>| d.map_or_else(|| "never".into(), short_time);
    for h in health {
        let verdict = match h.status {
            SourceStatus::Failing => format!(
                "failing since {} ({} failure{})",
                when(h.failing_since),
                h.failures,
                if h.failures == 1 { "" } else { "s" }
            ),
            SourceStatus::Retired => format!("retired {} (410 Gone)", when(h.retired_at)),
            SourceStatus::Silent => format!(
                "silent: no new item since {}{}",
                when(h.silent_since),
                h.silent_since
                    .map(|s| format!(" ({} days)", now.signed_duration_since(s).num_days()))
                    .unwrap_or_default()
            ),
            SourceStatus::Ok if h.last_poll.is_none() => "ok (not polled yet)".to_string(),
            other => other.as_str().to_string(),
        };
        writeln!(out, "{:<20} {}", h.id, verdict)?;
        writeln!(out, "    {} — {}", h.title, h.url)?;
        writeln!(
            out,
            "    {} items; last success {}; last new item {}; next poll {}",
            h.items,
            when(h.last_success),
            when(h.last_new_item),
            when(h.next_poll),
        )?;
        if let Some(error) = &h.last_error {
            writeln!(out, "    last error: {error}")?;
        }
    }
    Ok(())
}

fn short_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Location;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn source(paused: bool) -> Source {
        Source {
            id: "cuf".into(),
            title: "CUF".into(),
            location: Location::Http(url::Url::parse("https://cuf.example.org/feed").unwrap()),
            site: None,
            interval: None,
            tags: vec![],
            lang: None,
            paused,
        }
    }

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn status_table() {
        let now = at("2026-11-25T12:00:00Z");
        let fresh = SourceState {
            last_success: Some(at("2026-11-25T11:00:00Z")),
            last_new_item: Some(at("2026-11-20T11:00:00Z")),
            watched_since: Some(at("2026-01-01T00:00:00Z")),
            ..SourceState::default()
        };
        let quiet = |days: i64| SourceState {
            last_new_item: Some(now - chrono::Duration::days(days)),
            ..fresh.clone()
        };
        let failing = SourceState {
            failures: 3,
            failing_since: Some(at("2026-11-24T00:00:00Z")),
            last_error: Some("https://cuf.example.org/feed: 500".into()),
            ..quiet(100)
        };
        let retired = SourceState {
            retired_at: Some(at("2026-11-01T00:00:00Z")),
            ..quiet(100)
        };
        // Never brought a new item: counted from when relais started watching.
        let never_new = |watched_days: i64| SourceState {
            last_new_item: None,
            watched_since: Some(now - chrono::Duration::days(watched_days)),
            ..fresh.clone()
        };
        let legacy = SourceState {
            last_new_item: None,
            watched_since: None,
            ..fresh.clone()
        };
        let cases: Vec<(&str, Option<SourceState>, bool, Duration, SourceStatus)> = vec![
            ("never polled", None, false, 45 * DAY, SourceStatus::Ok),
            (
                "recent item",
                Some(fresh.clone()),
                false,
                45 * DAY,
                SourceStatus::Ok,
            ),
            (
                "44 days quiet",
                Some(quiet(44)),
                false,
                45 * DAY,
                SourceStatus::Ok,
            ),
            (
                "45 days quiet",
                Some(quiet(45)),
                false,
                45 * DAY,
                SourceStatus::Silent,
            ),
            (
                "threshold is configurable",
                Some(quiet(10)),
                false,
                7 * DAY,
                SourceStatus::Silent,
            ),
            (
                "failing wins over silent",
                Some(failing.clone()),
                false,
                45 * DAY,
                SourceStatus::Failing,
            ),
            (
                "retired wins",
                Some(retired),
                false,
                45 * DAY,
                SourceStatus::Retired,
            ),
            (
                "paused wins",
                Some(failing),
                true,
                45 * DAY,
                SourceStatus::Paused,
            ),
            (
                "paused, never polled",
                None,
                true,
                45 * DAY,
                SourceStatus::Paused,
            ),
            (
                "new source, empty feed",
                Some(never_new(2)),
                false,
                45 * DAY,
                SourceStatus::Ok,
            ),
            (
                "empty feed for 50 days",
                Some(never_new(50)),
                false,
                45 * DAY,
                SourceStatus::Silent,
            ),
            (
                "state from before watched_since",
                Some(legacy),
                false,
                45 * DAY,
                SourceStatus::Ok,
            ),
        ];
        for (name, state, paused, after, want) in cases {
            assert_eq!(status(state.as_ref(), paused, now, after), want, "{name}");
        }
    }

    #[test]
    fn assess_carries_what_explains_the_status() {
        let now = at("2026-11-25T12:00:00Z");
        let thresholds = HealthConfig::default();
        let state = SourceState {
            id: "cuf".into(),
            last_success: Some(at("2026-11-25T11:00:00Z")),
            last_poll: Some(at("2026-11-25T11:00:00Z")),
            last_new_item: Some(at("2026-09-01T08:00:00Z")),
            next_poll: Some(at("2026-11-25T11:30:00Z")),
            ..SourceState::default()
        };
        let h = assess(&source(false), Some(&state), 12, now, &thresholds);
        assert_eq!(h.status, SourceStatus::Silent);
        assert_eq!(h.silent_since, Some(at("2026-09-01T08:00:00Z")));
        assert_eq!(h.items, 12);
        let json = serde_json::to_value(&h).unwrap();
        for key in [
            "id",
            "title",
            "url",
            "status",
            "last_success",
            "last_error",
            "failures",
            "next_poll",
            "items",
            "failing_since",
            "last_new_item",
            "silent_since",
        ] {
            assert!(json.get(key).is_some(), "missing {key}: {json}");
        }
        assert_eq!(json["status"], "silent");
        assert_eq!(json["url"], "https://cuf.example.org/feed");

        let mut text = Vec::new();
        write_text(&mut text, &[h], now).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.starts_with(
                "cuf                  silent: no new item since 2026-09-01 08:00 (85 days)\n"
            ),
            "{text}"
        );

        let never = assess(&source(false), None, 0, now, &thresholds);
        assert_eq!(never.status, SourceStatus::Ok);
        assert_eq!(never.silent_since, None);
        let paused = assess(&source(true), Some(&state), 12, now, &thresholds);
        assert_eq!(paused.status, SourceStatus::Paused);
        assert_eq!(paused.silent_since, None);
        assert_eq!(
            count_by_status(&[never, paused]),
            [
                (SourceStatus::Ok, 1),
                (SourceStatus::Failing, 0),
                (SourceStatus::Silent, 0),
                (SourceStatus::Retired, 0),
                (SourceStatus::Paused, 1),
            ]
        );
    }
}

//! Poll: decide *when* each source is refreshed. One task per source sleeps until its
//! next poll, calls `Refresher::refresh`, logs one line, and sleeps again; limits on
//! concurrent requests live in the fetcher, so tasks can simply wait their turn there.
//! Polling never stops for good: failures only lengthen the wait.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::config::Source;
use crate::model::SourceState;
use crate::refresh::{Outcome, Refresher, Report};

/// Where each poll's report goes besides the log (tests, and later metrics).
pub type Reports = Option<mpsc::UnboundedSender<Report>>;

/// Run every unpaused source's poll loop until `shutdown` turns true. A refresh under
/// way when it does is dropped: its store write, if it had begun, completes on its own
/// thread and is atomic, so nothing half-written remains.
///
/// `keep` names the sources whose schedule survives (a reload, for sources it left
/// unchanged): they wait for the `next_poll` their state records instead of polling soon.
pub async fn run(
    refresher: Arc<Refresher>,
    shutdown: watch::Receiver<bool>,
    reports: Reports,
    keep: &HashSet<String>,
) {
    let mut tasks = JoinSet::new();
    let now = Utc::now();
    for source in refresher.config.sources.iter().filter(|s| !s.paused) {
        let state = refresher.store.source_state(&source.id).ok().flatten();
        let interval = refresher.config.interval_of(source);
        let delay = if keep.contains(&source.id) {
            kept_delay(state.as_ref(), interval, now, fastrand::f64())
        } else {
            first_delay(state.as_ref(), interval, now, fastrand::f64())
        };
        tasks.spawn(poll_source(
            Arc::clone(&refresher),
            source.clone(),
            delay,
            shutdown.clone(),
            reports.clone(),
        ));
    }
    for source in refresher.config.sources.iter().filter(|s| s.paused) {
        tracing::info!(source = %source.id, "paused: not polled");
    }
    while tasks.join_next().await.is_some() {}
}

async fn poll_source(
    refresher: Arc<Refresher>,
    source: Source,
    mut delay: Duration,
    mut shutdown: watch::Receiver<bool>,
    reports: Reports,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let report = tokio::select! {
            report = refresher.refresh(&source, Utc::now()) => report,
            _ = shutdown.wait_for(|stop| *stop) => {
                tracing::info!(source = %source.id, "poll cancelled by shutdown");
                return;
            }
        };
        log_report(&report);
        delay = (report.next_poll - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        if let Some(tx) = &reports {
            let _ = tx.send(report);
        }
    }
}

/// When to poll a source first after start: soon (spread over a few seconds so a large
/// network does not stampede), unless it is backing off from failures or was told to
/// wait by Retry-After, which a restart must not forget.
pub fn first_delay(
    state: Option<&SourceState>,
    interval: Duration,
    now: DateTime<Utc>,
    random: f64,
) -> Duration {
    let soon = interval
        .min(Duration::from_secs(3))
        .mul_f64(random.clamp(0.0, 1.0));
    match state {
        Some(s) if s.failures > 0 || s.retired_at.is_some() => s
            .next_poll
            .and_then(|next| (next - now).to_std().ok())
            .unwrap_or(soon)
            .max(soon),
        _ => soon,
    }
}

/// When to poll a source whose schedule survives a reload: at the `next_poll` its state
/// records, or soon if that has passed (or it was never polled: a poll dropped by the
/// reload left no new time).
pub fn kept_delay(
    state: Option<&SourceState>,
    interval: Duration,
    now: DateTime<Utc>,
    random: f64,
) -> Duration {
    let soon = first_delay(None, interval, now, random);
    state
        .and_then(|s| s.next_poll)
        .and_then(|next| (next - now).to_std().ok())
        .map_or(soon, |wait| wait.max(soon))
}

/// The one log line per poll: source, outcome, HTTP status, new and updated items,
/// duration.
pub fn log_report(report: &Report) {
    let status = report.status.map(|s| s.to_string()).unwrap_or_default();
    let duration_ms = report.duration.as_millis() as u64;
    match &report.outcome {
        Outcome::Failed { error } => tracing::warn!(
            source = %report.source,
            outcome = report.outcome.label(),
            status = %status,
            duration_ms,
            next_poll = %report.next_poll.to_rfc3339(),
            error = %error,
            "poll failed"
        ),
        _ => tracing::info!(
            source = %report.source,
            outcome = report.outcome.label(),
            status = %status,
            new = report.new_items(),
            updated = report.updated_items(),
            duration_ms,
            next_poll = %report.next_poll.to_rfc3339(),
            "polled"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_poll_is_soon_unless_backing_off() {
        let now = Utc::now();
        let hour = Duration::from_secs(3600);
        assert_eq!(first_delay(None, hour, now, 0.0), Duration::ZERO);
        assert_eq!(first_delay(None, hour, now, 1.0), Duration::from_secs(3));
        let healthy = SourceState {
            next_poll: Some(now + chrono::Duration::hours(1)),
            ..SourceState::default()
        };
        assert_eq!(first_delay(Some(&healthy), hour, now, 0.0), Duration::ZERO);
        let failing = SourceState {
            failures: 3,
            next_poll: Some(now + chrono::Duration::minutes(20)),
            ..SourceState::default()
        };
        let d = first_delay(Some(&failing), hour, now, 0.0);
        assert!(d > Duration::from_secs(19 * 60) && d <= Duration::from_secs(20 * 60));
        let overdue = SourceState {
            failures: 3,
            next_poll: Some(now - chrono::Duration::minutes(20)),
            ..SourceState::default()
        };
        assert_eq!(first_delay(Some(&overdue), hour, now, 0.0), Duration::ZERO);
    }

    #[test]
    fn a_kept_schedule_waits_for_the_recorded_next_poll() {
        let now = Utc::now();
        let hour = Duration::from_secs(3600);
        let healthy = SourceState {
            next_poll: Some(now + chrono::Duration::minutes(40)),
            ..SourceState::default()
        };
        let d = kept_delay(Some(&healthy), hour, now, 0.0);
        assert!(d > Duration::from_secs(39 * 60) && d <= Duration::from_secs(40 * 60));
        let overdue = SourceState {
            next_poll: Some(now - chrono::Duration::minutes(1)),
            ..SourceState::default()
        };
        assert_eq!(kept_delay(Some(&overdue), hour, now, 0.0), Duration::ZERO);
        assert_eq!(kept_delay(None, hour, now, 1.0), Duration::from_secs(3));
    }
}

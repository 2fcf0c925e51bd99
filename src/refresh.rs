//! Refresh one source, top to bottom: fetch → parse → normalise → store → record the
//! outcome. This is the only place the stages meet; schedulers (`poll`, `relais fetch`)
//! only decide *when* to call it. Whatever happens, the outcome is recorded in the
//! source's state where operators see it, and items stored before are never touched by a
//! failure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use crate::config::{Config, Location, Source};
use crate::fetch::{Fetched, Fetcher, Validators};
use crate::model::SourceState;
use crate::normalise::{self, Context};
use crate::parse;
use crate::store::Store;

/// How one poll of a source ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server answered 304.
    NotModified,
    /// A body came back, identical to the last one processed.
    Unchanged,
    /// A body was parsed and stored.
    Stored {
        new: usize,
        updated: usize,
        unchanged: usize,
    },
    /// 410 Gone: the source is retired.
    Retired,
    /// The poll failed; the error is recorded on the source.
    Failed { error: String },
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::NotModified => "not-modified",
            Outcome::Unchanged => "unchanged",
            Outcome::Stored { .. } => "ok",
            Outcome::Retired => "retired",
            Outcome::Failed { .. } => "failed",
        }
    }
}

/// The outcome of one refresh, with what the scheduler and the log need.
#[derive(Debug, Clone)]
pub struct Report {
    pub source: String,
    pub outcome: Outcome,
    pub status: Option<u16>,
    pub duration: Duration,
    pub next_poll: DateTime<Utc>,
    /// New items that joined another item's story (for metrics).
    pub merged: usize,
}

impl Report {
    pub fn new_items(&self) -> usize {
        match self.outcome {
            Outcome::Stored { new, .. } => new,
            _ => 0,
        }
    }
    pub fn updated_items(&self) -> usize {
        match self.outcome {
            Outcome::Stored { updated, .. } => updated,
            _ => 0,
        }
    }
}

/// Everything a refresh needs, shared by every poll.
pub struct Refresher {
    pub config: Arc<Config>,
    pub fetcher: Fetcher,
    pub store: Arc<Store>,
    /// Bounds parse + normalise + store to one at a time per core. Fetch limits alone do
    /// not: a fetch slot is free again once the body is in, so a thousand sources due
    /// together would otherwise parse at once on blocking threads, each holding its
    /// document tree (hundreds of MiB for nothing; the work is CPU-bound anyway).
    processing: tokio::sync::Semaphore,
}

impl Refresher {
    pub fn new(config: Arc<Config>, fetcher: Fetcher, store: Arc<Store>) -> Refresher {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Refresher {
            config,
            fetcher,
            store,
            processing: tokio::sync::Semaphore::new(cores),
        }
    }

    /// Poll `source` once now, store what it yields and record the outcome.
    pub async fn refresh(&self, source: &Source, now: DateTime<Utc>) -> Report {
        let started = Instant::now();
        let interval = self.config.interval_of(source);
        let mut state = match self.store.source_state(&source.id) {
            Ok(state) => state.unwrap_or_else(|| SourceState {
                id: source.id.clone(),
                ..SourceState::default()
            }),
            Err(e) => {
                // Without its state the source cannot be polled safely; try again later.
                let error = format!("{}: cannot read source state: {e}", source.id);
                return Report {
                    source: source.id.clone(),
                    outcome: Outcome::Failed { error },
                    status: None,
                    duration: started.elapsed(),
                    next_poll: now + chrono_duration(interval),
                    merged: 0,
                };
            }
        };

        let location = effective_location(source, &state);
        let validators = Validators {
            etag: state.etag.clone(),
            last_modified: state.last_modified.clone(),
        };
        state.last_poll = Some(now);
        state.watched_since.get_or_insert(now);
        // Set only by a 429/503 that said how long to wait, for this URL only.
        let mut retry_after = None;

        let mut merged = 0;
        let next_if_ok = now + chrono_duration(jittered(interval, fastrand::f64()));
        let (outcome, status) = match self.fetcher.fetch(&location, &validators).await {
            Ok(Fetched::NotModified) => {
                mark_success(&mut state, now);
                (Outcome::NotModified, Some(304))
            }
            Ok(Fetched::Gone { status }) => {
                state.retired_at.get_or_insert(now);
                state.last_error = Some(format!("{location}: gone ({status}): source retired"));
                (Outcome::Retired, Some(status))
            }
            Ok(Fetched::Body(body)) => {
                let status = Some(body.status);
                let hash = body_hash(&body.bytes);
                if state.body_hash.as_deref() == Some(hash.as_str()) {
                    state.etag = body.etag;
                    state.last_modified = body.last_modified;
                    mark_success(&mut state, now);
                    (Outcome::Unchanged, status)
                } else {
                    // Closed only if the refresher is dropped, which cannot happen while
                    // it is borrowed here.
                    let _processing = self.processing.acquire().await.ok();
                    let document_url = body.final_url.clone().or_else(|| match &location {
                        Location::Http(url) => Some(url.clone()),
                        Location::File(_) => None,
                    });
                    let parsed = parse_and_normalise(
                        body.bytes,
                        body.content_type,
                        document_url,
                        source,
                        now,
                    )
                    .await;
                    match parsed {
                        Ok((feed_title, feed_link, items)) => {
                            state.etag = body.etag;
                            state.last_modified = body.last_modified;
                            state.body_hash = Some(hash);
                            state.feed_title = feed_title;
                            state.feed_link = feed_link;
                            // Only a permanent chain that ends in a feed that parses moves
                            // the source: a captive portal's 301 must not.
                            if let Some(url) = body.permanent_url {
                                state.permanent_url = Some(url.to_string());
                            }
                            mark_success(&mut state, now);
                            // The batch saves the state: it must already say when the
                            // next poll is, or `relais sources` shows "never".
                            state.next_poll = Some(next_if_ok);
                            match self.store_batch(&state, items, now).await {
                                Ok(write) => {
                                    merged = write.merged;
                                    (
                                        Outcome::Stored {
                                            new: write.new,
                                            updated: write.updated,
                                            unchanged: write.unchanged,
                                        },
                                        status,
                                    )
                                }
                                Err(error) => (Outcome::Failed { error }, status),
                            }
                        }
                        Err(error) => (
                            Outcome::Failed {
                                error: format!("{location}: {error}"),
                            },
                            status,
                        ),
                    }
                }
            }
            Err(e) => {
                let status = e.status();
                retry_after = e.retry_after();
                (
                    Outcome::Failed {
                        error: e.to_string(),
                    },
                    status,
                )
            }
        };
        state.last_status = status;

        // Decide when to poll next, and record failures. A stored batch already saved the
        // state; everything else saves it here.
        let next_poll = match &outcome {
            Outcome::Failed { error } => {
                state.failures = state.failures.saturating_add(1);
                state.failing_since.get_or_insert(now);
                state.last_error = Some(error.clone());
                let wait = retry_after.unwrap_or_default().max(backoff(
                    state.failures,
                    interval,
                    self.config.fetch.max_backoff,
                    fastrand::f64(),
                ));
                now + chrono_duration(wait)
            }
            // A retired source is still looked at now and then: if it comes back, it
            // un-retires by itself.
            Outcome::Retired => now + chrono_duration(self.config.fetch.max_backoff),
            _ => next_if_ok,
        };
        state.next_poll = Some(next_poll);
        let stored = matches!(outcome, Outcome::Stored { .. });
        if !stored {
            if let Err(e) = self.save_state(state).await {
                tracing::error!(source = %source.id, error = %e, "cannot save source state");
            }
        }

        Report {
            source: source.id.clone(),
            outcome,
            status,
            duration: started.elapsed(),
            next_poll,
            merged,
        }
    }

    async fn store_batch(
        &self,
        state: &SourceState,
        items: Vec<crate::model::Item>,
        now: DateTime<Utc>,
    ) -> Result<crate::store::PollWrite, String> {
        let store = Arc::clone(&self.store);
        let state = state.clone();
        let id = state.id.clone();
        // sled's flush blocks: keep it off the async workers.
        tokio::task::spawn_blocking(move || store.apply_poll(&state, items, now))
            .await
            .map_err(|e| format!("{id}: store task failed: {e}"))?
            .map_err(|e| format!("{id}: cannot store items: {e}"))
    }

    async fn save_state(&self, state: SourceState) -> Result<(), String> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || store.save_source_state(&state))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }
}

/// Parse and normalise off the async workers: both are CPU work, and a huge document must
/// not stall the other sources' I/O.
async fn parse_and_normalise(
    bytes: Vec<u8>,
    content_type: Option<String>,
    document_url: Option<Url>,
    source: &Source,
    now: DateTime<Utc>,
) -> Result<(Option<String>, Option<String>, Vec<crate::model::Item>), String> {
    let source_id = source.id.clone();
    let lang = source.lang.clone();
    tokio::task::spawn_blocking(move || {
        let feed = parse::parse(&bytes, content_type.as_deref()).map_err(|e| e.to_string())?;
        let cx = Context {
            source: Some(&source_id),
            document_url: document_url.as_ref(),
            default_lang: lang.as_deref(),
            now,
        };
        let items = normalise::normalise(&feed, &cx);
        Ok((
            normalise::feed_title(&feed),
            normalise::feed_link(&feed),
            items,
        ))
    })
    .await
    .map_err(|e| format!("parser task failed: {e}"))?
}

/// Where to poll: the adopted permanent redirect target, else the configured location.
fn effective_location(source: &Source, state: &SourceState) -> Location {
    match (&source.location, &state.permanent_url) {
        (Location::Http(_), Some(url)) => match Url::parse(url) {
            Ok(url) => Location::Http(url),
            Err(_) => source.location.clone(),
        },
        _ => source.location.clone(),
    }
}

fn mark_success(state: &mut SourceState, now: DateTime<Utc>) {
    state.last_success = Some(now);
    state.last_error = None;
    state.failures = 0;
    state.failing_since = None;
    state.retired_at = None;
}

/// Hex SHA-256 of a body, to skip re-processing an unchanged one.
pub fn body_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// Wait before the next poll after `failures` consecutive failures: the interval doubled
/// per failure, capped, with "equal jitter" (half fixed, half random) so sources that
/// failed together do not retry together. `random` is in [0, 1).
pub fn backoff(failures: u32, interval: Duration, cap: Duration, random: f64) -> Duration {
    let exponent = failures.saturating_sub(1).min(32);
    let full = interval
        .checked_mul(1u32 << exponent.min(31))
        .unwrap_or(cap)
        .min(cap);
    full / 2 + full.mul_f64(random.clamp(0.0, 1.0) / 2.0)
}

/// The interval with ±10 % jitter, so sources configured alike spread out over time.
pub fn jittered(interval: Duration, random: f64) -> Duration {
    interval.mul_f64(0.9 + 0.2 * random.clamp(0.0, 1.0))
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_equal_jitter() {
        let min = Duration::from_secs(60);
        let cap = Duration::from_secs(12 * 3600);
        let at = |failures, random| backoff(failures, Duration::from_secs(1800), cap, random);
        assert_eq!(at(1, 0.0), Duration::from_secs(900));
        assert_eq!(at(1, 0.999_999).as_secs(), 1799);
        assert_eq!(at(2, 0.0), Duration::from_secs(1800));
        assert_eq!(at(3, 0.0), Duration::from_secs(3600));
        // Capped, and never stuck: a thousand failures still give a finite wait.
        assert_eq!(at(10, 0.0), cap / 2);
        assert_eq!(at(1000, 0.0), cap / 2);
        assert!(at(1000, 0.99) <= cap);
        assert!(backoff(1, min, cap, 0.5) >= min / 2);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let i = Duration::from_secs(1000);
        assert_eq!(jittered(i, 0.0), Duration::from_secs(900));
        assert_eq!(jittered(i, 1.0), Duration::from_secs(1100));
        assert_eq!(jittered(i, 0.5), Duration::from_secs(1000));
    }

    #[test]
    fn body_hash_is_hex_sha256() {
        assert_eq!(
            body_hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}

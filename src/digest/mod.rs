//! Digests: each `[[digest]]` sends its channels' stories of the week to mailing lists,
//! exactly once per period. This module decides *what* goes out and *when*, and keeps
//! the ledger straight; `render::digest` writes the message's parts, `mail` builds and
//! delivers it, `store` keeps the ledger and the archive.
//!
//! # When
//! The daemon's ticker ([`run`]) wakes up every minute; each time, [`Digester::tick`]
//! asks each digest's [`Schedule`] for its latest occurrence at or before now (in the
//! digest's time zone, so 08:00 stays 08:00 across daylight-saving changes). That
//! occurrence's period (by default the ISO week before it) is due unless the ledger
//! already holds it. After downtime only the latest missed period is sent; the ones
//! between it and the last known period are recorded `skipped` and logged.
//!
//! # What
//! A digest lists the stories of its channels published during the period (in its
//! time zone), plus the *late* ones: published before the period but first seen by
//! relais after the previous issue was composed (a late post, a slow poll), so nothing
//! is missed. A source's backlog never floods an issue: a story already older than the
//! week before the one relais first saw it in is never late, only history. Sections
//! follow the digest's channel order; a story in two channels appears once, in the
//! first.
//!
//! # Exactly once
//! The ledger entry of (digest, period) moves `planned` → `sending` → `sent`, each step
//! flushed before the next begins:
//! - `planned`: the message is composed and frozen in the entry (same bytes, same
//!   Message-ID on every attempt); a crash here sends it at the next start.
//! - `sending` with `handed_over = false`: connecting, MAIL, RCPT, DATA; a crash here
//!   delivered nothing (the body was not sent), so it is simply tried again.
//! - `sending` with `handed_over = true`: written just before the body goes out. A crash
//!   from here until `sent` is written leaves the outcome unknown: the server may have
//!   accepted the message. relais then does **not** send again on its own (that could
//!   deliver twice); it marks the period `failed` with "delivery uncertain", logs an
//!   error, and an operator who checked the list's archive resends with
//!   `relais digest send ID --period P --force` (same Message-ID, so a duplicate is
//!   recognisable). This window is the time between the server's final "250" and the
//!   flush that follows it: milliseconds, the irreducible window of SMTP (RFC 1047).
//! - transient failures (connection refused, timeouts before the body, 4xx) go back to
//!   `planned` with a `retry_at` (1 minute, doubling, at most 1 hour); 5xx → `failed`.

pub mod period;
pub mod schedule;

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::config::{Config, Digest, EmptyPolicy};
use crate::curate::{Curator, Decisions};
use crate::mail::{self, Draft, Mailer, SendError};
use crate::model::Story;
use crate::render::digest::{self as render_digest, Issue, Section, Templates};
use crate::render::under;
use crate::store::{ArchivedIssue, LedgerEntry, LedgerState, Store, StoreError};

pub use period::{Period, PeriodError};
pub use schedule::{Schedule, DEFAULT_SCHEDULE};

/// How often the ticker wakes the scheduler.
pub const TICK_EVERY: Duration = Duration::from_secs(60);
/// First wait after a transient SMTP failure; doubles with each attempt.
const RETRY_FIRST: Duration = Duration::from_secs(60);
const RETRY_MAX: Duration = Duration::from_secs(3600);
/// How long a send under way may finish after shutdown was asked.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no digest has the id `{0}`")]
    Unknown(String),
    #[error("digest `{digest}`: {message}")]
    Render { digest: String, message: String },
    #[error("digest `{digest}`: template {path}: {message}")]
    Template {
        digest: String,
        path: String,
        message: String,
    },
    #[error("digest `{digest}`: {source}")]
    Mail {
        digest: String,
        source: mail::MailError,
    },
    #[error("digest `{0}`: no [smtp] section in the configuration")]
    NoSmtp(String),
}

/// A story with when relais first saw it: what the late-story rule needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DatedStory {
    pub story: Story,
    pub first_seen: DateTime<Utc>,
}

/// The stories published in `[since, until)`, newest first: the one place the digest
/// reads stories from the store. A story sits at its primary (earliest) appearance, and
/// is first seen when that appearance was: a later cross-post credits another partner
/// without making the story late.
pub fn period_stories(
    store: &Store,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<DatedStory>, StoreError> {
    let mut out = Vec::new();
    let mut failure = None;
    store.walk_stories(None, &mut |visit| {
        let item = &visit.story.item;
        if item.published < since {
            return false;
        }
        if item.published < until {
            let source = item.source.as_deref().unwrap_or_default();
            match store.get_item(source, &item.id) {
                Ok(Some(primary)) => out.push(DatedStory {
                    first_seen: primary.first_seen,
                    story: visit.story,
                }),
                Ok(None) => {}
                Err(e) => {
                    failure = Some(e);
                    return false;
                }
            }
        }
        true
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// What an issue of `period` takes from the store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub period: Period,
    /// When the previous issue (sent or empty) was composed: stories first seen after it
    /// and published before the period are late and belong here. `None` for a first
    /// issue.
    pub late_after: Option<DateTime<Utc>>,
    /// Now: stories first seen later are not known yet.
    pub composed_at: DateTime<Utc>,
}

impl Window {
    /// The earliest publication date an issue can show.
    pub fn since(&self, tz: chrono_tz::Tz) -> DateTime<Utc> {
        let start = self.period.start(tz);
        match self.late_after {
            // A late story is at most a week older than the week it was first seen in,
            // and was first seen after `late_after`.
            Some(after) => start.min(Period::containing(after, tz).previous().start(tz)),
            None => start,
        }
    }

    /// Whether `s` belongs in the issue (before channel selection).
    pub fn admits(&self, s: &DatedStory, tz: chrono_tz::Tz) -> bool {
        let published = s.story.item.published;
        if s.first_seen > self.composed_at {
            return false;
        }
        if self.period.contains(published, tz) {
            return true;
        }
        let Some(after) = self.late_after else {
            return false;
        };
        let backlog = published < Period::containing(s.first_seen, tz).previous().start(tz);
        published < self.period.start(tz) && s.first_seen > after && !backlog
    }
}

/// The issue's sections: each digest channel's stories among `stories` the window
/// admits, with the operators' decisions (hidden left out, added kept, pinned first,
/// edits applied), otherwise newest first, a story placed in the first channel that
/// keeps it.
pub fn sections<'c>(
    config: &'c Config,
    digest: &Digest,
    window: &Window,
    stories: &[DatedStory],
    decisions: &Decisions,
) -> Vec<Section<'c>> {
    let admitted: Vec<&Story> = stories
        .iter()
        .filter(|s| window.admits(s, digest.timezone))
        .map(|s| &s.story)
        .collect();
    let mut placed: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut out = Vec::new();
    for id in &digest.channels {
        let Some(channel) = config.channel(id) else {
            continue;
        };
        let curator = Curator::new(channel, &config.sources, decisions, window.composed_at);
        let mut kept: Vec<&Story> = admitted
            .iter()
            .copied()
            .filter(|s| !placed.contains(s.id.as_str()) && curator.judge(s).is_ok())
            .collect();
        curator.view().sort(&mut kept);
        for s in &kept {
            placed.insert(s.id.as_str());
        }
        out.push(Section {
            channel,
            stories: kept
                .into_iter()
                .map(|s| decisions.edited(s.clone()))
                .collect(),
        });
    }
    out
}

/// An issue ready to go: its parts and the whole message.
#[derive(Debug, Clone, PartialEq)]
pub struct Composed {
    pub digest: String,
    pub period: Period,
    pub subject: String,
    pub html: String,
    pub text: String,
    /// The RFC 5322 message.
    pub message: String,
    pub message_id: String,
    pub stories: usize,
    pub composed_at: DateTime<Utc>,
}

/// What a send or a tick did with one (digest, period).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Sent {
        stories: usize,
    },
    /// The period had no story and the digest skips empty periods.
    Empty,
    /// Already in a final state: nothing was sent.
    AlreadyDone(LedgerState),
    /// A transient failure: tried again after `retry_at`.
    Retrying {
        error: String,
        retry_at: DateTime<Utc>,
    },
    Failed {
        error: String,
    },
    /// `--dry-run`: what would happen.
    WouldSend {
        stories: usize,
        subject: String,
        state: Option<LedgerState>,
    },
}

/// Sends digests through the ledger. One per process; its lock serialises sends so the
/// ticker and anything else never work on the same period at once.
pub struct Digester {
    config: Arc<Config>,
    store: Arc<Store>,
    mailer: Option<Mailer>,
    lock: tokio::sync::Mutex<()>,
    /// When the ticker last woke the scheduler (Unix seconds; 0 = never).
    last_tick: Arc<AtomicI64>,
    /// Where the daemon counts sends (`/metrics`).
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl Digester {
    pub fn new(config: Arc<Config>, store: Arc<Store>) -> Digester {
        let mailer = config.smtp.as_ref().map(Mailer::new);
        Digester {
            config,
            store,
            mailer,
            lock: tokio::sync::Mutex::new(()),
            last_tick: Arc::new(AtomicI64::new(0)),
            metrics: None,
        }
    }

    /// Counts the scheduler's delivery attempts in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Digester {
        self.metrics = Some(metrics);
        self
    }

    /// The shared last-tick time, for the server to show.
    pub fn last_tick(&self) -> Arc<AtomicI64> {
        Arc::clone(&self.last_tick)
    }

    fn digest(&self, id: &str) -> Result<&Digest, DigestError> {
        self.config
            .digest(id)
            .ok_or_else(|| DigestError::Unknown(id.to_string()))
    }

    /// Composes the issue of `period` as it would be at `now`, writing nothing.
    pub fn compose(
        &self,
        digest: &Digest,
        period: Period,
        now: DateTime<Utc>,
    ) -> Result<Composed, DigestError> {
        let tz = digest.timezone;
        let late_after = self
            .store
            .digest_entries(&digest.id)?
            .into_iter()
            .filter(|e| {
                matches!(e.state, LedgerState::Sent | LedgerState::Empty)
                    && e.period.parse::<Period>().is_ok_and(|p| p < period)
            })
            .filter_map(|e| e.composed_at)
            .max();
        let window = Window {
            period,
            late_after,
            composed_at: now,
        };
        let stories = period_stories(&self.store, window.since(tz), period.end(tz))?;
        let decisions = self.store.curation()?;
        let sections = sections(&self.config, digest, &window, &stories, &decisions);
        let count = sections.iter().map(|s| s.stories.len()).sum();
        let base = &self.config.server.base_url;
        let issue = Issue {
            digest,
            period,
            sections,
            sources: &self.config.sources,
            web_url: under(base, &format!("digests/{}/{period}", digest.id)).to_string(),
            archive_url: under(base, &format!("digests/{}/", digest.id)).to_string(),
        };
        let templates = templates(digest)?;
        let rendered =
            render_digest::render(&issue, &templates).map_err(|e| DigestError::Render {
                digest: digest.id.clone(),
                message: e.to_string(),
            })?;
        let host = base.host_str().unwrap_or("relais.invalid");
        let message_id = format!("<{period}.{}.digest@{host}>", digest.id);
        let list_id = format!(
            "{} <{}.{host}>",
            crate::render::one_line(&digest.title, 100).unwrap_or_default(),
            digest.id
        );
        let archive = issue.archive_url.clone();
        let message = mail::build(&Draft {
            from: &digest.from,
            to: &digest.to,
            subject: &rendered.subject,
            text: &rendered.text,
            html: &rendered.html,
            message_id: &message_id,
            date: now,
            list_id: list_id.trim(),
            archive: Some(&archive),
            unsubscribe: &digest.unsubscribe,
        })
        .map_err(|source| DigestError::Mail {
            digest: digest.id.clone(),
            source,
        })?;
        Ok(Composed {
            digest: digest.id.clone(),
            period,
            subject: rendered.subject,
            html: rendered.html,
            text: rendered.text,
            message,
            message_id,
            stories: count,
            composed_at: now,
        })
    }

    /// The message of `period`: the frozen one when the ledger has it, else composed
    /// now. Writes nothing.
    pub fn preview(
        &self,
        digest_id: &str,
        period: Option<Period>,
        now: DateTime<Utc>,
    ) -> Result<Composed, DigestError> {
        let digest = self.digest(digest_id)?;
        let period = period.unwrap_or_else(|| Period::before(now, digest.timezone));
        if let Some(e) = self.store.digest_entry(&digest.id, &period.to_string())? {
            if let Some(c) = frozen(&e, period) {
                return Ok(c);
            }
        }
        self.compose(digest, period, now)
    }

    /// Composes and records the plan of `period`: `planned` with the frozen message, or
    /// `empty` when there is nothing to say and the digest skips empty periods.
    fn plan(
        &self,
        digest: &Digest,
        period: Period,
        due: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        previous: Option<&LedgerEntry>,
    ) -> Result<LedgerEntry, DigestError> {
        let c = self.compose(digest, period, now)?;
        let state = if c.stories == 0 && digest.empty == EmptyPolicy::Skip {
            LedgerState::Empty
        } else {
            LedgerState::Planned
        };
        let mut e = match previous {
            Some(p) => {
                let mut p = p.clone();
                p.step(state, now, Some("composed again".into()));
                p
            }
            None => LedgerEntry::new(&digest.id, &period.to_string(), state, now),
        };
        e.due = due.or(e.due);
        e.composed_at = Some(now);
        e.stories = c.stories;
        e.subject = Some(c.subject);
        e.message_id = Some(c.message_id);
        e.handed_over = false;
        e.retry_at = None;
        e.error = None;
        if state == LedgerState::Planned {
            e.message = Some(c.message);
            e.html = Some(c.html);
            e.text = Some(c.text);
        } else {
            tracing::info!(digest = %digest.id, %period, "no story this period: nothing sent");
        }
        self.store.save_digest_entry(&e)?;
        Ok(e)
    }

    /// One delivery attempt of a planned entry, recording each step.
    async fn attempt(
        &self,
        digest: &Digest,
        mut e: LedgerEntry,
        now: DateTime<Utc>,
    ) -> Result<Outcome, DigestError> {
        let mailer = self
            .mailer
            .as_ref()
            .ok_or_else(|| DigestError::NoSmtp(digest.id.clone()))?;
        let Some(message) = e.message.clone() else {
            return Ok(Outcome::AlreadyDone(e.state));
        };
        e.attempts += 1;
        e.handed_over = false;
        e.step(
            LedgerState::Sending,
            now,
            Some(format!("attempt {} to {}", e.attempts, mailer.server())),
        );
        self.store.save_digest_entry(&e)?;
        let store = Arc::clone(&self.store);
        let mut handed = e.clone();
        let result = mailer
            .deliver(&digest.from, &digest.to, &message, move || {
                handed.handed_over = true;
                store
                    .save_digest_entry(&handed)
                    .map_err(|err| err.to_string())
            })
            .await;
        let period = e.period.clone();
        match result {
            Ok(()) => {
                e.handed_over = true;
                e.sent_at = Some(now);
                e.error = None;
                e.retry_at = None;
                e.step(LedgerState::Sent, now, None);
                let issue = ArchivedIssue {
                    digest: e.digest.clone(),
                    period: e.period.clone(),
                    subject: e.subject.clone().unwrap_or_default(),
                    sent_at: now,
                    message_id: e.message_id.clone().unwrap_or_default(),
                    stories: e.stories,
                    html: e.html.clone().unwrap_or_default(),
                    text: e.text.clone().unwrap_or_default(),
                };
                self.store.record_digest_sent(&e, &issue)?;
                tracing::info!(digest = %digest.id, %period, stories = e.stories, to = %digest.to.join(", "), "digest sent");
                Ok(Outcome::Sent { stories: e.stories })
            }
            Err(SendError::Transient(error)) => {
                let wait = retry_wait(e.attempts);
                let retry_at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                e.handed_over = false;
                e.error = Some(error.clone());
                e.retry_at = Some(retry_at);
                e.step(LedgerState::Planned, now, Some(error.clone()));
                self.store.save_digest_entry(&e)?;
                tracing::warn!(digest = %digest.id, %period, %error, retry_at = %retry_at.to_rfc3339(), "digest not sent: will retry");
                Ok(Outcome::Retrying { error, retry_at })
            }
            Err(err @ (SendError::Permanent(_) | SendError::Uncertain(_))) => {
                let error = err.to_string();
                // Uncertain means the body was handed over; a 5xx means it was refused.
                e.handed_over = matches!(err, SendError::Uncertain(_));
                e.error = Some(error.clone());
                e.retry_at = None;
                e.step(LedgerState::Failed, now, Some(error.clone()));
                self.store.save_digest_entry(&e)?;
                tracing::error!(digest = %digest.id, %period, %error, "digest failed: see `relais digest send --help` to resend");
                Ok(Outcome::Failed { error })
            }
        }
    }

    /// The scheduled work at `now`: for each digest, send its due period if the ledger
    /// does not hold it yet, resume or retry an unfinished one, and record missed
    /// periods as skipped.
    pub async fn tick(&self, now: DateTime<Utc>) -> Vec<(String, Period, Outcome)> {
        self.last_tick.store(now.timestamp(), Ordering::Release);
        if let Err(e) = self.store.set_digest_tick(now) {
            tracing::warn!(error = %e, "cannot record the digest tick");
        }
        let _guard = self.lock.lock().await;
        let mut out = Vec::new();
        for digest in &self.config.digests {
            match self.tick_one(digest, now).await {
                Ok(Some((period, outcome))) => {
                    if let Some(m) = &self.metrics {
                        match outcome {
                            Outcome::Sent { .. } => m.digest(true),
                            Outcome::Retrying { .. } | Outcome::Failed { .. } => m.digest(false),
                            _ => {}
                        }
                    }
                    out.push((digest.id.clone(), period, outcome))
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(digest = %digest.id, error = %e, "digest scheduling failed")
                }
            }
        }
        out
    }

    async fn tick_one(
        &self,
        digest: &Digest,
        now: DateTime<Utc>,
    ) -> Result<Option<(Period, Outcome)>, DigestError> {
        let tz = digest.timezone;
        let Some(due) = digest.schedule.latest(now, tz) else {
            return Ok(None);
        };
        let period = Period::before(due, tz);
        self.skip_missed(digest, period, now)?;
        let entry = self.store.digest_entry(&digest.id, &period.to_string())?;
        let outcome = match entry {
            None => {
                let e = self.plan(digest, period, Some(due), now, None)?;
                if e.state == LedgerState::Empty {
                    Outcome::Empty
                } else {
                    self.attempt(digest, e, now).await?
                }
            }
            Some(e) if e.state == LedgerState::Planned => {
                if e.retry_at.is_some_and(|r| r > now) {
                    return Ok(None);
                }
                self.attempt(digest, e, now).await?
            }
            Some(e) if e.state == LedgerState::Sending && !e.handed_over => {
                tracing::warn!(digest = %digest.id, %period, "resuming a send interrupted before the message was handed over");
                self.attempt(digest, e, now).await?
            }
            Some(mut e) if e.state == LedgerState::Sending => {
                let error = uncertain(&digest.id, period);
                e.error = Some(error.clone());
                e.step(LedgerState::Failed, now, Some(error.clone()));
                self.store.save_digest_entry(&e)?;
                tracing::error!(digest = %digest.id, %period, %error, "digest failed");
                Outcome::Failed { error }
            }
            Some(_) => return Ok(None),
        };
        Ok(Some((period, outcome)))
    }

    /// Marks as skipped what a restart after downtime will not send: unfinished entries
    /// of periods before `current`, and the periods between the last one the ledger
    /// knows and `current`.
    fn skip_missed(
        &self,
        digest: &Digest,
        current: Period,
        now: DateTime<Utc>,
    ) -> Result<(), DigestError> {
        let entries = self.store.digest_entries(&digest.id)?;
        let mut last_known: Option<Period> = None;
        for mut e in entries {
            let Ok(p) = e.period.parse::<Period>() else {
                continue;
            };
            if p >= current {
                continue;
            }
            last_known = last_known.max(Some(p));
            if e.state == LedgerState::Planned
                || (e.state == LedgerState::Sending && !e.handed_over)
            {
                let note = format!("superseded by {current}: not sent");
                tracing::warn!(digest = %digest.id, period = %p, "{note}");
                e.step(LedgerState::Skipped, now, Some(note));
                self.store.save_digest_entry(&e)?;
            }
        }
        // A digest with no history starts at `current`: nothing before it is owed.
        let Some(mut p) = last_known.map(Period::next) else {
            return Ok(());
        };
        let mut guard = 0;
        while p < current && guard < 1000 {
            let note = format!("missed while relais was not running; {current} is sent instead");
            tracing::warn!(digest = %digest.id, period = %p, "{note}");
            let mut e = LedgerEntry::new(&digest.id, &p.to_string(), LedgerState::Skipped, now);
            if let Some(step) = e.history.last_mut() {
                step.note = Some(note);
            }
            self.store.save_digest_entry(&e)?;
            p = p.next();
            guard += 1;
        }
        Ok(())
    }

    /// `relais digest send`: sends `period` now through the ledger. A period already
    /// sent (or empty) is not sent again; `force` resends a sent, failed or uncertain
    /// period with its frozen message (same Message-ID). With `dry_run`, nothing is
    /// written or sent.
    pub async fn send(
        &self,
        digest_id: &str,
        period: Option<Period>,
        now: DateTime<Utc>,
        force: bool,
        dry_run: bool,
    ) -> Result<(Period, Outcome), DigestError> {
        let digest = self.digest(digest_id)?;
        let period = period.unwrap_or_else(|| Period::before(now, digest.timezone));
        let _guard = self.lock.lock().await;
        let entry = self.store.digest_entry(&digest.id, &period.to_string())?;
        let state = entry.as_ref().map(|e| e.state);
        if dry_run {
            let c = match entry.as_ref().and_then(|e| frozen(e, period)) {
                Some(c) => c,
                None => self.compose(digest, period, now)?,
            };
            return Ok((
                period,
                Outcome::WouldSend {
                    stories: c.stories,
                    subject: c.subject,
                    state,
                },
            ));
        }
        if self.mailer.is_none() {
            return Err(DigestError::NoSmtp(digest.id.clone()));
        }
        let outcome = match entry {
            None => {
                let e = self.plan(digest, period, None, now, None)?;
                if e.state == LedgerState::Empty {
                    Outcome::Empty
                } else {
                    self.attempt(digest, e, now).await?
                }
            }
            Some(e) => match e.state {
                LedgerState::Planned => self.attempt(digest, e, now).await?,
                LedgerState::Sending if !e.handed_over => self.attempt(digest, e, now).await?,
                LedgerState::Sent | LedgerState::Sending | LedgerState::Failed
                    if force && e.message.is_some() =>
                {
                    tracing::warn!(digest = %digest.id, %period, state = e.state.as_str(), "resending by request, with the same Message-ID");
                    self.attempt(digest, e, now).await?
                }
                LedgerState::Sending => {
                    // Handed over by a run that stopped before the verdict: uncertain.
                    let mut e = e;
                    let error = uncertain(&digest.id, period);
                    e.error = Some(error.clone());
                    e.step(LedgerState::Failed, now, Some(error.clone()));
                    self.store.save_digest_entry(&e)?;
                    Outcome::Failed { error }
                }
                LedgerState::Failed | LedgerState::Skipped if !e.handed_over || force => {
                    let e = self.plan(digest, period, None, now, Some(&e))?;
                    if e.state == LedgerState::Empty {
                        Outcome::Empty
                    } else {
                        self.attempt(digest, e, now).await?
                    }
                }
                other => Outcome::AlreadyDone(other),
            },
        };
        Ok((period, outcome))
    }
}

/// Why a period whose body was handed over without a recorded verdict is not resent.
fn uncertain(digest: &str, period: Period) -> String {
    format!(
        "delivery uncertain: relais stopped after handing the message to the SMTP server and \
         before its answer was recorded; check the list archive, then resend with \
         `relais digest send {digest} --period {period} --force` (same Message-ID)"
    )
}

/// The message frozen in a ledger entry, if it holds one.
fn frozen(e: &LedgerEntry, period: Period) -> Option<Composed> {
    Some(Composed {
        digest: e.digest.clone(),
        period,
        subject: e.subject.clone()?,
        html: e.html.clone()?,
        text: e.text.clone()?,
        message: e.message.clone()?,
        message_id: e.message_id.clone()?,
        stories: e.stories,
        composed_at: e.composed_at?,
    })
}

/// The wait after the `attempts`-th failed attempt: 1, 2, 4 … minutes, at most 1 hour.
pub fn retry_wait(attempts: u32) -> Duration {
    let factor = 1u32 << attempts.saturating_sub(1).min(10);
    (RETRY_FIRST * factor).min(RETRY_MAX)
}

/// The digest's templates: the built-in ones, replaced by `digest.html` / `digest.txt`
/// from its `template_dir` when present there.
pub fn templates(digest: &Digest) -> Result<Templates, DigestError> {
    let mut t = Templates::default();
    if let Some(dir) = &digest.template_dir {
        for (name, slot) in [("digest.html", &mut t.html), ("digest.txt", &mut t.text)] {
            let path = dir.join(name);
            if let Some(text) = read_optional(&path).map_err(|message| DigestError::Template {
                digest: digest.id.clone(),
                path: path.display().to_string(),
                message,
            })? {
                *slot = text;
            }
        }
    }
    Ok(t)
}

fn read_optional(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// The daemon's digest task: a tokio-cron-scheduler job wakes it every `every` (the
/// ticker does nothing else), and a watchdog of its own wakes it too if the ticker
/// stalls (tokio-cron-scheduler's issue #113), logging that it did. The first tick runs
/// at once, so a period missed while relais was down is sent at start.
pub async fn run(digester: Arc<Digester>, every: Duration, mut stopped: watch::Receiver<bool>) {
    use tokio_cron_scheduler::{Job, JobScheduler};
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
    let ticker = async {
        let sched = JobScheduler::new().await.ok()?;
        let job = Job::new_repeated_async(every, move |_, _| {
            let tx = tx.clone();
            Box::pin(async move {
                // A tick still pending is as good as two.
                let _ = tx.try_send(());
            })
        })
        .ok()?;
        sched.add(job).await.ok()?;
        sched.start().await.ok()?;
        Some(sched)
    };
    let mut sched = ticker.await;
    if sched.is_none() {
        tracing::error!("digest ticker could not start: relying on the watchdog alone");
    }
    let mut watchdog = tokio::time::interval(every * 3);
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut first = true;
    loop {
        let woke_by_watchdog = if first {
            first = false;
            false
        } else {
            let woke = tokio::select! {
                _ = stopped.wait_for(|s| *s) => None,
                Some(()) = rx.recv() => Some(false),
                _ = watchdog.tick() => Some(true),
            };
            match woke {
                Some(w) => w,
                None => break,
            }
        };
        let last = digester.last_tick.load(Ordering::Acquire);
        let now = Utc::now();
        if woke_by_watchdog {
            let silent = now.timestamp() - last;
            if silent < (every * 2).as_secs() as i64 {
                continue;
            }
            tracing::warn!(silent_s = silent, "digest ticker silent: checking anyway");
        }
        let work = digester.tick(now);
        tokio::pin!(work);
        let stop_asked = tokio::select! {
            _ = &mut work => false,
            _ = stopped.wait_for(|s| *s) => true,
        };
        if stop_asked {
            // Let a send under way finish (its ledger steps are flushed either way).
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, &mut work).await;
            break;
        }
    }
    if let Some(s) = sched.as_mut() {
        let _ = s.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_waits_double_up_to_an_hour() {
        let waits: Vec<u64> = (1..=9).map(|n| retry_wait(n).as_secs()).collect();
        assert_eq!(waits, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(retry_wait(u32::MAX).as_secs(), 3600);
    }
}

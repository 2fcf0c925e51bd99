//! Operator alerts: an email to `[alerts] to` when a source has been failing for longer
//! than `failing_after`, has gone silent (`[health] silent_after`) or was retired (410
//! Gone) — once per incident — then a "recovered" note when it comes back, and an
//! optional weekly health summary. Messages go through the digests' mail path
//! (`mail`, the same `[smtp]`), in French or English (`locale`).
//!
//! # Incidents
//! An incident is a (source, kind, since) triple: `since` is when the trouble began
//! (failing since, the last new item, retired at), so a source that recovers and fails
//! again is a new incident, while the same failure seen at every check is the same one.
//! [`detect`] is pure: from the sources' health, the ledger's incidents and the time, it
//! says which incidents open (an alert is owed) and which end (a "recovered" note is owed
//! when the source polls fine again and its alert went out; none when it was paused,
//! removed from the configuration, or turned into another incident, such as failing into
//! retired).
//!
//! # Never twice
//! Every incident and summary is a record in the store's alert ledger, with one
//! [`Notice`] per message moving `pending` → `sending` → `sent`, each step flushed before
//! the next. The body's hand-over to the SMTP server is recorded just before it happens:
//! a check that finds a `sending` notice (the process stopped during a delivery) sends it
//! again only if the body was not handed over yet, and otherwise records it `failed`
//! (delivery uncertain) rather than risk a duplicate. A temporary SMTP failure is retried
//! after 1, 2, 4… minutes (at most hourly); a permanent one is logged and not retried.
//!
//! # When
//! [`run`], in the daemon, checks every `check_every` and after each poll report;
//! [`Alerter::check`] holds a lock so that two checks never overlap.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use crate::config::{AlertsConfig, Config, Locale};
use crate::health::{self, Health};
use crate::mail::{self, Mailer, Note, SendError};
use crate::metrics::Metrics;
use crate::model::SourceStatus;
use crate::store::{Incident, IncidentKind, Notice, NoticeState, Store, StoreError, Summary};

/// A weekly summary whose occurrence is older than this is not sent any more (relais
/// was down): next week's will do.
const SUMMARY_STALE: chrono::Duration = chrono::Duration::hours(24);
/// How long a delivery under way may finish after shutdown was asked.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a check changes in the ledger.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new incident, its alert pending.
    Open(Incident),
    /// An incident whose condition ended: resolved, with a pending "recovered" note when
    /// one is owed, else its undelivered alert dropped.
    Resolve(Incident),
}

/// The incident a source is in now, for each kind, if any: (kind, since).
fn conditions(
    h: &Health,
    now: DateTime<Utc>,
    failing_after: Duration,
) -> Vec<(IncidentKind, DateTime<Utc>)> {
    let after = chrono::Duration::from_std(failing_after).unwrap_or(chrono::Duration::MAX);
    let mut out = Vec::new();
    match h.status {
        SourceStatus::Failing => {
            if let Some(since) = h
                .failing_since
                .filter(|s| now.signed_duration_since(*s) > after)
            {
                out.push((IncidentKind::Failing, since));
            }
        }
        SourceStatus::Silent => {
            if let Some(since) = h.silent_since {
                out.push((IncidentKind::Silent, since));
            }
        }
        SourceStatus::Retired => {
            if let Some(since) = h.retired_at {
                out.push((IncidentKind::Retired, since));
            }
        }
        SourceStatus::Ok | SourceStatus::Paused => {}
    }
    out
}

/// Whether an open incident still holds. A silence holds through failures (nothing
/// new came in), and ends only with a new item; failing and retired end when the source
/// is in another state or a new run began.
fn holds(i: &Incident, h: &Health) -> bool {
    match i.kind {
        IncidentKind::Failing => {
            h.status == SourceStatus::Failing && h.failing_since == Some(i.since)
        }
        IncidentKind::Retired => h.status == SourceStatus::Retired && h.retired_at == Some(i.since),
        IncidentKind::Silent => {
            h.status != SourceStatus::Paused
                && h.status != SourceStatus::Ok
                && h.quiet_since() == Some(i.since)
        }
    }
}

/// Whether an ended incident ended because the source is fine again.
fn recovered(i: &Incident, h: &Health) -> bool {
    match i.kind {
        IncidentKind::Failing | IncidentKind::Retired => {
            matches!(h.status, SourceStatus::Ok | SourceStatus::Silent)
        }
        IncidentKind::Silent => {
            h.status == SourceStatus::Ok && h.last_new_item.is_some_and(|t| t > i.since)
        }
    }
}

/// The Message-ID of an incident's alert or note: stable, so a resend is recognisable.
fn message_id(i: &Incident, what: &str, host: &str) -> String {
    format!(
        "<{what}.{}.{}.{}@{host}>",
        i.source,
        i.kind.as_str(),
        i.since.timestamp()
    )
}

/// Which incidents open and end at `now`, given every source's health and every
/// incident of the ledger. Pure.
pub fn detect(
    health: &[Health],
    ledger: &[Incident],
    now: DateTime<Utc>,
    failing_after: Duration,
    host: &str,
) -> Vec<Change> {
    let mut out = Vec::new();
    for i in ledger.iter().filter(|i| i.resolved_at.is_none()) {
        let current = health.iter().find(|h| h.id == i.source);
        if current.is_some_and(|h| holds(i, h)) {
            continue;
        }
        let mut ended = i.clone();
        ended.resolved_at = Some(now);
        // A note only follows an alert that (may have) reached the operators.
        let alerted = i.alert.state == NoticeState::Sent || i.alert.handed_over;
        if alerted && current.is_some_and(|h| recovered(i, h)) {
            ended.recovery = Some(Notice::pending(message_id(i, "recovered", host), now));
        } else if !matches!(i.alert.state, NoticeState::Sent | NoticeState::Failed) {
            ended.alert.state = NoticeState::Dropped;
            ended.alert.updated_at = now;
        }
        out.push(Change::Resolve(ended));
    }
    for h in health {
        for (kind, since) in conditions(h, now, failing_after) {
            let known = ledger
                .iter()
                .any(|i| i.source == h.id && i.kind == kind && i.since == since);
            if known {
                continue;
            }
            let mut incident = Incident {
                source: h.id.clone(),
                kind,
                since,
                opened_at: now,
                error: h.last_error.clone(),
                alert: Notice::pending(String::new(), now),
                resolved_at: None,
                recovery: None,
            };
            incident.alert.message_id = message_id(&incident, "alert", host);
            out.push(Change::Open(incident));
        }
    }
    out
}

/// A notice found `sending` when no delivery is under way: the process stopped during
/// one. Sent again only if the body was not handed over yet.
fn after_crash(notice: &mut Notice, now: DateTime<Utc>) -> bool {
    if notice.state != NoticeState::Sending {
        return false;
    }
    if notice.handed_over {
        notice.state = NoticeState::Failed;
        notice.error = Some(
            "delivery uncertain: relais stopped after handing the message to the SMTP server \
             and before its answer was recorded; not sent again"
                .into(),
        );
    } else {
        notice.state = NoticeState::Pending;
    }
    notice.updated_at = now;
    true
}

fn due(notice: &Notice, now: DateTime<Utc>) -> bool {
    notice.state == NoticeState::Pending && notice.retry_at.is_none_or(|r| r <= now)
}

/// A message to send, and where its notice lives.
enum Slot {
    Alert(Incident),
    Recovery(Incident),
    Summary(Summary),
}

/// What one check did, for tests and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    pub opened: usize,
    pub resolved: usize,
    /// Message-IDs of the messages delivered.
    pub sent: Vec<String>,
    pub failed: usize,
}

/// Checks sources and sends alerts through the ledger. One per daemon.
pub struct Alerter {
    config: Arc<Config>,
    alerts: AlertsConfig,
    store: Arc<Store>,
    mailer: Mailer,
    metrics: Option<Arc<Metrics>>,
    last_check: Arc<AtomicI64>,
    lock: tokio::sync::Mutex<()>,
}

impl Alerter {
    /// `None` when the configuration has no `[alerts]` (or no `[smtp]`, which the
    /// configuration already refuses with alerts).
    pub fn new(config: Arc<Config>, store: Arc<Store>) -> Option<Alerter> {
        let alerts = config.alerts.clone()?;
        let mailer = Mailer::new(config.smtp.as_ref()?);
        Some(Alerter {
            config,
            alerts,
            store,
            mailer,
            metrics: None,
            last_check: Arc::new(AtomicI64::new(0)),
            lock: tokio::sync::Mutex::new(()),
        })
    }

    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Alerter {
        self.metrics = Some(metrics);
        self
    }

    /// When the last check ran (Unix seconds, 0 = never), for `/metrics`.
    pub fn last_check(&self) -> Arc<AtomicI64> {
        Arc::clone(&self.last_check)
    }

    fn host(&self) -> String {
        self.config
            .server
            .base_url
            .host_str()
            .unwrap_or("relais.invalid")
            .to_string()
    }

    /// One check at `now`: record what opened and ended, then deliver what is due.
    pub async fn check(&self, now: DateTime<Utc>) -> Result<Checked, AlertError> {
        let _guard = self.lock.lock().await;
        self.last_check.store(now.timestamp(), Ordering::Release);
        let mut done = Checked::default();
        let health = health::gather(&self.config, &self.store, now)?;
        let mut ledger = self.store.alert_incidents()?;
        for i in &mut ledger {
            let mut changed = after_crash(&mut i.alert, now);
            if let Some(r) = i.recovery.as_mut() {
                changed |= after_crash(r, now);
            }
            if changed {
                tracing::warn!(source = %i.source, kind = i.kind.as_str(), "an alert was being sent when relais stopped");
                self.store.save_alert_incident(i)?;
            }
        }
        for change in detect(
            &health,
            &ledger,
            now,
            self.alerts.failing_after,
            &self.host(),
        ) {
            let (Change::Open(i) | Change::Resolve(i)) = &change;
            self.store.save_alert_incident(i)?;
            match &change {
                Change::Open(i) => {
                    done.opened += 1;
                    tracing::info!(source = %i.source, kind = i.kind.as_str(), since = %i.since.to_rfc3339(), "source incident opened");
                }
                Change::Resolve(i) => {
                    done.resolved += 1;
                    tracing::info!(source = %i.source, kind = i.kind.as_str(), note = i.recovery.is_some(), "source incident ended");
                }
            }
            let slot = |i: &Incident| {
                ledger
                    .iter()
                    .position(|l| l.source == i.source && l.kind == i.kind && l.since == i.since)
            };
            match slot(i) {
                Some(p) => {
                    if let Some(l) = ledger.get_mut(p) {
                        *l = i.clone();
                    }
                }
                None => ledger.push(i.clone()),
            }
        }

        let mut work = Vec::new();
        for i in ledger {
            if i.resolved_at.is_none() && due(&i.alert, now) {
                work.push(Slot::Alert(i));
            } else if i.recovery.as_ref().is_some_and(|r| due(r, now)) {
                work.push(Slot::Recovery(i));
            }
        }
        if let Some(summary) = self.due_summary(now)? {
            work.push(Slot::Summary(summary));
        }
        for slot in work {
            let (notice, subject, text) = match &slot {
                Slot::Alert(i) => {
                    let h = health.iter().find(|h| h.id == i.source);
                    let (s, t) = alert_text(i, h, &self.alerts, &self.config.server.base_url);
                    (i.alert.clone(), s, t)
                }
                Slot::Recovery(i) => {
                    let h = health.iter().find(|h| h.id == i.source);
                    let (s, t) = recovery_text(i, h, &self.alerts);
                    (i.recovery.clone().unwrap_or_else(|| i.alert.clone()), s, t)
                }
                Slot::Summary(s) => {
                    let (subject, text) = summary_text(
                        &health,
                        s.occurrence,
                        now,
                        &self.alerts,
                        &self.config.server.base_url,
                    );
                    (s.notice.clone(), subject, text)
                }
            };
            let save = |n: &Notice| -> Result<(), StoreError> {
                match &slot {
                    Slot::Alert(i) => {
                        let mut i = i.clone();
                        i.alert = n.clone();
                        self.store.save_alert_incident(&i)
                    }
                    Slot::Recovery(i) => {
                        let mut i = i.clone();
                        i.recovery = Some(n.clone());
                        self.store.save_alert_incident(&i)
                    }
                    Slot::Summary(s) => {
                        let mut s = s.clone();
                        s.notice = n.clone();
                        self.store.save_alert_summary(&s)
                    }
                }
            };
            let what = match &slot {
                Slot::Alert(i) => format!("{} alert for {}", i.kind.as_str(), i.source),
                Slot::Recovery(i) => format!("recovered note for {}", i.source),
                Slot::Summary(_) => "weekly health summary".to_string(),
            };
            let sent = self
                .deliver(notice, &subject, &text, now, &save, &what)
                .await?;
            match sent {
                Some(id) => done.sent.push(id),
                None => done.failed += 1,
            }
        }
        Ok(done)
    }

    /// The weekly summary owed at `now`, recorded pending if new.
    fn due_summary(&self, now: DateTime<Utc>) -> Result<Option<Summary>, AlertError> {
        let Some(schedule) = &self.alerts.weekly_summary else {
            return Ok(None);
        };
        let Some(occurrence) = schedule.latest(now, self.alerts.timezone) else {
            return Ok(None);
        };
        if now.signed_duration_since(occurrence) > SUMMARY_STALE {
            return Ok(None);
        }
        match self.store.alert_summary(occurrence)? {
            Some(mut s) => {
                if after_crash(&mut s.notice, now) {
                    self.store.save_alert_summary(&s)?;
                }
                Ok(due(&s.notice, now).then_some(s))
            }
            None => {
                let id = format!("<summary.{}@{}>", occurrence.timestamp(), self.host());
                let s = Summary {
                    occurrence,
                    notice: Notice::pending(id, now),
                };
                self.store.save_alert_summary(&s)?;
                Ok(Some(s))
            }
        }
    }

    /// One delivery attempt, each step saved through `save`. The Message-ID when sent.
    async fn deliver(
        &self,
        mut notice: Notice,
        subject: &str,
        text: &str,
        now: DateTime<Utc>,
        save: &(dyn Fn(&Notice) -> Result<(), StoreError> + Sync),
        what: &str,
    ) -> Result<Option<String>, AlertError> {
        let to = self.alerts.to.join(", ");
        let message = mail::build_note(&Note {
            from: &self.alerts.from,
            to: &self.alerts.to,
            subject,
            text,
            message_id: &notice.message_id,
            date: now,
        });
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                notice.state = NoticeState::Failed;
                notice.error = Some(e.to_string());
                notice.updated_at = now;
                save(&notice)?;
                tracing::error!(error = %e, "{what}: cannot build the message");
                self.count(false);
                return Ok(None);
            }
        };
        notice.attempts += 1;
        notice.handed_over = false;
        notice.state = NoticeState::Sending;
        notice.updated_at = now;
        save(&notice)?;
        let mut handed = notice.clone();
        let result = self
            .mailer
            .deliver(&self.alerts.from, &self.alerts.to, &message, move || {
                handed.handed_over = true;
                save(&handed).map_err(|e| e.to_string())
            })
            .await;
        notice.updated_at = now;
        let sent = match result {
            Ok(()) => {
                notice.state = NoticeState::Sent;
                notice.handed_over = true;
                notice.sent_at = Some(now);
                notice.error = None;
                notice.retry_at = None;
                tracing::info!(%to, subject, "{what}: sent");
                Some(notice.message_id.clone())
            }
            Err(SendError::Transient(error)) => {
                let wait = crate::digest::retry_wait(notice.attempts);
                let retry_at = now + chrono::Duration::from_std(wait).unwrap_or_default();
                notice.state = NoticeState::Pending;
                notice.handed_over = false;
                notice.retry_at = Some(retry_at);
                tracing::warn!(%error, retry_at = %retry_at.to_rfc3339(), "{what}: not sent, will retry");
                notice.error = Some(error);
                None
            }
            Err(err @ (SendError::Permanent(_) | SendError::Uncertain(_))) => {
                notice.state = NoticeState::Failed;
                notice.handed_over = matches!(err, SendError::Uncertain(_));
                tracing::error!(error = %err, "{what}: failed, not sent again");
                notice.error = Some(err.to_string());
                None
            }
        };
        save(&notice)?;
        self.count(sent.is_some());
        Ok(sent)
    }

    fn count(&self, sent: bool) {
        if let Some(m) = &self.metrics {
            m.alert(sent);
        }
    }
}

/// The daemon's alert task: a check at start, then every `check_every` and whenever a
/// poll report arrives on `nudges`, until `stopped`.
pub async fn run(
    alerter: Arc<Alerter>,
    mut nudges: mpsc::Receiver<()>,
    mut stopped: watch::Receiver<bool>,
) {
    let every = alerter.alerts.check_every;
    loop {
        let work = alerter.check(Utc::now());
        tokio::pin!(work);
        let checked = tokio::select! {
            checked = &mut work => Some(checked),
            _ = stopped.wait_for(|s| *s) => None,
        };
        let Some(checked) = checked else {
            // Let a delivery under way finish: its steps are recorded either way.
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, &mut work).await;
            return;
        };
        match checked {
            Ok(c) if c.opened + c.resolved + c.sent.len() + c.failed > 0 => tracing::debug!(
                opened = c.opened,
                resolved = c.resolved,
                sent = c.sent.len(),
                failed = c.failed,
                "alerts checked"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "alert check failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            Some(()) = nudges.recv() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
    }
}

// ---- The messages' words. ----

fn local(t: DateTime<Utc>, a: &AlertsConfig) -> String {
    t.with_timezone(&a.timezone)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

fn maybe(t: Option<DateTime<Utc>>, a: &AlertsConfig) -> String {
    t.map_or_else(
        || match a.locale {
            Locale::Fr => "jamais".to_string(),
            Locale::En => "never".to_string(),
        },
        |t| local(t, a),
    )
}

/// « 25 heures », « 3 jours » / "25 hours", "3 days": minutes up to an hour, hours up
/// to two days, then days.
fn span(from: DateTime<Utc>, to: DateTime<Utc>, locale: Locale) -> String {
    let minutes = to.signed_duration_since(from).num_minutes().max(0);
    let (n, unit) = match minutes {
        0 => {
            return match locale {
                Locale::Fr => "moins d’une minute".to_string(),
                Locale::En => "less than a minute".to_string(),
            }
        }
        m if m < 60 => (m, 0),
        m if m < 48 * 60 => (m / 60, 1),
        m => (m / (24 * 60), 2),
    };
    let words = match locale {
        Locale::Fr => [
            ("minute", "minutes"),
            ("heure", "heures"),
            ("jour", "jours"),
        ],
        Locale::En => [("minute", "minutes"), ("hour", "hours"), ("day", "days")],
    };
    let (one, many) = words.get(unit).copied().unwrap_or(("", ""));
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The alert of an incident: subject and text.
pub fn alert_text(
    i: &Incident,
    h: Option<&Health>,
    a: &AlertsConfig,
    base_url: &url::Url,
) -> (String, String) {
    let title = h.map_or(i.source.as_str(), |h| h.title.as_str());
    let url = h.map_or("", |h| h.url.as_str());
    let error = h
        .and_then(|h| h.last_error.clone())
        .or_else(|| i.error.clone())
        .unwrap_or_default();
    let last_success = maybe(h.and_then(|h| h.last_success), a);
    let next_poll = maybe(h.and_then(|h| h.next_poll), a);
    let failures = h.map_or(0, |h| h.failures);
    let since = local(i.since, a);
    let long = span(i.since, i.opened_at, a.locale);
    match (a.locale, i.kind) {
        (Locale::Fr, IncidentKind::Failing) => (
            format!("relais : la source « {title} » est en échec depuis {long}"),
            format!(
                "La source « {title} » ({id}) est en échec depuis le {since} ({failures} échecs consécutifs).\n\n\
                 Dernière erreur : {error}\nAdresse : {url}\nDernier succès : {last_success}\nProchain essai : {next_poll}\n\n\
                 relais écrira de nouveau quand elle sera rétablie.\nDétails : `relais sources`, ou {base_url}\n",
                id = i.source
            ),
        ),
        (Locale::En, IncidentKind::Failing) => (
            format!("relais: source \"{title}\" failing for {long}"),
            format!(
                "Source \"{title}\" ({id}) has been failing since {since} ({failures} failures in a row).\n\n\
                 Last error: {error}\nURL: {url}\nLast success: {last_success}\nNext try: {next_poll}\n\n\
                 relais will write again when it recovers.\nDetails: `relais sources`, or {base_url}\n",
                id = i.source
            ),
        ),
        (Locale::Fr, IncidentKind::Silent) => (
            format!("relais : la source « {title} » est silencieuse depuis {long}"),
            format!(
                "Aucun nouvel article de « {title} » ({id}) depuis le {since}, alors que sa relève fonctionne \
                 (dernier succès : {last_success}).\n\nLe site publie-t-il encore ? Son flux a-t-il changé d’adresse ?\n\
                 Adresse : {url}\n\nrelais écrira de nouveau quand un nouvel article arrivera.\nDétails : `relais sources`, ou {base_url}\n",
                id = i.source
            ),
        ),
        (Locale::En, IncidentKind::Silent) => (
            format!("relais: source \"{title}\" silent for {long}"),
            format!(
                "No new item from \"{title}\" ({id}) since {since}, although polling it works \
                 (last success: {last_success}).\n\nDoes the site still publish? Did its feed move?\n\
                 URL: {url}\n\nrelais will write again when a new item arrives.\nDetails: `relais sources`, or {base_url}\n",
                id = i.source
            ),
        ),
        (Locale::Fr, IncidentKind::Retired) => (
            format!("relais : la source « {title} » a disparu (410 Gone)"),
            format!(
                "Le serveur de « {title} » ({id}) a répondu « 410 Gone » le {since} : le flux n’existe plus.\n\n\
                 Dernière erreur : {error}\nAdresse : {url}\n\nrelais le consulte encore de temps en temps, au cas où il reviendrait.\n\
                 Détails : `relais sources`, ou {base_url}\n",
                id = i.source
            ),
        ),
        (Locale::En, IncidentKind::Retired) => (
            format!("relais: source \"{title}\" is gone (410 Gone)"),
            format!(
                "The server of \"{title}\" ({id}) answered \"410 Gone\" on {since}: the feed no longer exists.\n\n\
                 Last error: {error}\nURL: {url}\n\nrelais still looks at it now and then, in case it comes back.\n\
                 Details: `relais sources`, or {base_url}\n",
                id = i.source
            ),
        ),
    }
}

/// The "recovered" note of an ended incident.
pub fn recovery_text(i: &Incident, h: Option<&Health>, a: &AlertsConfig) -> (String, String) {
    let title = h.map_or(i.source.as_str(), |h| h.title.as_str());
    let since = local(i.since, a);
    let ended = i.resolved_at.unwrap_or(i.opened_at);
    let long = span(i.since, ended, a.locale);
    let id = &i.source;
    let (was_fr, was_en) = match i.kind {
        IncidentKind::Failing => ("en échec", "failing"),
        IncidentKind::Silent => ("silencieuse", "silent"),
        IncidentKind::Retired => ("disparue (410 Gone)", "gone (410 Gone)"),
    };
    let (now_fr, now_en) = match i.kind {
        IncidentKind::Silent => {
            let t = maybe(h.and_then(|h| h.last_new_item), a);
            (format!("nouvel article le {t}"), format!("new item on {t}"))
        }
        _ => {
            let t = maybe(h.and_then(|h| h.last_success), a);
            (
                format!("relevée avec succès le {t}"),
                format!("polled successfully on {t}"),
            )
        }
    };
    match a.locale {
        Locale::Fr => (
            format!("relais : la source « {title} » est rétablie"),
            format!(
                "La source « {title} » ({id}) est rétablie : {now_fr}.\n\
                 Elle était {was_fr} depuis le {since} ({long}).\n"
            ),
        ),
        Locale::En => (
            format!("relais: source \"{title}\" recovered"),
            format!(
                "Source \"{title}\" ({id}) has recovered: {now_en}.\n\
                 It had been {was_en} since {since} ({long}).\n"
            ),
        ),
    }
}

/// The weekly summary: counts by status, then every source that is not ok.
pub fn summary_text(
    health: &[Health],
    occurrence: DateTime<Utc>,
    now: DateTime<Utc>,
    a: &AlertsConfig,
    base_url: &url::Url,
) -> (String, String) {
    let day = occurrence.with_timezone(&a.timezone).format("%Y-%m-%d");
    let counts = health::count_by_status(health);
    let status_word = |s: SourceStatus| match (a.locale, s) {
        (Locale::Fr, SourceStatus::Ok) => "ok",
        (Locale::Fr, SourceStatus::Failing) => "en échec",
        (Locale::Fr, SourceStatus::Silent) => "silencieuses",
        (Locale::Fr, SourceStatus::Retired) => "disparues",
        (Locale::Fr, SourceStatus::Paused) => "en pause",
        (Locale::En, s) => s.as_str(),
    };
    let mut text = match a.locale {
        Locale::Fr => format!(
            "Santé des {} sources au {}\n\n",
            health.len(),
            local(now, a)
        ),
        Locale::En => format!(
            "Health of the {} sources on {}\n\n",
            health.len(),
            local(now, a)
        ),
    };
    for (status, n) in counts {
        text.push_str(&format!("  {n:>4}  {}\n", status_word(status)));
    }
    let troubled: Vec<&Health> = health
        .iter()
        .filter(|h| h.status != SourceStatus::Ok)
        .collect();
    if !troubled.is_empty() {
        text.push('\n');
    }
    for h in troubled {
        let since = match h.status {
            SourceStatus::Failing => h.failing_since,
            SourceStatus::Silent => h.silent_since,
            SourceStatus::Retired => h.retired_at,
            _ => None,
        };
        let mut line = format!("- {} ({}) : {}", h.title, h.id, status_word(h.status));
        if let Some(s) = since {
            line.push_str(&match a.locale {
                Locale::Fr => format!(" depuis le {}", local(s, a)),
                Locale::En => format!(" since {}", local(s, a)),
            });
        }
        if let (SourceStatus::Failing, Some(e)) = (h.status, &h.last_error) {
            line.push_str(&format!("\n    {e}"));
        }
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str(&format!("\n{base_url}\n"));
    let subject = match a.locale {
        Locale::Fr => format!("relais : santé des sources, semaine du {day}"),
        Locale::En => format!("relais: source health, week of {day}"),
    };
    (subject, text)
}

#[cfg(test)]
mod tests;

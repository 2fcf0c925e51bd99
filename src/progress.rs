//! Progress of long interactive work (fetching many sources, import, backup, restore):
//! an indicatif bar on stderr when stderr is a terminal, plain `tracing` lines otherwise
//! (every tenth of the way, or every few thousand records when the total is unknown), so
//! cron jobs and pipes get readable logs and stdout always stays the command's answer.
//! A command run through the daemon's control socket reports its progress to the client
//! instead ([`Progress::remote`]), which draws it with [`bar`] or [`counter`] on its side.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where a remote progress update goes: `(label, len, pos, done)`.
pub type Report = Arc<dyn Fn(&str, Option<u64>, u64, bool) + Send + Sync>;

/// A progress indicator; every method is cheap and safe to call from any thread.
pub struct Progress {
    label: String,
    len: Option<u64>,
    pos: AtomicU64,
    /// The position last logged or reported, to throttle lines and frames.
    shown: AtomicU64,
    kind: Kind,
}

enum Kind {
    Bar(ProgressBar),
    Log,
    Remote(Report),
}

/// Records between log lines or remote updates when the total is unknown.
const COUNTER_STEP: u64 = 5_000;

/// A bar for `len` steps of `label` (sources, bytes…).
pub fn bar(len: u64, label: &str) -> Progress {
    let kind = if std::io::stderr().is_terminal() {
        let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {elapsed}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        Kind::Bar(
            ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
                .with_style(style)
                .with_prefix(label.to_string()),
        )
    } else {
        Kind::Log
    };
    Progress::with(Some(len), label, kind)
}

/// A counter for work whose total is unknown (records written…).
pub fn counter(label: &str) -> Progress {
    let kind = if std::io::stderr().is_terminal() {
        let style = ProgressStyle::with_template("{spinner} {prefix}: {pos} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
            .with_style(style)
            .with_prefix(label.to_string());
        Kind::Bar(bar)
    } else {
        Kind::Log
    };
    Progress::with(None, label, kind)
}

impl Progress {
    fn with(len: Option<u64>, label: &str, kind: Kind) -> Progress {
        Progress {
            label: label.to_string(),
            len,
            pos: AtomicU64::new(0),
            shown: AtomicU64::new(0),
            kind,
        }
    }

    /// Progress that is sent elsewhere (a control-socket client) as it moves.
    pub fn remote(len: Option<u64>, label: &str, report: Report) -> Progress {
        report(label, len, 0, false);
        Progress::with(len, label, Kind::Remote(report))
    }

    /// `n` more steps done.
    pub fn inc(&self, n: u64) {
        let pos = self.pos.fetch_add(n, Ordering::Relaxed) + n;
        self.moved(pos);
    }

    /// Jump to `pos` (a client mirroring a remote bar).
    pub fn set_position(&self, pos: u64) {
        self.pos.store(pos, Ordering::Relaxed);
        self.moved(pos);
    }

    fn moved(&self, pos: u64) {
        match &self.kind {
            Kind::Bar(bar) => bar.set_position(pos),
            Kind::Log => {
                if self.due(pos) {
                    match self.len {
                        Some(len) => tracing::info!("{}: {pos}/{len}", self.label),
                        None => tracing::info!("{}: {pos}", self.label),
                    }
                }
            }
            Kind::Remote(report) => {
                if self.due(pos) {
                    report(&self.label, self.len, pos, false);
                }
            }
        }
    }

    /// Whether `pos` is far enough from the last line or update to show again: a tenth of
    /// the way for logs with a total, a hundredth for remote bars.
    fn due(&self, pos: u64) -> bool {
        let step = match (&self.kind, self.len) {
            (Kind::Remote(_), Some(len)) => (len / 100).max(1),
            (_, Some(len)) => (len / 10).max(1),
            (_, None) => COUNTER_STEP,
        };
        let shown = self.shown.load(Ordering::Relaxed);
        pos >= shown.saturating_add(step)
            && self
                .shown
                .compare_exchange(shown, pos, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Done: the bar goes away (the command prints its own summary).
    pub fn finish(&self) {
        let pos = self.pos.load(Ordering::Relaxed);
        match &self.kind {
            Kind::Bar(bar) => bar.finish_and_clear(),
            Kind::Log => tracing::info!("{}: done, {pos}", self.label),
            Kind::Remote(report) => report(&self.label, self.len, pos, true),
        }
    }

    /// Run `f` (which writes to the terminal) with the bar out of the way.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.kind {
            Kind::Bar(bar) => bar.suspend(f),
            _ => f(),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // A command that failed half-way must not leave a bar drawn under its error.
        if let Kind::Bar(bar) = &self.kind {
            if !bar.is_finished() {
                bar.finish_and_clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn remote_progress_is_throttled_and_ends_with_done() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let report: Report = Arc::new(move |label, len, pos, done| {
            sink.lock()
                .unwrap()
                .push((label.to_string(), len, pos, done));
        });
        let p = Progress::remote(Some(1000), "backup", report);
        for _ in 0..1000 {
            p.inc(1);
        }
        p.finish();
        let seen = seen.lock().unwrap();
        // The start, one update per hundredth, the end.
        assert_eq!(seen.len(), 102, "{seen:?}");
        assert_eq!(seen[0], ("backup".to_string(), Some(1000), 0, false));
        assert_eq!(seen[1].2, 10);
        assert_eq!(
            seen.last(),
            Some(&("backup".to_string(), Some(1000), 1000, true))
        );
    }

    #[test]
    fn counters_report_every_few_thousand() {
        let count = Arc::new(AtomicU64::new(0));
        let c = Arc::clone(&count);
        let report: Report = Arc::new(move |_, _, _, _| {
            c.fetch_add(1, Ordering::Relaxed);
        });
        let p = Progress::remote(None, "records", report);
        p.inc(COUNTER_STEP - 1);
        assert_eq!(count.load(Ordering::Relaxed), 1);
        p.inc(1);
        assert_eq!(count.load(Ordering::Relaxed), 2);
    }
}

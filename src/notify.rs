//! The service manager's side channel (systemd's `sd_notify`): readiness, status lines,
//! reload and stop notices, and the watchdog's keep-alive. It is one Unix datagram per
//! message to the socket named by `$NOTIFY_SOCKET`, so it is written here rather than
//! pulled in as a crate. Everything is a no-op when relais does not run under a manager
//! that asked for notifications (no `$NOTIFY_SOCKET`), and a failure to notify is logged
//! once, never an error: the daemon's work does not depend on it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Where notifications go, and how often the watchdog expects a sign of life.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    socket: Option<PathBuf>,
    watchdog: Option<Duration>,
    /// Set after the first failed send, so a misconfigured socket is logged once.
    failed: Arc<AtomicBool>,
}

impl Notifier {
    /// Notifications to nobody.
    pub fn none() -> Notifier {
        Notifier::default()
    }

    /// A notifier for the socket at `path` (a leading `@` names an abstract socket), with
    /// the watchdog expecting a sign of life at least every `watchdog`.
    pub fn new(path: impl Into<PathBuf>, watchdog: Option<Duration>) -> Notifier {
        Notifier {
            socket: Some(path.into()),
            watchdog: watchdog.filter(|d| !d.is_zero()),
            failed: Arc::default(),
        }
    }

    /// From the environment systemd sets: `$NOTIFY_SOCKET`, and `$WATCHDOG_USEC` when
    /// `$WATCHDOG_PID` is unset or this process.
    pub fn from_env() -> Notifier {
        let Some(socket) = std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty()) else {
            return Notifier::none();
        };
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
            .is_none_or(|pid| pid == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|_| for_us)
            .map(Duration::from_micros);
        Notifier::new(PathBuf::from(socket), watchdog)
    }

    /// Whether a manager listens.
    pub fn is_active(&self) -> bool {
        self.socket.is_some()
    }

    /// The watchdog's timeout, when the manager set one.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    /// The service is up: the store is open and the listener bound.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    /// A reload begins; [`Notifier::ready`] ends it.
    pub fn reloading(&self, status: &str) {
        self.send(&format!("RELOADING=1\nSTATUS={}", one_line(status)));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping: flushing the store");
    }

    /// A free-form line `systemctl status` shows.
    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    pub fn watchdog_alive(&self) {
        self.send("WATCHDOG=1");
    }

    fn send(&self, message: &str) {
        let Some(path) = &self.socket else { return };
        if let Err(e) = send_datagram(path, message.as_bytes()) {
            if !self.failed.swap(true, Ordering::Relaxed) {
                tracing::warn!(socket = %path.display(), error = %e, "cannot notify the service manager");
            }
        }
    }
}

/// Status lines are single lines: the protocol separates assignments by newlines.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(unix)]
fn send_datagram(path: &std::path::Path, message: &[u8]) -> std::io::Result<()> {
    use std::os::unix::net::UnixDatagram;
    let socket = UnixDatagram::unbound()?;
    let name = path.as_os_str().as_encoded_bytes();
    match name.strip_prefix(b"@") {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Some(abstract_name) => {
            #[cfg(target_os = "android")]
            use std::os::android::net::SocketAddrExt;
            #[cfg(target_os = "linux")]
            use std::os::linux::net::SocketAddrExt;
            let address = std::os::unix::net::SocketAddr::from_abstract_name(abstract_name)?;
            socket.send_to_addr(message, &address)?;
        }
        _ => {
            socket.send_to(message, path)?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn send_datagram(_path: &std::path::Path, _message: &[u8]) -> std::io::Result<()> {
    Ok(())
}

/// Keep the watchdog fed while the daemon is healthy: every half timeout, a sign of life,
/// sent only once a blocking-pool task (where renders and store writes run) has come back
/// within that half. A runtime that no longer schedules tasks, or whose blocking pool is
/// stuck, stops feeding it, and the manager restarts the service.
pub async fn watchdog(notifier: Notifier, mut stop: tokio::sync::watch::Receiver<bool>) {
    let Some(timeout) = notifier.watchdog() else {
        return;
    };
    let every = timeout / 2;
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let probe = tokio::task::spawn_blocking(|| ());
        match tokio::time::timeout(every, probe).await {
            Ok(Ok(())) => notifier.watchdog_alive(),
            _ => tracing::warn!("watchdog: the blocking pool did not answer in time"),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn messages_arrive_as_datagrams_and_nothing_without_a_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        listener
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let notifier = Notifier::new(&path, None);
        notifier.ready("serving\non :8080");
        let mut buf = [0u8; 256];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=serving on :8080");
        notifier.reloading("reloading");
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"RELOADING=1\nSTATUS=reloading");
        // No socket: nothing sent, nothing fails.
        Notifier::none().ready("x");
        assert!(!Notifier::none().is_active());
    }

    #[test]
    fn a_missing_socket_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let notifier = Notifier::new(dir.path().join("absent"), Some(Duration::from_secs(1)));
        notifier.ready("up");
        notifier.watchdog_alive();
        assert!(notifier.failed.load(Ordering::Relaxed));
    }
}

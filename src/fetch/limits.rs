//! Concurrency limits: how many fetches run at once overall, and per host, so callers can
//! spawn one task per source and let the Fetcher queue them. The per-host map only holds
//! hosts with a fetch running or waiting; an entry is dropped by the last permit leaving
//! it, so a long-running daemon does not accumulate every host it ever saw.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Per host: its semaphore and how many fetches are running or waiting on it.
type HostMap = Arc<Mutex<HashMap<String, (Arc<Semaphore>, usize)>>>;

#[derive(Debug)]
pub(super) struct Limits {
    global: Arc<Semaphore>,
    per_host: usize,
    hosts: HostMap,
}

/// Held for the duration of one fetch; dropping it frees the slots.
#[derive(Debug)]
pub(super) struct Permit {
    _global: Option<OwnedSemaphorePermit>,
    _host: Option<HostPermit>,
}

/// Registered as a user of its host's entry from before it waits until it is dropped,
/// cancelled while waiting included.
#[derive(Debug)]
struct HostPermit {
    permit: Option<OwnedSemaphorePermit>,
    host: String,
    hosts: HostMap,
}

fn lock(hosts: &HostMap) -> MutexGuard<'_, HashMap<String, (Arc<Semaphore>, usize)>> {
    // The map is consistent after every statement, so a panic elsewhere while holding the
    // lock leaves nothing half-done: keep going rather than poison every later fetch.
    hosts
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Limits {
    pub(super) fn new(concurrency: usize, per_host: usize) -> Limits {
        Limits {
            global: Arc::new(Semaphore::new(concurrency.max(1))),
            per_host: per_host.max(1),
            hosts: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Wait for a slot for `host` (if any), then a global one. The host slot comes first
    /// so a fetch queued behind a busy host does not sit on a global slot meanwhile.
    pub(super) async fn acquire(&self, host: Option<&str>) -> Permit {
        let host = match host {
            None => None,
            Some(host) => {
                let semaphore = {
                    let mut map = lock(&self.hosts);
                    let entry = map
                        .entry(host.to_owned())
                        .or_insert_with(|| (Arc::new(Semaphore::new(self.per_host)), 0));
                    entry.1 += 1;
                    Arc::clone(&entry.0)
                };
                let mut held = HostPermit {
                    permit: None,
                    host: host.to_owned(),
                    hosts: Arc::clone(&self.hosts),
                };
                // The semaphores are never closed, so acquiring cannot fail; if it ever
                // did, running without the slot beats refusing to fetch.
                held.permit = semaphore.acquire_owned().await.ok();
                Some(held)
            }
        };
        let global = Arc::clone(&self.global).acquire_owned().await.ok();
        Permit {
            _global: global,
            _host: host,
        }
    }

    #[cfg(test)]
    pub(super) fn hosts_tracked(&self) -> usize {
        lock(&self.hosts).len()
    }
}

impl Drop for HostPermit {
    fn drop(&mut self) {
        self.permit.take();
        let mut map = lock(&self.hosts);
        let idle = match map.get_mut(&self.host) {
            Some(entry) => {
                entry.1 = entry.1.saturating_sub(1);
                entry.1 == 0
            }
            None => false,
        };
        if idle {
            map.remove(&self.host);
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[tokio::test]
    async fn host_entries_are_forgotten_when_idle() {
        let limits = Limits::new(4, 1);
        let first = limits.acquire(Some("a.example")).await;
        let other = limits.acquire(Some("b.example")).await;
        assert_eq!(limits.hosts_tracked(), 2);

        // A second fetch to the busy host waits; cancelling it must not leak its entry.
        let waiting = limits.acquire(Some("a.example")).now_or_never();
        assert!(
            waiting.is_none(),
            "per-host limit of 1 let a second fetch in"
        );
        assert_eq!(limits.hosts_tracked(), 2);

        drop(first);
        assert_eq!(limits.hosts_tracked(), 1);
        drop(other);
        assert_eq!(limits.hosts_tracked(), 0);

        let none = limits.acquire(None).await;
        assert_eq!(limits.hosts_tracked(), 0);
        drop(none);
    }

    #[tokio::test]
    async fn global_limit_holds_across_hosts() {
        let limits = Limits::new(1, 4);
        let held = limits.acquire(Some("a.example")).await;
        let blocked = limits.acquire(Some("b.example")).now_or_never();
        assert!(blocked.is_none(), "global limit of 1 let a second fetch in");
        // The cancelled waiter left no entry for its host behind.
        assert_eq!(limits.hosts_tracked(), 1);
        drop(held);
        let _next = limits.acquire(Some("b.example")).await;
        assert_eq!(limits.hosts_tracked(), 1);
    }
}

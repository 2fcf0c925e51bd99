//! WebSub publisher: when a channel's feeds change, tell the hub (`hub.mode=publish`), so
//! subscribers' readers get the news within seconds instead of at their next poll. A
//! channel has changed when its first Atom page has other bytes than last time (items
//! gained, lost or edited); each of its three feed URLs is then pinged. A failed ping is
//! logged and not retried: the next change pings again, and readers still poll.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use url::Url;

use crate::fetch::Fetcher;
use crate::publish::{Doc, Publisher};
use crate::render::FeedFormat;

/// Watches for changes and pings the hub; one per daemon.
pub struct Pinger {
    hub: Url,
    publisher: Arc<Publisher>,
    fetcher: Arc<Fetcher>,
    /// Per channel, the ETag of its first Atom page when last looked at.
    seen: HashMap<String, String>,
}

impl Pinger {
    /// A pinger that takes the channels as they are now as its starting point, so a
    /// restart does not ping for content the hub already had.
    pub async fn new(hub: Url, publisher: Arc<Publisher>, fetcher: Arc<Fetcher>) -> Pinger {
        let mut pinger = Pinger {
            hub,
            publisher,
            fetcher,
            seen: HashMap::new(),
        };
        let _ = pinger.changed_channels().await;
        pinger
    }

    /// Run until `changes` closes: each message means "the store may have changed".
    pub async fn run(mut self, mut changes: mpsc::UnboundedReceiver<()>) {
        while changes.recv().await.is_some() {
            // Several polls may have finished together: one look covers them all.
            while changes.try_recv().is_ok() {}
            for channel in self.changed_channels().await {
                self.ping(&channel).await;
            }
        }
    }

    /// The channels whose first Atom page changed since the last look.
    async fn changed_channels(&mut self) -> Vec<String> {
        let ids: Vec<String> = self
            .publisher
            .config()
            .channels
            .iter()
            .map(|c| c.id.clone())
            .collect();
        let mut changed = Vec::new();
        for id in ids {
            let publisher = Arc::clone(&self.publisher);
            let doc = Doc::Feed {
                id: id.clone(),
                format: FeedFormat::Atom,
                page: 1,
            };
            let etag = match tokio::task::spawn_blocking(move || publisher.document(&doc)).await {
                Ok(Ok(Some(rendered))) => rendered.etag.clone(),
                Ok(Ok(None)) => continue,
                Ok(Err(e)) => {
                    tracing::warn!(channel = %id, error = %e, "websub: cannot render the channel");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(channel = %id, error = %e, "websub: render task failed");
                    continue;
                }
            };
            if self.seen.insert(id.clone(), etag.clone()).as_ref() != Some(&etag) {
                changed.push(id);
            }
        }
        changed
    }

    async fn ping(&self, channel: &str) {
        let base = &self.publisher.config().server.base_url;
        for format in FeedFormat::ALL {
            let url = Doc::Feed {
                id: channel.to_string(),
                format,
                page: 1,
            }
            .url(base);
            let form = [("hub.mode", "publish"), ("hub.url", url.as_str())];
            match self.fetcher.post_form(&self.hub, &form).await {
                Ok(status) => {
                    tracing::info!(channel, feed = %url, hub = %self.hub, status, "websub: hub pinged")
                }
                Err(e) => {
                    tracing::warn!(channel, feed = %url, error = %e, "websub: ping failed")
                }
            }
        }
    }
}

//! The daemon (`relais run`): open the store, start polling, serving, sending
//! digests and checking source health for alerts, and stop cleanly when asked. It
//! receives its listener and its shutdown signal from the caller, so tests run it on
//! port 0 and stop it without signals.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::fetch::{FetchError, Fetcher};
use crate::poll;
use crate::refresh::{Refresher, Report};
use crate::server::{self, AppState};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot set up fetching: {0}")]
    Fetch(#[from] FetchError),
    #[error("http server: {0}")]
    Serve(std::io::Error),
    #[error("{0}")]
    Task(String),
}

/// How often old items are pruned (and once shortly after start).
const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);

/// Run until `shutdown` completes: polls in flight are cancelled, the server finishes the
/// requests under way, and the store is flushed before returning.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    run_with_reports(config, listener, shutdown, None).await
}

/// `run`, also sending every poll's report to `reports`.
pub async fn run_with_reports(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    reports: poll::Reports,
) -> Result<(), DaemonError> {
    let config = Arc::new(config);
    let store = {
        let path = config.store.path.clone();
        let options = crate::store::StoreOptions {
            story_window: config.stories.window,
            ..crate::store::StoreOptions::default()
        };
        tokio::task::spawn_blocking(move || Store::open_with(&path, &options))
            .await
            .map_err(|e| DaemonError::Task(e.to_string()))??
    };
    let store = Arc::new(store);
    let fetcher = Fetcher::new(&config.fetch)?;
    let refresher = Arc::new(Refresher::new(
        Arc::clone(&config),
        fetcher,
        Arc::clone(&store),
    ));

    let address = listener.local_addr().map_err(DaemonError::Serve)?;
    tracing::info!(
        %address,
        sources = config.sources.len(),
        channels = config.channels.len(),
        store = %config.store.path.display(),
        "relais is running: http://{address}/"
    );

    let (stop, stopped) = watch::channel(false);
    let wait_stop = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut state = AppState::new(Arc::clone(&config), Arc::clone(&store));
    let digester = Arc::new(
        crate::digest::Digester::new(Arc::clone(&config), Arc::clone(&store))
            .with_metrics(Arc::clone(&state.metrics)),
    );
    state.digest_tick = digester.last_tick();
    let alerter = crate::alerts::Alerter::new(Arc::clone(&config), Arc::clone(&store))
        .map(|a| Arc::new(a.with_metrics(Arc::clone(&state.metrics))));
    if let Some(a) = &alerter {
        state.alerts_check = a.last_check();
    }
    // Each poll report wakes the alert checker (a pending wake-up is as good as two).
    let (alert_nudge, alert_nudged) = tokio::sync::mpsc::channel::<()>(1);
    let metrics = Arc::clone(&state.metrics);

    // Poll reports go to the log, to `reports` (tests), and nudge the WebSub pinger when a
    // poll stored something.
    let (nudge, nudged) = tokio::sync::mpsc::unbounded_channel::<()>();
    state.changed = Some(nudge.clone());
    let pinger = match &config.websub {
        Some(websub) => {
            let pinger = crate::websub::Pinger::new(
                websub.hub.clone(),
                Arc::clone(&state.publisher),
                Arc::new(Fetcher::new(&config.fetch)?),
            )
            .await;
            Some(tokio::spawn(pinger.run(nudged)))
        }
        None => None,
    };
    let (report_tx, mut report_rx) = tokio::sync::mpsc::unbounded_channel::<Report>();
    let forward = tokio::spawn(async move {
        while let Some(report) = report_rx.recv().await {
            metrics.poll(&report);
            let _ = alert_nudge.try_send(());
            if report.new_items() + report.updated_items() > 0 {
                let _ = nudge.send(());
            }
            if let Some(tx) = &reports {
                let _ = tx.send(report);
            }
        }
    });

    let server = tokio::spawn(server::serve(listener, state, wait_stop(stopped.clone())));
    let polling = tokio::spawn(poll::run(
        Arc::clone(&refresher),
        stopped.clone(),
        Some(report_tx),
    ));
    let digesting = (!config.digests.is_empty()).then(|| {
        tokio::spawn(crate::digest::run(
            Arc::clone(&digester),
            crate::digest::TICK_EVERY,
            stopped.clone(),
        ))
    });
    let alerting =
        alerter.map(|a| tokio::spawn(crate::alerts::run(a, alert_nudged, stopped.clone())));
    let pruning = tokio::spawn(prune_loop(
        Arc::clone(&store),
        config.store.retention,
        stopped.clone(),
    ));

    shutdown.await;
    tracing::info!("shutting down: cancelling polls, finishing requests, flushing the store");
    let _ = stop.send(true);
    let served = server.await;
    let _ = polling.await;
    let _ = pruning.await;
    // A digest being sent gets a short grace to finish; its ledger steps are flushed.
    if let Some(digesting) = digesting {
        let _ = digesting.await;
    }
    if let Some(alerting) = alerting {
        let _ = alerting.await;
    }
    // The poll tasks held the report sender: with them gone the forwarder ends. A ping
    // under way is not worth waiting for (readers still poll).
    let _ = forward.await;
    if let Some(pinger) = pinger {
        pinger.abort();
    }
    let flushed = tokio::task::spawn_blocking(move || store.flush())
        .await
        .map_err(|e| DaemonError::Task(e.to_string()))?;
    flushed?;
    tracing::info!("stopped");
    match served {
        Ok(result) => result.map_err(DaemonError::Serve),
        Err(e) => Err(DaemonError::Task(e.to_string())),
    }
}

async fn prune_loop(store: Arc<Store>, retention: Duration, mut stopped: watch::Receiver<bool>) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        wait = PRUNE_EVERY;
        let cutoff =
            Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let store = Arc::clone(&store);
        match tokio::task::spawn_blocking(move || store.prune(cutoff)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                tracing::info!(pruned = n, cutoff = %cutoff.to_rfc3339(), "pruned old items")
            }
            Ok(Err(e)) => tracing::error!(error = %e, "pruning failed"),
            Err(e) => tracing::error!(error = %e, "pruning task failed"),
        }
    }
}

//! The daemon (`relais run`): open the store, start polling, serving, sending digests
//! and checking source health for alerts, reload the configuration when asked, and stop
//! cleanly when asked. It receives
//! its listener, its shutdown signal and its reload requests from the caller, so tests run
//! it on port 0 and drive it without signals.
//!
//! Two lifetimes. `Lifelong` is what the process keeps from start to stop: the store,
//! the bound listener and its server, the metrics (counters survive reloads), the
//! service manager's notifier. A `Generation` is everything built from one
//! configuration — poll tasks, the publisher and the state the server answers with, the
//! digest ticker, the alert checker, the WebSub pinger, pruning. A reload
//! validates the new file first; only then is the running generation stopped and the
//! next one started, and the server switched to it between two requests. A refused
//! reload changes nothing.
//!
//! Adding a component: something that depends on the configuration is started in
//! `Generation::start` (one `tasks.push`); something that must outlive reloads goes in
//! `Lifelong` and reads the parts in force from `Lifelong::current` (a watch).

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::fetch::{FetchError, Fetcher};
use crate::notify::Notifier;
use crate::poll;
use crate::refresh::{Refresher, Report};
use crate::reload::{Changes, ReloadError, Requests};
use crate::server::{self, AppState, LiveApp};
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

/// What a caller can hand the daemon besides its configuration, listener and shutdown.
#[derive(Debug, Default)]
pub struct Options {
    /// Every poll's report (tests, and later metrics).
    pub reports: poll::Reports,
    /// Reload requests: the binary sends one per SIGHUP; tests send them directly.
    pub reload: Option<Requests>,
    /// The service manager (systemd) to tell about readiness, reloads and liveness.
    pub notify: Notifier,
}

/// Run until `shutdown` completes: polls in flight are cancelled, the server finishes the
/// requests under way, and the store is flushed before returning.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    run_with(config, listener, shutdown, Options::default()).await
}

/// `run`, also sending every poll's report to `reports`.
pub async fn run_with_reports(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    reports: poll::Reports,
) -> Result<(), DaemonError> {
    let options = Options {
        reports,
        ..Options::default()
    };
    run_with(config, listener, shutdown, options).await
}

/// The parts of the generation in force that other components use.
#[derive(Clone)]
pub struct Current {
    pub state: AppState,
    pub refresher: Arc<Refresher>,
    pub digester: Arc<crate::digest::Digester>,
}

impl Current {
    /// What a CLI store command run by the daemon uses (see `control`).
    pub fn ctx(&self) -> crate::cli::Ctx {
        crate::cli::Ctx {
            config: Arc::clone(&self.state.config),
            store: Arc::clone(&self.state.store),
            refresher: Some(Arc::clone(&self.refresher)),
            digester: Some(Arc::clone(&self.digester)),
        }
    }
}

/// What outlives reloads.
struct Lifelong {
    store: Arc<Store>,
    metrics: Arc<crate::metrics::Metrics>,
    /// What the HTTP server answers with; replaced on reload.
    app: LiveApp,
    /// The parts of the generation in force, for lifelong components that act on the
    /// configuration of the moment (subscribe, and read it per use).
    current: watch::Sender<Current>,
    reports: poll::Reports,
    notify: Notifier,
}

/// `run` with every option.
pub async fn run_with(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    options: Options,
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
    let address = listener.local_addr().map_err(DaemonError::Serve)?;

    let metrics = Arc::new(crate::metrics::Metrics::new(Utc::now()));
    let first = Prepared::new(Arc::clone(&config), &store, &metrics).await?;
    let life = Lifelong {
        store: Arc::clone(&store),
        metrics,
        app: LiveApp::new(first.state.clone()),
        current: watch::Sender::new(first.current()),
        reports: options.reports,
        notify: options.notify,
    };
    let mut generation = first.start(&life, &HashSet::new());

    let (stop, stopped) = watch::channel(false);
    let wait_stop = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let server = tokio::spawn(server::serve_live(
        listener,
        life.app.clone(),
        wait_stop(stopped.clone()),
    ));
    let watchdog = tokio::spawn(crate::notify::watchdog(
        life.notify.clone(),
        stopped.clone(),
    ));
    // CLI store commands, run against the parts in force at each request.
    let parts = life.current.subscribe();
    let control = crate::control::start(
        &config.store.path,
        Arc::new(move || parts.borrow().ctx()),
        stopped.clone(),
    );

    tracing::info!(
        %address,
        sources = config.sources.len(),
        channels = config.channels.len(),
        store = %config.store.path.display(),
        "relais is running: http://{address}/"
    );
    life.notify.ready(&running_status(&address, &config));

    let mut reload = options.reload;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let request = async {
            match reload.as_mut() {
                Some(requests) => requests.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut shutdown => break,
            request = request => match request {
                Some(request) => {
                    let (next, outcome) = reload_config(generation, &life).await;
                    generation = next;
                    life.notify.ready(&match &outcome {
                        Ok(_) => running_status(&address, &generation.config),
                        Err(e) => format!("{}; {e}", running_status(&address, &generation.config)),
                    });
                    request.answer(outcome);
                }
                // Every reloader is gone: no reload can come any more.
                None => reload = None,
            },
        }
    }

    tracing::info!("shutting down: cancelling polls, finishing requests, flushing the store");
    life.notify.stopping();
    let _ = stop.send(true);
    generation.stop().await;
    let served = server.await;
    if let Some(control) = control {
        let _ = control.await;
    }
    let _ = watchdog.await;
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

fn running_status(address: &std::net::SocketAddr, config: &Config) -> String {
    format!(
        "serving on http://{address}/; {} sources, {} channels",
        config.sources.len(),
        config.channels.len()
    )
}

/// Re-read the configuration file. A file that does not validate, or a configuration that
/// cannot be set up, leaves `running` untouched; otherwise `running` is stopped and the
/// new generation started. Returns the generation in force and what changed.
async fn reload_config(
    running: Generation,
    life: &Lifelong,
) -> (Generation, Result<Changes, ReloadError>) {
    let path = running.config.path.clone();
    tracing::info!(config = %path.display(), "reloading the configuration");
    life.notify
        .reloading(&format!("reloading {}", path.display()));
    let loaded = tokio::task::spawn_blocking(move || Config::load(&path)).await;
    let new = match loaded {
        Ok(Ok(config)) => config,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "reload refused: the running configuration is kept");
            return (running, Err(ReloadError::Invalid(e)));
        }
        Err(e) => return (running, Err(ReloadError::Unusable(e.to_string()))),
    };
    let changes = Changes::between(&running.config, &new);
    for setting in &changes.ignored {
        tracing::warn!(setting = %setting, "reload: this setting needs a restart; ignored until then");
    }
    let new = Arc::new(Changes::applicable(&running.config, new));
    let prepared = match Prepared::new(new, &life.store, &life.metrics).await {
        Ok(prepared) => prepared,
        Err(e) => {
            tracing::error!(error = %e, "reload refused: the running configuration is kept");
            return (running, Err(ReloadError::Unusable(e.to_string())));
        }
    };
    let keep = Changes::kept_schedules(&running.config, &prepared.state.config);
    running.stop().await;
    let next = prepared.start(life, &keep);
    tracing::info!("config reloaded: {changes}");
    (next, Ok(changes))
}

/// A configuration's components, built but not started: building can fail (a fetcher
/// that cannot be set up), starting cannot, so a reload fails before it stops anything.
struct Prepared {
    state: AppState,
    refresher: Arc<Refresher>,
    digester: Arc<crate::digest::Digester>,
    /// The alert checker, when `[alerts]` is configured.
    alerter: Option<Arc<crate::alerts::Alerter>>,
    /// The WebSub pinger, when a hub is configured; it has looked at the channels as
    /// they are, so it pings only for what changes from now on.
    pinger: Option<crate::websub::Pinger>,
}

/// The running components of one configuration, stopped together.
struct Generation {
    config: Arc<Config>,
    stop: watch::Sender<bool>,
    /// Awaited on stop, in order.
    tasks: Vec<JoinHandle<()>>,
    /// Aborted on stop: work not worth waiting for (a hub ping; readers still poll).
    abort: Vec<JoinHandle<()>>,
}

impl Prepared {
    fn current(&self) -> Current {
        Current {
            state: self.state.clone(),
            refresher: Arc::clone(&self.refresher),
            digester: Arc::clone(&self.digester),
        }
    }

    async fn new(
        config: Arc<Config>,
        store: &Arc<Store>,
        metrics: &Arc<crate::metrics::Metrics>,
    ) -> Result<Prepared, DaemonError> {
        let fetcher = Fetcher::new(&config.fetch)?;
        let refresher = Arc::new(Refresher::new(
            Arc::clone(&config),
            fetcher,
            Arc::clone(store),
        ));
        let mut state = AppState::new(Arc::clone(&config), Arc::clone(store));
        state.metrics = Arc::clone(metrics);
        let digester = Arc::new(
            crate::digest::Digester::new(Arc::clone(&config), Arc::clone(store))
                .with_metrics(Arc::clone(metrics)),
        );
        state.digest_tick = digester.last_tick();
        let alerter = crate::alerts::Alerter::new(Arc::clone(&config), Arc::clone(store))
            .map(|a| Arc::new(a.with_metrics(Arc::clone(metrics))));
        if let Some(a) = &alerter {
            state.alerts_check = a.last_check();
        }
        let pinger = match &config.websub {
            Some(websub) => Some(
                crate::websub::Pinger::new(
                    websub.hub.clone(),
                    Arc::clone(&state.publisher),
                    Arc::new(Fetcher::new(&config.fetch)?),
                )
                .await,
            ),
            None => None,
        };
        Ok(Prepared {
            state,
            refresher,
            digester,
            alerter,
            pinger,
        })
    }

    /// Start every task of this configuration and make the server answer with it.
    /// Sources in `keep` keep their poll schedule (see [`poll::run`]).
    fn start(mut self, life: &Lifelong, keep: &HashSet<String>) -> Generation {
        let config = Arc::clone(&self.state.config);
        // A poll that stored something, or a curation through the admin API, nudges the
        // WebSub pinger.
        let (nudge, nudged) = tokio::sync::mpsc::unbounded_channel::<()>();
        self.state.changed = Some(nudge.clone());
        let current = self.current();
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        let mut abort = Vec::new();

        // Poll reports go to the log, to the metrics, to `reports` (tests); each wakes the
        // alert checker (a pending wake-up is as good as two) and, when a poll stored
        // something, the WebSub pinger.
        let (alert_nudge, alert_nudged) = tokio::sync::mpsc::channel::<()>(1);
        if let Some(pinger) = self.pinger {
            abort.push(tokio::spawn(pinger.run(nudged)));
        }
        let (report_tx, mut report_rx) = tokio::sync::mpsc::unbounded_channel::<Report>();
        let reports = life.reports.clone();
        let metrics = Arc::clone(&life.metrics);
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

        let refresher = self.refresher;
        let keep = keep.clone();
        let polling_stop = stopped.clone();
        tasks.push(tokio::spawn(async move {
            poll::run(refresher, polling_stop, Some(report_tx), &keep).await
        }));
        if !config.digests.is_empty() {
            // A digest being sent gets a short grace to finish; its ledger steps are
            // flushed.
            tasks.push(tokio::spawn(crate::digest::run(
                self.digester,
                crate::digest::TICK_EVERY,
                stopped.clone(),
            )));
        }
        if let Some(alerter) = self.alerter {
            tasks.push(tokio::spawn(crate::alerts::run(
                alerter,
                alert_nudged,
                stopped.clone(),
            )));
        }
        tasks.push(tokio::spawn(prune_loop(
            Arc::clone(&life.store),
            config.store.retention,
            stopped,
        )));
        // Last: the poll tasks hold the report sender, so with them gone it ends.
        tasks.push(forward);

        life.app.replace(self.state.clone());
        let _previous = life.current.send_replace(current);
        Generation {
            config,
            stop,
            tasks,
            abort,
        }
    }
}

impl Generation {
    /// Stop this configuration's tasks: polls under way are dropped (their store write is
    /// atomic), a digest under way gets its grace, the pinger is aborted.
    async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        for task in self.abort {
            task.abort();
        }
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

//! A daemon running on 127.0.0.1:0 for a test: its address, its poll reports, and a
//! clean stop. One place for the start-up every daemon-level test needs.

use std::net::SocketAddr;
use std::time::Duration;

use relais::config::Config;
use relais::daemon::DaemonError;
use relais::refresh::Report;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub struct Daemon {
    pub addr: SocketAddr,
    pub reports: mpsc::UnboundedReceiver<Report>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), DaemonError>>,
}

impl Daemon {
    pub async fn start(config: &Config) -> Daemon {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, reports) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(relais::daemon::run_with_reports(
            config.clone(),
            listener,
            async {
                let _ = stopped.await;
            },
            Some(tx),
        ));
        Daemon {
            addr,
            reports,
            stop,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits (up to `within`) for the next `n` reports satisfying `wanted`; says why the
    /// daemon ended if it stops reporting first.
    pub async fn polls(&mut self, n: usize, within: Duration, wanted: impl Fn(&Report) -> bool) {
        let reports = &mut self.reports;
        let seen = tokio::time::timeout(within, async {
            let mut seen = 0;
            while seen < n {
                match reports.recv().await {
                    Some(report) if wanted(&report) => seen += 1,
                    Some(_) => {}
                    None => return false,
                }
            }
            true
        })
        .await
        .expect("polls within the deadline");
        if !seen {
            panic!("the daemon stopped reporting: {:?}", (&mut self.task).await);
        }
    }

    /// Stops the daemon and waits (up to 10 s) for a clean end.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the daemon stops")
            .unwrap()
            .unwrap();
    }
}

//! Reloading a running daemon's configuration: a real daemon on 127.0.0.1:0 polling a
//! fixture server, its file rewritten, then a reload asked through `reload::Reloader` (the
//! binary does the same on SIGHUP; `sighup_reloads_and_systemd_hears_of_it` checks that,
//! and the notifications systemd gets, on the real binary).

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use relais::config::Config;
use relais::refresh::Report;
use relais::reload::{self, ReloadError};
use support::{FixtureServer, Reply, Routes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

fn rss(name: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>{name}</title><link>https://{name}.example.org/</link>
<item><title>Nouvelles de {name}</title><link>https://{name}.example.org/1</link>
<guid isPermaLink="false">{name}-1</guid><pubDate>Mon, 23 Nov 2026 09:00:00 +0100</pubDate>
<description>Une journée d'échanges.</description></item>
</channel></rss>"#
    )
}

async fn fixtures() -> FixtureServer {
    let mut routes = Routes::new();
    for name in ["a", "b", "c", "tick"] {
        routes = routes.fixed(&format!("/{name}.xml"), Reply::ok(rss(name)));
    }
    FixtureServer::start(routes).await
}

/// A configuration: `[[source]]` for each (id, interval), then the channels (id, extra
/// lines).
fn write_config(dir: &Path, server: &FixtureServer, sources: &[(&str, &str)], channels: &str) {
    let mut text = String::from(
        "[server]\nlisten = \"127.0.0.1:0\"\n[store]\npath = \"store\"\n\
         [fetch]\nallow_private = true\ntimeout = \"5s\"\n",
    );
    for (id, interval) in sources {
        text.push_str(&format!(
            "[[source]]\nid = \"{id}\"\nurl = \"{}\"\ninterval = \"{interval}\"\n",
            server.url(&format!("/{id}.xml"))
        ));
    }
    text.push_str(channels);
    std::fs::write(dir.join("relais.toml"), text).unwrap();
}

struct Running {
    addr: SocketAddr,
    reloader: reload::Reloader,
    reports: mpsc::UnboundedReceiver<Report>,
    stop: oneshot::Sender<()>,
    daemon: JoinHandle<Result<(), relais::daemon::DaemonError>>,
}

/// A fixture server, a folder with a configuration, and a daemon running it.
async fn start_with(
    sources: &[(&str, &str)],
    channels: &str,
) -> (FixtureServer, tempfile::TempDir, Running) {
    let server = fixtures().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &server, sources, channels);
    let daemon = start(dir.path()).await;
    (server, dir, daemon)
}

async fn start(dir: &Path) -> Running {
    let config = Config::load(&dir.join("relais.toml")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let (tx, reports) = mpsc::unbounded_channel();
    let (reloader, requests) = reload::channel();
    let options = relais::daemon::Options {
        reports: Some(tx),
        reload: Some(requests),
        ..Default::default()
    };
    let daemon = tokio::spawn(relais::daemon::run_with(
        config,
        listener,
        async {
            let _ = stopped.await;
        },
        options,
    ));
    Running {
        addr,
        reloader,
        reports,
        stop,
        daemon,
    }
}

impl Running {
    /// Reports until each of `sources` has reported `times` times (counting from now),
    /// up to a deadline; returns how many reports each source sent meanwhile.
    async fn polled(&mut self, sources: &[&str], times: usize) -> HashMap<String, usize> {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while sources
            .iter()
            .any(|s| seen.get(*s).copied().unwrap_or(0) < times)
        {
            let report = tokio::time::timeout_at(deadline, self.reports.recv())
                .await
                .unwrap_or_else(|_| panic!("{sources:?} not polled {times}× in time: {seen:?}"))
                .expect("the daemon runs");
            *seen.entry(report.source).or_default() += 1;
        }
        seen
    }

    /// Reports until at least `span` has passed, measured by reports arriving (a source
    /// with a short interval is the clock); returns how many each source sent.
    async fn polled_during(&mut self, span: Duration) -> HashMap<String, usize> {
        let start = Instant::now();
        let mut seen: HashMap<String, usize> = HashMap::new();
        while start.elapsed() < span {
            let report = tokio::time::timeout(Duration::from_secs(30), self.reports.recv())
                .await
                .expect("the clock source keeps polling")
                .expect("the daemon runs");
            *seen.entry(report.source).or_default() += 1;
        }
        seen
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.daemon)
            .await
            .expect("the daemon stops promptly")
            .unwrap()
            .expect("the daemon stops without error");
    }
}

/// The status line and body of GET `path`.
async fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.lines().next().unwrap_or("").to_string();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The status line of GET `path`.
async fn status(addr: SocketAddr, path: &str) -> String {
    get(addr, path).await.0
}

/// The channels whose feed is served, and those that answer 404.
async fn assert_channels(addr: SocketAddr, served: &[&str], absent: &[&str]) {
    for id in served {
        let path = format!("/feeds/{id}.rss");
        assert_eq!(status(addr, &path).await, "HTTP/1.1 200 OK", "{path}");
    }
    for id in absent {
        let path = format!("/feeds/{id}.rss");
        assert_eq!(
            status(addr, &path).await,
            "HTTP/1.1 404 Not Found",
            "{path}"
        );
    }
}

const CHANNEL_OLD: &str = "[[channel]]\nid = \"old\"\ntitle = \"Ancienne\"\n";
const CHANNEL_NEW: &str = "[[channel]]\nid = \"new\"\ntitle = \"Nouvelle\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_adds_and_removes_sources_and_channels() {
    let (server, dir, mut daemon) = start_with(
        &[("a", "1h"), ("b", "1200ms"), ("tick", "1200ms")],
        CHANNEL_OLD,
    )
    .await;
    daemon.polled(&["a", "b", "tick"], 1).await;
    assert_channels(daemon.addr, &["old"], &["new"]).await;

    write_config(
        dir.path(),
        &server,
        &[("a", "1h"), ("c", "1h"), ("tick", "1200ms")],
        CHANNEL_NEW,
    );
    let changes = daemon
        .reloader
        .reload()
        .await
        .expect("a valid file reloads");
    assert_eq!(changes.sources_added, ["c"]);
    assert_eq!(changes.sources_removed, ["b"]);
    assert!(changes.sources_changed.is_empty());
    assert_eq!(changes.channels_added, ["new"]);
    assert_eq!(changes.channels_removed, ["old"]);
    assert_eq!(
        changes.to_string(),
        "+1 sources, -1, ~0 changed; channels +1, -1, ~0 changed (+c -b +channel new -channel old)"
    );

    // The server answers with the new channels from the next request on.
    assert_channels(daemon.addr, &["new"], &["old"]).await;

    // The added source is polled; the removed one, due every 1.2 s, no more; the
    // unchanged `a` (hourly, polled at start) keeps its schedule instead of polling again
    // soon after the reload (soon = within 3 s).
    let b_before = server.requests_to("/b.xml").len();
    daemon.polled(&["c"], 1).await;
    let seen = daemon.polled_during(Duration::from_millis(3500)).await;
    assert!(seen.get("tick").copied().unwrap_or(0) >= 2, "{seen:?}");
    assert_eq!(seen.get("b"), None, "{seen:?}");
    assert_eq!(seen.get("a"), None, "{seen:?}");
    assert_eq!(server.requests_to("/b.xml").len(), b_before);
    assert_eq!(server.requests_to("/a.xml").len(), 1);
    assert_eq!(server.requests_to("/c.xml").len(), 1);
    // Metrics outlive the reload: the items of a, b and tick before it, c's after.
    let (_, metrics) = get(daemon.addr, "/metrics").await;
    let new_items: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("relais_items_new_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no relais_items_new_total in {metrics}"));
    assert_eq!(new_items, 4.0, "{metrics}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_file_is_refused_and_the_running_config_kept() {
    let (server, dir, mut daemon) =
        start_with(&[("a", "1h"), ("tick", "1200ms")], CHANNEL_OLD).await;
    daemon.polled(&["a", "tick"], 1).await;

    // An unknown key in a channel, and a new source that must not be polled.
    write_config(
        dir.path(),
        &server,
        &[("a", "1h"), ("c", "1h"), ("tick", "1200ms")],
        "[[channel]]\nid = \"new\"\ntitle = \"Nouvelle\"\ncolour = \"bleu\"\n",
    );
    let error = daemon.reloader.reload().await.unwrap_err();
    assert!(matches!(error, ReloadError::Invalid(_)), "{error:?}");
    let message = error.to_string();
    let file = dir.path().join("relais.toml");
    assert!(
        message.contains(&format!("{}:23:1: channel[1].colour:", file.display())),
        "{message}"
    );
    assert!(message.contains("running configuration kept"), "{message}");

    // Still the old channels, still the old sources, still polling.
    assert_channels(daemon.addr, &["old"], &["new"]).await;
    let seen = daemon.polled(&["tick"], 2).await;
    assert_eq!(seen.get("c"), None);
    assert!(server.requests_to("/c.xml").is_empty());

    // Fixed, it reloads; the source the refused file named is polled now.
    write_config(
        dir.path(),
        &server,
        &[("a", "1h"), ("c", "1h"), ("tick", "1200ms")],
        CHANNEL_NEW,
    );
    let changes = daemon.reloader.reload().await.unwrap();
    assert_eq!(changes.sources_added, ["c"]);
    daemon.polled(&["c"], 1).await;
    assert_channels(daemon.addr, &["new"], &["old"]).await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_source_polls_soon_and_restart_only_settings_are_reported() {
    let (server, dir, mut daemon) = start_with(&[("a", "1h")], "").await;
    daemon.polled(&["a"], 1).await;

    // A new interval is a change: `a` is polled again soon. A new store path and listen
    // address need a restart: reported, not applied.
    let text = std::fs::read_to_string(dir.path().join("relais.toml"))
        .unwrap()
        .replace("interval = \"1h\"", "interval = \"2h\"")
        .replace("path = \"store\"", "path = \"elsewhere\"")
        .replace("127.0.0.1:0", "127.0.0.1:1");
    std::fs::write(dir.path().join("relais.toml"), text).unwrap();
    let changes = daemon.reloader.reload().await.unwrap();
    assert_eq!(changes.sources_changed, ["a"]);
    assert_eq!(changes.ignored.len(), 2, "{:?}", changes.ignored);
    assert!(changes.ignored[0].starts_with("store.path (still "));
    assert_eq!(changes.ignored[1], "server.listen (still 127.0.0.1:0)");
    daemon.polled(&["a"], 1).await;
    assert_eq!(server.requests_to("/a.xml").len(), 2);
    assert!(!dir.path().join("elsewhere").exists());
    assert_eq!(status(daemon.addr, "/healthz").await, "HTTP/1.1 200 OK");
    daemon.stop().await;
}

/// The real binary under a fake service manager: a Unix datagram socket in a temporary
/// folder as `$NOTIFY_SOCKET`. Readiness, watchdog keep-alives, SIGHUP → RELOADING=1 then
/// READY=1 with the new channel served, SIGTERM → STOPPING=1 and a clean exit.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_systemd_hears_of_it() {
    use std::io::BufRead;
    use std::os::unix::net::UnixDatagram;

    let server = fixtures().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &server, &[("a", "1h")], CHANNEL_OLD);
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_relais"))
        .arg("--config")
        .arg(dir.path().join("relais.toml"))
        .arg("run")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "200000")
        .env_remove("WATCHDOG_PID")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr: SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));

    // Messages until one satisfies `want`, skipping watchdog keep-alives unless wanted.
    let next = |want: &dyn Fn(&str) -> bool| -> Vec<String> {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.recv(&mut buf).expect("a notification in time");
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = want(&message);
            seen.push(message);
            if done {
                return seen;
            }
        }
    };
    let first = next(&|m| m.starts_with("READY=1"));
    assert!(
        first.last().unwrap().contains("STATUS=serving on http://"),
        "{first:?}"
    );
    assert_eq!(status(addr, "/healthz").await, "HTTP/1.1 200 OK");
    // Twice within a timeout of 200 ms: sent every 100 ms.
    next(&|m| m == "WATCHDOG=1");
    next(&|m| m == "WATCHDOG=1");

    write_config(dir.path(), &server, &[("a", "1h")], CHANNEL_NEW);
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(hup.success());
    let reload = next(&|m| m.starts_with("READY=1"));
    let reloading = reload
        .iter()
        .position(|m| m.starts_with("RELOADING=1"))
        .unwrap_or_else(|| panic!("no RELOADING=1 before READY=1: {reload:?}"));
    assert!(reloading < reload.len() - 1);
    assert_channels(addr, &["new"], &["old"]).await;

    // A broken file: refused, and the READY=1 that ends the reload says so.
    std::fs::write(dir.path().join("relais.toml"), "[server]\nlisten = 8080\n").unwrap();
    std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    let refused = next(&|m| m.starts_with("READY=1"));
    assert!(
        refused.last().unwrap().contains("reload refused"),
        "{refused:?}"
    );
    assert_channels(addr, &["new"], &["old"]).await;

    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    next(&|m| m.starts_with("STOPPING=1"));
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    // The log says why the broken file was refused, naming file, line, column and key.
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    let config = dir.path().join("relais.toml");
    let refusal = log
        .lines()
        .find(|l| l.contains("reload refused"))
        .unwrap_or_else(|| panic!("no refusal logged: {log}"));
    assert!(
        refusal.contains(&format!("{}:2:10: server.listen:", config.display())),
        "{refusal}"
    );
}

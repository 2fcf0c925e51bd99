//! The command line while the daemon runs: the real `relais` binary against a live
//! daemon (port 0, fixture feeds on loopback, a temporary store) goes through the
//! daemon's control socket and prints the same bytes as it does on the store once the
//! daemon has stopped; backups are written by the client and restore; a store locked by
//! a process without a socket gets one clear line; a stale socket is ignored; garbage
//! on the socket gets an error and the daemon serves on.

mod support;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use relais::config::Config;
use relais::refresh::Report;
use relais::store::Store;
use support::{FixtureServer, Reply, Routes, PARTNER_RSS as RSS};
use tokio::sync::{mpsc, oneshot};

fn write_config(dir: &Path, server: &FixtureServer) -> PathBuf {
    std::fs::write(dir.join("local.rss"), RSS.replace("partenaire", "local")).unwrap();
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
[store]
path = "store"
[fetch]
allow_private = true
timeout = "5s"
[[source]]
id = "good"
url = "{good}"
[[source]]
id = "local"
url = "local.rss"
[[channel]]
id = "tout"
title = "Tout"
"#,
        good = server.url("/feed.xml"),
    );
    let path = dir.join("relais.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Run the binary with `--config config` in `cwd`.
async fn relais(config: &Path, cwd: &Path, args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_relais"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .current_dir(cwd)
        .env_remove("RELAIS_CONFIG")
        .env_remove("RUST_LOG");
    tokio::task::spawn_blocking(move || cmd.output().expect("relais runs"))
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

struct Daemon {
    stop: oneshot::Sender<()>,
    reloader: relais::reload::Reloader,
    task: tokio::task::JoinHandle<Result<(), relais::daemon::DaemonError>>,
    reports: mpsc::UnboundedReceiver<Report>,
}

async fn start_daemon(config: &Path) -> Daemon {
    let config = Config::load(config).unwrap();
    let socket = relais::control::socket_path(&config.store.path);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let (tx, reports) = mpsc::unbounded_channel();
    let (reloader, requests) = relais::reload::channel();
    let options = relais::daemon::Options {
        reports: Some(tx),
        reload: Some(requests),
        ..Default::default()
    };
    let task = tokio::spawn(relais::daemon::run_with(
        config,
        listener,
        async {
            let _ = stopped.await;
        },
        options,
    ));
    wait_until(|| std::os::unix::net::UnixStream::connect(&socket).is_ok()).await;
    Daemon {
        stop,
        reloader,
        task,
        reports,
    }
}

impl Daemon {
    /// Wait for one poll report of each of `sources`.
    async fn polled(&mut self, sources: &[&str]) {
        let mut seen = Vec::new();
        while !sources.iter().all(|s| seen.iter().any(|r: &String| r == s)) {
            let report = tokio::time::timeout(Duration::from_secs(20), self.reports.recv())
                .await
                .expect("a poll report in time")
                .expect("the daemon runs");
            seen.push(report.source);
        }
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the daemon stops in time")
            .unwrap()
            .unwrap();
    }
}

/// Poll `done` until it holds, failing after a deadline.
async fn wait_until(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn fixture() -> FixtureServer {
    FixtureServer::start(Routes::new().fixed(
        "/feed.xml",
        Reply::ok(RSS).header("content-type", "application/rss+xml"),
    ))
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn store_commands_print_the_same_through_the_daemon_as_without_it() {
    let server = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &server);
    let socket = dir.path().join("store.sock");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();

    let mut daemon = start_daemon(&config).await;
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode {mode:o}");
    daemon.polled(&["good", "local"]).await;

    // fetch goes through the daemon's refresher: one line for the source named.
    let fetched = relais(&config, dir.path(), &["fetch", "--source", "good"]).await;
    assert!(fetched.status.success(), "{}", text(&fetched.stderr));
    let line = text(&fetched.stdout);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.starts_with("good "), "{line}");
    assert!(
        line.contains("unchanged") || line.contains("not modified"),
        "{line}"
    );
    assert_eq!(server.requests_to("/feed.xml").len(), 2);

    let items = relais(&config, dir.path(), &["items", "--json"]).await;
    assert!(items.status.success(), "{}", text(&items.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&items.stdout).unwrap();
    assert_eq!(doc["items"].as_array().map(Vec::len), Some(4));
    let story = doc["items"][0]["story"].as_str().unwrap().to_string();
    let item = format!(
        "{}/{}",
        doc["items"][0]["source"].as_str().unwrap(),
        doc["items"][0]["id"].as_str().unwrap()
    );

    // curate through the daemon: durable, and visible to the commands below.
    let pinned = relais(
        &config,
        dir.path(),
        &["curate", "pin", &story, "--channel", "tout"],
    )
    .await;
    assert!(pinned.status.success(), "{}", text(&pinned.stderr));
    assert!(!pinned.stdout.is_empty());

    let commands: Vec<Vec<&str>> = vec![
        vec!["curate", "log", "--json"],
        vec!["items", "--json"],
        vec!["items", "--limit", "2"],
        vec!["items", "--channel", "tout", "--why"],
        vec!["sources", "--json"],
        vec!["sources"],
        vec!["stories", "show", &story],
        vec!["stories", "show", &item, "--json"],
        vec!["digest", "status", "--json"],
        vec!["items", "--source", "nope"],
    ];
    let mut live = Vec::new();
    for args in &commands {
        live.push(relais(&config, dir.path(), args).await);
    }

    // backup --out: written by the client, in its folder, under the name it gave.
    let backup = relais(&config, &elsewhere, &["backup", "--out", "b.jsonl"]).await;
    assert!(backup.status.success(), "{}", text(&backup.stderr));
    assert!(
        text(&backup.stderr).starts_with("b.jsonl: 4 items, 2 source states"),
        "{}",
        text(&backup.stderr)
    );
    let written = elsewhere.join("b.jsonl");
    assert!(std::fs::metadata(&written).unwrap().len() > 0);
    assert!(!elsewhere.join("b.jsonl.partial").exists());

    let export = relais(&config, &elsewhere, &["export", "--out", "site-live"]).await;
    assert!(export.status.success(), "{}", text(&export.stderr));

    // restore is refused while the daemon holds the store.
    let refused = relais(&config, dir.path(), &["restore", "elsewhere/b.jsonl"]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).starts_with("relais: stop the daemon first:"),
        "{}",
        text(&refused.stderr)
    );

    daemon.stop().await;
    assert!(!socket.exists(), "the socket is removed on a clean stop");

    for (args, live) in commands.iter().zip(&live) {
        let alone = relais(&config, dir.path(), args).await;
        assert_eq!(alone.status.code(), live.status.code(), "{args:?}");
        assert_eq!(text(&alone.stdout), text(&live.stdout), "{args:?}");
        assert_eq!(text(&alone.stderr), text(&live.stderr), "{args:?}");
    }
    // The unknown source's error went through too, as one line.
    assert_eq!(live.last().unwrap().status.code(), Some(1));
    assert!(text(&live.last().unwrap().stderr).starts_with("relais: no source has the id `nope`"));

    // export wrote, on the client's side, the files it writes without a daemon.
    let alone = relais(&config, &elsewhere, &["export", "--out", "site-alone"]).await;
    assert!(alone.status.success(), "{}", text(&alone.stderr));
    let live_files = files(&elsewhere.join("site-live"));
    assert!(live_files.len() > 5, "{live_files:?}");
    assert!(live_files
        .iter()
        .any(|(p, _)| p == Path::new("feeds/tout.rss")));
    assert_eq!(live_files, files(&elsewhere.join("site-alone")));

    // The backup restores into a new store.
    let restored = Store::open(&dir.path().join("restored")).unwrap();
    let mut input = std::io::BufReader::new(std::fs::File::open(&written).unwrap());
    let stats = restored.restore(&mut input).unwrap();
    assert_eq!(stats.items, 4, "{stats}");
}

/// Every file under `dir`: its relative path and bytes, sorted.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(folder) = todo.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                found.push((path.strip_prefix(dir).unwrap().to_path_buf(), bytes));
            }
        }
    }
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_locked_without_a_daemon_gets_one_clear_line() {
    let server = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &server);
    let store = Store::open(&dir.path().join("store")).unwrap();

    for args in [
        &["items"][..],
        &["sources", "--json"],
        &["fetch"],
        &["backup", "--out", "x"],
    ] {
        let out = relais(&config, dir.path(), args).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        let expected = format!(
            "relais: the store {} is in use by another process",
            dir.path().join("store").display()
        );
        assert!(err.starts_with(&expected), "{args:?}: {err}");
        assert!(
            err.trim_end().ends_with(&format!(
                "and no relais daemon answers on {}",
                dir.path().join("store.sock").display()
            )),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(out.stdout.is_empty());
    }
    drop(store);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_socket_is_ignored_and_replaced() {
    let server = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &server);
    let socket = dir.path().join("store.sock");
    // A crashed daemon's socket: the file is there, nobody listens.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists());

    let out = relais(&config, dir.path(), &["fetch"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().count(),
        2,
        "{}",
        text(&out.stdout)
    );

    // A daemon started now replaces it and answers on it.
    let daemon = start_daemon(&config).await;
    let items = relais(&config, dir.path(), &["items", "--limit", "1"]).await;
    assert!(items.status.success(), "{}", text(&items.stderr));
    assert_eq!(text(&items.stdout).lines().count(), 2);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_use_the_configuration_the_daemon_reloaded() {
    let server = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &server);
    let daemon = start_daemon(&config).await;

    std::fs::write(
        dir.path().join("more.rss"),
        RSS.replace("partenaire", "more"),
    )
    .unwrap();
    let mut text_config = std::fs::read_to_string(&config).unwrap();
    text_config.push_str("[[source]]\nid = \"more\"\nurl = \"more.rss\"\n");
    std::fs::write(&config, text_config).unwrap();

    // Edited but not reloaded: the daemon's configuration is the one in force.
    let before = relais(&config, dir.path(), &["fetch", "--source", "more"]).await;
    assert_eq!(before.status.code(), Some(1));
    assert!(
        text(&before.stderr).starts_with("relais: no source has the id `more`"),
        "{}",
        text(&before.stderr)
    );

    daemon.reloader.reload().await.unwrap();
    let after = relais(&config, dir.path(), &["fetch", "--source", "more"]).await;
    assert!(after.status.success(), "{}", text(&after.stderr));
    assert!(
        text(&after.stdout).starts_with("more "),
        "{}",
        text(&after.stdout)
    );
    let sources = relais(&config, dir.path(), &["sources", "--json"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&sources.stdout).unwrap();
    assert_eq!(doc["sources"].as_array().map(Vec::len), Some(3), "{doc}");
    daemon.stop().await;
}

/// Read one reply frame: its tag and payload.
fn frame(stream: &mut impl Read) -> (u8, Vec<u8>) {
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).unwrap();
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let mut payload = vec![0; len];
    stream.read_exact(&mut payload).unwrap();
    (head[0], payload)
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_on_the_socket_gets_an_error_and_the_daemon_serves_on() {
    let server = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &server);
    let socket = dir.path().join("store.sock");
    let daemon = start_daemon(&config).await;

    let requests: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        // A request frame announcing 1 GiB.
        vec![b'Q', 0x40, 0, 0, 0],
        // A well-framed request that is not JSON.
        [&[b'Q', 0, 0, 0, 5][..], b"hello"].concat(),
        // Valid JSON, unknown command.
        {
            let body = br#"{"version":1,"argv":["frobnicate"],"cwd":"/"}"#;
            [&[b'Q', 0, 0, 0, body.len() as u8][..], body].concat()
        },
        // Another protocol version.
        {
            let body = br#"{"version":99,"argv":["items"],"cwd":"/"}"#;
            [&[b'Q', 0, 0, 0, body.len() as u8][..], body].concat()
        },
    ];
    for request in requests {
        let socket = socket.clone();
        let (tag, payload) = tokio::task::spawn_blocking(move || {
            let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
            stream.write_all(&request).unwrap();
            frame(&mut stream)
        })
        .await
        .unwrap();
        assert_eq!(tag, b'X');
        let exit: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(exit["code"], 1, "{exit}");
        assert!(
            exit["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{exit}"
        );
    }

    // A client that leaves half-way through a reply costs the daemon nothing.
    let gone = socket.clone();
    tokio::task::spawn_blocking(move || {
        let body = br#"{"version":1,"argv":["items","--json"],"cwd":"/"}"#;
        let mut stream = std::os::unix::net::UnixStream::connect(&gone).unwrap();
        stream
            .write_all(&[b'Q', 0, 0, 0, body.len() as u8])
            .unwrap();
        stream.write_all(body).unwrap();
    })
    .await
    .unwrap();

    let out = relais(&config, dir.path(), &["sources", "--json"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["sources"].as_array().map(Vec::len), Some(2));
    daemon.stop().await;
}

//! The `relais` binary as operators use it: exit codes, one-line errors naming the
//! file:line:column and key, `fetch` / `sources` / `items` on a store, JSON shapes, and
//! backup → restore.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use support::{FixtureServer, Reply, Routes};

fn relais(config: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_relais"));
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    cmd.args(args)
        .env_remove("RELAIS_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("relais runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the demo network in a temporary folder (so its store is private to the
/// test), plus one http source served by `server`.
fn demo_copy(dir: &Path, extra: &str) -> PathBuf {
    let demo = dir.join("demo");
    std::fs::create_dir_all(&demo).unwrap();
    for entry in std::fs::read_dir(repo().join("config/demo")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), demo.join(entry.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(repo().join("config/demo.toml"))
        .unwrap()
        .replace("../data/demo", "store")
        .replace("127.0.0.1:8080", "127.0.0.1:0");
    let path = dir.join("demo.toml");
    std::fs::write(&path, format!("{text}\n{extra}")).unwrap();
    path
}

#[test]
fn check_accepts_the_bundled_configs() {
    for name in ["config/demo.toml", "config/relais.toml"] {
        let out = relais(Some(&repo().join(name)), &["check"]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(stdout(&out).contains(": ok"), "{}", stdout(&out));
    }
}

#[test]
fn check_points_at_the_broken_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(
        &path,
        "[fetch]\ninterval = \"30m\"\n\n[[source]]\nid = \"a\"\nurl = \"a.rss\"\ninterval = \"5 minutes please\"\n",
    )
    .unwrap();
    let out = relais(Some(&path), &["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "relais: {}:7:12: source[1].interval: invalid duration `5 minutes please`",
            path.display()
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn a_missing_config_is_a_clear_error() {
    let out = relais(Some(Path::new("/nonexistent/relais.toml")), &["check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/relais.toml: cannot read"));
}

#[test]
fn parse_prints_the_contract_json_shape() {
    let file = repo().join("config/demo/valmont.json");
    let out = relais(None, &["parse", file.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert!(doc["feed"]["title"].as_str().unwrap().contains("Valmont"));
    let items = doc["items"].as_array().unwrap();
    assert_eq!(items.len(), 9);
    for item in items {
        for key in [
            "id",
            "source",
            "url",
            "title",
            "summary",
            "content_html",
            "published",
            "updated",
            "authors",
            "categories",
            "lang",
        ] {
            assert!(item.get(key).is_some(), "missing {key} in {item}");
        }
        assert!(item["source"].is_null());
        assert!(chrono::DateTime::parse_from_rfc3339(item["published"].as_str().unwrap()).is_ok());
    }
}

#[test]
fn parse_of_garbage_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("page.xml");
    std::fs::write(&file, "<html><body>Not a feed</body></html>").unwrap();
    let out = relais(None, &["parse", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("page.xml"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_sources_items_and_backup_restore() {
    let server = FixtureServer::start(
        Routes::new().fixed("/down", Reply::status(500).body("Internal Server Error")),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[[source]]\nid = \"down\"\ntitle = \"Partenaire en panne\"\nurl = \"{}\"\n",
        server.url("/down")
    );
    let config = demo_copy(dir.path(), &extra);
    let config_text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[fetch]", "[fetch]\nallow_private = true");
    std::fs::write(&config, config_text).unwrap();
    let cfg = config.clone();
    let run = move |args: Vec<&'static str>| {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || relais(Some(&cfg), &args))
    };

    // One poll round: every source gets a line; a failing one does not fail the command.
    let out = run(vec!["fetch"]).await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 7, "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("down") && l.contains("failed") && l.contains("500")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("valmont") && l.contains("9 new")),
        "{text}"
    );

    // The failure is visible where operators look.
    let out = run(vec!["sources"]).await.unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("down                 failing since"),
        "{text}"
    );
    assert!(
        text.contains("last error: ") && text.contains("/down"),
        "{text}"
    );
    let out = run(vec!["sources", "--json"]).await.unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sources = doc["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 7);
    let down = sources.iter().find(|s| s["id"] == "down").unwrap();
    assert_eq!(down["status"], "failing");
    assert_eq!(down["failures"], 1);
    assert!(down["last_error"].as_str().unwrap().contains("500"));
    let valmont = sources.iter().find(|s| s["id"] == "valmont").unwrap();
    assert_eq!(valmont["status"], "ok");
    assert_eq!(valmont["items"], 9);
    assert!(valmont["last_success"].is_string());

    // A second round changes nothing stored: local files are unchanged.
    let out = run(vec!["fetch", "--source", "valmont"]).await.unwrap();
    assert!(stdout(&out).contains("unchanged"), "{}", stdout(&out));

    let out = run(vec!["items", "--json", "--limit", "1000"])
        .await
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = doc["items"].as_array().unwrap().clone();
    assert!(items.len() >= 55, "{}", items.len());
    let dates: Vec<&str> = items
        .iter()
        .map(|i| i["published"].as_str().unwrap())
        .collect();
    let mut sorted = dates.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(dates, sorted, "newest first");

    // A channel's selection, with the rule behind each decision.
    let out = run(vec!["items", "--channel", "developpement-rural", "--why"])
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("(kept: all sources"),
        "{}",
        stdout(&out)
    );
    let out = run(vec![
        "items",
        "--channel",
        "developpement-rural",
        "--why",
        "racines-rurales/tag:racines-rurales.example.net,2026:article-1488",
    ])
    .await
    .unwrap();
    assert!(
        stdout(&out).contains("left out: excluded by phrase \"offre d'emploi\" matched in title"),
        "{}",
        stdout(&out)
    );
    let out = run(vec!["items", "--channel", "nope"]).await.unwrap();
    assert_eq!(out.status.code(), Some(1));

    // Unknown ids are user errors.
    let out = run(vec!["items", "--source", "nope"]).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("`nope`"));

    // Backup, then restore into a fresh store: the same items come back.
    let backup = dir.path().join("backup.jsonl");
    let out = tokio::task::spawn_blocking({
        let config = config.clone();
        let backup = backup.clone();
        move || {
            relais(
                Some(&config),
                &["backup", "--out", backup.to_str().unwrap()],
            )
        }
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let restored_config = dir.path().join("restored.toml");
    std::fs::write(
        &restored_config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("path      = \"store\"", "path = \"store-restored\""),
    )
    .unwrap();
    let out = tokio::task::spawn_blocking({
        let restored_config = restored_config.clone();
        move || {
            relais(
                Some(&restored_config),
                &["restore", backup.to_str().unwrap()],
            )
        }
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = tokio::task::spawn_blocking(move || {
        relais(
            Some(&restored_config),
            &["items", "--json", "--limit", "1000"],
        )
    })
    .await
    .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["items"].as_array().unwrap(), &items);
}

/// The demo as a new user tries it, offline: fetch the local feeds, then preview the
/// week of 16 November as HTML and as a whole message; a dry run sends nothing.
#[test]
fn digest_preview_of_the_demo_works_offline() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_copy(dir.path(), "");
    let out = relais(Some(&config), &["fetch"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let html = dir.path().join("d.html");
    let out = relais(
        Some(&config),
        &[
            "digest",
            "preview",
            "hebdo",
            "--period",
            "2026-W47",
            "--out",
            html.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("La lettre du réseau — semaine du 16 novembre 2026"),
        "{}",
        stderr(&out)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    for wanted in [
        "Semaine du 16 au 22 novembre 2026",
        "Une délégation de Ndiarème en visite à Valmont",
        "Coopération décentralisée",
        "vendredi 20 novembre 2026",
    ] {
        assert!(page.contains(wanted), "{wanted}");
    }

    let eml = dir.path().join("d.eml");
    let out = relais(
        Some(&config),
        &[
            "digest",
            "preview",
            "hebdo",
            "--period",
            "2026-W47",
            "--out",
            eml.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let message = std::fs::read_to_string(&eml).unwrap();
    assert!(message.is_ascii());
    assert!(
        message.contains("Message-ID: <2026-W47.hebdo.digest@127.0.0.1>\r\n"),
        "{message}"
    );
    assert!(message.contains("Content-Type: multipart/alternative;"));

    let out = relais(
        Some(&config),
        &[
            "digest",
            "send",
            "hebdo",
            "--period",
            "2026-W47",
            "--dry-run",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out)
            .contains("dry run — would send « La lettre du réseau — semaine du 16 novembre 2026 »"),
        "{}",
        stdout(&out)
    );
    let out = relais(Some(&config), &["digest", "status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("scheduler last woke: never"),
        "{}",
        stdout(&out)
    );

    for (args, error) in [
        (
            vec!["digest", "preview", "nope"],
            "no digest has the id `nope`",
        ),
        (
            vec!["digest", "preview", "hebdo", "--period", "2026-48"],
            "--period: invalid period `2026-48`",
        ),
    ] {
        let out = relais(Some(&config), &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains(error), "{args:?}: {}", stderr(&out));
    }
}

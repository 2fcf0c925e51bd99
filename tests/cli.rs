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
    // The listing stops at a full page (the daemon's selection); the explanation reads
    // every story: both keep the same stories, in the same order.
    let ids = |out: &Output| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(&stdout(out)).unwrap();
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["title"].as_str().unwrap().to_string())
            .collect()
    };
    let listed = run(vec!["items", "--channel", "developpement-rural", "--json"])
        .await
        .unwrap();
    let explained = run(vec![
        "items",
        "--channel",
        "developpement-rural",
        "--why",
        "--json",
    ])
    .await
    .unwrap();
    assert!(listed.status.success() && explained.status.success());
    assert!(!ids(&listed).is_empty());
    assert_eq!(ids(&listed), ids(&explained));
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

#[test]
fn stories_show_split_merge_and_items_json_credit_every_partner() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_copy(dir.path(), "");
    let out = relais(Some(&config), &["fetch"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // items --json: each item names its story and the other appearances.
    let out = relais(Some(&config), &["items", "--json", "--limit", "100"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = doc["items"].as_array().unwrap();
    let find = |source: &str, id: &str| {
        items
            .iter()
            .find(|i| i["source"] == source && i["id"] == id)
            .unwrap_or_else(|| panic!("{source}/{id}"))
            .clone()
    };
    let ifradel = find("ifradel", "ifradel-actu-0662");
    let racines = find(
        "racines-rurales",
        "tag:racines-rurales.example.net,2026:agenda-0219",
    );
    let story = ifradel["story"].as_str().unwrap().to_string();
    assert!(story.parse::<u64>().is_ok(), "short, URL-safe: {story}");
    assert_eq!(racines["story"], ifradel["story"]);
    let also: Vec<&str> = ifradel["also"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["source"].as_str().unwrap())
        .collect();
    assert_eq!(also, ["racines-rurales", "confluences"]);
    for a in ifradel["also"].as_array().unwrap() {
        assert!(a["url"].as_str().unwrap().starts_with("https://"));
        assert!(a["published"].is_string());
    }
    let alone = find("valmont", "vm-intl-2026-036");
    assert_eq!(alone["also"].as_array().unwrap().len(), 0);

    // stories show: members and why.
    let out = relais(Some(&config), &["stories", "show", &story, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["id"], story.as_str());
    let members = shown["members"].as_array().unwrap();
    assert_eq!(members.len(), 3);
    // The earliest is the primary; the others joined by text — or founded the story,
    // when `fetch` happened to poll them first (sources are polled concurrently).
    assert_eq!(members[0]["source"], "ifradel");
    assert_eq!(members[0]["primary"], true);
    assert!(members[0]["why"].as_str().unwrap().starts_with("primary"));
    let mut by_text = 0;
    for m in members {
        match m["rule"].as_str().unwrap() {
            "text" => {
                assert!(m["score"].as_f64().unwrap() >= 0.35, "{m}");
                by_text += 1;
            }
            "primary" => assert!(m["score"].is_null(), "{m}"),
            other => panic!("unexpected rule {other}: {m}"),
        }
    }
    assert_eq!(by_text, 2, "{members:?}");
    let out = relais(
        Some(&config),
        &["stories", "show", "ifradel/ifradel-actu-0662"],
    );
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("story {story} — 3 appearances")),
        "{text}"
    );
    assert!(text.contains("why: primary"), "{text}");
    assert!(text.contains("why: text 0."), "{text}");

    // split, then merge back: each says what it did and holds across a re-fetch.
    let racines_ref = "racines-rurales/tag:racines-rurales.example.net,2026:agenda-0219";
    let out = relais(Some(&config), &["stories", "split", racines_ref]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("left story {story}")),
        "{}",
        stdout(&out)
    );
    let out = relais(Some(&config), &["fetch"]);
    assert!(out.status.success());
    let out = relais(Some(&config), &["stories", "show", racines_ref, "--json"]);
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["members"].as_array().unwrap().len(), 1);
    assert_ne!(shown["id"], story.as_str());
    let out = relais(
        Some(&config),
        &["stories", "merge", "ifradel/ifradel-actu-0662", racines_ref],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("into story {story}")),
        "{}",
        stdout(&out)
    );
    let out = relais(Some(&config), &["stories", "show", racines_ref, "--json"]);
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["id"], story.as_str());
    let merged = shown["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["source"] == "racines-rurales")
        .unwrap()
        .clone();
    assert_eq!(merged["rule"], "operator merge");

    // Unknown ids: exit 1, one clear line.
    for args in [
        vec!["stories", "show", "999999"],
        vec!["stories", "show", "ifradel/nope"],
        vec!["stories", "split", "ifradel/nope"],
        vec!["stories", "merge", "ifradel/ifradel-actu-0662", "nope"],
        vec!["stories", "split", "valmont/vm-intl-2026-036"],
    ] {
        let out = relais(Some(&config), &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let err = stderr(&relais(
        Some(&config),
        &["stories", "split", "ifradel/nope"],
    ));
    assert!(err.contains("ifradel/nope"), "{err}");
    let err = stderr(&relais(Some(&config), &["stories", "show", "999999"]));
    assert!(err.contains("`999999`"), "{err}");
}

#[test]
fn dedup_eval_reports_each_pair_and_precision_and_recall() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pairs.jsonl");
    let side = |source: &str, title: &str, summary: &str, url: &str, published: &str| serde_json::json!({"source": source, "title": title, "summary": summary, "url": url, "published": published});
    let lines = [
        serde_json::json!({
            "a": side("CIEDEL", "Formation : mobiliser les financements européens",
                "Du 12 au 14 mars 2018, trois jours pour comprendre les instruments européens \
                 accessibles aux collectivités et s'exercer au montage d'une note conceptuelle.",
                "https://ciedel.example.org/formations/financements-europeens-2018",
                "2018-01-15T09:00:00+01:00"),
            "b": side("Centre-Loire Coopération", "Fonds européens : une formation en mars à Lyon",
                "Le CIEDEL organise à Lyon une session de trois jours, du 12 au 14 mars, sur les \
                 financements de l'Union européenne et la rédaction d'une note conceptuelle.",
                "https://centreloire.example.org/formations/fonds-europeens-lyon",
                "2018-01-23T15:00:00+01:00"),
            "same": true, "kind": "cross_post"}),
        serde_json::json!({
            "a": side("RESACOOP", "Permanence conseil à Chambéry",
                "Un chargé de mission reçoit les porteurs de projets le mercredi 10 avril à Chambéry.",
                "https://resacoop.example.org/agenda/permanence-chambery", "2019-03-25T08:00:00Z"),
            "b": side("RESACOOP", "Permanence conseil à Valence",
                "Un chargé de mission reçoit les porteurs de projets le mercredi 3 avril à Valence.",
                "https://resacoop.example.org/agenda/permanence-valence", "2019-03-18T08:00:00Z"),
            "same": false, "kind": "hard_negative"}),
        serde_json::json!({
            "a": side("CUF", "Groupe-pays Haïti : compte rendu de la réunion du 22 mars",
                "Le compte rendu revient sur le nouveau fonds de soutien aux communes haïtiennes.",
                "https://cuf.example.org/groupes-pays/haiti/compte-rendu/", "2018-04-09T10:00:00+02:00"),
            "b": side("CUF", "Groupe-pays Haïti : compte rendu de la réunion du 22 mars",
                "Le compte rendu revient sur le nouveau fonds de soutien aux communes haïtiennes.",
                "http://www.cuf.example.org/groupes-pays/haiti/compte-rendu?utm_source=x",
                "2018-04-09T10:00:00+02:00")}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).unwrap();

    let out = relais(None, &["dedup-eval", file.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pairs = doc["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 3);
    assert_eq!(pairs[0]["line"], 1);
    assert_eq!(pairs[0]["same"], true);
    assert_eq!(pairs[0]["rule"], "text");
    assert!(pairs[0]["score"].as_f64().unwrap() >= 0.35);
    assert_eq!(pairs[1]["same"], false);
    assert!(
        pairs[1]["note"].as_str().unwrap().starts_with("vetoed"),
        "{}",
        pairs[1]
    );
    assert_eq!(pairs[2]["same"], true);
    assert_eq!(pairs[2]["rule"], "url");
    assert_eq!(pairs[2]["score"], 1.0);
    assert_eq!(doc["precision"], 1.0);
    assert_eq!(doc["recall"], 1.0);
    assert_eq!(doc["by_kind"]["cross_post"]["recall"], 1.0);
    assert_eq!(doc["by_kind"]["hard_negative"]["merged"], 0);
    assert_eq!(doc["items"], 6);

    let out = relais(None, &["dedup-eval", file.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(text.contains("precision 1.000  recall 1.000"), "{text}");
    assert!(text.contains("cross_post"), "{text}");

    std::fs::write(&file, "{\"a\": 1}\n").unwrap();
    let out = relais(None, &["dedup-eval", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("pairs.jsonl:1: not a pair"),
        "{}",
        stderr(&out)
    );
}

//! The admin API on a real daemon (port 0, fixture feeds on loopback, sled in a temp
//! folder): the authentication table, the body cap, no CORS, `no-store`; curation through
//! the API showing at once in RSS, Atom, JSON Feed and the channel page; surviving a stop,
//! a command-line action, a restart and a re-poll that serves the items again; the audit
//! log naming the token's label and `cli`; and the API absent when not configured.

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use relais::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::daemon::Daemon;
use support::{FixtureServer, Reply, Routes};

const TOKEN: &str = "t0k3n-Curate-42";
const TOKEN_ENV: &str = "RELAIS_TEST_ADMIN_TOKEN";

const A1: &str = "Rencontre régionale des jumelages à Lyon";
const A2: &str = "Appel à projets pour l’eau potable à Madagascar";
const A3: &str = "Formation au diagnostic territorial à Clermont";
const A4: &str = "Budget métropolitain des solidarités internationales";
const B1: &str = "Portrait de la présidente du comité de Ndiarème";
const EDITED: &str = "Formation diagnostic territorial inscriptions ouvertes";

fn rss_item(host: &str, id: &str, title: &str, day: u32, summary: &str) -> String {
    format!(
        "<item><title>{title}</title><link>https://{host}.example.org/{id}</link>\
         <guid isPermaLink=\"false\">{id}</guid>\
         <pubDate>{day} Nov 2026 09:00:00 +0000</pubDate>\
         <description>{summary}</description></item>"
    )
}

fn rss(items: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel>\
         <title>Partenaire</title><link>https://partenaire.example.org/</link>{}</channel></rss>",
        items.concat()
    )
}

/// Feed `a`: three items; from its second request on, a fourth and an edited first one
/// (a re-poll that brings the curated items again, one of them changed).
fn feed_a(request: usize) -> String {
    let summary1 = if request == 0 {
        "Les comités se retrouvent au printemps."
    } else {
        "Les comités se retrouvent au printemps, programme joint."
    };
    let mut items = vec![
        rss_item("a", "a-1", A1, 20, summary1),
        rss_item(
            "a",
            "a-2",
            A2,
            21,
            "Dossiers attendus avant janvier pour les forages.",
        ),
        rss_item(
            "a",
            "a-3",
            A3,
            22,
            "Session de trois jours pour agents communaux.",
        ),
    ];
    if request > 0 {
        items.push(rss_item(
            "a",
            "a-4",
            A4,
            24,
            "Crédits maintenus malgré la contrainte.",
        ));
    }
    rss(&items)
}

async fn fixtures() -> FixtureServer {
    let requests = Arc::new(AtomicUsize::new(0));
    FixtureServer::start(
        Routes::new()
            .at("/a.xml", move |_| {
                let n = requests.fetch_add(1, Ordering::SeqCst);
                Reply::ok(feed_a(n)).header("content-type", "application/rss+xml")
            })
            .fixed("/hub", Reply::status(204))
            .fixed(
                "/b.xml",
                Reply::ok(rss(&[rss_item(
                    "b",
                    "b-1",
                    B1,
                    23,
                    "Rencontre avec la présidente de l’association.",
                )]))
                .header("content-type", "application/rss+xml"),
            ),
    )
    .await
}

fn write_config(dir: &Path, server: &FixtureServer, admin: &str) -> std::path::PathBuf {
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
base_url = "https://veille.example.org"
[store]
path = "store"
[fetch]
allow_private = true
timeout = "5s"
[[source]]
id = "a"
title = "Partenaire A"
url = "{a}"
[[source]]
id = "b"
title = "Partenaire B"
url = "{b}"
[[channel]]
id = "coop"
title = "Coopération"
sources = ["a"]
{admin}
"#,
        a = server.url("/a.xml"),
        b = server.url("/b.xml"),
    );
    let path = dir.join("relais.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const ADMIN: &str = "[admin]\ntoken_env = \"RELAIS_TEST_ADMIN_TOKEN\"\nlabel = \"équipe veille\"\n";

/// Starts the daemon and waits for one poll of every source.
async fn start(config_path: &Path) -> Daemon {
    std::env::set_var(TOKEN_ENV, TOKEN);
    let config = Config::load(config_path).unwrap();
    let mut daemon = Daemon::start(&config).await;
    daemon.polls(2, Duration::from_secs(20), |_| true).await;
    daemon
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .build()
        .unwrap()
}

async fn post(base: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let r = client()
        .post(format!("{base}{path}"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, json_of(r).await)
}

async fn get_json(base: &str, path: &str) -> Value {
    let r = client()
        .get(format!("{base}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    json_of(r).await
}

async fn json_of(r: reqwest::Response) -> Value {
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or(Value::Null)
}

async fn text(base: &str, path: &str) -> String {
    let r = client().get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.text().await.unwrap()
}

/// The entry titles of the channel, in order, in each output: RSS, Atom, JSON Feed, and
/// the page (titles found in the page, in the order they appear).
async fn titles_everywhere(base: &str, candidates: &[&str]) -> [Vec<String>; 4] {
    let xml_titles = |doc: String, entry: &str| -> Vec<String> {
        let doc = roxmltree::Document::parse(&doc).unwrap();
        doc.descendants()
            .filter(|n| n.tag_name().name() == entry)
            .filter_map(|e| {
                e.children()
                    .find(|c| c.tag_name().name() == "title")
                    .and_then(|t| t.text())
                    .map(str::to_string)
            })
            .collect()
    };
    let rss = xml_titles(text(base, "/feeds/coop.rss").await, "item");
    let atom = xml_titles(text(base, "/feeds/coop.atom").await, "entry");
    let json: Value = serde_json::from_str(&text(base, "/feeds/coop.json").await).unwrap();
    let json = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_string())
        .collect();
    let page = text(base, "/channels/coop").await;
    let mut found: Vec<(usize, String)> = candidates
        .iter()
        .filter_map(|t| {
            let escaped = t.replace('’', "&#x2019;");
            page.find(t)
                .or_else(|| page.find(&escaped))
                .map(|at| (at, t.to_string()))
        })
        .collect();
    found.sort();
    [rss, atom, json, found.into_iter().map(|(_, t)| t).collect()]
}

fn assert_everywhere(got: &[Vec<String>; 4], want: &[&str]) {
    for (name, titles) in ["rss", "atom", "json", "page"].iter().zip(got) {
        assert_eq!(titles, want, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_bearer_token_opens_the_api() {
    let server = fixtures().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(&write_config(dir.path(), &server, ADMIN)).await;
    let url = format!("{}/admin/api/sources", daemon.base());
    let c = client();
    let off_by_one = format!("{}3", &TOKEN[..TOKEN.len() - 1]);
    let prefix = &TOKEN[..TOKEN.len() - 1];
    let longer = format!("{TOKEN}0");
    // (what, request) → all 401.
    let denied: Vec<(&str, reqwest::RequestBuilder)> = vec![
        ("missing", c.get(&url)),
        ("wrong", c.get(&url).bearer_auth("wrong-token")),
        ("one char off", c.get(&url).bearer_auth(&off_by_one)),
        ("prefix", c.get(&url).bearer_auth(prefix)),
        ("longer", c.get(&url).bearer_auth(&longer)),
        // Whitespace at the very end of a header line is not part of the field value
        // (RFC 9110 §5.5): every HTTP parser drops it before relais sees the header, so
        // the near-misses with a space are spaces inside the credential.
        (
            "leading space",
            c.get(&url)
                .header("authorization", format!("Bearer  {TOKEN}")),
        ),
        (
            "trailing space then more",
            c.get(&url)
                .header("authorization", format!("Bearer {TOKEN} \t.")),
        ),
        (
            "space inside",
            c.get(&url)
                .header("authorization", format!("Bearer {TOKEN} x")),
        ),
        (
            "empty bearer",
            c.get(&url).header("authorization", "Bearer "),
        ),
        ("query string", c.get(format!("{url}?access_token={TOKEN}"))),
        ("query token", c.get(format!("{url}?token={TOKEN}"))),
        ("basic", c.get(&url).basic_auth("api", Some(TOKEN))),
        ("basic user", c.get(&url).basic_auth(TOKEN, None::<&str>)),
        (
            "other scheme",
            c.get(&url)
                .header("authorization", format!("Token {TOKEN}")),
        ),
        (
            "two headers",
            c.get(&url)
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("authorization", "Bearer wrong"),
        ),
        (
            "cookie",
            c.get(&url).header("cookie", format!("token={TOKEN}")),
        ),
        (
            "post without token",
            c.post(format!("{}/admin/api/stories/1/pin", daemon.base()))
                .body(json!({"channel": "coop"}).to_string()),
        ),
        (
            "unknown route",
            c.get(format!("{}/admin/api/nothing", daemon.base())),
        ),
        (
            "oversized without token",
            c.post(format!("{}/admin/api/stories/1/pin", daemon.base()))
                .body(vec![b' '; 200 * 1024]),
        ),
    ];
    for (what, request) in denied {
        let r = request
            .header("origin", "https://evil.example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{what}");
        let h = r.headers().clone();
        assert_eq!(h["www-authenticate"], "Bearer", "{what}");
        assert_eq!(h["cache-control"], "no-store", "{what}");
        assert!(
            !h.keys().any(|k| k.as_str().starts_with("access-control-")),
            "{what}: no CORS header"
        );
        assert!(r.bytes().await.unwrap().is_empty(), "{what}: no detail");
    }

    for auth in [format!("Bearer {TOKEN}"), format!("bearer {TOKEN}")] {
        let r = c
            .get(&url)
            .header("authorization", auth)
            .header("origin", "https://evil.example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert!(!r
            .headers()
            .keys()
            .any(|k| k.as_str().starts_with("access-control-")));
        let doc: Value = json_of(r).await;
        let ids: Vec<&str> = doc["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(doc["sources"][0]["status"], "ok");
        assert_eq!(doc["sources"][0]["items"], 3);
    }

    // A preflight grants nothing.
    let r = c
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://evil.example.com")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(!r.status().is_success());
    assert!(!r
        .headers()
        .keys()
        .any(|k| k.as_str().starts_with("access-control-")));

    // Bodies are capped, and errors are short JSON.
    let oversized = c
        .post(format!("{}/admin/api/stories/1/pin", daemon.base()))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(format!(
            "{{\"channel\": \"coop\", \"title\": \"{}\"}}",
            "x".repeat(100 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(oversized.headers()["cache-control"], "no-store");
    let e: Value = json_of(oversized).await;
    assert!(e["error"].as_str().unwrap().contains("larger than"), "{e}");

    let (stories, a1) = {
        let doc = get_json(&daemon.base(), "/admin/api/stories?channel=coop").await;
        let a1 = doc["stories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["title"] == A1)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        (doc, a1)
    };
    assert_eq!(stories["stories"].as_array().unwrap().len(), 3);
    // (path, body, status, error text)
    let errors: [(String, Value, u16, &str); 8] = [
        (
            format!("/admin/api/stories/{a1}/pin"),
            json!({}),
            422,
            "pin needs a channel",
        ),
        (
            format!("/admin/api/stories/{a1}/pin"),
            json!({"channel": "nope"}),
            422,
            "no channel has the id `nope`",
        ),
        (
            format!("/admin/api/stories/{a1}/pin"),
            json!({"channel": "coop", "until": "2001-01-01"}),
            422,
            "is not in the future",
        ),
        (
            format!("/admin/api/stories/{a1}/pin"),
            json!({"channel": "coop", "colour": "red"}),
            400,
            "invalid json body",
        ),
        (
            format!("/admin/api/stories/{a1}/edit"),
            json!({}),
            422,
            "nothing to edit",
        ),
        (
            format!("/admin/api/stories/{a1}/frobnicate"),
            json!({}),
            404,
            "unknown action",
        ),
        (
            "/admin/api/stories/99999/hide".to_string(),
            json!({}),
            404,
            "no stored story has the id `99999`",
        ),
        (
            "/admin/api/stories/a%2Fnope/hide".to_string(),
            json!({}),
            404,
            "`a/nope`",
        ),
    ];
    for (path, body, status, message) in errors {
        let (got, doc) = post(&daemon.base(), &path, body).await;
        assert_eq!(got.as_u16(), status, "{path}: {doc}");
        let text = doc["error"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{path}: {text}");
    }
    let r = c
        .get(format!("{}/admin/api/stories?channel=nope", daemon.base()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_is_absent_unless_configured_with_a_set_token() {
    let server = fixtures().await;
    let cases = [
        ("no section", String::new()),
        (
            "unset variable",
            "[admin]\ntoken_env = \"RELAIS_TEST_ADMIN_NEVER_SET\"\n".to_string(),
        ),
    ];
    for (what, admin) in cases {
        let dir = tempfile::tempdir().unwrap();
        let daemon = start(&write_config(dir.path(), &server, &admin)).await;
        for path in [
            "/admin/api/sources",
            "/admin/api/stories?channel=coop",
            "/admin",
        ] {
            let r = client()
                .get(format!("{}{path}", daemon.base()))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{what}: {path}");
        }
        daemon.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curation_shows_at_once_and_survives_restart_and_repoll() {
    let server = fixtures().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &server, ADMIN);
    let all = [A1, A2, A3, A4, B1, EDITED];
    let daemon = start(&config_path).await;
    let base = daemon.base();
    assert_everywhere(&titles_everywhere(&base, &all).await, &[A3, A2, A1]);

    let listed = get_json(&base, "/admin/api/stories?channel=coop").await;
    let id_of = |title: &str| -> String {
        listed["stories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["title"] == title)
            .map(|s| s["id"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{title} listed"))
    };
    let (a1, a2, a3) = (id_of(A1), id_of(A2), id_of(A3));
    let actions = [
        (
            format!("/admin/api/stories/{a1}/pin"),
            json!({"channel": "coop"}),
        ),
        (
            format!("/admin/api/stories/{a2}/hide"),
            json!({"channel": "coop"}),
        ),
        (
            format!("/admin/api/stories/{a3}/edit"),
            json!({"title": EDITED}),
        ),
        // By item reference: SOURCE/ITEM-ID, the slash encoded in the path.
        (
            "/admin/api/stories/b%2Fb-1/add".to_string(),
            json!({"channel": "coop"}),
        ),
    ];
    for (path, body) in &actions {
        let (status, doc) = post(&base, path, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{path}: {doc}");
        assert_eq!(doc["entry"]["actor"], "équipe veille");
        assert_eq!(doc["entry"]["changed"], true);
    }
    // Pinned first; the hand-added story by date; the hidden one gone; the edit shown.
    let expected = [A1, B1, EDITED];
    assert_everywhere(&titles_everywhere(&base, &all).await, &expected);

    let state = get_json(&base, "/admin/api/stories?channel=coop").await;
    let by_id = |id: &str| -> Value {
        state["stories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(by_id(&a1)["pinned"], true);
    assert_eq!(by_id(&a2)["hidden"], "channel");
    assert_eq!(by_id(&a2)["listed"], false);
    assert_eq!(by_id(&a3)["edited"], true);
    assert_eq!(by_id(&a3)["original_title"], A3);
    assert_eq!(by_id(&a3)["title"], EDITED);
    let log = get_json(&base, "/admin/api/log").await;
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[0]["action"], "add");
    assert!(entries.iter().all(|e| e["actor"] == "équipe veille"));
    daemon.stop().await;

    // While stopped, the command line acts on the same store, as `cli`.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_relais"))
        .arg("--config")
        .arg(&config_path)
        .args(["curate", "unhide", &a2, "--channel", "coop"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Restart on the same store: the first polls serve the items again (one edited by
    // its publisher, one new); every decision holds.
    let daemon = start(&config_path).await;
    let base = daemon.base();
    assert_everywhere(
        &titles_everywhere(&base, &all).await,
        &[A1, A4, B1, EDITED, A2],
    );
    let log = get_json(&base, "/admin/api/log?limit=2").await;
    let actors: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(actors, ["cli", "équipe veille"]);
    // Unpinning shows at once too.
    let (status, _) = post(
        &base,
        &format!("/admin/api/stories/{a1}/unpin"),
        json!({"channel": "coop"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_everywhere(
        &titles_everywhere(&base, &all).await,
        &[A4, B1, EDITED, A2, A1],
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_curation_through_the_api_pings_the_websub_hub() {
    let server = fixtures().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("{ADMIN}[websub]\nhub = \"{}\"\n", server.url("/hub"));
    let daemon = start(&write_config(dir.path(), &server, &extra)).await;
    let server_pings = || server.requests_to("/hub").len();
    let pings = |n: usize| async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while server_pings() < n {
            assert!(tokio::time::Instant::now() < deadline, "{n} pings expected");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    // The first polls changed the channel: one ping per feed format.
    pings(3).await;
    let (status, _) = post(
        &daemon.base(),
        "/admin/api/stories/a%2Fa-1/pin",
        json!({"channel": "coop"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    pings(6).await;
    // A no-op changes nothing and pings nothing.
    let (status, doc) = post(
        &daemon.base(),
        "/admin/api/stories/a%2Fa-1/pin",
        json!({"channel": "coop"}),
    )
    .await;
    assert_eq!(
        (status, &doc["entry"]["changed"]),
        (StatusCode::OK, &json!(false))
    );
    daemon.stop().await;
    assert_eq!(server_pings(), 6);
    let last = String::from_utf8(server.requests_to("/hub")[5].body.clone()).unwrap();
    assert!(last.contains("feeds%2Fcoop."), "{last}");
}

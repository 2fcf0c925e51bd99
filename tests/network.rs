//! The sample partner network (`../shared/corpus/network/`): each of its 39 items comes
//! out of parse + normalise with the id, link and canonical link that TRUTH.json states,
//! relative links resolved as a reader would (RSS against the channel link, Atom by
//! xml:base).

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use relais::normalise::{normalise, Context};
use relais::parse::parse;
use serde_json::Value;

/// `$RELAIS_SHARED`, else `../shared` beside the repository (where CI puts it).
fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("RELAIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    dir.join("corpus/network/TRUTH.json")
        .exists()
        .then_some(dir)
}

#[test]
fn network_items_match_truth() {
    let Some(shared) = shared() else {
        eprintln!("skipped: no shared/corpus/network beside the repository (set RELAIS_SHARED)");
        return;
    };
    let dir = shared.join("corpus/network");
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("TRUTH.json")).unwrap()).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    let mut checked = 0;
    for (file, expected) in truth["items"].as_object().unwrap() {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let feed = parse(&bytes, None).unwrap_or_else(|e| panic!("{file}: {e}"));
        // The self URL the partner would serve it from: relative RSS links must NOT be
        // resolved against it (TRUTH url_notes).
        let doc = url::Url::parse(&format!("https://feeds.example.org/feed/{file}")).unwrap();
        let cx = Context {
            source: Some("network"),
            document_url: Some(&doc),
            default_lang: None,
            now,
        };
        let items = normalise(&feed, &cx);
        let expected = expected.as_array().unwrap();
        assert_eq!(items.len(), expected.len(), "{file}: item count");
        for want in expected {
            let id = want["id"].as_str().unwrap();
            let item = items
                .iter()
                .find(|i| i.id == id)
                .unwrap_or_else(|| panic!("{file}: no item with id {id}"));
            assert_eq!(
                item.url.as_deref(),
                want["link"].as_str(),
                "{file} {id}: link"
            );
            let key = relais::normalise::urls::match_key(
                &url::Url::parse(item.canonical_url.as_deref().unwrap()).unwrap(),
            );
            let want_key = relais::normalise::urls::match_key(
                &url::Url::parse(want["canonical_link"].as_str().unwrap()).unwrap(),
            );
            assert_eq!(key, want_key, "{file} {id}: canonical link");
            let published =
                chrono::DateTime::parse_from_rfc2822(want["published"].as_str().unwrap())
                    .or_else(|_| {
                        chrono::DateTime::parse_from_rfc3339(want["published"].as_str().unwrap())
                    })
                    .unwrap();
            assert_eq!(
                item.published,
                published.with_timezone(&Utc),
                "{file} {id}: date"
            );
            assert!(!item.title.is_empty(), "{file} {id}: a title always");
            if let Some(title) = want["title"].as_str().filter(|t| !t.is_empty()) {
                assert_eq!(item.title, title, "{file} {id}: title");
            }
            assert!(
                !item.published_guessed,
                "{file} {id}: dated by the publisher"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 39);
}

#[test]
fn relative_content_links_become_absolute() {
    let Some(shared) = shared() else {
        return;
    };
    let bytes = std::fs::read(shared.join("corpus/network/ciedel.rss")).unwrap();
    let feed = parse(&bytes, None).unwrap();
    let cx = Context {
        source: Some("ciedel"),
        document_url: None,
        default_lang: Some("fr"),
        now: Utc::now(),
    };
    let items = normalise(&feed, &cx);
    let html: String = items
        .iter()
        .filter_map(|i| i.content_html.clone())
        .collect();
    assert!(
        html.contains(
            "src=\"https://ciedel.example.org/media/2021/03/ethiopie-mission-exploratoire.jpg\""
        ),
        "{html}"
    );
    assert!(
        !html.contains("src=\"/"),
        "no root-relative src left: {html}"
    );
    assert!(!html.contains("href=\"/"), "no root-relative href left");
    assert!(items
        .iter()
        .all(|i| i.lang.as_deref().is_some_and(|l| l.starts_with("fr"))));
}

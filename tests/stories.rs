//! Stories end to end, on real feeds through parse, normalise and a real sled store:
//! the sample partner network (`../shared/corpus/network/`, TRUTH.json) and the bundled
//! demo network (`config/demo/`, TRUTH.json and TRUTH.md) must group exactly their
//! cross-posts — every listed pair shares a story, no other pair does, look-alikes
//! included — whatever order the partners are polled in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use relais::model::{Item, SourceState};
use relais::normalise::{normalise, Context};
use relais::parse::parse;
use relais::store::Store;
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

/// Every feed file of `dir` (not TRUTH.*), parsed and normalised, as (source id = the
/// file's stem, file name, items).
fn feeds(dir: &Path) -> Vec<(String, String, Vec<Item>)> {
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("TRUTH") && n.contains('.'))
        .collect();
    names.sort();
    for name in names {
        let bytes = std::fs::read(dir.join(&name)).unwrap();
        let feed = parse(&bytes, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        let source = name.split('.').next().unwrap().to_string();
        let doc = url::Url::parse(&format!("https://feeds.example.org/feed/{name}")).unwrap();
        let cx = Context {
            source: Some(&source),
            document_url: Some(&doc),
            default_lang: None,
            now,
        };
        let items = normalise(&feed, &cx);
        out.push((source, name, items));
    }
    out
}

/// Polls every feed once, in the given order, into a new store; returns the story of
/// every item, keyed by (file, item id).
fn stories_of(
    feeds: &[(String, String, Vec<Item>)],
    order: &[usize],
) -> BTreeMap<(String, String), u64> {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let polled = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    for &i in order {
        let (source, _, items) = &feeds[i];
        let state = SourceState {
            id: source.clone(),
            ..SourceState::default()
        };
        store.apply_poll(&state, items.clone(), polled).unwrap();
    }
    let report = store.verify().unwrap();
    let mut out = BTreeMap::new();
    for (source, file, items) in feeds {
        for item in items {
            let story = store.story_id_of(source, &item.id).unwrap().unwrap();
            out.insert((file.clone(), item.id.clone()), story);
        }
    }
    assert_eq!(report.stories, out.values().collect::<BTreeSet<_>>().len() as u64);
    out
}

/// The pairs of items that share a story.
fn shared_pairs(stories: &BTreeMap<(String, String), u64>) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let keys: Vec<_> = stories.keys().collect();
    for (i, a) in keys.iter().enumerate() {
        for b in keys.iter().skip(i + 1) {
            if stories[*a] == stories[*b] {
                let (x, y) = (format!("{}#{}", a.0, a.1), format!("{}#{}", b.0, b.1));
                out.insert(if x < y { (x, y) } else { (y, x) });
            }
        }
    }
    out
}

fn side(s: &Value) -> (&str, &str) {
    (s["file"].as_str().unwrap(), s["id"].as_str().unwrap())
}

fn pair(a: (&str, &str), b: (&str, &str)) -> (String, String) {
    let (x, y) = (format!("{}#{}", a.0, a.1), format!("{}#{}", b.0, b.1));
    if x < y {
        (x, y)
    } else {
        (y, x)
    }
}

/// Forward, backward and interleaved poll orders.
fn orders(n: usize) -> Vec<Vec<usize>> {
    let forward: Vec<usize> = (0..n).collect();
    let backward: Vec<usize> = (0..n).rev().collect();
    let odd_first: Vec<usize> = (0..n).filter(|i| i % 2 == 1).chain((0..n).filter(|i| i % 2 == 0)).collect();
    vec![forward, backward, odd_first]
}

#[test]
fn the_sample_network_groups_exactly_its_four_cross_posts() {
    let Some(shared) = shared() else {
        eprintln!("skipped: no shared/corpus/network beside the repository (set RELAIS_SHARED)");
        return;
    };
    let dir = shared.join("corpus/network");
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("TRUTH.json")).unwrap()).unwrap();
    let feeds = feeds(&dir);
    assert_eq!(feeds.iter().map(|f| f.2.len()).sum::<usize>(), 39);
    let want: BTreeSet<(String, String)> = truth["same_story"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            pair(side(&p["a"]), side(&p["b"]))
        })
        .collect();
    assert_eq!(want.len(), 4);
    for order in orders(feeds.len()) {
        let stories = stories_of(&feeds, &order);
        assert_eq!(stories.len(), 39);
        let got = shared_pairs(&stories);
        assert_eq!(got, want, "poll order {order:?}");
    }
}

#[test]
fn the_demo_network_groups_its_six_cross_posts_and_keeps_look_alikes_apart() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/demo");
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("TRUTH.json")).unwrap()).unwrap();
    let feeds = feeds(&dir);
    let mut want = BTreeSet::new();
    let groups = truth["same_story"].as_array().unwrap();
    assert_eq!(groups.len(), 6, "TRUTH.md lists six cross-post groups");
    for g in groups {
        let members: Vec<(&str, &str)> = g["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["file"].as_str().unwrap(), m["id"].as_str().unwrap()))
            .collect();
        for (i, a) in members.iter().enumerate() {
            for b in members.iter().skip(i + 1) {
                want.insert(pair(*a, *b));
            }
        }
    }
    // Group 1 has three members: 3 + 5 × 1 pairs.
    assert_eq!(want.len(), 8);
    let negatives: Vec<(String, String)> = truth["hard_negatives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            pair(side(&p["a"]), side(&p["b"]))
        })
        .collect();
    assert!(negatives.len() >= 10, "{}", negatives.len());
    for order in orders(feeds.len()) {
        let stories = stories_of(&feeds, &order);
        assert_eq!(stories.len(), 59);
        let got = shared_pairs(&stories);
        for n in &negatives {
            assert!(!got.contains(n), "look-alikes merged: {n:?} (order {order:?})");
        }
        assert_eq!(got, want, "poll order {order:?}");
    }
}

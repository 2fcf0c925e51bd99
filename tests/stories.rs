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
    assert_eq!(
        report.stories,
        out.values().collect::<BTreeSet<_>>().len() as u64
    );
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
    let odd_first: Vec<usize> = (0..n)
        .filter(|i| i % 2 == 1)
        .chain((0..n).filter(|i| i % 2 == 0))
        .collect();
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
        .map(|p| pair(side(&p["a"]), side(&p["b"])))
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
        .map(|p| pair(side(&p["a"]), side(&p["b"])))
        .collect();
    assert!(negatives.len() >= 10, "{}", negatives.len());
    for order in orders(feeds.len()) {
        let stories = stories_of(&feeds, &order);
        assert_eq!(stories.len(), 59);
        let got = shared_pairs(&stories);
        for n in &negatives {
            assert!(
                !got.contains(n),
                "look-alikes merged: {n:?} (order {order:?})"
            );
        }
        assert_eq!(got, want, "poll order {order:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Operators' overrides, pruning, edits, concurrency and publishing, on a real store.
// ---------------------------------------------------------------------------------------

fn at(month: u32, day: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, month, day, 9, 0, 0).unwrap()
}

fn item(
    source: &str,
    id: &str,
    title: &str,
    summary: &str,
    published: chrono::DateTime<Utc>,
) -> Item {
    let url = format!("https://{source}.example.org/{id}");
    Item {
        id: id.to_string(),
        source: Some(source.to_string()),
        url: Some(url.clone()),
        canonical_url: Some(url),
        title: title.to_string(),
        summary: summary.to_string(),
        content_html: None,
        published,
        updated: None,
        authors: Vec::new(),
        categories: Vec::new(),
        lang: Some("fr".to_string()),
        enclosures: Vec::new(),
        published_guessed: false,
        content_hash: format!("{id}-{}", summary.len()),
    }
}

/// The study day announced by two partners (a cross-post), and an unrelated item.
fn study_day(source: &str) -> Item {
    match source {
        "ifradel" => item(
            "ifradel",
            "actu-0662",
            "Journée d’étude « Faire territoire avec les communs » le 10 décembre à Lyon",
            "Jardins partagés, forêts sectionales, tiers-lieux : que font les communs aux \
             politiques locales ? Avec Racines Rurales, nous vous invitons le jeudi 10 \
             décembre, de 9 h 30 à 17 h, à la Maison des associations de Lyon.",
            at(11, 17),
        ),
        _ => item(
            source,
            "agenda-0219",
            "Communs territoriaux : une journée d’étude avec l’IFRADEL, le 10 décembre à Lyon",
            "Sections de commune, estives collectives, tiers-lieux : la ruralité regorge de \
             communs. Nous les mettrons en débat avec l’IFRADEL lors d’une journée d’étude \
             à Lyon, le jeudi 10 décembre.",
            at(11, 19),
        ),
    }
}

fn budget() -> Item {
    item(
        "valmont",
        "vm-036",
        "Budget 2027 : l’action internationale de la Métropole maintenue",
        "Malgré un budget contraint, le conseil métropolitain maintient à 1,2 million \
         d’euros les crédits des coopérations et du dispositif Solidarité eau.",
        at(11, 25),
    )
}

fn poll(store: &Store, items: Vec<Item>) {
    let source = items[0].source.clone().unwrap();
    let state = SourceState {
        id: source,
        ..SourceState::default()
    };
    store.apply_poll(&state, items, at(11, 25)).unwrap();
}

fn story(store: &Store, source: &str, id: &str) -> u64 {
    store.story_id_of(source, id).unwrap().unwrap()
}

#[test]
fn split_and_merge_survive_re_polls_edits_restarts_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = Store::open(&path).unwrap();
        poll(&store, vec![study_day("ifradel")]);
        poll(&store, vec![study_day("racines")]);
        poll(&store, vec![budget()]);
        let s = story(&store, "ifradel", "actu-0662");
        assert_eq!(story(&store, "racines", "agenda-0219"), s, "a cross-post");
        assert_ne!(story(&store, "valmont", "vm-036"), s);

        // The operator disagrees twice.
        let split = store.split_item("racines", "agenda-0219").unwrap();
        assert_eq!(split.from, s);
        assert_eq!(story(&store, "racines", "agenda-0219"), split.story);
        let merged = store
            .merge_items(("ifradel", "actu-0662"), ("valmont", "vm-036"))
            .unwrap();
        assert_eq!(merged.story, s, "the older story absorbs the newer");
        assert_eq!(story(&store, "valmont", "vm-036"), s);
        let detail = store.story_detail(s).unwrap().unwrap();
        let budget_member = detail
            .members
            .iter()
            .find(|m| m.item.id == "vm-036")
            .unwrap();
        assert_eq!(budget_member.rule, relais::stories::Rule::Operator);
        assert_eq!(
            budget_member.with,
            Some(("ifradel".to_string(), "actu-0662".to_string()))
        );

        // Re-polls, unchanged then edited, change nothing of it.
        poll(&store, vec![study_day("racines")]);
        let mut edited = study_day("racines");
        edited.summary.push_str(" Inscription gratuite.");
        edited.content_hash = "edited".into();
        poll(&store, vec![edited]);
        let mut edited_budget = budget();
        edited_budget.summary.push_str(" Vote le 12 décembre.");
        edited_budget.content_hash = "edited".into();
        poll(&store, vec![edited_budget]);
        assert_eq!(story(&store, "racines", "agenda-0219"), split.story);
        assert_eq!(story(&store, "valmont", "vm-036"), s);
        store.verify().unwrap();

        // Already together / already alone: said, not an error for a merge.
        let again = store
            .merge_items(("valmont", "vm-036"), ("ifradel", "actu-0662"))
            .unwrap();
        assert_eq!(again.absorbed, None);
        let err = store.split_item("racines", "agenda-0219").unwrap_err();
        assert!(err.to_string().contains("already alone"), "{err}");
        let err = store.split_item("racines", "nope").unwrap_err();
        assert!(err.to_string().contains("racines/nope"), "{err}");
    }
    // A restart.
    let store = Store::open(&path).unwrap();
    let s = story(&store, "ifradel", "actu-0662");
    assert_ne!(story(&store, "racines", "agenda-0219"), s);
    assert_eq!(story(&store, "valmont", "vm-036"), s);
    store.verify().unwrap();

    // A backup restored: the same stories, ids included.
    let mut backup = Vec::new();
    store.backup(&mut backup).unwrap();
    let restored_dir = tempfile::tempdir().unwrap();
    let restored = Store::open(&restored_dir.path().join("db")).unwrap();
    let stats = restored
        .restore(&mut std::io::Cursor::new(backup.clone()))
        .unwrap();
    assert_eq!((stats.stories, stats.story_links), (2, 2));
    for (source, id) in [
        ("ifradel", "actu-0662"),
        ("racines", "agenda-0219"),
        ("valmont", "vm-036"),
    ] {
        assert_eq!(story(&restored, source, id), story(&store, source, id));
    }
    restored.verify().unwrap();

    // A backup without its story lines (as from before stories): matching runs again
    // and honours the overrides — the split item stays apart, the merge holds.
    let text = String::from_utf8(backup).unwrap();
    let without: String = text
        .lines()
        .filter(|l| !l.contains("\"type\":\"story\""))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(without.contains("story_link"));
    let rebuilt_dir = tempfile::tempdir().unwrap();
    let rebuilt = Store::open(&rebuilt_dir.path().join("db")).unwrap();
    rebuilt
        .restore(&mut std::io::Cursor::new(without.into_bytes()))
        .unwrap();
    let s = story(&rebuilt, "ifradel", "actu-0662");
    assert_ne!(story(&rebuilt, "racines", "agenda-0219"), s);
    assert_eq!(story(&rebuilt, "valmont", "vm-036"), s);
    rebuilt.verify().unwrap();
}

#[test]
fn a_pruned_primary_hands_its_story_to_the_next_appearance() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    poll(&store, vec![study_day("ifradel")]);
    poll(&store, vec![study_day("racines")]);
    let s = story(&store, "ifradel", "actu-0662");
    let before = store.story(s).unwrap().unwrap();
    assert_eq!(before.item.source.as_deref(), Some("ifradel"));
    assert_eq!(before.also.len(), 1);
    // Prune what was published before the 18th: the IFRADEL item, the primary.
    assert_eq!(store.prune(at(11, 18)).unwrap(), 1);
    let after = store.story(s).unwrap().unwrap();
    assert_eq!(after.id, s.to_string(), "the story keeps its id");
    assert_eq!(after.item.source.as_deref(), Some("racines"));
    assert!(after.also.is_empty());
    let detail = store.story_detail(s).unwrap().unwrap();
    assert_eq!(detail.members.len(), 1);
    assert!(detail.members[0].primary);
    assert_eq!(detail.members[0].rule, relais::stories::Rule::Primary);
    store.verify().unwrap();
    assert_eq!(store.prune(at(11, 20)).unwrap(), 1);
    assert!(
        store.story(s).unwrap().is_none(),
        "gone with its last member"
    );
    assert_eq!(store.verify().unwrap().stories, 0);
}

#[test]
fn two_sources_posting_the_same_story_at_once_are_matched() {
    for round in 0..8 {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let barrier = std::sync::Barrier::new(2);
        std::thread::scope(|scope| {
            for source in ["ifradel", "racines"] {
                let (store, barrier) = (&store, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    poll(store, vec![study_day(source)]);
                });
            }
        });
        assert_eq!(
            story(&store, "ifradel", "actu-0662"),
            story(&store, "racines", "agenda-0219"),
            "round {round}"
        );
        store.verify().unwrap();
    }
}

#[test]
fn a_cross_posted_story_is_listed_once_crediting_every_partner() {
    use relais::publish::{Doc, Publisher};
    use relais::render::FeedFormat;
    let dir = tempfile::tempdir().unwrap();
    let config_text = r#"
[server]
base_url = "https://veille.example.org/"
[store]
path = "db"
[[source]]
id = "ifradel"
title = "IFRADEL"
url = "https://ifradel.example.org/feed.rss"
[[source]]
id = "racines"
title = "Racines Rurales"
url = "https://racines.example.org/feed.atom"
[[source]]
id = "valmont"
title = "Valmont Métropole"
url = "https://valmont.example.org/feed.json"
[[channel]]
id = "tout"
title = "Tout le réseau"
"#;
    let config_path = dir.path().join("relais.toml");
    std::fs::write(&config_path, config_text).unwrap();
    let config = relais::config::Config::load(&config_path).unwrap();
    let store = std::sync::Arc::new(Store::open(&config.store.path).unwrap());
    poll(&store, vec![study_day("racines")]);
    poll(&store, vec![study_day("ifradel")]);
    poll(&store, vec![budget()]);
    let publisher = Publisher::new(std::sync::Arc::new(config), store);

    let body = |doc: Doc| {
        let r = publisher.document(&doc).unwrap().unwrap();
        String::from_utf8(r.body.to_vec()).unwrap()
    };
    let page = body(Doc::Channel {
        id: "tout".into(),
        page: 1,
    });
    assert_eq!(
        page.matches("Faire territoire avec les communs").count(),
        1,
        "{page}"
    );
    assert!(
        !page.contains("Communs territoriaux"),
        "only the primary's title"
    );
    assert!(page.contains("Aussi publié par&#160;: <a href=\"https://racines.example.org/agenda-0219\">Racines Rurales</a>"), "{page}");
    assert_eq!(page.matches("Aussi publié par").count(), 1);

    for format in FeedFormat::ALL {
        let feed = body(Doc::Feed {
            id: "tout".into(),
            format,
            page: 1,
        });
        assert_eq!(
            feed.matches("Faire territoire avec les communs").count(),
            1,
            "{format:?}: {feed}"
        );
        assert!(feed.contains("Racines Rurales"), "{format:?}: {feed}");
        assert!(feed.contains("Budget 2027"), "{format:?}");
    }
    let json: Value = serde_json::from_str(&body(Doc::Feed {
        id: "tout".into(),
        format: FeedFormat::Json,
        page: 1,
    }))
    .unwrap();
    let items = json["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "two stories, three items");
}

//! The store's invariants through its public API, on a real sled in a temp dir:
//! idempotent re-poll, update in place, newest-first order across sources (before 1970
//! too), tombstones, durability across reopen and crash, the lock message, and
//! backup → restore round trips.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, TimeZone, Utc};
use relais::model::{Item, SourceState};
use relais::store::{ItemQuery, PollWrite, Store, StoreError};

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

fn item(id: &str, hash: &str, published: DateTime<Utc>) -> Item {
    Item {
        id: id.to_string(),
        source: None,
        url: Some(format!("https://exemple.org/{id}")),
        canonical_url: Some(format!("https://exemple.org/{id}")),
        title: format!("Appel à projets « {id} »"),
        summary: "Coopération décentralisée : l’appel est ouvert.".to_string(),
        content_html: Some("<p>Détails</p>".to_string()),
        published,
        updated: None,
        authors: vec!["Réseau".to_string()],
        categories: vec!["coopération".to_string()],
        lang: Some("fr".to_string()),
        enclosures: Vec::new(),
        published_guessed: false,
        content_hash: hash.to_string(),
    }
}

fn state(id: &str) -> SourceState {
    SourceState {
        id: id.to_string(),
        etag: Some("\"v1\"".to_string()),
        last_success: Some(at(2024, 5, 1, 0)),
        ..SourceState::default()
    }
}

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    (dir, store)
}

fn ids(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| format!("{}/{}", i.source.as_deref().unwrap_or("-"), i.id))
        .collect()
}

fn all(store: &Store) -> Vec<Item> {
    store.items(&ItemQuery::default()).unwrap()
}

/// A poll's counts without `merged` (which stories decide; see tests/stories.rs).
fn counts(w: PollWrite) -> PollWrite {
    PollWrite { merged: 0, ..w }
}

fn write(new: usize, updated: usize, unchanged: usize, tombstoned: usize) -> PollWrite {
    PollWrite {
        new,
        updated,
        unchanged,
        tombstoned,
        merged: 0,
    }
}

#[test]
fn repolling_an_unchanged_feed_creates_and_writes_nothing() {
    let (_dir, store) = temp_store();
    let batch = vec![
        item("a", "h", at(2024, 5, 1, 8)),
        item("b", "h", at(2024, 5, 2, 8)),
        item("c", "h", at(2024, 5, 3, 8)),
    ];
    let first = store
        .apply_poll(&state("ciedel"), batch.clone(), at(2024, 5, 4, 0))
        .unwrap();
    assert_eq!(counts(first), write(3, 0, 0, 0));
    // The three items say the same thing: the later two join the first one's story.
    assert_eq!(first.merged, 2);
    let before: Vec<_> = store.stored_items(None, None, None).unwrap();

    let second = store
        .apply_poll(&state("ciedel"), batch, at(2024, 5, 5, 0))
        .unwrap();
    assert_eq!(counts(second), write(0, 0, 3, 0));
    assert_eq!(store.count_items(None).unwrap(), 3);
    // Nothing rewritten: first-seen and updated are those of the first poll.
    assert_eq!(store.stored_items(None, None, None).unwrap(), before);
    assert!(before.iter().all(|s| s.first_seen == at(2024, 5, 4, 0)));
    assert!(before.iter().all(|s| s.item.updated.is_none()));
    assert_eq!(store.verify().unwrap().items, 3);
}

#[test]
fn the_poll_stores_items_under_the_source_and_its_state() {
    let (_dir, store) = temp_store();
    let mut foreign = item("a", "h", at(2024, 5, 1, 8));
    foreign.source = Some("someone-else".to_string());
    store
        .apply_poll(&state("ciedel"), vec![foreign], at(2024, 5, 2, 0))
        .unwrap();
    let stored = store.get_item("ciedel", "a").unwrap().unwrap();
    assert_eq!(stored.item.source.as_deref(), Some("ciedel"));
    assert!(store.get_item("someone-else", "a").unwrap().is_none());

    let saved = store.source_state("ciedel").unwrap().unwrap();
    assert_eq!(saved.etag.as_deref(), Some("\"v1\""));
    assert_eq!(saved.last_new_item, Some(at(2024, 5, 2, 0)));

    // A poll bringing nothing new keeps the state as given (no last_new_item bump).
    let mut later = state("ciedel");
    later.etag = Some("\"v2\"".to_string());
    later.last_new_item = saved.last_new_item;
    store
        .apply_poll(
            &later,
            vec![item("a", "h", at(2024, 5, 1, 8))],
            at(2024, 5, 3, 0),
        )
        .unwrap();
    let saved = store.source_state("ciedel").unwrap().unwrap();
    assert_eq!(saved.etag.as_deref(), Some("\"v2\""));
    assert_eq!(saved.last_new_item, Some(at(2024, 5, 2, 0)));

    let err = store
        .apply_poll(&state(""), vec![], at(2024, 5, 3, 0))
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidSource { .. }), "{err:?}");
}

#[test]
fn a_changed_entry_is_updated_in_place() {
    let (_dir, store) = temp_store();
    let seen = at(2024, 5, 1, 10);
    // The publisher gave no date: published is the first-seen time, guessed.
    let mut undated = item("a", "h1", seen);
    undated.published_guessed = true;
    store
        .apply_poll(
            &state("cuf"),
            vec![undated, item("b", "h1", at(2024, 4, 1, 0))],
            seen,
        )
        .unwrap();

    // Edited, still undated: the normaliser guesses "now" again, the store keeps its date.
    let later = at(2024, 5, 2, 10);
    let mut edited = item("a", "h2", later);
    edited.published_guessed = true;
    edited.title = "Titre corrigé".to_string();
    let w = store
        .apply_poll(
            &state("cuf"),
            vec![edited, item("b", "h1", at(2024, 4, 1, 0))],
            later,
        )
        .unwrap();
    assert_eq!(counts(w), write(0, 1, 1, 0));
    assert_eq!(store.count_items(Some("cuf")).unwrap(), 2);
    let a = store.get_item("cuf", "a").unwrap().unwrap();
    assert_eq!(a.item.title, "Titre corrigé");
    assert_eq!(
        a.item.published, seen,
        "a guessed date must not move the item"
    );
    assert!(a.item.published_guessed);
    assert_eq!(
        a.item.updated,
        Some(later),
        "no publisher date: updated bumps to now"
    );
    assert_eq!(a.first_seen, seen);

    // Edited again, now with real dates: published moves (and the index with it),
    // updated is the publisher's.
    let third = at(2024, 5, 3, 10);
    let mut dated = item("a", "h3", at(2024, 3, 1, 0));
    dated.updated = Some(at(2024, 5, 3, 9));
    let w = store.apply_poll(&state("cuf"), vec![dated], third).unwrap();
    assert_eq!(counts(w), write(0, 1, 0, 0));
    let a = store.get_item("cuf", "a").unwrap().unwrap();
    assert_eq!(a.item.published, at(2024, 3, 1, 0));
    assert!(!a.item.published_guessed);
    assert_eq!(a.item.updated, Some(at(2024, 5, 3, 9)));
    assert_eq!(a.first_seen, seen);
    assert_eq!(ids(&all(&store)), ["cuf/b", "cuf/a"]);
    assert_eq!(
        ids(&store
            .items(&ItemQuery {
                source: Some("cuf".into()),
                limit: None
            })
            .unwrap()),
        ["cuf/b", "cuf/a"]
    );
    assert_eq!(store.verify().unwrap().items, 2);
}

#[test]
fn duplicate_ids_in_one_batch_keep_the_first() {
    let (_dir, store) = temp_store();
    let mut second = item("a", "h2", at(2024, 5, 2, 0));
    second.title = "Le doublon".to_string();
    let w = store
        .apply_poll(
            &state("cuf"),
            vec![item("a", "h1", at(2024, 5, 1, 0)), second],
            at(2024, 5, 3, 0),
        )
        .unwrap();
    assert_eq!(counts(w), write(1, 0, 0, 0));
    let a = store.get_item("cuf", "a").unwrap().unwrap();
    assert_eq!(a.item.content_hash, "h1");
    assert_eq!(store.count_items(None).unwrap(), 1);
}

#[test]
fn items_come_newest_first_across_sources_including_before_1970() {
    let (_dir, store) = temp_store();
    store
        .apply_poll(
            &state("archives"),
            vec![
                item("manifeste", "h", at(1968, 5, 13, 0)),
                item("epoch", "h", at(1970, 1, 1, 0)),
                item("recent", "h", at(2024, 5, 2, 0)),
            ],
            at(2024, 5, 10, 0),
        )
        .unwrap();
    store
        .apply_poll(
            &state("cuf"),
            vec![
                item("colloque", "h", at(2024, 5, 3, 0)),
                item("appel", "h", at(1969, 12, 31, 23)),
                item("bilan", "h", at(2023, 1, 1, 0)),
            ],
            at(2024, 5, 10, 0),
        )
        .unwrap();
    // Same instant as archives/recent, first seen later: comes first among the two.
    store
        .apply_poll(
            &state("ciedel"),
            vec![item("same", "h", at(2024, 5, 2, 0))],
            at(2024, 5, 11, 0),
        )
        .unwrap();

    let expected = [
        "cuf/colloque",
        "ciedel/same",
        "archives/recent",
        "cuf/bilan",
        "archives/epoch",
        "cuf/appel",
        "archives/manifeste",
    ];
    assert_eq!(ids(&all(&store)), expected);
    let firsts = store
        .items(&ItemQuery {
            source: None,
            limit: Some(3),
        })
        .unwrap();
    assert_eq!(ids(&firsts), expected[..3]);
    assert!(store
        .items(&ItemQuery {
            source: None,
            limit: Some(0)
        })
        .unwrap()
        .is_empty());

    let cuf = ItemQuery {
        source: Some("cuf".into()),
        limit: None,
    };
    assert_eq!(
        ids(&store.items(&cuf).unwrap()),
        ["cuf/colloque", "cuf/bilan", "cuf/appel"]
    );
    let archives = ItemQuery {
        source: Some("archives".into()),
        limit: Some(2),
    };
    assert_eq!(
        ids(&store.items(&archives).unwrap()),
        ["archives/recent", "archives/epoch"]
    );
    let nobody = ItemQuery {
        source: Some("nobody".into()),
        limit: None,
    };
    assert!(store.items(&nobody).unwrap().is_empty());

    let since_1970 = store.items_since(None, at(1970, 1, 1, 0), None).unwrap();
    assert_eq!(ids(&since_1970), expected[..5]);
    let cuf_since = store
        .items_since(Some("cuf"), at(1969, 1, 1, 0), Some(2))
        .unwrap();
    assert_eq!(ids(&cuf_since), ["cuf/colloque", "cuf/bilan"]);

    assert_eq!(store.count_items(Some("archives")).unwrap(), 3);
    assert_eq!(store.count_items(Some("cuf")).unwrap(), 3);
    assert_eq!(store.count_items(Some("ciedel")).unwrap(), 1);
    assert_eq!(store.count_items(Some("nobody")).unwrap(), 0);
    assert_eq!(store.count_items(None).unwrap(), 7);
}

#[test]
fn pruned_items_are_tombstoned_and_never_come_back() {
    let (_dir, store) = temp_store();
    let batch = vec![
        item("vieux", "h", at(2020, 1, 1, 0)),
        item("ancien", "h", at(1965, 1, 1, 0)),
        item("neuf", "h", at(2024, 5, 1, 0)),
    ];
    store
        .apply_poll(&state("cuf"), batch.clone(), at(2024, 5, 2, 0))
        .unwrap();
    store
        .apply_poll(
            &state("ciedel"),
            vec![item("vieux", "h", at(2019, 1, 1, 0))],
            at(2024, 5, 2, 0),
        )
        .unwrap();

    // Exactly at the cutoff is kept: "published before" is strict.
    assert_eq!(store.prune(at(2024, 5, 1, 0)).unwrap(), 3);
    assert_eq!(ids(&all(&store)), ["cuf/neuf"]);
    assert_eq!(store.count_items(Some("cuf")).unwrap(), 1);
    assert_eq!(store.count_items(Some("ciedel")).unwrap(), 0);
    assert!(store.is_tombstoned("cuf", "vieux").unwrap());
    assert!(store.is_tombstoned("ciedel", "vieux").unwrap());
    assert!(!store.is_tombstoned("cuf", "neuf").unwrap());
    assert!(store.get_item("cuf", "vieux").unwrap().is_none());

    let w = store
        .apply_poll(&state("cuf"), batch.clone(), at(2024, 5, 3, 0))
        .unwrap();
    assert_eq!(counts(w), write(0, 0, 1, 2));
    // An edited version of a pruned entry stays out too.
    let w = store
        .apply_poll(
            &state("cuf"),
            vec![item("vieux", "h-edited", at(2024, 5, 3, 0))],
            at(2024, 5, 3, 0),
        )
        .unwrap();
    assert_eq!(counts(w), write(0, 0, 0, 1));
    assert_eq!(store.count_items(None).unwrap(), 1);
    assert_eq!(store.verify().unwrap().tombstones, 3);
    assert_eq!(store.prune(at(2024, 5, 1, 0)).unwrap(), 0);

    // Forgetting tombstones lets an entry still in the feed return (documented).
    assert_eq!(
        store
            .prune_tombstones(Utc::now() + chrono::Duration::days(1))
            .unwrap(),
        3
    );
    let w = store
        .apply_poll(&state("cuf"), batch, at(2024, 5, 4, 0))
        .unwrap();
    assert_eq!(counts(w), write(2, 0, 1, 0));
    assert_eq!(store.verify().unwrap().items, 4 - 1);
}

/// A populated store: two sources, items before 1970, ties, an update, tombstones and a
/// state without items.
fn populate(store: &Store) {
    let mut guessed = item("sans-date", "h1", at(2024, 5, 1, 9));
    guessed.published_guessed = true;
    guessed.enclosures = vec![relais::model::Enclosure {
        url: "https://exemple.org/a.pdf".into(),
        mime: Some("application/pdf".into()),
        length: Some(12_345),
    }];
    let mut precise = item(
        "precis",
        "h1",
        Utc.timestamp_opt(1_714_550_400, 123_456_789).unwrap(),
    );
    precise.updated = Some(at(2024, 5, 2, 0));
    store
        .apply_poll(
            &state("cuf"),
            vec![
                guessed,
                precise,
                item("avant", "h1", at(1966, 3, 1, 0)),
                item("tie-1", "h1", at(2024, 4, 1, 0)),
                item("old", "h1", at(2010, 1, 1, 0)),
            ],
            at(2024, 5, 1, 9),
        )
        .unwrap();
    store
        .apply_poll(
            &state("ciedel"),
            vec![
                item("tie-2", "h1", at(2024, 4, 1, 0)),
                item("old", "h1", at(2011, 1, 1, 0)),
            ],
            at(2024, 5, 2, 9),
        )
        .unwrap();
    store
        .apply_poll(
            &state("cuf"),
            vec![item("tie-1", "h2", at(2024, 4, 1, 0))],
            at(2024, 5, 3, 0),
        )
        .unwrap();
    store.prune(at(2012, 1, 1, 0)).unwrap();
    let mut failing = state("retired");
    failing.failures = 3;
    failing.last_error = Some("http 410 gone".into());
    failing.retired_at = Some(at(2024, 5, 3, 0));
    store.save_source_state(&failing).unwrap();
}

fn backup_text(store: &Store) -> String {
    let mut out = Vec::new();
    store.backup(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn backup_then_restore_gives_back_the_same_store() {
    let (_dir, store) = temp_store();
    populate(&store);
    let text = backup_text(&store);

    let mut lines = text.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(header["relais_backup"], 1);
    assert_eq!(header["schema"], relais::store::SCHEMA_VERSION);
    assert!(header["created"].is_string());
    let types: Vec<String> = lines
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(types.iter().filter(|t| *t == "item").count(), 4);
    assert_eq!(types.iter().filter(|t| *t == "source_state").count(), 3);
    assert_eq!(types.iter().filter(|t| *t == "tombstone").count(), 3);
    // Every item is in a story; each story is one line.
    let stories = types.iter().filter(|t| *t == "story").count() as u64;
    assert_eq!(stories, store.verify().unwrap().stories);
    assert!((1..=4).contains(&stories), "{stories}");

    let (_dir2, restored) = temp_store();
    let stats = restored.restore(&mut Cursor::new(text.as_bytes())).unwrap();
    assert_eq!(
        (stats.items, stats.source_states, stats.tombstones),
        (4, 3, 3)
    );

    assert_eq!(
        restored.stored_items(None, None, None).unwrap(),
        store.stored_items(None, None, None).unwrap()
    );
    for source in ["cuf", "ciedel", "retired"] {
        let q = ItemQuery {
            source: Some(source.into()),
            limit: None,
        };
        assert_eq!(restored.items(&q).unwrap(), store.items(&q).unwrap());
        assert_eq!(
            restored.count_items(Some(source)).unwrap(),
            store.count_items(Some(source)).unwrap()
        );
    }
    assert_eq!(
        ids(&all(&restored)),
        ["cuf/sans-date", "cuf/precis", "ciedel/tie-2", "cuf/tie-1"]
    );
    assert_eq!(
        restored.source_states().unwrap(),
        store.source_states().unwrap()
    );
    assert!(restored.is_tombstoned("cuf", "old").unwrap());
    assert!(restored.is_tombstoned("ciedel", "old").unwrap());
    assert_eq!(restored.verify().unwrap(), store.verify().unwrap());

    // Polling the restored store behaves as the original would.
    let w = restored
        .apply_poll(
            &state("cuf"),
            vec![
                item("old", "h1", at(2010, 1, 1, 0)),
                item("tie-1", "h2", at(2024, 4, 1, 0)),
            ],
            at(2024, 6, 1, 0),
        )
        .unwrap();
    assert_eq!(counts(w), write(0, 0, 1, 1));

    // And its own backup is the same file, header time aside.
    let again = backup_text(&restored);
    let body = |t: &str| t.lines().skip(1).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(body(&again), body(&text));
}

#[test]
fn restore_refuses_a_store_that_holds_data() {
    let (_dir, store) = temp_store();
    populate(&store);
    let text = backup_text(&store);
    let err = store
        .restore(&mut Cursor::new(text.as_bytes()))
        .unwrap_err();
    assert!(matches!(err, StoreError::NotEmpty { .. }), "{err:?}");
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(store.count_items(None).unwrap(), 4);
}

#[test]
fn a_bad_backup_line_is_named_and_leaves_the_store_empty() {
    let (_dir, source) = temp_store();
    populate(&source);
    let good = backup_text(&source);
    let good_lines: Vec<&str> = good.lines().collect();
    let header = good_lines[0];
    let item_line = good_lines[1];
    let n = good_lines.len();

    // Many valid items first, so a whole transaction has been committed before the
    // bad line and has to be rolled back.
    let mut long = vec![header.to_string()];
    for i in 0..300 {
        let mut it = item(&format!("n{i}"), "h", at(2024, 1, 1, 0));
        it.source = Some("cuf".into());
        long.push(
            serde_json::json!({"type": "item", "first_seen": "2024-01-02T00:00:00Z", "item": it})
                .to_string(),
        );
    }
    long.push("{\"type\":\"item\",\"first_seen\":\"pas une date\"}".to_string());

    let with = |i: usize, bad: &str| {
        let mut v: Vec<String> = good_lines.iter().map(|s| s.to_string()).collect();
        v.insert(i, bad.to_string());
        v.join("\n")
    };
    let cases: Vec<(&str, String, usize, &str)> = vec![
        ("garbage", with(3, "{not json"), 4, "not JSON"),
        (
            "unknown type",
            with(2, r#"{"type":"comment","text":"x"}"#),
            3,
            "unknown record type \"comment\"",
        ),
        (
            "item without source",
            with(
                2,
                &item_line.replace("\"source\":\"cuf\"", "\"source\":null"),
            ),
            3,
            "has no source",
        ),
        (
            "duplicate item",
            with(n, item_line),
            n + 1,
            "duplicate item",
        ),
        (
            "no header",
            good_lines[1..].join("\n"),
            1,
            "not a relais backup header",
        ),
        (
            "newer format",
            good.replacen("\"relais_backup\":1", "\"relais_backup\":9", 1),
            1,
            "format 9 is newer",
        ),
        (
            "newer schema",
            good.replacen(
                &format!("\"schema\":{}", relais::store::SCHEMA_VERSION),
                "\"schema\":7",
                1,
            ),
            1,
            "schema 7 is newer",
        ),
        ("empty file", String::new(), 1, "empty"),
        (
            "late in a long file",
            long.join("\n"),
            302,
            "bad item record",
        ),
    ];
    for (name, text, line, needle) in cases {
        let (_dir, target) = temp_store();
        let err = target
            .restore(&mut Cursor::new(text.as_bytes()))
            .expect_err(name);
        match &err {
            StoreError::Restore { line: got, message } => {
                assert_eq!(*got, line, "{name}: {err}");
                assert!(message.contains(needle), "{name}: {err}");
            }
            other => panic!("{name}: expected a restore error, got {other:?}"),
        }
        assert!(
            err.to_string()
                .starts_with(&format!("restore: line {line}: ")),
            "{err}"
        );
        assert_eq!(target.count_items(None).unwrap(), 0, "{name}");
        assert!(all(&target).is_empty(), "{name}");
        assert!(target.source_states().unwrap().is_empty(), "{name}");
        assert_eq!(target.verify().unwrap().tombstones, 0, "{name}");
        // Empty and usable: the good backup restores into it.
        target.restore(&mut Cursor::new(good.as_bytes())).unwrap();
        assert_eq!(target.count_items(None).unwrap(), 4, "{name}");
    }
}

#[test]
fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (items, states, backup) = {
        let store = Store::open(&path).unwrap();
        populate(&store);
        (
            store.stored_items(None, None, None).unwrap(),
            store.source_states().unwrap(),
            backup_text(&store),
        )
    };
    let store = Store::open(&path).unwrap();
    assert_eq!(store.stored_items(None, None, None).unwrap(), items);
    assert_eq!(store.source_states().unwrap(), states);
    assert!(store.is_tombstoned("cuf", "old").unwrap());
    assert_eq!(store.count_items(Some("cuf")).unwrap(), 3);
    assert_eq!(store.verify().unwrap().items, 4);
    let body = |t: &str| t.lines().skip(1).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(body(&backup_text(&store)), body(&backup));
    assert!(store.size_on_disk().unwrap() > 0);
}

#[test]
fn a_store_in_use_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let _held = Store::open(&path).unwrap();
    let err = Store::open(&path).expect_err("the store is held");
    assert_eq!(
        err.to_string(),
        format!(
            "store {} is in use by another relais process (is the daemon running?)",
            path.display()
        )
    );
}

const CRASH_CHILD: &str = "RELAIS_STORE_TEST_CRASH_CHILD";

/// Writes a poll, then dies without unwinding or dropping anything: what `apply_poll`
/// acknowledged must be on disk, although sled's own background flush (every 500 ms)
/// has had no time to run.
fn crash_child(path: &Path) -> ! {
    let store = Store::open(path).unwrap();
    let batch = (0..20)
        .map(|i| {
            item(
                &format!("n{i}"),
                "h",
                at(2024, 5, 1, 0) + chrono::Duration::minutes(i),
            )
        })
        .collect();
    let w = store
        .apply_poll(&state("cuf"), batch, at(2024, 5, 2, 0))
        .unwrap();
    assert_eq!(w.new, 20);
    std::process::abort();
}

#[test]
fn an_acknowledged_poll_survives_a_crash() {
    if let Some(path) = std::env::var_os(CRASH_CHILD) {
        crash_child(&PathBuf::from(path));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "an_acknowledged_poll_survives_a_crash",
            "--test-threads=1",
        ])
        .env(CRASH_CHILD, &path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child must have died");
    let store = Store::open(&path).unwrap();
    assert_eq!(store.count_items(Some("cuf")).unwrap(), 20);
    assert_eq!(all(&store).len(), 20);
    assert_eq!(
        store.source_state("cuf").unwrap().unwrap().etag.as_deref(),
        Some("\"v1\"")
    );
    assert_eq!(store.verify().unwrap().items, 20);
}

//! Unit tests that need the store's insides (raw trees, encodings): schema refusal,
//! atomicity under a failure in the middle of a batch, the restore marker.

use super::*;
use chrono::TimeZone;

fn item(id: &str, hash: &str, published: DateTime<Utc>) -> Item {
    Item {
        id: id.to_string(),
        source: None,
        url: Some(format!("https://example.org/{id}")),
        canonical_url: None,
        title: format!("Titre {id}"),
        summary: "Résumé".to_string(),
        content_html: None,
        published,
        updated: None,
        authors: Vec::new(),
        categories: Vec::new(),
        lang: Some("fr".to_string()),
        enclosures: Vec::new(),
        published_guessed: false,
        content_hash: hash.to_string(),
    }
}

fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, d, 12, 0, 0).unwrap()
}

#[test]
fn a_second_open_of_the_same_store_is_locked_even_in_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let first = Store::open(&path).unwrap();
    let err = Store::open(&path).expect_err("second open must fail");
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    drop(first);
    Store::open(&path).expect("open again after the first handle is dropped");
}

fn state(id: &str, etag: &str) -> SourceState {
    SourceState {
        id: id.to_string(),
        etag: Some(etag.to_string()),
        ..SourceState::default()
    }
}

#[test]
fn a_store_with_a_newer_schema_is_refused_and_a_new_one_is_stamped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = Store::open(&path).unwrap();
        let v = store.t.meta.get(SCHEMA_KEY).unwrap().unwrap();
        assert_eq!(v.as_ref(), &SCHEMA_VERSION.to_be_bytes()[..]);
        store
            .t
            .meta
            .insert(SCHEMA_KEY, &(SCHEMA_VERSION + 1).to_be_bytes()[..])
            .unwrap();
        store.flush().unwrap();
    }
    let err = Store::open(&path).expect_err("newer schema must be refused");
    match &err {
        StoreError::NewerSchema {
            found, supported, ..
        } => {
            assert_eq!((*found, *supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("newer than this relais knows"), "{msg}");
}

#[test]
fn data_without_a_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = Store::open(&path).unwrap();
        store.save_source_state(&state("cuf", "e")).unwrap();
        store.t.meta.remove(SCHEMA_KEY).unwrap();
        store.flush().unwrap();
    }
    let err = Store::open(&path).expect_err("must be refused");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
}

#[test]
fn a_failure_in_the_middle_of_a_batch_writes_nothing_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let first = store
        .apply_poll(
            &state("ciedel", "v1"),
            vec![item("a", "h1", day(1)), item("b", "h1", day(2))],
            day(3),
        )
        .unwrap();
    assert_eq!(first.new, 2);

    // Damage b's record on disk, as a torn write or a bug might: the next poll reaches
    // it only after having staged an update of `a` and a new item `c`.
    let prefix = keys::source_prefix("ciedel").unwrap();
    let num = store
        .t
        .ids
        .get(keys::id_key(&prefix, "b"))
        .unwrap()
        .unwrap();
    let before_b = store.t.items.get(&num).unwrap().unwrap();
    store.t.items.insert(&num, &b"\x01{not json"[..]).unwrap();

    let err = store
        .apply_poll(
            &state("ciedel", "v2"),
            vec![
                item("a", "h2", day(4)),
                item("c", "h1", day(4)),
                item("b", "h2", day(2)),
                item("d", "h1", day(5)),
            ],
            day(6),
        )
        .expect_err("a corrupt record must abort the poll");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("\"b\""), "{err}");

    // Nothing of the batch landed: not the update of a, not c or d, not the state.
    assert_eq!(
        store
            .source_state("ciedel")
            .unwrap()
            .unwrap()
            .etag
            .as_deref(),
        Some("v1")
    );
    let a = store.get_item("ciedel", "a").unwrap().unwrap();
    assert_eq!(
        (a.item.content_hash.as_str(), a.item.published),
        ("h1", day(1))
    );
    assert!(store.get_item("ciedel", "c").unwrap().is_none());
    assert!(store.get_item("ciedel", "d").unwrap().is_none());
    assert_eq!(store.count_items(Some("ciedel")).unwrap(), 2);
    assert_eq!(store.t.by_time.len(), 2);
    assert_eq!(store.t.by_source.len(), 2);
    assert_eq!(store.t.ids.len(), 2);

    // Repaired, the same poll goes through whole.
    store.t.items.insert(&num, before_b).unwrap();
    let w = store
        .apply_poll(
            &state("ciedel", "v2"),
            vec![
                item("a", "h2", day(4)),
                item("c", "h1", day(4)),
                item("b", "h2", day(2)),
                item("d", "h1", day(5)),
            ],
            day(6),
        )
        .unwrap();
    assert_eq!((w.new, w.updated, w.unchanged), (2, 2, 0));
    assert_eq!(store.verify().unwrap().items, 4);
}

#[test]
fn a_store_left_mid_restore_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = Store::open(&path).unwrap();
        store.t.meta.insert(RESTORING_KEY, EMPTY).unwrap();
        store.flush().unwrap();
    }
    let err = Store::open(&path).expect_err("must be refused");
    assert!(
        matches!(err, StoreError::IncompleteRestore { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("relais restore"), "{err}");
}

#[test]
fn records_on_disk_are_a_version_byte_then_json() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    store
        .apply_poll(&state("cuf", "e"), vec![item("x", "h", day(1))], day(2))
        .unwrap();
    let (_, raw) = store.t.items.iter().next().unwrap().unwrap();
    assert_eq!(raw.first(), Some(&records::RECORD_VERSION));
    let json: serde_json::Value = serde_json::from_slice(&raw[1..]).unwrap();
    assert_eq!(json["item"]["source"], "cuf");
    assert_eq!(json["first_seen"], "2024-05-02T12:00:00Z");
}

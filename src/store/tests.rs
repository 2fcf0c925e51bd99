//! Unit tests that need the store's insides (raw trees, encodings): schema refusal,
//! atomicity under a failure in the middle of a batch, the restore marker.

use super::stories;
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

fn cross_post(source: &str, id: &str, title: &str, published: DateTime<Utc>) -> Item {
    let mut it = item(id, "h", published);
    it.url = Some(format!("https://{source}.example.org/{id}"));
    it.canonical_url = it.url.clone();
    it.title = title.to_string();
    it.summary = "Jardins partagés, tiers-lieux : les communs en débat avec l’IFRADEL et \
                  Racines Rurales, le jeudi 10 décembre à Lyon, journée d’étude."
        .to_string();
    it
}

#[test]
fn a_schema_1_store_gets_its_stories_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = Store::open(&path).unwrap();
        store
            .apply_poll(
                &state("ifradel", "e"),
                vec![cross_post(
                    "ifradel",
                    "a",
                    "Journée d’étude sur les communs à Lyon",
                    day(1),
                )],
                day(2),
            )
            .unwrap();
        store
            .apply_poll(
                &state("racines", "e"),
                vec![
                    cross_post(
                        "racines",
                        "b",
                        "Communs territoriaux : journée à Lyon",
                        day(2),
                    ),
                    item("c", "h", day(3)),
                ],
                day(3),
            )
            .unwrap();
        // As a relais from before stories left it: no story trees, schema 1.
        for tree in [&store.t.stories, &store.t.item_story, &store.t.story_index] {
            tree.clear().unwrap();
        }
        store.t.meta.remove(stories::STORY_SEQ_KEY).unwrap();
        store
            .t
            .meta
            .insert(SCHEMA_KEY, &1u32.to_be_bytes()[..])
            .unwrap();
        store.flush().unwrap();
        assert!(
            store.verify().is_err(),
            "items without stories are inconsistent"
        );
    }
    let store = Store::open(&path).unwrap();
    let v = store.t.meta.get(SCHEMA_KEY).unwrap().unwrap();
    assert_eq!(v.as_ref(), &SCHEMA_VERSION.to_be_bytes()[..]);
    let report = store.verify().unwrap();
    assert_eq!((report.items, report.stories), (3, 2));
    assert_eq!(
        store.story_id_of("ifradel", "a").unwrap(),
        store.story_id_of("racines", "b").unwrap()
    );
    // The oldest item came first: it is the primary.
    let s = store.story_id_of("racines", "b").unwrap().unwrap();
    assert_eq!(store.story(s).unwrap().unwrap().item.id, "a");
}

#[test]
fn an_edit_keeps_the_story_and_moves_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let a = cross_post(
        "ifradel",
        "a",
        "Journée d’étude sur les communs à Lyon",
        day(1),
    );
    let b = cross_post(
        "racines",
        "b",
        "Communs territoriaux : journée à Lyon",
        day(2),
    );
    store
        .apply_poll(&state("ifradel", "e"), vec![a.clone()], day(2))
        .unwrap();
    store
        .apply_poll(&state("racines", "e"), vec![b], day(3))
        .unwrap();
    let s = store.story_id_of("ifradel", "a").unwrap().unwrap();
    let keys_before = store.t.story_index.len();
    // The primary is edited: new words, a later date. Same story; the primary is now
    // the other appearance, the earliest.
    let mut edited = a;
    edited.summary = "Un tout autre texte sur le budget de la métropole.".into();
    edited.published = day(5);
    edited.content_hash = "h2".into();
    store
        .apply_poll(&state("ifradel", "e"), vec![edited], day(6))
        .unwrap();
    assert_eq!(store.story_id_of("ifradel", "a").unwrap(), Some(s));
    assert_eq!(store.story(s).unwrap().unwrap().item.id, "b");
    assert!(store.t.story_index.len() <= keys_before + 2);
    store.verify().unwrap();
}

#[test]
fn an_index_built_by_another_matching_is_rebuilt_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let story;
    {
        let store = Store::open(&path).unwrap();
        let a = cross_post(
            "ifradel",
            "a",
            "Journée d’étude sur les communs à Lyon",
            day(1),
        );
        let b = cross_post(
            "racines",
            "b",
            "Communs territoriaux : journée à Lyon",
            day(2),
        );
        store
            .apply_poll(&state("ifradel", "e"), vec![a], day(2))
            .unwrap();
        store
            .apply_poll(&state("racines", "e"), vec![b], day(3))
            .unwrap();
        story = store.story_id_of("ifradel", "a").unwrap();
        // As if written by a relais whose index differed: stale entries, old version.
        store.t.story_index.clear().unwrap();
        store.t.story_index.insert([9u8; 17], EMPTY).unwrap();
        store
            .t
            .meta
            .insert(INDEX_VERSION_KEY, &0u32.to_be_bytes()[..])
            .unwrap();
        store.flush().unwrap();
        assert!(store.verify().is_err());
    }
    let store = Store::open(&path).unwrap();
    store.verify().unwrap();
    assert_eq!(store.story_id_of("ifradel", "a").unwrap(), story);
    assert_eq!(store.story_id_of("racines", "b").unwrap(), story);
    // The rebuilt index finds candidates again.
    let c = cross_post("confluences", "c", "Communs et territoires à Lyon", day(4));
    store
        .apply_poll(&state("confluences", "e"), vec![c], day(5))
        .unwrap();
    assert_eq!(store.story_id_of("confluences", "c").unwrap(), story);
}

#[test]
fn an_unflushed_source_state_is_read_back_at_once_and_survives_a_clean_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = Store::open(&path).unwrap();
    let before = store
        .state_changes
        .load(std::sync::atomic::Ordering::Acquire);
    store
        .save_source_state_unflushed(&state("cuf", "\"v2\""))
        .unwrap();
    assert_eq!(
        store.source_state("cuf").unwrap().and_then(|s| s.etag),
        Some("\"v2\"".to_string())
    );
    // Pages show health from this counter: an unflushed save still moves it.
    assert_eq!(
        store
            .state_changes
            .load(std::sync::atomic::Ordering::Acquire),
        before + 1
    );
    // Dropping the last handle writes what sled still held.
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.source_state("cuf").unwrap().and_then(|s| s.etag),
        Some("\"v2\"".to_string())
    );
    let err = store
        .save_source_state_unflushed(&state("", "\"x\""))
        .expect_err("an empty id is refused as by the flushed save");
    assert!(matches!(err, StoreError::InvalidSource { .. }), "{err:?}");
}

#[test]
fn verify_finds_a_story_counter_behind_the_stories() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    store
        .apply_poll(&state("ifradel", "e"), vec![item("a", "h", day(1))], day(2))
        .unwrap();
    let story = store.story_id_of("ifradel", "a").unwrap().unwrap();
    assert_eq!(store.verify().unwrap().stories, 1);
    // A counter that would hand out the id of a story that exists.
    store
        .t
        .meta
        .insert(stories::STORY_SEQ_KEY, &story.to_be_bytes()[..])
        .unwrap();
    let err = store.verify().unwrap_err().to_string();
    assert!(
        err.ends_with(&format!(
            "corrupt story counter: next id {story}, but story {story} exists"
        )),
        "{err}"
    );
}

#[test]
fn a_merge_and_the_curation_it_carries_are_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    store
        .apply_poll(&state("ifradel", "e"), vec![item("a", "h", day(1))], day(2))
        .unwrap();
    store
        .apply_poll(&state("racines", "e"), vec![item("b", "h", day(3))], day(4))
        .unwrap();
    let older = store.story_id_of("ifradel", "a").unwrap().unwrap();
    let newer = store.story_id_of("racines", "b").unwrap().unwrap();
    assert_ne!(older, newer);
    // The absorbed story's decisions cannot be read: carrying them fails, and with it
    // the whole merge, instead of leaving the stories merged and the decisions behind.
    store
        .t
        .curation
        .insert(keys::num_bytes(newer), &[0xFF][..])
        .unwrap();
    let err = store
        .merge_items(("ifradel", "a"), ("racines", "b"))
        .unwrap_err();
    assert!(err.to_string().contains("curation of story"), "{err}");
    assert_eq!(store.story_id_of("ifradel", "a").unwrap(), Some(older));
    assert_eq!(store.story_id_of("racines", "b").unwrap(), Some(newer));
    assert!(store
        .t
        .curation
        .contains_key(keys::num_bytes(newer))
        .unwrap());
}

/// A word no other item uses, made of letters only (digits would be read as numbers).
fn rare_word(i: usize, salt: usize) -> String {
    let mut n = i * 7 + salt;
    let mut w = String::from("Zor");
    for _ in 0..4 {
        w.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
    }
    w
}

#[test]
fn a_templated_network_costs_a_bounded_number_of_comparisons_and_still_matches() {
    // 600 announcements from 40 partners written from one template: every pair shares
    // most words, so every stored item shares LSH bands with every new one. Matching
    // must verify a bounded number of them and still find the one true cross-post.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let template = "Appel à projets de la coopération décentralisée : les collectivités \
                    partenaires déposent leurs dossiers auprès du réseau régional";
    let announcement = |i: usize| {
        let source = format!("p{}", i % 40);
        let mut it = item(&format!("a{i}"), "h", day(1 + (i % 20) as u32));
        it.source = Some(source.clone());
        it.url = Some(format!("https://{source}.example.org/a{i}"));
        it.canonical_url = it.url.clone();
        it.title = format!("{} {} : {template}", rare_word(i, 0), rare_word(i, 1));
        it.summary = format!(
            "{template}. {} {} {} {} {}.",
            rare_word(i, 2),
            rare_word(i, 3),
            rare_word(i, 4),
            rare_word(i, 5),
            rare_word(i, 6)
        );
        it
    };
    for chunk in (0..600).collect::<Vec<_>>().chunks(40) {
        for &i in chunk {
            let it = announcement(i);
            let source = it.source.clone().unwrap();
            store
                .apply_poll(&state(&source, "e"), vec![it], day(21))
                .unwrap();
        }
    }
    // Item 333 cross-posted by another partner, in other words around its own.
    let original = announcement(333);
    let mut cross = original.clone();
    cross.id = "x".into();
    cross.source = Some("autre".into());
    cross.url = Some("https://autre.example.net/x".into());
    cross.canonical_url = cross.url.clone();
    cross.title = format!("{} et {} : un appel", rare_word(333, 1), rare_word(333, 0));
    cross.summary = format!(
        "Le réseau relaie : {} {} {} {} {}. {template}",
        rare_word(333, 6),
        rare_word(333, 5),
        rare_word(333, 4),
        rare_word(333, 3),
        rare_word(333, 2)
    );
    let preview = store.preview_story(&cross).unwrap();
    assert!(
        preview.compared <= stories::MAX_VERIFIED,
        "{} compared",
        preview.compared
    );
    let s = store
        .story_id_of(&original.source.unwrap(), &original.id)
        .unwrap();
    assert_eq!(preview.story, s);
}

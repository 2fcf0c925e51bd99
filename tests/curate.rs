//! Curation in a real store: story references, actions and the audit log, pin expiry at
//! a given `now`, decisions following merged stories and staying with split ones,
//! retention keeping pinned stories, backup and restore keeping everything, and the
//! command line's exit codes.

use std::process::Command;

use chrono::{DateTime, Duration, TimeZone, Utc};
use relais::curate::{Action, ActionError, Hidden};
use relais::model::{Item, SourceState};
use relais::store::{Store, StoreError};

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
}

/// Items whose words share nothing, so that each is a story of its own.
const TEXTS: [(&str, &str); 4] = [
    (
        "Rencontre régionale à Lyon sur les jumelages",
        "Les comités de jumelage se retrouvent au printemps.",
    ),
    (
        "Appel à projets eau potable Madagascar",
        "Dossiers attendus avant janvier pour les forages.",
    ),
    (
        "Formation diagnostic territorial Clermont",
        "Session de trois jours pour agents communaux.",
    ),
    (
        "Budget métropolitain des solidarités internationales",
        "Crédits maintenus malgré la contrainte financière.",
    ),
];

fn item(source: &str, n: usize, published: DateTime<Utc>) -> Item {
    let (title, summary) = TEXTS[n % TEXTS.len()];
    Item {
        id: format!("{source}-{n}"),
        source: Some(source.into()),
        url: Some(format!("https://{source}.example.org/actualites/{n}")),
        canonical_url: Some(format!("https://{source}.example.org/actualites/{n}")),
        title: title.into(),
        summary: summary.into(),
        content_html: None,
        published,
        updated: None,
        authors: vec![],
        categories: vec![],
        lang: Some("fr".into()),
        enclosures: vec![],
        published_guessed: false,
        content_hash: format!("h-{source}-{n}"),
    }
}

fn poll(store: &Store, source: &str, items: Vec<Item>, now: DateTime<Utc>) {
    let state = SourceState {
        id: source.into(),
        ..SourceState::default()
    };
    store.apply_poll(&state, items, now).unwrap();
}

fn story(store: &Store, source: &str, n: usize) -> u64 {
    store
        .story_id_of(source, &format!("{source}-{n}"))
        .unwrap()
        .unwrap()
}

/// A store with two stories of source `cuf` (items `cuf-0` and `cuf-1`), and their ids.
fn two_stories() -> (tempfile::TempDir, Store, u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a")).unwrap();
    poll(
        &store,
        "cuf",
        vec![item("cuf", 0, at(2, 9)), item("cuf", 1, at(3, 9))],
        at(4, 9),
    );
    let (a, b) = (story(&store, "cuf", 0), story(&store, "cuf", 1));
    (dir, store, a, b)
}

fn pin(channel: &str, until: Option<DateTime<Utc>>) -> Action {
    Action::Pin {
        channel: channel.into(),
        until,
    }
}

#[test]
fn stories_are_named_by_id_or_by_item() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s")).unwrap();
    poll(
        &store,
        "ciedel",
        vec![item("ciedel", 0, at(2, 9))],
        at(3, 9),
    );
    let id = story(&store, "ciedel", 0);
    assert_eq!(store.find_story(&id.to_string()).unwrap(), id);
    assert_eq!(store.find_story("ciedel/ciedel-0").unwrap(), id);
    for unknown in ["999", "ciedel/nope", "nope/ciedel-0", "abc", "", "/x"] {
        match store.find_story(unknown) {
            Err(e @ StoreError::UnknownStory { .. }) => {
                assert!(e.to_string().contains(&format!("`{unknown}`")), "{e}")
            }
            other => panic!("{unknown:?}: {other:?}"),
        }
    }
}

#[test]
fn actions_are_logged_newest_first_and_pins_expire_at_until() {
    let (_dir, store, a, b) = two_stories();
    let until = at(20, 0);
    store
        .curate(a, &pin("coop", Some(until)), "cli", at(10, 8))
        .unwrap();
    store
        .curate(b, &Action::Hide { channel: None }, "équipe", at(10, 9))
        .unwrap();
    let edit = Action::Edit {
        title: Some("Rencontre des jumelages : inscriptions".into()),
        summary: None,
    };
    let entry = store.curate(b, &edit, "équipe", at(10, 10)).unwrap();
    assert_eq!(
        entry.details.as_deref(),
        Some("title: « Appel à projets eau potable Madagascar » → « Rencontre des jumelages : inscriptions »")
    );
    // A no-op is logged as such; a refused action is not logged at all.
    let again = store
        .curate(b, &Action::Hide { channel: None }, "cli", at(10, 11))
        .unwrap();
    assert!(!again.changed);
    let past = store.curate(a, &pin("coop", Some(at(1, 0))), "cli", at(10, 12));
    assert!(matches!(
        past,
        Err(StoreError::Curation(ActionError::PastUntil(_)))
    ));

    let log = store.curation_log(None).unwrap();
    let summary: Vec<(&str, &str, u64, bool)> = log
        .iter()
        .map(|e| (e.action.name(), e.actor.as_str(), e.story, e.changed))
        .collect();
    assert_eq!(
        summary,
        [
            ("hide", "cli", b, false),
            ("edit", "équipe", b, true),
            ("hide", "équipe", b, true),
            ("pin", "cli", a, true),
        ]
    );
    assert_eq!(
        log[3].story_title,
        "Rencontre régionale à Lyon sur les jumelages"
    );
    assert_eq!(store.curation_log(Some(1)).unwrap().len(), 1);
    let json = log[2].to_json();
    assert_eq!(
        json["channel"],
        serde_json::Value::Null,
        "null = everywhere"
    );
    assert_eq!(json["story"], serde_json::json!(b.to_string()));

    let decisions = store.curation().unwrap();
    assert_eq!(decisions.changed, Some(at(10, 11)));
    let (a, b) = (a.to_string(), b.to_string());
    let before = until - Duration::seconds(1);
    assert!(decisions.channel("coop", before).pinned(&a).is_some());
    assert!(decisions.channel("coop", until).pinned(&a).is_none());
    assert!(decisions.channel("other", before).pinned(&a).is_none());
    assert_eq!(
        decisions.channel("other", before).hidden(&b),
        Some(Hidden::Everywhere)
    );
    // The stored item is untouched by the edit.
    let stored = store.get_item("cuf", "cuf-1").unwrap().unwrap();
    assert_eq!(stored.item.title, "Appel à projets eau potable Madagascar");
}

#[test]
fn a_merged_story_takes_the_curation_and_a_split_item_leaves_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s")).unwrap();
    poll(&store, "cuf", vec![item("cuf", 0, at(2, 9))], at(4, 9));
    poll(
        &store,
        "ciedel",
        vec![item("ciedel", 2, at(3, 9))],
        at(4, 9),
    );
    let (old, new) = (story(&store, "cuf", 0), story(&store, "ciedel", 2));
    assert_ne!(old, new);
    store
        .curate(new, &pin("coop", None), "cli", at(5, 9))
        .unwrap();
    store
        .curate(
            old,
            &Action::Hide {
                channel: Some("rural".into()),
            },
            "cli",
            at(5, 9),
        )
        .unwrap();
    // The older story absorbs the newer one and takes its pin; its own hide stays.
    let merged = store
        .merge_items(("cuf", "cuf-0"), ("ciedel", "ciedel-2"))
        .unwrap();
    assert_eq!((merged.story, merged.absorbed), (old, Some(new)));
    let decisions = store.curation().unwrap();
    let kept = decisions.of(&old.to_string()).unwrap();
    assert!(kept.pinned.contains_key("coop"));
    assert!(kept.hidden.contains_key("rural"));
    assert!(decisions.of(&new.to_string()).is_none());
    // Split: the item leaves for a story of its own; the decisions stay with the story.
    let split = store.split_item("ciedel", "ciedel-2").unwrap();
    assert_eq!(split.from, old);
    let decisions = store.curation().unwrap();
    assert!(decisions.of(&old.to_string()).is_some());
    assert!(decisions.of(&split.story.to_string()).is_none());
    store.verify().unwrap();
}

#[test]
fn retention_keeps_the_items_of_pinned_stories() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s")).unwrap();
    poll(
        &store,
        "cuf",
        vec![
            item("cuf", 0, at(1, 9)),
            item("cuf", 1, at(2, 9)),
            item("cuf", 2, at(20, 9)),
        ],
        at(21, 9),
    );
    let pinned = story(&store, "cuf", 0);
    store
        .curate(pinned, &pin("coop", None), "cli", at(21, 10))
        .unwrap();
    // A pin expired when retention runs keeps nothing.
    let lapsed = story(&store, "cuf", 1);
    store
        .curate(lapsed, &pin("coop", Some(at(25, 0))), "cli", at(21, 10))
        .unwrap();
    let pruned = store.prune_at(at(10, 0), at(25, 0)).unwrap();
    assert_eq!(pruned, 1);
    assert!(store.get_item("cuf", "cuf-0").unwrap().is_some());
    assert!(store.get_item("cuf", "cuf-1").unwrap().is_none());
    assert!(store.get_item("cuf", "cuf-2").unwrap().is_some());
    store.verify().unwrap();
}

#[test]
fn backup_and_restore_keep_curation_and_the_log() {
    let (dir, store, a, b) = two_stories();
    store
        .curate(a, &pin("coop", Some(at(28, 0))), "cli", at(5, 9))
        .unwrap();
    store
        .curate(
            b,
            &Action::Add {
                channel: "coop".into(),
            },
            "api",
            at(5, 10),
        )
        .unwrap();
    let edit = Action::Edit {
        title: None,
        summary: Some("Résumé revu.".into()),
    };
    store.curate(b, &edit, "api", at(5, 11)).unwrap();
    let report = store.verify().unwrap();
    assert_eq!(report.curated, 2);

    let mut bytes = Vec::new();
    let stats = store.backup(&mut bytes).unwrap();
    assert_eq!(stats.curation_records, 2 + 3);
    let restored = Store::open(&dir.path().join("b")).unwrap();
    let back = restored.restore(&mut &bytes[..]).unwrap();
    assert_eq!(back.curation_records, 5);
    assert_eq!(restored.curation().unwrap(), store.curation().unwrap());
    assert_eq!(
        restored.curation_log(None).unwrap(),
        store.curation_log(None).unwrap()
    );
    assert_eq!(restored.verify().unwrap(), report);
    // The restored decisions still name the same stories.
    assert_eq!(story(&restored, "cuf", 0), a);
}

#[test]
fn the_command_line_curates_and_refuses_unknown_stories_and_channels() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("relais.toml");
    std::fs::write(
        &config,
        "[store]\npath = \"store\"\n[[source]]\nid = \"cuf\"\nurl = \"feed.xml\"\n[[channel]]\nid = \"coop\"\ntitle = \"Coop\"\n",
    )
    .unwrap();
    {
        let store = Store::open(&dir.path().join("store")).unwrap();
        poll(&store, "cuf", vec![item("cuf", 0, at(2, 9))], at(4, 9));
    }
    let relais = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_relais"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // (arguments, exit code, text expected on stdout or stderr)
    let cases: [(&[&str], i32, &str); 10] = [
        (
            &["curate", "pin", "cuf/cuf-0", "--channel", "coop"],
            0,
            "pinned in coop",
        ),
        (
            &["curate", "pin", "cuf/cuf-0", "--channel", "nope"],
            1,
            "no channel has the id `nope`",
        ),
        (
            &["curate", "hide", "cuf/none"],
            1,
            "no stored story has the id `cuf/none`",
        ),
        (
            &["curate", "hide", "4242", "--channel", "coop"],
            1,
            "`4242`",
        ),
        (
            &[
                "curate",
                "pin",
                "cuf/cuf-0",
                "--channel",
                "coop",
                "--until",
                "hier",
            ],
            1,
            "is not a date",
        ),
        (&["curate", "edit", "cuf/cuf-0"], 1, "nothing to edit"),
        (
            &[
                "curate",
                "edit",
                "cuf/cuf-0",
                "--channel",
                "coop",
                "--title",
                "x",
            ],
            1,
            "an edit applies to every channel",
        ),
        (
            &["curate", "edit", "cuf/cuf-0", "--title", "Titre revu"],
            0,
            "edited",
        ),
        (
            &["items", "--channel", "coop", "--why"],
            0,
            "pinned by operator",
        ),
        (&["curate", "log"], 0, "cli"),
    ];
    for (args, code, text) in cases {
        let (got, stdout, stderr) = relais(args);
        assert_eq!(got, Some(code), "{args:?}: {stderr}");
        let shown = if code == 0 { &stdout } else { &stderr };
        assert!(shown.contains(text), "{args:?}: {shown}");
        if code == 1 {
            assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        }
    }
    let (_, listing, _) = relais(&["items", "--channel", "coop"]);
    assert!(listing.contains("Titre revu"), "{listing}");
    let (_, log, _) = relais(&["curate", "log", "--json"]);
    let log: serde_json::Value = serde_json::from_str(&log).unwrap();
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["edit", "pin"]);
    for sub in [
        "pin", "unpin", "hide", "unhide", "edit", "add", "remove", "log",
    ] {
        let (code, help, _) = relais(&["curate", sub, "--help"]);
        assert_eq!(code, Some(0));
        assert!(help.contains("Example: relais curate"), "{sub}: {help}");
    }
}

#[test]
fn the_digest_applies_the_decisions() {
    use relais::curate::{Decisions, StoryDecisions};
    use relais::digest::{sections, DatedStory, Period, Window};
    use relais::model::Story;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relais.toml");
    let text = "[[source]]\nid = \"cuf\"\nurl = \"feed.xml\"\n[[channel]]\nid = \"coop\"\ntitle = \"Coop\"\n\
        [smtp]\nhost = \"127.0.0.1\"\nsecurity = \"none\"\n[[digest]]\nid = \"hebdo\"\ntitle = \"Lettre\"\n\
        channels = [\"coop\"]\nfrom = \"veille@example.org\"\nto = [\"liste@example.org\"]\n";
    let config = relais::config::Config::parse(text, &path).unwrap();
    let digest = config.digest("hebdo").unwrap();
    let stories: Vec<DatedStory> = (0..3)
        .map(|n| {
            let mut story = Story::single(item("cuf", n, at(17 + n as u32, 9)));
            story.id = n.to_string();
            DatedStory {
                story,
                first_seen: at(20, 9),
            }
        })
        .collect();
    let decide = |action: Action| {
        let mut d = StoryDecisions::default();
        d.apply(&action, ("", ""), at(21, 9)).unwrap();
        d
    };
    let decisions = Decisions::new(
        [
            ("0".to_string(), decide(pin("coop", None))),
            (
                "1".to_string(),
                decide(Action::Hide {
                    channel: Some("coop".into()),
                }),
            ),
            (
                "2".to_string(),
                decide(Action::Edit {
                    title: Some("Formation : inscriptions ouvertes".into()),
                    summary: None,
                }),
            ),
        ],
        None,
    );
    let window = Window {
        period: "2026-W47".parse::<Period>().unwrap(),
        late_after: None,
        composed_at: at(23, 9),
    };
    let got = sections(&config, digest, &window, &stories, &decisions);
    let titles: Vec<&str> = got[0]
        .stories
        .iter()
        .map(|s| s.item.title.as_str())
        .collect();
    assert_eq!(
        titles,
        [
            "Rencontre régionale à Lyon sur les jumelages",
            "Formation : inscriptions ouvertes"
        ]
    );
}

#[test]
fn a_lapsing_pin_renders_the_channel_again_without_any_store_change() {
    use relais::publish::{Doc, Publisher};
    use relais::render::FeedFormat;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relais.toml");
    std::fs::write(
        &path,
        "[store]\npath = \"store\"\n[[source]]\nid = \"cuf\"\nurl = \"feed.xml\"\n[[channel]]\nid = \"coop\"\ntitle = \"Coop\"\n",
    )
    .unwrap();
    let config = Arc::new(relais::config::Config::load(&path).unwrap());
    let store = Arc::new(Store::open(&config.store.path).unwrap());
    poll(
        &store,
        "cuf",
        vec![item("cuf", 0, at(2, 9)), item("cuf", 1, at(3, 9))],
        at(4, 9),
    );
    let old = story(&store, "cuf", 0);
    let until = Utc::now() + Duration::milliseconds(1500);
    store
        .curate(old, &pin("coop", Some(until)), "cli", Utc::now())
        .unwrap();
    let publisher = Publisher::new(Arc::clone(&config), Arc::clone(&store));
    let feed = Doc::Feed {
        id: "coop".into(),
        format: FeedFormat::Json,
        page: 1,
    };
    let first_title = || -> String {
        let doc = publisher.document(&feed).unwrap().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&doc.body).unwrap();
        json["items"][0]["title"].as_str().unwrap().to_string()
    };
    let (pinned, newest) = (TEXTS[0].0, TEXTS[1].0);
    assert_eq!(first_title(), pinned);
    // Nothing is written to the store from here on: only the pin's end changes the feed.
    let changes = store.changes();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while first_title() != newest {
        assert!(
            std::time::Instant::now() < deadline,
            "the pin lapsed in the feed"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(Utc::now() >= until);
    assert_eq!(store.changes(), changes);
}

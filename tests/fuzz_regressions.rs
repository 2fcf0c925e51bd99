//! Inputs the fuzzers (`fuzz/`, see ROBUSTNESS.md) found crashing, kept as regression
//! tests that plain `cargo test` runs: each file of `tests/fuzz/` goes through the same
//! path as its fuzz target and must come out as a value (a feed or an error), never a
//! panic — not even one relais would contain, since a contained panic still loses the
//! whole document.

use std::path::Path;

use chrono::{DateTime, Utc};
use relais::normalise::{self, Context};
use relais::parse::{self, ParseError};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_764_000_000, 0).unwrap()
}

/// The `parse` target's path: parse, then normalise against a document URL.
fn parse_and_normalise(bytes: &[u8]) -> Result<Vec<relais::model::Item>, ParseError> {
    let feed = parse::parse(bytes, None)?;
    let base = url::Url::parse("https://partenaire.example.org/actualites/flux.xml").unwrap();
    let cx = Context {
        source: Some("fuzz"),
        document_url: Some(&base),
        default_lang: Some("fr"),
        now: now(),
    };
    Ok(normalise::normalise(&feed, &cx))
}

#[test]
fn every_input_the_fuzzers_found_is_a_value_not_a_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("parse-") {
            let result = parse_and_normalise(&bytes);
            assert!(
                !matches!(result, Err(ParseError::Panicked(_))),
                "{name}: {result:?}"
            );
        }
    }
}

/// Found by `parse` (tests/fuzz/parse-9fed8073.xml): an XML declaration in the middle of
/// a document — there after controls inside `<?…xml` were dropped by repair — made
/// quick-xml panic ("set_encoding() called after prefix buffer was drained"); the panic
/// was contained, but the partner's whole feed was lost. Repair now removes it.
#[test]
fn an_xml_declaration_after_the_start_loses_nothing() {
    for junk in [
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
        "<?\u{11}\u{11}xml version=\"0.0\" encoding=\"ISO-8859-1\"?>",
        "<?xml version=\"1.0\"?>",
    ] {
        let doc = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>\
             <title>Source Commune</title><link>https://source-commune.example.net/</link>\
             <item><title>Eau et assainissement{junk} : l’appel</title>\
             <link>https://source-commune.example.net/appel</link></item>\
             {junk}<item><title>Résultats</title>\
             <link>https://source-commune.example.net/resultats</link></item>\
             </channel></rss>"
        );
        let feed = parse::parse(doc.as_bytes(), None).unwrap_or_else(|e| panic!("{junk}: {e}"));
        assert_eq!(feed.title.as_deref(), Some("Source Commune"));
        let items = parse_and_normalise(doc.as_bytes()).unwrap();
        let titles: Vec<_> = items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(
            titles,
            ["Eau et assainissement : l’appel", "Résultats"],
            "{junk}"
        );
        assert!(
            feed.repairs
                .iter()
                .any(|r| r == "removed 2 xml declarations after the start"),
            "{:?}",
            feed.repairs
        );
    }
}

//! `relais sources import FILE.opml` through the binary: messy OPML lists, duplicates
//! skipped and said so, ids from titles, the operator's file appended to (comments kept)
//! and still valid, refusals that leave every file as it was, and the round trip with
//! `/sources.opml`.

use std::path::{Path, PathBuf};
use std::process::Output;

use relais::config::{Config, Location};

fn relais(config: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_relais"))
        .arg("--config")
        .arg(config)
        .args(args)
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

const SOURCES_HEAD: &str = "# Partenaires du réseau — tenu à la main, ne pas trier.\n\
[[source]]\nid = \"ciedel\"\ntitle = \"CIEDEL\"\nurl = \"https://www.ciedel.example.org/feed/\"\n# fin\n";

/// A configuration with a sources file holding one source, and an OPML file.
fn setup(dir: &Path, opml: &str) -> (PathBuf, PathBuf, PathBuf) {
    let config = dir.join("relais.toml");
    std::fs::write(
        &config,
        "sources_file = \"sources.toml\"\n[store]\npath = \"store\"\n\
         [[source]]\nid = \"cuf\"\ntitle = \"Cités Unies France\"\nurl = \"https://cites-unies-france.example.org/rss\"\n\
         [[channel]]\nid = \"tout\"\ntitle = \"Tout\"\n",
    )
    .unwrap();
    let sources = dir.join("sources.toml");
    std::fs::write(&sources, SOURCES_HEAD).unwrap();
    let file = dir.join("partenaires.opml");
    std::fs::write(&file, opml).unwrap();
    (config, sources, file)
}

#[test]
fn messy_opml_lists_are_imported_and_duplicates_skipped() {
    let opml = r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.1">
  <head><title>Export de mon lecteur</title></head>
  <body>
    <outline text="Coopération décentralisée">
      <outline type="rss" text="Cités Unies France (autre titre)" xmlUrl="http://cites-unies-france.example.org/rss/"/>
      <outline type="rss" title="AFCCRE &eacute;v&eacute;nements" xmlurl="https://afccre.example.org/feed?x=1&y=2" htmlurl="https://afccre.example.org/" language="fr"/>
      <outline text="Europe">
        <outline type="rss" text="Cités Unies France" xmlUrl="https://cuf-europe.example.org/rss"/>
      </outline>
    </outline>
    <outline text="CIEDEL" xmlUrl="https://ciedel.example.org/feed"/>
    <outline text="CIEDEL" xmlUrl="https://ciedel.example.org/nouveau-flux"/>
    <outline text="Agenda" xmlUrl="https://a.example.org/agenda.rss"/>
    <outline text="Agenda" xmlUrl="https://b.example.org/agenda.rss"/>
    <outline text="Agenda" xmlUrl="https://b.example.org/agenda.rss#dup"/>
    <outline text="Pas un flux" xmlUrl="ftp://files.example.org/feed"/>
    <outline text="Dossier vide"/>
  </body>
</opml>"#;
    let dir = tempfile::tempdir().unwrap();
    let (config, sources, file) = setup(dir.path(), opml);

    // A dry run says what would happen and writes nothing.
    let dry = relais(
        &config,
        &["sources", "import", file.to_str().unwrap(), "--dry-run"],
    );
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(stdout(&dry).contains("would add"), "{}", stdout(&dry));
    assert!(
        stdout(&dry).contains("dry run, nothing written (4 to add, 6 skipped)"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(std::fs::read_to_string(&sources).unwrap(), SOURCES_HEAD);

    let out = relais(&config, &["sources", "import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let expected = [
        "skipped   http://cites-unies-france.example.org/rss/: already present as `cuf` (same URL)",
        "added     afccre-evenements            https://afccre.example.org/feed?x=1&y=2",
        "added     cites-unies-france           https://cuf-europe.example.org/rss",
        "skipped   https://ciedel.example.org/feed: already present as `ciedel` (same URL)",
        "skipped   https://ciedel.example.org/nouveau-flux: already present as `ciedel` (same id on the same host; edit its url by hand if it moved)",
        "added     agenda                       https://a.example.org/agenda.rss",
        "added     agenda-2                     https://b.example.org/agenda.rss",
        "skipped   https://b.example.org/agenda.rss#dup: already present as `agenda-2` (same URL)",
        "skipped   ftp://files.example.org/feed: not an http(s) feed URL",
        "skipped   « Dossier vide » (line 18): no feed URL (xmlUrl)",
    ];
    assert_eq!(lines[..expected.len()], expected, "{text}");
    assert!(text.contains("sources.toml: 4 added, 6 skipped"), "{text}");
    assert!(
        text.contains("reload the daemon (systemctl reload relais / kill -HUP)"),
        "{text}"
    );

    // Appended: the operator's text and comments are untouched.
    let written = std::fs::read_to_string(&sources).unwrap();
    assert!(written.starts_with(SOURCES_HEAD), "{written}");
    assert!(
        written.contains("# Imported from partenaires.opml on "),
        "{written}"
    );

    // The configuration is valid, and holds what the OPML said.
    let loaded = Config::load(&config).unwrap();
    let ids: Vec<&str> = loaded.sources.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "cuf",
            "ciedel",
            "afccre-evenements",
            "cites-unies-france",
            "agenda",
            "agenda-2"
        ]
    );
    let afccre = loaded.source("afccre-evenements").unwrap();
    assert_eq!(afccre.title, "AFCCRE événements");
    assert_eq!(afccre.tags, ["Coopération décentralisée"]);
    assert_eq!(afccre.lang.as_deref(), Some("fr"));
    assert_eq!(
        afccre.site.as_ref().unwrap().as_str(),
        "https://afccre.example.org/"
    );
    assert_eq!(
        loaded.source("cites-unies-france").unwrap().tags,
        ["Coopération décentralisée", "Europe"]
    );
    assert!(relais(&config, &["check"]).status.success());

    // Again: everything is already there.
    let again = relais(&config, &["sources", "import", file.to_str().unwrap()]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("nothing to add (10 skipped)"),
        "{}",
        stdout(&again)
    );
    assert_eq!(std::fs::read_to_string(&sources).unwrap(), written);
}

#[test]
fn bad_files_are_refused_naming_the_file_and_nothing_is_written() {
    let cases = [
        (
            "<opml><body><outline text=\"x\" xmlUrl=\"https://x.example.org/\"></body></opml>",
            "malformed xml",
        ),
        (
            "<rss version=\"2.0\"><channel/></rss>",
            "not an opml document",
        ),
        ("", "not xml: empty document"),
        ("<html><body>Erreur 404</body></html>", "html page"),
    ];
    for (opml, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (config, sources, file) = setup(dir.path(), opml);
        let out = relais(&config, &["sources", "import", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{opml}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(err.contains(&format!("{}: ", file.display())), "{err}");
        assert!(err.contains(want), "{opml}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert_eq!(std::fs::read_to_string(&sources).unwrap(), SOURCES_HEAD);
    }
    // A missing file is named too.
    let dir = tempfile::tempdir().unwrap();
    let (config, _, _) = setup(dir.path(), "");
    let out = relais(&config, &["sources", "import", "absent.opml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("absent.opml: cannot read"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_import_that_would_break_the_config_is_refused() {
    // The main file names a channel source `agenda`: importing a feed titled « Agenda »
    // is fine, but the sources file already holds a broken entry the operator is
    // editing; the import must not write on top of a configuration that does not load.
    let dir = tempfile::tempdir().unwrap();
    let (config, sources, file) = setup(
        dir.path(),
        "<opml><body><outline text=\"Agenda\" xmlUrl=\"https://a.example.org/agenda.rss\"/></body></opml>",
    );
    let broken = format!("{SOURCES_HEAD}[[source]]\nid = \"x\"\nurl = \"https://x.example.org/\"\ncolour = \"bleu\"\n");
    std::fs::write(&sources, &broken).unwrap();
    let out = relais(&config, &["sources", "import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    // The configuration is loaded first, so the error is the usual file:line:column one.
    assert!(
        stderr(&out).contains(&format!("{}:10:1: source[2].colour", sources.display())),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&sources).unwrap(), broken);
}

#[test]
fn without_a_sources_file_the_line_to_add_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("relais.toml");
    std::fs::write(&config, "[store]\npath = \"store\"\n").unwrap();
    let file = dir.path().join("a.opml");
    std::fs::write(&file, "<opml><body/></opml>").unwrap();
    let out = relais(&config, &["sources", "import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("add the line `sources_file = \"sources.toml\"`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "[store]\npath = \"store\"\n"
    );
}

#[test]
fn the_sources_opml_export_imports_back_to_the_same_sources() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original.toml");
    std::fs::write(
        &original,
        "[server]\nbase_url = \"https://veille.example.org\"\n\
         [[source]]\nid = \"ciedel\"\ntitle = \"CIEDEL\"\nurl = \"https://ciedel.example.org/feed\"\n\
         site = \"https://ciedel.example.org/\"\ntags = [\"formation\", \"recherche\"]\nlang = \"fr\"\n\
         [[source]]\nid = \"cites-unies-france\"\ntitle = \"Cités Unies France\"\n\
         url = \"https://cites-unies-france.example.org/rss?lang=fr&format=rss2\"\ntags = [\"coopération\"]\n\
         [[source]]\nid = \"r-d-campagnes\"\ntitle = \"R&D « Campagnes »\"\nurl = \"http://rdc.example.org/atom.xml\"\npaused = true\n",
    )
    .unwrap();
    let before = Config::load(&original).unwrap();
    let exported = relais::render::opml::sources(&before.sources, &[], &before.server.base_url);
    let file = dir.path().join("sources.opml");
    std::fs::write(&file, &exported).unwrap();

    let copy = dir.path().join("copy.toml");
    std::fs::write(&copy, "sources_file = \"copy-sources.toml\"\n").unwrap();
    let out = relais(&copy, &["sources", "import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let after = Config::load(&copy).unwrap();
    assert_eq!(
        after.sources.len(),
        before.sources.len(),
        "{}",
        stdout(&out)
    );
    for (a, b) in before.sources.iter().zip(&after.sources) {
        assert_eq!(
            (&a.id, &a.title, &a.location, &a.site, &a.tags, &a.lang),
            (&b.id, &b.title, &b.location, &b.site, &b.tags, &b.lang)
        );
        assert!(matches!(b.location, Location::Http(_)));
    }
}

//! Parse-only throughput on the feed farm (see bench/README.md): a raw scan (every
//! quick-xml event of the XML feeds, serde_json skimming the JSON ones: the floor of any
//! parser), feed-rs alone (the ceiling of a real parse), relais's parse (decode + repair +
//! feed-rs + mapping), and parse + normalise. Reads every feed of `$RELAIS_FARM` (default
//! bench/out/farm/feeds; precompressed `.gz` copies skipped) into memory first, so only
//! CPU is measured. Run through `bench/run.sh`, or:
//!
//!     python3 bench/gen_farm.py && cargo bench --bench parse

use std::path::PathBuf;
use std::time::Instant;

use chrono::Utc;

fn main() {
    let dir = std::env::var_os("RELAIS_FARM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("bench/out/farm/feeds"));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "no farm at {}: run `python3 bench/gen_farm.py` first",
            dir.display()
        );
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_none_or(|x| x != "gz"))
        .collect();
    files.sort();
    let docs: Vec<Vec<u8>> = files.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    let bytes: usize = docs.iter().map(Vec::len).sum();
    println!(
        "farm: {} files, {:.1} MiB in {}",
        docs.len(),
        bytes as f64 / (1 << 20) as f64,
        dir.display()
    );

    let rounds = 3;
    let report = |name: &str, f: &dyn Fn(&[u8]) -> usize| {
        let mut best = f64::MAX;
        let mut items = 0;
        for _ in 0..rounds {
            let start = Instant::now();
            items = docs.iter().map(|d| f(d)).sum::<usize>();
            best = best.min(start.elapsed().as_secs_f64());
        }
        println!(
            "{name:<28} {items:>8} items  {best:>8.3} s  {:>10.0} items/s  {:>7.2} µs/item (best of {rounds})",
            items as f64 / best,
            best * 1e6 / items.max(1) as f64
        );
    };

    report("raw scan (quick-xml/serde)", &raw_scan);
    report("feed-rs parse only", &|d| {
        feed_rs::parser::parse(d).map_or(0, |f| f.entries.len())
    });
    report("relais parse", &|d| {
        relais::parse::parse(d, None).map_or(0, |f| f.entries.len())
    });
    let now = Utc::now();
    report("relais parse + normalise", &|d| {
        relais::parse::parse(d, None).map_or(0, |f| {
            let cx = relais::normalise::Context {
                source: Some("bench"),
                document_url: None,
                default_lang: Some("fr"),
                now,
            };
            relais::normalise::normalise(&f, &cx).len()
        })
    });
}

/// Items seen by the cheapest possible pass: quick-xml's events (no allocation per event:
/// one reused buffer) counting `<item>`/`<entry>` starts, or serde_json skipping a JSON
/// Feed without building it. No decoding of entities, no tree, no mapping.
fn raw_scan(doc: &[u8]) -> usize {
    if doc.first() == Some(&b'{') {
        #[derive(serde::Deserialize)]
        struct Skim {
            items: Vec<serde::de::IgnoredAny>,
        }
        return serde_json::from_slice::<Skim>(doc).map_or(0, |s| s.items.len());
    }
    let mut reader = quick_xml::Reader::from_reader(doc);
    let mut buf = Vec::new();
    let mut items = 0;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::Start(e))
                if matches!(e.local_name().into_inner(), "item" | "entry") =>
            {
                items += 1
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
        buf.clear();
    }
    items
}

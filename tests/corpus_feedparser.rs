//! Corpus harness: `relais::parse::parse` over every .xml/.json file of feedparser's test
//! corpus (`$RELAIS_SHARED/corpus/feedparser` and `feedparser-v6.0.14-only`), each on its
//! own thread with a 5 s limit. It prints how many files parsed, the errors by kind, and
//! the share of well-formed files that parse; it fails on any panic (contained or not), any
//! hang, or a well-formed share under 95 %.
//!
//! Ignored by default (it reads ~2,250 files); RELAIS_CORPUS_VERBOSE=1 lists every error:
//! `RELAIS_SHARED=/path/to/shared cargo test --release --test corpus_feedparser -- --ignored --nocapture`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use relais::parse::{parse, ParseError};

const LIMIT: Duration = Duration::from_secs(5);
const TARGET_WELLFORMED: f64 = 0.95;

fn shared_dir() -> PathBuf {
    std::env::var_os("RELAIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("xml" | "json")
        ) {
            out.push(path);
        }
    }
}

/// feedparser's test files carry the HTTP headers they are served with in their comment
/// (`Header: Content-type: text/xml; charset=…`); the charset takes part in decoding.
fn content_type(bytes: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(bytes.get(..bytes.len().min(2048)).unwrap_or_default())
        .into_owned();
    head.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("Header:")?.trim();
        let (name, value) = rest.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-type")
            .then(|| value.trim().to_string())
    })
}

enum Outcome {
    Ok,
    Err(String, String),
    Panic(String),
    Hang,
}

fn run_one(path: &Path) -> Outcome {
    let Ok(bytes) = std::fs::read(path) else {
        return Outcome::Err("unreadable".into(), String::new());
    };
    let ct = content_type(&bytes);
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("corpus-file".into())
        .spawn(move || {
            let result = std::panic::catch_unwind(|| parse(&bytes, ct.as_deref()));
            let _ = tx.send(result);
        });
    if spawned.is_err() {
        return Outcome::Err("thread".into(), "could not start a thread".into());
    }
    match rx.recv_timeout(LIMIT) {
        Ok(Ok(Ok(_))) => Outcome::Ok,
        Ok(Ok(Err(ParseError::Panicked(msg)))) => Outcome::Panic(msg),
        Ok(Ok(Err(e))) => {
            let kind = match &e {
                ParseError::Empty => "empty",
                ParseError::NotAFeed(_) => "not a feed",
                ParseError::Malformed(_) => "malformed",
                ParseError::TooDeep(_) => "too deep",
                ParseError::Panicked(_) => "panicked",
            };
            Outcome::Err(kind.to_string(), e.to_string())
        }
        Ok(Err(_)) => Outcome::Panic("escaped catch_unwind in parse".into()),
        Err(mpsc::RecvTimeoutError::Timeout) => Outcome::Hang,
        Err(mpsc::RecvTimeoutError::Disconnected) => Outcome::Panic("thread died".into()),
    }
}

#[test]
#[ignore = "reads the whole feedparser corpus; run with --ignored"]
fn feedparser_corpus() {
    let shared = shared_dir();
    let roots = [
        shared.join("corpus/feedparser"),
        shared.join("corpus/feedparser-v6.0.14-only"),
    ];
    if !roots[0].is_dir() {
        println!(
            "skipped: no feedparser corpus at {} (set RELAIS_SHARED)",
            roots[0].display()
        );
        return;
    }
    let mut files = Vec::new();
    for root in &roots {
        walk(root, &mut files);
    }

    let (mut ok, mut panics, mut hangs) = (0usize, Vec::new(), Vec::new());
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let (mut wf_total, mut wf_ok) = (0usize, 0usize);
    let mut wf_failures: Vec<(String, String)> = Vec::new();
    // RELAIS_CORPUS_VERBOSE=1 also lists the errors on files not expected to be well-formed.
    let verbose = std::env::var_os("RELAIS_CORPUS_VERBOSE").is_some();
    for path in &files {
        let rel = path
            .strip_prefix(&shared)
            .unwrap_or(path)
            .display()
            .to_string();
        let wellformed = rel.contains("/wellformed/")
            && !rel.contains("/illformed/")
            && !path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("bozo_"));
        let outcome = run_one(path);
        if wellformed {
            wf_total += 1;
        }
        match outcome {
            Outcome::Ok => {
                ok += 1;
                if wellformed {
                    wf_ok += 1;
                }
            }
            Outcome::Err(kind, message) => {
                *errors.entry(kind).or_default() += 1;
                if wellformed {
                    wf_failures.push((rel, message));
                } else if verbose {
                    println!("  error: {rel}: {message}");
                }
            }
            Outcome::Panic(msg) => panics.push(format!("{rel}: {msg}")),
            Outcome::Hang => hangs.push(rel),
        }
    }

    let share = if wf_total == 0 {
        1.0
    } else {
        wf_ok as f64 / wf_total as f64
    };
    println!("files:        {}", files.len());
    println!("parsed ok:    {ok}");
    for (kind, n) in &errors {
        println!("error {kind:<12} {n}");
    }
    println!("panics:       {}", panics.len());
    println!("hangs:        {}", hangs.len());
    println!(
        "wellformed:   {wf_ok}/{wf_total} parse ({:.1} %)",
        share * 100.0
    );
    for (rel, message) in &wf_failures {
        println!("  wellformed failure: {rel}: {message}");
    }
    for p in &panics {
        println!("  panic: {p}");
    }
    for h in &hangs {
        println!("  hang: {h}");
    }
    assert!(panics.is_empty(), "{} files panicked", panics.len());
    assert!(hangs.is_empty(), "{} files hung", hangs.len());
    assert!(
        share >= TARGET_WELLFORMED,
        "only {:.1} % of well-formed files parse",
        share * 100.0
    );
}

/// Mutated corpus files (truncated, bytes flipped or cut, markup and multi-byte snippets
/// spliced in) must never make the parser panic, not even a contained panic in feed-rs.
/// Seeded, so a failure reproduces; RELAIS_FUZZ_SEED and RELAIS_FUZZ_ROUNDS vary it. Run it
/// without --release too: repair's debug assertion on edit order is then checked as well.
#[test]
#[ignore = "reads the whole feedparser corpus; run with --ignored"]
fn mutated_corpus_never_panics() {
    let shared = shared_dir();
    let mut files = Vec::new();
    walk(&shared.join("corpus"), &mut files);
    if files.is_empty() {
        println!(
            "skipped: no corpus under {} (set RELAIS_SHARED)",
            shared.display()
        );
        return;
    }
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let mut rng = fastrand::Rng::with_seed(env("RELAIS_FUZZ_SEED", 7));
    let rounds = env("RELAIS_FUZZ_ROUNDS", 20);
    let snippets: [&[u8]; 16] = [
        b"<",
        b"&",
        b"\"",
        b"\0",
        b"\xC3",
        b"]]>",
        b"<!--",
        b"<![CDATA[",
        b"&eacute;",
        b"<!DOCTYPE x [",
        b"\xff\xfe",
        b"</",
        b"/>",
        b"\xc2\xab",
        b"@",
        b"<item>",
    ];
    let (mut runs, mut panics) = (0usize, Vec::new());
    for path in &files {
        let Ok(original) = std::fs::read(path) else {
            continue;
        };
        for _ in 0..rounds {
            let mut bytes = original.clone();
            for _ in 0..rng.usize(1..4) {
                if bytes.is_empty() {
                    break;
                }
                let at = rng.usize(0..bytes.len());
                match rng.u8(0..4) {
                    0 => bytes.truncate(at),
                    1 => {
                        let s = snippets[rng.usize(0..snippets.len())];
                        bytes.splice(at..at, s.iter().copied());
                    }
                    2 => {
                        if let Some(b) = bytes.get_mut(at) {
                            *b = rng.u8(..);
                        }
                    }
                    _ => {
                        let end = (at + rng.usize(0..50)).min(bytes.len());
                        bytes.drain(at..end);
                    }
                }
            }
            runs += 1;
            match std::panic::catch_unwind(|| parse(&bytes, None)) {
                Ok(Err(ParseError::Panicked(msg))) => {
                    panics.push(format!("{}: {msg}", path.display()))
                }
                Err(_) => panics.push(format!("{}: escaped catch_unwind", path.display())),
                Ok(_) => {}
            }
        }
    }
    println!("mutated documents: {runs}, panics: {}", panics.len());
    for p in &panics {
        println!("  panic: {p}");
    }
    assert!(
        panics.is_empty(),
        "{} mutated documents panicked",
        panics.len()
    );
}

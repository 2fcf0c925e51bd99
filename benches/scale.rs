//! Builds a large store for the scale figures of bench/scale.sh (issue 8, figure e): by
//! default 1,000,000 items from 10,000 sources, written through the library rather than
//! a million HTTP fetches: the synthetic network is written as a `relais backup` file
//! (items, source states, stories: ~5 % of items cross-posts sharing a story) and loaded
//! with `Store::restore`, which writes every record and index entry (story index
//! included) as ingest does, but takes the stories from the file instead of matching
//! each item (matching cost is figure f, bench/STORIES.md). Items are synthetic French
//! news (skeletons filled with words of an 8,000-word vocabulary drawn by the
//! Zipf–Mandelbrot law, as in benches/stories.rs), published over the year before
//! 2026-11-25, each source's state saying its next poll is a year away (so a daemon
//! started on the store serves it without polling). Deterministic (seeded).
//!
//!     RELAIS_SCALE_STORE=bench/out/scale/store cargo bench --bench scale
//!
//! Knobs: `RELAIS_SCALE_ITEMS` (1000000), `RELAIS_SCALE_SOURCES` (10000). Prints the
//! build time, items per second and the store's size; the store is left in place.
//! `RELAIS_SCALE_PARK=1` instead marks the sources of an existing store as not due for a
//! year (see `park`).

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use relais::model::{Item, SourceState};
use relais::store::Store;

const KINDS: &[&str] = &[
    "Journée d’échanges",
    "Webinaire",
    "Formation",
    "Appel à projets",
    "Rencontre régionale",
    "Publication",
    "Atelier",
    "Colloque",
];
const TOPICS: &[&str] = &[
    "coopération décentralisée",
    "développement local",
    "solidarité internationale",
    "transition agricole",
    "eau et assainissement",
    "tiers-lieux ruraux",
    "jumelage",
    "mobilité des jeunes",
];
const PLACES: &[&str] = &[
    "Lyon", "Grenoble", "Reims", "Dakar", "Bamako", "Cotonou", "Niamey", "Roanne", "Valence",
];
#[path = "common/vocabulary.rs"]
mod vocabulary;
use vocabulary::{filler, pick, Vocabulary};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let total = env_usize("RELAIS_SCALE_ITEMS", 1_000_000);
    let sources = env_usize("RELAIS_SCALE_SOURCES", 10_000).max(1);
    let path = std::env::var_os("RELAIS_SCALE_STORE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("bench/out/scale/store"));
    if std::env::var_os("RELAIS_SCALE_PARK").is_some() {
        park(&path, sources);
        return;
    }
    if path.exists() {
        eprintln!("{} exists: remove it first", path.display());
        std::process::exit(1);
    }
    // The backup is streamed to the restore: a 1M-item file would take 1.6 GB of disk.
    let (sender, receiver) = std::sync::mpsc::sync_channel(64);
    let start = Instant::now();
    let generator = std::thread::spawn(move || write_backup(ChunkWriter(sender), total, sources));
    let reader = ChunkReader {
        receiver,
        chunk: Vec::new(),
        at: 0,
    };
    let restored = Store::open(&path).and_then(|store| {
        let stats = store.restore(&mut std::io::BufReader::with_capacity(1 << 20, reader))?;
        store.flush()?;
        Ok((stats, store.size_on_disk()?))
    });
    let written = match generator.join() {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => {
            eprintln!("generating the backup: {e}");
            std::process::exit(1);
        }
        Err(_) => {
            eprintln!("the backup generator panicked");
            std::process::exit(1);
        }
    };
    let (stats, disk) = match restored {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let secs = start.elapsed().as_secs_f64();
    println!(
        "scale store: {written} items, {sources} sources: generated and stored in {secs:.1} s ({:.0} items/s; {stats}); sled size_on_disk {disk} bytes ({} per item)",
        written as f64 / secs,
        disk / written.max(1) as u64
    );
}

/// The writing end of the stream between the generator and the restore.
struct ChunkWriter(std::sync::mpsc::SyncSender<Vec<u8>>);

impl std::io::Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .send(buf.to_vec())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "restore stopped"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The reading end: chunks in the order written, end of input when the writer is gone.
struct ChunkReader {
    receiver: std::sync::mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.chunk.len() {
            match self.receiver.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let rest = self.chunk.get(self.at..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
}

/// Marks every source of an existing scale store as failing until a year from now, so
/// that a daemon started on it does not poll them (a healthy source is polled within
/// seconds of a start): its start-up, memory and rendering are then measured alone.
fn park(path: &std::path::Path, sources: usize) {
    let now = Utc::now();
    let parked = Store::open(path).and_then(|store| {
        for s in 0..sources {
            let id = format!("s{s:05}");
            let mut state = store.source_state(&id)?.unwrap_or_default();
            state.id = id;
            state.failures = state.failures.max(1);
            state.failing_since = Some(now);
            state.last_error = Some("parked by benches/scale.rs: not polled".to_string());
            state.next_poll = Some(now + Duration::days(365));
            store.save_source_state(&state)?;
        }
        Ok(())
    });
    if let Err(e) = parked {
        eprintln!("{e}");
        std::process::exit(1);
    }
    println!("scale store: {sources} sources parked (next poll in a year)");
}

/// Writes the synthetic network as a `relais backup` file: items, source states, then
/// one story per item except ~5 % cross-posts, which join the story of the item before
/// them. Returns the number of items.
fn write_backup(out: impl std::io::Write, total: usize, sources: usize) -> std::io::Result<usize> {
    use std::io::Write;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    let mut rng = fastrand::Rng::with_seed(20_261_125);
    let vocab = Vocabulary::new(8_000, &mut rng);
    let now: DateTime<Utc> = Utc
        .with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
        .single()
        .unwrap_or_default();
    let json = |v: &serde_json::Value| serde_json::to_string(v).unwrap_or_default();
    writeln!(
        out,
        "{}",
        json(
            &serde_json::json!({"relais_backup": 1, "schema": relais::store::SCHEMA_VERSION, "created": now})
        )
    )?;
    let per_source = total.div_ceil(sources);
    let mut refs: Vec<(String, String)> = Vec::with_capacity(total);
    for s in 0..sources {
        let source = format!("s{s:05}");
        let n = per_source.min(total - refs.len());
        for i in 0..n {
            let about = format!("{} {}", vocab.zipf(&mut rng), vocab.zipf(&mut rng));
            let title = format!(
                "{} : {}, {about} à {}",
                pick(&mut rng, KINDS),
                pick(&mut rng, TOPICS),
                pick(&mut rng, PLACES)
            );
            let summary = format!("{about} {}.", filler(&vocab, &mut rng, 24));
            let more = filler(&vocab, &mut rng, 30);
            let published = now - Duration::minutes(rng.i64(60..365 * 24 * 60));
            let url = format!("https://{source}.example.org/actualites/{i}");
            let item = Item {
                id: format!("{source}-{i}"),
                source: Some(source.clone()),
                url: Some(url.clone()),
                canonical_url: Some(url),
                content_html: Some(format!("<p>{summary}</p><p>{more}.</p>")),
                title,
                summary,
                published,
                updated: None,
                authors: vec![format!("Partenaire {s}")],
                categories: vec![pick(&mut rng, TOPICS).to_string()],
                lang: Some("fr".to_string()),
                enclosures: Vec::new(),
                published_guessed: false,
                content_hash: format!("{:016x}{:016x}", rng.u64(..), rng.u64(..)),
            };
            let line = serde_json::json!({"type": "item", "first_seen": published, "item": item});
            writeln!(out, "{}", json(&line))?;
            refs.push((source.clone(), item.id));
        }
        let state = SourceState {
            id: source.clone(),
            last_poll: Some(now),
            last_success: Some(now),
            last_status: Some(200),
            // A year away: a daemon started on this store serves it without polling.
            next_poll: Some(now + Duration::days(365)),
            feed_title: Some(format!("Partenaire {s}")),
            ..SourceState::default()
        };
        let line = serde_json::json!({"type": "source_state", "state": state});
        writeln!(out, "{}", json(&line))?;
    }
    let mut story = 0u64;
    let mut members: Vec<serde_json::Value> = Vec::new();
    for (source, id) in &refs {
        let cross_post = !members.is_empty() && rng.f32() < 0.05;
        if !cross_post && !members.is_empty() {
            story += 1;
            let line = serde_json::json!({"type": "story", "id": story, "members": members});
            writeln!(out, "{}", json(&line))?;
            members.clear();
        }
        let rule = if cross_post { "text" } else { "primary" };
        members.push(serde_json::json!({"source": source, "id": id, "rule": rule}));
    }
    if !members.is_empty() {
        let line = serde_json::json!({"type": "story", "id": story + 1, "members": members});
        writeln!(out, "{}", json(&line))?;
    }
    out.flush()?;
    Ok(refs.len())
}

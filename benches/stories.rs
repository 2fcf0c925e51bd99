//! Cost of stories as the store grows: synthetic news (event announcements, project
//! news, publications on French skeletons — dates, towns, partners — filled with words
//! of an 8,000-word vocabulary drawn by the Zipf–Mandelbrot law; ~5 % cross-posted by another partner
//! in other words a few days later) at 50 items a day from 40 partners, ingested into stores of 10k,
//! 100k and 1M items through the real `apply_poll` (matching included); then 2,000 more
//! items, one poll per partner per day, timed. Reports, per new item: the whole ingest
//! (matching, transaction, flush), matching alone (a dry run on the same items), the
//! stored items each was compared with; and the story trees' bytes per item. Deterministic
//! (seeded); run with
//!
//!     cargo bench --bench stories                  # 10k, 100k, 1M
//!     RELAIS_BENCH_SIZES=10000,100000 cargo bench --bench stories
//!
//! Stores are built in `$RELAIS_BENCH_DIR` (default: the system's temporary folder) and
//! removed afterwards. `RELAIS_BENCH_PAIRS=FILE` also writes the first 200 synthetic
//! cross-posts (and 199 unrelated pairs) for `relais dedup-eval`; `RELAIS_BENCH_SAMPLE=1`
//! prints a few items. Results and figures: bench/STORIES.md.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use relais::model::{Item, SourceState};
use relais::store::{Store, StoreOptions};

const PER_DAY: usize = 50;
const PARTNERS: usize = 40;
const MEASURED: usize = 2_000;
/// Distinct words of the synthetic network.
const VOCABULARY: usize = 8_000;

const CITIES: &[&str] = &[
    "Lyon",
    "Grenoble",
    "Clermont-Ferrand",
    "Valence",
    "Chambéry",
    "Roanne",
    "Bourg-en-Bresse",
    "Annecy",
    "Aurillac",
    "Die",
    "Privas",
    "Mâcon",
    "Dijon",
    "Besançon",
    "Nancy",
    "Reims",
    "Orléans",
    "Tours",
    "Bourges",
    "Poitiers",
    "Limoges",
    "Toulouse",
    "Montpellier",
    "Marseille",
    "Nantes",
    "Rennes",
    "Lille",
    "Paris",
    "Bordeaux",
    "Auch",
    "Ouagadougou",
    "Dakar",
    "Bamako",
    "Kayes",
    "Niamey",
    "Cotonou",
    "Lomé",
    "Antananarivo",
    "Tiznit",
    "Sfax",
    "Jacmel",
    "Cusco",
    "Cuenca",
    "Koudougou",
    "Ziguinchor",
];

const EVENTS: &[(&str, &str)] = &[
    ("journée d’étude", "une"),
    ("atelier", "un"),
    ("webinaire", "un"),
    ("formation", "une"),
    ("séminaire", "un"),
    ("rencontre régionale", "une"),
    ("conférence", "une"),
    ("table ronde", "une"),
    ("matinée d’échanges", "une"),
];

const MONTHS: &[&str] = &[
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

const WEEKDAYS: &[&str] = &[
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];

fn partner(i: usize) -> String {
    format!("partenaire-{i:02}")
}

#[path = "common/vocabulary.rs"]
mod vocabulary;
use vocabulary::{filler, pick, Vocabulary};

/// The facts of one announcement, so that a cross-post can say the same in other words.
#[derive(Clone)]
struct Facts {
    kind: u8,
    topic: [String; 4],
    /// What the announcement says, beyond its topic: both versions use most of it.
    body: Vec<String>,
    city: &'static str,
    event: (&'static str, &'static str),
    date: DateTime<Utc>,
    count: u32,
    org: String,
}

fn facts(
    rng: &mut fastrand::Rng,
    vocab: &Vocabulary,
    published: DateTime<Utc>,
    org: &str,
) -> Facts {
    let event = EVENTS
        .get(rng.usize(..EVENTS.len()))
        .copied()
        .unwrap_or(("atelier", "un"));
    Facts {
        kind: rng.u8(..3),
        topic: [(); 4].map(|_| vocab.topical(rng).to_string()),
        body: (0..10).map(|_| vocab.zipf(rng).to_string()).collect(),
        city: pick(rng, CITIES),
        event,
        date: published + Duration::days(rng.i64(7..60)),
        count: rng.u32(5..400),
        org: org.to_string(),
    }
}

fn day_month(d: DateTime<Utc>) -> String {
    let month = MONTHS.get(d.month0() as usize).copied().unwrap_or("mai");
    format!("{} {month}", d.day())
}

/// The announcement as its author writes it (`rewrite`: as another partner relays it,
/// in other words around the same facts).
fn text(f: &Facts, rewrite: bool, vocab: &Vocabulary, rng: &mut fastrand::Rng) -> (String, String) {
    let when = day_month(f.date);
    let weekday = WEEKDAYS
        .get(f.date.weekday().num_days_from_monday() as usize)
        .copied()
        .unwrap_or("jeudi");
    let (event, article) = f.event;
    let [t0, t1, t2, t3] = &f.topic;
    // Each version says seven of the ten things, in its own order, among its own words.
    let mut said: Vec<&str> = f.body.iter().map(String::as_str).collect();
    rng.shuffle(&mut said);
    said.truncate(7);
    let said = said.join(" ");
    let mut fill = |n: usize| filler(vocab, rng, n);
    let (title, summary) = match (f.kind, rewrite) {
        (0, false) => (
            format!("{} « {t0} {t1} » le {when} à {}", capital(event), f.city),
            format!(
                "Le {weekday} {when} {}, {} {t2} à {} : {article} {event} {} {t3}. {}.",
                f.date.year(),
                fill(6),
                f.city,
                fill(8),
                fill(6)
            ),
        ),
        (0, true) => (
            format!("{} : {article} {event} sur {t0} avec {}", f.city, f.org),
            format!(
                "{} {} {t1} le {weekday} {when} à {} {} {t2}. {}.",
                f.org,
                fill(5),
                f.city,
                fill(7),
                fill(5)
            ),
        ),
        (1, false) => (
            format!("{} : {} {t0} {t1}", f.city, f.count),
            format!(
                "{} {} {t2} {} {} à {} en {}. {t3} {}.",
                capital(&fill(4)),
                f.count,
                fill(8),
                fill(3),
                f.city,
                f.date.year(),
                fill(7)
            ),
        ),
        (1, true) => (
            format!(
                "{} {t1} : le bilan de {} {t0}",
                capital(&f.city.to_lowercase()),
                f.count
            ),
            format!(
                "{} présente {} {} {t0} {t2} à {} : {}.",
                f.org,
                fill(4),
                f.count,
                f.city,
                fill(9)
            ),
        ),
        (_, false) => (
            format!("Parution : {t0} {t1} et {t2}",),
            format!(
                "{} {} pages {t3} {} {t0}, {}. Téléchargement libre.",
                capital(&fill(5)),
                f.count,
                fill(7),
                fill(5)
            ),
        ),
        (_, true) => (
            format!("À lire : {t0} et {t2} selon {}", f.org),
            format!(
                "{} publie {} pages sur {t1} {t0} : {}.",
                f.org,
                f.count,
                fill(10)
            ),
        ),
    };
    (title, format!("{summary} {}.", capital(&said)))
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn item(source: &str, n: u64, title: String, summary: String, published: DateTime<Utc>) -> Item {
    let url = format!("https://{source}.example.org/actualites/{n}");
    Item {
        id: format!("{source}-{n}"),
        source: Some(source.to_string()),
        url: Some(url.clone()),
        canonical_url: Some(url),
        title,
        summary,
        content_html: None,
        published,
        updated: None,
        authors: Vec::new(),
        categories: Vec::new(),
        lang: Some("fr".to_string()),
        enclosures: Vec::new(),
        published_guessed: false,
        content_hash: format!("h{n}"),
    }
}

/// Generates the network's news day after day.
struct Network {
    rng: fastrand::Rng,
    vocab: Vocabulary,
    day: DateTime<Utc>,
    next: u64,
    /// Cross-posts waiting for their day: (day index, partner, facts, original).
    pending: BTreeMap<i64, Vec<(usize, Facts, Item)>>,
    days: i64,
    /// The first cross-posts made, with their originals.
    pairs: Vec<(Item, Item)>,
}

impl Network {
    fn new(start: DateTime<Utc>) -> Network {
        let mut rng = fastrand::Rng::with_seed(42);
        let vocab = Vocabulary::new(VOCABULARY, &mut rng);
        Network {
            rng,
            vocab,
            day: start,
            next: 0,
            pending: BTreeMap::new(),
            days: 0,
            pairs: Vec::new(),
        }
    }

    /// One day of news, by partner.
    fn day(&mut self) -> BTreeMap<usize, Vec<Item>> {
        let mut out: BTreeMap<usize, Vec<Item>> = BTreeMap::new();
        // (partner, facts, the original when this is a cross-post, a cross-post to plan)
        type Todo = (usize, Facts, Option<Item>, Option<(usize, i64)>);
        let mut todays: Vec<Todo> = Vec::new();
        for (p, f, original) in self.pending.remove(&self.days).unwrap_or_default() {
            todays.push((p, f, Some(original), None));
        }
        while todays.len() < PER_DAY {
            let p = self.rng.usize(..PARTNERS);
            let published = self.day + Duration::minutes(self.rng.i64(0..1440));
            let f = facts(
                &mut self.rng,
                &self.vocab,
                published,
                &format!("Partenaire {p:02}"),
            );
            let relay = (self.rng.f32() < 0.05).then(|| {
                let other = (p + 1 + self.rng.usize(..PARTNERS - 1)) % PARTNERS;
                (other, self.days + self.rng.i64(1..8))
            });
            todays.push((p, f, None, relay));
        }
        for (p, f, original, relay) in todays {
            let (title, summary) = text(&f, original.is_some(), &self.vocab, &mut self.rng);
            let published = self.day + Duration::minutes(self.rng.i64(0..1440));
            self.next += 1;
            let it = item(&partner(p), self.next, title, summary, published);
            if let Some((other, later)) = relay {
                self.pending
                    .entry(later)
                    .or_default()
                    .push((other, f, it.clone()));
            }
            if let Some(original) = original {
                if self.pairs.len() < 200 {
                    self.pairs.push((original, it.clone()));
                }
            }
            out.entry(p).or_default().push(it);
        }
        self.day += Duration::days(1);
        self.days += 1;
        out
    }
}

/// Writes the first cross-posts (and as many pairs of unrelated items of the same
/// days) in the format of `relais dedup-eval`, to check that the synthetic cross-posts
/// are found and nothing else is.
fn write_pairs(path: &std::path::Path, pairs: &[(Item, Item)]) {
    let side = |it: &Item| {
        serde_json::json!({
            "source": it.source, "title": it.title, "summary": it.summary,
            "url": it.url, "published": it.published.to_rfc3339(),
        })
    };
    let mut text = String::new();
    for (a, b) in pairs {
        text.push_str(&format!(
            "{}\n",
            serde_json::json!({"a": side(a), "b": side(b), "same": true, "kind": "cross_post"})
        ));
    }
    for w in pairs.windows(2) {
        if let [(a, _), (_, b)] = w {
            text.push_str(&format!(
                "{}\n",
                serde_json::json!({"a": side(a), "b": side(b), "same": false, "kind": "unrelated"})
            ));
        }
    }
    if let Err(e) = std::fs::write(path, text) {
        eprintln!("{}: {e}", path.display());
    }
}

fn poll(store: &Store, p: usize, items: Vec<Item>, now: DateTime<Utc>) {
    let state = SourceState {
        id: partner(p),
        ..SourceState::default()
    };
    if let Err(e) = store.apply_poll(&state, items, now) {
        eprintln!("poll failed: {e}");
        std::process::exit(1);
    }
}

fn run(size: usize) {
    let base = std::env::var_os("RELAIS_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!(
        "relais-bench-stories-{size}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let store = match Store::open_with(&dir.join("db"), &StoreOptions::default()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return;
        }
    };
    let end = Utc
        .with_ymd_and_hms(2026, 11, 25, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let days = (size / PER_DAY) as i64;
    let mut net = Network::new(end - Duration::days(days));

    // Build: ten days at a time, one poll per partner (fewer flushes, same matching).
    let started = Instant::now();
    let mut stored = 0;
    while stored < size {
        let mut block: BTreeMap<usize, Vec<Item>> = BTreeMap::new();
        for _ in 0..10 {
            for (p, items) in net.day() {
                block.entry(p).or_default().extend(items);
            }
        }
        let before = stored / 100_000;
        for (p, items) in block {
            stored += items.len();
            poll(&store, p, items, net.day);
        }
        if stored / 100_000 > before {
            eprintln!(
                "  … {stored} items stored in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let built = started.elapsed();

    // Measure: the next days' news, one poll per partner per day.
    let mut new_items: Vec<(usize, Vec<Item>)> = Vec::new();
    let mut count = 0;
    while count < MEASURED {
        for (p, items) in net.day() {
            count += items.len();
            new_items.push((p, items));
        }
    }
    if let Some(path) = std::env::var_os("RELAIS_BENCH_PAIRS") {
        write_pairs(std::path::Path::new(&path), &net.pairs);
    }
    if std::env::var_os("RELAIS_BENCH_SAMPLE").is_some() {
        for (_, items) in new_items.iter().take(4) {
            for it in items {
                println!("  {} | {}\n    {}", it.id, it.title, it.summary);
            }
        }
    }
    // Day by day: matching alone (a dry run), then the real ingest, one poll per
    // partner, so that each day's items are matched against the days before.
    let mut compared = 0;
    let mut joined = 0;
    let mut matching = std::time::Duration::ZERO;
    let mut ingest = std::time::Duration::ZERO;
    for (p, items) in new_items {
        let started = Instant::now();
        for it in &items {
            match store.preview_story(it) {
                Ok(p) => {
                    compared += p.compared;
                    joined += usize::from(p.story.is_some());
                }
                Err(e) => eprintln!("{e}"),
            }
        }
        matching += started.elapsed();
        let started = Instant::now();
        poll(&store, p, items, net.day);
        ingest += started.elapsed();
    }

    let total = store.count_items(None).unwrap_or_default();
    let footprint = store.story_footprint().unwrap_or_default();
    let disk = store.size_on_disk().unwrap_or_default();
    let stories = store.count_stories();
    let per = |d: std::time::Duration| d.as_secs_f64() * 1e6 / count as f64;
    println!(
        "{size:>8} items: built in {:.0} s; {} new items: {:.0} µs each to ingest \
         (matching alone {:.0} µs, compared with {:.1} stored items); story trees {:.0} B/item \
         (index {:.0}, stories {:.0}, item→story {:.0}); {} stories, {:.1} % of new items \
         joined one; disk {:.0} B/item",
        built.as_secs_f64(),
        count,
        per(ingest),
        per(matching),
        compared as f64 / count as f64,
        footprint.bytes() as f64 / total as f64,
        footprint.index.1 as f64 / total as f64,
        footprint.stories.1 as f64 / total as f64,
        footprint.item_story.1 as f64 / total as f64,
        stories,
        100.0 * joined as f64 / count as f64,
        disk as f64 / total as f64,
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let sizes: Vec<usize> = std::env::var("RELAIS_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    for size in sizes {
        run(size);
    }
}

//! Crash safety of the store: a kill -9 harness.
//!
//! A worker process runs a seeded workload against a real sled store through relais's
//! public store API — polls (items, their stories, the source state), failed polls,
//! operators' story splits and merges, curation actions, digest ledger steps — and prints each step on
//! stdout before it starts (`BEGIN`) and once the store call has returned Ok (`ACK`):
//! relais flushes before returning, so an acknowledged step is durable. The parent
//! SIGKILLs the worker at a random moment (seeded), then a verifier — a new process —
//! reopens the store and checks that:
//! - it opens, and [`Store::verify`] passes (every index and counter agrees with the
//!   records, every story with its members, the digest ledger with its archive);
//! - its whole logical content (the backup, which names everything by source and item
//!   id) equals a reference store that replayed exactly the acknowledged steps, or those
//!   plus the one step in flight: every acknowledged step is there, and the step the
//!   kill interrupted is all there or not at all (a poll's items, indexes, stories and
//!   state; a merge's story records; a ledger entry and its archived issue).
//!
//! The reference lives beside the store and is never killed. Iterations are cumulative:
//! the next worker continues on the store the last one left, so recovery runs on a store
//! that has been through every earlier crash, and grows (sled's trees split, its log
//! wraps) — where a recovery bug would hide. A failure is reported with its seed and
//! iteration; the run then starts a fresh store so that the remaining iterations still
//! count.
//!
//! `cargo test --test crash` runs a short round (10 iterations); the full run is
//! `cargo test --release --test crash -- --iterations 200 --seed 1` (ROBUSTNESS.md has
//! the figures). This binary is its own harness (`harness = false`): the roles are
//! chosen by `RELAIS_CRASH_ROLE`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use relais::curate::Action;
use relais::model::{Item, SourceState};
use relais::normalise::{self, Context};
use relais::store::{ArchivedIssue, ItemQuery, LedgerEntry, LedgerState, Store};
use serde::{Deserialize, Serialize};

const ROLE: &str = "RELAIS_CRASH_ROLE";
const STORE: &str = "RELAIS_CRASH_STORE";
const REFERENCE: &str = "RELAIS_CRASH_REFERENCE";
const FIRST_OP: &str = "RELAIS_CRASH_FIRST_OP";
const SEED: &str = "RELAIS_CRASH_SEED";
const OPS: &str = "RELAIS_CRASH_OPS";

const SOURCES: [&str; 4] = ["ifradel", "territoires", "confluences", "valmont"];
const DIGEST: &str = "hebdo";
/// Workload time: op `n` happens at `T0 + 5n minutes`; items are published before `T0`.
const T0: i64 = 1_764_000_000;

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("worker") => worker(),
        Ok("verifier") => verifier(),
        _ => parent(),
    }
}

// ---------------------------------------------------------------------------------
// The workload: steps, and how each is applied to a store (the worker's and the
// reference's alike).
// ---------------------------------------------------------------------------------

/// One step of the workload, with everything needed to replay it exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Op {
    /// A successful poll: items generated from `seed`, applied with `apply_poll`.
    Poll { source: String, seed: u64 },
    /// A failed poll: only the source state changes (`save_source_state`).
    Fail { source: String },
    /// `relais stories merge`.
    Merge { a: ItemRef, b: ItemRef },
    /// `relais stories split`.
    Split { item: ItemRef },
    /// One step of the digest ledger for `period`.
    Ledger { period: String, step: Step },
    /// An operator's curation action on the story of `item` (`Store::curate`).
    Curate { item: ItemRef, action: Action },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ItemRef {
    source: String,
    id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Step {
    /// Composed and frozen: a new entry, `planned`.
    Plan,
    /// Nothing to send: a new entry, `empty`.
    Empty,
    /// A delivery attempt starts.
    Sending,
    /// The body is handed to the SMTP server.
    HandedOver,
    /// A transient error: back to `planned`, with a retry time.
    Retry,
    /// The server accepted it: entry `sent` and archived issue, one transaction.
    Sent,
    /// A permanent error.
    Fail,
}

/// A step and its number, as the worker announces it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Numbered {
    n: u64,
    op: Op,
}

fn time_of(n: u64) -> DateTime<Utc> {
    DateTime::from_timestamp(T0 + 300 * n as i64, 0).unwrap_or_default()
}

/// Titles shared across sources: item `k` of two sources tells the same story, which
/// makes story matching (and its index) part of every poll.
const TITLES: [&str; 8] = [
    "Appel à projets « Coopération décentralisée » 2026",
    "Assises régionales de la solidarité internationale à Lyon",
    "Formation : monter un projet d’eau et d’assainissement",
    "Rencontre des jumelages franco-burkinabè à Ouagadougou",
    "Lancement du fonds pour les initiatives rurales au Sénégal",
    "Webinaire : évaluer un partenariat entre collectivités",
    "Résultats de l’appel « Territoires solidaires »",
    "Journée d’étude sur le développement local à Madagascar",
];

/// The feed a poll of `source` fetched: a few entries out of a slowly growing id space,
/// each in one of three versions (an update changes the text, sometimes the date), run
/// through the real parse and normalise stages.
fn poll_items(source: &str, seed: u64, n: u64) -> Vec<Item> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let span = 24 + n / 40;
    let mut entries = String::new();
    for _ in 0..rng.usize(1..=6) {
        let k = rng.u64(0..span);
        let version = rng.u8(0..3);
        let title = TITLES[(k % TITLES.len() as u64) as usize];
        let round = k / TITLES.len() as u64;
        let hours = k as i64 * 7 + i64::from(version == 2);
        let published = DateTime::from_timestamp(T0 - 40 * 86_400 + hours * 3600, 0)
            .unwrap_or_default()
            .to_rfc2822();
        // Every third story has one canonical page that all partners link to.
        let link = if k % 3 == 0 {
            format!("https://commun.example.org/annonces/{k}")
        } else {
            format!("https://{source}.example.org/actualites/{k}")
        };
        entries.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{source}-{k}</guid><title>{title} (n° {round})</title>\
             <link>{link}</link><pubDate>{published}</pubDate>\
             <description>Le réseau {source} relaie l’annonce {k}, version {version} : \
             collectivités, associations et centres de formation sont invités.</description></item>"
        ));
    }
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>\
         <title>{source}</title><link>https://{source}.example.org/</link>\
         <language>fr</language>{entries}</channel></rss>"
    );
    let feed = match relais::parse::parse(xml.as_bytes(), None) {
        Ok(feed) => feed,
        Err(e) => panic!("the workload's own feed does not parse: {e}"),
    };
    let cx = Context {
        source: Some(source),
        document_url: None,
        default_lang: Some("fr"),
        now: time_of(n),
    };
    normalise::normalise(&feed, &cx)
}

/// Applies step `n` to `store`. Deterministic: the same step on two stores holding the
/// same data writes the same data.
fn apply(store: &Store, n: u64, op: &Op) -> Result<(), String> {
    let now = time_of(n);
    let e = |e: relais::store::StoreError| format!("step {n}: {e}");
    match op {
        Op::Poll { source, seed } => {
            let state = SourceState {
                id: source.clone(),
                etag: Some(format!("\"step-{n}\"")),
                last_poll: Some(now),
                last_status: Some(200),
                last_success: Some(now),
                ..SourceState::default()
            };
            store
                .apply_poll(&state, poll_items(source, *seed, n), now)
                .map_err(e)?;
        }
        Op::Fail { source } => {
            let mut state = store.source_state(source).map_err(e)?.unwrap_or_default();
            state.id = source.clone();
            state.last_poll = Some(now);
            state.last_status = Some(503);
            state.last_error = Some(format!("step {n}: http 503"));
            state.failures += 1;
            state.failing_since.get_or_insert(now);
            store.save_source_state(&state).map_err(e)?;
        }
        Op::Merge { a, b } => {
            store
                .merge_items((&a.source, &a.id), (&b.source, &b.id))
                .map_err(e)?;
        }
        Op::Split { item } => {
            store.split_item(&item.source, &item.id).map_err(e)?;
        }
        Op::Ledger { period, step } => ledger_step(store, n, period, *step).map_err(e)?,
        Op::Curate { item, action } => {
            let story = store
                .find_story(&format!("{}/{}", item.source, item.id))
                .map_err(e)?;
            store.curate(story, action, "crash", now).map_err(e)?;
        }
    }
    Ok(())
}

fn ledger_step(
    store: &Store,
    n: u64,
    period: &str,
    step: Step,
) -> Result<(), relais::store::StoreError> {
    let now = time_of(n);
    let mut entry = match step {
        Step::Plan | Step::Empty => {
            let state = if step == Step::Plan {
                LedgerState::Planned
            } else {
                LedgerState::Empty
            };
            let mut entry = LedgerEntry::new(DIGEST, period, state, now);
            entry.composed_at = Some(now);
            entry.due = Some(now);
            if step == Step::Plan {
                entry.stories = 3;
                entry.subject = Some(format!("La lettre du réseau — {period}"));
                entry.message_id = Some(format!("<{period}.{DIGEST}@relais.example.org>"));
                entry.message = Some(format!("Subject: {period}\r\n\r\nTrois annonces."));
                entry.html = Some(format!("<p>Lettre {period} : trois annonces.</p>"));
                entry.text = Some(format!("Lettre {period} : trois annonces."));
            }
            entry
        }
        _ => match store.digest_entry(DIGEST, period)? {
            Some(entry) => entry,
            None => {
                return Err(relais::store::StoreError::Other(format!(
                    "no ledger entry for {period}"
                )))
            }
        },
    };
    match step {
        Step::Plan | Step::Empty => {}
        Step::Sending => {
            entry.attempts += 1;
            entry.handed_over = false;
            let note = format!("attempt {}", entry.attempts);
            entry.step(LedgerState::Sending, now, Some(note));
        }
        Step::HandedOver => entry.handed_over = true,
        Step::Retry => {
            entry.handed_over = false;
            entry.error = Some("421 try again later".into());
            entry.retry_at = Some(now + chrono::Duration::hours(1));
            entry.step(LedgerState::Planned, now, entry.error.clone());
        }
        Step::Fail => {
            entry.error = Some("550 mailbox unavailable".into());
            entry.step(LedgerState::Failed, now, entry.error.clone());
        }
        Step::Sent => {
            entry.sent_at = Some(now);
            entry.error = None;
            entry.retry_at = None;
            entry.step(LedgerState::Sent, now, None);
            let issue = ArchivedIssue {
                digest: DIGEST.into(),
                period: period.into(),
                subject: entry.subject.clone().unwrap_or_default(),
                sent_at: now,
                message_id: entry.message_id.clone().unwrap_or_default(),
                stories: entry.stories,
                html: entry.html.clone().unwrap_or_default(),
                text: entry.text.clone().unwrap_or_default(),
            };
            return store.record_digest_sent(&entry, &issue);
        }
    }
    store.save_digest_entry(&entry)
}

/// The `k`-th period of the workload's digest: its key only has to sort in time order.
fn period(k: usize) -> String {
    format!("{}-W{:02}", 2026 + k / 52, k % 52 + 1)
}

/// Chooses step `n` from what the store holds now.
fn choose(store: &Store, rng: &mut fastrand::Rng) -> Result<Op, String> {
    let source = SOURCES[rng.usize(..SOURCES.len())].to_string();
    let roll = rng.u8(0..100);
    if roll < 20 {
        return next_ledger_step(store, rng);
    }
    if roll < 40 {
        let refs = recent_items(store)?;
        if roll < 30 && refs.len() >= 2 {
            let a = refs[rng.usize(..refs.len())].clone();
            let b = refs[rng.usize(..refs.len())].clone();
            if a != b {
                return Ok(Op::Merge { a, b });
            }
        } else if !refs.is_empty() {
            // Only an item with company can be split.
            for _ in 0..8 {
                let item = refs[rng.usize(..refs.len())].clone();
                let company = store
                    .appearances(&item.source, &item.id)
                    .map_err(|e| e.to_string())?
                    .is_some_and(|(_, also)| !also.is_empty());
                if company {
                    return Ok(Op::Split { item });
                }
            }
        }
    }
    if roll < 45 {
        return Ok(Op::Fail { source });
    }
    if roll < 55 {
        let refs = recent_items(store)?;
        if let Some(item) = refs.get(rng.usize(..refs.len().max(1))).cloned() {
            return Ok(Op::Curate {
                item,
                action: curation_action(rng),
            });
        }
    }
    Ok(Op::Poll {
        source,
        seed: rng.u64(..),
    })
}

/// The items an operator would act on: the newest ones.
fn recent_items(store: &Store) -> Result<Vec<ItemRef>, String> {
    let items = store
        .items(&ItemQuery {
            source: None,
            limit: Some(80),
        })
        .map_err(|e| e.to_string())?;
    Ok(items
        .into_iter()
        .map(|i| ItemRef {
            source: i.source.unwrap_or_default(),
            id: i.id,
        })
        .collect())
}

/// An operator's action, on one of two channels or everywhere.
fn curation_action(rng: &mut fastrand::Rng) -> Action {
    let channel = ["cooperation", "rural"][rng.usize(..2)].to_string();
    match rng.u8(0..8) {
        0 => Action::Pin {
            channel,
            until: None,
        },
        1 => Action::Unpin { channel },
        2 => Action::Hide { channel: None },
        3 => Action::Hide {
            channel: Some(channel),
        },
        4 => Action::Unhide { channel: None },
        5 => Action::Add { channel },
        6 => Action::Remove { channel },
        _ => Action::Edit {
            title: Some(format!("Titre revu par l’équipe n° {}", rng.u8(..))),
            summary: None,
        },
    }
}

fn next_ledger_step(store: &Store, rng: &mut fastrand::Rng) -> Result<Op, String> {
    let entries = store.digest_entries(DIGEST).map_err(|e| e.to_string())?;
    let (period, step) = match entries.last() {
        Some(last) if !last.state.is_final() => {
            let step = match last.state {
                LedgerState::Planned => Step::Sending,
                LedgerState::Sending if !last.handed_over && rng.u8(0..5) == 0 => Step::Retry,
                LedgerState::Sending if !last.handed_over => Step::HandedOver,
                _ if rng.u8(0..8) == 0 => Step::Fail,
                _ => Step::Sent,
            };
            (last.period.clone(), step)
        }
        _ => {
            let step = if rng.u8(0..5) == 0 {
                Step::Empty
            } else {
                Step::Plan
            };
            (period(entries.len()), step)
        }
    };
    Ok(Op::Ledger { period, step })
}

// ---------------------------------------------------------------------------------
// The worker: runs steps until it is killed.
// ---------------------------------------------------------------------------------

fn env_u64(name: &str) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| fail_child(&format!("{name} unset")))
}

fn env_path(name: &str) -> PathBuf {
    std::env::var_os(name)
        .map(PathBuf::from)
        .unwrap_or_else(|| fail_child(&format!("{name} unset")))
}

fn fail_child(message: &str) -> ! {
    println!("ERROR {message}");
    std::process::exit(3)
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // The parent reads lines as they come: each one goes out before the next step.
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(4);
    }
}

fn worker() -> ! {
    let path = env_path(STORE);
    let mut rng = fastrand::Rng::with_seed(env_u64(SEED));
    let store = Store::open(&path).unwrap_or_else(|e| fail_child(&format!("open: {e}")));
    say("READY");
    for n in env_u64(FIRST_OP).. {
        let op = choose(&store, &mut rng).unwrap_or_else(|e| fail_child(&e));
        let line = serde_json::to_string(&Numbered { n, op: op.clone() })
            .unwrap_or_else(|e| fail_child(&e.to_string()));
        say(&format!("BEGIN {line}"));
        if let Err(e) = apply(&store, n, &op) {
            fail_child(&e);
        }
        say(&format!("ACK {n}"));
    }
    std::process::exit(0)
}

// ---------------------------------------------------------------------------------
// The verifier: a new process after each kill.
// ---------------------------------------------------------------------------------

/// What the parent hands the verifier: the steps acknowledged since the last check, and
/// the one in flight when the worker was killed.
#[derive(Debug, Serialize, Deserialize)]
struct Check {
    acked: Vec<Numbered>,
    pending: Option<Numbered>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Verdict {
    /// Whether the step in flight was found written (`false` also when it writes
    /// nothing new); `None` when no step was in flight.
    pending_written: Option<bool>,
    items: u64,
    stories: u64,
    error: Option<String>,
}

fn verifier() -> ! {
    let verdict = match check_store() {
        Ok(v) => v,
        Err(error) => Verdict {
            error: Some(error),
            ..Verdict::default()
        },
    };
    let line = serde_json::to_string(&verdict).unwrap_or_default();
    say(&format!("RESULT {line}"));
    std::process::exit(0)
}

fn check_store() -> Result<Verdict, String> {
    let check: Check = std::fs::read(env_path(OPS))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))?;
    let store = Store::open(&env_path(STORE)).map_err(|e| format!("does not open: {e}"))?;
    let report = store.verify().map_err(|e| format!("verify fails: {e}"))?;
    let reference = Store::open(&env_path(REFERENCE)).map_err(|e| format!("reference: {e}"))?;
    for s in &check.acked {
        apply(&reference, s.n, &s.op).map_err(|e| format!("reference: {e}"))?;
    }
    let found = snapshot(&store)?;
    let without = snapshot(&reference)?;
    // Equal without the step in flight: it was not written (or writes nothing new).
    // Otherwise it must have been written whole.
    let pending_written = match (&check.pending, found == without) {
        (_, true) => check.pending.as_ref().map(|_| false),
        (None, false) => {
            return Err(format!(
                "the store differs from its acknowledged steps: {}",
                diff(&without, &found)
            ))
        }
        (Some(p), false) => {
            apply(&reference, p.n, &p.op).map_err(|e| format!("reference: {e}"))?;
            let with = snapshot(&reference)?;
            if found != with {
                return Err(format!(
                    "the store is neither its acknowledged steps nor those and step {} \
                     ({:?}):\n  against the acknowledged steps: {}\n  against them and step {}: {}",
                    p.n,
                    p.op,
                    diff(&without, &found),
                    p.n,
                    diff(&with, &found)
                ));
            }
            Some(true)
        }
    };
    ledger_invariants(&store)?;
    store.flush().map_err(|e| e.to_string())?;
    reference.flush().map_err(|e| e.to_string())?;
    Ok(Verdict {
        pending_written,
        items: report.items,
        stories: report.stories,
        error: None,
    })
}

/// The store's logical content: its backup lines (which name items by source and id,
/// not by sled's internal numbers), header left out, as a multiset.
fn snapshot(store: &Store) -> Result<BTreeMap<String, usize>, String> {
    let mut out = Vec::new();
    store.backup(&mut out).map_err(|e| format!("backup: {e}"))?;
    let mut lines = BTreeMap::new();
    for line in String::from_utf8_lossy(&out).lines().skip(1) {
        *lines.entry(line.to_string()).or_default() += 1;
    }
    Ok(lines)
}

fn diff(expected: &BTreeMap<String, usize>, found: &BTreeMap<String, usize>) -> String {
    let show = |a: &BTreeMap<String, usize>, b: &BTreeMap<String, usize>| -> Vec<String> {
        a.iter()
            .filter(|(k, n)| b.get(*k) != Some(n))
            .map(|(k, _)| k.chars().take(300).collect())
            .take(4)
            .collect()
    };
    format!(
        "missing {:?}; unexpected {:?}",
        show(expected, found),
        show(found, expected)
    )
}

/// No digest period is both unsent and marked sent: an entry `sent` has its archived
/// issue, and an archived issue's entry is `sent`.
fn ledger_invariants(store: &Store) -> Result<(), String> {
    let entries = store.digest_entries(DIGEST).map_err(|e| e.to_string())?;
    let issues = store.digest_issues(DIGEST).map_err(|e| e.to_string())?;
    for e in &entries {
        let archived = issues.iter().any(|i| i.period == e.period);
        if (e.state == LedgerState::Sent) != archived {
            return Err(format!(
                "ledger {}: state {} but {} archived issue",
                e.period,
                e.state.as_str(),
                if archived { "an" } else { "no" }
            ));
        }
    }
    for i in &issues {
        if !entries.iter().any(|e| e.period == i.period) {
            return Err(format!("archived issue {} has no ledger entry", i.period));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// The parent: spawns, kills, checks, counts.
// ---------------------------------------------------------------------------------

struct Options {
    iterations: u64,
    seed: u64,
    /// Longest wait before the kill, after the worker said it opened the store.
    max_delay: Duration,
    /// Where the stores live (kept afterwards); a temporary folder when `None`.
    dir: Option<PathBuf>,
}

fn options() -> Option<Options> {
    let mut o = Options {
        iterations: 10,
        seed: 1,
        max_delay: Duration::from_millis(400),
        dir: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match a.as_str() {
            "--iterations" => o.iterations = value().parse().unwrap_or(o.iterations),
            "--seed" => o.seed = value().parse().unwrap_or(o.seed),
            "--max-delay-ms" => o.max_delay = Duration::from_millis(value().parse().unwrap_or(400)),
            "--dir" => o.dir = Some(PathBuf::from(value())),
            // `cargo test NAME` passes a filter: run only when it names this harness.
            f if !f.starts_with('-') && !"crash".contains(f) => return None,
            _ => {} // libtest flags (`--nocapture`, `--quiet`, …) mean nothing here
        }
    }
    Some(o)
}

#[derive(Default)]
struct Tally {
    iterations: u64,
    kills: u64,
    killed_before_ready: u64,
    acked: u64,
    in_flight: u64,
    in_flight_written: u64,
    /// What the store held at the last check.
    items: u64,
    stories: u64,
    failures: Vec<String>,
}

fn parent() {
    let Some(o) = options() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let dir = o.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let started = Instant::now();
    if let Err(e) = self_test(&dir.join("self-test")) {
        println!("FAILURE self-test: {e}");
        std::process::exit(1);
    }
    let tally = run(&o, &dir);
    println!(
        "crash: seed {}, {} iterations, {} kills ({} during open), {} steps acknowledged, \
         {} in flight at the kill ({} found written, the others absent), {} failures, {:.0?}; \
         the store holds {} items in {} stories",
        o.seed,
        tally.iterations,
        tally.kills,
        tally.killed_before_ready,
        tally.acked,
        tally.in_flight,
        tally.in_flight_written,
        tally.failures.len(),
        started.elapsed(),
        tally.items,
        tally.stories
    );
    for f in &tally.failures {
        println!("FAILURE {f}");
    }
    if !tally.failures.is_empty() {
        std::process::exit(1);
    }
}

fn run(o: &Options, dir: &Path) -> Tally {
    let mut rng = fastrand::Rng::with_seed(o.seed);
    let mut tally = Tally::default();
    let mut generation = 0;
    let mut next_op = 0u64;
    let mut journal = std::fs::File::create(dir.join("journal.log"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for iteration in 0..o.iterations {
        let store = dir.join(format!("store-{generation}"));
        let reference = dir.join(format!("reference-{generation}"));
        // One kill in ten lands while the store opens (recovery itself is killed).
        let early = rng.u8(0..10) == 0;
        let delay = o.max_delay.mul_f64(rng.f64());
        let worker_seed = rng.u64(..);
        let lines = run_worker(&store, next_op, worker_seed, early, delay);
        tally.iterations += 1;
        let mut acked = Vec::new();
        let mut pending: Option<Numbered> = None;
        let mut ready = false;
        let mut died = None;
        for line in &lines {
            let _ = writeln!(journal, "{iteration} {line}");
            if line == "READY" {
                ready = true;
            } else if let Some(json) = line.strip_prefix("BEGIN ") {
                match serde_json::from_str::<Numbered>(json) {
                    Ok(s) => {
                        next_op = s.n + 1;
                        pending = Some(s);
                    }
                    Err(e) => died = Some(format!("bad line {line:?}: {e}")),
                }
            } else if let Some(n) = line.strip_prefix("ACK ") {
                match pending.take() {
                    Some(s) if s.n.to_string() == n => acked.push(s),
                    other => died = Some(format!("ACK {n} for {other:?}")),
                }
            } else if line.starts_with("ERROR") {
                died = Some(line.clone());
            }
        }
        tally.kills += 1;
        tally.killed_before_ready += u64::from(!ready);
        tally.acked += acked.len() as u64;
        tally.in_flight += u64::from(pending.is_some());
        let result = match died {
            Some(why) => Err(format!("the worker failed: {why}")),
            None => run_verifier(dir, &store, &reference, acked, pending),
        };
        match result {
            Ok(v) => {
                tally.in_flight_written += u64::from(v.pending_written == Some(true));
                (tally.items, tally.stories) = (v.items, v.stories);
            }
            Err(e) => {
                let f = format!(
                    "seed {} iteration {iteration} (store {}): {e}",
                    o.seed,
                    store.display()
                );
                eprintln!("FAILURE {f}");
                tally.failures.push(f);
                // Start again on a fresh store; the failed one stays for inspection
                // when --dir was given.
                generation += 1;
            }
        }
    }
    tally
}

/// The verifier must tell the truth from a lie, or it proves nothing: on stores built
/// in-process (no kill), it accepts a store without the step in flight and one with it,
/// and refuses one that lacks an acknowledged step and one holding half a poll.
fn self_test(dir: &Path) -> Result<(), String> {
    let acked: Vec<Numbered> = SOURCES
        .iter()
        .enumerate()
        .map(|(n, s)| Numbered {
            n: n as u64,
            op: Op::Poll {
                source: (*s).to_string(),
                seed: n as u64,
            },
        })
        .collect();
    let n = acked.len() as u64;
    // A poll of a source of its own brings only new items; at least two, to halve.
    let (source, seed) = (0..)
        .map(|seed| ("nouvelle-source", seed))
        .find(|(s, seed)| poll_items(s, *seed, n).len() >= 2)
        .unwrap_or(("nouvelle-source", 0));
    let next = Numbered {
        n,
        op: Op::Poll {
            source: source.into(),
            seed,
        },
    };
    let build = |name: &str, extra: &dyn Fn(&Store) -> Result<(), String>| {
        let path = dir.join(name);
        let store = Store::open(&path).map_err(|e| e.to_string())?;
        for s in &acked {
            apply(&store, s.n, &s.op)?;
        }
        extra(&store)?;
        store.flush().map_err(|e| e.to_string())?;
        Ok::<PathBuf, String>(path)
    };
    let verify = |store: &Path, case: &str, acked: Vec<Numbered>, pending: Option<Numbered>| {
        let reference = dir.join(format!("reference-{case}"));
        run_verifier(dir, store, &reference, acked, pending)
    };
    let without = build("without", &|_| Ok(()))?;
    let v = verify(&without, "a", acked.clone(), Some(next.clone()))?;
    if v.pending_written != Some(false) {
        return Err(format!("a step not written was taken as written: {v:?}"));
    }
    let with = build("with", &|store| apply(store, next.n, &next.op))?;
    let v = verify(&with, "b", acked.clone(), Some(next.clone()))?;
    if v.pending_written != Some(true) {
        return Err(format!("a step written was taken as not written: {v:?}"));
    }
    let mut claimed = acked.clone();
    claimed.push(next.clone());
    match verify(&without, "c", claimed, None) {
        Err(e) if e.contains("differs from its acknowledged steps") => {}
        other => return Err(format!("a lost acknowledged step went unseen: {other:?}")),
    }
    let half = build("half", &|store| {
        let mut items = poll_items(source, seed, n);
        items.truncate(1);
        let state = SourceState {
            id: source.into(),
            ..SourceState::default()
        };
        store
            .apply_poll(&state, items, time_of(n))
            .map(|_| ())
            .map_err(|e| e.to_string())
    })?;
    match verify(&half, "d", acked, Some(next)) {
        Err(e) if e.contains("is neither") => Ok(()),
        other => Err(format!("half a poll went unseen: {other:?}")),
    }
}

/// Starts a worker, kills it (SIGKILL) after `delay` — counted from its READY, or from
/// its start when `early` — and returns every line it printed.
fn run_worker(store: &Path, first_op: u64, seed: u64, early: bool, delay: Duration) -> Vec<String> {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
    let mut child = Command::new(exe)
        .env(ROLE, "worker")
        .env(STORE, store)
        .env(FIRST_OP, first_op.to_string())
        .env(SEED, seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn worker: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line == "READY" {
                let _ = tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    if !early {
        // A worker that cannot open its store says so and exits: no READY then.
        let _ = rx.recv_timeout(Duration::from_secs(60));
    }
    std::thread::sleep(delay);
    // Child::kill is SIGKILL on Unix: no unwinding, no destructor, no flush.
    let _ = child.kill();
    let _ = child.wait();
    reader
        .join()
        .unwrap_or_else(|_| panic!("the reader thread panicked"))
}

fn run_verifier(
    dir: &Path,
    store: &Path,
    reference: &Path,
    acked: Vec<Numbered>,
    pending: Option<Numbered>,
) -> Result<Verdict, String> {
    let ops = dir.join("check.json");
    let check = Check { acked, pending };
    std::fs::write(&ops, serde_json::to_vec(&check).map_err(|e| e.to_string())?)
        .map_err(|e| format!("{}: {e}", ops.display()))?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .env(ROLE, "verifier")
        .env(STORE, store)
        .env(REFERENCE, reference)
        .env(OPS, &ops)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("spawn verifier: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verdict: Verdict = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .and_then(|j| serde_json::from_str(j).ok())
        .ok_or_else(|| format!("the verifier died ({}): {stdout}", out.status))?;
    match verdict.error {
        Some(e) => Err(e),
        None => Ok(verdict),
    }
}

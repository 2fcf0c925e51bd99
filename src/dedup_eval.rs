//! `relais dedup-eval`: how well story matching does on labelled pairs. Every item of
//! the file (both sides of every line) goes through the real pipeline — normalise, then
//! the store's ingest and matching — into a fresh temporary store, oldest first, one
//! poll per item as if each had just been published; then each line says whether its
//! two items ended in one story, and why.
//!
//! Ingesting all items into one store is realistic: an item may be pulled into a story
//! by an item of another line. The report lists the stories that span several lines, so
//! that this shows.
//!
//! Input, one JSON object per line (`same` and `kind` optional):
//! `{"a": {"source", "title", "summary", "url", "published"}, "b": {…}, "same": true,
//! "kind": "cross_post"}`. Source names become source ids (folded, hyphenated:
//! « Cités Unies France » → `cites-unies-france`); an item is keyed by its source and
//! URL, so one appearing on two lines is one item.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::model::{FeedKind, Item, RawEntry, RawFeed, RawText, SourceState};
use crate::normalise::{self, Context};
use crate::store::{Store, StoreOptions};
use crate::stories::{self, Features, Verdict};

#[derive(Debug, Deserialize)]
struct Pair {
    a: Side,
    b: Side,
    #[serde(default)]
    same: Option<bool>,
    #[serde(default)]
    kind: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Side {
    source: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    url: String,
    published: String,
}

/// What became of one line.
#[derive(Debug, Clone, PartialEq)]
pub struct PairResult {
    pub line: usize,
    pub kind: Option<String>,
    pub label: Option<bool>,
    /// Both items ended in one story.
    pub same: bool,
    /// The rule that joined them (of the item that joined the other, or joined the
    /// story through a third item).
    pub rule: Option<&'static str>,
    pub score: Option<f64>,
    /// In words: how they were joined, or what kept them apart.
    pub note: String,
}

/// Counts of one set of labelled pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub pairs: usize,
    pub merged: usize,
    pub true_pos: usize,
    pub false_pos: usize,
    pub false_neg: usize,
}

impl Tally {
    fn add(&mut self, r: &PairResult) {
        self.pairs += 1;
        if r.same {
            self.merged += 1;
        }
        match (r.label, r.same) {
            (Some(true), true) => self.true_pos += 1,
            (Some(false), true) => self.false_pos += 1,
            (Some(true), false) => self.false_neg += 1,
            _ => {}
        }
    }

    /// Merged pairs that are labelled the same, among merged labelled pairs.
    pub fn precision(&self) -> Option<f64> {
        let n = self.true_pos + self.false_pos;
        (n > 0).then(|| self.true_pos as f64 / n as f64)
    }

    /// Pairs labelled the same that were merged.
    pub fn recall(&self) -> Option<f64> {
        let n = self.true_pos + self.false_neg;
        (n > 0).then(|| self.true_pos as f64 / n as f64)
    }
}

/// The whole evaluation.
#[derive(Debug, Clone)]
pub struct Report {
    pub items: usize,
    pub stories: u64,
    pub pairs: Vec<PairResult>,
    /// Over every labelled line.
    pub total: Tally,
    pub by_kind: BTreeMap<String, Tally>,
    /// Stories holding items of more than one line: (story id, lines).
    pub spanning: Vec<(u64, Vec<usize>)>,
    pub labelled: bool,
}

/// A source name as a source id: folded words joined by hyphens.
pub fn source_id(name: &str) -> String {
    let folded = crate::curate::fold(name);
    let id = folded.split(' ').collect::<Vec<_>>().join("-");
    if id.is_empty() {
        "source".to_string()
    } else {
        id
    }
}

/// One side of a line as the pipeline sees it: an RSS entry whose guid is the URL as
/// given (so two URL variants stay two items, and the URL rule is what joins them).
fn normalised(side: &Side, source: &str, now: DateTime<Utc>) -> Result<Item, String> {
    let published = DateTime::parse_from_rfc3339(side.published.trim())
        .map_err(|e| format!("published {:?}: {e}", side.published))?
        .with_timezone(&Utc);
    let text = |t: &Option<String>| {
        t.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| RawText {
                body: t.to_string(),
                is_html: false,
            })
    };
    let feed = RawFeed {
        kind: Some(FeedKind::Rss),
        entries: vec![RawEntry {
            guid: Some(side.url.clone()),
            title: text(&side.title),
            links: vec![side.url.clone()],
            summary: text(&side.summary),
            published: Some(published),
            ..RawEntry::default()
        }],
        ..RawFeed::default()
    };
    let cx = Context {
        source: Some(source),
        document_url: None,
        default_lang: None,
        now,
    };
    normalise::normalise(&feed, &cx)
        .into_iter()
        .next()
        .ok_or_else(|| format!("item {:?} does not normalise", side.url))
}

/// A temporary folder removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<TempDir> {
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("relais-dedup-eval-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Evaluates the pairs in `text` (read from `name`, for messages).
pub fn evaluate(text: &str, name: &str) -> anyhow::Result<Report> {
    let now = Utc::now();
    let mut lines: Vec<(usize, Pair)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let pair: Pair = serde_json::from_str(raw)
            .map_err(|e| anyhow::anyhow!("{name}:{}: not a pair: {e}", i + 1))?;
        lines.push((i + 1, pair));
    }
    if lines.is_empty() {
        bail!("{name}: no pairs");
    }

    // Every distinct item, keyed by source and URL.
    let mut items: Vec<Item> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    let mut sides: Vec<(usize, usize)> = Vec::with_capacity(lines.len());
    for (line, pair) in &lines {
        let mut at = [0usize; 2];
        for (slot, side) in at.iter_mut().zip([&pair.a, &pair.b]) {
            let source = source_id(&side.source);
            let key = (source.clone(), side.url.clone());
            *slot = match index.get(&key) {
                Some(&i) => i,
                None => {
                    let item = normalised(side, &source, now)
                        .map_err(|e| anyhow::anyhow!("{name}:{line}: {e}"))?;
                    items.push(item);
                    index.insert(key, items.len() - 1);
                    items.len() - 1
                }
            };
        }
        sides.push((at[0], at[1]));
    }

    let dir = TempDir::new()?;
    let options = StoreOptions {
        cache_capacity: 16 * 1024 * 1024,
        ..StoreOptions::default()
    };
    let store = Store::open_with(&dir.0.join("db"), &options)?;
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| (items.get(i).map(|it| it.published), i));
    for i in order {
        let Some(item) = items.get(i) else { continue };
        let state = SourceState {
            id: item.source.clone().unwrap_or_default(),
            ..SourceState::default()
        };
        store
            .apply_poll(&state, vec![item.clone()], item.published)
            .with_context(|| format!("{name}: cannot store {}", item.id))?;
    }

    let window = store.story_window();
    let mut story_of: Vec<Option<u64>> = Vec::with_capacity(items.len());
    for item in &items {
        story_of.push(store.story_id_of(item.source.as_deref().unwrap_or_default(), &item.id)?);
    }
    let mut pairs = Vec::with_capacity(lines.len());
    let mut total = Tally::default();
    let mut by_kind: BTreeMap<String, Tally> = BTreeMap::new();
    let mut labelled = false;
    let mut lines_of_story: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for ((line, pair), (ia, ib)) in lines.iter().zip(&sides) {
        let (Some(a), Some(b)) = (items.get(*ia), items.get(*ib)) else {
            continue;
        };
        let (sa, sb) = (
            story_of.get(*ia).copied().flatten(),
            story_of.get(*ib).copied().flatten(),
        );
        for s in [sa, sb].into_iter().flatten() {
            let lines = lines_of_story.entry(s).or_default();
            if !lines.contains(line) {
                lines.push(*line);
            }
        }
        let same = sa.is_some() && sa == sb;
        let (rule, score, note) = if same {
            explain_join(&store, sa.unwrap_or_default(), a, b)?
        } else {
            (None, None, explain_apart(a, b, window))
        };
        let result = PairResult {
            line: *line,
            kind: pair.kind.clone(),
            label: pair.same,
            same,
            rule,
            score,
            note,
        };
        labelled |= result.label.is_some();
        total.add(&result);
        if let Some(kind) = &result.kind {
            by_kind.entry(kind.clone()).or_default().add(&result);
        }
        pairs.push(result);
    }
    let spanning = lines_of_story
        .into_iter()
        .filter(|(_, lines)| lines.len() > 1)
        .collect();
    let report = Report {
        items: items.len(),
        stories: store.count_stories(),
        pairs,
        total,
        by_kind,
        spanning,
        labelled,
    };
    drop(store);
    drop(dir);
    Ok(report)
}

/// The rule that put `a` and `b` in story `story`: the one recorded on whichever joined
/// the other, else (both joined through other members) the later one's.
fn explain_join(
    store: &Store,
    story: u64,
    a: &Item,
    b: &Item,
) -> anyhow::Result<(Option<&'static str>, Option<f64>, String)> {
    let Some(detail) = store.story_detail(story)? else {
        return Ok((None, None, format!("story {story}")));
    };
    let find = |it: &Item| {
        detail
            .members
            .iter()
            .find(|m| m.item.source == it.source && m.item.id == it.id)
    };
    let (Some(ma), Some(mb)) = (find(a), find(b)) else {
        return Ok((None, None, format!("story {story}")));
    };
    let names = |it: &Item| (it.source.clone().unwrap_or_default(), it.id.clone());
    let direct = [(mb, a), (ma, b)]
        .into_iter()
        .find(|(m, other)| m.with.as_ref() == Some(&names(other)))
        .map(|(m, _)| m);
    let (member, how) = match direct {
        Some(m) => (m, "directly"),
        None => {
            let later = if ma.primary {
                mb
            } else if mb.primary || ma.item.published <= mb.item.published {
                ma
            } else {
                mb
            };
            (later, "through another item of the story")
        }
    };
    let member = if member.primary && member.rule == stories::Rule::Primary {
        if std::ptr::eq(member, ma) {
            mb
        } else {
            ma
        }
    } else {
        member
    };
    let score = match member.rule {
        stories::Rule::Text => member.score,
        stories::Rule::Url | stories::Rule::Title => Some(1.0),
        _ => None,
    };
    Ok((
        Some(member.rule.as_str()),
        score,
        format!("story {story}, {} {how}", member.rule.as_str()),
    ))
}

/// Why two items that ended apart are apart, from comparing them alone.
fn explain_apart(a: &Item, b: &Item, window: std::time::Duration) -> String {
    let (fa, fb) = (Features::of(a), Features::of(b));
    match stories::compare(&fa, &fb, window) {
        Verdict::Vetoed(v) => format!("vetoed: {}", v.as_str()),
        Verdict::Same(m) => format!(
            "{} matches alone ({:.2}), but another member of a story vetoed, or a better \
             story was chosen",
            m.rule.as_str(),
            m.score
        ),
        Verdict::Different => {
            let apart = (a.published - b.published).num_seconds().unsigned_abs();
            if apart > window.as_secs() {
                format!("published {} days apart, beyond the window", apart / 86_400)
            } else {
                let (score, anchored) = stories::text_score(&fa, &fb);
                format!(
                    "no rule matched (text score {score:.2}{})",
                    if anchored {
                        ""
                    } else {
                        ", no shared name, number or date"
                    }
                )
            }
        }
    }
}

fn ratio(x: Option<f64>) -> serde_json::Value {
    x.map_or(serde_json::Value::Null, |v| {
        json!((v * 1000.0).round() / 1000.0)
    })
}

fn tally_json(t: &Tally) -> serde_json::Value {
    json!({
        "pairs": t.pairs,
        "merged": t.merged,
        "precision": ratio(t.precision()),
        "recall": ratio(t.recall()),
    })
}

/// `relais dedup-eval FILE [--json]`.
pub fn run(file: &Path, as_json: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("{}: cannot read", file.display()))?;
    let name = file.display().to_string();
    let r = evaluate(&text, &name)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if as_json {
        let pairs: Vec<_> = r
            .pairs
            .iter()
            .map(|p| {
                let mut v = json!({
                    "line": p.line,
                    "same": p.same,
                    "rule": p.rule,
                    "score": p.score,
                    "note": p.note,
                });
                if let (Some(map), Some(kind)) = (v.as_object_mut(), &p.kind) {
                    map.insert("kind".into(), json!(kind));
                }
                if let (Some(map), Some(label)) = (v.as_object_mut(), p.label) {
                    map.insert("label".into(), json!(label));
                }
                v
            })
            .collect();
        let mut doc = json!({
            "file": name,
            "items": r.items,
            "stories": r.stories,
            "pairs": pairs,
            "stories_spanning_lines": r.spanning.iter()
                .map(|(s, lines)| json!({ "story": s, "lines": lines }))
                .collect::<Vec<_>>(),
        });
        if let Some(map) = doc.as_object_mut() {
            if r.labelled {
                map.insert("precision".into(), ratio(r.total.precision()));
                map.insert("recall".into(), ratio(r.total.recall()));
            }
            if !r.by_kind.is_empty() {
                let kinds: serde_json::Map<String, serde_json::Value> = r
                    .by_kind
                    .iter()
                    .map(|(k, t)| (k.clone(), tally_json(t)))
                    .collect();
                map.insert("by_kind".into(), serde_json::Value::Object(kinds));
            }
        }
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
        out.flush()?;
        return Ok(());
    }
    let shown = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    writeln!(
        out,
        "{name}: {} items in {} stories; {} pairs, {} merged",
        r.items,
        r.stories,
        r.pairs.len(),
        r.total.merged
    )?;
    if r.labelled {
        writeln!(
            out,
            "precision {}  recall {}",
            shown(r.total.precision()),
            shown(r.total.recall())
        )?;
    }
    if !r.by_kind.is_empty() {
        writeln!(
            out,
            "  {:<16} {:>5} {:>7} {:>10} {:>7}",
            "kind", "pairs", "merged", "precision", "recall"
        )?;
        for (kind, t) in &r.by_kind {
            writeln!(
                out,
                "  {kind:<16} {:>5} {:>7} {:>10} {:>7}",
                t.pairs,
                t.merged,
                shown(t.precision()),
                shown(t.recall())
            )?;
        }
    }
    let listed = |out: &mut dyn Write, title: &str, keep: &dyn Fn(&PairResult) -> bool| {
        let chosen: Vec<&PairResult> = r.pairs.iter().filter(|p| keep(p)).collect();
        writeln!(
            out,
            "{title}: {}",
            if chosen.is_empty() { "none" } else { "" }
        )?;
        for p in chosen {
            writeln!(
                out,
                "  line {} ({}): {}",
                p.line,
                p.kind.as_deref().unwrap_or("-"),
                p.note
            )?;
        }
        Ok::<(), std::io::Error>(())
    };
    if r.labelled {
        listed(&mut out, "labelled same, not merged", &|p| {
            p.label == Some(true) && !p.same
        })?;
        listed(&mut out, "merged, labelled different", &|p| {
            p.label == Some(false) && p.same
        })?;
    } else {
        listed(&mut out, "merged", &|p| p.same)?;
    }
    if !r.spanning.is_empty() {
        writeln!(out, "stories holding items of several lines:")?;
        for (story, lines) in &r.spanning {
            let lines: Vec<String> = lines.iter().map(usize::to_string).collect();
            writeln!(out, "  story {story}: lines {}", lines.join(", "))?;
        }
    }
    out.flush()?;
    Ok(())
}

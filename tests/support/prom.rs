//! A strict reader of the Prometheus text exposition format 0.0.4, for tests: it
//! refuses what a lenient parser would skip (a malformed line, a bad name, an unknown
//! escape, a sample before its TYPE or of the wrong family, a duplicate series, a
//! histogram whose buckets are not cumulative or whose +Inf bucket is not its count),
//! so a test that reads a value also proves the whole scrape is well formed.

use std::collections::{BTreeMap, HashMap};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A whole scrape.
#[derive(Debug, Default)]
pub struct Scrape {
    pub types: HashMap<String, String>,
    pub help: HashMap<String, String>,
    pub samples: Vec<Sample>,
}

impl Scrape {
    /// The value of the series `name{labels}` (exactly these labels).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == want)
            .map(|s| s.value)
    }

    /// The sum of every series of `name`.
    pub fn sum(&self, name: &str) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.value)
            .sum()
    }
}

fn is_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    let first_ok = |c: char| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':');
    match chars.next() {
        Some(c) if first_ok(c) => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse::<f64>().map_err(|_| format!("bad value `{s}`")),
    }
}

/// The family a sample belongs to, given the declared types.
fn family<'a>(name: &'a str, types: &HashMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if matches!(
                types.get(base).map(String::as_str),
                Some("histogram" | "summary")
            ) {
                return Some(base);
            }
        }
    }
    None
}

fn labels(text: &str, line: usize) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut out = BTreeMap::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((out, after));
        }
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("line {line}: label without `=`"))?;
        let name = rest[..eq].trim();
        if !is_name(name, false) {
            return Err(format!("line {line}: bad label name `{name}`"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or_else(|| format!("line {line}: label value not quoted"))?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(format!("line {line}: unterminated label value")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("line {line}: bad escape {other:?}")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        if out.insert(name.to_string(), value).is_some() {
            return Err(format!("line {line}: label `{name}` twice"));
        }
        rest = &rest[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// Parses `text`, or says which line is wrong and why.
pub fn parse(text: &str) -> Result<Scrape, String> {
    let mut s = Scrape::default();
    let mut seen_samples: std::collections::HashSet<String> = std::collections::HashSet::new();
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        if raw.trim().is_empty() {
            continue;
        }
        if let Some(comment) = raw.strip_prefix('#') {
            let mut parts = comment.trim_start().splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    if !is_name(name, true) {
                        return Err(format!("line {line}: bad metric name `{name}`"));
                    }
                    if !matches!(
                        kind,
                        "counter" | "gauge" | "histogram" | "summary" | "untyped"
                    ) {
                        return Err(format!("line {line}: unknown type `{kind}`"));
                    }
                    if s.types.insert(name.to_string(), kind.to_string()).is_some() {
                        return Err(format!("line {line}: second TYPE for `{name}`"));
                    }
                }
                (Some("HELP"), Some(name), help) => {
                    if !is_name(name, true) {
                        return Err(format!("line {line}: bad metric name `{name}`"));
                    }
                    s.help
                        .insert(name.to_string(), help.unwrap_or("").to_string());
                }
                _ => {}
            }
            continue;
        }
        let name_end = raw
            .find(['{', ' '])
            .ok_or_else(|| format!("line {line}: no value"))?;
        let name = &raw[..name_end];
        if !is_name(name, true) {
            return Err(format!("line {line}: bad metric name `{name}`"));
        }
        let (labels, rest) = match raw[name_end..].strip_prefix('{') {
            Some(after) => labels(after, line)?,
            None => (BTreeMap::new(), &raw[name_end..]),
        };
        let mut fields = rest.split_whitespace();
        let value = parse_value(
            fields
                .next()
                .ok_or_else(|| format!("line {line}: no value"))?,
        )
        .map_err(|e| format!("line {line}: {e}"))?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>()
                .map_err(|_| format!("line {line}: bad timestamp `{ts}`"))?;
        }
        if fields.next().is_some() {
            return Err(format!("line {line}: trailing text"));
        }
        let fam = family(name, &s.types)
            .ok_or_else(|| format!("line {line}: sample `{name}` before its TYPE"))?;
        if s.types.get(fam).map(String::as_str) == Some("histogram")
            && name.ends_with("_bucket")
            && !labels.contains_key("le")
        {
            return Err(format!("line {line}: bucket without `le`"));
        }
        let key = format!("{name}{labels:?}");
        if !seen_samples.insert(key) {
            return Err(format!("line {line}: duplicate series `{name}`"));
        }
        s.samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    check_histograms(&s)?;
    Ok(s)
}

/// Buckets cumulative, ending with +Inf equal to `_count`.
fn check_histograms(s: &Scrape) -> Result<(), String> {
    for (name, kind) in &s.types {
        if kind != "histogram" {
            continue;
        }
        let bucket = format!("{name}_bucket");
        let mut buckets: Vec<(f64, f64)> = s
            .samples
            .iter()
            .filter(|x| x.name == bucket)
            .map(|x| {
                let le = x.labels.get("le").map_or(Ok(f64::NAN), |v| parse_value(v));
                le.map(|le| (le, x.value))
            })
            .collect::<Result<_, _>>()?;
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        if buckets.windows(2).any(|w| w[1].1 < w[0].1) {
            return Err(format!("{name}: buckets not cumulative"));
        }
        let inf = buckets.last().filter(|b| b.0.is_infinite()).map(|b| b.1);
        let count = s.value(&format!("{name}_count"), &[]);
        if inf.is_none() || inf != count {
            return Err(format!(
                "{name}: +Inf bucket {inf:?} is not the count {count:?}"
            ));
        }
        if s.value(&format!("{name}_sum"), &[]).is_none() {
            return Err(format!("{name}: no _sum"));
        }
    }
    Ok(())
}

//! `relais sources import FILE.opml`: the feeds of an OPML list become `[[source]]`
//! entries appended to the configuration's `sources_file`. The operator's file is never
//! rewritten: new entries are appended as text (values quoted by the toml crate), the
//! whole configuration is validated with the result before anything is written, and the
//! file is replaced by a rename, so a failed import leaves the old file as it was.
//!
//! Feeds already configured (the same URL once scheme, `www.`, default port, trailing
//! slash and fragment are set aside; or a source whose id would be the same, on the same
//! host) are skipped and said so, one line each. Ids come from titles (« Cités Unies
//! France » → `cites-unies-france`), made unique with `-2`, `-3`…

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use serde::Serialize;
use url::Url;

use crate::config::{Config, Location, Source};
use crate::opml::{self, Feed};

/// The largest OPML file read: subscription lists are kilobytes.
const MAX_OPML: u64 = 32 * 1024 * 1024;

/// What import decided for one feed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    Add(Entry),
    /// Already configured: the id of the source it matches, and why.
    Present {
        url: String,
        id: String,
        why: &'static str,
    },
    Invalid {
        url: String,
        reason: String,
    },
}

/// One `[[source]]` entry, as written to the sources file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Entry {
    id: String,
    title: String,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    site: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lang: Option<String>,
}

#[derive(Serialize)]
struct Entries<'a> {
    source: &'a [Entry],
}

/// Import the feeds of `file` into the sources file of `config`; with `dry_run`, only
/// say what would be added.
pub fn import(
    config: &Config,
    file: &Path,
    dry_run: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let Some(target) = config.sources_file.clone() else {
        bail!(
            "{}: no sources_file to import into: add the line `sources_file = \"sources.toml\"` at the top of the file (before any [section]), then import again",
            config.path.display()
        );
    };
    let bytes = super::read_capped(file, MAX_OPML)?;
    let outlines = opml::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;

    // A network's whole OPML can list thousands of feeds, each checked against every
    // source: a bar on a terminal, log lines otherwise (stdout stays the report).
    let progress = crate::progress::bar(outlines.feeds.len() as u64, "import");
    let decisions = decide(&config.sources, &outlines.feeds, &mut || progress.inc(1));
    progress.finish();
    let added: Vec<Entry> = decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Add(entry) => Some(entry.clone()),
            _ => None,
        })
        .collect();
    let verb = if dry_run { "would add" } else { "added" };
    for d in &decisions {
        match d {
            Decision::Add(e) => writeln!(out, "{verb:<9} {:<28} {}", e.id, e.url)?,
            Decision::Present { url, id, why } => {
                writeln!(out, "skipped   {url}: already present as `{id}` ({why})")?
            }
            Decision::Invalid { url, reason } => writeln!(out, "skipped   {url}: {reason}")?,
        }
    }
    for s in &outlines.skipped {
        writeln!(
            out,
            "skipped   « {} » (line {}): {}",
            s.title, s.line, s.reason
        )?;
    }
    let skipped = decisions.len() - added.len() + outlines.skipped.len();

    if added.is_empty() {
        writeln!(
            out,
            "{}: nothing to add ({skipped} skipped)",
            target.display()
        )?;
        return Ok(());
    }
    let block = toml::to_string(&Entries { source: &added })
        .context("cannot write the new sources as TOML")?;
    let current = match std::fs::read_to_string(&target) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", target.display())),
    };
    let mut text = current.clone();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(&format!(
        "# Imported from {} on {}.\n",
        file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned()
        ),
        chrono::Utc::now().format("%Y-%m-%d")
    ));
    text.push_str(&block);

    // The configuration as it would be: a bad import never reaches the file.
    Config::load_with_sources(&config.path, &text).map_err(|e| {
        anyhow::anyhow!(
            "not imported, {} left as it was: the result would not be valid: {e}",
            target.display()
        )
    })?;
    if dry_run {
        writeln!(
            out,
            "{}: dry run, nothing written ({} to add, {skipped} skipped)",
            target.display(),
            added.len()
        )?;
        return Ok(());
    }
    replace(&target, &text)?;
    writeln!(
        out,
        "{}: {} added, {skipped} skipped",
        target.display(),
        added.len()
    )?;
    writeln!(
        out,
        "reload the daemon (systemctl reload relais / kill -HUP) to poll them"
    )?;
    Ok(())
}

/// Write `text` beside `target` and rename it over, keeping the file's permissions.
fn replace(target: &Path, text: &str) -> anyhow::Result<()> {
    let name = target.file_name().map_or_else(
        || "sources.toml".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let partial: PathBuf = target.with_file_name(format!(".{name}.import"));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&partial)?;
        f.write_all(text.as_bytes())?;
        if let Ok(meta) = std::fs::metadata(target) {
            f.set_permissions(meta.permissions())?;
        }
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&partial);
        return Err(e).with_context(|| format!("{}: cannot write", partial.display()));
    }
    std::fs::rename(&partial, target).with_context(|| {
        format!(
            "{}: cannot rename to {}",
            partial.display(),
            target.display()
        )
    })
}

/// What to do with each feed, given the sources already configured. Pure; `step` is
/// called once per feed (progress).
fn decide(existing: &[Source], feeds: &[Feed], step: &mut dyn FnMut()) -> Vec<Decision> {
    let mut taken_ids: HashSet<String> = existing.iter().map(|s| s.id.clone()).collect();
    let mut known: Vec<(String, String)> = existing
        .iter()
        .filter_map(|s| match &s.location {
            Location::Http(url) => Some((same_feed_key(url), s.id.clone())),
            Location::File(_) => None,
        })
        .collect();
    let mut decisions = Vec::with_capacity(feeds.len());
    for feed in feeds {
        step();
        let url = match Url::parse(&feed.xml_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
            _ => {
                decisions.push(Decision::Invalid {
                    url: feed.xml_url.clone(),
                    reason: "not an http(s) feed URL".into(),
                });
                continue;
            }
        };
        let key = same_feed_key(&url);
        if let Some((_, id)) = known.iter().find(|(k, _)| *k == key) {
            decisions.push(Decision::Present {
                url: url.to_string(),
                id: id.clone(),
                why: "same URL",
            });
            continue;
        }
        let base = base_id(feed.title.as_deref(), &url);
        // The same name on the same host is the same partner's feed at a new address:
        // left for the operator to decide, not polled twice.
        if let Some(s) = existing.iter().find(|s| s.id == base && same_host(s, &url)) {
            decisions.push(Decision::Present {
                url: url.to_string(),
                id: s.id.clone(),
                why: "same id on the same host; edit its url by hand if it moved",
            });
            continue;
        }
        let id = unique_id(&base, &taken_ids);
        taken_ids.insert(id.clone());
        known.push((key, id.clone()));
        let site = feed
            .html_url
            .as_deref()
            .and_then(|h| Url::parse(h).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .map(String::from);
        decisions.push(Decision::Add(Entry {
            title: feed.title.clone().unwrap_or_else(|| id.clone()),
            id,
            url: url.to_string(),
            site,
            tags: feed.tags.clone(),
            lang: feed.language.clone(),
        }));
    }
    decisions
}

/// Two URLs name the same feed when they differ only by scheme, `www.`, default port,
/// trailing slash or fragment (the url crate already lower-cases the host).
fn same_feed_key(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    let host = host.strip_prefix("www.").unwrap_or(host);
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = url.path().trim_end_matches('/');
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    format!("{host}{port}{path}{query}")
}

fn same_host(source: &Source, url: &Url) -> bool {
    let strip = |h: &str| h.strip_prefix("www.").unwrap_or(h).to_string();
    let theirs = url.host_str().map(strip);
    let ours = match &source.location {
        Location::Http(u) => u.host_str().map(strip),
        Location::File(_) => None,
    };
    theirs.is_some() && theirs == ours
}

/// The longest id prefix a generated id keeps, leaving room for a `-NN` suffix within the
/// 64 characters ids may have.
const ID_ROOM: usize = 56;

/// An id from the title (else the host): accents folded, [a-z0-9-] only.
fn base_id(title: Option<&str>, url: &Url) -> String {
    let from_title = title.map(slug).filter(|s| !s.is_empty());
    from_title
        .or_else(|| {
            url.host_str()
                .map(|h| slug(h.strip_prefix("www.").unwrap_or(h)))
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "source".to_string())
}

/// « Cités Unies France » → `cites-unies-france`, cut at a word boundary to fit.
fn slug(text: &str) -> String {
    let folded = crate::curate::fold(text);
    let mut out = String::new();
    for word in folded
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if out.len() + word.len() + usize::from(!out.is_empty()) > ID_ROOM {
            if out.is_empty() {
                out.push_str(word.get(..ID_ROOM).unwrap_or(word));
            }
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(word);
    }
    out
}

fn unique_id(base: &str, taken: &HashSet<String>) -> String {
    if !taken.contains(base) {
        return base.to_string();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|id| !taken.contains(id))
        .unwrap_or_else(|| base.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fold_accents_and_fit() {
        let url = Url::parse("https://www.cites-unies-france.org/rss").unwrap();
        let cases = [
            (Some("Cités Unies France"), "cites-unies-france"),
            (Some("L’Œuvre d’Orient — Actualités"), "l-oeuvre-d-orient-actualites"),
            (Some("  "), "cites-unies-france-org"),
            (None, "cites-unies-france-org"),
            (Some("数据"), "cites-unies-france-org"),
            (
                Some("Un titre vraiment très long pour une source du réseau de coopération décentralisée"),
                "un-titre-vraiment-tres-long-pour-une-source-du-reseau-de",
            ),
        ];
        for (title, want) in cases {
            let got = base_id(title, &url);
            assert_eq!(got, want, "{title:?}");
            assert!(got.len() <= ID_ROOM);
        }
        let taken: HashSet<String> = ["cuf".to_string(), "cuf-2".to_string()].into();
        assert_eq!(unique_id("cuf", &taken), "cuf-3");
        assert_eq!(unique_id("ciedel", &taken), "ciedel");
    }

    #[test]
    fn the_same_feed_is_recognised_across_spellings() {
        let key = |u: &str| same_feed_key(&Url::parse(u).unwrap());
        assert_eq!(
            key("https://www.Example.org/feed/"),
            key("http://example.org/feed")
        );
        assert_eq!(
            key("https://example.org:443/feed#top"),
            key("https://example.org/feed")
        );
        assert_ne!(
            key("https://example.org/feed?lang=en"),
            key("https://example.org/feed")
        );
        assert_ne!(
            key("https://example.org:8443/feed"),
            key("https://example.org/feed")
        );
    }
}

//! Configuration: the TOML file read once at start into validated types, then passed
//! explicitly to whoever needs a part of it. Nothing else reads the file or the
//! environment for settings. Every error names the file, line, column and key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub fetch: FetchConfig,
    pub sources: Vec<Source>,
    pub channels: Vec<Channel>,
    /// The WebSub hub feeds advertise and relais pings when a channel changes.
    pub websub: Option<WebSubConfig>,
    /// How digests are sent; present whenever a digest is configured.
    pub smtp: Option<SmtpConfig>,
    pub digests: Vec<Digest>,
    pub stories: StoriesConfig,
    /// When a source counts as silent (`[health]`).
    pub health: HealthConfig,
    /// Who hears of failing and silent sources (`[alerts]`); none when absent.
    pub alerts: Option<AlertsConfig>,
    /// The admin API (`[admin]`); `None` when the section is absent.
    pub admin: Option<AdminConfig>,
}

/// Source health thresholds (`[health]`), used wherever health is shown: `relais
/// sources`, `/`, `/metrics`, the admin API and alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthConfig {
    /// A source polled fine but without a new item for this long is `silent`.
    pub silent_after: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            silent_after: Duration::from_secs(45 * 86_400),
        }
    }
}

/// Operator alerts by email (`[alerts]`), sent through `[smtp]`.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    pub to: Vec<String>,
    /// `Name <address>` or an address; defaults to the first digest's sender.
    pub from: String,
    /// A source failing for longer than this is alerted on.
    pub failing_after: Duration,
    /// How often the sources' health is checked (also after every poll).
    pub check_every: Duration,
    /// When a weekly health summary goes out, in `timezone`; none when unset.
    pub weekly_summary: Option<crate::digest::Schedule>,
    pub timezone: chrono_tz::Tz,
    pub locale: Locale,
}

/// The admin API (`[admin]`): on only when `token_env` names a variable that is set and
/// not empty when the configuration is loaded.
#[derive(Clone)]
pub struct AdminConfig {
    /// The environment variable holding the bearer token: the secret never lives in the
    /// file.
    pub token_env: String,
    /// The token, read from `token_env` at load; `None` (API off) when unset or empty.
    pub token: Option<String>,
    /// Who the audit log says acted through the API.
    pub label: String,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("token_env", &self.token_env)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("label", &self.label)
            .finish()
    }
}

/// How items are grouped into stories (`[stories]`).
#[derive(Debug, Clone)]
pub struct StoriesConfig {
    /// Two items published further apart than this are never compared: the cost of
    /// matching a new item stays flat however large the store grows.
    pub window: Duration,
}

impl Default for StoriesConfig {
    fn default() -> Self {
        StoriesConfig {
            window: crate::stories::DEFAULT_WINDOW,
        }
    }
}

/// How relais hands digests to a mail server.
#[derive(Debug, Clone, PartialEq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    /// The environment variable holding the password: the secret never lives in the file.
    pub password_env: Option<String>,
    /// Deadline for each step of the SMTP conversation. RFC 5321 §4.5.3.2 lets a server
    /// take 10 minutes to answer the final `.`; giving up sooner turns a slow "250" into
    /// an uncertain delivery.
    pub timeout: Duration,
    /// The name given in EHLO; the local host name when unset.
    pub hello_name: Option<String>,
}

impl SmtpConfig {
    /// The password, read from `password_env` when asked (so `relais check` works where
    /// the secret is not set). `Ok(None)` when no variable is configured.
    pub fn password(&self) -> Result<Option<String>, String> {
        match &self.password_env {
            None => Ok(None),
            Some(name) => std::env::var(name)
                .map(Some)
                .map_err(|_| format!("smtp.password_env: the variable `{name}` is not set")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP (a relay on the same host or a test server).
    None,
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// The language of a digest's interface text and dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    Fr,
    En,
}

impl Locale {
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::Fr => "fr",
            Locale::En => "en",
        }
    }
}

/// What a digest does with a period that has no story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyPolicy {
    /// Send nothing (and log it).
    Skip,
    /// Send a short « rien de neuf » note.
    Note,
}

/// A digest: a mailing list's weekly letter made of some channels.
#[derive(Debug, Clone)]
pub struct Digest {
    pub id: String,
    pub title: String,
    /// When it goes out, evaluated in `timezone`.
    pub schedule: crate::digest::Schedule,
    pub timezone: chrono_tz::Tz,
    /// Channel ids, in the order the letter shows them.
    pub channels: Vec<String>,
    /// `Name <address>` or a bare address.
    pub from: String,
    pub to: Vec<String>,
    pub locale: Locale,
    /// `mailto:` and `https:` URLs for List-Unsubscribe.
    pub unsubscribe: Vec<Url>,
    pub empty: EmptyPolicy,
    /// A folder whose `digest.html` / `digest.txt` replace the built-in templates.
    pub template_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct WebSubConfig {
    pub hub: Url,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: String,
    pub base_url: Url,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The sled folder, absolute (relative paths in the file are taken from its folder).
    pub path: PathBuf,
    /// Items older than this are pruned.
    pub retention: Duration,
}

/// How sources are fetched.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Default time between two polls of a source.
    pub interval: Duration,
    /// Total deadline for one request, redirects and body included.
    pub timeout: Duration,
    /// Deadline for the TCP (and TLS) connection alone.
    pub connect_timeout: Duration,
    /// Largest body accepted, counted after decompression.
    pub max_body: u64,
    /// Sources fetched at once, over all hosts.
    pub concurrency: usize,
    /// Requests at once to one host.
    pub per_host: usize,
    pub user_agent: String,
    /// Allow loopback, private, link-local, CGNAT and metadata addresses (tests, intranets).
    pub allow_private: bool,
    /// Longest wait between two polls of a failing source.
    pub max_backoff: Duration,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            interval: Duration::from_secs(30 * 60),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body: 10 * 1024 * 1024,
            concurrency: 16,
            per_host: 2,
            user_agent: format!("relais/{}", env!("CARGO_PKG_VERSION")),
            allow_private: false,
            max_backoff: Duration::from_secs(12 * 3600),
        }
    }
}

/// Where a source's feed lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An http(s) URL.
    Http(Url),
    /// A local file (absolute): the demo, tests, feeds written by other tools.
    File(PathBuf),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Http(url) => write!(f, "{url}"),
            Location::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A partner feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub id: String,
    pub title: String,
    pub location: Location,
    pub site: Option<Url>,
    /// Overrides `[fetch] interval`.
    pub interval: Option<Duration>,
    pub tags: Vec<String>,
    pub lang: Option<String>,
    /// Kept, listed and served, but not polled.
    pub paused: bool,
}

/// A curated topic, republished as feeds and pages.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub id: String,
    pub title: String,
    pub description: String,
    pub sources: Vec<String>,
    pub tags: Vec<String>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub lang: Option<String>,
    pub max_items: usize,
}

/// A configuration that cannot be used, located as precisely as possible.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {key}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
}

impl Config {
    /// Read and validate the file at `path`, and the sources file it names.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = read(path)?;
        Config::parse(&text, path)
    }

    /// Validate `text` as if read from `path` (paths inside resolve against its folder).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = from_toml(text, path)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let here = Located { text, path };

        // Each source with where it was written and its rank in that file, so errors
        // point into the right file.
        let mut raw_sources: Vec<(RawSource, Located<'_>, usize)> = raw
            .source
            .into_iter()
            .enumerate()
            .map(|(i, s)| (s, here, i + 1))
            .collect();
        let sources_text;
        let sources_path;
        if let Some(file) = &raw.sources_file {
            sources_path = dir.join(file.get_ref());
            // An absent sources file is an empty one: `relais sources import` creates it.
            if sources_path.exists() {
                sources_text = read(&sources_path)?;
                let extra: RawSourcesFile = from_toml(&sources_text, &sources_path)?;
                let there = Located {
                    text: &sources_text,
                    path: &sources_path,
                };
                raw_sources.extend(
                    extra
                        .source
                        .into_iter()
                        .enumerate()
                        .map(|(i, s)| (s, there, i + 1)),
                );
            }
        }

        let server = raw.server.unwrap_or_default().validate(here)?;
        let store = raw.store.unwrap_or_default().validate(here, &dir)?;
        let fetch = raw.fetch.unwrap_or_default().validate(&server.base_url);

        let mut sources: Vec<Source> = Vec::with_capacity(raw_sources.len());
        for (rs, at, rank) in raw_sources {
            let key = format!("source[{rank}]");
            check_id(&rs.id, at, &key)?;
            if sources.iter().any(|s| s.id == *rs.id.get_ref()) {
                return Err(at.error(
                    &rs.id,
                    &format!("{key}.id"),
                    format!("duplicate source id `{}`", rs.id.get_ref()),
                ));
            }
            sources.push(rs.validate(at, &dir, &key)?);
        }

        let mut channels: Vec<Channel> = Vec::with_capacity(raw.channel.len());
        for (index, rc) in raw.channel.into_iter().enumerate() {
            let key = format!("channel[{}]", index + 1);
            check_id(&rc.id, here, &key)?;
            if channels.iter().any(|c| c.id == *rc.id.get_ref()) {
                return Err(here.error(
                    &rc.id,
                    &format!("{key}.id"),
                    format!("duplicate channel id `{}`", rc.id.get_ref()),
                ));
            }
            for name in &rc.sources {
                if !sources.iter().any(|s| s.id == *name.get_ref()) {
                    return Err(here.error(
                        name,
                        &format!("{key}.sources"),
                        format!("no source has the id `{}`", name.get_ref()),
                    ));
                }
            }
            channels.push(rc.validate(here, &key)?);
        }

        let smtp = match raw.smtp {
            Some(rs) => Some(rs.validate(here)?),
            None => None,
        };
        let mut digests: Vec<Digest> = Vec::with_capacity(raw.digest.len());
        for (i, rd) in raw.digest.into_iter().enumerate() {
            let key = format!("digest[{}]", i + 1);
            check_id(&rd.id, here, &key)?;
            if digests.iter().any(|d| d.id == *rd.id.get_ref()) {
                return Err(here.error(
                    &rd.id,
                    &format!("{key}.id"),
                    format!("duplicate digest id `{}`", rd.id.get_ref()),
                ));
            }
            if smtp.is_none() {
                return Err(here.error(
                    &rd.id,
                    &key,
                    "a digest needs an [smtp] section to be sent".into(),
                ));
            }
            digests.push(rd.validate(here, &dir, &key, &channels)?);
        }
        let alerts = match raw.alerts {
            Some(ra) => Some(ra.validate(here, smtp.is_some(), &digests)?),
            None => None,
        };

        Ok(Config {
            path: path.to_path_buf(),
            server,
            store,
            fetch,
            sources,
            channels,
            websub: raw.websub.map(|w| WebSubConfig { hub: w.hub.0 }),
            stories: StoriesConfig {
                window: raw
                    .stories
                    .and_then(|s| s.window)
                    .map_or(crate::stories::DEFAULT_WINDOW, |d| d.0),
            },
            health: HealthConfig {
                silent_after: raw
                    .health
                    .and_then(|h| h.silent_after)
                    .map_or(HealthConfig::default().silent_after, |d| d.0),
            },
            alerts,
            smtp,
            digests,
            admin: match raw.admin {
                Some(ra) => Some(ra.validate(here)?),
                None => None,
            },
        })
    }

    pub fn digest(&self, id: &str) -> Option<&Digest> {
        self.digests.iter().find(|d| d.id == id)
    }

    /// The interval of one source.
    pub fn interval_of(&self, source: &Source) -> Duration {
        source.interval.unwrap_or(self.fetch.interval)
    }

    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id == id)
    }

    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn from_toml<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let at = Located { text, path };
        let span = e.span().unwrap_or(0..0);
        at.error_at(span.start, None, e.message().trim().to_string())
    })
}

/// A document being validated, to turn byte spans into `file:line:column: key` errors.
#[derive(Clone, Copy)]
struct Located<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Located<'_> {
    fn error<T>(&self, value: &Spanned<T>, key: &str, message: String) -> ConfigError {
        self.error_at(value.span().start, Some(key), message)
    }

    fn error_at(&self, offset: usize, key: Option<&str>, message: String) -> ConfigError {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |l| l.chars().count()) + 1;
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line,
            column,
            key: key.map_or_else(|| key_at(self.text, offset), str::to_string),
            message,
        }
    }
}

/// The dotted key a byte offset of a TOML document belongs to (`server.listen`,
/// `source[3].url`), found by reading the table headers and key/value lines before it.
/// toml's errors keep their key path private, and operators need the key.
fn key_at(text: &str, offset: usize) -> String {
    let mut table = String::new();
    let mut counts: Vec<(String, usize)> = Vec::new();
    let mut key: Option<String> = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if pos > offset {
            break;
        }
        let trimmed = line.trim();
        if let Some(name) = trimmed
            .strip_prefix("[[")
            .and_then(|r| r.split("]]").next())
        {
            let name = name.trim().to_string();
            let n = match counts.iter_mut().find(|(k, _)| *k == name) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    counts.push((name.clone(), 1));
                    1
                }
            };
            table = format!("{name}[{n}]");
            key = None;
        } else if let Some(name) = trimmed.strip_prefix('[').and_then(|r| r.split(']').next()) {
            table = name.trim().to_string();
            key = None;
        } else if let Some((k, _)) = trimmed.split_once('=') {
            let k = k.trim();
            if !k.is_empty() && !k.starts_with('#') && !k.contains(['"', '[', ',']) {
                // On the offending line itself, a key before the offset is the one at fault;
                // an offset at the start of the line points at the key (unknown field).
                key = Some(k.to_string());
            }
        }
        pos += line.len();
    }
    match (table.is_empty(), key) {
        (true, Some(k)) => k,
        (false, Some(k)) => format!("{table}.{k}"),
        (_, None) => table,
    }
}

fn check_id(id: &Spanned<String>, at: Located<'_>, key: &str) -> Result<(), ConfigError> {
    let value = id.get_ref();
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(at.error(
            id,
            &format!("{key}.id"),
            format!("invalid id `{value}`: use 1 to 64 characters among a-z, 0-9 and -"),
        ))
    }
}

// ---- The file's shape. Values that have a syntax of their own (durations, sizes, URLs)
// are parsed while deserialising, so toml reports their exact position. ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    sources_file: Option<Spanned<String>>,
    server: Option<RawServer>,
    store: Option<RawStore>,
    fetch: Option<RawFetch>,
    #[serde(default)]
    source: Vec<RawSource>,
    #[serde(default)]
    channel: Vec<RawChannel>,
    websub: Option<RawWebSub>,
    stories: Option<RawStories>,
    smtp: Option<RawSmtp>,
    #[serde(default)]
    digest: Vec<RawDigest>,
    health: Option<RawHealth>,
    alerts: Option<RawAlerts>,
    admin: Option<RawAdmin>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    silent_after: Option<HumanDuration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    to: Spanned<OneOrMany>,
    from: Option<Spanned<String>>,
    failing_after: Option<HumanDuration>,
    check_every: Option<HumanDuration>,
    weekly_summary: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    locale: Option<Spanned<String>>,
}

impl RawAlerts {
    fn validate(
        self,
        at: Located<'_>,
        has_smtp: bool,
        digests: &[Digest],
    ) -> Result<AlertsConfig, ConfigError> {
        if !has_smtp {
            return Err(at.error(
                &self.to,
                "alerts",
                "alerts need an [smtp] section to be sent".into(),
            ));
        }
        let to = recipients(&self.to, at, "alerts.to")?;
        let from = match &self.from {
            Some(f) => {
                mailbox(f.get_ref()).map_err(|m| at.error(f, "alerts.from", m))?;
                f.get_ref().trim().to_string()
            }
            None => match digests.first() {
                Some(d) => d.from.clone(),
                None => {
                    return Err(at.error(
                        &self.to,
                        "alerts.from",
                        "alerts need a sender: set `from` (no [[digest]] gives one)".into(),
                    ))
                }
            },
        };
        let weekly_summary = match &self.weekly_summary {
            Some(text) => Some(
                crate::digest::Schedule::parse(text.get_ref())
                    .map_err(|m| at.error(text, "alerts.weekly_summary", m))?,
            ),
            None => None,
        };
        Ok(AlertsConfig {
            to,
            from,
            failing_after: self
                .failing_after
                .map_or(Duration::from_secs(24 * 3600), |d| d.0),
            check_every: self
                .check_every
                .map_or(Duration::from_secs(10 * 60), |d| d.0),
            weekly_summary,
            timezone: timezone(self.timezone.as_ref(), at, "alerts.timezone")?,
            locale: locale(self.locale.as_ref(), at, "alerts.locale")?,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    token_env: Spanned<String>,
    label: Option<Spanned<String>>,
}

impl RawAdmin {
    fn validate(self, at: Located<'_>) -> Result<AdminConfig, ConfigError> {
        let name = self.token_env.get_ref();
        if !valid_env_name(name) {
            return Err(at.error(
                &self.token_env,
                "admin.token_env",
                format!("invalid variable name `{name}`: the name of an environment variable, not the token"),
            ));
        }
        let label = match &self.label {
            Some(l) => {
                let text = l.get_ref().trim();
                if text.is_empty()
                    || text.chars().count() > 64
                    || text.chars().any(char::is_control)
                    || text == "cli"
                {
                    return Err(at.error(
                        l,
                        "admin.label",
                        format!("invalid label `{}`: 1 to 64 characters, not `cli` (the command line's)", l.get_ref()),
                    ));
                }
                text.to_string()
            }
            None => "api".to_string(),
        };
        let token = std::env::var(name).ok().filter(|t| !t.is_empty());
        Ok(AdminConfig {
            token_env: self.token_env.into_inner(),
            token,
            label,
        })
    }
}

/// A time zone by IANA name; Europe/Paris when unset.
fn timezone(
    value: Option<&Spanned<String>>,
    at: Located<'_>,
    key: &str,
) -> Result<chrono_tz::Tz, ConfigError> {
    match value {
        None => Ok(chrono_tz::Europe::Paris),
        Some(tz) => tz.get_ref().trim().parse::<chrono_tz::Tz>().map_err(|_| {
            at.error(
                tz,
                key,
                format!(
                    "unknown time zone `{}`: use an IANA name such as Europe/Paris",
                    tz.get_ref()
                ),
            )
        }),
    }
}

/// `fr` or `en`; French when unset.
fn locale(
    value: Option<&Spanned<String>>,
    at: Located<'_>,
    key: &str,
) -> Result<Locale, ConfigError> {
    match value {
        None => Ok(Locale::Fr),
        Some(v) => match v.get_ref().as_str() {
            "fr" => Ok(Locale::Fr),
            "en" => Ok(Locale::En),
            other => Err(at.error(v, key, format!("unknown locale `{other}`: use fr or en"))),
        },
    }
}

/// One address or a list, at least one, each a valid mailbox.
fn recipients(
    value: &Spanned<OneOrMany>,
    at: Located<'_>,
    key: &str,
) -> Result<Vec<String>, ConfigError> {
    let to: Vec<String> = match value.get_ref() {
        OneOrMany::One(s) => vec![s.clone()],
        OneOrMany::Many(v) => v.clone(),
    };
    if to.is_empty() {
        return Err(at.error(value, key, "at least one recipient is needed".into()));
    }
    for address in &to {
        mailbox(address).map_err(|m| at.error(value, key, m))?;
    }
    Ok(to.into_iter().map(|t| t.trim().to_string()).collect())
}

/// An environment variable's name (what `*_env` keys hold): letters, digits, `_`.
fn valid_env_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: Spanned<String>,
    port: Option<Spanned<i64>>,
    security: Option<Spanned<String>>,
    username: Option<String>,
    password_env: Option<Spanned<String>>,
    timeout: Option<HumanDuration>,
    hello_name: Option<String>,
}

impl RawSmtp {
    fn validate(self, at: Located<'_>) -> Result<SmtpConfig, ConfigError> {
        let host = self.host.get_ref().trim().to_string();
        if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(at.error(
                &self.host,
                "smtp.host",
                format!("invalid host `{}`", self.host.get_ref()),
            ));
        }
        let security = match self.security.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("starttls") => SmtpSecurity::StartTls,
            Some("none") => SmtpSecurity::None,
            Some("tls") => SmtpSecurity::Tls,
            Some(other) => {
                let value = self.security.as_ref().map_or(&self.host, |s| s);
                return Err(at.error(
                    value,
                    "smtp.security",
                    format!("unknown security `{other}`: use none, starttls or tls"),
                ));
            }
        };
        let port = match self.port {
            Some(p) => u16::try_from(*p.get_ref())
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| {
                    at.error(
                        &p,
                        "smtp.port",
                        format!("{} is out of range: use 1 to 65535", p.get_ref()),
                    )
                })?,
            None => match security {
                SmtpSecurity::None => 25,
                SmtpSecurity::StartTls => 587,
                SmtpSecurity::Tls => 465,
            },
        };
        if let Some(name) = &self.password_env {
            if !valid_env_name(name.get_ref()) {
                return Err(at.error(
                    name,
                    "smtp.password_env",
                    format!(
                        "invalid variable name `{}`: the name of an environment variable, not the password",
                        name.get_ref()
                    ),
                ));
            }
        }
        Ok(SmtpConfig {
            host,
            port,
            security,
            username: self.username.filter(|u| !u.trim().is_empty()),
            password_env: self.password_env.map(Spanned::into_inner),
            timeout: self.timeout.map_or(Duration::from_secs(10 * 60), |d| d.0),
            hello_name: self.hello_name.filter(|h| !h.trim().is_empty()),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDigest {
    id: Spanned<String>,
    title: Option<String>,
    schedule: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    channels: Spanned<Vec<Spanned<String>>>,
    from: Spanned<String>,
    to: Spanned<OneOrMany>,
    locale: Option<Spanned<String>>,
    unsubscribe: Option<Spanned<OneOrMany>>,
    empty: Option<Spanned<String>>,
    template_dir: Option<Spanned<String>>,
}

/// A string or a list of strings (`to = "a@x"` or `to = ["a@x", "b@x"]`).
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

impl RawDigest {
    fn validate(
        self,
        at: Located<'_>,
        dir: &Path,
        key: &str,
        channels: &[Channel],
    ) -> Result<Digest, ConfigError> {
        let schedule_text = self
            .schedule
            .as_ref()
            .map_or(crate::digest::DEFAULT_SCHEDULE, |s| s.get_ref().as_str());
        let schedule = crate::digest::Schedule::parse(schedule_text).map_err(|message| {
            let value = self.schedule.as_ref().map_or(&self.id, |s| s);
            at.error(value, &format!("{key}.schedule"), message)
        })?;
        let timezone = timezone(self.timezone.as_ref(), at, &format!("{key}.timezone"))?;
        if self.channels.get_ref().is_empty() {
            return Err(at.error(
                &self.channels,
                &format!("{key}.channels"),
                "a digest needs at least one channel".into(),
            ));
        }
        for name in self.channels.get_ref() {
            if !channels.iter().any(|c| c.id == *name.get_ref()) {
                return Err(at.error(
                    name,
                    &format!("{key}.channels"),
                    format!("no channel has the id `{}`", name.get_ref()),
                ));
            }
        }
        mailbox(self.from.get_ref())
            .map_err(|m| at.error(&self.from, &format!("{key}.from"), m))?;
        let to = recipients(&self.to, at, &format!("{key}.to"))?;
        let locale = locale(self.locale.as_ref(), at, &format!("{key}.locale"))?;
        let empty = match self.empty.as_ref().map(|e| e.get_ref().as_str()) {
            None | Some("skip") => EmptyPolicy::Skip,
            Some("note") => EmptyPolicy::Note,
            Some(other) => {
                let value = self.empty.as_ref().map_or(&self.id, |e| e);
                return Err(at.error(
                    value,
                    &format!("{key}.empty"),
                    format!("unknown value `{other}`: use skip or note"),
                ));
            }
        };
        let mut unsubscribe = Vec::new();
        if let Some(list) = self.unsubscribe {
            let span = list.span();
            for u in list.into_inner().into_vec() {
                let ok = Url::parse(u.trim()).ok().filter(|url| match url.scheme() {
                    "mailto" => url.path().contains('@'),
                    "https" | "http" => url.host().is_some(),
                    _ => false,
                });
                match ok {
                    Some(url) => unsubscribe.push(url),
                    None => {
                        return Err(at.error_at(
                            span.start,
                            Some(&format!("{key}.unsubscribe")),
                            format!("invalid unsubscribe URL `{u}`: use mailto: or https:"),
                        ))
                    }
                }
            }
        }
        let template_dir = match &self.template_dir {
            Some(t) if t.get_ref().trim().is_empty() => {
                return Err(at.error(t, &format!("{key}.template_dir"), "empty path".into()))
            }
            Some(t) => Some(clean(&dir.join(t.get_ref()))),
            None => None,
        };
        let id = self.id.into_inner();
        Ok(Digest {
            title: self
                .title
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| id.clone()),
            id,
            schedule,
            timezone,
            channels: self
                .channels
                .into_inner()
                .into_iter()
                .map(Spanned::into_inner)
                .collect(),
            from: self.from.into_inner().trim().to_string(),
            to,
            locale,
            unsubscribe,
            empty,
            template_dir,
        })
    }
}

/// Checks `Name <local@domain>` or `local@domain`, as far as a configuration can: one
/// `@` with something on both sides, no spaces or control characters in the address.
/// The mailer parses it again for real.
fn mailbox(text: &str) -> Result<(), String> {
    let text = text.trim();
    let address = match (text.rfind('<'), text.ends_with('>')) {
        (Some(open), true) => text.get(open + 1..text.len() - 1).unwrap_or(""),
        (None, false) => text,
        _ => return Err(format!("invalid address `{text}`: unbalanced < >")),
    };
    let ok = match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !address.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid address `{text}`: expected name@domain or Name <name@domain>"
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStories {
    window: Option<HumanDuration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebSub {
    hub: HttpUrl,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSourcesFile {
    #[serde(default)]
    source: Vec<RawSource>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<Spanned<String>>,
    base_url: Option<HttpUrl>,
}

impl RawServer {
    fn validate(self, at: Located<'_>) -> Result<ServerConfig, ConfigError> {
        let listen = match self.listen {
            Some(l) => {
                if l.get_ref().parse::<std::net::SocketAddr>().is_err() {
                    return Err(at.error(
                        &l,
                        "server.listen",
                        format!(
                            "invalid address `{}`: expected IP:PORT such as 127.0.0.1:8080",
                            l.get_ref()
                        ),
                    ));
                }
                l.into_inner()
            }
            None => "127.0.0.1:8080".to_string(),
        };
        let base_url = match self.base_url {
            Some(u) => u.0,
            None => Url::parse(&format!("http://{listen}/")).map_err(|e| {
                at.error_at(0, Some("server.base_url"), format!("cannot derive: {e}"))
            })?,
        };
        Ok(ServerConfig { listen, base_url })
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: Option<Spanned<String>>,
    retention: Option<HumanDuration>,
}

impl RawStore {
    fn validate(self, at: Located<'_>, dir: &Path) -> Result<StoreConfig, ConfigError> {
        let path = match self.path {
            Some(p) if p.get_ref().trim().is_empty() => {
                return Err(at.error(&p, "store.path", "empty path".into()))
            }
            Some(p) => clean(&dir.join(p.get_ref())),
            None => clean(&dir.join("data/relais.db")),
        };
        Ok(StoreConfig {
            path,
            retention: self
                .retention
                .map_or(Duration::from_secs(400 * 86_400), |d| d.0),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFetch {
    interval: Option<HumanDuration>,
    timeout: Option<HumanDuration>,
    connect_timeout: Option<HumanDuration>,
    max_body: Option<ByteSize>,
    concurrency: Option<Count>,
    per_host: Option<Count>,
    user_agent: Option<String>,
    allow_private: Option<bool>,
    max_backoff: Option<HumanDuration>,
}

impl RawFetch {
    fn validate(self, base_url: &Url) -> FetchConfig {
        let d = FetchConfig::default();
        FetchConfig {
            interval: self.interval.map_or(d.interval, |v| v.0),
            timeout: self.timeout.map_or(d.timeout, |v| v.0),
            connect_timeout: self.connect_timeout.map_or(d.connect_timeout, |v| v.0),
            max_body: self.max_body.map_or(d.max_body, |v| v.0),
            concurrency: self.concurrency.map_or(d.concurrency, |v| v.0),
            per_host: self.per_host.map_or(d.per_host, |v| v.0),
            user_agent: self
                .user_agent
                .unwrap_or_else(|| format!("{} (+{})", d.user_agent, base_url)),
            allow_private: self.allow_private.unwrap_or(d.allow_private),
            max_backoff: self.max_backoff.map_or(d.max_backoff, |v| v.0),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    id: Spanned<String>,
    title: Option<String>,
    url: Spanned<String>,
    site: Option<HttpUrl>,
    interval: Option<HumanDuration>,
    #[serde(default)]
    tags: Vec<String>,
    lang: Option<String>,
    #[serde(default)]
    paused: bool,
}

impl RawSource {
    fn validate(self, at: Located<'_>, dir: &Path, key: &str) -> Result<Source, ConfigError> {
        let location = location(self.url.get_ref(), dir)
            .map_err(|message| at.error(&self.url, &format!("{key}.url"), message))?;
        let id = self.id.into_inner();
        Ok(Source {
            title: self.title.unwrap_or_else(|| id.clone()),
            id,
            location,
            site: self.site.map(|u| u.0),
            interval: self.interval.map(|d| d.0),
            tags: self.tags,
            lang: self.lang,
            paused: self.paused,
        })
    }
}

/// A source `url`: an http(s) URL, a `file:` URL, or a path (relative to the config's
/// folder).
fn location(value: &str, dir: &Path) -> Result<Location, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("empty url".into());
    }
    match Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Ok(Location::Http(url))
        }
        Ok(url) if url.scheme() == "file" => url
            .to_file_path()
            .map(Location::File)
            .map_err(|()| format!("invalid file url `{value}`")),
        // One letter is a Windows drive or a relative path such as `c:feed.xml`; anything
        // else is a scheme relais cannot fetch.
        Ok(url) if url.scheme().len() > 1 => Err(format!(
            "unsupported scheme `{}` in `{value}`: use http, https or a file path",
            url.scheme()
        )),
        _ => Ok(Location::File(clean(&dir.join(value)))),
    }
}

/// `a/b/../c` → `a/c`, lexically (no file system access, links not followed), so paths
/// shown to operators read as they would write them.
fn clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    id: Spanned<String>,
    title: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    sources: Vec<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    include: Vec<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    lang: Option<String>,
    max_items: Option<Spanned<i64>>,
}

impl RawChannel {
    fn validate(self, at: Located<'_>, key: &str) -> Result<Channel, ConfigError> {
        for (name, phrases) in [("include", &self.include), ("exclude", &self.exclude)] {
            if let Some(empty) = phrases.iter().find(|p| p.get_ref().trim().is_empty()) {
                return Err(at.error(empty, &format!("{key}.{name}"), "empty phrase".into()));
            }
        }
        let max_items = match self.max_items {
            Some(m) if !(1..=1000).contains(m.get_ref()) => {
                return Err(at.error(
                    &m,
                    &format!("{key}.max_items"),
                    format!("{} is out of range: use 1 to 1000", m.get_ref()),
                ))
            }
            Some(m) => m.into_inner() as usize,
            None => 50,
        };
        let id = self.id.into_inner();
        Ok(Channel {
            title: self.title.unwrap_or_else(|| id.clone()),
            id,
            description: self.description,
            sources: self.sources.into_iter().map(Spanned::into_inner).collect(),
            tags: self.tags,
            include: self.include.into_iter().map(Spanned::into_inner).collect(),
            exclude: self.exclude.into_iter().map(Spanned::into_inner).collect(),
            lang: self.lang,
            max_items,
        })
    }
}

/// A humantime duration ("90s", "30m", "1h", "7d"), more than zero.
struct HumanDuration(Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match humantime::parse_duration(s.trim()) {
            Ok(v) if v.is_zero() => Err(serde::de::Error::custom(format!(
                "invalid duration `{s}`: must be more than zero"
            ))),
            Ok(v) => Ok(HumanDuration(v)),
            Err(e) => Err(serde::de::Error::custom(format!(
                "invalid duration `{s}`: {e} (use e.g. \"90s\", \"30m\", \"1h\", \"7d\")"
            ))),
        }
    }
}

/// A size: "512KiB", "10MiB", "1GB", or a number of bytes.
struct ByteSize(u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(n) if n > 0 => Ok(ByteSize(n)),
            Raw::Bytes(_) => Err(serde::de::Error::custom("size must be more than zero")),
            Raw::Text(s) => parse_size(&s).map(ByteSize).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "invalid size `{s}` (use e.g. \"512KiB\", \"10MiB\")"
                ))
            }),
        }
    }
}

/// Parse "10MiB", "512 KiB", "1GB", "2048": binary (KiB, MiB, GiB) and decimal (kB, MB,
/// GB) units, case-insensitive; `None` for zero, overflow or an unknown unit.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor).filter(|&n| n > 0)
}

/// A positive count (concurrency limits).
struct Count(usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        match usize::try_from(n) {
            Ok(n) if (1..=10_000).contains(&n) => Ok(Count(n)),
            _ => Err(serde::de::Error::custom(format!(
                "{n} is out of range: use 1 to 10000"
            ))),
        }
    }
}

/// An absolute http(s) URL.
struct HttpUrl(Url);

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match Url::parse(s.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(HttpUrl(u)),
            Ok(u) => Err(serde::de::Error::custom(format!(
                "invalid url `{s}`: scheme `{}` is not http or https",
                u.scheme()
            ))),
            Err(e) => Err(serde::de::Error::custom(format!("invalid url `{s}`: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[server]
listen = "127.0.0.1:0"
base_url = "https://veille.example.org"

[store]
path = "state/db"
retention = "30d"

[fetch]
interval = "15m"
max_body = "2MiB"
per_host = 1

[[source]]
id = "ciedel"
title = "CIEDEL"
url = "https://ciedel.example.org/feed.xml"
tags = ["formation"]

[[source]]
id = "local"
url = "demo/local.rss"
interval = "1h"

[[channel]]
id = "tout"
title = "Tout"
include = ["coopération décentralisée"]
"#;

    fn error_of(text: &str) -> String {
        match Config::parse(text, Path::new("/etc/relais/relais.toml")) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_good_file_is_read_with_paths_relative_to_it() {
        let c = Config::parse(GOOD, Path::new("/etc/relais/relais.toml")).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:0");
        assert_eq!(c.store.path, PathBuf::from("/etc/relais/state/db"));
        assert_eq!(c.store.retention, Duration::from_secs(30 * 86_400));
        assert_eq!(c.fetch.interval, Duration::from_secs(900));
        assert_eq!(c.fetch.max_body, 2 * 1024 * 1024);
        assert_eq!(c.fetch.per_host, 1);
        assert_eq!(c.fetch.concurrency, 16);
        assert_eq!(
            c.fetch.user_agent,
            "relais/0.1.0 (+https://veille.example.org/)"
        );
        assert_eq!(c.sources.len(), 2);
        assert_eq!(c.sources[1].title, "local");
        assert_eq!(
            c.sources[1].location,
            Location::File(PathBuf::from("/etc/relais/demo/local.rss"))
        );
        assert_eq!(c.interval_of(&c.sources[1]), Duration::from_secs(3600));
        assert_eq!(c.interval_of(&c.sources[0]), Duration::from_secs(900));
        assert_eq!(c.channels[0].max_items, 50);
        assert_eq!(c.stories.window, Duration::from_secs(60 * 86_400));
    }

    #[test]
    fn the_story_window_is_read_and_checked() {
        let with = |section: &str| format!("{GOOD}\n{section}");
        let c =
            Config::parse(&with("[stories]\nwindow = \"21d\"\n"), Path::new("/r.toml")).unwrap();
        assert_eq!(c.stories.window, Duration::from_secs(21 * 86_400));
        let c = Config::parse(&with("[stories]\n"), Path::new("/r.toml")).unwrap();
        assert_eq!(c.stories.window, Duration::from_secs(60 * 86_400));
        let e = error_of(&with("[stories]\nwindow = \"two months\"\n"));
        assert!(
            e.contains("stories.window: invalid duration `two months`"),
            "{e}"
        );
        let e = error_of(&with("[stories]\nwindows = \"2d\"\n"));
        assert!(e.contains("unknown field `windows`"), "{e}");
    }

    #[test]
    fn errors_name_file_line_column_and_key() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "[server]\nlisten = \"127.0.0.1:8080\"\nlisen = \"x\"\n",
                "/etc/relais/relais.toml:3:1: server.lisen: unknown field `lisen`",
                "unknown key",
            ),
            (
                "[fetch]\ninterval = \"5 minutes please\"\n",
                "/etc/relais/relais.toml:2:12: fetch.interval: invalid duration `5 minutes please`",
                "bad duration",
            ),
            (
                "[fetch]\ntimeout = \"0s\"\n",
                "/etc/relais/relais.toml:2:11: fetch.timeout: invalid duration `0s`: must be more than zero",
                "zero duration",
            ),
            (
                "[fetch]\nmax_body = \"10 parsecs\"\n",
                "/etc/relais/relais.toml:2:12: fetch.max_body: invalid size `10 parsecs`",
                "bad size",
            ),
            (
                "[server]\nbase_url = \"ftp://example.org/\"\n",
                "/etc/relais/relais.toml:2:12: server.base_url: invalid url `ftp://example.org/`: scheme `ftp` is not http or https",
                "bad url scheme",
            ),
            (
                "[server]\nlisten = \"localhost\"\n",
                "/etc/relais/relais.toml:2:10: server.listen: invalid address `localhost`",
                "bad listen",
            ),
            (
                "[[source]]\nid = \"a\"\nurl = \"a.rss\"\n\n[[source]]\nid = \"a\"\nurl = \"b.rss\"\n",
                "/etc/relais/relais.toml:6:6: source[2].id: duplicate source id `a`",
                "duplicate id",
            ),
            (
                "[[source]]\nid = \"Cap Rural\"\nurl = \"a.rss\"\n",
                "/etc/relais/relais.toml:2:6: source[1].id: invalid id `Cap Rural`",
                "bad id",
            ),
            (
                "[[source]]\nid = \"a\"\nurl = \"gopher://x.org/\"\n",
                "/etc/relais/relais.toml:3:7: source[1].url: unsupported scheme `gopher`",
                "bad source url",
            ),
            (
                "[[source]]\nid = \"a\"\nurl = \"a.rss\"\n[[source]]\nid = \"b\"\n",
                "/etc/relais/relais.toml:4:1: source[2]: missing field `url`",
                "missing url",
            ),
            (
                "[[source]]\nid = \"a\"\nurl = \"a.rss\"\n[[channel]]\nid = \"c\"\nsources = [\n  \"a\",\n  \"b\",\n]\n",
                "/etc/relais/relais.toml:8:3: channel[1].sources: no source has the id `b`",
                "unknown source in channel",
            ),
            (
                "[[channel]]\nid = \"c\"\nmax_items = 0\n",
                "/etc/relais/relais.toml:3:13: channel[1].max_items: 0 is out of range",
                "max_items",
            ),
            (
                "[server\nlisten = 1\n",
                "/etc/relais/relais.toml:1:",
                "toml syntax",
            ),
        ];
        for (text, expected, what) in cases {
            let got = error_of(text);
            assert!(
                got.starts_with(expected),
                "{what}: expected `{expected}…`, got `{got}`"
            );
        }
    }

    const DIGEST: &str = r#"
[[channel]]
id = "coop"
[[channel]]
id = "rural"

[smtp]
host = "127.0.0.1"
port = 2525
security = "none"
password_env = "RELAIS_TEST_SMTP_PASSWORD"

[[digest]]
id = "hebdo"
title = "La lettre du réseau"
channels = ["coop", "rural"]
from = "Veille du réseau <veille@example.org>"
to = "reseau@lists.example.org"
unsubscribe = ["mailto:reseau-unsubscribe@lists.example.org", "https://lists.example.org/u/reseau"]
template_dir = "templates/hebdo"

[[digest]]
id = "weekly"
schedule = "30 7 * * Fri"
timezone = "America/Montreal"
channels = ["rural"]
from = "veille@example.org"
to = ["a@lists.example.org", "b@lists.example.org"]
locale = "en"
empty = "note"
"#;

    #[test]
    fn digests_and_smtp_are_read_with_defaults() {
        let c = Config::parse(DIGEST, Path::new("/etc/relais/relais.toml")).unwrap();
        let smtp = c.smtp.as_ref().unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port), ("127.0.0.1", 2525));
        assert_eq!(smtp.security, SmtpSecurity::None);
        assert_eq!(smtp.timeout, Duration::from_secs(600));
        assert_eq!(
            smtp.password(),
            Err("smtp.password_env: the variable `RELAIS_TEST_SMTP_PASSWORD` is not set".into())
        );
        let hebdo = c.digest("hebdo").unwrap();
        assert_eq!(hebdo.schedule.to_string(), crate::digest::DEFAULT_SCHEDULE);
        assert_eq!(hebdo.timezone, chrono_tz::Europe::Paris);
        assert_eq!(hebdo.to, ["reseau@lists.example.org"]);
        assert_eq!(hebdo.locale, Locale::Fr);
        assert_eq!(hebdo.empty, EmptyPolicy::Skip);
        assert_eq!(hebdo.unsubscribe.len(), 2);
        assert_eq!(
            hebdo.template_dir.as_deref(),
            Some(Path::new("/etc/relais/templates/hebdo"))
        );
        let weekly = c.digest("weekly").unwrap();
        assert_eq!(weekly.title, "weekly");
        assert_eq!(weekly.timezone, chrono_tz::America::Montreal);
        assert_eq!(
            (weekly.locale, weekly.empty),
            (Locale::En, EmptyPolicy::Note)
        );
        assert_eq!(weekly.to.len(), 2);
    }

    #[test]
    fn digest_errors_name_the_key() {
        let base = "[[channel]]\nid = \"coop\"\n[smtp]\nhost = \"127.0.0.1\"\n[[digest]]\nid = \"d\"\nfrom = \"v@example.org\"\nto = \"l@example.org\"\n";
        let cases: &[(&str, &str)] = &[
            (
                "channels = [\"nope\"]\n",
                "digest[1].channels: no channel has the id `nope`",
            ),
            (
                "channels = []\n",
                "digest[1].channels: a digest needs at least one channel",
            ),
            (
                "channels = [\"coop\"]\nschedule = \"every monday\"\n",
                "digest[1].schedule: invalid cron expression `every monday`",
            ),
            (
                "channels = [\"coop\"]\ntimezone = \"Europe/Pariss\"\n",
                "digest[1].timezone: unknown time zone `Europe/Pariss`",
            ),
            (
                "channels = [\"coop\"]\nlocale = \"de\"\n",
                "digest[1].locale: unknown locale `de`",
            ),
            (
                "channels = [\"coop\"]\nempty = \"never\"\n",
                "digest[1].empty: unknown value `never`",
            ),
            (
                "channels = [\"coop\"]\nunsubscribe = \"ftp://x.org/\"\n",
                "digest[1].unsubscribe: invalid unsubscribe URL `ftp://x.org/`",
            ),
            (
                "channels = [\"coop\"]\nsubject = \"x\"\n",
                "digest[1].subject: unknown field `subject`",
            ),
        ];
        for (extra, expected) in cases {
            let got = error_of(&format!("{base}{extra}"));
            assert!(got.contains(expected), "expected `{expected}`, got `{got}`");
        }
        let got = error_of("[[channel]]\nid = \"coop\"\n[[digest]]\nid = \"d\"\nchannels = [\"coop\"]\nfrom = \"v@example.org\"\nto = \"l@example.org\"\n");
        assert!(
            got.contains("digest[1]: a digest needs an [smtp] section"),
            "{got}"
        );
        let got = error_of("[smtp]\nhost = \"x\"\nsecurity = \"ssl\"\n");
        assert!(
            got.contains("smtp.security: unknown security `ssl`"),
            "{got}"
        );
        let got = error_of("[smtp]\nhost = \"x\"\npassword_env = \"hunter2!\"\n");
        assert!(
            got.contains("smtp.password_env: invalid variable name"),
            "{got}"
        );
        let got = error_of(
            &base
                .replace("v@example.org", "veille at example")
                .replace("[[digest]]", "[[digest]]\nchannels = [\"coop\"]"),
        );
        assert!(
            got.contains("digest[1].from: invalid address `veille at example`"),
            "{got}"
        );
    }

    #[test]
    fn health_and_alerts_are_read_with_defaults_and_checked() {
        let c = Config::parse("", Path::new("/etc/relais/relais.toml")).unwrap();
        assert_eq!(c.health.silent_after, Duration::from_secs(45 * 86_400));
        assert!(c.alerts.is_none());

        let smtp = "[smtp]\nhost = \"127.0.0.1\"\nsecurity = \"none\"\n";
        let text = format!(
            "[health]\nsilent_after = \"30d\"\n{smtp}[alerts]\nto = \"admin@example.org\"\nfrom = \"relais <relais@example.org>\"\n"
        );
        let c = Config::parse(&text, Path::new("/etc/relais/relais.toml")).unwrap();
        assert_eq!(c.health.silent_after, Duration::from_secs(30 * 86_400));
        let a = c.alerts.unwrap();
        assert_eq!(a.to, ["admin@example.org"]);
        assert_eq!(a.from, "relais <relais@example.org>");
        assert_eq!(a.failing_after, Duration::from_secs(24 * 3600));
        assert_eq!(a.check_every, Duration::from_secs(600));
        assert!(a.weekly_summary.is_none());
        assert_eq!(a.timezone, chrono_tz::Europe::Paris);
        assert_eq!(a.locale, Locale::Fr);

        // Without `from`, the first digest's sender.
        let text = format!(
            "[[channel]]\nid = \"c\"\n{smtp}[[digest]]\nid = \"d\"\nchannels = [\"c\"]\nfrom = \"Veille <v@example.org>\"\nto = \"l@example.org\"\n[alerts]\nto = [\"a@example.org\", \"b@example.org\"]\nfailing_after = \"2h\"\ncheck_every = \"1m\"\nweekly_summary = \"0 0 8 * * Mon\"\nlocale = \"en\"\n"
        );
        let a = Config::parse(&text, Path::new("/x/relais.toml"))
            .unwrap()
            .alerts
            .unwrap();
        assert_eq!(a.from, "Veille <v@example.org>");
        assert_eq!(a.to.len(), 2);
        assert_eq!(a.failing_after, Duration::from_secs(7200));
        assert_eq!(a.check_every, Duration::from_secs(60));
        assert_eq!(a.weekly_summary.unwrap().to_string(), "0 0 8 * * Mon");
        assert_eq!(a.locale, Locale::En);

        let alerts = "[alerts]\nto = \"a@example.org\"\nfrom = \"r@example.org\"\n";
        let cases: Vec<(String, &str)> = vec![
            (
                "[health]\nsilent_after = \"soon\"\n".into(),
                "relais.toml:2:16: health.silent_after: invalid duration `soon`",
            ),
            (
                "[health]\nsilent = \"3d\"\n".into(),
                "relais.toml:2:1: health.silent: unknown field `silent`",
            ),
            (alerts.into(), "alerts: alerts need an [smtp] section"),
            (
                format!("{smtp}[alerts]\nto = \"a@example.org\"\n"),
                "alerts.from: alerts need a sender",
            ),
            (
                format!("{smtp}[alerts]\nto = []\nfrom = \"r@example.org\"\n"),
                "alerts.to: at least one recipient is needed",
            ),
            (
                format!("{smtp}[alerts]\nto = \"admin\"\nfrom = \"r@example.org\"\n"),
                "alerts.to: invalid address `admin`",
            ),
            (
                format!("{smtp}{alerts}failing_after = \"0s\"\n"),
                "alerts.failing_after: invalid duration `0s`: must be more than zero",
            ),
            (
                format!("{smtp}{alerts}weekly_summary = \"mondays\"\n"),
                "alerts.weekly_summary: invalid cron expression `mondays`",
            ),
            (
                format!("{smtp}{alerts}timezone = \"Paris\"\n"),
                "alerts.timezone: unknown time zone `Paris`",
            ),
            (
                format!("{smtp}{alerts}locale = \"de\"\n"),
                "alerts.locale: unknown locale `de`",
            ),
            (
                format!("{smtp}{alerts}cc = \"x@example.org\"\n"),
                "alerts.cc: unknown field `cc`",
            ),
        ];
        for (text, expected) in cases {
            let got = error_of(&text);
            assert!(got.contains(expected), "expected `{expected}`, got `{got}`");
        }
    }

    #[test]
    fn a_sources_file_adds_sources_and_its_errors_name_it() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("relais.toml");
        std::fs::write(
            &main,
            "sources_file = \"sources.toml\"\n[[source]]\nid = \"a\"\nurl = \"a.rss\"\n",
        )
        .unwrap();
        // Absent: no extra sources, no error.
        assert_eq!(Config::load(&main).unwrap().sources.len(), 1);
        std::fs::write(
            dir.path().join("sources.toml"),
            "[[source]]\nid = \"b\"\nurl = \"https://b.example.org/feed\"\n",
        )
        .unwrap();
        let c = Config::load(&main).unwrap();
        assert_eq!(c.sources.len(), 2);
        std::fs::write(
            dir.path().join("sources.toml"),
            "[[source]]\nid = \"a\"\nurl = \"https://b.example.org/feed\"\n",
        )
        .unwrap();
        let e = Config::load(&main).unwrap_err().to_string();
        assert!(
            e.contains("sources.toml:2:6: source[1].id: duplicate source id `a`"),
            "{e}"
        );
    }

    #[test]
    fn paths_are_cleaned_lexically() {
        assert_eq!(
            clean(Path::new("config/../data/demo")),
            PathBuf::from("data/demo")
        );
        assert_eq!(clean(Path::new("../data/./x")), PathBuf::from("../data/x"));
        assert_eq!(
            clean(Path::new("/etc/relais/../x")),
            PathBuf::from("/etc/x")
        );
        assert_eq!(clean(Path::new("a/../../b")), PathBuf::from("../b"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10MiB"), Some(10 << 20));
        assert_eq!(parse_size("512 KiB"), Some(512 << 10));
        assert_eq!(parse_size("1GB"), Some(1_000_000_000));
        assert_eq!(parse_size("2048"), Some(2048));
        assert_eq!(parse_size("0MiB"), None);
        assert_eq!(parse_size("MiB"), None);
        assert_eq!(parse_size("99999999999999999999GiB"), None);
        assert_eq!(parse_size("10 parsecs"), None);
    }

    #[test]
    fn admin_table() {
        // Each test variable is this test's own, so parallel tests cannot disturb it.
        std::env::set_var("RELAIS_TEST_ADMIN_SET", "s3cret-token");
        std::env::set_var("RELAIS_TEST_ADMIN_EMPTY", "");
        let admin = |section: &str| {
            Config::parse(section, Path::new("/etc/relais/relais.toml"))
                .map(|c| c.admin.map(|a| (a.token, a.label)))
        };
        assert_eq!(admin("").unwrap(), None);
        assert_eq!(
            admin("[admin]\ntoken_env = \"RELAIS_TEST_ADMIN_SET\"\n").unwrap(),
            Some((Some("s3cret-token".to_string()), "api".to_string()))
        );
        assert_eq!(
            admin("[admin]\ntoken_env = \"RELAIS_TEST_ADMIN_SET\"\nlabel = \"équipe veille\"\n")
                .unwrap(),
            Some((
                Some("s3cret-token".to_string()),
                "équipe veille".to_string()
            ))
        );
        for off in ["RELAIS_TEST_ADMIN_EMPTY", "RELAIS_TEST_ADMIN_NEVER_SET"] {
            let text = format!("[admin]\ntoken_env = \"{off}\"\n");
            assert_eq!(
                admin(&text).unwrap(),
                Some((None, "api".to_string())),
                "{off}"
            );
        }
        let errors = [
            (
                "[admin]\ntoken_env = \"s3cret token!\"\n",
                "2:13: admin.token_env: invalid variable name",
            ),
            (
                "[admin]\ntoken_env = \"X\"\nlabel = \"cli\"\n",
                "3:9: admin.label: invalid label",
            ),
            (
                "[admin]\ntoken_env = \"X\"\ntoken = \"inline\"\n",
                "admin.token",
            ),
            ("[admin]\nlabel = \"x\"\n", "token_env"),
        ];
        for (text, want) in errors {
            let got = error_of(text);
            assert!(got.contains(want), "{text:?}: {got}");
        }
        let config = Config::parse(
            "[admin]\ntoken_env = \"RELAIS_TEST_ADMIN_SET\"\n",
            Path::new("/etc/relais/relais.toml"),
        );
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("s3cret"),
            "the token never shows in Debug: {debug}"
        );
    }
}

//! Configuration: the TOML file read once at start into validated types, then passed
//! explicitly to whoever needs a part of it. Nothing else reads the file or the
//! environment for settings. Every error names the file, line, column and key.

use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// Read and validate the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Validate `text` as if read from `path` (paths inside resolve against its folder).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let _ = text;
        Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            key: String::new(),
            message: "not implemented yet".into(),
        })
    }

    /// The interval of one source.
    pub fn interval_of(&self, source: &Source) -> Duration {
        source.interval.unwrap_or(self.fetch.interval)
    }
}

//! Fetch: get a source's bytes, politely and defensively. Owns reqwest: no other module
//! speaks HTTP as a client. Partner servers are slow, misconfigured or occasionally
//! hostile, and the URLs they redirect to are not ours to trust, so every fetch has:
//!
//! - conditional GET from the caller's [`Validators`] (304 → [`Fetched::NotModified`]);
//! - gzip/deflate/brotli, with the body cap counted on *decompressed* bytes while
//!   streaming, so a compression bomb stops after `max_body` bytes, not after it inflated;
//! - one total deadline over the whole exchange (every hop and the body), so a server
//!   dripping a byte a second cannot hold a task forever, plus a connect timeout;
//! - redirects followed here rather than by reqwest, so each hop is checked by the address
//!   guard (`guard`) and the caller learns whether the chain was permanent;
//! - global and per-host concurrency limits, so callers just spawn one task per source.

mod guard;
mod limits;
mod retry_after;

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::io::AsyncReadExt;
use url::Url;

use crate::config::{FetchConfig, Location};

pub use guard::{check_target, classify, resolve_guarded, AddressKind, ResolveError};
pub use retry_after::{parse_retry_after, MAX_RETRY_AFTER, MIN_RETRY_AFTER};

use guard::GuardedResolver;
use limits::Limits;

/// Redirects followed before giving up; the next one is an error.
pub const MAX_REDIRECTS: usize = 5;

/// Feed types first; generic XML/JSON next; anything last, because plenty of partner
/// servers label feeds `text/html` or `application/octet-stream` and we still want them.
const ACCEPT_FEEDS: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
     application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, \
     application/json;q=0.8, */*;q=0.1";

/// Validators remembered from the last successful fetch.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A body that arrived.
#[derive(Debug, Clone)]
pub struct Body {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub status: u16,
    /// Where the body came from after redirects (`None` for a local file).
    pub final_url: Option<Url>,
    /// Set when every hop from the requested URL was a permanent redirect (301/308):
    /// the caller adopts it once the body parses.
    pub permanent_url: Option<Url>,
}

/// What a fetch produced when it did not fail.
// One value per fetch, moved once to the caller: boxing the body would cost an
// allocation and an awkward shape for no memory saved.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Fetched {
    /// 304: nothing new since the validators.
    NotModified,
    Body(Body),
    /// 410: the publisher says the feed is gone for good.
    Gone {
        status: u16,
    },
}

/// Why a fetch failed. Every message names the URL or path.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot build the http client: {message}")]
    Client { message: String },
    #[error("{url}: invalid url: {message}")]
    InvalidUrl { url: String, message: String },
    #[error("{url}: scheme {scheme:?} refused, only http and https are fetched")]
    Scheme { url: String, scheme: String },
    #[error("{url}: address {addr} refused ({kind})")]
    Refused {
        url: String,
        addr: IpAddr,
        kind: AddressKind,
    },
    #[error("{url}: {message}")]
    Resolve { url: String, message: String },
    #[error("{url}: cannot connect: {message}")]
    Connect { url: String, message: String },
    #[error("{url}: no connection within {}", humantime::format_duration(*.after))]
    ConnectTimeout { url: String, after: Duration },
    #[error("{location}: no complete response within {}", humantime::format_duration(*.after))]
    Timeout { location: String, after: Duration },
    #[error("{url}: request failed: {message}")]
    Request { url: String, message: String },
    #[error("{url}: cannot read the body: {message}")]
    Body { url: String, message: String },
    #[error("{location}: body larger than the {limit}-byte limit")]
    TooLarge { location: String, limit: u64 },
    #[error("{url}: more than {max} redirects")]
    TooManyRedirects { url: String, max: usize },
    #[error("{url}: redirect loop back to {target}")]
    RedirectLoop { url: String, target: String },
    #[error("{url}: redirect {status} without a usable location: {message}")]
    BadRedirect {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url}: http status {status}{}", retry_note(.retry_after))]
    Status {
        url: String,
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("{path}: cannot read: {source}", path = .path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn retry_note(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!(", retry after {}", humantime::format_duration(*wait)),
        None => String::new(),
    }
}

impl FetchError {
    /// How long the server asked us to wait (429/503 Retry-After), already clamped.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status, when the failure was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } | FetchError::BadRedirect { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// Whether a deadline (connect or total) ran out.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            FetchError::Timeout { .. } | FetchError::ConnectTimeout { .. }
        )
    }
}

/// A reusable fetcher, shared by every poll.
#[derive(Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    config: FetchConfig,
    limits: Limits,
}

impl Fetcher {
    pub fn new(config: &FetchConfig) -> Result<Fetcher, FetchError> {
        let user_agent =
            HeaderValue::from_str(&config.user_agent).map_err(|_| FetchError::Client {
                message: format!(
                    "user agent {:?} is not a valid header value",
                    config.user_agent
                ),
            })?;
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT_FEEDS));
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .connect_timeout(config.connect_timeout)
            // A proxy from the environment would resolve names itself and bypass the guard.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: config.allow_private,
            }))
            .gzip(true)
            .deflate(true)
            .brotli(true)
            .build()
            .map_err(|err| FetchError::Client {
                message: describe(&err),
            })?;
        Ok(Fetcher {
            client,
            config: config.clone(),
            limits: Limits::new(config.concurrency, config.per_host),
        })
    }

    /// Fetch once. Waits for a global and a per-host slot first; the deadline starts
    /// when the slots are held, so queueing is not counted against the server.
    pub async fn fetch(
        &self,
        location: &Location,
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        let host = match location {
            Location::Http(url) => url.host_str(),
            Location::File(_) => None,
        };
        let _permit = self.limits.acquire(host).await;
        let after = self.config.timeout;
        let work = async {
            match location {
                Location::Http(url) => self.fetch_http(url, validators).await,
                Location::File(path) => read_file(path, self.config.max_body).await,
            }
        };
        match tokio::time::timeout(after, work).await {
            Ok(result) => result,
            Err(_elapsed) => Err(FetchError::Timeout {
                location: location.to_string(),
                after,
            }),
        }
    }

    /// POST a form (`application/x-www-form-urlencoded`) to `url` — WebSub pings — under
    /// the same guard, limits and deadline as fetches; redirects are not followed. The
    /// status on success (2xx).
    pub async fn post_form(&self, url: &Url, form: &[(&str, &str)]) -> Result<u16, FetchError> {
        check_target(url, self.config.allow_private)?;
        let _permit = self.limits.acquire(url.host_str()).await;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let send = self
            .client
            .post(url.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send();
        let after = self.config.timeout;
        let response = match tokio::time::timeout(after, send).await {
            Ok(result) => {
                result.map_err(|err| send_error(url, err, self.config.connect_timeout))?
            }
            Err(_elapsed) => {
                return Err(FetchError::Timeout {
                    location: url.to_string(),
                    after,
                })
            }
        };
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            Ok(status)
        } else {
            Err(FetchError::Status {
                url: url.to_string(),
                status,
                retry_after: None,
            })
        }
    }

    async fn fetch_http(
        &self,
        start: &Url,
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        let mut url = start.clone();
        url.set_fragment(None);
        let mut seen = HashSet::from([url.clone()]);
        let mut redirects = 0;
        let mut all_permanent = true;
        loop {
            check_target(&url, self.config.allow_private)?;
            let response = self
                .client
                .get(url.clone())
                .headers(conditional_headers(validators))
                .send()
                .await
                .map_err(|err| send_error(&url, err, self.config.connect_timeout))?;
            let status = response.status().as_u16();
            match status {
                301 | 302 | 303 | 307 | 308 => {
                    let next = redirect_target(&url, status, response.headers())?;
                    redirects += 1;
                    if redirects > MAX_REDIRECTS {
                        return Err(FetchError::TooManyRedirects {
                            url: start.to_string(),
                            max: MAX_REDIRECTS,
                        });
                    }
                    if !seen.insert(next.clone()) {
                        return Err(FetchError::RedirectLoop {
                            url: start.to_string(),
                            target: next.to_string(),
                        });
                    }
                    all_permanent &= matches!(status, 301 | 308);
                    url = next;
                }
                304 => return Ok(Fetched::NotModified),
                410 => return Ok(Fetched::Gone { status }),
                200..=299 => {
                    let headers = response.headers();
                    let content_type = header_string(headers, header::CONTENT_TYPE);
                    let etag = header_string(headers, header::ETAG);
                    let last_modified = header_string(headers, header::LAST_MODIFIED);
                    let bytes = self.read_body(&url, response).await?;
                    let permanent_url = (redirects > 0 && all_permanent).then(|| url.clone());
                    return Ok(Fetched::Body(Body {
                        bytes,
                        content_type,
                        etag,
                        last_modified,
                        status,
                        final_url: Some(url),
                        permanent_url,
                    }));
                }
                _ => {
                    let retry_after = match status {
                        429 | 503 => header_string(response.headers(), header::RETRY_AFTER)
                            .and_then(|value| parse_retry_after(&value, SystemTime::now())),
                        _ => None,
                    };
                    return Err(FetchError::Status {
                        url: url.to_string(),
                        status,
                        retry_after,
                    });
                }
            }
        }
    }

    /// Stream the (decompressed) body, stopping as soon as it passes the cap. A declared
    /// length over the cap is refused before reading anything; reqwest drops the header
    /// when it decompresses, so that check only sees identity bodies, as it should.
    async fn read_body(
        &self,
        url: &Url,
        mut response: reqwest::Response,
    ) -> Result<Vec<u8>, FetchError> {
        let limit = self.config.max_body;
        let too_large = || FetchError::TooLarge {
            location: url.to_string(),
            limit,
        };
        let declared = header_string(response.headers(), header::CONTENT_LENGTH)
            .and_then(|value| value.trim().parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit) {
            return Err(too_large());
        }
        // Trust a declared length only for a first allocation, and only so far.
        let initial = declared.unwrap_or(0).min(limit).min(1 << 20);
        let mut bytes = Vec::with_capacity(usize::try_from(initial).unwrap_or(0));
        while let Some(chunk) = response.chunk().await.map_err(|err| FetchError::Body {
            url: url.to_string(),
            message: describe(&err),
        })? {
            let total = u64::try_from(bytes.len().saturating_add(chunk.len())).unwrap_or(u64::MAX);
            if total > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

/// If-None-Match / If-Modified-Since, sent on every hop: the validators were recorded
/// from the final URL of the last fetch, which is where they can match.
fn conditional_headers(validators: &Validators) -> HeaderMap {
    let mut headers = HeaderMap::new();
    // A stored value that is not a legal header value is skipped: an unconditional GET
    // is better than a request that can never be sent.
    if let Some(value) = validators
        .etag
        .as_deref()
        .and_then(|etag| HeaderValue::from_str(etag).ok())
    {
        headers.insert(header::IF_NONE_MATCH, value);
    }
    if let Some(value) = validators
        .last_modified
        .as_deref()
        .and_then(|date| HeaderValue::from_str(date).ok())
    {
        headers.insert(header::IF_MODIFIED_SINCE, value);
    }
    headers
}

/// Where a redirect points, resolved against the URL that answered it.
fn redirect_target(url: &Url, status: u16, headers: &HeaderMap) -> Result<Url, FetchError> {
    let bad = |message: String| FetchError::BadRedirect {
        url: url.to_string(),
        status,
        message,
    };
    let location = headers
        .get(header::LOCATION)
        .ok_or_else(|| bad("no location header".into()))?
        .to_str()
        .map_err(|_| bad("location header is not text".into()))?;
    let mut next = url
        .join(location.trim())
        .map_err(|err| bad(format!("{location:?}: {err}")))?;
    next.set_fragment(None);
    Ok(next)
}

fn header_string(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)?
        .to_str()
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// Turn a failure to get response headers into the most specific error we can name.
fn send_error(url: &Url, err: reqwest::Error, connect_timeout: Duration) -> FetchError {
    let url_text = url.to_string();
    if let Some(resolve) = find_cause::<ResolveError>(&err) {
        return match resolve {
            ResolveError::Refused { addr, kind, .. } => FetchError::Refused {
                url: url_text,
                addr: *addr,
                kind: *kind,
            },
            other => FetchError::Resolve {
                url: url_text,
                message: other.to_string(),
            },
        };
    }
    if err.is_connect() && err.is_timeout() {
        // reqwest does not say which deadline, but the total one is ours (tokio), so
        // a timeout reported by reqwest is the connect timeout.
        return FetchError::ConnectTimeout {
            url: url_text,
            after: connect_timeout,
        };
    }
    let message = describe(&err);
    if err.is_connect() {
        FetchError::Connect {
            url: url_text,
            message,
        }
    } else {
        FetchError::Request {
            url: url_text,
            message,
        }
    }
}

fn find_cause<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(cause) = current {
        if let Some(found) = cause.downcast_ref::<T>() {
            return Some(found);
        }
        current = cause.source();
    }
    None
}

/// The causes of a reqwest error, innermost last. reqwest's own message repeats the URL
/// (which our messages already lead with), so it is used only when nothing is below it.
fn describe(err: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut current = std::error::Error::source(err);
    while let Some(cause) = current {
        let text = cause.to_string();
        // hyper-util's "client error (Connect)" layer says nothing the next one doesn't.
        if !text.starts_with("client error (") && parts.last() != Some(&text) {
            parts.push(text);
        }
        current = cause.source();
    }
    if parts.is_empty() {
        err.to_string()
    } else {
        parts.join(": ")
    }
}

/// A local feed file, under the same cap as a download.
async fn read_file(path: &Path, limit: u64) -> Result<Fetched, FetchError> {
    let io_error = |source| FetchError::File {
        path: path.to_path_buf(),
        source,
    };
    let too_large = || FetchError::TooLarge {
        location: path.display().to_string(),
        limit,
    };
    let file = tokio::fs::File::open(path).await.map_err(io_error)?;
    let declared = file.metadata().await.map_err(io_error)?.len();
    if declared > limit {
        return Err(too_large());
    }
    // Read one byte past the cap so a file that grew since the stat is still caught.
    let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(io_error)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(too_large());
    }
    Ok(Fetched::Body(Body {
        bytes,
        content_type: None,
        etag: None,
        last_modified: None,
        status: 200,
        final_url: None,
        permanent_url: None,
    }))
}

//! The HTTP server. Owns axum; nothing else sees a router or a request. It takes a bound
//! listener and a shutdown future, so tests start it on port 0 and stop it at will.
//! Every document comes from [`Publisher`], which renders and caches; this module only
//! speaks HTTP: content negotiation, conditional requests, caching and security headers.
//! The admin API lives in `admin` (mounted only when enabled).

mod admin;

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::publish::{self, Doc, Kind, Publisher};
use crate::store::Store;

/// What request handlers read.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<Store>,
    pub publisher: Arc<Publisher>,
    /// When the digest scheduler last woke up (Unix seconds, 0 = never), shown by
    /// `/healthz` so a stalled ticker is visible.
    pub digest_tick: Arc<std::sync::atomic::AtomicI64>,
    /// Counters shown at `/metrics`; the daemon feeds them.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// When source health was last checked for alerts (Unix seconds, 0 = never).
    pub alerts_check: Arc<std::sync::atomic::AtomicI64>,
    /// Told when the admin API changed what channels show (the WebSub pinger listens).
    pub changed: Option<tokio::sync::mpsc::UnboundedSender<()>>,
}

impl AppState {
    pub fn new(config: Arc<Config>, store: Arc<Store>) -> AppState {
        AppState {
            publisher: Arc::new(Publisher::new(Arc::clone(&config), Arc::clone(&store))),
            config,
            store,
            digest_tick: Arc::new(std::sync::atomic::AtomicI64::new(0)),
            metrics: Arc::new(crate::metrics::Metrics::new(chrono::Utc::now())),
            alerts_check: Arc::new(std::sync::atomic::AtomicI64::new(0)),
            changed: None,
        }
    }
}

pub fn router(state: AppState) -> Router {
    let admin = admin::routes(&state);
    let public = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/", get(document))
        .route("/{*path}", get(document))
        .with_state(state);
    match admin {
        Some(admin) => public.merge(admin),
        None => public,
    }
}

/// Serve until `shutdown` completes, then finish the requests under way.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// 200 `ok` once the store is open and the server is up (both are true whenever this
/// handler can run). With digests configured, `X-Relais-Digest-Tick` says when the
/// digest scheduler last woke up (RFC 3339): a time more than a few minutes old means
/// its ticker stalled.
async fn healthz(State(state): State<AppState>) -> Response {
    let mut r = "ok".into_response();
    let tick = state.digest_tick.load(std::sync::atomic::Ordering::Acquire);
    if !state.config.digests.is_empty() {
        let value = chrono::DateTime::from_timestamp(tick, 0)
            .filter(|_| tick > 0)
            .map_or_else(|| "never".to_string(), |t| t.to_rfc3339());
        if let Ok(v) = HeaderValue::from_str(&value) {
            r.headers_mut().insert("x-relais-digest-tick", v);
        }
    }
    r
}

/// The Prometheus scrape (text format 0.0.4). Unauthenticated like `/healthz`: it tells
/// counts and source health, no content; restrict it at the reverse proxy. The gauges
/// that describe the present (sources by status, store size) are read now, off the
/// async workers.
async fn metrics(State(state): State<AppState>) -> Response {
    let (config, store) = (Arc::clone(&state.config), Arc::clone(&state.store));
    let gathered = tokio::task::spawn_blocking(move || {
        let sources = crate::health::gather(&config, &store, chrono::Utc::now())
            .map(|h| crate::health::count_by_status(&h).to_vec());
        (sources, store.size_on_disk().ok())
    })
    .await;
    let (sources, store_bytes) = match gathered {
        Ok((Ok(sources), bytes)) => (sources, bytes),
        Ok((Err(e), _)) => {
            tracing::error!(error = %e, "metrics: cannot read source health");
            return (StatusCode::INTERNAL_SERVER_ERROR, "erreur interne\n").into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics task failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "erreur interne\n").into_response();
        }
    };
    let load = |a: &std::sync::atomic::AtomicI64| a.load(std::sync::atomic::Ordering::Acquire);
    let snapshot = crate::metrics::Snapshot {
        sources,
        store_bytes,
        digest_tick: load(&state.digest_tick),
        alerts_check: load(&state.alerts_check),
    };
    (
        [
            (header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        state.metrics.render(&snapshot),
    )
        .into_response()
}

/// Any document relais publishes: pages, feeds, OPML, assets. GET and HEAD (axum answers
/// HEAD with the GET handler's headers and no body).
async fn document(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let page = page_param(uri.query());
    let Some(doc) = page.and_then(|page| Doc::from_path(uri.path(), page)) else {
        return not_found();
    };
    let publisher = Arc::clone(&state.publisher);
    let lookup = doc.clone();
    // A fresh cached document costs a lookup; only rendering (store reads) goes to a
    // blocking thread.
    let rendered = match state.publisher.cached(&doc) {
        Some(rendered) => Ok(Ok(Some(rendered))),
        None => tokio::task::spawn_blocking(move || publisher.document(&lookup)).await,
    };
    let rendered = match rendered {
        Ok(Ok(Some(rendered))) => rendered,
        Ok(Ok(None)) => return not_found(),
        Ok(Err(e)) => {
            tracing::error!(path = %uri.path(), error = %e, "cannot render");
            return (StatusCode::INTERNAL_SERVER_ERROR, "erreur interne\n").into_response();
        }
        Err(e) => {
            tracing::error!(path = %uri.path(), error = %e, "render task failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "erreur interne\n").into_response();
        }
    };

    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let encoding = publish::negotiate_encoding(text(header::ACCEPT_ENCODING));
    let browser = publish::is_browser(text(header::ACCEPT));

    let not_modified = publish::not_modified(
        &rendered,
        text(header::IF_NONE_MATCH),
        text(header::IF_MODIFIED_SINCE),
    );
    state.metrics.document(
        match doc.kind() {
            Kind::Page => "page",
            Kind::Feed => "feed",
            Kind::Asset => "asset",
        },
        not_modified,
    );
    let mut response = if not_modified {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Body::from(Publisher::bytes(&rendered, encoding)));
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(doc.media_type(browser)),
        );
        if let Some(name) = encoding.header() {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
        }
        r
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&publish::etag_for(&rendered, encoding)) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&publish::http_date(rendered.last_modified)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(match doc.kind() {
            Kind::Page => "public, max-age=60",
            Kind::Feed => "public, max-age=300",
            Kind::Asset => "public, max-age=86400",
        }),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static(if doc.varies_by_accept() {
            "Accept-Encoding, Accept"
        } else {
            "Accept-Encoding"
        }),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let (Doc::Feed { .. }, Some(websub)) = (&doc, &state.config.websub) {
        // WebSub discovery by header (W3C WebSub §4), as well as in the document.
        let link = format!(
            "<{}>; rel=\"hub\", <{}>; rel=\"self\"",
            websub.hub,
            doc.url(&state.config.server.base_url)
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            h.insert(header::LINK, v);
        }
    }
    if let Some(csp) = doc.content_security_policy() {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
    }
    if doc.kind() == Kind::Page {
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

/// `page` from the query: `Some(None)` when absent, `Some(Some(n))` when a positive
/// number, `None` (→ 404) when present but not a number.
fn page_param(query: Option<&str>) -> Option<Option<usize>> {
    let Some(value) = query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("page="))
    else {
        return Some(None);
    };
    value.parse::<usize>().ok().map(Some)
}

fn not_found() -> Response {
    let mut r = (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "page introuvable\n",
    )
        .into_response();
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_parameter() {
        assert_eq!(page_param(None), Some(None));
        assert_eq!(page_param(Some("page=3")), Some(Some(3)));
        assert_eq!(page_param(Some("utm_source=x&page=2")), Some(Some(2)));
        assert_eq!(page_param(Some("page=abc")), None);
        assert_eq!(page_param(Some("other=1")), Some(None));
    }
}

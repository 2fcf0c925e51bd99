//! The admin API under `/admin/api/`: sources with their health, a channel's stories
//! with their curation, and the curation actions. Mounted only when `[admin] token_env`
//! names a variable that was set (and not empty) when the configuration was loaded;
//! otherwise `/admin/*` is an ordinary 404.
//!
//! Security, in the order a request meets it:
//! - every response says `Cache-Control: no-store`, and none carries a CORS header:
//!   browsers on other origins get nothing they may read;
//! - `Authorization: Bearer <token>` is the only credential (no query string, no Basic,
//!   no cookie). The token is compared as SHA-256 digests with `subtle`'s constant-time
//!   equality, so neither its content nor its length shows in the timing; any failure is
//!   a bare 401 with `WWW-Authenticate: Bearer`, before the body is read;
//! - bodies are capped at [`MAX_BODY`] (413);
//! - errors are JSON `{"error": "…"}`, short and lower-case: 400 bad JSON, 404 unknown
//!   story / channel / route, 422 an action that cannot be done as asked.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use crate::curate::{self, Action, ActionFields, Decisions, LeftOut};
use crate::store::{Store, StoreError};

/// Largest request body accepted: an action's JSON is a few hundred bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// Stories scanned (newest first) for `GET /admin/api/stories`: a channel's recent
/// history, bounded whatever the store's size; curated stories are always added.
const STORY_SCAN: usize = 2_000;

/// What the admin handlers need besides the app state.
#[derive(Clone)]
struct Admin {
    app: AppState,
    /// SHA-256 of the token: requests are compared against it.
    token: Arc<[u8; 32]>,
    label: Arc<str>,
}

/// The admin routes, or `None` when the API is off.
pub(super) fn routes(app: &AppState) -> Option<Router> {
    let admin = app.config.admin.as_ref()?;
    let token = admin.token.as_deref()?;
    let state = Admin {
        app: app.clone(),
        token: Arc::new(Sha256::digest(token.as_bytes()).into()),
        label: Arc::from(admin.label.as_str()),
    };
    Some(
        Router::new()
            .route("/admin/api/sources", get(sources))
            .route("/admin/api/stories", get(stories))
            .route("/admin/api/stories/{id}/{action}", post(act))
            .route("/admin/api/log", get(log))
            .route("/admin", any(unknown))
            .route("/admin/{*rest}", any(unknown))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .layer(middleware::from_fn_with_state(state.clone(), authorize))
            .layer(middleware::map_response(no_store))
            .with_state(state),
    )
}

async fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Lets the request through only with exactly one `Authorization: Bearer <token>`
/// header carrying the token.
async fn authorize(State(admin): State<Admin>, request: Request, next: Next) -> Response {
    let mut values = request.headers().get_all(header::AUTHORIZATION).iter();
    let presented = match (values.next(), values.next()) {
        (Some(v), None) => v.to_str().ok().and_then(bearer),
        _ => None,
    };
    let ok = presented.is_some_and(|t| {
        let digest: [u8; 32] = Sha256::digest(t.as_bytes()).into();
        bool::from(digest[..].ct_eq(&admin.token[..]))
    });
    if ok {
        next.run(request).await
    } else {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        r
    }
}

/// The token of a `Bearer` credential (the scheme is case-insensitive, RFC 9110 §11.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

/// An error answer: its status and a short lower-case message.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    ApiError(status, message.to_string()).into_response()
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::UnknownStory { .. } => ApiError(StatusCode::NOT_FOUND, e.to_string()),
        StoreError::Curation(_) => ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        e => {
            tracing::error!(error = %e, "admin api");
            ApiError(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
        }
    }
}

/// Runs store work off the async threads.
async fn blocking(work: impl FnOnce() -> Result<Value, ApiError> + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "admin task failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

async fn unknown() -> Response {
    error(StatusCode::NOT_FOUND, "no such admin route")
}

/// `GET /admin/api/sources`: what `relais sources --json` prints.
async fn sources(State(admin): State<Admin>) -> Response {
    let app = admin.app;
    blocking(move || {
        crate::health::sources_document(&app.config, &app.store, chrono::Utc::now())
            .map_err(store_error)
    })
    .await
}

/// `GET /admin/api/log?limit=N`: the audit log, newest first.
async fn log(
    State(admin): State<Admin>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 50,
        Some(Ok(n)) => n,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "limit must be a number"),
    };
    let store = admin.app.store;
    blocking(move || {
        let entries = store.curation_log(Some(limit)).map_err(store_error)?;
        let list: Vec<Value> = entries.iter().map(|e| e.to_json()).collect();
        Ok(json!({ "entries": list }))
    })
    .await
}

/// `GET /admin/api/stories?channel=ID`: the channel's stories as listed (pinned first),
/// then the ones operators hid or otherwise curated, each with its curation state.
async fn stories(
    State(admin): State<Admin>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let Some(channel) = q.get("channel").cloned() else {
        return error(StatusCode::BAD_REQUEST, "channel is required (?channel=ID)");
    };
    let app = admin.app;
    if app.config.channel(&channel).is_none() {
        return error(
            StatusCode::NOT_FOUND,
            format!("no channel has the id `{channel}`"),
        );
    }
    blocking(move || channel_stories(&app, &channel).map_err(store_error)).await
}

fn channel_stories(app: &AppState, channel_id: &str) -> Result<Value, StoreError> {
    let config = &app.config;
    let Some(channel) = config.channel(channel_id) else {
        return Ok(json!({ "channel": channel_id, "stories": [] }));
    };
    let store: &Store = &app.store;
    let decisions = store.curation()?;
    let mut stories = Vec::new();
    store.walk_stories(None, &mut |visit| {
        stories.push(visit.story);
        stories.len() < STORY_SCAN
    })?;
    // Curated stories beyond the scan (an old pinned or hidden one) are shown too.
    let mut seen: std::collections::HashSet<String> =
        stories.iter().map(|s| s.id.clone()).collect();
    for id in decisions.story_ids() {
        if seen.insert(id.to_string()) {
            if let Some(story) = id.parse::<u64>().ok().map(|n| store.story(n)).transpose()? {
                stories.extend(story);
            }
        }
    }
    let now = Utc::now();
    let e = curate::explain_curated(channel, &config.sources, &stories, &decisions, now);
    let list: Vec<Value> = e
        .kept
        .iter()
        .map(|(s, k)| story_json(s, &decisions, channel_id, now, true, k.to_string()))
        .chain(e.left_out.iter().filter_map(|(s, l)| {
            let curated = decisions.of(&s.id).is_some();
            (curated || matches!(l, LeftOut::Hidden(_)))
                .then(|| story_json(s, &decisions, channel_id, now, false, l.to_string()))
        }))
        .collect();
    Ok(json!({ "channel": channel_id, "stories": list }))
}

fn story_json(
    story: &crate::model::Story,
    decisions: &Decisions,
    channel: &str,
    now: chrono::DateTime<Utc>,
    listed: bool,
    why: String,
) -> Value {
    let view = decisions.channel(channel, now);
    let edit = decisions.of(&story.id).and_then(|d| d.edit.as_ref());
    let edited = decisions.edited(story.clone());
    let pin = view.pinned(&story.id);
    json!({
        "id": story.id,
        "source": story.item.source,
        "url": story.item.url,
        "published": story.item.published,
        "title": edited.item.title,
        "summary": edited.item.summary,
        "original_title": story.item.title,
        "original_summary": story.item.summary,
        "listed": listed,
        "why": why,
        "pinned": pin.is_some(),
        "pinned_until": pin.and_then(|p| p.until),
        "hidden": view.hidden(&story.id).map(|h| match h {
            curate::Hidden::InChannel => "channel",
            curate::Hidden::Everywhere => "everywhere",
        }),
        "added": view.added(&story.id),
        "edited": edit.is_some(),
        "also": story.also.iter().map(|a| json!({"source": a.source, "url": a.url})).collect::<Vec<_>>(),
    })
}

/// `POST /admin/api/stories/{id}/{action}`: a curation action; answers the audit entry
/// and the story's state in the channel named (if any).
async fn act(
    State(admin): State<Admin>,
    Path((story, action)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body larger than {MAX_BODY} bytes"),
            )
        }
        Err(_) => return error(StatusCode::BAD_REQUEST, "cannot read the request body"),
    };
    let fields: ActionFields = if body.iter().all(u8::is_ascii_whitespace) {
        ActionFields::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(f) => f,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid json body: {e}")),
        }
    };
    let action = match Action::from_fields(&action, fields) {
        Ok(a) => a,
        Err(e @ curate::ActionError::UnknownAction(_)) => return error(StatusCode::NOT_FOUND, e),
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, e),
    };
    let app = admin.app;
    if let Some(channel) = curate::unknown_channel(&app.config, &action) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("no channel has the id `{channel}`"),
        );
    }
    let actor = admin.label;
    let changed = app.changed.clone();
    blocking(move || {
        let store = &app.store;
        let id = store.find_story(&story).map_err(store_error)?;
        let entry = store
            .curate(id, &action, &actor, Utc::now())
            .map_err(store_error)?;
        if entry.changed {
            if let Some(tx) = &changed {
                // The pinger compares the feeds' tags and pings the hub for those that moved.
                let _ = tx.send(());
            }
        }
        let decisions = store.curation().map_err(store_error)?;
        Ok(json!({
            "entry": entry.to_json(),
            "decisions": decisions.of(&id.to_string()),
        }))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_table() {
        let cases = [
            ("Bearer abc", Some("abc")),
            ("bearer abc", Some("abc")),
            ("BEARER abc ", Some("abc ")),
            ("Basic YWJjOmRlZg==", None),
            ("Bearer", None),
            ("Bearerabc", None),
            ("", None),
        ];
        for (value, want) in cases {
            assert_eq!(bearer(value), want, "{value:?}");
        }
    }
}

//! The HTTP server. Owns axum; nothing else sees a router or a request. It takes a bound
//! listener and a shutdown future, so tests start it on port 0 and stop it at will.

use std::future::Future;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::store::Store;

/// What request handlers read.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<Store>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(state)
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
/// handler can run).
async fn healthz() -> &'static str {
    "ok"
}

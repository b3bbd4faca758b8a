//! # weft-web: the HTML UI and the JSON API
//!
//! This crate owns everything HTTP: the axum router, the JSON API of `shared/API.md`
//! ([`api`]), logins and sessions ([`auth`]), and the operations endpoints (`/healthz`,
//! `/metrics`, `/api/v1/node`). It is the only crate that knows HTTP; it calls the node through
//! [`weft_node::NodeHandle`] and never touches storage or the network directly. Server-rendered
//! pages with CSRF-protected forms and live updates are in [`ui`].

pub mod api;
pub mod auth;
mod error;
pub mod i18n;
pub mod invite;
pub mod markdown;
pub mod personal;
pub mod state;
pub mod ui;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use weft_node::NodeHandle;

pub use error::AppError;
pub use state::{AppState, WebOptions};
pub use weft_node as node;

/// JSON bodies larger than this are refused with 413 (uploads will have their own limits).
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// One peer site, as `/api/v1/node` lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PeerInfo {
    pub site: String,
    pub peer_id: String,
    pub connected: bool,
}

/// The body of `GET /api/v1/node`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NodeInfo {
    pub site: String,
    pub peer_id: String,
    pub peers: Vec<PeerInfo>,
    pub documents: u64,
    pub changes: u64,
    /// Bytes of signed changes stored.
    pub change_bytes: u64,
    pub version: String,
    pub directory_version: u64,
}

/// The router of a node's web server. Serve it with `into_make_service_with_connect_info`
/// (as [`serve`] does): login rate limiting needs the client's address.
pub fn router(node: NodeHandle, options: WebOptions) -> Router {
    let state = AppState {
        node,
        sessions: Arc::new(auth::Sessions::default()),
        charter: options
            .charter
            .filter(|c| !c.trim().is_empty())
            .map(|c| Arc::new(state::Charter::new(c))),
        invites: options.data_dir.map(|d| d.join(invite::DIR)),
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/node", get(node_info))
        .route("/api/v1/openapi.json", get(openapi))
        .nest("/api/v1", api::routes())
        .merge(ui::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers on every answer, as defence in depth behind escaping and sanitizing: pages load
/// scripts, styles and images only from the node itself (no inline script can run even if
/// some markup slipped through), are never framed, and send no referrer elsewhere.
async fn security_headers(mut r: Response) -> Response {
    use axum::http::HeaderValue;
    let h = r.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; \
                 base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        );
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    r
}

/// The API's OpenAPI 3.1 description.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn not_found() -> AppError {
    AppError::not_found()
}

async fn healthz(State(state): State<AppState>) -> Result<&'static str, AppError> {
    // Up means the node's loop answers, not merely that the HTTP server runs.
    state.node.call(|_| ()).await?;
    Ok("ok\n")
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.node.metrics().render(state.node.site());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn node_info(State(state): State<AppState>) -> Result<Json<NodeInfo>, AppError> {
    let peer_id = state.node.peer_id().to_string();
    let info = state
        .node
        .call(move |core| {
            let connected: Vec<String> = core.engine().peers().map(str::to_owned).collect();
            let dir = core.replica().directory();
            let peers = dir
                .map(|d| {
                    d.directory
                        .sites
                        .values()
                        .filter(|s| s.id != core.site())
                        .map(|s| PeerInfo {
                            site: s.id.clone(),
                            peer_id: s
                                .node_key
                                .and_then(|k| weft_node::net::peer_id_of(&k))
                                .map(|p| p.to_string())
                                .unwrap_or_default(),
                            connected: connected.contains(&s.id),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let stats = core.store().stats();
            NodeInfo {
                site: core.site().to_owned(),
                peer_id,
                peers,
                documents: stats.documents,
                changes: stats.changes,
                change_bytes: stats.change_bytes,
                version: env!("CARGO_PKG_VERSION").to_owned(),
                directory_version: dir.map_or(0, |d| d.version()),
            }
        })
        .await?;
    Ok(Json(info))
}

/// Serves the router on a bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    node: NodeHandle,
    options: WebOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(address = %listener.local_addr()?, "web server listening");
    axum::serve(
        listener,
        router(node, options).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

#[cfg(test)]
mod tests {
    /// Every route under `/api/v1` that the router serves is described in the OpenAPI
    /// document, and the document is valid JSON.
    #[test]
    fn openapi_describes_every_api_route() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let api = concat!(include_str!("api.rs"), include_str!("personal.rs"));
        let mut routes: Vec<&str> = api
            .split(".route(")
            .skip(1)
            .filter_map(|r| r.trim_start().strip_prefix('"')?.split('"').next())
            .collect();
        routes.push("/node");
        routes.push("/openapi.json");
        for r in routes {
            assert!(paths.contains_key(r), "{r} is not in openapi.json");
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }
}

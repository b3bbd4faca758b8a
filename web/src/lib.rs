//! # weft-web: the HTML UI and the JSON API
//!
//! This crate owns everything HTTP: the axum router, and (next) server-rendered pages, static
//! assets, the JSON API of `shared/API.md`, sessions and CSRF protection. It is the only crate
//! that knows HTTP; it calls the node through [`weft_node::NodeHandle`] and never touches
//! storage or the network directly.
//!
//! Today it serves the operations endpoints: `GET /healthz`, `GET /metrics` (Prometheus text)
//! and `GET /api/v1/node`.

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use weft_node::NodeHandle;

pub use weft_node as node;

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
    pub version: String,
    pub directory_version: u64,
}

/// An error answered as `{"error": {"code", "message"}}`. Internal details are logged, not
/// sent.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

impl From<weft_node::NodeError> for AppError {
    fn from(e: weft_node::NodeError) -> Self {
        tracing::error!(error = %e, "node error");
        AppError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: "the node cannot answer right now".into(),
        }
    }
}

/// The router of a node's web server.
pub fn router(node: NodeHandle) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/node", get(node_info))
        .fallback(not_found)
        .with_state(node)
}

async fn not_found() -> AppError {
    AppError {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        message: "no such page".into(),
    }
}

async fn healthz(State(node): State<NodeHandle>) -> Result<&'static str, AppError> {
    // Up means the node's loop answers, not merely that the HTTP server runs.
    node.call(|_| ()).await?;
    Ok("ok\n")
}

async fn metrics(State(node): State<NodeHandle>) -> Response {
    let text = node.metrics().render(node.site());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn node_info(State(node): State<NodeHandle>) -> Result<Json<NodeInfo>, AppError> {
    let peer_id = node.peer_id().to_string();
    let info = node
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
                version: env!("CARGO_PKG_VERSION").to_owned(),
                directory_version: dir.map_or(0, |d| d.version()),
            }
        })
        .await?;
    Ok(Json(info))
}

/// Serves the router on `addr` until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    node: NodeHandle,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(address = %listener.local_addr()?, "web server listening");
    axum::serve(listener, router(node))
        .with_graceful_shutdown(shutdown)
        .await
}

//! The operations endpoints: `/healthz` (open), and `/metrics` and `/api/v1/node`, which
//! answer only an [`Operator`]: a request from this machine or one with the operator's token.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppError;
use crate::extract::bearer;
use crate::state::AppState;

/// One peer site, as `/api/v1/node` lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
pub struct PeerInfo {
    pub site: String,
    /// Its libp2p peer id (derived from the node key the directory lists).
    pub peer_id: String,
    pub connected: bool,
}

/// The node: its site, its peers, what it stores.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
pub struct NodeInfo {
    pub site: String,
    pub peer_id: String,
    /// Every other site of the directory.
    pub peers: Vec<PeerInfo>,
    pub documents: u64,
    pub changes: u64,
    /// Bytes of signed changes stored.
    pub change_bytes: u64,
    /// This build's version.
    pub version: String,
    /// The directory version the node holds.
    pub directory_version: u64,
    /// Files stored at this site: their bytes, how many, and the site's quota in bytes
    /// (`max_files_gb`; 0: no limit).
    pub file_bytes: u64,
    pub files: u64,
    pub files_quota: u64,
}

/// A request that may read the operations endpoints: it carries the operator's token
/// (`Authorization: Bearer`), or it comes from this machine itself — a loopback connection
/// that no proxy relayed. A request relayed by a proxy on this machine comes from loopback
/// too: it is recognised by `X-Forwarded-For` or `Forwarded`, and any request from a
/// configured trusted proxy counts as relayed even without them (a scraper on the proxy's
/// own machine then uses the token). Anyone else gets 403.
#[derive(Debug, Clone, Copy)]
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Operator, AppError> {
        if allowed(state, parts) {
            Ok(Operator)
        } else {
            Err(AppError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "served only on this machine, or with the metrics token",
            ))
        }
    }
}

fn allowed(state: &AppState, parts: &Parts) -> bool {
    use sha2::{Digest, Sha256};
    let h = &parts.headers;
    if let Some(want) = &state.metrics_token
        && let Some(sent) = bearer(h)
    {
        // Comparing digests: the time taken says nothing about the token.
        let sent: [u8; 32] = Sha256::digest(sent.as_bytes()).into();
        return sent == *want;
    }
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let relayed = h.contains_key("x-forwarded-for")
        || h.contains_key(header::FORWARDED)
        || peer.is_some_and(|ip| state.trusted_proxies.iter().any(|r| r.contains(ip)));
    peer.is_some_and(|ip| ip.is_loopback()) && !relayed
}

/// `GET /healthz`: 200 when the node's loop answers, not merely when the HTTP server runs.
pub(crate) async fn healthz(State(state): State<AppState>) -> Result<&'static str, AppError> {
    state.service.health().await?;
    Ok("ok\n")
}

/// `GET /metrics`: the node's metrics in the OpenMetrics text format (which Prometheus
/// reads).
pub(crate) async fn metrics(_: Operator, State(state): State<AppState>) -> Response {
    let text = state.service.metrics().render(state.service.site());
    (
        [(header::CONTENT_TYPE, weft_node::metrics::CONTENT_TYPE)],
        text,
    )
        .into_response()
}

/// The node: site, peers, what it stores.
///
/// Answers only requests from this machine (loopback, not relayed by a proxy) or with
/// `Authorization: Bearer <metrics_token>` (configuration); others get 403.
#[utoipa::path(
    get,
    path = "/node",
    tag = "operations",
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, description = "OK", body = NodeInfo),
        (status = 403, description = "Not this machine, and not the operator's token", body = crate::json::ErrorJson),
    )
)]
pub(crate) async fn node_info(
    _: Operator,
    State(state): State<AppState>,
) -> Result<Json<NodeInfo>, AppError> {
    let s = state.service.node_status().await?;
    let info = NodeInfo {
        site: s.site,
        peer_id: s.peer_id,
        peers: s
            .peers
            .into_iter()
            .map(|p| PeerInfo {
                site: p.site,
                peer_id: p.peer_id,
                connected: p.connected,
            })
            .collect(),
        documents: s.documents,
        changes: s.changes,
        change_bytes: s.change_bytes,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        directory_version: s.directory_version,
        file_bytes: s.file_bytes,
        files: s.files,
        files_quota: s.files_quota,
    };
    Ok(Json(info))
}

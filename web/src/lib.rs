//! # weft-web: the HTML UI and the JSON API
//!
//! This crate owns everything HTTP: the axum router, the JSON API of `shared/API.md`
//! ([`api`]), logins and sessions ([`auth`]), and the operations endpoints (`/healthz`,
//! `/metrics`, `/api/v1/node`). It is the only crate that knows HTTP; it calls the node through
//! [`weft_node::NodeHandle`] and never touches storage or the network directly. Server-rendered
//! pages with CSRF-protected forms and live updates are in [`ui`].
//!
//! What it promises at the edge (each with its test; `SECURITY.md`, "The web edge", lists them):
//! no input to search can take the node down ([`weft_node::search`]); logins are counted
//! before any password is checked, and checked a few at a time ([`auth`]); sessions live in
//! the store as digests and end with a new password, with the employee leaving or moving,
//! and close their event streams; an API write authenticated by the session cookie must be
//! JSON (which a page on another site cannot send without the browser asking us first);
//! redirects go only to paths on this site ([`cookies`]); `/metrics` and `/api/v1/node`
//! answer only on this machine or with the operator's token.

pub mod api;
pub mod auth;
pub mod cookies;
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
/// (as [`serve`] does): login rate limiting and the operations endpoints need the client's
/// address.
pub fn router(node: NodeHandle, options: WebOptions) -> Router {
    router_with_state(state_of(node, options))
}

/// The shared state a router is built on.
pub fn state_of(node: NodeHandle, options: WebOptions) -> AppState {
    use sha2::{Digest, Sha256};
    AppState {
        sessions: Arc::new(auth::Sessions::new(node.clone())),
        logins: Arc::new(auth::Logins::new(options.login_limits)),
        node,
        charter: options
            .charter
            .filter(|c| !c.trim().is_empty())
            .map(|c| Arc::new(state::Charter::new(c))),
        invites: options.data_dir.map(|d| d.join(invite::DIR)),
        secure_cookies: options
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://")),
        trusted_proxies: options.trusted_proxies.into(),
        metrics_token: options
            .metrics_token
            .filter(|t| !t.is_empty())
            .map(|t| Sha256::digest(t.as_bytes()).into()),
    }
}

fn router_with_state(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/node", get(node_info))
        .route("/api/v1/openapi.json", get(openapi))
        .nest(
            "/api/v1",
            api::routes().layer(axum::middleware::from_fn(cookie_writes_are_json)),
        )
        .merge(ui::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// An API write (anything but GET and HEAD) that authenticates with the session cookie must
/// send `Content-Type: application/json` (a picture upload, its image type). A page on
/// another site can make a browser send the cookie with a form (urlencoded, multipart or
/// plain text) without asking us; it cannot send JSON, or any other type, without a CORS
/// preflight that this node never answers. A bearer token is never sent by a browser on
/// its own, so requests that carry one pass.
async fn cookie_writes_are_json(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::Method;
    let h = request.headers();
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    let bearer = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    let cookie = cookies::get(h, auth::COOKIE).is_some();
    if safe || bearer || !cookie {
        return next.run(request).await;
    }
    let kind = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let picture = request.uri().path().ends_with("/me/photo")
        && matches!(kind.as_str(), "image/jpeg" | "image/png" | "image/webp");
    if kind == "application/json" || picture {
        return next.run(request).await;
    }
    AppError::new(
        axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "json_required",
        "a write with the session cookie must send Content-Type: application/json (or use a bearer token)",
    )
    .into_response()
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

/// Whether a request may read the operations endpoints: it carries the operator's token
/// (`Authorization: Bearer`), or it comes from this machine itself — a loopback connection
/// that no proxy relayed. A request relayed by a proxy on this machine comes from loopback
/// too: it is recognised by `X-Forwarded-For` or `Forwarded`, and any request from a
/// configured trusted proxy counts as relayed even without them (a scraper on the proxy's
/// own machine then uses the token).
fn ops_allowed(state: &AppState, parts: &axum::http::request::Parts) -> bool {
    use sha2::{Digest, Sha256};
    let h = &parts.headers;
    if let Some(want) = &state.metrics_token
        && let Some(sent) = h
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
    {
        // Comparing digests: the time taken says nothing about the token.
        let sent: [u8; 32] = Sha256::digest(sent.trim().as_bytes()).into();
        return sent == *want;
    }
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let relayed = h.contains_key("x-forwarded-for")
        || h.contains_key(header::FORWARDED)
        || peer.is_some_and(|ip| state.trusted_proxies.iter().any(|r| r.contains(ip)));
    peer.is_some_and(|ip| ip.is_loopback()) && !relayed
}

fn ops_refused() -> AppError {
    AppError::new(
        axum::http::StatusCode::FORBIDDEN,
        "forbidden",
        "served only on this machine, or with the metrics token",
    )
}

async fn metrics(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
) -> Result<Response, AppError> {
    if !ops_allowed(&state, &parts) {
        return Err(ops_refused());
    }
    let text = state.node.metrics().render(state.node.site());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

async fn node_info(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
) -> Result<Json<NodeInfo>, AppError> {
    if !ops_allowed(&state, &parts) {
        return Err(ops_refused());
    }
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
    let state = state_of(node, options);
    // Sessions end as the directory says people left or moved; the task ends with the node.
    let follower = tokio::spawn(state.sessions.clone().follow_directory());
    let served = axum::serve(
        listener,
        router_with_state(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    follower.abort();
    served
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

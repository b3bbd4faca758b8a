//! # weft-web: the HTML UI and the JSON API
//!
//! This crate owns everything HTTP: the axum router, the JSON API of `shared/API.md`
//! ([`api`], [`personal`]; its shapes in [`json`], its OpenAPI document generated in
//! [`openapi`]), logins and sessions ([`auth`]), the server-rendered pages ([`ui`]), and the
//! operations endpoints ([`ops`]: `/healthz`, `/metrics`, `/api/v1/node`). It is the only
//! crate that knows HTTP; it calls the node only through its service layer
//! ([`weft_node::service::Service`], typed, taking a viewer) and never names the node's core,
//! its store, its replica or its sync engine (a test, `web/tests/layering.rs`, checks
//! the sources). The clock and randomness it needs come from the service too.
//!
//! Handlers say what they need in their arguments, and the [`extract`]ors check it before
//! they run: the API's caller ([`extract::Me`]: 401), a page's viewer ([`extract::Viewer`]:
//! else the login page or the usage charter), a form's token ([`extract::CsrfForm`]: 403),
//! the operator ([`ops::Operator`]: 403). Every request runs in one span with its route and
//! viewer, and is timed by route into the node's metrics.
//!
//! ```no_run
//! # async fn run(service: weft_node::service::Service) -> std::io::Result<()> {
//! // Serve a running node's UI and API on loopback until Ctrl-C.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let stop = async {
//!     let _ = tokio::signal::ctrl_c().await;
//! };
//! weft_web::serve(listener, service, weft_web::WebOptions::default(), stop).await
//! # }
//! ```
//!
//! What it promises at the edge (each with its test; `SECURITY.md`, "The web edge", lists them):
//! no input to search can take the node down ([`weft_node::search`]); logins are counted
//! before any password is checked, and checked a few at a time ([`auth`]); sessions live in
//! the store as digests and end with a new password, with the employee leaving or moving,
//! and close their event streams; an API write authenticated by the session cookie must be
//! JSON (which a page on another site cannot send without the browser asking us first);
//! every form carries its session's token; redirects go only to paths on this site
//! ([`cookies`]); `/metrics` and `/api/v1/node` answer only on this machine or with the
//! operator's token; no log holds a token, cookie or password ([`trace`]).

pub mod analytics;
pub mod api;
pub mod atom;
pub mod auth;
pub mod community;
pub mod content;
pub mod cookies;
mod error;
pub mod extract;
pub mod files;
pub mod following;
pub mod i18n;
pub mod ical;
pub mod invite;
pub mod json;
pub mod library;
pub mod mail;
pub mod markdown;
pub mod openapi;
pub mod ops;
pub mod params;
pub mod personal;
pub mod state;
pub mod time;
pub mod trace;
pub mod ui;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use weft_node::service::Service;

pub use error::AppError;
pub use ops::{NodeInfo, PeerInfo};
pub use state::{AppState, WebOptions};
pub use weft_node as node;

/// JSON bodies larger than this are refused with 413 (uploads will have their own limits).
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// The router of a node's web server. Serve it with `into_make_service_with_connect_info`
/// (as [`serve`] does): login rate limiting and the operations endpoints need the client's
/// address.
pub fn router(service: Service, options: WebOptions) -> Router {
    router_with_state(state_of(service, options))
}

/// The shared state a router is built on.
pub fn state_of(service: Service, options: WebOptions) -> AppState {
    use sha2::{Digest, Sha256};
    AppState {
        sessions: Arc::new(auth::Sessions::new(service.clone())),
        logins: Arc::new(auth::Logins::new(options.login_limits)),
        service,
        charter: options
            .charter
            .filter(|c| !c.trim().is_empty())
            .map(|c| Arc::new(state::Charter::new(c))),
        invites: options.data_dir.map(|d| d.join(invite::DIR)),
        secure_cookies: options
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://")),
        public_url: options
            .public_url
            .as_deref()
            .map(|u| u.trim_end_matches('/'))
            .filter(|u| !u.is_empty())
            .map(Arc::from),
        trusted_proxies: options.trusted_proxies.into(),
        metrics_token: options
            .metrics_token
            .filter(|t| !t.is_empty())
            .map(|t| Sha256::digest(t.as_bytes()).into()),
    }
}

/// The routes, then the layers every request goes through, innermost first: the JSON body
/// limit, the security headers, the latency histogram, and the request's span (outermost,
/// so that everything, the other layers included, runs inside it).
fn router_with_state(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/api/v1/node", get(ops::node_info))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .nest(
            "/api/v1",
            api::routes()
                .merge(personal::routes())
                .merge(content::routes())
                .merge(files::routes())
                .layer(axum::middleware::from_fn(cookie_writes_are_json)),
        )
        .merge(ical::routes())
        .merge(atom::routes())
        .merge(mail::routes())
        .merge(ui::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            trace::latency,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(trace::span)
                .on_request(())
                .on_response(DefaultOnResponse::new().level(tracing::Level::DEBUG))
                .on_eos(())
                // Server errors are logged once, where they are made, with what went wrong.
                .on_failure(()),
        )
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
    let bearer = extract::bearer(h).is_some();
    let cookie = CookieJar::from_headers(h).get(auth::COOKIE).is_some();
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
    // A file upload names its file in a header no page elsewhere can send without asking.
    let path = request.uri().path();
    let file = (path == "/files" || path == "/api/v1/files") && h.contains_key(files::FILE_NAME);
    if kind == "application/json" || picture || file {
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

async fn not_found() -> AppError {
    AppError::not_found()
}

/// Serves the router on a bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Service,
    options: WebOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(address = %listener.local_addr()?, "web server listening");
    let state = state_of(service, options);
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

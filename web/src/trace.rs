//! Request tracing and latency.
//!
//! Every request runs in one span, `request`, made by `tower-http`'s `TraceLayer` with the
//! method, the **route** (the path pattern that matched, such as `/api/v1/threads/{id}`: never
//! the path itself, which can hold a setup link's token) and, once an extractor of
//! [`crate::extract`] has found them, the **viewer**'s employee id. Nothing else of the
//! request is recorded: no headers (cookies, tokens), no query, no body. Whatever a handler
//! logs, and every internal error ([`crate::error::AppError::internal`], logged once, where it is
//! made), carries those fields. The end of each request is a `debug` event with its status
//! and latency.
//!
//! The latency layer times each request into the node's `weft_http_request_duration_seconds`
//! histogram, by route and method (a Server-Sent Events stream counts until its headers
//! are sent).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// The route label of a request that matched no route (the 404 fallback).
pub(crate) const UNMATCHED: &str = "(unmatched)";

/// The route a request matched, as a label.
fn route_of(req: &Request) -> &str {
    req.extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
}

/// The span of one request (see the module's doc for what it holds and what it never does).
pub(crate) fn span(req: &Request) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %req.method(),
        route = %route_of(req),
        viewer = tracing::field::Empty,
    )
}

/// Times a request into the latency histogram.
pub(crate) async fn latency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = route_of(&req).to_owned();
    let method = req.method().clone();
    let started = Instant::now();
    let response = next.run(req).await;
    state
        .service
        .metrics()
        .http_request(&route, method.as_str(), started.elapsed());
    response
}

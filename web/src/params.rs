//! What requests name, checked before anything runs on the node: document and post ids from
//! paths (a bad one is "not found", like an unknown one), name filters and search queries
//! within their limits (400 `bad_query` beyond). The API and the pages share these, so both
//! refuse alike.

use axum::http::StatusCode;
use weft_node::crdt::{DocId, DocKind, GroupView};
use weft_node::service::parse_post_ref;

use crate::error::AppError;

/// The most bytes a name filter (`/groups?q=`, `/people?q=`) may be: each of its words is
/// looked for in every group or person, on the node's loop.
pub const MAX_FILTER_BYTES: usize = 200;

/// A document id of `kind` from a path, or 404.
pub fn doc_id(s: &str, kind: DocKind) -> Result<DocId, AppError> {
    DocId::parse(s)
        .ok()
        .filter(|d| d.kind() == kind)
        .ok_or_else(AppError::not_found)
}

/// A post id (`thread~post`) from a path, or 404.
pub fn post_id(s: &str) -> Result<(DocId, String), AppError> {
    parse_post_ref(s).ok_or_else(AppError::not_found)
}

/// A name filter within [`MAX_FILTER_BYTES`], or 400.
pub fn filter_query(q: &str) -> Result<&str, AppError> {
    if q.len() > MAX_FILTER_BYTES {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!("a filter is at most {MAX_FILTER_BYTES} bytes"),
        ));
    }
    Ok(q)
}

/// Whether a group's name or description has every word of `query` (case and accents
/// ignored).
pub fn group_matches(g: &GroupView, query: &str) -> bool {
    use weft_node::service::fold;
    let hay = fold(&format!("{} {}", g.name, g.description));
    fold(query).split_whitespace().all(|w| hay.contains(w))
}

/// The words of a search, or the 400 that says which limit it passed.
pub fn search_query(q: &str) -> Result<weft_node::service::SearchQuery, AppError> {
    weft_node::service::SearchQuery::parse(q)
        .map_err(|e| AppError::new(StatusCode::BAD_REQUEST, "bad_query", e.to_string()))
}

/// `s` as one path segment or query value: every byte but unreserved ones percent-encoded.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

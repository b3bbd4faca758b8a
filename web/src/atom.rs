//! Atom feeds (RFC 4287) of a group, a topic and a person, for feed readers: what the reader
//! may read, newest activity first (see `weft_node::service::syndication`).
//!
//! A feed reader cannot log in, so each employee has a secret feed token
//! (`GET /api/v1/me/feeds`, replaced by `POST /api/v1/me/feeds/reset`): a feed URL with
//! `?token=` reads as that employee. Without a token, the session (cookie or bearer) is the
//! reader; with neither, 401. Nothing of the company is served to someone no token or
//! session names — a public group's feed included: public means every employee, not the
//! world. Answers carry an `ETag` (the SHA-256 of the document) and `Cache-Control:
//! private`; `If-None-Match` with the same tag gets `304 Not Modified` and no body.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use weft_node::crdt::DocKind;
use weft_node::service::{Subscription, Syndicated, Viewer};

use crate::error::AppError;
use crate::extract::Me;
use crate::state::AppState;

/// The routes outside `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/feeds/groups/{file}", get(group_feed))
        .route("/feeds/topics/{file}", get(topic_feed))
        .route("/feeds/people/{file}", get(person_feed))
}

/// How the caller's feed readers subscribe.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedsJson {
    /// The caller's secret feed token: a feed URL with `?token=` added reads as the caller,
    /// without a session (keep it private; `POST /me/feeds/reset` replaces it).
    pub token: String,
    /// Where the caller's feeds are, the token included: `{group}`, `{topic}` or
    /// `{person}` is to be replaced.
    pub group: String,
    pub topic: String,
    pub person: String,
}

fn feeds_json(state: &AppState, headers: &HeaderMap, token: String) -> FeedsJson {
    let base = state.base_url(headers);
    let url = |kind: &str, what: &str| format!("{base}/feeds/{kind}/{{{what}}}.atom?token={token}");
    FeedsJson {
        group: url("groups", "group"),
        topic: url("topics", "topic"),
        person: url("people", "person"),
        token,
    }
}

/// The caller's feed token
///
/// The secret that lets a feed reader read the caller's Atom feeds (drawn at the first
/// call; the same afterwards).
#[utoipa::path(
    get,
    path = "/me/feeds",
    tag = "feeds",
    responses(
        (status = 200, description = "OK", body = FeedsJson),
        (status = 401, response = crate::json::E401),
    )
)]
pub(crate) async fn my_feeds(
    State(state): State<AppState>,
    Me(me): Me,
    headers: HeaderMap,
) -> Result<Json<FeedsJson>, AppError> {
    let token = state
        .service
        .subscription_token(&Viewer::from(me.as_str()), Subscription::Feeds)
        .await?;
    Ok(Json(feeds_json(&state, &headers, token)))
}

/// Replace the feed token
///
/// Draws a new feed token; feed URLs with the old one stop working at once.
#[utoipa::path(
    post,
    path = "/me/feeds/reset",
    tag = "feeds",
    responses(
        (status = 200, description = "The new token", body = FeedsJson),
        (status = 401, response = crate::json::E401),
        (status = 415, response = crate::json::E415),
    )
)]
pub(crate) async fn reset_feeds(
    State(state): State<AppState>,
    Me(me): Me,
    headers: HeaderMap,
) -> Result<Json<FeedsJson>, AppError> {
    let token = state
        .service
        .reset_subscription_token(&Viewer::from(me.as_str()), Subscription::Feeds, true)
        .await?;
    Ok(Json(feeds_json(&state, &headers, token)))
}

/// The content type of a feed.
pub const ATOM: &str = "application/atom+xml; charset=utf-8";

#[derive(Debug, Deserialize)]
pub(crate) struct FeedParams {
    token: Option<String>,
}

/// Who reads: the owner of `token`, else the session's employee; 401 with neither, 404 for
/// a token that is nobody's (it may have been reset).
async fn reader(
    state: &AppState,
    headers: &HeaderMap,
    token: Option<&str>,
) -> Result<Viewer, AppError> {
    if let Some(t) = token {
        if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AppError::not_found());
        }
        return state
            .service
            .subscription_owner(Subscription::Feeds, t)?
            .ok_or_else(AppError::not_found);
    }
    let token = crate::extract::token_in(headers).ok_or_else(AppError::unauthenticated)?;
    let session = state
        .sessions
        .check(&token)
        .await?
        .ok_or_else(AppError::unauthenticated)?;
    Ok(Viewer::from(session.employee.as_str()))
}

/// The name in `file` without `.atom`; 404 without it.
fn stem(file: &str) -> Result<&str, AppError> {
    file.strip_suffix(".atom")
        .filter(|s| !s.is_empty())
        .ok_or_else(AppError::not_found)
}

/// `GET /feeds/groups/{id}.atom`
pub(crate) async fn group_feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<FeedParams>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let id = crate::params::doc_id(stem(&file)?, DocKind::Group)?;
    let v = reader(&state, &headers, q.token.as_deref()).await?;
    let feed = state.service.group_syndication(&v, &id).await?;
    let page = format!("/groups/{id}");
    Ok(answer(
        &state,
        &headers,
        &feed,
        &page,
        &format!("/feeds{page}.atom"),
    ))
}

/// `GET /feeds/topics/{topic}.atom`
pub(crate) async fn topic_feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<FeedParams>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let topic = stem(&file)?.trim_start_matches('#').to_lowercase();
    if topic.is_empty() || topic.len() > 100 {
        return Err(AppError::not_found());
    }
    let v = reader(&state, &headers, q.token.as_deref()).await?;
    let feed = state.service.topic_syndication(&v, &topic).await?;
    let page = format!("/topics/{}", crate::params::percent_encode(&topic));
    Ok(answer(
        &state,
        &headers,
        &feed,
        &page,
        &format!("/feeds{page}.atom"),
    ))
}

/// `GET /feeds/people/{id}.atom`
pub(crate) async fn person_feed(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(q): Query<FeedParams>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let person = stem(&file)?.to_owned();
    let v = reader(&state, &headers, q.token.as_deref()).await?;
    let feed = state.service.person_syndication(&v, &person).await?;
    let page = format!("/people/{}", crate::params::percent_encode(&person));
    Ok(answer(
        &state,
        &headers,
        &feed,
        &page,
        &format!("/feeds{page}.atom"),
    ))
}

/// The feed as an answer, or 304 if the reader has this very document.
fn answer(
    state: &AppState,
    headers: &HeaderMap,
    feed: &Syndicated,
    page: &str,
    me: &str,
) -> Response {
    let base = state.base_url(headers);
    let names = |id: &str| state.service.display_name(id);
    let body = document(feed, &base, page, me, &names);
    let tag = format!(
        "\"{}\"",
        &weft_node::keys::to_hex(&Sha256::digest(body.as_bytes()))[..32]
    );
    let cache = [
        (header::ETAG, tag.clone()),
        (header::CACHE_CONTROL, "private, max-age=60".to_owned()),
    ];
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| {
            h.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == tag || t == "*")
        });
    if unchanged {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let mut r = (cache, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static(ATOM));
    r
}

/// The Atom document of `feed`: `base` is the node's address, `page` the HTML page it
/// mirrors, `me` the feed's own path (without any token); `name` gives employees' names.
pub fn document(
    feed: &Syndicated,
    base: &str,
    page: &str,
    me: &str,
    name: &dyn Fn(&str) -> String,
) -> String {
    let updated = feed
        .entries
        .iter()
        .map(|(t, _)| t.last_activity)
        .max()
        .unwrap_or(0);
    let mut out = String::with_capacity(4096);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    element(&mut out, 1, "id", &format!("{base}{page}"));
    element(&mut out, 1, "title", &feed.title);
    element(&mut out, 1, "updated", &crate::time::rfc3339(updated));
    link(
        &mut out,
        1,
        "self",
        "application/atom+xml",
        &format!("{base}{me}"),
    );
    link(
        &mut out,
        1,
        "alternate",
        "text/html",
        &format!("{base}{page}"),
    );
    out.push_str(&format!(
        "  <generator version=\"{}\">Weft</generator>\n",
        env!("CARGO_PKG_VERSION")
    ));
    for (t, group) in &feed.entries {
        let url = format!("{base}/threads/{}", t.id);
        out.push_str("  <entry>\n");
        element(&mut out, 2, "id", &url);
        element(&mut out, 2, "title", &t.title);
        element(
            &mut out,
            2,
            "updated",
            &crate::time::rfc3339(t.last_activity),
        );
        element(
            &mut out,
            2,
            "published",
            &crate::time::rfc3339(t.created_at),
        );
        link(&mut out, 2, "alternate", "text/html", &url);
        out.push_str("    <author>\n");
        element(&mut out, 3, "name", &name(&t.author));
        element(
            &mut out,
            3,
            "uri",
            &format!("{base}/people/{}", crate::params::percent_encode(&t.author)),
        );
        out.push_str("    </author>\n");
        out.push_str(&format!("    <category term=\"{}\"/>\n", escape(group)));
        if !t.excerpt.is_empty() {
            // The excerpt's Markdown as the pages show it (sanitised HTML), escaped once
            // more as the text of a `type="html"` element.
            out.push_str(&format!(
                "    <summary type=\"html\">{}</summary>\n",
                escape(&crate::markdown::render(&t.excerpt))
            ));
        }
        out.push_str("  </entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

fn element(out: &mut String, depth: usize, name: &str, text: &str) {
    out.push_str(&"  ".repeat(depth));
    out.push_str(&format!("<{name}>{}</{name}>\n", escape(text)));
}

fn link(out: &mut String, depth: usize, rel: &str, kind: &str, href: &str) {
    out.push_str(&"  ".repeat(depth));
    out.push_str(&format!(
        "<link rel=\"{rel}\" type=\"{kind}\" href=\"{}\"/>\n",
        escape(href)
    ));
}

/// Text as XML character data or an attribute value: the five special characters escaped,
/// characters XML 1.0 does not allow dropped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_what_xml_forbids_dropped() {
        assert_eq!(
            escape("<b>\"Tom\" & 'Jerry'</b>\u{0}\u{1b}ok"),
            "&lt;b&gt;&quot;Tom&quot; &amp; &apos;Jerry&apos;&lt;/b&gt;ok"
        );
    }
}

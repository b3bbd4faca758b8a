//! The JSON API of the outside feeds a group follows (RSS/Atom in; see
//! `weft_node::service::following`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weft_node::crdt::DocKind;
use weft_node::service::FollowedFeed;

use crate::error::AppError;
use crate::extract::{ApiJson, Me};
use crate::json::{E401, E403, E404, E415, E422, List};
use crate::params::doc_id;
use crate::state::{AppState, viewer};
use crate::time::rfc3339;

/// An outside feed a group follows.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = FollowedFeed)]
pub struct FollowedFeedJson {
    /// Its id (for removing it or fetching it now).
    pub id: String,
    pub url: String,
    /// The feed's own title.
    pub title: String,
    pub added_by: String,
    pub added_at: String,
    /// When it was last fetched, and what went wrong then, if anything.
    pub last_fetch: String,
    pub last_error: Option<String>,
    /// Items posted so far.
    pub posted: u64,
}

fn feed_json(f: &FollowedFeed) -> FollowedFeedJson {
    FollowedFeedJson {
        id: f.id(),
        url: f.url.clone(),
        title: f.title.clone(),
        added_by: f.added_by.clone(),
        added_at: rfc3339(f.added_at),
        last_fetch: rfc3339(f.last_fetch),
        last_error: f.last_error.clone(),
        posted: f.posted,
    }
}

/// The outside feeds a group follows
#[utoipa::path(
    get,
    path = "/groups/{id}/feeds",
    tag = "groups",
    params(("id" = String, Path, description = "A group's id")),
    responses(
        (status = 200, description = "OK", body = List<FollowedFeedJson>),
        (status = 401, response = E401),
        (status = 404, response = E404),
    )
)]
pub(crate) async fn feeds(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<Json<List<FollowedFeedJson>>, AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    let list = state.service.followed_feeds(&viewer(&me), &id).await?;
    Ok(Json(List::all(list.iter().map(feed_json).collect())))
}

/// An outside feed to follow.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowBody {
    /// The feed's address (RSS or Atom, http or https).
    pub url: String,
}

/// Follow an outside feed
///
/// The group's owners (or a community manager). The feed is fetched at once (an address
/// that gives no feed is refused with why) and its three newest items are posted, by this
/// site's feed account; later items as they appear.
#[utoipa::path(
    post,
    path = "/groups/{id}/feeds",
    tag = "groups",
    params(("id" = String, Path, description = "A group's id")),
    request_body = FollowBody,
    responses(
        (status = 201, description = "Followed", body = FollowedFeedJson),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 422, response = E422),
    )
)]
pub(crate) async fn follow(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<FollowBody>,
) -> Result<(StatusCode, Json<FollowedFeedJson>), AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    let f = state.service.follow_feed(&viewer(&me), &id, &b.url).await?;
    Ok((StatusCode::CREATED, Json(feed_json(&f))))
}

/// Stop following an outside feed
#[utoipa::path(
    delete,
    path = "/groups/{id}/feeds/{feed}",
    tag = "groups",
    params(
        ("id" = String, Path, description = "A group's id"),
        ("feed" = String, Path, description = "A followed feed's id"),
    ),
    responses(
        (status = 204, description = "No longer followed"),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
    )
)]
pub(crate) async fn unfollow(
    State(state): State<AppState>,
    Me(me): Me,
    Path((id, feed)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    state
        .service
        .unfollow_feed(&viewer(&me), &id, &feed)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Fetch a followed feed now
#[utoipa::path(
    post,
    path = "/groups/{id}/feeds/{feed}/refresh",
    tag = "groups",
    params(
        ("id" = String, Path, description = "A group's id"),
        ("feed" = String, Path, description = "A followed feed's id"),
    ),
    responses(
        (status = 200, description = "Fetched (see `last_error`)", body = FollowedFeedJson),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
    )
)]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    Me(me): Me,
    Path((id, feed)): Path<(String, String)>,
) -> Result<Json<FollowedFeedJson>, AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    let f = state.service.refresh_feed(&viewer(&me), &id, &feed).await?;
    Ok(Json(feed_json(&f)))
}

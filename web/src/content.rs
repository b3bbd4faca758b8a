//! The JSON API of what people post besides threads (issue 16): polls, so far.
//!
//! A poll is made with a post — the first post of a new thread (`POST /groups/{id}/polls`,
//! or `POST /groups/{id}/threads` with a `poll`) or a reply (`POST /threads/{id}/posts` with
//! a `poll`) — and its id is its post's (`thread~post`). Votes: `PUT /polls/{id}/vote`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Json, Router, routing::get, routing::post, routing::put};
use serde::Deserialize;
use utoipa::ToSchema;
use weft_node::crdt::{DocKind, NewPoll};

use crate::error::AppError;
use crate::extract::{ApiJson, Me};
use crate::json::{E400, E401, E403, E404, E413, E415, E422, E429};
use crate::json::{PollJson, ThreadJson, poll_results_json, thread_json};
use crate::params::{doc_id, post_id};
use crate::state::{AppState, viewer};
use crate::time::parse_rfc3339;

/// The routes, under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/groups/{id}/polls", post(create_poll))
        .route("/polls/{id}", get(poll))
        .route("/polls/{id}/vote", put(vote))
}

/// A poll to make with a post.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PollBody {
    /// At most 300 bytes.
    pub question: String,
    /// 2 to 20 labels (at most 200 bytes each); their ids are `1`, `2`, … in this order.
    pub options: Vec<String>,
    /// Whether a voter may choose several options.
    #[serde(default)]
    pub multiple: bool,
    /// When voting ends (RFC 3339, in the future); none: it stays open.
    #[schema(format = DateTime)]
    pub closes_at: Option<String>,
    /// Show the counts to a voter only once they have voted (or the poll has closed).
    #[serde(default)]
    pub results_after_vote: bool,
}

impl PollBody {
    /// The poll to write, checked against `now` (ms).
    pub(crate) fn to_poll(&self, now: i64) -> Result<NewPoll, AppError> {
        let closes_at = match self.closes_at.as_deref().filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(s) => {
                let t = parse_rfc3339(s)
                    .ok_or_else(|| AppError::invalid("closes_at is not an RFC 3339 time"))?;
                if t <= now {
                    return Err(AppError::invalid("closes_at is in the past"));
                }
                Some(t)
            }
        };
        Ok(NewPoll {
            question: self.question.clone(),
            options: self.options.clone(),
            multiple: self.multiple,
            closes_at,
            results_after_vote: self.results_after_vote,
        })
    }
}

/// A new thread whose first post is a poll.
#[derive(Deserialize, ToSchema)]
pub(crate) struct NewPollBody {
    #[serde(flatten)]
    poll: PollBody,
    /// The thread's title (the question if left out).
    #[serde(default)]
    title: String,
    /// Markdown shown above the poll (the question if left out).
    #[serde(default)]
    body: String,
}

/// Start a poll
///
/// A thread whose first post asks `question`. Members only (403 for others in a group they
/// may see). Answered once durable.
#[utoipa::path(
    post,
    path = "/groups/{id}/polls",
    tag = "polls",
    params(("id" = String, Path, description = "A group's id")),
    request_body = NewPollBody,
    responses(
        (status = 201, description = "Created: the thread, whose root post has the poll", body = ThreadJson),
        (status = 400, response = E400),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 413, response = E413),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn create_poll(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<NewPollBody>,
) -> Result<(StatusCode, Json<ThreadJson>), AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    let v = viewer(&me);
    let poll = b.poll.to_poll(state.service.now_ms())?;
    let tid = state
        .service
        .create_poll(&v, &id, &b.title, &b.body, poll)
        .await?;
    let t = thread_json(
        &*state.service.thread(&v, &tid).await?,
        &me,
        state.service.now_ms(),
    );
    Ok((StatusCode::CREATED, Json(t)))
}

/// A poll
#[utoipa::path(
    get,
    path = "/polls/{id}",
    tag = "polls",
    params(("id" = String, Path, description = "A poll's id (its post's, `thread~post`)")),
    responses(
        (status = 200, description = "OK", body = PollJson),
        (status = 401, response = E401),
        (status = 404, response = E404),
    )
)]
pub(crate) async fn poll(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<Json<PollJson>, AppError> {
    let (tid, pid) = post_id(&id)?;
    let r = state.service.poll(&viewer(&me), &tid, &pid).await?;
    Ok(Json(poll_results_json(&tid, &pid, &r)))
}

/// A vote.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VoteBody {
    /// The option ids chosen (one in a single-choice poll; none withdraws one's vote).
    options: Vec<String>,
}

/// Vote
///
/// Sets the caller's vote (replacing their earlier one) until the poll closes: 422 once it
/// has, for an unknown option, or for several options of a single-choice poll. Members of
/// the group only. Answered once durable, with the poll as it is now.
#[utoipa::path(
    put,
    path = "/polls/{id}/vote",
    tag = "polls",
    params(("id" = String, Path, description = "A poll's id (its post's, `thread~post`)")),
    request_body = VoteBody,
    responses(
        (status = 200, description = "The poll with the caller's vote", body = PollJson),
        (status = 400, response = E400),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn vote(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<VoteBody>,
) -> Result<Json<PollJson>, AppError> {
    let (tid, pid) = post_id(&id)?;
    if b.options.len() > weft_node::crdt::MAX_POLL_OPTIONS {
        return Err(AppError::invalid("more options than a poll has"));
    }
    let r = state
        .service
        .vote(&viewer(&me), &tid, &pid, b.options)
        .await?;
    Ok(Json(poll_results_json(&tid, &pid, &r)))
}

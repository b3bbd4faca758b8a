//! The API of what is personal to the caller: their feed, notifications and follows, and
//! finding people (for @mention completion and the people directory).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;
use weft_node::crdt::DocKind;
use weft_node::service::ProfileEdit;

use crate::error::AppError;
use crate::extract::Me;
use crate::json::{E400, E401, E404, E413, E415, E422, E429};
use crate::json::{
    FeedThread, List, NotificationJson, Person, Unread, feed_thread, notification_json, person_of,
};
use crate::params::{doc_id, filter_query};
use crate::state::{AppState, viewer};

/// The routes of what is personal to the caller, under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/feed", get(feed))
        .route("/feed/read", post(feed_read))
        .route("/notifications", get(notifications))
        .route("/notifications/read", post(notifications_read))
        .route(
            "/threads/{id}/follow",
            put(follow_thread).delete(unfollow_thread),
        )
        .route("/people", get(people))
        .route(
            "/people/{id}/follow",
            put(follow_person).delete(unfollow_person),
        )
        .route("/people/{id}/photo", get(photo))
        .route("/me/photo", put(set_photo).delete(remove_photo))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Page {
    /// How many (1 to 100, 30 by default).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
    /// The `next` cursor of the previous page.
    before: Option<String>,
}

fn cursor<T: std::str::FromStr>(before: Option<&str>) -> Result<Option<T>, AppError> {
    before
        .filter(|b| !b.is_empty())
        .map(|b| {
            b.parse()
                .map_err(|_| AppError::new(StatusCode::BAD_REQUEST, "malformed", "bad cursor"))
        })
        .transpose()
}

/// The caller's home feed: threads of their groups (and All company), of threads and people they follow; newest activity first
///
/// `next` is the cursor for `before`.
#[utoipa::path(
    get,
    path = "/feed",
    tag = "feed",
    params(Page),
    responses(
        (status = 200, description = "OK", body = List<FeedThread>),
        (status = 400, response = E400),
        (status = 401, response = E401),
    )
)]
pub(crate) async fn feed(
    State(state): State<AppState>,
    Me(me): Me,
    Query(p): Query<Page>,
) -> Result<Json<List<FeedThread>>, AppError> {
    let limit = p.limit.unwrap_or(30).clamp(1, 100);
    let before: Option<i64> = cursor(p.before.as_deref())?;
    let items = state.service.feed(&viewer(&me), before, limit).await?;
    let next = (items.len() == limit)
        .then(|| items.last().map(|i| i.thread.last_activity.to_string()))
        .flatten();
    Ok(Json(List {
        items: items.iter().map(feed_thread).collect(),
        next,
    }))
}

/// Mark the whole feed read
#[utoipa::path(
    post,
    path = "/feed/read",
    tag = "feed",
    responses(
        (status = 204, description = "Done"),
        (status = 401, response = E401),
        (status = 415, response = E415),
    )
)]
pub(crate) async fn feed_read(
    State(state): State<AppState>,
    Me(me): Me,
) -> Result<StatusCode, AppError> {
    state.service.mark_all_read(&viewer(&me)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's notifications, newest first
#[utoipa::path(
    get,
    path = "/notifications",
    tag = "notifications",
    params(Page),
    responses(
        (status = 200, description = "OK", body = List<NotificationJson>),
        (status = 400, response = E400),
        (status = 401, response = E401),
    )
)]
pub(crate) async fn notifications(
    State(state): State<AppState>,
    Me(me): Me,
    Query(p): Query<Page>,
) -> Result<Json<List<NotificationJson>>, AppError> {
    let limit = p.limit.unwrap_or(30).clamp(1, 100);
    let before: Option<u64> = cursor(p.before.as_deref())?;
    let items = state
        .service
        .notifications(&viewer(&me), before, limit)
        .await?;
    let next = (items.len() == limit)
        .then(|| items.last().map(|n| n.id.to_string()))
        .flatten();
    Ok(Json(List {
        items: items.iter().map(notification_json).collect(),
        next,
    }))
}

/// Which notifications to mark read.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadBody {
    /// Mark read up to this notification id (all when absent).
    up_to: Option<String>,
}

/// Mark notifications read (all, or up to an id)
///
/// The body is optional: without one, every notification is marked read.
#[utoipa::path(
    post,
    path = "/notifications/read",
    tag = "notifications",
    request_body(content = Option<ReadBody>, content_type = "application/json"),
    responses(
        (status = 200, description = "What is left unread", body = Unread),
        (status = 400, response = E400),
        (status = 401, response = E401),
        (status = 415, response = E415),
        (status = 422, response = E422),
    )
)]
pub(crate) async fn notifications_read(
    State(state): State<AppState>,
    Me(me): Me,
    body: axum::body::Bytes,
) -> Result<Json<Unread>, AppError> {
    // The body is optional: none marks everything read.
    let body: ReadBody = if body.iter().all(u8::is_ascii_whitespace) {
        ReadBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            if e.is_data() {
                AppError::invalid(e.to_string())
            } else {
                AppError::new(StatusCode::BAD_REQUEST, "malformed", e.to_string())
            }
        })?
    };
    let up_to: Option<u64> = match body.up_to {
        Some(s) => Some(
            s.parse()
                .map_err(|_| AppError::invalid("up_to must be a notification id"))?,
        ),
        None => None,
    };
    let unread = state
        .service
        .mark_notifications_read(&viewer(&me), up_to)
        .await?;
    Ok(Json(Unread { unread }))
}

pub(crate) async fn set_thread_follow(
    state: AppState,
    me: String,
    id: String,
    on: bool,
) -> Result<StatusCode, AppError> {
    let id = doc_id(&id, DocKind::Thread)?;
    state.service.follow_thread(&viewer(&me), &id, on).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Follow a thread (replies in it notify the caller)
#[utoipa::path(
    put,
    path = "/threads/{id}/follow",
    tag = "threads",
    params(("id" = String, Path, description = "A thread's id")),
    responses(
        (status = 204, description = "Done"),
        (status = 401, response = E401),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 422, response = E422),
    )
)]
pub(crate) async fn follow_thread(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    set_thread_follow(state, me, id, true).await
}

/// Stop following a thread
#[utoipa::path(
    delete,
    path = "/threads/{id}/follow",
    tag = "threads",
    params(("id" = String, Path, description = "A thread's id")),
    responses(
        (status = 204, description = "Done"),
        (status = 401, response = E401),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 422, response = E422),
    )
)]
pub(crate) async fn unfollow_thread(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    set_thread_follow(state, me, id, false).await
}

pub(crate) async fn set_person_follow(
    state: AppState,
    me: String,
    id: String,
    on: bool,
) -> Result<StatusCode, AppError> {
    state.service.follow_person(&viewer(&me), &id, on).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Follow a person (threads they start appear in the caller's feed)
#[utoipa::path(
    put,
    path = "/people/{id}/follow",
    tag = "people",
    params(("id" = String, Path, description = "An employee id")),
    responses(
        (status = 204, description = "Done"),
        (status = 401, response = E401),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 422, response = E422),
    )
)]
pub(crate) async fn follow_person(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    set_person_follow(state, me, id, true).await
}

/// Stop following a person
#[utoipa::path(
    delete,
    path = "/people/{id}/follow",
    tag = "people",
    params(("id" = String, Path, description = "An employee id")),
    responses(
        (status = 204, description = "Done"),
        (status = 401, response = E401),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 422, response = E422),
    )
)]
pub(crate) async fn unfollow_person(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    set_person_follow(state, me, id, false).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PeopleParams {
    /// Words, each the start of something about the person; at most 200 bytes.
    #[serde(default)]
    q: String,
    /// How many (1 to 100, 20 by default).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

/// Find people: each word of q is a prefix of their id, name, e-mail, site, title, department or expertise
///
/// By name. `q` is at most 200 bytes (else 400 `bad_query`).
#[utoipa::path(
    get,
    path = "/people",
    tag = "people",
    params(PeopleParams),
    responses(
        (status = 200, description = "OK", body = List<Person>),
        (status = 400, response = E400),
        (status = 401, response = E401),
    )
)]
pub(crate) async fn people(
    State(state): State<AppState>,
    Me(me): Me,
    Query(q): Query<PeopleParams>,
) -> Result<Json<List<Person>>, AppError> {
    filter_query(&q.q)?;
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let items = state
        .service
        .find_people(&viewer(&me), &q.q, limit)
        .await?
        .into_iter()
        .map(|p| person_of(&p.employee, (*p.profile).clone()))
        .collect();
    Ok(Json(List::all(items)))
}

/// The image type of a picture, from its first bytes: only JPEG, PNG and WebP are taken.
pub(crate) fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// A person's profile picture
///
/// Served as the image it is (JPEG, PNG or WebP, checked by its first bytes), with `nosniff`
/// and a `default-src 'none'` policy: never as anything a browser would run.
#[utoipa::path(
    get,
    path = "/people/{id}/photo",
    tag = "people",
    params(("id" = String, Path, description = "An employee id")),
    responses(
        (status = 200, description = "The image", content(("image/jpeg"), ("image/png"), ("image/webp"))),
        (status = 401, response = E401),
        (status = 404, response = E404),
    )
)]
pub(crate) async fn photo(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<axum::response::Response, AppError> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let bytes = state
        .service
        .picture(&viewer(&me), &id)
        .await?
        .ok_or_else(AppError::not_found)?;
    let kind = image_type(&bytes).ok_or_else(AppError::not_found)?;
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
            (header::CACHE_CONTROL, "private, max-age=86400"),
        ],
        bytes,
    )
        .into_response())
}

/// Set the caller's profile picture (the body is the image: JPEG, PNG or WebP, at most 64 KiB)
///
/// The web UI scales it down to 256 pixels first. The picture is stored in the profile
/// document, so it replicates with it.
#[utoipa::path(
    put,
    path = "/me/photo",
    tag = "people",
    request_body(content(("image/jpeg"), ("image/png"), ("image/webp"))),
    responses(
        (status = 204, description = "Done"),
        (status = 401, response = E401),
        (status = 413, response = E413),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn set_photo(
    State(state): State<AppState>,
    Me(me): Me,
    request: axum::extract::Request,
) -> Result<StatusCode, AppError> {
    use sha2::{Digest, Sha256};
    let max = weft_node::crdt::MAX_PICTURE;
    let too_large = || {
        AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("a picture is at most {max} bytes; scale it down"),
        )
    };
    // Read at most one byte more than allowed: a huge upload is refused without being read.
    let body = axum::body::to_bytes(request.into_body(), max + 1)
        .await
        .map_err(|_| too_large())?;
    if body.len() > max {
        return Err(too_large());
    }
    if image_type(&body).is_none() {
        return Err(AppError::invalid(
            "the picture must be a JPEG, PNG or WebP image",
        ));
    }
    let digest: String = Sha256::digest(&body)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let edit = ProfileEdit {
        picture: Some((digest, body.to_vec())),
        ..ProfileEdit::default()
    };
    state.service.update_profile(&viewer(&me), edit).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove the caller's profile picture
#[utoipa::path(
    delete,
    path = "/me/photo",
    tag = "people",
    responses(
        (status = 204, description = "Done"),
        (status = 401, response = E401),
        (status = 415, response = E415),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn remove_photo(
    State(state): State<AppState>,
    Me(me): Me,
) -> Result<StatusCode, AppError> {
    let edit = ProfileEdit {
        picture: Some((String::new(), Vec::new())),
        ..ProfileEdit::default()
    };
    state.service.update_profile(&viewer(&me), edit).await?;
    Ok(StatusCode::NO_CONTENT)
}

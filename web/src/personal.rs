//! The API of what is personal to the caller: their feed, notifications and follows, and
//! finding people (for @mention completion and the people directory).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use weft_node::crdt::DocKind;
use weft_node::personal::Notification;
use weft_node::service::FeedItem;

use crate::AppError;
use crate::api::{List, Person, doc_id, now_ms, person_of, rfc3339};
use crate::auth::Me;
use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
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

#[derive(Deserialize)]
struct Page {
    limit: Option<usize>,
    before: Option<String>,
}

/// A thread in the caller's feed.
#[derive(Debug, Serialize)]
pub struct FeedThread {
    pub id: String,
    pub group: String,
    pub group_name: String,
    pub title: String,
    pub author: String,
    /// The start of the first post (Markdown source).
    pub excerpt: String,
    pub reply_count: usize,
    pub last_activity: String,
    /// Something happened in it, by someone else, since the caller last read it.
    pub unread: bool,
    pub following: bool,
}

pub(crate) fn feed_thread(i: &FeedItem) -> FeedThread {
    FeedThread {
        id: i.thread.id.to_string(),
        group: i.thread.group.to_string(),
        group_name: i.group_name.clone(),
        title: i.thread.title.clone(),
        author: i.thread.author.clone(),
        excerpt: i.thread.excerpt.clone(),
        reply_count: i.thread.replies,
        last_activity: rfc3339(i.thread.last_activity),
        unread: i.unread,
        following: i.following,
    }
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

/// `GET /api/v1/feed`: threads of the caller's groups, and of the threads and people they
/// follow, newest activity first. `next` is the cursor for `before`.
async fn feed(
    State(state): State<AppState>,
    Me(me): Me,
    Query(p): Query<Page>,
) -> Result<Json<List<FeedThread>>, AppError> {
    let limit = p.limit.unwrap_or(30).clamp(1, 100);
    let before: Option<i64> = cursor(p.before.as_deref())?;
    let items = state
        .node
        .call(move |c| c.feed_for(&me, before, limit))
        .await??;
    let next = (items.len() == limit)
        .then(|| items.last().map(|i| i.thread.last_activity.to_string()))
        .flatten();
    Ok(Json(List {
        items: items.iter().map(feed_thread).collect(),
        next,
    }))
}

/// `POST /api/v1/feed/read`: marks the whole feed read.
async fn feed_read(State(state): State<AppState>, Me(me): Me) -> Result<StatusCode, AppError> {
    state
        .node
        .call(move |c| c.mark_all_read(&me, now_ms()))
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// A notification, as the API shows it.
#[derive(Debug, Serialize)]
pub struct NotificationJson {
    pub id: String,
    /// `mention`, `reply`, `join_request` or `invitation`.
    pub kind: &'static str,
    /// The thread or group it is about.
    pub doc: String,
    pub post: Option<String>,
    /// Who did it (null when unknown).
    pub by: Option<String>,
    /// The thread's title or the group's name.
    pub title: String,
    pub at: String,
    pub read: bool,
    /// Where the web UI shows it.
    pub url: String,
}

pub(crate) fn notification_json(n: &Notification) -> NotificationJson {
    let url = match &n.post {
        Some(p) => format!("/threads/{}#p-{p}", n.doc),
        None => format!("/groups/{}", n.doc),
    };
    NotificationJson {
        id: n.id.to_string(),
        kind: n.kind.as_str(),
        doc: n.doc.clone(),
        post: n.post.as_ref().map(|p| format!("{}~{p}", n.doc)),
        by: (!n.by.is_empty()).then(|| n.by.clone()),
        title: n.title.clone(),
        at: rfc3339(n.at),
        read: n.read,
        url,
    }
}

/// `GET /api/v1/notifications`: newest first.
async fn notifications(
    State(state): State<AppState>,
    Me(me): Me,
    Query(p): Query<Page>,
) -> Result<Json<List<NotificationJson>>, AppError> {
    let limit = p.limit.unwrap_or(30).clamp(1, 100);
    let before: Option<u64> = cursor(p.before.as_deref())?;
    let items = state
        .node
        .call(move |c| c.notifications_for(&me, before, limit))
        .await??;
    let next = (items.len() == limit)
        .then(|| items.last().map(|n| n.id.to_string()))
        .flatten();
    Ok(Json(List {
        items: items.iter().map(notification_json).collect(),
        next,
    }))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReadBody {
    /// Mark read up to this notification id (all when absent).
    up_to: Option<String>,
}

/// `POST /api/v1/notifications/read` (`{"up_to": id}` optional) → `{"unread": n}`.
async fn notifications_read(
    State(state): State<AppState>,
    Me(me): Me,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, AppError> {
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
        .node
        .call(move |c| -> Result<usize, weft_node::NodeError> {
            c.mark_notifications_read(&me, up_to)?;
            c.unread_notifications(&me)
        })
        .await??;
    Ok(Json(serde_json::json!({ "unread": unread })))
}

async fn set_thread_follow(
    state: AppState,
    me: String,
    id: String,
    on: bool,
) -> Result<StatusCode, AppError> {
    let id = doc_id(&id, DocKind::Thread)?;
    state
        .node
        .call(move |c| c.follow_thread(&me, &id, on))
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/threads/{id}/follow`.
async fn follow_thread(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    set_thread_follow(state, me, id, true).await
}

/// `DELETE /api/v1/threads/{id}/follow`.
async fn unfollow_thread(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    set_thread_follow(state, me, id, false).await
}

async fn set_person_follow(
    state: AppState,
    me: String,
    id: String,
    on: bool,
) -> Result<StatusCode, AppError> {
    state
        .node
        .call(move |c| c.follow_person(&me, &id, on))
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/people/{id}/follow`.
async fn follow_person(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    set_person_follow(state, me, id, true).await
}

/// `DELETE /api/v1/people/{id}/follow`.
async fn unfollow_person(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    set_person_follow(state, me, id, false).await
}

#[derive(Deserialize)]
struct PeopleQuery {
    #[serde(default)]
    q: String,
    limit: Option<usize>,
}

/// `GET /api/v1/people?q=`: people by name, id, e-mail, site, title, department or
/// expertise (each word a prefix), by name.
async fn people(
    State(state): State<AppState>,
    _me: Me,
    Query(q): Query<PeopleQuery>,
) -> Result<Json<List<Person>>, AppError> {
    crate::api::filter_query(&q.q)?;
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let items = state
        .node
        .call(move |c| {
            c.find_people(&q.q, limit)
                .into_iter()
                .map(|e| {
                    let p = c.profile_of(&e.id);
                    person_of(&e, p)
                })
                .collect()
        })
        .await?;
    Ok(Json(List { items, next: None }))
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

/// `GET /api/v1/people/{id}/photo`: the picture, as the image it is (never as anything a
/// browser would run).
async fn photo(
    State(state): State<AppState>,
    _me: Me,
    Path(id): Path<String>,
) -> Result<axum::response::Response, AppError> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let bytes = state
        .node
        .call(move |c| c.picture_of(&id))
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

/// `PUT /api/v1/me/photo`: the body is the picture (JPEG, PNG or WebP, at most 64 KiB; the web
/// UI scales it down to 256 pixels first).
async fn set_photo(
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
    state
        .node
        .call(move |c| {
            c.update_profile(
                &me,
                &weft_node::crdt::ProfileUpdate {
                    photo: Some(&digest),
                    picture: Some(&body),
                    ..Default::default()
                },
                now_ms(),
            )
        })
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/me/photo`.
async fn remove_photo(State(state): State<AppState>, Me(me): Me) -> Result<StatusCode, AppError> {
    state
        .node
        .call(move |c| {
            c.update_profile(
                &me,
                &weft_node::crdt::ProfileUpdate {
                    photo: Some(""),
                    picture: Some(&[]),
                    ..Default::default()
                },
                now_ms(),
            )
        })
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

//! The JSON API of what people post besides threads (issue 16): polls, events and agendas.
//!
//! A poll is made with a post — the first post of a new thread (`POST /groups/{id}/polls`,
//! or `POST /groups/{id}/threads` with a `poll`) or a reply (`POST /threads/{id}/posts` with
//! a `poll`) — and its id is its post's (`thread~post`). Votes: `PUT /polls/{id}/vote`.
//!
//! An event is a thread whose first post announces it; its id is the thread's. Agendas:
//! a group's (`/groups/{id}/events`, and `.ics`), the caller's (`/me/events`), and the
//! caller's subscription URL for calendar applications (`/me/calendar`), served outside the
//! API at `/calendar/{token}.ics` without a session: the secret token is the credential.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Json, Router, routing::get, routing::post, routing::put};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weft_node::crdt::{DocKind, NewEvent, NewPoll};
use weft_node::service::{AGENDA_AHEAD_MS, AGENDA_PAST_MS};

use crate::error::AppError;
use crate::extract::{ApiJson, Me};
use crate::json::{
    AnnouncementJson, EventJson, List, PollJson, PostJson, ThreadJson, event_json,
    poll_results_json, post_json, thread_json,
};
use crate::json::{E400, E401, E403, E404, E413, E415, E422, E429};
use crate::params::{doc_id, post_id};
use crate::state::{AppState, viewer};
use crate::time::{parse_in, parse_rfc3339, zone};

/// The routes, under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/groups/{id}/polls", post(create_poll))
        .route("/polls/{id}", get(poll))
        .route("/polls/{id}/vote", put(vote))
        .route("/groups/{id}/events", get(group_events).post(create_event))
        .route("/groups/{id}/events.ics", get(group_calendar))
        .route("/events/{id}", get(event).patch(edit_event))
        .route("/events/{id}/rsvp", put(rsvp))
        .route("/me/events", get(my_events))
        .route("/me/calendar", get(my_calendar))
        .route("/me/calendar/reset", post(reset_calendar))
        .route(
            "/groups/{id}/library",
            get(crate::library::library).post(crate::library::add_document),
        )
        .route("/documents/{id}", get(crate::library::document))
        .route(
            "/documents/{id}/versions",
            post(crate::library::new_version),
        )
        .route(
            "/documents/{id}/versions/{version}/restore",
            post(crate::library::restore_version),
        )
        .route("/documents/{id}/folder", put(crate::library::move_document))
        .route(
            "/groups/{id}/feeds",
            get(crate::following::feeds).post(crate::following::follow),
        )
        .route(
            "/groups/{id}/feeds/{feed}",
            axum::routing::delete(crate::following::unfollow),
        )
        .route(
            "/groups/{id}/feeds/{feed}/refresh",
            post(crate::following::refresh),
        )
        .route("/me/feeds", get(crate::atom::my_feeds))
        .route("/me/feeds/reset", post(crate::atom::reset_feeds))
        .route("/people/{id}/wall", get(wall).post(write_on_wall))
        .route("/posts/{id}/hidden", put(hide_post))
        .route(
            "/posts/{id}/report",
            post(crate::community::report).delete(crate::community::withdraw_report),
        )
        .route("/moderation", get(crate::community::queue))
        .route(
            "/me/mail",
            get(crate::mail::settings).put(crate::mail::set_settings),
        )
        .route("/me/mail/digest", post(crate::mail::digest_now))
        .route("/analytics", get(crate::analytics::analytics))
        .route("/analytics.csv", get(crate::analytics::analytics_csv))
        .route("/analytics/publish", post(crate::analytics::publish))
        .route("/threads/{id}/mark", put(crate::community::mark))
        .route("/groups/{id}/merged_into", put(crate::community::merge))
        .route(
            "/groups/{id}/owners/{user}",
            put(crate::community::make_owner),
        )
        .route("/groups/similar", get(crate::community::similar))
        .route("/groups/duplicates", get(crate::community::duplicates))
        .route("/threads/{id}/best_answer", put(best_answer))
        .route("/threads/{id}/pinned", put(pin))
        .route("/announcements", get(announcements).post(announce))
        .route("/announcements/{id}/dismiss", post(dismiss))
        .route(
            "/posts/{id}/bookmark",
            put(bookmark_on).delete(bookmark_off),
        )
        .route("/me/bookmarks", get(bookmarks))
        .route("/directory", get(directory))
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

/// A new event, or an event's new times and place.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventBody {
    /// At most 300 bytes (required for a new event; ignored when changing one).
    #[serde(default)]
    title: String,
    /// Markdown (ignored when changing one: edit the post).
    #[serde(default)]
    description: String,
    /// RFC 3339; without an offset (`2026-12-10T10:00`), a time in `time_zone`.
    starts_at: String,
    /// As `starts_at`; at or after it, within a year of it. Default: an hour after it.
    ends_at: Option<String>,
    /// An IANA time zone (`Europe/Paris`); default UTC.
    #[serde(default)]
    time_zone: String,
    /// A place or a link (at most 1,024 bytes).
    #[serde(default)]
    location: String,
    /// Cancelled (when changing one).
    #[serde(default)]
    cancelled: bool,
}

impl EventBody {
    fn to_event(&self) -> Result<NewEvent, AppError> {
        let name = if self.time_zone.trim().is_empty() {
            "UTC"
        } else {
            self.time_zone.trim()
        };
        let tz = zone(name).ok_or_else(|| {
            AppError::invalid("time_zone is not an IANA time zone (Europe/Paris)")
        })?;
        let starts_at = parse_in(&self.starts_at, &tz)
            .ok_or_else(|| AppError::invalid("starts_at is not a date and time (RFC 3339)"))?;
        let ends_at = match self.ends_at.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(s) => parse_in(s, &tz)
                .ok_or_else(|| AppError::invalid("ends_at is not a date and time (RFC 3339)"))?,
            None => starts_at + 3_600_000,
        };
        Ok(NewEvent {
            starts_at,
            ends_at,
            time_zone: name.to_owned(),
            location: self.location.clone(),
            cancelled: self.cancelled,
        })
    }
}

/// Plan an event
///
/// A thread whose first post announces the event, in a group the caller is a member of
/// (anyone, in a public group). Answered once durable.
#[utoipa::path(
    post,
    path = "/groups/{id}/events",
    tag = "agenda",
    params(("id" = String, Path, description = "A group's id")),
    request_body = EventBody,
    responses(
        (status = 201, description = "Created", body = EventJson),
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
pub(crate) async fn create_event(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<EventBody>,
) -> Result<(StatusCode, Json<EventJson>), AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    let v = viewer(&me);
    let e = b.to_event()?;
    let tid = state
        .service
        .create_event(&v, &id, &b.title, &b.description, e)
        .await?;
    let item = state.service.event(&v, &tid).await?;
    Ok((StatusCode::CREATED, Json(event_json(&item, &me))))
}

/// An event
#[utoipa::path(
    get,
    path = "/events/{id}",
    tag = "agenda",
    params(("id" = String, Path, description = "An event's id (its thread's)")),
    responses(
        (status = 200, description = "OK", body = EventJson),
        (status = 401, response = E401),
        (status = 404, response = E404),
    )
)]
pub(crate) async fn event(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<Json<EventJson>, AppError> {
    let id = doc_id(&id, DocKind::Thread)?;
    let item = state.service.event(&viewer(&me), &id).await?;
    Ok(Json(event_json(&item, &me)))
}

/// Change an event
///
/// Its times, time zone, place, or cancel it: its author only (403 for others). The title
/// and description are the thread's and its first post's.
#[utoipa::path(
    patch,
    path = "/events/{id}",
    tag = "agenda",
    params(("id" = String, Path, description = "An event's id (its thread's)")),
    request_body = EventBody,
    responses(
        (status = 200, description = "The event as it is now", body = EventJson),
        (status = 400, response = E400),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn edit_event(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<EventBody>,
) -> Result<Json<EventJson>, AppError> {
    let id = doc_id(&id, DocKind::Thread)?;
    let e = b.to_event()?;
    let item = state.service.edit_event(&viewer(&me), &id, e).await?;
    Ok(Json(event_json(&item, &me)))
}

/// An answer to an event.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RsvpBody {
    /// `yes`, `maybe` or `no`; null withdraws one's answer.
    answer: Option<String>,
}

/// Answer an event
///
/// Sets the caller's answer, replacing an earlier one. Members of the group only (anyone in
/// a public group). Answered once durable, with the event as it is now.
#[utoipa::path(
    put,
    path = "/events/{id}/rsvp",
    tag = "agenda",
    params(("id" = String, Path, description = "An event's id (its thread's)")),
    request_body = RsvpBody,
    responses(
        (status = 200, description = "The event with the caller's answer", body = EventJson),
        (status = 400, response = E400),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn rsvp(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RsvpBody>,
) -> Result<Json<EventJson>, AppError> {
    let id = doc_id(&id, DocKind::Thread)?;
    if let Some(a) = &b.answer
        && !weft_node::crdt::RSVP_ANSWERS.contains(&a.as_str())
    {
        return Err(AppError::invalid("answer is yes, maybe, no or null"));
    }
    let item = state.service.rsvp(&viewer(&me), &id, b.answer).await?;
    Ok(Json(event_json(&item, &me)))
}

/// The window of an agenda.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AgendaParams {
    /// Events starting at or after this time (RFC 3339); default 30 days ago.
    from: Option<String>,
    /// Events starting before this time (RFC 3339); default a year from now.
    to: Option<String>,
}

impl AgendaParams {
    fn window(&self, now: i64) -> Result<(i64, i64), AppError> {
        let at = |s: &Option<String>, what: &str, default: i64| match s.as_deref() {
            None | Some("") => Ok(default),
            Some(t) => parse_rfc3339(t)
                .ok_or_else(|| AppError::invalid(format!("{what} is not an RFC 3339 time"))),
        };
        Ok((
            at(&self.from, "from", now - AGENDA_PAST_MS)?,
            at(&self.to, "to", now + AGENDA_AHEAD_MS)?,
        ))
    }
}

/// A group's agenda
///
/// Its events by start time (at most 500). Members only in a private group (403 for others
/// who see its listing).
#[utoipa::path(
    get,
    path = "/groups/{id}/events",
    tag = "agenda",
    params(("id" = String, Path, description = "A group's id"), AgendaParams),
    responses(
        (status = 200, description = "OK", body = List<EventJson>),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 422, response = E422),
    )
)]
pub(crate) async fn group_events(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    Query(q): Query<AgendaParams>,
) -> Result<Json<List<EventJson>>, AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    let (from, to) = q.window(state.service.now_ms())?;
    let items = state
        .service
        .group_events(&viewer(&me), &id, from, to)
        .await?;
    Ok(Json(List::all(
        items.iter().map(|e| event_json(e, &me)).collect(),
    )))
}

/// A group's agenda as iCalendar
///
/// `text/calendar` (RFC 5545) of the same events as `/groups/{id}/events`.
#[utoipa::path(
    get,
    path = "/groups/{id}/events.ics",
    tag = "agenda",
    params(("id" = String, Path, description = "A group's id"), AgendaParams),
    responses(
        (status = 200, description = "An iCalendar document", content_type = "text/calendar", body = String),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 422, response = E422),
    )
)]
pub(crate) async fn group_calendar(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    Query(q): Query<AgendaParams>,
) -> Result<Response, AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    let now = state.service.now_ms();
    let (from, to) = q.window(now)?;
    let v = viewer(&me);
    let items = state.service.group_events(&v, &id, from, to).await?;
    let name = items
        .first()
        .map(|e| e.group_name.clone())
        .unwrap_or_else(|| "Weft".into());
    Ok(crate::ical::response(&state, &name, &items, now))
}

/// The caller's agenda
///
/// The events of the groups they are a member of, and those they answered yes or maybe to
/// elsewhere, by start time (at most 500).
#[utoipa::path(
    get,
    path = "/me/events",
    tag = "agenda",
    params(AgendaParams),
    responses(
        (status = 200, description = "OK", body = List<EventJson>),
        (status = 401, response = E401),
        (status = 422, response = E422),
    )
)]
pub(crate) async fn my_events(
    State(state): State<AppState>,
    Me(me): Me,
    Query(q): Query<AgendaParams>,
) -> Result<Json<List<EventJson>>, AppError> {
    let (from, to) = q.window(state.service.now_ms())?;
    let items = state.service.my_events(&viewer(&me), from, to).await?;
    Ok(Json(List::all(
        items.iter().map(|e| event_json(e, &me)).collect(),
    )))
}

/// Where a calendar application subscribes to an agenda.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarJson {
    /// The caller's agenda as iCalendar, at a secret URL that needs no session (keep it
    /// private; `POST /me/calendar/reset` replaces it).
    pub url: String,
    /// The same with the `webcal:` scheme, which calendar applications open directly.
    pub webcal: String,
}

pub(crate) fn calendar_json(state: &AppState, headers: &HeaderMap, token: &str) -> CalendarJson {
    let base = state.base_url(headers);
    let url = format!("{base}/calendar/{token}.ics");
    let webcal = format!(
        "webcal://{}",
        url.split_once("://").map_or(url.as_str(), |(_, r)| r)
    );
    CalendarJson { url, webcal }
}

/// The caller's calendar subscription
///
/// The secret URL of the caller's agenda for calendar applications (drawn at the first
/// call; the same afterwards).
#[utoipa::path(
    get,
    path = "/me/calendar",
    tag = "agenda",
    responses(
        (status = 200, description = "OK", body = CalendarJson),
        (status = 401, response = E401),
    )
)]
pub(crate) async fn my_calendar(
    State(state): State<AppState>,
    Me(me): Me,
    headers: HeaderMap,
) -> Result<Json<CalendarJson>, AppError> {
    let token = state.service.calendar_token(&viewer(&me)).await?;
    Ok(Json(calendar_json(&state, &headers, &token)))
}

/// Replace the calendar subscription
///
/// Draws a new secret URL; the old one stops working at once.
#[utoipa::path(
    post,
    path = "/me/calendar/reset",
    tag = "agenda",
    responses(
        (status = 200, description = "The new subscription", body = CalendarJson),
        (status = 401, response = E401),
        (status = 415, response = E415),
    )
)]
pub(crate) async fn reset_calendar(
    State(state): State<AppState>,
    Me(me): Me,
    headers: HeaderMap,
) -> Result<Json<CalendarJson>, AppError> {
    let token = state
        .service
        .reset_calendar_token(&viewer(&me), true)
        .await?;
    Ok(Json(calendar_json(&state, &headers, &token)))
}

/// Someone's wall
///
/// The posts colleagues left on an employee's profile, as a thread (oldest first: `root`,
/// then `replies`; each post's id names its own thread). An empty wall has no `root` and an
/// empty `id`.
#[utoipa::path(
    get,
    path = "/people/{id}/wall",
    tag = "walls",
    params(("id" = String, Path, description = "An employee's id")),
    responses(
        (status = 200, description = "OK", body = ThreadJson),
        (status = 401, response = E401),
        (status = 404, response = E404),
    )
)]
pub(crate) async fn wall(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<Json<ThreadJson>, AppError> {
    let w = state.service.wall(&viewer(&me), &id).await?;
    Ok(Json(wall_json(&state, &w, &me)))
}

/// A wall as one thread's JSON.
pub(crate) fn wall_json(state: &AppState, w: &weft_node::service::Wall, me: &str) -> ThreadJson {
    let now = state.service.now_ms();
    let mut posts = w.posts().into_iter().map(|(t, p)| post_json(t, p, me, now));
    let root = posts.next();
    let replies: Vec<PostJson> = posts.collect();
    let first = w.threads.first();
    ThreadJson {
        id: first.map(|t| t.id.to_string()).unwrap_or_default(),
        group: first.map(|t| t.group.to_string()).unwrap_or_default(),
        title: first.map(|t| t.title.clone()).unwrap_or_default(),
        reply_count: replies.len(),
        last_activity: crate::time::rfc3339(
            w.threads
                .iter()
                .map(|t| weft_node::service::last_activity(t))
                .max()
                .unwrap_or(0),
        ),
        root,
        replies,
        following: false,
        question: false,
        best_answer: None,
        pinned: false,
        wall_of: Some(w.owner.clone()),
        announcement: None,
        mark: None,
    }
}

/// A post on a wall.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WallPostBody {
    /// Markdown, with @mentions and #topics.
    body: String,
}

/// Write on someone's wall
///
/// Any employee writes on any active employee's wall (their own too); the wall's owner is
/// notified. Answered once durable.
#[utoipa::path(
    post,
    path = "/people/{id}/wall",
    tag = "walls",
    params(("id" = String, Path, description = "An employee's id")),
    request_body = WallPostBody,
    responses(
        (status = 201, description = "Created", body = PostJson),
        (status = 400, response = E400),
        (status = 401, response = E401),
        (status = 404, response = E404),
        (status = 413, response = E413),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn write_on_wall(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<WallPostBody>,
) -> Result<(StatusCode, Json<PostJson>), AppError> {
    let v = viewer(&me);
    let (tid, pid) = state.service.post_on_wall(&v, &id, &b.body).await?;
    let (_, p) = state.service.post(&v, &tid, &pid).await?;
    Ok((
        StatusCode::CREATED,
        Json(post_json(&tid, &p, &me, state.service.now_ms())),
    ))
}

/// Hiding a post.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HideBody {
    hidden: bool,
    /// Why (shown to the post's author).
    #[serde(default)]
    reason: String,
}

/// Hide a post, or show it again
///
/// A moderator of its thread — an owner of its group, a community manager, or the owner of
/// the wall it is on — hides a post with a reason (told to its author; every site applies
/// it), or shows it again. Either closes the reports made before. 403 for other readers.
#[utoipa::path(
    put,
    path = "/posts/{id}/hidden",
    tag = "moderation",
    params(("id" = String, Path, description = "A post's id (`thread~post`)")),
    request_body = HideBody,
    responses(
        (status = 204, description = "Done"),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn hide_post(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<HideBody>,
) -> Result<StatusCode, AppError> {
    let (tid, pid) = post_id(&id)?;
    if b.reason.len() > 1_000 {
        return Err(AppError::invalid("a reason is at most 1,000 bytes"));
    }
    state
        .service
        .moderate(&viewer(&me), &tid, &pid, b.hidden, &b.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The best answer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BestAnswerBody {
    /// A reply's id (`thread~post`); null unmarks it.
    post: Option<String>,
}

/// Pick the best answer
///
/// Of a question thread: its asker, a group owner or a community manager (403 for others).
#[utoipa::path(
    put,
    path = "/threads/{id}/best_answer",
    tag = "threads",
    params(("id" = String, Path, description = "A thread's id")),
    request_body = BestAnswerBody,
    responses(
        (status = 200, description = "The thread as it is now", body = ThreadJson),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn best_answer(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<BestAnswerBody>,
) -> Result<Json<ThreadJson>, AppError> {
    let tid = doc_id(&id, DocKind::Thread)?;
    let post = match &b.post {
        Some(p) => Some(
            weft_node::service::parse_post_ref(p)
                .filter(|(t, _)| *t == tid)
                .map(|(_, p)| p)
                .ok_or_else(|| AppError::invalid("post is not a reply of this thread"))?,
        ),
        None => None,
    };
    let v = viewer(&me);
    state
        .service
        .set_best_answer(&v, &tid, post.as_deref())
        .await
        .map_err(forbidden_if_refused)?;
    let t = state.service.thread(&v, &tid).await?;
    Ok(Json(thread_json(&t, &me, state.service.now_ms())))
}

/// A write the rules refused for its author is theirs not to make: 403.
fn forbidden_if_refused(e: weft_node::NodeError) -> AppError {
    match e {
        weft_node::NodeError::Local(weft_node::crdt::LocalError::Refused(r)) => AppError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("not allowed: {r}"),
        ),
        e => e.into(),
    }
}

/// Pinning.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PinBody {
    pinned: bool,
}

/// Pin a thread
///
/// At the top of its group: group owners and community managers (403 for others).
#[utoipa::path(
    put,
    path = "/threads/{id}/pinned",
    tag = "threads",
    params(("id" = String, Path, description = "A thread's id")),
    request_body = PinBody,
    responses(
        (status = 200, description = "The thread as it is now", body = ThreadJson),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn pin(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PinBody>,
) -> Result<Json<ThreadJson>, AppError> {
    let tid = doc_id(&id, DocKind::Thread)?;
    let v = viewer(&me);
    state.service.pin_thread(&v, &tid, b.pinned).await?;
    let t = state.service.thread(&v, &tid).await?;
    Ok(Json(thread_json(&t, &me, state.service.now_ms())))
}

/// A new announcement.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnnouncementBody {
    title: String,
    /// Markdown.
    body: String,
    /// The site whose people it is for; absent or null: everyone.
    site: Option<String>,
    /// When it stops being shown above feeds (RFC 3339, in the future); default a week.
    #[schema(format = DateTime)]
    expires_at: Option<String>,
}

/// Make an announcement
///
/// A thread of All company shown above the feeds of everyone (or of one site's people)
/// until it expires or each reader dismisses it. Community managers and the directory's
/// `communication` role only (403 for others).
#[utoipa::path(
    post,
    path = "/announcements",
    tag = "announcements",
    request_body = AnnouncementBody,
    responses(
        (status = 201, description = "Created", body = ThreadJson),
        (status = 400, response = E400),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 413, response = E413),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn announce(
    State(state): State<AppState>,
    Me(me): Me,
    ApiJson(b): ApiJson<AnnouncementBody>,
) -> Result<(StatusCode, Json<ThreadJson>), AppError> {
    let now = state.service.now_ms();
    let expires_at = match b.expires_at.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => parse_rfc3339(s)
            .ok_or_else(|| AppError::invalid("expires_at is not an RFC 3339 time"))?,
        None => now + 7 * 24 * 3_600_000,
    };
    let v = viewer(&me);
    let tid = state
        .service
        .announce(&v, &b.title, &b.body, b.site.as_deref(), expires_at)
        .await?;
    let t = state.service.thread(&v, &tid).await?;
    Ok((StatusCode::CREATED, Json(thread_json(&t, &me, now))))
}

/// An announcement in force for the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnnouncementItem {
    /// The thread's id.
    pub id: String,
    pub title: String,
    pub author: String,
    /// The start of its text (Markdown source).
    pub excerpt: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub announcement: AnnouncementJson,
}

/// Announcements for the caller
///
/// Those in force for the caller (everyone's and their site's, not expired, not dismissed),
/// newest first, at most five: what the feed shows above its threads.
#[utoipa::path(
    get,
    path = "/announcements",
    tag = "announcements",
    responses(
        (status = 200, description = "OK", body = List<AnnouncementItem>),
        (status = 401, response = E401),
    )
)]
pub(crate) async fn announcements(
    State(state): State<AppState>,
    Me(me): Me,
) -> Result<Json<List<AnnouncementItem>>, AppError> {
    let items = state
        .service
        .announcements(&viewer(&me))?
        .into_iter()
        .map(|(t, a)| AnnouncementItem {
            id: t.id.to_string(),
            title: t.title,
            author: t.author,
            excerpt: t.excerpt,
            created_at: crate::time::rfc3339(t.created_at),
            announcement: AnnouncementJson::of(&a),
        })
        .collect();
    Ok(Json(List::all(items)))
}

/// Dismiss an announcement
///
/// For the caller only: it stops being shown above their feed.
#[utoipa::path(
    post,
    path = "/announcements/{id}/dismiss",
    tag = "announcements",
    params(("id" = String, Path, description = "An announcement's id (its thread's)")),
    responses(
        (status = 204, description = "Done"),
        (status = 401, response = E401),
        (status = 404, response = E404),
        (status = 415, response = E415),
    )
)]
pub(crate) async fn dismiss(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let tid = doc_id(&id, DocKind::Thread)?;
    state.service.dismiss(&viewer(&me), &tid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Bookmark a post
///
/// Kept for the caller only, at their home site (never replicated).
#[utoipa::path(
    put,
    path = "/posts/{id}/bookmark",
    tag = "bookmarks",
    params(("id" = String, Path, description = "A post's id (`thread~post`)")),
    responses(
        (status = 204, description = "Kept"),
        (status = 401, response = E401),
        (status = 404, response = E404),
        (status = 415, response = E415),
    )
)]
pub(crate) async fn bookmark_on(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let (tid, pid) = post_id(&id)?;
    state
        .service
        .bookmark(&viewer(&me), &tid, &pid, true)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Forget a bookmark
#[utoipa::path(
    delete,
    path = "/posts/{id}/bookmark",
    tag = "bookmarks",
    params(("id" = String, Path, description = "A post's id (`thread~post`)")),
    responses(
        (status = 204, description = "Forgotten"),
        (status = 401, response = E401),
        (status = 404, response = E404),
        (status = 415, response = E415),
    )
)]
pub(crate) async fn bookmark_off(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let (tid, pid) = post_id(&id)?;
    state
        .service
        .bookmark(&viewer(&me), &tid, &pid, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A bookmark.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Bookmark)]
pub struct BookmarkJson {
    /// The post kept (`thread~post`).
    pub post: String,
    pub thread: String,
    pub title: String,
    pub group: String,
    /// The start of the thread's first post.
    pub excerpt: String,
    #[schema(format = DateTime)]
    pub saved_at: String,
}

/// The caller's bookmarks
///
/// Newest first; those the caller may no longer read are left out.
#[utoipa::path(
    get,
    path = "/me/bookmarks",
    tag = "bookmarks",
    responses(
        (status = 200, description = "OK", body = List<BookmarkJson>),
        (status = 401, response = E401),
    )
)]
pub(crate) async fn bookmarks(
    State(state): State<AppState>,
    Me(me): Me,
) -> Result<Json<List<BookmarkJson>>, AppError> {
    let items = state
        .service
        .bookmarks(&viewer(&me))?
        .into_iter()
        .map(|b| BookmarkJson {
            post: weft_node::service::post_ref(&b.thread.id, &b.post),
            thread: b.thread.id.to_string(),
            title: b.thread.title.clone(),
            group: b.thread.group.to_string(),
            excerpt: b.thread.excerpt.clone(),
            saved_at: crate::time::rfc3339(b.at),
        })
        .collect();
    Ok(Json(List::all(items)))
}

/// The filters of the people directory.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DirectoryParams {
    /// A site's id.
    site: Option<String>,
    /// A department, exactly as the directory writes it.
    department: Option<String>,
    /// Words of the job title (any case, any accents).
    title: Option<String>,
    /// An employee's id: their direct reports.
    manager: Option<String>,
    /// How many to skip (default 0).
    #[serde(default)]
    offset: usize,
    /// How many (default 50, at most 200).
    limit: Option<usize>,
}

/// A page of the people directory.
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryJson {
    pub items: Vec<crate::json::Person>,
    /// How many match in all.
    pub total: usize,
    /// The offset of the next page, null on the last.
    pub next: Option<usize>,
}

/// The people directory
///
/// Every active employee of the company, by name, filtered by site, department, words of
/// the title, or manager (their direct reports: the org chart one level at a time).
#[utoipa::path(
    get,
    path = "/directory",
    tag = "people",
    params(DirectoryParams),
    responses(
        (status = 200, description = "OK", body = DirectoryJson),
        (status = 401, response = E401),
        (status = 422, response = E422),
    )
)]
pub(crate) async fn directory(
    State(state): State<AppState>,
    Me(_me): Me,
    Query(q): Query<DirectoryParams>,
) -> Result<Json<DirectoryJson>, AppError> {
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 200 {
        return Err(AppError::invalid("limit is 1 to 200"));
    }
    if [&q.site, &q.department, &q.title, &q.manager]
        .iter()
        .any(|x| x.as_ref().is_some_and(|x| x.len() > 200))
    {
        return Err(AppError::invalid("a filter is at most 200 bytes"));
    }
    let opt = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let f = weft_node::service::DirectoryFilter {
        site: opt(&q.site),
        department: opt(&q.department),
        title: opt(&q.title),
        manager: opt(&q.manager),
    };
    let d = state.service.browse_people(&f, q.offset, limit);
    let next = q.offset + d.people.len();
    let items = d
        .people
        .iter()
        .map(|e| {
            let p = d
                .profiles
                .get(&e.id)
                .map(|p| (**p).clone())
                .unwrap_or_default();
            crate::json::person_of(e, p)
        })
        .collect();
    Ok(Json(DirectoryJson {
        items,
        total: d.total,
        next: (next < d.total).then_some(next),
    }))
}

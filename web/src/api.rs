//! The JSON API of `shared/API.md`: sessions, the caller, people, groups, members, threads,
//! posts, reactions, search and live events. What is personal to the caller (feed,
//! notifications, follows, pictures) is in [`crate::personal`]; the shapes answered are in
//! [`crate::json`]. Each handler's doc comment and `#[utoipa::path]` are its entry in the
//! OpenAPI document ([`crate::openapi`]).

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get, routing::post, routing::put};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use utoipa::ToSchema;
use weft_node::crdt::{DocId, DocKind, Visibility};
use weft_node::service::{MembershipOutcome, ProfileEdit, parse_post_ref, post_ref};

use crate::auth::{self, Session};
use crate::error::AppError;
use crate::extract::{ApiJson, Me, token_in};
use crate::json::{
    Counters, GroupJson, List, MeJson, MembershipJson, Person, PostJson, SearchHit, SessionJson,
    ThreadJson, group_json, person_of, post_json, thread_json,
};
use crate::json::{E400, E401, E403, E404, E413, E415, E422, E429, E503};
use crate::params::{doc_id, filter_query, group_matches, post_id, search_query};
use crate::state::{AppState, viewer};

/// The API routes, under `/api/v1` (with [`crate::personal::routes`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/session", post(login).delete(logout))
        .route("/me", get(me))
        .route("/me/profile", axum::routing::patch(update_profile))
        .route("/people/{id}", get(person))
        .route("/groups", get(list_groups).post(create_group))
        .route(
            "/groups/{id}",
            get(group).patch(crate::community::update_group),
        )
        .route("/groups/{id}/members", post(add_member))
        .route(
            "/groups/{id}/members/{user}",
            axum::routing::delete(remove_member),
        )
        .route(
            "/groups/{id}/threads",
            get(list_threads).post(create_thread),
        )
        .route("/threads/{id}", get(thread))
        .route("/threads/{id}/posts", post(create_post))
        .route(
            "/posts/{id}",
            axum::routing::patch(edit_post).delete(delete_post),
        )
        .route(
            "/posts/{id}/reactions/{kind}",
            put(react_on).delete(react_off),
        )
        .route("/events", get(events))
        .route("/search", get(search))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchParams {
    /// Words and "quoted phrases".
    #[serde(default)]
    q: String,
    /// Only posts, groups or people.
    #[param(schema_with = hit_kind)]
    kind: Option<String>,
    /// How many hits (1 to 100, 20 by default).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

fn hit_kind() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    crate::json::one_of(&["post", "group", "person"])
}

/// Search posts, groups and people (only what the caller may see)
///
/// `q` is words and "quoted phrases", nothing else: any other character (parentheses,
/// `field:`, `+`, `-`, `*`, `~`, `^`) only separates words. At most 1000 bytes, 16 words and 4
/// phrases of 8 words; beyond, 400 `bad_query`. A query with no word answers an empty list.
/// Results are ranked by each document's own words (how often, where, how long the text is)
/// and age, never by statistics of documents the caller may not see.
#[utoipa::path(
    get,
    path = "/search",
    tag = "search",
    params(SearchParams),
    responses(
        (status = 200, description = "Hits, best first", body = List<SearchHit>),
        (status = 400, response = E400),
        (status = 401, response = E401),
        (status = 422, response = E422),
    )
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    Me(me): Me,
    Query(q): Query<SearchParams>,
) -> Result<Json<List<SearchHit>>, AppError> {
    use weft_node::service::HitKind;
    let kind = match q.kind.as_deref() {
        None | Some("") => None,
        Some(k) => Some(
            HitKind::parse(k)
                .ok_or_else(|| AppError::invalid("kind must be post, group or person"))?,
        ),
    };
    let query = search_query(&q.q)?;
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let results = state
        .service
        .search(&viewer(&me), &query, kind, limit)
        .await?;
    let items = results
        .into_iter()
        .map(|r| SearchHit {
            kind: r.hit.kind.as_str(),
            id: match (&r.hit.post, DocId::parse(&r.hit.id)) {
                (Some(p), Ok(t)) => post_ref(&t, p),
                _ => r.hit.id.clone(),
            },
            thread: r.hit.post.as_ref().map(|_| r.hit.id.clone()),
            title: r.context,
            snippet: r.hit.snippet_html,
            mark: r.mark.map(|m| m.as_str()),
        })
        .collect();
    Ok(Json(List::all(items)))
}

/// Server-Sent Events: a `change` event ({doc, kind}) for each document the caller may see that changes
///
/// A `change` event (`{"doc": id, "kind": "thread"|"group"|"profile"}`) each time a
/// document the caller may read changes, at this site or at any other (a group only for its
/// members and invitees: someone who may only see a private group listed hears nothing of
/// it); a `notification` event (`{"unread": n}`) each time the caller gets a notification.
/// The stream ends with the session that opened it: at logout, when the employee's sessions
/// end (a new password, the employee leaving or moving), or when the session expires.
#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    responses(
        (status = 200, description = "An event stream", content_type = "text/event-stream"),
        (status = 401, response = E401),
    )
)]
pub(crate) async fn events(
    State(state): State<AppState>,
    session: Session,
) -> axum::response::sse::Sse<
    impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
    use weft_node::Live;
    let rx = state.service.subscribe();
    let ended = state.sessions.ended();
    // The session ends at the latest this long from now; a check every minute catches it
    // going idle (the stream itself does not count as use).
    let deadline = tokio::time::Instant::now()
        + Duration::from_millis(
            (session.created + auth::SESSION_MAX.as_millis() as i64 - state.service.now_ms()).max(0)
                as u64,
        );
    let stream = futures_util::stream::unfold(
        (rx, ended, state, session),
        move |(mut rx, mut ended, state, session)| async move {
            let me = viewer(&session.employee);
            let mut check = tokio::time::interval(Duration::from_secs(60));
            check.tick().await;
            loop {
                let live = tokio::select! {
                    r = rx.recv() => match r {
                        Ok(live) => live,
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => return None,
                    },
                    changed = ended.changed() => {
                        if changed.is_err() || !state.sessions.is_alive(&session.digest) {
                            return None;
                        }
                        continue;
                    }
                    _ = check.tick() => {
                        if !state.sessions.is_alive(&session.digest) {
                            return None;
                        }
                        continue;
                    }
                    () = tokio::time::sleep_until(deadline) => return None,
                };
                let doc = match live {
                    Live::Changed(doc) => doc,
                    Live::Notified(who) if who == me.id() => {
                        let Ok(unread) = state.service.unread_notifications(&me).await else {
                            continue;
                        };
                        let data = serde_json::json!({ "unread": unread }).to_string();
                        let ev = Event::default().event("notification").data(data);
                        return Some((Ok(ev), (rx, ended, state, session)));
                    }
                    _ => continue,
                };
                if state.service.may_see(&me, &doc) {
                    let kind = match doc.kind() {
                        DocKind::Thread => "thread",
                        DocKind::Group => "group",
                        DocKind::Profile => "profile",
                    };
                    let data = serde_json::json!({"doc": doc.as_str(), "kind": kind}).to_string();
                    let ev = Event::default().event("change").data(data);
                    return Some((Ok(ev), (rx, ended, state, session)));
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The person `id`, from the directory and their profile; 404 if the directory has nobody
/// of that id.
pub(crate) async fn load_person(state: &AppState, id: String) -> Result<Person, AppError> {
    let p = state.service.person(&viewer(&id), &id).await?;
    Ok(person_of(&p.employee, (*p.profile).clone()))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct LoginBody {
    /// A directory id or an e-mail address.
    login: String,
    password: String,
}

/// Log in
///
/// Failed logins are counted per account and per client address (the address a trusted proxy
/// reports in X-Forwarded-For) before any password is checked: past the limits (5 per
/// account, 100 per address in 15 minutes by default) a login answers 429 at once. When too
/// many password checks are waiting, 503. The answer also sets the session cookie.
#[utoipa::path(
    post,
    path = "/session",
    tag = "session",
    security(()),
    request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in", body = SessionJson),
        (status = 400, response = E400),
        (status = 401, description = "Wrong login or password (`bad_credentials`)", body = crate::json::ErrorJson),
        (status = 422, response = E422),
        (status = 429, response = E429),
        (status = 503, response = E503),
    )
)]
pub(crate) async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<(CookieJar, Json<SessionJson>), AppError> {
    let ip = auth::client_ip(Some(addr.ip()), &headers, &state.trusted_proxies);
    let employee = auth::authenticate(
        &state.service,
        &state.logins,
        &body.login,
        body.password,
        ip,
    )
    .await?;
    let token = state.sessions.start(&employee).await?;
    let user = load_person(&state, employee).await?;
    let jar = jar.add(auth::session_cookie(token.clone(), state.secure_cookies));
    Ok((jar, Json(SessionJson { token, user })))
}

/// Log out
///
/// Ends the session; event streams opened with it close.
#[utoipa::path(
    delete,
    path = "/session",
    tag = "session",
    responses(
        (status = 204, description = "Logged out"),
        (status = 415, response = E415),
    )
)]
pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<(StatusCode, CookieJar), AppError> {
    if let Some(t) = token_in(&headers) {
        state.sessions.end(&t).await?;
    }
    let jar = jar.add(auth::clear_session_cookie(state.secure_cookies));
    Ok((StatusCode::NO_CONTENT, jar))
}

/// The caller, with their notification counters
#[utoipa::path(
    get,
    path = "/me",
    tag = "people",
    responses(
        (status = 200, description = "OK", body = MeJson),
        (status = 401, response = E401),
    )
)]
pub(crate) async fn me(
    State(state): State<AppState>,
    Me(me): Me,
) -> Result<Json<MeJson>, AppError> {
    let unread = state.service.unread_notifications(&viewer(&me)).await?;
    Ok(Json(MeJson {
        person: load_person(&state, me).await?,
        notifications: Counters { unread },
    }))
}

/// A person
#[utoipa::path(
    get,
    path = "/people/{id}",
    tag = "people",
    params(("id" = String, Path, description = "An employee id")),
    responses(
        (status = 200, description = "OK", body = Person),
        (status = 401, response = E401),
        (status = 404, response = E404),
    )
)]
pub(crate) async fn person(
    State(state): State<AppState>,
    _me: Me,
    Path(id): Path<String>,
) -> Result<Json<Person>, AppError> {
    Ok(Json(load_person(&state, id).await?))
}

/// The fields of one's profile to change (those left out stay as they are).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfileBody {
    /// Markdown.
    about: Option<String>,
    career: Option<String>,
    expertise: Option<Vec<String>>,
    interests: Option<Vec<String>>,
    languages: Option<Vec<String>>,
    /// `en`, `fr`, or empty for the browser's.
    locale: Option<String>,
    /// An IANA time zone (`Europe/Paris`) for the times shown, or empty for the browser's.
    time_zone: Option<String>,
}

/// Edit one's profile
#[utoipa::path(
    patch,
    path = "/me/profile",
    tag = "people",
    request_body = ProfileBody,
    responses(
        (status = 200, description = "The caller as they are now", body = Person),
        (status = 400, response = E400),
        (status = 401, response = E401),
        (status = 413, response = E413),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn update_profile(
    State(state): State<AppState>,
    Me(me): Me,
    ApiJson(b): ApiJson<ProfileBody>,
) -> Result<Json<Person>, AppError> {
    let edit = ProfileEdit {
        about: b.about,
        career: b.career,
        expertise: b.expertise,
        interests: b.interests,
        languages: b.languages,
        locale: b.locale,
        time_zone: match b.time_zone {
            Some(z) if !z.trim().is_empty() && crate::time::zone(&z).is_none() => {
                return Err(AppError::invalid("time_zone is not an IANA time zone"));
            }
            z => z.map(|z| z.trim().to_owned()),
        },
        picture: None,
    };
    state.service.update_profile(&viewer(&me), edit).await?;
    Ok(Json(load_person(&state, me).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct GroupParams {
    /// Words the name or description must contain (case and accents ignored); at most 200
    /// bytes.
    #[serde(default)]
    q: String,
}

/// Groups the caller may see
///
/// `q` is at most 200 bytes (else 400 `bad_query`).
#[utoipa::path(
    get,
    path = "/groups",
    tag = "groups",
    params(GroupParams),
    responses(
        (status = 200, description = "OK", body = List<GroupJson>),
        (status = 400, response = E400),
        (status = 401, response = E401),
    )
)]
pub(crate) async fn list_groups(
    State(state): State<AppState>,
    Me(me): Me,
    Query(q): Query<GroupParams>,
) -> Result<Json<List<GroupJson>>, AppError> {
    filter_query(&q.q)?;
    let v = viewer(&me);
    let mut items: Vec<GroupJson> = state
        .service
        .groups(&v)
        .await?
        .iter()
        .filter(|(g, _)| group_matches(g, &q.q))
        .map(|(g, a)| group_json(g, &me, *a))
        .collect();
    // Private groups without members here, by their cards.
    let query = weft_node::service::fold(&q.q);
    items.extend(
        state
            .service
            .group_cards(&v)
            .iter()
            .filter(|c| {
                let hay = weft_node::service::fold(&format!("{} {}", c.name, c.description));
                query.split_whitespace().all(|w| hay.contains(w))
            })
            .map(crate::json::card_json),
    );
    Ok(Json(List::all(items)))
}

/// A new group.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewGroupBody {
    name: String,
    #[serde(default)]
    description: String,
    /// `public`, `private` or `secret`.
    #[schema(schema_with = visibility)]
    visibility: String,
}

fn visibility() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    crate::json::one_of(&["public", "private", "secret"])
}

/// Create a group
///
/// The caller is its owner. The name "All company" (in any case, accents, spacing or
/// language) is reserved (422).
#[utoipa::path(
    post,
    path = "/groups",
    tag = "groups",
    request_body = NewGroupBody,
    responses(
        (status = 201, description = "Created", body = GroupJson),
        (status = 400, response = E400),
        (status = 401, response = E401),
        (status = 413, response = E413),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn create_group(
    State(state): State<AppState>,
    Me(me): Me,
    ApiJson(b): ApiJson<NewGroupBody>,
) -> Result<(StatusCode, Json<GroupJson>), AppError> {
    let vis = Visibility::parse(&b.visibility)
        .ok_or_else(|| AppError::invalid("visibility must be public, private or secret"))?;
    let v = viewer(&me);
    let id = state
        .service
        .create_group(&v, &b.name, &b.description, vis)
        .await?;
    let (g, a) = state.service.group(&v, &id).await?;
    let g = group_json(&g, &me, a);
    Ok((StatusCode::CREATED, Json(g)))
}

/// A group
#[utoipa::path(
    get,
    path = "/groups/{id}",
    tag = "groups",
    params(("id" = String, Path, description = "A group's id")),
    responses(
        (status = 200, description = "OK", body = GroupJson),
        (status = 401, response = E401),
        (status = 404, response = E404),
    )
)]
pub(crate) async fn group(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<Json<GroupJson>, AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    let v = viewer(&me);
    match state.service.group(&v, &id).await {
        Ok((g, a)) => Ok(Json(group_json(&g, &me, a))),
        Err(weft_node::NodeError::NotFound) => state
            .service
            .group_card(&v, &id)
            .map(|c| Json(crate::json::card_json(&c)))
            .ok_or_else(AppError::not_found),
        Err(e) => Err(e.into()),
    }
}

/// Who to add to a group.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberBody {
    /// An employee id: the caller's own to join or ask to join.
    user: String,
}

/// Add a member, join, or ask to join (202)
///
/// An owner adds anyone; anyone joins a public group, or a group they are invited to; in a
/// private group, anyone else's own request waits for the owners (202).
#[utoipa::path(
    post,
    path = "/groups/{id}/members",
    tag = "groups",
    params(("id" = String, Path, description = "A group's id")),
    request_body = MemberBody,
    responses(
        (status = 200, description = "A member now", body = MembershipJson),
        (status = 202, description = "Asked: the owners decide", body = MembershipJson),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn add_member(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<MemberBody>,
) -> Result<Response, AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    let outcome = state.service.add_member(&viewer(&me), &id, &b.user).await?;
    let (status, word) = match outcome {
        MembershipOutcome::Added => (StatusCode::OK, "member"),
        MembershipOutcome::Requested => (StatusCode::ACCEPTED, "requested"),
    };
    Ok((status, Json(MembershipJson { status: word })).into_response())
}

/// Remove a member or leave
///
/// An owner removes anyone; anyone removes themself (leaves).
#[utoipa::path(
    delete,
    path = "/groups/{id}/members/{user}",
    tag = "groups",
    params(
        ("id" = String, Path, description = "A group's id"),
        ("user" = String, Path, description = "An employee id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    Me(me): Me,
    Path((id, user)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    state
        .service
        .remove_member(&viewer(&me), &id, &user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A group's threads
///
/// Only for those with full access (members, invitees, anyone for a public group): for
/// anyone else, 404, like a group they may not see.
#[utoipa::path(
    get,
    path = "/groups/{id}/threads",
    tag = "threads",
    params(("id" = String, Path, description = "A group's id")),
    responses(
        (status = 200, description = "OK", body = List<ThreadJson>),
        (status = 401, response = E401),
        (status = 404, response = E404),
    )
)]
pub(crate) async fn list_threads(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<Json<List<ThreadJson>>, AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    let items = state
        .service
        .group_threads(&viewer(&me), &id)
        .await?
        .iter()
        .map(|t| thread_json(t, &me, state.service.now_ms()))
        .collect();
    Ok(Json(List::all(items)))
}

/// A new thread.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewThreadBody {
    title: String,
    /// Markdown, with @mentions and #topics.
    body: String,
    /// A poll the first post carries.
    poll: Option<crate::content::PollBody>,
    /// A question: its asker (or a group owner) may mark one reply the best answer.
    #[serde(default)]
    question: bool,
    /// Files the caller uploaded (`POST /files`) to attach to the first post, by id.
    #[serde(default)]
    attachments: Vec<String>,
}

/// Start a thread
///
/// Members only (403 for others in a group they may see). Answered once durable.
#[utoipa::path(
    post,
    path = "/groups/{id}/threads",
    tag = "threads",
    params(("id" = String, Path, description = "A group's id")),
    request_body = NewThreadBody,
    responses(
        (status = 201, description = "Created", body = ThreadJson),
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
pub(crate) async fn create_thread(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<NewThreadBody>,
) -> Result<(StatusCode, Json<ThreadJson>), AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    let v = viewer(&me);
    state.service.own_uploads(&v, &b.attachments)?;
    let tid = match &b.poll {
        Some(p) => {
            let poll = p.to_poll(state.service.now_ms())?;
            state
                .service
                .create_poll(&v, &id, &b.title, &b.body, poll)
                .await?
        }
        None if b.question => state.service.ask(&v, &id, &b.title, &b.body).await?,
        None => {
            state
                .service
                .create_thread(&v, &id, &b.title, &b.body)
                .await?
        }
    };
    if !b.attachments.is_empty() {
        let root = state.service.thread(&v, &tid).await?.posts[0].id.clone();
        state
            .service
            .attach(&v, &tid, &root, &b.attachments)
            .await?;
    }
    let t = thread_json(
        &*state.service.thread(&v, &tid).await?,
        &me,
        state.service.now_ms(),
    );
    Ok((StatusCode::CREATED, Json(t)))
}

/// A thread
///
/// Reading it marks it read for the caller.
#[utoipa::path(
    get,
    path = "/threads/{id}",
    tag = "threads",
    params(("id" = String, Path, description = "A thread's id")),
    responses(
        (status = 200, description = "OK", body = ThreadJson),
        (status = 401, response = E401),
        (status = 404, response = E404),
    )
)]
pub(crate) async fn thread(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<Json<ThreadJson>, AppError> {
    let id = doc_id(&id, DocKind::Thread)?;
    let page = state.service.thread_page(&viewer(&me), &id).await?;
    let mut t = thread_json(&page.thread, &me, state.service.now_ms());
    t.following = page.following;
    Ok(Json(t))
}

/// A reply.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPostBody {
    /// Markdown, with @mentions and #topics.
    body: String,
    /// The post of this thread it answers (`thread~post`).
    reply_to: Option<String>,
    /// A poll the post carries.
    poll: Option<crate::content::PollBody>,
    /// Files the caller uploaded (`POST /files`) to attach, by id.
    #[serde(default)]
    attachments: Vec<String>,
}

/// Reply (answered once durable)
#[utoipa::path(
    post,
    path = "/threads/{id}/posts",
    tag = "threads",
    params(("id" = String, Path, description = "A thread's id")),
    request_body = NewPostBody,
    responses(
        (status = 201, description = "Created", body = PostJson),
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
pub(crate) async fn create_post(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<NewPostBody>,
) -> Result<(StatusCode, Json<PostJson>), AppError> {
    let id = doc_id(&id, DocKind::Thread)?;
    let reply_to = match &b.reply_to {
        Some(r) => Some(
            parse_post_ref(r)
                .filter(|(t, _)| *t == id)
                .map(|(_, p)| p)
                .ok_or_else(|| AppError::invalid("reply_to is not a post of this thread"))?,
        ),
        None => None,
    };
    let v = viewer(&me);
    state.service.own_uploads(&v, &b.attachments)?;
    let pid = match &b.poll {
        Some(p) => {
            let poll = p.to_poll(state.service.now_ms())?;
            state
                .service
                .reply_with_poll(&v, &id, &b.body, reply_to.as_deref(), poll)
                .await?
        }
        None => {
            state
                .service
                .reply(&v, &id, &b.body, reply_to.as_deref())
                .await?
        }
    };
    state.service.attach(&v, &id, &pid, &b.attachments).await?;
    let (_, p) = state.service.post(&v, &id, &pid).await?;
    let p = post_json(&id, &p, &me, state.service.now_ms());
    Ok((StatusCode::CREATED, Json(p)))
}

/// A post's new text.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditBody {
    /// Markdown.
    body: String,
}

/// Edit one's post
#[utoipa::path(
    patch,
    path = "/posts/{id}",
    tag = "threads",
    params(("id" = String, Path, description = "A post's id (`thread~post`)")),
    request_body = EditBody,
    responses(
        (status = 200, description = "The post as it is now", body = PostJson),
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
pub(crate) async fn edit_post(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<EditBody>,
) -> Result<Json<PostJson>, AppError> {
    let (tid, pid) = post_id(&id)?;
    let v = viewer(&me);
    state.service.edit_post(&v, &tid, &pid, &b.body).await?;
    let (_, p) = state.service.post(&v, &tid, &pid).await?;
    let p = post_json(&tid, &p, &me, state.service.now_ms());
    Ok(Json(p))
}

/// Delete one's post
#[utoipa::path(
    delete,
    path = "/posts/{id}",
    tag = "threads",
    params(("id" = String, Path, description = "A post's id (`thread~post`)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn delete_post(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let (tid, pid) = post_id(&id)?;
    state.service.delete_post(&viewer(&me), &tid, &pid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The reactions a post may have.
pub const REACTIONS: [&str; 6] = ["like", "love", "bravo", "laugh", "insightful", "support"];

pub(crate) async fn react(
    state: AppState,
    me: String,
    id: String,
    kind: String,
    on: bool,
) -> Result<StatusCode, AppError> {
    if !REACTIONS.contains(&kind.as_str()) {
        return Err(AppError::invalid(format!(
            "unknown reaction; use one of {}",
            REACTIONS.join(", ")
        )));
    }
    let (tid, pid) = post_id(&id)?;
    state
        .service
        .react(&viewer(&me), &tid, &pid, &kind, on)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// React
#[utoipa::path(
    put,
    path = "/posts/{id}/reactions/{kind}",
    tag = "threads",
    params(
        ("id" = String, Path, description = "A post's id (`thread~post`)"),
        ("kind" = String, Path, description = "`like`, `love`, `bravo`, `laugh`, `insightful` or `support`"),
    ),
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
pub(crate) async fn react_on(
    State(state): State<AppState>,
    Me(me): Me,
    Path((id, kind)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    react(state, me, id, kind, true).await
}

/// Take back a reaction
#[utoipa::path(
    delete,
    path = "/posts/{id}/reactions/{kind}",
    tag = "threads",
    params(
        ("id" = String, Path, description = "A post's id (`thread~post`)"),
        ("kind" = String, Path, description = "`like`, `love`, `bravo`, `laugh`, `insightful` or `support`"),
    ),
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
pub(crate) async fn react_off(
    State(state): State<AppState>,
    Me(me): Me,
    Path((id, kind)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    react(state, me, id, kind, false).await
}

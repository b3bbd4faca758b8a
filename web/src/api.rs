//! The JSON API of `shared/API.md` (the parts built so far): sessions, people, groups,
//! threads, posts, reactions.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get, routing::post, routing::put};
use serde::{Deserialize, Serialize};
use weft_node::crdt::{DocId, DocKind, GroupView, PostView, ProfileUpdate, ThreadView, Visibility};
use weft_node::keys::Employee;
use weft_node::service::{Access, MembershipOutcome, last_activity, parse_post_ref, post_ref};

use crate::AppError;
use crate::auth::{self, Me};
use crate::state::AppState;

/// A JSON body, whose rejections are answered in the API's error shape: 413 when larger than
/// [`crate::MAX_JSON_BODY`], 400 when not JSON, 422 when a field is missing or of the wrong
/// type.
pub struct ApiJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => {
                let status = rejection.status();
                let code = match status {
                    StatusCode::PAYLOAD_TOO_LARGE => "too_large",
                    StatusCode::UNPROCESSABLE_ENTITY => "invalid",
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                    _ => "malformed",
                };
                Err(AppError::new(status, code, rejection.body_text()))
            }
        }
    }
}

/// The API routes, under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/session", post(login).delete(logout))
        .route("/me", get(me))
        .route("/me/profile", axum::routing::patch(update_profile))
        .route("/people/{id}", get(person))
        .route("/groups", get(list_groups).post(create_group))
        .route("/groups/{id}", get(group))
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
        .merge(crate::personal::routes())
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    kind: Option<String>,
    limit: Option<usize>,
}

/// One search result, as the API shows it.
#[derive(Debug, Serialize)]
pub struct SearchHit {
    pub kind: &'static str,
    /// A post's id (`thread~post`), a group's id, or a person's id.
    pub id: String,
    /// For a post, its thread.
    pub thread: Option<String>,
    /// The thread's title, the group's name, or the person's name.
    pub title: String,
    /// An excerpt with the matched words in `<b>`; the rest is HTML-escaped.
    pub snippet: String,
}

/// The words of a search, or the 400 that says which limit it passed.
pub(crate) fn search_query(q: &str) -> Result<weft_node::search::SearchQuery, AppError> {
    weft_node::search::SearchQuery::parse(q)
        .map_err(|e| AppError::new(StatusCode::BAD_REQUEST, "bad_query", e.to_string()))
}

/// `GET /api/v1/search?q=&kind=post|group|person`: only what the caller may see. The query
/// is words and "quoted phrases", nothing else (see `weft_node::search`); one beyond the
/// limits answers 400, one with no word an empty list.
async fn search(
    State(state): State<AppState>,
    Me(me): Me,
    axum::extract::Query(q): axum::extract::Query<SearchQuery>,
) -> Result<Json<List<SearchHit>>, AppError> {
    use weft_node::search::HitKind;
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
        .node
        .call(move |core| core.search(&me, &query, kind, limit))
        .await??;
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
        })
        .collect();
    Ok(Json(List { items, next: None }))
}

/// `GET /api/v1/events`: Server-Sent Events: a `change` event (`{"doc": id, "kind":
/// "thread"|"group"|"profile"}`) each time a document the caller may read changes, at this
/// site or at any other (a group only for its members and invitees: someone who may only
/// see a private group listed hears nothing of it); a `notification` event (`{"unread": n}`)
/// each time the caller gets a notification. The stream ends with the session that opened
/// it: at logout, when the employee's sessions end, or when the session expires.
async fn events(
    State(state): State<AppState>,
    session: auth::Session,
) -> axum::response::sse::Sse<
    impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
    use weft_node::Live;
    let rx = state.node.subscribe();
    let ended = state.sessions.ended();
    // The session ends at the latest this long from now; a check every minute catches it
    // going idle (the stream itself does not count as use).
    let deadline = tokio::time::Instant::now()
        + Duration::from_millis(
            (session.created + auth::SESSION_MAX.as_millis() as i64 - now_ms()).max(0) as u64,
        );
    let stream = futures_util::stream::unfold(
        (rx, ended, state, session),
        move |(mut rx, mut ended, state, session)| async move {
            let me = session.employee.clone();
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
                    Live::Notified(who) if who == me => {
                        let m = me.clone();
                        let Ok(Ok(unread)) =
                            state.node.call(move |c| c.unread_notifications(&m)).await
                        else {
                            continue;
                        };
                        let data = serde_json::json!({ "unread": unread }).to_string();
                        let ev = Event::default().event("notification").data(data);
                        return Some((Ok(ev), (rx, ended, state, session)));
                    }
                    _ => continue,
                };
                let (d, m) = (doc.clone(), me.clone());
                let visible = state
                    .node
                    .call(move |c| match d.kind() {
                        DocKind::Thread => c.thread_for(&m, &d).is_some(),
                        DocKind::Group => c.group_access(&m, &d) == Access::Full,
                        DocKind::Profile => true,
                    })
                    .await
                    .unwrap_or(false);
                if visible {
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

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn nonce() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

/// RFC 3339 (UTC, milliseconds) from milliseconds since the epoch.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub(crate) fn doc_id(s: &str, kind: DocKind) -> Result<DocId, AppError> {
    DocId::parse(s)
        .ok()
        .filter(|d| d.kind() == kind)
        .ok_or_else(AppError::not_found)
}

/// A person, as the API shows them.
#[derive(Debug, Serialize)]
pub struct Person {
    pub id: String,
    pub display_name: String,
    pub site: String,
    pub email: String,
    pub phone: String,
    pub title: String,
    pub department: String,
    pub photo_url: Option<String>,
    pub about: String,
    pub expertise: Vec<String>,
    pub interests: Vec<String>,
    pub languages: Vec<String>,
}

pub(crate) fn person_of(e: &Employee, p: weft_node::crdt::ProfileView) -> Person {
    Person {
        id: e.id.clone(),
        display_name: e.display_name.clone(),
        site: e.site.clone(),
        email: e.email.clone(),
        phone: e.phone.clone(),
        title: e.title.clone(),
        department: e.department.clone(),
        photo_url: p
            .photo
            .filter(|h| !h.is_empty())
            .map(|h| format!("/api/v1/people/{}/photo?v={h}", e.id)),
        about: p.about,
        expertise: p.expertise,
        interests: p.interests,
        languages: p.languages,
    }
}

pub(crate) async fn load_person(state: &AppState, id: String) -> Result<Person, AppError> {
    state
        .node
        .call(move |core| {
            let e = core
                .replica()
                .directory()?
                .directory
                .employees
                .get(&id)?
                .clone();
            Some(person_of(&e, core.profile_of(&id)))
        })
        .await?
        .ok_or_else(AppError::not_found)
}

#[derive(Deserialize)]
struct LoginBody {
    login: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, AppError> {
    let ip = auth::client_ip(Some(addr.ip()), &headers, &state.trusted_proxies);
    let employee = auth::authenticate(&state, &body.login, body.password, ip).await?;
    let token = state.sessions.start(&employee).await?;
    let user = load_person(&state, employee).await?;
    Ok((
        [(
            header::SET_COOKIE,
            auth::session_cookie(&token, state.secure_cookies),
        )],
        Json(serde_json::json!({"token": token, "user": user})),
    )
        .into_response())
}

/// `DELETE /api/v1/session`: ends the session (its event streams close with it).
async fn logout(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
) -> Result<Response, AppError> {
    if let Some(t) = auth::token_of(&parts) {
        state.sessions.end(&t).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(
            header::SET_COOKIE,
            auth::clear_session_cookie(state.secure_cookies),
        )],
    )
        .into_response())
}

/// `GET /api/v1/me`: the caller, with their notification counters.
#[derive(Debug, Serialize)]
pub struct MeJson {
    #[serde(flatten)]
    pub person: Person,
    pub notifications: Counters,
}

/// Notification counters.
#[derive(Debug, Serialize)]
pub struct Counters {
    pub unread: usize,
}

async fn me(State(state): State<AppState>, Me(me): Me) -> Result<Json<MeJson>, AppError> {
    let who = me.clone();
    let unread = state
        .node
        .call(move |c| c.unread_notifications(&who))
        .await??;
    Ok(Json(MeJson {
        person: load_person(&state, me).await?,
        notifications: Counters { unread },
    }))
}

async fn person(
    State(state): State<AppState>,
    _me: Me,
    Path(id): Path<String>,
) -> Result<Json<Person>, AppError> {
    Ok(Json(load_person(&state, id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileBody {
    about: Option<String>,
    career: Option<String>,
    expertise: Option<Vec<String>>,
    interests: Option<Vec<String>>,
    languages: Option<Vec<String>>,
    locale: Option<String>,
}

async fn update_profile(
    State(state): State<AppState>,
    Me(me): Me,
    ApiJson(b): ApiJson<ProfileBody>,
) -> Result<Json<Person>, AppError> {
    let who = me.clone();
    state
        .node
        .call(move |core| {
            core.update_profile(
                &who,
                &ProfileUpdate {
                    about: b.about.as_deref(),
                    career: b.career.as_deref(),
                    expertise: b.expertise.as_deref(),
                    interests: b.interests.as_deref(),
                    languages: b.languages.as_deref(),
                    locale: b.locale.as_deref(),
                    photo: None,
                    picture: None,
                },
                now_ms(),
            )
        })
        .await??;
    Ok(Json(load_person(&state, me).await?))
}

/// A group, as the API shows it.
#[derive(Debug, Serialize)]
pub struct GroupJson {
    pub id: String,
    pub name: String,
    pub description: String,
    pub visibility: &'static str,
    pub owners: Vec<String>,
    pub member_count: usize,
    pub is_member: bool,
    pub created_at: String,
    pub home_site: String,
}

fn group_json(g: &GroupView, me: &str, access: Access) -> GroupJson {
    let full = access == Access::Full;
    GroupJson {
        id: g.id.to_string(),
        name: g.name.clone(),
        description: g.description.clone(),
        visibility: g.visibility.as_str(),
        owners: if full { g.owners.clone() } else { vec![] },
        member_count: g.members.len(),
        is_member: g.is_member(me),
        created_at: rfc3339(g.created_at),
        home_site: g.home_site.clone(),
    }
}

#[derive(Serialize)]
pub(crate) struct List<T> {
    pub(crate) items: Vec<T>,
    pub(crate) next: Option<String>,
}

#[derive(Deserialize)]
struct GroupQuery {
    #[serde(default)]
    q: String,
}

/// The most bytes a name filter (`/groups?q=`, `/people?q=`) may be: each of its words is
/// looked for in every group or person, on the node's loop.
pub(crate) const MAX_FILTER_BYTES: usize = 200;

/// A name filter within [`MAX_FILTER_BYTES`], or 400.
pub(crate) fn filter_query(q: &str) -> Result<&str, AppError> {
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
pub(crate) fn group_matches(g: &GroupView, query: &str) -> bool {
    use weft_node::service::fold;
    let hay = fold(&format!("{} {}", g.name, g.description));
    fold(query).split_whitespace().all(|w| hay.contains(w))
}

async fn list_groups(
    State(state): State<AppState>,
    Me(me): Me,
    axum::extract::Query(q): axum::extract::Query<GroupQuery>,
) -> Result<Json<List<GroupJson>>, AppError> {
    filter_query(&q.q)?;
    let items = state
        .node
        .call(move |core| {
            core.groups_for(&me)
                .iter()
                .filter(|(g, _)| group_matches(g, &q.q))
                .map(|(g, a)| group_json(g, &me, *a))
                .collect()
        })
        .await?;
    Ok(Json(List { items, next: None }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGroupBody {
    name: String,
    #[serde(default)]
    description: String,
    visibility: String,
}

async fn create_group(
    State(state): State<AppState>,
    Me(me): Me,
    ApiJson(b): ApiJson<NewGroupBody>,
) -> Result<(StatusCode, Json<GroupJson>), AppError> {
    let vis = Visibility::parse(&b.visibility)
        .ok_or_else(|| AppError::invalid("visibility must be public, private or secret"))?;
    let g = state
        .node
        .call(move |core| -> Result<GroupJson, weft_node::NodeError> {
            let id = core.create_group(&me, &b.name, &b.description, vis, now_ms(), nonce())?;
            let (g, a) = core
                .group_for(&me, &id)
                .ok_or(weft_node::NodeError::NotFound)?;
            Ok(group_json(&g, &me, a))
        })
        .await??;
    Ok((StatusCode::CREATED, Json(g)))
}

async fn group(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<Json<GroupJson>, AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    let g = state
        .node
        .call(move |core| {
            core.group_for(&me, &id)
                .map(|(g, a)| group_json(&g, &me, a))
        })
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(Json(g))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberBody {
    user: String,
}

async fn add_member(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<MemberBody>,
) -> Result<Response, AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    let outcome = state
        .node
        .call(move |core| core.add_member(&me, &id, &b.user, now_ms()))
        .await??;
    Ok(match outcome {
        MembershipOutcome::Added => (
            StatusCode::OK,
            Json(serde_json::json!({"status": "member"})),
        )
            .into_response(),
        MembershipOutcome::Requested => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"status": "requested"})),
        )
            .into_response(),
    })
}

async fn remove_member(
    State(state): State<AppState>,
    Me(me): Me,
    Path((id, user)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    state
        .node
        .call(move |core| core.remove_member(&me, &id, &user, now_ms()))
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// A post, as the API shows it.
#[derive(Debug, Serialize)]
pub struct PostJson {
    pub id: String,
    pub author: String,
    pub body: String,
    pub html: String,
    pub created_at: String,
    pub edited_at: Option<String>,
    pub reply_to: Option<String>,
    pub deleted: bool,
    pub hidden: bool,
    pub reactions: std::collections::BTreeMap<String, usize>,
    pub my_reactions: Vec<String>,
    pub mentions: Vec<String>,
    pub topics: Vec<String>,
}

/// A thread, as the API shows it.
#[derive(Debug, Serialize)]
pub struct ThreadJson {
    pub id: String,
    pub group: String,
    pub title: String,
    pub root: Option<PostJson>,
    pub replies: Vec<PostJson>,
    pub reply_count: usize,
    pub last_activity: String,
    pub following: bool,
}

fn post_json(thread: &DocId, p: &PostView, me: &str) -> PostJson {
    let visible = !p.hidden && !p.deleted;
    PostJson {
        id: post_ref(thread, &p.id),
        author: p.author.clone(),
        body: if visible {
            p.body.clone()
        } else {
            String::new()
        },
        html: if visible {
            crate::markdown::render(&p.body)
        } else {
            String::new()
        },
        created_at: rfc3339(p.created_at),
        edited_at: p.edited_at.map(rfc3339),
        reply_to: p.reply_to.as_ref().map(|r| post_ref(thread, r)),
        deleted: p.deleted,
        hidden: p.hidden,
        reactions: p
            .reactions
            .iter()
            .map(|(k, v)| (k.clone(), v.len()))
            .collect(),
        my_reactions: p
            .reactions
            .iter()
            .filter(|(_, v)| v.iter().any(|e| e == me))
            .map(|(k, _)| k.clone())
            .collect(),
        mentions: p.mentions.clone(),
        topics: p.topics.clone(),
    }
}

fn thread_json(t: &ThreadView, me: &str) -> ThreadJson {
    let mut posts = t.posts.iter().map(|p| post_json(&t.id, p, me));
    let root = posts.next();
    let replies: Vec<PostJson> = posts.collect();
    ThreadJson {
        id: t.id.to_string(),
        group: t.group.to_string(),
        title: t.title.clone(),
        reply_count: replies.len(),
        root,
        replies,
        last_activity: rfc3339(last_activity(t)),
        following: false,
    }
}

async fn list_threads(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<Json<List<ThreadJson>>, AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    let items = state
        .node
        .call(move |core| {
            core.threads_of(&me, &id)
                .map(|ts| ts.iter().map(|t| thread_json(t, &me)).collect())
        })
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(Json(List { items, next: None }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewThreadBody {
    title: String,
    body: String,
}

async fn create_thread(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<NewThreadBody>,
) -> Result<(StatusCode, Json<ThreadJson>), AppError> {
    let id = doc_id(&id, DocKind::Group)?;
    let t = state
        .node
        .call(move |core| -> Result<ThreadJson, weft_node::NodeError> {
            let tid = core.create_thread(&me, &id, &b.title, &b.body, now_ms(), nonce())?;
            let t = core
                .thread_for(&me, &tid)
                .ok_or(weft_node::NodeError::NotFound)?;
            Ok(thread_json(&t, &me))
        })
        .await??;
    Ok((StatusCode::CREATED, Json(t)))
}

async fn thread(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<Json<ThreadJson>, AppError> {
    let id = doc_id(&id, DocKind::Thread)?;
    let t = state
        .node
        .call(move |core| -> Result<ThreadJson, weft_node::NodeError> {
            let t = core
                .thread_for(&me, &id)
                .ok_or(weft_node::NodeError::NotFound)?;
            core.mark_thread_read(&me, &id)?;
            let mut j = thread_json(&t, &me);
            j.following = core.follows_thread(&me, &id)?;
            Ok(j)
        })
        .await??;
    Ok(Json(t))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPostBody {
    body: String,
    reply_to: Option<String>,
}

async fn create_post(
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
    let p = state
        .node
        .call(move |core| -> Result<PostJson, weft_node::NodeError> {
            let pid = core.reply(&me, &id, &b.body, reply_to.as_deref(), now_ms(), nonce())?;
            let t = core
                .thread_for(&me, &id)
                .ok_or(weft_node::NodeError::NotFound)?;
            let p = t
                .posts
                .iter()
                .find(|p| p.id == pid)
                .ok_or(weft_node::NodeError::NotFound)?;
            Ok(post_json(&id, p, &me))
        })
        .await??;
    Ok((StatusCode::CREATED, Json(p)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditBody {
    body: String,
}

fn post_id(s: &str) -> Result<(DocId, String), AppError> {
    parse_post_ref(s).ok_or_else(AppError::not_found)
}

async fn edit_post(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<EditBody>,
) -> Result<Json<PostJson>, AppError> {
    let (tid, pid) = post_id(&id)?;
    let p = state
        .node
        .call(move |core| -> Result<PostJson, weft_node::NodeError> {
            core.edit_post(&me, &tid, &pid, &b.body, now_ms())?;
            let t = core
                .thread_for(&me, &tid)
                .ok_or(weft_node::NodeError::NotFound)?;
            let p = t
                .posts
                .iter()
                .find(|p| p.id == pid)
                .ok_or(weft_node::NodeError::NotFound)?;
            Ok(post_json(&tid, p, &me))
        })
        .await??;
    Ok(Json(p))
}

async fn delete_post(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let (tid, pid) = post_id(&id)?;
    state
        .node
        .call(move |core| core.delete_post(&me, &tid, &pid, now_ms()))
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

const REACTIONS: [&str; 6] = ["like", "love", "bravo", "laugh", "insightful", "support"];

async fn react(
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
        .node
        .call(move |core| core.react(&me, &tid, &pid, &kind, on, now_ms()))
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

async fn react_on(
    State(state): State<AppState>,
    Me(me): Me,
    Path((id, kind)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    react(state, me, id, kind, true).await
}

async fn react_off(
    State(state): State<AppState>,
    Me(me): Me,
    Path((id, kind)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    react(state, me, id, kind, false).await
}

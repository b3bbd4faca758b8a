//! The HTML UI: server-rendered pages (maud escapes everything it interpolates), one
//! stylesheet, no script. Forms carry a per-session CSRF token (the login form a
//! double-submit cookie), checked on every POST.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{ConnectInfo, Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;
use weft_node::crdt::{DocId, DocKind, GroupView, Visibility};
use weft_node::readmodel::ThreadSummary;
use weft_node::service::Access;
use weft_node::{Core, NodeError};

use crate::api::rfc3339;
use crate::auth::{self, token_in};
use crate::i18n::Lang;
use crate::markdown;
use crate::state::AppState;

mod account;
mod manage;
mod profile;

const CSS: &str = include_str!("../weft.css");
/// The one script: live updates of the page being read (progressive: pages work without it).
const LIVE_JS: &str = include_str!("../live.js");
/// @mention completion in the post forms (progressive too).
const COMPOSE_JS: &str = include_str!("../compose.js");
const LOGIN_CSRF: &str = "weft_csrf";

/// The UI's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(feed))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/lang/{code}", get(set_lang))
        .route("/static/weft.css", get(css))
        .route("/static/live.js", get(live_js))
        .route("/static/compose.js", get(compose_js))
        .route(
            "/charter",
            get(account::charter_page).post(account::charter_accept),
        )
        .route(
            "/setup/{token}",
            get(account::setup_page).post(account::setup_submit),
        )
        .route("/notifications", get(account::notifications_page))
        .route("/feed/read", post(account::feed_read))
        .route("/groups", get(groups_page).post(group_create))
        .route("/groups/{id}", get(group_page))
        .route("/groups/{id}/join", post(group_join))
        .route("/groups/{id}/invite", post(group_invite))
        .route("/groups/{id}/settings", post(manage::group_settings))
        .route(
            "/groups/{id}/requests/{user}/approve",
            post(manage::request_approve),
        )
        .route(
            "/groups/{id}/requests/{user}/decline",
            post(manage::request_decline),
        )
        .route(
            "/groups/{id}/members/{user}/remove",
            post(manage::member_remove),
        )
        .route("/groups/{id}/threads", post(thread_create))
        .route("/threads/{id}", get(thread_page))
        .route("/threads/{id}/reply", post(thread_reply))
        .route("/threads/{id}/like/{post}", post(post_like))
        .route("/threads/{id}/follow", post(manage::thread_follow))
        .route(
            "/threads/{id}/posts/{post}/edit",
            get(manage::post_edit_page).post(manage::post_edit),
        )
        .route(
            "/threads/{id}/posts/{post}/delete",
            post(manage::post_delete),
        )
        .route("/people/{id}/follow", post(manage::person_follow))
        .route("/people/{id}", get(profile::person_page))
        .route("/me/profile", post(profile::profile_save))
        .route("/topics/{topic}", get(topic_page))
        .route("/search", get(search_page))
}

/// A document id from a URL, if it is one of that kind.
fn doc_of(id: &str, kind: DocKind) -> Option<DocId> {
    DocId::parse(id).ok().filter(|d| d.kind() == kind)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn nonce() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

/// Who is logged in, their form token, and how many notifications they have not read.
struct Viewer {
    employee: String,
    csrf: String,
    lang: Lang,
    unread: usize,
}

/// The session's viewer, without checking the charter (for the charter page itself).
async fn session_viewer(state: &AppState, headers: &HeaderMap) -> Option<Viewer> {
    let token = token_in(headers)?;
    let session = state.sessions.check(&token).await.ok()??;
    Some(Viewer {
        employee: session.employee,
        csrf: auth::csrf_of(&token),
        lang: Lang::of(headers),
        unread: 0,
    })
}

/// The page's viewer, or a redirect: to the login page, or to the usage charter until the
/// employee has accepted its current text.
async fn require(state: &AppState, headers: &HeaderMap) -> Result<Viewer, Redirect> {
    let mut v = session_viewer(state, headers)
        .await
        .ok_or_else(|| Redirect::to("/login"))?;
    let me = v.employee.clone();
    let (unread, accepted, locale) = state
        .node
        .call(move |c| {
            let unread = c.unread_notifications(&me).unwrap_or(0);
            let accepted = c.settings_of(&me).ok().and_then(|s| s.charter);
            (unread, accepted, c.profile_of(&me).locale)
        })
        .await
        .unwrap_or((0, None, None));
    // The language: the one picked at the bottom of the page, else the profile's, else the
    // browser's.
    if Lang::chosen(headers).is_none()
        && let Some(l) = locale.as_deref().and_then(Lang::parse)
    {
        v.lang = l;
    }
    if let Some(charter) = &state.charter
        && accepted.as_deref() != Some(charter.hash.as_str())
    {
        return Err(Redirect::to("/charter"));
    }
    v.unread = unread;
    Ok(v)
}

fn check_csrf(v: &Viewer, sent: &str) -> Result<(), (StatusCode, &'static str)> {
    if !sent.is_empty() && sent == v.csrf {
        Ok(())
    } else {
        Err((
            StatusCode::FORBIDDEN,
            "invalid form token: reload the page and try again",
        ))
    }
}

/// The viewer of a form submission: logged in, charter accepted, with the form's token
/// right.
async fn form_viewer(
    state: &AppState,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<Viewer, Box<Response>> {
    let v = require(state, headers)
        .await
        .map_err(|r| Box::new(r.into_response()))?;
    check_csrf(&v, csrf).map_err(|r| Box::new(r.into_response()))?;
    Ok(v)
}

/// A form that runs one command on a document: the viewer and the form token are checked,
/// the id is parsed (a bad one is "not found"), `command` runs on the node as the viewer, and
/// the answer is a redirect to where `then` says, or the error.
async fn doc_form<T: Send + 'static>(
    state: &AppState,
    headers: &HeaderMap,
    csrf: &str,
    (id, kind): (&str, DocKind),
    command: impl FnOnce(&mut Core, &str, &DocId) -> Result<T, NodeError> + Send + 'static,
    then: impl FnOnce(&DocId, T) -> String,
) -> Response {
    let v = match form_viewer(state, headers, csrf).await {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(doc) = doc_of(id, kind) else {
        return not_found(v.lang, &v);
    };
    let (me, d2) = (v.employee.clone(), doc.clone());
    match state.node.call(move |core| command(core, &me, &d2)).await {
        Ok(Ok(x)) => crate::cookies::redirect(&then(&doc, x)),
        Ok(Err(e)) | Err(e) => fail(e),
    }
}

fn page(lang: Lang, title: &str, v: Option<&Viewer>, body: Markup) -> Response {
    live_page(lang, title, v, body, None)
}

/// A page that updates itself when `live` changes: a thread id, or `feed` for any change.
fn live_page(
    lang: Lang,
    title: &str,
    v: Option<&Viewer>,
    body: Markup,
    live: Option<&str>,
) -> Response {
    let t = |k| lang.t(k);
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Weft" }
                link rel="stylesheet" href="/static/weft.css";
            }
            body {
                header.top {
                    a.brand href="/" { "Weft" }
                    @if let Some(v) = v {
                        form.search method="get" action="/search" role="search" {
                            label.visually-hidden for="q" { (t("search")) }
                            input id="q" name="q" type="search" placeholder=(t("search_hint"));
                        }
                        nav aria-label="main" {
                            a href="/" { (t("feed")) }
                            a href="/groups" { (t("groups")) }
                            a href="/notifications" id="bell" aria-label=(format!("{} ({})", t("notifications"), v.unread)) {
                                (t("notifications"))
                                span.badge id="unread" hidden[v.unread == 0] { (v.unread) }
                            }
                            a href={ "/people/" (v.employee) } { (t("profile")) }
                            form method="post" action="/logout" {
                                input type="hidden" name="_csrf" value=(v.csrf);
                                button.link type="submit" { (t("logout")) }
                            }
                        }
                    }
                }
                main id="main" data-live=[live] { (body) }
                @if v.is_some() {
                    script src="/static/live.js" defer {}
                    script src="/static/compose.js" defer {}
                }
                footer {
                    a href="/lang/en" lang="en" { "English" } " · " a href="/lang/fr" lang="fr" { "Français" }
                }
            }
        }
    };
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

async fn compose_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        COMPOSE_JS,
    )
        .into_response()
}

async fn live_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        LIVE_JS,
    )
        .into_response()
}

async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

/// `GET /lang/{code}`: picks the language, and goes back to the page the link was on — only
/// if that is a page of this site (the `Referer` is the client's to write).
async fn set_lang(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let code = if code == "fr" { "fr" } else { "en" };
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(crate::cookies::local_path_of)
        .unwrap_or_else(|| "/".into());
    let mut r = crate::cookies::redirect(&back);
    let cookie = crate::cookies::cookie(
        "weft_lang",
        code,
        "/",
        "Lax",
        Some(31_536_000),
        state.secure_cookies,
    );
    if let Ok(v) = cookie.parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
struct LoginForm {
    login: String,
    password: String,
    #[serde(default)]
    _csrf: String,
}

fn login_form(state: &AppState, lang: Lang, error: Option<&str>) -> Response {
    let csrf = auth::random_token().unwrap_or_default();
    let t = |k| lang.t(k);
    let mut r = page(
        lang,
        t("login"),
        None,
        html! {
            section.card.narrow {
                h1 { "Weft" }
                p.muted { (t("welcome")) }
                @if let Some(e) = error { p.error role="alert" { (e) } }
                form method="post" action="/login" {
                    input type="hidden" name="_csrf" value=(csrf);
                    label for="login" { (t("login_hint")) }
                    input id="login" name="login" autocomplete="username" required autofocus;
                    label for="password" { (t("password")) }
                    input id="password" name="password" type="password" autocomplete="current-password" required;
                    button type="submit" { (t("login")) }
                }
            }
        },
    );
    set_form_cookie(state, &mut r, &csrf, "/login");
    r
}

/// Forms shown before any session (login, setup links) carry their token twice: in the form
/// and in a cookie for `path` only (double submit).
fn set_form_cookie(state: &AppState, r: &mut Response, csrf: &str, path: &str) {
    let c = crate::cookies::cookie(LOGIN_CSRF, csrf, path, "Strict", None, state.secure_cookies);
    if let Ok(v) = c.parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Checks a form made by [`set_form_cookie`]: the token sent must be the cookie's. Returns
/// the refusal (403) if it is not.
fn check_form_cookie(headers: &HeaderMap, sent: &str) -> Option<Response> {
    crate::cookies::get(headers, LOGIN_CSRF)
        .is_none_or(|c| c.is_empty() || c != sent)
        .then(|| {
            (
                StatusCode::FORBIDDEN,
                "invalid form token: reload the page and try again",
            )
                .into_response()
        })
}

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    login_form(&state, Lang::of(&headers), None)
}

async fn login_submit(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let lang = Lang::of(&headers);
    if let Some(refused) = check_form_cookie(&headers, &f._csrf) {
        return refused;
    }
    let ip = auth::client_ip(Some(addr.ip()), &headers, &state.trusted_proxies);
    match auth::authenticate(&state, &f.login, f.password, ip).await {
        Ok(employee) => match state.sessions.start(&employee).await {
            Ok(token) => (
                [(
                    header::SET_COOKIE,
                    auth::session_cookie(&token, state.secure_cookies),
                )],
                Redirect::to("/"),
            )
                .into_response(),
            Err(e) => e.into_response(),
        },
        Err(e) if e.status == StatusCode::TOO_MANY_REQUESTS => {
            let mut r = login_form(&state, lang, Some(lang.t("too_many")));
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            r
        }
        Err(e) if e.status == StatusCode::SERVICE_UNAVAILABLE => {
            let mut r = login_form(&state, lang, Some(lang.t("busy")));
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            r
        }
        Err(_) => {
            let mut r = login_form(&state, lang, Some(lang.t("bad_login")));
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
    }
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    _csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Response {
    // No charter check: leaving is always allowed.
    match session_viewer(&state, &headers).await {
        Some(v) => {
            if let Err(r) = check_csrf(&v, &f._csrf) {
                return r.into_response();
            }
        }
        None => return Redirect::to("/login").into_response(),
    }
    if let Some(t) = token_in(&headers)
        && let Err(e) = state.sessions.end(&t).await
    {
        return e.into_response();
    }
    (
        [(
            header::SET_COOKIE,
            auth::clear_session_cookie(state.secure_cookies),
        )],
        Redirect::to("/login"),
    )
        .into_response()
}

fn when(ms: i64) -> String {
    // "2026-11-23 14:05 UTC": readable everywhere; the exact instant is in the title.
    let s = rfc3339(ms);
    format!("{} {} UTC", &s[..10], &s[11..16])
}

fn thread_card(lang: Lang, t: &ThreadSummary, group: Option<&str>, unread: bool) -> Markup {
    html! {
        article.card.unread[unread] {
            h3 {
                a href={ "/threads/" (t.id) } { (t.title) }
                @if unread { " " span.new { (lang.t("new")) } }
            }
            p.meta {
                a href={ "/people/" (t.author) } { "@" (t.author) }
                @if let Some(g) = group { " " (lang.t("in")) " " a href={ "/groups/" (t.group) } { (g) } }
                " · " time datetime=(rfc3339(t.last_activity)) { (when(t.last_activity)) }
                " · " (t.replies) " " (lang.t("replies"))
            }
            p { (t.excerpt) }
        }
    }
}

/// Threads per page of the feed and of a group.
const PAGE: usize = 50;

/// `?before=<ms>`: the page of older threads.
#[derive(Deserialize)]
struct Older {
    before: Option<i64>,
}

/// The link to the next page of older threads, when this page is full.
fn older_link(lang: Lang, path: &str, shown: usize, last: Option<i64>) -> Markup {
    html! {
        @if let (true, Some(t)) = (shown >= PAGE, last) {
            p.more { a href={ (path) "?before=" (t) } rel="next" { (lang.t("older")) " →" } }
        }
    }
}

async fn feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(older): axum::extract::Query<Older>,
) -> Response {
    let v = match require(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let me = v.employee.clone();
    let before = older.before;
    let items = match state
        .node
        .call(move |core| core.feed_for(&me, before, PAGE))
        .await
    {
        Ok(Ok(items)) => items,
        Ok(Err(e)) | Err(e) => return fail(e),
    };
    let lang = v.lang;
    let unread = items.iter().filter(|i| i.unread).count();
    live_page(
        lang,
        lang.t("feed"),
        Some(&v),
        html! {
            div.heading {
                h1 { (lang.t("feed_title")) }
                @if unread > 0 {
                    form method="post" action="/feed/read" {
                        input type="hidden" name="_csrf" value=(v.csrf);
                        button.link type="submit" { (lang.t("mark_all_read")) }
                    }
                }
            }
            @if items.is_empty() { p.muted { (lang.t("feed_empty")) } }
            @for i in &items { (thread_card(lang, &i.thread, Some(&i.group_name), i.unread)) }
            (older_link(lang, "/", items.len(), items.last().map(|i| i.thread.last_activity)))
        },
        // Older pages stay as they are; the first one follows what happens.
        before.is_none().then_some("feed"),
    )
}

fn vis_label(lang: Lang, v: Visibility) -> &'static str {
    match v {
        Visibility::Public => lang.t("public"),
        Visibility::Private => lang.t("private"),
        Visibility::Secret => lang.t("secret"),
    }
}

async fn groups_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(f): axum::extract::Query<SearchForm>,
) -> Response {
    let v = match require(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let me = v.employee.clone();
    let groups = state
        .node
        .call(move |core| core.groups_for(&me))
        .await
        .unwrap_or_default();
    let query = f.q.trim().to_owned();
    if let Err(e) = crate::api::filter_query(&query) {
        return fail(e);
    }
    let groups: Vec<_> = groups
        .into_iter()
        .filter(|(g, _)| crate::api::group_matches(g, &query))
        .collect();
    let lang = v.lang;
    let t = |k| lang.t(k);
    page(
        lang,
        t("groups"),
        Some(&v),
        html! {
            h1 { (t("groups")) }
            form.filter method="get" action="/groups" role="search" {
                label for="gq" { (t("find_group")) }
                input id="gq" name="q" type="search" value=(query);
                button.secondary type="submit" { (t("search")) }
            }
            @if groups.is_empty() { p.muted { (t("no_results")) } }
            ul.grid {
                @for (g, _) in &groups {
                    li.card {
                        h3 { a href={ "/groups/" (g.id) } { (g.name) } }
                        p.meta { (vis_label(lang, g.visibility)) " · " (g.members.len()) " " (t("members").to_lowercase()) }
                        p { (g.description) }
                    }
                }
            }
            section.card {
                h2 { (t("new_group")) }
                form method="post" action="/groups" {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    label for="gname" { (t("name")) }
                    input id="gname" name="name" required maxlength="300";
                    label for="gdesc" { (t("description")) }
                    textarea id="gdesc" name="description" rows="2" {}
                    fieldset {
                        legend { (t("visibility")) }
                        @for vis in ["public", "private", "secret"] {
                            label.choice {
                                input type="radio" name="visibility" value=(vis) checked[vis == "public"];
                                " " (t(vis))
                            }
                        }
                    }
                    button type="submit" { (t("create")) }
                }
            }
        },
    )
}

#[derive(Deserialize)]
struct GroupForm {
    name: String,
    #[serde(default)]
    description: String,
    visibility: String,
    #[serde(default)]
    _csrf: String,
}

fn fail(e: impl Into<crate::AppError>) -> Response {
    let e: crate::AppError = e.into();
    (e.status, e.message).into_response()
}

async fn group_create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<GroupForm>,
) -> Response {
    let v = match form_viewer(&state, &headers, &f._csrf).await {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(vis) = Visibility::parse(&f.visibility) else {
        return (StatusCode::UNPROCESSABLE_ENTITY, "unknown visibility").into_response();
    };
    let me = v.employee.clone();
    match state
        .node
        .call(move |core| core.create_group(&me, &f.name, &f.description, vis, now_ms(), nonce()))
        .await
    {
        Ok(Ok(id)) => crate::cookies::redirect(&format!("/groups/{id}")),
        Ok(Err(e)) | Err(e) => fail(e),
    }
}

fn not_found(lang: Lang, v: &Viewer) -> Response {
    let mut r = page(
        lang,
        lang.t("not_found"),
        Some(v),
        html! { h1 { (lang.t("not_found")) } },
    );
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

/// Someone shown on a group page: id, name, site.
type PersonRow = (String, String, String);

/// What a group page shows.
struct GroupPage {
    group: GroupView,
    access: Access,
    threads: Vec<(ThreadSummary, bool)>,
    members: Vec<PersonRow>,
    requests: Vec<(PersonRow, String)>,
}

async fn group_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::extract::Query(older): axum::extract::Query<Older>,
) -> Response {
    let v = match require(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let lang = v.lang;
    let Some(gid) = doc_of(&id, DocKind::Group) else {
        return not_found(lang, &v);
    };
    let me = v.employee.clone();
    let found = state
        .node
        .call(move |core| {
            let (g, access) = core.group_for(&me, &gid)?;
            let threads = core
                .thread_summaries_of(&me, &gid, older.before, PAGE)
                .ok()
                .flatten()
                .unwrap_or_default();
            let dir = core.replica().directory().map(|d| &d.directory);
            let row = |m: &String| {
                let e = dir.and_then(|d| d.employees.get(m));
                (
                    m.clone(),
                    e.map(|e| e.display_name.clone())
                        .unwrap_or_else(|| m.clone()),
                    e.map(|e| e.site.clone()).unwrap_or_default(),
                )
            };
            let members = g.members.iter().map(row).collect();
            let requests = g
                .requests
                .iter()
                .map(|(who, msg)| (row(who), msg.clone()))
                .collect();
            Some(GroupPage {
                group: g,
                access,
                threads,
                members,
                requests,
            })
        })
        .await
        .ok()
        .flatten();
    let Some(gp) = found else {
        return not_found(lang, &v);
    };
    page(
        lang,
        &gp.group.name.clone(),
        Some(&v),
        group_body(lang, &v, &gp),
    )
}

fn group_body(lang: Lang, v: &Viewer, gp: &GroupPage) -> Markup {
    let t = |k: &str| lang.t(k);
    let g = &gp.group;
    let member = g.is_member(&v.employee);
    let owner = g.is_owner(&v.employee);
    let requested = g.requests.contains_key(&v.employee);
    let mut sites: Vec<&str> = gp.members.iter().map(|m| m.2.as_str()).collect();
    sites.sort_unstable();
    sites.dedup();
    let post_form = |action: String, label: &str, class: &str| {
        html! {
            form.inline method="post" action=(action) {
                input type="hidden" name="_csrf" value=(v.csrf);
                button type="submit" class=(class) { (label) }
            }
        }
    };
    html! {
        h1 { (g.name) }
        p.meta { (vis_label(lang, g.visibility)) " · " (gp.members.len()) " " (t("members").to_lowercase()) }
        p { (g.description) }
        @if requested && !member {
            p.notice { (t("request_pending")) " "
                (post_form(format!("/groups/{}/requests/{}/decline", g.id, v.employee), t("withdraw"), "link"))
            }
        } @else if !member {
            form method="post" action={ "/groups/" (g.id) "/join" } {
                input type="hidden" name="_csrf" value=(v.csrf);
                button type="submit" { @if g.visibility == Visibility::Public || g.invitations.contains(&v.employee) { (t("join")) } @else { (t("ask_join")) } }
            }
        }
        @if gp.access == Access::Full {
            div.columns {
                section {
                    h2 { (t("threads")) }
                    @if gp.threads.is_empty() { p.muted { (t("no_threads")) } }
                    @for (th, unread) in &gp.threads { (thread_card(lang, th, None, *unread)) }
                    (older_link(lang, &format!("/groups/{}", g.id), gp.threads.len(), gp.threads.last().map(|t| t.0.last_activity)))
                    @if member {
                        section.card {
                            h3 { (t("new_thread")) }
                            form method="post" action={ "/groups/" (g.id) "/threads" } {
                                input type="hidden" name="_csrf" value=(v.csrf);
                                label for="ttitle" { (t("title")) }
                                input id="ttitle" name="title" required maxlength="300";
                                label for="tbody" { (t("message")) }
                                textarea id="tbody" name="body" rows="5" required data-mentions {}
                                button type="submit" { (t("post")) }
                            }
                        }
                    }
                }
                aside {
                    @if owner && !gp.requests.is_empty() {
                        section.card {
                            h2 { (t("join_requests")) " (" (gp.requests.len()) ")" }
                            ul.people {
                                @for ((id, name, site), msg) in &gp.requests {
                                    li {
                                        a href={ "/people/" (id) } { (name) } " " span.site { (site) }
                                        @if !msg.is_empty() { br; span.meta { (msg) } }
                                        br;
                                        (post_form(format!("/groups/{}/requests/{id}/approve", g.id), t("approve"), ""))
                                        " "
                                        (post_form(format!("/groups/{}/requests/{id}/decline", g.id), t("decline"), "secondary"))
                                    }
                                }
                            }
                        }
                    }
                    h2 { (t("members")) " (" (gp.members.len()) ")" }
                    p.meta { (t("sites")) ": " (sites.join(", ")) }
                    ul.people {
                        @for (id, name, site) in &gp.members {
                            li {
                                a href={ "/people/" (id) } { (name) } " " span.site { (site) }
                                @if g.is_owner(id) { " " span.tag { (t("owner")) } }
                                @if owner && id != &v.employee {
                                    " " (post_form(format!("/groups/{}/members/{id}/remove", g.id), t("remove"), "link"))
                                }
                            }
                        }
                    }
                    @if !g.invitations.is_empty() {
                        p.meta { (t("invited")) ": " (g.invitations.join(", ")) }
                    }
                    @if owner {
                        form method="post" action={ "/groups/" (g.id) "/invite" } {
                            input type="hidden" name="_csrf" value=(v.csrf);
                            label for="invitee" { (t("invite_who")) }
                            input id="invitee" name="user" required data-people;
                            button type="submit" { (t("invite")) }
                        }
                        details.card {
                            summary { (t("settings")) }
                            form method="post" action={ "/groups/" (g.id) "/settings" } {
                                input type="hidden" name="_csrf" value=(v.csrf);
                                label for="sname" { (t("name")) }
                                input id="sname" name="name" required maxlength="300" value=(g.name);
                                label for="sdesc" { (t("description")) }
                                textarea id="sdesc" name="description" rows="3" { (g.description) }
                                button type="submit" { (t("save")) }
                            }
                        }
                    }
                    @if member {
                        (post_form(format!("/groups/{}/members/{}/remove", g.id, v.employee), t("leave"), "secondary"))
                    }
                }
            }
        } @else {
            p.muted { (t("members_only")) }
        }
    }
}

async fn group_join(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    doc_form(
        &state,
        &headers,
        &f._csrf,
        (&id, DocKind::Group),
        |c, me, g| c.add_member(me, g, me, now_ms()),
        |g, _| format!("/groups/{g}"),
    )
    .await
}

#[derive(Deserialize)]
struct InviteForm {
    user: String,
    #[serde(default)]
    _csrf: String,
}

async fn group_invite(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<InviteForm>,
) -> Response {
    let user = f.user.trim().to_owned();
    doc_form(
        &state,
        &headers,
        &f._csrf,
        (&id, DocKind::Group),
        move |c, me, g| c.invite(me, g, &user, now_ms()),
        |g, ()| format!("/groups/{g}"),
    )
    .await
}

#[derive(Deserialize)]
struct ThreadForm {
    title: String,
    body: String,
    #[serde(default)]
    _csrf: String,
}

async fn thread_create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<ThreadForm>,
) -> Response {
    doc_form(
        &state,
        &headers,
        &f._csrf.clone(),
        (&id, DocKind::Group),
        move |c, me, g| c.create_thread(me, g, &f.title, &f.body, now_ms(), nonce()),
        |_, t| format!("/threads/{t}"),
    )
    .await
}

async fn thread_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let v = match require(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let lang = v.lang;
    let Some(tid) = doc_of(&id, DocKind::Thread) else {
        return not_found(lang, &v);
    };
    let me = v.employee.clone();
    let found = state
        .node
        .call(move |core| {
            let t = core.thread_for(&me, &tid)?;
            let g = core
                .model()
                .group(&t.group)
                .map(|g| g.name.clone())
                .unwrap_or_default();
            let following = core.follows_thread(&me, &tid).unwrap_or(false);
            if let Err(e) = core.mark_thread_read(&me, &tid) {
                tracing::warn!(error = %e, "read marker not saved");
            }
            Some((t, g, following))
        })
        .await
        .ok()
        .flatten();
    let Some((t, group, following)) = found else {
        return not_found(lang, &v);
    };
    let tr = |k| lang.t(k);
    let live = t.id.to_string();
    live_page(
        lang,
        &t.title,
        Some(&v),
        html! {
            p.meta { a href={ "/groups/" (t.group) } { (group) } }
            div.heading {
                h1 { (t.title) }
                form method="post" action={ "/threads/" (t.id) "/follow" } {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    input type="hidden" name="on" value=(if following { "0" } else { "1" });
                    button.secondary type="submit" aria-pressed=(following) {
                        @if following { (tr("unfollow")) } @else { (tr("follow")) }
                    }
                }
            }
            @for p in &t.posts {
                article.post id={ "p-" (p.id) } {
                    p.meta {
                        a href={ "/people/" (p.author) } { "@" (p.author) }
                        " · " time datetime=(rfc3339(p.created_at)) { (when(p.created_at)) }
                        @if p.edited_at.is_some() && !p.deleted { " · " (tr("edited")) }
                    }
                    @if p.deleted { p.muted { (tr("deleted")) } }
                    @else if p.hidden { p.muted { (tr("hidden")) } }
                    @else { div.body { (PreEscaped(markdown::render(&p.body))) } }
                    @let likes = p.reactions.get("like").map_or(0, Vec::len);
                    @let mine = p.reactions.get("like").is_some_and(|l| l.contains(&v.employee));
                    form.inline method="post" action={ "/threads/" (t.id) "/like/" (p.id) } {
                        input type="hidden" name="_csrf" value=(v.csrf);
                        button.link type="submit" aria-pressed=(mine) {
                            @if mine { (tr("unlike")) } @else { (tr("like")) } " · " (likes)
                        }
                    }
                    @if p.author == v.employee && !p.deleted {
                        " · " a href={ "/threads/" (t.id) "/posts/" (p.id) "/edit" } { (tr("edit")) }
                        " · "
                        form.inline method="post" action={ "/threads/" (t.id) "/posts/" (p.id) "/delete" } {
                            input type="hidden" name="_csrf" value=(v.csrf);
                            button.link type="submit" { (tr("delete")) }
                        }
                    }
                }
            }
            section.card {
                h2 { (tr("reply")) }
                form method="post" action={ "/threads/" (t.id) "/reply" } {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    label for="rbody" { (tr("message")) }
                    textarea id="rbody" name="body" rows="4" required data-mentions {}
                    button type="submit" { (tr("reply")) }
                }
            }
        },
        Some(&live),
    )
}

#[derive(Deserialize)]
struct ReplyForm {
    body: String,
    #[serde(default)]
    _csrf: String,
}

async fn thread_reply(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<ReplyForm>,
) -> Response {
    doc_form(
        &state,
        &headers,
        &f._csrf.clone(),
        (&id, DocKind::Thread),
        move |c, me, t| c.reply(me, t, &f.body, None, now_ms(), nonce()),
        |t, p| format!("/threads/{t}#p-{p}"),
    )
    .await
}

async fn post_like(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, post)): Path<(String, String)>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let p2 = post.clone();
    doc_form(
        &state,
        &headers,
        &f._csrf,
        (&id, DocKind::Thread),
        move |c, me, t| {
            let on = !c
                .thread_for(me, t)
                .and_then(|t| t.posts.into_iter().find(|p| p.id == p2))
                .and_then(|p| p.reactions.get("like").map(|l| l.iter().any(|e| e == me)))
                .unwrap_or(false);
            c.react(me, t, &p2, "like", on, now_ms())
        },
        |t, ()| format!("/threads/{t}#p-{post}"),
    )
    .await
}

/// Posts about a topic, in the threads the viewer may read, newest first.
async fn topic_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(topic): Path<String>,
) -> Response {
    let v = match require(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let lang = v.lang;
    let me = v.employee.clone();
    let wanted = topic.to_lowercase();
    let w2 = wanted.clone();
    // From the search index and the read models: a topic page reads no thread.
    let threads = state
        .node
        .call(move |core| core.threads_about(&me, &w2).unwrap_or_default())
        .await
        .unwrap_or_default();
    let title = format!("#{wanted}");
    page(
        lang,
        &title,
        Some(&v),
        html! {
            h1 { (title) }
            @if threads.is_empty() { p.muted { (lang.t("topic_empty")) } }
            @for (t, g) in &threads { (thread_card(lang, t, Some(g), false)) }
        },
    )
}

#[derive(Deserialize)]
struct SearchForm {
    #[serde(default)]
    q: String,
}

async fn search_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(f): axum::extract::Query<SearchForm>,
) -> Response {
    let v = match require(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let lang = v.lang;
    let me = v.employee.clone();
    let q = f.q.trim().to_owned();
    // Words and "phrases" only; a search beyond the limits says so (400), whatever it holds.
    let query = crate::api::search_query(&q);
    let refused = query.as_ref().err().map(|e| e.message.clone());
    let results = match query {
        Ok(query) if !query.is_empty() => state
            .node
            .call(move |core| core.search(&me, &query, None, 30))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let t = |k| lang.t(k);
    let mut r = page(
        lang,
        t("search"),
        Some(&v),
        html! {
            h1 { (t("search")) }
            form.card method="get" action="/search" role="search" {
                label for="q2" { (t("search_hint")) }
                input id="q2" name="q" type="search" value=(q);
                button type="submit" { (t("search")) }
            }
            @if let Some(why) = &refused { p.error role="alert" { (why) } }
            @else if !q.is_empty() && results.is_empty() { p.muted { (t("no_results")) } }
            @for r in &results {
                @let (href, label) = match r.hit.kind {
                    weft_node::search::HitKind::Post => (
                        format!("/threads/{}#p-{}", r.hit.id, r.hit.post.clone().unwrap_or_default()),
                        t("post_kind"),
                    ),
                    weft_node::search::HitKind::Group => (format!("/groups/{}", r.hit.id), t("group_kind")),
                    weft_node::search::HitKind::Person => (format!("/people/{}", r.hit.id), t("person_kind")),
                };
                article.card {
                    p.meta { (label) }
                    h3 { a href=(href) { (r.context) } }
                    // tantivy escapes the excerpt; only its <b> marks are markup.
                    p { (PreEscaped(&r.hit.snippet_html)) }
                }
            }
        },
    );
    if refused.is_some() {
        *r.status_mut() = StatusCode::BAD_REQUEST;
    }
    r
}

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
use weft_node::crdt::{DocId, DocKind, GroupView, ThreadView, Visibility};
use weft_node::service::{Access, last_activity};

use crate::api::rfc3339;
use crate::auth::{self, token_of};
use crate::i18n::Lang;
use crate::markdown;
use crate::state::AppState;

const CSS: &str = include_str!("weft.css");
/// The one script: live updates of the page being read (progressive: pages work without it).
const LIVE_JS: &str = include_str!("live.js");
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
        .route("/groups", get(groups_page).post(group_create))
        .route("/groups/{id}", get(group_page))
        .route("/groups/{id}/join", post(group_join))
        .route("/groups/{id}/invite", post(group_invite))
        .route("/groups/{id}/threads", post(thread_create))
        .route("/threads/{id}", get(thread_page))
        .route("/threads/{id}/reply", post(thread_reply))
        .route("/threads/{id}/like/{post}", post(post_like))
        .route("/people/{id}", get(person_page))
        .route("/me/profile", post(profile_save))
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

/// Who is logged in, and their form token.
struct Viewer {
    employee: String,
    csrf: String,
    lang: Lang,
}

fn viewer(state: &AppState, headers: &HeaderMap) -> Option<Viewer> {
    let (mut parts, ()) = axum::http::Request::new(()).into_parts();
    parts.headers = headers.clone();
    let token = token_of(&parts)?;
    Some(Viewer {
        employee: state.sessions.employee(&token)?,
        csrf: state.sessions.csrf(&token)?,
        lang: Lang::of(headers),
    })
}

/// The page, or a redirect to the login page.
fn require(state: &AppState, headers: &HeaderMap) -> Result<Viewer, Redirect> {
    viewer(state, headers).ok_or_else(|| Redirect::to("/login"))
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

/// The viewer of a form submission: logged in, with the form's token right.
fn form_viewer(state: &AppState, headers: &HeaderMap, csrf: &str) -> Result<Viewer, Box<Response>> {
    let v = require(state, headers).map_err(|r| Box::new(r.into_response()))?;
    check_csrf(&v, csrf).map_err(|r| Box::new(r.into_response()))?;
    Ok(v)
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
                            a href={ "/people/" (v.employee) } { (t("profile")) }
                            form method="post" action="/logout" {
                                input type="hidden" name="_csrf" value=(v.csrf);
                                button.link type="submit" { (t("logout")) }
                            }
                        }
                    }
                }
                main id="main" data-live=[live] { (body) }
                @if live.is_some() { script src="/static/live.js" defer {} }
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

async fn set_lang(Path(code): Path<String>, headers: HeaderMap) -> Response {
    let code = if code == "fr" { "fr" } else { "en" };
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| {
            r.find("://")
                .and_then(|i| r[i + 3..].find('/').map(|j| r[i + 3 + j..].to_owned()))
        })
        .unwrap_or_else(|| "/".into());
    (
        [(
            header::SET_COOKIE,
            format!("weft_lang={code}; Path=/; SameSite=Lax; Max-Age=31536000"),
        )],
        Redirect::to(&back),
    )
        .into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    login: String,
    password: String,
    #[serde(default)]
    _csrf: String,
}

fn login_cookie(headers: &HeaderMap) -> Option<String> {
    for v in headers.get_all(header::COOKIE) {
        for pair in v.to_str().ok()?.split(';') {
            if let Some((k, val)) = pair.trim().split_once('=')
                && k == LOGIN_CSRF
            {
                return Some(val.to_owned());
            }
        }
    }
    None
}

fn login_form(lang: Lang, error: Option<&str>) -> Response {
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
    if let Ok(v) = format!("{LOGIN_CSRF}={csrf}; HttpOnly; SameSite=Strict; Path=/login").parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

async fn login_page(headers: HeaderMap) -> Response {
    login_form(Lang::of(&headers), None)
}

async fn login_submit(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let lang = Lang::of(&headers);
    if login_cookie(&headers).is_none_or(|c| c.is_empty() || c != f._csrf) {
        return (
            StatusCode::FORBIDDEN,
            "invalid form token: reload the page and try again",
        )
            .into_response();
    }
    match auth::authenticate(&state, &f.login, f.password, Some(addr.ip())).await {
        Ok(employee) => match state.sessions.start(&employee) {
            Ok(token) => (
                [(header::SET_COOKIE, auth::session_cookie(&token))],
                Redirect::to("/"),
            )
                .into_response(),
            Err(e) => e.into_response(),
        },
        Err(e) if e.status == StatusCode::TOO_MANY_REQUESTS => {
            let mut r = login_form(lang, Some(lang.t("too_many")));
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            r
        }
        Err(_) => {
            let mut r = login_form(lang, Some(lang.t("bad_login")));
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
    if let Err(r) = form_viewer(&state, &headers, &f._csrf) {
        return *r;
    }
    let (mut parts, ()) = axum::http::Request::new(()).into_parts();
    parts.headers = headers;
    if let Some(t) = token_of(&parts) {
        state.sessions.end(&t);
    }
    (
        [(
            header::SET_COOKIE,
            format!(
                "{}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0",
                auth::COOKIE
            ),
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

fn thread_card(lang: Lang, t: &ThreadView, group: Option<&str>) -> Markup {
    let root = t.posts.first();
    let excerpt: String = root
        .map(|p| p.body.chars().take(220).collect())
        .unwrap_or_default();
    html! {
        article.card {
            h3 { a href={ "/threads/" (t.id) } { (t.title) } }
            p.meta {
                a href={ "/people/" (t.author) } { "@" (t.author) }
                @if let Some(g) = group { " " (lang.t("in")) " " a href={ "/groups/" (t.group) } { (g) } }
                " · " time datetime=(rfc3339(last_activity(t))) { (when(last_activity(t))) }
                " · " (t.posts.len().saturating_sub(1)) " " (lang.t("replies"))
            }
            p { (excerpt) }
        }
    }
}

async fn feed(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let v = match require(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let me = v.employee.clone();
    let threads = state
        .node
        .call(move |core| {
            let mut out: Vec<(ThreadView, String)> = Vec::new();
            for (g, access) in core.groups_for(&me) {
                if access != Access::Full || !g.is_member(&me) && g.name != "All company" {
                    continue;
                }
                for t in core.threads_of(&me, &g.id).unwrap_or_default() {
                    out.push((t, g.name.clone()));
                }
            }
            out.sort_by_key(|(t, _)| std::cmp::Reverse(last_activity(t)));
            out.truncate(50);
            out
        })
        .await
        .unwrap_or_default();
    let lang = v.lang;
    live_page(
        lang,
        lang.t("feed"),
        Some(&v),
        html! {
            h1 { (lang.t("feed_title")) }
            @if threads.is_empty() { p.muted { (lang.t("feed_empty")) } }
            @for (t, g) in &threads { (thread_card(lang, t, Some(g))) }
        },
        Some("feed"),
    )
}

fn vis_label(lang: Lang, v: Visibility) -> &'static str {
    match v {
        Visibility::Public => lang.t("public"),
        Visibility::Private => lang.t("private"),
        Visibility::Secret => lang.t("secret"),
    }
}

async fn groups_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let v = match require(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let me = v.employee.clone();
    let groups = state
        .node
        .call(move |core| core.groups_for(&me))
        .await
        .unwrap_or_default();
    let lang = v.lang;
    let t = |k| lang.t(k);
    page(
        lang,
        t("groups"),
        Some(&v),
        html! {
            h1 { (t("groups")) }
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
    let v = match form_viewer(&state, &headers, &f._csrf) {
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
        Ok(Ok(id)) => Redirect::to(&format!("/groups/{id}")).into_response(),
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

async fn group_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let v = match require(&state, &headers) {
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
            let threads = core.threads_of(&me, &gid).unwrap_or_default();
            let dir = core
                .replica()
                .directory()
                .map(|d| d.directory.clone())
                .unwrap_or_default();
            let members: Vec<(String, String, String)> = g
                .members
                .iter()
                .map(|m| {
                    let e = dir.employees.get(m);
                    (
                        m.clone(),
                        e.map(|e| e.display_name.clone())
                            .unwrap_or_else(|| m.clone()),
                        e.map(|e| e.site.clone()).unwrap_or_default(),
                    )
                })
                .collect();
            Some((g, access, threads, members))
        })
        .await
        .ok()
        .flatten();
    let Some((g, access, threads, members)) = found else {
        return not_found(lang, &v);
    };
    let mut sites: Vec<&str> = members.iter().map(|m| m.2.as_str()).collect();
    sites.sort_unstable();
    sites.dedup();
    let member = g.is_member(&v.employee);
    page(
        lang,
        &g.name,
        Some(&v),
        group_body(lang, &v, &g, access, &threads, &members, &sites, member),
    )
}

#[allow(clippy::too_many_arguments)]
fn group_body(
    lang: Lang,
    v: &Viewer,
    g: &GroupView,
    access: Access,
    threads: &[ThreadView],
    members: &[(String, String, String)],
    sites: &[&str],
    member: bool,
) -> Markup {
    let t = |k: &str| lang.t(k);
    html! {
        h1 { (g.name) }
        p.meta { (vis_label(lang, g.visibility)) }
        p { (g.description) }
        @if !member {
            form method="post" action={ "/groups/" (g.id) "/join" } {
                input type="hidden" name="_csrf" value=(v.csrf);
                button type="submit" { @if g.visibility == Visibility::Public { (t("join")) } @else { (t("ask_join")) } }
            }
        }
        @if access == Access::Full {
            div.columns {
                section {
                    h2 { (t("threads")) }
                    @for th in threads { (thread_card(lang, th, None)) }
                    section.card {
                        h3 { (t("new_thread")) }
                        form method="post" action={ "/groups/" (g.id) "/threads" } {
                            input type="hidden" name="_csrf" value=(v.csrf);
                            label for="ttitle" { (t("title")) }
                            input id="ttitle" name="title" required maxlength="300";
                            label for="tbody" { (t("message")) }
                            textarea id="tbody" name="body" rows="5" required {}
                            button type="submit" { (t("post")) }
                        }
                    }
                }
                aside {
                    h2 { (t("members")) " (" (members.len()) ")" }
                    p.meta { (t("sites")) ": " (sites.join(", ")) }
                    ul.people {
                        @for (id, name, site) in members {
                            li { a href={ "/people/" (id) } { (name) } " " span.site { (site) } }
                        }
                    }
                    @if !g.invitations.is_empty() {
                        p.meta { (t("invited")) ": " (g.invitations.join(", ")) }
                    }
                    @if g.is_owner(&v.employee) {
                        form method="post" action={ "/groups/" (g.id) "/invite" } {
                            input type="hidden" name="_csrf" value=(v.csrf);
                            label for="invitee" { (t("invite_who")) }
                            input id="invitee" name="user" required;
                            button type="submit" { (t("invite")) }
                        }
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
    let v = match form_viewer(&state, &headers, &f._csrf) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(gid) = doc_of(&id, DocKind::Group) else {
        return not_found(v.lang, &v);
    };
    let me = v.employee.clone();
    let g2 = gid.clone();
    match state
        .node
        .call(move |core| core.add_member(&me, &g2, &me, now_ms()))
        .await
    {
        Ok(Ok(_)) => Redirect::to(&format!("/groups/{gid}")).into_response(),
        Ok(Err(e)) | Err(e) => fail(e),
    }
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
    let v = match form_viewer(&state, &headers, &f._csrf) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(gid) = doc_of(&id, DocKind::Group) else {
        return not_found(v.lang, &v);
    };
    let me = v.employee.clone();
    let g2 = gid.clone();
    let user = f.user.trim().to_owned();
    match state
        .node
        .call(move |core| core.invite(&me, &g2, &user, now_ms()))
        .await
    {
        Ok(Ok(())) => Redirect::to(&format!("/groups/{gid}")).into_response(),
        Ok(Err(e)) | Err(e) => fail(e),
    }
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
    let v = match form_viewer(&state, &headers, &f._csrf) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(gid) = doc_of(&id, DocKind::Group) else {
        return not_found(v.lang, &v);
    };
    let me = v.employee.clone();
    match state
        .node
        .call(move |core| core.create_thread(&me, &gid, &f.title, &f.body, now_ms(), nonce()))
        .await
    {
        Ok(Ok(tid)) => Redirect::to(&format!("/threads/{tid}")).into_response(),
        Ok(Err(e)) | Err(e) => fail(e),
    }
}

async fn thread_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let v = match require(&state, &headers) {
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
                .group_for(&me, &t.group)
                .map(|(g, _)| g.name)
                .unwrap_or_default();
            Some((t, g))
        })
        .await
        .ok()
        .flatten();
    let Some((t, group)) = found else {
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
            h1 { (t.title) }
            @for p in &t.posts {
                article.post id={ "p-" (p.id) } {
                    p.meta {
                        a href={ "/people/" (p.author) } { "@" (p.author) }
                        " · " time datetime=(rfc3339(p.created_at)) { (when(p.created_at)) }
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
                }
            }
            section.card {
                h2 { (tr("reply")) }
                form method="post" action={ "/threads/" (t.id) "/reply" } {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    label for="rbody" { (tr("message")) }
                    textarea id="rbody" name="body" rows="4" required {}
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
    let v = match form_viewer(&state, &headers, &f._csrf) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(tid) = doc_of(&id, DocKind::Thread) else {
        return not_found(v.lang, &v);
    };
    let me = v.employee.clone();
    let t2 = tid.clone();
    match state
        .node
        .call(move |core| core.reply(&me, &t2, &f.body, None, now_ms(), nonce()))
        .await
    {
        Ok(Ok(pid)) => Redirect::to(&format!("/threads/{tid}#p-{pid}")).into_response(),
        Ok(Err(e)) | Err(e) => fail(e),
    }
}

async fn post_like(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, post)): Path<(String, String)>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let v = match form_viewer(&state, &headers, &f._csrf) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(tid) = doc_of(&id, DocKind::Thread) else {
        return not_found(v.lang, &v);
    };
    let me = v.employee.clone();
    let (t2, p2) = (tid.clone(), post.clone());
    let result = state
        .node
        .call(move |core| {
            let on = !core
                .thread_for(&me, &t2)
                .and_then(|t| t.posts.into_iter().find(|p| p.id == p2))
                .and_then(|p| p.reactions.get("like").map(|l| l.contains(&me)))
                .unwrap_or(false);
            core.react(&me, &t2, &p2, "like", on, now_ms())
        })
        .await;
    match result {
        Ok(Ok(())) => Redirect::to(&format!("/threads/{tid}#p-{post}")).into_response(),
        Ok(Err(e)) | Err(e) => fail(e),
    }
}

async fn person_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let v = match require(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let lang = v.lang;
    let who = id.clone();
    let found = state
        .node
        .call(move |core| {
            let e = core
                .replica()
                .directory()?
                .directory
                .employees
                .get(&who)?
                .clone();
            Some((e, core.profile_of(&who)))
        })
        .await
        .ok()
        .flatten();
    let Some((e, p)) = found else {
        return not_found(lang, &v);
    };
    let t = |k| lang.t(k);
    page(
        lang,
        &e.display_name,
        Some(&v),
        html! {
            section.card {
                h1 { (e.display_name) }
                p.meta { (e.title) " · " (e.department) }
                dl {
                    dt { (t("site")) } dd { (e.site) }
                    dt { (t("email")) } dd { a href={ "mailto:" (e.email) } { (e.email) } }
                    @if !e.phone.is_empty() { dt { (t("phone")) } dd { (e.phone) } }
                }
                @if !p.about.is_empty() { h2 { (t("about")) } div.body { (PreEscaped(markdown::render(&p.about))) } }
                @if !p.expertise.is_empty() {
                    h2 { (t("expertise")) }
                    ul.tags { @for x in &p.expertise { li { (x) } } }
                }
            }
            @if e.id == v.employee {
                section.card {
                    h2 { (t("edit_profile")) }
                    form method="post" action="/me/profile" {
                        input type="hidden" name="_csrf" value=(v.csrf);
                        label for="about" { (t("about")) }
                        textarea id="about" name="about" rows="4" { (p.about) }
                        label for="expertise" { (t("expertise_hint")) }
                        input id="expertise" name="expertise" value=(p.expertise.join(", "));
                        button type="submit" { (t("save")) }
                    }
                }
            }
        },
    )
}

#[derive(Deserialize)]
struct ProfileForm {
    #[serde(default)]
    about: String,
    #[serde(default)]
    expertise: String,
    #[serde(default)]
    _csrf: String,
}

async fn profile_save(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<ProfileForm>,
) -> Response {
    let v = match form_viewer(&state, &headers, &f._csrf) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let me = v.employee.clone();
    let expertise: Vec<String> = f
        .expertise
        .split(',')
        .map(|x| x.trim().to_owned())
        .filter(|x| !x.is_empty())
        .collect();
    let result = state
        .node
        .call(move |core| {
            core.update_profile(
                &me,
                &weft_node::crdt::ProfileUpdate {
                    about: Some(&f.about),
                    expertise: Some(&expertise),
                    ..Default::default()
                },
                now_ms(),
            )
        })
        .await;
    match result {
        Ok(Ok(())) => Redirect::to(&format!("/people/{}", v.employee)).into_response(),
        Ok(Err(e)) | Err(e) => fail(e),
    }
}

/// Posts about a topic, in the threads the viewer may read, newest first.
async fn topic_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(topic): Path<String>,
) -> Response {
    let v = match require(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let lang = v.lang;
    let me = v.employee.clone();
    let wanted = topic.to_lowercase();
    let w2 = wanted.clone();
    let threads = state
        .node
        .call(move |core| {
            let mut out: Vec<(ThreadView, String)> = Vec::new();
            for (g, access) in core.groups_for(&me) {
                if access != Access::Full {
                    continue;
                }
                for t in core.threads_of(&me, &g.id).unwrap_or_default() {
                    if t.posts
                        .iter()
                        .any(|p| !p.deleted && !p.hidden && p.topics.contains(&w2))
                    {
                        out.push((t, g.name.clone()));
                    }
                }
            }
            out.sort_by_key(|(t, _)| std::cmp::Reverse(last_activity(t)));
            out
        })
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
            @for (t, g) in &threads { (thread_card(lang, t, Some(g))) }
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
    let v = match require(&state, &headers) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let lang = v.lang;
    let me = v.employee.clone();
    let q = f.q.trim().to_owned();
    let q2 = q.clone();
    let results = if q.is_empty() {
        Vec::new()
    } else {
        state
            .node
            .call(move |core| core.search(&me, &q2, None, 30))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    };
    let t = |k| lang.t(k);
    page(
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
            @if !q.is_empty() && results.is_empty() { p.muted { (t("no_results")) } }
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
    )
}

//! What every page shares: the frame (header, navigation, footer, scripts), the stylesheet
//! and scripts, thread cards and "older" links, the language links, the not-found page, and
//! the one path by which a form runs a command on a document ([`doc_form`]).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use weft_node::NodeError;
use weft_node::crdt::{DocId, DocKind, Visibility};
use weft_node::service::ThreadSummary;
use weft_node::service::{Service, Viewer as Who};

use crate::cookies::SameSite;
use crate::extract::Viewer;
use crate::i18n::Lang;
use crate::params::doc_id;
use crate::state::AppState;
use crate::time::rfc3339;

const CSS: &str = include_str!("../weft.css");
/// Live updates of the page being read (progressive: pages work without it).
const LIVE_JS: &str = include_str!("../live.js");
/// @mention completion in the post forms (progressive too).
const COMPOSE_JS: &str = include_str!("../compose.js");
/// File uploads in the post forms (progressive too: without it, posts carry no files).
const UPLOAD_JS: &str = include_str!("../upload.js");
/// The picture a video shows before it plays (no frame is taken from videos: that would
/// need a native decoder).
const POSTER_SVG: &str = include_str!("../poster.svg");

/// Threads per page of the feed and of a group.
pub(super) const PAGE: usize = 50;

/// `?before=<ms>`: the page of older threads.
#[derive(Deserialize)]
pub(super) struct Older {
    pub(super) before: Option<i64>,
}

/// A page in the frame every page shares.
pub(super) fn page(lang: Lang, title: &str, v: Option<&Viewer>, body: Markup) -> Response {
    live_page(lang, title, v, body, None)
}

/// A page that updates itself when `live` changes: a thread id, or `feed` for any change.
pub(super) fn live_page(
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
                            a href="/agenda" { (t("agenda")) }
                            a href="/directory" { (t("directory")) }
                            a href="/bookmarks" { (t("bookmarks")) }
                            @if v.community_manager {
                                a href="/analytics" { (t("analytics")) }
                            }
                            @if v.community_manager || v.to_moderate > 0 {
                                a href="/moderation" aria-label=(format!("{} ({})", t("moderation"), v.to_moderate)) {
                                    (t("moderation"))
                                    @if v.to_moderate > 0 { " " span.badge { (v.to_moderate) } }
                                }
                            }
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
                    script src="/static/upload.js" defer {}
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

/// The page of something that does not exist or that the viewer may not see (404).
pub(super) fn not_found(v: &Viewer) -> Response {
    let lang = v.lang;
    let mut r = page(
        lang,
        lang.t("not_found"),
        Some(v),
        html! { h1 { (lang.t("not_found")) } },
    );
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

/// An error as a page answers it: its status and its message as text.
pub(super) fn fail(e: impl Into<crate::error::AppError>) -> Response {
    let e: crate::error::AppError = e.into();
    (e.status, e.message).into_response()
}

/// A form that runs one command on a document: the id is parsed (a bad one is "not found"),
/// `command` calls the service as the viewer (whose session and form token the extractor
/// checked), and the answer is a redirect to where `then` says, or the error.
pub(super) async fn doc_form<T, Fut>(
    state: &AppState,
    v: &Viewer,
    (id, kind): (&str, DocKind),
    command: impl FnOnce(Service, Who, DocId) -> Fut,
    then: impl FnOnce(&DocId, T) -> String,
) -> Response
where
    Fut: Future<Output = Result<T, NodeError>>,
{
    let Ok(doc) = doc_id(id, kind) else {
        return not_found(v);
    };
    match command(state.service.clone(), v.who(), doc.clone()).await {
        Ok(x) => crate::cookies::redirect(&then(&doc, x)),
        Err(e) => fail(e),
    }
}

/// A thread as a card of a list (the feed, a group, a topic).
pub(super) fn thread_card(
    v: &Viewer,
    t: &ThreadSummary,
    group: Option<&str>,
    unread: bool,
) -> Markup {
    let lang = v.lang;
    html! {
        article.card.unread[unread] {
            h3 {
                @if t.pinned { span.badge.pin { (lang.t("pinned")) } " " }
                @if t.question { span.badge.question { (lang.t("question")) } " " }
                @if t.event.is_some() { span.badge.question { (lang.t("event")) } " " }
                a href={ "/threads/" (t.id) } { (t.title) }
                @if unread { " " span.new { (lang.t("new")) } }
            }
            p.meta {
                a href={ "/people/" (t.author) } { "@" (t.author) }
                @if let Some(g) = group { " " (lang.t("in")) " " a href={ "/groups/" (t.group) } { (g) } }
                " · " time datetime=(rfc3339(t.last_activity)) { (v.time(t.last_activity)) }
                " · " (t.replies) " " (lang.t("replies"))
            }
            p { (t.excerpt) }
        }
    }
}

/// The link to the next page of older threads, when this page is full.
pub(super) fn older_link(lang: Lang, path: &str, shown: usize, last: Option<i64>) -> Markup {
    html! {
        @if let (true, Some(t)) = (shown >= PAGE, last) {
            p.more { a href={ (path) "?before=" (t) } rel="next" { (lang.t("older")) " →" } }
        }
    }
}

/// A group's visibility in words.
pub(super) fn vis_label(lang: Lang, v: Visibility) -> &'static str {
    match v {
        Visibility::Public => lang.t("public"),
        Visibility::Private => lang.t("private"),
        Visibility::Secret => lang.t("secret"),
    }
}

pub(super) async fn compose_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        COMPOSE_JS,
    )
        .into_response()
}

pub(super) async fn upload_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        UPLOAD_JS,
    )
        .into_response()
}

pub(super) async fn poster_svg() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        POSTER_SVG,
    )
        .into_response()
}

pub(super) async fn live_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        LIVE_JS,
    )
        .into_response()
}

pub(super) async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

/// `GET /lang/{code}`: picks the language (a cookie for a year), and goes back to the page
/// the link was on — only if that is a page of this site (the `Referer` is the client's to
/// write).
pub(super) async fn set_lang(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
) -> (CookieJar, Response) {
    let code = if code == "fr" { "fr" } else { "en" };
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(crate::cookies::local_path_of)
        .unwrap_or_else(|| "/".into());
    let cookie = crate::cookies::cookie(
        crate::i18n::COOKIE,
        code.to_owned(),
        "/",
        SameSite::Lax,
        Some(std::time::Duration::from_secs(365 * 24 * 3600)),
        state.secure_cookies,
    );
    (jar.add(cookie), crate::cookies::redirect(&back))
}

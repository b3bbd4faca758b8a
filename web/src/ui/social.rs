//! What people do besides threads, in the pages: walls on profiles, announcements above the
//! feed (and the form communication teams make them with), reactions, bookmarks, pinning
//! and best answers on a thread's posts, and the people directory with its org chart.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use weft_node::crdt::{DocId, DocKind, PostView};
use weft_node::service::Wall;

use super::layout::{doc_form, fail, page};
use crate::extract::{Button, CsrfForm, Viewer};
use crate::markdown;
use crate::params::doc_id;
use crate::state::AppState;
use crate::time::rfc3339;

/// The reactions the API knows, with their words' keys.
pub(super) const REACTIONS: [(&str, &str); 6] = [
    ("like", "r_like"),
    ("love", "r_love"),
    ("bravo", "r_bravo"),
    ("laugh", "r_laugh"),
    ("insightful", "r_insightful"),
    ("support", "r_support"),
];

/// A post's reactions: each kind given, with its count (the viewer's own pressed), and the
/// others to choose from.
pub(super) fn reactions_bar(v: &Viewer, thread: &DocId, p: &PostView) -> Markup {
    let t = |k| v.lang.t(k);
    html! {
        form.reactions method="post" action={ "/threads/" (thread) "/react/" (p.id) } {
            input type="hidden" name="_csrf" value=(v.csrf);
            @for (kind, key) in REACTIONS {
                @let who = p.reactions.get(kind).map(Vec::as_slice).unwrap_or(&[]);
                @let mine = who.contains(&v.employee);
                @if !who.is_empty() || kind == "like" {
                    button.chip type="submit" name="kind" value=(kind) aria-pressed=(mine) {
                        (t(key)) " · " (who.len())
                    }
                }
            }
            details.more {
                summary { (t("react")) }
                @for (kind, key) in REACTIONS {
                    @if p.reactions.get(kind).is_none_or(Vec::is_empty) && kind != "like" {
                        button.chip type="submit" name="kind" value=(kind) { (t(key)) }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ReactForm {
    kind: String,
}

/// `POST /threads/{id}/react/{post}`: gives the reaction `kind`, or takes it back.
pub(super) async fn post_react(
    State(state): State<AppState>,
    Path((id, post)): Path<(String, String)>,
    CsrfForm(v, f): CsrfForm<ReactForm>,
) -> Response {
    if !REACTIONS.iter().any(|(k, _)| *k == f.kind) {
        return fail(weft_node::NodeError::Invalid("unknown reaction".into()));
    }
    let p2 = post.clone();
    doc_form(
        &state,
        &v,
        (&id, DocKind::Thread),
        move |s, me, t| async move {
            let (_, p) = s.post(&me, &t, &p2).await?;
            let on = !p
                .reactions
                .get(&f.kind)
                .is_some_and(|l| l.iter().any(|e| e == me.id()));
            s.react(&me, &t, &p2, &f.kind, on).await
        },
        |t, ()| format!("/threads/{t}#p-{post}"),
    )
    .await
}

/// A post's other actions: bookmark; for moderators, pin (the first post) and hide on a
/// wall; the best answer of a question.
pub(super) fn post_actions(
    v: &Viewer,
    thread: &weft_node::crdt::ThreadView,
    p: &PostView,
    first: bool,
    moderator: bool,
    bookmarked: bool,
) -> Markup {
    let t = |k| v.lang.t(k);
    let asker = thread.author == v.employee;
    html! {
        form.inline method="post" action={ "/threads/" (thread.id) "/bookmark/" (p.id) } {
            input type="hidden" name="_csrf" value=(v.csrf);
            button.link type="submit" aria-pressed=(bookmarked) {
                @if bookmarked { (t("unbookmark")) } @else { (t("bookmark")) }
            }
        }
        @if first && moderator && thread.wall_of.is_none() {
            " · "
            form.inline method="post" action={ "/threads/" (thread.id) "/pin" } {
                input type="hidden" name="_csrf" value=(v.csrf);
                button.link type="submit" aria-pressed=(thread.pinned) {
                    @if thread.pinned { (t("unpin")) } @else { (t("pin")) }
                }
            }
        }
        @if thread.question && !first && !p.deleted && (asker || moderator) {
            @let best = thread.best_answer.as_deref() == Some(p.id.as_str());
            " · "
            form.inline method="post" action={ "/threads/" (thread.id) "/best/" (p.id) } {
                input type="hidden" name="_csrf" value=(v.csrf);
                button.link type="submit" aria-pressed=(best) {
                    @if best { (t("not_best_answer")) } @else { (t("mark_best_answer")) }
                }
            }
        }
        @if thread.wall_of.as_deref() == Some(v.employee.as_str()) || (moderator && thread.wall_of.is_some()) {
            " · "
            form.inline method="post" action={ "/threads/" (thread.id) "/hide/" (p.id) } {
                input type="hidden" name="_csrf" value=(v.csrf);
                button.link type="submit" { @if p.hidden { (t("show_again")) } @else { (t("hide")) } }
            }
        }
    }
}

/// `POST /threads/{id}/bookmark/{post}`: keeps the post, or forgets it.
pub(super) async fn post_bookmark(
    State(state): State<AppState>,
    Path((id, post)): Path<(String, String)>,
    CsrfForm(v, Button {}): CsrfForm<Button>,
) -> Response {
    let p2 = post.clone();
    doc_form(
        &state,
        &v,
        (&id, DocKind::Thread),
        move |s, me, t| async move {
            let on = !s.is_bookmarked(&me, &t, &p2)?;
            s.bookmark(&me, &t, &p2, on).await
        },
        |t, ()| format!("/threads/{t}#p-{post}"),
    )
    .await
}

/// `POST /threads/{id}/pin`: pins the thread in its group, or unpins it.
pub(super) async fn thread_pin(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, Button {}): CsrfForm<Button>,
) -> Response {
    doc_form(
        &state,
        &v,
        (&id, DocKind::Thread),
        move |s, me, t| async move {
            let pinned = s.thread(&me, &t).await?.pinned;
            s.pin_thread(&me, &t, !pinned).await
        },
        |t, ()| format!("/threads/{t}"),
    )
    .await
}

/// `POST /threads/{id}/best/{post}`: marks the reply the best answer, or unmarks it.
pub(super) async fn thread_best(
    State(state): State<AppState>,
    Path((id, post)): Path<(String, String)>,
    CsrfForm(v, Button {}): CsrfForm<Button>,
) -> Response {
    let p2 = post.clone();
    doc_form(
        &state,
        &v,
        (&id, DocKind::Thread),
        move |s, me, t| async move {
            let best = s.thread(&me, &t).await?.best_answer.clone();
            let pick = (best.as_deref() != Some(p2.as_str())).then_some(p2.as_str());
            s.set_best_answer(&me, &t, pick).await
        },
        |t, ()| format!("/threads/{t}#p-{post}"),
    )
    .await
}

/// `POST /threads/{id}/hide/{post}`: a wall's owner hides a post on it, or shows it again.
pub(super) async fn wall_hide(
    State(state): State<AppState>,
    Path((id, post)): Path<(String, String)>,
    CsrfForm(v, Button {}): CsrfForm<Button>,
) -> Response {
    let Ok(tid) = doc_id(&id, DocKind::Thread) else {
        return super::layout::not_found(&v);
    };
    let t = match state.service.thread(&v.who(), &tid).await {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let hidden = t.posts.iter().any(|p| p.id == post && p.hidden);
    let owner = t.wall_of.clone().unwrap_or_default();
    match state
        .service
        .moderate(&v.who(), &tid, &post, !hidden, "")
        .await
    {
        Ok(()) => crate::cookies::redirect(&format!("/people/{owner}#wall")),
        Err(e) => fail(e),
    }
}

/// The wall on a profile page: what colleagues wrote, and the form to write there.
pub(super) fn wall_section(v: &Viewer, wall: &Wall, owner_name: &str) -> Markup {
    let t = |k| v.lang.t(k);
    let mine = wall.owner == v.employee;
    let posts = wall.posts();
    html! {
        section.card.wall id="wall" {
            h2 { (t("wall")) }
            form method="post" action={ "/people/" (wall.owner) "/wall" } {
                input type="hidden" name="_csrf" value=(v.csrf);
                label for="wbody" {
                    @if mine { (t("wall_write_own")) } @else { (t("wall_write")) " " (owner_name) }
                }
                textarea id="wbody" name="body" rows="3" required data-mentions {}
                button type="submit" { (t("post")) }
            }
            @if posts.is_empty() { p.muted { (t("wall_empty")) } }
            @for (thread, p) in posts.iter().rev() {
                article.post id={ "p-" (p.id) } {
                    p.meta {
                        a href={ "/people/" (p.author) } { "@" (p.author) }
                        " · " time datetime=(rfc3339(p.created_at)) { (v.time(p.created_at)) }
                    }
                    @if p.deleted { p.muted { (t("deleted")) } }
                    @else if p.hidden { p.muted { (t("hidden")) } }
                    @else { div.body { (PreEscaped(markdown::render(&p.body))) } }
                    @if mine && !p.deleted {
                        form.inline method="post" action={ "/threads/" (thread) "/hide/" (p.id) } {
                            input type="hidden" name="_csrf" value=(v.csrf);
                            button.link type="submit" { @if p.hidden { (t("show_again")) } @else { (t("hide")) } }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct WallForm {
    body: String,
}

/// `POST /people/{id}/wall`.
pub(super) async fn wall_post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, f): CsrfForm<WallForm>,
) -> Response {
    match state.service.post_on_wall(&v.who(), &id, &f.body).await {
        Ok(_) => crate::cookies::redirect(&format!("/people/{id}#wall")),
        Err(e) => fail(e),
    }
}

/// The announcements in force for the viewer, above the feed.
pub(super) fn announcements_banner(
    v: &Viewer,
    items: &[(
        weft_node::service::ThreadSummary,
        weft_node::crdt::AnnouncementView,
    )],
) -> Markup {
    let t = |k| v.lang.t(k);
    html! {
        @for (th, a) in items {
            aside.announcement role="note" aria-label=(t("announcement")) {
                div {
                    p.meta {
                        strong { (t("announcement")) }
                        @if let Some(s) = &a.site { " · " (s) }
                        " · " (t("until")) " " time datetime=(rfc3339(a.expires_at)) { (v.time(a.expires_at)) }
                    }
                    h2 { a href={ "/threads/" (th.id) } { (th.title) } }
                    div.body { (PreEscaped(markdown::render(&th.excerpt))) }
                }
                form method="post" action={ "/announcements/" (th.id) "/dismiss" } {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    button.link type="submit" aria-label=(t("dismiss")) { (t("dismiss")) }
                }
            }
        }
    }
}

/// `POST /announcements/{id}/dismiss`.
pub(super) async fn announcement_dismiss(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, Button {}): CsrfForm<Button>,
) -> Response {
    let Ok(tid) = doc_id(&id, DocKind::Thread) else {
        return super::layout::not_found(&v);
    };
    match state.service.dismiss(&v.who(), &tid).await {
        Ok(()) => crate::cookies::redirect("/"),
        Err(e) => fail(e),
    }
}

/// `GET /announce`: the form communication teams announce with.
pub(super) async fn announce_page(State(state): State<AppState>, v: Viewer) -> Response {
    let t = |k| v.lang.t(k);
    let sites = state.service.sites();
    page(
        v.lang,
        t("make_announcement"),
        Some(&v),
        html! {
            h1 { (t("make_announcement")) }
            section.card {
                p.meta { (t("announce_hint")) }
                form method="post" action="/announce" {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    label for="atitle" { (t("title")) }
                    input id="atitle" name="title" required maxlength="300";
                    label for="abody" { (t("message")) }
                    textarea id="abody" name="body" rows="5" required {}
                    label for="asite" { (t("audience")) }
                    select id="asite" name="site" {
                        option value="" { (t("everyone")) }
                        @for (id, name) in &sites { option value=(id) { (name) } }
                    }
                    label for="adays" { (t("shown_for")) }
                    select id="adays" name="days" {
                        option value="1" { (t("poll_1d")) }
                        option value="3" { (t("poll_3d")) }
                        option value="7" selected { (t("poll_1w")) }
                        option value="30" { (t("a_month")) }
                    }
                    button type="submit" { (t("announce")) }
                }
            }
        },
    )
}

#[derive(Deserialize)]
pub(super) struct AnnounceForm {
    title: String,
    body: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    days: String,
}

/// `POST /announce`.
pub(super) async fn announce_post(
    State(state): State<AppState>,
    CsrfForm(v, f): CsrfForm<AnnounceForm>,
) -> Response {
    let days: i64 = f.days.parse().unwrap_or(7).clamp(1, 90);
    let until = state.service.now_ms() + days * 24 * 3_600_000;
    let site = Some(f.site.trim()).filter(|s| !s.is_empty());
    match state
        .service
        .announce(&v.who(), &f.title, &f.body, site, until)
        .await
    {
        Ok(t) => crate::cookies::redirect(&format!("/threads/{t}")),
        Err(e) => fail(e),
    }
}

/// `GET /bookmarks`: the viewer's bookmarks.
pub(super) async fn bookmarks_page(State(state): State<AppState>, v: Viewer) -> Response {
    let t = |k| v.lang.t(k);
    let items = match state.service.bookmarks(&v.who()) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    page(
        v.lang,
        t("bookmarks"),
        Some(&v),
        html! {
            h1 { (t("bookmarks")) }
            @if items.is_empty() { p.muted { (t("no_bookmarks")) } }
            @for b in &items {
                article.card {
                    h3 { a href={ "/threads/" (b.thread.id) "#p-" (b.post) } { (b.thread.title) } }
                    p.meta { (t("saved")) " " time datetime=(rfc3339(b.at)) { (v.time(b.at)) } }
                    p { (b.thread.excerpt) }
                }
            }
        },
    )
}

#[derive(Deserialize)]
pub(super) struct DirectoryFilter {
    #[serde(default)]
    site: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    from: usize,
}

/// People per page of the directory.
const DIRECTORY_PAGE: usize = 60;

/// `GET /directory`: everyone, by site, department and title.
pub(super) async fn directory_page(
    State(state): State<AppState>,
    v: Viewer,
    Query(f): Query<DirectoryFilter>,
) -> Response {
    let t = |k| v.lang.t(k);
    let opt = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
    let (site, dept, title) = (opt(&f.site), opt(&f.department), opt(&f.title));
    if title.as_ref().is_some_and(|x| x.len() > 200) {
        return fail(weft_node::NodeError::Invalid(
            "a title filter is at most 200 bytes".into(),
        ));
    }
    let d = state.service.browse_people(
        &weft_node::service::DirectoryFilter {
            site: site.clone(),
            department: dept.clone(),
            title: title.clone(),
            manager: None,
        },
        f.from,
        DIRECTORY_PAGE,
    );
    let next = f.from + d.people.len();
    page(
        v.lang,
        t("directory"),
        Some(&v),
        html! {
            h1 { (t("directory")) }
            form.filter.directory method="get" action="/directory" {
                div {
                    label for="dsite" { (t("site")) }
                    select id="dsite" name="site" {
                        option value="" { (t("all_sites")) }
                        @for (id, name) in &d.sites { option value=(id) selected[site.as_deref() == Some(id.as_str())] { (name) } }
                    }
                }
                div {
                    label for="ddept" { (t("department")) }
                    select id="ddept" name="department" {
                        option value="" { (t("all_departments")) }
                        @for x in &d.departments { option value=(x) selected[dept.as_deref() == Some(x.as_str())] { (x) } }
                    }
                }
                div {
                    label for="dtitle" { (t("job_title")) }
                    input id="dtitle" name="title" type="search" value=(title.clone().unwrap_or_default());
                }
                button.secondary type="submit" { (t("search")) }
            }
            p.meta { (d.total) " " (t("people_found")) }
            ul.grid.people-grid {
                @for e in &d.people {
                    li.card.person {
                        @match d.profiles.get(&e.id).and_then(|p| p.photo.clone()) {
                            Some(h) => img.avatar.small src={ "/api/v1/people/" (e.id) "/photo?v=" (h) } alt="" width="48" height="48";,
                            None => span.avatar.small.initials aria-hidden="true" { (super::profile::initials(&e.display_name)) },
                        }
                        a href={ "/people/" (e.id) } { strong { (e.display_name) } }
                        br;
                        span.meta { (e.title) }
                        br;
                        span.site { (e.department) " · " (e.site) }
                    }
                }
            }
            @if next < d.total {
                p {
                    a href={
                        "/directory?site=" (f.site) "&department=" (url_escape(&f.department))
                        "&title=" (url_escape(&f.title)) "&from=" (next)
                    } { (t("more_people")) }
                }
            }
        },
    )
}

/// Percent-encodes a query value.
fn url_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A person's place in the org chart: their manager above, their direct reports below.
pub(super) fn org_chart(
    v: &Viewer,
    manager: Option<&(String, String)>,
    name: &str,
    reports: &[(String, String, String)],
) -> Markup {
    let t = |k| v.lang.t(k);
    html! {
        @if manager.is_some() || !reports.is_empty() {
            section.card.org {
                h2 { (t("org_chart")) }
                ol.org {
                    @if let Some((id, name)) = manager {
                        li.manager { a href={ "/people/" (id) } { (name) } }
                    }
                    li.self {
                        strong { (name) }
                        @if !reports.is_empty() {
                            ul.reports {
                                @for (id, name, title) in reports {
                                    li { a href={ "/people/" (id) } { (name) } " " span.meta { (title) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

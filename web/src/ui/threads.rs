//! Threads: starting one in a group, reading one (which marks it read), replying, liking.
//! Editing and deleting one's posts and following are in [`super::manage`].

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{PreEscaped, html};
use serde::Deserialize;
use weft_node::crdt::DocKind;

use super::layout::{doc_form, live_page, not_found};
use crate::extract::{Button, CsrfForm, Viewer};
use crate::markdown;
use crate::params::doc_id;
use crate::state::AppState;
use crate::time::{rfc3339, short};

#[derive(Deserialize)]
pub(super) struct ThreadForm {
    title: String,
    body: String,
}

/// `POST /groups/{id}/threads` (members).
pub(super) async fn thread_create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, f): CsrfForm<ThreadForm>,
) -> Response {
    doc_form(
        &state,
        &v,
        (&id, DocKind::Group),
        move |s, me, g| async move { s.create_thread(&me, &g, &f.title, &f.body).await },
        |_, t| format!("/threads/{t}"),
    )
    .await
}

/// `GET /threads/{id}`: the thread, live (404 for one the viewer may not read).
pub(super) async fn thread_page(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
) -> Response {
    let lang = v.lang;
    let Ok(tid) = doc_id(&id, DocKind::Thread) else {
        return not_found(&v);
    };
    let Ok(page) = state.service.thread_page(&v.who(), &tid).await else {
        return not_found(&v);
    };
    let (t, group, following) = (page.thread, page.group_name, page.following);
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
                        " · " time datetime=(rfc3339(p.created_at)) { (short(p.created_at)) }
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
pub(super) struct ReplyForm {
    body: String,
}

/// `POST /threads/{id}/reply`.
pub(super) async fn thread_reply(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, f): CsrfForm<ReplyForm>,
) -> Response {
    doc_form(
        &state,
        &v,
        (&id, DocKind::Thread),
        move |s, me, t| async move { s.reply(&me, &t, &f.body, None).await },
        |t, p| format!("/threads/{t}#p-{p}"),
    )
    .await
}

/// `POST /threads/{id}/like/{post}`: likes the post, or takes the like back.
pub(super) async fn post_like(
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
            let (_, p) = s.post(&me, &t, &p2).await?;
            let liked = p
                .reactions
                .get("like")
                .is_some_and(|l| l.iter().any(|e| e == me.id()));
            s.react(&me, &t, &p2, "like", !liked).await
        },
        |t, ()| format!("/threads/{t}#p-{post}"),
    )
    .await
}

//! Forms that change things: following, editing and deleting one's posts, running a group
//! (requests, members, settings).

use axum::extract::{Path, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use weft_node::crdt::DocKind;
use weft_node::service::GroupEdit;

use super::layout::{doc_form, fail, not_found, page};
use crate::extract::{Button, CsrfForm, Viewer};
use crate::params::doc_id;
use crate::state::AppState;

#[derive(Deserialize)]
pub(super) struct FollowForm {
    /// `1` to follow, anything else to stop.
    #[serde(default)]
    on: String,
}

/// `POST /threads/{id}/follow`.
pub(super) async fn thread_follow(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, f): CsrfForm<FollowForm>,
) -> Response {
    let on = f.on == "1";
    doc_form(
        &state,
        &v,
        (&id, DocKind::Thread),
        move |s, me, t| async move { s.follow_thread(&me, &t, on).await },
        |t, ()| format!("/threads/{t}"),
    )
    .await
}

/// `POST /people/{id}/follow`.
pub(super) async fn person_follow(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, f): CsrfForm<FollowForm>,
) -> Response {
    match state
        .service
        .follow_person(&v.who(), &id, f.on == "1")
        .await
    {
        Ok(()) => crate::cookies::redirect(&format!("/people/{id}")),
        Err(e) => fail(e),
    }
}

/// `GET /threads/{id}/posts/{post}/edit`: the form to edit one's post.
pub(super) async fn post_edit_page(
    State(state): State<AppState>,
    v: Viewer,
    Path((id, post)): Path<(String, String)>,
) -> Response {
    let lang = v.lang;
    let Ok(tid) = doc_id(&id, DocKind::Thread) else {
        return not_found(&v);
    };
    let found = match state.service.post(&v.who(), &tid, &post).await {
        Ok((t, p)) if p.author == v.employee && !p.deleted => Some((t.title.clone(), p.body)),
        _ => None,
    };
    let Some((title, body)) = found else {
        return not_found(&v);
    };
    let t = |k| lang.t(k);
    page(
        lang,
        t("edit_post"),
        Some(&v),
        html! {
            p.meta { a href={ "/threads/" (tid) } { (title) } }
            h1 { (t("edit_post")) }
            form.card method="post" action={ "/threads/" (tid) "/posts/" (post) "/edit" } {
                input type="hidden" name="_csrf" value=(v.csrf);
                label for="ebody" { (t("message")) }
                textarea id="ebody" name="body" rows="8" required data-mentions { (body) }
                button type="submit" { (t("save")) }
                " " a href={ "/threads/" (tid) "#p-" (post) } { (t("cancel")) }
            }
        },
    )
}

#[derive(Deserialize)]
pub(super) struct EditForm {
    body: String,
}

/// `POST /threads/{id}/posts/{post}/edit`.
pub(super) async fn post_edit(
    State(state): State<AppState>,
    Path((id, post)): Path<(String, String)>,
    CsrfForm(v, f): CsrfForm<EditForm>,
) -> Response {
    let p2 = post.clone();
    doc_form(
        &state,
        &v,
        (&id, DocKind::Thread),
        move |s, me, t| async move { s.edit_post(&me, &t, &p2, &f.body).await },
        |t, ()| format!("/threads/{t}#p-{post}"),
    )
    .await
}

/// `POST /threads/{id}/posts/{post}/delete`.
pub(super) async fn post_delete(
    State(state): State<AppState>,
    Path((id, post)): Path<(String, String)>,
    CsrfForm(v, Button {}): CsrfForm<Button>,
) -> Response {
    let p2 = post.clone();
    doc_form(
        &state,
        &v,
        (&id, DocKind::Thread),
        move |s, me, t| async move { s.delete_post(&me, &t, &p2).await },
        |t, ()| format!("/threads/{t}#p-{post}"),
    )
    .await
}

/// What an owner (or the member themself) does to someone in a group.
#[derive(Debug, Clone, Copy)]
enum MemberAction {
    Approve,
    Decline,
    Remove,
}

async fn member_action(
    state: AppState,
    v: Viewer,
    id: String,
    user: String,
    action: MemberAction,
) -> Response {
    let leaving = matches!(action, MemberAction::Remove) && v.employee == user;
    doc_form(
        &state,
        &v,
        (&id, DocKind::Group),
        move |s, me, g| async move {
            match action {
                MemberAction::Approve => s.add_member(&me, &g, &user).await.map(drop),
                MemberAction::Decline => s.drop_request(&me, &g, &user).await,
                MemberAction::Remove => s.remove_member(&me, &g, &user).await,
            }
        },
        move |g, ()| {
            if leaving {
                "/groups".to_owned()
            } else {
                format!("/groups/{g}")
            }
        },
    )
    .await
}

/// `POST /groups/{id}/requests/{user}/approve` (owners).
pub(super) async fn request_approve(
    State(state): State<AppState>,
    Path((id, user)): Path<(String, String)>,
    CsrfForm(v, Button {}): CsrfForm<Button>,
) -> Response {
    member_action(state, v, id, user, MemberAction::Approve).await
}

/// `POST /groups/{id}/requests/{user}/decline` (owners, or the requester withdrawing).
pub(super) async fn request_decline(
    State(state): State<AppState>,
    Path((id, user)): Path<(String, String)>,
    CsrfForm(v, Button {}): CsrfForm<Button>,
) -> Response {
    member_action(state, v, id, user, MemberAction::Decline).await
}

/// `POST /groups/{id}/members/{user}/remove` (owners, or the member leaving).
pub(super) async fn member_remove(
    State(state): State<AppState>,
    Path((id, user)): Path<(String, String)>,
    CsrfForm(v, Button {}): CsrfForm<Button>,
) -> Response {
    member_action(state, v, id, user, MemberAction::Remove).await
}

#[derive(Deserialize)]
pub(super) struct SettingsForm {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    visibility: String,
}

/// `POST /groups/{id}/members/{user}/owner` (owners): makes a member a co-owner.
pub(super) async fn member_owner(
    State(state): State<AppState>,
    Path((id, user)): Path<(String, String)>,
    CsrfForm(v, Button {}): CsrfForm<Button>,
) -> Response {
    doc_form(
        &state,
        &v,
        (&id, DocKind::Group),
        move |s, me, g| async move { s.make_owner(&me, &g, &user).await },
        |g, ()| format!("/groups/{g}"),
    )
    .await
}

/// `POST /groups/{id}/settings` (owners): name, description and visibility.
pub(super) async fn group_settings(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, f): CsrfForm<SettingsForm>,
) -> Response {
    doc_form(
        &state,
        &v,
        (&id, DocKind::Group),
        move |s, me, g| async move {
            let edit = GroupEdit {
                name: Some(f.name.trim().to_owned()),
                description: Some(f.description),
                visibility: weft_node::crdt::Visibility::parse(&f.visibility),
            };
            s.update_group(&me, &g, edit).await
        },
        |g, ()| format!("/groups/{g}"),
    )
    .await
}

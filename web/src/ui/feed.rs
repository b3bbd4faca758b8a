//! The home feed: threads of the viewer's groups (and All company), of the threads and
//! people they follow, newest activity first, with what is new marked.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::layout::{Older, PAGE, fail, live_page, older_link, thread_card};
use crate::extract::{Button, CsrfForm, Viewer};
use crate::state::AppState;

/// `GET /`: the feed's first page follows what happens (live); older pages stay as they are.
pub(super) async fn feed(
    State(state): State<AppState>,
    v: Viewer,
    Query(older): Query<Older>,
) -> Response {
    let items = match state.service.feed(&v.who(), older.before, PAGE).await {
        Ok(items) => items,
        Err(e) => return fail(e),
    };
    let lang = v.lang;
    let unread = items.iter().filter(|i| i.unread).count();
    let announcements = if older.before.is_none() {
        state.service.announcements(&v.who()).unwrap_or_default()
    } else {
        Vec::new()
    };
    let announcer = state.service.may_announce(&v.who());
    live_page(
        lang,
        lang.t("feed"),
        Some(&v),
        html! {
            (super::social::announcements_banner(&v, &announcements))
            div.heading {
                h1 { (lang.t("feed_title")) }
                @if announcer { a.button.secondary href="/announce" { (lang.t("make_announcement")) } }
                @if unread > 0 {
                    form method="post" action="/feed/read" {
                        input type="hidden" name="_csrf" value=(v.csrf);
                        button.link type="submit" { (lang.t("mark_all_read")) }
                    }
                }
            }
            @if items.is_empty() { p.muted { (lang.t("feed_empty")) } }
            @for i in &items { (thread_card(&v, &i.thread, Some(&i.group_name), i.unread)) }
            (older_link(lang, "/", items.len(), items.last().map(|i| i.thread.last_activity)))
        },
        older.before.is_none().then_some("feed"),
    )
}

/// `POST /feed/read`: marks the whole feed read.
pub(super) async fn feed_read(
    State(state): State<AppState>,
    CsrfForm(v, Button {}): CsrfForm<Button>,
) -> Response {
    match state.service.mark_all_read(&v.who()).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(e) => fail(e),
    }
}

//! The HTML UI: server-rendered pages (maud escapes everything it interpolates), one
//! stylesheet and two optional scripts. Who is looking and whether a form is theirs are
//! checked by the extractors of [`crate::extract`] before a handler runs: a page needs a
//! [`Viewer`](crate::extract::Viewer) (else the login page or the usage charter), a form
//! its per-session token (the login and setup forms, a double-submit cookie).
//!
//! This module is the router; each page lives in its own module: `layout` (the frame and
//! what pages share), `login`, `feed`, `groups`, `threads`, `search` (and topics), `account`
//! (charter, setup links, notifications), `manage` (forms that change things), `profile`, and `community` (reports, the moderation
//! queue, marks, duplicate and merged groups).

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

mod account;
mod analytics;
mod community;
mod events;
mod feed;
mod groups;
mod layout;
mod library;
mod login;
mod mail;
mod manage;
mod profile;
mod search;
mod social;
mod threads;

/// A page without a viewer (for pages reached from outside a session, e.g. from a mail).
pub(crate) fn bare_page(
    lang: crate::i18n::Lang,
    title: &str,
    body: maud::Markup,
) -> axum::response::Response {
    layout::page(lang, title, None, body)
}

/// The UI's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(feed::feed))
        .route("/login", get(login::login_page).post(login::login_submit))
        .route("/logout", post(login::logout))
        .route("/lang/{code}", get(layout::set_lang))
        .route("/static/weft.css", get(layout::css))
        .route("/static/live.js", get(layout::live_js))
        .route("/static/compose.js", get(layout::compose_js))
        .route("/static/upload.js", get(layout::upload_js))
        .route("/static/poster.svg", get(layout::poster_svg))
        .route(
            "/charter",
            get(account::charter_page).post(account::charter_accept),
        )
        .route(
            "/setup/{token}",
            get(account::setup_page).post(account::setup_submit),
        )
        .route("/notifications", get(account::notifications_page))
        .route("/feed/read", post(feed::feed_read))
        .route(
            "/groups",
            get(groups::groups_page).post(groups::group_create),
        )
        .route("/groups/{id}", get(groups::group_page))
        .route("/groups/{id}/join", post(groups::group_join))
        .route("/groups/{id}/invite", post(groups::group_invite))
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
        .route("/groups/{id}/threads", post(threads::thread_create))
        .route("/groups/{id}/events", post(events::event_create))
        .route("/threads/{id}/event", post(events::event_edit))
        .route("/threads/{id}/rsvp", post(events::event_rsvp))
        .route("/agenda", get(events::agenda_page))
        .route("/groups/{id}/agenda", get(events::group_agenda_page))
        .route(
            "/groups/{id}/library",
            get(library::library_page).post(library::document_create),
        )
        .route("/documents/{id}", get(library::document_page))
        .route("/groups/{id}/feeds", post(library::feed_follow))
        .route(
            "/groups/{id}/feeds/{feed}/remove",
            post(library::feed_unfollow),
        )
        .route("/documents/{id}/versions", post(library::version_create))
        .route(
            "/documents/{id}/restore/{version}",
            post(library::version_restore),
        )
        .route("/documents/{id}/folder", post(library::document_move))
        .route("/threads/{id}/react/{post}", post(social::post_react))
        .route("/threads/{id}/bookmark/{post}", post(social::post_bookmark))
        .route("/threads/{id}/pin", post(social::thread_pin))
        .route("/threads/{id}/best/{post}", post(social::thread_best))
        .route("/threads/{id}/hide/{post}", post(social::wall_hide))
        .route(
            "/threads/{id}/report/{post}",
            post(community::report_submit),
        )
        .route(
            "/threads/{id}/moderate/{post}",
            post(community::moderate_submit),
        )
        .route("/threads/{id}/mark", post(community::mark_submit))
        .route("/moderation", get(community::queue_page))
        .route("/analytics", get(analytics::analytics_page))
        .route("/analytics/publish", post(analytics::publish))
        .route("/settings/mail", get(mail::mail_page).post(mail::mail_save))
        .route("/settings/mail/digest", post(mail::digest_now))
        .route("/moderation/duplicates", get(community::duplicates_page))
        .route("/groups/{id}/merge", post(community::merge_submit))
        .route(
            "/groups/{id}/members/{user}/owner",
            post(manage::member_owner),
        )
        .route("/people/{id}/wall", post(social::wall_post))
        .route(
            "/announcements/{id}/dismiss",
            post(social::announcement_dismiss),
        )
        .route(
            "/announce",
            get(social::announce_page).post(social::announce_post),
        )
        .route("/bookmarks", get(social::bookmarks_page))
        .route("/directory", get(social::directory_page))
        .route("/agenda/reset", post(events::agenda_reset))
        .route("/threads/{id}", get(threads::thread_page))
        .route("/threads/{id}/reply", post(threads::thread_reply))
        .route("/threads/{id}/like/{post}", post(threads::post_like))
        .route("/threads/{id}/vote/{post}", post(threads::post_vote))
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
        .route("/topics/{topic}", get(search::topic_page))
        .route("/search", get(search::search_page))
}

//! Pages about the employee's own account: the usage charter, one-time setup links,
//! notifications.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{PreEscaped, html};
use serde::Deserialize;
use weft_node::service::{NoticeKind, Notification};

use super::layout::{fail, page};
use super::login::form_cookie;
use crate::auth;
use crate::extract::{FormCookie, SessionForm, SessionViewer, Viewer};
use crate::i18n::Lang;
use crate::markdown;
use crate::state::AppState;
use crate::time::rfc3339;

/// `GET /charter`: the usage charter, to accept before anything else.
pub(super) async fn charter_page(
    State(state): State<AppState>,
    SessionViewer(v): SessionViewer,
) -> Response {
    let Some(charter) = state.charter.clone() else {
        return Redirect::to("/").into_response();
    };
    let lang = v.lang;
    let t = |k| lang.t(k);
    page(
        lang,
        t("charter"),
        None,
        html! {
            section.card.narrow {
                h1 { (t("charter")) }
                p.muted { (t("charter_intro")) }
                div.body.charter { (PreEscaped(markdown::render(&charter.text))) }
                form method="post" action="/charter" {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    input type="hidden" name="hash" value=(charter.hash);
                    button type="submit" { (t("charter_accept")) }
                }
                form method="post" action="/logout" {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    button.link type="submit" { (t("logout")) }
                }
            }
        },
    )
}

#[derive(Deserialize)]
pub(super) struct CharterForm {
    /// The text that was shown (its SHA-256).
    #[serde(default)]
    hash: String,
}

/// `POST /charter`: records the acceptance of the text that was shown.
pub(super) async fn charter_accept(
    State(state): State<AppState>,
    SessionForm(v, f): SessionForm<CharterForm>,
) -> Response {
    let Some(charter) = state.charter.clone() else {
        return Redirect::to("/").into_response();
    };
    if f.hash != charter.hash {
        // The charter changed while the page was open: show the new text.
        return Redirect::to("/charter").into_response();
    }
    match state.service.accept_charter(&v.who(), &charter.hash).await {
        Ok(()) => {
            tracing::info!(employee = %v.employee, "usage charter accepted");
            Redirect::to("/").into_response()
        }
        Err(e) => fail(e),
    }
}

/// The form of a setup link (with `error` said above it), and its form cookie.
fn setup_form(
    state: &AppState,
    lang: Lang,
    token: &str,
    who: &str,
    error: Option<&str>,
) -> (CookieJar, Response) {
    let csrf = auth::random_token(&state.service).unwrap_or_default();
    let t = |k| lang.t(k);
    let r = page(
        lang,
        t("setup"),
        None,
        html! {
            section.card.narrow {
                h1 { (t("setup")) }
                p.muted { (t("setup_intro")) " " strong { (who) } }
                @if let Some(e) = error { p.error role="alert" { (e) } }
                form method="post" action={ "/setup/" (token) } {
                    input type="hidden" name="_csrf" value=(csrf);
                    label for="password" { (t("new_password")) }
                    input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required autofocus;
                    label for="again" { (t("password_again")) }
                    input id="again" name="again" type="password" autocomplete="new-password" minlength="10" required;
                    button type="submit" { (t("setup_save")) }
                }
            }
        },
    );
    (CookieJar::new().add(form_cookie(state, csrf, "/setup")), r)
}

fn link_gone(lang: Lang) -> Response {
    let mut r = page(
        lang,
        lang.t("setup"),
        None,
        html! {
            section.card.narrow {
                h1 { (lang.t("setup")) }
                p.error role="alert" { (lang.t("setup_gone")) }
                a href="/login" { (lang.t("login")) }
            }
        },
    );
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

/// Whether the directory still lists `who` as active at this site: a link made before
/// someone left or moved away no longer works.
fn still_here(state: &AppState, who: &str) -> bool {
    state.service.homed_here(who)
}

/// `GET /setup/{token}`: a one-time link from `weft user invite`.
pub(super) async fn setup_page(
    State(state): State<AppState>,
    lang: Lang,
    Path(token): Path<String>,
) -> Response {
    let who = state
        .invites
        .as_deref()
        .and_then(|d| crate::invite::check(d, &token, state.service.now_ms()));
    match who {
        Some(who) if still_here(&state, &who) => {
            setup_form(&state, lang, &token, &who, None).into_response()
        }
        _ => link_gone(lang),
    }
}

#[derive(Deserialize)]
pub(super) struct SetupForm {
    password: String,
    again: String,
}

/// `POST /setup/{token}`: sets the password, uses the link up, ends every other session of
/// the employee and logs them in. The link is used up (atomically: of two requests with one
/// link, one gets it) before the password is hashed; a form with a mistake in it (too
/// short, not repeated alike) does not use it up.
pub(super) async fn setup_submit(
    State(state): State<AppState>,
    lang: Lang,
    jar: CookieJar,
    Path(token): Path<String>,
    FormCookie(f): FormCookie<SetupForm>,
) -> Response {
    let Some(dir) = state.invites.clone() else {
        return link_gone(lang);
    };
    let Some(who) = crate::invite::check(&dir, &token, state.service.now_ms()) else {
        return link_gone(lang);
    };
    let mistake = if f.password.chars().count() < 10 {
        Some("password_short")
    } else if f.password != f.again {
        Some("password_mismatch")
    } else {
        None
    };
    if let Some(m) = mistake {
        let mut r = setup_form(&state, lang, &token, &who, Some(lang.t(m))).into_response();
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return r;
    }
    // A turn to hash first, so that a busy node does not use the link up for nothing.
    let metrics = state.service.metrics().clone();
    let permit = match state.logins.permit(&metrics).await {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let claim = state.service.nonce().unwrap_or_default();
    let Some(who) = crate::invite::take(&dir, &token, state.service.now_ms(), claim) else {
        return link_gone(lang);
    };
    if !still_here(&state, &who) {
        tracing::info!(employee = %who, "setup link refused: not active at this site");
        return link_gone(lang);
    }
    let password = f.password;
    let hash = match permit.run(move || auth::hash_password(&password)).await {
        Ok(Ok(h)) => h,
        _ => return fail(crate::error::AppError::internal("password hashing")),
    };
    if let Err(e) = state.service.set_password_hash(&who, &hash).await {
        return fail(e);
    }
    // A new password ends every session made with the old one.
    if let Err(e) = state.sessions.end_all_of(&who).await {
        return fail(e);
    }
    tracing::info!(employee = %who, "password set through a setup link; other sessions ended");
    match state.sessions.start(&who).await {
        Ok(session) => (
            jar.add(auth::session_cookie(session, state.secure_cookies)),
            Redirect::to("/"),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

fn describe(lang: Lang, n: &Notification) -> String {
    let by = if n.by.is_empty() { "" } else { n.by.as_str() };
    match (lang, n.kind) {
        (Lang::En, NoticeKind::Mention) => format!("@{by} mentioned you in “{}”", n.title),
        (Lang::Fr, NoticeKind::Mention) => format!("@{by} vous a mentionné dans « {} »", n.title),
        (Lang::En, NoticeKind::Reply) => format!("@{by} replied in “{}”", n.title),
        (Lang::Fr, NoticeKind::Reply) => format!("@{by} a répondu dans « {} »", n.title),
        (Lang::En, NoticeKind::JoinRequest) => format!("@{by} asked to join “{}”", n.title),
        (Lang::Fr, NoticeKind::JoinRequest) => {
            format!("@{by} demande à rejoindre « {} »", n.title)
        }
        (Lang::En, NoticeKind::Invitation) => format!("You were invited to “{}”", n.title),
        (Lang::Fr, NoticeKind::Invitation) => format!("Vous êtes invité à « {} »", n.title),
        (Lang::En, NoticeKind::Wall) => format!("@{by} wrote on your wall"),
        (Lang::Fr, NoticeKind::Wall) => format!("@{by} a écrit sur votre mur"),
        (Lang::En, NoticeKind::Reminder) => format!("“{}” starts within the hour", n.title),
        (Lang::Fr, NoticeKind::Reminder) => {
            format!("« {} » commence dans moins d'une heure", n.title)
        }
        (Lang::En, NoticeKind::PollClosed) => {
            format!("The poll “{}” has closed: see the results", n.title)
        }
        (Lang::Fr, NoticeKind::PollClosed) => format!(
            "Le sondage « {} » est terminé : voir les résultats",
            n.title
        ),
        (Lang::En, NoticeKind::Event) => format!("@{by} planned “{}”", n.title),
        (Lang::Fr, NoticeKind::Event) => format!("@{by} organise « {} »", n.title),
    }
}

/// `GET /notifications`: newest first; showing them marks them read.
pub(super) async fn notifications_page(State(state): State<AppState>, v: Viewer) -> Response {
    let who = v.who();
    let items = match state.service.notifications(&who, None, 100).await {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    if let Some(newest) = items.first()
        && let Err(e) = state
            .service
            .mark_notifications_read(&who, Some(newest.id))
            .await
    {
        return fail(e);
    }
    let lang = v.lang;
    let t = |k| lang.t(k);
    page(
        lang,
        t("notifications"),
        Some(&v),
        html! {
            div.heading {
                h1 { (t("notifications")) }
                a.button.secondary href="/settings/mail" { (t("mail_settings")) }
            }
            @if items.is_empty() { p.muted { (t("no_notifications")) } }
            ul.notices {
                @for n in &items {
                    @let href = match &n.post {
                        Some(p) => format!("/threads/{}#p-{p}", n.doc),
                        None => format!("/groups/{}", n.doc),
                    };
                    li.card.unread[!n.read] {
                        a href=(href) { (describe(lang, n)) }
                        " "
                        time.meta datetime=(rfc3339(n.at)) { (v.time(n.at)) }
                        @if !n.read { " " span.new { (t("new")) } }
                    }
                }
            }
        },
    )
}

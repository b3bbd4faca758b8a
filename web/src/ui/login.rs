//! Logging in and out. The login form is shown before any session, so its token is a
//! double-submit cookie ([`crate::extract::FormCookie`]); logging out is a form of the
//! session ([`crate::extract::SessionForm`]), allowed whether or not the charter was accepted.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::html;
use serde::Deserialize;

use super::layout::page;
use crate::auth;
use crate::cookies::SameSite;
use crate::extract::{Button, FORM_COOKIE, FormCookie, SessionForm, token_in};
use crate::i18n::Lang;
use crate::state::AppState;

/// The cookie that carries a form's token beside the form, for `path` only, `SameSite=Strict`
/// and for the browser's session (see [`FormCookie`]).
pub(super) fn form_cookie(
    state: &AppState,
    csrf: String,
    path: &'static str,
) -> axum_extra::extract::cookie::Cookie<'static> {
    crate::cookies::cookie(
        FORM_COOKIE,
        csrf,
        path,
        SameSite::Strict,
        None,
        state.secure_cookies,
    )
}

/// The login page (with `error` said above the form), and its form cookie.
fn login_form(state: &AppState, lang: Lang, error: Option<&str>) -> (CookieJar, Response) {
    let csrf = auth::random_token(&state.service).unwrap_or_default();
    let t = |k| lang.t(k);
    let r = page(
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
    (CookieJar::new().add(form_cookie(state, csrf, "/login")), r)
}

/// `GET /login`.
pub(super) async fn login_page(State(state): State<AppState>, lang: Lang) -> impl IntoResponse {
    login_form(&state, lang, None)
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    login: String,
    password: String,
}

/// `POST /login`: on success, the session cookie and the feed; else the form again, with
/// why (401, 429 or 503).
pub(super) async fn login_submit(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    lang: Lang,
    jar: CookieJar,
    FormCookie(f): FormCookie<LoginForm>,
) -> Response {
    let ip = auth::client_ip(Some(addr.ip()), &headers, &state.trusted_proxies);
    let again = |status: StatusCode, key: &str| {
        let mut r = login_form(&state, lang, Some(lang.t(key))).into_response();
        *r.status_mut() = status;
        r
    };
    match auth::authenticate(&state.service, &state.logins, &f.login, f.password, ip).await {
        Ok(employee) => match state.sessions.start(&employee).await {
            Ok(token) => (
                jar.add(auth::session_cookie(token, state.secure_cookies)),
                Redirect::to("/"),
            )
                .into_response(),
            Err(e) => e.into_response(),
        },
        Err(e) if e.status == StatusCode::TOO_MANY_REQUESTS => {
            again(StatusCode::TOO_MANY_REQUESTS, "too_many")
        }
        Err(e) if e.status == StatusCode::SERVICE_UNAVAILABLE => {
            again(StatusCode::SERVICE_UNAVAILABLE, "busy")
        }
        Err(_) => again(StatusCode::UNAUTHORIZED, "bad_login"),
    }
}

/// `POST /logout`: ends the session (its event streams close) and removes its cookie.
pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    SessionForm(_, Button {}): SessionForm<Button>,
) -> Response {
    if let Some(t) = token_in(&headers)
        && let Err(e) = state.sessions.end(&t).await
    {
        return e.into_response();
    }
    (
        jar.add(auth::clear_session_cookie(state.secure_cookies)),
        Redirect::to("/login"),
    )
        .into_response()
}

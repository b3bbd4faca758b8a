//! E-mail in the web layer: the caller's mail settings (`GET`/`PUT /api/v1/me/mail`), a
//! digest on demand (`POST /api/v1/me/mail/digest`), and the one-click unsubscribe links
//! of mails (`/mail/unsubscribe/{token}`, outside the API, without a session: the secret
//! token is the credential). A GET shows a page with a button (link scanners follow GETs);
//! a POST — the button, or a mail client's RFC 8058 one-click request — unsubscribes.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use maud::html;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weft_node::service::{DigestEvery, MailPrefs};

use crate::error::AppError;
use crate::extract::{ApiJson, Me};
use crate::i18n::Lang;
use crate::json::{E401, E415, E422, E429, E503};
use crate::state::{AppState, viewer};

/// The unsubscribe links' routes (outside the API; the API's routes of this module are
/// declared with the others in [`crate::content::routes`]).
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/mail/unsubscribe/{token}",
        get(unsubscribe_page).post(unsubscribe),
    )
}

/// What the caller is sent by e-mail.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = MailSettings)]
pub struct MailJson {
    /// Whether this site sends mail at all (an operator's setting).
    pub sends_mail: bool,
    /// Mentions and posts on one's wall.
    pub mentions: bool,
    /// Posts in threads one follows.
    pub replies: bool,
    /// Invitations, and requests to join groups one owns.
    pub groups: bool,
    /// A digest of what one has not read: `off`, `daily` or `weekly`.
    #[schema(schema_with = digest_values)]
    pub digest: &'static str,
    /// `en` or `fr`; null: the profile's language.
    pub lang: Option<String>,
}

fn digest_values() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    crate::json::one_of(&["off", "daily", "weekly"])
}

fn mail_json(state: &AppState, p: &MailPrefs) -> MailJson {
    MailJson {
        sends_mail: state.service.sends_mail(),
        mentions: p.mentions,
        replies: p.replies,
        groups: p.groups,
        digest: p.digest.as_str(),
        lang: p.lang.clone(),
    }
}

/// Changes to the mail settings (those absent stay as they are).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MailBody {
    mentions: Option<bool>,
    replies: Option<bool>,
    groups: Option<bool>,
    /// `off`, `daily` or `weekly`.
    digest: Option<String>,
    /// `en`, `fr`, or `""` for the profile's language.
    lang: Option<String>,
}

/// The caller's mail settings
///
/// A notification mail is sent only if the notification is still unseen some minutes later
/// (the site's delay); digests at the site's hour in the caller's time zone (weekly ones on
/// Mondays). Every mail has a one-click unsubscribe link.
#[utoipa::path(
    get,
    path = "/me/mail",
    tag = "notifications",
    responses(
        (status = 200, description = "OK", body = MailJson),
        (status = 401, response = E401),
    )
)]
pub(crate) async fn settings(
    State(state): State<AppState>,
    Me(me): Me,
) -> Result<Json<MailJson>, AppError> {
    let p = state.service.mail_prefs(&viewer(&me))?;
    Ok(Json(mail_json(&state, &p)))
}

/// Change the caller's mail settings
#[utoipa::path(
    put,
    path = "/me/mail",
    tag = "notifications",
    request_body = MailBody,
    responses(
        (status = 200, description = "The settings as they are now", body = MailJson),
        (status = 401, response = E401),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn set_settings(
    State(state): State<AppState>,
    Me(me): Me,
    ApiJson(b): ApiJson<MailBody>,
) -> Result<Json<MailJson>, AppError> {
    let v = viewer(&me);
    let mut p = state.service.mail_prefs(&v)?;
    if let Some(x) = b.mentions {
        p.mentions = x;
    }
    if let Some(x) = b.replies {
        p.replies = x;
    }
    if let Some(x) = b.groups {
        p.groups = x;
    }
    if let Some(d) = b.digest {
        p.digest = DigestEvery::parse(&d)
            .ok_or_else(|| AppError::invalid("digest must be off, daily or weekly"))?;
    }
    if let Some(l) = b.lang {
        p.lang = match l.as_str() {
            "" => None,
            "en" | "fr" => Some(l),
            _ => return Err(AppError::invalid("lang must be en, fr or empty")),
        };
    }
    state.service.set_mail_prefs(&v, p.clone()).await?;
    Ok(Json(mail_json(&state, &p)))
}

/// Mail me my digest now
///
/// What the caller has not read in their groups and follows over the last day (week, if
/// they get weekly digests), grouped by group; nothing is sent if there is nothing. 503 if
/// this site sends no mail.
#[utoipa::path(
    post,
    path = "/me/mail/digest",
    tag = "notifications",
    responses(
        (status = 202, description = "Queued"),
        (status = 401, response = E401),
        (status = 429, response = E429),
        (status = 503, response = E503),
    )
)]
pub(crate) async fn digest_now(
    State(state): State<AppState>,
    Me(me): Me,
) -> Result<StatusCode, AppError> {
    state.service.send_digest_now(&viewer(&me)).await?;
    Ok(StatusCode::ACCEPTED)
}

fn valid_token(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `GET /mail/unsubscribe/{token}`: a page with the button that unsubscribes.
async fn unsubscribe_page(lang: Lang, Path(token): Path<String>) -> Response {
    let t = |k| lang.t(k);
    if !valid_token(&token) {
        return StatusCode::NOT_FOUND.into_response();
    }
    crate::ui::bare_page(
        lang,
        t("unsubscribe"),
        html! {
            section.card.narrow {
                h1 { (t("unsubscribe")) }
                p { (t("unsubscribe_intro")) }
                form method="post" action={ "/mail/unsubscribe/" (token) } {
                    button type="submit" { (t("unsubscribe_button")) }
                }
            }
        },
    )
}

/// `POST /mail/unsubscribe/{token}`: every mail of the token's employee turned off (the
/// button, or a mail client's one-click request). 404 for a token that is no one's.
async fn unsubscribe(
    State(state): State<AppState>,
    lang: Lang,
    Path(token): Path<String>,
) -> Response {
    let t = |k| lang.t(k);
    if !valid_token(&token) {
        return StatusCode::NOT_FOUND.into_response();
    }
    match state.service.unsubscribe_mail(&token).await {
        Ok(true) => crate::ui::bare_page(
            lang,
            t("unsubscribe"),
            html! {
                section.card.narrow {
                    h1 { (t("unsubscribed")) }
                    p { (t("unsubscribed_intro")) " " a href="/settings/mail" { (t("mail_settings")) } }
                }
            },
        ),
        Ok(false) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => AppError::from(e).into_response(),
    }
}

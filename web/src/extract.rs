//! Extractors: who is asking, and whether their form is theirs. Handlers name what they need
//! in their arguments and the checks run before the handler does:
//!
//! | extractor | for | when it is missing or wrong |
//! |---|---|---|
//! | [`Session`], [`Me`] | the API: the session behind `Authorization: Bearer` or the session cookie | 401 `unauthenticated` |
//! | [`ApiJson`] | the API: a JSON body | 400, 413, 415 or 422 in the API's error shape |
//! | [`Viewer`] | a page: the logged-in employee who accepted the usage charter, their form token, language and unread count | a redirect to `/login` or `/charter` |
//! | [`SessionViewer`] | the charter page and logging out: the logged-in employee, charter or not | a redirect to `/login` |
//! | [`CsrfForm`] | a form of a page: the [`Viewer`], and the form's `_csrf` field equal to their session's form token | the redirects above, or 403 |
//! | [`SessionForm`] | a form of the charter page or logout: the same with a [`SessionViewer`] | a redirect to `/login`, or 403 |
//! | [`FormCookie`] | the login and setup forms, shown before any session: `_csrf` equal to the `weft_csrf` cookie (double submit) | 403 |
//!
//! Each records the viewer's id in the request's span (see [`crate::trace`]).

use axum::Json;
use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::auth::{self, COOKIE, Session};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::state::AppState;

/// The cookie of the forms shown before any session (login, setup links).
pub const FORM_COOKIE: &str = "weft_csrf";

/// The session token in these headers: `Authorization: Bearer …`, else the session cookie.
pub fn token_in(headers: &HeaderMap) -> Option<String> {
    if let Some(t) = bearer(headers) {
        return Some(t.to_owned());
    }
    CookieJar::from_headers(headers)
        .get(COOKIE)
        .map(|c| c.value().to_owned())
}

/// The token of `Authorization: Bearer <token>`, if the request has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Notes the viewer in the request's span, so that whatever is logged while answering says
/// whose request it was.
fn record_viewer(employee: &str) {
    tracing::Span::current().record("viewer", tracing::field::display(employee));
}

/// The session a request carries, marked used; 401 without a live one.
impl FromRequestParts<AppState> for Session {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Session, AppError> {
        let token = token_in(&parts.headers).ok_or_else(AppError::unauthenticated)?;
        let session = state
            .sessions
            .check(&token)
            .await?
            .ok_or_else(AppError::unauthenticated)?;
        record_viewer(&session.employee);
        Ok(session)
    }
}

/// The logged-in employee (for the API); 401 otherwise.
#[derive(Debug, Clone)]
pub struct Me(pub String);

impl FromRequestParts<AppState> for Me {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Me, AppError> {
        Session::from_request_parts(parts, state)
            .await
            .map(|s| Me(s.employee))
    }
}

/// A JSON body, whose rejections are answered in the API's error shape: 413 when larger than
/// [`crate::MAX_JSON_BODY`], 400 when not JSON, 415 without a JSON content type, 422 when a
/// field is missing or of the wrong type.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => {
                let status = rejection.status();
                let code = match status {
                    StatusCode::PAYLOAD_TOO_LARGE => "too_large",
                    StatusCode::UNPROCESSABLE_ENTITY => "invalid",
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                    _ => "malformed",
                };
                Err(AppError::new(status, code, rejection.body_text()))
            }
        }
    }
}

/// Who is looking at a page: logged in, with the usage charter's current text accepted.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub employee: String,
    /// The token the viewer's forms carry (derived from the session's).
    pub csrf: String,
    pub lang: Lang,
    /// Notifications not read yet (the bell's count).
    pub unread: usize,
    /// Whether the viewer is a community manager (the directory's role).
    pub community_manager: bool,
    /// Threads with reports awaiting the viewer's decision (the moderation link's count).
    pub to_moderate: usize,
    /// The time zone pages show times in: the profile's, else the browser's (the
    /// [`TZ_COOKIE`] cookie `live.js` sets), else UTC.
    pub tz: jiff::tz::TimeZone,
}

/// The cookie that holds the browser's time zone (set by `live.js`).
pub const TZ_COOKIE: &str = "weft_tz";

impl Viewer {
    /// A time as pages show it, in the viewer's time zone.
    pub fn time(&self, ms: i64) -> String {
        crate::time::short_in(ms, &self.tz)
    }

    /// The viewer as the service layer knows them.
    pub fn who(&self) -> weft_node::service::Viewer {
        weft_node::service::Viewer::from(self.employee.as_str())
    }
}

/// The logged-in viewer without the charter check: the charter page itself, and logging out
/// (leaving is always allowed).
#[derive(Debug, Clone)]
pub struct SessionViewer(pub Viewer);

impl FromRequestParts<AppState> for SessionViewer {
    type Rejection = Redirect;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<SessionViewer, Redirect> {
        let login = || Redirect::to("/login");
        let token = token_in(&parts.headers).ok_or_else(login)?;
        let session = state
            .sessions
            .check(&token)
            .await
            .ok()
            .flatten()
            .ok_or_else(login)?;
        record_viewer(&session.employee);
        let jar = CookieJar::from_headers(&parts.headers);
        Ok(SessionViewer(Viewer {
            employee: session.employee,
            csrf: auth::csrf_of(&token),
            lang: Lang::of(&jar, &parts.headers),
            unread: 0,
            community_manager: false,
            to_moderate: 0,
            tz: jar
                .get(TZ_COOKIE)
                .and_then(|c| crate::time::zone(c.value()))
                .unwrap_or(jiff::tz::TimeZone::UTC),
        }))
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Redirect;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Viewer, Redirect> {
        let SessionViewer(mut v) = SessionViewer::from_request_parts(parts, state).await?;
        let me = v.employee.clone();
        let who = crate::state::viewer(&me);
        let unread = state.service.unread_notifications(&who).await.unwrap_or(0);
        let accepted = state
            .service
            .settings(&who)
            .await
            .ok()
            .and_then(|s| s.charter);
        let (locale, tz) = match state.service.profile(&who, &me).await {
            Ok(p) => (p.locale.clone(), p.time_zone.clone()),
            Err(_) => (None, None),
        };
        if let Some(z) = tz.as_deref().and_then(crate::time::zone) {
            v.tz = z;
        }
        // The language: the one picked at the bottom of the page, else the profile's, else
        // the browser's.
        if Lang::chosen(&CookieJar::from_headers(&parts.headers)).is_none()
            && let Some(l) = locale.as_deref().and_then(Lang::parse)
        {
            v.lang = l;
        }
        if let Some(charter) = &state.charter
            && accepted.as_deref() != Some(charter.hash.as_str())
        {
            return Err(Redirect::to("/charter"));
        }
        v.unread = unread;
        (v.community_manager, v.to_moderate) = state.service.moderation_badge(&who);
        Ok(v)
    }
}

/// A form's fields with its token beside them.
#[derive(Deserialize)]
struct WithCsrf<T> {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(flatten)]
    form: T,
}

/// A form with no fields of its own (a button).
#[derive(Debug, Default, Deserialize)]
pub struct Button {}

/// The refusal of a form whose token is not the expected one.
fn bad_token() -> Response {
    (
        StatusCode::FORBIDDEN,
        "invalid form token: reload the page and try again",
    )
        .into_response()
}

/// Reads a form and checks that its `_csrf` field is `expected` (never empty).
async fn checked_form<T: DeserializeOwned>(
    req: Request,
    state: &AppState,
    expected: &str,
) -> Result<T, Response> {
    let Form(f) = Form::<WithCsrf<T>>::from_request(req, state)
        .await
        .map_err(IntoResponse::into_response)?;
    if expected.is_empty() || f.csrf != expected {
        return Err(bad_token());
    }
    Ok(f.form)
}

/// A page's form, sent by its [`Viewer`] with their token. `T` holds the other fields
/// (strings: the form is read through `serde(flatten)`); [`Button`] when there are none.
pub struct CsrfForm<T>(pub Viewer, pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let v = Viewer::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let f = checked_form(Request::from_parts(parts, body), state, &v.csrf).await?;
        Ok(CsrfForm(v, f))
    }
}

/// A form of the charter page or of logging out: a [`SessionViewer`]'s, with their token.
pub struct SessionForm<T>(pub Viewer, pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for SessionForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let SessionViewer(v) = SessionViewer::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let f = checked_form(Request::from_parts(parts, body), state, &v.csrf).await?;
        Ok(SessionForm(v, f))
    }
}

/// A form shown before any session (login, setup links): its `_csrf` field must equal the
/// [`FORM_COOKIE`] cookie set with the form (`SameSite=Strict`, so a page elsewhere cannot
/// have it sent).
pub struct FormCookie<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for FormCookie<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let expected = CookieJar::from_headers(req.headers())
            .get(FORM_COOKIE)
            .map(|c| c.value().to_owned())
            .unwrap_or_default();
        checked_form(req, state, &expected).await.map(FormCookie)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Reply {
        body: String,
        #[serde(default)]
        on: String,
    }

    /// The token is read beside the form's own fields, which need not know of it.
    #[tokio::test]
    async fn a_form_is_read_with_its_token_beside_it() {
        let req = |body: &'static str| {
            axum::http::Request::post("/")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body))
                .unwrap()
        };
        let Form(f) = Form::<WithCsrf<Reply>>::from_request(req("body=a+b%26c&_csrf=t1"), &())
            .await
            .unwrap();
        assert_eq!(f.csrf, "t1");
        assert_eq!(
            f.form,
            Reply {
                body: "a b&c".into(),
                on: String::new()
            }
        );
        let Form(f) = Form::<WithCsrf<Button>>::from_request(req(""), &())
            .await
            .unwrap();
        assert_eq!(f.csrf, "");
    }
}

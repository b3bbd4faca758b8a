//! The OpenAPI 3.1 document of `/api/v1`, served at `/api/v1/openapi.json`. It is derived
//! from the handlers themselves (`#[utoipa::path]`: their doc comments, parameters, bodies
//! and answers) and the JSON shapes of [`crate::json`], so it cannot drift from the code;
//! a test checks that every route the router serves is in it.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::Server;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::json::{E400, E401, E403, E404, E413, E415, E422, E429, E503, ErrorJson};

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Weft node API",
        version = "1",
        description = "Every Weft node serves this API. Times are RFC 3339 UTC; ids are opaque \
strings; lists are {items, next}. Authenticate with `Authorization: Bearer <token>` from \
POST /session (or the session cookie). A write (POST, PUT, PATCH, DELETE) authenticated by the \
session cookie must send `Content-Type: application/json` (a picture upload: its image type), \
else 415 `json_required`; a bearer token needs nothing more. Sessions end after 12 hours \
unused, 7 days after login, at logout, and when the employee's password is set again or the \
directory says they left or moved; `/events` streams end with their session. Writes are \
answered once they are durable on this node; each employee has a write budget (429 with \
`Retry-After` beyond it). A private or secret group the caller may not see answers 404, \
never 403."
    ),
    paths(
        crate::api::login,
        crate::api::logout,
        crate::api::me,
        crate::api::update_profile,
        crate::api::person,
        crate::api::list_groups,
        crate::api::create_group,
        crate::api::group,
        crate::api::add_member,
        crate::api::remove_member,
        crate::api::list_threads,
        crate::api::create_thread,
        crate::api::thread,
        crate::api::create_post,
        crate::api::edit_post,
        crate::api::delete_post,
        crate::api::react_on,
        crate::api::react_off,
        crate::api::events,
        crate::api::search,
        crate::content::create_poll,
        crate::content::poll,
        crate::content::vote,
        crate::content::create_event,
        crate::content::event,
        crate::content::edit_event,
        crate::content::rsvp,
        crate::content::group_events,
        crate::content::group_calendar,
        crate::content::my_events,
        crate::content::my_calendar,
        crate::content::reset_calendar,
        crate::atom::my_feeds,
        crate::following::feeds,
        crate::following::follow,
        crate::following::unfollow,
        crate::following::refresh,
        crate::library::library,
        crate::library::add_document,
        crate::library::document,
        crate::library::new_version,
        crate::library::restore_version,
        crate::library::move_document,
        crate::atom::reset_feeds,
        crate::content::wall,
        crate::content::write_on_wall,
        crate::content::hide_post,
        crate::mail::settings,
        crate::mail::set_settings,
        crate::mail::digest_now,
        crate::analytics::analytics,
        crate::analytics::analytics_csv,
        crate::analytics::publish,
        crate::community::update_group,
        crate::community::make_owner,
        crate::community::report,
        crate::community::withdraw_report,
        crate::community::queue,
        crate::community::mark,
        crate::community::merge,
        crate::community::similar,
        crate::community::duplicates,
        crate::content::best_answer,
        crate::content::pin,
        crate::content::announce,
        crate::content::announcements,
        crate::content::dismiss,
        crate::content::bookmark_on,
        crate::content::bookmark_off,
        crate::content::bookmarks,
        crate::content::directory,
        crate::files::upload,
        crate::files::download,
        crate::personal::feed,
        crate::personal::feed_read,
        crate::personal::notifications,
        crate::personal::notifications_read,
        crate::personal::follow_thread,
        crate::personal::unfollow_thread,
        crate::personal::people,
        crate::personal::follow_person,
        crate::personal::unfollow_person,
        crate::personal::photo,
        crate::personal::set_photo,
        crate::personal::remove_photo,
        crate::ops::node_info,
        serve,
    ),
    components(responses(E400, E401, E403, E404, E413, E415, E422, E429, E503)),
    modifiers(&Security),
    security(("bearer" = []), ("session_cookie" = [])),
    tags(
        (name = "session", description = "Logging in and out"),
        (name = "people", description = "The caller, people, profiles and pictures"),
        (name = "groups", description = "Groups and their members"),
        (name = "threads", description = "Threads, posts, reactions, follows"),
        (name = "feed", description = "The caller's home feed"),
        (name = "notifications", description = "The caller's notifications"),
        (name = "polls", description = "Polls and votes"),
        (name = "walls", description = "Walls: what colleagues write on a profile"),
        (name = "announcements", description = "Announcements above the feeds"),
        (name = "bookmarks", description = "The caller's bookmarks"),
        (name = "files", description = "Files: upload, and download with ranges"),
        (name = "agenda", description = "Events, answers and agendas (JSON and iCalendar)"),
        (name = "library", description = "Groups' document libraries: folders, documents, versions"),
        (name = "feeds", description = "The caller's feed token: Atom feeds of groups, topics and people are served at `/feeds/…` outside the API"),
        (name = "moderation", description = "Community management: reports and the moderation queue, hiding posts, official and outdated marks, likely duplicate and merged groups"),
        (name = "search", description = "Search"),
        (name = "events", description = "Live events"),
        (name = "operations", description = "For operators and tools"),
    ),
)]
pub struct ApiDoc;

/// The security schemes and the base path.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::COOKIE,
                "the session cookie the UI's login sets (writes with it must be JSON)",
            ))),
        );
        c.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("the operator's `metrics_token` (configuration)"))
                    .build(),
            ),
        );
        doc.servers = Some(vec![Server::new("/api/v1")]);
    }
}

/// The document, as JSON.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    // The error shape is named by the responses above, not by a handler's type.
    let c = doc.components.get_or_insert_with(Default::default);
    c.schemas.insert(
        "ErrorJson".to_owned(),
        <ErrorJson as utoipa::PartialSchema>::schema(),
    );
    c.schemas.insert(
        "ErrorBody".to_owned(),
        <crate::json::ErrorBody as utoipa::PartialSchema>::schema(),
    );
    doc
}

/// This document
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    security(()),
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json"))
)]
pub(crate) async fn serve() -> impl IntoResponse {
    // Built once: it depends on nothing but the code.
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| serde_json::to_string(&document()).unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], json.as_str())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeSet;

    /// Every route under `/api/v1` that the router serves, with every method, is described
    /// in the OpenAPI document, and nothing else is; every operation has a summary, every
    /// schema it names exists, and the document is OpenAPI 3.1.
    #[test]
    fn openapi_describes_every_api_route() {
        let doc = serde_json::to_value(super::document()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut described = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                described.insert(format!("{} {path}", method.to_uppercase()));
                assert!(
                    op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                    "{method} {path} has no summary"
                );
            }
        }
        // The routes as the router declares them: `.route("/path", get(a).post(b))`.
        let sources = concat!(
            include_str!("api.rs"),
            include_str!("personal.rs"),
            include_str!("content.rs"),
            include_str!("files.rs")
        );
        let mut served = BTreeSet::new();
        for rest in sources.split(".route(").skip(1) {
            // The arguments of this `.route(`, up to its closing parenthesis.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(rest.len(), |(i, _)| i);
            let args = &rest[..end];
            let Some(path) = args
                .trim_start()
                .strip_prefix('"')
                .and_then(|r| r.split('"').next())
            else {
                continue;
            };
            for m in ["get", "post", "put", "patch", "delete"] {
                let called = args.match_indices(&format!("{m}(")).any(|(i, _)| {
                    !args[..i]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if called {
                    served.insert(format!("{} {path}", m.to_uppercase()));
                }
            }
        }
        served.insert("GET /node".into());
        served.insert("GET /openapi.json".into());
        assert!(served.len() > 30, "found only {} routes", served.len());
        assert_eq!(
            served, described,
            "the router's routes and the document's differ"
        );
        let text = doc.to_string();
        for name in text
            .split("\"#/components/schemas/")
            .skip(1)
            .filter_map(|s| s.split('"').next())
        {
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{name} is named but not described"
            );
        }
    }
}

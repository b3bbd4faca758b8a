//! Finding things: the search page (posts, groups and people the viewer may see) and a
//! topic's page (posts with a #topic, from the search index and the read models).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{PreEscaped, html};
use serde::Deserialize;

use super::layout::{page, thread_card};
use crate::extract::Viewer;
use crate::params::search_query;
use crate::state::AppState;

/// `GET /topics/{topic}`: posts about a topic, in the threads the viewer may read, newest
/// first.
pub(super) async fn topic_page(
    State(state): State<AppState>,
    v: Viewer,
    Path(topic): Path<String>,
) -> Response {
    let lang = v.lang;
    let wanted = topic.to_lowercase();
    // From the search index and the read models: a topic page reads no thread.
    let threads = state
        .service
        .threads_about(&v.who(), &wanted)
        .await
        .unwrap_or_default();
    let title = format!("#{wanted}");
    page(
        lang,
        &title,
        Some(&v),
        html! {
            h1 { (title) }
            @if threads.is_empty() { p.muted { (lang.t("topic_empty")) } }
            @for (t, g) in &threads { (thread_card(&v, t, Some(g), false)) }
        },
    )
}

#[derive(Deserialize)]
pub(super) struct SearchForm {
    #[serde(default)]
    q: String,
}

/// `GET /search?q=`: words and "phrases" only; a search beyond the limits says so (400),
/// whatever it holds.
pub(super) async fn search_page(
    State(state): State<AppState>,
    v: Viewer,
    Query(f): Query<SearchForm>,
) -> Response {
    let lang = v.lang;
    let q = f.q.trim().to_owned();
    // Words and "phrases" only; a search beyond the limits says so (400), whatever it holds.
    let query = search_query(&q);
    let refused = query.as_ref().err().map(|e| e.message.clone());
    let results = match query {
        Ok(query) if !query.is_empty() => state
            .service
            .search(&v.who(), &query, None, 30)
            .await
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let t = |k| lang.t(k);
    let mut r = page(
        lang,
        t("search"),
        Some(&v),
        html! {
            h1 { (t("search")) }
            form.card method="get" action="/search" role="search" {
                label for="q2" { (t("search_hint")) }
                input id="q2" name="q" type="search" value=(q);
                button type="submit" { (t("search")) }
            }
            @if let Some(why) = &refused { p.error role="alert" { (why) } }
            @else if !q.is_empty() && results.is_empty() { p.muted { (t("no_results")) } }
            @for r in &results {
                @let (href, label) = match r.hit.kind {
                    weft_node::service::HitKind::Post => (
                        format!("/threads/{}#p-{}", r.hit.id, r.hit.post.clone().unwrap_or_default()),
                        t("post_kind"),
                    ),
                    weft_node::service::HitKind::Group => (format!("/groups/{}", r.hit.id), t("group_kind")),
                    weft_node::service::HitKind::Person => (format!("/people/{}", r.hit.id), t("person_kind")),
                };
                article.card {
                    p.meta { (label) }
                    h3 { (super::community::mark_badge(lang, r.mark)) a href=(href) { (r.context) } }
                    // tantivy escapes the excerpt; only its <b> marks are markup.
                    p { (PreEscaped(&r.hit.snippet_html)) }
                }
            }
        },
    );
    if refused.is_some() {
        *r.status_mut() = StatusCode::BAD_REQUEST;
    }
    r
}

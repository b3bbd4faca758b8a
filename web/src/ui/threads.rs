//! Threads: starting one in a group, reading one (which marks it read), replying, liking.
//! Editing and deleting one's posts and following are in [`super::manage`].

use axum::extract::{Path, State};
use axum::response::Response;
use std::collections::BTreeMap;

use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use weft_node::NodeError;
use weft_node::crdt::{DocId, DocKind, NewPoll, PostView};
use weft_node::service::PollResults;

use super::layout::{doc_form, live_page, not_found};
use crate::extract::{Button, CsrfForm, Viewer};
use crate::i18n::Lang;
use crate::markdown;
use crate::params::doc_id;
use crate::state::AppState;
use crate::time::rfc3339;

#[derive(Deserialize)]
pub(super) struct ThreadForm {
    title: String,
    body: String,
    /// A question thread (a checkbox).
    question: Option<String>,
    /// The ids of the files the upload script stored, space-separated.
    #[serde(default)]
    attachments: String,
    #[serde(flatten)]
    poll: PollForm,
}

/// The file ids of a form's `attachments` field.
pub(super) fn file_ids(field: &str) -> Vec<String> {
    field.split_whitespace().map(str::to_owned).collect()
}

/// The file field of a post's form: hidden until `upload.js` runs (which uploads each file
/// as it is picked and fills `attachments`).
pub(super) fn files_field(lang: Lang, id: &str) -> Markup {
    html! {
        div.files data-upload hidden data-uploading=(lang.t("uploading"))
            data-remove=(lang.t("remove")) data-failed=(lang.t("upload_failed")) {
            label for=(id) { (lang.t("attach_files")) }
            input type="file" id=(id) multiple;
            input type="hidden" name="attachments" value="";
            ul.uploads aria-live="polite" {}
        }
    }
}

/// A size in bytes for people.
pub(super) fn human_size(n: u64) -> String {
    match n {
        n if n < 1024 => format!("{n} B"),
        n if n < 1024 * 1024 => format!("{} KB", n / 1024),
        n if n < 1024 * 1024 * 1024 => format!("{:.1} MB", n as f64 / 1048576.0),
        n => format!("{:.2} GB", n as f64 / 1073741824.0),
    }
}

/// A post's files: photos as their thumbnails (opening the photo), videos and sounds as
/// players streamed from this node (ranges), other files as links to download.
pub(super) fn attachments_view(lang: Lang, p: &PostView) -> Markup {
    if p.attachments.is_empty() {
        return html! {};
    }
    html! {
        div.attachments role="group" aria-label=(lang.t("attachments")) {
            @for a in &p.attachments {
                @let url = format!("/api/v1/files/{}", a.hash);
                @let kind = a.media_type.as_str();
                @if let Some((thumb, _, _)) = &a.thumbnail {
                    a.photo href=(url) {
                        img src={ "/api/v1/files/" (thumb) } alt=(a.name) loading="lazy";
                    }
                } @else if kind.starts_with("video/") {
                    figure.media {
                        video controls preload="metadata" src=(url) poster="/static/poster.svg" {
                            a href=(url) { (a.name) }
                        }
                        figcaption { (a.name) " · " (human_size(a.size)) }
                    }
                } @else if kind.starts_with("audio/") {
                    figure.media {
                        audio controls preload="metadata" src=(url) { a href=(url) { (a.name) } }
                        figcaption { (a.name) " · " (human_size(a.size)) }
                    }
                } @else {
                    a.file href=(url) download=(a.name) title=(lang.t("download")) {
                        span.icon aria-hidden="true" { "⬇" }
                        (a.name) " · " (human_size(a.size))
                    }
                }
            }
        }
    }
}

/// The poll fields of a post's form (all optional: no question, no poll).
#[derive(Deserialize, Default)]
pub(super) struct PollForm {
    #[serde(default)]
    poll_question: String,
    /// One option per line.
    #[serde(default)]
    poll_options: String,
    poll_multiple: Option<String>,
    poll_after: Option<String>,
    /// Hours until it closes; empty: never.
    #[serde(default)]
    poll_hours: String,
}

impl PollForm {
    /// The poll asked for, if any, closing `poll_hours` after `now`.
    fn poll(&self, now: i64) -> Result<Option<NewPoll>, NodeError> {
        if self.poll_question.trim().is_empty() {
            return Ok(None);
        }
        let hours: Option<i64> = match self.poll_hours.trim() {
            "" => None,
            h => Some(
                h.parse()
                    .ok()
                    .filter(|h| (1..=24 * 365).contains(h))
                    .ok_or_else(|| {
                        NodeError::Invalid("the poll's duration is not a number of hours".into())
                    })?,
            ),
        };
        Ok(Some(NewPoll {
            question: self.poll_question.clone(),
            options: self
                .poll_options
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            multiple: self.poll_multiple.is_some(),
            closes_at: hours.map(|h| now + h * 3_600_000),
            results_after_vote: self.poll_after.is_some(),
        }))
    }
}

/// The fields that add a poll to a post's form, folded away until opened.
pub(super) fn poll_fields(lang: Lang) -> Markup {
    let t = |k| lang.t(k);
    html! {
        details.poll-fields {
            summary { (t("add_poll")) }
            label for="pquestion" { (t("poll_question")) }
            input id="pquestion" name="poll_question" maxlength="300";
            label for="poptions" { (t("poll_options")) }
            textarea id="poptions" name="poll_options" rows="4" {}
            label.choice { input type="checkbox" name="poll_multiple" value="1"; " " (t("poll_multiple")) }
            label.choice { input type="checkbox" name="poll_after" value="1"; " " (t("poll_after")) }
            label for="phours" { (t("poll_closes")) }
            select id="phours" name="poll_hours" {
                option value="" { (t("poll_never")) }
                option value="24" { (t("poll_1d")) }
                option value="72" { (t("poll_3d")) }
                option value="168" { (t("poll_1w")) }
            }
        }
    }
}

/// A post's poll: a form to vote while it is open, the counts when the viewer may see them.
fn poll_section(lang: Lang, v: &Viewer, thread: &DocId, post: &PostView, now: i64) -> Markup {
    let t = |k| lang.t(k);
    let Some(poll) = post.poll.as_ref() else {
        return html! {};
    };
    let r = PollResults::of(poll, &post.author, &v.employee, now);
    let total: usize = poll.votes.values().map(Vec::len).sum();
    let kind = if poll.multiple { "checkbox" } else { "radio" };
    html! {
        section.poll aria-label=(t("poll")) {
            h3 { (poll.question) }
            p.meta {
                @if poll.multiple { (t("poll_several")) } @else { (t("poll_one")) }
                " · " (r.voters) " " (t("voters"))
                @if let Some(c) = poll.closes_at {
                    " · " @if r.closed { (t("poll_closed")) } @else { (t("poll_closes_at")) }
                    " " time datetime=(rfc3339(c)) { (v.time(c)) }
                }
            }
            form method="post" action={ "/threads/" (thread) "/vote/" (post.id) } {
                input type="hidden" name="_csrf" value=(v.csrf);
                ul.options {
                    @for (id, label) in &poll.options {
                        @let n = r.count(id);
                        @let chosen = r.mine.contains(id);
                        li.chosen[chosen] {
                            label {
                                @if !r.closed {
                                    @if poll.multiple {
                                        input type=(kind) name={ "opt_" (id) } value="1" checked[chosen];
                                    } @else {
                                        input type=(kind) name="choice" value=(id) checked[chosen];
                                    }
                                    " "
                                }
                                (label)
                                @if let Some(n) = n { " " span.count { "(" (n) ")" } }
                            }
                            @if let Some(n) = n {
                                meter min="0" max=(total.max(1)) value=(n) {}
                            }
                        }
                    }
                }
                @if !r.visible { p.muted { (t("poll_results_after")) } }
                @if !r.closed {
                    button type="submit" { @if r.mine.is_empty() { (t("vote")) } @else { (t("change_vote")) } }
                }
            }
        }
    }
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
        move |s, me, g| async move {
            let files = file_ids(&f.attachments);
            s.own_uploads(&me, &files)?;
            let t = match f.poll.poll(s.now_ms())? {
                Some(p) => s.create_poll(&me, &g, &f.title, &f.body, p).await?,
                None if f.question.is_some() => s.ask(&me, &g, &f.title, &f.body).await?,
                None => s.create_thread(&me, &g, &f.title, &f.body).await?,
            };
            if !files.is_empty() {
                let root = s.thread(&me, &t).await?.posts[0].id.clone();
                s.attach(&me, &t, &root, &files).await?;
            }
            Ok(t)
        },
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
    let (moderator, bookmarked) = (page.moderator, page.bookmarked);
    let charter = state.charter.is_some();
    let tr = |k| lang.t(k);
    let live = t.id.to_string();
    let now = state.service.now_ms();
    live_page(
        lang,
        &t.title,
        Some(&v),
        html! {
            p.meta {
                @if let Some(owner) = &t.wall_of {
                    (tr("wall_of")) " " a href={ "/people/" (owner) "#wall" } { "@" (owner) }
                } @else {
                    a href={ "/groups/" (t.group) } { (group) }
                }
            }
            div.heading {
                h1 {
                    @if t.pinned { span.badge.pin { (tr("pinned")) } " " }
                    @if t.question { span.badge.question { (tr("question")) } " " }
                    @if t.announcement.is_some() { span.badge.question { (tr("announcement")) } " " }
                    (super::community::mark_badge(lang, t.mark))
                    (t.title)
                }
                (super::community::mark_controls(&v, &t))
                form method="post" action={ "/threads/" (t.id) "/follow" } {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    input type="hidden" name="on" value=(if following { "0" } else { "1" });
                    button.secondary type="submit" aria-pressed=(following) {
                        @if following { (tr("unfollow")) } @else { (tr("follow")) }
                    }
                }
            }
            @for (i, p) in t.posts.iter().enumerate() {
                @let first = i == 0;
                article.post.best[t.best_answer.as_deref() == Some(p.id.as_str())] id={ "p-" (p.id) } {
                    p.meta {
                        a href={ "/people/" (p.author) } { "@" (p.author) }
                        " · " time datetime=(rfc3339(p.created_at)) { (v.time(p.created_at)) }
                        @if p.edited_at.is_some() && !p.deleted { " · " (tr("edited")) }
                    }
                    @if p.deleted { p.muted { (tr("deleted")) } }
                    @else if p.hidden && !(moderator || p.author == v.employee) { p.muted { (tr("hidden")) } }
                    @else {
                        @if p.hidden { p.muted { (tr("hidden")) } }
                        @if let Some(e) = &p.event {
                            (super::events::event_card(&v, &t.id, &p.author, e))
                        }
                        div.body { (PreEscaped(markdown::render(&p.body))) }
                        (attachments_view(lang, p))
                        (poll_section(lang, &v, &t.id, p, now))
                    }
                    @if t.best_answer.as_deref() == Some(p.id.as_str()) {
                        p.best { strong { (tr("best_answer")) } }
                    }
                    @if !p.deleted && !p.hidden { (super::social::reactions_bar(&v, &t.id, p)) }
                    (super::social::post_actions(&v, &t, p, first, moderator, bookmarked.contains(&p.id)))
                    (super::community::post_moderation(&v, &t, p, moderator, charter))
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
                    (files_field(lang, "rfiles"))
                    (poll_fields(lang))
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
    #[serde(default)]
    attachments: String,
    #[serde(flatten)]
    poll: PollForm,
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
        move |s, me, t| async move {
            let files = file_ids(&f.attachments);
            s.own_uploads(&me, &files)?;
            let p = match f.poll.poll(s.now_ms())? {
                Some(p) => s.reply_with_poll(&me, &t, &f.body, None, p).await?,
                None => s.reply(&me, &t, &f.body, None).await?,
            };
            s.attach(&me, &t, &p, &files).await?;
            Ok(p)
        },
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

/// `POST /threads/{id}/vote/{post}`: sets the viewer's vote (`choice` for a single-choice
/// poll, an `opt_<id>` box per option of a multiple-choice one).
pub(super) async fn post_vote(
    State(state): State<AppState>,
    Path((id, post)): Path<(String, String)>,
    CsrfForm(v, f): CsrfForm<BTreeMap<String, String>>,
) -> Response {
    let p2 = post.clone();
    let options: Vec<String> = f
        .iter()
        .filter_map(|(k, val)| match k.strip_prefix("opt_") {
            Some(id) => Some(id.to_owned()),
            None => (k == "choice").then(|| val.clone()),
        })
        .take(weft_node::crdt::MAX_POLL_OPTIONS + 1)
        .collect();
    doc_form(
        &state,
        &v,
        (&id, DocKind::Thread),
        move |s, me, t| async move { s.vote(&me, &t, &p2, options).await.map(|_| ()) },
        |t, ()| format!("/threads/{t}#p-{post}"),
    )
    .await
}

//! Community management in the pages: reporting a post (with the usage charter linked),
//! hiding or showing one with a reason, the moderation queue, official and outdated marks,
//! likely duplicate groups (when creating one, and for community managers) and merging.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use weft_node::crdt::{DocKind, PostView, ThreadMark, ThreadView};
use weft_node::service::GroupCard;

use super::layout::{doc_form, fail, not_found, page};
use crate::extract::{CsrfForm, Viewer};
use crate::i18n::Lang;
use crate::markdown;
use crate::params::doc_id;
use crate::state::AppState;
use crate::time::rfc3339;

/// A thread's mark as a badge.
pub(super) fn mark_badge(lang: Lang, mark: Option<ThreadMark>) -> Markup {
    html! {
        @match mark {
            Some(ThreadMark::Official) => { span.badge.official { (lang.t("official")) } " " }
            Some(ThreadMark::Outdated) => { span.badge.outdated { (lang.t("outdated")) } " " }
            None => {}
        }
    }
}

/// The community manager's buttons marking a thread official or outdated, or clearing it.
pub(super) fn mark_controls(v: &Viewer, t: &ThreadView) -> Markup {
    let tr = |k| v.lang.t(k);
    html! {
        @if v.community_manager {
            form.inline.marks method="post" action={ "/threads/" (t.id) "/mark" } {
                input type="hidden" name="_csrf" value=(v.csrf);
                @for (value, key, on) in [
                    ("official", "mark_official", t.mark == Some(ThreadMark::Official)),
                    ("outdated", "mark_outdated", t.mark == Some(ThreadMark::Outdated)),
                ] {
                    button.link type="submit" name="mark" value=(if on { "" } else { value }) aria-pressed=(on) {
                        (tr(key))
                    }
                    " "
                }
            }
        }
    }
}

/// Under a post: its author is told why it was hidden; others may report it (the charter
/// linked); moderators hide it with a reason or show it again.
pub(super) fn post_moderation(
    v: &Viewer,
    t: &ThreadView,
    p: &PostView,
    moderator: bool,
    charter: bool,
) -> Markup {
    let tr = |k| v.lang.t(k);
    let mine = p.author == v.employee;
    let reported = t
        .reports
        .iter()
        .any(|r| r.post == p.id && r.by == v.employee);
    let open = t.open_reports().filter(|r| r.post == p.id).count();
    html! {
        @if p.hidden && (mine || moderator) {
            @if let Some(m) = p.moderated.as_ref().filter(|m| !m.reason.is_empty()) {
                p.notice.moderation { strong { (tr("hidden_reason")) } " " (m.reason) }
            }
        }
        @if !p.deleted {
            div.moderation {
                @if !mine && !p.hidden {
                    @if reported {
                        form.inline method="post" action={ "/threads/" (t.id) "/report/" (p.id) } {
                            input type="hidden" name="_csrf" value=(v.csrf);
                            input type="hidden" name="withdraw" value="1";
                            span.muted { (tr("you_reported")) } " "
                            button.link type="submit" { (tr("withdraw_report")) }
                        }
                    } @else {
                        details.report {
                            summary { (tr("report")) }
                            form method="post" action={ "/threads/" (t.id) "/report/" (p.id) } {
                                input type="hidden" name="_csrf" value=(v.csrf);
                                label for={ "reason-" (p.id) } { (tr("report_reason")) }
                                textarea id={ "reason-" (p.id) } name="reason" rows="2" required maxlength="1000" {}
                                @if charter {
                                    p.muted { a href="/charter" target="_blank" { (tr("charter_read")) } }
                                }
                                button type="submit" { (tr("report_send")) }
                            }
                        }
                    }
                }
                @if moderator && t.wall_of.is_none() {
                    @if open > 0 { " " span.badge.reports { (open) " " (tr("reports_open")) } }
                    details.hide {
                        summary { @if p.hidden { (tr("show_again")) } @else { (tr("hide")) } }
                        form method="post" action={ "/threads/" (t.id) "/moderate/" (p.id) } {
                            input type="hidden" name="_csrf" value=(v.csrf);
                            input type="hidden" name="hidden" value=(if p.hidden { "0" } else { "1" });
                            label for={ "why-" (p.id) } { (tr("moderation_reason")) }
                            input id={ "why-" (p.id) } name="reason" maxlength="1000" required[!p.hidden];
                            button type="submit" { @if p.hidden { (tr("show_again")) } @else { (tr("hide")) } }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ReportForm {
    #[serde(default)]
    reason: String,
    /// Set: withdraws the viewer's report.
    #[serde(default)]
    withdraw: String,
}

/// `POST /threads/{id}/report/{post}`: reports a post, or withdraws the report.
pub(super) async fn report_submit(
    State(state): State<AppState>,
    Path((id, post)): Path<(String, String)>,
    CsrfForm(v, f): CsrfForm<ReportForm>,
) -> Response {
    let p = post.clone();
    doc_form(
        &state,
        &v,
        (&id, DocKind::Thread),
        move |s, me, t| async move {
            let reason = (f.withdraw.is_empty()).then_some(f.reason.as_str());
            s.report(&me, &t, &p, reason).await
        },
        move |t, ()| format!("/threads/{t}#p-{post}"),
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct ModerateForm {
    /// `1` hides, `0` shows again.
    hidden: String,
    #[serde(default)]
    reason: String,
    /// `queue`: back to the moderation queue.
    #[serde(default)]
    back: String,
}

/// `POST /threads/{id}/moderate/{post}`: hides a post with a reason, or shows it again.
pub(super) async fn moderate_submit(
    State(state): State<AppState>,
    Path((id, post)): Path<(String, String)>,
    CsrfForm(v, f): CsrfForm<ModerateForm>,
) -> Response {
    let p = post.clone();
    let queue = f.back == "queue";
    doc_form(
        &state,
        &v,
        (&id, DocKind::Thread),
        move |s, me, t| async move { s.moderate(&me, &t, &p, f.hidden == "1", &f.reason).await },
        move |t, ()| {
            if queue {
                "/moderation".to_owned()
            } else {
                format!("/threads/{t}#p-{post}")
            }
        },
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct MarkForm {
    /// `official`, `outdated`, or empty to clear.
    #[serde(default)]
    mark: String,
}

/// `POST /threads/{id}/mark`: a community manager marks a thread or document.
pub(super) async fn mark_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, f): CsrfForm<MarkForm>,
) -> Response {
    let mark = ThreadMark::parse(&f.mark);
    if mark.is_none() && !f.mark.is_empty() {
        return fail(crate::error::AppError::invalid("unknown mark"));
    }
    doc_form(
        &state,
        &v,
        (&id, DocKind::Thread),
        move |s, me, t| async move {
            let library = s.thread(&me, &t).await?.library.is_some();
            s.mark_thread(&me, &t, mark).await.map(|()| library)
        },
        |t, library| {
            if library {
                format!("/documents/{t}")
            } else {
                format!("/threads/{t}")
            }
        },
    )
    .await
}

/// `GET /moderation`: the reported posts awaiting the viewer's decision.
pub(super) async fn queue_page(State(state): State<AppState>, v: Viewer) -> Response {
    let queue = match state.service.moderation_queue(&v.who()).await {
        Ok(q) => q,
        Err(e) => return fail(e),
    };
    let lang = v.lang;
    let tr = |k| lang.t(k);
    let charter = state.charter.is_some();
    page(
        lang,
        tr("moderation"),
        Some(&v),
        html! {
            div.heading {
                h1 { (tr("moderation")) }
                @if v.community_manager {
                    a.button.secondary href="/moderation/duplicates" { (tr("duplicates")) }
                }
            }
            p.muted {
                (tr("moderation_intro"))
                @if charter { " " a href="/charter" { (tr("charter_read")) } }
            }
            @if queue.is_empty() { p.empty { (tr("queue_empty")) } }
            @for r in &queue {
                article.post.reported id={ "q-" (r.post.id) } {
                    p.meta {
                        a href={ "/groups/" (r.thread.group) } { (r.group_name) } " · "
                        a href={ "/threads/" (r.thread.id) "#p-" (r.post.id) } { (r.thread.title) } " · "
                        a href={ "/people/" (r.post.author) } { "@" (r.post.author) } " · "
                        time datetime=(rfc3339(r.post.created_at)) { (v.time(r.post.created_at)) }
                    }
                    div.body { (PreEscaped(markdown::render(&r.post.body))) }
                    ul.reports {
                        @for x in &r.reports {
                            li {
                                a href={ "/people/" (x.by) } { "@" (x.by) } " · "
                                time datetime=(rfc3339(x.at)) { (v.time(x.at)) } " — "
                                q { (x.reason) }
                            }
                        }
                    }
                    div.decide {
                        form method="post" action={ "/threads/" (r.thread.id) "/moderate/" (r.post.id) } {
                            input type="hidden" name="_csrf" value=(v.csrf);
                            input type="hidden" name="hidden" value="1";
                            input type="hidden" name="back" value="queue";
                            label for={ "why-" (r.post.id) } { (tr("moderation_reason")) }
                            input id={ "why-" (r.post.id) } name="reason" maxlength="1000" required;
                            button type="submit" { (tr("hide")) }
                        }
                        form method="post" action={ "/threads/" (r.thread.id) "/moderate/" (r.post.id) } {
                            input type="hidden" name="_csrf" value=(v.csrf);
                            input type="hidden" name="hidden" value="0";
                            input type="hidden" name="back" value="queue";
                            input type="hidden" name="reason" value=(tr("kept_reason"));
                            button.secondary type="submit" { (tr("keep")) }
                        }
                    }
                }
            }
        },
    )
}

/// A group in a suggestion or a pair.
fn card(lang: Lang, c: &GroupCard) -> Markup {
    let tr = |k| lang.t(k);
    html! {
        h3 { a href={ "/groups/" (c.id) } { (c.name) } }
        p.meta { (c.home_site) " · " (c.members) " " (tr("members").to_lowercase()) @if c.member { " · " (tr("you_member")) } }
        @if !c.description.is_empty() { p { (c.description) } }
    }
}

/// The groups like the one about to be created, shown before it is: join one instead, or
/// create it anyway (the form's fields carried over).
pub(super) fn similar_page(
    v: &Viewer,
    similar: &[GroupCard],
    (name, description, visibility): (&str, &str, &str),
) -> Response {
    let lang = v.lang;
    let tr = |k| lang.t(k);
    page(
        lang,
        tr("similar_groups"),
        Some(v),
        html! {
            h1 { (tr("similar_groups")) }
            p { (tr("similar_intro")) }
            ul.grid.similar {
                @for c in similar {
                    li.card {
                        (card(lang, c))
                        @if !c.member {
                            form method="post" action={ "/groups/" (c.id) "/join" } {
                                input type="hidden" name="_csrf" value=(v.csrf);
                                button type="submit" { (tr("join_instead")) }
                            }
                        }
                    }
                }
            }
            section.card {
                form method="post" action="/groups" {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    input type="hidden" name="name" value=(name);
                    input type="hidden" name="description" value=(description);
                    input type="hidden" name="visibility" value=(visibility);
                    input type="hidden" name="confirm" value="1";
                    p { strong { (name) } }
                    button.secondary type="submit" { (tr("create_anyway")) }
                }
            }
        },
    )
}

/// `GET /moderation/duplicates`: likely duplicate groups (community managers), each pair
/// with the buttons that merge one into the other.
pub(super) async fn duplicates_page(State(state): State<AppState>, v: Viewer) -> Response {
    let pairs = match state.service.duplicate_groups(&v.who()) {
        Ok(p) => p,
        Err(_) => return not_found(&v),
    };
    let lang = v.lang;
    let tr = |k| lang.t(k);
    let merge = |from: &GroupCard, into: &GroupCard| {
        html! {
            form.inline method="post" action={ "/groups/" (from.id) "/merge" } {
                input type="hidden" name="_csrf" value=(v.csrf);
                input type="hidden" name="into" value=(into.id);
                button.secondary type="submit" { (tr("merge_into")) " " (into.name) " (" (into.home_site) ")" }
            }
        }
    };
    page(
        lang,
        tr("duplicates"),
        Some(&v),
        html! {
            h1 { (tr("duplicates")) }
            p.muted { (tr("duplicates_intro")) }
            @if pairs.is_empty() { p.empty { (tr("no_duplicates")) } }
            @for (a, b) in &pairs {
                section.card.pair {
                    div.grid {
                        div { (card(lang, a)) (merge(b, a)) }
                        div { (card(lang, b)) (merge(a, b)) }
                    }
                }
            }
        },
    )
}

#[derive(Deserialize)]
pub(super) struct MergeForm {
    /// The group to send people to; empty undoes the merge.
    #[serde(default)]
    into: String,
}

/// `POST /groups/{id}/merge`: a community manager merges the group into another.
pub(super) async fn merge_submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, f): CsrfForm<MergeForm>,
) -> Response {
    let into = if f.into.is_empty() {
        None
    } else {
        match doc_id(&f.into, DocKind::Group) {
            Ok(g) => Some(g),
            Err(_) => return not_found(&v),
        }
    };
    doc_form(
        &state,
        &v,
        (&id, DocKind::Group),
        move |s, me, g| async move { s.merge_group(&me, &g, into.as_ref()).await },
        |g, ()| format!("/groups/{g}"),
    )
    .await
}

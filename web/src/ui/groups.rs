//! Groups: the list of those the viewer may see (with a name filter) and the form to create
//! one; a group's page (its threads, members, requests, invitations and, for owners, its
//! settings); joining or asking to join; inviting. Owners' other forms are in
//! [`super::manage`].

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use weft_node::crdt::{DocKind, GroupView, Visibility};
use weft_node::service::Access;
use weft_node::service::ThreadSummary;

use super::layout::{
    Older, PAGE, doc_form, fail, not_found, older_link, page, thread_card, vis_label,
};
use crate::extract::{Button, CsrfForm, Viewer};
use crate::i18n::Lang;
use crate::params::{doc_id, filter_query, group_matches};
use crate::state::AppState;

#[derive(Deserialize)]
pub(super) struct Filter {
    #[serde(default)]
    q: String,
}

/// `GET /groups?q=`.
pub(super) async fn groups_page(
    State(state): State<AppState>,
    v: Viewer,
    Query(f): Query<Filter>,
) -> Response {
    let groups = state.service.groups(&v.who()).await.unwrap_or_default();
    let query = f.q.trim().to_owned();
    if let Err(e) = filter_query(&query) {
        return fail(e);
    }
    let groups: Vec<_> = groups
        .into_iter()
        .filter(|(g, _)| group_matches(g, &query))
        .collect();
    let folded = weft_node::service::fold(&query);
    let cards: Vec<_> = state
        .service
        .group_cards(&v.who())
        .into_iter()
        .filter(|c| {
            let hay = weft_node::service::fold(&format!("{} {}", c.name, c.description));
            folded.split_whitespace().all(|w| hay.contains(w))
        })
        .collect();
    let lang = v.lang;
    let t = |k| lang.t(k);
    page(
        lang,
        t("groups"),
        Some(&v),
        html! {
            h1 { (t("groups")) }
            form.filter method="get" action="/groups" role="search" {
                label for="gq" { (t("find_group")) }
                input id="gq" name="q" type="search" value=(query);
                button.secondary type="submit" { (t("search")) }
            }
            @if groups.is_empty() && cards.is_empty() { p.muted { (t("no_results")) } }
            ul.grid {
                @for (g, _) in &groups {
                    li.card {
                        h3 { a href={ "/groups/" (g.id) } { (g.name) } }
                        p.meta { (vis_label(lang, g.visibility)) " · " (g.members.len()) " " (t("members").to_lowercase()) }
                        p { (g.description) }
                    }
                }
                @for c in &cards {
                    li.card {
                        h3 { a href={ "/groups/" (c.group) } { (c.name) } }
                        p.meta { (t("private")) " · " (c.members) " " (t("members").to_lowercase()) " · " (t("elsewhere")) }
                        p { (c.description) }
                    }
                }
            }
            section.card {
                h2 { (t("new_group")) }
                form method="post" action="/groups" {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    label for="gname" { (t("name")) }
                    input id="gname" name="name" required maxlength="300";
                    label for="gdesc" { (t("description")) }
                    textarea id="gdesc" name="description" rows="2" {}
                    fieldset {
                        legend { (t("visibility")) }
                        @for vis in ["public", "private", "secret"] {
                            label.choice {
                                input type="radio" name="visibility" value=(vis) checked[vis == "public"];
                                " " (t(vis))
                            }
                        }
                    }
                    button type="submit" { (t("create")) }
                }
            }
        },
    )
}

#[derive(Deserialize)]
pub(super) struct GroupForm {
    name: String,
    #[serde(default)]
    description: String,
    visibility: String,
    /// Set once the groups like it were shown: create it anyway.
    #[serde(default)]
    confirm: String,
}

/// `POST /groups`: creates a group and shows it.
pub(super) async fn group_create(
    State(state): State<AppState>,
    CsrfForm(v, f): CsrfForm<GroupForm>,
) -> Response {
    let Some(vis) = Visibility::parse(&f.visibility) else {
        return fail(crate::error::AppError::invalid("unknown visibility"));
    };
    // Groups like it at any site: shown first, to join one instead (a reserved name is
    // refused below whatever exists).
    if f.confirm.is_empty() && !weft_node::service::is_reserved_name(&f.name) {
        let similar = state
            .service
            .similar_groups(&v.who(), &f.name, &f.description)
            .await
            .unwrap_or_default();
        if !similar.is_empty() {
            return super::community::similar_page(
                &v,
                &similar,
                (&f.name, &f.description, &f.visibility),
            );
        }
    }
    match state
        .service
        .create_group(&v.who(), &f.name, &f.description, vis)
        .await
    {
        Ok(id) => crate::cookies::redirect(&format!("/groups/{id}")),
        Err(e) => fail(e),
    }
}

/// Someone shown on a group page: id, name, site.
type PersonRow = (String, String, String);

/// What a group page shows.
struct GroupPage {
    group: std::sync::Arc<GroupView>,
    access: Access,
    threads: Vec<(ThreadSummary, bool)>,
    members: Vec<PersonRow>,
    requests: Vec<(PersonRow, String)>,
    /// Upcoming events (for those who may read the group).
    events: Vec<weft_node::service::EventItem>,
    /// The viewer's feed token, for the group's Atom address.
    feed_token: Option<String>,
    /// The outside feeds the group follows (shown to its owners).
    followed: Vec<weft_node::service::FollowedFeed>,
    /// The name of the group it was merged into, if the viewer may see that one.
    merged_name: Option<String>,
}

/// `GET /groups/{id}`: what the viewer may see of it (404 for a group they may not see).
pub(super) async fn group_page(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Query(older): Query<Older>,
) -> Response {
    let lang = v.lang;
    let Ok(gid) = doc_id(&id, DocKind::Group) else {
        return not_found(&v);
    };
    let found = state
        .service
        .group_page(&v.who(), &gid, older.before, PAGE)
        .await
        .ok()
        .map(|p| {
            let row = |m: weft_node::service::Member| (m.id, m.display_name, m.site);
            GroupPage {
                group: p.group,
                access: p.access,
                threads: p.threads,
                members: p.members.into_iter().map(row).collect(),
                requests: p
                    .requests
                    .into_iter()
                    .map(|(m, msg)| (row(m), msg))
                    .collect(),
                events: Vec::new(),
                feed_token: None,
                followed: Vec::new(),
                merged_name: None,
            }
        });
    let Some(mut gp) = found else {
        // A private group without members here: its card, to ask to join.
        return match state.service.group_card(&v.who(), &gid) {
            Some(c) => page(lang, &c.name.clone(), Some(&v), card_body(&v, &c)),
            None => not_found(&v),
        };
    };
    if let Some(into) = gp.group.merged_into.clone() {
        gp.merged_name = state
            .service
            .group(&v.who(), &into)
            .await
            .ok()
            .map(|(g, _)| g.name.clone());
    }
    // Pinned threads first (on the first page; the order is otherwise the last activity).
    if older.before.is_none() {
        gp.threads.sort_by_key(|(t, _)| !t.pinned);
    }
    if gp.access == Access::Full {
        let now = state.service.now_ms();
        gp.events = state
            .service
            .group_events(
                &v.who(),
                &gid,
                now - 2 * 3_600_000,
                now + weft_node::service::AGENDA_AHEAD_MS,
            )
            .await
            .unwrap_or_default();
        gp.events.truncate(10);
        // The viewer's feed token (drawn once), so the feed's address works in a reader.
        gp.feed_token = state
            .service
            .subscription_token(&v.who(), weft_node::service::Subscription::Feeds)
            .await
            .ok();
        if gp.group.is_owner(&v.employee) {
            gp.followed = state
                .service
                .followed_feeds(&v.who(), &gid)
                .await
                .unwrap_or_default();
        }
    }
    page(
        lang,
        &gp.group.name.clone(),
        Some(&v),
        group_body(lang, &v, &gp),
    )
}

/// A private group known here by its card: what it says, and asking to join.
fn card_body(v: &Viewer, c: &weft_node::service::Card) -> Markup {
    let t = |k| v.lang.t(k);
    html! {
        h1 { (c.name) }
        p.meta { (t("private")) " · " (c.members) " " (t("members").to_lowercase()) }
        p { (c.description) }
        p.notice { (t("card_intro")) }
        p.meta {
            (t("owners")) " "
            @for (i, o) in c.owners.iter().enumerate() {
                @if i > 0 { ", " }
                a href={ "/people/" (o) } { "@" (o) }
            }
        }
        @if c.asked {
            p.notice { (t("request_pending")) " "
                form.inline method="post" action={ "/groups/" (c.group) "/requests/" (v.employee) "/decline" } {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    button.link type="submit" { (t("withdraw")) }
                }
            }
        } @else {
            form method="post" action={ "/groups/" (c.group) "/join" } {
                input type="hidden" name="_csrf" value=(v.csrf);
                button type="submit" { (t("ask_join")) }
            }
        }
    }
}

fn group_body(lang: Lang, v: &Viewer, gp: &GroupPage) -> Markup {
    let t = |k: &str| lang.t(k);
    let g = &gp.group;
    let member = g.is_member(&v.employee);
    let owner = g.is_owner(&v.employee);
    let requested = g.requests.contains_key(&v.employee);
    let mut sites: Vec<&str> = gp.members.iter().map(|m| m.2.as_str()).collect();
    sites.sort_unstable();
    sites.dedup();
    let post_form = |action: String, label: &str, class: &str| {
        html! {
            form.inline method="post" action=(action) {
                input type="hidden" name="_csrf" value=(v.csrf);
                button type="submit" class=(class) { (label) }
            }
        }
    };
    html! {
        h1 { (g.name) }
        @if let Some(into) = &g.merged_into {
            p.notice.merged {
                (t("merged_notice")) " "
                a href={ "/groups/" (into) } { (gp.merged_name.as_deref().unwrap_or(t("the_other_group"))) }
                @if v.community_manager {
                    " "
                    form.inline method="post" action={ "/groups/" (g.id) "/merge" } {
                        input type="hidden" name="_csrf" value=(v.csrf);
                        input type="hidden" name="into" value="";
                        button.link type="submit" { (t("unmerge")) }
                    }
                }
            }
        }
        p.meta { (vis_label(lang, g.visibility)) " · " (gp.members.len()) " " (t("members").to_lowercase()) }
        p { (g.description) }
        @if requested && !member {
            p.notice { (t("request_pending")) " "
                (post_form(format!("/groups/{}/requests/{}/decline", g.id, v.employee), t("withdraw"), "link"))
            }
        } @else if !member {
            form method="post" action={ "/groups/" (g.id) "/join" } {
                input type="hidden" name="_csrf" value=(v.csrf);
                button type="submit" { @if g.visibility == Visibility::Public || g.invitations.contains(&v.employee) { (t("join")) } @else { (t("ask_join")) } }
            }
        }
        @if gp.access == Access::Full {
            div.columns {
                section {
                    h2 { (t("threads")) }
                    @if gp.threads.is_empty() { p.muted { (t("no_threads")) } }
                    @for (th, unread) in &gp.threads { (thread_card(v, th, None, *unread)) }
                    (older_link(lang, &format!("/groups/{}", g.id), gp.threads.len(), gp.threads.last().map(|t| t.0.last_activity)))
                    @if member {
                        section.card {
                            h3 { (t("new_thread")) }
                            form method="post" action={ "/groups/" (g.id) "/threads" } {
                                input type="hidden" name="_csrf" value=(v.csrf);
                                label for="ttitle" { (t("title")) }
                                input id="ttitle" name="title" required maxlength="300";
                                label for="tbody" { (t("message")) }
                                textarea id="tbody" name="body" rows="5" required data-mentions {}
                                label.choice { input type="checkbox" name="question" value="1"; " " (t("ask_question")) }
                                (super::threads::files_field(lang, "tfiles"))
                                (super::threads::poll_fields(lang))
                                button type="submit" { (t("post")) }
                            }
                        }
                        (super::events::plan_form(v, &g.id))
                    }
                }
                aside {
                    section.card {
                        h2 { (t("upcoming_events")) }
                        (super::events::event_list(v, &gp.events, false))
                        p { a href={ "/groups/" (g.id) "/agenda" } { (t("group_agenda")) } }
                    }
                    section.card {
                        h2 { (t("library")) }
                        p { a href={ "/groups/" (g.id) "/library" } { (t("open_library")) } }
                        @if let Some(token) = &gp.feed_token {
                            p { a href={ "/feeds/groups/" (g.id) ".atom?token=" (token) } type="application/atom+xml" { (t("atom_feed")) } }
                        }
                    }
                    @if owner {
                        section.card {
                            h2 { (t("outside_feeds")) }
                            @if gp.followed.is_empty() { p.muted { (t("no_outside_feeds")) } }
                            ul.people {
                                @for f in &gp.followed {
                                    li {
                                        strong { (if f.title.is_empty() { f.url.as_str() } else { f.title.as_str() }) }
                                        br; span.meta { (f.url) }
                                        @if let Some(e) = &f.last_error { br; span.error { (e) } }
                                        br;
                                        form.inline method="post" action={ "/groups/" (g.id) "/feeds/" (f.id()) "/remove" } {
                                            input type="hidden" name="_csrf" value=(v.csrf);
                                            button.link type="submit" { (t("remove")) }
                                        }
                                    }
                                }
                            }
                            form method="post" action={ "/groups/" (g.id) "/feeds" } {
                                input type="hidden" name="_csrf" value=(v.csrf);
                                label for="feedurl" { (t("follow_feed")) }
                                input id="feedurl" name="url" type="url" required placeholder="https://…";
                                button type="submit" { (t("follow")) }
                            }
                        }
                    }
                    @if owner && !gp.requests.is_empty() {
                        section.card {
                            h2 { (t("join_requests")) " (" (gp.requests.len()) ")" }
                            ul.people {
                                @for ((id, name, site), msg) in &gp.requests {
                                    li {
                                        a href={ "/people/" (id) } { (name) } " " span.site { (site) }
                                        @if !msg.is_empty() { br; span.meta { (msg) } }
                                        br;
                                        (post_form(format!("/groups/{}/requests/{id}/approve", g.id), t("approve"), ""))
                                        " "
                                        (post_form(format!("/groups/{}/requests/{id}/decline", g.id), t("decline"), "secondary"))
                                    }
                                }
                            }
                        }
                    }
                    h2 { (t("members")) " (" (gp.members.len()) ")" }
                    p.meta { (t("sites")) ": " (sites.join(", ")) }
                    ul.people {
                        @for (id, name, site) in &gp.members {
                            li {
                                a href={ "/people/" (id) } { (name) } " " span.site { (site) }
                                @if g.is_owner(id) { " " span.tag { (t("owner")) } }
                                @if owner && id != &v.employee {
                                    @if !g.is_owner(id) {
                                        " " (post_form(format!("/groups/{}/members/{id}/owner", g.id), t("make_owner"), "link"))
                                    }
                                    " " (post_form(format!("/groups/{}/members/{id}/remove", g.id), t("remove"), "link"))
                                }
                            }
                        }
                    }
                    @if !g.invitations.is_empty() {
                        p.meta { (t("invited")) ": " (g.invitations.join(", ")) }
                    }
                    @if owner {
                        form method="post" action={ "/groups/" (g.id) "/invite" } {
                            input type="hidden" name="_csrf" value=(v.csrf);
                            label for="invitee" { (t("invite_who")) }
                            input id="invitee" name="user" required data-people;
                            button type="submit" { (t("invite")) }
                        }
                        details.card {
                            summary { (t("settings")) }
                            form method="post" action={ "/groups/" (g.id) "/settings" } {
                                input type="hidden" name="_csrf" value=(v.csrf);
                                label for="sname" { (t("name")) }
                                input id="sname" name="name" required maxlength="300" value=(g.name);
                                label for="sdesc" { (t("description")) }
                                textarea id="sdesc" name="description" rows="3" { (g.description) }
                                fieldset {
                                    legend { (t("visibility")) }
                                    @for vis in [Visibility::Public, Visibility::Private, Visibility::Secret] {
                                        label.choice {
                                            input type="radio" name="visibility" value=(vis.as_str()) checked[g.visibility == vis];
                                            " " (t(vis.as_str()))
                                        }
                                    }
                                    p.meta { (t("visibility_change")) }
                                }
                                button type="submit" { (t("save")) }
                            }
                        }
                    }
                    @if member {
                        (post_form(format!("/groups/{}/members/{}/remove", g.id, v.employee), t("leave"), "secondary"))
                    }
                }
            }
        } @else {
            p.muted { (t("members_only")) }
        }
    }
}

/// `POST /groups/{id}/join`: joins, or asks to join (a private group the viewer is not
/// invited to).
pub(super) async fn group_join(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, Button {}): CsrfForm<Button>,
) -> Response {
    doc_form(
        &state,
        &v,
        (&id, DocKind::Group),
        |s, me, g| async move { s.join(&me, &g).await },
        |g, _| format!("/groups/{g}"),
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct InviteForm {
    user: String,
}

/// `POST /groups/{id}/invite` (owners).
pub(super) async fn group_invite(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, f): CsrfForm<InviteForm>,
) -> Response {
    let user = f.user.trim().to_owned();
    doc_form(
        &state,
        &v,
        (&id, DocKind::Group),
        move |s, me, g| async move { s.invite(&me, &g, &user).await },
        |g, ()| format!("/groups/{g}"),
    )
    .await
}

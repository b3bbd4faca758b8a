//! Events and agendas in the pages: an event's card at the top of its thread (when, where,
//! the answers, the viewer's answer, and for its author the form that changes it), the
//! "plan an event" form and the upcoming events of a group's page, and the viewer's own
//! agenda (`/agenda`) with the secret address a calendar application subscribes to.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use weft_node::crdt::{DocId, DocKind, NewEvent};
use weft_node::service::{AGENDA_AHEAD_MS, EventItem};

use super::layout::{doc_form, fail, page};
use crate::extract::{Button, CsrfForm, Viewer};
use crate::markdown;
use crate::state::AppState;
use crate::time::{local_input, parse_in, rfc3339, zone, zone_names};

/// The fields of an event's form (planning one, or changing one).
#[derive(Deserialize)]
pub(super) struct EventForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    starts: String,
    #[serde(default)]
    ends: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    location: String,
    cancelled: Option<String>,
}

impl EventForm {
    fn event(&self) -> Result<NewEvent, weft_node::NodeError> {
        let bad = |m: &str| weft_node::NodeError::Invalid(m.to_owned());
        let name = if self.time_zone.trim().is_empty() {
            "UTC"
        } else {
            self.time_zone.trim()
        };
        let tz = zone(name).ok_or_else(|| bad("unknown time zone"))?;
        let starts_at =
            parse_in(&self.starts, &tz).ok_or_else(|| bad("the start is not a date and time"))?;
        let ends_at = if self.ends.trim().is_empty() {
            starts_at + 3_600_000
        } else {
            parse_in(&self.ends, &tz).ok_or_else(|| bad("the end is not a date and time"))?
        };
        Ok(NewEvent {
            starts_at,
            ends_at,
            time_zone: name.to_owned(),
            location: self.location.clone(),
            cancelled: self.cancelled.is_some(),
        })
    }
}

/// A time zone `select` named `time_zone`, with `selected` chosen.
fn zones_for(id: &str, selected: &str) -> Markup {
    html! {
        select id=(id) name="time_zone" {
            @for z in zone_names() {
                option value=(z) selected[z == selected] { (z) }
            }
        }
    }
}

/// The name of the viewer's time zone (for the forms' defaults).
fn zone_name(v: &Viewer) -> String {
    v.tz.iana_name().unwrap_or("UTC").to_owned()
}

/// The form that plans an event in group `group` (folded until opened).
pub(super) fn plan_form(v: &Viewer, group: &DocId) -> Markup {
    let t = |k| v.lang.t(k);
    html! {
        details.card.plan-event {
            summary { (t("plan_event")) }
            form method="post" action={ "/groups/" (group) "/events" } {
                input type="hidden" name="_csrf" value=(v.csrf);
                label for="etitle" { (t("title")) }
                input id="etitle" name="title" required maxlength="300";
                div.times {
                    div {
                        label for="estarts" { (t("starts")) }
                        input id="estarts" name="starts" type="datetime-local" required;
                    }
                    div {
                        label for="eends" { (t("ends")) }
                        input id="eends" name="ends" type="datetime-local";
                    }
                }
                label for="etz" { (t("time_zone")) }
                (zones_for("etz", &zone_name(v)))
                label for="eloc" { (t("location")) }
                input id="eloc" name="location" maxlength="1024" placeholder=(t("location_hint"));
                label for="edesc" { (t("description")) }
                textarea id="edesc" name="description" rows="3" data-mentions {}
                button type="submit" { (t("plan")) }
            }
        }
    }
}

/// `POST /groups/{id}/events`.
pub(super) async fn event_create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, f): CsrfForm<EventForm>,
) -> Response {
    doc_form(
        &state,
        &v,
        (&id, DocKind::Group),
        move |s, me, g| async move {
            let e = f.event()?;
            s.create_event(&me, &g, &f.title, &f.description, e).await
        },
        |_, t| format!("/threads/{t}"),
    )
    .await
}

/// `POST /threads/{id}/event`: its author changes the event.
pub(super) async fn event_edit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, f): CsrfForm<EventForm>,
) -> Response {
    doc_form(
        &state,
        &v,
        (&id, DocKind::Thread),
        move |s, me, t| async move {
            let e = f.event()?;
            s.edit_event(&me, &t, e).await.map(|_| ())
        },
        |t, ()| format!("/threads/{t}"),
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct RsvpForm {
    answer: String,
}

/// `POST /threads/{id}/rsvp`: the viewer's answer (`yes`, `maybe`, `no`; `none` withdraws).
pub(super) async fn event_rsvp(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(v, f): CsrfForm<RsvpForm>,
) -> Response {
    let answer = match f.answer.as_str() {
        a @ ("yes" | "maybe" | "no") => Some(a.to_owned()),
        _ => None,
    };
    doc_form(
        &state,
        &v,
        (&id, DocKind::Thread),
        move |s, me, t| async move { s.rsvp(&me, &t, answer).await.map(|_| ()) },
        |t, ()| format!("/threads/{t}"),
    )
    .await
}

/// "2027-03-10 10:00 CET – 12:30 CET": an event's times in the viewer's time zone, and in
/// its own when that differs.
fn when(v: &Viewer, e: &weft_node::crdt::EventView) -> Markup {
    let own = zone(&e.time_zone);
    let differs = own
        .as_ref()
        .is_some_and(|z| z.iana_name() != v.tz.iana_name());
    html! {
        time datetime=(rfc3339(e.starts_at)) { (v.time(e.starts_at)) }
        " – "
        time datetime=(rfc3339(e.ends_at)) { (v.time(e.ends_at)) }
        @if let (true, Some(z)) = (differs, own.as_ref()) {
            " "
            span.meta data-zone=(e.time_zone) {
                "(" (crate::time::short_in(e.starts_at, z)) ", " (e.time_zone) ")"
            }
        }
    }
}

/// A place, linked when it is a web address.
fn place(location: &str) -> Markup {
    let l = location.trim();
    html! {
        @if l.starts_with("https://") || l.starts_with("http://") {
            a href=(l) rel="noopener noreferrer" { (l) }
        } @else {
            (l)
        }
    }
}

/// The card of an event at the top of its thread: when, where, the answers and the
/// viewer's, and for its author the form that changes it.
pub(super) fn event_card(
    v: &Viewer,
    thread: &DocId,
    author: &str,
    e: &weft_node::crdt::EventView,
) -> Markup {
    let t = |k| v.lang.t(k);
    let mine = e.answer_of(&v.employee);
    html! {
        section.event aria-label=(t("event")) {
            @if e.cancelled { p.cancelled { strong { (t("cancelled")) } } }
            p.when { strong { (t("when")) } " " (when(v, e)) }
            @if !e.location.trim().is_empty() {
                p.where { strong { (t("where")) } " " (place(&e.location)) }
            }
            p.meta {
                (answers(e, "yes")) " " (t("going")) " · "
                (answers(e, "maybe")) " " (t("maybe")) " · "
                (answers(e, "no")) " " (t("not_going"))
            }
            @if !e.cancelled {
                form.rsvp method="post" action={ "/threads/" (thread) "/rsvp" } {
                    input type="hidden" name="_csrf" value=(v.csrf);
                    @for (answer, label) in [("yes", "rsvp_yes"), ("maybe", "rsvp_maybe"), ("no", "rsvp_no")] {
                        button.secondary[mine != Some(answer)] type="submit" name="answer" value=(answer) aria-pressed=(mine == Some(answer)) {
                            (t(label))
                        }
                        " "
                    }
                    @if mine.is_some() {
                        button.link type="submit" name="answer" value="none" { (t("rsvp_withdraw")) }
                    }
                }
            }
            @if author == v.employee {
                @let own = zone(&e.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
                details {
                    summary { (t("change_event")) }
                    form method="post" action={ "/threads/" (thread) "/event" } {
                        input type="hidden" name="_csrf" value=(v.csrf);
                        div.times {
                            div {
                                label for="cstarts" { (t("starts")) }
                                input id="cstarts" name="starts" type="datetime-local" required value=(local_input(e.starts_at, &own));
                            }
                            div {
                                label for="cends" { (t("ends")) }
                                input id="cends" name="ends" type="datetime-local" value=(local_input(e.ends_at, &own));
                            }
                        }
                        label for="ctz" { (t("time_zone")) }
                        (zones_for("ctz", &e.time_zone))
                        label for="cloc" { (t("location")) }
                        input id="cloc" name="location" maxlength="1024" value=(e.location);
                        label.choice { input type="checkbox" name="cancelled" value="1" checked[e.cancelled]; " " (t("cancel_event")) }
                        button type="submit" { (t("save")) }
                    }
                }
            }
        }
    }
}

/// A list of events (a group's upcoming ones, an agenda).
pub(super) fn event_list(v: &Viewer, items: &[EventItem], with_group: bool) -> Markup {
    let t = |k| v.lang.t(k);
    html! {
        @if items.is_empty() { p.muted { (t("no_events")) } }
        ul.events {
            @for e in items {
                li.cancelled[e.event.cancelled] {
                    a href={ "/threads/" (e.thread.id) } { strong { (e.title) } }
                    @if e.event.cancelled { " " span.badge { (t("cancelled")) } }
                    br;
                    span.meta { (when(v, &e.event)) }
                    @if with_group {
                        br;
                        span.meta { (t("in")) " " a href={ "/groups/" (e.thread.group) } { (e.group_name) } }
                    }
                    @if let Some(a) = e.answer_of(&v.employee) {
                        " " span.answer { "· " (t(answer_key(a))) }
                    }
                }
            }
        }
    }
}

/// How many gave `answer`.
fn answers(e: &weft_node::crdt::EventView, answer: &str) -> usize {
    e.count(answer)
}

fn answer_key(a: &str) -> &'static str {
    match a {
        "yes" => "rsvp_yes",
        "maybe" => "rsvp_maybe",
        _ => "rsvp_no",
    }
}

/// `GET /agenda`: the viewer's events (their groups', and those they said they would
/// attend), and the address a calendar application subscribes to.
pub(super) async fn agenda_page(
    State(state): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
) -> Response {
    let lang = v.lang;
    let t = |k| lang.t(k);
    let now = state.service.now_ms();
    // From the start of the day (UTC) on.
    let from = now - now.rem_euclid(86_400_000);
    let items = match state
        .service
        .my_events(&v.who(), from, now + AGENDA_AHEAD_MS)
        .await
    {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let url = match state.service.calendar_token(&v.who()).await {
        Ok(token) => crate::content::calendar_json(&state, &headers, &token),
        Err(e) => return fail(e),
    };
    page(
        lang,
        t("agenda"),
        Some(&v),
        html! {
            h1 { (t("agenda")) }
            div.columns {
                section { (event_list(&v, &items, true)) }
                aside {
                    section.card {
                        h2 { (t("subscribe")) }
                        p.meta { (PreEscaped(markdown::render(t("subscribe_hint")))) }
                        label for="calurl" { (t("calendar_address")) }
                        input id="calurl" readonly value=(url.url);
                        p { a href=(url.webcal) { (t("open_in_calendar")) } }
                        form method="post" action="/agenda/reset" {
                            input type="hidden" name="_csrf" value=(v.csrf);
                            button.secondary type="submit" { (t("new_calendar_address")) }
                        }
                    }
                }
            }
        },
    )
}

/// `POST /agenda/reset`: a new calendar address (the old one stops working).
pub(super) async fn agenda_reset(
    State(state): State<AppState>,
    CsrfForm(v, Button {}): CsrfForm<Button>,
) -> Response {
    match state.service.reset_calendar_token(&v.who(), true).await {
        Ok(_) => crate::cookies::redirect("/agenda"),
        Err(e) => fail(e),
    }
}

/// `GET /groups/{id}/agenda`: a group's events (from 30 days ago to a year ahead), with its
/// iCalendar file.
pub(super) async fn group_agenda_page(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
) -> Response {
    let t = |k| v.lang.t(k);
    let Ok(gid) = crate::params::doc_id(&id, DocKind::Group) else {
        return super::layout::not_found(&v);
    };
    let now = state.service.now_ms();
    let items = match state
        .service
        .group_events(
            &v.who(),
            &gid,
            now - weft_node::service::AGENDA_PAST_MS,
            now + AGENDA_AHEAD_MS,
        )
        .await
    {
        Ok(i) => i,
        Err(weft_node::NodeError::NotFound) => return super::layout::not_found(&v),
        Err(e) => return fail(e),
    };
    let name = state
        .service
        .group_page(&v.who(), &gid, None, 0)
        .await
        .map(|p| p.group.name.clone())
        .unwrap_or_default();
    let (past, upcoming): (Vec<EventItem>, Vec<EventItem>) =
        items.into_iter().partition(|e| e.event.ends_at < now);
    page(
        v.lang,
        &format!("{} · {name}", t("agenda")),
        Some(&v),
        html! {
            p.meta { a href={ "/groups/" (gid) } { (name) } }
            div.heading {
                h1 { (t("agenda")) }
                a.button.secondary href={ "/api/v1/groups/" (gid) "/events.ics" } download="agenda.ics" { (t("download_ics")) }
            }
            div.columns {
                section {
                    h2 { (t("upcoming_events")) }
                    (event_list(&v, &upcoming, false))
                    @if !past.is_empty() {
                        h2 { (t("past_events")) }
                        (event_list(&v, &past, false))
                    }
                }
                aside { (plan_form(&v, &gid)) }
            }
        },
    )
}

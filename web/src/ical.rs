//! Agendas as iCalendar (RFC 5545), for calendar applications to import or subscribe to.
//!
//! Times are written in UTC (`DTSTART:20261210T090000Z`), which every calendar application
//! reads and shows in its user's own time zone; the time zone the event was planned in is
//! kept as `X-WEFT-TIME-ZONE`. Text is escaped (`\\`, `;`, `,`, new lines) and lines are
//! folded at 75 octets, on character boundaries, with CRLF line ends.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Router, routing::get};
use weft_node::service::{AGENDA_AHEAD_MS, AGENDA_PAST_MS, EventItem};

use crate::error::AppError;
use crate::state::AppState;

/// The route outside `/api/v1`: an employee's agenda for calendar applications.
pub fn routes() -> Router<AppState> {
    Router::new().route("/calendar/{file}", get(subscribed_calendar))
}

/// An iCalendar document named `name` of `events`; `base` is the node's public URL (for
/// each event's `URL`), if known; `now` (ms) is the `DTSTAMP`.
pub fn calendar(name: &str, events: &[EventItem], base: Option<&str>, now: i64) -> String {
    let mut out = String::new();
    let mut line = |l: &str| fold_into(&mut out, l);
    line("BEGIN:VCALENDAR");
    line("VERSION:2.0");
    line("PRODID:-//Weft//Weft node//EN");
    line("CALSCALE:GREGORIAN");
    line("METHOD:PUBLISH");
    line(&format!("X-WR-CALNAME:{}", text(name)));
    for e in events {
        line("BEGIN:VEVENT");
        line(&format!("UID:{}@weft", e.thread.id));
        line(&format!("DTSTAMP:{}", utc(now)));
        line(&format!("DTSTART:{}", utc(e.event.starts_at)));
        line(&format!(
            "DTEND:{}",
            utc(e.event.ends_at.max(e.event.starts_at))
        ));
        line(&format!("SUMMARY:{}", text(&e.title)));
        if !e.description.trim().is_empty() {
            line(&format!("DESCRIPTION:{}", text(&e.description)));
        }
        if !e.event.location.trim().is_empty() {
            line(&format!("LOCATION:{}", text(&e.event.location)));
        }
        if let Some(b) = base {
            line(&format!(
                "URL:{}/threads/{}",
                b.trim_end_matches('/'),
                e.thread.id
            ));
        }
        line(&format!("CATEGORIES:{}", text(&e.group_name)));
        line(if e.event.cancelled {
            "STATUS:CANCELLED"
        } else {
            "STATUS:CONFIRMED"
        });
        if !e.event.time_zone.is_empty() {
            line(&format!("X-WEFT-TIME-ZONE:{}", text(&e.event.time_zone)));
        }
        line("END:VEVENT");
    }
    line("END:VCALENDAR");
    out
}

/// A UTC date-time (`20261210T090000Z`).
fn utc(ms: i64) -> String {
    let s = crate::time::rfc3339(ms);
    // 2026-12-10T09:00:00.000Z
    format!(
        "{}{}{}T{}{}{}Z",
        &s[0..4],
        &s[5..7],
        &s[8..10],
        &s[11..13],
        &s[14..16],
        &s[17..19]
    )
}

/// A TEXT value, escaped (RFC 5545 §3.3.11).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends `line` folded at 75 octets (continuations start with a space), ending in CRLF.
fn fold_into(out: &mut String, line: &str) {
    let mut used = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > 75 {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
}

/// `GET /calendar/{token}.ics`: an employee's agenda for a calendar application; the
/// secret token is the credential (404 for any other).
pub(crate) async fn subscribed_calendar(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, AppError> {
    let token = file.strip_suffix(".ics").unwrap_or(&file);
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::not_found());
    }
    let v = state
        .service
        .calendar_owner(token)?
        .ok_or_else(AppError::not_found)?;
    let now = state.service.now_ms();
    let items = state
        .service
        .my_events(&v, now - AGENDA_PAST_MS, now + AGENDA_AHEAD_MS)
        .await?;
    Ok(response(&state, "Weft", &items, now))
}

/// An iCalendar answer.
pub(crate) fn response(state: &AppState, name: &str, items: &[EventItem], now: i64) -> Response {
    let body = calendar(name, items, state.public_url.as_deref(), now);
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_long_lines_folded_on_character_boundaries() {
        assert_eq!(text("a;b,c\\d\ne\r"), "a\\;b\\,c\\\\d\\ne");
        let mut out = String::new();
        let long = format!("SUMMARY:{}", "é".repeat(60));
        fold_into(&mut out, &long);
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets", l.len());
        }
        let unfolded = out.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, long);
        assert_eq!(utc(1_795_442_700_000), "20261123T140500Z");
    }
}

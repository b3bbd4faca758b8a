//! The usage dashboard for community managers: the company's active, participating and
//! contributing people week by week (an SVG chart the node draws, and its table), each
//! site's latest week, the most active groups and #topics, dormant groups, the CSV export.

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{Markup, html};
use weft_node::service::{Analytics, Counts};

use super::layout::{fail, not_found, page};
use crate::analytics::Weeks;
use crate::extract::{Button, CsrfForm, Viewer};
use crate::i18n::Lang;
use crate::state::AppState;

const SERIES: [(&str, &str); 3] = [
    ("active", "#1f5fbf"),
    ("participating", "#2e8540"),
    ("contributing", "#b35c00"),
];

fn value(c: &Counts, series: &str) -> u64 {
    match series {
        "active" => c.active,
        "participating" => c.participating,
        _ => c.contributing,
    }
}

/// The company's weeks as a line chart (one line per series), with its own text for
/// screen readers.
fn weeks_chart(lang: Lang, a: &Analytics) -> Markup {
    let (w, h, left, bottom, top) = (640.0_f64, 240.0_f64, 40.0_f64, 30.0_f64, 12.0_f64);
    let max = a
        .company
        .iter()
        .map(|c| {
            c.active
                .max(c.participating)
                .max(c.contributing)
                .max(c.registered)
        })
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let n = a.weeks.len().max(1);
    let x = |i: usize| {
        if n == 1 {
            left + (w - left) / 2.0
        } else {
            left + (w - left - 10.0) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: u64| top + (h - bottom - top) * (1.0 - v as f64 / max);
    let label = format!(
        "{}: {}",
        lang.t("chart_weeks"),
        a.weeks
            .iter()
            .zip(&a.company)
            .map(|(wk, c)| format!(
                "{wk} {} {}, {} {}, {} {}",
                c.active,
                lang.t("active"),
                c.participating,
                lang.t("participating"),
                c.contributing,
                lang.t("contributing")
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    html! {
        svg.chart viewBox={ "0 0 " (w) " " (h) } role="img" aria-label=(label) {
            title { (lang.t("chart_weeks")) }
            @for k in 0..=4u64 {
                @let v = (max as u64 * k).div_ceil(4);
                line x1=(left) x2=(w - 5.0) y1=(y(v)) y2=(y(v)) stroke="#dfe3e8" {}
                text x=(left - 6.0) y=(y(v) + 4.0) text-anchor="end" font-size="11" fill="#5b6675" { (v) }
            }
            @for (i, wk) in a.weeks.iter().enumerate() {
                text x=(x(i)) y=(h - 10.0) text-anchor="middle" font-size="11" fill="#5b6675" { (wk.split_once('-').map_or(wk.as_str(), |(_, w)| w)) }
            }
            @for (series, color) in SERIES {
                polyline fill="none" stroke=(color) stroke-width="2.5"
                    points=(a.company.iter().enumerate().map(|(i, c)| format!("{:.1},{:.1}", x(i), y(value(c, series)))).collect::<Vec<_>>().join(" ")) {}
                @for (i, c) in a.company.iter().enumerate() {
                    circle cx=(format!("{:.1}", x(i))) cy=(format!("{:.1}", y(value(c, series)))) r="3.5" fill=(color) {}
                }
            }
        }
        p.legend {
            // Swatches drawn in SVG: the pages' security policy allows no inline styles.
            @for (series, color) in SERIES {
                span.key {
                    svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true" {
                        rect width="14" height="14" rx="3" fill=(color) {}
                    }
                    " " (lang.t(series))
                }
            }
        }
    }
}

/// The most active groups as horizontal bars.
fn groups_chart(lang: Lang, a: &Analytics) -> Markup {
    let max = a.groups.iter().map(|g| g.total).max().unwrap_or(1).max(1) as f64;
    let row = 26.0_f64;
    let h = row * a.groups.len().max(1) as f64 + 4.0;
    html! {
        svg.chart viewBox={ "0 0 640 " (h) } role="img" aria-label=(lang.t("top_groups")) {
            title { (lang.t("top_groups")) }
            @for (i, g) in a.groups.iter().enumerate() {
                @let yy = 2.0 + row * i as f64;
                text x="0" y=(yy + 16.0) font-size="12" fill="currentColor" { (g.name.chars().take(28).collect::<String>()) }
                rect x="220" y=(yy + 4.0) height="16" rx="3" fill="#2e8540" width=(format!("{:.1}", 380.0 * g.total as f64 / max)) {}
                text x=(format!("{:.1}", 226.0 + 380.0 * g.total as f64 / max)) y=(yy + 16.0) font-size="12" fill="currentColor" { (g.total) }
            }
        }
    }
}

/// `GET /analytics`.
pub(super) async fn analytics_page(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<Weeks>,
) -> Response {
    let (weeks, dormant) = q.get();
    let a = match state.service.analytics(&v.who(), weeks, dormant) {
        Ok(a) => a,
        Err(weft_node::NodeError::Forbidden(_)) => return not_found(&v),
        Err(e) => return fail(e),
    };
    let lang = v.lang;
    let t = |k| lang.t(k);
    let last = a.weeks.len().saturating_sub(1);
    page(
        lang,
        t("analytics"),
        Some(&v),
        html! {
            div.heading {
                h1 { (t("analytics")) }
                a.button.secondary href={ "/api/v1/analytics.csv?weeks=" (weeks) } download="weft-usage.csv" { (t("csv_export")) }
            }
            p.muted { (t("analytics_intro")) }
            form.inline method="post" action="/analytics/publish" {
                input type="hidden" name="_csrf" value=(v.csrf);
                button.link type="submit" { (t("publish_now")) }
            }
            section.card {
                h2 { (t("chart_weeks")) }
                (weeks_chart(lang, &a))
                div.scroll {
                    table {
                        thead { tr { th { (t("week")) } th { (t("registered")) } th { (t("active")) } th { (t("participating")) } th { (t("contributing")) } } }
                        tbody {
                            @for (wk, c) in a.weeks.iter().zip(&a.company) {
                                tr { td { (wk) } td { (c.registered) " / " (c.employees) } td { (c.active) } td { (c.participating) } td { (c.contributing) } }
                            }
                        }
                    }
                }
            }
            section.card {
                h2 { (t("by_site")) " · " (a.weeks.get(last).map(String::as_str).unwrap_or("")) }
                div.scroll {
                    table {
                        thead { tr { th { (t("site")) } th { (t("registered")) } th { (t("active")) } th { (t("participating")) } th { (t("contributing")) } } }
                        tbody {
                            @for (site, weeks) in &a.sites {
                                @if let Some(Some(c)) = weeks.get(last) {
                                    tr { td { (site) } td { (c.registered) " / " (c.employees) } td { (c.active) } td { (c.participating) } td { (c.contributing) } }
                                } @else {
                                    tr { td { (site) } td colspan="4" { span.muted { (t("no_figures")) } } }
                                }
                            }
                        }
                    }
                }
            }
            div.columns {
                section.card {
                    h2 { (t("top_groups")) }
                    @if a.groups.is_empty() { p.muted { (t("no_figures")) } } @else { (groups_chart(lang, &a)) }
                }
                section.card {
                    h2 { (t("top_topics")) }
                    @if a.topics.is_empty() { p.muted { (t("no_figures")) } }
                    ol {
                        @for (topic, n) in &a.topics {
                            li { a href={ "/topics/" (topic) } { "#" (topic) } " · " (n) }
                        }
                    }
                }
            }
            section.card {
                h2 { (t("dormant_groups")) " (" (a.dormant_weeks) " " (t("weeks")) ")" }
                @if a.dormant.is_empty() { p.muted { (t("none_dormant")) } }
                ul {
                    @for (id, name, at) in &a.dormant {
                        li { a href={ "/groups/" (id) } { (name) } " · " span.muted { (t("last_activity")) " " (v.time(*at)) } }
                    }
                }
            }
        },
    )
}

/// `POST /analytics/publish`: this site's figures, now.
pub(super) async fn publish(
    State(state): State<AppState>,
    CsrfForm(v, Button {}): CsrfForm<Button>,
) -> Response {
    match state.service.publish_stats_now(&v.who()).await {
        Ok(()) => crate::cookies::redirect("/analytics"),
        Err(e) => fail(e),
    }
}

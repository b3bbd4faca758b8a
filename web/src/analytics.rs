//! The usage analytics API (community managers): the dashboard's figures as JSON and CSV,
//! and publishing this site's figures now (see `weft_node::service::Analytics`). The routes
//! are declared with the others in [`crate::content::routes`].

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weft_node::service::{Analytics, Counts};

use crate::error::AppError;
use crate::extract::Me;
use crate::json::{E401, E403, E429};
use crate::state::{AppState, viewer};
use crate::time::rfc3339;

/// Which weeks.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Weeks {
    /// How many weeks, ending with this one (1 to 52, 8 by default).
    weeks: Option<usize>,
    /// Groups without a post for this many weeks are dormant (4 by default).
    dormant_weeks: Option<usize>,
}

impl Weeks {
    pub(crate) fn get(&self) -> (usize, usize) {
        (
            self.weeks.unwrap_or(8).clamp(1, 52),
            self.dormant_weeks.unwrap_or(4).clamp(1, 52),
        )
    }
}

/// One week's counts (Jive's definitions).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = UsageCounts)]
pub struct CountsJson {
    pub week: String,
    /// Employees (active in the directory).
    pub employees: u64,
    /// Who has logged in at least once.
    pub registered: u64,
    /// Who used Weft that week.
    pub active: u64,
    /// Who reacted, voted, answered an event or replied.
    pub participating: u64,
    /// Who started a thread, an event, a poll or a library document.
    pub contributing: u64,
}

fn counts(week: &str, c: &Counts) -> CountsJson {
    CountsJson {
        week: week.to_owned(),
        employees: c.employees,
        registered: c.registered,
        active: c.active,
        participating: c.participating,
        contributing: c.contributing,
    }
}

/// A site's weeks.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SiteUsage)]
pub struct SiteJson {
    pub site: String,
    /// Per week; null where the site published nothing (yet).
    pub weeks: Vec<Option<CountsJson>>,
}

/// A group's weeks.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GroupUsage)]
pub struct GroupUsageJson {
    pub id: String,
    pub name: String,
    /// Per week: [participating, contributing] employees.
    pub weeks: Vec<[u64; 2]>,
    pub total: u64,
}

/// A dormant group.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DormantGroup)]
pub struct DormantJson {
    pub id: String,
    pub name: String,
    #[schema(format = DateTime)]
    pub last_activity: String,
}

/// The dashboard.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Analytics)]
pub struct AnalyticsJson {
    /// ISO weeks, the oldest first.
    pub weeks: Vec<String>,
    /// The company per week: every site's documents added up.
    pub company: Vec<CountsJson>,
    pub sites: Vec<SiteJson>,
    /// The most active groups (at most 10).
    pub groups: Vec<GroupUsageJson>,
    /// The most used #topics: [topic, posts] (at most 10).
    pub topics: Vec<(String, u64)>,
    pub dormant: Vec<DormantJson>,
}

pub(crate) fn analytics_json(a: &Analytics) -> AnalyticsJson {
    AnalyticsJson {
        weeks: a.weeks.clone(),
        company: a
            .weeks
            .iter()
            .zip(&a.company)
            .map(|(w, c)| counts(w, c))
            .collect(),
        sites: a
            .sites
            .iter()
            .map(|(site, weeks)| SiteJson {
                site: site.clone(),
                weeks: a
                    .weeks
                    .iter()
                    .zip(weeks)
                    .map(|(w, c)| c.as_ref().map(|c| counts(w, c)))
                    .collect(),
            })
            .collect(),
        groups: a
            .groups
            .iter()
            .map(|g| GroupUsageJson {
                id: g.group.to_string(),
                name: g.name.clone(),
                weeks: g.weeks.iter().map(|(p, c)| [*p, *c]).collect(),
                total: g.total,
            })
            .collect(),
        topics: a.topics.clone(),
        dormant: a
            .dormant
            .iter()
            .map(|(id, name, at)| DormantJson {
                id: id.to_string(),
                name: name.clone(),
                last_activity: rfc3339(*at),
            })
            .collect(),
    }
}

/// Usage analytics
///
/// Community managers (403 for others). Every site signs a weekly statistics document for
/// its own employees; this adds them up: the company and each site per week, the most
/// active groups and #topics, dormant groups. A site's current week is refreshed every hour
/// (or now: `POST /analytics/publish`).
#[utoipa::path(
    get,
    path = "/analytics",
    tag = "moderation",
    params(Weeks),
    responses(
        (status = 200, description = "The dashboard", body = AnalyticsJson),
        (status = 401, response = E401),
        (status = 403, response = E403),
    )
)]
pub(crate) async fn analytics(
    State(state): State<AppState>,
    Me(me): Me,
    Query(q): Query<Weeks>,
) -> Result<Json<AnalyticsJson>, AppError> {
    let (weeks, dormant) = q.get();
    let a = state.service.analytics(&viewer(&me), weeks, dormant)?;
    Ok(Json(analytics_json(&a)))
}

/// The dashboard as CSV: one row per week and scope.
pub(crate) fn csv(a: &Analytics) -> String {
    let mut out =
        String::from("week,scope,name,employees,registered,active,participating,contributing\n");
    let field = |s: &str| {
        // Not a formula in a spreadsheet.
        let s = if s.starts_with(['=', '+', '-', '@']) {
            format!("'{s}")
        } else {
            s.to_owned()
        };
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    };
    let row = |out: &mut String, week: &str, scope: &str, name: &str, c: &Counts| {
        out.push_str(&format!(
            "{week},{scope},{},{},{},{},{},{}\n",
            field(name),
            c.employees,
            c.registered,
            c.active,
            c.participating,
            c.contributing
        ));
    };
    for (i, w) in a.weeks.iter().enumerate() {
        row(&mut out, w, "company", "", &a.company[i]);
        for (site, weeks) in &a.sites {
            if let Some(c) = &weeks[i] {
                row(&mut out, w, "site", site, c);
            }
        }
        for g in &a.groups {
            let (p, k) = g.weeks[i];
            out.push_str(&format!("{w},group,{},,,,{p},{k}\n", field(&g.name)));
        }
    }
    out
}

/// Usage analytics as CSV
#[utoipa::path(
    get,
    path = "/analytics.csv",
    tag = "moderation",
    params(Weeks),
    responses(
        (status = 200, description = "week,scope,name,employees,registered,active,participating,contributing", content_type = "text/csv"),
        (status = 401, response = E401),
        (status = 403, response = E403),
    )
)]
pub(crate) async fn analytics_csv(
    State(state): State<AppState>,
    Me(me): Me,
    Query(q): Query<Weeks>,
) -> Result<Response, AppError> {
    let (weeks, dormant) = q.get();
    let a = state.service.analytics(&viewer(&me), weeks, dormant)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"weft-usage.csv\"",
            ),
        ],
        csv(&a),
    )
        .into_response())
}

/// Publish this site's figures now
///
/// Signs this site's statistics document of the current week (and of the last one if it
/// has none). Community managers.
#[utoipa::path(
    post,
    path = "/analytics/publish",
    tag = "moderation",
    responses(
        (status = 204, description = "Done"),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn publish(
    State(state): State<AppState>,
    Me(me): Me,
) -> Result<StatusCode, AppError> {
    state.service.publish_stats_now(&viewer(&me)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_has_one_row_per_week_and_scope_and_no_formulas() {
        let c = |n| Counts {
            employees: 10,
            registered: n,
            active: n,
            participating: 2,
            contributing: 1,
        };
        let a = Analytics {
            weeks: vec!["2026-W48".into(), "2026-W49".into()],
            company: vec![c(4), c(5)],
            sites: [("paris".to_owned(), vec![None, Some(c(5))])].into(),
            groups: vec![weft_node::service::GroupActivity {
                group: weft_node::crdt::DocId::parse("g-00000000000000000000000000000001")
                    .unwrap_or_else(|_| unreachable!()),
                name: "=HYPERLINK(\"x\"), \"club\"".into(),
                weeks: vec![(1, 0), (2, 1)],
                total: 4,
            }],
            topics: vec![],
            dormant: vec![],
            dormant_weeks: 4,
        };
        let csv = csv(&a);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines,
            [
                "week,scope,name,employees,registered,active,participating,contributing",
                "2026-W48,company,,10,4,4,2,1",
                "2026-W48,group,\"'=HYPERLINK(\"\"x\"\"), \"\"club\"\"\",,,,1,0",
                "2026-W49,company,,10,5,5,2,1",
                "2026-W49,site,paris,10,5,5,2,1",
                "2026-W49,group,\"'=HYPERLINK(\"\"x\"\"), \"\"club\"\"\",,,,2,1",
            ]
        );
    }
}

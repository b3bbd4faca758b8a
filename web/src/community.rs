//! The JSON API of community management (see `weft_node::service::community`): reporting
//! posts and the moderators' queue, official and outdated marks, likely duplicate groups
//! and merging one into another. Hiding a post is `PUT /posts/{id}/hidden` (in
//! [`crate::content`]).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weft_node::crdt::{DocKind, ThreadMark};
use weft_node::service::{GroupCard, Reported};

use crate::error::AppError;
use crate::extract::{ApiJson, Me};
use crate::json::{E400, E401, E403, E404, E415, E422, E429, List, PostJson, post_json};
use crate::params::{doc_id, post_id};
use crate::state::{AppState, viewer};
use crate::time::rfc3339;

/// Changes to a group's settings (those absent stay as they are).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupSettingsBody {
    name: Option<String>,
    description: Option<String>,
    /// `public`, `private` or `secret`.
    #[schema(schema_with = crate::json::visibility_values)]
    visibility: Option<String>,
}

/// Change a group's settings
///
/// Owners (403 for others). Visibility: public → private keeps the group at the sites of
/// its members only; the others keep what they held but no longer show it (the group is
/// listed there, its threads are for members) and receive nothing new of it, and sites
/// that never held it list it by its card. Private → public sends it to every site again.
/// Secret: unlisted, invitation only.
#[utoipa::path(
    patch,
    path = "/groups/{id}",
    tag = "groups",
    params(("id" = String, Path, description = "A group's id")),
    request_body = GroupSettingsBody,
    responses(
        (status = 200, description = "The group as it is now", body = crate::json::GroupJson),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn update_group(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<GroupSettingsBody>,
) -> Result<Json<crate::json::GroupJson>, AppError> {
    let gid = doc_id(&id, DocKind::Group)?;
    let v = viewer(&me);
    let visibility = match b.visibility.as_deref() {
        None => None,
        Some(x) => Some(
            weft_node::crdt::Visibility::parse(x)
                .ok_or_else(|| AppError::invalid("visibility must be public, private or secret"))?,
        ),
    };
    if b.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(AppError::invalid("a group needs a name"));
    }
    let (g, _) = state.service.group(&v, &gid).await?;
    if !g.is_owner(&me) {
        return Err(AppError::from(weft_node::NodeError::Forbidden(
            "only owners change a group's settings".into(),
        )));
    }
    state
        .service
        .update_group(
            &v,
            &gid,
            weft_node::service::GroupEdit {
                name: b.name.map(|n| n.trim().to_owned()),
                description: b.description,
                visibility,
            },
        )
        .await?;
    let (g, a) = state.service.group(&v, &gid).await?;
    Ok(Json(crate::json::group_json(&g, &me, a)))
}

/// Make a member a co-owner
///
/// Owners (403 for others); the employee must be a member (422 otherwise).
#[utoipa::path(
    put,
    path = "/groups/{id}/owners/{user}",
    tag = "groups",
    params(
        ("id" = String, Path, description = "A group's id"),
        ("user" = String, Path, description = "A member's employee id"),
    ),
    responses(
        (status = 204, description = "An owner now"),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn make_owner(
    State(state): State<AppState>,
    Me(me): Me,
    Path((id, user)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let gid = doc_id(&id, DocKind::Group)?;
    state.service.make_owner(&viewer(&me), &gid, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A report.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportBody {
    /// Why: at most 1,000 bytes, not empty.
    reason: String,
}

/// What a report answers: where the usage charter is.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReportReceipt)]
pub struct ReportReceipt {
    /// The usage charter the post is judged against (a page of this node), if the node has
    /// one.
    pub charter: Option<String>,
}

/// Report a post
///
/// To the moderators of its thread (its group's owners and the community managers), with a
/// reason. Any employee who may write in the thread, not about their own post. Reporting
/// again replaces the reason. Reports travel with the thread to every site that holds it.
#[utoipa::path(
    post,
    path = "/posts/{id}/report",
    tag = "moderation",
    params(("id" = String, Path, description = "A post's id (`thread~post`)")),
    request_body = ReportBody,
    responses(
        (status = 201, description = "Reported", body = ReportReceipt),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn report(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReportBody>,
) -> Result<(StatusCode, Json<ReportReceipt>), AppError> {
    let (tid, pid) = post_id(&id)?;
    state
        .service
        .report(&viewer(&me), &tid, &pid, Some(&b.reason))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ReportReceipt {
            charter: state.charter.as_ref().map(|_| "/charter".to_owned()),
        }),
    ))
}

/// Withdraw one's report
#[utoipa::path(
    delete,
    path = "/posts/{id}/report",
    tag = "moderation",
    params(("id" = String, Path, description = "A post's id (`thread~post`)")),
    responses(
        (status = 204, description = "Withdrawn (or there was none)"),
        (status = 401, response = E401),
        (status = 404, response = E404),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn withdraw_report(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let (tid, pid) = post_id(&id)?;
    state.service.report(&viewer(&me), &tid, &pid, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One report of a post.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Report)]
pub struct ReportJson {
    /// Who reported it.
    pub by: String,
    pub reason: String,
    #[schema(format = DateTime)]
    pub at: String,
}

/// A reported post awaiting a decision.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReportedPost)]
pub struct ReportedJson {
    pub thread: String,
    pub title: String,
    pub group: String,
    pub group_name: String,
    pub post: PostJson,
    /// Its open reports, the oldest first.
    pub reports: Vec<ReportJson>,
}

fn reported_json(r: &Reported, me: &str, now: i64) -> ReportedJson {
    ReportedJson {
        thread: r.thread.id.to_string(),
        title: r.thread.title.clone(),
        group: r.thread.group.to_string(),
        group_name: r.group_name.clone(),
        post: post_json(&r.thread.id, &r.post, me, now),
        reports: r
            .reports
            .iter()
            .map(|x| ReportJson {
                by: x.by.clone(),
                reason: x.reason.clone(),
                at: rfc3339(x.at),
            })
            .collect(),
    }
}

/// The moderation queue
///
/// Reported posts awaiting the caller's decision: in groups they own, on their wall, or —
/// for community managers — in every group they may read; the oldest report first (at most
/// 200). Hiding a post or showing it again (`PUT /posts/{id}/hidden`) closes its reports.
#[utoipa::path(
    get,
    path = "/moderation",
    tag = "moderation",
    responses(
        (status = 200, description = "Reported posts", body = inline(List<ReportedJson>)),
        (status = 401, response = E401),
    )
)]
pub(crate) async fn queue(
    State(state): State<AppState>,
    Me(me): Me,
) -> Result<Json<List<ReportedJson>>, AppError> {
    let q = state.service.moderation_queue(&viewer(&me)).await?;
    let now = state.service.now_ms();
    Ok(Json(List::all(
        q.iter().map(|r| reported_json(r, &me, now)).collect(),
    )))
}

/// A mark.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MarkBody {
    /// `official`, `outdated`, or null to clear it.
    #[schema(schema_with = crate::json::thread_mark)]
    mark: Option<String>,
}

/// Mark a thread official or outdated
///
/// Community managers (403 for others). Search ranks official threads' posts first and
/// outdated ones' last; pages show the mark. A library document is a thread: marked alike.
#[utoipa::path(
    put,
    path = "/threads/{id}/mark",
    tag = "moderation",
    params(("id" = String, Path, description = "A thread's (or document's) id")),
    request_body = MarkBody,
    responses(
        (status = 204, description = "Done"),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn mark(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<MarkBody>,
) -> Result<StatusCode, AppError> {
    let tid = doc_id(&id, DocKind::Thread)?;
    let mark = match b.mark.as_deref() {
        None => None,
        Some(m) => Some(
            ThreadMark::parse(m)
                .ok_or_else(|| AppError::invalid("mark must be official, outdated or null"))?,
        ),
    };
    state.service.mark_thread(&viewer(&me), &tid, mark).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A merge.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MergeBody {
    /// The group to send people to; null undoes the merge.
    into: Option<String>,
}

/// Merge a group into another
///
/// Community managers (403 for others): the group's page then points to the other. Its
/// content and members stay where they are.
#[utoipa::path(
    put,
    path = "/groups/{id}/merged_into",
    tag = "moderation",
    params(("id" = String, Path, description = "A group's id")),
    request_body = MergeBody,
    responses(
        (status = 204, description = "Done"),
        (status = 401, response = E401),
        (status = 403, response = E403),
        (status = 404, response = E404),
        (status = 415, response = E415),
        (status = 422, response = E422),
        (status = 429, response = E429),
    )
)]
pub(crate) async fn merge(
    State(state): State<AppState>,
    Me(me): Me,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<MergeBody>,
) -> Result<StatusCode, AppError> {
    let gid = doc_id(&id, DocKind::Group)?;
    let into = match b.into.as_deref() {
        None => None,
        Some(i) => Some(doc_id(i, DocKind::Group)?),
    };
    state
        .service
        .merge_group(&viewer(&me), &gid, into.as_ref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A group as suggestions show it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GroupCard)]
pub struct GroupCardJson {
    pub id: String,
    pub name: String,
    pub description: String,
    pub home_site: String,
    pub member_count: usize,
    pub is_member: bool,
    pub merged_into: Option<String>,
}

pub(crate) fn card_json(c: &GroupCard) -> GroupCardJson {
    GroupCardJson {
        id: c.id.to_string(),
        name: c.name.clone(),
        description: c.description.clone(),
        home_site: c.home_site.clone(),
        member_count: c.members,
        is_member: c.member,
        merged_into: c.merged_into.as_ref().map(ToString::to_string),
    }
}

/// A name (and description) to compare.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct SimilarQuery {
    /// The name of the group about to be created.
    name: String,
    #[serde(default)]
    description: String,
}

/// Groups like a new one
///
/// Before creating a group: the groups at every site the caller may see whose name is close
/// (most of its words, in English or French) or whose description holds all its words — to
/// join one instead. At most 8.
#[utoipa::path(
    get,
    path = "/groups/similar",
    tag = "groups",
    params(SimilarQuery),
    responses(
        (status = 200, description = "Likely the same group", body = inline(List<GroupCardJson>)),
        (status = 400, response = E400),
        (status = 401, response = E401),
    )
)]
pub(crate) async fn similar(
    State(state): State<AppState>,
    Me(me): Me,
    Query(q): Query<SimilarQuery>,
) -> Result<Json<List<GroupCardJson>>, AppError> {
    if q.name.len() > 300 || q.description.len() > 8 * 1024 {
        return Err(AppError::invalid("name or description too long"));
    }
    let found = state
        .service
        .similar_groups(&viewer(&me), &q.name, &q.description)
        .await?;
    Ok(Json(List::all(found.iter().map(card_json).collect())))
}

/// Two groups likely to be the same community.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LikelyDuplicate)]
pub struct DuplicateJson {
    /// The older one.
    pub group: GroupCardJson,
    pub duplicate: GroupCardJson,
}

/// Likely duplicate groups
///
/// Pairs of groups, at any sites, whose names share most of their words in English or
/// French (community managers only; groups already merged are left out).
#[utoipa::path(
    get,
    path = "/groups/duplicates",
    tag = "moderation",
    responses(
        (status = 200, description = "Pairs, the older group first", body = inline(List<DuplicateJson>)),
        (status = 401, response = E401),
        (status = 403, response = E403),
    )
)]
pub(crate) async fn duplicates(
    State(state): State<AppState>,
    Me(me): Me,
) -> Result<Json<List<DuplicateJson>>, AppError> {
    let pairs = state.service.duplicate_groups(&viewer(&me))?;
    Ok(Json(List::all(
        pairs
            .iter()
            .map(|(a, b)| DuplicateJson {
                group: card_json(a),
                duplicate: card_json(b),
            })
            .collect(),
    )))
}

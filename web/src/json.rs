//! The JSON shapes of the API (`shared/API.md`), and how each is made from what the node
//! holds. Handlers in [`crate::api`] and [`crate::personal`] return them; the OpenAPI
//! document ([`crate::openapi`]) describes them from these very types, so the doc comments
//! below are what integrators read.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{ToResponse, ToSchema};
use weft_node::crdt::{DocId, GroupView, PollView, PostView, ProfileView, ThreadView};
use weft_node::keys::Employee;
use weft_node::service::{Access, FeedItem, last_activity, post_ref};
use weft_node::service::{EventItem, Notification, PollResults};

use crate::time::rfc3339;

/// A page of a list: the items, and the cursor of the next page (for `?before=`), null on
/// the last one.
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    /// Pass it as `before` to get the next page; null when there is none.
    pub next: Option<String>,
}

impl<T> List<T> {
    /// A list that fits in one page.
    pub fn all(items: Vec<T>) -> List<T> {
        List { items, next: None }
    }
}

/// The error every endpoint answers with, with a fitting status: 400 malformed, 401 not
/// logged in, 403 not allowed, 404 unknown or not visible to the caller, 409 conflict, 413
/// too large, 415 not JSON, 422 invalid field, 429 rate limited (with `Retry-After`), 503
/// busy or shutting down.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorJson {
    pub error: ErrorBody,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable machine code (`not_found`, `unauthenticated`, `forbidden`, `bad_query`,
    /// `malformed`, `invalid`, `too_large`, `too_many`, `json_required`, `rate_limited`,
    /// `bad_credentials`, `busy`, `unavailable`, `internal`): clients translate it.
    pub code: String,
    /// A sentence in English, for people reading logs.
    pub message: String,
}

/// The error answers as the OpenAPI document names them (`#/components/responses/E404`…):
/// each is an [`ErrorJson`] with its status.
macro_rules! error_responses {
    ($($name:ident => $description:literal,)*) => {$(
        #[doc = concat!("The error answer: ", $description, ".")]
        pub struct $name;

        impl<'s> ToResponse<'s> for $name {
            fn response() -> (&'s str, RefOr<utoipa::openapi::Response>) {
                let content = ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorJson")))
                    .build();
                let response = ResponseBuilder::new()
                    .description($description)
                    .content("application/json", content)
                    .build();
                (stringify!($name), response.into())
            }
        }
    )*};
}

error_responses! {
    E400 => "Malformed request (`malformed`, `bad_query`)",
    E401 => "Not logged in (`unauthenticated`)",
    E403 => "Not allowed (`forbidden`)",
    E404 => "Unknown, or not visible to the caller (`not_found`)",
    E413 => "Too large (`too_large`)",
    E415 => "A write with the session cookie that is not JSON (`json_required`), or a body of the wrong type",
    E422 => "Invalid field (`invalid`, `too_many`)",
    E429 => "Rate limited (`rate_limited`; see `Retry-After`)",
    E503 => "Busy (`busy`) or shutting down (`unavailable`); try again",
}

/// A person: the first seven fields come from the company directory and are read only; the
/// rest are the employee's own.
#[derive(Debug, Serialize, ToSchema)]
pub struct Person {
    pub id: String,
    pub display_name: String,
    pub site: String,
    pub email: String,
    pub phone: String,
    pub title: String,
    pub department: String,
    /// Their manager's id, if the directory names one.
    pub manager: Option<String>,
    /// Where their picture is (changes when the picture does), or null.
    pub photo_url: Option<String>,
    /// Markdown.
    pub about: String,
    pub expertise: Vec<String>,
    pub interests: Vec<String>,
    pub languages: Vec<String>,
}

/// A person from the directory's entry and their profile document.
pub fn person_of(e: &Employee, p: ProfileView) -> Person {
    Person {
        id: e.id.clone(),
        display_name: e.display_name.clone(),
        site: e.site.clone(),
        email: e.email.clone(),
        phone: e.phone.clone(),
        title: e.title.clone(),
        department: e.department.clone(),
        manager: e.manager.clone(),
        photo_url: p
            .photo
            .filter(|h| !h.is_empty())
            .map(|h| format!("/api/v1/people/{}/photo?v={h}", e.id)),
        about: p.about,
        expertise: p.expertise,
        interests: p.interests,
        languages: p.languages,
    }
}

/// The caller, with their notification counters.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Me)]
pub struct MeJson {
    #[serde(flatten)]
    pub person: Person,
    pub notifications: Counters,
}

/// Notification counters.
#[derive(Debug, Serialize, ToSchema)]
pub struct Counters {
    /// Notifications the caller has not read.
    pub unread: usize,
}

/// `{"unread": n}`: what is left unread after marking.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unread {
    pub unread: usize,
}

/// A session: the token for `Authorization: Bearer`, and who it is for. The same token is
/// set as the session cookie.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionJson {
    pub token: String,
    pub user: Person,
}

/// Whether adding someone to a group made them a member or asked the owners.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipJson {
    /// `member` (200) or `requested` (202: a private group's owners decide).
    #[schema(schema_with = membership_status)]
    pub status: &'static str,
}

fn membership_status() -> RefOr<Schema> {
    one_of(&["member", "requested"])
}

/// A group, as the caller may see it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Group)]
pub struct GroupJson {
    pub id: String,
    pub name: String,
    pub description: String,
    /// `public` (anyone reads and joins), `private` (listed; content for members; join on
    /// request or invitation) or `secret` (unlisted; invitation only).
    #[schema(schema_with = visibility)]
    pub visibility: &'static str,
    /// Empty unless the caller has full access (a member, an invitee, or a public group).
    pub owners: Vec<String>,
    pub member_count: usize,
    pub is_member: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The site whose employee created it.
    pub home_site: String,
    /// The group a community manager merged this one into: go there instead.
    pub merged_into: Option<String>,
    /// Known here by its card only: a private group without members at this site (its
    /// content stays at its members' sites; ask to join with `POST /groups/{id}/members`).
    pub card: bool,
}

fn visibility() -> RefOr<Schema> {
    one_of(&["public", "private", "secret"])
}

pub(crate) fn visibility_values() -> RefOr<Schema> {
    visibility()
}

/// A string schema that takes one of `values`.
pub(crate) fn one_of(values: &[&str]) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .into()
}

/// A group as `me` sees it with `access`.
pub fn group_json(g: &GroupView, me: &str, access: Access) -> GroupJson {
    let full = access == Access::Full;
    GroupJson {
        id: g.id.to_string(),
        name: g.name.clone(),
        description: g.description.clone(),
        visibility: g.visibility.as_str(),
        owners: if full { g.owners.clone() } else { vec![] },
        member_count: g.members.len(),
        is_member: g.is_member(me),
        created_at: rfc3339(g.created_at),
        home_site: g.home_site.clone(),
        merged_into: g.merged_into.as_ref().map(ToString::to_string),
        card: false,
    }
}

/// A private group known here by its card (see [`GroupJson::card`]).
pub fn card_json(c: &weft_node::service::Card) -> GroupJson {
    GroupJson {
        id: c.group.to_string(),
        name: c.name.clone(),
        description: c.description.clone(),
        visibility: "private",
        owners: c.owners.clone(),
        member_count: usize::try_from(c.members).unwrap_or(usize::MAX),
        is_member: false,
        created_at: rfc3339(c.since),
        home_site: String::new(),
        merged_into: None,
        card: true,
    }
}

/// A post. Its id is `thread~post`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Post)]
pub struct PostJson {
    pub id: String,
    /// The author's employee id.
    pub author: String,
    /// The Markdown source (empty once deleted or hidden).
    pub body: String,
    /// The body as sanitized HTML: raw HTML shown as text, only http(s), mailto and relative
    /// links, @mentions and #topics linked.
    pub html: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub edited_at: Option<String>,
    /// The post this one answers, if any.
    pub reply_to: Option<String>,
    pub deleted: bool,
    /// Hidden by a moderator.
    pub hidden: bool,
    /// Why it was hidden: told to its author only.
    pub hidden_reason: Option<String>,
    /// Whether the caller reported it (and has not withdrawn the report).
    pub reported: bool,
    /// How many of each reaction (`like`, `love`, `bravo`, `laugh`, `insightful`,
    /// `support`).
    pub reactions: BTreeMap<String, usize>,
    /// The caller's own reactions.
    pub my_reactions: Vec<String>,
    /// Employee ids @mentioned.
    pub mentions: Vec<String>,
    /// #topics, lower case.
    pub topics: Vec<String>,
    /// The poll the post carries, if any (none once the post is deleted or hidden).
    pub poll: Option<PollJson>,
    /// The files it carries (none once the post is deleted or hidden).
    pub attachments: Vec<AttachmentJson>,
}

/// A file a post carries.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Attachment)]
pub struct AttachmentJson {
    /// The file's id (the SHA-256 of its bytes).
    pub id: String,
    pub name: String,
    pub size: u64,
    pub media_type: String,
    /// Where to fetch it (`GET /files/{id}`, ranges allowed).
    pub url: String,
    /// A photo's thumbnail (at most 480 pixels a side), if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
}

/// An attachment as the API shows it.
pub fn attachment_json(a: &weft_node::crdt::AttachmentView) -> AttachmentJson {
    AttachmentJson {
        id: a.hash.clone(),
        name: a.name.clone(),
        size: a.size,
        media_type: a.media_type.clone(),
        url: format!("/api/v1/files/{}", a.hash),
        thumbnail_url: a
            .thumbnail
            .as_ref()
            .map(|t| format!("/api/v1/files/{}", t.0)),
    }
}

/// A poll, as its viewer sees it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Poll)]
pub struct PollJson {
    /// The poll's id: its post's (`thread~post`), for `PUT /polls/{id}/vote`.
    pub id: String,
    pub question: String,
    pub options: Vec<PollOptionJson>,
    /// Whether a voter may choose several options.
    pub multiple: bool,
    /// When voting ends, if it does.
    #[schema(format = DateTime)]
    pub closes_at: Option<String>,
    pub closed: bool,
    /// Whether voters see the counts only once they have voted (or the poll closed).
    pub results_after_vote: bool,
    /// Whether the counts are shown to the caller (`votes` is null otherwise).
    pub results_visible: bool,
    /// How many employees voted (null while the counts are withheld).
    pub voters: Option<usize>,
    /// The option ids the caller chose.
    pub my_votes: Vec<String>,
}

/// One option of a poll.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PollOption)]
pub struct PollOptionJson {
    pub id: String,
    pub label: String,
    /// Votes for it, across every site (null while the counts are withheld).
    pub votes: Option<usize>,
}

/// The poll of post `post` of `thread` (by `author`) as `me` sees it at `now`.
pub fn poll_json(
    thread: &DocId,
    post: &str,
    author: &str,
    poll: &PollView,
    me: &str,
    now: i64,
) -> PollJson {
    poll_results_json(thread, post, &PollResults::of(poll, author, me, now))
}

/// A poll's JSON from what the service answered.
pub fn poll_results_json(thread: &DocId, post: &str, r: &PollResults) -> PollJson {
    PollJson {
        id: post_ref(thread, post),
        question: r.poll.question.clone(),
        options: r
            .poll
            .options
            .iter()
            .map(|(id, label)| PollOptionJson {
                id: id.clone(),
                label: label.clone(),
                votes: r.count(id),
            })
            .collect(),
        multiple: r.poll.multiple,
        closes_at: r.poll.closes_at.map(rfc3339),
        closed: r.closed,
        results_after_vote: r.poll.results_after_vote,
        results_visible: r.visible,
        voters: r.visible.then_some(r.voters),
        my_votes: r.mine.clone(),
    }
}

/// An event (a thread whose first post announces it).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Event)]
pub struct EventJson {
    /// The event's id: its thread's.
    pub id: String,
    pub group: String,
    pub group_name: String,
    pub title: String,
    /// The description (Markdown source) and as sanitized HTML.
    pub description: String,
    pub html: String,
    /// Who planned it (they alone change it).
    pub author: String,
    #[schema(format = DateTime)]
    pub starts_at: String,
    #[schema(format = DateTime)]
    pub ends_at: String,
    /// The IANA time zone it is planned in.
    pub time_zone: String,
    /// A place or a link.
    pub location: String,
    pub cancelled: bool,
    /// How many answered each way, across every site.
    pub rsvp: RsvpCounts,
    /// The caller's answer (`yes`, `maybe`, `no`), if any.
    pub my_rsvp: Option<String>,
}

/// Answers to an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct RsvpCounts {
    pub yes: usize,
    pub maybe: usize,
    pub no: usize,
}

/// An event as `me` sees it.
pub fn event_json(e: &EventItem, me: &str) -> EventJson {
    EventJson {
        id: e.thread.id.to_string(),
        group: e.thread.group.to_string(),
        group_name: e.group_name.clone(),
        title: e.title.clone(),
        html: crate::markdown::render(&e.description),
        description: e.description.clone(),
        author: e.author.clone(),
        starts_at: rfc3339(e.event.starts_at),
        ends_at: rfc3339(e.event.ends_at),
        time_zone: e.event.time_zone.clone(),
        location: e.event.location.clone(),
        cancelled: e.event.cancelled,
        rsvp: RsvpCounts {
            yes: e.event.count("yes"),
            maybe: e.event.count("maybe"),
            no: e.event.count("no"),
        },
        my_rsvp: e.answer_of(me).map(str::to_owned),
    }
}

/// A post of `thread` as `me` sees it at `now` (with `reported`: whether `me` reported it).
pub fn post_json(thread: &DocId, p: &PostView, me: &str, now: i64) -> PostJson {
    post_json_reported(thread, p, me, now, false)
}

/// [`post_json`], saying whether `me` reported it.
pub fn post_json_reported(
    thread: &DocId,
    p: &PostView,
    me: &str,
    now: i64,
    reported: bool,
) -> PostJson {
    let visible = !p.hidden && !p.deleted;
    PostJson {
        id: post_ref(thread, &p.id),
        author: p.author.clone(),
        body: if visible {
            p.body.clone()
        } else {
            String::new()
        },
        html: if visible {
            crate::markdown::render(&p.body)
        } else {
            String::new()
        },
        created_at: rfc3339(p.created_at),
        edited_at: p.edited_at.map(rfc3339),
        reply_to: p.reply_to.as_ref().map(|r| post_ref(thread, r)),
        deleted: p.deleted,
        hidden: p.hidden,
        hidden_reason: p
            .moderated
            .as_ref()
            .filter(|m| m.hidden && p.author == me)
            .map(|m| m.reason.clone()),
        reported,
        reactions: p
            .reactions
            .iter()
            .map(|(k, v)| (k.clone(), v.len()))
            .collect(),
        my_reactions: p
            .reactions
            .iter()
            .filter(|(_, v)| v.iter().any(|e| e == me))
            .map(|(k, _)| k.clone())
            .collect(),
        mentions: p.mentions.clone(),
        topics: p.topics.clone(),
        poll: p
            .poll
            .as_ref()
            .filter(|_| visible)
            .map(|poll| poll_json(thread, &p.id, &p.author, poll, me, now)),
        attachments: if visible {
            p.attachments.iter().map(attachment_json).collect()
        } else {
            Vec::new()
        },
    }
}

/// A thread with all its posts.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Thread)]
pub struct ThreadJson {
    pub id: String,
    /// The group it is in.
    pub group: String,
    pub title: String,
    /// The first post (null only while it has not arrived from its site).
    pub root: Option<PostJson>,
    pub replies: Vec<PostJson>,
    pub reply_count: usize,
    #[schema(format = DateTime)]
    pub last_activity: String,
    /// Whether the caller follows it (replies in it notify them).
    pub following: bool,
    /// A question thread, and the reply picked as its best answer (`thread~post`).
    pub question: bool,
    pub best_answer: Option<String>,
    /// Pinned at the top of its group by an owner.
    pub pinned: bool,
    /// The employee whose wall this is, if it is a wall.
    pub wall_of: Option<String>,
    /// An announcement's reach: the site it is for (null: everyone) and its end.
    pub announcement: Option<AnnouncementJson>,
    /// A community manager's mark: `official` or `outdated`.
    #[schema(schema_with = thread_mark)]
    pub mark: Option<&'static str>,
}

/// An announcement's reach.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Announcement)]
pub struct AnnouncementJson {
    /// The site whose people it is for; null: everyone.
    pub site: Option<String>,
    #[schema(format = DateTime)]
    pub expires_at: String,
}

impl AnnouncementJson {
    pub fn of(a: &weft_node::crdt::AnnouncementView) -> AnnouncementJson {
        AnnouncementJson {
            site: a.site.clone(),
            expires_at: rfc3339(a.expires_at),
        }
    }
}

/// A thread as `me` sees it at `now` (`following` left false: the caller fills it in).
pub fn thread_json(t: &ThreadView, me: &str, now: i64) -> ThreadJson {
    let mut posts = t.posts.iter().map(|p| {
        let reported = t.reports.iter().any(|r| r.post == p.id && r.by == me);
        post_json_reported(&t.id, p, me, now, reported)
    });
    let root = posts.next();
    let replies: Vec<PostJson> = posts.collect();
    ThreadJson {
        id: t.id.to_string(),
        group: t.group.to_string(),
        title: t.title.clone(),
        reply_count: replies.len(),
        root,
        replies,
        last_activity: rfc3339(last_activity(t)),
        following: false,
        question: t.question,
        best_answer: t.best_answer.as_ref().map(|b| post_ref(&t.id, b)),
        pinned: t.pinned,
        wall_of: t.wall_of.clone(),
        announcement: t.announcement.as_ref().map(AnnouncementJson::of),
        mark: t.mark.map(|m| m.as_str()),
    }
}

/// A thread in the caller's feed (a summary: open it with `GET /threads/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedThread {
    pub id: String,
    pub group: String,
    pub group_name: String,
    pub title: String,
    pub author: String,
    /// The start of the first post (Markdown source).
    pub excerpt: String,
    pub reply_count: usize,
    #[schema(format = DateTime)]
    pub last_activity: String,
    /// Someone else posted or edited since the caller last read it.
    pub unread: bool,
    pub following: bool,
}

/// A feed entry as the API shows it.
pub fn feed_thread(i: &FeedItem) -> FeedThread {
    FeedThread {
        id: i.thread.id.to_string(),
        group: i.thread.group.to_string(),
        group_name: i.group_name.clone(),
        title: i.thread.title.clone(),
        author: i.thread.author.clone(),
        excerpt: i.thread.excerpt.clone(),
        reply_count: i.thread.replies,
        last_activity: rfc3339(i.thread.last_activity),
        unread: i.unread,
        following: i.following,
    }
}

/// A notification.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Notification)]
pub struct NotificationJson {
    pub id: String,
    #[schema(schema_with = notice_kind)]
    pub kind: &'static str,
    /// The thread or group it is about.
    pub doc: String,
    /// The post it is about (`thread~post`), if any.
    pub post: Option<String>,
    /// Who did it (null when unknown).
    pub by: Option<String>,
    /// The thread's title or the group's name.
    pub title: String,
    #[schema(format = DateTime)]
    pub at: String,
    pub read: bool,
    /// Where the web UI shows it.
    pub url: String,
}

fn notice_kind() -> RefOr<Schema> {
    one_of(&[
        "mention",
        "reply",
        "join_request",
        "invitation",
        "wall",
        "event",
        "reminder",
        "poll_closed",
    ])
}

/// A notification as the API shows it.
pub fn notification_json(n: &Notification) -> NotificationJson {
    let url = match &n.post {
        Some(p) => format!("/threads/{}#p-{p}", n.doc),
        None => format!("/groups/{}", n.doc),
    };
    NotificationJson {
        id: n.id.to_string(),
        kind: n.kind.as_str(),
        doc: n.doc.clone(),
        post: n.post.as_ref().map(|p| format!("{}~{p}", n.doc)),
        by: (!n.by.is_empty()).then(|| n.by.clone()),
        title: n.title.clone(),
        at: rfc3339(n.at),
        read: n.read,
        url,
    }
}

/// One search result.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    #[schema(schema_with = hit_kind)]
    pub kind: &'static str,
    /// A post's id (`thread~post`), a group's id, or a person's id.
    pub id: String,
    /// For a post, its thread.
    pub thread: Option<String>,
    /// The thread's title, the group's name, or the person's name.
    pub title: String,
    /// An excerpt with the matched words in `<b>`; the rest is HTML-escaped.
    pub snippet: String,
    /// A post's thread marked by a community manager: `official` (ranked first) or
    /// `outdated` (ranked last).
    #[schema(schema_with = thread_mark)]
    pub mark: Option<&'static str>,
}

pub(crate) fn thread_mark() -> RefOr<Schema> {
    one_of(&["official", "outdated"])
}

fn hit_kind() -> RefOr<Schema> {
    one_of(&["post", "group", "person"])
}

//! Typed, read-only views of documents, so no caller handles Automerge paths.

use std::collections::{BTreeMap, HashMap};

use automerge::{ChangeHash, ObjType, ReadDoc, ScalarValue, ScalarValueRef, Value, ValueRef};

use crate::doc::Doc;
use crate::ids::DocId;
use crate::rules::Visibility;

/// The keys of the map at root key `map`, now.
pub(crate) fn map_keys(doc: &Doc, map: &str) -> Vec<String> {
    let am = doc.automerge();
    match am.get(automerge::ROOT, map) {
        Ok(Some((Value::Object(ObjType::Map), id))) => am.keys(&id).collect(),
        _ => Vec::new(),
    }
}

fn scalar_str(v: &Value<'_>) -> Option<String> {
    match v {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

fn scalar_i64(v: &Value<'_>) -> Option<i64> {
    match v {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Int(i) | ScalarValue::Timestamp(i) => Some(*i),
            ScalarValue::Uint(u) => i64::try_from(*u).ok(),
            _ => None,
        },
        _ => None,
    }
}

fn scalar_bool(v: &Value<'_>) -> Option<bool> {
    match v {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Boolean(b) => Some(*b),
            _ => None,
        },
        _ => None,
    }
}

fn obj_str(doc: &Doc, obj: &automerge::ObjId, key: &str) -> Option<String> {
    doc.automerge()
        .get(obj, key)
        .ok()
        .flatten()
        .and_then(|(v, _)| scalar_str(&v))
}

fn obj_i64(doc: &Doc, obj: &automerge::ObjId, key: &str) -> Option<i64> {
    doc.automerge()
        .get(obj, key)
        .ok()
        .flatten()
        .and_then(|(v, _)| scalar_i64(&v))
}

fn obj_bool(doc: &Doc, obj: &automerge::ObjId, key: &str) -> Option<bool> {
    doc.automerge()
        .get(obj, key)
        .ok()
        .flatten()
        .and_then(|(v, _)| scalar_bool(&v))
}

fn child_map(doc: &Doc, obj: &automerge::ObjId, key: &str) -> Option<automerge::ObjId> {
    match doc.automerge().get(obj, key) {
        Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    }
}

fn keys_of(doc: &Doc, obj: &automerge::ObjId) -> Vec<String> {
    doc.automerge().keys(obj).collect()
}

/// A group as people see it. Serializable, so that a node can keep it on disk and start
/// without reading the group's history again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupView {
    pub id: DocId,
    pub name: String,
    pub description: String,
    pub visibility: Visibility,
    pub created_by: String,
    pub created_at: i64,
    pub home_site: String,
    pub owners: Vec<String>,
    pub members: Vec<String>,
    pub invitations: Vec<String>,
    /// Employee → their message.
    pub requests: BTreeMap<String, String>,
    /// Thread id → title.
    pub threads: BTreeMap<DocId, String>,
    /// The group a community manager merged this one into (its page points there).
    #[serde(default)]
    pub merged_into: Option<DocId>,
}

impl GroupView {
    /// Reads a group document; `None` if it is not (yet) a group.
    pub fn of(doc: &Doc) -> Option<GroupView> {
        let root = automerge::ROOT;
        if doc.root_str("kind").as_deref() != Some("group") {
            return None;
        }
        let requests = child_map(doc, &root, "requests")
            .map(|m| {
                keys_of(doc, &m)
                    .into_iter()
                    .map(|k| {
                        let msg = obj_str(doc, &m, &k).unwrap_or_default();
                        (k, msg)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let threads = child_map(doc, &root, "threads")
            .map(|m| {
                keys_of(doc, &m)
                    .into_iter()
                    .filter_map(|k| {
                        let title = obj_str(doc, &m, &k).unwrap_or_default();
                        DocId::parse(&k).ok().map(|id| (id, title))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(GroupView {
            owners: map_keys(doc, "owners"),
            members: map_keys(doc, "members"),
            invitations: map_keys(doc, "invitations"),
            requests,
            threads,
            ..GroupView::settings_of(doc)?
        })
    }

    /// A group's settings alone (name, description, visibility, who made it, when, where),
    /// its lists left empty: what a group's search entry needs, without reading its
    /// thousands of members and threads.
    pub fn settings_of(doc: &Doc) -> Option<GroupView> {
        let root = automerge::ROOT;
        if doc.root_str("kind").as_deref() != Some("group") {
            return None;
        }
        Some(GroupView {
            id: doc.id().clone(),
            name: doc.root_str("name").unwrap_or_default(),
            description: doc.root_str("description").unwrap_or_default(),
            visibility: doc
                .root_str("visibility")
                .and_then(|v| Visibility::parse(&v))
                .unwrap_or(Visibility::Secret),
            created_by: doc.root_str("created_by").unwrap_or_default(),
            created_at: obj_i64(doc, &root, "created_at").unwrap_or_default(),
            home_site: doc.root_str("home_site").unwrap_or_default(),
            merged_into: doc
                .root_str("merged_into")
                .and_then(|g| DocId::parse(&g).ok())
                .filter(|g| g.kind() == crate::DocKind::Group),
            owners: Vec::new(),
            members: Vec::new(),
            invitations: Vec::new(),
            requests: BTreeMap::new(),
            threads: BTreeMap::new(),
        })
    }

    /// Reads one entry of one of the group's maps ([`crate::doc::GROUP_ENTRY_MAPS`]) again,
    /// as the document says now, into this view (see [`Doc::touched_entries`]); whether the
    /// entry is there now. The lists stay sorted, as [`GroupView::of`] reads them.
    pub fn reread_entry(&mut self, doc: &Doc, map: &str, key: &str) -> bool {
        let value = doc.map_entry(map, key);
        let present = value.is_some();
        let list =
            |v: &mut Vec<String>| match (v.binary_search_by(|m| m.as_str().cmp(key)), present) {
                (Err(i), true) => v.insert(i, key.to_owned()),
                (Ok(i), false) => {
                    v.remove(i);
                }
                _ => {}
            };
        match map {
            "owners" => list(&mut self.owners),
            "members" => list(&mut self.members),
            "invitations" => list(&mut self.invitations),
            "requests" => match value {
                Some(msg) => {
                    self.requests.insert(key.to_owned(), msg);
                }
                None => {
                    self.requests.remove(key);
                }
            },
            "threads" => {
                if let Ok(id) = DocId::parse(key) {
                    match value {
                        Some(title) => {
                            self.threads.insert(id, title);
                        }
                        None => {
                            self.threads.remove(&id);
                        }
                    }
                }
            }
            _ => {}
        }
        present
    }

    pub fn is_member(&self, employee: &str) -> bool {
        self.members.iter().any(|m| m == employee)
    }

    pub fn is_owner(&self, employee: &str) -> bool {
        self.owners.iter().any(|m| m == employee)
    }
}

/// A post (the thread's root post or a reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostView {
    pub id: String,
    pub author: String,
    /// Markdown source; empty once deleted.
    pub body: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub reply_to: Option<String>,
    pub deleted: bool,
    /// Hidden by a moderator.
    pub hidden: bool,
    /// A moderator's last decision on it (hidden or shown again), if any.
    pub moderated: Option<Moderated>,
    pub mentions: Vec<String>,
    pub topics: Vec<String>,
    /// Reaction kind → employees who reacted so (votes are in [`PollView::votes`]).
    pub reactions: BTreeMap<String, Vec<String>>,
    /// The poll made with the post, if any.
    pub poll: Option<PollView>,
    /// The event the post announces, if any.
    pub event: Option<EventView>,
    /// The files attached to it, by their hash's order.
    pub attachments: Vec<AttachmentView>,
}

/// A moderator's decision on a post: hidden (or shown again), by whom, why, when. Reports
/// made before it are closed by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moderated {
    pub hidden: bool,
    pub by: String,
    pub reason: String,
    pub at: i64,
}

/// What a group's card says besides its name and description.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CardView {
    pub group: DocId,
    pub owners: Vec<String>,
    pub members: u64,
    pub withdrawn: bool,
}

/// An employee's report of a post to the thread's moderators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportView {
    pub post: String,
    pub by: String,
    pub reason: String,
    pub at: i64,
}

/// A file attached to a post: its blob's hash, size, type and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentView {
    pub hash: String,
    pub size: u64,
    pub media_type: String,
    pub name: String,
    /// Its thumbnail (hash, size, media type), if it has a well-formed one.
    pub thumbnail: Option<(String, u64, String)>,
    /// The start of its text, for search (not shown).
    pub text: String,
}

/// An event and the answers to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventView {
    /// Start and end (ms since the epoch, UTC).
    pub starts_at: i64,
    pub ends_at: i64,
    /// The IANA time zone it is planned in.
    pub time_zone: String,
    pub location: String,
    pub cancelled: bool,
    /// Answer (`yes`, `maybe`, `no`) → the employees who gave it; each employee once.
    pub rsvps: BTreeMap<String, Vec<String>>,
}

impl EventView {
    /// `employee`'s answer, if any.
    pub fn answer_of(&self, employee: &str) -> Option<&str> {
        self.rsvps
            .iter()
            .find(|(_, who)| who.iter().any(|w| w == employee))
            .map(|(a, _)| a.as_str())
    }

    /// How many gave `answer`.
    pub fn count(&self, answer: &str) -> usize {
        self.rsvps.get(answer).map_or(0, Vec::len)
    }
}

/// A poll and its votes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollView {
    pub question: String,
    /// (option id, label), in order.
    pub options: Vec<(String, String)>,
    pub multiple: bool,
    pub closes_at: Option<i64>,
    pub results_after_vote: bool,
    /// Option id → the employees who chose it. In a single-choice poll a voter counts once,
    /// for the first of their options (two devices voting at once can leave two).
    pub votes: BTreeMap<String, Vec<String>>,
}

impl PollView {
    /// Whether the poll is closed at `now` (ms).
    pub fn closed(&self, now: i64) -> bool {
        self.closes_at.is_some_and(|c| now > c)
    }

    /// The options `employee` chose.
    pub fn choices_of(&self, employee: &str) -> Vec<String> {
        self.votes
            .iter()
            .filter(|(_, who)| who.iter().any(|w| w == employee))
            .map(|(o, _)| o.clone())
            .collect()
    }
}

/// Gives a post its reactions: the kinds that are votes go to its poll (or nowhere, if it
/// has none), the others stay reactions.
fn attach_reactions(post: &mut PostView, mut kinds: BTreeMap<String, Vec<String>>) {
    let votes: Vec<(String, Vec<String>)> = kinds
        .keys()
        .filter(|k| k.starts_with(crate::local::VOTE_PREFIX))
        .cloned()
        .collect::<Vec<_>>()
        .into_iter()
        .filter_map(|k| kinds.remove(&k).map(|v| (k, v)))
        .map(|(k, v)| (k[crate::local::VOTE_PREFIX.len()..].to_owned(), v))
        .collect();
    let rsvps: Vec<(String, Vec<String>)> = crate::local::RSVP_ANSWERS
        .iter()
        .filter_map(|a| {
            kinds
                .remove(&format!("{}{a}", crate::local::RSVP_PREFIX))
                .map(|v| ((*a).to_owned(), v))
        })
        .collect();
    kinds.retain(|k, _| !k.starts_with(crate::local::RSVP_PREFIX));
    post.reactions = kinds;
    if let Some(event) = post.event.as_mut() {
        event.rsvps.clear();
        let mut counted = std::collections::HashSet::new();
        // In the order yes, maybe, no: an employee counts once.
        for (answer, who) in rsvps {
            let who: Vec<String> = who
                .into_iter()
                .filter(|w| counted.insert(w.clone()))
                .collect();
            if !who.is_empty() {
                event.rsvps.insert(answer, who);
            }
        }
    }
    let Some(poll) = post.poll.as_mut() else {
        return;
    };
    poll.votes.clear();
    let mut counted = std::collections::HashSet::new();
    for (id, _) in &poll.options {
        let Some((_, who)) = votes.iter().find(|(o, _)| o == id) else {
            continue;
        };
        let who: Vec<String> = who
            .iter()
            .filter(|w| poll.multiple || counted.insert((*w).clone()))
            .cloned()
            .collect();
        if !who.is_empty() {
            poll.votes.insert(id.clone(), who);
        }
    }
}

/// A thread: its root post first, then replies in time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadView {
    pub id: DocId,
    pub group: DocId,
    pub title: String,
    pub author: String,
    pub created_at: i64,
    pub posts: Vec<PostView>,
    /// The employee whose wall this thread is, if it is one.
    pub wall_of: Option<String>,
    /// A library document: its folder (`""`: the top).
    pub library: Option<String>,
    /// A question thread: `best_answer` is the reply its asker (or an owner) picked.
    pub question: bool,
    pub best_answer: Option<String>,
    /// An announcement: for whom, until when.
    pub announcement: Option<AnnouncementView>,
    /// Pinned at the top of its group by an owner.
    pub pinned: bool,
    /// A community manager's mark: official or outdated.
    pub mark: Option<crate::rules::ThreadMark>,
    /// A group's card: the group it is of, and what it says besides its title (the group's
    /// name) and first post (its description).
    pub card: Option<CardView>,
    /// A site's statistics of a week: (site, week, figures as JSON).
    pub stats: Option<(String, String, String)>,
    /// Reports of its posts, oldest first (open or closed: see [`ThreadView::open_reports`]).
    pub reports: Vec<ReportView>,
}

/// An announcement's reach and end.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AnnouncementView {
    /// The site whose people it is for; `None`: everyone.
    pub site: Option<String>,
    pub expires_at: i64,
}

impl ThreadView {
    /// Reads a thread document; `None` if it is not (yet) a thread.
    pub fn of(doc: &Doc) -> Option<ThreadView> {
        let root = automerge::ROOT;
        if doc.root_str("kind").as_deref() != Some("thread") {
            return None;
        }
        let group = DocId::parse(&doc.root_str("group")?).ok()?;
        let mut reactions = read_reactions(doc);
        let moderation = child_map(doc, &root, "moderation");
        let mut posts = Vec::new();
        if let Some(p) = child_map(doc, &root, "posts") {
            // One pass over the posts map (a lookup per post would seek from the start).
            for item in doc.automerge().map_range(&p, ..) {
                if !matches!(item.value, ValueRef::Object(ObjType::Map)) {
                    continue;
                }
                let pid = item.key.to_string();
                let mut post = read_post_at(doc, &item.id(), moderation.as_ref(), &pid);
                attach_reactions(&mut post, reactions.remove(&pid).unwrap_or_default());
                posts.push(post);
            }
        }
        sort_posts(&mut posts, doc.root_str("root_post").as_ref());
        Some(ThreadView {
            id: doc.id().clone(),
            group,
            title: doc.root_str("title").unwrap_or_default(),
            author: doc.root_str("author").unwrap_or_default(),
            created_at: obj_i64(doc, &root, "created_at").unwrap_or_default(),
            posts,
            wall_of: doc.root_str("wall_of").filter(|w| !w.is_empty()),
            library: (obj_bool(doc, &automerge::ROOT, "library") == Some(true))
                .then(|| doc.root_str("folder").unwrap_or_default()),
            question: obj_bool(doc, &root, "question").unwrap_or(false),
            pinned: obj_bool(doc, &root, "pinned").unwrap_or(false),
            stats: doc.root_str("stats_site").map(|site| {
                (
                    site,
                    doc.root_str("stats_week").unwrap_or_default(),
                    doc.root_str("stats_data").unwrap_or_default(),
                )
            }),
            card: doc
                .root_str("card_of")
                .and_then(|g| DocId::parse(&g).ok())
                .map(|group| CardView {
                    group,
                    owners: doc
                        .root_str("card_owners")
                        .map(|o| o.split_whitespace().map(str::to_owned).collect())
                        .unwrap_or_default(),
                    members: obj_i64(doc, &root, "card_members")
                        .and_then(|n| u64::try_from(n).ok())
                        .unwrap_or(0),
                    withdrawn: obj_bool(doc, &root, "card_withdrawn").unwrap_or(false),
                }),
            mark: doc
                .root_str("mark")
                .and_then(|m| crate::rules::ThreadMark::parse(&m)),
            reports: moderation
                .as_ref()
                .map(|m| read_reports(doc, m))
                .unwrap_or_default(),
            best_answer: doc.root_str("best_answer").filter(|b| !b.is_empty()),
            announcement: child_map(doc, &root, "announcement").and_then(|a| {
                Some(AnnouncementView {
                    site: obj_str(doc, &a, "site").filter(|s| !s.is_empty()),
                    expires_at: obj_i64(doc, &a, "expires_at")?,
                })
            }),
        })
    }

    /// The reports no moderator has decided on yet: of a post that is there and not
    /// deleted, made after the post's last moderation mark (hiding or showing it again
    /// closes the reports before it).
    pub fn open_reports(&self) -> impl Iterator<Item = &ReportView> {
        self.reports.iter().filter(|r| {
            self.posts.iter().any(|p| {
                p.id == r.post
                    && !p.deleted
                    && !p.hidden
                    && p.moderated.as_ref().is_none_or(|m| m.at < r.at)
            })
        })
    }

    /// `old`, read when the document had heads `since`, brought up to date from the posts
    /// and reactions changed since (work in proportion to those changes, and a copy of the
    /// view). `None` when something else changed or `since` is not held: read it whole.
    pub fn updated(doc: &Doc, old: &ThreadView, since: &[ChangeHash]) -> Option<ThreadView> {
        if old.id != *doc.id() {
            return None;
        }
        let touched = doc.touched_post_views(since)?;
        let reactions = doc.touched_reactions(since)?;
        let mut v = old.clone();
        let at: HashMap<&str, usize> = old
            .posts
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.as_str(), i))
            .collect();
        let mut gone = Vec::new();
        for (pid, post) in touched.iter() {
            match (post, at.get(pid.as_str())) {
                (Some(p), Some(&i)) => {
                    let kept = std::mem::take(&mut v.posts[i].reactions);
                    let votes = v.posts[i].poll.take().map(|p| p.votes);
                    let rsvps = v.posts[i].event.take().map(|e| e.rsvps);
                    v.posts[i] = p.clone();
                    v.posts[i].reactions = kept;
                    if let (Some(poll), Some(votes)) = (v.posts[i].poll.as_mut(), votes) {
                        poll.votes = votes;
                    }
                    if let (Some(event), Some(rsvps)) = (v.posts[i].event.as_mut(), rsvps) {
                        event.rsvps = rsvps;
                    }
                }
                (Some(p), None) => v.posts.push(p.clone()),
                (None, Some(&i)) => gone.push(i),
                (None, None) => {}
            }
        }
        gone.sort_unstable();
        for i in gone.into_iter().rev() {
            v.posts.remove(i);
        }
        if reactions {
            let mut r = read_reactions(doc);
            for p in &mut v.posts {
                attach_reactions(p, r.remove(&p.id).unwrap_or_default());
            }
        }
        sort_posts(&mut v.posts, doc.root_str("root_post").as_ref());
        Some(v)
    }
}

/// Whether the Automerge state holds every one of `heads` (reads at other heads are empty).
fn applied(doc: &Doc, heads: &[ChangeHash]) -> bool {
    heads
        .iter()
        .all(|h| doc.automerge().get_change_by_hash(h).is_some())
}

/// A thread's reactions: post id → kind → employees.
fn read_reactions(doc: &Doc) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut reactions: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let Some(r) = child_map(doc, &automerge::ROOT, "reactions") else {
        return reactions;
    };
    for item in doc.automerge().map_range(&r, ..) {
        if !matches!(item.value, ValueRef::Scalar(ScalarValueRef::Boolean(true))) {
            continue;
        }
        let mut parts = item.key.splitn(3, ':');
        if let (Some(pid), Some(kind), Some(emp)) = (parts.next(), parts.next(), parts.next()) {
            reactions
                .entry(pid.to_owned())
                .or_default()
                .entry(kind.to_owned())
                .or_default()
                .push(emp.to_owned());
        }
    }
    reactions
}

/// A thread's order: its root post first, then replies by time (then id).
fn sort_posts(posts: &mut [PostView], root_post: Option<&String>) {
    posts.sort_by(|a, b| {
        let a_root = Some(&a.id) == root_post;
        let b_root = Some(&b.id) == root_post;
        b_root
            .cmp(&a_root)
            .then(a.created_at.cmp(&b.created_at))
            .then(a.id.cmp(&b.id))
    });
}

/// One post of a thread (without its reactions).
fn read_post(
    doc: &Doc,
    posts: &automerge::ObjId,
    moderation: Option<&automerge::ObjId>,
    pid: &str,
) -> Option<PostView> {
    let post = child_map(doc, posts, pid)?;
    Some(read_post_at(doc, &post, moderation, pid))
}

/// One post of a thread, from its map object.
fn read_post_at(
    doc: &Doc,
    post: &automerge::ObjId,
    moderation: Option<&automerge::ObjId>,
    pid: &str,
) -> PostView {
    let moderated = moderation.and_then(|m| read_moderated(doc, m, pid));
    let am = doc.automerge();
    let mut v = PostView {
        id: pid.to_owned(),
        author: String::new(),
        body: String::new(),
        created_at: 0,
        edited_at: None,
        reply_to: None,
        deleted: false,
        hidden: moderated.as_ref().is_some_and(|m| m.hidden),
        moderated,
        mentions: Vec::new(),
        topics: Vec::new(),
        reactions: BTreeMap::new(),
        poll: None,
        event: None,
        attachments: Vec::new(),
    };
    // One pass over the post's fields (a lookup per field costs a seek into the whole
    // document's operations each time); each key's value is the one `get` would give.
    for item in am.map_range(post, ..) {
        match (item.key.as_ref(), &item.value) {
            ("author", ValueRef::Scalar(s)) => v.author = ref_str(s).unwrap_or_default(),
            ("body", ValueRef::Scalar(s)) => v.body = ref_str(s).unwrap_or_default(),
            ("created_at", ValueRef::Scalar(s)) => v.created_at = ref_i64(s).unwrap_or_default(),
            ("edited_at", ValueRef::Scalar(s)) => v.edited_at = ref_i64(s),
            ("reply_to", ValueRef::Scalar(s)) => v.reply_to = ref_str(s),
            ("deleted", ValueRef::Scalar(s)) => {
                v.deleted = matches!(s, ScalarValueRef::Boolean(true));
            }
            ("mentions", ValueRef::Object(ObjType::Map)) => {
                v.mentions = am.keys(item.id()).collect()
            }
            ("topics", ValueRef::Object(ObjType::Map)) => v.topics = am.keys(item.id()).collect(),
            ("poll", ValueRef::Object(ObjType::Map)) => v.poll = read_poll(doc, &item.id()),
            ("event", ValueRef::Object(ObjType::Map)) => v.event = read_event(doc, &item.id()),
            ("attachments", ValueRef::Object(ObjType::Map)) => {
                v.attachments = read_attachments(doc, &item.id())
            }
            _ => {}
        }
    }
    v
}

/// A moderator's mark on `pid` in a thread's `moderation` map.
fn read_moderated(doc: &Doc, moderation: &automerge::ObjId, pid: &str) -> Option<Moderated> {
    let m = child_map(doc, moderation, pid)?;
    Some(Moderated {
        hidden: obj_bool(doc, &m, "hidden").unwrap_or(false),
        by: obj_str(doc, &m, "by").unwrap_or_default(),
        reason: obj_str(doc, &m, "reason").unwrap_or_default(),
        at: obj_i64(doc, &m, "at").unwrap_or_default(),
    })
}

/// A thread's reports (well-formed ones: a key naming a post and an employee, a reason),
/// oldest first.
fn read_reports(doc: &Doc, moderation: &automerge::ObjId) -> Vec<ReportView> {
    let prefix = crate::local::REPORT_PREFIX;
    let mut reports: Vec<ReportView> = doc
        .automerge()
        .map_range(moderation, prefix.to_owned()..)
        .take_while(|i| i.key.starts_with(prefix))
        .filter(|i| matches!(i.value, ValueRef::Object(ObjType::Map)))
        .filter_map(|i| {
            let (post, by) = i.key[prefix.len()..].split_once(':')?;
            let r = i.id();
            Some(ReportView {
                post: post.to_owned(),
                by: by.to_owned(),
                reason: obj_str(doc, &r, "reason")?,
                at: obj_i64(doc, &r, "at").unwrap_or_default(),
            })
        })
        .collect();
    reports.sort_by(|a, b| (a.at, &a.by).cmp(&(b.at, &b.by)));
    reports
}

fn ref_str(s: &ScalarValueRef<'_>) -> Option<String> {
    match s {
        ScalarValueRef::Str(s) => Some(s.to_string()),
        _ => None,
    }
}

fn ref_i64(s: &ScalarValueRef<'_>) -> Option<i64> {
    match s {
        ScalarValueRef::Int(i) | ScalarValueRef::Timestamp(i) => Some(*i),
        ScalarValueRef::Uint(u) => i64::try_from(*u).ok(),
        _ => None,
    }
}

/// A post's poll, from its map (without votes).
fn read_poll(doc: &Doc, poll: &automerge::ObjId) -> Option<PollView> {
    let mut options: Vec<(String, String)> = child_map(doc, poll, "options")
        .map(|o| {
            doc.automerge()
                .map_range(&o, ..)
                .filter_map(|i| match &i.value {
                    ValueRef::Scalar(s) => Some((i.key.to_string(), ref_str(s)?)),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    // Ids are 1, 2, …: in number order, not as text ("10" after "9").
    options.sort_by_key(|(id, _)| (id.parse::<u32>().unwrap_or(u32::MAX), id.clone()));
    Some(PollView {
        question: obj_str(doc, poll, "question")?,
        options,
        multiple: obj_bool(doc, poll, "multiple").unwrap_or(false),
        closes_at: obj_i64(doc, poll, "closes_at"),
        results_after_vote: obj_bool(doc, poll, "results_after_vote").unwrap_or(false),
        votes: BTreeMap::new(),
    })
}

/// A post's attachments, from their map (hash → fields); malformed entries are skipped.
fn read_attachments(doc: &Doc, map: &automerge::ObjId) -> Vec<AttachmentView> {
    doc.automerge()
        .map_range(map, ..)
        .filter(|i| matches!(i.value, ValueRef::Object(ObjType::Map)))
        .filter_map(|i| {
            let a = i.id();
            Some(AttachmentView {
                hash: i.key.to_string(),
                size: u64::try_from(obj_i64(doc, &a, "size")?).ok()?,
                media_type: obj_str(doc, &a, "media_type").unwrap_or_default(),
                name: obj_str(doc, &a, "name").unwrap_or_default(),
                text: obj_str(doc, &a, "text").unwrap_or_default(),
                thumbnail: child_map(doc, &a, "thumbnail").and_then(|t| {
                    let hash = obj_str(doc, &t, "hash")?;
                    crate::local::is_blob_hash(&hash).then_some(())?;
                    Some((
                        hash,
                        u64::try_from(obj_i64(doc, &t, "size")?).ok()?,
                        obj_str(doc, &t, "media_type").unwrap_or_default(),
                    ))
                }),
            })
        })
        .collect()
}

/// A post's event, from its map (without answers); `None` if its times are missing.
fn read_event(doc: &Doc, event: &automerge::ObjId) -> Option<EventView> {
    Some(EventView {
        starts_at: obj_i64(doc, event, "starts_at")?,
        ends_at: obj_i64(doc, event, "ends_at")?,
        time_zone: obj_str(doc, event, "time_zone").unwrap_or_default(),
        location: obj_str(doc, event, "location").unwrap_or_default(),
        cancelled: obj_bool(doc, event, "cancelled").unwrap_or(false),
        rsvps: BTreeMap::new(),
    })
}

/// [`read_post`] as a lookup per field: what the one-pass reading must agree with.
#[cfg(test)]
pub(crate) fn read_post_by_keys(doc: &Doc, pid: &str) -> Option<PostView> {
    let root = automerge::ROOT;
    let posts = child_map(doc, &root, "posts")?;
    let moderation = child_map(doc, &root, "moderation");
    let post = child_map(doc, &posts, pid)?;
    let moderated = moderation.and_then(|m| read_moderated(doc, &m, pid));
    let set = |k: &str| {
        child_map(doc, &post, k)
            .map(|m| keys_of(doc, &m))
            .unwrap_or_default()
    };
    Some(PostView {
        author: obj_str(doc, &post, "author").unwrap_or_default(),
        body: obj_str(doc, &post, "body").unwrap_or_default(),
        created_at: obj_i64(doc, &post, "created_at").unwrap_or_default(),
        edited_at: obj_i64(doc, &post, "edited_at"),
        reply_to: obj_str(doc, &post, "reply_to"),
        deleted: obj_bool(doc, &post, "deleted").unwrap_or(false),
        hidden: moderated.as_ref().is_some_and(|m| m.hidden),
        moderated,
        mentions: set("mentions"),
        topics: set("topics"),
        reactions: BTreeMap::new(),
        poll: child_map(doc, &post, "poll").and_then(|p| read_poll(doc, &p)),
        event: child_map(doc, &post, "event").and_then(|e| read_event(doc, &e)),
        attachments: child_map(doc, &post, "attachments")
            .map(|a| read_attachments(doc, &a))
            .unwrap_or_default(),
        id: pid.to_owned(),
    })
}

impl PostView {
    /// One post of a thread document, without its reactions (cheaper than the whole
    /// [`ThreadView`] when only a few posts changed).
    pub fn of(doc: &Doc, pid: &str) -> Option<PostView> {
        let root = automerge::ROOT;
        let posts = child_map(doc, &root, "posts")?;
        let moderation = child_map(doc, &root, "moderation");
        read_post(doc, &posts, moderation.as_ref(), pid)
    }

    /// Several posts of a thread document (each `None` if it is not a post), without their
    /// reactions.
    pub fn of_many(
        doc: &Doc,
        pids: impl IntoIterator<Item = String>,
    ) -> Vec<(String, Option<PostView>)> {
        let root = automerge::ROOT;
        let posts = child_map(doc, &root, "posts");
        let moderation = child_map(doc, &root, "moderation");
        pids.into_iter()
            .map(|pid| {
                let v = posts
                    .as_ref()
                    .and_then(|p| read_post(doc, p, moderation.as_ref(), &pid));
                (pid, v)
            })
            .collect()
    }

    /// The ids of the posts a thread document held at `heads` (which it must hold; none
    /// otherwise).
    pub fn ids_at(doc: &Doc, heads: &[ChangeHash]) -> std::collections::HashSet<String> {
        let am = doc.automerge();
        if !applied(doc, heads) {
            return Default::default();
        }
        match am.get_at(automerge::ROOT, "posts", heads) {
            Ok(Some((Value::Object(ObjType::Map), posts))) => am.keys_at(&posts, heads).collect(),
            _ => Default::default(),
        }
    }

    /// Which of `pids` were posts of the thread document at `heads` (false for all if the
    /// document does not hold those heads).
    pub fn existed_at<'a>(
        doc: &Doc,
        heads: &[ChangeHash],
        pids: impl IntoIterator<Item = &'a str>,
    ) -> Vec<bool> {
        let am = doc.automerge();
        let posts = if applied(doc, heads) {
            match am.get_at(automerge::ROOT, "posts", heads) {
                Ok(Some((Value::Object(ObjType::Map), posts))) => Some(posts),
                _ => None,
            }
        } else {
            None
        };
        pids.into_iter()
            .map(|pid| {
                posts.as_ref().is_some_and(|p| {
                    matches!(am.get_at(p, pid, heads), Ok(Some((Value::Object(_), _))))
                })
            })
            .collect()
    }

    /// The root post's id of a thread document.
    pub fn root_id(doc: &Doc) -> Option<String> {
        doc.root_str("root_post")
    }
}

/// An employee's own profile fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProfileView {
    pub about: String,
    /// Content hash of the photo blob, if any.
    pub photo: Option<String>,
    pub career: String,
    pub expertise: Vec<String>,
    pub interests: Vec<String>,
    pub languages: Vec<String>,
    /// Preferred UI language (`fr`, `en`).
    pub locale: Option<String>,
    /// The IANA time zone the employee chose for their times, if any.
    pub time_zone: Option<String>,
}

impl ProfileView {
    /// The profile picture's bytes, if any (read apart from the view: views are built
    /// often, pictures are wanted rarely).
    pub fn picture_of(doc: &Doc) -> Option<Vec<u8>> {
        match doc.automerge().get(automerge::ROOT, "picture") {
            Ok(Some((Value::Scalar(v), _))) => match v.as_ref() {
                ScalarValue::Bytes(b) if !b.is_empty() => Some(b.clone()),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn of(doc: &Doc) -> ProfileView {
        let root = automerge::ROOT;
        ProfileView {
            about: doc.root_str("about").unwrap_or_default(),
            photo: obj_str(doc, &root, "photo").filter(|s| !s.is_empty()),
            career: doc.root_str("career").unwrap_or_default(),
            expertise: map_keys(doc, "expertise"),
            interests: map_keys(doc, "interests"),
            languages: map_keys(doc, "languages"),
            locale: obj_str(doc, &root, "locale").filter(|s| !s.is_empty()),
            time_zone: obj_str(doc, &root, "time_zone").filter(|s| !s.is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::World;
    use crate::{NewGroup, Visibility};

    /// The one-pass reading of a post gives what a lookup per field gives, for every post of
    /// a thread with replies, mentions and topics, edits, deletions and a moderator's hiding
    /// made on another replica at the same time, merged both ways.
    #[test]
    fn a_post_read_in_one_pass_is_the_post_read_field_by_field() {
        let w = World::new(2, 4);
        let (cm, a) = (&w.authors[0], &w.authors[1]);
        let mut r1 = w.replica();
        let mut r2 = w.replica();
        let g = r1
            .create_group(
                a,
                &NewGroup {
                    name: "Views",
                    description: "",
                    visibility: Visibility::Public,
                    home_site: "site1",
                },
                1,
                1,
            )
            .unwrap();
        let (t, l) = r1
            .create_thread(a, g.doc(), "Title", "first #rust", 2, 2)
            .unwrap();
        let tid = t.doc().clone();
        let mut shared = vec![g, t, l];
        let mut pids = Vec::new();
        for i in 0..12 {
            let body = format!("reply {i} to @e2 about #topic{} and #weft", i % 3);
            let reply_to = pids.last().map(String::as_str);
            let (c, pid) = r1
                .reply(a, &tid, &body, reply_to, 10 + i, 100 + i as u64)
                .unwrap();
            shared.push(c);
            pids.push(pid);
        }
        let bytes = |cs: &[crate::SignedChange]| -> Vec<Vec<u8>> {
            cs.iter().map(|c| c.bytes().to_vec()).collect()
        };
        let b = bytes(&shared);
        assert!(
            r2.ingest_bytes(b.iter().map(Vec::as_slice))
                .rejected
                .is_empty()
        );
        // Edits and deletions by the author on one replica while a community manager hides
        // posts (edited ones too) on the other, then merged both ways.
        let mut one = Vec::new();
        let mut two = Vec::new();
        for (i, pid) in pids.iter().enumerate().take(6) {
            let body = format!("edited @e3 #x{i}");
            one.push(r1.edit_post(a, &tid, pid, &body, 50).unwrap());
        }
        one.push(r1.delete_post(a, &tid, &pids[7], 60).unwrap());
        one.push(r1.delete_post(a, &tid, &pids[0], 61).unwrap());
        two.push(
            r2.moderate(cm, &tid, &pids[1], true, "off topic", 62)
                .unwrap(),
        );
        two.push(r2.moderate(cm, &tid, &pids[8], true, "spam", 63).unwrap());
        let (b1, b2) = (bytes(&one), bytes(&two));
        let rep = r1.ingest_bytes(b2.iter().map(Vec::as_slice));
        assert!(rep.rejected.is_empty(), "{:?}", rep.rejected);
        assert!(
            r2.ingest_bytes(b1.iter().map(Vec::as_slice))
                .rejected
                .is_empty()
        );
        for r in [&r1, &r2] {
            let d = r.doc(&tid).unwrap();
            let mut all: Vec<String> = pids.clone();
            all.push(PostView::root_id(d).unwrap());
            for pid in &all {
                let fast = PostView::of(d, pid).unwrap();
                assert_eq!(
                    Some(&fast),
                    read_post_by_keys(d, pid).as_ref(),
                    "post {pid}"
                );
            }
        }
        // The readings were of something: edits, deletions, hiding and sets show.
        let d = r1.doc(&tid).unwrap();
        let p0 = PostView::of(d, &pids[0]).unwrap();
        assert!(p0.deleted && p0.body.is_empty());
        let p1 = PostView::of(d, &pids[1]).unwrap();
        assert!(p1.body.starts_with("edited") && p1.edited_at.is_some() && p1.hidden);
        assert_eq!(p1.mentions, vec!["e3".to_owned()]);
        assert!(PostView::of(d, &pids[8]).unwrap().hidden);
        let p11 = PostView::of(d, &pids[11]).unwrap();
        assert_eq!(p11.mentions, vec!["e2".to_owned()]);
        assert_eq!(p11.topics.len(), 2);
        assert_eq!(p11.reply_to.as_deref(), Some(pids[10].as_str()));
    }
}

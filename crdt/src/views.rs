//! Typed, read-only views of documents, so no caller handles Automerge paths.

use std::collections::BTreeMap;

use automerge::{ObjType, ReadDoc, ScalarValue, Value};

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

/// A group as people see it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
            owners: map_keys(doc, "owners"),
            members: map_keys(doc, "members"),
            invitations: map_keys(doc, "invitations"),
            requests,
            threads,
        })
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
    pub mentions: Vec<String>,
    pub topics: Vec<String>,
    /// Reaction kind → employees who reacted so.
    pub reactions: BTreeMap<String, Vec<String>>,
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
}

impl ThreadView {
    /// Reads a thread document; `None` if it is not (yet) a thread.
    pub fn of(doc: &Doc) -> Option<ThreadView> {
        let root = automerge::ROOT;
        if doc.root_str("kind").as_deref() != Some("thread") {
            return None;
        }
        let group = DocId::parse(&doc.root_str("group")?).ok()?;
        let mut reactions: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
        if let Some(r) = child_map(doc, &root, "reactions") {
            for key in keys_of(doc, &r) {
                if obj_bool(doc, &r, &key) != Some(true) {
                    continue;
                }
                let mut parts = key.splitn(3, ':');
                if let (Some(pid), Some(kind), Some(emp)) =
                    (parts.next(), parts.next(), parts.next())
                {
                    reactions
                        .entry(pid.to_owned())
                        .or_default()
                        .entry(kind.to_owned())
                        .or_default()
                        .push(emp.to_owned());
                }
            }
        }
        let moderation = child_map(doc, &root, "moderation");
        let mut posts = Vec::new();
        if let Some(p) = child_map(doc, &root, "posts") {
            for pid in keys_of(doc, &p) {
                if let Some(mut post) = read_post(doc, &p, moderation.as_ref(), &pid) {
                    post.reactions = reactions.remove(&pid).unwrap_or_default();
                    posts.push(post);
                }
            }
        }
        let root_post = doc.root_str("root_post");
        posts.sort_by(|a, b| {
            let a_root = Some(&a.id) == root_post.as_ref();
            let b_root = Some(&b.id) == root_post.as_ref();
            b_root
                .cmp(&a_root)
                .then(a.created_at.cmp(&b.created_at))
                .then(a.id.cmp(&b.id))
        });
        Some(ThreadView {
            id: doc.id().clone(),
            group,
            title: doc.root_str("title").unwrap_or_default(),
            author: doc.root_str("author").unwrap_or_default(),
            created_at: obj_i64(doc, &root, "created_at").unwrap_or_default(),
            posts,
        })
    }
}

/// One post of a thread (without its reactions).
fn read_post(
    doc: &Doc,
    posts: &automerge::ObjId,
    moderation: Option<&automerge::ObjId>,
    pid: &str,
) -> Option<PostView> {
    let post = child_map(doc, posts, pid)?;
    let hidden = moderation
        .and_then(|m| child_map(doc, m, pid))
        .and_then(|m| obj_bool(doc, &m, "hidden"))
        .unwrap_or(false);
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
        hidden,
        mentions: set("mentions"),
        topics: set("topics"),
        reactions: BTreeMap::new(),
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

    /// The root post's id of a thread document.
    pub fn root_id(doc: &Doc) -> Option<String> {
        doc.root_str("root_post")
    }
}

/// An employee's own profile fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
        }
    }
}

//! Making changes as a local author: the typed API that the node calls.
//!
//! Each function makes one Automerge change under the author's actor, signs it, and ingests
//! it through the very pipeline that judges peers' changes, so a local user can do nothing a
//! receiving node would refuse. The change is made on the document's own state (no copy); if
//! the pipeline refuses it, the document is rebuilt from its accepted changes.

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{Automerge, AutomergeError, ChangeHash, ObjType, ROOT, ReadDoc, ScalarValue};
use weft_keys::{EmployeeCert, SecretKey, Signed};

use crate::change::{Context, DecodeError, SignedChange};
use crate::ids::{DocId, DocKind, actor_of};
use crate::replica::{Rejection, Replica, ReplicaError, Verdict, Waiting};
use crate::rules::Visibility;
use crate::text::mentions_and_topics;

/// The longest post body accepted, in bytes of Markdown.
pub const MAX_BODY: usize = 64 * 1024;
/// The longest title, group name or short field, in bytes.
pub const MAX_TITLE: usize = 300;
/// Most options of a poll, and the longest option label (bytes).
pub const MAX_POLL_OPTIONS: usize = 20;
pub const MAX_POLL_OPTION: usize = 200;

/// A poll made with a post (the thread's first post, or a reply). Its definition is part of
/// the post, written once with it; votes are the voters' own entries in the thread's
/// `reactions` map (`<post>:vote.<option>:<employee>`), which every node already accepts
/// from their author (see `rules.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPoll {
    pub question: String,
    /// The labels, in order; their ids are `1`, `2`, …
    pub options: Vec<String>,
    /// Whether a voter may choose several options.
    pub multiple: bool,
    /// When voting ends (ms since the epoch), if it does.
    pub closes_at: Option<i64>,
    /// Whether voters see the results only once they have voted (a display choice: every
    /// site holding the thread holds every vote).
    pub results_after_vote: bool,
}

impl NewPoll {
    fn check(&self) -> Result<(), LocalError> {
        if self.question.trim().is_empty() {
            return Err(LocalError::Invalid("a poll needs a question"));
        }
        limit("question", &self.question, MAX_TITLE)?;
        if self.options.len() < 2 {
            return Err(LocalError::Invalid("a poll needs at least two options"));
        }
        at_most("poll options", self.options.len(), MAX_POLL_OPTIONS)?;
        for o in &self.options {
            if o.trim().is_empty() {
                return Err(LocalError::Invalid("a poll option needs a label"));
            }
            limit("option", o, MAX_POLL_OPTION)?;
        }
        Ok(())
    }
}
/// The longest place or link of an event, and its time zone's name (bytes).
pub const MAX_LOCATION: usize = 1024;
pub const MAX_TIME_ZONE: usize = 64;
/// The longest an event may last (a year, in ms).
pub const MAX_EVENT_MS: i64 = 366 * 24 * 3600 * 1000;
/// The answers of an RSVP.
pub const RSVP_ANSWERS: [&str; 3] = ["yes", "maybe", "no"];
/// What an RSVP's reaction kind starts with (`rsvp.<answer>`).
pub const RSVP_PREFIX: &str = "rsvp.";

/// An event made with a post (a thread's first post): the thread's title is its title, the
/// post its description. The post's author may change it later (times, place, cancelled);
/// RSVPs are the employees' own entries in the thread's `reactions` map
/// (`<post>:rsvp.<yes|maybe|no>:<employee>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Start and end (ms since the epoch, UTC).
    pub starts_at: i64,
    pub ends_at: i64,
    /// The IANA name of the time zone it is planned in (`Europe/Paris`), for showing it
    /// in its own time and in calendars.
    pub time_zone: String,
    /// A place or a link (may be empty).
    pub location: String,
    /// Cancelled (kept, shown as cancelled, and so in calendars).
    pub cancelled: bool,
}

impl NewEvent {
    fn check(&self) -> Result<(), LocalError> {
        if self.ends_at < self.starts_at {
            return Err(LocalError::Invalid("an event ends after it starts"));
        }
        if self.ends_at - self.starts_at > MAX_EVENT_MS {
            return Err(LocalError::Invalid("an event lasts a year at most"));
        }
        limit("time zone", &self.time_zone, MAX_TIME_ZONE)?;
        limit("location", &self.location, MAX_LOCATION)?;
        Ok(())
    }
}

/// An announcement: a thread of the All company group that communication teams pin at the
/// top of the feeds of the whole company, or of one site's people, until it expires (or each
/// reader dismisses it). Only community managers and the directory's `communication` role
/// make one (`rules.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAnnouncement {
    /// The site whose people it is for; `None`: everyone.
    pub site: Option<String>,
    /// When it stops being pinned (ms).
    pub expires_at: i64,
}

/// What a new thread is besides its title and first post.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadExtras<'a> {
    /// A poll in its first post.
    pub poll: Option<&'a NewPoll>,
    /// An event its first post announces.
    pub event: Option<&'a NewEvent>,
    /// The employee whose wall it is (a thread of the All company group that anyone
    /// writes in and its owner moderates).
    pub wall_of: Option<&'a str>,
    /// A question: its asker (or a group owner) may mark one reply the best answer.
    pub question: bool,
    pub announcement: Option<&'a NewAnnouncement>,
    /// A document of the group's library, in this folder (`""`: the top; `/` separates
    /// folders): its first post is the first version, each later version a reply carrying
    /// the new file.
    pub library: Option<&'a str>,
    /// Files the first post carries (written with it).
    pub files: &'a [Attachment],
    /// The card of this (private) group: a thread of the All company group that every site
    /// holds, saying the group's name (its title), description (its first post), owners
    /// and member count, so employees anywhere can find it and ask to join.
    pub card_of: Option<&'a DocId>,
    /// A site's statistics of a week (`site`, `week`): a thread of the All company group
    /// written by an employee of that site, its figures in `stats_data` (JSON).
    pub stats: Option<(&'a str, &'a str)>,
}

/// What a group's card says (see [`ThreadExtras::card_of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFields<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub owners: &'a [String],
    pub members: u64,
    /// The group is no longer private (public: every site holds it; secret: unlisted).
    pub withdrawn: bool,
}

/// The largest statistics a site's weekly document holds (bytes of JSON).
pub const MAX_STATS: usize = 256 * 1024;

/// The longest list of owners a card names (bytes).
pub const MAX_CARD_OWNERS: usize = 4_000;

/// The longest folder path of a library document.
pub const MAX_FOLDER: usize = 200;

/// A folder path as kept: segments trimmed, empty ones dropped, joined with `/`.
pub fn clean_folder(path: &str) -> String {
    path.split('/')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

/// The most files one post carries.
pub const MAX_ATTACHMENTS: usize = 20;

/// A file to attach to a post: its blob's SHA-256 (64 lowercase hex digits), size, media
/// type and name. The blob travels apart (see `weft-node`'s `blobs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub hash: String,
    pub size: u64,
    pub media_type: String,
    pub name: String,
    /// A smaller picture of it (a photo's thumbnail, made by the uploader's node), if any.
    pub thumbnail: Option<Thumbnail>,
    /// The start of its text (a document's, read by the uploader's node), at most
    /// [`MAX_FILE_TEXT`] bytes: what search finds it by at every site.
    pub text: Option<String>,
}

/// The most text an attachment carries.
pub const MAX_FILE_TEXT: usize = 16 * 1024;

/// A picture standing for a file: its blob's hash, size and media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pub hash: String,
    pub size: u64,
    pub media_type: String,
}

/// Checks files to attach: how many, their hashes, names and types.
fn check_files(files: &[Attachment]) -> Result<(), LocalError> {
    at_most("attachments", files.len(), MAX_ATTACHMENTS)?;
    for f in files {
        if !is_blob_hash(&f.hash) {
            return Err(LocalError::Invalid(
                "an attachment names a blob by its hash",
            ));
        }
        limit("file name", &f.name, MAX_TITLE)?;
        limit("media type", &f.media_type, 100)?;
        if let Some(t) = &f.thumbnail {
            if !is_blob_hash(&t.hash) {
                return Err(LocalError::Invalid("a thumbnail names a blob by its hash"));
            }
            limit("media type", &t.media_type, 100)?;
        }
        if let Some(t) = &f.text {
            limit("file text", t, MAX_FILE_TEXT)?;
        }
    }
    Ok(())
}

/// Writes files into a post's `attachments` map.
fn write_files(
    tx: &mut Transaction<'_>,
    post: &automerge::ObjId,
    files: &[Attachment],
) -> Result<(), LocalError> {
    let m = map_in(tx, post, "attachments")?;
    for f in files {
        let a = tx.put_object(&m, f.hash.as_str(), ObjType::Map)?;
        tx.put(&a, "size", ScalarValue::Uint(f.size))?;
        tx.put(&a, "media_type", f.media_type.as_str())?;
        tx.put(&a, "name", f.name.as_str())?;
        if let Some(t) = &f.thumbnail {
            let th = tx.put_object(&a, "thumbnail", ObjType::Map)?;
            tx.put(&th, "hash", t.hash.as_str())?;
            tx.put(&th, "size", ScalarValue::Uint(t.size))?;
            tx.put(&th, "media_type", t.media_type.as_str())?;
        }
        if let Some(t) = f.text.as_deref().filter(|t| !t.is_empty()) {
            tx.put(&a, "text", t)?;
        }
    }
    Ok(())
}

/// Whether `s` names a blob: 64 lowercase hex digits.
pub fn is_blob_hash(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The longest group description or profile text, in bytes.
pub const MAX_TEXT: usize = 8 * 1024;
/// The longest reason of a report or a moderator's decision (bytes).
pub const MAX_REASON: usize = 1_000;
/// The prefix of a report's key in a thread's `moderation` map:
/// `report:<post>:<employee>` (see [`report_key`]).
pub const REPORT_PREFIX: &str = "report:";
/// The most distinct @mentions one post may carry. Each is an operation of the change, and
/// each notifies someone; 50 is a long meeting's invitation list.
pub const MAX_MENTIONS: usize = 50;
/// The most distinct #topics one post may carry. Each is an operation of the change and a
/// term of the search index; 25 is far beyond any honest tagging.
pub const MAX_TOPICS: usize = 25;
/// The most items one profile list (expertise, interests, languages) may hold.
pub const MAX_LIST_ITEMS: usize = 50;
/// A profile picture's size limit (small enough that keeping every version in the profile's
/// history costs little: the web UI sends a 256-pixel JPEG).
pub const MAX_PICTURE: usize = 64 * 1024;

/// An employee able to sign: the key their home node holds for them and its certificate.
#[derive(Clone)]
pub struct Author {
    pub employee: String,
    pub key: SecretKey,
    pub cert: Signed<EmployeeCert>,
}

impl std::fmt::Debug for Author {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Author({})", self.employee)
    }
}

/// Why a local change could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    #[error("no directory yet")]
    NoDirectory,
    #[error("unknown document {0}")]
    UnknownDoc(DocId),
    #[error("not allowed: {0}")]
    Refused(Rejection),
    #[error("cannot be judged yet: waiting for {0:?}")]
    Waiting(Waiting),
    #[error("invalid: {0}")]
    Invalid(&'static str),
    #[error("{field} is too long ({len} bytes, limit {limit})")]
    TooLong {
        field: &'static str,
        len: usize,
        limit: usize,
    },
    /// Too many of something in one change (mentions, topics, list items, or the change's
    /// operations as a whole).
    #[error("too many {what}: {count}, limit {limit}")]
    TooMany {
        what: &'static str,
        count: usize,
        limit: usize,
    },
    #[error("document error: {0}")]
    Automerge(String),
    #[error(transparent)]
    Replica(#[from] ReplicaError),
}

impl From<AutomergeError> for LocalError {
    fn from(e: AutomergeError) -> Self {
        LocalError::Automerge(e.to_string())
    }
}

fn at_most(what: &'static str, count: usize, limit: usize) -> Result<(), LocalError> {
    if count > limit {
        return Err(LocalError::TooMany { what, count, limit });
    }
    Ok(())
}

/// The mentions and topics of a post body, within their caps.
fn checked_mentions_and_topics(body: &str) -> Result<(Vec<String>, Vec<String>), LocalError> {
    let (mentions, topics) = mentions_and_topics(body);
    at_most("mentions", mentions.len(), MAX_MENTIONS)?;
    at_most("topics", topics.len(), MAX_TOPICS)?;
    Ok((mentions, topics))
}

fn limit(field: &'static str, value: &str, max: usize) -> Result<(), LocalError> {
    if value.len() > max {
        return Err(LocalError::TooLong {
            field,
            len: value.len(),
            limit: max,
        });
    }
    Ok(())
}

/// Where a local change goes.
enum Target<'a> {
    /// An existing, non-empty document.
    Existing(&'a DocId),
    /// A new document of a kind, with its id fixed (profiles) or derived from the change.
    New(DocKind, Option<&'a DocId>),
}

/// A new group's settings.
#[derive(Debug, Clone)]
pub struct NewGroup<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub visibility: Visibility,
    /// The creator's home site.
    pub home_site: &'a str,
}

/// Changes to a group's settings; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct GroupSettings<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub visibility: Option<Visibility>,
}

/// Changes to a profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate<'a> {
    pub about: Option<&'a str>,
    /// A short id of the picture (for caches: its digest), set with `picture`.
    pub photo: Option<&'a str>,
    /// The picture's bytes (at most [`MAX_PICTURE`]); empty removes it. The caller checks it
    /// is an image; it replicates with the profile, signed like any other field.
    pub picture: Option<&'a [u8]>,
    pub career: Option<&'a str>,
    pub expertise: Option<&'a [String]>,
    pub interests: Option<&'a [String]>,
    pub languages: Option<&'a [String]>,
    pub locale: Option<&'a str>,
    /// The IANA time zone the employee's times are shown in (empty: the browser's).
    pub time_zone: Option<&'a str>,
}

fn map_in(
    tx: &mut Transaction<'_>,
    obj: &automerge::ObjId,
    key: &str,
) -> Result<automerge::ObjId, LocalError> {
    match tx.get(obj, key)? {
        Some((automerge::Value::Object(ObjType::Map), id)) => Ok(id),
        _ => Ok(tx.put_object(obj, key, ObjType::Map)?),
    }
}

fn root_map(tx: &mut Transaction<'_>, key: &str) -> Result<automerge::ObjId, LocalError> {
    match tx.get(ROOT, key)? {
        Some((automerge::Value::Object(ObjType::Map), id)) => Ok(id),
        _ => Err(LocalError::Invalid("document lacks a required map")),
    }
}

/// Replaces the keys of the set at `obj[key]` with `items` (a map of item → true).
fn set_items(
    tx: &mut Transaction<'_>,
    obj: &automerge::ObjId,
    key: &str,
    items: &[String],
) -> Result<(), LocalError> {
    at_most("items", items.len(), MAX_LIST_ITEMS)?;
    let set = map_in(tx, obj, key)?;
    let existing: Vec<String> = tx.keys(&set).collect();
    for k in &existing {
        if !items.contains(k) {
            tx.delete(&set, k.as_str())?;
        }
    }
    for item in items {
        let item = item.trim();
        if !item.is_empty() && !existing.iter().any(|k| k == item) {
            limit("item", item, MAX_TITLE)?;
            tx.put(&set, item, true)?;
        }
    }
    Ok(())
}

/// A post id: the author's whole key id, then a nonce. The write rules bind a post's key to
/// its author's key id (see [`crate::rules`]), so no one else can create, or win a conflict
/// over, a post under that key. A thread's root post gets the id of its genesis nonce.
pub fn post_id(author: &Author, nonce: u64) -> String {
    format!("{}-{nonce:016x}", author.key.public().id())
}

impl Replica {
    /// After a local change to a group's applied state (made, or undone by a rebuild): who
    /// may hold it, again.
    fn refresh_group_access(&mut self, id: &DocId) {
        if id.kind() == DocKind::Group {
            self.refresh_access(id);
        }
    }

    /// Makes, signs and ingests one change on `target`. Returns the signed change, ready to
    /// store and send.
    fn local_change(
        &mut self,
        author: &Author,
        target: Target<'_>,
        group: Option<&DocId>,
        now: i64,
        edit: impl FnOnce(&mut Transaction<'_>) -> Result<(), LocalError>,
    ) -> Result<SignedChange, LocalError> {
        let dir_version = self
            .directory()
            .map(|d| d.version())
            .ok_or(LocalError::NoDirectory)?;
        self.add_certificate(&author.cert)?;
        // Documents put away are read back first.
        if let Target::Existing(id) = target {
            self.load(id);
        }
        if let Some(g) = group {
            self.load(g);
        }
        let auth_heads: Vec<ChangeHash> = match group {
            Some(g) => self
                .doc(g)
                .filter(|d| !d.is_empty())
                .ok_or_else(|| LocalError::UnknownDoc(g.clone()))?
                .heads(),
            None => Vec::new(),
        };
        let actor = actor_of(author.key.public().id());
        let context = Context {
            doc: match target {
                Target::Existing(id) | Target::New(_, Some(id)) => Some(id.clone()),
                Target::New(_, None) => None,
            },
            kind: match target {
                Target::Existing(id) => id.kind(),
                Target::New(kind, _) => kind,
            },
            dir_version,
            auth_heads,
        };
        let message = context.to_message();
        let (doc_id, change) = match target {
            Target::Existing(id) => {
                if self.doc(id).is_none_or(|d| d.is_empty()) {
                    return Err(LocalError::UnknownDoc(id.clone()));
                }
                let doc = self.doc_mut_or_new(id);
                doc.flush();
                let am = doc.automerge_mut();
                am.set_actor(actor);
                let change = commit(am, now, message, edit);
                if change.is_err() {
                    doc.rebuild();
                }
                (id.clone(), change?)
            }
            Target::New(kind, fixed_id) => {
                let mut am = Automerge::new();
                am.set_actor(actor);
                let change = commit(&mut am, now, message, edit)?;
                let id = match fixed_id {
                    Some(id) => id.clone(),
                    None => DocId::from_genesis(kind, &change.hash()),
                };
                let doc = self.doc_mut_or_new(&id);
                if !doc.is_empty() {
                    return Err(LocalError::Invalid("document already exists"));
                }
                doc.set_automerge(am);
                (id, change)
            }
        };
        let change_len = change.raw_bytes().len();
        let signed = match SignedChange::seal(&author.key, &author.employee, change) {
            Ok(s) => s,
            Err(e) => {
                self.doc_mut_or_new(&doc_id).rebuild();
                return Err(match e {
                    DecodeError::TooMany { what, count, limit } => {
                        LocalError::TooMany { what, count, limit }
                    }
                    DecodeError::Envelope(_) => LocalError::TooLong {
                        field: "change",
                        len: change_len,
                        limit: crate::change::MAX_CHANGE_BYTES,
                    },
                    _ => LocalError::Invalid("malformed change"),
                });
            }
        };
        match self.judge_with(&signed, true, false) {
            Verdict::Accept => {
                self.refresh_group_access(&doc_id);
                let _woken = self.wake(&Waiting::Change(doc_id.clone(), signed.hash()));
                Ok(signed)
            }
            Verdict::Reject(r, _) => {
                self.doc_mut_or_new(&doc_id).rebuild();
                self.refresh_group_access(&doc_id);
                Err(LocalError::Refused(r))
            }
            Verdict::Wait(w, _) => {
                self.doc_mut_or_new(&doc_id).rebuild();
                self.refresh_group_access(&doc_id);
                Err(LocalError::Waiting(w))
            }
        }
    }

    /// Creates a group; the author becomes its first owner and member.
    pub fn create_group(
        &mut self,
        author: &Author,
        new: &NewGroup<'_>,
        now: i64,
        nonce: u64,
    ) -> Result<SignedChange, LocalError> {
        let name = new.name.trim();
        if name.is_empty() {
            return Err(LocalError::Invalid("a group needs a name"));
        }
        limit("name", name, MAX_TITLE)?;
        limit("description", new.description, MAX_TEXT)?;
        let me = author.employee.clone();
        self.local_change(author, Target::New(DocKind::Group, None), None, now, |tx| {
            tx.put(ROOT, "kind", "group")?;
            tx.put(ROOT, "name", name)?;
            tx.put(ROOT, "description", new.description)?;
            tx.put(ROOT, "visibility", new.visibility.as_str())?;
            tx.put(ROOT, "created_by", me.as_str())?;
            tx.put(ROOT, "created_at", ScalarValue::Timestamp(now))?;
            tx.put(ROOT, "home_site", new.home_site)?;
            tx.put(ROOT, "nonce", ScalarValue::Uint(nonce))?;
            let owners = tx.put_object(ROOT, "owners", ObjType::Map)?;
            tx.put(&owners, me.as_str(), true)?;
            let members = tx.put_object(ROOT, "members", ObjType::Map)?;
            tx.put(&members, me.as_str(), true)?;
            for m in ["requests", "invitations", "threads"] {
                tx.put_object(ROOT, m, ObjType::Map)?;
            }
            Ok(())
        })
    }

    /// Changes a group's settings (owners only).
    pub fn update_group(
        &mut self,
        author: &Author,
        group: &DocId,
        settings: &GroupSettings<'_>,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        if let Some(n) = settings.name {
            if n.trim().is_empty() {
                return Err(LocalError::Invalid("a group needs a name"));
            }
            limit("name", n, MAX_TITLE)?;
        }
        if let Some(d) = settings.description {
            limit("description", d, MAX_TEXT)?;
        }
        self.local_change(author, Target::Existing(group), None, now, |tx| {
            if let Some(n) = settings.name {
                tx.put(ROOT, "name", n.trim())?;
            }
            if let Some(d) = settings.description {
                tx.put(ROOT, "description", d)?;
            }
            if let Some(v) = settings.visibility {
                tx.put(ROOT, "visibility", v.as_str())?;
            }
            Ok(())
        })
    }

    /// Sets or removes `employee` in one of the group's maps (`members`, `owners`,
    /// `invitations`, `requests`), with an optional text value.
    fn group_entry(
        &mut self,
        author: &Author,
        group: &DocId,
        map: &'static str,
        employee: &str,
        value: Option<&str>,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        if employee.is_empty() {
            return Err(LocalError::Invalid("no employee given"));
        }
        self.local_change(author, Target::Existing(group), None, now, |tx| {
            let m = root_map(tx, map)?;
            match value {
                Some(v) => {
                    limit("message", v, MAX_TEXT)?;
                    tx.put(&m, employee, v)?
                }
                None => tx.delete(&m, employee)?,
            }
            Ok(())
        })
    }

    /// Adds a member: an owner adding anyone, or the author joining a public group or
    /// accepting an invitation (which it then clears).
    pub fn add_member(
        &mut self,
        author: &Author,
        group: &DocId,
        employee: &str,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        // Two entries looked up, not the whole group read (a large group has thousands).
        self.load(group);
        let invited = self
            .doc(group)
            .is_some_and(|g| g.map_has("invitations", employee, None));
        let requested = self
            .doc(group)
            .is_some_and(|g| g.map_has("requests", employee, None));
        let own = employee == author.employee;
        self.local_change(author, Target::Existing(group), None, now, |tx| {
            let m = root_map(tx, "members")?;
            tx.put(&m, employee, true)?;
            if invited && own {
                let i = root_map(tx, "invitations")?;
                tx.delete(&i, employee)?;
            }
            if requested && !own {
                let r = root_map(tx, "requests")?;
                tx.delete(&r, employee)?;
            }
            Ok(())
        })
    }

    /// Removes a member (an owner), or the author leaves.
    pub fn remove_member(
        &mut self,
        author: &Author,
        group: &DocId,
        employee: &str,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        self.group_entry(author, group, "members", employee, None, now)
    }

    /// Makes `employee` an owner (owners only).
    pub fn add_owner(
        &mut self,
        author: &Author,
        group: &DocId,
        employee: &str,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        self.group_entry(author, group, "owners", employee, Some("owner"), now)
    }

    /// Invites `employee` (owners only).
    pub fn invite(
        &mut self,
        author: &Author,
        group: &DocId,
        employee: &str,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        self.group_entry(
            author,
            group,
            "invitations",
            employee,
            Some(author.employee.as_str()),
            now,
        )
    }

    /// Asks to join a private group.
    pub fn request_to_join(
        &mut self,
        author: &Author,
        group: &DocId,
        message: &str,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        let me = author.employee.clone();
        self.group_entry(author, group, "requests", &me, Some(message), now)
    }

    /// Withdraws (one's own) or declines (an owner) a join request.
    pub fn drop_request(
        &mut self,
        author: &Author,
        group: &DocId,
        employee: &str,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        self.group_entry(author, group, "requests", employee, None, now)
    }

    /// Starts a thread in a group with its first post. Returns the thread's genesis change and
    /// the change listing it in the group.
    pub fn create_thread(
        &mut self,
        author: &Author,
        group: &DocId,
        title: &str,
        body: &str,
        now: i64,
        nonce: u64,
    ) -> Result<(SignedChange, SignedChange), LocalError> {
        self.create_thread_with(author, group, title, body, None, now, nonce)
    }

    /// [`Replica::create_thread`] whose first post carries a poll (see [`NewPoll`]).
    #[allow(clippy::too_many_arguments)]
    pub fn create_thread_with(
        &mut self,
        author: &Author,
        group: &DocId,
        title: &str,
        body: &str,
        poll: Option<&NewPoll>,
        now: i64,
        nonce: u64,
    ) -> Result<(SignedChange, SignedChange), LocalError> {
        let extras = ThreadExtras {
            poll,
            ..ThreadExtras::default()
        };
        self.new_thread(author, group, title, body, extras, now, nonce)
    }

    /// Starts a thread that is more than a title and a post (see [`ThreadExtras`]).
    #[allow(clippy::too_many_arguments)]
    pub fn create_thread_ext(
        &mut self,
        author: &Author,
        group: &DocId,
        title: &str,
        body: &str,
        extras: ThreadExtras<'_>,
        now: i64,
        nonce: u64,
    ) -> Result<(SignedChange, SignedChange), LocalError> {
        self.new_thread(author, group, title, body, extras, now, nonce)
    }

    /// Attaches files to one's post `post` (added to those it has).
    pub fn attach(
        &mut self,
        author: &Author,
        thread: &DocId,
        post: &str,
        files: &[Attachment],
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        check_files(files)?;
        let group = self.thread_group(thread)?;
        self.local_change(author, Target::Existing(thread), Some(&group), now, |tx| {
            let posts = root_map(tx, "posts")?;
            let p = existing_post(tx, &posts, post)?;
            write_files(tx, &p, files)
        })
    }

    /// Moves a library document to another folder (members of its group).
    pub fn move_document(
        &mut self,
        author: &Author,
        thread: &DocId,
        folder: &str,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        let folder = clean_folder(folder);
        limit("folder", &folder, MAX_FOLDER)?;
        let group = self.thread_group(thread)?;
        self.local_change(author, Target::Existing(thread), Some(&group), now, |tx| {
            tx.put(ROOT, "folder", folder.as_str())?;
            Ok(())
        })
    }

    /// Replies with files in the reply itself (one change): a library document's new
    /// version. Returns the change and the new post's id.
    #[allow(clippy::too_many_arguments)]
    pub fn reply_files(
        &mut self,
        author: &Author,
        thread: &DocId,
        body: &str,
        files: &[Attachment],
        now: i64,
        nonce: u64,
    ) -> Result<(SignedChange, String), LocalError> {
        check_files(files)?;
        self.reply_inner(author, thread, body, None, None, files, now, nonce)
    }

    /// Pins a thread at the top of its group (`on`), or unpins it: group owners and
    /// community managers.
    pub fn pin_thread(
        &mut self,
        author: &Author,
        thread: &DocId,
        on: bool,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        let group = self.thread_group(thread)?;
        self.local_change(author, Target::Existing(thread), Some(&group), now, |tx| {
            tx.put(ROOT, "pinned", on)?;
            Ok(())
        })
    }

    /// Marks `post` (a reply) the best answer of a question thread, or unmarks it (`None`):
    /// the asker's or a group owner's (and a community manager's) to do.
    pub fn set_best_answer(
        &mut self,
        author: &Author,
        thread: &DocId,
        post: Option<&str>,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        let group = self.thread_group(thread)?;
        self.local_change(author, Target::Existing(thread), Some(&group), now, |tx| {
            match post {
                Some(p) => {
                    let posts = root_map(tx, "posts")?;
                    existing_post(tx, &posts, p)?;
                    tx.put(ROOT, "best_answer", p)?;
                }
                None => tx.delete(ROOT, "best_answer")?,
            }
            Ok(())
        })
    }

    /// Starts a thread whose first post is an event (see [`NewEvent`]): the title is the
    /// event's, the body its description.
    #[allow(clippy::too_many_arguments)]
    pub fn create_event(
        &mut self,
        author: &Author,
        group: &DocId,
        title: &str,
        description: &str,
        event: &NewEvent,
        now: i64,
        nonce: u64,
    ) -> Result<(SignedChange, SignedChange), LocalError> {
        let extras = ThreadExtras {
            event: Some(event),
            ..ThreadExtras::default()
        };
        self.new_thread(author, group, title, description, extras, now, nonce)
    }

    #[allow(clippy::too_many_arguments)]
    fn new_thread(
        &mut self,
        author: &Author,
        group: &DocId,
        title: &str,
        body: &str,
        extras: ThreadExtras<'_>,
        now: i64,
        nonce: u64,
    ) -> Result<(SignedChange, SignedChange), LocalError> {
        let ThreadExtras {
            poll,
            event,
            wall_of,
            question,
            announcement,
            library,
            files,
            card_of,
            stats,
        } = extras;
        check_files(files)?;
        let folder = library.map(clean_folder);
        if let Some(f) = &folder {
            limit("folder", f, MAX_FOLDER)?;
        }
        if let Some(p) = poll {
            p.check()?;
        }
        if let Some(e) = event {
            e.check()?;
        }
        if let Some(w) = wall_of {
            limit("wall owner", w, MAX_TITLE)?;
        }
        if let Some(a) = announcement
            && let Some(s) = &a.site
        {
            limit("site", s, MAX_TITLE)?;
        }
        let title = title.trim();
        if title.is_empty() {
            return Err(LocalError::Invalid("a thread needs a title"));
        }
        limit("title", title, MAX_TITLE)?;
        limit("body", body, MAX_BODY)?;
        let me = author.employee.clone();
        let pid = post_id(author, nonce);
        let (mentions, topics) = checked_mentions_and_topics(body)?;
        let genesis = self.local_change(
            author,
            Target::New(DocKind::Thread, None),
            Some(group),
            now,
            |tx| {
                tx.put(ROOT, "kind", "thread")?;
                tx.put(ROOT, "group", group.as_str())?;
                tx.put(ROOT, "title", title)?;
                tx.put(ROOT, "author", me.as_str())?;
                tx.put(ROOT, "created_at", ScalarValue::Timestamp(now))?;
                tx.put(ROOT, "nonce", ScalarValue::Uint(nonce))?;
                tx.put(ROOT, "root_post", pid.as_str())?;
                if let Some(w) = wall_of {
                    tx.put(ROOT, "wall_of", w)?;
                }
                if question {
                    tx.put(ROOT, "question", true)?;
                }
                if let Some(g) = card_of {
                    tx.put(ROOT, "card_of", g.as_str())?;
                }
                if let Some((site, week)) = stats {
                    tx.put(ROOT, "stats_site", site)?;
                    tx.put(ROOT, "stats_week", week)?;
                }
                if let Some(f) = &folder {
                    tx.put(ROOT, "library", true)?;
                    tx.put(ROOT, "folder", f.as_str())?;
                }
                if let Some(a) = announcement {
                    let m = tx.put_object(ROOT, "announcement", ObjType::Map)?;
                    if let Some(s) = &a.site {
                        tx.put(&m, "site", s.as_str())?;
                    }
                    tx.put(&m, "expires_at", ScalarValue::Timestamp(a.expires_at))?;
                }
                let posts = tx.put_object(ROOT, "posts", ObjType::Map)?;
                tx.put_object(ROOT, "reactions", ObjType::Map)?;
                tx.put_object(ROOT, "moderation", ObjType::Map)?;
                write_post(tx, &posts, &pid, &me, body, now, None, &mentions, &topics)?;
                write_poll(tx, &posts, &pid, poll)?;
                if !files.is_empty() {
                    let post = existing_post(tx, &posts, &pid)?;
                    write_files(tx, &post, files)?;
                }
                if let Some(e) = event {
                    let post = existing_post(tx, &posts, &pid)?;
                    write_event(tx, &post, e)?;
                }
                Ok(())
            },
        )?;
        let tid = genesis.doc().clone();
        let listed = self.local_change(author, Target::Existing(group), None, now, |tx| {
            let threads = root_map(tx, "threads")?;
            tx.put(&threads, tid.as_str(), title)?;
            Ok(())
        })?;
        Ok((genesis, listed))
    }

    fn thread_group(&self, thread: &DocId) -> Result<DocId, LocalError> {
        self.group_of(thread)
            .ok_or_else(|| LocalError::UnknownDoc(thread.clone()))
    }

    /// Replies in a thread (to the thread, or to one post with `reply_to`). Returns the change
    /// and the new post's id.
    pub fn reply(
        &mut self,
        author: &Author,
        thread: &DocId,
        body: &str,
        reply_to: Option<&str>,
        now: i64,
        nonce: u64,
    ) -> Result<(SignedChange, String), LocalError> {
        self.reply_with(author, thread, body, reply_to, None, now, nonce)
    }

    /// [`Replica::reply`] with a poll in the new post (see [`NewPoll`]).
    #[allow(clippy::too_many_arguments)]
    pub fn reply_with(
        &mut self,
        author: &Author,
        thread: &DocId,
        body: &str,
        reply_to: Option<&str>,
        poll: Option<&NewPoll>,
        now: i64,
        nonce: u64,
    ) -> Result<(SignedChange, String), LocalError> {
        self.reply_inner(author, thread, body, reply_to, poll, &[], now, nonce)
    }

    #[allow(clippy::too_many_arguments)]
    fn reply_inner(
        &mut self,
        author: &Author,
        thread: &DocId,
        body: &str,
        reply_to: Option<&str>,
        poll: Option<&NewPoll>,
        files: &[Attachment],
        now: i64,
        nonce: u64,
    ) -> Result<(SignedChange, String), LocalError> {
        if let Some(p) = poll {
            p.check()?;
        }
        if body.trim().is_empty() {
            return Err(LocalError::Invalid("a post needs a body"));
        }
        limit("body", body, MAX_BODY)?;
        let group = self.thread_group(thread)?;
        let me = author.employee.clone();
        let pid = post_id(author, nonce);
        let (mentions, topics) = checked_mentions_and_topics(body)?;
        let change =
            self.local_change(author, Target::Existing(thread), Some(&group), now, |tx| {
                let posts = root_map(tx, "posts")?;
                if let Some(r) = reply_to
                    && !matches!(tx.get(&posts, r)?, Some((automerge::Value::Object(_), _)))
                {
                    return Err(LocalError::Invalid("reply to an unknown post"));
                }
                write_post(
                    tx, &posts, &pid, &me, body, now, reply_to, &mentions, &topics,
                )?;
                write_poll(tx, &posts, &pid, poll)?;
                if !files.is_empty() {
                    let post = existing_post(tx, &posts, &pid)?;
                    write_files(tx, &post, files)?;
                }
                Ok(())
            })?;
        Ok((change, pid))
    }

    /// Edits one's own post.
    pub fn edit_post(
        &mut self,
        author: &Author,
        thread: &DocId,
        post: &str,
        body: &str,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        if body.trim().is_empty() {
            return Err(LocalError::Invalid("a post needs a body"));
        }
        limit("body", body, MAX_BODY)?;
        let group = self.thread_group(thread)?;
        let (mentions, topics) = checked_mentions_and_topics(body)?;
        self.local_change(author, Target::Existing(thread), Some(&group), now, |tx| {
            let posts = root_map(tx, "posts")?;
            let p = existing_post(tx, &posts, post)?;
            tx.put(&p, "body", body)?;
            tx.put(&p, "edited_at", ScalarValue::Timestamp(now))?;
            set_items(tx, &p, "mentions", &mentions)?;
            set_items(tx, &p, "topics", &topics)?;
            Ok(())
        })
    }

    /// Deletes one's own post: its body, mentions and topics leave the visible state (see the
    /// crate docs for what history keeps).
    pub fn delete_post(
        &mut self,
        author: &Author,
        thread: &DocId,
        post: &str,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        let group = self.thread_group(thread)?;
        self.local_change(author, Target::Existing(thread), Some(&group), now, |tx| {
            let posts = root_map(tx, "posts")?;
            let p = existing_post(tx, &posts, post)?;
            tx.put(&p, "deleted", true)?;
            tx.put(&p, "edited_at", ScalarValue::Timestamp(now))?;
            for k in ["body", "mentions", "topics"] {
                if tx.get(&p, k)?.is_some() {
                    tx.delete(&p, k)?;
                }
            }
            Ok(())
        })
    }

    /// Sets one's vote in the poll of `post` to `options` (option ids; none withdraws the
    /// vote): the options no longer chosen are removed and the new ones added, in one
    /// change. Refused once the poll is closed (by this node's clock: the change carries
    /// that time, and every node judges the vote by it), for an unknown option, and for
    /// more than one option of a single-choice poll.
    pub fn vote(
        &mut self,
        author: &Author,
        thread: &DocId,
        post: &str,
        options: &[&str],
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        let group = self.thread_group(thread)?;
        let me = author.employee.clone();
        let mut chosen: Vec<&str> = options.to_vec();
        chosen.sort_unstable();
        chosen.dedup();
        self.local_change(author, Target::Existing(thread), Some(&group), now, |tx| {
            let posts = root_map(tx, "posts")?;
            let p = existing_post(tx, &posts, post)?;
            let poll = match tx.get(&p, "poll")? {
                Some((automerge::Value::Object(ObjType::Map), id)) => id,
                _ => return Err(LocalError::Invalid("the post has no poll")),
            };
            let def = read_poll_tx(tx, &poll)?;
            if def.closes_at.is_some_and(|c| now > c) {
                return Err(LocalError::Invalid("the poll is closed"));
            }
            if !def.multiple && chosen.len() > 1 {
                return Err(LocalError::Invalid("one option only in this poll"));
            }
            if let Some(o) = chosen.iter().find(|o| !def.options.iter().any(|d| d == *o)) {
                let _ = o;
                return Err(LocalError::Invalid("unknown poll option"));
            }
            let r = root_map(tx, "reactions")?;
            let mine = |o: &str| vote_key(post, o, &me);
            for o in &def.options {
                let key = mine(o);
                let wanted = chosen.contains(&o.as_str());
                let held = tx.get(&r, key.as_str())?.is_some();
                if wanted && !held {
                    tx.put(&r, key.as_str(), true)?;
                } else if !wanted && held {
                    tx.delete(&r, key.as_str())?;
                }
            }
            Ok(())
        })
    }

    /// Changes the event of one's post `post` (its times, time zone, place; cancelling it).
    pub fn edit_event(
        &mut self,
        author: &Author,
        thread: &DocId,
        post: &str,
        event: &NewEvent,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        event.check()?;
        let group = self.thread_group(thread)?;
        self.local_change(author, Target::Existing(thread), Some(&group), now, |tx| {
            let posts = root_map(tx, "posts")?;
            let p = existing_post(tx, &posts, post)?;
            if !matches!(
                tx.get(&p, "event")?,
                Some((automerge::Value::Object(ObjType::Map), _))
            ) {
                return Err(LocalError::Invalid("the post has no event"));
            }
            write_event(tx, &p, event)
        })
    }

    /// Sets one's answer to the event of `post` (`yes`, `maybe`, `no`; `None` withdraws
    /// it), replacing an earlier one, in one change.
    pub fn rsvp(
        &mut self,
        author: &Author,
        thread: &DocId,
        post: &str,
        answer: Option<&str>,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        if answer.is_some_and(|a| !RSVP_ANSWERS.contains(&a)) {
            return Err(LocalError::Invalid("an answer is yes, maybe or no"));
        }
        let group = self.thread_group(thread)?;
        let me = author.employee.clone();
        self.local_change(author, Target::Existing(thread), Some(&group), now, |tx| {
            let posts = root_map(tx, "posts")?;
            let p = existing_post(tx, &posts, post)?;
            if !matches!(
                tx.get(&p, "event")?,
                Some((automerge::Value::Object(ObjType::Map), _))
            ) {
                return Err(LocalError::Invalid("the post has no event"));
            }
            let r = root_map(tx, "reactions")?;
            for a in RSVP_ANSWERS {
                let key = rsvp_key(post, a, &me);
                let wanted = answer == Some(a);
                let held = tx.get(&r, key.as_str())?.is_some();
                if wanted && !held {
                    tx.put(&r, key.as_str(), true)?;
                } else if !wanted && held {
                    tx.delete(&r, key.as_str())?;
                }
            }
            Ok(())
        })
    }

    /// Adds (`on`) or removes one's reaction of `kind` (`like`, …) to a post.
    pub fn react(
        &mut self,
        author: &Author,
        thread: &DocId,
        post: &str,
        kind: &str,
        on: bool,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        if kind.is_empty() || kind.len() > 32 || kind.contains(':') {
            return Err(LocalError::Invalid("unknown reaction"));
        }
        let group = self.thread_group(thread)?;
        let key = format!("{post}:{kind}:{}", author.employee);
        self.local_change(author, Target::Existing(thread), Some(&group), now, |tx| {
            let posts = root_map(tx, "posts")?;
            existing_post(tx, &posts, post)?;
            let r = root_map(tx, "reactions")?;
            if on {
                tx.put(&r, key.as_str(), true)?;
            } else if tx.get(&r, key.as_str())?.is_some() {
                tx.delete(&r, key.as_str())?;
            }
            Ok(())
        })
    }

    /// Hides or shows a post (group owners and community managers).
    pub fn moderate(
        &mut self,
        author: &Author,
        thread: &DocId,
        post: &str,
        hidden: bool,
        reason: &str,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        limit("reason", reason, MAX_TEXT)?;
        let group = self.thread_group(thread)?;
        let me = author.employee.clone();
        self.local_change(author, Target::Existing(thread), Some(&group), now, |tx| {
            let m = root_map(tx, "moderation")?;
            let mark = map_in(tx, &m, post)?;
            tx.put(&mark, "hidden", hidden)?;
            tx.put(&mark, "by", me.as_str())?;
            tx.put(&mark, "reason", reason)?;
            tx.put(&mark, "at", ScalarValue::Timestamp(now))?;
            Ok(())
        })
    }

    /// Writes a group's card again (its author only): name, description, owners, member
    /// count, or withdrawn.
    pub fn update_card(
        &mut self,
        author: &Author,
        card: &DocId,
        fields: &CardFields<'_>,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        let name = fields.name.trim();
        if name.is_empty() {
            return Err(LocalError::Invalid("a group needs a name"));
        }
        limit("name", name, MAX_TITLE)?;
        limit("description", fields.description, MAX_BODY)?;
        let owners = fields.owners.join(" ");
        limit("owners", &owners, MAX_CARD_OWNERS)?;
        let group = self.thread_group(card)?;
        let root_post = self
            .doc(card)
            .and_then(|d| d.root_str("root_post"))
            .ok_or(LocalError::Invalid("not a card"))?;
        self.local_change(author, Target::Existing(card), Some(&group), now, |tx| {
            tx.put(ROOT, "title", name)?;
            tx.put(ROOT, "card_owners", owners.as_str())?;
            tx.put(ROOT, "card_members", ScalarValue::Uint(fields.members))?;
            tx.put(ROOT, "card_withdrawn", fields.withdrawn)?;
            let posts = root_map(tx, "posts")?;
            let post = existing_post(tx, &posts, &root_post)?;
            tx.put(&post, "body", fields.description)?;
            Ok(())
        })
    }

    /// Writes a site's statistics document's figures (its author only).
    pub fn write_stats(
        &mut self,
        author: &Author,
        stats: &DocId,
        data: &str,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        limit("statistics", data, MAX_STATS)?;
        let group = self.thread_group(stats)?;
        self.local_change(author, Target::Existing(stats), Some(&group), now, |tx| {
            tx.put(ROOT, "stats_data", data)?;
            Ok(())
        })
    }

    /// Reports `post` to its thread's moderators with a reason, or withdraws the author's
    /// report (`None`): anyone who may write in the thread.
    pub fn report(
        &mut self,
        author: &Author,
        thread: &DocId,
        post: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        if let Some(r) = reason {
            limit("reason", r, MAX_REASON)?;
        }
        let group = self.thread_group(thread)?;
        let key = report_key(post, &author.employee);
        self.local_change(author, Target::Existing(thread), Some(&group), now, |tx| {
            let posts = root_map(tx, "posts")?;
            existing_post(tx, &posts, post)?;
            let m = root_map(tx, "moderation")?;
            match reason {
                Some(r) => {
                    let report = map_in(tx, &m, &key)?;
                    tx.put(&report, "reason", r)?;
                    tx.put(&report, "at", ScalarValue::Timestamp(now))?;
                }
                None => {
                    if tx.get(&m, key.as_str())?.is_some() {
                        tx.delete(&m, key.as_str())?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Marks a thread (or library document) official or outdated, or clears its mark
    /// (community managers).
    pub fn mark_thread(
        &mut self,
        author: &Author,
        thread: &DocId,
        mark: Option<crate::rules::ThreadMark>,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        let group = self.thread_group(thread)?;
        self.local_change(author, Target::Existing(thread), Some(&group), now, |tx| {
            match mark {
                Some(m) => tx.put(ROOT, "mark", m.as_str())?,
                None => tx.delete(ROOT, "mark")?,
            }
            Ok(())
        })
    }

    /// Marks `group` merged into `into` (community managers): its page points there. `None`
    /// undoes it.
    pub fn merge_group(
        &mut self,
        author: &Author,
        group: &DocId,
        into: Option<&DocId>,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        if into.is_some_and(|i| i.kind() != DocKind::Group || i == group) {
            return Err(LocalError::Invalid("a group is merged into another group"));
        }
        self.local_change(author, Target::Existing(group), None, now, |tx| {
            match into {
                Some(i) => tx.put(ROOT, "merged_into", i.as_str())?,
                None => tx.delete(ROOT, "merged_into")?,
            }
            Ok(())
        })
    }

    /// Edits one's profile (creating the profile document on first use).
    pub fn update_profile(
        &mut self,
        author: &Author,
        update: &ProfileUpdate<'_>,
        now: i64,
    ) -> Result<SignedChange, LocalError> {
        for (f, v, max) in [
            ("about", update.about, MAX_TEXT),
            ("career", update.career, MAX_TEXT),
            ("photo", update.photo, MAX_TITLE),
            ("locale", update.locale, 16),
            ("time zone", update.time_zone, MAX_TIME_ZONE),
        ] {
            if let Some(v) = v {
                limit(f, v, max)?;
            }
        }
        if let Some(p) = update.picture
            && p.len() > MAX_PICTURE
        {
            return Err(LocalError::TooLong {
                field: "picture",
                len: p.len(),
                limit: MAX_PICTURE,
            });
        }
        let id = DocId::profile(&author.employee);
        let exists = self.load(&id);
        let edit = |tx: &mut Transaction<'_>| {
            if !exists {
                tx.put(ROOT, "kind", "profile")?;
            }
            if let Some(p) = update.picture {
                tx.put(ROOT, "picture", ScalarValue::Bytes(p.to_vec()))?;
            }
            for (k, v) in [
                ("about", update.about),
                ("photo", update.photo),
                ("career", update.career),
                ("locale", update.locale),
                ("time_zone", update.time_zone),
            ] {
                if let Some(v) = v {
                    tx.put(ROOT, k, v)?;
                }
            }
            for (k, v) in [
                ("expertise", update.expertise),
                ("interests", update.interests),
                ("languages", update.languages),
            ] {
                if let Some(items) = v {
                    set_items(tx, &ROOT, k, items)?;
                }
            }
            Ok(())
        };
        let target = if exists {
            Target::Existing(&id)
        } else {
            // A profile's id is the employee's, not derived from its first change.
            Target::New(DocKind::Profile, Some(&id))
        };
        self.local_change(author, target, None, now, edit)
    }
}

/// Commits `edit` as one change at time `now` and returns it.
fn commit(
    am: &mut Automerge,
    now: i64,
    message: String,
    edit: impl FnOnce(&mut Transaction<'_>) -> Result<(), LocalError>,
) -> Result<automerge::Change, LocalError> {
    let mut tx = am.transaction();
    if let Err(e) = edit(&mut tx) {
        tx.rollback();
        return Err(e);
    }
    let (hash, _) = tx.commit_with(
        CommitOptions::default()
            .with_time(now)
            .with_message(message),
    );
    let hash = hash.ok_or(LocalError::Invalid("nothing to change"))?;
    am.get_change_by_hash(&hash)
        .ok_or(LocalError::Invalid("change vanished"))
}

fn existing_post(
    tx: &mut Transaction<'_>,
    posts: &automerge::ObjId,
    post: &str,
) -> Result<automerge::ObjId, LocalError> {
    match tx.get(posts, post)? {
        Some((automerge::Value::Object(ObjType::Map), id)) => Ok(id),
        _ => Err(LocalError::Invalid("unknown post")),
    }
}

/// The key of `employee`'s report of `post` in a thread's `moderation` map.
pub fn report_key(post: &str, employee: &str) -> String {
    format!("{REPORT_PREFIX}{post}:{employee}")
}

/// The `reactions` key of `employee`'s vote for `option` in the poll of `post`.
pub fn vote_key(post: &str, option: &str, employee: &str) -> String {
    format!("{post}:{VOTE_PREFIX}{option}:{employee}")
}

/// What a vote's reaction kind starts with (`vote.<option>`).
pub const VOTE_PREFIX: &str = "vote.";

/// The `reactions` key of `employee`'s answer `answer` to the event of `post`.
pub fn rsvp_key(post: &str, answer: &str, employee: &str) -> String {
    format!("{post}:{RSVP_PREFIX}{answer}:{employee}")
}

/// Writes a post's `event` map (made, or its fields replaced).
fn write_event(
    tx: &mut Transaction<'_>,
    post: &automerge::ObjId,
    e: &NewEvent,
) -> Result<(), LocalError> {
    let m = map_in(tx, post, "event")?;
    tx.put(&m, "starts_at", ScalarValue::Timestamp(e.starts_at))?;
    tx.put(&m, "ends_at", ScalarValue::Timestamp(e.ends_at))?;
    tx.put(&m, "time_zone", e.time_zone.as_str())?;
    tx.put(&m, "location", e.location.trim())?;
    tx.put(&m, "cancelled", e.cancelled)?;
    Ok(())
}

/// Writes `posts/<pid>/poll` (in the change that makes the post).
fn write_poll(
    tx: &mut Transaction<'_>,
    posts: &automerge::ObjId,
    pid: &str,
    poll: Option<&NewPoll>,
) -> Result<(), LocalError> {
    let Some(poll) = poll else {
        return Ok(());
    };
    let post = existing_post(tx, posts, pid)?;
    let m = tx.put_object(&post, "poll", ObjType::Map)?;
    tx.put(&m, "question", poll.question.trim())?;
    tx.put(&m, "multiple", poll.multiple)?;
    tx.put(&m, "results_after_vote", poll.results_after_vote)?;
    if let Some(c) = poll.closes_at {
        tx.put(&m, "closes_at", ScalarValue::Timestamp(c))?;
    }
    let options = tx.put_object(&m, "options", ObjType::Map)?;
    for (i, label) in poll.options.iter().enumerate() {
        tx.put(&options, (i + 1).to_string(), label.trim())?;
    }
    Ok(())
}

/// A poll's definition as the rules and a voter need it.
pub(crate) struct PollDef {
    pub(crate) options: Vec<String>,
    pub(crate) multiple: bool,
    pub(crate) closes_at: Option<i64>,
}

fn read_poll_tx(tx: &Transaction<'_>, poll: &automerge::ObjId) -> Result<PollDef, LocalError> {
    let multiple = matches!(
        tx.get(poll, "multiple")?,
        Some((automerge::Value::Scalar(v), _)) if matches!(v.as_ref(), ScalarValue::Boolean(true))
    );
    let closes_at = match tx.get(poll, "closes_at")? {
        Some((automerge::Value::Scalar(v), _)) => match v.as_ref() {
            ScalarValue::Timestamp(t) | ScalarValue::Int(t) => Some(*t),
            _ => None,
        },
        _ => None,
    };
    let options = match tx.get(poll, "options")? {
        Some((automerge::Value::Object(ObjType::Map), id)) => tx.keys(&id).collect(),
        _ => Vec::new(),
    };
    Ok(PollDef {
        options,
        multiple,
        closes_at,
    })
}

#[allow(clippy::too_many_arguments)]
fn write_post(
    tx: &mut Transaction<'_>,
    posts: &automerge::ObjId,
    pid: &str,
    author: &str,
    body: &str,
    now: i64,
    reply_to: Option<&str>,
    mentions: &[String],
    topics: &[String],
) -> Result<(), LocalError> {
    let p = tx.put_object(posts, pid, ObjType::Map)?;
    tx.put(&p, "author", author)?;
    tx.put(&p, "body", body)?;
    tx.put(&p, "created_at", ScalarValue::Timestamp(now))?;
    if let Some(r) = reply_to {
        tx.put(&p, "reply_to", r)?;
    }
    if !mentions.is_empty() {
        set_items(tx, &p, "mentions", mentions)?;
    }
    if !topics.is_empty() {
        set_items(tx, &p, "topics", topics)?;
    }
    Ok(())
}

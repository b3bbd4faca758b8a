//! Read models: what the feed, group pages and notifications need, kept up to date at each
//! commit so that queries never walk every Automerge document.
//!
//! * a summary of every thread (group, title, author, last activity, reply count, excerpt);
//! * a summary of every group (name, visibility, owners, members, invitations, requests,
//!   threads), which is also where visibility is decided from;
//! * who is a member of which groups, and who started which threads.
//!
//! [`ReadModel::update`] re-reads one changed document and reports what is new in it
//! ([`Notice`]s: posts, join requests, invitations), from which the core makes
//! notifications. Built from the replica at start-up (reporting nothing: what was there
//! before a restart is not news).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use weft_crdt::{DocId, DocKind, GroupView, Replica, ThreadView, Visibility};

/// A group's genesis nonce (a root field set once, at genesis, by the node that made it; the
/// write rules refuse any later change to it).
fn genesis_nonce(doc: &weft_crdt::Doc) -> Option<u64> {
    use automerge::ReadDoc;
    match doc.automerge().get(automerge::ROOT, "nonce") {
        Ok(Some((automerge::Value::Scalar(v), _))) => match v.as_ref() {
            automerge::ScalarValue::Uint(n) => Some(*n),
            automerge::ScalarValue::Int(n) => u64::try_from(*n).ok(),
            _ => None,
        },
        _ => None,
    }
}

/// The reaction on a card's first post by which an employee asks to join its group.
pub const CARD_REQUEST: &str = "join";

/// How many characters of a thread's first post the feed shows.
pub const EXCERPT_CHARS: usize = 220;

/// A thread as lists show it. Stored in sled (JSON) so start-up need not rebuild it; its
/// posts' ids are stored apart, a new one at a time (a busy thread's summary stays small).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ThreadSummary {
    pub id: DocId,
    pub group: DocId,
    pub title: String,
    pub author: String,
    pub created_at: i64,
    /// The time of the latest post or edit (ms).
    pub last_activity: i64,
    /// Who wrote or edited last.
    pub last_author: String,
    pub replies: usize,
    /// The start of the first post (Markdown source), empty once deleted or hidden.
    pub excerpt: String,
    /// The event the first post announces, if any (and it is not deleted or hidden).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventTimes>,
    /// The employee whose wall it is: a wall is not listed with its group's threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_of: Option<String>,
    /// A library document's folder: listed in its group's library, not with its threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    /// An announcement's reach and end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announcement: Option<weft_crdt::AnnouncementView>,
    /// A question thread, and the best answer picked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub question: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_answer: Option<String>,
    /// Pinned at the top of its group.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pinned: bool,
    /// A community manager's mark: official or outdated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<weft_crdt::ThreadMark>,
    /// How many reports of its posts await a moderator (see
    /// [`ThreadView::open_reports`]); a post deleted since may have closed some.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub open_reports: usize,
    /// A (private) group's card: what it says besides its title and excerpt, and who asked
    /// to join on it. Filed under its group, not listed with All company's threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<weft_crdt::CardView>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub card_requests: Vec<String>,
    /// A site's statistics of a week: (site, week, figures as JSON). Not listed anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<(String, String, String)>,
    /// The hashes of the files its posts carry (those a reader may be given).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// When its posts' polls close (those that do; a poll never changes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub polls_close: Vec<i64>,
    /// The thread's Automerge heads this summary was made at: a post is new to it if the
    /// thread did not hold it then, and what changed since is what its next update reads
    /// (also after a restart, where the thread is read back from the store with them).
    #[serde(with = "heads_hex")]
    heads: Vec<automerge::ChangeHash>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Heads as hexadecimal strings in stored summaries.
mod heads_hex {
    use automerge::ChangeHash;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(h: &[ChangeHash], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(h.iter().map(|h| weft_keys::to_hex(&h.0)))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<ChangeHash>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|h| {
                weft_keys::from_hex(h)
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .map(ChangeHash)
                    .ok_or_else(|| serde::de::Error::custom("a head is 64 hexadecimal digits"))
            })
            .collect()
    }
}

/// An event as agendas list it (its answers are in the thread).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventTimes {
    pub starts_at: i64,
    pub ends_at: i64,
    pub time_zone: String,
    pub location: String,
    pub cancelled: bool,
}

impl EventTimes {
    /// The event of a thread's first post, if it shows one.
    fn of(root: &weft_crdt::PostView) -> Option<EventTimes> {
        let e = root
            .event
            .as_ref()
            .filter(|_| !root.deleted && !root.hidden)?;
        Some(EventTimes {
            starts_at: e.starts_at,
            ends_at: e.ends_at,
            time_zone: e.time_zone.clone(),
            location: e.location.clone(),
            cancelled: e.cancelled,
        })
    }
}

/// Files (`on`) or unfiles an event thread under its start time.
fn file_event(events: &mut BTreeMap<i64, BTreeSet<DocId>>, at: i64, id: &DocId, on: bool) {
    if on {
        events.entry(at).or_default().insert(id.clone());
    } else if let Some(ids) = events.get_mut(&at) {
        ids.remove(id);
        if ids.is_empty() {
            events.remove(&at);
        }
    }
}

/// Summaries are equal when what they show is (two summaries of the same state may have
/// been made at different moments of it).
impl PartialEq for ThreadSummary {
    fn eq(&self, o: &Self) -> bool {
        self.id == o.id
            && self.group == o.group
            && self.title == o.title
            && self.author == o.author
            && self.created_at == o.created_at
            && self.last_activity == o.last_activity
            && self.last_author == o.last_author
            && self.replies == o.replies
            && self.excerpt == o.excerpt
            && self.event == o.event
            && self.wall_of == o.wall_of
            && self.library == o.library
            && self.announcement == o.announcement
            && self.question == o.question
            && self.best_answer == o.best_answer
            && self.pinned == o.pinned
            && self.mark == o.mark
            && self.open_reports == o.open_reports
            && self.card == o.card
            && self.card_requests == o.card_requests
            && self.stats == o.stats
            && self.polls_close == o.polls_close
            && self.files == o.files
    }
}

impl Eq for ThreadSummary {}

/// Where a thread is filed: under its author, and in its group's activity order.
struct ThreadFiling {
    id: DocId,
    group: DocId,
    author: String,
    last_activity: i64,
    /// A wall: filed under its owner, not in its group's list.
    wall_of: Option<String>,
    /// A library document: filed in its group's library, not in its list.
    library: bool,
    /// A group's card: filed under that group, not in All company's list.
    card_of: Option<DocId>,
    /// A site's statistics (week, site): filed by week, not in All company's list.
    stats: Option<(String, String)>,
}

/// What every searcher's scope shares (see [`ReadModel::search_scope`]).
#[derive(Debug)]
struct ScopeBase {
    /// Groups everyone reads (public), as search keys.
    read: std::sync::Arc<crate::search::ScopeSet>,
    /// Groups everyone sees listed (public and private), as search keys.
    list: std::sync::Arc<crate::search::ScopeSet>,
    /// The groups that are not public: some read them, some do not.
    closed: Vec<DocId>,
    /// Each searcher's whole scope once made (looking at every closed group was a seventh of
    /// a search's time at 4,000 groups), kept as long as this base: until a group changes.
    personal: std::sync::Mutex<HashMap<String, crate::search::Scope>>,
}

/// How many searchers' scopes a [`ScopeBase`] keeps before it starts again.
const PERSONAL_SCOPES: usize = 20_000;

/// A group as access checks and lists need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    pub id: DocId,
    pub name: String,
    pub visibility: Visibility,
    pub owners: BTreeSet<String>,
    pub members: BTreeSet<String>,
    pub invitations: BTreeSet<String>,
    pub requests: BTreeSet<String>,
    /// The group's threads as (last activity, id): the newest last.
    pub threads: BTreeSet<(i64, DocId)>,
    /// Set once at genesis, never changed: who made it, when, from which site, and whether
    /// its genesis carries the "All company" marker (see `Core::all_company` in the service).
    pub created_by: String,
    pub created_at: i64,
    pub home_site: String,
    pub all_company_marker: bool,
    /// The whole group as its document says now (description, request messages, thread
    /// titles…), for pages read off the loop.
    pub view: std::sync::Arc<GroupView>,
    /// The group's Automerge heads this summary was made at: the next change is read from
    /// the entries written since (see [`weft_crdt::Doc::touched_entries`]).
    pub heads: Vec<automerge::ChangeHash>,
}

impl GroupSummary {
    /// The group's threads, newest activity first, older than `before` (ms) if given.
    pub fn newest(&self, before: Option<i64>) -> impl Iterator<Item = &DocId> {
        self.threads
            .iter()
            .rev()
            .skip_while(move |(t, _)| before.is_some_and(|b| *t >= b))
            .map(|(_, id)| id)
    }
}

/// The blobs an attachment references: the file and its thumbnail.
fn file_hashes(a: &weft_crdt::AttachmentView) -> impl Iterator<Item = &str> {
    std::iter::once(a.hash.as_str()).chain(a.thumbnail.as_ref().map(|t| t.0.as_str()))
}

/// Something new in a document, found by [`ReadModel::update`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A post appeared in a thread (the first post too, when the thread is new).
    Post {
        thread: DocId,
        title: String,
        post: String,
        author: String,
        at: i64,
        mentions: Vec<String>,
        first: bool,
    },
    /// Someone asked to join a group.
    Requested {
        group: DocId,
        name: String,
        who: String,
    },
    /// Someone was invited to a group.
    Invited {
        group: DocId,
        name: String,
        who: String,
    },
}

/// What an employee's profile says, for finding people (so that no profile document is read
/// to search or list people).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProfileWords {
    /// Expertise, interests and languages, folded (lower case, no accents).
    pub words: String,
    /// Expertise, interests and the about text, as written.
    pub text: String,
    /// The profile as people search shows it, so that listing people reads no profile
    /// document. Absent in records stored by older builds: their profiles are replayed once
    /// at start-up (see `Core::restore`).
    #[serde(default)]
    pub card: Option<weft_crdt::ProfileView>,
}

/// The read models of one node.
#[derive(Debug, Default)]
pub struct ReadModel {
    threads: HashMap<DocId, ThreadSummary>,
    groups: HashMap<DocId, GroupSummary>,
    /// What every searcher's scope shares, built when first asked after a group changed
    /// (see [`ReadModel::search_scope`]).
    scope_base: std::sync::Mutex<Option<std::sync::Arc<ScopeBase>>>,
    member_of: HashMap<String, BTreeSet<DocId>>,
    by_author: HashMap<String, BTreeSet<DocId>>,
    /// Threads seen before their group: attached when the group arrives.
    orphans: HashMap<DocId, BTreeSet<DocId>>,
    /// What each employee's profile says, for finding people.
    profiles: HashMap<String, ProfileWords>,
    /// Active people by the words they are found by (see [`crate::people`]).
    people: crate::people::PeopleIndex,
    /// Threads whose summary changed since the last [`ReadModel::take_dirty`].
    dirty: HashSet<DocId>,
    /// Threads that are events, by start time.
    events: BTreeMap<i64, BTreeSet<DocId>>,
    /// Each employee's wall threads (usually one; two sites may start one at once).
    walls: HashMap<String, BTreeSet<DocId>>,
    /// Each group's library documents.
    libraries: HashMap<DocId, BTreeSet<DocId>>,
    /// Announcement threads.
    announcements: HashMap<DocId, weft_crdt::AnnouncementView>,
    /// Threads with a poll that closes, by closing time (a poll never changes).
    polls: BTreeMap<i64, BTreeSet<DocId>>,
    /// The threads whose posts carry each file (by its hash).
    files: HashMap<String, BTreeSet<DocId>>,
    /// Threads with reports awaiting a moderator.
    reported: BTreeSet<DocId>,
    /// The cards of each (private) group.
    cards: HashMap<DocId, BTreeSet<DocId>>,
    /// Sites' statistics documents, by week then site.
    stats: BTreeMap<(String, String), BTreeSet<DocId>>,
}

impl ReadModel {
    /// Builds the read models from every document of `replica`.
    pub fn build(replica: &Replica) -> ReadModel {
        let mut m = ReadModel::default();
        let ids: Vec<DocId> = replica.docs().map(|d| d.id().clone()).collect();
        // Groups first, so threads find their group.
        for id in ids.iter().filter(|d| d.kind() == DocKind::Group) {
            m.update(replica, id);
        }
        for id in ids.iter().filter(|d| d.kind() != DocKind::Group) {
            m.update(replica, id);
        }
        m
    }

    /// Builds the read models from stored group views (with their "All company" marker and
    /// the heads they were made at), the group documents in memory in `replica`, and stored
    /// thread summaries and profile words (which must be current): no thread or profile
    /// document is read. Documents replayed at start-up are then brought up to date with
    /// [`ReadModel::update`].
    pub fn load(
        replica: &Replica,
        stored_groups: Vec<(GroupView, bool, Vec<automerge::ChangeHash>)>,
        threads: Vec<ThreadSummary>,
        profiles: Vec<(String, ProfileWords)>,
    ) -> ReadModel {
        let mut m = ReadModel::default();
        for (view, marker, heads) in stored_groups {
            m.update_group(view, marker, heads);
        }
        let groups: Vec<DocId> = replica
            .docs()
            .map(|d| d.id().clone())
            .filter(|d| d.kind() == DocKind::Group)
            .collect();
        for id in &groups {
            m.update(replica, id);
        }
        m.profiles.extend(profiles);
        for t in threads {
            m.index_thread(&t, None);
            m.threads.insert(t.id.clone(), t);
        }
        m
    }

    /// What `employee`'s profile says, if it was read (to store it).
    pub fn profile_record(&self, employee: &str) -> Option<&ProfileWords> {
        self.profiles.get(employee)
    }

    /// The threads whose summaries changed since the last call (to store them).
    pub fn take_dirty(&mut self) -> Vec<&ThreadSummary> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty.iter().filter_map(|t| self.threads.get(t)).collect()
    }

    /// Every thread summary (to store them all).
    pub fn thread_summaries(&self) -> impl Iterator<Item = &ThreadSummary> {
        self.threads.values()
    }

    /// Files a thread under its author and its group (moving it in the group's activity
    /// order if it was there at `old_activity`).
    fn index_thread(&mut self, summary: &ThreadSummary, old_activity: Option<i64>) {
        if let Some(e) = &summary.event {
            file_event(&mut self.events, e.starts_at, &summary.id, true);
        }
        for c in &summary.polls_close {
            file_event(&mut self.polls, *c, &summary.id, true);
        }
        for f in &summary.files {
            self.files
                .entry(f.clone())
                .or_default()
                .insert(summary.id.clone());
        }
        if let Some(a) = &summary.announcement {
            self.announcements.insert(summary.id.clone(), a.clone());
        }
        if summary.open_reports > 0 {
            self.reported.insert(summary.id.clone());
        } else {
            self.reported.remove(&summary.id);
        }
        let filed = ThreadFiling {
            id: summary.id.clone(),
            group: summary.group.clone(),
            author: summary.author.clone(),
            last_activity: summary.last_activity,
            wall_of: summary.wall_of.clone(),
            library: summary.library.is_some(),
            card_of: summary.card.as_ref().map(|c| c.group.clone()),
            stats: summary
                .stats
                .as_ref()
                .map(|(site, week, _)| (week.clone(), site.clone())),
        };
        self.file_thread(&filed, old_activity);
    }

    fn file_thread(&mut self, t: &ThreadFiling, old_activity: Option<i64>) {
        if let Some(owner) = &t.wall_of {
            self.walls
                .entry(owner.clone())
                .or_default()
                .insert(t.id.clone());
            return;
        }
        if let Some(g) = &t.card_of {
            self.cards
                .entry(g.clone())
                .or_default()
                .insert(t.id.clone());
            return;
        }
        if let Some(k) = &t.stats {
            self.stats
                .entry(k.clone())
                .or_default()
                .insert(t.id.clone());
            return;
        }
        if t.library {
            self.libraries
                .entry(t.group.clone())
                .or_default()
                .insert(t.id.clone());
            return;
        }
        if old_activity.is_none() {
            self.by_author
                .entry(t.author.clone())
                .or_default()
                .insert(t.id.clone());
        }
        match self.groups.get_mut(&t.group) {
            Some(g) => {
                if let Some(old) = old_activity {
                    g.threads.remove(&(old, t.id.clone()));
                }
                g.threads.insert((t.last_activity, t.id.clone()));
            }
            None => {
                self.orphans
                    .entry(t.group.clone())
                    .or_default()
                    .insert(t.id.clone());
            }
        }
    }

    /// Re-reads `doc` and returns what is new in it since the last update.
    pub fn update(&mut self, replica: &Replica, doc: &DocId) -> Vec<Notice> {
        let Some(d) = replica.doc(doc) else {
            return Vec::new();
        };
        match doc.kind() {
            DocKind::Thread => {
                // Summarised before: only the posts changed since (a busy thread is not read
                // whole at every commit).
                // (A card is read whole: the requests on it are reactions.)
                let since = self
                    .threads
                    .get(doc)
                    .filter(|s| s.card.is_none() && s.stats.is_none())
                    .map(|s| s.heads.clone());
                let touched = since
                    .as_ref()
                    .and_then(|h| d.touched_post_views(h).map(|t| (h, t)));
                match touched {
                    Some((since, t)) => self.update_posts(d, since, &t),
                    None => ThreadView::of(d)
                        .map(|v| self.update_thread(d, v))
                        .unwrap_or_default(),
                }
            }
            DocKind::Group => {
                // Summarised before: only the entries written since (a group of thousands of
                // members is not read whole at each join).
                let touched = self
                    .groups
                    .get(doc)
                    .and_then(|g| d.touched_entries(&g.heads));
                match touched {
                    Some(entries) => self.update_group_entries(d, &entries),
                    None => GroupView::of(d)
                        .map(|v| {
                            let marked = genesis_nonce(d) == Some(ALL_COMPANY_NONCE);
                            self.update_group(v, marked, d.applied_heads())
                        })
                        .unwrap_or_default(),
                }
            }
            DocKind::Profile => {
                if let Some(owner) = doc.profile_owner() {
                    let p = weft_crdt::ProfileView::of(d);
                    let words: Vec<&str> = p
                        .expertise
                        .iter()
                        .chain(&p.interests)
                        .chain(&p.languages)
                        .map(String::as_str)
                        .collect();
                    let text = format!(
                        "{} {} {}",
                        p.expertise.join(" "),
                        p.interests.join(" "),
                        p.about
                    );
                    let words = fold(&words.join(" "));
                    self.people.set_profile_words(owner, &words);
                    self.profiles.insert(
                        owner.to_owned(),
                        ProfileWords {
                            words,
                            text,
                            card: Some(p),
                        },
                    );
                }
                Vec::new()
            }
        }
    }

    fn update_thread(&mut self, d: &weft_crdt::Doc, v: ThreadView) -> Vec<Notice> {
        let old = self.threads.get(&v.id);
        let old_activity = old.map(|s| s.last_activity);
        let first = old.is_none();
        // The posts the summary knew: those the thread held at its heads.
        let known: HashSet<String> = old
            .map(|s| weft_crdt::PostView::ids_at(d, &s.heads))
            .unwrap_or_default();
        // Heads the thread does not hold (nothing known to make them): nothing is told as
        // new, rather than every post of the thread.
        let unknown = old.is_some_and(|s| !s.heads.iter().all(|h| d.has(h)));
        let mut notices = Vec::new();
        for p in &v.posts {
            if known.contains(&p.id) || p.deleted || unknown {
                continue;
            }
            notices.push(Notice::Post {
                thread: v.id.clone(),
                title: v.title.clone(),
                post: p.id.clone(),
                author: p.author.clone(),
                at: p.created_at,
                mentions: p.mentions.clone(),
                first: first && v.posts.first().map(|r| &r.id) == Some(&p.id),
            });
        }
        let (last_activity, last_author) = v
            .posts
            .iter()
            .map(|p| {
                (
                    p.edited_at.unwrap_or(p.created_at).max(p.created_at),
                    &p.author,
                )
            })
            .max_by_key(|(t, _)| *t)
            .map_or((v.created_at, v.author.clone()), |(t, a)| (t, a.clone()));
        let root = v.posts.first();
        let excerpt = root
            .filter(|p| !p.deleted && !p.hidden)
            .map(|p| p.body.chars().take(EXCERPT_CHARS).collect())
            .unwrap_or_default();
        let event = root.and_then(EventTimes::of);
        if let Some(e) = old.and_then(|s| s.event.as_ref()) {
            file_event(&mut self.events, e.starts_at, &v.id, false);
        }
        let summary = ThreadSummary {
            event,
            wall_of: v.wall_of.clone(),
            library: v.library.clone(),
            announcement: v.announcement.clone(),
            question: v.question,
            best_answer: v.best_answer.clone(),
            pinned: v.pinned,
            mark: v.mark,
            open_reports: v.open_reports().count(),
            card_requests: if v.card.is_some() {
                v.posts
                    .first()
                    .and_then(|p| p.reactions.get(CARD_REQUEST))
                    .cloned()
                    .unwrap_or_default()
            } else {
                Vec::new()
            },
            card: v.card.clone(),
            stats: v.stats.clone(),
            polls_close: v
                .posts
                .iter()
                .filter_map(|p| p.poll.as_ref()?.closes_at)
                .collect(),
            files: v
                .posts
                .iter()
                .filter(|p| !p.deleted && !p.hidden)
                .flat_map(|p| p.attachments.iter().flat_map(file_hashes))
                .map(str::to_owned)
                .collect(),
            replies: v.posts.len().saturating_sub(1),
            heads: d.applied_heads(),
            id: v.id.clone(),
            group: v.group.clone(),
            title: v.title,
            author: v.author,
            created_at: v.created_at,
            last_activity,
            last_author,
            excerpt,
        };
        // Someone new asked to join on a card: the group's owners are told (where the group
        // is held).
        if let Some(card) = &summary.card {
            let before: &[String] = self
                .threads
                .get(&summary.id)
                .map(|s| s.card_requests.as_slice())
                .unwrap_or(&[]);
            for who in summary.card_requests.iter().filter(|w| !before.contains(w)) {
                if !unknown {
                    notices.push(Notice::Requested {
                        group: card.group.clone(),
                        name: summary.title.clone(),
                        who: who.clone(),
                    });
                }
            }
        }
        self.index_thread(&summary, old_activity);
        self.dirty.insert(summary.id.clone());
        self.threads.insert(summary.id.clone(), summary);
        notices
    }

    /// Updates a known thread's summary from the posts that changed.
    fn update_posts(
        &mut self,
        d: &weft_crdt::Doc,
        since: &[automerge::ChangeHash],
        touched: &[(String, Option<weft_crdt::PostView>)],
    ) -> Vec<Notice> {
        let known =
            weft_crdt::PostView::existed_at(d, since, touched.iter().map(|(p, _)| p.as_str()));
        // Changed in place: nothing of a busy thread is copied at each commit.
        let Some(s) = self.threads.get_mut(d.id()) else {
            return Vec::new();
        };
        let old_activity = s.last_activity;
        let root = weft_crdt::PostView::root_id(d);
        let mut notices = Vec::new();
        let mut new_polls = Vec::new();
        let mut new_files = Vec::new();
        for ((pid, p), known) in touched.iter().zip(known) {
            let Some(p) = p else {
                continue;
            };
            if !known {
                if let Some(c) = p.poll.as_ref().and_then(|p| p.closes_at)
                    && !s.polls_close.contains(&c)
                {
                    s.polls_close.push(c);
                    new_polls.push(c);
                }
                s.replies += 1;
                if !p.deleted {
                    notices.push(Notice::Post {
                        thread: s.id.clone(),
                        title: s.title.clone(),
                        post: pid.clone(),
                        author: p.author.clone(),
                        at: p.created_at,
                        mentions: p.mentions.clone(),
                        first: false,
                    });
                }
            }
            if !p.deleted && !p.hidden {
                for hash in p.attachments.iter().flat_map(file_hashes) {
                    if !s.files.iter().any(|f| f == hash) {
                        s.files.push(hash.to_owned());
                        new_files.push(hash.to_owned());
                    }
                }
            }
            let at = p.edited_at.unwrap_or(p.created_at).max(p.created_at);
            if at >= s.last_activity {
                s.last_activity = at;
                s.last_author = p.author.clone();
            }
            if root.as_deref() == Some(pid.as_str()) {
                s.excerpt = if p.deleted || p.hidden {
                    String::new()
                } else {
                    p.body.chars().take(EXCERPT_CHARS).collect()
                };
                let event = EventTimes::of(p);
                if event != s.event {
                    if let Some(e) = &s.event {
                        file_event(&mut self.events, e.starts_at, &s.id, false);
                    }
                    if let Some(e) = &event {
                        file_event(&mut self.events, e.starts_at, &s.id, true);
                    }
                    s.event = event;
                }
            }
        }
        s.heads = d.applied_heads();
        let id = s.id.clone();
        for c in new_polls {
            file_event(&mut self.polls, c, &id, true);
        }
        for f in new_files {
            self.files.entry(f).or_default().insert(id.clone());
        }
        let Some(s) = self.threads.get(d.id()) else {
            return notices;
        };
        let filed = ThreadFiling {
            id: s.id.clone(),
            group: s.group.clone(),
            author: s.author.clone(),
            last_activity: s.last_activity,
            wall_of: s.wall_of.clone(),
            library: s.library.is_some(),
            card_of: s.card.as_ref().map(|c| c.group.clone()),
            stats: s
                .stats
                .as_ref()
                .map(|(site, week, _)| (week.clone(), site.clone())),
        };
        self.file_thread(&filed, Some(old_activity));
        self.dirty.insert(filed.id);
        notices
    }

    /// Brings a group's summary up to date from the entries of its maps written since it was
    /// made: each read once from the document, the summary's sets, the members' index and
    /// the view changed in place (the view is copied only if a reader holds it).
    fn update_group_entries(
        &mut self,
        d: &weft_crdt::Doc,
        entries: &BTreeSet<(String, String)>,
    ) -> Vec<Notice> {
        let mut notices = Vec::new();
        self.forget_scope_base();
        let Some(g) = self.groups.get_mut(d.id()) else {
            return notices;
        };
        let view = std::sync::Arc::make_mut(&mut g.view);
        let set = |s: &mut BTreeSet<String>, key: &str, present: bool| -> bool {
            if present {
                s.insert(key.to_owned())
            } else {
                s.remove(key);
                false
            }
        };
        for (map, key) in entries {
            let present = view.reread_entry(d, map, key);
            match map.as_str() {
                "owners" => {
                    set(&mut g.owners, key, present);
                }
                "members" => {
                    set(&mut g.members, key, present);
                    if present {
                        self.member_of
                            .entry(key.clone())
                            .or_default()
                            .insert(g.id.clone());
                    } else if let Some(groups) = self.member_of.get_mut(key) {
                        groups.remove(&g.id);
                    }
                }
                // The guard files the entry (once, whatever it returns): a notice only for
                // an entry new to the summary.
                "invitations" if set(&mut g.invitations, key, present) => {
                    notices.push(Notice::Invited {
                        group: g.id.clone(),
                        name: g.name.clone(),
                        who: key.clone(),
                    });
                }
                "requests" if set(&mut g.requests, key, present) => {
                    notices.push(Notice::Requested {
                        group: g.id.clone(),
                        name: g.name.clone(),
                        who: key.clone(),
                    });
                }
                _ => {}
            }
        }
        g.heads = d.applied_heads();
        notices
    }

    fn update_group(
        &mut self,
        v: GroupView,
        all_company_marker: bool,
        heads: Vec<automerge::ChangeHash>,
    ) -> Vec<Notice> {
        self.forget_scope_base();
        let old = self.groups.remove(&v.id);
        let mut notices = Vec::new();
        if let Some(old) = &old {
            for who in v.requests.keys().filter(|w| !old.requests.contains(*w)) {
                notices.push(Notice::Requested {
                    group: v.id.clone(),
                    name: v.name.clone(),
                    who: who.clone(),
                });
            }
        }
        for who in &v.invitations {
            if old.as_ref().is_none_or(|o| !o.invitations.contains(who)) {
                notices.push(Notice::Invited {
                    group: v.id.clone(),
                    name: v.name.clone(),
                    who: who.clone(),
                });
            }
        }
        if let Some(old) = &old {
            for m in &old.members {
                if let Some(set) = self.member_of.get_mut(m) {
                    set.remove(&v.id);
                }
            }
        }
        for m in &v.members {
            self.member_of
                .entry(m.clone())
                .or_default()
                .insert(v.id.clone());
        }
        let mut threads = old.map(|o| o.threads).unwrap_or_default();
        for t in self.orphans.remove(&v.id).unwrap_or_default() {
            if let Some(s) = self
                .threads
                .get(&t)
                .filter(|s| s.wall_of.is_none() && s.library.is_none())
            {
                threads.insert((s.last_activity, t));
            }
        }
        let view = std::sync::Arc::new(v.clone());
        self.groups.insert(
            v.id.clone(),
            GroupSummary {
                view,
                id: v.id,
                name: v.name,
                visibility: v.visibility,
                owners: v.owners.into_iter().collect(),
                members: v.members.into_iter().collect(),
                invitations: v.invitations.into_iter().collect(),
                requests: v.requests.into_keys().collect(),
                threads,
                created_by: v.created_by,
                created_at: v.created_at,
                home_site: v.home_site,
                all_company_marker,
                heads,
            },
        );
        notices
    }

    fn forget_scope_base(&mut self) {
        if let Ok(b) = self.scope_base.get_mut() {
            *b = None;
        }
    }

    /// The search scope of `employee` (see [`crate::search::Scope`]): what every searcher
    /// shares — public groups read and listed, private groups listed — kept until a group
    /// changes, and what is theirs — the private and secret groups they are a member of or
    /// invited to — from the few groups that are not public. Follows [`crate::access`].
    pub fn search_scope(&self, employee: &str) -> crate::search::Scope {
        let base = {
            let mut cached = self
                .scope_base
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            cached
                .get_or_insert_with(|| std::sync::Arc::new(self.make_scope_base()))
                .clone()
        };
        if let Some(scope) = base
            .personal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(employee)
        {
            return scope.clone();
        }
        let mut scope = crate::search::Scope::shared(base.read.clone(), base.list.clone());
        for id in &base.closed {
            if let Some(g) = self.groups.get(id)
                && crate::access::to_group(g, employee) == crate::access::Access::Full
            {
                scope.read(id);
                scope.list(id);
            }
        }
        let mut personal = base
            .personal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if personal.len() >= PERSONAL_SCOPES {
            personal.clear();
        }
        personal.insert(employee.to_owned(), scope.clone());
        scope
    }

    fn make_scope_base(&self) -> ScopeBase {
        let mut read = crate::search::Scope::default();
        let mut closed = Vec::new();
        for g in self.groups.values() {
            match g.visibility {
                Visibility::Public => {
                    read.read(&g.id);
                    read.list(&g.id);
                }
                Visibility::Private => {
                    read.list(&g.id);
                    closed.push(g.id.clone());
                }
                Visibility::Secret => closed.push(g.id.clone()),
            }
        }
        let (r, l) = read.into_sets();
        ScopeBase {
            read: std::sync::Arc::new(r),
            list: std::sync::Arc::new(l),
            closed,
            personal: std::sync::Mutex::default(),
        }
    }

    /// The threads whose posts carry the file `hash` (to be checked against the thread: a
    /// post deleted since may still be counted).
    pub fn threads_with_file(&self, hash: &str) -> impl Iterator<Item = &DocId> {
        self.files.get(hash).into_iter().flatten()
    }

    /// Threads with a poll that closes in `from..to` (ms).
    pub fn polls_closing_between(
        &self,
        from: i64,
        to: i64,
    ) -> impl Iterator<Item = &ThreadSummary> {
        self.polls
            .range(from..to.max(from))
            .flat_map(|(_, ids)| ids)
            .filter_map(|id| self.threads.get(id))
    }

    /// A group's library documents.
    pub fn library_of(&self, group: &DocId) -> impl Iterator<Item = &DocId> {
        self.libraries.get(group).into_iter().flatten()
    }

    /// `employee`'s wall threads.
    /// The cards of `group` (their summaries), newest first.
    pub fn cards_of(&self, group: &DocId) -> Vec<&ThreadSummary> {
        let mut c: Vec<&ThreadSummary> = self
            .cards
            .get(group)
            .into_iter()
            .flatten()
            .filter_map(|t| self.threads.get(t))
            .collect();
        c.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        c
    }

    /// The statistics documents of `week`: per site, the newest of those `signer(site,
    /// author)` accepts.
    pub fn stats_of(&self, week: &str, signer: impl Fn(&str, &str) -> bool) -> Vec<&ThreadSummary> {
        self.stats
            .range((week.to_owned(), String::new())..)
            .take_while(|((w, _), _)| w == week)
            .filter_map(|((_, site), ids)| {
                ids.iter()
                    .filter_map(|t| self.threads.get(t))
                    .filter(|s| signer(site, &s.author))
                    .max_by(|a, b| (a.last_activity, &a.id).cmp(&(b.last_activity, &b.id)))
            })
            .collect()
    }

    /// This site's statistics document of `week` written by `author`, if any.
    pub fn stats_doc(&self, week: &str, site: &str, author: &str) -> Option<&ThreadSummary> {
        self.stats
            .get(&(week.to_owned(), site.to_owned()))?
            .iter()
            .filter_map(|t| self.threads.get(t))
            .find(|s| s.author == author)
    }

    /// Every group with a card, and its cards.
    pub fn cards(&self) -> impl Iterator<Item = (&DocId, &BTreeSet<DocId>)> {
        self.cards.iter()
    }

    /// The threads with reports awaiting a moderator (their views say which are still
    /// open: a post deleted since closes its reports).
    pub fn reported(&self) -> impl Iterator<Item = &ThreadSummary> {
        self.reported.iter().filter_map(|t| self.threads.get(t))
    }

    pub fn walls_of(&self, employee: &str) -> impl Iterator<Item = &DocId> {
        self.walls.get(employee).into_iter().flatten()
    }

    /// Announcement threads and their reach.
    pub fn announcements(
        &self,
    ) -> impl Iterator<Item = (&ThreadSummary, &weft_crdt::AnnouncementView)> {
        self.announcements
            .iter()
            .filter_map(|(id, a)| Some((self.threads.get(id)?, a)))
    }

    /// Event threads starting in `from..to` (ms), by start time.
    pub fn events_between(&self, from: i64, to: i64) -> impl Iterator<Item = &ThreadSummary> {
        self.events
            .range(from..to.max(from))
            .flat_map(|(_, ids)| ids)
            .filter_map(|id| self.threads.get(id))
    }

    pub fn thread(&self, id: &DocId) -> Option<&ThreadSummary> {
        self.threads.get(id)
    }

    pub fn group(&self, id: &DocId) -> Option<&GroupSummary> {
        self.groups.get(id)
    }

    pub fn groups(&self) -> impl Iterator<Item = &GroupSummary> {
        self.groups.values()
    }

    /// The groups `employee` is a member of.
    pub fn groups_of(&self, employee: &str) -> impl Iterator<Item = &DocId> {
        self.member_of.get(employee).into_iter().flatten()
    }

    /// The threads `author` started.
    pub fn threads_by(&self, author: &str) -> impl Iterator<Item = &DocId> {
        self.by_author.get(author).into_iter().flatten()
    }

    /// Files the active people of a newly installed directory (with the profile words this
    /// model holds) for [`ReadModel::people`].
    pub fn index_people(&mut self, dir: &weft_keys::Directory) {
        let profiles = &self.profiles;
        self.people = crate::people::PeopleIndex::build(dir, |id| {
            profiles.get(id).map_or("", |p| p.words.as_str())
        });
    }

    /// People by the words they are found by.
    pub fn people(&self) -> &crate::people::PeopleIndex {
        &self.people
    }

    /// An employee's expertise, interests and languages, in lower case without accents.
    pub fn profile_words(&self, employee: &str) -> &str {
        self.profiles.get(employee).map_or("", |p| p.words.as_str())
    }

    /// An employee's profile as people search shows it: `Some(default)` for someone with no
    /// profile document held here, `None` only for a profile recorded by an older build
    /// without its card (read the document instead).
    pub fn profile_card(&self, employee: &str) -> Option<weft_crdt::ProfileView> {
        match self.profiles.get(employee) {
            None => Some(weft_crdt::ProfileView::default()),
            Some(p) => p.card.clone(),
        }
    }

    /// An employee's expertise, interests and about text, for the search index.
    pub fn profile_text(&self, employee: &str) -> &str {
        self.profiles.get(employee).map_or("", |p| p.text.as_str())
    }

    /// How many threads the model knows.
    pub fn thread_count(&self) -> usize {
        self.threads.len()
    }
}

/// The time of a thread's latest post or edit.
pub fn last_activity(t: &ThreadView) -> i64 {
    t.posts
        .iter()
        .map(|p| p.edited_at.unwrap_or(p.created_at).max(p.created_at))
        .max()
        .unwrap_or(t.created_at)
}

/// The genesis nonce that marks the "All company" group. A group's nonce is chosen by the
/// node that makes it (random for every other group: employees never choose it), is part of
/// the genesis change that the group's id is the hash of, and the write rules refuse any
/// later change to it.
pub const ALL_COMPANY_NONCE: u64 = 0x5745_4654_A11C_0001;

/// Lower case without accents, for matching names as people type them ("helene" finds
/// "Hélène").
pub fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'ç' => 'c',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ñ' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ý' | 'ÿ' => 'y',
            c => c,
        })
        .collect()
}

/// The read models as the loop and the readers share them.
pub type SharedModel = std::sync::Arc<std::sync::RwLock<ReadModel>>;

/// Reads the read models (a poisoned lock is still read: a panic while updating one document
/// leaves the others as they were).
pub(crate) fn read(m: &SharedModel) -> std::sync::RwLockReadGuard<'_, ReadModel> {
    m.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn write(m: &SharedModel) -> std::sync::RwLockWriteGuard<'_, ReadModel> {
    m.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

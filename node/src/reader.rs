//! Reads off the loop: what the feed, group pages, notifications, settings and people search
//! need, answered from the shared read models, the directory as last installed, and the store
//! — on the caller's thread, never queued behind the loop's commits, flushes or sync bursts.
//!
//! The loop ([`crate::Core`]) updates the read models at each commit, one document at a time
//! under the write lock, and swaps the directory when a new version is installed; a query takes
//! the read lock for its own length. sled is safe to read from any thread, and what a query
//! reads of it (follows, read markers, settings, notifications) is written by the loop and
//! flushed before the command that wrote it is answered.
//!
//! Who may see what is decided by [`crate::access`], as everywhere else.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use weft_crdt::{DocId, DocKind, GroupView, ProfileView, ThreadView};
use weft_keys::{Directory, Employee};

use crate::access::{self, Access};
use crate::error::NodeError;
use crate::personal::{Notification, Settings};
use crate::readmodel::{GroupSummary, ReadModel, SharedModel, ThreadSummary, read};
use crate::store::{SessionRecord, Store};

/// The directory as last installed, shared by the loop (which swaps it) and readers.
pub type SharedDirectory = Arc<RwLock<Arc<Directory>>>;

/// How many whole thread views are kept for readers (a few tens of KB each).
pub const THREAD_VIEWS: usize = 512;
/// How many profile views are kept for readers (a KB or two each: the picture is not in
/// them).
pub const PROFILE_VIEWS: usize = 4096;

/// Whole views by document id, the least recently used dropped beyond a capacity. Each is
/// kept with the document's heads it was read at (empty if not known), from which the loop
/// brings it up to date.
#[derive(Debug)]
pub struct ViewCache<V> {
    views: HashMap<DocId, (u64, Arc<V>, Vec<automerge::ChangeHash>)>,
    tick: u64,
    capacity: usize,
}

impl<V> ViewCache<V> {
    fn new(capacity: usize) -> ViewCache<V> {
        ViewCache {
            views: HashMap::new(),
            tick: 0,
            capacity,
        }
    }

    fn get(&mut self, id: &DocId) -> Option<Arc<V>> {
        self.tick += 1;
        let tick = self.tick;
        self.views.get_mut(id).map(|(used, v, _)| {
            *used = tick;
            v.clone()
        })
    }

    /// The kept view of `id` and the heads it was read at, without counting it as used.
    pub(crate) fn peek(&self, id: &DocId) -> Option<(Arc<V>, Vec<automerge::ChangeHash>)> {
        self.views
            .get(id)
            .map(|(_, v, heads)| (v.clone(), heads.clone()))
    }

    /// Keeps `view` of `id` (replacing an older one), read at unknown heads.
    pub(crate) fn put(&mut self, id: DocId, view: V) -> Arc<V> {
        self.put_at(id, view, Vec::new())
    }

    /// Keeps `view` of `id`, read when the document had `heads`.
    pub(crate) fn put_at(
        &mut self,
        id: DocId,
        view: V,
        heads: Vec<automerge::ChangeHash>,
    ) -> Arc<V> {
        self.tick += 1;
        let v = Arc::new(view);
        let used = self.views.get(&id).map_or(self.tick, |(u, _, _)| *u);
        self.views.insert(id, (used, v.clone(), heads));
        if self.views.len() > self.capacity
            && let Some(old) = self
                .views
                .iter()
                .min_by_key(|(_, (used, _, _))| *used)
                .map(|(id, _)| id.clone())
        {
            self.views.remove(&old);
        }
        v
    }

    /// Whether a view of `id` is kept (the loop refreshes only those).
    pub(crate) fn holds(&self, id: &DocId) -> bool {
        self.views.contains_key(id)
    }
}

/// What the loop keeps for readers besides the read models: recently read threads and
/// profiles as whole views (refreshed by the commit that changes them, added when the loop
/// reads one back for someone), and read markers on their way to the loop.
#[derive(Debug)]
pub struct Kept {
    threads: Mutex<ViewCache<ThreadView>>,
    profiles: Mutex<ViewCache<ProfileView>>,
    /// Read markers sent to the loop and not yet written by it, by (employee, thread): a
    /// reader counts them at once, so that a thread read is shown read on the next page even
    /// though its marker was not waited for (see [`crate::service::Service::thread_page`]).
    marks: Mutex<HashMap<(String, DocId), i64>>,
    /// Each employee's followed threads by group, derived from the store's kept set (see
    /// [`Reader::followed_by_group`]).
    follows: Mutex<HashMap<String, FollowsByGroup>>,
}

/// The threads an employee follows, by the group each belongs to, derived from one followed
/// set of the store's: a thread's group never changes, so this holds as long as the set is
/// the same (the store replaces a set that changes).
#[derive(Debug, Clone)]
struct FollowsByGroup {
    from: Arc<HashSet<DocId>>,
    groups: Arc<HashMap<DocId, Vec<DocId>>>,
}

/// How many employees' followed threads by group are kept (all dropped at the limit).
const FOLLOW_GROUPINGS: usize = 20_000;

impl Default for Kept {
    fn default() -> Kept {
        Kept {
            threads: Mutex::new(ViewCache::new(THREAD_VIEWS)),
            profiles: Mutex::new(ViewCache::new(PROFILE_VIEWS)),
            marks: Mutex::new(HashMap::new()),
            follows: Mutex::new(HashMap::new()),
        }
    }
}

/// What the loop and readers share of [`Kept`].
pub type SharedKept = Arc<Kept>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every operation under these locks is a single insert, remove or lookup: a panic while
    // one was held leaves a consistent map.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Kept {
    pub(crate) fn threads(&self) -> std::sync::MutexGuard<'_, ViewCache<ThreadView>> {
        lock(&self.threads)
    }

    pub(crate) fn profiles(&self) -> std::sync::MutexGuard<'_, ViewCache<ProfileView>> {
        lock(&self.profiles)
    }

    /// Notes that `employee` read `thread` as of `at` (its last activity then), until the
    /// loop has written the marker.
    pub(crate) fn note_read(&self, employee: &str, thread: &DocId, at: i64) {
        let mut marks = lock(&self.marks);
        let m = marks
            .entry((employee.to_owned(), thread.clone()))
            .or_insert(at);
        *m = (*m).max(at);
    }

    /// The loop wrote `employee`'s marker of `thread` at `at`: a noted one it covers is
    /// forgotten.
    pub(crate) fn marked(&self, employee: &str, thread: &DocId, at: i64) {
        let mut marks = lock(&self.marks);
        let key = (employee.to_owned(), thread.clone());
        if marks.get(&key).is_some_and(|m| *m <= at) {
            marks.remove(&key);
        }
    }

    fn noted(&self, employee: &str, thread: &DocId) -> Option<i64> {
        lock(&self.marks)
            .get(&(employee.to_owned(), thread.clone()))
            .copied()
    }
}

/// A handle for reading off the loop. Cheap to clone.
#[derive(Clone)]
pub struct Reader {
    site: Arc<str>,
    model: SharedModel,
    directory: SharedDirectory,
    kept: SharedKept,
    store: Store,
    search: crate::search::SearchReader,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reader({})", self.site)
    }
}

impl Reader {
    pub(crate) fn new(
        site: &str,
        model: SharedModel,
        directory: SharedDirectory,
        kept: SharedKept,
        store: Store,
        search: crate::search::SearchReader,
    ) -> Reader {
        Reader {
            site: site.into(),
            model,
            directory,
            kept,
            store,
            search,
        }
    }

    /// Whether the search index holds entries not committed yet (a search would miss
    /// them: ask the loop to commit first).
    pub fn search_pending(&self) -> bool {
        self.search.has_pending()
    }

    /// Searches posts, groups and people, only among what `employee` may see: their scope
    /// (the groups they read, the groups they may see listed) filters every match before it
    /// is ranked (see [`crate::search`]), and every hit is checked once more against the
    /// read model, which gives its title; no document is read. A failure inside the search
    /// engine is an error, never allowed to take the node down. Off the loop: what the
    /// index's last commit holds.
    pub fn search(
        &self,
        employee: &str,
        query: &crate::search::SearchQuery,
        kind: Option<crate::search::HitKind>,
        limit: usize,
        now: i64,
    ) -> Result<Vec<crate::service::SearchResult>, NodeError> {
        use crate::search::HitKind;
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let scope = self.model().search_scope(employee);
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.search.search(query, &scope, kind, limit, now)
        }));
        let hits = match found {
            Ok(hits) => hits?,
            Err(_) => {
                tracing::error!(employee, "search failed inside the index; the node goes on");
                return Err(NodeError::Corrupt("the search failed".into()));
            }
        };
        let model = self.model();
        let mut out = Vec::new();
        for hit in hits {
            let mut mark = None;
            let context = match hit.kind {
                HitKind::Post => {
                    let Some(t) = DocId::parse(&hit.id).ok().and_then(|t| model.thread(&t)) else {
                        continue;
                    };
                    if access::group(&model, employee, &t.group) != Access::Full {
                        continue;
                    }
                    mark = t.mark;
                    t.title.clone()
                }
                HitKind::Group => {
                    let Some(g) = DocId::parse(&hit.id).ok().and_then(|g| model.group(&g)) else {
                        continue;
                    };
                    if access::to_group(g, employee) == Access::None {
                        continue;
                    }
                    g.name.clone()
                }
                HitKind::Person => hit.title.clone(),
            };
            out.push(crate::service::SearchResult { hit, context, mark });
        }
        Ok(out)
    }

    /// How many mails wait in the queue.
    pub fn queued_mail(&self) -> usize {
        self.store.queued_mail()
    }

    /// This node's site.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// The directory as last installed.
    pub fn directory(&self) -> Arc<Directory> {
        self.directory
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The read models, for the length of one query (never across a call into the loop).
    pub fn model(&self) -> std::sync::RwLockReadGuard<'_, ReadModel> {
        read(&self.model)
    }

    /// What `employee` may see of `group`.
    pub fn group_access(&self, employee: &str, group: &DocId) -> Access {
        access::group(&self.model(), employee, group)
    }

    /// What `employee` may see of a document (see [`access::to_doc`]).
    pub fn doc_access(&self, employee: &str, doc: &DocId) -> Access {
        access::to_doc(&self.model(), employee, doc)
    }

    /// The groups `employee` may see, by name, each with how much of it.
    pub fn groups(&self, employee: &str) -> Vec<(Arc<GroupView>, Access)> {
        let model = self.model();
        let mut out: Vec<(Arc<GroupView>, Access)> = model
            .groups()
            .filter_map(|g| {
                let a = access::to_group(g, employee);
                (a != Access::None).then(|| (g.view.clone(), a))
            })
            .collect();
        out.sort_by_key(|g| g.0.name.to_lowercase());
        out
    }

    /// A group, if `employee` may see it, with how much of it.
    pub fn group(&self, employee: &str, group: &DocId) -> Option<(Arc<GroupView>, Access)> {
        let model = self.model();
        let g = model.group(group)?;
        let a = access::to_group(g, employee);
        (a != Access::None).then(|| (g.view.clone(), a))
    }

    /// A whole thread, if `employee` may read it and a view of it is kept here; `Ok(None)`
    /// means "ask the loop" (it reads the thread back and keeps its view for the next
    /// readers), `Err(NotFound)` that the thread is not there for them.
    pub fn thread(
        &self,
        employee: &str,
        thread: &DocId,
    ) -> Result<Option<Arc<ThreadView>>, NodeError> {
        if self.doc_access(employee, thread) != Access::Full {
            return Err(NodeError::NotFound);
        }
        Ok(self.kept.threads().get(thread))
    }

    /// Notes that `employee` read `thread` as of `at`, for readers, until the loop writes the
    /// marker (see [`Kept::note_read`]).
    pub(crate) fn note_read(&self, employee: &str, thread: &DocId, at: i64) {
        self.kept.note_read(employee, thread, at);
    }

    /// Up to which activity time (ms) `employee` has read `thread`: their stored marker, or
    /// one on its way to the loop if later (`i64::MIN` if none).
    pub(crate) fn read_up_to(&self, employee: &str, thread: &DocId) -> Result<i64, NodeError> {
        let stored = self
            .store
            .read_marker(employee, thread)?
            .unwrap_or(i64::MIN);
        Ok(self
            .kept
            .noted(employee, thread)
            .map_or(stored, |m| m.max(stored)))
    }

    /// `employee`'s profile, if a view of it is kept here; `None` means "ask the loop" (it
    /// reads the profile back and keeps its view for the next readers). Profiles are visible
    /// to everyone.
    pub fn profile(&self, employee: &str) -> Option<Arc<ProfileView>> {
        self.kept.profiles().get(&DocId::profile(employee))
    }

    /// The directory's entry of `employee`, whatever their status.
    pub fn employee(&self, employee: &str) -> Option<Employee> {
        self.directory().employees.get(employee).cloned()
    }

    /// Whether the directory lists `employee` as active and homed at this node's site: only
    /// such employees have accounts and sessions here.
    pub fn homed_here(&self, employee: &str) -> bool {
        self.directory().employees.get(employee).is_some_and(|e| {
            e.status == weft_keys::Status::Active && e.site.as_str() == &*self.site
        })
    }

    /// The active employee homed here whose id (in any case) or e-mail is `login`, with
    /// their password hash if they have one.
    pub(crate) fn account(
        &self,
        login: &str,
    ) -> Result<Option<(String, Option<String>)>, NodeError> {
        let login = login.to_lowercase();
        let dir = self.directory();
        let Some(e) = dir.employees.values().find(|e| {
            e.site.as_str() == &*self.site
                && e.status == weft_keys::Status::Active
                && (e.id.to_lowercase() == login || e.email == login)
        }) else {
            return Ok(None);
        };
        Ok(Some((e.id.clone(), self.store.password_hash(&e.id)?)))
    }

    /// Every stored web session (by the digest of its token).
    pub(crate) fn sessions(&self) -> Result<Vec<([u8; 32], SessionRecord)>, NodeError> {
        Ok(self.store.sessions()?)
    }

    /// The "All company" group, if this node knows it (see [`crate::Core::all_company`]
    /// for the rule).
    pub fn all_company(&self) -> Option<DocId> {
        all_company(&self.model(), &self.directory())
    }

    /// `employee`'s home feed: threads of their groups (and of "All company"), threads they
    /// follow and threads started by people they follow, that they may read; newest activity
    /// first, older than `before` (ms) if given.
    pub fn feed(
        &self,
        employee: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<FeedItem>, NodeError> {
        let company = self.all_company();
        let store = &self.store;
        // What the store says is read before the read models are locked, and the read
        // markers after: the lock is held only to pick the threads, so that the loop's next
        // commit (which takes it to write) waits on no disk read.
        let followed = store.followed_thread_set(employee)?;
        let people = store.followed_people(employee)?;
        let read_before = store.settings(employee)?.read_before;
        let chosen: Vec<(ThreadSummary, String)> = {
            let model = self.model();
            // Each group keeps its threads by activity: at most `limit` from each can be in
            // the feed, so a company's thousands of threads are never all looked at.
            let mut ids: HashSet<&DocId> = HashSet::new();
            let mut groups: Vec<&GroupSummary> = model
                .groups_of(employee)
                .filter_map(|g| model.group(g))
                .collect();
            // The one "All company" group (by its identity, never by its name), member or
            // not.
            if let Some(g) = company.and_then(|id| model.group(&id))
                && access::to_group(g, employee) == Access::Full
            {
                groups.push(g);
            }
            let considered: HashSet<&DocId> = groups.iter().map(|g| &g.id).collect();
            for g in &groups {
                ids.extend(g.newest(before).take(limit));
            }
            // A followed thread of a group looked at above is there if it can be in the feed
            // at all (its group's `limit` newest are): only those of other groups are added.
            let by_group = self.followed_by_group(employee, &followed, &model);
            for (g, threads) in by_group.iter() {
                if !considered.contains(g) {
                    ids.extend(threads.iter());
                }
            }
            for p in &people {
                ids.extend(model.threads_by(p));
            }
            let mut picked: Vec<&ThreadSummary> = ids
                .into_iter()
                .filter_map(|t| model.thread(t))
                .filter(|t| before.is_none_or(|b| t.last_activity < b))
                .filter(|t| access::group(&model, employee, &t.group) == Access::Full)
                .collect();
            let newest_first = |a: &&ThreadSummary, b: &&ThreadSummary| {
                b.last_activity
                    .cmp(&a.last_activity)
                    .then_with(|| a.id.cmp(&b.id))
            };
            if picked.len() > limit && limit > 0 {
                picked.select_nth_unstable_by(limit - 1, newest_first);
                picked.truncate(limit);
            }
            picked.sort_by(newest_first);
            picked.truncate(limit);
            picked
                .into_iter()
                .map(|t| {
                    let name = model
                        .group(&t.group)
                        .map(|g| g.name.clone())
                        .unwrap_or_default();
                    (t.clone(), name)
                })
                .collect()
        };
        chosen
            .into_iter()
            .map(|(t, group_name)| {
                Ok(FeedItem {
                    group_name,
                    unread: self.is_unread(employee, &t, read_before)?,
                    following: followed.contains(&t.id),
                    thread: t,
                })
            })
            .collect()
    }

    /// `followed` (an employee's followed threads, as the store keeps them) by group, kept
    /// while the store's set stays the same. Threads the read models do not know yet are
    /// left out, and the grouping made again once they do.
    fn followed_by_group(
        &self,
        employee: &str,
        followed: &Arc<HashSet<DocId>>,
        model: &ReadModel,
    ) -> Arc<HashMap<DocId, Vec<DocId>>> {
        if let Some(k) = lock(&self.kept.follows).get(employee)
            && Arc::ptr_eq(&k.from, followed)
        {
            return k.groups.clone();
        }
        let mut groups: HashMap<DocId, Vec<DocId>> = HashMap::new();
        let mut complete = true;
        for t in followed.iter() {
            match model.thread(t) {
                Some(s) => groups.entry(s.group.clone()).or_default().push(t.clone()),
                None => complete = false,
            }
        }
        let groups = Arc::new(groups);
        if complete {
            let mut kept = lock(&self.kept.follows);
            if kept.len() >= FOLLOW_GROUPINGS {
                kept.clear();
            }
            kept.insert(
                employee.to_owned(),
                FollowsByGroup {
                    from: followed.clone(),
                    groups: groups.clone(),
                },
            );
        }
        groups
    }

    fn is_unread(
        &self,
        employee: &str,
        t: &ThreadSummary,
        read_before: i64,
    ) -> Result<bool, NodeError> {
        let marker = self.read_up_to(employee, &t.id)?;
        Ok(t.last_author != employee && t.last_activity > marker.max(read_before))
    }

    /// The summaries of a group's threads that `employee` may read, newest activity first,
    /// older than `before` (ms) if given, each with whether it is unread; `None` if the
    /// group is not theirs to read.
    pub fn thread_summaries_of(
        &self,
        employee: &str,
        group: &DocId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Option<Vec<(ThreadSummary, bool)>>, NodeError> {
        let model = self.model();
        let Some(g) = model.group(group) else {
            return Ok(None);
        };
        if access::to_group(g, employee) != Access::Full {
            return Ok(None);
        }
        let ts: Vec<&ThreadSummary> = g
            .newest(before)
            .take(limit)
            .filter_map(|t| model.thread(t))
            .collect();
        let read_before = self.store.settings(employee)?.read_before;
        let mut out = Vec::with_capacity(ts.len());
        for t in ts {
            out.push((t.clone(), self.is_unread(employee, t, read_before)?));
        }
        Ok(Some(out))
    }

    /// Whether `employee` follows `thread`.
    pub fn follows_thread(&self, employee: &str, thread: &DocId) -> Result<bool, NodeError> {
        Ok(self.store.thread_follow(employee, thread)? == Some(true))
    }

    /// Whether `employee` follows `person`.
    pub fn follows_person(&self, employee: &str, person: &str) -> Result<bool, NodeError> {
        Ok(self
            .store
            .followed_people(employee)?
            .iter()
            .any(|p| p == person))
    }

    /// The record of `employee`'s upload of blob `hash`, if they made one.
    pub fn upload(
        &self,
        employee: &str,
        hash: &str,
    ) -> Result<Option<crate::service::FileInfo>, NodeError> {
        Ok(self
            .store
            .upload(employee, hash)?
            .and_then(|b| serde_json::from_slice(&b).ok()))
    }

    /// The requests made on `group`'s card that an owner here declined.
    pub fn card_declined(&self, group: &DocId) -> Result<HashSet<String>, NodeError> {
        Ok(self.store.card_declined(group)?)
    }

    /// The announcements `employee` dismissed.
    pub fn dismissed(&self, employee: &str) -> Result<HashSet<DocId>, NodeError> {
        Ok(self.store.dismissed(employee)?)
    }

    /// `employee`'s bookmarks: (thread, post, when kept).
    pub fn bookmarks(&self, employee: &str) -> Result<Vec<(DocId, String, i64)>, NodeError> {
        Ok(self.store.bookmarks(employee)?)
    }

    /// The outside feeds groups follow from this site (of one group, if given).
    pub(crate) fn followed_feeds(
        &self,
        group: Option<&str>,
    ) -> Result<Vec<(String, String, Vec<u8>)>, NodeError> {
        Ok(self.store.followed_feeds(group)?)
    }

    /// Whose subscription token of the kind `prefix` has this SHA-256 (hex).
    pub fn token_owner(&self, prefix: &[u8], hash: &str) -> Result<Option<String>, NodeError> {
        Ok(self.store.token_owner(prefix, hash)?)
    }

    /// `employee`'s settings.
    pub fn settings(&self, employee: &str) -> Result<Settings, NodeError> {
        Ok(self.store.settings(employee)?)
    }

    /// `employee`'s notifications that are still about something they may see, newest
    /// first, older than id `before` if given.
    pub fn notifications(
        &self,
        employee: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Notification>, NodeError> {
        let all = self.store.notifications(employee, before, limit)?;
        let model = self.model();
        Ok(all
            .into_iter()
            .filter(|n| {
                let Ok(doc) = DocId::parse(&n.doc) else {
                    return false;
                };
                match doc.kind() {
                    DocKind::Thread => access::to_doc(&model, employee, &doc) == Access::Full,
                    DocKind::Group => access::group(&model, employee, &doc) != Access::None,
                    DocKind::Profile => true,
                }
            })
            .collect())
    }

    /// How many notifications `employee` has not read.
    pub fn unread_notifications(&self, employee: &str) -> Result<usize, NodeError> {
        Ok(self.store.unread_notifications(employee)?)
    }

    /// People still at the company whose id, name, e-mail, site, title, department,
    /// expertise, interests or languages has a word starting with each word of `query` (so
    /// "hel par" finds Hélène in Paris, and "@jsm" as typed in a post finds jsmith). By name.
    pub fn find_people(&self, query: &str, limit: usize) -> Vec<Employee> {
        let dir = self.directory();
        let ids = self.model().people().search(query, limit);
        // The index follows the directory the loop installed; this reader's copy may be a
        // moment newer: someone who left in between is not shown.
        ids.iter()
            .filter_map(|id| dir.employees.get(id))
            .filter(|e| e.status == weft_keys::Status::Active)
            .cloned()
            .collect()
    }
}

/// The "All company" group among the read models (see [`crate::Core::all_company`]).
pub(crate) fn all_company(model: &ReadModel, dir: &Directory) -> Option<DocId> {
    let founding = founding_site(dir)?;
    model
        .groups()
        .filter(|g| {
            g.all_company_marker
                && g.home_site == founding
                && dir.employees.get(&g.created_by).is_some_and(|e| {
                    e.site == founding || e.history.iter().any(|t| t.site == founding)
                })
        })
        .min_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)))
        .map(|g| g.id.clone())
}

/// A thread in someone's feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    pub thread: ThreadSummary,
    pub group_name: String,
    /// Something happened in it, by someone else, since the reader last read it.
    pub unread: bool,
    pub following: bool,
}

/// The site whose node makes the "All company" group: of the sites the directory has listed
/// the longest (the first version in their key history), the first by id. Adding a site
/// later never changes it; it changes only if that site leaves the directory.
pub fn founding_site(dir: &Directory) -> Option<&str> {
    dir.sites
        .values()
        .min_by_key(|s| {
            (
                s.key_history.first().map_or(0, |k| k.from_version),
                s.id.as_str(),
            )
        })
        .map(|s| s.id.as_str())
}

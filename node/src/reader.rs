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

use weft_crdt::{DocId, DocKind, GroupView, ThreadView};
use weft_keys::Directory;

use crate::access::{self, Access};
use crate::error::NodeError;
use crate::personal::{Notification, Settings};
use crate::readmodel::{GroupSummary, ReadModel, SharedModel, ThreadSummary, fold, read};
use crate::store::Store;

/// The directory as last installed, shared by the loop (which swaps it) and readers.
pub type SharedDirectory = Arc<RwLock<Arc<Directory>>>;

/// Recently read threads as whole views, shared by the loop (which refreshes the ones a
/// commit changed, and adds the ones it reads back for someone) and readers.
pub type SharedThreads = Arc<Mutex<ThreadCache>>;

/// How many whole thread views are kept for readers (a few tens of KB each).
pub const THREAD_VIEWS: usize = 512;

/// Whole thread views by id, the least recently used dropped beyond [`THREAD_VIEWS`].
#[derive(Debug, Default)]
pub struct ThreadCache {
    views: HashMap<DocId, (u64, Arc<ThreadView>)>,
    tick: u64,
}

impl ThreadCache {
    fn get(&mut self, id: &DocId) -> Option<Arc<ThreadView>> {
        self.tick += 1;
        let tick = self.tick;
        self.views.get_mut(id).map(|(used, v)| {
            *used = tick;
            v.clone()
        })
    }

    /// Keeps `view` (replacing an older one).
    pub(crate) fn put(&mut self, view: ThreadView) -> Arc<ThreadView> {
        self.tick += 1;
        let v = Arc::new(view);
        self.views.insert(v.id.clone(), (self.tick, v.clone()));
        if self.views.len() > THREAD_VIEWS
            && let Some(old) = self
                .views
                .iter()
                .min_by_key(|(_, (used, _))| *used)
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

pub(crate) fn lock(t: &SharedThreads) -> std::sync::MutexGuard<'_, ThreadCache> {
    t.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A handle for reading off the loop. Cheap to clone.
#[derive(Clone)]
pub struct Reader {
    site: Arc<str>,
    model: SharedModel,
    directory: SharedDirectory,
    threads: SharedThreads,
    store: Store,
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
        threads: SharedThreads,
        store: Store,
    ) -> Reader {
        Reader {
            site: site.into(),
            model,
            directory,
            threads,
            store,
        }
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
        Ok(lock(&self.threads).get(thread))
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
        let model = self.model();
        let store = &self.store;
        // Each group keeps its threads by activity: at most `limit` from each can be in the
        // feed, so a company's thousands of threads are never all looked at.
        let mut ids: HashSet<&DocId> = HashSet::new();
        let mut groups: Vec<&GroupSummary> = model
            .groups_of(employee)
            .filter_map(|g| model.group(g))
            .collect();
        // The one "All company" group (by its identity, never by its name), member or not.
        if let Some(g) = company.and_then(|id| model.group(&id))
            && access::to_group(g, employee) == Access::Full
        {
            groups.push(g);
        }
        for g in groups {
            ids.extend(g.newest(before).take(limit));
        }
        let followed = store.followed_threads(employee)?;
        ids.extend(followed.iter());
        let people = store.followed_people(employee)?;
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
        let read_before = store.settings(employee)?.read_before;
        picked
            .into_iter()
            .map(|t| {
                Ok(FeedItem {
                    group_name: model
                        .group(&t.group)
                        .map(|g| g.name.clone())
                        .unwrap_or_default(),
                    unread: self.is_unread(employee, t, read_before)?,
                    following: followed.contains(&t.id),
                    thread: t.clone(),
                })
            })
            .collect()
    }

    fn is_unread(
        &self,
        employee: &str,
        t: &ThreadSummary,
        read_before: i64,
    ) -> Result<bool, NodeError> {
        let marker = self.store.read_marker(employee, &t.id)?.unwrap_or(i64::MIN);
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
    pub fn find_people(&self, query: &str, limit: usize) -> Vec<weft_keys::Employee> {
        let dir = self.directory();
        let model = self.model();
        let wanted: Vec<String> = fold(query)
            .split(|c: char| c.is_whitespace() || c == ',')
            .map(|w| w.trim_start_matches('@').to_owned())
            .filter(|w| !w.is_empty())
            .collect();
        let mut out: Vec<weft_keys::Employee> = dir
            .employees
            .values()
            .filter(|e| e.status == weft_keys::Status::Active)
            .filter(|e| {
                if wanted.is_empty() {
                    return true;
                }
                // The employee's own words come from the read model: no document is read.
                let hay = fold(&format!(
                    "{} {} {} {} {} {}",
                    e.id, e.display_name, e.email, e.site, e.title, e.department
                )) + " "
                    + model.profile_words(&e.id);
                let words: Vec<&str> = hay
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .collect();
                wanted
                    .iter()
                    .all(|w| words.iter().any(|h| h.starts_with(w.as_str())))
            })
            .cloned()
            .collect();
        out.sort_by_key(|e| fold(&e.display_name));
        out.truncate(limit);
        out
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

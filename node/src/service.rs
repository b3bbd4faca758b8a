//! The service API: what an employee may see and do, as queries and commands on the core.
//!
//! The web layer calls these through [`crate::NodeHandle::call`]. Visibility is decided here,
//! once: a public group and its threads are visible to every employee; a private or secret
//! group and its threads only to its members and invitees (and a private group's name and
//! description — but none of its threads — to anyone, so people can ask to join). Anything not
//! visible is reported as not found, so its existence does not leak.

use weft_crdt::{
    DocId, DocKind, GroupSettings, GroupView, NewGroup, ProfileUpdate, ProfileView, ThreadView,
    Visibility,
};

use crate::core::Core;
use crate::error::NodeError;
use crate::personal::{Notification, Settings};
use crate::readmodel::ThreadSummary;

pub use crate::access::Access;
pub use crate::reader::{FeedItem, founding_site};
pub use crate::readmodel::{ALL_COMPANY_NONCE, fold, last_activity};

/// A post's id in the API: the thread's id and the post's id within it.
pub fn post_ref(thread: &DocId, post: &str) -> String {
    format!("{thread}~{post}")
}

/// Splits a post reference made by [`post_ref`].
pub fn parse_post_ref(s: &str) -> Option<(DocId, String)> {
    let (t, p) = s.split_once('~')?;
    let t = DocId::parse(t).ok()?;
    (t.kind() == DocKind::Thread && !p.is_empty()).then(|| (t, p.to_owned()))
}

impl Core {
    /// What `employee` may see of a group (from the read model: no document is read).
    pub fn group_access(&self, employee: &str, group: &DocId) -> Access {
        crate::access::group(&self.model(), employee, group)
    }

    /// The groups `employee` may see, by name.
    pub fn groups_for(&self, employee: &str) -> Vec<(GroupView, Access)> {
        let mut out: Vec<(GroupView, Access)> = self
            .model()
            .groups()
            .filter_map(|g| {
                let a = crate::access::to_group(g, employee);
                (a != Access::None).then_some((g.id.clone(), a))
            })
            .filter_map(|(id, a)| Some((self.replica().doc(&id).and_then(GroupView::of)?, a)))
            .collect();
        out.sort_by_key(|g| g.0.name.to_lowercase());
        out
    }

    /// A group, if `employee` may see it.
    pub fn group_for(&self, employee: &str, group: &DocId) -> Option<(GroupView, Access)> {
        let access = self.group_access(employee, group);
        if access == Access::None {
            return None;
        }
        Some((self.replica().doc(group).and_then(GroupView::of)?, access))
    }

    /// A thread, if `employee` may read it.
    pub fn thread_for(&mut self, employee: &str, thread: &DocId) -> Option<ThreadView> {
        let group = self.replica().group_of(thread)?;
        if self.group_access(employee, &group) != Access::Full {
            return None;
        }
        self.load(thread);
        let view = self.replica().doc(thread).and_then(ThreadView::of)?;
        if self.group_access(employee, &view.group) != Access::Full {
            return None;
        }
        // Kept for the next readers, who then need not come to the loop.
        Some((*self.keep_thread_view(view)).clone())
    }

    /// That `employee` may write in `thread`: it exists and they have full access to its group;
    /// `Forbidden` if they see the group's listing only (a private group they are not, or no
    /// longer, a member of), `NotFound` if they may not see it at all.
    fn require_thread(&mut self, employee: &str, thread: &DocId) -> Result<(), NodeError> {
        let group = self.replica().group_of(thread).ok_or(NodeError::NotFound)?;
        self.require(employee, &group, Access::Full)?;
        self.thread_for(employee, thread)
            .map(|_| ())
            .ok_or(NodeError::NotFound)
    }

    /// The threads of a group that `employee` may read, newest activity first.
    pub fn threads_of(&mut self, employee: &str, group: &DocId) -> Option<Vec<ThreadView>> {
        if self.group_access(employee, group) != Access::Full {
            return None;
        }
        let g = self.replica().doc(group).and_then(GroupView::of)?;
        for t in g.threads.keys() {
            self.load(t);
        }
        // A group's `threads` map is written by its members, who could list a thread of
        // another (private) group there: only threads whose own document names this group
        // are shown.
        let mut threads: Vec<ThreadView> = g
            .threads
            .keys()
            .filter(|t| self.replica().group_of(t).as_ref() == Some(group))
            .filter_map(|t| self.replica().doc(t).and_then(ThreadView::of))
            .filter(|v| v.group == *group)
            .collect();
        threads.sort_by_key(|t| std::cmp::Reverse(last_activity(t)));
        Some(threads)
    }

    /// An employee's own profile fields.
    pub fn profile_of(&mut self, employee: &str) -> ProfileView {
        self.load(&DocId::profile(employee));
        self.replica()
            .doc(&DocId::profile(employee))
            .map(ProfileView::of)
            .unwrap_or_default()
    }

    /// An employee's profile picture.
    pub fn picture_of(&mut self, employee: &str) -> Option<Vec<u8>> {
        self.load(&DocId::profile(employee));
        self.replica()
            .doc(&DocId::profile(employee))
            .and_then(ProfileView::picture_of)
    }

    /// Creates a group as `employee`. The "All company" name is reserved (see
    /// [`is_reserved_name`]), and so is its genesis marker.
    pub fn create_group(
        &mut self,
        employee: &str,
        name: &str,
        description: &str,
        visibility: Visibility,
        now: i64,
        nonce: u64,
    ) -> Result<DocId, NodeError> {
        if is_reserved_name(name) {
            return Err(NodeError::Invalid(format!(
                "the name {ALL_COMPANY:?} is reserved for the company-wide group"
            )));
        }
        if nonce == ALL_COMPANY_NONCE {
            return Err(NodeError::Invalid("try again".into()));
        }
        self.make_group(employee, name, description, visibility, now, nonce)
    }

    fn make_group(
        &mut self,
        employee: &str,
        name: &str,
        description: &str,
        visibility: Visibility,
        now: i64,
        nonce: u64,
    ) -> Result<DocId, NodeError> {
        let site = self.site().to_owned();
        self.local(employee, |r, me| {
            let g = r.create_group(
                me,
                &NewGroup {
                    name,
                    description,
                    visibility,
                    home_site: &site,
                },
                now,
                nonce,
            )?;
            Ok((g.doc().clone(), vec![g]))
        })
    }

    /// Changes a group's settings (owners).
    pub fn update_group(
        &mut self,
        employee: &str,
        group: &DocId,
        settings: &GroupSettings<'_>,
        now: i64,
    ) -> Result<(), NodeError> {
        self.require(employee, group, Access::Full)?;
        if settings.name.is_some_and(is_reserved_name) && self.all_company().as_ref() != Some(group)
        {
            return Err(NodeError::Invalid(format!(
                "the name {ALL_COMPANY:?} is reserved for the company-wide group"
            )));
        }
        self.local_one(employee, |r, me| r.update_group(me, group, settings, now))
    }

    /// Adds a member (an owner adding anyone; or the employee joining a public group or
    /// accepting an invitation); asks to join a private group when that is all the employee
    /// may do.
    pub fn add_member(
        &mut self,
        employee: &str,
        group: &DocId,
        member: &str,
        now: i64,
    ) -> Result<MembershipOutcome, NodeError> {
        let access = self.group_access(employee, group);
        if access == Access::None {
            return Err(NodeError::NotFound);
        }
        let view = self
            .replica()
            .doc(group)
            .and_then(GroupView::of)
            .ok_or(NodeError::NotFound)?;
        let own = member == employee;
        if own {
            self.spend_membership(employee, group)?;
        }
        let invited = view.invitations.iter().any(|i| i == employee);
        if own && !view.is_owner(employee) && view.visibility != Visibility::Public && !invited {
            self.local_one(employee, |r, me| r.request_to_join(me, group, "", now))?;
            return Ok(MembershipOutcome::Requested);
        }
        self.local_one(employee, |r, me| r.add_member(me, group, member, now))?;
        Ok(MembershipOutcome::Added)
    }

    /// Removes a member (an owner), or the employee leaves.
    pub fn remove_member(
        &mut self,
        employee: &str,
        group: &DocId,
        member: &str,
        now: i64,
    ) -> Result<(), NodeError> {
        self.require(employee, group, Access::Full)?;
        if member == employee {
            self.spend_membership(employee, group)?;
        }
        self.local_one(employee, |r, me| r.remove_member(me, group, member, now))
    }

    /// Declines a join request (an owner), or withdraws one's own.
    pub fn drop_request(
        &mut self,
        employee: &str,
        group: &DocId,
        who: &str,
        now: i64,
    ) -> Result<(), NodeError> {
        self.require(employee, group, Access::Listing)?;
        if who == employee {
            self.spend_membership(employee, group)?;
        }
        self.local_one(employee, |r, me| r.drop_request(me, group, who, now))
    }

    /// Invites someone (owners).
    pub fn invite(
        &mut self,
        employee: &str,
        group: &DocId,
        who: &str,
        now: i64,
    ) -> Result<(), NodeError> {
        self.require(employee, group, Access::Full)?;
        self.local_one(employee, |r, me| r.invite(me, group, who, now))
    }

    /// Starts a thread.
    pub fn create_thread(
        &mut self,
        employee: &str,
        group: &DocId,
        title: &str,
        body: &str,
        now: i64,
        nonce: u64,
    ) -> Result<DocId, NodeError> {
        self.require(employee, group, Access::Full)?;
        self.local(employee, |r, me| {
            let (t, l) = r.create_thread(me, group, title, body, now, nonce)?;
            Ok((t.doc().clone(), vec![t, l]))
        })
    }

    /// Replies in a thread; returns the new post's id within the thread.
    pub fn reply(
        &mut self,
        employee: &str,
        thread: &DocId,
        body: &str,
        reply_to: Option<&str>,
        now: i64,
        nonce: u64,
    ) -> Result<String, NodeError> {
        self.require_thread(employee, thread)?;
        self.local(employee, |r, me| {
            let (c, pid) = r.reply(me, thread, body, reply_to, now, nonce)?;
            Ok((pid, vec![c]))
        })
    }

    /// Edits one's post.
    pub fn edit_post(
        &mut self,
        employee: &str,
        thread: &DocId,
        post: &str,
        body: &str,
        now: i64,
    ) -> Result<(), NodeError> {
        self.require_thread(employee, thread)?;
        self.local_one(employee, |r, me| r.edit_post(me, thread, post, body, now))
    }

    /// Deletes one's post.
    pub fn delete_post(
        &mut self,
        employee: &str,
        thread: &DocId,
        post: &str,
        now: i64,
    ) -> Result<(), NodeError> {
        self.require_thread(employee, thread)?;
        self.local_one(employee, |r, me| r.delete_post(me, thread, post, now))
    }

    /// Adds or removes a reaction.
    pub fn react(
        &mut self,
        employee: &str,
        thread: &DocId,
        post: &str,
        kind: &str,
        on: bool,
        now: i64,
    ) -> Result<(), NodeError> {
        self.require_thread(employee, thread)?;
        self.local_one(employee, |r, me| r.react(me, thread, post, kind, on, now))
    }

    /// Edits one's profile.
    pub fn update_profile(
        &mut self,
        employee: &str,
        update: &ProfileUpdate<'_>,
        now: i64,
    ) -> Result<(), NodeError> {
        self.local_one(employee, |r, me| r.update_profile(me, update, now))
    }

    /// A local command that makes one change.
    fn local_one(
        &mut self,
        employee: &str,
        f: impl FnOnce(
            &mut weft_crdt::Replica,
            &weft_crdt::Author,
        ) -> Result<weft_crdt::SignedChange, weft_crdt::LocalError>,
    ) -> Result<(), NodeError> {
        self.local(employee, |r, me| Ok(((), vec![f(r, me)?])))
    }

    /// That `employee` has at least `at_least` access to `group`. Missing access to a group
    /// they cannot see at all is "not found" (its existence does not leak); to a group whose
    /// listing they see, "forbidden".
    fn require(&self, employee: &str, group: &DocId, at_least: Access) -> Result<(), NodeError> {
        let a = self.group_access(employee, group);
        let ok = match at_least {
            Access::Full => a == Access::Full,
            Access::Listing => a != Access::None,
            Access::None => true,
        };
        match (ok, a) {
            (true, _) => Ok(()),
            (false, Access::None) => Err(NodeError::NotFound),
            (false, _) => Err(NodeError::Forbidden(
                "only the group's members may do this".into(),
            )),
        }
    }
}

/// A search result the searcher may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResult {
    pub hit: crate::search::Hit,
    /// For a post: its thread's title; for a group: the group's name; for a person: their name.
    pub context: String,
}

impl Core {
    /// Searches posts, groups and people, only among what `employee` may see: their scope
    /// (the groups they read, the groups they may see listed) is part of the query itself,
    /// so what they may not see is never matched, scored or counted (see [`crate::search`]
    /// for how results are ranked). A failure inside the search engine is reported as an
    /// error, never allowed to take the node down.
    pub fn search(
        &mut self,
        employee: &str,
        query: &crate::search::SearchQuery,
        kind: Option<crate::search::HitKind>,
        limit: usize,
    ) -> Result<Vec<SearchResult>, NodeError> {
        use crate::search::{HitKind, Scope};
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let mut scope = Scope::default();
        for g in self.model().groups() {
            match crate::access::to_group(g, employee) {
                Access::Full => {
                    scope.readable.push(g.id.clone());
                    scope.listed.push(g.id.clone());
                }
                Access::Listing => scope.listed.push(g.id.clone()),
                Access::None => {}
            }
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let index = self.search_index();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            index.search(query, &scope, kind, limit, now)
        }));
        let hits = match found {
            Ok(hits) => hits?,
            Err(_) => {
                tracing::error!(employee, "search failed inside the index; the node goes on");
                return Err(NodeError::Corrupt("the search failed".into()));
            }
        };
        let mut out = Vec::new();
        for hit in hits {
            // The scope already holds only what the employee may see; the views are read
            // for their titles, and checked once more.
            let context = match hit.kind {
                HitKind::Post => {
                    let Ok(t) = DocId::parse(&hit.id) else {
                        continue;
                    };
                    match self.thread_for(employee, &t) {
                        Some(v) => v.title,
                        None => continue,
                    }
                }
                HitKind::Group => {
                    let Ok(g) = DocId::parse(&hit.id) else {
                        continue;
                    };
                    match self.group_for(employee, &g) {
                        Some((v, _)) => v.name,
                        None => continue,
                    }
                }
                HitKind::Person => hit.title.clone(),
            };
            out.push(SearchResult { hit, context });
        }
        Ok(out)
    }
}

/// What asking to join did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipOutcome {
    Added,
    /// The group is private: a join request was filed.
    Requested,
}

/// How many posts about a topic its page looks at, at most.
pub const TOPIC_POSTS: usize = 1_000;

impl Core {
    /// The threads `employee` may read that have a visible post about `topic` (as the post
    /// views give topics: lower case, no `#`), newest activity first, with their group's
    /// name. From the search index and the read models: no document is read.
    pub fn threads_about(
        &mut self,
        employee: &str,
        topic: &str,
    ) -> Result<Vec<(ThreadSummary, String)>, NodeError> {
        let readable: Vec<DocId> = self
            .model()
            .groups()
            .filter(|g| crate::access::to_group(g, employee) == Access::Full)
            .map(|g| g.id.clone())
            .collect();
        let ids = self
            .search_index()
            .threads_about(topic, &readable, TOPIC_POSTS)?;
        let model = self.model();
        let mut out: Vec<(ThreadSummary, String)> = ids
            .iter()
            .filter_map(|id| model.thread(id))
            .filter_map(|t| {
                let g = model.group(&t.group)?;
                (crate::access::to_group(g, employee) == Access::Full)
                    .then(|| (t.clone(), g.name.clone()))
            })
            .collect();
        out.sort_by_key(|(t, _)| std::cmp::Reverse(t.last_activity));
        Ok(out)
    }
}

/// The name of the group every employee sees in their feed, member or not. Reserved: no one
/// else may give a group this name (see [`is_reserved_name`]); the group itself is known by
/// its identity, not its name (see [`Core::all_company`]).
pub const ALL_COMPANY: &str = "All company";

/// Whether `name` reads as the "All company" group's name (or its French one): case,
/// accents, spaces and punctuation are ignored, so "ALL  company!" and "all-company" are it
/// too. Such names are refused for any other group.
pub fn is_reserved_name(name: &str) -> bool {
    let bare: String = fold(name).chars().filter(|c| c.is_alphanumeric()).collect();
    matches!(bare.as_str(), "allcompany" | "toutelentreprise")
}

impl Core {
    /// `employee`'s home feed (see [`crate::Reader::feed`]).
    pub fn feed_for(
        &self,
        employee: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<FeedItem>, NodeError> {
        self.reader().feed(employee, before, limit)
    }

    /// The summaries of a group's threads `employee` may read (see
    /// [`crate::Reader::thread_summaries_of`]).
    pub fn thread_summaries_of(
        &self,
        employee: &str,
        group: &DocId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Option<Vec<(ThreadSummary, bool)>>, NodeError> {
        self.reader()
            .thread_summaries_of(employee, group, before, limit)
    }

    /// Follows (or stops following) a thread `employee` may read.
    pub fn follow_thread(
        &mut self,
        employee: &str,
        thread: &DocId,
        on: bool,
    ) -> Result<(), NodeError> {
        let group = self
            .model()
            .thread(thread)
            .map(|t| t.group.clone())
            .ok_or(NodeError::NotFound)?;
        if self.group_access(employee, &group) != Access::Full {
            return Err(NodeError::NotFound);
        }
        self.spend_write(employee)?;
        self.store().set_thread_follow(employee, thread, on)?;
        Ok(())
    }

    /// Whether `employee` follows `thread`.
    pub fn follows_thread(&self, employee: &str, thread: &DocId) -> Result<bool, NodeError> {
        self.reader().follows_thread(employee, thread)
    }

    /// Follows (or stops following) a person listed in the directory.
    pub fn follow_person(
        &mut self,
        employee: &str,
        person: &str,
        on: bool,
    ) -> Result<(), NodeError> {
        let listed = self
            .replica()
            .directory()
            .is_some_and(|d| d.directory.employees.contains_key(person));
        if !listed {
            return Err(NodeError::NotFound);
        }
        if person == employee {
            return Err(NodeError::Invalid("one cannot follow oneself".into()));
        }
        self.spend_write(employee)?;
        self.store().set_person_follow(employee, person, on)?;
        Ok(())
    }

    /// Whether `employee` follows `person`.
    pub fn follows_person(&self, employee: &str, person: &str) -> Result<bool, NodeError> {
        self.reader().follows_person(employee, person)
    }

    /// Records that `employee` has read `thread` as it is now.
    pub fn mark_thread_read(&mut self, employee: &str, thread: &DocId) -> Result<(), NodeError> {
        if let Some(t) = self.model().thread(thread) {
            let at = t.last_activity;
            self.store().mark_read(employee, thread, at)?;
        }
        Ok(())
    }

    /// Marks everything in `employee`'s feed as read, as of `now` (ms).
    pub fn mark_all_read(&mut self, employee: &str, now: i64) -> Result<(), NodeError> {
        let mut s = self.store().settings(employee)?;
        s.read_before = s.read_before.max(now);
        self.store().put_settings(employee, &s)?;
        Ok(())
    }

    /// Called at each login: the first one starts the employee's settings, counting what
    /// was posted before as read (a newcomer's feed is not a wall of "new").
    pub fn on_login(&mut self, employee: &str, now: i64) -> Result<Settings, NodeError> {
        if !self.store().has_settings(employee)? {
            let s = Settings {
                charter: None,
                read_before: now,
            };
            self.store().put_settings(employee, &s)?;
            return Ok(s);
        }
        Ok(self.store().settings(employee)?)
    }

    /// `employee`'s settings.
    pub fn settings_of(&self, employee: &str) -> Result<Settings, NodeError> {
        self.reader().settings(employee)
    }

    /// Records that `employee` accepted the usage charter whose SHA-256 is `hash`.
    pub fn accept_charter(&mut self, employee: &str, hash: &str) -> Result<(), NodeError> {
        let mut s = self.store().settings(employee)?;
        s.charter = Some(hash.to_owned());
        self.store().put_settings(employee, &s)?;
        Ok(())
    }

    /// `employee`'s notifications that are still about something they may see (see
    /// [`crate::Reader::notifications`]).
    pub fn notifications_for(
        &self,
        employee: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Notification>, NodeError> {
        self.reader().notifications(employee, before, limit)
    }

    /// How many notifications `employee` has not read.
    pub fn unread_notifications(&self, employee: &str) -> Result<usize, NodeError> {
        self.reader().unread_notifications(employee)
    }

    /// Marks `employee`'s notifications read up to id `up_to` (all if `None`).
    pub fn mark_notifications_read(
        &mut self,
        employee: &str,
        up_to: Option<u64>,
    ) -> Result<usize, NodeError> {
        Ok(self.store().mark_notifications_read(employee, up_to)?)
    }
}

impl Core {
    /// People still at the company matching `query` (see [`crate::Reader::find_people`]).
    pub fn find_people(&self, query: &str, limit: usize) -> Vec<weft_keys::Employee> {
        self.reader().find_people(query, limit)
    }
}

impl Core {
    /// The "All company" group, if this node knows it.
    ///
    /// Its identity is decided from what every site shares, so every site names the same
    /// group, and no employee can make another one count:
    /// * its genesis carries [`ALL_COMPANY_NONCE`] — a field fixed at genesis that only the
    ///   node chooses (through [`Core::ensure_all_company`]), never an employee;
    /// * it was made from the directory's founding site ([`founding_site`]), by an employee
    ///   the directory homes (or homed) there — so another site's node, even a compromised
    ///   one, cannot make one: it signs only for its own employees;
    /// * of several such groups (a founding node rebuilt from an empty store before hearing
    ///   from its peers makes a second), the oldest, then the smallest id.
    ///
    /// Its name is not part of its identity: a group that merely has the name is an ordinary
    /// group (and the service refuses the name to any other group anyway).
    pub fn all_company(&self) -> Option<DocId> {
        let dir = &self.replica().directory()?.directory;
        crate::reader::all_company(&self.model(), dir)
    }

    /// Makes sure an "All company" group exists: every employee sees its threads in their
    /// feed. With no central server, one node creates it: the node of the directory's
    /// founding site, at its first start (when it knows no such group), in the name of that
    /// site's first community manager (else its first employee). The others receive it like
    /// any public group.
    pub fn ensure_all_company(&mut self, now: i64) -> Result<Option<DocId>, NodeError> {
        if self.all_company().is_some() {
            return Ok(None);
        }
        let Some(dir) = self.replica().directory().map(|d| d.directory.clone()) else {
            return Ok(None);
        };
        if founding_site(&dir) != Some(self.site()) {
            return Ok(None);
        }
        let active: Vec<&weft_keys::Employee> = dir
            .employees
            .values()
            .filter(|e| e.site == self.site() && e.status == weft_keys::Status::Active)
            .collect();
        let author = active
            .iter()
            .find(|e| e.roles.contains(&weft_keys::Role::CommunityManager))
            .or(active.first());
        let Some(author) = author.map(|e| e.id.clone()) else {
            return Ok(None);
        };
        let org = dir.organisation.clone();
        let description = format!("Everyone at {org}. / Tout le monde chez {org}.");
        let id = self.make_group(
            &author,
            ALL_COMPANY,
            &description,
            Visibility::Public,
            now,
            ALL_COMPANY_NONCE,
        )?;
        tracing::info!(group = %id, author, "created the All company group");
        Ok(Some(id))
    }
}

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

/// How much of a group someone may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing: answer "not found".
    None,
    /// The listing only (a private group, to a non-member).
    Listing,
    /// Everything.
    Full,
}

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
    /// What `employee` may see of a group.
    pub fn group_access(&self, employee: &str, group: &DocId) -> Access {
        let Some(g) = self.replica().doc(group).and_then(GroupView::of) else {
            return Access::None;
        };
        if g.visibility == Visibility::Public
            || g.is_member(employee)
            || g.invitations.iter().any(|i| i == employee)
        {
            Access::Full
        } else if g.visibility == Visibility::Private {
            Access::Listing
        } else {
            Access::None
        }
    }

    /// The groups `employee` may see, by name.
    pub fn groups_for(&self, employee: &str) -> Vec<(GroupView, Access)> {
        let mut out: Vec<(GroupView, Access)> = self
            .replica()
            .docs()
            .filter(|d| d.kind() == DocKind::Group)
            .filter_map(GroupView::of)
            .map(|g| {
                let a = self.group_access(employee, &g.id);
                (g, a)
            })
            .filter(|(_, a)| *a != Access::None)
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
    pub fn thread_for(&self, employee: &str, thread: &DocId) -> Option<ThreadView> {
        let view = self.replica().doc(thread).and_then(ThreadView::of)?;
        (self.group_access(employee, &view.group) == Access::Full).then_some(view)
    }

    /// The threads of a group that `employee` may read, newest activity first.
    pub fn threads_of(&self, employee: &str, group: &DocId) -> Option<Vec<ThreadView>> {
        if self.group_access(employee, group) != Access::Full {
            return None;
        }
        let g = self.replica().doc(group).and_then(GroupView::of)?;
        let mut threads: Vec<ThreadView> = g
            .threads
            .keys()
            .filter_map(|t| self.replica().doc(t).and_then(ThreadView::of))
            .collect();
        threads.sort_by_key(|t| std::cmp::Reverse(last_activity(t)));
        Some(threads)
    }

    /// An employee's own profile fields.
    pub fn profile_of(&self, employee: &str) -> ProfileView {
        self.replica()
            .doc(&DocId::profile(employee))
            .map(ProfileView::of)
            .unwrap_or_default()
    }

    /// Creates a group as `employee`.
    pub fn create_group(
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
        self.local(employee, |r, me| {
            let c = r.update_group(me, group, settings, now)?;
            Ok(((), vec![c]))
        })
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
        let invited = view.invitations.iter().any(|i| i == employee);
        if own && !view.is_owner(employee) && view.visibility != Visibility::Public && !invited {
            self.local(employee, |r, me| {
                let c = r.request_to_join(me, group, "", now)?;
                Ok(((), vec![c]))
            })?;
            return Ok(MembershipOutcome::Requested);
        }
        self.local(employee, |r, me| {
            let c = r.add_member(me, group, member, now)?;
            Ok(((), vec![c]))
        })?;
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
        self.local(employee, |r, me| {
            let c = r.remove_member(me, group, member, now)?;
            Ok(((), vec![c]))
        })
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
        self.local(employee, |r, me| {
            let c = r.invite(me, group, who, now)?;
            Ok(((), vec![c]))
        })
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
        self.thread_for(employee, thread)
            .ok_or(NodeError::NotFound)?;
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
        self.thread_for(employee, thread)
            .ok_or(NodeError::NotFound)?;
        self.local(employee, |r, me| {
            let c = r.edit_post(me, thread, post, body, now)?;
            Ok(((), vec![c]))
        })
    }

    /// Deletes one's post.
    pub fn delete_post(
        &mut self,
        employee: &str,
        thread: &DocId,
        post: &str,
        now: i64,
    ) -> Result<(), NodeError> {
        self.thread_for(employee, thread)
            .ok_or(NodeError::NotFound)?;
        self.local(employee, |r, me| {
            let c = r.delete_post(me, thread, post, now)?;
            Ok(((), vec![c]))
        })
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
        self.thread_for(employee, thread)
            .ok_or(NodeError::NotFound)?;
        self.local(employee, |r, me| {
            let c = r.react(me, thread, post, kind, on, now)?;
            Ok(((), vec![c]))
        })
    }

    /// Edits one's profile.
    pub fn update_profile(
        &mut self,
        employee: &str,
        update: &ProfileUpdate<'_>,
        now: i64,
    ) -> Result<(), NodeError> {
        self.local(employee, |r, me| {
            let c = r.update_profile(me, update, now)?;
            Ok(((), vec![c]))
        })
    }

    fn require(&self, employee: &str, group: &DocId, at_least: Access) -> Result<(), NodeError> {
        let a = self.group_access(employee, group);
        let ok = match at_least {
            Access::Full => a == Access::Full,
            Access::Listing => a != Access::None,
            Access::None => true,
        };
        if ok { Ok(()) } else { Err(NodeError::NotFound) }
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
    /// Searches posts, groups and people, keeping only what `employee` may see.
    pub fn search(
        &mut self,
        employee: &str,
        query: &str,
        kind: Option<crate::search::HitKind>,
        limit: usize,
    ) -> Result<Vec<SearchResult>, NodeError> {
        use crate::search::HitKind;
        let hits = self.search_index().search(query, kind, limit * 3)?;
        let mut out = Vec::new();
        for hit in hits {
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
            if out.len() >= limit {
                break;
            }
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

/// The time of a thread's latest post or edit.
pub fn last_activity(t: &ThreadView) -> i64 {
    t.posts
        .iter()
        .map(|p| p.edited_at.unwrap_or(p.created_at).max(p.created_at))
        .max()
        .unwrap_or(t.created_at)
}

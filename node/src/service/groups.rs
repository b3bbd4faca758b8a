//! Groups: the ones an employee may see, a group's page, creating and editing groups,
//! membership (joining, asking, inviting, removing, declining), and the "All company" group.

use std::sync::Arc;

use weft_crdt::{DocId, GroupSettings, GroupView, NewGroup, ThreadView, Visibility};

use super::{Access, Service, Viewer};
use crate::core::Core;
use crate::error::NodeError;
use crate::reader::founding_site;
use crate::readmodel::{ALL_COMPANY_NONCE, ThreadSummary, fold, last_activity};

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

/// What asking to join did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipOutcome {
    Added,
    /// The group is private: a join request was filed.
    Requested,
}

/// Someone shown on a group's page, as the directory names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    /// Their id when the directory does not list them (any more).
    pub display_name: String,
    pub site: String,
}

/// What a group's page shows its viewer.
#[derive(Debug, Clone)]
pub struct GroupPage {
    pub group: Arc<GroupView>,
    pub access: Access,
    /// Its threads' summaries, newest activity first, each with whether it is unread (none
    /// unless the viewer has full access).
    pub threads: Vec<(ThreadSummary, bool)>,
    pub members: Vec<Member>,
    /// Join requests, with their messages.
    pub requests: Vec<(Member, String)>,
}

/// The settings of a group to change (those left `None` stay as they are).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupEdit {
    pub name: Option<String>,
    pub description: Option<String>,
    pub visibility: Option<Visibility>,
}

impl Service {
    /// The groups the viewer may see, by name, each with how much of it. Off the loop.
    pub async fn groups(&self, v: &Viewer) -> Result<Vec<(Arc<GroupView>, Access)>, NodeError> {
        Ok(self.reader().groups(v.id()))
    }

    /// A group, with how much of it the viewer may see; `NotFound` if nothing. Off the loop.
    pub async fn group(
        &self,
        v: &Viewer,
        group: &DocId,
    ) -> Result<(Arc<GroupView>, Access), NodeError> {
        self.reader()
            .group(v.id(), group)
            .ok_or(NodeError::NotFound)
    }

    /// A group's page: the group, the viewer's access, a page of its threads (older than
    /// `before`, ms, if given) and its members and requests as the directory names them.
    /// Off the loop.
    pub async fn group_page(
        &self,
        v: &Viewer,
        group: &DocId,
        before: Option<i64>,
        limit: usize,
    ) -> Result<GroupPage, NodeError> {
        let reader = self.reader();
        let (g, access) = reader.group(v.id(), group).ok_or(NodeError::NotFound)?;
        let threads = reader
            .thread_summaries_of(v.id(), group, before, limit)
            .ok()
            .flatten()
            .unwrap_or_default();
        let dir = reader.directory();
        let member = |m: &String| {
            let e = dir.employees.get(m);
            Member {
                id: m.clone(),
                display_name: e.map_or_else(|| m.clone(), |e| e.display_name.clone()),
                site: e.map(|e| e.site.clone()).unwrap_or_default(),
            }
        };
        let members = g.members.iter().map(member).collect();
        let mut requests: Vec<(Member, String)> = g
            .requests
            .iter()
            .map(|(who, msg)| (member(who), msg.clone()))
            .collect();
        // Requests made on the group's card at sites without the group (see `cards`).
        let declined = reader.card_declined(group)?;
        for who in super::cards::card_requests(&reader.model(), group, &declined) {
            if !g.requests.contains_key(&who) {
                requests.push((member(&who), String::new()));
            }
        }
        Ok(GroupPage {
            group: g,
            access,
            threads,
            members,
            requests,
        })
    }

    /// Every thread of a group the viewer may read, whole, newest activity first (the JSON
    /// API's list); `NotFound` unless they have full access. On the loop: the threads are
    /// read back.
    pub async fn group_threads(
        &self,
        v: &Viewer,
        group: &DocId,
    ) -> Result<Vec<ThreadView>, NodeError> {
        let (me, g) = (v.0.clone(), group.clone());
        self.run("groups.threads", move |c| {
            c.threads_of(&me, &g).ok_or(NodeError::NotFound)
        })
        .await
    }

    /// Creates a group, owned by the viewer. The "All company" name is reserved.
    pub async fn create_group(
        &self,
        v: &Viewer,
        name: &str,
        description: &str,
        visibility: Visibility,
    ) -> Result<DocId, NodeError> {
        let (me, name, description) = (v.0.clone(), name.to_owned(), description.to_owned());
        let (now, nonce, card_nonce) = (self.now_ms(), self.nonce()?, self.nonce()?);
        self.run("groups.create", move |c| {
            let g = c.create_group(&me, &name, &description, visibility, now, nonce)?;
            c.commit()?;
            c.refresh_card(&me, &g, now, card_nonce)?;
            Ok(g)
        })
        .await
    }

    /// Changes a group's settings (owners).
    pub async fn update_group(
        &self,
        v: &Viewer,
        group: &DocId,
        edit: GroupEdit,
    ) -> Result<(), NodeError> {
        let (me, g, now, nonce) = (v.0.clone(), group.clone(), self.now_ms(), self.nonce()?);
        self.run("groups.update", move |c| {
            let settings = GroupSettings {
                name: edit.name.as_deref(),
                description: edit.description.as_deref(),
                visibility: edit.visibility,
            };
            c.update_group(&me, &g, &settings, now)?;
            c.commit()?;
            c.refresh_card(&me, &g, now, nonce)
        })
        .await
    }

    /// The viewer joins a group (a public one, or one they are invited to), or asks to join
    /// (a private one).
    pub async fn join(&self, v: &Viewer, group: &DocId) -> Result<MembershipOutcome, NodeError> {
        // A private group this site does not hold: asked on its card.
        if self.reader().model().group(group).is_none() && self.group_card(v, group).is_some() {
            self.ask_on_card(v, group, true).await?;
            return Ok(MembershipOutcome::Requested);
        }
        let (me, g, now) = (v.0.clone(), group.clone(), self.now_ms());
        self.run("groups.join", move |c| c.add_member(&me, &g, &me, now))
            .await
    }

    /// Adds `member` to a group (an owner adding anyone; the viewer themself: see
    /// [`Service::join`]).
    pub async fn add_member(
        &self,
        v: &Viewer,
        group: &DocId,
        member: &str,
    ) -> Result<MembershipOutcome, NodeError> {
        if member == v.id() {
            return self.join(v, group).await;
        }
        let (me, g, who, now) = (v.0.clone(), group.clone(), member.to_owned(), self.now_ms());
        let nonce = self.nonce()?;
        self.run("groups.add_member", move |c| {
            let outcome = c.add_member(&me, &g, &who, now)?;
            c.commit()?;
            c.refresh_card(&me, &g, now, nonce)?;
            Ok(outcome)
        })
        .await
    }

    /// Removes `member` from a group (an owner), or the viewer leaves.
    pub async fn remove_member(
        &self,
        v: &Viewer,
        group: &DocId,
        member: &str,
    ) -> Result<(), NodeError> {
        let (me, g, who, now) = (v.0.clone(), group.clone(), member.to_owned(), self.now_ms());
        let nonce = self.nonce()?;
        self.run("groups.remove_member", move |c| {
            c.remove_member(&me, &g, &who, now)?;
            c.commit()?;
            c.refresh_card(&me, &g, now, nonce)
        })
        .await
    }

    /// Declines `who`'s join request (an owner), or the viewer withdraws their own.
    pub async fn drop_request(
        &self,
        v: &Viewer,
        group: &DocId,
        who: &str,
    ) -> Result<(), NodeError> {
        if who == v.id()
            && self.reader().model().group(group).is_none()
            && self.group_card(v, group).is_some()
        {
            return self.ask_on_card(v, group, false).await;
        }
        // A request made on the group's card (not in the group's document): declined here.
        let reader = self.reader();
        if who != v.id()
            && let Some((g, _)) = reader.group(v.id(), group)
            && !g.requests.contains_key(who)
        {
            if !g.is_owner(v.id()) {
                return Err(NodeError::Forbidden(
                    "only the group's owners decline requests".into(),
                ));
            }
            let (g, who) = (group.clone(), who.to_owned());
            return self
                .run("groups.decline_card_request", move |c| {
                    c.store().set_card_declined(&g, &who)?;
                    Ok(())
                })
                .await;
        }
        let (me, g, who, now) = (v.0.clone(), group.clone(), who.to_owned(), self.now_ms());
        self.run("groups.drop_request", move |c| {
            c.drop_request(&me, &g, &who, now)
        })
        .await
    }

    /// Makes `who`, a member, a co-owner of the group (owners).
    pub async fn make_owner(&self, v: &Viewer, group: &DocId, who: &str) -> Result<(), NodeError> {
        let (me, g, who, now, nonce) = (
            v.0.clone(),
            group.clone(),
            who.to_owned(),
            self.now_ms(),
            self.nonce()?,
        );
        self.run("groups.make_owner", move |c| {
            c.require(&me, &g, Access::Full)?;
            let view = c
                .model()
                .group(&g)
                .map(|x| x.view.clone())
                .ok_or(NodeError::NotFound)?;
            if !view.is_owner(&me) {
                return Err(NodeError::Forbidden("only owners appoint owners".into()));
            }
            if !view.is_member(&who) {
                return Err(NodeError::Invalid("only a member becomes an owner".into()));
            }
            c.local_one(&me, |r, a| r.add_owner(a, &g, &who, now))?;
            c.commit()?;
            c.refresh_card(&me, &g, now, nonce)
        })
        .await
    }

    /// Invites `who` to a group (owners).
    pub async fn invite(&self, v: &Viewer, group: &DocId, who: &str) -> Result<(), NodeError> {
        let (me, g, who, now) = (v.0.clone(), group.clone(), who.to_owned(), self.now_ms());
        self.run("groups.invite", move |c| c.invite(&me, &g, &who, now))
            .await
    }
}

impl Core {
    /// The threads of a group that `employee` may read, newest activity first.
    pub(crate) fn threads_of(&mut self, employee: &str, group: &DocId) -> Option<Vec<ThreadView>> {
        if self.group_access(employee, group) != Access::Full {
            return None;
        }
        let g = self.model().group(group).map(|g| g.view.clone())?;
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
            .filter(|v| v.group == *group && v.wall_of.is_none() && v.library.is_none())
            .collect();
        // Pinned threads first, then by last activity. (Walls are on their owners' pages.)
        threads.sort_by_key(|t| (!t.pinned, std::cmp::Reverse(last_activity(t))));
        Some(threads)
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
        if settings.visibility.is_some_and(|v| v != Visibility::Public)
            && self.all_company().as_ref() == Some(group)
        {
            return Err(NodeError::Invalid(
                "the company-wide group stays public".into(),
            ));
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
        // The read model's view: the group's document may be put away.
        let view = self
            .model()
            .group(group)
            .map(|g| g.view.clone())
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

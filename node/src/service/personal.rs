//! What is the viewer's alone: notifications, follows, settings, the usage charter. Kept
//! at their home node only; every write here is answered once durable.

use weft_crdt::DocId;

use super::{Access, Service, Viewer};
use crate::core::Core;
use crate::error::NodeError;
pub use crate::personal::{NoticeKind, Notification, Settings};

impl Service {
    /// The viewer's notifications that are still about something they may see, newest
    /// first, older than id `before` if given. Off the loop.
    pub async fn notifications(
        &self,
        v: &Viewer,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Notification>, NodeError> {
        self.reader().notifications(v.id(), before, limit)
    }

    /// How many notifications the viewer has not read. Off the loop.
    pub async fn unread_notifications(&self, v: &Viewer) -> Result<usize, NodeError> {
        self.reader().unread_notifications(v.id())
    }

    /// Marks the viewer's notifications read up to id `up_to` (all if `None`); returns how
    /// many are still unread.
    pub async fn mark_notifications_read(
        &self,
        v: &Viewer,
        up_to: Option<u64>,
    ) -> Result<usize, NodeError> {
        let me = v.0.clone();
        self.run("personal.notifications_read", move |c| {
            c.mark_notifications_read(&me, up_to)?;
            c.unread_notifications(&me)
        })
        .await
    }

    /// Follows (`on`) or stops following a thread the viewer may read.
    pub async fn follow_thread(
        &self,
        v: &Viewer,
        thread: &DocId,
        on: bool,
    ) -> Result<(), NodeError> {
        let (me, t) = (v.0.clone(), thread.clone());
        self.run("personal.follow_thread", move |c| {
            c.follow_thread(&me, &t, on)
        })
        .await
    }

    /// Whether the viewer follows `thread`. Off the loop.
    pub async fn follows_thread(&self, v: &Viewer, thread: &DocId) -> Result<bool, NodeError> {
        self.reader().follows_thread(v.id(), thread)
    }

    /// Follows (`on`) or stops following someone the directory lists.
    pub async fn follow_person(&self, v: &Viewer, person: &str, on: bool) -> Result<(), NodeError> {
        let (me, p) = (v.0.clone(), person.to_owned());
        self.run("personal.follow_person", move |c| {
            c.follow_person(&me, &p, on)
        })
        .await
    }

    /// Whether the viewer follows `person`. Off the loop.
    pub async fn follows_person(&self, v: &Viewer, person: &str) -> Result<bool, NodeError> {
        self.reader().follows_person(v.id(), person)
    }

    /// The viewer's settings. Off the loop.
    pub async fn settings(&self, v: &Viewer) -> Result<Settings, NodeError> {
        self.reader().settings(v.id())
    }

    /// Records that the viewer accepted the usage charter whose SHA-256 (hex) is `hash`.
    pub async fn accept_charter(&self, v: &Viewer, hash: &str) -> Result<(), NodeError> {
        let (me, hash) = (v.0.clone(), hash.to_owned());
        self.run("personal.accept_charter", move |c| {
            c.accept_charter(&me, &hash)
        })
        .await
    }
}

impl Core {
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

    /// Called at each login: the first one starts the employee's settings, counting what
    /// was posted before as read (a newcomer's feed is not a wall of "new").
    pub fn on_login(&mut self, employee: &str, now: i64) -> Result<Settings, NodeError> {
        if !self.store().has_settings(employee)? {
            let s = Settings {
                read_before: now,
                ..Settings::default()
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

    /// People still at the company matching `query` (see [`crate::Reader::find_people`]).
    pub fn find_people(&self, query: &str, limit: usize) -> Vec<weft_keys::Employee> {
        self.reader().find_people(query, limit)
    }
}

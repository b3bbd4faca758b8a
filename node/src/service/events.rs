//! Events and agendas: an event is a thread whose first post has times, a time zone and a
//! place (`weft_crdt::NewEvent`), changed only by its author; answers (yes, maybe, no) are
//! each employee's own (`weft-crdt`'s rules). The read models file every event thread by
//! its start (`ReadModel::events_between`), so an agenda reads the summaries of the events
//! in its window and the threads of those it shows (kept for the next readers).
//!
//! A calendar application subscribes to an employee's agenda through a secret URL (see
//! [`super::subscriptions`]).

use std::sync::Arc;

use weft_crdt::{DocId, EventView, NewEvent, ThreadView};

use super::{Access, Service, Viewer};
use crate::core::Core;
use crate::error::NodeError;
use crate::readmodel::ThreadSummary;

/// How far back an agenda looks by default (ms): events of the last 30 days.
pub const AGENDA_PAST_MS: i64 = 30 * 24 * 3600 * 1000;
/// How far ahead (ms): a year.
pub const AGENDA_AHEAD_MS: i64 = 366 * 24 * 3600 * 1000;
/// The most events one agenda lists.
pub const AGENDA_MAX: usize = 500;
/// The most events of groups one is not a member of that an agenda looks into for one's
/// answers (each is read): a flood of public events costs a bounded amount.
pub const AGENDA_OTHERS_MAX: usize = 2_000;

/// An event as an agenda or its page shows it.
#[derive(Debug, Clone)]
pub struct EventItem {
    pub thread: Arc<ThreadView>,
    /// Its group's name.
    pub group_name: String,
    /// The post that holds the event (the thread's first).
    pub post: String,
    pub author: String,
    pub title: String,
    /// The description (Markdown), empty if the post is deleted or hidden.
    pub description: String,
    pub event: EventView,
}

impl EventItem {
    fn of(thread: Arc<ThreadView>, group_name: String) -> Option<EventItem> {
        let root = thread.posts.first()?;
        if root.deleted || root.hidden {
            return None;
        }
        let event = root.event.clone()?;
        Some(EventItem {
            group_name,
            post: root.id.clone(),
            author: root.author.clone(),
            title: thread.title.clone(),
            description: root.body.clone(),
            event,
            thread,
        })
    }

    /// The viewer's answer.
    pub fn answer_of(&self, employee: &str) -> Option<&str> {
        self.event.answer_of(employee)
    }
}

impl Service {
    /// Starts an event in a group the viewer has full access to.
    pub async fn create_event(
        &self,
        v: &Viewer,
        group: &DocId,
        title: &str,
        description: &str,
        event: NewEvent,
    ) -> Result<DocId, NodeError> {
        let (me, g, title) = (v.0.clone(), group.clone(), title.to_owned());
        let description = if description.trim().is_empty() {
            title.clone()
        } else {
            description.to_owned()
        };
        let (now, nonce) = (self.now_ms(), self.nonce()?);
        self.run("events.create", move |c| {
            c.create_event(&me, &g, &title, &description, &event, now, nonce)
        })
        .await
    }

    /// An event the viewer may read; `NotFound` for a thread that is not one.
    pub async fn event(&self, v: &Viewer, thread: &DocId) -> Result<EventItem, NodeError> {
        let t = self.thread(v, thread).await?;
        let name = self
            .reader()
            .model()
            .group(&t.group)
            .map(|g| g.name.clone())
            .unwrap_or_default();
        EventItem::of(t, name).ok_or(NodeError::NotFound)
    }

    /// Changes an event (its author only): times, time zone, place, cancelled.
    pub async fn edit_event(
        &self,
        v: &Viewer,
        thread: &DocId,
        event: NewEvent,
    ) -> Result<EventItem, NodeError> {
        let item = self.event(v, thread).await?;
        if item.author != v.id() {
            return Err(NodeError::Forbidden(
                "only its author changes an event".into(),
            ));
        }
        let (me, t, p, now) = (v.0.clone(), thread.clone(), item.post, self.now_ms());
        self.run("events.edit", move |c| {
            c.require_thread(&me, &t)?;
            c.local_one(&me, |r, a| r.edit_event(a, &t, &p, &event, now))
        })
        .await?;
        self.event(v, thread).await
    }

    /// Sets the viewer's answer (`yes`, `maybe`, `no`; `None` withdraws it).
    pub async fn rsvp(
        &self,
        v: &Viewer,
        thread: &DocId,
        answer: Option<String>,
    ) -> Result<EventItem, NodeError> {
        let item = self.event(v, thread).await?;
        if item.answer_of(v.id()) == answer.as_deref() {
            // Nothing to write: the same answer again (a second click) is no change.
            return Ok(item);
        }
        let (me, t, p, now) = (v.0.clone(), thread.clone(), item.post, self.now_ms());
        self.run("events.rsvp", move |c| {
            c.require_thread(&me, &t)?;
            c.local_one(&me, |r, a| r.rsvp(a, &t, &p, answer.as_deref(), now))
        })
        .await?;
        self.event(v, thread).await
    }

    /// A group's events starting in `from..to` (ms), by start; members only in a private
    /// group (forbidden to others who see its listing).
    pub async fn group_events(
        &self,
        v: &Viewer,
        group: &DocId,
        from: i64,
        to: i64,
    ) -> Result<Vec<EventItem>, NodeError> {
        match self.reader().group_access(v.id(), group) {
            Access::Full => {}
            Access::Listing => {
                return Err(NodeError::Forbidden(
                    "the group's events are for its members".into(),
                ));
            }
            Access::None => return Err(NodeError::NotFound),
        }
        let ids: Vec<DocId> = self
            .reader()
            .model()
            .events_between(from, to)
            .filter(|t| t.group == *group)
            .take(AGENDA_MAX)
            .map(|t| t.id.clone())
            .collect();
        self.events_of(v, ids).await
    }

    /// The viewer's agenda for `from..to`: the events of the groups they are a member of,
    /// and those they answered yes or maybe to in any group they may read.
    pub async fn my_events(
        &self,
        v: &Viewer,
        from: i64,
        to: i64,
    ) -> Result<Vec<EventItem>, NodeError> {
        let reader = self.reader();
        let (mine, others): (Vec<DocId>, Vec<DocId>) = {
            let model = reader.model();
            let groups: std::collections::HashSet<&DocId> = model.groups_of(v.id()).collect();
            let (mine, others): (Vec<&ThreadSummary>, Vec<&ThreadSummary>) = model
                .events_between(from, to)
                .filter(|t| crate::access::group(&model, v.id(), &t.group) == Access::Full)
                .partition(|t| groups.contains(&t.group));
            (
                mine.into_iter()
                    .take(AGENDA_MAX)
                    .map(|t| t.id.clone())
                    .collect(),
                others
                    .into_iter()
                    .take(AGENDA_OTHERS_MAX)
                    .map(|t| t.id.clone())
                    .collect(),
            )
        };
        let me = v.id().to_owned();
        let mut items = self.events_of(v, mine).await?;
        items.extend(
            self.events_of(v, others)
                .await?
                .into_iter()
                .filter(|e| matches!(e.answer_of(&me), Some("yes" | "maybe"))),
        );
        items.sort_by(|a, b| {
            (a.event.starts_at, a.thread.id.as_str())
                .cmp(&(b.event.starts_at, b.thread.id.as_str()))
        });
        items.truncate(AGENDA_MAX);
        Ok(items)
    }

    /// The events of `ids` the viewer may read, in that order: threads kept for readers
    /// off the loop, the others read in one job (and kept).
    async fn events_of(&self, v: &Viewer, ids: Vec<DocId>) -> Result<Vec<EventItem>, NodeError> {
        let threads = self.threads_for(v, ids).await?;
        let reader = self.reader();
        let model = reader.model();
        Ok(threads
            .into_iter()
            .filter_map(|t| {
                let name = model
                    .group(&t.group)
                    .map(|g| g.name.clone())
                    .unwrap_or_default();
                EventItem::of(t, name)
            })
            .collect())
    }
}

impl Core {
    /// Starts a thread whose first post is an event.
    #[allow(clippy::too_many_arguments)]
    pub fn create_event(
        &mut self,
        employee: &str,
        group: &DocId,
        title: &str,
        description: &str,
        event: &NewEvent,
        now: i64,
        nonce: u64,
    ) -> Result<DocId, NodeError> {
        self.require(employee, group, Access::Full)?;
        self.local(employee, |r, me| {
            let (t, l) = r.create_event(me, group, title, description, event, now, nonce)?;
            Ok((t.doc().clone(), vec![t, l]))
        })
    }

    /// Answers an event (see [`Service::rsvp`]).
    pub fn rsvp(
        &mut self,
        employee: &str,
        thread: &DocId,
        post: &str,
        answer: Option<&str>,
        now: i64,
    ) -> Result<(), NodeError> {
        self.require_thread(employee, thread)?;
        self.local_one(employee, |r, me| r.rsvp(me, thread, post, answer, now))
    }
}

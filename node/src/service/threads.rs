//! Threads: reading one (and leaving a read marker), starting one, replying, editing and
//! deleting one's posts, reactions.

use std::sync::Arc;

use weft_crdt::{DocId, PostView, ThreadView};

use super::{Access, Service, Viewer};
use crate::core::Core;
use crate::error::NodeError;

/// What a thread's page shows its viewer.
#[derive(Debug, Clone)]
pub struct ThreadPage {
    pub thread: Arc<ThreadView>,
    /// The name of its group.
    pub group_name: String,
    /// Whether the viewer follows it.
    pub following: bool,
    /// Whether the viewer moderates it: an owner of its group, a community manager, or the
    /// owner of the wall it is (they pin threads, pick best answers, hide posts).
    pub moderator: bool,
    /// The posts of it the viewer bookmarked.
    pub bookmarked: Vec<String>,
}

impl Service {
    /// A thread the viewer may read; `NotFound` otherwise (its existence does not leak).
    /// Off the loop when a view of it is kept; otherwise one job reads it back and keeps it
    /// for the next readers.
    pub async fn thread(&self, v: &Viewer, thread: &DocId) -> Result<Arc<ThreadView>, NodeError> {
        if let Some(t) = self.reader().thread(v.id(), thread)? {
            return Ok(t);
        }
        let (me, t) = (v.0.clone(), thread.clone());
        self.run("threads.read", move |c| {
            c.thread_view_for(&me, &t).ok_or(NodeError::NotFound)
        })
        .await
    }

    /// A thread's page: the thread, its group's name and whether the viewer follows it.
    /// Reading it marks it read for the viewer: the marker is sent to the loop without being
    /// waited for (it is not something the viewer is told is saved), and readers count it at
    /// once, so that the feed shows the thread read on the next page.
    pub async fn thread_page(&self, v: &Viewer, thread: &DocId) -> Result<ThreadPage, NodeError> {
        let t = self.thread(v, thread).await?;
        let reader = self.reader();
        let group_name = reader
            .model()
            .group(&t.group)
            .map(|g| g.name.clone())
            .unwrap_or_default();
        let following = reader.follows_thread(v.id(), thread)?;
        let moderator = self.moderates(v, &t);
        let bookmarked = reader
            .bookmarks(v.id())?
            .into_iter()
            .filter(|(th, _, _)| th == thread)
            .map(|(_, p, _)| p)
            .collect();
        self.leave_read_marker(v, thread);
        Ok(ThreadPage {
            thread: t,
            group_name,
            following,
            moderator,
            bookmarked,
        })
    }

    /// Marks `thread` read for the viewer (as it is now), without waiting for the loop.
    fn leave_read_marker(&self, v: &Viewer, thread: &DocId) {
        let Some(at) = self
            .reader()
            .model()
            .thread(thread)
            .map(|t| t.last_activity)
        else {
            return;
        };
        // Read again with nothing new since: there is nothing to write (and no job to queue
        // on the loop for every view of a busy page).
        if self
            .reader()
            .read_up_to(v.id(), thread)
            .is_ok_and(|m| m >= at)
        {
            return;
        }
        self.reader().note_read(v.id(), thread, at);
        let (node, me, t) = (self.node.clone(), v.0.clone(), thread.clone());
        tokio::spawn(async move {
            let done = node
                .job("threads.read_marker", move |c| c.mark_thread_read(&me, &t))
                .await;
            if let Ok(Err(e)) | Err(e) = done.map(|r| r.map(|_| ())) {
                tracing::warn!(error = %e, "read marker not saved");
            }
        });
    }

    /// One post of a thread the viewer may read; `NotFound` if either is missing.
    pub async fn post(
        &self,
        v: &Viewer,
        thread: &DocId,
        post: &str,
    ) -> Result<(Arc<ThreadView>, PostView), NodeError> {
        let t = self.thread(v, thread).await?;
        let p = t
            .posts
            .iter()
            .find(|p| p.id == post)
            .cloned()
            .ok_or(NodeError::NotFound)?;
        Ok((t, p))
    }

    /// Starts a thread in a group the viewer has full access to.
    pub async fn create_thread(
        &self,
        v: &Viewer,
        group: &DocId,
        title: &str,
        body: &str,
    ) -> Result<DocId, NodeError> {
        let (me, g, title, body) = (
            v.0.clone(),
            group.clone(),
            title.to_owned(),
            body.to_owned(),
        );
        let (now, nonce) = (self.now_ms(), self.nonce()?);
        self.run("threads.create", move |c| {
            c.create_thread(&me, &g, &title, &body, now, nonce)
        })
        .await
    }

    /// Replies in a thread (to one of its posts if `reply_to`); returns the new post's id
    /// within the thread.
    pub async fn reply(
        &self,
        v: &Viewer,
        thread: &DocId,
        body: &str,
        reply_to: Option<&str>,
    ) -> Result<String, NodeError> {
        let (me, t, body) = (v.0.clone(), thread.clone(), body.to_owned());
        let reply_to = reply_to.map(str::to_owned);
        let (now, nonce) = (self.now_ms(), self.nonce()?);
        self.run("threads.reply", move |c| {
            c.reply(&me, &t, &body, reply_to.as_deref(), now, nonce)
        })
        .await
    }

    /// Edits one of the viewer's posts.
    pub async fn edit_post(
        &self,
        v: &Viewer,
        thread: &DocId,
        post: &str,
        body: &str,
    ) -> Result<(), NodeError> {
        let (me, t, p, body) = (
            v.0.clone(),
            thread.clone(),
            post.to_owned(),
            body.to_owned(),
        );
        let now = self.now_ms();
        self.run("threads.edit", move |c| {
            c.edit_post(&me, &t, &p, &body, now)
        })
        .await
    }

    /// Deletes one of the viewer's posts.
    pub async fn delete_post(
        &self,
        v: &Viewer,
        thread: &DocId,
        post: &str,
    ) -> Result<(), NodeError> {
        let (me, t, p, now) = (v.0.clone(), thread.clone(), post.to_owned(), self.now_ms());
        self.run("threads.delete", move |c| c.delete_post(&me, &t, &p, now))
            .await
    }

    /// Adds (`on`) or removes the viewer's reaction `kind` to a post.
    pub async fn react(
        &self,
        v: &Viewer,
        thread: &DocId,
        post: &str,
        kind: &str,
        on: bool,
    ) -> Result<(), NodeError> {
        let (me, t, p, k) = (
            v.0.clone(),
            thread.clone(),
            post.to_owned(),
            kind.to_owned(),
        );
        let now = self.now_ms();
        self.run("threads.react", move |c| c.react(&me, &t, &p, &k, on, now))
            .await
    }
}

impl Core {
    /// A thread, if `employee` may read it (read back if need be, and kept for readers).
    pub(crate) fn thread_view_for(
        &mut self,
        employee: &str,
        thread: &DocId,
    ) -> Option<Arc<ThreadView>> {
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
        Some(self.keep_thread_view(view))
    }

    /// A thread, if `employee` may read it.
    pub fn thread_for(&mut self, employee: &str, thread: &DocId) -> Option<ThreadView> {
        self.thread_view_for(employee, thread).map(|v| (*v).clone())
    }

    /// That `employee` may write in `thread`: it exists and they have full access to its
    /// group; `Forbidden` if they see the group's listing only (a private group they are
    /// not, or no longer, a member of), `NotFound` if they may not see it at all.
    pub(super) fn require_thread(
        &mut self,
        employee: &str,
        thread: &DocId,
    ) -> Result<(), NodeError> {
        let group = self.replica().group_of(thread).ok_or(NodeError::NotFound)?;
        self.require(employee, &group, Access::Full)?;
        self.thread_view_for(employee, thread)
            .map(|_| ())
            .ok_or(NodeError::NotFound)
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
        self.create_thread_with(employee, group, title, body, None, now, nonce)
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
        self.reply_with(employee, thread, body, reply_to, None, now, nonce)
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

    /// Records that `employee` has read `thread` as it is now.
    pub fn mark_thread_read(&mut self, employee: &str, thread: &DocId) -> Result<(), NodeError> {
        if let Some(at) = self.model().thread(thread).map(|t| t.last_activity) {
            self.store().mark_read(employee, thread, at)?;
            self.kept().marked(employee, thread, at);
        }
        Ok(())
    }
}

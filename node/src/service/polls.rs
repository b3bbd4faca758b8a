//! Polls: a thread whose first post asks a question, a reply that carries one, and votes.
//!
//! A poll is part of the post it is made with (`weft_crdt::NewPoll`), written once; a vote
//! is its author's own entry in the thread, changeable until the poll closes by the vote's
//! signed time — rules every site applies alike (`weft-crdt`'s `rules.rs`). Results are
//! therefore the same wherever the thread is held, and a poll in a private group stays
//! where the group's threads go.

use weft_crdt::{DocId, NewPoll, PollView};

use super::{Service, Viewer};
use crate::core::Core;
use crate::error::NodeError;

/// A poll as one viewer sees it: the counts are withheld from a viewer who has not voted
/// when the poll shows results only after voting (until it closes; its author always sees
/// them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollResults {
    pub poll: PollView,
    /// The options the viewer chose.
    pub mine: Vec<String>,
    /// Whether the poll is closed now.
    pub closed: bool,
    /// Whether the viewer may see the counts.
    pub visible: bool,
    /// How many employees voted.
    pub voters: usize,
}

impl PollResults {
    /// `poll` (of a post by `author`) as `viewer` sees it at `now`.
    pub fn of(poll: &PollView, author: &str, viewer: &str, now: i64) -> PollResults {
        let mine = poll.choices_of(viewer);
        let closed = poll.closed(now);
        let mut voters: Vec<&String> = poll.votes.values().flatten().collect();
        voters.sort_unstable();
        voters.dedup();
        PollResults {
            visible: !poll.results_after_vote || !mine.is_empty() || closed || author == viewer,
            voters: voters.len(),
            poll: poll.clone(),
            mine,
            closed,
        }
    }

    /// How many chose option `id` (`None` while the counts are withheld).
    pub fn count(&self, id: &str) -> Option<usize> {
        self.visible
            .then(|| self.poll.votes.get(id).map_or(0, Vec::len))
    }
}

impl Service {
    /// Starts a thread whose first post holds `poll`, in a group the viewer has full access
    /// to. An empty `body` shows the question alone.
    pub async fn create_poll(
        &self,
        v: &Viewer,
        group: &DocId,
        title: &str,
        body: &str,
        poll: NewPoll,
    ) -> Result<DocId, NodeError> {
        let (me, g) = (v.0.clone(), group.clone());
        let title = if title.trim().is_empty() {
            poll.question.clone()
        } else {
            title.to_owned()
        };
        let body = if body.trim().is_empty() {
            poll.question.clone()
        } else {
            body.to_owned()
        };
        let (now, nonce) = (self.now_ms(), self.nonce()?);
        self.run("polls.create", move |c| {
            c.create_thread_with(&me, &g, &title, &body, Some(&poll), now, nonce)
        })
        .await
    }

    /// Replies in a thread with a post that holds `poll`; returns the post's id.
    pub async fn reply_with_poll(
        &self,
        v: &Viewer,
        thread: &DocId,
        body: &str,
        reply_to: Option<&str>,
        poll: NewPoll,
    ) -> Result<String, NodeError> {
        let (me, t) = (v.0.clone(), thread.clone());
        let body = if body.trim().is_empty() {
            poll.question.clone()
        } else {
            body.to_owned()
        };
        let reply_to = reply_to.map(str::to_owned);
        let (now, nonce) = (self.now_ms(), self.nonce()?);
        self.run("polls.reply", move |c| {
            c.reply_with(&me, &t, &body, reply_to.as_deref(), Some(&poll), now, nonce)
        })
        .await
    }

    /// Sets the viewer's vote in the poll of `post` to `options` (option ids; none
    /// withdraws it) and returns the poll as they now see it. A closed poll, an unknown
    /// option or several options of a single-choice poll are refused (`Invalid`); a post
    /// without a poll is not found.
    pub async fn vote(
        &self,
        v: &Viewer,
        thread: &DocId,
        post: &str,
        options: Vec<String>,
    ) -> Result<PollResults, NodeError> {
        let (_, p) = self.post(v, thread, post).await?;
        let Some(poll) = p.poll.as_ref().filter(|_| !p.deleted && !p.hidden) else {
            return Err(NodeError::NotFound);
        };
        let mut wanted = options.clone();
        wanted.sort();
        wanted.dedup();
        if poll.choices_of(v.id()) == wanted {
            // The same vote again is no change (nothing to sign).
            return Ok(PollResults::of(poll, &p.author, v.id(), self.now_ms()));
        }
        let (me, t, pid, now) = (v.0.clone(), thread.clone(), post.to_owned(), self.now_ms());
        self.run("polls.vote", move |c| {
            let options: Vec<&str> = options.iter().map(String::as_str).collect();
            c.vote(&me, &t, &pid, &options, now)
        })
        .await?;
        self.poll(v, thread, post).await
    }

    /// The poll of `post` as the viewer sees it now.
    pub async fn poll(
        &self,
        v: &Viewer,
        thread: &DocId,
        post: &str,
    ) -> Result<PollResults, NodeError> {
        let (_, p) = self.post(v, thread, post).await?;
        let poll = p.poll.as_ref().ok_or(NodeError::NotFound)?;
        Ok(PollResults::of(poll, &p.author, v.id(), self.now_ms()))
    }
}

impl Core {
    /// Starts a thread whose first post may hold a poll.
    #[allow(clippy::too_many_arguments)]
    pub fn create_thread_with(
        &mut self,
        employee: &str,
        group: &DocId,
        title: &str,
        body: &str,
        poll: Option<&NewPoll>,
        now: i64,
        nonce: u64,
    ) -> Result<DocId, NodeError> {
        self.require(employee, group, crate::access::Access::Full)?;
        self.local(employee, |r, me| {
            let (t, l) = r.create_thread_with(me, group, title, body, poll, now, nonce)?;
            Ok((t.doc().clone(), vec![t, l]))
        })
    }

    /// Replies with a post that may hold a poll; returns the post's id.
    #[allow(clippy::too_many_arguments)]
    pub fn reply_with(
        &mut self,
        employee: &str,
        thread: &DocId,
        body: &str,
        reply_to: Option<&str>,
        poll: Option<&NewPoll>,
        now: i64,
        nonce: u64,
    ) -> Result<String, NodeError> {
        self.require_thread(employee, thread)?;
        self.local(employee, |r, me| {
            let (c, pid) = r.reply_with(me, thread, body, reply_to, poll, now, nonce)?;
            Ok((pid, vec![c]))
        })
    }

    /// Sets `employee`'s vote in the poll of `post`.
    pub fn vote(
        &mut self,
        employee: &str,
        thread: &DocId,
        post: &str,
        options: &[&str],
        now: i64,
    ) -> Result<(), NodeError> {
        self.require_thread(employee, thread)?;
        self.local_one(employee, |r, me| r.vote(me, thread, post, options, now))
    }
}

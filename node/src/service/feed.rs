//! The home feed, marking it read, and topics.

use weft_crdt::DocId;

use super::{Access, Service, Viewer};
use crate::core::Core;
use crate::error::NodeError;
use crate::reader::FeedItem;
use crate::readmodel::ThreadSummary;

/// How many posts about a topic its page looks at, at most.
pub const TOPIC_POSTS: usize = 1_000;

impl Service {
    /// The viewer's home feed: the threads of their groups, of All company and of the people
    /// they follow, newest activity first, older than `before` (ms) if given. Off the loop.
    pub async fn feed(
        &self,
        v: &Viewer,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<FeedItem>, NodeError> {
        self.reader().feed(v.id(), before, limit)
    }

    /// Marks everything in the viewer's feed read, as of now. Answered once durable.
    pub async fn mark_all_read(&self, v: &Viewer) -> Result<(), NodeError> {
        let (me, now) = (v.0.clone(), self.now_ms());
        self.run("feed.mark_all_read", move |c| c.mark_all_read(&me, now))
            .await
    }

    /// The threads the viewer may read that have a visible post about `topic`, newest
    /// activity first, each with its group's name. One job: the search index is the loop's.
    pub async fn threads_about(
        &self,
        v: &Viewer,
        topic: &str,
    ) -> Result<Vec<(ThreadSummary, String)>, NodeError> {
        let (me, topic) = (v.0.clone(), topic.to_owned());
        self.run("feed.topic", move |c| c.threads_about(&me, &topic))
            .await
    }
}

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

    /// Marks everything in `employee`'s feed as read, as of `now` (ms).
    pub fn mark_all_read(&mut self, employee: &str, now: i64) -> Result<(), NodeError> {
        let mut s = self.store().settings(employee)?;
        s.read_before = s.read_before.max(now);
        self.store().put_settings(employee, &s)?;
        Ok(())
    }
}

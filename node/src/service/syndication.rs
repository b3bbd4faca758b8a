//! What Atom feeds show (the web layer writes the XML): a group's threads, the threads about
//! a topic, the threads a person started — each only what the reader may read, newest
//! activity first, at most [`FEED_ENTRIES`]. From the read models: no document is read.

use weft_crdt::DocId;

use super::{Access, Service, Viewer};
use crate::error::NodeError;
use crate::readmodel::ThreadSummary;

/// The most entries a feed carries.
pub const FEED_ENTRIES: usize = 50;

/// A feed: its title, and its threads with their group's name, newest activity first.
#[derive(Debug, Clone)]
pub struct Syndicated {
    pub title: String,
    pub entries: Vec<(ThreadSummary, String)>,
}

impl Service {
    /// A group's threads; `NotFound` unless the viewer reads the group.
    pub async fn group_syndication(
        &self,
        v: &Viewer,
        group: &DocId,
    ) -> Result<Syndicated, NodeError> {
        let reader = self.reader();
        let Some((g, Access::Full)) = reader.group(v.id(), group) else {
            return Err(NodeError::NotFound);
        };
        let threads = reader
            .thread_summaries_of(v.id(), group, None, FEED_ENTRIES)?
            .ok_or(NodeError::NotFound)?;
        Ok(Syndicated {
            title: g.name.clone(),
            entries: threads
                .into_iter()
                .map(|(t, _)| (t, g.name.clone()))
                .collect(),
        })
    }

    /// The threads about `topic` the viewer may read.
    pub async fn topic_syndication(
        &self,
        v: &Viewer,
        topic: &str,
    ) -> Result<Syndicated, NodeError> {
        let mut entries = self.threads_about(v, topic).await?;
        entries.truncate(FEED_ENTRIES);
        Ok(Syndicated {
            title: format!("#{topic}"),
            entries,
        })
    }

    /// The threads `person` started that the viewer may read; `NotFound` if the directory
    /// does not list them.
    pub async fn person_syndication(
        &self,
        v: &Viewer,
        person: &str,
    ) -> Result<Syndicated, NodeError> {
        let reader = self.reader();
        let who = reader.employee(person).ok_or(NodeError::NotFound)?;
        let model = reader.model();
        let mut entries: Vec<(ThreadSummary, String)> = model
            .threads_by(person)
            .filter_map(|id| model.thread(id))
            .filter_map(|t| {
                let g = model.group(&t.group)?;
                (crate::access::to_group(g, v.id()) == Access::Full)
                    .then(|| (t.clone(), g.name.clone()))
            })
            .collect();
        entries.sort_by_key(|(t, _)| std::cmp::Reverse(t.last_activity));
        entries.truncate(FEED_ENTRIES);
        Ok(Syndicated {
            title: who.display_name,
            entries,
        })
    }
}

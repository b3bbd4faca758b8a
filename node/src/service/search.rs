//! Search: posts, groups and people, only among what the searcher may see.

use super::{Service, Viewer};
use crate::core::Core;
use crate::error::NodeError;
pub use crate::search::{Hit, HitKind, SearchQuery};

/// A search result the searcher may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResult {
    pub hit: Hit,
    /// For a post: its thread's title; for a group: the group's name; for a person: their name.
    pub context: String,
    /// For a post: its thread's mark (official threads come first, outdated ones last).
    pub mark: Option<weft_crdt::ThreadMark>,
}

impl Service {
    /// Searches posts, groups and people (or only those of `kind`) among what the viewer may
    /// see, off the loop (see [`crate::Reader::search`]); the loop is asked first only to
    /// commit entries the index has not made searchable yet, so that what was just written
    /// is found.
    pub async fn search(
        &self,
        v: &Viewer,
        query: &SearchQuery,
        kind: Option<HitKind>,
        limit: usize,
    ) -> Result<Vec<SearchResult>, NodeError> {
        if query.is_empty() {
            return Ok(Vec::new());
        }
        if self.reader().search_pending() {
            self.run("search.refresh", |c| {
                c.refresh_search();
                Ok(())
            })
            .await?;
        }
        self.reader()
            .search(&v.0, query, kind, limit, self.now_ms())
    }
}

impl Core {
    /// Searches as [`crate::Reader::search`] does, after committing what the index holds
    /// (for callers on the loop).
    pub fn search(
        &mut self,
        employee: &str,
        query: &SearchQuery,
        kind: Option<HitKind>,
        limit: usize,
    ) -> Result<Vec<SearchResult>, NodeError> {
        self.refresh_search();
        let now = self.now_ms();
        self.reader().search(employee, query, kind, limit, now)
    }
}

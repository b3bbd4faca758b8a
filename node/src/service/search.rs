//! Search: posts, groups and people, only among what the searcher may see.

use weft_crdt::DocId;

use super::{Access, Service, Viewer};
use crate::core::Core;
use crate::error::NodeError;
use crate::search::Scope;
pub use crate::search::{Hit, HitKind, SearchQuery};

/// A search result the searcher may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResult {
    pub hit: Hit,
    /// For a post: its thread's title; for a group: the group's name; for a person: their name.
    pub context: String,
}

impl Service {
    /// Searches posts, groups and people (or only those of `kind`) among what the viewer may
    /// see. One job: the index is the loop's; a failure inside it is an error, never a crash.
    pub async fn search(
        &self,
        v: &Viewer,
        query: &SearchQuery,
        kind: Option<HitKind>,
        limit: usize,
    ) -> Result<Vec<SearchResult>, NodeError> {
        let (me, query) = (v.0.clone(), query.clone());
        self.run("search", move |c| c.search(&me, &query, kind, limit))
            .await
    }
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
        query: &SearchQuery,
        kind: Option<HitKind>,
        limit: usize,
    ) -> Result<Vec<SearchResult>, NodeError> {
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
        let now = self.now_ms();
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
        // The scope already holds only what the employee may see; each hit is checked once
        // more against the read model, which also gives the titles (no document is read).
        let model = self.model();
        let mut out = Vec::new();
        for hit in hits {
            let context = match hit.kind {
                HitKind::Post => {
                    let Some(t) = DocId::parse(&hit.id).ok().and_then(|t| model.thread(&t)) else {
                        continue;
                    };
                    if crate::access::group(&model, employee, &t.group) != Access::Full {
                        continue;
                    }
                    t.title.clone()
                }
                HitKind::Group => {
                    let Some(g) = DocId::parse(&hit.id).ok().and_then(|g| model.group(&g)) else {
                        continue;
                    };
                    if crate::access::to_group(g, employee) == Access::None {
                        continue;
                    }
                    g.name.clone()
                }
                HitKind::Person => hit.title.clone(),
            };
            out.push(SearchResult { hit, context });
        }
        Ok(out)
    }
}

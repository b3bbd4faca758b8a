//! Community management: reporting posts and the moderators' queue, hiding and showing
//! posts with a reason, official and outdated marks, likely duplicate groups and merging one
//! into another.
//!
//! Everything here is signed content with write rules (`weft_crdt::rules`): a report is its
//! employee's own entry in the thread, a decision is a moderator's (the group's owners, the
//! directory's community managers, a wall's owner), a mark or a merge a community manager's.
//! The checks below only refuse early, with a clear message, what every site would refuse.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use weft_crdt::{DocId, DocKind, GroupView, PostView, ReportView, ThreadMark, ThreadView};

use super::{Access, Service, Viewer};
use crate::error::NodeError;
use crate::search::{name_words, words_shared};

/// How many reported posts a moderation queue shows at most.
pub const QUEUE_MAX: usize = 200;
/// How many likely duplicates are shown when a group is created.
pub const SIMILAR_MAX: usize = 8;
/// How many pairs of likely duplicate groups community managers are shown at most.
pub const DUPLICATES_MAX: usize = 200;

/// A post awaiting a moderator, with its open reports.
#[derive(Debug, Clone)]
pub struct Reported {
    pub thread: Arc<ThreadView>,
    pub group_name: String,
    pub post: PostView,
    /// Oldest first.
    pub reports: Vec<ReportView>,
}

/// A group as suggestions list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCard {
    pub id: DocId,
    pub name: String,
    pub description: String,
    pub home_site: String,
    pub members: usize,
    /// Whether the viewer is a member.
    pub member: bool,
    pub merged_into: Option<DocId>,
}

impl GroupCard {
    fn of(g: &GroupView, viewer: &str) -> GroupCard {
        GroupCard {
            id: g.id.clone(),
            name: g.name.clone(),
            description: g.description.clone(),
            home_site: g.home_site.clone(),
            members: g.members.len(),
            member: g.is_member(viewer),
            merged_into: g.merged_into.clone(),
        }
    }
}

/// Whether two groups' names are likely the same group: at least two thirds of the longer
/// name's words are in the other (by either stem, little words aside).
fn likely_same(a: &[BTreeSet<String>], b: &[BTreeSet<String>]) -> bool {
    let longer = a.len().max(b.len());
    longer > 0 && 3 * words_shared(a, b).min(words_shared(b, a)) >= 2 * longer
}

impl Service {
    /// Whether the viewer moderates `thread`: a community manager, an owner of its group, or
    /// the owner of the wall it is.
    pub fn moderates(&self, v: &Viewer, thread: &ThreadView) -> bool {
        self.is_community_manager(v)
            || thread.wall_of.as_deref() == Some(v.id())
            || self
                .reader()
                .model()
                .group(&thread.group)
                .is_some_and(|g| g.owners.contains(v.id()))
    }

    /// The reported threads (and their groups) the viewer moderates and may read.
    fn reported_for(&self, v: &Viewer) -> Vec<(DocId, DocId)> {
        let cm = self.is_community_manager(v);
        let reader = self.reader();
        let model = reader.model();
        model
            .reported()
            .filter(|s| {
                cm || s.wall_of.as_deref() == Some(v.id())
                    || model
                        .group(&s.group)
                        .is_some_and(|g| g.owners.contains(v.id()))
            })
            .filter(|s| crate::access::group(&model, v.id(), &s.group) == Access::Full)
            .map(|s| (s.id.clone(), s.group.clone()))
            .collect()
    }

    /// Whether the viewer is a community manager, and how many threads hold reports awaiting
    /// their decision (the navigation's badge; cheap: the read model's list of reported
    /// threads).
    pub fn moderation_badge(&self, v: &Viewer) -> (bool, usize) {
        (self.is_community_manager(v), self.reported_for(v).len())
    }

    /// Hides a post (or shows it again) with a reason shown to its author: moderators of its
    /// thread only (403 for other readers; 404 if the viewer cannot read it).
    pub async fn moderate(
        &self,
        v: &Viewer,
        thread: &DocId,
        post: &str,
        hidden: bool,
        reason: &str,
    ) -> Result<(), NodeError> {
        let (t, _) = self.post(v, thread, post).await?;
        if !self.moderates(v, &t) {
            return Err(NodeError::Forbidden(
                "only the group's owners and community managers hide posts".into(),
            ));
        }
        let reason = reason.trim();
        if reason.len() > weft_crdt::MAX_REASON {
            return Err(NodeError::Invalid("a reason is at most 1,000 bytes".into()));
        }
        let (me, t, p, reason, now) = (
            v.0.clone(),
            thread.clone(),
            post.to_owned(),
            reason.to_owned(),
            self.now_ms(),
        );
        self.run("community.moderate", move |c| {
            c.local_one(&me, |r, a| r.moderate(a, &t, &p, hidden, &reason, now))
        })
        .await
    }

    /// Reports a post to its thread's moderators, with a reason; `None` withdraws the
    /// viewer's report. Any employee who may write in the thread; not one's own post.
    pub async fn report(
        &self,
        v: &Viewer,
        thread: &DocId,
        post: &str,
        reason: Option<&str>,
    ) -> Result<(), NodeError> {
        let (t, p) = self.post(v, thread, post).await?;
        if p.deleted {
            return Err(NodeError::NotFound);
        }
        let reason = reason.map(str::trim);
        if let Some(r) = reason {
            if p.author == v.id() {
                return Err(NodeError::Invalid(
                    "one does not report one's own post".into(),
                ));
            }
            if r.is_empty() {
                return Err(NodeError::Invalid("say why you report it".into()));
            }
            if r.len() > weft_crdt::MAX_REASON {
                return Err(NodeError::Invalid("a reason is at most 1,000 bytes".into()));
            }
        } else if !t.reports.iter().any(|r| r.post == post && r.by == v.id()) {
            return Ok(());
        }
        let (me, tid, pid, reason, now) = (
            v.0.clone(),
            thread.clone(),
            post.to_owned(),
            reason.map(str::to_owned),
            self.now_ms(),
        );
        self.run("community.report", move |c| {
            c.local_one(&me, |r, a| r.report(a, &tid, &pid, reason.as_deref(), now))
        })
        .await
    }

    /// The posts awaiting the viewer's decision: reported in threads they moderate and may
    /// read, oldest report first (at most [`QUEUE_MAX`]).
    pub async fn moderation_queue(&self, v: &Viewer) -> Result<Vec<Reported>, NodeError> {
        let candidates = self.reported_for(v);
        let mut out = Vec::new();
        for (tid, gid) in candidates {
            let Ok(t) = self.thread(v, &tid).await else {
                continue;
            };
            let group_name = self
                .reader()
                .model()
                .group(&gid)
                .map(|g| g.name.clone())
                .unwrap_or_default();
            let mut by_post: HashMap<&str, Vec<ReportView>> = HashMap::new();
            for r in t.open_reports() {
                by_post.entry(r.post.as_str()).or_default().push(r.clone());
            }
            for p in &t.posts {
                if let Some(reports) = by_post.remove(p.id.as_str()) {
                    out.push(Reported {
                        thread: t.clone(),
                        group_name: group_name.clone(),
                        post: p.clone(),
                        reports,
                    });
                }
            }
        }
        out.sort_by_key(|r| r.reports.first().map(|x| x.at));
        out.truncate(QUEUE_MAX);
        Ok(out)
    }

    /// Marks a thread or library document official or outdated, or clears its mark
    /// (community managers).
    pub async fn mark_thread(
        &self,
        v: &Viewer,
        thread: &DocId,
        mark: Option<ThreadMark>,
    ) -> Result<(), NodeError> {
        self.thread(v, thread).await?;
        if !self.is_community_manager(v) {
            return Err(NodeError::Forbidden(
                "only community managers mark threads official or outdated".into(),
            ));
        }
        let (me, t, now) = (v.0.clone(), thread.clone(), self.now_ms());
        self.run("community.mark", move |c| {
            c.local_one(&me, |r, a| r.mark_thread(a, &t, mark, now))
        })
        .await
    }

    /// Marks `group` merged into `into` (community managers; both groups visible to them),
    /// or undoes it (`None`).
    pub async fn merge_group(
        &self,
        v: &Viewer,
        group: &DocId,
        into: Option<&DocId>,
    ) -> Result<(), NodeError> {
        let reader = self.reader();
        for g in std::iter::once(group).chain(into) {
            if g.kind() != DocKind::Group || reader.group(v.id(), g).is_none() {
                return Err(NodeError::NotFound);
            }
        }
        if into == Some(group) {
            return Err(NodeError::Invalid(
                "a group is merged into another group".into(),
            ));
        }
        if into.is_some() && reader.all_company().as_ref() == Some(group) {
            return Err(NodeError::Invalid(
                "the company-wide group is merged into nothing".into(),
            ));
        }
        if !self.is_community_manager(v) {
            return Err(NodeError::Forbidden(
                "only community managers merge groups".into(),
            ));
        }
        let (me, g, into, now) = (v.0.clone(), group.clone(), into.cloned(), self.now_ms());
        self.run("community.merge", move |c| {
            c.local_one(&me, |r, a| r.merge_group(a, &g, into.as_ref(), now))
        })
        .await
    }

    /// The groups at every site the viewer may see whose name is close to `name` (most of
    /// its words, in English or French, by the search index's stems), or whose description
    /// holds all its words — shown when someone creates a group, so they can join one
    /// instead. Groups merged into another are left out (the other is shown).
    pub async fn similar_groups(
        &self,
        v: &Viewer,
        name: &str,
        description: &str,
    ) -> Result<Vec<GroupCard>, NodeError> {
        let words = name_words(name);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let text = format!("{name} {description}");
        let query = crate::search::SearchQuery::parse(&text.chars().take(400).collect::<String>())
            .or_else(|_| crate::search::SearchQuery::parse(name))
            .map_err(|e| NodeError::Invalid(e.to_string()))?;
        let hits = self
            .search(v, &query, Some(crate::search::HitKind::Group), 50)
            .await?;
        let reader = self.reader();
        let mut out = Vec::new();
        for h in hits {
            let Some((g, _)) = DocId::parse(&h.hit.id)
                .ok()
                .and_then(|id| reader.group(v.id(), &id))
            else {
                continue;
            };
            if g.merged_into.is_some() {
                continue;
            }
            let theirs = name_words(&g.name);
            let close = 3 * words_shared(&words, &theirs) >= 2 * words.len()
                || (words.len() >= 2
                    && words_shared(&words, &name_words(&g.description)) == words.len());
            if close {
                out.push(GroupCard::of(&g, v.id()));
            }
            if out.len() == SIMILAR_MAX {
                break;
            }
        }
        // Private groups without members here are known by their cards only.
        for c in self.group_cards(v) {
            if out.len() == SIMILAR_MAX {
                break;
            }
            let close = 3 * words_shared(&words, &name_words(&c.name)) >= 2 * words.len()
                || (words.len() >= 2
                    && words_shared(&words, &name_words(&c.description)) == words.len());
            if close {
                out.push(GroupCard {
                    id: c.group.clone(),
                    name: c.name.clone(),
                    description: c.description.clone(),
                    home_site: String::new(),
                    members: usize::try_from(c.members).unwrap_or(usize::MAX),
                    member: false,
                    merged_into: None,
                });
            }
        }
        Ok(out)
    }

    /// Pairs of groups (at any sites) likely to be the same community: their names share at
    /// least two thirds of their words, in English or French (community managers only;
    /// groups already merged are left out). The older group of a pair comes first.
    pub fn duplicate_groups(&self, v: &Viewer) -> Result<Vec<(GroupCard, GroupCard)>, NodeError> {
        if !self.is_community_manager(v) {
            return Err(NodeError::Forbidden(
                "only community managers see likely duplicates".into(),
            ));
        }
        let groups: Vec<(Arc<GroupView>, Vec<BTreeSet<String>>)> = self
            .reader()
            .groups(v.id())
            .into_iter()
            .filter(|(g, _)| g.merged_into.is_none())
            .map(|(g, _)| {
                let w = name_words(&g.name);
                (g, w)
            })
            .filter(|(_, w)| !w.is_empty())
            .collect();
        // Each group is compared with those sharing one of its words' stems, not with all.
        let mut by_stem: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, (_, words)) in groups.iter().enumerate() {
            for stem in words.iter().flatten() {
                by_stem.entry(stem.as_str()).or_default().push(i);
            }
        }
        let mut pairs = BTreeSet::new();
        for (i, (_, words)) in groups.iter().enumerate() {
            let mut seen = BTreeSet::new();
            for stem in words.iter().flatten() {
                for &j in by_stem.get(stem.as_str()).into_iter().flatten() {
                    if j > i && seen.insert(j) && likely_same(words, &groups[j].1) {
                        pairs.insert((i, j));
                    }
                }
            }
        }
        let mut out: Vec<(GroupCard, GroupCard)> = pairs
            .into_iter()
            .map(|(i, j)| {
                let (a, b) = (&groups[i].0, &groups[j].0);
                let (a, b) = if (b.created_at, &b.id) < (a.created_at, &a.id) {
                    (b, a)
                } else {
                    (a, b)
                };
                (GroupCard::of(a, v.id()), GroupCard::of(b, v.id()))
            })
            .collect();
        out.sort_by(|x, y| (&x.0.name, &x.1.name).cmp(&(&y.0.name, &y.1.name)));
        out.truncate(DUPLICATES_MAX);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_alike_in_either_language_are_likely_the_same_group() {
        let w = |s: &str| name_words(s);
        assert!(likely_same(&w("Photo club"), &w("Club photo")));
        assert!(likely_same(&w("Photo club"), &w("Club de photos")));
        assert!(likely_same(&w("Club photo Lyon"), &w("Photo club")));
        assert!(!likely_same(&w("Photo club"), &w("Running club")));
        assert!(!likely_same(&w("Photo club"), &w("")));
        assert!(!likely_same(&w("Réunions d'équipe"), &w("Team building")));
        assert_eq!(words_shared(&w("Les réunions"), &w("reunion")), 1);
    }
}

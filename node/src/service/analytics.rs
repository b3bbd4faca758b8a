//! Usage analytics for community managers, without a central server.
//!
//! Each site counts what its own employees do (`store::usage`: the home node sees every
//! write of its employees and every session they use) and, every hour, signs the figures of
//! the current week — and once more those of the week before, to close it — in a
//! **statistics document**: a thread of the All company group marked with its site and week
//! ([`weft_crdt::ThreadExtras::stats`]), written by one of the site's employees (its first
//! community manager, else its first employee: the node writes it for them). It replicates
//! like everything else; every site's dashboard adds up the documents of each week.
//!
//! The figures, per site and week, with Jive's definitions:
//! * **registered**: employees of the site who have logged in at least once;
//! * **active**: who used Weft (a session) that week;
//! * **participating**: who reacted, voted, answered an event or replied (not an edit, a
//!   deletion or a moderator's decision);
//! * **contributing**: who started a thread, an event, a poll or a library document.
//!
//! Per group: participating and contributing employees of the site; per #topic: posts.
//! Names of people never leave their site: a document holds counts only.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use weft_crdt::{DocId, DocKind, ThreadExtras};

use super::{Service, Viewer};
use crate::core::Core;
use crate::error::NodeError;
use crate::store::UsageKind;

/// How many weeks a dashboard shows at most.
pub const MAX_WEEKS: usize = 52;
/// How many groups and topics the dashboard ranks.
pub const TOP: usize = 10;

/// The ISO week of a time (ms, UTC): `2026-W49`.
pub fn week_of(ms: i64) -> String {
    let ts = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let d = ts.to_zoned(jiff::tz::TimeZone::UTC).date().iso_week_date();
    format!("{}-W{:02}", d.year(), d.week())
}

/// The weeks ending with the one of `now`, the oldest first.
pub fn last_weeks(now: i64, n: usize) -> Vec<String> {
    let mut out: Vec<String> = (0..n as i64)
        .map(|i| week_of(now - i * 7 * 86_400_000))
        .collect();
    out.dedup();
    out.reverse();
    out
}

/// One site's figures for one week (the JSON of its statistics document).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteWeek {
    /// Employees of the site (active in the directory).
    pub employees: u64,
    pub registered: u64,
    pub active: u64,
    pub participating: u64,
    pub contributing: u64,
    /// Group id → (participating, contributing) employees of the site.
    #[serde(default)]
    pub groups: BTreeMap<String, (u64, u64)>,
    /// #topic → posts by the site's employees.
    #[serde(default)]
    pub topics: BTreeMap<String, u64>,
}

/// The four counts of a week.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub employees: u64,
    pub registered: u64,
    pub active: u64,
    pub participating: u64,
    pub contributing: u64,
}

impl Counts {
    fn add(&mut self, s: &SiteWeek) {
        self.employees += s.employees;
        self.registered += s.registered;
        self.active += s.active;
        self.participating += s.participating;
        self.contributing += s.contributing;
    }
}

/// A group's figures over the weeks shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupActivity {
    pub group: DocId,
    pub name: String,
    /// Per week (in [`Analytics::weeks`]' order): participating, contributing.
    pub weeks: Vec<(u64, u64)>,
    pub total: u64,
}

/// What the dashboard shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analytics {
    /// The weeks, oldest first.
    pub weeks: Vec<String>,
    /// The company's counts per week.
    pub company: Vec<Counts>,
    /// Each site's counts per week (`None`: no document from that site that week).
    pub sites: BTreeMap<String, Vec<Option<Counts>>>,
    /// Groups by activity over the weeks, the most active first.
    pub groups: Vec<GroupActivity>,
    /// #topics by posts over the weeks.
    pub topics: Vec<(String, u64)>,
    /// Groups (of this site's knowledge) with no post for `dormant_weeks` weeks: (id, name,
    /// last activity ms).
    pub dormant: Vec<(DocId, String, i64)>,
    pub dormant_weeks: usize,
}

impl Service {
    /// The dashboard over the last `weeks` weeks (community managers only); groups without a
    /// post for `dormant_weeks` weeks are listed as dormant.
    pub fn analytics(
        &self,
        v: &Viewer,
        weeks: usize,
        dormant_weeks: usize,
    ) -> Result<Analytics, NodeError> {
        if !self.is_community_manager(v) {
            return Err(NodeError::Forbidden(
                "the usage figures are for community managers".into(),
            ));
        }
        let now = self.now_ms();
        let weeks = last_weeks(now, weeks.clamp(1, MAX_WEEKS));
        let reader = self.reader();
        let model = reader.model();
        let dir = reader.directory();
        let signer = |site: &str, author: &str| stats_author(&dir, site).as_deref() == Some(author);
        let mut company = vec![Counts::default(); weeks.len()];
        let mut sites: BTreeMap<String, Vec<Option<Counts>>> = BTreeMap::new();
        let mut groups: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
        let mut topics: BTreeMap<String, u64> = BTreeMap::new();
        for (i, week) in weeks.iter().enumerate() {
            for doc in model.stats_of(week, signer) {
                let Some((site, _, data)) = &doc.stats else {
                    continue;
                };
                let Ok(s) = serde_json::from_str::<SiteWeek>(data) else {
                    continue;
                };
                company[i].add(&s);
                let mut c = Counts::default();
                c.add(&s);
                sites
                    .entry(site.clone())
                    .or_insert_with(|| vec![None; weeks.len()])[i] = Some(c);
                for (g, (p, k)) in &s.groups {
                    let row = groups
                        .entry(g.clone())
                        .or_insert_with(|| vec![(0, 0); weeks.len()]);
                    row[i].0 += p;
                    row[i].1 += k;
                }
                for (t, n) in &s.topics {
                    *topics.entry(t.clone()).or_default() += n;
                }
            }
        }
        // Weeks before the first figures any site published are left out (not shown as
        // zeros).
        let first = company
            .iter()
            .zip(&weeks)
            .position(|(_, w)| !model.stats_of(w, signer).is_empty())
            .unwrap_or(weeks.len().saturating_sub(1));
        let weeks: Vec<String> = weeks[first..].to_vec();
        let company: Vec<Counts> = company[first..].to_vec();
        for row in sites.values_mut() {
            row.drain(..first);
        }
        for row in groups.values_mut() {
            row.drain(..first);
        }
        let name_of = |g: &DocId| {
            model
                .group(g)
                .map(|x| x.name.clone())
                .or_else(|| model.cards_of(g).first().map(|c| c.title.clone()))
        };
        let mut groups: Vec<GroupActivity> = groups
            .into_iter()
            .filter_map(|(g, weeks)| {
                let id = DocId::parse(&g).ok()?;
                let name = name_of(&id)?;
                let total = weeks.iter().map(|(p, c)| p + c).sum();
                Some(GroupActivity {
                    group: id,
                    name,
                    weeks,
                    total,
                })
            })
            .collect();
        groups.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.name.cmp(&b.name)));
        groups.truncate(TOP);
        let mut topics: Vec<(String, u64)> = topics.into_iter().collect();
        topics.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        topics.truncate(TOP);
        let horizon = now - dormant_weeks as i64 * 7 * 86_400_000;
        let all = crate::reader::all_company(&model, &dir);
        let mut dormant: Vec<(DocId, String, i64)> = model
            .groups()
            .filter(|g| Some(&g.id) != all.as_ref() && g.view.merged_into.is_none())
            .filter_map(|g| {
                let last = g
                    .threads
                    .iter()
                    .next_back()
                    .map_or(g.created_at, |(t, _)| *t);
                (last < horizon).then(|| (g.id.clone(), g.name.clone(), last))
            })
            .collect();
        dormant.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| a.1.cmp(&b.1)));
        Ok(Analytics {
            weeks,
            company,
            sites,
            groups,
            topics,
            dormant,
            dormant_weeks,
        })
    }

    /// Signs this site's figures of the current week now, and closes the week before if
    /// its document is missing or behind (what the node does every hour).
    pub async fn publish_stats(&self) -> Result<(), NodeError> {
        let now = self.now_ms();
        let nonces = [self.nonce()?, self.nonce()?];
        self.run("analytics.publish", move |c| {
            let this = week_of(now);
            let before = week_of(now - 7 * 86_400_000);
            c.publish_week(&before, now, nonces[0], false)?;
            c.publish_week(&this, now, nonces[1], true)
        })
        .await
    }

    /// [`Service::publish_stats`] asked by a community manager (so a dashboard is current).
    pub async fn publish_stats_now(&self, v: &Viewer) -> Result<(), NodeError> {
        if !self.is_community_manager(v) {
            return Err(NodeError::Forbidden(
                "the usage figures are for community managers".into(),
            ));
        }
        self.publish_stats().await
    }

    /// Publishes this site's figures every hour until the node stops.
    pub async fn publish_stats_forever(&self) {
        // The first an hour after start: a node that restarts often does not write more.
        let hour = std::time::Duration::from_secs(3600);
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + hour, hour);
        loop {
            every.tick().await;
            match self.publish_stats().await {
                Ok(()) => {}
                Err(NodeError::ShuttingDown) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "this site's usage figures were not published")
                }
            }
        }
    }
}

/// Who signs `site`'s statistics documents: its first active community manager by id, else
/// its first active employee — decided from the directory alone, so every site agrees, and
/// dashboards count only that employee's documents (another employee of the site could
/// start a statistics document of their own; it is not believed).
pub fn stats_author(dir: &weft_keys::Directory, site: &str) -> Option<String> {
    dir.employees
        .values()
        .filter(|e| e.site == site && e.status == weft_keys::Status::Active)
        .min_by_key(|e| (!e.roles.contains(&weft_keys::Role::CommunityManager), &e.id))
        .map(|e| e.id.clone())
}

/// Records what `employee` just wrote (see the module's documentation): starting a thread
/// is contributing; a reply, a reaction, a vote or an answer participating; new posts'
/// #topics counted.
pub(crate) fn note_taking_part(
    c: &mut Core,
    employee: &str,
    written: &[(DocId, bool, Vec<automerge::ChangeHash>)],
    now: i64,
) -> Result<(), NodeError> {
    let week = week_of(now);
    for (doc, genesis, deps) in written {
        if doc.kind() != DocKind::Thread {
            continue;
        }
        let Some(d) = c.replica().doc(doc) else {
            continue;
        };
        if d.root_str("card_of").is_some() || d.root_str("stats_site").is_some() {
            continue;
        }
        let group = c.replica().group_of(doc);
        // The posts this change made (a new thread: its first post; otherwise the touched
        // posts that were not there before it: replies).
        let posts: Vec<weft_crdt::PostView> = if *genesis {
            weft_crdt::ThreadView::of(d)
                .map(|v| v.posts)
                .unwrap_or_default()
        } else {
            let touched: Vec<weft_crdt::PostView> = d
                .touched_post_views(deps)
                .map(|v| v.iter().filter_map(|(_, p)| p.clone()).collect())
                .unwrap_or_default();
            let existed =
                weft_crdt::PostView::existed_at(d, deps, touched.iter().map(|p| p.id.as_str()));
            touched
                .into_iter()
                .zip(existed)
                .filter(|(_, before)| !before)
                .map(|(p, _)| p)
                .collect()
        };
        // Starting a thread is contributing; a reply, a reaction, a vote or an answer to an
        // event participating; an edit, a deletion or a moderator's decision neither.
        let kind = if *genesis {
            UsageKind::Contributing
        } else if !posts.is_empty() || d.touched_reactions(deps) == Some(true) {
            UsageKind::Participating
        } else {
            continue;
        };
        let topics: Vec<(String, String)> = posts
            .iter()
            .filter(|p| p.author == employee)
            .flat_map(|p| {
                p.topics
                    .iter()
                    .map(move |t| (t.clone(), format!("{doc}~{}", p.id)))
            })
            .collect();
        let store = c.store();
        store.note_usage(&week, kind, "-", employee)?;
        if let Some(g) = &group {
            store.note_usage(&week, kind, g.as_str(), employee)?;
        }
        for (topic, post) in topics {
            store.note_usage(&week, UsageKind::Topic, &topic, &post)?;
        }
    }
    Ok(())
}

impl Core {
    /// This site's figures of `week`, from what its node recorded.
    pub fn site_week(&self, week: &str) -> Result<SiteWeek, NodeError> {
        let site = self.site().to_owned();
        let employees: Vec<String> = self
            .replica()
            .directory()
            .map(|d| {
                d.directory
                    .employees
                    .values()
                    .filter(|e| e.site == site && e.status == weft_keys::Status::Active)
                    .map(|e| e.id.clone())
                    .collect()
            })
            .unwrap_or_default();
        let mut registered = 0;
        for e in &employees {
            registered += u64::from(self.store().has_settings(e)?);
        }
        let usage = self.store().usage(week)?;
        let count = |kind: UsageKind| -> u64 {
            usage
                .get(&(kind, "-".to_owned()))
                .map_or(0, |w| w.len() as u64)
        };
        let mut groups: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let mut topics: BTreeMap<String, u64> = BTreeMap::new();
        for ((kind, scope), who) in &usage {
            match kind {
                UsageKind::Participating if scope != "-" => {
                    groups.entry(scope.clone()).or_default().0 = who.len() as u64
                }
                UsageKind::Contributing if scope != "-" => {
                    groups.entry(scope.clone()).or_default().1 = who.len() as u64
                }
                UsageKind::Topic => {
                    topics.insert(scope.clone(), who.len() as u64);
                }
                _ => {}
            }
        }
        Ok(SiteWeek {
            employees: employees.len() as u64,
            registered,
            active: count(UsageKind::Active),
            participating: count(UsageKind::Participating),
            contributing: count(UsageKind::Contributing),
            groups,
            topics,
        })
    }

    /// Who signs this site's statistics (see [`stats_author`]).
    fn stats_author(&self) -> Option<String> {
        stats_author(&self.replica().directory()?.directory, self.site())
    }

    /// Writes this site's figures of `week` in its statistics document (made if need be),
    /// unless they are what it already says — or, with `update` false, unless it has one.
    pub fn publish_week(
        &mut self,
        week: &str,
        now: i64,
        nonce: u64,
        update: bool,
    ) -> Result<(), NodeError> {
        let Some(all) = self.all_company() else {
            return Ok(());
        };
        let Some(author) = self.stats_author() else {
            return Ok(());
        };
        let figures = self.site_week(week)?;
        // A past week this node recorded nothing of (it did not run yet) gets no document.
        if !update && figures.active + figures.participating + figures.contributing == 0 {
            return Ok(());
        }
        let data = serde_json::to_string(&figures)
            .map_err(|e| NodeError::Invalid(format!("statistics: {e}")))?;
        let site = self.site().to_owned();
        let existing = self
            .model()
            .stats_doc(week, &site, &author)
            .map(|s| (s.id.clone(), s.stats.clone()));
        let stats_doc = match existing {
            Some((_, Some((_, _, old)))) if old == data || !update => return Ok(()),
            Some((id, _)) => id,
            None => {
                let title = format!("Usage {site} {week}");
                self.local_as_system(&author, |r, me| {
                    let (t, l) = r.create_thread_ext(
                        me,
                        &all,
                        &title,
                        "",
                        ThreadExtras {
                            stats: Some((&site, week)),
                            ..ThreadExtras::default()
                        },
                        now,
                        nonce,
                    )?;
                    Ok((t.doc().clone(), vec![t, l]))
                })?
            }
        };
        self.local_as_system(&author, |r, me| {
            Ok(((), vec![r.write_stats(me, &stats_doc, &data, now)?]))
        })?;
        self.commit()?;
        Ok(())
    }

    /// A command the node makes for one of its employees (no write budget spent, nothing
    /// counted as their taking part).
    fn local_as_system<T>(
        &mut self,
        employee: &str,
        f: impl FnOnce(
            &mut weft_crdt::Replica,
            &weft_crdt::Author,
        ) -> Result<(T, Vec<weft_crdt::SignedChange>), weft_crdt::LocalError>,
    ) -> Result<T, NodeError> {
        let author = self
            .identity()
            .author(employee)
            .cloned()
            .ok_or_else(|| NodeError::NotHomedHere(employee.to_owned()))?;
        self.local_as(&author, f)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_sites_statistics_are_signed_by_its_first_community_manager_else_first_employee() {
        let mut dir = weft_keys::Directory::default();
        let mut add = |id: &str, site: &str, cm: bool, left: bool| {
            dir.employees.insert(
                id.to_owned(),
                weft_keys::Employee {
                    id: id.into(),
                    display_name: id.into(),
                    given_name: String::new(),
                    family_name: String::new(),
                    email: String::new(),
                    phone: String::new(),
                    site: site.into(),
                    title: String::new(),
                    department: String::new(),
                    manager: None,
                    roles: if cm {
                        vec![weft_keys::Role::CommunityManager]
                    } else {
                        Vec::new()
                    },
                    status: if left {
                        weft_keys::Status::Left
                    } else {
                        weft_keys::Status::Active
                    },
                    history: Vec::new(),
                },
            );
        };
        add("aa", "paris", false, false);
        add("zz", "paris", true, false);
        add("bb", "paris", true, true);
        add("cc", "oslo", false, false);
        add("ab", "oslo", false, true);
        assert_eq!(stats_author(&dir, "paris").as_deref(), Some("zz"));
        assert_eq!(stats_author(&dir, "oslo").as_deref(), Some("cc"));
        assert_eq!(stats_author(&dir, "lima"), None);
    }

    #[test]
    fn weeks_are_iso_weeks_the_oldest_first() {
        // Friday 2026-12-04 10:00 UTC.
        let now = 1_796_378_400_000;
        assert_eq!(week_of(now), "2026-W49");
        assert_eq!(last_weeks(now, 3), ["2026-W47", "2026-W48", "2026-W49"]);
    }
}

//! Cards of private groups: what every site may know of a group whose content stays at its
//! members' sites — name, description, owners, member count — so that employees anywhere
//! can find it and ask to join.
//!
//! A private group's document (and its threads) travel only to sites with a member or an
//! invitee. Its card is a thread of the All company group (held everywhere) marked
//! `card_of` at its genesis and written by one of the group's owners alone
//! (`weft_crdt::CardFields`); the owner's node writes it when the group is made private,
//! and again when its name, description, owners or members change through an owner here.
//! Asking to join from a site without the group is a reaction (`join`) on the card's first
//! post; the owners' sites, which hold the group, list those requests with the group's own
//! and notify the owners; accepting adds the member, and the group then travels to the
//! new member's site.
//!
//! **Visibility changes (decided).** Public → private: the change reaches every site that
//! held the group (it could hold it just before); from then on the sites without a member
//! receive nothing new of it, and their employees see it as listed (name, description,
//! owners, member count) but not its threads — what they already hold is kept on disk but
//! no longer shown nor served (every read and every peer request is judged by the
//! current visibility). A card is written for the sites that never held it. Private →
//! public: it travels to every site again and the card is withdrawn; → secret: the card is
//! withdrawn (a secret group is unlisted).
//!
//! A card can only be checked at sites that hold its group: elsewhere, a card is believed
//! as its author wrote it (the page names the author). At the owners' sites, cards whose
//! author is not an owner are ignored, and so are requests made on them.

use std::sync::Arc;

use weft_crdt::{CardFields, CardView, DocId, GroupView, ThreadExtras, Visibility};

use super::{Service, Viewer};
use crate::core::Core;
use crate::error::NodeError;
use crate::readmodel::{CARD_REQUEST, ThreadSummary};

/// A group's card as pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// The card's thread.
    pub thread: DocId,
    pub group: DocId,
    pub name: String,
    pub description: String,
    pub owners: Vec<String>,
    pub members: u64,
    /// Who wrote it, and when it was first written (ms).
    pub author: String,
    pub since: i64,
    /// Whether the viewer asked to join on it.
    pub asked: bool,
}

fn card_of(s: &ThreadSummary, viewer: &str) -> Option<Card> {
    let c: &CardView = s.card.as_ref()?;
    Some(Card {
        thread: s.id.clone(),
        group: c.group.clone(),
        name: s.title.clone(),
        description: s.excerpt.clone(),
        owners: c.owners.clone(),
        members: c.members,
        author: s.author.clone(),
        since: s.created_at,
        asked: s.card_requests.iter().any(|r| r == viewer),
    })
}

impl Service {
    /// The cards of private groups this site does not hold (the newest card of each, unless
    /// withdrawn), by name: listed with the groups the viewer may see.
    pub fn group_cards(&self, v: &Viewer) -> Vec<Card> {
        let reader = self.reader();
        let model = reader.model();
        let mut out: Vec<Card> = model
            .cards()
            .filter(|(g, _)| model.group(g).is_none())
            .filter_map(|(g, _)| {
                let newest = model.cards_of(g).into_iter().next()?;
                newest
                    .card
                    .as_ref()
                    .filter(|c| !c.withdrawn)
                    .and_then(|_| card_of(newest, v.id()))
            })
            .collect();
        out.sort_by(|a, b| {
            (a.name.to_lowercase(), &a.group).cmp(&(b.name.to_lowercase(), &b.group))
        });
        out
    }

    /// The card of `group`, if this site does not hold the group but knows a card of it.
    pub fn group_card(&self, v: &Viewer, group: &DocId) -> Option<Card> {
        let reader = self.reader();
        let model = reader.model();
        if model.group(group).is_some() {
            return None;
        }
        let newest = model.cards_of(group).into_iter().next()?;
        if newest.card.as_ref().is_none_or(|c| c.withdrawn) {
            return None;
        }
        card_of(newest, v.id())
    }

    /// Asks to join `group` on its card (or withdraws the request: `on` false).
    pub async fn ask_on_card(&self, v: &Viewer, group: &DocId, on: bool) -> Result<(), NodeError> {
        let card = self.group_card(v, group).ok_or(NodeError::NotFound)?;
        let t = self.thread(v, &card.thread).await?;
        let root = t.posts.first().ok_or(NodeError::NotFound)?.id.clone();
        self.react(v, &card.thread, &root, CARD_REQUEST, on).await
    }
}

/// Employees who asked to join `group` on one of its cards written by one of its owners
/// (a site that holds the group can tell), and are not members yet.
pub(crate) fn card_requests(
    model: &crate::readmodel::ReadModel,
    group: &DocId,
    declined: &std::collections::HashSet<String>,
) -> Vec<String> {
    let Some(g) = model.group(group) else {
        return Vec::new();
    };
    let mut out: Vec<String> = model
        .cards_of(group)
        .into_iter()
        .filter(|c| g.owners.contains(&c.author))
        .flat_map(|c| c.card_requests.iter().cloned())
        .filter(|who| !g.members.contains(who) && !declined.contains(who))
        .collect();
    out.sort();
    out.dedup();
    out
}

impl Core {
    /// Writes `group`'s card as `employee` (an owner whose node this is) sees the group now:
    /// a new card when a private group has none of theirs, the same card updated when what
    /// it says changed, withdrawn when the group is no longer private.
    pub(crate) fn refresh_card(
        &mut self,
        employee: &str,
        group: &DocId,
        now: i64,
        nonce: u64,
    ) -> Result<(), NodeError> {
        let Some(all) = self.all_company() else {
            return Ok(());
        };
        if &all == group {
            return Ok(());
        }
        let (view, mine): (Arc<GroupView>, Option<ThreadSummary>) = {
            let model = self.model();
            let Some(g) = model.group(group) else {
                return Ok(());
            };
            let mine = model
                .cards_of(group)
                .into_iter()
                .find(|c| c.author == employee)
                .cloned();
            (g.view.clone(), mine)
        };
        if !view.is_owner(employee) {
            return Ok(());
        }
        let wanted = view.visibility == Visibility::Private;
        let fields = CardFields {
            name: &view.name,
            description: &view.description,
            owners: &view.owners,
            members: view.members.len() as u64,
            withdrawn: !wanted,
        };
        match mine {
            None if wanted => {
                let card = self.local(employee, |r, me| {
                    let (t, l) = r.create_thread_ext(
                        me,
                        &all,
                        &view.name,
                        &view.description,
                        ThreadExtras {
                            card_of: Some(group),
                            ..ThreadExtras::default()
                        },
                        now,
                        nonce,
                    )?;
                    Ok((t.doc().clone(), vec![t, l]))
                })?;
                self.local_one(employee, |r, me| r.update_card(me, &card, &fields, now))
            }
            None => Ok(()),
            Some(s) => {
                let c = s.card.clone().unwrap_or(CardView {
                    group: group.clone(),
                    owners: Vec::new(),
                    members: 0,
                    withdrawn: true,
                });
                let same = s.title == view.name
                    && s.excerpt
                        == view
                            .description
                            .chars()
                            .take(crate::readmodel::EXCERPT_CHARS)
                            .collect::<String>()
                    && c.owners == view.owners
                    && c.members == view.members.len() as u64
                    && c.withdrawn != wanted;
                if same || (c.withdrawn && !wanted) {
                    return Ok(());
                }
                self.local_one(employee, |r, me| r.update_card(me, &s.id, &fields, now))
            }
        }
    }
}

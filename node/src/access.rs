//! Who may see what: decided here, once, from the read models (no document is read), and used
//! by every read, search hit, notification and live event.
//!
//! A public group and its threads are visible to every employee; a private or secret group
//! and its threads only to its members and invitees — and a private group's name and
//! description (but none of its threads) to anyone, so people can ask to join. A profile is
//! visible to everyone. Anything not visible is reported as not found, so its existence does
//! not leak; what is visible but members-only is refused as forbidden.

use weft_crdt::{DocId, DocKind, Visibility};

use crate::readmodel::{GroupSummary, ReadModel};

/// How much of a group (or of a document in it) someone may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing: answer "not found".
    None,
    /// The listing only (a private group, to a non-member).
    Listing,
    /// Everything.
    Full,
}

/// What `employee` may see of the group `g`: the rule itself.
pub fn to_group(g: &GroupSummary, employee: &str) -> Access {
    if g.visibility == Visibility::Public
        || g.members.contains(employee)
        || g.invitations.contains(employee)
    {
        Access::Full
    } else if g.visibility == Visibility::Private {
        Access::Listing
    } else {
        Access::None
    }
}

/// What `employee` may see of group `group` (an unknown group: nothing).
pub fn group(model: &ReadModel, employee: &str, group: &DocId) -> Access {
    model
        .group(group)
        .map_or(Access::None, |g| to_group(g, employee))
}

/// What `employee` may see of any document: a thread as its group (never the listing
/// alone: a thread is content), a group as itself, a profile fully.
pub fn to_doc(model: &ReadModel, employee: &str, doc: &DocId) -> Access {
    match doc.kind() {
        DocKind::Thread => match model.thread(doc) {
            Some(t) if group(model, employee, &t.group) == Access::Full => Access::Full,
            _ => Access::None,
        },
        DocKind::Group => group(model, employee, doc),
        DocKind::Profile => Access::Full,
    }
}

/// Whether the site `site` may hold document `doc`, as the read models say — the replica's
/// own rule (`weft_crdt::Replica::may_hold`), read off the loop: every profile, a public
/// group and its threads everywhere, a private or secret group and its threads only at the
/// sites that home one of its members or invitees. Used for what travels beside the
/// documents (files), which goes exactly where they go.
pub fn site_may_hold(
    model: &ReadModel,
    dir: &weft_keys::Directory,
    site: &str,
    doc: &DocId,
) -> bool {
    let group = match doc.kind() {
        DocKind::Profile => return true,
        DocKind::Group => doc,
        DocKind::Thread => match model.thread(doc) {
            Some(t) => &t.group,
            None => return false,
        },
    };
    let Some(g) = model.group(group) else {
        return false;
    };
    g.visibility == Visibility::Public
        || g.members
            .iter()
            .chain(&g.invitations)
            .any(|e| dir.employees.get(e).is_some_and(|e| e.site == site))
}

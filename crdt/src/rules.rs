//! The write rules: who may write which path of which kind of document.
//!
//! Every rule here is decided from the change's own operations (the paths they touch, the
//! authors of what they overwrite) and from document state **at heads the change names**:
//! its own dependencies for group rules, the group heads in its envelope for thread rules. Those
//! heads are fixed by hashes, so every node that holds them reaches the same verdict, in any
//! delivery order. See the crate documentation for the rules in prose.

use automerge::{ChangeHash, ScalarValue};

use crate::change::SignedChange;
use crate::doc::{Doc, Write, WriteAction};
use crate::ids::DocKind;

/// A write that the document's rules forbid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("may not write {path}: {reason}")]
pub struct RuleError {
    /// The path, `/`-separated.
    pub path: String,
    pub reason: &'static str,
}

fn deny(w: &Write, reason: &'static str) -> RuleError {
    RuleError {
        path: w.path.join("/"),
        reason,
    }
}

/// Group visibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Visibility {
    /// Anyone reads and joins.
    Public,
    /// Listed; content for members only; join on request or invitation.
    Private,
    /// Unlisted; invitation only.
    Secret,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
            Visibility::Secret => "secret",
        }
    }

    pub fn parse(s: &str) -> Option<Visibility> {
        match s {
            "public" => Some(Visibility::Public),
            "private" => Some(Visibility::Private),
            "secret" => Some(Visibility::Secret),
            _ => None,
        }
    }
}

/// A community manager's mark on a thread or library document: search ranks official ones
/// first and outdated ones last, and pages show the mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ThreadMark {
    /// The reference: policies, the current version of a procedure.
    Official,
    /// Kept for the record; superseded.
    Outdated,
}

impl ThreadMark {
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadMark::Official => "official",
            ThreadMark::Outdated => "outdated",
        }
    }

    pub fn parse(s: &str) -> Option<ThreadMark> {
        match s {
            "official" => Some(ThreadMark::Official),
            "outdated" => Some(ThreadMark::Outdated),
            _ => None,
        }
    }
}

/// Everything a rule may consult.
pub(crate) struct RuleCtx<'a> {
    /// The verified author.
    pub(crate) author: &'a str,
    pub(crate) doc: &'a Doc,
    pub(crate) change: &'a SignedChange,
    /// For a thread change: the group document, holding every head in the change's
    /// `auth_heads`.
    pub(crate) group: Option<&'a Doc>,
    /// Whether the author is a community manager as of the change's directory version.
    pub(crate) community_manager: bool,
    /// Whether the author may make announcements: a community manager, or the directory's
    /// `communication` role.
    pub(crate) communicator: bool,
    /// The author's home site as of the change's directory version.
    pub(crate) author_site: Option<&'a str>,
}

/// Checks every write of a change against its document's rules.
pub(crate) fn check(
    ctx: &RuleCtx<'_>,
    writes: &[Write],
    is_genesis: bool,
) -> Result<(), RuleError> {
    match ctx.doc.kind() {
        DocKind::Profile => check_profile(ctx, writes),
        DocKind::Group => check_group(ctx, writes, is_genesis),
        DocKind::Thread => check_thread(ctx, writes, is_genesis),
    }
}

fn str_value(w: &Write) -> Option<&str> {
    match &w.action {
        WriteAction::Put(ScalarValue::Str(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn is_path(w: &Write, p: &[&str]) -> bool {
    w.path.len() == p.len() && w.path.iter().zip(p).all(|(a, b)| a == b)
}

fn root_put<'w>(writes: &'w [Write], key: &str) -> Option<&'w str> {
    writes
        .iter()
        .rev()
        .find(|w| is_path(w, &[key]))
        .and_then(str_value)
}

/// Profile: only the employee it belongs to writes anything.
fn check_profile(ctx: &RuleCtx<'_>, writes: &[Write]) -> Result<(), RuleError> {
    let owner = ctx.doc.id().profile_owner().unwrap_or_default();
    for w in writes {
        if ctx.author != owner {
            return Err(deny(w, "a profile is written only by its employee"));
        }
    }
    Ok(())
}

/// The maps a group's genesis must make.
const GROUP_MAPS: [&str; 5] = ["owners", "members", "requests", "invitations", "threads"];
/// Root scalars of a group set once, at genesis.
const GROUP_FIXED: [&str; 5] = ["kind", "created_at", "created_by", "home_site", "nonce"];

fn check_group(ctx: &RuleCtx<'_>, writes: &[Write], is_genesis: bool) -> Result<(), RuleError> {
    if is_genesis {
        return check_group_genesis(ctx, writes);
    }
    let deps = ctx.change.deps();
    let doc = ctx.doc;
    let at = |map: &str, key: &str| doc.map_has(map, key, Some(deps));
    let owner = at("owners", ctx.author);
    let visibility = doc
        .root_str_at("visibility", deps)
        .and_then(|v| Visibility::parse(&v));
    for w in writes {
        let own_preds = w.pred_authors.iter().all(|a| a == ctx.author);
        match (w.path.len(), w.path.first().map(String::as_str)) {
            (1, Some("name" | "description")) => {
                if !owner {
                    return Err(deny(w, "only owners change settings"));
                }
                if str_value(w).is_none() {
                    return Err(deny(w, "must be text"));
                }
            }
            (1, Some("merged_into")) => {
                // Community managers fold a duplicate group into another: its page points
                // there. Any other group (or nothing, to undo it).
                if !ctx.community_manager {
                    return Err(deny(w, "only community managers merge groups"));
                }
                let into_group = str_value(w)
                    .and_then(|s| crate::DocId::parse(s).ok())
                    .is_some_and(|g| g.kind() == DocKind::Group && g != *doc.id());
                if !(into_group || matches!(w.action, WriteAction::Delete)) {
                    return Err(deny(w, "a group is merged into another group"));
                }
            }
            (1, Some("visibility")) => {
                if !owner {
                    return Err(deny(w, "only owners change settings"));
                }
                if str_value(w).and_then(Visibility::parse).is_none() {
                    return Err(deny(w, "must be public, private or secret"));
                }
            }
            (2, Some("owners")) => {
                if !owner {
                    return Err(deny(w, "only owners appoint owners"));
                }
                scalar_or_delete(w)?;
            }
            (2, Some("members")) => {
                scalar_or_delete(w)?;
                let me = w.path[1] == ctx.author;
                let allowed = owner
                    || (me && matches!(w.action, WriteAction::Delete))
                    || (me
                        && (visibility == Some(Visibility::Public)
                            || at("invitations", ctx.author)));
                if !allowed {
                    return Err(deny(
                        w,
                        "members are added by owners, or join a public group or an invitation",
                    ));
                }
            }
            (2, Some("requests")) => {
                scalar_or_delete(w)?;
                let me = w.path[1] == ctx.author;
                if !(me || (owner && matches!(w.action, WriteAction::Delete))) {
                    return Err(deny(w, "a join request is one's own"));
                }
            }
            (2, Some("invitations")) => {
                scalar_or_delete(w)?;
                let me = w.path[1] == ctx.author;
                if !(owner || (me && matches!(w.action, WriteAction::Delete))) {
                    return Err(deny(w, "only owners invite"));
                }
            }
            (2, Some("threads")) => {
                scalar_or_delete(w)?;
                let member = at("members", ctx.author);
                let poster = member || visibility == Some(Visibility::Public);
                let allowed = match w.action {
                    WriteAction::Delete => owner || (own_preds && !w.pred_authors.is_empty()),
                    _ => poster && own_preds,
                };
                if !allowed {
                    return Err(deny(w, "members list their own threads; owners remove any"));
                }
            }
            _ => return Err(deny(w, "not a writable part of a group")),
        }
    }
    Ok(())
}

fn scalar_or_delete(w: &Write) -> Result<(), RuleError> {
    match w.action {
        WriteAction::MakeMap => Err(deny(w, "must be a value, not a map")),
        _ => Ok(()),
    }
}

fn check_group_genesis(ctx: &RuleCtx<'_>, writes: &[Write]) -> Result<(), RuleError> {
    let first = writes.first().cloned().unwrap_or(Write {
        path: vec![],
        owners: vec![],
        action: WriteAction::Delete,
        pred_authors: vec![],
    });
    if root_put(writes, "kind") != Some("group") {
        return Err(deny(&first, "a group's first change sets kind = group"));
    }
    if root_put(writes, "created_by") != Some(ctx.author) {
        return Err(deny(&first, "created_by must be the author"));
    }
    if root_put(writes, "visibility")
        .and_then(Visibility::parse)
        .is_none()
    {
        return Err(deny(&first, "visibility must be public, private or secret"));
    }
    for map in GROUP_MAPS {
        if !writes
            .iter()
            .any(|w| is_path(w, &[map]) && w.action == WriteAction::MakeMap)
        {
            return Err(deny(&first, "a group's first change makes its maps"));
        }
    }
    let self_owner = writes
        .iter()
        .any(|w| is_path(w, &["owners", ctx.author]) && matches!(w.action, WriteAction::Put(_)));
    let self_member = writes
        .iter()
        .any(|w| is_path(w, &["members", ctx.author]) && matches!(w.action, WriteAction::Put(_)));
    if !self_owner || !self_member {
        return Err(deny(
            &first,
            "the creator is the group's first owner and member",
        ));
    }
    for w in writes {
        if w.path.len() > 2 {
            return Err(deny(w, "groups hold no nested maps"));
        }
        if w.path.len() == 1
            && !GROUP_MAPS.contains(&w.path[0].as_str())
            && !GROUP_FIXED.contains(&w.path[0].as_str())
            && !["name", "description", "visibility"].contains(&w.path[0].as_str())
        {
            return Err(deny(w, "unknown group field"));
        }
    }
    Ok(())
}

/// Root maps of a thread.
const THREAD_MAPS: [&str; 3] = ["posts", "reactions", "moderation"];

/// Whether the author may post in the group, at the change's authorisation heads.
fn may_post(ctx: &RuleCtx<'_>, heads: &[ChangeHash]) -> bool {
    let Some(group) = ctx.group else {
        return false;
    };
    let public = group.root_str_at("visibility", heads).as_deref() == Some("public");
    public || group.map_has("members", ctx.author, Some(heads))
}

fn may_moderate(ctx: &RuleCtx<'_>, heads: &[ChangeHash]) -> bool {
    ctx.community_manager
        || ctx
            .group
            .is_some_and(|g| g.map_has("owners", ctx.author, Some(heads)))
        // A wall is moderated by its owner too (set at the thread's genesis, never after).
        || ctx.doc.root_str_at("wall_of", ctx.change.deps()).as_deref() == Some(ctx.author)
}

fn check_thread(ctx: &RuleCtx<'_>, writes: &[Write], is_genesis: bool) -> Result<(), RuleError> {
    let heads = ctx.change.auth_heads();
    let poster = may_post(ctx, heads);
    // Read from the group's history only if a write needs it (most changes are posts).
    let moderator = std::cell::OnceCell::new();
    let moderator = || *moderator.get_or_init(|| may_moderate(ctx, heads));
    let first = writes.first().cloned().unwrap_or(Write {
        path: vec![],
        owners: vec![],
        action: WriteAction::Delete,
        pred_authors: vec![],
    });
    if is_genesis {
        if root_put(writes, "kind") != Some("thread") {
            return Err(deny(&first, "a thread's first change sets kind = thread"));
        }
        if root_put(writes, "author") != Some(ctx.author) {
            return Err(deny(&first, "author must be the thread's creator"));
        }
        for map in THREAD_MAPS {
            if !writes
                .iter()
                .any(|w| is_path(w, &[map]) && w.action == WriteAction::MakeMap)
            {
                return Err(deny(&first, "a thread's first change makes its maps"));
            }
        }
    }
    let only_moderation = writes.iter().all(|w| {
        matches!(
            w.path.first().map(String::as_str),
            Some("moderation" | "pinned" | "mark")
        )
    });
    // Posts this change makes: a poll is written with its post, never after.
    let made: std::collections::HashSet<&str> = writes
        .iter()
        .filter(|w| w.path.len() == 2 && w.path[0] == "posts" && w.action == WriteAction::MakeMap)
        .map(|w| w.path[1].as_str())
        .collect();
    // Options a vote of this change chooses, per post (a single-choice poll allows one).
    let mut chosen: std::collections::HashMap<&str, usize> = Default::default();
    // Answers an RSVP of this change gives, per post (one).
    let mut answered: std::collections::HashMap<&str, usize> = Default::default();
    if !(poster || (only_moderation && !is_genesis && moderator())) {
        return Err(deny(
            &first,
            "only members of the group (any employee, if it is public) write in its threads",
        ));
    }
    for w in writes {
        let top = w.path.first().map(String::as_str);
        match (w.path.len(), top) {
            (1, Some("kind" | "group" | "author" | "created_at" | "nonce" | "root_post"))
            | (1, Some("posts" | "reactions" | "moderation")) => {
                if !is_genesis {
                    return Err(deny(w, "set once, when the thread is created"));
                }
            }
            (1, Some("card_owners" | "card_members" | "card_withdrawn")) => {
                // A group's card: written by its author alone (who made the card thread).
                let card = root_put(writes, "card_of").is_some()
                    || ctx.doc.root_str_at("card_of", ctx.change.deps()).is_some();
                if !card {
                    return Err(deny(w, "only a group's card says its owners and members"));
                }
                if ctx.doc.creator().is_some_and(|c| c != ctx.author) {
                    return Err(deny(w, "a card is written by its author"));
                }
                let typed = match (w.path[0].as_str(), &w.action) {
                    ("card_owners", WriteAction::Put(ScalarValue::Str(o))) => {
                        o.len() <= crate::local::MAX_CARD_OWNERS
                    }
                    (
                        "card_members",
                        WriteAction::Put(ScalarValue::Uint(_) | ScalarValue::Int(_)),
                    ) => true,
                    ("card_withdrawn", WriteAction::Put(ScalarValue::Boolean(_))) => true,
                    _ => false,
                };
                if !typed {
                    return Err(deny(
                        w,
                        "owners are a text, members a number, withdrawn true or false",
                    ));
                }
            }
            (1, Some("stats_site" | "stats_week")) => {
                // A site's weekly statistics: started by an employee of that site.
                if !is_genesis {
                    return Err(deny(w, "set once, when the thread is created"));
                }
                if w.path[0] == "stats_site" && str_value(w) != ctx.author_site {
                    return Err(deny(
                        w,
                        "a site's statistics are written by one of its employees",
                    ));
                }
                if w.path[0] == "stats_week" && str_value(w).is_none_or(|s| s.len() > 16) {
                    return Err(deny(w, "a week is a short text"));
                }
            }
            (1, Some("stats_data")) => {
                let stats = root_put(writes, "stats_site").is_some()
                    || ctx
                        .doc
                        .root_str_at("stats_site", ctx.change.deps())
                        .is_some();
                if !stats {
                    return Err(deny(w, "only a statistics document holds statistics"));
                }
                if ctx.doc.creator().is_some_and(|c| c != ctx.author) {
                    return Err(deny(w, "statistics are written by their author"));
                }
                if str_value(w).is_none_or(|d| d.len() > crate::local::MAX_STATS) {
                    return Err(deny(w, "statistics are a text of at most 256 KiB"));
                }
            }
            (1, Some("card_of")) => {
                if !is_genesis {
                    return Err(deny(w, "set once, when the thread is created"));
                }
                if str_value(w)
                    .and_then(|g| crate::DocId::parse(g).ok())
                    .is_none_or(|g| g.kind() != DocKind::Group)
                {
                    return Err(deny(w, "a card is of a group"));
                }
            }
            (1, Some("wall_of" | "question" | "library")) => {
                if !is_genesis {
                    return Err(deny(w, "set once, when the thread is created"));
                }
            }
            (_, Some("announcement")) => {
                if !is_genesis {
                    return Err(deny(w, "set once, when the thread is created"));
                }
                if !ctx.communicator {
                    return Err(deny(
                        w,
                        "only community managers and communication make announcements",
                    ));
                }
            }
            (1, Some("pinned")) => {
                if is_genesis || !moderator() {
                    return Err(deny(w, "group owners and community managers pin threads"));
                }
                if !matches!(
                    w.action,
                    WriteAction::Put(ScalarValue::Boolean(_)) | WriteAction::Delete
                ) {
                    return Err(deny(w, "pinned is true or false"));
                }
            }
            (1, Some("mark")) => {
                if !ctx.community_manager {
                    return Err(deny(
                        w,
                        "only community managers mark threads official or outdated",
                    ));
                }
                let known = str_value(w).and_then(ThreadMark::parse).is_some();
                if !(known || matches!(w.action, WriteAction::Delete)) {
                    return Err(deny(w, "a mark is official or outdated"));
                }
            }
            (1, Some("best_answer")) => {
                let asker = ctx.doc.creator().is_none_or(|c| c == ctx.author);
                if !(asker || moderator()) {
                    return Err(deny(w, "the asker or a group owner picks the best answer"));
                }
                if !matches!(w.action, WriteAction::Delete) && str_value(w).is_none() {
                    return Err(deny(w, "the best answer names a post"));
                }
            }
            (1, Some("folder")) => {
                // Any member organises a library; only a library document has a folder.
                let library =
                    is_genesis || ctx.doc.root_bool_at("library", ctx.change.deps()) == Some(true);
                if !library {
                    return Err(deny(w, "only a library document has a folder"));
                }
                if str_value(w).is_none_or(|f| f.len() > crate::local::MAX_FOLDER) {
                    return Err(deny(w, "a folder is a short text"));
                }
            }
            (1, Some("title")) => {
                if ctx.doc.creator().is_some_and(|c| c != ctx.author) {
                    return Err(deny(w, "only the thread's creator retitles it"));
                }
            }
            (2, Some("posts")) => {
                // A post entry: made by its author under a key bound to the author's key id,
                // never replacing someone else's.
                if !w.pred_authors.iter().all(|a| a == ctx.author) {
                    return Err(deny(w, "a post is its author's"));
                }
                if matches!(w.action, WriteAction::Put(_)) {
                    return Err(deny(w, "a post is a map"));
                }
                if w.action == WriteAction::MakeMap
                    && !post_key_is_authors(&w.path[1], &ctx.change.key_id())
                {
                    return Err(deny(w, "a post's key starts with its author's key id"));
                }
            }
            (n, Some("posts")) if n >= 3 => {
                if w.owners.get(2).map(String::as_str) != Some(ctx.author) {
                    return Err(deny(w, "only a post's author edits it"));
                }
                if is_path_suffix(w, "author") && str_value(w) != Some(ctx.author) {
                    return Err(deny(w, "a post's author field names its author"));
                }
                if w.path[2] == "poll" && !made.contains(w.path[1].as_str()) {
                    return Err(deny(w, "a poll is written with its post, never changed"));
                }
                if w.path[2] == "attachments"
                    && w.path.len() >= 4
                    && !crate::local::is_blob_hash(&w.path[3])
                {
                    return Err(deny(w, "an attachment is keyed by its blob's hash"));
                }
                if w.path[2] == "attachments"
                    && w.path.len() == 6
                    && w.path[4] == "thumbnail"
                    && w.path[5] == "hash"
                    && !str_value(w).is_some_and(crate::local::is_blob_hash)
                {
                    return Err(deny(w, "a thumbnail names a blob by its hash"));
                }
                if w.path[2] == "attachments"
                    && w.path.len() == 5
                    && w.path[4] == "text"
                    && str_value(w).is_none_or(|t| t.len() > crate::local::MAX_FILE_TEXT)
                {
                    return Err(deny(w, "a file's text is a text of at most 16 KiB"));
                }
            }
            (2, Some("reactions")) => {
                let key = &w.path[1];
                let emp = key.splitn(3, ':').nth(2);
                if emp != Some(ctx.author) {
                    return Err(deny(w, "reactions are one's own"));
                }
                match &w.action {
                    WriteAction::Put(ScalarValue::Boolean(true)) | WriteAction::Delete => {}
                    _ => return Err(deny(w, "a reaction is true or deleted")),
                }
                let mut parts = key.splitn(3, ':');
                let (post, kind) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                if let Some(option) = kind.strip_prefix(crate::local::VOTE_PREFIX) {
                    check_vote(ctx, w, post, option, &mut chosen)?;
                } else if let Some(answer) = kind.strip_prefix(crate::local::RSVP_PREFIX) {
                    check_rsvp(ctx, w, post, answer, &mut answered)?;
                }
            }
            (_, Some("moderation")) if w.path[1].starts_with(crate::local::REPORT_PREFIX) => {
                check_report(ctx, w)?;
            }
            (_, Some("moderation")) => {
                if !moderator() {
                    return Err(deny(w, "only group owners and community managers moderate"));
                }
                if w.path.len() > 3 {
                    return Err(deny(w, "moderation marks are flat"));
                }
            }
            _ => return Err(deny(w, "not a writable part of a thread")),
        }
    }
    Ok(())
}

/// A report (`moderation/report:<post>:<employee>` = {reason, at}): its employee's own map,
/// made, changed and withdrawn by them alone; a reason of at most
/// [`crate::local::MAX_REASON`] bytes and a time. Anyone who may write in the thread may
/// report (every reader of a public group; members of a private one).
fn check_report(ctx: &RuleCtx<'_>, w: &Write) -> Result<(), RuleError> {
    let key = &w.path[1];
    let emp = key[crate::local::REPORT_PREFIX.len()..]
        .split_once(':')
        .map(|(_, e)| e);
    if emp != Some(ctx.author) || !w.pred_authors.iter().all(|a| a == ctx.author) {
        return Err(deny(w, "a report is its employee's own"));
    }
    match (w.path.len(), &w.action) {
        (2, WriteAction::MakeMap | WriteAction::Delete) => Ok(()),
        (2, _) => Err(deny(w, "a report is a map")),
        (3, _) if w.owners.get(2).map(String::as_str) != Some(ctx.author) => {
            Err(deny(w, "a report is its employee's own"))
        }
        (3, _) if w.path[2] == "reason" => {
            if str_value(w).is_none_or(|r| r.len() > crate::local::MAX_REASON) {
                return Err(deny(w, "a reason is a text of at most 1,000 bytes"));
            }
            Ok(())
        }
        // Not later than the change's own signed time (a report dated in the future would
        // stay open after a moderator's decision).
        (3, WriteAction::Put(ScalarValue::Timestamp(t)))
            if w.path[2] == "at" && *t <= ctx.change.time_ms() =>
        {
            Ok(())
        }
        _ => Err(deny(w, "a report holds a reason and a time")),
    }
}

/// A vote (`<post>:vote.<option>:<author>` in `reactions`): for a poll in the change's
/// causal past (read at its dependencies, so every node sees the same poll), for one of its
/// options, made before the poll closed by the change's own time — setting or withdrawing
/// alike — and one option per change in a single-choice poll. (Two concurrent changes of
/// one voter can still both stand: the view counts a single-choice voter once.)
fn check_vote<'w>(
    ctx: &RuleCtx<'_>,
    w: &Write,
    post: &'w str,
    option: &str,
    chosen: &mut std::collections::HashMap<&'w str, usize>,
) -> Result<(), RuleError> {
    let Some(poll) = ctx.doc.poll_at(post, ctx.change.deps()) else {
        return Err(deny(w, "a vote is for a poll its author has seen"));
    };
    if !poll.options.iter().any(|o| o == option) {
        return Err(deny(w, "a vote is for one of the poll's options"));
    }
    if poll.closes_at.is_some_and(|c| ctx.change.time_ms() > c) {
        return Err(deny(w, "the poll was closed"));
    }
    if matches!(w.action, WriteAction::Put(_)) {
        let n = chosen.entry(post).or_default();
        *n += 1;
        if !poll.multiple && *n > 1 {
            return Err(deny(w, "one option only in this poll"));
        }
    }
    Ok(())
}

/// An RSVP (`<post>:rsvp.<answer>:<author>` in `reactions`): to an event in the change's
/// causal past, one of the answers, one answer set per post per change.
fn check_rsvp<'w>(
    ctx: &RuleCtx<'_>,
    w: &Write,
    post: &'w str,
    answer: &str,
    answered: &mut std::collections::HashMap<&'w str, usize>,
) -> Result<(), RuleError> {
    if !crate::local::RSVP_ANSWERS.contains(&answer) {
        return Err(deny(w, "an answer is yes, maybe or no"));
    }
    if !ctx.doc.has_event_at(post, ctx.change.deps()) {
        return Err(deny(w, "an answer is to an event its author has seen"));
    }
    if matches!(w.action, WriteAction::Put(_)) {
        let n = answered.entry(post).or_default();
        *n += 1;
        if *n > 1 {
            return Err(deny(w, "one answer to an event"));
        }
    }
    Ok(())
}

/// Whether a post key (`<key id hex>-<nonce>`) belongs to the key `key`: its prefix is the
/// key's whole id (32 hex digits), or — posts made before the whole id was used — its first 8
/// hex digits. Two authors can therefore never make the same post key, so no one can create,
/// or win an Automerge conflict over, another author's post. (Forging the short form would
/// take about 2^32 key generations by a node that already certifies its own keys.)
pub(crate) fn post_key_is_authors(post: &str, key: &weft_keys::KeyId) -> bool {
    let Some((prefix, nonce)) = post.split_once('-') else {
        return false;
    };
    let id = key.to_string();
    !nonce.is_empty() && (prefix == id || (prefix.len() == 8 && id.starts_with(prefix)))
}

fn is_path_suffix(w: &Write, last: &str) -> bool {
    w.path.len() == 3 && w.path[2] == last
}

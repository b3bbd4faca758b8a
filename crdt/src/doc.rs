//! One replicated document: the Automerge document plus the indexes that validation needs.
//!
//! Validation must give the same verdict on every node, so everything it reads is a function of
//! the change's **causal past** (its dependencies and their ancestors), never of whatever
//! concurrent changes a node happens to hold. The indexes here make those questions cheap:
//!
//! * a vector clock per accepted change (`actor → highest seq` in its past, itself included),
//!   so "is this op id in the past?" and "is this the author's next change?" are lookups;
//! * the largest op counter in each change's past, so a change must start exactly after it
//!   (Automerge's own rule for honest changes; it makes op ids impossible to collide);
//! * every map object ever made: its parent, its key and who made it, so the path a write
//!   touches and who owns what are decided from operations, not from anyone's claims.

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use automerge::legacy::{Key, ObjectId, OpId, OpType};
use automerge::{Automerge, ChangeHash, ObjType, ReadDoc, ScalarValue};
use weft_keys::KeyId;
use weft_keys::directory::EmployeeId;

use crate::change::SignedChange;
use crate::ids::{DocId, DocKind, key_of_actor};

/// A vector clock: for each actor, the highest seq of its changes in some causal past.
pub type Clock = BTreeMap<KeyId, u64>;

/// What the document knows about one accepted change.
#[derive(Debug, Clone)]
pub(crate) struct ChangeInfo {
    pub(crate) actor: KeyId,
    pub(crate) seq: u64,
    pub(crate) max_op: u64,
    /// The largest op counter in this change's past, itself included.
    pub(crate) past_max_op: u64,
    /// The clock of this change's past, itself included — kept only for recent changes,
    /// heads and checkpoints (see [`CLOCK_WINDOW`]); [`Doc::clock_at`] rebuilds the others.
    clock: Option<Arc<Clock>>,
    /// How many changes its past holds, itself included (the sum of its clock): ordering by
    /// it is a topological order.
    past_len: u64,
    /// The signed bytes, as received: the source of truth that is stored and sent on.
    pub(crate) signed: SignedChange,
    /// The posts it writes, from its validated writes (for [`Doc::touched_posts`]).
    touches: Touches,
}

/// How many of a document's most recently accepted changes keep their clock (besides its
/// heads and every [`CLOCK_CHECKPOINT`]th change). A clock names every actor of the change's
/// past: kept for every change, a group that thousands of people joined held millions of
/// entries (one per member per later change). The others are rebuilt when asked for, from
/// the nearest changes in their past that kept theirs.
pub const CLOCK_WINDOW: usize = 32;
/// Every this-many accepted changes one keeps its clock for good, so that rebuilding a clock
/// walks back at most about this far.
pub const CLOCK_CHECKPOINT: usize = 128;

/// What one change writes: in a thread, the posts and whether reactions; in a group, the
/// entries of its maps (members, owners, invitations, requests, thread listings). `None`
/// when it writes anything else (a title, a group's settings, the genesis…).
type Touches = Option<TouchSet>;

#[derive(Debug, Clone)]
struct TouchSet {
    posts: Box<[Box<str>]>,
    reactions: bool,
    /// (map, key) of group map entries.
    entries: Box<[(Box<str>, Box<str>)]>,
}

/// A group's maps whose entries are read one by one (see [`Doc::touched_entries`]).
pub const GROUP_ENTRY_MAPS: [&str; 5] = ["owners", "members", "requests", "invitations", "threads"];

/// What a change's writes say it touches (see [`Doc::touched_posts`] and
/// [`Doc::touched_entries`]). The writes were validated against the document's kind, so a
/// thread change never writes a group's maps nor a group change posts.
fn touches_of(writes: &[Write]) -> Touches {
    let mut posts: Vec<Box<str>> = Vec::new();
    let mut entries: Vec<(Box<str>, Box<str>)> = Vec::new();
    let mut reactions = false;
    for w in writes {
        match w.path.first().map(String::as_str) {
            Some("reactions") => reactions = true,
            // A moderation write (a mark, a report) is read with the whole thread: it can
            // open or close reports, which the thread's view holds apart from its posts.
            Some("posts") if w.path.len() >= 2 => {
                if !posts.iter().any(|p| **p == *w.path[1]) {
                    posts.push(w.path[1].as_str().into());
                }
            }
            Some(m) if w.path.len() >= 2 && GROUP_ENTRY_MAPS.contains(&m) => {
                if !entries.iter().any(|(a, b)| **a == *m && **b == *w.path[1]) {
                    entries.push((m.into(), w.path[1].as_str().into()));
                }
            }
            _ => return None,
        }
    }
    Some(TouchSet {
        posts: posts.into_boxed_slice(),
        reactions,
        entries: entries.into_boxed_slice(),
    })
}

/// An object id inside a document: (counter, actor).
pub(crate) type ObjKey = (u64, KeyId);

/// A map object: where it sits and who made it.
#[derive(Debug, Clone)]
pub(crate) struct ObjInfo {
    pub(crate) parent: Option<ObjKey>,
    pub(crate) key: String,
    pub(crate) creator: EmployeeId,
}

/// One write of a change, as the write rules see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// Map keys from the root to the written key, inclusive.
    pub path: Vec<String>,
    /// Who made each object along the path: `owners[i]` is the creator of the object that
    /// holds the key `path[i]` (`owners[0]` is the document's creator: the root's owner).
    pub owners: Vec<EmployeeId>,
    pub action: WriteAction,
    /// Authors of the values this write overwrites or deletes.
    pub pred_authors: Vec<EmployeeId>,
}

/// What a write does.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteAction {
    /// Sets a scalar value.
    Put(ScalarValue),
    /// Makes a new map at the key.
    MakeMap,
    /// Deletes the key.
    Delete,
}

/// Why a change is structurally unacceptable in this document (before any write rule).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StructureError {
    #[error("seq {seq} does not follow the author's previous change in its past (seq {past})")]
    SeqGap { seq: u64, past: u64 },
    #[error("(actor, seq {0}) is already used by another change (equivocation)")]
    Equivocation(u64),
    #[error("start op {start} is not one past the largest op in its past ({past})")]
    StartOp { start: u64, past: u64 },
    #[error("references an actor or operation outside the change's causal past")]
    OutsidePast,
    #[error("targets something that is not a map object")]
    NotAMap,
    #[error("uses {0}, which Weft documents do not use")]
    Unsupported(&'static str),
    #[error("a root change that is not the document's genesis")]
    SecondGenesis,
    #[error("actor id is not a Weft key id")]
    BadActor,
    #[error("automerge refused it: {0}")]
    Apply(String),
}

/// A document and its validation indexes.
#[derive(Clone)]
pub struct Doc {
    id: DocId,
    am: Automerge,
    changes: HashMap<ChangeHash, ChangeInfo>,
    /// (actor, seq) → hash.
    seqs: HashMap<(KeyId, u64), ChangeHash>,
    /// max_op of each (actor, seq), for "is this op id in the past" checks.
    actor_ops: HashMap<KeyId, Vec<u64>>,
    /// Every map object ever made, by op id.
    objects: HashMap<ObjKey, ObjInfo>,
    /// Who each actor (key) is.
    actor_authors: HashMap<KeyId, EmployeeId>,
    /// The author of the genesis change (the document's creator).
    creator: Option<EmployeeId>,
    /// Signed bytes of all accepted changes, in the order they were applied (a topological
    /// order), for storage and for sending.
    order: Vec<ChangeHash>,
    /// The current heads, kept from our own index (so they are right even while changes are
    /// staged).
    heads: std::collections::BTreeSet<ChangeHash>,
    /// Accepted changes not yet given to Automerge. Automerge applies a batch far faster than
    /// the same changes one by one (its op set is columnar), so catch-up stages accepted
    /// changes and applies them together; anything that reads the Automerge state flushes
    /// first ([`Doc::flush`]).
    staged: Vec<automerge::Change>,
    /// For a thread: its group, fixed by the genesis change (kept here so that it is known
    /// even while the genesis is staged).
    group: Option<DocId>,
    /// When the replica last used it (its own counter), for eviction.
    pub(crate) used: u64,
    /// The last answer of [`Doc::touched_post_views`]: the node's read models and its
    /// search index ask the same question at each commit. Shared by clones, which is
    /// harmless: an answer is only reused for the same pair of heads.
    post_views: Arc<std::sync::Mutex<Option<PostViews>>>,
    /// Clocks rebuilt by [`Doc::clock_at`] lately, by change: a change's clock is a function
    /// of its hash (its past never changes), and the changes of a thread name the same few
    /// group heads over and over (a joining site judging a year of posts rebuilt the clock of
    /// an old group head, merging thousands of members, for every one). At most
    /// [`REBUILT_CLOCKS`], forgotten all at once when full; shared by clones, harmlessly.
    rebuilt: Arc<std::sync::Mutex<HashMap<ChangeHash, Arc<Clock>>>>,
}

/// How many rebuilt clocks a document remembers (see `Doc::rebuilt`).
const REBUILT_CLOCKS: usize = 512;
/// How many changes [`Doc::in_past_of`] walks before it rebuilds a clock instead.
const REACH_WALK: usize = 4096;

/// One answer of [`Doc::touched_post_views`], by the heads it was asked from and to.
#[derive(Debug)]
struct PostViews {
    since: Vec<ChangeHash>,
    now: Vec<ChangeHash>,
    views: TouchedViews,
}

/// Touched posts by id, each as it reads now (`None`: not a post).
pub type TouchedViews = Arc<[(String, Option<crate::views::PostView>)]>;

impl std::fmt::Debug for Doc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Doc({}, {} changes)", self.id, self.changes.len())
    }
}

/// The analysis of a change against a document, ready for the write rules and for applying.
#[derive(Debug)]
pub(crate) struct Analysis {
    pub(crate) writes: Vec<Write>,
    pub(crate) is_genesis: bool,
    past_max_op: u64,
    clock: Clock,
    new_objects: Vec<(ObjKey, ObjInfo)>,
}

impl Doc {
    /// An empty document with this id.
    pub fn new(id: DocId) -> Doc {
        Doc {
            id,
            am: Automerge::new(),
            changes: HashMap::new(),
            seqs: HashMap::new(),
            actor_ops: HashMap::new(),
            objects: HashMap::new(),
            actor_authors: HashMap::new(),
            creator: None,
            order: Vec::new(),
            heads: Default::default(),
            staged: Vec::new(),
            group: None,
            used: 0,
            post_views: Arc::default(),
            rebuilt: Arc::default(),
        }
    }

    pub fn id(&self) -> &DocId {
        &self.id
    }

    pub fn kind(&self) -> DocKind {
        self.id.kind()
    }

    /// The Automerge document (read only).
    pub fn automerge(&self) -> &Automerge {
        &self.am
    }

    /// The Automerge document, for making a local change on it (see [`crate::local`]).
    pub(crate) fn automerge_mut(&mut self) -> &mut Automerge {
        &mut self.am
    }

    /// Replaces the Automerge state of an empty document (a local genesis).
    pub(crate) fn set_automerge(&mut self, am: Automerge) {
        self.am = am;
    }

    /// The heads of the Automerge state (what views read).
    pub fn applied_heads(&self) -> Vec<ChangeHash> {
        self.am.get_heads()
    }

    /// For a thread: the posts that changes since `since` (heads of the Automerge state)
    /// added or touched, from what the validator found each change writes (work in
    /// proportion to the changes, not to the thread). Reactions are left out. `None` when
    /// something else changed (the title…) or `since` is unknown: read the whole thread then.
    /// Every change this document holds and `since` lacks counts, staged ones too: the answer
    /// may name a post whose change is not yet applied, never miss one that is.
    pub fn touched_posts(
        &self,
        since: &[ChangeHash],
    ) -> Option<std::collections::BTreeSet<String>> {
        self.touched_since(since).map(|(posts, _)| posts)
    }

    /// Whether changes since `since` wrote reactions; `None` as for [`Doc::touched_posts`].
    pub fn touched_reactions(&self, since: &[ChangeHash]) -> Option<bool> {
        self.touched_since(since).map(|(_, reactions)| reactions)
    }

    fn touched_since(
        &self,
        since: &[ChangeHash],
    ) -> Option<(std::collections::BTreeSet<String>, bool)> {
        let mut touched = std::collections::BTreeSet::new();
        let mut reactions = false;
        for t in self.touch_sets_since(since)? {
            reactions |= t.reactions;
            for p in &t.posts {
                touched.insert(p.to_string());
            }
        }
        Some((touched, reactions))
    }

    /// For a group: the (map, key) entries of its maps ([`GROUP_ENTRY_MAPS`]) that changes
    /// since `since` wrote, in proportion to those changes and not to the group (a group of
    /// thousands of members is not read whole at each join). `None` when something else
    /// changed (settings) or `since` is unknown: read the whole group then. Staged changes
    /// count, as for [`Doc::touched_posts`].
    pub fn touched_entries(
        &self,
        since: &[ChangeHash],
    ) -> Option<std::collections::BTreeSet<(String, String)>> {
        let mut touched = std::collections::BTreeSet::new();
        for t in self.touch_sets_since(since)? {
            if !t.posts.is_empty() || t.reactions {
                return None;
            }
            for (m, k) in &t.entries {
                touched.insert((m.to_string(), k.to_string()));
            }
        }
        Some(touched)
    }

    fn touch_sets_since(&self, since: &[ChangeHash]) -> Option<Vec<&TouchSet>> {
        if since.iter().any(|h| !self.changes.contains_key(h)) {
            return None;
        }
        // Nothing since: asked at every commit and every judged thread change, and a large
        // group's clock names thousands of actors.
        if since.iter().all(|h| self.heads.contains(h))
            && self.heads.iter().all(|h| since.contains(h))
        {
            return Some(Vec::new());
        }
        self.infos_missing_from_clock(&self.clock_of(since))
            .into_iter()
            .map(|info| info.touches.as_ref())
            .collect()
    }

    /// [`Doc::touched_posts`] with each post as it reads now (`None`: not a post, or no
    /// longer one), read once per pair of heads however many callers ask.
    pub fn touched_post_views(&self, since: &[ChangeHash]) -> Option<TouchedViews> {
        let now = self.am.get_heads();
        // Every operation under the lock is a comparison or a replacement: a panic while it
        // was held leaves a usable memo.
        let mut memo = self
            .post_views
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(m) = memo.as_ref()
            && m.since == since
            && m.now == now
        {
            return Some(m.views.clone());
        }
        let touched = self.touched_posts(since)?;
        let views: Arc<[_]> = crate::views::PostView::of_many(self, touched).into();
        *memo = Some(PostViews {
            since: since.to_vec(),
            now,
            views: views.clone(),
        });
        Some(views)
    }

    /// The current heads, sorted.
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.heads.iter().copied().collect()
    }

    /// For a thread, the group it belongs to.
    pub fn group(&self) -> Option<&DocId> {
        self.group.as_ref()
    }

    pub(crate) fn set_group(&mut self, group: DocId) {
        self.group = Some(group);
    }

    /// Whether accepted changes wait to be given to Automerge.
    pub(crate) fn is_staged(&self) -> bool {
        !self.staged.is_empty()
    }

    /// Gives staged changes to Automerge in one batch. Should Automerge refuse or panic (the
    /// validator rules out every case we know of), the document is rebuilt from the accepted
    /// changes one by one, skipping any that Automerge cannot take.
    pub(crate) fn flush(&mut self) {
        if self.staged.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.staged);
        let ok = matches!(
            catch_unwind(AssertUnwindSafe(|| self.am.apply_changes(batch))),
            Ok(Ok(()))
        );
        if !ok {
            self.rebuild();
        }
    }

    /// Whether the document holds this change.
    pub fn has(&self, hash: &ChangeHash) -> bool {
        self.changes.contains_key(hash)
    }

    /// How many changes the document holds.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Whether the document holds no change yet.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The creator (genesis author), once the genesis is held.
    pub fn creator(&self) -> Option<&str> {
        self.creator.as_deref()
    }

    /// All accepted changes in a topological order (dependencies first).
    pub fn changes(&self) -> impl Iterator<Item = &SignedChange> {
        self.order
            .iter()
            .filter_map(|h| self.changes.get(h).map(|c| &c.signed))
    }

    /// A held change.
    pub fn change(&self, hash: &ChangeHash) -> Option<&SignedChange> {
        self.changes.get(hash).map(|c| &c.signed)
    }

    /// Whether the held change `h` is in the past of `heads` (itself included): one
    /// lookup per head, where [`Doc::clock_of`] would merge whole clocks. `false` for a
    /// change not held.
    pub(crate) fn in_past_of(&self, h: &ChangeHash, heads: &[ChangeHash]) -> bool {
        let (Some((actor, seq)), Some(target)) = (self.seq_of(h), self.changes.get(h)) else {
            return false;
        };
        heads
            .iter()
            .any(|x| self.reaches(x, h, actor, seq, target.past_len))
    }

    /// Whether `h` (the `seq`-th change of `actor`, with a past of `floor` changes) is in the
    /// past of `x`. A kept or remembered clock of `x` answers at once; otherwise the past of
    /// `x` is walked back only as far as it can hold `h`: a change whose past is no larger
    /// than `h`'s cannot hold it, a later change of the same actor holds it, and a change
    /// with a kept clock answers for its whole past. `h` is usually a little older than `x`
    /// (a thread's changes name the group's heads of their time), so the walk is short; past
    /// [`REACH_WALK`] changes, the clock of `x` is rebuilt instead.
    fn reaches(&self, x: &ChangeHash, h: &ChangeHash, actor: KeyId, seq: u64, floor: u64) -> bool {
        let known = self
            .changes
            .get(x)
            .and_then(|i| i.clock.clone())
            .or_else(|| self.rebuilt.lock().ok().and_then(|m| m.get(x).cloned()));
        if let Some(c) = known {
            return c.get(&actor).is_some_and(|s| *s >= seq);
        }
        let mut stack = vec![*x];
        let mut seen: std::collections::HashSet<ChangeHash> = std::collections::HashSet::new();
        while let Some(y) = stack.pop() {
            if y == *h {
                return true;
            }
            if !seen.insert(y) {
                continue;
            }
            if seen.len() > REACH_WALK {
                return self
                    .clock_at(x)
                    .and_then(|c| c.get(&actor).copied())
                    .is_some_and(|s| s >= seq);
            }
            let Some(info) = self.changes.get(&y) else {
                continue;
            };
            if info.past_len <= floor {
                continue;
            }
            if info.actor == actor {
                if info.seq >= seq {
                    return true;
                }
                continue;
            }
            if let Some(c) = &info.clock {
                if c.get(&actor).is_some_and(|s| *s >= seq) {
                    return true;
                }
                continue;
            }
            stack.extend(info.signed.change().deps().iter().copied());
        }
        false
    }

    /// The merged clock of a set of held heads (unknown hashes are skipped).
    pub(crate) fn clock_of(&self, heads: &[ChangeHash]) -> Clock {
        let mut clock = Clock::new();
        for h in heads {
            if let Some(c) = self.clock_at(h) {
                merge(&mut clock, &c);
            }
        }
        clock
    }

    /// The clock of a held change's past (itself included): the kept one, or rebuilt by
    /// walking back to the nearest changes that kept theirs (each actor's largest seq met on
    /// the way). `None` for a change not held.
    pub(crate) fn clock_at(&self, h: &ChangeHash) -> Option<Arc<Clock>> {
        let info = self.changes.get(h)?;
        if let Some(c) = &info.clock {
            return Some(c.clone());
        }
        if let Some(c) = self.rebuilt.lock().ok().and_then(|m| m.get(h).cloned()) {
            return Some(c);
        }
        let mut clock = Clock::new();
        let mut stack = vec![*h];
        let mut seen: std::collections::HashSet<ChangeHash> = std::collections::HashSet::new();
        while let Some(x) = stack.pop() {
            if !seen.insert(x) {
                continue;
            }
            let Some(info) = self.changes.get(&x) else {
                continue;
            };
            if let Some(c) = &info.clock {
                merge(&mut clock, c);
                continue;
            }
            let e = clock.entry(info.actor).or_insert(0);
            *e = (*e).max(info.seq);
            stack.extend(info.signed.change().deps().iter().copied());
        }
        let clock = Arc::new(clock);
        if let Ok(mut m) = self.rebuilt.lock() {
            if m.len() >= REBUILT_CLOCKS {
                m.clear();
            }
            m.insert(*h, clock.clone());
        }
        Some(clock)
    }

    /// Changes this document holds that are not in the past of `heads` (the other side's
    /// heads; unknown ones are ignored), in topological order. Cost grows with the answer, not
    /// with the document's history: each actor's missing changes are a suffix of its seqs.
    pub fn changes_missing_from(&self, heads: &[ChangeHash]) -> Vec<&SignedChange> {
        self.changes_missing_from_clock(&self.clock_of(heads))
    }

    /// The document's clock: for each actor, how many of its changes are held. Because every
    /// change's past holds its actor's previous change and a node holds the whole past of what
    /// it holds, this is an exact summary of what a node holds of the document.
    pub fn clock(&self) -> Vec<(KeyId, u64)> {
        self.actor_ops
            .iter()
            .map(|(k, ops)| (*k, ops.len() as u64))
            .collect()
    }

    /// Changes held here beyond `theirs` (another node's [`Doc::clock`]), in topological
    /// order: exactly what that node lacks.
    pub fn changes_missing_from_clock(&self, theirs: &Clock) -> Vec<&SignedChange> {
        let mut missing = self.infos_missing_from_clock(theirs);
        // A change's past strictly contains its dependencies' pasts, so ordering by the size
        // of the past (then by hash, for determinism) is a topological order.
        missing.sort_by_key(|c| (c.past_len, c.signed.hash()));
        missing.into_iter().map(|c| &c.signed).collect()
    }

    /// What [`Doc::changes_missing_from_clock`] gives, in no particular order.
    fn infos_missing_from_clock(&self, theirs: &Clock) -> Vec<&ChangeInfo> {
        let mut missing: Vec<&ChangeInfo> = Vec::new();
        for (actor, ops) in &self.actor_ops {
            let have = theirs.get(actor).copied().unwrap_or(0);
            for seq in have + 1..=ops.len() as u64 {
                if let Some(info) = self
                    .seqs
                    .get(&(*actor, seq))
                    .and_then(|h| self.changes.get(h))
                {
                    missing.push(info);
                }
            }
        }
        missing
    }

    /// Whether every dependency of `c` is held.
    pub(crate) fn missing_deps(&self, c: &SignedChange) -> Vec<ChangeHash> {
        c.deps()
            .iter()
            .filter(|d| !self.changes.contains_key(d))
            .copied()
            .collect()
    }

    /// The author behind an actor, if any change of that actor has been accepted.
    pub(crate) fn author_of_actor(&self, actor: &KeyId) -> Option<&str> {
        self.actor_authors.get(actor).map(String::as_str)
    }

    fn in_past(&self, clock: &Clock, op: &OpId) -> bool {
        let Some(actor) = key_of_actor(op.actor()) else {
            return false;
        };
        let Some(&seq) = clock.get(&actor) else {
            return false;
        };
        self.actor_ops
            .get(&actor)
            .and_then(|ops| ops.get(seq as usize - 1))
            .is_some_and(|&max_op| op.counter() <= max_op)
    }

    /// Analyses `c` (all of whose dependencies are held) for structure and extracts its
    /// writes. `author` is the verified author.
    pub(crate) fn analyse(
        &self,
        c: &SignedChange,
        author: &str,
    ) -> Result<Analysis, StructureError> {
        let change = c.change();
        let actor = key_of_actor(change.actor_id()).ok_or(StructureError::BadActor)?;
        let is_genesis = change.deps().is_empty();
        if is_genesis && self.kind() != DocKind::Profile && !self.id.is_genesis(&change.hash()) {
            return Err(StructureError::SecondGenesis);
        }
        let mut clock = Clock::new();
        let mut past_max_op = 0;
        // Automerge names the author's previous change among the dependencies even when it
        // is in the past of another one (it usually is, and may be thousands of changes old,
        // its clock long forgotten): a dependency in the past of another adds nothing to the
        // clock, so its clock is not rebuilt.
        let deps = change.deps();
        let mut first = true;
        for d in deps {
            if let Some(info) = self.changes.get(d) {
                let implied = info.clock.is_none()
                    && deps
                        .iter()
                        .any(|e| e != d && self.in_past_of(d, std::slice::from_ref(e)));
                if !implied && let Some(c) = self.clock_at(d) {
                    if first {
                        // Copied whole: far cheaper than merging thousands of entries one by one.
                        clock = (*c).clone();
                        first = false;
                    } else {
                        merge(&mut clock, &c);
                    }
                }
                past_max_op = past_max_op.max(info.past_max_op);
            }
        }
        let past_seq = clock.get(&actor).copied().unwrap_or(0);
        if change.seq() != past_seq + 1 {
            return Err(StructureError::SeqGap {
                seq: change.seq(),
                past: past_seq,
            });
        }
        if self.seqs.contains_key(&(actor, change.seq())) {
            return Err(StructureError::Equivocation(change.seq()));
        }
        let start = change.start_op().get();
        if start != past_max_op + 1 {
            return Err(StructureError::StartOp {
                start,
                past: past_max_op,
            });
        }
        for other in change.other_actor_ids() {
            let known = key_of_actor(other).is_some_and(|k| clock.contains_key(&k));
            if !known {
                return Err(StructureError::OutsidePast);
            }
        }
        let expanded = catch_unwind(AssertUnwindSafe(|| change.decode()))
            .map_err(|_| StructureError::Apply("decoder panicked".into()))?;
        let creator = if is_genesis && self.creator.is_none() {
            author.to_owned()
        } else {
            self.creator.clone().unwrap_or_else(|| author.to_owned())
        };
        let mut new_objects: Vec<(ObjKey, ObjInfo)> = Vec::new();
        let mut writes = Vec::with_capacity(expanded.operations.len());
        for (i, op) in expanded.operations.iter().enumerate() {
            let op_ctr = start + i as u64;
            if op.insert {
                return Err(StructureError::Unsupported("list insertion"));
            }
            let key = match &op.key {
                Key::Map(k) => k.to_string(),
                Key::Seq(_) => return Err(StructureError::Unsupported("sequence keys")),
            };
            // Resolve the target object to a path of keys and owners.
            let obj = match &op.obj {
                ObjectId::Root => None,
                ObjectId::Id(id) => {
                    let k = key_of_actor(id.actor()).ok_or(StructureError::BadActor)?;
                    let made_here = k == actor && id.counter() >= start && id.counter() < op_ctr;
                    if !made_here && !self.in_past(&clock, id) {
                        return Err(StructureError::OutsidePast);
                    }
                    Some((id.counter(), k))
                }
            };
            let (mut path, mut owners) = self.path_of(obj, &new_objects)?;
            path.push(key.clone());
            owners.push(match obj {
                None => creator.clone(),
                Some(o) => self
                    .obj_info(&o, &new_objects)
                    .map(|i| i.creator.clone())
                    .unwrap_or_default(),
            });
            let mut pred_authors = Vec::with_capacity(op.pred.len());
            for p in op.pred.iter() {
                let k = key_of_actor(p.actor()).ok_or(StructureError::BadActor)?;
                let made_here = k == actor && p.counter() >= start && p.counter() < op_ctr;
                if made_here {
                    pred_authors.push(author.to_owned());
                } else if self.in_past(&clock, p) {
                    pred_authors.push(self.author_of_actor(&k).unwrap_or_default().to_owned());
                } else {
                    return Err(StructureError::OutsidePast);
                }
            }
            let action = match &op.action {
                OpType::Make(ObjType::Map) => {
                    new_objects.push((
                        (op_ctr, actor),
                        ObjInfo {
                            parent: obj,
                            key: key.clone(),
                            creator: author.to_owned(),
                        },
                    ));
                    WriteAction::MakeMap
                }
                OpType::Make(ObjType::List) => return Err(StructureError::Unsupported("lists")),
                OpType::Make(ObjType::Text) => return Err(StructureError::Unsupported("text")),
                OpType::Make(ObjType::Table) => return Err(StructureError::Unsupported("tables")),
                OpType::Put(ScalarValue::Counter(_)) => {
                    return Err(StructureError::Unsupported("counters"));
                }
                OpType::Put(v) => WriteAction::Put(v.clone()),
                OpType::Delete => WriteAction::Delete,
                OpType::Increment(_) => return Err(StructureError::Unsupported("counters")),
                OpType::MarkBegin(_) | OpType::MarkEnd(_) => {
                    return Err(StructureError::Unsupported("marks"));
                }
            };
            writes.push(Write {
                path,
                owners,
                action,
                pred_authors,
            });
        }
        clock.insert(actor, change.seq());
        Ok(Analysis {
            writes,
            is_genesis,
            past_max_op: past_max_op.max(change.max_op()),
            clock,
            new_objects,
        })
    }

    fn obj_info<'a>(&'a self, o: &ObjKey, local: &'a [(ObjKey, ObjInfo)]) -> Option<&'a ObjInfo> {
        self.objects
            .get(o)
            .or_else(|| local.iter().find(|(k, _)| k == o).map(|(_, i)| i))
    }

    /// The path (keys) and owners leading to object `obj` (None = root).
    fn path_of(
        &self,
        obj: Option<ObjKey>,
        local: &[(ObjKey, ObjInfo)],
    ) -> Result<(Vec<String>, Vec<EmployeeId>), StructureError> {
        let mut keys = Vec::new();
        let mut owners = Vec::new();
        let mut cur = obj;
        let mut depth = 0;
        while let Some(o) = cur {
            let info = self.obj_info(&o, local).ok_or(StructureError::NotAMap)?;
            keys.push(info.key.clone());
            let parent_owner = match info.parent {
                None => self.creator.clone().unwrap_or_else(|| info.creator.clone()),
                Some(p) => self
                    .obj_info(&p, local)
                    .map(|i| i.creator.clone())
                    .ok_or(StructureError::NotAMap)?,
            };
            owners.push(parent_owner);
            cur = info.parent;
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(StructureError::Unsupported("nesting this deep"));
            }
        }
        keys.reverse();
        owners.reverse();
        Ok((keys, owners))
    }

    /// Applies an analysed change. Automerge runs under `catch_unwind`; should it panic anyway,
    /// the document is rebuilt from its accepted changes and the change is refused.
    pub(crate) fn apply(
        &mut self,
        c: SignedChange,
        author: &str,
        a: Analysis,
        preapplied: bool,
    ) -> Result<(), StructureError> {
        if !preapplied {
            self.staged.push(c.change().clone());
        }
        for d in c.deps() {
            self.heads.remove(d);
        }
        self.heads.insert(c.hash());
        let hash = c.hash();
        let actor = key_of_actor(c.change().actor_id()).ok_or(StructureError::BadActor)?;
        if a.is_genesis && self.creator.is_none() {
            self.creator = Some(author.to_owned());
        }
        self.actor_authors.insert(actor, author.to_owned());
        let ops = self.actor_ops.entry(actor).or_default();
        ops.push(c.change().max_op());
        self.seqs.insert((actor, c.change().seq()), hash);
        for (k, info) in a.new_objects {
            self.objects.insert(k, info);
        }
        self.order.push(hash);
        let touches = touches_of(&a.writes);
        let past_len = a.clock.values().sum();
        self.changes.insert(
            hash,
            ChangeInfo {
                actor,
                seq: c.change().seq(),
                max_op: c.change().max_op(),
                past_max_op: a.past_max_op,
                clock: Some(Arc::new(a.clock)),
                past_len,
                signed: c,
                touches,
            },
        );
        self.forget_old_clock();
        Ok(())
    }

    /// Drops the clock of the change that just left the window of recent ones, unless it is
    /// a head or a checkpoint (see [`CLOCK_WINDOW`]).
    fn forget_old_clock(&mut self) {
        let Some(at) = self.order.len().checked_sub(CLOCK_WINDOW + 1) else {
            return;
        };
        if at % CLOCK_CHECKPOINT == 0 {
            return;
        }
        let h = self.order[at];
        if self.heads.contains(&h) {
            return;
        }
        if let Some(info) = self.changes.get_mut(&h) {
            info.clock = None;
        }
    }

    /// Rebuilds the Automerge document from the accepted changes, after a panic left it in an
    /// unknown state.
    pub(crate) fn rebuild(&mut self) {
        let mut am = Automerge::new();
        let changes: Vec<_> = self
            .order
            .iter()
            .filter_map(|h| self.changes.get(h).map(|c| c.signed.change().clone()))
            .collect();
        let all_at_once = changes.clone();
        if !matches!(
            catch_unwind(AssertUnwindSafe(|| am.apply_changes(all_at_once))),
            Ok(Ok(()))
        ) {
            am = Automerge::new();
            for c in changes {
                let _ = catch_unwind(AssertUnwindSafe(|| am.apply_changes([c])));
            }
        }
        self.am = am;
        self.staged.clear();
    }

    /// Reads a scalar string at a root key, now.
    pub fn root_str(&self, key: &str) -> Option<String> {
        get_str(&self.am, &automerge::ROOT, key, None)
    }

    /// The entry `key` of the map at root key `map` as it is now: `None` if absent, else its
    /// text (empty if it is not text).
    pub fn map_entry(&self, map: &str, key: &str) -> Option<String> {
        let Ok(Some((automerge::Value::Object(ObjType::Map), id))) =
            self.am.get(automerge::ROOT, map)
        else {
            return None;
        };
        match self.am.get(&id, key) {
            Ok(Some((automerge::Value::Scalar(s), _))) => Some(match s.as_ref() {
                ScalarValue::Str(t) => t.to_string(),
                _ => String::new(),
            }),
            Ok(Some(_)) => Some(String::new()),
            _ => None,
        }
    }

    /// Whether the map at root key `map` has `key`, at `heads` (None = now). Unknown heads are
    /// the caller's problem: check [`Doc::has`] first.
    pub fn map_has(&self, map: &str, key: &str, heads: Option<&[ChangeHash]>) -> bool {
        let obj = match heads {
            Some(h) => self.am.get_at(automerge::ROOT, map, h),
            None => self.am.get(automerge::ROOT, map),
        };
        let Ok(Some((automerge::Value::Object(ObjType::Map), id))) = obj else {
            return false;
        };
        match heads {
            Some(h) => matches!(self.am.get_at(&id, key, h), Ok(Some(_))),
            None => matches!(self.am.get(&id, key), Ok(Some(_))),
        }
    }

    /// The keys of the map at root key `map`, at `heads`, or `None` if some head is not
    /// applied to the Automerge state yet (staged changes are flushed first by the caller).
    pub fn map_keys_at(&self, map: &str, heads: &[ChangeHash]) -> Option<Vec<String>> {
        if heads
            .iter()
            .any(|h| self.am.get_change_by_hash(h).is_none())
        {
            return None;
        }
        match self.am.get_at(automerge::ROOT, map, heads) {
            Ok(Some((automerge::Value::Object(ObjType::Map), id))) => {
                Some(self.am.keys_at(&id, heads).collect())
            }
            _ => Some(Vec::new()),
        }
    }

    /// The poll of post `post` at `heads` (its options, whether several may be chosen, when
    /// it closes), or `None` if the post has none there — or if some head is not applied to
    /// the Automerge state yet (the caller flushes staged changes first). A poll is written
    /// once, with its post, so any heads that hold it give the same answer.
    pub(crate) fn poll_at(
        &self,
        post: &str,
        heads: &[ChangeHash],
    ) -> Option<crate::local::PollDef> {
        if heads
            .iter()
            .any(|h| self.am.get_change_by_hash(h).is_none())
        {
            return None;
        }
        let map = |obj: &automerge::ObjId, key: &str| match self.am.get_at(obj, key, heads) {
            Ok(Some((automerge::Value::Object(ObjType::Map), id))) => Some(id),
            _ => None,
        };
        let posts = map(&automerge::ROOT, "posts")?;
        let p = map(&posts, post)?;
        let poll = map(&p, "poll")?;
        let scalar = |key: &str| match self.am.get_at(&poll, key, heads) {
            Ok(Some((automerge::Value::Scalar(v), _))) => Some(v.into_owned()),
            _ => None,
        };
        let multiple = matches!(scalar("multiple"), Some(ScalarValue::Boolean(true)));
        let closes_at = match scalar("closes_at") {
            Some(ScalarValue::Timestamp(t) | ScalarValue::Int(t)) => Some(t),
            _ => None,
        };
        let options = map(&poll, "options")
            .map(|o| self.am.keys_at(&o, heads).collect())
            .unwrap_or_default();
        Some(crate::local::PollDef {
            options,
            multiple,
            closes_at,
        })
    }

    /// Whether post `post` has an event at `heads` (false too if some head is not applied
    /// to the Automerge state yet: the caller flushes staged changes first).
    pub(crate) fn has_event_at(&self, post: &str, heads: &[ChangeHash]) -> bool {
        if heads
            .iter()
            .any(|h| self.am.get_change_by_hash(h).is_none())
        {
            return false;
        }
        let map = |obj: &automerge::ObjId, key: &str| match self.am.get_at(obj, key, heads) {
            Ok(Some((automerge::Value::Object(ObjType::Map), id))) => Some(id),
            _ => None,
        };
        map(&automerge::ROOT, "posts")
            .and_then(|posts| map(&posts, post))
            .and_then(|p| map(&p, "event"))
            .is_some()
    }

    /// A root boolean at `heads`.
    pub fn root_bool_at(&self, key: &str, heads: &[ChangeHash]) -> Option<bool> {
        match self.am.get_at(&automerge::ROOT, key, heads) {
            Ok(Some((automerge::Value::Scalar(s), _))) => match s.as_ref() {
                ScalarValue::Boolean(b) => Some(*b),
                _ => None,
            },
            _ => None,
        }
    }

    /// A root scalar string at `heads`.
    pub fn root_str_at(&self, key: &str, heads: &[ChangeHash]) -> Option<String> {
        get_str(&self.am, &automerge::ROOT, key, Some(heads))
    }

    /// The changes' signed bytes in topological order: what storage persists.
    pub fn signed_changes(&self) -> Vec<Arc<[u8]>> {
        self.changes().map(|c| c.bytes().clone()).collect()
    }

    /// Informational: (actor, seq) of a held change.
    pub fn seq_of(&self, hash: &ChangeHash) -> Option<(KeyId, u64)> {
        self.changes.get(hash).map(|c| (c.actor, c.seq))
    }

    /// Informational: the largest op counter of a held change.
    pub fn max_op_of(&self, hash: &ChangeHash) -> Option<u64> {
        self.changes.get(hash).map(|c| c.max_op)
    }
}

/// How deep objects may nest (root → posts → post → mentions is 3).
pub const MAX_DEPTH: usize = 8;

fn merge(into: &mut Clock, from: &Clock) {
    for (k, &v) in from {
        let e = into.entry(*k).or_insert(0);
        if *e < v {
            *e = v;
        }
    }
}

/// A scalar string at `obj[key]`, now or at `heads`.
pub(crate) fn get_str(
    am: &Automerge,
    obj: &automerge::ObjId,
    key: &str,
    heads: Option<&[ChangeHash]>,
) -> Option<String> {
    let v = match heads {
        Some(h) => am.get_at(obj, key, h),
        None => am.get(obj, key),
    };
    match v {
        Ok(Some((automerge::Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testkit::{Rng, World};
    use crate::{NewGroup, Visibility};

    /// Every actor's largest seq among `h` and its ancestors: a change's clock by definition.
    fn full_clock(doc: &Doc, h: &ChangeHash) -> Clock {
        let mut clock = Clock::new();
        let mut stack = vec![*h];
        let mut seen = std::collections::HashSet::new();
        while let Some(x) = stack.pop() {
            if !seen.insert(x) {
                continue;
            }
            let info = &doc.changes[&x];
            let e = clock.entry(info.actor).or_insert(0);
            *e = (*e).max(info.seq);
            stack.extend(info.signed.change().deps().iter().copied());
        }
        clock
    }

    /// A group joined and listed by many people on three replicas that exchange changes in
    /// shuffled orders: far more changes than the window, most clocks forgotten, and every
    /// clock asked for is the clock by definition; the missing changes still come in an
    /// order where each follows its dependencies.
    #[test]
    fn clocks_rebuilt_outside_the_window_are_the_clocks_by_definition() {
        let w = World::new(3, 12);
        let mut rs: Vec<_> = (0..3).map(|_| w.replica()).collect();
        let g = rs[0]
            .create_group(
                &w.authors[0],
                &NewGroup {
                    name: "Many",
                    description: "",
                    visibility: Visibility::Public,
                    home_site: "site0",
                },
                1,
                1,
            )
            .unwrap();
        let gid = g.doc().clone();
        let mut all = vec![g];
        for r in rs.iter_mut().skip(1) {
            r.ingest(all.iter().cloned());
        }
        let mut rng = Rng::new(5);
        for step in 0..600u64 {
            let a = rng.below(w.authors.len());
            let r = &mut rs[a % 3];
            let me = &w.authors[a];
            let made = if rng.chance(0.5) {
                r.add_member(me, &gid, &me.employee, 10 + step as i64).ok()
            } else {
                r.remove_member(me, &gid, &me.employee, 10 + step as i64)
                    .ok()
            };
            all.extend(made);
            if rng.chance(0.2) {
                let j = rng.below(3);
                let mut batch = all.clone();
                rng.shuffle(&mut batch);
                rs[j].ingest(batch);
            }
        }
        let mut batch = all.clone();
        rng.shuffle(&mut batch);
        rs[0].ingest(batch);
        let doc = rs[0].doc(&gid).unwrap();
        assert_eq!(doc.changes.len(), all.len());
        let kept = doc.changes.values().filter(|i| i.clock.is_some()).count();
        assert!(kept < all.len() / 4, "{kept} of {} clocks kept", all.len());
        // Whether one change is in the past of another, by walking, against the clocks.
        let hashes: Vec<ChangeHash> = doc.order.clone();
        for _ in 0..3_000 {
            let h = hashes[rng.below(hashes.len())];
            let x = hashes[rng.below(hashes.len())];
            let (actor, seq) = doc.seq_of(&h).unwrap();
            let want = full_clock(doc, &x).get(&actor).is_some_and(|s| *s >= seq);
            assert_eq!(doc.in_past_of(&h, &[x]), want, "{h:?} in the past of {x:?}");
        }
        for h in doc.changes.keys() {
            assert_eq!(*doc.clock_at(h).unwrap(), full_clock(doc, h));
            assert_eq!(
                doc.changes[h].past_len,
                full_clock(doc, h).values().sum::<u64>()
            );
        }
        // What a node that holds only the first hundred changes lacks, dependencies first.
        let first: Vec<ChangeHash> = doc.order[..100].to_vec();
        let theirs = doc.clock_of(&first);
        let missing = doc.changes_missing_from_clock(&theirs);
        assert_eq!(missing.len(), all.len() - full_clock_len(doc, &first));
        let mut have: std::collections::HashSet<ChangeHash> = doc.order[..100]
            .iter()
            .copied()
            .filter(|h| doc.in_past_of(h, &first))
            .collect();
        for c in missing {
            assert!(
                c.deps().iter().all(|d| have.contains(d)),
                "dependencies first"
            );
            have.insert(c.hash());
        }
    }

    fn full_clock_len(doc: &Doc, heads: &[ChangeHash]) -> usize {
        let mut clock = Clock::new();
        for h in heads {
            merge(&mut clock, &full_clock(doc, h));
        }
        clock.values().sum::<u64>() as usize
    }
}

//! # Range-based set reconciliation
//!
//! Two nodes each hold a set of documents, and each document is summarised as an item: its id
//! (the key) and an item fingerprint that changes whenever the document's heads change. Before
//! the nodes exchange any document changes they must learn which keys differ: present on one
//! side only, or present on both with different item fingerprints. Sending the whole list would
//! cost traffic proportional to the number of documents, which on a large site is almost all
//! wasted, because two nodes that talk regularly differ in only a handful of documents.
//!
//! This module implements range-based set reconciliation (Aljoscha Meyer, "Range-Based Set
//! Reconciliation", and the Negentropy protocol built on it). The key space is cut into
//! contiguous ranges; for each range a side sends a fingerprint (the XOR of its item
//! fingerprints) and an item count. Ranges whose fingerprints agree are done. Ranges that
//! disagree are split into [`BRANCHING`] sub-ranges, or, once they are small enough
//! ([`LIST_THRESHOLD`] items), their items are listed outright. The traffic therefore grows
//! with the number of differences times the logarithm of the set size, not with the set size.
//!
//! The module is sans-IO and stateless: [`initiate`] produces the first message, and [`respond`]
//! turns a received message into a reply plus the differences it revealed. A session ends when
//! a side has nothing left to say (an empty reply). Both sides learn every differing key: a
//! range that ends in item lists is always listed by both sides (the second list is sent with
//! `reply: false` so it is not bounced back), and each side compares the other's list with its
//! own. Messages from the peer are untrusted, so [`validate`] bounds their size before any work
//! is done, and every reply this module produces passes [`validate`] itself.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Domain separation for item fingerprints, so an item fingerprint can never be confused with
/// a hash computed for some other purpose over the same bytes.
const ITEM_DOMAIN: &[u8] = b"weft-item/v1";

/// The number of sub-ranges a mismatching range is split into.
///
/// A larger branching factor needs fewer rounds (the depth is log base `BRANCHING` of the set
/// size) but sends more fingerprints for every mismatching range, most of which then turn out
/// to match. Sixteen is the value Negentropy settled on: with the thousands to hundreds of
/// thousands of documents a Weft node holds, a session needs three to five rounds.
pub const BRANCHING: usize = 16;

/// At or below this many items a mismatching range is answered with its item list instead of
/// being split further.
///
/// Splitting a range costs a round and [`BRANCHING`] fingerprints (each about a key plus 25
/// bytes); listing it costs its items (each a key plus 16 bytes). Around 32 items the two cost
/// about the same, so listing wins because it ends the recursion a round earlier.
pub const LIST_THRESHOLD: u64 = 32;

/// The most ranges a message may hold.
///
/// This is enough for 256 mismatching ranges each split [`BRANCHING`] ways in one reply, and
/// it bounds the work and memory a hostile peer can demand with one message. [`respond`] never
/// produces a bigger reply: when its answer would not fit, it folds the rest of the key space
/// into a single fingerprint range that the next round refines.
pub const MAX_RANGES: usize = 4096;

/// The most items (summed over all its ranges) a message may list.
///
/// With keys of at most [`MAX_KEY_LEN`] bytes this caps a message at about 9 MiB. A side whose
/// list for a range would exceed what is left of this budget splits the range into fingerprint
/// sub-ranges instead, so it never produces a message its peer would refuse.
pub const MAX_ITEMS: usize = 65_536;

/// The longest key (document id) in bytes that a message may carry.
///
/// Keys appear in messages both as items and as range bounds, so a bound on their length is
/// what makes [`MAX_RANGES`] and [`MAX_ITEMS`] a bound on the message size.
pub const MAX_KEY_LEN: usize = crate::ids::MAX_DOC_ID;

/// A 16-byte fingerprint: of one item, or of a range of items.
///
/// The fingerprint of a range is the XOR of its item fingerprints. XOR is order-independent
/// and can be updated incrementally (inserting or removing an item is one XOR), which is what
/// lets two sides that hold the same items in different orders or built them differently agree.
/// Its known weakness, that a peer able to choose item fingerprints could make different sets
/// collide, does not matter here: item fingerprints are hash outputs that bind the key, and a
/// peer can only lie about its own set anyway. The item count is compared alongside it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct Fingerprint(pub [u8; 16]);

impl Fingerprint {
    /// Computes an item fingerprint: the first 16 bytes of
    /// SHA-256(`"weft-item/v1"` ‖ u32-BE length of `key` ‖ `key` ‖ `digest_input`).
    ///
    /// The key is length-prefixed so that no (key, input) pair can be re-split into another
    /// pair with the same bytes, and it is included at all so that two documents with equal
    /// heads still have distinct fingerprints (equal fingerprints would cancel out under XOR).
    #[must_use]
    pub fn of_item(key: &str, digest_input: &[u8]) -> Fingerprint {
        let len = u32::try_from(key.len()).unwrap_or(u32::MAX);
        let mut hasher = Sha256::new();
        hasher.update(ITEM_DOMAIN);
        hasher.update(len.to_be_bytes());
        hasher.update(key.as_bytes());
        hasher.update(digest_input);
        let digest = hasher.finalize();
        let mut out = [0u8; 16];
        for (o, d) in out.iter_mut().zip(digest.iter()) {
            *o = *d;
        }
        Fingerprint(out)
    }

    /// Combines two fingerprints by XOR, the range-fingerprint operation.
    #[must_use]
    pub fn xor(self, other: Fingerprint) -> Fingerprint {
        let mut out = self.0;
        for (o, b) in out.iter_mut().zip(other.0) {
            *o ^= b;
        }
        Fingerprint(out)
    }
}

/// The items one side holds, ordered by key so that ranges of keys can be summarised.
#[derive(Clone, Debug, Default)]
pub struct ItemSet {
    items: BTreeMap<String, Fingerprint>,
}

impl ItemSet {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts an item, replacing the fingerprint of an item with the same key.
    ///
    /// A key longer than [`MAX_KEY_LEN`] is not stored: it could not be sent (the peer would
    /// refuse the whole message), and refusing one item is better than breaking every session.
    /// Use [`ItemSet::try_insert`] to learn that this happened.
    pub fn insert(&mut self, key: String, fp: Fingerprint) {
        // The error only says the key was too long, which the documentation above covers.
        let _ = self.try_insert(key, fp);
    }

    /// Inserts an item like [`ItemSet::insert`], but reports a key longer than [`MAX_KEY_LEN`]
    /// instead of silently leaving it out.
    pub fn try_insert(&mut self, key: String, fp: Fingerprint) -> Result<(), RangeError> {
        check_key(&key)?;
        self.items.insert(key, fp);
        Ok(())
    }

    /// Removes the item with this key, if there is one.
    pub fn remove(&mut self, key: &str) {
        self.items.remove(key);
    }

    /// The fingerprint of the item with this key.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<Fingerprint> {
        self.items.get(key).copied()
    }

    /// The number of items.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the set holds no items.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// All items in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Fingerprint)> {
        self.items.iter().map(|(k, f)| (k.as_str(), *f))
    }

    /// The XOR of the item fingerprints and the count of the items with
    /// `lower <= key < upper` (`upper` `None` means unbounded).
    ///
    /// An empty or inverted range summarises to the zero fingerprint and a count of zero rather
    /// than panicking, because the bounds may come from a peer.
    #[must_use]
    pub fn summarize(&self, lower: &str, upper: Option<&str>) -> (Fingerprint, u64) {
        Items::summarize(self, lower, upper)
    }
}

impl Items for ItemSet {
    fn range<'a>(
        &'a self,
        lower: &'a str,
        upper: Option<&'a str>,
    ) -> Box<dyn Iterator<Item = (&'a str, Fingerprint)> + 'a> {
        Box::new(
            key_range(&self.items, lower, upper)
                .into_iter()
                .flatten()
                .map(|(k, f)| (k.as_str(), *f)),
        )
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// The entries of `map` with `lower <= key < upper`; `None` if the range is empty or inverted
/// (which `BTreeMap::range` would panic on, and the bounds may come from a peer).
pub fn key_range<'a, V>(
    map: &'a BTreeMap<String, V>,
    lower: &'a str,
    upper: Option<&'a str>,
) -> Option<std::collections::btree_map::Range<'a, String, V>> {
    let non_empty = upper.is_none_or(|u| lower < u);
    let bounds: (Bound<&str>, Bound<&str>) = (
        Bound::Included(lower),
        upper.map_or(Bound::Unbounded, Bound::Excluded),
    );
    non_empty.then(|| map.range::<str, _>(bounds))
}

/// The XOR of the fingerprints and the count of `items`.
pub fn summary_of<'a>(items: impl Iterator<Item = (&'a str, Fingerprint)>) -> (Fingerprint, u64) {
    items.fold((Fingerprint::default(), 0), |(fp, n), (_, item)| {
        (fp.xor(item), n + 1)
    })
}

/// What reconciliation reads of one side's items: the items of a key range, in key order.
///
/// [`ItemSet`] is the plain implementation. A caller may serve the same items from a view
/// instead — the sync engine keeps one set of item fingerprints for all its peers and shows
/// each peer only the documents it may hold — as long as every key is at most
/// [`MAX_KEY_LEN`] bytes and keys come out strictly increasing.
pub trait Items {
    /// The items with `lower <= key < upper` (`upper` `None` means unbounded), in key order;
    /// nothing if the range is empty or inverted.
    fn range<'a>(
        &'a self,
        lower: &'a str,
        upper: Option<&'a str>,
    ) -> Box<dyn Iterator<Item = (&'a str, Fingerprint)> + 'a>;

    /// The number of items.
    fn len(&self) -> usize {
        self.range("", None).count()
    }

    /// Whether there are no items.
    fn is_empty(&self) -> bool {
        self.range("", None).next().is_none()
    }

    /// The XOR of the item fingerprints and the count of the items with
    /// `lower <= key < upper`.
    fn summarize(&self, lower: &str, upper: Option<&str>) -> (Fingerprint, u64) {
        summary_of(self.range(lower, upper))
    }

    /// The items with `lower <= key < upper`, collected because several answers need to walk
    /// them more than once.
    fn collect_range<'a>(
        &'a self,
        lower: &'a str,
        upper: Option<&'a str>,
    ) -> Vec<(&'a str, Fingerprint)> {
        self.range(lower, upper).collect()
    }
}

/// One range of a reconciliation message.
///
/// Ranges in a message are contiguous and ordered: each range covers keys from the previous
/// range's upper bound (or `""` for the first) up to but excluding its own `upper` (`None` = to
/// the end of the key space). Only the upper bound is sent because the lower bound is implied,
/// which halves the bound bytes and makes gaps and overlaps unrepresentable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// The exclusive upper bound, or `None` for the end of the key space.
    pub upper: Option<String>,
    /// What the sender says about the range.
    pub mode: Mode,
}

/// What a sender says about one range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Nothing to do for this range (already reconciled).
    Skip,
    /// The sender's fingerprint and item count over the range.
    Fingerprint {
        /// The XOR of the sender's item fingerprints in the range.
        fp: Fingerprint,
        /// The number of the sender's items in the range.
        count: u64,
    },
    /// The sender's complete list of items in the range, in strictly increasing key order.
    ///
    /// `reply` says whether the receiver must answer with its own list (true when sent in
    /// answer to a Fingerprint, false when it is itself the answer to a list, so lists are not
    /// bounced forever).
    Items {
        /// The sender's items in the range, sorted by key.
        items: Vec<(String, Fingerprint)>,
        /// Whether the receiver must answer with its own list.
        reply: bool,
    },
}

/// Why a peer's message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeError {
    /// The message has more ranges than [`MAX_RANGES`].
    #[error("the message has {count} ranges, more than the limit of {max}")]
    TooManyRanges {
        /// The number of ranges in the message.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The message lists more items than [`MAX_ITEMS`].
    #[error("the message lists {count} items, more than the limit of {max}")]
    TooManyItems {
        /// The number of items in the message.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A key (an item's or a range bound) is longer than [`MAX_KEY_LEN`].
    #[error("a key of {len} bytes is longer than the limit of {max}")]
    KeyTooLong {
        /// The key's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A range's upper bound does not strictly follow the previous one (or the empty key for
    /// the first range), or a range follows one that already reached the end of the key space.
    #[error("range {index}: its upper bound does not strictly follow the previous range's")]
    OutOfOrder {
        /// The position of the offending range in the message.
        index: usize,
    },
    /// A range lists items that are not in strictly increasing key order or lie outside the
    /// range.
    #[error("range {index}: its items are not strictly increasing or lie outside the range")]
    ItemsOutOfOrder {
        /// The position of the offending range in the message.
        index: usize,
    },
}

/// What processing a message yields.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Step {
    /// The reply to send (empty = nothing to send; reconciliation finished from this side).
    pub reply: Vec<Range>,
    /// Keys found to differ: present on the peer but not here, here but not on the peer, or on
    /// both with different fingerprints. Sorted, deduplicated.
    pub differing: Vec<String>,
}

/// The first message: the whole key space as one Fingerprint range, or as an Items range if
/// the set has at most [`LIST_THRESHOLD`] items (a small set is cheaper to list than to
/// fingerprint and refine).
#[must_use]
pub fn initiate(set: &(impl Items + ?Sized)) -> Vec<Range> {
    let (fp, count) = set.summarize("", None);
    let mode = if count <= LIST_THRESHOLD {
        Mode::Items {
            items: set
                .range("", None)
                .map(|(k, f)| (k.to_owned(), f))
                .collect(),
            reply: true,
        }
    } else {
        Mode::Fingerprint { fp, count }
    };
    vec![Range { upper: None, mode }]
}

/// Checks a message against the limits for untrusted input: at most [`MAX_RANGES`] ranges, at
/// most [`MAX_ITEMS`] items in total, keys of at most [`MAX_KEY_LEN`] bytes, upper bounds
/// strictly increasing (each above the previous one, the first above `""`, `None` only last),
/// and listed items strictly increasing and inside their range.
///
/// [`respond`] calls it first, so that the rest of the processing can rely on well-formed
/// ranges (in particular, never ask the item map for an inverted range).
pub fn validate(msg: &[Range]) -> Result<(), RangeError> {
    if msg.len() > MAX_RANGES {
        return Err(RangeError::TooManyRanges {
            count: msg.len(),
            max: MAX_RANGES,
        });
    }
    let total = msg
        .iter()
        .fold(0usize, |acc, r| acc.saturating_add(item_count(r)));
    if total > MAX_ITEMS {
        return Err(RangeError::TooManyItems {
            count: total,
            max: MAX_ITEMS,
        });
    }
    let mut lower: Option<&str> = Some("");
    for (index, range) in msg.iter().enumerate() {
        // `lower` is None once a previous range reached the end of the key space.
        let Some(low) = lower else {
            return Err(RangeError::OutOfOrder { index });
        };
        let upper = range.upper.as_deref();
        if let Some(up) = upper {
            check_key(up)?;
            if up <= low {
                return Err(RangeError::OutOfOrder { index });
            }
        }
        if let Mode::Items { items, .. } = &range.mode {
            let mut previous: Option<&str> = None;
            for (key, _) in items {
                check_key(key)?;
                let after_previous = previous.is_none_or(|p| p < key.as_str());
                let inside = key.as_str() >= low && upper.is_none_or(|up| key.as_str() < up);
                if !after_previous || !inside {
                    return Err(RangeError::ItemsOutOfOrder { index });
                }
                previous = Some(key);
            }
        }
        lower = upper;
    }
    Ok(())
}

/// Processes a peer's message against our set and returns our reply and the differences found.
///
/// For each incoming range (bounds `[lower, upper)`):
///  - Skip: reply Skip (adjacent Skips are coalesced into one range to keep replies small).
///  - Fingerprint equal to ours (fp and count): Skip.
///  - Fingerprint different: if our count is at most [`LIST_THRESHOLD`], reply our items with
///    `reply: true`; otherwise split our items into up to [`BRANCHING`] sub-ranges of about
///    equal counts (bounds taken from our own keys) and reply a Fingerprint for each.
///  - Items: compare with ours; every differing key goes to `differing`. If `reply` is true and
///    something differs, answer with our items (`reply: false`) so the peer learns the same
///    differences; otherwise Skip (if nothing differs, the peer has nothing to learn either).
///
/// The answer to a list may be narrowed: since we hold both lists, we know exactly where they
/// differ, so we may cover the agreeing stretches with Skip and send our complete items only
/// for the sub-ranges around the differing keys. Each such sub-range still carries our complete
/// list for it, so the peer's comparison is unchanged; this is chosen only when it is smaller.
/// If our list would not fit in the reply's [`MAX_ITEMS`] budget, the range is split into
/// Fingerprint sub-ranges instead. If even that does not fit the [`MAX_RANGES`] budget, the
/// rest of the message is answered with one Fingerprint over the remaining key space, which the
/// next rounds refine, so a reply never exceeds the limits its peer enforces.
///
/// If every range of the reply is Skip, the reply is empty (this side is done).
pub fn respond(set: &(impl Items + ?Sized), incoming: &[Range]) -> Result<Step, RangeError> {
    validate(incoming)?;
    let end = incoming.last().and_then(|r| r.upper.as_deref());
    let mut reply = ReplyBuilder::default();
    let mut differing = BTreeSet::new();
    let mut lower = "";
    for range in incoming {
        let upper = range.upper.as_deref();
        let mut found = Vec::new();
        match answer_range(set, lower, upper, &range.mode, &reply, &mut found) {
            Some(out) => {
                for r in out {
                    reply.push(r);
                }
                differing.extend(found);
            }
            None => {
                // Out of budget: fold everything from here on into one fingerprint. The
                // differences of this and later ranges are found again in later rounds.
                let (fp, count) = set.summarize(lower, end);
                reply.push(Range {
                    upper: end.map(str::to_owned),
                    mode: Mode::Fingerprint { fp, count },
                });
                break;
            }
        }
        match upper {
            Some(u) => lower = u,
            None => break,
        }
    }
    let reply = if reply.ranges.iter().all(|r| r.mode == Mode::Skip) {
        Vec::new()
    } else {
        reply.ranges
    };
    Ok(Step {
        reply,
        differing: differing.into_iter().collect(),
    })
}

/// A reply under construction, with its running item total so the limits can be checked as
/// it grows.
#[derive(Default)]
struct ReplyBuilder {
    ranges: Vec<Range>,
    items: usize,
}

impl ReplyBuilder {
    /// Appends a range, merging a Skip into a preceding Skip (their union is contiguous).
    fn push(&mut self, range: Range) {
        if range.mode == Mode::Skip
            && let Some(last) = self.ranges.last_mut()
            && last.mode == Mode::Skip
        {
            last.upper = range.upper;
            return;
        }
        self.items += item_count(&range);
        self.ranges.push(range);
    }

    /// Whether `out` can be appended while keeping one range in reserve for the fallback
    /// fingerprint that folds the rest of the message.
    fn fits(&self, out: &[Range]) -> bool {
        let items: usize = out.iter().map(item_count).sum();
        self.ranges.len() + out.len() < MAX_RANGES && self.items + items <= MAX_ITEMS
    }
}

/// Our answer for one incoming range, or `None` if no acceptable answer fits the reply's
/// remaining budget. Differences revealed by the range are appended to `found`.
///
/// The first range of a message always fits: every candidate answer has at most
/// [`BRANCHING`] ranges, and a list answer that exceeds [`MAX_ITEMS`] is replaced by a split.
/// So each round makes progress even when the fallback is used.
fn answer_range(
    set: &(impl Items + ?Sized),
    lower: &str,
    upper: Option<&str>,
    mode: &Mode,
    reply: &ReplyBuilder,
    found: &mut Vec<String>,
) -> Option<Vec<Range>> {
    let upper_owned = || upper.map(str::to_owned);
    let candidates: Vec<Vec<Range>> = match mode {
        Mode::Skip => vec![vec![Range {
            upper: upper_owned(),
            mode: Mode::Skip,
        }]],
        Mode::Fingerprint { fp, count } => {
            let (our_fp, our_count) = set.summarize(lower, upper);
            if our_fp == *fp && our_count == *count {
                vec![vec![Range {
                    upper: upper_owned(),
                    mode: Mode::Skip,
                }]]
            } else {
                let ours = set.collect_range(lower, upper);
                if our_count <= LIST_THRESHOLD {
                    let list = vec![Range {
                        upper: upper_owned(),
                        mode: Mode::Items {
                            items: owned_items(&ours),
                            reply: true,
                        },
                    }];
                    vec![list, split(upper, &ours)]
                } else {
                    vec![split(upper, &ours)]
                }
            }
        }
        Mode::Items {
            items,
            reply: wants_reply,
        } => {
            let ours = set.collect_range(lower, upper);
            let merged = merge(items, &ours);
            found.extend(
                merged
                    .iter()
                    .filter(|e| e.differs)
                    .map(|e| e.key.to_owned()),
            );
            if !*wants_reply || found.is_empty() {
                vec![vec![Range {
                    upper: upper_owned(),
                    mode: Mode::Skip,
                }]]
            } else {
                let whole = vec![Range {
                    upper: upper_owned(),
                    mode: Mode::Items {
                        items: owned_items(&ours),
                        reply: false,
                    },
                }];
                let narrowed = narrowed_answer(lower, upper, &merged);
                let mut lists = vec![whole, narrowed];
                // Stable sort: on a tie the whole list (fewer ranges) is kept first.
                lists.sort_by_key(|c| estimated_size(c));
                if !ours.is_empty() {
                    lists.push(split(upper, &ours));
                }
                lists
            }
        }
    };
    candidates.into_iter().find(|c| reply.fits(c))
}

/// One key of the union of the peer's list and ours over a range.
struct Entry<'a> {
    key: &'a str,
    /// Our fingerprint for the key, if we hold it.
    ours: Option<Fingerprint>,
    /// Whether the key is on one side only or has different fingerprints.
    differs: bool,
}

/// Merges the peer's sorted list with our sorted items into the sorted union, marking which
/// keys differ.
fn merge<'a>(
    theirs: &'a [(String, Fingerprint)],
    ours: &[(&'a str, Fingerprint)],
) -> Vec<Entry<'a>> {
    let mut out = Vec::with_capacity(theirs.len().max(ours.len()));
    let (mut i, mut j) = (0, 0);
    loop {
        let entry = match (theirs.get(i), ours.get(j)) {
            (None, None) => break,
            (Some((key, _)), None) => {
                i += 1;
                Entry {
                    key: key.as_str(),
                    ours: None,
                    differs: true,
                }
            }
            (None, Some(&(key, fp))) => {
                j += 1;
                Entry {
                    key,
                    ours: Some(fp),
                    differs: true,
                }
            }
            (Some((their_key, their_fp)), Some(&(our_key, our_fp))) => {
                match their_key.as_str().cmp(our_key) {
                    Ordering::Less => {
                        i += 1;
                        Entry {
                            key: their_key.as_str(),
                            ours: None,
                            differs: true,
                        }
                    }
                    Ordering::Greater => {
                        j += 1;
                        Entry {
                            key: our_key,
                            ours: Some(our_fp),
                            differs: true,
                        }
                    }
                    Ordering::Equal => {
                        i += 1;
                        j += 1;
                        Entry {
                            key: our_key,
                            ours: Some(our_fp),
                            differs: *their_fp != our_fp,
                        }
                    }
                }
            }
        };
        out.push(entry);
    }
    out
}

/// The answer to a list that covers agreeing stretches with Skip and sends our complete items
/// only for the sub-ranges around runs of differing keys.
///
/// A run of consecutive differing keys (in the union's order) gets the sub-range from its first
/// key up to the next agreeing key of the union (or the range's end). The peer's own items in
/// that sub-range are exactly its part of the run, so comparing them with our list reveals the
/// run's keys and nothing else; the agreeing stretches in between hold no differences.
fn narrowed_answer(lower: &str, upper: Option<&str>, merged: &[Entry<'_>]) -> Vec<Range> {
    let mut out = Vec::new();
    let mut cursor = lower;
    let mut reached_end = false;
    let mut i = 0;
    while i < merged.len() {
        if !merged[i].differs {
            i += 1;
            continue;
        }
        let start = i;
        while i < merged.len() && merged[i].differs {
            i += 1;
        }
        let run_lower = merged[start].key;
        if run_lower > cursor {
            out.push(Range {
                upper: Some(run_lower.to_owned()),
                mode: Mode::Skip,
            });
        }
        let run_upper = match merged.get(i) {
            Some(next) => Some(next.key),
            None => {
                reached_end = true;
                upper
            }
        };
        let items = merged[start..i]
            .iter()
            .filter_map(|e| e.ours.map(|fp| (e.key.to_owned(), fp)))
            .collect();
        out.push(Range {
            upper: run_upper.map(str::to_owned),
            mode: Mode::Items {
                items,
                reply: false,
            },
        });
        if let Some(u) = run_upper {
            cursor = u;
        }
    }
    if !reached_end {
        out.push(Range {
            upper: upper.map(str::to_owned),
            mode: Mode::Skip,
        });
    }
    out
}

/// Splits our items of a range into up to [`BRANCHING`] sub-ranges of about equal item counts,
/// with a Fingerprint for each. The inner bounds are our own keys, so every sub-range but the
/// last starts at one of our items and none is empty on our side, which guarantees progress.
fn split(upper: Option<&str>, ours: &[(&str, Fingerprint)]) -> Vec<Range> {
    let total = ours.len();
    if total == 0 {
        return vec![Range {
            upper: upper.map(str::to_owned),
            mode: Mode::Fingerprint {
                fp: Fingerprint::default(),
                count: 0,
            },
        }];
    }
    let parts = total.min(BRANCHING);
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for part in 1..=parts {
        // Strictly increasing because total >= parts; equal to total for the last part.
        let end = part * total / parts;
        let bound = if part == parts {
            upper.map(str::to_owned)
        } else {
            Some(ours[end].0.to_owned())
        };
        let slice = &ours[start..end];
        let fp = slice
            .iter()
            .fold(Fingerprint::default(), |acc, (_, f)| acc.xor(*f));
        out.push(Range {
            upper: bound,
            mode: Mode::Fingerprint {
                fp,
                count: count_u64(slice.len()),
            },
        });
        start = end;
    }
    out
}

/// Copies borrowed items into the owned form a message carries.
fn owned_items(ours: &[(&str, Fingerprint)]) -> Vec<(String, Fingerprint)> {
    ours.iter().map(|(k, f)| ((*k).to_owned(), *f)).collect()
}

/// The number of items a range lists.
fn item_count(range: &Range) -> usize {
    match &range.mode {
        Mode::Items { items, .. } => items.len(),
        Mode::Skip | Mode::Fingerprint { .. } => 0,
    }
}

/// Refuses a key longer than [`MAX_KEY_LEN`].
fn check_key(key: &str) -> Result<(), RangeError> {
    if key.len() > MAX_KEY_LEN {
        return Err(RangeError::KeyTooLong {
            len: key.len(),
            max: MAX_KEY_LEN,
        });
    }
    Ok(())
}

/// Converts a count to the wire's u64 (lossless on every supported platform).
fn count_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A rough estimate of a message's encoded size: the key bytes of bounds and items, 16 bytes
/// per fingerprint, and 9 bytes per range for the mode tag, a count and length prefixes.
///
/// It is used to choose the cheaper of two equivalent answers, and by the tests to check that
/// traffic grows with the differences rather than with the set size.
fn estimated_size(msg: &[Range]) -> usize {
    msg.iter()
        .map(|r| {
            let bound = r.upper.as_ref().map_or(0, String::len);
            let body = match &r.mode {
                Mode::Skip => 0,
                Mode::Fingerprint { .. } => 16,
                Mode::Items { items, .. } => items.iter().map(|(k, _)| k.len() + 16).sum(),
            };
            9 + bound + body
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic PRNG, so the tests need no external crate and replay identically.
    struct XorShift(u64);

    impl XorShift {
        fn new(seed: u64) -> Self {
            Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }

        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn key(i: usize) -> String {
        format!("doc-{i:06}")
    }

    fn item_fp(i: usize, version: u64) -> Fingerprint {
        Fingerprint::of_item(&key(i), &version.to_be_bytes())
    }

    fn set_of(indices: impl IntoIterator<Item = usize>) -> ItemSet {
        let mut set = ItemSet::new();
        for i in indices {
            set.insert(key(i), item_fp(i, 0));
        }
        set
    }

    /// The keys that truly differ between two sets.
    fn true_diff(a: &ItemSet, b: &ItemSet) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (k, f) in a.iter() {
            if b.get(k) != Some(f) {
                out.insert(k.to_owned());
            }
        }
        for (k, _) in b.iter() {
            if a.get(k).is_none() {
                out.insert(k.to_owned());
            }
        }
        out
    }

    /// The record of one session.
    struct Exchange {
        /// Non-empty messages sent, including the first.
        messages: usize,
        /// Estimated bytes of all messages.
        bytes: usize,
        /// The most ranges any message held.
        widest: usize,
        by_initiator: BTreeSet<String>,
        by_responder: BTreeSet<String>,
    }

    impl Exchange {
        fn union(&self) -> BTreeSet<String> {
            self.by_initiator
                .union(&self.by_responder)
                .cloned()
                .collect()
        }
    }

    /// Drives a session until a side has nothing left to send, checking every message against
    /// the limits its receiver enforces.
    fn exchange(initiator: &ItemSet, responder: &ItemSet, max_messages: usize) -> Exchange {
        let mut msg = initiate(initiator);
        let mut ex = Exchange {
            messages: 1,
            bytes: estimated_size(&msg),
            widest: msg.len(),
            by_initiator: BTreeSet::new(),
            by_responder: BTreeSet::new(),
        };
        let mut responder_turn = true;
        loop {
            validate(&msg).expect("every produced message passes validation");
            let (set, found) = if responder_turn {
                (responder, &mut ex.by_responder)
            } else {
                (initiator, &mut ex.by_initiator)
            };
            let step = respond(set, &msg).expect("a produced message is accepted");
            assert!(
                step.differing.windows(2).all(|w| w[0] < w[1]),
                "differing keys are sorted and deduplicated"
            );
            found.extend(step.differing);
            if step.reply.is_empty() {
                break;
            }
            ex.messages += 1;
            ex.bytes += estimated_size(&step.reply);
            ex.widest = ex.widest.max(step.reply.len());
            assert!(
                ex.messages <= max_messages,
                "the session did not finish within {max_messages} messages"
            );
            msg = step.reply;
            responder_turn = !responder_turn;
        }
        ex
    }

    fn ceil_log16(n: usize) -> usize {
        let mut levels = 0;
        let mut capacity = 1usize;
        while capacity < n {
            capacity = capacity.saturating_mul(16);
            levels += 1;
        }
        levels
    }

    #[test]
    fn fingerprints_follow_the_documented_construction() {
        let mut input = Vec::new();
        input.extend_from_slice(b"weft-item/v1");
        input.extend_from_slice(&3u32.to_be_bytes());
        input.extend_from_slice(b"abc");
        input.extend_from_slice(b"heads");
        let digest = Sha256::digest(&input);
        let fp = Fingerprint::of_item("abc", b"heads");
        assert_eq!(&fp.0[..], &digest[..16]);
        assert_ne!(fp, Fingerprint::of_item("abd", b"heads"));
        assert_ne!(fp, Fingerprint::of_item("abc", b"heads2"));
        // The length prefix keeps ("ab", "cheads") apart from ("abc", "heads").
        assert_ne!(fp, Fingerprint::of_item("ab", b"cheads"));
        let other = Fingerprint::of_item("x", b"");
        assert_eq!(fp.xor(other).xor(other), fp);
        assert_eq!(fp.xor(other), other.xor(fp));
    }

    #[test]
    fn item_set_summarizes_ranges() {
        let mut set = set_of(0..10);
        assert_eq!(set.len(), 10);
        assert!(!set.is_empty());
        let (all_fp, all) = set.summarize("", None);
        assert_eq!(all, 10);
        let (low_fp, low) = set.summarize("", Some(&key(4)));
        let (high_fp, high) = set.summarize(&key(4), None);
        assert_eq!((low, high), (4, 6));
        assert_eq!(low_fp.xor(high_fp), all_fp);
        // Inverted and empty ranges are empty, not a panic.
        assert_eq!(
            set.summarize(&key(5), Some(&key(2))),
            (Fingerprint::default(), 0)
        );
        assert_eq!(
            set.summarize(&key(5), Some(&key(5))),
            (Fingerprint::default(), 0)
        );
        set.insert(key(3), item_fp(3, 1));
        assert_eq!(set.get(&key(3)), Some(item_fp(3, 1)));
        assert_eq!(set.len(), 10);
        set.remove(&key(3));
        assert_eq!(set.get(&key(3)), None);
        assert_eq!(set.len(), 9);
        let long = "k".repeat(MAX_KEY_LEN + 1);
        assert!(set.try_insert(long.clone(), item_fp(0, 0)).is_err());
        set.insert(long.clone(), item_fp(0, 0));
        assert_eq!(set.get(&long), None);
    }

    /// Test 1: identical sets finish in one round trip with a tiny message.
    #[test]
    fn identical_sets_finish_in_one_round_trip() {
        let a = set_of(0..4000);
        let b = set_of(0..4000);
        let first = initiate(&a);
        let step = respond(&b, &first).expect("valid");
        assert!(step.reply.is_empty());
        assert!(step.differing.is_empty());
        let bytes = estimated_size(&first) + estimated_size(&step.reply);
        assert!(bytes < 200, "{bytes} bytes");
    }

    /// Builds two sets over `universe` keys with the given keys only on A, only on B, and
    /// changed on B; returns the sets and the differing keys.
    fn diverged(
        universe: usize,
        only_a: &[usize],
        only_b: &[usize],
        changed: &[usize],
    ) -> (ItemSet, ItemSet, BTreeSet<String>) {
        let mut a = ItemSet::new();
        let mut b = ItemSet::new();
        for i in 0..universe {
            if !only_b.contains(&i) {
                a.insert(key(i), item_fp(i, 0));
            }
            if !only_a.contains(&i) {
                let version = u64::from(changed.contains(&i));
                b.insert(key(i), item_fp(i, version));
            }
        }
        let expected = only_a
            .iter()
            .chain(only_b)
            .chain(changed)
            .map(|&i| key(i))
            .collect();
        (a, b, expected)
    }

    /// Picks `n` distinct indices below `universe`.
    fn distinct(rng: &mut XorShift, n: usize, universe: usize) -> Vec<usize> {
        let mut picked = BTreeSet::new();
        while picked.len() < n {
            picked.insert(usize::try_from(rng.below(universe as u64)).expect("small"));
        }
        let mut out: Vec<usize> = picked.into_iter().collect();
        // Shuffle so that the three kinds of difference are interleaved across the key space.
        for i in (1..out.len()).rev() {
            let j = usize::try_from(rng.below(i as u64 + 1)).expect("small");
            out.swap(i, j);
        }
        out
    }

    /// Test 2: a few differences among thousands of items are all found by both sides, in
    /// logarithmically many rounds, with traffic proportional to the differences.
    #[test]
    fn few_differences_among_many_items() {
        let universe = 4020;
        let mut rng = XorShift::new(2);
        let picked = distinct(&mut rng, 40, universe);
        let (a, b, expected) = diverged(universe, &picked[..10], &picked[10..20], &picked[20..]);
        assert_eq!(expected.len(), 40);
        assert_eq!(true_diff(&a, &b), expected);

        let bound = 2 * ceil_log16(4000) + 3;
        let ex = exchange(&a, &b, bound);
        assert_eq!(ex.union(), expected);
        assert_eq!(ex.by_initiator, expected);
        assert_eq!(ex.by_responder, expected);
        assert!(ex.messages <= bound, "{} messages", ex.messages);
        assert!(ex.bytes < 40 * 800, "{} bytes for 40 differences", ex.bytes);
        let full_list = a.len() * (key(0).len() + 16);
        assert!(
            ex.bytes * 3 < full_list,
            "{} bytes vs {full_list}",
            ex.bytes
        );

        // Ten times fewer differences cost several times less: the traffic follows the
        // differences, not the 4000 items.
        let (a4, b4, expected4) =
            diverged(universe, &picked[..1], &picked[10..11], &picked[20..22]);
        let ex4 = exchange(&a4, &b4, bound);
        assert_eq!(ex4.union(), expected4);
        assert!(
            ex4.bytes * 4 < ex.bytes,
            "{} vs {} bytes",
            ex4.bytes,
            ex.bytes
        );
    }

    /// Test 3: against an empty side, every item is reported, whichever side starts.
    #[test]
    fn one_side_empty() {
        let full = set_of(0..1000);
        let empty = ItemSet::new();
        let expected: BTreeSet<String> = (0..1000).map(key).collect();
        for (initiator, responder) in [(&full, &empty), (&empty, &full)] {
            let ex = exchange(initiator, responder, 8);
            assert_eq!(ex.by_initiator, expected);
            assert_eq!(ex.by_responder, expected);
        }
    }

    /// A side with more items than one message may list splits its answer instead of
    /// producing a message its peer would refuse.
    #[test]
    fn lists_larger_than_a_message_are_split() {
        let full = set_of(0..MAX_ITEMS + 4_000);
        let empty = ItemSet::new();
        for (initiator, responder) in [(&full, &empty), (&empty, &full)] {
            let ex = exchange(initiator, responder, 12);
            assert_eq!(ex.by_initiator.len(), MAX_ITEMS + 4_000);
            assert_eq!(ex.by_responder.len(), MAX_ITEMS + 4_000);
        }
    }

    /// Disjoint large sets make replies outgrow MAX_RANGES; the fallback fingerprint keeps
    /// every message valid and the session still finds everything.
    #[test]
    fn replies_that_outgrow_the_range_limit_fall_back() {
        let a = set_of((0..40_000).filter(|i| i % 2 == 0));
        let b = set_of((0..40_000).filter(|i| i % 2 == 1));
        let ex = exchange(&a, &b, 64);
        // 256 mismatching ranges split 16 ways would need 4096 ranges plus the reserve, so a
        // reply this wide means the fallback fingerprint was used.
        assert!(
            ex.widest > MAX_RANGES - BRANCHING && ex.widest <= MAX_RANGES,
            "widest reply: {} ranges",
            ex.widest
        );
        assert_eq!(ex.by_initiator.len(), 40_000);
        assert_eq!(ex.by_responder.len(), 40_000);
    }

    /// Test 4: two empty sets finish at once.
    #[test]
    fn both_empty() {
        let empty = ItemSet::new();
        let first = initiate(&empty);
        let step = respond(&empty, &first).expect("valid");
        assert!(step.reply.is_empty());
        assert!(step.differing.is_empty());
    }

    fn fp_range(upper: Option<&str>) -> Range {
        Range {
            upper: upper.map(str::to_owned),
            mode: Mode::Fingerprint {
                fp: Fingerprint::default(),
                count: 1,
            },
        }
    }

    fn items_range(upper: Option<&str>, keys: &[&str]) -> Range {
        Range {
            upper: upper.map(str::to_owned),
            mode: Mode::Items {
                items: keys
                    .iter()
                    .map(|k| ((*k).to_owned(), Fingerprint::default()))
                    .collect(),
                reply: true,
            },
        }
    }

    /// Test 5: malformed messages are refused, by `validate` and by `respond`.
    #[test]
    fn malformed_messages_are_refused() {
        let set = set_of(0..100);
        let long = "x".repeat(MAX_KEY_LEN + 1);
        let out_of_order = |index| RangeError::OutOfOrder { index };
        let items_out_of_order = |index| RangeError::ItemsOutOfOrder { index };
        let too_long = RangeError::KeyTooLong {
            len: MAX_KEY_LEN + 1,
            max: MAX_KEY_LEN,
        };
        let cases: Vec<(Vec<Range>, RangeError)> = vec![
            (
                vec![fp_range(Some("b")), fp_range(Some("a")), fp_range(None)],
                out_of_order(1),
            ),
            (
                vec![fp_range(Some("a")), fp_range(Some("a"))],
                out_of_order(1),
            ),
            (vec![fp_range(None), fp_range(Some("a"))], out_of_order(1)),
            (vec![fp_range(None), fp_range(None)], out_of_order(1)),
            (vec![fp_range(Some(""))], out_of_order(0)),
            (
                (0..=MAX_RANGES)
                    .map(|i| fp_range(Some(&format!("{i:05}"))))
                    .collect(),
                RangeError::TooManyRanges {
                    count: MAX_RANGES + 1,
                    max: MAX_RANGES,
                },
            ),
            (
                vec![Range {
                    upper: None,
                    mode: Mode::Items {
                        items: (0..=MAX_ITEMS)
                            .map(|i| (format!("{i:06}"), Fingerprint::default()))
                            .collect(),
                        reply: true,
                    },
                }],
                RangeError::TooManyItems {
                    count: MAX_ITEMS + 1,
                    max: MAX_ITEMS,
                },
            ),
            (
                vec![fp_range(Some(long.as_str())), fp_range(None)],
                too_long.clone(),
            ),
            (
                vec![items_range(None, &["a", long.as_str()])],
                too_long.clone(),
            ),
            (vec![items_range(None, &["b", "a"])], items_out_of_order(0)),
            (vec![items_range(None, &["a", "a"])], items_out_of_order(0)),
            (
                vec![items_range(Some("m"), &["a", "z"]), fp_range(None)],
                items_out_of_order(0),
            ),
            (
                vec![fp_range(Some("m")), items_range(None, &["a"])],
                items_out_of_order(1),
            ),
        ];
        for (msg, expected) in cases {
            assert_eq!(validate(&msg), Err(expected.clone()));
            assert_eq!(respond(&set, &msg), Err(expected));
        }
        // Well-formed messages, including one that stops short of the end, are accepted.
        assert!(validate(&[]).is_ok());
        assert!(validate(&[fp_range(Some("m"))]).is_ok());
        assert!(validate(&[fp_range(Some("a")), items_range(None, &["a", "b"])]).is_ok());
        assert!(respond(&set, &[fp_range(Some("doc-000050"))]).is_ok());
    }

    /// Random well-formed and malformed messages never make `respond` panic, and whatever it
    /// replies passes validation.
    #[test]
    fn random_messages_never_panic() {
        let set = set_of(0..200);
        let mut rng = XorShift::new(99);
        for _ in 0..500 {
            let n = usize::try_from(rng.below(20)).expect("small");
            let mut uppers: Vec<String> = (0..n)
                .map(|_| key(usize::try_from(rng.below(220)).expect("small")))
                .collect();
            if rng.below(4) != 0 {
                uppers.sort();
                uppers.dedup();
            }
            let mut msg = Vec::new();
            for (i, upper) in uppers.iter().enumerate() {
                let upper = if i + 1 == uppers.len() && rng.below(2) == 0 {
                    None
                } else {
                    Some(upper.clone())
                };
                let mode = match rng.below(3) {
                    0 => Mode::Skip,
                    1 => Mode::Fingerprint {
                        fp: Fingerprint([u8::try_from(rng.below(256)).expect("byte"); 16]),
                        count: rng.below(300),
                    },
                    _ => {
                        let mut keys: Vec<String> = (0..rng.below(5))
                            .map(|_| key(usize::try_from(rng.below(220)).expect("small")))
                            .collect();
                        keys.sort();
                        keys.dedup();
                        Mode::Items {
                            items: keys
                                .into_iter()
                                .map(|k| (k, Fingerprint::default()))
                                .collect(),
                            reply: rng.below(2) == 0,
                        }
                    }
                };
                msg.push(Range { upper, mode });
            }
            if let Ok(step) = respond(&set, &msg) {
                validate(&step.reply).expect("replies are valid");
            }
        }
    }

    /// Test 6: random sets of random overlap; both sides find exactly the symmetric
    /// difference, in a bounded number of rounds.
    #[test]
    fn random_sets_reconcile_exactly() {
        let mut rng = XorShift::new(6);
        for case in 0..200 {
            let universe = usize::try_from(rng.below(300)).expect("small");
            // Per case, different mixes: mostly shared, mostly disjoint, or anything.
            let shared_weight = rng.below(10);
            let mut a = ItemSet::new();
            let mut b = ItemSet::new();
            for i in 0..universe {
                let roll = rng.below(10);
                if roll < shared_weight {
                    a.insert(key(i), item_fp(i, 0));
                    let version = u64::from(rng.below(8) == 0);
                    b.insert(key(i), item_fp(i, version));
                } else {
                    match rng.below(3) {
                        0 => a.insert(key(i), item_fp(i, 0)),
                        1 => b.insert(key(i), item_fp(i, 0)),
                        _ => {}
                    }
                }
            }
            let expected = true_diff(&a, &b);
            let bound = 2 * ceil_log16(a.len().max(b.len()).max(2)) + 4;
            let ex = exchange(&a, &b, bound);
            assert_eq!(ex.by_initiator, expected, "case {case}: initiator");
            assert_eq!(ex.by_responder, expected, "case {case}: responder");
            let back = exchange(&b, &a, bound);
            assert_eq!(back.union(), expected, "case {case}: reversed");
        }
    }
}

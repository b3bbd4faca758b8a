//! The sync engine: one state machine per peer, no I/O.
//!
//! Inputs are `handle_*` calls (a peer connected, a frame arrived, a local change was made, time
//! passed); outputs are drained with [`Engine::poll_transmit`] (frames to send) and
//! [`Engine::poll_event`] (what happened, for logs, metrics and the UI). Time is passed in as
//! milliseconds. The caller owns the [`Replica`] and lends it to each call.
//!
//! A session:
//!
//! 1. Both sides send [`Message::Hello`]; the side with the newer directory sends it.
//! 2. The side with the smaller site id starts **range reconciliation** over the documents
//!    both may share (see [`super::ranges`]): the cost grows with the number of documents that
//!    differ times the logarithm of the total, not with the total.
//! 3. For each document found to differ, the sides exchange heads ([`Message::Heads`]), and
//!    each sends the changes the other lacks — computed from vector clocks, so the cost grows
//!    with what is missing, not with the document's history — bundled into few messages.
//! 4. Afterwards, local changes are pushed at once to every connected peer allowed to hold
//!    them; the same side starts a catch-up round again every [`Config::resync_interval_ms`]
//!    to repair anything lost (one round per pair finds both sides' differences).
//!
//! What a round reads of this side is kept, not recomputed: every held document's item (a
//! fingerprint of its heads, and who may hold it) is brought up to date from the replica's
//! log of touched documents ([`Replica::touched_since`]), and the summary of the documents
//! every site may hold is kept whole, so a round with a peer that differs in nothing costs
//! the documents only some sites may hold, not all of them.
//!
//! A peer that holds none of a document (a site joining) is sent it whole; with
//! [`Config::window_frames`], those documents wait as ids and go out a few frames at a time
//! as the driver reports earlier frames delivered ([`Engine::handle_delivered`]). A document
//! asked of one peer is not asked of another while the first is still answering; each
//! answer to heads ends with [`Message::Answered`] after its changes, and the others are
//! asked then, for what they hold beyond (a peer silent or idle for [`FETCH_TIMEOUT_MS`] is
//! given up on).
//!
//! Changes whose dependencies are missing wait in the replica, and the engine asks the peer
//! that sent them for the missing ones ([`Message::Need`]). A peer never receives, and is
//! refused if it asks for, a document its site may not hold ([`Replica::may_hold`]).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use automerge::ChangeHash;
use weft_keys::{EmployeeCert, KeyId, Signed};

use super::message::{DocHeads, FrameError, MAX_FRAME, Message, PROTOCOL};
use super::ranges::{self, Fingerprint};
use crate::change::SignedChange;
use crate::ids::DocId;
use crate::replica::{IngestReport, Rejection, Replica, Waiting};

/// While more documents than this are being fetched (a site joining or back from a long
/// partition), the periodic catch-up rounds wait: each would find again every document not
/// yet here and exchange heads for it with every peer (a site joining from two peers spent
/// a third of its traffic on that).
pub const MAX_FETCHING_FOR_ROUNDS: usize = 256;

/// How long a peer being fetched from may stay silent before the documents asked of it are
/// asked of other peers.
pub const FETCH_TIMEOUT_MS: u64 = 10_000;

/// A site's place on the ring of near peers (see `Engine::near_peers`): FNV-1a of its name,
/// the same at every site.
fn ring_position(site: &str) -> u64 {
    site.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Most threads held back for one peer until no group is being fetched (see
/// `Engine::after_groups`): beyond, that peer's threads are asked for at once, as if no
/// group were being fetched. A site joining a company of 100,000 threads holds back about
/// as many; a peer claiming millions of made-up threads costs no more than this.
pub const MAX_AFTER_GROUPS_PER_PEER: usize = 262_144;

/// How many round trips observed make one estimate (see [`Engine::observe_rtt`]).
pub const RTT_WINDOW: u32 = 32;

/// Most announced changes waiting to be asked for (see [`Config::repair_peers`]): beyond,
/// announcements are not followed (a peer announcing made-up changes costs a bounded map).
pub const MAX_REPAIRS: usize = 4096;
/// How many of the changes a peer lacks are looked at, when it is refused a group it held,
/// for those it may still receive (see `Engine::handle_heads`): enough for a site that was
/// away for months of membership changes, and a bound on the work one request can cause.
pub const MAX_SHAREABLE_SCAN: usize = 4_096;

/// Tunables.
#[derive(Debug, Clone)]
pub struct Config {
    /// How often a catch-up round runs with each connected peer.
    pub resync_interval_ms: u64,
    /// Largest frame this side sends (the receiver's hard limit is [`MAX_FRAME`]).
    pub max_frame: usize,
    /// Whether changes received from one peer are pushed on to the other connected peers.
    /// Off for a full mesh (every site connects to every site: the originator reaches all);
    /// on where sites reach each other only through others.
    pub relay: bool,
    /// Whether local changes of public documents are pushed to peers by the engine. A node
    /// that announces public changes over gossipsub turns this off (private documents are
    /// always pushed point-to-point, to the sites allowed to hold them).
    pub push_public: bool,
    /// How many signed changes per second one peer may send us, on average; beyond its
    /// budget a bundle is dropped unread (the next catch-up brings it again), so a peer cannot
    /// make us judge, park and store without bound. Catch-up from a peer is bundled, so this
    /// slows a flood, not a site's normal traffic.
    pub ingest_changes_per_sec: u32,
    /// How many changes one peer may send at once before the rate above applies (a site
    /// catching up on a day's history).
    pub ingest_burst: u32,
    /// How many frames may be on their way to one peer, sent and not yet reported delivered
    /// ([`Engine::handle_delivered`]), while whole documents are sent to a peer that holds
    /// none of them (a site joining) — one more when the certificates that go with a frame's
    /// changes push it over [`Config::max_frame`]: the rest wait as document ids and are read
    /// from the replica as the window opens, so a joining site's catch-up does not hold the company
    /// in this node's memory. `None`: no window (a driver that reports no deliveries).
    pub window_frames: Option<u32>,
    /// Repair from near peers: each change pushed to this site is announced ([`Message::Have`],
    /// its document and hash only) to up to this many of the nearest connected peers (by
    /// round trip, [`Engine::set_peer_rtt`]) that may hold it; a peer that has not received
    /// it [`Config::repair_grace_ms`] after such an announcement asks the announcer for it.
    /// A frame lost on a long path is otherwise repaired by the transport a round trip of
    /// that path later (Oceania–Africa: 410 ms); a near peer that received its own copy
    /// repairs it in one short round trip. 0: no announcements. Measured with the simulator
    /// (500 sites, 0.1 % frame loss; `docs/simulations.md`).
    pub repair_peers: usize,
    /// Only peers at most this round trip away count as near.
    pub repair_rtt_ms: u64,
    /// How long after an announcement a change still missing is asked for: the direct copy,
    /// on a path about as long as the announcer's, is normally here by then. A change asked
    /// for too soon costs one extra copy, one asked for too late misses the latency it is
    /// for. The announcer may have had its copy up to a sender's whole fan-out earlier (500
    /// frames of a post on a 100 Mbit/s uplink: 50 ms): at 25 ms, the sites a sender serves
    /// last received 1.58 copies of each change; at 60 ms, 1.005, and p99 convergence at
    /// 500 sites is 324 ms (611 ms without repairs; the aim is 358).
    pub repair_grace_ms: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            resync_interval_ms: 30_000,
            max_frame: 1024 * 1024,
            relay: false,
            push_public: true,
            ingest_changes_per_sec: 5_000,
            ingest_burst: 100_000,
            window_frames: None,
            repair_peers: 3,
            repair_rtt_ms: 60,
            repair_grace_ms: 60,
        }
    }
}

/// Something the driver should know about.
#[derive(Debug, Clone)]
pub enum Event {
    /// Changes from a peer were judged.
    Ingested {
        peer: String,
        accepted: Vec<(DocId, ChangeHash)>,
        rejected: Vec<(Option<DocId>, Rejection)>,
        waiting: usize,
    },
    /// A frame could not be decoded; it was dropped.
    Malformed { peer: String, error: FrameError },
    /// The peer asked for a document it may not hold; it was refused.
    Refused { peer: String, doc: DocId },
    /// The peer refused to share a document with us.
    RefusedByPeer { peer: String, doc: DocId },
    /// A newer directory was installed.
    DirectoryUpdated { version: u64 },
    /// A directory from the peer was refused.
    DirectoryRejected { peer: String, error: String },
    /// Range reconciliation with the peer finished on our side.
    Reconciled { peer: String, differing: usize },
    /// A certificate from the peer was refused (not signed by a node key the directory lists
    /// for its site, or malformed); it was not stored.
    CertificateRefused { peer: String, error: String },
    /// The peer sent more changes than its budget allows; this bundle was dropped unread.
    Throttled { peer: String, changes: usize },
    /// Waiting changes were dropped after waiting too long.
    Expired { changes: usize },
}

/// Traffic counters for one peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub frames_sent: u64,
    pub bytes_sent: u64,
    pub frames_received: u64,
    pub bytes_received: u64,
    /// Bytes of signed changes sent (the payload that had to move).
    pub change_bytes_sent: u64,
    pub changes_sent: u64,
}

#[derive(Debug, Default)]
struct Peer {
    /// Whether the peer's Hello arrived.
    greeted: bool,
    last_round_ms: u64,
    /// Certificates already sent in this session.
    certs_sent: HashSet<KeyId>,
    /// Changes queued for the next bundle, in order, deduplicated.
    queued: Vec<SignedChange>,
    queued_set: HashSet<ChangeHash>,
    /// Heads to send in the next Heads message.
    heads_out: Vec<DocHeads>,
    /// Other frames to send.
    out: VecDeque<Message>,
    /// Changes asked for already (missing dependencies).
    asked: HashSet<ChangeHash>,
    /// Changes sent to this peer since the current round began: not sent twice in a round,
    /// even when both sides discover the same difference.
    sent: HashSet<ChangeHash>,
    traffic: Traffic,
    /// Bytes sent, by message kind.
    bytes_by_kind: std::collections::BTreeMap<&'static str, u64>,
    /// Differences found in the current reconciliation round.
    differing: BTreeSet<String>,
    /// Changes the peer may still send before its rate applies, and when that was computed.
    budget: f64,
    budget_at_ms: u64,
    /// Documents to send whole (the peer holds none of them), as the window allows.
    backlog: VecDeque<DocId>,
    backlog_set: HashSet<DocId>,
    /// What is left to send of the document being sent whole (a large one takes several
    /// frames, and as many openings of the window), and which document it is.
    sending: VecDeque<SignedChange>,
    sending_doc: Option<DocId>,
    /// Documents whose answer (to the peer's heads) is complete once what is queued is sent:
    /// said in a [`Message::Answered`] after the changes.
    answered: Vec<DocId>,
    /// Frames sent and not yet reported delivered.
    in_flight: u32,
    /// When a frame last came from the peer (a fetch from a silent peer is given up).
    last_heard_ms: u64,
    /// When a bundle of changes last came from the peer.
    last_changes_ms: u64,
    /// The round trip to the peer, as the driver measured it ([`Engine::set_peer_rtt`]).
    rtt_ms: Option<u64>,
    /// The smallest of the round trips observed in the current window, and how many
    /// ([`Engine::observe_rtt`]).
    rtt_window: (u64, u32),
    /// Threads held back for this peer in `Engine::after_groups`.
    after_groups: usize,
}

impl Peer {
    /// Whether documents are being sent whole to this peer, a window at a time.
    fn sending_whole(&self) -> bool {
        !self.backlog.is_empty() || !self.sending.is_empty()
    }
}

/// The sync engine of one node.
#[derive(Debug)]
pub struct Engine {
    site: String,
    config: Config,
    peers: HashMap<String, Peer>,
    /// Documents being fetched, from which peer, since when.
    fetching: HashMap<DocId, (String, u64)>,
    /// How many of those are groups.
    groups_fetching: usize,
    /// Threads this side holds none of, to be asked for once no group is being fetched
    /// (see [`Engine::send_heads`]): (peer, thread, with clock, reply, the heads the peer
    /// said).
    after_groups: std::collections::BTreeMap<(String, DocId), AfterGroups>,
    /// Heads exchanges postponed while another peer sends the document: document → the
    /// peers to ask once it has, with their heads when they said them.
    deferred: HashMap<DocId, std::collections::BTreeMap<String, Option<Vec<ChangeHash>>>>,
    /// When fetches that went unanswered were last looked at.
    fetches_checked_ms: u64,
    /// The heads a peer just said for a document, while its answer is being made (kept
    /// with an exchange postponed for it).
    heads_said: Option<(String, DocId, Vec<ChangeHash>)>,
    outbox: VecDeque<(String, Vec<u8>)>,
    events: VecDeque<Event>,
    /// Every held document's item for reconciliation, kept up to date from the replica's log
    /// of touched documents instead of being computed at every round with every peer.
    items: ItemCache,
    /// The peers pushed changes are announced to (see [`Config::repair_peers`]); `None` once
    /// a peer came, went or measured a new round trip.
    near: Option<Vec<String>>,
    /// Announced changes not held here: asked of their announcer when due.
    repairs: HashMap<ChangeHash, Repair>,
    /// Announced changes asked for so far, and announcements received.
    repairs_asked: u64,
    announced: u64,
}

/// An announced change to ask for if its own copy has not come by `due_ms`.
#[derive(Debug)]
struct Repair {
    peer: String,
    doc: DocId,
    due_ms: u64,
}

/// A postponed heads exchange (see `Engine::after_groups`).
#[derive(Debug)]
struct AfterGroups {
    with_clock: bool,
    reply: bool,
    heads: Option<Vec<ChangeHash>>,
}

/// Who may hold a document, as far as the item cache needs to know: every site, the sites
/// a group is open to (asked of the replica when a peer's items are read, so membership
/// changes need nothing here), or nobody (a thread whose group is unknown).
#[derive(Debug, Clone)]
enum Holders {
    Everyone,
    Group(DocId),
    Nobody,
}

/// The items of every held document: its id, a fingerprint of its heads, who may hold it.
/// Valid for the replica's state at `generation` with `visibility` groups having changed
/// visibility; brought up to date at each round from [`Replica::touched_since`].
#[derive(Debug, Default)]
struct ItemCache {
    /// `None` until first built.
    at: Option<(u64, u64)>,
    items: std::collections::BTreeMap<String, (Fingerprint, Holders)>,
    /// The XOR and count of the items every site may hold: the whole key space's summary
    /// for any peer, but for the restricted items, so that the first message of a round
    /// (and the answer to it) costs the restricted items, not every document.
    everyone: (Fingerprint, u64),
    /// The items not every site may hold.
    restricted: std::collections::BTreeMap<String, (Fingerprint, DocId)>,
}

impl ItemCache {
    fn insert(&mut self, key: String, item: (Fingerprint, Holders)) {
        self.remove(&key);
        match &item.1 {
            Holders::Everyone => {
                self.everyone.0 = self.everyone.0.xor(item.0);
                self.everyone.1 += 1;
            }
            Holders::Group(g) => {
                self.restricted.insert(key.clone(), (item.0, g.clone()));
            }
            Holders::Nobody => {}
        }
        self.items.insert(key, item);
    }

    fn remove(&mut self, key: &str) {
        if let Some((fp, holders)) = self.items.remove(key) {
            match holders {
                Holders::Everyone => {
                    self.everyone.0 = self.everyone.0.xor(fp);
                    self.everyone.1 -= 1;
                }
                Holders::Group(_) => {
                    self.restricted.remove(key);
                }
                Holders::Nobody => {}
            }
        }
    }

    fn refresh(&mut self, replica: &Replica) {
        let now = (replica.generation(), replica.visibility_changes());
        if self.at == Some(now) {
            return;
        }
        let touched = match self.at {
            Some((generation, visibility)) if visibility == now.1 => {
                replica.touched_since(generation)
            }
            _ => None,
        };
        match touched {
            Some(ids) => {
                let ids: BTreeSet<&DocId> = ids.collect();
                for id in ids {
                    match item_of(replica, id) {
                        Some(item) => self.insert(id.as_str().to_owned(), item),
                        None => self.remove(id.as_str()),
                    }
                }
            }
            None => {
                *self = ItemCache::default();
                for id in replica.doc_ids() {
                    if let Some(item) = item_of(replica, id) {
                        self.insert(id.as_str().to_owned(), item);
                    }
                }
            }
        }
        self.at = Some(now);
    }
}

/// The reconciliation item of a held document (`None` if not held, or if its id could not
/// be sent).
fn item_of(replica: &Replica, id: &DocId) -> Option<(Fingerprint, Holders)> {
    if id.as_str().len() > ranges::MAX_KEY_LEN {
        return None;
    }
    let heads = replica.heads_of(id)?;
    let mut input = Vec::with_capacity(heads.len() * 32);
    for h in &heads {
        input.extend_from_slice(&h.0);
    }
    let holders = if replica.is_public(id) {
        Holders::Everyone
    } else {
        match id.kind() {
            crate::ids::DocKind::Profile => Holders::Everyone,
            crate::ids::DocKind::Group => Holders::Group(id.clone()),
            crate::ids::DocKind::Thread => {
                replica.group_of(id).map_or(Holders::Nobody, Holders::Group)
            }
        }
    };
    Some((Fingerprint::of_item(id.as_str(), &input), holders))
}

/// The items one peer may hold: a view of the cache, filtered by [`Replica::may_hold`].
struct PeerItems<'a> {
    cache: &'a ItemCache,
    replica: &'a Replica,
    peer: &'a str,
}

impl ranges::Items for PeerItems<'_> {
    fn range<'a>(
        &'a self,
        lower: &'a str,
        upper: Option<&'a str>,
    ) -> Box<dyn Iterator<Item = (&'a str, Fingerprint)> + 'a> {
        Box::new(
            ranges::key_range(&self.cache.items, lower, upper)
                .into_iter()
                .flatten()
                .filter(|(_, (_, holders))| match holders {
                    Holders::Everyone => true,
                    Holders::Group(g) => self.replica.may_hold(self.peer, g),
                    Holders::Nobody => false,
                })
                .map(|(k, (fp, _))| (k.as_str(), *fp)),
        )
    }

    fn summarize(&self, lower: &str, upper: Option<&str>) -> (Fingerprint, u64) {
        if !lower.is_empty() || upper.is_some() {
            return ranges::summary_of(self.range(lower, upper));
        }
        // The whole key space: what every site may hold is summed already.
        let (mut fp, mut count) = self.cache.everyone;
        for (item, group) in self.cache.restricted.values() {
            if self.replica.may_hold(self.peer, group) {
                fp = fp.xor(*item);
                count += 1;
            }
        }
        (fp, count)
    }

    fn len(&self) -> usize {
        self.summarize("", None).1 as usize
    }
}

impl Engine {
    /// An engine for the node of `site`.
    pub fn new(site: impl Into<String>, config: Config) -> Engine {
        Engine {
            site: site.into(),
            config,
            peers: HashMap::new(),
            fetching: HashMap::new(),
            groups_fetching: 0,
            after_groups: Default::default(),
            deferred: HashMap::new(),
            fetches_checked_ms: 0,
            heads_said: None,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            items: ItemCache::default(),
            near: None,
            repairs: HashMap::new(),
            repairs_asked: 0,
            announced: 0,
        }
    }

    /// This node's site.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// The connected peers.
    pub fn peers(&self) -> impl Iterator<Item = &str> {
        self.peers.keys().map(String::as_str)
    }

    /// Bytes sent to a peer so far, by message kind (`ranges`, `heads`, `changes`, …).
    pub fn bytes_sent_by_kind(&self, peer: &str) -> Vec<(&'static str, u64)> {
        self.peers
            .get(peer)
            .map(|p| p.bytes_by_kind.iter().map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default()
    }

    /// Traffic with a peer so far.
    pub fn traffic(&self, peer: &str) -> Traffic {
        self.peers.get(peer).map(|p| p.traffic).unwrap_or_default()
    }

    /// The round trip to `peer`, as measured by the driver (the node: a frame's
    /// acknowledgement, filtered; the simulator: its link model). Decides which peers are
    /// near for repairs (see [`Config::repair_peers`]).
    pub fn set_peer_rtt(&mut self, peer: &str, rtt_ms: u64) {
        if let Some(p) = self.peers.get_mut(peer)
            && p.rtt_ms != Some(rtt_ms)
        {
            p.rtt_ms = Some(rtt_ms);
            self.near = None;
        }
    }

    /// One round trip to `peer` as observed by the driver: a frame's acknowledgement, which
    /// also counts however long the peer took to take the frame. The estimate is the
    /// smallest of every [`RTT_WINDOW`] observations (the first one alone at first), so that a
    /// busy moment at the peer does not make it look far, and a route that changed is
    /// followed within a window.
    pub fn observe_rtt(&mut self, peer: &str, sample_ms: u64) {
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let (min, n) = p.rtt_window;
        let min = if n == 0 {
            sample_ms
        } else {
            min.min(sample_ms)
        };
        p.rtt_window = (min, n + 1);
        let estimate = if p.rtt_ms.is_none() {
            Some(min)
        } else if n + 1 >= RTT_WINDOW {
            p.rtt_window = (0, 0);
            Some(min)
        } else {
            None
        };
        if let Some(ms) = estimate {
            self.set_peer_rtt(peer, ms);
        }
    }

    /// The peers pushed changes are announced to: the near ones (greeted, within
    /// [`Config::repair_rtt_ms`]) and this site placed on a ring in the order of a hash of
    /// their names, and the [`Config::repair_peers`] that follow this site on it. Sites that
    /// see the same near peers (a region) then each announce to different ones, and each is
    /// announced to by as many — chosen by distance alone, every site of a region would
    /// announce to the same few, and the others would never be repaired.
    fn near_peers(&mut self) -> &[String] {
        if self.near.is_none() {
            let mut ring: Vec<(u64, &str)> = self
                .peers
                .iter()
                .filter(|(_, p)| {
                    p.greeted && p.rtt_ms.is_some_and(|r| r <= self.config.repair_rtt_ms)
                })
                .map(|(k, _)| (ring_position(k), k.as_str()))
                .collect();
            ring.push((ring_position(&self.site), self.site.as_str()));
            ring.sort_unstable();
            let me = ring
                .iter()
                .position(|(_, k)| *k == self.site)
                .unwrap_or_default();
            let n = ring.len();
            let near = (1..n)
                .map(|d| ring[(me + d) % n].1.to_owned())
                .take(self.config.repair_peers)
                .collect();
            self.near = Some(near);
        }
        self.near.as_deref().unwrap_or_default()
    }

    /// A connection to the node of `peer` (an authenticated site id) is up.
    pub fn handle_connect(&mut self, peer: &str, now_ms: u64, replica: &Replica) {
        self.near = None;
        let p = self.peers.entry(peer.to_owned()).or_default();
        *p = Peer {
            last_round_ms: now_ms,
            last_heard_ms: now_ms,
            last_changes_ms: now_ms,
            budget: f64::from(self.config.ingest_burst),
            budget_at_ms: now_ms,
            ..Peer::default()
        };
        p.out.push_back(Message::Hello {
            protocol: PROTOCOL,
            site: self.site.clone(),
            directory_version: replica.directory().map_or(0, |d| d.version()),
        });
        self.flush(peer, replica);
    }

    /// The connection to `peer` is gone.
    pub fn handle_disconnect(&mut self, peer: &str) {
        self.peers.remove(peer);
        self.near = None;
        self.repairs.retain(|_, r| r.peer != peer);
        // What was held back to ask of it is not asked of anyone (a round with another
        // peer finds it again).
        self.after_groups.retain(|(p, _), _| p != peer);
    }

    /// When [`Engine::handle_tick`] next has something to do (ms, on the clock the engine is
    /// given): the earliest catch-up round due, or a postponed fetch timing out. `None` when
    /// nothing is scheduled (no peer). A driver sleeps until then instead of ticking.
    pub fn next_timeout_ms(&self) -> Option<u64> {
        let catching_up = self.fetching.len() > MAX_FETCHING_FOR_ROUNDS;
        let rounds = self
            .peers
            .iter()
            .filter(|(site, p)| {
                !catching_up && p.greeted && !p.sending_whole() && self.starts_rounds_with(site)
            })
            .map(|(_, p)| p.last_round_ms + self.config.resync_interval_ms);
        let fetches =
            (!self.fetching.is_empty()).then_some(self.fetches_checked_ms + FETCH_TIMEOUT_MS);
        rounds.chain(fetches).chain(self.next_repair_ms()).min()
    }

    /// Announced changes asked of their announcer so far (their own copy had not come), and
    /// changes announced to this node by near peers.
    pub fn repair_counts(&self) -> (u64, u64) {
        (self.repairs_asked, self.announced)
    }

    /// When the earliest announced change still to be asked for is due (see
    /// [`Config::repair_peers`]), if any: part of [`Engine::next_timeout_ms`].
    pub fn next_repair_ms(&self) -> Option<u64> {
        self.repairs.values().map(|r| r.due_ms).min()
    }

    /// Time passed: starts catch-up rounds that are due, and drops changes that waited too
    /// long for what they need.
    pub fn handle_tick(&mut self, now_ms: u64, replica: &mut Replica) {
        let expired = replica.expire_pending(now_ms);
        if expired > 0 {
            self.events.push_back(Event::Expired { changes: expired });
        }
        let replica = &*replica;
        let catching_up = self.fetching.len() > MAX_FETCHING_FOR_ROUNDS;
        let due: Vec<String> = self
            .peers
            .iter()
            .filter(|(site, p)| {
                // Not while documents are still being sent whole: the round would find them
                // again and send them twice; nor while many are being fetched (see
                // `MAX_FETCHING_FOR_ROUNDS`).
                !catching_up
                    && p.greeted
                    && !p.sending_whole()
                    && self.starts_rounds_with(site)
                    && now_ms >= p.last_round_ms + self.config.resync_interval_ms
            })
            .map(|(k, _)| k.clone())
            .collect();
        for peer in due {
            self.start_round(&peer, now_ms, replica);
            self.flush(&peer, replica);
        }
        if !self.fetching.is_empty() && now_ms >= self.fetches_checked_ms + FETCH_TIMEOUT_MS {
            self.check_fetches(now_ms, replica);
        }
        self.ask_repairs(now_ms, replica);
    }

    /// Asks announcers for the announced changes still missing once due (see
    /// [`Config::repair_peers`]).
    fn ask_repairs(&mut self, now_ms: u64, replica: &Replica) {
        if self.repairs.values().all(|r| r.due_ms > now_ms) {
            return;
        }
        let mut asks: std::collections::BTreeMap<(String, DocId), Vec<[u8; 32]>> =
            Default::default();
        self.repairs.retain(|hash, r| {
            if r.due_ms > now_ms {
                return true;
            }
            if !replica.knows(&r.doc, hash) {
                asks.entry((r.peer.clone(), r.doc.clone()))
                    .or_default()
                    .push(hash.0);
            }
            false
        });
        let mut peers: BTreeSet<String> = BTreeSet::new();
        for ((peer, doc), hashes) in asks {
            if let Some(p) = self.peers.get_mut(&peer) {
                self.repairs_asked += hashes.len() as u64;
                p.asked.extend(hashes.iter().map(|h| ChangeHash(*h)));
                p.out.push_back(Message::Need { doc, hashes });
                peers.insert(peer);
            }
        }
        for peer in peers {
            self.flush(&peer, replica);
        }
    }

    /// Announces the changes `from` pushed here (not those it sent in answer to a fetch or a
    /// need of ours) to the near peers that may hold them (see [`Config::repair_peers`]).
    fn announce(&mut self, from: &str, accepted: &[(DocId, ChangeHash)], replica: &Replica) {
        if self.config.repair_peers == 0 || accepted.is_empty() {
            return;
        }
        let asked = self.peers.get(from).map(|p| &p.asked);
        let pushed: Vec<&(DocId, ChangeHash)> = accepted
            .iter()
            .filter(|(doc, hash)| {
                self.fetching.get(doc).is_none_or(|(p, _)| p != from)
                    && !asked.is_some_and(|a| a.contains(hash))
            })
            .collect();
        if pushed.is_empty() {
            return;
        }
        let near: Vec<String> = self
            .near_peers()
            .iter()
            .filter(|n| *n != from)
            .cloned()
            .collect();
        for n in near {
            let changes: Vec<(DocId, [u8; 32])> = pushed
                .iter()
                .filter(|(doc, hash)| {
                    replica
                        .doc(doc)
                        .and_then(|d| d.change(hash))
                        .is_some_and(|c| replica.may_receive(&n, c))
                })
                .map(|(doc, hash)| (doc.clone(), hash.0))
                .collect();
            if changes.is_empty() {
                continue;
            }
            if let Some(p) = self.peers.get_mut(&n) {
                p.out.push_back(Message::Have { changes });
            }
            self.flush(&n, replica);
        }
    }

    /// Whether `peer` stopped answering: gone, or silent for [`FETCH_TIMEOUT_MS`].
    fn stalled(&self, peer: &str, now_ms: u64) -> bool {
        self.peers
            .get(peer)
            .is_none_or(|p| now_ms >= p.last_heard_ms + FETCH_TIMEOUT_MS)
    }

    /// Fetches from peers that stopped answering are given up, and the exchanges postponed
    /// for them resume with the other peers: a peer gone or silent, or one asked long ago
    /// that has not sent changes for a while (it had nothing to add, or its answer was
    /// lost). A peer that keeps sending changes (a site joining is sent documents a window at
    /// a time, for minutes) is waited for; what it was asked and never answers is forgotten
    /// once it falls idle.
    fn check_fetches(&mut self, now_ms: u64, replica: &Replica) {
        self.fetches_checked_ms = now_ms;
        let idle = |p: &str| {
            self.peers
                .get(p)
                .is_none_or(|x| now_ms >= x.last_changes_ms + FETCH_TIMEOUT_MS)
        };
        // Not given up merely for being old while its peer keeps sending: a peer sending a
        // joining site the company a window at a time gets to a document minutes after it
        // was asked, and a fetch forgotten meanwhile was asked again of another peer at the
        // next round (a site joining from two peers received 1.39 times what it holds).
        let given_up: Vec<DocId> = self
            .fetching
            .iter()
            .filter(|(_, (p, since))| {
                self.stalled(p, now_ms) || (now_ms >= since + FETCH_TIMEOUT_MS && idle(p))
            })
            .map(|(d, _)| d.clone())
            .collect();
        let mut touched = BTreeSet::new();
        for doc in given_up {
            self.fetch_over(&doc);
            touched.extend(self.resume(doc, false, now_ms, replica));
        }
        touched.extend(self.release_after_groups(now_ms, replica));
        // Postponed for a fetch no longer running (the peer went away and came back).
        let orphans: Vec<DocId> = self
            .deferred
            .keys()
            .filter(|d| !self.fetching.contains_key(*d))
            .cloned()
            .collect();
        for doc in orphans {
            touched.extend(self.resume(doc, false, now_ms, replica));
        }
        for p in touched {
            self.flush(&p, replica);
        }
    }

    /// `peer` answered for `doc`: sent its changes (`got`), or refused. The fetch is over,
    /// and the exchanges postponed for it resume (see [`Engine::resume`]).
    fn fetched(&mut self, peer: &str, doc: &DocId, got: bool, now_ms: u64, replica: &Replica) {
        if self.fetching.get(doc).is_some_and(|(p, _)| p == peer) {
            self.fetch_over(doc);
            let mut touched: BTreeSet<String> = self
                .resume(doc.clone(), got, now_ms, replica)
                .into_iter()
                .collect();
            touched.extend(self.release_after_groups(now_ms, replica));
            for p in touched {
                self.flush(&p, replica);
            }
        }
    }

    /// `doc` is no longer being fetched.
    fn fetch_over(&mut self, doc: &DocId) {
        if self.fetching.remove(doc).is_some() && doc.kind() == crate::DocKind::Group {
            self.groups_fetching -= 1;
        }
    }

    /// Once no group is being fetched, the threads postponed for that are asked for.
    /// Returns the peers asked.
    fn release_after_groups(&mut self, now_ms: u64, replica: &Replica) -> BTreeSet<String> {
        let mut asked = BTreeSet::new();
        if self.groups_fetching > 0 || self.after_groups.is_empty() {
            return asked;
        }
        for p in self.peers.values_mut() {
            p.after_groups = 0;
        }
        for ((peer, doc), a) in std::mem::take(&mut self.after_groups) {
            if !self.peers.contains_key(&peer) || replica.holds(&doc) {
                continue;
            }
            if let Some(heads) = a.heads {
                self.heads_said = Some((peer.clone(), doc.clone(), heads));
            }
            self.send_heads(&peer, doc, a.with_clock, a.reply, now_ms, replica);
            asked.insert(peer);
        }
        asked
    }

    /// After a fetch of `doc` ended: of the peers postponed for it, those that may still hold
    /// something we lack — their heads, when they said them, are not all here; when they did
    /// not, only if the fetch failed (`got` false) — are asked, one at a time (the first now,
    /// the others once it has answered); the rest are dropped (a catch-up round finds any
    /// difference left). Asking them all at once had a site that came back from a partition
    /// receive the same changes from dozens of peers. Returns the peer asked.
    fn resume(&mut self, doc: DocId, got: bool, now_ms: u64, replica: &Replica) -> Vec<String> {
        let Some(peers) = self.deferred.remove(&doc) else {
            return Vec::new();
        };
        let mut left: std::collections::BTreeMap<String, Option<Vec<ChangeHash>>> = peers
            .into_iter()
            .filter(|(p, theirs)| {
                self.peers.contains_key(p)
                    && match theirs {
                        Some(heads) => heads.iter().any(|h| !replica.knows(&doc, h)),
                        None => !got,
                    }
            })
            .collect();
        let Some((first, theirs)) = left.pop_first() else {
            return Vec::new();
        };
        self.send_heads(&first, doc.clone(), theirs.is_some(), true, now_ms, replica);
        if !left.is_empty() {
            self.deferred.entry(doc).or_default().extend(left);
        }
        vec![first]
    }

    /// Whether this side starts the catch-up rounds with `peer`: the side with the smaller
    /// site id does, at the greeting and then every [`Config::resync_interval_ms`]. A round
    /// finds the differences of both sides, so one per pair is enough — in a full mesh of
    /// N sites that is N × (N − 1) / 2 rounds per period, not N × (N − 1).
    fn starts_rounds_with(&self, peer: &str) -> bool {
        self.site.as_str() < peer
    }

    /// A new directory was installed here (from the node's own file, or pushed by an
    /// operator): send it to every connected peer, so that it reaches every site within a
    /// round trip rather than at the next connection.
    pub fn handle_directory_updated(&mut self, replica: &Replica) {
        self.broadcast_directory(None, replica);
    }

    fn broadcast_directory(&mut self, except: Option<&str>, replica: &Replica) {
        let Some(d) = replica.directory() else {
            return;
        };
        let bytes = d.signed.to_bytes();
        for peer in self.greeted_peers(except) {
            if let Some(p) = self.peers.get_mut(&peer) {
                p.out.push_back(Message::Directory {
                    signed: bytes.clone(),
                });
            }
            self.flush(&peer, replica);
        }
    }

    /// A change was made locally (and accepted by the replica): push it to every connected
    /// peer that may receive it (see [`Replica::may_receive`]).
    pub fn handle_local_change(&mut self, change: &SignedChange, replica: &Replica) {
        if !self.config.push_public && replica.is_public(change.doc()) {
            return;
        }
        self.push(change, None, replica);
    }

    /// Pushes a change to every connected peer that may hold it, whatever `push_public` says
    /// (used when a gossip announcement could not be published).
    pub fn push_change(&mut self, change: &SignedChange, replica: &Replica) {
        self.push(change, None, replica);
    }

    /// The peers whose hello arrived, but `except`.
    fn greeted_peers(&self, except: Option<&str>) -> Vec<String> {
        self.peers
            .iter()
            .filter(|(k, p)| p.greeted && Some(k.as_str()) != except)
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn push(&mut self, change: &SignedChange, except: Option<&str>, replica: &Replica) {
        for peer in self.greeted_peers(except) {
            if replica.may_receive(&peer, change) {
                self.queue(&peer, change.clone());
                self.flush(&peer, replica);
            }
        }
    }

    fn queue(&mut self, peer: &str, change: SignedChange) {
        if let Some(p) = self.peers.get_mut(peer)
            && !p.sent.contains(&change.hash())
            && p.queued_set.insert(change.hash())
        {
            p.queued.push(change);
        }
    }

    /// Sends our heads of `doc` to `peer`, so that it sends what we lack (and, if `reply`,
    /// answers with its own). While another peer is already sending us that document, the
    /// exchange is postponed, so that two peers do not both send a returning site the same
    /// history.
    fn send_heads(
        &mut self,
        peer: &str,
        doc: DocId,
        with_clock: bool,
        reply: bool,
        now_ms: u64,
        replica: &Replica,
    ) {
        // A fetch asked lately, or of a peer that still answers, holds the others back.
        if let Some((other, since)) = self.fetching.get(&doc)
            && other != peer
            && (now_ms < since + FETCH_TIMEOUT_MS || !self.stalled(other, now_ms))
        {
            let theirs = self
                .heads_said
                .take()
                .filter(|(p, d, _)| p == peer && *d == doc);
            self.deferred
                .entry(doc)
                .or_default()
                .insert(peer.to_owned(), theirs.map(|(_, _, h)| h));
            return;
        }
        // A thread's changes name the group heads they were written under, and wait for them:
        // a site that holds none of a thread asks for it once no group is being fetched, so
        // that its group arrives first. Asked together, a joining site received threads from
        // one peer while the other still sent their groups — they waited, overflowed what may
        // wait, were dropped and sent again, and their groups' changes were asked of both.
        if doc.kind() == crate::DocKind::Thread
            && self.groups_fetching > 0
            && !replica.holds(&doc)
            && self
                .peers
                .get(peer)
                .is_some_and(|p| p.after_groups < MAX_AFTER_GROUPS_PER_PEER)
        {
            let heads = self
                .heads_said
                .take()
                .filter(|(p, d, _)| p == peer && *d == doc)
                .map(|(_, _, h)| h);
            let a = match self.after_groups.entry((peer.to_owned(), doc)) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    if let Some(p) = self.peers.get_mut(peer) {
                        p.after_groups += 1;
                    }
                    e.insert(AfterGroups {
                        with_clock,
                        reply,
                        heads: None,
                    })
                }
            };
            a.with_clock |= with_clock;
            a.reply |= reply;
            if heads.is_some() {
                a.heads = heads;
            }
            return;
        }
        self.heads_said = None;
        if self
            .fetching
            .insert(doc.clone(), (peer.to_owned(), now_ms))
            .is_none()
            && doc.kind() == crate::DocKind::Group
        {
            self.groups_fetching += 1;
        }
        let held = replica.summary(&doc);
        let heads = held.as_ref().map(|d| d.heads.clone()).unwrap_or_default();
        let clock = with_clock.then(|| {
            held.map(|d| d.clock.into_iter().map(|(k, n)| (k.0, n)).collect())
                .unwrap_or_default()
        });
        if let Some(p) = self.peers.get_mut(peer) {
            p.heads_out.push(DocHeads {
                doc,
                heads: heads.iter().map(|h| h.0).collect(),
                clock,
                reply,
            });
        }
    }

    /// A frame arrived from `peer`.
    pub fn handle_frame(&mut self, peer: &str, frame: &[u8], now_ms: u64, replica: &mut Replica) {
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        p.traffic.frames_received += 1;
        p.traffic.bytes_received += frame.len() as u64;
        p.last_heard_ms = now_ms;
        replica.set_now(now_ms);
        match Message::decode(frame) {
            Ok(msg) => self.handle_message(peer, msg, now_ms, replica),
            Err(error) => self.events.push_back(Event::Malformed {
                peer: peer.to_owned(),
                error,
            }),
        }
        self.flush(peer, replica);
    }

    fn handle_message(&mut self, peer: &str, msg: Message, now_ms: u64, replica: &mut Replica) {
        match msg {
            Message::Hello {
                protocol: _,
                site: _,
                directory_version,
            } => {
                let ours = replica.directory().map_or(0, |d| d.version());
                let Some(p) = self.peers.get_mut(peer) else {
                    return;
                };
                p.greeted = true;
                // The near peers are chosen among greeted ones.
                self.near = None;
                let Some(p) = self.peers.get_mut(peer) else {
                    return;
                };
                if ours > directory_version
                    && let Some(d) = replica.directory()
                {
                    p.out.push_back(Message::Directory {
                        signed: d.signed.to_bytes(),
                    });
                }
                if self.starts_rounds_with(peer) {
                    self.start_round(peer, now_ms, replica);
                }
            }
            Message::Directory { signed } => {
                let result = Signed::from_bytes(&signed)
                    .map_err(|e| e.to_string())
                    .and_then(|s| replica.set_directory(&s).map_err(|e| e.to_string()));
                match result {
                    Ok(report) => {
                        let version = replica.directory().map_or(0, |d| d.version());
                        self.events.push_back(Event::DirectoryUpdated { version });
                        self.after_ingest(peer, report, replica);
                        // Passed on: where sites reach each other only through others, this
                        // is how a new version crosses; a site that has it already refuses
                        // it as not newer, so it stops there.
                        self.broadcast_directory(Some(peer), replica);
                    }
                    Err(error) => self.events.push_back(Event::DirectoryRejected {
                        peer: peer.to_owned(),
                        error,
                    }),
                }
            }
            Message::Ranges { ranges } if ranges.is_empty() => {
                // The peer found nothing more to say: the round is over on both sides.
                if let Some(p) = self.peers.get(peer) {
                    self.events.push_back(Event::Reconciled {
                        peer: peer.to_owned(),
                        differing: p.differing.len(),
                    });
                }
            }
            Message::Ranges { ranges } => {
                // The side with the smaller site id starts the rounds (see `handle_tick`); on
                // this side, the first message of a round begins it.
                if let Some(p) = self.peers.get_mut(peer)
                    && now_ms >= p.last_round_ms + self.config.resync_interval_ms / 2
                    && peer < self.site.as_str()
                    && !p.sending_whole()
                {
                    p.last_round_ms = now_ms;
                    p.differing.clear();
                    p.sent.clear();
                }
                self.items.refresh(replica);
                let set = PeerItems {
                    cache: &self.items,
                    replica,
                    peer,
                };
                match ranges::respond(&set, &ranges) {
                    Ok(step) => {
                        let Some(p) = self.peers.get_mut(peer) else {
                            return;
                        };
                        // An empty reply ends the round: it is sent too, so that the peer
                        // knows (and counts) the round as over.
                        p.out.push_back(Message::Ranges {
                            ranges: step.reply.clone(),
                        });
                        // Differences found in a final list (one that asked for no reply)
                        // were also found by the peer when it received our list, and it has
                        // sent its heads for them: sending ours too would double the work.
                        let mut new_docs = Vec::new();
                        for key in step.differing {
                            if p.differing.insert(key.clone())
                                && !in_final_list(&ranges, &key)
                                && let Ok(doc) = DocId::parse(&key)
                            {
                                new_docs.push(doc);
                            }
                        }
                        let finished = step.reply.is_empty().then_some(p.differing.len());
                        for doc in new_docs {
                            self.send_heads(peer, doc, false, true, now_ms, replica);
                        }
                        if let Some(differing) = finished {
                            self.events.push_back(Event::Reconciled {
                                peer: peer.to_owned(),
                                differing,
                            });
                        }
                    }
                    Err(e) => self.events.push_back(Event::Malformed {
                        peer: peer.to_owned(),
                        error: FrameError::Limit(e.to_string()),
                    }),
                }
            }
            Message::Heads { docs } => {
                // Heads are no answer to a fetch: a peer sends its heads before the changes
                // of the same exchange.
                for d in docs {
                    self.handle_heads(peer, d, now_ms, replica);
                }
            }
            Message::Changes { certs, changes } => {
                if !self.spend(peer, changes.len() + certs.len(), now_ms) {
                    self.events.push_back(Event::Throttled {
                        peer: peer.to_owned(),
                        changes: changes.len(),
                    });
                    return;
                }
                let mut report = IngestReport::default();
                for c in &certs {
                    let added = Signed::<EmployeeCert>::from_bytes(c)
                        .map_err(|e| e.to_string())
                        .and_then(|cert| replica.add_certificate(&cert).map_err(|e| e.to_string()));
                    match added {
                        Ok(r) => merge_report(&mut report, r),
                        Err(error) => self.events.push_back(Event::CertificateRefused {
                            peer: peer.to_owned(),
                            error,
                        }),
                    }
                }
                let r = replica.ingest_bytes_from(peer, changes.iter().map(Vec::as_slice));
                merge_report(&mut report, r);
                if let Some(p) = self.peers.get_mut(peer) {
                    p.last_changes_ms = now_ms;
                }
                self.announce(peer, &report.accepted, replica);
                self.after_ingest(peer, report, replica);
            }
            Message::Need { doc, hashes } => {
                replica.load(&doc);
                replica.flush_all();
                let may_hold = replica.may_hold(peer, &doc);
                let found: Vec<SignedChange> = replica
                    .doc(&doc)
                    .map(|d| {
                        hashes
                            .iter()
                            .filter_map(|h| d.change(&ChangeHash(*h)).cloned())
                            .filter(|c| may_hold || replica.may_receive(peer, c))
                            .collect()
                    })
                    .unwrap_or_default();
                if found.is_empty() && !may_hold {
                    self.refuse(peer, doc);
                    return;
                }
                for c in found {
                    self.queue(peer, c);
                }
            }
            Message::Have { changes } => {
                let due_ms = now_ms + self.config.repair_grace_ms;
                self.announced += changes.len() as u64;
                for (doc, hash) in changes {
                    let hash = ChangeHash(hash);
                    if self.repairs.len() >= MAX_REPAIRS {
                        break;
                    }
                    if !replica.knows(&doc, &hash) && !self.repairs.contains_key(&hash) {
                        self.repairs.insert(
                            hash,
                            Repair {
                                peer: peer.to_owned(),
                                doc,
                                due_ms,
                            },
                        );
                    }
                }
            }
            Message::NeedCerts { keys } => {
                let certs: Vec<Vec<u8>> = keys
                    .iter()
                    .flat_map(|k| replica.certificates_of(&KeyId(*k)))
                    .map(|c| c.to_bytes())
                    .collect();
                if let Some(p) = self.peers.get_mut(peer)
                    && !certs.is_empty()
                {
                    p.out.push_back(Message::Changes {
                        certs,
                        changes: vec![],
                    });
                }
            }
            Message::Answered { docs } => {
                // The peer's answer for these documents is all here (frames arrive in the
                // order they were sent): the fetches are over, whether or not it had
                // anything to add. Ending a fetch by the peer's word rather than by a quiet
                // moment matters when both sides are busy: a site joining from two peers
                // received 1.39 times what it holds when a slow frame or a round's message
                // between two frames of a document ended its fetch early, and the other peer
                // was asked for the rest while the first still sent it.
                for doc in docs {
                    self.fetched(peer, &doc, true, now_ms, replica);
                }
            }
            Message::Refused { doc } => {
                self.fetched(peer, &doc, false, now_ms, replica);
                self.events.push_back(Event::RefusedByPeer {
                    peer: peer.to_owned(),
                    doc,
                });
            }
        }
    }

    /// Takes `n` changes from the peer's ingest budget (a token bucket that may go into debt,
    /// so that one bundle larger than the burst still passes when the peer has been quiet);
    /// false if the peer is in debt already.
    fn spend(&mut self, peer: &str, n: usize, now_ms: u64) -> bool {
        let (rate, burst) = (
            f64::from(self.config.ingest_changes_per_sec),
            f64::from(self.config.ingest_burst),
        );
        let Some(p) = self.peers.get_mut(peer) else {
            return false;
        };
        let elapsed = now_ms.saturating_sub(p.budget_at_ms) as f64 / 1000.0;
        p.budget = (p.budget + elapsed * rate).min(burst);
        p.budget_at_ms = now_ms.max(p.budget_at_ms);
        if p.budget <= 0.0 {
            return false;
        }
        p.budget -= n as f64;
        true
    }

    fn refuse(&mut self, peer: &str, doc: DocId) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.out.push_back(Message::Refused { doc: doc.clone() });
        }
        self.events.push_back(Event::Refused {
            peer: peer.to_owned(),
            doc,
        });
    }

    /// Another node's heads (and perhaps its clock) for a document. Sends exactly what it
    /// lacks when that can be known — from its clock, or from its heads when we hold them
    /// all — and, if we lack some of its changes, our clock so it can send exactly those.
    /// The exchange ends after at most three messages.
    fn handle_heads(&mut self, peer: &str, d: DocHeads, now_ms: u64, replica: &mut Replica) {
        if replica.holds(&d.doc) && !replica.may_hold(peer, &d.doc) {
            // The peer holds a group it may no longer hold: send it what it may still receive
            // — the changes up to and including the one that shut it out (see
            // `Replica::may_receive`) — so that it learns why, then refuse the rest.
            replica.load(&d.doc);
            replica.flush_all();
            // A site that held the group says so with heads or a clock; one that claims
            // nothing gets nothing (and cannot make us scan a group's history for free). At
            // most [`MAX_SHAREABLE_SCAN`] of the changes it lacks are looked at, oldest first:
            // the change that shut it out comes soon after what it last held.
            let theirs = d.hashes();
            let claims = !theirs.is_empty() || d.clock.as_ref().is_some_and(|c| !c.is_empty());
            let shareable: Vec<SignedChange> = replica
                .doc(&d.doc)
                .filter(|_| claims)
                .map(|doc| {
                    let missing = match &d.clock {
                        Some(clock) => {
                            let clock = clock.iter().map(|(k, n)| (KeyId(*k), *n)).collect();
                            doc.changes_missing_from_clock(&clock)
                        }
                        None => doc.changes_missing_from(&theirs),
                    };
                    missing
                        .into_iter()
                        .take(MAX_SHAREABLE_SCAN)
                        .filter(|c| replica.may_receive(peer, c))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            for c in shareable {
                self.queue(peer, c);
            }
            self.refuse(peer, d.doc);
            return;
        }
        // A peer that holds none of a document put away here (a site joining, a group it
        // just joined) gets its stored changes as they are, not read back into memory first:
        // a joining site asks for every document, and reading each back would hold the whole
        // company in memory before anything is sent.
        let holds_none = d.heads.is_empty() && d.clock.as_ref().is_none_or(|c| c.is_empty());
        if holds_none
            && self.config.window_frames.is_some()
            && replica.holds(&d.doc)
            && let Some(p) = self.peers.get_mut(peer)
        {
            // Sent as the window opens (see `Engine::flush`), and said answered then.
            if p.backlog_set.insert(d.doc.clone()) {
                p.backlog.push_back(d.doc);
            }
            return;
        }
        if holds_none
            && !replica.is_loaded(&d.doc)
            && let Some(stored) = replica.stored_changes(&d.doc)
        {
            for c in stored {
                self.queue(peer, c);
            }
            self.answered(peer, d.doc);
            return;
        }
        replica.load(&d.doc);
        let replica = &*replica;
        let held = replica.doc(&d.doc).filter(|x| !x.is_empty());
        let Some(doc) = held else {
            // We hold none of it: nothing to send; ask for all of it.
            self.answered(peer, d.doc.clone());
            if d.reply {
                self.heads_said = Some((peer.to_owned(), d.doc.clone(), d.hashes()));
                self.send_heads(peer, d.doc, true, d.clock.is_none(), now_ms, replica);
            }
            return;
        };
        let theirs = d.hashes();
        let missing: Vec<SignedChange> = match &d.clock {
            Some(clock) => {
                let clock = clock.iter().map(|(k, n)| (KeyId(*k), *n)).collect();
                doc.changes_missing_from_clock(&clock)
                    .into_iter()
                    .cloned()
                    .collect()
            }
            None if theirs.iter().all(|h| doc.has(h)) => doc
                .changes_missing_from(&theirs)
                .into_iter()
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let we_lack = theirs.iter().any(|h| !doc.has(h));
        for c in missing {
            self.queue(peer, c);
        }
        self.answered(peer, d.doc.clone());
        if d.reply && we_lack {
            self.heads_said = Some((peer.to_owned(), d.doc.clone(), theirs));
            self.send_heads(peer, d.doc, true, d.clock.is_none(), now_ms, replica);
        }
    }

    /// What was queued for `peer` of `doc` is all this side will send in answer to its heads:
    /// a [`Message::Answered`] follows the changes.
    fn answered(&mut self, peer: &str, doc: DocId) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.answered.push(doc);
        }
    }

    fn after_ingest(&mut self, peer: &str, report: IngestReport, replica: &Replica) {
        // Ask for what the received changes wait for.
        let mut need: HashMap<DocId, Vec<[u8; 32]>> = HashMap::new();
        let mut need_certs = Vec::new();
        for (hash, w) in &report.waiting {
            match w {
                Waiting::Change(doc, h) => {
                    let _ = hash;
                    if let Some(p) = self.peers.get_mut(peer)
                        && p.asked.insert(*h)
                    {
                        need.entry(doc.clone()).or_default().push(h.0);
                    }
                }
                Waiting::Certificate(k) => need_certs.push(k.0),
                Waiting::Directory(_) => {}
            }
        }
        if let Some(p) = self.peers.get_mut(peer) {
            for (doc, hashes) in need {
                p.out.push_back(Message::Need { doc, hashes });
            }
            if !need_certs.is_empty() {
                need_certs.sort_unstable();
                need_certs.dedup();
                p.out.push_back(Message::NeedCerts { keys: need_certs });
            }
        }
        if self.config.relay {
            for (doc, hash) in &report.accepted {
                if let Some(c) = replica.doc(doc).and_then(|d| d.change(hash)).cloned() {
                    self.push(&c, Some(peer), replica);
                }
            }
        }
        self.events.push_back(Event::Ingested {
            peer: peer.to_owned(),
            accepted: report.accepted,
            rejected: report
                .rejected
                .into_iter()
                .map(|(d, _, r)| (d, r))
                .collect(),
            waiting: report.waiting.len(),
        });
    }

    fn start_round(&mut self, peer: &str, now_ms: u64, replica: &Replica) {
        self.items.refresh(replica);
        let set = PeerItems {
            cache: &self.items,
            replica,
            peer,
        };
        let first = ranges::initiate(&set);
        if let Some(p) = self.peers.get_mut(peer) {
            p.last_round_ms = now_ms;
            p.differing.clear();
            p.sent.clear();
            p.out.push_back(Message::Ranges { ranges: first });
        }
    }

    /// A frame sent to `peer` arrived (or was given up on): the window opens by one, and
    /// more of the documents waiting to be sent whole go out.
    pub fn handle_delivered(&mut self, peer: &str, replica: &Replica) {
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        p.in_flight = p.in_flight.saturating_sub(1);
        if p.sending_whole() {
            self.flush(peer, replica);
        }
    }

    /// How many documents wait to be sent whole to `peer` as its window opens (counting the
    /// one being sent).
    pub fn backlog(&self, peer: &str) -> usize {
        self.peers
            .get(peer)
            .map_or(0, |p| p.backlog.len() + usize::from(!p.sending.is_empty()))
    }

    /// Turns what is queued for `peer` into frames, then, while the window allows, the
    /// documents waiting to be sent whole.
    fn flush(&mut self, peer: &str, replica: &Replica) {
        self.flush_queued(peer, replica);
        let Some(window) = self.config.window_frames else {
            return;
        };
        let max = self.config.max_frame.min(MAX_FRAME);
        loop {
            let Some(p) = self.peers.get_mut(peer) else {
                return;
            };
            if p.in_flight >= window || !p.sending_whole() {
                return;
            }
            // One frame's worth of changes at a time.
            let mut bytes = 0;
            while bytes < max {
                if let Some(c) = p.sending.pop_front() {
                    if bytes > 0 && bytes + c.bytes().len() > max {
                        p.sending.push_front(c);
                        break;
                    }
                    if !p.sent.contains(&c.hash()) && p.queued_set.insert(c.hash()) {
                        bytes += c.bytes().len();
                        p.queued.push(c);
                    }
                    // The document's last change is queued: the answer is complete once
                    // this frame is out.
                    if p.sending.is_empty()
                        && let Some(done) = p.sending_doc.take()
                    {
                        p.answered.push(done);
                    }
                    continue;
                }
                let Some(doc) = p.backlog.pop_front() else {
                    break;
                };
                p.backlog_set.remove(&doc);
                if !replica.may_hold(peer, &doc) {
                    p.answered.push(doc);
                    continue;
                }
                p.sending = match replica.stored_changes(&doc) {
                    Some(stored) => stored.into(),
                    None => replica
                        .doc(&doc)
                        .map(|d| d.changes().cloned().collect())
                        .unwrap_or_default(),
                };
                if p.sending.is_empty() {
                    p.answered.push(doc);
                } else {
                    p.sending_doc = Some(doc);
                }
            }
            self.flush_queued(peer, replica);
        }
    }

    /// Turns what is queued for `peer` into frames.
    fn flush_queued(&mut self, peer: &str, replica: &Replica) {
        let max = self.config.max_frame.min(MAX_FRAME);
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let mut frames: Vec<(&'static str, Vec<u8>)> = Vec::new();
        while let Some(m) = p.out.pop_front() {
            frames.push((m.name(), m.encode()));
        }
        if !p.heads_out.is_empty() {
            let docs = std::mem::take(&mut p.heads_out);
            for chunk in docs.chunks(super::message::MAX_DOCS_PER_MESSAGE.min(1024)) {
                let frame = Message::Heads {
                    docs: chunk.to_vec(),
                }
                .encode();
                frames.push(("heads", frame));
            }
        }
        if !p.queued.is_empty() {
            let queued = std::mem::take(&mut p.queued);
            p.queued_set.clear();
            let mut certs: Vec<Vec<u8>> = Vec::new();
            let mut changes: Vec<Vec<u8>> = Vec::new();
            let mut size = 16;
            for c in queued {
                let mut extra = c.bytes().len() + 4;
                let key = c.key_id();
                let cert = if p.certs_sent.contains(&key) {
                    None
                } else {
                    replica
                        .certificate_for(&key, c.author())
                        .map(|x| x.to_bytes())
                };
                if let Some(cb) = &cert {
                    extra += cb.len() + 4;
                }
                if size + extra > max && !changes.is_empty() {
                    frames.push((
                        "changes",
                        Message::Changes {
                            certs: std::mem::take(&mut certs),
                            changes: std::mem::take(&mut changes),
                        }
                        .encode(),
                    ));
                    size = 16;
                }
                if let Some(cb) = cert {
                    p.certs_sent.insert(key);
                    certs.push(cb);
                }
                p.sent.insert(c.hash());
                p.traffic.change_bytes_sent += c.bytes().len() as u64;
                p.traffic.changes_sent += 1;
                changes.push(c.bytes().to_vec());
                size += extra;
            }
            if !changes.is_empty() || !certs.is_empty() {
                frames.push(("changes", Message::Changes { certs, changes }.encode()));
            }
        }
        if !p.answered.is_empty() {
            let docs = std::mem::take(&mut p.answered);
            for chunk in docs.chunks(super::message::MAX_DOCS_PER_MESSAGE) {
                let frame = Message::Answered {
                    docs: chunk.to_vec(),
                };
                frames.push(("answered", frame.encode()));
            }
        }
        for (kind, f) in frames {
            *p.bytes_by_kind.entry(kind).or_default() += f.len() as u64;
            p.in_flight += 1;
            p.traffic.frames_sent += 1;
            p.traffic.bytes_sent += f.len() as u64;
            self.outbox.push_back((peer.to_owned(), f));
        }
    }

    /// The next frame to send: (peer site, bytes).
    pub fn poll_transmit(&mut self) -> Option<(String, Vec<u8>)> {
        self.outbox.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

fn merge_report(into: &mut IngestReport, from: IngestReport) {
    into.accepted.extend(from.accepted);
    into.rejected.extend(from.rejected);
    into.waiting.extend(from.waiting);
    into.duplicates += from.duplicates;
}

/// Whether `key` falls in a range of `msg` that lists items and asks for no reply.
fn in_final_list(msg: &[ranges::Range], key: &str) -> bool {
    for r in msg {
        let below = r.upper.as_deref().is_none_or(|u| key < u);
        if below {
            return matches!(r.mode, ranges::Mode::Items { reply: false, .. });
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::World;
    use crate::{GroupSettings, NewGroup, Visibility};
    use ranges::Items;

    /// The items `peer` may hold, read from every document (what the cache stands for).
    fn read_whole(replica: &Replica, peer: &str) -> ranges::ItemSet {
        let mut set = ranges::ItemSet::new();
        for id in replica.doc_ids() {
            if replica.may_hold(peer, id) {
                let mut input = Vec::new();
                for h in replica.heads_of(id).unwrap_or_default() {
                    input.extend_from_slice(&h.0);
                }
                set.insert(
                    id.as_str().to_owned(),
                    Fingerprint::of_item(id.as_str(), &input),
                );
            }
        }
        set
    }

    fn check(w: &World, r: &Replica, cache: &mut ItemCache) {
        cache.refresh(r);
        for peer in &w.sites {
            let view = PeerItems {
                cache,
                replica: r,
                peer,
            };
            let truth = read_whole(r, peer);
            let ours: Vec<_> = view.range("", None).collect();
            let theirs: Vec<_> = truth.iter().collect();
            assert_eq!(ours, theirs, "items shown to {peer}");
            assert_eq!(view.summarize("", None), truth.summarize("", None));
            assert_eq!(view.len(), truth.len());
            if let Some((mid, _)) = theirs.get(theirs.len() / 2) {
                assert_eq!(
                    view.summarize("", Some(mid)),
                    truth.summarize("", Some(mid))
                );
                assert_eq!(view.summarize(mid, None), truth.summarize(mid, None));
            }
        }
    }

    #[test]
    fn the_item_cache_shows_each_peer_what_reading_every_document_would() {
        let w = World::new(3, 9);
        let mut r = w.replica();
        let mut cache = ItemCache::default();
        check(&w, &r, &mut cache);
        let a = w.authors[0].clone();
        let group = |r: &mut Replica, vis, nonce| {
            r.create_group(
                &a,
                &NewGroup {
                    name: "Club",
                    description: "",
                    visibility: vis,
                    home_site: "site0",
                },
                1_000,
                nonce,
            )
            .unwrap()
        };
        let public = group(&mut r, Visibility::Public, 1);
        let (t1, _) = r
            .create_thread(&a, public.doc(), "Ouvert", "à tous", 1_100, 2)
            .unwrap();
        check(&w, &r, &mut cache);
        let private = group(&mut r, Visibility::Private, 3);
        let (t2, _) = r
            .create_thread(&a, private.doc(), "Fermé", "entre nous", 1_200, 4)
            .unwrap();
        check(&w, &r, &mut cache);
        // A member at site 1: the private group and its thread are shown to site 1 now,
        // with nothing to refresh in the cache but the group's own item.
        r.add_member(&a, private.doc(), "e1", 1_300).unwrap();
        check(&w, &r, &mut cache);
        r.reply(&a, t1.doc(), "réponse", None, 1_400, 5).unwrap();
        r.reply(&a, t2.doc(), "réponse", None, 1_400, 6).unwrap();
        check(&w, &r, &mut cache);
        // Visibility flips both ways: the cache reads every document again.
        for (g, vis) in [
            (public.doc(), Visibility::Private),
            (private.doc(), Visibility::Public),
        ] {
            let settings = GroupSettings {
                visibility: Some(vis),
                ..GroupSettings::default()
            };
            r.update_group(&a, g, &settings, 1_500).unwrap();
            check(&w, &r, &mut cache);
        }
    }

    /// A peer claiming many threads while groups are being fetched has at most
    /// [`MAX_AFTER_GROUPS_PER_PEER`] held back; the rest are asked for at once, and the
    /// count starts again once they are released.
    #[test]
    fn threads_held_back_for_a_peer_are_bounded() {
        let w = World::new(2, 2);
        let r = w.replica();
        let mut e = Engine::new("site1".to_owned(), Config::default());
        e.handle_connect("site0", 0, &r);
        e.groups_fetching = 1;
        let extra = 5;
        for n in 0..MAX_AFTER_GROUPS_PER_PEER + extra {
            let id = DocId::from_genesis(crate::DocKind::Thread, &distinct_hash(n as u64));
            e.send_heads("site0", id, false, true, 0, &r);
        }
        assert_eq!(e.after_groups.len(), MAX_AFTER_GROUPS_PER_PEER);
        assert_eq!(e.peers["site0"].after_groups, MAX_AFTER_GROUPS_PER_PEER);
        assert_eq!(e.peers["site0"].heads_out.len(), extra, "asked at once");
        e.groups_fetching = 0;
        e.release_after_groups(0, &r);
        assert!(e.after_groups.is_empty());
        assert_eq!(e.peers["site0"].after_groups, 0);
    }

    /// A made-up change hash, different for every `n`.
    fn distinct_hash(n: u64) -> ChangeHash {
        let mut h = [0u8; 32];
        for (i, c) in h.chunks_mut(8).enumerate() {
            c.copy_from_slice(&(n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i as u64).to_be_bytes());
        }
        ChangeHash(h)
    }
}

//! A replica: every document a node holds, the directory and certificates it judges authors
//! by, and the ingest pipeline that decides, for each signed change, *accept*, *reject* or
//! *wait*.
//!
//! The pipeline, for one change (see the crate docs for why each step is order-independent):
//!
//! 1. already held or already rejected → nothing to do;
//! 2. a directory version far ahead of ours ([`MAX_VERSIONS_AHEAD`]) → refuse; unknown key →
//!    wait for its certificate;
//! 3. the envelope's signature under the certified key → refuse if it fails (checked before
//!    any further waiting, so forgeries never park);
//! 4. a directory version newer than ours → wait for the directory;
//! 5. the author's **standing** (see below) → refuse, unless a change in good standing
//!    depends on this one (*vouching*);
//! 6. dependencies not all held → wait for them (a dependency that was rejected rejects this
//!    change too);
//! 7. structure (seq, op counters, actors, objects, no lists/text/counters) and the
//!    **floors** (see below) → reject if wrong;
//! 8. for threads, the group heads the change names → wait until the group document holds
//!    them; then the auth-heads floor;
//! 9. the write rules → reject if any write is forbidden;
//! 10. apply, then wake whatever was waiting for this change.
//!
//! ## Standing: who may still sign
//!
//! A certificate is judged **as of the directory version the change names** *and* **as of the
//! version that was in force when the change says it was made** (its signed timestamp,
//! less [`CLOCK_GRACE_SECS`] for clocks that disagree; [`weft_keys::Directory::issued`]
//! dates every version). The author must be active, homed at the certificate's site, and the
//! certificate signed by that site's node key, at both; a node key the directory revokes is
//! no site's key at any version. So an employee who left cannot sign by naming an older
//! version, and a site's old key stops working when the site re-enrolls or the key is
//! revoked.
//!
//! These answers come from the directory the *receiver* holds, which can be older or newer
//! than another node's: two nodes may judge one change differently for the minute a new
//! directory takes to reach everyone. A refusal on standing is therefore never remembered,
//! never rejects the changes that depend on it, and is lifted by **vouching**: when a change
//! in good standing (one that passed every check so far) waits for a refused one as a
//! dependency, the refused one is accepted. An honest node only builds on what it accepted,
//! so this happens only for changes an honest node accepted while its directory was older;
//! without it, one stale node would split a document for good. A change nobody builds on
//! stays refused by every node that knows the new directory. (A compromised node could vouch
//! for its own stale changes by building on them with a current employee's key; revoking its
//! key ends that: see SECURITY.md.)
//!
//! ## Floors: what a change may not name
//!
//! Decided from the change and its causal past only, so every node agrees: a change may not
//! name an older directory version than any change it depends on, and a thread change may not
//! name group heads that are not descendants of (or equal to) the group heads named by every
//! change it depends on. An honest node always names its newest directory and group heads,
//! and holds everything its dependencies named, so it never hits a floor; a node naming an
//! old state on purpose to pass a rule does.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use automerge::ChangeHash;
use weft_keys::directory::{self, DirectoryError, SignedDirectory, VerifiedDirectory};
use weft_keys::{Domain, EmployeeCert, KeyId, PublicKey, Role, Signed, SignedError, TrustAnchors};

use crate::change::{DecodeError, SignedChange};
use crate::doc::{Doc, StructureError};
use crate::ids::{DocId, DocKind};
use crate::rules::{self, RuleCtx, RuleError};

/// At most this many changes wait for something at once; beyond it, new arrivals that would
/// wait are dropped (and fetched again by the next catch-up), so a peer cannot fill our memory
/// with changes whose dependencies never come.
pub const MAX_PENDING: usize = 100_000;
/// At most this many bytes of changes wait at once (a waiting change can be up to
/// [`crate::change::MAX_CHANGE_BYTES`]; counting alone would allow 100,000 of them).
pub const MAX_PENDING_BYTES: usize = 64 * 1024 * 1024;
/// At most this many bytes of waiting changes came from one peer, so one peer cannot take the
/// whole budget from the others.
pub const MAX_PENDING_BYTES_PER_ORIGIN: usize = 16 * 1024 * 1024;
/// How long a change may wait for what it needs before it is dropped (a catch-up brings it
/// again if it is real).
pub const PENDING_TTL_MS: u64 = 10 * 60 * 1000;
/// A change naming a directory version more than this many versions ahead of ours is refused
/// outright instead of waiting: the authority publishes one version at a time, and a site
/// that far behind gets the directory in its next hello.
pub const MAX_VERSIONS_AHEAD: u64 = 16;
/// How much earlier than a change's own timestamp the version "in force" is looked up: room
/// for the authority's clock and a node's to disagree (servers keep time with NTP to well
/// under a second; ten seconds also covers a node that was signing while the new version
/// was being copied to it).
pub const CLOCK_GRACE_SECS: u64 = 10;
/// At most this many certificates are kept per key: a bad one never blocks a good one, and a
/// peer cannot pile them up.
pub const MAX_CERTS_PER_KEY: usize = 4;

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    #[error("malformed: {0}")]
    Malformed(#[from] DecodeError),
    #[error("author: {0}")]
    Author(String),
    /// The author's certificate is not valid under the directory this node holds now (left,
    /// moved, key rotated or revoked): refused, not remembered, lifted by vouching.
    #[error("author standing: {0}")]
    Standing(String),
    /// The change names an older state than its causal past already named.
    #[error("floor: {0}")]
    Floor(String),
    /// Too much is waiting already (in all, or from this peer): dropped for now; a catch-up
    /// brings it again.
    #[error("too much is waiting: dropped for now")]
    Overloaded,
    #[error("signature does not verify")]
    Signature,
    #[error("depends on a rejected change")]
    RejectedDependency,
    #[error("structure: {0}")]
    Structure(#[from] StructureError),
    #[error("rule: {0}")]
    Rule(#[from] RuleError),
    #[error("a thread change must name the group heads it was authorised against")]
    NoAuthHeads,
    #[error("thread does not name a valid group")]
    NoGroup,
    /// The change's document could not be read back from the node's storage: nothing was
    /// decided, and the change may be offered again.
    #[error("document unavailable: {0}")]
    Unavailable(String),
}

impl Rejection {
    /// A short machine name for metrics (`rejections_total{reason=…}`).
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Malformed(_) => "malformed",
            Rejection::Author(_) => "author",
            Rejection::Standing(_) => "standing",
            Rejection::Floor(_) => "floor",
            Rejection::Overloaded => "overloaded",
            Rejection::Signature => "signature",
            Rejection::RejectedDependency => "rejected_dependency",
            // Two changes by one key with one seq: proof that whoever holds the key signed
            // both — a compromised node. Counted apart so that operators see it.
            Rejection::Structure(StructureError::Equivocation(_)) => "equivocation",
            Rejection::Structure(_) => "structure",
            Rejection::Rule(_) => "rule",
            Rejection::NoAuthHeads | Rejection::NoGroup => "authorisation",
            Rejection::Unavailable(_) => "unavailable",
        }
    }
}

/// What a waiting change waits for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Waiting {
    /// A change of a document (a dependency, or a group head named for authorisation).
    Change(DocId, ChangeHash),
    /// The certificate of a key.
    Certificate(KeyId),
    /// A directory at least this version.
    Directory(u64),
}

/// The outcome of ingesting a batch.
#[derive(Debug, Default)]
pub struct IngestReport {
    /// Changes accepted and applied, in order.
    pub accepted: Vec<(DocId, ChangeHash)>,
    /// Changes refused, with the reason.
    pub rejected: Vec<(Option<DocId>, Option<ChangeHash>, Rejection)>,
    /// Changes now waiting, and for what.
    pub waiting: Vec<(ChangeHash, Waiting)>,
    /// Changes already held or already judged.
    pub duplicates: usize,
}

impl IngestReport {
    fn merge(&mut self, other: IngestReport) {
        self.accepted.extend(other.accepted);
        self.rejected.extend(other.rejected);
        self.waiting.extend(other.waiting);
        self.duplicates += other.duplicates;
    }
}

/// A certificate whose signature has been checked once; its validity as of a directory version
/// is checked per change.
#[derive(Debug, Clone)]
struct KnownCert {
    body: EmployeeCert,
    signer: PublicKey,
    signed: Signed<EmployeeCert>,
}

/// Why a directory or certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplicaError {
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error("certificate: {0}")]
    Certificate(#[from] SignedError),
    #[error("certificate refused: {0}")]
    UntrustedCertificate(String),
}

/// Where a replica reads back the documents it let go of (see [`Replica::evict`]): the
/// node's store. Implementations do the I/O; the replica only calls them.
pub trait DocSource: Send + Sync {
    /// The stored signed changes of `doc`, in the order they were accepted (dependencies
    /// first). An unknown document has none.
    fn changes_of(&self, doc: &DocId) -> Result<Vec<Vec<u8>>, String>;
}

/// What a replica keeps of a document that is not in memory: enough for range
/// reconciliation (heads), for exact catch-up requests (clock), for access decisions (a
/// thread's group) and for counting. The document itself is read back from the
/// [`DocSource`] the first time something needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocSummary {
    /// The heads, sorted.
    pub heads: Vec<ChangeHash>,
    /// For each author key, how many of its changes are held; sorted by key.
    pub clock: Vec<(KeyId, u64)>,
    /// For a thread, its group.
    pub group: Option<DocId>,
    /// How many changes the document holds.
    pub changes: u64,
}

impl DocSummary {
    /// The summary of a document in memory.
    pub fn of(doc: &Doc) -> DocSummary {
        let mut clock = doc.clock();
        clock.sort_unstable();
        DocSummary {
            heads: doc.heads(),
            clock,
            group: doc.group().cloned(),
            changes: doc.len() as u64,
        }
    }
}

/// Every document a node holds, and how it judges changes.
///
/// Documents are either **in memory** ([`Doc`], with everything validation needs) or **put
/// away** ([`DocSummary`] only), once a [`DocSource`] is set: [`Replica::evict`] puts away
/// the least recently used ones, and anything that needs one again — a change for it, a
/// peer's heads or request, a local command, [`Replica::load`] — reads it back from the
/// source first, replaying its stored changes through the same pipeline (signatures and write
/// rules, which were checked when the changes were first accepted, are not checked again).
/// Groups are put away like the rest: who may hold each group is kept apart from its document
/// ([`GroupAccess`]), so access decisions read no document, and judging a thread's change reads
/// its group back and counts it as used, so the groups of active threads stay in memory.
#[derive(Clone)]
pub struct Replica {
    trust: TrustAnchors,
    directory: Option<VerifiedDirectory>,
    /// Certificates by key: at most [`MAX_CERTS_PER_KEY`] each, every one signed by a node key
    /// the directory lists for its site.
    certs: HashMap<KeyId, Vec<KnownCert>>,
    /// How many certificates were learnt: a caller storing new ones looks only when it grew.
    certs_learnt: u64,
    docs: BTreeMap<DocId, Doc>,
    /// Who may hold each group: kept from the entries each change writes, so that
    /// [`Replica::may_hold`] (asked for every document at every sync round) reads no
    /// document.
    access: HashMap<DocId, GroupAccess>,
    /// Documents put away: their summaries.
    cold: BTreeMap<DocId, DocSummary>,
    source: Option<Arc<dyn DocSource>>,
    /// A counter that orders uses of documents (for eviction).
    tick: u64,
    /// How many documents were read back from the source so far.
    loads: u64,
    pending: HashMap<ChangeHash, Parked>,
    /// Bytes of the changes in `pending`, in all and by origin.
    pending_bytes: usize,
    pending_by_origin: HashMap<Arc<str>, usize>,
    waiters: HashMap<Waiting, Vec<ChangeHash>>,
    rejected: HashSet<ChangeHash>,
    /// Set while replaying the node's own store: those changes were verified when they were
    /// accepted, so their signatures are not checked again (see [`Replica::ingest_stored`]).
    replaying: bool,
    /// Where the changes being ingested came from (a peer's site), and since when they wait
    /// (for changes woken and parked again): for the pending budgets and their expiry.
    parking: (u64, Option<Arc<str>>),
    /// The time, as last told by the driver ([`Replica::set_now`]), in milliseconds.
    now_ms: u64,
    /// Stored changes that could not be decoded when read back (counted, logged by the
    /// node).
    stored_unreadable: u64,
    /// Changes refused on standing and then accepted because a change in good standing
    /// depended on them.
    vouched: u64,
    /// The documents whose heads changed (or that appeared), in order, for what callers keep
    /// per document (the sync engine's item fingerprints): see [`Replica::touched_since`].
    touched: VecDeque<DocId>,
    /// The generation of the entry before `touched`'s first (entries dropped so far).
    touched_from: u64,
    /// Counts the groups that turned public or stopped being public.
    visibility_changes: u64,
}

/// How many entries of [`Replica::touched_since`]'s log are kept: a caller that fell further
/// behind (a catch-up of many documents between two sync rounds) reads everything again.
pub const TOUCHED_LOG: usize = 16_384;

/// Who may hold a group and its threads: every site if it is public, else the sites that
/// home one of its members or invitees (as the directory says now).
#[derive(Debug, Clone, Default)]
struct GroupAccess {
    public: bool,
    /// Members and invitees: bit 1 a member, bit 2 invited.
    people: HashMap<String, u8>,
    /// How many of them each site homes.
    sites: HashMap<String, u32>,
    /// The heads of the accepted changes this was read after. Not the applied heads: while
    /// a local change is judged, Automerge holds it before the document's index does, and
    /// its entries must still count as written after these heads. (Rereading an entry
    /// twice is harmless.)
    heads: Vec<ChangeHash>,
}

impl GroupAccess {
    /// Read whole from the group document.
    fn of(doc: &Doc, dir: Option<&weft_keys::Directory>) -> GroupAccess {
        let mut a = GroupAccess {
            public: doc.root_str("visibility").as_deref() == Some("public"),
            heads: doc.heads(),
            ..GroupAccess::default()
        };
        for (map, bit) in [("members", 1u8), ("invitations", 2u8)] {
            for who in crate::views::map_keys(doc, map) {
                *a.people.entry(who).or_insert(0) |= bit;
            }
        }
        a.count_sites(dir);
        a
    }

    fn site_of<'d>(dir: Option<&'d weft_keys::Directory>, who: &str) -> Option<&'d str> {
        dir.and_then(|d| d.employees.get(who))
            .map(|e| e.site.as_str())
    }

    /// The sites' counts, from the people (after a directory change).
    fn count_sites(&mut self, dir: Option<&weft_keys::Directory>) {
        self.sites.clear();
        for who in self.people.keys() {
            if let Some(site) = Self::site_of(dir, who) {
                *self.sites.entry(site.to_owned()).or_insert(0) += 1;
            }
        }
    }

    /// One member or invitation entry read again from the document.
    fn reread(&mut self, doc: &Doc, dir: Option<&weft_keys::Directory>, map: &str, who: &str) {
        let bit = match map {
            "members" => 1u8,
            "invitations" => 2u8,
            _ => return,
        };
        let old = self.people.get(who).copied().unwrap_or(0);
        let new = if doc.map_has(map, who, None) {
            old | bit
        } else {
            old & !bit
        };
        if new == 0 {
            self.people.remove(who);
        } else {
            self.people.insert(who.to_owned(), new);
        }
        if (old == 0) != (new == 0)
            && let Some(site) = Self::site_of(dir, who)
        {
            let n = self.sites.entry(site.to_owned()).or_insert(0);
            if new == 0 {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.sites.remove(site);
                }
            } else {
                *n += 1;
            }
        }
    }

    fn open_to(&self, site: &str) -> bool {
        self.public || self.sites.contains_key(site)
    }
}

/// A change waiting for something.
#[derive(Clone)]
struct Parked {
    change: SignedChange,
    /// When it first started waiting (ms).
    since_ms: u64,
    /// The peer it came from, if any.
    origin: Option<Arc<str>>,
    /// Whether it passed the standing check (or was vouched for): only such a change vouches
    /// for the dependencies it waits for.
    good: bool,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Replica({} docs in memory, {} put away, {} pending, {} certs)",
            self.docs.len(),
            self.cold.len(),
            self.pending.len(),
            self.certs.len()
        )
    }
}

impl Replica {
    /// An empty replica trusting these authorities.
    pub fn new(trust: TrustAnchors) -> Replica {
        Replica {
            trust,
            directory: None,
            certs: HashMap::new(),
            certs_learnt: 0,
            docs: BTreeMap::new(),
            access: HashMap::new(),
            cold: BTreeMap::new(),
            source: None,
            tick: 0,
            loads: 0,
            pending: HashMap::new(),
            pending_bytes: 0,
            pending_by_origin: HashMap::new(),
            waiters: HashMap::new(),
            rejected: HashSet::new(),
            replaying: false,
            parking: (0, None),
            now_ms: 0,
            stored_unreadable: 0,
            vouched: 0,
            touched: VecDeque::new(),
            touched_from: 0,
            visibility_changes: 0,
        }
    }

    /// Where the log of touched documents stands: pass it to [`Replica::touched_since`] later.
    pub fn generation(&self) -> u64 {
        self.touched_from + self.touched.len() as u64
    }

    /// The documents whose heads changed, or that appeared, since `generation` (with
    /// repeats, oldest first); `None` if the log no longer reaches back that far (more than
    /// [`TOUCHED_LOG`] since), and the caller must look at every document again.
    pub fn touched_since(&self, generation: u64) -> Option<impl Iterator<Item = &DocId>> {
        let skip = generation.checked_sub(self.touched_from)?;
        (skip <= self.touched.len() as u64).then(|| self.touched.iter().skip(skip as usize))
    }

    /// How many times a group turned public or stopped being public: what
    /// [`Replica::is_public`] answers for its documents changed.
    pub fn visibility_changes(&self) -> u64 {
        self.visibility_changes
    }

    fn note_touched(&mut self, id: &DocId) {
        // No skipping a repeat of the last entry: a reader may have read up to it already.
        self.touched.push_back(id.clone());
        if self.touched.len() > TOUCHED_LOG {
            self.touched.pop_front();
            self.touched_from += 1;
        }
    }

    /// The directory held, if any.
    pub fn directory(&self) -> Option<&VerifiedDirectory> {
        self.directory.as_ref()
    }

    /// Installs a newer directory version and retries the changes that waited for it.
    pub fn set_directory(
        &mut self,
        signed: &SignedDirectory,
    ) -> Result<IngestReport, ReplicaError> {
        let v = directory::accept(self.directory.as_ref(), signed, &self.trust)?;
        let version = v.version();
        self.directory = Some(v);
        // People may have moved between sites: every group's sites are counted again.
        let dir = self.directory.as_ref().map(|d| &d.directory);
        for a in self.access.values_mut() {
            a.count_sites(dir);
        }
        let woken: Vec<Waiting> = self
            .waiters
            .keys()
            .filter(|w| matches!(w, Waiting::Directory(n) if *n <= version))
            .cloned()
            .collect();
        let mut report = IngestReport::default();
        for w in woken {
            report.merge(self.wake(&w));
        }
        self.flush_all();
        Ok(report)
    }

    /// Learns an employee certificate. Its signature is checked now, and it is kept only if
    /// signed by a node key the directory lists (now or in its history) for the certificate's
    /// site, for an employee homed there (now or in the past): a certificate from anyone else
    /// — a squatter binding someone's key to the wrong employee — is refused and never stored,
    /// so it can neither block the real one nor fill memory. A key keeps up to
    /// [`MAX_CERTS_PER_KEY`] certificates; its validity is decided per change.
    pub fn add_certificate(
        &mut self,
        cert: &Signed<EmployeeCert>,
    ) -> Result<IngestReport, ReplicaError> {
        // A certificate already known (peers send their authors' certificates with every
        // bundle of changes, and each local change passes its author's) was checked when it
        // was learnt: it costs no signature check again.
        let body = cert.open_unverified()?;
        if self.knows_certificate(&body, cert) {
            return Ok(IngestReport::default());
        }
        cert.open()?;
        self.learn_certificate(cert, body)
    }

    fn knows_certificate(&self, body: &EmployeeCert, cert: &Signed<EmployeeCert>) -> bool {
        self.certs
            .get(&body.key.id())
            .is_some_and(|known| known.iter().any(|k| k.signed == *cert))
    }

    /// Learns a certificate from this node's own store: its signature was checked when it
    /// was first learnt ([`Replica::add_certificate`]) and is not checked again (with tens
    /// of thousands of employees that was seconds of every start); whether the directory
    /// lists its signer and employee still is, as the directory may have changed since.
    pub fn add_stored_certificate(
        &mut self,
        cert: &Signed<EmployeeCert>,
    ) -> Result<IngestReport, ReplicaError> {
        let body = cert.open_unverified()?;
        self.learn_certificate(cert, body)
    }

    fn learn_certificate(
        &mut self,
        cert: &Signed<EmployeeCert>,
        body: EmployeeCert,
    ) -> Result<IngestReport, ReplicaError> {
        let Some(dir) = self.directory.as_ref() else {
            return Err(ReplicaError::UntrustedCertificate(
                "no directory to check it against".into(),
            ));
        };
        let d = &dir.directory;
        if !d.listed_node_key_of(&body.site, cert.signer()) {
            return Err(ReplicaError::UntrustedCertificate(format!(
                "not signed by a node key the directory lists for site {}",
                body.site
            )));
        }
        if !d.ever_homed_at(&body.employee, &body.site) {
            return Err(ReplicaError::UntrustedCertificate(format!(
                "{} was never homed at {}",
                body.employee, body.site
            )));
        }
        let id = body.key.id();
        let known = self.certs.entry(id).or_default();
        if known.iter().any(|k| k.signed == *cert) || known.len() >= MAX_CERTS_PER_KEY {
            return Ok(IngestReport::default());
        }
        known.push(KnownCert {
            body,
            signer: *cert.signer(),
            signed: cert.clone(),
        });
        // Most keys ever have one certificate: no room kept for the others (a company's
        // tens of thousands of certificates held three spare slots each).
        known.shrink_to_fit();
        self.certs_learnt += 1;
        let report = self.wake(&Waiting::Certificate(id));
        self.flush_all();
        Ok(report)
    }

    /// How many certificates this replica has learnt: changes when one is added.
    pub fn certificates_learnt(&self) -> u64 {
        self.certs_learnt
    }

    /// Every certificate known.
    pub fn certificates(&self) -> impl Iterator<Item = &Signed<EmployeeCert>> {
        self.certs.values().flatten().map(|c| &c.signed)
    }

    /// Every certificate held with the id of the key it certifies, checked when it was
    /// accepted (nothing is verified again: a caller looking for new ones at every commit
    /// pays no signature check per certificate).
    pub fn certificates_by_key(&self) -> impl Iterator<Item = (&KeyId, &Signed<EmployeeCert>)> {
        self.certs
            .iter()
            .flat_map(|(k, cs)| cs.iter().map(move |c| (k, &c.signed)))
    }

    /// The certificate of `key` for `employee`, to pass on with that employee's changes:
    /// the one valid under the current directory if there is one. (A key may have a
    /// squatter's certificate for another employee besides the real one: sending "a"
    /// certificate of the key could send the squatter's.)
    pub fn certificate_for(&self, key: &KeyId, employee: &str) -> Option<&Signed<EmployeeCert>> {
        let certs = self.certs.get(key)?;
        let mine = || certs.iter().filter(|c| c.body.employee == employee);
        let current = self.directory.as_ref().and_then(|dir| {
            let d = &dir.directory;
            mine().find(|c| check_cert_at(d, c, d.version, employee).is_ok())
        });
        current.or_else(|| mine().next()).map(|c| &c.signed)
    }

    /// Every certificate of a key (at most [`MAX_CERTS_PER_KEY`]), for a peer that asks for
    /// the key's certificates.
    pub fn certificates_of(&self, key: &KeyId) -> Vec<&Signed<EmployeeCert>> {
        self.certs
            .get(key)
            .map(|cs| cs.iter().map(|c| &c.signed).collect())
            .unwrap_or_default()
    }

    /// A document, if held **in memory** (a document put away is `None` until
    /// [`Replica::load`] reads it back).
    pub fn doc(&self, id: &DocId) -> Option<&Doc> {
        self.docs.get(id)
    }

    /// Every document held in memory (see [`Replica::doc_ids`] for all of them).
    pub fn docs(&self) -> impl Iterator<Item = &Doc> {
        self.docs.values().filter(|d| !d.is_empty())
    }

    /// The ids of every document held, in memory or put away.
    pub fn doc_ids(&self) -> impl Iterator<Item = &DocId> {
        self.docs
            .iter()
            .filter(|(_, d)| !d.is_empty())
            .map(|(id, _)| id)
            .chain(self.cold.keys())
    }

    /// How many documents are held, in memory or put away.
    pub fn doc_count(&self) -> usize {
        self.docs.values().filter(|d| !d.is_empty()).count() + self.cold.len()
    }

    /// How many documents are in memory.
    pub fn loaded_count(&self) -> usize {
        self.docs.values().filter(|d| !d.is_empty()).count()
    }

    /// How many times a document was read back from the source.
    pub fn loads(&self) -> u64 {
        self.loads
    }

    /// Whether document `id` is held (in memory or put away).
    pub fn holds(&self, id: &DocId) -> bool {
        self.cold.contains_key(id) || self.docs.get(id).is_some_and(|d| !d.is_empty())
    }

    /// Whether document `id` is in memory.
    pub fn is_loaded(&self, id: &DocId) -> bool {
        self.docs.get(id).is_some_and(|d| !d.is_empty())
    }

    /// The heads and clock of a held document, in memory or not.
    pub fn summary(&self, id: &DocId) -> Option<DocSummary> {
        match self.docs.get(id) {
            Some(d) if !d.is_empty() => Some(DocSummary::of(d)),
            _ => self.cold.get(id).cloned(),
        }
    }

    /// The heads of a held document (sorted), in memory or not.
    pub fn heads_of(&self, id: &DocId) -> Option<Vec<ChangeHash>> {
        match self.docs.get(id) {
            Some(d) if !d.is_empty() => Some(d.heads()),
            _ => self.cold.get(id).map(|s| s.heads.clone()),
        }
    }

    /// Sets where documents put away are read back from. Without a source, nothing is ever
    /// put away.
    pub fn set_source(&mut self, source: Arc<dyn DocSource>) {
        self.source = Some(source);
    }

    /// Records a stored document by its summary, without reading it (a node's start-up). A
    /// document already in memory is left as it is.
    pub fn add_summary(&mut self, id: DocId, summary: DocSummary) {
        if !self.is_loaded(&id) {
            self.note_touched(&id);
            self.docs.remove(&id);
            self.cold.insert(id, summary);
        }
    }

    /// Records a stored group by its summary and what decides who may hold it — its
    /// visibility and its members and invitees, as kept with the summary — without reading
    /// it (a node's start-up). The directory held now says where they are homed: install it
    /// first (a directory installed later counts them again).
    pub fn add_group_summary<'a>(
        &mut self,
        id: DocId,
        summary: DocSummary,
        public: bool,
        members: impl IntoIterator<Item = &'a str>,
        invitees: impl IntoIterator<Item = &'a str>,
    ) {
        if id.kind() != DocKind::Group || self.is_loaded(&id) {
            return;
        }
        let mut a = GroupAccess {
            public,
            heads: summary.heads.clone(),
            ..GroupAccess::default()
        };
        for (who, bit) in members
            .into_iter()
            .map(|w| (w, 1u8))
            .chain(invitees.into_iter().map(|w| (w, 2u8)))
        {
            *a.people.entry(who.to_owned()).or_insert(0) |= bit;
        }
        a.count_sites(self.directory.as_ref().map(|d| &d.directory));
        self.note_touched(&id);
        if let Some(old) = self.access.insert(id.clone(), a)
            && old.public != public
        {
            self.visibility_changes += 1;
        }
        self.docs.remove(&id);
        self.cold.insert(id, summary);
    }

    /// Makes sure document `id` is in memory, reading it back from the source if it was put
    /// away, and counts it as used. Returns whether it is held (and now in memory).
    pub fn load(&mut self, id: &DocId) -> bool {
        if self.ensure(id).is_err() {
            return false;
        }
        self.tick += 1;
        let tick = self.tick;
        match self.docs.get_mut(id) {
            Some(d) if !d.is_empty() => {
                d.used = tick;
                true
            }
            _ => false,
        }
    }

    /// Puts away the least recently used documents beyond the `keep` most recent ones (only
    /// with a source; a group's [`GroupAccess`] stays). The caller must have stored every change
    /// it accepted: what is put away is read back from the source. Returns how many were
    /// put away.
    pub fn evict(&mut self, keep: usize) -> usize {
        if self.source.is_none() {
            return 0;
        }
        let mut candidates: Vec<(u64, DocId)> = self
            .docs
            .iter()
            .filter(|(_, d)| !d.is_empty())
            .map(|(id, d)| (d.used, id.clone()))
            .collect();
        if candidates.len() <= keep {
            return 0;
        }
        candidates.sort_unstable();
        let n = candidates.len() - keep;
        for (_, id) in candidates.into_iter().take(n) {
            if let Some(d) = self.docs.remove(&id) {
                self.cold.insert(id, DocSummary::of(&d));
            }
        }
        n
    }

    /// The stored changes of a document put away, as the source gives them (in the order
    /// they were accepted), without bringing the document back into memory: for a peer that
    /// holds none of it. `None` if it is not put away or cannot be read (then load it).
    pub fn stored_changes(&self, id: &DocId) -> Option<Vec<SignedChange>> {
        if !self.cold.contains_key(id) {
            return None;
        }
        let stored = self.source.as_ref()?.changes_of(id).ok()?;
        let changes: Vec<SignedChange> = stored
            .iter()
            .filter_map(|b| SignedChange::decode_stored(b).ok())
            .filter(|c| c.doc() == id)
            .collect();
        (changes.len() == stored.len() && !changes.is_empty()).then_some(changes)
    }

    /// Reads a put-away document back from the source, if it is put away.
    fn ensure(&mut self, id: &DocId) -> Result<(), String> {
        if !self.cold.contains_key(id) {
            return Ok(());
        }
        let Some(source) = self.source.clone() else {
            return Err("no storage to read it from".into());
        };
        let stored = source.changes_of(id)?;
        let Some(summary) = self.cold.remove(id) else {
            return Ok(());
        };
        self.loads += 1;
        // Nothing waits for a change of a document put away (what waited was woken when the
        // change was accepted, before the document was stored), so replaying it wakes
        // nothing; the waiters are set aside so that it cannot.
        let waiters = std::mem::take(&mut self.waiters);
        let replaying = std::mem::replace(&mut self.replaying, true);
        let mut report = IngestReport::default();
        for bytes in &stored {
            match SignedChange::decode_stored(bytes) {
                Ok(c) if c.doc() == id => self.ingest_one(c, false, &mut report),
                Ok(_) => {}
                Err(_) => self.stored_unreadable += 1,
            }
        }
        self.replaying = replaying;
        let during = std::mem::replace(&mut self.waiters, waiters);
        for (w, hashes) in during {
            self.waiters.entry(w).or_default().extend(hashes);
        }
        self.flush_doc(id);
        let held = self.docs.get(id).is_some_and(|d| !d.is_empty());
        if !held {
            // The source lost it: keep what we knew rather than forget the document.
            self.docs.remove(id);
            self.cold.insert(id.clone(), summary);
            return Err(format!("no stored change of {id} could be read back"));
        }
        Ok(())
    }

    /// How many changes wait for something.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// How many bytes of changes wait for something.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// What each waiting change waits for (for diagnostics and for asking peers).
    pub fn waiting_for(&self) -> Vec<Waiting> {
        self.waiters.keys().cloned().collect()
    }

    /// The document of a waiting change.
    pub fn pending_doc(&self, hash: &ChangeHash) -> Option<DocId> {
        self.pending.get(hash).map(|p| p.change.doc().clone())
    }

    /// Whether this change was refused before.
    pub fn is_rejected(&self, hash: &ChangeHash) -> bool {
        self.rejected.contains(hash)
    }

    /// Whether a change is held (in any document) or waiting.
    pub fn knows(&self, doc: &DocId, hash: &ChangeHash) -> bool {
        self.pending.contains_key(hash)
            || self.rejected.contains(hash)
            || self.docs.get(doc).is_some_and(|d| d.has(hash))
    }

    /// How many stored changes could not be decoded when read back (see
    /// [`Replica::ingest_stored`]).
    pub fn stored_unreadable(&self) -> u64 {
        self.stored_unreadable
    }

    /// How many changes refused on standing were accepted because a change in good standing
    /// depended on them (see the module docs).
    pub fn vouched(&self) -> u64 {
        self.vouched
    }

    /// Tells the replica the time (ms), for the expiry of waiting changes. The sync engine
    /// calls it with the time it is given; nothing else here reads a clock.
    pub fn set_now(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
    }

    /// Drops the changes that have waited longer than [`PENDING_TTL_MS`]; returns how many.
    /// A change that is real comes back with the next catch-up.
    pub fn expire_pending(&mut self, now_ms: u64) -> usize {
        self.set_now(now_ms);
        // What was parked before any time was known (a node's start-up) starts waiting now.
        for p in self.pending.values_mut() {
            if p.since_ms == 0 {
                p.since_ms = self.now_ms;
            }
        }
        let old: Vec<ChangeHash> = self
            .pending
            .iter()
            .filter(|(_, p)| p.since_ms.saturating_add(PENDING_TTL_MS) < self.now_ms)
            .map(|(h, _)| *h)
            .collect();
        for h in &old {
            self.take_pending(h);
        }
        if !old.is_empty() {
            let pending = &self.pending;
            self.waiters.retain(|_, hs| {
                hs.retain(|h| pending.contains_key(h));
                !hs.is_empty()
            });
        }
        old.len()
    }

    fn take_pending(&mut self, h: &ChangeHash) -> Option<Parked> {
        let p = self.pending.remove(h)?;
        let size = p.change.bytes().len();
        self.pending_bytes = self.pending_bytes.saturating_sub(size);
        if let Some(o) = &p.origin
            && let Some(n) = self.pending_by_origin.get_mut(o)
        {
            *n = n.saturating_sub(size);
            if *n == 0 {
                self.pending_by_origin.remove(o);
            }
        }
        Some(p)
    }

    /// Decodes and ingests changes received as bytes.
    pub fn ingest_bytes<'a>(&mut self, items: impl IntoIterator<Item = &'a [u8]>) -> IngestReport {
        let mut report = IngestReport::default();
        let mut decoded = Vec::new();
        for bytes in items {
            match SignedChange::decode(bytes) {
                Ok(c) => decoded.push(c),
                Err(e) => report.rejected.push((None, None, Rejection::Malformed(e))),
            }
        }
        report.merge(self.ingest(decoded));
        report
    }

    /// Decodes and ingests changes received from the node of site `origin`: what waits is
    /// counted against that peer's share of the pending budget
    /// ([`MAX_PENDING_BYTES_PER_ORIGIN`]).
    pub fn ingest_bytes_from<'a>(
        &mut self,
        origin: &str,
        items: impl IntoIterator<Item = &'a [u8]>,
    ) -> IngestReport {
        let before = std::mem::replace(&mut self.parking, (self.now_ms, Some(origin.into())));
        let report = self.ingest_bytes(items);
        self.parking = before;
        report
    }

    /// Replays changes from this node's own store: certificates, signatures and write rules,
    /// which the changes passed when they were first accepted, are not checked again (that
    /// was most of the cost of a restart), and neither are the limits on a change's
    /// operations ([`SignedChange::decode_stored`]); dependencies and structure are. What
    /// was accepted stays accepted, even by a build whose rules changed since (judging it
    /// again could only make this site hide what it acknowledged to its users, and disagree
    /// with the sites that accepted it). Whoever can write the store's files holds the node
    /// key too, so this trusts nothing a peer could forge.
    ///
    /// A stored change that cannot be decoded at all (damaged bytes) is counted
    /// ([`Replica::stored_unreadable`]) and reported as rejected, for the node to log; the
    /// changes that depend on it wait for it rather than disappear, and the next catch-up
    /// brings it back from a peer that holds it.
    pub fn ingest_stored<'a>(&mut self, items: impl IntoIterator<Item = &'a [u8]>) -> IngestReport {
        self.replaying = true;
        let mut report = IngestReport::default();
        let mut decoded = Vec::new();
        for bytes in items {
            match SignedChange::decode_stored(bytes) {
                Ok(c) => decoded.push(c),
                Err(e) => {
                    self.stored_unreadable += 1;
                    report.rejected.push((None, None, Rejection::Malformed(e)));
                }
            }
        }
        report.merge(self.ingest(decoded));
        self.replaying = false;
        report
    }

    /// Ingests decoded changes: each is accepted, rejected, or kept waiting; accepting one
    /// retries what waited for it.
    pub fn ingest(&mut self, changes: impl IntoIterator<Item = SignedChange>) -> IngestReport {
        let mut report = IngestReport::default();
        let changes: Vec<SignedChange> = changes.into_iter().collect();
        let cores = parallelism();
        if self.replaying || changes.len() < SHARED_CHECK_MIN || cores < 2 {
            for c in changes {
                self.ingest_one(c, false, &mut report);
            }
        } else {
            self.ingest_sharing_checks(changes, cores, &mut report);
        }
        self.flush_all();
        report
    }

    /// Gives every staged change to Automerge (see [`Doc::flush`]).
    pub(crate) fn flush_all(&mut self) {
        let mut groups = Vec::new();
        for doc in self.docs.values_mut() {
            if doc.is_staged() {
                doc.flush();
                if doc.kind() == DocKind::Group {
                    groups.push(doc.id().clone());
                }
            }
        }
        for g in groups {
            self.refresh_access(&g);
        }
    }

    /// Brings a group's [`GroupAccess`] up to date with its applied state: from the member
    /// and invitation entries written since it was read, or whole after anything else (a
    /// visibility change, the genesis). Called whenever a group's applied state changes.
    pub(crate) fn refresh_access(&mut self, id: &DocId) {
        let Some(doc) = self.docs.get(id).filter(|d| !d.is_empty()) else {
            return;
        };
        let dir = self.directory.as_ref().map(|d| &d.directory);
        let was_public = self.access.get(id).map(|a| a.public);
        let touched = self
            .access
            .get(id)
            .and_then(|a| doc.touched_entries(&a.heads));
        match (touched, self.access.get_mut(id)) {
            (Some(entries), Some(a)) => {
                for (map, who) in &entries {
                    a.reread(doc, dir, map, who);
                }
                a.heads = doc.heads();
            }
            _ => {
                let a = GroupAccess::of(doc, dir);
                if was_public.is_some_and(|p| p != a.public) {
                    self.visibility_changes += 1;
                }
                self.access.insert(id.clone(), a);
            }
        }
    }

    fn flush_doc(&mut self, id: &DocId) {
        if let Some(d) = self.docs.get_mut(id)
            && d.is_staged()
        {
            d.flush();
            if id.kind() == DocKind::Group {
                self.refresh_access(id);
            }
        }
    }

    /// Judges a batch in order while other cores check its signatures ahead of the judging:
    /// verification is most of what judging costs and needs nothing but the bytes and the
    /// key the certificate gives for the key id (itself that key's hash). Every core takes
    /// the next unchecked change; the judging thread checks a change itself when no one has
    /// yet, and waits (briefly) for one being checked. A signature found bad, or a change
    /// whose key is not known yet, is checked again when judged, which rejects or parks it
    /// as before: the verdicts are those of judging one by one.
    fn ingest_sharing_checks(
        &mut self,
        changes: Vec<SignedChange>,
        cores: usize,
        report: &mut IngestReport,
    ) {
        use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
        const FREE: u8 = 0;
        const TAKEN: u8 = 1;
        const GOOD: u8 = 2;
        const BAD: u8 = 3;
        let work: Vec<(Arc<weft_keys::Envelope>, Option<PublicKey>)> = changes
            .iter()
            .map(|c| {
                let key = self
                    .certs
                    .get(&c.key_id())
                    .and_then(|certs| certs.first())
                    .map(|cert| cert.body.key);
                (c.shared_envelope(), key)
            })
            .collect();
        let state: Vec<AtomicU8> = work.iter().map(|_| AtomicU8::new(FREE)).collect();
        let next = AtomicUsize::new(0);
        let check = |i: usize| -> u8 {
            let (env, key) = &work[i];
            let good = catch_unwind(AssertUnwindSafe(|| {
                key.as_ref()
                    .is_some_and(|k| env.verify(Domain::CHANGE, k).is_ok())
            }))
            .unwrap_or(false);
            if good { GOOD } else { BAD }
        };
        // Takes the next unchecked change off the shared cursor and checks it; false when
        // none is left.
        let help = || loop {
            let j = next.fetch_add(1, Ordering::Relaxed);
            if j >= state.len() {
                return false;
            }
            if state[j]
                .compare_exchange(FREE, TAKEN, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                state[j].store(check(j), Ordering::Release);
                return true;
            }
        };
        std::thread::scope(|scope| {
            for _ in 1..cores.min(MAX_CHECKERS) {
                scope.spawn(|| while help() {});
            }
            for (i, c) in changes.into_iter().enumerate() {
                let verdict = loop {
                    match state[i].compare_exchange(
                        FREE,
                        TAKEN,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => break check(i),
                        Err(TAKEN) => {
                            // Another core is checking it: check a later one meanwhile, or
                            // wait if none is left.
                            if !help() {
                                std::thread::yield_now();
                            }
                        }
                        Err(done) => break done,
                    }
                };
                self.ingest_one(c, verdict == GOOD, report);
            }
        });
    }

    /// Judges one change; `signature_checked`: its signature was found good under the key
    /// its key id names (see [`Replica::ingest_sharing_checks`]).
    pub(crate) fn ingest_one(
        &mut self,
        c: SignedChange,
        signature_checked: bool,
        report: &mut IngestReport,
    ) {
        let hash = c.hash();
        let doc_id = c.doc().clone();
        if let Err(e) = self.ensure(&doc_id) {
            report
                .rejected
                .push((Some(doc_id), Some(hash), Rejection::Unavailable(e)));
            return;
        }
        if self.knows(&doc_id, &hash) {
            report.duplicates += 1;
            return;
        }
        match self.judge_with(&c, false, signature_checked) {
            Verdict::Accept => {
                self.tick += 1;
                if let Some(d) = self.docs.get_mut(&doc_id) {
                    d.used = self.tick;
                }
                report.accepted.push((doc_id.clone(), hash));
                let woken = self.wake(&Waiting::Change(doc_id.clone(), hash));
                report.merge(woken);
            }
            Verdict::Reject(r, authenticated) => {
                if authenticated {
                    self.rejected.insert(hash);
                    // Whatever waited on this change can never be accepted.
                    let woken = self.wake(&Waiting::Change(doc_id.clone(), hash));
                    report.merge(woken);
                }
                report.rejected.push((Some(doc_id), Some(hash), r));
            }
            Verdict::Wait(w, good) => {
                let size = c.bytes().len();
                let (since_ms, origin) = self.parking.clone();
                let from_origin = origin
                    .as_ref()
                    .map_or(0, |o| self.pending_by_origin.get(o).copied().unwrap_or(0));
                let full = self.pending.len() >= MAX_PENDING
                    || self.pending_bytes + size > MAX_PENDING_BYTES
                    || (origin.is_some() && from_origin + size > MAX_PENDING_BYTES_PER_ORIGIN);
                if full {
                    report
                        .rejected
                        .push((Some(doc_id), Some(hash), Rejection::Overloaded));
                    return;
                }
                self.pending_bytes += size;
                if let Some(o) = &origin {
                    *self.pending_by_origin.entry(o.clone()).or_default() += size;
                }
                self.pending.insert(
                    hash,
                    Parked {
                        change: c,
                        since_ms: if since_ms == 0 { self.now_ms } else { since_ms },
                        origin,
                        good,
                    },
                );
                self.waiters.entry(w.clone()).or_default().push(hash);
                report.waiting.push((hash, w));
            }
        }
    }

    /// Retries the changes waiting for `w`.
    pub(crate) fn wake(&mut self, w: &Waiting) -> IngestReport {
        let mut report = IngestReport::default();
        let Some(hashes) = self.waiters.remove(w) else {
            return report;
        };
        for h in hashes {
            if let Some(p) = self.take_pending(&h) {
                // Parked again, it keeps its origin and the time it first waited.
                let before = std::mem::replace(&mut self.parking, (p.since_ms, p.origin));
                self.ingest_one(p.change, false, &mut report);
                self.parking = before;
            }
        }
        report
    }

    /// Whether a change in good standing waits for `c` (see the module docs on vouching).
    fn is_vouched(&self, c: &SignedChange) -> bool {
        self.waiters
            .get(&Waiting::Change(c.doc().clone(), c.hash()))
            .is_some_and(|hs| {
                hs.iter()
                    .any(|h| self.pending.get(h).is_some_and(|p| p.good))
            })
    }

    /// Decides one change, applying it if accepted. `preapplied`: the change was made locally
    /// on the document's own Automerge state, which already holds it (see [`crate::local`]).
    /// `signature_checked`: its signature was found good already.
    pub(crate) fn judge_with(
        &mut self,
        c: &SignedChange,
        preapplied: bool,
        signature_checked: bool,
    ) -> Verdict {
        // 2-5: who wrote it. Changes replayed from the node's own store were judged when they
        // were accepted.
        let v = c.dir_version();
        let mut community_manager = false;
        let mut communicator = false;
        let mut author_site: Option<String> = None;
        if !self.replaying {
            let Some(dir) = self.directory.as_ref() else {
                return Verdict::Wait(Waiting::Directory(v.max(1)), false);
            };
            let held = dir.version();
            if v > held.saturating_add(MAX_VERSIONS_AHEAD) {
                return Verdict::Reject(
                    Rejection::Author(format!(
                        "names directory version {v}, far ahead of version {held} held here"
                    )),
                    false,
                );
            }
            let Some(certs) = self.certs.get(&c.key_id()) else {
                return Verdict::Wait(Waiting::Certificate(c.key_id()), false);
            };
            // Every certificate of a key id certifies the same key: the id is the key's hash.
            let Some(key) = certs.first().map(|k| k.body.key) else {
                return Verdict::Wait(Waiting::Certificate(c.key_id()), false);
            };
            if !signature_checked && c.envelope().verify(Domain::CHANGE, &key).is_err() {
                return Verdict::Reject(Rejection::Signature, false);
            }
            if v > held {
                return Verdict::Wait(Waiting::Directory(v), false);
            }
            let d = &dir.directory;
            match author_standing(d, certs, c) {
                Ok(()) => {}
                Err(StandingError::Forged(reason)) => {
                    return Verdict::Reject(Rejection::Author(reason), false);
                }
                Err(StandingError::Withdrawn(reason)) => {
                    if !self.is_vouched(c) {
                        return Verdict::Reject(Rejection::Standing(reason), false);
                    }
                    self.vouched += 1;
                }
            }
            (community_manager, communicator, author_site) = d
                .employee_at(c.author(), v)
                .map(|t| {
                    let cm = t.roles.contains(&Role::CommunityManager);
                    (
                        cm,
                        cm || t.roles.contains(&Role::Communication),
                        Some(t.site),
                    )
                })
                .unwrap_or_default();
        }
        // 6: dependencies.
        let doc_id = c.doc().clone();
        for dep in c.deps() {
            if self.rejected.contains(dep) {
                return Verdict::Reject(Rejection::RejectedDependency, true);
            }
        }
        let doc = self
            .docs
            .entry(doc_id.clone())
            .or_insert_with(|| Doc::new(doc_id.clone()));
        if let Some(missing) = doc.missing_deps(c).first() {
            return Verdict::Wait(Waiting::Change(doc_id.clone(), *missing), true);
        }
        // 7: structure, and the directory floor.
        let analysis = match doc.analyse(c, c.author()) {
            Ok(a) => a,
            Err(e) => return Verdict::Reject(Rejection::Structure(e), true),
        };
        if !self.replaying
            && let Some(named) = c
                .deps()
                .iter()
                .filter_map(|d| doc.change(d))
                .map(SignedChange::dir_version)
                .max()
            && named > v
        {
            return Verdict::Reject(
                Rejection::Floor(format!(
                    "names directory version {v}, older than version {named} named by a change it depends on"
                )),
                true,
            );
        }
        // 8: the group, for threads.
        let group_id = if doc_id.kind() == DocKind::Thread {
            if c.auth_heads().is_empty() {
                return Verdict::Reject(Rejection::NoAuthHeads, true);
            }
            let gid = if analysis.is_genesis {
                analysis
                    .writes
                    .iter()
                    .find(|w| w.path.len() == 1 && w.path[0] == "group")
                    .and_then(|w| match &w.action {
                        crate::doc::WriteAction::Put(automerge::ScalarValue::Str(s)) => {
                            DocId::parse(s).ok()
                        }
                        _ => None,
                    })
            } else {
                doc.group().cloned()
            };
            let Some(gid) = gid.filter(|g| g.kind() == DocKind::Group) else {
                return Verdict::Reject(Rejection::NoGroup, true);
            };
            // A stored change was accepted when the group held its auth heads (a group never
            // loses a change): reading a thread back does not read its group back too.
            if !self.replaying {
                if let Err(e) = self.ensure(&gid) {
                    return Verdict::Reject(Rejection::Unavailable(e), false);
                }
                // The group of an active thread is in use: it stays in memory before idle
                // ones.
                self.tick += 1;
                let tick = self.tick;
                if let Some(g) = self.docs.get_mut(&gid) {
                    g.used = tick;
                }
                let group = self.docs.get(&gid);
                for h in c.auth_heads() {
                    if self.rejected.contains(h) {
                        return Verdict::Reject(Rejection::RejectedDependency, true);
                    }
                    if !group.is_some_and(|g| g.has(h)) {
                        return Verdict::Wait(Waiting::Change(gid.clone(), *h), true);
                    }
                }
                if let (Some(g), Some(doc)) = (group, self.docs.get(&doc_id))
                    && let Err(reason) = auth_heads_floor(g, doc, c)
                {
                    return Verdict::Reject(Rejection::Floor(reason), true);
                }
            }
            Some(gid)
        } else {
            None
        };
        // 9: rules. They read Automerge state, so staged changes go in first. A change
        // replayed from this node's store passed them when it was accepted, against the same
        // causal history: it is not judged again (which would mean giving every group change
        // to Automerge one at a time instead of in one batch — most of a restart's time).
        if !self.replaying {
            // Rules that read the thread itself at the change's dependencies: a vote's (its
            // poll), an RSVP's (its event), a moderation mark's (whose wall it is), a
            // folder's (whether it is a library document), a card's fields (whether it is
            // a card).
            let reads_thread = || {
                analysis.writes.iter().any(|w| {
                    matches!(
                        w.path.first().map(String::as_str),
                        Some(
                            "moderation"
                                | "folder"
                                | "card_owners"
                                | "card_members"
                                | "card_withdrawn"
                                | "stats_data"
                        )
                    ) || w.path.first().map(String::as_str) == Some("reactions")
                        && w.path
                            .get(1)
                            .and_then(|k| k.split(':').nth(1))
                            .is_some_and(|kind| {
                                kind.starts_with(crate::local::VOTE_PREFIX)
                                    || kind.starts_with(crate::local::RSVP_PREFIX)
                            })
                })
            };
            if doc_id.kind() == DocKind::Group
                || (doc_id.kind() == DocKind::Thread && reads_thread())
            {
                self.flush_doc(&doc_id);
            }
            if let Some(g) = group_id.as_ref() {
                self.flush_doc(g);
            }
            let group = group_id.as_ref().and_then(|g| self.docs.get(g));
            let Some(doc) = self.docs.get(&doc_id) else {
                return Verdict::Reject(Rejection::NoGroup, true);
            };
            let ctx = RuleCtx {
                author: c.author(),
                doc,
                change: c,
                group,
                community_manager,
                communicator,
                author_site: author_site.as_deref(),
            };
            if let Err(e) = rules::check(&ctx, &analysis.writes, analysis.is_genesis) {
                return Verdict::Reject(Rejection::Rule(e), true);
            }
        }
        // 10: apply.
        let author = c.author().to_owned();
        let Some(doc) = self.docs.get_mut(&doc_id) else {
            return Verdict::Reject(Rejection::NoGroup, true);
        };
        let is_genesis = analysis.is_genesis;
        match doc.apply(c.clone(), &author, analysis, preapplied) {
            Ok(()) => {
                if is_genesis && let Some(g) = group_id {
                    doc.set_group(g);
                }
                self.note_touched(&doc_id);
                Verdict::Accept
            }
            Err(e) => Verdict::Reject(Rejection::Structure(e), true),
        }
    }

    /// The group a thread belongs to (in memory or put away).
    pub fn group_of(&self, thread: &DocId) -> Option<DocId> {
        match self.docs.get(thread) {
            Some(d) if !d.is_empty() => d.group().cloned(),
            _ => self.cold.get(thread)?.group.clone(),
        }
    }

    /// Whether every site may hold document `id` (a profile, a public group or one of its
    /// threads).
    pub fn is_public(&self, id: &DocId) -> bool {
        let group = match id.kind() {
            DocKind::Profile => return true,
            DocKind::Group => Some(id.clone()),
            DocKind::Thread => self.group_of(id),
        };
        group
            .and_then(|g| self.access.get(&g))
            .is_some_and(|a| a.public)
    }

    /// Whether `site` may hold document `id`: public groups, their threads and all profiles go
    /// to every site; a private or secret group and its threads only to sites that home one of
    /// its members or invitees (current state). An unknown document is not offered to anyone.
    pub fn may_hold(&self, site: &str, id: &DocId) -> bool {
        match id.kind() {
            DocKind::Profile => true,
            DocKind::Group => self.group_open_to(site, id),
            DocKind::Thread => self
                .group_of(id)
                .is_some_and(|g| self.group_open_to(site, &g)),
        }
    }

    /// Whether `site` may receive change `c`: it may hold the change's document now, or — for
    /// a group change — it could hold the group just before the change or just after it. A
    /// membership change thus reaches the sites it concerns on both sides: a removal reaches
    /// the removed member's site (which held everything before it), so that site learns it is
    /// out and refuses the member's writes from then on. Nothing is revealed: the site held
    /// the group's state up to the change.
    pub fn may_receive(&self, site: &str, c: &SignedChange) -> bool {
        if self.may_hold(site, c.doc()) {
            return true;
        }
        if c.doc().kind() != DocKind::Group {
            return false;
        }
        let Some(g) = self.docs.get(c.doc()) else {
            return false;
        };
        self.group_open_at(site, g, c.deps()) == Some(true)
            || self.group_open_at(site, g, &[c.hash()]) == Some(true)
    }

    /// Whether `site` could hold group `g` at `heads` (`None` if they are not applied yet).
    fn group_open_at(&self, site: &str, g: &Doc, heads: &[ChangeHash]) -> Option<bool> {
        if heads.is_empty() {
            return Some(false);
        }
        if g.root_str_at("visibility", heads).as_deref() == Some("public") {
            return Some(true);
        }
        let dir = self.directory.as_ref()?;
        let homed_here = |emp: &String| {
            dir.directory
                .employees
                .get(emp)
                .is_some_and(|e| e.site == site)
        };
        let members = g.map_keys_at("members", heads)?;
        let invited = g.map_keys_at("invitations", heads)?;
        Some(members.iter().any(homed_here) || invited.iter().any(homed_here))
    }

    fn group_open_to(&self, site: &str, gid: &DocId) -> bool {
        self.access.get(gid).is_some_and(|a| a.open_to(site))
    }

    /// Mutable access for the local authoring helpers.
    pub(crate) fn doc_mut_or_new(&mut self, id: &DocId) -> &mut Doc {
        self.docs
            .entry(id.clone())
            .or_insert_with(|| Doc::new(id.clone()))
    }

    /// The trust anchors.
    pub fn trust(&self) -> &TrustAnchors {
        &self.trust
    }
}

pub(crate) enum Verdict {
    Accept,
    /// The rejection, and whether the change was authenticated (valid signature by a
    /// certified author): only those are remembered, so forgeries cannot fill memory.
    Reject(Rejection, bool),
    /// Waiting, and whether the change passed the standing check (so that it may vouch for
    /// what it waits for).
    Wait(Waiting, bool),
}

/// Why an author may not sign a change.
enum StandingError {
    /// The certificate does not even claim this author: a forgery, whatever the directory.
    Forged(String),
    /// The directory held here withdraws the standing the change needs (see the module
    /// docs).
    Withdrawn(String),
}

/// The author's standing for `c`: one of the key's certificates claims the author and is
/// valid both as of the version the change names and as of the version in force when the
/// change says it was made (see the module docs).
fn author_standing(
    d: &weft_keys::Directory,
    certs: &[KnownCert],
    c: &SignedChange,
) -> Result<(), StandingError> {
    let claimed = c.author();
    let v = c.dir_version();
    let secs = u64::try_from(c.time_ms()).unwrap_or(0) / 1000;
    let in_force = d
        .version_in_force(secs.saturating_sub(CLOCK_GRACE_SECS))
        .filter(|u| *u > v);
    let mut why = None;
    for cert in certs.iter().filter(|k| k.body.employee == claimed) {
        if let Err(e) = check_cert_at(d, cert, v, claimed) {
            why = Some(e);
            continue;
        }
        if let Some(u) = in_force
            && let Err(e) = check_cert_at(d, cert, u, claimed)
        {
            why = Some(format!(
                "{e} (the version in force when the change says it was made)"
            ));
            continue;
        }
        return Ok(());
    }
    match why {
        Some(e) => Err(StandingError::Withdrawn(e)),
        None => Err(StandingError::Forged(format!(
            "change claims {claimed:?} but its key is certified for {:?}",
            certs
                .first()
                .map(|k| k.body.employee.as_str())
                .unwrap_or("")
        ))),
    }
}

/// The auth-heads floor (see the module docs): every group head named by a change that `c`
/// depends on lies in the past of the group heads `c` names.
fn auth_heads_floor(group: &Doc, thread: &Doc, c: &SignedChange) -> Result<(), String> {
    for dep in c.deps() {
        let Some(prev) = thread.change(dep) else {
            continue;
        };
        for h in prev.auth_heads() {
            // Each head asked about alone (no clock of the group merged: a large group's
            // clocks name thousands of actors).
            if !group.in_past_of(h, c.auth_heads()) {
                return Err(
                    "names group heads older than a change it depends on already named".into(),
                );
            }
        }
    }
    Ok(())
}

/// A certificate's validity as of directory version `v`, with its signature already checked.
fn check_cert_at(
    d: &weft_keys::Directory,
    cert: &KnownCert,
    v: u64,
    claimed_author: &str,
) -> Result<(), String> {
    let body = &cert.body;
    if body.employee != claimed_author {
        return Err(format!(
            "change claims {claimed_author:?} but its key belongs to {:?}",
            body.employee
        ));
    }
    if d.node_key_at(&body.site, v) != Some(cert.signer) {
        return Err(format!(
            "certificate not issued by site {}'s node key as of directory version {v}",
            body.site
        ));
    }
    match d.employee_at(&body.employee, v) {
        None => Err(format!("{} not in directory version {v}", body.employee)),
        Some(t) if t.status != weft_keys::Status::Active => Err(format!(
            "{} had left as of directory version {v}",
            body.employee
        )),
        Some(t) if t.site != body.site => Err(format!(
            "{} was homed at {}, not {}, as of directory version {v}",
            body.employee, t.site, body.site
        )),
        Some(_) => Ok(()),
    }
}

/// Batches at least this large have their signatures checked on every core (live changes
/// arrive one at a time, and are not worth the threads).
const SHARED_CHECK_MIN: usize = 16;
/// At most this many threads check signatures for one batch.
const MAX_CHECKERS: usize = 4;

/// The cores this process may use (asked once).
fn parallelism() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

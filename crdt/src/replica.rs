//! A replica: every document a node holds, the directory and certificates it judges authors
//! by, and the ingest pipeline that decides, for each signed change, *accept*, *reject* or
//! *wait*.
//!
//! The pipeline, for one change (see the crate docs for why each step is order-independent):
//!
//! 1. already held or already rejected → nothing to do;
//! 2. the author's certificate: unknown key → wait for the certificate; directory version
//!    newer than ours → wait for the directory; certificate invalid as of the named version
//!    (author left, wrong site, key not the site's) → reject;
//! 3. the envelope's signature under the certified key → reject if it fails;
//! 4. dependencies not all held → wait for them (a dependency that was rejected rejects this
//!    change too);
//! 5. structure (seq, op counters, actors, objects, no lists/text/counters) → reject if wrong;
//! 6. for threads, the group heads the change names → wait until the group document holds
//!    them;
//! 7. the write rules → reject if any write is forbidden;
//! 8. apply, then wake whatever was waiting for this change.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use automerge::ChangeHash;
use weft_keys::directory::{self, DirectoryError, SignedDirectory, VerifiedDirectory};
use weft_keys::{Domain, EmployeeCert, KeyId, PublicKey, Role, Signed, SignedError, TrustAnchors};

use crate::change::{DecodeError, SignedChange};
use crate::doc::{Doc, StructureError};
use crate::ids::{DocId, DocKind};
use crate::rules::{self, RuleCtx, RuleError, Visibility};

/// At most this many changes wait for something at once; beyond it, new arrivals that would
/// wait are dropped (and fetched again by the next catch-up), so a peer cannot fill our memory
/// with changes whose dependencies never come.
pub const MAX_PENDING: usize = 100_000;

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    #[error("malformed: {0}")]
    Malformed(#[from] DecodeError),
    #[error("author: {0}")]
    Author(String),
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
            Rejection::Signature => "signature",
            Rejection::RejectedDependency => "rejected_dependency",
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
/// rules, which were checked when the changes were first accepted, are not checked again). Groups are
/// never put away: every access decision reads them.
#[derive(Clone)]
pub struct Replica {
    trust: TrustAnchors,
    directory: Option<VerifiedDirectory>,
    certs: HashMap<KeyId, KnownCert>,
    docs: BTreeMap<DocId, Doc>,
    /// Documents put away: their summaries.
    cold: BTreeMap<DocId, DocSummary>,
    source: Option<Arc<dyn DocSource>>,
    /// A counter that orders uses of documents (for eviction).
    tick: u64,
    /// How many documents were read back from the source so far.
    loads: u64,
    pending: HashMap<ChangeHash, SignedChange>,
    waiters: HashMap<Waiting, Vec<ChangeHash>>,
    rejected: HashSet<ChangeHash>,
    /// Set while replaying the node's own store: those changes were verified when they were
    /// accepted, so their signatures are not checked again (see [`Replica::ingest_stored`]).
    replaying: bool,
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
            docs: BTreeMap::new(),
            cold: BTreeMap::new(),
            source: None,
            tick: 0,
            loads: 0,
            pending: HashMap::new(),
            waiters: HashMap::new(),
            rejected: HashSet::new(),
            replaying: false,
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

    /// Learns an employee certificate (its signature is checked now; its validity per change).
    pub fn add_certificate(
        &mut self,
        cert: &Signed<EmployeeCert>,
    ) -> Result<IngestReport, ReplicaError> {
        let body = cert.open()?;
        let id = body.key.id();
        if self.certs.contains_key(&id) {
            return Ok(IngestReport::default());
        }
        self.certs.insert(
            id,
            KnownCert {
                body,
                signer: *cert.signer(),
                signed: cert.clone(),
            },
        );
        let report = self.wake(&Waiting::Certificate(id));
        self.flush_all();
        Ok(report)
    }

    /// Every certificate known.
    pub fn certificates(&self) -> impl Iterator<Item = &Signed<EmployeeCert>> {
        self.certs.values().map(|c| &c.signed)
    }

    /// The certificate of a key, to pass on to peers.
    pub fn certificate(&self, key: &KeyId) -> Option<&Signed<EmployeeCert>> {
        self.certs.get(key).map(|c| &c.signed)
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
            self.docs.remove(&id);
            self.cold.insert(id, summary);
        }
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

    /// Puts away the least recently used documents beyond the `keep` most recent ones
    /// (groups excepted, and only with a source). The caller must have stored every change
    /// it accepted: what is put away is read back from the source. Returns how many were
    /// put away.
    pub fn evict(&mut self, keep: usize) -> usize {
        if self.source.is_none() {
            return 0;
        }
        let mut candidates: Vec<(u64, DocId)> = self
            .docs
            .iter()
            .filter(|(id, d)| id.kind() != DocKind::Group && !d.is_empty())
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
            match SignedChange::decode(bytes) {
                Ok(c) if c.doc() == id => self.ingest_one(c, &mut report),
                _ => {}
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

    /// What each waiting change waits for (for diagnostics and for asking peers).
    pub fn waiting_for(&self) -> Vec<Waiting> {
        self.waiters.keys().cloned().collect()
    }

    /// The document of a waiting change.
    pub fn pending_doc(&self, hash: &ChangeHash) -> Option<DocId> {
        self.pending.get(hash).map(|c| c.doc().clone())
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

    /// Replays changes from this node's own store: certificates (as of each change's
    /// directory version), dependencies and structure are checked as for any change, but
    /// signatures and write rules, which the changes passed when they were first accepted,
    /// are not checked again: that was most of the cost of a restart. What was accepted stays
    /// accepted, even by a build whose rules changed since (judging it again could only make
    /// this site disagree with the others). Whoever can write the store's files holds the
    /// node key too, so this trusts nothing a peer could forge.
    pub fn ingest_stored<'a>(&mut self, items: impl IntoIterator<Item = &'a [u8]>) -> IngestReport {
        self.replaying = true;
        let report = self.ingest_bytes(items);
        self.replaying = false;
        report
    }

    /// Ingests decoded changes: each is accepted, rejected, or kept waiting; accepting one
    /// retries what waited for it.
    pub fn ingest(&mut self, changes: impl IntoIterator<Item = SignedChange>) -> IngestReport {
        let mut report = IngestReport::default();
        for c in changes {
            self.ingest_one(c, &mut report);
        }
        self.flush_all();
        report
    }

    /// Gives every staged change to Automerge (see [`Doc::flush`]).
    pub(crate) fn flush_all(&mut self) {
        for doc in self.docs.values_mut() {
            if doc.is_staged() {
                doc.flush();
            }
        }
    }

    fn flush_doc(&mut self, id: &DocId) {
        if let Some(d) = self.docs.get_mut(id) {
            d.flush();
        }
    }

    pub(crate) fn ingest_one(&mut self, c: SignedChange, report: &mut IngestReport) {
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
        match self.judge(&c) {
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
            Verdict::Wait(w) => {
                if self.pending.len() < MAX_PENDING {
                    self.pending.insert(hash, c);
                    self.waiters.entry(w.clone()).or_default().push(hash);
                    report.waiting.push((hash, w));
                }
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
            if let Some(c) = self.pending.remove(&h) {
                self.ingest_one(c, &mut report);
            }
        }
        report
    }

    /// Decides one change, applying it if accepted.
    fn judge(&mut self, c: &SignedChange) -> Verdict {
        self.judge_with(c, false)
    }

    /// Decides one change. `preapplied`: the change was made locally on the document's own
    /// Automerge state, which already holds it (see [`crate::local`]).
    pub(crate) fn judge_with(&mut self, c: &SignedChange, preapplied: bool) -> Verdict {
        // 2-3: who wrote it.
        let Some(dir) = self.directory.as_ref() else {
            return Verdict::Wait(Waiting::Directory(c.dir_version().max(1)));
        };
        let Some(cert) = self.certs.get(&c.key_id()) else {
            return Verdict::Wait(Waiting::Certificate(c.key_id()));
        };
        let d = &dir.directory;
        let v = c.dir_version();
        if v > d.version {
            return Verdict::Wait(Waiting::Directory(v));
        }
        if let Err(reason) = check_cert_at(d, cert, v, c.author()) {
            return Verdict::Reject(Rejection::Author(reason), false);
        }
        if !self.replaying && c.envelope().verify(Domain::CHANGE, &cert.body.key).is_err() {
            return Verdict::Reject(Rejection::Signature, false);
        }
        let community_manager = d
            .employee_at(c.author(), v)
            .is_some_and(|t| t.roles.contains(&Role::CommunityManager));
        // 4: dependencies.
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
            return Verdict::Wait(Waiting::Change(doc_id.clone(), *missing));
        }
        // 5: structure.
        let analysis = match doc.analyse(c, c.author()) {
            Ok(a) => a,
            Err(e) => return Verdict::Reject(Rejection::Structure(e), true),
        };
        // 6: the group, for threads.
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
            if let Err(e) = self.ensure(&gid) {
                return Verdict::Reject(Rejection::Unavailable(e), false);
            }
            let group = self.docs.get(&gid);
            for h in c.auth_heads() {
                if self.rejected.contains(h) {
                    return Verdict::Reject(Rejection::RejectedDependency, true);
                }
                if !group.is_some_and(|g| g.has(h)) {
                    return Verdict::Wait(Waiting::Change(gid.clone(), *h));
                }
            }
            Some(gid)
        } else {
            None
        };
        // 7: rules. They read Automerge state, so staged changes go in first. A change
        // replayed from this node's store passed them when it was accepted, against the same
        // causal history: it is not judged again (which would mean giving every group change
        // to Automerge one at a time instead of in one batch — most of a restart's time).
        if !self.replaying {
            if doc_id.kind() == DocKind::Group {
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
            };
            if let Err(e) = rules::check(&ctx, &analysis.writes, analysis.is_genesis) {
                return Verdict::Reject(Rejection::Rule(e), true);
            }
        }
        // 8: apply.
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
            .and_then(|g| self.docs.get(&g))
            .and_then(|g| g.root_str("visibility"))
            .as_deref()
            == Some("public")
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

    fn group_open_to(&self, site: &str, gid: &DocId) -> bool {
        let Some(g) = self.docs.get(gid) else {
            return false;
        };
        if g.root_str("visibility").and_then(|v| Visibility::parse(&v)) == Some(Visibility::Public)
        {
            return true;
        }
        let Some(dir) = self.directory.as_ref() else {
            return false;
        };
        let homed_here = |emp: &String| {
            dir.directory
                .employees
                .get(emp)
                .is_some_and(|e| e.site == site)
        };
        crate::views::map_keys(g, "members").iter().any(homed_here)
            || crate::views::map_keys(g, "invitations")
                .iter()
                .any(homed_here)
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
    Wait(Waiting),
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

//! The node's core: identity, replica, store and sync engine, driven by one owner.
//!
//! `Core` is synchronous and does no networking itself: the runtime (`run.rs`) owns it inside
//! one `tokio::select!` loop, feeds it commands from the web layer, frames from libp2p and
//! timer ticks, and carries out what it asks (frames to send). Every accepted change — local
//! or from a peer — is appended to the store; a command is answered only after
//! [`Core::commit`] has flushed the store, so what the UI reports as saved survives a crash.

use std::collections::HashSet;

use automerge::ChangeHash;
use weft_crdt::sync::{Config as SyncConfig, Engine, Event};
use weft_crdt::{DocId, Replica, SignedChange};
use weft_keys::directory::SignedDirectory;
use weft_keys::{KeyId, SecretKey, Signed, TrustAnchors};

use crate::error::NodeError;
use crate::identity::Identity;
use crate::readmodel::{ReadModel, SharedModel, ThreadSummary, read, write};
use crate::store::Store;

/// What the core reports to the runtime after handling an input.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Changes accepted (local or from peers), for read models, search and live events.
    pub accepted: Vec<(DocId, ChangeHash)>,
    /// Sync events, for logs and metrics.
    pub events: Vec<Event>,
}

/// The node's state.
pub struct Core {
    identity: Identity,
    replica: Replica,
    store: Store,
    engine: Engine,
    /// Certificates already in the store.
    stored_certs: HashSet<KeyId>,
    /// Changes accepted since the last commit, not yet appended to the store.
    unsaved: Vec<(DocId, ChangeHash)>,
    /// Whether public changes are announced over gossipsub (rather than pushed by the
    /// engine), and the local public changes waiting to be announced.
    gossip: bool,
    announce: Vec<SignedChange>,
    /// Documents changed by the commits since the last [`Core::take_committed`], for live
    /// events.
    committed: Vec<DocId>,
    /// [`Replica::certificates_learnt`] when certificates were last stored.
    certs_saved_at: u64,
    /// The full-text index, kept up to date at each commit.
    search: crate::search::SearchIndex,
    /// Thread and group summaries, kept up to date at each commit; shared with readers off
    /// the loop ([`crate::Reader`]), who take the read lock for the length of one query while
    /// the loop takes the write lock for one document's update at a time.
    model: SharedModel,
    /// Employees who got notifications since the last [`Core::take_notified`].
    notified: Vec<String>,
    /// What local commands made new, for notifications at the next commit.
    notices: Vec<crate::readmodel::Notice>,
    /// Whether start-up found every thread and profile summarised (none replayed).
    models_stored: bool,
    /// What start-up read back and what it replayed.
    restore_stats: RestoreStats,
    /// Groups changed since their record was last stored, and when records were last stored
    /// (see [`Core::save_group_records`]).
    dirty_groups: HashSet<DocId>,
    groups_saved: std::time::Instant,
    /// When reminders were last looked for (ms; see [`Core::remind`]).
    reminded_at: i64,
    /// When this site sends mail: how long a notification waits before its mail is due
    /// (see [`crate::mail`]).
    mail_after: Option<i64>,
    /// How many documents stay in memory; the least recently used others are put away after
    /// each commit and read back from the store when needed.
    cache: usize,
    /// Each employee's write budget (see [`crate::budget`]).
    budgets: crate::budget::Budgets,
    /// The directory version installed since the last [`Core::take_directory_changed`].
    directory_changed: Option<u64>,
    /// The directory as readers off the loop see it, swapped when a new version is
    /// installed.
    directory: crate::reader::SharedDirectory,
    /// Whole thread and profile views, and read markers on their way, kept for readers off
    /// the loop.
    kept: crate::reader::SharedKept,
    /// The time (a notification's horizon, write budgets, search's ranking by age): the
    /// system's unless the runtime or a test gives another ([`Core::set_clock`]).
    clock: crate::clock::SharedClock,
}

/// How often the records of changed groups are stored (see [`Core::save_group_records`]).
pub const GROUP_RECORDS_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// What start-up read back and what it replayed ([`Core::restore_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreStats {
    /// Groups brought back from their stored record, without reading their history.
    pub groups_from_records: usize,
    /// Groups replayed from their changes (no record, or one behind the store).
    pub groups_replayed: usize,
    /// Documents of any kind replayed, and how many changes that took.
    pub replayed_documents: usize,
    pub replayed_changes: usize,
}

/// How many documents a node keeps in memory unless configured otherwise (about 30 KB each
/// for a typical thread; a group of thousands of members is megabytes). A site joining the
/// company of the sources peaked at 2.00 GiB resident (1.94 GiB anonymous) with 2,000 —
/// while threads arrive, the documents used last are mostly their groups — and at 1.83 GiB
/// (1.75 anonymous) with 1,000, its join 438 s instead of 400–426 s; a node at rest is the
/// same 0.80 GiB with either.
pub const DEFAULT_CACHE_DOCUMENTS: usize = 1_000;

/// What to tell gossipsub about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GossipVerdict {
    /// Every change is valid (or already held): forward it.
    Accept,
    /// Something in it is malformed, forged or forbidden: drop it, count it against the
    /// sender.
    Reject,
    /// It cannot be judged yet (a dependency is missing): keep it, do not forward it.
    Ignore,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Core({:?}, {:?})", self.identity, self.replica)
    }
}

impl Core {
    /// Opens the node: the store, the directory (the newer of the stored one and `initial`),
    /// the certificates, then the documents, read models and search index (see
    /// [`Core::restore`]).
    pub fn open(
        site: &str,
        node_key: SecretKey,
        trust: TrustAnchors,
        initial: Option<SignedDirectory>,
        store: Store,
        sync: SyncConfig,
        now_secs: u64,
    ) -> Result<Core, NodeError> {
        let mut replica = Replica::new(trust);
        replica.set_source(store.source());
        if let Some(bytes) = store.directory()? {
            let stored =
                Signed::from_bytes(&bytes).map_err(|e| NodeError::Corrupt(e.to_string()))?;
            replica
                .set_directory(&stored)
                .map_err(|e| NodeError::Directory(e.to_string()))?;
        }
        if let Some(d) = initial {
            let held = replica.directory().map_or(0, |v| v.version());
            let offered = d.open().map(|x| x.version).unwrap_or(0);
            if offered > held {
                replica
                    .set_directory(&d)
                    .map_err(|e| NodeError::Directory(e.to_string()))?;
                store.put_directory(&d.to_bytes())?;
            }
        }
        let Some(dir) = replica.directory() else {
            return Err(NodeError::Directory(
                "no directory: give the node a signed directory file".into(),
            ));
        };
        let listed = dir.directory.sites.get(site).and_then(|s| s.node_key);
        if listed != Some(node_key.public()) {
            return Err(NodeError::Directory(format!(
                "directory version {} does not list this node's key {} for site {site}",
                dir.version(),
                node_key.public().short()
            )));
        }
        if dir.directory.is_revoked(&node_key.public()) {
            return Err(NodeError::Directory(format!(
                "directory version {} revokes this node's key {}: enroll the site with a new key",
                dir.version(),
                node_key.public().short()
            )));
        }
        let started = std::time::Instant::now();
        let mut stored_certs = HashSet::new();
        for cert in store.certificates() {
            let bytes = cert?;
            // Checked when first learnt: only whether the directory still vouches for it
            // is decided again.
            if let Ok(c) = Signed::from_bytes(&bytes)
                && replica.add_stored_certificate(&c).is_ok()
                && let Ok(body) = c.open_unverified()
            {
                stored_certs.insert(body.key.id());
            }
        }
        tracing::info!(
            certificates = stored_certs.len(),
            millis = started.elapsed().as_millis() as u64,
            "certificates read back"
        );
        let mut identity = Identity::new(site, node_key);
        let dir = replica
            .directory()
            .map(|d| d.directory.clone())
            .unwrap_or_default();
        let fresh = identity.refresh_reusing(&dir, now_secs, |key, employee| {
            replica.certificate_for(key, employee).cloned()
        });
        for cert in fresh {
            replica
                .add_certificate(&cert)
                .map_err(|e| NodeError::Corrupt(e.to_string()))?;
        }
        let gossip = !sync.push_public;
        let engine = Engine::new(site, sync);
        let search = crate::search::SearchIndex::open(&store.search_dir())?;
        let mut core = Core {
            identity,
            replica,
            store,
            engine,
            stored_certs,
            unsaved: Vec::new(),
            gossip,
            announce: Vec::new(),
            committed: Vec::new(),
            certs_saved_at: u64::MAX,
            search,
            model: SharedModel::default(),
            notified: Vec::new(),
            notices: Vec::new(),
            models_stored: false,
            restore_stats: RestoreStats::default(),
            dirty_groups: HashSet::new(),
            groups_saved: std::time::Instant::now(),
            reminded_at: 0,
            mail_after: None,
            cache: DEFAULT_CACHE_DOCUMENTS,
            budgets: crate::budget::Budgets::default(),
            directory_changed: None,
            directory: std::sync::Arc::new(std::sync::RwLock::new(std::sync::Arc::new(dir))),
            kept: crate::reader::SharedKept::default(),
            clock: std::sync::Arc::new(crate::clock::SystemClock),
        };
        core.restore()?;
        core.save_certificates()?;
        core.store.flush()?;
        core.trim_cache();
        Ok(core)
    }

    /// Start-up: brings back every stored document, the read models and the search index.
    ///
    /// Threads and profiles whose stored summary is current (written at the commit of their
    /// last change, and covered by the `read_models_at` mark) are recorded by that summary
    /// and stay on disk; so are groups whose stored record counts every change the store
    /// holds for them (see [`Core::save_group_records`]). Everything else — groups without a
    /// current record, whatever changed after the mark (a crash between a commit's changes
    /// and its mark) or was never summarised (a store from an older build) — is replayed from
    /// its changes, groups first, the others a cache-full at a time, derived, summarised and
    /// put away. The search index reindexes the documents changed since its own last commit.
    pub(crate) fn restore(&mut self) -> Result<(), NodeError> {
        let started = std::time::Instant::now();
        let last = self.store.last_change_seq()?;
        let snapshot = match (last, self.store.read_models_at()?) {
            (Some(_), Some(mark)) => self.read_snapshot(mark)?,
            _ => None,
        };
        let (summaries, threads, profiles) = snapshot.unwrap_or_default();
        let mut cold: HashSet<DocId> = summaries.iter().map(|(id, _)| id.clone()).collect();
        // Every stored document with how many changes it holds: one pass over the store.
        let counts: Vec<(DocId, u64)> = self.store.doc_change_counts().collect::<Result<_, _>>()?;
        let records = self.current_group_records(&counts)?;
        let mut groups = Vec::new();
        let mut others = Vec::new();
        for (id, _) in counts {
            if id.kind() == weft_crdt::DocKind::Group {
                if !records.contains_key(&id) {
                    groups.push(id);
                }
            } else if !cold.contains(&id) {
                others.push(id);
            }
        }
        // The index's mark counts changes as the store numbers them, unless the store was
        // renumbered since (an upgrade): then everything is indexed again, once.
        let stale = self.store.search_marks_stale()?;
        let reindex: Option<HashSet<DocId>> = match (self.search.covered(), last) {
            (_, _) if stale => None,
            (Some(seq), Some(l)) if seq <= l => match self.store.docs_changed_after(seq) {
                Ok(docs) => Some(docs),
                Err(e) => {
                    tracing::warn!(error = %e, "the search index's mark is unreadable: indexing everything again");
                    None
                }
            },
            (_, None) => Some(HashSet::new()),
            _ => None,
        };
        let must_index = |id: &DocId| reindex.as_ref().is_none_or(|r| r.contains(id));
        let (mut replayed, mut refused) = self.replay(&groups)?;
        let mut views = Vec::with_capacity(records.len());
        for (id, r) in records {
            let v = &r.view;
            self.replica.add_group_summary(
                id.clone(),
                r.summary,
                v.visibility == weft_crdt::Visibility::Public,
                v.members.iter().map(String::as_str),
                v.invitations.iter().map(String::as_str),
            );
            views.push((r.view, r.all_company_marker, r.view_heads));
            cold.insert(id);
        }
        *write(&self.model) = ReadModel::load(&self.replica, views, threads, profiles);
        for id in &groups {
            if must_index(id) {
                self.search.index_doc(&self.replica, id);
            }
        }
        for (id, s) in summaries {
            self.replica.add_summary(id, s);
        }
        // The rest a cache-full at a time, so that start-up never holds more in memory than
        // the node will.
        let chunk = self.cache.max(1);
        for ids in others.chunks(chunk) {
            let (accepted, rejected) = self.replay(ids)?;
            replayed += accepted;
            refused += rejected;
            for id in ids {
                let _ = write(&self.model).update(&self.replica, id);
                if must_index(id) {
                    self.search.index_doc(&self.replica, id);
                }
                self.store_summary(id)?;
            }
            self.replica.evict(chunk - chunk / 10);
            self.search.commit_if_large()?;
        }
        if refused > 0 {
            tracing::warn!(
                count = refused,
                unreadable = self.replica.stored_unreadable(),
                "stored changes could not be replayed; what depends on them waits for a peer to bring them back"
            );
        }
        self.models_stored = others.is_empty();
        self.restore_stats = RestoreStats {
            groups_from_records: cold
                .iter()
                .filter(|d| d.kind() == weft_crdt::DocKind::Group)
                .count(),
            groups_replayed: groups.len(),
            replayed_documents: groups.len() + others.len(),
            replayed_changes: replayed,
        };
        tracing::info!(
            site = self.identity.site(),
            documents = self.replica.doc_count(),
            groups_from_records = self.restore_stats.groups_from_records,
            replayed_documents = groups.len() + others.len(),
            changes = replayed,
            waiting = self.replica.pending_len(),
            millis = started.elapsed().as_millis() as u64,
            "store replayed"
        );
        self.store_read_models(last)?;
        // Groups replayed now get a record, so that the next start reads them back instead.
        self.dirty_groups.extend(groups.iter().cloned());
        self.save_group_records()?;
        tracing::info!(
            threads = read(&self.model).thread_count(),
            rebuilt = others.len(),
            "read models built"
        );
        // Documents the index missed that were not replayed above: read them back one by one.
        let started = std::time::Instant::now();
        let missed: Vec<DocId> = match &reindex {
            Some(r) => r.iter().filter(|id| cold.contains(*id)).cloned().collect(),
            None => cold.iter().cloned().collect(),
        };
        if missed.len() > chunk {
            tracing::info!(
                documents = missed.len(),
                "search index: reading documents back to index them (progress every 10 s)"
            );
        }
        let mut told = std::time::Instant::now();
        for (i, id) in missed.iter().enumerate() {
            if told.elapsed() >= std::time::Duration::from_secs(10) {
                told = std::time::Instant::now();
                tracing::info!(
                    done = i,
                    of = missed.len(),
                    millis = started.elapsed().as_millis() as u64,
                    "search index: indexing"
                );
            }
            if self.replica.load(id) {
                self.search.index_doc(&self.replica, id);
            }
            if i % chunk == chunk - 1 {
                self.replica.evict(chunk - chunk / 10);
                self.search.commit_if_large()?;
            }
        }
        if let Some(d) = self.replica.directory() {
            let dir = &d.directory;
            write(&self.model).index_people(dir);
            // The index's people are those of the directory version it recorded, each
            // changed since at the commit of their profile: indexed all again only for
            // another version (or a new index); profiles changed after the index's last
            // commit (a crash in between) one by one.
            if self.search.people_version() != Some(dir.version) {
                self.search.index_people(dir, &read(&self.model));
            } else if let Some(changed) = &reindex {
                let model = read(&self.model);
                for id in changed {
                    if let Some(owner) = id.profile_owner() {
                        self.search.index_person(dir, &model, owner);
                    }
                }
            }
        }
        if let Some(l) = last {
            self.search.set_covered(l);
        }
        self.search.commit()?;
        if stale {
            self.store.search_marks_current()?;
            self.store.flush()?;
        }
        tracing::info!(
            reindexed = match &reindex {
                Some(r) => r.len(),
                None => groups.len() + others.len() + cold.len(),
            },
            from_scratch = reindex.is_none(),
            millis = started.elapsed().as_millis() as u64,
            "search index built"
        );
        Ok(())
    }

    /// The stored group records that are current: those counting as many changes as the
    /// store holds for their group (`counts`, every document's). A record that is unreadable
    /// or behind is left out (its group is replayed, and stored again after) with a warning
    /// for the unreadable.
    fn current_group_records(
        &self,
        counts: &[(DocId, u64)],
    ) -> Result<std::collections::HashMap<DocId, crate::store::GroupRecord>, NodeError> {
        let mut out = std::collections::HashMap::new();
        let mut stored = std::collections::HashMap::new();
        for item in self.store.group_records() {
            match item? {
                (id, Ok(r)) => {
                    stored.insert(id, r);
                }
                (id, Err(e)) => {
                    tracing::warn!(group = %id, error = %e, "a stored group record is unreadable: replaying that group");
                }
            }
        }
        if stored.is_empty() {
            return Ok(out);
        }
        for (id, count) in counts {
            if let Some(r) = stored.remove(id)
                && r.summary.changes == *count
                && r.view.id == *id
            {
                out.insert(id.clone(), r);
            }
        }
        Ok(out)
    }

    /// Stores the record of every group changed since its record was last stored: its
    /// summary, its read model's view and the heads that view was made at. Called every
    /// [`GROUP_RECORDS_EVERY`] at a commit, at start-up for the groups it replayed, and when
    /// the node stops ([`Core::checkpoint`]): a group of thousands of members and threads is
    /// megabytes, too much to write at every commit that touches it. A group changed after
    /// its record (a crash before the next one) is replayed at the next start. Only called
    /// when every accepted change is stored, so a record never counts a change the store
    /// lacks.
    pub(crate) fn save_group_records(&mut self) -> Result<usize, NodeError> {
        self.groups_saved = std::time::Instant::now();
        if self.dirty_groups.is_empty() || !self.unsaved.is_empty() {
            return Ok(0);
        }
        let dirty: Vec<DocId> = self.dirty_groups.drain().collect();
        let mut records = Vec::with_capacity(dirty.len());
        {
            let model = read(&self.model);
            for id in &dirty {
                let (Some(g), Some(summary)) = (model.group(id), self.replica.summary(id)) else {
                    continue;
                };
                records.push((
                    id.clone(),
                    crate::store::GroupRecord {
                        summary,
                        view: (*g.view).clone(),
                        all_company_marker: g.all_company_marker,
                        view_heads: g.heads.clone(),
                    },
                ));
            }
        }
        for (id, r) in &records {
            self.store.put_group_record(id, r)?;
        }
        Ok(records.len())
    }

    /// Stores what is cheaper to read back than to rebuild at the next start (the records
    /// of changed groups, the search index's commit recording what it covers) and flushes
    /// the store: for a node that stops.
    pub fn checkpoint(&mut self) -> Result<(), NodeError> {
        self.commit()?;
        let n = self.save_group_records()?;
        self.store.flush()?;
        self.refresh_search();
        tracing::debug!(groups = n, "group records stored");
        Ok(())
    }

    /// What start-up read back and what it replayed.
    pub fn restore_stats(&self) -> RestoreStats {
        self.restore_stats
    }

    /// Replays every stored change of these documents; (accepted, refused). A stored change
    /// that cannot be replayed is logged with its reason (and counted in `/metrics`); it
    /// hides nothing that does not depend on it (see [`Replica::ingest_stored`]).
    fn replay(&mut self, ids: &[DocId]) -> Result<(usize, usize), NodeError> {
        let mut bytes: Vec<Vec<u8>> = Vec::new();
        for id in ids {
            bytes.extend(self.store.changes_of(id)?);
        }
        let report = self.replica.ingest_stored(bytes.iter().map(Vec::as_slice));
        for (doc, hash, why) in report.rejected.iter().take(20) {
            tracing::warn!(
                doc = ?doc,
                change = ?hash,
                reason = %why,
                "stored change not replayed"
            );
        }
        Ok((report.accepted.len(), report.rejected.len()))
    }

    /// The stored summaries, thread summaries and profile words that are current: those of
    /// documents with no change after the `mark`. `None` (with a warning) if one is
    /// unreadable: everything is then replayed.
    #[allow(clippy::type_complexity)]
    fn read_snapshot(
        &self,
        mark: u64,
    ) -> Result<
        Option<(
            Vec<(DocId, weft_crdt::DocSummary)>,
            Vec<ThreadSummary>,
            Vec<(String, crate::readmodel::ProfileWords)>,
        )>,
        NodeError,
    > {
        let unreadable = |what: &str, e: &dyn std::fmt::Display| {
            tracing::warn!(error = %e, "a stored {what} is unreadable: replaying every document");
        };
        let stale = match self.store.docs_changed_after(mark) {
            Ok(s) => s,
            Err(e) => {
                unreadable("read models' mark", &e);
                return Ok(None);
            }
        };
        // Profile records first: one stored by an older build, without the card people
        // search shows, has its profile replayed (once: it is stored again with its card).
        let mut profiles = Vec::new();
        let mut uncarded: HashSet<DocId> = HashSet::new();
        for item in self.store.profile_words() {
            let (who, bytes) = item?;
            match serde_json::from_slice::<crate::readmodel::ProfileWords>(&bytes) {
                Ok(p) if p.card.is_none() => {
                    uncarded.insert(DocId::profile(&who));
                }
                Ok(p) => profiles.push((who, p)),
                Err(e) => {
                    unreadable("profile record", &e);
                    return Ok(None);
                }
            }
        }
        let mut summaries = Vec::new();
        for item in self.store.doc_summaries() {
            match item {
                Ok((id, s)) => {
                    if id.kind() != weft_crdt::DocKind::Group
                        && !stale.contains(&id)
                        && !uncarded.contains(&id)
                    {
                        summaries.push((id, s));
                    }
                }
                Err(e) => {
                    unreadable("document summary", &e);
                    return Ok(None);
                }
            }
        }
        let cold: HashSet<&DocId> = summaries.iter().map(|(id, _)| id).collect();
        profiles.retain(|(who, _)| cold.contains(&DocId::profile(who)));
        let mut threads = Vec::new();
        for item in self.store.thread_summaries() {
            match serde_json::from_slice::<ThreadSummary>(&item?) {
                Ok(t) => {
                    if cold.contains(&t.id) {
                        threads.push(t);
                    }
                }
                Err(e) => {
                    unreadable("thread summary", &e);
                    return Ok(None);
                }
            }
        }
        if !uncarded.is_empty() {
            tracing::info!(
                profiles = uncarded.len(),
                "profiles recorded by an older build are read again (once)"
            );
        }
        Ok(Some((summaries, threads, profiles)))
    }

    /// Stores the summary of a document in memory (threads and profiles; groups have
    /// records, see [`Core::save_group_records`]), and a profile's words.
    fn store_summary(&self, id: &DocId) -> Result<(), NodeError> {
        if id.kind() == weft_crdt::DocKind::Group {
            return Ok(());
        }
        let Some(doc) = self.replica.doc(id) else {
            return Ok(());
        };
        self.store
            .put_doc_summary(id, &weft_crdt::DocSummary::of(doc))?;
        if let Some(owner) = id.profile_owner()
            && let Some(p) = read(&self.model).profile_record(owner).cloned()
        {
            let bytes = serde_json::to_vec(&p).map_err(|e| NodeError::Corrupt(e.to_string()))?;
            self.store.put_profile_words(owner, &bytes)?;
        }
        Ok(())
    }

    /// Sets how many documents stay in memory, and puts away the rest now.
    pub fn set_cache_documents(&mut self, n: usize) {
        self.cache = n;
        self.trim_cache();
    }

    /// Puts away the least recently used documents once more than the cache's size are in
    /// memory (down to nine tenths of it, so that this is not done at every commit). Only
    /// called when every accepted change is in the store.
    fn trim_cache(&mut self) {
        if self.unsaved.is_empty() && self.replica.loaded_count() > self.cache {
            let n = self.replica.evict(self.cache - self.cache / 10);
            tracing::debug!(documents = n, "documents put away");
        }
    }

    /// Brings a document back into memory if it was put away; whether it is held.
    pub fn load(&mut self, id: &DocId) -> bool {
        self.replica.load(id)
    }

    pub fn site(&self) -> &str {
        self.identity.site()
    }

    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Sets the write budget of this node's employees (see [`crate::budget`]).
    /// When this site sends mail: how long a notification waits before its mail is due
    /// (see [`crate::mail`]); `None`: no mail is queued.
    pub fn set_mail_after(&mut self, delay_ms: Option<i64>) {
        self.mail_after = delay_ms;
    }

    pub fn set_write_budget(&mut self, budget: crate::budget::WriteBudget) {
        self.budgets.set(budget);
    }

    /// Spends one write of `employee`'s budget.
    pub(crate) fn spend_write(&mut self, employee: &str) -> Result<(), NodeError> {
        let now = self.now_ms();
        self.budgets.write(employee, now)
    }

    /// Spends one change of `employee`'s own membership of `group`.
    pub(crate) fn spend_membership(
        &mut self,
        employee: &str,
        group: &DocId,
    ) -> Result<(), NodeError> {
        let now = self.now_ms();
        self.budgets.membership(employee, group.as_str(), now)
    }

    /// Writes refused because a budget was spent.
    pub fn writes_refused(&self) -> u64 {
        self.budgets.refused()
    }

    /// Runs a local command as `employee` (who must be homed here), then pushes the change to
    /// peers. Not durable until [`Core::commit`]. Spends one write of the employee's budget.
    pub fn local<T>(
        &mut self,
        employee: &str,
        f: impl FnOnce(
            &mut Replica,
            &weft_crdt::Author,
        ) -> Result<(T, Vec<SignedChange>), weft_crdt::LocalError>,
    ) -> Result<T, NodeError> {
        let author = self
            .identity
            .author(employee)
            .cloned()
            .ok_or_else(|| NodeError::NotHomedHere(employee.to_owned()))?;
        self.spend_write(employee)?;
        let mut written: Vec<(DocId, bool, Vec<ChangeHash>)> = Vec::new();
        let value = self.local_as(&author, |r, a| {
            let (value, changes) = f(r, a)?;
            written = changes
                .iter()
                .map(|c| (c.doc().clone(), c.deps().is_empty(), c.deps().to_vec()))
                .collect();
            Ok((value, changes))
        })?;
        let now = self.now_ms();
        if let Err(e) = crate::service::note_taking_part(self, employee, &written, now) {
            tracing::warn!(error = %e, "usage not recorded");
        }
        Ok(value)
    }

    /// Runs a local command signed by `author`, who may be homed at any site (the company
    /// generator, [`crate::company`], writes a whole company's history through one node this
    /// way): the change is signed, judged (signature, certificate, standing, write rules) and
    /// applied exactly as [`Core::local`]'s, with no write budget spent. Not for the service:
    /// a node signs only for its own employees.
    #[doc(hidden)]
    pub fn local_as<T>(
        &mut self,
        author: &weft_crdt::Author,
        f: impl FnOnce(
            &mut Replica,
            &weft_crdt::Author,
        ) -> Result<(T, Vec<SignedChange>), weft_crdt::LocalError>,
    ) -> Result<T, NodeError> {
        let (value, changes) = f(&mut self.replica, author)?;
        // The read models follow local changes at once, so that the next command in the same
        // call sees them (peers' changes reach them at commit).
        let mut docs: Vec<&DocId> = changes.iter().map(|c| c.doc()).collect();
        docs.dedup();
        for d in docs {
            let n = write(&self.model).update(&self.replica, d);
            self.notices.extend(n);
        }
        for c in &changes {
            self.unsaved.push((c.doc().clone(), c.hash()));
            self.engine.handle_local_change(c, &self.replica);
            if self.gossip && self.replica.is_public(c.doc()) {
                self.announce.push(c.clone());
            }
        }
        Ok(value)
    }

    /// The public changes made since the last call, as one gossip message (a `Changes`
    /// frame with the authors' certificates), and the changes themselves.
    pub fn take_announcement(&mut self) -> Option<(Vec<u8>, Vec<SignedChange>)> {
        if self.announce.is_empty() {
            return None;
        }
        let changes = std::mem::take(&mut self.announce);
        let mut certs: Vec<Vec<u8>> = Vec::new();
        let mut keys = HashSet::new();
        for c in &changes {
            if keys.insert(c.key_id())
                && let Some(cert) = self.replica.certificate_for(&c.key_id(), c.author())
            {
                certs.push(cert.to_bytes());
            }
        }
        let frame = weft_crdt::sync::Message::Changes {
            certs,
            changes: changes.iter().map(|c| c.bytes().to_vec()).collect(),
        }
        .encode();
        Some((frame, changes))
    }

    /// Pushes changes to peers point-to-point (when an announcement could not be published).
    pub fn push_directly(&mut self, changes: &[SignedChange]) {
        for c in changes {
            self.engine.push_change(c, &self.replica);
        }
    }

    /// A gossip message from `site`: judged like a sync frame, and the verdict for gossipsub.
    pub fn gossip_message(
        &mut self,
        site: &str,
        bytes: &[u8],
    ) -> (GossipVerdict, weft_crdt::IngestReport) {
        let mut report = weft_crdt::IngestReport::default();
        let Ok(weft_crdt::sync::Message::Changes { certs, changes }) =
            weft_crdt::sync::Message::decode(bytes)
        else {
            tracing::warn!(peer = %site, "malformed gossip message");
            return (GossipVerdict::Reject, report);
        };
        for c in &certs {
            match Signed::from_bytes(c).map(|c| self.replica.add_certificate(&c)) {
                Ok(Ok(r)) => report.accepted.extend(r.accepted),
                _ => {
                    tracing::warn!(peer = %site, "gossip message with a refused certificate");
                    return (GossipVerdict::Reject, report);
                }
            }
        }
        let r = self
            .replica
            .ingest_bytes_from(site, changes.iter().map(Vec::as_slice));
        report.accepted.extend(r.accepted);
        report.rejected.extend(r.rejected);
        report.waiting.extend(r.waiting);
        report.duplicates += r.duplicates;
        self.unsaved.extend(report.accepted.iter().cloned());
        let verdict = if !report.rejected.is_empty() {
            GossipVerdict::Reject
        } else if !report.waiting.is_empty() {
            GossipVerdict::Ignore
        } else {
            GossipVerdict::Accept
        };
        (verdict, report)
    }

    /// Ingests signed changes from outside the sync protocol (an import, a benchmark), like
    /// changes from a peer: judged, then appended at the next commit.
    pub fn ingest(&mut self, items: &[&[u8]]) -> weft_crdt::IngestReport {
        let report = self.replica.ingest_bytes(items.iter().copied());
        self.unsaved.extend(report.accepted.iter().cloned());
        report
    }

    /// Learns an employee certificate (as one arriving with changes from a peer would be).
    pub fn add_certificate(
        &mut self,
        cert: &Signed<weft_keys::EmployeeCert>,
    ) -> Result<(), NodeError> {
        let report = self
            .replica
            .add_certificate(cert)
            .map_err(|e| NodeError::Corrupt(e.to_string()))?;
        self.unsaved.extend(report.accepted);
        Ok(())
    }

    /// A peer connected.
    pub fn connect(&mut self, peer_site: &str, now_ms: u64) {
        self.engine.handle_connect(peer_site, now_ms, &self.replica);
    }

    /// A peer disconnected.
    pub fn disconnect(&mut self, peer_site: &str) {
        self.engine.handle_disconnect(peer_site);
    }

    /// A frame sent to a peer was delivered (acknowledged `rtt_ms` after it was sent, or given
    /// up on): more of what a joining site is sent may go (see
    /// `weft_crdt::sync::Config::window_frames`), and the engine learns how near the peer is
    /// (see `weft_crdt::sync::Config::repair_peers`).
    pub fn delivered(&mut self, peer_site: &str, rtt_ms: Option<u64>) {
        if let Some(ms) = rtt_ms {
            self.engine.observe_rtt(peer_site, ms);
        }
        self.engine.handle_delivered(peer_site, &self.replica);
    }

    /// Documents waiting to be sent whole to a peer (a site catching up from nothing).
    pub fn sync_backlog(&self, peer_site: &str) -> usize {
        self.engine.backlog(peer_site)
    }

    /// A frame from a peer.
    pub fn frame(&mut self, peer_site: &str, bytes: &[u8], now_ms: u64) -> Outcome {
        self.engine
            .handle_frame(peer_site, bytes, now_ms, &mut self.replica);
        self.drain_events()
    }

    /// Time passed.
    pub fn tick(&mut self, now_ms: u64) -> Outcome {
        self.engine.handle_tick(now_ms, &mut self.replica);
        let now = self.now_ms();
        if now - self.reminded_at >= crate::personal::REMIND_EVERY_MS {
            let since = if self.reminded_at == 0 {
                now - crate::personal::REMIND_EVERY_MS
            } else {
                self.reminded_at
            };
            self.reminded_at = now;
            if let Err(e) = self.remind(since, now) {
                tracing::warn!(error = %e, "reminders not made");
            }
        }
        self.drain_events()
    }

    /// Reminders, looked for about once a minute: an hour before an event starts, its
    /// attendees homed here (those who answered yes or maybe) are reminded; when a poll
    /// closes, its author and voters homed here are told. Each employee
    /// is told once of each (recorded in their personal records).
    pub fn remind(&mut self, since: i64, now: i64) -> Result<(), NodeError> {
        use crate::personal::{NoticeKind, Notification, REMIND_BEFORE_MS, REMIND_MAX};
        let (events, polls): (Vec<DocId>, Vec<DocId>) = {
            let m = read(&self.model);
            (
                m.events_between(now, now + REMIND_BEFORE_MS)
                    .filter(|t| t.event.as_ref().is_some_and(|e| !e.cancelled))
                    .take(REMIND_MAX)
                    .map(|t| t.id.clone())
                    .collect(),
                m.polls_closing_between(since, now + 1)
                    .take(REMIND_MAX)
                    .map(|t| t.id.clone())
                    .collect(),
            )
        };
        let site = self.identity.site().to_owned();
        let local = |c: &Core, e: &str| {
            c.replica
                .directory()
                .and_then(|d| {
                    d.directory
                        .active_employee(e)
                        .map(|x| x.site.as_str() == site)
                })
                .unwrap_or(false)
        };
        let mut told = Vec::new();
        for (ids, kind) in [
            (events, NoticeKind::Reminder),
            (polls, NoticeKind::PollClosed),
        ] {
            for id in ids {
                self.load(&id);
                let Some(v) = self.replica.doc(&id).and_then(weft_crdt::ThreadView::of) else {
                    continue;
                };
                // The posts it is about: an event's first post; the polls that closed.
                let about: Vec<(&weft_crdt::PostView, Vec<String>)> = match kind {
                    NoticeKind::Reminder => v
                        .posts
                        .first()
                        .into_iter()
                        .map(|root| {
                            let who = root
                                .event
                                .iter()
                                .flat_map(|e| {
                                    ["yes", "maybe"]
                                        .into_iter()
                                        .flat_map(|a| e.rsvps.get(a).cloned().unwrap_or_default())
                                })
                                .collect();
                            (root, who)
                        })
                        .collect(),
                    _ => v
                        .posts
                        .iter()
                        .filter(|p| {
                            p.poll
                                .as_ref()
                                .and_then(|q| q.closes_at)
                                .is_some_and(|c| c >= since && c <= now)
                        })
                        .map(|p| {
                            let who = std::iter::once(p.author.clone())
                                .chain(
                                    p.poll
                                        .iter()
                                        .flat_map(|q| q.votes.values().flatten().cloned()),
                                )
                                .collect();
                            (p, who)
                        })
                        .collect(),
                };
                for (post, who) in about {
                    for e in who {
                        if !local(self, &e) || told.contains(&(e.clone(), post.id.clone())) {
                            continue;
                        }
                        let mark = format!("{}:{}:{}", kind.as_str(), id, post.id);
                        if self.store.reminded(&e, &mark)? {
                            continue;
                        }
                        self.store.set_reminded(&e, &mark)?;
                        self.store.add_notification(
                            &e,
                            Notification {
                                id: 0,
                                kind,
                                doc: id.as_str().to_owned(),
                                post: Some(post.id.clone()),
                                by: post.author.clone(),
                                title: v.title.clone(),
                                at: now,
                                read: false,
                            },
                        )?;
                        told.push((e.clone(), post.id.clone()));
                        if !self.notified.contains(&e) {
                            self.notified.push(e);
                        }
                    }
                }
            }
        }
        if !told.is_empty() {
            self.store.flush()?;
        }
        Ok(())
    }

    /// Installs a newer signed directory given to this node directly (its directory file
    /// changed, or an operator pushed it): stored, the node's employees' keys refreshed,
    /// people reindexed, and sent to every connected peer so that it reaches every site
    /// within a round trip. Returns the new version, and an outcome whose events include
    /// [`Event::DirectoryUpdated`]. A version that is not newer is refused with the reason.
    pub fn install_directory(
        &mut self,
        signed: &SignedDirectory,
    ) -> Result<(u64, Outcome), NodeError> {
        let report = self
            .replica
            .set_directory(signed)
            .map_err(|e| NodeError::Directory(e.to_string()))?;
        self.unsaved.extend(report.accepted.iter().cloned());
        let version = self.replica.directory().map_or(0, |d| d.version());
        self.engine.handle_directory_updated(&self.replica);
        let mut out = Outcome {
            accepted: report.accepted,
            events: Vec::new(),
        };
        // The same path as a directory from a peer: stored, keys, people.
        self.on_directory_updated();
        out.events.push(Event::DirectoryUpdated { version });
        Ok((version, out))
    }

    /// The directory version installed since the last call, if any (for the runtime: the
    /// allow list of peers, and the web layer's sessions of people who left or moved).
    pub fn take_directory_changed(&mut self) -> Option<u64> {
        self.directory_changed.take()
    }

    /// What a new directory changes here, however it arrived.
    fn on_directory_updated(&mut self) {
        let Some(d) = self.replica.directory() else {
            return;
        };
        let bytes = d.signed.to_bytes();
        let dir = d.directory.clone();
        self.directory_changed = Some(dir.version);
        *self
            .directory
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = std::sync::Arc::new(dir.clone());
        if let Err(err) = self.store.put_directory(&bytes) {
            tracing::error!(error = %err, "cannot store the new directory");
        }
        let now = dir.issued_at;
        for cert in self.identity.refresh(&dir, now) {
            if let Err(e) = self.replica.add_certificate(&cert) {
                tracing::error!(error = %e, "this node's own certificate was refused");
            }
        }
        if dir.current_node_key(self.identity.site()) != Some(self.identity.node_key().public()) {
            tracing::error!(
                site = self.identity.site(),
                version = dir.version,
                "the directory no longer lists this node's key for its site (re-enrolled or revoked): it signs for no one; start the site's new node"
            );
        }
        // New people, new titles, people who left: found as the directory now says.
        write(&self.model).index_people(&dir);
        self.search.index_people(&dir, &read(&self.model));
    }

    fn drain_events(&mut self) -> Outcome {
        let mut out = Outcome::default();
        while let Some(e) = self.engine.poll_event() {
            match &e {
                Event::Ingested { accepted, .. } => {
                    self.unsaved.extend(accepted.iter().cloned());
                    out.accepted.extend(accepted.iter().cloned());
                }
                Event::DirectoryUpdated { .. } => self.on_directory_updated(),
                _ => {}
            }
            out.events.push(e);
        }
        out
    }

    /// The next frame to send: (peer site, bytes).
    pub fn poll_transmit(&mut self) -> Option<(String, Vec<u8>)> {
        self.engine.poll_transmit()
    }

    /// Whether anything was written since the last commit — changes accepted, or accounts,
    /// personal records (follows, read markers, settings) and sessions — that is not durable
    /// yet: the runtime answers the command only after [`Core::commit`].
    pub fn has_unsaved(&self) -> bool {
        !self.unsaved.is_empty() || self.store.has_unflushed()
    }

    /// Appends every change accepted since the last commit (and new certificates) to the
    /// store, then flushes it. Returns how many changes were made durable.
    pub fn commit(&mut self) -> Result<usize, NodeError> {
        if self.unsaved.is_empty() {
            // A follow, a read marker, a setting, a session: flushed before the command that
            // wrote it is answered.
            if !self.dirty_groups.is_empty()
                && self.groups_saved.elapsed() >= GROUP_RECORDS_EVERY
                && self.save_group_records()? > 0
            {
                self.store.flush()?;
            }
            if self.store.has_unflushed() {
                self.store.flush()?;
            }
            // Queries read documents back too: the runtime commits after every batch of
            // jobs, so this is where the cache is kept to its size.
            self.trim_cache();
            return Ok(0);
        }
        let unsaved = std::mem::take(&mut self.unsaved);
        let mut rows: Vec<(DocId, std::sync::Arc<[u8]>)> = Vec::with_capacity(unsaved.len());
        for (doc, hash) in &unsaved {
            if let Some(c) = self.replica.doc(doc).and_then(|d| d.change(hash)) {
                rows.push((doc.clone(), c.bytes().clone()));
            }
        }
        let mut changed: Vec<&DocId> = Vec::new();
        let mut seen: HashSet<&DocId> = HashSet::new();
        for (d, _) in &rows {
            if seen.insert(d) {
                changed.push(d);
            }
        }
        // Readers see the changes first (they are in the replica already; nothing a reader
        // is shown waits on the disk), then they are appended and flushed below: a command
        // that wrote is still answered only after that flush.
        let mut notices = std::mem::take(&mut self.notices);
        for d in &changed {
            notices.extend(write(&self.model).update(&self.replica, d));
            self.refresh_kept_view(d);
        }
        let last = self
            .store
            .append_changes(rows.iter().map(|(d, b)| (d, &b[..])))?;
        let mut people: Vec<String> = Vec::new();
        for d in changed {
            self.search.index_doc(&self.replica, d);
            self.store_summary(d)?;
            if d.kind() == weft_crdt::DocKind::Group {
                self.dirty_groups.insert(d.clone());
            }
            if let Some(owner) = d.profile_owner() {
                people.push(owner.to_owned());
            }
            if !self.committed.contains(d) {
                self.committed.push(d.clone());
            }
        }
        self.notify(notices)?;
        // The summaries changed by these changes, and the mark that says the stored ones
        // cover them, go in the same flush.
        self.store_read_models(last)?;
        if !people.is_empty()
            && let Some(dir) = self.replica.directory()
        {
            let model = read(&self.model);
            for who in &people {
                self.search.index_person(&dir.directory, &model, who);
            }
        }
        if let Some(seq) = last {
            self.search.set_covered(seq);
        }
        // A bound whoever drives the core: never more than a commit's worth waiting.
        self.search.commit_if_large()?;
        // The index itself is committed lazily (before a search, and about once a second):
        // a tantivy commit per write would slow every write and pile up segments.
        self.save_certificates()?;
        if self.groups_saved.elapsed() >= GROUP_RECORDS_EVERY {
            self.save_group_records()?;
        }
        self.store.flush()?;
        self.trim_cache();
        Ok(rows.len())
    }

    /// The search index, with every change made so far searchable.
    pub fn search_index(&mut self) -> &crate::search::SearchIndex {
        self.refresh_search();
        &self.search
    }

    /// Makes what was indexed since the last refresh searchable (cheap when nothing was).
    pub fn refresh_search(&mut self) {
        if let Err(e) = self.search.commit() {
            tracing::warn!(error = %e, "search index not updated");
        }
    }

    /// Stores the thread summaries changed since the last call, and marks the stored read
    /// models as covering every change up to `last`.
    fn store_read_models(&mut self, last: Option<u64>) -> Result<(), NodeError> {
        // Encoded under the write lock (summaries are small), written after it is released:
        // readers never wait on sled.
        let encoded: Vec<(DocId, Vec<u8>)> = write(&self.model)
            .take_dirty()
            .into_iter()
            .map(|t| {
                serde_json::to_vec(t)
                    .map(|b| (t.id.clone(), b))
                    .map_err(|e| NodeError::Corrupt(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        for (id, bytes) in encoded {
            self.store.put_thread_summary(&id, &bytes)?;
        }
        if let Some(seq) = last {
            self.store.set_read_models_at(seq)?;
        }
        Ok(())
    }

    /// Makes notifications of what is new (see [`crate::personal::deliver`]).
    fn notify(&mut self, notices: Vec<crate::readmodel::Notice>) -> Result<(), NodeError> {
        if notices.is_empty() {
            return Ok(());
        }
        let now = self.now_ms();
        let dir = self.replica.directory().map(|d| &d.directory);
        let who = crate::personal::deliver(
            &self.store,
            &read(&self.model),
            dir,
            self.identity.site(),
            notices,
            now,
            self.mail_after,
        )?;
        for w in who {
            if !self.notified.contains(&w) {
                self.notified.push(w);
            }
        }
        Ok(())
    }

    /// The documents changed by commits since the last call (durable now).
    pub fn take_committed(&mut self) -> Vec<DocId> {
        std::mem::take(&mut self.committed)
    }

    /// The employees who got notifications since the last call.
    pub fn take_notified(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notified)
    }

    /// The read models (a read lock: do not hold it across a call that writes them).
    pub fn model(&self) -> std::sync::RwLockReadGuard<'_, ReadModel> {
        read(&self.model)
    }

    /// Brings the view readers keep of `id` (if any) up to date: a thread from the posts and
    /// reactions changed since it was read (see [`weft_crdt::ThreadView::updated`]), read
    /// whole only when something else changed; a profile read again (it is small).
    fn refresh_kept_view(&self, id: &DocId) {
        match id.kind() {
            weft_crdt::DocKind::Thread => {
                let Some((old, since)) = self.kept.threads().peek(id) else {
                    return;
                };
                let Some(doc) = self.replica.doc(id) else {
                    return;
                };
                let view = weft_crdt::ThreadView::updated(doc, &old, &since)
                    .or_else(|| weft_crdt::ThreadView::of(doc));
                if let Some(v) = view {
                    self.kept
                        .threads()
                        .put_at(id.clone(), v, doc.applied_heads());
                }
            }
            weft_crdt::DocKind::Profile if self.kept.profiles().holds(id) => {
                if let Some(d) = self.replica.doc(id) {
                    self.kept
                        .profiles()
                        .put(id.clone(), weft_crdt::ProfileView::of(d));
                }
            }
            _ => {}
        }
    }

    /// Keeps `view` for readers off the loop, and returns it shared.
    pub(crate) fn keep_thread_view(
        &self,
        view: weft_crdt::ThreadView,
    ) -> std::sync::Arc<weft_crdt::ThreadView> {
        let heads = self
            .replica
            .doc(&view.id)
            .map(weft_crdt::Doc::applied_heads)
            .unwrap_or_default();
        self.kept.threads().put_at(view.id.clone(), view, heads)
    }

    /// Keeps `employee`'s profile view for readers off the loop, and returns it shared.
    pub(crate) fn keep_profile_view(
        &self,
        employee: &str,
        view: weft_crdt::ProfileView,
    ) -> std::sync::Arc<weft_crdt::ProfileView> {
        self.kept.profiles().put(DocId::profile(employee), view)
    }

    /// What the loop keeps for readers (read markers on their way included).
    pub(crate) fn kept(&self) -> &crate::reader::Kept {
        &self.kept
    }

    /// Sets the clock the core reads (the runtime's, or a test's).
    pub fn set_clock(&mut self, clock: crate::clock::SharedClock) {
        self.clock = clock;
    }

    /// The time as the core's clock says (ms since the epoch).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A handle for reading off the loop (see [`crate::Reader`]).
    pub fn reader(&self) -> crate::Reader {
        crate::Reader::new(
            self.identity.site(),
            self.model.clone(),
            self.directory.clone(),
            self.kept.clone(),
            self.store.clone(),
            self.search.reader(),
        )
    }

    /// The read models, shared: what readers off the loop query.
    pub fn shared_model(&self) -> SharedModel {
        self.model.clone()
    }

    /// Whether start-up found every thread and profile summarised in the store, so that it
    /// replayed none of them.
    pub fn read_models_were_stored(&self) -> bool {
        self.models_stored
    }

    /// Stores the certificates accepted since the last commit. Runs at every commit: it
    /// looks certificates up by key id (verifying each again here cost a signature check per
    /// certificate per commit — most of a one-change commit's time).
    fn save_certificates(&mut self) -> Result<(), NodeError> {
        // Looked for only when one was learnt (tens of thousands are held).
        let learnt = self.replica.certificates_learnt();
        if learnt == self.certs_saved_at {
            return Ok(());
        }
        let new: Vec<(KeyId, Vec<u8>)> = self
            .replica
            .certificates_by_key()
            .filter(|(id, _)| !self.stored_certs.contains(*id))
            .map(|(id, c)| (*id, c.to_bytes()))
            .collect();
        for (id, bytes) in new {
            self.store.put_certificate(&id, &bytes)?;
            self.stored_certs.insert(id);
        }
        self.certs_saved_at = learnt;
        Ok(())
    }
}

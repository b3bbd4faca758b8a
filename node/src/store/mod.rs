//! Storage: the one module that knows sled.
//!
//! sled 0.34 is no longer developed, so it stays behind this narrow API (open, append
//! changes, flush, replay, certificates, directory, read models): replacing it (redb is the
//! likely successor) touches nothing else. The tree catalogue is in `maps.rs`.
//!
//! The signed changes themselves are not in sled but appended to a file beside it (see
//! `log.rs`); sled holds where each document's changes are, and everything else.
//!
//! Durability: writes go to sled's log; [`Store::flush`] makes everything written so far
//! durable, and the node answers a command only after the flush that covers it. sled
//! recovers to a consistent prefix of its log after a crash, so a node killed at any moment
//! restarts with every flushed change and nothing torn; the change log is synced before
//! sled learns of its records, and cut back at opening to what sled knows.

mod compact;
mod log;
mod mail;
mod maps;
mod personal;
mod sessions;
mod snapshot;
mod usage;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use automerge::ChangeHash;
use weft_crdt::DocId;
use weft_keys::KeyId;

pub use compact::Compacted;
pub use mail::{MailJob, MailKey, MailWhat};
pub use maps::FORMAT_VERSION;
pub use sessions::SessionRecord;
pub use snapshot::GroupRecord;
pub use usage::{UsageKind, WeekUsage};

/// A storage failure. Names what was being done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot open the store at {path} (is a node already running on it?): {source}")]
    Open { path: String, source: sled::Error },
    #[error("the store at {path} has format version {found}; this build reads version {expected}")]
    Version {
        path: String,
        found: u32,
        expected: u32,
    },
    #[error("storage error while {doing}: {source}")]
    Io {
        doing: &'static str,
        source: sled::Error,
    },
    #[error("corrupt record in {tree}: {reason}")]
    Corrupt { tree: &'static str, reason: String },
    #[error("the change log: {0}")]
    Log(String),
    #[error("compacting the store: {0}")]
    Compact(String),
    #[error(
        "the store at {path} can be read by other users (mode {mode:o}); it holds password hashes and private groups: run `chmod -R go-rwx {path}`"
    )]
    TooOpen { path: String, mode: u32 },
}

fn io(doing: &'static str) -> impl FnOnce(sled::Error) -> StoreError {
    move |source| StoreError::Io { doing, source }
}

impl From<log::LogError> for StoreError {
    fn from(e: log::LogError) -> StoreError {
        StoreError::Log(e.to_string())
    }
}

/// What a store holds, for `/api/v1/node` and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub documents: u64,
    pub changes: u64,
    pub change_bytes: u64,
}

/// The store's page cache unless configured (`store_cache_mb`): a quarter of sled's own
/// default of 1 GiB, which a node of a large company filled (issue 15).
pub const DEFAULT_CACHE_MB: u64 = 256;

/// The node's store.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    path: std::path::PathBuf,
    meta: sled::Tree,
    /// The signed changes, in the order accepted (see `log.rs`).
    log: Arc<log::ChangeLog>,
    docs: sled::Tree,
    certs: sled::Tree,
    directory: sled::Tree,
    threads: sled::Tree,
    summaries: sled::Tree,
    groups: sled::Tree,
    profiles: sled::Tree,
    accounts: Tracked,
    personal: Tracked,
    sessions: Tracked,
    /// Whether a write went to a tree outside the commit path since the last flush (see
    /// [`Store::has_unflushed`]).
    written: Arc<AtomicBool>,
    /// The threads each employee follows, as last read or written (see
    /// [`Store::followed_thread_set`]).
    follows: personal::FollowCache,
    /// Added to sled's id generator (see [`Store::next_id`]).
    id_floor: u64,
}

/// A tree written outside the commit path (accounts, personal records, sessions): every write
/// marks the store as holding unflushed writes, so that the command that made it is answered
/// only after the flush that makes it durable.
#[derive(Clone)]
struct Tracked {
    tree: sled::Tree,
    written: Arc<AtomicBool>,
}

impl Tracked {
    fn insert<K: AsRef<[u8]>, V: Into<sled::IVec>>(
        &self,
        key: K,
        value: V,
    ) -> sled::Result<Option<sled::IVec>> {
        self.written.store(true, Ordering::Release);
        self.tree.insert(key, value)
    }

    fn remove<K: AsRef<[u8]>>(&self, key: K) -> sled::Result<Option<sled::IVec>> {
        self.written.store(true, Ordering::Release);
        self.tree.remove(key)
    }
}

impl std::ops::Deref for Tracked {
    type Target = sled::Tree;

    fn deref(&self) -> &sled::Tree {
        &self.tree
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({} bytes of changes)", self.log.len())
    }
}

impl Store {
    /// Opens (or creates) the store in `dir`. Refuses a store written in another format, and
    /// one whose folder other users may enter (see [`private_dir`]).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with_cache(dir, DEFAULT_CACHE_MB)
    }

    /// [`Store::open`] with a page cache of `cache_mb` MiB (see `store_cache_mb` in the
    /// configuration).
    pub fn open_with_cache(dir: &Path, cache_mb: u64) -> Result<Store, StoreError> {
        private_dir(dir)?;
        compact::finish_interrupted(dir)?;
        if let Some((size, threshold)) = compact::due(dir) {
            tracing::info!(
                store = %dir.display(),
                file_mb = size >> 20,
                threshold_mb = threshold >> 20,
                "compacting the store: sled's file has grown since it was last compacted"
            );
            match compact::compact(dir) {
                Ok(c) => tracing::info!(
                    before_mb = c.before >> 20,
                    after_mb = c.after >> 20,
                    records = c.records,
                    millis = c.millis,
                    "store compacted"
                ),
                // A copy that failed (a full disk) changed nothing: go on with the old file.
                Err(e) => tracing::warn!(error = %e, "the store was not compacted"),
            }
        }
        Store::open_uncompacted_with_cache(dir, cache_mb)
    }

    /// Compacts the store in `dir` now, whatever its size (it must not be open): see
    /// `compact.rs`.
    pub fn compact(dir: &Path) -> Result<Compacted, StoreError> {
        private_dir(dir)?;
        compact::finish_interrupted(dir)?;
        compact::compact(dir)
    }

    #[cfg(test)]
    fn open_uncompacted(dir: &Path) -> Store {
        Store::open_uncompacted_with_cache(dir, DEFAULT_CACHE_MB).unwrap()
    }

    fn open_uncompacted_with_cache(dir: &Path, cache_mb: u64) -> Result<Store, StoreError> {
        private_dir(dir)?;
        let db = open_sled(dir, cache_mb)?;
        let tree = |name: &'static str| db.open_tree(name).map_err(io("opening a tree"));
        let written = Arc::new(AtomicBool::new(false));
        let tracked = |tree: sled::Tree| Tracked {
            tree,
            written: written.clone(),
        };
        let meta = tree(maps::META)?;
        let log_end = meta
            .get(LOG_END)
            .map_err(io("reading the change log's end"))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(0, u64::from_be_bytes);
        let log = log::ChangeLog::open(dir, log_end).map_err(|e| StoreError::Log(e.to_string()))?;
        let store = Store {
            meta,
            log: Arc::new(log),
            docs: tree(maps::DOCS)?,
            certs: tree(maps::CERTS)?,
            directory: tree(maps::DIRECTORY)?,
            threads: tree(maps::THREADS)?,
            summaries: tree(maps::SUMMARIES)?,
            groups: tree(maps::GROUPS)?,
            profiles: tree(maps::PROFILES)?,
            accounts: tracked(tree(maps::ACCOUNTS)?),
            personal: tracked(tree(maps::PERSONAL)?),
            sessions: tracked(tree(maps::SESSIONS)?),
            written,
            follows: personal::FollowCache::default(),
            id_floor: 0,
            db,
            path: dir.to_owned(),
        };
        debug_assert_eq!(maps::ALL.len(), 11);
        let mut store = store;
        store.id_floor = store
            .meta
            .get(ID_FLOOR)
            .map_err(io("reading the id floor"))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(0, u64::from_be_bytes);
        match store.meta.get("format").map_err(io("reading the format"))? {
            None => {
                store.write_format()?;
            }
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .unwrap_or(u32::MAX);
                if found == 1 || found == 2 {
                    store.upgrade_from_2()?;
                    store.upgrade_from_3()?;
                } else if found == 3 {
                    store.upgrade_from_3()?;
                } else if found != FORMAT_VERSION {
                    return Err(StoreError::Version {
                        path: dir.display().to_string(),
                        found,
                        expected: FORMAT_VERSION,
                    });
                }
            }
        }
        Ok(store)
    }

    fn write_format(&self) -> Result<(), StoreError> {
        self.meta
            .insert("format", &FORMAT_VERSION.to_be_bytes())
            .map_err(io("writing the format"))?;
        self.flush()
    }

    /// Format 2 → 3: the stored read models are dropped (their mark first, so a crash in
    /// between leaves them unused); start-up rebuilds them from the documents.
    fn upgrade_from_2(&self) -> Result<(), StoreError> {
        self.meta
            .remove("read_models_at")
            .map_err(io("forgetting the read models' mark"))?;
        self.flush()?;
        self.threads
            .clear()
            .map_err(io("clearing thread summaries"))?;
        self.meta
            .insert("format", &3u32.to_be_bytes())
            .map_err(io("writing the format"))?;
        self.flush()?;
        tracing::info!("store upgraded to format 3: read models will be rebuilt at this start");
        Ok(())
    }

    /// Format 3 → 4: the signed changes move from sled's `changes` tree to the change log,
    /// in the same order; `doc_changes` is rebuilt to point into the log, and the read
    /// models' mark is carried over to the new numbering (a change's number becomes its
    /// offset in the log). The search index's mark, kept by tantivy, cannot be: it is
    /// marked stale, and the next start reindexes everything once (see
    /// [`Store::search_marks_stale`]). The old tree is dropped last; an upgrade cut short
    /// starts again from it at the next start (the format says 3 until the end).
    fn upgrade_from_3(&self) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let legacy = self
            .db
            .open_tree(maps::LEGACY_CHANGES)
            .map_err(io("opening the old change tree"))?;
        let total = legacy.len();
        tracing::info!(
            changes = total,
            "store: moving the signed changes out of sled into the change log (format 4; once)"
        );
        self.log.reset()?;
        self.docs.clear().map_err(io("clearing document counts"))?;
        // The mark is renumbered as the changes move; until then (or if no change falls
        // under it) there is none, and the read models are rebuilt.
        let mark = self.read_models_at()?;
        self.meta
            .remove("read_models_at")
            .map_err(io("forgetting the read models' mark"))?;
        let mut new_mark = None;
        let mut rows: Vec<(DocId, Vec<u8>)> = Vec::new();
        let mut rows_bytes = 0usize;
        let mut done = 0u64;
        let mut told = std::time::Instant::now();
        let mut items = legacy.iter();
        loop {
            let next = items.next().transpose().map_err(io("reading changes"))?;
            let at_end = next.is_none();
            if let Some((k, v)) = next {
                let seq = <[u8; 8]>::try_from(k.as_ref())
                    .map(u64::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        tree: maps::LEGACY_CHANGES,
                        reason: "key is not a sequence number".into(),
                    })?;
                let (doc, bytes) = split_record(&v)?;
                if mark.is_some_and(|m| seq <= m) {
                    // Marked after this batch is written: its last record's offset.
                    new_mark = Some(rows.len());
                }
                rows_bytes += bytes.len();
                rows.push((doc, bytes.to_vec()));
            }
            if rows_bytes >= 16 << 20 || (at_end && !rows.is_empty()) {
                let last = self.append_changes(rows.iter().map(|(d, b)| (d, &b[..])))?;
                if let (Some(i), Some(_)) = (new_mark.take(), last) {
                    // The offset of row `i`: appended in order, so recomputed from the end.
                    let size = |(d, b): &(DocId, Vec<u8>)| {
                        (log::HEADER + d.as_str().len() + b.len()) as u64
                    };
                    let after: u64 = rows[i + 1..].iter().map(size).sum();
                    let row = size(&rows[i]);
                    self.set_read_models_at(self.log.end() - after - row)?;
                }
                done += rows.len() as u64;
                rows.clear();
                rows_bytes = 0;
                if told.elapsed() >= std::time::Duration::from_secs(10) {
                    told = std::time::Instant::now();
                    tracing::info!(done, of = total, "store: moving changes");
                }
            }
            if at_end {
                break;
            }
        }
        self.meta
            .insert(SEARCH_STALE, &[1u8][..])
            .map_err(io("marking the search index stale"))?;
        self.write_format()?;
        drop(items);
        for old in [maps::LEGACY_CHANGES, maps::LEGACY_DOC_CHANGES] {
            self.db
                .drop_tree(old)
                .map_err(io("dropping the old change trees"))?;
        }
        self.flush()?;
        tracing::info!(
            changes = done,
            log_bytes = self.log.end(),
            millis = started.elapsed().as_millis() as u64,
            "store upgraded to format 4 (changes in the change log)"
        );
        Ok(())
    }

    /// Whether the search index's mark counts in an older numbering of the changes (the
    /// store was upgraded to format 4 since the index's last full build): the index is then
    /// rebuilt from the documents.
    pub fn search_marks_stale(&self) -> Result<bool, StoreError> {
        self.meta
            .contains_key(SEARCH_STALE)
            .map_err(io("reading the search mark"))
    }

    /// The search index was rebuilt: its mark counts in this numbering.
    pub fn search_marks_current(&self) -> Result<(), StoreError> {
        self.meta
            .remove(SEARCH_STALE)
            .map_err(io("clearing the search mark"))?;
        Ok(())
    }

    /// The stored changes of one document, in the order they were accepted: walked back
    /// from its last record in the change log.
    pub fn changes_of(&self, doc: &DocId) -> Result<Vec<Vec<u8>>, StoreError> {
        let Some(v) = self
            .docs
            .get(doc.as_str())
            .map_err(io("reading documents"))?
        else {
            return Ok(Vec::new());
        };
        let (count, _) = decode_counts(&v);
        let mut at = decode_last(&v);
        let mut out = Vec::with_capacity(count as usize);
        while at != log::NONE {
            let r = self.log.read(at)?;
            if r.doc != *doc || out.len() as u64 >= count {
                return Err(StoreError::Log(format!(
                    "the chain of {doc}'s changes is broken at byte {at} ({} of {count} read)",
                    out.len()
                )));
            }
            out.push(r.change);
            at = r.prev;
        }
        if out.len() as u64 != count {
            return Err(StoreError::Log(format!(
                "{doc} holds {count} changes, its chain {}",
                out.len()
            )));
        }
        out.reverse();
        Ok(out)
    }

    /// What the replica reads documents back from.
    pub fn source(&self) -> Arc<dyn weft_crdt::DocSource> {
        Arc::new(Source(self.clone()))
    }

    /// Appends accepted changes (in acceptance order): to the change log, synced, then
    /// counted in sled (each document's count, bytes and last record). Not durable until
    /// [`Store::flush`]. Returns the number
    /// (log offset) of the last one appended, if any.
    pub fn append_changes<'a>(
        &self,
        changes: impl IntoIterator<Item = (&'a DocId, &'a [u8])>,
    ) -> Result<Option<u64>, StoreError> {
        let rows: Vec<(&DocId, &[u8])> = changes.into_iter().collect();
        if rows.is_empty() {
            return Ok(None);
        }
        // Each document's last record so far: the first of this batch points back to it.
        let mut last_of: std::collections::HashMap<DocId, u64> = Default::default();
        for (doc, _) in &rows {
            if !last_of.contains_key(*doc) {
                let last = self
                    .docs
                    .get(doc.as_str())
                    .map_err(io("reading documents"))?
                    .map_or(log::NONE, |v| decode_last(&v));
                last_of.insert((*doc).clone(), last);
            }
        }
        let (at, end) = self.log.append(rows.iter().copied(), &mut |doc, offset| {
            last_of
                .get_mut(doc)
                .map_or(log::NONE, |l| std::mem::replace(l, offset))
        })?;
        // The new end first: a count sled makes durable (it also flushes on its own) then
        // never points past what the log file is known to hold.
        let last = at.last().copied();
        let mut meta = sled::Batch::default();
        meta.insert(LOG_END, &end.to_be_bytes());
        if let Some(l) = last {
            meta.insert(LOG_LAST, &l.to_be_bytes());
        }
        self.meta
            .apply_batch(meta)
            .map_err(io("recording the change log's end"))?;
        let mut per_doc: std::collections::BTreeMap<&DocId, (u64, u64)> = Default::default();
        for (doc, bytes) in &rows {
            let e = per_doc.entry(doc).or_default();
            e.0 += 1;
            e.1 += bytes.len() as u64;
        }
        for (doc, (n, b)) in per_doc {
            let last = last_of.get(doc).copied().unwrap_or(log::NONE);
            self.docs
                .update_and_fetch(doc.as_str(), |old| {
                    let (c, bytes) = old.map(decode_counts).unwrap_or((0, 0));
                    Some(encode_counts(c + n, bytes + b, last).to_vec())
                })
                .map_err(io("counting changes"))?;
        }
        Ok(last)
    }

    /// The number (log offset) of the last stored change.
    pub fn last_change_seq(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .meta
            .get(LOG_LAST)
            .map_err(io("reading the change log's end"))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes)
            .filter(|l| *l < self.log.end()))
    }

    /// Every stored change, in acceptance order: (document, signed bytes).
    pub fn changes(&self) -> impl Iterator<Item = Result<(DocId, Vec<u8>), StoreError>> + '_ {
        self.log
            .records_from(0)
            .map(|r| r.map(|r| (r.doc, r.change)).map_err(StoreError::from))
    }

    /// The documents of the changes stored after change `seq` (a log offset), in order.
    fn docs_in_log_after(&self, seq: u64) -> Result<std::collections::HashSet<DocId>, StoreError> {
        let mut out = std::collections::HashSet::new();
        for r in self.log.records_from(seq) {
            let r = r?;
            if r.offset > seq {
                out.insert(r.doc);
            }
        }
        Ok(out)
    }

    /// Whether the store holds any change of `doc`.
    pub fn holds_doc(&self, doc: &DocId) -> Result<bool, StoreError> {
        self.docs
            .contains_key(doc.as_str())
            .map_err(io("reading documents"))
    }

    /// Counts for diagnostics.
    pub fn stats(&self) -> StoreStats {
        let mut s = StoreStats::default();
        for (_, v) in self.docs.iter().flatten() {
            let (c, b) = decode_counts(&v);
            s.documents += 1;
            s.changes += c;
            s.change_bytes += b;
        }
        s
    }

    /// Stores a certificate.
    pub fn put_certificate(&self, key: &KeyId, bytes: &[u8]) -> Result<(), StoreError> {
        self.certs
            .insert(key.0, bytes)
            .map_err(io("storing a certificate"))?;
        Ok(())
    }

    /// Every stored certificate.
    pub fn certificates(&self) -> impl Iterator<Item = Result<Vec<u8>, StoreError>> + '_ {
        self.certs.iter().map(|r| {
            r.map(|(_, v)| v.to_vec())
                .map_err(io("reading certificates"))
        })
    }

    /// Stores the current signed directory.
    pub fn put_directory(&self, bytes: &[u8]) -> Result<(), StoreError> {
        self.directory
            .insert("current", bytes)
            .map_err(io("storing the directory"))?;
        Ok(())
    }

    /// The stored signed directory, if any.
    pub fn directory(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .directory
            .get("current")
            .map_err(io("reading the directory"))?
            .map(|v| v.to_vec()))
    }

    /// Stores a read-model record for a thread.
    pub fn put_thread_summary(&self, thread: &DocId, bytes: &[u8]) -> Result<(), StoreError> {
        self.threads
            .insert(thread.as_str(), bytes)
            .map_err(io("storing a thread summary"))?;
        Ok(())
    }

    /// Every stored thread summary.
    pub fn thread_summaries(&self) -> impl Iterator<Item = Result<Vec<u8>, StoreError>> + '_ {
        self.threads.iter().map(|r| {
            r.map(|(_, v)| v.to_vec())
                .map_err(io("reading thread summaries"))
        })
    }

    /// Records that the stored read models cover every change up to `seq`.
    pub fn set_read_models_at(&self, seq: u64) -> Result<(), StoreError> {
        self.meta
            .insert("read_models_at", &seq.to_be_bytes())
            .map_err(io("storing the read models' mark"))?;
        Ok(())
    }

    /// Up to which change the stored read models are valid, if they are.
    pub fn read_models_at(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .meta
            .get("read_models_at")
            .map_err(io("reading the read models' mark"))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes))
    }

    /// Sets an employee's password hash (an argon2 PHC string; never the password).
    pub fn set_password_hash(&self, employee: &str, phc: &str) -> Result<(), StoreError> {
        self.accounts
            .insert(employee, phc.as_bytes())
            .map_err(io("storing an account"))?;
        Ok(())
    }

    /// An employee's password hash, if they have an account.
    pub fn password_hash(&self, employee: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .accounts
            .get(employee)
            .map_err(io("reading an account"))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Makes everything written so far durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.written.store(false, Ordering::Release);
        self.db.flush().map_err(io("flushing"))?;
        Ok(())
    }

    /// A number larger than every one this store gave before (notification ids): sled's
    /// generator plus the floor a compaction set.
    fn next_id(&self) -> Result<u64, StoreError> {
        let id = self.db.generate_id().map_err(io("numbering a record"))?;
        Ok(self.id_floor.saturating_add(id))
    }

    /// Whether accounts, personal records or sessions were written since the last flush:
    /// the node then answers the command that wrote only after flushing.
    pub fn has_unflushed(&self) -> bool {
        self.written.load(Ordering::Acquire)
    }

    /// Where the search index keeps its files (inside the store's directory).
    pub fn search_dir(&self) -> std::path::PathBuf {
        self.path.join(maps::SEARCH_DIR)
    }

    /// Bytes on disk, approximately: sled's files and the change log.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0) + self.log.len()
    }

    /// A change's hash is not stored separately: it is recomputed from the change when the
    /// store is replayed. Kept here to document the choice.
    #[doc(hidden)]
    pub fn _hash_is_derived(_: ChangeHash) {}
}

/// A temporary folder only this user may enter, as a store's must be (`tempfile` makes them
/// as the umask says).
#[cfg(test)]
pub(crate) fn private_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
        .expect("a private temporary folder");
    dir
}

/// Creates `dir` (and any missing parent) readable by this user only (0700), or checks that
/// the existing one is: the store holds password hashes, sessions and the text of private
/// groups, and one that others may read is refused, as a key file is. (The binary also sets
/// its umask to 077, so every file sled and tantivy create inside is 0600.)
/// `meta`'s key for what [`Store::next_id`] adds to sled's id generator (u64 BE): set by a
/// compaction past every id the old file gave, since a fresh file counts from 0 again.
const ID_FLOOR: &str = "id_floor";

/// Opens sled's file in `dir`. sled's background flusher can hold the previous handle's file
/// lock for a moment after that handle is dropped (a restart within one process, as in tests,
/// or right after a compaction): retries briefly before reporting the store as busy.
fn open_sled(dir: &Path, cache_mb: u64) -> Result<sled::Db, StoreError> {
    let mut attempts = 0;
    loop {
        match sled::Config::new()
            .path(dir)
            .cache_capacity(cache_mb.max(1).saturating_mul(1024 * 1024))
            .mode(sled::Mode::HighThroughput)
            .open()
        {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e))
                if attempts < 60
                    && (e.kind() == std::io::ErrorKind::WouldBlock
                        || e.to_string().contains("could not acquire lock")) =>
            {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(source) => {
                return Err(StoreError::Open {
                    path: dir.display().to_string(),
                    source,
                });
            }
        }
    }
}

fn private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let path = dir.display().to_string();
    let io_err = |e: std::io::Error| StoreError::Open {
        path: path.clone(),
        source: sled::Error::Io(e),
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err)?;
    }
    let mode = std::fs::metadata(dir).map_err(io_err)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StoreError::TooOpen { path, mode });
    }
    Ok(())
}

/// The replica's view of the store: a document's changes, to read it back into memory.
struct Source(Store);

impl weft_crdt::DocSource for Source {
    fn changes_of(&self, doc: &DocId) -> Result<Vec<Vec<u8>>, String> {
        self.0.changes_of(doc).map_err(|e| {
            tracing::error!(%doc, error = %e, "cannot read a document back from the store");
            e.to_string()
        })
    }
}

/// `meta`'s key for where the change log ends (u64 BE): what sled indexes of it.
const LOG_END: &str = "log_end";
/// `meta`'s key for the offset of the last record in the change log (u64 BE).
const LOG_LAST: &str = "log_last";
/// `meta`'s key saying the search index's mark counts in an older numbering.
const SEARCH_STALE: &str = "search_stale";

/// A record of the old `changes` tree (formats 1 to 3): the document id, then the signed
/// change.
fn split_record(v: &[u8]) -> Result<(DocId, &[u8]), StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        tree: maps::LEGACY_CHANGES,
        reason: reason.to_owned(),
    };
    if v.len() < 2 {
        return Err(corrupt("record too short"));
    }
    let n = u16::from_be_bytes([v[0], v[1]]) as usize;
    let id = v.get(2..2 + n).ok_or_else(|| corrupt("truncated id"))?;
    let id = std::str::from_utf8(id).map_err(|_| corrupt("id not UTF-8"))?;
    let doc = DocId::parse(id).map_err(|e| corrupt(&e.to_string()))?;
    Ok((doc, &v[2 + n..]))
}

/// The key prefix of a document's entries in formats 2 and 3's `doc_changes` (tests make
/// such stores).
#[cfg(test)]
fn doc_prefix(doc: &DocId) -> Vec<u8> {
    let id = doc.as_str().as_bytes();
    let mut k = Vec::with_capacity(2 + id.len() + 8);
    k.extend_from_slice(&(id.len() as u16).to_be_bytes());
    k.extend_from_slice(id);
    k
}

#[cfg(test)]
fn doc_change_key(doc: &DocId, seq: u64) -> Vec<u8> {
    let mut k = doc_prefix(doc);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// A `docs` value: how many changes, how many bytes, the offset of the last record.
fn encode_counts(c: u64, b: u64, last: u64) -> [u8; 24] {
    let mut out = [0u8; 24];
    out[..8].copy_from_slice(&c.to_be_bytes());
    out[8..16].copy_from_slice(&b.to_be_bytes());
    out[16..].copy_from_slice(&last.to_be_bytes());
    out
}

fn decode_counts(v: &[u8]) -> (u64, u64) {
    let word = |i: usize| {
        v.get(i * 8..i * 8 + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(0, u64::from_be_bytes)
    };
    (word(0), word(1))
}

/// The offset of a document's last record ([`log::NONE`] if the value has none).
fn decode_last(v: &[u8]) -> u64 {
    v.get(16..24)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
        .map_or(log::NONE, u64::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_store_is_private_and_one_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data").join("store");
        drop(Store::open(&dir).unwrap());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("data")), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = Store::open(&dir).unwrap_err();
        assert!(
            matches!(err, StoreError::TooOpen { mode: 0o755, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod -R go-rwx"), "{err}");
    }

    #[test]
    fn changes_round_trip_in_order_and_survive_reopening() {
        let dir = private_tempdir();
        let a = DocId::parse("g-0123456789abcdef0123456789abcdef").unwrap();
        let b = DocId::profile("hdupre");
        {
            let s = Store::open(dir.path()).unwrap();
            s.append_changes([(&a, &b"one"[..]), (&b, &b"two"[..])])
                .unwrap();
            s.append_changes([(&a, &b"three"[..])]).unwrap();
            s.flush().unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        let all: Vec<(DocId, Vec<u8>)> = s.changes().map(Result::unwrap).collect();
        assert_eq!(
            all,
            vec![
                (a.clone(), b"one".to_vec()),
                (b.clone(), b"two".to_vec()),
                (a.clone(), b"three".to_vec())
            ]
        );
        assert!(s.holds_doc(&a).unwrap());
        assert_eq!(
            s.changes_of(&a).unwrap(),
            vec![b"one".to_vec(), b"three".to_vec()]
        );
        assert_eq!(s.changes_of(&b).unwrap(), vec![b"two".to_vec()]);
        assert!(s.changes_of(&DocId::profile("nobody")).unwrap().is_empty());
        let stats = s.stats();
        assert_eq!(
            (stats.documents, stats.changes, stats.change_bytes),
            (2, 3, 11)
        );
    }

    impl Store {
        /// Writes changes as formats 1 to 3 did (in sled's `changes` tree, indexed by
        /// sequence number); returns their numbers.
        fn legacy_append(&self, rows: &[(&DocId, &[u8])]) -> Vec<u64> {
            let t = self.db.open_tree(maps::LEGACY_CHANGES).unwrap();
            rows.iter()
                .map(|(doc, bytes)| {
                    let seq = self.db.generate_id().unwrap();
                    let id = doc.as_str().as_bytes();
                    let mut v = (id.len() as u16).to_be_bytes().to_vec();
                    v.extend_from_slice(id);
                    v.extend_from_slice(bytes);
                    t.insert(seq.to_be_bytes(), v).unwrap();
                    self.db
                        .open_tree(maps::LEGACY_DOC_CHANGES)
                        .unwrap()
                        .insert(doc_change_key(doc, seq), &[][..])
                        .unwrap();
                    seq
                })
                .collect()
        }
    }

    #[test]
    fn a_format_3_store_moves_its_changes_to_the_log_and_renumbers_its_marks() {
        let dir = private_tempdir();
        let a = DocId::parse("g-0123456789abcdef0123456789abcdef").unwrap();
        let b = DocId::profile("hdupre");
        {
            let s = Store::open(dir.path()).unwrap();
            let seqs = s.legacy_append(&[(&a, b"one"), (&b, b"two"), (&a, b"three")]);
            // The read models covered the first two changes.
            s.set_read_models_at(seqs[1]).unwrap();
            s.meta.insert("format", &3u32.to_be_bytes()).unwrap();
            s.flush().unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(
            s.changes_of(&a).unwrap(),
            vec![b"one".to_vec(), b"three".to_vec()]
        );
        assert_eq!(s.changes_of(&b).unwrap(), vec![b"two".to_vec()]);
        let all: Vec<DocId> = s.changes().map(|r| r.unwrap().0).collect();
        assert_eq!(all, vec![a.clone(), b.clone(), a.clone()]);
        // The mark now names the second record's offset: the documents changed after it
        // are those of the third.
        let mark = s.read_models_at().unwrap().expect("the mark carried over");
        let first = (log::HEADER + a.as_str().len() + 3) as u64;
        assert_eq!(mark, first);
        assert_eq!(
            s.docs_changed_after(mark).unwrap(),
            std::collections::HashSet::from([a.clone()])
        );
        assert!(s.search_marks_stale().unwrap());
        assert!(
            !s.db
                .tree_names()
                .iter()
                .any(|n| n.as_ref() == maps::LEGACY_CHANGES.as_bytes()),
            "the old tree was dropped"
        );
        assert_eq!((s.stats().changes, s.stats().change_bytes), (3, 11));
        let format = s.meta.get("format").unwrap().unwrap();
        assert_eq!(format.as_ref(), &FORMAT_VERSION.to_be_bytes());
        s.search_marks_current().unwrap();
        assert!(!s.search_marks_stale().unwrap());
    }

    #[test]
    fn a_log_tail_the_index_never_saw_is_cut_off_and_a_short_log_refused() {
        let dir = private_tempdir();
        let a = DocId::parse("g-0123456789abcdef0123456789abcdef").unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            s.append_changes([(&a, &b"one"[..])]).unwrap();
            s.flush().unwrap();
        }
        // A node stopped after writing a batch to the log and before sled recorded it.
        let path = dir.path().join(log::FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let good = bytes.len() as u64;
        bytes.extend_from_slice(&[0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, b'x']);
        std::fs::write(&path, &bytes).unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
            assert_eq!(s.changes_of(&a).unwrap(), vec![b"one".to_vec()]);
            // Writing goes on where the log really ends.
            s.append_changes([(&a, &b"two"[..])]).unwrap();
            s.flush().unwrap();
            assert_eq!(
                s.changes_of(&a).unwrap(),
                vec![b"one".to_vec(), b"two".to_vec()]
            );
        }
        // A log shorter than the store says (a disk that lost data) is refused clearly.
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(good - 1).unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("change log"), "{err}");
    }

    #[test]
    fn a_format_1_store_is_upgraded_with_its_index_built() {
        let dir = private_tempdir();
        let a = DocId::parse("g-0123456789abcdef0123456789abcdef").unwrap();
        let b = DocId::profile("hdupre");
        {
            let s = Store::open(dir.path()).unwrap();
            s.legacy_append(&[(&a, b"one"), (&b, b"two"), (&a, b"three")]);
            // What a version-1 store looked like: no per-document index.
            s.db.open_tree(maps::LEGACY_DOC_CHANGES)
                .unwrap()
                .clear()
                .unwrap();
            s.meta.insert("format", &1u32.to_be_bytes()).unwrap();
            s.flush().unwrap();
            assert!(s.changes_of(&a).unwrap().is_empty());
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(
            s.changes_of(&a).unwrap(),
            vec![b"one".to_vec(), b"three".to_vec()]
        );
        assert_eq!(s.changes_of(&b).unwrap(), vec![b"two".to_vec()]);
        let format = s.meta.get("format").unwrap().unwrap();
        assert_eq!(format.as_ref(), &FORMAT_VERSION.to_be_bytes());
    }

    #[test]
    fn a_format_2_store_forgets_its_read_models_and_keeps_its_changes() {
        let dir = private_tempdir();
        let t = DocId::parse("t-0123456789abcdef0123456789abcdef").unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            s.legacy_append(&[(&t, b"one")]);
            // A version-2 summary held its posts' ids; its mark said it was current.
            s.put_thread_summary(&t, br#"{"posts":["p1"]}"#).unwrap();
            s.set_read_models_at(1).unwrap();
            s.meta.insert("format", &2u32.to_be_bytes()).unwrap();
            s.flush().unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.read_models_at().unwrap(), None, "rebuilt at this start");
        assert_eq!(s.thread_summaries().count(), 0);
        assert_eq!(s.changes_of(&t).unwrap(), vec![b"one".to_vec()]);
        let format = s.meta.get("format").unwrap().unwrap();
        assert_eq!(format.as_ref(), &FORMAT_VERSION.to_be_bytes());
    }

    #[test]
    fn an_unknown_format_is_refused_clearly() {
        let dir = private_tempdir();
        {
            let s = Store::open(dir.path()).unwrap();
            s.meta.insert("format", &99u32.to_be_bytes()).unwrap();
            s.flush().unwrap();
        }
        let err = Store::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("format version 99"), "{err}");
    }
}

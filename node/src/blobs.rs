//! Blobs (issue 17, first part): the bytes of files people attach, kept on disk beside the
//! store — never in sled, never in Automerge — under the SHA-256 of their content.
//!
//! Layout: `<data_dir>/blobs/<first two hex digits>/<64 hex digits>`, and `<data_dir>/blobs/
//! tmp/` for writes in progress. A blob is written to a temporary file while its hash is
//! computed (never whole in memory), synced, then renamed into place: a crash leaves either
//! no blob or a whole one (temporary files are removed at opening). The same bytes uploaded
//! twice are one blob. A blob read back can be checked against its name (`verify`), which is
//! what a site does with bytes a peer sends.
//!
//! Signed changes will reference blobs by hash, size, media type and file name; who may
//! fetch or be sent a blob follows the documents that reference it (see `docs/files.md`).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use std::sync::atomic::Ordering;

use sha2::{Digest, Sha256};

/// A blob's name: the SHA-256 of its bytes, as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobId(String);

impl BlobId {
    /// A blob id from text, if it is 64 lowercase hex digits.
    pub fn parse(s: &str) -> Option<BlobId> {
        (s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| BlobId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BlobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a blob was not stored or read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// More bytes than the limit (nothing is kept).
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// The site's files would exceed its quota (`max_files_gb`; nothing is kept).
    #[error("this site's files would exceed their limit of {quota} bytes")]
    Full { quota: u64 },
    #[error("no such blob")]
    NotFound,
    /// The bytes on disk no longer hash to their name.
    #[error("blob {0} is corrupt")]
    Corrupt(BlobId),
    #[error("blob storage: {0}")]
    Io(#[from] io::Error),
}

/// The blobs of one node.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
    /// Bytes and blobs stored (counted at opening, kept up to date by this store's writes
    /// and removals), and the most bytes allowed (0: no limit).
    usage: std::sync::Arc<Usage>,
    quota: u64,
}

#[derive(Debug, Default)]
struct Usage {
    bytes: std::sync::atomic::AtomicU64,
    blobs: std::sync::atomic::AtomicU64,
}

/// The size of the reads and writes a blob is streamed with.
const CHUNK: usize = 64 * 1024;

impl BlobStore {
    /// The blob store in `dir` (made if missing, 0700), with writes a crash interrupted
    /// removed.
    pub fn open(dir: &Path) -> Result<BlobStore, BlobError> {
        let tmp = dir.join("tmp");
        fs::create_dir_all(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        for entry in fs::read_dir(&tmp)? {
            let path = entry?.path();
            if let Err(e) = fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "an interrupted blob write could not be removed");
            }
        }
        let store = BlobStore {
            dir: dir.to_owned(),
            usage: std::sync::Arc::default(),
            quota: 0,
        };
        let listed = store.list()?;
        store
            .usage
            .blobs
            .store(listed.len() as u64, Ordering::Relaxed);
        store
            .usage
            .bytes
            .store(listed.iter().map(|(_, n)| n).sum(), Ordering::Relaxed);
        Ok(store)
    }

    /// This store, keeping at most `quota` bytes (0: no limit).
    pub fn with_quota(mut self, quota: u64) -> BlobStore {
        self.quota = quota;
        self
    }

    /// Bytes and blobs stored.
    pub fn usage(&self) -> (u64, u64) {
        (
            self.usage.bytes.load(Ordering::Relaxed),
            self.usage.blobs.load(Ordering::Relaxed),
        )
    }

    /// The quota in bytes (0: none).
    pub fn quota(&self) -> u64 {
        self.quota
    }

    /// Whether `more` bytes fit in the quota.
    pub fn fits(&self, more: u64) -> Result<(), BlobError> {
        if self.quota > 0 && self.usage().0.saturating_add(more) > self.quota {
            return Err(BlobError::Full { quota: self.quota });
        }
        Ok(())
    }

    /// Counts a blob just put in place.
    fn added(&self, size: u64) {
        self.usage.bytes.fetch_add(size, Ordering::Relaxed);
        self.usage.blobs.fetch_add(1, Ordering::Relaxed);
    }

    /// A blob to be received from a peer, `size` bytes announced, written as it comes (see
    /// [`Incoming`]); `Full` if it would not fit.
    pub fn incoming(&self, id: &BlobId, size: u64) -> Result<Incoming, BlobError> {
        self.fits(size)?;
        Ok(Incoming {
            store: self.clone(),
            id: id.clone(),
            size,
            part: Partial::create(&self.dir.join("tmp"))?,
            hash: Sha256::new(),
            written: 0,
        })
    }

    fn path(&self, id: &BlobId) -> PathBuf {
        self.dir.join(&id.0[..2]).join(&id.0)
    }

    /// Stores what `from` yields, at most `limit` bytes (more: [`BlobError::TooLarge`] and
    /// nothing kept); returns its id and size. Streamed: memory stays one chunk.
    pub fn put(&self, mut from: impl Read, limit: u64) -> Result<(BlobId, u64), BlobError> {
        let mut tmp = Partial::create(&self.dir.join("tmp"))?;
        let mut hash = Sha256::new();
        let mut size: u64 = 0;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            size += n as u64;
            if size > limit {
                return Err(BlobError::TooLarge { limit });
            }
            self.fits(size)?;
            hash.update(&buf[..n]);
            tmp.write_all(&buf[..n])?;
        }
        tmp.file.sync_all()?;
        let id = BlobId(weft_keys::to_hex(&hash.finalize()));
        let path = self.path(&id);
        if path.exists() {
            // The same bytes are here already: one blob (the partial file is removed).
            return Ok((id, size));
        }
        fs::create_dir_all(path.parent().unwrap_or(&self.dir))?;
        tmp.persist(&path)?;
        self.added(size);
        Ok((id, size))
    }

    /// Whether the blob is here.
    pub fn has(&self, id: &BlobId) -> bool {
        self.path(id).is_file()
    }

    /// The blob's size, if it is here.
    pub fn size(&self, id: &BlobId) -> Result<u64, BlobError> {
        match fs::metadata(self.path(id)) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(BlobError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// The blob, open for reading (seek for ranges).
    pub fn open_blob(&self, id: &BlobId) -> Result<File, BlobError> {
        match File::open(self.path(id)) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(BlobError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads the blob through and checks that it hashes to its name; a corrupt one is
    /// removed (so that it is fetched again).
    pub fn verify(&self, id: &BlobId) -> Result<(), BlobError> {
        let mut f = self.open_blob(id)?;
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        loop {
            match f.read(&mut buf)? {
                0 => break,
                n => hash.update(&buf[..n]),
            }
        }
        if weft_keys::to_hex(&hash.finalize()) == id.0 {
            Ok(())
        } else {
            self.remove(id)?;
            Err(BlobError::Corrupt(id.clone()))
        }
    }

    /// Removes a blob (no longer referenced); removing one that is not here is no error.
    pub fn remove(&self, id: &BlobId) -> Result<(), BlobError> {
        let size = self.size(id).unwrap_or(0);
        match fs::remove_file(self.path(id)) {
            Ok(()) => {
                self.usage.bytes.fetch_sub(
                    size.min(self.usage.bytes.load(Ordering::Relaxed)),
                    Ordering::Relaxed,
                );
                let _ = self
                    .usage
                    .blobs
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                        Some(n.saturating_sub(1))
                    });
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The blobs last written more than `age` ago, the oldest first, at most `max`.
    pub fn older_than(
        &self,
        age: std::time::Duration,
        max: usize,
    ) -> Result<Vec<BlobId>, BlobError> {
        let now = std::time::SystemTime::now();
        let mut old = Vec::new();
        for shard in fs::read_dir(&self.dir)? {
            let shard = shard?;
            if shard.file_name() == "tmp" || !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(shard.path())? {
                let entry = entry?;
                let Some(id) = entry.file_name().to_str().and_then(BlobId::parse) else {
                    continue;
                };
                let written = entry.metadata()?.modified()?;
                if now.duration_since(written).is_ok_and(|d| d > age) {
                    old.push((written, id));
                }
            }
        }
        old.sort();
        Ok(old.into_iter().take(max).map(|(_, id)| id).collect())
    }

    /// Every blob here with its size (for the disk figures and for collecting).
    pub fn list(&self) -> Result<Vec<(BlobId, u64)>, BlobError> {
        let mut out = Vec::new();
        for shard in fs::read_dir(&self.dir)? {
            let shard = shard?;
            if shard.file_name() == "tmp" || !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(shard.path())? {
                let entry = entry?;
                if let Some(id) = entry.file_name().to_str().and_then(BlobId::parse) {
                    out.push((id, entry.metadata()?.len()));
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// A blob arriving from a peer in order, chunk by chunk: hashed as it is written, so a
/// transfer broken off may go on from [`Incoming::written`] with another peer, and checked
/// against its name at the end. Dropped unfinished: nothing is kept.
#[derive(Debug)]
pub struct Incoming {
    store: BlobStore,
    id: BlobId,
    size: u64,
    part: Partial,
    hash: Sha256,
    written: u64,
}

impl Incoming {
    /// Bytes written so far: where the transfer goes on from.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The size announced.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends the next bytes; more than the announced size is refused (nothing written).
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), BlobError> {
        if self.written + bytes.len() as u64 > self.size {
            return Err(BlobError::TooLarge { limit: self.size });
        }
        self.part.write_all(bytes)?;
        self.hash.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Once every byte is written: checks the bytes against the blob's name and puts the
    /// blob in place (synced). `Corrupt` if they do not match (nothing kept).
    pub fn finish(self) -> Result<(), BlobError> {
        let Incoming {
            store,
            id,
            size,
            part,
            hash,
            written,
        } = self;
        if written != size || weft_keys::to_hex(&hash.finalize()) != id.0 {
            return Err(BlobError::Corrupt(id));
        }
        part.file.sync_all()?;
        let path = store.path(&id);
        if path.exists() {
            return Ok(());
        }
        store.fits(size)?;
        fs::create_dir_all(path.parent().unwrap_or(&store.dir))?;
        part.persist(&path)?;
        store.added(size);
        Ok(())
    }
}

/// A blob being written: removed when dropped unless persisted.
#[derive(Debug)]
struct Partial {
    file: File,
    path: PathBuf,
    kept: bool,
}

impl Partial {
    fn create(dir: &Path) -> io::Result<Partial> {
        use std::sync::atomic::AtomicU64;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = dir.join(format!(
            "{}-{nanos}-{}.part",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(Partial {
            file,
            path,
            kept: false,
        })
    }

    fn persist(mut self, to: &Path) -> io::Result<()> {
        fs::rename(&self.path, to)?;
        self.kept = true;
        // The rename itself is durable once its directory is synced.
        if let Some(parent) = to.parent() {
            File::open(parent)?.sync_all()?;
        }
        Ok(())
    }
}

impl Write for Partial {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.kept {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A byte range asked for with HTTP's `Range` header, resolved against a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// The whole (no header, or one this server does not serve ranges for: several ranges,
    /// another unit): answered 200 with everything.
    Whole,
    /// Bytes `start..=end` (206).
    Part { start: u64, end: u64 },
    /// A range that lies outside the blob (416).
    Unsatisfiable,
}

impl ByteRange {
    /// The range `header` (the value of `Range`) asks for in a blob of `size` bytes
    /// (RFC 9110 §14: `bytes=a-b`, `bytes=a-`, `bytes=-n`).
    pub fn parse(header: Option<&str>, size: u64) -> ByteRange {
        let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
            return ByteRange::Whole;
        };
        if spec.contains(',') {
            // Several ranges: answered whole (allowed: a server may ignore Range).
            return ByteRange::Whole;
        }
        let Some((a, b)) = spec.trim().split_once('-') else {
            return ByteRange::Whole;
        };
        let num = |s: &str| -> Option<u64> {
            let s = s.trim();
            (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        match (a.trim().is_empty(), num(a), num(b)) {
            // bytes=-n: the last n bytes.
            (true, _, Some(n)) => {
                if n == 0 || size == 0 {
                    ByteRange::Unsatisfiable
                } else {
                    ByteRange::Part {
                        start: size.saturating_sub(n),
                        end: size - 1,
                    }
                }
            }
            (false, Some(start), end) if b.trim().is_empty() || end.is_some() => {
                if start >= size {
                    return ByteRange::Unsatisfiable;
                }
                let end = end.map_or(size - 1, |e| e.min(size - 1));
                if end < start {
                    // An invalid range: ignored, as RFC 9110 allows.
                    ByteRange::Whole
                } else {
                    ByteRange::Part { start, end }
                }
            }
            _ => ByteRange::Whole,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_named_by_its_hash_streamed_to_disk_and_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let (id, size) = store.put(&bytes[..], 1 << 20).unwrap();
        assert_eq!(size, bytes.len() as u64);
        assert_eq!(id.as_str(), weft_keys::to_hex(&Sha256::digest(&bytes)));
        assert!(store.has(&id));
        let mut back = Vec::new();
        store
            .open_blob(&id)
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, bytes);
        store.verify(&id).unwrap();
        // The same bytes again: the same blob, one file.
        let (again, _) = store.put(&bytes[..], 1 << 20).unwrap();
        assert_eq!(again, id);
        assert_eq!(store.list().unwrap(), vec![(id.clone(), size)]);
        // Reopened: still there; nothing left in tmp.
        let store = BlobStore::open(dir.path()).unwrap();
        assert!(store.has(&id));
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn a_blob_over_the_limit_leaves_nothing_and_a_corrupt_one_is_found_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let big = vec![7u8; 200_000];
        assert!(matches!(
            store.put(&big[..], 100_000),
            Err(BlobError::TooLarge { limit: 100_000 })
        ));
        assert!(store.list().unwrap().is_empty());
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        let (id, _) = store.put(&b"hello"[..], 100).unwrap();
        fs::write(store.path(&id), b"HELLO").unwrap();
        assert!(matches!(store.verify(&id), Err(BlobError::Corrupt(_))));
        assert!(!store.has(&id), "a corrupt blob is removed");
        assert!(BlobId::parse("AB").is_none());
        assert!(BlobId::parse(&"G".repeat(64)).is_none());
        assert!(BlobId::parse(id.as_str()).is_some());
    }

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        use ByteRange::*;
        let p = |h: &str| ByteRange::parse(Some(h), 1000);
        assert_eq!(ByteRange::parse(None, 1000), Whole);
        assert_eq!(p("bytes=0-99"), Part { start: 0, end: 99 });
        assert_eq!(
            p("bytes=900-"),
            Part {
                start: 900,
                end: 999
            }
        );
        assert_eq!(
            p("bytes=-100"),
            Part {
                start: 900,
                end: 999
            }
        );
        assert_eq!(p("bytes=-5000"), Part { start: 0, end: 999 });
        assert_eq!(
            p("bytes=500-5000"),
            Part {
                start: 500,
                end: 999
            }
        );
        assert_eq!(p("bytes=1000-"), Unsatisfiable);
        assert_eq!(p("bytes=-0"), Unsatisfiable);
        assert_eq!(p("bytes=5-2"), Whole);
        assert_eq!(p("bytes=0-1,5-6"), Whole);
        assert_eq!(p("items=0-1"), Whole);
        assert_eq!(p("bytes=x-1"), Whole);
        assert_eq!(ByteRange::parse(Some("bytes=0-"), 0), Unsatisfiable);
    }
}

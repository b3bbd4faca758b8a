//! The change log: every accepted signed change, in the order accepted, appended to one
//! file beside sled's (`changes.log` in the store's folder).
//!
//! Why not in sled: the signed changes are most of what a node holds (875 MB for a company of
//! 57,000 people), are written once and never rewritten, and sled kept them at 3.6 times
//! their size on disk (its pages are rewritten as neighbouring keys change, and the old
//! copies wait for its segment cleaner). Appended to a file they take their own size plus the
//! framing; sled keeps only each document's last record (in `docs`).
//!
//! A record is `u32 BE length of the rest | u64 BE offset of the same document's previous
//! record (u64::MAX: none) | u16 BE document id length | document id (UTF-8) | signed
//! change`: a document's changes are found by walking back from its last record, so sled
//! needs no entry per change (an index of one entry per change was most of sled's entries,
//! and sled spends hundreds of bytes on each). A change's sequence number (what the read
//! models' mark and the search index's mark count in) is its record's offset in the file:
//! increasing in the order of acceptance, as sled's generated ids were.
//!
//! Durability: [`ChangeLog::append`] writes and syncs the records before the store records
//! the new end in `meta` and indexes them, so that an index entry sled made durable (sled
//! flushes on its own too) never points past what the disk holds. At opening, bytes past
//! the recorded end — records of a batch whose index never became durable, because the
//! node stopped in between — are cut off: those changes were never acknowledged to anyone
//! (a command is answered after the flush), and a peer sends them again.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use weft_crdt::DocId;

/// The log file's name in the store's folder.
pub(super) const FILE: &str = "changes.log";

/// Bytes before a record's id: its length (u32), the previous record's offset (u64) and its
/// id's length (u16).
pub(super) const HEADER: usize = 14;
/// The previous-record offset of a document's first record.
pub(super) const NONE: u64 = u64::MAX;

/// One record as read back.
#[derive(Debug)]
pub(super) struct Record {
    pub offset: u64,
    /// The same document's previous record ([`NONE`] for its first).
    pub prev: u64,
    pub doc: DocId,
    pub change: Vec<u8>,
}

/// The change log of one store.
#[derive(Debug)]
pub(super) struct ChangeLog {
    path: PathBuf,
    file: File,
    /// The offset where the next record goes (everything before it is synced).
    end: Mutex<u64>,
}

/// Why the log could not be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum LogError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Corrupt(String),
}

impl ChangeLog {
    /// Opens (or creates) the log in `dir`, whose store says the log ends at `end`: bytes
    /// beyond it are cut off; a log shorter than that is corrupt (the store points at
    /// changes the disk lost).
    pub(super) fn open(dir: &Path, end: u64) -> Result<ChangeLog, LogError> {
        let path = dir.join(FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let len = file.metadata()?.len();
        if len < end {
            return Err(LogError::Corrupt(format!(
                "{} holds {len} bytes but the store indexes changes up to byte {end}",
                path.display()
            )));
        }
        if len > end {
            tracing::warn!(
                bytes = len - end,
                "the change log ends with changes the store never indexed (the node stopped while writing them): cut off; peers send them again"
            );
            file.set_len(end)?;
            file.sync_all()?;
        }
        Ok(ChangeLog {
            path,
            file,
            end: Mutex::new(end),
        })
    }

    /// Empties the log (an upgrade starts it afresh).
    pub(super) fn reset(&self) -> Result<(), LogError> {
        let mut end = self.end.lock().unwrap_or_else(|e| e.into_inner());
        self.file.set_len(0)?;
        *end = 0;
        Ok(())
    }

    /// Where the next record goes: the log's length.
    pub(super) fn end(&self) -> u64 {
        *self.end.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends records and syncs them to disk; `prev` is told each record's document and
    /// offset and answers the offset of that document's previous record ([`NONE`]). Returns
    /// each record's offset, in order, and the new end.
    pub(super) fn append<'a>(
        &self,
        changes: impl IntoIterator<Item = (&'a DocId, &'a [u8])>,
        prev: &mut dyn FnMut(&DocId, u64) -> u64,
    ) -> Result<(Vec<u64>, u64), LogError> {
        let mut end = self.end.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = Vec::new();
        let mut at = Vec::new();
        for (doc, bytes) in changes {
            let id = doc.as_str().as_bytes();
            let rest = HEADER - 4 + id.len() + bytes.len();
            let rest32 = u32::try_from(rest)
                .map_err(|_| LogError::Corrupt(format!("a change of {rest} bytes")))?;
            let offset = *end + buf.len() as u64;
            at.push(offset);
            buf.extend_from_slice(&rest32.to_be_bytes());
            buf.extend_from_slice(&prev(doc, offset).to_be_bytes());
            buf.extend_from_slice(&(id.len() as u16).to_be_bytes());
            buf.extend_from_slice(id);
            buf.extend_from_slice(bytes);
        }
        if buf.is_empty() {
            return Ok((at, *end));
        }
        self.file.write_all_at(&buf, *end)?;
        self.file.sync_data()?;
        *end += buf.len() as u64;
        Ok((at, *end))
    }

    /// The record at `offset`.
    pub(super) fn read(&self, offset: u64) -> Result<Record, LogError> {
        let end = self.end();
        let past = || {
            LogError::Corrupt(format!(
                "no record at byte {offset} (the log ends at {end})"
            ))
        };
        if offset.saturating_add(HEADER as u64) > end {
            return Err(past());
        }
        // Most records fit in one read of a few kilobytes; a longer one takes a second.
        let mut buf = vec![0u8; (end - offset).min(4096) as usize];
        self.file.read_exact_at(&mut buf, offset)?;
        let n = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as u64;
        if offset + 4 + n > end || n < (HEADER - 4) as u64 {
            return Err(past());
        }
        if buf.len() < 4 + n as usize {
            buf.resize(4 + n as usize, 0);
            self.file.read_exact_at(&mut buf, offset)?;
        }
        buf.truncate(4 + n as usize);
        buf.drain(..4);
        split(buf, offset)
    }

    /// Every record from `offset` (a record's start) to the end, in order.
    pub(super) fn records_from(&self, offset: u64) -> Records {
        let end = self.end();
        let reader = File::open(&self.path).and_then(|mut f| {
            std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(offset))?;
            Ok(BufReader::with_capacity(1 << 20, f))
        });
        Records {
            reader: reader.map_err(LogError::from),
            at: offset,
            end,
        }
    }

    /// Bytes on disk.
    pub(super) fn len(&self) -> u64 {
        self.end()
    }
}

/// Splits a record's rest (after its length field) into its parts.
fn split(mut rest: Vec<u8>, offset: u64) -> Result<Record, LogError> {
    let corrupt = |why: &str| LogError::Corrupt(format!("the record at byte {offset}: {why}"));
    if rest.len() < HEADER - 4 {
        return Err(corrupt("too short"));
    }
    let prev = u64::from_be_bytes(rest[..8].try_into().map_err(|_| corrupt("too short"))?);
    if prev != NONE && prev >= offset {
        return Err(corrupt("its previous record is not before it"));
    }
    let n = u16::from_be_bytes([rest[8], rest[9]]) as usize;
    let id = rest
        .get(10..10 + n)
        .ok_or_else(|| corrupt("truncated id"))?;
    let id = std::str::from_utf8(id).map_err(|_| corrupt("id not UTF-8"))?;
    let doc = DocId::parse(id).map_err(|e| corrupt(&e.to_string()))?;
    rest.drain(..10 + n);
    Ok(Record {
        offset,
        prev,
        doc,
        change: rest,
    })
}

/// An iterator over the log's records (see [`ChangeLog::records_from`]).
pub(super) struct Records {
    reader: Result<BufReader<File>, LogError>,
    at: u64,
    end: u64,
}

impl Iterator for Records {
    type Item = Result<Record, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.end {
            return None;
        }
        let reader = match &mut self.reader {
            Ok(r) => r,
            Err(e) => {
                let e = LogError::Corrupt(e.to_string());
                self.at = self.end;
                return Some(Err(e));
            }
        };
        let offset = self.at;
        let mut len = [0u8; 4];
        let mut read = || -> Result<Record, LogError> {
            reader.read_exact(&mut len)?;
            let n = u32::from_be_bytes(len) as usize;
            if offset + 4 + n as u64 > self.end || n < HEADER - 4 {
                return Err(LogError::Corrupt(format!(
                    "the record at byte {offset} runs past the end of the log"
                )));
            }
            let mut rest = vec![0u8; n];
            reader.read_exact(&mut rest)?;
            split(rest, offset)
        };
        match read() {
            Ok(record) => {
                self.at = offset + 4 + u32::from_be_bytes(len) as u64;
                Some(Ok(record))
            }
            Err(e) => {
                self.at = self.end;
                Some(Err(e))
            }
        }
    }
}

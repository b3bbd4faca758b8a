//! Compaction: sled's file rewritten with only what is live.
//!
//! sled 0.34 reuses the space of rewritten and deleted records only in part, and never gives
//! it back: its file follows the bytes *written*, not the bytes held. A node that catches up
//! with a company (or a generated company's history) rewrites each thread's summary at every
//! post and each employee's notifications as they come, and its sled file ends at twelve
//! times what it holds (2.65 GB for 223 MB live, issue 15). Copying every tree into a fresh
//! sled file gives 485 MB in under six seconds.
//!
//! The store does that when it opens, before anything reads it, once the file has grown
//! [`GROWTH`] times since the last compaction (and is over [`MIN_BYTES`]): the work is then
//! proportional to what the file held when it was last compacted, paid at a restart.
//!
//! Crash safety. The new file is built in `compact.new/` and marked complete (synced) before
//! anything moves; then sled's old files move into `compact.old/` (marked complete once all
//! have), then the new ones into the store's folder, then both folders are deleted. Every
//! step can be redone, and [`finish_interrupted`] redoes what a crash left undone when the
//! store next opens: a `compact.new/` that is not complete is deleted (the old files were
//! never touched); a complete one is moved in. The change log, the search index and anything
//! else in the folder are never moved.
//!
//! Notification numbers come from sled's id generator, which a fresh file starts again at 0:
//! the store keeps a floor in `meta` (`id_floor`) that the copy sets past every id the old
//! file gave (see [`super::Store::next_id`]).

use std::path::Path;
use std::time::Instant;

use super::{ID_FLOOR, StoreError, open_sled};

/// Where the new file is built.
const NEW: &str = "compact.new";
/// Where sled's old files wait while the new ones move in.
const OLD: &str = "compact.old";
/// In `compact.new/` or `compact.old/`: that folder holds all it should.
const COMPLETE: &str = "complete";
/// In the store's folder: sled's file size (decimal bytes) after the last compaction.
const BASELINE: &str = "compacted";

/// Compact once the file is this many times its size after the last compaction.
pub(super) const GROWTH: u64 = 2;
/// Never compact a file smaller than this.
pub(super) const MIN_BYTES: u64 = 256 << 20;
/// sled's page cache for each of the two files while copying (the node's own is not open yet).
const COPY_CACHE_MB: u64 = 64;
/// Records copied per batch.
const BATCH: usize = 4096;

/// What one compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compacted {
    /// sled's file before, in bytes.
    pub before: u64,
    /// sled's file after, in bytes.
    pub after: u64,
    /// Records copied (every tree).
    pub records: u64,
    pub millis: u64,
}

/// Whether sled's file in `dir` should be compacted now: its size and the threshold it passed.
pub(super) fn due(dir: &Path) -> Option<(u64, u64)> {
    let size = file_size(dir)?;
    let baseline = std::fs::read_to_string(dir.join(BASELINE))
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let threshold = MIN_BYTES.max(baseline.saturating_mul(GROWTH));
    (size > threshold).then_some((size, threshold))
}

/// sled's file size in `dir`, if it has one.
fn file_size(dir: &Path) -> Option<u64> {
    std::fs::metadata(dir.join("db")).ok().map(|m| m.len())
}

/// Whether a folder entry is one of sled's (the files sled writes in the folder it opens).
fn is_sled_entry(name: &str) -> bool {
    matches!(name, "conf" | "db" | "blobs") || name.starts_with("snap.")
}

fn io_err(doing: &'static str) -> impl FnOnce(std::io::Error) -> StoreError {
    move |e| StoreError::Compact(format!("{doing}: {e}"))
}

fn sled_err(doing: &'static str) -> impl FnOnce(sled::Error) -> StoreError {
    move |e| StoreError::Compact(format!("{doing}: {e}"))
}

/// Compacts sled's file in `dir` (the store must not be open): builds the new file, then
/// moves it in. An error while building leaves the store as it was (the partial copy is
/// deleted); an error while moving is left for [`finish_interrupted`] at the next opening.
pub(super) fn compact(dir: &Path) -> Result<Compacted, StoreError> {
    let started = Instant::now();
    let before = file_size(dir).unwrap_or(0);
    let records = match build(dir) {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_dir_all(dir.join(NEW));
            return Err(e);
        }
    };
    swap(dir)?;
    let after = file_size(dir).unwrap_or(0);
    let tmp = dir.join(format!("{BASELINE}.tmp"));
    std::fs::write(&tmp, format!("{after}\n"))
        .and_then(|()| std::fs::rename(&tmp, dir.join(BASELINE)))
        .map_err(io_err("recording the compacted size"))?;
    Ok(Compacted {
        before,
        after,
        records,
        millis: started.elapsed().as_millis() as u64,
    })
}

/// Copies every tree of the sled file in `dir` into a fresh one in `dir/compact.new`, marked
/// complete once synced. Returns the number of records copied.
fn build(dir: &Path) -> Result<u64, StoreError> {
    let new_dir = dir.join(NEW);
    if new_dir.exists() {
        std::fs::remove_dir_all(&new_dir).map_err(io_err("removing an old partial copy"))?;
    }
    let old = open_sled(dir, COPY_CACHE_MB)?;
    let new = open_sled(&new_dir, COPY_CACHE_MB)?;
    // Past every id the old file gave (and its own floor).
    let floor = old
        .open_tree(super::maps::META)
        .and_then(|m| m.get(ID_FLOOR))
        .map_err(sled_err("reading the id floor"))?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes);
    let next = old
        .generate_id()
        .map_err(sled_err("reading the id generator"))?;
    let mut records = 0u64;
    let mut last_report = Instant::now();
    for name in old.tree_names() {
        let from = old.open_tree(&name).map_err(sled_err("opening a tree"))?;
        let to = new.open_tree(&name).map_err(sled_err("creating a tree"))?;
        let mut batch = sled::Batch::default();
        let mut in_batch = 0;
        for kv in from.iter() {
            let (k, v) = kv.map_err(sled_err("reading a record"))?;
            batch.insert(k, v);
            in_batch += 1;
            records += 1;
            if in_batch == BATCH {
                to.apply_batch(std::mem::take(&mut batch))
                    .map_err(sled_err("writing a record"))?;
                in_batch = 0;
                if last_report.elapsed().as_secs() >= 5 {
                    last_report = Instant::now();
                    tracing::info!(records, "compacting the store");
                }
            }
        }
        to.apply_batch(batch)
            .map_err(sled_err("writing a record"))?;
    }
    new.open_tree(super::maps::META)
        .and_then(|m| {
            m.insert(
                ID_FLOOR,
                &floor.saturating_add(next).saturating_add(1).to_be_bytes(),
            )
        })
        .map_err(sled_err("writing the id floor"))?;
    new.flush().map_err(sled_err("flushing the copy"))?;
    drop(new);
    drop(old);
    mark_complete(&new_dir)?;
    Ok(records)
}

/// Writes (and syncs) the `complete` mark in `folder`, and syncs the folder.
fn mark_complete(folder: &Path) -> Result<(), StoreError> {
    let f =
        std::fs::File::create(folder.join(COMPLETE)).map_err(io_err("marking a copy complete"))?;
    f.sync_all().map_err(io_err("marking a copy complete"))?;
    sync_dir(folder)
}

fn sync_dir(folder: &Path) -> Result<(), StoreError> {
    std::fs::File::open(folder)
        .and_then(|d| d.sync_all())
        .map_err(io_err("syncing a folder"))
}

/// Moves every sled entry of `from` into `to` (those already moved are gone from `from`).
fn move_sled_entries(from: &Path, to: &Path) -> Result<(), StoreError> {
    for e in std::fs::read_dir(from).map_err(io_err("listing a folder"))? {
        let e = e.map_err(io_err("listing a folder"))?;
        let name = e.file_name();
        if name.to_str().is_some_and(is_sled_entry) {
            std::fs::rename(e.path(), to.join(&name)).map_err(io_err("moving sled's files"))?;
        }
    }
    sync_dir(to)?;
    sync_dir(from)
}

/// Moves the complete copy in `dir/compact.new` into `dir` (sled's old files through
/// `dir/compact.old`), then deletes both folders. Redoable from any point.
fn swap(dir: &Path) -> Result<(), StoreError> {
    let new_dir = dir.join(NEW);
    let old_dir = dir.join(OLD);
    if !old_dir.join(COMPLETE).exists() {
        std::fs::create_dir_all(&old_dir).map_err(io_err("making room for the old files"))?;
        move_sled_entries(dir, &old_dir)?;
        mark_complete(&old_dir)?;
    }
    move_sled_entries(&new_dir, dir)?;
    std::fs::remove_dir_all(&new_dir).map_err(io_err("removing the copy's folder"))?;
    std::fs::remove_dir_all(&old_dir).map_err(io_err("removing the old files"))?;
    sync_dir(dir)
}

/// Finishes or undoes a compaction a crash interrupted (see the module's docs). Returns
/// whether there was one.
pub(super) fn finish_interrupted(dir: &Path) -> Result<bool, StoreError> {
    let new_dir = dir.join(NEW);
    let old_dir = dir.join(OLD);
    if new_dir.join(COMPLETE).exists() {
        tracing::warn!(store = %dir.display(), "finishing a compaction a stop interrupted");
        swap(dir)?;
        return Ok(true);
    }
    let mut found = false;
    if new_dir.exists() {
        tracing::warn!(store = %dir.display(), "deleting the partial copy of an interrupted compaction");
        std::fs::remove_dir_all(&new_dir).map_err(io_err("removing a partial copy"))?;
        found = true;
    }
    if old_dir.exists() {
        // Only left once every new file has moved in.
        std::fs::remove_dir_all(&old_dir).map_err(io_err("removing the old files"))?;
        found = true;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// Every record of every tree, to compare a store before and after.
    fn dump(dir: &Path) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
        let db = open_sled(dir, 16).unwrap();
        let mut out = vec![];
        for name in db.tree_names() {
            let t = db.open_tree(&name).unwrap();
            for kv in t.iter() {
                let (k, v) = kv.unwrap();
                out.push((name.to_vec(), k.to_vec(), v.to_vec()));
            }
        }
        // The floor is the copy's own record.
        out.retain(|(t, k, _)| !(t.as_slice() == b"meta" && k.as_slice() == ID_FLOOR.as_bytes()));
        out
    }

    /// A store whose sled file holds far more than it keeps: one record rewritten many times.
    fn grown_store(dir: &Path) -> u64 {
        let s = Store::open(dir).unwrap();
        for i in 0..30 {
            s.add_notification("e1", notification(i)).unwrap();
        }
        let big = vec![7u8; 16 * 1024];
        for i in 0..3_000u32 {
            let mut v = big.clone();
            v[..4].copy_from_slice(&i.to_be_bytes());
            s.put_profile_words("e2", &v).unwrap();
            if i % 100 == 0 {
                s.flush().unwrap();
            }
        }
        s.flush().unwrap();
        drop(s);
        file_size(dir).unwrap()
    }

    fn notification(i: u64) -> crate::personal::Notification {
        crate::personal::Notification {
            id: 0,
            kind: crate::personal::NoticeKind::Reply,
            doc: "t".into(),
            post: None,
            by: "e3".into(),
            title: format!("n{i}"),
            at: i as i64,
            read: false,
        }
    }

    #[test]
    fn a_grown_store_is_compacted_keeping_every_record_and_numbering_on() {
        let dir = crate::store::private_tempdir();
        let before = grown_store(dir.path());
        let content = dump(dir.path());
        let s = Store::open_uncompacted(dir.path());
        let old_ids: Vec<u64> = s
            .notifications("e1", None, 100)
            .unwrap()
            .iter()
            .map(|n| n.id)
            .collect();
        drop(s);
        let c = compact(dir.path()).unwrap();
        assert_eq!(c.before, before);
        assert!(c.after * 4 < c.before, "{c:?}");
        assert_eq!(c.records as usize, content.len(), "{c:?}");
        assert_eq!(dump(dir.path()), content);
        for left in [NEW, OLD] {
            assert!(!dir.path().join(left).exists());
        }
        let s = Store::open(dir.path()).unwrap();
        let new_id = s.add_notification("e1", notification(99)).unwrap();
        assert!(
            old_ids.iter().all(|&id| id < new_id),
            "{new_id} after {old_ids:?}"
        );
        assert_eq!(
            s.notifications("e1", None, 100).unwrap()[0].id,
            new_id,
            "newest first"
        );
        drop(s);
        // Not due again until it grows.
        assert_eq!(due(dir.path()), None);
    }

    #[test]
    fn an_interrupted_compaction_is_undone_or_finished_when_the_store_opens() {
        for cut in 0..4 {
            let dir = crate::store::private_tempdir();
            grown_store(dir.path());
            let content = dump(dir.path());
            match cut {
                // Stopped while copying: the copy is incomplete.
                0 => {
                    build(dir.path()).unwrap();
                    std::fs::remove_file(dir.path().join(NEW).join(COMPLETE)).unwrap();
                }
                // Complete copy, nothing moved yet.
                1 => {
                    build(dir.path()).unwrap();
                }
                // Some of the old files moved aside.
                2 => {
                    build(dir.path()).unwrap();
                    std::fs::create_dir(dir.path().join(OLD)).unwrap();
                    std::fs::rename(dir.path().join("db"), dir.path().join(OLD).join("db"))
                        .unwrap();
                }
                // Old files aside, the new `db` moved in, its `conf` not yet.
                _ => {
                    build(dir.path()).unwrap();
                    std::fs::create_dir(dir.path().join(OLD)).unwrap();
                    move_sled_entries(dir.path(), &dir.path().join(OLD)).unwrap();
                    mark_complete(&dir.path().join(OLD)).unwrap();
                    std::fs::rename(dir.path().join(NEW).join("db"), dir.path().join("db"))
                        .unwrap();
                }
            }
            assert!(finish_interrupted(dir.path()).unwrap(), "cut {cut}");
            assert_eq!(dump(dir.path()), content, "cut {cut}");
            for left in [NEW, OLD] {
                assert!(!dir.path().join(left).exists(), "cut {cut}: {left}");
            }
            let s = Store::open(dir.path()).unwrap();
            assert_eq!(
                s.notifications("e1", None, 100).unwrap().len(),
                30,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn compaction_is_due_when_the_file_has_grown_since_the_last() {
        let dir = crate::store::private_tempdir();
        assert_eq!(due(dir.path()), None, "no file");
        let f = std::fs::File::create(dir.path().join("db")).unwrap();
        f.set_len(MIN_BYTES).unwrap();
        assert_eq!(due(dir.path()), None, "small");
        f.set_len(MIN_BYTES + 1).unwrap();
        assert_eq!(
            due(dir.path()),
            Some((MIN_BYTES + 1, MIN_BYTES)),
            "never compacted"
        );
        std::fs::write(dir.path().join(BASELINE), format!("{}\n", MIN_BYTES)).unwrap();
        assert_eq!(due(dir.path()), None, "grown less than {GROWTH}×");
        f.set_len(MIN_BYTES * GROWTH + 1).unwrap();
        assert_eq!(
            due(dir.path()),
            Some((MIN_BYTES * GROWTH + 1, MIN_BYTES * GROWTH))
        );
    }
}

//! The `personal` tree: follows, read markers, notifications, settings (see `maps.rs` for
//! the key layout).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use weft_crdt::DocId;

use super::{Store, StoreError, io, maps};
use crate::personal::{Notification, Settings};

/// How many employees' followed threads are kept in memory at most (all are dropped when
/// the limit is reached; they are read again on next use).
const FOLLOW_SETS: usize = 20_000;

/// The threads each employee follows, kept after the first read.
#[derive(Debug, Clone, Default)]
pub(super) struct FollowCache(Arc<Mutex<HashMap<String, Arc<HashSet<DocId>>>>>);

impl FollowCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<HashSet<DocId>>>> {
        // Every operation under the lock is a lookup, an insert or a set update: a panic
        // while it was held leaves a usable map.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// How many notifications each employee keeps: the newest. A year of a busy company's
/// replies notified each follower of every one — 1.9 million notifications for the 1,400
/// employees of one site, most of what that node's sled held — while a person reads the
/// last few dozen.
pub(crate) const MAX_NOTIFICATIONS: usize = 500;
/// Old notifications are looked for at one new notification in this many (ids are numbered
/// across the node), so that each new one costs little.
pub(crate) const PRUNE_EVERY: u64 = 32;

fn key(parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend_from_slice(p);
    }
    k
}

fn corrupt(reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        tree: maps::PERSONAL,
        reason: reason.to_string(),
    }
}

/// The last part of a key (after the last NUL), as UTF-8.
fn tail(k: &[u8]) -> Option<&str> {
    let at = k.iter().rposition(|b| *b == 0)?;
    std::str::from_utf8(&k[at + 1..]).ok()
}

impl Store {
    /// Records that `employee` follows `thread` (`on`) or stopped following it.
    pub fn set_thread_follow(
        &self,
        employee: &str,
        thread: &DocId,
        on: bool,
    ) -> Result<(), StoreError> {
        let v: &[u8] = if on { b"1" } else { b"0" };
        let t = thread.as_str().as_bytes();
        let e = employee.as_bytes();
        // Under the cache's lock, so that no reader caches what it read before this write.
        let mut cache = self.follows.lock();
        self.personal
            .insert(key(&[b"ft", t, e]), v)
            .map_err(io("storing a follow"))?;
        self.personal
            .insert(key(&[b"fe", e, t]), v)
            .map_err(io("storing a follow"))?;
        // A changed set is a new one (never changed in place): whoever holds the old one
        // can tell, by its address, that what they derived from it is stale.
        if let Some(set) = cache.get_mut(employee)
            && set.contains(thread) != on
        {
            let mut changed = (**set).clone();
            if on {
                changed.insert(thread.clone());
            } else {
                changed.remove(thread);
            }
            *set = Arc::new(changed);
        }
        Ok(())
    }

    /// Whether `employee` follows `thread`: `Some(true)`, `Some(false)` if they stopped,
    /// `None` if they never said.
    pub fn thread_follow(
        &self,
        employee: &str,
        thread: &DocId,
    ) -> Result<Option<bool>, StoreError> {
        Ok(self
            .personal
            .get(key(&[
                b"fe",
                employee.as_bytes(),
                thread.as_str().as_bytes(),
            ]))
            .map_err(io("reading a follow"))?
            .map(|v| v.as_ref() == b"1"))
    }

    /// The employees following `thread`.
    pub fn thread_followers(&self, thread: &DocId) -> Result<Vec<String>, StoreError> {
        let prefix = key(&[b"ft", thread.as_str().as_bytes(), b""]);
        let mut out = Vec::new();
        for item in self.personal.scan_prefix(&prefix) {
            let (k, v) = item.map_err(io("reading followers"))?;
            if v.as_ref() == b"1" {
                out.push(
                    tail(&k)
                        .ok_or_else(|| corrupt("bad follow key"))?
                        .to_owned(),
                );
            }
        }
        Ok(out)
    }

    /// The threads `employee` follows, as a set kept in memory after the first read (a
    /// feed looks at it on every page; an author follows every thread they post in, so it
    /// can hold thousands). Kept up to date by [`Store::set_thread_follow`], the one writer,
    /// which replaces a set that changes rather than changing it.
    pub fn followed_thread_set(&self, employee: &str) -> Result<Arc<HashSet<DocId>>, StoreError> {
        let mut cache = self.follows.lock();
        if let Some(set) = cache.get(employee) {
            return Ok(set.clone());
        }
        let set: Arc<HashSet<DocId>> =
            Arc::new(self.followed_threads(employee)?.into_iter().collect());
        if cache.len() >= FOLLOW_SETS {
            cache.clear();
        }
        cache.insert(employee.to_owned(), set.clone());
        Ok(set)
    }

    /// The threads `employee` follows.
    pub fn followed_threads(&self, employee: &str) -> Result<Vec<DocId>, StoreError> {
        let prefix = key(&[b"fe", employee.as_bytes(), b""]);
        let mut out = Vec::new();
        for item in self.personal.scan_prefix(&prefix) {
            let (k, v) = item.map_err(io("reading follows"))?;
            if v.as_ref() == b"1" {
                let t = tail(&k).ok_or_else(|| corrupt("bad follow key"))?;
                out.push(DocId::parse(t).map_err(corrupt)?);
            }
        }
        Ok(out)
    }

    /// Records that `employee` follows `person` (or no longer does).
    pub fn set_person_follow(
        &self,
        employee: &str,
        person: &str,
        on: bool,
    ) -> Result<(), StoreError> {
        let k = key(&[b"fp", employee.as_bytes(), person.as_bytes()]);
        if on {
            self.personal
                .insert(k, b"1")
                .map_err(io("storing a follow"))?;
        } else {
            self.personal.remove(k).map_err(io("removing a follow"))?;
        }
        Ok(())
    }

    /// The people `employee` follows.
    pub fn followed_people(&self, employee: &str) -> Result<Vec<String>, StoreError> {
        let prefix = key(&[b"fp", employee.as_bytes(), b""]);
        let mut out = Vec::new();
        for item in self.personal.scan_prefix(&prefix) {
            let (k, _) = item.map_err(io("reading follows"))?;
            out.push(
                tail(&k)
                    .ok_or_else(|| corrupt("bad follow key"))?
                    .to_owned(),
            );
        }
        Ok(out)
    }

    /// Records that `employee` has read `thread` up to activity time `at` (ms); never moves
    /// the marker back.
    pub fn mark_read(&self, employee: &str, thread: &DocId, at: i64) -> Result<(), StoreError> {
        if self.read_marker(employee, thread)?.is_some_and(|m| m >= at) {
            // Reading again what was read: no write.
            return Ok(());
        }
        let k = key(&[b"rd", employee.as_bytes(), thread.as_str().as_bytes()]);
        self.personal
            .update_and_fetch(k, |old| {
                let prev = old
                    .and_then(|v| <[u8; 8]>::try_from(v).ok())
                    .map_or(i64::MIN, i64::from_be_bytes);
                Some(prev.max(at).to_be_bytes().to_vec())
            })
            .map_err(io("storing a read marker"))?;
        Ok(())
    }

    /// How far `employee` has read `thread` (ms), if they ever opened it.
    pub fn read_marker(&self, employee: &str, thread: &DocId) -> Result<Option<i64>, StoreError> {
        let k = key(&[b"rd", employee.as_bytes(), thread.as_str().as_bytes()]);
        self.personal
            .get(k)
            .map_err(io("reading a read marker"))?
            .map(|v| {
                <[u8; 8]>::try_from(v.as_ref())
                    .map(i64::from_be_bytes)
                    .map_err(|_| corrupt("bad read marker"))
            })
            .transpose()
    }

    /// Adds a notification for `employee`, numbering it; returns its id. Only the newest
    /// [`MAX_NOTIFICATIONS`] are kept (give or take [`PRUNE_EVERY`]): older ones are
    /// deleted now and then as new ones arrive.
    pub fn add_notification(&self, employee: &str, mut n: Notification) -> Result<u64, StoreError> {
        let id = self.next_id()?;
        n.id = id;
        let v = serde_json::to_vec(&n).map_err(corrupt)?;
        self.personal
            .insert(key(&[b"nt", employee.as_bytes(), &id.to_be_bytes()]), v)
            .map_err(io("storing a notification"))?;
        if id.is_multiple_of(PRUNE_EVERY) {
            self.prune_notifications(employee)?;
        }
        Ok(id)
    }

    /// Deletes `employee`'s notifications beyond the newest [`MAX_NOTIFICATIONS`].
    fn prune_notifications(&self, employee: &str) -> Result<(), StoreError> {
        let prefix = key(&[b"nt", employee.as_bytes(), b""]);
        let old: Vec<sled::IVec> = self
            .personal
            .scan_prefix(&prefix)
            .rev()
            .skip(MAX_NOTIFICATIONS)
            .map(|r| r.map(|(k, _)| k))
            .collect::<Result<_, _>>()
            .map_err(io("reading notifications"))?;
        for k in old {
            self.personal
                .remove(k)
                .map_err(io("deleting an old notification"))?;
        }
        Ok(())
    }

    /// `employee`'s notifications, newest first, older than `before` (an id) if given.
    pub fn notifications(
        &self,
        employee: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Notification>, StoreError> {
        let prefix = key(&[b"nt", employee.as_bytes(), b""]);
        let mut out = Vec::new();
        for item in self.personal.scan_prefix(&prefix).rev() {
            let (_, v) = item.map_err(io("reading notifications"))?;
            let n: Notification = serde_json::from_slice(&v).map_err(corrupt)?;
            if before.is_some_and(|b| n.id >= b) {
                continue;
            }
            out.push(n);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// One of `employee`'s notifications, if it is still kept.
    pub fn notification(
        &self,
        employee: &str,
        id: u64,
    ) -> Result<Option<Notification>, StoreError> {
        self.personal
            .get(key(&[b"nt", employee.as_bytes(), &id.to_be_bytes()]))
            .map_err(io("reading a notification"))?
            .map(|v| serde_json::from_slice(&v).map_err(corrupt))
            .transpose()
    }

    /// How many of `employee`'s notifications are unread.
    pub fn unread_notifications(&self, employee: &str) -> Result<usize, StoreError> {
        let prefix = key(&[b"nt", employee.as_bytes(), b""]);
        let mut count = 0;
        for item in self.personal.scan_prefix(&prefix) {
            let (_, v) = item.map_err(io("reading notifications"))?;
            let n: Notification = serde_json::from_slice(&v).map_err(corrupt)?;
            count += usize::from(!n.read);
        }
        Ok(count)
    }

    /// Marks `employee`'s notifications read, up to and including id `up_to` (all if `None`).
    /// Returns how many changed.
    pub fn mark_notifications_read(
        &self,
        employee: &str,
        up_to: Option<u64>,
    ) -> Result<usize, StoreError> {
        let prefix = key(&[b"nt", employee.as_bytes(), b""]);
        let mut changed = 0;
        for item in self.personal.scan_prefix(&prefix) {
            let (k, v) = item.map_err(io("reading notifications"))?;
            let mut n: Notification = serde_json::from_slice(&v).map_err(corrupt)?;
            if up_to.is_some_and(|u| n.id > u) {
                break;
            }
            if !n.read {
                n.read = true;
                let v = serde_json::to_vec(&n).map_err(corrupt)?;
                self.personal
                    .insert(k, v)
                    .map_err(io("storing a notification"))?;
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// `employee`'s settings (defaults if never set).
    pub fn settings(&self, employee: &str) -> Result<Settings, StoreError> {
        match self
            .personal
            .get(key(&[b"st", employee.as_bytes()]))
            .map_err(io("reading settings"))?
        {
            Some(v) => serde_json::from_slice(&v).map_err(corrupt),
            None => Ok(Settings::default()),
        }
    }

    /// Whether `employee` has any settings stored (false before their first login).
    pub fn has_settings(&self, employee: &str) -> Result<bool, StoreError> {
        self.personal
            .contains_key(key(&[b"st", employee.as_bytes()]))
            .map_err(io("reading settings"))
    }

    /// Records that `employee` uploaded the blob `hash` (JSON: name, media type, size, time).
    pub fn put_upload(&self, employee: &str, hash: &str, record: &[u8]) -> Result<(), StoreError> {
        self.personal
            .insert(key(&[b"up", employee.as_bytes(), hash.as_bytes()]), record)
            .map_err(io("storing an upload"))?;
        Ok(())
    }

    /// What `employee` recorded of an upload of `hash`, if they made one.
    pub fn upload(&self, employee: &str, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .personal
            .get(key(&[b"up", employee.as_bytes(), hash.as_bytes()]))
            .map_err(io("reading an upload"))?
            .map(|v| v.to_vec()))
    }

    /// Stores (`Some`) or removes the record of an outside feed group `group` follows
    /// (`id`: the SHA-256 of its address).
    pub fn put_followed_feed(
        &self,
        group: &str,
        id: &str,
        record: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let k = key(&[b"ff", group.as_bytes(), id.as_bytes()]);
        match record {
            Some(r) => self.personal.insert(k, r).map(|_| ()),
            None => self.personal.remove(k).map(|_| ()),
        }
        .map_err(io("storing a followed feed"))
    }

    /// The records of the outside feeds groups follow from this site (of one group, if
    /// given): (group, id, record).
    pub fn followed_feeds(
        &self,
        group: Option<&str>,
    ) -> Result<Vec<(String, String, Vec<u8>)>, StoreError> {
        let prefix = match group {
            Some(g) => key(&[b"ff", g.as_bytes(), b""]),
            None => key(&[b"ff", b""]),
        };
        let mut out = Vec::new();
        for kv in self.personal.scan_prefix(prefix) {
            let (k, v) = kv.map_err(io("reading followed feeds"))?;
            let mut parts = k[3..].splitn(2, |b| *b == 0);
            let (Some(g), Some(id)) = (parts.next(), parts.next()) else {
                continue;
            };
            let (Ok(g), Ok(id)) = (std::str::from_utf8(g), std::str::from_utf8(id)) else {
                continue;
            };
            out.push((g.to_owned(), id.to_owned(), v.to_vec()));
        }
        Ok(out)
    }

    /// Whether `employee` was already told of `what` (a reminder, a closed poll).
    pub fn reminded(&self, employee: &str, what: &str) -> Result<bool, StoreError> {
        self.personal
            .contains_key(key(&[b"rm", employee.as_bytes(), what.as_bytes()]))
            .map_err(io("reading reminders"))
    }

    /// Records that `employee` was told of `what`.
    pub fn set_reminded(&self, employee: &str, what: &str) -> Result<(), StoreError> {
        self.personal
            .insert(key(&[b"rm", employee.as_bytes(), what.as_bytes()]), &[])
            .map_err(io("storing a reminder"))?;
        Ok(())
    }

    /// Records that `employee` dismissed the announcement `thread`.
    pub fn set_dismissed(&self, employee: &str, thread: &DocId) -> Result<(), StoreError> {
        self.personal
            .insert(
                key(&[b"dm", employee.as_bytes(), thread.as_str().as_bytes()]),
                &[],
            )
            .map_err(io("storing a dismissal"))?;
        Ok(())
    }

    /// Records that an owner here declined `who`'s request made on `group`'s card (a request
    /// on a card is its requester's reaction, which only they can withdraw).
    pub fn set_card_declined(&self, group: &DocId, who: &str) -> Result<(), StoreError> {
        self.personal
            .insert(
                key(&[b"cd", group.as_str().as_bytes(), who.as_bytes()]),
                &[],
            )
            .map_err(io("storing a declined request"))?;
        Ok(())
    }

    /// The requests made on `group`'s card that an owner here declined.
    pub fn card_declined(&self, group: &DocId) -> Result<HashSet<String>, StoreError> {
        let prefix = key(&[b"cd", group.as_str().as_bytes(), b""]);
        let mut out = HashSet::new();
        for item in self.personal.scan_prefix(&prefix) {
            let (k, _) = item.map_err(io("reading declined requests"))?;
            if let Some(who) = k
                .get(prefix.len()..)
                .and_then(|t| std::str::from_utf8(t).ok())
            {
                out.insert(who.to_owned());
            }
        }
        Ok(out)
    }

    /// The announcements `employee` dismissed.
    pub fn dismissed(&self, employee: &str) -> Result<HashSet<DocId>, StoreError> {
        let prefix = key(&[b"dm", employee.as_bytes(), b""]);
        let mut out = HashSet::new();
        for item in self.personal.scan_prefix(&prefix) {
            let (k, _) = item.map_err(io("reading dismissals"))?;
            if let Some(d) = k
                .get(prefix.len()..)
                .and_then(|t| std::str::from_utf8(t).ok())
                .and_then(|t| DocId::parse(t).ok())
            {
                out.insert(d);
            }
        }
        Ok(out)
    }

    /// Keeps (`Some(at)`) or forgets `employee`'s bookmark of `post` in `thread`.
    pub fn set_bookmark(
        &self,
        employee: &str,
        thread: &DocId,
        post: &str,
        at: Option<i64>,
    ) -> Result<(), StoreError> {
        let k = key(&[
            b"bm",
            employee.as_bytes(),
            thread.as_str().as_bytes(),
            post.as_bytes(),
        ]);
        match at {
            Some(at) => self.personal.insert(k, &at.to_be_bytes()).map(|_| ()),
            None => self.personal.remove(k).map(|_| ()),
        }
        .map_err(io("storing a bookmark"))
    }

    /// `employee`'s bookmarks: (thread, post, when kept).
    pub fn bookmarks(&self, employee: &str) -> Result<Vec<(DocId, String, i64)>, StoreError> {
        let prefix = key(&[b"bm", employee.as_bytes(), b""]);
        let mut out = Vec::new();
        for item in self.personal.scan_prefix(&prefix) {
            let (k, v) = item.map_err(io("reading bookmarks"))?;
            let rest = &k[prefix.len()..];
            let Some(at) = rest.iter().position(|b| *b == 0) else {
                continue;
            };
            let (Ok(t), Ok(p)) = (
                std::str::from_utf8(&rest[..at]),
                std::str::from_utf8(&rest[at + 1..]),
            ) else {
                continue;
            };
            let Ok(thread) = DocId::parse(t) else {
                continue;
            };
            let when = <[u8; 8]>::try_from(v.as_ref())
                .map(i64::from_be_bytes)
                .unwrap_or(0);
            out.push((thread, p.to_owned(), when));
        }
        Ok(out)
    }

    /// Files (`Some`) or unfiles a subscription token's SHA-256 (hex) under its employee;
    /// `prefix` is the kind's (`ca` calendars, `fe` feeds).
    pub fn set_token_owner(
        &self,
        prefix: &[u8],
        hash: &str,
        employee: Option<&str>,
    ) -> Result<(), StoreError> {
        let k = key(&[prefix, hash.as_bytes()]);
        match employee {
            Some(e) => self.personal.insert(k, e.as_bytes()).map(|_| ()),
            None => self.personal.remove(k).map(|_| ()),
        }
        .map_err(io("storing a subscription token"))
    }

    /// The employee whose subscription token of the kind `prefix` has this SHA-256 (hex),
    /// if any.
    pub fn token_owner(&self, prefix: &[u8], hash: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .personal
            .get(key(&[prefix, hash.as_bytes()]))
            .map_err(io("reading a subscription token"))?
            .and_then(|v| String::from_utf8(v.to_vec()).ok()))
    }

    /// Stores `employee`'s settings.
    pub fn put_settings(&self, employee: &str, s: &Settings) -> Result<(), StoreError> {
        let v = serde_json::to_vec(s).map_err(corrupt)?;
        self.personal
            .insert(key(&[b"st", employee.as_bytes()]), v)
            .map_err(io("storing settings"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personal::NoticeKind;

    fn notice(title: &str) -> Notification {
        Notification {
            id: 0,
            kind: NoticeKind::Mention,
            doc: "t".into(),
            post: None,
            by: "x".into(),
            title: title.into(),
            at: 1,
            read: false,
        }
    }

    #[test]
    fn the_kept_set_of_followed_threads_follows_every_write_and_a_reopen() {
        let dir = crate::store::private_tempdir();
        let t = DocId::parse("t-0123456789abcdef0123456789abcdef").unwrap();
        let u = DocId::parse("t-fedcba9876543210fedcba9876543210").unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.set_thread_follow("ana", &t, true).unwrap();
        let first = s.followed_thread_set("ana").unwrap();
        assert_eq!(*first, HashSet::from([t.clone()]));
        // Written after the set was kept: the kept set changes with it.
        s.set_thread_follow("ana", &u, true).unwrap();
        s.set_thread_follow("ana", &t, false).unwrap();
        assert_eq!(
            *s.followed_thread_set("ana").unwrap(),
            HashSet::from([u.clone()])
        );
        assert_eq!(
            *first,
            HashSet::from([t.clone()]),
            "a set handed out is not changed"
        );
        let now = s.followed_thread_set("ana").unwrap();
        s.set_thread_follow("ana", &u, true).unwrap();
        assert!(
            Arc::ptr_eq(&now, &s.followed_thread_set("ana").unwrap()),
            "a write that changes nothing keeps the set"
        );
        assert!(s.followed_thread_set("bob").unwrap().is_empty());
        s.flush().unwrap();
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(*s.followed_thread_set("ana").unwrap(), HashSet::from([u]));
    }

    #[test]
    fn each_employee_keeps_only_their_newest_notifications() {
        let dir = super::super::private_tempdir();
        let s = Store::open(dir.path()).unwrap();
        let many = MAX_NOTIFICATIONS + 3 * PRUNE_EVERY as usize;
        let mut ids = Vec::new();
        for i in 0..many {
            ids.push(
                s.add_notification("hdupre", notice(&format!("n{i}")))
                    .unwrap(),
            );
            if i % 10 == 0 {
                s.add_notification("aallen", notice("other")).unwrap();
            }
        }
        let kept = s.notifications("hdupre", None, usize::MAX).unwrap();
        assert!(
            (MAX_NOTIFICATIONS..MAX_NOTIFICATIONS + PRUNE_EVERY as usize).contains(&kept.len()),
            "{} kept",
            kept.len()
        );
        // The newest are those kept, newest first.
        assert_eq!(kept[0].id, *ids.last().unwrap());
        assert!(kept.iter().all(|n| n.id >= ids[many - kept.len()]));
        assert_eq!(
            s.notifications("aallen", None, usize::MAX).unwrap().len(),
            many.div_ceil(10),
            "another employee's notifications are theirs to keep"
        );
    }

    #[test]
    fn follows_markers_notifications_and_settings_round_trip() {
        let dir = crate::store::private_tempdir();
        let t = DocId::parse("t-0123456789abcdef0123456789abcdef").unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            s.set_thread_follow("ana", &t, true).unwrap();
            s.set_thread_follow("bob", &t, false).unwrap();
            s.set_person_follow("ana", "bob", true).unwrap();
            s.mark_read("ana", &t, 50).unwrap();
            s.mark_read("ana", &t, 40).unwrap();
            for i in 0..3 {
                s.add_notification("ana", notice(&format!("n{i}"))).unwrap();
            }
            s.add_notification("anab", notice("other")).unwrap();
            s.put_settings(
                "ana",
                &Settings {
                    charter: Some("abc".into()),
                    read_before: 7,
                    calendar_token: None,
                    feed_token: None,
                    ..Settings::default()
                },
            )
            .unwrap();
            s.flush().unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.thread_followers(&t).unwrap(), vec!["ana".to_owned()]);
        assert_eq!(s.thread_follow("bob", &t).unwrap(), Some(false));
        assert_eq!(s.thread_follow("cid", &t).unwrap(), None);
        assert_eq!(s.followed_threads("ana").unwrap(), vec![t.clone()]);
        assert_eq!(s.followed_people("ana").unwrap(), vec!["bob".to_owned()]);
        assert_eq!(
            s.read_marker("ana", &t).unwrap(),
            Some(50),
            "never moves back"
        );
        let ns = s.notifications("ana", None, 10).unwrap();
        let titles: Vec<&str> = ns.iter().map(|n| n.title.as_str()).collect();
        assert_eq!(titles, ["n2", "n1", "n0"], "newest first, only ana's");
        assert_eq!(s.unread_notifications("ana").unwrap(), 3);
        assert_eq!(s.mark_notifications_read("ana", Some(ns[1].id)).unwrap(), 2);
        assert_eq!(s.unread_notifications("ana").unwrap(), 1);
        let older = s.notifications("ana", Some(ns[0].id), 10).unwrap();
        assert_eq!(older.len(), 2);
        assert_eq!(s.settings("ana").unwrap().charter.as_deref(), Some("abc"));
        assert!(!s.has_settings("bob").unwrap());
        s.set_person_follow("ana", "bob", false).unwrap();
        assert!(s.followed_people("ana").unwrap().is_empty());
    }
}

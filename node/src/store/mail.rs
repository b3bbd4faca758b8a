//! The mail queue, in the `personal` tree: each mail to send is a record keyed by when it is
//! due, written in the same commit as what causes it (a notification, a digest's schedule).
//!
//! **At most once.** Before a mail is handed to the SMTP server its record is marked
//! `sending` and flushed; it is removed once the server accepted it, or put back (with a
//! later due time) if the server could not be reached or refused it before accepting. A
//! node that stops between the two finds `sending` records at start and drops them
//! ([`Store::drop_unsent_mail`]): the mail may have left, so it is not sent again — a mail
//! is never sent twice, at the cost of possibly losing one at a crash.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, io, maps};

/// What a queued mail is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailWhat {
    /// The notification with this id, if still unseen when due.
    Notice(u64),
    /// The employee's digest (daily or weekly, as their settings say when it is due); the
    /// next one is scheduled when it is sent.
    Digest,
    /// A digest the employee asked for now (nothing scheduled after it).
    DigestNow,
}

/// A queued mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailJob {
    pub employee: String,
    pub what: MailWhat,
    /// When it was handed to the SMTP server (ms), if it was.
    #[serde(default)]
    pub sending: Option<i64>,
    /// Failed attempts so far.
    #[serde(default)]
    pub attempts: u32,
}

/// A queued mail's place in the queue (its record's key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailKey(Vec<u8>);

impl MailKey {
    fn new(due: i64, seq: u64) -> MailKey {
        let mut k = b"ml\0".to_vec();
        // Due times are after 1970: as u64 they sort as the times do.
        k.extend_from_slice(&(due.max(0) as u64).to_be_bytes());
        k.push(0);
        k.extend_from_slice(&seq.to_be_bytes());
        MailKey(k)
    }

    /// A key as the queue would make it (for tests of what uses keys).
    #[cfg(test)]
    pub fn for_tests(due: i64, seq: u64) -> MailKey {
        MailKey::new(due, seq)
    }

    /// When it is due (ms).
    pub fn due(&self) -> i64 {
        self.0
            .get(3..11)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, |b| u64::from_be_bytes(b) as i64)
    }

    /// A name for the mail that stays the same for its whole life (its `Message-ID`).
    pub fn id(&self) -> String {
        weft_keys::to_hex(&self.0[3..])
    }
}

fn corrupt(reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        tree: maps::PERSONAL,
        reason: reason.to_string(),
    }
}

/// The key of `employee`'s scheduled digest's index entry.
fn digest_index(employee: &str) -> Vec<u8> {
    let mut k = b"md\0".to_vec();
    k.extend_from_slice(employee.as_bytes());
    k
}

impl Store {
    /// Queues `job`, due at `due` (ms); returns its key.
    pub fn queue_mail(&self, job: &MailJob, due: i64) -> Result<MailKey, StoreError> {
        let key = MailKey::new(due, self.next_id()?);
        let v = serde_json::to_vec(job).map_err(corrupt)?;
        self.personal
            .insert(&key.0, v)
            .map_err(io("queueing a mail"))?;
        if job.what == MailWhat::Digest {
            self.personal
                .insert(digest_index(&job.employee), key.0.as_slice())
                .map_err(io("queueing a mail"))?;
        }
        Ok(key)
    }

    /// Mails due at `now` or before, not being sent, the oldest first (at most `limit`).
    pub fn due_mail(&self, now: i64, limit: usize) -> Result<Vec<(MailKey, MailJob)>, StoreError> {
        let mut out = Vec::new();
        let end = MailKey::new(now.saturating_add(1), 0);
        for item in self.personal.range(b"ml\0".to_vec()..end.0) {
            let (k, v) = item.map_err(io("reading the mail queue"))?;
            let job: MailJob = match serde_json::from_slice(&v) {
                Ok(j) => j,
                Err(e) => {
                    // A record no build wrote: dropped, not retried forever.
                    tracing::warn!(error = %e, "an unreadable mail record was dropped");
                    self.personal
                        .remove(k)
                        .map_err(io("dropping a mail record"))?;
                    continue;
                }
            };
            if job.sending.is_none() {
                out.push((MailKey(k.to_vec()), job));
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Marks a mail as about to be handed to the SMTP server at `now`. The caller flushes
    /// before handing it over.
    pub fn mail_sending(&self, key: &MailKey, job: &MailJob, now: i64) -> Result<(), StoreError> {
        let mut job = job.clone();
        job.sending = Some(now);
        let v = serde_json::to_vec(&job).map_err(corrupt)?;
        self.personal
            .insert(&key.0, v)
            .map_err(io("marking a mail sent"))?;
        Ok(())
    }

    /// Removes a mail from the queue (sent, or no longer to send).
    pub fn mail_done(&self, key: &MailKey) -> Result<(), StoreError> {
        self.personal
            .remove(&key.0)
            .map_err(io("removing a mail"))?;
        Ok(())
    }

    /// Puts a mail back in the queue, due at `due` (the server could not take it).
    pub fn mail_later(
        &self,
        key: &MailKey,
        job: &MailJob,
        due: i64,
    ) -> Result<MailKey, StoreError> {
        self.mail_done(key)?;
        let mut job = job.clone();
        job.sending = None;
        job.attempts += 1;
        self.queue_mail(&job, due)
    }

    /// Drops the mails a previous run handed to the SMTP server without learning whether it
    /// accepted them (see the module's documentation); returns how many.
    pub fn drop_unsent_mail(&self) -> Result<usize, StoreError> {
        let mut dropped = 0;
        for item in self.personal.scan_prefix(b"ml\0") {
            let (k, v) = item.map_err(io("reading the mail queue"))?;
            let sending = serde_json::from_slice::<MailJob>(&v)
                .map(|j| j.sending.is_some())
                .unwrap_or(false);
            if sending {
                self.personal
                    .remove(k)
                    .map_err(io("dropping a mail record"))?;
                dropped += 1;
            }
        }
        Ok(dropped)
    }

    /// How many mails are queued (sending or not).
    pub fn queued_mail(&self) -> usize {
        self.personal.scan_prefix(b"ml\0").count()
    }

    /// The due time of `employee`'s scheduled digest, if one is queued.
    pub fn scheduled_digest(&self, employee: &str) -> Result<Option<i64>, StoreError> {
        let Some(k) = self
            .personal
            .get(digest_index(employee))
            .map_err(io("reading the mail queue"))?
        else {
            return Ok(None);
        };
        let present = self
            .personal
            .get(&k)
            .map_err(io("reading the mail queue"))?
            .is_some();
        Ok(present.then(|| MailKey(k.to_vec()).due()))
    }

    /// Removes `employee`'s scheduled digest, if any.
    pub fn unschedule_digest(&self, employee: &str) -> Result<(), StoreError> {
        if let Some(k) = self
            .personal
            .remove(digest_index(employee))
            .map_err(io("removing a digest"))?
        {
            self.personal.remove(k).map_err(io("removing a digest"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn job(who: &str, n: u64) -> MailJob {
        MailJob {
            employee: who.into(),
            what: MailWhat::Notice(n),
            sending: None,
            attempts: 0,
        }
    }

    #[test]
    fn mails_come_due_in_order_and_one_being_sent_is_never_sent_again_after_a_restart() {
        let dir = crate::store::private_tempdir();
        let s = Store::open(dir.path()).unwrap();
        s.queue_mail(&job("ana", 1), 3_000).unwrap();
        s.queue_mail(&job("bo", 2), 1_000).unwrap();
        s.queue_mail(&job("cy", 3), 9_000).unwrap();
        let due = s.due_mail(5_000, 10).unwrap();
        let who: Vec<&str> = due.iter().map(|(_, j)| j.employee.as_str()).collect();
        assert_eq!(who, ["bo", "ana"]);
        assert_eq!(due[0].0.due(), 1_000);
        // bo's is handed to the server; ana's could not be and waits.
        s.mail_sending(&due[0].0, &due[0].1, 5_000).unwrap();
        s.flush().unwrap();
        s.mail_later(&due[1].0, &due[1].1, 7_000).unwrap();
        assert!(s.due_mail(5_000, 10).unwrap().is_empty());
        let later = s.due_mail(8_000, 10).unwrap();
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].1.attempts, 1);
        drop(s);
        // A restart: the mail that was being sent is dropped, the others stay.
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.drop_unsent_mail().unwrap(), 1);
        let all = s.due_mail(i64::MAX - 1, 10).unwrap();
        let who: Vec<&str> = all.iter().map(|(_, j)| j.employee.as_str()).collect();
        assert_eq!(who, ["ana", "cy"]);
        s.mail_done(&all[0].0).unwrap();
        assert_eq!(s.queued_mail(), 1);
    }

    #[test]
    fn a_digest_is_scheduled_once_per_employee() {
        let dir = crate::store::private_tempdir();
        let s = Store::open(dir.path()).unwrap();
        let digest = MailJob {
            employee: "ana".into(),
            what: MailWhat::Digest,
            sending: None,
            attempts: 0,
        };
        s.queue_mail(&digest, 4_000).unwrap();
        assert_eq!(s.scheduled_digest("ana").unwrap(), Some(4_000));
        s.unschedule_digest("ana").unwrap();
        assert_eq!(s.scheduled_digest("ana").unwrap(), None);
        assert_eq!(s.queued_mail(), 0);
    }
}

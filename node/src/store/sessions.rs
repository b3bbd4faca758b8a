//! The `sessions` tree: the web sessions of this site's employees, so that a restart logs
//! nobody out. Only a digest of each session's token is kept (see `maps.rs`): a copy of the
//! store gives no usable session.

use super::{Store, StoreError, io, maps};

/// A session as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionRecord {
    /// The employee logged in.
    pub employee: String,
    /// When the session started (ms since the epoch): it ends a fixed time after, used or not.
    pub created: i64,
    /// When it was last used (ms), as last written: it ends after a while unused.
    pub last_used: i64,
}

fn corrupt(reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        tree: maps::SESSIONS,
        reason: reason.to_string(),
    }
}

impl Store {
    /// Records (or updates) the session whose token has digest `digest`. Not durable until
    /// [`Store::flush`].
    pub fn put_session(&self, digest: &[u8; 32], s: &SessionRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(s).map_err(corrupt)?;
        self.sessions
            .insert(digest, bytes)
            .map_err(io("storing a session"))?;
        Ok(())
    }

    /// Forgets one session.
    pub fn remove_session(&self, digest: &[u8; 32]) -> Result<(), StoreError> {
        self.sessions
            .remove(digest)
            .map_err(io("removing a session"))?;
        Ok(())
    }

    /// Every stored session, by digest. A record that cannot be read is skipped (and
    /// removed): it can only log someone out.
    pub fn sessions(&self) -> Result<Vec<([u8; 32], SessionRecord)>, StoreError> {
        let mut out = Vec::new();
        for item in self.sessions.iter() {
            let (k, v) = item.map_err(io("reading sessions"))?;
            match (
                <[u8; 32]>::try_from(k.as_ref()),
                serde_json::from_slice::<SessionRecord>(&v),
            ) {
                (Ok(d), Ok(s)) => out.push((d, s)),
                _ => {
                    tracing::warn!("an unreadable session record was dropped");
                    self.sessions.remove(k).map_err(io("removing a session"))?;
                }
            }
        }
        Ok(out)
    }

    /// Ends every session of `employee` (a new password, someone who left); returns how many
    /// there were. Not durable until [`Store::flush`].
    pub fn end_sessions_of(&self, employee: &str) -> Result<usize, StoreError> {
        let mut ended = 0;
        for (d, s) in self.sessions()? {
            if s.employee == employee {
                self.remove_session(&d)?;
                ended += 1;
            }
        }
        Ok(ended)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn sessions_are_kept_by_digest_and_end_per_employee() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let rec = |who: &str| SessionRecord {
            employee: who.into(),
            created: 1,
            last_used: 2,
        };
        store.put_session(&[1; 32], &rec("hdupre")).unwrap();
        store.put_session(&[2; 32], &rec("hdupre")).unwrap();
        store.put_session(&[3; 32], &rec("cmartin")).unwrap();
        store.flush().unwrap();
        drop(store);
        let store = Store::open(&dir.path().join("store")).unwrap();
        assert_eq!(store.sessions().unwrap().len(), 3);
        assert_eq!(store.end_sessions_of("hdupre").unwrap(), 2);
        let left = store.sessions().unwrap();
        assert_eq!(left, vec![([3; 32], rec("cmartin"))]);
        store.remove_session(&[3; 32]).unwrap();
        assert!(store.sessions().unwrap().is_empty());
    }
}

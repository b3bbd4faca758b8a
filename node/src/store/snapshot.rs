//! What makes start-up fast: each document's summary (heads, clock, group, count) and each
//! profile's searchable words, kept with the changes, so that a restart replays only the
//! group documents and what changed after the last mark instead of every change.
//!
//! Both are valid up to `meta`'s `read_models_at` mark, like the thread summaries: they are
//! written in the same flush as the changes they cover, the mark last.
//!
//! Groups have a [`GroupRecord`] instead, written now and then rather than at every commit
//! (a group of thousands of members and threads is megabytes): a record is valid while it
//! counts as many changes as the store holds for its group, and a group whose record is
//! missing, unreadable or behind is replayed from its changes.

use automerge::ChangeHash;
use weft_crdt::{DocId, DocSummary, GroupView};
use weft_keys::KeyId;

use super::{Store, StoreError, io, maps};

/// The encoding's version (its first byte).
const SUMMARY_V1: u8 = 1;

impl Store {
    /// Stores a document's summary.
    pub fn put_doc_summary(&self, doc: &DocId, s: &DocSummary) -> Result<(), StoreError> {
        self.summaries
            .insert(doc.as_str(), encode_summary(s))
            .map_err(io("storing a document summary"))?;
        Ok(())
    }

    /// Every stored document summary. An unreadable one is an error naming the document.
    pub fn doc_summaries(
        &self,
    ) -> impl Iterator<Item = Result<(DocId, DocSummary), StoreError>> + '_ {
        self.summaries.iter().map(|r| {
            let (k, v) = r.map_err(io("reading document summaries"))?;
            let corrupt = |reason: String| StoreError::Corrupt {
                tree: maps::SUMMARIES,
                reason,
            };
            let id = doc_key(&k, maps::SUMMARIES)?;
            let s = decode_summary(&v).ok_or_else(|| corrupt(format!("summary of {id}")))?;
            Ok((id, s))
        })
    }

    /// Stores what an employee's profile says (JSON, from the read model).
    pub fn put_profile_words(&self, employee: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.profiles
            .insert(employee, bytes)
            .map_err(io("storing profile words"))?;
        Ok(())
    }

    /// Every stored profile record: (employee, JSON).
    pub fn profile_words(
        &self,
    ) -> impl Iterator<Item = Result<(String, Vec<u8>), StoreError>> + '_ {
        self.profiles.iter().map(|r| {
            let (k, v) = r.map_err(io("reading profile words"))?;
            let who = String::from_utf8(k.to_vec()).map_err(|_| StoreError::Corrupt {
                tree: maps::PROFILES,
                reason: "key is not UTF-8".into(),
            })?;
            Ok((who, v.to_vec()))
        })
    }

    /// Every document that holds changes.
    pub fn doc_ids(&self) -> impl Iterator<Item = Result<DocId, StoreError>> + '_ {
        self.doc_change_counts().map(|r| r.map(|(id, _)| id))
    }

    /// The documents that hold a change stored after change `seq`.
    pub fn docs_changed_after(
        &self,
        seq: u64,
    ) -> Result<std::collections::HashSet<DocId>, StoreError> {
        self.docs_in_log_after(seq)
    }
}

/// The group records' encoding version (their first byte).
/// 2: group views carry `merged_into` (records of 1 are replayed from their changes).
const GROUP_VERSION: u8 = 2;

/// What start-up needs of a group without reading its history: its summary (for sync and
/// for telling whether the record is current), its view (the read model, and who may hold
/// it) and the heads the read model was made at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub summary: DocSummary,
    pub view: GroupView,
    pub all_company_marker: bool,
    pub view_heads: Vec<ChangeHash>,
}

impl Store {
    /// Stores a group's record (not durable until the next flush).
    pub fn put_group_record(&self, group: &DocId, r: &GroupRecord) -> Result<(), StoreError> {
        let bytes = encode_group(r).map_err(|e| StoreError::Corrupt {
            tree: maps::GROUPS,
            reason: format!("record of {group} not encodable: {e}"),
        })?;
        self.groups
            .insert(group.as_str(), bytes)
            .map_err(io("storing a group record"))?;
        Ok(())
    }

    /// Every stored group record, each `Err` naming the group whose record is unreadable
    /// (that group is then replayed).
    #[allow(clippy::type_complexity)]
    pub fn group_records(
        &self,
    ) -> impl Iterator<Item = Result<(DocId, Result<GroupRecord, String>), StoreError>> + '_ {
        self.groups.iter().map(|r| {
            let (k, v) = r.map_err(io("reading group records"))?;
            Ok((doc_key(&k, maps::GROUPS)?, decode_group(&v)))
        })
    }

    /// How many changes each document holds (from the per-document counts).
    pub fn doc_change_counts(&self) -> impl Iterator<Item = Result<(DocId, u64), StoreError>> + '_ {
        self.docs.iter().map(|r| {
            let (k, v) = r.map_err(io("reading documents"))?;
            Ok((doc_key(&k, maps::DOCS)?, super::decode_counts(&v).0))
        })
    }
}

/// A key that is a document id, in `tree`.
fn doc_key(k: &[u8], tree: &'static str) -> Result<DocId, StoreError> {
    std::str::from_utf8(k)
        .ok()
        .and_then(|s| DocId::parse(s).ok())
        .ok_or_else(|| StoreError::Corrupt {
            tree,
            reason: "key is not a document id".into(),
        })
}

/// `v1`, u32 big-endian length of the summary, the summary (as [`encode_summary`]), then
/// postcard of (marker, view heads, view).
fn encode_group(r: &GroupRecord) -> Result<Vec<u8>, postcard::Error> {
    let summary = encode_summary(&r.summary);
    let heads: Vec<[u8; 32]> = r.view_heads.iter().map(|h| h.0).collect();
    let tail = postcard::to_stdvec(&(r.all_company_marker, heads, &r.view))?;
    let mut out = Vec::with_capacity(1 + 4 + summary.len() + tail.len());
    out.push(GROUP_VERSION);
    out.extend_from_slice(&(summary.len() as u32).to_be_bytes());
    out.extend_from_slice(&summary);
    out.extend_from_slice(&tail);
    Ok(out)
}

fn decode_group(v: &[u8]) -> Result<GroupRecord, String> {
    let mut r = Reader(v);
    if r.take(1) != Some(&[GROUP_VERSION][..]) {
        return Err("unknown record version".into());
    }
    let n = r
        .take(4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .ok_or("record cut short")? as usize;
    let summary = r
        .take(n)
        .and_then(decode_summary)
        .ok_or("summary unreadable")?;
    let (all_company_marker, heads, view): (bool, Vec<[u8; 32]>, GroupView) =
        postcard::from_bytes(r.0).map_err(|e| format!("view unreadable: {e}"))?;
    if view.id.kind() != weft_crdt::DocKind::Group {
        return Err("not a group's view".into());
    }
    Ok(GroupRecord {
        summary,
        view,
        all_company_marker,
        view_heads: heads.into_iter().map(ChangeHash).collect(),
    })
}

/// `v1`, u16 head count, heads (32 bytes each), u16 author count, (key id 16 bytes, u64
/// count) each, u16 group id length (0: none) and id, u64 change count; integers big-endian.
fn encode_summary(s: &DocSummary) -> Vec<u8> {
    let group = s.group.as_ref().map_or("", |g| g.as_str());
    let mut out = Vec::with_capacity(
        1 + 2 + 32 * s.heads.len() + 2 + 24 * s.clock.len() + 2 + group.len() + 8,
    );
    out.push(SUMMARY_V1);
    out.extend_from_slice(&(s.heads.len() as u16).to_be_bytes());
    for h in &s.heads {
        out.extend_from_slice(&h.0);
    }
    out.extend_from_slice(&(s.clock.len() as u16).to_be_bytes());
    for (k, n) in &s.clock {
        out.extend_from_slice(&k.0);
        out.extend_from_slice(&n.to_be_bytes());
    }
    out.extend_from_slice(&(group.len() as u16).to_be_bytes());
    out.extend_from_slice(group.as_bytes());
    out.extend_from_slice(&s.changes.to_be_bytes());
    out
}

/// Reads bytes off the front of a slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u16(&mut self) -> Option<usize> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?) as usize)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
}

fn decode_summary(v: &[u8]) -> Option<DocSummary> {
    let mut r = Reader(v);
    if r.take(1)? != [SUMMARY_V1] {
        return None;
    }
    let n = r.u16()?;
    let mut heads = Vec::with_capacity(n);
    for _ in 0..n {
        heads.push(ChangeHash(r.take(32)?.try_into().ok()?));
    }
    let n = r.u16()?;
    let mut clock = Vec::with_capacity(n);
    for _ in 0..n {
        let k = KeyId(r.take(16)?.try_into().ok()?);
        clock.push((k, r.u64()?));
    }
    let n = r.u16()?;
    let group = match n {
        0 => None,
        n => Some(DocId::parse(std::str::from_utf8(r.take(n)?).ok()?).ok()?),
    };
    let changes = r.u64()?;
    r.0.is_empty().then_some(DocSummary {
        heads,
        clock,
        group,
        changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_round_trips_and_damage_is_refused() {
        let s = DocSummary {
            heads: vec![ChangeHash([7; 32]), ChangeHash([9; 32])],
            clock: vec![(KeyId([1; 16]), 3), (KeyId([2; 16]), 40)],
            group: Some(DocId::parse("g-0123456789abcdef0123456789abcdef").unwrap()),
            changes: 43,
        };
        let bytes = encode_summary(&s);
        assert_eq!(decode_summary(&bytes), Some(s.clone()));
        let none = DocSummary {
            group: None,
            ..s.clone()
        };
        assert_eq!(decode_summary(&encode_summary(&none)), Some(none));
        for cut in 0..bytes.len() {
            assert_eq!(decode_summary(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode_summary(&longer), None);
        let mut other = bytes;
        other[0] = 2;
        assert_eq!(decode_summary(&other), None);
    }

    #[test]
    fn a_group_record_round_trips_and_damage_is_refused() {
        let id = DocId::parse("g-0123456789abcdef0123456789abcdef").unwrap();
        let r = GroupRecord {
            summary: DocSummary {
                heads: vec![ChangeHash([5; 32])],
                clock: vec![(KeyId([1; 16]), 12)],
                group: None,
                changes: 12,
            },
            view: GroupView {
                id: id.clone(),
                name: "Club photo".into(),
                description: "Argentique et numérique".into(),
                visibility: weft_crdt::Visibility::Private,
                created_by: "hdupre".into(),
                created_at: 1_700_000_000_000,
                home_site: "paris".into(),
                owners: vec!["hdupre".into()],
                members: vec!["hdupre".into(), "jsmith".into()],
                invitations: vec!["mrossi".into()],
                requests: [("akim".to_owned(), "Je peux ?".to_owned())].into(),
                threads: [(
                    DocId::parse("t-00000000000000000000000000000001").unwrap(),
                    "Sortie".to_owned(),
                )]
                .into(),
                merged_into: Some(DocId::parse("g-00000000000000000000000000000002").unwrap()),
            },
            all_company_marker: false,
            view_heads: vec![ChangeHash([5; 32])],
        };
        let bytes = encode_group(&r).unwrap();
        assert_eq!(decode_group(&bytes), Ok(r.clone()));
        for cut in 0..bytes.len() {
            assert!(decode_group(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut other = bytes.clone();
        other[0] = 9;
        assert!(decode_group(&other).is_err());

        // Stored and read back, beside the counts that say whether it is current.
        let dir = crate::store::private_tempdir();
        let st = Store::open(dir.path()).unwrap();
        st.put_group_record(&id, &r).unwrap();
        st.append_changes([(&id, &b"one"[..])]).unwrap();
        let all: Vec<_> = st.group_records().map(Result::unwrap).collect();
        assert_eq!(all, vec![(id.clone(), Ok(r))]);
        let counts: Vec<_> = st.doc_change_counts().map(Result::unwrap).collect();
        assert_eq!(counts, vec![(id, 1)]);
    }

    #[test]
    fn summaries_and_changed_documents_survive_reopening() {
        let dir = crate::store::private_tempdir();
        let a = DocId::parse("g-0123456789abcdef0123456789abcdef").unwrap();
        let b = DocId::profile("hdupre");
        let s = DocSummary {
            heads: vec![ChangeHash([3; 32])],
            clock: vec![(KeyId([4; 16]), 1)],
            group: None,
            changes: 1,
        };
        {
            let st = Store::open(dir.path()).unwrap();
            let first = st.append_changes([(&a, &b"one"[..])]).unwrap().unwrap();
            let second = st.append_changes([(&b, &b"two"[..])]).unwrap().unwrap();
            st.put_doc_summary(&b, &s).unwrap();
            st.put_profile_words("hdupre", b"{}").unwrap();
            assert_eq!(
                st.docs_changed_after(first).unwrap(),
                [b.clone()].into_iter().collect()
            );
            assert!(st.docs_changed_after(second).unwrap().is_empty());
            st.flush().unwrap();
        }
        let st = Store::open(dir.path()).unwrap();
        let all: Vec<_> = st.doc_summaries().map(Result::unwrap).collect();
        assert_eq!(all, vec![(b, s)]);
        let words: Vec<_> = st.profile_words().map(Result::unwrap).collect();
        assert_eq!(words, vec![("hdupre".to_owned(), b"{}".to_vec())]);
    }
}

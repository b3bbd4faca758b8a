//! Signed changes: an Automerge change inside a [`weft_keys::Envelope`].
//!
//! The envelope's payload is one format byte followed by the raw Automerge change. The change's
//! commit message carries its [`Context`] (document, directory version, group heads), so the
//! change hash covers them. The envelope is signed in the [`Domain::CHANGE`] domain by the
//! author's key, whose [`weft_keys::KeyId`] is also the change's Automerge actor id.
//!
//! Decoding ([`SignedChange::decode`]) is bounded and never panics: sizes are checked against
//! the limits below before anything is allocated, compressed Automerge chunks (a zip-bomb risk)
//! are refused, and Automerge's own decoder, which can panic on crafted input, runs under
//! `catch_unwind`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use automerge::{Change, ChangeHash};
use weft_keys::{Domain, Envelope, EnvelopeError, KeyId, SecretKey, from_hex, to_hex};

use crate::ids::{BadDocId, DocId, DocKind, key_of_actor};

/// The largest signed change accepted, in bytes. A post is at most [`crate::MAX_BODY`] bytes of
/// Markdown plus a few fields; 256 KiB leaves room for that and bounds what a peer can make us
/// hold per change.
pub const MAX_CHANGE_BYTES: usize = 256 * 1024;
/// The most operations one change may carry. Weft's documents are maps of scalars, so a typical
/// change has 1-20 operations; 1,000 bounds the work of validating one change.
pub const MAX_OPS: usize = 1_000;
/// The most dependencies (heads) a change may name: concurrent branches merge quickly, so real
/// changes name a handful.
pub const MAX_DEPS: usize = 64;
/// The most other actors one change may reference.
pub const MAX_ACTORS: usize = 256;
/// The most group heads a thread change may name as its authorisation context.
pub const MAX_AUTH_HEADS: usize = 64;

/// The current payload format. A node parks (does not reject) a change of a newer format, so an
/// old node never disagrees with a newer one about a change it cannot understand yet.
pub const FORMAT: u8 = 1;

/// The authorisation context of a change: which document, which directory version, which
/// group heads. It is written into the Automerge change's *message*, so the change hash covers
/// it: one change hash means one context, and no one can re-wrap a change to claim another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The document; `None` for the genesis of a group or thread, whose id derives from the
    /// change's own hash.
    pub doc: Option<DocId>,
    /// The kind, needed for a genesis.
    pub kind: DocKind,
    /// The directory version the author's node held when signing. Receivers judge the
    /// author's certificate as of this version
    /// (see [`weft_keys::certs::verify_employee_cert_at`]).
    pub dir_version: u64,
    /// For thread changes: the heads of the group document the author was authorised against.
    pub auth_heads: Vec<ChangeHash>,
}

impl Context {
    /// The commit message that carries the context:
    /// `weft/1 <doc id | new-g | new-t> <dir version> <head hex>,<head hex>`.
    pub fn to_message(&self) -> String {
        let doc = match (&self.doc, self.kind) {
            (Some(d), _) => d.as_str().to_owned(),
            (None, DocKind::Group) => "new-g".to_owned(),
            (None, DocKind::Thread) => "new-t".to_owned(),
            (None, DocKind::Profile) => "new-p".to_owned(),
        };
        let heads: Vec<String> = self.auth_heads.iter().map(|h| to_hex(&h.0)).collect();
        format!(
            "weft/{FORMAT} {doc} {} {}",
            self.dir_version,
            heads.join(",")
        )
    }

    /// Parses a commit message; `hash` is the change's hash, for genesis ids.
    pub fn parse(message: &str, hash: &ChangeHash) -> Result<Context, DecodeError> {
        let bad = |why: &str| DecodeError::Payload(format!("change context: {why}"));
        let mut parts = message.split(' ');
        let format = parts
            .next()
            .and_then(|f| f.strip_prefix("weft/"))
            .and_then(|f| f.parse::<u8>().ok())
            .ok_or_else(|| bad("missing weft/ tag"))?;
        if format > FORMAT {
            return Err(DecodeError::NewerFormat(format));
        }
        let doc_text = parts.next().ok_or_else(|| bad("missing document"))?;
        let (doc, kind) = match doc_text {
            "new-g" => (DocId::from_genesis(DocKind::Group, hash), DocKind::Group),
            "new-t" => (DocId::from_genesis(DocKind::Thread, hash), DocKind::Thread),
            other => {
                let d = DocId::parse(other)?;
                let k = d.kind();
                (d, k)
            }
        };
        let dir_version = parts
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| bad("missing directory version"))?;
        let heads_text = parts.next().unwrap_or("");
        if parts.next().is_some() {
            return Err(bad("trailing fields"));
        }
        let mut auth_heads = Vec::new();
        for h in heads_text.split(',').filter(|h| !h.is_empty()) {
            if auth_heads.len() >= MAX_AUTH_HEADS {
                return Err(DecodeError::TooMany {
                    what: "authorisation heads",
                    count: auth_heads.len() + 1,
                    limit: MAX_AUTH_HEADS,
                });
            }
            let bytes: [u8; 32] = from_hex(h)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad("bad head"))?;
            auth_heads.push(ChangeHash(bytes));
        }
        Ok(Context {
            doc: Some(doc),
            kind,
            dir_version,
            auth_heads,
        })
    }
}

/// Why bytes are not a well-formed signed change. (Whether the change is *allowed* is decided
/// later, by [`crate::Replica::ingest`].)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error("change payload is malformed: {0}")]
    Payload(String),
    #[error("document id: {0}")]
    DocId(#[from] BadDocId),
    #[error("change format {0} is newer than this node understands ({FORMAT})")]
    NewerFormat(u8),
    #[error("automerge change is malformed: {0}")]
    Automerge(String),
    #[error("compressed automerge chunks are refused (unbounded inflation)")]
    Compressed,
    #[error("automerge change checksum does not match its content")]
    Checksum,
    #[error("{what}: {count} exceeds the limit of {limit}")]
    TooMany {
        what: &'static str,
        count: usize,
        limit: usize,
    },
    #[error("the change's actor is not the key that signed it")]
    ActorNotSigner,
}

/// A decoded signed change: framing, sizes and signature *shape* checked, nothing trusted yet.
#[derive(Clone)]
pub struct SignedChange {
    envelope: Arc<Envelope>,
    bytes: Arc<[u8]>,
    doc: DocId,
    dir_version: u64,
    auth_heads: Vec<ChangeHash>,
    change: Change,
    format: u8,
}

impl std::fmt::Debug for SignedChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SignedChange({} by {} in {}, seq {})",
            hex8(&self.hash()),
            self.author(),
            self.doc,
            self.change.seq()
        )
    }
}

pub(crate) fn hex8(h: &ChangeHash) -> String {
    to_hex(&h.0[..4])
}

impl SignedChange {
    /// Wraps a freshly made local change, whose message carries its [`Context`] and which
    /// was made under the actor of `key`'s id. The result is decoded from its own wire bytes
    /// by [`SignedChange::decode`], so a local change passes exactly the checks (sizes,
    /// operation and dependency limits, context) that a peer's decoder applies: a node can
    /// never accept from its own users what every other site would refuse as malformed.
    pub(crate) fn seal(
        key: &SecretKey,
        author: &str,
        change: Change,
    ) -> Result<SignedChange, DecodeError> {
        let mut body = Vec::with_capacity(1 + change.raw_bytes().len());
        body.push(FORMAT);
        body.extend_from_slice(change.raw_bytes());
        let envelope = Envelope::seal(Domain::CHANGE, key, author, &body);
        SignedChange::decode(&envelope.to_bytes())
    }

    /// Decodes untrusted bytes. Bounded, and never panics.
    pub fn decode(bytes: &[u8]) -> Result<SignedChange, DecodeError> {
        SignedChange::decode_with(bytes, &Limits::PEER)
    }

    /// Decodes a change from this node's own store. The size of the whole change is still
    /// bounded, but not its count of operations, dependencies and actors: those limits bound
    /// the work a *peer* can make us do, and a stored change was accepted by this node
    /// already — possibly by an older build that did not check them when its own users
    /// wrote it. Refusing it now would hide every later change that depends on it, which this
    /// node has acknowledged to its users (see `Replica::ingest_stored`).
    pub fn decode_stored(bytes: &[u8]) -> Result<SignedChange, DecodeError> {
        SignedChange::decode_with(bytes, &Limits::STORED)
    }

    fn decode_with(bytes: &[u8], limits: &Limits) -> Result<SignedChange, DecodeError> {
        let envelope = Envelope::from_bytes(bytes, MAX_CHANGE_BYTES)?;
        let (format, raw) = envelope
            .payload()
            .split_first()
            .ok_or_else(|| DecodeError::Payload("empty payload".into()))?;
        let format = *format;
        if format > FORMAT {
            return Err(DecodeError::NewerFormat(format));
        }
        let change = decode_automerge(raw, limits)?;
        match key_of_actor(change.actor_id()) {
            Some(k) if k == envelope.key_id() => {}
            _ => return Err(DecodeError::ActorNotSigner),
        }
        let ctx = Context::parse(change.message().unwrap_or(""), &change.hash())?;
        Ok(SignedChange {
            envelope: Arc::new(envelope),
            bytes: bytes.into(),
            doc: ctx.doc.unwrap_or_else(|| DocId::profile("")),
            dir_version: ctx.dir_version,
            auth_heads: ctx.auth_heads,
            change,
            format,
        })
    }

    /// The wire bytes (what is stored and sent).
    pub fn bytes(&self) -> &Arc<[u8]> {
        &self.bytes
    }

    /// The envelope, for signature checks.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The envelope, shared (for checking signatures on other threads).
    pub(crate) fn shared_envelope(&self) -> Arc<Envelope> {
        self.envelope.clone()
    }

    /// The author's employee id, as claimed (verified at ingest).
    pub fn author(&self) -> &str {
        self.envelope.author()
    }

    /// The signing key's id (= the Automerge actor id).
    pub fn key_id(&self) -> KeyId {
        self.envelope.key_id()
    }

    pub fn doc(&self) -> &DocId {
        &self.doc
    }

    pub fn dir_version(&self) -> u64 {
        self.dir_version
    }

    pub fn auth_heads(&self) -> &[ChangeHash] {
        &self.auth_heads
    }

    /// The Automerge change.
    pub fn change(&self) -> &Change {
        &self.change
    }

    /// The Automerge change hash: the change's identity.
    pub fn hash(&self) -> ChangeHash {
        self.change.hash()
    }

    pub fn deps(&self) -> &[ChangeHash] {
        self.change.deps()
    }

    pub fn format(&self) -> u8 {
        self.format
    }

    /// When the author's node says the change was made (milliseconds since the Unix epoch,
    /// as signed). Nodes judge the author's standing as of that time (see
    /// [`crate::replica`]).
    pub fn time_ms(&self) -> i64 {
        self.change.timestamp()
    }
}

/// The per-change limits a decoder applies.
struct Limits {
    ops: usize,
    deps: usize,
    actors: usize,
}

impl Limits {
    /// Changes from peers (and local changes, which must pass what peers check).
    const PEER: Limits = Limits {
        ops: MAX_OPS,
        deps: MAX_DEPS,
        actors: MAX_ACTORS,
    };
    /// Changes read back from the node's own store.
    const STORED: Limits = Limits {
        ops: usize::MAX,
        deps: usize::MAX,
        actors: usize::MAX,
    };
}

/// Decodes a raw Automerge change chunk with the checks Automerge leaves out.
fn decode_automerge(raw: &[u8], limits: &Limits) -> Result<Change, DecodeError> {
    // Chunk header: magic (4) | checksum (4) | type (1) | leb128 length | data.
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    if raw.len() < 10 || raw[..4] != MAGIC {
        return Err(DecodeError::Automerge("not an automerge chunk".into()));
    }
    match raw[8] {
        1 => {}
        2 => return Err(DecodeError::Compressed),
        t => {
            return Err(DecodeError::Automerge(format!(
                "chunk type {t} is not a change"
            )));
        }
    }
    let change = catch_unwind(AssertUnwindSafe(|| Change::try_from(raw)))
        .map_err(|_| DecodeError::Automerge("decoder panicked".into()))?
        .map_err(|e| DecodeError::Automerge(e.to_string()))?;
    if raw[4..8] != change.hash().0[..4] {
        return Err(DecodeError::Checksum);
    }
    if change.len() > limits.ops {
        return Err(DecodeError::TooMany {
            what: "operations",
            count: change.len(),
            limit: MAX_OPS,
        });
    }
    if change.deps().len() > limits.deps {
        return Err(DecodeError::TooMany {
            what: "dependencies",
            count: change.deps().len(),
            limit: MAX_DEPS,
        });
    }
    if change.other_actor_ids().len() > limits.actors {
        return Err(DecodeError::TooMany {
            what: "actors",
            count: change.other_actor_ids().len(),
            limit: MAX_ACTORS,
        });
    }
    // Counters past 2^32 make Automerge panic in places that are not under our control.
    if change.max_op() >= u64::from(u32::MAX) {
        return Err(DecodeError::Automerge("operation counter too large".into()));
    }
    Ok(change)
}

#[cfg(test)]
mod tests {
    use automerge::transaction::{CommitOptions, Transactable};
    use automerge::{Automerge, ObjType, ROOT, ReadDoc};

    use super::*;

    /// A local change is held to the limits a peer's decoder applies: one over the operation
    /// limit cannot even be sealed (it would be accepted here and refused everywhere else).
    #[test]
    fn sealing_applies_the_peer_limits() {
        let key = SecretKey::from_seed(&[5; 32]);
        let make = |ops: usize| {
            let mut am = Automerge::new();
            am.set_actor(crate::ids::actor_of(key.public().id()));
            let ctx = Context {
                doc: None,
                kind: DocKind::Group,
                dir_version: 1,
                auth_heads: vec![],
            };
            let mut tx = am.transaction();
            let m = tx.put_object(ROOT, "m", ObjType::Map).unwrap();
            for i in 0..ops {
                tx.put(&m, format!("k{i}"), true).unwrap();
            }
            let (hash, _) = tx.commit_with(CommitOptions::default().with_message(ctx.to_message()));
            am.get_change_by_hash(&hash.unwrap()).unwrap()
        };
        assert!(SignedChange::seal(&key, "e0", make(10)).is_ok());
        let err = SignedChange::seal(&key, "e0", make(MAX_OPS + 100)).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::TooMany {
                    what: "operations",
                    ..
                }
            ),
            "{err}"
        );
    }
}

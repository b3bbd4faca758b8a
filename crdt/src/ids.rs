//! Document ids and kinds.

use std::fmt;

use automerge::ChangeHash;
use serde::{Deserialize, Serialize};

use weft_keys::{KeyId, to_hex};

/// What a document is. The kind is part of the id, so a receiver knows the write rules to apply
/// before it holds a single change of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DocKind {
    /// An employee's editable profile fields.
    Profile,
    /// A group: settings, owners, members, invitations, requests, thread index.
    Group,
    /// A thread in a group: posts, replies, reactions, moderation marks.
    Thread,
}

impl DocKind {
    fn prefix(self) -> &'static str {
        match self {
            DocKind::Profile => "p-",
            DocKind::Group => "g-",
            DocKind::Thread => "t-",
        }
    }
}

/// The longest document id accepted (profile ids embed an employee id, at most 128 bytes).
pub const MAX_DOC_ID: usize = 140;

/// A document id: `g-<32 hex>` for a group and `t-<32 hex>` for a thread, where the hex is the
/// first 16 bytes of the hash of the document's genesis change (so the id binds the document to
/// exactly one creating change, and nobody can mint a second "first change" for it); and
/// `p-<employee id>` for a profile.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DocId(String);

impl TryFrom<String> for DocId {
    type Error = BadDocId;
    fn try_from(s: String) -> Result<DocId, BadDocId> {
        DocId::parse(&s)
    }
}

impl From<DocId> for String {
    fn from(d: DocId) -> String {
        d.0
    }
}

/// Why a string is not a document id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a Weft document id")]
pub struct BadDocId(pub String);

impl DocId {
    /// The id of the group or thread whose genesis change has `hash`.
    pub fn from_genesis(kind: DocKind, hash: &ChangeHash) -> DocId {
        DocId(format!("{}{}", kind.prefix(), to_hex(&hash.0[..16])))
    }

    /// The id of an employee's profile.
    pub fn profile(employee: &str) -> DocId {
        DocId(format!("p-{employee}"))
    }

    /// Parses and checks an id.
    pub fn parse(s: &str) -> Result<DocId, BadDocId> {
        let bad = || BadDocId(s.chars().take(60).collect());
        if s.len() > MAX_DOC_ID || s.len() < 3 {
            return Err(bad());
        }
        let id = DocId(s.to_owned());
        // `get`, not slicing: the first two bytes may not end a character ("kʎ…").
        match s.get(..2).unwrap_or("") {
            "g-" | "t-" => {
                let hex = &s[2..];
                if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(bad());
                }
            }
            "p-" => {
                if s[2..].chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return Err(bad());
                }
            }
            _ => return Err(bad()),
        }
        Ok(id)
    }

    /// The document's kind.
    pub fn kind(&self) -> DocKind {
        match &self.0[..2] {
            "g-" => DocKind::Group,
            "t-" => DocKind::Thread,
            _ => DocKind::Profile,
        }
    }

    /// For a profile, the employee it belongs to.
    pub fn profile_owner(&self) -> Option<&str> {
        self.0.strip_prefix("p-")
    }

    /// Whether `hash` is this group's or thread's genesis change.
    pub fn is_genesis(&self, hash: &ChangeHash) -> bool {
        self.kind() != DocKind::Profile && DocId::from_genesis(self.kind(), hash) == *self
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocId({})", self.0)
    }
}

/// The Automerge actor id of a key: its [`KeyId`]. Binding actors to keys means no one can mint
/// a change under another author's (actor, seq).
pub fn actor_of(key: KeyId) -> automerge::ActorId {
    automerge::ActorId::from(&key.0[..])
}

/// The key id behind an actor id, if it has the right length.
pub fn key_of_actor(actor: &automerge::ActorId) -> Option<KeyId> {
    let bytes: [u8; 16] = actor.to_bytes().try_into().ok()?;
    Some(KeyId(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_do_not_start_with_ascii_are_refused_not_a_panic() {
        for s in ["kʎx", "ʎʎʎ", "é-0123", "p\u{0301}-x", "g-ʎ"] {
            assert!(DocId::parse(s).is_err(), "{s}");
        }
        assert_eq!(DocId::parse("p-hdupre").unwrap().kind(), DocKind::Profile);
    }
}

//! The sync protocol's messages and their framing.
//!
//! A frame is `version (u16 BE) | kind (u8) | body (postcard)`. A node speaks the lowest
//! version both sides support (exchanged in [`Message::Hello`]), and ignores message kinds it
//! does not know, so a newer node can talk to an older one. Every decoder is bounded: a frame
//! larger than [`MAX_FRAME`] is refused before decoding, and the collections inside are
//! checked against their own limits.

use automerge::ChangeHash;
use serde::{Deserialize, Serialize};

use super::ranges::{self, Range};
use crate::ids::DocId;

/// The protocol version this build speaks.
pub const PROTOCOL: u16 = 1;
/// The largest frame accepted: large enough for a bundle of changes, small enough that one
/// message cannot hold a node's memory hostage.
pub const MAX_FRAME: usize = 4 * 1024 * 1024;
/// Most documents in one [`Message::Heads`].
pub const MAX_DOCS_PER_MESSAGE: usize = 4096;
/// Most heads per document in a message.
pub const MAX_HEADS: usize = 256;
/// Most actors in a document clock in a message.
pub const MAX_CLOCK: usize = 65_536;
/// Most changes or certificates in one [`Message::Changes`].
pub const MAX_CHANGES_PER_MESSAGE: usize = 16_384;

/// One document's heads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocHeads {
    pub doc: DocId,
    pub heads: Vec<[u8; 32]>,
    /// The sender's exact summary of what it holds ([`crate::Doc::clock`]), sent when it
    /// lacks some of the receiver's changes: the receiver then sends exactly those.
    pub clock: Option<Vec<([u8; 16], u64)>>,
    /// Whether the receiver should answer with its own clock if it lacks some of these
    /// heads; false on the last answer, so summaries never bounce.
    pub reply: bool,
}

impl DocHeads {
    pub fn hashes(&self) -> Vec<ChangeHash> {
        self.heads.iter().map(|h| ChangeHash(*h)).collect()
    }
}

/// A sync message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// First message on a connection.
    Hello {
        protocol: u16,
        site: String,
        directory_version: u64,
    },
    /// A signed directory (sent when the peer's is older).
    Directory { signed: Vec<u8> },
    /// A round of range reconciliation over the documents both sides may hold.
    Ranges { ranges: Vec<Range> },
    /// Heads of documents found to differ.
    Heads { docs: Vec<DocHeads> },
    /// Signed changes (in a topological order) and the certificates of their authors' keys.
    Changes {
        certs: Vec<Vec<u8>>,
        changes: Vec<Vec<u8>>,
    },
    /// A request for specific changes of a document (missing dependencies).
    Need { doc: DocId, hashes: Vec<[u8; 32]> },
    /// A request for the certificates of keys.
    NeedCerts { keys: Vec<[u8; 16]> },
    /// The sender will not share this document with the receiver.
    Refused { doc: DocId },
    /// The sender has sent everything it will send of these documents in answer to the
    /// receiver's heads (in the frames before this one; possibly nothing): a fetch from it
    /// is over, and another peer may be asked for what it holds beyond.
    Answered { docs: Vec<DocId> },
    /// The sender received these changes (document and hash), pushed by their author's site:
    /// a receiver that lacks one a moment later asks the sender for it ([`Message::Need`]).
    /// Sent to near peers only (see `Config::repair_peers`).
    Have { changes: Vec<(DocId, [u8; 32])> },
}

#[derive(Serialize, Deserialize)]
struct HelloBody {
    protocol: u16,
    site: String,
    directory_version: u64,
}

#[derive(Serialize, Deserialize)]
struct ChangesBody {
    certs: Vec<Vec<u8>>,
    changes: Vec<Vec<u8>>,
}

#[derive(Serialize, Deserialize)]
struct NeedBody {
    doc: DocId,
    hashes: Vec<[u8; 32]>,
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    #[error("frame of {0} bytes exceeds the limit of {MAX_FRAME}")]
    TooLarge(usize),
    #[error("frame too short")]
    Truncated,
    #[error("unknown message kind {0} (from a newer node?)")]
    UnknownKind(u8),
    #[error("malformed {kind} message: {reason}")]
    Malformed { kind: &'static str, reason: String },
    #[error("{0}")]
    Limit(String),
}

const K_HELLO: u8 = 1;
const K_DIRECTORY: u8 = 2;
const K_RANGES: u8 = 3;
const K_HEADS: u8 = 4;
const K_CHANGES: u8 = 5;
const K_NEED: u8 = 6;
const K_NEED_CERTS: u8 = 7;
const K_REFUSED: u8 = 8;
const K_ANSWERED: u8 = 9;
const K_HAVE: u8 = 10;

fn body<T: Serialize>(v: &T) -> Vec<u8> {
    postcard::to_stdvec(v).unwrap_or_default()
}

fn decode<T: for<'de> Deserialize<'de>>(kind: &'static str, bytes: &[u8]) -> Result<T, FrameError> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((v, [])) => Ok(v),
        Ok((_, rest)) => Err(FrameError::Malformed {
            kind,
            reason: format!("{} trailing bytes", rest.len()),
        }),
        Err(e) => Err(FrameError::Malformed {
            kind,
            reason: e.to_string(),
        }),
    }
}

impl Message {
    /// The message's name, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Message::Hello { .. } => "hello",
            Message::Directory { .. } => "directory",
            Message::Ranges { .. } => "ranges",
            Message::Heads { .. } => "heads",
            Message::Changes { .. } => "changes",
            Message::Need { .. } => "need",
            Message::NeedCerts { .. } => "need_certs",
            Message::Refused { .. } => "refused",
            Message::Answered { .. } => "answered",
            Message::Have { .. } => "have",
        }
    }

    /// Encodes a frame.
    pub fn encode(&self) -> Vec<u8> {
        let (kind, b) = match self {
            Message::Hello {
                protocol,
                site,
                directory_version,
            } => (
                K_HELLO,
                body(&HelloBody {
                    protocol: *protocol,
                    site: site.clone(),
                    directory_version: *directory_version,
                }),
            ),
            Message::Directory { signed } => (K_DIRECTORY, body(signed)),
            Message::Ranges { ranges } => (K_RANGES, body(ranges)),
            Message::Heads { docs } => (K_HEADS, body(docs)),
            Message::Changes { certs, changes } => (
                K_CHANGES,
                body(&ChangesBody {
                    certs: certs.clone(),
                    changes: changes.clone(),
                }),
            ),
            Message::Need { doc, hashes } => (
                K_NEED,
                body(&NeedBody {
                    doc: doc.clone(),
                    hashes: hashes.clone(),
                }),
            ),
            Message::NeedCerts { keys } => (K_NEED_CERTS, body(keys)),
            Message::Refused { doc } => (K_REFUSED, body(doc)),
            Message::Answered { docs } => (K_ANSWERED, body(docs)),
            Message::Have { changes } => (K_HAVE, body(changes)),
        };
        let mut out = Vec::with_capacity(3 + b.len());
        out.extend_from_slice(&PROTOCOL.to_be_bytes());
        out.push(kind);
        out.extend_from_slice(&b);
        out
    }

    /// Decodes a frame from an untrusted peer. Bounded; never panics.
    pub fn decode(frame: &[u8]) -> Result<Message, FrameError> {
        if frame.len() > MAX_FRAME {
            return Err(FrameError::TooLarge(frame.len()));
        }
        if frame.len() < 3 {
            return Err(FrameError::Truncated);
        }
        let b = &frame[3..];
        let msg = match frame[2] {
            K_HELLO => {
                let h: HelloBody = decode("hello", b)?;
                if h.site.len() > 64 {
                    return Err(FrameError::Limit("site id too long".into()));
                }
                Message::Hello {
                    protocol: h.protocol,
                    site: h.site,
                    directory_version: h.directory_version,
                }
            }
            K_DIRECTORY => Message::Directory {
                signed: decode("directory", b)?,
            },
            K_RANGES => {
                let ranges: Vec<Range> = decode("ranges", b)?;
                ranges::validate(&ranges).map_err(|e| FrameError::Limit(e.to_string()))?;
                Message::Ranges { ranges }
            }
            K_HEADS => {
                let docs: Vec<DocHeads> = decode("heads", b)?;
                if docs.len() > MAX_DOCS_PER_MESSAGE
                    || docs.iter().any(|d| {
                        d.heads.len() > MAX_HEADS
                            || d.clock.as_ref().is_some_and(|c| c.len() > MAX_CLOCK)
                    })
                {
                    return Err(FrameError::Limit("too many documents or heads".into()));
                }
                for d in &docs {
                    DocId::parse(d.doc.as_str()).map_err(|e| FrameError::Limit(e.to_string()))?;
                }
                Message::Heads { docs }
            }
            K_CHANGES => {
                let c: ChangesBody = decode("changes", b)?;
                if c.changes.len() > MAX_CHANGES_PER_MESSAGE
                    || c.certs.len() > MAX_CHANGES_PER_MESSAGE
                {
                    return Err(FrameError::Limit("too many changes".into()));
                }
                Message::Changes {
                    certs: c.certs,
                    changes: c.changes,
                }
            }
            K_NEED => {
                let n: NeedBody = decode("need", b)?;
                DocId::parse(n.doc.as_str()).map_err(|e| FrameError::Limit(e.to_string()))?;
                if n.hashes.len() > MAX_CHANGES_PER_MESSAGE {
                    return Err(FrameError::Limit("too many hashes".into()));
                }
                Message::Need {
                    doc: n.doc,
                    hashes: n.hashes,
                }
            }
            K_NEED_CERTS => {
                let keys: Vec<[u8; 16]> = decode("need_certs", b)?;
                if keys.len() > MAX_CHANGES_PER_MESSAGE {
                    return Err(FrameError::Limit("too many keys".into()));
                }
                Message::NeedCerts { keys }
            }
            K_REFUSED => {
                let doc: DocId = decode("refused", b)?;
                DocId::parse(doc.as_str()).map_err(|e| FrameError::Limit(e.to_string()))?;
                Message::Refused { doc }
            }
            K_ANSWERED => {
                let docs: Vec<DocId> = decode("answered", b)?;
                if docs.len() > MAX_DOCS_PER_MESSAGE {
                    return Err(FrameError::Limit("too many documents".into()));
                }
                for d in &docs {
                    DocId::parse(d.as_str()).map_err(|e| FrameError::Limit(e.to_string()))?;
                }
                Message::Answered { docs }
            }
            K_HAVE => {
                let changes: Vec<(DocId, [u8; 32])> = decode("have", b)?;
                if changes.len() > MAX_CHANGES_PER_MESSAGE {
                    return Err(FrameError::Limit("too many changes".into()));
                }
                for (d, _) in &changes {
                    DocId::parse(d.as_str()).map_err(|e| FrameError::Limit(e.to_string()))?;
                }
                Message::Have { changes }
            }
            k => return Err(FrameError::UnknownKind(k)),
        };
        Ok(msg)
    }
}

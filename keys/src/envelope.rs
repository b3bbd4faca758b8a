//! Signed envelopes for arbitrary payloads.
//!
//! The crdt crate wraps every Automerge change in an [`Envelope`]: who wrote it (`author`, an
//! employee id), with which key (`key_id`, see [`KeyId`]), the payload, and a signature.
//!
//! # Encoding
//!
//! ```text
//! version (1 byte, = 1)
//! author length (u16 big-endian) | author (UTF-8)
//! key id (16 bytes)
//! payload length (u32 big-endian) | payload
//! signature (64 bytes)           — over everything above, in the envelope's domain
//! ```
//!
//! A hand-written, length-prefixed layout rather than a serde format, because it is trivially
//! deterministic and injective (no two field values give the same bytes), has no optional
//! parts, and can be checked against size limits before anything is allocated. The signature
//! covers the exact bytes that travel, preceded by the domain tag ([`crate::Domain`]).

use crate::certs::{CertError, EmployeeCert, verify_employee_cert_at};
use crate::directory::Directory;
use crate::key::{BadSignature, KeyId, PublicKey, SecretKey, Signature};
use crate::signed::{Domain, Signed};

/// The longest author id accepted: directory ids are short; this only bounds hostile input.
pub const MAX_AUTHOR_LEN: usize = 256;
/// The largest payload any envelope may carry. Users of envelopes set tighter limits of their
/// own (a CRDT change is far smaller); this is the hard ceiling of the format.
pub const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

const VERSION: u8 = 1;

/// A payload signed by an author's key.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Encoded fields, everything but the signature (the signed bytes).
    signed: Vec<u8>,
    author_len: usize,
    payload_start: usize,
    key_id: KeyId,
    signature: Signature,
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Envelope(author {}, key {}, {} bytes)",
            self.author(),
            self.key_id,
            self.payload().len()
        )
    }
}

/// Why bytes are not a valid envelope, or an envelope does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    #[error("envelope truncated: needed {needed} bytes, had {had}")]
    Truncated { needed: usize, had: usize },
    #[error("unsupported envelope version {0}")]
    UnsupportedVersion(u8),
    #[error("author id of {0} bytes is too long (limit {MAX_AUTHOR_LEN})")]
    AuthorTooLong(usize),
    #[error("author id is not UTF-8")]
    AuthorNotUtf8,
    #[error("payload of {size} bytes exceeds the limit of {limit}")]
    PayloadTooLarge { size: usize, limit: usize },
    #[error("{0} unexpected bytes after the envelope")]
    TrailingBytes(usize),
    #[error("envelope names key {named} but was checked against key {given}")]
    WrongKey { named: KeyId, given: KeyId },
    #[error("envelope signature does not verify (forged, altered, or made for another purpose)")]
    BadSignature,
    #[error("envelope author {author:?} does not match the certificate's employee {cert:?}")]
    AuthorMismatch { author: String, cert: String },
    #[error("author's key certificate: {0}")]
    Certificate(#[from] CertError),
}

impl Envelope {
    /// Signs `payload` as `author` with `key`, for `domain`.
    ///
    /// Panics only if the author id or payload exceed the format's limits, which is a bug in
    /// the caller (ids come from the directory, payloads from our own encoders).
    pub fn seal(domain: Domain, key: &SecretKey, author: &str, payload: &[u8]) -> Envelope {
        assert!(author.len() <= MAX_AUTHOR_LEN, "author id too long");
        assert!(payload.len() <= MAX_PAYLOAD, "payload too large");
        let key_id = key.public().id();
        let mut signed = Vec::with_capacity(1 + 2 + author.len() + 16 + 4 + payload.len());
        signed.push(VERSION);
        signed.extend_from_slice(&(author.len() as u16).to_be_bytes());
        signed.extend_from_slice(author.as_bytes());
        signed.extend_from_slice(&key_id.0);
        signed.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        let payload_start = signed.len();
        signed.extend_from_slice(payload);
        let signature = key.sign(domain, &signed);
        Envelope {
            signed,
            author_len: author.len(),
            payload_start,
            key_id,
            signature,
        }
    }

    /// The author's employee id, as the envelope claims it (checked by [`Envelope::verify_author`]).
    pub fn author(&self) -> &str {
        // Checked to be UTF-8 when built or decoded.
        std::str::from_utf8(&self.signed[3..3 + self.author_len]).unwrap_or("")
    }

    /// The id of the key that signed.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.signed[self.payload_start..]
    }

    /// The signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The bytes that the signature covers (without the domain prefix).
    pub fn signed_bytes(&self) -> &[u8] {
        &self.signed
    }

    /// Checks the signature with `key`, which must be the key the envelope names.
    pub fn verify(&self, domain: Domain, key: &PublicKey) -> Result<(), EnvelopeError> {
        let given = key.id();
        if given != self.key_id {
            return Err(EnvelopeError::WrongKey {
                named: self.key_id,
                given,
            });
        }
        key.verify(domain, &self.signed, &self.signature)
            .map_err(|BadSignature| EnvelopeError::BadSignature)
    }

    /// Checks everything about who wrote this: the certificate is valid under `dir` (the author
    /// is active and homed at the site whose node signed the certificate), the certificate is
    /// for the envelope's author, and the envelope's signature verifies with the certified key.
    pub fn verify_author(
        &self,
        domain: Domain,
        dir: &Directory,
        cert: &Signed<EmployeeCert>,
    ) -> Result<EmployeeCert, EnvelopeError> {
        self.verify_author_at(domain, dir, cert, dir.version)
    }

    /// Like [`Envelope::verify_author`], as of directory `version` (see
    /// [`crate::certs::verify_employee_cert_at`]).
    pub fn verify_author_at(
        &self,
        domain: Domain,
        dir: &Directory,
        cert: &Signed<EmployeeCert>,
        version: u64,
    ) -> Result<EmployeeCert, EnvelopeError> {
        let body = verify_employee_cert_at(dir, cert, version)?;
        if body.employee != self.author() {
            return Err(EnvelopeError::AuthorMismatch {
                author: self.author().to_owned(),
                cert: body.employee,
            });
        }
        self.verify(domain, &body.key)?;
        Ok(body)
    }

    /// The wire form: the signed bytes followed by the signature.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.signed.len() + 64);
        out.extend_from_slice(&self.signed);
        out.extend_from_slice(&self.signature.0);
        out
    }

    /// Parses the wire form, refusing payloads over `max_payload` (capped at [`MAX_PAYLOAD`])
    /// before allocating. Does not verify the signature.
    pub fn from_bytes(bytes: &[u8], max_payload: usize) -> Result<Envelope, EnvelopeError> {
        let max_payload = max_payload.min(MAX_PAYLOAD);
        let need = |needed: usize| {
            if bytes.len() < needed {
                Err(EnvelopeError::Truncated {
                    needed,
                    had: bytes.len(),
                })
            } else {
                Ok(())
            }
        };
        need(3)?;
        if bytes[0] != VERSION {
            return Err(EnvelopeError::UnsupportedVersion(bytes[0]));
        }
        let author_len = u16::from_be_bytes([bytes[1], bytes[2]]) as usize;
        if author_len > MAX_AUTHOR_LEN {
            return Err(EnvelopeError::AuthorTooLong(author_len));
        }
        need(3 + author_len + 16 + 4)?;
        std::str::from_utf8(&bytes[3..3 + author_len]).map_err(|_| EnvelopeError::AuthorNotUtf8)?;
        let mut key_id = [0u8; 16];
        key_id.copy_from_slice(&bytes[3 + author_len..3 + author_len + 16]);
        let len_at = 3 + author_len + 16;
        let payload_len = u32::from_be_bytes([
            bytes[len_at],
            bytes[len_at + 1],
            bytes[len_at + 2],
            bytes[len_at + 3],
        ]) as usize;
        if payload_len > max_payload {
            return Err(EnvelopeError::PayloadTooLarge {
                size: payload_len,
                limit: max_payload,
            });
        }
        let payload_start = len_at + 4;
        let total = payload_start + payload_len + 64;
        need(total)?;
        if bytes.len() > total {
            return Err(EnvelopeError::TrailingBytes(bytes.len() - total));
        }
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&bytes[total - 64..]);
        Ok(Envelope {
            signed: bytes[..total - 64].to_vec(),
            author_len,
            payload_start,
            key_id: KeyId(key_id),
            signature: Signature(signature),
        })
    }
}

//! Domain-separated signatures and the signed-object container.
//!
//! # What exactly is signed
//!
//! Every signature in Weft is over the bytes
//!
//! ```text
//! "weft-sig/v1" 0x00 <domain tag> 0x00 <body>
//! ```
//!
//! where the domain tag names the purpose (`directory/v1`, `site-cert/v1`, `change/v1`, …) and
//! contains no NUL byte, so two purposes can never produce the same signed message: a signature
//! made for one purpose never verifies for another.
//!
//! For structured objects ([`Signed`]) the body is the object's [postcard] encoding, and the
//! signature is checked over **the exact body bytes that travel**, never over a re-encoding.
//! postcard is deterministic for our types (fixed field order, `BTreeMap`s for maps, no floats),
//! compact, and decodes with bounded allocation; but because verifiers never re-encode, the
//! security does not even depend on that determinism: no canonicalisation step can disagree
//! between signer and verifier. Envelopes ([`crate::Envelope`]) use a hand-written
//! length-prefixed encoding for the same reason (see there).
//!
//! # Wire form of a signed object
//!
//! ```text
//! "weft" | format version (1) | kind (1) | signer key (32) | signature (64) | body length (u32 BE) | body
//! ```
//!
//! The kind byte lets a tool say "this is a site certificate, not a directory" instead of a
//! bare signature failure. Decoding checks every length against the input and against the kind's
//! maximum size before allocating anything.

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::key::{BadSignature, PublicKey, SecretKey, Signature};

/// The purpose a signature was made for. See the module docs for the signed bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Domain(&'static str);

impl Domain {
    /// A signed directory version.
    pub const DIRECTORY: Domain = Domain("directory/v1");
    /// A parent authority vouching for a subsidiary's authority.
    pub const CROSS_CERT: Domain = Domain("cross-cert/v1");
    /// An authority binding a node key to a site.
    pub const SITE_CERT: Domain = Domain("site-cert/v1");
    /// A node binding an employee key to an employee homed at its site.
    pub const EMPLOYEE_CERT: Domain = Domain("employee-cert/v1");
    /// A node key proving possession in its enrollment request.
    pub const ENROLL_REQUEST: Domain = Domain("enroll-request/v1");
    /// A CRDT change wrapped in an envelope.
    pub const CHANGE: Domain = Domain("change/v1");

    /// A domain for a new purpose. The tag must be unique to that purpose, contain no NUL byte,
    /// and end in a version (`thing/v1`).
    pub const fn custom(tag: &'static str) -> Domain {
        Domain(tag)
    }

    /// The tag, for messages.
    pub fn tag(&self) -> &'static str {
        self.0
    }

    /// The bytes actually signed for `body` in this domain.
    pub(crate) fn message(&self, body: &[u8]) -> Vec<u8> {
        const PREFIX: &[u8] = b"weft-sig/v1\0";
        let mut m = Vec::with_capacity(PREFIX.len() + self.0.len() + 1 + body.len());
        m.extend_from_slice(PREFIX);
        m.extend_from_slice(self.0.as_bytes());
        m.push(0);
        m.extend_from_slice(body);
        m
    }
}

/// A type that travels as a [`Signed`] object.
pub trait SignedKind: Serialize + DeserializeOwned {
    /// What the signature is for.
    const DOMAIN: Domain;
    /// The kind byte in the wire form.
    const KIND: u8;
    /// A human name, for errors ("directory", "site certificate").
    const NAME: &'static str;
    /// The largest body accepted, so that a decoder never allocates without bound.
    const MAX_BODY: usize;

    /// Decodes a body whose signature has been checked. The default is the postcard encoding
    /// of `Self` with nothing left over; a kind whose layout grew may also read its older
    /// layouts here (the signature covers the bytes, not the layout, so old signed objects
    /// stay valid).
    fn decode_body(body: &[u8]) -> Result<Self, String> {
        match postcard::take_from_bytes::<Self>(body) {
            Ok((value, [])) => Ok(value),
            Ok((_, rest)) => Err(format!("{} trailing bytes", rest.len())),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Why bytes are not a valid signed object of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignedError {
    #[error("not a Weft signed object (too short or wrong magic)")]
    NotSigned,
    #[error("unsupported signed-object format version {0} (this build reads version 1)")]
    UnsupportedFormat(u8),
    #[error("expected a {expected}, found a {found}")]
    WrongKind {
        expected: &'static str,
        found: &'static str,
    },
    #[error("declared body of {declared} bytes does not match the {actual} bytes present")]
    LengthMismatch { declared: usize, actual: usize },
    #[error("body of {size} bytes exceeds the limit of {limit} bytes for a {kind}")]
    TooLarge {
        kind: &'static str,
        size: usize,
        limit: usize,
    },
    #[error("signer key is invalid")]
    BadSignerKey,
    #[error("{0} signature does not verify (forged, altered, or made for another purpose)")]
    BadSignature(&'static str),
    #[error("{kind} body is malformed: {reason}")]
    Malformed { kind: &'static str, reason: String },
}

const MAGIC: &[u8; 4] = b"weft";
const FORMAT: u8 = 1;
const HEADER: usize = 4 + 1 + 1 + 32 + 64 + 4;

/// Names of the kind bytes, for [`SignedError::WrongKind`].
fn kind_name(kind: u8) -> &'static str {
    match kind {
        1 => "directory",
        2 => "cross-certificate",
        3 => "site certificate",
        4 => "employee certificate",
        5 => "enrollment request",
        _ => "unknown object",
    }
}

/// A value of type `T`, signed. Holds the exact body bytes that were signed.
pub struct Signed<T> {
    body: Vec<u8>,
    signer: PublicKey,
    signature: Signature,
    _kind: PhantomData<fn() -> T>,
}

impl<T> Clone for Signed<T> {
    fn clone(&self) -> Self {
        Signed {
            body: self.body.clone(),
            signer: self.signer,
            signature: self.signature,
            _kind: PhantomData,
        }
    }
}

impl<T> PartialEq for Signed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.body == other.body && self.signer == other.signer && self.signature == other.signature
    }
}

impl<T> Eq for Signed<T> {}

impl<T: SignedKind> fmt::Debug for Signed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Signed<{}>({} bytes by {})",
            T::NAME,
            self.body.len(),
            self.signer.short()
        )
    }
}

impl<T: SignedKind> Signed<T> {
    /// Signs `value` with `key`.
    pub fn sign(key: &SecretKey, value: &T) -> Signed<T> {
        // Serializing our own plain data types to a Vec cannot fail.
        let body = postcard::to_stdvec(value).unwrap_or_default();
        let signature = key.sign(T::DOMAIN, &body);
        Signed {
            body,
            signer: key.public(),
            signature,
            _kind: PhantomData,
        }
    }

    /// The key that signed. Whether that key is trusted is the caller's question.
    pub fn signer(&self) -> &PublicKey {
        &self.signer
    }

    /// Verifies the signature against the key it names and decodes the body. The caller must
    /// still decide whether [`Signed::signer`] is a key it trusts for this purpose.
    pub fn open(&self) -> Result<T, SignedError> {
        self.signer
            .verify(T::DOMAIN, &self.body, &self.signature)
            .map_err(|BadSignature| SignedError::BadSignature(T::NAME))?;
        self.decode_body()
    }

    /// Decodes the body **without checking the signature**: only for bytes this program
    /// verified before and kept where only it writes (a node's own store), whose check would
    /// only cost time again. Anything from elsewhere goes through [`Signed::open`].
    pub fn open_unverified(&self) -> Result<T, SignedError> {
        self.decode_body()
    }

    /// Verifies that `expected` signed this object, then decodes it.
    pub fn open_by(&self, expected: &PublicKey) -> Result<T, SignedError> {
        if &self.signer != expected {
            return Err(SignedError::BadSignature(T::NAME));
        }
        self.open()
    }

    fn decode_body(&self) -> Result<T, SignedError> {
        T::decode_body(&self.body).map_err(|reason| SignedError::Malformed {
            kind: T::NAME,
            reason,
        })
    }

    /// The wire form (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.body.len());
        out.extend_from_slice(MAGIC);
        out.push(FORMAT);
        out.push(T::KIND);
        out.extend_from_slice(&self.signer.to_bytes());
        out.extend_from_slice(&self.signature.0);
        // Bodies are bounded by MAX_BODY, far below u32::MAX.
        out.extend_from_slice(&(self.body.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.body);
        out
    }

    /// Parses the wire form. Checks the framing and sizes only: call [`Signed::open`] or
    /// [`Signed::open_by`] to verify the signature.
    pub fn from_bytes(bytes: &[u8]) -> Result<Signed<T>, SignedError> {
        if bytes.len() < HEADER || &bytes[..4] != MAGIC {
            return Err(SignedError::NotSigned);
        }
        if bytes[4] != FORMAT {
            return Err(SignedError::UnsupportedFormat(bytes[4]));
        }
        if bytes[5] != T::KIND {
            return Err(SignedError::WrongKind {
                expected: T::NAME,
                found: kind_name(bytes[5]),
            });
        }
        let signer = PublicKey::from_bytes(&bytes[6..38]).map_err(|_| SignedError::BadSignerKey)?;
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&bytes[38..102]);
        let mut len = [0u8; 4];
        len.copy_from_slice(&bytes[102..106]);
        let declared = u32::from_be_bytes(len) as usize;
        if declared > T::MAX_BODY {
            return Err(SignedError::TooLarge {
                kind: T::NAME,
                size: declared,
                limit: T::MAX_BODY,
            });
        }
        let body = &bytes[HEADER..];
        if body.len() != declared {
            return Err(SignedError::LengthMismatch {
                declared,
                actual: body.len(),
            });
        }
        Ok(Signed {
            body: body.to_vec(),
            signer,
            signature: Signature(signature),
            _kind: PhantomData,
        })
    }
}

impl<T: SignedKind> Serialize for Signed<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.to_bytes())
    }
}

impl<'de, T: SignedKind> serde::Deserialize<'de> for Signed<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: serde_bytes_buf::Buf = serde::Deserialize::deserialize(d)?;
        Signed::from_bytes(&bytes.0).map_err(serde::de::Error::custom)
    }
}

mod serde_bytes_buf {
    use std::fmt;

    /// A byte buffer that deserializes from serde `bytes` (postcard) or a sequence of u8 (JSON).
    pub(super) struct Buf(pub(super) Vec<u8>);

    impl<'de> serde::Deserialize<'de> for Buf {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Buf;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Buf, E> {
                    Ok(Buf(v.to_vec()))
                }
                fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Buf, E> {
                    Ok(Buf(v))
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> Result<Buf, A::Error> {
                    let mut v = Vec::new();
                    while let Some(b) = seq.next_element::<u8>()? {
                        v.push(b);
                    }
                    Ok(Buf(v))
                }
            }
            d.deserialize_bytes(V)
        }
    }
}

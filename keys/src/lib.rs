//! # weft-keys: who may say what
//!
//! This crate owns Weft's identities and everything signed about them:
//!
//! * [`SecretKey`] / [`PublicKey`] / [`KeyId`]: ed25519 keys, with ids that also serve as
//!   Automerge actor ids;
//! * [`Domain`] and [`Signed`]: domain-separated signatures over exact bytes, and the wire form
//!   of every signed object;
//! * [`authority`]: root authorities and cross-signed subsidiary authorities ([`TrustAnchors`]);
//! * [`directory`]: the signed, versioned corporate directory of sites and employees;
//! * [`certs`]: site certificates (node key ↔ site), employee key certificates (issued by the
//!   home node), and enrollment requests;
//! * [`Envelope`]: a signed envelope for arbitrary payloads, which the crdt crate wraps around
//!   every change;
//! * [`import`]: reading LDIF and CSV directory exports.
//!
//! It refuses I/O, clocks and randomness: key seeds and timestamps are passed in, files are
//! read and written by the caller. That keeps it deterministic for the simulator and for tests.
//!
//! ## Example
//!
//! ```
//! use weft_keys::{Domain, Envelope, SecretKey, TrustAnchors, directory};
//!
//! // The authority signs a directory (the seed would come from the OS's random source).
//! let authority = SecretKey::from_seed(&[1; 32]);
//! let mut dir = directory::Directory { version: 1, ..Default::default() };
//! dir.organisation = "Example Corp".into();
//! let signed = weft_keys::Signed::sign(&authority, &dir);
//!
//! // A node that trusts the authority accepts it, and refuses to go back in versions.
//! let trust = TrustAnchors::single(authority.public());
//! let held = directory::accept(None, &signed, &trust).unwrap();
//! assert!(directory::accept(Some(&held), &signed, &trust).is_err());
//!
//! // An envelope signed for one purpose does not verify for another.
//! let alice = SecretKey::from_seed(&[2; 32]);
//! let env = Envelope::seal(Domain::CHANGE, &alice, "alice", b"hello");
//! let bytes = env.to_bytes();
//! let back = Envelope::from_bytes(&bytes, 1024).unwrap();
//! assert!(back.verify(Domain::CHANGE, &alice.public()).is_ok());
//! assert!(back.verify(Domain::DIRECTORY, &alice.public()).is_err());
//! ```

pub mod authority;
pub mod certs;
pub mod directory;
mod envelope;
pub mod import;
mod key;
mod signed;

pub use authority::{ChainError, CrossCert, TrustAnchors};
pub use certs::{CertError, EmployeeCert, EnrollRequest, SiteCert};
pub use directory::{
    Directory, DirectoryError, Employee, KeyTenure, RevokedKey, Role, Site, Status, Tenure,
    VerifiedDirectory,
};
pub use envelope::{Envelope, EnvelopeError, MAX_AUTHOR_LEN, MAX_PAYLOAD};
pub use key::{
    BadSignature, KeyId, KeyParseError, PublicKey, SEED_LEN, SecretKey, Signature, from_hex, to_hex,
};
pub use signed::{Domain, Signed, SignedError, SignedKind};

//! Authorities and their federation.
//!
//! The company's IT holds a root **authority key** offline. A subsidiary may run its own
//! authority; the parent vouches for it with a [`CrossCert`]. A node is configured with the
//! root keys it trusts ([`TrustAnchors`]) and follows cross-certificate chains from them.

use serde::{Deserialize, Serialize};

use crate::key::PublicKey;
use crate::signed::{Domain, Signed, SignedError, SignedKind};

/// The longest chain of cross-certificates followed from a root. Real federations are one or
/// two levels deep; the bound keeps a hostile chain from costing unbounded verification work.
pub const MAX_CHAIN: usize = 4;

/// A parent authority vouching for a subsidiary authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossCert {
    /// The subsidiary's authority key, trusted once this certificate verifies.
    pub subsidiary: PublicKey,
    /// The subsidiary's name, for people reading the chain ("Weft India Pvt Ltd").
    pub name: String,
    /// When the parent signed, in seconds since the Unix epoch (passed in by the caller).
    pub issued_at: u64,
}

impl SignedKind for CrossCert {
    const DOMAIN: Domain = Domain::CROSS_CERT;
    const KIND: u8 = 2;
    const NAME: &'static str = "cross-certificate";
    const MAX_BODY: usize = 4 * 1024;
}

/// The authority keys a node trusts as roots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustAnchors {
    /// Root authority keys.
    pub roots: Vec<PublicKey>,
}

/// Why an authority chain does not lead to a trusted root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    #[error("chain of {0} cross-certificates is longer than the limit of {MAX_CHAIN}")]
    TooLong(usize),
    #[error(
        "cross-certificate {index} is signed by {signer}, which is neither a trusted root nor vouched for earlier in the chain"
    )]
    Broken { index: usize, signer: String },
    #[error("cross-certificate {index}: {source}")]
    Invalid { index: usize, source: SignedError },
    #[error("authority {0} is not a trusted root and no cross-certificate chain vouches for it")]
    Untrusted(String),
}

impl TrustAnchors {
    /// Trusts exactly `root`.
    pub fn single(root: PublicKey) -> TrustAnchors {
        TrustAnchors { roots: vec![root] }
    }

    /// Checks that `signer` is a trusted authority: a root, or the end of a chain of
    /// cross-certificates in which each certificate is signed by a root or by an authority an
    /// earlier certificate vouched for.
    pub fn check(&self, signer: &PublicKey, chain: &[Signed<CrossCert>]) -> Result<(), ChainError> {
        if chain.len() > MAX_CHAIN {
            return Err(ChainError::TooLong(chain.len()));
        }
        let mut trusted: Vec<PublicKey> = self.roots.clone();
        for (index, cert) in chain.iter().enumerate() {
            if !trusted.contains(cert.signer()) {
                return Err(ChainError::Broken {
                    index,
                    signer: cert.signer().short(),
                });
            }
            let cross = cert
                .open()
                .map_err(|source| ChainError::Invalid { index, source })?;
            trusted.push(cross.subsidiary);
        }
        if trusted.contains(signer) {
            Ok(())
        } else {
            Err(ChainError::Untrusted(signer.short()))
        }
    }
}

//! Key material: secret keys, public keys, key ids and signatures.
//!
//! Keys are plain ed25519. A [`SecretKey`] is made from 32 bytes of seed that the *caller*
//! draws (this crate never draws randomness itself, so tests and the simulator stay
//! deterministic); it zeroizes on drop and its `Debug` shows only the public half.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::signed::Domain;

/// Length of an ed25519 secret seed in bytes.
pub const SEED_LEN: usize = 32;

/// An ed25519 signing key. Zeroized when dropped; never printed.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// Builds a key from a 32-byte seed. The seed must come from a cryptographic random source
    /// (the CLI and the node use the operating system's, through `getrandom`).
    pub fn from_seed(seed: &[u8; SEED_LEN]) -> Self {
        SecretKey(SigningKey::from_bytes(seed))
    }

    /// The seed, for writing a key file. The returned buffer is zeroized when dropped.
    pub fn to_seed(&self) -> Zeroizing<[u8; SEED_LEN]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `body` for one purpose. The signed message is the domain's tag followed by the
    /// body (see [`Domain`]), so a signature made for one purpose never verifies for another.
    pub fn sign(&self, domain: Domain, body: &[u8]) -> Signature {
        Signature(self.0.sign(&domain.message(body)).to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public {})", self.public().short())
    }
}

/// An ed25519 public key.
///
/// Shown as 64 lower-case hex digits ([`fmt::Display`]) or, in logs, as its first ten
/// ([`PublicKey::short`]). Serialized as hex in human-readable formats (JSON) and as 32 raw
/// bytes in binary ones (postcard).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

/// Why bytes or text are not a public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyParseError {
    #[error("a public key is 32 bytes (64 hex digits), got {0} bytes")]
    Length(usize),
    #[error("not hexadecimal: {0}")]
    NotHex(String),
    #[error("these 32 bytes are not a valid ed25519 public key")]
    NotOnCurve,
}

impl PublicKey {
    /// Parses 32 bytes, rejecting points that are not valid public keys.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyParseError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyParseError::Length(bytes.len()))?;
        VerifyingKey::from_bytes(&arr)
            .map(PublicKey)
            .map_err(|_| KeyParseError::NotOnCurve)
    }

    /// The 32 bytes of the key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The key's id: see [`KeyId`].
    pub fn id(&self) -> KeyId {
        KeyId::of(self)
    }

    /// A short form for logs and tables: the first ten hex digits.
    pub fn short(&self) -> String {
        let mut s = self.to_string();
        s.truncate(10);
        s
    }

    /// Checks `signature` over `body` for `domain`. Uses strict verification (canonical `S`,
    /// no small-order keys), so a signature cannot be altered into another valid one.
    pub fn verify(
        &self,
        domain: Domain,
        body: &[u8],
        signature: &Signature,
    ) -> Result<(), BadSignature> {
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        self.0
            .verify_strict(&domain.message(body), &sig)
            .map_err(|_| BadSignature)
    }
}

/// A signature did not verify: wrong key, wrong purpose, or altered bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signature does not verify")]
pub struct BadSignature;

impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PublicKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.as_bytes().cmp(other.0.as_bytes())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex(&self.to_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.short())
    }
}

impl FromStr for PublicKey {
    type Err = KeyParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = from_hex(s.trim()).ok_or_else(|| KeyParseError::NotHex(s.to_owned()))?;
        PublicKey::from_bytes(&bytes)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_string())
        } else {
            self.to_bytes().serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            s.parse().map_err(serde::de::Error::custom)
        } else {
            let bytes = <[u8; 32]>::deserialize(d)?;
            PublicKey::from_bytes(&bytes).map_err(serde::de::Error::custom)
        }
    }
}

/// A short, stable identifier of a public key: the first 16 bytes of
/// SHA-256("weft-key-id/v1" ‖ key). Envelopes name their key by id rather than carrying the
/// whole key, and the crdt crate uses it as the Automerge actor id, so an (actor, seq) pair can
/// only be minted by the holder of that key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KeyId(pub [u8; 16]);

impl KeyId {
    /// The id of `key`.
    pub fn of(key: &PublicKey) -> KeyId {
        let mut h = Sha256::new();
        h.update(b"weft-key-id/v1");
        h.update(key.to_bytes());
        let digest = h.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        KeyId(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex(&self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A 64-byte ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}…)", &to_hex(&self.0[..6]))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&to_hex(&self.0))
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: Vec<u8> = if d.is_human_readable() {
            let s = String::deserialize(d)?;
            from_hex(&s).ok_or_else(|| serde::de::Error::custom("signature is not hex"))?
        } else {
            serde_bytes_vec(d)?
        };
        let arr: [u8; 64] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("a signature is 64 bytes"))?;
        Ok(Signature(arr))
    }
}

fn serde_bytes_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("bytes")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
    }
    d.deserialize_bytes(V)
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Parses hex (either case); `None` if the text is not an even number of hex digits.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret() {
        let seed = [7u8; 32];
        let key = SecretKey::from_seed(&seed);
        let shown = format!("{key:?}");
        assert!(!shown.contains(&to_hex(&seed)));
        assert!(shown.contains(&key.public().short()));
    }

    #[test]
    fn public_key_text_round_trip() {
        let key = SecretKey::from_seed(&[1u8; 32]).public();
        let text = key.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<PublicKey>(), Ok(key));
        assert!(matches!(
            "abc".parse::<PublicKey>(),
            Err(KeyParseError::NotHex(_))
        ));
        assert_eq!("00".parse::<PublicKey>(), Err(KeyParseError::Length(1)));
    }

    #[test]
    fn hex_round_trip() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(from_hex(&to_hex(&bytes)).as_deref(), Some(&bytes[..]));
        assert_eq!(from_hex("zz"), None);
    }
}

//! The clock and the randomness a node uses, read in one place: the system's are here
//! ([`SystemClock`], [`SystemRng`]), and a node is started with whichever it is given
//! ([`crate::run::start_with`]), so a test can drive time ([`ManualClock`]) and draw
//! reproducible numbers ([`SeededRng`]).
//!
//! What reads them: the core (a notification's horizon, the write budgets, search's ranking
//! by age, the sync engine's timers, the directory's refresh of certificates), and the
//! service ([`crate::service::Service`]), which draws the time and the nonces of every
//! command and the random tokens the web layer hands out (sessions, form tokens, setup
//! links). Nothing else in `node` or `web` asks the system for the time of day or for random
//! bytes. (Stopwatches — how long a job or a request took, when the loop next wakes — use
//! `std::time::Instant`: they measure durations on this machine, they do not date anything.)
//!
//! ```
//! use weft_node::clock::{Clock, ManualClock, Rng, SeededRng};
//!
//! let clock = ManualClock::new(1_000);
//! clock.advance(500);
//! assert_eq!(clock.now_ms(), 1_500);
//! let rng = SeededRng::new(7);
//! assert_ne!(rng.u64().unwrap(), rng.u64().unwrap());
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::error::NodeError;

/// Where the time comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// Where random bytes come from (nonces of new documents, tokens).
pub trait Rng: Send + Sync + std::fmt::Debug {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]) -> Result<(), NodeError>;

    /// A random `u64`.
    fn u64(&self) -> Result<u64, NodeError> {
        let mut b = [0u8; 8];
        self.fill(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
}

/// A clock shared by the core's thread and the service.
pub type SharedClock = Arc<dyn Clock>;
/// A random source shared by the service and whoever else needs one.
pub type SharedRng = Arc<dyn Rng>;

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// The operating system's random source.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRng;

impl Rng for SystemRng {
    fn fill(&self, buf: &mut [u8]) -> Result<(), NodeError> {
        getrandom::fill(buf).map_err(|e| NodeError::NoRandomness(e.to_string()))
    }
}

/// A clock that moves only when told to (tests). Clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock that reads `ms` until moved.
    pub fn new(ms: i64) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(ms)))
    }

    /// Moves the clock `ms` forward.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock to `ms`.
    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Reproducible random numbers from a seed (tests; SplitMix64). Clones share the sequence.
#[derive(Debug, Clone, Default)]
pub struct SeededRng(Arc<AtomicU64>);

impl SeededRng {
    pub fn new(seed: u64) -> SeededRng {
        SeededRng(Arc::new(AtomicU64::new(seed)))
    }

    fn next(&self) -> u64 {
        let mut z = self
            .0
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::SeqCst)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Rng for SeededRng {
    fn fill(&self, buf: &mut [u8]) -> Result<(), NodeError> {
        for chunk in buf.chunks_mut(8) {
            let n = self.next().to_le_bytes();
            chunk.copy_from_slice(&n[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_clones_follow() {
        let c = ManualClock::new(10);
        let shared: SharedClock = Arc::new(c.clone());
        assert_eq!(shared.now_ms(), 10);
        c.advance(5);
        assert_eq!(shared.now_ms(), 15);
        c.set(1);
        assert_eq!(shared.now_ms(), 1);
        assert!(SystemClock.now_ms() > 1_600_000_000_000);
    }

    #[test]
    fn a_seeded_rng_repeats_its_sequence() {
        let (a, b) = (SeededRng::new(3), SeededRng::new(3));
        let mut x = [0u8; 13];
        let mut y = [0u8; 13];
        a.fill(&mut x).unwrap();
        b.fill(&mut y).unwrap();
        assert_eq!(x, y);
        assert_ne!(a.u64().unwrap(), SeededRng::new(4).u64().unwrap());
        let mut z = [0u8; 32];
        SystemRng.fill(&mut z).unwrap();
        assert_ne!(z, [0u8; 32]);
    }
}

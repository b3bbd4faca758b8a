//! # weft-simulations: many sites over a simulated WAN
//!
//! This crate will run the real sans-IO sync engine and ingest validation of `weft-crdt` for
//! hundreds of simulated sites, with simulated time, a seeded random source and WAN latencies,
//! and report convergence, bandwidth and storage.
//!
//! Status: not built yet (issue 7).

pub use weft_crdt as crdt;

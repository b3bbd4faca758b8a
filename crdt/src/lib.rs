//! # weft-crdt: documents, signed changes, write rules, sync
//!
//! This crate will own Weft's replicated documents (profiles, groups, threads) as Automerge
//! documents, the signed changes that carry them (every change wrapped in a
//! [`weft_keys::Envelope`]), the write rules that decide which author may touch which path, and
//! the sans-IO sync state machine that two nodes run to bring each other up to date.
//!
//! It refuses I/O, clocks and randomness of its own: time and random values are passed in, so
//! the simulator and the property tests drive it deterministically. It never imports tokio,
//! libp2p, sled or axum (CI checks this with `cargo tree`).
//!
//! Status: not built yet (issue 3). Only the dependency on `weft-keys` exists.

pub use weft_keys as keys;

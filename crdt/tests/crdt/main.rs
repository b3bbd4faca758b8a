//! Integration tests of weft-crdt: the typed API, the write rules as every receiver applies
//! them, and forged or malformed input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod byzantine;
mod convergence;
mod decoders;
mod events;
mod hostile;
mod moderation;
mod polls;
mod rules;
mod sync;
mod walls;

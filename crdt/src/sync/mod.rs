//! The sync engine (sans-IO). See `ranges` for set reconciliation.

pub mod ranges;

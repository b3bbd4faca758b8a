//! The sync engine (sans-IO): messages, range reconciliation, and the per-peer state machine.

pub mod engine;
pub mod message;
pub mod ranges;

pub use engine::{Config, Engine, Event, Traffic};
pub use message::{FrameError, Message};

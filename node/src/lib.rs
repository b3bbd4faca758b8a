//! # weft-node: a site's node
//!
//! This crate owns everything a node does with the outside world: sled storage ([`store`]),
//! the libp2p network, the search index, and the service API (commands and queries) that the
//! web crate calls. It drives the sans-IO engine of `weft-crdt` and performs what it asks.
//!
//! * [`config`]: the node's settings (TOML plus `WEFT_*` variables).
//! * [`store`]: the one module that knows sled.
//! * [`identity`]: the node key and the derived keys of the employees homed at the site.
//! * [`core`]: identity + replica + store + sync engine, driven by one owner; durable commits.
//! * [`net`]: the libp2p behaviour (allow list, identify, gossipsub, sync over
//!   request-response, mDNS) and its frame codec.
//! * [`run`]: the runtime loop and [`NodeHandle`], which the web layer calls.
//! * [`service`]: what an employee may see and do (visibility decided once, here).
//! * [`metrics`]: the counters behind `/metrics`.
//! * [`files`]: key files (`0600`, never logged) and atomic writes.
//! * [`readmodel`]: thread and group summaries kept up to date at each commit (feeds, group
//!   pages and access checks read these, not the documents).
//! * [`personal`]: each employee's own state here: notifications, follows, read markers,
//!   settings.
//!
//! It refuses HTTP (that is `weft-web`) and decisions about validity (those are
//! `weft-crdt`'s: the node only carries changes to and from the pipeline).
//!
//! Still to come (issue 4): document snapshots for fast start-up (the store's changes are
//! replayed today), and keeping only recently used documents in memory (an Automerge
//! document costs about 20 KB resident however small; see `crdt/benches/memory.rs`).

pub mod access;
pub mod blobs;
pub mod budget;
pub mod clock;
#[doc(hidden)]
pub mod company;
pub mod config;
pub mod core;
pub mod error;
pub mod extract;
pub mod feedparse;
pub mod files;
pub mod identity;
pub mod mail;
pub mod media;
pub mod metrics;
pub mod net;
pub(crate) mod network;
pub mod outside;
pub mod people;
pub mod personal;
pub mod reader;
pub mod readmodel;
pub mod run;
pub mod search;
pub mod service;
pub mod store;
pub mod transfer;

pub use config::{Config, ConfigError};
pub use core::{Core, DEFAULT_CACHE_DOCUMENTS, GossipVerdict, Outcome, RestoreStats};
pub use error::NodeError;
pub use reader::Reader;
pub use run::{Live, NodeHandle, Running, start, start_with};
pub use store::{Store, StoreError};
pub use weft_crdt as crdt;
pub use weft_keys as keys;

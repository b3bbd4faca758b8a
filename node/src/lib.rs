//! # weft-node: a site's node
//!
//! This crate will own everything a node does with the outside world: sled storage, the
//! libp2p network, the search index, and the service API (commands and queries) that the web
//! crate calls. It drives the sans-IO engine of `weft-crdt` and performs what it asks.
//!
//! Today it owns the files a node and its operators handle: key files (written `0600`,
//! never logged) and atomic writes of directory files ([`files`]).
//!
//! Status: storage, networking and the service API are issue 4.

pub mod files;

pub use weft_crdt as crdt;
pub use weft_keys as keys;

//! The node's error type, which the web layer matches to answer with the right status.

use crate::store::StoreError;

/// Why a node operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("directory: {0}")]
    Directory(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0} is not homed at this site")]
    NotHomedHere(String),
    #[error("not found")]
    NotFound,
    /// A request that makes no sense (following oneself, …): the message says why.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Local(#[from] weft_crdt::LocalError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("network: {0}")]
    Network(String),
    #[error("the node is shutting down")]
    ShuttingDown,
}

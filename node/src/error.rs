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
    /// The employee may see the thing but not do this to it (a group they are not, or no
    /// longer, a member of): the message says why.
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// The employee's write budget is spent (see [`crate::budget`]).
    #[error("too many changes in a short time; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// A request that makes no sense (following oneself, …): the message says why.
    #[error("{0}")]
    Invalid(String),
    /// More bytes than a limit allows (a file): the message names the limit.
    #[error("{what} is larger than the limit of {limit} bytes")]
    TooLarge { what: String, limit: u64 },
    #[error(transparent)]
    Local(#[from] weft_crdt::LocalError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("network: {0}")]
    Network(String),
    /// The random source failed (no token, no nonce could be drawn).
    #[error("no randomness: {0}")]
    NoRandomness(String),
    /// What was asked is at other sites, none of which could send it now (the message says
    /// why).
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("the node is shutting down")]
    ShuttingDown,
}

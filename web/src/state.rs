//! What every handler shares.

use std::sync::Arc;

use weft_node::NodeHandle;

use crate::auth::Sessions;

/// The web layer's state: the node, the sessions and the operator's settings.
#[derive(Clone)]
pub struct AppState {
    pub node: NodeHandle,
    pub sessions: Arc<Sessions>,
    /// The usage charter every employee accepts at first login (and again when it changes).
    pub charter: Option<Arc<Charter>>,
    /// Where `weft user invite` leaves one-time setup links (`<data dir>/invites`).
    pub invites: Option<std::path::PathBuf>,
}

/// The usage charter: its Markdown text and the SHA-256 (hex) that acceptances record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charter {
    pub text: String,
    pub hash: String,
}

impl Charter {
    pub fn new(text: String) -> Charter {
        use sha2::{Digest, Sha256};
        let hash = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Charter { text, hash }
    }
}

/// What the operator configures for the web layer.
#[derive(Debug, Clone, Default)]
pub struct WebOptions {
    pub charter: Option<String>,
    /// The node's data directory (for setup links).
    pub data_dir: Option<std::path::PathBuf>,
}

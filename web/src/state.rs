//! What every handler shares.

use std::sync::Arc;

use weft_node::NodeHandle;

use crate::auth::Sessions;

/// The web layer's state: the node and the sessions.
#[derive(Clone)]
pub struct AppState {
    pub node: NodeHandle,
    pub sessions: Arc<Sessions>,
}

//! # weft-web: the HTML UI and the JSON API
//!
//! This crate will own everything HTTP: the axum router, server-rendered pages, static assets,
//! the JSON API of `shared/API.md`, sessions and CSRF protection. It is the only crate that
//! knows HTTP; it calls the node's service API and never touches storage or the network
//! directly.
//!
//! Status: not built yet (issue 5).

pub use weft_node as node;

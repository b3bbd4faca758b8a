//! What every handler shares.

use std::sync::Arc;

use weft_node::config::IpRange;
use weft_node::service::{Service, Viewer};

use crate::auth::{LoginLimits, Logins, Sessions};

/// The web layer's state: the node's service API, the sessions and the operator's settings.
#[derive(Clone)]
pub struct AppState {
    /// The node, as the web layer may use it: the service layer and nothing else.
    pub service: Service,
    pub sessions: Arc<Sessions>,
    /// Login attempts and password checks.
    pub logins: Arc<Logins>,
    /// The usage charter every employee accepts at first login (and again when it changes).
    pub charter: Option<Arc<Charter>>,
    /// Where `weft user invite` leaves one-time setup links (`<data dir>/invites`).
    pub invites: Option<std::path::PathBuf>,
    /// Whether cookies are marked `Secure` (the node's public address is https).
    pub secure_cookies: bool,
    /// The node's public address (`https://weft.paris.example.com`), if configured: the
    /// base of links handed out to other applications (calendar subscriptions).
    pub public_url: Option<Arc<str>>,
    /// The reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[IpRange]>,
    /// The SHA-256 of the token that opens `/metrics` and `/api/v1/node` to other machines.
    pub metrics_token: Option<[u8; 32]>,
}

impl AppState {
    /// The node's address as employees reach it: the configured public URL, else
    /// `http://` and the request's `Host` (when it is a plain host name or address).
    pub fn base_url(&self, headers: &axum::http::HeaderMap) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => {
                let host = headers
                    .get(axum::http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .filter(|h| {
                        h.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
                    })
                    .unwrap_or("localhost");
                format!("http://{host}")
            }
        }
    }
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
    /// The address employees reach the node at; https makes cookies `Secure`.
    pub public_url: Option<String>,
    /// The reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpRange>,
    /// The token that opens `/metrics` and `/api/v1/node` to other machines.
    pub metrics_token: Option<String>,
    /// Failed logins allowed per account and per address.
    pub login_limits: LoginLimits,
}

impl WebOptions {
    /// The web layer's settings from the node's configuration (the charter's text is read
    /// by the caller).
    pub fn from_config(config: &weft_node::Config, charter: Option<String>) -> WebOptions {
        WebOptions {
            charter,
            data_dir: Some(config.data_dir.clone()),
            public_url: config.public_url.clone(),
            trusted_proxies: config.proxy_ranges(),
            metrics_token: config.metrics_token.as_ref().map(|t| t.0.clone()),
            login_limits: LoginLimits {
                per_account: config.login_failures_per_account,
                per_address: config.login_failures_per_address,
            },
        }
    }
}

/// The service layer's viewer for the employee `id` (authenticated by an extractor).
pub fn viewer(id: &str) -> Viewer {
    Viewer::from(id)
}

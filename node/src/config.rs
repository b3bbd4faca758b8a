//! The node's configuration: a plain serde struct with defaults. `main` reads the TOML file,
//! then applies `WEFT_`-prefixed environment variables ([`Config::apply_env`]), and passes the
//! result down; nothing reads configuration globally, so a test can run two nodes with two
//! configs in one process.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A node's settings. Relative paths are relative to the config file's folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// This node's site id in the directory (`paris`).
    pub site: String,
    /// Where the node keeps its store and search index.
    pub data_dir: PathBuf,
    /// The node's secret key file (from `weft site enroll`).
    pub node_key: PathBuf,
    /// The signed directory to start from (newer versions also arrive from peers).
    pub directory: PathBuf,
    /// Root authority public key files the node trusts.
    pub trust: Vec<PathBuf>,
    /// The HTTP address of the web UI and API. Loopback unless configured otherwise.
    pub http_addr: SocketAddr,
    /// libp2p listen addresses.
    pub listen: Vec<String>,
    /// Peers to dial (libp2p multiaddrs, with or without `/p2p/<peer id>`).
    pub peers: Vec<String>,
    /// Whether to discover peers on the local network with mDNS.
    pub mdns: bool,
    /// Seconds between catch-up rounds with each peer.
    pub resync_interval_secs: u64,
    /// How many documents (threads, profiles) stay in memory; the least recently used others
    /// are read back from the store when someone needs them. Groups always stay.
    pub cache_documents: usize,
    /// The usage charter shown at first login (Markdown), if any.
    pub charter: Option<PathBuf>,
    /// Writes one employee may make at once before the rate below applies (0: no budget).
    pub write_budget_burst: u32,
    /// Writes per minute one employee may make after the burst.
    pub write_budget_per_minute: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            site: String::new(),
            data_dir: PathBuf::from("data"),
            node_key: PathBuf::from("node.key"),
            directory: PathBuf::from("directory.signed"),
            trust: vec![PathBuf::from("authority.pub")],
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            listen: vec![
                "/ip4/0.0.0.0/tcp/4001".into(),
                "/ip4/0.0.0.0/udp/4001/quic-v1".into(),
            ],
            peers: Vec::new(),
            mdns: false,
            resync_interval_secs: 30,
            cache_documents: crate::core::DEFAULT_CACHE_DOCUMENTS,
            charter: None,
            write_budget_burst: crate::budget::WriteBudget::default().burst,
            write_budget_per_minute: crate::budget::WriteBudget::default().per_minute,
        }
    }
}

/// A setting that could not be used. Always names the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration {key}: {reason}")]
pub struct ConfigError {
    /// The setting (`http_addr`, or `WEFT_HTTP_ADDR`).
    pub key: String,
    pub reason: String,
}

impl Config {
    /// Parses a TOML configuration. Unknown keys and wrong types are errors that name the key.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let key = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].lines().count().max(1);
                    format!("line {line}")
                })
                .unwrap_or_else(|| "file".into());
            ConfigError {
                key,
                reason: e.message().to_owned(),
            }
        })
    }

    /// Applies `WEFT_*` variables: `WEFT_SITE`, `WEFT_DATA_DIR`, `WEFT_NODE_KEY`,
    /// `WEFT_DIRECTORY`, `WEFT_TRUST` (comma-separated), `WEFT_HTTP_ADDR`, `WEFT_LISTEN`
    /// (comma-separated), `WEFT_PEERS` (comma-separated), `WEFT_MDNS` (true/false),
    /// `WEFT_RESYNC_INTERVAL_SECS`, `WEFT_CHARTER`. Other `WEFT_` variables that name no
    /// setting are errors too, so a typo does not go unnoticed — except `WEFT_LOG_FORMAT`,
    /// which the CLI reads.
    pub fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        let list = |v: &str| -> Vec<String> {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        for (k, v) in vars {
            let Some(name) = k.strip_prefix("WEFT_") else {
                continue;
            };
            let bad = |reason: String| ConfigError {
                key: k.clone(),
                reason,
            };
            match name {
                "SITE" => self.site = v,
                "DATA_DIR" => self.data_dir = v.into(),
                "NODE_KEY" => self.node_key = v.into(),
                "DIRECTORY" => self.directory = v.into(),
                "TRUST" => self.trust = list(&v).into_iter().map(PathBuf::from).collect(),
                "HTTP_ADDR" => {
                    self.http_addr = v
                        .parse()
                        .map_err(|e| bad(format!("{v:?} is not an address: {e}")))?
                }
                "LISTEN" => self.listen = list(&v),
                "PEERS" => self.peers = list(&v),
                "MDNS" => {
                    self.mdns = v
                        .parse()
                        .map_err(|_| bad(format!("{v:?} is not true or false")))?
                }
                "RESYNC_INTERVAL_SECS" => {
                    self.resync_interval_secs = v
                        .parse()
                        .map_err(|_| bad(format!("{v:?} is not a number of seconds")))?
                }
                "CACHE_DOCUMENTS" => {
                    self.cache_documents = v
                        .parse()
                        .map_err(|_| bad(format!("{v:?} is not a number of documents")))?
                }
                "CHARTER" => self.charter = Some(v.into()),
                "WRITE_BUDGET_BURST" => {
                    self.write_budget_burst = v
                        .parse()
                        .map_err(|_| bad(format!("{v:?} is not a number of writes")))?
                }
                "WRITE_BUDGET_PER_MINUTE" => {
                    self.write_budget_per_minute = v
                        .parse()
                        .map_err(|_| bad(format!("{v:?} is not a number of writes")))?
                }
                "LOG_FORMAT" => {}
                _ => return Err(bad("no such setting".into())),
            }
        }
        Ok(())
    }

    /// Checks what parsing cannot: a site id, a non-zero interval, parseable addresses.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, reason: &str| ConfigError {
            key: key.into(),
            reason: reason.into(),
        };
        if !weft_keys::directory::is_site_id(&self.site) {
            return Err(bad("site", "must be this node's site id, e.g. paris"));
        }
        if self.resync_interval_secs == 0 {
            return Err(bad("resync_interval_secs", "must be at least 1"));
        }
        if self.trust.is_empty() {
            return Err(bad("trust", "name at least one authority.pub file"));
        }
        Ok(())
    }

    /// Resolves relative paths against `base` (the config file's folder).
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.data_dir);
        fix(&mut self.node_key);
        fix(&mut self.directory);
        for t in &mut self.trust {
            fix(t);
        }
        if let Some(c) = &mut self.charter {
            fix(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../../examples/weft.toml");
        let c = Config::from_toml(text).unwrap();
        c.validate().unwrap();
        assert_eq!(c.site, "paris");
        assert!(c.http_addr.ip().is_loopback());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err = Config::from_toml("site = \"paris\"\nhttp_adress = \"x\"\n").unwrap_err();
        assert!(err.reason.contains("http_adress"), "{err}");
        let err = Config::from_toml("site = \"paris\"\nmdns = \"yes\"\n").unwrap_err();
        assert_eq!(err.key, "line 2");
    }

    #[test]
    fn environment_overrides_and_names_bad_variables() {
        let mut c = Config::default();
        c.apply_env([
            ("WEFT_SITE".to_string(), "bangalore".to_string()),
            (
                "WEFT_PEERS".into(),
                "/ip4/127.0.0.1/tcp/1, /ip4/127.0.0.1/tcp/2".into(),
            ),
            ("PATH".into(), "/bin".into()),
        ])
        .unwrap();
        assert_eq!(c.site, "bangalore");
        assert_eq!(c.peers.len(), 2);
        let err = c
            .apply_env([("WEFT_HTTP_ADDR".to_string(), "nowhere".to_string())])
            .unwrap_err();
        assert_eq!(err.key, "WEFT_HTTP_ADDR");
        let err = c
            .apply_env([("WEFT_SIET".to_string(), "x".to_string())])
            .unwrap_err();
        assert_eq!(err.key, "WEFT_SIET");
    }

    #[test]
    fn the_default_http_address_is_loopback() {
        assert!(Config::default().http_addr.ip().is_loopback());
    }
}

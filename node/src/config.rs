//! The node's configuration: a plain serde struct with defaults. `main` reads the TOML file,
//! then applies `WEFT_`-prefixed environment variables ([`Config::apply_env`]), and passes the
//! result down; nothing reads configuration globally, so a test can run two nodes with two
//! configs in one process.

use std::net::{IpAddr, SocketAddr};
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
    /// How public changes reach the other sites (private ones always go straight to the
    /// sites allowed to hold them): `gossip` (the default) announces them on gossipsub,
    /// which forwards them through a mesh of about six peers per site, so sites need not all
    /// be connected, but a site receives a change several times and over several hops;
    /// `direct` sends each one from its site to every connected site, once — for a company
    /// whose sites all list each other as peers (the full mesh `docs/simulations.md`
    /// measures at 500 sites).
    pub public_changes: PublicChanges,
    /// How many documents (threads, profiles) stay in memory; the least recently used others
    /// are read back from the store when someone needs them. Groups always stay.
    pub cache_documents: usize,
    /// The store's page cache (sled's), in MiB: what it keeps of its files in memory. sled's
    /// own default is 1 GiB, which a node at a large company fills.
    pub store_cache_mb: u64,
    /// The largest file an employee may upload, in MiB.
    pub max_file_mb: u64,
    /// The most this site keeps of files (uploaded here or fetched from peers), in GiB; 0:
    /// no limit but the disk's. An upload or a fetch beyond it is refused (413, naming the
    /// limit); what is stored is counted in `/metrics` and `/api/v1/node`.
    pub max_files_gb: u64,
    /// The account that posts the items of outside feeds groups follow (RSS/Atom in): an
    /// employee the directory lists at this site (a "news" account nobody logs in with).
    /// Without it, groups of this site cannot follow outside feeds.
    pub feed_bot: Option<String>,
    /// How often followed feeds are fetched, in minutes.
    pub feeds_poll_minutes: u64,
    /// Whether followed feeds may be at internal addresses (loopback, private networks):
    /// off by default, so a feed's address cannot reach the company's own servers.
    pub feeds_allow_private: bool,
    /// The largest feed fetched, in KiB.
    pub feeds_max_kb: u64,
    /// The usage charter shown at first login (Markdown), if any.
    pub charter: Option<PathBuf>,
    /// The mail server notifications and digests are sent through; without one, no mail is
    /// sent.
    pub smtp: Option<Smtp>,
    /// How long a notification waits before it is mailed, in seconds: if its employee saw it
    /// in the pages meanwhile (or read the thread), no mail is sent.
    pub mail_delay_secs: u64,
    /// The hour (0-23, in each employee's time zone) daily and weekly (Monday) digests are
    /// sent at.
    pub digest_hour: u8,
    /// Writes one employee may make at once before the rate below applies (0: no budget).
    pub write_budget_burst: u32,
    /// Writes per minute one employee may make after the burst.
    pub write_budget_per_minute: u32,
    /// The address employees reach this node at (`https://weft.paris.example.com`). When it
    /// is https, cookies are marked `Secure`; `weft user invite` makes links with it.
    pub public_url: Option<String>,
    /// The reverse proxies in front of the web server (addresses or CIDR ranges, e.g.
    /// `["127.0.0.1", "10.0.0.0/8"]`). Only a request that comes from one of them is believed
    /// about its client's address (`X-Forwarded-For`); every other request's client is the
    /// address it comes from. Login limits are counted per client address.
    pub trusted_proxies: Vec<String>,
    /// A bearer token that lets other machines read `/metrics` and `/api/v1/node`
    /// (`Authorization: Bearer <token>`). Without one, they answer only to clients on this
    /// machine (loopback, not relayed by a proxy).
    pub metrics_token: Option<Secret>,
    /// Failed logins for one account within 15 minutes before that account's logins are
    /// refused (429) for the rest of the 15 minutes.
    pub login_failures_per_account: u32,
    /// Failed logins from one client address within 15 minutes before that address's logins
    /// are refused. Far looser than the account limit: an office behind one address is many
    /// people.
    pub login_failures_per_address: u32,
}

/// The SMTP server mail goes through (`[smtp]` in `weft.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    /// 587 for STARTTLS, 465 for TLS, 25 without.
    #[serde(default = "Smtp::default_port")]
    pub port: u16,
    /// `starttls` (the default), `tls` (implicit TLS), or `none` (a relay on the same
    /// machine or network only: mail then travels in clear).
    #[serde(default)]
    pub tls: SmtpTls,
    /// Credentials, if the server asks for them.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// The sender, e.g. `Weft Paris <weft-paris@example.com>`.
    pub from: String,
}

impl Smtp {
    fn default_port() -> u16 {
        587
    }
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    #[default]
    Starttls,
    Tls,
    None,
}

/// A secret setting: never printed by `Debug` (configurations end up in logs).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// An address range: an IP address and how many of its leading bits a member shares
/// (`10.0.0.0/8`; a bare address is a range of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    addr: IpAddr,
    bits: u8,
}

impl IpRange {
    /// Parses `1.2.3.4`, `1.2.3.0/24`, `::1` or `fd00::/8`.
    pub fn parse(s: &str) -> Option<IpRange> {
        let (a, bits) = match s.trim().split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        (bits <= max).then_some(IpRange { addr, bits })
    }

    /// Whether `ip` is in the range (an IPv4 address written as IPv6, `::ffff:1.2.3.4`, is
    /// the IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(r), IpAddr::V4(x)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(r) & mask == u32::from(x) & mask
            }
            (IpAddr::V6(r), IpAddr::V6(x)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(r) & mask == u128::from(x) & mask
            }
            _ => false,
        }
    }
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
            public_changes: PublicChanges::Gossip,
            cache_documents: crate::core::DEFAULT_CACHE_DOCUMENTS,
            store_cache_mb: crate::store::DEFAULT_CACHE_MB,
            max_file_mb: 100,
            max_files_gb: 0,
            feed_bot: None,
            feeds_poll_minutes: 30,
            feeds_allow_private: false,
            feeds_max_kb: 2048,
            charter: None,
            smtp: None,
            mail_delay_secs: 15 * 60,
            digest_hour: 7,
            write_budget_burst: crate::budget::WriteBudget::default().burst,
            write_budget_per_minute: crate::budget::WriteBudget::default().per_minute,
            public_url: None,
            trusted_proxies: Vec::new(),
            metrics_token: None,
            login_failures_per_account: 5,
            login_failures_per_address: 100,
        }
    }
}

/// How public changes travel (see [`Config::public_changes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublicChanges {
    /// Announced on gossipsub.
    Gossip,
    /// Sent by the sync engine to every connected site.
    Direct,
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
    /// `WEFT_RESYNC_INTERVAL_SECS`, `WEFT_PUBLIC_CHANGES`, `WEFT_CHARTER`,
    /// `WEFT_MAIL_DELAY_SECS`, `WEFT_SMTP_PASSWORD` (the `[smtp]` section's password, kept
    /// out of the file), `WEFT_PUBLIC_URL`, `WEFT_TRUSTED_PROXIES`
    /// (comma-separated), `WEFT_METRICS_TOKEN`, `WEFT_LOGIN_FAILURES_PER_ACCOUNT`,
    /// `WEFT_LOGIN_FAILURES_PER_ADDRESS`. Other `WEFT_` variables that name no
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
                "PUBLIC_CHANGES" => {
                    self.public_changes = match v.as_str() {
                        "gossip" => PublicChanges::Gossip,
                        "direct" => PublicChanges::Direct,
                        _ => return Err(bad(format!("{v:?} is not gossip or direct"))),
                    }
                }
                "CACHE_DOCUMENTS" => {
                    self.cache_documents = v
                        .parse()
                        .map_err(|_| bad(format!("{v:?} is not a number of documents")))?
                }
                "MAX_FILE_MB" => {
                    self.max_file_mb = v
                        .parse()
                        .map_err(|_| bad(format!("{v:?} is not a number of MiB")))?
                }
                "MAX_FILES_GB" => {
                    self.max_files_gb = v
                        .parse()
                        .map_err(|_| bad(format!("{v:?} is not a number of GiB")))?
                }
                "FEED_BOT" => self.feed_bot = Some(v).filter(|b| !b.is_empty()),
                "FEEDS_POLL_MINUTES" => {
                    self.feeds_poll_minutes = v
                        .parse()
                        .ok()
                        .filter(|m| *m > 0)
                        .ok_or_else(|| bad(format!("{v:?} is not a number of minutes")))?
                }
                "FEEDS_ALLOW_PRIVATE" => {
                    self.feeds_allow_private = v
                        .parse()
                        .map_err(|_| bad(format!("{v:?} is not true or false")))?
                }
                "FEEDS_MAX_KB" => {
                    self.feeds_max_kb = v
                        .parse()
                        .map_err(|_| bad(format!("{v:?} is not a number of KiB")))?
                }
                "STORE_CACHE_MB" => {
                    self.store_cache_mb = v
                        .parse()
                        .map_err(|_| bad(format!("{v:?} is not a number of MiB")))?
                }
                "CHARTER" => self.charter = Some(v.into()),
                "MAIL_DELAY_SECS" => {
                    self.mail_delay_secs = v
                        .parse()
                        .map_err(|_| bad(format!("{v:?} is not a number of seconds")))?
                }
                "SMTP_PASSWORD" => match &mut self.smtp {
                    Some(s) => s.password = Some(Secret(v)),
                    None => return Err(bad("there is no [smtp] section to set it in".into())),
                },
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
                "PUBLIC_URL" => self.public_url = Some(v),
                "TRUSTED_PROXIES" => self.trusted_proxies = list(&v),
                "METRICS_TOKEN" => self.metrics_token = Some(Secret(v)),
                "LOGIN_FAILURES_PER_ACCOUNT" => {
                    self.login_failures_per_account = v
                        .parse()
                        .map_err(|_| bad(format!("{v:?} is not a number of failures")))?
                }
                "LOGIN_FAILURES_PER_ADDRESS" => {
                    self.login_failures_per_address = v
                        .parse()
                        .map_err(|_| bad(format!("{v:?} is not a number of failures")))?
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
        if let Some(bad_range) = self
            .trusted_proxies
            .iter()
            .find(|r| IpRange::parse(r).is_none())
        {
            return Err(ConfigError {
                key: "trusted_proxies".into(),
                reason: format!("{bad_range:?} is not an address or a CIDR range"),
            });
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(bad("public_url", "must start with https:// (or http://)"));
        }
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.0.trim().len() < 16)
        {
            return Err(bad("metrics_token", "must be at least 16 characters"));
        }
        if self.digest_hour > 23 {
            return Err(bad("digest_hour", "must be an hour, 0 to 23"));
        }
        if let Some(smtp) = &self.smtp {
            if smtp.host.trim().is_empty() {
                return Err(bad("smtp.host", "name the mail server"));
            }
            if smtp.from.parse::<lettre::message::Mailbox>().is_err() {
                return Err(bad(
                    "smtp.from",
                    "must be an address, e.g. Weft <weft@example.com>",
                ));
            }
            if smtp.password.is_some() != smtp.username.is_some() {
                return Err(bad(
                    "smtp.username",
                    "a username and a password go together",
                ));
            }
        }
        if self.login_failures_per_account == 0 || self.login_failures_per_address == 0 {
            return Err(bad(
                "login_failures_per_account",
                "login limits must be at least 1",
            ));
        }
        Ok(())
    }

    /// The parsed [`Config::trusted_proxies`] (those that parse; [`Config::validate`] refuses
    /// the others).
    pub fn proxy_ranges(&self) -> Vec<IpRange> {
        self.trusted_proxies
            .iter()
            .filter_map(|r| IpRange::parse(r))
            .collect()
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
        assert_eq!(c.proxy_ranges().len(), c.trusted_proxies.len());
        assert!(
            c.public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
        );
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
        assert_eq!(c.public_changes, PublicChanges::Gossip);
        c.apply_env([("WEFT_PUBLIC_CHANGES".to_string(), "direct".to_string())])
            .unwrap();
        assert_eq!(c.public_changes, PublicChanges::Direct);
        let err = c
            .apply_env([("WEFT_PUBLIC_CHANGES".to_string(), "flood".to_string())])
            .unwrap_err();
        assert_eq!(err.key, "WEFT_PUBLIC_CHANGES");
        let toml = Config::from_toml("site = \"paris\"\npublic_changes = \"direct\"\n").unwrap();
        assert_eq!(toml.public_changes, PublicChanges::Direct);
        assert!(Config::from_toml("public_changes = \"flood\"\n").is_err());
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
    fn address_ranges_contain_what_they_should() {
        let r = IpRange::parse("10.1.0.0/16").unwrap();
        assert!(r.contains("10.1.200.3".parse().unwrap()));
        assert!(!r.contains("10.2.0.1".parse().unwrap()));
        assert!(r.contains("::ffff:10.1.0.9".parse().unwrap()));
        let one = IpRange::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        assert!(
            IpRange::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        let v6 = IpRange::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "::/129", "example.com", "10.0.0.0/x"] {
            assert_eq!(IpRange::parse(bad), None, "{bad}");
        }
        let c = Config {
            site: "paris".into(),
            trusted_proxies: vec!["10.0.0.0/40".into()],
            ..Config::default()
        };
        assert_eq!(c.validate().unwrap_err().key, "trusted_proxies");
    }

    #[test]
    fn a_mail_server_is_checked_and_its_password_never_printed() {
        let text = "site = \"paris\"\n[smtp]\nhost = \"smtp.example.com\"\nusername = \"weft\"\npassword = \"hunter2-very-secret\"\nfrom = \"Weft Paris <weft@example.com>\"\n";
        let c = Config::from_toml(text).unwrap();
        c.validate().unwrap();
        let smtp = c.smtp.as_ref().unwrap();
        assert_eq!((smtp.port, smtp.tls), (587, SmtpTls::Starttls));
        assert!(!format!("{c:?}").contains("hunter2"));
        let bad =
            Config::from_toml(&text.replace("Weft Paris <weft@example.com>", "nobody")).unwrap();
        assert_eq!(bad.validate().unwrap_err().key, "smtp.from");
        assert!(Config::from_toml(&text.replace("host", "hots")).is_err());
        let mut c = c;
        c.apply_env([("WEFT_SMTP_PASSWORD".to_string(), "from-env".to_string())])
            .unwrap();
        assert_eq!(c.smtp.unwrap().password.unwrap().0, "from-env");
    }

    #[test]
    fn the_metrics_token_is_never_printed() {
        let c = Config {
            metrics_token: Some(Secret("a very secret token".into())),
            ..Config::default()
        };
        assert!(!format!("{c:?}").contains("very secret"));
    }

    #[test]
    fn the_default_http_address_is_loopback() {
        assert!(Config::default().http_addr.ip().is_loopback());
    }
}

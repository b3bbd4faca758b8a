//! The signed corporate directory.
//!
//! A [`Directory`] lists the company's sites and employees. The authority signs each version;
//! versions only go up. Nodes accept a version only if it is newer than the one they hold and
//! is signed by a trusted authority ([`accept`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::authority::{ChainError, CrossCert, TrustAnchors};
use crate::key::PublicKey;
use crate::signed::{Domain, Signed, SignedError, SignedKind};

/// A site's stable id: one lower-case word such as `paris` or `new-york`.
pub type SiteId = String;
/// An employee's stable id, from the directory (`uid`).
pub type EmployeeId = String;

/// The largest signed directory accepted: about 100,000 employees at ~300 bytes each leaves
/// room for the biggest company we aim at (72,000 employees) while bounding what a decoder of
/// untrusted bytes may allocate.
pub const MAX_DIRECTORY_BYTES: usize = 64 * 1024 * 1024;

/// One version of the corporate directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Directory {
    /// Goes up by one at each publication. Nodes refuse anything not newer than what they hold.
    pub version: u64,
    /// When this version was signed, in seconds since the Unix epoch (passed in by the caller).
    pub issued_at: u64,
    /// The organisation's name, for display.
    pub organisation: String,
    /// Cross-certificates from a trusted root to the authority that signed this version, when
    /// a subsidiary authority publishes; empty when a root signs.
    #[serde(default)]
    pub authority_chain: Vec<Signed<CrossCert>>,
    /// Sites by id.
    pub sites: BTreeMap<SiteId, Site>,
    /// Employees by id, including those who have left (kept so that their past posts still
    /// have an author, while their keys are no longer valid).
    pub employees: BTreeMap<EmployeeId, Employee>,
    /// When each version was issued (version → seconds since the Unix epoch), this one
    /// included. Filled in by [`Directory::next_version`]. Nodes judge a change's author as of
    /// the version that was in force when the change says it was made
    /// ([`Directory::version_in_force`]), so naming an old version does not bring back a
    /// standing the directory has since withdrawn. (New in layout 2: trailing, so that layout-1
    /// directories still decode; see [`Directory`]'s `SignedKind::decode_body`.)
    #[serde(default)]
    pub issued: BTreeMap<u64, u64>,
    /// Node keys the authority has revoked (stolen, compromised). A revoked key is no
    /// site's key at *any* version ([`Directory::node_key_at`]): every certificate it signed
    /// is refused from the version that revokes it on, whatever version a change names.
    #[serde(default)]
    pub revoked_keys: Vec<RevokedKey>,
}

/// A node key the authority revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedKey {
    /// The site whose key it was.
    pub site: SiteId,
    pub key: PublicKey,
    /// The directory version that revoked it (filled in by [`Directory::next_version`]).
    #[serde(default)]
    pub from_version: u64,
    /// Why, for operators (`stolen laptop`, `server compromised`).
    #[serde(default)]
    pub reason: String,
}

/// The layout of directories signed before `issued` and `revoked_keys` existed (layout 1).
/// Their signatures cover those bytes, so they are read as they are and converted.
#[derive(Deserialize)]
struct DirectoryLayout1 {
    version: u64,
    issued_at: u64,
    organisation: String,
    authority_chain: Vec<Signed<CrossCert>>,
    sites: BTreeMap<SiteId, Site>,
    employees: BTreeMap<EmployeeId, Employee>,
}

impl SignedKind for Directory {
    const DOMAIN: Domain = Domain::DIRECTORY;
    const KIND: u8 = 1;
    const NAME: &'static str = "directory";
    const MAX_BODY: usize = MAX_DIRECTORY_BYTES;

    fn decode_body(body: &[u8]) -> Result<Directory, String> {
        let current = match postcard::take_from_bytes::<Directory>(body) {
            Ok((d, [])) => return Ok(d),
            Ok((_, rest)) => format!("{} trailing bytes", rest.len()),
            Err(e) => e.to_string(),
        };
        match postcard::take_from_bytes::<DirectoryLayout1>(body) {
            Ok((d, [])) => Ok(Directory {
                issued: BTreeMap::from([(d.version, d.issued_at)]),
                version: d.version,
                issued_at: d.issued_at,
                organisation: d.organisation,
                authority_chain: d.authority_chain,
                sites: d.sites,
                employees: d.employees,
                revoked_keys: Vec::new(),
            }),
            _ => Err(current),
        }
    }
}

/// A signed directory version, as stored and exchanged.
pub type SignedDirectory = Signed<Directory>;

/// A site: one node of the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    /// Stable id, one word (`paris`).
    pub id: SiteId,
    /// Display name (`Paris`).
    pub name: String,
    /// Region, for people and for the simulator's latency model (`Europe`).
    pub region: String,
    /// The node's public key once the site has enrolled; its libp2p peer id derives from it.
    /// Nodes talk only to peers whose key is listed here.
    pub node_key: Option<PublicKey>,
    /// Where the node may be reached (libp2p multiaddrs), as hints for peers.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// The site's node keys over directory versions, oldest first (see [`KeyTenure`]). Filled
    /// in by [`Directory::next_version`].
    #[serde(default)]
    pub key_history: Vec<KeyTenure>,
}

/// From directory version `from_version` on (until the next entry), the site's node key was
/// `node_key`. Kept so that a node holding the latest directory can still check a certificate
/// that an earlier key issued while it was the site's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyTenure {
    pub from_version: u64,
    pub node_key: Option<PublicKey>,
}

/// From directory version `from_version` on (until the next entry), the employee was homed at
/// `site` with `status` and `roles`.
///
/// Why the directory keeps history: a change names the directory version it was signed under,
/// and every node must reach the same verdict on it whatever directory version it holds now.
/// With the history in every version, a node holding version 9 can answer "was this employee
/// active, and homed at that site, in version 7?" exactly as a node still holding version 7
/// would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenure {
    pub from_version: u64,
    pub site: SiteId,
    pub status: Status,
    pub roles: Vec<Role>,
}

/// An employee as the directory knows them. These fields are read-only in the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Employee {
    /// Stable id (`uid`); never reused.
    pub id: EmployeeId,
    /// Full name as shown (`Hélène Dupré`).
    pub display_name: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    pub phone: String,
    /// Home site: the node that holds this employee's key.
    pub site: SiteId,
    pub title: String,
    pub department: String,
    /// The manager's employee id, if any.
    pub manager: Option<EmployeeId>,
    pub roles: Vec<Role>,
    pub status: Status,
    /// Home site, status and roles over directory versions, oldest first (see [`Tenure`]). Filled in
    /// by [`Directory::next_version`]; the last entry always matches `site`, `status` and `roles`.
    #[serde(default)]
    pub history: Vec<Tenure>,
}

/// A role that grants powers beyond an ordinary employee's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May moderate content in every group and see usage analytics.
    CommunityManager,
    /// Runs a site's node (IT).
    SiteAdmin,
    /// Internal communication: makes announcements to the company or to a site.
    Communication,
}

impl Role {
    /// All roles, for parsing and help texts.
    pub const ALL: [Role; 3] = [Role::CommunityManager, Role::SiteAdmin, Role::Communication];

    /// The role's name as written in LDIF, CSV and JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::CommunityManager => "community_manager",
            Role::SiteAdmin => "site_admin",
            Role::Communication => "communication",
        }
    }

    /// Parses a role name; `-`, spaces and case are tolerated (`Community Manager`).
    pub fn parse(text: &str) -> Option<Role> {
        let norm: String = text
            .trim()
            .chars()
            .map(|c| match c {
                '-' | ' ' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        Role::ALL.into_iter().find(|r| r.as_str() == norm)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an employee is still with the company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Active,
    /// Left the company: their key certificates are no longer valid, so nothing new they sign
    /// is accepted.
    Left,
}

/// Why a directory version is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    #[error(transparent)]
    Signed(#[from] SignedError),
    #[error("directory signer is not trusted: {0}")]
    Untrusted(#[from] ChainError),
    #[error("directory version {offered} is not newer than version {held}, which this node holds")]
    NotNewer { held: u64, offered: u64 },
    #[error("directory is inconsistent: {0}")]
    Invalid(String),
}

/// A directory whose signature and signer have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedDirectory {
    /// The directory's content.
    pub directory: Directory,
    /// The authority that signed it.
    pub authority: PublicKey,
    /// The signed form, to store and pass on to peers.
    pub signed: SignedDirectory,
}

impl VerifiedDirectory {
    /// The directory's version.
    pub fn version(&self) -> u64 {
        self.directory.version
    }
}

/// Verifies a signed directory against the trust anchors: signature, signer chain, and the
/// directory's own consistency ([`Directory::validate`]).
pub fn verify(
    signed: &SignedDirectory,
    trust: &TrustAnchors,
) -> Result<VerifiedDirectory, DirectoryError> {
    let directory = signed.open()?;
    trust.check(signed.signer(), &directory.authority_chain)?;
    directory.validate().map_err(DirectoryError::Invalid)?;
    Ok(VerifiedDirectory {
        directory,
        authority: *signed.signer(),
        signed: signed.clone(),
    })
}

/// Accepts `offered` if it verifies and is newer than `held` (the version a node has now).
pub fn accept(
    held: Option<&VerifiedDirectory>,
    offered: &SignedDirectory,
    trust: &TrustAnchors,
) -> Result<VerifiedDirectory, DirectoryError> {
    let verified = verify(offered, trust)?;
    if let Some(held) = held
        && verified.version() <= held.version()
    {
        return Err(DirectoryError::NotNewer {
            held: held.version(),
            offered: verified.version(),
        });
    }
    Ok(verified)
}

impl Directory {
    /// Builds the version after `previous` from an edited `draft`: the version number goes up
    /// by one, and each employee's and site's history gains an entry where their home site,
    /// status or node key changed. People in `previous` whom the draft no longer lists are
    /// kept, marked as having left: a directory never forgets an author.
    pub fn next_version(
        previous: Option<&Directory>,
        draft: &Directory,
        issued_at: u64,
    ) -> Directory {
        let version = previous.map_or(1, |p| p.version + 1);
        let mut next = draft.clone();
        next.version = version;
        next.issued_at = issued_at;
        if let Some(prev) = previous {
            for (id, old) in &prev.employees {
                next.employees
                    .entry(id.clone())
                    .or_insert_with(|| Employee {
                        status: Status::Left,
                        ..old.clone()
                    });
            }
        }
        for (id, e) in &mut next.employees {
            e.history = previous
                .and_then(|p| p.employees.get(id))
                .map(|old| old.history.clone())
                .unwrap_or_default();
            let same = e
                .history
                .last()
                .is_some_and(|t| t.site == e.site && t.status == e.status && t.roles == e.roles);
            if !same {
                e.history.push(Tenure {
                    from_version: version,
                    site: e.site.clone(),
                    status: e.status,
                    roles: e.roles.clone(),
                });
            }
        }
        next.issued = previous.map(|p| p.issued.clone()).unwrap_or_default();
        if let Some(p) = previous {
            next.issued.entry(p.version).or_insert(p.issued_at);
        }
        next.issued.insert(version, issued_at);
        next.revoked_keys = previous.map(|p| p.revoked_keys.clone()).unwrap_or_default();
        for r in &draft.revoked_keys {
            if !next.revoked_keys.iter().any(|k| k.key == r.key) {
                next.revoked_keys.push(RevokedKey {
                    from_version: version,
                    ..r.clone()
                });
            }
        }
        for (id, site) in &mut next.sites {
            site.key_history = previous
                .and_then(|p| p.sites.get(id))
                .map(|old| {
                    // A directory built without history (by hand) held its key all along, as
                    // `node_key_at` answers for it: keep that, so the key is not forgotten
                    // (and can still be revoked) once it changes.
                    if old.key_history.is_empty() && old.node_key.is_some() {
                        vec![KeyTenure {
                            from_version: 1,
                            node_key: old.node_key,
                        }]
                    } else {
                        old.key_history.clone()
                    }
                })
                .unwrap_or_default();
            let same = site
                .key_history
                .last()
                .is_some_and(|k| k.node_key == site.node_key);
            if !same {
                site.key_history.push(KeyTenure {
                    from_version: version,
                    node_key: site.node_key,
                });
            }
        }
        next
    }

    /// The employee's home site, status and roles as of directory `version`, decided from this
    /// (possibly later) version's history. `None` if they were not yet listed then. A directory
    /// built without history (by hand, in tests) answers with its current state.
    pub fn employee_at(&self, id: &str, version: u64) -> Option<Tenure> {
        let e = self.employees.get(id)?;
        if e.history.is_empty() {
            return Some(Tenure {
                from_version: 0,
                site: e.site.clone(),
                status: e.status,
                roles: e.roles.clone(),
            });
        }
        e.history
            .iter()
            .rev()
            .find(|t| t.from_version <= version)
            .cloned()
    }

    /// The site's node key as of directory `version` (see [`Directory::employee_at`]). A key
    /// this directory revokes is no site's key at any version.
    pub fn node_key_at(&self, site: &str, version: u64) -> Option<PublicKey> {
        let s = self.sites.get(site)?;
        let key = if s.key_history.is_empty() {
            s.node_key
        } else {
            s.key_history
                .iter()
                .rev()
                .find(|k| k.from_version <= version)
                .and_then(|k| k.node_key)
        };
        key.filter(|k| !self.is_revoked(k))
    }

    /// The site's node key now, unless revoked.
    pub fn current_node_key(&self, site: &str) -> Option<PublicKey> {
        self.sites
            .get(site)?
            .node_key
            .filter(|k| !self.is_revoked(k))
    }

    /// Whether `key` is or was the node key of `site`, as far as this version's history tells
    /// (revoked or not): the keys whose employee certificates a node may keep. Whether a
    /// certificate is *valid* for a change is decided per change ([`Directory::node_key_at`]).
    pub fn listed_node_key_of(&self, site: &str, key: &PublicKey) -> bool {
        let Some(s) = self.sites.get(site) else {
            return false;
        };
        s.node_key.as_ref() == Some(key)
            || s.key_history
                .iter()
                .any(|k| k.node_key.as_ref() == Some(key))
    }

    /// Whether the authority revoked this node key.
    pub fn is_revoked(&self, key: &PublicKey) -> bool {
        self.revoked_keys.iter().any(|r| &r.key == key)
    }

    /// Whether the employee was ever homed at `site` (as far as this version's history
    /// tells).
    pub fn ever_homed_at(&self, employee: &str, site: &str) -> bool {
        self.employees
            .get(employee)
            .is_some_and(|e| e.site == site || e.history.iter().any(|t| t.site == site))
    }

    /// The newest version issued at or before `secs` (seconds since the epoch), as far as
    /// this version knows: the version in force at that time. `None` if none is known to be
    /// that old.
    pub fn version_in_force(&self, secs: u64) -> Option<u64> {
        let mut best = None;
        for (&v, &at) in &self.issued {
            if at <= secs && v <= self.version {
                best = Some(best.map_or(v, |b: u64| b.max(v)));
            }
        }
        if self.issued_at <= secs {
            best = Some(best.map_or(self.version, |b: u64| b.max(self.version)));
        }
        best
    }

    /// Checks the directory's internal consistency: ids match their keys, every employee's
    /// site exists, site ids are one word, no two sites share a node key, and no two active
    /// employees share an e-mail address. Managers that are not listed are tolerated (the
    /// directory export may be partial) and reported by [`Directory::warnings`].
    pub fn validate(&self) -> Result<(), String> {
        let mut node_keys = BTreeMap::new();
        for (id, site) in &self.sites {
            if id != &site.id {
                return Err(format!("site listed under {id:?} has id {:?}", site.id));
            }
            if !is_site_id(id) {
                return Err(format!(
                    "site id {id:?} must be one lower-case word (letters, digits, '-')"
                ));
            }
            if let Some(key) = site.node_key
                && let Some(other) = node_keys.insert(key, id)
            {
                return Err(format!("sites {other} and {id} share a node key"));
            }
            check_history(
                &format!("site {id}"),
                self.version,
                site.key_history.iter().map(|k| k.from_version),
                site.key_history.last().map(|k| k.node_key == site.node_key),
            )?;
        }
        if self.issued.keys().any(|v| *v > self.version) {
            return Err("issue times name a version after this one".into());
        }
        for r in &self.revoked_keys {
            if r.from_version > self.version {
                return Err(format!(
                    "revoked key of {} is dated after this version",
                    r.site
                ));
            }
        }
        let mut emails = BTreeMap::new();
        for (id, e) in &self.employees {
            if id != &e.id {
                return Err(format!("employee listed under {id:?} has id {:?}", e.id));
            }
            if id.is_empty() {
                return Err("an employee has an empty id".into());
            }
            if !self.sites.contains_key(&e.site) {
                return Err(format!(
                    "employee {id} is homed at unknown site {:?}",
                    e.site
                ));
            }
            check_history(
                &format!("employee {id}"),
                self.version,
                e.history.iter().map(|t| t.from_version),
                e.history
                    .last()
                    .map(|t| t.site == e.site && t.status == e.status && t.roles == e.roles),
            )?;
            if e.status == Status::Active
                && !e.email.is_empty()
                && let Some(other) = emails.insert(e.email.to_lowercase(), id)
            {
                return Err(format!(
                    "employees {other} and {id} share e-mail {}",
                    e.email
                ));
            }
        }
        Ok(())
    }

    /// Things worth telling the operator that do not make the directory invalid.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.employees.values() {
            if let Some(m) = &e.manager
                && !self.employees.contains_key(m)
            {
                out.push(format!("{}: manager {m} is not in the directory", e.id));
            }
        }
        for s in self.sites.values() {
            if s.node_key.is_none() {
                out.push(format!("site {} has not enrolled a node key yet", s.id));
            } else if s.node_key.is_some_and(|k| self.is_revoked(&k)) {
                out.push(format!(
                    "site {}'s node key is revoked: the site is cut off until it enrolls a new key",
                    s.id
                ));
            }
        }
        out
    }

    /// The site whose node holds `key`, if any.
    pub fn site_of_node(&self, key: &PublicKey) -> Option<&Site> {
        self.sites
            .values()
            .find(|s| s.node_key.as_ref() == Some(key))
    }

    /// An employee who is active, or `None`.
    pub fn active_employee(&self, id: &str) -> Option<&Employee> {
        self.employees
            .get(id)
            .filter(|e| e.status == Status::Active)
    }

    /// Employees homed at `site`.
    pub fn employees_at<'a>(&'a self, site: &'a str) -> impl Iterator<Item = &'a Employee> + 'a {
        self.employees.values().filter(move |e| e.site == site)
    }
}

/// A history is valid if its versions strictly increase, none is after the directory's own
/// version, and its last entry matches the current fields (`last_matches`).
fn check_history(
    what: &str,
    version: u64,
    versions: impl Iterator<Item = u64>,
    last_matches: Option<bool>,
) -> Result<(), String> {
    let mut prev = None;
    for v in versions {
        if prev.is_some_and(|p| p >= v) || v > version {
            return Err(format!("{what}: history versions out of order"));
        }
        prev = Some(v);
    }
    if last_matches == Some(false) {
        return Err(format!("{what}: history does not end in the current state"));
    }
    Ok(())
}

/// Whether `id` is a valid site id: 1-32 characters of `a-z`, `0-9` and `-`, starting with a
/// letter.
pub fn is_site_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Turns a site name into a site id: `New York` → `new-york`, `Île-de-France` →
/// `ile-de-france`.
pub fn site_id_from_name(name: &str) -> String {
    let mut id = String::new();
    for c in name.chars() {
        let c = fold_accent(c).to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            id.push(c);
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
    }
    while id.ends_with('-') {
        id.pop();
    }
    if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        id.insert_str(0, "site-");
    }
    id.truncate(32);
    while id.ends_with('-') {
        id.pop();
    }
    id
}

fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'a',
        'ç' | 'Ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
        'ñ' | 'Ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
        'ý' | 'ÿ' | 'Ý' => 'y',
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_ids_from_names() {
        assert_eq!(site_id_from_name("Paris"), "paris");
        assert_eq!(site_id_from_name("New York"), "new-york");
        assert_eq!(site_id_from_name("Île-de-France"), "ile-de-france");
        assert_eq!(site_id_from_name("  Bangalore (HQ) "), "bangalore-hq");
        assert_eq!(site_id_from_name("42 Wall St"), "site-42-wall-st");
        assert!(is_site_id(&site_id_from_name("Ünïcödé City")));
    }

    #[test]
    fn roles_parse_leniently() {
        assert_eq!(
            Role::parse("Community Manager"),
            Some(Role::CommunityManager)
        );
        assert_eq!(Role::parse("site-admin"), Some(Role::SiteAdmin));
        assert_eq!(Role::parse("janitor"), None);
    }
}

//! The keys a node holds: its own, and one per employee homed at its site.
//!
//! An employee's signing key is derived from the node's secret key and the employee's id
//! (SHA-256 over a domain tag, the node seed and the id). The node therefore stores no
//! per-employee secret, a restored node signs with the same keys, and rotating the node key
//! (re-enrolling the site) rotates every employee key of the site at once. This gives nothing
//! away: whoever holds the node key can already sign as the site's employees (DESIGN.md §2).

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};
use weft_crdt::Author;
use weft_keys::{Directory, EmployeeCert, KeyId, SecretKey, Signed, Status};
use zeroize::Zeroizing;

/// The node's identity and the authors it signs for.
pub struct Identity {
    site: String,
    node_key: SecretKey,
    authors: HashMap<String, Author>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Identity({}, node {}, {} authors)",
            self.site,
            self.node_key.public().short(),
            self.authors.len()
        )
    }
}

impl Identity {
    pub fn new(site: impl Into<String>, node_key: SecretKey) -> Identity {
        Identity {
            site: site.into(),
            node_key,
            authors: HashMap::new(),
        }
    }

    pub fn site(&self) -> &str {
        &self.site
    }

    pub fn node_key(&self) -> &SecretKey {
        &self.node_key
    }

    /// The signing key of an employee of this site.
    fn employee_key(&self, employee: &str) -> SecretKey {
        let seed = self.node_key.to_seed();
        let mut h = Sha256::new();
        h.update(b"weft-employee-key/v1\0");
        h.update(seed.as_ref());
        h.update(employee.as_bytes());
        let digest = Zeroizing::new(<[u8; 32]>::from(h.finalize()));
        SecretKey::from_seed(&digest)
    }

    /// Makes (or refreshes) the authors for every active employee the directory homes at this
    /// site, issuing their certificates. Returns the certificates that are new.
    ///
    /// If the directory no longer lists this node's key as its site's (the site re-enrolled
    /// with another key, or the authority revoked this one), the node signs for no one: its
    /// certificates would be refused everywhere anyway.
    pub fn refresh(&mut self, dir: &Directory, now: u64) -> Vec<Signed<EmployeeCert>> {
        self.refresh_reusing(dir, now, |_, _| None)
    }

    /// [`Identity::refresh`], reusing the certificates `known` gives (those a node learnt
    /// before and kept) where this node's key signed them for the same employee, site and
    /// key: a restart then issues no certificate again (it issued one per employee at
    /// every start, each to be checked by every peer).
    pub fn refresh_reusing(
        &mut self,
        dir: &Directory,
        now: u64,
        known: impl Fn(&KeyId, &str) -> Option<Signed<EmployeeCert>>,
    ) -> Vec<Signed<EmployeeCert>> {
        let mut fresh = Vec::new();
        if dir.current_node_key(&self.site) != Some(self.node_key.public()) {
            self.authors.clear();
            return fresh;
        }
        // In id order (the directory's), looked up as a set.
        let here: Vec<String> = dir
            .employees
            .values()
            .filter(|e| e.site == self.site && e.status == Status::Active)
            .map(|e| e.id.clone())
            .collect();
        let set: HashSet<&str> = here.iter().map(String::as_str).collect();
        self.authors.retain(|id, _| set.contains(id.as_str()));
        for id in here {
            if self.authors.contains_key(&id) {
                continue;
            }
            let key = self.employee_key(&id);
            let mine = |c: &Signed<EmployeeCert>| {
                *c.signer() == self.node_key.public()
                    && c.open_unverified().is_ok_and(|b| {
                        b.employee == id && b.site == self.site && b.key == key.public()
                    })
            };
            let cert = match known(&key.public().id(), &id).filter(mine) {
                Some(c) => c,
                None => {
                    let c = Signed::sign(
                        &self.node_key,
                        &EmployeeCert {
                            employee: id.clone(),
                            site: self.site.clone(),
                            key: key.public(),
                            issued_at: now,
                        },
                    );
                    fresh.push(c.clone());
                    c
                }
            };
            self.authors.insert(
                id.clone(),
                Author {
                    employee: id,
                    key,
                    cert,
                },
            );
        }
        fresh
    }

    /// The author for an employee of this site, if active.
    pub fn author(&self, employee: &str) -> Option<&Author> {
        self.authors.get(employee)
    }

    /// How many employees this node signs for.
    pub fn len(&self) -> usize {
        self.authors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.authors.is_empty()
    }
}

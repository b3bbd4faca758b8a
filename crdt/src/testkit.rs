//! A small world of sites and authors for tests, examples, benchmarks and the simulator: an
//! authority, a directory, node keys and employee certificates, all from fixed seeds.

use std::collections::BTreeMap;

use weft_keys::directory::{Directory, Employee, Role, Site, Status};
use weft_keys::{EmployeeCert, SecretKey, Signed, TrustAnchors};

use crate::local::Author;
use crate::replica::Replica;

/// A deterministic company: sites `site0..`, employees `e0..` spread over them.
#[derive(Debug, Clone)]
pub struct World {
    pub authority: SecretKey,
    pub nodes: Vec<SecretKey>,
    pub sites: Vec<String>,
    pub directory: Signed<Directory>,
    pub authors: Vec<Author>,
}

fn seed(tag: u8, n: u32) -> SecretKey {
    let mut s = [tag; 32];
    s[..4].copy_from_slice(&n.to_be_bytes());
    SecretKey::from_seed(&s)
}

impl World {
    /// `sites` sites and `employees` employees (employee `i` homed at site `i % sites`).
    /// Employee `e0` is a community manager.
    pub fn new(sites: usize, employees: usize) -> World {
        let authority = seed(1, 0);
        let nodes: Vec<SecretKey> = (0..sites as u32).map(|i| seed(2, i)).collect();
        let site_ids: Vec<String> = (0..sites).map(|i| format!("site{i}")).collect();
        let mut dir = Directory {
            organisation: "Test Corp".into(),
            ..Directory::default()
        };
        for (i, id) in site_ids.iter().enumerate() {
            dir.sites.insert(
                id.clone(),
                Site {
                    id: id.clone(),
                    name: id.clone(),
                    region: "Europe".into(),
                    node_key: Some(nodes[i].public()),
                    addresses: vec![],
                    key_history: vec![],
                },
            );
        }
        let mut authors = Vec::new();
        for i in 0..employees {
            let id = format!("e{i}");
            let site = site_ids[i % sites].clone();
            dir.employees.insert(
                id.clone(),
                Employee {
                    id: id.clone(),
                    display_name: format!("Employee {i}"),
                    given_name: "Employee".into(),
                    family_name: format!("{i}"),
                    email: format!("e{i}@test.example"),
                    phone: String::new(),
                    site: site.clone(),
                    title: String::new(),
                    department: String::new(),
                    manager: None,
                    roles: if i == 0 {
                        vec![Role::CommunityManager]
                    } else {
                        vec![]
                    },
                    status: Status::Active,
                    history: vec![],
                },
            );
            let key = seed(3, i as u32);
            let cert = Signed::sign(
                &nodes[i % sites],
                &EmployeeCert {
                    employee: id.clone(),
                    site,
                    key: key.public(),
                    issued_at: 0,
                },
            );
            authors.push(Author {
                employee: id,
                key,
                cert,
            });
        }
        let dir = Directory::next_version(None, &dir, 0);
        let directory = Signed::sign(&authority, &dir);
        World {
            authority,
            nodes,
            sites: site_ids,
            directory,
            authors,
        }
    }

    /// A replica that trusts the authority and holds the directory and every certificate.
    pub fn replica(&self) -> Replica {
        let mut r = Replica::new(TrustAnchors::single(self.authority.public()));
        // The directory was built above and signed by the trusted authority.
        let _ = r.set_directory(&self.directory);
        for a in &self.authors {
            let _ = r.add_certificate(&a.cert);
        }
        r
    }

    /// Publishes the next directory version after `edit`.
    pub fn publish(&mut self, edit: impl FnOnce(&mut Directory)) {
        let Ok(current) = self.directory.open() else {
            return;
        };
        let mut draft = current.clone();
        edit(&mut draft);
        let next = Directory::next_version(Some(&current), &draft, current.issued_at + 1);
        self.directory = Signed::sign(&self.authority, &next);
    }
}

/// One site, one author: for examples.
pub fn one_site() -> (Replica, Author) {
    let w = World::new(1, 1);
    let r = w.replica();
    (r, w.authors[0].clone())
}

/// Keeps `BTreeMap` in the public signature set stable for callers that build directories.
pub type Sites = BTreeMap<String, Site>;

/// Makes and signs a change on a copy of `doc` **without judging it**: how tests forge
/// changes that an honest node would never make (someone else's post, a non-owner's rename).
/// `new_kind` makes a new document of that kind instead (`doc` is then ignored).
pub fn unchecked_change(
    replica: &Replica,
    author: &Author,
    doc: Option<&crate::DocId>,
    new_kind: crate::DocKind,
    auth_heads: Vec<automerge::ChangeHash>,
    now: i64,
    edit: impl FnOnce(
        &mut automerge::transaction::Transaction<'_>,
    ) -> Result<(), automerge::AutomergeError>,
) -> Option<crate::SignedChange> {
    use automerge::ReadDoc;
    use automerge::transaction::CommitOptions;
    let mut am = match doc {
        Some(id) => replica.doc(id)?.automerge().clone(),
        None => automerge::Automerge::new(),
    };
    am.set_actor(crate::ids::actor_of(author.key.public().id()));
    let context = crate::change::Context {
        doc: doc.cloned(),
        kind: doc.map_or(new_kind, |d| d.kind()),
        dir_version: replica.directory().map_or(1, |d| d.version()),
        auth_heads,
    };
    let mut tx = am.transaction();
    edit(&mut tx).ok()?;
    let (hash, _) = tx.commit_with(
        CommitOptions::default()
            .with_time(now)
            .with_message(context.to_message()),
    );
    let change = am.get_change_by_hash(&hash?)?;
    crate::SignedChange::seal(&author.key, &author.employee, change).ok()
}

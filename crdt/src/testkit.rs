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

    /// Publishes the next directory version after `edit`, issued one second after the
    /// current one.
    pub fn publish(&mut self, edit: impl FnOnce(&mut Directory)) {
        let at = self.directory.open().map_or(0, |d| d.issued_at + 1);
        self.publish_at(at, edit);
    }

    /// Publishes the next directory version after `edit`, issued at `secs` (seconds since the
    /// epoch).
    pub fn publish_at(&mut self, secs: u64, edit: impl FnOnce(&mut Directory)) {
        let Ok(current) = self.directory.open() else {
            return;
        };
        let mut draft = current.clone();
        edit(&mut draft);
        let next = Directory::next_version(Some(&current), &draft, secs);
        self.directory = Signed::sign(&self.authority, &next);
    }

    /// A certificate for `key` as employee `employee` of `site`, signed by `node` (for forging
    /// and squatting tests).
    pub fn cert(
        node: &SecretKey,
        employee: &str,
        site: &str,
        key: &SecretKey,
    ) -> Signed<EmployeeCert> {
        Signed::sign(
            node,
            &EmployeeCert {
                employee: employee.into(),
                site: site.into(),
                key: key.public(),
                issued_at: 0,
            },
        )
    }
}

/// One site, one author: for examples.
pub fn one_site() -> (Replica, Author) {
    let w = World::new(1, 1);
    let r = w.replica();
    (r, w.authors[0].clone())
}

/// Makes and signs a change on a copy of `doc` **without judging it**: how tests forge
/// changes that an honest node would never make (someone else's post, a non-owner's rename).
/// `new_kind` makes a new document of that kind instead (`doc` is then ignored). The change
/// still passes the decoder's limits; see [`unchecked_bytes`] for one that need not.
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
    let bytes = unchecked_bytes(replica, author, doc, new_kind, auth_heads, now, None, edit)?;
    crate::SignedChange::decode(&bytes).ok()
}

/// Like [`unchecked_change`], but returns the signed bytes without decoding them (so the
/// change may break the decoder's limits: a change an older build let its own users make),
/// optionally naming directory version `dir_version` instead of the replica's.
#[allow(clippy::too_many_arguments)]
pub fn unchecked_bytes(
    replica: &Replica,
    author: &Author,
    doc: Option<&crate::DocId>,
    new_kind: crate::DocKind,
    auth_heads: Vec<automerge::ChangeHash>,
    now: i64,
    dir_version: Option<u64>,
    edit: impl FnOnce(
        &mut automerge::transaction::Transaction<'_>,
    ) -> Result<(), automerge::AutomergeError>,
) -> Option<Vec<u8>> {
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
        dir_version: dir_version.unwrap_or_else(|| replica.directory().map_or(1, |d| d.version())),
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
    let mut body = Vec::with_capacity(1 + change.raw_bytes().len());
    body.push(crate::change::FORMAT);
    body.extend_from_slice(change.raw_bytes());
    Some(
        weft_keys::Envelope::seal(
            weft_keys::Domain::CHANGE,
            &author.key,
            &author.employee,
            &body,
        )
        .to_bytes(),
    )
}

/// A tiny deterministic random source for tests and the simulator (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 >= 1.0 - p
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Nodes connected by an in-memory network, each a [`crate::sync::Engine`] and a
/// [`Replica`]: the harness for sync tests and benchmarks.
pub struct Cluster {
    pub world: World,
    pub engines: Vec<crate::sync::Engine>,
    pub replicas: Vec<Replica>,
    /// Frames in flight: (from, to, bytes).
    pub wire: std::collections::VecDeque<(usize, usize, Vec<u8>)>,
    /// Which pairs are connected.
    pub links: std::collections::BTreeSet<(usize, usize)>,
    pub now_ms: u64,
    /// Events seen, per node.
    pub events: Vec<Vec<crate::sync::Event>>,
}

impl Cluster {
    /// One node per site of `world`, not yet connected.
    pub fn new(world: World, config: crate::sync::Config) -> Cluster {
        let n = world.sites.len();
        let engines = world
            .sites
            .iter()
            .map(|s| crate::sync::Engine::new(s.clone(), config.clone()))
            .collect();
        let replicas = (0..n).map(|_| world.replica()).collect();
        Cluster {
            world,
            engines,
            replicas,
            wire: Default::default(),
            links: Default::default(),
            now_ms: 0,
            events: vec![Vec::new(); n],
        }
    }

    fn index(&self, site: &str) -> Option<usize> {
        self.world.sites.iter().position(|s| s == site)
    }

    /// Connects nodes `a` and `b`.
    pub fn connect(&mut self, a: usize, b: usize) {
        self.links.insert((a.min(b), a.max(b)));
        let (sa, sb) = (self.world.sites[a].clone(), self.world.sites[b].clone());
        self.engines[a].handle_connect(&sb, self.now_ms, &self.replicas[a]);
        self.engines[b].handle_connect(&sa, self.now_ms, &self.replicas[b]);
        self.collect();
    }

    /// Connects every pair.
    pub fn connect_all(&mut self) {
        let n = self.engines.len();
        for a in 0..n {
            for b in a + 1..n {
                self.connect(a, b);
            }
        }
    }

    /// Cuts the link between `a` and `b` (frames in flight between them are lost).
    pub fn disconnect(&mut self, a: usize, b: usize) {
        self.links.remove(&(a.min(b), a.max(b)));
        let (sa, sb) = (self.world.sites[a].clone(), self.world.sites[b].clone());
        self.engines[a].handle_disconnect(&sb);
        self.engines[b].handle_disconnect(&sa);
        self.wire
            .retain(|(f, t, _)| !((*f == a && *t == b) || (*f == b && *t == a)));
    }

    /// Moves frames from the engines' outboxes onto the wire, and events into `events`.
    pub fn collect(&mut self) {
        for i in 0..self.engines.len() {
            while let Some((to, frame)) = self.engines[i].poll_transmit() {
                if let Some(j) = self.index(&to)
                    && self.links.contains(&(i.min(j), i.max(j)))
                {
                    self.wire.push_back((i, j, frame));
                }
            }
            while let Some(e) = self.engines[i].poll_event() {
                self.events[i].push(e);
            }
        }
    }

    /// Delivers one frame; false if none was in flight.
    pub fn step(&mut self) -> bool {
        let Some((from, to, frame)) = self.wire.pop_front() else {
            return false;
        };
        let site = self.world.sites[from].clone();
        self.engines[to].handle_frame(&site, &frame, self.now_ms, &mut self.replicas[to]);
        // Handled: the sender learns it was delivered (a node's network acknowledges it).
        let to_site = self.world.sites[to].clone();
        self.engines[from].handle_delivered(&to_site, &self.replicas[from]);
        self.collect();
        true
    }

    /// Delivers frames until none is in flight (bounded, in case of a bug). Time stands
    /// still: see [`Cluster::settle`].
    pub fn run(&mut self) -> usize {
        let mut n = 0;
        while n < 1_000_000 && self.step() {
            n += 1;
        }
        n
    }

    /// Like [`Cluster::run`], but when the wire falls quiet a second passes (what an engine
    /// does when time passes, it does), and delivery goes on while that sends anything.
    pub fn settle(&mut self) -> usize {
        let mut n = 0;
        loop {
            n += self.run();
            self.tick(1_000);
            if self.wire.is_empty() || n >= 1_000_000 {
                return n;
            }
        }
    }

    /// Advances time by `ms` and lets due catch-up rounds start.
    pub fn tick(&mut self, ms: u64) {
        self.now_ms += ms;
        for i in 0..self.engines.len() {
            self.engines[i].handle_tick(self.now_ms, &mut self.replicas[i]);
        }
        self.collect();
    }

    /// Tells node `i`'s engine about local changes just made on its replica.
    pub fn announce(&mut self, i: usize, changes: &[crate::SignedChange]) {
        for c in changes {
            self.engines[i].handle_local_change(c, &self.replicas[i]);
        }
        self.collect();
    }

    /// A summary of what node `i` holds (in memory or put away): document id → sorted
    /// heads.
    pub fn state(&self, i: usize) -> BTreeMap<crate::DocId, Vec<automerge::ChangeHash>> {
        let r = &self.replicas[i];
        r.doc_ids()
            .map(|id| (id.clone(), r.heads_of(id).unwrap_or_default()))
            .collect()
    }
}

/// A [`crate::DocSource`] in memory: what a node's store would hold of each document after
/// a commit. [`MemSource::save`] copies in every document a replica holds in memory.
#[derive(Debug, Default)]
pub struct MemSource(std::sync::Mutex<BTreeMap<crate::DocId, Vec<Vec<u8>>>>);

impl MemSource {
    /// Stores every document `replica` holds in memory (as a node does at each commit).
    pub fn save(&self, replica: &Replica) {
        let mut docs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for d in replica.docs() {
            docs.insert(
                d.id().clone(),
                d.changes().map(|c| c.bytes().to_vec()).collect(),
            );
        }
    }
}

impl crate::DocSource for MemSource {
    fn changes_of(&self, doc: &crate::DocId) -> Result<Vec<Vec<u8>>, String> {
        let docs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Ok(docs.get(doc).cloned().unwrap_or_default())
    }
}

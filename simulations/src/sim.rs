//! The discrete-event simulator: an event queue in simulated time, one real
//! [`Engine`] and [`Replica`] per site, and the network of [`crate::net`].
//!
//! Internally time is kept in microseconds; the engines see milliseconds.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

use weft_crdt::sync::{Config as EngineConfig, Engine, Event};
use weft_crdt::testkit::{Rng, World};
use weft_crdt::{DocId, NewGroup, Replica, SignedChange, Visibility};

use crate::net::{self, LinkModel, Region};
use crate::report::{self, Report};

mod byzantine;

pub use byzantine::{ByzantineSpec, Forgery};

/// "Not yet" in the arrival table.
const NEVER: u64 = u64::MAX;
/// Simulated milliseconds are offset by this for the timestamps written into changes (any
/// fixed value does; it keeps them looking like real Unix times).
const EPOCH_MS: i64 = 1_700_000_000_000;
/// Posting starts this long after the start, once the first connections are up.
const WARMUP_US: u64 = 10_000_000;
/// How many recent public threads replies are drawn from.
const RECENT_THREADS: usize = 64;
/// How often the progress callback is called, in simulated time.
const PROGRESS_EVERY_US: u64 = 600_000_000;

/// A fault injected into a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Every connection between `region` and the rest of the world is cut from `start_ms` to
    /// `end_ms` (sites keep posting on both sides).
    Partition {
        region: Region,
        start_ms: u64,
        end_ms: u64,
    },
    /// `site` crashes at `start_ms` (its connections drop, its engine's state is lost, its
    /// stored replica survives) and restarts at `end_ms` with a fresh engine.
    Crash {
        site: usize,
        start_ms: u64,
        end_ms: u64,
    },
    /// `site` (in the directory from the start) first comes up at `at_ms`, empty: it holds the
    /// directory and certificates but no document.
    Join { site: usize, at_ms: u64 },
}

/// A private group whose members are homed at a few sites.
#[derive(Debug, Clone, PartialEq)]
pub struct PrivateGroupSpec {
    /// The sites homing a member (the first is the owner's).
    pub member_sites: Vec<usize>,
    /// Share of all posts made in this group (by its members).
    pub share: f64,
}

/// Which sites connect to which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// Every site connects to every other (engines with `relay: false`): a change goes
    /// straight from its origin to every site. Costs N × (N − 1) / 2 connections, and as many
    /// catch-up rounds per sync period.
    FullMesh,
    /// The first site of each region is its hub; hubs connect to each other and to every
    /// site of their region; other sites connect only to their region's hub. Engines relay
    /// (`relay: true`). About 2N connections.
    RegionalHubs,
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub sites: usize,
    /// Directory entries (authors, each with a key) per site. Posting volume does not depend
    /// on it: a site's authors post on behalf of all the site's employees.
    pub authors_per_site: usize,
    pub seed: u64,
    /// How long posts are made.
    pub duration_ms: u64,
    /// Simulated time after the last post, without new posts, to let everything settle.
    pub drain_ms: u64,
    /// The engines' catch-up period (one "sync period").
    pub resync_interval_ms: u64,
    pub link: LinkModel,
    /// Public groups existing at the start (created before the run and held by every site).
    pub groups: usize,
    /// Posts (new threads and replies) per simulated day, company-wide.
    pub posts_per_day: usize,
    /// Share of posts that start a new thread (the rest reply to a recent one).
    pub new_thread_share: f64,
    /// Length of a post's body in bytes.
    pub body_len: usize,
    pub faults: Vec<Fault>,
    pub private_group: Option<PrivateGroupSpec>,
    /// One byzantine site (see [`ByzantineSpec`]); it needs `authors_per_site` ≥ 3.
    pub byzantine: Option<ByzantineSpec>,
    pub topology: Topology,
    /// How many near peers each site announces pushed changes to (the engine's
    /// `repair_peers`; 0: none).
    pub repair_peers: usize,
    /// The engine's `repair_grace_ms`.
    pub repair_grace_ms: u64,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            sites: 20,
            authors_per_site: 2,
            seed: 1,
            duration_ms: 86_400_000,
            drain_ms: 1_200_000,
            resync_interval_ms: 600_000,
            link: LinkModel::default(),
            groups: 200,
            posts_per_day: 1_000,
            new_thread_share: 0.3,
            body_len: 280,
            faults: Vec::new(),
            private_group: None,
            byzantine: None,
            topology: Topology::FullMesh,
            repair_peers: EngineConfig::default().repair_peers,
            repair_grace_ms: EngineConfig::default().repair_grace_ms,
        }
    }
}

/// Where a long run is.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub sim_ms: u64,
    pub end_ms: u64,
    pub events: u64,
    pub posts: u64,
}

#[derive(Debug)]
enum Ev {
    Deliver {
        from: usize,
        to: usize,
        epoch: u64,
        frame: Vec<u8>,
    },
    Tick(usize),
    /// The engine's repairs are due (see `Sim::wake_for_repairs`).
    Wake(usize),
    Post(usize),
    PrivateSetup,
    Byzantine(byzantine::Step),
    Fault {
        index: usize,
        start: bool,
    },
    Progress,
}

#[derive(Debug)]
struct Scheduled {
    at: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    // Reversed: BinaryHeap is a max-heap and we want the earliest (then the first scheduled).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

#[derive(Debug)]
struct Site {
    replica: Replica,
    engine: Engine,
    alive: bool,
    uplink_free_us: u64,
    /// When a wake-up for the engine's repairs is scheduled (see `Sim::wake_for_repairs`).
    wake_at_us: Option<u64>,
    bytes_sent: u64,
    bytes_received: u64,
    frames_sent: u64,
    frames_received: u64,
    /// Changes put into frames by this site's engines (harvested from ended sessions).
    changes_sent: u64,
    /// Changes put into frames for this site by the others' engines (harvested likewise).
    changes_received: u64,
}

#[derive(Debug, Default, Clone)]
struct Link {
    up: bool,
    epoch: u64,
    frames: u64,
    last_arrival_us: u64,
}

/// One change made during the run (or present at the start) whose spread is followed.
#[derive(Debug)]
struct Tracked {
    origin: usize,
    created_us: u64,
    is_post: bool,
    expected: Vec<bool>,
    arrivals: Vec<u64>,
}

#[derive(Debug, Clone, Copy)]
struct PlannedPost {
    site: usize,
    private: bool,
    group: usize,
    new_thread: bool,
}

#[derive(Debug)]
struct Private {
    spec: PrivateGroupSpec,
    allowed: Vec<bool>,
    group: Option<DocId>,
    threads: Vec<DocId>,
    docs: HashSet<DocId>,
    changes: Vec<[u8; 32]>,
}

/// A recovery to measure: after `at_us`, how long until the `sites` hold every change made
/// before `at_us` that they should hold.
#[derive(Debug)]
struct Recovery {
    label: String,
    at_us: u64,
    sites: Vec<usize>,
}

/// The simulator.
pub struct Sim {
    cfg: SimConfig,
    world: World,
    names: Vec<String>,
    index: HashMap<String, usize>,
    regions: Vec<Region>,
    is_hub: Vec<bool>,
    sites: Vec<Site>,
    links: Vec<Link>,
    cuts: Vec<Region>,
    queue: BinaryHeap<Scheduled>,
    seq: u64,
    now_us: u64,
    rng: Rng,
    nonce: u64,
    changes: Vec<Tracked>,
    tracked: HashMap<[u8; 32], usize>,
    plan: Vec<PlannedPost>,
    group_ids: Vec<DocId>,
    recent_threads: Vec<DocId>,
    private: Option<Private>,
    byz: Option<byzantine::State>,
    recoveries: Vec<Recovery>,
    events: u64,
    posts_made: u64,
    posts_skipped: u64,
    frames_dropped: u64,
    rejected: u64,
    refused: u64,
    malformed: u64,
    /// Reconciliations finished (as each side reports them), and those that found a
    /// difference.
    reconciliations: u64,
    reconciliations_differing: u64,
    /// Changes refused at honest sites, by reason.
    rejections: BTreeMap<&'static str, u64>,
    /// Waiting changes dropped after waiting too long, at all sites.
    expired: u64,
    violations: Vec<String>,
    progress: Option<Box<dyn FnMut(Progress)>>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Sim({} sites, t = {} ms, {} events)",
            self.sites.len(),
            self.now_us / 1000,
            self.events
        )
    }
}

fn engine_config(cfg: &SimConfig) -> EngineConfig {
    EngineConfig {
        resync_interval_ms: cfg.resync_interval_ms,
        relay: cfg.topology == Topology::RegionalHubs,
        push_public: true,
        repair_peers: cfg.repair_peers,
        repair_grace_ms: cfg.repair_grace_ms,
        ..EngineConfig::default()
    }
}

/// Builds and runs a simulation, returning its report.
pub fn run(cfg: &SimConfig) -> Report {
    Sim::new(cfg.clone()).run()
}

impl Sim {
    /// Sets up the world: the directory, the groups every site holds at the start, the
    /// posting plan, the fault schedule, and the first connections.
    pub fn new(mut cfg: SimConfig) -> Sim {
        let n = cfg.sites.max(2);
        let mut violations = Vec::new();
        if let Some(b) = &cfg.byzantine {
            let sites = [b.site, b.victim_site, b.group_sites[0], b.group_sites[1]];
            if sites.iter().any(|s| *s >= n)
                || b.group_sites.contains(&b.site)
                || b.victim_site == b.site
            {
                violations.push(format!("byzantine scenario not run: bad sites {sites:?}"));
                cfg.byzantine = None;
            } else {
                cfg.authors_per_site = cfg.authors_per_site.max(3);
            }
        }
        let mut world = World::new(n, n * cfg.authors_per_site.max(1));
        // The byzantine scenario: the directory's second version, before anything is made.
        let stolen = cfg
            .byzantine
            .as_ref()
            .map(|b| byzantine::prepare_world(&mut world, b, cfg.authors_per_site));
        // Nothing is made by an employee who left: the byzantine site's departed employee.
        let departed = cfg.byzantine.as_ref().map(|b| (b.site + n, b.site));
        let names = world.sites.clone();
        let index = names
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i))
            .collect();
        let regions: Vec<Region> = (0..n).map(Region::of_site).collect();
        let engine_config = engine_config(&cfg);
        let mut hubs = Vec::new();
        for r in Region::ALL {
            if let Some(h) = regions.iter().position(|x| *x == r) {
                hubs.push(h);
            }
        }
        let is_hub = (0..n).map(|i| hubs.contains(&i)).collect();

        // The groups that exist before the run: made once, then every site starts with a copy.
        let empty = world.replica();
        let mut seed_replica = empty.clone();
        let mut seed_changes = Vec::new();
        let mut group_ids = Vec::new();
        for g in 0..cfg.groups {
            let mut a = g % world.authors.len();
            if let Some((left, instead)) = departed
                && a == left
            {
                a = instead;
            }
            let author = &world.authors[a];
            let home = &names[g % n];
            let name = format!("Group {g}");
            if let Ok(c) = seed_replica.create_group(
                author,
                &NewGroup {
                    name: &name,
                    description: "A community of practice",
                    visibility: Visibility::Public,
                    home_site: home,
                },
                EPOCH_MS,
                g as u64,
            ) {
                group_ids.push(c.doc().clone());
                seed_changes.push(c);
            }
        }
        let joining: HashSet<usize> = cfg
            .faults
            .iter()
            .filter_map(|f| match f {
                Fault::Join { site, .. } => Some(*site),
                _ => None,
            })
            .collect();
        // The byzantine scenario's removal group, held by its members' sites from the start.
        let (member_replica, byz) = match (&cfg.byzantine, &stolen) {
            (Some(spec), Some(stolen)) => {
                match byzantine::setup(&world, spec, &seed_replica, stolen) {
                    Some((r, state)) => (Some(r), Some(state)),
                    None => {
                        violations.push("could not set up the byzantine scenario".to_owned());
                        (None, None)
                    }
                }
            }
            _ => (None, None),
        };
        let sites = (0..n)
            .map(|i| Site {
                replica: if joining.contains(&i) {
                    empty.clone()
                } else if let (Some(r), Some(b)) = (&member_replica, &byz)
                    && b.group_holders().contains(&i)
                {
                    r.clone()
                } else {
                    seed_replica.clone()
                },
                engine: Engine::new(names[i].clone(), engine_config.clone()),
                alive: !joining.contains(&i),
                uplink_free_us: 0,
                wake_at_us: None,
                bytes_sent: 0,
                bytes_received: 0,
                frames_sent: 0,
                frames_received: 0,
                changes_sent: 0,
                changes_received: 0,
            })
            .collect();

        let private = cfg.private_group.as_ref().map(|spec| {
            let mut allowed = vec![false; n];
            for s in &spec.member_sites {
                if *s < n {
                    allowed[*s] = true;
                }
            }
            Private {
                spec: spec.clone(),
                allowed,
                group: None,
                threads: Vec::new(),
                docs: HashSet::new(),
                changes: Vec::new(),
            }
        });

        let mut sim = Sim {
            rng: Rng::new(cfg.seed),
            world,
            names,
            index,
            regions,
            is_hub,
            sites,
            links: vec![Link::default(); n * n],
            cuts: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            now_us: 0,
            nonce: 1_000_000,
            changes: Vec::new(),
            tracked: HashMap::new(),
            plan: Vec::new(),
            group_ids,
            recent_threads: Vec::new(),
            private,
            byz,
            recoveries: Vec::new(),
            events: 0,
            posts_made: 0,
            posts_skipped: 0,
            frames_dropped: 0,
            rejected: 0,
            refused: 0,
            malformed: 0,
            reconciliations: 0,
            reconciliations_differing: 0,
            rejections: BTreeMap::new(),
            expired: 0,
            violations,
            progress: None,
            cfg,
        };
        for c in &seed_changes {
            let k = sim.changes.len();
            sim.tracked.insert(c.hash().0, k);
            sim.changes.push(Tracked {
                origin: 0,
                created_us: 0,
                is_post: false,
                expected: vec![true; n],
                arrivals: (0..n)
                    .map(|i| if joining.contains(&i) { NEVER } else { 0 })
                    .collect(),
            });
        }
        sim.plan_posts();
        sim.schedule_faults();
        sim.schedule_byzantine();
        if sim.private.is_some() {
            sim.schedule(WARMUP_US / 2, Ev::PrivateSetup);
        }
        let tick = sim.tick_us();
        for i in 0..n {
            let phase = sim.rng.below(tick as usize) as u64;
            sim.schedule(phase, Ev::Tick(i));
        }
        sim.schedule(PROGRESS_EVERY_US, Ev::Progress);
        for a in 0..n {
            for b in a + 1..n {
                if sim.reachable(a, b) {
                    sim.connect(a, b);
                }
            }
        }
        sim
    }

    /// Calls `f` every ten simulated minutes.
    pub fn on_progress(&mut self, f: impl FnMut(Progress) + 'static) {
        self.progress = Some(Box::new(f));
    }

    fn n(&self) -> usize {
        self.sites.len()
    }

    fn tick_us(&self) -> u64 {
        (self.cfg.resync_interval_ms * 1000 / 4).max(1000)
    }

    fn end_us(&self) -> u64 {
        (self.cfg.duration_ms + self.cfg.drain_ms) * 1000
    }

    fn schedule(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Scheduled {
            at,
            seq: self.seq,
            ev,
        });
    }

    /// How active a region is at a UTC time: a working day from 8:00 to 18:00 local time with
    /// a lunch dip, some evening activity, little at night.
    fn activity(region: Region, t_us: u64) -> f64 {
        let hour_us = 3_600_000_000i64;
        let local = (t_us as i64 + region.utc_offset_hours() * hour_us).rem_euclid(24 * hour_us);
        match local / hour_us {
            0..=6 => 0.02,
            7 => 0.3,
            8..=11 | 13..=16 => 1.0,
            12 => 0.6,
            17 => 0.7,
            18..=21 => 0.2,
            _ => 0.05,
        }
    }

    /// Draws every post of the run: its time (following the sun), its site, its kind.
    fn plan_posts(&mut self) {
        let duration = self.cfg.duration_ms * 1000;
        if duration <= WARMUP_US {
            return;
        }
        let count = (self.cfg.posts_per_day as u128 * self.cfg.duration_ms as u128 / 86_400_000u128)
            as usize;
        let n = self.n();
        let private_sites: Vec<usize> = self
            .private
            .as_ref()
            .map(|p| p.spec.member_sites.clone())
            .unwrap_or_default();
        let private_share = self.private.as_ref().map_or(0.0, |p| p.spec.share);
        let groups = self.group_ids.len().max(1);
        for _ in 0..count {
            let private = !private_sites.is_empty() && self.rng.chance(private_share);
            let site = if private {
                private_sites[self.rng.below(private_sites.len())]
            } else {
                self.rng.below(n)
            };
            // Rejection sampling of the time against the site's daily activity curve.
            let mut t;
            loop {
                t = WARMUP_US + (self.rng.next_u64() % (duration - WARMUP_US));
                let u = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                if u < Self::activity(self.regions[site], t) {
                    break;
                }
            }
            // Popular groups get most posts (a squared uniform skews towards low indices).
            let u = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let group = ((u * u) * groups as f64) as usize % groups;
            let new_thread = self.rng.chance(self.cfg.new_thread_share);
            let k = self.plan.len();
            self.plan.push(PlannedPost {
                site,
                private,
                group,
                new_thread,
            });
            self.schedule(t, Ev::Post(k));
        }
    }

    fn schedule_faults(&mut self) {
        let faults = self.cfg.faults.clone();
        for (i, f) in faults.iter().enumerate() {
            let (start, end) = match f {
                Fault::Partition {
                    start_ms, end_ms, ..
                }
                | Fault::Crash {
                    start_ms, end_ms, ..
                } => (*start_ms, Some(*end_ms)),
                Fault::Join { at_ms, .. } => (*at_ms, None),
            };
            match end {
                Some(end) => {
                    self.schedule(
                        start * 1000,
                        Ev::Fault {
                            index: i,
                            start: true,
                        },
                    );
                    self.schedule(
                        end * 1000,
                        Ev::Fault {
                            index: i,
                            start: false,
                        },
                    );
                }
                None => self.schedule(
                    start * 1000,
                    Ev::Fault {
                        index: i,
                        start: false,
                    },
                ),
            }
        }
    }

    fn link(&self, a: usize, b: usize) -> &Link {
        &self.links[a * self.n() + b]
    }

    /// Whether the topology has a connection between `a` and `b`.
    fn wants(&self, a: usize, b: usize) -> bool {
        match self.cfg.topology {
            Topology::FullMesh => true,
            Topology::RegionalHubs => {
                (self.is_hub[a] && self.is_hub[b])
                    || ((self.is_hub[a] || self.is_hub[b]) && self.regions[a] == self.regions[b])
            }
        }
    }

    fn reachable(&self, a: usize, b: usize) -> bool {
        self.wants(a, b)
            && self.sites[a].alive
            && self.sites[b].alive
            && !self
                .cuts
                .iter()
                .any(|r| (self.regions[a] == *r) != (self.regions[b] == *r))
    }

    fn connect(&mut self, a: usize, b: usize) {
        let n = self.n();
        let epoch = self.links[a * n + b].epoch + 1;
        for (x, y) in [(a, b), (b, a)] {
            let l = &mut self.links[x * n + y];
            l.up = true;
            l.epoch = epoch;
        }
        let now_ms = self.now_us / 1000;
        for (x, y) in [(a, b), (b, a)] {
            let rtt = u64::from(net::RTT_MS[self.regions[x].index()][self.regions[y].index()]);
            let s = &mut self.sites[x];
            s.engine.handle_connect(&self.names[y], now_ms, &s.replica);
            // What the node measures from its frames' acknowledgements.
            s.engine.set_peer_rtt(&self.names[y], rtt);
        }
        self.collect(a);
        self.collect(b);
    }

    fn disconnect(&mut self, a: usize, b: usize) {
        let n = self.n();
        let epoch = self.links[a * n + b].epoch + 1;
        for (x, y) in [(a, b), (b, a)] {
            let l = &mut self.links[x * n + y];
            l.up = false;
            l.epoch = epoch;
            let name = self.names[y].clone();
            let s = &mut self.sites[x];
            let sent = s.engine.traffic(&name).changes_sent;
            s.changes_sent += sent;
            s.engine.handle_disconnect(&name);
            self.sites[y].changes_received += sent;
        }
    }

    /// Brings every pair involving `touched` sites in line with reachability.
    fn refresh(&mut self, touched: &[usize]) {
        let n = self.n();
        let mut pairs = Vec::new();
        let touched_set: HashSet<usize> = touched.iter().copied().collect();
        for &a in touched {
            for b in 0..n {
                if a != b && !(touched_set.contains(&b) && b < a) {
                    pairs.push((a.min(b), a.max(b)));
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        for (a, b) in pairs {
            let want = self.reachable(a, b);
            let up = self.link(a, b).up;
            if want && !up {
                self.connect(a, b);
            } else if !want && up {
                self.disconnect(a, b);
            }
        }
    }

    /// Moves site `i`'s outgoing frames onto the network and handles its events.
    fn collect(&mut self, i: usize) {
        let mut out = Vec::new();
        while let Some((to, frame)) = self.sites[i].engine.poll_transmit() {
            if let Some(&j) = self.index.get(&to) {
                out.push((j, frame));
            }
        }
        // The engine keeps peers in a hash map: put frames in a canonical order (stable, so
        // each peer's own order is kept) so that runs do not depend on its iteration order.
        out.sort_by_key(|(j, _)| *j);
        for (j, frame) in out {
            self.send(i, j, frame);
        }
        while let Some(e) = self.sites[i].engine.poll_event() {
            self.on_event(i, e);
        }
        self.wake_for_repairs(i);
    }

    /// Schedules a wake-up when the site's engine has announced changes to ask for (the
    /// node's loop sleeps until the engine's next timeout; the simulator otherwise ticks
    /// only every quarter period).
    fn wake_for_repairs(&mut self, i: usize) {
        let Some(at_ms) = self.sites[i].engine.next_repair_ms() else {
            return;
        };
        let at = (at_ms * 1000).max(self.now_us);
        let s = &mut self.sites[i];
        if s.wake_at_us.is_some_and(|w| w <= at && w >= self.now_us) {
            return;
        }
        s.wake_at_us = Some(at);
        self.schedule(at, Ev::Wake(i));
    }

    fn send(&mut self, from: usize, to: usize, frame: Vec<u8>) {
        let n = self.n();
        if !self.links[from * n + to].up {
            self.frames_dropped += 1;
            return;
        }
        let model = &self.cfg.link;
        let tx = model.transmit_us(frame.len());
        let s = &mut self.sites[from];
        let start = self.now_us.max(s.uplink_free_us);
        s.uplink_free_us = start + tx;
        s.bytes_sent += frame.len() as u64;
        s.frames_sent += 1;
        let base = net::one_way_us(self.regions[from], self.regions[to]);
        let l = &mut self.links[from * n + to];
        let prop = model.propagation_us(self.cfg.seed, from, to, l.frames, base);
        l.frames += 1;
        // A connection is an ordered stream: a frame never overtakes the one before it.
        let arrival = (start + tx + prop).max(l.last_arrival_us);
        l.last_arrival_us = arrival;
        let epoch = l.epoch;
        self.schedule(
            arrival,
            Ev::Deliver {
                from,
                to,
                epoch,
                frame,
            },
        );
    }

    fn on_event(&mut self, site: usize, e: Event) {
        match e {
            Event::Ingested {
                accepted, rejected, ..
            } => {
                self.rejected += rejected.len() as u64;
                if self.byz.as_ref().is_some_and(|b| b.site() != site) {
                    for (_, r) in &rejected {
                        *self.rejections.entry(r.code()).or_default() += 1;
                    }
                }
                for (doc, hash) in accepted {
                    if let Some(b) = &mut self.byz {
                        b.on_accepted(site, &hash);
                    }
                    if let Some(&k) = self.tracked.get(&hash.0) {
                        let t = &mut self.changes[k];
                        if t.arrivals[site] == NEVER {
                            t.arrivals[site] = self.now_us;
                        }
                    }
                    if let Some(p) = &self.private
                        && !p.allowed[site]
                        && p.docs.contains(&doc)
                    {
                        self.violations.push(format!(
                            "{} accepted a change of private document {doc} at {} ms",
                            self.names[site],
                            self.now_us / 1000
                        ));
                    }
                }
            }
            Event::Malformed { .. } => self.malformed += 1,
            Event::Reconciled { differing, .. } => {
                self.reconciliations += 1;
                if differing > 0 {
                    self.reconciliations_differing += 1;
                }
            }
            Event::Expired { changes } => self.expired += changes as u64,
            Event::Refused { .. } | Event::RefusedByPeer { .. } => self.refused += 1,
            _ => {}
        }
    }

    /// Follows a change made at `origin` now.
    fn track(&mut self, c: &SignedChange, origin: usize, is_post: bool) {
        let n = self.n();
        let private_doc = self
            .private
            .as_ref()
            .is_some_and(|p| p.docs.contains(c.doc()));
        let expected: Vec<bool> = if private_doc {
            self.private
                .as_ref()
                .map(|p| p.allowed.clone())
                .unwrap_or_default()
        } else {
            let r = &self.sites[origin].replica;
            if r.is_public(c.doc()) {
                vec![true; n]
            } else {
                (0..n)
                    .map(|j| j == origin || r.may_hold(&self.names[j], c.doc()))
                    .collect()
            }
        };
        let mut arrivals = vec![NEVER; n];
        arrivals[origin] = self.now_us;
        self.tracked.insert(c.hash().0, self.changes.len());
        self.changes.push(Tracked {
            origin,
            created_us: self.now_us,
            is_post,
            expected,
            arrivals,
        });
        if private_doc && let Some(p) = &mut self.private {
            p.changes.push(c.hash().0);
        }
    }

    fn announce(&mut self, site: usize, changes: &[SignedChange]) {
        for c in changes {
            let s = &mut self.sites[site];
            s.engine.handle_local_change(c, &s.replica);
        }
        self.collect(site);
    }

    fn body(&mut self) -> String {
        let mut b = format!("Post {} from the simulator. ", self.nonce);
        while b.len() < self.cfg.body_len {
            b.push_str("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ");
        }
        b.truncate(self.cfg.body_len.max(8));
        b
    }

    fn author_index(&self, site: usize, slot: usize) -> usize {
        site + slot * self.n()
    }

    fn private_setup(&mut self) {
        let Some(p) = &self.private else { return };
        let sites = p.spec.member_sites.clone();
        let Some(&owner_site) = sites.first() else {
            return;
        };
        let now = EPOCH_MS + (self.now_us / 1000) as i64;
        let owner = self.world.authors[self.author_index(owner_site, 0)].clone();
        let home = self.names[owner_site].clone();
        self.nonce += 1;
        let nonce = self.nonce;
        let made = self.sites[owner_site].replica.create_group(
            &owner,
            &NewGroup {
                name: "Project Nightingale",
                description: "Confidential",
                visibility: Visibility::Private,
                home_site: &home,
            },
            now,
            nonce,
        );
        let Ok(genesis) = made else {
            self.violations
                .push("could not create the private group".to_owned());
            return;
        };
        let gid = genesis.doc().clone();
        if let Some(p) = &mut self.private {
            p.group = Some(gid.clone());
            p.docs.insert(gid.clone());
        }
        self.track(&genesis, owner_site, false);
        let mut made = vec![genesis];
        for &s in sites.iter().skip(1) {
            let member = self.world.authors[self.author_index(s, 0)].employee.clone();
            if let Ok(c) = self.sites[owner_site]
                .replica
                .add_member(&owner, &gid, &member, now)
            {
                self.track(&c, owner_site, false);
                made.push(c);
            }
        }
        self.announce(owner_site, &made);
    }

    fn post(&mut self, k: usize) {
        let p = self.plan[k];
        if !self.sites[p.site].alive {
            self.posts_skipped += 1;
            return;
        }
        let now = EPOCH_MS + (self.now_us / 1000) as i64;
        let mut slot = if p.private {
            0
        } else {
            self.rng.below(self.cfg.authors_per_site.max(1))
        };
        if let Some(b) = &self.byz {
            slot = b.honest_slot(p.site, slot);
        }
        let author_index = self.author_index(p.site, slot);
        let author = self.world.authors[author_index].clone();
        self.nonce += 1;
        let nonce = self.nonce;
        let body = self.body();
        let replica = &self.sites[p.site].replica;
        // Pick the thread to reply to, or the group to start one in.
        let (group, threads) = if p.private {
            match &self.private {
                Some(pr) => (pr.group.clone(), pr.threads.clone()),
                None => (None, Vec::new()),
            }
        } else {
            (
                self.group_ids.get(p.group).cloned(),
                self.recent_threads.clone(),
            )
        };
        let held: Vec<&DocId> = threads
            .iter()
            .filter(|t| replica.doc(t).is_some_and(|d| !d.is_empty()))
            .collect();
        let reply_to = if p.new_thread || held.is_empty() {
            None
        } else {
            Some(held[self.rng.below(held.len())].clone())
        };
        let replica = &mut self.sites[p.site].replica;
        let made = match (reply_to, group) {
            (Some(thread), _) => replica
                .reply(&author, &thread, &body, None, now, nonce)
                .map(|(c, _)| vec![c]),
            (None, Some(g)) if replica.doc(&g).is_some_and(|d| !d.is_empty()) => replica
                .create_thread(&author, &g, "A thread", &body, now, nonce)
                .map(|(genesis, listed)| vec![genesis, listed]),
            _ => {
                self.posts_skipped += 1;
                return;
            }
        };
        let made = match made {
            Ok(m) => m,
            Err(e) => {
                self.violations.push(format!(
                    "post refused locally at {}: {e}",
                    self.names[p.site]
                ));
                return;
            }
        };
        if made.len() == 2 {
            let thread = made[0].doc().clone();
            if p.private {
                if let Some(pr) = &mut self.private {
                    pr.docs.insert(thread.clone());
                    pr.threads.push(thread);
                }
            } else {
                self.recent_threads.push(thread);
                if self.recent_threads.len() > RECENT_THREADS {
                    self.recent_threads.remove(0);
                }
            }
        }
        let first = self.changes.len();
        for (i, c) in made.iter().enumerate() {
            self.track(c, p.site, i == 0);
        }
        if let Some(b) = &mut self.byz
            && b.squatted == author_index
            && b.squat_sent_us.is_some()
        {
            b.squatted_changes.extend(first..self.changes.len());
        }
        self.posts_made += 1;
        self.announce(p.site, &made);
    }

    fn fault(&mut self, index: usize, start: bool) {
        let Some(f) = self.cfg.faults.get(index).cloned() else {
            return;
        };
        let n = self.n();
        match f {
            Fault::Partition { region, .. } => {
                let members: Vec<usize> = (0..n).filter(|&i| self.regions[i] == region).collect();
                if start {
                    self.cuts.push(region);
                } else {
                    self.cuts.retain(|r| *r != region);
                    self.recoveries.push(Recovery {
                        label: format!("{} partition healed", region.name()),
                        at_us: self.now_us,
                        sites: (0..n).collect(),
                    });
                }
                self.refresh(&members);
            }
            Fault::Crash { site, .. } => {
                if start {
                    self.sites[site].alive = false;
                    self.refresh(&[site]);
                    // Whatever the engine knew is lost; the stored replica survives.
                    let s = &mut self.sites[site];
                    s.engine = Engine::new(self.names[site].clone(), engine_config(&self.cfg));
                } else {
                    self.sites[site].alive = true;
                    self.recoveries.push(Recovery {
                        label: format!("{} restarted", self.names[site]),
                        at_us: self.now_us,
                        sites: vec![site],
                    });
                    self.refresh(&[site]);
                }
            }
            Fault::Join { site, .. } => {
                self.sites[site].alive = true;
                self.recoveries.push(Recovery {
                    label: format!("{} joined empty", self.names[site]),
                    at_us: self.now_us,
                    sites: vec![site],
                });
                self.refresh(&[site]);
            }
        }
    }

    fn step(&mut self, s: Scheduled) {
        self.now_us = s.at;
        self.events += 1;
        match s.ev {
            Ev::Deliver {
                from,
                to,
                epoch,
                frame,
            } => {
                let l = self.link(from, to);
                if !l.up || l.epoch != epoch {
                    self.frames_dropped += 1;
                    return;
                }
                let now_ms = self.now_us / 1000;
                let site = &mut self.sites[to];
                site.bytes_received += frame.len() as u64;
                site.frames_received += 1;
                site.engine
                    .handle_frame(&self.names[from], &frame, now_ms, &mut site.replica);
                self.collect(to);
            }
            Ev::Tick(i) => {
                if self.sites[i].alive {
                    let s = &mut self.sites[i];
                    s.engine.handle_tick(self.now_us / 1000, &mut s.replica);
                    self.collect(i);
                }
                let next = self.now_us + self.tick_us();
                self.schedule(next, Ev::Tick(i));
            }
            Ev::Wake(i) => {
                if self.sites[i].wake_at_us == Some(self.now_us) {
                    self.sites[i].wake_at_us = None;
                }
                if self.sites[i].alive {
                    let s = &mut self.sites[i];
                    s.engine.handle_tick(self.now_us / 1000, &mut s.replica);
                    self.collect(i);
                }
            }
            Ev::Post(k) => self.post(k),
            Ev::PrivateSetup => self.private_setup(),
            Ev::Byzantine(step) => self.byzantine_step(step),
            Ev::Fault { index, start } => self.fault(index, start),
            Ev::Progress => {
                let p = Progress {
                    sim_ms: self.now_us / 1000,
                    end_ms: self.end_us() / 1000,
                    events: self.events,
                    posts: self.posts_made,
                };
                if let Some(f) = &mut self.progress {
                    f(p);
                }
                let next = self.now_us + PROGRESS_EVERY_US;
                self.schedule(next, Ev::Progress);
            }
        }
    }

    /// Runs to the end and reports.
    pub fn run(mut self) -> Report {
        let end = self.end_us();
        while let Some(s) = self.queue.pop() {
            if s.at > end {
                break;
            }
            self.step(s);
        }
        self.now_us = end;
        self.finish()
    }

    fn finish(mut self) -> Report {
        let n = self.n();
        // Harvest the change counters of the sessions still open.
        for a in 0..n {
            for b in 0..n {
                if a != b && self.link(a, b).up {
                    let t = self.sites[a].engine.traffic(&self.names[b]);
                    self.sites[a].changes_sent += t.changes_sent;
                    self.sites[b].changes_received += t.changes_sent;
                }
            }
        }
        // The private group must be nowhere else, not even waiting.
        if let Some(p) = &self.private {
            for (i, s) in self.sites.iter().enumerate() {
                if p.allowed[i] {
                    continue;
                }
                for d in &p.docs {
                    if s.replica.doc(d).is_some_and(|x| !x.is_empty()) {
                        self.violations.push(format!(
                            "{} holds private document {d} at the end",
                            self.names[i]
                        ));
                    }
                    for h in &p.changes {
                        if let Some(&k) = self.tracked.get(h)
                            && self.changes[k].arrivals[i] != NEVER
                        {
                            self.violations
                                .push(format!("{} received a private change", self.names[i]));
                        }
                    }
                }
            }
        }

        let leaks = self.byzantine_leaks();
        self.violations.extend(leaks);
        let byzantine = self.byzantine_result();
        let mut input = report::Input {
            sites: n,
            regions: self.regions.clone(),
            simulated_ms: self.end_us() / 1000,
            posting_ms: self.cfg.duration_ms,
            resync_interval_ms: self.cfg.resync_interval_ms,
            posts: self.posts_made,
            posts_skipped: self.posts_skipped,
            events: self.events,
            frames_dropped: self.frames_dropped,
            rejected: self.rejected,
            refused: self.refused,
            malformed: self.malformed,
            reconciliations: self.reconciliations,
            reconciliations_differing: self.reconciliations_differing,
            repairs: self.sites.iter().fold((0, 0), |(a, b), s| {
                let (x, y) = s.engine.repair_counts();
                (a + x, b + y)
            }),
            violations: std::mem::take(&mut self.violations),
            byzantine,
            ..report::Input::default()
        };
        let mut digest = net::mix(&[self.cfg.seed, self.events]);
        let mut needed = 0u64;
        let mut needed_at = vec![0u64; n];
        for t in &self.changes {
            let mut worst = 0u64;
            let mut bound = 0u64;
            let mut complete = true;
            for (j, needed_here) in needed_at.iter_mut().enumerate() {
                digest = net::mix(&[digest, t.arrivals[j]]);
                if !t.expected[j] {
                    continue;
                }
                let seeded = t.created_us == 0 && t.arrivals[j] == 0;
                if j != t.origin && !seeded {
                    needed += 1;
                    *needed_here += 1;
                }
                if j == t.origin {
                    continue;
                }
                if t.arrivals[j] == NEVER {
                    complete = false;
                    continue;
                }
                if t.is_post {
                    let latency = t.arrivals[j] - t.created_us;
                    let b = net::shortest_one_way_us(self.regions[t.origin], self.regions[j]);
                    input.deliveries.push((latency, b));
                    worst = worst.max(latency);
                    bound = bound.max(b);
                }
            }
            if t.is_post {
                if complete {
                    input.convergence.push((worst, bound));
                } else {
                    input.unconverged += 1;
                }
            }
        }
        input.needed_deliveries = needed;
        for r in &self.recoveries {
            let mut worst = 0u64;
            let mut missing = 0u64;
            for t in self.changes.iter().filter(|t| t.created_us <= r.at_us) {
                for &s in &r.sites {
                    if !t.expected[s] {
                        continue;
                    }
                    match t.arrivals[s] {
                        NEVER => missing += 1,
                        a => worst = worst.max(a.saturating_sub(r.at_us)),
                    }
                }
            }
            input.recoveries.push(report::RecoveryResult {
                label: r.label.clone(),
                at_ms: r.at_us / 1000,
                converged_after_ms: (missing == 0).then_some(worst / 1000),
                missing,
            });
        }
        for (i, s) in self.sites.iter().enumerate() {
            let storage: u64 = s
                .replica
                .docs()
                .flat_map(|d| d.changes())
                .map(|c| c.bytes().len() as u64)
                .sum();
            input.per_site.push(report::SiteStats {
                site: self.names[i].clone(),
                region: self.regions[i],
                bytes_sent: s.bytes_sent,
                bytes_received: s.bytes_received,
                frames_sent: s.frames_sent,
                frames_received: s.frames_received,
                changes_sent: s.changes_sent,
                changes_received: s.changes_received,
                needed_here: needed_at[i],
                storage_bytes: storage,
                docs: s.replica.docs().count() as u64,
                pending: s.replica.pending_len() as u64,
            });
        }
        if let Some(b) = &input.byzantine {
            for c in &b.classes {
                digest = net::mix(&[digest, c.made, c.sent, c.accepted, c.held_at_end]);
            }
        }
        input.digest = digest;
        Report::from_input(input)
    }
}

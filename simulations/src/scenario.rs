//! The named scenarios, parameterised by sites, seed and length.
//!
//! Volumes are scaled from Alcatel-Lucent's internal network (72,000 employees, 4,000 groups,
//! 300–500 people posting on a given day): the company's posting volume is simulated in full
//! ([`POSTS_PER_DAY`], spread over however many sites are simulated), while the directory and
//! the group count are scaled down ([`AUTHORS_PER_SITE`], [`GROUPS`]) because they only set
//! how many keys and documents each replica holds, not how much moves.

use crate::net::Region;
use crate::sim::{ByzantineSpec, Fault, PrivateGroupSpec, SimConfig, Topology};

/// Posts per day company-wide: 400 people posting (the middle of 300–500), 2.5 posts each.
pub const POSTS_PER_DAY: usize = 1_000;
/// Groups existing at the start: 4,000 ÷ 20.
pub const GROUPS: usize = 200;
/// Directory entries per site (each a separately keyed author who posts for the site).
pub const AUTHORS_PER_SITE: usize = 2;

/// A scenario's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Everyone up, posting follows the sun.
    Steady,
    /// A region is cut off for hours, then reconnected.
    Partition,
    /// A site crashes and restarts; an empty site joins.
    CrashJoin,
    /// A private group with members at three sites.
    Private,
    /// Steady traffic, and one byzantine site (the last) sending every class of forgery.
    Byzantine,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Steady,
        Kind::Partition,
        Kind::CrashJoin,
        Kind::Private,
        Kind::Byzantine,
    ];

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "steady" => Some(Kind::Steady),
            "partition" => Some(Kind::Partition),
            "crash" | "crash-join" => Some(Kind::CrashJoin),
            "private" => Some(Kind::Private),
            "byzantine" => Some(Kind::Byzantine),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Steady => "steady",
            Kind::Partition => "partition",
            Kind::CrashJoin => "crash-join",
            Kind::Private => "private",
            Kind::Byzantine => "byzantine",
        }
    }
}

/// The parameters every scenario takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub sites: usize,
    pub seed: u64,
    /// Posting time in milliseconds.
    pub duration_ms: u64,
    /// The engines' resync interval (one sync period).
    pub resync_interval_ms: u64,
    pub posts_per_day: usize,
    pub groups: usize,
    /// The probability that a frame is lost on a link (`None`: the link model's default).
    pub loss: Option<f64>,
    /// `None`: a full mesh, at any size (the topology the node uses: every site lists every
    /// other as a peer, and changes go straight from their origin to the sites that may hold
    /// them).
    pub topology: Option<Topology>,
    /// Near peers each site announces pushed changes to (`None`: the engine's default).
    pub repair_peers: Option<usize>,
    /// How long an announced change is waited for before it is asked (`None`: the default).
    pub repair_grace_ms: Option<u64>,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            sites: 20,
            seed: 1,
            duration_ms: 86_400_000,
            resync_interval_ms: 600_000,
            posts_per_day: POSTS_PER_DAY,
            groups: GROUPS,
            loss: None,
            topology: None,
            repair_peers: None,
            repair_grace_ms: None,
        }
    }
}

/// The simulator configuration of a scenario.
pub fn config(kind: Kind, p: &Params) -> SimConfig {
    let sites = p.sites.max(3);
    let d = p.duration_ms;
    let mut cfg = SimConfig {
        sites,
        authors_per_site: AUTHORS_PER_SITE,
        seed: p.seed,
        duration_ms: d,
        drain_ms: 2 * p.resync_interval_ms,
        resync_interval_ms: p.resync_interval_ms,
        groups: p.groups,
        posts_per_day: p.posts_per_day,
        topology: p.topology.unwrap_or(Topology::FullMesh),
        ..SimConfig::default()
    };
    // A site that is not the first of its region (so not a hub), other than the last site
    // (which joins late in the crash scenario).
    let ordinary = (1..sites - 1)
        .rev()
        .find(|&i| (0..i).any(|j| Region::of_site(j) == Region::of_site(i)))
        .unwrap_or(1);
    if let Some(loss) = p.loss {
        cfg.link.loss = loss;
    }
    if let Some(n) = p.repair_peers {
        cfg.repair_peers = n;
    }
    if let Some(ms) = p.repair_grace_ms {
        cfg.repair_grace_ms = ms;
    }
    match kind {
        Kind::Steady => {}
        Kind::Partition => {
            // Asia (site 2 is the first Asian site) is cut off from a quarter of the run for
            // three hours, or for a quarter of the run if that is shorter.
            let start = d / 4;
            cfg.faults.push(Fault::Partition {
                region: Region::Asia,
                start_ms: start,
                end_ms: start + (3 * 3_600_000).min(d / 4),
            });
        }
        Kind::CrashJoin => {
            cfg.faults.push(Fault::Crash {
                site: ordinary,
                start_ms: d / 4,
                end_ms: d / 4 + (2 * 3_600_000).min(d / 5),
            });
            cfg.faults.push(Fault::Join {
                site: sites - 1,
                at_ms: d / 2,
            });
        }
        Kind::Private => {
            let mut members = vec![0, sites / 3, 2 * sites / 3];
            members.dedup();
            cfg.private_group = Some(PrivateGroupSpec {
                member_sites: members,
                share: 0.1,
            });
        }
        Kind::Byzantine => {
            // The last site is byzantine: it needs three authors (the member removed from a
            // private group, an employee who left, a member who stays). Its stolen key is
            // the ordinary site's old one; the private group is owned at site 0, with a
            // member at the middle site. The removal comes at a tenth of the run, forgeries
            // at each fifth.
            cfg.authors_per_site = 3;
            cfg.byzantine = Some(ByzantineSpec {
                site: sites - 1,
                victim_site: ordinary,
                group_sites: [0, sites / 2],
                removal_ms: d / 10,
                rounds_ms: (1..5).map(|k| k * d / 5).collect(),
            });
        }
    }
    cfg
}

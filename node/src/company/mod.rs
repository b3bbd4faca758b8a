//! A generated company, for benchmarks and tests at the size of the companies Weft serves
//! (issue 15: 57,000 people, 4,000 groups, a million posts).
//!
//! [`Company::new`] makes, from a [`Spec`] and its seed alone, the authority, the signed
//! directory (sites of long-tailed sizes, people with names, titles, departments and
//! managers) and every site's node key. [`Company::generate`] then writes a year of history
//! into a node's [`Core`]: groups of long-tailed sizes (public, private and secret), people
//! joining them, threads of 1 to 300 posts with mentions and topics, likes, profiles, in
//! English and French — in time order, each change made by its author's key (derived from
//! their site's node key, as that node would), signed, judged against the certificates,
//! standing and write rules, and committed to the store by [`Core::local_as`], the path a
//! node's own writes take. The node therefore holds what a site holding everything would
//! have written and received; a site's share is what it receives from that node by sync.
//!
//! Everything is deterministic: the same spec gives the same directory, keys, documents and
//! [`Truth`] (what was written, for the tests' oracles).
//!
//! Not part of the node's API: hidden from the documentation, used by `weft bench company`,
//! `node/tests/company.rs` and the company benchmark.

mod words;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use weft_crdt::testkit::Rng;
use weft_crdt::{Author, DocId, NewGroup, ProfileUpdate, Visibility};
use weft_keys::directory::SignedDirectory;
use weft_keys::{Directory, Employee, Role, SecretKey, Signed, Site, Status, TrustAnchors};

use crate::identity::Identity;
use crate::{Core, NodeError, Store};

/// 2026-11-30T00:00:00Z: where generated histories end (fixed, so that a spec always gives
/// the same company).
pub const END_MS: i64 = 1_795_996_800_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// Changes made between two commits (one flush each), as a busy node's batches.
const COMMIT_EVERY: usize = 256;
/// Changes between two commits of the search index.
const SEARCH_EVERY: usize = 20_000;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    pub people: usize,
    pub sites: usize,
    /// Groups, "All company" included.
    pub groups: usize,
    /// Posts: thread openings and replies.
    pub posts: usize,
    /// How many days of history, ending at [`END_MS`].
    pub days: u32,
    pub seed: u64,
}

impl Default for Spec {
    /// The company of issue 15, scaled down a tenth in people and groups and twenty times in
    /// posts: the test suite's size.
    fn default() -> Spec {
        Spec {
            people: 5_000,
            sites: 40,
            groups: 400,
            posts: 50_000,
            days: 60,
            seed: 1,
        }
    }
}

impl Spec {
    /// Alcatel-Lucent's figures (the sources): 57,000 registered, 4,000 groups, a million
    /// posts over a year, on 40 sites.
    pub fn alcatel() -> Spec {
        Spec {
            people: 57_000,
            sites: 40,
            groups: 4_000,
            posts: 1_000_000,
            days: 365,
            seed: 1,
        }
    }

    /// Refuses a spec that cannot make a company.
    pub fn check(&self) -> Result<(), String> {
        if self.sites == 0 || self.people < 2 * self.sites {
            return Err("at least one site and two people per site".into());
        }
        if self.groups == 0 || self.days == 0 {
            return Err("at least one group and one day".into());
        }
        if self.sites > 999 {
            return Err("at most 999 sites".into());
        }
        // A signed directory holds at most about 100,000 people (MAX_DIRECTORY_BYTES).
        if self.people > 100_000 {
            return Err("at most 100,000 people (the largest directory a node accepts)".into());
        }
        if self.groups > self.people {
            return Err("at most one group per person".into());
        }
        if self.posts > 20_000_000 || self.days > 3_650 {
            return Err("at most 20,000,000 posts over at most 3,650 days".into());
        }
        Ok(())
    }

    fn start_ms(&self) -> i64 {
        END_MS - i64::from(self.days) * DAY
    }
}

/// A company's keys and directory.
pub struct Company {
    pub spec: Spec,
    pub authority: SecretKey,
    pub directory: SignedDirectory,
    /// Every site's node key, by site id.
    pub site_keys: BTreeMap<String, SecretKey>,
}

impl std::fmt::Debug for Company {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Company({:?})", self.spec)
    }
}

/// What a generation wrote: the figures, and what the tests' oracles need.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Truth {
    pub groups: Vec<GroupTruth>,
    pub threads: usize,
    pub posts: usize,
    pub replies: usize,
    pub likes: usize,
    /// Members added after a group's creation (its owner is its first).
    pub memberships: usize,
    pub profiles: usize,
    pub mentions: usize,
    /// Signed changes written.
    pub changes: usize,
    /// Threads and people followed, by employees of the generating node's site.
    pub follows: usize,
    /// Words planted in one post each (`kw` and a number in base 36): the post's thread and
    /// id, for a search oracle.
    pub tokens: BTreeMap<String, (String, String)>,
    pub millis: u64,
}

/// A group as generated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupTruth {
    pub id: String,
    pub name: String,
    pub visibility: String,
    pub owner: String,
    /// Everyone who joined, the owner first.
    pub members: Vec<String>,
    pub threads: usize,
}

/// How far a generation is, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Changes written so far.
    pub changes: usize,
    /// Changes the plan holds (likes are planned as posts are written: an estimate until
    /// the end).
    pub planned: usize,
    pub elapsed: std::time::Duration,
}

fn derive_seed(seed: u64, label: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"weft-company/v1\0");
    h.update(seed.to_be_bytes());
    h.update(label.as_bytes());
    h.finalize().into()
}

/// Lower-case ASCII letters of a name (`Hélène` → `helene`), for ids and e-mail addresses.
fn ascii_word(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = match c {
            'à' | 'â' | 'ä' | 'á' | 'À' | 'Â' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' => 'e',
            'î' | 'ï' | 'í' => 'i',
            'ô' | 'ö' | 'ó' => 'o',
            'ù' | 'û' | 'ü' | 'ú' => 'u',
            'ç' => 'c',
            c => c,
        };
        if c.is_ascii_alphabetic() {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A number from `0..n`, small ones far more likely (a long tail: P(i) ∝ 1/(i+1)^~1).
fn long_tail(rng: &mut Rng, n: usize) -> usize {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (((n as f64 + 1.0).powf(u) - 1.0) as usize).min(n.saturating_sub(1))
}

fn uniform(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// An exponentially distributed delay of this mean, at least a minute.
fn delay(rng: &mut Rng, mean: i64) -> i64 {
    let u = uniform(rng).max(1e-12);
    ((-u.ln() * mean as f64) as i64).max(60_000)
}

fn base36(mut n: u64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The id, display name and region of the site of size rank `i`.
fn site_info(i: usize) -> (String, String, String) {
    match words::SITES.get(i) {
        Some(&(id, name, region)) => (id.to_owned(), name.to_owned(), region.to_owned()),
        None => {
            let (_, _, region) = words::SITES[i % words::SITES.len()];
            (
                format!("site-{:03}", i + 1),
                format!("Site {}", i + 1),
                region.to_owned(),
            )
        }
    }
}

/// A region's offset from UTC in hours, for working hours.
fn utc_offset(region: &str) -> i64 {
    match region {
        "Americas" => -5,
        "Asia" => 6,
        _ => 1,
    }
}

impl Company {
    /// The company's authority, directory (version 1, issued a day before the history
    /// starts) and node keys, from the spec alone.
    pub fn new(spec: Spec) -> Result<Company, String> {
        spec.check()?;
        let authority = SecretKey::from_seed(&derive_seed(spec.seed, "authority"));
        let mut rng = Rng::new(spec.seed ^ 0x5349_5445);
        let weights: Vec<f64> = (0..spec.sites)
            .map(|r| 1.0 / ((r + 1) as f64).powf(0.8))
            .collect();
        let total: f64 = weights.iter().sum();
        let mut sizes: Vec<usize> = weights
            .iter()
            .map(|w| ((spec.people as f64 * w / total) as usize).max(2))
            .collect();
        let assigned: usize = sizes.iter().sum();
        if assigned > spec.people {
            return Err("too many sites for so few people".into());
        }
        sizes[0] += spec.people - assigned;
        let mut dir = Directory {
            organisation: "Generated Company".into(),
            ..Directory::default()
        };
        let mut site_keys = BTreeMap::new();
        let mut taken: HashSet<String> = HashSet::new();
        for (i, &n) in sizes.iter().enumerate() {
            let (id, name, region) = site_info(i);
            let key = SecretKey::from_seed(&derive_seed(spec.seed, &format!("site/{id}")));
            dir.sites.insert(
                id.clone(),
                Site {
                    id: id.clone(),
                    name,
                    region: region.clone(),
                    node_key: Some(key.public()),
                    addresses: Vec::new(),
                    key_history: Vec::new(),
                },
            );
            site_keys.insert(id.clone(), key);
            let mut ids: Vec<String> = Vec::with_capacity(n);
            for k in 0..n {
                let (given, family) = match (region.as_str(), rng.below(10)) {
                    ("Europe" | "Africa", 0..=6) | ("Americas", 0) => {
                        (words::GIVEN_FR, words::FAMILY_FR)
                    }
                    ("Asia", 0..=8) => (words::GIVEN_IN, words::FAMILY_IN),
                    _ => (words::GIVEN_EN, words::FAMILY_EN),
                };
                let given = given[rng.below(given.len())];
                let family = family[rng.below(family.len())];
                let base = format!(
                    "{}{}",
                    ascii_word(given).chars().next().unwrap_or('x'),
                    ascii_word(family)
                );
                let mut eid = base.clone();
                let mut n = 1;
                while !taken.insert(eid.clone()) {
                    n += 1;
                    eid = format!("{base}{n}");
                }
                let roles = match k {
                    0 => vec![Role::SiteAdmin],
                    1 => vec![Role::CommunityManager],
                    _ => Vec::new(),
                };
                let manager = (k > 0).then(|| ids[(k - 1) / 8].clone());
                dir.employees.insert(
                    eid.clone(),
                    Employee {
                        id: eid.clone(),
                        display_name: format!("{given} {family}"),
                        given_name: given.to_owned(),
                        family_name: family.to_owned(),
                        email: format!("{eid}@company.example"),
                        phone: format!("+1 555 {:04}", taken.len() % 10_000),
                        site: id.clone(),
                        title: words::TITLES[long_tail(&mut rng, words::TITLES.len())].into(),
                        department: words::DEPARTMENTS[rng.below(words::DEPARTMENTS.len())].into(),
                        manager,
                        roles,
                        status: Status::Active,
                        history: Vec::new(),
                    },
                );
                ids.push(eid);
            }
        }
        let issued = u64::try_from((spec.start_ms() - DAY) / 1000).unwrap_or(0);
        let dir = Directory::next_version(None, &dir, issued);
        let directory = Signed::sign(&authority, &dir);
        Ok(Company {
            spec,
            authority,
            directory,
            site_keys,
        })
    }

    /// The directory the company was made with.
    pub fn directory(&self) -> Result<Directory, NodeError> {
        self.directory
            .open()
            .map_err(|e| NodeError::Directory(e.to_string()))
    }

    /// The site that creates "All company": the directory's founding site.
    pub fn founding_site(&self) -> String {
        self.directory()
            .ok()
            .and_then(|d| crate::reader::founding_site(&d).map(str::to_owned))
            .unwrap_or_default()
    }

    pub fn trust(&self) -> TrustAnchors {
        TrustAnchors::single(self.authority.public())
    }

    /// Opens (or creates) the node of `site` on this store, at the end of the history.
    pub fn open_core(
        &self,
        site: &str,
        store: Store,
        sync: weft_crdt::sync::Config,
    ) -> Result<Core, NodeError> {
        let key = self
            .site_keys
            .get(site)
            .ok_or_else(|| NodeError::Invalid(format!("the company has no site {site}")))?;
        Core::open(
            site,
            key.clone(),
            self.trust(),
            Some(self.directory.clone()),
            store,
            sync,
            u64::try_from(END_MS / 1000).unwrap_or(0),
        )
    }

    /// Writes the company's history into `core` (a node of this company, with an empty
    /// store), reporting progress about every thousand changes. See the module's
    /// documentation.
    pub fn generate(
        &self,
        core: &mut Core,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Truth, NodeError> {
        let started = Instant::now();
        let dir = self.directory()?;
        let mut g = Generator::new(self, &dir, core)?;
        g.plan();
        let mut truth = g.run(core, started, progress)?;
        g.follow(core, &mut truth)?;
        core.commit()?;
        core.refresh_search();
        truth.millis = started.elapsed().as_millis() as u64;
        Ok(truth)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Group(u32),
    Join(u32, u32),
    Profile(u32),
    Thread(u32),
    Reply(u32),
    Like(u32, u32, u32),
}

struct Person {
    id: String,
    site: u16,
    french: bool,
}

struct GroupPlan {
    doc: Option<DocId>,
    name: String,
    description: String,
    visibility: Visibility,
    owner: u32,
    created: i64,
    french: bool,
    /// Planned members (owner aside), with when they join.
    plan: Vec<(u32, i64)>,
    /// Who has joined so far, the owner first.
    joined: Vec<u32>,
    threads: usize,
}

struct ThreadPlan {
    group: u32,
    len: u16,
    start: i64,
    doc: Option<DocId>,
    posts: Vec<String>,
    authors: Vec<u32>,
}

struct Generator<'a> {
    company: &'a Company,
    rng: Rng,
    people: Vec<Person>,
    authors: HashMap<String, Author>,
    by_site: Vec<Vec<u32>>,
    site_offsets: Vec<i64>,
    /// Display names, in the same order as `by_site`.
    site_names: Vec<String>,
    groups: Vec<GroupPlan>,
    threads: Vec<ThreadPlan>,
    events: BinaryHeap<Reverse<(i64, u64, Event)>>,
    seq: u64,
    truth: Truth,
    planned: usize,
    nonce: u64,
    tokens: u64,
    here: String,
}

impl<'a> Generator<'a> {
    fn new(company: &'a Company, dir: &Directory, core: &mut Core) -> Result<Self, NodeError> {
        let spec = company.spec;
        let mut authors = HashMap::new();
        let issued = dir.issued_at;
        let mut site_index = HashMap::new();
        let mut site_offsets = Vec::new();
        let mut site_names = Vec::new();
        for (i, (site, key)) in company.site_keys.iter().enumerate() {
            let mut identity = Identity::new(site.clone(), key.clone());
            for cert in identity.refresh(dir, issued) {
                core.add_certificate(&cert)?;
            }
            for e in dir.employees.values().filter(|e| &e.site == site) {
                if let Some(a) = identity.author(&e.id) {
                    authors.insert(e.id.clone(), a.clone());
                }
            }
            site_index.insert(site.clone(), i as u16);
            let listed = dir.sites.get(site);
            site_offsets.push(utc_offset(listed.map_or("", |s| s.region.as_str())));
            site_names.push(listed.map_or_else(|| site.clone(), |s| s.name.clone()));
        }
        let mut by_site = vec![Vec::new(); company.site_keys.len()];
        let mut people = Vec::new();
        let mut rng = Rng::new(spec.seed ^ 0x4849_5354);
        for e in dir.employees.values() {
            let site = site_index.get(&e.site).copied().unwrap_or(0);
            let region = dir.sites.get(&e.site).map_or("", |s| s.region.as_str());
            let french = matches!(region, "Europe" | "Africa") && rng.chance(0.7);
            by_site[usize::from(site)].push(people.len() as u32);
            people.push(Person {
                id: e.id.clone(),
                site,
                french,
            });
        }
        core.set_write_budget(crate::budget::WriteBudget::unlimited());
        Ok(Generator {
            company,
            rng,
            people,
            authors,
            by_site,
            site_offsets,
            site_names,
            groups: Vec::new(),
            threads: Vec::new(),
            events: BinaryHeap::new(),
            seq: 0,
            truth: Truth::default(),
            planned: 0,
            nonce: spec.seed.wrapping_mul(0x1000_0000),
            tokens: 0,
            here: core.site().to_owned(),
        })
    }

    fn at(&mut self, time: i64, e: Event) {
        self.seq += 1;
        self.events.push(Reverse((time, self.seq, e)));
    }

    /// A time during `person`'s working hours on the day of `t` (or the next day).
    fn working_hours(&mut self, person: u32, t: i64) -> i64 {
        let offset = self.site_offsets[usize::from(self.people[person as usize].site)];
        let day = t - t.rem_euclid(DAY);
        let local_hour = 8 + self.rng.below(10) as i64;
        let mut at =
            day + (local_hour - offset) * HOUR + (self.rng.below(3_600_000) as i64).min(HOUR - 1);
        if at < t {
            at += DAY;
        }
        at
    }

    /// Draws the groups, memberships, profiles and thread openings.
    fn plan(&mut self) {
        let spec = self.company.spec;
        let start = spec.start_ms();
        let span = END_MS - start;
        let n_people = self.people.len();
        let founding = self.company.founding_site();
        let founder = self
            .people
            .iter()
            .position(|p| {
                self.company
                    .site_keys
                    .keys()
                    .nth(usize::from(p.site))
                    .is_some_and(|s| *s == founding)
            })
            .unwrap_or(0) as u32;
        // "All company" first; then groups of long-tailed sizes, the largest oldest.
        self.groups.push(GroupPlan {
            doc: None,
            name: crate::service::ALL_COMPANY.into(),
            description: String::new(),
            visibility: Visibility::Public,
            owner: founder,
            created: start,
            french: false,
            plan: Vec::new(),
            joined: vec![founder],
            threads: 0,
        });
        let mut names: HashSet<String> = HashSet::new();
        for rank in 1..spec.groups {
            let size =
                ((n_people as f64 * 0.09 / (rank as f64).powf(0.75)) as usize).clamp(3, n_people);
            let owner = self.rng.below(n_people) as u32;
            let site = usize::from(self.people[owner as usize].site);
            let french = self.people[owner as usize].french;
            let visibility = if rank <= 10 {
                Visibility::Public
            } else {
                match self.rng.below(100) {
                    0..=84 => Visibility::Public,
                    85..=96 => Visibility::Private,
                    _ => Visibility::Secret,
                }
            };
            let (subject_en, subject_fr) =
                words::SUBJECTS[long_tail(&mut self.rng, words::SUBJECTS.len())];
            let k = self.rng.below(words::KINDS_EN.len());
            let base = if french {
                format!("{} {subject_fr}", words::KINDS_FR[k])
            } else {
                format!("{subject_en} {}", words::KINDS_EN[k])
            };
            let site_name = self.site_names[site].clone();
            let mut name = base.clone();
            let mut n = 1;
            while !names.insert(name.clone()) {
                n += 1;
                name = if n == 2 {
                    format!("{base} {site_name}")
                } else {
                    format!("{base} {site_name} {n}")
                };
            }
            let description = if french {
                format!("Pour échanger autour de : {subject_fr}. Ouvert à tous les sites.")
            } else {
                format!("A place to talk about {subject_en}, across every site.")
            };
            let created = start + (uniform(&mut self.rng) * 0.4 * span as f64) as i64;
            let created = self.working_hours(owner, created).min(END_MS - HOUR);
            let mut chosen: HashSet<u32> = HashSet::from([owner]);
            let mut plan = Vec::new();
            let mut tries = 0;
            while plan.len() + 1 < size && tries < size * 4 {
                tries += 1;
                let who = if self.rng.chance(0.6) {
                    let local = &self.by_site[site];
                    local[self.rng.below(local.len())]
                } else {
                    self.rng.below(n_people) as u32
                };
                if chosen.insert(who) {
                    let t = created
                        + 60_000
                        + (uniform(&mut self.rng) * 0.3 * (END_MS - created) as f64) as i64;
                    plan.push((who, t));
                }
            }
            self.groups.push(GroupPlan {
                doc: None,
                name,
                description,
                visibility,
                owner,
                created,
                french,
                plan,
                joined: vec![owner],
                threads: 0,
            });
        }
        for (i, g) in self.groups.iter().enumerate() {
            self.seq += 1;
            self.events
                .push(Reverse((g.created, self.seq, Event::Group(i as u32))));
            for &(who, t) in &g.plan {
                self.seq += 1;
                self.events
                    .push(Reverse((t, self.seq, Event::Join(i as u32, who))));
            }
            self.planned += 1 + g.plan.len();
        }
        // Six in ten people fill in their profile.
        for p in 0..n_people as u32 {
            if self.rng.chance(0.6) {
                let t = start + (uniform(&mut self.rng) * span as f64) as i64;
                let t = self.working_hours(p, t).min(END_MS - 1);
                self.at(t, Event::Profile(p));
                self.planned += 1;
            }
        }
        // Threads until the posts are spent: lengths 1..=300 with P(k) ∝ k^-1.6, groups by
        // size^1.2 (All company as a large group), opened after the group exists.
        let cumulative: Vec<f64> = (1..=300)
            .scan(0.0, |acc, k| {
                *acc += (k as f64).powf(-1.6);
                Some(*acc)
            })
            .collect();
        let total_w = cumulative[cumulative.len() - 1];
        let group_w: Vec<f64> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let size = if i == 0 {
                    (n_people as f64 * 0.05).max(3.0)
                } else {
                    (g.plan.len() + 1) as f64
                };
                size.powf(1.2)
            })
            .scan(0.0, |acc, w| {
                *acc += w;
                Some(*acc)
            })
            .collect();
        let group_total = group_w[group_w.len() - 1];
        let mut posts = 0;
        while posts < spec.posts {
            let u = uniform(&mut self.rng) * total_w;
            let len = (cumulative.partition_point(|c| *c < u) + 1).min(spec.posts - posts);
            let u = uniform(&mut self.rng) * group_total;
            let group = group_w
                .partition_point(|c| *c < u)
                .min(self.groups.len() - 1);
            let created = self.groups[group].created;
            let from = created + HOUR;
            let t = from + (uniform(&mut self.rng) * (END_MS - from - HOUR) as f64) as i64;
            let owner = self.groups[group].owner;
            let t = self.working_hours(owner, t).clamp(from, END_MS - 1);
            self.threads.push(ThreadPlan {
                group: group as u32,
                len: len as u16,
                start: t,
                doc: None,
                posts: Vec::new(),
                authors: Vec::new(),
            });
            posts += len;
        }
        for i in 0..self.threads.len() {
            let t = self.threads[i].start;
            self.at(t, Event::Thread(i as u32));
            // Each post plus the group listing of the thread, and about half a like a post.
            self.planned += self.threads[i].len as usize * 3 / 2 + 1;
        }
    }

    fn nonce(&mut self) -> u64 {
        self.nonce = self.nonce.wrapping_add(1);
        self.nonce
    }

    /// A member of `group` who has joined (those who joined first are the most active).
    fn member(&mut self, group: u32) -> u32 {
        if group == 0 {
            return long_tail(&mut self.rng, self.people.len()) as u32;
        }
        let joined = &self.groups[group as usize].joined;
        let u = uniform(&mut self.rng);
        joined[((u * u) * joined.len() as f64) as usize % joined.len()]
    }

    /// A post's text: one to four sentences in the group's language (sometimes the other),
    /// sometimes a mention of a member, a topic, or a planted search word.
    fn body(&mut self, group: u32, author: u32) -> String {
        let french = self.groups[group as usize].french != self.rng.chance(0.2);
        let pool = if french {
            words::SENTENCES_FR
        } else {
            words::SENTENCES_EN
        };
        let n = 1 + long_tail(&mut self.rng, 4);
        let mut out = String::new();
        for _ in 0..n {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(pool[self.rng.below(pool.len())]);
        }
        if self.rng.chance(0.1) {
            let who = self.member(group);
            if who != author {
                out.push_str(&format!(" @{}", self.people[who as usize].id));
                self.truth.mentions += 1;
            }
        }
        if self.rng.chance(0.2) {
            let topic = words::TOPICS[long_tail(&mut self.rng, words::TOPICS.len())];
            out.push_str(&format!(" #{topic}"));
        }
        if self.rng.chance(0.01) {
            self.tokens += 1;
            out.push_str(&format!(" {}", self.token()));
        }
        out
    }

    /// The latest planted word: `kw` and a number in base 36, unlike any other word.
    fn token(&self) -> String {
        format!("kw{}", base36(self.tokens * 7_919 + 1_000))
    }

    fn author(&self, person: u32) -> Result<Author, NodeError> {
        let id = &self.people[person as usize].id;
        self.authors
            .get(id)
            .cloned()
            .ok_or_else(|| NodeError::NotHomedHere(id.clone()))
    }

    /// When the next reply of a thread comes: hours later, sooner near the end of the
    /// history (every planned post is written).
    fn next_reply(&mut self, t: i64) -> i64 {
        let next = t + delay(&mut self.rng, 3 * HOUR);
        if next < END_MS {
            next
        } else {
            t + (END_MS - t) / 2
        }
    }

    /// Plans the likes of a post just written.
    fn plan_likes(&mut self, thread: u32, post: u32, t: i64) {
        let mut n = 0;
        while n < 20 && self.rng.chance(0.35) {
            n += 1;
        }
        let mut chosen = HashSet::new();
        let group = self.threads[thread as usize].group;
        for _ in 0..n {
            let who = self.member(group);
            if chosen.insert(who) {
                let at = (t + delay(&mut self.rng, 2 * HOUR)).min(END_MS);
                self.at(at, Event::Like(thread, post, who));
            }
        }
    }

    fn run(
        &mut self,
        core: &mut Core,
        started: Instant,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Truth, NodeError> {
        let clock =
            std::sync::Arc::new(crate::clock::ManualClock::new(self.company.spec.start_ms()));
        core.set_clock(clock.clone());
        let mut since_commit = 0;
        let mut since_search = 0;
        let mut reported = 0;
        while let Some(Reverse((t, _, event))) = self.events.pop() {
            clock.set(t);
            let made = self.apply(core, t, event)?;
            self.truth.changes += made;
            since_commit += made;
            since_search += made;
            if since_commit >= COMMIT_EVERY {
                core.commit()?;
                // What a runtime hands to live updates and notification pushes after each
                // commit: nobody listens here.
                core.take_committed();
                core.take_notified();
                since_commit = 0;
            }
            if since_search >= SEARCH_EVERY {
                core.refresh_search();
                since_search = 0;
            }
            if self.truth.changes >= reported + 1_000 {
                reported = self.truth.changes;
                progress(Progress {
                    changes: self.truth.changes,
                    planned: self.planned.max(self.truth.changes),
                    elapsed: started.elapsed(),
                });
            }
        }
        core.commit()?;
        progress(Progress {
            changes: self.truth.changes,
            planned: self.truth.changes,
            elapsed: started.elapsed(),
        });
        let mut truth = std::mem::take(&mut self.truth);
        truth.threads = self.threads.iter().filter(|t| t.doc.is_some()).count();
        for g in &self.groups {
            let Some(doc) = &g.doc else { continue };
            truth.groups.push(GroupTruth {
                id: doc.to_string(),
                name: g.name.clone(),
                visibility: g.visibility.as_str().into(),
                owner: self.people[g.owner as usize].id.clone(),
                members: g
                    .joined
                    .iter()
                    .map(|p| self.people[*p as usize].id.clone())
                    .collect(),
                threads: g.threads,
            });
        }
        Ok(truth)
    }

    /// Writes one event; how many changes it made.
    fn apply(&mut self, core: &mut Core, t: i64, event: Event) -> Result<usize, NodeError> {
        match event {
            Event::Group(i) => {
                let nonce = if i == 0 {
                    crate::readmodel::ALL_COMPANY_NONCE
                } else {
                    self.nonce()
                };
                let g = &self.groups[i as usize];
                let author = self.author(g.owner)?;
                let home = self
                    .company
                    .site_keys
                    .keys()
                    .nth(usize::from(self.people[g.owner as usize].site));
                let home = home.cloned().unwrap_or_default();
                let description = if i == 0 {
                    "Everyone at Generated Company. / Tout le monde chez Generated Company."
                        .to_owned()
                } else {
                    g.description.clone()
                };
                let (name, visibility) = (g.name.clone(), g.visibility);
                let doc = core.local_as(&author, |r, me| {
                    let c = r.create_group(
                        me,
                        &NewGroup {
                            name: &name,
                            description: &description,
                            visibility,
                            home_site: &home,
                        },
                        t,
                        nonce,
                    )?;
                    Ok((c.doc().clone(), vec![c]))
                })?;
                self.groups[i as usize].doc = Some(doc);
                Ok(1)
            }
            Event::Join(i, who) => {
                let g = &self.groups[i as usize];
                let Some(doc) = g.doc.clone() else {
                    return Ok(0);
                };
                // Anyone joins a public group; owners add members to the others.
                let by = if g.visibility == Visibility::Public {
                    who
                } else {
                    g.owner
                };
                let author = self.author(by)?;
                let id = self.people[who as usize].id.clone();
                core.local_as(&author, |r, me| {
                    let c = r.add_member(me, &doc, &id, t)?;
                    Ok(((), vec![c]))
                })?;
                self.groups[i as usize].joined.push(who);
                self.truth.memberships += 1;
                Ok(1)
            }
            Event::Profile(p) => {
                let author = self.author(p)?;
                let french = self.people[p as usize].french;
                let pool = if french {
                    words::ABOUT_FR
                } else {
                    words::ABOUT_EN
                };
                let about = pool[self.rng.below(pool.len())];
                let pick = |rng: &mut Rng, from: &[&str], n: usize| -> Vec<String> {
                    let mut v: Vec<String> = Vec::new();
                    for _ in 0..n {
                        let w = from[long_tail(rng, from.len())].to_owned();
                        if !v.contains(&w) {
                            v.push(w);
                        }
                    }
                    v
                };
                let n = 1 + self.rng.below(3);
                let expertise = pick(&mut self.rng, words::TOPICS, n);
                let subjects: Vec<&str> = words::SUBJECTS
                    .iter()
                    .map(|(en, fr)| if french { *fr } else { *en })
                    .collect();
                let n = 1 + self.rng.below(3);
                let interests = pick(&mut self.rng, &subjects, n);
                let mut languages = vec![if french { "French" } else { "English" }.to_owned()];
                if self.rng.chance(0.5) {
                    let l = words::LANGUAGES[self.rng.below(words::LANGUAGES.len())].to_owned();
                    if !languages.contains(&l) {
                        languages.push(l);
                    }
                }
                core.local_as(&author, |r, me| {
                    let c = r.update_profile(
                        me,
                        &ProfileUpdate {
                            about: Some(about),
                            expertise: Some(&expertise),
                            interests: Some(&interests),
                            languages: Some(&languages),
                            ..ProfileUpdate::default()
                        },
                        t,
                    )?;
                    Ok(((), vec![c]))
                })?;
                self.truth.profiles += 1;
                Ok(1)
            }
            Event::Thread(i) => {
                let group = self.threads[i as usize].group;
                let Some(gdoc) = self.groups[group as usize].doc.clone() else {
                    return Ok(0);
                };
                let who = self.member(group);
                let author = self.author(who)?;
                let french = self.groups[group as usize].french;
                let (titles, topics) = if french {
                    (
                        words::TITLES_FR,
                        words::SUBJECTS.iter().map(|s| s.1).collect::<Vec<_>>(),
                    )
                } else {
                    (
                        words::TITLES_EN,
                        words::SUBJECTS.iter().map(|s| s.0).collect(),
                    )
                };
                let title = format!(
                    "{} {}",
                    titles[self.rng.below(titles.len())],
                    topics[long_tail(&mut self.rng, topics.len())].to_lowercase()
                );
                let tokens_before = self.tokens;
                let body = self.body(group, who);
                let nonce = self.nonce();
                let doc = core.local_as(&author, |r, me| {
                    let (c, l) = r.create_thread(me, &gdoc, &title, &body, t, nonce)?;
                    Ok((c.doc().clone(), vec![c, l]))
                })?;
                let pid = weft_crdt::post_id(&author, nonce);
                self.posted(tokens_before, &doc, &pid);
                let th = &mut self.threads[i as usize];
                th.doc = Some(doc);
                th.posts.push(pid);
                th.authors.push(who);
                self.groups[group as usize].threads += 1;
                self.truth.posts += 1;
                self.plan_likes(i, 0, t);
                if self.threads[i as usize].len > 1 {
                    let next = self.next_reply(t);
                    self.at(next, Event::Reply(i));
                }
                Ok(2)
            }
            Event::Reply(i) => {
                let (group, Some(doc)) = (
                    self.threads[i as usize].group,
                    self.threads[i as usize].doc.clone(),
                ) else {
                    return Ok(0);
                };
                let who = if self.rng.chance(0.4) {
                    let a = &self.threads[i as usize].authors;
                    a[self.rng.below(a.len())]
                } else {
                    self.member(group)
                };
                let author = self.author(who)?;
                let tokens_before = self.tokens;
                let body = self.body(group, who);
                let nonce = self.nonce();
                let pid = core.local_as(&author, |r, me| {
                    let (c, pid) = r.reply(me, &doc, &body, None, t, nonce)?;
                    Ok((pid, vec![c]))
                })?;
                self.posted(tokens_before, &doc, &pid);
                let th = &mut self.threads[i as usize];
                th.posts.push(pid);
                th.authors.push(who);
                let n = th.posts.len();
                let more = n < usize::from(th.len);
                self.truth.posts += 1;
                self.truth.replies += 1;
                self.plan_likes(i, (n - 1) as u32, t);
                if more {
                    let next = self.next_reply(t);
                    self.at(next, Event::Reply(i));
                }
                Ok(1)
            }
            Event::Like(i, post, who) => {
                let th = &self.threads[i as usize];
                let (Some(doc), Some(pid)) = (th.doc.clone(), th.posts.get(post as usize).cloned())
                else {
                    return Ok(0);
                };
                let author = self.author(who)?;
                core.local_as(&author, |r, me| {
                    let c = r.react(me, &doc, &pid, "like", true, t)?;
                    Ok(((), vec![c]))
                })?;
                self.truth.likes += 1;
                Ok(1)
            }
        }
    }

    /// Records the planted word of the post just written, if it has one.
    fn posted(&mut self, tokens_before: u64, doc: &DocId, pid: &str) {
        if self.tokens > tokens_before {
            let token = self.token();
            self.truth
                .tokens
                .insert(token, (doc.to_string(), pid.to_owned()));
        }
    }

    /// Employees of the generating node's site follow a few threads they may read and a
    /// few colleagues (follows are kept at an employee's home node only).
    fn follow(&mut self, core: &mut Core, truth: &mut Truth) -> Result<(), NodeError> {
        let Some(site) = self.company.site_keys.keys().position(|s| *s == self.here) else {
            return Ok(());
        };
        let here = self.by_site[site].clone();
        for p in here {
            if !self.rng.chance(0.2) || self.threads.is_empty() {
                continue;
            }
            let me = self.people[p as usize].id.clone();
            for _ in 0..3 {
                let t = &self.threads[self.rng.below(self.threads.len())];
                if let Some(doc) = &t.doc
                    && core.follow_thread(&me, doc, true).is_ok()
                {
                    truth.follows += 1;
                }
            }
            let other = self.rng.below(self.people.len());
            let other = self.people[other].id.clone();
            if other != me {
                core.follow_person(&me, &other, true)?;
                truth.follows += 1;
            }
        }
        Ok(())
    }
}

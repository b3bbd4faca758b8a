//! The byzantine site (issue 12): an admitted site whose node is compromised. It runs a real
//! engine and syncs honestly, and at planned times it also writes forged `Changes` frames
//! straight onto its links to the other sites, covering every class of forgery the trust core
//! refuses (see [`Forgery`]).
//!
//! ## The set-up, before the run
//!
//! * The byzantine site homes three keyed authors: slot 0 (*the removed member*, who also
//!   posts honestly), slot 1 (*the departed employee*) and slot 2 (*a member who stays* in the
//!   removal group, so the site keeps receiving it).
//! * The directory has a second version, issued an hour before the run and held by every
//!   site, that marks the departed employee `left`, moves the *victim site* to a new node key
//!   (its employees are certified afresh with it) and revokes the old key, which the byzantine
//!   site stole.
//! * A private *removal group* owned by an author of site 0, with members at a second honest
//!   site and the byzantine site (the removed member and the one who stays), and one thread in
//!   it; held by those three sites only.
//!
//! ## During the run
//!
//! * At `removal_ms` the owner removes the byzantine member; a minute later the owner replies
//!   in the group's thread (a thread change naming group heads that contain the removal).
//! * At each of `rounds_ms` the byzantine site makes one fresh forgery of every class from
//!   its replica's current state (class 7 only once it holds the owner's reply), judges each
//!   on a copy of its own replica (the verdict an honest node must reach), and sends every
//!   forgery made so far to every site it is connected to, one `Changes` frame each with the
//!   certificates it needs, plus a frame carrying the squatted certificate.
//!
//! The foreign listing (class 6) is a change the crdt accepts (the node's views filter it):
//! the byzantine site applies it to its own replica too, as a compromised node would, so
//! that its author's later honest changes in that group follow it rather than reuse its
//! (actor, seq).

use std::collections::HashMap;

use automerge::transaction::{Transactable, Transaction};
use automerge::{AutomergeError, ChangeHash, ObjId, ObjType, ROOT};
use weft_crdt::keys::{EmployeeCert, RevokedKey, SecretKey, Signed, Status};
use weft_crdt::sync::Message;
use weft_crdt::testkit::{World, unchecked_bytes};
use weft_crdt::{Author, DocId, DocKind, NewGroup, Replica, SignedChange, Visibility};

use super::{EPOCH_MS, Ev, NEVER, Sim};
use crate::report::{ByzantineResult, ForgeryResult};

/// When the directory's second version is issued (seconds since the epoch): an hour before
/// the run starts.
const V2_SECS: u64 = (EPOCH_MS / 1000) as u64 - 3_600;
/// How long after the removal the owner replies in the removal group's thread.
const REPLY_AFTER_MS: u64 = 60_000;
/// Topics in the oversized post (the decoder allows [`weft_crdt::change::MAX_OPS`]
/// operations per change).
const OVERSIZED_TOPICS: usize = 1_100;

/// Where the byzantine site is and what it does when.
#[derive(Debug, Clone, PartialEq)]
pub struct ByzantineSpec {
    /// The byzantine site (it needs three authors: see the module docs).
    pub site: usize,
    /// The honest site whose old node key was stolen, and which re-enrolled with a new one.
    pub victim_site: usize,
    /// The removal group's owner's site and another honest member's site.
    pub group_sites: [usize; 2],
    /// When the owner removes the byzantine member from the group.
    pub removal_ms: u64,
    /// When the byzantine site sends forgeries.
    pub rounds_ms: Vec<u64>,
}

/// A class of forgery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Forgery {
    /// 1: a post with 1,100 topics, over the decoder's limits.
    Oversized,
    /// 2: the departed employee signing, naming the directory version before they left.
    Departed,
    /// 3: a key certified by the victim site's revoked (stolen) node key.
    RevokedKey,
    /// 4: a certificate binding an honest employee's key to a byzantine employee, signed by
    /// the byzantine node (a certificate, not a change).
    SquattedCertificate,
    /// 5: a post under another author's post key.
    ForeignPostKey,
    /// 6: a thread of one group listed in another group's `threads` (accepted by the crdt;
    /// the node's views filter it).
    ForeignListing,
    /// 7a: a post in the removal group's thread by the removed member, naming group heads
    /// that contain the removal.
    RemovedNamingRemoval,
    /// 7b: the same, naming the group heads before the removal while depending on a thread
    /// change that named newer ones.
    RemovedBelowFloor,
    /// 8: a change whose signature was broken.
    BrokenSignature,
}

impl Forgery {
    pub const ALL: [Forgery; 9] = [
        Forgery::Oversized,
        Forgery::Departed,
        Forgery::RevokedKey,
        Forgery::SquattedCertificate,
        Forgery::ForeignPostKey,
        Forgery::ForeignListing,
        Forgery::RemovedNamingRemoval,
        Forgery::RemovedBelowFloor,
        Forgery::BrokenSignature,
    ];

    /// The class's number in issue 12's list.
    pub fn label(self) -> &'static str {
        match self {
            Forgery::Oversized => "1",
            Forgery::Departed => "2",
            Forgery::RevokedKey => "3",
            Forgery::SquattedCertificate => "4",
            Forgery::ForeignPostKey => "5",
            Forgery::ForeignListing => "6",
            Forgery::RemovedNamingRemoval => "7a",
            Forgery::RemovedBelowFloor => "7b",
            Forgery::BrokenSignature => "8",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Forgery::Oversized => "post with 1,100 topics",
            Forgery::Departed => "departed employee naming the version before they left",
            Forgery::RevokedKey => "key certified by a revoked node key",
            Forgery::SquattedCertificate => "squatted certificate for an honest key",
            Forgery::ForeignPostKey => "post under another author's post key",
            Forgery::ForeignListing => "thread listed in another group",
            Forgery::RemovedNamingRemoval => "removed member, naming the removal",
            Forgery::RemovedBelowFloor => "removed member, naming older heads (floor)",
            Forgery::BrokenSignature => "broken signature",
        }
    }

    /// The verdict an honest node must reach (a [`weft_crdt::Rejection::code`], or
    /// `accepted`, or `kept` for the certificate).
    pub fn expected(self) -> &'static str {
        match self {
            Forgery::Oversized => "malformed",
            Forgery::Departed | Forgery::RevokedKey => "standing",
            Forgery::SquattedCertificate => "kept",
            Forgery::ForeignPostKey | Forgery::RemovedNamingRemoval => "rule",
            Forgery::ForeignListing => "accepted",
            Forgery::RemovedBelowFloor => "floor",
            Forgery::BrokenSignature => "signature",
        }
    }

    /// Whether honest nodes accept it by design (the foreign listing only).
    pub fn accepted_by_design(self) -> bool {
        self == Forgery::ForeignListing
    }
}

/// What happens at a planned time.
#[derive(Debug, Clone, Copy)]
pub(super) enum Step {
    Remove,
    Reply,
    Round,
}

/// One forged change.
#[derive(Debug)]
struct Forged {
    class: Forgery,
    bytes: Vec<u8>,
    certs: Vec<Vec<u8>>,
    /// From the bytes with the stored-change decoder (which takes the oversized one too).
    doc: Option<DocId>,
    hash: Option<ChangeHash>,
    /// What a copy of the byzantine site's replica said when it was made.
    verdict: &'static str,
    /// Frames that carried it to a site.
    sent: u64,
    /// Honest sites that accepted it.
    accepted: u64,
}

/// The byzantine site's state during a run.
#[derive(Debug)]
pub(super) struct State {
    spec: ByzantineSpec,
    /// Author indexes.
    removed: usize,
    departed: usize,
    owner: usize,
    /// The honest author whose key is squatted.
    pub(super) squatted: usize,
    /// A key certified by the stolen, revoked node key, as one of the victim site's employees.
    fake: Author,
    squat: Signed<EmployeeCert>,
    squat_frames: u64,
    pub(super) squat_sent_us: Option<u64>,
    /// Tracked changes by the squatted author made after the squatted certificate was sent.
    pub(super) squatted_changes: Vec<usize>,
    group: DocId,
    thread: DocId,
    before_removal: Vec<ChangeHash>,
    reply: Option<ChangeHash>,
    forged: Vec<Forged>,
    by_hash: HashMap<[u8; 32], usize>,
    rounds: u64,
    notes: Vec<String>,
}

impl State {
    pub(super) fn site(&self) -> usize {
        self.spec.site
    }

    /// The sites homing a member of the removal group.
    pub(super) fn group_holders(&self) -> [usize; 3] {
        [
            self.spec.group_sites[0],
            self.spec.group_sites[1],
            self.spec.site,
        ]
    }

    /// The author an honest post at `site` uses for drawn `slot`: the departed employee can
    /// sign nothing, so the byzantine site's posts drawn for them are made by slot 0.
    pub(super) fn honest_slot(&self, site: usize, slot: usize) -> usize {
        if site == self.spec.site && slot == 1 {
            0
        } else {
            slot
        }
    }

    /// Notes that `site` accepted `hash`; returns whether it was a forgery.
    pub(super) fn on_accepted(&mut self, site: usize, hash: &ChangeHash) -> bool {
        let Some(&k) = self.by_hash.get(&hash.0) else {
            return false;
        };
        if site != self.spec.site {
            self.forged[k].accepted += 1;
        }
        true
    }
}

/// Edits the world before anything is made: the directory's second version (the departed
/// employee, the victim site's new key, its old key revoked) and the victim site's employees
/// certified afresh. Returns the stolen key.
pub(super) fn prepare_world(
    world: &mut World,
    spec: &ByzantineSpec,
    authors_per_site: usize,
) -> SecretKey {
    let n = world.sites.len();
    let victim = spec.victim_site;
    let stolen = world.nodes[victim].clone();
    let fresh = SecretKey::from_seed(&[0xB7; 32]);
    let departed = world.authors[spec.site + n].employee.clone();
    let victim_id = world.sites[victim].clone();
    world.publish_at(V2_SECS, |d| {
        if let Some(e) = d.employees.get_mut(&departed) {
            e.status = Status::Left;
        }
        if let Some(s) = d.sites.get_mut(&victim_id) {
            s.node_key = Some(fresh.public());
        }
        d.revoked_keys.push(RevokedKey {
            site: victim_id.clone(),
            key: stolen.public(),
            from_version: 0,
            reason: "stolen by the byzantine site".into(),
        });
    });
    for slot in 0..authors_per_site {
        let a = &mut world.authors[victim + slot * n];
        a.cert = World::cert(&fresh, &a.employee, &victim_id, &a.key);
    }
    world.nodes[victim] = fresh;
    stolen
}

/// Makes the removal group and its thread on a copy of `base` (the replica the removal
/// group's member sites start with), and the byzantine site's state.
pub(super) fn setup(
    world: &World,
    spec: &ByzantineSpec,
    base: &Replica,
    stolen: &SecretKey,
) -> Option<(Replica, State)> {
    let n = world.sites.len();
    let (owner, member) = (spec.group_sites[0], spec.group_sites[1]);
    let (removed, departed, keeper) = (spec.site, spec.site + n, spec.site + 2 * n);
    let a = &world.authors;
    let mut r = base.clone();
    let g = r
        .create_group(
            &a[owner],
            &NewGroup {
                name: "Project Kestrel",
                description: "Members only",
                visibility: Visibility::Private,
                home_site: &world.sites[spec.group_sites[0]],
            },
            EPOCH_MS,
            900_000,
        )
        .ok()?;
    let gid = g.doc().clone();
    for (i, m) in [member, removed, keeper].into_iter().enumerate() {
        r.add_member(&a[owner], &gid, &a[m].employee, EPOCH_MS + 1 + i as i64)
            .ok()?;
    }
    let (t, _) = r
        .create_thread(
            &a[owner],
            &gid,
            "Plans",
            "For members only.",
            EPOCH_MS + 10,
            900_001,
        )
        .ok()?;
    let victim = &a[spec.victim_site];
    let fake_key = SecretKey::from_seed(&[0xFA; 32]);
    let fake = Author {
        employee: victim.employee.clone(),
        cert: World::cert(
            stolen,
            &victim.employee,
            &world.sites[spec.victim_site],
            &fake_key,
        ),
        key: fake_key,
    };
    // The squatted key: employee e1's (site1's first author), bound to the removed member.
    let squatted = 1;
    let squat = World::cert(
        &world.nodes[spec.site],
        &a[removed].employee,
        &world.sites[spec.site],
        &a[squatted].key,
    );
    let state = State {
        spec: spec.clone(),
        removed,
        departed,
        owner,
        squatted,
        fake,
        squat,
        squat_frames: 0,
        squat_sent_us: None,
        squatted_changes: Vec::new(),
        group: gid,
        thread: t.doc().clone(),
        before_removal: Vec::new(),
        reply: None,
        forged: Vec::new(),
        by_hash: HashMap::new(),
        rounds: 0,
        notes: Vec::new(),
    };
    Some((r, state))
}

fn root_map(tx: &Transaction<'_>, key: &str) -> Result<ObjId, AutomergeError> {
    use automerge::ReadDoc;
    match tx.get(ROOT, key)? {
        Some((automerge::Value::Object(ObjType::Map), id)) => Ok(id),
        _ => Err(AutomergeError::InvalidObjId(key.to_owned())),
    }
}

/// Writes a new post `key` by `author` (what an honest reply writes).
fn new_post(
    tx: &mut Transaction<'_>,
    key: &str,
    author: &str,
    body: &str,
    now: i64,
) -> Result<ObjId, AutomergeError> {
    let posts = root_map(tx, "posts")?;
    let p = tx.put_object(&posts, key, ObjType::Map)?;
    tx.put(&p, "author", author)?;
    tx.put(&p, "body", body)?;
    tx.put(&p, "created_at", automerge::ScalarValue::Timestamp(now))?;
    Ok(p)
}

fn post_key(author: &Author, nonce: u64) -> String {
    format!("{}-{nonce:016x}", author.key.public().id())
}

/// What a replica decides for one change (or `waiting`).
fn verdict(judge: &mut Replica, bytes: &[u8]) -> &'static str {
    let report = judge.ingest_bytes_from("byzantine", [bytes]);
    if let Some((_, _, r)) = report.rejected.first() {
        r.code()
    } else if !report.accepted.is_empty() {
        "accepted"
    } else if !report.waiting.is_empty() {
        "waiting"
    } else {
        "duplicate"
    }
}

impl Sim {
    /// Runs a planned step of the byzantine scenario.
    pub(super) fn byzantine_step(&mut self, step: Step) {
        match step {
            Step::Remove => self.byzantine_removal(),
            Step::Reply => self.byzantine_reply(),
            Step::Round => self.byzantine_round(),
        }
    }

    /// Schedules the removal, the reply after it and the rounds.
    pub(super) fn schedule_byzantine(&mut self) {
        let Some(b) = &self.byz else { return };
        let removal = b.spec.removal_ms;
        let rounds = b.spec.rounds_ms.clone();
        self.schedule(removal * 1000, Ev::Byzantine(Step::Remove));
        self.schedule(
            (removal + REPLY_AFTER_MS) * 1000,
            Ev::Byzantine(Step::Reply),
        );
        for t in rounds {
            self.schedule(t * 1000, Ev::Byzantine(Step::Round));
        }
    }

    fn byzantine_removal(&mut self) {
        let Some(b) = &self.byz else { return };
        let (owner, removed, gid) = (b.owner, b.removed, b.group.clone());
        let site = b.spec.group_sites[0];
        let now = EPOCH_MS + (self.now_us / 1000) as i64;
        let author = self.world.authors[owner].clone();
        let employee = self.world.authors[removed].employee.clone();
        match self.sites[site]
            .replica
            .remove_member(&author, &gid, &employee, now)
        {
            Ok(c) => {
                if let Some(b) = &mut self.byz {
                    b.before_removal = c.deps().to_vec();
                }
                self.track(&c, site, false);
                self.announce(site, &[c]);
            }
            Err(e) => self
                .violations
                .push(format!("the owner could not remove the member: {e}")),
        }
    }

    fn byzantine_reply(&mut self) {
        let Some(b) = &self.byz else { return };
        let (owner, thread) = (b.owner, b.thread.clone());
        let site = b.spec.group_sites[0];
        let now = EPOCH_MS + (self.now_us / 1000) as i64;
        let author = self.world.authors[owner].clone();
        self.nonce += 1;
        let made = self.sites[site].replica.reply(
            &author,
            &thread,
            "Carrying on without them.",
            None,
            now,
            self.nonce,
        );
        match made {
            Ok((c, _)) => {
                if let Some(b) = &mut self.byz {
                    b.reply = Some(c.hash());
                }
                self.track(&c, site, false);
                self.announce(site, &[c]);
            }
            Err(e) => self
                .violations
                .push(format!("the owner could not reply after the removal: {e}")),
        }
    }

    /// Makes one forgery of every class from the byzantine replica's current state, judges
    /// them, and sends every forgery made so far to every connected site.
    fn byzantine_round(&mut self) {
        let Some(mut b) = self.byz.take() else {
            return;
        };
        b.rounds += 1;
        let made = self.forge(&mut b);
        let site = b.spec.site;
        // The verdict an honest node must reach, from a copy of the byzantine site's replica
        // (which holds everything the forgeries depend on).
        let mut judge = self.sites[site].replica.clone();
        let _ = judge.add_certificate(&b.fake.cert);
        let _ = judge.add_certificate(&b.squat);
        for (class, bytes, certs) in made {
            let decoded = SignedChange::decode_stored(&bytes).ok();
            let verdict = verdict(&mut judge, &bytes);
            if class == Forgery::ForeignListing
                && let Some(c) = &decoded
            {
                // A compromised node applies what the crdt accepts, so that its author's later
                // honest changes in the group follow this one (see the module docs).
                self.sites[site].replica.ingest([c.clone()]);
            }
            let k = b.forged.len();
            if let Some(c) = &decoded {
                b.by_hash.insert(c.hash().0, k);
            }
            b.forged.push(Forged {
                class,
                bytes,
                certs,
                doc: decoded.as_ref().map(|c| c.doc().clone()),
                hash: decoded.as_ref().map(SignedChange::hash),
                verdict,
                sent: 0,
                accepted: 0,
            });
        }
        // Spray: every forgery so far, one frame each, to every connected site.
        let n = self.n();
        let squat = b.squat.to_bytes();
        for j in 0..n {
            if j == site || !self.link(site, j).up {
                continue;
            }
            for f in &mut b.forged {
                let frame = Message::Changes {
                    certs: f.certs.clone(),
                    changes: vec![f.bytes.clone()],
                }
                .encode();
                f.sent += 1;
                self.send(site, j, frame);
            }
            let frame = Message::Changes {
                certs: vec![squat.clone()],
                changes: vec![],
            }
            .encode();
            b.squat_frames += 1;
            self.send(site, j, frame);
        }
        if b.squat_sent_us.is_none() {
            b.squat_sent_us = Some(self.now_us);
        }
        self.byz = Some(b);
    }

    /// This round's forgeries: (class, bytes, certificates sent with it).
    fn forge(&mut self, b: &mut State) -> Vec<(Forgery, Vec<u8>, Vec<Vec<u8>>)> {
        let now = EPOCH_MS + (self.now_us / 1000) as i64;
        let r = &self.sites[b.spec.site].replica;
        let authors = &self.world.authors;
        let removed = &authors[b.removed];
        let departed = &authors[b.departed];
        let someone = &authors[b.owner];
        let cert = |a: &Author| vec![a.cert.to_bytes()];
        let round = b.rounds as usize;
        let mut out = Vec::new();
        // A public group and a public thread the byzantine site holds (the newest).
        let groups = &self.group_ids;
        let group = groups.get(round % groups.len().max(1)).cloned();
        let thread = self
            .recent_threads
            .iter()
            .rev()
            .find(|t| r.doc(t).is_some_and(|d| !d.is_empty()))
            .cloned();
        self.nonce += 16;
        let nonce = self.nonce;
        if let Some(t) = &thread {
            let heads = r
                .group_of(t)
                .and_then(|g| r.heads_of(&g))
                .unwrap_or_default();
            let mut post = |class, key: String, body: &'static str, topics: usize| {
                let bytes = unchecked_bytes(
                    r,
                    removed,
                    Some(t),
                    DocKind::Thread,
                    heads.clone(),
                    now,
                    None,
                    |tx| {
                        let p = new_post(tx, &key, &removed.employee, body, now)?;
                        if topics > 0 {
                            let set = tx.put_object(&p, "topics", ObjType::Map)?;
                            for i in 0..topics {
                                tx.put(&set, format!("topic{i}"), true)?;
                            }
                        }
                        Ok(())
                    },
                );
                if let Some(bytes) = bytes {
                    out.push((class, bytes, cert(removed)));
                }
            };
            post(
                Forgery::Oversized,
                post_key(removed, nonce),
                "#topic0 #topic1 and 1,098 more",
                OVERSIZED_TOPICS,
            );
            post(
                Forgery::ForeignPostKey,
                post_key(someone, nonce + 1),
                "This post is mine now.",
                0,
            );
            post(
                Forgery::BrokenSignature,
                post_key(removed, nonce + 2),
                "Signed, then altered on the way.",
                0,
            );
            if let Some((Forgery::BrokenSignature, bytes, _)) = out.last_mut() {
                // The signature is the envelope's last 64 bytes.
                let n = bytes.len();
                bytes[n - 2] ^= 0x40;
            }
        } else {
            b.notes.push(format!(
                "round {}: no public thread held yet: classes 1, 5, 8 not made",
                b.rounds
            ));
        }
        if let Some(g) = &group {
            let set = |map: &'static str, key: String, value: &'static str| {
                move |tx: &mut Transaction<'_>| {
                    let m = root_map(tx, map)?;
                    tx.put(&m, key.as_str(), value)
                }
            };
            let departed_join = unchecked_bytes(
                r,
                departed,
                Some(g),
                DocKind::Group,
                vec![],
                now,
                Some(1),
                |tx| {
                    let m = root_map(tx, "members")?;
                    tx.put(&m, departed.employee.as_str(), true)
                },
            );
            if let Some(bytes) = departed_join {
                out.push((Forgery::Departed, bytes, cert(departed)));
            }
            if let Some(bytes) = unchecked_bytes(
                r,
                &b.fake,
                Some(g),
                DocKind::Group,
                vec![],
                now,
                None,
                set("requests", b.fake.employee.clone(), "Let me in."),
            ) {
                out.push((Forgery::RevokedKey, bytes, cert(&b.fake)));
            }
            if let Some(bytes) = unchecked_bytes(
                r,
                removed,
                Some(g),
                DocKind::Group,
                vec![],
                now,
                None,
                set("threads", b.thread.as_str().to_owned(), "Leaked"),
            ) {
                out.push((Forgery::ForeignListing, bytes, cert(removed)));
            }
        }
        // Class 7 needs the removal and a thread change made after it.
        let after = b
            .reply
            .is_some_and(|h| r.doc(&b.thread).is_some_and(|d| d.has(&h)));
        if after {
            let now_heads = r.heads_of(&b.group).unwrap_or_default();
            for (class, heads, k) in [
                (Forgery::RemovedNamingRemoval, now_heads, nonce + 3),
                (
                    Forgery::RemovedBelowFloor,
                    b.before_removal.clone(),
                    nonce + 4,
                ),
            ] {
                let key = post_key(removed, k);
                if let Some(bytes) = unchecked_bytes(
                    r,
                    removed,
                    Some(&b.thread),
                    DocKind::Thread,
                    heads,
                    now,
                    None,
                    |tx| new_post(tx, &key, &removed.employee, "Still here.", now).map(|_| ()),
                ) {
                    out.push((class, bytes, cert(removed)));
                }
            }
        } else {
            b.notes.push(format!(
                "round {}: the removal and the reply after it not held yet: class 7 not made",
                b.rounds
            ));
        }
        out
    }

    /// The removal group and its thread held, or waiting, anywhere but at its members'
    /// sites.
    pub(super) fn byzantine_leaks(&self) -> Vec<String> {
        let Some(b) = &self.byz else {
            return Vec::new();
        };
        let mut leaks = Vec::new();
        for (i, s) in self.sites.iter().enumerate() {
            if b.group_holders().contains(&i) {
                continue;
            }
            for d in [&b.group, &b.thread] {
                if s.replica.holds(d) {
                    leaks.push(format!("{} holds private document {d}", self.names[i]));
                }
            }
        }
        leaks
    }

    /// The byzantine section of the report: forgeries by class, what honest sites did with
    /// them, and whether the honest sites agree.
    pub(super) fn byzantine_result(&self) -> Option<ByzantineResult> {
        let b = self.byz.as_ref()?;
        let n = self.n();
        let site = b.spec.site;
        let honest: Vec<usize> = (0..n).filter(|&i| i != site).collect();
        let mut classes = Vec::new();
        let (mut forged_accepted, mut forged_left) = (0u64, 0u64);
        let (mut listings_held, mut listings_expected) = (0u64, 0u64);
        for class in Forgery::ALL {
            let mut res = ForgeryResult::new(class);
            if class == Forgery::SquattedCertificate {
                res.made = u64::from(b.squat_sent_us.is_some());
                res.sent = b.squat_frames;
                let key = b.squat.open().map(|c| c.key.id()).ok();
                res.held_at_end = honest
                    .iter()
                    .filter(|&&i| {
                        key.is_some_and(|k| {
                            self.sites[i]
                                .replica
                                .certificates_of(&k)
                                .iter()
                                .any(|c| **c == b.squat)
                        })
                    })
                    .count() as u64;
                res.verdicts.push(("kept".to_owned(), res.held_at_end));
                classes.push(res);
                continue;
            }
            for f in b.forged.iter().filter(|f| f.class == class) {
                res.made += 1;
                res.sent += f.sent;
                res.accepted += f.accepted;
                match res.verdicts.iter_mut().find(|(v, _)| v == f.verdict) {
                    Some((_, k)) => *k += 1,
                    None => res.verdicts.push((f.verdict.to_owned(), 1)),
                }
                let (Some(doc), Some(hash)) = (&f.doc, &f.hash) else {
                    continue;
                };
                for (i, s) in self.sites.iter().enumerate() {
                    let held = s.replica.doc(doc).is_some_and(|d| d.has(hash));
                    let waiting = s.replica.pending_doc(hash).is_some();
                    res.held_at_end += u64::from(held);
                    res.waiting_at_end += u64::from(waiting);
                    if class.accepted_by_design() && i != site {
                        listings_held += u64::from(held);
                    }
                }
            }
            if class.accepted_by_design() {
                listings_expected = res.made * honest.len() as u64;
            } else {
                forged_accepted += res.accepted;
                forged_left += res.held_at_end + res.waiting_at_end;
            }
            classes.push(res);
        }

        // Honest changes by the squatted author after the squat: held where expected?
        let mut squatted_missing = 0u64;
        for &k in &b.squatted_changes {
            let t = &self.changes[k];
            squatted_missing += (0..n)
                .filter(|&j| t.expected[j] && t.arrivals[j] == NEVER)
                .count() as u64;
        }

        // Every honest site holds the same documents with the same heads: each document where
        // the first honest site's replica says a site may hold it.
        let reference = &self.sites[honest[0]].replica;
        let mut docs: Vec<DocId> = honest
            .iter()
            .flat_map(|&i| self.sites[i].replica.doc_ids().cloned())
            .collect();
        docs.sort();
        docs.dedup();
        let mut differing = 0u64;
        let mut diverged = vec![false; n];
        let mut byzantine_agrees = true;
        for d in &docs {
            let holders: Vec<usize> = if reference.holds(d) {
                (0..n)
                    .filter(|&j| reference.may_hold(&self.names[j], d))
                    .collect()
            } else {
                // Only sites that may hold it have it; the reference is not one: use a
                // holder's view.
                let h = honest
                    .iter()
                    .copied()
                    .find(|&i| self.sites[i].replica.holds(d))
                    .unwrap_or(honest[0]);
                (0..n)
                    .filter(|&j| self.sites[h].replica.may_hold(&self.names[j], d))
                    .collect()
            };
            let want = holders
                .iter()
                .find(|&&j| j != site)
                .and_then(|&j| self.sites[j].replica.heads_of(d));
            let mut bad = false;
            for (j, s) in self.sites.iter().enumerate() {
                let has = s.replica.heads_of(d);
                let ok = if holders.contains(&j) {
                    has.is_some() && has == want
                } else {
                    has.is_none()
                };
                if !ok {
                    if j == site {
                        byzantine_agrees = false;
                    } else {
                        diverged[j] = true;
                        bad = true;
                    }
                }
            }
            differing += u64::from(bad);
        }
        let mut refusals: Vec<(String, u64)> = self
            .rejections
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect();
        refusals.sort();
        Some(ByzantineResult {
            site: self.names[site].clone(),
            victim_site: self.names[b.spec.victim_site].clone(),
            removed: self.world.authors[b.removed].employee.clone(),
            departed: self.world.authors[b.departed].employee.clone(),
            rounds: b.rounds,
            classes,
            forged_accepted,
            forged_left,
            listings_held,
            listings_expected,
            squatted: self.world.authors[b.squatted].employee.clone(),
            squatted_changes: b.squatted_changes.len() as u64,
            squatted_missing,
            honest_sites: honest.len() as u64,
            docs_compared: docs.len() as u64,
            docs_differing: differing,
            diverged_sites: honest
                .iter()
                .filter(|&&i| diverged[i])
                .map(|&i| self.names[i].clone())
                .collect(),
            byzantine_agrees,
            pending_honest: honest
                .iter()
                .map(|&i| self.sites[i].replica.pending_len() as u64)
                .sum(),
            refusals,
            expired: self.expired,
            notes: b.notes.clone(),
        })
    }
}

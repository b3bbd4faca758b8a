//! A byzantine site among honest ones: it sends every class of forgery the trust core must
//! refuse (issue 12), mixed with honest traffic, in random orders, with duplicates and losses.
//! Honest replicas accept and refuse exactly the same changes, accept no forgery, and
//! converge.
//!
//! The company: four sites; site3 is byzantine (it holds its own node key and employees e3
//! and e7, and has stolen site1's old node key, which the authority has since revoked).
//! Directory version 2 marks e7 as left and moves site1 to a new key.

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc};
use proptest::prelude::*;
use weft_crdt::testkit::{Rng, World, unchecked_bytes};
use weft_crdt::{
    Author, DocId, DocKind, GroupView, NewGroup, Replica, SignedChange, ThreadView, Visibility,
};
use weft_keys::{EmployeeCert, RevokedKey, SecretKey, Signed, Status};

const T0: u64 = 1_800_000_000;

fn at(secs: i64) -> i64 {
    (T0 as i64 + secs) * 1000
}

#[derive(Debug, Clone)]
enum Op {
    Local {
        site: usize,
        action: u8,
        a: u16,
        b: u16,
    },
    Deliver {
        to: usize,
        count: u8,
        seed: u16,
    },
    Certs {
        to: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 0..7u8, any::<u16>(), any::<u16>())
            .prop_map(|(site, action, a, b)| Op::Local { site, action, a, b }),
        3 => (0..3usize, 1..14u8, any::<u16>()).prop_map(|(to, count, seed)| Op::Deliver { to, count, seed }),
        1 => (0..3usize).prop_map(|to| Op::Certs { to }),
    ]
}

/// A forgery and whether honest replicas end up holding it (only the foreign listing, which
/// the crdt rules cannot see through and the node's views filter out).
struct Forgery {
    what: &'static str,
    bytes: Vec<u8>,
    held: bool,
}

struct Sim {
    w: World,
    replicas: Vec<Replica>,
    pool: Vec<SignedChange>,
    forgeries: Vec<Forgery>,
    /// Certificates the byzantine site hands out: a squatted one for e0's key and one its
    /// stolen key made for a fake e1 key.
    certs: Vec<Signed<EmployeeCert>>,
    g_pub: DocId,
    g_priv: DocId,
    now: i64,
    nonce: u64,
}

fn forge(
    r: &Replica,
    author: &Author,
    doc: &DocId,
    heads: Vec<automerge::ChangeHash>,
    time: i64,
    version: Option<u64>,
    edit: impl FnOnce(
        &mut automerge::transaction::Transaction<'_>,
    ) -> Result<(), automerge::AutomergeError>,
) -> Vec<u8> {
    unchecked_bytes(r, author, Some(doc), doc.kind(), heads, time, version, edit).unwrap()
}

fn new_post(
    tx: &mut automerge::transaction::Transaction<'_>,
    key: &str,
    author: &str,
    body: &str,
) -> Result<(), automerge::AutomergeError> {
    let posts = tx.get(ROOT, "posts")?.unwrap().1;
    let p = tx.put_object(&posts, key, ObjType::Map)?;
    tx.put(&p, "author", author)?;
    tx.put(&p, "body", body)
}

impl Sim {
    fn new() -> Sim {
        let mut w = World::new(4, 8);
        let old_site1 = w.nodes[1].clone();
        let new_site1 = SecretKey::from_seed(&[61; 32]);
        w.publish_at(T0, |d| {
            d.employees.get_mut("e7").unwrap().status = Status::Left;
            d.sites.get_mut("site1").unwrap().node_key = Some(new_site1.public());
            d.revoked_keys.push(RevokedKey {
                site: "site1".into(),
                key: old_site1.public(),
                from_version: 0,
                reason: "stolen".into(),
            });
        });
        for i in [1, 5] {
            let id = w.authors[i].employee.clone();
            w.authors[i].cert = World::cert(&new_site1, &id, "site1", &w.authors[i].key);
        }
        w.nodes[1] = new_site1;
        let mut r0 = w.replica();
        let e0 = w.authors[0].clone();
        let group = |r: &mut Replica, vis, nonce| {
            r.create_group(
                &e0,
                &NewGroup {
                    name: "G",
                    description: "",
                    visibility: vis,
                    home_site: "site0",
                },
                at(1),
                nonce,
            )
            .unwrap()
        };
        let gp = group(&mut r0, Visibility::Public, 1);
        let gs = group(&mut r0, Visibility::Private, 2);
        let add1 = r0.add_member(&e0, gs.doc(), "e1", at(2)).unwrap();
        let add3 = r0.add_member(&e0, gs.doc(), "e3", at(3)).unwrap();
        let (tp, lp) = r0
            .create_thread(&e0, gp.doc(), "Public", "hello #all", at(4), 3)
            .unwrap();
        let (ts, ls) = r0
            .create_thread(&e0, gs.doc(), "Private", "members only", at(5), 4)
            .unwrap();
        let before_removal = r0.doc(gs.doc()).unwrap().heads();
        let rm3 = r0.remove_member(&e0, gs.doc(), "e3", at(6)).unwrap();
        let after_removal = r0.doc(gs.doc()).unwrap().heads();
        let (h, _) = r0
            .reply(&e0, ts.doc(), "after e3 left", None, at(7), 5)
            .unwrap();
        let pool = vec![
            gp.clone(),
            gs.clone(),
            add1,
            add3,
            tp.clone(),
            lp,
            ts.clone(),
            ls,
            rm3,
            h.clone(),
        ];

        // The byzantine site's forgeries.
        let e3 = w.authors[3].clone();
        let e7 = w.authors[7].clone();
        let pub_heads = r0.doc(gp.doc()).unwrap().heads();
        let e0_key = w.authors[0].key.public().id().to_string();
        let fake_key = SecretKey::from_seed(&[66; 32]);
        let fake_e1 = Author {
            employee: "e1".into(),
            key: fake_key.clone(),
            cert: World::cert(&old_site1, "e1", "site1", &fake_key),
        };
        let squat = World::cert(&w.nodes[3], "e3", "site3", &w.authors[0].key);
        // A change e0 never made public (on a copy), with its signature broken: only the
        // byzantine site ever sends it.
        let (ghost, _) = r0
            .clone()
            .reply(&e0, ts.doc(), "never sent", None, at(8), 6)
            .unwrap();
        let mut tampered = ghost.bytes().to_vec();
        let n = tampered.len();
        tampered[n - 2] ^= 0x40;
        let e3_post = |n: u64| format!("{}-{n:016x}", e3.key.public().id());
        let forgeries = vec![
            Forgery {
                what: "oversized (1,100 topics)",
                bytes: forge(&r0, &e3, tp.doc(), pub_heads.clone(), at(10), None, |tx| {
                    new_post(tx, &e3_post(1), "e3", "tags")?;
                    let posts = tx.get(ROOT, "posts")?.unwrap().1;
                    let p = tx.get(&posts, e3_post(1))?.unwrap().1;
                    let topics = tx.put_object(&p, "topics", ObjType::Map)?;
                    for i in 0..1_100 {
                        tx.put(&topics, format!("t{i}"), true)?;
                    }
                    Ok(())
                }),
                held: false,
            },
            Forgery {
                what: "departed employee naming an older version",
                bytes: forge(&r0, &e7, gp.doc(), vec![], at(3600), Some(1), |tx| {
                    let m = tx.get(ROOT, "members")?.unwrap().1;
                    tx.put(&m, "e7", true)
                }),
                held: false,
            },
            Forgery {
                what: "key certified by a revoked node key",
                bytes: forge(&r0, &fake_e1, gp.doc(), vec![], at(3600), None, |tx| {
                    let r = tx.get(ROOT, "requests")?.unwrap().1;
                    tx.put(&r, "e1", "fake")
                }),
                held: false,
            },
            Forgery {
                what: "a post under someone else's key",
                bytes: forge(&r0, &e3, tp.doc(), pub_heads.clone(), at(10), None, |tx| {
                    new_post(tx, &format!("{e0_key}-00000000000000ff"), "e3", "mine")
                }),
                held: false,
            },
            Forgery {
                what: "post after removal, naming the removal",
                bytes: forge(&r0, &e3, ts.doc(), after_removal, at(10), None, |tx| {
                    new_post(tx, &e3_post(2), "e3", "still here")
                }),
                held: false,
            },
            Forgery {
                what: "post after removal, naming older group heads",
                bytes: forge(&r0, &e3, ts.doc(), before_removal, at(10), None, |tx| {
                    new_post(tx, &e3_post(3), "e3", "still here")
                }),
                held: false,
            },
            Forgery {
                what: "tampered signature",
                bytes: tampered,
                held: false,
            },
            Forgery {
                what: "foreign listing (accepted: views filter it)",
                bytes: forge(&r0, &e3, gp.doc(), vec![], at(10), None, |tx| {
                    let t = tx.get(ROOT, "threads")?.unwrap().1;
                    tx.put(&t, ts.doc().as_str(), "Leaked")
                }),
                held: true,
            },
        ];
        let mut replicas = vec![r0, w.replica(), w.replica()];
        for r in &mut replicas[1..] {
            r.ingest(pool.iter().cloned());
        }
        Sim {
            g_pub: gp.doc().clone(),
            g_priv: gs.doc().clone(),
            w,
            replicas,
            pool,
            forgeries,
            certs: vec![squat, fake_e1.cert],
            now: at(100),
            nonce: 100,
        }
    }

    fn local(&mut self, site: usize, action: u8, a: u16, b: u16) {
        self.now += 1000;
        self.nonce += 1;
        let (now, nonce) = (self.now, self.nonce);
        // Honest employees of the site: e_site and e_{site+4}.
        let author = self.w.authors[site + 4 * (a as usize % 2)].clone();
        let r = &mut self.replicas[site];
        let threads: Vec<DocId> = r
            .doc_ids()
            .filter(|d| d.kind() == DocKind::Thread)
            .cloned()
            .collect();
        let thread = (!threads.is_empty()).then(|| threads[b as usize % threads.len()].clone());
        let posts: Vec<(String, String)> = thread
            .as_ref()
            .and_then(|t| r.doc(t))
            .and_then(ThreadView::of)
            .map(|v| v.posts.into_iter().map(|p| (p.id, p.author)).collect())
            .unwrap_or_default();
        let post = (!posts.is_empty()).then(|| posts[a as usize % posts.len()].clone());
        let own = posts.iter().find(|(_, w)| *w == author.employee).cloned();
        let made: Vec<SignedChange> = match action {
            0 => r
                .create_thread(
                    &author,
                    &self.g_pub,
                    "T",
                    &format!("post {nonce}"),
                    now,
                    nonce,
                )
                .map(|(t, l)| vec![t, l])
                .unwrap_or_default(),
            1 => thread
                .and_then(|t| {
                    r.reply(&author, &t, &format!("reply {nonce}"), None, now, nonce)
                        .ok()
                })
                .map(|(c, _)| vec![c])
                .unwrap_or_default(),
            2 => match (&thread, &post) {
                (Some(t), Some((p, _))) => r
                    .react(&author, t, p, "like", !a.is_multiple_of(3), now)
                    .map(|c| vec![c])
                    .unwrap_or_default(),
                _ => vec![],
            },
            3 => match (&thread, &own) {
                (Some(t), Some((p, _))) => r
                    .edit_post(&author, t, p, &format!("edited {nonce}"), now)
                    .map(|c| vec![c])
                    .unwrap_or_default(),
                _ => vec![],
            },
            4 => {
                let me = author.employee.clone();
                let res = if b.is_multiple_of(2) {
                    r.add_member(&author, &self.g_pub, &me, now)
                } else {
                    r.remove_member(&author, &self.g_pub, &me, now)
                };
                res.map(|c| vec![c]).unwrap_or_default()
            }
            5 => {
                let owner = self.w.authors[0].clone();
                let res = if site != 0 {
                    Err(weft_crdt::LocalError::Invalid("not here"))
                } else if a.is_multiple_of(2) {
                    r.add_member(&owner, &self.g_priv, "e5", now)
                } else {
                    r.remove_member(&owner, &self.g_priv, "e5", now)
                };
                res.map(|c| vec![c]).unwrap_or_default()
            }
            _ => r
                .create_thread(&author, &self.g_priv, "S", "members only", now, nonce)
                .map(|(t, l)| vec![t, l])
                .unwrap_or_default(),
        };
        self.pool.extend(made);
    }

    fn everything(&self) -> Vec<Vec<u8>> {
        self.pool
            .iter()
            .map(|c| c.bytes().to_vec())
            .chain(self.forgeries.iter().map(|f| f.bytes.clone()))
            .collect()
    }

    fn deliver(&mut self, to: usize, count: u8, seed: u16) {
        let all = self.everything();
        let mut rng = Rng::new(u64::from(seed) + 7);
        let picks: Vec<Vec<u8>> = (0..count)
            .map(|_| all[rng.below(all.len())].clone())
            .collect();
        self.replicas[to].ingest_bytes(picks.iter().map(Vec::as_slice));
    }

    fn certs(&mut self, to: usize) {
        for c in &self.certs {
            let _ = self.replicas[to].add_certificate(c);
        }
    }

    fn resync(&mut self, seed: u64) {
        let mut rng = Rng::new(seed);
        for i in 0..3 {
            self.certs(i);
            let mut all = self.everything();
            all.extend(self.everything());
            rng.shuffle(&mut all);
            self.replicas[i].ingest_bytes(all.iter().map(Vec::as_slice));
        }
    }
}

fn summary(r: &Replica) -> Vec<(DocId, Vec<automerge::ChangeHash>, String)> {
    r.docs()
        .map(|d| {
            let view = match d.kind() {
                DocKind::Thread => format!("{:?}", ThreadView::of(d)),
                DocKind::Group => format!("{:?}", GroupView::of(d)),
                DocKind::Profile => format!("{:?}", d.automerge().get_heads()),
            };
            (d.id().clone(), d.heads(), view)
        })
        .collect()
}

fn held(r: &Replica, bytes: &[u8]) -> Option<bool> {
    let c = SignedChange::decode(bytes).ok()?;
    Some(r.doc(c.doc()).is_some_and(|d| d.has(&c.hash())))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_byzantine_site_gets_no_forgery_accepted_and_honest_sites_agree(
        ops in proptest::collection::vec(op(), 5..50),
        seed in any::<u64>(),
    ) {
        let mut sim = Sim::new();
        for op in ops {
            match op {
                Op::Local { site, action, a, b } => sim.local(site, action, a, b),
                Op::Deliver { to, count, seed } => sim.deliver(to, count, seed),
                Op::Certs { to } => sim.certs(to),
            }
        }
        sim.resync(seed);
        let first = summary(&sim.replicas[0]);
        for r in &sim.replicas {
            prop_assert_eq!(r.pending_len(), 0, "changes still waiting after resync");
            prop_assert_eq!(&summary(r), &first);
        }
        // Every honest change is held everywhere.
        for c in &sim.pool {
            for r in &sim.replicas {
                prop_assert!(r.doc(c.doc()).is_some_and(|d| d.has(&c.hash())), "honest change lost");
            }
        }
        // Every forgery is refused everywhere (held nowhere), the foreign listing aside, and
        // what a replica remembers as refused, every replica remembers.
        for f in &sim.forgeries {
            for r in &sim.replicas {
                let h = held(r, &f.bytes).unwrap_or(false);
                prop_assert_eq!(h, f.held, "{}", f.what);
                if let Ok(c) = SignedChange::decode(&f.bytes) {
                    let remembered: Vec<bool> = sim.replicas.iter().map(|x| x.is_rejected(&c.hash())).collect();
                    prop_assert!(remembered.iter().all(|x| *x == remembered[0]), "{}: {:?}", f.what, remembered);
                }
            }
        }
        // The squatted certificate never blocked e0, whose changes are all held (above).
    }
}

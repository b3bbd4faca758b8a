//! Hostile peers: a stranger is refused; an enrolled site's key used to send garbage, forged
//! and tampered changes gets them dropped and refused, and the node keeps serving.

use std::time::Duration;

use libp2p::futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, identity, noise, tcp, yamux};
use weft_node::net::{Behaviour, BehaviourEvent};

use crate::harness::{Company, Node};

/// A libp2p node of our own making, speaking Weft's sync protocol.
pub(crate) fn rogue(seed: [u8; 32]) -> libp2p::Swarm<Behaviour> {
    let key = identity::Keypair::ed25519_from_bytes(seed).unwrap();
    libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|k| Behaviour::new(k, false).unwrap())
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

fn p2p_addr(company: &Company, i: usize) -> Multiaddr {
    let text = std::fs::read_to_string(&company.sites[i].config).unwrap();
    let line = text.lines().find(|l| l.starts_with("listen")).unwrap();
    let addr = line.split('"').nth(1).unwrap();
    addr.parse().unwrap()
}

/// Site `i`'s libp2p address (for other test modules).
pub(crate) fn p2p_addr_of(company: &Company, i: usize) -> Multiaddr {
    p2p_addr(company, i)
}

/// The peer id of site `i`'s node (for other test modules).
pub(crate) fn site_peer_of(company: &Company, i: usize) -> PeerId {
    site_peer(company, i)
}

/// The peer id of site `i`'s node.
fn site_peer(company: &Company, i: usize) -> PeerId {
    let path = company.sites[i].config.parent().unwrap().join("node.pub");
    let key: weft_node::keys::PublicKey = std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    weft_node::net::peer_id_of(&key).unwrap()
}

/// Dials site `i` and reports whether a connection was established and kept for a moment.
pub(crate) async fn try_connect(
    swarm: &mut libp2p::Swarm<Behaviour>,
    company: &Company,
    i: usize,
) -> Option<PeerId> {
    // Our own allow list must let the far side in.
    swarm
        .behaviour_mut()
        .allow
        .allow_peer(site_peer(company, i));
    swarm.dial(p2p_addr(company, i)).unwrap();
    let deadline = tokio::time::sleep(Duration::from_secs(5));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    // The far side may still close it at once: give it a moment.
                    let grace = tokio::time::sleep(Duration::from_millis(500));
                    tokio::pin!(grace);
                    loop {
                        tokio::select! {
                            ev = swarm.select_next_some() => {
                                if let SwarmEvent::ConnectionClosed { .. } = ev { return None; }
                            }
                            () = &mut grace => return Some(peer_id),
                        }
                    }
                }
                SwarmEvent::OutgoingConnectionError { .. } => return None,
                SwarmEvent::ConnectionClosed { .. } => return None,
                _ => {}
            },
            () = &mut deadline => return None,
        }
    }
}

#[test]
fn a_peer_the_directory_does_not_list_is_refused() {
    let company = Company::new();
    let a = company.start(0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let connected = rt.block_on(async {
        let mut stranger = rogue([42; 32]);
        try_connect(&mut stranger, &company, 0).await
    });
    assert_eq!(connected, None, "a stranger stayed connected");
    a.wait_until(Duration::from_secs(10), "the refusal is counted", |n| {
        n.metric("weft_refused_peers_total") >= 1.0
    });
    assert!(
        a.log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("not a site in the directory"))
    );
    assert_eq!(a.get("/healthz").map(|r| r.0), Some(200));
}

/// The secret seed in a node key file.
pub(crate) fn node_seed(company: &Company, i: usize) -> [u8; 32] {
    let path = company.sites[i].config.parent().unwrap().join("node.key");
    let text = std::fs::read_to_string(path).unwrap();
    let hex = text.split_whitespace().nth(1).unwrap();
    weft_node::keys::from_hex(hex).unwrap().try_into().unwrap()
}

#[test]
fn garbage_forged_and_tampered_frames_are_dropped_and_the_node_keeps_serving() {
    let company = Company::new();
    let a = company.start(0);
    let b = company.start(1);
    let pair = [a, b];
    for n in &pair {
        n.wait_until(Duration::from_secs(60), "connected", |n| {
            n.connected_peers() == 1
        });
    }
    let [a, b] = pair;
    let helene = a.login("hdupre");
    let g = a.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(serde_json::json!({"name": "Cible", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    // A secret group with members at Paris and New York only.
    let p = a.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(serde_json::json!({"name": "Secret", "visibility": "secret"})),
        201,
    );
    let private = p["id"].as_str().unwrap().to_owned();
    a.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{private}/members"),
        Some(serde_json::json!({"user": "jsmith"})),
        200,
    );

    // Bangalore's node is not running; someone holding its key connects to Paris and sends
    // garbage, a tampered change and a forged one.
    let seed = node_seed(&company, 2);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut impostor = rogue(seed);
        let peer = try_connect(&mut impostor, &company, 0).await.expect("an enrolled key is admitted");
        // A genuine change to tamper with: Paris's group genesis is in its store, but we make
        // our own with the crdt test kit instead — signed by a key Paris does not know.
        let w = weft_node::crdt::testkit::World::new(1, 1);
        let mut r = w.replica();
        let forged = r
            .create_group(&w.authors[0], &weft_node::crdt::NewGroup { name: "x", description: "", visibility: weft_node::crdt::Visibility::Public, home_site: "site0" }, 1, 1)
            .unwrap();
        let mut tampered = forged.bytes().to_vec();
        let mid = tampered.len() / 2;
        tampered[mid] ^= 1;
        let frames: Vec<Vec<u8>> = vec![
            vec![],
            vec![0xde, 0xad, 0xbe, 0xef],
            vec![0, 1, 5, 0xff, 0xff, 0xff, 0xff, 0x0f],
            (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect(),
            weft_node::crdt::sync::Message::Changes { certs: vec![vec![1, 2, 3]], changes: vec![tampered, forged.bytes().to_vec(), vec![9; 100]] }.encode(),
            weft_node::crdt::sync::Message::Need { doc: weft_node::crdt::DocId::parse(&gid).unwrap(), hashes: vec![[0; 32]] }.encode(),
            // Bangalore asks for the secret group it may not hold.
            weft_node::crdt::sync::Message::Need { doc: weft_node::crdt::DocId::parse(&private).unwrap(), hashes: vec![[0; 32]] }.encode(),
            weft_node::crdt::sync::Message::Heads {
                docs: vec![weft_node::crdt::sync::message::DocHeads { doc: weft_node::crdt::DocId::parse(&private).unwrap(), heads: vec![], clock: Some(vec![]), reply: true }],
            }
            .encode(),
        ];
        let n = frames.len();
        for f in frames {
            impostor.behaviour_mut().sync.send_request(&peer, f);
        }
        // Garbage on the gossip topic too, once Paris's subscription is known.
        let topic = libp2p::gossipsub::IdentTopic::new(weft_node::net::PUBLIC_TOPIC);
        let deadline = tokio::time::sleep(Duration::from_secs(10));
        tokio::pin!(deadline);
        let mut published = 0;
        let mut retry = tokio::time::interval(Duration::from_millis(100));
        let junk = [vec![1u8, 2, 3], vec![0, 1, 5, 9, 9, 9], vec![0, 1, 1]];
        while published < junk.len() {
            tokio::select! {
                _ = impostor.select_next_some() => {}
                _ = retry.tick() => {
                    if impostor.behaviour_mut().gossipsub.publish(topic.clone(), junk[published].clone()).is_ok() {
                        published += 1;
                    }
                }
                () = &mut deadline => break,
            }
        }
        assert_eq!(published, 3, "could not gossip");
        // Wait for the acknowledgements.
        let mut acks = 0;
        let deadline = tokio::time::sleep(Duration::from_secs(10));
        tokio::pin!(deadline);
        while acks < n {
            tokio::select! {
                ev = impostor.select_next_some() => {
                    if let SwarmEvent::Behaviour(BehaviourEvent::Sync(libp2p::request_response::Event::Message { message: libp2p::request_response::Message::Response { .. }, .. })) = ev {
                        acks += 1;
                    }
                }
                () = &mut deadline => break,
            }
        }
    });
    a.wait_until(Duration::from_secs(10), "the garbage is counted", |n| {
        n.metric("weft_malformed_frames_total") >= 6.0
    });
    a.wait_until(
        Duration::from_secs(10),
        "the bad changes are refused",
        |n| n.metric("weft_changes_rejected_total") >= 2.0,
    );
    assert_eq!(a.get("/healthz").map(|r| r.0), Some(200));
    // Paris still works with New York.
    let t = a.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(serde_json::json!({"title": "Toujours là", "body": "ok"})),
        201,
    );
    let john = b.login("jsmith");
    b.wait_until(
        Duration::from_secs(20),
        "the thread reaches New York",
        |n| {
            n.request(
                "GET",
                &format!("/api/v1/threads/{}", t["id"].as_str().unwrap()),
                None,
                Some(&john),
            )
            .map(|r| r.0)
                == Some(200)
        },
    );
    let log = a.log.lock().unwrap().join("\n");
    assert!(log.contains("malformed frame dropped"), "{log}");
    assert!(log.contains("malformed gossip message"), "{log}");
    // The secret group was refused to Bangalore's key, both times it asked.
    assert!(
        log.matches("refused a document the peer may not hold")
            .count()
            >= 2,
        "{log}"
    );
    let _: &Node = &a;
}

/// Sends `frames` to `peer` and collects the frames it sends back (answering each, as a node
/// does) until `done` says enough or `secs` pass.
async fn exchange(
    swarm: &mut libp2p::Swarm<Behaviour>,
    peer: PeerId,
    frames: Vec<Vec<u8>>,
    secs: u64,
    mut done: impl FnMut(&[weft_node::crdt::sync::Message]) -> bool,
) -> Vec<weft_node::crdt::sync::Message> {
    use libp2p::request_response::{Event as Rr, Message as RrMsg};
    for f in frames {
        swarm.behaviour_mut().sync.send_request(&peer, f);
    }
    let mut got = Vec::new();
    let deadline = tokio::time::sleep(Duration::from_secs(secs));
    tokio::pin!(deadline);
    while !done(&got) {
        tokio::select! {
            ev = swarm.select_next_some() => {
                if let SwarmEvent::Behaviour(BehaviourEvent::Sync(Rr::Message { message: RrMsg::Request { request, channel, .. }, .. })) = ev {
                    let _ = swarm.behaviour_mut().sync.send_response(channel, Vec::new());
                    if let Ok(m) = weft_node::crdt::sync::Message::decode(&request) {
                        got.push(m);
                    }
                }
            }
            () = &mut deadline => break,
        }
    }
    got
}

/// An admitted site turned hostile (someone holds Bangalore's node key) tries every forgery
/// class of the trust core against Paris over the real wire protocol: a change over the
/// decoder's limits, a post under another author's key, a departed employee naming an older
/// directory version, a thread in a private group its authors were removed from, a squatted
/// certificate and junk certificates, a listing of a private thread in a public group. Paris
/// refuses, logs and counts each, keeps serving, loses nothing it acknowledged, and keeps
/// working with New York; once the authority revokes Bangalore's key, the key is refused.
#[test]
fn an_admitted_hostile_site_gets_no_forgery_accepted() {
    use weft_node::crdt::sync::Message;
    use weft_node::crdt::{DocId, DocKind, Replica, SignedChange};
    let company = Company::new();
    // Version with srao (Bangalore) gone: the hostile site will sign for them anyway.
    let before = company.publish(|d| {
        d["employees"]["srao"]["status"] = serde_json::json!("left");
    });
    let a = company.start(0);
    let b = company.start(1);
    for n in [&a, &b] {
        n.wait_until(Duration::from_secs(60), "connected", |n| {
            n.connected_peers() == 1
        });
    }
    let helene = a.login("hdupre");
    let claire = a.login("cmartin");
    let g = a.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(serde_json::json!({"name": "Cible", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    let t = a.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{gid}/threads"),
        Some(serde_json::json!({"title": "Public", "body": "hello"})),
        201,
    );
    let tid = t["id"].as_str().unwrap().to_owned();
    let p = a.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(serde_json::json!({"name": "Board", "visibility": "private"})),
        201,
    );
    let pid = p["id"].as_str().unwrap().to_owned();
    let tp = a.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{pid}/threads"),
        Some(serde_json::json!({"title": "Private", "body": "members only"})),
        201,
    );
    let tpid = tp["id"].as_str().unwrap().to_owned();
    // pkumar (Bangalore) was a member of the private group for a while.
    a.api(
        &helene,
        "POST",
        &format!("/api/v1/groups/{pid}/members"),
        Some(serde_json::json!({"user": "pkumar"})),
        200,
    );
    a.api(
        &helene,
        "DELETE",
        &format!("/api/v1/groups/{pid}/members/pkumar"),
        None,
        204,
    );

    // The hostile site's tools: its node key, the directory, its employees' keys.
    let site_dir = company.sites[2].config.parent().unwrap().to_path_buf();
    let node_key = weft_node::files::read_secret_key(&site_dir.join("node.key")).unwrap();
    let signed_dir: weft_node::keys::directory::SignedDirectory =
        weft_node::keys::Signed::from_bytes(
            &std::fs::read(company.root().join("directory.signed")).unwrap(),
        )
        .unwrap();
    let dir = signed_dir.open().unwrap();
    let trust = weft_node::keys::TrustAnchors::single(
        weft_node::files::read_public_key(&company.root().join("authority/authority.pub")).unwrap(),
    );
    let mut identity = weft_node::identity::Identity::new("bangalore", node_key.clone());
    identity.refresh(&dir, 0);
    let pkumar = identity.author("pkumar").unwrap().clone();
    // srao left in the current version: sign for them with the key their node would have.
    let mut old_identity = weft_node::identity::Identity::new("bangalore", node_key.clone());
    let mut old_dir = dir.clone();
    old_dir.employees.get_mut("srao").unwrap().status = weft_node::keys::Status::Active;
    old_identity.refresh(&old_dir, 0);
    let srao = old_identity.author("srao").unwrap().clone();
    let gdoc = DocId::parse(&gid).unwrap();
    let tdoc = DocId::parse(&tid).unwrap();
    let pdoc = DocId::parse(&pid).unwrap();

    let seed = node_seed(&company, 2);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let helene_key_id = rt.block_on(async {
        let mut hostile = rogue(seed);
        let peer = try_connect(&mut hostile, &company, 0)
            .await
            .expect("an enrolled key is admitted");
        let hello = Message::Hello {
            protocol: 1,
            site: "bangalore".into(),
            directory_version: dir.version,
        }
        .encode();
        let ask = |doc: &DocId| weft_node::crdt::sync::message::DocHeads {
            doc: doc.clone(),
            heads: vec![],
            clock: Some(vec![]),
            reply: true,
        };
        let heads = Message::Heads {
            docs: vec![ask(&gdoc), ask(&tdoc)],
        }
        .encode();
        // Everything Paris shares with Bangalore: the public group and thread...
        let got = exchange(&mut hostile, peer, vec![hello, heads], 20, |got| {
            got.iter().any(|m| matches!(m, Message::Changes { .. }))
        })
        .await;
        let mut replica = Replica::new(trust.clone());
        replica.set_directory(&signed_dir).unwrap();
        for m in &got {
            if let Message::Changes { certs, changes } = m {
                for c in certs {
                    let _ =
                        replica.add_certificate(&weft_node::keys::Signed::from_bytes(c).unwrap());
                }
                replica.ingest_bytes(changes.iter().map(Vec::as_slice));
            }
        }
        assert!(
            replica.doc(&tdoc).is_some(),
            "the public thread was not shared"
        );
        // ...and, asked as a site that held the private group would ask (claiming Hélène's
        // first change, whose key the public thread shows), only what concerned pkumar: their
        // addition and removal (a site that never held the group cannot apply them, and
        // learns nothing else). Asking with no claim at all gets nothing.
        let helene = replica
            .doc(&tdoc)
            .unwrap()
            .changes()
            .next()
            .unwrap()
            .key_id();
        let claim = weft_node::crdt::sync::message::DocHeads {
            doc: pdoc.clone(),
            heads: vec![],
            clock: Some(vec![(helene.0, 1)]),
            reply: true,
        };
        let got = exchange(
            &mut hostile,
            peer,
            vec![
                Message::Heads {
                    docs: vec![ask(&pdoc), claim],
                }
                .encode(),
            ],
            20,
            |got| got.iter().any(|m| matches!(m, Message::Changes { .. })),
        )
        .await;
        let private: Vec<SignedChange> = got
            .iter()
            .filter_map(|m| match m {
                Message::Changes { changes, .. } => Some(changes),
                _ => None,
            })
            .flatten()
            .filter_map(|b| SignedChange::decode(b).ok())
            .filter(|c| c.doc() == &pdoc)
            .collect();
        assert_eq!(private.len(), 2, "{private:?}");
        let removal = private.last().unwrap().hash();
        assert!(
            replica.doc(&DocId::parse(&tpid).unwrap()).is_none(),
            "the private thread leaked"
        );
        let helene_key_id = replica
            .doc(&tdoc)
            .unwrap()
            .changes()
            .next()
            .unwrap()
            .key_id()
            .to_string();
        let now = weft_node::run::now_ms() as i64;
        let gheads = replica.doc(&gdoc).unwrap().heads();
        let pheads = vec![removal];
        let forge = |author: &weft_node::crdt::Author,
                     doc: Option<&DocId>,
                     kind: DocKind,
                     heads,
                     version: Option<u64>,
                     edit: &dyn Fn(
            &mut automerge::transaction::Transaction<'_>,
        ) -> Result<(), automerge::AutomergeError>| {
            weft_node::crdt::testkit::unchecked_bytes(
                &replica, author, doc, kind, heads, now, version, edit,
            )
            .unwrap()
        };
        use automerge::ReadDoc;
        use automerge::transaction::Transactable;
        let post = |key: String, topics: usize| {
            move |tx: &mut automerge::transaction::Transaction<'_>| {
                let posts = tx.get(automerge::ROOT, "posts")?.unwrap().1;
                let p = tx.put_object(&posts, key.as_str(), automerge::ObjType::Map)?;
                tx.put(&p, "author", "pkumar")?;
                tx.put(&p, "body", "forged")?;
                tx.put(&p, "created_at", automerge::ScalarValue::Timestamp(now))?;
                if topics > 0 {
                    let t = tx.put_object(&p, "topics", automerge::ObjType::Map)?;
                    for i in 0..topics {
                        tx.put(&t, format!("t{i}"), true)?;
                    }
                }
                Ok(())
            }
        };
        let mine = |n: u8| format!("{}-00000000000000{n:02x}", pkumar.key.public().id());
        let oversized = forge(
            &pkumar,
            Some(&tdoc),
            DocKind::Thread,
            gheads.clone(),
            None,
            &post(mine(1), 1_100),
        );
        let stolen_key = forge(
            &pkumar,
            Some(&tdoc),
            DocKind::Thread,
            gheads.clone(),
            None,
            &post(format!("{helene_key_id}-00000000000000ff"), 0),
        );
        // srao left in the current version; their (stolen) key signs a new thread naming the
        // version before, dated after the new version was issued (and the clocks' grace).
        let departed = weft_node::crdt::testkit::unchecked_bytes(
            &replica,
            &srao,
            None,
            DocKind::Thread,
            gheads.clone(),
            now + 15_000,
            Some(before - 1),
            |tx| {
                tx.put(automerge::ROOT, "kind", "thread")?;
                tx.put(automerge::ROOT, "group", gid.as_str())?;
                tx.put(automerge::ROOT, "title", "Back")?;
                tx.put(automerge::ROOT, "author", "srao")?;
                tx.put(
                    automerge::ROOT,
                    "created_at",
                    automerge::ScalarValue::Timestamp(now),
                )?;
                tx.put(automerge::ROOT, "nonce", automerge::ScalarValue::Uint(8))?;
                tx.put(automerge::ROOT, "root_post", "x-1")?;
                for m in ["posts", "reactions", "moderation"] {
                    tx.put_object(automerge::ROOT, m, automerge::ObjType::Map)?;
                }
                Ok(())
            },
        )
        .unwrap();
        let removed = forge(
            &pkumar,
            None,
            DocKind::Thread,
            pheads.clone(),
            None,
            &|tx| {
                tx.put(automerge::ROOT, "kind", "thread")?;
                tx.put(automerge::ROOT, "group", pid.as_str())?;
                tx.put(automerge::ROOT, "title", "Still here")?;
                tx.put(automerge::ROOT, "author", "pkumar")?;
                tx.put(
                    automerge::ROOT,
                    "created_at",
                    automerge::ScalarValue::Timestamp(now),
                )?;
                tx.put(automerge::ROOT, "nonce", automerge::ScalarValue::Uint(7))?;
                tx.put(automerge::ROOT, "root_post", mine(2).as_str())?;
                for m in ["posts", "reactions", "moderation"] {
                    tx.put_object(automerge::ROOT, m, automerge::ObjType::Map)?;
                }
                Ok(())
            },
        );
        let listing = forge(&pkumar, Some(&gdoc), DocKind::Group, vec![], None, &|tx| {
            let t = tx.get(automerge::ROOT, "threads")?.unwrap().1;
            tx.put(&t, tpid.as_str(), "Leaked")
        });
        for bytes in [&stolen_key, &departed, &removed, &listing] {
            assert!(SignedChange::decode(bytes).is_ok());
        }
        // A certificate binding Hélène's key to pkumar (a valid signer: kept, harmless), and
        // junk from a key no site has.
        let helene_key = replica
            .doc(&tdoc)
            .unwrap()
            .changes()
            .next()
            .unwrap()
            .envelope()
            .key_id();
        let helene_pub = replica
            .certificates()
            .find(|c| c.open().unwrap().key.id() == helene_key)
            .unwrap()
            .open()
            .unwrap()
            .key;
        let squat = weft_node::keys::Signed::sign(
            &node_key,
            &weft_node::keys::EmployeeCert {
                employee: "pkumar".into(),
                site: "bangalore".into(),
                key: helene_pub,
                issued_at: 0,
            },
        );
        let rogue_node = weft_node::keys::SecretKey::from_seed(&[9; 32]);
        let junk = weft_node::keys::Signed::sign(
            &rogue_node,
            &weft_node::keys::EmployeeCert {
                employee: "hdupre".into(),
                site: "paris".into(),
                key: helene_pub,
                issued_at: 0,
            },
        );
        let certs = vec![
            squat.to_bytes(),
            junk.to_bytes(),
            pkumar.cert.to_bytes(),
            srao.cert.to_bytes(),
        ];
        let frame = Message::Changes {
            certs,
            changes: vec![oversized, stolen_key, departed, removed, listing],
        }
        .encode();
        exchange(&mut hostile, peer, vec![frame], 3, |_| false).await;
        helene_key_id
    });
    let _ = helene_key_id;
    a.wait_until(Duration::from_secs(10), "the forgeries are counted", |n| {
        let m = |r: &str| {
            n.metric(&format!(
                "weft_changes_rejected_total{{site=\"paris\",reason=\"{r}\"}}"
            ))
        };
        m("malformed") >= 1.0
            && m("rule") >= 2.0
            && m("standing") >= 1.0
            && n.metric("weft_certificates_refused_total") >= 1.0
    });
    assert_eq!(a.get("/healthz").map(|r| r.0), Some(200));
    let log = a.log.lock().unwrap().join("\n");
    assert!(
        log.contains("changes rejected") && log.contains("certificate refused"),
        "{log}"
    );
    // Nothing forged shows; the listing of the private thread in the public group does not
    // show it to someone who may not read it.
    let thread = a.api(&helene, "GET", &format!("/api/v1/threads/{tid}"), None, 200);
    assert_eq!(thread["reply_count"], 0, "{thread}");
    let listed = a.api(
        &claire,
        "GET",
        &format!("/api/v1/groups/{gid}/threads"),
        None,
        200,
    );
    assert!(!listed.to_string().contains(&tpid), "{listed}");
    let private = a.api(
        &helene,
        "GET",
        &format!("/api/v1/groups/{pid}/threads"),
        None,
        200,
    );
    assert_eq!(private["items"].as_array().unwrap().len(), 1, "{private}");
    // Paris still works with New York, Hélène's changes included (the squatted certificate
    // blocks nothing).
    let r = a.api(
        &helene,
        "POST",
        &format!("/api/v1/threads/{tid}/posts"),
        Some(serde_json::json!({"body": "toujours là"})),
        201,
    );
    let john = b.login("jsmith");
    b.wait_until(Duration::from_secs(20), "the reply reaches New York", |n| {
        n.request("GET", &format!("/api/v1/threads/{tid}"), None, Some(&john))
            .is_some_and(|(s, body)| s == 200 && body.contains(r["id"].as_str().unwrap()))
    });
    // The authority revokes Bangalore's key: within moments every running node has the new
    // version (Paris from its directory file, New York from Paris) and the key is refused.
    let revoked = company.publish(|d| {
        let key = d["sites"]["bangalore"]["node_key"].clone();
        d["revoked_keys"] =
            serde_json::json!([{"site": "bangalore", "key": key, "reason": "stolen"}]);
    });
    for n in [&a, &b] {
        n.wait_until(
            Duration::from_secs(60),
            "the new directory reaches every site",
            |n| n.metric("weft_directory_version") >= revoked as f64,
        );
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let again = rt.block_on(async {
        let mut hostile = rogue(seed);
        try_connect(&mut hostile, &company, 0).await
    });
    assert_eq!(again, None, "a revoked key was admitted");
}

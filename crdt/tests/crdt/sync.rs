//! The sync engine between in-memory nodes: catch-up, live pushes, private documents.

use weft_crdt::sync::{Config, Event, Message};
use weft_crdt::testkit::{Cluster, World};
use weft_crdt::{DocKind, GroupView, NewGroup, ThreadView, Visibility};

fn cluster() -> Cluster {
    Cluster::new(World::new(3, 9), Config::default())
}

fn group(
    c: &mut Cluster,
    node: usize,
    author: usize,
    vis: Visibility,
    nonce: u64,
) -> weft_crdt::SignedChange {
    let a = c.world.authors[author].clone();
    let site = c.world.sites[node].clone();
    let g = c.replicas[node]
        .create_group(
            &a,
            &NewGroup {
                name: "IT Transformation",
                description: "",
                visibility: vis,
                home_site: &site,
            },
            1_000,
            nonce,
        )
        .unwrap();
    c.announce(node, std::slice::from_ref(&g));
    g
}

#[test]
fn a_post_reaches_every_site_live() {
    let mut c = cluster();
    c.connect_all();
    c.run();
    let g = group(&mut c, 0, 0, Visibility::Public, 1);
    let a = c.world.authors[0].clone();
    let (t, l) = c.replicas[0]
        .create_thread(
            &a,
            g.doc(),
            "Cloud migration",
            "Qui a de l'expérience avec #kubernetes ?",
            2_000,
            2,
        )
        .unwrap();
    c.announce(0, &[t.clone(), l]);
    c.run();
    for i in 1..3 {
        let view = ThreadView::of(c.replicas[i].doc(t.doc()).unwrap()).unwrap();
        assert_eq!(view.title, "Cloud migration");
    }
    // A reply at site 2 reaches sites 0 and 1.
    let b = c.world.authors[2].clone();
    let (r, _) = c.replicas[2]
        .reply(&b, t.doc(), "Moi !", None, 3_000, 3)
        .unwrap();
    c.announce(2, &[r]);
    c.run();
    assert_eq!(c.state(0), c.state(1));
    assert_eq!(c.state(1), c.state(2));
    assert_eq!(
        ThreadView::of(c.replicas[0].doc(t.doc()).unwrap())
            .unwrap()
            .posts
            .len(),
        2
    );
}

#[test]
fn a_site_that_was_away_catches_up_with_only_what_it_missed() {
    let mut c = cluster();
    c.connect_all();
    let g = group(&mut c, 0, 0, Visibility::Public, 1);
    c.run();
    // Site 2 goes away; 0 and 1 write 200 changes.
    c.disconnect(0, 2);
    c.disconnect(1, 2);
    let a = c.world.authors[0].clone();
    let b = c.world.authors[1].clone();
    let (t, l) = c.replicas[0]
        .create_thread(&a, g.doc(), "Weekly", "Point hebdo", 2_000, 2)
        .unwrap();
    c.announce(0, &[t.clone(), l]);
    c.run();
    for i in 0..199u64 {
        let (node, who) = if i % 2 == 0 { (0, &a) } else { (1, &b) };
        let (r, _) = c.replicas[node]
            .reply(
                who,
                t.doc(),
                &format!("message {i}"),
                None,
                3_000 + i as i64,
                10 + i,
            )
            .unwrap();
        c.announce(node, &[r]);
        c.run();
    }
    let missed: u64 = c.replicas[0]
        .docs()
        .flat_map(|d| d.changes().map(|x| x.bytes().len() as u64))
        .sum::<u64>()
        - c.replicas[2]
            .docs()
            .flat_map(|d| d.changes().map(|x| x.bytes().len() as u64))
            .sum::<u64>();
    let before = (
        c.engines[2].traffic("site0").bytes_received,
        c.engines[2].traffic("site1").bytes_received,
    );
    c.connect(0, 2);
    c.connect(1, 2);
    c.run();
    assert_eq!(c.state(2), c.state(0));
    assert_eq!(c.state(1), c.state(0));
    let received = c.engines[2].traffic("site0").bytes_received
        + c.engines[2].traffic("site1").bytes_received
        - before.0
        - before.1;
    for p in ["site0", "site1"] {
        eprintln!(
            "{p}: {:?}",
            c.engines[if p == "site0" { 0 } else { 1 }].traffic("site2")
        );
    }
    // Only one of the two peers sends the missed history; the rest is summaries and heads.
    assert!(
        received < missed + missed / 10 + 4096,
        "received {received} bytes for {missed} missed"
    );
    eprintln!("catch-up: received {received} bytes for {missed} bytes of missed changes");
}

#[test]
fn private_groups_never_reach_a_site_without_members() {
    let mut c = cluster();
    c.connect_all();
    // e0 at site0 creates a private group and adds e1 (site1). No member at site2.
    let g = group(&mut c, 0, 0, Visibility::Private, 1);
    let a = c.world.authors[0].clone();
    let add = c.replicas[0].add_member(&a, g.doc(), "e1", 1_500).unwrap();
    c.announce(0, &[add]);
    let (t, l) = c.replicas[0]
        .create_thread(&a, g.doc(), "Salaires", "Confidentiel", 2_000, 2)
        .unwrap();
    c.announce(0, &[t.clone(), l]);
    c.run();
    c.tick(60_000);
    c.run();
    assert!(c.replicas[1].doc(t.doc()).is_some_and(|d| !d.is_empty()));
    assert!(c.replicas[2].doc(g.doc()).is_none_or(|d| d.is_empty()));
    assert!(c.replicas[2].doc(t.doc()).is_none_or(|d| d.is_empty()));

    // Site 2 asks for the group and the thread anyway: refused, nothing sent.
    for doc in [g.doc().clone(), t.doc().clone()] {
        let ask = Message::Need {
            doc: doc.clone(),
            hashes: vec![g.hash().0],
        }
        .encode();
        c.engines[0].handle_frame("site2", &ask, c.now_ms, &mut c.replicas[0]);
        let heads = Message::Heads {
            docs: vec![weft_crdt::sync::message::DocHeads {
                doc,
                heads: vec![],
                clock: Some(vec![]),
                reply: true,
            }],
        }
        .encode();
        c.engines[0].handle_frame("site2", &heads, c.now_ms, &mut c.replicas[0]);
    }
    c.collect();
    c.run();
    assert!(c.replicas[2].doc(g.doc()).is_none_or(|d| d.is_empty()));
    let refusals = c.events[0]
        .iter()
        .filter(|e| matches!(e, Event::Refused { peer, .. } if peer == "site2"))
        .count();
    assert_eq!(refusals, 4);

    // Once someone at site 2 is invited, site 2 receives the group.
    let inv = c.replicas[0].invite(&a, g.doc(), "e2", 3_000).unwrap();
    c.announce(0, &[inv]);
    c.run();
    c.tick(60_000);
    c.run();
    let view = GroupView::of(c.replicas[2].doc(g.doc()).unwrap()).unwrap();
    assert_eq!(view.invitations, vec!["e2"]);
    assert_eq!(c.state(2).get(t.doc()), c.state(0).get(t.doc()));
    let _ = DocKind::Thread;
}

#[test]
fn malformed_frames_are_dropped_and_the_session_goes_on() {
    let mut c = cluster();
    c.connect_all();
    c.run();
    for junk in [
        vec![],
        vec![0, 1],
        vec![0, 1, 5, 0xff, 0xff, 0xff, 0xff, 0x0f],
        vec![0, 1, 99],
        vec![0, 1, 4, 1, 3, b'x'],
    ] {
        c.engines[1].handle_frame("site0", &junk, 0, &mut c.replicas[1]);
    }
    c.collect();
    let malformed = c.events[1]
        .iter()
        .filter(|e| matches!(e, Event::Malformed { .. }))
        .count();
    assert_eq!(malformed, 5);
    let g = group(&mut c, 0, 0, Visibility::Public, 1);
    c.run();
    assert!(c.replicas[1].doc(g.doc()).is_some());
}

#[test]
fn catch_up_cost_grows_with_the_difference_not_the_total() {
    let mut c = Cluster::new(World::new(2, 4), Config::default());
    let a = c.world.authors[0].clone();
    // 300 shared documents.
    let mut all = Vec::new();
    for i in 0..300u64 {
        all.push(
            c.replicas[0]
                .create_group(
                    &a,
                    &NewGroup {
                        name: "g",
                        description: "",
                        visibility: Visibility::Public,
                        home_site: "site0",
                    },
                    1,
                    i,
                )
                .unwrap(),
        );
    }
    c.replicas[1].ingest(all.iter().cloned());
    // 3 new ones at site 0 only.
    let mut fresh = 0;
    for i in 300..303u64 {
        let g = c.replicas[0]
            .create_group(
                &a,
                &NewGroup {
                    name: "g",
                    description: "",
                    visibility: Visibility::Public,
                    home_site: "site0",
                },
                1,
                i,
            )
            .unwrap();
        fresh += g.bytes().len() as u64;
    }
    c.connect(0, 1);
    c.run();
    assert_eq!(c.state(0), c.state(1));
    let total =
        c.engines[1].traffic("site0").bytes_received + c.engines[0].traffic("site1").bytes_received;
    let everything: u64 = all.iter().map(|g| g.bytes().len() as u64).sum();
    eprintln!(
        "300 shared + 3 new documents: {total} bytes exchanged, {fresh} bytes of new changes"
    );
    assert!(
        total < everything / 4,
        "{total} bytes exchanged; sending everything is {everything}"
    );
}

#[test]
fn documents_put_away_are_served_and_refused_like_documents_in_memory() {
    use std::sync::Arc;
    use weft_crdt::testkit::MemSource;
    let mut c = cluster();
    let source = Arc::new(MemSource::default());
    c.replicas[0].set_source(source.clone());
    // Site 0 alone writes a public group with 30 threads and a private group (members at
    // site 0 and 1) with a thread.
    let public = group(&mut c, 0, 0, Visibility::Public, 1);
    let private = group(&mut c, 0, 0, Visibility::Private, 2);
    let a = c.world.authors[0].clone();
    c.replicas[0]
        .add_member(&a, private.doc(), "e1", 1_500)
        .unwrap();
    let mut threads = Vec::new();
    for i in 0..30u64 {
        let (t, _) = c.replicas[0]
            .create_thread(
                &a,
                public.doc(),
                "Topic",
                &format!("post {i}"),
                2_000,
                10 + i,
            )
            .unwrap();
        threads.push(t.doc().clone());
    }
    let (secret, _) = c.replicas[0]
        .create_thread(&a, private.doc(), "Salaires", "Confidentiel", 2_000, 99)
        .unwrap();
    // Everything is stored, then every document, groups included, is put away; who may hold
    // the private group is still known.
    source.save(&c.replicas[0]);
    assert_eq!(c.replicas[0].evict(0), 33);
    assert_eq!(c.replicas[0].loaded_count(), 0);
    assert_eq!(c.replicas[0].doc_count(), 33);
    assert!(c.replicas[0].doc(&threads[0]).is_none());
    assert!(c.replicas[0].holds(&threads[0]));
    assert!(!c.replicas[0].is_loaded(private.doc()));
    assert!(c.replicas[0].may_hold("site1", private.doc()));
    assert!(!c.replicas[0].may_hold("site2", private.doc()));
    assert!(c.replicas[0].may_hold("site2", public.doc()));

    // Catch-up: site 1 (a member site) gets everything, site 2 everything but the private
    // group, from summaries and documents read back on demand.
    c.connect_all();
    c.run();
    assert_eq!(c.state(1), c.state(0));
    let mut expected = c.state(0);
    expected.remove(private.doc());
    expected.remove(secret.doc());
    assert_eq!(c.state(2), expected);
    // Sites that held none of them were sent the stored changes as they are: nothing was
    // read back into memory to serve them.
    assert_eq!(c.replicas[0].loads(), 0, "documents read back to be served");
    assert_eq!(c.replicas[0].loaded_count(), 0);

    // Put away again: a peer asking for the private thread is still refused.
    source.save(&c.replicas[0]);
    c.replicas[0].evict(0);
    assert!(!c.replicas[0].is_loaded(secret.doc()));
    let ask = Message::Need {
        doc: secret.doc().clone(),
        hashes: vec![secret.hash().0],
    }
    .encode();
    c.engines[0].handle_frame("site2", &ask, c.now_ms, &mut c.replicas[0]);
    c.collect();
    c.run();
    assert!(!c.replicas[2].holds(secret.doc()));
    assert!(c.events[0].iter().any(
        |e| matches!(e, Event::Refused { peer, doc } if peer == "site2" && doc == secret.doc())
    ));

    // A reply to a thread put away, made at site 1, reaches site 0, which reads the thread
    // back to judge it.
    let b = c.world.authors[1].clone();
    let (r, _) = c.replicas[1]
        .reply(&b, &threads[5], "re", None, 3_000, 500)
        .unwrap();
    assert!(!c.replicas[0].is_loaded(&threads[5]));
    c.announce(1, std::slice::from_ref(&r));
    c.run();
    assert!(
        c.replicas[0]
            .doc(&threads[5])
            .is_some_and(|d| d.has(&r.hash()))
    );
    // A local reply at site 0 to a thread put away reads it back too.
    source.save(&c.replicas[0]);
    c.replicas[0].evict(0);
    let (mine, _) = c.replicas[0]
        .reply(&a, &threads[7], "moi aussi", None, 3_100, 501)
        .unwrap();
    c.announce(0, std::slice::from_ref(&mine));
    c.run();
    assert!(
        c.replicas[2]
            .doc(&threads[7])
            .is_some_and(|d| d.has(&mine.hash()))
    );
    let view = ThreadView::of(c.replicas[0].doc(&threads[7]).unwrap()).unwrap();
    assert_eq!(view.posts.len(), 2);
}

/// A site joining from nothing is sent whole documents a window of frames at a time: what
/// waits stays a list of document ids until the joiner has taken the frames before it, and
/// nothing is sent twice.
#[test]
fn a_joining_site_is_sent_whole_documents_a_window_at_a_time() {
    let window = 2;
    let config = Config {
        window_frames: Some(window),
        max_frame: 4096,
        ..Config::default()
    };
    let mut c = Cluster::new(World::new(2, 4), config);
    let g = group(&mut c, 0, 0, Visibility::Public, 1);
    let a = c.world.authors[0].clone();
    for i in 0..60u64 {
        let (t, _) = c.replicas[0]
            .create_thread(&a, g.doc(), "Topic", &"texte ".repeat(100), 2_000, 10 + i)
            .unwrap();
        for k in 0..3 {
            c.replicas[0]
                .reply(
                    &a,
                    t.doc(),
                    &format!("réponse {k}"),
                    None,
                    2_100,
                    1_000 + i * 10 + k,
                )
                .unwrap();
        }
    }
    let signed: u64 = c.replicas[0]
        .docs()
        .flat_map(|d| d.changes())
        .map(|ch| ch.bytes().len() as u64)
        .sum();
    c.connect(0, 1);
    let mut most_in_flight = 0;
    let mut most_waiting = 0;
    let mut frames = 0;
    loop {
        let in_flight = c
            .wire
            .iter()
            .filter(|(f, t, bytes)| {
                *f == 0 && *t == 1 && matches!(Message::decode(bytes), Ok(Message::Changes { .. }))
            })
            .count();
        most_in_flight = most_in_flight.max(in_flight);
        most_waiting = most_waiting.max(c.engines[0].backlog("site1"));
        if !c.step() {
            break;
        }
        frames += 1;
    }
    assert_eq!(c.state(1), c.state(0));
    assert!(frames > 20 * window as usize, "only {frames} frames");
    assert!(
        most_waiting > 30,
        "documents never waited for the window: {most_waiting}"
    );
    // Frames of changes on their way: the window at most (the greeting, ranges and heads
    // count in it too), and one more when the certificates that go with a frame's changes
    // push it over the frame size.
    assert!(most_in_flight >= 1);
    assert!(
        most_in_flight <= window as usize + 1,
        "{most_in_flight} frames of changes in flight"
    );
    let sent = c.engines[0].traffic("site1").change_bytes_sent;
    assert_eq!(sent, signed, "bytes of changes sent against those held");
}

/// A site joining from two peers that hold the same documents gets each document from one
/// of them: what it receives is what it then holds, not twice that.
#[test]
fn a_site_joining_from_two_peers_gets_each_document_once() {
    for window in [None, Some(2)] {
        let config = Config {
            window_frames: window,
            max_frame: 8192,
            ..Config::default()
        };
        let mut c = Cluster::new(World::new(3, 9), config);
        let g = group(&mut c, 0, 0, Visibility::Public, 1);
        let a = c.world.authors[0].clone();
        for i in 0..40u64 {
            let (t, _) = c.replicas[0]
                .create_thread(&a, g.doc(), "Sujet", &"mot ".repeat(80), 2_000, 10 + i)
                .unwrap();
            c.replicas[0]
                .reply(&a, t.doc(), "réponse", None, 2_100, 500 + i)
                .unwrap();
        }
        c.connect(0, 1);
        c.settle();
        assert_eq!(c.state(1), c.state(0));
        c.connect(0, 2);
        c.connect(1, 2);
        c.settle();
        assert_eq!(c.state(2), c.state(0), "window {window:?}");
        let held: u64 = c.replicas[2]
            .docs()
            .flat_map(|d| d.changes())
            .map(|ch| ch.bytes().len() as u64)
            .sum();
        let received = c.engines[0].traffic("site2").change_bytes_sent
            + c.engines[1].traffic("site2").change_bytes_sent;
        // A document's changes come one after the other from the peer asked first; the
        // other is asked once they stopped coming, and has nothing to add.
        assert_eq!(
            received, held,
            "window {window:?}: bytes of changes received against those held"
        );
    }
}

/// A removal reaches the removed member's site — at once if it is connected, at the next
/// catch-up if it was away — although that site may no longer hold the group: it held
/// everything up to the removal. Its node then refuses the member's writes, and a site with
/// no member never receives the group at all.
#[test]
fn a_removed_members_site_learns_of_the_removal_and_refuses_their_writes() {
    for away in [false, true] {
        let mut c = cluster();
        c.connect_all();
        c.run();
        let g = group(&mut c, 0, 0, Visibility::Private, 1);
        let e0 = c.world.authors[0].clone();
        let add = c.replicas[0].add_member(&e0, g.doc(), "e1", 2_000).unwrap();
        c.announce(0, &[add]);
        c.run();
        let at_site1 = |c: &Cluster| GroupView::of(c.replicas[1].doc(g.doc()).unwrap()).unwrap();
        assert!(at_site1(&c).is_member("e1"));
        if away {
            c.disconnect(0, 1);
            c.disconnect(1, 2);
        }
        let rm = c.replicas[0]
            .remove_member(&e0, g.doc(), "e1", 3_000)
            .unwrap();
        c.announce(0, std::slice::from_ref(&rm));
        c.run();
        if away {
            assert!(!c.replicas[1].doc(g.doc()).unwrap().has(&rm.hash()));
            c.connect(0, 1);
            c.connect(1, 2);
            c.run();
        }
        assert!(
            !at_site1(&c).is_member("e1"),
            "site1 never learned of the removal (away: {away})"
        );
        let e1 = c.world.authors[1].clone();
        let refused = c.replicas[1].create_thread(&e1, g.doc(), "Still", "here", 4_000, 9);
        assert!(refused.is_err(), "e1's own site let them post");
        assert!(
            !c.replicas[2].holds(g.doc()),
            "a site with no member got the group"
        );
        // Site 1 was told why: site 0 refused to share the group further.
        if away {
            assert!(
                c.events[1]
                    .iter()
                    .any(|e| matches!(e, Event::RefusedByPeer { .. }))
            );
        }
    }
}

/// A peer that sends more changes than its ingest budget allows has its bundles dropped
/// unread (counted as throttled); nothing is lost: the next catch-up brings them once the
/// budget has refilled.
#[test]
fn a_flooding_peer_is_throttled_and_catch_up_repairs_it() {
    let config = Config {
        ingest_burst: 4,
        ingest_changes_per_sec: 1,
        ..Config::default()
    };
    let mut c = Cluster::new(World::new(2, 4), config);
    c.connect_all();
    c.run();
    let g = group(&mut c, 0, 0, Visibility::Public, 1);
    c.run();
    let a = c.world.authors[0].clone();
    let (t, l) = c.replicas[0]
        .create_thread(&a, g.doc(), "Flood", "start", 2_000, 2)
        .unwrap();
    c.announce(0, &[t.clone(), l]);
    c.run();
    for i in 0..12u64 {
        let (r, _) = c.replicas[0]
            .reply(
                &a,
                t.doc(),
                &format!("reply {i}"),
                None,
                3_000 + i as i64,
                10 + i,
            )
            .unwrap();
        c.announce(0, &[r]);
        c.run();
    }
    assert!(
        c.events[1]
            .iter()
            .any(|e| matches!(e, Event::Throttled { .. })),
        "never throttled"
    );
    assert_ne!(c.state(0), c.state(1));
    // Time passes, the budget refills, a catch-up round repairs everything.
    for _ in 0..4 {
        c.tick(31_000);
        c.run();
    }
    assert_eq!(c.state(0), c.state(1));
}

/// A site joining from two peers while catch-up rounds go on: documents of many frames come
/// a window at a time from one peer, the rounds' own messages arrive between those frames,
/// and time passes (a second every few frames). A document whose frames are interrupted by
/// another message is still being sent, not fetched: asking the other peer for it then
/// would have both send its rest.
#[test]
fn a_join_from_two_peers_interrupted_by_rounds_gets_each_change_once() {
    let config = Config {
        window_frames: Some(1),
        max_frame: 2048,
        resync_interval_ms: 3_000,
        ..Config::default()
    };
    // Sites 0 and 2 hold the company; site 1 joins. The side with the smaller site id
    // starts the rounds, so with each order the rounds run beside a different sender.
    for (first, second) in [(0, 2), (2, 0)] {
        let mut c = Cluster::new(World::new(3, 9), config.clone());
        let g = group(&mut c, first, first, Visibility::Public, 1);
        let a = c.world.authors[first].clone();
        for i in 0..30u64 {
            let (t, _) = c.replicas[first]
                .create_thread(&a, g.doc(), "Sujet", &"mot ".repeat(60), 2_000, 10 + i)
                .unwrap();
            for k in 0..25u64 {
                c.replicas[first]
                    .reply(
                        &a,
                        t.doc(),
                        &"réponse ".repeat(30),
                        None,
                        2_100,
                        1_000 + i * 100 + k,
                    )
                    .unwrap();
            }
        }
        c.connect(first, second);
        c.settle();
        assert_eq!(c.state(second), c.state(first));
        c.connect(0, 1);
        c.connect(1, 2);
        let mut steps = 0u64;
        while c.step() {
            steps += 1;
            if steps.is_multiple_of(4) {
                c.tick(250);
            }
            assert!(steps < 200_000);
        }
        c.settle();
        assert_eq!(c.state(1), c.state(0));
        let held: u64 = c.replicas[1]
            .docs()
            .flat_map(|d| d.changes())
            .map(|ch| ch.bytes().len() as u64)
            .sum();
        let received = c.engines[0].traffic("site1").change_bytes_sent
            + c.engines[2].traffic("site1").change_bytes_sent;
        assert!(
            received as f64 <= 1.02 * held as f64,
            "first {first}: {received} bytes of changes received for {held} held ({:.2}×; {} ms of cluster time)",
            received as f64 / held as f64,
            c.now_ms
        );
    }
}

/// Delivers the first frame in flight from `from` to `to` (others stay on the wire, in
/// order); false if there is none.
fn deliver_between(c: &mut Cluster, from: usize, to: usize) -> bool {
    let Some(at) = c.wire.iter().position(|(f, t, _)| *f == from && *t == to) else {
        return false;
    };
    let (_, _, frame) = c.wire.remove(at).unwrap();
    let (sf, st) = (c.world.sites[from].clone(), c.world.sites[to].clone());
    c.engines[to].handle_frame(&sf, &frame, c.now_ms, &mut c.replicas[to]);
    c.engines[from].handle_delivered(&st, &c.replicas[from]);
    c.collect();
    true
}

/// A fetch lasts until the peer says it has answered: a document of many frames, whose
/// sending is interrupted by another message from the same peer and by time passing, is
/// not asked of a second peer that said it holds the same — the second sends nothing.
#[test]
fn a_fetch_lasts_until_the_peer_says_it_answered() {
    let config = Config {
        window_frames: Some(1),
        max_frame: 2048,
        ..Config::default()
    };
    let mut c = Cluster::new(World::new(3, 9), config);
    let g = group(&mut c, 0, 0, Visibility::Public, 1);
    let a = c.world.authors[0].clone();
    let (t, _) = c.replicas[0]
        .create_thread(&a, g.doc(), "Sujet", "Le début", 2_000, 10)
        .unwrap();
    for k in 0..40u64 {
        c.replicas[0]
            .reply(&a, t.doc(), &"réponse ".repeat(25), None, 2_100, 100 + k)
            .unwrap();
    }
    c.connect(0, 2);
    c.settle();
    assert_eq!(c.state(2), c.state(0));
    // Site 1 joins from site 0 and holds the start of the thread.
    c.connect(0, 1);
    while !c.replicas[1].holds(t.doc()) {
        assert!(c.step(), "the thread never started to arrive");
    }
    assert_ne!(
        c.replicas[1].heads_of(t.doc()),
        c.replicas[0].heads_of(t.doc())
    );
    // Site 2 connects: its round with site 1 finds the thread differing, and its heads are
    // postponed while site 0 sends it.
    c.connect(1, 2);
    while deliver_between(&mut c, 1, 2) || deliver_between(&mut c, 2, 1) {}
    // Site 0 says something else between two frames of the thread, and time passes.
    let other = Message::Ranges { ranges: vec![] }.encode();
    let now = c.now_ms;
    c.engines[1].handle_frame("site0", &other, now, &mut c.replicas[1]);
    c.collect();
    c.tick(2_000);
    c.settle();
    assert_eq!(c.state(1), c.state(0));
    assert_eq!(
        c.engines[2].traffic("site1").change_bytes_sent,
        0,
        "site 2 was asked for what site 0 was sending"
    );
}

/// A site joining asks for threads only once their groups are here: a thread's changes name
/// the group heads they were written under and wait for them, so threads asked of one peer
/// while another still sends their groups would wait (and, at a company's size, overflow
/// what may wait and be sent again). Checked on every heads message the joiner sends, and
/// on the bytes it receives from two peers.
#[test]
fn a_joining_site_asks_for_threads_once_their_groups_are_here() {
    let config = Config {
        window_frames: Some(1),
        max_frame: 4096,
        ..Config::default()
    };
    let mut c = Cluster::new(World::new(3, 9), config);
    let a = c.world.authors[0].clone();
    let mut groups = Vec::new();
    for n in 0..4u64 {
        let g = group(&mut c, 0, 0, Visibility::Public, 1 + n);
        for i in 0..6u64 {
            let (t, _) = c.replicas[0]
                .create_thread(&a, g.doc(), "Sujet", &"mot ".repeat(40), 2_000, 100 * n + i)
                .unwrap();
            c.replicas[0]
                .reply(&a, t.doc(), "réponse", None, 2_100, 1_000 + 100 * n + i)
                .unwrap();
        }
        groups.push(g.doc().clone());
    }
    c.connect(0, 2);
    c.settle();
    assert_eq!(c.state(2), c.state(0));
    c.connect(0, 1);
    c.connect(1, 2);
    let from_joiner = |c: &Cluster| -> Vec<Vec<u8>> {
        c.wire
            .iter()
            .filter(|(f, _, _)| *f == 1)
            .map(|(_, _, b)| b.clone())
            .collect()
    };
    // Each heads message the joiner sends: a thread it holds none of is asked for only
    // when every group is here.
    let check = |c: &Cluster, frames: &[Vec<u8>], asks: &mut usize| {
        for frame in frames {
            let Ok(Message::Heads { docs }) = Message::decode(frame) else {
                continue;
            };
            for d in docs {
                if d.doc.kind() == DocKind::Thread && d.heads.is_empty() {
                    *asks += 1;
                    for g in &groups {
                        assert!(
                            c.replicas[1].holds(g),
                            "the joiner asked for a thread before group {g} arrived"
                        );
                    }
                }
            }
        }
    };
    let mut thread_asks = 0;
    check(&c, &from_joiner(&c), &mut thread_asks);
    while let Some((from, _, _)) = c.wire.front().cloned() {
        let old = from_joiner(&c).len() - usize::from(from == 1);
        c.step();
        check(&c, &from_joiner(&c)[old..], &mut thread_asks);
    }
    c.settle();
    assert!(thread_asks > 0, "the joiner never asked for a thread");
    assert_eq!(c.state(1), c.state(0));
    let held: u64 = c.replicas[1]
        .docs()
        .flat_map(|d| d.changes())
        .map(|ch| ch.bytes().len() as u64)
        .sum();
    let received = c.engines[0].traffic("site1").change_bytes_sent
        + c.engines[2].traffic("site1").change_bytes_sent;
    assert_eq!(
        received, held,
        "bytes of changes received against those held"
    );
}

/// While a site fetches many documents (it is joining), its periodic catch-up rounds wait:
/// each would find every document not yet here again, and exchange heads for each with the
/// peer. Site 0 (which starts the rounds: its id is the smaller) joins from site 1, which
/// sends a window at a time; resync periods pass and no round starts until it is done.
#[test]
fn rounds_wait_while_many_documents_are_being_fetched() {
    let config = Config {
        window_frames: Some(1),
        max_frame: 1024,
        resync_interval_ms: 1_000,
        ..Config::default()
    };
    let mut c = Cluster::new(World::new(2, 4), config);
    let g = group(&mut c, 1, 1, Visibility::Public, 1);
    let a = c.world.authors[1].clone();
    let docs = 2 * weft_crdt::sync::engine::MAX_FETCHING_FOR_ROUNDS;
    let docs_asked_min = || weft_crdt::sync::engine::MAX_FETCHING_FOR_ROUNDS;
    for i in 0..docs as u64 {
        c.replicas[1]
            .create_thread(&a, g.doc(), "Sujet", "mot", 2_000, 10 + i)
            .unwrap();
    }
    c.connect(0, 1);
    // Until the group is here (each thread is also in its index: a change each) and the
    // threads asked for.
    loop {
        let (f, _, b) = c
            .wire
            .front()
            .cloned()
            .expect("the threads were never asked for");
        c.step();
        if f == 0
            && matches!(Message::decode(&b), Ok(Message::Heads { docs }) if docs.len() >= docs_asked_min())
        {
            break;
        }
    }
    for _ in 0..20 {
        assert!(c.step());
    }
    let rounds_started = |c: &Cluster| {
        c.wire
            .iter()
            .filter(|(f, _, b)| {
                *f == 0 && matches!(Message::decode(b), Ok(Message::Ranges { ranges }) if !ranges.is_empty())
            })
            .count()
    };
    let before = rounds_started(&c);
    for _ in 0..5 {
        c.tick(1_000);
        assert_eq!(
            rounds_started(&c),
            before,
            "a round started during the join"
        );
        for _ in 0..5 {
            c.step();
        }
    }
    assert!(
        c.replicas[0].doc_ids().count() < docs,
        "the join is over already"
    );
    // Once it is over, rounds start again.
    c.run();
    assert_eq!(c.state(0), c.state(1));
    c.tick(1_000);
    assert!(rounds_started(&c) > 0, "no round after the join");
}

/// A change lost on a long path reaches its site from a near peer that announced it (one
/// short round trip after the grace), not a long path's retransmission later; nothing is
/// asked when the direct copy comes; a private group's changes are announced only to near
/// peers that may hold them.
#[test]
fn a_change_lost_on_a_long_path_is_asked_of_a_near_peer_that_announced_it() {
    let mut c = cluster();
    c.connect_all();
    // Sites 1 and 2 are near each other and far from site 0.
    for (x, y, rtt) in [(1, 2, 20), (0, 1, 400), (0, 2, 400)] {
        let (sx, sy) = (c.world.sites[x].clone(), c.world.sites[y].clone());
        c.engines[x].set_peer_rtt(&sy, rtt);
        c.engines[y].set_peer_rtt(&sx, rtt);
    }
    let g = group(&mut c, 0, 0, Visibility::Public, 1);
    let a = c.world.authors[0].clone();
    let (t, l) = c.replicas[0]
        .create_thread(&a, g.doc(), "Sujet", "Début", 2_000, 2)
        .unwrap();
    c.announce(0, &[t.clone(), l]);
    c.settle();
    assert_eq!(c.state(2), c.state(0));
    let sent_1_to_2 = |c: &Cluster| c.engines[1].traffic("site2").change_bytes_sent;
    let before = sent_1_to_2(&c);

    // A reply whose frame to site 2 is lost.
    let (r, _) = c.replicas[0]
        .reply(&a, t.doc(), "perdue en route", None, 2_100, 3)
        .unwrap();
    c.announce(0, std::slice::from_ref(&r));
    let on_wire = c.wire.len();
    c.wire.retain(|(from, to, _)| !(*from == 0 && *to == 2));
    assert_eq!(c.wire.len(), on_wire - 1, "one frame to site 2");
    c.run();
    assert!(!c.replicas[2].knows(t.doc(), &r.hash()));
    assert!(
        c.engines[2].next_repair_ms().is_some(),
        "site 1 announced it"
    );
    c.tick(10);
    c.run();
    assert!(
        !c.replicas[2].knows(t.doc(), &r.hash()),
        "asked before the grace"
    );
    c.tick(Config::default().repair_grace_ms);
    c.run();
    assert!(c.replicas[2].knows(t.doc(), &r.hash()));
    assert_eq!(c.state(2), c.state(0));
    assert!(sent_1_to_2(&c) > before, "sent by the near peer");
    assert_eq!(c.engines[2].next_repair_ms(), None);

    // When the direct copy comes, nothing is asked.
    let before = sent_1_to_2(&c);
    let (r2, _) = c.replicas[0]
        .reply(&a, t.doc(), "arrivée", None, 2_200, 4)
        .unwrap();
    c.announce(0, std::slice::from_ref(&r2));
    c.run();
    c.tick(1_000);
    c.run();
    assert_eq!(
        sent_1_to_2(&c),
        before,
        "a change already here was asked for"
    );
    assert_eq!(c.state(2), c.state(0));
    assert_eq!(c.engines[2].next_repair_ms(), None);

    // A private group with members at sites 0 and 1 only: nothing of it is announced to 2.
    let have_to_2 = |c: &Cluster| {
        c.engines[1]
            .bytes_sent_by_kind("site2")
            .into_iter()
            .find(|(k, _)| *k == "have")
            .map_or(0, |(_, n)| n)
    };
    assert!(have_to_2(&c) > 0, "site 1 announced what it received");
    let before = have_to_2(&c);
    let p = group(&mut c, 0, 0, Visibility::Private, 5);
    let add = c.replicas[0].add_member(&a, p.doc(), "e1", 1_500).unwrap();
    c.announce(0, &[add]);
    let (pt, pl) = c.replicas[0]
        .create_thread(&a, p.doc(), "Salaires", "Confidentiel", 2_000, 6)
        .unwrap();
    c.announce(0, &[pt.clone(), pl]);
    let (pr, _) = c.replicas[0]
        .reply(&a, pt.doc(), "Très confidentiel", None, 2_100, 7)
        .unwrap();
    c.announce(0, &[pr]);
    c.run();
    c.tick(1_000);
    c.run();
    assert!(c.replicas[1].holds(pt.doc()));
    assert!(!c.replicas[2].holds(pt.doc()) && !c.replicas[2].holds(p.doc()));
    assert_eq!(
        have_to_2(&c),
        before,
        "a private group's changes announced to a non-member"
    );
}

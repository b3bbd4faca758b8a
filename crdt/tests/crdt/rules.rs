//! Each forbidden write is refused by a receiving replica; each allowed one accepted.

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc};
use weft_crdt::testkit::{World, unchecked_change};
use weft_crdt::{
    DocKind, GroupView, NewGroup, Rejection, Replica, SignedChange, ThreadView, Visibility,
};

/// Three sites; e0 (community manager) and e3 at site0, e1 and e4 at site1, e2 and e5 at site2.
fn world() -> World {
    World::new(3, 6)
}

fn new_group(r: &mut Replica, w: &World, owner: usize, vis: Visibility) -> SignedChange {
    r.create_group(
        &w.authors[owner],
        &NewGroup {
            name: "Works council prep",
            description: "Préparation du CSE",
            visibility: vis,
            home_site: "site0",
        },
        1_000,
        7,
    )
    .unwrap()
}

/// Ingests `changes` into a fresh replica of the world and returns it.
fn receiver(w: &World, changes: &[SignedChange]) -> Replica {
    let mut r = w.replica();
    let report = r.ingest(changes.iter().cloned());
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert!(report.waiting.is_empty(), "{:?}", report.waiting);
    r
}

/// Checks that `c` is refused by `r` and by two other replicas that learn `r`'s history in
/// other orders (reversed; and with `c` delivered before that history, so it must wait and
/// then be refused).
fn assert_rejected(r: &mut Replica, c: SignedChange, what: &str) -> Rejection {
    let history: Vec<SignedChange> = r
        .docs()
        .flat_map(|d| d.changes().cloned().collect::<Vec<_>>())
        .collect();
    let report = r.ingest([c.clone()]);
    assert!(report.accepted.is_empty(), "{what}: accepted");
    assert_eq!(report.rejected.len(), 1, "{what}: {report:?}");
    let reason = report.rejected[0].2.clone();
    for i in 0..2 {
        let mut other = fresh_like(r);
        let reports = if i == 0 {
            [
                other.ingest(history.iter().rev().cloned()),
                other.ingest([c.clone()]),
            ]
        } else {
            [
                other.ingest([c.clone()]),
                other.ingest(history.iter().rev().cloned()),
            ]
        };
        assert!(
            !other.doc(c.doc()).is_some_and(|d| d.has(&c.hash())),
            "{what}: accepted by another replica"
        );
        // Refused (with the same kind of reason), or still waiting: never applied.
        let refused = reports
            .iter()
            .flat_map(|rep| &rep.rejected)
            .find(|(_, h, _)| *h == Some(c.hash()));
        match refused {
            Some((_, _, why)) => assert_eq!(why.code(), reason.code(), "{what}: {why}"),
            None => assert!(
                other.pending_len() > 0,
                "{what}: neither refused nor waiting"
            ),
        }
    }
    reason
}

/// An empty replica with the same trust, directory and certificates as `r`.
fn fresh_like(r: &Replica) -> Replica {
    let mut fresh = Replica::new(r.trust().clone());
    if let Some(d) = r.directory() {
        fresh.set_directory(&d.signed).unwrap();
    }
    for cert in r.certificates() {
        fresh.add_certificate(cert).unwrap();
    }
    fresh
}

#[test]
fn the_typed_api_round_trips_through_a_receiver() {
    let w = world();
    let mut a = w.replica();
    let mut log = vec![new_group(&mut a, &w, 0, Visibility::Private)];
    let gid = log[0].doc().clone();
    log.push(a.add_member(&w.authors[0], &gid, "e1", 2_000).unwrap());
    let (t, listed) = a
        .create_thread(
            &w.authors[0],
            &gid,
            "Agenda",
            "Bonjour @e1, voici l'ordre du jour #cse",
            3_000,
            1,
        )
        .unwrap();
    let tid = t.doc().clone();
    log.push(t);
    log.push(listed);
    let root_pid = ThreadView::of(a.doc(&tid).unwrap()).unwrap().posts[0]
        .id
        .clone();

    // Bob (e1), now a member, replies at his own site and the change travels back.
    let mut b = receiver(&w, &log);
    let (reply, pid) = b
        .reply(
            &w.authors[1],
            &tid,
            "Merci ! #cse",
            Some(&root_pid),
            4_000,
            2,
        )
        .unwrap();
    log.push(reply);
    log.push(
        b.react(&w.authors[1], &tid, &root_pid, "like", true, 4_100)
            .unwrap(),
    );
    log.push(
        b.edit_post(
            &w.authors[1],
            &tid,
            &pid,
            "Merci beaucoup ! #cse #merci",
            4_200,
        )
        .unwrap(),
    );

    let c = receiver(&w, &log);
    let thread = ThreadView::of(c.doc(&tid).unwrap()).unwrap();
    assert_eq!(thread.title, "Agenda");
    assert_eq!(thread.posts.len(), 2);
    assert_eq!(thread.posts[0].mentions, vec!["e1"]);
    assert_eq!(thread.posts[0].reactions["like"], vec!["e1"]);
    assert_eq!(thread.posts[1].body, "Merci beaucoup ! #cse #merci");
    assert_eq!(thread.posts[1].topics.len(), 2);
    assert_eq!(thread.posts[1].reply_to.as_deref(), Some(root_pid.as_str()));
    assert!(thread.posts[1].edited_at.is_some());
    let group = GroupView::of(c.doc(&gid).unwrap()).unwrap();
    assert_eq!(group.members, vec!["e0", "e1"]);
    assert_eq!(group.threads[&tid], "Agenda");
    assert_eq!(group.visibility, Visibility::Private);

    // Deleting removes the text from the visible state.
    let mut c = c;
    let del = c.delete_post(&w.authors[1], &tid, &pid, 5_000);
    // e1 is not homed at c's site but c is just another replica: authors sign anywhere their
    // key is; the rules are what matter.
    let del = del.unwrap();
    let d = receiver(&w, &[log.clone(), vec![del]].concat());
    let thread = ThreadView::of(d.doc(&tid).unwrap()).unwrap();
    assert!(thread.posts[1].deleted);
    assert_eq!(thread.posts[1].body, "");
}

#[test]
fn editing_someone_elses_post_is_refused() {
    let w = world();
    let mut a = w.replica();
    let g = new_group(&mut a, &w, 0, Visibility::Public);
    let gid = g.doc().clone();
    let (t, _) = a
        .create_thread(&w.authors[0], &gid, "T", "original", 2_000, 1)
        .unwrap();
    let tid = t.doc().clone();
    let pid = ThreadView::of(a.doc(&tid).unwrap()).unwrap().posts[0]
        .id
        .clone();

    // The local API refuses outright.
    assert!(
        a.edit_post(&w.authors[1], &tid, &pid, "hacked", 3_000)
            .is_err()
    );
    // A forged change is refused by a receiver.
    let heads = a.doc(&gid).unwrap().heads();
    let forged = unchecked_change(
        &a,
        &w.authors[1],
        Some(&tid),
        DocKind::Thread,
        heads.clone(),
        3_000,
        |tx| {
            let posts = tx.get(ROOT, "posts")?.unwrap().1;
            let p = tx.get(&posts, pid.as_str())?.unwrap().1;
            tx.put(&p, "body", "hacked")
        },
    )
    .unwrap();
    let r = assert_rejected(&mut a, forged.clone(), "edit another's post");
    assert!(matches!(r, Rejection::Rule(_)), "{r}");
    // Nor may one replace another's post wholesale.
    let replace = unchecked_change(
        &a,
        &w.authors[1],
        Some(&tid),
        DocKind::Thread,
        heads.clone(),
        3_000,
        |tx| {
            let posts = tx.get(ROOT, "posts")?.unwrap().1;
            let p = tx.put_object(&posts, pid.as_str(), ObjType::Map)?;
            tx.put(&p, "body", "mine now")
        },
    )
    .unwrap();
    assert_rejected(&mut a, replace, "replace another's post");
    // Nor react in someone else's name.
    let fake_like = unchecked_change(
        &a,
        &w.authors[1],
        Some(&tid),
        DocKind::Thread,
        heads,
        3_000,
        |tx| {
            let r = tx.get(ROOT, "reactions")?.unwrap().1;
            tx.put(&r, format!("{pid}:like:e2"), true)
        },
    )
    .unwrap();
    assert_rejected(&mut a, fake_like, "react as someone else");
    let view = ThreadView::of(a.doc(&tid).unwrap()).unwrap();
    assert_eq!(view.posts[0].body, "original");
    assert!(view.posts[0].reactions.is_empty());
}

#[test]
fn non_owners_cannot_rename_or_add_members() {
    let w = world();
    let mut a = w.replica();
    let g = new_group(&mut a, &w, 0, Visibility::Private);
    let gid = g.doc().clone();
    a.add_member(&w.authors[0], &gid, "e1", 2_000).unwrap();

    let rename = unchecked_change(
        &a,
        &w.authors[1],
        Some(&gid),
        DocKind::Group,
        vec![],
        3_000,
        |tx| tx.put(ROOT, "name", "Mine"),
    )
    .unwrap();
    assert_rejected(&mut a, rename, "member renames");
    let add = unchecked_change(
        &a,
        &w.authors[1],
        Some(&gid),
        DocKind::Group,
        vec![],
        3_000,
        |tx| {
            let m = tx.get(ROOT, "members")?.unwrap().1;
            tx.put(&m, "e2", true)
        },
    )
    .unwrap();
    assert_rejected(&mut a, add, "member adds a member");
    let self_join = unchecked_change(
        &a,
        &w.authors[2],
        Some(&gid),
        DocKind::Group,
        vec![],
        3_000,
        |tx| {
            let m = tx.get(ROOT, "members")?.unwrap().1;
            tx.put(&m, "e2", true)
        },
    )
    .unwrap();
    assert_rejected(&mut a, self_join, "joining a private group uninvited");
    let self_owner = unchecked_change(
        &a,
        &w.authors[1],
        Some(&gid),
        DocKind::Group,
        vec![],
        3_000,
        |tx| {
            let m = tx.get(ROOT, "owners")?.unwrap().1;
            tx.put(&m, "e1", true)
        },
    )
    .unwrap();
    assert_rejected(&mut a, self_owner, "self-appointed owner");
    let view = GroupView::of(a.doc(&gid).unwrap()).unwrap();
    assert_eq!(view.name, "Works council prep");
    assert_eq!(view.members, vec!["e0", "e1"]);
    assert_eq!(view.owners, vec!["e0"]);

    // What is allowed: joining after an invitation; leaving; requesting.
    a.invite(&w.authors[0], &gid, "e2", 4_000).unwrap();
    a.add_member(&w.authors[2], &gid, "e2", 5_000).unwrap();
    a.remove_member(&w.authors[1], &gid, "e1", 6_000).unwrap();
    a.request_to_join(&w.authors[4], &gid, "Puis-je ?", 7_000)
        .unwrap();
    let view = GroupView::of(a.doc(&gid).unwrap()).unwrap();
    assert_eq!(view.members, vec!["e0", "e2"]);
    assert!(view.invitations.is_empty());
    assert_eq!(view.requests["e4"], "Puis-je ?");
}

#[test]
fn non_members_cannot_post_in_a_private_group() {
    let w = world();
    let mut a = w.replica();
    let g = new_group(&mut a, &w, 0, Visibility::Private);
    let gid = g.doc().clone();
    let (t, _) = a
        .create_thread(&w.authors[0], &gid, "T", "members only", 2_000, 1)
        .unwrap();
    let tid = t.doc().clone();
    assert!(
        a.reply(&w.authors[1], &tid, "let me in", None, 3_000, 2)
            .is_err()
    );
    assert!(
        a.create_thread(&w.authors[1], &gid, "Mine", "x", 3_000, 3)
            .is_err()
    );
    let heads = a.doc(&gid).unwrap().heads();
    let forged = unchecked_change(
        &a,
        &w.authors[1],
        Some(&tid),
        DocKind::Thread,
        heads,
        3_000,
        |tx| {
            let posts = tx.get(ROOT, "posts")?.unwrap().1;
            let p = tx.put_object(&posts, "e1-post", ObjType::Map)?;
            tx.put(&p, "author", "e1")?;
            tx.put(&p, "body", "let me in")
        },
    )
    .unwrap();
    assert_rejected(&mut a, forged, "non-member posts");

    // A public group lets anyone post.
    let p = new_group(&mut a, &w, 0, Visibility::Public);
    let (t2, _) = a
        .create_thread(&w.authors[0], p.doc(), "Open", "hi", 4_000, 4)
        .unwrap();
    assert!(
        a.reply(&w.authors[1], t2.doc(), "hello", None, 5_000, 5)
            .is_ok()
    );
}

#[test]
fn a_removed_member_cannot_post_once_their_node_knows() {
    let w = world();
    let mut a = w.replica();
    let g = new_group(&mut a, &w, 0, Visibility::Private);
    let gid = g.doc().clone();
    a.add_member(&w.authors[0], &gid, "e1", 2_000).unwrap();
    let (t, _) = a
        .create_thread(&w.authors[0], &gid, "T", "x", 3_000, 1)
        .unwrap();
    let tid = t.doc().clone();
    // Authorised against heads before the removal: a concurrent post stands.
    let before = a.doc(&gid).unwrap().heads();
    a.remove_member(&w.authors[0], &gid, "e1", 4_000).unwrap();
    let after = a.doc(&gid).unwrap().heads();
    let make = |heads| {
        unchecked_change(
            &a,
            &w.authors[1],
            Some(&tid),
            DocKind::Thread,
            heads,
            5_000,
            |tx| {
                let r = tx.get(ROOT, "reactions")?.unwrap().1;
                let pid = {
                    let posts = tx.get(ROOT, "posts")?.unwrap().1;
                    tx.keys(&posts).next().unwrap()
                };
                tx.put(&r, format!("{pid}:like:e1"), true)
            },
        )
        .unwrap()
    };
    let concurrent = make(before);
    let late = make(after);
    let mut b = a.clone();
    assert_rejected(&mut b, late, "post after removal");
    let report = b.ingest([concurrent]);
    assert_eq!(report.accepted.len(), 1, "{report:?}");
}

#[test]
fn an_employee_who_left_can_do_nothing_new() {
    let mut w = world();
    let mut a = w.replica();
    let g = new_group(&mut a, &w, 0, Visibility::Public);
    let gid = g.doc().clone();
    let before = a.add_member(&w.authors[1], &gid, "e1", 2_000);
    assert!(before.is_ok());
    // Version 2: e1 leaves. A node holding it refuses everything e1 signs under version 2.
    w.publish(|d| d.employees.get_mut("e1").unwrap().status = weft_keys::Status::Left);
    a.set_directory(&w.directory).unwrap();
    let err = a.create_thread(&w.authors[1], &gid, "Still here", "hello", 3_000, 9);
    assert!(err.is_err(), "a departed employee posted");
    let forged = unchecked_change(
        &a,
        &w.authors[1],
        Some(&gid),
        DocKind::Group,
        vec![],
        3_000,
        |tx| {
            let m = tx.get(ROOT, "members")?.unwrap().1;
            tx.delete(&m, "e1")
        },
    )
    .unwrap();
    let r = assert_rejected(&mut a, forged, "departed employee");
    assert!(matches!(r, Rejection::Standing(_)), "{r}");
}

#[test]
fn a_key_the_directory_does_not_vouch_for_is_refused() {
    let w = world();
    let mut a = w.replica();
    let g = new_group(&mut a, &w, 0, Visibility::Public);
    // A certificate signed by a node key no site has.
    let rogue_node = weft_keys::SecretKey::from_seed(&[99; 32]);
    let mut mallory = w.authors[1].clone();
    mallory.key = weft_keys::SecretKey::from_seed(&[98; 32]);
    mallory.cert = weft_keys::Signed::sign(
        &rogue_node,
        &weft_keys::EmployeeCert {
            employee: "e1".into(),
            site: "site1".into(),
            key: mallory.key.public(),
            issued_at: 0,
        },
    );
    // The certificate itself is refused and never stored.
    assert!(a.add_certificate(&mallory.cert).is_err());
    let c = unchecked_change(
        &a,
        &mallory,
        Some(g.doc()),
        DocKind::Group,
        vec![],
        3_000,
        |tx| {
            let m = tx.get(ROOT, "members")?.unwrap().1;
            tx.put(&m, "e1", true)
        },
    )
    .unwrap();
    let report = a.ingest([c]);
    assert!(report.accepted.is_empty(), "a rogue key's change applied");
    assert!(
        matches!(
            report.waiting.first(),
            Some((_, weft_crdt::Waiting::Certificate(_)))
        ),
        "{report:?}"
    );
    // A key with no certificate at all waits (it may come with the next sync), never applies.
    let mut nobody = w.authors[2].clone();
    nobody.key = weft_keys::SecretKey::from_seed(&[97; 32]);
    let c = unchecked_change(
        &a,
        &nobody,
        Some(g.doc()),
        DocKind::Group,
        vec![],
        3_000,
        |tx| {
            let m = tx.get(ROOT, "members")?.unwrap().1;
            tx.put(&m, "e2", true)
        },
    )
    .unwrap();
    let report = a.ingest([c]);
    assert!(report.accepted.is_empty());
    assert_eq!(report.waiting.len(), 1);
}

#[test]
fn tampered_changes_are_refused() {
    let w = world();
    let mut a = w.replica();
    let g = new_group(&mut a, &w, 0, Visibility::Public);
    let mut b = w.replica();
    // Flip a byte inside the signed payload: the signature no longer holds.
    let mut bytes = g.bytes().to_vec();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    let report = b.ingest_bytes([bytes.as_slice()]);
    assert!(report.accepted.is_empty());
    assert_eq!(report.rejected.len(), 1);

    // Someone re-signs Alice's change with their own valid key, still claiming Alice: the
    // envelope's key is not Alice's actor, so it is refused as malformed.
    let payload = g.envelope().payload().to_vec();
    let env =
        weft_keys::Envelope::seal(weft_keys::Domain::CHANGE, &w.authors[1].key, "e0", &payload);
    let report = b.ingest_bytes([env.to_bytes().as_slice()]);
    assert!(report.accepted.is_empty());
    assert!(
        matches!(report.rejected[0].2, Rejection::Malformed(_)),
        "{report:?}"
    );
    // Honestly signed as themselves, it is still Alice's actor: refused too.
    let env =
        weft_keys::Envelope::seal(weft_keys::Domain::CHANGE, &w.authors[1].key, "e1", &payload);
    let report = b.ingest_bytes([env.to_bytes().as_slice()]);
    assert!(report.accepted.is_empty());
    // The original still applies.
    assert_eq!(b.ingest([g]).accepted.len(), 1);
}

#[test]
fn community_managers_and_owners_moderate_others_do_not() {
    let w = world();
    let mut a = w.replica();
    let g = new_group(&mut a, &w, 1, Visibility::Public);
    let (t, _) = a
        .create_thread(&w.authors[1], g.doc(), "T", "spam?", 2_000, 1)
        .unwrap();
    let pid = ThreadView::of(a.doc(t.doc()).unwrap()).unwrap().posts[0]
        .id
        .clone();
    // e2: neither owner nor community manager.
    assert!(
        a.moderate(&w.authors[2], t.doc(), &pid, true, "no", 3_000)
            .is_err()
    );
    // e0: community manager (directory role), not a member of the group.
    a.moderate(&w.authors[0], t.doc(), &pid, true, "off topic", 4_000)
        .unwrap();
    assert!(ThreadView::of(a.doc(t.doc()).unwrap()).unwrap().posts[0].hidden);
    // e1: the group's owner.
    a.moderate(&w.authors[1], t.doc(), &pid, false, "fine", 5_000)
        .unwrap();
    assert!(!ThreadView::of(a.doc(t.doc()).unwrap()).unwrap().posts[0].hidden);
}

#[test]
fn a_second_genesis_is_refused() {
    let w = world();
    let mut a = w.replica();
    let g = new_group(&mut a, &w, 0, Visibility::Public);
    // A change with no dependencies in an existing group: an attempt to re-found it.
    let mut fresh = w.replica();
    let c = unchecked_change(
        &fresh,
        &w.authors[1],
        None,
        DocKind::Group,
        vec![],
        5,
        |tx| tx.put(ROOT, "kind", "group"),
    )
    .unwrap();
    // Re-address it to the existing group's id by re-sealing is impossible without changing
    // the hash; so ingest it as is: it founds its own (malformed) group and is refused.
    let r = assert_rejected(&mut fresh, c, "incomplete genesis");
    assert!(matches!(r, Rejection::Rule(_)), "{r}");
    let _ = g;
}

#[test]
fn replaying_a_store_trusts_what_it_accepted_and_nothing_after() {
    let w = world();
    let mut a = w.replica();
    let g = new_group(&mut a, &w, 0, Visibility::Public);
    // A non-owner renaming the group: the rules refuse it from a peer...
    let forged = unchecked_change(
        &a,
        &w.authors[1],
        Some(g.doc()),
        DocKind::Group,
        vec![],
        3_000,
        |tx| tx.put(ROOT, "name", "Mine"),
    )
    .unwrap();
    let mut live = w.replica();
    let report = live.ingest_bytes([g.bytes().as_ref(), forged.bytes().as_ref()]);
    assert_eq!(report.accepted.len(), 1);
    assert!(
        matches!(report.rejected[0].2, Rejection::Rule(_)),
        "{:?}",
        report.rejected
    );
    // ... but what the node's own store holds was accepted once and is not judged again
    // (signatures nor rules): replaying never turns this site against its own past.
    let mut b = w.replica();
    let report = b.ingest_stored([g.bytes().as_ref(), forged.bytes().as_ref()]);
    assert_eq!(report.accepted.len(), 2);
    // Dependencies are still checked on replay: without the group's genesis the change
    // waits.
    let mut c = w.replica();
    let report = c.ingest_stored([forged.bytes().as_ref()]);
    assert!(report.accepted.is_empty(), "{report:?}");
    assert_eq!(report.waiting.len(), 1, "{report:?}");
    // After the replay, everything is checked again.
    let again = unchecked_change(
        &a,
        &w.authors[1],
        Some(g.doc()),
        DocKind::Group,
        vec![],
        3_001,
        |tx| tx.put(ROOT, "description", "Mine too"),
    )
    .unwrap();
    let mut d = w.replica();
    d.ingest_stored([g.bytes().as_ref()]);
    let report = d.ingest_bytes([again.bytes().as_ref()]);
    assert!(
        matches!(
            report.rejected.first().map(|r| &r.2),
            Some(Rejection::Rule(_))
        ),
        "{report:?}"
    );
    let mut tampered = g.bytes().to_vec();
    let n = tampered.len();
    tampered[n - 1] ^= 1;
    let mut e = w.replica();
    assert!(e.ingest_bytes([tampered.as_slice()]).accepted.is_empty());
}

/// The posts a thread's new changes touched, asked twice of the same heads (as the node's
/// read models and search index do at each commit), then of newer heads: the second answer
/// is the first one, and newer heads give the newer posts.
#[test]
fn touched_posts_answer_each_pair_of_heads_alike() {
    let w = world();
    let mut r = w.replica();
    let g = new_group(&mut r, &w, 0, Visibility::Public);
    let (t, _) = r
        .create_thread(&w.authors[0], g.doc(), "Title", "first", 1_001, 8)
        .unwrap();
    let since = r.doc(t.doc()).unwrap().applied_heads();
    let (_, p1) = r
        .reply(&w.authors[0], t.doc(), "one", None, 1_002, 9)
        .unwrap();
    let doc = r.doc(t.doc()).unwrap();
    let first = doc.touched_posts(&since);
    assert_eq!(first, Some([p1.clone()].into_iter().collect()));
    assert_eq!(
        doc.touched_posts(&since),
        first,
        "the same heads, the same answer"
    );
    let (_, p2) = r
        .reply(&w.authors[0], t.doc(), "two", None, 1_003, 10)
        .unwrap();
    let doc = r.doc(t.doc()).unwrap();
    assert_eq!(
        doc.touched_posts(&since),
        Some([p1, p2].into_iter().collect()),
        "newer heads: both replies"
    );
    assert_eq!(
        doc.touched_posts(&doc.applied_heads()),
        Some(Default::default()),
        "nothing since now"
    );
}

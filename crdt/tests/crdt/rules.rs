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
pub(crate) fn receiver(w: &World, changes: &[SignedChange]) -> Replica {
    let mut r = w.replica();
    let report = r.ingest(changes.iter().cloned());
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert!(report.waiting.is_empty(), "{:?}", report.waiting);
    r
}

/// Checks that `c` is refused by `r` and by two other replicas that learn `r`'s history in
/// other orders (reversed; and with `c` delivered before that history, so it must wait and
/// then be refused).
pub(crate) fn assert_rejected(r: &mut Replica, c: SignedChange, what: &str) -> Rejection {
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

/// The posts a thread's changes touched, from what the validator found each change writes,
/// agree with Automerge's own diff of the two states, over a run of replies, edits,
/// deletions, reactions and hidings made on three replicas and merged in varying orders.
#[test]
fn touched_posts_are_the_posts_automerges_diff_shows() {
    use std::collections::BTreeSet;
    let w = world();
    let mut rs: Vec<Replica> = (0..3).map(|_| w.replica()).collect();
    let g = new_group(&mut rs[0], &w, 0, Visibility::Public);
    let (t, l) = rs[0]
        .create_thread(&w.authors[0], g.doc(), "Title", "first", 1_001, 8)
        .unwrap();
    let tid = t.doc().clone();
    let mut all = vec![g.clone(), t, l];
    for (i, r) in rs.iter_mut().enumerate().skip(1) {
        r.ingest(all.iter().cloned());
        all.push(
            r.add_member(&w.authors[i], g.doc(), &format!("e{i}"), 1_002)
                .unwrap(),
        );
    }
    for r in &mut rs {
        r.ingest(all.iter().cloned());
    }
    // What the diff between two Automerge states shows of the posts (reactions left out).
    let diffed = |r: &Replica, since: &[automerge::ChangeHash]| -> BTreeSet<String> {
        let am = r.doc(&tid).unwrap().automerge();
        let mut out = BTreeSet::new();
        for p in am.diff(since, &am.get_heads()) {
            let mut keys: Vec<String> = p.path.iter().map(|(_, prop)| prop.to_string()).collect();
            if let automerge::PatchAction::PutMap { key, .. }
            | automerge::PatchAction::DeleteMap { key } = &p.action
            {
                keys.push(key.clone());
            }
            match keys.first().map(String::as_str) {
                Some("reactions") => {}
                Some("posts" | "moderation") if keys.len() >= 2 => {
                    out.insert(keys[1].clone());
                }
                other => panic!("a thread change wrote {other:?}"),
            }
        }
        out
    };
    let mut rng = weft_crdt::testkit::Rng::new(7);
    let mut mine: Vec<Vec<String>> = vec![Vec::new(); 3];
    let mut seen: Vec<Vec<automerge::ChangeHash>> = rs
        .iter()
        .map(|r| r.doc(&tid).unwrap().applied_heads())
        .collect();
    // Each replica's whole view of the thread, kept up to date from what changed.
    let mut kept: Vec<ThreadView> = rs
        .iter()
        .map(|r| ThreadView::of(r.doc(&tid).unwrap()).unwrap())
        .collect();
    let mut checked = 0;
    for step in 0..120u64 {
        let i = rng.below(3);
        let me = &w.authors[i];
        let now = 2_000 + step as i64;
        let made = match rng.below(6) {
            0 | 1 => rs[i]
                .reply(
                    me,
                    &tid,
                    &format!("reply {step} to @e{} #t{}", rng.below(6), step % 4),
                    None,
                    now,
                    100 + step,
                )
                .map(|(c, pid)| {
                    mine[i].push(pid);
                    c
                })
                .ok(),
            2 if !mine[i].is_empty() => {
                let pid = mine[i][rng.below(mine[i].len())].clone();
                rs[i]
                    .edit_post(me, &tid, &pid, &format!("edit {step} #e"), now)
                    .ok()
            }
            3 if !mine[i].is_empty() => {
                let at = rng.below(mine[i].len());
                let pid = mine[i].remove(at);
                rs[i].delete_post(me, &tid, &pid, now).ok()
            }
            4 => {
                let pids = ThreadView::of(rs[i].doc(&tid).unwrap()).unwrap().posts;
                let pid = pids[rng.below(pids.len())].id.clone();
                rs[i]
                    .react(me, &tid, &pid, "like", rng.chance(0.7), now)
                    .ok()
            }
            _ if i == 0 => {
                let pids = ThreadView::of(rs[0].doc(&tid).unwrap()).unwrap().posts;
                let pid = pids[rng.below(pids.len())].id.clone();
                rs[0]
                    .moderate(me, &tid, &pid, rng.chance(0.5), "charter", now)
                    .ok()
            }
            _ => None,
        };
        if let Some(c) = made {
            all.push(c);
        }
        // Now and then a replica learns everything made so far, in a shuffled order.
        if rng.chance(0.3) {
            let j = rng.below(3);
            let mut batch = all.clone();
            rng.shuffle(&mut batch);
            let report = rs[j].ingest(batch);
            assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        }
        for (k, r) in rs.iter().enumerate() {
            let d = r.doc(&tid).unwrap();
            let Some(touched) = d.touched_posts(&seen[k]) else {
                // A moderation mark was written since (it can close reports, which the view
                // holds apart from the posts): the thread is read whole.
                let whole = ThreadView::of(d).unwrap();
                assert!(whole.posts.iter().any(|p| p.moderated.is_some()));
                assert!(ThreadView::updated(d, &kept[k], &seen[k]).is_none());
                kept[k] = whole;
                seen[k] = d.applied_heads();
                continue;
            };
            assert_eq!(touched, diffed(r, &seen[k]), "replica {k} at step {step}");
            checked += usize::from(!touched.is_empty());
            // The same posts read as they are now, asked twice (the second answer is the
            // first one, not read again).
            let views = d.touched_post_views(&seen[k]).unwrap();
            let named: BTreeSet<String> = views.iter().map(|(p, _)| p.clone()).collect();
            assert_eq!(named, touched);
            for (pid, v) in views.iter() {
                assert_eq!(v, &weft_crdt::PostView::of(d, pid), "post {pid}");
            }
            let again = d.touched_post_views(&seen[k]).unwrap();
            assert!(std::sync::Arc::ptr_eq(&views, &again));
            // Asked again from the same heads: the same answer; from now: nothing.
            assert_eq!(d.touched_posts(&seen[k]), Some(touched));
            assert_eq!(d.touched_posts(&d.applied_heads()), Some(BTreeSet::new()));
            // The kept view brought up to date is the view read whole.
            let whole = ThreadView::of(d).unwrap();
            let updated = ThreadView::updated(d, &kept[k], &seen[k]).expect("only posts");
            assert_eq!(updated, whole, "replica {k} at step {step}");
            kept[k] = updated;
            seen[k] = d.applied_heads();
        }
    }
    assert!(
        checked > 60,
        "the run touched posts often enough ({checked})"
    );
    // Heads the document does not hold, and a change to something else than posts: read
    // the whole thread.
    let d = rs[0].doc(&tid).unwrap();
    let unknown = automerge::ChangeHash([7; 32]);
    assert_eq!(d.touched_posts(&[unknown]), None);
    let genesis: Vec<automerge::ChangeHash> = Vec::new();
    assert_eq!(
        d.touched_posts(&genesis),
        None,
        "from nothing: the title was written"
    );
}

/// A group's view kept up to date from the entries each change wrote (joins, leaves,
/// invitations, requests, owners, thread listings) is the view read whole, on three replicas
/// learning changes in shuffled orders; a settings change asks for a whole read. Which sites
/// may hold the group, kept the same way, is what the group and the directory say, also
/// after a member moves to another site.
#[test]
fn a_group_view_and_who_may_hold_it_kept_from_touched_entries_are_the_group_read_whole() {
    let w = world();
    let mut rs: Vec<Replica> = (0..3).map(|_| w.replica()).collect();
    let g = new_group(&mut rs[0], &w, 0, Visibility::Private);
    let gid = g.doc().clone();
    let mut all = vec![g];
    for r in rs.iter_mut().skip(1) {
        r.ingest(all.iter().cloned());
    }
    let mut rng = weft_crdt::testkit::Rng::new(11);
    let mut seen: Vec<Vec<automerge::ChangeHash>> = rs
        .iter()
        .map(|r| r.doc(&gid).unwrap().applied_heads())
        .collect();
    let mut kept: Vec<GroupView> = rs
        .iter()
        .map(|r| GroupView::of(r.doc(&gid).unwrap()).unwrap())
        .collect();
    let mut settings_since: Vec<bool> = vec![false; 3];
    let (mut entries, mut whole) = (0, 0);
    for step in 0..200u64 {
        let a = rng.below(w.authors.len());
        let owner = &w.authors[0];
        let them = w.authors[a].employee.clone();
        let now = 2_000 + step as i64;
        // Each employee writes from one replica (their site's): the owner from the first.
        let op = rng.below(9);
        let own = matches!(op, 1 | 4 | 7);
        let r = &mut rs[if own { a % 3 } else { 0 }];
        let made = match op {
            0 => r.invite(owner, &gid, &them, now).ok(),
            1 => r.request_to_join(&w.authors[a], &gid, "please", now).ok(),
            2 | 3 => r.add_member(owner, &gid, &them, now).ok(),
            4 => r.add_member(&w.authors[a], &gid, &them, now).ok(),
            5 => r.remove_member(owner, &gid, &them, now).ok(),
            6 => r.drop_request(owner, &gid, &them, now).ok(),
            7 => r
                .create_thread(&w.authors[a], &gid, &format!("T{step}"), "body", now, step)
                .ok()
                .map(|(t, l)| {
                    all.push(t);
                    l
                }),
            _ if rng.chance(0.3) => r
                .update_group(
                    owner,
                    &gid,
                    &weft_crdt::GroupSettings {
                        name: Some(&format!("Renamed {step}")),
                        // Now and then public for a while: every site may hold it then.
                        visibility: Some(if rng.chance(0.3) {
                            Visibility::Public
                        } else {
                            Visibility::Private
                        }),
                        ..Default::default()
                    },
                    now,
                )
                .ok(),
            _ => r.add_owner(owner, &gid, &them, now).ok(),
        };
        if let Some(c) = made {
            all.push(c);
        }
        if rng.chance(0.3) {
            let j = rng.below(3);
            let mut batch = all.clone();
            rng.shuffle(&mut batch);
            let report = rs[j].ingest(batch);
            assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        }
        for (k, r) in rs.iter().enumerate() {
            let d = r.doc(&gid).unwrap();
            let now_whole = GroupView::of(d).unwrap();
            // Who may hold it, as the replica keeps it, is what the group and the directory
            // say now.
            for site in &w.sites {
                assert_eq!(
                    r.may_hold(site, &gid),
                    may_hold_by_reading(&w.directory, &now_whole, site),
                    "replica {k}, {site}, step {step}"
                );
            }
            settings_since[k] |= now_whole.name != kept[k].name;
            match d.touched_entries(&seen[k]) {
                Some(touched) => {
                    assert!(!settings_since[k], "a rename is not an entry (step {step})");
                    for (m, key) in &touched {
                        kept[k].reread_entry(d, m, key);
                    }
                    assert_eq!(kept[k], now_whole, "replica {k} at step {step}");
                    entries += usize::from(!touched.is_empty());
                }
                None => {
                    kept[k] = now_whole;
                    whole += 1;
                }
            }
            settings_since[k] = false;
            seen[k] = d.applied_heads();
        }
    }
    assert!(
        entries > 100,
        "entries were read one by one often ({entries})"
    );
    assert!(whole > 0, "renames asked for whole reads ({whole})");
    // The only member at site1 moves to site2: site1 may no longer hold a small private
    // group, site2 now may — the sites follow the directory.
    let mut w = w;
    let r = &mut rs[0];
    let small = r
        .create_group(
            &w.authors[0],
            &NewGroup {
                name: "Small",
                description: "",
                visibility: Visibility::Private,
                home_site: "site0",
            },
            5_000,
            99,
        )
        .unwrap();
    let small = small.doc().clone();
    r.add_member(&w.authors[0], &small, "e1", 5_001).unwrap();
    assert!(r.may_hold("site1", &small) && !r.may_hold("site2", &small));
    w.publish(|d| d.employees.get_mut("e1").unwrap().site = "site2".into());
    r.set_directory(&w.directory).unwrap();
    let view = GroupView::of(r.doc(&small).unwrap()).unwrap();
    for site in &w.sites {
        assert_eq!(
            r.may_hold(site, &small),
            may_hold_by_reading(&w.directory, &view, site),
            "after e1 moved to site2: {site}"
        );
    }
    assert!(!r.may_hold("site1", &small) && r.may_hold("site2", &small));
}

/// Whether `site` may hold a group, by reading the group and the directory: public, or a
/// member or invitee is homed there.
fn may_hold_by_reading(
    dir: &weft_crdt::keys::Signed<weft_crdt::keys::Directory>,
    g: &GroupView,
    site: &str,
) -> bool {
    let dir = dir.open().unwrap();
    g.visibility == Visibility::Public
        || g.members
            .iter()
            .chain(&g.invitations)
            .any(|m| dir.employees.get(m).is_some_and(|e| e.site == site))
}

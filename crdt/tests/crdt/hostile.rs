//! What a hostile employee or a hostile admitted site tries against the trust core (issue
//! 12), each as a test that states the promise: the change is refused by every replica that
//! judges it, what is good is kept, and no one's memory fills.

use automerge::ReadDoc;
use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT};
use weft_crdt::replica::{MAX_PENDING_BYTES_PER_ORIGIN, PENDING_TTL_MS};
use weft_crdt::testkit::{World, unchecked_bytes, unchecked_change};
use weft_crdt::{
    DocId, DocKind, GroupView, LocalError, NewGroup, Rejection, Replica, SignedChange, ThreadView,
    Visibility,
};
use weft_keys::{RevokedKey, SecretKey, Status, TrustAnchors};

/// A point in time (seconds since the epoch) at which the directory changes in these tests.
const T0: u64 = 1_800_000_000;

/// Milliseconds `secs` seconds after [`T0`] (negative: before).
fn at(secs: i64) -> i64 {
    (T0 as i64 + secs) * 1000
}

fn world() -> World {
    World::new(3, 6)
}

fn group(r: &mut Replica, w: &World, vis: Visibility) -> SignedChange {
    r.create_group(
        &w.authors[0],
        &NewGroup {
            name: "Lab",
            description: "",
            visibility: vis,
            home_site: "site0",
        },
        at(-7200),
        1,
    )
    .unwrap()
}

/// Every change a replica holds, dependencies first.
fn history(r: &Replica) -> Vec<SignedChange> {
    let mut out: Vec<SignedChange> = Vec::new();
    // Groups before threads, so a fresh replica never waits.
    for kind in [DocKind::Group, DocKind::Profile, DocKind::Thread] {
        for d in r.docs().filter(|d| d.kind() == kind) {
            out.extend(d.changes().cloned());
        }
    }
    out
}

/// A change `author` makes on a copy of `doc`, naming `version` and dated `time` (ms).
#[allow(clippy::too_many_arguments)]
fn forged(
    r: &Replica,
    w: &World,
    author: usize,
    doc: &DocId,
    heads: Vec<automerge::ChangeHash>,
    time: i64,
    version: u64,
    edit: impl FnOnce(
        &mut automerge::transaction::Transaction<'_>,
    ) -> Result<(), automerge::AutomergeError>,
) -> SignedChange {
    let bytes = unchecked_bytes(
        r,
        &w.authors[author],
        Some(doc),
        doc.kind(),
        heads,
        time,
        Some(version),
        edit,
    )
    .unwrap();
    SignedChange::decode(&bytes).unwrap()
}

fn join(
    tx: &mut automerge::transaction::Transaction<'_>,
    who: &str,
) -> Result<(), automerge::AutomergeError> {
    let m = tx.get(ROOT, "members")?.unwrap().1;
    tx.put(&m, who, true)
}

fn refused_with(r: &mut Replica, c: &SignedChange) -> Rejection {
    let report = r.ingest([c.clone()]);
    assert!(report.accepted.is_empty(), "accepted: {report:?}");
    assert!(report.waiting.is_empty(), "parked: {report:?}");
    report.rejected[0].2.clone()
}

#[test]
fn a_post_with_a_thousand_topics_is_refused_with_the_limit_and_nothing_changes() {
    let w = world();
    let mut a = w.replica();
    let g = group(&mut a, &w, Visibility::Public);
    let (t, _) = a
        .create_thread(&w.authors[0], g.doc(), "Topics", "start", at(0), 2)
        .unwrap();
    let body: String = (0..1_100).map(|i| format!("#t{i} ")).collect();
    let before = a.doc(t.doc()).unwrap().heads();
    let err = a
        .reply(&w.authors[0], t.doc(), &body, None, at(1), 3)
        .unwrap_err();
    assert!(
        matches!(
            err,
            LocalError::TooMany {
                what: "topics",
                count: 1_100,
                limit: 25
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("topics"), "{err}");
    assert_eq!(a.doc(t.doc()).unwrap().heads(), before);
    // The thread still takes ordinary replies, and a peer accepts everything this node made.
    a.reply(&w.authors[0], t.doc(), "#ok", None, at(2), 4)
        .unwrap();
    let mut b = w.replica();
    let report = b.ingest(history(&a));
    assert!(
        report.rejected.is_empty() && report.waiting.is_empty(),
        "{report:?}"
    );
    // Mentions are capped too.
    let many: String = (0..60).map(|i| format!("@e{i} ")).collect();
    assert!(matches!(
        a.reply(&w.authors[0], t.doc(), &many, None, at(3), 5),
        Err(LocalError::TooMany {
            what: "mentions",
            ..
        })
    ));
}

#[test]
fn a_stored_change_beyond_the_peer_limits_replays_and_hides_nothing_after_it() {
    // An older build let its own user post 1,100 topics in one change. Peers refuse it as
    // malformed; the origin keeps it, and every later reply, across restarts.
    let w = world();
    let mut a = w.replica();
    let g = group(&mut a, &w, Visibility::Public);
    let (t, l) = a
        .create_thread(&w.authors[0], g.doc(), "Topics", "start", at(0), 2)
        .unwrap();
    let heads = a.doc(g.doc()).unwrap().heads();
    let big = unchecked_bytes(
        &a,
        &w.authors[0],
        Some(t.doc()),
        DocKind::Thread,
        heads,
        at(1),
        None,
        |tx| {
            let posts = tx.get(ROOT, "posts")?.unwrap().1;
            let p = tx.put_object(
                &posts,
                format!("{}-00000000000000aa", w.authors[0].key.public().id()),
                ObjType::Map,
            )?;
            tx.put(&p, "author", "e0")?;
            tx.put(&p, "body", "many topics")?;
            tx.put(&p, "created_at", automerge::ScalarValue::Timestamp(at(1)))?;
            let topics = tx.put_object(&p, "topics", ObjType::Map)?;
            for i in 0..1_100 {
                tx.put(&topics, format!("t{i}"), true)?;
            }
            Ok(())
        },
    )
    .unwrap();
    assert!(SignedChange::decode(&big).is_err(), "a peer must refuse it");
    let report = a.ingest_stored([big.as_slice()]);
    assert_eq!(report.accepted.len(), 1, "{report:?}");
    let (later, pid) = a
        .reply(&w.authors[0], t.doc(), "acknowledged later", None, at(2), 9)
        .unwrap();
    // The node's store, in the order it was written; a restart replays it.
    let stored: Vec<Vec<u8>> = [
        g.bytes().to_vec(),
        t.bytes().to_vec(),
        l.bytes().to_vec(),
        big,
        later.bytes().to_vec(),
    ]
    .into();
    let mut restarted = w.replica();
    let report = restarted.ingest_stored(stored.iter().map(Vec::as_slice));
    assert!(report.rejected.is_empty(), "{report:?}");
    assert_eq!(restarted.stored_unreadable(), 0);
    let view = ThreadView::of(restarted.doc(t.doc()).unwrap()).unwrap();
    assert!(
        view.posts.iter().any(|p| p.id == pid),
        "the later reply vanished"
    );
    // A damaged stored change is counted and hides nothing it does not have to: the changes
    // after it that do not depend on it stay.
    let mut damaged = stored.clone();
    damaged[3][40] ^= 0xff;
    let mut r = w.replica();
    let report = r.ingest_stored(damaged.iter().map(Vec::as_slice));
    assert_eq!(r.stored_unreadable(), 1);
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert!(r.doc(g.doc()).is_some() && r.doc(t.doc()).is_some());
    // What depends on the damaged change waits for it (a peer that holds it brings it back).
    assert_eq!(r.pending_len(), 1);
}

#[test]
fn an_employee_who_left_cannot_sign_by_naming_an_older_version() {
    let mut w = world();
    let mut a = w.replica();
    let g = group(&mut a, &w, Visibility::Public);
    let mut stale = w.replica();
    stale.ingest([g.clone()]);
    w.publish_at(T0, |d| {
        d.employees.get_mut("e1").unwrap().status = Status::Left
    });
    a.set_directory(&w.directory).unwrap();
    // e1's node (or a thief of its key) names version 1, in which e1 was active.
    let c = forged(&a, &w, 1, g.doc(), vec![], at(3600), 1, |tx| join(tx, "e1"));
    let r = refused_with(&mut a, &c);
    assert!(matches!(r, Rejection::Standing(_)), "{r}");
    assert!(r.to_string().contains("left"), "{r}");
    // Not remembered: the refusal depends on the directory this node holds.
    assert!(!a.is_rejected(&c.hash()));
    // A node that has not received version 2 yet cannot know: it accepts.
    assert_eq!(stale.ingest([c.clone()]).accepted.len(), 1);
    // Dated before version 2 was issued, the change is judged as of version 1 (the
    // documented residual: see the crate docs).
    let old = forged(&a, &w, 1, g.doc(), vec![], at(-3600), 1, |tx| {
        join(tx, "e1")
    });
    assert_eq!(a.ingest([old]).accepted.len(), 1);
}

#[test]
fn an_old_node_key_stops_working_when_the_site_reenrolls_and_a_revoked_one_at_once() {
    let mut w = world();
    let mut a = w.replica();
    let g = group(&mut a, &w, Visibility::Public);
    let old_key = w.nodes[1].clone();
    let new_key = SecretKey::from_seed(&[77; 32]);
    w.publish_at(T0, |d| {
        d.sites.get_mut("site1").unwrap().node_key = Some(new_key.public());
    });
    a.set_directory(&w.directory).unwrap();
    // e1's certificate was signed by the old key: a change made after the re-enrollment is
    // refused whatever version it names.
    let after = forged(&a, &w, 1, g.doc(), vec![], at(600), 1, |tx| join(tx, "e1"));
    let r = refused_with(&mut a, &after);
    assert!(matches!(r, Rejection::Standing(_)), "{r}");
    // One made before it (history: a site catching up) still counts.
    let before = forged(&a, &w, 1, g.doc(), vec![], at(-600), 1, |tx| join(tx, "e1"));
    assert_eq!(a.ingest([before.clone()]).accepted.len(), 1);
    // The new key certifies e1 afresh.
    let mut e1 = w.authors[1].clone();
    e1.key = SecretKey::from_seed(&[78; 32]);
    e1.cert = World::cert(&new_key, "e1", "site1", &e1.key);
    a.add_certificate(&e1.cert).unwrap();
    let profile = a
        .update_profile(
            &e1,
            &weft_crdt::ProfileUpdate {
                about: Some("back with a new key"),
                ..Default::default()
            },
            at(700),
        )
        .unwrap();
    // The authority revokes the stolen old key: everything it certified is refused from then
    // on, even what is dated before.
    w.publish_at(T0 + 60, |d| {
        d.revoked_keys.push(RevokedKey {
            site: "site1".into(),
            key: old_key.public(),
            from_version: 0,
            reason: "stolen".into(),
        });
    });
    a.set_directory(&w.directory).unwrap();
    let backdated = forged(&a, &w, 1, g.doc(), vec![], at(-1200), 1, |tx| {
        let r = tx.get(ROOT, "requests")?.unwrap().1;
        tx.put(&r, "e1", "back")
    });
    let r = refused_with(&mut a, &backdated);
    assert!(matches!(r, Rejection::Standing(_)), "{r}");
    // And a fresh site catching up refuses what only the revoked key certified (e1's join,
    // which nothing builds on), while taking everything else.
    let mut fresh = w.replica();
    fresh.add_certificate(&e1.cert).unwrap();
    let report = fresh.ingest(history(&a));
    assert!(report.waiting.is_empty(), "{report:?}");
    assert!(!fresh.doc(g.doc()).unwrap().has(&before.hash()));
    assert!(fresh.doc(g.doc()).unwrap().has(&g.hash()));
    assert!(fresh.doc(profile.doc()).unwrap().has(&profile.hash()));
}

#[test]
fn a_stale_sites_change_that_others_built_on_is_vouched_for_and_nothing_splits() {
    let mut w = world();
    let mut a = w.replica();
    let g = group(&mut a, &w, Visibility::Public);
    let (t, l) = a
        .create_thread(&w.authors[0], g.doc(), "Stale", "hi", at(-3600), 2)
        .unwrap();
    let mut stale = w.replica();
    stale.ingest([g.clone(), t.clone(), l.clone()]);
    w.publish_at(T0, |d| {
        d.employees.get_mut("e1").unwrap().status = Status::Left
    });
    a.set_directory(&w.directory).unwrap();
    // Site1 has not received version 2: e1 replies, then e4 replies after them.
    let (r1, _) = stale
        .reply(&w.authors[1], t.doc(), "still here", None, at(600), 3)
        .unwrap();
    let (r4, _) = stale
        .reply(&w.authors[4], t.doc(), "welcome back?", None, at(700), 4)
        .unwrap();
    // e1's reply alone is refused at an up-to-date site...
    assert!(matches!(refused_with(&mut a, &r1), Rejection::Standing(_)));
    // ...but e4's depends on it: it waits, and when e1's comes again it is vouched for.
    let report = a.ingest([r4.clone()]);
    assert_eq!(report.waiting.len(), 1, "{report:?}");
    let report = a.ingest([r1.clone()]);
    assert_eq!(report.accepted.len(), 2, "{report:?}");
    assert_eq!(a.vouched(), 1);
    assert_eq!(
        a.doc(t.doc()).unwrap().heads(),
        stale.doc(t.doc()).unwrap().heads()
    );
    // A change by e1 that nobody builds on stays refused.
    let (lone, _) = stale
        .reply(&w.authors[1], t.doc(), "anyone?", None, at(800), 5)
        .unwrap();
    assert!(matches!(
        refused_with(&mut a, &lone),
        Rejection::Standing(_)
    ));
}

#[test]
fn a_squatted_certificate_never_blocks_the_real_one_and_junk_is_not_kept() {
    let w = world();
    let mut src = w.replica();
    let g = group(&mut src, &w, Visibility::Public);
    let c = src.add_member(&w.authors[1], g.doc(), "e1", at(0)).unwrap();
    // A receiver that knows every certificate but e1's.
    let mut r = Replica::new(TrustAnchors::single(w.authority.public()));
    r.set_directory(&w.directory).unwrap();
    for (i, a) in w.authors.iter().enumerate() {
        if i != 1 {
            r.add_certificate(&a.cert).unwrap();
        }
    }
    let e1_key = &w.authors[1].key;
    // Site0's node binds e1's key to its own employee e3: a valid signer, so it is kept...
    let squat = World::cert(&w.nodes[0], "e3", "site0", e1_key);
    r.add_certificate(&squat).unwrap();
    // ...site2's node binds it to e1, who was never homed there: refused.
    let wrong_site = World::cert(&w.nodes[2], "e1", "site2", e1_key);
    assert!(r.add_certificate(&wrong_site).is_err());
    // Junk from keys no site has is refused and never stored.
    let before = r.certificates().count();
    for i in 0..50u8 {
        let mut seed = [7u8; 32];
        seed[0] = 200;
        seed[1] = i;
        let rogue = SecretKey::from_seed(&seed);
        assert!(
            r.add_certificate(&World::cert(&rogue, "e1", "site1", e1_key))
                .is_err()
        );
    }
    assert_eq!(r.certificates().count(), before);
    // The real certificate still counts, and e1's changes are accepted.
    r.add_certificate(&w.authors[1].cert).unwrap();
    let report = r.ingest([g, c]);
    assert_eq!(report.accepted.len(), 2, "{report:?}");
}

#[test]
fn waiting_changes_are_bounded_in_bytes_per_peer_and_expire() {
    let w = world();
    let mut a = w.replica();
    let g = group(&mut a, &w, Visibility::Public);
    let (t, l) = a
        .create_thread(&w.authors[0], g.doc(), "Big", "start", at(0), 2)
        .unwrap();
    let body = "x".repeat(60_000);
    let mut replies = Vec::new();
    for i in 0..320u64 {
        let (c, _) = a
            .reply(
                &w.authors[0],
                t.doc(),
                &body,
                None,
                at(1 + i as i64),
                10 + i,
            )
            .unwrap();
        replies.push(c);
    }
    let mut b = w.replica();
    b.ingest([g, t.clone(), l]);
    b.set_now(1_000);
    // Everything but the first reply: each waits for the one before it.
    let bytes: Vec<Vec<u8>> = replies[1..].iter().map(|c| c.bytes().to_vec()).collect();
    let report = b.ingest_bytes_from("site0", bytes.iter().map(Vec::as_slice));
    assert!(
        b.pending_bytes() <= MAX_PENDING_BYTES_PER_ORIGIN,
        "{}",
        b.pending_bytes()
    );
    let dropped = report
        .rejected
        .iter()
        .filter(|(_, _, r)| matches!(r, Rejection::Overloaded))
        .count();
    assert!(dropped > 0, "nothing was dropped");
    assert_eq!(dropped + b.pending_len(), replies.len() - 1);
    // Another peer still has room of its own.
    let (other, _) = a
        .reply(&w.authors[0], t.doc(), "short", None, at(1000), 999)
        .unwrap();
    let report = b.ingest_bytes_from("site2", [other.bytes().as_ref()]);
    assert_eq!(report.waiting.len(), 1, "{report:?}");
    // Nothing waits for ever.
    let waiting = b.pending_len();
    assert_eq!(b.expire_pending(1_000 + PENDING_TTL_MS + 1), waiting);
    assert_eq!(b.pending_len(), 0);
    assert_eq!(b.pending_bytes(), 0);
    // Nothing was lost: delivered in order, everything is accepted.
    let report = b.ingest(replies.iter().cloned().chain([other]));
    assert_eq!(report.accepted.len(), replies.len() + 1);
}

#[test]
fn forged_signatures_are_refused_before_they_wait_and_far_future_versions_at_once() {
    let w = world();
    let mut a = w.replica();
    let g = group(&mut a, &w, Visibility::Public);
    let (t, _) = a
        .create_thread(&w.authors[0], g.doc(), "T", "start", at(0), 2)
        .unwrap();
    let (r1, _) = a
        .reply(&w.authors[0], t.doc(), "one", None, at(1), 3)
        .unwrap();
    let (r2, _) = a
        .reply(&w.authors[0], t.doc(), "two", None, at(2), 4)
        .unwrap();
    let mut b = w.replica();
    b.ingest([g.clone()]);
    // r2 would wait for r1 (and the thread); with a broken signature it is refused at once.
    let mut bad = r2.bytes().to_vec();
    let n = bad.len();
    bad[n - 1] ^= 1;
    let report = b.ingest_bytes([bad.as_slice()]);
    assert!(report.waiting.is_empty(), "{report:?}");
    assert_eq!(b.pending_len(), 0);
    let _ = r1;
    // A version far ahead of ours is refused, not parked; one just ahead waits.
    let far = forged(&a, &w, 0, g.doc(), vec![], at(3), 1 + 17, |tx| {
        join(tx, "e3")
    });
    let r = refused_with(&mut b, &far);
    assert!(matches!(r, Rejection::Author(_)), "{r}");
    let near = forged(&a, &w, 0, g.doc(), vec![], at(3), 2, |tx| join(tx, "e3"));
    assert_eq!(b.ingest([near]).waiting.len(), 1);
}

#[test]
fn a_post_key_belongs_to_its_author_so_no_one_can_take_over_a_post() {
    let w = world();
    let mut a = w.replica();
    let g = group(&mut a, &w, Visibility::Public);
    let (t, _) = a
        .create_thread(&w.authors[0], g.doc(), "T", "start", at(0), 2)
        .unwrap();
    let gh = a.doc(g.doc()).unwrap().heads();
    // e1 makes a post under a key of e0's: what a concurrent change would need to win the
    // conflict over e0's next post.
    let stolen = format!("{}-00000000000000ff", w.authors[0].key.public().id());
    let c = unchecked_change(
        &a,
        &w.authors[1],
        Some(t.doc()),
        DocKind::Thread,
        gh.clone(),
        at(1),
        |tx| {
            let posts = tx.get(ROOT, "posts")?.unwrap().1;
            let p = tx.put_object(&posts, stolen.as_str(), ObjType::Map)?;
            tx.put(&p, "author", "e1")?;
            tx.put(&p, "body", "mine now")
        },
    )
    .unwrap();
    let r = refused_with(&mut a, &c);
    assert!(r.to_string().contains("key id"), "{r}");
    assert!(a.is_rejected(&c.hash()), "a rule refusal is remembered");
    // Under e1's own key id the same post is fine.
    let own = format!("{}-00000000000000ff", w.authors[1].key.public().id());
    let c = unchecked_change(
        &a,
        &w.authors[1],
        Some(t.doc()),
        DocKind::Thread,
        gh,
        at(1),
        |tx| {
            let posts = tx.get(ROOT, "posts")?.unwrap().1;
            let p = tx.put_object(&posts, own.as_str(), ObjType::Map)?;
            tx.put(&p, "author", "e1")?;
            tx.put(&p, "body", "mine")
        },
    )
    .unwrap();
    assert_eq!(a.ingest([c]).accepted.len(), 1);
}

#[test]
fn a_change_may_not_name_an_older_state_than_its_causal_past() {
    let mut w = world();
    w.publish_at(T0, |_| {});
    let mut a = w.replica();
    // The group's genesis names version 2; e1 joining names version 1 on top of it.
    let g = group(&mut a, &w, Visibility::Private);
    let gid = g.doc().clone();
    let c = forged(&a, &w, 1, &gid, vec![], at(10), 1, |tx| {
        let r = tx.get(ROOT, "requests")?.unwrap().1;
        tx.put(&r, "e1", "please")
    });
    let r = refused_with(&mut a, &c);
    assert!(matches!(r, Rejection::Floor(_)), "{r}");
    // Group heads: e1 is a member at h1, removed at h2; e0 replies naming h2; e1 replies on
    // top of that reply naming h1 (when they were still a member).
    a.add_member(&w.authors[0], &gid, "e1", at(20)).unwrap();
    let h1 = a.doc(&gid).unwrap().heads();
    let (t, _) = a
        .create_thread(&w.authors[0], &gid, "Plans", "start", at(30), 3)
        .unwrap();
    a.remove_member(&w.authors[0], &gid, "e1", at(40)).unwrap();
    a.reply(&w.authors[0], t.doc(), "after the removal", None, at(50), 4)
        .unwrap();
    // A post of e1's in the thread, naming group heads `heads`.
    let e1_post = |a: &Replica, heads: Vec<automerge::ChangeHash>, n: u8| {
        let key = format!("{}-00000000000000{n:02x}", w.authors[1].key.public().id());
        unchecked_change(
            a,
            &w.authors[1],
            Some(t.doc()),
            DocKind::Thread,
            heads,
            at(60),
            |tx| {
                let posts = tx.get(ROOT, "posts")?.unwrap().1;
                let p = tx.put_object(&posts, key.as_str(), ObjType::Map)?;
                tx.put(&p, "author", "e1")?;
                tx.put(&p, "body", "I am still here")
            },
        )
        .unwrap()
    };
    let on_top = e1_post(&a, h1.clone(), 1);
    let r = refused_with(&mut a, &on_top);
    assert!(matches!(r, Rejection::Floor(_)), "{r}");
    // Naming the heads with the removal is refused by the membership rule itself.
    let h2 = a.doc(&gid).unwrap().heads();
    let named = e1_post(&a, h2, 2);
    assert!(matches!(refused_with(&mut a, &named), Rejection::Rule(_)));
    // Every other replica judges both alike, in any order.
    let mut b = w.replica();
    let mut all = history(&a);
    all.reverse();
    all.extend([on_top.clone(), named.clone()]);
    b.ingest(all.clone());
    b.ingest(all);
    assert!(b.is_rejected(&on_top.hash()) && b.is_rejected(&named.hash()));
    assert_eq!(
        b.doc(t.doc()).unwrap().heads(),
        a.doc(t.doc()).unwrap().heads()
    );
    let view = GroupView::of(b.doc(&gid).unwrap()).unwrap();
    assert!(!view.is_member("e1"));
}

/// A large batch is verified on every core before it is judged: broken signatures in it are
/// still refused (never parked), what depends on them waits, and the good changes, delivered
/// later, complete the history.
#[test]
fn a_large_batch_checked_on_every_core_refuses_its_broken_signatures() {
    let w = world();
    let mut a = w.replica();
    let g = group(&mut a, &w, Visibility::Public);
    let (t, l) = a
        .create_thread(&w.authors[0], g.doc(), "Batch", "start", at(0), 2)
        .unwrap();
    let replies: Vec<SignedChange> = (0..40)
        .map(|i| {
            a.reply(
                &w.authors[0],
                t.doc(),
                &format!("reply {i}"),
                None,
                at(1 + i),
                3 + i as u64,
            )
            .unwrap()
            .0
        })
        .collect();
    let broken = |c: &SignedChange| {
        let mut b = c.bytes().to_vec();
        let n = b.len();
        b[n - 1] ^= 1;
        SignedChange::decode(&b).unwrap()
    };
    let mut batch = vec![g.clone(), t.clone(), l.clone()];
    for (i, r) in replies.iter().enumerate() {
        batch.push(if i == 10 || i == 30 {
            broken(r)
        } else {
            r.clone()
        });
    }
    let mut b = w.replica();
    let report = b.ingest(batch);
    assert_eq!(report.accepted.len(), 3 + 10, "{report:?}");
    let refused: Vec<&Rejection> = report.rejected.iter().map(|r| &r.2).collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused.iter().all(|r| matches!(r, Rejection::Signature)),
        "{refused:?}"
    );
    assert_eq!(
        report.waiting.len(),
        28,
        "the replies after the first broken one wait"
    );
    let report = b.ingest([replies[10].clone(), replies[30].clone()]);
    assert_eq!(report.accepted.len(), 30, "{report:?}");
    assert_eq!(
        b.doc(t.doc()).unwrap().heads(),
        a.doc(t.doc()).unwrap().heads()
    );
}

//! Events: an event is a thread's first post with times, a time zone and a place, changed
//! only by its author; an RSVP is its author's own answer (yes, maybe or no), one at a time,
//! judged and counted alike in every order of delivery.

use automerge::transaction::Transactable;
use automerge::{ROOT, ReadDoc};
use weft_crdt::testkit::{Rng, World, unchecked_change};
use weft_crdt::{
    DocId, DocKind, EventView, NewEvent, NewGroup, Replica, SignedChange, ThreadView, Visibility,
};

use crate::rules::{assert_rejected, receiver};

const HOUR: i64 = 3_600_000;

fn event() -> NewEvent {
    NewEvent {
        starts_at: 1_800_000_000_000,
        ends_at: 1_800_000_000_000 + 2 * HOUR,
        time_zone: "Europe/Paris".into(),
        location: "Nozay, salle Volta".into(),
        cancelled: false,
    }
}

/// A public group of e0 and an event thread of e0 in it: (replica, log, thread, root post).
fn setup(w: &World) -> (Replica, Vec<SignedChange>, DocId, String) {
    let mut a = w.replica();
    let g = a
        .create_group(
            &w.authors[0],
            &NewGroup {
                name: "Club photo",
                description: "",
                visibility: Visibility::Public,
                home_site: "site0",
            },
            1_000,
            1,
        )
        .unwrap();
    let gid = g.doc().clone();
    let (t, listed) = a
        .create_event(
            &w.authors[0],
            &gid,
            "Sortie au Jardin des Plantes",
            "Apportez vos objectifs macro.",
            &event(),
            2_000,
            2,
        )
        .unwrap();
    let tid = t.doc().clone();
    let pid = ThreadView::of(a.doc(&tid).unwrap()).unwrap().posts[0]
        .id
        .clone();
    (a, vec![g, t, listed], tid, pid)
}

fn event_of(r: &Replica, tid: &DocId, pid: &str) -> EventView {
    let v = ThreadView::of(r.doc(tid).unwrap()).unwrap();
    let post = v.posts.into_iter().find(|p| p.id == pid).unwrap();
    assert!(
        post.reactions.keys().all(|k| !k.starts_with("rsvp.")),
        "answers are not reactions: {:?}",
        post.reactions
    );
    post.event.expect("the post has its event")
}

fn group_heads(r: &Replica, tid: &DocId) -> Vec<automerge::ChangeHash> {
    let g = r.group_of(tid).unwrap();
    r.doc(&g).unwrap().heads()
}

#[test]
fn answers_from_three_sites_count_the_same_in_every_order() {
    let w = World::new(3, 6);
    let (a, mut log, tid, pid) = setup(&w);
    let made = event_of(&a, &tid, &pid);
    assert_eq!(made.time_zone, "Europe/Paris");
    assert_eq!(made.ends_at - made.starts_at, 2 * HOUR);
    let mut sites: Vec<Replica> = (0..3).map(|_| receiver(&w, &log)).collect();
    for (i, answer) in ["yes", "maybe", "no"].iter().enumerate() {
        log.push(
            sites[i]
                .rsvp(&w.authors[i], &tid, &pid, Some(answer), 3_000)
                .unwrap(),
        );
    }
    // e1 makes up their mind; e2 withdraws.
    sites[1].ingest(log.iter().cloned());
    log.push(
        sites[1]
            .rsvp(&w.authors[1], &tid, &pid, Some("yes"), 4_000)
            .unwrap(),
    );
    sites[2].ingest(log.iter().cloned());
    log.push(
        sites[2]
            .rsvp(&w.authors[2], &tid, &pid, None, 4_000)
            .unwrap(),
    );
    let want = event_of(&receiver(&w, &log), &tid, &pid);
    assert_eq!(want.count("yes"), 2);
    assert_eq!(want.count("maybe"), 0);
    assert_eq!(want.count("no"), 0);
    assert_eq!(want.answer_of("e1"), Some("yes"));
    assert_eq!(want.answer_of("e2"), None);
    for seed in 0..30 {
        let mut order = log.clone();
        Rng::new(seed).shuffle(&mut order);
        let mut r = w.replica();
        let report = r.ingest(order);
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        assert_eq!(r.pending_len(), 0);
        assert_eq!(event_of(&r, &tid, &pid), want, "order {seed}");
    }
}

#[test]
fn only_its_author_changes_an_event_and_cancelling_keeps_it() {
    let w = World::new(3, 6);
    let (mut a, _, tid, pid) = setup(&w);
    let later = NewEvent {
        starts_at: event().starts_at + 24 * HOUR,
        ends_at: event().ends_at + 24 * HOUR,
        location: "https://meet.example.com/photo".into(),
        ..event()
    };
    assert!(
        a.edit_event(&w.authors[1], &tid, &pid, &later, 3_000)
            .is_err(),
        "someone else's event"
    );
    let heads = group_heads(&a, &tid);
    let forged = unchecked_change(
        &a,
        &w.authors[1],
        Some(&tid),
        DocKind::Thread,
        heads,
        3_000,
        |tx| {
            let posts = tx.get(ROOT, "posts")?.unwrap().1;
            let p = tx.get(&posts, pid.as_str())?.unwrap().1;
            let e = tx.get(&p, "event")?.unwrap().1;
            tx.put(&e, "cancelled", true)
        },
    )
    .unwrap();
    assert_rejected(&mut a, forged, "cancelling another's event");
    assert!(!event_of(&a, &tid, &pid).cancelled);
    a.edit_event(&w.authors[0], &tid, &pid, &later, 3_000)
        .unwrap();
    let e = event_of(&a, &tid, &pid);
    assert_eq!(e.starts_at, later.starts_at);
    assert_eq!(e.location, "https://meet.example.com/photo");
    a.edit_event(
        &w.authors[0],
        &tid,
        &pid,
        &NewEvent {
            cancelled: true,
            ..later
        },
        3_100,
    )
    .unwrap();
    assert!(event_of(&a, &tid, &pid).cancelled);
    // What an event must be.
    let bad = NewEvent {
        ends_at: event().starts_at - 1,
        ..event()
    };
    assert!(
        a.edit_event(&w.authors[0], &tid, &pid, &bad, 3_200)
            .is_err()
    );
}

#[test]
fn nobody_answers_for_another_nor_twice_nor_to_a_post_without_an_event() {
    let w = World::new(3, 6);
    let (mut a, _, tid, pid) = setup(&w);
    let (_, plain) = a
        .reply(
            &w.authors[0],
            &tid,
            "Rendez-vous à l'entrée",
            None,
            2_500,
            3,
        )
        .unwrap();
    let heads = group_heads(&a, &tid);
    let forge = |a: &Replica, keys: Vec<String>| {
        unchecked_change(
            a,
            &w.authors[1],
            Some(&tid),
            DocKind::Thread,
            heads.clone(),
            3_000,
            |tx| {
                let r = tx.get(ROOT, "reactions")?.unwrap().1;
                for k in &keys {
                    tx.put(&r, k.as_str(), true)?;
                }
                Ok(())
            },
        )
        .unwrap()
    };
    let other = forge(&a, vec![format!("{pid}:rsvp.yes:e2")]);
    assert_rejected(&mut a, other, "an answer in another's name");
    let twice = forge(
        &a,
        vec![format!("{pid}:rsvp.yes:e1"), format!("{pid}:rsvp.no:e1")],
    );
    assert_rejected(&mut a, twice, "two answers at once");
    let odd = forge(&a, vec![format!("{pid}:rsvp.perhaps:e1")]);
    assert_rejected(&mut a, odd, "an answer that is not one");
    let none = forge(&a, vec![format!("{plain}:rsvp.yes:e1")]);
    assert_rejected(&mut a, none, "an answer to a post without an event");
    assert!(
        a.rsvp(&w.authors[1], &tid, &plain, Some("yes"), 3_000)
            .is_err()
    );
    assert!(
        a.rsvp(&w.authors[1], &tid, &pid, Some("perhaps"), 3_000)
            .is_err()
    );
    assert!(event_of(&a, &tid, &pid).rsvps.is_empty());
}

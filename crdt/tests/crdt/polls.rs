//! Polls: a poll is written with its post and never changed; a vote is its author's own, for
//! one of the poll's options, before the poll closes by the vote's signed time; every replica
//! judges and counts alike in whatever order the changes arrive.

use automerge::transaction::Transactable;
use automerge::{ROOT, ReadDoc};
use weft_crdt::testkit::{Rng, World, unchecked_change};
use weft_crdt::{
    DocId, DocKind, NewGroup, NewPoll, PollView, Replica, SignedChange, ThreadView, Visibility,
};

use crate::rules::{assert_rejected, receiver};

fn poll(multiple: bool, closes_at: Option<i64>) -> NewPoll {
    NewPoll {
        question: "Où fêter la fin du projet ?".into(),
        options: vec!["Paris".into(), "Nozay".into(), "New York".into()],
        multiple,
        closes_at,
        results_after_vote: false,
    }
}

/// A public group of e0 at site0 and a thread whose root post holds `p`: (replica, log,
/// thread, root post).
fn setup(w: &World, p: &NewPoll) -> (Replica, Vec<SignedChange>, DocId, String) {
    let mut a = w.replica();
    let g = a
        .create_group(
            &w.authors[0],
            &NewGroup {
                name: "Projet Lumen",
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
        .create_thread_with(&w.authors[0], &gid, "Sondage", "Votez !", Some(p), 2_000, 2)
        .unwrap();
    let tid = t.doc().clone();
    let pid = ThreadView::of(a.doc(&tid).unwrap()).unwrap().posts[0]
        .id
        .clone();
    (a, vec![g, t, listed], tid, pid)
}

fn poll_of(r: &Replica, tid: &DocId, pid: &str) -> PollView {
    let v = ThreadView::of(r.doc(tid).unwrap()).unwrap();
    let post = v.posts.into_iter().find(|p| p.id == pid).unwrap();
    assert!(
        post.reactions.keys().all(|k| !k.starts_with("vote.")),
        "votes are not reactions: {:?}",
        post.reactions
    );
    post.poll.expect("the post has its poll")
}

fn group_heads(r: &Replica, tid: &DocId) -> Vec<automerge::ChangeHash> {
    let g = r.group_of(tid).unwrap();
    r.doc(&g).unwrap().heads()
}

#[test]
fn votes_from_three_sites_count_the_same_in_every_order() {
    let w = World::new(3, 6);
    let (a, mut log, tid, pid) = setup(&w, &poll(false, None));
    let made = poll_of(&a, &tid, &pid);
    assert_eq!(made.question, "Où fêter la fin du projet ?");
    let ids: Vec<&str> = made.options.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["1", "2", "3"]);
    assert_eq!(made.options[2].1, "New York");

    // e0 at site0, e1 at site1 and e2 at site2 vote at their own sites; e1 changes their
    // mind later.
    let mut sites: Vec<Replica> = (0..3).map(|_| receiver(&w, &log)).collect();
    for (i, choice) in ["1", "2", "2"].iter().enumerate() {
        let c = sites[i]
            .vote(&w.authors[i], &tid, &pid, &[choice], 3_000 + i as i64)
            .unwrap();
        log.push(c);
    }
    sites[1].ingest(log.iter().cloned());
    log.push(
        sites[1]
            .vote(&w.authors[1], &tid, &pid, &["3"], 4_000)
            .unwrap(),
    );

    let want = poll_of(&receiver(&w, &log), &tid, &pid);
    assert_eq!(want.choices_of("e0"), ["1"]);
    assert_eq!(
        want.choices_of("e1"),
        ["3"],
        "a changed vote replaces the first"
    );
    assert_eq!(want.choices_of("e2"), ["2"]);
    assert_eq!(want.votes.values().map(Vec::len).sum::<usize>(), 3);
    for seed in 0..40 {
        let mut order = log.clone();
        Rng::new(seed).shuffle(&mut order);
        // Out of causal order, some wait a moment within the batch; none stays waiting.
        let mut r = w.replica();
        let report = r.ingest(order);
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        assert_eq!(r.pending_len(), 0, "order {seed}");
        assert_eq!(poll_of(&r, &tid, &pid), want, "order {seed}");
    }
}

#[test]
fn a_multiple_choice_vote_is_changed_as_a_whole() {
    let w = World::new(2, 4);
    let (mut a, _, tid, pid) = setup(&w, &poll(true, None));
    a.vote(&w.authors[1], &tid, &pid, &["1", "3"], 3_000)
        .unwrap();
    assert_eq!(poll_of(&a, &tid, &pid).choices_of("e1"), ["1", "3"]);
    a.vote(&w.authors[1], &tid, &pid, &["2"], 3_100).unwrap();
    assert_eq!(poll_of(&a, &tid, &pid).choices_of("e1"), ["2"]);
    // No option withdraws the vote.
    a.vote(&w.authors[1], &tid, &pid, &[], 3_200).unwrap();
    assert!(poll_of(&a, &tid, &pid).votes.is_empty());
}

#[test]
fn the_local_api_refuses_what_the_rules_refuse() {
    let w = World::new(2, 4);
    let (mut a, _, tid, pid) = setup(&w, &poll(false, Some(5_000)));
    assert!(
        a.vote(&w.authors[1], &tid, &pid, &["1", "2"], 3_000)
            .is_err(),
        "two options of a single-choice poll"
    );
    assert!(
        a.vote(&w.authors[1], &tid, &pid, &["9"], 3_000).is_err(),
        "an unknown option"
    );
    assert!(
        a.vote(&w.authors[1], &tid, &pid, &["1"], 5_001).is_err(),
        "after closing"
    );
    let (_, reply) = a
        .reply(&w.authors[1], &tid, "no poll here", None, 3_000, 9)
        .unwrap();
    assert!(
        a.vote(&w.authors[1], &tid, &reply, &["1"], 3_000).is_err(),
        "a post without a poll"
    );
    let bad = NewPoll {
        options: vec!["only one".into()],
        ..poll(false, None)
    };
    assert!(
        a.reply_with(&w.authors[1], &tid, "?", None, Some(&bad), 3_000, 10)
            .is_err(),
        "a poll of one option"
    );
    assert!(poll_of(&a, &tid, &pid).votes.is_empty());
}

#[test]
fn a_poll_in_a_reply_is_voted_like_one_in_a_root_post() {
    let w = World::new(2, 4);
    let (mut a, mut log, tid, _) = setup(&w, &poll(false, None));
    let (c, reply) = a
        .reply_with(
            &w.authors[1],
            &tid,
            "Et la date ?",
            None,
            Some(&NewPoll {
                question: "Quel jour ?".into(),
                options: vec!["Lundi".into(), "Vendredi".into()],
                ..poll(false, None)
            }),
            3_000,
            5,
        )
        .unwrap();
    log.push(c);
    log.push(a.vote(&w.authors[2], &tid, &reply, &["2"], 3_100).unwrap());
    let r = receiver(&w, &log);
    let p = poll_of(&r, &tid, &reply);
    assert_eq!(p.question, "Quel jour ?");
    assert_eq!(p.choices_of("e2"), ["2"]);
}

#[test]
fn nobody_votes_in_anothers_name() {
    let w = World::new(3, 6);
    let (mut a, _, tid, pid) = setup(&w, &poll(false, None));
    let heads = group_heads(&a, &tid);
    let forged = unchecked_change(
        &a,
        &w.authors[1],
        Some(&tid),
        DocKind::Thread,
        heads.clone(),
        3_000,
        |tx| {
            let r = tx.get(ROOT, "reactions")?.unwrap().1;
            tx.put(&r, format!("{pid}:vote.1:e2"), true)
        },
    )
    .unwrap();
    assert_rejected(&mut a, forged, "a vote in another's name");

    // Nor withdraws someone else's vote.
    let honest = a.vote(&w.authors[2], &tid, &pid, &["2"], 3_000).unwrap();
    let _ = honest;
    let withdraw = unchecked_change(
        &a,
        &w.authors[1],
        Some(&tid),
        DocKind::Thread,
        heads,
        3_100,
        |tx| {
            let r = tx.get(ROOT, "reactions")?.unwrap().1;
            tx.delete(&r, format!("{pid}:vote.2:e2"))
        },
    )
    .unwrap();
    assert_rejected(&mut a, withdraw, "withdrawing another's vote");
    assert_eq!(poll_of(&a, &tid, &pid).choices_of("e2"), ["2"]);
}

#[test]
fn a_vote_signed_after_closing_is_refused_everywhere() {
    let w = World::new(3, 6);
    let (mut a, _, tid, pid) = setup(&w, &poll(false, Some(5_000)));
    a.vote(&w.authors[1], &tid, &pid, &["1"], 4_999).unwrap();
    let heads = group_heads(&a, &tid);
    let late = |a: &Replica,
                who: usize,
                edit: &dyn Fn(
        &mut automerge::transaction::Transaction<'_>,
        &automerge::ObjId,
    ) -> Result<(), automerge::AutomergeError>| {
        unchecked_change(
            a,
            &w.authors[who],
            Some(&tid),
            DocKind::Thread,
            heads.clone(),
            5_001,
            |tx| {
                let r = tx.get(ROOT, "reactions")?.unwrap().1;
                edit(tx, &r)
            },
        )
        .unwrap()
    };
    let e2 = late(&a, 2, &|tx, r| tx.put(r, format!("{pid}:vote.2:e2"), true));
    assert_rejected(&mut a, e2, "a new vote after closing");
    let change = late(&a, 1, &|tx, r| {
        tx.delete(r, format!("{pid}:vote.1:e1"))?;
        tx.put(r, format!("{pid}:vote.3:e1"), true)
    });
    assert_rejected(&mut a, change, "a changed vote after closing");
    let withdraw = late(&a, 1, &|tx, r| tx.delete(r, format!("{pid}:vote.1:e1")));
    assert_rejected(&mut a, withdraw, "a withdrawn vote after closing");
    let p = poll_of(&a, &tid, &pid);
    assert!(p.closed(5_001) && !p.closed(5_000));
    assert_eq!(p.choices_of("e1"), ["1"]);
    assert!(p.choices_of("e2").is_empty());
}

#[test]
fn forged_votes_that_break_the_poll_are_refused() {
    let w = World::new(3, 6);
    let (mut a, _, tid, pid) = setup(&w, &poll(false, None));
    let heads = group_heads(&a, &tid);
    let forge = |a: &Replica, keys: &[&str]| {
        let keys: Vec<String> = keys.iter().map(|k| format!("{pid}:{k}:e1")).collect();
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
    let two = forge(&a, &["vote.1", "vote.2"]);
    assert_rejected(&mut a, two, "two options of a single-choice poll");
    let unknown = forge(&a, &["vote.7"]);
    assert_rejected(&mut a, unknown, "an option the poll does not have");
    let (_, plain) = a
        .reply(&w.authors[0], &tid, "no poll", None, 2_500, 3)
        .unwrap();
    let heads = group_heads(&a, &tid);
    let on_plain = unchecked_change(
        &a,
        &w.authors[1],
        Some(&tid),
        DocKind::Thread,
        heads,
        3_000,
        |tx| {
            let r = tx.get(ROOT, "reactions")?.unwrap().1;
            tx.put(&r, format!("{plain}:vote.1:e1"), true)
        },
    )
    .unwrap();
    assert_rejected(&mut a, on_plain, "a vote on a post without a poll");
    assert!(poll_of(&a, &tid, &pid).votes.is_empty());
}

#[test]
fn a_poll_is_never_changed_after_its_post_not_even_by_its_author() {
    let w = World::new(3, 6);
    let (mut a, _, tid, pid) = setup(&w, &poll(false, Some(5_000)));
    let heads = group_heads(&a, &tid);
    let edit = |a: &Replica,
                what: &dyn Fn(
        &mut automerge::transaction::Transaction<'_>,
        &automerge::ObjId,
    ) -> Result<(), automerge::AutomergeError>| {
        unchecked_change(
            a,
            &w.authors[0],
            Some(&tid),
            DocKind::Thread,
            heads.clone(),
            3_000,
            |tx| {
                let posts = tx.get(ROOT, "posts")?.unwrap().1;
                let p = tx.get(&posts, pid.as_str())?.unwrap().1;
                let poll = tx.get(&p, "poll")?.unwrap().1;
                what(tx, &poll)
            },
        )
        .unwrap()
    };
    let extend = edit(&a, &|tx, poll| {
        tx.put(poll, "closes_at", automerge::ScalarValue::Timestamp(99_000))
    });
    assert_rejected(&mut a, extend, "moving the closing time");
    let add = edit(&a, &|tx, poll| {
        let o = tx.get(poll, "options")?.unwrap().1;
        tx.put(&o, "4", "Lyon")
    });
    assert_rejected(&mut a, add, "adding an option");
    // Nor is a poll added to a post that had none.
    let (_, plain) = a
        .reply(&w.authors[0], &tid, "later", None, 2_500, 3)
        .unwrap();
    let heads = group_heads(&a, &tid);
    let added = unchecked_change(
        &a,
        &w.authors[0],
        Some(&tid),
        DocKind::Thread,
        heads,
        3_000,
        |tx| {
            let posts = tx.get(ROOT, "posts")?.unwrap().1;
            let p = tx.get(&posts, plain.as_str())?.unwrap().1;
            let m = tx.put_object(&p, "poll", automerge::ObjType::Map)?;
            tx.put(&m, "question", "late?")
        },
    )
    .unwrap();
    assert_rejected(&mut a, added, "a poll added to an existing post");
    let p = poll_of(&a, &tid, &pid);
    assert_eq!(p.closes_at, Some(5_000));
    assert_eq!(p.options.len(), 3);
}

//! Community management in the documents: reports, moderators' decisions, official and
//! outdated marks, merged groups — what each may write, as every receiver judges it.

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc};
use weft_crdt::testkit::{World, unchecked_change};
use weft_crdt::{
    DocId, DocKind, GroupView, NewGroup, Replica, SignedChange, ThreadMark, ThreadView, Visibility,
    report_key,
};

use crate::rules::{assert_rejected, receiver};

/// A public group owned by e1 (not a community manager; e0 is one), with a thread by e2:
/// (replica, log, group, thread, its first post).
fn setup(w: &World) -> (Replica, Vec<SignedChange>, DocId, DocId, String) {
    let mut a = w.replica();
    let g = a
        .create_group(
            &w.authors[1],
            &NewGroup {
                name: "Photo club",
                description: "Argentique et numérique",
                visibility: Visibility::Public,
                home_site: "site1",
            },
            1_000,
            1,
        )
        .unwrap();
    let gid = g.doc().clone();
    let (t, l) = a
        .create_thread(&w.authors[2], &gid, "Vends objectif", "Pas cher", 2_000, 2)
        .unwrap();
    let tid = t.doc().clone();
    let pid = view(&a, &tid).posts[0].id.clone();
    (a, vec![g, t, l], gid, tid, pid)
}

fn view(r: &Replica, t: &DocId) -> ThreadView {
    ThreadView::of(r.doc(t).unwrap()).unwrap()
}

fn group_heads(r: &Replica, t: &DocId) -> Vec<automerge::ChangeHash> {
    let g = r.group_of(t).unwrap();
    r.doc(&g).unwrap().heads()
}

#[test]
fn any_reader_reports_and_a_moderators_decision_closes_the_reports_before_it() {
    let w = World::new(3, 6);
    let (mut a, mut log, _, tid, pid) = setup(&w);
    // e3 and e4 report e2's post; e4 changes their mind and reports again.
    log.push(
        a.report(&w.authors[3], &tid, &pid, Some("Vente interdite"), 3_000)
            .unwrap(),
    );
    log.push(
        a.report(&w.authors[4], &tid, &pid, Some("spam"), 3_100)
            .unwrap(),
    );
    log.push(
        a.report(&w.authors[4], &tid, &pid, Some("publicité"), 3_200)
            .unwrap(),
    );
    // A receiver at another site sees both reports, open.
    let mut b = receiver(&w, &log);
    let v = view(&b, &tid);
    let open: Vec<(&str, &str)> = v
        .open_reports()
        .map(|r| (r.by.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(open, [("e3", "Vente interdite"), ("e4", "publicité")]);
    // Reporting a post that is not there is refused locally.
    assert!(
        b.report(&w.authors[3], &tid, "nope-1", Some("x"), 3_300)
            .is_err()
    );
    // The group's owner e1 hides it with a reason: the reports close, the post is hidden
    // with the decision (its author is shown the reason).
    let hide = b
        .moderate(
            &w.authors[1],
            &tid,
            &pid,
            true,
            "Petites annonces: voir le groupe dédié",
            4_000,
        )
        .unwrap();
    log.push(hide);
    let c = receiver(&w, &log);
    let v = view(&c, &tid);
    assert_eq!(v.open_reports().count(), 0);
    let p = &v.posts[0];
    assert!(p.hidden);
    let m = p.moderated.as_ref().unwrap();
    assert_eq!(
        (m.by.as_str(), m.reason.as_str(), m.at),
        ("e1", "Petites annonces: voir le groupe dédié", 4_000)
    );
    assert_eq!(v.reports.len(), 2, "closed reports are kept for the record");
    // Shown again; a new report after that decision is open again.
    let mut d = receiver(&w, &log);
    log.push(
        d.moderate(&w.authors[0], &tid, &pid, false, "Toléré", 5_000)
            .unwrap(),
    );
    log.push(
        d.report(&w.authors[5], &tid, &pid, Some("encore"), 6_000)
            .unwrap(),
    );
    let e = receiver(&w, &log);
    let v = view(&e, &tid);
    assert!(!v.posts[0].hidden);
    let open: Vec<&str> = v.open_reports().map(|r| r.by.as_str()).collect();
    assert_eq!(open, ["e5"]);
    // Withdrawing one's report removes it.
    let mut f = receiver(&w, &log);
    log.push(f.report(&w.authors[5], &tid, &pid, None, 6_100).unwrap());
    let g = receiver(&w, &log);
    assert_eq!(view(&g, &tid).open_reports().count(), 0);
}

#[test]
fn reports_are_their_employees_own_and_moderation_is_for_moderators() {
    let w = World::new(3, 6);
    let (mut a, mut log, _, tid, pid) = setup(&w);
    log.push(
        a.report(&w.authors[3], &tid, &pid, Some("hors charte"), 3_000)
            .unwrap(),
    );
    let mut r = receiver(&w, &log);
    let heads = group_heads(&r, &tid);
    let forge = |r: &mut Replica,
                 who: usize,
                 time: i64,
                 what: &str,
                 edit: &dyn Fn(
        &mut automerge::transaction::Transaction<'_>,
    ) -> Result<(), automerge::AutomergeError>| {
        let c = unchecked_change(
            r,
            &w.authors[who],
            Some(&tid),
            DocKind::Thread,
            heads.clone(),
            time,
            |tx| edit(tx),
        )
        .unwrap();
        assert_rejected(r, c, what);
    };
    let in_moderation = |tx: &mut automerge::transaction::Transaction<'_>| {
        tx.get(ROOT, "moderation").map(|m| m.unwrap().1)
    };
    // A report in someone else's name.
    let theirs = report_key(&pid, "e5");
    forge(&mut r, 4, 3_100, "a report in another's name", &|tx| {
        let m = in_moderation(tx)?;
        let rep = tx.put_object(&m, theirs.as_str(), ObjType::Map)?;
        tx.put(&rep, "reason", "faux")
    });
    // Changing or withdrawing e3's report.
    let e3 = report_key(&pid, "e3");
    forge(&mut r, 4, 3_100, "changing another's report", &|tx| {
        let m = in_moderation(tx)?;
        let rep = tx.get(&m, e3.as_str())?.unwrap().1;
        tx.put(&rep, "reason", "rien")
    });
    forge(&mut r, 4, 3_100, "withdrawing another's report", &|tx| {
        let m = in_moderation(tx)?;
        tx.delete(&m, e3.as_str())
    });
    // A report whose reason is too long, or dated after its change.
    let mine = report_key(&pid, "e4");
    let long = "x".repeat(weft_crdt::MAX_REASON + 1);
    forge(&mut r, 4, 3_100, "a reason too long", &|tx| {
        let m = in_moderation(tx)?;
        let rep = tx.put_object(&m, mine.as_str(), ObjType::Map)?;
        tx.put(&rep, "reason", long.as_str())
    });
    forge(&mut r, 4, 3_100, "a report from the future", &|tx| {
        let m = in_moderation(tx)?;
        let rep = tx.put_object(&m, mine.as_str(), ObjType::Map)?;
        tx.put(&rep, "reason", "plus tard")?;
        tx.put(&rep, "at", automerge::ScalarValue::Timestamp(9_999_999))
    });
    // Hiding by e4 (neither the group's owner nor a community manager).
    let p = pid.clone();
    forge(&mut r, 4, 3_100, "hiding by a non-moderator", &|tx| {
        let m = in_moderation(tx)?;
        let mark = tx.put_object(&m, p.as_str(), ObjType::Map)?;
        tx.put(&mark, "hidden", true)
    });
    // The typed API refuses it too, before signing anything.
    assert!(
        r.moderate(&w.authors[4], &tid, &pid, true, "non", 3_200)
            .is_err()
    );
    // The owner (e1) and the community manager (e0) may.
    r.moderate(&w.authors[1], &tid, &pid, true, "owner", 3_300)
        .unwrap();
    r.moderate(&w.authors[0], &tid, &pid, false, "cm", 3_400)
        .unwrap();
}

#[test]
fn community_managers_alone_mark_threads_official_or_outdated() {
    let w = World::new(3, 6);
    let (a, log, _, tid, _) = setup(&w);
    drop(a);
    let mut r = receiver(&w, &log);
    // e1 owns the group but is not a community manager; e2 wrote the thread.
    for who in [1, 2] {
        assert!(
            r.mark_thread(&w.authors[who], &tid, Some(ThreadMark::Official), 3_000)
                .is_err(),
            "e{who} marked a thread"
        );
        let heads = group_heads(&r, &tid);
        let c = unchecked_change(
            &r,
            &w.authors[who],
            Some(&tid),
            DocKind::Thread,
            heads,
            3_000,
            |tx| tx.put(ROOT, "mark", "official"),
        )
        .unwrap();
        assert_rejected(&mut r, c, "a mark by a non-manager");
    }
    let heads = group_heads(&r, &tid);
    let c = unchecked_change(
        &r,
        &w.authors[0],
        Some(&tid),
        DocKind::Thread,
        heads,
        3_000,
        |tx| tx.put(ROOT, "mark", "important"),
    )
    .unwrap();
    assert_rejected(&mut r, c, "an unknown mark");
    let mut log = log;
    log.push(
        r.mark_thread(&w.authors[0], &tid, Some(ThreadMark::Outdated), 3_100)
            .unwrap(),
    );
    assert_eq!(
        view(&receiver(&w, &log), &tid).mark,
        Some(ThreadMark::Outdated)
    );
    log.push(r.mark_thread(&w.authors[0], &tid, None, 3_200).unwrap());
    assert_eq!(view(&receiver(&w, &log), &tid).mark, None);
}

#[test]
fn community_managers_alone_merge_a_group_into_another() {
    let w = World::new(3, 6);
    let (mut a, mut log, gid, tid, _) = setup(&w);
    let other = a
        .create_group(
            &w.authors[2],
            &NewGroup {
                name: "Club photo",
                description: "",
                visibility: Visibility::Public,
                home_site: "site2",
            },
            1_500,
            9,
        )
        .unwrap();
    let oid = other.doc().clone();
    log.push(other);
    let mut r = receiver(&w, &log);
    // The owner of the group, not a community manager, may not.
    assert!(
        r.merge_group(&w.authors[1], &gid, Some(&oid), 3_000)
            .is_err()
    );
    let forged = |r: &Replica, who: usize, into: &str| {
        unchecked_change(
            r,
            &w.authors[who],
            Some(&gid),
            DocKind::Group,
            vec![],
            3_000,
            |tx| tx.put(ROOT, "merged_into", into),
        )
        .unwrap()
    };
    let c = forged(&r, 1, oid.as_str());
    assert_rejected(&mut r, c, "a merge by a group owner");
    // Into itself, or into something that is not a group.
    let c = forged(&r, 0, gid.as_str());
    assert_rejected(&mut r, c, "a group merged into itself");
    let c = forged(&r, 0, tid.as_str());
    assert_rejected(&mut r, c, "a group merged into a thread");
    assert!(
        r.merge_group(&w.authors[0], &gid, Some(&gid), 3_000)
            .is_err()
    );
    // The community manager may, and undo it.
    log.push(
        r.merge_group(&w.authors[0], &gid, Some(&oid), 3_100)
            .unwrap(),
    );
    let g = GroupView::of(receiver(&w, &log).doc(&gid).unwrap()).unwrap();
    assert_eq!(g.merged_into, Some(oid.clone()));
    log.push(r.merge_group(&w.authors[0], &gid, None, 3_200).unwrap());
    let g = GroupView::of(receiver(&w, &log).doc(&gid).unwrap()).unwrap();
    assert_eq!(g.merged_into, None);
    // Reading a group does not look at a malformed value (never accepted anyway).
    assert!(
        receiver(&w, &log)
            .doc(&gid)
            .unwrap()
            .automerge()
            .get(ROOT, "merged_into")
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_private_groups_card_is_written_by_its_author_alone_and_anyone_may_ask_on_it() {
    let w = World::new(3, 6);
    let mut a = w.replica();
    let all = a
        .create_group(
            &w.authors[0],
            &NewGroup {
                name: "All company",
                description: "",
                visibility: Visibility::Public,
                home_site: "site0",
            },
            1_000,
            1,
        )
        .unwrap();
    let private = a
        .create_group(
            &w.authors[1],
            &NewGroup {
                name: "Works council",
                description: "",
                visibility: Visibility::Private,
                home_site: "site1",
            },
            1_100,
            2,
        )
        .unwrap();
    let (all_id, gid) = (all.doc().clone(), private.doc().clone());
    let (t, l) = a
        .create_thread_ext(
            &w.authors[1],
            &all_id,
            "Works council",
            "Préparation du CSE",
            weft_crdt::ThreadExtras {
                card_of: Some(&gid),
                ..weft_crdt::ThreadExtras::default()
            },
            1_200,
            3,
        )
        .unwrap();
    let card = t.doc().clone();
    // Site 2 holds All company (public) but not the private group: it reads the card.
    let mut log = vec![all, t, l];
    let mut r = receiver(&w, &log);
    let v = view(&r, &card);
    assert_eq!(v.card.as_ref().unwrap().group, gid);
    let owners = vec!["e1".to_owned(), "e4".to_owned()];
    log.push(
        r.update_card(
            &w.authors[1],
            &card,
            &weft_crdt::CardFields {
                name: "Comité social",
                description: "Le CSE de Paris",
                owners: &owners,
                members: 12,
                withdrawn: false,
            },
            1_300,
        )
        .unwrap(),
    );
    let mut r = receiver(&w, &log);
    let v = view(&r, &card);
    let c = v.card.as_ref().unwrap();
    assert_eq!(
        (v.title.as_str(), c.members, &c.owners),
        ("Comité social", 12, &owners)
    );
    assert_eq!(v.posts[0].body, "Le CSE de Paris");
    // Someone else may not rewrite it, nor make a plain thread a card afterwards.
    let heads = group_heads(&r, &card);
    let c = unchecked_change(
        &r,
        &w.authors[2],
        Some(&card),
        DocKind::Thread,
        heads.clone(),
        1_400,
        |tx| tx.put(ROOT, "card_members", automerge::ScalarValue::Uint(999)),
    )
    .unwrap();
    assert_rejected(&mut r, c, "a card rewritten by another");
    let c = unchecked_change(
        &r,
        &w.authors[1],
        Some(&card),
        DocKind::Thread,
        heads.clone(),
        1_400,
        |tx| tx.put(ROOT, "card_of", "g-00000000000000000000000000000009"),
    )
    .unwrap();
    assert_rejected(&mut r, c, "a card moved to another group");
    let (plain, pl) = r
        .create_thread(&w.authors[2], &all_id, "Plain", "text", 1_500, 4)
        .unwrap();
    let plain_id = plain.doc().clone();
    log.extend([plain, pl]);
    let mut r = receiver(&w, &log);
    let heads = group_heads(&r, &plain_id);
    let c = unchecked_change(
        &r,
        &w.authors[2],
        Some(&plain_id),
        DocKind::Thread,
        heads,
        1_600,
        |tx| tx.put(ROOT, "card_owners", "e2"),
    )
    .unwrap();
    assert_rejected(&mut r, c, "card fields on a plain thread");
    // Anyone asks to join on it (a reaction of their own on its first post).
    let root = view(&r, &card).posts[0].id.clone();
    log.push(
        r.react(&w.authors[5], &card, &root, "join", true, 1_700)
            .unwrap(),
    );
    let r = receiver(&w, &log);
    let asked = &view(&r, &card).posts[0].reactions["join"];
    assert_eq!(asked, &["e5".to_owned()]);
}

#[test]
fn a_sites_statistics_are_written_by_one_of_its_employees_alone() {
    let w = World::new(3, 6);
    let mut a = w.replica();
    let all = a
        .create_group(
            &w.authors[0],
            &NewGroup {
                name: "All company",
                description: "",
                visibility: Visibility::Public,
                home_site: "site0",
            },
            1_000,
            1,
        )
        .unwrap();
    let all_id = all.doc().clone();
    let stats = |r: &mut Replica, who: usize, site: &str, nonce: u64| {
        r.create_thread_ext(
            &w.authors[who],
            &all_id,
            "Statistics",
            "",
            weft_crdt::ThreadExtras {
                stats: Some((site, "2026-W49")),
                ..weft_crdt::ThreadExtras::default()
            },
            2_000,
            nonce,
        )
    };
    // e0 (site0) writes site0's; e1 (site1) may not write site0's (the rules refuse it
    // before it is signed, here as at every receiver).
    let (t, l) = stats(&mut a, 0, "site0", 2).unwrap();
    let tid = t.doc().clone();
    let mut log = vec![all, t, l];
    let mut b = receiver(&w, &log);
    let refused = stats(&mut b, 1, "site0", 3).unwrap_err();
    assert!(
        refused.to_string().contains("one of its employees"),
        "{refused}"
    );
    let mut r = receiver(&w, &log);
    log.push(
        r.write_stats(&w.authors[0], &tid, r#"{"active":3}"#, 2_100)
            .unwrap(),
    );
    let mut r = receiver(&w, &log);
    assert_eq!(
        view(&r, &tid).stats,
        Some(("site0".into(), "2026-W49".into(), r#"{"active":3}"#.into()))
    );
    // e3, of the same site, may not rewrite e0's document; nor may figures go on a thread.
    let heads = group_heads(&r, &tid);
    let c = unchecked_change(
        &r,
        &w.authors[3],
        Some(&tid),
        DocKind::Thread,
        heads,
        2_200,
        |tx| tx.put(ROOT, "stats_data", "{}"),
    )
    .unwrap();
    assert_rejected(&mut r, c, "statistics rewritten by another");
    let (plain, pl) = r
        .create_thread(&w.authors[0], &all_id, "Plain", "x", 2_300, 5)
        .unwrap();
    let pid = plain.doc().clone();
    log.extend([plain, pl]);
    let mut r = receiver(&w, &log);
    let heads = group_heads(&r, &pid);
    let c = unchecked_change(
        &r,
        &w.authors[0],
        Some(&pid),
        DocKind::Thread,
        heads,
        2_400,
        |tx| tx.put(ROOT, "stats_data", "{}"),
    )
    .unwrap();
    assert_rejected(&mut r, c, "figures on a plain thread");
}

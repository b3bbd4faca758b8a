//! Notifications, follows, unread markers and the feed, over two real cores with sled
//! stores: what each employee is told, at their own site only, once, and still after a
//! restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::open;
use weft_crdt::testkit::World;
use weft_crdt::{DocId, Visibility};
use weft_node::Core;
use weft_node::personal::NoticeKind;

/// Moves frames until none is left, then commits both.
fn pump(a: &mut Core, b: &mut Core) {
    common::pump(a, b);
    a.commit().unwrap();
    b.commit().unwrap();
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn kinds(core: &Core, who: &str) -> Vec<(NoticeKind, String)> {
    core.notifications_for(who, None, 100)
        .unwrap()
        .into_iter()
        .map(|n| (n.kind, n.by))
        .collect()
}

/// e0 and e2 are homed at site0 (core a), e1 and e3 at site1 (core b).
#[test]
fn people_are_told_of_mentions_replies_requests_and_invitations_once_and_at_home() {
    let w = World::new(2, 4);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let t0 = now();
    let (thread, private) = {
        let mut a = open(&w, 0, da.path());
        let mut b = open(&w, 1, db.path());
        a.connect("site1", 0);
        b.connect("site0", 0);
        pump(&mut a, &mut b);
        for e in ["e0", "e2"] {
            a.on_login(e, t0 - 1).unwrap();
        }
        b.on_login("e1", t0 - 1).unwrap();

        let g = a
            .create_group("e0", "Bikes", "", Visibility::Public, t0, 1)
            .unwrap();
        let thread = a
            .create_thread(
                "e0",
                &g,
                "Ride on Sunday",
                "Who comes? @e1 @e2 @e0",
                t0 + 1,
                2,
            )
            .unwrap();
        a.commit().unwrap();
        // Mentioned at home: e2 is told at site0; e0 wrote it and is not told of their own
        // mention, but now follows the thread.
        assert_eq!(kinds(&a, "e2"), vec![(NoticeKind::Mention, "e0".into())]);
        assert!(kinds(&a, "e0").is_empty());
        assert!(a.follows_thread("e0", &thread).unwrap());
        assert_eq!(a.unread_notifications("e2").unwrap(), 1);
        pump(&mut a, &mut b);
        // e1 is told at site1 (and nothing about e1 is stored at site0).
        assert_eq!(kinds(&b, "e1"), vec![(NoticeKind::Mention, "e0".into())]);
        assert!(kinds(&a, "e1").is_empty());
        assert!(kinds(&b, "e2").is_empty());

        // e1 replies at site1: e0 follows the thread, so e0 is told at site0; e2 does not
        // follow it and is not.
        b.reply("e1", &thread, "Count me in", None, t0 + 2, 3)
            .unwrap();
        b.commit().unwrap();
        pump(&mut a, &mut b);
        assert_eq!(kinds(&a, "e0"), vec![(NoticeKind::Reply, "e1".into())]);
        assert_eq!(kinds(&a, "e2").len(), 1);
        // e1 replied, so e1 follows now; e2 follows explicitly; then e0 replies.
        assert!(b.follows_thread("e1", &thread).unwrap());
        a.follow_thread("e2", &thread, true).unwrap();
        a.reply("e0", &thread, "Great, 9am at the station", None, t0 + 3, 4)
            .unwrap();
        a.commit().unwrap();
        pump(&mut a, &mut b);
        assert_eq!(kinds(&b, "e1")[0], (NoticeKind::Reply, "e0".into()));
        assert_eq!(kinds(&a, "e2")[0], (NoticeKind::Reply, "e0".into()));
        assert_eq!(
            kinds(&a, "e0").len(),
            1,
            "nobody is told of their own reply"
        );
        // Unfollowing stops the replies, and posting again does not follow again.
        a.follow_thread("e2", &thread, false).unwrap();
        a.reply("e2", &thread, "Not me after all", None, t0 + 4, 5)
            .unwrap();
        a.commit().unwrap();
        assert!(!a.follows_thread("e2", &thread).unwrap());
        b.reply("e1", &thread, "Pity", None, t0 + 5, 6).unwrap();
        b.commit().unwrap();
        pump(&mut a, &mut b);
        assert_eq!(
            kinds(&a, "e2").len(),
            2,
            "no reply notice after unfollowing"
        );

        // A private group at site0 with e3 (site1) invited, and e2 asking to join.
        let private = a
            .create_group("e0", "Works council", "", Visibility::Private, t0 + 6, 7)
            .unwrap();
        a.invite("e0", &private, "e3", t0 + 7).unwrap();
        a.commit().unwrap();
        a.add_member("e2", &private, "e2", t0 + 8).unwrap();
        a.commit().unwrap();
        pump(&mut a, &mut b);
        assert_eq!(kinds(&a, "e0")[0], (NoticeKind::JoinRequest, "e2".into()));
        assert_eq!(
            kinds(&b, "e3"),
            vec![(NoticeKind::Invitation, String::new())]
        );
        assert_eq!(
            kinds(&a, "e0"),
            vec![
                (NoticeKind::JoinRequest, "e2".into()),
                (NoticeKind::Reply, "e1".into()),
                (NoticeKind::Reply, "e2".into()),
                (NoticeKind::Reply, "e1".into()),
            ]
        );
        (thread, private)
    };
    // After a restart nothing is lost and nothing is told twice.
    let a = open(&w, 0, da.path());
    assert_eq!(kinds(&a, "e0").len(), 4);
    assert_eq!(kinds(&a, "e2").len(), 2);
    assert!(a.follows_thread("e0", &thread).unwrap());
    assert!(a.model().group(&private).unwrap().requests.contains("e2"));
}

#[test]
fn the_feed_shows_my_groups_and_whom_i_follow_with_unread_markers() {
    let w = World::new(2, 4);
    let da = tempfile::tempdir().unwrap();
    let mut a = open(&w, 0, da.path());
    let t0 = now();
    a.on_login("e2", t0 - 10).unwrap();
    let mine = a
        .create_group("e2", "Mine", "", Visibility::Public, t0, 1)
        .unwrap();
    let other = a
        .create_group("e0", "Other", "", Visibility::Public, t0, 2)
        .unwrap();
    let secret = a
        .create_group("e0", "Secret", "", Visibility::Secret, t0, 3)
        .unwrap();
    a.add_member("e0", &mine, "e0", t0 + 1).unwrap();
    let t_mine = a
        .create_thread("e0", &mine, "In my group", "a", t0 + 2, 5)
        .unwrap();
    let t_other = a
        .create_thread("e0", &other, "Elsewhere", "b", t0 + 3, 6)
        .unwrap();
    let t_secret = a
        .create_thread("e0", &secret, "Hidden", "c", t0 + 4, 7)
        .unwrap();
    a.commit().unwrap();
    let ids = |a: &Core| -> Vec<DocId> {
        a.feed_for("e2", None, 50)
            .unwrap()
            .into_iter()
            .map(|i| i.thread.id)
            .collect()
    };
    assert_eq!(ids(&a), vec![t_mine.clone()], "only my group's thread");
    // Following e0 brings their threads that e2 may read — never the secret one.
    a.follow_person("e2", "e0", true).unwrap();
    assert_eq!(ids(&a), vec![t_other.clone(), t_mine.clone()]);
    assert!(!ids(&a).contains(&t_secret));
    let feed = a.feed_for("e2", None, 50).unwrap();
    assert!(feed.iter().all(|i| i.unread), "new since e2's first login");
    // Reading one clears its marker until someone else posts again.
    a.mark_thread_read("e2", &t_mine).unwrap();
    let unread = |a: &Core, t: &DocId| {
        a.feed_for("e2", None, 50)
            .unwrap()
            .into_iter()
            .find(|i| &i.thread.id == t)
            .unwrap()
            .unread
    };
    assert!(!unread(&a, &t_mine));
    assert!(unread(&a, &t_other));
    a.reply("e0", &t_mine, "more", None, t0 + 10, 8).unwrap();
    a.commit().unwrap();
    assert!(unread(&a, &t_mine));
    // My own reply does not make it unread for me.
    a.mark_thread_read("e2", &t_mine).unwrap();
    a.reply("e2", &t_mine, "mine", None, t0 + 11, 9).unwrap();
    a.commit().unwrap();
    assert!(!unread(&a, &t_mine));
    // Following the thread shows in the feed; the cursor pages by activity.
    a.follow_thread("e2", &t_other, true).unwrap();
    let first = a.feed_for("e2", None, 1).unwrap();
    assert_eq!(first[0].thread.id, t_mine);
    let next = a
        .feed_for("e2", Some(first[0].thread.last_activity), 10)
        .unwrap();
    assert_eq!(next.len(), 1);
    assert!(next[0].following);
    // "Mark all as read".
    a.mark_all_read("e2", t0 + 1_000).unwrap();
    assert!(
        a.feed_for("e2", None, 50)
            .unwrap()
            .iter()
            .all(|i| !i.unread)
    );
    // A followed thread of a group e2 is not in shows on its own, and leaves with the follow
    // (the feed's kept grouping of followed threads follows each change).
    a.follow_person("e2", "e0", false).unwrap();
    assert!(
        ids(&a).contains(&t_other),
        "followed thread of another group"
    );
    a.follow_thread("e2", &t_other, false).unwrap();
    assert_eq!(ids(&a), vec![t_mine.clone()]);
    a.follow_thread("e2", &t_other, true).unwrap();
    assert_eq!(ids(&a), vec![t_mine.clone(), t_other.clone()]);
    // Following oneself or a stranger is refused.
    assert!(a.follow_person("e2", "e2", true).is_err());
    assert!(a.follow_person("e2", "nobody", true).is_err());
}

#[test]
fn people_are_found_by_prefix_of_name_id_and_site() {
    let w = World::new(2, 4);
    let da = tempfile::tempdir().unwrap();
    let mut a = open(&w, 0, da.path());
    let skills = ["Kubernetes".to_owned(), "Théâtre".to_owned()];
    a.update_profile(
        "e2",
        &weft_crdt::ProfileUpdate {
            expertise: Some(&skills),
            ..Default::default()
        },
        now(),
    )
    .unwrap();
    a.commit().unwrap();
    let ids = |q: &str| -> Vec<String> { a.find_people(q, 10).into_iter().map(|e| e.id).collect() };
    assert_eq!(ids("kube"), vec!["e2"], "by expertise, from the read model");
    assert_eq!(ids("theatre"), vec!["e2"], "accents ignored");
    assert_eq!(ids("@e1"), vec!["e1"]);
    assert_eq!(ids("employee 3"), vec!["e3"]);
    assert_eq!(ids("site1").len(), 2);
    assert!(ids("zzz").is_empty());
    assert_eq!(weft_node::service::fold("Hélène Dupré"), "helene dupre");
    // Full-text search of people follows one person's profile change, and only theirs.
    let people = |a: &mut Core, q: &str| -> Vec<String> {
        let mut v: Vec<String> = a
            .search(
                "e0",
                &common::q(q),
                Some(weft_node::search::HitKind::Person),
                10,
            )
            .unwrap()
            .into_iter()
            .map(|h| h.hit.id)
            .collect();
        v.sort();
        v
    };
    assert_eq!(people(&mut a, "kubernetes"), vec!["e2"]);
    assert_eq!(
        people(&mut a, "employee").len(),
        4,
        "everyone else is still there"
    );
    let skills = ["Volcanologie".to_owned()];
    a.update_profile(
        "e2",
        &weft_crdt::ProfileUpdate {
            expertise: Some(&skills),
            ..Default::default()
        },
        now(),
    )
    .unwrap();
    a.commit().unwrap();
    assert_eq!(people(&mut a, "volcanologie"), vec!["e2"]);
    assert!(
        people(&mut a, "kubernetes").is_empty(),
        "the old expertise is gone"
    );
    assert_eq!(people(&mut a, "employee").len(), 4);
}

/// Thread summaries are stored with the changes; a restart reads them back instead of
/// rebuilding them, and gets what a rebuild would give. A stale mark (as a crash between a
/// commit's changes and its summaries would leave) makes the node rebuild them.
#[test]
fn stored_read_models_match_a_rebuild_after_a_restart() {
    use weft_node::readmodel::ReadModel;
    let w = World::new(2, 4);
    let da = tempfile::tempdir().unwrap();
    let t0 = now();
    let threads: Vec<DocId> = {
        let mut a = open(&w, 0, da.path());
        let g = a
            .create_group("e0", "Stored", "", Visibility::Public, t0, 1)
            .unwrap();
        let ts: Vec<DocId> = (0..5)
            .map(|i| {
                a.create_thread("e0", &g, &format!("T{i}"), "body", t0 + i, 10 + i as u64)
                    .unwrap()
            })
            .collect();
        a.commit().unwrap();
        a.reply("e2", &ts[1], "a reply", None, t0 + 100, 99)
            .unwrap();
        a.commit().unwrap();
        ts
    };
    let same = |a: &mut Core| {
        // Rebuilt from the documents themselves (read back from the store if put away).
        for t in &threads {
            assert!(a.load(t));
        }
        let rebuilt = ReadModel::build(a.replica());
        for t in &threads {
            assert_eq!(a.model().thread(t), rebuilt.thread(t), "{t}");
        }
        let feed: Vec<DocId> = a
            .feed_for("e0", None, 10)
            .unwrap()
            .into_iter()
            .map(|i| i.thread.id)
            .collect();
        assert_eq!(feed[0], threads[1], "the replied-to thread is newest");
        assert_eq!(feed.len(), 5);
    };
    {
        let mut a = open(&w, 0, da.path());
        assert!(a.read_models_were_stored());
        assert_eq!(a.model().thread(&threads[1]).unwrap().replies, 1);
        same(&mut a);
        // A post in a thread known only by its stored summary: its earlier posts (e2's reply,
        // which e0 follows the thread for) are not news; only the new one notifies.
        let e0_before = kinds(&a, "e0");
        a.reply("e0", &threads[1], "@e2 thanks", None, t0 + 150, 98)
            .unwrap();
        a.commit().unwrap();
        assert_eq!(kinds(&a, "e0"), e0_before, "nothing old is told again");
        let e2 = kinds(&a, "e2");
        assert!(e2.contains(&(NoticeKind::Mention, "e0".into())), "{e2:?}");
        assert_eq!(a.model().thread(&threads[1]).unwrap().replies, 2);
        // New posts after the restart are still told apart from the stored ones.
        a.store().set_read_models_at(0).unwrap();
        a.store().flush().unwrap();
    }
    let mut a = open(&w, 0, da.path());
    assert!(!a.read_models_were_stored(), "a stale mark means a rebuild");
    same(&mut a);
    let e2_before = kinds(&a, "e2").len();
    a.reply("e0", &threads[3], "@e2 look", None, t0 + 200, 100)
        .unwrap();
    a.commit().unwrap();
    let e2 = kinds(&a, "e2");
    assert_eq!(
        e2.len(),
        e2_before + 1,
        "only the new post notifies: {e2:?}"
    );
    assert_eq!(e2[0], (NoticeKind::Mention, "e0".into()));
}

/// A thread seen before is updated from the posts its new changes touched: the summary and
/// the search index agree with reading the whole thread again, through replies, edits and
/// deletions.
#[test]
fn incremental_updates_of_a_thread_match_reading_it_whole() {
    use weft_node::readmodel::ReadModel;
    let w = World::new(2, 4);
    let da = tempfile::tempdir().unwrap();
    let mut a = open(&w, 0, da.path());
    let t0 = now();
    let g = a
        .create_group("e0", "Zoo", "", Visibility::Public, t0, 1)
        .unwrap();
    let t = a
        .create_thread("e0", &g, "Animals", "first post", t0 + 1, 2)
        .unwrap();
    a.commit().unwrap();
    let found =
        |a: &mut Core, word: &str| a.search("e2", &common::q(word), None, 10).unwrap().len();
    let check = |a: &Core| {
        assert_eq!(
            a.model().thread(&t),
            ReadModel::build(a.replica()).thread(&t)
        );
    };
    let p = a
        .reply("e2", &t, "a zebra went by", None, t0 + 2, 3)
        .unwrap();
    a.commit().unwrap();
    check(&a);
    assert_eq!(found(&mut a, "zebra"), 1);
    a.edit_post("e2", &t, &p, "a giraffe went by", t0 + 3)
        .unwrap();
    a.commit().unwrap();
    check(&a);
    assert_eq!(found(&mut a, "zebra"), 0, "the old text is gone");
    assert_eq!(found(&mut a, "giraffe"), 1);
    assert_eq!(a.model().thread(&t).unwrap().last_author, "e2");
    a.react("e0", &t, &p, "like", true, t0 + 4).unwrap();
    a.commit().unwrap();
    check(&a);
    a.delete_post("e2", &t, &p, t0 + 5).unwrap();
    a.commit().unwrap();
    check(&a);
    assert_eq!(found(&mut a, "giraffe"), 0, "a deleted post is not found");
    assert_eq!(
        found(&mut a, "animals"),
        1,
        "the title stays with the first post"
    );
}

/// Asking to join over and over (withdraw, ask, withdraw…) notifies the owner once while the
/// first request is unread, and the membership budget stops the toggling after a few rounds.
#[test]
fn repeated_join_requests_notify_an_owner_once_and_toggling_stops() {
    let w = World::new(2, 4);
    let da = tempfile::tempdir().unwrap();
    let t0 = now();
    let mut a = open(&w, 0, da.path());
    let g = a
        .create_group("e0", "Board", "", Visibility::Private, t0, 1)
        .unwrap();
    a.commit().unwrap();
    let mut refused = None;
    for i in 0..10 {
        let asked = a
            .add_member("e2", &g, "e2", t0 + 2 * i)
            .and_then(|_| a.drop_request("e2", &g, "e2", t0 + 2 * i + 1));
        a.commit().unwrap();
        if let Err(e) = asked {
            refused = Some(e);
            break;
        }
    }
    assert!(
        matches!(refused, Some(weft_node::NodeError::RateLimited { .. })),
        "{refused:?}"
    );
    let requests = |a: &Core| {
        kinds(a, "e0")
            .into_iter()
            .filter(|(k, _)| *k == NoticeKind::JoinRequest)
            .count()
    };
    assert_eq!(requests(&a), 1);
    // The budget is per group: e2 may still join another.
    let other = a
        .create_group("e0", "Other", "", Visibility::Public, t0, 2)
        .unwrap();
    a.commit().unwrap();
    a.add_member("e2", &other, "e2", t0 + 100).unwrap();
}

/// "All company" is one group, known by its identity at every site: employees cannot make
/// another (the name is reserved), and groups made around the service — even with the
/// marker, or claiming the founding site — never reach anyone's feed.
#[test]
fn only_the_founding_sites_all_company_group_is_in_everyones_feed() {
    use weft_crdt::NewGroup;
    use weft_node::service::{ALL_COMPANY_NONCE, is_reserved_name};
    let w = World::new(2, 4);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let t0 = now();
    let mut a = open(&w, 0, da.path());
    let mut b = open(&w, 1, db.path());
    a.connect("site1", 0);
    b.connect("site0", 0);
    pump(&mut a, &mut b);
    assert_eq!(
        b.ensure_all_company(t0).unwrap(),
        None,
        "not the founding site"
    );
    let real = a
        .ensure_all_company(t0)
        .unwrap()
        .expect("the founding site makes it");
    let real_thread = a
        .create_thread("e0", &real, "Bienvenue", "Hello everyone", t0 + 1, 1)
        .unwrap();
    a.commit().unwrap();
    pump(&mut a, &mut b);
    assert_eq!(b.all_company(), Some(real.clone()));

    // Through the service, nobody may use the name, whatever its spelling.
    for name in [
        "All company",
        "ALL  COMPANY!",
        "all-company",
        "Toute l'entreprise",
    ] {
        assert!(is_reserved_name(name), "{name}");
        let err = b
            .create_group("e1", name, "", Visibility::Public, t0 + 2, 7)
            .unwrap_err();
        assert!(matches!(err, weft_node::NodeError::Invalid(_)), "{err}");
    }
    assert!(!is_reserved_name("All company picnic"));
    let own = b
        .create_group("e1", "Picnic", "", Visibility::Public, t0 + 2, 8)
        .unwrap();
    let rename = weft_crdt::GroupSettings {
        name: Some("All Company"),
        ..Default::default()
    };
    assert!(b.update_group("e1", &own, &rename, t0 + 3).is_err());

    // Around the service: a group with the marker made at another site, claiming the
    // founding site, and one with the name made at the founding site without the marker.
    let forge = |core: &mut Core, who: &str, home: &'static str, nonce: u64, at: i64| {
        let g = core
            .local(who, |r, me| {
                let g = r.create_group(
                    me,
                    &NewGroup {
                        name: "All company",
                        description: "Official: log in again at http://phish.example",
                        visibility: Visibility::Public,
                        home_site: home,
                    },
                    at,
                    nonce,
                )?;
                Ok((g.doc().clone(), vec![g]))
            })
            .unwrap();
        let t = core
            .create_thread(
                who,
                &g,
                "Urgent",
                "Your password expires",
                at + 1,
                nonce ^ 1,
            )
            .unwrap();
        core.commit().unwrap();
        (g, t)
    };
    // Older than the real one, too: age alone does not make it the real one.
    let (marked, marked_thread) = forge(&mut b, "e1", "site0", ALL_COMPANY_NONCE, t0 - 10_000);
    let (named, named_thread) = forge(&mut a, "e2", "site0", 12_345, t0 - 20_000);
    pump(&mut a, &mut b);
    for core in [&a, &b] {
        assert_eq!(core.all_company(), Some(real.clone()));
        assert!(core.model().group(&marked).is_some() && core.model().group(&named).is_some());
    }
    // e3, at site1, is a member of none of them.
    b.on_login("e3", t0 - 100_000).unwrap();
    let feed: Vec<DocId> = b
        .feed_for("e3", None, 50)
        .unwrap()
        .into_iter()
        .map(|i| i.thread.id)
        .collect();
    assert!(feed.contains(&real_thread), "{feed:?}");
    assert!(
        !feed.contains(&marked_thread) && !feed.contains(&named_thread),
        "{feed:?}"
    );
    // A second start of the founding site makes no other.
    assert_eq!(a.ensure_all_company(t0 + 50).unwrap(), None);
}

/// An hour before an event, those who said they would come are reminded at their own
/// site; when a poll closes, its author and voters are told; each once.
#[test]
fn attendees_are_reminded_and_voters_told_a_poll_closed_once_at_home() {
    let w = World::new(2, 4);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let t0 = now();
    let mut a = open(&w, 0, da.path());
    let mut b = open(&w, 1, db.path());
    a.connect("site1", 0);
    b.connect("site0", 0);
    pump(&mut a, &mut b);
    let g = a
        .create_group("e0", "Choir", "", Visibility::Public, t0, 1)
        .unwrap();
    let event = weft_crdt::NewEvent {
        starts_at: t0 + 30 * 60_000,
        ends_at: t0 + 90 * 60_000,
        time_zone: "Europe/Paris".into(),
        location: "Salle Volta".into(),
        cancelled: false,
    };
    let ev = a
        .create_event("e0", &g, "Rehearsal", "Bring the scores", &event, t0, 2)
        .unwrap();
    let poll = weft_crdt::NewPoll {
        question: "Which song first?".into(),
        options: vec!["Ave verum".into(), "Cantique".into()],
        multiple: false,
        closes_at: Some(t0 + 1_000),
        results_after_vote: false,
    };
    let pl = a
        .create_thread_with("e0", &g, "Song", "Vote!", Some(&poll), t0, 3)
        .unwrap();
    pump(&mut a, &mut b);
    let root = |c: &mut Core, t: &DocId| c.thread_for("e0", t).unwrap().posts[0].id.clone();
    let (ev_root, pl_root) = (root(&mut a, &ev), root(&mut a, &pl));
    b.rsvp("e1", &ev, &ev_root, Some("yes"), t0 + 10).unwrap();
    b.rsvp("e3", &ev, &ev_root, Some("no"), t0 + 10).unwrap();
    a.rsvp("e2", &ev, &ev_root, Some("maybe"), t0 + 10).unwrap();
    b.vote("e1", &pl, &pl_root, &["2"], t0 + 20).unwrap();
    // A poll in a reply, closing too: e3 votes in it.
    let reply_poll = weft_crdt::NewPoll {
        question: "Concert dress?".into(),
        options: vec!["Black".into(), "Colours".into()],
        closes_at: Some(t0 + 1_500),
        ..poll.clone()
    };
    let rp = a
        .reply_with("e2", &pl, "And this?", None, Some(&reply_poll), t0 + 30, 4)
        .unwrap();
    pump(&mut a, &mut b);
    b.vote("e3", &pl, &rp, &["1"], t0 + 40).unwrap();
    pump(&mut a, &mut b);
    let told = |c: &Core, who: &str, kind: NoticeKind| {
        c.notifications_for(who, None, 100)
            .unwrap()
            .iter()
            .filter(|n| n.kind == kind)
            .count()
    };
    // Before the event's hour and before the poll closed: nothing.
    a.remind(t0 - 60_000, t0 - 30 * 60_000 - 1).unwrap();
    assert_eq!(told(&a, "e2", NoticeKind::Reminder), 0);
    for _ in 0..2 {
        a.remind(t0, t0 + 2_000).unwrap();
        b.remind(t0, t0 + 2_000).unwrap();
    }
    assert_eq!(told(&a, "e2", NoticeKind::Reminder), 1, "maybe: reminded");
    assert_eq!(
        told(&b, "e1", NoticeKind::Reminder),
        1,
        "yes: reminded, once"
    );
    assert_eq!(told(&b, "e3", NoticeKind::Reminder), 0, "no: not reminded");
    assert_eq!(
        told(&a, "e0", NoticeKind::Reminder),
        0,
        "no answer: not reminded"
    );
    assert_eq!(told(&a, "e0", NoticeKind::PollClosed), 1, "its author");
    assert_eq!(told(&b, "e1", NoticeKind::PollClosed), 1, "a voter");
    assert_eq!(
        told(&b, "e3", NoticeKind::PollClosed),
        1,
        "a voter in the reply's poll only"
    );
    assert_eq!(
        told(&a, "e2", NoticeKind::PollClosed),
        1,
        "the reply poll's author"
    );
    // At each one's own site only.
    assert_eq!(told(&a, "e1", NoticeKind::Reminder), 0);
}

//! The node core over real sled stores: local commands, sync between two cores, durability
//! across reopening.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{open, pump};
use weft_crdt::sync::Config as SyncConfig;
use weft_crdt::testkit::World;
use weft_crdt::{NewGroup, ThreadView, Visibility};
use weft_keys::TrustAnchors;
use weft_node::{Core, Store};

#[test]
fn a_post_travels_and_survives_reopening() {
    let w = World::new(2, 4);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let thread_id;
    {
        let mut a = open(&w, 0, da.path());
        let mut b = open(&w, 1, db.path());
        a.connect("site1", 0);
        b.connect("site0", 0);
        pump(&mut a, &mut b);
        // e0 is homed at site0, e1 at site1.
        let gid = a
            .local("e0", |r, me| {
                let g = r.create_group(
                    me,
                    &NewGroup {
                        name: "Photo club",
                        description: "",
                        visibility: Visibility::Public,
                        home_site: "site0",
                    },
                    1,
                    1,
                )?;
                Ok((g.doc().clone(), vec![g]))
            })
            .unwrap();
        thread_id = a
            .local("e0", |r, me| {
                let (t, l) = r.create_thread(me, &gid, "Sortie photo", "Samedi ?", 2, 2)?;
                Ok((t.doc().clone(), vec![t, l]))
            })
            .unwrap();
        assert_eq!(a.commit().unwrap(), 3);
        pump(&mut a, &mut b);
        assert_eq!(b.commit().unwrap(), 3);
        // e1 cannot act at site0: their key lives at site1.
        assert!(a.local("e1", |_, _| Ok(((), vec![]))).is_err());
        let t = thread_id.clone();
        b.local("e1", |r, me| {
            let (c, _) = r.reply(me, &t, "Partant !", None, 3, 3)?;
            Ok(((), vec![c]))
        })
        .unwrap();
        b.commit().unwrap();
        pump(&mut a, &mut b);
        a.commit().unwrap();
        assert!(b.store().stats().changes >= 4);
    }
    // Both reopen from disk alone (no peers) with everything.
    for dir in [da.path(), db.path()] {
        let site = if dir == da.path() { 0 } else { 1 };
        let core = open(&w, site, dir);
        let view = ThreadView::of(core.replica().doc(&thread_id).unwrap()).unwrap();
        assert_eq!(view.posts.len(), 2, "site{site}");
        assert_eq!(view.posts[1].body, "Partant !");
    }
}

#[test]
fn a_node_whose_key_the_directory_does_not_list_refuses_to_start() {
    let w = World::new(2, 2);
    let dir = tempfile::tempdir().unwrap();
    let err = Core::open(
        "site0",
        w.nodes[1].clone(),
        TrustAnchors::single(w.authority.public()),
        Some(w.directory.clone()),
        Store::open(common::private(dir.path())).unwrap(),
        SyncConfig::default(),
        1,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("does not list this node's key"),
        "{err}"
    );
}

#[test]
fn public_changes_are_set_aside_for_gossip_private_ones_are_not() {
    let w = World::new(2, 4);
    let dir = tempfile::tempdir().unwrap();
    let mut a = Core::open(
        &w.sites[0],
        w.nodes[0].clone(),
        TrustAnchors::single(w.authority.public()),
        Some(w.directory.clone()),
        Store::open(common::private(dir.path())).unwrap(),
        SyncConfig {
            push_public: false,
            ..SyncConfig::default()
        },
        1,
    )
    .unwrap();
    a.local("e0", |r, me| {
        let g = r.create_group(
            me,
            &NewGroup {
                name: "Public",
                description: "",
                visibility: Visibility::Public,
                home_site: "site0",
            },
            1,
            1,
        )?;
        Ok(((), vec![g]))
    })
    .unwrap();
    let (frame, changes) = a.take_announcement().expect("a public change to announce");
    assert_eq!(changes.len(), 1);
    assert!(matches!(
        weft_crdt::sync::Message::decode(&frame),
        Ok(weft_crdt::sync::Message::Changes { .. })
    ));
    a.local("e0", |r, me| {
        let g = r.create_group(
            me,
            &NewGroup {
                name: "Private",
                description: "",
                visibility: Visibility::Private,
                home_site: "site0",
            },
            1,
            2,
        )?;
        Ok(((), vec![g]))
    })
    .unwrap();
    assert!(a.take_announcement().is_none());
}

#[test]
fn with_room_for_one_document_threads_are_put_away_and_read_back_on_demand() {
    let w = World::new(2, 4);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut threads = Vec::new();
    {
        let mut a = open(&w, 0, da.path());
        let mut b = open(&w, 1, db.path());
        a.set_cache_documents(1);
        b.set_cache_documents(1);
        a.connect("site1", 0);
        b.connect("site0", 0);
        pump(&mut a, &mut b);
        let g = a
            .create_group("e0", "Photo club", "", Visibility::Public, 1, 1)
            .unwrap();
        for i in 0..6 {
            let t = a
                .create_thread(
                    "e0",
                    &g,
                    &format!("Sortie {i}"),
                    "Qui vient ?",
                    2 + i,
                    10 + i as u64,
                )
                .unwrap();
            a.commit().unwrap();
            threads.push(t);
        }
        // The group stays; of the six threads at most one is in memory.
        assert!(a.replica().is_loaded(&g));
        let loaded = threads.iter().filter(|t| a.replica().is_loaded(t)).count();
        assert!(loaded <= 1, "{loaded} threads in memory");
        assert_eq!(a.replica().doc_count(), 7);
        // Sync serves the threads that were put away.
        pump(&mut a, &mut b);
        b.commit().unwrap();
        for (i, t) in threads.iter().enumerate() {
            assert!(b.replica().holds(t), "thread {i} reached b");
            b.reply("e1", t, "Partant !", None, 20 + i as i64, 30 + i as u64)
                .unwrap();
            b.commit().unwrap();
        }
        pump(&mut a, &mut b);
        a.commit().unwrap();
        let before = a.replica().loads();
        for t in &threads {
            let view = a.thread_for("e0", t).expect("e0 reads the thread");
            assert_eq!(view.posts.len(), 2);
            assert_eq!(view.posts[1].body, "Partant !");
        }
        assert!(
            a.replica().loads() > before,
            "threads were read back from the store"
        );
        // Summaries come from the read model, with no document loaded.
        let summaries = a.thread_summaries_of("e0", &g, None, 50).unwrap().unwrap();
        assert_eq!(summaries.len(), 6);
    }
    // Reopened with room for one document, both sites still have every reply.
    for (site, dir) in [(0, da.path()), (1, db.path())] {
        let mut core = open(&w, site, dir);
        core.set_cache_documents(1);
        let who = format!("e{site}");
        for t in &threads {
            let view = core.thread_for(&who, t).expect("readable after reopening");
            assert_eq!(view.posts.len(), 2, "site{site}");
        }
    }
}

/// A restart records threads by their stored summaries without reading them; changes a crash
/// left uncovered (by the read models' mark or by the search index's last commit) are
/// replayed and reindexed.
#[test]
fn a_restart_reads_no_thread_and_catches_up_what_a_crash_left_uncovered() {
    let w = World::new(1, 4);
    let dir = tempfile::tempdir().unwrap();
    let (g, threads) = {
        let mut a = open(&w, 0, dir.path());
        let g = a
            .create_group("e0", "Randonnée", "", Visibility::Public, 1, 1)
            .unwrap();
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let t = a
                    .create_thread(
                        "e0",
                        &g,
                        &format!("Sortie {i}"),
                        "Le Vercors",
                        2 + i,
                        10 + i as u64,
                    )
                    .unwrap();
                a.commit().unwrap();
                t
            })
            .collect();
        // As at a clean stop: the search index's commit records what it covers.
        a.refresh_search();
        (g, threads)
    };
    {
        let mut a = open(&w, 0, dir.path());
        assert!(a.read_models_were_stored());
        assert!(
            a.replica().is_loaded(&g),
            "a group with no record yet is replayed"
        );
        for t in &threads {
            assert!(!a.replica().is_loaded(t), "{t} was read at start-up");
        }
        assert_eq!(a.replica().loads(), 0);
        assert_eq!(a.replica().doc_count(), 5);
        assert_eq!(a.model().thread(&threads[2]).unwrap().title, "Sortie 2");
        assert_eq!(
            a.search("e0", &common::q("vercors"), None, 10)
                .unwrap()
                .len(),
            4
        );
        // A reply is committed, but the search index is not (a crash before its commit)...
        let before = a.store().last_change_seq().unwrap().unwrap();
        a.reply("e0", &threads[0], "Avec crampons et piolet", None, 50, 99)
            .unwrap();
        a.commit().unwrap();
        // ... and the read models' mark is set back to the change before, as a crash
        // between a commit's changes and its mark would leave it.
        assert!(a.store().read_models_at().unwrap().unwrap() > before);
        a.store().set_read_models_at(before).unwrap();
        a.store().flush().unwrap();
    }
    let mut a = open(&w, 0, dir.path());
    assert!(
        !a.read_models_were_stored(),
        "the thread changed after the mark is replayed"
    );
    assert_eq!(a.model().thread(&threads[0]).unwrap().replies, 1);
    for t in &threads[1..] {
        assert!(
            !a.replica().is_loaded(t),
            "only the changed thread is replayed"
        );
    }
    let hits = a.search("e0", &common::q("piolet"), None, 10).unwrap();
    assert_eq!(hits.len(), 1, "the reply the index missed was reindexed");
    assert_eq!(hits[0].hit.id, threads[0].as_str());
    assert_eq!(a.thread_for("e0", &threads[3]).unwrap().posts.len(), 1);
}

/// A restart reads groups back from their stored records, not from their history: none is
/// in memory until something needs it, and who may hold each is known without it. A group
/// changed after its record (a crash before the next one) is replayed and serves its new
/// state; one whose record is damaged is replayed too.
#[test]
fn a_restart_reads_groups_from_their_records_and_replays_those_behind() {
    let w = World::new(2, 4);
    let dir = tempfile::tempdir().unwrap();
    let (public, private, t) = {
        let mut a = open(&w, 0, dir.path());
        let public = a
            .create_group("e0", "Randonnée", "", Visibility::Public, 1, 1)
            .unwrap();
        let private = a
            .create_group("e0", "Chorale", "", Visibility::Private, 2, 2)
            .unwrap();
        a.add_member("e0", &private, "e2", 3).unwrap();
        let t = a
            .create_thread("e0", &public, "Sortie", "Le Vercors", 4, 10)
            .unwrap();
        // As at a clean stop.
        a.checkpoint().unwrap();
        (public, private, t)
    };
    {
        let mut a = open(&w, 0, dir.path());
        let stats = a.restore_stats();
        assert_eq!(stats.groups_from_records, 2, "{stats:?}");
        assert_eq!(stats.groups_replayed, 0, "{stats:?}");
        assert_eq!(stats.replayed_changes, 0, "{stats:?}");
        assert!(!a.replica().is_loaded(&public));
        assert!(!a.replica().is_loaded(&private));
        // Who may hold them, from the records: e2 is homed at site 0 (employees alternate).
        assert!(a.replica().is_public(&public));
        assert!(a.replica().may_hold("site1", &public));
        assert!(a.replica().may_hold("site0", &private));
        assert!(!a.replica().may_hold("site1", &private));
        let g = a.model().group(&private).unwrap().clone();
        assert_eq!(g.name, "Chorale");
        assert!(g.members.contains("e2"));
        assert_eq!(a.model().groups_of("e2").count(), 1);
        // A reply reads the group back to be judged; a new member is added to a group put
        // away. Both are committed, but no record is stored (a crash before the next one).
        a.reply("e0", &t, "Avec crampons", None, 20, 99).unwrap();
        a.add_member("e0", &private, "e3", 21).unwrap();
        a.commit().unwrap();
    }
    {
        let a = open(&w, 0, dir.path());
        let stats = a.restore_stats();
        assert_eq!(stats.groups_from_records, 1, "{stats:?}");
        assert_eq!(
            stats.groups_replayed, 1,
            "the group changed since its record: {stats:?}"
        );
        assert!(a.replica().is_loaded(&private));
        assert!(!a.replica().is_loaded(&public));
        assert!(a.model().group(&private).unwrap().members.contains("e3"));
        assert!(
            a.replica().may_hold("site1", &private),
            "e3 is homed at site 1"
        );
        assert_eq!(a.model().thread(&t).unwrap().replies, 1);
    }
    // That start stored the replayed group's record: the next one replays nothing.
    let a = open(&w, 0, dir.path());
    assert_eq!(a.restore_stats().groups_replayed, 0);
    assert_eq!(a.restore_stats().groups_from_records, 2);
    assert!(a.model().group(&private).unwrap().members.contains("e3"));
}

/// A newer directory from a peer updates who can be found: a new title is searchable at once.
#[test]
fn a_directory_update_from_a_peer_reaches_people_search() {
    let mut w = World::new(2, 4);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = open(&w, 0, da.path());
    assert!(
        a.search(
            "e0",
            &common::q("volcanologue"),
            Some(weft_node::search::HitKind::Person),
            10
        )
        .unwrap()
        .is_empty()
    );
    w.publish(|d| {
        if let Some(e) = d.employees.get_mut("e1") {
            e.title = "Volcanologue".into();
        }
    });
    let mut b = open(&w, 1, db.path());
    a.connect("site1", 0);
    b.connect("site0", 0);
    pump(&mut a, &mut b);
    let hits = a
        .search(
            "e0",
            &common::q("volcanologue"),
            Some(weft_node::search::HitKind::Person),
            10,
        )
        .unwrap();
    assert_eq!(hits.len(), 1, "the new title is found");
    assert_eq!(hits[0].hit.id, "e1");
    // People search as one types finds it too (its index was rebuilt with the directory).
    let found: Vec<String> = a
        .find_people("volcan", 10)
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(found, vec!["e1".to_owned()]);
}

/// Damaged derived data costs a rebuild, never a document: a summary that cannot be read makes
/// start-up replay everything, and a search index that cannot be read is rebuilt.
#[test]
fn damaged_summaries_and_search_index_are_rebuilt_from_the_changes() {
    let w = World::new(1, 4);
    let dir = tempfile::tempdir().unwrap();
    let threads: Vec<_> = {
        let mut a = open(&w, 0, dir.path());
        let g = a
            .create_group("e0", "Chorale", "", Visibility::Public, 1, 1)
            .unwrap();
        let ts = (0..3)
            .map(|i| {
                a.create_thread(
                    "e0",
                    &g,
                    &format!("Répétition {i}"),
                    "Mardi, salle Messiaen",
                    2 + i,
                    10 + i as u64,
                )
                .unwrap()
            })
            .collect();
        a.commit().unwrap();
        a.refresh_search();
        ts
    };
    {
        let db = sled::open(dir.path()).unwrap();
        let summaries = db.open_tree("doc_summaries").unwrap();
        assert_eq!(
            summaries.len(),
            3,
            "one summary per thread, none for the group"
        );
        let key = threads[1].as_str();
        summaries.insert(key, &b"\x01garbage"[..]).unwrap();
        db.flush().unwrap();
    }
    std::fs::write(
        dir.path().join("search-index").join("meta.json"),
        b"{ not json",
    )
    .unwrap();
    let mut a = open(&w, 0, dir.path());
    assert!(!a.read_models_were_stored(), "everything was replayed");
    for t in &threads {
        assert_eq!(a.thread_for("e0", t).unwrap().posts.len(), 1);
    }
    assert_eq!(
        a.search("e0", &common::q("messiaen"), None, 10)
            .unwrap()
            .len(),
        3
    );
    drop(a);
    // The replay wrote good summaries again: the next start reads no thread.
    let a = open(&w, 0, dir.path());
    assert!(a.read_models_were_stored());
    assert!(threads.iter().all(|t| !a.replica().is_loaded(t)));
}

/// A topic page comes from the search index and the read models: it reads no thread, shows
/// only what the viewer may read, and forgets a topic whose post was deleted.
#[test]
fn threads_about_a_topic_read_no_document_and_respect_visibility() {
    let w = World::new(1, 4);
    let dir = tempfile::tempdir().unwrap();
    let (open_t, private_t, deleted_t) = {
        let mut a = open(&w, 0, dir.path());
        let public = a
            .create_group("e0", "Vélo", "", Visibility::Public, 1, 1)
            .unwrap();
        let private = a
            .create_group("e0", "Comité", "", Visibility::Private, 1, 2)
            .unwrap();
        let open_t = a
            .create_thread("e0", &public, "Sortie", "Dimanche #velotaf", 2, 3)
            .unwrap();
        let private_t = a
            .create_thread("e0", &private, "Budget", "Le #velotaf coûte", 3, 4)
            .unwrap();
        let deleted_t = a
            .create_thread("e0", &public, "Oups", "Doublon #velotaf", 4, 5)
            .unwrap();
        a.commit().unwrap();
        let root = a.thread_for("e0", &deleted_t).unwrap().posts[0].id.clone();
        a.delete_post("e0", &deleted_t, &root, 5).unwrap();
        a.commit().unwrap();
        a.refresh_search();
        (open_t, private_t, deleted_t)
    };
    let mut a = open(&w, 0, dir.path());
    a.set_cache_documents(1);
    let ids = |v: Vec<(weft_node::readmodel::ThreadSummary, String)>| {
        v.into_iter().map(|(t, _)| t.id).collect::<Vec<_>>()
    };
    let owner = ids(a.threads_about("e0", "velotaf").unwrap());
    assert_eq!(
        owner,
        vec![private_t.clone(), open_t.clone()],
        "newest first"
    );
    let other = a.threads_about("e1", "velotaf").unwrap();
    assert_eq!(other.len(), 1, "e1 is not in the private group");
    assert_eq!(other[0].0.id, open_t);
    assert_eq!(other[0].1, "Vélo");
    assert!(!ids(a.threads_about("e0", "velotaf").unwrap()).contains(&deleted_t));
    assert!(
        a.threads_about("e0", "velo").unwrap().is_empty(),
        "topics match exactly"
    );
    assert_eq!(a.replica().loads(), 0, "no thread was read");
}

/// Documents read back by queries alone are put away again at the next commit, even with
/// nothing to write.
#[test]
fn queries_alone_do_not_grow_the_cache_past_its_size() {
    let w = World::new(1, 4);
    let dir = tempfile::tempdir().unwrap();
    let threads: Vec<_> = {
        let mut a = open(&w, 0, dir.path());
        let g = a
            .create_group("e0", "Lecture", "", Visibility::Public, 1, 1)
            .unwrap();
        let ts = (0..5)
            .map(|i| {
                a.create_thread("e0", &g, &format!("Livre {i}"), "…", 2 + i, 10 + i as u64)
                    .unwrap()
            })
            .collect();
        a.commit().unwrap();
        a.refresh_search();
        ts
    };
    let mut a = open(&w, 0, dir.path());
    a.set_cache_documents(2);
    for t in &threads {
        assert!(a.thread_for("e0", t).is_some());
    }
    let loaded = |a: &Core| threads.iter().filter(|t| a.replica().is_loaded(t)).count();
    assert_eq!(loaded(&a), 5);
    assert_eq!(a.commit().unwrap(), 0);
    assert!(loaded(&a) <= 2, "{} threads still in memory", loaded(&a));
}

/// A searcher's scope is kept between searches and made again when a group changes: a new
/// member finds a private group's posts at once, and a removed one no longer does.
#[test]
fn search_scope_follows_membership_changes() {
    let w = World::new(2, 4);
    let dir = tempfile::tempdir().unwrap();
    let mut a = open(&w, 0, dir.path());
    let g = a
        .create_group("e0", "Comité", "", Visibility::Private, 1, 1)
        .unwrap();
    a.create_thread("e0", &g, "Ordre du jour", "Le quorum est atteint", 2, 10)
        .unwrap();
    a.commit().unwrap();
    a.refresh_search();
    let found =
        |a: &mut Core, who: &str| a.search(who, &common::q("quorum"), None, 10).unwrap().len();
    assert_eq!(found(&mut a, "e0"), 1);
    assert_eq!(found(&mut a, "e2"), 0);
    assert_eq!(found(&mut a, "e2"), 0, "kept scope");
    a.add_member("e0", &g, "e2", 3).unwrap();
    a.commit().unwrap();
    assert_eq!(found(&mut a, "e2"), 1, "a new member finds it at once");
    a.remove_member("e0", &g, "e2", 4).unwrap();
    a.commit().unwrap();
    assert_eq!(found(&mut a, "e2"), 0, "a removed member no longer does");
}

/// Blobs nothing references any longer — never posted, or carried only by a deleted post —
/// are what the collector may remove; a file a live post carries (or its thumbnail) stays.
#[test]
fn only_blobs_no_live_post_carries_are_collected() {
    use weft_node::blobs::BlobId;
    let w = World::new(1, 2);
    let dir = tempfile::tempdir().unwrap();
    let mut a = open(&w, 0, dir.path());
    let g = a
        .create_group("e0", "Docs", "", Visibility::Public, 1_000, 1)
        .unwrap();
    let t = a
        .create_thread("e0", &g, "Fichiers", "Voici", 2_000, 2)
        .unwrap();
    let kept = BlobId::parse(&"aa".repeat(32)).unwrap();
    let thumb = BlobId::parse(&"bb".repeat(32)).unwrap();
    let deleted = BlobId::parse(&"cc".repeat(32)).unwrap();
    let never = BlobId::parse(&"dd".repeat(32)).unwrap();
    let file = |id: &BlobId, thumbnail: Option<&BlobId>| weft_crdt::Attachment {
        hash: id.to_string(),
        size: 10,
        media_type: "image/png".into(),
        name: "f.png".into(),
        thumbnail: thumbnail.map(|t| weft_crdt::Thumbnail {
            hash: t.to_string(),
            size: 5,
            media_type: "image/png".into(),
        }),
        text: None,
    };
    let live = a.reply("e0", &t, "La photo", None, 3_000, 3).unwrap();
    let gone = a.reply("e0", &t, "Erreur", None, 3_100, 4).unwrap();
    for (post, f) in [
        (&live, file(&kept, Some(&thumb))),
        (&gone, file(&deleted, None)),
    ] {
        a.local("e0", |r, me| {
            let c = r.attach(me, &t, post, std::slice::from_ref(&f), 3_200)?;
            Ok(((), vec![c]))
        })
        .unwrap();
    }
    a.delete_post("e0", &t, &gone, 3_300).unwrap();
    a.commit().unwrap();
    let mut found = a.unreferenced_blobs(vec![
        kept.clone(),
        thumb.clone(),
        deleted.clone(),
        never.clone(),
    ]);
    found.sort();
    assert_eq!(found, vec![deleted, never]);
}

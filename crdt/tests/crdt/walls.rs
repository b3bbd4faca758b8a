//! Walls, question threads and announcements: what their extra fields allow, as every
//! receiver judges it.

use automerge::transaction::Transactable;
use automerge::{ROOT, ReadDoc};
use weft_crdt::testkit::{World, unchecked_change};
use weft_crdt::{
    DocId, DocKind, NewAnnouncement, NewGroup, Replica, SignedChange, ThreadExtras, ThreadView,
    Visibility,
};

use crate::rules::{assert_rejected, receiver};

/// A public group owned by e0 (the community manager): (replica, log, group).
fn public_group(w: &World) -> (Replica, Vec<SignedChange>, DocId) {
    let mut a = w.replica();
    let g = a
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
    let gid = g.doc().clone();
    (a, vec![g], gid)
}

fn view(r: &Replica, t: &DocId) -> ThreadView {
    ThreadView::of(r.doc(t).unwrap()).unwrap()
}

#[test]
fn anyone_writes_on_a_wall_and_its_owner_moderates_it() {
    let w = World::new(3, 6);
    let (mut a, mut log, gid) = public_group(&w);
    // e2 starts e1's wall with a post; e3 adds one.
    let (t, l) = a
        .create_thread_ext(
            &w.authors[2],
            &gid,
            "Wall",
            "Bienvenue dans l'équipe !",
            ThreadExtras {
                wall_of: Some("e1"),
                ..ThreadExtras::default()
            },
            2_000,
            2,
        )
        .unwrap();
    let tid = t.doc().clone();
    log.extend([t, l]);
    let (c, p3) = a
        .reply(&w.authors[3], &tid, "Bravo pour le projet", None, 2_100, 3)
        .unwrap();
    log.push(c);
    assert_eq!(view(&a, &tid).wall_of.as_deref(), Some("e1"));
    // e1, who owns neither the group nor the post, hides e3's post on their wall.
    let mut b = receiver(&w, &log);
    let hide = b
        .moderate(&w.authors[1], &tid, &p3, true, "hors sujet", 2_200)
        .unwrap();
    log.push(hide);
    let r = receiver(&w, &log);
    assert!(view(&r, &tid).posts.iter().any(|p| p.id == p3 && p.hidden));
    // e4 may not: not the wall's owner, not a group owner.
    let root = view(&a, &tid).posts[0].id.clone();
    let mut c = receiver(&w, &log);
    assert!(
        c.moderate(&w.authors[4], &tid, &root, true, "non", 2_300)
            .is_err()
    );
    // Nor may anyone move the wall to someone else.
    let heads = c.doc(&gid).unwrap().heads();
    let moved = unchecked_change(
        &c,
        &w.authors[1],
        Some(&tid),
        DocKind::Thread,
        heads,
        2_400,
        |tx| tx.put(ROOT, "wall_of", "e5"),
    )
    .unwrap();
    assert_rejected(&mut c, moved, "moving a wall");
}

#[test]
fn the_asker_or_an_owner_picks_the_best_answer() {
    let w = World::new(3, 6);
    let (mut a, mut log, gid) = public_group(&w);
    let (t, l) = a
        .create_thread_ext(
            &w.authors[1],
            &gid,
            "How do I book a room in Nozay?",
            "Which tool?",
            ThreadExtras {
                question: true,
                ..ThreadExtras::default()
            },
            2_000,
            2,
        )
        .unwrap();
    let tid = t.doc().clone();
    log.extend([t, l]);
    let (c, answer) = a
        .reply(&w.authors[2], &tid, "Use the kiosk app", None, 2_100, 3)
        .unwrap();
    log.push(c);
    let mut r = receiver(&w, &log);
    assert!(view(&r, &tid).question);
    // Someone else may not pick it (neither the asker nor an owner).
    assert!(
        r.set_best_answer(&w.authors[3], &tid, Some(&answer), 2_200)
            .is_err()
    );
    log.push(
        r.set_best_answer(&w.authors[1], &tid, Some(&answer), 2_200)
            .unwrap(),
    );
    let r = receiver(&w, &log);
    assert_eq!(view(&r, &tid).best_answer.as_deref(), Some(answer.as_str()));
    // The group's owner may change it.
    let mut o = receiver(&w, &log);
    log.push(o.set_best_answer(&w.authors[0], &tid, None, 2_300).unwrap());
    assert_eq!(view(&receiver(&w, &log), &tid).best_answer, None);
}

#[test]
fn only_community_managers_and_communication_announce() {
    let w = World::new(3, 6);
    let (mut a, log, gid) = public_group(&w);
    let ann = NewAnnouncement {
        site: Some("site1".into()),
        expires_at: 9_000,
    };
    let extras = ThreadExtras {
        announcement: Some(&ann),
        ..ThreadExtras::default()
    };
    // e1 is neither: refused by their own node and by any receiver of a forged one.
    assert!(
        a.create_thread_ext(
            &w.authors[1],
            &gid,
            "Annonce",
            "Lisez-moi",
            extras,
            2_000,
            2
        )
        .is_err()
    );
    let mut r = receiver(&w, &log);
    let forged = unchecked_change(
        &r,
        &w.authors[1],
        None,
        DocKind::Thread,
        r.doc(&gid).unwrap().heads(),
        2_000,
        |tx| {
            tx.put(ROOT, "kind", "thread")?;
            tx.put(ROOT, "group", gid.as_str())?;
            tx.put(ROOT, "title", "Annonce")?;
            tx.put(ROOT, "author", "e1")?;
            tx.put(ROOT, "root_post", "x")?;
            tx.put_object(ROOT, "posts", automerge::ObjType::Map)?;
            tx.put_object(ROOT, "reactions", automerge::ObjType::Map)?;
            tx.put_object(ROOT, "moderation", automerge::ObjType::Map)?;
            let m = tx.put_object(ROOT, "announcement", automerge::ObjType::Map)?;
            tx.put(&m, "expires_at", automerge::ScalarValue::Timestamp(9_000))
        },
    )
    .unwrap();
    assert_rejected(&mut r, forged, "an announcement by an ordinary employee");
    // e0, a community manager, may.
    let (t, l) = a
        .create_thread_ext(
            &w.authors[0],
            &gid,
            "Annonce",
            "Lisez-moi",
            extras,
            2_000,
            3,
        )
        .unwrap();
    let tid = t.doc().clone();
    let mut all = log.clone();
    all.extend([t, l]);
    let v = view(&receiver(&w, &all), &tid);
    assert_eq!(
        v.announcement.map(|a| (a.site, a.expires_at)),
        Some((Some("site1".to_owned()), 9_000))
    );
}

#[test]
fn group_owners_pin_threads_others_do_not() {
    let w = World::new(3, 6);
    let (mut a, mut log, gid) = public_group(&w);
    let (t, l) = a
        .create_thread(&w.authors[1], &gid, "Charte", "À lire", 2_000, 2)
        .unwrap();
    let tid = t.doc().clone();
    log.extend([t, l]);
    let mut r = receiver(&w, &log);
    // Its author, not an owner, may not pin it.
    assert!(r.pin_thread(&w.authors[1], &tid, true, 2_100).is_err());
    let heads = r.doc(&gid).unwrap().heads();
    let forged = unchecked_change(
        &r,
        &w.authors[1],
        Some(&tid),
        DocKind::Thread,
        heads,
        2_100,
        |tx| tx.put(ROOT, "pinned", true),
    )
    .unwrap();
    assert_rejected(&mut r, forged, "pinning without owning the group");
    // The group's owner may, and unpin it.
    log.push(r.pin_thread(&w.authors[0], &tid, true, 2_200).unwrap());
    assert!(view(&receiver(&w, &log), &tid).pinned);
    let mut o = receiver(&w, &log);
    log.push(o.pin_thread(&w.authors[0], &tid, false, 2_300).unwrap());
    assert!(!view(&receiver(&w, &log), &tid).pinned);
}

#[test]
fn files_are_attached_by_their_hash_to_ones_own_post() {
    let w = World::new(3, 6);
    let (mut a, mut log, gid) = public_group(&w);
    let (t, l) = a
        .create_thread(&w.authors[1], &gid, "CV", "Attached", 2_000, 2)
        .unwrap();
    let tid = t.doc().clone();
    log.extend([t, l]);
    let pid = view(&a, &tid).posts[0].id.clone();
    let file = weft_crdt::Attachment {
        hash: "ab".repeat(32),
        size: 1234,
        media_type: "image/jpeg".into(),
        name: "photo.jpg".into(),
        thumbnail: Some(weft_crdt::Thumbnail {
            hash: "cd".repeat(32),
            size: 99,
            media_type: "image/jpeg".into(),
        }),
        text: None,
    };
    // Not a hash; not one's own post.
    let bad = weft_crdt::Attachment {
        hash: "cv.pdf".into(),
        ..file.clone()
    };
    assert!(a.attach(&w.authors[1], &tid, &pid, &[bad], 2_100).is_err());
    let bad_thumb = weft_crdt::Attachment {
        thumbnail: Some(weft_crdt::Thumbnail {
            hash: "small.jpg".into(),
            size: 1,
            media_type: "image/jpeg".into(),
        }),
        ..file.clone()
    };
    assert!(
        a.attach(&w.authors[1], &tid, &pid, &[bad_thumb], 2_100)
            .is_err()
    );
    assert!(
        a.attach(
            &w.authors[2],
            &tid,
            &pid,
            std::slice::from_ref(&file),
            2_100
        )
        .is_err()
    );
    log.push(
        a.attach(
            &w.authors[1],
            &tid,
            &pid,
            std::slice::from_ref(&file),
            2_100,
        )
        .unwrap(),
    );
    let r = receiver(&w, &log);
    let got = &view(&r, &tid).posts[0].attachments;
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].hash.as_str(), got[0].size),
        (file.hash.as_str(), 1234)
    );
    assert_eq!(
        got[0].thumbnail,
        Some(("cd".repeat(32), 99, "image/jpeg".to_owned()))
    );
    // A forged attachment keyed by something else is refused.
    let mut r = receiver(&w, &log);
    let heads = r.doc(&gid).unwrap().heads();
    let forged = unchecked_change(
        &r,
        &w.authors[1],
        Some(&tid),
        DocKind::Thread,
        heads,
        2_200,
        |tx| {
            let posts = tx.get(ROOT, "posts")?.unwrap().1;
            let p = tx.get(&posts, pid.as_str())?.unwrap().1;
            let m = tx.get(&p, "attachments")?.unwrap().1;
            tx.put_object(&m, "../../etc/passwd", automerge::ObjType::Map)
                .map(|_| ())
        },
    )
    .unwrap();
    assert_rejected(&mut r, forged, "an attachment not keyed by a hash");
    // A thumbnail that names no blob is refused too.
    let mut r = receiver(&w, &log);
    let heads = r.doc(&gid).unwrap().heads();
    let forged = unchecked_change(
        &r,
        &w.authors[1],
        Some(&tid),
        DocKind::Thread,
        heads,
        2_300,
        |tx| {
            let posts = tx.get(ROOT, "posts")?.unwrap().1;
            let p = tx.get(&posts, pid.as_str())?.unwrap().1;
            let m = tx.get(&p, "attachments")?.unwrap().1;
            let a = tx.get(&m, "ab".repeat(32).as_str())?.unwrap().1;
            let t = tx.get(&a, "thumbnail")?.unwrap().1;
            tx.put(&t, "hash", "../../etc/passwd")
        },
    )
    .unwrap();
    assert_rejected(&mut r, forged, "a thumbnail naming no blob");
}

fn file(n: u8, name: &str) -> weft_crdt::Attachment {
    weft_crdt::Attachment {
        hash: format!("{n:02x}").repeat(32),
        size: 1000 + u64::from(n),
        media_type: "application/pdf".into(),
        name: name.into(),
        thumbnail: None,
        text: Some(format!("Le texte de {name}")),
    }
}

#[test]
fn a_library_document_keeps_its_versions_and_members_file_it() {
    let w = World::new(3, 6);
    let (mut a, mut log, gid) = public_group(&w);
    let v1 = file(1, "charte.pdf");
    let (t, l) = a
        .create_thread_ext(
            &w.authors[1],
            &gid,
            "Charte",
            "Première version",
            ThreadExtras {
                library: Some(" RH / Procédures /"),
                files: std::slice::from_ref(&v1),
                ..ThreadExtras::default()
            },
            2_000,
            2,
        )
        .unwrap();
    let tid = t.doc().clone();
    log.extend([t, l]);
    // Another member uploads version 2, in the same change as its note.
    let (c, _) = a
        .reply_files(
            &w.authors[2],
            &tid,
            "Relue par le juridique",
            &[file(2, "charte-v2.pdf")],
            2_100,
            3,
        )
        .unwrap();
    assert_eq!(c.doc(), &tid);
    log.push(c);
    // And files it elsewhere.
    log.push(a.move_document(&w.authors[3], &tid, "RH", 2_200).unwrap());
    let r = receiver(&w, &log);
    let v = view(&r, &tid);
    assert_eq!(v.library.as_deref(), Some("RH"));
    let versions: Vec<(&str, &str)> = v
        .posts
        .iter()
        .map(|p| (p.author.as_str(), p.attachments[0].name.as_str()))
        .collect();
    assert_eq!(
        versions,
        vec![("e1", "charte.pdf"), ("e2", "charte-v2.pdf")]
    );
    // A folder on a thread that is no library document, or a library mark added later:
    // refused everywhere.
    let mut b = receiver(&w, &log);
    let (t2, l2) = b
        .create_thread(
            &w.authors[1],
            &gid,
            "Discussion",
            "Pas un document",
            3_000,
            9,
        )
        .unwrap();
    let plain = t2.doc().clone();
    log.extend([t2, l2]);
    let mut r = receiver(&w, &log);
    let heads = r.doc(&gid).unwrap().heads();
    let forged = unchecked_change(
        &r,
        &w.authors[1],
        Some(&plain),
        DocKind::Thread,
        heads.clone(),
        3_100,
        |tx| tx.put(ROOT, "folder", "RH"),
    )
    .unwrap();
    assert_rejected(&mut r, forged, "a folder on a plain thread");
    let forged = unchecked_change(
        &r,
        &w.authors[1],
        Some(&plain),
        DocKind::Thread,
        heads,
        3_100,
        |tx| tx.put(ROOT, "library", true),
    )
    .unwrap();
    assert_rejected(&mut r, forged, "a library mark after creation");
    assert!(
        b.move_document(&w.authors[1], &tid, &"x".repeat(300), 3_200)
            .is_err()
    );
}

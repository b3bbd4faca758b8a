//! Property tests: replicas that see changes in different orders, with duplicates and losses,
//! end in the same state and accept exactly the same changes.

use automerge::ReadDoc;
use automerge::transaction::Transactable;
use std::sync::Arc;

use proptest::prelude::*;
use weft_crdt::testkit::{MemSource, Rng, World, unchecked_change};
use weft_crdt::{
    DocId, DocKind, GroupView, NewGroup, Replica, SignedChange, ThreadView, Visibility,
};

#[derive(Debug, Clone)]
enum Op {
    /// Site `site` does action `action` with parameters.
    Local {
        site: usize,
        action: u8,
        a: u16,
        b: u16,
    },
    /// Delivers `count` random changes from the pool to replica `to` (picks with repetition:
    /// duplicates; what is not picked is lost until the final resync).
    Deliver { to: usize, count: u8, seed: u16 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..26u8, any::<u16>(), any::<u16>())
            .prop_map(|(site, action, a, b)| Op::Local { site, action, a, b }),
        2 => (0..3usize, 1..12u8, any::<u16>()).prop_map(|(to, count, seed)| Op::Deliver { to, count, seed }),
    ]
}

struct Sim {
    world: World,
    replicas: Vec<Replica>,
    pool: Vec<SignedChange>,
    forged: Vec<SignedChange>,
    now: i64,
    nonce: u64,
    g_public: DocId,
    g_private: DocId,
    /// Replica 2 keeps at most this many documents in memory (groups aside) and reads the
    /// others back from `store` when it needs them.
    keep: usize,
    store: Arc<MemSource>,
}

impl Sim {
    fn new(keep: usize) -> Sim {
        // Sites 0..3; employees e0..e5, e_i and e_{i+3} homed at site i; e0 community manager.
        let world = World::new(3, 6);
        let mut r0 = world.replica();
        let e0 = world.authors[0].clone();
        let g = |vis, nonce, r: &mut Replica| {
            r.create_group(
                &e0,
                &NewGroup {
                    name: "G",
                    description: "",
                    visibility: vis,
                    home_site: "site0",
                },
                1,
                nonce,
            )
            .unwrap()
        };
        let gp = g(Visibility::Public, 1, &mut r0);
        let gs = g(Visibility::Private, 2, &mut r0);
        let add = r0.add_member(&e0, gs.doc(), "e1", 2).unwrap();
        let (t1, l1) = r0
            .create_thread(&e0, gp.doc(), "Public", "hello #all", 3, 3)
            .unwrap();
        let (t2, l2) = r0
            .create_thread(&e0, gs.doc(), "Private", "secret @e1", 4, 4)
            .unwrap();
        let pool = vec![gp.clone(), gs.clone(), add, t1, l1, t2, l2];
        let mut replicas = vec![r0, world.replica(), world.replica()];
        for r in &mut replicas[1..] {
            r.ingest(pool.iter().cloned());
        }
        let store = Arc::new(MemSource::default());
        replicas[2].set_source(store.clone());
        Sim {
            world,
            replicas,
            pool,
            forged: Vec::new(),
            now: 10,
            nonce: 100,
            g_public: gp.doc().clone(),
            g_private: gs.doc().clone(),
            keep,
            store,
        }
    }

    fn threads(&self, site: usize) -> Vec<DocId> {
        self.replicas[site]
            .doc_ids()
            .filter(|d| d.kind() == DocKind::Thread)
            .cloned()
            .collect()
    }

    /// What a node does at each commit: store what replica 2 accepted, then put away all but
    /// its `keep` most recently used documents.
    fn store_and_evict(&mut self) {
        self.store.save(&self.replicas[2]);
        self.replicas[2].evict(self.keep);
    }

    /// Reads every document back into memory, for comparing.
    fn load_all(&mut self) {
        for r in &mut self.replicas {
            let ids: Vec<DocId> = r.doc_ids().cloned().collect();
            for id in ids {
                assert!(r.load(&id), "{id} could not be read back");
            }
        }
    }

    fn local(&mut self, site: usize, action: u8, a: u16, b: u16) {
        self.now += 1;
        self.nonce += 1;
        let (now, nonce) = (self.now, self.nonce);
        let author = self.world.authors[site + 3 * (a as usize % 2)].clone();
        let threads = self.threads(site);
        let thread = (!threads.is_empty()).then(|| threads[b as usize % threads.len()].clone());
        if let Some(t) = &thread {
            self.replicas[site].load(t);
            // Forgeries below are made against the thread's group and the public group as
            // they are now: read back if put away (groups are evicted like the rest).
            if let Some(g) = self.replicas[site].group_of(t) {
                self.replicas[site].load(&g);
            }
        }
        let public = self.g_public.clone();
        self.replicas[site].load(&public);
        let posts: Vec<(String, String)> = thread
            .as_ref()
            .and_then(|t| self.replicas[site].doc(t))
            .and_then(ThreadView::of)
            .map(|v| v.posts.into_iter().map(|p| (p.id, p.author)).collect())
            .unwrap_or_default();
        let polls: Vec<(String, weft_crdt::PollView)> = thread
            .as_ref()
            .and_then(|t| self.replicas[site].doc(t))
            .and_then(ThreadView::of)
            .map(|v| {
                v.posts
                    .into_iter()
                    .filter_map(|p| Some((p.id, p.poll?)))
                    .collect()
            })
            .unwrap_or_default();
        let events: Vec<(String, String)> = thread
            .as_ref()
            .and_then(|t| self.replicas[site].doc(t))
            .and_then(ThreadView::of)
            .map(|v| {
                v.posts
                    .into_iter()
                    .filter(|p| p.event.is_some())
                    .map(|p| (p.id, p.author))
                    .collect()
            })
            .unwrap_or_default();
        let post = (!posts.is_empty()).then(|| posts[a as usize % posts.len()].clone());
        let own_post = posts
            .iter()
            .find(|(_, who)| *who == author.employee)
            .map(|(p, _)| p.clone());
        let r = &mut self.replicas[site];
        let mut made: Vec<SignedChange> = Vec::new();
        match action {
            0 => {
                if let Ok((t, l)) = r.create_thread(
                    &author,
                    &self.g_public,
                    "T",
                    &format!("post {nonce} #x"),
                    now,
                    nonce,
                ) {
                    made.extend([t, l]);
                }
            }
            1 => {
                if let Ok((t, l)) =
                    r.create_thread(&author, &self.g_private, "S", "members only", now, nonce)
                {
                    made.extend([t, l]);
                }
            }
            2 => {
                if let Some(t) = &thread
                    && let Ok((c, _)) = r.reply(
                        &author,
                        t,
                        &format!("reply {nonce} @e{}", a % 6),
                        post.as_ref().map(|p| p.0.as_str()),
                        now,
                        nonce,
                    )
                {
                    made.push(c);
                }
            }
            3 => {
                if let (Some(t), Some((p, _))) = (&thread, &post)
                    && let Ok(c) = r.react(
                        &author,
                        t,
                        p,
                        if b.is_multiple_of(2) { "like" } else { "bravo" },
                        !a.is_multiple_of(3),
                        now,
                    )
                {
                    made.push(c);
                }
            }
            4 => {
                if let (Some(t), Some(p)) = (&thread, &own_post)
                    && let Ok(c) = r.edit_post(&author, t, p, &format!("edited {nonce}"), now)
                {
                    made.push(c);
                }
            }
            5 => {
                if let (Some(t), Some(p)) = (&thread, &own_post)
                    && let Ok(c) = r.delete_post(&author, t, p, now)
                {
                    made.push(c);
                }
            }
            6 => {
                let target = format!("e{}", b % 6);
                let res = if author.employee == "e0" {
                    if a.is_multiple_of(3) {
                        r.remove_member(&author, &self.g_private, &target, now)
                    } else {
                        r.add_member(&author, &self.g_private, &target, now)
                    }
                } else if a.is_multiple_of(2) {
                    r.add_member(&author, &self.g_public, &author.employee, now)
                } else {
                    r.remove_member(&author, &self.g_private, &author.employee, now)
                };
                if let Ok(c) = res {
                    made.push(c);
                }
            }
            7 => {
                // Forged: write into someone else's post.
                if let (Some(t), Some((p, who))) = (&thread, &post)
                    && *who != author.employee
                {
                    let g = r.group_of(t).unwrap();
                    let heads = r.doc(&g).unwrap().heads();
                    let p = p.clone();
                    if let Some(c) =
                        unchecked_change(r, &author, Some(t), DocKind::Thread, heads, now, |tx| {
                            let posts = tx.get(automerge::ROOT, "posts")?.unwrap().1;
                            let obj = tx.get(&posts, p.as_str())?.unwrap().1;
                            tx.put(&obj, "body", "forged")
                        })
                    {
                        self.forged.push(c);
                    }
                }
            }
            8 => {
                // Forged: a non-owner renames the public group.
                if author.employee != "e0"
                    && let Some(c) = unchecked_change(
                        r,
                        &author,
                        Some(&self.g_public),
                        DocKind::Group,
                        vec![],
                        now,
                        |tx| tx.put(automerge::ROOT, "name", "taken over"),
                    )
                {
                    self.forged.push(c);
                }
            }
            10 => {
                // A poll, closing soon: later votes fall after it.
                let poll = weft_crdt::NewPoll {
                    question: "Q?".into(),
                    options: vec!["a".into(), "b".into(), "c".into()],
                    multiple: b.is_multiple_of(2),
                    closes_at: (!a.is_multiple_of(3)).then_some(now + 8),
                    results_after_vote: false,
                };
                let made_here = match &thread {
                    Some(t) if a.is_multiple_of(2) => r
                        .reply_with(&author, t, "poll", None, Some(&poll), now, nonce)
                        .map(|(c, _)| vec![c]),
                    _ => r
                        .create_thread_with(
                            &author,
                            &self.g_public,
                            "P",
                            "poll",
                            Some(&poll),
                            now,
                            nonce,
                        )
                        .map(|(t, l)| vec![t, l]),
                };
                if let Ok(c) = made_here {
                    made.extend(c);
                }
            }
            11 => {
                // An honest vote (refused locally once the poll is closed).
                if let (Some(t), false) = (&thread, polls.is_empty()) {
                    let (p, _) = &polls[a as usize % polls.len()];
                    let all = ["1", "2", "3"];
                    let n = b as usize % 3;
                    let options: Vec<&str> = all[n..]
                        .iter()
                        .copied()
                        .take(1 + (b as usize / 3) % 2)
                        .collect();
                    if let Ok(c) = r.vote(&author, t, p, &options, now) {
                        made.push(c);
                    }
                }
            }
            12 => {
                // Forged: a vote in someone else's name, or one signed after the poll closed.
                if let (Some(t), false) = (&thread, polls.is_empty()) {
                    let (p, view) = &polls[a as usize % polls.len()];
                    let g = r.group_of(t).unwrap();
                    let heads = r.doc(&g).unwrap().heads();
                    let (who, when) = match view.closes_at {
                        Some(c) if b.is_multiple_of(2) => (author.employee.clone(), c + 1),
                        _ => (format!("e{}", (site + 1) % 6), now),
                    };
                    let key = format!("{p}:vote.{}:{who}", 1 + b % 3);
                    if (who != author.employee || view.closes_at.is_some_and(|c| when > c))
                        && let Some(c) = unchecked_change(
                            r,
                            &author,
                            Some(t),
                            DocKind::Thread,
                            heads,
                            when,
                            |tx| {
                                let rs = tx.get(automerge::ROOT, "reactions")?.unwrap().1;
                                tx.put(&rs, key.as_str(), true)
                            },
                        )
                    {
                        self.forged.push(c);
                    }
                }
            }
            13 => {
                // An event in the public group, or its author changing or cancelling it.
                let e = weft_crdt::NewEvent {
                    starts_at: now + i64::from(a),
                    ends_at: now + i64::from(a) + i64::from(b),
                    time_zone: "Europe/Paris".into(),
                    location: format!("room {b}"),
                    cancelled: b.is_multiple_of(5),
                };
                let own_event = events
                    .iter()
                    .find(|(_, who)| *who == author.employee)
                    .map(|(p, _)| p.clone());
                match (&thread, own_event) {
                    (Some(t), Some(p)) if a.is_multiple_of(2) => {
                        if let Ok(c) = r.edit_event(&author, t, &p, &e, now) {
                            made.push(c);
                        }
                    }
                    _ => {
                        if let Ok((t, l)) =
                            r.create_event(&author, &self.g_public, "E", "event", &e, now, nonce)
                        {
                            made.extend([t, l]);
                        }
                    }
                }
            }
            14 => {
                // An answer to an event (or withdrawing it).
                if let (Some(t), false) = (&thread, events.is_empty()) {
                    let (p, _) = &events[a as usize % events.len()];
                    let answer = ["yes", "maybe", "no", ""][b as usize % 4];
                    if let Ok(c) =
                        r.rsvp(&author, t, p, Some(answer).filter(|a| !a.is_empty()), now)
                    {
                        made.push(c);
                    }
                }
            }
            15 => {
                // The community manager e0 pins or unpins a thread, from their home site.
                if site == 0
                    && let Some(t) = &thread
                    && let Ok(c) =
                        r.pin_thread(&self.world.authors[0], t, !a.is_multiple_of(2), now)
                {
                    made.push(c);
                }
            }
            16 => {
                // Forged: someone who neither owns the group nor manages the community pins.
                if let Some(t) = &thread
                    && author.employee != "e0"
                {
                    let g = r.group_of(t).unwrap();
                    let heads = r.doc(&g).unwrap().heads();
                    if let Some(c) =
                        unchecked_change(r, &author, Some(t), DocKind::Thread, heads, now, |tx| {
                            tx.put(automerge::ROOT, "pinned", true)
                        })
                    {
                        self.forged.push(c);
                    }
                }
            }
            17 => {
                // A library document (in the public or the private group), or a new version
                // of the one picked, its file in the same change.
                let file = weft_crdt::Attachment {
                    hash: format!("{:064x}", u64::from(a) << 16 | u64::from(b)),
                    size: u64::from(b),
                    media_type: "application/pdf".into(),
                    name: format!("v{nonce}.pdf"),
                    thumbnail: None,
                    text: Some(format!("texte {nonce}")),
                };
                let library = thread
                    .as_ref()
                    .and_then(|t| r.doc(t))
                    .and_then(ThreadView::of)
                    .is_some_and(|v| v.library.is_some());
                match &thread {
                    Some(t) if library && a.is_multiple_of(2) => {
                        if let Ok((c, _)) = r.reply_files(
                            &author,
                            t,
                            "version",
                            std::slice::from_ref(&file),
                            now,
                            nonce,
                        ) {
                            made.push(c);
                        }
                    }
                    _ => {
                        let g = if b.is_multiple_of(3) {
                            &self.g_private
                        } else {
                            &self.g_public
                        };
                        let extras = weft_crdt::ThreadExtras {
                            library: Some(["", "RH", "RH/Paie"][a as usize % 3]),
                            files: std::slice::from_ref(&file),
                            ..weft_crdt::ThreadExtras::default()
                        };
                        if let Ok((t, l)) =
                            r.create_thread_ext(&author, g, "Doc", "v1", extras, now, nonce)
                        {
                            made.extend([t, l]);
                        }
                    }
                }
            }
            18 => {
                // Filing a document in another folder (refused locally for a plain thread).
                if let Some(t) = &thread
                    && let Ok(c) =
                        r.move_document(&author, t, ["Archives", "RH", ""][b as usize % 3], now)
                {
                    made.push(c);
                }
            }
            19 => {
                // Forged: a folder on any thread, or a library mark added after creation.
                if let Some(t) = &thread {
                    let g = r.group_of(t).unwrap();
                    let heads = r.doc(&g).unwrap().heads();
                    let library_mark = a.is_multiple_of(2);
                    let plain = r
                        .doc(t)
                        .and_then(ThreadView::of)
                        .is_none_or(|v| v.library.is_none());
                    if (library_mark || plain)
                        && let Some(c) = unchecked_change(
                            r,
                            &author,
                            Some(t),
                            DocKind::Thread,
                            heads,
                            now,
                            |tx| {
                                if library_mark {
                                    tx.put(automerge::ROOT, "library", true)
                                } else {
                                    tx.put(automerge::ROOT, "folder", "Volé")
                                }
                            },
                        )
                    {
                        self.forged.push(c);
                    }
                }
            }
            20 => {
                // A report of a post (or withdrawing one's report).
                if let (Some(t), Some((p, _))) = (&thread, &post)
                    && let Ok(c) = r.report(
                        &author,
                        t,
                        p,
                        (!a.is_multiple_of(4)).then_some("hors charte"),
                        now,
                    )
                {
                    made.push(c);
                }
            }
            21 => {
                // Forged: a report in someone else's name, a hiding by someone who neither owns
                // the group nor manages the community, or a mark by a non-manager.
                if let (Some(t), Some((p, _))) = (&thread, &post)
                    && author.employee != "e0"
                {
                    let g = r.group_of(t).unwrap();
                    let heads = r.doc(&g).unwrap().heads();
                    let other = format!("e{}", (site + 1) % 6);
                    let (key, kind) = (weft_crdt::report_key(p, &other), b % 3);
                    let p = p.clone();
                    if let Some(c) =
                        unchecked_change(r, &author, Some(t), DocKind::Thread, heads, now, |tx| {
                            let m = tx.get(automerge::ROOT, "moderation")?.unwrap().1;
                            match kind {
                                0 => {
                                    let rep =
                                        tx.put_object(&m, key.as_str(), automerge::ObjType::Map)?;
                                    tx.put(&rep, "reason", "faux")
                                }
                                1 => {
                                    let mark =
                                        tx.put_object(&m, p.as_str(), automerge::ObjType::Map)?;
                                    tx.put(&mark, "hidden", true)
                                }
                                _ => tx.put(automerge::ROOT, "mark", "official"),
                            }
                        })
                    {
                        // Members of the private group's owner set may hide there: only forged
                        // if the author is no moderator (e0 owns both groups).
                        self.forged.push(c);
                    }
                }
            }
            22 => {
                // The community manager marks a thread official or outdated, or clears it.
                if site == 0
                    && let Some(t) = &thread
                {
                    let mark = [
                        Some(weft_crdt::ThreadMark::Official),
                        Some(weft_crdt::ThreadMark::Outdated),
                        None,
                    ][b as usize % 3];
                    if let Ok(c) = r.mark_thread(&self.world.authors[0], t, mark, now) {
                        made.push(c);
                    }
                }
            }
            23 => {
                // The community manager merges the private group into the public one (or
                // undoes it); anyone else forging it is refused.
                let into = (!a.is_multiple_of(3)).then_some(&self.g_public);
                if site == 0 && author.employee == "e0" {
                    if let Ok(c) = r.merge_group(&author, &self.g_private, into, now) {
                        made.push(c);
                    }
                } else if author.employee != "e0" {
                    let gp = self.g_public.to_string();
                    if let Some(c) = unchecked_change(
                        r,
                        &author,
                        Some(&self.g_private),
                        DocKind::Group,
                        vec![],
                        now,
                        |tx| tx.put(automerge::ROOT, "merged_into", gp.as_str()),
                    ) {
                        self.forged.push(c);
                    }
                }
            }
            24 => {
                // The private group's card, made by its owner e0 at their home site, or
                // written again (owners, members, withdrawn); a forged rewrite by another.
                let cards: Vec<DocId> = threads
                    .iter()
                    .filter(|t| {
                        r.doc(t)
                            .and_then(ThreadView::of)
                            .is_some_and(|v| v.card.is_some())
                    })
                    .cloned()
                    .collect();
                let owners = vec!["e0".to_owned(), format!("e{}", b % 6)];
                let fields = weft_crdt::CardFields {
                    name: "Comité",
                    description: "Le CSE",
                    owners: &owners,
                    members: u64::from(a % 50),
                    withdrawn: b.is_multiple_of(5),
                };
                match cards.first() {
                    Some(c) if author.employee != "e0" => {
                        let g = r.group_of(c).unwrap();
                        let heads = r.doc(&g).unwrap().heads();
                        if let Some(f) = unchecked_change(
                            r,
                            &author,
                            Some(c),
                            DocKind::Thread,
                            heads,
                            now,
                            |tx| tx.put(automerge::ROOT, "card_members", 999_u64),
                        ) {
                            self.forged.push(f);
                        }
                    }
                    Some(c) if site == 0 => {
                        if let Ok(ch) = r.update_card(&self.world.authors[0], c, &fields, now) {
                            made.push(ch);
                        }
                    }
                    None if site == 0 => {
                        let extras = weft_crdt::ThreadExtras {
                            card_of: Some(&self.g_private),
                            ..weft_crdt::ThreadExtras::default()
                        };
                        if let Ok((t, l)) = r.create_thread_ext(
                            &self.world.authors[0],
                            &self.g_public,
                            "Comité",
                            "Le CSE",
                            extras,
                            now,
                            nonce,
                        ) {
                            made.extend([t, l]);
                        }
                    }
                    _ => {}
                }
            }
            25 => {
                // A site's statistics document, by one of its employees, or its figures
                // written again by its author.
                let mine = threads.iter().find(|t| {
                    r.doc(t)
                        .and_then(ThreadView::of)
                        .is_some_and(|v| v.stats.is_some() && v.author == author.employee)
                });
                match mine {
                    Some(t) => {
                        if let Ok(c) =
                            r.write_stats(&author, t, &format!("{{\"active\":{a}}}"), now)
                        {
                            made.push(c);
                        }
                    }
                    None => {
                        let site_id = format!("site{site}");
                        let extras = weft_crdt::ThreadExtras {
                            stats: Some((&site_id, "2026-W49")),
                            ..weft_crdt::ThreadExtras::default()
                        };
                        if let Ok((t, l)) = r.create_thread_ext(
                            &author,
                            &self.g_public,
                            "Stats",
                            "",
                            extras,
                            now,
                            nonce,
                        ) {
                            made.extend([t, l]);
                        }
                    }
                }
            }
            _ => {
                // The community manager e0 moderates, from their home site only: an author's
                // key lives on their home node, so two sites never sign as the same actor.
                let cm = self.world.authors[0].clone();
                if site == 0
                    && let (Some(t), Some((p, _))) = (&thread, &post)
                    && let Ok(c) = r.moderate(&cm, t, p, a.is_multiple_of(2), "modération", now)
                {
                    made.push(c);
                }
            }
        }
        self.pool.extend(made);
    }

    fn all(&self) -> Vec<SignedChange> {
        self.pool.iter().chain(&self.forged).cloned().collect()
    }

    fn deliver(&mut self, to: usize, count: u8, seed: u16) {
        let all = self.all();
        let mut rng = Rng::new(u64::from(seed) + 1);
        let picks: Vec<SignedChange> = (0..count)
            .map(|_| all[rng.below(all.len())].clone())
            .collect();
        self.replicas[to].ingest(picks);
    }

    fn resync(&mut self, seed: u64) {
        let mut rng = Rng::new(seed);
        for i in 0..3 {
            let mut all = self.all();
            all.extend(self.all());
            rng.shuffle(&mut all);
            self.replicas[i].ingest(all);
        }
    }
}

fn summary(r: &Replica) -> Vec<(DocId, Vec<automerge::ChangeHash>, String)> {
    r.docs()
        .map(|d| {
            let mut heads = d.heads();
            heads.sort();
            let view = match d.kind() {
                DocKind::Thread => format!("{:?}", ThreadView::of(d)),
                DocKind::Group => format!("{:?}", GroupView::of(d)),
                DocKind::Profile => format!("{:?}", d.automerge().get_heads()),
            };
            (d.id().clone(), heads, view)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_delivery_order_converges_and_judges_alike(ops in proptest::collection::vec(op(), 5..60), seed in any::<u64>(), keep in 0..3usize) {
        let mut sim = Sim::new(keep);
        for op in ops {
            match op {
                Op::Local { site, action, a, b } => sim.local(site, action, a, b),
                Op::Deliver { to, count, seed } => sim.deliver(to, count, seed),
            }
            sim.store_and_evict();
        }
        sim.resync(seed);
        sim.store_and_evict();
        prop_assert!(sim.replicas[2].loaded_count() <= keep + 2, "replica 2 kept {} documents in memory", sim.replicas[2].loaded_count());
        if keep == 0 {
            prop_assert!(sim.replicas[2].loads() > 0, "nothing was ever read back");
        }
        sim.load_all();
        let first = summary(&sim.replicas[0]);
        for r in &sim.replicas {
            prop_assert_eq!(r.pending_len(), 0, "changes still waiting after resync");
            prop_assert_eq!(&summary(r), &first);
        }
        // Every change was judged the same way everywhere: held, or refused.
        for c in sim.all() {
            let held: Vec<bool> = sim.replicas.iter().map(|r| r.doc(c.doc()).is_some_and(|d| d.has(&c.hash()))).collect();
            let refused: Vec<bool> = sim.replicas.iter().map(|r| r.is_rejected(&c.hash())).collect();
            prop_assert!(held.iter().all(|h| *h == held[0]), "held differs: {:?}", held);
            prop_assert!(refused.iter().all(|h| *h == refused[0]), "refused differs: {:?}", refused);
            prop_assert!(held[0] != refused[0], "neither held nor refused");
        }
        // Forgeries were refused everywhere.
        for c in &sim.forged {
            for r in &sim.replicas {
                prop_assert!(r.is_rejected(&c.hash()));
            }
        }
        // Honest local changes were accepted everywhere.
        for c in &sim.pool {
            for r in &sim.replicas {
                prop_assert!(r.doc(c.doc()).is_some_and(|d| d.has(&c.hash())));
            }
        }
    }
}

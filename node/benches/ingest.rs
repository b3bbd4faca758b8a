//! Durable ingest of one node: signed changes validated, applied, appended and flushed, per
//! second — against raw sled writes and raw Automerge apply of the same data, in the same run.
//! Commits are grouped (one flush per 100 changes), as the runtime does when changes arrive in
//! bundles; nothing counts as ingested before its flush.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::Instant;

use automerge::{Automerge, Change};
use weft_crdt::sync::Config as SyncConfig;
use weft_crdt::testkit::World;
use weft_crdt::{NewGroup, Visibility};
use weft_keys::TrustAnchors;
use weft_node::{Core, Store};

const N: usize = 5_000;
const GROUP: usize = 100;
/// Rounds of each measurement (medians are reported).
const ROUNDS: usize = 3;
/// Writes of the flush-per-write baseline in each round.
const EACH: usize = 1_000;

fn main() {
    // The data: one thread with N replies by 10 authors, made on a scratch replica.
    let w = World::new(2, 10);
    let mut r = w.replica();
    let a = &w.authors[1];
    let g = r
        .create_group(
            a,
            &NewGroup {
                name: "Bench",
                description: "",
                visibility: Visibility::Public,
                home_site: "site1",
            },
            1,
            1,
        )
        .unwrap();
    let (t, l) = r.create_thread(a, g.doc(), "Bench", "first", 2, 2).unwrap();
    let mut changes = vec![g, t.clone(), l];
    for i in 0..N {
        let who = &w.authors[i % 10];
        let (c, _) = r
            .reply(
                who,
                t.doc(),
                &format!("Reply {i}: a message of ordinary length for the benchmark."),
                None,
                10 + i as i64,
                100 + i as u64,
            )
            .unwrap();
        changes.push(c);
    }
    let bytes: Vec<Vec<u8>> = changes.iter().map(|c| c.bytes().to_vec()).collect();
    let total: usize = bytes.iter().map(Vec::len).sum();

    // Weft: a node's core over a real sled store, fresh each round; rounds alternate with
    // the sled baselines so that a noisy moment of the machine falls on both, and each
    // figure is the median of its rounds.
    let open_core = |dir: &std::path::Path| {
        let mut core = Core::open(
            "site0",
            w.nodes[0].clone(),
            TrustAnchors::single(w.authority.public()),
            Some(w.directory.clone()),
            Store::open(&dir.join("store")).unwrap(),
            SyncConfig::default(),
            1,
        )
        .unwrap();
        for a in &w.authors {
            core.add_certificate(&a.cert).unwrap();
        }
        core
    };
    let mut wefts = Vec::new();
    let mut sled_groupeds = Vec::new();
    let mut sled_eachs = Vec::new();
    let mut kept = None;
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        let mut core = open_core(dir.path());
        let start = Instant::now();
        for chunk in bytes.chunks(GROUP) {
            let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
            let report = core.ingest(&refs);
            assert_eq!(report.accepted.len(), chunk.len());
            core.commit().unwrap();
        }
        wefts.push(start.elapsed());
        kept = Some((dir, core));

        // Baseline 1: raw sled, the same bytes, the same grouping of flushes.
        let sdir = tempfile::tempdir().unwrap();
        let db = sled::open(sdir.path()).unwrap();
        let start = Instant::now();
        for (i, chunk) in bytes.chunks(GROUP).enumerate() {
            for (j, b) in chunk.iter().enumerate() {
                db.insert(((i * GROUP + j) as u64).to_be_bytes(), b.as_slice())
                    .unwrap();
            }
            db.flush().unwrap();
        }
        sled_groupeds.push(start.elapsed());
        // The goal's baseline: a flush per write.
        let start = Instant::now();
        for (i, b) in bytes.iter().take(EACH).enumerate() {
            db.insert(((1_000_000 + i) as u64).to_be_bytes(), b.as_slice())
                .unwrap();
            db.flush().unwrap();
        }
        sled_eachs.push(start.elapsed() / EACH as u32);
        eprintln!("round {}/{ROUNDS} done", round + 1);
    }
    let median = |v: &mut Vec<std::time::Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let weft = median(&mut wefts);
    let sled_grouped = median(&mut sled_groupeds);
    let sled_each = median(&mut sled_eachs);
    let (dir, core) = kept.unwrap();
    let mut core = core;

    // Baseline 2: raw Automerge decode + apply of the same changes, in the same groups.
    let raw: Vec<Vec<u8>> = changes
        .iter()
        .filter(|c| c.doc() == t.doc())
        .map(|c| c.change().raw_bytes().to_vec())
        .collect();
    let start = Instant::now();
    let mut doc = Automerge::new();
    for chunk in raw.chunks(GROUP) {
        let cs: Vec<Change> = chunk
            .iter()
            .map(|b| Change::try_from(b.as_slice()).unwrap())
            .collect();
        doc.apply_changes(cs).unwrap();
    }
    let am = start.elapsed();

    // Restart after a clean stop (the search index committed): the thread is recorded by its
    // stored summary, only the group replays; then the thread is read back on first use.
    // Against a full check of every change.
    core.refresh_search();
    drop(core);
    let start = Instant::now();
    let reopened = Core::open(
        "site0",
        w.nodes[0].clone(),
        TrustAnchors::single(w.authority.public()),
        Some(w.directory.clone()),
        Store::open(&dir.path().join("store")).unwrap(),
        SyncConfig::default(),
        1,
    )
    .unwrap();
    let restart = start.elapsed();
    let mut reopened = reopened;
    assert_eq!(reopened.replica().doc_count(), 2);
    assert!(
        !reopened.replica().is_loaded(t.doc()),
        "the thread stays on disk"
    );
    let start = Instant::now();
    assert!(reopened.load(t.doc()));
    let first_read = start.elapsed();
    let mut full = w.replica();
    let start = Instant::now();
    full.ingest_bytes(bytes.iter().map(Vec::as_slice));
    let full_check = start.elapsed();

    let rate = |d: std::time::Duration, n: usize| n as f64 / d.as_secs_f64();
    println!(
        "\ndurable ingest of {} signed changes ({} KiB), flushed every {GROUP} (medians of {ROUNDS} rounds):",
        bytes.len(),
        total / 1024
    );
    println!(
        "  weft (verify, validate, apply, append, flush): {:.0} changes/s",
        rate(weft, bytes.len())
    );
    println!(
        "  raw sled insert + flush per {GROUP}: {:.0} writes/s (weft is {:.2}× slower)",
        rate(sled_grouped, bytes.len()),
        weft.as_secs_f64() / sled_grouped.as_secs_f64()
    );
    println!(
        "  raw automerge decode + apply: {:.0} changes/s (weft is {:.2}× slower)",
        rate(am, raw.len()),
        weft.as_secs_f64() / am.as_secs_f64()
    );
    println!(
        "  sled with a flush per write: {:.0} writes/s (weft's durable ingest is {:.2}× that; goal ≥ 1.5×)",
        1.0 / sled_each.as_secs_f64(),
        rate(weft, bytes.len()) * sled_each.as_secs_f64()
    );
    println!(
        "restart with {} changes in the store: {} ms, then {} ms to read the thread back on first use (a full re-verification would take {} ms)",
        bytes.len(),
        restart.as_millis(),
        first_read.as_millis(),
        full_check.as_millis()
    );
}

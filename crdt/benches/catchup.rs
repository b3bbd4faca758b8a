//! Catch-up between two nodes: bytes and time, against the size of what was missing.
//!
//! * 4,000 documents of which 40 differ;
//! * 2,000 documents with one new change each;
//! * one document with 10,000 new changes.
//!
//! Runs the real engine over the in-memory cluster and prints a Markdown table.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::time::Instant;

use weft_crdt::sync::Config;
use weft_crdt::testkit::{Cluster, World};
use weft_crdt::{GroupSettings, NewGroup, SignedChange, Visibility};

struct Row {
    name: &'static str,
    docs: usize,
    missing_changes: usize,
    missing_bytes: u64,
    exchanged: u64,
    frames: u64,
    millis: f64,
}

/// Connects the two nodes, runs the session to quiescence, and measures it.
fn session(mut c: Cluster, name: &'static str, docs: usize, missing: &[SignedChange]) -> Row {
    let t = Instant::now();
    c.connect(0, 1);
    c.run();
    let millis = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(c.state(0), c.state(1), "{name}: did not converge");
    eprintln!(
        "{name}: site0 sent {:?}; site1 sent {:?}",
        c.engines[0].bytes_sent_by_kind("site1"),
        c.engines[1].bytes_sent_by_kind("site0")
    );
    let t01 = c.engines[0].traffic("site1");
    let t10 = c.engines[1].traffic("site0");
    Row {
        name,
        docs,
        missing_changes: missing.len(),
        missing_bytes: missing.iter().map(|c| c.bytes().len() as u64).sum(),
        exchanged: t01.bytes_sent + t10.bytes_sent,
        frames: t01.frames_sent + t10.frames_sent,
        millis,
    }
}

fn groups(c: &mut Cluster, n: usize) -> Vec<SignedChange> {
    let a = c.world.authors[0].clone();
    (0..n)
        .map(|i| {
            c.replicas[0]
                .create_group(
                    &a,
                    &NewGroup {
                        name: "Group",
                        description: "A group of the benchmark",
                        visibility: Visibility::Public,
                        home_site: "site0",
                    },
                    1,
                    i as u64,
                )
                .unwrap()
        })
        .collect()
}

fn differ(total: usize, differing: usize, name: &'static str) -> Row {
    let mut c = Cluster::new(World::new(2, 4), Config::default());
    let all = groups(&mut c, total);
    c.replicas[1].ingest(all.iter().cloned());
    let a = c.world.authors[0].clone();
    let step = total / differing;
    let missing: Vec<SignedChange> = (0..differing)
        .map(|i| {
            let g = all[i * step].doc().clone();
            c.replicas[0]
                .update_group(
                    &a,
                    &g,
                    &GroupSettings {
                        description: Some("Updated while the other site was away"),
                        ..Default::default()
                    },
                    10,
                )
                .unwrap()
        })
        .collect();
    session(c, name, total, &missing)
}

fn long_thread(n: usize) -> Row {
    let (w, r, all) = common::thread_with_replies(n);
    let mut c = Cluster::new(w, Config::default());
    c.replicas[0] = r;
    // The other site holds the group and the thread's first change only.
    c.replicas[1].ingest(all[..3].iter().cloned());
    let missing = all[3..].to_vec();
    session(c, "1 document, 10,000 new changes", 1, &missing)
}

fn main() {
    let rows = vec![
        differ(4_000, 40, "4,000 documents, 40 differ"),
        differ(2_000, 2_000, "2,000 documents, 1 new change each"),
        long_thread(10_000),
    ];
    println!(
        "\n| scenario | documents | missing changes | missing bytes | bytes exchanged | ratio | frames | time |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {:.2}× | {} | {:.0} ms |",
            r.name,
            r.docs,
            r.missing_changes,
            r.missing_bytes,
            r.exchanged,
            r.exchanged as f64 / r.missing_bytes as f64,
            r.frames,
            r.millis
        );
    }
}

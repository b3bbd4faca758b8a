//! Memory per thread document held in a replica, against raw Automerge documents of the same
//! content built in the same run (run with `cargo bench -p weft-crdt --bench memory`).
//!
//! Resident memory is read from `/proc/self/status` before and after building N documents;
//! allocator noise makes single figures rough, the ratio is what to watch. Found with it
//! (issue 4): an Automerge document costs about 20 KB however small it is, so a node holding
//! every document in memory grows by tens of KB per thread — keeping only recently used
//! documents loaded is the way down, not trimming our own indexes.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use automerge::transaction::Transactable;
use weft_crdt::testkit::World;
use weft_crdt::{NewGroup, Visibility};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

const BODY: &str = "Some body text of a typical first post, a few words long. #topic";

fn main() {
    let n: u64 = std::env::var("MEMORY_BENCH_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    let w = World::new(1, 2);
    let mut r = w.replica();
    let a = &w.authors[0];
    let group = NewGroup {
        name: "G",
        description: "",
        visibility: Visibility::Public,
        home_site: "site0",
    };
    let g = r.create_group(a, &group, 1, 1).unwrap();
    let gid = g.doc().clone();

    let before = rss_kib();
    let mut signed = 0u64;
    for i in 0..n {
        let title = format!("Thread {i}");
        let (t, l) = r
            .create_thread(a, &gid, &title, BODY, 10 + i as i64, i + 5)
            .unwrap();
        signed += (t.bytes().len() + l.bytes().len()) as u64;
    }
    assert_eq!(r.docs().count() as u64, n + 1);
    let weft = (rss_kib() - before) * 1024 / n;

    let before = rss_kib();
    let mut docs = Vec::new();
    for i in 0..n {
        let mut d = automerge::AutoCommit::new();
        d.put(automerge::ROOT, "kind", "thread").unwrap();
        d.put(automerge::ROOT, "title", format!("Thread {i}"))
            .unwrap();
        let posts = d
            .put_object(automerge::ROOT, "posts", automerge::ObjType::Map)
            .unwrap();
        let p = d.put_object(&posts, "p1", automerge::ObjType::Map).unwrap();
        d.put(&p, "body", BODY).unwrap();
        d.put(&p, "author", "e0").unwrap();
        d.commit();
        docs.push(d);
    }
    let raw = (rss_kib() - before) * 1024 / n;
    println!("{n} thread documents (each with its listing in one group):");
    println!(
        "  weft replica:          {weft} B resident per thread ({} B of signed changes)",
        signed / n
    );
    println!("  raw Automerge (same run): {raw} B resident per document");
    println!("  ratio: {:.2}×", weft as f64 / raw.max(1) as f64);
    std::hint::black_box(&docs);
}

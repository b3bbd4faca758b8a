//! Shared fixtures for the crdt benchmarks.
#![allow(dead_code, clippy::unwrap_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use weft_crdt::testkit::World;
use weft_crdt::{NewGroup, Replica, SignedChange, Visibility};

/// A public group with one thread and `n` replies by 10 authors; returns the world, the
/// replica that wrote them and every signed change in order.
pub(crate) fn thread_with_replies(n: usize) -> (World, Replica, Vec<SignedChange>) {
    let w = World::new(3, 10);
    let mut r = w.replica();
    let a = w.authors[0].clone();
    let g = r
        .create_group(
            &a,
            &NewGroup {
                name: "Bench",
                description: "",
                visibility: Visibility::Public,
                home_site: "site0",
            },
            1,
            1,
        )
        .unwrap();
    let (t, l) = r
        .create_thread(
            &a,
            g.doc(),
            "Bench thread",
            "The first post of the benchmark thread.",
            2,
            2,
        )
        .unwrap();
    let tid = t.doc().clone();
    let mut all = vec![g, t, l];
    for i in 0..n {
        let who = &w.authors[i % 10];
        let (c, _) = r
            .reply(who, &tid, &format!("Reply number {i}: a short message of ordinary length, with a #topic and a mention of @e{}.", (i + 1) % 10), None, 10 + i as i64, 100 + i as u64)
            .unwrap();
        all.push(c);
    }
    (w, r, all)
}

/// The median of `runs` timings of `f`.
pub(crate) fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut v: Vec<Duration> = (0..runs).map(|_| f()).collect();
    v.sort();
    v[v.len() / 2]
}

pub(crate) fn time(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

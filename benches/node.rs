//! Node benchmarks with real `weft run` processes on loopback (run with `cargo bench --bench
//! node`):
//!
//! * propagation latency of a post from Paris to New York, counted until it is readable
//!   through New York's API, p50 and p99 over 500 posts — against the round trip of a plain
//!   handler (`/healthz`) measured in the same run;
//! * the resident memory of an idle node holding a seeded company.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    dead_code
)]

#[path = "../tests/e2e/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::{Company, Node};
use serde_json::json;

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// A line of `/proc/<pid>/status`, in KiB.
fn status_kib(node: &Node, field: &str) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", node.child.id())).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn rss_kib(node: &Node) -> u64 {
    status_kib(node, "VmRSS:")
}

fn main() {
    let company = Company::new();
    // One employee posts 550 times as fast as the node answers: no write budget.
    company.configure(0, "write_budget_burst = 0");
    let a = company.start(0);
    let b = company.start(1);
    for n in [&a, &b] {
        n.wait_until(Duration::from_secs(60), "connected", |n| {
            n.connected_peers() == 1
        });
    }
    let helene = a.login("hdupre");
    let john = b.login("jsmith");
    let g = a.api(
        &helene,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "Bench", "visibility": "public"})),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    let threads: Vec<String> = (0..50)
        .map(|i| {
            let t = a.api(
                &helene,
                "POST",
                &format!("/api/v1/groups/{gid}/threads"),
                Some(json!({"title": format!("Thread {i}"), "body": "start"})),
                201,
            );
            t["id"].as_str().unwrap().to_owned()
        })
        .collect();
    for t in &threads {
        while b
            .request("GET", &format!("/api/v1/threads/{t}"), None, Some(&john))
            .map(|r| r.0)
            != Some(200)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // Baseline: a plain handler's round trip at B.
    let mut base: Vec<Duration> = (0..500)
        .map(|_| {
            let t = Instant::now();
            b.get("/healthz").unwrap();
            t.elapsed()
        })
        .collect();
    // Where the time goes: New York's commits (ingest, read models, search, flush) during the
    // run, and how many polls a post took to become readable.
    let commits = |n: &Node| {
        let (_, m) = n.get("/metrics").unwrap();
        let pick = |suffix: &str| -> f64 {
            m.lines()
                .find(|l| {
                    l.starts_with(&format!("weft_job_seconds_{suffix}{{"))
                        && l.contains("job=\"commit\"")
                })
                .and_then(|l| l.rsplit(' ').next()?.parse().ok())
                .unwrap_or(0.0)
        };
        (pick("sum"), pick("count"))
    };
    let before = commits(&b);
    let mut polls = 0usize;
    let mut lat = Vec::with_capacity(500);
    for i in 0..500 {
        let t = &threads[i % threads.len()];
        let want = i / threads.len() + 1;
        a.api(
            &helene,
            "POST",
            &format!("/api/v1/threads/{t}/posts"),
            Some(json!({"body": format!("message {i}")})),
            201,
        );
        let start = Instant::now();
        loop {
            polls += 1;
            if let Some((200, body)) =
                b.request("GET", &format!("/api/v1/threads/{t}"), None, Some(&john))
                && serde_json::from_str::<serde_json::Value>(&body).unwrap()["reply_count"].as_u64()
                    == Some(want as u64)
            {
                break;
            }
        }
        lat.push(start.elapsed());
    }
    let (b50, b99) = (percentile(&mut base, 0.5), percentile(&mut base, 0.99));
    let (p50, p99) = (percentile(&mut lat, 0.5), percentile(&mut lat, 0.99));
    println!("\npropagation Paris → New York, 500 posts, until readable through New York's API:");
    println!(
        "  p50 {:.2} ms, p99 {:.2} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    println!(
        "  plain handler round trip at New York: p50 {:.2} ms, p99 {:.2} ms; ratio p50 {:.1}×, p99 {:.1}×",
        b50.as_secs_f64() * 1e3,
        b99.as_secs_f64() * 1e3,
        p50.as_secs_f64() / b50.as_secs_f64(),
        p99.as_secs_f64() / b99.as_secs_f64()
    );
    let after = commits(&b);
    let n = (after.1 - before.1).max(1.0);
    println!(
        "  New York's commits during the run: {:.0}, mean {:.2} ms each; {:.1} polls of its API per post",
        after.1 - before.1,
        (after.0 - before.0) / n * 1e3,
        polls as f64 / 500.0
    );
    std::thread::sleep(Duration::from_secs(3));
    println!(
        "idle resident memory with {} documents: Paris {} KiB, New York {} KiB",
        a.json("/api/v1/node")["documents"],
        rss_kib(&a),
        rss_kib(&b)
    );
    // Heap and stacks (anonymous) apart from the pages of the program itself (file): only the
    // first grows with what the node holds.
    println!(
        "  of which Paris: anonymous {} KiB, program and files {} KiB",
        status_kib(&a, "RssAnon:"),
        status_kib(&a, "RssFile:")
    );
}

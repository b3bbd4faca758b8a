//! Web load benchmark (issue #5, "Benchmark"; run with `cargo bench --bench web`).
//!
//! One real `weft run` process (Paris) is seeded through its JSON API with 10,000 threads over
//! 20 public groups that every benchmark user belongs to; then this process — a second
//! process, as the issue asks — drives it with 50 concurrent sessions, each one keep-alive
//! HTTP/1.1 connection, for a fixed time per endpoint:
//!
//! * `GET /healthz`, the baseline;
//! * `GET /static/weft.css`, a static handler that does not touch the node's loop (context);
//! * `GET /`, the HTML home feed;
//! * `GET /api/v1/feed`, the JSON feed, if the node serves it (skipped with a note otherwise);
//! * `GET /threads/{id}`, the HTML thread page, cycling over a few hundred threads;
//! * `GET /api/v1/threads/{id}`, the same threads as JSON.
//!
//! For each: requests, requests per second, p50 and p99 latency, and each as a ratio to the
//! baseline (req/s ratio = baseline / endpoint, latency ratios = endpoint / baseline, so
//! larger is always slower). `/healthz` is the baseline because it is the most trivial
//! handler the node has — a fixed body, no rendering, no documents — while paying the same
//! fixed costs as every page: loopback TCP, hyper's HTTP/1.1, axum's routing, and one
//! (empty) round trip through the node's loop. Measuring it in the same run, on the same
//! node, with the same client and the same concurrency, factors out the machine and its
//! load, so the ratios say what the pages themselves cost.
//!
//! Then the same endpoints again while a second node (New York) pushes changes into Paris:
//! New York catches up with Paris's documents, then 16 connections post at a paced rate
//! (`WEB_BENCH_BURST`, default 1,000 posts — changes — a second) while the pages are read at
//! Paris; the report compares each endpoint's p99 with and without the burst, and gives the
//! rate Paris actually received.
//!
//! Environment: `WEB_BENCH_SECS` (seconds per endpoint, default 10), `WEB_BENCH_THREADS`
//! (threads to seed, default 10,000), `WEB_BENCH_SESSIONS` (session counts, default
//! `50,500`), `WEB_BENCH_BURST` (changes a second, default 1,000; 0 skips the burst). Not
//! `WEFT_…`: the `weft` processes inherit the environment and refuse unknown `WEFT_` settings.
//!
//! Every response must be 200; more than 1% errors on an endpoint fails the benchmark.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    dead_code
)]

#[path = "../tests/e2e/harness.rs"]
mod harness;
#[path = "common/load.rs"]
mod load;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use harness::{Company, Node};
use load::{
    Auth, Conn, Run, alone, assert_few_errors, call, env_usize, load, loadavg, ms, num, print_table,
};
use serde_json::json;

const GROUPS: usize = 20;
/// Threads whose pages the thread-page runs cycle over.
const PAGE_THREADS: usize = 300;
/// Client connections used to seed.
const SEEDERS: usize = 4;

fn rss_kib(node: &Node) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", node.child.id())).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The employees homed at Paris in the sample directory (`uid` followed by `l: Paris`).
fn paris_employees() -> Vec<String> {
    let ldif = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/directory.ldif"),
    )
    .unwrap();
    let mut uid = None;
    let mut out = Vec::new();
    for line in ldif.lines() {
        if line.starts_with("dn:") {
            uid = None;
        } else if let Some(u) = line.strip_prefix("uid: ") {
            uid = Some(u.trim().to_owned());
        } else if line.trim() == "l: Paris"
            && let Some(u) = uid.take()
        {
            out.push(u);
        }
    }
    out
}

fn main() {
    if let Some((k, _)) = std::env::vars().find(|(k, _)| k.starts_with("WEFT_BENCH_")) {
        panic!("{k}: the weft processes would refuse it as a setting; use WEB_BENCH_… instead");
    }
    let secs = env_usize("WEB_BENCH_SECS", 10) as f64;
    let n_threads = env_usize("WEB_BENCH_THREADS", 10_000);
    // Session counts to measure under, e.g. "50,500".
    let session_counts: Vec<usize> = std::env::var("WEB_BENCH_SESSIONS")
        .unwrap_or_else(|_| "50,500".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .filter(|n| *n > 0)
        .collect();
    let n_sessions = session_counts.iter().copied().max().unwrap_or(50);
    // Changes per second New York pushes into Paris during the sync-burst run (0: no burst).
    let burst_rate = env_usize("WEB_BENCH_BURST", 1_000);

    // Every employee homed at Paris gets a password (the harness sets only two), before the
    // node starts (the command opens the store).
    let company = Company::new();
    let mut users = paris_employees();
    if users.is_empty() {
        users = harness::USERS[0].iter().map(|u| (*u).to_owned()).collect();
    }
    for u in &users {
        if !harness::USERS[0].contains(&u.as_str()) {
            company.set_password(0, u);
        }
    }
    // The seeding writes far faster than any employee would: no write budget.
    company.configure(0, "write_budget_burst = 0");
    let node = company.start(0);
    let port = node.http_port;

    // Sessions: one login each, spread over the Paris employees.
    let tokens: Vec<String> = (0..n_sessions)
        .map(|i| node.login(&users[i % users.len()]))
        .collect();
    let employees_used = users.len().min(n_sessions);
    let owner = &tokens[0];

    // Groups: created by the first employee; every other employee joins them.
    let mut conn = Conn::open(port).unwrap();
    let groups: Vec<String> = (0..GROUPS)
        .map(|i| {
            let g = call(
                &mut conn,
                owner,
                "POST",
                "/api/v1/groups",
                json!({"name": format!("Bench group {i:02}"), "description": "Load benchmark", "visibility": "public"}),
                201,
            );
            g["id"].as_str().unwrap().to_owned()
        })
        .collect();
    for (k, u) in users.iter().enumerate().take(employees_used).skip(1) {
        for g in &groups {
            call(
                &mut conn,
                &tokens[k],
                "POST",
                &format!("/api/v1/groups/{g}/members"),
                json!({ "user": u }),
                200,
            );
        }
    }

    // Threads: SEEDERS connections, authors rotating over the employees.
    eprintln!("seeding {n_threads} threads over {GROUPS} groups…");
    let seed_start = Instant::now();
    let next = AtomicUsize::new(0);
    let threads: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::with_capacity(n_threads));
    std::thread::scope(|s| {
        for _ in 0..SEEDERS {
            let (next, threads, groups, tokens) = (&next, &threads, &groups, &tokens);
            s.spawn(move || {
                let mut conn = Conn::open(port).unwrap();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n_threads {
                        break;
                    }
                    let token = &tokens[i % employees_used];
                    let g = &groups[i % GROUPS];
                    let t = call(
                        &mut conn,
                        token,
                        "POST",
                        &format!("/api/v1/groups/{g}/threads"),
                        json!({
                            "title": format!("Bench thread {i}"),
                            "body": format!("Thread number {i} of the load benchmark, with a little **Markdown** and a #bench topic."),
                        }),
                        201,
                    );
                    let mut all = threads.lock().unwrap();
                    all.push((i, t["id"].as_str().unwrap().to_owned()));
                    if all.len().is_multiple_of(1000) {
                        eprintln!(
                            "  {} threads, {:.0} s",
                            all.len(),
                            seed_start.elapsed().as_secs_f64()
                        );
                    }
                }
            });
        }
    });
    let seed_time = seed_start.elapsed();
    let mut threads = threads.into_inner().unwrap();
    threads.sort();
    let threads: Vec<String> = threads.into_iter().map(|(_, t)| t).collect();
    // Let the node settle (search index commits, store flushes) before measuring.
    std::thread::sleep(Duration::from_secs(3));
    let documents = node.json("/api/v1/node")["documents"].clone();
    let rss_seeded = rss_kib(&node);

    // A few hundred threads spread over the whole set, for the thread pages.
    let step = (threads.len() / PAGE_THREADS).max(1);
    let pages: Vec<String> = threads.iter().step_by(step).cloned().collect();
    let html_pages: Vec<String> = pages.iter().map(|t| format!("/threads/{t}")).collect();
    let json_pages: Vec<String> = pages
        .iter()
        .map(|t| format!("/api/v1/threads/{t}"))
        .collect();
    let pick = |list: &[String], k: usize, i: usize| list[(k * 7 + i) % list.len()].clone();

    // The JSON feed may not exist yet.
    let (feed_status, _) = Conn::open(port)
        .unwrap()
        .request("GET", "/api/v1/feed", Some((owner, Auth::Bearer)), None)
        .unwrap();

    let mut endpoints: Vec<Endpoint> = vec![
        (
            "GET /healthz",
            Auth::Cookie,
            vec!["/healthz".into()],
            Box::new(|_, _| "/healthz".to_owned()),
        ),
        (
            "GET /static/weft.css",
            Auth::Cookie,
            vec!["/static/weft.css".into()],
            Box::new(|_, _| "/static/weft.css".to_owned()),
        ),
        (
            "GET / (HTML feed)",
            Auth::Cookie,
            vec!["/".into()],
            Box::new(|_, _| "/".to_owned()),
        ),
    ];
    if feed_status == 200 {
        endpoints.push((
            "GET /api/v1/feed",
            Auth::Bearer,
            vec!["/api/v1/feed".into()],
            Box::new(|_, _| "/api/v1/feed".to_owned()),
        ));
    }
    endpoints.push((
        "GET /threads/{id} (HTML)",
        Auth::Cookie,
        html_pages.clone(),
        Box::new(|k, i| pick(&html_pages, k, i)),
    ));
    endpoints.push((
        "GET /api/v1/threads/{id}",
        Auth::Bearer,
        json_pages.clone(),
        Box::new(|k, i| pick(&json_pages, k, i)),
    ));

    let load_before = loadavg();
    // One table per session count: each endpoint under that many sessions, and alone.
    let mut tables: Vec<(usize, Vec<Run>, Vec<Duration>)> = Vec::new();
    for &n in &session_counts {
        let mut runs = Vec::new();
        let mut single = Vec::new();
        for (name, auth, paths, path) in &endpoints {
            single.push(alone(port, owner, *auth, paths));
            // A short warm-up (connections, caches), not counted.
            load(
                port,
                name,
                &tokens[..n],
                *auth,
                (secs / 10.0).max(0.5),
                path,
            );
            runs.push(load(port, name, &tokens[..n], *auth, secs, path));
        }
        tables.push((n, runs, single));
    }
    // A sync burst: New York starts, catches up, then its employees post `burst_rate`
    // changes a second into threads of their own, which Paris ingests while 50 sessions (or
    // the fewest measured) read Paris's pages.
    let burst = (burst_rate > 0).then(|| {
        sync_burst(
            &company,
            &node,
            burst_rate,
            secs,
            &endpoints,
            &tokens[..session_counts.iter().copied().min().unwrap_or(50)],
        )
    });
    let rss_after = rss_kib(&node);
    let load_after = loadavg();

    // Start-up: the seeded node stopped and started again (replay of the store, read models,
    // search index) against the start of a node with an empty store (New York) in the same run.
    let status = node.stop();
    assert!(
        status.success(),
        "the node did not stop cleanly: {status:?}"
    );
    let t = Instant::now();
    let empty = company.start(1);
    let empty_start = t.elapsed();
    drop(empty);
    let t = Instant::now();
    let node = company.start(0);
    let restart = t.elapsed();
    let rss_restarted = rss_kib(&node);

    println!(
        "\nweb load: one node (Paris), {} threads in {GROUPS} public groups ({documents} documents), seeded through the API in {:.0} s ({:.0} threads/s, {SEEDERS} connections)",
        threads.len(),
        seed_time.as_secs_f64(),
        threads.len() as f64 / seed_time.as_secs_f64()
    );
    println!(
        "{n_sessions} concurrent sessions, one keep-alive HTTP/1.1 connection each, {} distinct employees homed at Paris ({} sessions each, {} logins); {secs} s per endpoint; thread pages cycle over {} threads",
        employees_used,
        if n_sessions.is_multiple_of(employees_used) {
            format!("{}", n_sessions / employees_used)
        } else {
            format!(
                "{}–{}",
                n_sessions / employees_used,
                n_sessions / employees_used + 1
            )
        },
        n_sessions,
        pages.len()
    );
    println!(
        "node resident memory: {} KiB after seeding, {} KiB after the runs, {} KiB after a restart",
        rss_seeded, rss_after, rss_restarted
    );
    println!(
        "start-up until /healthz answers: {:.2} s with {documents} documents, {:.2} s with an empty store ({:.1}×)",
        restart.as_secs_f64(),
        empty_start.as_secs_f64(),
        restart.as_secs_f64() / empty_start.as_secs_f64().max(1e-3)
    );
    for line in node.log.lock().unwrap().iter() {
        if ["store replayed", "read models built", "search index built"]
            .iter()
            .any(|w| line.contains(w))
        {
            println!("  {}", strip_ansi(line.trim()));
        }
    }
    println!(
        "machine: {} cores; load average (1 min) {load_before} before the runs, {load_after} after (client and node share the cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if feed_status != 200 {
        println!("GET /api/v1/feed answers {feed_status}: not measured (no JSON feed yet)");
    }
    for (n, runs, single) in &tables {
        println!("\n{n} concurrent sessions:");
        print_table(runs, single);
    }
    if let Some((runs, during, achieved)) = &burst {
        println!(
            "\nwhile New York pushes changes into Paris ({burst_rate}/s asked, {achieved:.0}/s received by Paris during the run), {} sessions:",
            tables.first().map_or(0, |t| t.0)
        );
        print_table(during, &[]);
        println!("\n| endpoint | p99 without the burst | p99 during it | ratio |");
        println!("|---|---:|---:|---:|");
        for (a, b) in runs.iter().zip(during) {
            println!(
                "| {} | {:.2} ms | {:.2} ms | {}× |",
                a.name,
                ms(a.p99),
                ms(b.p99),
                num(b.p99.as_secs_f64() / a.p99.as_secs_f64())
            );
        }
    }
    println!(
        "\n(req/s ratio = baseline req/s ÷ endpoint req/s; latency ratios = endpoint ÷ baseline; \"alone\" = one session, sequential requests, before the loaded run)"
    );
    let runs: Vec<&Run> = tables
        .iter()
        .flat_map(|t| t.1.iter())
        .chain(burst.iter().flat_map(|b| b.1.iter()))
        .collect();
    assert_few_errors(runs.iter().copied());
}

type Endpoint<'a> = (
    &'a str,
    Auth,
    Vec<String>,
    Box<dyn Fn(usize, usize) -> String + Sync + 'a>,
);

/// Starts New York, waits until it holds what Paris holds, then measures Paris's endpoints
/// twice with `tokens`' sessions: quiet, and while New York's employees post `rate` changes
/// a second (each post is one change) into threads of their own. Returns (quiet runs, runs
/// during the burst, changes a second Paris received during it).
fn sync_burst(
    company: &Company,
    paris: &Node,
    rate: usize,
    secs: f64,
    endpoints: &[Endpoint<'_>],
    tokens: &[String],
) -> (Vec<Run>, Vec<Run>, f64) {
    let port = paris.http_port;
    company.configure(1, "write_budget_burst = 0");
    let ny = company.start(1);
    eprintln!(
        "New York catches up with {} documents…",
        paris.metric("weft_documents")
    );
    ny.wait_until(Duration::from_secs(1800), "New York caught up", |n| {
        n.metric("weft_documents") >= paris.metric("weft_documents")
    });
    let writers: Vec<String> = harness::USERS[1].iter().map(|u| ny.login(u)).collect();
    let mut conn = Conn::open(ny.http_port).unwrap();
    let g = call(
        &mut conn,
        &writers[0],
        "POST",
        "/api/v1/groups",
        json!({"name": "Burst", "visibility": "public"}),
        201,
    );
    let gid = g["id"].as_str().unwrap().to_owned();
    if let Some(w) = writers.get(1) {
        let user = harness::USERS[1][1];
        call(
            &mut conn,
            w,
            "POST",
            &format!("/api/v1/groups/{gid}/members"),
            json!({ "user": user }),
            200,
        );
    }
    let targets: Vec<String> = (0..50)
        .map(|i| {
            let t = call(
                &mut conn,
                &writers[i % writers.len()],
                "POST",
                &format!("/api/v1/groups/{gid}/threads"),
                json!({"title": format!("Burst {i}"), "body": "start"}),
                201,
            );
            t["id"].as_str().unwrap().to_owned()
        })
        .collect();
    let quiet: Vec<Run> = endpoints
        .iter()
        .map(|(name, auth, _, path)| load(port, name, tokens, *auth, secs, path))
        .collect();
    // The posters: POSTERS connections at New York, paced together to `rate` posts a second.
    const POSTERS: usize = 16;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let posted = AtomicUsize::new(0);
    let received_before = paris.metric("weft_changes_received_total");
    let started = Instant::now();
    let during = std::thread::scope(|s| {
        for k in 0..POSTERS {
            let (stop, posted, targets, writers) = (&stop, &posted, &targets, &writers);
            let ny_port = ny.http_port;
            s.spawn(move || {
                let mut conn = Conn::open(ny_port).unwrap();
                let mut i = k;
                let begin = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    // Post number i is due at i / rate seconds.
                    let due = Duration::from_secs_f64(i as f64 / rate as f64);
                    if let Some(wait) = due.checked_sub(begin.elapsed()) {
                        std::thread::sleep(wait);
                    }
                    let t = &targets[i % targets.len()];
                    let token = &writers[i % writers.len()];
                    let r = conn.request(
                        "POST",
                        &format!("/api/v1/threads/{t}/posts"),
                        Some((token, Auth::Bearer)),
                        Some(&json!({"body": format!("burst post {i}")}).to_string()),
                    );
                    if matches!(r, Ok((201, _))) {
                        posted.fetch_add(1, Ordering::Relaxed);
                    } else {
                        conn = Conn::open(ny_port).unwrap();
                    }
                    i += POSTERS;
                }
            });
        }
        // Let the burst reach its pace, then measure.
        std::thread::sleep(Duration::from_secs(2));
        let runs: Vec<Run> = endpoints
            .iter()
            .map(|(name, auth, _, path)| {
                load(port, &format!("{name} (burst)"), tokens, *auth, secs, path)
            })
            .collect();
        stop.store(true, Ordering::Relaxed);
        runs
    });
    let elapsed = started.elapsed().as_secs_f64();
    let received = paris.metric("weft_changes_received_total") - received_before;
    eprintln!(
        "New York posted {} posts in {elapsed:.0} s; Paris received {received} changes",
        posted.load(Ordering::Relaxed)
    );
    (quiet, during, received / elapsed)
}

/// A log line without its terminal colours.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip to the end of the escape sequence (a letter).
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

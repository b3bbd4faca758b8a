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

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use harness::{Company, Node};
use serde_json::{Value, json};

const GROUPS: usize = 20;
/// Threads whose pages the thread-page runs cycle over.
const PAGE_THREADS: usize = 300;
/// Client connections used to seed.
const SEEDERS: usize = 4;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

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

/// How a request authenticates: the UI's cookie or the API's bearer token.
#[derive(Clone, Copy)]
enum Auth {
    Cookie,
    Bearer,
}

/// A tiny keep-alive HTTP/1.1 client over one TCP connection.
struct Conn {
    port: u16,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(port: u16) -> std::io::Result<Conn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(600)))?;
        Ok(Conn {
            port,
            reader: BufReader::with_capacity(64 * 1024, s.try_clone()?),
            writer: s,
        })
    }

    /// One request on the connection: (status, body). The connection stays usable unless
    /// this returns an error (then open a new one).
    fn request(
        &mut self,
        method: &str,
        path: &str,
        token: Option<(&str, Auth)>,
        body: Option<&str>,
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept-Language: en\r\n",
            self.port
        );
        match token {
            Some((t, Auth::Cookie)) => head.push_str(&format!("Cookie: weft_session={t}\r\n")),
            Some((t, Auth::Bearer)) => head.push_str(&format!("Authorization: Bearer {t}\r\n")),
            None => {}
        }
        if let Some(b) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        head.push_str("\r\n");
        if let Some(b) = body {
            head.push_str(b);
        }
        self.writer.write_all(head.as_bytes())?;
        self.read_response()
    }

    fn read_line(&mut self, line: &mut String) -> std::io::Result<()> {
        line.clear();
        if self.reader.read_line(line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        Ok(())
    }

    fn read_response(&mut self) -> std::io::Result<(u16, Vec<u8>)> {
        let bad =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
        let mut line = String::new();
        self.read_line(&mut line)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("status line"))?;
        let mut length = None;
        let mut chunked = false;
        let mut close = false;
        loop {
            self.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase());
                match k.as_str() {
                    "content-length" => length = v.parse::<usize>().ok(),
                    "transfer-encoding" => chunked = v.contains("chunked"),
                    "connection" => close = v.contains("close"),
                    _ => {}
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                self.read_line(&mut line)?;
                let size = line.trim().split(';').next().unwrap_or("");
                let n = usize::from_str_radix(size.trim(), 16).map_err(|_| bad("chunk size"))?;
                if n == 0 {
                    // Trailers, then the empty line.
                    loop {
                        self.read_line(&mut line)?;
                        if line.trim_end().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let start = body.len();
                body.resize(start + n, 0);
                self.reader.read_exact(&mut body[start..])?;
                self.read_line(&mut line)?;
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            self.reader.read_exact(&mut body)?;
        } else if status != 204 && status != 304 && !(100..200).contains(&status) {
            self.reader.read_to_end(&mut body)?;
            close = true;
        }
        if close {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                format!("server closed the connection after {status}"),
            ));
        }
        Ok((status, body))
    }
}

/// A JSON call on a keep-alive connection that must answer `expect`.
fn call(conn: &mut Conn, token: &str, method: &str, path: &str, body: Value, expect: u16) -> Value {
    let (status, text) = conn
        .request(
            method,
            path,
            Some((token, Auth::Bearer)),
            Some(&body.to_string()),
        )
        .unwrap();
    let text = String::from_utf8_lossy(&text);
    assert_eq!(status, expect, "{method} {path}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// What one endpoint's run measured.
struct Run {
    name: String,
    requests: usize,
    errors: usize,
    first_error: Option<String>,
    wall: Duration,
    p50: Duration,
    p99: Duration,
    mean_bytes: usize,
}

impl Run {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64()
    }
}

/// What one session of a run saw.
struct Session {
    lat: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
    bytes: usize,
    end: Instant,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Drives `path(session, i)` from one connection per session for `secs` seconds. A request
/// started before the deadline is waited for and counted; the rate is over the time until
/// the last one finished.
fn load(
    port: u16,
    name: &str,
    sessions: &[String],
    auth: Auth,
    secs: f64,
    path: &(dyn Fn(usize, usize) -> String + Sync),
) -> Run {
    eprintln!(
        "measuring {name}: {} sessions for {secs} s…",
        sessions.len()
    );
    let barrier = Barrier::new(sessions.len() + 1);
    let results: Mutex<Vec<Session>> = Mutex::new(Vec::new());
    let mut start = Instant::now();
    std::thread::scope(|s| {
        for (k, token) in sessions.iter().enumerate() {
            let (barrier, results) = (&barrier, &results);
            s.spawn(move || {
                let mut conn = Conn::open(port).unwrap();
                barrier.wait();
                let deadline = Instant::now() + Duration::from_secs_f64(secs);
                let mut lat = Vec::new();
                let (mut errors, mut first_error, mut bytes) = (0, None, 0);
                let mut i = 0;
                while Instant::now() < deadline {
                    let p = path(k, i);
                    i += 1;
                    let t = Instant::now();
                    let r = conn.request("GET", &p, Some((token, auth)), None);
                    lat.push(t.elapsed());
                    match r {
                        Ok((200, body)) => bytes += body.len(),
                        Ok((status, body)) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| {
                                format!(
                                    "GET {p}: {status} {}",
                                    String::from_utf8_lossy(&body[..body.len().min(200)])
                                )
                            });
                        }
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| format!("GET {p}: {e}"));
                            conn = Conn::open(port).unwrap();
                        }
                    }
                }
                results.lock().unwrap().push(Session {
                    lat,
                    errors,
                    first_error,
                    bytes,
                    end: Instant::now(),
                });
            });
        }
        barrier.wait();
        start = Instant::now();
    });
    let results = results.into_inner().unwrap();
    let end = results.iter().map(|r| r.end).max().unwrap();
    let mut lat: Vec<Duration> = results.iter().flat_map(|r| r.lat.iter().copied()).collect();
    lat.sort();
    let errors = results.iter().map(|r| r.errors).sum();
    let ok = lat.len() - errors;
    Run {
        name: name.to_owned(),
        requests: lat.len(),
        errors,
        first_error: results.iter().find_map(|r| r.first_error.clone()),
        wall: end - start,
        p50: percentile(&lat, 0.5),
        p99: percentile(&lat, 0.99),
        mean_bytes: results.iter().map(|r| r.bytes).sum::<usize>() / ok.max(1),
    }
}

/// One session alone, one request after another: the latency of a request with no queue.
fn alone(port: u16, token: &str, auth: Auth, paths: &[String]) -> Duration {
    let mut conn = Conn::open(port).unwrap();
    let mut lat = Vec::new();
    let start = Instant::now();
    for p in paths.iter().cycle() {
        let t = Instant::now();
        let (status, _) = conn.request("GET", p, Some((token, auth)), None).unwrap();
        lat.push(t.elapsed());
        assert_eq!(status, 200, "GET {p}");
        if lat.len() >= 200 || (lat.len() >= 5 && start.elapsed() > Duration::from_secs(3)) {
            break;
        }
    }
    lat.sort();
    percentile(&lat, 0.5)
}

/// The 1-minute load average, to tell whether something else was using the machine.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// A figure with as many decimals as it needs (one below 100, none above).
fn num(x: f64) -> String {
    if x < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
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
    for r in &runs {
        if let Some(e) = &r.first_error {
            println!("{}: first error: {e}", r.name);
        }
    }
    for r in &runs {
        assert!(
            r.errors * 100 <= r.requests,
            "{}: {} errors in {} requests (more than 1%); first: {:?}",
            r.name,
            r.errors,
            r.requests,
            r.first_error
        );
    }
}

/// One table of runs against the first (the baseline: `/healthz`).
fn print_table(runs: &[Run], single: &[Duration]) {
    let base = &runs[0];
    println!(
        "\n| endpoint | requests | errors | req/s | p50 ms | p99 ms | alone p50 ms | body bytes | req/s ratio | p50 ratio | p99 ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (i, r) in runs.iter().enumerate() {
        let alone = single
            .get(i)
            .map_or("–".to_owned(), |a| format!("{:.2}", ms(*a)));
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | {} | {} | {}× | {}× | {}× |",
            r.name,
            r.requests,
            r.errors,
            num(r.rps()),
            ms(r.p50),
            ms(r.p99),
            alone,
            r.mean_bytes,
            num(base.rps() / r.rps()),
            num(r.p50.as_secs_f64() / base.p50.as_secs_f64()),
            num(r.p99.as_secs_f64() / base.p99.as_secs_f64())
        );
    }
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

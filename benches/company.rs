//! A node holding a whole company, measured (issue 15; run with `cargo bench --bench company`).
//!
//! Takes a company saved by `weft bench company` (`COMPANY_DIR`; without it, a small one is
//! generated once into `target/company-bench`: 5,000 people, 40 sites, 400 groups, 50,000
//! posts) and starts the generating site's node on it with `weft run`, as an operator would:
//!
//! * **cold start**: seconds from launching the process to the first `200` from `/healthz`,
//!   twice — the first start may store what the second reads back (group records) — and,
//!   with `COMPANY_BENCH_DROP_CACHES=1` (root only), a third after the OS page cache is
//!   dropped (a machine's first start after a reboot);
//! * **memory**: the process's anonymous resident memory (`RssAnon`: the heap, not the
//!   mapped files) after start-up and after the load, and its peak (`VmHWM`);
//! * **latency under load**: 500 sessions (`COMPANY_BENCH_SESSIONS`), each its own login and
//!   keep-alive connection, for `COMPANY_BENCH_SECS` seconds (default 10) per endpoint:
//!   `/healthz` (the baseline: the most trivial handler, paying the same fixed costs as every
//!   request, measured in the same run so that the ratios factor out the machine),
//!   `/static/weft.css` (off the node's loop), `/api/v1/feed`, `/api/v1/search?q=` (half
//!   planted words with one hit each, half common words with thousands) and
//!   `/api/v1/people?q=` (name prefixes). The goals: feed p99 ≤ 10×, search and
//!   people-search p99 ≤ 20× the baseline's.
//!
//! Prints one table (Markdown) and writes the figures to `COMPANY_DIR/bench.json`. Every
//! response must be `200`; more than 1% errors on an endpoint fails the benchmark.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    dead_code
)]

#[path = "common/load.rs"]
mod load;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use load::{Auth, Conn, Run, assert_few_errors, env_usize, load, loadavg, ms, num, print_table};
use serde_json::{Value, json};

/// The bench logins' password (see `weft bench company`).
const PASSWORD: &str = "weft-bench-password";
/// Words common in the generated posts: searches with many hits.
const COMMON_WORDS: [&str; 8] = [
    "cloud",
    "security",
    "photo",
    "innovation",
    "réseaux",
    "java",
    "agile",
    "vélo",
];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A field of `/proc/PID/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A running node on the saved company.
struct Node {
    child: Child,
    port: u16,
    /// Its libp2p listening port (loopback TCP).
    p2p: u16,
}

impl Node {
    /// Starts the node and waits for `/healthz`; returns it and the seconds that took.
    fn start(site_dir: &Path, log: &Path) -> (Node, f64) {
        let port = free_port();
        let p2p = free_port();
        let out = std::fs::File::create(log).unwrap();
        let started = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["run", "--config", "weft.toml"])
            .current_dir(site_dir)
            .env("WEFT_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("WEFT_LISTEN", format!("/ip4/127.0.0.1/tcp/{p2p}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let mut node = Node { child, port, p2p };
        loop {
            if let Ok(Some(status)) = node.child.try_wait() {
                panic!(
                    "the node exited ({status}) before answering; see {}",
                    log.display()
                );
            }
            if let Ok(mut c) = Conn::open(port)
                && matches!(c.request("GET", "/healthz", None, None), Ok((200, _)))
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (node, started.elapsed().as_secs_f64())
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The sum of each series of a metric in `/metrics` (the node serves it to loopback).
    fn metric(&self, name: &str) -> f64 {
        let Ok(mut c) = Conn::open(self.port) else {
            return 0.0;
        };
        let Ok((200, body)) = c.request("GET", "/metrics", None, None) else {
            return 0.0;
        };
        String::from_utf8_lossy(&body)
            .lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Stops it as an operator would (SIGTERM: a clean stop) and waits.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn login(&self, user: &str) -> String {
        let body = json!({"login": user, "password": PASSWORD}).to_string();
        for attempt in 0..20 {
            let mut c = Conn::open(self.port).unwrap();
            let (status, text) = c
                .request("POST", "/api/v1/session", None, Some(&body))
                .unwrap();
            if status == 200 {
                let v: Value = serde_json::from_slice(&text).unwrap();
                return v["token"].as_str().unwrap().to_owned();
            }
            assert_eq!(
                status,
                429,
                "login {user}: {}",
                String::from_utf8_lossy(&text)
            );
            std::thread::sleep(Duration::from_millis(200 * (attempt + 1)));
        }
        panic!("login {user}: still limited");
    }
}

/// The saved company to measure: `COMPANY_DIR`, or a small one generated once.
fn company_dir() -> PathBuf {
    if let Ok(d) = std::env::var("COMPANY_DIR") {
        return PathBuf::from(d);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/company-bench");
    if dir.join("company.json").exists() {
        return dir;
    }
    eprintln!(
        "no COMPANY_DIR: generating a small company into {}…",
        dir.display()
    );
    let _ = std::fs::remove_dir_all(&dir);
    let status = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "bench", "company", "--people", "5000", "--sites", "40", "--groups", "400", "--posts",
            "50000", "--days", "60", "--out",
        ])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success(), "weft bench company failed");
    dir
}

/// The generating site's bench logins (its first employees in directory order, as `weft bench
/// company` gave them the password) and every employee's family name.
fn people(dir: &Path, site: &str, logins: usize) -> (Vec<String>, Vec<String>) {
    let bytes = std::fs::read(dir.join("directory.signed")).unwrap();
    let signed = weft_keys::directory::SignedDirectory::from_bytes(&bytes).unwrap();
    let d = signed.open().unwrap();
    let users = d
        .employees
        .values()
        .filter(|e| e.site == site)
        .map(|e| e.id.clone())
        .take(logins)
        .collect();
    let names = d
        .employees
        .values()
        .map(|e| e.family_name.to_lowercase())
        .collect();
    (users, names)
}

/// A percent-encoded query value.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn main() {
    let secs = env_usize("COMPANY_BENCH_SECS", 10) as f64;
    let n_sessions = env_usize("COMPANY_BENCH_SESSIONS", 500);
    let dir = company_dir();
    let figures: Value =
        serde_json::from_slice(&std::fs::read(dir.join("company.json")).unwrap()).unwrap();
    let site = figures["site"].as_str().unwrap().to_owned();
    let site_dir = dir.join("sites").join(&site);
    let log = dir.join("bench-node.log");
    let bench_logins = figures["bench_logins"].as_u64().unwrap_or(0) as usize;
    assert!(bench_logins > 0, "the saved company has no bench logins");

    // Cold starts.
    let mut starts = Vec::new();
    for i in 0..2 {
        let (node, secs) = Node::start(&site_dir, &log);
        eprintln!("start {}: /healthz after {secs:.2} s", i + 1);
        starts.push(secs);
        node.stop();
    }
    let mut dropped = None;
    if std::env::var("COMPANY_BENCH_DROP_CACHES").as_deref() == Ok("1") {
        let _ = Command::new("sync").status();
        if std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok() {
            let (node, secs) = Node::start(&site_dir, &log);
            eprintln!("start after dropping the page cache: /healthz after {secs:.2} s");
            dropped = Some(secs);
            node.stop();
        } else {
            eprintln!("cannot drop the page cache (not root?): skipped");
        }
    }

    let (node, _) = Node::start(&site_dir, &log);
    std::thread::sleep(Duration::from_secs(5));
    let anon_started = status_kib(node.pid(), "RssAnon:");
    let (users, names) = people(&dir, &site, bench_logins);
    eprintln!("logging in {n_sessions} sessions…");
    let tokens: Vec<String> = (0..n_sessions)
        .map(|i| node.login(&users[i % users.len()]))
        .collect();

    let truth: Value =
        serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap();
    let planted: Vec<String> = truth["tokens"]
        .as_object()
        .map(|m| m.keys().take(5_000).cloned().collect())
        .unwrap_or_default();
    let searches: Vec<String> = (0..planted.len().max(COMMON_WORDS.len()) * 2)
        .map(|i| {
            let q = if i % 2 == 0 && !planted.is_empty() {
                planted[(i / 2) % planted.len()].clone()
            } else {
                COMMON_WORDS[(i / 2) % COMMON_WORDS.len()].to_owned()
            };
            format!("/api/v1/search?q={}", encode(&q))
        })
        .collect();
    let lookups: Vec<String> = (0..5_000)
        .map(|i| {
            let name = &names[(i * 7_919) % names.len()];
            let prefix: String = name.chars().take(3 + i % 3).collect();
            format!("/api/v1/people?q={}", encode(&prefix))
        })
        .collect();
    let pick = |list: &[String], k: usize, i: usize| list[(k * 131 + i) % list.len()].clone();

    let port = node.port;
    type PathOf<'a> = Box<dyn Fn(usize, usize) -> String + Sync + 'a>;
    let endpoints: Vec<(&str, PathOf)> = vec![
        ("GET /healthz", Box::new(|_, _| "/healthz".into())),
        (
            "GET /static/weft.css",
            Box::new(|_, _| "/static/weft.css".into()),
        ),
        ("GET /api/v1/feed", Box::new(|_, _| "/api/v1/feed".into())),
        (
            "GET /api/v1/search?q=",
            Box::new(|k, i| pick(&searches, k, i)),
        ),
        (
            "GET /api/v1/people?q=",
            Box::new(|k, i| pick(&lookups, k, i)),
        ),
    ];
    let runs: Vec<Run> = endpoints
        .iter()
        .map(|(name, path)| load(port, name, &tokens, Auth::Bearer, secs, path.as_ref()))
        .collect();
    let anon_loaded = status_kib(node.pid(), "RssAnon:");
    let peak = status_kib(node.pid(), "VmHWM:");
    node.stop();

    let join = std::env::var("COMPANY_BENCH_JOIN")
        .ok()
        .filter(|v| !v.is_empty() && v != "0")
        .map(|v| join_phase(&dir, &site_dir, &site, &v, &log, &tokens));

    let gib = |kib: u64| kib as f64 / (1024.0 * 1024.0);
    println!(
        "\n## A node holding {} people, {} groups, {} posts ({} changes, {} documents) — site {site}\n",
        figures["spec"]["people"],
        figures["spec"]["groups"],
        figures["posts"],
        figures["changes"],
        figures["documents"]
    );
    println!(
        "cold start to /healthz: {:.2} s, then {:.2} s{}",
        starts[0],
        starts[1],
        dropped.map_or(String::new(), |d| format!(
            ", {d:.2} s with the page cache dropped"
        ))
    );
    println!(
        "anonymous resident memory: {:.2} GiB after start-up, {:.2} GiB after the load; peak resident {:.2} GiB",
        gib(anon_started),
        gib(anon_loaded),
        gib(peak)
    );
    println!(
        "{} sessions, {secs} s per endpoint, load average {}",
        tokens.len(),
        loadavg()
    );
    print_table(&runs, &[]);
    if let Some(j) = &join {
        let gb = |v: &Value| v.as_f64().unwrap_or(0.0) / (1024.0 * 1024.0);
        if j["reused"] == true {
            println!(
                "\n{} joined in an earlier run (COMPANY_BENCH_REUSE_JOINED=1): its join not measured again",
                j["site"].as_str().unwrap_or("")
            );
        } else {
            println!(
                "\njoin of {} from nothing (one peer: {site}): {} of {} documents it may hold in {:.0} s; {:.1} MB received for {:.1} MB of signed changes held ({:.2}×); peak resident {:.2} GiB, anonymous {:.2} GiB (the peer's {:.2} GiB)",
                j["site"].as_str().unwrap_or(""),
                j["documents"],
                j["expected_documents"],
                j["secs"].as_f64().unwrap_or(0.0),
                j["bytes_received"].as_f64().unwrap_or(0.0) / 1e6,
                j["signed_bytes"].as_f64().unwrap_or(0.0) / 1e6,
                j["bytes_ratio"].as_f64().unwrap_or(0.0),
                gb(&j["peak_rss_kib"]),
                gb(&j["peak_anon_kib"]),
                gb(&j["peer_peak_rss_kib"]),
            );
        }
        let w = &j["week"];
        if !w.is_null() {
            println!(
                "back after a week offline ({} replies written meanwhile): {} changes, {:.2} MB of signed changes gained, {:.2} MB received ({:.2}×) in {:.0} s; peak resident {:.2} GiB, anonymous {:.2} GiB",
                w["replies_written"],
                w["changes_gained"],
                w["signed_bytes_gained"].as_f64().unwrap_or(0.0) / 1e6,
                w["bytes_received"].as_f64().unwrap_or(0.0) / 1e6,
                w["bytes_ratio"].as_f64().unwrap_or(0.0),
                w["secs"].as_f64().unwrap_or(0.0),
                gb(&w["peak_rss_kib"]),
                gb(&w["peak_anon_kib"]),
            );
        }
        let t = &j["two_peers"];
        if !t.is_null() {
            println!(
                "join of {} from two peers ({}, {}): {} of {} documents in {:.0} s; {:.1} MB received ({:.1} and {:.1} MB sent by each) for {:.1} MB of signed changes held ({:.2}×); peak resident {:.2} GiB, anonymous {:.2} GiB",
                t["site"].as_str().unwrap_or(""),
                t["peers"][0].as_str().unwrap_or(""),
                t["peers"][1].as_str().unwrap_or(""),
                t["documents"],
                t["expected_documents"],
                t["secs"].as_f64().unwrap_or(0.0),
                t["bytes_received"].as_f64().unwrap_or(0.0) / 1e6,
                t["bytes_sent_by_peers"][0].as_f64().unwrap_or(0.0) / 1e6,
                t["bytes_sent_by_peers"][1].as_f64().unwrap_or(0.0) / 1e6,
                t["signed_bytes"].as_f64().unwrap_or(0.0) / 1e6,
                t["bytes_ratio"].as_f64().unwrap_or(0.0),
                gb(&t["peak_rss_kib"]),
                gb(&t["peak_anon_kib"]),
            );
        }
    }
    let base = &runs[0];
    let ratio = |r: &Run| r.p99.as_secs_f64() / base.p99.as_secs_f64();
    let result = json!({
        "site": site,
        "sessions": tokens.len(),
        "secs_per_endpoint": secs,
        "cold_start_secs": starts,
        "cold_start_dropped_cache_secs": dropped,
        "rss_anon_kib_started": anon_started,
        "rss_anon_kib_loaded": anon_loaded,
        "peak_rss_kib": peak,
        "join": join,
        "runs": runs.iter().map(|r| json!({
            "endpoint": r.name,
            "requests": r.requests,
            "errors": r.errors,
            "rps": r.rps(),
            "p50_ms": ms(r.p50),
            "p99_ms": ms(r.p99),
            "p99_ratio": ratio(r),
        })).collect::<Vec<_>>(),
    });
    std::fs::write(
        dir.join("bench.json"),
        serde_json::to_string_pretty(&result).unwrap(),
    )
    .unwrap();
    println!(
        "\ngoals: feed p99 {}× (≤ 10×), search p99 {}× and people p99 {}× (≤ 20×)",
        num(ratio(&runs[2])),
        num(ratio(&runs[3])),
        num(ratio(&runs[4]))
    );
    assert_few_errors(&runs);
}

/// What a site may hold of the saved company: every profile, every public group, the groups
/// with a member homed at the site, their threads.
fn may_hold(dir: &Path, d: &weft_keys::Directory, site: &str) -> u64 {
    let truth: Value =
        serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap();
    let mut expected = truth["profiles"].as_u64().unwrap_or(0);
    for g in truth["groups"].as_array().into_iter().flatten() {
        let open = g["visibility"] == "public"
            || g["members"].as_array().into_iter().flatten().any(|m| {
                m.as_str()
                    .and_then(|m| d.employees.get(m))
                    .is_some_and(|e| e.site == site)
            });
        if open {
            expected += 1 + g["threads"].as_u64().unwrap_or(0);
        }
    }
    expected
}

/// The sites by number of employees, largest first (ties by id).
fn sites_by_size(d: &weft_keys::Directory) -> Vec<String> {
    let mut sizes: std::collections::BTreeMap<&str, usize> = Default::default();
    for e in d.employees.values() {
        *sizes.entry(e.site.as_str()).or_default() += 1;
    }
    let mut v: Vec<(&str, usize)> = sizes.into_iter().collect();
    v.sort_by_key(|(s, n)| (std::cmp::Reverse(*n), *s));
    v.into_iter().map(|(s, _)| s.to_owned()).collect()
}

/// Writes the configuration of a site's node at `home` (made afresh) that dials `peers`
/// (loopback libp2p ports).
fn joiner_home(dir: &Path, site: &str, peers: &[u16]) -> PathBuf {
    let home = dir.join(format!("join-{site}"));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    write_config(dir, &home, site, peers);
    home
}

fn write_config(dir: &Path, home: &Path, site: &str, peers: &[u16]) {
    let abs = |p: PathBuf| std::fs::canonicalize(p).unwrap().display().to_string();
    let peers: Vec<String> = peers
        .iter()
        .map(|p| format!("\"/ip4/127.0.0.1/tcp/{p}\""))
        .collect();
    std::fs::write(
        home.join("weft.toml"),
        format!(
            "site = \"{site}\"\ndata_dir = \"data\"\nnode_key = \"{}\"\ndirectory = \"{}\"\ntrust = [\"{}\"]\npeers = [{}]\nmdns = false\n",
            abs(dir.join("sites").join(site).join("node.key")),
            abs(dir.join("directory.signed")),
            abs(dir.join("authority/authority.pub")),
            peers.join(", ")
        ),
    )
    .unwrap();
}

/// Waits while `node` catches up: until it holds `expected` documents and its received
/// changes have not moved for ten seconds, or nothing moved for a minute, or
/// `COMPANY_BENCH_JOIN_SECS` (default 1,800) passed. Returns the seconds until the last
/// change arrived, the peak resident memory (KiB; `VmHWM`, which counts the pages of mapped
/// files such as the search index's) and the largest anonymous resident memory seen (KiB;
/// `RssAnon`, sampled every 2 s: the heap).
fn catch_up(node: &Node, expected: u64) -> (f64, u64, u64) {
    let limit = env_usize("COMPANY_BENCH_JOIN_SECS", 1_800) as f64;
    let started = Instant::now();
    let (mut last, mut still_since, mut done_at) = ((0.0, 0.0), Instant::now(), 0.0);
    let mut told = Instant::now();
    let (mut peak, mut peak_anon) = (0, 0);
    loop {
        std::thread::sleep(Duration::from_secs(2));
        peak = peak.max(status_kib(node.pid(), "VmHWM:"));
        peak_anon = peak_anon.max(status_kib(node.pid(), "RssAnon:"));
        let docs = node.metric("weft_documents");
        let changes = node.metric("weft_changes_received_total");
        if (docs, changes) != last {
            last = (docs, changes);
            still_since = Instant::now();
            done_at = started.elapsed().as_secs_f64();
        }
        if told.elapsed() > Duration::from_secs(10) {
            told = Instant::now();
            eprintln!(
                "  {:.0} s: {docs} documents, {changes} changes, {:.1} MB received, resident {:.2} GiB",
                started.elapsed().as_secs_f64(),
                node.metric("weft_bytes_received_total") / 1e6,
                status_kib(node.pid(), "VmRSS:") as f64 / (1024.0 * 1024.0)
            );
        }
        if docs as u64 >= expected
            && changes > 0.0
            && still_since.elapsed() > Duration::from_secs(10)
            || still_since.elapsed() > Duration::from_secs(60)
            || started.elapsed().as_secs_f64() > limit
        {
            break;
        }
    }
    (
        done_at,
        peak.max(status_kib(node.pid(), "VmHWM:")),
        peak_anon.max(status_kib(node.pid(), "RssAnon:")),
    )
}

fn store_stats(home: &Path) -> weft_node::store::StoreStats {
    weft_node::Store::open(&home.join("data/store"))
        .map(|s| s.stats())
        .unwrap()
}

/// A new site joins from nothing: its node (`DIR/join-<site>`, made afresh) starts with the
/// directory and the address of the generating site's node, and catches up (see
/// [`catch_up`]): time, documents against those it may hold (public groups, groups with a
/// member homed there, their threads, every profile), bytes received against the signed
/// bytes of the changes it then holds, and its peak resident memory, with the peer's peak
/// too. `COMPANY_BENCH_JOIN=1` takes the site with the most employees after the generating
/// one; any other value names it. Then, unless `COMPANY_BENCH_WEEK=0`, [`week_phase`], and
/// [`two_peer_join`]. With `COMPANY_BENCH_REUSE_JOINED=1`, a site that joined in an earlier
/// run (its `DIR/join-<site>` holds a store) is not joined again: only the two-peer join runs.
fn join_phase(
    dir: &Path,
    site_dir: &Path,
    site: &str,
    which: &str,
    log: &Path,
    tokens: &[String],
) -> Value {
    let bytes = std::fs::read(dir.join("directory.signed")).unwrap();
    let d = weft_keys::directory::SignedDirectory::from_bytes(&bytes)
        .unwrap()
        .open()
        .unwrap();
    let by_size: Vec<String> = sites_by_size(&d)
        .into_iter()
        .filter(|s| s != site)
        .collect();
    let joiner = if which == "1" {
        by_size[0].clone()
    } else {
        which.to_owned()
    };
    let expected = may_hold(dir, &d, &joiner);
    let (peer, _) = Node::start(site_dir, log);
    let reused = dir.join(format!("join-{joiner}"));
    if std::env::var("COMPANY_BENCH_REUSE_JOINED").as_deref() == Ok("1")
        && reused.join("data/store").exists()
    {
        // The first join ran before: only the two-peer join is measured again.
        eprintln!(
            "{joiner} joined in an earlier run: reusing {}",
            reused.display()
        );
        let mut result = json!({"site": joiner, "reused": true});
        two_peer_join(
            dir,
            &d,
            site,
            &joiner,
            &reused,
            &peer,
            &by_size,
            &mut result,
        );
        peer.stop();
        return result;
    }
    let home = joiner_home(dir, &joiner, &[peer.p2p]);
    eprintln!("{joiner} joins from nothing; it may hold {expected} documents…");
    let (node, _) = Node::start(&home, &home.join("node.log"));
    let (secs, peak, peak_anon) = catch_up(&node, expected);
    let received = node.metric("weft_bytes_received_total");
    let peer_peak = status_kib(peer.pid(), "VmHWM:");
    node.stop();
    let stats = store_stats(&home);
    let mut result = json!({
        "site": joiner,
        "documents": stats.documents,
        "expected_documents": expected,
        "changes": stats.changes,
        "secs": secs,
        "bytes_received": received,
        "signed_bytes": stats.change_bytes,
        "bytes_ratio": received / (stats.change_bytes.max(1) as f64),
        "peak_rss_kib": peak,
        "peak_anon_kib": peak_anon,
        "peer_peak_rss_kib": peer_peak,
    });
    if std::env::var("COMPANY_BENCH_WEEK").as_deref() != Ok("0") {
        result["week"] = week_phase(&peer, &home, &joiner, tokens);
    }
    two_peer_join(dir, &d, site, &joiner, &home, &peer, &by_size, &mut result);
    peer.stop();
    result
}

/// Unless `COMPANY_BENCH_JOIN2=0`, a third site (the next largest) joins from nothing from
/// both the generating site's node (`peer`) and the first joiner's (at `home`), which
/// serves too now: time, bytes received against the signed bytes it then holds, what each
/// peer sent, peak memory (in `result["two_peers"]`).
#[allow(clippy::too_many_arguments)]
fn two_peer_join(
    dir: &Path,
    d: &weft_keys::Directory,
    site: &str,
    joiner: &str,
    home: &Path,
    peer: &Node,
    by_size: &[String],
    result: &mut Value,
) {
    if std::env::var("COMPANY_BENCH_JOIN2").as_deref() != Ok("0")
        && let Some(third) = by_size.iter().find(|s| **s != joiner)
    {
        // The first joiner serves too now.
        let first_log = home.join("node.log");
        write_config(dir, home, joiner, &[peer.p2p]);
        let (first, _) = Node::start(home, &first_log);
        let expected = may_hold(dir, d, third);
        let home3 = joiner_home(dir, third, &[peer.p2p, first.p2p]);
        eprintln!(
            "{third} joins from nothing from two peers ({site}, {joiner}); it may hold {expected} documents…"
        );
        let sent_before = (
            peer.metric("weft_bytes_sent_total"),
            first.metric("weft_bytes_sent_total"),
        );
        let (node, _) = Node::start(&home3, &home3.join("node.log"));
        let (secs, peak, peak_anon) = catch_up(&node, expected);
        let received = node.metric("weft_bytes_received_total");
        let sent = (
            peer.metric("weft_bytes_sent_total") - sent_before.0,
            first.metric("weft_bytes_sent_total") - sent_before.1,
        );
        node.stop();
        first.stop();
        let stats = store_stats(&home3);
        result["two_peers"] = json!({
            "site": third,
            "peers": [site, joiner],
            "documents": stats.documents,
            "expected_documents": expected,
            "changes": stats.changes,
            "secs": secs,
            "bytes_received": received,
            "bytes_sent_by_peers": [sent.0, sent.1],
            "signed_bytes": stats.change_bytes,
            "bytes_ratio": received / (stats.change_bytes.max(1) as f64),
            "peak_rss_kib": peak,
        "peak_anon_kib": peak_anon,
        });
    }
}

/// A site back after a week offline: the joined site's node is stopped, the company writes
/// a week of replies at the peer (`COMPANY_BENCH_WEEK_POSTS`, default 7,000: the sources'
/// 1,000 posts a day, in threads of each writer's feed), and the site restarts. Measured:
/// the bytes it received against the signed bytes of the changes it gained, and the
/// seconds until the last one arrived.
fn week_phase(peer: &Node, home: &Path, joiner: &str, tokens: &[String]) -> Value {
    let posts = env_usize("COMPANY_BENCH_WEEK_POSTS", 7_000);
    let before = store_stats(home);
    eprintln!("{joiner} is away; {posts} replies are written at the peer…");
    let mut conn = Conn::open(peer.port).unwrap();
    let feeds: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            let v = load::call(&mut conn, t, "GET", "/api/v1/feed", Value::Null, 200);
            v["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .collect();
    let (mut written, mut refused) = (0, 0);
    for i in 0..posts {
        let k = i % tokens.len();
        let Some(thread) =
            (!feeds[k].is_empty()).then(|| &feeds[k][(i / tokens.len()) % feeds[k].len()])
        else {
            continue;
        };
        let body =
            json!({"body": format!("Semaine d'absence : réponse {i}, on en reparle lundi #suivi")})
                .to_string();
        let (status, _) = conn
            .request(
                "POST",
                &format!("/api/v1/threads/{thread}/posts"),
                Some((&tokens[k], Auth::Bearer)),
                Some(&body),
            )
            .unwrap();
        if status == 201 {
            written += 1;
        } else {
            refused += 1;
        }
        if (i + 1) % 1_000 == 0 {
            eprintln!("  {} written", i + 1);
        }
    }
    eprintln!("{written} replies written ({refused} refused); {joiner} comes back…");
    let (node, _) = Node::start(home, &home.join("node.log"));
    let (secs, peak, peak_anon) = catch_up(&node, before.documents);
    let received = node.metric("weft_bytes_received_total");
    node.stop();
    let after = store_stats(home);
    let gained = after.change_bytes.saturating_sub(before.change_bytes);
    json!({
        "replies_written": written,
        "changes_gained": after.changes.saturating_sub(before.changes),
        "signed_bytes_gained": gained,
        "bytes_received": received,
        "bytes_ratio": received / (gained.max(1) as f64),
        "secs": secs,
        "peak_rss_kib": peak,
        "peak_anon_kib": peak_anon,
    })
}

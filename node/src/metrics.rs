//! Counters an operator watches, shared between the runtime (which updates them) and the web
//! layer (which renders them at `/metrics` in the Prometheus text format).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The node's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    pub peers_connected: AtomicU64,
    pub changes_in: AtomicU64,
    pub changes_local: AtomicU64,
    pub frames_in: AtomicU64,
    pub gossip_in: AtomicU64,
    pub frames_out: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub sync_backlog: AtomicU64,
    pub pending_changes: AtomicU64,
    pub refused_peers: AtomicU64,
    pub malformed_frames: AtomicU64,
    pub documents: AtomicU64,
    pub documents_in_memory: AtomicU64,
    pub document_loads: AtomicU64,
    pub pending_bytes: AtomicU64,
    pub stored_unreadable: AtomicU64,
    pub vouched: AtomicU64,
    pub writes_refused: AtomicU64,
    pub certificates_refused: AtomicU64,
    pub throttled_bundles: AtomicU64,
    pub expired_changes: AtomicU64,
    pub directory_version: AtomicU64,
    /// Passwords hashed or checked (argon2: about 19 MiB and tens of milliseconds each).
    pub password_checks: AtomicU64,
    /// Logins refused before any check: too many failures, or too many checks at once.
    pub logins_refused: AtomicU64,
    /// Web sessions alive.
    pub sessions: AtomicU64,
    /// Refused changes by reason code.
    pub rejections: Mutex<BTreeMap<&'static str, u64>>,
    /// Jobs of the core's thread by name: how many, and their total seconds.
    pub jobs: Mutex<BTreeMap<&'static str, (u64, f64)>>,
    pub commits: AtomicU64,
    pub committed_changes: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn set(counter: &AtomicU64, n: u64) {
        counter.store(n, Ordering::Relaxed);
    }

    pub fn reject(&self, code: &'static str) {
        if let Ok(mut m) = self.rejections.lock() {
            *m.entry(code).or_default() += 1;
        }
    }

    /// The Prometheus text exposition of every counter.
    pub fn render(&self, site: &str) -> String {
        let mut s = String::new();
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut line = |name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP weft_{name} {help}");
            let _ = writeln!(s, "# TYPE weft_{name} {kind}");
            let _ = writeln!(s, "weft_{name}{{site=\"{site}\"}} {v}");
        };
        line(
            "peers_connected",
            "gauge",
            "Sites connected now.",
            g(&self.peers_connected),
        );
        line(
            "changes_received_total",
            "counter",
            "Changes accepted from peers.",
            g(&self.changes_in),
        );
        line(
            "changes_local_total",
            "counter",
            "Changes made by this site's users.",
            g(&self.changes_local),
        );
        line(
            "frames_received_total",
            "counter",
            "Sync frames received.",
            g(&self.frames_in),
        );
        line(
            "frames_sent_total",
            "counter",
            "Sync frames sent.",
            g(&self.frames_out),
        );
        line(
            "gossip_received_total",
            "counter",
            "Gossip messages of public changes received.",
            g(&self.gossip_in),
        );
        line(
            "bytes_received_total",
            "counter",
            "Sync bytes received.",
            g(&self.bytes_in),
        );
        line(
            "bytes_sent_total",
            "counter",
            "Sync bytes sent.",
            g(&self.bytes_out),
        );
        line(
            "sync_backlog_frames",
            "gauge",
            "Frames waiting to be sent.",
            g(&self.sync_backlog),
        );
        line(
            "pending_changes",
            "gauge",
            "Changes waiting for a dependency, certificate or directory.",
            g(&self.pending_changes),
        );
        line(
            "refused_peers_total",
            "counter",
            "Connections refused: peer not a site in the directory.",
            g(&self.refused_peers),
        );
        line(
            "malformed_frames_total",
            "counter",
            "Frames dropped because they could not be decoded.",
            g(&self.malformed_frames),
        );
        line("documents", "gauge", "Documents held.", g(&self.documents));
        line(
            "documents_in_memory",
            "gauge",
            "Documents held in memory (the others are read back from the store when needed).",
            g(&self.documents_in_memory),
        );
        line(
            "document_loads_total",
            "counter",
            "Documents read back from the store into memory.",
            g(&self.document_loads),
        );
        line(
            "pending_bytes",
            "gauge",
            "Bytes of changes waiting for a dependency, certificate or directory.",
            g(&self.pending_bytes),
        );
        line(
            "stored_changes_unreadable_total",
            "counter",
            "Changes in this node's own store that could not be decoded when read back.",
            g(&self.stored_unreadable),
        );
        line(
            "changes_vouched_total",
            "counter",
            "Changes refused on their author's standing, then accepted because a change in good standing depended on them.",
            g(&self.vouched),
        );
        line(
            "writes_rate_limited_total",
            "counter",
            "Commands refused because the employee's write budget was spent.",
            g(&self.writes_refused),
        );
        line(
            "certificates_refused_total",
            "counter",
            "Employee certificates from peers refused (signer not a listed node key, malformed).",
            g(&self.certificates_refused),
        );
        line(
            "bundles_throttled_total",
            "counter",
            "Bundles of changes dropped because a peer exceeded its ingest budget.",
            g(&self.throttled_bundles),
        );
        line(
            "changes_expired_total",
            "counter",
            "Waiting changes dropped after waiting too long.",
            g(&self.expired_changes),
        );
        line(
            "directory_version",
            "gauge",
            "The directory version this node holds.",
            g(&self.directory_version),
        );
        line(
            "password_checks_total",
            "counter",
            "Passwords checked or hashed (argon2).",
            g(&self.password_checks),
        );
        line(
            "logins_refused_total",
            "counter",
            "Logins refused before any password check (rate limits, checks at capacity).",
            g(&self.logins_refused),
        );
        line(
            "sessions",
            "gauge",
            "Web sessions alive.",
            g(&self.sessions),
        );
        let _ = writeln!(
            s,
            "# HELP weft_job_seconds Time the core's thread spent on jobs, by job."
        );
        let _ = writeln!(s, "# TYPE weft_job_seconds summary");
        if let Ok(m) = self.jobs.lock() {
            for (job, (n, secs)) in m.iter() {
                let _ = writeln!(
                    s,
                    "weft_job_seconds_count{{site=\"{site}\",job=\"{job}\"}} {n}"
                );
                let _ = writeln!(
                    s,
                    "weft_job_seconds_sum{{site=\"{site}\",job=\"{job}\"}} {secs}"
                );
            }
        }
        let _ = writeln!(
            s,
            "# HELP weft_commits_total Commits of the store (each one flush)."
        );
        let _ = writeln!(s, "# TYPE weft_commits_total counter");
        let _ = writeln!(
            s,
            "weft_commits_total{{site=\"{site}\"}} {}",
            g(&self.commits)
        );
        let _ = writeln!(
            s,
            "weft_committed_changes_total{{site=\"{site}\"}} {}",
            g(&self.committed_changes)
        );
        let _ = writeln!(
            s,
            "# HELP weft_changes_rejected_total Changes refused, by reason."
        );
        let _ = writeln!(s, "# TYPE weft_changes_rejected_total counter");
        if let Ok(m) = self.rejections.lock() {
            for (reason, n) in m.iter() {
                let _ = writeln!(
                    s,
                    "weft_changes_rejected_total{{site=\"{site}\",reason=\"{reason}\"}} {n}"
                );
            }
        }
        s
    }
}

impl Metrics {
    /// A job of the core's thread took `took` (web commands by name, `commit`, `timer`).
    pub fn job_done(&self, name: &'static str, took: std::time::Duration) {
        if let Ok(mut m) = self.jobs.lock() {
            let e = m.entry(name).or_default();
            e.0 += 1;
            e.1 += took.as_secs_f64();
        }
    }

    /// A commit made `changes` changes durable.
    pub fn commit(&self, changes: usize) {
        Metrics::add(&self.commits, 1);
        Metrics::add(&self.committed_changes, changes as u64);
    }
}

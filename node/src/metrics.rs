//! What an operator watches, shared between the runtime and the web layer (which update it)
//! and rendered at `/metrics` by [`Metrics::render`], through the `prometheus-client`
//! library, in the OpenMetrics text format that Prometheus reads.
//!
//! Every metric is named `weft_…` and labelled with the node's `site`. Counters and gauges
//! are plain fields that the runtime adds to or sets ([`Metrics::add`], [`Metrics::set`]);
//! the histograms are filled through methods:
//!
//! | histogram | filled by | labels |
//! |---|---|---|
//! | `weft_http_request_duration_seconds` | [`Metrics::http_request`], the web layer's latency layer | `route` (the path pattern, never the path), `method` |
//! | `weft_job_seconds` | [`Metrics::job_done`] / [`Metrics::time`], the core thread's named jobs (web jobs by the name they were called with, `commit`, `timer`) | `job` |
//! | `weft_commit_changes` | [`Metrics::commit`], each commit that stored changes | — |
//! | `weft_sync_lag_seconds` | [`Metrics::sync_lag`], each change accepted from a peer: from its author's signed time to now | `peer` (the site) |
//!
//! Labels take values from small fixed sets (routes, job names, the directory's sites), so
//! the number of series stays bounded whatever clients send.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A gauge of whole numbers.
pub type UGauge = Gauge<u64, AtomicU64>;

/// Labels of a series: (name, value) pairs.
type Labels = Vec<(&'static str, String)>;

/// A family of histograms by label, all with the same buckets.
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// Seconds, from 1 ms to about 16 s: requests and jobs.
fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// Seconds, from 10 ms to about 11 hours: how late changes arrive (a site that was offline
/// for a day catches up with changes a day old).
fn lag() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 4.0, 12))
}

/// The node's metrics.
#[derive(Debug)]
pub struct Metrics {
    pub peers_connected: UGauge,
    pub changes_in: Counter,
    pub changes_local: Counter,
    pub frames_in: Counter,
    pub gossip_in: Counter,
    pub frames_out: Counter,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    pub sync_backlog: UGauge,
    pub pending_changes: UGauge,
    pub refused_peers: Counter,
    pub malformed_frames: Counter,
    pub documents: UGauge,
    pub documents_in_memory: UGauge,
    pub document_loads: Counter,
    pub pending_bytes: UGauge,
    pub stored_unreadable: Counter,
    pub vouched: Counter,
    pub writes_refused: Counter,
    /// Changes announced by near peers, and those asked of them because their own copy was
    /// late (see `weft_crdt::sync::Config::repair_peers`).
    pub announced_changes: Counter,
    pub repaired_changes: Counter,
    pub certificates_refused: Counter,
    pub throttled_bundles: Counter,
    pub expired_changes: Counter,
    pub directory_version: UGauge,
    /// Passwords hashed or checked (argon2: about 19 MiB and tens of milliseconds each).
    pub password_checks: Counter,
    /// Logins refused before any check: too many failures, or too many checks at once.
    pub logins_refused: Counter,
    /// Web sessions alive.
    pub sessions: UGauge,
    /// Commits that stored changes (each one flush), and the changes they stored (the
    /// count and sum of `weft_commit_changes` too).
    pub commits: Counter,
    /// Catch-up rounds finished with a peer (range reconciliation done on our side): tests
    /// and operators wait on it ("a full round after X happened").
    pub sync_rounds: Counter,
    pub committed_changes: Counter,
    /// Files: bytes received from and sent to peers, blobs fetched whole, fetches that found
    /// no site able to send the blob, blobs a peer sent that did not match their hash,
    /// requests refused to peers (not theirs to hold), transfers running now.
    pub blob_bytes_in: Counter,
    pub blob_bytes_out: Counter,
    pub blobs_fetched: Counter,
    pub blob_fetch_failures: Counter,
    pub blobs_corrupt: Counter,
    pub blob_requests_refused: Counter,
    pub blob_transfers: UGauge,
    /// Files stored at this site: bytes, blobs, and the quota in bytes (0: none).
    pub files_bytes: UGauge,
    pub files: UGauge,
    pub files_quota_bytes: UGauge,
    /// Mail: accepted by the SMTP server, given up (refused for good, or uncertain after a
    /// timeout: never sent twice), queued now (waiting for their delay or a retry).
    pub mail_sent: Counter,
    pub mail_failed: Counter,
    pub mail_queued: UGauge,
    /// Refused changes by reason code.
    rejections: Family<Labels, Counter>,
    /// HTTP requests by route and method.
    http: Histograms,
    /// The runtime's jobs by name.
    jobs: Histograms,
    /// Changes stored per commit.
    commits_size: Histogram,
    /// How late changes from each peer arrive.
    lag: Histograms,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            peers_connected: UGauge::default(),
            changes_in: Counter::default(),
            changes_local: Counter::default(),
            frames_in: Counter::default(),
            gossip_in: Counter::default(),
            frames_out: Counter::default(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            sync_backlog: UGauge::default(),
            pending_changes: UGauge::default(),
            refused_peers: Counter::default(),
            malformed_frames: Counter::default(),
            documents: UGauge::default(),
            documents_in_memory: UGauge::default(),
            document_loads: Counter::default(),
            pending_bytes: UGauge::default(),
            stored_unreadable: Counter::default(),
            vouched: Counter::default(),
            writes_refused: Counter::default(),
            announced_changes: Counter::default(),
            repaired_changes: Counter::default(),
            certificates_refused: Counter::default(),
            throttled_bundles: Counter::default(),
            expired_changes: Counter::default(),
            directory_version: UGauge::default(),
            password_checks: Counter::default(),
            logins_refused: Counter::default(),
            sessions: UGauge::default(),
            commits: Counter::default(),
            sync_rounds: Counter::default(),
            committed_changes: Counter::default(),
            blob_bytes_in: Counter::default(),
            blob_bytes_out: Counter::default(),
            blobs_fetched: Counter::default(),
            blob_fetch_failures: Counter::default(),
            blobs_corrupt: Counter::default(),
            blob_requests_refused: Counter::default(),
            blob_transfers: UGauge::default(),
            files_bytes: UGauge::default(),
            files: UGauge::default(),
            files_quota_bytes: UGauge::default(),
            mail_sent: Counter::default(),
            mail_failed: Counter::default(),
            mail_queued: UGauge::default(),
            rejections: Family::default(),
            http: Family::new_with_constructor(seconds),
            jobs: Family::new_with_constructor(seconds),
            // 1 to 4096 changes: a command writes one, a catch-up bundle thousands.
            commits_size: Histogram::new(exponential_buckets(1.0, 2.0, 13)),
            lag: Family::new_with_constructor(lag),
        }
    }
}

/// A counter or gauge that holds a whole number.
pub trait Value {
    fn atomic(&self) -> &AtomicU64;
}

impl Value for Counter {
    fn atomic(&self) -> &AtomicU64 {
        self.inner()
    }
}

impl Value for UGauge {
    fn atomic(&self) -> &AtomicU64 {
        self.inner()
    }
}

impl Metrics {
    /// Adds `n` to a counter or gauge.
    pub fn add(metric: &impl Value, n: u64) {
        metric.atomic().fetch_add(n, Ordering::Relaxed);
    }

    /// Sets a gauge, or a counter whose total is kept elsewhere (the replica counts its
    /// loads, for instance, and the runtime copies the count here).
    pub fn set(metric: &impl Value, n: u64) {
        metric.atomic().store(n, Ordering::Relaxed);
    }

    /// Counts a change refused, by its reason code.
    pub fn reject(&self, code: &'static str) {
        self.rejections
            .get_or_create(&vec![("reason", code.to_owned())])
            .inc();
    }

    /// One HTTP request answered after `took`. `route` is the path pattern that matched.
    pub fn http_request(&self, route: &str, method: &str, took: Duration) {
        self.http
            .get_or_create(&vec![
                ("route", route.to_owned()),
                ("method", method.to_owned()),
            ])
            .observe(took.as_secs_f64());
    }

    /// One run of the runtime's job `name` took `took`.
    pub fn job_done(&self, name: &'static str, took: Duration) {
        self.jobs
            .get_or_create(&vec![("job", name.to_owned())])
            .observe(took.as_secs_f64());
    }

    /// Runs `f` as the job `name`, timing it.
    pub fn time<T>(&self, name: &'static str, f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let value = f();
        self.job_done(name, started.elapsed());
        value
    }

    /// A commit made `changes` changes durable (commits that stored nothing, after every
    /// batch of queries, are not counted). Its duration is the job `commit`.
    pub fn commit(&self, changes: usize) {
        if changes > 0 {
            self.commits.inc();
            self.committed_changes.inc_by(changes as u64);
            self.commits_size.observe(changes as f64);
        }
    }

    /// Changes from `peer` arrived these many milliseconds after their authors made them (as
    /// each author's node signed the time; a clock ahead of ours counts as no lag). One
    /// call per bundle: the series is looked up once.
    pub fn sync_lag(&self, peer: &str, lags_ms: impl IntoIterator<Item = i64>) {
        let h = self.lag.get_or_create(&vec![("peer", peer.to_owned())]);
        for ms in lags_ms {
            h.observe(ms.max(0) as f64 / 1000.0);
        }
    }

    /// The OpenMetrics text of every metric, each labelled with `site` (see
    /// [`CONTENT_TYPE`]).
    pub fn render(&self, site: &str) -> String {
        let mut r = Registry::with_prefix_and_labels(
            "weft",
            [("site".into(), site.to_owned().into())].into_iter(),
        );
        // A counter's name is given without `_total`, which the exposition adds; the
        // library ends every help text with a full stop.
        r.register(
            "blob_bytes_received",
            "Bytes of files received from peers",
            self.blob_bytes_in.clone(),
        );
        r.register(
            "blob_bytes_sent",
            "Bytes of files sent to peers",
            self.blob_bytes_out.clone(),
        );
        r.register(
            "blobs_fetched",
            "Files fetched whole from peers and checked against their hash",
            self.blobs_fetched.clone(),
        );
        r.register(
            "blob_fetch_failures",
            "Fetches of a file that no site could complete",
            self.blob_fetch_failures.clone(),
        );
        r.register(
            "blobs_corrupt",
            "Files a peer sent that did not match their hash (dropped, fetched elsewhere)",
            self.blobs_corrupt.clone(),
        );
        r.register(
            "blob_requests_refused",
            "Requests for a file refused to a peer that may not hold a document referencing it",
            self.blob_requests_refused.clone(),
        );
        r.register(
            "blob_transfers",
            "Files being fetched from peers now",
            self.blob_transfers.clone(),
        );
        r.register_with_unit(
            "files",
            "Bytes of files stored at this site",
            Unit::Bytes,
            self.files_bytes.clone(),
        );
        r.register(
            "files_stored",
            "Files stored at this site",
            self.files.clone(),
        );
        r.register_with_unit(
            "files_quota",
            "The most bytes of files this site keeps (0: no limit)",
            Unit::Bytes,
            self.files_quota_bytes.clone(),
        );
        r.register(
            "mail_sent",
            "Mails the SMTP server accepted",
            self.mail_sent.clone(),
        );
        r.register(
            "mail_failed",
            "Mails given up: refused by the SMTP server, or uncertain after a timeout",
            self.mail_failed.clone(),
        );
        r.register(
            "mail_queued",
            "Mails waiting in the queue (their delay, a digest's hour, or a retry)",
            self.mail_queued.clone(),
        );
        r.register(
            "peers_connected",
            "Sites connected now",
            self.peers_connected.clone(),
        );
        r.register(
            "changes_received",
            "Changes accepted from peers",
            self.changes_in.clone(),
        );
        r.register(
            "changes_local",
            "Changes made by this site's users",
            self.changes_local.clone(),
        );
        r.register(
            "frames_received",
            "Sync frames received",
            self.frames_in.clone(),
        );
        r.register("frames_sent", "Sync frames sent", self.frames_out.clone());
        r.register(
            "gossip_received",
            "Gossip messages of public changes received",
            self.gossip_in.clone(),
        );
        r.register(
            "bytes_received",
            "Sync bytes received",
            self.bytes_in.clone(),
        );
        r.register("bytes_sent", "Sync bytes sent", self.bytes_out.clone());
        r.register(
            "sync_backlog_frames",
            "Frames waiting to be sent",
            self.sync_backlog.clone(),
        );
        r.register(
            "pending_changes",
            "Changes waiting for a dependency, certificate or directory",
            self.pending_changes.clone(),
        );
        r.register(
            "refused_peers",
            "Connections refused: peer not a site in the directory",
            self.refused_peers.clone(),
        );
        r.register(
            "malformed_frames",
            "Frames dropped because they could not be decoded",
            self.malformed_frames.clone(),
        );
        r.register("documents", "Documents held", self.documents.clone());
        r.register(
            "documents_in_memory",
            "Documents held in memory (the others are read back from the store when needed)",
            self.documents_in_memory.clone(),
        );
        r.register(
            "document_loads",
            "Documents read back from the store into memory",
            self.document_loads.clone(),
        );
        r.register(
            "pending_bytes",
            "Bytes of changes waiting for a dependency, certificate or directory",
            self.pending_bytes.clone(),
        );
        r.register(
            "stored_changes_unreadable",
            "Changes in this node's own store that could not be decoded when read back",
            self.stored_unreadable.clone(),
        );
        r.register(
            "changes_vouched",
            "Changes refused on their author's standing, then accepted because a change in good standing depended on them",
            self.vouched.clone(),
        );
        r.register(
            "writes_rate_limited",
            "Commands refused because the employee's write budget was spent",
            self.writes_refused.clone(),
        );
        r.register(
            "announced_changes",
            "Changes near peers announced they received (for repairing a lost copy)",
            self.announced_changes.clone(),
        );
        r.register(
            "repaired_changes",
            "Announced changes asked of a near peer because their own copy was late or lost",
            self.repaired_changes.clone(),
        );
        r.register(
            "certificates_refused",
            "Employee certificates from peers refused (signer not a listed node key, malformed)",
            self.certificates_refused.clone(),
        );
        r.register(
            "bundles_throttled",
            "Bundles of changes dropped because a peer exceeded its ingest budget",
            self.throttled_bundles.clone(),
        );
        r.register(
            "changes_expired",
            "Waiting changes dropped after waiting too long",
            self.expired_changes.clone(),
        );
        r.register(
            "directory_version",
            "The directory version this node holds",
            self.directory_version.clone(),
        );
        r.register(
            "password_checks",
            "Passwords checked or hashed (argon2)",
            self.password_checks.clone(),
        );
        r.register(
            "logins_refused",
            "Logins refused before any password check (rate limits, checks at capacity)",
            self.logins_refused.clone(),
        );
        r.register("sessions", "Web sessions alive", self.sessions.clone());
        r.register(
            "changes_rejected",
            "Changes refused, by reason",
            self.rejections.clone(),
        );
        r.register_with_unit(
            "http_request_duration",
            "HTTP requests, by route and method, until the answer's headers",
            Unit::Seconds,
            self.http.clone(),
        );
        r.register_with_unit(
            "job",
            "Time the core's thread spent on jobs, by job",
            Unit::Seconds,
            self.jobs.clone(),
        );
        r.register(
            "sync_rounds",
            "Catch-up rounds finished with a peer",
            self.sync_rounds.clone(),
        );
        r.register(
            "commits",
            "Commits of the store that stored changes (each one flush)",
            self.commits.clone(),
        );
        r.register(
            "committed_changes",
            "Changes made durable by commits",
            self.committed_changes.clone(),
        );
        r.register(
            "commit_changes",
            "Changes stored by each commit that stored any",
            self.commits_size.clone(),
        );
        r.register_with_unit(
            "sync_lag",
            "How long after their author made them changes from each peer are accepted here",
            Unit::Seconds,
            self.lag.clone(),
        );
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &r);
        text
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The names operators, docs and tests read are the ones rendered.
    #[test]
    fn every_metric_is_rendered_under_its_name_with_the_site() {
        let m = Metrics::default();
        Metrics::add(&m.changes_in, 3);
        Metrics::set(&m.peers_connected, 2);
        Metrics::set(&m.document_loads, 7);
        m.reject("signature");
        m.reject("signature");
        m.http_request("/api/v1/threads/{id}", "GET", Duration::from_millis(3));
        m.job_done("commit", Duration::from_millis(20));
        m.commit(5);
        m.commit(0);
        m.sync_lag("new-york", [1_500, -10]);
        let text = m.render("paris");
        for line in [
            "weft_changes_received_total{site=\"paris\"} 3",
            "weft_peers_connected{site=\"paris\"} 2",
            "weft_document_loads_total{site=\"paris\"} 7",
            "weft_changes_rejected_total{site=\"paris\",reason=\"signature\"} 2",
            "weft_sessions{site=\"paris\"} 0",
            "weft_http_request_duration_seconds_count{site=\"paris\",route=\"/api/v1/threads/{id}\",method=\"GET\"} 1",
            "weft_job_seconds_count{site=\"paris\",job=\"commit\"} 1",
            "weft_commits_total{site=\"paris\"} 1",
            "weft_committed_changes_total{site=\"paris\"} 5",
            "weft_commit_changes_sum{site=\"paris\"} 5.0",
            "weft_commit_changes_count{site=\"paris\"} 1",
            "weft_sync_lag_seconds_count{site=\"paris\",peer=\"new-york\"} 2",
            "# TYPE weft_http_request_duration_seconds histogram",
            "# HELP weft_peers_connected Sites connected now.",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        for name in [
            "weft_frames_received_total",
            "weft_frames_sent_total",
            "weft_gossip_received_total",
            "weft_bytes_received_total",
            "weft_bytes_sent_total",
            "weft_sync_backlog_frames",
            "weft_announced_changes_total",
            "weft_repaired_changes_total",
            "weft_pending_changes",
            "weft_refused_peers_total",
            "weft_malformed_frames_total",
            "weft_documents",
            "weft_documents_in_memory",
            "weft_pending_bytes",
            "weft_stored_changes_unreadable_total",
            "weft_changes_vouched_total",
            "weft_writes_rate_limited_total",
            "weft_certificates_refused_total",
            "weft_bundles_throttled_total",
            "weft_changes_expired_total",
            "weft_directory_version",
            "weft_password_checks_total",
            "weft_logins_refused_total",
            "weft_changes_local_total",
        ] {
            let line = format!("{name}{{site=\"paris\"}} 0");
            assert!(text.lines().any(|l| l == line), "no {line:?}");
        }
    }
}

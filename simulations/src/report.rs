//! What a run measured: statistics, a Markdown table and SVG plots.

use std::fmt::Write as _;

use crate::net::{RTT_MS, Region};
use crate::sim::Forgery;

/// Per-site counters at the end of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteStats {
    pub site: String,
    pub region: Region,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub frames_sent: u64,
    pub frames_received: u64,
    /// Signed changes this site's engines put into frames.
    pub changes_sent: u64,
    /// Signed changes the other sites' engines put into frames for this site.
    pub changes_received: u64,
    /// Changes this site had to receive (made elsewhere, for documents it may hold).
    pub needed_here: u64,
    /// Bytes of signed changes held (the replica's documents).
    pub storage_bytes: u64,
    pub docs: u64,
    /// Changes still waiting for something at the end.
    pub pending: u64,
}

/// The time after a fault ends until the affected sites hold everything made before it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryResult {
    pub label: String,
    pub at_ms: u64,
    /// `None` if some change never arrived.
    pub converged_after_ms: Option<u64>,
    pub missing: u64,
}

/// What became of one class of forgery (see [`Forgery`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ForgeryResult {
    pub class: Forgery,
    /// Distinct forged changes made (for the squatted certificate: 1 once sent).
    pub made: u64,
    /// Frames that carried one to a site (forgeries are sent again every round).
    pub sent: u64,
    /// The verdicts a copy of the byzantine site's replica reached when each was made (a
    /// rejection code, or `accepted`), with how many reached each.
    pub verdicts: Vec<(String, u64)>,
    /// (forgery, honest site) pairs where the site accepted it.
    pub accepted: u64,
    /// (forgery, site) pairs where it is held at the end, any site (for the squatted
    /// certificate: honest sites keeping it).
    pub held_at_end: u64,
    /// (forgery, site) pairs where it still waits at the end.
    pub waiting_at_end: u64,
}

impl ForgeryResult {
    pub fn new(class: Forgery) -> ForgeryResult {
        ForgeryResult {
            class,
            made: 0,
            sent: 0,
            verdicts: Vec::new(),
            accepted: 0,
            held_at_end: 0,
            waiting_at_end: 0,
        }
    }

    /// Whether every verdict is the one an honest node must reach.
    pub fn verdicts_as_expected(&self) -> bool {
        self.verdicts
            .iter()
            .all(|(v, _)| v == self.class.expected())
    }
}

/// The byzantine scenario's results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ByzantineResult {
    pub site: String,
    /// The site whose old node key the byzantine site stole (revoked by the directory).
    pub victim_site: String,
    /// The byzantine employee removed from the private group, and the one who left.
    pub removed: String,
    pub departed: String,
    /// Forgery rounds run.
    pub rounds: u64,
    pub classes: Vec<ForgeryResult>,
    /// (forgery, honest site) acceptances, the foreign listing (class 6) excepted: must be 0.
    pub forged_accepted: u64,
    /// (forgery, site) pairs held or waiting at the end, any site, class 6 excepted: must
    /// be 0.
    pub forged_left: u64,
    /// (foreign listing, honest site) pairs held at the end, and how many there should be
    /// (every listing at every honest site).
    pub listings_held: u64,
    pub listings_expected: u64,
    /// The employee whose key was squatted; their honest changes made after the squatted
    /// certificate was first sent, and (change, site) deliveries of those still missing.
    pub squatted: String,
    pub squatted_changes: u64,
    pub squatted_missing: u64,
    pub honest_sites: u64,
    /// Documents held by some honest site, and those where an honest site that may hold one
    /// lacks it or holds other heads than the rest (or one that may not, holds it).
    pub docs_compared: u64,
    pub docs_differing: u64,
    pub diverged_sites: Vec<String>,
    /// Whether the byzantine site's own replica matches the honest ones.
    pub byzantine_agrees: bool,
    /// Changes still waiting at honest sites at the end.
    pub pending_honest: u64,
    /// Changes refused at honest sites, by reason.
    pub refusals: Vec<(String, u64)>,
    /// Waiting changes dropped after [`weft_crdt::replica::PENDING_TTL_MS`], all sites.
    pub expired: u64,
    /// Rounds in which some class could not be made yet, and why.
    pub notes: Vec<String>,
}

impl ByzantineResult {
    /// No forgery accepted or left anywhere (class 6 aside), every class-6 listing held at
    /// every honest site, the squatted employee unhindered, every verdict as expected, and
    /// the honest sites in agreement with nothing waiting.
    pub fn contained(&self) -> bool {
        self.forged_accepted == 0
            && self.forged_left == 0
            && self.listings_held == self.listings_expected
            && self.squatted_missing == 0
            && self.docs_differing == 0
            && self.diverged_sites.is_empty()
            && self.pending_honest == 0
            && self.classes.iter().all(ForgeryResult::verdicts_as_expected)
    }
}

/// Raw measurements handed over by the simulator.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub sites: usize,
    pub regions: Vec<Region>,
    pub simulated_ms: u64,
    pub posting_ms: u64,
    pub resync_interval_ms: u64,
    pub posts: u64,
    pub posts_skipped: u64,
    pub events: u64,
    pub frames_dropped: u64,
    pub rejected: u64,
    pub refused: u64,
    pub malformed: u64,
    pub reconciliations: u64,
    pub reconciliations_differing: u64,
    /// Changes asked of a near peer that announced them (their own copy was late or lost),
    /// and announcements received, over every site.
    pub repairs: (u64, u64),
    pub violations: Vec<String>,
    /// Per post that reached every site that should hold it: (time until the last one got
    /// it, the physical bound for that slowest path), in µs.
    pub convergence: Vec<(u64, u64)>,
    /// Per (post, receiving site): (latency, physical bound), in µs.
    pub deliveries: Vec<(u64, u64)>,
    pub unconverged: u64,
    /// (change, site) pairs that had to travel.
    pub needed_deliveries: u64,
    pub recoveries: Vec<RecoveryResult>,
    pub per_site: Vec<SiteStats>,
    pub digest: u64,
    pub byzantine: Option<ByzantineResult>,
}

/// A run's results.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub sites: usize,
    pub simulated_ms: u64,
    pub resync_interval_ms: u64,
    pub posts: u64,
    pub posts_skipped: u64,
    pub events: u64,
    pub frames_dropped: u64,
    pub rejected: u64,
    pub refused: u64,
    pub malformed: u64,
    /// Private data seen where it must not be, or other broken expectations.
    pub violations: Vec<String>,
    /// Per-post convergence (ms): p50, p99, max.
    pub convergence_p50_ms: f64,
    pub convergence_p99_ms: f64,
    pub convergence_max_ms: f64,
    /// Posts that never reached every site that should hold them.
    pub unconverged: u64,
    /// The slowest one-way path between two regions present in the run (ms).
    pub slowest_path_ms: f64,
    /// The steady-state aim: 1.5 × the slowest path + 50 ms.
    pub aim_p99_ms: f64,
    /// Per-post convergence divided by that post's own physical bound: p50, p99, max.
    pub ratio_p50: f64,
    pub ratio_p99: f64,
    pub ratio_max: f64,
    /// Deliveries faster than the physical bound (must be 0).
    pub below_bound: u64,
    /// Smallest delivery latency minus its bound (ms; must be ≥ 0).
    pub min_margin_ms: f64,
    /// Per-delivery latency (ms): p50, p99.
    pub delivery_p50_ms: f64,
    pub delivery_p99_ms: f64,
    pub bytes_sent_per_site_day_mean: f64,
    pub bytes_sent_per_site_day_max: f64,
    pub bytes_received_per_site_day_mean: f64,
    pub bytes_received_per_site_day_max: f64,
    pub storage_per_site_mean: f64,
    pub storage_per_site_max: f64,
    pub docs_per_site_mean: f64,
    pub pending_total: u64,
    /// Frames sent on the network per post.
    pub frames_per_post: f64,
    pub bytes_per_post: f64,
    /// Signed changes sent per (change, site) pair that had to travel: 1.0 is ideal.
    pub transmissions_per_delivery: f64,
    /// The largest, over sites, of the copies of changes a site received per change it had
    /// to receive.
    pub copies_received_site_max: f64,
    /// The site where that is (and its region).
    pub copies_received_worst_site: String,
    /// Catch-up reconciliations finished (each side counts its own), and those that found
    /// a difference.
    pub reconciliations: u64,
    pub reconciliations_differing: u64,
    pub repairs: (u64, u64),
    pub recoveries: Vec<RecoveryResult>,
    pub per_site: Vec<SiteStats>,
    /// Sorted per-post convergence times (ms), for plots.
    pub convergence_sorted_ms: Vec<f64>,
    /// Sorted per-delivery latencies (ms), for plots (at most 5,000 evenly spaced).
    pub deliveries_sorted_ms: Vec<f64>,
    /// A hash of every arrival time: equal digests mean event-for-event equal runs.
    pub digest: u64,
    /// The byzantine scenario's results.
    pub byzantine: Option<ByzantineResult>,
}

/// The value at quantile `q` of sorted values (nearest rank); 0 if empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl Report {
    /// Computes the statistics.
    pub fn from_input(i: Input) -> Report {
        let conv = sorted(i.convergence.iter().map(|(c, _)| ms(*c)).collect());
        let ratios = sorted(
            i.convergence
                .iter()
                .map(|(c, b)| *c as f64 / (*b).max(1) as f64)
                .collect(),
        );
        let deliveries = sorted(i.deliveries.iter().map(|(l, _)| ms(*l)).collect());
        let below_bound = i.deliveries.iter().filter(|(l, b)| l < b).count() as u64;
        let min_margin_ms = i
            .deliveries
            .iter()
            .map(|(l, b)| (*l as f64 - *b as f64) / 1000.0)
            .fold(f64::INFINITY, f64::min);
        let mut slowest = 0u32;
        for a in &i.regions {
            for b in &i.regions {
                slowest = slowest.max(RTT_MS[a.index()][b.index()]);
            }
        }
        let slowest_path_ms = f64::from(slowest) / 2.0;
        let days = (i.simulated_ms as f64 / 86_400_000.0).max(1e-9);
        let n = i.per_site.len().max(1) as f64;
        let mean =
            |f: &dyn Fn(&SiteStats) -> u64| i.per_site.iter().map(|s| f(s) as f64).sum::<f64>() / n;
        let max = |f: &dyn Fn(&SiteStats) -> u64| {
            i.per_site.iter().map(|s| f(s) as f64).fold(0.0, f64::max)
        };
        let frames: u64 = i.per_site.iter().map(|s| s.frames_sent).sum();
        let bytes: u64 = i.per_site.iter().map(|s| s.bytes_sent).sum();
        let changes_sent: u64 = i.per_site.iter().map(|s| s.changes_sent).sum();
        let posts = i.posts.max(1) as f64;
        let step = (deliveries.len() / 5000).max(1);
        let worst = i
            .per_site
            .iter()
            .filter(|s| s.needed_here > 0)
            .map(|s| (s.changes_received as f64 / s.needed_here as f64, s))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let worst = worst.map(|(r, s)| (r, s.clone()));
        Report {
            sites: i.sites,
            simulated_ms: i.simulated_ms,
            resync_interval_ms: i.resync_interval_ms,
            posts: i.posts,
            posts_skipped: i.posts_skipped,
            events: i.events,
            frames_dropped: i.frames_dropped,
            rejected: i.rejected,
            refused: i.refused,
            malformed: i.malformed,
            violations: i.violations,
            convergence_p50_ms: quantile(&conv, 0.5),
            convergence_p99_ms: quantile(&conv, 0.99),
            convergence_max_ms: conv.last().copied().unwrap_or(0.0),
            unconverged: i.unconverged,
            slowest_path_ms,
            aim_p99_ms: 1.5 * slowest_path_ms + 50.0,
            ratio_p50: quantile(&ratios, 0.5),
            ratio_p99: quantile(&ratios, 0.99),
            ratio_max: ratios.last().copied().unwrap_or(0.0),
            below_bound,
            min_margin_ms: if min_margin_ms.is_finite() {
                min_margin_ms
            } else {
                0.0
            },
            delivery_p50_ms: quantile(&deliveries, 0.5),
            delivery_p99_ms: quantile(&deliveries, 0.99),
            bytes_sent_per_site_day_mean: mean(&|s| s.bytes_sent) / days,
            bytes_sent_per_site_day_max: max(&|s| s.bytes_sent) / days,
            bytes_received_per_site_day_mean: mean(&|s| s.bytes_received) / days,
            bytes_received_per_site_day_max: max(&|s| s.bytes_received) / days,
            storage_per_site_mean: mean(&|s| s.storage_bytes),
            storage_per_site_max: max(&|s| s.storage_bytes),
            docs_per_site_mean: mean(&|s| s.docs),
            pending_total: i.per_site.iter().map(|s| s.pending).sum(),
            frames_per_post: frames as f64 / posts,
            bytes_per_post: bytes as f64 / posts,
            transmissions_per_delivery: changes_sent as f64 / i.needed_deliveries.max(1) as f64,
            copies_received_site_max: worst.as_ref().map_or(0.0, |(r, _)| *r),
            copies_received_worst_site: worst
                .map(|(_, s)| format!("{} ({:?})", s.site, s.region))
                .unwrap_or_default(),
            reconciliations: i.reconciliations,
            reconciliations_differing: i.reconciliations_differing,
            repairs: i.repairs,
            recoveries: i.recoveries,
            per_site: i.per_site,
            convergence_sorted_ms: conv,
            deliveries_sorted_ms: deliveries.iter().step_by(step).copied().collect(),
            digest: i.digest,
            byzantine: i.byzantine,
        }
    }

    /// Whether the steady-state aims hold: p99 convergence within 1.5 × the slowest path +
    /// 50 ms, at most 1.5 transmissions per needed delivery, nothing below the physical
    /// bound, no violation.
    pub fn steady_aims_met(&self) -> bool {
        self.convergence_p99_ms <= self.aim_p99_ms
            && self.transmissions_per_delivery <= 1.5
            && self.copies_received_site_max <= 1.5
            && self.below_bound == 0
            && self.violations.is_empty()
            && self.unconverged == 0
    }

    /// The report as Markdown.
    pub fn to_markdown(&self, title: &str) -> String {
        let mut s = String::new();
        let yes = |b: bool| if b { "yes" } else { "**no**" };
        let _ = writeln!(s, "### {title}\n");
        let _ = writeln!(s, "| measure | value |");
        let _ = writeln!(s, "|---|---|");
        let mut row = |k: &str, v: String| {
            let _ = writeln!(s, "| {k} | {v} |");
        };
        row("sites", self.sites.to_string());
        row(
            "simulated time",
            format!("{:.2} h", self.simulated_ms as f64 / 3_600_000.0),
        );
        row(
            "sync period (resync interval)",
            format!("{} s", self.resync_interval_ms / 1000),
        );
        row(
            "posts made (skipped: site down / group not held)",
            format!("{} ({})", self.posts, self.posts_skipped),
        );
        row("events processed", self.events.to_string());
        row(
            "convergence p50 / p99 / max",
            format!(
                "{:.0} / {:.0} / {:.0} ms",
                self.convergence_p50_ms, self.convergence_p99_ms, self.convergence_max_ms
            ),
        );
        row(
            "aim: p99 ≤ 1.5 × slowest path + 50 ms",
            format!(
                "{:.0} ms (slowest one-way path {:.0} ms): {}",
                self.aim_p99_ms,
                self.slowest_path_ms,
                yes(self.convergence_p99_ms <= self.aim_p99_ms)
            ),
        );
        row("posts never fully converged", self.unconverged.to_string());
        row(
            "convergence ÷ own physical bound p50 / p99 / max",
            format!(
                "{:.2} / {:.2} / {:.2}",
                self.ratio_p50, self.ratio_p99, self.ratio_max
            ),
        );
        row(
            "deliveries below the physical bound",
            format!(
                "{} (smallest margin {:.1} ms)",
                self.below_bound, self.min_margin_ms
            ),
        );
        row(
            "per-delivery latency p50 / p99",
            format!(
                "{:.0} / {:.0} ms",
                self.delivery_p50_ms, self.delivery_p99_ms
            ),
        );
        row(
            "bytes sent per site per day (mean / max)",
            format!(
                "{} / {}",
                human(self.bytes_sent_per_site_day_mean),
                human(self.bytes_sent_per_site_day_max)
            ),
        );
        row(
            "bytes received per site per day (mean / max)",
            format!(
                "{} / {}",
                human(self.bytes_received_per_site_day_mean),
                human(self.bytes_received_per_site_day_max)
            ),
        );
        row(
            "storage per site (signed changes, mean / max)",
            format!(
                "{} / {} ({:.0} documents)",
                human(self.storage_per_site_mean),
                human(self.storage_per_site_max),
                self.docs_per_site_mean
            ),
        );
        row(
            "frames / bytes sent per post",
            format!(
                "{:.1} / {}",
                self.frames_per_post,
                human(self.bytes_per_post)
            ),
        );
        row(
            "change transmissions per needed delivery (aim ≤ 1.5)",
            format!(
                "{:.3}: {}",
                self.transmissions_per_delivery,
                yes(self.transmissions_per_delivery <= 1.5)
            ),
        );
        row(
            "copies received per change needed, at the worst site (aim ≤ 1.5)",
            format!(
                "{:.3} ({}): {}",
                self.copies_received_site_max,
                self.copies_received_worst_site,
                yes(self.copies_received_site_max <= 1.5)
            ),
        );
        row(
            "catch-up reconciliations finished / finding a difference",
            format!(
                "{} / {}",
                self.reconciliations, self.reconciliations_differing
            ),
        );
        row(
            "changes asked of a near peer that announced them / announcements received",
            format!("{} / {}", self.repairs.0, self.repairs.1),
        );
        row(
            "frames dropped (link down) / changes rejected / refusals / malformed",
            format!(
                "{} / {} / {} / {}",
                self.frames_dropped, self.rejected, self.refused, self.malformed
            ),
        );
        row(
            "changes still waiting at the end",
            self.pending_total.to_string(),
        );
        for r in &self.recoveries {
            let v = match r.converged_after_ms {
                Some(ms) => format!(
                    "converged {ms} ms after (within one sync period: {})",
                    yes(ms <= self.resync_interval_ms)
                ),
                None => format!("**{} deliveries missing**", r.missing),
            };
            row(&format!("{} at {} s", r.label, r.at_ms / 1000), v);
        }
        row(
            "violations (private data leaked, local refusals)",
            if self.violations.is_empty() {
                "none".to_owned()
            } else {
                format!("**{}**: {}", self.violations.len(), self.violations[0])
            },
        );
        row("run digest", format!("{:016x}", self.digest));
        if let Some(b) = &self.byzantine {
            b.to_markdown(&mut s);
        }
        s
    }

    /// A plot of the cumulative distribution of per-post convergence and per-delivery latency,
    /// with the aim marked.
    pub fn convergence_cdf_svg(&self) -> String {
        let (w, h, left, bottom, top, right) = (720.0, 420.0, 60.0, 50.0, 30.0, 20.0);
        let pw = w - left - right;
        let ph = h - top - bottom;
        let xmax = self
            .convergence_sorted_ms
            .iter()
            .chain(&self.deliveries_sorted_ms)
            .copied()
            .fold(self.aim_p99_ms, f64::max)
            .max(1.0)
            * 1.05;
        let x = |v: f64| left + v / xmax * pw;
        let y = |q: f64| top + (1.0 - q) * ph;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="18" text-anchor="middle" font-size="14">Convergence latency CDF ({} sites, {} posts)</text>"#,
            w / 2.0,
            self.sites,
            self.posts
        );
        // Axes and grid.
        for k in 0..=5 {
            let q = k as f64 / 5.0;
            let _ = writeln!(
                s,
                r##"<line x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{:.1}</text>"##,
                left + pw,
                y(q),
                y(q),
                left - 6.0,
                y(q) + 4.0,
                q
            );
            let v = xmax * k as f64 / 5.0;
            let _ = writeln!(
                s,
                r##"<line x1="{:.1}" x2="{:.1}" y1="{top}" y2="{}" stroke="#ddd"/><text x="{:.1}" y="{}" text-anchor="middle">{:.0}</text>"##,
                x(v),
                x(v),
                top + ph,
                x(v),
                top + ph + 16.0,
                v
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">milliseconds after the post</text>"#,
            left + pw / 2.0,
            h - 10.0
        );
        let _ = writeln!(
            s,
            r##"<line x1="{:.1}" x2="{:.1}" y1="{top}" y2="{}" stroke="#c00" stroke-dasharray="4 3"/><text x="{:.1}" y="{}" fill="#c00">aim p99 {:.0} ms</text>"##,
            x(self.aim_p99_ms),
            x(self.aim_p99_ms),
            top + ph,
            x(self.aim_p99_ms) + 4.0,
            top + 14.0,
            self.aim_p99_ms
        );
        for (data, colour, label, ly) in [
            (
                &self.convergence_sorted_ms,
                "#1f77b4",
                "post reaches every site",
                top + 34.0,
            ),
            (
                &self.deliveries_sorted_ms,
                "#2ca02c",
                "post reaches one site",
                top + 52.0,
            ),
        ] {
            if data.is_empty() {
                continue;
            }
            let mut path = String::new();
            let len = data.len() as f64;
            for (k, v) in data.iter().enumerate() {
                let cmd = if k == 0 { 'M' } else { 'L' };
                let _ = write!(path, "{cmd}{:.1},{:.1} ", x(*v), y((k + 1) as f64 / len));
            }
            let _ = writeln!(
                s,
                r#"<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>"#
            );
            let _ = writeln!(
                s,
                r#"<rect x="{}" y="{}" width="14" height="3" fill="{colour}"/><text x="{}" y="{}">{label}</text>"#,
                left + pw - 190.0,
                ly - 4.0,
                left + pw - 170.0,
                ly
            );
        }
        s.push_str("</svg>\n");
        s
    }

    /// A bar plot of bytes sent and received per site per day, grouped by region.
    pub fn bytes_per_site_svg(&self) -> String {
        let mut sites: Vec<&SiteStats> = self.per_site.iter().collect();
        sites.sort_by_key(|s| (s.region, s.site.len(), s.site.clone()));
        let (w, h, left, bottom, top) = (720.0, 360.0, 70.0, 40.0, 30.0);
        let pw = w - left - 20.0;
        let ph = h - top - bottom;
        let days = (self.simulated_ms as f64 / 86_400_000.0).max(1e-9);
        let ymax = sites
            .iter()
            .map(|s| s.bytes_sent.max(s.bytes_received) as f64 / days)
            .fold(1.0, f64::max)
            * 1.1;
        let bw = pw / sites.len().max(1) as f64;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="18" text-anchor="middle" font-size="14">Bytes per site per simulated day (bars: sent, dots: received), by region</text>"#,
            w / 2.0
        );
        for k in 0..=4 {
            let v = ymax * k as f64 / 4.0;
            let yy = top + ph - v / ymax * ph;
            let _ = writeln!(
                s,
                r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                left + pw,
                left - 6.0,
                yy + 4.0,
                human(v)
            );
        }
        let colours = [
            "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
        ];
        for (k, st) in sites.iter().enumerate() {
            let sent = st.bytes_sent as f64 / days;
            let recv = st.bytes_received as f64 / days;
            let bh = sent / ymax * ph;
            let xx = left + k as f64 * bw;
            let c = colours[st.region.index()];
            let _ = writeln!(
                s,
                r#"<rect x="{xx:.2}" y="{:.1}" width="{:.2}" height="{bh:.1}" fill="{c}"/><circle cx="{:.2}" cy="{:.1}" r="{:.1}" fill="black"/>"#,
                top + ph - bh,
                (bw * 0.9).max(0.5),
                xx + bw / 2.0,
                top + ph - recv / ymax * ph,
                (bw / 3.0).clamp(0.6, 3.0)
            );
        }
        for (k, r) in Region::ALL.iter().enumerate() {
            let _ = writeln!(
                s,
                r#"<rect x="{}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}">{}</text>"#,
                left + k as f64 * 110.0,
                h - 18.0,
                colours[r.index()],
                left + k as f64 * 110.0 + 14.0,
                h - 9.0,
                r.name()
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

impl ByzantineResult {
    /// The byzantine section of the Markdown report.
    fn to_markdown(&self, s: &mut String) {
        let yes = |b: bool| if b { "yes" } else { "**no**" };
        let _ = writeln!(
            s,
            "\n#### Byzantine site {} ({} rounds of forgeries)\n",
            self.site, self.rounds
        );
        let _ = writeln!(
            s,
            "Departed employee {}; removed member {}; stolen, revoked node key of {}; \
             squatted key of {}.\n",
            self.departed, self.removed, self.victim_site, self.squatted
        );
        let _ = writeln!(
            s,
            "| class | forgery | made | frames sent | verdict (expected) | accepted at honest sites | held / waiting at the end |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|");
        for c in &self.classes {
            let verdicts: Vec<String> = c
                .verdicts
                .iter()
                .map(|(v, k)| format!("{v} × {k}"))
                .collect();
            let verdicts = if verdicts.is_empty() {
                "—".to_owned()
            } else {
                verdicts.join(", ")
            };
            let ok = if c.verdicts_as_expected() {
                ""
            } else {
                " **unexpected**"
            };
            let (accepted, left) = if c.class == Forgery::SquattedCertificate {
                (
                    "— (a certificate)".to_owned(),
                    format!("kept by {} honest sites", c.held_at_end),
                )
            } else {
                (
                    c.accepted.to_string(),
                    format!("{} / {}", c.held_at_end, c.waiting_at_end),
                )
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {verdicts} ({}){ok} | {accepted} | {left} |",
                c.class.label(),
                c.class.describe(),
                c.made,
                c.sent,
                c.class.expected(),
            );
        }
        let _ = writeln!(s, "\n| measure | value |");
        let _ = writeln!(s, "|---|---|");
        let mut row = |k: &str, v: String| {
            let _ = writeln!(s, "| {k} | {v} |");
        };
        row(
            "forged changes accepted at an honest site (class 6 aside)",
            format!(
                "{}: {}",
                self.forged_accepted,
                yes(self.forged_accepted == 0)
            ),
        );
        row(
            "forged changes held or waiting anywhere at the end (class 6 aside)",
            self.forged_left.to_string(),
        );
        row(
            "class-6 listings held by every honest site",
            format!(
                "{} of {}: {}",
                self.listings_held,
                self.listings_expected,
                yes(self.listings_held == self.listings_expected)
            ),
        );
        row(
            &format!(
                "changes by {} after the squatted certificate (deliveries missing)",
                self.squatted
            ),
            format!("{} ({})", self.squatted_changes, self.squatted_missing),
        );
        row(
            "honest sites holding the same documents and heads",
            format!(
                "{} of {} ({} documents compared, {} differing): {}",
                self.honest_sites - self.diverged_sites.len() as u64,
                self.honest_sites,
                self.docs_compared,
                self.docs_differing,
                yes(self.diverged_sites.is_empty() && self.docs_differing == 0)
            ),
        );
        row(
            "byzantine site's replica matches theirs",
            yes(self.byzantine_agrees).to_owned(),
        );
        row(
            "changes waiting at honest sites at the end",
            self.pending_honest.to_string(),
        );
        let refusals: Vec<String> = self
            .refusals
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        row(
            "refusals at honest sites by reason",
            if refusals.is_empty() {
                "none".to_owned()
            } else {
                refusals.join(", ")
            },
        );
        row(
            "waiting changes dropped after waiting 10 min (all sites)",
            self.expired.to_string(),
        );
        row("all contained", yes(self.contained()).to_owned());
        for note in &self.notes {
            row("note", note.clone());
        }
    }
}

/// Bytes in a readable unit.
pub fn human(bytes: f64) -> String {
    if bytes >= 1e9 {
        format!("{:.2} GB", bytes / 1e9)
    } else if bytes >= 1e6 {
        format!("{:.2} MB", bytes / 1e6)
    } else if bytes >= 1e3 {
        format!("{:.1} kB", bytes / 1e3)
    } else {
        format!("{bytes:.0} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}

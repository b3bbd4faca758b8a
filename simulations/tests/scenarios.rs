//! Small scenarios, run in the test suite.

use weft_simulations::report::Report;
use weft_simulations::scenario::{self, Kind, Params};
use weft_simulations::sim;

/// A small world: 6 sites over 5 regions, a few hours, enough posts to measure.
fn small(kind: Kind, seed: u64) -> Report {
    let p = Params {
        sites: 6,
        seed,
        duration_ms: 4 * 3_600_000,
        resync_interval_ms: 300_000,
        posts_per_day: 600,
        groups: 12,
        topology: None,
    };
    sim::run(&scenario::config(kind, &p))
}

#[test]
fn same_seed_gives_the_same_report() {
    let a = small(Kind::Partition, 7);
    let b = small(Kind::Partition, 7);
    assert_eq!(a, b);
    assert!(a.posts > 50, "{}", a.posts);
    let c = small(Kind::Partition, 8);
    assert_ne!(a.digest, c.digest);
}

#[test]
fn every_site_converges_after_a_partition_heals() {
    let r = small(Kind::Partition, 3);
    assert_eq!(r.recoveries.len(), 1);
    for rec in &r.recoveries {
        let after = rec
            .converged_after_ms
            .unwrap_or_else(|| panic!("{}: {} missing", rec.label, rec.missing));
        assert!(
            after <= r.resync_interval_ms,
            "{}: converged after {after} ms, sync period {} ms",
            rec.label,
            r.resync_interval_ms
        );
    }
    assert_eq!(r.unconverged, 0);
    assert_eq!(r.pending_total, 0);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
}

#[test]
fn a_restarted_site_and_a_new_empty_site_catch_up() {
    let r = small(Kind::CrashJoin, 5);
    assert_eq!(r.recoveries.len(), 2);
    for rec in &r.recoveries {
        let after = rec
            .converged_after_ms
            .unwrap_or_else(|| panic!("{}: {} missing", rec.label, rec.missing));
        assert!(after <= r.resync_interval_ms, "{}: {after} ms", rec.label);
    }
    assert_eq!(r.unconverged, 0);
    // The joining site ends with as many documents as everyone else.
    let docs: Vec<u64> = r.per_site.iter().map(|s| s.docs).collect();
    assert!(docs.iter().all(|d| *d == docs[0]), "{docs:?}");
}

#[test]
fn private_data_never_reaches_a_non_member_site() {
    let r = small(Kind::Private, 11);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert_eq!(r.unconverged, 0);
    // Members hold more documents than the others: the private group and its threads.
    let members = [0usize, 2, 4];
    let member_docs = r.per_site[members[0]].docs;
    for (i, s) in r.per_site.iter().enumerate() {
        if members.contains(&i) {
            assert_eq!(s.docs, member_docs);
        } else {
            assert!(s.docs < member_docs, "{} holds {} docs", s.site, s.docs);
        }
    }
}

#[test]
fn convergence_is_never_below_the_physical_bound_and_within_a_factor_of_it() {
    let r = small(Kind::Steady, 2);
    assert!(r.posts > 50);
    assert_eq!(r.below_bound, 0);
    assert!(r.min_margin_ms >= 0.0);
    // Stated factor: the slowest path of each post plus jitter (≤ 10 %), uplink queueing and
    // the occasional retransmission stay within 1.5× the bound for 99 % of posts.
    assert!(r.ratio_p99 <= 1.5, "p99 ratio {}", r.ratio_p99);
    assert!(r.ratio_p50 >= 1.0);
    assert!(r.steady_aims_met(), "{}", r.to_markdown("steady"));
    assert!(r.transmissions_per_delivery <= 1.5);
}

#[test]
fn plots_are_svg() {
    let r = small(Kind::Steady, 1);
    let cdf = r.convergence_cdf_svg();
    assert!(cdf.starts_with("<svg") && cdf.trim_end().ends_with("</svg>"));
    assert!(cdf.contains("<path"));
    let bytes = r.bytes_per_site_svg();
    assert!(bytes.contains("<rect"));
    assert!(r.to_markdown("t").contains("convergence p50"));
}

#[test]
fn regional_hubs_converge_too() {
    let p = Params {
        sites: 8,
        seed: 4,
        duration_ms: 2 * 3_600_000,
        resync_interval_ms: 300_000,
        posts_per_day: 600,
        groups: 8,
        topology: Some(weft_simulations::Topology::RegionalHubs),
    };
    let r = sim::run(&scenario::config(Kind::Partition, &p));
    assert_eq!(r.unconverged, 0);
    assert_eq!(r.below_bound, 0);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    for rec in &r.recoveries {
        assert!(rec.converged_after_ms.is_some(), "{}", rec.label);
    }
}

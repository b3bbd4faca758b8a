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
        loss: None,
        topology: None,
        ..Params::default()
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
    // Healing, every site is sent what it missed once, however many peers hold it.
    assert!(
        r.copies_received_site_max <= 1.5,
        "{} copies received per change needed",
        r.copies_received_site_max
    );
}

/// A full mesh of 60 sites (more than the 50 at which runs once switched to hubs) for two
/// hours: one round per pair and period, no spurious differences, each change received
/// once.
#[test]
fn a_full_mesh_of_sixty_sites_reconciles_once_per_pair_and_receives_each_change_once() {
    let p = Params {
        sites: 60,
        seed: 9,
        duration_ms: 2 * 3_600_000,
        resync_interval_ms: 600_000,
        posts_per_day: 2_000,
        groups: 20,
        loss: None,
        topology: None,
        ..Params::default()
    };
    let r = sim::run(&scenario::config(Kind::Steady, &p));
    assert_eq!(r.unconverged, 0);
    // Each side counts the end of each round once.
    let pairs = 60 * 59 / 2;
    let periods = r.simulated_ms / r.resync_interval_ms;
    assert!(
        r.reconciliations >= 2 * pairs * periods && r.reconciliations <= 2 * pairs * (periods + 2),
        "{} reconciliations for {pairs} pairs over {periods} periods",
        r.reconciliations
    );
    // Differences found only for changes still on their way when a round ran.
    assert!(
        r.reconciliations_differing * 100 <= r.reconciliations,
        "{} of {} rounds found a difference",
        r.reconciliations_differing,
        r.reconciliations
    );
    assert!(
        r.copies_received_site_max <= 1.01,
        "{}",
        r.copies_received_site_max
    );
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
        loss: None,
        topology: Some(weft_simulations::Topology::RegionalHubs),
        ..Params::default()
    };
    let r = sim::run(&scenario::config(Kind::Partition, &p));
    assert_eq!(r.unconverged, 0);
    assert_eq!(r.below_bound, 0);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    for rec in &r.recoveries {
        assert!(rec.converged_after_ms.is_some(), "{}", rec.label);
    }
}

/// 8 sites (site7 byzantine), 3 hours: four rounds of forgeries.
fn byzantine(seed: u64) -> Report {
    let p = Params {
        sites: 8,
        seed,
        duration_ms: 3 * 3_600_000,
        resync_interval_ms: 300_000,
        posts_per_day: 600,
        groups: 8,
        loss: None,
        topology: None,
        ..Params::default()
    };
    sim::run(&scenario::config(Kind::Byzantine, &p))
}

#[test]
fn a_byzantine_site_gets_no_forgery_accepted_and_honest_sites_converge() {
    use weft_simulations::Forgery;
    let r = byzantine(12);
    let md = r.to_markdown("byzantine");
    let b = r.byzantine.as_ref().expect("a byzantine section");
    assert_eq!(b.site, "site7");
    assert_eq!(b.rounds, 4);
    // Every class was made in every round and sent to the 7 honest sites each time (and
    // again in every later round).
    for c in &b.classes {
        let expected_made = if c.class == Forgery::SquattedCertificate {
            1
        } else {
            4
        };
        assert_eq!(c.made, expected_made, "{:?}\n{md}", c.class);
        assert!(c.sent >= 7 * 4, "{:?}: {}", c.class, c.sent);
        assert!(
            c.verdicts_as_expected(),
            "{:?}: {:?}\n{md}",
            c.class,
            c.verdicts
        );
    }
    // No forgery accepted anywhere, none left held or waiting.
    assert_eq!(b.forged_accepted, 0, "{md}");
    assert_eq!(b.forged_left, 0, "{md}");
    // The foreign listing, which the crdt accepts, is accepted alike by every honest site.
    assert_eq!(b.listings_expected, 4 * 7);
    assert_eq!(b.listings_held, b.listings_expected, "{md}");
    let listing = b
        .classes
        .iter()
        .find(|c| c.class == Forgery::ForeignListing)
        .unwrap();
    assert_eq!(listing.accepted, 4 * 7, "{md}");
    // The squatted certificate is kept but harmless.
    let squat = b
        .classes
        .iter()
        .find(|c| c.class == Forgery::SquattedCertificate)
        .unwrap();
    assert_eq!(squat.held_at_end, 7, "{md}");
    assert!(b.squatted_changes > 0, "{md}");
    assert_eq!(b.squatted_missing, 0, "{md}");
    // Every honest site converged: same documents, same heads, nothing waiting.
    assert!(b.diverged_sites.is_empty(), "{md}");
    assert_eq!(b.docs_differing, 0, "{md}");
    assert!(b.docs_compared > 8, "{md}");
    assert!(b.byzantine_agrees, "{md}");
    assert_eq!(b.pending_honest, 0, "{md}");
    assert_eq!(r.pending_total, 0, "{md}");
    assert_eq!(r.unconverged, 0, "{md}");
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert!(b.contained(), "{md}");
    assert!(md.contains("Byzantine site site7"));
    // Deterministic, forgeries included.
    assert_eq!(r, byzantine(12));
}

/// Frames lost on long paths are repaired from near peers that announced the change (one
/// short round trip after a grace) instead of one long round trip later by the transport:
/// with 1 % loss, the slowest posts converge sooner with repairs than without, still near
/// the lossless figure, and no site receives many more copies for it.
#[test]
fn lost_frames_are_repaired_by_near_peers_faster_than_by_retransmission() {
    let run = |loss: f64, repair_peers: Option<usize>| {
        let p = Params {
            sites: 40,
            seed: 5,
            duration_ms: 2 * 3_600_000,
            resync_interval_ms: 600_000,
            posts_per_day: 2_000,
            groups: 20,
            loss: Some(loss),
            topology: None,
            repair_peers,
            ..Params::default()
        };
        sim::run(&scenario::config(Kind::Steady, &p))
    };
    let p99 = |r: &Report| r.convergence_sorted_ms[r.convergence_sorted_ms.len() * 99 / 100];
    let lossless = run(0.0, None);
    let repaired = run(0.01, None);
    let unrepaired = run(0.01, Some(0));
    assert_eq!(unrepaired.repairs.0, 0);
    assert!(repaired.repairs.0 > 0, "nothing repaired");
    assert!(repaired.repairs.1 > 0, "nothing announced");
    assert!(
        p99(&repaired) < p99(&unrepaired),
        "p99 {} ms with repairs, {} ms without",
        p99(&repaired),
        p99(&unrepaired)
    );
    assert!(
        p99(&repaired) <= p99(&lossless) + 150.0,
        "p99 {} ms with repairs, {} ms without loss",
        p99(&repaired),
        p99(&lossless)
    );
    assert!(
        repaired.copies_received_site_max <= 1.1,
        "{} copies at the worst site",
        repaired.copies_received_site_max
    );
    assert_eq!(repaired.unconverged, 0);
}

#![allow(clippy::print_stdout)]
//! Runs a scenario: `weft-simulations <steady|partition|crash|private|byzantine|all> [--sites N]
//! [--seed S] [--days D] [--resync-s S] [--posts-per-day P] [--groups G] [--topology mesh|hubs]
//! [--hours H] [--loss P] [--repair-peers N] [--repair-grace-ms MS] [--out DIR]`.
//!
//! Prints the report as Markdown on stdout, progress on stderr, and writes
//! `<out>/<scenario>-<sites>.md`, `…-cdf.svg` and `…-bytes.svg` when `--out` is given.

use std::process::ExitCode;
use std::time::Instant;

use weft_simulations::scenario::{self, Kind, Params};
use weft_simulations::{Sim, Topology};

const USAGE: &str = "usage: weft-simulations <steady|partition|crash|private|byzantine|all> \
[--sites N] [--seed S] [--days D] [--resync-s S] [--posts-per-day P] [--groups G] [--topology mesh|hubs] [--hours H] [--loss P] [--repair-peers N] [--repair-grace-ms MS] [--out DIR]";

fn parse() -> Result<(Vec<Kind>, Params, Option<String>), String> {
    let mut args = std::env::args().skip(1);
    let name = args.next().ok_or(USAGE)?;
    let kinds = if name == "all" {
        Kind::ALL.to_vec()
    } else {
        vec![Kind::parse(&name).ok_or_else(|| format!("unknown scenario {name}\n{USAGE}"))?]
    };
    let mut p = Params::default();
    let mut out = None;
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let num = |v: &str| -> Result<f64, String> {
            v.parse::<f64>()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--sites" => p.sites = num(&value)? as usize,
            "--seed" => p.seed = num(&value)? as u64,
            "--days" => p.duration_ms = (num(&value)? * 86_400_000.0) as u64,
            "--hours" => p.duration_ms = (num(&value)? * 3_600_000.0) as u64,
            "--resync-s" => p.resync_interval_ms = (num(&value)? * 1000.0) as u64,
            "--posts-per-day" => p.posts_per_day = num(&value)? as usize,
            "--groups" => p.groups = num(&value)? as usize,
            "--loss" => p.loss = Some(num(&value)?),
            "--repair-peers" => p.repair_peers = Some(num(&value)? as usize),
            "--repair-grace-ms" => p.repair_grace_ms = Some(num(&value)? as u64),
            "--out" => out = Some(value),
            "--topology" => {
                p.topology = Some(match value.as_str() {
                    "mesh" => Topology::FullMesh,
                    "hubs" => Topology::RegionalHubs,
                    _ => return Err(format!("--topology: mesh or hubs, not {value}")),
                })
            }
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    if p.sites < 3 {
        return Err("--sites must be at least 3".into());
    }
    Ok((kinds, p, out))
}

fn main() -> ExitCode {
    let (kinds, params, out) = match parse() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    for kind in kinds {
        let cfg = scenario::config(kind, &params);
        let topology = match cfg.topology {
            Topology::FullMesh => "full mesh",
            Topology::RegionalHubs => "regional hubs",
        };
        let started = Instant::now();
        let mut sim = Sim::new(cfg);
        eprintln!(
            "{}: {} sites, seed {}, set up in {:.1} s",
            kind.name(),
            params.sites,
            params.seed,
            started.elapsed().as_secs_f64()
        );
        sim.on_progress(move |p| {
            eprintln!(
                "  simulated {:>6.2} h of {:.2} h ({:>3.0} %), {} events, {} posts, wall {:.1} s",
                p.sim_ms as f64 / 3_600_000.0,
                p.end_ms as f64 / 3_600_000.0,
                100.0 * p.sim_ms as f64 / p.end_ms.max(1) as f64,
                p.events,
                p.posts,
                started.elapsed().as_secs_f64()
            );
        });
        let report = sim.run();
        let wall = started.elapsed().as_secs_f64();
        let title = format!(
            "{} — {} sites ({topology}), seed {}, {:.2} simulated days (wall {wall:.1} s)",
            kind.name(),
            params.sites,
            params.seed,
            params.duration_ms as f64 / 86_400_000.0
        );
        let md = report.to_markdown(&title);
        println!("{md}");
        if let Some(dir) = &out {
            let stem = format!("{dir}/{}-{}", kind.name(), params.sites);
            let written = std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(format!("{stem}.md"), &md))
                .and_then(|()| {
                    std::fs::write(format!("{stem}-cdf.svg"), report.convergence_cdf_svg())
                })
                .and_then(|()| {
                    std::fs::write(format!("{stem}-bytes.svg"), report.bytes_per_site_svg())
                });
            if let Err(e) = written {
                eprintln!("could not write {stem}.*: {e}");
                return ExitCode::FAILURE;
            }
            eprintln!("wrote {stem}.md, {stem}-cdf.svg, {stem}-bytes.svg");
        }
    }
    ExitCode::SUCCESS
}

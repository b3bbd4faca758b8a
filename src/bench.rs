//! `weft bench company`: generates a company (see `weft_node::company`) into one site's node
//! and saves it, to measure that node and to start it again with `weft run`.
//!
//! The folder it writes:
//!
//! ```text
//! OUT/authority/authority.{key,pub}   the company's authority
//! OUT/directory.signed                the signed directory
//! OUT/sites/<site>/node.{key,pub}     every site's node key (any site can be started later)
//! OUT/sites/<site>/weft.toml          the generated site's configuration
//! OUT/sites/<site>/data/store         its store: every change, read model and search index
//! OUT/company.json                    the spec, the figures of the run, sizes on disk
//! OUT/truth.json                      what was written (groups, members, planted words)
//! ```
//!
//! The first 500 employees of the generated site get the password printed at the end, for
//! load tests that log in (a bench folder is not a company: never put one in production).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use weft_node::company::{Company, Progress, Spec};
use weft_node::{Store, files};

/// The password of the bench logins (bench folders only).
pub(crate) const BENCH_PASSWORD: &str = "weft-bench-password";
/// How many of the generated site's employees get it.
const BENCH_LOGINS: usize = 500;

#[derive(clap::Subcommand, Debug)]
pub(crate) enum BenchCmd {
    /// Generate a company's directory and history into one site's node, through the node's
    /// own write path (signed, judged, stored), and save it for reuse.
    ///
    /// The defaults are the company of the sources: 57,000 people, 40 sites, 4,000 groups, a
    /// million posts over a year. Prints the figures (changes, signed bytes, disk, rate)
    /// and writes them to OUT/company.json.
    Company {
        #[arg(long, default_value_t = 57_000)]
        people: usize,
        #[arg(long, default_value_t = 40)]
        sites: usize,
        /// Groups, "All company" included.
        #[arg(long, default_value_t = 4_000)]
        groups: usize,
        /// Posts (thread openings and replies).
        #[arg(long, default_value_t = 1_000_000)]
        posts: usize,
        /// Days of history, ending on 2026-11-30.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// The same seed gives the same company.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The site whose node holds the history (default: the founding site, which
        /// therefore holds all of it).
        #[arg(long)]
        site: Option<String>,
        /// Where to save it: a folder that does not exist or is empty.
        #[arg(long)]
        out: PathBuf,
    },
}

pub(crate) fn bench(cmd: BenchCmd) -> Result<()> {
    match cmd {
        BenchCmd::Company {
            people,
            sites,
            groups,
            posts,
            days,
            seed,
            site,
            out,
        } => company(
            Spec {
                people,
                sites,
                groups,
                posts,
                days,
                seed,
            },
            site,
            &out,
        ),
    }
}

/// A directory's total size in bytes.
pub(crate) fn disk_usage(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return std::fs::metadata(path).map_or(0, |m| m.len());
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => disk_usage(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

fn company(spec: Spec, site: Option<String>, out: &Path) -> Result<()> {
    if out.exists()
        && std::fs::read_dir(out)
            .with_context(|| format!("cannot read {}", out.display()))?
            .next()
            .is_some()
    {
        bail!("{} is not empty: give a new folder", out.display());
    }
    let started = Instant::now();
    let company = Company::new(spec).map_err(|e| anyhow::anyhow!("{e}"))?;
    let site = site.unwrap_or_else(|| company.founding_site());
    if !company.site_keys.contains_key(&site) {
        bail!(
            "the company has no site {site}; its sites: {}",
            company
                .site_keys
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    eprintln!(
        "· a company of {} people at {} sites, {} groups, {} posts over {} days (seed {}), held by {site}",
        spec.people, spec.sites, spec.groups, spec.posts, spec.days, spec.seed
    );
    std::fs::create_dir_all(out.join("authority"))?;
    files::write_secret_key(&out.join("authority/authority.key"), &company.authority)?;
    files::write_public_key(
        &out.join("authority/authority.pub"),
        &company.authority.public(),
    )?;
    files::write_atomic(&out.join("directory.signed"), &company.directory.to_bytes())?;
    for (s, key) in &company.site_keys {
        let d = out.join("sites").join(s);
        std::fs::create_dir_all(&d)?;
        files::write_secret_key(&d.join("node.key"), key)?;
        files::write_public_key(&d.join("node.pub"), &key.public())?;
    }
    let site_dir = out.join("sites").join(&site);
    let data = site_dir.join("data");
    std::fs::create_dir_all(&data)?;
    files::write_atomic(
        &site_dir.join("weft.toml"),
        format!(
            "# A generated company's site (weft bench company).\nsite = \"{site}\"\ndata_dir = \"data\"\nnode_key = \"node.key\"\ndirectory = \"../../directory.signed\"\ntrust = [\"../../authority/authority.pub\"]\n"
        )
        .as_bytes(),
    )?;
    let store = Store::open(&data.join("store"))?;
    let mut core = company.open_core(&site, store, weft_node::crdt::sync::Config::default())?;
    let mut bar = Bar::new();
    let truth = company.generate(&mut core, &mut |p| bar.show(p))?;
    bar.done();
    let gen_secs = started.elapsed().as_secs_f64();

    eprintln!("· setting the bench logins' password");
    let dir = company.directory()?;
    let hash = weft_web::auth::hash_password(BENCH_PASSWORD)
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
    let logins: Vec<&String> = dir
        .employees
        .values()
        .filter(|e| e.site == site)
        .map(|e| &e.id)
        .take(BENCH_LOGINS)
        .collect();
    for login in &logins {
        core.store().set_password_hash(login, &hash)?;
    }
    let stats = core.store().stats();
    // As a node that stops: every group's record stored, so the first start replays none.
    core.checkpoint()?;
    let search_bytes = disk_usage(&core.store().search_dir());
    drop(core);
    // Generation writes a year of summaries and notifications in minutes: sled's file ends
    // many times what it holds. Compact it now, as a node would at its next start.
    let written_bytes = disk_usage(&data.join("store"));
    eprintln!("· compacting the store ({} MB)", written_bytes >> 20);
    let compacted = Store::compact(&data.join("store"))?;
    eprintln!(
        "· sled's file {} → {} MB in {:.1} s",
        compacted.before >> 20,
        compacted.after >> 20,
        compacted.millis as f64 / 1000.0
    );
    let store_bytes = disk_usage(&data.join("store"));
    let summary = serde_json::json!({
        "spec": spec,
        "site": site,
        "changes": truth.changes,
        "signed_bytes": stats.change_bytes,
        "documents": stats.documents,
        "threads": truth.threads,
        "posts": truth.posts,
        "replies": truth.replies,
        "likes": truth.likes,
        "memberships": truth.memberships,
        "profiles": truth.profiles,
        "mentions": truth.mentions,
        "follows": truth.follows,
        "planted_words": truth.tokens.len(),
        "store_bytes": store_bytes,
        "store_bytes_before_compaction": written_bytes,
        "compaction_secs": compacted.millis as f64 / 1000.0,
        "search_bytes": search_bytes,
        "disk_ratio": store_bytes as f64 / stats.change_bytes.max(1) as f64,
        "generation_secs": gen_secs,
        "changes_per_sec": truth.changes as f64 / (truth.millis.max(1) as f64 / 1000.0),
        "bench_logins": logins.len(),
    });
    files::write_atomic(
        &out.join("company.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    files::write_atomic(&out.join("truth.json"), &serde_json::to_vec(&truth)?)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    println!(
        "saved in {}; start the node with: weft run --config {}",
        out.display(),
        site_dir.join("weft.toml").display()
    );
    println!(
        "logins: the first {} employees of {site} (e.g. {}), password {BENCH_PASSWORD}",
        logins.len(),
        logins.first().map_or("", |s| s.as_str())
    );
    Ok(())
}

/// A progress bar on standard error: share done, changes, rate and time left.
struct Bar {
    last: Instant,
    tty: bool,
}

impl Bar {
    fn new() -> Bar {
        use std::io::IsTerminal as _;
        Bar {
            last: Instant::now(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn show(&mut self, p: Progress) {
        // Several times a second on a terminal, every ten seconds in a log.
        let every = if self.tty { 0.2 } else { 10.0 };
        if self.last.elapsed().as_secs_f64() < every && p.changes < p.planned {
            return;
        }
        self.last = Instant::now();
        let share = p.changes as f64 / p.planned.max(1) as f64;
        let rate = p.changes as f64 / p.elapsed.as_secs_f64().max(0.001);
        let left = (p.planned.saturating_sub(p.changes)) as f64 / rate.max(1.0);
        let width = 30;
        let filled = ((share * width as f64) as usize).min(width);
        let line = format!(
            "[{}{}] {:>3.0}% {}/{} changes, {:.0}/s, about {}m{:02}s left",
            "#".repeat(filled),
            " ".repeat(width - filled),
            share * 100.0,
            p.changes,
            p.planned,
            rate,
            (left as u64) / 60,
            (left as u64) % 60
        );
        let mut err = std::io::stderr();
        if self.tty {
            let _ = write!(err, "\r{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    fn done(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

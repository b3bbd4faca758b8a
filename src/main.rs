//! The `weft` command: run a node, administer the directory, start the demo.
//!
//! This is the only place that installs the tracing subscriber, reads the clock for
//! certificates and draws key seeds from the operating system's random source; the library
//! crates receive all of these as arguments.

#![allow(clippy::print_stdout)]

mod admin;
mod bench;
mod catcher;
mod demo;
mod seed;
mod serve;
mod user;
mod video;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Weft: a federated, peer-to-peer enterprise social network.
///
/// Every site of a company runs a node; nodes replicate groups, threads and profiles to each
/// other, and every change is signed by an employee key that the corporate directory vouches
/// for.
#[derive(Parser, Debug)]
#[command(name = "weft", version, propagate_version = true)]
struct Cli {
    /// Log format on standard error.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "WEFT_LOG_FORMAT"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Manage the company's authority key (held offline by IT).
    #[command(subcommand)]
    Authority(admin::AuthorityCmd),
    /// Import, publish and inspect the signed corporate directory.
    #[command(subcommand)]
    Directory(admin::DirectoryCmd),
    /// Enroll a site's node.
    #[command(subcommand)]
    Site(admin::SiteCmd),
    /// Manage the local accounts of this site's employees.
    #[command(subcommand)]
    User(user::UserCmd),
    /// Run this site's node: sync with the other sites and serve the web UI and API.
    ///
    /// Reads the configuration from FILE (default ./weft.toml; see examples/weft.toml), then
    /// from WEFT_* environment variables. Stops cleanly on SIGINT or SIGTERM.
    Run {
        /// The configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Start a whole company on this machine: three sites (Paris, New York, Bangalore), each
    /// with its own node and web server on loopback, connected, with seeded groups and threads.
    ///
    /// Prints `site <id> <url>` and `login <site> <login> <password>` lines, then `ready`; runs
    /// until Ctrl-C. A second run starts again from what is on disk.
    Demo {
        /// Where the demo keeps its data.
        #[arg(long, default_value = "weft-demo")]
        data_dir: PathBuf,
        /// HTTP ports are BASE+1..BASE+3, libp2p ports BASE+11..BASE+13.
        #[arg(long, default_value_t = 8080)]
        port_base: u16,
        /// Start over: delete the demo folder first.
        #[arg(long)]
        fresh: bool,
    },
    /// Measure Weft at a company's size (see README, "Benchmark figures").
    #[command(subcommand)]
    Bench(bench::BenchCmd),
}

/// Two glibc malloc settings that keep an idle node small, and that glibc reads only when a
/// process starts, so a long-running command re-executes itself once with them (same process
/// id, arguments and descriptors):
///
/// * `MALLOC_ARENA_MAX=2`: glibc otherwise gives threads their own arenas (up to eight per
///   core), each keeping its freed memory for itself;
/// * `MALLOC_MMAP_THRESHOLD_=131072`: blocks of 128 KiB or more are mapped on their own and
///   returned to the system when freed. Without it glibc raises the threshold after the first
///   such block is freed, and the large buffers of a search-index commit or a sync batch then
///   stay resident in the heap long after they are freed.
///
/// Measured with `cargo bench --bench node` (idle node, the demo's data): 59-62 MB resident
/// with glibc's defaults, 51-56 MB with the arena limit alone, 31 MB with both. A variable
/// the operator set, to any value, is left as it is.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        let wanted = [
            ("MALLOC_ARENA_MAX", "2"),
            ("MALLOC_MMAP_THRESHOLD_", "131072"),
        ];
        let missing: Vec<_> = wanted
            .into_iter()
            .filter(|(k, _)| std::env::var_os(k).is_none())
            .collect();
        if missing.is_empty() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let err = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .envs(missing)
            .exec();
        // Only reached if exec failed: go on with glibc's defaults.
        eprintln!("note: cannot re-execute with tuned malloc settings ({err}); continuing");
    }
}

/// Everything weft creates is for its own user only: stores, search indexes, setup links and
/// keys hold password hashes, sessions and private text. With this umask, sled's and
/// tantivy's files are created 0600 and folders 0700, whatever the shell's umask was.
fn private_files() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

fn main() -> ExitCode {
    private_files();
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Command::Run { .. } | Command::Demo { .. } | Command::Bench(_)
    ) {
        tune_malloc();
    }
    // A running node reports what it does; the other commands speak for themselves and log
    // only warnings (RUST_LOG overrides both).
    let default_level = if matches!(cli.command, Command::Run { .. }) {
        "info"
    } else {
        "warn"
    };
    init_logging(cli.log_format, default_level);
    let result = match cli.command {
        Command::Authority(cmd) => admin::authority(cmd),
        Command::Directory(cmd) => admin::directory(cmd),
        Command::Site(cmd) => admin::site(cmd),
        Command::User(cmd) => user::user(cmd),
        Command::Bench(cmd) => bench::bench(cmd),
        Command::Run { config } => {
            let explicit = config.is_some();
            let path = config.unwrap_or_else(|| PathBuf::from("weft.toml"));
            serve::load_config(&path, explicit).and_then(serve::run)
        }
        Command::Demo {
            data_dir,
            port_base,
            fresh,
        } => demo::run(data_dir, port_base, fresh),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat, default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

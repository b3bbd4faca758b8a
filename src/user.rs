//! `weft user`: local accounts of a site's employees.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use weft_node::Store;
use weft_node::keys::{Signed, Status};

#[derive(Subcommand, Debug)]
pub(crate) enum UserCmd {
    /// Set an employee's password (read from standard input, one line). The node must be
    /// stopped: its store is opened directly.
    SetPassword {
        /// The node's configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The employee's directory id or e-mail.
        #[arg(long)]
        user: String,
    },
    /// Make a one-time link where an employee chooses their password. Works whether the
    /// node is running or not; the link works once, until it expires.
    Invite {
        /// The node's configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The employee's directory id or e-mail.
        #[arg(long)]
        user: String,
        /// The address employees reach this node at (default: `public_url` from the
        /// configuration, else http://<http_addr>).
        #[arg(long)]
        base_url: Option<String>,
        /// Hours until the link expires.
        #[arg(long, default_value_t = weft_web::invite::DEFAULT_TTL_HOURS)]
        hours: u64,
    },
}

pub(crate) fn user(cmd: UserCmd) -> Result<()> {
    match cmd {
        UserCmd::Invite {
            config,
            user,
            base_url,
            hours,
        } => {
            let explicit = config.is_some();
            let path = config.unwrap_or_else(|| PathBuf::from("weft.toml"));
            let config = crate::serve::load_config(&path, explicit)?;
            let dir_bytes = std::fs::read(&config.directory).with_context(|| {
                format!("cannot read the directory {}", config.directory.display())
            })?;
            let dir = Signed::<weft_node::keys::Directory>::from_bytes(&dir_bytes)?.open()?;
            let e = local_employee(&dir, &config, &user)?;
            if hours == 0 {
                bail!("--hours must be at least 1");
            }
            use weft_node::clock::{Clock, SystemClock, SystemRng};
            let expires = SystemClock.now_ms() + (hours as i64) * 3_600_000;
            let token = weft_web::invite::create(
                &config.data_dir.join(weft_web::invite::DIR),
                &e.id,
                expires,
                &SystemRng,
            )
            .context("cannot write the setup link")?;
            let base = base_url
                .or_else(|| config.public_url.clone())
                .unwrap_or_else(|| format!("http://{}", config.http_addr));
            println!("{}/setup/{token}", base.trim_end_matches('/'));
            eprintln!(
                "one-time link for {} ({}), valid {hours} h: send it to them privately",
                e.id, e.display_name
            );
            Ok(())
        }
        UserCmd::SetPassword { config, user } => {
            let explicit = config.is_some();
            let path = config.unwrap_or_else(|| PathBuf::from("weft.toml"));
            let config = crate::serve::load_config(&path, explicit)?;
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            let password = line.trim_end_matches(['\r', '\n']);
            if password.chars().count() < 10 {
                bail!("the password must have at least 10 characters");
            }
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
            let store = Store::open(&config.data_dir.join("store"))?;
            let dir_bytes = match store.directory()? {
                Some(b) => b,
                None => std::fs::read(&config.directory).with_context(|| {
                    format!("cannot read the directory {}", config.directory.display())
                })?,
            };
            let dir = Signed::<weft_node::keys::Directory>::from_bytes(&dir_bytes)?.open()?;
            let e = local_employee(&dir, &config, &user)?;
            let hash = weft_web::auth::hash_password(password)
                .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
            store.set_password_hash(&e.id, &hash)?;
            // A new password ends every session made with the old one.
            let ended = store.end_sessions_of(&e.id)?;
            store.flush()?;
            println!("password set for {} ({})", e.id, e.display_name);
            if ended > 0 {
                println!("{ended} session(s) of {} ended", e.id);
            }
            Ok(())
        }
    }
}

/// The employee `user` (id or e-mail), who must be active and homed at this node's site.
fn local_employee<'a>(
    dir: &'a weft_node::keys::Directory,
    config: &weft_node::Config,
    user: &str,
) -> Result<&'a weft_node::keys::Employee> {
    let wanted = user.trim().to_lowercase();
    let Some(e) = dir
        .employees
        .values()
        .find(|e| e.id.to_lowercase() == wanted || e.email == wanted)
    else {
        bail!("{user}: no such employee in the directory");
    };
    if e.site != config.site {
        bail!(
            "{} is homed at {}, not at this node's site {}",
            e.id,
            e.site,
            config.site
        );
    }
    if e.status != Status::Active {
        bail!("{} has left the company", e.id);
    }
    Ok(e)
}

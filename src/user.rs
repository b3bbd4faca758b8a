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
}

pub(crate) fn user(cmd: UserCmd) -> Result<()> {
    match cmd {
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
            let hash = weft_web::auth::hash_password(password)
                .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
            store.set_password_hash(&e.id, &hash)?;
            store.flush()?;
            println!("password set for {} ({})", e.id, e.display_name);
            Ok(())
        }
    }
}

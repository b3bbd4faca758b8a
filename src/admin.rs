//! Operator commands: the authority, the directory, site enrollment.
//!
//! Files default to the current folder so that commands chain without arguments:
//! `directory import` writes `directory.draft.json` (the editable working copy),
//! `directory publish` signs it into `directory.signed` (the version nodes load), and
//! `directory show` reads `directory.signed`.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use clap::{Args, Subcommand};
use weft_keys::directory::{self, Directory, SignedDirectory, Status};
use weft_keys::{
    CrossCert, EnrollRequest, PublicKey, SecretKey, Signed, SiteCert, TrustAnchors, certs, import,
};
use weft_node::files;

/// The draft directory, as written by `directory import`.
pub(crate) const DRAFT_FILE: &str = "directory.draft.json";
/// The signed directory, as written by `directory publish`.
pub(crate) const SIGNED_FILE: &str = "directory.signed";
const AUTHORITY_KEY: &str = "authority.key";
const AUTHORITY_PUB: &str = "authority.pub";
const ENROLL_PREFIX: &str = "weft-enroll:";

#[derive(Subcommand, Debug)]
pub(crate) enum AuthorityCmd {
    /// Create a new authority key pair in DIR (refuses to overwrite an existing one).
    ///
    /// Writes DIR/authority.key (secret, mode 0600: keep it offline) and DIR/authority.pub
    /// (give it to every node as its trust root).
    Init {
        /// Folder for the key files; created if missing.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a site's enrollment request: list its node key in the draft directory and write
    /// the site's certificate.
    SignSite {
        /// Folder holding authority.key.
        #[arg(long)]
        authority: PathBuf,
        /// The request printed by `weft site enroll` (a file, or the `weft-enroll:…` text).
        #[arg(long)]
        request: String,
        #[command(flatten)]
        draft: DraftArg,
        /// Where to write the site certificate [default: ./<site>.site-cert].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Vouch for a subsidiary's authority, so that directories it signs are trusted by nodes
    /// that trust this (parent) authority.
    CrossSign {
        /// Folder holding the parent's authority.key.
        #[arg(long)]
        authority: PathBuf,
        /// The subsidiary's authority.pub file.
        #[arg(long)]
        subsidiary: PathBuf,
        /// The subsidiary's name, for people reading the chain.
        #[arg(long)]
        name: String,
        /// Where to write the cross-certificate.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args, Debug)]
pub(crate) struct DraftArg {
    /// The draft directory file.
    #[arg(long, default_value = DRAFT_FILE)]
    draft: PathBuf,
}

#[derive(Subcommand, Debug)]
pub(crate) enum DirectoryCmd {
    /// Import people from an LDIF or CSV export into the draft directory.
    ///
    /// The export is the truth for people: new ones are added, known ones updated, and people
    /// missing from it are kept but marked as having left. Sites are created from the people's
    /// location (`l` or `physicalDeliveryOfficeName`). Nothing is written unless the whole
    /// file parses.
    #[command(group = clap::ArgGroup::new("source").required(true))]
    Import {
        /// An LDIF export (RFC 2849), e.g. from `ldapsearch -LLL`.
        #[arg(long, group = "source")]
        ldif: Option<PathBuf>,
        /// A CSV export with a header row (id, display_name, email, site, …).
        #[arg(long, group = "source")]
        csv: Option<PathBuf>,
        /// The organisation's name, shown in the UI.
        #[arg(long)]
        organisation: Option<String>,
        #[command(flatten)]
        draft: DraftArg,
    },
    /// Sign the draft as the next directory version.
    Publish {
        /// Folder holding authority.key.
        #[arg(long)]
        authority: PathBuf,
        #[command(flatten)]
        draft: DraftArg,
        /// The signed directory to replace.
        #[arg(long, default_value = SIGNED_FILE)]
        out: PathBuf,
        /// Cross-certificates from a root to this authority, in order (for a subsidiary).
        #[arg(long)]
        chain: Vec<PathBuf>,
    },
    /// Revoke a site's node key in the draft (a stolen laptop, a compromised server).
    ///
    /// From the next published version, every node refuses everything the key certified —
    /// whatever directory version a change names — and refuses the key's connections. If it
    /// is the site's current key, the site is cut off until it enrolls a new one (`weft site
    /// enroll`, then `weft authority sign-site`); publish after that.
    RevokeKey {
        /// The site whose key it is.
        #[arg(long)]
        site: String,
        /// The key (hex, as in `node.pub`) [default: the site's current key in the draft].
        #[arg(long)]
        key: Option<String>,
        /// Why, for the record.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        draft: DraftArg,
    },
    /// Print the signed directory: version, sites, employees.
    Show {
        /// The signed directory file.
        #[arg(long, default_value = SIGNED_FILE)]
        file: PathBuf,
        /// A root authority.pub to verify the signer against.
        #[arg(long)]
        trust: Option<PathBuf>,
        /// Print only the sites, not every employee.
        #[arg(long)]
        sites_only: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum SiteCmd {
    /// Create this site's node key and print the request the authority must sign.
    ///
    /// Writes DIR/node.key (secret, mode 0600), DIR/node.pub and DIR/enroll-request.txt.
    Enroll {
        /// The site's id in the directory, e.g. `paris`.
        #[arg(long)]
        site: String,
        /// Folder for the node's key files; created if missing.
        #[arg(long)]
        out: PathBuf,
        /// Addresses where other sites can reach this node (libp2p multiaddrs), repeatable.
        #[arg(long)]
        address: Vec<String>,
    },
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn new_secret_key() -> Result<SecretKey> {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut())
        .map_err(|e| anyhow::anyhow!("the system random source failed: {e}"))?;
    Ok(SecretKey::from_seed(&seed))
}

fn load_authority(dir: &Path) -> Result<SecretKey> {
    let path = dir.join(AUTHORITY_KEY);
    if !path.exists() {
        bail!(
            "{}: no authority key here; create one with `weft authority init --out {}`",
            path.display(),
            dir.display()
        );
    }
    Ok(files::read_secret_key(&path)?)
}

pub(crate) fn authority(cmd: AuthorityCmd) -> Result<()> {
    match cmd {
        AuthorityCmd::Init { out } => {
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let key_path = out.join(AUTHORITY_KEY);
            if key_path.exists() {
                bail!(
                    "{}: an authority key already exists; refusing to overwrite it",
                    key_path.display()
                );
            }
            let key = new_secret_key()?;
            files::write_secret_key(&key_path, &key)?;
            files::write_public_key(&out.join(AUTHORITY_PUB), &key.public())?;
            println!("authority key created");
            println!(
                "  secret: {} (mode 0600; keep it offline)",
                key_path.display()
            );
            println!(
                "  public: {} (every node trusts it)",
                out.join(AUTHORITY_PUB).display()
            );
            println!("  key:    {}", key.public());
            Ok(())
        }
        AuthorityCmd::SignSite {
            authority,
            request,
            draft,
            out,
        } => sign_site(&authority, &request, &draft.draft, out),
        AuthorityCmd::CrossSign {
            authority,
            subsidiary,
            name,
            out,
        } => {
            let parent = load_authority(&authority)?;
            let sub = files::read_public_key(&subsidiary)?;
            let cert = Signed::sign(
                &parent,
                &CrossCert {
                    subsidiary: sub,
                    name: name.clone(),
                    issued_at: now(),
                },
            );
            files::write_atomic(&out, &cert.to_bytes())?;
            println!(
                "{}: authority {} now vouches for {name} ({})",
                out.display(),
                parent.public().short(),
                sub.short()
            );
            Ok(())
        }
    }
}

fn read_request(arg: &str) -> Result<Signed<EnrollRequest>> {
    let text = if arg.trim_start().starts_with(ENROLL_PREFIX) {
        arg.to_owned()
    } else {
        std::fs::read_to_string(arg).with_context(|| format!("cannot read request {arg}"))?
    };
    let line = text
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(ENROLL_PREFIX))
        .with_context(|| format!("no `{ENROLL_PREFIX}` line in the request"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(line.trim())
        .context("the enrollment request is not valid base64")?;
    Signed::from_bytes(&bytes).context("not an enrollment request")
}

fn sign_site(
    authority: &Path,
    request: &str,
    draft_path: &Path,
    out: Option<PathBuf>,
) -> Result<()> {
    let key = load_authority(authority)?;
    let req = certs::verify_enroll_request(&read_request(request)?)?;
    let mut draft = read_draft(draft_path)?;
    if let Some(other) = draft.site_of_node(&req.node_key)
        && other.id != req.site
    {
        bail!(
            "node key {} is already enrolled for site {}",
            req.node_key.short(),
            other.id
        );
    }
    let Some(site) = draft.sites.get_mut(&req.site) else {
        let known: Vec<&str> = draft.sites.keys().map(String::as_str).collect();
        bail!(
            "site {:?} is not in the draft directory (sites: {}); import its people first",
            req.site,
            known.join(", ")
        );
    };
    if let Some(old) = site.node_key
        && old != req.node_key
    {
        println!(
            "site {}: replacing node key {} with {}",
            site.id,
            old.short(),
            req.node_key.short()
        );
    }
    site.node_key = Some(req.node_key);
    if !req.addresses.is_empty() {
        site.addresses = req.addresses.clone();
    }
    let cert = Signed::sign(
        &key,
        &SiteCert {
            site: req.site.clone(),
            node_key: req.node_key,
            issued_at: now(),
        },
    );
    let out = out.unwrap_or_else(|| PathBuf::from(format!("{}.site-cert", req.site)));
    write_draft(draft_path, &draft)?;
    files::write_atomic(&out, &cert.to_bytes())?;
    println!(
        "site {} enrolled with node key {}; certificate written to {}",
        req.site,
        req.node_key.short(),
        out.display()
    );
    println!("run `weft directory publish` to publish the directory that lists it");
    Ok(())
}

fn read_draft(path: &Path) -> Result<Directory> {
    if !path.exists() {
        bail!(
            "{}: no draft directory; create one with `weft directory import --ldif FILE`",
            path.display()
        );
    }
    let bytes = files::read(path)?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a draft directory", path.display()))
}

fn write_draft(path: &Path, draft: &Directory) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(draft)?;
    json.push(b'\n');
    Ok(files::write_atomic(path, &json)?)
}

fn read_signed(path: &Path) -> Result<SignedDirectory> {
    let bytes = files::read(path)?;
    Signed::from_bytes(&bytes)
        .with_context(|| format!("{}: not a signed directory", path.display()))
}

pub(crate) fn directory(cmd: DirectoryCmd) -> Result<()> {
    match cmd {
        DirectoryCmd::Import {
            ldif,
            csv,
            organisation,
            draft,
        } => {
            let (path, is_ldif) = match (ldif, csv) {
                (Some(p), _) => (p, true),
                (None, Some(p)) => (p, false),
                (None, None) => bail!("give --ldif FILE or --csv FILE"),
            };
            let started = Instant::now();
            eprintln!("reading {}…", path.display());
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!("cannot read {} (it must be UTF-8 text)", path.display())
            })?;
            let imported = if is_ldif {
                import::parse_ldif(&text)
            } else {
                import::parse_csv(&text)
            }
            .with_context(|| format!("{}", path.display()))?;
            let people = imported.employees.len();
            let skipped = imported.skipped;
            let warnings = imported.warnings.clone();
            let mut dir = if draft.draft.exists() {
                read_draft(&draft.draft)?
            } else {
                Directory::default()
            };
            if let Some(org) = organisation {
                dir.organisation = org;
            }
            let report = import::merge(&mut dir, imported);
            dir.validate()
                .map_err(|e| anyhow::anyhow!("the imported directory is inconsistent: {e}"))?;
            write_draft(&draft.draft, &dir)?;
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            println!(
                "imported {people} people from {} in {} ms ({} new, {} updated, {} unchanged; {} non-person entries skipped)",
                path.display(),
                started.elapsed().as_millis(),
                report.added,
                report.updated,
                report.unchanged,
                skipped
            );
            if !report.new_sites.is_empty() {
                println!("new sites: {}", report.new_sites.join(", "));
            }
            if !report.left.is_empty() {
                println!(
                    "{} people no longer in the export are marked as left: {}",
                    report.left.len(),
                    report.left.join(", ")
                );
            }
            println!(
                "draft written to {}; run `weft directory publish --authority DIR` to sign it",
                draft.draft.display()
            );
            Ok(())
        }
        DirectoryCmd::Publish {
            authority,
            draft,
            out,
            chain,
        } => {
            let key = load_authority(&authority)?;
            let edited = read_draft(&draft.draft)?;
            let previous = if out.exists() {
                Some(read_signed(&out)?.open().with_context(|| {
                    format!(
                        "{}: the current signed directory does not verify",
                        out.display()
                    )
                })?)
            } else {
                None
            };
            let mut dir = Directory::next_version(previous.as_ref(), &edited, now());
            dir.authority_chain = chain
                .iter()
                .map(|p| {
                    Signed::from_bytes(&files::read(p)?)
                        .with_context(|| format!("{}: not a cross-certificate", p.display()))
                })
                .collect::<Result<_>>()?;
            dir.validate()
                .map_err(|e| anyhow::anyhow!("{}: {e}", draft.draft.display()))?;
            let signed = Signed::sign(&key, &dir);
            // Check what we are about to publish the way a node will.
            let roots = match dir.authority_chain.first() {
                Some(first) => TrustAnchors::single(*first.signer()),
                None => TrustAnchors::single(key.public()),
            };
            directory::verify(&signed, &roots).context("the new version does not verify")?;
            files::write_atomic(&out, &signed.to_bytes())?;
            for w in dir.warnings() {
                eprintln!("warning: {w}");
            }
            let active = dir
                .employees
                .values()
                .filter(|e| e.status == Status::Active)
                .count();
            println!(
                "published directory version {} to {} ({} sites, {} employees, {} active), signed by {}",
                dir.version,
                out.display(),
                dir.sites.len(),
                dir.employees.len(),
                active,
                key.public().short()
            );
            Ok(())
        }
        DirectoryCmd::RevokeKey {
            site,
            key,
            reason,
            draft,
        } => {
            let mut dir = read_draft(&draft.draft)?;
            let Some(listed) = dir.sites.get(&site) else {
                bail!("site {site:?} is not in {}", draft.draft.display());
            };
            let key: PublicKey = match key {
                Some(k) => k.parse().with_context(|| format!("--key {k:?}"))?,
                None => listed
                    .node_key
                    .with_context(|| format!("site {site} has no node key to revoke"))?,
            };
            let known = dir.listed_node_key_of(&site, &key);
            if !known {
                eprintln!("warning: {} was never listed as {site}'s key", key.short());
            }
            if dir.is_revoked(&key) {
                println!("{} is already revoked", key.short());
                return Ok(());
            }
            let current = listed.node_key == Some(key);
            dir.revoked_keys.push(directory::RevokedKey {
                site: site.clone(),
                key,
                from_version: 0,
                reason,
            });
            write_draft(&draft.draft, &dir)?;
            println!(
                "revoked {} ({site}) in {}; run `weft directory publish` to make it so",
                key.short(),
                draft.draft.display()
            );
            if current {
                eprintln!(
                    "warning: this is {site}'s current key: the site is cut off until it enrolls a new one"
                );
            }
            Ok(())
        }
        DirectoryCmd::Show {
            file,
            trust,
            sites_only,
        } => {
            let signed = read_signed(&file)?;
            let (dir, how) = match trust {
                Some(root) => {
                    let root = files::read_public_key(&root)?;
                    let v = directory::verify(&signed, &TrustAnchors::single(root))?;
                    (
                        v.directory,
                        format!("verified against root {}", root.short()),
                    )
                }
                None => (
                    signed.open()?,
                    "signature valid; pass --trust authority.pub to check the signer".to_owned(),
                ),
            };
            print!(
                "{}",
                render_directory(&dir, signed.signer(), &how, sites_only)
            );
            Ok(())
        }
    }
}

pub(crate) fn site(cmd: SiteCmd) -> Result<()> {
    match cmd {
        SiteCmd::Enroll { site, out, address } => {
            if !directory::is_site_id(&site) {
                bail!(
                    "{site:?} is not a site id: one lower-case word of letters, digits and '-' (e.g. paris, new-york)"
                );
            }
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let key_path = out.join("node.key");
            let key = new_secret_key()?;
            files::write_secret_key(&key_path, &key)?;
            files::write_public_key(&out.join("node.pub"), &key.public())?;
            let req = Signed::sign(
                &key,
                &EnrollRequest {
                    site: site.clone(),
                    node_key: key.public(),
                    addresses: address,
                    requested_at: now(),
                },
            );
            let line = format!(
                "{ENROLL_PREFIX}{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(req.to_bytes())
            );
            let req_path = out.join("enroll-request.txt");
            files::write_atomic(&req_path, format!("{line}\n").as_bytes())?;
            println!("node key for site {site} created in {}", key_path.display());
            println!("node public key: {}", key.public());
            println!(
                "send this request to the authority, who runs `weft authority sign-site --request {}`:",
                req_path.display()
            );
            println!("{line}");
            Ok(())
        }
    }
}

/// The text `directory show` prints.
fn render_directory(dir: &Directory, signer: &PublicKey, how: &str, sites_only: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let org = if dir.organisation.is_empty() {
        "(unnamed organisation)"
    } else {
        &dir.organisation
    };
    let _ = writeln!(
        s,
        "Directory of {org}, version {}, issued {}",
        dir.version,
        format_utc(dir.issued_at)
    );
    let _ = writeln!(s, "signed by authority {} ({how})", signer.short());
    for r in &dir.revoked_keys {
        let _ = writeln!(
            s,
            "revoked node key {} of {} since version {}{}",
            r.key.short(),
            r.site,
            r.from_version,
            if r.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", r.reason)
            }
        );
    }
    for cert in &dir.authority_chain {
        if let Ok(c) = cert.open() {
            let _ = writeln!(
                s,
                "  vouched for as {:?} by {}",
                c.name,
                cert.signer().short()
            );
        }
    }
    let _ = writeln!(s, "\nSites ({})", dir.sites.len());
    for site in dir.sites.values() {
        let people = dir.employees_at(&site.id).count();
        let node = site.node_key.map_or("not enrolled".to_owned(), |k| {
            if dir.is_revoked(&k) {
                format!("node {} REVOKED", k.short())
            } else {
                format!("node {}", k.short())
            }
        });
        let _ = writeln!(
            s,
            "  {:<14} {:<16} {:<14} {:>4} people  {}{}",
            site.id,
            site.name,
            site.region,
            people,
            node,
            if site.addresses.is_empty() {
                String::new()
            } else {
                format!("  {}", site.addresses.join(" "))
            }
        );
    }
    if sites_only {
        return s;
    }
    let active = dir
        .employees
        .values()
        .filter(|e| e.status == Status::Active)
        .count();
    let _ = writeln!(
        s,
        "\nEmployees ({}: {active} active, {} left)",
        dir.employees.len(),
        dir.employees.len() - active
    );
    for e in dir.employees.values() {
        let roles: Vec<&str> = e.roles.iter().map(|r| r.as_str()).collect();
        let _ = writeln!(
            s,
            "  {:<12} {:<24} {:<10} {:<30} {}{}{}",
            e.id,
            e.display_name,
            e.site,
            e.email,
            e.title,
            if roles.is_empty() {
                String::new()
            } else {
                format!("  [{}]", roles.join(", "))
            },
            if e.status == Status::Left {
                "  (left)"
            } else {
                ""
            }
        );
    }
    s
}

/// `YYYY-MM-DD HH:MM UTC` for seconds since the Unix epoch.
fn format_utc(secs: u64) -> String {
    // The API's RFC 3339 form, shortened to the minute.
    let full = weft_web::time::rfc3339((secs as i64).saturating_mul(1000));
    format!("{} {} UTC", &full[..10], &full[11..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_utc(1_795_392_000 + 3_660), "2026-11-23 01:01 UTC");
    }
}

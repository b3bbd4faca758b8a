//! `weft demo`: a whole company on this machine — an authority, the sample directory, three
//! sites (Paris, New York, Bangalore) each with its own node, store and web server on
//! loopback, connected over libp2p, and seeded content written through the nodes themselves.
//!
//! The demo lives in one folder. A second `weft demo` starts again from what is on disk;
//! `--fresh` starts over.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use weft_node::crdt::DocId;
use weft_node::keys::directory::Directory;
use weft_node::keys::{SecretKey, Signed, import};
use weft_node::{Config, NodeHandle, Store, files};

/// The sample directory, built into the binary so the demo runs from any folder.
const LDIF: &str = include_str!("../examples/directory.ldif");
/// The usage charter the demo's employees accept at their first login.
const DEMO_CHARTER: &str = include_str!("../examples/charter.md");
/// The demo's password for the logins it prints (demo only!).
pub(crate) const PASSWORD: &str = "weft-demo-password";
/// The three sites and the logins printed for each.
const SITES: [(&str, &[&str]); 3] = [
    ("paris", &["hdupre", "cmartin", "fmercier"]),
    ("new-york", &["jsmith", "ejohnson", "jgarcia"]),
    ("bangalore", &["pkumar", "srao", "rsharma"]),
];

fn step(msg: &str) {
    eprintln!("· {msg}");
}

fn now_secs() -> u64 {
    weft_node::run::now_ms() / 1000
}

fn new_key() -> Result<SecretKey> {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(SecretKey::from_seed(&seed))
}

fn site_dir(root: &Path, site: &str) -> PathBuf {
    root.join("sites").join(site)
}

fn config_for(root: &Path, i: usize, site: &str, port_base: u16) -> Config {
    let dir = site_dir(root, site);
    Config {
        site: site.to_owned(),
        data_dir: dir.join("data"),
        node_key: dir.join("node.key"),
        directory: root.join("directory.signed"),
        trust: vec![root.join("authority").join("authority.pub")],
        http_addr: std::net::SocketAddr::from(([127, 0, 0, 1], port_base + 1 + i as u16)),
        listen: vec![format!("/ip4/127.0.0.1/tcp/{}", port_base + 11 + i as u16)],
        peers: Vec::new(),
        mdns: false,
        resync_interval_secs: 5,
        cache_documents: weft_node::DEFAULT_CACHE_DOCUMENTS,
        charter: None,
        // Mail goes to the demo's catcher (see `catcher`), a minute after what it is about.
        smtp: Some(weft_node::config::Smtp {
            host: "127.0.0.1".into(),
            port: port_base + 20,
            tls: weft_node::config::SmtpTls::None,
            username: None,
            password: None,
            from: format!("Weft {site} <weft-{site}@example.com>"),
        }),
        mail_delay_secs: 60,
        ..Config::default()
    }
}

/// Creates the authority, the directory and the three sites' keys and accounts.
fn create(root: &Path, port_base: u16) -> Result<()> {
    step("creating the company's authority key");
    let auth_dir = root.join("authority");
    std::fs::create_dir_all(&auth_dir)?;
    let authority = new_key()?;
    files::write_secret_key(&auth_dir.join("authority.key"), &authority)?;
    files::write_public_key(&auth_dir.join("authority.pub"), &authority.public())?;

    step("importing the directory (examples/directory.ldif: 50 employees, 3 sites)");
    let imported = import::parse_ldif(LDIF).context("the built-in directory")?;
    let mut draft = Directory {
        organisation: "Example Corp".into(),
        ..Directory::default()
    };
    import::merge(&mut draft, imported);
    for (i, (site, _)) in SITES.iter().enumerate() {
        step(&format!("enrolling site {site}"));
        let dir = site_dir(root, site);
        std::fs::create_dir_all(&dir)?;
        let key = new_key()?;
        files::write_secret_key(&dir.join("node.key"), &key)?;
        files::write_public_key(&dir.join("node.pub"), &key.public())?;
        let s = draft
            .sites
            .get_mut(*site)
            .with_context(|| format!("the directory has no site {site}"))?;
        s.node_key = Some(key.public());
        s.addresses = vec![format!("/ip4/127.0.0.1/tcp/{}", port_base + 11 + i as u16)];
    }
    let dir = Directory::next_version(None, &draft, now_secs());
    files::write_atomic(
        &root.join("directory.signed"),
        &Signed::sign(&authority, &dir).to_bytes(),
    )?;
    step("setting the demo logins' passwords");
    for (i, (site, logins)) in SITES.iter().enumerate() {
        let config = config_for(root, i, site, port_base);
        std::fs::create_dir_all(&config.data_dir)?;
        let store = Store::open(&config.data_dir.join("store"))?;
        for login in *logins {
            let hash = weft_web::auth::hash_password(PASSWORD)
                .map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
            store.set_password_hash(login, &hash)?;
        }
        store.flush()?;
        let toml = format!(
            "# This demo site's configuration (for reference; `weft demo` starts it).\nsite = \"{site}\"\ndata_dir = \"data\"\nnode_key = \"node.key\"\ndirectory = \"../../directory.signed\"\ntrust = [\"../../authority/authority.pub\"]\nhttp_addr = \"{}\"\nlisten = [\"{}\"]\n",
            config.http_addr, config.listen[0]
        );
        files::write_atomic(&site_dir(root, site).join("weft.toml"), toml.as_bytes())?;
    }
    Ok(())
}

/// Runs the demo until SIGINT or SIGTERM.
pub(crate) fn run(root: PathBuf, port_base: u16, fresh: bool) -> Result<()> {
    if port_base > 65_000 {
        bail!("--port-base must leave room for 20 ports below 65535");
    }
    if fresh && root.exists() {
        step(&format!("removing the previous demo in {}", root.display()));
        std::fs::remove_dir_all(&root)
            .with_context(|| format!("cannot remove {}", root.display()))?;
    }
    let marker = root.join("demo-seeded");
    let existing = root.join("directory.signed").exists();
    if existing {
        step(&format!(
            "reusing the demo in {} (--fresh starts over)",
            root.display()
        ));
    } else {
        std::fs::create_dir_all(&root)
            .with_context(|| format!("cannot create {}", root.display()))?;
        create(&root, port_base)?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let mut handles = BTreeMap::new();
        let mut tasks = Vec::new();
        // The mail catcher: what the nodes mail is written to <root>/mail as .eml files.
        let mail_dir = root.join("mail");
        std::fs::create_dir_all(&mail_dir)?;
        let smtp = std::net::SocketAddr::from(([127, 0, 0, 1], port_base + 20));
        let catcher = tokio::net::TcpListener::bind(smtp)
            .await
            .with_context(|| format!("cannot listen on {smtp} (try --port-base)"))?;
        step(&format!(
            "catching the mail the nodes send on {smtp}: it is written to {}",
            mail_dir.display()
        ));
        let catcher = tokio::spawn(crate::catcher::run(catcher, mail_dir.clone()));
        for (i, (site, _)) in SITES.iter().enumerate() {
            step(&format!("starting the {site} node"));
            let config = config_for(&root, i, site, port_base);
            let running = weft_node::start(&config, wait(stop_rx.clone()))
                .await
                .with_context(|| format!("starting {site}"))?;
            let listener = tokio::net::TcpListener::bind(config.http_addr)
                .await
                .with_context(|| {
                    format!("cannot listen on {} (try --port-base)", config.http_addr)
                })?;
            tasks.push(tokio::spawn(weft_web::serve(
                listener,
                running.service(),
                weft_web::WebOptions::from_config(&config, Some(DEMO_CHARTER.to_owned())),
                wait(stop_rx.clone()),
            )));
            handles.insert(site.to_string(), (running.handle, config.http_addr));
            tasks.push(tokio::spawn(async move {
                match running.task.await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(std::io::Error::other(e.to_string())),
                    Err(e) => Err(std::io::Error::other(e.to_string())),
                }
            }));
        }
        step("waiting for the three nodes to connect");
        wait_connected(&handles).await?;
        if !marker.exists() {
            step("writing the seed content through the nodes (groups, threads, replies, likes)");
            let docs = crate::seed::seed(&handles).await?;
            step("waiting for every site to hold what it may hold");
            wait_replicated(&handles, &docs).await?;
            files::write_atomic(&marker, b"seeded\n")?;
        }
        for (site, (_, addr)) in &handles {
            println!("site {site} http://{addr}/");
        }
        for (site, logins) in SITES {
            for login in logins {
                println!("login {site} {login} {PASSWORD}");
            }
        }
        println!("mail {}", mail_dir.display());
        println!("ready");
        signal().await;
        step("stopping the three nodes");
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
        catcher.abort();
        step("stopped");
        Ok(())
    })
}

async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

async fn wait_connected(
    handles: &BTreeMap<String, (NodeHandle, std::net::SocketAddr)>,
) -> Result<()> {
    let start = Instant::now();
    loop {
        let mut all = true;
        for (h, _) in handles.values() {
            let n = h.call(|core| core.engine().peers().count()).await?;
            all &= n == handles.len() - 1;
        }
        if all {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("the nodes did not connect within a minute");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until every site that may hold each document holds it.
async fn wait_replicated(
    handles: &BTreeMap<String, (NodeHandle, std::net::SocketAddr)>,
    docs: &[(DocId, Vec<String>)],
) -> Result<()> {
    let start = Instant::now();
    loop {
        let mut missing = 0;
        for (doc, sites) in docs {
            for site in sites {
                let Some((h, _)) = handles.get(site) else {
                    continue;
                };
                let d = doc.clone();
                if !h.call(move |core| core.replica().holds(&d)).await? {
                    missing += 1;
                }
            }
        }
        if missing == 0 {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(120) {
            bail!("{missing} documents did not replicate within two minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

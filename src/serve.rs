//! `weft run`: a node and its web server, until SIGINT or SIGTERM.

use std::path::Path;

use anyhow::{Context, Result};
use weft_node::Config;

/// Loads the configuration: the TOML file (if it exists, or if it was named explicitly), then
/// `WEFT_*` environment variables; relative paths resolve against the file's folder.
pub(crate) fn load_config(path: &Path, explicit: bool) -> Result<Config> {
    let mut config = if path.exists() || explicit {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration {}", path.display()))?;
        Config::from_toml(&text).with_context(|| format!("{}", path.display()))?
    } else {
        Config::default()
    };
    config.apply_env(std::env::vars())?;
    config.validate()?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    config.resolve_paths(base);
    Ok(config)
}

async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers, run until killed.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
}

/// Runs a node until a signal arrives, then stops it cleanly.
pub(crate) fn run(config: Config) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(async move {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let web_options = web_options(&config)?;
        let running = weft_node::start(&config, wait(stop_rx.clone()))
            .await
            .context("cannot start the node")?;
        let listener = tokio::net::TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.http_addr))?;
        let http = listener.local_addr()?;
        println!(
            "node {} running: http://{http}/ (peer id {})",
            config.site,
            running.handle.peer_id()
        );
        let web = tokio::spawn(weft_web::serve(
            listener,
            running.service(),
            web_options,
            wait(stop_rx.clone()),
        ));
        let mut task = running.task;
        tokio::select! {
            () = signal() => {}
            r = &mut task => {
                // The node stopped by itself: a fatal error.
                return match r {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(anyhow::Error::new(e).context("the node stopped")),
                    Err(e) => Err(anyhow::anyhow!("the node task failed: {e}")),
                };
            }
        }
        let _ = stop_tx.send(true);
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(anyhow::Error::new(e).context("stopping the node")),
            Err(e) => return Err(anyhow::anyhow!("the node task failed: {e}")),
        }
        let _ = web.await;
        println!("node {} stopped", config.site);
        Ok(())
    })
}

/// The web layer's settings from the node's configuration: the usage charter's text (read
/// now, so a missing file stops the start with its name), the data directory, the public
/// address, the trusted proxies, the metrics token and the login limits.
pub(crate) fn web_options(config: &Config) -> Result<weft_web::WebOptions> {
    let charter = match &config.charter {
        Some(path) => Some(std::fs::read_to_string(path).with_context(|| {
            format!("charter: cannot read the usage charter {}", path.display())
        })?),
        None => None,
    };
    Ok(weft_web::WebOptions::from_config(config, charter))
}

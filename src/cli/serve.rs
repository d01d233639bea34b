//! `baton serve`: the scheduler daemon with its HTTP trigger, health and metrics endpoint.
//! Exits 0 on SIGTERM / SIGINT once the run in progress has finished or been abandoned.

use super::common::load_config;
use crate::schedule::Daemon;
use crate::store::Store;
use anyhow::Context;
use std::path::PathBuf;

/// Arguments of `baton serve`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  BATON_TOKEN=... baton serve --config config/baton.toml\n  baton serve --listen 127.0.0.1:9000\n\nPOST /runs (bearer token), GET /runs/{id}, GET /healthz, GET /metrics."
)]
pub struct Args {
    /// The configuration file (TOML). Default: $BATON_CONFIG, else config/baton.toml when it
    /// exists, else the built-in defaults.
    #[arg(long, value_name = "FILE", env = "BATON_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address of the HTTP endpoint, instead of `[serve] listen`.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Where pulled pages are cached between runs.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut cfg = load_config(args.config.as_deref())?;
    if let Some(l) = args.listen {
        cfg.serve.listen = l;
    }
    let addr: std::net::SocketAddr = cfg.serve.listen.parse().map_err(|_| {
        super::UsageError(format!(
            "--listen `{}` is not an address with a port",
            cfg.serve.listen
        ))
    })?;
    let store = Store::open(&cfg.store.path)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    // Printed on stderr for scripts and tests that ask for port 0.
    eprintln!(
        "baton serve: listening on http://{}",
        listener.local_addr()?
    );
    let daemon = Daemon::new(cfg, store);
    let mut daemon_pull = daemon;
    if let Some(dir) = args.cache_dir {
        if let Some(d) = std::sync::Arc::get_mut(&mut daemon_pull) {
            d.pull.cache_dir = Some(dir);
        }
    }
    daemon_pull.serve(listener, signal()).await
}

/// SIGTERM or SIGINT.
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT"),
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

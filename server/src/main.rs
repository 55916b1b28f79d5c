//! `candlefish-server`: the site and telemetry server. See the library docs and
//! `server/PROTOCOL.md`.

use anyhow::Context as _;
use candlefish_server::{Config, Server};
use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let site_dir = config.site_dir.clone();
    let server = Server::start(config).await.context("starting the server")?;
    // Scripts and tests read these two lines to find the ports (--port 0).
    println!("listening on http://{}", server.site_addr);
    println!("metrics on http://{}/metrics", server.metrics_addr);
    if !site_dir.is_dir() {
        tracing::warn!(dir = %site_dir.display(), "site directory missing; static requests will 404");
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

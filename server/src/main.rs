//! `candlefish-server`: the site and telemetry server. See the library docs and
//! `server/PROTOCOL.md`.

use anyhow::Context as _;
use candlefish_server::verdict::{self, VerdictArgs};
use candlefish_server::{Config, Server};
use clap::Parser;

/// The command line: the server's flags, or a subcommand.
#[derive(Debug, Parser)]
#[command(
    name = "candlefish-server",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Compare a canary release with its baseline through Prometheus's HTTP API:
    /// promote (exit 0), hold for more samples (exit 3) or roll back (exit 4).
    Verdict(VerdictArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Verdict(args)) = cli.command {
        let v = verdict::run(&args).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            let range = args.range.clone().unwrap_or_else(|| match &args.config {
                Some(path) => verdict::Gates::read(path)
                    .map(|g| g.range)
                    .unwrap_or_default(),
                None => verdict::Gates::default().range,
            });
            print!("{}", verdict::render(&v, &args, &range));
        }
        std::process::exit(v.decision.exit_code());
    }
    let config = cli.config;
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

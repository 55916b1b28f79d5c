//! Candlefish site and telemetry server.
//!
//! One binary, two listeners, each driven by [`serve`] (connection caps, header-read,
//! keep-alive and send timeouts):
//! - the **site** listener (default 127.0.0.1:8080): static files with edge hints
//!   ([`static_files`], [`edge`]), the telemetry WebSocket and beacon ([`telemetry`]),
//!   `/api/hints`; every response passes the security-header and rate-limit middleware
//!   ([`security`]);
//! - the **metrics** listener (default 127.0.0.1:9464, keep it private): Prometheus
//!   `/metrics` ([`metrics`]), the live dashboard and `/api/stats` ([`dashboard`]; also
//!   on the site with `--public-dashboard`).
//!
//! A telemetry message flows: socket/beacon → [`telemetry::ingest`] (per-IP rate,
//! parse and validate with `candlefish-protocol`) → [`AppState::record`] → the session
//! table ([`sessions`]: weight cap, duplicates, once-per-session fields, one summary
//! per session window) → cumulative Prometheus series ([`metrics`]) and the sliding
//! window ([`aggregate`]) under a server-side release label ([`labels`]). The server
//! keeps no state that replicas must share: each is scraped on its own, and the release
//! verdict ([`verdict`]) reads every replica through Prometheus.
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "tests"))]

pub mod aggregate;
pub mod config;
pub mod dashboard;
pub mod edge;
pub mod labels;
pub mod manifest;
pub mod metrics;
pub mod mime;
pub mod origin;
pub mod ratelimit;
pub mod security;
pub mod serve;
pub mod sessions;
pub mod static_files;
pub mod telemetry;
pub mod verdict;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Extensions, StatusCode, Version};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::timeout::RequestBodyTimeoutLayer;

/// Connections the private metrics listener serves at once.
const METRICS_MAX_CONNECTIONS: usize = 64;

pub use config::Config;

/// Shared state of one server.
#[derive(Debug)]
pub struct AppState {
    /// Configuration.
    pub config: Config,
    /// Canonical site directory.
    pub site_root: PathBuf,
    /// Per-IP HTTP request limiter.
    pub http_limiter: ratelimit::KeyedLimiter<IpAddr>,
    /// Per-IP telemetry message limiter (sockets and beacons together).
    pub msg_limiter: ratelimit::KeyedLimiter<IpAddr>,
    /// Cumulative metrics.
    pub metrics: metrics::Metrics,
    /// Sliding-window aggregates for the dashboard.
    pub window: aggregate::Window,
    /// Which releases keep their own label.
    pub labels: labels::ReleaseLabels,
    /// Per-session state: weight caps, duplicates, session windows.
    pub sessions: sessions::Sessions,
    /// The `Origin` rules.
    pub origins: origin::OriginPolicy,
    /// Open telemetry sockets, per client IP key and in all.
    pub sockets: Mutex<telemetry::ws::SocketTable>,
    /// Set to `true` to ask every socket task to close (1001) and finish.
    pub shutdown: watch::Sender<bool>,
}

impl AppState {
    /// Builds the state for `config`.
    pub fn new(config: Config) -> Self {
        let site_root =
            std::fs::canonicalize(&config.site_dir).unwrap_or_else(|_| config.site_dir.clone());
        let ip_rate = config.ip_msg_rate.max(0.001);
        Self {
            http_limiter: ratelimit::KeyedLimiter::per_period(
                config.rate_limit,
                config.rate_period(),
            ),
            msg_limiter: ratelimit::KeyedLimiter::new(ip_rate, ip_rate * 2.0),
            metrics: metrics::Metrics::default(),
            window: aggregate::Window::new(Duration::from_secs(60), 5),
            labels: labels::ReleaseLabels::new(&config.releases, config.max_releases),
            sessions: sessions::Sessions::new(
                config.session_window(),
                config.session_idle(),
                config.max_sessions,
            ),
            origins: origin::OriginPolicy::new(&config),
            sockets: Mutex::new(telemetry::ws::SocketTable::default()),
            shutdown: watch::Sender::new(false),
            site_root,
            config,
        }
    }

    /// Records a validated observation: through the session table, into the metrics
    /// and the window.
    pub fn record(&self, obs: candlefish_protocol::Observation) -> telemetry::Outcome {
        let key = labels::SeriesKey {
            release: if obs.session.is_some() {
                self.labels.label(&obs.release)
            } else {
                self.labels.legacy()
            },
            mode: obs.mode.map_or(labels::UNKNOWN, |m| m.as_str()),
            preset: obs.preset.map_or(labels::UNKNOWN, |p| p.as_str()),
        };
        let admission = self.sessions.admit(&obs, &key, Instant::now());
        if admission.duplicate {
            self.metrics.count_duplicate();
            return telemetry::Outcome::Duplicate;
        }
        self.metrics.observe_windows(&admission.closed);
        self.window.observe(
            &key,
            &admission.frames,
            admission.frame_time_ms,
            obs.dropped_frames,
        );
        self.metrics.observe(&key, &obs, &admission);
        telemetry::Outcome::Accepted
    }

    /// The release the site serves now (its manifest's), or `unknown`.
    pub fn served_release(&self) -> Arc<str> {
        self.labels
            .current()
            .unwrap_or_else(|| labels::UNKNOWN.into())
    }

    /// Closes ended session windows and forgets idle sessions.
    pub fn sweep_sessions(&self) {
        let closed = self.sessions.sweep(Instant::now());
        self.metrics.observe_windows(&closed);
        self.metrics.set_tracked_sessions(self.sessions.len());
    }
}

/// The public site router: the page and assets, the hints and the telemetry
/// endpoints (plus the dashboard with `--public-dashboard`).
///
/// Layers, outermost first: security headers and the request counter; client IP and
/// the per-IP request rate; the body-read timeout (`tower-http`); on-the-fly compression
/// of HTML (`tower-http`; the page is patched per request, so it has no precompressed
/// variant, and the assets bring their own).
pub fn site_router(state: Arc<AppState>) -> Router {
    let mut router = Router::new()
        .route("/telemetry", get(telemetry::ws::handler))
        .route("/telemetry/beacon", post(telemetry::beacon::handler))
        .route("/api/hints", get(dashboard::hints));
    if state.config.public_dashboard {
        router = router.merge(dashboard_routes());
    }
    let compress_html = |status: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions| {
        status == StatusCode::OK
            && headers
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"text/html"))
    };
    router
        .fallback(static_files::serve_static)
        // Brotli and gzip at quality 4: most of the gain of the top levels at a small
        // fraction of the CPU, which matters when every page view is compressed anew.
        .layer(
            CompressionLayer::new()
                .quality(CompressionLevel::Precise(4))
                .compress_when(compress_html),
        )
        .layer(RequestBodyTimeoutLayer::new(
            state.config.body_read_timeout(),
        ))
        .layer(from_fn_with_state(state.clone(), security::client_ip_layer))
        .layer(from_fn_with_state(state.clone(), security::security_layer))
        .with_state(state)
}

/// The live dashboard, its assets and `/api/stats`.
fn dashboard_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/stats", get(dashboard::stats))
        .route("/dashboard", get(dashboard::page))
        .route("/dashboard/dashboard.js", get(dashboard::script))
        .route("/dashboard/dashboard.css", get(dashboard::style))
}

/// The private metrics router: Prometheus `/metrics`, the live dashboard and
/// `/api/stats`.
pub fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(
                |axum::extract::State(s): axum::extract::State<Arc<AppState>>| async move {
                    let mut r: Response = s.metrics.render().into_response();
                    let h = r.headers_mut();
                    h.insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                    );
                    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    r
                },
            ),
        )
        .merge(dashboard_routes())
        .layer(axum::middleware::map_response(
            |mut r: Response| async move {
                security::apply_security_headers(r.headers_mut());
                r
            },
        ))
        .with_state(state)
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not bind its address.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The configuration contradicts itself.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    /// Bound address of the site listener.
    pub site_addr: SocketAddr,
    /// Bound address of the metrics listener.
    pub metrics_addr: SocketAddr,
    state: Arc<AppState>,
    site: JoinHandle<()>,
    metrics: JoinHandle<()>,
}

/// Pending connections the kernel may queue before `accept` (tokio's default is 1024;
/// the kernel caps it at `net.core.somaxconn`). Bursts of reconnecting attackers must
/// not fill the queue and make a good client's SYN wait for its 1 s retransmit.
const LISTEN_BACKLOG: u32 = 4096;

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let err = |source| StartError::Bind { addr, source };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(err)?;
    socket.set_reuseaddr(true).map_err(err)?;
    socket.bind(addr).map_err(err)?;
    let listener = socket.listen(LISTEN_BACKLOG).map_err(err)?;
    let local = listener.local_addr().map_err(err)?;
    Ok((listener, local))
}

impl Server {
    /// Binds both listeners and starts serving in background tasks. The connection
    /// cap is lowered to fit the open-file limit if needed (after raising the soft limit
    /// to the hard one).
    pub async fn start(mut config: Config) -> Result<Self, StartError> {
        config.validate()?;
        config.max_connections = serve::fit_to_fd_limit(config.max_connections);
        config.max_connections_per_ip = config.max_connections_per_ip.min(config.max_connections);
        let (site_listener, site_addr) = bind(SocketAddr::new(config.host, config.port)).await?;
        let (metrics_listener, metrics_addr) = bind(config.metrics_addr).await?;
        let state = Arc::new(AppState::new(config));
        // The release the site serves is known before the first page request.
        if let Some(release) = manifest::read(&state.site_root)
            .await
            .and_then(|m| m.release)
        {
            state.labels.serve(&release);
        }
        let sweeper = state.clone();
        tokio::spawn(async move {
            let mut stop = sweeper.shutdown.subscribe();
            let mut tick = tokio::time::interval(sweeper.sessions.sweep_every());
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => sweeper.sweep_sessions(),
                    _ = stop.wait_for(|stop| *stop) => break,
                }
            }
        });
        let c = &state.config;
        let site_limits = serve::Limits {
            max_connections: c.max_connections,
            max_per_ip: Some(c.max_connections_per_ip),
            trusted_proxies: c.trusted_proxies.clone(),
            header_read_timeout: c.header_read_timeout(),
            keep_alive_timeout: c.keep_alive_timeout(),
            send_timeout: c.send_timeout(),
            grace: c.shutdown_grace(),
        };
        let metrics_limits = serve::Limits {
            max_connections: METRICS_MAX_CONNECTIONS,
            max_per_ip: None,
            ..site_limits.clone()
        };
        let site = tokio::spawn(serve::serve(
            site_listener,
            site_router(state.clone()),
            site_limits,
            Some(state.clone()),
            state.shutdown.subscribe(),
        ));
        // The metrics listener outlives the site's drain so a last scrape still works;
        // it stops once every socket is closed.
        let (metrics_stop, metrics_stop_rx) = watch::channel(false);
        let drain_state = state.clone();
        tokio::spawn(async move {
            let _ = drain_state
                .shutdown
                .subscribe()
                .wait_for(|stop| *stop)
                .await;
            wait_drained(&drain_state, drain_state.config.shutdown_grace()).await;
            // Open session windows are closed so that a last scrape sees them.
            let closed = drain_state.sessions.close_all();
            drain_state.metrics.observe_windows(&closed);
            metrics_stop.send_replace(true);
        });
        let metrics = tokio::spawn(serve::serve(
            metrics_listener,
            metrics_router(state.clone()),
            metrics_limits,
            None,
            metrics_stop_rx,
        ));
        Ok(Self {
            site_addr,
            metrics_addr,
            state,
            site,
            metrics,
        })
    }

    /// The shared state (metrics, window), for tests and embedding.
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Graceful shutdown: stop accepting, close sockets with 1001 after the message in
    /// hand, drain HTTP connections and sockets within the grace period, then log the
    /// totals held in memory (the final flush; Prometheus has scraped the rest).
    pub async fn shutdown(self) {
        self.state.shutdown.send_replace(true);
        let grace = self.state.config.shutdown_grace();
        let _ = tokio::time::timeout(grace, self.site).await;
        wait_drained(&self.state, grace).await;
        let _ = tokio::time::timeout(grace, self.metrics).await;
        let m = &self.state.metrics;
        tracing::info!(
            accepted = m.accepted(),
            rejected = m.rejected(),
            samples = m.samples(),
            open_sockets = m.connections(),
            "shut down"
        );
    }
}

async fn wait_drained(state: &AppState, grace: Duration) {
    let deadline = Instant::now() + grace;
    while state.metrics.connections() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

//! Command-line and environment configuration (`clap` derive; every flag has a
//! `CANDLEFISH_*` environment variable). Defaults work on 127.0.0.1.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Server configuration. Build it from the command line with [`Config::parse`],
/// or take [`Config::default`] (the same defaults) and override fields in tests.
#[derive(Debug, Clone, Parser)]
#[command(name = "candlefish-server", version, about)]
pub struct Config {
    /// Address of the public site listener.
    #[arg(long, env = "CANDLEFISH_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port of the public site listener (0 picks a free port; the bound address is printed).
    #[arg(long, env = "CANDLEFISH_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Address of the Prometheus `/metrics` listener (keep it private).
    #[arg(
        long,
        env = "CANDLEFISH_METRICS_ADDR",
        default_value = "127.0.0.1:9464"
    )]
    pub metrics_addr: SocketAddr,
    /// Directory the static site is served from.
    #[arg(long, env = "CANDLEFISH_SITE_DIR", default_value = "www/dist")]
    pub site_dir: PathBuf,
    /// HTTP requests allowed per client IP in each rate-limit period.
    #[arg(long, env = "CANDLEFISH_RATE_LIMIT", default_value_t = 2000)]
    pub rate_limit: u32,
    /// Length of the rate-limit period in seconds.
    #[arg(long, env = "CANDLEFISH_RATE_PERIOD_S", default_value_t = 300)]
    pub rate_period_s: u64,
    /// Proxy addresses whose `X-Forwarded-For` is trusted (repeat or comma-separate).
    #[arg(long, env = "CANDLEFISH_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpAddr>,
    /// Origins allowed to open the telemetry socket, e.g. `https://example.com`
    /// (repeat or comma-separate). Empty: same-origin and localhost origins only.
    #[arg(long, env = "CANDLEFISH_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Reject telemetry requests that carry no `Origin` header (browsers always send one).
    #[arg(long, env = "CANDLEFISH_REQUIRE_ORIGIN")]
    pub require_origin: bool,
    /// Largest telemetry message (socket frame or beacon body) in bytes.
    #[arg(long, env = "CANDLEFISH_MAX_MESSAGE_BYTES", default_value_t = 64 * 1024)]
    pub max_message_bytes: usize,
    /// Telemetry messages per second allowed on one connection (burst: twice this).
    #[arg(long, env = "CANDLEFISH_CONN_MSG_RATE", default_value_t = 10.0)]
    pub conn_msg_rate: f64,
    /// Telemetry messages per second allowed from one client IP, sockets and beacons together.
    #[arg(long, env = "CANDLEFISH_IP_MSG_RATE", default_value_t = 100.0)]
    pub ip_msg_rate: f64,
    /// Concurrent telemetry sockets allowed from one client IP.
    #[arg(long, env = "CANDLEFISH_MAX_SOCKETS_PER_IP", default_value_t = 32)]
    pub max_sockets_per_ip: usize,
    /// Seconds without a message after which a telemetry socket is closed.
    #[arg(long, env = "CANDLEFISH_IDLE_TIMEOUT_S", default_value_t = 60.0)]
    pub idle_timeout_s: f64,
    /// Releases whose telemetry keeps its own `release` label (repeat or
    /// comma-separate), besides the releases the site itself serves (the `release` of
    /// `manifest.json`). Any other release is counted as `other`. During a canary, list
    /// both the baseline and the canary on every replica.
    #[arg(long, env = "CANDLEFISH_RELEASES", value_delimiter = ',')]
    pub releases: Vec<String>,
    /// Served releases remembered (from `manifest.json`, newest first); older ones fall
    /// back to `other` unless listed in `--releases`.
    #[arg(long, env = "CANDLEFISH_MAX_RELEASES", default_value_t = 32)]
    pub max_releases: usize,
    /// Length of a session window in seconds: each session's frames count for at most
    /// this much time (×1.5) and 240 frames per second of it, and each window gives one
    /// observation of the session's p95 frame time, frame rate and memory.
    #[arg(long, env = "CANDLEFISH_SESSION_WINDOW_S", default_value_t = 60.0)]
    pub session_window_s: f64,
    /// Sessions tracked at once (window state, sequence numbers, what was recorded);
    /// past this, new sessions are counted untracked and uncapped.
    #[arg(long, env = "CANDLEFISH_MAX_SESSIONS", default_value_t = 50_000)]
    pub max_sessions: usize,
    /// Seconds after its last message that a session is forgotten (a session seen again
    /// later counts as a new one).
    #[arg(long, env = "CANDLEFISH_SESSION_IDLE_S", default_value_t = 1800.0)]
    pub session_idle_s: f64,
    /// Seconds a connection may take to send a complete request header, counted from
    /// when it is ready for a request (accept, or the end of the previous response).
    #[arg(long, env = "CANDLEFISH_HEADER_READ_TIMEOUT_S", default_value_t = 10.0)]
    pub header_read_timeout_s: f64,
    /// Seconds a connection may sit idle (no request in flight, no byte moving) before
    /// it is closed.
    #[arg(long, env = "CANDLEFISH_KEEP_ALIVE_TIMEOUT_S", default_value_t = 15.0)]
    pub keep_alive_timeout_s: f64,
    /// Seconds a request in flight may go without a byte read or written (a client that
    /// stopped reading its response, a stalled handler) before the connection is closed.
    #[arg(long, env = "CANDLEFISH_SEND_TIMEOUT_S", default_value_t = 30.0)]
    pub send_timeout_s: f64,
    /// Seconds allowed between two chunks of a request body.
    #[arg(long, env = "CANDLEFISH_BODY_READ_TIMEOUT_S", default_value_t = 10.0)]
    pub body_read_timeout_s: f64,
    /// Seconds a beacon request may take from its header to the end of its body.
    #[arg(long, env = "CANDLEFISH_BEACON_DEADLINE_S", default_value_t = 10.0)]
    pub beacon_deadline_s: f64,
    /// Concurrent connections on the site listener (lowered to fit the open-file limit).
    #[arg(long, env = "CANDLEFISH_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Concurrent connections from one client IP (IPv6: one /64); trusted proxies are
    /// exempt.
    #[arg(long, env = "CANDLEFISH_MAX_CONNECTIONS_PER_IP", default_value_t = 128)]
    pub max_connections_per_ip: usize,
    /// Concurrent telemetry sockets, all clients together.
    #[arg(long, env = "CANDLEFISH_MAX_SOCKETS", default_value_t = 1024)]
    pub max_sockets: usize,
    /// Ping and pong frames per second allowed on one telemetry socket (burst: five
    /// times this, at least 5).
    #[arg(long, env = "CANDLEFISH_CONTROL_MSG_RATE", default_value_t = 1.0)]
    pub control_msg_rate: f64,
    /// Also serve `/dashboard` and `/api/stats` on the public site listener. By default
    /// they are served only on the private metrics listener.
    #[arg(long, env = "CANDLEFISH_PUBLIC_DASHBOARD")]
    pub public_dashboard: bool,
    /// Seconds to wait for connections to drain on shutdown.
    #[arg(long, env = "CANDLEFISH_SHUTDOWN_GRACE_S", default_value_t = 10.0)]
    pub shutdown_grace_s: f64,
}

impl Default for Config {
    fn default() -> Self {
        // The defaults live in the clap attributes only; parsing an empty command line
        // cannot fail because every field has a default.
        Self::parse_from(["candlefish-server"])
    }
}

impl Config {
    /// The rate-limit period as a [`Duration`].
    pub fn rate_period(&self) -> Duration {
        Duration::from_secs(self.rate_period_s.max(1))
    }

    /// The telemetry idle timeout as a [`Duration`].
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.idle_timeout_s.clamp(0.05, 86_400.0))
    }

    /// The header-read timeout.
    pub fn header_read_timeout(&self) -> Duration {
        seconds(self.header_read_timeout_s)
    }

    /// The keep-alive idle timeout.
    pub fn keep_alive_timeout(&self) -> Duration {
        seconds(self.keep_alive_timeout_s)
    }

    /// The send (no progress while a request is in flight) timeout.
    pub fn send_timeout(&self) -> Duration {
        seconds(self.send_timeout_s)
    }

    /// The longest gap between two request-body chunks.
    pub fn body_read_timeout(&self) -> Duration {
        seconds(self.body_read_timeout_s)
    }

    /// The whole-request deadline of a beacon.
    pub fn beacon_deadline(&self) -> Duration {
        seconds(self.beacon_deadline_s)
    }

    /// Checks what clap cannot: the allowed origins must be origins as browsers send
    /// them, and the caps must leave room for each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for origin in &self.allowed_origins {
            crate::origin::Origin::parse_allowed(origin)
                .map_err(|_| ConfigError::AllowedOrigin(origin.clone()))?;
        }
        for release in &self.releases {
            if !candlefish_protocol::validate::valid_release(release)
                || candlefish_protocol::validate::is_reserved_release(release)
            {
                return Err(ConfigError::Release(release.clone()));
            }
        }
        if self.max_connections == 0 || self.max_connections_per_ip == 0 {
            return Err(ConfigError::Cap("connection caps must be at least 1"));
        }
        if self.max_connections_per_ip > self.max_connections
            || self.max_sockets_per_ip > self.max_sockets
        {
            return Err(ConfigError::Cap(
                "a per-IP cap must not exceed its global cap",
            ));
        }
        Ok(())
    }

    /// The session window.
    pub fn session_window(&self) -> Duration {
        seconds(self.session_window_s)
    }

    /// How long an idle session is remembered.
    pub fn session_idle(&self) -> Duration {
        seconds(self.session_idle_s)
    }

    /// The shutdown grace period as a [`Duration`].
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs_f64(self.shutdown_grace_s.clamp(0.0, 3_600.0))
    }
}

/// A timeout flag in seconds as a [`Duration`]: at least 10 ms, at most a day, so that
/// neither 0 nor a typo disables it.
fn seconds(s: f64) -> Duration {
    Duration::from_secs_f64(if s.is_finite() { s } else { 0.0 }.clamp(0.01, 86_400.0))
}

/// A configuration that parses but cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An `--allowed-origins` entry is not `scheme://host[:port]`.
    #[error("--allowed-origins: {0:?} is not an origin (scheme://host[:port], http or https)")]
    AllowedOrigin(String),
    /// A `--releases` entry that is not a valid, unreserved release id.
    #[error(
        "--releases: {0:?} is not a release id ([A-Za-z0-9][A-Za-z0-9._+-]{{0,63}}, not legacy/other)"
    )]
    Release(String),
    /// Caps that contradict each other.
    #[error("{0}")]
    Cap(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    /// The number a PROTOCOL.md "Default" cell starts with (`64 KiB` is 65536,
    /// `50 000` is 50000, `10/s, burst …` is 10); `None` for `none`.
    fn documented(cell: &str) -> Option<f64> {
        let digits: String = cell
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ' ' || *c == '.')
            .filter(|c| *c != ' ')
            .collect();
        let value: f64 = digits.parse().ok()?;
        Some(if cell.contains("KiB") {
            value * 1024.0
        } else {
            value
        })
    }

    /// Every flag PROTOCOL.md's tables name exists, and its documented default is the
    /// code's: the document states each default once, and this keeps it true.
    #[test]
    fn protocol_md_states_the_flag_defaults() {
        let doc = include_str!("../PROTOCOL.md");
        let command = Config::command();
        let mut checked = 0;
        for line in doc.lines().filter(|l| l.starts_with('|')) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let Some(flag) = cells
                .get(3)
                .and_then(|c| c.strip_prefix("`--"))
                .and_then(|c| c.strip_suffix('`'))
            else {
                continue;
            };
            let arg = command
                .get_arguments()
                .find(|a| a.get_long() == Some(flag))
                .unwrap_or_else(|| panic!("PROTOCOL.md names --{flag}, which does not exist"));
            let default = arg
                .get_default_values()
                .first()
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<f64>().ok());
            assert_eq!(
                documented(cells[2]),
                default,
                "--{flag}: PROTOCOL.md says {:?}",
                cells[2]
            );
            checked += 1;
        }
        assert!(
            checked >= 18,
            "only {checked} flags found in PROTOCOL.md's tables"
        );
    }
}

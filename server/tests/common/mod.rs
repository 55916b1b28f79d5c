//! Shared test helpers: a real server on 127.0.0.1:0 over a temporary site directory,
//! a raw HTTP/1.1 client (for paths a URL library would normalise), metric parsing.
#![allow(dead_code, reason = "each test binary uses a different subset")]

pub mod prometheus;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use candlefish_server::{Config, Server};

pub const INDEX: &str = r#"<!doctype html><html><head><meta name="candlefish-hints" content=""><title>t</title></head><body>hi</body></html>"#;
pub const JS: &[u8] = b"console.log('plain');\n";
pub const JS_BR: &[u8] = b"BROTLI-BYTES";
pub const JS_GZ: &[u8] = b"\x1f\x8bGZIP-BYTES";
pub const WASM: &[u8] = b"\0asm\x01\0\0\0";

pub struct TestServer {
    pub server: Option<Server>,
    pub base: String,
    pub metrics_url: String,
    pub site_addr: SocketAddr,
    pub dir: PathBuf,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes the test site: hashed assets with precompressed variants, HTML with the hint
/// placeholder, a manifest, and a symlink that points outside the root.
pub fn make_site(with_manifest: bool) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "candlefish-server-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let root = dir.join("dist");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(dir.join("secret.txt"), "TOP SECRET").unwrap();
    std::fs::write(root.join("index.html"), INDEX).unwrap();
    std::fs::write(root.join("sub/index.html"), "<p>sub</p>").unwrap();
    std::fs::write(root.join("app.0123abcd.js"), JS).unwrap();
    std::fs::write(root.join("app.0123abcd.js.br"), JS_BR).unwrap();
    std::fs::write(root.join("app.0123abcd.js.gz"), JS_GZ).unwrap();
    std::fs::write(root.join("candlefish_bg.89abcdef01.wasm"), WASM).unwrap();
    std::fs::write(root.join("style.css"), "body{}").unwrap();
    std::fs::write(root.join("data.json"), "{}").unwrap();
    std::fs::write(root.join(".hidden"), "hidden").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.join("secret.txt"), root.join("escape.txt")).unwrap();
    if with_manifest {
        std::fs::write(
            root.join("manifest.json"),
            r#"{"preload":[{"href":"/app.0123abcd.js","as":"script"},{"href":"/candlefish_bg.89abcdef01.wasm","as":"fetch","type":"application/wasm"}]}"#,
        )
        .unwrap();
    }
    dir
}

/// Releases the tests send under their own label (`--releases`).
pub const TEST_RELEASES: [&str; 6] = ["r0", "r1", "r2", "2026.11.24-abc", "native-e2e", "load"];

/// A config for tests: ports 0, generous limits unless the test lowers them, the test
/// releases allowed, and session windows long enough that the per-session weight cap
/// never bites a test that sends faster than real time.
pub fn test_config() -> Config {
    Config {
        port: 0,
        releases: TEST_RELEASES.iter().map(|r| (*r).to_owned()).collect(),
        session_window_s: 3600.0,
        metrics_addr: "127.0.0.1:0".parse().unwrap(),
        rate_limit: 100_000,
        ip_msg_rate: 100_000.0,
        conn_msg_rate: 10_000.0,
        max_sockets_per_ip: 1000,
        max_sockets: 2000,
        max_connections_per_ip: 2000,
        shutdown_grace_s: 3.0,
        ..Config::default()
    }
}

pub async fn start(mut config: Config) -> TestServer {
    let dir = make_site(true);
    config.site_dir = dir.join("dist");
    start_in(config, dir).await
}

pub async fn start_in(config: Config, dir: PathBuf) -> TestServer {
    let server = Server::start(config).await.unwrap();
    TestServer {
        base: format!("http://{}", server.site_addr),
        metrics_url: format!("http://{}/metrics", server.metrics_addr),
        site_addr: server.site_addr,
        server: Some(server),
        dir,
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

impl TestServer {
    pub async fn metrics(&self) -> String {
        client()
            .get(&self.metrics_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The base URL of the private metrics listener (`/metrics`, `/dashboard`,
    /// `/api/stats`).
    pub fn private_base(&self) -> String {
        self.metrics_url.trim_end_matches("/metrics").to_owned()
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/telemetry", self.site_addr)
    }
}

/// The value of the sample line starting with `series ` (exact name and labels).
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .unwrap_or_else(|| panic!("no series {series} in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<String> {
        let name = name.to_ascii_lowercase();
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim().to_ascii_lowercase() == name).then(|| v.trim().to_owned())
        })
    }
}

/// Sends `GET <target>` exactly as written (no normalisation) and reads the response.
pub fn raw_get(addr: SocketAddr, target: &str) -> RawResponse {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    RawResponse {
        status,
        head,
        body: buf[split + 4..].to_vec(),
    }
}

/// Every security header name the server must send.
pub const SECURITY_HEADER_NAMES: [&str; 7] = [
    "content-security-policy",
    "strict-transport-security",
    "x-content-type-options",
    "referrer-policy",
    "permissions-policy",
    "cross-origin-opener-policy",
    "cross-origin-resource-policy",
];

pub fn assert_security_headers(headers: &reqwest::header::HeaderMap, what: &str) {
    for name in SECURITY_HEADER_NAMES {
        assert!(headers.contains_key(name), "{what}: missing {name}");
    }
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("'wasm-unsafe-eval'") && !csp.contains("'unsafe-eval'"),
        "{what}: {csp}"
    );
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("connect-src 'self'"),
        "{what}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
}

/// The real `candlefish-server` binary, started with `--port 0` on a site directory;
/// killed on drop. Used where the server's own memory is measured.
pub struct Spawned {
    pub child: std::process::Child,
    pub site_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Spawned {
    /// Starts the binary with `args` after the port flags; reads the two address lines
    /// it prints.
    pub fn start(site_dir: &std::path::Path, args: &[&str]) -> Spawned {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_candlefish-server"))
            .args(["--port", "0", "--metrics-addr", "127.0.0.1:0", "--site-dir"])
            .arg(site_dir)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut addr = |prefix: &str| -> SocketAddr {
            let line = lines.next().unwrap().unwrap();
            let rest = line
                .strip_prefix(prefix)
                .unwrap_or_else(|| panic!("{line}"));
            rest.split('/').next().unwrap().parse().unwrap()
        };
        let site_addr = addr("listening on http://");
        let metrics_addr = addr("metrics on http://");
        Spawned {
            child,
            site_addr,
            metrics_addr,
        }
    }

    /// The server's resident set size in bytes (`VmRSS` in `/proc/PID/status`).
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap()
            * 1024
    }
}

//! A real Prometheus on 127.0.0.1 for tests: scrapes the given targets every second,
//! evaluates `server/prometheus/rules.yml` every second, keeps its data in a temporary
//! directory, and is killed on drop. [`Prometheus::start`] returns `None`, after saying
//! why on stderr, only when no `prometheus` binary is installed (`scripts/setup.sh`
//! installs Debian's package; CI always has it).

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub struct Prometheus {
    child: Child,
    pub url: String,
    dir: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The `prometheus` binary: `$PROMETHEUS`, else the first on `PATH`.
fn binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PROMETHEUS") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("prometheus"))
            .find(|p| p.is_file())
    })
}

/// The rules file under test.
pub fn rules_file() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/prometheus/rules.yml"))
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (metrics listeners) with the rules; waits
    /// until it is ready. `None` (said loudly) only if the binary is missing.
    pub fn start(targets: &[SocketAddr]) -> Option<Self> {
        let Some(bin) = binary() else {
            eprintln!(
                "SKIPPED: no `prometheus` binary on PATH (install Debian's `prometheus` \
                 package, as scripts/setup.sh does, or set PROMETHEUS=/path/to/prometheus)"
            );
            return None;
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "candlefish-prometheus-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - '{}'\n\
             scrape_configs:\n  - job_name: candlefish\n    static_configs:\n      - targets: [{}]\n",
            rules_file().display(),
            targets.join(", ")
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        // A free port: bind 0, release, hand it over; retried if taken meanwhile.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new(&bin)
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("data").display()
                ))
                .arg(format!(
                    "--config.file={}",
                    dir.join("prometheus.yml").display()
                ))
                .arg("--log.level=warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
            let url = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    eprintln!("prometheus exited with {status}; retrying on another port");
                    break;
                }
                let ready = std::net::TcpStream::connect(("127.0.0.1", port))
                    .ok()
                    .and_then(|mut s| {
                        use std::io::{Read as _, Write as _};
                        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
                        write!(
                            s,
                            "GET /-/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                        )
                        .ok()?;
                        let mut out = String::new();
                        s.read_to_string(&mut out).ok()?;
                        Some(out.starts_with("HTTP/1.1 200"))
                    })
                    .unwrap_or(false);
                if ready {
                    return Some(Self { child, url, dir });
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("prometheus did not become ready");
    }

    /// An instant query's result vector.
    pub async fn query(&self, q: &str) -> Vec<serde_json::Value> {
        let v: serde_json::Value = serde_json::from_slice(
            &crate::common::client()
                .get(format!("{}/api/v1/query", self.url))
                .query(&[("query", q)])
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(v["status"], "success", "{q}: {v}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// The single value of `q`, if it has one.
    pub async fn value(&self, q: &str) -> Option<f64> {
        self.query(q)
            .await
            .first()
            .and_then(|r| r["value"][1].as_str().and_then(|s| s.parse::<f64>().ok()))
    }

    /// Polls `q` until `pred` holds for its value, for at most `within`; the last value.
    pub async fn wait_for(
        &self,
        q: &str,
        within: Duration,
        pred: impl Fn(f64) -> bool,
    ) -> Option<f64> {
        let deadline = Instant::now() + within;
        loop {
            let v = self.value(q).await;
            if v.is_some_and(&pred) || Instant::now() > deadline {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until every one of `n` targets has been scraped (Prometheus applies its
    /// targets a few seconds after it is ready).
    pub async fn wait_for_targets(&self, n: usize) {
        let got = self
            .wait_for("count(up == 1)", Duration::from_secs(30), |v| v >= n as f64)
            .await;
        assert!(
            got.is_some_and(|v| v >= n as f64),
            "only {got:?} of {n} targets scraped"
        );
    }

    /// The alerts Prometheus holds now (`/api/v1/alerts`).
    pub async fn alerts(&self) -> Vec<serde_json::Value> {
        let v: serde_json::Value = serde_json::from_slice(
            &crate::common::client()
                .get(format!("{}/api/v1/alerts", self.url))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        v["data"]["alerts"].as_array().cloned().unwrap_or_default()
    }
}

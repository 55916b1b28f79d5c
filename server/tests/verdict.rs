//! The release verdict end to end: one real server per release (each serving its own
//! build, so its HTTP metrics carry the release, as replicas would), a real Prometheus
//! scraping all of them, synthetic sessions in real time, then `candlefish-server
//! verdict` as a deploy step would run it, for each outcome:
//! - `same` (the baseline's distribution) → promote (exit 0);
//! - `slow` (every frame 15 % slower) → rollback (exit 4);
//! - `patho` (the baseline plus one session at 10 fps that claims ten times the time
//!   that passes, with 500 MB) → promote: one session cannot fool it;
//! - `leaky` (60 MB per session) → rollback on the memory gate;
//! - `few` (5 sessions) → hold (exit 3).
//!
//! Skipped, saying so, only when no `prometheus` binary is installed.
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "tests"))]

mod common;

use std::time::{Duration, Instant};

use candlefish_protocol::{FrameBatch, FrameSample, Mode, Preset, SessionInfo};
use common::prometheus::Prometheus;
use common::*;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;

/// How long the sessions run.
const TRAFFIC: Duration = Duration::from_secs(12);
const SESSIONS: usize = 30;

#[derive(Clone, Copy)]
struct Kind {
    /// Frame-time factor (1.15 = 15 % slower).
    slower: f64,
    /// Memory, bytes.
    memory: u64,
    /// A pathological session: 100 ms frames, claiming 5 s of frames every half second.
    patho: bool,
}

const NORMAL: Kind = Kind {
    slower: 1.0,
    memory: 30_000_000,
    patho: false,
};

/// One session: a page load, then a batch every 500 ms until `until`.
async fn session(
    base: String,
    ws_url: String,
    release: &'static str,
    i: usize,
    kind: Kind,
    until: Instant,
) {
    // Staggered starts, so the counters grow across scrapes.
    tokio::time::sleep(Duration::from_millis(97 * (i as u64 % 30))).await;
    let r = client().get(format!("{base}/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let (mut ws, mut notices) = ws.split();
    let reader = tokio::spawn(async move { while notices.next().await.is_some() {} });
    let mut batch = FrameBatch::new(SessionInfo {
        release: release.into(),
        session: format!("{release}-session-{i:03}"),
        mode: Mode::Webgpu,
        preset: Preset::Quality,
        adapter: "synthetic".into(),
        thread: None,
    })
    .unwrap();
    // Device speeds spread ±10 % across sessions; ±8 % frame to frame.
    let speed = 0.9 + 0.2 * (i % SESSIONS) as f64 / (SESSIONS - 1) as f64;
    let mut k = 0usize;
    while Instant::now() < until {
        let mut spent = 0.0;
        if kind.patho {
            for _ in 0..50 {
                batch.record(&FrameSample {
                    interval_ms: 100.0,
                    ..FrameSample::default()
                });
            }
        } else {
            while spent < 500.0 {
                let jitter = 1.0 + 0.08 * ((k % 5) as f64 - 2.0) / 2.0;
                let ms = 15.0 * speed * kind.slower * jitter;
                batch.record(&FrameSample {
                    interval_ms: ms as f32,
                    ..FrameSample::default()
                });
                spent += ms;
                k += 1;
            }
        }
        batch.set_memory(kind.memory);
        let msg = batch.take().unwrap().to_json();
        if ws.send(Message::text(msg)).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = ws.close().await;
    let _ = reader.await;
}

/// Runs the verdict binary; its exit code and output.
fn verdict(prom: &str, canary: &str, gates: &std::path::Path) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_candlefish-server"))
        .args([
            "verdict",
            "--canary",
            canary,
            "--baseline",
            "base",
            "--prometheus",
            prom,
        ])
        .arg("--config")
        .arg(gates)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_against_a_real_prometheus() {
    let releases: [(&'static str, Kind, usize); 6] = [
        ("base", NORMAL, SESSIONS),
        ("same", NORMAL, SESSIONS),
        (
            "slow",
            Kind {
                slower: 1.15,
                ..NORMAL
            },
            SESSIONS,
        ),
        ("patho", NORMAL, SESSIONS),
        (
            "leaky",
            Kind {
                memory: 60_000_000,
                ..NORMAL
            },
            SESSIONS,
        ),
        ("few", NORMAL, 5),
    ];
    // One server per release, each serving a build that names it.
    let mut servers = Vec::new();
    for (release, _, _) in &releases {
        let dir = make_site(false);
        std::fs::write(
            dir.join("dist/manifest.json"),
            format!(r#"{{"release":"{release}","preload":[]}}"#),
        )
        .unwrap();
        let config = candlefish_server::Config {
            site_dir: dir.join("dist"),
            session_window_s: 2.0,
            ..test_config()
        };
        servers.push(start_in(config, dir).await);
    }
    let targets: Vec<_> = servers
        .iter()
        .map(|s| s.server.as_ref().unwrap().metrics_addr)
        .collect();
    let Some(prom) = Prometheus::start(&targets) else {
        return;
    };
    // Counters must be scraped before they grow: `increase` misses a series' first
    // sample.
    prom.wait_for_targets(targets.len()).await;
    let until = Instant::now() + TRAFFIC;
    let mut tasks = Vec::new();
    for ((release, kind, n), server) in releases.iter().zip(&servers) {
        for i in 0..*n {
            tasks.push(tokio::spawn(session(
                server.base.clone(),
                server.ws_url(),
                release,
                i,
                *kind,
                until,
            )));
        }
        if *release == "patho" {
            let kind = Kind {
                patho: true,
                memory: 500_000_000,
                ..NORMAL
            };
            tasks.push(tokio::spawn(session(
                server.base.clone(),
                server.ws_url(),
                release,
                SESSIONS,
                kind,
                until,
            )));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    // The last session windows close (2 s), then a scrape (1 s).
    tokio::time::sleep(Duration::from_secs(4)).await;
    let patho = &servers[3];
    let capped = metric(
        &patho.metrics().await,
        "candlefish_telemetry_frames_capped_total",
    );
    assert!(capped > 0.0, "the pathological session was capped");

    let dir = std::env::temp_dir().join(format!("candlefish-verdict-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gates = dir.join("gates.toml");
    std::fs::write(
        &gates,
        "range = \"1m\"\nmin_sessions = 20\nmin_session_windows = 60\nmin_frames = 5000\n\
         min_http_requests = 20\n",
    )
    .unwrap();
    let url = prom.url.clone();
    let run = |canary: &'static str| {
        let (url, gates) = (url.clone(), gates.clone());
        tokio::task::spawn_blocking(move || verdict(&url, canary, &gates))
    };
    let (code, out) = run("same").await.unwrap();
    assert_eq!(code, 0, "same → promote:\n{out}");
    assert!(out.starts_with("verdict: promote"), "{out}");
    let (code, out) = run("slow").await.unwrap();
    assert_eq!(code, 4, "15 % slower → rollback:\n{out}");
    assert!(out.contains("median session p95 frame time:"), "{out}");
    let (code, out) = run("patho").await.unwrap();
    assert_eq!(code, 0, "one pathological session → still promote:\n{out}");
    let (code, out) = run("leaky").await.unwrap();
    assert_eq!(code, 4, "60 MB sessions → rollback:\n{out}");
    assert!(out.contains("p95 session peak memory is"), "{out}");
    let (code, out) = run("few").await.unwrap();
    assert_eq!(code, 3, "5 sessions → hold:\n{out}");
    assert!(out.contains(" sessions, 20 needed"), "{out}");
    for (canary, _, _) in &releases[1..] {
        let (_, out) = run(canary).await.unwrap();
        eprintln!("{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

//! Bounded load test: 200 concurrent sockets send batches for about three seconds;
//! every message the server accepted must appear in the counters, the Prometheus
//! histograms and the sliding window (nothing accepted is lost).
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "tests"))]

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;

const SOCKETS: usize = 200;
const SEND_FOR: Duration = Duration::from_secs(3);
const SAMPLES: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_sockets_lose_nothing() {
    let t = start(test_config()).await;
    let url = t.ws_url();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..SOCKETS {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            let mode = ["webgpu", "webgl", "canvas", "native"][i % 4];
            let frames: Vec<f32> = (0..SAMPLES).map(|k| 10.0 + (k % 20) as f32).collect();
            let msg = serde_json::json!({"type":"frames","release":format!("r{}", i % 3),
                "session":format!("session-{i:04}"),"mode":mode,"preset":"quality","frame_ms":frames})
            .to_string();
            let mut sent = 0u64;
            while started.elapsed() < SEND_FOR {
                ws.send(Message::text(msg.clone())).await.unwrap();
                sent += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            ws.close(None).await.unwrap();
            // The server's close reply comes after it processed everything we sent.
            while let Some(m) = ws.next().await {
                m.unwrap();
            }
            sent
        }));
    }
    let mut sent = 0;
    for task in tasks {
        sent += task.await.unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "load test too slow: {:?}",
        started.elapsed()
    );
    let m = t.metrics().await;
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_messages_total{result=\"accepted\"}"
        ),
        sent as f64
    );
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_messages_total{result=\"rejected\"}"
        ),
        0.0
    );
    assert_eq!(
        metric(&m, "candlefish_telemetry_samples_total"),
        (sent as usize * SAMPLES) as f64
    );
    let hist_total: f64 = m
        .lines()
        .filter(|l| l.starts_with("candlefish_frame_time_seconds_count{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(hist_total, (sent as usize * SAMPLES) as f64);
    let window = t.server.as_ref().unwrap().state().window.snapshot();
    assert_eq!(window.series.len(), 12);
    assert_eq!(
        window.series.iter().map(|s| s.samples).sum::<u64>(),
        sent * SAMPLES as u64
    );
    assert_eq!(window.series.iter().map(|s| s.batches).sum::<u64>(), sent);
    eprintln!(
        "load: {sent} messages from {SOCKETS} sockets in {:?}",
        started.elapsed()
    );
}

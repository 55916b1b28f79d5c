//! The recording rules and an alert against a real Prometheus (Debian's `prometheus`,
//! on 127.0.0.1) scraping the real server every second while a client sends frames:
//! the recorded frame rate is frames ÷ their time, memory and HTTP latency are
//! recorded, and "FPS below 30 now" fires for a page at 10 fps. Skipped, saying so,
//! only when no `prometheus` binary is installed.
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "tests"))]

mod common;

use std::time::{Duration, Instant};

use candlefish_protocol::{FrameBatch, FrameSample, Mode, Preset, SessionInfo};
use common::prometheus::Prometheus;
use common::*;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_rules_and_an_alert_see_the_frames() {
    let t = start(candlefish_server::Config {
        session_window_s: 1.0,
        ..test_config()
    })
    .await;
    let metrics_addr = t.server.as_ref().unwrap().metrics_addr;
    let Some(prom) = Prometheus::start(&[metrics_addr]) else {
        return;
    };
    prom.wait_for_targets(1).await;
    // A session at 10 fps (100 ms frames), in real time: 5 frames every half second,
    // with 45 MB of memory; and page loads meanwhile.
    let sender = tokio::spawn({
        let url = t.ws_url();
        async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            let mut batch = FrameBatch::new(SessionInfo {
                release: "r1".into(),
                session: "prometheus-session".into(),
                mode: Mode::Webgl,
                preset: Preset::Quality,
                adapter: "test".into(),
                thread: None,
            })
            .unwrap();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(25) {
                for _ in 0..5 {
                    batch.record(&FrameSample {
                        interval_ms: 100.0,
                        ..FrameSample::default()
                    });
                }
                batch.set_memory(45_000_000);
                let msg = batch.take().unwrap().to_json();
                if ws.send(Message::text(msg)).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            let _ = ws.close(None).await;
            while ws.next().await.is_some() {}
        }
    });
    let pages = tokio::spawn({
        let base = t.base.clone();
        async move {
            loop {
                let r = client().get(format!("{base}/")).send().await.unwrap();
                assert_eq!(r.status(), 200);
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    });

    let sel = r#"{release="r1",mode="webgl",preset="quality"}"#;
    let fps = prom
        .wait_for(
            &format!("candlefish:fps:1m{sel}"),
            Duration::from_secs(20),
            |v| (v - 10.0).abs() < 0.01,
        )
        .await;
    assert!(
        fps.is_some_and(|v| (v - 10.0).abs() < 0.01),
        "candlefish:fps:1m = {fps:?}, want 10 (frames ÷ their time)"
    );
    let frames = prom
        .value(&format!("candlefish:frames:rate1m{sel}"))
        .await
        .unwrap();
    // Over a minute of which only seconds hold data, rate() is a fraction of 10/s;
    // the ratio above is exact all the same.
    assert!(frames > 0.0 && frames <= 10.5, "{frames} frames/s");
    // Session windows of 1 s: their peak memory reaches the recorded p95.
    let memory = prom
        .wait_for(
            &format!("candlefish:memory_bytes:p95_5m{sel}"),
            Duration::from_secs(15),
            |v| v > 40e6,
        )
        .await;
    assert!(
        memory.is_some_and(|v| v > 40e6 && v <= 45e6),
        "memory p95 {memory:?}"
    );
    let http = prom
        .wait_for(
            r#"candlefish:http_request_duration_seconds:p95_5m{route="page"}"#,
            Duration::from_secs(10),
            |v| v > 0.0,
        )
        .await;
    // The rule yields a latency; how fast this loaded debug build answers is not the
    // test's business (it read 0.14 s once while a wasm build ran beside it).
    assert!(
        http.is_some_and(|v| v > 0.0 && v < 10.0),
        "HTTP p95 {http:?}"
    );

    // "FPS below 30 now" fires for this series.
    let deadline = Instant::now() + Duration::from_secs(15);
    let firing = loop {
        let alerts = prom.alerts().await;
        let hit = alerts.iter().find(|a| {
            a["labels"]["alertname"] == "CandlefishFpsBelow30"
                && a["labels"]["release"] == "r1"
                && a["state"] == "firing"
        });
        if let Some(a) = hit {
            break Some(a.clone());
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let alert = firing.expect("CandlefishFpsBelow30 did not fire");
    assert_eq!(alert["labels"]["mode"], "webgl");
    assert_eq!(alert["labels"]["severity"], "page");
    assert!(
        alert["annotations"]["description"]
            .as_str()
            .unwrap()
            .contains("10.0 fps"),
        "{alert}"
    );
    sender.abort();
    pages.abort();
}

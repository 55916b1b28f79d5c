//! End to end: the native client (`app/src/telemetry.rs`, compiled here as a module)
//! against the real server; its batches must show up in `/metrics` and `/api/stats`.
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "tests"))]

mod common;

#[path = "../../app/src/telemetry.rs"]
#[allow(dead_code, reason = "the app uses the rest of the API")]
mod telemetry;

use common::*;
use telemetry::{CpuPhaseMs, FrameBatch, TelemetryClient, TelemetryOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_client_reaches_the_server() {
    let t = start(test_config()).await;
    let url = t.ws_url();
    let stats = tokio::task::spawn_blocking(move || {
        let client = TelemetryClient::with_options(&url, TelemetryOptions::default()).unwrap();
        for _ in 0..4 {
            let batch = FrameBatch {
                release: "native-e2e".into(),
                session: "native-session-1".into(),
                mode: "native".into(),
                preset: "performance".into(),
                adapter: "llvmpipe (LLVM 15.0.6, 256 bits)".into(),
                frame_ms: vec![20.0; 50],
                cpu_ms: CpuPhaseMs {
                    update: 0.5,
                    cull: 0.3,
                    lod: 0.1,
                    upload: 0.2,
                    encode: 0.4,
                    submit: 0.1,
                },
                gpu_ms: Some(12.0),
                dropped_frames: 0,
                memory_bytes: Some(300_000_000),
                draw_calls: Some(3),
            };
            assert!(client.send(batch));
        }
        client.shutdown()
    })
    .await
    .unwrap();
    assert_eq!((stats.sent, stats.dropped, stats.queue_full), (4, 0, 0));
    let m = t.metrics().await;
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_messages_total{result=\"accepted\"}"
        ),
        4.0
    );
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_messages_total{result=\"rejected\"}"
        ),
        0.0
    );
    let l = "release=\"native-e2e\",mode=\"native\",preset=\"performance\"";
    assert_eq!(
        metric(&m, &format!("candlefish_frame_time_seconds_count{{{l}}}")),
        200.0
    );
    assert_eq!(
        metric(
            &m,
            &format!("candlefish_cpu_phase_seconds_count{{{l},phase=\"encode\"}}")
        ),
        4.0
    );
}

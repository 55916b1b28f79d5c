//! End to end: batches built as the native feed builds them (the protocol crate's
//! `FrameBatch`, every phase, RSS as `memory_bytes`) against the real server; all of it
//! must show up in `/metrics`. The native client's queue (pacing, resending refused
//! batches, acknowledgements) is tested against the same notices in
//! `app/src/telemetry_tests.rs`; the server's side of them in `tests/telemetry_trust.rs`.
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "tests"))]

mod common;

use std::time::Duration;

use candlefish_protocol::{FrameBatch, FrameSample, Mode, Notice, PHASES, Preset, SessionInfo};
use common::*;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_feed_batches_reach_the_server() {
    let t = start(candlefish_server::Config {
        session_window_s: 1.0,
        ..test_config()
    })
    .await;
    let mut batch = FrameBatch::new(SessionInfo {
        release: "native-e2e".into(),
        session: "native-session-1".into(),
        mode: Mode::Native,
        preset: Preset::Performance,
        adapter: "llvmpipe (LLVM 15.0.6, 256 bits)".into(),
        thread: None,
    })
    .unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(t.ws_url()).await.unwrap();
    for _ in 0..4 {
        for i in 0..50 {
            batch.record(&FrameSample {
                interval_ms: 4.0,
                cpu_ms: std::array::from_fn::<f32, PHASES, _>(|p| 0.1 * (p + 1) as f32),
                gpu_ms: Some(3.0),
                draw_calls: 3 + i % 2,
                triangles: 120_000,
                drawn: 900,
            });
        }
        batch.set_memory(300_000_000);
        let msg = batch.take().unwrap();
        ws.send(Message::text(msg.to_json())).await.unwrap();
    }
    let mut acked = 0;
    while acked < 4 {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            match Notice::parse(&t).unwrap() {
                Notice::Ack { n } => acked = n,
                Notice::Welcome { .. } => {}
                other => panic!("{other:?}"),
            }
        }
    }
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}

    let l = "release=\"native-e2e\",mode=\"native\",preset=\"performance\"";
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let m = loop {
        let m = t.metrics().await;
        let windows = metric(&m, &format!("candlefish_memory_usage_bytes_count{{{l}}}"));
        if windows >= 1.0 || std::time::Instant::now() > deadline {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_messages_total{result=\"accepted\"}"
        ),
        4.0
    );
    assert_eq!(
        metric(&m, &format!("candlefish_frame_time_seconds_count{{{l}}}")),
        200.0
    );
    for phase in [
        "update", "cull", "lod", "bucket", "upload", "encode", "submit",
    ] {
        assert_eq!(
            metric(
                &m,
                &format!("candlefish_cpu_phase_seconds_count{{{l},phase=\"{phase}\"}}")
            ),
            4.0,
            "{phase}"
        );
    }
    // Mean draw calls 3.5 per frame: a mean over the batch's frames, not the last one.
    assert_eq!(
        metric(&m, &format!("candlefish_render_calls_per_frame_sum{{{l}}}")),
        14.0
    );
    assert_eq!(
        metric(&m, &format!("candlefish_triangles_per_frame_sum{{{l}}}")),
        480_000.0
    );
    assert!(metric(&m, &format!("candlefish_memory_usage_bytes_count{{{l}}}")) >= 1.0);
    assert_eq!(
        metric(&m, &format!("candlefish_memory_usage_bytes_sum{{{l}}}")) as u64 % 300_000_000,
        0,
        "RSS per session window"
    );
}

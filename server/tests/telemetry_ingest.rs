//! Telemetry over the real socket and beacon: the happy path reflected in `/metrics`
//! and `/api/stats`, and every kind of bad input refused as specified while a
//! well-behaved client on another connection keeps working.
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "tests"))]

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn batch(release: &str, mode: &str, frames: &[f32]) -> String {
    serde_json::json!({
        "type": "frames", "release": release, "session": "sess-0123456789", "mode": mode,
        "preset": "quality", "adapter": "llvmpipe", "frame_ms": frames,
        "cpu_ms": {"update": 0.4, "cull": 0.2, "lod": 0.1, "upload": 0.3, "encode": 0.5, "submit": 0.2},
        "gpu_ms": 4.0, "dropped_frames": 1, "memory_bytes": 200_000_000u64, "draw_calls": 12,
        "vitals": {"lcp_ms": 1500.0, "cls": 0.02}
    })
    .to_string()
}

const LEGACY: &str = r#"{"type":"performance","timestamp":1732400000000,"data":{"fps":58.5,"memoryUsage":50,"loadTime":1234,"renderTime":17.1,"networkLatency":35}}"#;

async fn connect(t: &TestServer) -> Ws {
    tokio_tungstenite::connect_async(t.ws_url())
        .await
        .unwrap()
        .0
}

/// Reads until the server's close frame; returns its code and reason.
async fn expect_close(ws: &mut Ws) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no close within 5 s");
        match next {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (frame.code.into(), frame.reason.to_string());
            }
            Some(Ok(Message::Close(None))) => return (1005, String::new()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("socket error instead of a close frame: {e}"),
            None => panic!("stream ended without a close frame"),
        }
    }
}

/// Sends a good batch and closes normally; proves the connection still worked.
async fn good_roundtrip(ws: &mut Ws) {
    ws.send(Message::text(batch("r1", "webgl", &[16.0, 17.0])))
        .await
        .unwrap();
}

#[tokio::test]
async fn happy_path_reaches_metrics_and_stats() {
    let t = start(test_config()).await;
    let mut ws = connect(&t).await;
    for _ in 0..3 {
        ws.send(Message::text(batch(
            "2026.11.24-abc",
            "webgpu",
            &[16.0, 16.5, 40.0],
        )))
        .await
        .unwrap();
    }
    ws.send(Message::text(LEGACY)).await.unwrap();
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}

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
    assert_eq!(metric(&m, "candlefish_telemetry_samples_total"), 10.0);
    let l = "release=\"2026.11.24-abc\",mode=\"webgpu\",preset=\"quality\"";
    assert_eq!(
        metric(&m, &format!("candlefish_frame_time_seconds_count{{{l}}}")),
        9.0
    );
    assert_eq!(
        metric(
            &m,
            &format!("candlefish_frame_time_seconds_bucket{{{l},le=\"0.0167\"}}")
        ),
        6.0
    );
    // Frame rate and memory are observed once per session window (not closed yet).
    assert_eq!(metric(&m, &format!("candlefish_fps_count{{{l}}}")), 0.0);
    assert_eq!(
        metric(
            &m,
            &format!("candlefish_sessions_total{{{l},thread=\"unknown\"}}")
        ),
        1.0
    );
    assert_eq!(
        metric(&m, &format!("candlefish_gpu_time_seconds_sum{{{l}}}")),
        0.012
    );
    assert_eq!(
        metric(&m, &format!("candlefish_render_calls_per_frame_sum{{{l}}}")),
        36.0
    );
    assert_eq!(
        metric(
            &m,
            &format!("candlefish_cpu_phase_seconds_count{{{l},phase=\"encode\"}}")
        ),
        3.0
    );
    assert_eq!(
        metric(&m, &format!("candlefish_dropped_frames_total{{{l}}}")),
        3.0
    );
    let legacy = "release=\"legacy\",mode=\"unknown\",preset=\"unknown\"";
    assert_eq!(metric(&m, &format!("candlefish_fps_sum{{{legacy}}}")), 58.5);
    assert_eq!(
        metric(
            &m,
            &format!("candlefish_memory_usage_bytes_sum{{{legacy}}}")
        ),
        52428800.0
    );
    assert!(
        !m.contains("sess-0123456789"),
        "session ids never become labels"
    );

    let stats: serde_json::Value = serde_json::from_slice(
        &client()
            .get(format!("{}/api/stats", t.private_base()))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let series = stats["series"].as_array().unwrap();
    let s = series
        .iter()
        .find(|s| s["release"] == "2026.11.24-abc")
        .unwrap();
    assert_eq!(s["samples"], 9);
    assert_eq!(s["batches"], 3);
    assert!((s["p50_ms"].as_f64().unwrap() - 16.5).abs() < 0.2, "{s}");
    assert!((s["p99_ms"].as_f64().unwrap() - 40.0).abs() < 0.5, "{s}");
    // Frames over their time: 9 frames in 217.5 ms.
    assert!(
        (s["fps"].as_f64().unwrap() - 9000.0 / 217.5).abs() < 1e-6,
        "{s}"
    );
    assert_eq!(stats["totals"]["accepted"], 4);
}

#[tokio::test]
async fn bad_messages_close_with_codes_while_a_good_client_keeps_working() {
    let t = start(test_config()).await;
    let mut good = connect(&t).await;
    let huge = format!("[{}]", vec!["16"; 5000].join(","));
    let cases: Vec<(String, u16, &str)> = vec![
        ("not json".into(), 1007, "invalid_json"),
        (
            r#"{"type":"frames","frame_ms":[NaN]}"#.into(),
            1007,
            "invalid_json",
        ),
        (r#"{"type":"hello"}"#.into(), 1007, "schema"),
        (
            batch("r1", "webgl", &[16.0]).replace("\"gpu_ms\":4.0", "\"gpu_ms\":\"four\""),
            1007,
            "schema",
        ),
        (batch("r1", "vulkan", &[16.0]), 1007, "schema"),
        (
            batch("r1", "webgl", &[16.0]).replace("\"gpu_ms\":4.0", "\"gpu_ms\":1e39"),
            1007,
            "non_finite",
        ),
        (batch("r1", "webgl", &[-16.0]), 1007, "out_of_range"),
        (
            batch("r1", "webgl", &[16.0])
                .replace("\"memory_bytes\":200000000", "\"memory_bytes\":-5"),
            1007,
            "schema",
        ),
        (
            batch("r1", "webgl", &[16.0]).replace("[16.0]", &huge),
            1007,
            "too_many_samples",
        ),
        (batch("bad release!", "webgl", &[16.0]), 1007, "bad_string"),
        (LEGACY.replace("58.5", "-1"), 1007, "out_of_range"),
    ];
    for (i, (msg, code, reason)) in cases.iter().enumerate() {
        let mut bad = connect(&t).await;
        bad.send(Message::text(msg.clone())).await.unwrap();
        assert_eq!(
            expect_close(&mut bad).await,
            (*code, (*reason).to_owned()),
            "case {i}: {msg}"
        );
        good_roundtrip(&mut good).await;
    }
    // Binary frames.
    let mut bad = connect(&t).await;
    bad.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(expect_close(&mut bad).await, (1003, "binary".to_owned()));
    good_roundtrip(&mut good).await;

    good.close(None).await.unwrap();
    while good.next().await.is_some() {}
    let m = t.metrics().await;
    let n = cases.len() as f64 + 1.0;
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_messages_total{result=\"accepted\"}"
        ),
        n
    );
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_messages_total{result=\"rejected\"}"
        ),
        n
    );
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_rejections_total{reason=\"schema\"}"
        ),
        4.0
    );
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_rejections_total{reason=\"invalid_json\"}"
        ),
        2.0
    );
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_rejections_total{reason=\"binary\"}"
        ),
        1.0
    );
    drop(bad);
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while t.server.as_ref().unwrap().state().metrics.connections() > 0 {
        assert!(std::time::Instant::now() < deadline, "sockets not released");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn oversize_frames_close_with_1009() {
    let t = start(candlefish_server::Config {
        max_message_bytes: 4096,
        ..test_config()
    })
    .await;
    let mut good = connect(&t).await;
    for size in [5_000, 1_000_000] {
        let mut bad = connect(&t).await;
        let msg = format!("{{\"type\":\"frames\",\"pad\":\"{}\"}}", "x".repeat(size));
        // The server may close before the whole frame is written; the send error is fine.
        let _ = bad.send(Message::text(msg)).await;
        assert_eq!(
            expect_close(&mut bad).await,
            (1009, "oversize".to_owned()),
            "{size}"
        );
        good_roundtrip(&mut good).await;
    }
    good.close(None).await.unwrap();
    while good.next().await.is_some() {}
    let m = t.metrics().await;
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_rejections_total{reason=\"oversize\"}"
        ),
        2.0
    );
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_messages_total{result=\"accepted\"}"
        ),
        2.0
    );
}

#[tokio::test]
async fn wrong_origin_is_refused_at_the_handshake() {
    let t = start(test_config()).await;
    for (origin, ok) in [
        ("https://evil.example", false),
        ("http://localhost:5173", true),
        ("null", false),
    ] {
        let mut req = t.ws_url().into_client_request().unwrap();
        req.headers_mut().insert("origin", origin.parse().unwrap());
        match tokio_tungstenite::connect_async(req).await {
            Ok(_) => assert!(ok, "{origin} accepted"),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert!(!ok, "{origin} refused");
                assert_eq!(resp.status(), 403);
            }
            Err(e) => panic!("{origin}: {e}"),
        }
    }
    let m = t.metrics().await;
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_rejections_total{reason=\"origin\"}"
        ),
        2.0
    );
}

/// A client that ignores the `refused` notices is closed after a burst of them; every
/// message it sent is accounted for: accepted, refused with a notice, or drained at the
/// close.
#[tokio::test]
async fn floods_are_refused_then_closed_with_1008_and_every_message_counted() {
    let config = candlefish_server::Config {
        conn_msg_rate: 5.0,
        ip_msg_rate: 10_000.0,
        ..test_config()
    };
    let t = start(config).await;
    let mut good = connect(&t).await;
    let mut flood = connect(&t).await;
    let msg = batch("r1", "webgl", &[16.0]);
    let mut sent = 0;
    for _ in 0..50 {
        if flood.send(Message::text(msg.clone())).await.is_err() {
            break;
        }
        sent += 1;
    }
    assert_eq!(
        expect_close(&mut flood).await,
        (1008, "rate_limited".to_owned())
    );
    good_roundtrip(&mut good).await;
    good.close(None).await.unwrap();
    while good.next().await.is_some() {}
    let m = t.metrics().await;
    let accepted = metric(
        &m,
        "candlefish_telemetry_messages_total{result=\"accepted\"}",
    );
    let limited = metric(
        &m,
        "candlefish_telemetry_rejections_total{reason=\"rate_limited\"}",
    );
    let drained = metric(
        &m,
        "candlefish_telemetry_rejections_total{reason=\"drained_at_close\"}",
    );
    // Burst of 2 × rate = 10 accepted from the flood, then the good client's one; 10
    // refused with a notice and the 11th refusal closes.
    assert_eq!((accepted, limited), (11.0, 11.0));
    assert_eq!(accepted - 1.0 + limited + drained, f64::from(sent), "{m}");
}

#[tokio::test]
async fn per_ip_socket_limit_and_idle_timeout() {
    let config = candlefish_server::Config {
        max_sockets_per_ip: 2,
        idle_timeout_s: 0.3,
        ..test_config()
    };
    let t = start(config).await;
    let mut a = connect(&t).await;
    let _b = connect(&t).await;
    match tokio_tungstenite::connect_async(t.ws_url()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 429),
        other => panic!("third socket: {:?}", other.map(|_| ())),
    }
    assert_eq!(
        expect_close(&mut a).await,
        (1000, "idle_timeout".to_owned())
    );
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001() {
    let mut t = start(test_config()).await;
    let mut ws = connect(&t).await;
    ws.send(Message::text(batch("r1", "webgl", &[16.0])))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let server = t.server.take().unwrap();
    let state = server.state().clone();
    let shutdown = tokio::spawn(server.shutdown());
    assert_eq!(
        expect_close(&mut ws).await,
        (1001, "server shutting down".to_owned())
    );
    drop(ws);
    tokio::time::timeout(Duration::from_secs(5), shutdown)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.metrics.accepted(), 1);
    assert_eq!(state.metrics.connections(), 0);
}

#[tokio::test]
async fn beacon_route_validates_like_the_socket() {
    let t = start(candlefish_server::Config {
        max_message_bytes: 4096,
        ..test_config()
    })
    .await;
    let c = client();
    let url = format!("{}/telemetry/beacon", t.base);
    let post = |body: String, ct: Option<&'static str>| {
        let mut req = c.post(&url).body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        req.send()
    };
    let r = post(
        batch("r1", "webgl", &[16.0, 16.0]),
        Some("text/plain;charset=UTF-8"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    let r = post(LEGACY.into(), Some("application/json")).await.unwrap();
    assert_eq!(r.status(), 204);
    let r = post(batch("r1", "webgl", &[-1.0]), Some("text/plain"))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.text().await.unwrap(), r#"{"error":"out_of_range"}"#);
    let r = post("{".into(), None).await.unwrap();
    assert_eq!(r.status(), 400);
    let r = post(
        batch("r1", "webgl", &[16.0]),
        Some("application/x-www-form-urlencoded"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 415);
    let r = post("x".repeat(10_000), Some("text/plain")).await.unwrap();
    assert_eq!(r.status(), 413);
    assert_security_headers(r.headers(), "413");
    let r = c
        .post(&url)
        .header("origin", "https://evil.example")
        .body(LEGACY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let m = t.metrics().await;
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_messages_total{result=\"accepted\"}"
        ),
        2.0
    );
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_messages_total{result=\"rejected\"}"
        ),
        4.0
    );
    assert_eq!(metric(&m, "candlefish_telemetry_samples_total"), 3.0);
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_rejections_total{reason=\"content_type\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_rejections_total{reason=\"oversize\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn releases_get_a_label_only_from_the_server_side() {
    let dir = make_site(false);
    std::fs::write(
        dir.join("dist/manifest.json"),
        r#"{"release":"served-1","preload":[]}"#,
    )
    .unwrap();
    let t = start_in(
        candlefish_server::Config {
            site_dir: dir.join("dist"),
            releases: vec!["canary-2".into()],
            ..test_config()
        },
        dir,
    )
    .await;
    let mut ws = connect(&t).await;
    for r in ["served-1", "canary-2", "junk-1", "junk-2"] {
        ws.send(Message::text(batch(r, "webgl", &[16.0])))
            .await
            .unwrap();
    }
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    let m = t.metrics().await;
    let count = |r: &str| {
        metric(
            &m,
            &format!(
                "candlefish_frame_time_seconds_count{{release=\"{r}\",mode=\"webgl\",preset=\"quality\"}}"
            ),
        )
    };
    assert_eq!(
        (count("served-1"), count("canary-2"), count("other")),
        (1.0, 1.0, 2.0)
    );
    assert!(!m.contains("release=\"junk-1\""));
}

//! Issue 11, against the real server on 127.0.0.1: each case that lost or poisoned data
//! before (a burst losing 9 of 30 batches, `1e-45` in the FPS sum, a 100 000-frame
//! histogram, a hidden tab's 70 s "frame", reserved release labels) and each refusal now
//! counted under its own reason (invalid UTF-8, aborted beacon bodies, messages drained
//! at a close), plus duplicates, the per-session weight cap and session windows.
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "tests"))]

mod common;

use std::io::Write as _;
use std::time::Duration;

use candlefish_protocol::{
    FrameBatch, FrameSample, Frames, Mode, Notice, Preset, Reason, SessionInfo,
};
use common::*;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(t: &TestServer) -> Ws {
    tokio_tungstenite::connect_async(t.ws_url())
        .await
        .unwrap()
        .0
}

/// The next notice from the server (skipping pings), within 5 s.
async fn next_notice(ws: &mut Ws) -> Notice {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("no notice within 5 s")
            .expect("stream ended")
            .unwrap();
        if let Message::Text(t) = m {
            return Notice::parse(&t).unwrap_or_else(|| panic!("not a notice: {t}"));
        }
    }
}

/// Reads notices until a close frame; returns the notices and the close.
async fn until_close(ws: &mut Ws) -> (Vec<Notice>, (u16, String)) {
    let mut notices = Vec::new();
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("no close within 5 s");
        match m {
            Some(Ok(Message::Text(t))) => notices.push(Notice::parse(&t).unwrap()),
            Some(Ok(Message::Close(Some(f)))) => {
                return (notices, (f.code.into(), f.reason.to_string()));
            }
            Some(Ok(_)) => {}
            other => panic!("no close frame: {other:?}"),
        }
    }
}

fn builder(release: &str, session: &str) -> FrameBatch {
    FrameBatch::new(SessionInfo {
        release: release.into(),
        session: session.into(),
        mode: Mode::Webgpu,
        preset: Preset::Quality,
        adapter: "test".into(),
        thread: None,
    })
    .unwrap()
}

/// `n` batches of `frames` frames of `ms` each, numbered 1..=n.
fn batches(release: &str, session: &str, n: usize, frames: usize, ms: f32) -> Vec<Frames> {
    let mut b = builder(release, session);
    (0..n)
        .map(|_| {
            for _ in 0..frames {
                b.record(&FrameSample {
                    interval_ms: ms,
                    ..FrameSample::default()
                });
            }
            b.take().unwrap()
        })
        .collect()
}

fn count(m: &str, name: &str, labels: &str) -> f64 {
    metric(m, &format!("{name}{{{labels}}}"))
}

const L: &str = r#"release="r1",mode="webgpu",preset="quality""#;

/// Issue 11: "30 sent, 20 accepted, 1 refused, 9 lost". Now the 10 past the burst are
/// each refused with a notice (the socket stays open), and sent again they are
/// accepted: 30 of 30, every refusal counted.
#[tokio::test]
async fn a_burst_past_the_limit_is_refused_with_notices_and_resent() {
    let t = start(candlefish_server::Config {
        conn_msg_rate: 10.0,
        ..test_config()
    })
    .await;
    let mut ws = connect(&t).await;
    assert_eq!(
        next_notice(&mut ws).await,
        Notice::Welcome {
            v: 1,
            msg_rate: 10.0,
            msg_burst: 20
        }
    );
    let all = batches("r1", "burst-session", 30, 10, 16.0);
    for b in &all {
        ws.send(Message::text(b.to_json())).await.unwrap();
    }
    // Every message is answered: acknowledged (cumulatively) or refused.
    let mut answered = 0;
    let mut refused = Vec::new();
    while answered < 30 {
        match next_notice(&mut ws).await {
            Notice::Ack { n } => answered = n,
            Notice::Refused {
                n,
                reason,
                retry_after_ms,
            } => {
                assert_eq!(reason, Reason::RateLimited);
                assert!(retry_after_ms.is_some_and(|ms| ms > 0 && ms <= 1000));
                assert_eq!(answered, n - 1, "the messages before were acknowledged");
                refused.push(n);
                answered = n;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(refused, (21..=30).collect::<Vec<u64>>());
    // The client resends exactly those, paced by the rate.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for n in &refused {
        let b = &all[(*n - 1) as usize];
        ws.send(Message::text(b.to_json())).await.unwrap();
    }
    loop {
        match next_notice(&mut ws).await {
            Notice::Ack { n: 40 } => break,
            Notice::Ack { .. } => {}
            other => panic!("resend refused: {other:?}"),
        }
    }
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    let m = t.metrics().await;
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_messages_total{result=\"accepted\"}"
        ),
        30.0
    );
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_rejections_total{reason=\"rate_limited\"}"
        ),
        10.0
    );
    assert_eq!(
        count(&m, "candlefish_frame_time_seconds_count", L),
        300.0,
        "every frame counted once"
    );
}

/// A batch resent after a lost acknowledgement (same session and `seq`) is counted
/// once.
#[tokio::test]
async fn a_resent_seq_is_counted_once() {
    let t = start(test_config()).await;
    let mut ws = connect(&t).await;
    let all = batches("r1", "dedupe-session", 2, 5, 16.0);
    for b in [&all[0], &all[1], &all[0], &all[1]] {
        ws.send(Message::text(b.to_json())).await.unwrap();
    }
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    let m = t.metrics().await;
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_messages_total{result=\"duplicate\"}"
        ),
        2.0
    );
    assert_eq!(count(&m, "candlefish_frame_time_seconds_count", L), 10.0);
}

/// Issue 11: `frame_ms: [1e-45]` was accepted and put about 7e47 into
/// `candlefish_fps_sum`. Now it is refused, and no rate anywhere comes from it.
#[tokio::test]
async fn a_denormal_frame_cannot_poison_the_frame_rate() {
    let t = start(test_config()).await;
    let mut ws = connect(&t).await;
    ws.send(Message::text(
        r#"{"type":"frames","release":"r1","session":"poison-session","mode":"webgpu","preset":"quality","frame_ms":[1e-45]}"#,
    ))
    .await
    .unwrap();
    let (notices, close) = until_close(&mut ws).await;
    assert_eq!(close, (1007, "out_of_range".to_owned()));
    assert!(notices.contains(&Notice::Refused {
        n: 1,
        reason: Reason::OutOfRange,
        retry_after_ms: None
    }));
    let m = t.metrics().await;
    assert!(!m.contains("candlefish_fps_sum{release=\"r1\""), "{m}");
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_rejections_total{reason=\"out_of_range\"}"
        ),
        1.0
    );
}

/// Issue 11: a 171-byte `frame_hist` could claim 100 000 frames. Now a histogram needs
/// its `span_ms` and must fit it.
#[tokio::test]
async fn a_histogram_must_fit_its_time_span() {
    let t = start(test_config()).await;
    let base = r#"{"type":"frames","release":"r1","session":"hist-session","mode":"webgpu","preset":"quality""#;
    for (tail, reason) in [
        (
            r#","frame_hist":{"le_ms":[16],"counts":[100000]}}"#,
            "schema",
        ),
        (
            r#","span_ms":1000,"frame_hist":{"le_ms":[16],"counts":[60000]}}"#,
            "inconsistent",
        ),
        // 60 frames of (8, 16] ms cannot have taken 1.1 s.
        (
            r#","span_ms":1100,"frame_hist":{"le_ms":[8,16],"counts":[0,60]}}"#,
            "inconsistent",
        ),
    ] {
        let mut ws = connect(&t).await;
        ws.send(Message::text(format!("{base}{tail}")))
            .await
            .unwrap();
        assert_eq!(until_close(&mut ws).await.1, (1007, reason.to_owned()));
    }
    let mut ws = connect(&t).await;
    ws.send(Message::text(format!(
        r#"{base},"span_ms":1000,"frame_hist":{{"le_ms":[16,18],"counts":[50,10]}}}}"#
    )))
    .await
    .unwrap();
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    let m = t.metrics().await;
    assert_eq!(count(&m, "candlefish_frame_time_seconds_count", L), 60.0);
    assert_eq!(count(&m, "candlefish_frame_time_seconds_sum", L), 1.0);
}

/// Issue 11: a tab hidden for over 60 s gave a > 60 000 ms "frame" and the server
/// refused the whole batch. As sent then it is still refused; the protocol crate's
/// builder leaves the pause out, and its batch is accepted.
#[tokio::test]
async fn a_hidden_tab_batch_from_the_builder_is_accepted() {
    let t = start(test_config()).await;
    let mut ws = connect(&t).await;
    ws.send(Message::text(
        r#"{"type":"frames","release":"r1","session":"hidden-session","mode":"webgpu","preset":"quality","frame_ms":[16,70000,16]}"#,
    ))
    .await
    .unwrap();
    assert_eq!(
        until_close(&mut ws).await.1,
        (1007, "out_of_range".to_owned())
    );
    let mut b = builder("r1", "hidden-session");
    for ms in [16.0, 70_000.0, 16.0] {
        b.record(&FrameSample {
            interval_ms: ms,
            ..FrameSample::default()
        });
    }
    let mut ws = connect(&t).await;
    ws.send(Message::text(b.take().unwrap().to_json()))
        .await
        .unwrap();
    let _welcome = next_notice(&mut ws).await;
    assert_eq!(next_notice(&mut ws).await, Notice::Ack { n: 1 });
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    let m = t.metrics().await;
    assert_eq!(count(&m, "candlefish_frame_time_seconds_count", L), 2.0);
}

/// Issue 11: a frames message could write into the reserved `legacy` and `other`.
#[tokio::test]
async fn frames_cannot_write_into_reserved_labels() {
    let t = start(test_config()).await;
    for release in ["legacy", "other"] {
        let mut ws = connect(&t).await;
        ws.send(Message::text(format!(
            r#"{{"type":"frames","release":"{release}","session":"reserved-1","mode":"webgl","preset":"quality","frame_ms":[16]}}"#
        )))
        .await
        .unwrap();
        assert_eq!(
            until_close(&mut ws).await.1,
            (1007, "reserved_release".to_owned())
        );
    }
    let m = t.metrics().await;
    assert!(!m.contains("release=\"legacy\",mode=\"webgl\""));
    assert!(!m.contains("release=\"other\""));
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_rejections_total{reason=\"reserved_release\"}"
        ),
        2.0
    );
}

/// Issue 11: the first 32 junk releases took every label slot until a restart. Now 40
/// junk releases all land in `other`, and an allowed release keeps its label.
#[tokio::test]
async fn junk_releases_take_no_label_slot() {
    let t = start(candlefish_server::Config {
        max_releases: 32,
        ..test_config()
    })
    .await;
    let mut ws = connect(&t).await;
    for i in 0..40 {
        let b = &batches(
            &format!("junk-{i}"),
            &format!("junk-session-{i}"),
            1,
            1,
            16.0,
        )[0];
        ws.send(Message::text(b.to_json())).await.unwrap();
    }
    let b = &batches("r1", "good-session", 1, 1, 16.0)[0];
    ws.send(Message::text(b.to_json())).await.unwrap();
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    let m = t.metrics().await;
    assert_eq!(count(&m, "candlefish_frame_time_seconds_count", L), 1.0);
    assert_eq!(
        count(
            &m,
            "candlefish_frame_time_seconds_count",
            r#"release="other",mode="webgpu",preset="quality""#
        ),
        40.0
    );
    assert!(!m.contains("junk-"));
}

/// Each refusal under its own reason: invalid UTF-8 on the socket and in a beacon,
/// messages that arrive after a close, a beacon body abandoned midway.
#[tokio::test]
async fn utf8_drained_and_aborted_have_their_own_reasons() {
    let t = start(test_config()).await;
    // A text frame that is not UTF-8.
    let mut ws = connect(&t).await;
    let bad = b"{\"type\":\"frames\",\"release\":\"\xff\xfe\"}".to_vec();
    ws.send(Message::Frame(Frame::message(
        bad.clone(),
        OpCode::Data(Data::Text),
        true,
    )))
    .await
    .unwrap();
    assert_eq!(
        until_close(&mut ws).await.1,
        (1007, "invalid_utf8".to_owned())
    );
    // A bad message followed by five good ones, all written before the close arrives:
    // the five are read, discarded and counted.
    let mut ws = connect(&t).await;
    ws.send(Message::text("not json")).await.unwrap();
    for b in batches("r1", "drain-session", 5, 1, 16.0) {
        ws.send(Message::text(b.to_json())).await.unwrap();
    }
    assert_eq!(
        until_close(&mut ws).await.1,
        (1007, "invalid_json".to_owned())
    );
    drop(ws);
    // A beacon that is not UTF-8.
    let r = client()
        .post(format!("{}/telemetry/beacon", t.base))
        .header("content-type", "text/plain")
        .body(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.text().await.unwrap(), r#"{"error":"invalid_utf8"}"#);
    // A beacon whose client goes away after 10 of 1000 bytes.
    let addr = t.site_addr;
    tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "POST /telemetry/beacon HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\n\
             Content-Length: 1000\r\n\r\n{{\"type\":\""
        )
        .unwrap();
        s.flush().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        drop(s);
    })
    .await
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let m = loop {
        let m = t.metrics().await;
        if metric(
            &m,
            "candlefish_telemetry_rejections_total{reason=\"aborted\"}",
        ) >= 1.0
            || std::time::Instant::now() > deadline
        {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let reason = |r: &str| {
        metric(
            &m,
            &format!("candlefish_telemetry_rejections_total{{reason=\"{r}\"}}"),
        )
    };
    assert_eq!(reason("invalid_utf8"), 2.0);
    assert_eq!(reason("drained_at_close"), 5.0);
    assert_eq!(reason("aborted"), 1.0);
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_messages_total{result=\"rejected\"}"
        ),
        2.0 + 1.0 + 5.0 + 1.0
    );
}

/// One session cannot claim more time than passes: 1024 one-minute frames a message
/// are capped at 1.5 × the session window, counted, and the rest of the batch stands.
#[tokio::test]
async fn a_session_weighs_at_most_its_window() {
    let t = start(candlefish_server::Config {
        session_window_s: 60.0,
        ..test_config()
    })
    .await;
    let mut ws = connect(&t).await;
    let frames = vec!["59999"; 1024].join(",");
    for _ in 0..3 {
        ws.send(Message::text(format!(
            r#"{{"type":"frames","release":"r1","session":"heavy-session","mode":"webgpu","preset":"quality","frame_ms":[{frames}]}}"#
        )))
        .await
        .ok();
    }
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    let m = t.metrics().await;
    // 1024 × 60 s is over the batch's own limit: refused as inconsistent.
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_rejections_total{reason=\"inconsistent\"}"
        ),
        1.0
    );
    // Within the protocol: one minute of frames per batch, 100 batches in a second.
    let mut ws = connect(&t).await;
    for b in batches("r1", "heavy-session-2", 100, 60, 1000.0) {
        ws.send(Message::text(b.to_json())).await.unwrap();
    }
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    let m = t.metrics().await;
    let kept = count(&m, "candlefish_frame_time_seconds_sum", L);
    // 1.5 × the 60 s window; up to twice that if the burst straddled a window boundary.
    assert!((90.0..=180.0).contains(&kept), "{kept}");
    assert_eq!(
        kept + metric(&m, "candlefish_telemetry_frames_capped_total"),
        6000.0,
        "every 1 s frame kept or counted as capped"
    );
}

/// Session windows close into one observation each of the session's frame rate, p95
/// and peak memory, and sessions and failures are counted once.
#[tokio::test]
async fn session_windows_reach_the_metrics() {
    let t = start(candlefish_server::Config {
        session_window_s: 2.0,
        ..test_config()
    })
    .await;
    let mut ws = connect(&t).await;
    let mut b = builder("r1", "window-session");
    b.set_memory(42_000_000);
    b.add_error(candlefish_protocol::ErrorKind::Panic, "boom");
    for _ in 0..120 {
        b.record(&FrameSample {
            interval_ms: 16.0,
            ..FrameSample::default()
        });
    }
    ws.send(Message::text(b.take().unwrap().to_json()))
        .await
        .unwrap();
    b.add_error(candlefish_protocol::ErrorKind::Shader, "again");
    ws.send(Message::text(b.take().unwrap().to_json()))
        .await
        .unwrap();
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    let deadline = std::time::Instant::now() + Duration::from_secs(6);
    let m = loop {
        let m = t.metrics().await;
        if count(&m, "candlefish_fps_count", L) >= 1.0 || std::time::Instant::now() > deadline {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Usually one window; two if the batches straddled a window boundary.
    let windows = count(&m, "candlefish_memory_usage_bytes_count", L);
    assert!((1.0..=2.0).contains(&windows), "{m}");
    assert_eq!(count(&m, "candlefish_fps_count", L), 1.0);
    assert!((count(&m, "candlefish_fps_sum", L) - 62.5).abs() < 1e-9);
    assert_eq!(
        count(&m, "candlefish_session_frame_time_p95_seconds_sum", L),
        0.016
    );
    let sessions = format!("{L},thread=\"unknown\"");
    assert_eq!(count(&m, "candlefish_sessions_total", &sessions), 1.0);
    assert_eq!(
        count(&m, "candlefish_sessions_failed_total", &sessions),
        1.0
    );
    assert_eq!(
        metric(
            &m,
            &format!("candlefish_client_errors_total{{{L},kind=\"shader\"}}")
        ),
        1.0,
        "errors by kind are still counted each"
    );
}

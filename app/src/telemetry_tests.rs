#![allow(clippy::unwrap_used, reason = "tests")]

use super::*;
use candlefish_protocol::{FrameBatch, FrameSample, Mode, Preset, Reason, SessionInfo};
use std::net::TcpListener;

/// `n` batches of one session, each of `frames` 16 ms frames, numbered 1..=n.
fn batches(n: usize, frames: usize) -> Vec<Frames> {
    let mut b = FrameBatch::new(SessionInfo {
        release: "test-1".into(),
        session: "session-abc".into(),
        mode: Mode::Native,
        preset: Preset::Quality,
        adapter: "llvmpipe".into(),
        thread: None,
    })
    .unwrap();
    (0..n)
        .map(|_| {
            for _ in 0..frames {
                b.record(&FrameSample {
                    interval_ms: 16.0,
                    gpu_ms: Some(2.0),
                    ..FrameSample::default()
                });
            }
            b.take().unwrap()
        })
        .collect()
}

fn fast() -> TelemetryOptions {
    TelemetryOptions {
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        connect_timeout: Duration::from_millis(500),
        flush_deadline: Duration::from_secs(2),
        ..TelemetryOptions::default()
    }
}

/// What the fake server does with a message.
enum Answer {
    /// Sends this notice.
    Reply(Notice),
    /// Says nothing.
    Silent,
    /// Drops the connection without a close.
    Hang,
}

/// What the fake server does with message `n` (1-based per connection) on its
/// connection number `c` (0-based).
type Script = fn(usize, u64) -> Answer;

fn ack(_: usize, n: u64) -> Answer {
    Answer::Reply(Notice::Ack { n })
}

/// A one-connection-at-a-time WebSocket server that greets like the real one
/// (`welcome` with `rate` and `burst`), answers each text message as `script` says
/// (called with the connection's index and the message's number) and collects the
/// messages.
fn serve(
    listener: TcpListener,
    connections: usize,
    rate: f64,
    burst: u32,
    script: Script,
) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut got = Vec::new();
        for (c, stream) in listener.incoming().take(connections).enumerate() {
            let mut ws = tungstenite::accept(stream.unwrap()).unwrap();
            let welcome = Notice::Welcome {
                v: 1,
                msg_rate: rate,
                msg_burst: burst,
            };
            ws.send(Message::text(welcome.to_json())).unwrap();
            let mut n = 0;
            while let Ok(m) = ws.read() {
                if let Message::Text(t) = m {
                    n += 1;
                    got.push(t.to_string());
                    match script(c, n) {
                        Answer::Reply(r) if ws.send(Message::text(r.to_json())).is_err() => break,
                        Answer::Reply(_) | Answer::Silent => {}
                        Answer::Hang => break,
                    }
                }
            }
        }
        got
    })
}

fn field(json: &str, key: &str) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(json).unwrap()[key].clone()
}

#[test]
fn rejects_bad_urls() {
    for url in [
        "",
        "not a url",
        "http://x/telemetry",
        "wss://x/telemetry",
        "ws:///telemetry",
        "/telemetry",
    ] {
        assert!(TelemetryClient::connect(url).is_err(), "{url}");
    }
    assert!(TelemetryClient::connect("ws://127.0.0.1:9/telemetry").is_ok());
}

#[test]
fn delivers_batches_and_waits_for_their_acks() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/telemetry", listener.local_addr().unwrap());
    let server = serve(listener, 1, 100.0, 20, ack);
    let client = TelemetryClient::with_options(&url, fast()).unwrap();
    for b in batches(5, 3) {
        assert!(client.send(b));
    }
    let stats = client.shutdown();
    assert_eq!(
        (stats.sent, stats.acked, stats.dropped, stats.connects),
        (5, 5, 0, 1)
    );
    let got = server.join().unwrap();
    assert_eq!(got.len(), 5);
    assert_eq!(field(&got[4], "seq"), 5);
    assert_eq!(field(&got[4], "frame_ms").as_array().unwrap().len(), 3);
    assert_eq!(field(&got[4], "release"), "test-1");
}

/// Issue 11: 30 batches flushed at once against a burst of 20 lost 9 without a trace.
/// The server refuses what is past the burst with a notice; the client sends exactly
/// those again after `retry_after_ms`, and nothing is lost.
#[test]
fn refused_batches_are_sent_again() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/telemetry", listener.local_addr().unwrap());
    // The server refuses messages 3 and 4 as rate-limited, and acks the rest.
    let script: Script = |_, n| {
        Answer::Reply(if n == 3 || n == 4 {
            Notice::Refused {
                n,
                reason: Reason::RateLimited,
                retry_after_ms: Some(20),
            }
        } else {
            Notice::Ack { n }
        })
    };
    let server = serve(listener, 1, 1000.0, 100, script);
    let client = TelemetryClient::with_options(&url, fast()).unwrap();
    for b in batches(6, 1) {
        assert!(client.send(b));
    }
    let stats = client.shutdown();
    assert_eq!((stats.acked, stats.resent, stats.dropped), (6, 2, 0));
    let got = server.join().unwrap();
    let mut seqs: Vec<u64> = got
        .iter()
        .map(|g| field(g, "seq").as_u64().unwrap())
        .collect();
    assert_eq!(seqs.len(), 8, "two sent twice");
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5, 6]);
}

#[test]
fn a_batch_refused_for_good_is_dropped_and_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/telemetry", listener.local_addr().unwrap());
    let script: Script = |_, n| {
        Answer::Reply(if n == 1 {
            Notice::Refused {
                n,
                reason: Reason::Schema,
                retry_after_ms: None,
            }
        } else {
            Notice::Ack { n }
        })
    };
    let server = serve(listener, 1, 1000.0, 1, script);
    let client = TelemetryClient::with_options(&url, fast()).unwrap();
    let mut all = batches(2, 1).into_iter();
    assert!(client.send(all.next().unwrap()));
    // With a burst of 1 the second batch waits for the first one's answer, so it is
    // queued after the refusal and reports it.
    std::thread::sleep(Duration::from_millis(200));
    assert!(client.send(all.next().unwrap()));
    let stats = client.shutdown();
    assert_eq!((stats.refused, stats.dropped, stats.acked), (1, 1, 1));
    let got = server.join().unwrap();
    assert_eq!(field(&got[1], "dropped_batches"), 1);
}

#[test]
fn unacknowledged_batches_are_resent_after_a_broken_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/telemetry", listener.local_addr().unwrap());
    // The first connection reads two messages without answering and breaks.
    let script: Script = |c, n| match (c, n) {
        (0, 1) => Answer::Silent,
        (0, _) => Answer::Hang,
        _ => Answer::Reply(Notice::Ack { n }),
    };
    let server = serve(listener, 2, 1000.0, 100, script);
    let client = TelemetryClient::with_options(&url, fast()).unwrap();
    for b in batches(3, 1) {
        assert!(client.send(b));
    }
    let stats = client.shutdown();
    assert_eq!((stats.acked, stats.dropped, stats.connects), (3, 0, 2));
    assert!(stats.resent >= 2, "{stats:?}");
    let got = server.join().unwrap();
    let last: Vec<u64> = got[got.len() - 3..]
        .iter()
        .map(|g| field(g, "seq").as_u64().unwrap())
        .collect();
    assert_eq!(last, vec![1, 2, 3], "resent in order, same seq");
}

#[test]
fn at_most_a_burst_is_in_flight() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/telemetry", listener.local_addr().unwrap());
    // Never acknowledges: the client must stop at the burst of 4 less the 2 tokens it
    // keeps in reserve.
    let script: Script = |_, _| Answer::Silent;
    let server = serve(listener, 1, 1000.0, 4, script);
    let options = TelemetryOptions {
        flush_deadline: Duration::from_millis(300),
        ..fast()
    };
    let client = TelemetryClient::with_options(&url, options).unwrap();
    for b in batches(6, 1) {
        assert!(client.send(b));
    }
    let stats = client.shutdown();
    assert_eq!((stats.sent, stats.acked, stats.dropped), (2, 0, 6));
    assert_eq!(server.join().unwrap().len(), 2);
}

#[test]
fn buffers_while_down_drops_oldest_and_reports_them() {
    // Reserve a port, then leave it closed so connections are refused.
    let probe = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let url = format!("ws://{addr}/telemetry");
    let options = TelemetryOptions {
        buffer_capacity: 3,
        ..fast()
    };
    let client = TelemetryClient::with_options(&url, options).unwrap();
    for b in batches(10, 1) {
        assert!(client.send(b));
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(150));
    let stats = client.stats();
    assert_eq!(stats.sent, 0);
    assert_eq!(stats.dropped, 7);
    assert!(stats.failed_connects >= 1);
    let server = serve(TcpListener::bind(addr).unwrap(), 1, 1000.0, 20, ack);
    let deadline = Instant::now() + Duration::from_secs(3);
    while client.stats().acked < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let stats = client.shutdown();
    assert_eq!(stats.acked, 3);
    let got = server.join().unwrap();
    let seqs: Vec<u64> = got
        .iter()
        .map(|g| field(g, "seq").as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![8, 9, 10], "the newest three survive, in order");
    let reported: u64 = got
        .iter()
        .map(|g| field(g, "dropped_batches").as_u64().unwrap_or(0))
        .sum();
    assert_eq!(reported, 7, "every dropped batch is reported");
}

#[test]
fn drop_without_server_respects_the_deadline() {
    let probe = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/telemetry", probe.local_addr().unwrap());
    drop(probe);
    let options = TelemetryOptions {
        flush_deadline: Duration::from_millis(200),
        ..fast()
    };
    let client = TelemetryClient::with_options(&url, options).unwrap();
    client.send(batches(1, 1).remove(0));
    let started = Instant::now();
    let stats = client.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!((stats.sent, stats.dropped), (0, 1));
}

#[test]
fn send_never_blocks_when_the_queue_is_full() {
    let probe = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/telemetry", probe.local_addr().unwrap());
    drop(probe);
    let options = TelemetryOptions {
        queue_capacity: 1,
        ..fast()
    };
    let client = TelemetryClient::with_options(&url, options).unwrap();
    let one = batches(1, 1).remove(0);
    let accepted = (0..1000).filter(|_| client.send(one.clone())).count();
    assert_eq!(client.stats().queue_full, 1000 - accepted as u64);
}

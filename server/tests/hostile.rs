//! The server under an attacker's tools, one at a time, against a real server on
//! 127.0.0.1: slowloris headers, silent and idle connections, stalled readers, slow
//! beacon bodies, connection and socket floods past the caps, ping floods, Range and a
//! planted symlink. Clients that need their own address bind 127.0.0.x (all of
//! 127.0.0.0/8 is loopback on Linux).
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "tests"))]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use candlefish_server::Config;
use common::*;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// A TCP connection to `addr` from the loopback address `127.0.0.<last>`.
async fn connect_from(last: u8, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from(([127, 0, 0, last], 0)))
        .unwrap();
    socket.connect(addr).await.unwrap()
}

/// Reads (and discards) until the peer closes; `Some(elapsed)` if that happened
/// within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return start.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}

/// Reads one HTTP response head (up to the blank line) within `limit`.
async fn read_head(stream: &mut TcpStream, limit: Duration) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    tokio::time::timeout(limit, async {
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).await.unwrap() == 0 {
                break;
            }
            head.push(byte[0]);
        }
    })
    .await
    .expect("no response head in time");
    String::from_utf8_lossy(&head).into_owned()
}

fn timeouts(header: f64, keep_alive: f64, send: f64) -> Config {
    Config {
        header_read_timeout_s: header,
        keep_alive_timeout_s: keep_alive,
        send_timeout_s: send,
        ..test_config()
    }
}

#[tokio::test]
async fn slowloris_headers_are_cut_off() {
    let t = start(timeouts(0.5, 30.0, 30.0)).await;
    let mut s = connect_from(1, t.site_addr).await;
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // One header byte every 100 ms: always some progress, never a whole header.
    let drip = async {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if s.write_all(b"a").await.is_err() {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), drip)
        .await
        .expect("the server kept a slowloris header open for 5 s");
}

#[tokio::test]
async fn silent_and_idle_keep_alive_connections_are_closed() {
    let t = start(timeouts(30.0, 0.5, 30.0)).await;
    let mut silent = connect_from(1, t.site_addr).await;
    let mut kept = connect_from(1, t.site_addr).await;
    kept.write_all(b"GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let head = read_head(&mut kept, Duration::from_secs(5)).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    for (name, s) in [("silent", &mut silent), ("keep-alive", &mut kept)] {
        let closed = closed_within(s, Duration::from_secs(5)).await;
        assert!(closed.is_some(), "{name} connection still open after 5 s");
    }
    // The per-connection timers do not close a request that is making progress.
    let r = client()
        .get(format!("{}/app.0123abcd.js", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped() {
    let dir = make_site(true);
    std::fs::write(dir.join("dist/big.bin"), vec![7u8; 32 << 20]).unwrap();
    let config = Config {
        site_dir: dir.join("dist"),
        ..timeouts(30.0, 30.0, 1.0)
    };
    let t = start_in(config, dir).await;
    let mut s = connect_from(1, t.site_addr).await;
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let connections = || async { metric(&t.metrics().await, "candlefish_http_connections") };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(connections().await, 1.0);
    // The socket buffers fill and the response stalls; the send timeout frees the slot
    // while the client still holds its end.
    let deadline = Instant::now() + Duration::from_secs(8);
    while connections().await > 0.0 {
        assert!(Instant::now() < deadline, "stalled response still open");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut received = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 {
            break;
        }
        received += n;
    }
    assert!(received < 32 << 20, "the whole file arrived: {received}");
}

#[tokio::test]
async fn slow_beacon_bodies_get_408() {
    let t = start(Config {
        body_read_timeout_s: 0.5,
        beacon_deadline_s: 1.0,
        ..test_config()
    })
    .await;
    // A body that stops: the body-read timeout.
    let mut stalled = connect_from(1, t.site_addr).await;
    stalled
        .write_all(b"POST /telemetry/beacon HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n{\"type\"")
        .await
        .unwrap();
    let head = read_head(&mut stalled, Duration::from_secs(5)).await;
    assert!(head.starts_with("HTTP/1.1 408"), "stalled body: {head}");
    // A body that trickles one byte every 100 ms: the whole-request deadline.
    let mut trickle = connect_from(1, t.site_addr).await;
    trickle
        .write_all(b"POST /telemetry/beacon HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (mut rd, mut wr) = trickle.split();
    let drip = async {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if wr.write_all(b" ").await.is_err() {
                break;
            }
        }
        std::future::pending::<()>().await;
    };
    let read = async {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && rd.read(&mut byte).await.unwrap() == 1 {
            head.push(byte[0]);
        }
        String::from_utf8_lossy(&head).into_owned()
    };
    let head = tokio::select! {
        h = read => h,
        () = drip => unreachable!(),
        () = tokio::time::sleep(Duration::from_secs(5)) => panic!("trickling beacon held for 5 s"),
    };
    assert!(head.starts_with("HTTP/1.1 408"), "trickled body: {head}");
    assert!(started.elapsed() >= Duration::from_millis(900));
    let m = t.metrics().await;
    assert_eq!(
        metric(
            &m,
            "candlefish_telemetry_rejections_total{reason=\"timeout\"}"
        ),
        2.0
    );
}

#[tokio::test]
async fn connections_past_the_caps_get_503_at_once() {
    let t = start(Config {
        max_connections: 8,
        max_connections_per_ip: 3,
        ..test_config()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from(2, t.site_addr).await);
    }
    // Fourth from the same address: per-IP cap.
    let mut refused = connect_from(2, t.site_addr).await;
    let head = read_head(&mut refused, Duration::from_secs(2)).await;
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 2"),
        "{head}"
    );
    assert!(head.contains("nosniff"), "{head}");
    // Others fill the global cap; the next one, from a fresh address, is refused too.
    for last in [3, 3, 3, 4, 4] {
        held.push(connect_from(last, t.site_addr).await);
    }
    let mut refused = connect_from(5, t.site_addr).await;
    let head = read_head(&mut refused, Duration::from_secs(2)).await;
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    let m = t.metrics().await;
    assert_eq!(
        metric(
            &m,
            "candlefish_http_connections_refused_total{cap=\"per_ip\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &m,
            "candlefish_http_connections_refused_total{cap=\"global\"}"
        ),
        1.0
    );
    assert_eq!(metric(&m, "candlefish_http_connections"), 8.0);
    // Slots come back when connections close.
    held.clear();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut s = connect_from(5, t.site_addr).await;
        s.write_all(b"GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let head = read_head(&mut s, Duration::from_secs(2)).await;
        if head.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "slots never freed: {head}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn ws_from(last: u8, t: &TestServer) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let stream = connect_from(last, t.site_addr).await;
    tokio_tungstenite::client_async(t.ws_url(), stream)
        .await
        .map(|(ws, _)| ws)
}

fn refusal_status(r: Result<Ws, tokio_tungstenite::tungstenite::Error>) -> (u16, bool) {
    match r {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => (
            resp.status().as_u16(),
            resp.headers().contains_key("retry-after"),
        ),
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn socket_caps_global_and_per_ip() {
    let t = start(Config {
        max_sockets: 3,
        max_sockets_per_ip: 2,
        ..test_config()
    })
    .await;
    let _a = ws_from(1, &t).await.unwrap();
    let _b = ws_from(1, &t).await.unwrap();
    assert_eq!(refusal_status(ws_from(1, &t).await), (429, true));
    let _c = ws_from(2, &t).await.unwrap();
    assert_eq!(refusal_status(ws_from(3, &t).await), (503, true));
}

/// Reads until the server's close frame; returns its code and reason.
async fn expect_close(ws: &mut Ws, within: Duration) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => panic!("no close within {within:?}"),
            Ok(Some(Ok(Message::Close(Some(frame))))) => {
                return (frame.code.into(), frame.reason.to_string());
            }
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("no close frame: {other:?}"),
        }
    }
}

#[tokio::test]
async fn pings_do_not_keep_a_socket_open() {
    let t = start(Config {
        idle_timeout_s: 1.0,
        control_msg_rate: 100.0,
        ..test_config()
    })
    .await;
    let ws = ws_from(1, &t).await.unwrap();
    let started = Instant::now();
    let (mut tx, mut rx) = ws.split();
    let pinger = tokio::spawn(async move {
        for _ in 0..40 {
            if tx.send(Message::Ping(vec![1].into())).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let close = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(Ok(m)) = rx.next().await {
            if let Message::Close(Some(frame)) = m {
                return (u16::from(frame.code), frame.reason.to_string());
            }
        }
        (0, String::new())
    })
    .await
    .expect("pings kept the socket open");
    assert_eq!(close, (1000, "idle_timeout".to_owned()));
    assert!(started.elapsed() >= Duration::from_millis(900));
    pinger.abort();
    // A ping flood is refused like a message flood.
    let flood = start(Config {
        control_msg_rate: 1.0,
        ..test_config()
    })
    .await;
    let mut ws = ws_from(1, &flood).await.unwrap();
    for _ in 0..20 {
        if ws.send(Message::Ping(vec![3].into())).await.is_err() {
            break;
        }
    }
    assert_eq!(
        expect_close(&mut ws, Duration::from_secs(5)).await,
        (1008, "rate_limited".to_owned())
    );
}

#[tokio::test]
async fn a_planted_variant_symlink_does_not_escape() {
    let t = start(test_config()).await;
    let root = t.dir.join("dist");
    std::fs::write(root.join("plain.js"), "let x = 1;").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(t.dir.join("secret.txt"), root.join("plain.js.gz")).unwrap();
        std::os::unix::fs::symlink(t.dir.join("secret.txt"), root.join("plain.js.br")).unwrap();
    }
    for accept in ["gzip", "br", "br, gzip"] {
        let r = client()
            .get(format!("{}/plain.js", t.base))
            .header("accept-encoding", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{accept}");
        assert!(r.headers().get("content-encoding").is_none(), "{accept}");
        let body = r.text().await.unwrap();
        assert_eq!(body, "let x = 1;", "{accept}");
    }
}

#[tokio::test]
async fn ranges_are_served_from_the_file() {
    let t = start(test_config()).await;
    let url = format!("{}/candlefish_bg.89abcdef01.wasm", t.base);
    let r = client()
        .get(&url)
        .header("range", "bytes=2-5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 2-5/{}", WASM.len())
    );
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &WASM[2..6]);
    // If-Range with the current tag keeps the range; a stale one gets the whole file.
    for (if_range, status, len) in [(etag.as_str(), 206, 4), ("\"stale\"", 200, WASM.len())] {
        let r = client()
            .get(&url)
            .header("range", "bytes=2-5")
            .header("if-range", if_range)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{if_range}");
        assert_eq!(r.bytes().await.unwrap().len(), len);
    }
    let bad = client()
        .get(&url)
        .header("range", "bytes=100-200")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 416);
    assert_eq!(bad.headers()["cache-control"], "no-cache");
}

#[tokio::test]
async fn dns_rebinding_origin_is_refused_when_an_allow_list_is_set() {
    let t = start(Config {
        allowed_origins: vec!["https://site.example".into()],
        ..test_config()
    })
    .await;
    let r = client()
        .post(format!("{}/telemetry/beacon", t.base))
        .header("origin", "http://rebind.example:8080")
        .header("host", "rebind.example:8080")
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let refused = tokio::time::timeout(Duration::from_secs(5), async {
        candlefish_server::Server::start(Config {
            allowed_origins: vec!["https://site.example/path".into()],
            ..test_config()
        })
        .await
        .err()
    })
    .await
    .unwrap();
    assert!(
        refused.is_some(),
        "a malformed --allowed-origins entry must not start"
    );
}

//! Native telemetry client: sends once-a-second frame-timing batches to the Candlefish
//! server's `/telemetry` WebSocket (`--telemetry ws://127.0.0.1:8080/telemetry`).
//!
//! The render loop only calls [`TelemetryClient::send`], a non-blocking `try_send` into
//! a bounded channel. A background std thread (no async runtime) serialises batches to
//! the `frames` JSON message of `server/PROTOCOL.md`, keeps a bounded buffer while
//! disconnected (dropping the oldest, counted), reconnects with capped exponential
//! backoff and jitter, and on drop flushes what it holds within a deadline.
//! Delivery is at most once: the protocol has no acknowledgements.

use std::collections::VecDeque;
use std::net::{TcpStream, ToSocketAddrs as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use tungstenite::http::Uri;
use tungstenite::{Message, WebSocket};

/// Most frame-time samples the server accepts per batch.
const MAX_SAMPLES: usize = 1024;
/// Longest frame time the server accepts, milliseconds.
const MAX_FRAME_MS: f32 = 60_000.0;

/// Mean CPU milliseconds per frame for each frame phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CpuPhaseMs {
    /// Scene update.
    pub update: f32,
    /// Frustum culling.
    pub cull: f32,
    /// LOD selection.
    pub lod: f32,
    /// Instance upload.
    pub upload: f32,
    /// Command encoding.
    pub encode: f32,
    /// Submit and present.
    pub submit: f32,
}

/// One batch of frame timings (usually one second of frames).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FrameBatch {
    /// Release or build id, `[A-Za-z0-9][A-Za-z0-9._+-]{0,63}`.
    pub release: String,
    /// Session id, `[A-Za-z0-9_-]{8,64}`, random per run.
    pub session: String,
    /// Render mode: `native` for the desktop and headless builds.
    pub mode: String,
    /// Preset: `quality` or `performance`.
    pub preset: String,
    /// Adapter name.
    pub adapter: String,
    /// Frame times, milliseconds.
    pub frame_ms: Vec<f32>,
    /// Mean CPU time per frame by phase, milliseconds.
    pub cpu_ms: CpuPhaseMs,
    /// Mean GPU time per frame, milliseconds, when timestamp queries exist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_ms: Option<f32>,
    /// Frames dropped in the interval.
    pub dropped_frames: u32,
    /// Memory in use, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Mean draw calls per frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draw_calls: Option<u32>,
}

#[derive(Serialize)]
struct Wire<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    v: u32,
    #[serde(flatten)]
    batch: &'a FrameBatch,
}

impl FrameBatch {
    /// The `frames` JSON message. Non-finite or out-of-range values are dropped or
    /// clamped first, so one bad measurement cannot get the connection closed.
    pub fn to_json(&self) -> Result<String, TelemetryError> {
        let finite = |v: f32| {
            if v.is_finite() {
                v.clamp(0.0, MAX_FRAME_MS)
            } else {
                0.0
            }
        };
        let mut b = self.clone();
        b.frame_ms.retain(|v| v.is_finite() && *v > 0.0);
        b.frame_ms.iter_mut().for_each(|v| *v = v.min(MAX_FRAME_MS));
        b.frame_ms.truncate(MAX_SAMPLES);
        let c = &mut b.cpu_ms;
        for v in [
            &mut c.update,
            &mut c.cull,
            &mut c.lod,
            &mut c.upload,
            &mut c.encode,
            &mut c.submit,
        ] {
            *v = finite(*v);
        }
        b.gpu_ms = b.gpu_ms.filter(|v| v.is_finite()).map(finite);
        serde_json::to_string(&Wire {
            kind: "frames",
            v: 1,
            batch: &b,
        })
        .map_err(TelemetryError::Serialize)
    }
}

/// Errors of the telemetry client.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The URL does not parse or has no host.
    #[error("invalid telemetry URL {0:?}")]
    InvalidUrl(String),
    /// Only `ws://` is built in (no TLS in the native client).
    #[error("unsupported telemetry URL scheme {0:?} (use ws://)")]
    UnsupportedScheme(String),
    /// The background thread could not be started.
    #[error("cannot start the telemetry thread: {0}")]
    Spawn(std::io::Error),
    /// A batch could not be serialised.
    #[error("cannot serialise a telemetry batch: {0}")]
    Serialize(serde_json::Error),
}

/// Tuning of the client.
#[derive(Debug, Clone)]
pub struct TelemetryOptions {
    /// Batches the render loop may queue before `send` starts refusing.
    pub queue_capacity: usize,
    /// Batches held while disconnected; the oldest is dropped beyond this.
    pub buffer_capacity: usize,
    /// First reconnect delay.
    pub initial_backoff: Duration,
    /// Longest reconnect delay.
    pub max_backoff: Duration,
    /// TCP connect and handshake timeout.
    pub connect_timeout: Duration,
    /// How long drop/shutdown may spend flushing.
    pub flush_deadline: Duration,
}

impl Default for TelemetryOptions {
    fn default() -> Self {
        Self {
            queue_capacity: 16,
            buffer_capacity: 120,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(2),
            flush_deadline: Duration::from_secs(2),
        }
    }
}

/// Counters of the client, readable at any time.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TelemetryStats {
    /// Batches written to the socket.
    pub sent: u64,
    /// Batches refused by `send` because the queue was full.
    pub queue_full: u64,
    /// Oldest batches dropped from the disconnected buffer (or unsent at shutdown).
    pub dropped: u64,
    /// Successful connections.
    pub connects: u64,
    /// Failed connection attempts.
    pub failed_connects: u64,
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    queue_full: AtomicU64,
    dropped: AtomicU64,
    connects: AtomicU64,
    failed_connects: AtomicU64,
}

/// The client handle. Dropping it flushes within [`TelemetryOptions::flush_deadline`].
#[derive(Debug)]
pub struct TelemetryClient {
    tx: Option<SyncSender<FrameBatch>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
    options: TelemetryOptions,
}

/// Checks a `ws://host[:port]/path` URL.
fn parse_url(url: &str) -> Result<(String, u16), TelemetryError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| TelemetryError::InvalidUrl(url.to_owned()))?;
    match uri.scheme_str() {
        Some("ws") => {}
        Some(other) => return Err(TelemetryError::UnsupportedScheme(other.to_owned())),
        None => return Err(TelemetryError::InvalidUrl(url.to_owned())),
    }
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| TelemetryError::InvalidUrl(url.to_owned()))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Ok((host, uri.port_u16().unwrap_or(80)))
}

impl TelemetryClient {
    /// Starts a client for `url` (`ws://host:port/telemetry`) with default options.
    pub fn connect(url: &str) -> Result<Self, TelemetryError> {
        Self::with_options(url, TelemetryOptions::default())
    }

    /// Starts a client with explicit options. Fails only on a bad URL or if the
    /// thread cannot start; the server need not be up (it is retried).
    pub fn with_options(url: &str, options: TelemetryOptions) -> Result<Self, TelemetryError> {
        let (host, port) = parse_url(url)?;
        let (tx, rx) = mpsc::sync_channel(options.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let worker = Worker {
            url: url.to_owned(),
            host,
            port,
            rx,
            counters: counters.clone(),
            options: options.clone(),
            buffer: VecDeque::new(),
            socket: None,
            backoff: options.initial_backoff,
            next_attempt: Instant::now(),
            rng: seed(),
        };
        let thread = std::thread::Builder::new()
            .name("candlefish-telemetry".into())
            .spawn(move || worker.run())
            .map_err(TelemetryError::Spawn)?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            counters,
            options,
        })
    }

    /// Queues a batch without blocking. Returns `false` (and counts it) when the queue
    /// is full or the worker has stopped.
    pub fn send(&self, batch: FrameBatch) -> bool {
        let Some(tx) = &self.tx else { return false };
        match tx.try_send(batch) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.queue_full.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> TelemetryStats {
        let c = &self.counters;
        TelemetryStats {
            sent: c.sent.load(Ordering::Relaxed),
            queue_full: c.queue_full.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            connects: c.connects.load(Ordering::Relaxed),
            failed_connects: c.failed_connects.load(Ordering::Relaxed),
        }
    }

    /// Flushes within the deadline and stops the thread; returns the final counters.
    pub fn shutdown(mut self) -> TelemetryStats {
        self.stop();
        self.stats()
    }

    fn stop(&mut self) {
        // Closing the channel tells the worker to flush and exit.
        drop(self.tx.take());
        let Some(thread) = self.thread.take() else {
            return;
        };
        let limit = Instant::now() + self.options.flush_deadline + self.options.connect_timeout;
        while !thread.is_finished() && Instant::now() < limit {
            std::thread::sleep(Duration::from_millis(5));
        }
        if thread.is_finished() {
            let _ = thread.join();
        } else {
            log::warn!("telemetry thread did not finish flushing in time; detaching it");
        }
    }
}

impl Drop for TelemetryClient {
    fn drop(&mut self) {
        self.stop();
    }
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (t as u64) ^ 0x9E37_79B9_7F4A_7C15 | 1
}

/// The background thread's state.
struct Worker {
    url: String,
    host: String,
    port: u16,
    rx: Receiver<FrameBatch>,
    counters: Arc<Counters>,
    options: TelemetryOptions,
    buffer: VecDeque<String>,
    socket: Option<WebSocket<TcpStream>>,
    backoff: Duration,
    next_attempt: Instant,
    rng: u64,
}

impl Worker {
    fn run(mut self) {
        loop {
            let wait = if self.socket.is_none() && !self.buffer.is_empty() {
                self.next_attempt
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1))
            } else {
                Duration::from_millis(250)
            };
            match self.rx.recv_timeout(wait) {
                Ok(batch) => self.push(&batch),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            while let Ok(batch) = self.rx.try_recv() {
                self.push(&batch);
            }
            self.check_alive();
            if !self.buffer.is_empty()
                && (self.socket.is_some() || Instant::now() >= self.next_attempt)
            {
                self.pump(None);
            }
        }
        let deadline = Instant::now() + self.options.flush_deadline;
        while let Ok(batch) = self.rx.try_recv() {
            self.push(&batch);
        }
        if !self.buffer.is_empty() {
            self.pump(Some(deadline));
        }
        self.counters
            .dropped
            .fetch_add(self.buffer.len() as u64, Ordering::Relaxed);
        if let Some(mut ws) = self.socket.take() {
            let _ = ws
                .get_ref()
                .set_read_timeout(Some(Duration::from_millis(100)));
            let _ = ws.close(None);
            // Read until the server's close reply (or the timeout) so the close is clean.
            while Instant::now() < deadline && ws.read().is_ok() {}
        }
    }

    fn push(&mut self, batch: &FrameBatch) {
        match batch.to_json() {
            Ok(json) => {
                if self.buffer.len() >= self.options.buffer_capacity.max(1) {
                    self.buffer.pop_front();
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
                self.buffer.push_back(json);
            }
            Err(e) => log::warn!("{e}"),
        }
    }

    /// Notices a connection the server closed (idle timeout, shutdown, refusal).
    fn check_alive(&mut self) {
        let Some(ws) = &mut self.socket else { return };
        let alive = loop {
            match ws.read() {
                Ok(Message::Close(frame)) => {
                    log::info!("telemetry server closed the connection: {frame:?}");
                    break false;
                }
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break true;
                }
                Err(_) => break false,
            }
        };
        if !alive {
            self.socket = None;
            self.schedule_retry();
        }
    }

    /// Connects if needed and sends the buffer, oldest first.
    fn pump(&mut self, deadline: Option<Instant>) {
        if self.socket.is_none() {
            match self.open(deadline) {
                Ok(ws) => {
                    self.counters.connects.fetch_add(1, Ordering::Relaxed);
                    self.backoff = self.options.initial_backoff;
                    self.socket = Some(ws);
                }
                Err(e) => {
                    if self
                        .counters
                        .failed_connects
                        .fetch_add(1, Ordering::Relaxed)
                        == 0
                    {
                        log::warn!("telemetry: cannot connect to {}: {e}", self.url);
                    }
                    self.schedule_retry();
                    return;
                }
            }
        }
        let Some(ws) = &mut self.socket else { return };
        while let Some(json) = self.buffer.front() {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return;
            }
            match ws.send(Message::text(json.clone())) {
                Ok(()) => {
                    self.buffer.pop_front();
                    self.counters.sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    log::debug!("telemetry send failed: {e}");
                    self.socket = None;
                    self.schedule_retry();
                    return;
                }
            }
        }
    }

    fn open(
        &self,
        deadline: Option<Instant>,
    ) -> Result<WebSocket<TcpStream>, Box<dyn std::error::Error>> {
        let mut timeout = self.options.connect_timeout;
        if let Some(d) = deadline {
            timeout = timeout.min(d.saturating_duration_since(Instant::now()));
        }
        if timeout.is_zero() {
            return Err("flush deadline passed".into());
        }
        let addr = (self.host.as_str(), self.port)
            .to_socket_addrs()?
            .next()
            .ok_or("no address for host")?;
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let (ws, _) = tungstenite::client(self.url.as_str(), stream).map_err(|e| e.to_string())?;
        // After the handshake, reads only poll for a close from the server.
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_millis(1)))?;
        Ok(ws)
    }

    /// Exponential backoff with "equal jitter": half the delay fixed, half random.
    fn schedule_retry(&mut self) {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let unit = (self.rng >> 11) as f64 / (1u64 << 53) as f64;
        let delay = self.backoff.mul_f64(0.5 + 0.5 * unit);
        self.next_attempt = Instant::now() + delay;
        self.backoff = (self.backoff * 2).min(self.options.max_backoff);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use std::net::TcpListener;

    fn batch(n: usize) -> FrameBatch {
        FrameBatch {
            release: "test-1".into(),
            session: "session-abc".into(),
            mode: "native".into(),
            preset: "quality".into(),
            adapter: "llvmpipe".into(),
            frame_ms: vec![16.0; n],
            gpu_ms: Some(2.0),
            ..FrameBatch::default()
        }
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

    /// A one-connection-at-a-time WebSocket server collecting text messages.
    fn serve(listener: TcpListener, connections: usize) -> std::thread::JoinHandle<Vec<String>> {
        std::thread::spawn(move || {
            let mut got = Vec::new();
            for stream in listener.incoming().take(connections) {
                let mut ws = tungstenite::accept(stream.unwrap()).unwrap();
                while let Ok(m) = ws.read() {
                    if let Message::Text(t) = m {
                        got.push(t.to_string());
                    }
                }
            }
            got
        })
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
    fn json_is_sanitised() {
        let mut b = batch(2);
        b.frame_ms.extend([f32::NAN, -1.0, f32::INFINITY, 1e9]);
        b.cpu_ms.encode = f32::NAN;
        b.gpu_ms = Some(f32::INFINITY);
        let v: serde_json::Value = serde_json::from_str(&b.to_json().unwrap()).unwrap();
        assert_eq!(v["type"], "frames");
        assert_eq!(v["v"], 1);
        assert_eq!(v["frame_ms"], serde_json::json!([16.0, 16.0, 60000.0]));
        assert_eq!(v["cpu_ms"]["encode"], 0.0);
        assert!(v.get("gpu_ms").is_none());
        assert!(v.get("memory_bytes").is_none());
    }

    #[test]
    fn delivers_batches_and_flushes_on_drop() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("ws://{}/telemetry", listener.local_addr().unwrap());
        let server = serve(listener, 1);
        let client = TelemetryClient::with_options(&url, fast()).unwrap();
        for i in 1..=5 {
            assert!(client.send(batch(i)));
        }
        let stats = client.shutdown();
        assert_eq!((stats.sent, stats.dropped, stats.connects), (5, 0, 1));
        let got = server.join().unwrap();
        assert_eq!(got.len(), 5);
        let v: serde_json::Value = serde_json::from_str(&got[4]).unwrap();
        assert_eq!(v["frame_ms"].as_array().unwrap().len(), 5);
        assert_eq!(v["release"], "test-1");
    }

    #[test]
    fn buffers_while_down_drops_oldest_and_reconnects() {
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
        for i in 1..=10 {
            assert!(client.send(batch(i)));
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(150));
        let stats = client.stats();
        assert_eq!(stats.sent, 0);
        assert_eq!(stats.dropped, 7);
        assert!(stats.failed_connects >= 1);
        let server = serve(TcpListener::bind(addr).unwrap(), 1);
        let deadline = Instant::now() + Duration::from_secs(3);
        while client.stats().sent < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let stats = client.shutdown();
        assert_eq!(stats.sent, 3);
        let got = server.join().unwrap();
        let lens: Vec<usize> = got
            .iter()
            .map(|g| {
                serde_json::from_str::<serde_json::Value>(g).unwrap()["frame_ms"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .collect();
        assert_eq!(lens, vec![8, 9, 10], "the newest three survive, in order");
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
        client.send(batch(1));
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
        let started = Instant::now();
        let accepted = (0..1000).filter(|_| client.send(batch(1))).count();
        assert!(started.elapsed() < Duration::from_millis(500));
        assert_eq!(client.stats().queue_full, 1000 - accepted as u64);
    }
}

//! Native telemetry client: sends `frames` batches (built by the protocol crate's
//! [`FrameBatch`](candlefish_protocol::FrameBatch)) to the Candlefish server's
//! `/telemetry` WebSocket (`--telemetry ws://127.0.0.1:8080/telemetry`).
//!
//! The render loop only calls [`TelemetryClient::send`], a non-blocking `try_send` into
//! a bounded channel. A background std thread (no async runtime) holds a queue that
//! never drops a batch silently:
//!
//! - it paces itself to the connection's rate limit, as the server's `welcome` notice
//!   states it (the burst at the rate), with a margin, bounding the server's bucket from
//!   the acknowledgements (the server counts a message when it reads it, which may be
//!   later than it was sent), with at most a burst of unacknowledged batches in flight;
//! - a batch stays queued until the server acknowledges it (`ack`); one `refused` for a
//!   retryable reason (the rate limits) goes back to the front of the queue and is sent
//!   again after `retry_after_ms`; one refused for good is dropped and counted;
//! - on a lost connection the unacknowledged batches are sent again after reconnecting
//!   (capped exponential backoff with jitter); the server counts a resent `seq` once;
//! - when the queue is full the oldest batch is dropped; every dropped batch is counted
//!   and reported in the next batch's `dropped_batches`;
//! - on drop it flushes within a deadline and waits for the acknowledgements.

use std::collections::VecDeque;
use std::net::{TcpStream, ToSocketAddrs as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use candlefish_protocol::{Frames, Notice};
use tungstenite::http::Uri;
use tungstenite::{Message, WebSocket};

/// The rate limit assumed until the server's `welcome` says otherwise (the server's
/// defaults).
const DEFAULT_RATE: f64 = 10.0;
const DEFAULT_BURST: u32 = 20;
/// Pacing below the server's limit, which is a GCRA bucket over the times it *reads*
/// messages. Those can be closer together than the sends (a server that reads a backlog
/// late), so the client bounds the server's bucket from the acknowledgements (see
/// [`Link::acknowledged`]) and keeps a margin: it paces at this fraction of the rate...
const RATE_MARGIN: f64 = 0.9;
/// ...and keeps this many of the server's tokens in reserve.
const TOKEN_MARGIN: f64 = 2.0;

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
}

/// Tuning of the client.
#[derive(Debug, Clone)]
pub struct TelemetryOptions {
    /// Batches the render loop may queue before `send` starts refusing.
    pub queue_capacity: usize,
    /// Batches held by the worker (queued and unacknowledged); the oldest queued batch
    /// is dropped beyond this.
    pub buffer_capacity: usize,
    /// First reconnect delay.
    pub initial_backoff: Duration,
    /// Longest reconnect delay.
    pub max_backoff: Duration,
    /// TCP connect and handshake timeout.
    pub connect_timeout: Duration,
    /// How long drop/shutdown may spend flushing and waiting for acknowledgements.
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
    /// Batch messages written to the socket (a resent batch counts again).
    pub sent: u64,
    /// Batches the server acknowledged.
    pub acked: u64,
    /// Batches sent again (refused for now, or unacknowledged when a connection broke).
    pub resent: u64,
    /// Batches the server refused for good (counted in `dropped` too).
    pub refused: u64,
    /// Batches refused by `send` because the queue was full.
    pub queue_full: u64,
    /// Batches dropped: oldest past the buffer, refused for good, or unacknowledged at
    /// shutdown.
    pub dropped: u64,
    /// Successful connections.
    pub connects: u64,
    /// Failed connection attempts.
    pub failed_connects: u64,
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    acked: AtomicU64,
    resent: AtomicU64,
    refused: AtomicU64,
    queue_full: AtomicU64,
    dropped: AtomicU64,
    connects: AtomicU64,
    failed_connects: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// The client handle. Dropping it flushes within [`TelemetryOptions::flush_deadline`].
#[derive(Debug)]
pub struct TelemetryClient {
    tx: Option<SyncSender<Frames>>,
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
            backoff: options.initial_backoff,
            options: options.clone(),
            queue: VecDeque::new(),
            link: None,
            next_attempt: Instant::now(),
            resume_at: Instant::now(),
            pending_dropped: 0,
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
    /// is full or the worker has stopped; the caller reports it in a later batch
    /// ([`candlefish_protocol::FrameBatch::add_dropped_batches`]).
    pub fn send(&self, batch: Frames) -> bool {
        let Some(tx) = &self.tx else { return false };
        match tx.try_send(batch) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                add(&self.counters.queue_full, 1);
                false
            }
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> TelemetryStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TelemetryStats {
            sent: get(&c.sent),
            acked: get(&c.acked),
            resent: get(&c.resent),
            refused: get(&c.refused),
            queue_full: get(&c.queue_full),
            dropped: get(&c.dropped),
            connects: get(&c.connects),
            failed_connects: get(&c.failed_connects),
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

/// One open connection: the socket, its numbering and its rate limit.
struct Link {
    ws: WebSocket<TcpStream>,
    /// Messages sent on this connection (the server numbers them the same way).
    sent: u64,
    /// Sent and not yet acknowledged: (number, batch), in order.
    in_flight: VecDeque<(u64, Frames)>,
    rate: f64,
    burst: u32,
    /// An upper bound of the server's theoretical arrival time (GCRA) for this
    /// connection, from the acknowledged messages: the server reads a message before it
    /// acknowledges it, so counting each at the acknowledgement's arrival is never early.
    tat: Instant,
}

impl Link {
    /// Time between two messages as the client paces them.
    fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / (self.rate * RATE_MARGIN).max(1e-3))
    }

    /// How far ahead of `tat` the bucket lets a message through: the server's burst
    /// less the reserve, less one.
    fn tolerance(&self) -> Duration {
        let bucket = (f64::from(self.burst) - TOKEN_MARGIN).max(1.0);
        self.interval().mul_f64(bucket - 1.0)
    }

    /// When the next message may be sent; `None` while as many are unacknowledged as
    /// the bucket holds (an acknowledgement makes room). The unacknowledged ones are
    /// read before it and each moves the server's `tat` by at most one interval past
    /// the time it reads the new one, which is no earlier than now.
    fn next_send(&self) -> Option<Instant> {
        let ahead = self.interval().mul_f64(self.in_flight.len() as f64);
        let tolerance = self.tolerance();
        if ahead > tolerance {
            return None;
        }
        let at = self.tat + ahead;
        Some(at.checked_sub(tolerance).unwrap_or(at.min(Instant::now())))
    }

    /// `n` messages were acknowledged now: the server counted each by now.
    fn acknowledged(&mut self, n: usize, now: Instant) {
        for _ in 0..n {
            self.tat = self.tat.max(now) + self.interval();
        }
    }
}

/// The background thread's state.
struct Worker {
    url: String,
    host: String,
    port: u16,
    rx: Receiver<Frames>,
    counters: Arc<Counters>,
    options: TelemetryOptions,
    /// Batches not yet sent on the current connection, oldest first.
    queue: VecDeque<Frames>,
    link: Option<Link>,
    backoff: Duration,
    next_attempt: Instant,
    /// No sending before this (a `retry_after_ms`).
    resume_at: Instant,
    /// Batches dropped and not yet reported in a queued batch's `dropped_batches`.
    pending_dropped: u32,
    rng: u64,
}

impl Worker {
    fn run(mut self) {
        loop {
            let wait = self.next_wake();
            match self.rx.recv_timeout(wait) {
                Ok(batch) => self.push(batch),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            while let Ok(batch) = self.rx.try_recv() {
                self.push(batch);
            }
            self.poll_notices();
            self.pump(None);
        }
        self.flush();
    }

    /// How long the loop may sleep: until the next send is possible, or a quarter
    /// second to notice notices and closes.
    fn next_wake(&self) -> Duration {
        let idle = Duration::from_millis(250);
        if self.queue.is_empty() {
            return if self.in_flight() > 0 {
                Duration::from_millis(5)
            } else {
                idle
            };
        }
        let now = Instant::now();
        let until = match &self.link {
            None => self.next_attempt.saturating_duration_since(now),
            Some(link) => self.resume_at.saturating_duration_since(now).max(
                link.next_send()
                    // Waiting for an acknowledgement: poll for it soon.
                    .map_or(Duration::from_millis(5), |at| {
                        at.saturating_duration_since(now)
                    }),
            ),
        };
        until.clamp(Duration::from_millis(1), idle)
    }

    fn in_flight(&self) -> usize {
        self.link.as_ref().map_or(0, |l| l.in_flight.len())
    }

    /// Drops `batch` for good, carrying its own count of dropped batches forward.
    fn drop_batch(&mut self, batch: &Frames) {
        add(&self.counters.dropped, 1);
        self.pending_dropped = self
            .pending_dropped
            .saturating_add(1)
            .saturating_add(batch.dropped_batches);
    }

    fn push(&mut self, mut batch: Frames) {
        batch.dropped_batches = batch
            .dropped_batches
            .saturating_add(std::mem::take(&mut self.pending_dropped));
        self.queue.push_back(batch);
        while self.queue.len() + self.in_flight() > self.options.buffer_capacity.max(1) {
            let Some(oldest) = self.queue.pop_front() else {
                break;
            };
            self.drop_batch(&oldest);
            // Reported by the next batch queued (or the one now at the back).
            if let Some(last) = self.queue.back_mut() {
                last.dropped_batches = last
                    .dropped_batches
                    .saturating_add(std::mem::take(&mut self.pending_dropped));
            }
        }
    }

    /// Reads the server's notices: acknowledgements, refusals, a close.
    fn poll_notices(&mut self) {
        loop {
            let Some(link) = &mut self.link else { return };
            let text = match link.ws.read() {
                Ok(Message::Text(t)) => t,
                Ok(Message::Close(frame)) => {
                    log::info!("telemetry server closed the connection: {frame:?}");
                    self.lost();
                    return;
                }
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return;
                }
                Err(e) => {
                    log::debug!("telemetry connection lost: {e}");
                    self.lost();
                    return;
                }
            };
            match Notice::parse(&text) {
                Some(Notice::Ack { n }) => {
                    let done = link.in_flight.iter().take_while(|(k, _)| *k <= n).count();
                    link.in_flight.drain(..done);
                    link.acknowledged(done, Instant::now());
                    add(&self.counters.acked, done as u64);
                }
                Some(Notice::Refused {
                    n,
                    reason,
                    retry_after_ms,
                }) => {
                    let Some(i) = link.in_flight.iter().position(|(k, _)| *k == n) else {
                        continue;
                    };
                    let Some((_, batch)) = link.in_flight.remove(i) else {
                        continue;
                    };
                    if reason.is_retryable() {
                        // Back to the front (after any earlier refused one), and a pause.
                        let at = self.queue.iter().take_while(|b| b.seq < batch.seq).count();
                        self.queue.insert(at, batch);
                        add(&self.counters.resent, 1);
                        let wait = Duration::from_millis(retry_after_ms.unwrap_or(1000));
                        self.resume_at = self.resume_at.max(Instant::now() + wait);
                    } else {
                        log::warn!("telemetry batch refused: {reason}");
                        add(&self.counters.refused, 1);
                        self.drop_batch(&batch);
                    }
                }
                Some(Notice::Welcome {
                    msg_rate,
                    msg_burst,
                    ..
                }) => {
                    link.rate = msg_rate;
                    link.burst = msg_burst.max(1);
                }
                None => {}
            }
        }
    }

    /// The connection broke: unacknowledged batches go back to the front of the queue.
    fn lost(&mut self) {
        if let Some(link) = self.link.take() {
            add(&self.counters.resent, link.in_flight.len() as u64);
            for (_, batch) in link.in_flight.into_iter().rev() {
                self.queue.push_front(batch);
            }
        }
        self.schedule_retry();
    }

    /// Connects if needed and due, then sends what the rate limit allows.
    fn pump(&mut self, deadline: Option<Instant>) {
        if self.queue.is_empty() {
            return;
        }
        let now = Instant::now();
        if self.link.is_none() {
            if now < self.next_attempt {
                return;
            }
            match self.open(deadline) {
                Ok(link) => {
                    add(&self.counters.connects, 1);
                    self.backoff = self.options.initial_backoff;
                    self.link = Some(link);
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
        if now < self.resume_at {
            return;
        }
        let Some(link) = &mut self.link else { return };
        while link.next_send().is_some_and(|at| at <= now)
            && link.in_flight.len() < link.burst as usize
        {
            let Some(batch) = self.queue.pop_front() else {
                break;
            };
            match link.ws.send(Message::text(batch.to_json())) {
                Ok(()) => {
                    link.sent += 1;
                    link.in_flight.push_back((link.sent, batch));
                    add(&self.counters.sent, 1);
                }
                Err(e) => {
                    log::debug!("telemetry send failed: {e}");
                    self.queue.push_front(batch);
                    self.lost();
                    return;
                }
            }
        }
    }

    /// At shutdown: sends what is left and waits for the acknowledgements, within the
    /// deadline; what remains is counted dropped.
    fn flush(&mut self) {
        let deadline = Instant::now() + self.options.flush_deadline;
        while let Ok(batch) = self.rx.try_recv() {
            self.push(batch);
        }
        while (!self.queue.is_empty() || self.in_flight() > 0) && Instant::now() < deadline {
            self.pump(Some(deadline));
            self.poll_notices();
            let wait = self.next_wake().min(Duration::from_millis(5));
            std::thread::sleep(wait.min(deadline.saturating_duration_since(Instant::now())));
        }
        let left = self.queue.len() + self.in_flight();
        add(&self.counters.dropped, left as u64);
        if let Some(mut link) = self.link.take() {
            let _ = link
                .ws
                .get_ref()
                .set_read_timeout(Some(Duration::from_millis(100)));
            let _ = link.ws.close(None);
            // Read until the server's close reply (or the timeout) so the close is clean.
            let end = Instant::now() + Duration::from_millis(500);
            while Instant::now() < end && link.ws.read().is_ok() {}
        }
    }

    fn open(&self, deadline: Option<Instant>) -> Result<Link, Box<dyn std::error::Error>> {
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
        let (mut ws, _) =
            tungstenite::client(self.url.as_str(), stream).map_err(|e| e.to_string())?;
        let (mut rate, mut burst) = (DEFAULT_RATE, DEFAULT_BURST);
        // The server's first message states this connection's rate limit.
        if let Ok(Message::Text(t)) = ws.read()
            && let Some(Notice::Welcome {
                msg_rate,
                msg_burst,
                ..
            }) = Notice::parse(&t)
        {
            (rate, burst) = (msg_rate, msg_burst.max(1));
        }
        // After that, reads only poll for notices.
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_millis(1)))?;
        Ok(Link {
            ws,
            sent: 0,
            in_flight: VecDeque::new(),
            rate,
            burst,
            // The server's bucket is full when the connection opens.
            tat: Instant::now(),
        })
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
#[path = "telemetry_tests.rs"]
mod tests;

//! Connection handling for both listeners: the accept loop, connection caps and the
//! per-connection timeouts. `axum::serve` has none of these (no hyper timer, so no
//! header-read timeout; no idle timeout; no cap), so each connection is driven here
//! with hyper's HTTP/1.1 server directly.
//!
//! - **Caps.** A global cap on open connections and, below it, one per client IP
//!   (IPv6: per /64; trusted proxies exempt). Past a cap the connection is answered
//!   at once with `503` and `Retry-After` and closed; the accept loop never waits for
//!   a free slot. A connection keeps its slot after a WebSocket upgrade, until the
//!   socket closes.
//! - **Header-read timeout** (hyper): a request header must arrive complete within
//!   it, counted from when the connection is ready for a request.
//! - **Keep-alive timeout**: no request in flight and no byte moving for this long
//!   closes the connection (silent connections, idle keep-alive).
//! - **Send timeout**: a request in flight whose connection moves no byte for this long
//!   (a client that stopped reading its response) closes the connection.
//!
//! Body-read timeouts are a `tower-http` layer on the site router (see
//! [`crate::site_router`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use crate::AppState;
use crate::ratelimit::ip_key;

/// `Retry-After` seconds sent with a refused connection.
pub const RETRY_AFTER_S: u64 = 2;
/// Refused connections answered at the same time; past this a refused connection gets
/// one non-blocking write of the 503 and is closed at once.
const REFUSALS_IN_FLIGHT: usize = 256;
/// How long a refused connection may take to read its 503.
const REFUSAL_LINGER: Duration = Duration::from_secs(2);
/// hyper's read and write buffer cap per connection (its default is ~400 KiB). With the
/// 64 KiB file chunks of `tower-http`, this bounds the memory of a slow download.
const MAX_BUF: usize = 64 * 1024;
/// File descriptors kept free for files being streamed, refused connections and the
/// rest of the process when the connection cap is fitted to the open-file limit.
const FD_RESERVE: u64 = REFUSALS_IN_FLIGHT as u64 + 64;

/// What one listener allows.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections, all clients together.
    pub max_connections: usize,
    /// Open connections per client IP key; `None`: no per-IP cap.
    pub max_per_ip: Option<usize>,
    /// Peers exempt from the per-IP cap (they carry many clients).
    pub trusted_proxies: Vec<IpAddr>,
    /// hyper's header-read timeout.
    pub header_read_timeout: Duration,
    /// Idle time allowed with no request in flight.
    pub keep_alive_timeout: Duration,
    /// Time without progress allowed while a request is in flight.
    pub send_timeout: Duration,
    /// How long to wait for connections to finish after the stop signal.
    pub grace: Duration,
}

/// Which cap refused a connection (the `cap` label of
/// `candlefish_http_connections_refused_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// The global connection cap.
    Global,
    /// The per-IP connection cap.
    PerIp,
}

impl Cap {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::PerIp => "per_ip",
        }
    }
}

/// Raises the soft open-file limit to the hard limit and lowers `requested` so that
/// every connection can also open the file it streams. Returns the cap to use.
pub fn fit_to_fd_limit(requested: usize) -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open-file limit; connection cap unchanged");
            return requested;
        }
    };
    // Two descriptors per connection: the socket and a file being streamed.
    let fit = usize::try_from(limit.saturating_sub(FD_RESERVE) / 2)
        .unwrap_or(usize::MAX)
        .max(1);
    if fit < requested {
        tracing::warn!(
            requested,
            fit,
            nofile = limit,
            "connection cap lowered to fit the open-file limit"
        );
    }
    requested.min(fit)
}

/// Open connections per IP key, and the global slots.
#[derive(Debug)]
struct ConnTable {
    slots: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// A connection's place under the caps; released on drop (after a WebSocket upgrade,
/// when the socket closes).
#[derive(Debug)]
struct Slot {
    table: Arc<ConnTable>,
    key: Option<IpAddr>,
    counted: Option<Arc<AppState>>,
    _permit: OwnedSemaphorePermit,
}

impl ConnTable {
    fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        limits: &Limits,
        counted: Option<&Arc<AppState>>,
    ) -> Result<Slot, Cap> {
        let permit = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| Cap::Global)?;
        let key = match limits.max_per_ip {
            Some(cap) if !limits.trusted_proxies.contains(&ip) => {
                let key = ip_key(ip);
                let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
                let count = per_ip.entry(key).or_insert(0);
                if *count >= cap {
                    return Err(Cap::PerIp);
                }
                *count += 1;
                Some(key)
            }
            _ => None,
        };
        if let Some(state) = counted {
            state.metrics.http_connections_add(1);
        }
        Ok(Slot {
            table: self.clone(),
            key,
            counted: counted.cloned(),
            _permit: permit,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            let mut per_ip = self.table.per_ip.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(count) = per_ip.get_mut(&key) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    per_ip.remove(&key);
                }
            }
        }
        if let Some(state) = &self.counted {
            state.metrics.http_connections_add(-1);
        }
    }
}

/// When a connection last moved a byte, and how many requests it has in flight.
#[derive(Debug)]
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        self.start
            .elapsed()
            .saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// A request in flight; dropped with its response body (after the last byte is
/// handed to hyper, or when the response is abandoned).
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        activity.touch();
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A response body that holds its request's [`InFlight`] mark.
#[derive(Debug)]
struct MarkedBody {
    inner: Body,
    _in_flight: InFlight,
}

impl HttpBody for MarkedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The TCP stream of one connection: notes each byte moved and holds the [`Slot`].
#[derive(Debug)]
struct TrackedIo {
    stream: TcpStream,
    activity: Arc<Activity>,
    _slot: Slot,
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The bytes of the 503 sent to a connection past a cap: security headers,
/// `Retry-After`, `Connection: close`.
fn refusal_response() -> Bytes {
    let body = "server at capacity, retry later\n";
    let mut head = String::from("HTTP/1.1 503 Service Unavailable\r\n");
    for (name, value) in crate::security::SECURITY_HEADERS {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "retry-after: {RETRY_AFTER_S}\r\ncache-control: no-store\r\n\
         content-type: text/plain; charset=utf-8\r\nconnection: close\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    ));
    Bytes::from(head)
}

/// Writes the 503, closes the write side, and reads what the client sent until it
/// closes too (bounded in time and bytes), so the kernel ends the connection with a FIN
/// rather than a reset that could drop the 503 before the client reads it.
async fn refuse(mut stream: TcpStream, response: Bytes) {
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        stream.write_all(&response).await?;
        stream.shutdown().await?;
        let mut buf = [0u8; 4096];
        let mut drained = 0;
        while drained < 64 * 1024 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            drained += n;
        }
        Ok::<(), io::Error>(())
    })
    .await;
}

/// Accept errors that concern one connection only.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves `router` on `listener` until `stop` turns `true`, then lets open connections
/// finish their requests (each is asked to close) for at most `limits.grace`.
/// `counted`: the state whose metrics count this listener's connections.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    counted: Option<Arc<AppState>>,
    mut stop: watch::Receiver<bool>,
) {
    let table = Arc::new(ConnTable {
        slots: Arc::new(Semaphore::new(limits.max_connections.max(1))),
        per_ip: Mutex::new(HashMap::new()),
    });
    let refusals = Arc::new(Semaphore::new(REFUSALS_IN_FLIGHT));
    let refusal = refusal_response();
    let tracker = TaskTracker::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        .max_buf_size(MAX_BUF);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // EMFILE and the like: wait a moment instead of spinning; the caps keep
                // this from happening under load.
                tracing::error!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let slot = match table.admit(peer.ip(), &limits, counted.as_ref()) {
            Ok(slot) => slot,
            Err(cap) => {
                if let Some(state) = &counted {
                    state.metrics.count_connection_refused(cap);
                }
                match refusals.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let response = refusal.clone();
                        tokio::spawn(async move {
                            refuse(stream, response).await;
                            drop(permit);
                        });
                    }
                    Err(_) => {
                        let _ = stream.try_write(&refusal);
                    }
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let io = TrackedIo {
            stream,
            activity: activity.clone(),
            _slot: slot,
        };
        tracker.spawn(drive(
            io,
            activity,
            peer,
            router.clone(),
            builder.clone(),
            limits.clone(),
            stop.clone(),
        ));
    }
    drop(listener);
    tracker.close();
    let _ = tokio::time::timeout(limits.grace, tracker.wait()).await;
}

/// Serves one connection, closing it when it stays idle or stalls past its timeout.
async fn drive(
    io: TrackedIo,
    activity: Arc<Activity>,
    peer: SocketAddr,
    router: Router,
    builder: http1::Builder,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let marks = activity.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let in_flight = InFlight::begin(&marks);
        let router = router.clone();
        async move {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            let response = router.oneshot(req).await.unwrap_or_else(|e| match e {});
            Ok::<_, Infallible>(response.map(|inner| {
                Body::new(MarkedBody {
                    inner,
                    _in_flight: in_flight,
                })
            }))
        }
    });
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        let (limit, which) = if activity.in_flight.load(Ordering::Relaxed) > 0 {
            (limits.send_timeout, "send")
        } else {
            (limits.keep_alive_timeout, "keep-alive")
        };
        let idle = activity.idle();
        if idle >= limit {
            tracing::debug!(%peer, timeout = which, "closing connection");
            return;
        }
        // A request starting or ending touches the activity, so until the shorter
        // timeout has passed since the last touch the state may still change; after
        // that it has not, and the current state's timeout is the one that applies.
        let shortest = limits.send_timeout.min(limits.keep_alive_timeout);
        let wake = if idle < shortest {
            shortest - idle
        } else {
            limit.saturating_sub(idle)
        };
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
                return;
            }
            () = tokio::time::sleep(wake) => {}
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_is_a_complete_503() {
        let r = refusal_response();
        let text = std::str::from_utf8(&r).unwrap();
        assert!(text.starts_with("HTTP/1.1 503 "));
        assert!(text.contains("\r\nretry-after: 2\r\n"));
        assert!(text.contains("\r\nx-content-type-options: nosniff\r\n"));
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
    }

    #[test]
    fn fd_fit_never_exceeds_the_request() {
        assert!(fit_to_fd_limit(10) <= 10);
        assert!(fit_to_fd_limit(1) >= 1);
    }
}

//! The `/telemetry` WebSocket: origin and socket-cap checks at the handshake (per IP:
//! 429; all sockets: 503; both with `Retry-After`), then one task per connection that
//! reads text messages and hands each to [`super::ingest`]. Only data messages move the
//! idle deadline; pings and pongs are rate-limited. Every refusal closes the socket
//! with a code and a reason (see [`Reason::close_code`]) and is counted; one
//! connection's failure never touches another's.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::header::{HeaderValue, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{Reason, ingest, reject_unparsed};
use crate::AppState;
use crate::ratelimit::{Limiter, ip_key};
use crate::security::ClientIp;

/// How long to keep reading after sending a close frame, so unread input does not
/// turn the close into a TCP reset that would hide the close frame from the client.
const CLOSE_DRAIN: Duration = Duration::from_secs(1);

/// Counts an open socket against its IP, the global socket cap and the connections
/// gauge; released on drop.
#[derive(Debug)]
pub struct SocketGuard {
    state: Arc<AppState>,
    key: IpAddr,
}

/// Which socket cap refused a handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketCap {
    /// `--max-sockets`: answered 503.
    Global,
    /// `--max-sockets-per-ip`: answered 429.
    PerIp,
}

/// Open telemetry sockets, per IP key and in all.
#[derive(Debug, Default)]
pub struct SocketTable {
    per_ip: HashMap<IpAddr, usize>,
    total: usize,
}

impl SocketGuard {
    /// Registers a socket from `ip`, or says which cap it is past.
    pub fn acquire(state: &Arc<AppState>, ip: IpAddr) -> Result<Self, SocketCap> {
        let key = ip_key(ip);
        let mut sockets = state.sockets.lock().unwrap_or_else(|e| e.into_inner());
        if sockets.total >= state.config.max_sockets {
            return Err(SocketCap::Global);
        }
        let count = sockets.per_ip.entry(key).or_insert(0);
        if *count >= state.config.max_sockets_per_ip {
            return Err(SocketCap::PerIp);
        }
        *count += 1;
        sockets.total += 1;
        state.metrics.connections_add(1);
        Ok(Self {
            state: state.clone(),
            key,
        })
    }
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        let mut sockets = self.state.sockets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = sockets.per_ip.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                sockets.per_ip.remove(&self.key);
            }
        }
        sockets.total = sockets.total.saturating_sub(1);
        self.state.metrics.connections_add(-1);
    }
}

/// A refused handshake: `status`, `Retry-After` and a short reason.
fn refuse_handshake(status: StatusCode, text: &'static str) -> Response {
    let mut r = (status, text).into_response();
    r.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(crate::serve::RETRY_AFTER_S));
    r
}

/// The upgrade handler.
pub async fn handler(
    State(state): State<Arc<AppState>>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !state.origins.allows(&headers) {
        state.metrics.reject(Reason::Origin, false);
        return (StatusCode::FORBIDDEN, "origin not allowed\n").into_response();
    }
    let guard = match SocketGuard::acquire(&state, ip) {
        Ok(guard) => guard,
        Err(cap) => {
            state.metrics.reject(Reason::TooManySockets, false);
            return match cap {
                SocketCap::Global => refuse_handshake(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many sockets on this server\n",
                ),
                SocketCap::PerIp => {
                    refuse_handshake(StatusCode::TOO_MANY_REQUESTS, "too many sockets\n")
                }
            };
        }
    };
    let cap = state.config.max_message_bytes;
    upgrade
        .max_message_size(cap)
        .max_frame_size(cap)
        .on_upgrade(move |socket| run(socket, state, ip, guard))
}

/// Whether a receive error is tungstenite's "message or frame too big".
fn is_capacity(err: axum::Error) -> bool {
    err.into_inner()
        .downcast::<tungstenite::Error>()
        .is_ok_and(|e| matches!(*e, tungstenite::Error::Capacity(_)))
}

async fn run(mut socket: WebSocket, state: Arc<AppState>, ip: IpAddr, guard: SocketGuard) {
    let rate = state.config.conn_msg_rate;
    let messages = Limiter::new(rate, rate * 2.0);
    let control_rate = state.config.control_msg_rate;
    let control = Limiter::new(control_rate, (control_rate * 5.0).max(5.0));
    let mut shutdown = state.shutdown.subscribe();
    let idle = state.config.idle_timeout();
    // Only data messages move the idle deadline: pings and pongs do not keep a socket
    // open.
    let mut deadline = tokio::time::Instant::now() + idle;
    let close = loop {
        let received = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break Some((1001, "server shutting down")),
            () = tokio::time::sleep_until(deadline) => None,
            r = socket.recv() => Some(r),
        };
        let message = match received {
            None => {
                state.metrics.reject(Reason::IdleTimeout, false);
                break Some((
                    Reason::IdleTimeout.close_code(),
                    Reason::IdleTimeout.as_str(),
                ));
            }
            Some(None) => break None,
            Some(Some(Err(e))) => {
                if is_capacity(e) {
                    reject_unparsed(&state, Reason::Oversize);
                    break Some((Reason::Oversize.close_code(), Reason::Oversize.as_str()));
                }
                break None;
            }
            Some(Some(Ok(m))) => m,
        };
        // (reason, whether it is a refused message that still has to be counted:
        // ingest() counts its own; a refused ping is not a message).
        let refusal = match message {
            Message::Text(text) if text.len() > state.config.max_message_bytes => {
                Some((Reason::Oversize, Some(true)))
            }
            Message::Text(text) => {
                deadline = tokio::time::Instant::now() + idle;
                match messages.check() {
                    Err(_) => Some((Reason::RateLimited, Some(true))),
                    Ok(()) => ingest(&state, ip, text.as_bytes()).err().map(|r| (r, None)),
                }
            }
            Message::Binary(_) => Some((Reason::Binary, Some(true))),
            Message::Ping(_) | Message::Pong(_) => control
                .check()
                .err()
                .map(|_| (Reason::RateLimited, Some(false))),
            // Keep reading: the next receive writes tungstenite's queued close reply and
            // then ends the stream, completing the closing handshake.
            Message::Close(_) => None,
        };
        if let Some((reason, count)) = refusal {
            if let Some(message) = count {
                state.metrics.reject(reason, message);
            }
            break Some((reason.close_code(), reason.as_str()));
        }
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        if socket.send(Message::Close(Some(frame))).await.is_ok() {
            let _ = tokio::time::timeout(CLOSE_DRAIN, async {
                while let Some(Ok(m)) = socket.recv().await {
                    if matches!(m, Message::Close(_)) {
                        break;
                    }
                }
            })
            .await;
        }
    }
    drop(guard);
}

//! The `/telemetry` WebSocket: origin and per-IP socket checks at the handshake, then
//! one task per connection that reads text messages and hands each to
//! [`super::ingest`]. Every refusal closes the socket with a code and a reason
//! (see [`Reason::close_code`]) and is counted; one connection's failure never touches
//! another's.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{Reason, ingest, reject_unparsed};
use crate::AppState;
use crate::origin::origin_allowed;
use crate::ratelimit::{Bucket, ip_key};
use crate::security::ClientIp;

/// How long to keep reading after sending a close frame, so unread input does not
/// turn the close into a TCP reset that would hide the close frame from the client.
const CLOSE_DRAIN: Duration = Duration::from_secs(1);

/// Counts an open socket against its IP and the connections gauge; released on drop.
#[derive(Debug)]
pub struct SocketGuard {
    state: Arc<AppState>,
    key: IpAddr,
}

impl SocketGuard {
    /// Registers a socket from `ip`, or `None` when that IP is at its limit.
    pub fn acquire(state: &Arc<AppState>, ip: IpAddr) -> Option<Self> {
        let key = ip_key(ip);
        let mut sockets = state.sockets.lock().unwrap_or_else(|e| e.into_inner());
        let count = sockets.entry(key).or_insert(0);
        if *count >= state.config.max_sockets_per_ip {
            return None;
        }
        *count += 1;
        state.metrics.connections_add(1);
        Some(Self {
            state: state.clone(),
            key,
        })
    }
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        let mut sockets = self.state.sockets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = sockets.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                sockets.remove(&self.key);
            }
        }
        self.state.metrics.connections_add(-1);
    }
}

/// The upgrade handler.
pub async fn handler(
    State(state): State<Arc<AppState>>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&state.config, &headers) {
        state.metrics.reject(Reason::Origin, false);
        return (StatusCode::FORBIDDEN, "origin not allowed\n").into_response();
    }
    let Some(guard) = SocketGuard::acquire(&state, ip) else {
        state.metrics.reject(Reason::TooManySockets, false);
        return (StatusCode::TOO_MANY_REQUESTS, "too many sockets\n").into_response();
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
    let mut bucket = Bucket::new(rate, rate * 2.0, Instant::now());
    let mut shutdown = state.shutdown.subscribe();
    let idle = state.config.idle_timeout();
    let close = loop {
        let received = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break Some((1001, "server shutting down")),
            r = tokio::time::timeout(idle, socket.recv()) => r,
        };
        let message = match received {
            Err(_) => {
                state.metrics.reject(Reason::IdleTimeout, false);
                break Some((
                    Reason::IdleTimeout.close_code(),
                    Reason::IdleTimeout.as_str(),
                ));
            }
            Ok(None) => break None,
            Ok(Some(Err(e))) => {
                if is_capacity(e) {
                    reject_unparsed(&state, Reason::Oversize);
                    break Some((Reason::Oversize.close_code(), Reason::Oversize.as_str()));
                }
                break None;
            }
            Ok(Some(Ok(m))) => m,
        };
        // (reason, whether it still has to be counted: ingest() counts its own).
        let refusal = match message {
            Message::Text(text) if text.len() > state.config.max_message_bytes => {
                Some((Reason::Oversize, true))
            }
            Message::Text(text) => match bucket.take(Instant::now()) {
                Err(_) => Some((Reason::RateLimited, true)),
                Ok(()) => ingest(&state, ip, text.as_bytes())
                    .err()
                    .map(|r| (r, false)),
            },
            Message::Binary(_) => Some((Reason::Binary, true)),
            Message::Ping(_) | Message::Pong(_) => None,
            // Keep reading: the next receive writes tungstenite's queued close reply and
            // then ends the stream, completing the closing handshake.
            Message::Close(_) => None,
        };
        if let Some((reason, uncounted)) = refusal {
            if uncounted {
                reject_unparsed(&state, reason);
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

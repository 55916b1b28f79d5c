//! The `/telemetry` WebSocket: origin and socket-cap checks at the handshake (per IP:
//! 429; all sockets: 503; both with `Retry-After`), then one task per connection that
//! sends a `welcome` notice (the connection's message rate and burst), reads text
//! messages, hands each to [`super::ingest`] and answers with notices:
//!
//! - `ack` with the number of the last message processed, once no further message is
//!   waiting (one ack covers a burst);
//! - `refused` with the message's number, the reason and, when retryable (the rate
//!   limits), `retry_after_ms`; the socket stays open, so a client resends exactly the
//!   refused batches. A client that keeps sending through more refusals in a row than
//!   its burst is closed (1008);
//! - for any other refusal, `refused` and then a close with the reason's code (see
//!   [`Reason::close_code`]).
//!
//! Messages that arrive after the close are read, discarded and counted
//! (`drained_at_close`). Only data messages move the idle deadline; pings and pongs are
//! rate-limited. One connection's failure never touches another's.

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

use candlefish_protocol::Notice;
use candlefish_protocol::limits::PROTOCOL_VERSION;
use futures_util::FutureExt as _;

use super::{Reason, Refusal, ingest, reject_unparsed};
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
        state.metrics.reject(Reason::Origin);
        return (StatusCode::FORBIDDEN, "origin not allowed\n").into_response();
    }
    let guard = match SocketGuard::acquire(&state, ip) {
        Ok(guard) => guard,
        Err(cap) => {
            state.metrics.reject(Reason::TooManySockets);
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

/// The notice as a text message.
fn notice(n: &Notice) -> Message {
    Message::text(n.to_json())
}

/// Milliseconds to wait, rounded up, at least 1.
fn retry_ms(wait: Option<Duration>) -> Option<u64> {
    wait.map(|w| {
        u64::try_from(w.as_micros().div_ceil(1000))
            .unwrap_or(u64::MAX)
            .max(1)
    })
}

/// Why the read loop ended: close with this code and reason, or just stop (the
/// client closed or vanished).
type Close = Option<(u16, &'static str)>;

async fn run(mut socket: WebSocket, state: Arc<AppState>, ip: IpAddr, guard: SocketGuard) {
    let rate = state.config.conn_msg_rate;
    let burst = (rate * 2.0).max(1.0);
    let messages = Limiter::new(rate, burst);
    let control_rate = state.config.control_msg_rate;
    let control = Limiter::new(control_rate, (control_rate * 5.0).max(5.0));
    let mut shutdown = state.shutdown.subscribe();
    let idle = state.config.idle_timeout();
    let welcome = Notice::Welcome {
        v: PROTOCOL_VERSION,
        msg_rate: rate,
        msg_burst: burst.min(f64::from(u32::MAX)) as u32,
    };
    if socket.send(notice(&welcome)).await.is_err() {
        return;
    }
    // Refusals in a row that a client may ignore before the socket is closed: a client
    // that honours the notices never gets near it.
    let max_refused_in_row = burst.min(f64::from(u32::MAX)) as u32;
    let mut refused_in_row = 0u32;
    // Data messages received, and the highest number acknowledged ("ack n" covers
    // every message up to n that was not refused with a notice).
    let mut n: u64 = 0;
    let mut acked: u64 = 0;
    // Only data messages move the idle deadline: pings and pongs do not keep a socket
    // open.
    let mut deadline = tokio::time::Instant::now() + idle;
    let close: Close = loop {
        // Acknowledge once no further message is waiting: one ack covers a burst.
        let received = match socket.recv().now_or_never() {
            Some(r) => Some(r),
            None => {
                if n > acked {
                    if socket.send(notice(&Notice::Ack { n })).await.is_err() {
                        break None;
                    }
                    acked = n;
                }
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => break Some((1001, "server shutting down")),
                    () = tokio::time::sleep_until(deadline) => None,
                    r = socket.recv() => Some(r),
                }
            }
        };
        let message = match received {
            None => {
                state.metrics.reject(Reason::IdleTimeout);
                break Some((
                    Reason::IdleTimeout.close_code(),
                    Reason::IdleTimeout.as_str(),
                ));
            }
            Some(None) => break None,
            Some(Some(Err(e))) => {
                let Some(reason) = receive_error(e) else {
                    break None;
                };
                n += 1;
                reject_unparsed(&state, reason);
                let _ = ack_before(&mut socket, n, &mut acked).await;
                break refuse(&mut socket, n, reason.into()).await;
            }
            Some(Some(Ok(m))) => m,
        };
        let data = matches!(message, Message::Text(_) | Message::Binary(_));
        let refusal = match message {
            Message::Text(text) => {
                n += 1;
                deadline = tokio::time::Instant::now() + idle;
                if text.len() > state.config.max_message_bytes {
                    reject_unparsed(&state, Reason::Oversize);
                    Some(Reason::Oversize.into())
                } else {
                    match messages.check() {
                        Err(wait) => {
                            reject_unparsed(&state, Reason::RateLimited);
                            Some(Refusal {
                                reason: Reason::RateLimited,
                                retry_after: Some(wait),
                            })
                        }
                        Ok(()) => ingest(&state, ip, text.as_bytes()).err(),
                    }
                }
            }
            Message::Binary(_) => {
                n += 1;
                reject_unparsed(&state, Reason::Binary);
                Some(Reason::Binary.into())
            }
            Message::Ping(_) | Message::Pong(_) => {
                if control.check().is_err() {
                    // Not a message: counted, no notice.
                    state.metrics.reject(Reason::RateLimited);
                    break Some((
                        Reason::RateLimited.close_code(),
                        Reason::RateLimited.as_str(),
                    ));
                }
                None
            }
            // Keep reading: the next receive writes tungstenite's queued close reply and
            // then ends the stream, completing the closing handshake.
            Message::Close(_) => None,
        };
        match refusal {
            None => {
                if data {
                    refused_in_row = 0;
                }
            }
            Some(r) if r.reason.is_retryable() => {
                // Refused for now: tell the client which message, and when to resend;
                // the socket stays open.
                refused_in_row += 1;
                if refused_in_row > max_refused_in_row {
                    break Some((r.reason.close_code(), r.reason.as_str()));
                }
                if !ack_before(&mut socket, n, &mut acked).await
                    || socket.send(notice(&refused_notice(n, r))).await.is_err()
                {
                    break None;
                }
                acked = n;
            }
            Some(r) => {
                let _ = ack_before(&mut socket, n, &mut acked).await;
                break refuse(&mut socket, n, r).await;
            }
        }
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        if socket.send(Message::Close(Some(frame))).await.is_ok() {
            // Messages the client sent before it saw the close are read and discarded,
            // each counted, so that none vanishes without a trace.
            let _ = tokio::time::timeout(CLOSE_DRAIN, async {
                while let Some(Ok(m)) = socket.recv().await {
                    match m {
                        Message::Close(_) => break,
                        Message::Text(_) | Message::Binary(_) => {
                            reject_unparsed(&state, Reason::DrainedAtClose);
                        }
                        Message::Ping(_) | Message::Pong(_) => {}
                    }
                }
            })
            .await;
        }
    }
    drop(guard);
}

/// Acknowledges the messages before `n` not yet acknowledged, so that every message
/// up to `acked` is either acknowledged or refused. `false` if the socket broke.
async fn ack_before(socket: &mut WebSocket, n: u64, acked: &mut u64) -> bool {
    if n > *acked + 1 {
        if socket
            .send(notice(&Notice::Ack { n: n - 1 }))
            .await
            .is_err()
        {
            return false;
        }
        *acked = n - 1;
    }
    true
}

fn refused_notice(n: u64, r: Refusal) -> Notice {
    Notice::Refused {
        n,
        reason: r.reason,
        retry_after_ms: retry_ms(r.retry_after),
    }
}

/// Sends the refusal notice of message `n` and returns the close to send after it.
async fn refuse(socket: &mut WebSocket, n: u64, r: Refusal) -> Close {
    // The close follows whether or not the notice could be written.
    let _ = socket.send(notice(&refused_notice(n, r))).await;
    Some((r.reason.close_code(), r.reason.as_str()))
}

/// The refusal reason of a receive error, if it is the client's message that was at
/// fault: too big (tungstenite's capacity error) or not UTF-8. Anything else is a
/// connection that broke.
fn receive_error(err: axum::Error) -> Option<Reason> {
    match *err.into_inner().downcast::<tungstenite::Error>().ok()? {
        tungstenite::Error::Capacity(_) => Some(Reason::Oversize),
        tungstenite::Error::Utf8(_) => Some(Reason::InvalidUtf8),
        _ => None,
    }
}

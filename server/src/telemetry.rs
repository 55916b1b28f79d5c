//! Telemetry ingest: the `/telemetry` WebSocket and the `/telemetry/beacon` POST route.
//! Both hand each message to [`ingest`], which applies the per-IP rate, then parses and
//! validates it with the protocol crate, then records it, so the two accept exactly the
//! same input. Every refusal is counted under its [`Reason`].

pub mod beacon;
pub mod ws;

use std::net::IpAddr;
use std::time::Duration;

pub use candlefish_protocol::Reason;

use crate::AppState;
use crate::ratelimit::ip_key;

/// What became of an accepted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded.
    Accepted,
    /// Its session's `seq` was already counted: acknowledged, not recorded again.
    Duplicate,
}

/// A refused message: why, and for a rate limit, how long until a retry may succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// Why.
    pub reason: Reason,
    /// When a retry may succeed (rate limits only).
    pub retry_after: Option<Duration>,
}

impl From<Reason> for Refusal {
    fn from(reason: Reason) -> Self {
        Self {
            reason,
            retry_after: None,
        }
    }
}

/// Ingests one message from `ip`: per-IP message rate, then parse, validate, record.
/// A refusal is counted here.
pub fn ingest(state: &AppState, ip: IpAddr, bytes: &[u8]) -> Result<Outcome, Refusal> {
    if let Err(wait) = state.msg_limiter.check(&ip_key(ip)) {
        state.metrics.reject(Reason::RateLimited);
        return Err(Refusal {
            reason: Reason::RateLimited,
            retry_after: Some(wait),
        });
    }
    match candlefish_protocol::parse(bytes) {
        Ok(obs) => Ok(state.record(obs)),
        Err(reason) => {
            state.metrics.reject(reason);
            Err(reason.into())
        }
    }
}

/// Counts a refusal that happened before a message was parsed (size, binary,
/// per-connection rate, invalid UTF-8 on the socket, drained at close).
pub fn reject_unparsed(state: &AppState, reason: Reason) {
    state.metrics.reject(reason);
}

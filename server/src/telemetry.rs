//! Telemetry ingest: the `/telemetry` WebSocket and the `/telemetry/beacon` POST route.
//! Both hand each message to [`ingest`], which parses, validates, aggregates and counts
//! it, so the two accept exactly the same input.

pub mod beacon;
pub mod protocol;
pub mod validate;
pub mod ws;

use std::net::IpAddr;

use crate::AppState;
use crate::ratelimit::ip_key;

/// Why a message or connection was refused. Each has a metric label
/// (`candlefish_telemetry_rejections_total{reason=…}`) and a WebSocket close code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    /// Not JSON (syntax error, `NaN` literal, truncated input, invalid UTF-8).
    #[error("invalid json")]
    InvalidJson,
    /// JSON of the wrong shape: wrong types, missing or unknown fields, unknown enum values.
    #[error("schema violation")]
    Schema,
    /// A number overflowed to infinity.
    #[error("non-finite number")]
    NonFinite,
    /// A number outside its documented range.
    #[error("value out of range")]
    OutOfRange,
    /// Too many samples, buckets or errors in one message.
    #[error("too many samples")]
    TooManySamples,
    /// A string that breaks its pattern or length limit.
    #[error("bad string")]
    BadString,
    /// A message larger than the configured cap.
    #[error("message too big")]
    Oversize,
    /// A binary WebSocket frame.
    #[error("binary frames not accepted")]
    Binary,
    /// More messages than the per-connection or per-IP rate allows.
    #[error("rate limit exceeded")]
    RateLimited,
    /// An `Origin` not on the allow-list (or missing when required).
    #[error("origin not allowed")]
    Origin,
    /// Too many concurrent sockets from one IP.
    #[error("too many sockets")]
    TooManySockets,
    /// No message within the idle timeout.
    #[error("idle timeout")]
    IdleTimeout,
    /// A beacon with a content type other than text/plain or application/json.
    #[error("unsupported content type")]
    ContentType,
    /// A beacon body not received within the beacon deadline or the body-read timeout.
    #[error("body not received in time")]
    Timeout,
}

impl Reason {
    /// Every reason, in metric order.
    pub const ALL: [Self; 14] = [
        Self::InvalidJson,
        Self::Schema,
        Self::NonFinite,
        Self::OutOfRange,
        Self::TooManySamples,
        Self::BadString,
        Self::Oversize,
        Self::Binary,
        Self::RateLimited,
        Self::Origin,
        Self::TooManySockets,
        Self::IdleTimeout,
        Self::ContentType,
        Self::Timeout,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "invalid_json",
            Self::Schema => "schema",
            Self::NonFinite => "non_finite",
            Self::OutOfRange => "out_of_range",
            Self::TooManySamples => "too_many_samples",
            Self::BadString => "bad_string",
            Self::Oversize => "oversize",
            Self::Binary => "binary",
            Self::RateLimited => "rate_limited",
            Self::Origin => "origin",
            Self::TooManySockets => "too_many_sockets",
            Self::IdleTimeout => "idle_timeout",
            Self::ContentType => "content_type",
            Self::Timeout => "timeout",
        }
    }

    /// The WebSocket close code: 1007 for bad content, 1009 too big, 1003 binary,
    /// 1008 policy (rate, origin, sockets), 1000 for an idle close.
    pub fn close_code(self) -> u16 {
        match self {
            Self::Oversize => 1009,
            Self::Binary => 1003,
            Self::RateLimited
            | Self::Origin
            | Self::TooManySockets
            | Self::ContentType
            | Self::Timeout => 1008,
            Self::IdleTimeout => 1000,
            _ => 1007,
        }
    }

    /// Index into [`Reason::ALL`].
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// Ingests one message from `ip`: per-IP message rate, then parse, validate, aggregate
/// and count. Returns the number of frame samples accepted.
pub fn ingest(state: &AppState, ip: IpAddr, bytes: &[u8]) -> Result<u64, Reason> {
    let result = state
        .msg_limiter
        .check(&ip_key(ip))
        .map_err(|_| Reason::RateLimited)
        .and_then(|()| validate::parse(bytes));
    match result {
        Ok(obs) => {
            let samples = obs.samples;
            state.record(obs);
            Ok(samples)
        }
        Err(reason) => {
            state.metrics.reject(reason, true);
            Err(reason)
        }
    }
}

/// Counts a refusal that happened before a message was parsed (size, binary,
/// per-connection rate): it still counts as a rejected message.
pub fn reject_unparsed(state: &AppState, reason: Reason) {
    state.metrics.reject(reason, true);
}

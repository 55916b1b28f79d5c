//! Why a message or connection is refused. Each reason is a metric label
//! (`candlefish_telemetry_rejections_total{reason}`), the reason string of a WebSocket
//! close or `refused` notice, and the `error` of a beacon's answer.

macro_rules! reasons {
    ($( $(#[$m:meta])* $variant:ident = $label:literal, )+) => {
        /// Why a message or connection was refused.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
        pub enum Reason {
            $( $(#[$m])* #[error($label)] $variant, )+
        }

        impl Reason {
            /// Every reason, in metric order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The metric label and wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $label,)+
                }
            }

            /// The reason with wire name `s`.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($label => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// Position in [`Self::ALL`].
            pub fn index(self) -> usize {
                self as usize
            }
        }
    };
}

reasons! {
    /// Not JSON (syntax error, `NaN`/`Infinity` literals, truncated input).
    InvalidJson = "invalid_json",
    /// Not UTF-8 (a WebSocket text frame or a beacon body).
    InvalidUtf8 = "invalid_utf8",
    /// JSON of the wrong shape: wrong types, missing or unknown fields, unknown enum
    /// values, `v` other than 1, both or mismatched histogram arrays, a histogram
    /// without `span_ms`.
    Schema = "schema",
    /// A number overflowed to infinity (e.g. `1e39` for an f32 field).
    NonFinite = "non_finite",
    /// A number outside its documented range (frames shorter than `MIN_FRAME_MS`
    /// included).
    OutOfRange = "out_of_range",
    /// Too many samples, buckets, frames, errors or governor steps in one message.
    TooManySamples = "too_many_samples",
    /// A string that breaks its pattern or length limit.
    BadString = "bad_string",
    /// A `frames` message with a release reserved for the server (`legacy`, `other`).
    ReservedRelease = "reserved_release",
    /// A batch whose frames do not fit its time span, or faster than `MAX_FPS`.
    Inconsistent = "inconsistent",
    /// A message larger than the configured cap.
    Oversize = "oversize",
    /// A binary WebSocket frame.
    Binary = "binary",
    /// More messages than the per-connection or per-IP rate allows. Retry later.
    RateLimited = "rate_limited",
    /// A beacon whose client went away before its body was complete.
    Aborted = "aborted",
    /// A message that arrived after the server had closed the socket, read and
    /// discarded while the close completed.
    DrainedAtClose = "drained_at_close",
    /// A beacon with a content type other than text/plain or application/json.
    ContentType = "content_type",
    /// A beacon body not received within the deadline or the body-read timeout.
    Timeout = "timeout",
    /// An `Origin` not allowed (not a message).
    Origin = "origin",
    /// Past a socket cap at the handshake (not a message).
    TooManySockets = "too_many_sockets",
    /// No data message within the idle timeout (not a message).
    IdleTimeout = "idle_timeout",
}

impl Reason {
    /// The WebSocket close code when the server closes for this reason: 1007 for bad
    /// content, 1009 too big, 1003 binary, 1008 policy, 1000 idle.
    pub fn close_code(self) -> u16 {
        match self {
            Self::Oversize => 1009,
            Self::Binary => 1003,
            Self::RateLimited
            | Self::Origin
            | Self::TooManySockets
            | Self::ContentType
            | Self::Timeout
            | Self::Aborted
            | Self::DrainedAtClose => 1008,
            Self::IdleTimeout => 1000,
            Self::InvalidJson
            | Self::InvalidUtf8
            | Self::Schema
            | Self::NonFinite
            | Self::OutOfRange
            | Self::TooManySamples
            | Self::BadString
            | Self::ReservedRelease
            | Self::Inconsistent => 1007,
        }
    }

    /// The beacon's HTTP status for this reason.
    pub fn http_status(self) -> u16 {
        match self {
            Self::Oversize => 413,
            Self::ContentType => 415,
            Self::Origin => 403,
            Self::Timeout => 408,
            Self::RateLimited => 429,
            Self::TooManySockets => 503,
            _ => 400,
        }
    }

    /// Whether the refused message itself counts as a message (in
    /// `candlefish_telemetry_messages_total{result="rejected"}`), as opposed to a
    /// connection or handshake.
    pub fn is_message(self) -> bool {
        !matches!(
            self,
            Self::Origin | Self::TooManySockets | Self::IdleTimeout
        )
    }

    /// Whether the same message may succeed if sent again later: a client keeps it
    /// queued. Every other refusal is final for that message.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::RateLimited | Self::Timeout | Self::Aborted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unique_and_parse() {
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            assert_eq!(Reason::parse(r.as_str()), Some(*r));
            assert_eq!(r.to_string(), r.as_str());
        }
        assert_eq!(Reason::RateLimited.close_code(), 1008);
        assert!(Reason::RateLimited.is_retryable());
        assert!(!Reason::Schema.is_retryable());
    }
}

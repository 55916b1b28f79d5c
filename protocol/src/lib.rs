//! The Candlefish telemetry protocol, one definition for every side: the server, the
//! native feed and the browser runtime.
//!
//! A client measures each frame (interval, CPU time per [`Phase`], GPU time, draw
//! calls, triangles, instances drawn) and feeds it to a [`FrameBatch`]; about once a
//! second [`FrameBatch::take`] turns what it holds into a [`Frames`] message, whose
//! [`Frames::to_json`] is sent over the `/telemetry` WebSocket (or a beacon). The
//! server answers each message with a [`Notice`] (`ack` or `refused`, after a
//! `welcome` that states the connection's rate limit), parses the text with [`parse`]
//! (feature `serde`), and [`validate`]s it into an [`Observation`] against the
//! [`limits`]. Every refusal has a [`Reason`].
//!
//! Without the `serde` feature the crate has no dependency beyond `thiserror`, so the
//! wasm runtime can build and serialise messages without carrying serde.
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "tests"))]

pub mod batch;
pub mod json;
pub mod labels;
pub mod limits;
pub mod message;
pub mod reason;
pub mod validate;

pub use batch::{FrameBatch, FrameSample, IntervalClock, Recorded, SessionInfo};
pub use labels::{ErrorKind, Mode, PHASES, Phase, Preset, RenderThread, StepReason};
pub use message::{
    ClientError, FrameHist, Frames, GovernorStep, LoadTimes, Message, Notice, Performance,
    PerformanceData, PhaseMs, Vitals,
};
pub use reason::Reason;
pub use validate::{Observation, validate, validate_frames, validate_performance};

/// Parses and validates one message as the server receives it: UTF-8, then JSON of a
/// known shape, then the limits.
#[cfg(feature = "serde")]
pub fn parse(bytes: &[u8]) -> Result<Observation, Reason> {
    let text = std::str::from_utf8(bytes).map_err(|_| Reason::InvalidUtf8)?;
    let message: Message = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Reason::Schema,
        _ => Reason::InvalidJson,
    })?;
    validate(&message)
}

//! The messages clients send (`frames`, and the legacy `performance`) and the notices
//! the server sends back on the WebSocket. `server/PROTOCOL.md` documents every field;
//! [`crate::validate`] enforces the limits, [`crate::json`] writes them.
//!
//! With the `serde` feature the client messages implement `Deserialize`, refusing
//! unknown fields and enum values, so a typo in a client shows up as a rejection
//! instead of silently missing data.

use crate::labels::{ErrorKind, Mode, PHASES, Phase, Preset, RenderThread, StepReason};

/// Any message a client may send.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(tag = "type", rename_all = "lowercase")
)]
pub enum Message {
    /// A batch of frame timings from the Candlefish runtime (usually one a second).
    Frames(Box<Frames>),
    /// The simple message existing clients send.
    Performance(Performance),
}

/// A `frames` message: one batch of frames of one session, plus what the session
/// learned since the previous batch.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct Frames {
    /// Protocol version; only 1 exists.
    #[cfg_attr(feature = "serde", serde(default = "one"))]
    pub v: u32,
    /// Release or build id, `[A-Za-z0-9][A-Za-z0-9._+-]{0,63}`, not `legacy`/`other`.
    pub release: String,
    /// Random per-page-load session id, `[A-Za-z0-9_-]{8,64}`; never used as a label.
    pub session: String,
    /// Batch number within the session, from 1; lets the server drop a batch that a
    /// client resent after losing its acknowledgement.
    #[cfg_attr(feature = "serde", serde(default))]
    pub seq: Option<u64>,
    /// Render mode.
    pub mode: Mode,
    /// Quality preset.
    pub preset: Preset,
    /// Adapter name as the graphics API reports it.
    #[cfg_attr(feature = "serde", serde(default))]
    pub adapter: String,
    /// Where the runtime draws: a Worker or the main thread.
    #[cfg_attr(feature = "serde", serde(default))]
    pub thread: Option<RenderThread>,
    /// Wall time the batch's frames cover, milliseconds (pauses left out). Required with
    /// `frame_hist`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub span_ms: Option<f32>,
    /// Frame-to-frame times in milliseconds.
    #[cfg_attr(feature = "serde", serde(default))]
    pub frame_ms: Option<Vec<f32>>,
    /// A client-side histogram instead of `frame_ms`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub frame_hist: Option<FrameHist>,
    /// Mean CPU milliseconds per frame for each phase, over this batch's frames.
    #[cfg_attr(feature = "serde", serde(default))]
    pub cpu_ms: Option<PhaseMs>,
    /// Mean GPU milliseconds per frame, over the frames that measured it.
    #[cfg_attr(feature = "serde", serde(default))]
    pub gpu_ms: Option<f32>,
    /// Frames dropped or skipped in the batch interval.
    #[cfg_attr(feature = "serde", serde(default))]
    pub dropped_frames: u32,
    /// Memory in use, bytes (JS heap + wasm memory on the web; process RSS natively).
    #[cfg_attr(feature = "serde", serde(default))]
    pub memory_bytes: Option<u64>,
    /// Mean draw calls per frame.
    #[cfg_attr(feature = "serde", serde(default))]
    pub draw_calls: Option<f32>,
    /// Mean triangles drawn per frame.
    #[cfg_attr(feature = "serde", serde(default))]
    pub triangles: Option<f64>,
    /// Mean instances drawn per frame.
    #[cfg_attr(feature = "serde", serde(default))]
    pub drawn: Option<f32>,
    /// Load timings; sent once per session.
    #[cfg_attr(feature = "serde", serde(default))]
    pub load_ms: Option<LoadTimes>,
    /// Web vitals; sent when they change.
    #[cfg_attr(feature = "serde", serde(default))]
    pub vitals: Option<Vitals>,
    /// Errors seen since the previous batch.
    #[cfg_attr(feature = "serde", serde(default))]
    pub errors: Vec<ClientError>,
    /// Batches the client had to drop (queue full, refused for good) since the
    /// previous batch it sent.
    #[cfg_attr(feature = "serde", serde(default))]
    pub dropped_batches: u32,
    /// Frame-governor steps since the previous batch.
    #[cfg_attr(feature = "serde", serde(default))]
    pub governor: Vec<GovernorStep>,
}

#[cfg(feature = "serde")]
fn one() -> u32 {
    1
}

/// A client-side frame-time histogram: `counts[i]` frames took more than `le_ms[i-1]`
/// (or [`crate::limits::MIN_FRAME_MS`]) and at most `le_ms[i]` milliseconds.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct FrameHist {
    /// Bucket upper bounds in milliseconds, strictly ascending.
    pub le_ms: Vec<f32>,
    /// Frames per bucket; same length as `le_ms`.
    pub counts: Vec<u32>,
}

/// Mean CPU milliseconds per frame, per [`Phase`]; each optional.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct PhaseMs {
    /// Motion update.
    pub update: Option<f32>,
    /// Frustum culling.
    pub cull: Option<f32>,
    /// LOD selection.
    pub lod: Option<f32>,
    /// Bucketing and packing.
    pub bucket: Option<f32>,
    /// Buffer upload.
    pub upload: Option<f32>,
    /// Command encoding.
    pub encode: Option<f32>,
    /// Submit and present.
    pub submit: Option<f32>,
}

impl PhaseMs {
    /// The values in [`Phase::ALL`] order.
    pub fn to_array(&self) -> [Option<f32>; PHASES] {
        [
            self.update,
            self.cull,
            self.lod,
            self.bucket,
            self.upload,
            self.encode,
            self.submit,
        ]
    }

    /// From values in [`Phase::ALL`] order.
    pub fn from_array(v: [Option<f32>; PHASES]) -> Self {
        let [update, cull, lod, bucket, upload, encode, submit] = v;
        Self {
            update,
            cull,
            lod,
            bucket,
            upload,
            encode,
            submit,
        }
    }

    /// The value of one phase.
    pub fn get(&self, phase: Phase) -> Option<f32> {
        self.to_array()[phase.index()]
    }
}

/// Load timings in milliseconds since navigation start (process start natively).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct LoadTimes {
    /// Runtime (wasm/JS) downloaded.
    pub fetch: Option<f32>,
    /// Wasm compiled and instantiated.
    pub compile: Option<f32>,
    /// Adapter, device and pipelines ready.
    pub init: Option<f32>,
    /// First frame presented.
    pub first_frame: Option<f32>,
}

/// Core Web Vitals.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct Vitals {
    /// Largest Contentful Paint, milliseconds.
    pub lcp_ms: Option<f32>,
    /// Interaction to Next Paint, milliseconds.
    pub inp_ms: Option<f32>,
    /// Cumulative Layout Shift, unitless.
    pub cls: Option<f32>,
    /// Time To First Byte, milliseconds.
    pub ttfb_ms: Option<f32>,
}

/// One client error.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct ClientError {
    /// Kind.
    pub kind: ErrorKind,
    /// Message (logged by nobody, counted by kind; never a label).
    #[cfg_attr(feature = "serde", serde(default))]
    pub message: String,
}

/// One frame-governor step: from one rung to the next, why, and the p90 frame time
/// that decided it.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct GovernorStep {
    /// The rung left, e.g. `scale_1`, `msaa_4`, `quality`, `canvas`, `poster`.
    pub from: String,
    /// The rung entered.
    pub to: String,
    /// Why.
    pub reason: StepReason,
    /// The p90 frame time that triggered the step, milliseconds.
    #[cfg_attr(feature = "serde", serde(default))]
    pub p90_ms: Option<f32>,
}

/// The simple message existing clients send.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct Performance {
    /// Client clock, milliseconds since the Unix epoch.
    pub timestamp: f64,
    /// The measurements.
    pub data: PerformanceData,
}

/// Measurements of the simple message.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize),
    serde(deny_unknown_fields, rename_all = "camelCase")
)]
pub struct PerformanceData {
    /// Frames per second.
    pub fps: f32,
    /// JS heap in use, **MiB** (what existing clients send: `usedJSHeapSize / 2^20`).
    pub memory_usage: f64,
    /// Page load time, milliseconds.
    pub load_time: f32,
    /// One frame's render time, milliseconds; 0 = none.
    pub render_time: f32,
    /// Round-trip network latency, milliseconds (validated, not aggregated).
    pub network_latency: f32,
}

/// What the server sends on the WebSocket (text messages).
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Right after the handshake: this connection's message rate limit.
    Welcome {
        /// Protocol version.
        v: u32,
        /// Messages per second allowed on this connection.
        msg_rate: f64,
        /// Burst allowed on this connection.
        msg_burst: u32,
    },
    /// Message number `n` (1-based, counted per connection) was accepted (or was a
    /// duplicate of one already accepted).
    Ack {
        /// The message's number on this connection.
        n: u64,
    },
    /// Message number `n` was refused.
    Refused {
        /// The message's number on this connection.
        n: u64,
        /// Why.
        reason: crate::Reason,
        /// For a retryable reason: when to send it again, milliseconds.
        retry_after_ms: Option<u64>,
    },
}

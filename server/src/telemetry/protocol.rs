//! Wire types of the telemetry protocol (JSON text messages). `server/PROTOCOL.md`
//! documents every field with units and ranges; [`super::validate`] enforces them.
//!
//! Unknown fields and unknown enum values are refused (`deny_unknown_fields`), so a
//! typo in a client shows up as a rejection instead of silently missing data.

use serde::Deserialize;

/// Any message a client may send.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Message {
    /// A batch of frame timings from the Candlefish runtime (usually one a second).
    Frames(Box<FramesBatch>),
    /// The simple message existing clients send.
    Performance(Performance),
}

/// Render mode the client actually runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// WebGPU in a browser.
    Webgpu,
    /// WebGL2 in a browser.
    Webgl,
    /// Canvas-2D fallback in a browser.
    Canvas,
    /// Native or headless build (wgpu on Vulkan/Metal/DX12/GL).
    Native,
}

/// Quality preset the client runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Full quality.
    Quality,
    /// Reduced quality.
    Performance,
    /// The Canvas-2D fallback's reduced scene.
    Canvas,
}

/// A batch of frame timings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FramesBatch {
    /// Protocol version; only 1 exists.
    #[serde(default = "one")]
    pub v: u32,
    /// Release or build id, `[A-Za-z0-9][A-Za-z0-9._+-]{0,63}`.
    pub release: String,
    /// Random per-page-load session id, `[A-Za-z0-9_-]{8,64}`; never used as a label.
    pub session: String,
    /// Render mode.
    pub mode: Mode,
    /// Quality preset.
    pub preset: Preset,
    /// Adapter name as the graphics API reports it, at most 128 characters.
    #[serde(default)]
    pub adapter: String,
    /// Frame-time samples in milliseconds, each in (0, 60000]; at most 1024.
    #[serde(default)]
    pub frame_ms: Option<Vec<f32>>,
    /// A client-side histogram instead of samples.
    #[serde(default)]
    pub frame_hist: Option<FrameHist>,
    /// Mean CPU milliseconds per frame for each phase.
    #[serde(default)]
    pub cpu_ms: Option<CpuPhases>,
    /// Mean GPU milliseconds per frame, when timestamp queries are available.
    #[serde(default)]
    pub gpu_ms: Option<f32>,
    /// Frames dropped or skipped in the batch interval.
    #[serde(default)]
    pub dropped_frames: u32,
    /// Memory in use in bytes (JS heap + wasm memory on the web; process RSS natively).
    #[serde(default)]
    pub memory_bytes: Option<u64>,
    /// Mean draw (render) calls per frame.
    #[serde(default)]
    pub draw_calls: Option<u32>,
    /// Load timings, sent once per session.
    #[serde(default)]
    pub load_ms: Option<LoadTimes>,
    /// Web vitals, sent when the browser reports them.
    #[serde(default)]
    pub vitals: Option<Vitals>,
    /// Errors seen since the previous batch.
    #[serde(default)]
    pub errors: Vec<ClientError>,
}

fn one() -> u32 {
    1
}

/// A client-side frame-time histogram: `counts[i]` frames took at most `le_ms[i]`
/// milliseconds (and more than `le_ms[i-1]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameHist {
    /// Bucket upper bounds in milliseconds, strictly ascending, each in (0, 60000].
    pub le_ms: Vec<f32>,
    /// Frames per bucket; same length as `le_ms`.
    pub counts: Vec<u32>,
}

/// Mean CPU milliseconds per frame, per frame phase.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CpuPhases {
    /// Scene update.
    pub update: Option<f32>,
    /// Frustum culling.
    pub cull: Option<f32>,
    /// LOD selection.
    pub lod: Option<f32>,
    /// Instance/uniform upload.
    pub upload: Option<f32>,
    /// Command encoding.
    pub encode: Option<f32>,
    /// Queue submit and present.
    pub submit: Option<f32>,
}

/// Load timings in milliseconds since navigation start (or process start natively).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// Kinds of client error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A Rust panic.
    Panic,
    /// The GPU device was lost.
    DeviceLost,
    /// A backend could not be created and the next one was tried.
    BackendFallback,
    /// Shader or pipeline creation failed.
    Shader,
    /// An asset failed to load.
    Asset,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// All kinds, in metric-label order.
    pub const ALL: [Self; 6] = [
        Self::Panic,
        Self::DeviceLost,
        Self::BackendFallback,
        Self::Shader,
        Self::Asset,
        Self::Other,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Panic => "panic",
            Self::DeviceLost => "device_lost",
            Self::BackendFallback => "backend_fallback",
            Self::Shader => "shader",
            Self::Asset => "asset",
            Self::Other => "other",
        }
    }
}

/// One client error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientError {
    /// Kind.
    pub kind: ErrorKind,
    /// Message, at most 512 characters (logged, never a label).
    #[serde(default)]
    pub message: String,
}

/// The simple message existing clients send.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Performance {
    /// Client clock, milliseconds since the Unix epoch.
    pub timestamp: f64,
    /// The measurements.
    pub data: PerformanceData,
}

/// Measurements of the simple message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PerformanceData {
    /// Frames per second, [0, 1000].
    pub fps: f32,
    /// Memory in use, bytes, [0, 2^40].
    pub memory_usage: f64,
    /// Page load time, milliseconds, [0, 600000].
    pub load_time: f32,
    /// Mean frame render time, milliseconds, [0, 60000].
    pub render_time: f32,
    /// Round-trip network latency, milliseconds, [0, 600000].
    pub network_latency: f32,
}

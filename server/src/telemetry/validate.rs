//! Parsing and validation of telemetry messages into [`Observation`]s, shared by the
//! WebSocket and the beacon route so both accept exactly the same input.

use super::Reason;
use super::protocol::{ErrorKind, FramesBatch, Message, Mode, Performance, Preset};

/// Most frame-time samples in one batch (a 1 s batch at 240 Hz is 240).
pub const MAX_SAMPLES: usize = 1024;
/// Most buckets in a client histogram.
pub const MAX_HIST_BUCKETS: usize = 64;
/// Most frames a client histogram may count.
pub const MAX_HIST_FRAMES: u64 = 100_000;
/// Longest frame time accepted, milliseconds.
pub const MAX_FRAME_MS: f32 = 60_000.0;
/// Longest load timing or web vital, milliseconds.
pub const MAX_LOAD_MS: f32 = 600_000.0;
/// Largest memory figure, bytes (1 TiB).
pub const MAX_MEMORY_BYTES: u64 = 1 << 40;
/// Most draw calls per frame.
pub const MAX_DRAW_CALLS: u32 = 1_000_000;
/// Most dropped frames per batch.
pub const MAX_DROPPED: u32 = 100_000;
/// Most errors per batch.
pub const MAX_ERRORS: usize = 16;
/// Longest adapter name, characters.
pub const MAX_ADAPTER_CHARS: usize = 128;
/// Longest error message, characters.
pub const MAX_ERROR_CHARS: usize = 512;

/// A validated message, ready for aggregation. Labels are still raw: the aggregator
/// caps the release cardinality.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Release label (validated pattern, not yet capped); `legacy` for the simple message.
    pub release: String,
    /// Mode label: `webgpu`, `webgl`, `canvas`, `native`, or `unknown` (simple message).
    pub mode: &'static str,
    /// Preset label: `quality`, `performance` or `unknown`.
    pub preset: &'static str,
    /// Frame times in milliseconds with their counts.
    pub frames: Vec<(f32, u32)>,
    /// Number of frames described by `frames`.
    pub samples: u64,
    /// Frames per second over the batch (or as reported by the simple message).
    pub fps: Option<f64>,
    /// Mean GPU milliseconds per frame.
    pub gpu_ms: Option<f32>,
    /// Mean CPU milliseconds per frame: update, cull, lod, upload, encode, submit.
    pub cpu_ms: [Option<f32>; 6],
    /// Dropped frames.
    pub dropped_frames: u32,
    /// Memory in use, bytes.
    pub memory_bytes: Option<u64>,
    /// Mean draw calls per frame.
    pub draw_calls: Option<u32>,
    /// Time to first frame (frames) or page load time (simple message), milliseconds.
    pub load_ms: Option<f32>,
    /// LCP, INP, TTFB in milliseconds and CLS (unitless).
    pub vitals: [Option<f32>; 4],
    /// Errors by kind.
    pub errors: Vec<ErrorKind>,
}

/// CPU phase names in [`Observation::cpu_ms`] order.
pub const CPU_PHASES: [&str; 6] = ["update", "cull", "lod", "upload", "encode", "submit"];

/// Parses and validates one message.
pub fn parse(bytes: &[u8]) -> Result<Observation, Reason> {
    let message: Message = serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Reason::Schema,
        _ => Reason::InvalidJson,
    })?;
    match message {
        Message::Frames(batch) => validate_frames(*batch),
        Message::Performance(p) => validate_performance(&p),
    }
}

fn check(value: f32, lo: f32, hi: f32) -> Result<f32, Reason> {
    if !value.is_finite() {
        Err(Reason::NonFinite)
    } else if value < lo || value > hi {
        Err(Reason::OutOfRange)
    } else {
        Ok(value)
    }
}

fn check_opt(value: Option<f32>, hi: f32) -> Result<Option<f32>, Reason> {
    value.map(|v| check(v, 0.0, hi)).transpose()
}

fn frame_time(value: f32) -> Result<f32, Reason> {
    let v = check(value, 0.0, MAX_FRAME_MS)?;
    if v == 0.0 {
        Err(Reason::OutOfRange)
    } else {
        Ok(v)
    }
}

/// `[A-Za-z0-9][A-Za-z0-9._+-]{0,63}`
pub fn valid_release(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=64).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._+-".contains(c))
}

/// `[A-Za-z0-9_-]{8,64}`
pub fn valid_session(s: &str) -> bool {
    (8..=64).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

fn valid_text(s: &str, max_chars: usize) -> bool {
    s.chars().count() <= max_chars && !s.chars().any(char::is_control)
}

fn validate_frames(b: FramesBatch) -> Result<Observation, Reason> {
    if b.v != 1 {
        return Err(Reason::Schema);
    }
    if !valid_release(&b.release)
        || !valid_session(&b.session)
        || !valid_text(&b.adapter, MAX_ADAPTER_CHARS)
    {
        return Err(Reason::BadString);
    }
    let frames: Vec<(f32, u32)> = match (b.frame_ms, b.frame_hist) {
        (Some(_), Some(_)) => return Err(Reason::Schema),
        (Some(samples), None) => {
            if samples.len() > MAX_SAMPLES {
                return Err(Reason::TooManySamples);
            }
            samples
                .into_iter()
                .map(|v| frame_time(v).map(|v| (v, 1)))
                .collect::<Result<_, _>>()?
        }
        (None, Some(h)) => {
            if h.le_ms.len() != h.counts.len() {
                return Err(Reason::Schema);
            }
            if h.le_ms.len() > MAX_HIST_BUCKETS {
                return Err(Reason::TooManySamples);
            }
            let mut prev = 0.0;
            for &le in &h.le_ms {
                if frame_time(le)? <= prev {
                    return Err(Reason::OutOfRange);
                }
                prev = le;
            }
            if h.counts.iter().map(|&c| u64::from(c)).sum::<u64>() > MAX_HIST_FRAMES {
                return Err(Reason::TooManySamples);
            }
            h.le_ms
                .into_iter()
                .zip(h.counts)
                .filter(|&(_, c)| c > 0)
                .collect()
        }
        (None, None) => Vec::new(),
    };
    let samples: u64 = frames.iter().map(|&(_, c)| u64::from(c)).sum();
    let total_ms: f64 = frames
        .iter()
        .map(|&(v, c)| f64::from(v) * f64::from(c))
        .sum();
    let fps = (samples > 0 && total_ms > 0.0).then(|| samples as f64 * 1000.0 / total_ms);

    let cpu = b.cpu_ms.unwrap_or_default();
    let cpu_ms = [
        cpu.update, cpu.cull, cpu.lod, cpu.upload, cpu.encode, cpu.submit,
    ];
    let mut cpu_checked = [None; 6];
    for (out, v) in cpu_checked.iter_mut().zip(cpu_ms) {
        *out = check_opt(v, MAX_FRAME_MS)?;
    }
    let gpu_ms = check_opt(b.gpu_ms, MAX_FRAME_MS)?;
    if b.dropped_frames > MAX_DROPPED
        || b.memory_bytes.is_some_and(|m| m > MAX_MEMORY_BYTES)
        || b.draw_calls.is_some_and(|d| d > MAX_DRAW_CALLS)
    {
        return Err(Reason::OutOfRange);
    }
    let load = b.load_ms.unwrap_or_default();
    for v in [load.fetch, load.compile, load.init, load.first_frame] {
        check_opt(v, MAX_LOAD_MS)?;
    }
    let vit = b.vitals.unwrap_or_default();
    let vitals = [
        check_opt(vit.lcp_ms, MAX_LOAD_MS)?,
        check_opt(vit.inp_ms, MAX_LOAD_MS)?,
        check_opt(vit.ttfb_ms, MAX_LOAD_MS)?,
        check_opt(vit.cls, 100.0)?,
    ];
    if b.errors.len() > MAX_ERRORS {
        return Err(Reason::TooManySamples);
    }
    if b.errors
        .iter()
        .any(|e| !valid_text(&e.message, MAX_ERROR_CHARS))
    {
        return Err(Reason::BadString);
    }
    Ok(Observation {
        release: b.release,
        mode: match b.mode {
            Mode::Webgpu => "webgpu",
            Mode::Webgl => "webgl",
            Mode::Canvas => "canvas",
            Mode::Native => "native",
        },
        preset: match b.preset {
            Preset::Quality => "quality",
            Preset::Performance => "performance",
            Preset::Canvas => "canvas",
        },
        frames,
        samples,
        fps,
        gpu_ms,
        cpu_ms: cpu_checked,
        dropped_frames: b.dropped_frames,
        memory_bytes: b.memory_bytes,
        draw_calls: b.draw_calls,
        load_ms: load.first_frame,
        vitals,
        errors: b.errors.iter().map(|e| e.kind).collect(),
    })
}

fn validate_performance(p: &Performance) -> Result<Observation, Reason> {
    if !p.timestamp.is_finite() || !p.data.memory_usage.is_finite() {
        return Err(Reason::NonFinite);
    }
    if !(0.0..=1e13).contains(&p.timestamp)
        || !(0.0..=MAX_MEMORY_BYTES as f64).contains(&p.data.memory_usage)
    {
        return Err(Reason::OutOfRange);
    }
    let fps = check(p.data.fps, 0.0, 1000.0)?;
    let load = check(p.data.load_time, 0.0, MAX_LOAD_MS)?;
    let render = check(p.data.render_time, 0.0, MAX_FRAME_MS)?;
    check(p.data.network_latency, 0.0, MAX_LOAD_MS)?;
    let frames = if render > 0.0 {
        vec![(render, 1)]
    } else {
        Vec::new()
    };
    Ok(Observation {
        release: "legacy".to_owned(),
        mode: "unknown",
        preset: "unknown",
        samples: frames.len() as u64,
        frames,
        fps: Some(f64::from(fps)),
        gpu_ms: None,
        cpu_ms: [None; 6],
        dropped_frames: 0,
        // Range-checked above: a non-negative integer-valued figure below 2^40 bytes.
        memory_bytes: Some(p.data.memory_usage as u64),
        draw_calls: None,
        load_ms: Some(load),
        vitals: [None; 4],
        errors: Vec::new(),
    })
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;

//! The validator: checks a message against [`crate::limits`] and turns it into an
//! [`Observation`], ready for aggregation. The server runs it on every message; clients
//! may run it before sending (the batch builder's output always passes).

use crate::Reason;
use crate::labels::{ErrorKind, Mode, PHASES, Preset, RenderThread, StepReason};
use crate::limits::*;
use crate::message::{Frames, LoadTimes, Message, Performance, Vitals};

/// A validated message. Labels are still raw: the server decides which release label
/// the observation is counted under.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Release id; `legacy` for the `performance` message.
    pub release: String,
    /// Session id; `None` for the `performance` message.
    pub session: Option<String>,
    /// Batch number within the session.
    pub seq: Option<u64>,
    /// Render mode; `None` (label `unknown`) for the `performance` message.
    pub mode: Option<Mode>,
    /// Preset; `None` (label `unknown`) for the `performance` message.
    pub preset: Option<Preset>,
    /// Where the runtime draws, when the client says.
    pub thread: Option<RenderThread>,
    /// Frame times in milliseconds with their counts (a histogram bucket is its upper
    /// bound).
    pub frames: Vec<(f32, u32)>,
    /// Number of frames described by `frames`.
    pub samples: u64,
    /// Time those frames took, milliseconds: the sum of `frame_ms`, or a histogram's
    /// `span_ms`.
    pub frame_time_ms: f64,
    /// The frame rate a `performance` message reports; `None` for `frames` (its rate
    /// is `samples` ÷ `frame_time_ms`).
    pub reported_fps: Option<f32>,
    /// Mean CPU milliseconds per frame per phase.
    pub cpu_ms: [Option<f32>; PHASES],
    /// Mean GPU milliseconds per frame.
    pub gpu_ms: Option<f32>,
    /// Dropped frames.
    pub dropped_frames: u32,
    /// Memory in use, bytes.
    pub memory_bytes: Option<u64>,
    /// Mean draw calls per frame.
    pub draw_calls: Option<f32>,
    /// Mean triangles per frame.
    pub triangles: Option<f64>,
    /// Mean instances drawn per frame.
    pub drawn: Option<f32>,
    /// Load timings (for `performance`: `first_frame` is the page load time).
    pub load: LoadTimes,
    /// Web vitals.
    pub vitals: Vitals,
    /// Errors by kind.
    pub errors: Vec<ErrorKind>,
    /// Batches the client dropped.
    pub dropped_batches: u32,
    /// Governor steps: why, and the p90 that triggered each.
    pub governor: Vec<(StepReason, Option<f32>)>,
}

impl Observation {
    /// Frames per second of the batch: frames ÷ the time they took.
    pub fn fps(&self) -> Option<f64> {
        (self.samples > 0 && self.frame_time_ms > 0.0)
            .then(|| self.samples as f64 * 1000.0 / self.frame_time_ms)
    }
}

/// Validates any message.
pub fn validate(message: &Message) -> Result<Observation, Reason> {
    match message {
        Message::Frames(frames) => validate_frames(frames),
        Message::Performance(p) => validate_performance(p),
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
    check(value, MIN_FRAME_MS, MAX_FRAME_MS)
}

/// `[A-Za-z0-9][A-Za-z0-9._+-]{0,63}`: the release pattern (reserved names aside).
pub fn valid_release(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=MAX_RELEASE_LEN).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._+-".contains(c))
}

/// Whether `s` is one of [`RESERVED_RELEASES`] (compared without case).
pub fn is_reserved_release(s: &str) -> bool {
    RESERVED_RELEASES.iter().any(|r| r.eq_ignore_ascii_case(s))
}

/// `[A-Za-z0-9_-]{8,64}`
pub fn valid_session(s: &str) -> bool {
    (MIN_SESSION_LEN..=MAX_SESSION_LEN).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// At most `max_chars` characters and no control characters.
pub fn valid_text(s: &str, max_chars: usize) -> bool {
    s.chars().count() <= max_chars && !s.chars().any(char::is_control)
}

/// `[A-Za-z0-9_.-]{1,32}`: a governor rung.
pub fn valid_rung(s: &str) -> bool {
    (1..=MAX_RUNG_CHARS).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(&c))
}

/// Whether frames with these bucket bounds can have taken `span_ms`: the least time
/// they can have taken (each at its bucket's lower bound) must not exceed the span,
/// and the most (each at its upper bound) must reach it, within the tolerances.
fn fits_span(frames: &[(f32, f32, u32)], span_ms: f64) -> bool {
    let least: f64 = frames
        .iter()
        .map(|&(lo, _, n)| f64::from(lo) * f64::from(n))
        .sum();
    let most: f64 = frames
        .iter()
        .map(|&(_, hi, n)| f64::from(hi) * f64::from(n))
        .sum();
    least <= span_ms * (1.0 + SPAN_TOLERANCE) + SPAN_SLACK_MS
        && most >= span_ms * (1.0 - SPAN_TOLERANCE) - SPAN_SLACK_MS
}

/// Validates a `frames` message.
pub fn validate_frames(b: &Frames) -> Result<Observation, Reason> {
    if b.v != PROTOCOL_VERSION {
        return Err(Reason::Schema);
    }
    if !valid_release(&b.release)
        || !valid_session(&b.session)
        || !valid_text(&b.adapter, MAX_ADAPTER_CHARS)
    {
        return Err(Reason::BadString);
    }
    if is_reserved_release(&b.release) {
        return Err(Reason::ReservedRelease);
    }
    if b.seq.is_some_and(|s| s == 0 || s > MAX_SEQ) {
        return Err(Reason::OutOfRange);
    }
    let span = b
        .span_ms
        .map(|s| check(s, 0.0, MAX_BATCH_SPAN_MS))
        .transpose()?
        .map(f64::from);
    let (frames, frame_time_ms) = match (&b.frame_ms, &b.frame_hist) {
        (Some(_), Some(_)) => return Err(Reason::Schema),
        (Some(samples), None) => {
            if samples.len() > MAX_SAMPLES {
                return Err(Reason::TooManySamples);
            }
            let frames = samples
                .iter()
                .map(|&v| frame_time(v).map(|v| (v, 1)))
                .collect::<Result<Vec<_>, _>>()?;
            let total: f64 = samples.iter().map(|&v| f64::from(v)).sum();
            let limit = f64::from(MAX_BATCH_SPAN_MS) * (1.0 + SPAN_TOLERANCE) + SPAN_SLACK_MS;
            let bounds: Vec<(f32, f32, u32)> = samples.iter().map(|&v| (v, v, 1)).collect();
            if total > limit || span.is_some_and(|s| !fits_span(&bounds, s)) {
                return Err(Reason::Inconsistent);
            }
            (frames, total)
        }
        (None, Some(h)) => {
            if h.le_ms.len() != h.counts.len() {
                return Err(Reason::Schema);
            }
            if h.le_ms.len() > MAX_HIST_BUCKETS {
                return Err(Reason::TooManySamples);
            }
            let Some(span) = span else {
                return Err(Reason::Schema);
            };
            let mut bounds = Vec::with_capacity(h.le_ms.len());
            let mut prev = MIN_FRAME_MS;
            for (i, (&le, &n)) in h.le_ms.iter().zip(&h.counts).enumerate() {
                let le = frame_time(le)?;
                if i > 0 && le <= prev {
                    return Err(Reason::OutOfRange);
                }
                bounds.push((if i == 0 { MIN_FRAME_MS } else { prev }, le, n));
                prev = le;
            }
            if h.counts.iter().map(|&c| u64::from(c)).sum::<u64>() > MAX_BATCH_FRAMES {
                return Err(Reason::TooManySamples);
            }
            if !fits_span(&bounds, span) {
                return Err(Reason::Inconsistent);
            }
            let frames = bounds
                .iter()
                .filter(|&&(_, _, n)| n > 0)
                .map(|&(_, le, n)| (le, n))
                .collect();
            (frames, span)
        }
        (None, None) => (Vec::new(), 0.0),
    };
    let samples: u64 = frames.iter().map(|&(_, c)| u64::from(c)).sum();
    if samples > 0 && samples as f64 * 1000.0 > MAX_FPS * frame_time_ms {
        return Err(Reason::Inconsistent);
    }

    let mut cpu_ms = [None; PHASES];
    if let Some(cpu) = &b.cpu_ms {
        for (out, v) in cpu_ms.iter_mut().zip(cpu.to_array()) {
            *out = check_opt(v, MAX_FRAME_MS)?;
        }
    }
    let gpu_ms = check_opt(b.gpu_ms, MAX_FRAME_MS)?;
    let draw_calls = check_opt(b.draw_calls, MAX_DRAW_CALLS)?;
    let drawn = check_opt(b.drawn, MAX_DRAWN)?;
    let triangles = match b.triangles {
        Some(t) if !t.is_finite() => return Err(Reason::NonFinite),
        Some(t) if !(0.0..=MAX_TRIANGLES).contains(&t) => return Err(Reason::OutOfRange),
        t => t,
    };
    if b.dropped_frames > MAX_DROPPED_FRAMES
        || b.dropped_batches > MAX_DROPPED_BATCHES
        || b.memory_bytes.is_some_and(|m| m > MAX_MEMORY_BYTES)
    {
        return Err(Reason::OutOfRange);
    }
    let load = b.load_ms.unwrap_or_default();
    let load = LoadTimes {
        fetch: check_opt(load.fetch, MAX_LOAD_MS)?,
        compile: check_opt(load.compile, MAX_LOAD_MS)?,
        init: check_opt(load.init, MAX_LOAD_MS)?,
        first_frame: check_opt(load.first_frame, MAX_LOAD_MS)?,
    };
    let v = b.vitals.unwrap_or_default();
    let vitals = Vitals {
        lcp_ms: check_opt(v.lcp_ms, MAX_LOAD_MS)?,
        inp_ms: check_opt(v.inp_ms, MAX_LOAD_MS)?,
        cls: check_opt(v.cls, MAX_CLS)?,
        ttfb_ms: check_opt(v.ttfb_ms, MAX_LOAD_MS)?,
    };
    if b.errors.len() > MAX_ERRORS || b.governor.len() > MAX_GOVERNOR_STEPS {
        return Err(Reason::TooManySamples);
    }
    if b.errors
        .iter()
        .any(|e| !valid_text(&e.message, MAX_ERROR_CHARS))
        || b.governor
            .iter()
            .any(|g| !valid_rung(&g.from) || !valid_rung(&g.to))
    {
        return Err(Reason::BadString);
    }
    let governor = b
        .governor
        .iter()
        .map(|g| Ok((g.reason, check_opt(g.p90_ms, MAX_FRAME_MS)?)))
        .collect::<Result<_, Reason>>()?;
    Ok(Observation {
        release: b.release.clone(),
        session: Some(b.session.clone()),
        seq: b.seq,
        mode: Some(b.mode),
        preset: Some(b.preset),
        thread: b.thread,
        frames,
        samples,
        frame_time_ms,
        reported_fps: None,
        cpu_ms,
        gpu_ms,
        dropped_frames: b.dropped_frames,
        memory_bytes: b.memory_bytes,
        draw_calls,
        triangles,
        drawn,
        load,
        vitals,
        errors: b.errors.iter().map(|e| e.kind).collect(),
        dropped_batches: b.dropped_batches,
        governor,
    })
}

/// Bytes in a MiB: `performance` reports memory in MiB.
const MIB: f64 = 1_048_576.0;

/// Validates a `performance` message (the format existing clients send).
pub fn validate_performance(p: &Performance) -> Result<Observation, Reason> {
    if !p.timestamp.is_finite() || !p.data.memory_usage.is_finite() {
        return Err(Reason::NonFinite);
    }
    if !(0.0..=LEGACY_MAX_TIMESTAMP_MS).contains(&p.timestamp)
        || !(0.0..=LEGACY_MAX_MEMORY_MIB).contains(&p.data.memory_usage)
    {
        return Err(Reason::OutOfRange);
    }
    let fps = check(p.data.fps, 0.0, MAX_FPS as f32)?;
    let load = check(p.data.load_time, 0.0, MAX_LOAD_MS)?;
    let render = check(p.data.render_time, 0.0, MAX_FRAME_MS)?;
    check(p.data.network_latency, 0.0, MAX_LOAD_MS)?;
    let frames = if render > 0.0 {
        vec![(frame_time(render)?, 1)]
    } else {
        Vec::new()
    };
    Ok(Observation {
        release: RESERVED_RELEASES[0].to_owned(),
        session: None,
        seq: None,
        mode: None,
        preset: None,
        thread: None,
        samples: frames.len() as u64,
        frame_time_ms: f64::from(render),
        frames,
        reported_fps: Some(fps),
        cpu_ms: [None; PHASES],
        gpu_ms: None,
        dropped_frames: 0,
        // Range-checked above: at most 2^20 MiB, so at most 2^40 bytes.
        memory_bytes: Some((p.data.memory_usage * MIB).round() as u64),
        draw_calls: None,
        triangles: None,
        drawn: None,
        load: LoadTimes {
            first_frame: Some(load),
            ..LoadTimes::default()
        },
        vitals: Vitals::default(),
        errors: Vec::new(),
        dropped_batches: 0,
        governor: Vec::new(),
    })
}

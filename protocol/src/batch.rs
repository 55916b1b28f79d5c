//! The batch builder clients use: [`FrameBatch`] takes one [`FrameSample`] per frame
//! and what the session learns along the way (memory, load timings, vitals, errors,
//! governor steps, dropped batches), and [`FrameBatch::take`] turns it into a
//! [`Frames`] message that always passes the validator:
//!
//! - `frame_ms` holds this batch's own intervals; past [`MAX_SAMPLES`] frames the batch
//!   is sent as a `frame_hist` over [`FRAME_EDGES_MS`] with its `span_ms`;
//! - `cpu_ms` (every phase), `gpu_ms`, `draw_calls`, `triangles` and `drawn` are means
//!   over this batch's frames;
//! - an interval over [`MAX_FRAME_MS`] is a pause (a hidden tab), not a frame, and an
//!   interval under 1 ms is counted as 1 ms (so a batch never exceeds [`MAX_FPS`]);
//! - `load_ms` and `vitals` are sent once, and again only when they change;
//! - errors beyond [`MAX_ERRORS`] and steps beyond [`MAX_GOVERNOR_STEPS`] wait for the
//!   next batch; strings are cut at character boundaries and control characters
//!   replaced, as the validator wants.
//!
//! [`IntervalClock`] turns frame timestamps into intervals and forgets the last one when
//! the page is hidden, so no pause is ever measured as a frame.

use crate::Reason;
use crate::labels::{ErrorKind, Mode, PHASES, Preset, RenderThread};
use crate::limits::*;
use crate::message::{ClientError, FrameHist, Frames, GovernorStep, LoadTimes, PhaseMs, Vitals};
use crate::validate::{is_reserved_release, valid_release, valid_session};

/// Shortest interval the builder records, ms: one frame at [`MAX_FPS`].
const FLOOR_MS: f32 = (1000.0 / MAX_FPS) as f32;
/// Most errors or steps held for later batches; more are dropped.
const MAX_PENDING: usize = 4 * MAX_ERRORS;

/// The labels of every batch of one session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// Release id (the build's, from the site manifest natively or on the web).
    pub release: String,
    /// Random per page load or run, `[A-Za-z0-9_-]{8,64}`.
    pub session: String,
    /// Render mode.
    pub mode: Mode,
    /// Preset.
    pub preset: Preset,
    /// Adapter name (cut to [`MAX_ADAPTER_CHARS`]).
    pub adapter: String,
    /// Where the runtime draws, when known.
    pub thread: Option<RenderThread>,
}

/// One frame's measurements.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FrameSample {
    /// Time since the previous frame started, ms.
    pub interval_ms: f32,
    /// CPU time per [`crate::Phase`], ms.
    pub cpu_ms: [f32; PHASES],
    /// GPU time, ms, when measured.
    pub gpu_ms: Option<f32>,
    /// Draw calls.
    pub draw_calls: u32,
    /// Triangles drawn.
    pub triangles: u64,
    /// Instances drawn.
    pub drawn: u32,
}

/// What [`FrameBatch::record`] did with a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Counted as a frame.
    Frame,
    /// An interval over [`MAX_FRAME_MS`]: a pause, left out.
    Pause,
    /// Not a number, or not positive: left out.
    Invalid,
    /// The batch is full ([`MAX_BATCH_FRAMES`] or [`MAX_BATCH_SPAN_MS`]): the frame is
    /// counted in `dropped_frames`; call [`FrameBatch::take`].
    Full,
}

/// Accumulates one session's frames into batches.
#[derive(Debug, Clone)]
pub struct FrameBatch {
    info: SessionInfo,
    next_seq: u64,
    frame_ms: Vec<f32>,
    hist: [u32; FRAME_EDGES_MS.len()],
    frames: u32,
    span_ms: f64,
    cpu_sum: [f64; PHASES],
    gpu: (f64, u32),
    draw_calls: u64,
    triangles: f64,
    drawn: u64,
    dropped_frames: u32,
    dropped_batches: u32,
    memory_bytes: Option<u64>,
    errors: Vec<ClientError>,
    governor: Vec<GovernorStep>,
    load: LoadTimes,
    load_pending: bool,
    vitals: Vitals,
    vitals_pending: bool,
}

/// `s` without control characters (each becomes a space), cut to `max` characters.
pub fn clean_text(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

// max/min, not `clamp`, here and below: `clamp`'s panic message for bad bounds would
// bring core's float formatting (about 8 KB gzip) into the browser bundles.
fn clamp_ms(v: f32, max: f32) -> f32 {
    if v.is_finite() {
        v.max(0.0).min(max)
    } else {
        0.0
    }
}

fn merge(into: &mut Option<f32>, from: Option<f32>, max: f32) -> bool {
    match from.filter(|v| v.is_finite()).map(|v| v.max(0.0).min(max)) {
        Some(v) if *into != Some(v) => {
            *into = Some(v);
            true
        }
        _ => false,
    }
}

impl FrameBatch {
    /// A builder for `info`'s session. Fails if the release or session id would be
    /// refused (pattern, or a reserved release).
    pub fn new(mut info: SessionInfo) -> Result<Self, Reason> {
        if !valid_release(&info.release) || !valid_session(&info.session) {
            return Err(Reason::BadString);
        }
        if is_reserved_release(&info.release) {
            return Err(Reason::ReservedRelease);
        }
        info.adapter = clean_text(&info.adapter, MAX_ADAPTER_CHARS);
        Ok(Self {
            info,
            next_seq: 1,
            frame_ms: Vec::new(),
            hist: [0; FRAME_EDGES_MS.len()],
            frames: 0,
            span_ms: 0.0,
            cpu_sum: [0.0; PHASES],
            gpu: (0.0, 0),
            draw_calls: 0,
            triangles: 0.0,
            drawn: 0,
            dropped_frames: 0,
            dropped_batches: 0,
            memory_bytes: None,
            errors: Vec::new(),
            governor: Vec::new(),
            load: LoadTimes::default(),
            load_pending: false,
            vitals: Vitals::default(),
            vitals_pending: false,
        })
    }

    /// The session's labels.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// Continues another builder's numbering: the next batch taken is `seq` (clamped to
    /// 1…[`MAX_SEQ`]). A page that restarts its runtime (after a lost context, or on the
    /// switch to Canvas 2D) keeps one session, so its batches must keep counting up:
    /// the server takes a repeated `seq` for a duplicate.
    pub fn set_next_seq(&mut self, seq: u64) {
        self.next_seq = seq.clamp(1, MAX_SEQ);
    }

    /// Changes the mode or preset (a fallback, a governor step): call [`Self::take`]
    /// first so each batch carries the labels its frames ran under.
    pub fn set_labels(&mut self, mode: Mode, preset: Preset) {
        self.info.mode = mode;
        self.info.preset = preset;
    }

    /// Records one frame.
    pub fn record(&mut self, s: &FrameSample) -> Recorded {
        let iv = s.interval_ms;
        if !iv.is_finite() || iv <= 0.0 {
            return Recorded::Invalid;
        }
        if iv > MAX_FRAME_MS {
            return Recorded::Pause;
        }
        let iv = iv.max(FLOOR_MS);
        if u64::from(self.frames) + 1 > MAX_BATCH_FRAMES
            || self.span_ms + f64::from(iv) > f64::from(MAX_BATCH_SPAN_MS)
        {
            self.add_dropped_frames(1);
            return Recorded::Full;
        }
        if self.frame_ms.len() < MAX_SAMPLES {
            self.frame_ms.push(iv);
        }
        // Compared as f32, as the server compares the f32 it reads.
        let bucket = FRAME_EDGES_MS
            .partition_point(|e| (*e as f32) < iv)
            .min(FRAME_EDGES_MS.len() - 1);
        self.hist[bucket] += 1;
        self.frames += 1;
        self.span_ms += f64::from(iv);
        for (sum, v) in self.cpu_sum.iter_mut().zip(s.cpu_ms) {
            *sum += f64::from(clamp_ms(v, MAX_FRAME_MS));
        }
        if let Some(g) = s.gpu_ms.filter(|g| g.is_finite() && *g >= 0.0) {
            self.gpu.0 += f64::from(g.min(MAX_FRAME_MS));
            self.gpu.1 += 1;
        }
        self.draw_calls += u64::from(s.draw_calls);
        self.triangles += s.triangles as f64;
        self.drawn += u64::from(s.drawn);
        Recorded::Frame
    }

    /// Frames recorded since the last [`Self::take`].
    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// Wall time of those frames, ms.
    pub fn span_ms(&self) -> f64 {
        self.span_ms
    }

    /// Counts frames the client skipped.
    pub fn add_dropped_frames(&mut self, n: u32) {
        self.dropped_frames = self.dropped_frames.saturating_add(n);
    }

    /// Counts batches the client had to drop; reported in the next batch taken.
    pub fn add_dropped_batches(&mut self, n: u32) {
        self.dropped_batches = self.dropped_batches.saturating_add(n);
    }

    /// The memory in use now, bytes (sent with every batch).
    pub fn set_memory(&mut self, bytes: u64) {
        self.memory_bytes = Some(bytes.min(MAX_MEMORY_BYTES));
    }

    /// Load timings known so far; sent in the next batch if any changed.
    pub fn set_load(&mut self, load: LoadTimes) {
        let l = &mut self.load;
        let changed = [
            merge(&mut l.fetch, load.fetch, MAX_LOAD_MS),
            merge(&mut l.compile, load.compile, MAX_LOAD_MS),
            merge(&mut l.init, load.init, MAX_LOAD_MS),
            merge(&mut l.first_frame, load.first_frame, MAX_LOAD_MS),
        ];
        self.load_pending |= changed.contains(&true);
    }

    /// Web vitals known so far; sent in the next batch if any changed.
    pub fn set_vitals(&mut self, vitals: Vitals) {
        let v = &mut self.vitals;
        let changed = [
            merge(&mut v.lcp_ms, vitals.lcp_ms, MAX_LOAD_MS),
            merge(&mut v.inp_ms, vitals.inp_ms, MAX_LOAD_MS),
            merge(&mut v.cls, vitals.cls, MAX_CLS),
            merge(&mut v.ttfb_ms, vitals.ttfb_ms, MAX_LOAD_MS),
        ];
        self.vitals_pending |= changed.contains(&true);
    }

    /// An error; its message is cleaned and cut to [`MAX_ERROR_CHARS`] characters.
    /// Returns `false` when too many are already waiting (the error is dropped).
    pub fn add_error(&mut self, kind: ErrorKind, message: &str) -> bool {
        if self.errors.len() >= MAX_PENDING {
            return false;
        }
        self.errors.push(ClientError {
            kind,
            message: clean_text(message, MAX_ERROR_CHARS),
        });
        true
    }

    /// A governor step; rung names that break the pattern are replaced by `invalid`.
    /// Returns `false` when too many are already waiting (the step is dropped).
    pub fn add_step(&mut self, mut step: GovernorStep) -> bool {
        if self.governor.len() >= MAX_PENDING {
            return false;
        }
        for rung in [&mut step.from, &mut step.to] {
            if !crate::validate::valid_rung(rung) {
                "invalid".clone_into(rung);
            }
        }
        step.p90_ms = step
            .p90_ms
            .filter(|v| v.is_finite())
            .map(|v| v.clamp(0.0, MAX_FRAME_MS));
        self.governor.push(step);
        true
    }

    /// Whether [`Self::take`] has anything to send.
    pub fn has_content(&self) -> bool {
        self.frames > 0
            || !self.errors.is_empty()
            || !self.governor.is_empty()
            || self.load_pending
            || self.vitals_pending
            || self.dropped_frames > 0
            || self.dropped_batches > 0
    }

    /// The batch so far as a message (numbered `seq` 1, 2, …), and a fresh batch; `None`
    /// when there is nothing to send.
    pub fn take(&mut self) -> Option<Frames> {
        if !self.has_content() {
            return None;
        }
        let frames = std::mem::take(&mut self.frames);
        let n = f64::from(frames.max(1));
        let (frame_ms, frame_hist) = if frames as usize <= MAX_SAMPLES {
            (Some(std::mem::take(&mut self.frame_ms)), None)
        } else {
            self.frame_ms.clear();
            let (le_ms, counts) = FRAME_EDGES_MS
                .iter()
                .zip(self.hist)
                .filter(|&(_, c)| c > 0)
                .map(|(&e, c)| (e as f32, c))
                .unzip();
            (None, Some(FrameHist { le_ms, counts }))
        };
        self.hist = [0; FRAME_EDGES_MS.len()];
        let cpu = self.cpu_sum.map(|s| Some((s / n) as f32));
        let gpu = (self.gpu.1 > 0).then(|| (self.gpu.0 / f64::from(self.gpu.1)) as f32);
        let has_frames = frames > 0;
        let dropped_frames = self.dropped_frames.min(MAX_DROPPED_FRAMES);
        let dropped_batches = self.dropped_batches.min(MAX_DROPPED_BATCHES);
        let errors: Vec<ClientError> = self
            .errors
            .drain(..self.errors.len().min(MAX_ERRORS))
            .collect();
        let governor: Vec<GovernorStep> = self
            .governor
            .drain(..self.governor.len().min(MAX_GOVERNOR_STEPS))
            .collect();
        let message = Frames {
            v: PROTOCOL_VERSION,
            release: self.info.release.clone(),
            session: self.info.session.clone(),
            seq: Some(self.next_seq),
            mode: self.info.mode,
            preset: self.info.preset,
            adapter: self.info.adapter.clone(),
            thread: self.info.thread,
            span_ms: has_frames.then_some(self.span_ms as f32),
            frame_ms: frame_ms.filter(|f| !f.is_empty()),
            frame_hist,
            cpu_ms: has_frames.then(|| PhaseMs::from_array(cpu)),
            gpu_ms: gpu,
            dropped_frames,
            memory_bytes: self.memory_bytes,
            draw_calls: has_frames.then(|| (self.draw_calls as f64 / n) as f32),
            triangles: has_frames.then(|| self.triangles / n),
            drawn: has_frames.then(|| (self.drawn as f64 / n) as f32),
            load_ms: std::mem::take(&mut self.load_pending).then_some(self.load),
            vitals: std::mem::take(&mut self.vitals_pending).then_some(self.vitals),
            errors,
            dropped_batches,
            governor,
        };
        self.next_seq = (self.next_seq + 1).min(MAX_SEQ);
        self.dropped_frames -= dropped_frames;
        self.dropped_batches -= dropped_batches;
        self.span_ms = 0.0;
        self.cpu_sum = [0.0; PHASES];
        self.gpu = (0.0, 0);
        self.draw_calls = 0;
        self.triangles = 0.0;
        self.drawn = 0;
        Some(message)
    }
}

/// Turns frame timestamps into intervals. [`Self::reset`] (on `visibilitychange` to
/// hidden, or any pause) makes the next tick start afresh instead of returning the
/// whole pause as one interval.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct IntervalClock {
    last_ms: Option<f64>,
}

impl IntervalClock {
    /// The interval since the previous tick, ms; `None` on the first tick after a reset.
    pub fn tick(&mut self, now_ms: f64) -> Option<f32> {
        let previous = self.last_ms.replace(now_ms);
        previous
            .map(|p| (now_ms - p) as f32)
            .filter(|iv| iv.is_finite() && *iv > 0.0)
    }

    /// Forgets the last timestamp.
    pub fn reset(&mut self) {
        self.last_ms = None;
    }
}

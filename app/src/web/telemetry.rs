//! The runtime's side of telemetry: every frame goes into the protocol crate's
//! [`FrameBatch`] (interval, every phase's CPU time, GPU time, draw calls, triangles,
//! instances drawn), with the governor's steps, and what the page hands over (errors,
//! dropped batches, memory, load times, vitals). The host takes the finished `frames`
//! messages about once a second ([`Telemetry::take_json`]); the page's queue delivers
//! them (`www/loader.js`).
//!
//! A batch carries the labels its frames ran under: when the preset changes (the
//! governor's `performance` rung lays the scene out again), the batch so far is taken
//! first and waits in a small queue for the host.

use std::collections::VecDeque;

use candlefish_protocol::{
    ErrorKind, FrameBatch, FrameSample, Frames, GovernorStep, Mode, Preset, Recorded, RenderThread,
    SessionInfo, StepReason,
};
use candlefish_renderer::RenderMode;
use candlefish_renderer::frame::governor::{Step, StepReason as GovernorReason};
use candlefish_renderer::frame::timings::FrameRecord;
use candlefish_renderer::preset::LADDER;

/// Batches taken early (preset changes, a full batch) waiting for the host; past this
/// the oldest is dropped and counted in `dropped_batches`.
const MAX_READY: usize = 8;

/// Who the session is, from the page: the same for every runtime the page starts.
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// The build's release id (the site manifest's).
    pub release: String,
    /// The page load's random session id.
    pub session: String,
    /// The `seq` of this runtime's first batch: a page that restarts its runtime
    /// continues its numbering (0: start at 1).
    pub next_seq: u64,
}

/// The protocol's label for a render mode; `None` for the null backend, which the
/// protocol does not know (it runs only in tests and benchmarks, and sends nothing).
fn protocol_mode(mode: RenderMode) -> Option<Mode> {
    match mode {
        RenderMode::WebGpu => Some(Mode::Webgpu),
        RenderMode::WebGl => Some(Mode::Webgl),
        RenderMode::Canvas => Some(Mode::Canvas),
        RenderMode::Native => Some(Mode::Native),
        RenderMode::Null => None,
    }
}

/// The protocol's label for a preset.
pub fn protocol_preset(preset: candlefish_renderer::Preset) -> Preset {
    match preset {
        candlefish_renderer::Preset::Quality => Preset::Quality,
        candlefish_renderer::Preset::Performance => Preset::Performance,
        candlefish_renderer::Preset::Canvas => Preset::Canvas,
    }
}

/// The protocol's word for why the governor moved.
fn protocol_reason(reason: GovernorReason) -> StepReason {
    match reason {
        GovernorReason::Overrun => StepReason::Overrun,
        GovernorReason::Headroom => StepReason::Headroom,
        // A software adapter starts at the lowest GPU rung.
        GovernorReason::Software => StepReason::Start,
        GovernorReason::User => StepReason::User,
    }
}

/// One runtime's telemetry.
#[derive(Debug)]
pub struct Telemetry {
    batch: FrameBatch,
    ready: VecDeque<Frames>,
}

impl Telemetry {
    /// Telemetry for a runtime in `mode` at `preset` on `adapter`; `None` for the null
    /// backend, or when the page's release or session id would be refused (the scene
    /// runs without telemetry then).
    pub fn new(
        session: &SessionOptions,
        mode: RenderMode,
        preset: candlefish_renderer::Preset,
        adapter: &str,
        thread: RenderThread,
    ) -> Option<Self> {
        let mut batch = FrameBatch::new(SessionInfo {
            release: session.release.clone(),
            session: session.session.clone(),
            mode: protocol_mode(mode)?,
            preset: protocol_preset(preset),
            adapter: adapter.to_owned(),
            thread: Some(thread),
        })
        .ok()?;
        batch.set_next_seq(session.next_seq);
        Some(Self {
            batch,
            ready: VecDeque::new(),
        })
    }

    /// Takes the batch so far into the queue for the host.
    fn take_early(&mut self) {
        let Some(frames) = self.batch.take() else {
            return;
        };
        if self.ready.len() >= MAX_READY
            && let Some(oldest) = self.ready.pop_front()
        {
            self.batch
                .add_dropped_batches(oldest.dropped_batches.saturating_add(1));
        }
        self.ready.push_back(frames);
    }

    /// Records one drawn frame: `interval_ms` since the previous one (`None` after a
    /// pause or a hidden tab, or on the first frame: then nothing is counted), with the
    /// GPU times that arrived during it (frames late; their mean, when several came).
    pub fn record(
        &mut self,
        interval_ms: Option<f32>,
        record: &FrameRecord,
        gpu_arrived: &[(u64, f32)],
    ) {
        let Some(interval_ms) = interval_ms else {
            return;
        };
        let gpu = gpu_arrived
            .iter()
            .fold((0.0f32, 0u32), |(sum, n), &(_, ms)| (sum + ms, n + 1));
        let sample = FrameSample {
            interval_ms,
            cpu_ms: record.cpu_ms,
            gpu_ms: (gpu.1 > 0).then(|| gpu.0 / gpu.1 as f32),
            draw_calls: record.draw_calls,
            triangles: record.triangles,
            drawn: record.drawn,
        };
        if self.batch.record(&sample) == Recorded::Full {
            // The host has not taken a batch for a minute of frames: take it now (the
            // frame that did not fit is counted in `dropped_frames`).
            self.take_early();
        }
    }

    /// Frames skipped (an interval of several display refreshes).
    pub fn add_dropped_frames(&mut self, n: u32) {
        self.batch.add_dropped_frames(n);
    }

    /// The preset changed: the frames so far ran under the old one, so they leave in a
    /// batch of their own first.
    pub fn set_preset(&mut self, preset: candlefish_renderer::Preset) {
        let preset = protocol_preset(preset);
        let info = self.batch.info();
        if info.preset == preset {
            return;
        }
        let mode = info.mode;
        if self.batch.frames() > 0 {
            self.take_early();
        }
        self.batch.set_labels(mode, preset);
    }

    /// A governor step, rungs named as in the ladder.
    pub fn add_step(&mut self, step: &Step) {
        let name = |i: usize| LADDER.get(i).map_or("invalid", |r| r.name).to_owned();
        self.batch.add_step(GovernorStep {
            from: name(step.from),
            to: name(step.to),
            reason: protocol_reason(step.reason),
            p90_ms: (step.p90_ms > 0.0).then_some(step.p90_ms),
        });
    }

    /// An error the page saw (`kind` as the protocol names it; anything else is
    /// `other`). `false` when too many are already waiting.
    pub fn add_error(&mut self, kind: &str, message: &str) -> bool {
        self.batch
            .add_error(ErrorKind::parse(kind).unwrap_or(ErrorKind::Other), message)
    }

    /// The builder, for what the page hands over as is (memory, load times, vitals,
    /// dropped batches).
    pub fn batch_mut(&mut self) -> &mut FrameBatch {
        &mut self.batch
    }

    /// Every finished batch, oldest first, as JSON text one per line (JSON text never
    /// holds a raw newline); `None` when there is nothing to send.
    pub fn take_json(&mut self) -> Option<String> {
        let current = self.batch.take();
        let mut out = String::new();
        for frames in self.ready.drain(..).chain(current) {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&frames.to_json());
        }
        (!out.is_empty()).then_some(out)
    }
}

//! `candlefish bench`: the frame-budget harness.
//!
//! Renders the standard scene headless into an [`OffscreenTarget`] for `--frames`
//! frames after `--warmup` frames, advancing scene time by 1/60 s a frame and moving
//! the camera along the default automatic orbit (the same path as `candlefish
//! render --time t`). For each measured frame it records the CPU time of every phase,
//! the GPU time of the scene pass (when the adapter has timestamp queries) and the
//! **frame time**: the wall time from the start of the motion update to the end of
//! `device.poll(wait)` after submission, i.e. the real cost of a frame including
//! waiting for the GPU. It prints a table, writes `--json`, and with `--budget-ms`
//! or `--fps` fails when the p95 frame time exceeds the budget, so that CI or a
//! deployment pipeline can gate on it.

mod report;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use candlefish_renderer::{Backend, FrameRecord};
use clap::Args;
use web_time::Instant;

use crate::cli::SceneArgs;
use crate::headless::{OffscreenDriver, camera_at, offscreen_driver};
use crate::telemetry_feed::TelemetryFeed;

/// Scene time advanced per frame, seconds.
const FRAME_DT: f32 = 1.0 / 60.0;

/// Frame-time budget used for "frames over budget" when none is given (60 fps).
const DEFAULT_BUDGET_MS: f64 = 1000.0 / 60.0;

/// How long to keep polling for GPU timestamps after the last frame.
const GPU_RESULTS_TIMEOUT: Duration = Duration::from_secs(5);

/// Arguments of `candlefish bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub scene: SceneArgs,
    /// Frames measured.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub frames: u32,
    /// Frames rendered first and not measured (pipelines, caches, buffer growth).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub warmup: u32,
    /// Target width in pixels.
    #[arg(long, default_value_t = 1280, value_parser = clap::value_parser!(u32).range(1..=8192))]
    pub width: u32,
    /// Target height in pixels.
    #[arg(long, default_value_t = 720, value_parser = clap::value_parser!(u32).range(1..=8192))]
    pub height: u32,
    /// Fail when the p95 frame time exceeds this many milliseconds.
    #[arg(long, value_parser = parse_positive, conflicts_with = "fps")]
    pub budget_ms: Option<f64>,
    /// Fail when the p95 frame time exceeds 1000/N milliseconds.
    #[arg(long, value_parser = parse_positive)]
    pub fps: Option<f64>,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a Chrome trace (Perfetto, chrome://tracing) of every frame's CPU phases
    /// and GPU time, warm-up included, to this file.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
}

impl BenchArgs {
    /// The budget asked for, milliseconds, if any.
    fn budget_ms(&self) -> Option<f64> {
        self.budget_ms.or(self.fps.map(|fps| 1000.0 / fps))
    }
}

fn parse_positive(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && v > 0.0 && v <= 1.0e6 {
        Ok(v)
    } else {
        Err(format!("{s} must be a number above 0 and at most 1000000"))
    }
}

/// What the measured frames gave.
#[derive(Debug, Default)]
pub struct Samples {
    /// CPU records of the measured frames, in order.
    pub records: Vec<FrameRecord>,
    /// Frame time (wall, update start to GPU idle) per measured frame, ms.
    pub frame_ms: Vec<f32>,
    /// Triangles drawn per measured frame.
    pub triangles: Vec<u64>,
    /// LOD threshold applied per measured frame, pixels (raised past the preset's
    /// when the triangle cap needed it).
    pub lod_threshold_px: Vec<f32>,
    /// Visible instances left out by the triangle cap, per measured frame.
    pub dropped: Vec<u64>,
    /// GPU time per measured frame number, ms.
    pub gpu_ms: HashMap<u64, f32>,
}

/// Runs the harness.
pub fn run(args: &BenchArgs) -> Result<()> {
    let mut driver = offscreen_driver(&args.scene, args.width, args.height)?;
    let info = driver.backend().adapter_info();
    let measures_gpu = driver.backend().measures_gpu_time();
    let mut feed = match &args.scene.telemetry {
        Some(url) => Some(TelemetryFeed::connect(
            url,
            &info.name,
            args.scene.preset.name(),
        )?),
        None => None,
    };
    let aspect = args.width as f32 / args.height as f32;
    let mut samples = Samples::default();
    let mut trace = args.trace.as_deref().map(crate::trace::Trace::new);
    let measured_from = u64::from(args.warmup);
    for i in 0..u64::from(args.warmup) + u64::from(args.frames) {
        let time = i as f32 * FRAME_DT;
        let camera = camera_at(time).camera(aspect);
        let start = Instant::now();
        let record = driver.render_frame(time, &camera)?;
        driver
            .backend()
            .wait_idle()
            .context("waiting for the GPU")?;
        let frame_ms = start.elapsed().as_secs_f32() * 1000.0;
        if let Some(feed) = feed.as_mut() {
            feed.record(&record, frame_ms);
        }
        if let Some(trace) = trace.as_mut() {
            trace.frame(start, &record);
        }
        // The wait above let this frame's timestamp readback finish mapping.
        take_gpu_times(&mut driver, &mut samples);
        if record.frame >= measured_from {
            let lod = driver.planner.lod_outcome();
            samples.records.push(record);
            samples.frame_ms.push(frame_ms);
            samples.triangles.push(record.triangles);
            samples.lod_threshold_px.push(lod.threshold_px);
            samples.dropped.push(u64::from(lod.dropped));
        }
    }
    if let Some(feed) = feed {
        feed.finish();
    }
    if measures_gpu {
        collect_late_gpu_times(&mut driver, &mut samples);
    }
    if let Some(trace) = trace.as_mut() {
        for (&frame, &ms) in &samples.gpu_ms {
            trace.gpu(frame, ms);
        }
        trace.write()?;
        println!(
            "wrote {} ({} frames)",
            args.trace
                .as_deref()
                .unwrap_or(std::path::Path::new(""))
                .display(),
            trace.len()
        );
    }
    let budget = args.budget_ms();
    let report = report::Report::new(args, &info, &driver, &samples, budget, DEFAULT_BUDGET_MS);
    report.print();
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report.to_json()).context("encoding JSON")?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(budget) = budget {
        let p95 = report.frame.p95;
        if f64::from(p95) > budget {
            bail!(
                "p95 frame time {p95:.3} ms exceeds the budget of {budget:.3} ms ({} of {} frames over)",
                report.frames_over_budget,
                samples.frame_ms.len()
            );
        }
    }
    Ok(())
}

/// Moves the GPU times that have arrived into `samples`.
fn take_gpu_times(driver: &mut OffscreenDriver, samples: &mut Samples) {
    driver.backend_mut().drain_gpu_times(&mut |frame, ms| {
        samples.gpu_ms.insert(frame, ms);
    });
}

/// GPU results arrive asynchronously: keeps polling until every measured frame that
/// wrote timestamps has its time, or [`GPU_RESULTS_TIMEOUT`] passes. Frames whose
/// results the driver already took are recovered from its timing ring.
fn collect_late_gpu_times(driver: &mut OffscreenDriver, samples: &mut Samples) {
    let deadline = Instant::now() + GPU_RESULTS_TIMEOUT;
    let wanted = |s: &Samples| {
        s.records
            .iter()
            .filter(|r| !s.gpu_ms.contains_key(&r.frame))
            .count()
    };
    loop {
        for r in driver.timings.records() {
            if let Some(ms) = r.gpu_ms {
                samples.gpu_ms.entry(r.frame).or_insert(ms);
            }
        }
        // Draining polls the device, which lets finished readbacks map.
        take_gpu_times(driver, samples);
        if wanted(samples) == 0 || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let missing = wanted(samples);
    if missing > 0 {
        log::warn!("{missing} frames have no GPU time (timestamp slots busy or results late)");
    }
}

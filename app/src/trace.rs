//! `--trace FILE` for `view` and `bench`: a Chrome trace (the JSON "Trace Event
//! Format") of every frame, which Perfetto (ui.perfetto.dev) and `chrome://tracing`
//! open. One process, two tracks on one timeline:
//!
//! - **CPU**: one complete (`"ph": "X"`) event per phase per frame (update, cull, lod,
//!   bucket, upload, encode, submit), laid end to end from the frame's start, as the
//!   frame driver runs them;
//! - **GPU**: one event per frame whose GPU time was measured (timestamp queries).
//!   wgpu's timestamps give a duration, not a time on the CPU clock, so the event
//!   starts when the GPU could first have started it: at the end of the frame's
//!   submit, or when the previous frame's GPU work ended, whichever is later (the
//!   queue runs frames in order).
//!
//! Every event carries `args.frame`. Times are microseconds from the first frame.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use candlefish_renderer::{FrameRecord, Phase};
use web_time::Instant;

/// Thread id of the CPU track.
const CPU_TID: u32 = 1;
/// Thread id of the GPU track.
const GPU_TID: u32 = 2;
/// Frames kept at most (about 28 minutes at 60 Hz); later frames are not traced.
const MAX_FRAMES: usize = 100_000;

/// Collects frames and writes the trace.
#[derive(Debug)]
pub struct Trace {
    path: PathBuf,
    origin: Option<Instant>,
    /// Per frame: (frame, start µs from the first frame, CPU ms per phase).
    frames: Vec<(u64, f64, [f32; 7])>,
    /// GPU ms per frame, as they arrive.
    gpu_ms: HashMap<u64, f32>,
}

impl Trace {
    /// A trace that [`Trace::write`] will save to `path`.
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            origin: None,
            frames: Vec::new(),
            gpu_ms: HashMap::new(),
        }
    }

    /// Records a frame that started (before the motion update) at `start`.
    pub fn frame(&mut self, start: Instant, record: &FrameRecord) {
        if self.frames.len() >= MAX_FRAMES {
            return;
        }
        let origin = *self.origin.get_or_insert(start);
        let start_us = start.saturating_duration_since(origin).as_secs_f64() * 1e6;
        self.frames.push((record.frame, start_us, record.cpu_ms));
    }

    /// Records the GPU time of `frame`, whenever it arrives.
    pub fn gpu(&mut self, frame: u64, ms: f32) {
        if ms.is_finite() && ms >= 0.0 {
            self.gpu_ms.insert(frame, ms);
        }
    }

    /// Frames recorded.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// The trace as JSON text.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256 + self.frames.len() * 8 * 110);
        out.push_str("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
        let mut first = true;
        let mut event = |out: &mut String, text: &str| {
            if !first {
                out.push_str(",\n");
            }
            first = false;
            out.push_str(text);
        };
        for (tid, name) in [
            (CPU_TID, "CPU (frame phases)"),
            (GPU_TID, "GPU (scene pass)"),
        ] {
            event(
                &mut out,
                &format!(
                    "{{\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"name\":\"thread_name\",\"args\":{{\"name\":\"{name}\"}}}}"
                ),
            );
        }
        event(
            &mut out,
            "{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"process_name\",\"args\":{\"name\":\"candlefish\"}}",
        );
        let mut gpu_free_us = 0.0f64;
        let mut line = String::new();
        for &(frame, start_us, cpu_ms) in &self.frames {
            let mut ts = start_us;
            for phase in Phase::ALL {
                let dur = f64::from(cpu_ms[phase as usize].max(0.0)) * 1000.0;
                line.clear();
                let _ = write!(
                    line,
                    "{{\"ph\":\"X\",\"pid\":1,\"tid\":{CPU_TID},\"cat\":\"cpu\",\"name\":\"{}\",\"ts\":{ts:.3},\"dur\":{dur:.3},\"args\":{{\"frame\":{frame}}}}}",
                    phase.name()
                );
                event(&mut out, &line);
                ts += dur;
            }
            if let Some(&ms) = self.gpu_ms.get(&frame) {
                let start = ts.max(gpu_free_us);
                let dur = f64::from(ms) * 1000.0;
                gpu_free_us = start + dur;
                line.clear();
                let _ = write!(
                    line,
                    "{{\"ph\":\"X\",\"pid\":1,\"tid\":{GPU_TID},\"cat\":\"gpu\",\"name\":\"gpu\",\"ts\":{start:.3},\"dur\":{dur:.3},\"args\":{{\"frame\":{frame}}}}}"
                );
                event(&mut out, &line);
            }
        }
        out.push_str("\n]}\n");
        out
    }

    /// Writes the trace file.
    pub fn write(&self) -> Result<()> {
        std::fs::write(&self.path, self.to_json())
            .with_context(|| format!("writing the trace {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn phases_are_laid_end_to_end_and_gpu_work_queues() {
        let mut trace = Trace::new(Path::new("unused.json"));
        let t0 = Instant::now();
        for frame in 0..3u64 {
            let record = FrameRecord {
                frame,
                cpu_ms: [1.0, 0.5, 0.25, 0.25, 0.0, 1.0, 1.0],
                ..FrameRecord::default()
            };
            trace.frame(t0 + std::time::Duration::from_millis(5 * frame), &record);
            // Each frame's GPU work takes 8 ms: longer than the 5 ms between frames.
            trace.gpu(frame, 8.0);
        }
        let v: serde_json::Value = serde_json::from_str(&trace.to_json()).unwrap();
        let events = v["traceEvents"].as_array().unwrap();
        let x: Vec<_> = events.iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(x.len(), 3 * 8);
        let update1 = x
            .iter()
            .find(|e| e["name"] == "update" && e["args"]["frame"] == 1);
        assert_eq!(update1.unwrap()["ts"].as_f64(), Some(5000.0));
        let gpu: Vec<f64> = x
            .iter()
            .filter(|e| e["name"] == "gpu")
            .map(|e| e["ts"].as_f64().unwrap())
            .collect();
        // Frame 0's GPU work starts after its 4 ms of CPU phases; the next ones queue.
        assert_eq!(gpu, vec![4000.0, 12000.0, 20000.0]);
    }
}

//! Frame timings: CPU time per phase, GPU time when the adapter has timestamp
//! queries, kept in a fixed-size ring with percentiles and frame counts per render
//! mode. No allocation per frame.

use std::fmt;

/// The CPU phases of a frame, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Motion update.
    Update = 0,
    /// Frustum culling.
    Cull = 1,
    /// LOD selection.
    Lod = 2,
    /// Bucketing and packing instance data.
    Bucket = 3,
    /// Writing buffers to the GPU queue.
    Upload = 4,
    /// Recording the command buffer.
    Encode = 5,
    /// Submitting (and presenting).
    Submit = 6,
}

impl Phase {
    /// All phases in order.
    pub const ALL: [Phase; 7] = [
        Self::Update,
        Self::Cull,
        Self::Lod,
        Self::Bucket,
        Self::Upload,
        Self::Encode,
        Self::Submit,
    ];

    /// Short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Update => "update",
            Self::Cull => "cull",
            Self::Lod => "lod",
            Self::Bucket => "bucket",
            Self::Upload => "upload",
            Self::Encode => "encode",
            Self::Submit => "submit",
        }
    }
}

/// How a frame was drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RenderMode {
    /// wgpu on WebGPU in a browser.
    WebGpu = 0,
    /// WebGL2 in a browser.
    WebGl = 1,
    /// The Canvas-2D fallback.
    Canvas = 2,
    /// wgpu natively (window or headless).
    #[default]
    Native = 3,
    /// The null backend (benchmarks and tests): planned, never drawn.
    Null = 4,
}

impl RenderMode {
    /// All modes.
    pub const ALL: [RenderMode; 5] = [
        Self::WebGpu,
        Self::WebGl,
        Self::Canvas,
        Self::Native,
        Self::Null,
    ];

    /// Name used in URLs and telemetry.
    pub fn name(self) -> &'static str {
        match self {
            Self::WebGpu => "webgpu",
            Self::WebGl => "webgl",
            Self::Canvas => "canvas",
            Self::Native => "native",
            Self::Null => "null",
        }
    }
}

impl fmt::Display for RenderMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One frame's measurements, milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FrameRecord {
    /// Frame number (monotonic).
    pub frame: u64,
    /// CPU time per [`Phase`].
    pub cpu_ms: [f32; 7],
    /// GPU time of the frame's passes, when measured.
    pub gpu_ms: Option<f32>,
    /// How it was drawn.
    pub mode: RenderMode,
    /// Instances drawn.
    pub drawn: u32,
    /// Draw calls.
    pub draw_calls: u32,
    /// Triangles drawn.
    pub triangles: u64,
}

impl FrameRecord {
    /// Sum of the CPU phases.
    pub fn cpu_total_ms(&self) -> f32 {
        self.cpu_ms.iter().sum()
    }
}

/// Percentiles of a series, milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f32,
    /// 95th percentile.
    pub p95: f32,
    /// 99th percentile.
    pub p99: f32,
    /// Maximum.
    pub max: f32,
    /// Number of samples.
    pub count: usize,
}

/// Nearest-rank percentiles of `values` (reordered in place).
pub fn percentiles(values: &mut [f32]) -> Percentiles {
    let n = values.len();
    if n == 0 {
        return Percentiles::default();
    }
    values.sort_unstable_by(f32::total_cmp);
    let rank = |p: f32| values[((p * n as f32).ceil() as usize).clamp(1, n) - 1];
    Percentiles {
        p50: rank(0.50),
        p95: rank(0.95),
        p99: rank(0.99),
        max: values[n - 1],
        count: n,
    }
}

/// A ring of the last `capacity` frames, plus lifetime counts per mode.
#[derive(Clone, Debug)]
pub struct FrameTimings {
    records: Vec<FrameRecord>,
    capacity: usize,
    next: usize,
    frames_by_mode: [u64; RenderMode::ALL.len()],
    scratch: Vec<f32>,
}

impl FrameTimings {
    /// A ring holding `capacity` frames (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            records: Vec::with_capacity(capacity),
            capacity,
            next: 0,
            frames_by_mode: [0; RenderMode::ALL.len()],
            scratch: Vec::with_capacity(capacity),
        }
    }

    /// Adds a frame, replacing the oldest when full.
    pub fn push(&mut self, record: FrameRecord) {
        self.frames_by_mode[record.mode as usize] += 1;
        if self.records.len() < self.capacity {
            self.records.push(record);
        } else {
            self.records[self.next] = record;
        }
        self.next = (self.next + 1) % self.capacity;
    }

    /// Attaches a GPU time measured later to its frame, if still in the ring.
    pub fn set_gpu_ms(&mut self, frame: u64, gpu_ms: f32) {
        if let Some(r) = self.records.iter_mut().find(|r| r.frame == frame) {
            r.gpu_ms = Some(gpu_ms);
        }
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no frame is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Frames recorded in a mode since creation.
    pub fn frames_in_mode(&self, mode: RenderMode) -> u64 {
        self.frames_by_mode[mode as usize]
    }

    /// The held frames, oldest first.
    pub fn records(&self) -> impl Iterator<Item = &FrameRecord> {
        let (newer, older) = self.records.split_at(self.next.min(self.records.len()));
        older.iter().chain(newer)
    }

    /// Percentiles of any per-frame value (`None` values are skipped).
    pub fn percentiles_of(&mut self, value: impl Fn(&FrameRecord) -> Option<f32>) -> Percentiles {
        self.scratch.clear();
        self.scratch.extend(self.records.iter().filter_map(&value));
        percentiles(&mut self.scratch)
    }

    /// Percentiles of the CPU time of one phase.
    pub fn phase(&mut self, phase: Phase) -> Percentiles {
        self.percentiles_of(|r| Some(r.cpu_ms[phase as usize]))
    }

    /// Percentiles of the total CPU time.
    pub fn cpu_total(&mut self) -> Percentiles {
        self.percentiles_of(|r| Some(r.cpu_total_ms()))
    }

    /// Percentiles of GPU time over frames that have one.
    pub fn gpu(&mut self) -> Percentiles {
        self.percentiles_of(|r| r.gpu_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut v: Vec<f32> = (1..=100).rev().map(|x| x as f32).collect();
        let p = percentiles(&mut v);
        assert_eq!(
            (p.p50, p.p95, p.p99, p.max, p.count),
            (50.0, 95.0, 99.0, 100.0, 100)
        );
        assert_eq!(percentiles(&mut []).count, 0);
        assert_eq!(percentiles(&mut [7.0]).p99, 7.0);
    }

    #[test]
    fn ring_keeps_the_latest_frames_and_counts_modes() {
        let mut t = FrameTimings::new(4);
        for frame in 0..10u64 {
            let mode = if frame < 3 {
                RenderMode::WebGl
            } else {
                RenderMode::WebGpu
            };
            let mut cpu_ms = [0.0; 7];
            cpu_ms[Phase::Cull as usize] = frame as f32;
            t.push(FrameRecord {
                frame,
                cpu_ms,
                mode,
                ..FrameRecord::default()
            });
        }
        assert_eq!(t.len(), 4);
        let frames: Vec<u64> = t.records().map(|r| r.frame).collect();
        assert_eq!(frames, vec![6, 7, 8, 9]);
        assert_eq!(t.frames_in_mode(RenderMode::WebGl), 3);
        assert_eq!(t.frames_in_mode(RenderMode::WebGpu), 7);
        assert_eq!(t.phase(Phase::Cull).max, 9.0);
        assert_eq!(t.gpu().count, 0);
        t.set_gpu_ms(8, 1.5);
        t.set_gpu_ms(2, 9.0); // already gone
        assert_eq!((t.gpu().count, t.gpu().p50), (1, 1.5));
    }
}

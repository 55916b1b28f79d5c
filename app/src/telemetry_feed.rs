//! Feeds frame records to the telemetry server (`--telemetry ws://…`): one `frames`
//! batch a second, built from the renderer's [`FrameRecord`]s, sent by the
//! non-blocking [`TelemetryClient`].

use anyhow::{Context, Result};
use candlefish_renderer::frame::timings::{FrameRecord, Phase};
use web_time::Instant;

use crate::telemetry::{CpuPhaseMs, FrameBatch, TelemetryClient};

/// Batches frames for one run.
pub struct TelemetryFeed {
    client: TelemetryClient,
    template: FrameBatch,
    frame_ms: Vec<f32>,
    cpu_sum: [f32; 7],
    gpu: (f32, u32),
    draw_calls: u64,
    frames: u32,
    started: Instant,
}

impl std::fmt::Debug for TelemetryFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryFeed")
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl TelemetryFeed {
    /// Connects (in the background) to `url` for a run on `adapter` at `preset`.
    pub fn connect(url: &str, adapter: &str, preset: &str) -> Result<Self> {
        let client =
            TelemetryClient::connect(url).with_context(|| format!("telemetry URL {url:?}"))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let template = FrameBatch {
            release: option_env!("CANDLEFISH_RELEASE")
                .unwrap_or(env!("CARGO_PKG_VERSION"))
                .to_owned(),
            session: format!("native-{:x}-{nanos:x}", std::process::id()),
            mode: "native".to_owned(),
            preset: preset.to_owned(),
            adapter: adapter.chars().take(120).collect(),
            ..FrameBatch::default()
        };
        Ok(Self {
            client,
            template,
            frame_ms: Vec::new(),
            cpu_sum: [0.0; 7],
            gpu: (0.0, 0),
            draw_calls: 0,
            frames: 0,
            started: Instant::now(),
        })
    }

    /// Adds a frame that took `frame_ms` of wall time; sends a batch each second.
    pub fn record(&mut self, record: &FrameRecord, frame_ms: f32) {
        self.frame_ms.push(frame_ms);
        for (sum, v) in self.cpu_sum.iter_mut().zip(record.cpu_ms) {
            *sum += v;
        }
        if let Some(g) = record.gpu_ms {
            self.gpu = (self.gpu.0 + g, self.gpu.1 + 1);
        }
        self.draw_calls += u64::from(record.draw_calls);
        self.frames += 1;
        if self.started.elapsed().as_secs_f32() >= 1.0 || self.frame_ms.len() >= 1000 {
            self.flush();
        }
    }

    /// Sends what is pending.
    pub fn flush(&mut self) {
        if self.frames == 0 {
            return;
        }
        let n = self.frames as f32;
        let mean = |p: Phase| self.cpu_sum[p as usize] / n;
        let batch = FrameBatch {
            frame_ms: std::mem::take(&mut self.frame_ms),
            cpu_ms: CpuPhaseMs {
                update: mean(Phase::Update),
                cull: mean(Phase::Cull),
                lod: mean(Phase::Lod),
                upload: mean(Phase::Upload),
                encode: mean(Phase::Encode),
                submit: mean(Phase::Submit),
            },
            gpu_ms: (self.gpu.1 > 0).then(|| self.gpu.0 / self.gpu.1 as f32),
            draw_calls: Some((self.draw_calls / u64::from(self.frames)) as u32),
            ..self.template.clone()
        };
        if !self.client.send(batch) {
            log::warn!("telemetry queue full; a batch was dropped");
        }
        self.cpu_sum = [0.0; 7];
        self.gpu = (0.0, 0);
        self.draw_calls = 0;
        self.frames = 0;
        self.started = Instant::now();
    }

    /// Flushes and closes the connection (bounded wait).
    pub fn finish(mut self) {
        self.flush();
        let stats = self.client.shutdown();
        log::info!("telemetry: {stats:?}");
    }
}

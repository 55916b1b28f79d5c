//! Feeds frame records to the telemetry server (`--telemetry ws://…`): the protocol
//! crate's [`FrameBatch`] turns each frame into a batch (means and sums over the
//! batch's own frames, every phase), one a second, with the process's resident memory
//! as `memory_bytes`; the non-blocking [`TelemetryClient`] delivers it.

use anyhow::{Context, Result};
use candlefish_protocol::{FrameBatch, FrameSample, Mode, Preset, SessionInfo};
use candlefish_renderer::frame::timings::FrameRecord;
use web_time::Instant;

use crate::telemetry::TelemetryClient;

/// Batches frames for one run.
pub struct TelemetryFeed {
    client: TelemetryClient,
    batch: FrameBatch,
    started: Instant,
}

impl std::fmt::Debug for TelemetryFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryFeed")
            .field("frames", &self.batch.frames())
            .finish_non_exhaustive()
    }
}

/// The process's resident set size in bytes (`VmRSS` of `/proc/self/status`); `None`
/// where there is no such file (other OSes), so the field is left out.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

impl TelemetryFeed {
    /// Connects (in the background) to `url` for a run on `adapter` at `preset`.
    pub fn connect(url: &str, adapter: &str, preset: &str) -> Result<Self> {
        let client =
            TelemetryClient::connect(url).with_context(|| format!("telemetry URL {url:?}"))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let info = SessionInfo {
            release: option_env!("CANDLEFISH_RELEASE")
                .unwrap_or(env!("CARGO_PKG_VERSION"))
                .to_owned(),
            session: format!("native-{:x}-{nanos:x}", std::process::id()),
            mode: Mode::Native,
            preset: Preset::parse(preset)
                .with_context(|| format!("preset {preset:?} has no telemetry label"))?,
            adapter: adapter.to_owned(),
            thread: None,
        };
        let batch = FrameBatch::new(info).map_err(|reason| {
            anyhow::anyhow!("the telemetry release or session id would be refused: {reason}")
        })?;
        Ok(Self {
            client,
            batch,
            started: Instant::now(),
        })
    }

    /// Adds a frame that took `frame_ms` of wall time; sends a batch each second.
    pub fn record(&mut self, record: &FrameRecord, frame_ms: f32) {
        self.batch.record(&FrameSample {
            interval_ms: frame_ms,
            cpu_ms: record.cpu_ms,
            gpu_ms: record.gpu_ms,
            draw_calls: record.draw_calls,
            triangles: record.triangles,
            drawn: record.drawn,
        });
        if self.started.elapsed().as_secs_f32() >= 1.0 {
            self.flush();
        }
    }

    /// Sends what is pending.
    pub fn flush(&mut self) {
        if let Some(rss) = resident_bytes() {
            self.batch.set_memory(rss);
        }
        if let Some(message) = self.batch.take()
            && !self.client.send(message)
        {
            log::warn!("telemetry queue full; a batch was dropped");
            self.batch.add_dropped_batches(1);
        }
        self.started = Instant::now();
    }

    /// Flushes and closes the connection (bounded wait).
    pub fn finish(mut self) {
        self.flush();
        let stats = self.client.shutdown();
        log::info!("telemetry: {stats:?}");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn rss_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let rss = resident_bytes().unwrap();
            assert!(rss > 1 << 20, "{rss}");
        } else {
            assert_eq!(resident_bytes(), None);
        }
    }
}

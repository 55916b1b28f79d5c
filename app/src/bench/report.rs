//! The results of `candlefish bench`: percentiles, counters and the machine they were
//! measured on, printed as a table and written as JSON.

use candlefish_renderer::frame::timings::{Percentiles, percentiles};
use candlefish_renderer::{Backend, Phase};
use serde_json::{Value, json};

use super::{BenchArgs, Samples};

/// Everything reported.
#[derive(Debug)]
pub struct Report {
    adapter: wgpu::AdapterInfo,
    preset: String,
    fish: u32,
    rocks: u32,
    kelp: u32,
    snow: u32,
    instances: usize,
    size: (u32, u32),
    msaa_samples: u32,
    warmup: u32,
    frames: usize,
    phases: Vec<(&'static str, Percentiles)>,
    cpu_total: Percentiles,
    /// Frame time: update start to GPU idle after submission (wall), ms.
    pub frame: Percentiles,
    gpu: Option<Percentiles>,
    gpu_frames: usize,
    budget_ms: f64,
    budget_given: bool,
    /// Measured frames whose frame time exceeded the budget.
    pub frames_over_budget: usize,
    draw_calls: Counter,
    drawn: Counter,
    triangles: Counter,
    triangle_cap: u64,
    lod_threshold_px: f32,
    lod_applied_min: f32,
    lod_applied_max: f32,
    dropped: Counter,
    peak_memory_kib: Option<u64>,
    date: String,
    commit: String,
}

/// Minimum, mean and maximum of a per-frame count.
#[derive(Clone, Copy, Debug, Default)]
struct Counter {
    min: u64,
    mean: f64,
    max: u64,
}

impl Counter {
    fn of(values: impl Iterator<Item = u64> + Clone) -> Self {
        let n = values.clone().count().max(1) as f64;
        Self {
            min: values.clone().min().unwrap_or(0),
            mean: values.clone().sum::<u64>() as f64 / n,
            max: values.max().unwrap_or(0),
        }
    }

    fn to_json(self) -> Value {
        json!({ "min": self.min, "mean": self.mean, "max": self.max })
    }
}

impl Report {
    /// Summarises the samples of a run.
    pub fn new(
        args: &BenchArgs,
        adapter: &wgpu::AdapterInfo,
        driver: &crate::headless::OffscreenDriver,
        samples: &Samples,
        budget_ms: Option<f64>,
        default_budget_ms: f64,
    ) -> Self {
        let records = &samples.records;
        let phases = Phase::ALL
            .iter()
            .map(|&p| {
                let mut v: Vec<f32> = records.iter().map(|r| r.cpu_ms[p as usize]).collect();
                (p.name(), percentiles(&mut v))
            })
            .collect();
        let mut cpu: Vec<f32> = records.iter().map(|r| r.cpu_total_ms()).collect();
        let mut frame_ms = samples.frame_ms.clone();
        let mut gpu: Vec<f32> = records
            .iter()
            .filter_map(|r| samples.gpu_ms.get(&r.frame).copied())
            .collect();
        let gpu_frames = gpu.len();
        let budget = budget_ms.unwrap_or(default_budget_ms);
        let description = args.scene.description().unwrap_or_else(|_| {
            candlefish_renderer::SceneDescription::for_preset(args.scene.preset)
        });
        Self {
            adapter: adapter.clone(),
            preset: args.scene.preset.name().to_owned(),
            fish: description.fish,
            rocks: description.rocks,
            kelp: description.kelp,
            snow: description.snow,
            instances: driver.scene.instances.len(),
            size: (args.width, args.height),
            msaa_samples: driver.backend().msaa_samples(),
            warmup: args.warmup,
            frames: records.len(),
            phases,
            cpu_total: percentiles(&mut cpu),
            frames_over_budget: frame_ms.iter().filter(|&&t| f64::from(t) > budget).count(),
            frame: percentiles(&mut frame_ms),
            gpu: (gpu_frames > 0).then(|| percentiles(&mut gpu)),
            gpu_frames,
            budget_ms: budget,
            budget_given: budget_ms.is_some(),
            draw_calls: Counter::of(records.iter().map(|r| u64::from(r.draw_calls))),
            drawn: Counter::of(records.iter().map(|r| u64::from(r.drawn))),
            triangles: Counter::of(samples.triangles.iter().copied()),
            triangle_cap: args.scene.preset.settings().max_triangles,
            lod_threshold_px: driver.lod_threshold_px,
            lod_applied_min: samples
                .lod_threshold_px
                .iter()
                .copied()
                .fold(f32::INFINITY, f32::min),
            lod_applied_max: samples.lod_threshold_px.iter().copied().fold(0.0, f32::max),
            dropped: Counter::of(samples.dropped.iter().copied()),
            peak_memory_kib: peak_memory_kib(),
            date: utc_now(),
            commit: git_commit(),
        }
    }

    /// Prints the table.
    pub fn print(&self) {
        let a = &self.adapter;
        println!(
            "candlefish bench: preset {}, {}x{} ({}x MSAA), {} instances ({} fish), {} frames after {} warm-up",
            self.preset,
            self.size.0,
            self.size.1,
            self.msaa_samples,
            self.instances,
            self.fish,
            self.frames,
            self.warmup
        );
        println!(
            "adapter: {} ({:?}, {:?}), driver {} {}",
            a.name, a.backend, a.device_type, a.driver, a.driver_info
        );
        println!(
            "{:<22}{:>10}{:>10}{:>10}{:>10}",
            "ms", "p50", "p95", "p99", "max"
        );
        let row = |name: &str, p: &Percentiles| {
            println!(
                "{name:<22}{:>10.3}{:>10.3}{:>10.3}{:>10.3}",
                p.p50, p.p95, p.p99, p.max
            );
        };
        for (name, p) in &self.phases {
            row(&format!("cpu {name}"), p);
        }
        row("cpu total", &self.cpu_total);
        match &self.gpu {
            Some(p) => row(&format!("gpu ({} frames)", self.gpu_frames), p),
            None => println!("{:<22}{:>10}", "gpu", "n/a (no timestamp queries)"),
        }
        row("frame (wall, to idle)", &self.frame);
        println!(
            "per frame: {:.0} draw calls, {:.0} instances drawn, {:.0} triangles (max {}, cap {})",
            self.draw_calls.mean,
            self.drawn.mean,
            self.triangles.mean,
            self.triangles.max,
            self.triangle_cap
        );
        println!(
            "LOD threshold {:.2} px; applied {:.2}..{:.2} px; {:.0} instances left out by the cap",
            self.lod_threshold_px, self.lod_applied_min, self.lod_applied_max, self.dropped.mean
        );
        println!(
            "frames over {:.3} ms budget: {} of {}; p95 {}",
            self.budget_ms,
            self.frames_over_budget,
            self.frames,
            if f64::from(self.frame.p95) <= self.budget_ms {
                "within budget"
            } else {
                "OVER budget"
            }
        );
        match self.peak_memory_kib {
            Some(kib) => println!("peak memory (VmHWM): {:.1} MiB", kib as f64 / 1024.0),
            None => println!("peak memory: n/a"),
        }
    }

    /// The JSON document.
    pub fn to_json(&self) -> Value {
        let pct =
            |p: &Percentiles| json!({ "p50": p.p50, "p95": p.p95, "p99": p.p99, "max": p.max });
        let phases: serde_json::Map<String, Value> = self
            .phases
            .iter()
            .map(|(name, p)| ((*name).to_owned(), pct(p)))
            .collect();
        let a = &self.adapter;
        json!({
            "adapter": {
                "name": a.name,
                "backend": format!("{:?}", a.backend),
                "device_type": format!("{:?}", a.device_type),
                "driver": a.driver,
                "driver_info": a.driver_info,
                "timestamp_queries": self.gpu.is_some(),
            },
            "preset": self.preset,
            "instances": {
                "total": self.instances,
                "fish": self.fish,
                "rocks": self.rocks,
                "kelp": self.kelp,
                "snow": self.snow,
            },
            "width": self.size.0,
            "height": self.size.1,
            "msaa_samples": self.msaa_samples,
            "warmup_frames": self.warmup,
            "frames": self.frames,
            "cpu_ms": { "phases": phases, "total": pct(&self.cpu_total) },
            "gpu_ms": self.gpu.as_ref().map(pct),
            "gpu_frames_measured": self.gpu_frames,
            "frame_ms": pct(&self.frame),
            "frame_time_definition": "wall time per frame from the start of the motion update to the return of device.poll(wait) after submission: CPU phases plus waiting for the GPU",
            "budget_ms": self.budget_ms,
            "budget_given": self.budget_given,
            "frames_over_budget": self.frames_over_budget,
            "p95_within_budget": f64::from(self.frame.p95) <= self.budget_ms,
            "draw_calls": self.draw_calls.to_json(),
            "drawn_instances": self.drawn.to_json(),
            "triangles": self.triangles.to_json(),
            "triangle_cap": self.triangle_cap,
            "lod": {
                "threshold_px": self.lod_threshold_px,
                "applied_threshold_px": { "min": self.lod_applied_min, "max": self.lod_applied_max },
                "dropped_instances": self.dropped.to_json(),
            },
            "peak_memory_bytes": self.peak_memory_kib.map(|k| k * 1024),
            "date": self.date,
            "git_commit": self.commit,
        })
    }
}

/// Peak resident set (VmHWM) in KiB, Linux only.
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `git rev-parse HEAD`, or "unknown".
fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The current UTC time as ISO 8601, without a date crate.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn dates_convert() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_416), (2025, 11, 24));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}

//! Sliding-window aggregation for the live dashboard: a ring of one-minute slots
//! (five by default, so the window covers the last four to five minutes), each holding
//! an HDR histogram of frame times per release × mode × preset. A snapshot merges the
//! live slots; stale slots are reset when the ring wraps onto them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::labels::SeriesKey;

/// Lowest and highest trackable frame time, microseconds.
const LOW_US: u64 = 1;
const HIGH_US: u64 = 60_000_000;
/// Two significant digits: 1% value resolution, ~10 KiB per histogram.
const SIGFIGS: u8 = 2;
/// Upper edges (ms) of the dashboard's histogram bars; the last bar is open-ended.
pub const DISPLAY_EDGES_MS: [f64; 7] = [4.2, 8.4, 16.7, 25.0, 33.4, 50.0, 100.0];

#[derive(Debug)]
struct SlotSeries {
    frames: Histogram<u32>,
    batches: u64,
    time_ms: f64,
    dropped: u64,
}

impl SlotSeries {
    fn new() -> Option<Self> {
        let frames = Histogram::new_with_bounds(LOW_US, HIGH_US, SIGFIGS).ok()?;
        Some(Self {
            frames,
            batches: 0,
            time_ms: 0.0,
            dropped: 0,
        })
    }
}

#[derive(Debug, Default)]
struct Slot {
    index: u64,
    series: HashMap<SeriesKey, SlotSeries>,
}

/// The sliding window.
#[derive(Debug)]
pub struct Window {
    start: Instant,
    slot_len: Duration,
    slots: Mutex<Vec<Slot>>,
}

/// One series in a [`Snapshot`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SeriesStats {
    /// Release label.
    pub release: String,
    /// Render mode label.
    pub mode: String,
    /// Preset label.
    pub preset: String,
    /// Messages in the window.
    pub batches: u64,
    /// Frame samples in the window.
    pub samples: u64,
    /// Frames per second: frames in the window ÷ the time they took (never a mean of
    /// per-batch rates).
    pub fps: Option<f64>,
    /// Frame-time percentiles, milliseconds (1% resolution).
    pub p50_ms: f64,
    /// 95th percentile, milliseconds.
    pub p95_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Longest frame, milliseconds.
    pub max_ms: f64,
    /// Dropped frames in the window.
    pub dropped_frames: u64,
    /// Frame counts per display bar: ≤ each of [`DISPLAY_EDGES_MS`], then the rest.
    pub histogram: Vec<u64>,
}

/// What `/api/stats` returns.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// Window length, seconds.
    pub window_s: u64,
    /// Upper edges of the histogram bars, milliseconds.
    pub histogram_edges_ms: Vec<f64>,
    /// Series, sorted by release, mode, preset.
    pub series: Vec<SeriesStats>,
}

impl Window {
    /// A ring of `slots` slots of `slot_len` each.
    pub fn new(slot_len: Duration, slots: usize) -> Self {
        let slots = (0..slots.max(1)).map(|_| Slot::default()).collect();
        Self {
            start: Instant::now(),
            slot_len: slot_len.max(Duration::from_millis(1)),
            slots: Mutex::new(slots),
        }
    }

    fn slot_index(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.start).as_nanos() / self.slot_len.as_nanos()) as u64
    }

    /// Records an accepted message's frames (as admitted by the session table) under
    /// `key`: `frames` (ms, count) took `time_ms`.
    pub fn observe(&self, key: &SeriesKey, frames: &[(f32, u32)], time_ms: f64, dropped: u32) {
        let index = self.slot_index(Instant::now());
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let n = slots.len() as u64;
        let slot = &mut slots[(index % n) as usize];
        if slot.index != index {
            slot.index = index;
            slot.series.clear();
        }
        let s = match slot.series.get_mut(key) {
            Some(s) => s,
            None => match SlotSeries::new() {
                Some(s) => slot.series.entry(key.clone()).or_insert(s),
                None => return,
            },
        };
        for &(ms, count) in frames {
            let us = (f64::from(ms) * 1000.0)
                .round()
                .clamp(LOW_US as f64, HIGH_US as f64) as u64;
            s.frames.saturating_record_n(us, count);
        }
        s.batches += 1;
        s.time_ms += time_ms;
        s.dropped += u64::from(dropped);
    }

    /// Merges the live slots into per-series statistics.
    pub fn snapshot(&self) -> Snapshot {
        let current = self.slot_index(Instant::now());
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let live = slots.len() as u64;
        let mut merged: HashMap<&SeriesKey, (Histogram<u32>, u64, f64, u64)> = HashMap::new();
        for slot in slots
            .iter()
            .filter(|s| s.index + live > current && !s.series.is_empty())
        {
            for (key, s) in &slot.series {
                let entry = merged
                    .entry(key)
                    .or_insert_with(|| (Histogram::new_from(&s.frames), 0, 0.0, 0));
                let _ = entry.0.add(&s.frames);
                entry.1 += s.batches;
                entry.2 += s.time_ms;
                entry.3 += s.dropped;
            }
        }
        let mut series: Vec<SeriesStats> = merged
            .into_iter()
            .map(|(key, (h, batches, time_ms, dropped))| {
                let ms = |us: u64| us as f64 / 1000.0;
                let mut histogram = Vec::with_capacity(DISPLAY_EDGES_MS.len() + 1);
                let mut below = 0;
                for edge in DISPLAY_EDGES_MS {
                    let upto = h.count_between(0, (edge * 1000.0) as u64);
                    histogram.push(upto - below);
                    below = upto;
                }
                histogram.push(h.len() - below);
                SeriesStats {
                    release: key.release.to_string(),
                    mode: key.mode.to_owned(),
                    preset: key.preset.to_owned(),
                    batches,
                    samples: h.len(),
                    fps: (!h.is_empty() && time_ms > 0.0)
                        .then(|| h.len() as f64 * 1000.0 / time_ms),
                    p50_ms: ms(h.value_at_quantile(0.5)),
                    p95_ms: ms(h.value_at_quantile(0.95)),
                    p99_ms: ms(h.value_at_quantile(0.99)),
                    max_ms: ms(h.max()),
                    dropped_frames: dropped,
                    histogram,
                }
            })
            .collect();
        series.sort_by(|a, b| {
            (&a.release, &a.mode, &a.preset).cmp(&(&b.release, &b.mode, &b.preset))
        });
        Snapshot {
            window_s: self.slot_len.as_secs() * live,
            histogram_edges_ms: DISPLAY_EDGES_MS.to_vec(),
            series,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observe(w: &Window, key: &SeriesKey, ms: f32, n: u32) {
        w.observe(key, &[(ms, n)], f64::from(ms) * f64::from(n), 0);
    }

    #[test]
    fn percentiles_and_bars() {
        let w = Window::new(Duration::from_secs(60), 5);
        let key = SeriesKey {
            release: "r".into(),
            mode: "webgl",
            preset: "quality",
        };
        observe(&w, &key, 16.0, 90);
        observe(&w, &key, 40.0, 10);
        let snap = w.snapshot();
        assert_eq!(snap.series.len(), 1);
        let s = &snap.series[0];
        assert_eq!((s.batches, s.samples), (2, 100));
        assert!((s.p50_ms - 16.0).abs() < 0.2, "{}", s.p50_ms);
        assert!((s.p95_ms - 40.0).abs() < 0.5, "{}", s.p95_ms);
        assert_eq!(s.histogram, vec![0, 0, 90, 0, 0, 10, 0, 0]);
        // 100 frames in 1.84 s: 54.3 fps, not the mean of 62.5 and 25.
        assert!((s.fps.unwrap() - 100.0 / 1.84).abs() < 1e-9, "{:?}", s.fps);
    }

    /// Issue 11: a batch of one 16 ms frame weighed as much as a batch of one 4 s frame;
    /// the dashboard showed 4.2 fps beside a 3850 ms median.
    #[test]
    fn fps_is_frames_over_their_time() {
        let w = Window::new(Duration::from_secs(60), 5);
        let key = SeriesKey {
            release: "r".into(),
            mode: "webgpu",
            preset: "quality",
        };
        observe(&w, &key, 16.0, 1);
        for _ in 0..3 {
            observe(&w, &key, 3850.0, 1);
        }
        let s = &w.snapshot().series[0];
        assert!((s.fps.unwrap() - 4.0 / 11.566).abs() < 1e-9, "{:?}", s.fps);
    }

    #[test]
    fn old_slots_expire() {
        let w = Window::new(Duration::from_millis(20), 2);
        let key = SeriesKey {
            release: "r".into(),
            mode: "webgl",
            preset: "quality",
        };
        observe(&w, &key, 16.0, 1);
        assert_eq!(w.snapshot().series.len(), 1);
        std::thread::sleep(Duration::from_millis(70));
        assert!(w.snapshot().series.is_empty());
    }
}

//! Cumulative Prometheus metrics, rendered in the text exposition format on the
//! private metrics listener. Base units (seconds, bytes); explicit-bucket histograms;
//! labels limited to `release` (pattern-checked and capped, see [`crate::labels`]),
//! `mode`, `preset` and small fixed enums — never a session id or a raw user agent.
//!
//! Kept by hand rather than on `prometheus-client` (0.25): its `Histogram` records one
//! value per call, while a `frame_hist` message carries up to 100 000 frames as bucket
//! counts, recorded here with one weighted [`hist::Hist::observe_n`] each; with the crate
//! a hostile client could make the server loop 100 000 times per message. The crate
//! would also change the exposition to OpenMetrics (`# EOF`, counters typed without
//! `_total`), which the Grafana dashboard and scrapers would have to follow. Adding a
//! metric is one field, one method and one block in [`Metrics::render`].

pub mod hist;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use axum::http::StatusCode;

use crate::labels::SeriesKey;
use crate::serve::Cap;
use crate::telemetry::Reason;
use crate::telemetry::protocol::ErrorKind;
use crate::telemetry::validate::{CPU_PHASES, Observation};
use hist::{
    CLS, CPU_SECONDS, DRAW_CALLS, FPS, FRAME_SECONDS, Hist, LOAD_SECONDS, MEMORY_BYTES,
    escape_label,
};

/// Per-series histograms and counters.
#[derive(Debug, Clone)]
struct Series {
    frame_time: Hist,
    fps: Hist,
    memory: Hist,
    draw_calls: Hist,
    gpu: Hist,
    cpu: [Hist; 6],
    load: Hist,
    vitals: [Hist; 3],
    cls: Hist,
    dropped: u64,
    errors: [u64; 6],
}

impl Series {
    fn new() -> Self {
        Self {
            frame_time: Hist::new(FRAME_SECONDS),
            fps: Hist::new(FPS),
            memory: Hist::new(MEMORY_BYTES),
            draw_calls: Hist::new(DRAW_CALLS),
            gpu: Hist::new(FRAME_SECONDS),
            cpu: std::array::from_fn(|_| Hist::new(CPU_SECONDS)),
            load: Hist::new(LOAD_SECONDS),
            vitals: std::array::from_fn(|_| Hist::new(LOAD_SECONDS)),
            cls: Hist::new(CLS),
            dropped: 0,
            errors: [0; 6],
        }
    }
}

/// The server's metrics. Counters are atomics; per-series histograms sit behind one
/// mutex, taken once per accepted message.
#[derive(Debug, Default)]
pub struct Metrics {
    accepted: AtomicU64,
    rejected: AtomicU64,
    samples: AtomicU64,
    rejections: [AtomicU64; Reason::ALL.len()],
    connections: AtomicI64,
    http: [AtomicU64; 5],
    http_rate_limited: AtomicU64,
    http_connections: AtomicI64,
    connections_refused: [AtomicU64; 2],
    series: Mutex<HashMap<SeriesKey, Series>>,
}

const MS: f64 = 1e-3;

impl Metrics {
    /// Records an accepted observation under `key`.
    pub fn observe(&self, key: &SeriesKey, obs: &Observation) {
        let mut map = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let s = map.entry(key.clone()).or_insert_with(Series::new);
        for &(ms, n) in &obs.frames {
            s.frame_time.observe_n(f64::from(ms) * MS, u64::from(n));
        }
        if let Some(fps) = obs.fps {
            s.fps.observe(fps);
        }
        if let Some(m) = obs.memory_bytes {
            s.memory.observe(m as f64);
        }
        if let Some(d) = obs.draw_calls {
            s.draw_calls.observe(f64::from(d));
        }
        if let Some(g) = obs.gpu_ms {
            s.gpu.observe(f64::from(g) * MS);
        }
        for (h, v) in s.cpu.iter_mut().zip(obs.cpu_ms) {
            if let Some(v) = v {
                h.observe(f64::from(v) * MS);
            }
        }
        if let Some(l) = obs.load_ms {
            s.load.observe(f64::from(l) * MS);
        }
        for (h, v) in s.vitals.iter_mut().zip(&obs.vitals[..3]) {
            if let Some(v) = v {
                h.observe(f64::from(*v) * MS);
            }
        }
        if let Some(cls) = obs.vitals[3] {
            s.cls.observe(f64::from(cls));
        }
        s.dropped += u64::from(obs.dropped_frames);
        for kind in &obs.errors {
            if let Some(i) = ErrorKind::ALL.iter().position(|k| k == kind) {
                s.errors[i] += 1;
            }
        }
        drop(map);
        self.samples.fetch_add(obs.samples, Ordering::Relaxed);
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a rejection; `message` says whether a message was refused (as opposed to
    /// a connection or handshake).
    pub fn reject(&self, reason: Reason, message: bool) {
        self.rejections[reason.index()].fetch_add(1, Ordering::Relaxed);
        if message {
            self.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Adjusts the open-socket gauge.
    pub fn connections_add(&self, delta: i64) {
        self.connections.fetch_add(delta, Ordering::Relaxed);
    }

    /// Counts an HTTP response by status class.
    pub fn count_http(&self, status: StatusCode) {
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        self.http[class].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request refused by the HTTP rate limit.
    pub fn count_http_rate_limited(&self) {
        self.http_rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// Adjusts the open-connection gauge of the site listener.
    pub fn http_connections_add(&self, delta: i64) {
        self.http_connections.fetch_add(delta, Ordering::Relaxed);
    }

    /// Counts a connection refused (503) by a connection cap.
    pub fn count_connection_refused(&self, cap: Cap) {
        self.connections_refused[cap as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Open connections on the site listener (sockets included).
    pub fn http_connections(&self) -> i64 {
        self.http_connections.load(Ordering::Relaxed)
    }

    /// Accepted messages so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Accepted frame samples so far.
    pub fn samples(&self) -> u64 {
        self.samples.load(Ordering::Relaxed)
    }

    /// Rejected messages so far.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Open telemetry sockets.
    pub fn connections(&self) -> i64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Rejections by reason label.
    pub fn rejections(&self) -> Vec<(&'static str, u64)> {
        Reason::ALL
            .iter()
            .map(|r| {
                (
                    r.as_str(),
                    self.rejections[r.index()].load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// Renders everything in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let header = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        header(
            &mut out,
            "candlefish_telemetry_messages_total",
            "counter",
            "Telemetry messages by result.",
        );
        for (result, v) in [("accepted", &self.accepted), ("rejected", &self.rejected)] {
            let _ = writeln!(
                out,
                "candlefish_telemetry_messages_total{{result=\"{result}\"}} {}",
                v.load(Ordering::Relaxed)
            );
        }
        header(
            &mut out,
            "candlefish_telemetry_rejections_total",
            "counter",
            "Refused telemetry messages and connections by reason.",
        );
        for (reason, v) in self.rejections() {
            let _ = writeln!(
                out,
                "candlefish_telemetry_rejections_total{{reason=\"{reason}\"}} {v}"
            );
        }
        header(
            &mut out,
            "candlefish_telemetry_samples_total",
            "counter",
            "Accepted frame-time samples.",
        );
        let _ = writeln!(out, "candlefish_telemetry_samples_total {}", self.samples());
        header(
            &mut out,
            "candlefish_telemetry_connections",
            "gauge",
            "Open telemetry WebSocket connections.",
        );
        let _ = writeln!(
            out,
            "candlefish_telemetry_connections {}",
            self.connections()
        );
        header(
            &mut out,
            "candlefish_http_requests_total",
            "counter",
            "HTTP responses on the site listener by status class.",
        );
        for (i, v) in self.http.iter().enumerate() {
            let _ = writeln!(
                out,
                "candlefish_http_requests_total{{class=\"{}xx\"}} {}",
                i + 1,
                v.load(Ordering::Relaxed)
            );
        }
        header(
            &mut out,
            "candlefish_http_rate_limited_total",
            "counter",
            "HTTP requests refused by the per-IP rate limit.",
        );
        let _ = writeln!(
            out,
            "candlefish_http_rate_limited_total {}",
            self.http_rate_limited.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "candlefish_http_connections",
            "gauge",
            "Open connections on the site listener, telemetry sockets included.",
        );
        let _ = writeln!(
            out,
            "candlefish_http_connections {}",
            self.http_connections()
        );
        header(
            &mut out,
            "candlefish_http_connections_refused_total",
            "counter",
            "Connections answered 503 by a connection cap.",
        );
        for cap in [Cap::Global, Cap::PerIp] {
            let _ = writeln!(
                out,
                "candlefish_http_connections_refused_total{{cap=\"{}\"}} {}",
                cap.as_str(),
                self.connections_refused[cap as usize].load(Ordering::Relaxed)
            );
        }

        let map = self
            .series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut keys: Vec<&SeriesKey> = map.keys().collect();
        keys.sort();
        let labels = |k: &SeriesKey| {
            format!(
                "release=\"{}\",mode=\"{}\",preset=\"{}\"",
                escape_label(&k.release),
                k.mode,
                k.preset
            )
        };
        type Pick = fn(&Series) -> &Hist;
        let simple: [(&str, &str, Pick); 7] = [
            ("candlefish_frame_time_seconds", "Frame time.", |s| {
                &s.frame_time
            }),
            ("candlefish_fps", "Frames per second per batch.", |s| &s.fps),
            (
                "candlefish_memory_usage_bytes",
                "Memory in use per batch.",
                |s| &s.memory,
            ),
            (
                "candlefish_render_calls_per_frame",
                "Mean draw calls per frame per batch.",
                |s| &s.draw_calls,
            ),
            (
                "candlefish_gpu_time_seconds",
                "Mean GPU time per frame per batch.",
                |s| &s.gpu,
            ),
            (
                "candlefish_load_time_seconds",
                "Time to first frame (page load for the simple message).",
                |s| &s.load,
            ),
            (
                "candlefish_web_vital_cls",
                "Cumulative Layout Shift.",
                |s| &s.cls,
            ),
        ];
        for (name, help, pick) in simple {
            header(&mut out, name, "histogram", help);
            for k in &keys {
                pick(&map[*k]).render(&mut out, name, &labels(k));
            }
        }
        header(
            &mut out,
            "candlefish_cpu_phase_seconds",
            "histogram",
            "Mean CPU time per frame by phase per batch.",
        );
        for k in &keys {
            for (phase, h) in CPU_PHASES.iter().zip(&map[*k].cpu) {
                h.render(
                    &mut out,
                    "candlefish_cpu_phase_seconds",
                    &format!("{},phase=\"{phase}\"", labels(k)),
                );
            }
        }
        header(
            &mut out,
            "candlefish_web_vital_seconds",
            "histogram",
            "Web vitals LCP, INP and TTFB.",
        );
        for k in &keys {
            for (vital, h) in ["lcp", "inp", "ttfb"].iter().zip(&map[*k].vitals) {
                h.render(
                    &mut out,
                    "candlefish_web_vital_seconds",
                    &format!("{},vital=\"{vital}\"", labels(k)),
                );
            }
        }
        header(
            &mut out,
            "candlefish_dropped_frames_total",
            "counter",
            "Frames reported dropped.",
        );
        for k in &keys {
            let _ = writeln!(
                out,
                "candlefish_dropped_frames_total{{{}}} {}",
                labels(k),
                map[*k].dropped
            );
        }
        header(
            &mut out,
            "candlefish_client_errors_total",
            "counter",
            "Client-reported errors by kind.",
        );
        for k in &keys {
            for (kind, n) in ErrorKind::ALL.iter().zip(map[*k].errors) {
                let _ = writeln!(
                    out,
                    "candlefish_client_errors_total{{{},kind=\"{}\"}} {n}",
                    labels(k),
                    kind.as_str()
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::validate::parse;

    #[test]
    fn observation_lands_in_histograms_and_counters() {
        let m = Metrics::default();
        let obs = parse(
            br#"{"type":"frames","release":"r1","session":"abcdefgh","mode":"webgpu","preset":"quality",
            "frame_ms":[16,16,40],"memory_bytes":100000000,"draw_calls":3,"gpu_ms":2}"#,
        )
        .unwrap();
        let key = SeriesKey {
            release: "r1".into(),
            mode: "webgpu",
            preset: "quality",
        };
        m.observe(&key, &obs);
        m.reject(Reason::Schema, true);
        let text = m.render();
        let l = "release=\"r1\",mode=\"webgpu\",preset=\"quality\"";
        assert!(
            text.contains(&format!(
                "candlefish_frame_time_seconds_bucket{{{l},le=\"0.0167\"}} 2"
            )),
            "{text}"
        );
        assert!(text.contains(&format!("candlefish_frame_time_seconds_count{{{l}}} 3")));
        assert!(text.contains(&format!("candlefish_render_calls_per_frame_count{{{l}}} 1")));
        assert!(text.contains("candlefish_telemetry_messages_total{result=\"accepted\"} 1"));
        assert!(text.contains("candlefish_telemetry_rejections_total{reason=\"schema\"} 1"));
        assert!(text.contains("candlefish_telemetry_samples_total 3"));
        assert!(!text.contains("abcdefgh"), "no session label");
    }

    #[test]
    fn grafana_dashboard_uses_only_exported_metrics() {
        let exported: Vec<String> = Metrics::default()
            .render()
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .map(str::to_owned)
            .collect();
        let dashboard = include_str!("../grafana/candlefish.json");
        let mut used = 0;
        for (i, _) in dashboard.match_indices("candlefish_") {
            let name: String = dashboard[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(&name);
            assert!(
                exported.iter().any(|e| e == base),
                "dashboard uses unknown metric {name}"
            );
            used += 1;
        }
        assert!(used > 10);
        for required in [
            "candlefish_frame_time_seconds",
            "candlefish_fps",
            "candlefish_telemetry_rejections_total",
        ] {
            assert!(dashboard.contains(required));
        }
    }
}

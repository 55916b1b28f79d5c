//! Cumulative Prometheus metrics, rendered in the text exposition format on the
//! private metrics listener. Base units (seconds, bytes); explicit-bucket histograms;
//! labels limited to `release` (from the server's side, see [`crate::labels`]),
//! `mode`, `preset` and small fixed enums — never a session id or a raw user agent.
//!
//! Frame rate is never averaged from per-batch rates: the true rate of any set of
//! series is `rate(candlefish_frame_time_seconds_count) /
//! rate(candlefish_frame_time_seconds_sum)` (frames ÷ the time they took).
//! `candlefish_fps` is a *distribution* of session windows' rates (one observation per
//! session per window, see [`crate::sessions`]): use it for "share of sessions below
//! 30 fps", never `_sum / _count`.
//!
//! Kept by hand rather than on `prometheus-client` (0.25): its `Histogram` records one
//! value per call, while a `frame_hist` message carries up to 60 000 frames as bucket
//! counts, recorded here with one weighted [`hist::Hist::count_n`] each; with the crate
//! a hostile client could make the server loop 60 000 times per message. The crate
//! would also change the exposition to OpenMetrics (`# EOF`, counters typed without
//! `_total`), which the Grafana dashboard, the recording rules and scrapers would have
//! to follow. Adding a metric is one field, one method and one block in
//! [`Metrics::render`].

pub mod hist;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use candlefish_protocol::{ErrorKind, Observation, PHASES, Phase, Reason, StepReason};

use crate::labels::SeriesKey;
use crate::serve::Cap;
use crate::sessions::{Admission, WindowSummary};
use hist::{
    CLS, CPU_SECONDS, DRAW_CALLS, DRAWN, FPS, FRAME_SECONDS, GPU_SECONDS, HTTP_SECONDS, Hist,
    LOAD_SECONDS, MEMORY_BYTES, TRIANGLES, escape_label,
};

/// Thread labels of `candlefish_sessions_total`: `worker`, `main`, `unknown`.
const THREADS: [&str; 3] = ["worker", "main", "unknown"];

/// Per-series histograms and counters.
#[derive(Debug, Clone)]
struct Series {
    frame_time: Hist,
    session_p95: Hist,
    fps: Hist,
    memory: Hist,
    draw_calls: Hist,
    triangles: Hist,
    drawn: Hist,
    gpu: Hist,
    cpu: [Hist; PHASES],
    load: Hist,
    vitals: [Hist; 3],
    cls: Hist,
    dropped: u64,
    errors: [u64; 6],
    dropped_batches: u64,
    steps: [u64; 4],
    sessions: [u64; 3],
    sessions_failed: [u64; 3],
}

impl Series {
    fn new() -> Self {
        Self {
            frame_time: Hist::new(&FRAME_SECONDS),
            session_p95: Hist::new(&FRAME_SECONDS),
            fps: Hist::new(FPS),
            memory: Hist::new(MEMORY_BYTES),
            draw_calls: Hist::new(DRAW_CALLS),
            triangles: Hist::new(TRIANGLES),
            drawn: Hist::new(DRAWN),
            gpu: Hist::new(GPU_SECONDS),
            cpu: std::array::from_fn(|_| Hist::new(CPU_SECONDS)),
            load: Hist::new(LOAD_SECONDS),
            vitals: std::array::from_fn(|_| Hist::new(LOAD_SECONDS)),
            cls: Hist::new(CLS),
            dropped: 0,
            errors: [0; 6],
            dropped_batches: 0,
            steps: [0; 4],
            sessions: [0; 3],
            sessions_failed: [0; 3],
        }
    }
}

/// Route classes of `candlefish_http_request_duration_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    /// An HTML page (`/`, `…/`, `*.html`).
    Page,
    /// Any other static file (and 404s for unknown paths).
    Asset,
    /// `/telemetry` (the WebSocket handshake) and `/telemetry/beacon`.
    Telemetry,
    /// `/api/…`.
    Api,
    /// `/dashboard…` (with `--public-dashboard`).
    Dashboard,
}

impl Route {
    /// The class of a request path.
    pub fn of(path: &str) -> Self {
        if path == "/telemetry" || path.starts_with("/telemetry/") {
            Self::Telemetry
        } else if path.starts_with("/api/") {
            Self::Api
        } else if path == "/dashboard" || path.starts_with("/dashboard/") {
            Self::Dashboard
        } else if path.ends_with('/') || path.ends_with(".html") {
            Self::Page
        } else {
            Self::Asset
        }
    }

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::Asset => "asset",
            Self::Telemetry => "telemetry",
            Self::Api => "api",
            Self::Dashboard => "dashboard",
        }
    }
}

/// Status class index (0 = 1xx … 4 = 5xx).
fn class_of(status: StatusCode) -> usize {
    usize::from(status.as_u16() / 100).clamp(1, 5) - 1
}

/// An HTTP duration series: route class, status class index, served release.
type HttpKey = (Route, usize, Arc<str>);

/// The server's metrics. Counters are atomics; per-series histograms sit behind one
/// mutex, taken once per accepted message.
#[derive(Debug, Default)]
pub struct Metrics {
    accepted: AtomicU64,
    rejected: AtomicU64,
    duplicates: AtomicU64,
    samples: AtomicU64,
    capped: AtomicU64,
    untracked: AtomicU64,
    tracked_sessions: AtomicI64,
    rejections: [AtomicU64; Reason::ALL.len()],
    connections: AtomicI64,
    http: [AtomicU64; 5],
    http_rate_limited: AtomicU64,
    http_connections: AtomicI64,
    connections_refused: [AtomicU64; 2],
    http_duration: Mutex<HashMap<HttpKey, Hist>>,
    series: Mutex<HashMap<SeriesKey, Series>>,
}

/// Seconds from milliseconds, rounded to the microsecond (so that an f32 `16.7` is
/// 0.0167 s, on its bucket edge, not 0.016700001).
fn seconds(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1e6
}

impl Metrics {
    /// Records an accepted observation under `key`, as admitted by the session table.
    pub fn observe(&self, key: &SeriesKey, obs: &Observation, a: &Admission) {
        let mut map = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let s = map.entry(key.clone()).or_insert_with(Series::new);
        let mut recorded = 0;
        for &(ms, n) in &a.frames {
            s.frame_time.count_n(seconds(f64::from(ms)), u64::from(n));
            recorded += u64::from(n);
        }
        s.frame_time.add_sum(seconds(a.frame_time_ms));
        if !a.tracked {
            // No session window to summarise (the legacy message, or the table is
            // full): one observation per message.
            let fps = obs.reported_fps.map(f64::from).or_else(|| obs.fps());
            if let Some(fps) = fps {
                s.fps.observe(fps);
            }
            if let Some(m) = obs.memory_bytes {
                s.memory.observe(m as f64);
            }
        }
        if let Some(d) = obs.draw_calls {
            s.draw_calls.observe(f64::from(d));
        }
        if let Some(t) = obs.triangles {
            s.triangles.observe(t);
        }
        if let Some(d) = obs.drawn {
            s.drawn.observe(f64::from(d));
        }
        if let Some(g) = obs.gpu_ms {
            s.gpu.observe(seconds(f64::from(g)));
        }
        for (h, v) in s.cpu.iter_mut().zip(obs.cpu_ms) {
            if let Some(v) = v {
                h.observe(seconds(f64::from(v)));
            }
        }
        if a.record_load
            && let Some(l) = obs.load.first_frame
        {
            s.load.observe(seconds(f64::from(l)));
        }
        let v = &obs.vitals;
        for (i, value) in [v.lcp_ms, v.inp_ms, v.ttfb_ms].into_iter().enumerate() {
            // record_vitals is in LCP, INP, CLS, TTFB order.
            let record = a.record_vitals[if i == 2 { 3 } else { i }];
            if let Some(ms) = value.filter(|_| record) {
                s.vitals[i].observe(seconds(f64::from(ms)));
            }
        }
        if let Some(cls) = v.cls.filter(|_| a.record_vitals[2]) {
            s.cls.observe(f64::from(cls));
        }
        s.dropped += u64::from(obs.dropped_frames);
        for kind in &obs.errors {
            s.errors[kind.index()] += 1;
        }
        s.dropped_batches += u64::from(obs.dropped_batches);
        for (reason, _) in &obs.governor {
            s.steps[reason.index()] += 1;
        }
        let thread = obs.thread.map_or(2, |t| t.index());
        if a.new_session {
            s.sessions[thread] += 1;
        }
        if a.first_failure {
            s.sessions_failed[thread] += 1;
        }
        drop(map);
        self.samples.fetch_add(recorded, Ordering::Relaxed);
        self.capped.fetch_add(a.capped, Ordering::Relaxed);
        if !a.tracked && obs.session.is_some() {
            self.untracked.fetch_add(1, Ordering::Relaxed);
        }
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// Records closed session windows: one observation each of the session's p95 frame
    /// time, frame rate and peak memory.
    pub fn observe_windows(&self, windows: &[WindowSummary]) {
        if windows.is_empty() {
            return;
        }
        let mut map = self.series.lock().unwrap_or_else(|e| e.into_inner());
        for w in windows {
            let s = map.entry(w.key.clone()).or_insert_with(Series::new);
            if let Some(p95) = w.p95_ms {
                s.session_p95.observe(seconds(p95));
            }
            if let Some(fps) = w.fps() {
                s.fps.observe(fps);
            }
            if let Some(m) = w.memory_max {
                s.memory.observe(m as f64);
            }
        }
    }

    /// Counts a message acknowledged but not counted again (its `seq` was seen).
    pub fn count_duplicate(&self) {
        self.duplicates.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets the gauge of tracked sessions.
    pub fn set_tracked_sessions(&self, n: usize) {
        self.tracked_sessions
            .store(i64::try_from(n).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// Counts a refusal; a refused message also counts in
    /// `candlefish_telemetry_messages_total{result="rejected"}`.
    pub fn reject(&self, reason: Reason) {
        self.rejections[reason.index()].fetch_add(1, Ordering::Relaxed);
        if reason.is_message() {
            self.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Adjusts the open-socket gauge.
    pub fn connections_add(&self, delta: i64) {
        self.connections.fetch_add(delta, Ordering::Relaxed);
    }

    /// Counts an HTTP response by status class, and its duration (to the response
    /// head) by route class, status class and the release the site serves.
    pub fn observe_http(&self, route: Route, status: StatusCode, release: Arc<str>, secs: f64) {
        let class = class_of(status);
        self.http[class].fetch_add(1, Ordering::Relaxed);
        let mut map = self.http_duration.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((route, class, release))
            .or_insert_with(|| Hist::new(HTTP_SECONDS))
            .observe(secs);
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

    /// Accepted messages so far (duplicates not included).
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Messages acknowledged as duplicates so far.
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// Frame samples recorded so far.
    pub fn samples(&self) -> u64 {
        self.samples.load(Ordering::Relaxed)
    }

    /// Frames left out by the per-session cap so far.
    pub fn capped(&self) -> u64 {
        self.capped.load(Ordering::Relaxed)
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
        let mut out = String::with_capacity(64 * 1024);
        let header = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        let scalar = |out: &mut String, name: &str, kind: &str, help: &str, v: String| {
            header(out, name, kind, help);
            let _ = writeln!(out, "{name} {v}");
        };
        header(
            &mut out,
            "candlefish_telemetry_messages_total",
            "counter",
            "Telemetry messages by result (duplicate: acknowledged, already counted).",
        );
        for (result, v) in [
            ("accepted", &self.accepted),
            ("rejected", &self.rejected),
            ("duplicate", &self.duplicates),
        ] {
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
        scalar(
            &mut out,
            "candlefish_telemetry_samples_total",
            "counter",
            "Frame-time samples recorded.",
            self.samples().to_string(),
        );
        scalar(
            &mut out,
            "candlefish_telemetry_frames_capped_total",
            "counter",
            "Frames left out because their session passed its weight in a window.",
            self.capped().to_string(),
        );
        scalar(
            &mut out,
            "candlefish_telemetry_sessions_untracked_total",
            "counter",
            "Messages of sessions not tracked because the session table was full.",
            self.untracked.load(Ordering::Relaxed).to_string(),
        );
        scalar(
            &mut out,
            "candlefish_telemetry_sessions_tracked",
            "gauge",
            "Sessions in the session table.",
            self.tracked_sessions.load(Ordering::Relaxed).to_string(),
        );
        scalar(
            &mut out,
            "candlefish_telemetry_connections",
            "gauge",
            "Open telemetry WebSocket connections.",
            self.connections().to_string(),
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
            "candlefish_http_request_duration_seconds",
            "histogram",
            "Site listener request duration to the response head, by route class, status \
             class and the release the site serves.",
        );
        let durations = self
            .http_duration
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut keys: Vec<_> = durations.keys().collect();
        keys.sort();
        for k in keys {
            durations[k].render(
                &mut out,
                "candlefish_http_request_duration_seconds",
                &format!(
                    "route=\"{}\",class=\"{}xx\",release=\"{}\"",
                    k.0.as_str(),
                    k.1 + 1,
                    escape_label(&k.2)
                ),
            );
        }
        scalar(
            &mut out,
            "candlefish_http_rate_limited_total",
            "counter",
            "HTTP requests refused by the per-IP rate limit.",
            self.http_rate_limited.load(Ordering::Relaxed).to_string(),
        );
        scalar(
            &mut out,
            "candlefish_http_connections",
            "gauge",
            "Open connections on the site listener, telemetry sockets included.",
            self.http_connections().to_string(),
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
        self.render_series(&mut out, header);
        out
    }

    fn render_series(&self, out: &mut String, header: impl Fn(&mut String, &str, &str, &str)) {
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
        let simple: [(&str, &str, Pick); 10] = [
            (
                "candlefish_frame_time_seconds",
                "Frame time (each session's weight capped per window). True frame rate: \
                 rate(_count) / rate(_sum).",
                |s| &s.frame_time,
            ),
            (
                "candlefish_session_frame_time_p95_seconds",
                "p95 frame time of one session in one window (one observation per session \
                 window).",
                |s| &s.session_p95,
            ),
            (
                "candlefish_fps",
                "Frame rate of one session in one window (frames / their time); a \
                 distribution, never average it.",
                |s| &s.fps,
            ),
            (
                "candlefish_memory_usage_bytes",
                "Peak memory of one session in one window (per message for the legacy \
                 message).",
                |s| &s.memory,
            ),
            (
                "candlefish_render_calls_per_frame",
                "Mean draw calls per frame per batch.",
                |s| &s.draw_calls,
            ),
            (
                "candlefish_triangles_per_frame",
                "Mean triangles per frame per batch.",
                |s| &s.triangles,
            ),
            (
                "candlefish_instances_drawn_per_frame",
                "Mean instances drawn per frame per batch.",
                |s| &s.drawn,
            ),
            (
                "candlefish_gpu_time_seconds",
                "Mean GPU time per frame per batch.",
                |s| &s.gpu,
            ),
            (
                "candlefish_load_time_seconds",
                "Time to first frame, once per session (page load for the legacy message).",
                |s| &s.load,
            ),
            (
                "candlefish_web_vital_cls",
                "Cumulative Layout Shift, once per session.",
                |s| &s.cls,
            ),
        ];
        for (name, help, pick) in simple {
            header(out, name, "histogram", help);
            for k in &keys {
                pick(&map[*k]).render(out, name, &labels(k));
            }
        }
        header(
            out,
            "candlefish_cpu_phase_seconds",
            "histogram",
            "Mean CPU time per frame by phase per batch.",
        );
        for k in &keys {
            for (phase, h) in Phase::ALL.iter().zip(&map[*k].cpu) {
                h.render(
                    out,
                    "candlefish_cpu_phase_seconds",
                    &format!("{},phase=\"{phase}\"", labels(k)),
                );
            }
        }
        header(
            out,
            "candlefish_web_vital_seconds",
            "histogram",
            "Web vitals LCP, INP and TTFB, once per session.",
        );
        for k in &keys {
            for (vital, h) in ["lcp", "inp", "ttfb"].iter().zip(&map[*k].vitals) {
                h.render(
                    out,
                    "candlefish_web_vital_seconds",
                    &format!("{},vital=\"{vital}\"", labels(k)),
                );
            }
        }
        let counter = |out: &mut String, name: &str, help: &str, pick: fn(&Series) -> u64| {
            header(out, name, "counter", help);
            for k in &keys {
                let _ = writeln!(out, "{name}{{{}}} {}", labels(k), pick(&map[*k]));
            }
        };
        counter(
            out,
            "candlefish_dropped_frames_total",
            "Frames reported dropped.",
            |s| s.dropped,
        );
        counter(
            out,
            "candlefish_client_dropped_batches_total",
            "Batches clients report they had to drop.",
            |s| s.dropped_batches,
        );
        header(
            out,
            "candlefish_client_errors_total",
            "counter",
            "Client-reported errors by kind (per error; the gate uses sessions).",
        );
        for k in &keys {
            for (kind, n) in ErrorKind::ALL.iter().zip(map[*k].errors) {
                let _ = writeln!(
                    out,
                    "candlefish_client_errors_total{{{},kind=\"{kind}\"}} {n}",
                    labels(k)
                );
            }
        }
        header(
            out,
            "candlefish_governor_steps_total",
            "counter",
            "Frame-governor steps by reason.",
        );
        for k in &keys {
            for (reason, n) in StepReason::ALL.iter().zip(map[*k].steps) {
                let _ = writeln!(
                    out,
                    "candlefish_governor_steps_total{{{},reason=\"{reason}\"}} {n}",
                    labels(k)
                );
            }
        }
        for (name, help, failed) in [
            (
                "candlefish_sessions_total",
                "Sessions seen (first message of each session id).",
                false,
            ),
            (
                "candlefish_sessions_failed_total",
                "Sessions that reported a failure (any error kind but backend_fallback), \
                 counted once each.",
                true,
            ),
        ] {
            header(out, name, "counter", help);
            for k in &keys {
                let s = &map[*k];
                let counts = if failed {
                    s.sessions_failed
                } else {
                    s.sessions
                };
                for (thread, n) in THREADS.iter().zip(counts) {
                    let _ = writeln!(out, "{name}{{{},thread=\"{thread}\"}} {n}", labels(k));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::Sessions;
    use std::time::{Duration, Instant};

    #[test]
    fn observation_lands_in_histograms_and_counters() {
        let m = Metrics::default();
        let obs = candlefish_protocol::parse(
            br#"{"type":"frames","release":"r1","session":"abcdefgh","mode":"webgpu","preset":"quality",
            "thread":"worker","frame_ms":[16,16.7,40],"memory_bytes":100000000,"draw_calls":3,"gpu_ms":2,
            "errors":[{"kind":"panic","message":"x"}]}"#,
        )
        .unwrap();
        let key = SeriesKey {
            release: "r1".into(),
            mode: "webgpu",
            preset: "quality",
        };
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(60), 10);
        let a = sessions.admit(&obs, &key, Instant::now());
        m.observe(&key, &obs, &a);
        m.observe_windows(&sessions.close_all());
        m.reject(Reason::Schema);
        m.reject(Reason::Origin);
        let text = m.render();
        let l = "release=\"r1\",mode=\"webgpu\",preset=\"quality\"";
        assert!(
            text.contains(&format!(
                "candlefish_frame_time_seconds_bucket{{{l},le=\"0.0167\"}} 2"
            )),
            "{text}"
        );
        assert!(text.contains(&format!("candlefish_frame_time_seconds_count{{{l}}} 3")));
        assert!(text.contains(&format!("candlefish_frame_time_seconds_sum{{{l}}} 0.0727")));
        assert!(text.contains(&format!("candlefish_render_calls_per_frame_count{{{l}}} 1")));
        assert!(text.contains(&format!(
            "candlefish_sessions_total{{{l},thread=\"worker\"}} 1"
        )));
        assert!(text.contains(&format!(
            "candlefish_sessions_failed_total{{{l},thread=\"worker\"}} 1"
        )));
        // Three frames: too few for a window's p95 and rate, but its memory counts.
        assert!(text.contains(&format!("candlefish_fps_count{{{l}}} 0")));
        assert!(text.contains(&format!("candlefish_memory_usage_bytes_count{{{l}}} 1")));
        assert!(text.contains("candlefish_telemetry_messages_total{result=\"accepted\"} 1"));
        assert!(text.contains("candlefish_telemetry_messages_total{result=\"rejected\"} 1"));
        assert!(text.contains("candlefish_telemetry_rejections_total{reason=\"schema\"} 1"));
        assert!(text.contains("candlefish_telemetry_rejections_total{reason=\"origin\"} 1"));
        assert!(text.contains("candlefish_telemetry_samples_total 3"));
        assert!(!text.contains("abcdefgh"), "no session label");
    }

    #[test]
    fn http_durations_by_route_class_and_release() {
        let m = Metrics::default();
        m.observe_http(Route::of("/"), StatusCode::OK, "b1".into(), 0.003);
        m.observe_http(Route::of("/x.js"), StatusCode::NOT_FOUND, "b1".into(), 0.2);
        let text = m.render();
        assert!(text.contains(
            "candlefish_http_request_duration_seconds_bucket{route=\"page\",class=\"2xx\",release=\"b1\",le=\"0.005\"} 1"
        ), "{text}");
        assert!(text.contains(
            "candlefish_http_request_duration_seconds_count{route=\"asset\",class=\"4xx\",release=\"b1\"} 1"
        ));
        assert!(text.contains("candlefish_http_requests_total{class=\"4xx\"} 1"));
        assert_eq!(Route::of("/telemetry/beacon"), Route::Telemetry);
        assert_eq!(Route::of("/api/hints"), Route::Api);
        assert_eq!(Route::of("/sub/"), Route::Page);
    }

    #[test]
    fn grafana_dashboard_uses_only_exported_metrics_and_recorded_series() {
        let m = Metrics::default();
        m.observe_http(Route::Page, StatusCode::OK, "b".into(), 0.001);
        let exported: Vec<String> = m
            .render()
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .map(str::to_owned)
            .collect();
        let rules = include_str!("../prometheus/rules.yml");
        let dashboard = include_str!("../grafana/candlefish.json");
        let mut used = 0;
        for (i, _) in dashboard.match_indices("candlefish_") {
            if dashboard[..i].ends_with(':') {
                continue;
            }
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
        assert!(used > 5);
        let mut recorded = 0;
        for (i, _) in dashboard.match_indices("candlefish:") {
            let name: String = dashboard[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            assert!(
                rules.contains(&format!("record: {name}\n")),
                "dashboard uses {name}, which no recording rule makes"
            );
            recorded += 1;
        }
        assert!(recorded >= 6, "the headline panels use the recorded series");
        for (i, _) in rules.match_indices("candlefish_") {
            let name: String = rules[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(&name);
            assert!(
                exported.iter().any(|e| e == base),
                "rules use unknown metric {name}"
            );
        }
    }
}

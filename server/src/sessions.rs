//! Per-session state, so that one session cannot outweigh the others and nothing is
//! counted twice:
//!
//! - **Weight cap.** Time is cut into windows (`--session-window-s`, aligned for all
//!   sessions). In one window a session's frames count for at most 1.5 × the window of
//!   frame time and [`SESSION_MAX_FPS`] frames per second of it; the rest is counted in
//!   `candlefish_telemetry_frames_capped_total` and left out. A session cannot claim
//!   more time than passes (a hostile or broken client sending 1024 one-minute frames a
//!   second weighs what a real session weighs).
//! - **One observation per session window** of its p95 frame time, its frame rate
//!   (frames ÷ their time) and its peak memory ([`WindowSummary`]). These
//!   distributions give every session the same weight, whatever its frame rate or
//!   message rate, which is what the release verdict compares.
//! - **Sessions and failures counted once**: the first message of a session, and its
//!   first failure, for the per-session error rate.
//! - **Once per session**: `load_ms` and each vital are recorded the first time only,
//!   so a client re-sending them every second does not weight them by session length.
//! - **Duplicates**: a `seq` seen before (a batch resent after a lost acknowledgement)
//!   is acknowledged but not counted again.
//!
//! State is bounded: `--max-sessions` sessions (then new ones are untracked), each
//! forgotten `--session-idle-s` after its last message.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use candlefish_protocol::Observation;
use candlefish_protocol::limits::FRAME_EDGES_MS;

use crate::labels::SeriesKey;

/// Most frames per second of window one session may contribute.
pub const SESSION_MAX_FPS: f64 = 240.0;
/// Most frame time per window one session may contribute, as a multiple of the window
/// (above 1 to leave room for batches resent after a reconnect).
pub const SESSION_TIME_FACTOR: f64 = 1.5;
/// Fewest frames a session window needs to give a p95 and a frame rate.
pub const MIN_WINDOW_FRAMES: u32 = 10;
/// How many earlier `seq` values are remembered per session.
const SEQ_WINDOW: u64 = 64;

/// One session's window, closed: what it contributes to the per-session distributions.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSummary {
    /// The series the session ran under.
    pub key: SeriesKey,
    /// Frames counted.
    pub frames: u32,
    /// Their time, milliseconds.
    pub time_ms: f64,
    /// The window's p95 frame time, ms (a bucket edge of [`FRAME_EDGES_MS`]), if it had
    /// at least [`MIN_WINDOW_FRAMES`] frames.
    pub p95_ms: Option<f64>,
    /// Its peak memory, bytes.
    pub memory_max: Option<u64>,
}

impl WindowSummary {
    /// Frames per second over the window, if it had enough frames.
    pub fn fps(&self) -> Option<f64> {
        (self.frames >= MIN_WINDOW_FRAMES && self.time_ms > 0.0)
            .then(|| f64::from(self.frames) * 1000.0 / self.time_ms)
    }
}

/// What to record of one message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Admission {
    /// A batch already counted: acknowledge, record nothing.
    pub duplicate: bool,
    /// Whether the session is tracked (else: the legacy message, or the table is full).
    pub tracked: bool,
    /// The first message of this session.
    pub new_session: bool,
    /// The session's first failure.
    pub first_failure: bool,
    /// Record `load_ms` (the first time only).
    pub record_load: bool,
    /// Record each vital (LCP, INP, CLS, TTFB; the first time only).
    pub record_vitals: [bool; 4],
    /// The frames to record (the message's, less what the weight cap left out).
    pub frames: Vec<(f32, u32)>,
    /// Their time, ms.
    pub frame_time_ms: f64,
    /// Frames left out by the cap.
    pub capped: u64,
    /// Windows this message closed (the session's previous window, or its window
    /// under other labels).
    pub closed: Vec<WindowSummary>,
}

#[derive(Debug)]
struct OpenWindow {
    index: u64,
    key: SeriesKey,
    frames: u32,
    time_ms: f64,
    hist: [u32; FRAME_EDGES_MS.len()],
    memory_max: Option<u64>,
}

impl OpenWindow {
    fn new(index: u64, key: SeriesKey) -> Self {
        Self {
            index,
            key,
            frames: 0,
            time_ms: 0.0,
            hist: [0; FRAME_EDGES_MS.len()],
            memory_max: None,
        }
    }

    fn close(self) -> WindowSummary {
        let p95_ms = (self.frames >= MIN_WINDOW_FRAMES).then(|| {
            // Nearest rank: the bucket holding the ceil(0.95 n)-th frame.
            let rank = (f64::from(self.frames) * 0.95).ceil() as u64;
            let mut seen = 0u64;
            let bucket = self
                .hist
                .iter()
                .position(|&c| {
                    seen += u64::from(c);
                    seen >= rank
                })
                .unwrap_or(FRAME_EDGES_MS.len() - 1);
            FRAME_EDGES_MS[bucket]
        });
        WindowSummary {
            key: self.key,
            frames: self.frames,
            time_ms: self.time_ms,
            p95_ms,
            memory_max: self.memory_max,
        }
    }
}

#[derive(Debug)]
struct Session {
    last_seen: Instant,
    failed: bool,
    load_seen: bool,
    vitals_seen: [bool; 4],
    seq_high: u64,
    seq_bits: u64,
    window: Option<OpenWindow>,
}

impl Session {
    fn new(now: Instant) -> Self {
        Self {
            last_seen: now,
            failed: false,
            load_seen: false,
            vitals_seen: [false; 4],
            seq_high: 0,
            seq_bits: 0,
            window: None,
        }
    }

    /// Marks `seq` seen; `true` if it was already (or is too old to tell).
    fn seen(&mut self, seq: u64) -> bool {
        if seq > self.seq_high {
            let shift = seq - self.seq_high;
            self.seq_bits = if self.seq_high == 0 || shift > SEQ_WINDOW {
                0
            } else {
                self.seq_bits.checked_shl(shift as u32).unwrap_or(0) | (1 << (shift - 1))
            };
            self.seq_high = seq;
            false
        } else if seq == self.seq_high {
            true
        } else {
            let behind = self.seq_high - seq;
            if behind > SEQ_WINDOW {
                return true;
            }
            let bit = 1u64 << (behind - 1);
            let seen = self.seq_bits & bit != 0;
            self.seq_bits |= bit;
            seen
        }
    }
}

/// The session table.
#[derive(Debug)]
pub struct Sessions {
    start: Instant,
    window_len: Duration,
    idle: Duration,
    max_sessions: usize,
    map: Mutex<HashMap<Box<str>, Session>>,
}

impl Sessions {
    /// A table of at most `max_sessions`, with windows of `window_len`, forgetting a
    /// session `idle` after its last message.
    pub fn new(window_len: Duration, idle: Duration, max_sessions: usize) -> Self {
        Self {
            start: Instant::now(),
            window_len: window_len.max(Duration::from_millis(10)),
            idle,
            max_sessions,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn index(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.start).as_nanos() / self.window_len.as_nanos()) as u64
    }

    /// Sessions tracked now.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no session is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decides what of `obs` (labelled `key`) to record.
    pub fn admit(&self, obs: &Observation, key: &SeriesKey, now: Instant) -> Admission {
        let untracked = || Admission {
            record_load: true,
            record_vitals: [true; 4],
            frames: obs.frames.clone(),
            frame_time_ms: obs.frame_time_ms,
            first_failure: false,
            ..Admission::default()
        };
        let Some(id) = obs.session.as_deref() else {
            return untracked();
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let full = map.len() >= self.max_sessions;
        let new_session = !map.contains_key(id);
        if new_session && full {
            return untracked();
        }
        let session = map.entry(id.into()).or_insert_with(|| Session::new(now));
        session.last_seen = now;
        if let Some(seq) = obs.seq
            && session.seen(seq)
        {
            return Admission {
                duplicate: true,
                tracked: true,
                ..Admission::default()
            };
        }
        let mut a = Admission {
            tracked: true,
            new_session,
            ..Admission::default()
        };
        if obs.errors.iter().any(|k| k.is_failure()) && !session.failed {
            session.failed = true;
            a.first_failure = true;
        }
        let load_sent = obs.load.first_frame.is_some();
        a.record_load = load_sent && !session.load_seen;
        session.load_seen |= load_sent;
        let v = &obs.vitals;
        for (i, present) in [v.lcp_ms, v.inp_ms, v.cls, v.ttfb_ms]
            .iter()
            .map(Option::is_some)
            .enumerate()
        {
            a.record_vitals[i] = present && !session.vitals_seen[i];
            session.vitals_seen[i] |= present;
        }

        let index = self.index(now);
        if let Some(w) = session
            .window
            .take_if(|w| w.index != index || w.key != *key)
        {
            a.closed.push(w.close());
        }
        let w = session
            .window
            .get_or_insert_with(|| OpenWindow::new(index, key.clone()));
        if let Some(m) = obs.memory_bytes {
            w.memory_max = Some(w.memory_max.map_or(m, |x| x.max(m)));
        }
        let window_s = self.window_len.as_secs_f64();
        let frame_cap = (SESSION_MAX_FPS * window_s) as u64;
        let mut frames_left = frame_cap.saturating_sub(u64::from(w.frames));
        let mut time_left = (SESSION_TIME_FACTOR * window_s * 1000.0 - w.time_ms).max(0.0);
        let mut kept_all = true;
        for &(ms, count) in &obs.frames {
            let fit = (time_left / f64::from(ms)).floor() as u64;
            let k = u64::from(count).min(frames_left).min(fit);
            if k < u64::from(count) {
                kept_all = false;
                a.capped += u64::from(count) - k;
            }
            if k == 0 {
                continue;
            }
            // k ≤ count, a u32.
            let k32 = k as u32;
            a.frames.push((ms, k32));
            frames_left -= k;
            time_left -= f64::from(ms) * k as f64;
            // In the f32 the client sent: 16.7 is in the bucket whose edge is 16.7.
            let bucket = FRAME_EDGES_MS
                .partition_point(|e| (*e as f32) < ms)
                .min(FRAME_EDGES_MS.len() - 1);
            w.hist[bucket] += k32;
            w.frames += k32;
        }
        a.frame_time_ms = if kept_all {
            obs.frame_time_ms
        } else {
            a.frames
                .iter()
                .map(|&(ms, n)| f64::from(ms) * f64::from(n))
                .sum()
        };
        w.time_ms += a.frame_time_ms;
        a
    }

    /// Closes every window that has ended and forgets idle sessions.
    pub fn sweep(&self, now: Instant) -> Vec<WindowSummary> {
        let index = self.index(now);
        let mut closed = Vec::new();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| {
            if let Some(w) = s.window.take_if(|w| w.index < index) {
                closed.push(w.close());
            }
            now.saturating_duration_since(s.last_seen) < self.idle
        });
        closed
    }

    /// Closes every open window (at shutdown, so the last scrape sees them).
    pub fn close_all(&self) -> Vec<WindowSummary> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.values_mut()
            .filter_map(|s| s.window.take().map(OpenWindow::close))
            .collect()
    }

    /// How often [`Self::sweep`] should run.
    pub fn sweep_every(&self) -> Duration {
        (self.window_len / 4).clamp(Duration::from_millis(20), Duration::from_secs(15))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candlefish_protocol::{ErrorKind, LoadTimes, Mode, Preset, Vitals};

    fn key() -> SeriesKey {
        SeriesKey {
            release: "r".into(),
            mode: "webgl",
            preset: "quality",
        }
    }

    fn obs(session: &str, seq: Option<u64>, frames: &[(f32, u32)]) -> Observation {
        Observation {
            release: "r".into(),
            session: Some(session.into()),
            seq,
            mode: Some(Mode::Webgl),
            preset: Some(Preset::Quality),
            thread: None,
            frames: frames.to_vec(),
            samples: frames.iter().map(|&(_, n)| u64::from(n)).sum(),
            frame_time_ms: frames
                .iter()
                .map(|&(ms, n)| f64::from(ms) * f64::from(n))
                .sum(),
            reported_fps: None,
            cpu_ms: [None; 7],
            gpu_ms: None,
            dropped_frames: 0,
            memory_bytes: None,
            draw_calls: None,
            triangles: None,
            drawn: None,
            load: LoadTimes::default(),
            vitals: Vitals::default(),
            errors: Vec::new(),
            dropped_batches: 0,
            governor: Vec::new(),
        }
    }

    #[test]
    fn a_session_weighs_at_most_its_window() {
        let s = Sessions::new(Duration::from_secs(10), Duration::from_secs(60), 100);
        let now = Instant::now();
        // 1024 one-minute frames: far more time than 10 s can hold.
        let a = s.admit(&obs("aaaaaaaa", None, &[(60_000.0, 1024)]), &key(), now);
        assert!(a.new_session && a.tracked);
        assert_eq!(a.frames, vec![]);
        assert_eq!(a.capped, 1024);
        // 15 s of 10 ms frames: 1500 frames, allowed (the cap is 15 s and 2400 frames).
        let a = s.admit(&obs("aaaaaaaa", None, &[(10.0, 1500)]), &key(), now);
        assert_eq!((a.frames.clone(), a.capped), (vec![(10.0, 1500)], 0));
        // The window is full.
        let a = s.admit(&obs("aaaaaaaa", None, &[(10.0, 10)]), &key(), now);
        assert_eq!((a.frames.len(), a.capped), (0, 10));
        assert!(!a.new_session);
        // Fast frames hit the frame cap: 2400 per 10 s window.
        let b = s.admit(&obs("bbbbbbbb", None, &[(1.0, 5000)]), &key(), now);
        assert_eq!((b.frames.clone(), b.capped), (vec![(1.0, 2400)], 2600));
    }

    #[test]
    fn windows_close_into_one_summary_each() {
        let s = Sessions::new(Duration::from_secs(10), Duration::from_secs(60), 100);
        let now = Instant::now();
        let mut o = obs("aaaaaaaa", None, &[(16.0, 90), (40.0, 10)]);
        o.memory_bytes = Some(30_000_000);
        s.admit(&o, &key(), now);
        o.memory_bytes = Some(20_000_000);
        s.admit(&o, &key(), now);
        s.admit(&obs("bbbbbbbb", None, &[(16.0, 5)]), &key(), now);
        assert!(s.sweep(now).is_empty(), "still open");
        let mut closed = s.sweep(now + Duration::from_secs(25));
        closed.sort_by_key(|w| w.frames);
        assert_eq!(closed.len(), 2);
        assert_eq!(
            (closed[0].frames, closed[0].p95_ms, closed[0].fps()),
            (5, None, None)
        );
        let w = &closed[1];
        assert_eq!(w.frames, 200);
        assert_eq!(w.p95_ms, Some(42.0), "the bucket holding 40 ms");
        assert_eq!(w.memory_max, Some(30_000_000));
        assert!((w.fps().unwrap() - 200_000.0 / 3680.0).abs() < 1e-9);
        // Idle sessions are forgotten.
        let s = Sessions::new(Duration::from_secs(1), Duration::from_millis(10), 100);
        s.admit(&obs("aaaaaaaa", None, &[(16.0, 1)]), &key(), now);
        s.sweep(now + Duration::from_secs(2));
        assert!(s.is_empty());
    }

    #[test]
    fn resent_batches_are_counted_once() {
        let s = Sessions::new(Duration::from_secs(10), Duration::from_secs(60), 100);
        let now = Instant::now();
        let admit = |seq| s.admit(&obs("aaaaaaaa", Some(seq), &[(16.0, 1)]), &key(), now);
        assert!(!admit(1).duplicate);
        assert!(!admit(3).duplicate);
        assert!(admit(1).duplicate);
        assert!(!admit(2).duplicate, "a gap filled later");
        assert!(admit(2).duplicate);
        assert!(admit(3).duplicate);
        assert!(!admit(200).duplicate);
        assert!(admit(100).duplicate, "too old to tell: dropped");
        assert!(!admit(199).duplicate);
    }

    #[test]
    fn sessions_failures_load_and_vitals_once() {
        let s = Sessions::new(Duration::from_secs(10), Duration::from_secs(60), 1);
        let now = Instant::now();
        let mut o = obs("aaaaaaaa", None, &[]);
        o.errors = vec![ErrorKind::BackendFallback];
        o.load.first_frame = Some(700.0);
        o.vitals.lcp_ms = Some(1200.0);
        let a = s.admit(&o, &key(), now);
        assert!(a.new_session && !a.first_failure && a.record_load);
        assert_eq!(a.record_vitals, [true, false, false, false]);
        o.errors = vec![ErrorKind::Panic, ErrorKind::Shader];
        o.vitals.cls = Some(0.1);
        let a = s.admit(&o, &key(), now);
        assert!(!a.new_session && a.first_failure && !a.record_load);
        assert_eq!(a.record_vitals, [false, false, true, false]);
        assert!(!s.admit(&o, &key(), now).first_failure);
        // The table holds one session: another is untracked, recorded as sent.
        let b = s.admit(&obs("bbbbbbbb", None, &[(60_000.0, 2)]), &key(), now);
        assert!(!b.tracked && b.record_load);
        assert_eq!(b.frames, vec![(60_000.0, 2)]);
    }
}

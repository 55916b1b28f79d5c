use super::*;
use crate::metrics::hist::{FPS, FRAME_SECONDS, HTTP_SECONDS, MEMORY_BYTES};

/// A small deterministic generator (xorshift64*) with normal draws.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Observations binned over `bounds` (+Inf last), as the server's histograms do.
fn bin(bounds: &[f64], values: impl IntoIterator<Item = f64>) -> Binned {
    let mut counts = vec![0.0; bounds.len() + 1];
    for v in values {
        counts[bounds.partition_point(|b| *b < v)] += 1.0;
    }
    let mut le = bounds.to_vec();
    le.push(f64::INFINITY);
    Binned { le, counts }
}

/// One synthetic session: its speed (1 = 15 ms frames), windows, memory, failure.
#[derive(Clone, Copy)]
struct Session {
    speed: f64,
    windows: usize,
    memory: f64,
    failed: bool,
}

/// What Prometheus would return for these sessions (60 s windows, 1 s of frames per
/// second of window, 5 % frame-to-frame spread within a window).
fn release(sessions: &[Session], rng: &mut Rng) -> ReleaseData {
    let (mut p95s, mut fpss, mut mems, mut frames) = (vec![], vec![], vec![], vec![]);
    let (mut n, mut secs) = (0.0, 0.0);
    for s in sessions {
        for _ in 0..s.windows {
            let mean = 0.015 * s.speed * (1.0 + 0.03 * rng.normal());
            p95s.push(mean * 1.1);
            let window_frames = (60.0 / mean).min(60.0 * 240.0);
            fpss.push(window_frames / 60.0);
            mems.push(s.memory);
            n += window_frames;
            secs += window_frames * mean;
            frames.push(mean * 1.05);
        }
    }
    // The pooled frame histogram, scaled from one representative frame per window.
    let mut frame_time = bin(&FRAME_SECONDS, frames);
    let scale = n / frame_time.total().max(1.0);
    frame_time.counts.iter_mut().for_each(|c| *c *= scale);
    ReleaseData {
        frames: n,
        frame_seconds: secs,
        frame_time,
        session_p95: bin(&FRAME_SECONDS, p95s),
        session_fps: bin(FPS, fpss),
        memory: bin(MEMORY_BYTES, mems),
        sessions: sessions.len() as f64,
        failed: sessions.iter().filter(|s| s.failed).count() as f64,
        http: bin(HTTP_SECONDS, (0..500).map(|k| 0.002 + f64::from(k) * 1e-5)),
        http_5xx: 0.0,
    }
}

/// `n` sessions with speeds spread ±`spread` (log-normal), slowed by `slower`.
fn population(n: usize, spread: f64, slower: f64, rng: &mut Rng) -> Vec<Session> {
    (0..n)
        .map(|_| Session {
            speed: (spread * rng.normal()).exp() * (1.0 + slower),
            windows: 10,
            memory: 30e6,
            failed: false,
        })
        .collect()
}

/// The defaults with the sample minimums of a 40-session test.
fn gates() -> Gates {
    Gates {
        min_sessions: 30.0,
        min_session_windows: 100.0,
        ..Gates::default()
    }
}

#[test]
fn same_distribution_promotes() {
    let mut rng = Rng(7);
    let base = release(&population(40, 0.12, 0.0, &mut rng), &mut rng);
    let canary = release(&population(40, 0.12, 0.0, &mut rng), &mut rng);
    let v = decide(&gates(), &canary, &base);
    assert_eq!(v.decision, Decision::Promote, "{v:#?}");
    assert!(v.checks.iter().all(|c| c.result == "ok"), "{v:#?}");
}

#[test]
fn too_few_sessions_hold() {
    let mut rng = Rng(8);
    let base = release(&population(40, 0.12, 0.0, &mut rng), &mut rng);
    let canary = release(&population(5, 0.12, 0.0, &mut rng), &mut rng);
    let v = decide(&gates(), &canary, &base);
    assert_eq!(v.decision, Decision::Hold, "{v:#?}");
    assert!(
        v.reasons[0].contains("canary: 5 sessions, 30 needed"),
        "{v:?}"
    );
    assert_eq!(v.decision.exit_code(), 3);
}

#[test]
fn fifteen_percent_slower_rolls_back() {
    let mut rng = Rng(9);
    let base = release(&population(40, 0.12, 0.0, &mut rng), &mut rng);
    let canary = release(&population(40, 0.12, 0.15, &mut rng), &mut rng);
    let v = decide(&gates(), &canary, &base);
    assert_eq!(v.decision, Decision::Rollback, "{v:#?}");
    assert!(
        v.reasons
            .iter()
            .any(|r| r.starts_with("median session p95 frame time")),
        "{v:#?}"
    );
    assert_eq!(v.decision.exit_code(), 4);
}

#[test]
fn one_pathological_session_does_not_roll_back() {
    let mut rng = Rng(10);
    let base = release(&population(40, 0.12, 0.0, &mut rng), &mut rng);
    let mut sessions = population(40, 0.12, 0.0, &mut rng);
    // Twenty times slower, with 20 times the memory, in every window.
    sessions.push(Session {
        speed: 20.0,
        windows: 10,
        memory: 600e6,
        failed: false,
    });
    let canary = release(&sessions, &mut rng);
    let v = decide(&gates(), &canary, &base);
    assert_eq!(v.decision, Decision::Promote, "{v:#?}");
}

#[test]
fn failures_roll_back_only_when_significant() {
    let mut rng = Rng(11);
    let base = release(&population(40, 0.12, 0.0, &mut rng), &mut rng);
    let mut sessions = population(40, 0.12, 0.0, &mut rng);
    sessions[0].failed = true;
    let v = decide(&gates(), &release(&sessions, &mut rng), &base);
    assert_eq!(v.decision, Decision::Promote, "one failure in 40: {v:#?}");
    for s in &mut sessions[..5] {
        s.failed = true;
    }
    // Two failures in 40 would not happen at 0.1 % (p = 0.08 %): rolled back.
    sessions[1].failed = true;
    let v = decide(&gates(), &release(&sessions, &mut rng), &base);
    assert_eq!(v.decision, Decision::Rollback, "two failures in 41: {v:#?}");
    // Five of five sessions failed: significant even before the sample minimum.
    let v = decide(&gates(), &release(&sessions[..5], &mut rng), &base);
    assert_eq!(v.decision, Decision::Rollback, "{v:#?}");
    assert!(v.reasons[0].starts_with("session failure rate"), "{v:?}");
}

#[test]
fn memory_over_the_gate_rolls_back() {
    let mut rng = Rng(12);
    let base = release(&population(40, 0.12, 0.0, &mut rng), &mut rng);
    let mut sessions = population(40, 0.12, 0.0, &mut rng);
    sessions.iter_mut().for_each(|s| s.memory = 70e6);
    let v = decide(&gates(), &release(&sessions, &mut rng), &base);
    assert_eq!(v.decision, Decision::Rollback, "{v:#?}");
    assert!(v.reasons[0].starts_with("p95 session peak memory"), "{v:?}");
}

/// The false-rollback rate of the relative checks, and their power, by simulation:
/// baseline and canary drawn from the same population of devices (speeds log-normal
/// with sigma 0.25: one session in six is 28 % slower than the median or more), the
/// default minimum of 100 sessions each (`SIM_N` to change it), 10 windows each, 2000
/// verdicts; then a canary 15 % slower.
#[test]
fn false_rollback_rate() {
    let trials = 2000;
    let mut rng = Rng(0x5eed);
    let g = Gates::default();
    let n: usize = std::env::var("SIM_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let rate = |rng: &mut Rng, slower: f64| {
        let mut rollbacks = 0;
        for _ in 0..trials {
            let base = release(&population(n, 0.25, 0.0, rng), rng);
            let canary = release(&population(n, 0.25, slower, rng), rng);
            let v = decide(&g, &canary, &base);
            if v.decision == Decision::Rollback
                && v.reasons.iter().any(|r| r.starts_with("median session"))
            {
                rollbacks += 1;
            }
        }
        f64::from(rollbacks) / f64::from(trials)
    };
    let false_rate = rate(&mut rng, 0.0);
    let power = rate(&mut rng, 0.15);
    eprintln!(
        "verdict simulation: {trials} verdicts each: false rollback {:.2} %, 15 % slower rolled back {:.1} %",
        100.0 * false_rate,
        100.0 * power
    );
    assert!(false_rate <= g.alpha, "{false_rate}");
    if n >= 100 {
        assert!(power >= 0.85, "{power}");
    }
}

#[test]
fn the_example_gates_file_holds_the_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/prometheus/gates.toml");
    assert_eq!(
        Gates::read(std::path::Path::new(path)).unwrap(),
        Gates::default()
    );
    assert!(toml::from_str::<Gates>("fps_min = 50\nbogus = 1").is_err());
    assert!(valid_range("30m") && valid_range("1h30m") && !valid_range("5m]) or vector(1"));
}

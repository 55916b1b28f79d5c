//! The frame governor: measures the display's real frame interval and the frames the
//! runtime achieves, and steps along the quality ladder ([`crate::preset::LADDER`]) so
//! that the page keeps its frame rate on slow or software-rendered devices.
//!
//! - **Budget**: the display's frame interval (60, 75, 90, 120, 144 Hz… snapped from the
//!   fastest intervals seen), never more than a 60 fps frame.
//! - **Down** one rung when the p90 frame interval of the last [`WINDOW`] frames has
//!   been over 1.25× the budget for 2 s (1 s when it is over 2.5×).
//! - **Up** one rung when, for 5 s, the p90 frame interval is within 1.1× the budget
//!   *and* the p90 work time (CPU, plus GPU where measured) is under half of it: with
//!   vsync the interval alone cannot show headroom.
//! - **No oscillation**: after any step the statistics restart and nothing is decided
//!   for a dwell time; a rung left because it overran may not be re-entered for a
//!   back-off that starts at 60 s and doubles each time it overruns again.
//! - **Hidden tabs** cost nothing and are never measured: [`Governor::suspend`] stops
//!   decisions, [`Governor::resume`] restarts the statistics.
//! - Canvas 2D is never left upwards automatically (that needs a fresh canvas); it gives
//!   way to the paused frame only after 5 s of overrun, and the paused rung is left
//!   only by the person pressing Play.
//!
//! Plain data and arithmetic: tested with synthetic frame-time series.

use crate::preset::{LADDER, RungKind};

/// Frames in the statistics window.
pub const WINDOW: usize = 60;

/// Display rates the interval estimate snaps to, Hz.
const DISPLAY_RATES: [f32; 8] = [60.0, 75.0, 90.0, 100.0, 120.0, 144.0, 165.0, 240.0];

/// Tunables (the defaults are what the runtime uses; tests use them too).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GovernorConfig {
    /// p90 interval above this × budget is an overrun.
    pub overrun_factor: f32,
    /// How long an overrun must last before stepping down, ms.
    pub overrun_hold_ms: f64,
    /// p90 interval above this × budget is a severe overrun.
    pub severe_factor: f32,
    /// How long a severe overrun must last, ms.
    pub severe_hold_ms: f64,
    /// How long an overrun must last before the last drawing rung gives way to the
    /// paused frame, ms: pausing the page is the most drastic step.
    pub pause_hold_ms: f64,
    /// p90 work time below this × budget (and interval within `settled_factor`) is
    /// headroom.
    pub headroom_factor: f32,
    /// p90 interval within this × budget counts as keeping up.
    pub settled_factor: f32,
    /// How long headroom must last before stepping up, ms.
    pub headroom_hold_ms: f64,
    /// Frames needed after a reset before anything is decided.
    pub min_frames: usize,
    /// No decision for this long after a step, ms.
    pub dwell_ms: f64,
    /// First back-off before re-entering a rung that overran, ms.
    pub backoff_ms: f64,
    /// Longest back-off, ms.
    pub max_backoff_ms: f64,
}

impl Default for GovernorConfig {
    fn default() -> Self {
        Self {
            overrun_factor: 1.25,
            overrun_hold_ms: 2000.0,
            severe_factor: 2.5,
            severe_hold_ms: 1000.0,
            pause_hold_ms: 5000.0,
            headroom_factor: 0.5,
            settled_factor: 1.1,
            headroom_hold_ms: 5000.0,
            min_frames: 3,
            dwell_ms: 1000.0,
            backoff_ms: 60_000.0,
            max_backoff_ms: 600_000.0,
        }
    }
}

/// Why the governor moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepReason {
    /// Frames took too long for the budget.
    Overrun,
    /// Frames had room to spare.
    Headroom,
    /// The adapter rasterises in software: start low.
    Software,
    /// The person asked (Play on the paused frame, or a setting).
    User,
}

impl StepReason {
    /// Name for telemetry and the overlay.
    pub fn name(self) -> &'static str {
        match self {
            Self::Overrun => "overrun",
            Self::Headroom => "headroom",
            Self::Software => "software",
            Self::User => "user",
        }
    }
}

/// A move from one rung to another.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// Rung left (index into [`LADDER`]).
    pub from: usize,
    /// Rung entered.
    pub to: usize,
    /// Why.
    pub reason: StepReason,
    /// The p90 frame interval that triggered it, ms (0 when not measured).
    pub p90_ms: f32,
    /// The p90 work time at the time, ms.
    pub work_p90_ms: f32,
    /// The budget at the time, ms.
    pub budget_ms: f32,
    /// When, in the caller's clock, ms.
    pub at_ms: f64,
}

/// A fixed ring of the last [`WINDOW`] values.
#[derive(Clone, Debug)]
struct Ring {
    values: [f32; WINDOW],
    len: usize,
    next: usize,
}

impl Ring {
    const fn new() -> Self {
        Self {
            values: [0.0; WINDOW],
            len: 0,
            next: 0,
        }
    }

    fn push(&mut self, v: f32) {
        self.values[self.next] = v;
        self.next = (self.next + 1) % WINDOW;
        self.len = (self.len + 1).min(WINDOW);
    }

    fn clear(&mut self) {
        self.len = 0;
        self.next = 0;
    }

    /// Nearest-rank percentile, without allocating.
    fn percentile(&self, p: f32) -> f32 {
        if self.len == 0 {
            return 0.0;
        }
        let mut scratch = [0.0f32; WINDOW];
        let v = &mut scratch[..self.len];
        v.copy_from_slice(&self.values[..self.len]);
        let rank = ((p * self.len as f32).ceil() as usize).clamp(1, self.len) - 1;
        let (_, x, _) = v.select_nth_unstable_by(rank, f32::total_cmp);
        *x
    }
}

/// The frame governor.
#[derive(Clone, Debug)]
pub struct Governor {
    config: GovernorConfig,
    rung: usize,
    intervals: Ring,
    work: Ring,
    display_hz: f32,
    overrun_since: Option<f64>,
    headroom_since: Option<f64>,
    decide_after: f64,
    suspended: bool,
    /// Per rung: no re-entry before this time, and the next back-off.
    blocked_until: [f64; LADDER.len()],
    backoff: [f64; LADDER.len()],
    steps: u32,
}

impl Governor {
    /// A governor starting at rung `start` (clamped to the ladder).
    pub fn new(config: GovernorConfig, start: usize) -> Self {
        Self {
            rung: start.min(LADDER.len() - 1),
            intervals: Ring::new(),
            work: Ring::new(),
            display_hz: 60.0,
            overrun_since: None,
            headroom_since: None,
            decide_after: 0.0,
            suspended: false,
            blocked_until: [f64::NEG_INFINITY; LADDER.len()],
            backoff: [config.backoff_ms; LADDER.len()],
            steps: 0,
            config,
        }
    }

    /// The current rung (index into [`LADDER`]).
    pub fn rung(&self) -> usize {
        self.rung
    }

    /// The display's refresh rate as estimated so far, Hz.
    pub fn display_hz(&self) -> f32 {
        self.display_hz
    }

    /// The frame budget, ms: the display interval, at most a 60 fps frame.
    pub fn budget_ms(&self) -> f32 {
        (1000.0 / self.display_hz).min(1000.0 / 60.0)
    }

    /// p90 of the frame intervals in the window, ms.
    pub fn p90_ms(&self) -> f32 {
        self.intervals.percentile(0.9)
    }

    /// p90 of the work times in the window, ms.
    pub fn work_p90_ms(&self) -> f32 {
        self.work.percentile(0.9)
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// Whether decisions are suspended (hidden tab).
    pub fn suspended(&self) -> bool {
        self.suspended
    }

    /// One frame: `interval_ms` since the previous frame was shown, `work_ms` the
    /// frame's own cost (CPU phases, plus GPU time where measured), `now_ms` the
    /// frame's timestamp. Returns the step taken, if any; the caller applies it.
    pub fn frame(&mut self, now_ms: f64, interval_ms: f32, work_ms: f32) -> Option<Step> {
        if self.suspended || !interval_ms.is_finite() || interval_ms <= 0.0 {
            return None;
        }
        self.intervals.push(interval_ms);
        self.work.push(if work_ms.is_finite() {
            work_ms.max(0.0)
        } else {
            0.0
        });
        self.estimate_display();
        if now_ms < self.decide_after || self.intervals.len < self.config.min_frames {
            return None;
        }
        let budget = self.budget_ms();
        let p90 = self.p90_ms();
        let work = self.work_p90_ms();
        let kind = LADDER[self.rung].kind;

        // Down.
        if p90 > self.config.overrun_factor * budget && kind != RungKind::Paused {
            self.headroom_since = None;
            let since = *self.overrun_since.get_or_insert(now_ms);
            let next = LADDER.get(self.rung + 1).map(|r| r.kind);
            let hold = if next == Some(RungKind::Paused) {
                self.config.pause_hold_ms
            } else if p90 > self.config.severe_factor * budget {
                self.config.severe_hold_ms
            } else {
                self.config.overrun_hold_ms
            };
            if now_ms - since >= hold && self.rung + 1 < LADDER.len() {
                let from = self.rung;
                self.blocked_until[from] = now_ms + self.backoff[from];
                self.backoff[from] = (self.backoff[from] * 2.0).min(self.config.max_backoff_ms);
                return Some(self.step(from + 1, StepReason::Overrun, now_ms));
            }
            return None;
        }
        self.overrun_since = None;

        // Up.
        let headroom = p90 <= self.config.settled_factor * budget
            && work < self.config.headroom_factor * budget;
        let up = self.rung.checked_sub(1);
        let allowed = up.is_some_and(|to| {
            kind == RungKind::Gpu
                && LADDER[to].kind == RungKind::Gpu
                && now_ms >= self.blocked_until[to]
        });
        if headroom && allowed {
            let since = *self.headroom_since.get_or_insert(now_ms);
            if now_ms - since >= self.config.headroom_hold_ms
                && let Some(to) = up
            {
                return Some(self.step(to, StepReason::Headroom, now_ms));
            }
        } else {
            self.headroom_since = None;
        }
        None
    }

    /// Moves to `rung` at the caller's request (a software adapter starting low, Play
    /// on the paused frame). Returns the step, or `None` if already there.
    pub fn force(&mut self, rung: usize, reason: StepReason, now_ms: f64) -> Option<Step> {
        let rung = rung.min(LADDER.len() - 1);
        (rung != self.rung).then(|| self.step(rung, reason, now_ms))
    }

    /// The tab was hidden: nothing is measured or decided until [`Governor::resume`].
    pub fn suspend(&mut self) {
        self.suspended = true;
    }

    /// The tab is visible again at `now_ms`: the statistics restart, so the hidden time
    /// never counts as a frame, and nothing is decided for the dwell time.
    pub fn resume(&mut self, now_ms: f64) {
        self.suspended = false;
        self.reset(now_ms);
    }

    fn step(&mut self, to: usize, reason: StepReason, now_ms: f64) -> Step {
        let step = Step {
            from: self.rung,
            to,
            reason,
            p90_ms: self.p90_ms(),
            work_p90_ms: self.work_p90_ms(),
            budget_ms: self.budget_ms(),
            at_ms: now_ms,
        };
        self.rung = to;
        self.steps += 1;
        self.reset(now_ms);
        step
    }

    fn reset(&mut self, now_ms: f64) {
        self.intervals.clear();
        self.work.clear();
        self.overrun_since = None;
        self.headroom_since = None;
        self.decide_after = now_ms + self.config.dwell_ms;
    }

    /// Snaps the fastest tenth of the intervals to a display rate; the estimate only
    /// rises (slow frames never make the display look slower than it is).
    fn estimate_display(&mut self) {
        if self.intervals.len < WINDOW / 2 {
            return;
        }
        let fast = self.intervals.percentile(0.1);
        if fast <= 0.0 {
            return;
        }
        let hz = 1000.0 / fast;
        if let Some(&rate) = DISPLAY_RATES
            .iter()
            .find(|&&rate| (hz - rate).abs() <= rate * 0.08)
            && rate > self.display_hz
        {
            self.display_hz = rate;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::{Preset, start_rung};

    /// Feeds `seconds` of frames every `interval_ms` costing `work_ms`, from `*now`;
    /// returns the steps taken.
    fn run(
        g: &mut Governor,
        now: &mut f64,
        seconds: f64,
        interval_ms: f32,
        work_ms: f32,
    ) -> Vec<Step> {
        let end = *now + seconds * 1000.0;
        let mut steps = Vec::new();
        while *now < end {
            *now += f64::from(interval_ms);
            steps.extend(g.frame(*now, interval_ms, work_ms));
        }
        steps
    }

    fn quality() -> Governor {
        Governor::new(GovernorConfig::default(), start_rung(Preset::Quality))
    }

    #[test]
    fn a_steady_60_fps_frame_never_moves() {
        let mut g = quality();
        let mut now = 0.0;
        assert!(run(&mut g, &mut now, 120.0, 16.7, 6.0).is_empty());
        assert_eq!((g.rung(), g.display_hz()), (0, 60.0));
        assert!((g.budget_ms() - 16.67).abs() < 0.01);
    }

    #[test]
    fn the_display_rate_is_measured_and_the_budget_follows_it() {
        for (interval, hz) in [(6.94, 144.0), (8.33, 120.0), (11.1, 90.0), (16.6, 60.0)] {
            let mut g = quality();
            let mut now = 0.0;
            assert!(run(&mut g, &mut now, 5.0, interval, 1.0).is_empty(), "{hz}");
            assert_eq!(g.display_hz(), hz);
            assert!((g.budget_ms() - (1000.0 / hz).min(16.667)).abs() < 0.01);
        }
        // A 30 fps page on a 60 Hz display still has a 60 fps budget.
        let mut g = quality();
        let mut now = 0.0;
        run(&mut g, &mut now, 0.5, 33.3, 30.0);
        assert!((g.budget_ms() - 16.67).abs() < 0.01);
    }

    #[test]
    fn one_spike_is_not_an_overrun() {
        let mut g = quality();
        let mut now = 0.0;
        run(&mut g, &mut now, 3.0, 16.7, 8.0);
        now += 400.0;
        assert_eq!(g.frame(now, 400.0, 390.0), None);
        assert!(run(&mut g, &mut now, 30.0, 16.7, 8.0).is_empty());
        assert_eq!(g.rung(), 0);
    }

    #[test]
    fn sustained_overrun_steps_down_one_rung_at_a_time() {
        let mut g = quality();
        let mut now = 0.0;
        run(&mut g, &mut now, 2.0, 16.7, 8.0);
        // 25 ms frames: 1.5x the budget; not severe.
        let steps = run(&mut g, &mut now, 2.9, 25.0, 20.0);
        assert_eq!(steps.len(), 1, "{steps:?}");
        let s = steps[0];
        assert_eq!((s.from, s.to, s.reason), (0, 1, StepReason::Overrun));
        assert!((s.p90_ms - 25.0).abs() < 1e-3 && (s.budget_ms - 16.67).abs() < 0.01);
        // Decided after the hold (2 s), counted from when slow frames became more than a
        // tenth of the window (6 frames, 150 ms): about 2.15 s after the load began.
        let after = s.at_ms - 2004.0;
        assert!((2100.0..=2300.0).contains(&after), "{after}");
        // Still too slow: the next rung follows after the dwell and another hold.
        let steps = run(&mut g, &mut now, 3.5, 25.0, 20.0);
        assert_eq!(steps.iter().map(|s| s.to).collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn a_severe_overrun_steps_within_a_few_seconds_even_at_one_frame_a_second() {
        let mut g = quality();
        let mut now = 0.0;
        let steps = run(&mut g, &mut now, 5.0, 1000.0, 990.0);
        assert_eq!(steps.len(), 1, "{steps:?}");
        assert!(steps[0].at_ms <= 5000.0);
    }

    #[test]
    fn slow_drift_steps_down_once_it_crosses_the_threshold() {
        let mut g = quality();
        let mut now = 0.0;
        let mut interval = 16.7f32;
        let mut steps = Vec::new();
        // Frame time grows by 1 ms a second, from 16.7 ms.
        while now < 20_000.0 {
            now += f64::from(interval);
            interval = 16.7 + (now / 1000.0) as f32;
            steps.extend(g.frame(now, interval, interval * 0.8));
        }
        // 1.25 x 16.67 = 20.8 ms is crossed at ~4.1 s; the hold adds 2 s. Then each
        // rung still overruns (the drift is the load, not the rung), so it keeps going.
        assert!(!steps.is_empty());
        assert!(
            steps[0].at_ms > 5_500.0 && steps[0].at_ms < 6_800.0,
            "{:?}",
            steps[0]
        );
        assert!(steps.windows(2).all(|w| w[1].to == w[0].to + 1));
    }

    #[test]
    fn headroom_steps_up_but_never_back_into_a_rung_that_overran_too_soon() {
        let mut g = quality();
        let mut now = 0.0;
        let down = run(&mut g, &mut now, 3.0, 25.0, 20.0);
        assert_eq!(down.len(), 1);
        // The load goes away: 60 fps with little work. Rung 0 is blocked for 60 s.
        let early = run(&mut g, &mut now, 50.0, 16.7, 3.0);
        assert!(
            early.is_empty(),
            "stepped up during the back-off: {early:?}"
        );
        let up = run(&mut g, &mut now, 20.0, 16.7, 3.0);
        assert_eq!(up.len(), 1, "{up:?}");
        assert_eq!(
            (up[0].from, up[0].to, up[0].reason),
            (1, 0, StepReason::Headroom)
        );
        // It overruns again: this time the back-off doubles (120 s).
        let down = run(&mut g, &mut now, 3.0, 25.0, 20.0);
        assert_eq!(down.len(), 1);
        assert!(run(&mut g, &mut now, 100.0, 16.7, 3.0).is_empty());
        assert_eq!(run(&mut g, &mut now, 30.0, 16.7, 3.0).len(), 1);
    }

    #[test]
    fn no_step_up_while_the_work_fills_the_frame() {
        // Keeping up at 60 fps but with 12 ms of work in a 16.7 ms budget: a richer rung
        // would overrun, so stay.
        let mut g = Governor::new(GovernorConfig::default(), 3);
        let mut now = 0.0;
        assert!(run(&mut g, &mut now, 120.0, 16.7, 12.0).is_empty());
        assert_eq!(g.rung(), 3);
    }

    #[test]
    fn oscillating_frames_count_by_their_slow_half() {
        // Alternating 10 ms and 40 ms frames (a stuttering page): p90 is 40 ms.
        let mut g = quality();
        let mut now = 0.0;
        let mut steps = Vec::new();
        for i in 0..400 {
            let interval = if i % 2 == 0 { 10.0 } else { 40.0 };
            now += f64::from(interval);
            steps.extend(g.frame(now, interval, interval * 0.9));
        }
        assert!(!steps.is_empty() && steps.iter().all(|s| s.reason == StepReason::Overrun));
        // Never up and down: every step goes the same way.
        assert!(
            steps
                .windows(2)
                .all(|w| w[1].from == w[0].to && w[1].to > w[0].to)
        );
    }

    #[test]
    fn a_hidden_tab_is_never_measured() {
        let mut g = quality();
        let mut now = 0.0;
        run(&mut g, &mut now, 5.0, 16.7, 5.0);
        g.suspend();
        // Frames reported while hidden (a browser throttling a background tab to one a
        // second) are ignored...
        assert!(run(&mut g, &mut now, 10.0, 1000.0, 1.0).is_empty());
        assert_eq!(g.frame(now + 70_000.0, 70_000.0, 1.0), None);
        now += 70_000.0;
        g.resume(now);
        // ...and the first interval after showing the tab again is not in the window.
        assert!(run(&mut g, &mut now, 30.0, 16.7, 5.0).is_empty());
        assert_eq!((g.rung(), g.steps()), (0, 0));
        assert!(g.p90_ms() < 17.0);
    }

    #[test]
    fn canvas_is_not_left_upwards_and_pause_is_terminal() {
        let canvas = LADDER
            .iter()
            .position(|r| r.kind == RungKind::Canvas)
            .unwrap_or(0);
        let mut g = Governor::new(GovernorConfig::default(), canvas);
        let mut now = 0.0;
        assert!(run(&mut g, &mut now, 200.0, 16.7, 1.0).is_empty());
        // Canvas too slow: pause, but only after 5 s of it (not the usual 1-2 s).
        assert!(run(&mut g, &mut now, 4.5, 100.0, 95.0).is_empty());
        let steps = run(&mut g, &mut now, 2.0, 100.0, 95.0);
        assert_eq!(steps.len(), 1);
        assert_eq!(LADDER[g.rung()].kind, RungKind::Paused);
        // Paused never moves by itself; Play does.
        assert!(run(&mut g, &mut now, 10.0, 100.0, 95.0).is_empty());
        let play = g.force(canvas, StepReason::User, now);
        assert_eq!(
            play.map(|s| (s.to, s.reason)),
            Some((canvas, StepReason::User))
        );
    }

    #[test]
    fn the_bottom_gpu_rung_steps_to_canvas_and_stops_there() {
        let start = crate::preset::lowest_gpu_rung();
        let mut g = Governor::new(GovernorConfig::default(), start);
        let mut now = 0.0;
        let steps = run(&mut g, &mut now, 3.0, 40.0, 35.0);
        assert_eq!(steps.len(), 1);
        assert_eq!(LADDER[steps[0].to].kind, RungKind::Canvas);
    }
}

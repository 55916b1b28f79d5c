//! The batch builder: means and sums over the batch's own frames, every phase, pauses
//! left out, once-per-session fields, caps — and its output always validates.
#![allow(clippy::unwrap_used, reason = "tests")]

use candlefish_protocol::limits::*;
use candlefish_protocol::{
    ErrorKind, FrameBatch, FrameSample, GovernorStep, IntervalClock, LoadTimes, Mode, Preset,
    Reason, Recorded, RenderThread, SessionInfo, StepReason, Vitals, validate_frames,
};

fn info() -> SessionInfo {
    SessionInfo {
        release: "2026.11.30-abc".into(),
        session: "session-0001".into(),
        mode: Mode::Webgpu,
        preset: Preset::Quality,
        adapter: "Apple M2".into(),
        thread: Some(RenderThread::Worker),
    }
}

fn sample(interval_ms: f32, k: f32) -> FrameSample {
    FrameSample {
        interval_ms,
        cpu_ms: [k, 2.0 * k, 0.1, 0.2, 0.3, 0.4, 0.5],
        gpu_ms: Some(4.0 * k),
        draw_calls: (10.0 * k) as u32,
        triangles: 1000,
        drawn: 100,
    }
}

#[test]
fn means_and_sums_over_the_batch_own_frames() {
    let mut b = FrameBatch::new(info()).unwrap();
    for _ in 0..3 {
        assert_eq!(b.record(&sample(16.0, 1.0)), Recorded::Frame);
    }
    assert_eq!(b.record(&sample(32.0, 4.0)), Recorded::Frame);
    let m = b.take().unwrap();
    assert_eq!(m.seq, Some(1));
    assert_eq!(m.frame_ms.as_deref(), Some(&[16.0, 16.0, 16.0, 32.0][..]));
    assert_eq!(m.span_ms, Some(80.0));
    let cpu = m.cpu_ms.unwrap().to_array();
    assert_eq!(cpu[0], Some(1.75), "mean of 1, 1, 1, 4");
    assert_eq!(cpu[3], Some(0.2), "the bucket phase is sent");
    assert!(cpu.iter().all(Option::is_some), "every phase");
    assert_eq!(m.gpu_ms, Some(7.0));
    assert_eq!(m.draw_calls, Some(17.5));
    assert_eq!((m.triangles, m.drawn), (Some(1000.0), Some(100.0)));
    validate_frames(&m).unwrap();

    // The next batch holds only its own frames.
    b.record(&sample(20.0, 2.0));
    let m = b.take().unwrap();
    assert_eq!(m.seq, Some(2));
    assert_eq!(m.frame_ms.as_deref(), Some(&[20.0][..]));
    assert_eq!(m.cpu_ms.unwrap().update, Some(2.0));
    assert_eq!(m.draw_calls, Some(20.0));
    assert!(b.take().is_none(), "nothing new");
}

/// Issue 11: a tab hidden for over 60 s made a > 60 000 ms "frame", and the server
/// refused the whole batch. The builder leaves the pause out; the batch validates.
#[test]
fn a_hidden_tab_pause_is_not_a_frame() {
    let mut b = FrameBatch::new(info()).unwrap();
    b.record(&sample(16.0, 1.0));
    assert_eq!(b.record(&sample(70_000.0, 1.0)), Recorded::Pause);
    b.record(&sample(17.0, 1.0));
    let m = b.take().unwrap();
    assert_eq!(m.frame_ms.as_deref(), Some(&[16.0, 17.0][..]));
    validate_frames(&m).unwrap();

    // With the clock reset on `hidden`, the pause never even reaches the builder.
    let mut clock = IntervalClock::default();
    assert_eq!(clock.tick(1000.0), None);
    assert_eq!(clock.tick(1016.0), Some(16.0));
    clock.reset();
    assert_eq!(clock.tick(71_016.0), None);
    assert_eq!(clock.tick(71_033.0), Some(17.0));
}

#[test]
fn odd_intervals_are_floored_or_left_out() {
    let mut b = FrameBatch::new(info()).unwrap();
    assert_eq!(b.record(&sample(f32::NAN, 1.0)), Recorded::Invalid);
    assert_eq!(b.record(&sample(-3.0, 1.0)), Recorded::Invalid);
    assert_eq!(b.record(&sample(1e-45, 1.0)), Recorded::Frame);
    let mut s = sample(0.2, 1.0);
    s.cpu_ms[2] = f32::INFINITY;
    s.gpu_ms = Some(f32::NAN);
    b.record(&s);
    let m = b.take().unwrap();
    assert_eq!(
        m.frame_ms.as_deref(),
        Some(&[1.0, 1.0][..]),
        "floored to 1 ms"
    );
    assert_eq!(m.cpu_ms.unwrap().lod, Some(0.05));
    validate_frames(&m).unwrap();
}

#[test]
fn past_max_samples_the_batch_is_a_histogram_that_fits_its_span() {
    let mut b = FrameBatch::new(info()).unwrap();
    for i in 0..3000 {
        b.record(&sample(
            if i % 10 == 0 {
                33.0
            } else {
                8.0 + (i % 7) as f32
            },
            1.0,
        ));
    }
    let span = b.span_ms();
    let m = b.take().unwrap();
    assert!(m.frame_ms.is_none());
    let h = m.frame_hist.clone().unwrap();
    assert_eq!(h.counts.iter().sum::<u32>(), 3000);
    assert!(h.le_ms.len() <= MAX_HIST_BUCKETS);
    let o = validate_frames(&m).unwrap();
    assert_eq!(o.samples, 3000);
    assert!(
        (o.frame_time_ms - span).abs() < 0.05,
        "{} vs {span}",
        o.frame_time_ms
    );
}

#[test]
fn a_full_batch_counts_what_it_cannot_hold() {
    let mut b = FrameBatch::new(info()).unwrap();
    for _ in 0..59 {
        assert_eq!(b.record(&sample(1000.0, 1.0)), Recorded::Frame);
    }
    assert_eq!(b.record(&sample(1000.0, 1.0)), Recorded::Frame);
    assert_eq!(b.record(&sample(1000.0, 1.0)), Recorded::Full);
    let m = b.take().unwrap();
    assert_eq!(
        (m.frame_ms.as_ref().unwrap().len(), m.dropped_frames),
        (60, 1)
    );
    validate_frames(&m).unwrap();
}

#[test]
fn load_and_vitals_once_and_when_they_change() {
    let mut b = FrameBatch::new(info()).unwrap();
    let load = LoadTimes {
        fetch: Some(300.0),
        first_frame: Some(700.0),
        ..LoadTimes::default()
    };
    b.set_load(load);
    b.set_vitals(Vitals {
        lcp_ms: Some(1200.0),
        ..Vitals::default()
    });
    b.record(&sample(16.0, 1.0));
    let m = b.take().unwrap();
    assert_eq!(m.load_ms, Some(load));
    assert_eq!(m.vitals.unwrap().lcp_ms, Some(1200.0));
    b.set_load(load);
    b.set_vitals(Vitals {
        lcp_ms: Some(1200.0),
        ..Vitals::default()
    });
    b.record(&sample(16.0, 1.0));
    let m = b.take().unwrap();
    assert_eq!(
        (m.load_ms, m.vitals),
        (None, None),
        "unchanged: not re-sent"
    );
    b.set_vitals(Vitals {
        cls: Some(0.1),
        ..Vitals::default()
    });
    let m = b.take().unwrap();
    assert_eq!(
        m.vitals.unwrap().cls,
        Some(0.1),
        "a change is sent, frames or not"
    );
    assert!(m.frame_ms.is_none() && m.cpu_ms.is_none());
    validate_frames(&m).unwrap();
}

#[test]
fn errors_and_steps_are_capped_cleaned_and_carried_over() {
    let mut b = FrameBatch::new(info()).unwrap();
    // A message cut inside a surrogate pair in JS is refused; here it is cut at a
    // character boundary, and control characters become spaces.
    let long = format!("line1\nline2 {}", "🐟".repeat(600));
    for _ in 0..20 {
        assert!(b.add_error(ErrorKind::Panic, &long));
    }
    b.add_step(GovernorStep {
        from: "quality".into(),
        to: "bad rung!".into(),
        reason: StepReason::Overrun,
        p90_ms: Some(f32::INFINITY),
    });
    let m = b.take().unwrap();
    assert_eq!(m.errors.len(), MAX_ERRORS);
    assert_eq!(m.errors[0].message.chars().count(), MAX_ERROR_CHARS);
    assert!(m.errors[0].message.starts_with("line1 line2 🐟"));
    assert_eq!(m.governor[0].to, "invalid");
    assert_eq!(m.governor[0].p90_ms, None);
    validate_frames(&m).unwrap();
    let m = b.take().unwrap();
    assert_eq!(m.errors.len(), 4, "the rest in the next batch");
    validate_frames(&m).unwrap();
}

#[test]
fn dropped_batches_and_memory_are_reported() {
    let mut b = FrameBatch::new(info()).unwrap();
    b.add_dropped_batches(3);
    b.set_memory(u64::MAX);
    let m = b.take().unwrap();
    assert_eq!(m.dropped_batches, 3);
    assert_eq!(m.memory_bytes, Some(MAX_MEMORY_BYTES));
    validate_frames(&m).unwrap();
    assert!(b.take().is_none());
}

#[test]
fn bad_labels_are_refused_up_front() {
    let mut i = info();
    i.release = "other".into();
    assert_eq!(FrameBatch::new(i).unwrap_err(), Reason::ReservedRelease);
    let mut i = info();
    i.session = "short".into();
    assert_eq!(FrameBatch::new(i).unwrap_err(), Reason::BadString);
    let mut i = info();
    i.adapter = "x\n".repeat(200);
    let mut b = FrameBatch::new(i).unwrap();
    b.record(&sample(16.0, 1.0));
    let m = b.take().unwrap();
    assert_eq!(m.adapter.chars().count(), MAX_ADAPTER_CHARS);
    validate_frames(&m).unwrap();
}

/// A page that restarts its runtime keeps one session: the new builder continues the
/// numbering, so the server does not take its batches for duplicates.
#[test]
fn a_second_builder_continues_the_numbering() {
    let mut first = FrameBatch::new(info()).unwrap();
    for _ in 0..3 {
        first.record(&sample(16.0, 1.0));
        first.take().unwrap();
    }
    let mut second = FrameBatch::new(info()).unwrap();
    second.set_next_seq(4);
    second.record(&sample(16.0, 1.0));
    assert_eq!(second.take().unwrap().seq, Some(4));
    second.record(&sample(16.0, 1.0));
    assert_eq!(second.take().unwrap().seq, Some(5));

    let mut b = FrameBatch::new(info()).unwrap();
    b.set_next_seq(0);
    b.add_dropped_batches(1);
    assert_eq!(b.take().unwrap().seq, Some(1), "seq starts at 1");
    b.set_next_seq(u64::MAX);
    b.add_dropped_batches(1);
    let m = b.take().unwrap();
    assert_eq!(m.seq, Some(MAX_SEQ));
    validate_frames(&m).unwrap();
}

//! The validator as the server runs it (`parse`: UTF-8, JSON, limits), case by case,
//! including each poisoning case of issue 11 that was accepted before.
#![allow(clippy::unwrap_used, reason = "tests")]

use candlefish_protocol::limits::*;
use candlefish_protocol::{ErrorKind, Mode, Reason, StepReason, parse};

fn frames(extra: &str) -> String {
    format!(
        r#"{{"type":"frames","release":"r1.2.3","session":"abcdefgh12","mode":"webgl",
        "preset":"quality","adapter":"ANGLE","frame_ms":[16.0,16.0,18.0]{extra}}}"#
    )
}

const BASE: &str =
    r#"{"type":"frames","release":"r","session":"abcdefgh","mode":"webgl","preset":"quality""#;

fn bad(tail: &str) -> Reason {
    parse(format!("{BASE}{tail}}}").as_bytes()).unwrap_err()
}

fn good(tail: &str) -> candlefish_protocol::Observation {
    parse(format!("{BASE}{tail}}}").as_bytes()).unwrap()
}

#[test]
fn accepts_a_full_batch() {
    let o = parse(
        frames(
            r#","seq":7,"thread":"worker","span_ms":50,
            "cpu_ms":{"update":0.5,"cull":0.2,"bucket":0.1},"gpu_ms":3.5,"dropped_frames":2,
            "memory_bytes":1048576,"draw_calls":12.5,"triangles":120000,"drawn":900,
            "load_ms":{"first_frame":900},"vitals":{"lcp_ms":1200,"cls":0.05},
            "errors":[{"kind":"shader","message":"x"}],"dropped_batches":3,
            "governor":[{"from":"quality","to":"performance","reason":"overrun","p90_ms":24.5}]"#,
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(o.samples, 3);
    assert_eq!(o.mode, Some(Mode::Webgl));
    assert_eq!(o.seq, Some(7));
    assert_eq!(o.cpu_ms[0], Some(0.5));
    assert_eq!(o.cpu_ms[3], Some(0.1), "bucket is a phase");
    assert!((o.fps().unwrap() - 3000.0 / 50.0).abs() < 1e-9);
    assert_eq!(o.errors, vec![ErrorKind::Shader]);
    assert_eq!(o.governor, vec![(StepReason::Overrun, Some(24.5))]);
    assert_eq!((o.dropped_batches, o.draw_calls), (3, Some(12.5)));
}

#[test]
fn accepts_a_histogram_with_its_span_and_the_legacy_message() {
    let o = good(r#","span_ms":1130,"frame_hist":{"le_ms":[8,16,33],"counts":[0,50,10]}"#);
    assert_eq!(o.samples, 60);
    assert_eq!(o.frames, vec![(16.0, 50), (33.0, 10)]);
    assert_eq!(o.frame_time_ms, 1130.0, "the span is the batch's time");
    let o = parse(
        br#"{"type":"performance","timestamp":1700000000000,"data":{"fps":60,"memoryUsage":50,
        "loadTime":1200,"renderTime":16.5,"networkLatency":40}}"#,
    )
    .unwrap();
    assert_eq!(
        (o.release.as_str(), o.mode, o.reported_fps),
        ("legacy", None, Some(60.0))
    );
    // Existing clients send MiB: 50 MiB, not 50 bytes.
    assert_eq!(o.memory_bytes, Some(50 * 1_048_576));
}

#[test]
fn refuses_each_kind_of_bad_input() {
    let cases: &[(&str, Reason)] = &[
        ("{", Reason::InvalidJson),
        ("not json", Reason::InvalidJson),
        (r#"{"type":"frames","frame_ms":[NaN]}"#, Reason::InvalidJson),
        (r#"{"type":"nope"}"#, Reason::Schema),
        ("[1,2]", Reason::Schema),
        (&frames(r#","gpu_ms":"fast""#), Reason::Schema),
        (&frames(r#","extra":1"#), Reason::Schema),
        (&frames(r#","cpu_ms":{"physics":1}"#), Reason::Schema),
        (&frames(r#","errors":[{"kind":"alien"}]"#), Reason::Schema),
        (&frames(r#","thread":"gpu""#), Reason::Schema),
        (&frames(r#","v":2"#), Reason::Schema),
        (&frames(r#","gpu_ms":1e39"#), Reason::NonFinite),
        (&frames(r#","gpu_ms":-1"#), Reason::OutOfRange),
        (&frames(r#","dropped_frames":-1"#), Reason::Schema),
        (&frames(r#","memory_bytes":2e12"#), Reason::Schema),
        (
            &frames(r#","memory_bytes":2000000000000"#),
            Reason::OutOfRange,
        ),
        (&frames(r#","vitals":{"cls":1000}"#), Reason::OutOfRange),
        (&frames(r#","seq":0"#), Reason::OutOfRange),
        (
            &frames(r#","frame_hist":{"le_ms":[1],"counts":[1]}"#),
            Reason::Schema,
        ),
        (
            &frames(r#","governor":[{"from":"a b","to":"x","reason":"overrun"}]"#),
            Reason::BadString,
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse(input.as_bytes()).unwrap_err(), *want, "{input}");
    }
    assert_eq!(bad(r#","frame_ms":[0]"#), Reason::OutOfRange);
    assert_eq!(bad(r#","frame_ms":[60001]"#), Reason::OutOfRange);
    let many = vec!["16"; MAX_SAMPLES + 1].join(",");
    assert_eq!(
        bad(&format!(r#","frame_ms":[{many}]"#)),
        Reason::TooManySamples
    );
    assert_eq!(
        bad(r#","span_ms":32,"frame_hist":{"le_ms":[16,8],"counts":[1,1]}"#),
        Reason::OutOfRange
    );
    assert_eq!(
        bad(r#","span_ms":16,"frame_hist":{"le_ms":[16],"counts":[1,1]}"#),
        Reason::Schema
    );
    assert_eq!(
        bad(&format!(r#","adapter":"{}""#, "a".repeat(129))),
        Reason::BadString
    );
    let legacy = |data: &str| {
        parse(format!(r#"{{"type":"performance","timestamp":1,"data":{data}}}"#).as_bytes())
            .unwrap_err()
    };
    let ok = r#""memoryUsage":1,"loadTime":1,"renderTime":1,"networkLatency":1"#;
    assert_eq!(legacy(&format!(r#"{{"fps":-5,{ok}}}"#)), Reason::OutOfRange);
    assert_eq!(
        legacy(&format!(r#"{{"fps":1e39,{ok}}}"#)),
        Reason::NonFinite
    );
    assert_eq!(
        legacy(&format!(r#"{{"fps":1001,{ok}}}"#)),
        Reason::OutOfRange
    );
    assert_eq!(legacy(r#"{"fps":60}"#), Reason::Schema);
    // 52428800 "MB" is 50 TiB: a client sending bytes is refused, not believed.
    assert_eq!(
        legacy(
            r#"{"fps":60,"memoryUsage":52428800,"loadTime":1,"renderTime":1,"networkLatency":1}"#
        ),
        Reason::OutOfRange
    );
}

#[test]
fn invalid_utf8_has_its_own_reason() {
    let mut bytes = frames("").into_bytes();
    bytes[40] = 0xff;
    assert_eq!(parse(&bytes).unwrap_err(), Reason::InvalidUtf8);
}

/// Issue 11: `frame_ms: [1e-45]` was accepted and put ~7e47 into `candlefish_fps_sum`.
#[test]
fn a_denormal_frame_is_refused() {
    assert_eq!(bad(r#","frame_ms":[1e-45]"#), Reason::OutOfRange);
    assert_eq!(bad(r#","frame_ms":[0.49]"#), Reason::OutOfRange);
    assert_eq!(good(r#","frame_ms":[0.5,1.5]"#).samples, 2);
    // 0.5 ms frames only: 2000 fps, over MAX_FPS.
    assert_eq!(bad(r#","frame_ms":[0.5,0.5,0.5]"#), Reason::Inconsistent);
    // The legacy message's single sample obeys the same floor.
    assert_eq!(
        parse(br#"{"type":"performance","timestamp":1,"data":{"fps":60,"memoryUsage":1,"loadTime":1,"renderTime":0.001,"networkLatency":1}}"#)
            .unwrap_err(),
        Reason::OutOfRange
    );
}

/// Issue 11: a 171-byte `frame_hist` could claim 100 000 frames with nothing tying
/// them to wall time.
#[test]
fn a_histogram_must_fit_its_span() {
    let claim = r#","frame_hist":{"le_ms":[16],"counts":[100000]}"#;
    assert_eq!(bad(claim), Reason::Schema, "no span");
    assert_eq!(
        bad(&format!(r#","span_ms":1000{claim}"#)),
        Reason::TooManySamples,
        "over MAX_BATCH_FRAMES"
    );
    // 60 frames of (8, 16] ms take 480-960 ms: a 1 s span is too long, 100 ms too short.
    let sixty = r#","frame_hist":{"le_ms":[8,16],"counts":[0,60]}"#;
    assert_eq!(good(&format!(r#","span_ms":950{sixty}"#)).samples, 60);
    assert_eq!(
        bad(&format!(r#","span_ms":1100{sixty}"#)),
        Reason::Inconsistent
    );
    assert_eq!(
        bad(&format!(r#","span_ms":100{sixty}"#)),
        Reason::Inconsistent
    );
    assert_eq!(
        bad(&format!(r#","span_ms":60001{sixty}"#)),
        Reason::OutOfRange
    );
    // frame_ms with a span that disagrees with their sum.
    assert_eq!(
        bad(r#","span_ms":500,"frame_ms":[16,16]"#),
        Reason::Inconsistent
    );
    // frame_ms covering more than a batch may.
    let long = ["59000"; 2].join(",");
    assert_eq!(
        bad(&format!(r#","frame_ms":[{long}]"#)),
        Reason::Inconsistent
    );
}

/// Issue 11: a frames message could write into the server's own labels.
#[test]
fn reserved_releases_are_refused() {
    for r in ["legacy", "other", "Legacy", "OTHER"] {
        let msg = BASE.replace(r#""release":"r""#, &format!(r#""release":"{r}""#));
        assert_eq!(
            parse(format!("{msg}}}").as_bytes()).unwrap_err(),
            Reason::ReservedRelease,
            "{r}"
        );
    }
    let msg = BASE.replace(r#""release":"r""#, r#""release":"legacy-2""#);
    assert!(parse(format!("{msg}}}").as_bytes()).is_ok());
}

/// What the hand-written serializer writes is what the server reads.
#[test]
fn the_builder_json_parses_to_the_same_observation() {
    use candlefish_protocol::{
        FrameBatch, FrameSample, GovernorStep, LoadTimes, Preset, SessionInfo, validate_frames,
    };
    let mut b = FrameBatch::new(SessionInfo {
        release: "2026.11.30-abc".into(),
        session: "session-0001".into(),
        mode: Mode::Native,
        preset: Preset::Performance,
        adapter: "llvmpipe \"quoted\" \\ é 🐟".into(),
        thread: None,
    })
    .unwrap();
    for big in [false, true] {
        for i in 0..if big { 2000 } else { 60 } {
            b.record(&FrameSample {
                interval_ms: 16.0 + (i % 5) as f32 * 0.37,
                cpu_ms: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
                gpu_ms: Some(3.3),
                draw_calls: 3,
                triangles: 123_456,
                drawn: 999,
            });
        }
        b.set_memory(31_000_000);
        b.set_load(LoadTimes {
            init: Some(95.5),
            ..LoadTimes::default()
        });
        b.add_error(ErrorKind::Other, "tab \t quote \" end");
        b.add_dropped_batches(2);
        b.add_step(GovernorStep {
            from: "scale_1".into(),
            to: "scale_0.75".into(),
            reason: StepReason::Overrun,
            p90_ms: Some(21.5),
        });
        let m = b.take().unwrap();
        let json = m.to_json();
        assert_eq!(
            parse(json.as_bytes()).unwrap(),
            validate_frames(&m).unwrap(),
            "{json}"
        );
    }
}

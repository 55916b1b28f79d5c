use super::*;

fn frames(extra: &str) -> String {
    format!(
        r#"{{"type":"frames","release":"r1.2.3","session":"abcdefgh12","mode":"webgl",
        "preset":"quality","adapter":"ANGLE","frame_ms":[16.0,16.0,18.0]{extra}}}"#
    )
}

#[test]
fn accepts_full_batch() {
    let o = parse(
        frames(
            r#","cpu_ms":{"update":0.5,"cull":0.2},"gpu_ms":3.5,"dropped_frames":2,
            "memory_bytes":1048576,"draw_calls":12,"load_ms":{"first_frame":900},
            "vitals":{"lcp_ms":1200,"cls":0.05},"errors":[{"kind":"shader","message":"x"}]"#,
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(o.samples, 3);
    assert_eq!(o.mode, "webgl");
    assert_eq!(o.cpu_ms[0], Some(0.5));
    assert!((o.fps.unwrap() - 3000.0 / 50.0).abs() < 1e-9);
    assert_eq!(o.errors, vec![ErrorKind::Shader]);
}

#[test]
fn accepts_histogram_and_legacy() {
    let o = parse(
        br#"{"type":"frames","release":"r","session":"abcdefgh","mode":"native","preset":"performance",
        "frame_hist":{"le_ms":[8,16,33],"counts":[0,50,10]}}"#,
    )
    .unwrap();
    assert_eq!(o.samples, 60);
    assert_eq!(o.frames, vec![(16.0, 50), (33.0, 10)]);
    let o = parse(
        br#"{"type":"performance","timestamp":1700000000000,"data":{"fps":60,"memoryUsage":5e7,
        "loadTime":1200,"renderTime":16.5,"networkLatency":40}}"#,
    )
    .unwrap();
    assert_eq!(
        (o.release.as_str(), o.mode, o.fps),
        ("legacy", "unknown", Some(60.0))
    );
    assert_eq!(o.memory_bytes, Some(50_000_000));
}

#[test]
fn rejects_each_kind_of_bad_input() {
    let cases: &[(&str, Reason)] = &[
        ("{", Reason::InvalidJson),
        ("not json", Reason::InvalidJson),
        (r#"{"type":"frames","frame_ms":[NaN]}"#, Reason::InvalidJson),
        (r#"{"type":"nope"}"#, Reason::Schema),
        (r#"[1,2]"#, Reason::Schema),
        (&frames(r#","gpu_ms":"fast""#), Reason::Schema),
        (&frames(r#","extra":1"#), Reason::Schema),
        (&frames(r#","cpu_ms":{"physics":1}"#), Reason::Schema),
        (&frames(r#","errors":[{"kind":"alien"}]"#), Reason::Schema),
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
        (
            &frames(r#","frame_hist":{"le_ms":[1],"counts":[1]}"#),
            Reason::Schema,
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse(input.as_bytes()).unwrap_err(), *want, "{input}");
    }
    let base =
        r#"{"type":"frames","release":"r","session":"abcdefgh","mode":"webgl","preset":"quality""#;
    let bad = |tail: &str| parse(format!("{base}{tail}}}").as_bytes()).unwrap_err();
    assert_eq!(bad(r#","frame_ms":[0]"#), Reason::OutOfRange);
    assert_eq!(bad(r#","frame_ms":[60001]"#), Reason::OutOfRange);
    let many = vec!["16"; MAX_SAMPLES + 1].join(",");
    assert_eq!(
        bad(&format!(r#","frame_ms":[{many}]"#)),
        Reason::TooManySamples
    );
    assert_eq!(
        bad(r#","frame_hist":{"le_ms":[16,8],"counts":[1,1]}"#),
        Reason::OutOfRange
    );
    assert_eq!(
        bad(r#","frame_hist":{"le_ms":[16],"counts":[1,1]}"#),
        Reason::Schema
    );
    assert_eq!(
        bad(r#","frame_hist":{"le_ms":[16],"counts":[100001]}"#),
        Reason::TooManySamples
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
    assert_eq!(legacy(r#"{"fps":60}"#), Reason::Schema);
}

#[test]
fn label_patterns() {
    assert!(valid_release("2026.11.24-abc1234+dirty"));
    assert!(!valid_release(""));
    assert!(!valid_release("-x"));
    assert!(!valid_release("a b"));
    assert!(!valid_release(&"a".repeat(65)));
    assert!(valid_session("0123456789abcdef"));
    assert!(!valid_session("short"));
    assert!(!valid_session("has space!"));
}

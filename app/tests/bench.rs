//! `candlefish bench` end to end: a few frames at a small size give complete, sane
//! JSON; an impossible budget fails with one clear line, a generous one passes; bad
//! arguments fail cleanly. The short CI version of the frame-budget harness.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

const FRAMES: u64 = 4;

fn candlefish(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_candlefish"))
        .args(args)
        .output()
        .unwrap()
}

fn json_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("candlefish-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs a short bench at 64x48 and returns its output and parsed JSON.
fn short_bench(extra: &[&str], name: &str) -> (Output, Option<Value>) {
    let path = json_path(name);
    let frames = FRAMES.to_string();
    let mut args = vec![
        "bench",
        "--preset",
        "performance",
        "--fish",
        "500",
        "--frames",
        &frames,
        "--warmup",
        "1",
        "--width",
        "64",
        "--height",
        "48",
        "--json",
        path.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = candlefish(&args);
    let json = std::fs::read_to_string(&path)
        .ok()
        .map(|s| serde_json::from_str(&s).unwrap());
    (out, json)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn number(v: &Value, path: &str) -> f64 {
    let x = v
        .pointer(path)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{path} missing or not a number in {v:#}"));
    assert!(x.is_finite() && x >= 0.0, "{path} = {x}");
    x
}

fn assert_percentiles(v: &Value, path: &str) {
    let p: Vec<f64> = ["p50", "p95", "p99", "max"]
        .iter()
        .map(|k| number(v, &format!("{path}/{k}")))
        .collect();
    assert!(
        p.windows(2).all(|w| w[0] <= w[1]),
        "{path}: {p:?} not ordered"
    );
}

#[test]
fn json_is_complete_and_sane() {
    let (out, json) = short_bench(&[], "sane.json");
    assert!(out.status.success(), "bench failed: {}", stderr(&out));
    let v = json.unwrap();
    for key in ["name", "backend", "device_type", "driver"] {
        let s = v
            .pointer(&format!("/adapter/{key}"))
            .and_then(Value::as_str);
        assert!(s.is_some(), "adapter {key} missing");
    }
    assert!(!v["adapter"]["name"].as_str().unwrap().is_empty());
    assert_eq!(v["preset"], "performance");
    assert_eq!(v["frames"].as_u64(), Some(FRAMES));
    assert_eq!(v["width"].as_u64(), Some(64));
    assert_eq!(v["instances"]["fish"].as_u64(), Some(500));
    let total = number(&v, "/instances/total");
    let parts: f64 = ["fish", "rocks", "kelp", "snow"]
        .iter()
        .map(|k| number(&v, &format!("/instances/{k}")))
        .sum();
    assert_eq!(total, parts);
    for phase in [
        "update", "cull", "lod", "bucket", "upload", "encode", "submit",
    ] {
        assert_percentiles(&v, &format!("/cpu_ms/phases/{phase}"));
    }
    assert_percentiles(&v, "/cpu_ms/total");
    assert_percentiles(&v, "/frame_ms");
    // The frame time includes the CPU phases.
    assert!(number(&v, "/frame_ms/max") >= number(&v, "/cpu_ms/total/p50"));
    if v["adapter"]["timestamp_queries"].as_bool().unwrap() {
        assert_percentiles(&v, "/gpu_ms");
        assert_eq!(v["gpu_frames_measured"].as_u64(), Some(FRAMES));
    } else {
        assert!(v["gpu_ms"].is_null());
    }
    for counter in ["draw_calls", "drawn_instances", "triangles"] {
        let (min, mean, max) = (
            number(&v, &format!("/{counter}/min")),
            number(&v, &format!("/{counter}/mean")),
            number(&v, &format!("/{counter}/max")),
        );
        assert!(min <= mean && mean <= max && max > 0.0, "{counter}");
    }
    assert!(number(&v, "/drawn_instances/max") <= total);
    assert!(number(&v, "/frames_over_budget") <= FRAMES as f64);
    assert!(number(&v, "/budget_ms") > 0.0);
    if cfg!(target_os = "linux") {
        assert!(number(&v, "/peak_memory_bytes") > 1e6);
    }
    assert!(v["date"].as_str().unwrap().ends_with('Z'));
    assert!(!v["git_commit"].as_str().unwrap().is_empty());
    assert!(!v["frame_time_definition"].as_str().unwrap().is_empty());
}

#[test]
fn impossible_budget_fails_and_generous_budget_passes() {
    let (out, json) = short_bench(&["--budget-ms", "0.001"], "tight.json");
    let err = stderr(&out);
    assert!(!out.status.success(), "should fail: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("exceeds the budget of 0.001 ms"), "{err}");
    // The results are still written for the pipeline to inspect.
    assert_eq!(json.unwrap()["p95_within_budget"], false);

    let (out, json) = short_bench(&["--fps", "0.001"], "generous.json");
    assert!(out.status.success(), "should pass: {}", stderr(&out));
    let v = json.unwrap();
    assert_eq!(v["budget_given"], true);
    assert_eq!(v["p95_within_budget"], true);
}

#[test]
fn bad_arguments_give_one_clear_error() {
    for (args, expect) in [
        (&["bench", "--frames", "0"][..], "--frames"),
        (&["bench", "--budget-ms=-3"][..], "--budget-ms"),
        (&["bench", "--fps", "nan"][..], "--fps"),
        (
            &["bench", "--budget-ms", "16", "--fps", "60"][..],
            "cannot be used with",
        ),
        (&["bench", "--preset", "ultra"][..], "ultra"),
        (&["bench", "--width", "0"][..], "--width"),
    ] {
        let out = candlefish(args);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            err.contains(expect),
            "{args:?}: expected {expect:?} in {err}"
        );
    }
}

//! `candlefish bench --trace FILE`: the Chrome trace has one well-formed event per
//! phase per frame on the CPU track, laid end to end in frame order, and at most one
//! GPU event per frame on the GPU track, never overlapping the previous one.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

const PHASES: [&str; 7] = [
    "update", "cull", "lod", "bucket", "upload", "encode", "submit",
];

#[test]
fn the_trace_has_one_event_per_phase_per_frame() {
    let dir = std::env::temp_dir().join(format!("candlefish-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trace.json");
    let (warmup, frames) = (2u64, 5u64);
    let out = Command::new(env!("CARGO_BIN_EXE_candlefish"))
        .args([
            "bench",
            "--preset",
            "performance",
            "--fish",
            "300",
            "--frames",
            &frames.to_string(),
            "--warmup",
            &warmup.to_string(),
            "--width",
            "64",
            "--height",
            "48",
            "--trace",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();

    // Per frame: the CPU phases in the order they appear, and the GPU events.
    let mut cpu: BTreeMap<u64, Vec<(String, f64, f64)>> = BTreeMap::new();
    let mut gpu: BTreeMap<u64, Vec<(f64, f64)>> = BTreeMap::new();
    let mut thread_names = 0;
    for e in events {
        match e["ph"].as_str().unwrap() {
            "M" => thread_names += usize::from(e["name"] == "thread_name"),
            "X" => {
                let ts = e["ts"].as_f64().unwrap();
                let dur = e["dur"].as_f64().unwrap();
                assert!(
                    ts.is_finite() && ts >= 0.0 && dur.is_finite() && dur >= 0.0,
                    "{e}"
                );
                assert_eq!(e["pid"], 1, "{e}");
                let frame = e["args"]["frame"].as_u64().unwrap();
                let name = e["name"].as_str().unwrap().to_owned();
                match e["tid"].as_u64().unwrap() {
                    1 => cpu.entry(frame).or_default().push((name, ts, dur)),
                    2 => {
                        assert_eq!(name, "gpu");
                        gpu.entry(frame).or_default().push((ts, dur));
                    }
                    tid => panic!("event on unknown track {tid}: {e}"),
                }
            }
            ph => panic!("unexpected event type {ph}: {e}"),
        }
    }
    assert_eq!(thread_names, 2, "both tracks are named");
    let expected: Vec<u64> = (0..warmup + frames).collect();
    assert_eq!(cpu.keys().copied().collect::<Vec<_>>(), expected);
    let mut last_end = 0.0f64;
    for (frame, phases) in &cpu {
        let names: Vec<&str> = phases.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(names, PHASES, "frame {frame}");
        for (name, ts, dur) in phases {
            // End to end, each frame after the previous one (a microsecond of slack
            // for the three decimals written).
            assert!(
                *ts + 1e-3 >= last_end,
                "frame {frame} {name} starts before the previous phase ends"
            );
            last_end = ts + dur;
        }
    }
    let mut gpu_end = 0.0f64;
    for (frame, events) in &gpu {
        assert_eq!(events.len(), 1, "frame {frame}: {events:?}");
        assert!(cpu.contains_key(frame));
        let (ts, dur) = events[0];
        assert!(
            ts + 1e-3 >= gpu_end,
            "GPU work of frame {frame} overlaps the previous"
        );
        gpu_end = ts + dur;
    }
}

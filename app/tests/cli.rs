//! The `candlefish` binary end to end: renders a PNG headless; bad arguments and a
//! missing adapter give one clear error line and a non-zero exit, never a panic.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::process::{Command, Output};

fn candlefish(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_candlefish"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_clean_failure(out: &Output, expect: &str) {
    let err = stderr(out);
    assert!(!out.status.success(), "should fail: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert!(err.contains(expect), "expected {expect:?} in: {err}");
}

#[test]
fn render_writes_a_png_with_the_scene_visible() {
    let dir = std::env::temp_dir().join(format!("candlefish-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_path = dir.join("frame.png");
    let out = candlefish(
        &[
            "render",
            "--scene",
            "school",
            "--time",
            "3.5",
            "--width",
            "160",
            "--height",
            "90",
            "--preset",
            "performance",
            "--out",
            out_path.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "render failed: {}", stderr(&out));
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&out_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (160, 90));
    // Not just water: plenty of pixels well above the background's brightness.
    let bright = buf[..info.buffer_size()]
        .chunks_exact(4)
        .filter(|p| p[0].max(p[1]).max(p[2]) > 70)
        .count();
    assert!(
        bright > 160 * 90 / 20,
        "scene not visible: {bright} bright pixels"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_arguments_are_one_clear_error() {
    let out = candlefish(&["render", "--width", "0", "--out", "x.png"], &[]);
    assert_clean_failure(&out, "--width");
    let out = candlefish(&["render", "--time", "NaN", "--out", "x.png"], &[]);
    assert_clean_failure(&out, "--time");
    let out = candlefish(&["render", "--preset", "ultra", "--out", "x.png"], &[]);
    assert_clean_failure(&out, "unknown quality preset");
    let out = candlefish(&["render", "--scene", "forest", "--out", "x.png"], &[]);
    assert_clean_failure(&out, "unknown scene");
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn an_unwritable_output_is_a_clear_error() {
    let out = candlefish(
        &[
            "render",
            "--width",
            "32",
            "--height",
            "32",
            "--out",
            "/nonexistent-dir/x.png",
        ],
        &[],
    );
    assert_clean_failure(&out, "/nonexistent-dir/x.png");
}

#[test]
fn a_missing_adapter_is_a_clear_error() {
    let out = candlefish(
        &[
            "render",
            "--width",
            "32",
            "--height",
            "32",
            "--out",
            "x.png",
            "--adapter",
            "no-such-gpu",
        ],
        &[],
    );
    assert_clean_failure(&out, "no GPU adapter available");
    assert!(
        stderr(&out)
            .lines()
            .any(|l| l.starts_with("candlefish: error:"))
    );
}

//! The image-test harness shared by `images.rs` and `atlas_image.rs`: render headless
//! on the software adapter (lavapipe in CI), compare with a committed reference PNG
//! with an explicit tolerance, write `<name>-actual.png` and `<name>-difference.png`
//! on failure, and rewrite references with `CANDLEFISH_UPDATE_REFERENCES=1`.

#![allow(dead_code, reason = "each test crate uses its own part of the harness")]

use std::path::PathBuf;

use candlefish_renderer::backend::gpu::{AdapterPreference, OffscreenTarget, WgpuBackend};
use candlefish_renderer::scene::Scene;
use candlefish_renderer::{Backend, Camera, FrameDriver, Preset};

/// Largest per-channel difference (0..255) for two pixels to count as equal. Covers
/// rounding differences between LLVM versions of lavapipe.
pub const CHANNEL_TOLERANCE: u8 = 6;
/// Fraction of pixels allowed to differ beyond the tolerance.
pub const MAX_DIFFERING_FRACTION: f64 = 0.002;

/// Output size of every image test.
pub const WIDTH: u32 = 320;
/// Output size of every image test.
pub const HEIGHT: u32 = 180;

fn reference_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference")
        .join(format!("{name}.png"))
}

/// A scene uploaded to the software adapter with an offscreen target.
pub struct Harness {
    pub driver: FrameDriver<WgpuBackend<OffscreenTarget>>,
}

impl Harness {
    pub fn new(scene: Scene, preset: Preset) -> Self {
        let backend = WgpuBackend::headless(
            &scene,
            preset,
            (WIDTH, HEIGHT),
            AdapterPreference::Software,
            None,
        )
        .unwrap_or_else(|e| {
            panic!("image tests need a GPU adapter (CI installs lavapipe: apt-get install mesa-vulkan-drivers): {e}")
        });
        Self {
            driver: FrameDriver::new(scene, preset, backend),
        }
    }

    pub fn set_debug_tiers(&mut self, on: bool) {
        self.driver.backend_mut().set_debug_tiers(on);
    }

    pub fn render(&mut self, time: f32, camera: &Camera) -> Vec<u8> {
        self.driver.render_frame(time, camera).unwrap();
        self.driver.backend().read_rgba().unwrap()
    }
}

/// Width over height of the test images.
pub fn aspect() -> f32 {
    WIDTH as f32 / HEIGHT as f32
}

pub fn write_png(path: &PathBuf, rgba: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), WIDTH, HEIGHT);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header().unwrap().write_image_data(rgba).unwrap();
}

pub fn read_png(path: &PathBuf) -> Option<(u32, u32, Vec<u8>)> {
    let file = std::fs::File::open(path).ok()?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buf).ok()?;
    buf.truncate(info.buffer_size());
    (info.color_type == png::ColorType::Rgba).then_some((info.width, info.height, buf))
}

/// Compares with the reference; panics with a summary (and writes actual/difference
/// images) past the tolerance.
pub fn check_reference(name: &str, actual: &[u8]) {
    let path = reference_path(name);
    if std::env::var_os("CANDLEFISH_UPDATE_REFERENCES").is_some() {
        write_png(&path, actual);
        eprintln!("updated reference {}", path.display());
        return;
    }
    let Some((w, h, expected)) = read_png(&path) else {
        panic!(
            "missing or unreadable reference {} (run with CANDLEFISH_UPDATE_REFERENCES=1 to create it)",
            path.display()
        );
    };
    assert_eq!((w, h), (WIDTH, HEIGHT), "reference {name} has another size");
    let mut differing = 0usize;
    let mut worst = 0u8;
    let mut diff = vec![0u8; actual.len()];
    for (i, (a, e)) in actual
        .chunks_exact(4)
        .zip(expected.chunks_exact(4))
        .enumerate()
    {
        let d = (0..3).map(|c| a[c].abs_diff(e[c])).max().unwrap_or(0);
        worst = worst.max(d);
        let px = &mut diff[i * 4..i * 4 + 4];
        if d > CHANNEL_TOLERANCE {
            differing += 1;
            px.copy_from_slice(&[255, 0, 255, 255]);
        } else {
            // Faint copy of the expected image for orientation.
            px.copy_from_slice(&[e[0] / 3, e[1] / 3, e[2] / 3, 255]);
        }
    }
    let allowed = (f64::from(WIDTH * HEIGHT) * MAX_DIFFERING_FRACTION) as usize;
    if differing > allowed {
        let stem = path.with_extension("");
        let actual_path = PathBuf::from(format!("{}-actual.png", stem.display()));
        let diff_path = PathBuf::from(format!("{}-difference.png", stem.display()));
        write_png(&actual_path, actual);
        write_png(&diff_path, &diff);
        panic!(
            "{name}: {differing} pixels differ by more than {CHANNEL_TOLERANCE} (allowed {allowed}, worst {worst}); wrote {} and {}",
            actual_path.display(),
            diff_path.display()
        );
    }
}

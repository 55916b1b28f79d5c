//! `candlefish render`: one frame, headless, to PNG.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::{Context, Result};
use candlefish_renderer::backend::gpu::{AdapterPreference, OffscreenTarget, WgpuBackend};
use candlefish_renderer::{Backend, FrameDriver, OrbitCamera};

use crate::cli::{RenderArgs, SceneArgs};

/// The orbit camera at scene time `time`: the automatic orbit advanced from its
/// start, so a given time always gives the same view.
pub fn camera_at(time: f32) -> OrbitCamera {
    let mut orbit = OrbitCamera::default();
    orbit.advance(time);
    orbit
}

/// Frames drawn offscreen with wgpu.
pub type OffscreenDriver = FrameDriver<WgpuBackend<OffscreenTarget>>;

/// The scene `scene_args` asks for, on the best native adapter, drawing into a
/// `width` × `height` offscreen target: shared by `render` and `bench`.
pub fn offscreen_driver(
    scene_args: &SceneArgs,
    width: u32,
    height: u32,
) -> Result<OffscreenDriver> {
    let scene = scene_args.build_scene()?;
    let backend = WgpuBackend::headless(
        &scene,
        scene_args.preset,
        (width, height),
        AdapterPreference::HighPerformance,
        scene_args.adapter.as_deref(),
    )?;
    Ok(FrameDriver::new(scene, scene_args.preset, backend))
}

/// Renders one frame and writes it as PNG.
pub fn render(args: &RenderArgs) -> Result<()> {
    let mut driver = offscreen_driver(&args.scene, args.width, args.height)?;
    driver.backend_mut().set_debug_tiers(args.debug_lods);
    let camera = camera_at(args.time).camera(args.width as f32 / args.height as f32);
    let record = driver.render_frame(args.time, &camera)?;
    let pixels = driver.backend().read_rgba()?;
    write_png(&args.out, args.width, args.height, &pixels)?;
    println!(
        "wrote {} ({}x{}, {} of {} instances in {} draws, adapter {})",
        args.out.display(),
        args.width,
        args.height,
        record.drawn,
        driver.scene.instances.len(),
        record.draw_calls,
        driver.backend().adapter()
    );
    Ok(())
}

/// Writes RGBA8 pixels as an sRGB PNG.
pub fn write_png(path: &Path, width: u32, height: u32, rgba: &[u8]) -> Result<()> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_source_srgb(png::SrgbRenderingIntent::Perceptual);
    let mut writer = encoder
        .write_header()
        .with_context(|| format!("writing {}", path.display()))?;
    writer
        .write_image_data(rgba)
        .with_context(|| format!("writing {}", path.display()))?;
    writer
        .finish()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

//! `candlefish render`: one frame, headless, to PNG.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::{Context, Result};
use candlefish_renderer::gpu::{
    AdapterPreference, OffscreenTarget, RendererOptions, SceneRenderer, headless_device,
};
use candlefish_renderer::{OrbitCamera, RenderMode};

use crate::cli::{RenderArgs, SceneArgs};

/// The orbit camera at scene time `time`: the automatic orbit advanced from its
/// start, so a given time always gives the same view.
pub fn camera_at(time: f32) -> OrbitCamera {
    let mut orbit = OrbitCamera::default();
    orbit.advance(time);
    orbit
}

/// The scene `scene_args` asks for, on the best native adapter, drawing into a
/// `width` × `height` offscreen target: shared by `render` and `bench`.
pub fn offscreen_renderer(
    scene_args: &SceneArgs,
    width: u32,
    height: u32,
) -> Result<(SceneRenderer, OffscreenTarget, wgpu::AdapterInfo)> {
    let scene = scene_args.build_scene()?;
    let (adapter, device, queue) = pollster::block_on(headless_device(
        AdapterPreference::HighPerformance,
        scene_args.adapter.as_deref(),
    ))?;
    let info = adapter.get_info();
    log::info!("adapter: {} ({:?})", info.name, info.backend);
    let target = OffscreenTarget::new(&device, width, height);
    let renderer = SceneRenderer::new(
        &adapter,
        device,
        queue,
        scene,
        RendererOptions {
            preset: scene_args.preset,
            format: OffscreenTarget::FORMAT,
            size: (width, height),
            mode: RenderMode::Native,
        },
    )?;
    Ok((renderer, target, info))
}

/// Renders one frame and writes it as PNG.
pub fn render(args: &RenderArgs) -> Result<()> {
    let (mut renderer, target, info) = offscreen_renderer(&args.scene, args.width, args.height)?;
    renderer.gpu.debug_tiers = args.debug_lods;
    let camera = camera_at(args.time).camera(args.width as f32 / args.height as f32);
    let record = renderer.render_frame(args.time, &camera, target.view());
    let pixels = target.read_rgba(renderer.gpu.device(), renderer.gpu.queue())?;
    write_png(&args.out, args.width, args.height, &pixels)?;
    println!(
        "wrote {} ({}x{}, {} of {} instances in {} draws, adapter {})",
        args.out.display(),
        args.width,
        args.height,
        record.drawn,
        renderer.scene.instances.len(),
        record.draw_calls,
        info.name
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

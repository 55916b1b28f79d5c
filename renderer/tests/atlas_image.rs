//! Image test: textured fish far away (a few pixels on screen, so the sampler reads
//! the atlas's coarsest mips) sample only their own atlas rectangle. Every other
//! rectangle in the atlas is pure magenta; a magenta tint on any fish pixel means a
//! neighbour bled through the gutters.
//!
//! Same harness as `images.rs`: lavapipe, a reference PNG with tolerance,
//! `<name>-actual.png`/`<name>-difference.png` on failure,
//! `CANDLEFISH_UPDATE_REFERENCES=1` to rewrite the reference.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::path::PathBuf;

use candlefish_renderer::atlas::{self, Image};
use candlefish_renderer::gpu::{
    AdapterPreference, OffscreenTarget, RendererOptions, SceneRenderer, headless_device,
};
use candlefish_renderer::scene::{Material, Scene};
use candlefish_renderer::standard::{ATLAS_PADDING, standard_meshes};
use candlefish_renderer::{Camera, Preset, RenderMode, SceneDescription, textures};
use glam::{Quat, Vec3};

const WIDTH: u32 = 320;
const HEIGHT: u32 = 180;
/// Per-channel tolerance and differing fraction, as in `images.rs` (lavapipe rounding).
const CHANNEL_TOLERANCE: u8 = 6;
const MAX_DIFFERING_FRACTION: f64 = 0.002;

fn solid(width: u32, height: u32, rgba: [u8; 4]) -> Image {
    let mut image = Image::new(width, height);
    for px in image.pixels.chunks_exact_mut(4) {
        px.copy_from_slice(&rgba);
    }
    image
}

/// Fish skin in an atlas otherwise full of magenta; far fish in a grid.
fn scene() -> Scene {
    const MAGENTA: [u8; 4] = [255, 0, 255, 255];
    // Magenta on every side of the skin: the packer puts the tallest first, in a row,
    // and the wide strips above and below.
    let images = [
        solid(128, 128, MAGENTA),
        textures::fish_skin(256, 128, 0),
        solid(128, 128, MAGENTA),
        solid(512, 64, MAGENTA),
        solid(512, 64, MAGENTA),
    ];
    let built = atlas::build(&images, 1024, ATLAS_PADDING).unwrap();
    let material = |name: &str, image: usize| Material {
        name: name.to_owned(),
        atlas_page: built.placements[image].page,
        atlas_rect: built.uv_rect(image),
        tint: [1.0; 3],
        emissive: 0.0,
    };
    let materials = vec![
        material("fish", 1),
        material("rock", 0),
        material("kelp", 2),
        material("snow", 3),
    ];
    let fish: Vec<Vec3> = (0..48)
        .map(|i| {
            let (col, row) = ((i % 8) as f32, (i / 8) as f32);
            Vec3::new(-10.0 + 2.8 * col, -3.5 + 1.4 * row, -18.0 - 5.0 * row)
        })
        .collect();
    let description = SceneDescription {
        fish: fish.len() as u32,
        rocks: 0,
        kelp: 0,
        snow: 0,
        ..SceneDescription::for_preset(Preset::Quality)
    };
    let mut scene = Scene::build(&description, standard_meshes(), materials, built.pages).unwrap();
    scene.swim = Default::default();
    // No fog: far fish keep their texture's colour, so a neighbour's shows plainly.
    scene.environment.fog_density = 0.0;
    let radius = scene.meshes.meshes[0].radius;
    for (i, p) in fish.iter().enumerate() {
        scene.instances.x[i] = p.x;
        scene.instances.y[i] = p.y;
        scene.instances.z[i] = p.z;
        scene.instances.orientation[i] = Quat::from_rotation_y(0.4 * i as f32);
        scene.instances.scale[i] = 1.0;
        scene.instances.radius[i] = radius * 1.2;
    }
    scene
}

fn render(scene: Scene) -> Vec<u8> {
    let (adapter, device, queue) = pollster::block_on(headless_device(AdapterPreference::Software, None))
        .unwrap_or_else(|e| {
            panic!("image tests need a GPU adapter (CI installs lavapipe: apt-get install mesa-vulkan-drivers): {e}")
        });
    let target = OffscreenTarget::new(&device, WIDTH, HEIGHT);
    let mut renderer = SceneRenderer::new(
        &adapter,
        device,
        queue,
        scene,
        RendererOptions {
            preset: Preset::Quality,
            format: OffscreenTarget::FORMAT,
            size: (WIDTH, HEIGHT),
            mode: RenderMode::Native,
        },
    )
    .unwrap();
    let camera = Camera {
        eye: Vec3::ZERO,
        target: Vec3::new(0.0, 0.0, -10.0),
        up: Vec3::Y,
        fov_y: 50f32.to_radians(),
        aspect: WIDTH as f32 / HEIGHT as f32,
        near: 0.1,
        far: 400.0,
    };
    renderer.render_frame(0.0, &camera, target.view());
    assert_eq!(
        renderer.planner.plan.instances.len(),
        48,
        "every fish is in view"
    );
    target
        .read_rgba(renderer.gpu.device(), renderer.gpu.queue())
        .unwrap()
}

fn write_png(path: &PathBuf, rgba: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), WIDTH, HEIGHT);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header().unwrap().write_image_data(rgba).unwrap();
}

fn read_png(path: &PathBuf) -> Option<Vec<u8>> {
    let mut decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).ok()?));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buf).ok()?;
    buf.truncate(info.buffer_size());
    (info.width == WIDTH && info.height == HEIGHT && info.color_type == png::ColorType::Rgba)
        .then_some(buf)
}

fn check_reference(name: &str, actual: &[u8]) {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/reference/{name}.png"));
    if std::env::var_os("CANDLEFISH_UPDATE_REFERENCES").is_some() {
        write_png(&path, actual);
        return;
    }
    let expected = read_png(&path).unwrap_or_else(|| {
        panic!(
            "missing reference {} (CANDLEFISH_UPDATE_REFERENCES=1 creates it)",
            path.display()
        )
    });
    let mut diff = vec![0u8; actual.len()];
    let mut differing = 0;
    for (i, (a, e)) in actual
        .chunks_exact(4)
        .zip(expected.chunks_exact(4))
        .enumerate()
    {
        let d = (0..3).map(|c| a[c].abs_diff(e[c])).max().unwrap_or(0);
        let px = if d > CHANNEL_TOLERANCE {
            differing += 1;
            [255, 0, 255, 255]
        } else {
            [e[0] / 3, e[1] / 3, e[2] / 3, 255]
        };
        diff[i * 4..i * 4 + 4].copy_from_slice(&px);
    }
    let allowed = (f64::from(WIDTH * HEIGHT) * MAX_DIFFERING_FRACTION) as usize;
    if differing > allowed {
        let stem = path.with_extension("");
        let actual_path = PathBuf::from(format!("{}-actual.png", stem.display()));
        let diff_path = PathBuf::from(format!("{}-difference.png", stem.display()));
        write_png(&actual_path, actual);
        write_png(&diff_path, &diff);
        panic!(
            "{name}: {differing} pixels differ (allowed {allowed}); wrote {} and {}",
            actual_path.display(),
            diff_path.display()
        );
    }
}

#[test]
fn far_fish_sample_only_their_own_atlas_region() {
    let image = render(scene());
    // The water is a vertical gradient: compare each pixel with its row's first.
    let fish_pixels: usize = image
        .chunks_exact(WIDTH as usize * 4)
        .map(|row| {
            row.chunks_exact(4)
                .filter(|p| (0..3).any(|c| p[c].abs_diff(row[c]) > 12))
                .count()
        })
        .sum();
    assert!(
        fish_pixels > 150,
        "only {fish_pixels} fish pixels: the fish are not on screen"
    );
    // Fish skin is blue-green and grey (red stays 17+ below green on lavapipe); red and
    // blue above green is magenta bleeding in from a neighbouring rectangle (with a full
    // mip chain, which mixes neighbours at levels past the gutter, red tops green by 27).
    let magenta: Vec<usize> = image
        .chunks_exact(4)
        .enumerate()
        .filter(|(_, p)| p[0] > p[1].saturating_add(4) && p[2] > p[1].saturating_add(4))
        .map(|(i, _)| i)
        .collect();
    assert!(
        magenta.is_empty(),
        "{} magenta pixels on the fish, first at ({}, {})",
        magenta.len(),
        magenta[0] % WIDTH as usize,
        magenta[0] / WIDTH as usize
    );
    check_reference("atlas-far-fish", &image);
}

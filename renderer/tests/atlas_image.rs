//! Image test: textured fish far away (a few pixels on screen, so the sampler reads
//! the atlas's coarsest mips) sample only their own atlas rectangle. Every other
//! rectangle in the atlas is pure magenta; a magenta tint on any fish pixel means a
//! neighbour bled through the gutters.
//!
//! Same harness as `images.rs` (`tests/common`): lavapipe, a reference PNG with tolerance,
//! `<name>-actual.png`/`<name>-difference.png` on failure,
//! `CANDLEFISH_UPDATE_REFERENCES=1` to rewrite the reference.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use candlefish_renderer::assets::atlas::{self, Image};
use candlefish_renderer::assets::standard::{ATLAS_PADDING, standard_meshes};
use candlefish_renderer::assets::textures;
use candlefish_renderer::scene::{Material, Scene};
use candlefish_renderer::{Camera, Preset, SceneDescription};
use common::{Harness, WIDTH, aspect, check_reference};
use glam::{Quat, Vec3};

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
    let mut h = Harness::new(scene, Preset::Quality);
    let camera = Camera {
        eye: Vec3::ZERO,
        target: Vec3::new(0.0, 0.0, -10.0),
        up: Vec3::Y,
        fov_y: 50f32.to_radians(),
        aspect: aspect(),
        near: 0.1,
        far: 400.0,
    };
    let image = h.render(0.0, &camera);
    assert_eq!(
        h.driver.planner.plan.instances.len(),
        48,
        "every fish is in view"
    );
    image
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

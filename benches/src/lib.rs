//! Shared helpers for the Candlefish benchmarks: problem sizes, scenes of a given
//! instance count laid out like the standard scene, a camera that sees about a tenth
//! of them, and the memory each instance costs.
//!
//! `CANDLEFISH_BENCH_QUICK=1` shrinks every size (10k instances, a few rectangles) so
//! that `cargo test --workspace --all-targets`, which runs each benchmark once, stays
//! fast. Test mode (criterion run without `--bench`) shrinks them too.

use std::sync::OnceLock;

use candlefish_renderer::assets::atlas::AtlasImage;
use candlefish_renderer::assets::standard::{StandardError, standard_materials, standard_meshes};
use candlefish_renderer::frame::cull::{Frustum, Spheres, cull_spheres};
use candlefish_renderer::scene::mesh::MeshLibrary;
use candlefish_renderer::scene::{Material, Scene, SceneDescription};
use candlefish_renderer::{Camera, FrameInput, InstanceData, OrbitCamera, Preset};

/// The frame input the pipeline benchmarks plan for: `camera` at [`BENCH_TIME`], a
/// 720-pixel-high viewport and the quality preset's LOD threshold.
pub fn bench_input(camera: Camera) -> FrameInput {
    FrameInput {
        time: BENCH_TIME,
        camera,
        viewport_height: 720.0,
        lod_threshold_px: Preset::Quality.settings().lod_threshold_px,
        max_triangles: Preset::Quality.settings().max_triangles,
    }
}

/// Visible fraction the culling camera aims for (the "about 10% visible").
pub const TARGET_VISIBLE: f32 = 0.10;

/// Scene time at which the benchmarks look at the scene.
pub const BENCH_TIME: f32 = 3.5;

/// Whether the problem sizes are shrunk: `CANDLEFISH_BENCH_QUICK` set (and not `0`),
/// or the binary run in criterion's test mode (no `--bench` argument).
pub fn quick() -> bool {
    let env = std::env::var("CANDLEFISH_BENCH_QUICK").is_ok_and(|v| v != "0" && !v.is_empty());
    env || !std::env::args().any(|a| a == "--bench")
}

/// Instance counts the pipeline benchmarks run at.
pub fn instance_counts() -> &'static [usize] {
    if quick() {
        &[10_000]
    } else {
        &[10_000, 100_000, 1_000_000]
    }
}

/// Rectangle counts the atlas benchmark packs.
pub fn rectangle_counts() -> &'static [usize] {
    if quick() { &[100] } else { &[1_000, 10_000] }
}

/// The standard meshes, materials and atlas, built once (meshoptimizer is not free).
fn content() -> Result<&'static (MeshLibrary, Vec<Material>, Vec<AtlasImage>), StandardError> {
    static CONTENT: OnceLock<(MeshLibrary, Vec<Material>, Vec<AtlasImage>)> = OnceLock::new();
    if let Some(c) = CONTENT.get() {
        return Ok(c);
    }
    let (materials, atlas) = standard_materials()?;
    Ok(CONTENT.get_or_init(|| (standard_meshes(), materials, atlas)))
}

/// The standard scene's description scaled to `total` instances: the quality
/// preset's rocks and kelp, a tenth of the rest as marine snow, the others fish.
pub fn description_for(total: usize) -> SceneDescription {
    let mut d = SceneDescription::for_preset(Preset::Quality);
    let total = u32::try_from(total).unwrap_or(u32::MAX);
    let fixed = d.rocks + d.kelp;
    let rest = total.saturating_sub(fixed);
    d.snow = rest / 10;
    d.fish = rest - d.snow;
    d
}

/// The standard scene with `total` instances, moved to [`BENCH_TIME`].
pub fn scene_with(total: usize) -> Result<Scene, Box<dyn std::error::Error>> {
    let (meshes, materials, atlas) = content()?;
    let mut scene = Scene::build(
        &description_for(total),
        meshes.clone(),
        materials.clone(),
        atlas.clone(),
    )?;
    scene.update(BENCH_TIME);
    Ok(scene)
}

/// The scene's bounding spheres.
pub fn spheres(scene: &Scene) -> Spheres<'_> {
    let i = &scene.instances;
    Spheres {
        x: &i.x,
        y: &i.y,
        z: &i.z,
        radius: &i.radius,
    }
}

/// The default orbit camera, pulled back as the school spreads with its size (the
/// same cube-root law as the layout), with the field of view narrowed until about
/// [`TARGET_VISIBLE`] of the instances pass the frustum. Returns the camera and the
/// visible fraction it gives.
pub fn culling_camera(scene: &Scene) -> (Camera, f32) {
    let fish = scene.swim.len().max(1) as f32;
    let spread = (fish / 12_000.0).cbrt().max(0.35);
    let orbit = OrbitCamera {
        distance: 30.0 * spread.max(1.0),
        ..OrbitCamera::default()
    };
    let base = orbit.camera(16.0 / 9.0);
    let n = scene.instances.len().max(1) as f32;
    let mut visible = Vec::new();
    let mut fraction_at = |fov: f32| {
        let camera = Camera { fov_y: fov, ..base };
        let frustum = Frustum::from_clip_from_world(camera.clip_from_world());
        cull_spheres(&frustum, spheres(scene), &mut visible);
        (camera, visible.len() as f32 / n)
    };
    // The visible fraction grows with the field of view: bisect for the target.
    let (mut lo, mut hi) = (0.01f32, 3.0f32);
    let mut best = fraction_at(base.fov_y);
    for _ in 0..24 {
        let mid = 0.5 * (lo + hi);
        let (camera, f) = fraction_at(mid);
        if (f - TARGET_VISIBLE).abs() < (best.1 - TARGET_VISIBLE).abs() {
            best = (camera, f);
        }
        if f < TARGET_VISIBLE {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    best
}

/// Memory each instance costs, bytes, measured from a scene's columns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryPerInstance {
    /// Structure-of-arrays instance columns (position, radius, orientation, scale,
    /// mesh, material, phase).
    pub soa: f64,
    /// Motion parameters (the swim and drift groups' columns), averaged.
    pub motion: f64,
    /// Per-frame scratch: LOD tier (1 byte) and the visible index list (4 bytes, for
    /// the visible fraction given).
    pub scratch: f64,
    /// GPU instance data ([`InstanceData`], 32 bytes) per drawn instance, averaged
    /// over all instances for the visible fraction given.
    pub gpu: f64,
}

impl MemoryPerInstance {
    /// Measures `scene` assuming `visible_fraction` of it is drawn.
    pub fn of(scene: &Scene, visible_fraction: f64) -> Self {
        fn bytes<T>(v: &[T]) -> usize {
            std::mem::size_of_val(v)
        }
        let i = &scene.instances;
        let n = i.len().max(1) as f64;
        let soa = bytes(&i.x)
            + bytes(&i.y)
            + bytes(&i.z)
            + bytes(&i.radius)
            + bytes(&i.orientation)
            + bytes(&i.scale)
            + bytes(&i.mesh)
            + bytes(&i.material)
            + bytes(&i.phase);
        let s = &scene.swim;
        let d = &scene.drift;
        let motion = bytes(&s.orbit_radius)
            + bytes(&s.height)
            + bytes(&s.angle0)
            + bytes(&s.angular_speed)
            + bytes(&s.bob)
            + bytes(&s.bob_phase[0]) * 2
            + bytes(&s.breathe_phase[0]) * 2
            + bytes(&d.origin)
            + bytes(&d.speed)
            + bytes(&d.sway_phase[0]) * 2;
        let drawn = visible_fraction * n;
        Self {
            soa: soa as f64 / n,
            motion: motion as f64 / n,
            scratch: 1.0 + 4.0 * visible_fraction,
            gpu: drawn * std::mem::size_of::<InstanceData>() as f64 / n,
        }
    }

    /// All of it.
    pub fn total(&self) -> f64 {
        self.soa + self.motion + self.scratch + self.gpu
    }
}

/// `count` rectangle sizes between 8 and 128 pixels a side, deterministic.
pub fn rectangles(count: usize) -> Vec<(u32, u32)> {
    let mut rng = candlefish_renderer::rng::Rng::new(0x5EED);
    (0..count)
        .map(|_| (8 + rng.below(121), 8 + rng.below(121)))
        .collect()
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn scenes_have_the_requested_size_and_the_camera_sees_about_a_tenth() {
        let scene = scene_with(10_000).unwrap();
        assert_eq!(scene.instances.len(), 10_000);
        let (_, fraction) = culling_camera(&scene);
        assert!((0.05..0.15).contains(&fraction), "{fraction}");
        let m = MemoryPerInstance::of(&scene, f64::from(fraction));
        assert!(m.soa >= 44.0 && m.total() > m.soa);
    }
}

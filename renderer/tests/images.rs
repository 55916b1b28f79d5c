//! Image tests: fixed scenes rendered headless on the software adapter (lavapipe in
//! CI) and compared with committed reference PNGs in `tests/reference/`.
//!
//! A pixel differs when any channel is off by more than `common::CHANNEL_TOLERANCE`; a test
//! fails when more than `common::MAX_DIFFERING_FRACTION` of its pixels differ. On failure
//! `<name>-actual.png` and `<name>-difference.png` are written next to the reference.
//! `CANDLEFISH_UPDATE_REFERENCES=1` rewrites the references deliberately.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use std::sync::OnceLock;

use candlefish_renderer::assets::standard::standard_scene;
use candlefish_renderer::scene::Scene;
use candlefish_renderer::{Camera, OrbitCamera, Preset, SceneDescription};
use common::{HEIGHT, Harness, WIDTH, aspect, check_reference};
use glam::{Quat, Vec3};

fn base_scene(description: &SceneDescription) -> Scene {
    standard_scene(description).unwrap_or_else(|e| panic!("building the scene: {e}"))
}

fn quality() -> &'static Scene {
    static SCENE: OnceLock<Scene> = OnceLock::new();
    SCENE.get_or_init(|| base_scene(&SceneDescription::for_preset(Preset::Quality)))
}

/// A scene with only the given fish: `(position, yaw)`; no rocks, kelp or snow.
fn fish_only(fish: &[(Vec3, f32)]) -> Scene {
    let description = SceneDescription {
        fish: fish.len() as u32,
        rocks: 0,
        kelp: 0,
        snow: 0,
        ..SceneDescription::for_preset(Preset::Quality)
    };
    let mut scene = base_scene(&description);
    // Freeze the school where the test puts it.
    scene.swim = Default::default();
    for (i, &(p, yaw)) in fish.iter().enumerate() {
        scene.instances.x[i] = p.x;
        scene.instances.y[i] = p.y;
        scene.instances.z[i] = p.z;
        scene.instances.orientation[i] = Quat::from_rotation_y(yaw);
        scene.instances.scale[i] = 1.0;
        scene.instances.radius[i] = scene.meshes.meshes[0].radius * 1.2;
    }
    scene
}

/// Mean brightness and how many pixels are not plain water (bright or saturated).
fn stats(rgba: &[u8]) -> (f64, usize) {
    let mut sum = 0u64;
    let mut lit = 0usize;
    for p in rgba.chunks_exact(4) {
        sum += u64::from(p[0]) + u64::from(p[1]) + u64::from(p[2]);
        if p[0].max(p[1]) > 60 {
            lit += 1;
        }
    }
    (sum as f64 / (rgba.len() / 4 * 3) as f64, lit)
}

#[test]
fn school_at_a_fixed_time() {
    let mut h = Harness::new(quality().clone(), Preset::Quality);
    let mut orbit = OrbitCamera::default();
    orbit.advance(3.5);
    let image = h.render(3.5, &orbit.camera(aspect()));
    let drawn = h.driver.planner.plan.instances.len();
    assert!(drawn > 5_000, "only {drawn} instances drawn");
    // The school is plainly visible: many pixels brighter than the water.
    let (_, lit) = stats(&image);
    assert!(
        lit > (WIDTH * HEIGHT / 20) as usize,
        "only {lit} lit pixels"
    );
    check_reference("school", &image);
}

#[test]
fn a_camera_that_sees_nothing_draws_only_water() {
    let mut h = Harness::new(quality().clone(), Preset::Quality);
    // High above the snow column, looking up at open water.
    let camera = Camera {
        eye: Vec3::new(0.0, 80.0, 0.0),
        target: Vec3::new(0.0, 100.0, 1.0),
        up: Vec3::Y,
        fov_y: 50f32.to_radians(),
        aspect: aspect(),
        near: 0.1,
        far: 400.0,
    };
    let image = h.render(3.5, &camera);
    assert_eq!(h.driver.planner.plan.instances.len(), 0);
    assert!(h.driver.planner.plan.batches.is_empty());
    // Only the vertical water gradient: every row is one colour.
    for row in image.chunks_exact(WIDTH as usize * 4) {
        assert!(
            row.chunks_exact(4).all(|p| p == &row[..4]),
            "a row has something drawn in it"
        );
    }
    check_reference("empty", &image);
}

#[test]
fn near_and_far_fish_use_different_tiers() {
    // One fish close to the camera, a line of fish far away.
    let mut fish = vec![(Vec3::new(0.0, 0.3, -1.1), 1.4)];
    for k in 0..9 {
        fish.push((Vec3::new(-12.0 + 3.0 * k as f32, 4.0, -45.0), 1.6));
    }
    let mut h = Harness::new(fish_only(&fish), Preset::Quality);
    h.set_debug_tiers(true);
    let camera = Camera {
        eye: Vec3::new(0.0, 0.5, 0.0),
        target: Vec3::new(0.0, 0.5, -10.0),
        up: Vec3::Y,
        fov_y: 50f32.to_radians(),
        aspect: aspect(),
        near: 0.1,
        far: 400.0,
    };
    let image = h.render(0.0, &camera);
    let tiers = h.driver.planner.tiers().to_vec();
    assert!(
        tiers[0] <= 1,
        "the near fish should use a fine tier, got {}",
        tiers[0]
    );
    assert!(
        tiers[1..].iter().all(|&t| t >= 2),
        "far fish tiers: {:?}",
        &tiers[1..]
    );
    // The tier colours are on screen: green/yellow (tiers 0, 1) near, orange/magenta
    // (tiers 2, 3) far.
    let fine = image
        .chunks_exact(4)
        .filter(|p| p[1] > 110 && p[2] < 90)
        .count();
    let coarse = image
        .chunks_exact(4)
        .filter(|p| p[0] > 120 && p[1] < 110)
        .count();
    assert!(fine > 500, "the near fish covers only {fine} pixels");
    assert!(
        coarse > 5,
        "far fish (orange/magenta) cover only {coarse} pixels"
    );
    check_reference("lod-tiers", &image);
}

#[test]
fn culled_instances_never_appear() {
    let camera = Camera {
        eye: Vec3::new(0.0, 0.0, 3.0),
        target: Vec3::ZERO,
        up: Vec3::Y,
        fov_y: 50f32.to_radians(),
        aspect: aspect(),
        near: 0.1,
        far: 60.0,
    };
    let visible = (Vec3::ZERO, 1.2);
    // NaN position, behind the camera, just outside the left plane, past the far plane.
    let culled = [
        (Vec3::new(f32::NAN, 0.0, 0.0), 0.0),
        (Vec3::new(0.0, 0.0, 8.0), 0.0),
        (Vec3::new(-6.0, 0.0, -1.0), 0.0),
        (Vec3::new(0.0, 0.0, -70.0), 0.0),
    ];
    let mut all = vec![visible];
    all.extend(culled);
    let mut with_culled = Harness::new(fish_only(&all), Preset::Quality);
    // A first frame drawing a lot (the whole school from afar) must leave nothing
    // behind in the instance buffer for the next one.
    let wide = Camera {
        eye: Vec3::new(0.0, 0.0, 40.0),
        ..camera
    };
    with_culled.render(0.0, &wide);
    let a = with_culled.render(0.0, &camera);
    assert_eq!(with_culled.driver.planner.plan.instances.len(), 1);
    let mut alone = Harness::new(fish_only(&[visible]), Preset::Quality);
    let b = alone.render(0.0, &camera);
    assert!(stats(&b).1 > 200, "the visible fish should be on screen");
    assert!(a == b, "culled instances changed the image");
    check_reference("culled", &a);
}

/// A non-sRGB target (what WebGPU and WebGL2 canvases are) gets its sRGB encoding in
/// the fragment shader and must look like the sRGB target, MSAA on and off. Before,
/// the browser resolved 4x MSAA into an sRGB *view* of the canvas texture and showed
/// the quality preset at a sixth of its brightness.
#[test]
fn non_srgb_targets_match_srgb_targets_with_and_without_msaa() {
    use candlefish_renderer::backend::gpu::{
        AdapterPreference, GpuContext, OffscreenTarget, WgpuBackend,
    };
    use candlefish_renderer::{Backend, FrameDriver, RenderMode};

    let render = |format: wgpu::TextureFormat, preset: Preset| {
        let scene = quality().clone();
        let gpu =
            pollster::block_on(GpuContext::headless(AdapterPreference::Software, None)).unwrap();
        let target = OffscreenTarget::with_format(&gpu.device, WIDTH, HEIGHT, format);
        let backend = WgpuBackend::new(gpu, &scene, target, preset, RenderMode::Native).unwrap();
        let mut driver = FrameDriver::new(scene, preset, backend);
        let mut orbit = OrbitCamera::default();
        orbit.advance(3.5);
        driver.render_frame(3.5, &orbit.camera(aspect())).unwrap();
        (
            driver.backend().msaa_samples(),
            driver.backend().read_rgba().unwrap(),
        )
    };
    for preset in [Preset::Quality, Preset::Performance] {
        let (samples, srgb) = render(wgpu::TextureFormat::Rgba8UnormSrgb, preset);
        let (samples_linear, linear) = render(wgpu::TextureFormat::Rgba8Unorm, preset);
        assert_eq!(samples, samples_linear);
        let (mean_srgb, _) = stats(&srgb);
        let (mean_linear, _) = stats(&linear);
        assert!(
            (mean_srgb - mean_linear).abs() < 1.0,
            "{preset}: mean {mean_linear:.1} on Rgba8Unorm vs {mean_srgb:.1} on Rgba8UnormSrgb"
        );
        // With MSAA, edge pixels are averaged after encoding rather than before (measured
        // on lavapipe: 99.6% of pixels within 10/255, mean 0.8 apart); without, the two
        // paths agree everywhere.
        let close = srgb
            .chunks_exact(4)
            .zip(linear.chunks_exact(4))
            .filter(|(a, b)| (0..3).all(|c| a[c].abs_diff(b[c]) <= 10))
            .count();
        let fraction = close as f64 / f64::from(WIDTH * HEIGHT);
        assert!(
            fraction > 0.99,
            "{preset}: only {fraction:.3} of pixels match"
        );
    }
}

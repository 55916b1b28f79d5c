//! The triangle budget at any fish count: on the null backend, 100,000 fish along the
//! automatic orbit would draw far more than a preset's cap, and the frame driver keeps
//! every frame under it (by raising the LOD threshold, using the fish's impostor tier,
//! and past that by leaving out the fish smallest on screen).

#![expect(clippy::unwrap_used, reason = "tests")]

use candlefish_renderer::assets::standard::standard_scene;
use candlefish_renderer::backend::null::NullBackend;
use candlefish_renderer::scene::mesh::MeshKind;
use candlefish_renderer::{
    FrameDriver, FrameInput, FramePlanner, OrbitCamera, Preset, SceneDescription,
};

fn orbit_camera(time: f32) -> candlefish_renderer::Camera {
    let mut orbit = OrbitCamera::default();
    orbit.advance(time);
    orbit.camera(16.0 / 9.0)
}

#[test]
fn every_preset_stays_under_its_cap_with_100k_fish() {
    for preset in [Preset::Quality, Preset::Performance] {
        let description = SceneDescription {
            fish: 100_000,
            ..SceneDescription::for_preset(preset)
        };
        let scene = standard_scene(&description).unwrap();
        let cap = preset.settings().max_triangles;

        // Without a cap the same frame draws more than the cap: the test can fail.
        let mut free_scene = scene.clone();
        let mut planner = FramePlanner::new();
        let input = FrameInput {
            time: 3.5,
            camera: orbit_camera(3.5),
            viewport_height: 720.0,
            lod_threshold_px: preset.settings().lod_threshold_px,
            max_triangles: u64::MAX,
        };
        let mut record = Default::default();
        let uncapped = planner.plan(&mut free_scene, &input, &mut record).triangles;
        assert!(
            uncapped > cap,
            "{preset}: {uncapped} triangles uncapped, cap {cap}"
        );

        let mut driver = FrameDriver::new(scene, preset, NullBackend::new(1280, 720));
        let mut impostors = 0;
        for frame in 0..6 {
            let time = 3.5 + frame as f32 * 0.5;
            let record = driver.render_frame(time, &orbit_camera(time)).unwrap();
            let outcome = driver.planner.lod_outcome();
            assert!(
                record.triangles <= cap,
                "{preset} frame {frame}: {} > {cap}",
                record.triangles
            );
            assert_eq!(record.triangles, driver.plan().triangles);
            assert!(outcome.threshold_px > preset.settings().lod_threshold_px);
            let fish = driver.scene.meshes.find_kind(MeshKind::Fish).unwrap();
            let impostor = driver.scene.meshes.meshes[usize::from(fish)].tiers.len() - 1;
            impostors += driver
                .plan()
                .batches
                .iter()
                .filter(|b| b.mesh == fish && usize::from(b.tier) == impostor)
                .map(|b| b.instance_count)
                .sum::<u32>();
        }
        assert!(impostors > 0, "{preset}: the impostor tier was never drawn");
    }
}

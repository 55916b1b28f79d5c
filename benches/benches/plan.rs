//! Bucketing the visible instances by (mesh, tier) and packing their 32-byte
//! [`InstanceData`](candlefish_renderer::InstanceData).

use std::hint::black_box;

use candlefish_benches::{culling_camera, instance_counts, scene_with, spheres};
use candlefish_renderer::cull::{Frustum, cull_spheres};
use candlefish_renderer::frame::LOD_HYSTERESIS;
use candlefish_renderer::lod::{LodParams, TierTable, select_lods};
use candlefish_renderer::plan::{Bucketer, FramePlan};
use candlefish_renderer::preset::Preset;
use criterion::{BenchmarkId, Criterion, Throughput};

fn plan(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan");
    for &n in instance_counts() {
        let scene = scene_with(n).unwrap();
        let (camera, _) = culling_camera(&scene);
        let mut visible = Vec::new();
        cull_spheres(
            &Frustum::from_clip_from_world(camera.clip_from_world()),
            spheres(&scene),
            &mut visible,
        );
        let params = LodParams {
            eye: camera.eye,
            pixels_per_unit: camera.pixels_per_unit_at_unit_distance(720.0),
            threshold_px: Preset::Quality.settings().lod_threshold_px,
            hysteresis: LOD_HYSTERESIS,
        };
        let mut tiers = Vec::new();
        let table = TierTable::new(&scene.meshes);
        select_lods(&params, &table, &scene.instances, &visible, &mut tiers);
        let mut bucketer = Bucketer::default();
        let mut frame_plan = FramePlan::default();
        group.throughput(Throughput::Elements(visible.len() as u64));
        group.bench_function(BenchmarkId::new("bucket_pack_visible", n), |b| {
            b.iter(|| {
                bucketer.build(
                    &scene.meshes,
                    &scene.instances,
                    black_box(&visible),
                    &tiers,
                    &mut frame_plan,
                );
            });
        });
        black_box(&frame_plan);
    }
    group.finish();
}

criterion::criterion_group!(benches, plan);

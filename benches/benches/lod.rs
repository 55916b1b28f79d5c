//! LOD selection over the visible instances (about 10% of the scene), in the steady
//! state where every instance already has a tier.

use std::hint::black_box;

use candlefish_benches::{culling_camera, instance_counts, scene_with, spheres};
use candlefish_renderer::cull::{Frustum, cull_spheres};
use candlefish_renderer::frame::LOD_HYSTERESIS;
use candlefish_renderer::lod::{LodParams, TierTable, select_lods};
use candlefish_renderer::preset::Preset;
use criterion::{BenchmarkId, Criterion, Throughput};

fn lod(c: &mut Criterion) {
    let mut group = c.benchmark_group("lod");
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
        let table = TierTable::new(&scene.meshes);
        let mut tiers = Vec::new();
        select_lods(&params, &table, &scene.instances, &visible, &mut tiers);
        // Per visible instance: the only ones LOD selection touches.
        group.throughput(Throughput::Elements(visible.len() as u64));
        group.bench_function(BenchmarkId::new("select_visible", n), |b| {
            b.iter(|| {
                select_lods(
                    black_box(&params),
                    &table,
                    &scene.instances,
                    &visible,
                    &mut tiers,
                );
            });
        });
        black_box(&tiers);
    }
    group.finish();
}

criterion::criterion_group!(benches, lod);

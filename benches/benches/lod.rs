//! LOD selection over the visible instances (about 10% of the scene), in the steady
//! state where every instance already has a tier.

use std::hint::black_box;

use candlefish_benches::{bench_input, culling_camera, instance_counts, scene_with};
use candlefish_renderer::FramePlanner;
use criterion::{BenchmarkId, Criterion, Throughput};

fn lod(c: &mut Criterion) {
    let mut group = c.benchmark_group("lod");
    for &n in instance_counts() {
        let scene = scene_with(n).unwrap();
        let (camera, _) = culling_camera(&scene);
        let input = bench_input(camera);
        let mut planner = FramePlanner::new();
        planner.cull(&scene, &camera);
        planner.select_lods(&scene, &input);
        // Per visible instance: the only ones LOD selection touches.
        group.throughput(Throughput::Elements(planner.visible().len() as u64));
        group.bench_function(BenchmarkId::new("select_visible", n), |b| {
            b.iter(|| planner.select_lods(&scene, black_box(&input)));
        });
        black_box(planner.tiers());
    }
    group.finish();
}

criterion::criterion_group!(benches, lod);

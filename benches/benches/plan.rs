//! Bucketing the visible instances by (mesh, tier) and packing their 32-byte
//! [`InstanceData`](candlefish_renderer::InstanceData).

use std::hint::black_box;

use candlefish_benches::{bench_input, culling_camera, instance_counts, scene_with};
use candlefish_renderer::FramePlanner;
use criterion::{BenchmarkId, Criterion, Throughput};

fn plan(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan");
    for &n in instance_counts() {
        let scene = scene_with(n).unwrap();
        let (camera, _) = culling_camera(&scene);
        let input = bench_input(camera);
        let mut planner = FramePlanner::new();
        planner.cull(&scene, &camera);
        planner.select_lods(&scene, &input);
        group.throughput(Throughput::Elements(planner.visible().len() as u64));
        group.bench_function(BenchmarkId::new("bucket_pack_visible", n), |b| {
            b.iter(|| {
                black_box(planner.bucket(black_box(&scene)));
            });
        });
    }
    group.finish();
}

criterion::criterion_group!(benches, plan);

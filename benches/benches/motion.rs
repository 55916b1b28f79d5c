//! Motion update: every fish and snow flake moved to a new time, vectorised
//! ([`Scene::update`](candlefish_renderer::Scene::update)) and by the scalar reference
//! (`update_scalar`, the standard library's trigonometry one instance at a time).

use std::hint::black_box;

use candlefish_benches::{BENCH_TIME, instance_counts, scene_with};
use criterion::{BenchmarkId, Criterion, Throughput};

fn motion(c: &mut Criterion) {
    let mut group = c.benchmark_group("motion");
    for &n in instance_counts() {
        let mut scene = scene_with(n).unwrap();
        group.throughput(Throughput::Elements(n as u64));
        let mut time = BENCH_TIME;
        group.bench_function(BenchmarkId::new("update", n), |b| {
            b.iter(|| {
                time += 1.0 / 60.0;
                scene.update(black_box(time));
            });
        });
        group.bench_function(BenchmarkId::new("scalar", n), |b| {
            b.iter(|| {
                time += 1.0 / 60.0;
                let t = black_box(time);
                scene.swim.update_scalar(t, &mut scene.instances);
                scene.drift.update_scalar(t, &mut scene.instances);
            });
        });
        black_box(&scene.instances.x);
    }
    group.finish();
}

criterion::criterion_group!(benches, motion);

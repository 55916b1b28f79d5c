//! Frustum culling of the scene's bounding spheres: the scalar reference against the
//! vectorised path, with a camera that sees about 10% of the instances.

use std::hint::black_box;

use candlefish_benches::{MemoryPerInstance, culling_camera, instance_counts, scene_with, spheres};
use candlefish_renderer::frame::cull::{Frustum, cull_spheres, cull_spheres_scalar};
use criterion::{BenchmarkId, Criterion, Throughput};

fn cull(c: &mut Criterion) {
    let mut group = c.benchmark_group("cull");
    for &n in instance_counts() {
        let scene = scene_with(n).unwrap();
        let (camera, fraction) = culling_camera(&scene);
        let memory = MemoryPerInstance::of(&scene, f64::from(fraction));
        eprintln!(
            "cull/{n}: {:.1}% visible (fov {:.1} deg); bytes per instance: SoA {:.1}, \
             motion {:.1}, scratch {:.2}, GPU instance data {:.2}, total {:.1}",
            100.0 * fraction,
            camera.fov_y.to_degrees(),
            memory.soa,
            memory.motion,
            memory.scratch,
            memory.gpu,
            memory.total()
        );
        let frustum = Frustum::from_clip_from_world(camera.clip_from_world());
        let spheres = spheres(&scene);
        let mut visible = Vec::with_capacity(n + 64);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("scalar", n), |b| {
            b.iter(|| cull_spheres_scalar(black_box(&frustum), spheres, &mut visible));
        });
        group.bench_function(BenchmarkId::new("vectorised", n), |b| {
            b.iter(|| cull_spheres(black_box(&frustum), spheres, &mut visible));
        });
        black_box(&visible);
    }
    group.finish();
}

criterion::criterion_group!(benches, cull);

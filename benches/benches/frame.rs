//! The whole CPU frame (update → cull → LOD → bucket → the backend's upload) through
//! the frame driver, on the null backend: what every backend pays before its own GPU
//! work.

use std::hint::black_box;

use candlefish_benches::{BENCH_TIME, culling_camera, instance_counts, scene_with};
use candlefish_renderer::backend::null::NullBackend;
use candlefish_renderer::{FrameDriver, Preset};
use criterion::{BenchmarkId, Criterion, Throughput};

fn frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame");
    for &n in instance_counts() {
        let scene = scene_with(n).unwrap();
        let (camera, _) = culling_camera(&scene);
        let mut driver = FrameDriver::new(scene, Preset::Quality, NullBackend::new(1280, 720));
        let mut time = BENCH_TIME;
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("null_backend", n), |b| {
            b.iter(|| {
                time += 1.0 / 60.0;
                black_box(driver.render_frame(black_box(time), &camera).unwrap());
            });
        });
        black_box(driver.backend().last());
    }
    group.finish();
}

criterion::criterion_group!(benches, frame);

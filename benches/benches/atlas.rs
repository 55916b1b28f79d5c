//! Atlas packing of many rectangles (8 to 128 pixels a side) onto 2048-pixel pages
//! with 8-pixel gutters, through `atlas::pack` as it stands.

use std::hint::black_box;

use candlefish_benches::{rectangle_counts, rectangles};
use candlefish_renderer::assets::atlas;
use candlefish_renderer::assets::standard::ATLAS_PADDING;
use criterion::{BenchmarkId, Criterion, Throughput};

const PAGE_SIZE: u32 = 2048;

fn atlas(c: &mut Criterion) {
    let mut group = c.benchmark_group("atlas");
    for &n in rectangle_counts() {
        let sizes = rectangles(n);
        let pages = atlas::pack(&sizes, PAGE_SIZE, ATLAS_PADDING)
            .unwrap()
            .iter()
            .map(|p| p.page + 1)
            .max()
            .unwrap_or(0);
        let area: u64 = sizes.iter().map(|&(w, h)| u64::from(w * h)).sum();
        eprintln!(
            "atlas/{n}: {pages} pages of {PAGE_SIZE}px, content fills {:.1}% of them",
            100.0 * area as f64 / (f64::from(pages) * f64::from(PAGE_SIZE * PAGE_SIZE))
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("pack", n), |b| {
            b.iter(|| atlas::pack(black_box(&sizes), PAGE_SIZE, ATLAS_PADDING));
        });
    }
    group.finish();
}

criterion::criterion_group!(benches, atlas);

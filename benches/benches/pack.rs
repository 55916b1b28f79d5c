//! Scene-pack loading: validating the standard content's pack in place
//! (`pack::parse`) and turning it into owned data (`pack::load`), then laying the
//! quality scene out from it.

use std::hint::black_box;

use candlefish_renderer::Preset;
use candlefish_renderer::assets::pack::{self, PackDescription, ScenePack};
use candlefish_renderer::assets::standard::{standard_materials, standard_meshes};
use criterion::{Criterion, Throughput};

fn pack_loading(c: &mut Criterion) {
    let (materials, atlas) = standard_materials().unwrap();
    let bytes = pack::write(&ScenePack {
        description: PackDescription::default(),
        meshes: standard_meshes(),
        materials,
        atlas,
    });
    eprintln!("pack: the standard pack is {} bytes", bytes.len());
    let mut group = c.benchmark_group("pack");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("parse", |b| {
        b.iter(|| pack::parse(black_box(&bytes)).map(|v| v.mesh_name(0).len()));
    });
    group.bench_function("load", |b| b.iter(|| pack::load(black_box(&bytes))));
    let loaded = pack::load(&bytes).unwrap();
    let instances = loaded.description.counts(Preset::Quality).total();
    group.throughput(Throughput::Elements(instances));
    group.bench_function("load_and_lay_out_quality", |b| {
        b.iter(|| pack::load(black_box(&bytes)).map(|p| p.into_scene(Preset::Quality)));
    });
    group.finish();
}

criterion::criterion_group!(benches, pack_loading);

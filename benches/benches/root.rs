//! Criterion benchmarks of the Candlefish frame pipeline, one module per area
//! (wgpu's `benches/benches/root.rs` layout):
//!
//! - `motion`: [`Scene::update`](candlefish_renderer::Scene::update);
//! - `cull`: scalar reference against the vectorised path;
//! - `lod`: screen-space LOD selection of the visible instances;
//! - `plan`: bucketing and packing the 32-byte instance data;
//! - `frame`: the whole CPU frame through the frame driver on the null backend;
//! - `atlas`: rectangle packing;
//! - `pack`: scene-pack validation and loading.
//!
//! Run with `cargo bench -p candlefish-benches`; `CANDLEFISH_BENCH_QUICK=1` shrinks
//! the sizes. Throughput is reported per instance, so criterion prints instances/s.

#![expect(clippy::unwrap_used, reason = "benchmark setup on generated data")]

mod atlas;
mod cull;
mod frame;
mod lod;
mod motion;
mod pack;
mod plan;

criterion::criterion_main!(
    motion::benches,
    cull::benches,
    lod::benches,
    plan::benches,
    frame::benches,
    atlas::benches,
    pack::benches
);

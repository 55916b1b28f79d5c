//! Candlefish renderer: a school of candlefish in a deep ocean, drawn with GPU
//! instancing, per-instance frustum culling and screen-space LOD.
//!
//! # The frame pipeline
//! Scene data ([`scene::Scene`]: meshes with LOD tiers, materials, atlas, instances in
//! structure-of-arrays form) is plain data, apart from GPU resources. Each frame is a
//! plan, then an execution:
//! 1. **update** — [`motion`] moves the school from time alone (reproducible frames);
//! 2. **cull** — [`cull`] tests bounding spheres against the frustum, vectorised;
//! 3. **LOD** — [`lod`] picks each visible instance's tier by projected error, with
//!    hysteresis;
//! 4. **bucket** — [`plan`] groups visible instances by (mesh, tier) into one compacted
//!    32-byte-per-instance array and one draw batch per bucket;
//! 5. **upload, encode, submit** — [`gpu::GpuRenderer`] (wgpu) writes the instance
//!    buffer and issues one instanced draw per batch; other backends (the browser's
//!    Canvas 2D) consume the same [`plan::FramePlan`].
//!
//! [`timings`] records each phase's CPU time and, where the adapter has timestamp
//! queries, GPU time.

pub mod atlas;
pub mod camera;
pub mod canvas;
pub mod cull;
pub mod frame;
pub mod gpu;
pub mod lod;
pub mod mesh;
pub mod motion;
pub mod pack;
pub mod plan;
pub mod preset;
pub mod procedural;
pub mod rng;
pub mod scene;
#[cfg(not(target_arch = "wasm32"))]
pub mod simplify;
#[cfg(not(target_arch = "wasm32"))]
pub mod standard;
pub mod textures;
pub mod timings;

pub use camera::{Camera, OrbitCamera};
pub use frame::{FrameInput, FramePlanner};
pub use plan::{DrawBatch, FramePlan, InstanceData};
pub use preset::Preset;
pub use scene::{Scene, SceneDescription};
pub use timings::{FrameRecord, FrameTimings, Phase, RenderMode};

//! Candlefish renderer: a school of candlefish in a deep ocean, drawn with GPU
//! instancing, per-instance frustum culling and screen-space LOD.
//!
//! # The frame pipeline
//! The modules read in the order a frame runs:
//! - [`scene`] is plain data, apart from GPU resources: meshes with LOD tiers,
//!   materials, the atlas, instances in structure-of-arrays form, the camera.
//! - [`assets`] builds and loads that data: procedural meshes, meshopt simplification
//!   (native, at asset-build time), atlas packing, the versioned scene pack.
//! - [`frame`] is the CPU side of each frame, a plan then an execution:
//!   1. **update**: [`frame::motion`] moves the school from time alone (reproducible
//!      frames);
//!   2. **cull**: [`frame::cull`] tests bounding spheres against the frustum,
//!      vectorised;
//!   3. **LOD**: [`frame::lod`] picks each visible instance's tier by projected error,
//!      with hysteresis;
//!   4. **bucket**: [`frame::plan`] groups visible instances by (mesh, tier) into one
//!      compacted 32-byte-per-instance array and one draw batch per bucket;
//!   5. **upload, encode, submit**: a [`backend::Backend`] executes the
//!      [`FramePlan`].
//!
//!   [`frame::driver::FrameDriver`] owns the scene, the planner, the timings and the
//!   preset, and runs those steps against whichever backend is in use.
//! - [`backend`] holds the backend trait and the backends that need no browser API: the
//!   wgpu backend ([`backend::gpu`], feature `wgpu`: WebGPU in browsers,
//!   Vulkan/Metal/DX12/GL natively), the null backend for benches and tests, and the
//!   Canvas-2D sprite planning. The WebGL2 and Canvas-2D backends themselves live in
//!   the browser runtime (`app/src/web/`), on `web-sys`.
//!
//! [`frame::timings`] records each phase's CPU time and, where the adapter has
//! timestamp queries, GPU time.

pub mod assets;
pub mod backend;
pub mod frame;
pub mod preset;
pub mod rng;
pub mod scene;

pub use backend::{Backend, BackendError, FrameContext};
pub use frame::driver::FrameDriver;
pub use frame::plan::{DrawBatch, FramePlan, InstanceData};
pub use frame::timings::{FrameRecord, FrameTimings, Phase, RenderMode};
pub use frame::{FrameInput, FramePlanner};
pub use preset::Preset;
pub use scene::camera::{Camera, OrbitCamera};
pub use scene::{Scene, SceneDescription};

//! Building and loading scene content: procedural meshes and textures, meshoptimizer
//! LOD tiers (native, at asset-build time), atlas packing, and the versioned scene
//! pack the browser downloads.

pub mod atlas;
#[cfg(not(target_arch = "wasm32"))]
pub mod impostor;
pub mod pack;
pub mod procedural;
#[cfg(not(target_arch = "wasm32"))]
pub mod simplify;
#[cfg(not(target_arch = "wasm32"))]
pub mod standard;
pub mod textures;

//! The Candlefish browser runtime (compiled for `wasm32-unknown-unknown` only).
//!
//! The page's loader (`www/loader.js`) picks a mode, fetches one of two bundles (the
//! WebGPU-only build, or the WebGL2 build with naga and wgpu-core inside) and the
//! scene pack, then drives frames with `requestAnimationFrame`. The Canvas-2D
//! fallback runs in the WebGPU bundle (the smaller one) without touching wgpu.

#[cfg(target_arch = "wasm32")]
mod web;

//! The Candlefish browser runtime (compiled for `wasm32-unknown-unknown` only).
//!
//! The page's loader (`www/loader.js`) picks a mode, fetches one of two bundles (the
//! WebGPU build with wgpu inside, or the WebGL2 build on `web-sys` alone, with neither
//! wgpu nor naga) and the scene pack, then drives frames with `requestAnimationFrame`.
//! The Canvas-2D fallback runs in the WebGL2 bundle (the smaller one).

#[cfg(target_arch = "wasm32")]
mod web;

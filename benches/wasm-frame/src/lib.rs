//! The renderer's whole CPU frame in wasm: a scene pack laid out with N fish, then
//! frames planned by the frame driver on the null backend (update → cull → LOD →
//! bucket → the upload's read of every instance byte), exactly as the browser runtime
//! plans them. `benches/peers/wasm-frame.mjs` times it in node (V8, Chromium's engine)
//! for each `opt-level` of the `wasm-release` profile being compared.

use candlefish_renderer::assets::pack;
use candlefish_renderer::backend::null::NullBackend;
use candlefish_renderer::{Backend, FrameDriver, OrbitCamera, Preset};
use wasm_bindgen::prelude::*;

/// A scene and its frame driver.
#[wasm_bindgen]
pub struct FrameBench {
    driver: FrameDriver<NullBackend>,
    last: [f32; 7],
    triangles: f64,
    drawn: u32,
}

impl std::fmt::Debug for FrameBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameBench").finish_non_exhaustive()
    }
}

#[wasm_bindgen]
impl FrameBench {
    /// Lays out `pack_bytes` (a scene pack) at the quality preset with `fish` fish,
    /// drawing into a `width` × `height` null target.
    #[wasm_bindgen(constructor)]
    pub fn new(
        pack_bytes: &[u8],
        fish: u32,
        width: u32,
        height: u32,
    ) -> Result<FrameBench, JsError> {
        let pack = pack::load(pack_bytes).map_err(|e| JsError::new(&e.to_string()))?;
        let mut description = pack.description.for_preset(Preset::Quality);
        description.fish = fish.clamp(1, 1_000_000);
        let scene = pack
            .into_scene_with(&description)
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(Self {
            driver: FrameDriver::new(scene, Preset::Quality, NullBackend::new(width, height)),
            last: [0.0; 7],
            triangles: 0.0,
            drawn: 0,
        })
    }

    /// Plans one frame at scene time `time`, the camera on the default automatic
    /// orbit (as `candlefish bench`).
    pub fn frame(&mut self, time: f32) -> Result<(), JsError> {
        let mut orbit = OrbitCamera::default();
        orbit.advance(time);
        let (w, h) = self.driver.backend().size();
        let record = self
            .driver
            .render_frame(time, &orbit.camera(w as f32 / h as f32))
            .map_err(|e| JsError::new(&e.to_string()))?;
        self.last = record.cpu_ms;
        self.triangles = record.triangles as f64;
        self.drawn = record.drawn;
        Ok(())
    }

    /// CPU ms of each phase of the last frame (update, cull, lod, bucket, upload,
    /// encode, submit), as the runtime measures them.
    pub fn phases(&self) -> Vec<f32> {
        self.last.to_vec()
    }

    /// Triangles of the last frame.
    pub fn triangles(&self) -> f64 {
        self.triangles
    }

    /// Instances drawn in the last frame.
    pub fn drawn(&self) -> u32 {
        self.drawn
    }

    /// Instances in the scene.
    pub fn instances(&self) -> u32 {
        self.driver.scene.instances.len() as u32
    }
}

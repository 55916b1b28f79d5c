//! Backends: what executes a [`FramePlan`]. One trait, implemented by
//! - the wgpu backend ([`gpu`], feature `wgpu`): WebGPU in browsers, Vulkan, Metal,
//!   DX12 or GL natively, on a window surface or an offscreen texture;
//! - the WebGL2 and Canvas-2D backends of the browser runtime (`app/src/web/`, on
//!   `web-sys`; [`canvas`] is the Canvas-2D backend's pure-data half);
//! - the [`null`] backend, which draws nothing (criterion benches, tests).
//!
//! The frame driver ([`crate::FrameDriver`]) calls [`Backend::execute`] once per frame;
//! optional capabilities (GPU timing, MSAA, device loss, the LOD debug view) are
//! methods with default bodies, as in Ruffle's `RenderBackend`.

pub mod canvas;
#[cfg(feature = "wgpu")]
pub mod gpu;
pub mod layout;
pub mod null;
pub mod uniforms;

use crate::frame::plan::FramePlan;
use crate::frame::timings::{FrameRecord, RenderMode};
use crate::scene::Scene;
use crate::scene::camera::Camera;

/// What a backend draws a frame with, besides the plan.
#[derive(Clone, Copy, Debug)]
pub struct FrameContext<'a> {
    /// The scene (meshes, materials, environment), already moved to `time`.
    pub scene: &'a Scene,
    /// The camera.
    pub camera: &'a Camera,
    /// Scene time, seconds (the shaders animate with it).
    pub time: f32,
}

/// Why a backend could not start or draw.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// Setting the backend up failed (no adapter, no context, a shader that does not
    /// compile, a scene it cannot draw).
    #[error("{0}")]
    Setup(String),
    /// The GPU device or the context was lost; the backend draws nothing until it is
    /// restored or recreated.
    #[error("the GPU device was lost ({0})")]
    Lost(String),
    /// The output surface cannot be drawn into.
    #[error("the output surface failed: {0}")]
    Surface(String),
    /// A drawing call failed.
    #[error("drawing failed: {0}")]
    Draw(String),
}

/// Executes frame plans. Implemented by every renderer of the scene.
pub trait Backend {
    /// How this backend's frames are reported.
    fn mode(&self) -> RenderMode;

    /// The adapter, for stats and telemetry (e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`,
    /// an `ANGLE (…)` renderer string, `canvas2d`).
    fn adapter(&self) -> &str;

    /// Output size in pixels.
    fn size(&self) -> (u32, u32);

    /// Resizes the output (pixels, both at least 1).
    fn resize(&mut self, width: u32, height: u32);

    /// Uploads and draws `plan`, recording the upload, encode and submit phases in
    /// `record`.
    fn execute(
        &mut self,
        plan: &FramePlan,
        frame: &FrameContext<'_>,
        record: &mut FrameRecord,
    ) -> Result<(), BackendError>;

    /// Whether GPU time is measured (timestamp or timer queries).
    fn measures_gpu_time(&self) -> bool {
        false
    }

    /// Hands each GPU time that has become available to `sink(frame, ms)`, without
    /// allocating.
    fn drain_gpu_times(&mut self, sink: &mut dyn FnMut(u64, f32)) {
        let _ = sink;
    }

    /// Why the device or context was lost, or `None` while it is fine.
    fn lost(&self) -> Option<String> {
        None
    }

    /// Whether the adapter rasterises in software (lavapipe, llvmpipe, SwiftShader, a
    /// WebGPU fallback adapter): a hint to start at a low rung.
    fn software(&self) -> bool {
        false
    }

    /// MSAA samples in effect.
    fn msaa_samples(&self) -> u32 {
        1
    }

    /// Asks for `samples`× MSAA (1 turns it off); returns the count in effect, which
    /// may be lower where the adapter cannot.
    fn set_msaa_samples(&mut self, samples: u32) -> u32 {
        let _ = samples;
        self.msaa_samples()
    }

    /// Colours instances by LOD tier instead of shading them, where supported.
    fn set_debug_tiers(&mut self, on: bool) {
        let _ = on;
    }
}

impl<B: Backend + ?Sized> Backend for Box<B> {
    fn mode(&self) -> RenderMode {
        (**self).mode()
    }
    fn adapter(&self) -> &str {
        (**self).adapter()
    }
    fn size(&self) -> (u32, u32) {
        (**self).size()
    }
    fn resize(&mut self, width: u32, height: u32) {
        (**self).resize(width, height);
    }
    fn execute(
        &mut self,
        plan: &FramePlan,
        frame: &FrameContext<'_>,
        record: &mut FrameRecord,
    ) -> Result<(), BackendError> {
        (**self).execute(plan, frame, record)
    }
    fn measures_gpu_time(&self) -> bool {
        (**self).measures_gpu_time()
    }
    fn drain_gpu_times(&mut self, sink: &mut dyn FnMut(u64, f32)) {
        (**self).drain_gpu_times(sink);
    }
    fn lost(&self) -> Option<String> {
        (**self).lost()
    }
    fn software(&self) -> bool {
        (**self).software()
    }
    fn msaa_samples(&self) -> u32 {
        (**self).msaa_samples()
    }
    fn set_msaa_samples(&mut self, samples: u32) -> u32 {
        (**self).set_msaa_samples(samples)
    }
    fn set_debug_tiers(&mut self, on: bool) {
        (**self).set_debug_tiers(on);
    }
}

/// Whether an adapter or renderer name is a software rasteriser's: Mesa's lavapipe and
/// llvmpipe, SwiftShader (also inside ANGLE strings), Microsoft's WARP/Basic Render
/// Driver, softpipe.
pub fn is_software_adapter_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "swiftshader",
        "llvmpipe",
        "lavapipe",
        "softpipe",
        "basic render driver",
        "microsoft basic",
        "warp",
    ]
    .iter()
    .any(|s| name.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_rasterisers_are_recognised_by_name() {
        for name in [
            "llvmpipe (LLVM 15.0.6, 256 bits)",
            "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)",
            "Microsoft Basic Render Driver",
            "lavapipe",
        ] {
            assert!(is_software_adapter_name(name), "{name}");
        }
        for name in [
            "NVIDIA GeForce RTX 4090",
            "ANGLE (Intel, Intel(R) UHD Graphics 630 Direct3D11 vs_5_0 ps_5_0, D3D11)",
            "Apple M2",
            "AMD Radeon RX 7900 XTX (RADV NAVI31)",
        ] {
            assert!(!is_software_adapter_name(name), "{name}");
        }
    }
}

//! The wgpu backend: WebGPU in browsers; Vulkan, Metal, DX12 or GL natively. It turns a
//! [`Scene`] into GPU resources once ([`GpuRenderer`]), then draws each
//! [`FramePlan`](crate::FramePlan) into a [`RenderTarget`]: a window's or canvas's
//! surface ([`SurfaceTarget`]) or an offscreen texture ([`OffscreenTarget`]).
//!
//! Opening the GPU ([`GpuContext`]) and configuring a surface are written once here,
//! for the native window, the headless CLI, benchmarks, image tests and the browser.

mod context;
mod offscreen;
mod renderer;
mod target;
mod timer;

use std::sync::{Arc, Mutex};

pub use context::{AdapterPreference, GpuContext};
#[cfg(not(target_arch = "wasm32"))]
pub use context::{native_backends, select_adapter};
pub use offscreen::{OffscreenTarget, ReadbackError};
pub use renderer::{GpuRenderer, TargetConfig};
pub use target::{Presentation, RenderTarget, SurfaceTarget, TargetFrame};
pub use timer::GpuTimer;

use super::{Backend, BackendError, FrameContext};
use crate::frame::plan::FramePlan;
use crate::frame::timings::{FrameRecord, RenderMode};
use crate::preset::Preset;
use crate::scene::Scene;

/// Depth buffer format (WebGL2 has it too).
pub const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth24Plus;

/// Errors creating or using the GPU backend.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// No adapter matched the request.
    #[error("no GPU adapter available: {0}")]
    NoAdapter(String),
    /// The device request failed.
    #[error("could not open the GPU device: {0}")]
    Device(#[from] wgpu::RequestDeviceError),
    /// The surface cannot be used.
    #[error("cannot draw into the surface: {0}")]
    Surface(String),
    /// The scene has no atlas page or no meshes.
    #[error("the scene has no {0}")]
    EmptyScene(&'static str),
    /// Reading a texture back failed.
    #[error(transparent)]
    Readback(#[from] ReadbackError),
}

impl From<GpuError> for BackendError {
    fn from(e: GpuError) -> Self {
        match e {
            GpuError::Readback(e) => BackendError::Draw(e.to_string()),
            e => BackendError::Setup(e.to_string()),
        }
    }
}

/// Opens a device on `adapter` with only what the renderer needs, plus timestamp
/// queries when the adapter has them (detected, never assumed).
pub async fn request_device(
    adapter: &wgpu::Adapter,
) -> Result<(wgpu::Device, wgpu::Queue), GpuError> {
    let supported = adapter.limits();
    // WebGL2 cannot meet the default limits: start from its downlevel set and take
    // the adapter's real texture sizes, alignments and buffer size.
    let mut limits = wgpu::Limits::downlevel_webgl2_defaults()
        .using_resolution(supported.clone())
        .using_alignment(supported.clone());
    limits.max_buffer_size = supported.max_buffer_size;
    let features = adapter.features() & wgpu::Features::TIMESTAMP_QUERY;
    let descriptor = wgpu::DeviceDescriptor {
        label: Some("candlefish"),
        required_features: features,
        required_limits: limits,
        ..wgpu::DeviceDescriptor::default()
    };
    Ok(adapter.request_device(&descriptor).await?)
}

/// The wgpu backend drawing into a target `T`.
#[derive(Debug)]
pub struct WgpuBackend<T> {
    renderer: GpuRenderer,
    target: T,
    mode: RenderMode,
    adapter_name: String,
    software: bool,
    lost: Arc<Mutex<Option<String>>>,
    adapter: wgpu::Adapter,
    // Kept alive: on WebGPU, releasing the instance loses the device.
    _instance: wgpu::Instance,
}

impl<T: RenderTarget> WgpuBackend<T> {
    /// Uploads `scene` on `gpu` to draw into `target` with `preset`'s MSAA, frames
    /// reported as `mode`.
    pub fn new(
        gpu: GpuContext,
        scene: &Scene,
        target: T,
        preset: Preset,
        mode: RenderMode,
    ) -> Result<Self, GpuError> {
        let GpuContext {
            instance,
            adapter,
            device,
            queue,
        } = gpu;
        let lost = Arc::new(Mutex::new(None));
        let slot = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut slot) = slot.lock() {
                *slot = Some(format!("{reason:?}: {message}"));
            }
        });
        let (width, height) = target.size();
        let config = TargetConfig {
            format: target.format(),
            width,
            height,
            msaa_samples: preset.settings().msaa_samples,
        };
        let renderer = GpuRenderer::new(&adapter, device, queue, scene, config)?;
        let info = adapter.get_info();
        let adapter_name = if info.name.is_empty() {
            mode.name().to_owned()
        } else {
            info.name.clone()
        };
        let software = info.device_type == wgpu::DeviceType::Cpu
            || super::is_software_adapter_name(&info.name);
        log::info!(
            "adapter: {adapter_name} ({:?}, {:?}), target {:?}",
            info.backend,
            info.device_type,
            config.format
        );
        Ok(Self {
            renderer,
            target,
            mode,
            adapter_name,
            software,
            lost,
            adapter,
            _instance: instance,
        })
    }

    /// What the adapter says of itself.
    pub fn adapter_info(&self) -> wgpu::AdapterInfo {
        self.adapter.get_info()
    }

    /// The GPU resources and draw.
    pub fn renderer(&self) -> &GpuRenderer {
        &self.renderer
    }

    /// The target.
    pub fn target(&self) -> &T {
        &self.target
    }
}

impl WgpuBackend<OffscreenTarget> {
    /// The headless set-up shared by `candlefish render`, `candlefish bench` and the
    /// image tests: a native device chosen by `preference` and `name_filter`, and a
    /// `width` × `height` offscreen target in [`OffscreenTarget::FORMAT`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn headless(
        scene: &Scene,
        preset: Preset,
        (width, height): (u32, u32),
        preference: AdapterPreference,
        name_filter: Option<&str>,
    ) -> Result<Self, GpuError> {
        let gpu = pollster::block_on(GpuContext::headless(preference, name_filter))?;
        let target = OffscreenTarget::new(&gpu.device, width, height);
        Self::new(gpu, scene, target, preset, RenderMode::Native)
    }

    /// Reads the last frame back: tightly packed RGBA8 rows, top first.
    pub fn read_rgba(&self) -> Result<Vec<u8>, GpuError> {
        Ok(self
            .target
            .read_rgba(self.renderer.device(), self.renderer.queue())?)
    }

    /// Waits until the GPU has finished everything submitted (the benchmark's frame
    /// time includes this wait).
    pub fn wait_idle(&self) -> Result<(), GpuError> {
        self.renderer
            .device()
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(ReadbackError::from)?;
        Ok(())
    }
}

impl<T: RenderTarget> Backend for WgpuBackend<T> {
    fn mode(&self) -> RenderMode {
        self.mode
    }

    fn adapter(&self) -> &str {
        &self.adapter_name
    }

    fn size(&self) -> (u32, u32) {
        self.target.size()
    }

    fn resize(&mut self, width: u32, height: u32) {
        self.target.resize(self.renderer.device(), width, height);
        let (width, height) = self.target.size();
        self.renderer.resize(width, height);
    }

    fn execute(
        &mut self,
        plan: &FramePlan,
        frame: &FrameContext<'_>,
        record: &mut FrameRecord,
    ) -> Result<(), BackendError> {
        if let Some(reason) = self.lost() {
            return Err(BackendError::Lost(reason));
        }
        let Some(target) = self.target.acquire(self.renderer.device())? else {
            return Ok(());
        };
        self.renderer.render(
            plan,
            frame.camera,
            frame.time,
            &frame.scene.environment,
            &target.view,
            record,
        );
        if let Some(texture) = target.surface_texture {
            self.renderer.queue().present(texture);
        }
        Ok(())
    }

    fn measures_gpu_time(&self) -> bool {
        self.renderer.measures_gpu_time()
    }

    fn drain_gpu_times(&mut self, sink: &mut dyn FnMut(u64, f32)) {
        self.renderer.drain_gpu_times(sink);
    }

    fn lost(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|l| l.clone())
    }

    fn software(&self) -> bool {
        self.software
    }

    fn msaa_samples(&self) -> u32 {
        self.renderer.config().msaa_samples
    }

    fn set_msaa_samples(&mut self, samples: u32) -> u32 {
        self.renderer.set_msaa_samples(samples)
    }

    fn set_debug_tiers(&mut self, on: bool) {
        self.renderer.debug_tiers = on;
    }
}

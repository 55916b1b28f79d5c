//! One object that runs whole frames: the CPU planner, the wgpu backend and the
//! timing ring together. The native window, the headless CLI, the benchmark harness,
//! the browser runtime and the image tests all drive frames through it.

use super::{GpuError, GpuRenderer, TargetConfig};
use crate::camera::Camera;
use crate::frame::{FrameInput, FramePlanner};
use crate::preset::Preset;
use crate::scene::Scene;
use crate::timings::{FrameRecord, FrameTimings, RenderMode};

/// Frames kept in the timing ring.
pub const TIMING_FRAMES: usize = 600;

/// How a [`SceneRenderer`] draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RendererOptions {
    /// Quality preset (LOD threshold, MSAA).
    pub preset: Preset,
    /// Format of the target views (sRGB).
    pub format: wgpu::TextureFormat,
    /// Target size in pixels.
    pub size: (u32, u32),
    /// Render mode reported in timings.
    pub mode: RenderMode,
}

/// A scene with its planner, GPU backend and timings.
#[derive(Debug)]
pub struct SceneRenderer {
    /// The scene.
    pub scene: Scene,
    /// CPU frame planning.
    pub planner: FramePlanner,
    /// The wgpu backend.
    pub gpu: GpuRenderer,
    /// Recent frame timings.
    pub timings: FrameTimings,
    /// LOD threshold in pixels.
    pub lod_threshold_px: f32,
    /// Reported render mode.
    pub mode: RenderMode,
    frame: u64,
}

impl SceneRenderer {
    /// Uploads `scene` and prepares to draw it at `preset`'s LOD threshold and MSAA.
    pub fn new(
        adapter: &wgpu::Adapter,
        device: wgpu::Device,
        queue: wgpu::Queue,
        scene: Scene,
        options: RendererOptions,
    ) -> Result<Self, GpuError> {
        let RendererOptions {
            preset,
            format,
            size,
            mode,
        } = options;
        let settings = preset.settings();
        let config = TargetConfig {
            format,
            width: size.0,
            height: size.1,
            msaa_samples: settings.msaa_samples,
        };
        let gpu = GpuRenderer::new(adapter, device, queue, &scene, config)?;
        Ok(Self {
            scene,
            planner: FramePlanner::new(),
            gpu,
            timings: FrameTimings::new(TIMING_FRAMES),
            lod_threshold_px: settings.lod_threshold_px,
            mode,
            frame: 0,
        })
    }

    /// Plans and draws one frame at `time` into `target`, and returns its record (GPU
    /// time arrives later, into [`SceneRenderer::timings`]).
    pub fn render_frame(
        &mut self,
        time: f32,
        camera: &Camera,
        target: &wgpu::TextureView,
    ) -> FrameRecord {
        let mut record = FrameRecord {
            frame: self.frame,
            mode: self.mode,
            ..FrameRecord::default()
        };
        self.frame += 1;
        let input = FrameInput {
            time,
            camera: *camera,
            viewport_height: self.gpu.config().height as f32,
            lod_threshold_px: self.lod_threshold_px,
        };
        let plan = self.planner.plan(&mut self.scene, &input, &mut record);
        self.gpu.render(
            plan,
            camera,
            time,
            &self.scene.environment,
            target,
            &mut record,
        );
        self.timings.push(record);
        let timings = &mut self.timings;
        self.gpu
            .drain_gpu_times(|frame, ms| timings.set_gpu_ms(frame, ms));
        record
    }

    /// Frames rendered so far.
    pub fn frames(&self) -> u64 {
        self.frame
    }
}

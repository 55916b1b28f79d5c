//! The wgpu backend on the page's canvas (WebGPU, in the `webgpu` bundle): opening the
//! adapter and configuring the canvas surface go through the renderer's
//! [`GpuContext`] and [`SurfaceTarget`], the same code the native window uses.

use candlefish_renderer::backend::gpu::{
    AdapterPreference, GpuContext, Presentation, SurfaceTarget, WgpuBackend,
};
use candlefish_renderer::{Backend, Preset, RenderMode, Scene};

use super::canvas::Canvas;

const BACKENDS: (wgpu::Backends, RenderMode) = (wgpu::Backends::BROWSER_WEBGPU, RenderMode::WebGpu);

/// Opens this bundle's wgpu backend on `canvas` and uploads `scene`.
pub async fn start(
    canvas: Canvas,
    scene: &Scene,
    preset: Preset,
) -> Result<Box<dyn Backend>, String> {
    let size = canvas.size();
    let (backends, mode) = BACKENDS;
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    let instance = wgpu::Instance::new(desc);
    let surface_target = match canvas {
        Canvas::Element(c) => wgpu::SurfaceTarget::Canvas(c),
        Canvas::Offscreen(c) => wgpu::SurfaceTarget::OffscreenCanvas(c),
    };
    let surface = instance
        .create_surface(surface_target)
        .map_err(|e| format!("cannot draw into the canvas with {}: {e}", mode.name()))?;
    let gpu = GpuContext::for_surface(instance, &surface, AdapterPreference::HighPerformance, None)
        .await
        .map_err(|e| format!("{}: {e}", mode.name()))?;
    let target = SurfaceTarget::new(
        surface,
        &gpu.adapter,
        &gpu.device,
        size,
        Presentation::Vsync,
    )
    .map_err(|e| e.to_string())?;
    let backend = WgpuBackend::new(gpu, scene, target, preset, mode).map_err(|e| e.to_string())?;
    Ok(Box::new(backend))
}

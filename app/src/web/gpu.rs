//! The GPU path in the browser: this bundle's wgpu backend (WebGPU in the
//! `webgpu` build, WebGL2 in the `webgl` build) drawing into the page's canvas.

use std::sync::{Arc, Mutex};

use candlefish_renderer::gpu::{RendererOptions, SceneRenderer, request_device};
use candlefish_renderer::{Camera, Preset, RenderMode, Scene};
use web_sys::HtmlCanvasElement;

/// wgpu on the page's canvas.
pub struct GpuBackend {
    /// Planner, backend and timings.
    pub renderer: SceneRenderer,
    /// Adapter name, for stats and telemetry.
    pub adapter: String,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    view_format: wgpu::TextureFormat,
    lost: Arc<Mutex<Option<String>>>,
    // Kept alive: on WebGPU, releasing the instance loses the device.
    _adapter: wgpu::Adapter,
    _instance: wgpu::Instance,
}

#[cfg(feature = "webgpu")]
const BACKENDS: (wgpu::Backends, RenderMode) = (wgpu::Backends::BROWSER_WEBGPU, RenderMode::WebGpu);
#[cfg(all(feature = "webgl", not(feature = "webgpu")))]
const BACKENDS: (wgpu::Backends, RenderMode) = (wgpu::Backends::GL, RenderMode::WebGl);
#[cfg(not(any(feature = "webgl", feature = "webgpu")))]
const BACKENDS: (wgpu::Backends, RenderMode) = (wgpu::Backends::empty(), RenderMode::WebGl);

impl GpuBackend {
    /// Opens this bundle's backend on `canvas` and uploads `scene`.
    pub async fn new(
        canvas: HtmlCanvasElement,
        scene: Scene,
        preset: Preset,
        size: (u32, u32),
    ) -> Result<Self, String> {
        let (backends, mode) = BACKENDS;
        if backends.is_empty() {
            return Err("this bundle was built without a GPU backend".to_owned());
        }
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = backends;
        let instance = wgpu::Instance::new(desc);
        let surface = instance
            .create_surface(wgpu::SurfaceTarget::Canvas(canvas))
            .map_err(|e| format!("cannot draw into the canvas with {}: {e}", mode.name()))?;
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                compatible_surface: Some(&surface),
                ..wgpu::RequestAdapterOptions::default()
            })
            .await
            .map_err(|e| format!("no {} adapter: {e}", mode.name()))?;
        let (device, queue) = request_device(&adapter).await.map_err(|e| e.to_string())?;
        let lost = Arc::new(Mutex::new(None));
        let slot = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut slot) = slot.lock() {
                *slot = Some(format!("{reason:?}: {message}"));
            }
        });
        let caps = surface.get_capabilities(&adapter);
        let format = caps
            .formats
            .first()
            .copied()
            .ok_or_else(|| "the canvas offers no surface format".to_owned())?;
        // WebGPU canvases are not sRGB (Rgba8Unorm/Bgra8Unorm): render through an sRGB
        // view so both backends give the same colours.
        let view_format = format.add_srgb_suffix();
        let config = wgpu::SurfaceConfiguration {
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
            format,
            width: size.0,
            height: size.1,
            present_mode: wgpu::PresentMode::Fifo,
            desired_maximum_frame_latency: 2,
            alpha_mode: caps
                .alpha_modes
                .first()
                .copied()
                .unwrap_or(wgpu::CompositeAlphaMode::Auto),
            view_formats: if view_format == format {
                vec![]
            } else {
                vec![view_format]
            },
            color_space: wgpu::SurfaceColorSpace::Auto,
        };
        surface.configure(&device, &config);
        let info = adapter.get_info();
        let adapter_name = if info.name.is_empty() {
            mode.name().to_owned()
        } else {
            info.name.clone()
        };
        let renderer = SceneRenderer::new(
            &adapter,
            device,
            queue,
            scene,
            RendererOptions {
                preset,
                format: view_format,
                size,
                mode,
            },
        )
        .map_err(|e| e.to_string())?;
        Ok(Self {
            renderer,
            adapter: adapter_name,
            surface,
            config,
            view_format,
            lost,
            _adapter: adapter,
            _instance: instance,
        })
    }

    /// Why the device was lost, if it was.
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|l| l.clone())
    }

    /// Reconfigures the surface and targets.
    pub fn resize(&mut self, width: u32, height: u32) {
        if (width, height) == (self.config.width, self.config.height) {
            return;
        }
        self.config.width = width;
        self.config.height = height;
        self.surface
            .configure(self.renderer.gpu.device(), &self.config);
        self.renderer.gpu.resize(width, height);
    }

    /// Draws one frame.
    pub fn render(&mut self, time: f32, camera: &Camera) -> Result<(), String> {
        if let Some(reason) = self.lost() {
            return Err(format!("the GPU device was lost ({reason})"));
        }
        let frame = match self.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t)
            | wgpu::CurrentSurfaceTexture::Suboptimal(t) => t,
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                self.surface
                    .configure(self.renderer.gpu.device(), &self.config);
                return Ok(());
            }
            wgpu::CurrentSurfaceTexture::Timeout | wgpu::CurrentSurfaceTexture::Occluded => {
                return Ok(());
            }
            wgpu::CurrentSurfaceTexture::Validation => {
                return Err("the canvas surface failed validation".to_owned());
            }
        };
        let view = frame.texture.create_view(&wgpu::TextureViewDescriptor {
            format: Some(self.view_format),
            ..wgpu::TextureViewDescriptor::default()
        });
        self.renderer.render_frame(time, camera, &view);
        self.renderer.gpu.queue().present(frame);
        Ok(())
    }
}

//! Where the wgpu backend draws: on screen or offscreen is a target parameter, not a
//! second renderer (Ruffle's `SwapChainTarget`/`TextureTarget`). [`SurfaceTarget`]
//! wraps a window's or canvas's surface and handles every state
//! `get_current_texture` can report, once for the native window and the browser;
//! [`super::OffscreenTarget`] is a texture read back by the headless CLI, the
//! benchmark harness and the image tests.

use super::GpuError;
use crate::backend::BackendError;

/// One frame's colour target.
#[derive(Debug)]
pub struct TargetFrame {
    /// The view to draw into.
    pub view: wgpu::TextureView,
    /// The surface texture to present afterwards, for surface targets.
    pub surface_texture: Option<wgpu::SurfaceTexture>,
}

/// A colour target the wgpu backend draws into.
pub trait RenderTarget: std::fmt::Debug {
    /// The format of the views it hands out.
    fn format(&self) -> wgpu::TextureFormat;

    /// Size in pixels.
    fn size(&self) -> (u32, u32);

    /// Resizes (both at least 1).
    fn resize(&mut self, device: &wgpu::Device, width: u32, height: u32);

    /// The next frame's target, or `None` when this frame cannot be drawn and should be
    /// skipped (an outdated or occluded surface).
    fn acquire(&mut self, device: &wgpu::Device) -> Result<Option<TargetFrame>, BackendError>;
}

/// How a surface presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presentation {
    /// Wait for vertical sync (the default everywhere, and the only mode on the web).
    Vsync,
    /// As fast as possible where the surface allows (profiling).
    Immediate,
}

/// A window's or canvas's surface.
#[derive(Debug)]
pub struct SurfaceTarget {
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
}

impl SurfaceTarget {
    /// Configures `surface` for `device` at `size`. Picks an sRGB format when the
    /// surface offers one; otherwise (WebGPU canvases are `Bgra8Unorm`/`Rgba8Unorm`)
    /// the first format, and the renderer encodes sRGB in the fragment shader. Never an
    /// sRGB *view* of a non-sRGB texture: resolving MSAA into such a view gave a frame
    /// at a sixth of its brightness on Chromium's WebGPU (Dawn on SwiftShader).
    pub fn new(
        surface: wgpu::Surface<'static>,
        adapter: &wgpu::Adapter,
        device: &wgpu::Device,
        size: (u32, u32),
        presentation: Presentation,
    ) -> Result<Self, GpuError> {
        let caps = surface.get_capabilities(adapter);
        let format = caps
            .formats
            .iter()
            .copied()
            .find(wgpu::TextureFormat::is_srgb)
            .or_else(|| caps.formats.first().copied())
            .ok_or_else(|| GpuError::Surface("the surface offers no format".to_owned()))?;
        let present_mode = match presentation {
            Presentation::Vsync => wgpu::PresentMode::Fifo,
            Presentation::Immediate => [wgpu::PresentMode::Immediate, wgpu::PresentMode::Mailbox]
                .into_iter()
                .find(|m| caps.present_modes.contains(m))
                .unwrap_or(wgpu::PresentMode::Fifo),
        };
        let config = wgpu::SurfaceConfiguration {
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
            format,
            width: size.0.max(1),
            height: size.1.max(1),
            present_mode,
            desired_maximum_frame_latency: 2,
            alpha_mode: caps
                .alpha_modes
                .first()
                .copied()
                .unwrap_or(wgpu::CompositeAlphaMode::Auto),
            view_formats: vec![],
            color_space: wgpu::SurfaceColorSpace::Auto,
        };
        surface.configure(device, &config);
        Ok(Self { surface, config })
    }
}

impl RenderTarget for SurfaceTarget {
    fn format(&self) -> wgpu::TextureFormat {
        self.config.format
    }

    fn size(&self) -> (u32, u32) {
        (self.config.width, self.config.height)
    }

    fn resize(&mut self, device: &wgpu::Device, width: u32, height: u32) {
        if (width, height) != (self.config.width, self.config.height) {
            self.config.width = width.max(1);
            self.config.height = height.max(1);
            self.surface.configure(device, &self.config);
        }
    }

    fn acquire(&mut self, device: &wgpu::Device) -> Result<Option<TargetFrame>, BackendError> {
        let texture = match self.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t)
            | wgpu::CurrentSurfaceTexture::Suboptimal(t) => t,
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                self.surface.configure(device, &self.config);
                return Ok(None);
            }
            wgpu::CurrentSurfaceTexture::Timeout | wgpu::CurrentSurfaceTexture::Occluded => {
                return Ok(None);
            }
            wgpu::CurrentSurfaceTexture::Validation => {
                return Err(BackendError::Surface(
                    "the surface failed validation".to_owned(),
                ));
            }
        };
        let view = texture
            .texture
            .create_view(&wgpu::TextureViewDescriptor::default());
        Ok(Some(TargetFrame {
            view,
            surface_texture: Some(texture),
        }))
    }
}

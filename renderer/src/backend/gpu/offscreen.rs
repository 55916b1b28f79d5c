//! An offscreen render target with readback to RGBA8 bytes: the headless path for
//! `candlefish render`, benchmarks and image tests.

/// Errors reading a texture back.
#[derive(Debug, thiserror::Error)]
pub enum ReadbackError {
    /// Mapping the readback buffer failed.
    #[error("mapping the readback buffer failed: {0}")]
    Map(String),
    /// Waiting for the GPU failed.
    #[error("waiting for the GPU failed: {0}")]
    Poll(#[from] wgpu::PollError),
}

use super::target::{RenderTarget, TargetFrame};
use crate::backend::BackendError;

/// A colour texture to render into and read back.
#[derive(Debug)]
pub struct OffscreenTarget {
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    width: u32,
    height: u32,
}

impl OffscreenTarget {
    /// The format offscreen targets use: sRGB, so shader output is encoded on store.
    pub const FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;

    /// A `width` × `height` target in [`OffscreenTarget::FORMAT`].
    pub fn new(device: &wgpu::Device, width: u32, height: u32) -> Self {
        Self::with_format(device, width, height, Self::FORMAT)
    }

    /// A `width` × `height` target in `format` (an RGBA8 format: the readback assumes
    /// four bytes a pixel). With a non-sRGB format the renderer encodes sRGB in the
    /// shader, as it does for WebGPU and WebGL2 canvases.
    pub fn with_format(
        device: &wgpu::Device,
        width: u32,
        height: u32,
        format: wgpu::TextureFormat,
    ) -> Self {
        let (width, height) = (width.max(1), height.max(1));
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("offscreen"),
            size: wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        Self {
            texture,
            view,
            width,
            height,
        }
    }

    /// The texture.
    pub fn texture(&self) -> &wgpu::Texture {
        &self.texture
    }

    /// The view to render into.
    pub fn view(&self) -> &wgpu::TextureView {
        &self.view
    }

    /// Size in pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Copies the texture out and waits for it: tightly packed RGBA8 rows, top first.
    pub fn read_rgba(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
    ) -> Result<Vec<u8>, ReadbackError> {
        let row = self.width * 4;
        let padded =
            row.div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: u64::from(padded) * u64::from(self.height),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("readback"),
        });
        encoder.copy_texture_to_buffer(
            self.texture.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: &buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(padded),
                    rows_per_image: Some(self.height),
                },
            },
            wgpu::Extent3d {
                width: self.width,
                height: self.height,
                depth_or_array_layers: 1,
            },
        );
        queue.submit([encoder.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        buffer.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        device.poll(wgpu::PollType::wait_indefinitely())?;
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(ReadbackError::Map(e.to_string())),
            Err(e) => return Err(ReadbackError::Map(e.to_string())),
        }
        let view = buffer
            .get_mapped_range(..)
            .map_err(|e| ReadbackError::Map(e.to_string()))?;
        let mut out = Vec::with_capacity((row * self.height) as usize);
        for y in 0..self.height as usize {
            let start = y * padded as usize;
            out.extend_from_slice(&view[start..start + row as usize]);
        }
        Ok(out)
    }
}

impl RenderTarget for OffscreenTarget {
    fn format(&self) -> wgpu::TextureFormat {
        self.texture.format()
    }

    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn resize(&mut self, device: &wgpu::Device, width: u32, height: u32) {
        if (width, height) != (self.width, self.height) {
            *self = Self::with_format(device, width, height, self.texture.format());
        }
    }

    fn acquire(&mut self, _device: &wgpu::Device) -> Result<Option<TargetFrame>, BackendError> {
        Ok(Some(TargetFrame {
            view: self.view.clone(),
            surface_texture: None,
        }))
    }
}

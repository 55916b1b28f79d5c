//! The framebuffers the scene is drawn into, and the blits to the canvas.
//!
//! The generated shaders flip clip-space Y (see [`super::shaders`]), so the scene is
//! drawn upside down by GL's bottom-up convention into a framebuffer of our own, never
//! into the canvas: rows then run top-down as in WebGPU, and the last blit flips the
//! image onto the canvas. With MSAA the scene is drawn into multisampled
//! renderbuffers, resolved with `blitFramebuffer` into the single-sample framebuffer
//! (a multisampled blit cannot flip), then flipped onto the canvas. Colour is RGBA8
//! holding sRGB-encoded values (the fragment shader encodes them), depth is 24-bit.

use super::loss::Context;
use candlefish_renderer::BackendError;
use web_sys::{WebGl2RenderingContext as Gl, WebGlFramebuffer, WebGlRenderbuffer};

/// A framebuffer with its renderbuffers.
#[derive(Debug)]
struct Attachments {
    framebuffer: WebGlFramebuffer,
    colour: WebGlRenderbuffer,
    depth: Option<WebGlRenderbuffer>,
}

/// The render targets for one size and sample count, deleted on drop.
#[derive(Debug)]
pub struct Targets {
    gl: Context,
    size: (u32, u32),
    samples: u32,
    /// Multisampled colour and depth (MSAA only).
    msaa: Option<Attachments>,
    /// Single-sample colour (the MSAA resolve target), with depth when there is no MSAA.
    resolve: Attachments,
    /// `[COLOR_ATTACHMENT0, DEPTH_ATTACHMENT]` and `[DEPTH_ATTACHMENT]` for
    /// `invalidateFramebuffer`, made once.
    discard_all: js_sys::Array,
    discard_depth: js_sys::Array,
}

fn setup(message: impl Into<String>) -> BackendError {
    BackendError::Setup(message.into())
}

fn renderbuffer(
    gl: &Gl,
    samples: u32,
    format: u32,
    (width, height): (u32, u32),
) -> Result<WebGlRenderbuffer, BackendError> {
    let rb = gl
        .create_renderbuffer()
        .ok_or_else(|| setup("cannot create a renderbuffer"))?;
    gl.bind_renderbuffer(Gl::RENDERBUFFER, Some(&rb));
    if samples > 1 {
        gl.renderbuffer_storage_multisample(
            Gl::RENDERBUFFER,
            samples as i32,
            format,
            width as i32,
            height as i32,
        );
    } else {
        gl.renderbuffer_storage(Gl::RENDERBUFFER, format, width as i32, height as i32);
    }
    gl.bind_renderbuffer(Gl::RENDERBUFFER, None);
    Ok(rb)
}

impl Attachments {
    fn new(gl: &Gl, samples: u32, size: (u32, u32), depth: bool) -> Result<Self, BackendError> {
        let framebuffer = gl
            .create_framebuffer()
            .ok_or_else(|| setup("cannot create a framebuffer"))?;
        let attachments = Self {
            framebuffer,
            colour: renderbuffer(gl, samples, Gl::RGBA8, size)?,
            depth: if depth {
                Some(renderbuffer(gl, samples, Gl::DEPTH_COMPONENT24, size)?)
            } else {
                None
            },
        };
        gl.bind_framebuffer(Gl::FRAMEBUFFER, Some(&attachments.framebuffer));
        gl.framebuffer_renderbuffer(
            Gl::FRAMEBUFFER,
            Gl::COLOR_ATTACHMENT0,
            Gl::RENDERBUFFER,
            Some(&attachments.colour),
        );
        gl.framebuffer_renderbuffer(
            Gl::FRAMEBUFFER,
            Gl::DEPTH_ATTACHMENT,
            Gl::RENDERBUFFER,
            attachments.depth.as_ref(),
        );
        let status = gl.check_framebuffer_status(Gl::FRAMEBUFFER);
        gl.bind_framebuffer(Gl::FRAMEBUFFER, None);
        if status != Gl::FRAMEBUFFER_COMPLETE {
            attachments.delete(gl);
            return Err(setup(format!(
                "the {samples}-sample {}×{} framebuffer is incomplete (status 0x{status:x})",
                size.0, size.1
            )));
        }
        Ok(attachments)
    }

    fn delete(&self, gl: &Gl) {
        gl.delete_framebuffer(Some(&self.framebuffer));
        gl.delete_renderbuffer(Some(&self.colour));
        gl.delete_renderbuffer(self.depth.as_ref());
    }
}

impl Targets {
    /// Targets of `size` (pixels, at least 1×1) with `samples`× MSAA (1: none).
    pub fn new(gl: &Context, size: (u32, u32), samples: u32) -> Result<Self, BackendError> {
        let size = (size.0.max(1), size.1.max(1));
        let msaa = if samples > 1 {
            Some(Attachments::new(gl, samples, size, true)?)
        } else {
            None
        };
        let resolve = match Attachments::new(gl, 1, size, msaa.is_none()) {
            Ok(r) => r,
            Err(e) => {
                if let Some(m) = &msaa {
                    m.delete(gl);
                }
                return Err(e);
            }
        };
        let discard_depth = js_sys::Array::of1(&Gl::DEPTH_ATTACHMENT.into());
        let discard_all =
            js_sys::Array::of2(&Gl::COLOR_ATTACHMENT0.into(), &Gl::DEPTH_ATTACHMENT.into());
        Ok(Self {
            gl: gl.clone(),
            size,
            samples,
            msaa,
            resolve,
            discard_all,
            discard_depth,
        })
    }

    /// Size in pixels.
    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// MSAA samples (1: none).
    pub fn samples(&self) -> u32 {
        self.samples
    }

    /// Binds the framebuffer the scene is drawn into, sets the viewport and clears it.
    pub fn begin(&self) {
        let gl = &self.gl;
        let target = self.msaa.as_ref().unwrap_or(&self.resolve);
        gl.bind_framebuffer(Gl::FRAMEBUFFER, Some(&target.framebuffer));
        gl.viewport(0, 0, self.size.0 as i32, self.size.1 as i32);
        gl.disable(Gl::SCISSOR_TEST);
        gl.color_mask(true, true, true, true);
        gl.depth_mask(true);
        gl.clear_color(0.0, 0.0, 0.0, 1.0);
        gl.clear_depth(1.0);
        gl.clear(Gl::COLOR_BUFFER_BIT | Gl::DEPTH_BUFFER_BIT);
    }

    /// Resolves MSAA, then blits the image onto the canvas, flipped to GL's bottom-up
    /// rows. What is not needed any more is invalidated (a hint for tiled GPUs).
    pub fn present(&self) {
        let gl = &self.gl;
        let (w, h) = (self.size.0 as i32, self.size.1 as i32);
        // Invalidation is only a hint: a browser that refuses it has kept the contents.
        if let Some(msaa) = &self.msaa {
            gl.bind_framebuffer(Gl::READ_FRAMEBUFFER, Some(&msaa.framebuffer));
            gl.bind_framebuffer(Gl::DRAW_FRAMEBUFFER, Some(&self.resolve.framebuffer));
            gl.blit_framebuffer(0, 0, w, h, 0, 0, w, h, Gl::COLOR_BUFFER_BIT, Gl::NEAREST);
            let _ = gl.invalidate_framebuffer(Gl::READ_FRAMEBUFFER, &self.discard_all);
        } else {
            let _ = gl.invalidate_framebuffer(Gl::FRAMEBUFFER, &self.discard_depth);
        }
        gl.bind_framebuffer(Gl::READ_FRAMEBUFFER, Some(&self.resolve.framebuffer));
        gl.bind_framebuffer(Gl::DRAW_FRAMEBUFFER, None);
        // The drawing buffer may be smaller than asked for (browser limits): scale.
        let (cw, ch) = (gl.drawing_buffer_width(), gl.drawing_buffer_height());
        let filter = if (cw, ch) == (w, h) {
            Gl::NEAREST
        } else {
            Gl::LINEAR
        };
        gl.blit_framebuffer(0, 0, w, h, 0, ch, cw, 0, Gl::COLOR_BUFFER_BIT, filter);
        gl.bind_framebuffer(Gl::FRAMEBUFFER, None);
    }
}

impl Drop for Targets {
    fn drop(&mut self) {
        // Objects of a lost context died with it (even once it is restored).
        if !self.gl.alive() {
            return;
        }
        if let Some(msaa) = &self.msaa {
            msaa.delete(&self.gl);
        }
        self.resolve.delete(&self.gl);
    }
}

//! The WebGL2 backend, on `web-sys` alone: the `webgl` bundle carries neither wgpu nor
//! naga. It draws the same picture as the wgpu backend from the same data:
//! - the GLSL ES 3.00 of [`shaders`] is generated from `shaders/scene.wgsl` by
//!   `cargo xtask glsl`;
//! - the vertex arrays are set up from the renderer's layout tables
//!   ([`candlefish_renderer::backend::layout`]), and the uniform buffers hold the
//!   renderer's [`FrameUniforms`] and `MeshUniforms` bytes ([`scene`]);
//! - one `drawElementsInstanced` per [`DrawBatch`](candlefish_renderer::DrawBatch),
//!   the [`InstanceData`](candlefish_renderer::InstanceData) buffer written once per
//!   frame;
//! - the atlas as a `TEXTURE_2D_ARRAY` with every mip level;
//! - MSAA in multisampled renderbuffers, resolved and flipped onto the canvas
//!   ([`targets`]);
//! - GPU time with `EXT_disjoint_timer_query_webgl2` where present ([`timer`]);
//! - context loss survived: while lost nothing is drawn; once the browser restores
//!   the context, every GL object is rebuilt from the scene and the same runtime
//!   carries on ([`loss`]). Only a context that stays lost (or cannot be rebuilt) is
//!   reported by [`Backend::lost`], and the loader then restarts on a fresh canvas.

mod loss;
mod program;
mod scene;
#[allow(
    dead_code,
    reason = "generated: the binding tables describe more than this backend reads"
)]
mod shaders;
mod targets;
mod timer;

use std::time::Duration;

use candlefish_renderer::backend::is_software_adapter_name;
use candlefish_renderer::backend::uniforms::FrameUniforms;
use candlefish_renderer::frame::lap;
use candlefish_renderer::frame::timings::{FrameRecord, Phase, RenderMode};
use candlefish_renderer::{Backend, BackendError, FrameContext, FramePlan, Preset, Scene};
use wasm_bindgen::JsCast;
use web_sys::{WebGl2RenderingContext as Gl, WebGlContextAttributes, WebGlPowerPreference};
use web_time::Instant;

use self::loss::{Context, ContextLoss};
use self::scene::SceneObjects;
use self::targets::Targets;
use self::timer::GpuTimer;
use super::canvas::Canvas;

/// How long a lost context may take to come back before the loader is told (it then
/// restarts on a fresh canvas, or steps down to the next mode).
const RESTORE_TIMEOUT: Duration = Duration::from_secs(3);

/// `UNMASKED_RENDERER_WEBGL` of `WEBGL_debug_renderer_info`.
const UNMASKED_RENDERER: u32 = 0x9246;

/// Every GL object, rebuilt as a whole after a context loss.
#[derive(Debug)]
struct Resources {
    /// The context they were made under.
    cx: Context,
    scene: SceneObjects,
    /// `None` when making new targets failed (tried again before the next frame).
    targets: Option<Targets>,
    timer: Option<GpuTimer>,
}

impl Resources {
    fn new(
        cx: Context,
        scene: &Scene,
        size: (u32, u32),
        samples: u32,
    ) -> Result<Self, BackendError> {
        Ok(Self {
            scene: SceneObjects::new(&cx, scene)?,
            targets: Some(Targets::new(&cx, size, samples)?),
            timer: GpuTimer::new(&cx),
            cx,
        })
    }

    /// Replaces the targets, freeing the old renderbuffers before making new ones.
    fn retarget(&mut self, size: (u32, u32), samples: u32) -> Result<(), BackendError> {
        self.targets = None;
        self.targets = Some(Targets::new(&self.cx, size, samples)?);
        Ok(())
    }
}

/// The WebGL2 backend on a canvas.
#[derive(Debug)]
pub struct WebGlBackend {
    gl: Gl,
    canvas: Canvas,
    /// `None` while the context is lost (the objects died with it).
    resources: Option<Resources>,
    loss: ContextLoss,
    /// Why rebuilding after a loss failed; reported by [`Backend::lost`].
    failed: Option<String>,
    size: (u32, u32),
    /// MSAA samples in effect.
    samples: u32,
    /// The most samples the context's renderbuffers take (`MAX_SAMPLES`).
    max_samples: u32,
    adapter: String,
    software: bool,
    measures_gpu_time: bool,
    debug_tiers: bool,
}

/// The largest of 8, 4, 2 or 1 samples that is at most `wanted` and `max`.
fn fit_samples(wanted: u32, max: u32) -> u32 {
    [8, 4, 2, 1]
        .into_iter()
        .find(|&n| n <= wanted.max(1) && n <= max.max(1))
        .unwrap_or(1)
}

/// The renderer's name: the unmasked one where the browser tells it.
fn renderer_name(gl: &Gl) -> String {
    let unmasked = gl
        .get_extension("WEBGL_debug_renderer_info")
        .ok()
        .flatten()
        .and_then(|_| gl.get_parameter(UNMASKED_RENDERER).ok())
        .and_then(|v| v.as_string());
    unmasked
        .or_else(|| {
            gl.get_parameter(Gl::RENDERER)
                .ok()
                .and_then(|v| v.as_string())
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "webgl2".to_owned())
}

fn max_samples(gl: &Gl) -> u32 {
    gl.get_parameter(Gl::MAX_SAMPLES)
        .ok()
        .and_then(|v| v.as_f64())
        .map_or(1, |n| n as u32)
        .max(1)
}

impl WebGlBackend {
    /// Opens a WebGL2 context on `canvas` and uploads `scene`, with `preset`'s MSAA
    /// (lowered to what the context allows).
    pub fn new(canvas: Canvas, scene: &Scene, preset: Preset) -> Result<Self, String> {
        let attributes = WebGlContextAttributes::new();
        // MSAA is ours (renderbuffers); the canvas is only blitted to.
        attributes.set_antialias(false);
        attributes.set_depth(false);
        attributes.set_stencil(false);
        attributes.set_alpha(false);
        attributes.set_power_preference(WebGlPowerPreference::HighPerformance);
        let gl = canvas
            .context("webgl2", &attributes)?
            .dyn_into::<Gl>()
            .map_err(|_| "the canvas gave no WebGL2 context".to_owned())?;
        let loss = ContextLoss::listen(canvas.event_target()).map_err(|e| e.to_string())?;
        let adapter = renderer_name(&gl);
        let max_samples = max_samples(&gl);
        let samples = fit_samples(preset.settings().msaa_samples, max_samples);
        let size = canvas.size();
        let resources =
            Resources::new(loss.context(&gl), scene, size, samples).map_err(|e| e.to_string())?;
        let measures_gpu_time = resources.timer.is_some();
        log::info!(
            "adapter: {adapter} (WebGL2), {samples}x MSAA, GPU timing {}",
            if measures_gpu_time { "on" } else { "off" }
        );
        Ok(Self {
            software: is_software_adapter_name(&adapter),
            gl,
            canvas,
            resources: Some(resources),
            loss,
            failed: None,
            size,
            samples,
            max_samples,
            adapter,
            measures_gpu_time,
            debug_tiers: false,
        })
    }

    /// Whether the context is lost now (by its own word or by the event).
    fn context_lost(&self) -> bool {
        if self.gl.is_context_lost() {
            self.loss.mark_lost();
            return true;
        }
        self.loss.lost_since().is_some()
    }

    /// Makes the resources ready to draw: rebuilt when the context came back from a
    /// loss, the targets remade after a resize or an MSAA change.
    fn prepare(&mut self, scene: &Scene) -> Result<(), BackendError> {
        if self.resources.as_ref().is_some_and(|r| !r.cx.alive()) {
            // Lost and restored since they were made (between two frames): dead.
            self.resources = None;
        }
        if self.resources.is_none() {
            let cx = self.loss.context(&self.gl);
            match Resources::new(cx, scene, self.size, self.samples) {
                Ok(r) => {
                    log::info!("the WebGL2 context was restored and rebuilt");
                    self.measures_gpu_time = r.timer.is_some();
                    self.resources = Some(r);
                }
                // Lost again while rebuilding: wait for the next restore.
                Err(_) if self.context_lost() => {
                    return Err(BackendError::Lost("lost again".to_owned()));
                }
                Err(e) => {
                    let reason = format!("rebuilding after a context loss failed: {e}");
                    self.failed = Some(reason.clone());
                    return Err(BackendError::Lost(reason));
                }
            }
        }
        let resources = self
            .resources
            .as_mut()
            .ok_or_else(|| BackendError::Lost("no GL objects".to_owned()))?;
        let (size, samples) = (self.size, self.samples);
        if resources
            .targets
            .as_ref()
            .is_none_or(|t| t.size() != size || t.samples() != samples)
        {
            resources.retarget(size, samples)?;
        }
        Ok(())
    }
}

impl Backend for WebGlBackend {
    fn mode(&self) -> RenderMode {
        RenderMode::WebGl
    }

    fn adapter(&self) -> &str {
        &self.adapter
    }

    fn size(&self) -> (u32, u32) {
        self.size
    }

    /// Sizes the canvas; the targets are rebuilt before the next frame.
    fn resize(&mut self, width: u32, height: u32) {
        let size = (width.max(1), height.max(1));
        if size != self.size {
            self.size = size;
            self.canvas.set_size(size.0, size.1);
        }
    }

    /// Uniform and instance writes count as the upload phase, drawing as encode, the
    /// MSAA resolve and the blit to the canvas as submit.
    fn execute(
        &mut self,
        plan: &FramePlan,
        frame: &FrameContext<'_>,
        record: &mut FrameRecord,
    ) -> Result<(), BackendError> {
        if let Some(reason) = self.lost() {
            return Err(BackendError::Lost(reason));
        }
        if self.context_lost() {
            // The objects died with the context; wait for the browser to restore it.
            self.resources = None;
            return Ok(());
        }
        let t = Instant::now();
        match self.prepare(frame.scene) {
            Ok(()) => {}
            // Lost again while rebuilding: wait for the next restore.
            Err(_) if self.failed.is_none() && self.context_lost() => return Ok(()),
            Err(e) => return Err(e),
        }
        let (Some(resources), gl) = (self.resources.as_mut(), &self.gl) else {
            return Err(BackendError::Lost("no GL objects".to_owned()));
        };
        let Some(targets) = resources.targets.as_ref() else {
            return Err(BackendError::Draw("no render targets".to_owned()));
        };
        let uniforms = FrameUniforms::new(
            frame.camera,
            frame.time,
            &frame.scene.environment,
            resources.scene.materials(),
            self.size,
            self.debug_tiers,
            // The targets are RGBA8 holding sRGB values: the shader encodes them.
            true,
        );
        resources.scene.upload(plan, &uniforms);
        let t = lap(t, record, Phase::Upload);
        if let Some(timer) = resources.timer.as_mut() {
            timer.begin(record.frame);
        }
        targets.begin();
        gl.disable(Gl::CULL_FACE);
        gl.disable(Gl::BLEND);
        // The generated vertex shaders flip Y: WGSL's counter-clockwise front faces
        // arrive clockwise (`front_facing` flips the normals of single-sided sheets).
        gl.front_face(Gl::CW);
        resources.scene.draw(plan);
        let t = lap(t, record, Phase::Encode);
        targets.present();
        if let Some(timer) = resources.timer.as_mut() {
            timer.end();
        }
        lap(t, record, Phase::Submit);
        Ok(())
    }

    fn measures_gpu_time(&self) -> bool {
        self.measures_gpu_time
    }

    fn drain_gpu_times(&mut self, sink: &mut dyn FnMut(u64, f32)) {
        if let Some(timer) = self.resources.as_mut().and_then(|r| r.timer.as_mut()) {
            timer.drain(sink);
        }
    }

    fn lost(&self) -> Option<String> {
        if let Some(reason) = &self.failed {
            return Some(reason.clone());
        }
        let since = self.loss.lost_since()?;
        (since.elapsed() > RESTORE_TIMEOUT).then(|| {
            format!(
                "the WebGL2 context was lost and not restored within {} s",
                RESTORE_TIMEOUT.as_secs()
            )
        })
    }

    fn software(&self) -> bool {
        self.software
    }

    fn msaa_samples(&self) -> u32 {
        self.samples
    }

    /// Rebuilds the targets now (falling back to no MSAA if the multisampled ones
    /// cannot be made); returns the count in effect.
    fn set_msaa_samples(&mut self, samples: u32) -> u32 {
        let samples = fit_samples(samples, self.max_samples);
        if samples == self.samples {
            return samples;
        }
        self.samples = samples;
        if let Some(resources) = self.resources.as_mut()
            && let Err(e) = resources.retarget(self.size, samples)
        {
            log::warn!("{samples}x MSAA failed ({e}); drawing without MSAA");
            self.samples = 1;
            // If even this fails, the next frame tries again and reports the error.
            let _ = resources.retarget(self.size, 1);
        }
        self.samples
    }

    fn set_debug_tiers(&mut self, on: bool) {
        self.debug_tiers = on;
    }
}

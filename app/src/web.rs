//! The runtime exported to the page's JavaScript: a [`Runtime`] per canvas, started in
//! GPU mode (WebGPU or WebGL2, whichever this bundle was built for) or Canvas-2D mode,
//! and driven by the loader's `requestAnimationFrame` loop.

mod canvas2d;
mod gpu;
mod json;
mod panic;

use candlefish_renderer::pack;
use candlefish_renderer::timings::{FrameTimings, Phase};
use candlefish_renderer::{OrbitCamera, Preset, RenderMode, Scene};
use wasm_bindgen::prelude::*;
use web_sys::HtmlCanvasElement;

/// Most frame intervals kept between two telemetry batches (about 4 s at 120 Hz).
const MAX_BATCH_FRAMES: usize = 480;

enum Backend {
    Gpu(Box<gpu::GpuBackend>),
    Canvas(Box<canvas2d::CanvasBackend>),
}

/// A running scene on one canvas.
#[wasm_bindgen]
pub struct Runtime {
    backend: Backend,
    orbit: OrbitCamera,
    preset: Preset,
    last_ms: Option<f64>,
    time: f32,
    size: (u32, u32),
    frame_intervals: Vec<f32>,
    dropped_frames: u32,
}

fn parse_preset(preset: &str) -> Result<Preset, JsError> {
    preset
        .parse::<Preset>()
        .map_err(|e| JsError::new(&e.to_string()))
}

/// Most fish a page may ask for (`?fish=`), as the native CLI allows.
const MAX_FISH: u32 = 1_000_000;

fn load_scene(pack_bytes: &[u8], preset: Preset, fish: u32) -> Result<Scene, JsError> {
    let pack = pack::load(pack_bytes)
        .map_err(|e| JsError::new(&format!("the scene pack is unusable: {e}")))?;
    let mut description = pack.description.for_preset(preset);
    if fish > 0 {
        description.fish = fish.min(MAX_FISH);
    }
    pack.into_scene_with(&description)
        .map_err(|e| JsError::new(&format!("the scene pack cannot be laid out: {e}")))
}

/// What both start functions need: the preset, the laid-out scene (the pack's bytes
/// are released before the GPU or canvas work starts) and the canvas size.
fn prepare(
    canvas: &HtmlCanvasElement,
    pack_bytes: Vec<u8>,
    preset: &str,
    fish: u32,
) -> Result<(Preset, Scene, (u32, u32)), JsError> {
    let preset = parse_preset(preset)?;
    let scene = load_scene(&pack_bytes, preset, fish)?;
    drop(pack_bytes);
    Ok((
        preset,
        scene,
        (canvas.width().max(1), canvas.height().max(1)),
    ))
}

fn orbit(reduced_motion: bool) -> OrbitCamera {
    let mut orbit = OrbitCamera::default();
    if reduced_motion {
        orbit.auto_rotate = 0.0;
    }
    orbit
}

/// Starts the GPU renderer of this bundle (WebGPU or WebGL2) on `canvas`; `fish`
/// overrides the preset's school size when non-zero.
#[wasm_bindgen(js_name = startGpu)]
pub async fn start_gpu(
    canvas: HtmlCanvasElement,
    pack_bytes: Vec<u8>,
    preset: String,
    reduced_motion: bool,
    fish: u32,
) -> Result<Runtime, JsError> {
    let (preset, scene, size) = prepare(&canvas, pack_bytes, &preset, fish)?;
    let backend = gpu::GpuBackend::new(canvas, scene, preset, size)
        .await
        .map_err(|e| JsError::new(&e))?;
    Ok(Runtime::new(
        Backend::Gpu(Box::new(backend)),
        preset,
        reduced_motion,
        size,
    ))
}

/// Starts the Canvas-2D renderer on `canvas`; `fish` as for [`start_gpu`].
#[wasm_bindgen(js_name = startCanvas)]
pub fn start_canvas(
    canvas: HtmlCanvasElement,
    pack_bytes: Vec<u8>,
    preset: String,
    reduced_motion: bool,
    fish: u32,
) -> Result<Runtime, JsError> {
    let (preset, scene, size) = prepare(&canvas, pack_bytes, &preset, fish)?;
    let backend =
        canvas2d::CanvasBackend::new(canvas, scene, preset).map_err(|e| JsError::new(&e))?;
    Ok(Runtime::new(
        Backend::Canvas(Box::new(backend)),
        preset,
        reduced_motion,
        size,
    ))
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("mode", &self.render_mode())
            .field("preset", &self.preset)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    fn new(backend: Backend, preset: Preset, reduced_motion: bool, size: (u32, u32)) -> Self {
        Self {
            backend,
            orbit: orbit(reduced_motion),
            preset,
            last_ms: None,
            time: 0.0,
            size,
            frame_intervals: Vec::with_capacity(MAX_BATCH_FRAMES),
            dropped_frames: 0,
        }
    }

    fn timings(&mut self) -> &mut FrameTimings {
        match &mut self.backend {
            Backend::Gpu(b) => &mut b.renderer.timings,
            Backend::Canvas(b) => &mut b.timings,
        }
    }
}

#[wasm_bindgen]
impl Runtime {
    /// Draws one frame; `now_ms` is the `requestAnimationFrame` timestamp.
    pub fn frame(&mut self, now_ms: f64) -> Result<(), JsError> {
        let dt = self.last_ms.map_or(0.0, |last| {
            ((now_ms - last) / 1000.0).clamp(0.0, 0.25) as f32
        });
        if let Some(last) = self.last_ms {
            let interval = (now_ms - last) as f32;
            if self.frame_intervals.len() < MAX_BATCH_FRAMES {
                self.frame_intervals.push(interval);
            }
            // A frame that took longer than two 60 Hz intervals skipped at least one.
            if interval > 2.0 * 1000.0 / 60.0 {
                self.dropped_frames += (interval / (1000.0 / 60.0)) as u32 - 1;
            }
        }
        self.last_ms = Some(now_ms);
        self.time += dt;
        self.orbit.advance(dt);
        let aspect = self.size.0 as f32 / self.size.1.max(1) as f32;
        let camera = self.orbit.camera(aspect);
        match &mut self.backend {
            Backend::Gpu(b) => b.render(self.time, &camera).map_err(|e| JsError::new(&e)),
            Backend::Canvas(b) => b.render(self.time, &camera).map_err(|e| JsError::new(&e)),
        }
    }

    /// Resizes the drawing buffer (device pixels).
    pub fn resize(&mut self, width: u32, height: u32) {
        let (width, height) = (width.clamp(1, 8192), height.clamp(1, 8192));
        self.size = (width, height);
        match &mut self.backend {
            Backend::Gpu(b) => b.resize(width, height),
            Backend::Canvas(b) => b.resize(width, height),
        }
    }

    /// Orbits the camera (radians).
    pub fn rotate(&mut self, d_yaw: f32, d_pitch: f32) {
        self.orbit.rotate(d_yaw, d_pitch);
    }

    /// Zooms (factor < 1 moves closer).
    pub fn zoom(&mut self, factor: f32) {
        self.orbit.zoom(factor);
    }

    /// Turns automatic camera rotation on or off.
    #[wasm_bindgen(js_name = setAutoRotate)]
    pub fn set_auto_rotate(&mut self, on: bool) {
        self.orbit.auto_rotate = if on {
            OrbitCamera::default().auto_rotate
        } else {
            0.0
        };
    }

    /// Why the GPU device was lost, or `None` while it is fine (the loader then
    /// restarts or steps down).
    #[wasm_bindgen(js_name = deviceLost)]
    pub fn device_lost(&self) -> Option<String> {
        match &self.backend {
            Backend::Gpu(b) => b.lost(),
            Backend::Canvas(_) => None,
        }
    }

    /// `webgpu`, `webgl` or `canvas`.
    pub fn mode(&self) -> String {
        self.render_mode().name().to_owned()
    }

    fn render_mode(&self) -> RenderMode {
        match &self.backend {
            Backend::Gpu(b) => b.renderer.mode,
            Backend::Canvas(_) => RenderMode::Canvas,
        }
    }

    fn adapter(&self) -> String {
        match &self.backend {
            Backend::Gpu(b) => b.adapter.clone(),
            Backend::Canvas(_) => "canvas2d".to_owned(),
        }
    }

    /// A JSON snapshot for the page and tests: mode, adapter, frame counts, timing
    /// percentiles (ms), what was drawn, the camera.
    pub fn stats(&mut self) -> String {
        let mode = self.mode();
        let adapter = self.adapter();
        let (size, preset, orbit) = (self.size, self.preset, self.orbit);
        let t = self.timings();
        let frames = t.frames_in_mode(
            RenderMode::ALL
                .into_iter()
                .find(|m| m.name() == mode)
                .unwrap_or_default(),
        );
        let cpu = t.cpu_total();
        let gpu = t.gpu();
        let last = t.records().last().copied().unwrap_or_default();
        let mut o = json::Object::new();
        o.str("mode", &mode)
            .str("adapter", &adapter)
            .str("preset", preset.name())
            .num("frames", frames as f64)
            .num("cpuP50", f64::from(cpu.p50))
            .num("cpuP95", f64::from(cpu.p95))
            .opt("gpuP50", (gpu.count > 0).then_some(f64::from(gpu.p50)))
            .num("drawn", f64::from(last.drawn))
            .num("drawCalls", f64::from(last.draw_calls))
            .num("width", f64::from(size.0))
            .num("height", f64::from(size.1))
            .num("yaw", f64::from(orbit.yaw))
            .num("pitch", f64::from(orbit.pitch))
            .num("distance", f64::from(orbit.distance))
            .boolean("autoRotate", orbit.auto_rotate != 0.0);
        o.finish()
    }

    /// The frame-timing part of a telemetry `frames` message (see
    /// `server/PROTOCOL.md`) for the frames since the last call, or `None` if there
    /// were none. The loader adds release, session, load times and vitals.
    #[wasm_bindgen(js_name = telemetryBatch)]
    pub fn telemetry_batch(&mut self) -> Option<String> {
        if self.frame_intervals.is_empty() {
            return None;
        }
        let intervals = std::mem::take(&mut self.frame_intervals);
        let dropped = std::mem::take(&mut self.dropped_frames);
        let mode = self.mode();
        let adapter = self.adapter();
        let preset = self.preset;
        let t = self.timings();
        let mut phases = json::Object::new();
        for (phase, key) in [
            (Phase::Update, "update"),
            (Phase::Cull, "cull"),
            (Phase::Lod, "lod"),
            (Phase::Upload, "upload"),
            (Phase::Encode, "encode"),
            (Phase::Submit, "submit"),
        ] {
            phases.num(key, f64::from(t.phase(phase).p50));
        }
        let gpu = t.gpu();
        let last = t.records().last().copied().unwrap_or_default();
        let mut o = json::Object::new();
        o.str("mode", &mode)
            .str("preset", preset.name())
            .str("adapter", &adapter)
            .nums("frame_ms", &intervals)
            .raw("cpu_ms", &phases.finish())
            .opt("gpu_ms", (gpu.count > 0).then_some(f64::from(gpu.p50)))
            .num("dropped_frames", f64::from(dropped))
            .num("draw_calls", f64::from(last.draw_calls));
        Some(o.finish())
    }
}

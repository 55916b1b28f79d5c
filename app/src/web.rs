//! The runtime exported to the page's JavaScript: a [`Runtime`] per canvas, started on
//! this bundle's GPU backend (WebGPU or WebGL2, whichever it was built for) or on the
//! Canvas-2D backend, and driven by the loader's `requestAnimationFrame` loop. Every
//! backend sits behind the renderer's [`Backend`] trait, under one [`FrameDriver`].

mod canvas;
mod canvas2d;
#[cfg(feature = "webgpu")]
mod gpu;
mod json;
mod panic;
#[cfg(all(feature = "webgl", not(feature = "webgpu")))]
mod webgl;

use candlefish_renderer::assets::pack;
use candlefish_renderer::frame::timings::Phase;
use candlefish_renderer::{Backend, FrameDriver, OrbitCamera, Preset, Scene};
use wasm_bindgen::prelude::*;

use crate::web::canvas::Canvas;

/// Most frame intervals kept between two telemetry batches (about 4 s at 120 Hz).
const MAX_BATCH_FRAMES: usize = 480;

/// A running scene on one canvas.
#[wasm_bindgen]
pub struct Runtime {
    driver: FrameDriver<Box<dyn Backend>>,
    orbit: OrbitCamera,
    last_ms: Option<f64>,
    time: f32,
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
    canvas: JsValue,
    pack_bytes: Vec<u8>,
    preset: &str,
    fish: u32,
) -> Result<(Canvas, Preset, Scene), JsError> {
    let canvas = Canvas::from_js(canvas).map_err(|e| JsError::new(&e))?;
    let preset = parse_preset(preset)?;
    let scene = load_scene(&pack_bytes, preset, fish)?;
    drop(pack_bytes);
    Ok((canvas, preset, scene))
}

fn orbit(reduced_motion: bool) -> OrbitCamera {
    let mut orbit = OrbitCamera::default();
    if reduced_motion {
        orbit.auto_rotate = 0.0;
    }
    orbit
}

/// Starts the GPU renderer of this bundle (WebGPU or WebGL2) on `canvas` (a canvas
/// element or an `OffscreenCanvas`); `fish` overrides the preset's school size when
/// non-zero.
#[wasm_bindgen(js_name = startGpu)]
pub async fn start_gpu(
    canvas: JsValue,
    pack_bytes: Vec<u8>,
    preset: String,
    reduced_motion: bool,
    fish: u32,
) -> Result<Runtime, JsError> {
    let (canvas, preset, scene) = prepare(canvas, pack_bytes, &preset, fish)?;
    #[cfg(feature = "webgpu")]
    let backend = gpu::start(canvas, &scene, preset).await;
    #[cfg(all(feature = "webgl", not(feature = "webgpu")))]
    let backend =
        webgl::WebGlBackend::new(canvas, &scene, preset).map(|b| Box::new(b) as Box<dyn Backend>);
    #[cfg(not(any(feature = "webgl", feature = "webgpu")))]
    let backend: Result<Box<dyn Backend>, String> = {
        let _ = (canvas, preset);
        Err("this build has no GPU backend (build with --features webgpu or webgl)".to_owned())
    };
    let backend = backend.map_err(|e| JsError::new(&e))?;
    Ok(Runtime::new(scene, preset, backend, reduced_motion))
}

/// Starts the Canvas-2D renderer on `canvas`; `fish` as for [`start_gpu`].
#[wasm_bindgen(js_name = startCanvas)]
pub fn start_canvas(
    canvas: JsValue,
    pack_bytes: Vec<u8>,
    preset: String,
    reduced_motion: bool,
    fish: u32,
) -> Result<Runtime, JsError> {
    let (canvas, preset, scene) = prepare(canvas, pack_bytes, &preset, fish)?;
    let backend = canvas2d::CanvasBackend::new(canvas, &scene).map_err(|e| JsError::new(&e))?;
    Ok(Runtime::new(
        scene,
        preset,
        Box::new(backend),
        reduced_motion,
    ))
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("mode", &self.driver.backend().mode())
            .field("preset", &self.driver.preset())
            .field("size", &self.driver.backend().size())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    fn new(scene: Scene, preset: Preset, backend: Box<dyn Backend>, reduced_motion: bool) -> Self {
        Self {
            driver: FrameDriver::new(scene, preset, backend),
            orbit: orbit(reduced_motion),
            last_ms: None,
            time: 0.0,
            frame_intervals: Vec::with_capacity(MAX_BATCH_FRAMES),
            dropped_frames: 0,
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
        let (width, height) = self.driver.backend().size();
        let camera = self.orbit.camera(width as f32 / height.max(1) as f32);
        self.driver
            .render_frame(self.time, &camera)
            .map(|_| ())
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// Resizes the drawing buffer (device pixels).
    pub fn resize(&mut self, width: u32, height: u32) {
        self.driver
            .resize(width.clamp(1, 8192), height.clamp(1, 8192));
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
        self.driver.backend().lost()
    }

    /// `webgpu`, `webgl` or `canvas`.
    pub fn mode(&self) -> String {
        self.driver.backend().mode().name().to_owned()
    }

    /// A JSON snapshot for the page and tests: mode, adapter, frame counts, timing
    /// percentiles (ms), what was drawn, the camera.
    pub fn stats(&mut self) -> String {
        let backend = self.driver.backend();
        let (mode, size, msaa) = (backend.mode(), backend.size(), backend.msaa_samples());
        let adapter = backend.adapter().to_owned();
        let (preset, orbit) = (self.driver.preset(), self.orbit);
        let t = &mut self.driver.timings;
        let frames = t.frames_in_mode(mode);
        let cpu = t.cpu_total();
        let gpu = t.gpu();
        let last = t.records().last().copied().unwrap_or_default();
        let mut o = json::Object::new();
        o.str("mode", mode.name())
            .str("adapter", &adapter)
            .str("preset", preset.name())
            .num("msaa", f64::from(msaa))
            .num("frames", frames as f64)
            .num("cpuP50", f64::from(cpu.p50))
            .num("cpuP95", f64::from(cpu.p95))
            .opt("gpuP50", (gpu.count > 0).then_some(f64::from(gpu.p50)))
            .num("drawn", f64::from(last.drawn))
            .num("drawCalls", f64::from(last.draw_calls))
            .num("triangles", last.triangles as f64)
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
        let backend = self.driver.backend();
        let mode = backend.mode();
        let adapter = backend.adapter().to_owned();
        let preset = self.driver.preset();
        let t = &mut self.driver.timings;
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
        o.str("mode", mode.name())
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

//! The running scene: the frame driver over one backend, the camera, the frame
//! governor and the numbers the page shows and sends. The host (`www/runtime.js`, in a
//! Worker where the browser allows) calls [`Runtime::frame`] once per animation frame,
//! forwards the page's input, size, visibility and pause, and takes the telemetry
//! batches ([`super::telemetry`]) the page's queue delivers.

use candlefish_renderer::assets::pack::PackDescription;
use candlefish_renderer::frame::governor::{Governor, GovernorConfig, Step, StepReason};
use candlefish_renderer::preset::{LADDER, RungKind, lowest_gpu_rung, start_rung};
use candlefish_renderer::{Backend, FrameDriver, OrbitCamera, Preset, Scene};
use wasm_bindgen::prelude::*;

use super::json;
use super::telemetry::{SessionOptions, Telemetry};
use candlefish_protocol::{LoadTimes, RenderThread, Vitals};
/// Largest drawing buffer side, pixels.
const MAX_SIDE: u32 = 8192;
/// Most fish a page may ask for (`?fish=`), as the native CLI allows.
pub const MAX_FISH: u32 = 1_000_000;

/// How the page asked the runtime to start (read from the host's options object).
#[derive(Clone, Debug)]
pub struct StartOptions {
    /// The preset asked for (the server's hint or `?preset=`): a starting point.
    pub preset: Preset,
    /// A school size overriding every preset's (`?fish=`, benchmarks), or 0.
    pub fish: u32,
    /// The page found a software adapter (a WebGPU fallback adapter).
    pub software: bool,
    /// The URL chose the preset: start there even on a software adapter.
    pub preset_forced: bool,
    /// Whether the frame governor may change the rung.
    pub governor: bool,
    /// A rung to start at (the loader restarting into Canvas 2D), else the preset's.
    pub rung: Option<usize>,
    /// `prefers-reduced-motion: reduce`.
    pub reduced_motion: bool,
    /// A fixed scene time: one reproducible frame (render scale 1, DPR 1, no motion).
    pub still: Option<f32>,
    /// The canvas's size on the page, CSS pixels.
    pub css: (f32, f32),
    /// `devicePixelRatio`.
    pub dpr: f32,
    /// Where the runtime runs.
    pub thread: RenderThread,
    /// The page's session, for telemetry.
    pub session: SessionOptions,
}

/// A running scene on one canvas.
#[wasm_bindgen]
pub struct Runtime {
    driver: FrameDriver<Box<dyn Backend>>,
    description: PackDescription,
    fish: u32,
    governor: Governor,
    governed: bool,
    orbit: OrbitCamera,
    auto_rotate: f32,
    last_ms: Option<f64>,
    time: f32,
    still: bool,
    paused: bool,
    css: (f32, f32),
    dpr: f32,
    thread: RenderThread,
    gpu_ms: Option<f32>,
    telemetry: Option<Telemetry>,
    last_step: Option<Step>,
    /// Emulated GPU cost, nanoseconds per triangle drawn (browser tests of the governor).
    test_load_ns: f64,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("mode", &self.driver.backend().mode())
            .field("rung", &LADDER[self.governor.rung()].name)
            .field("size", &self.driver.backend().size())
            .finish_non_exhaustive()
    }
}

/// A step as JSON for the host: from/to rungs with names and kinds, the reason and the
/// figures behind it.
fn step_json(step: &Step) -> String {
    let (from, to) = (&LADDER[step.from], &LADDER[step.to]);
    let kind = |k: RungKind| match k {
        RungKind::Gpu => "gpu",
        RungKind::Canvas => "canvas",
        RungKind::Paused => "paused",
    };
    let mut o = json::Object::new();
    o.num("from", step.from as f64)
        .num("to", step.to as f64)
        .str("fromName", from.name)
        .str("toName", to.name)
        .str("fromKind", kind(from.kind))
        .str("toKind", kind(to.kind))
        .str("reason", step.reason.name())
        .num("p90Ms", f64::from(step.p90_ms))
        .num("workP90Ms", f64::from(step.work_p90_ms))
        .num("budgetMs", f64::from(step.budget_ms))
        .num("atMs", step.at_ms);
    o.finish()
}

impl Runtime {
    /// Wraps a started backend. `scene` was laid out for `options.preset` (or the rung
    /// the options name); a software adapter starts at the lowest GPU rung.
    pub fn new(
        scene: Scene,
        description: PackDescription,
        backend: Box<dyn Backend>,
        options: &StartOptions,
    ) -> Result<Self, String> {
        let start = options.rung.unwrap_or_else(|| start_rung(options.preset));
        let preset = LADDER[start.min(LADDER.len() - 1)].preset;
        let mut orbit = OrbitCamera::default();
        let auto_rotate = orbit.auto_rotate;
        let mut time = 0.0;
        if let Some(t) = options.still {
            orbit.advance(t);
            time = t;
            orbit.auto_rotate = 0.0;
        } else if options.reduced_motion {
            orbit.auto_rotate = 0.0;
        }
        let telemetry = Telemetry::new(
            &options.session,
            backend.mode(),
            preset,
            backend.adapter(),
            options.thread,
        );
        let mut runtime = Self {
            driver: FrameDriver::new(scene, preset, backend),
            description,
            fish: options.fish.min(MAX_FISH),
            governor: Governor::new(GovernorConfig::default(), start),
            governed: options.governor && options.still.is_none(),
            orbit,
            auto_rotate,
            last_ms: None,
            time,
            still: options.still.is_some(),
            paused: false,
            css: options.css,
            dpr: options.dpr,
            thread: options.thread,
            gpu_ms: None,
            telemetry,
            last_step: None,
            test_load_ns: 0.0,
        };
        let software =
            !options.preset_forced && (options.software || runtime.driver.backend().software());
        let gpu = LADDER[start].kind == RungKind::Gpu;
        if software && gpu && runtime.governed && options.rung.is_none() {
            let low = lowest_gpu_rung();
            if low > start
                && let Some(step) = runtime.governor.force(low, StepReason::Software, 0.0)
            {
                runtime.record_step(step);
            }
        }
        runtime.apply_rung()?;
        Ok(runtime)
    }

    fn rung(&self) -> usize {
        self.governor.rung()
    }

    fn record_step(&mut self, step: Step) {
        if let Some(t) = &mut self.telemetry {
            t.add_step(&step);
        }
        self.last_step = Some(step);
    }

    /// Makes the backend, the scene and the drawing buffer match the current rung (a
    /// GPU rung on a GPU backend, Canvas 2D on the canvas backend; other moves are the
    /// page's to make).
    fn apply_rung(&mut self) -> Result<(), String> {
        let rung = LADDER[self.rung()];
        let backend_kind = match self.driver.backend().mode() {
            candlefish_renderer::RenderMode::Canvas => RungKind::Canvas,
            _ => RungKind::Gpu,
        };
        if rung.kind != backend_kind {
            return Ok(());
        }
        if rung.preset != self.driver.preset() {
            // The frames so far ran under the old preset: their batch leaves first.
            if let Some(t) = &mut self.telemetry {
                t.set_preset(rung.preset);
            }
            let mut description = self.description.for_preset(rung.preset);
            if self.fish > 0 {
                description.fish = self.fish;
            }
            self.driver
                .relayout(&description, rung.preset)
                .map_err(|e| format!("the {} scene cannot be laid out: {e}", rung.preset))?;
        }
        self.driver.lod_threshold_px = rung.lod_threshold_px;
        self.driver
            .backend_mut()
            .set_msaa_samples(rung.msaa_samples);
        self.apply_size();
        Ok(())
    }

    /// The drawing-buffer size for the page's canvas size: CSS pixels × the device
    /// pixel ratio (capped by the rung's preset) × the rung's render scale. A still frame
    /// is drawn at CSS size, pixel for pixel.
    fn drawing_size(&self) -> (u32, u32) {
        let rung = LADDER[self.rung()];
        let scale = if self.still {
            1.0
        } else {
            // max/min, not `clamp` (see `OrbitCamera::zoom`).
            self.dpr
                .max(0.25)
                .min(rung.preset.settings().max_device_pixel_ratio)
                * rung.render_scale
        };
        let side = |css: f32| ((css * scale).round().max(1.0) as u32).min(MAX_SIDE);
        (side(self.css.0), side(self.css.1))
    }

    fn apply_size(&mut self) {
        let (w, h) = self.drawing_size();
        self.driver.resize(w, h);
    }

    /// Spends the emulated GPU time of `triangles` (busy, as a GPU-bound frame blocks
    /// on its present), returning it in milliseconds.
    fn emulate_load(&self, triangles: u64) -> f32 {
        if self.test_load_ns <= 0.0 {
            return 0.0;
        }
        let ms = (triangles as f64 * self.test_load_ns / 1e6).min(1000.0);
        let start = web_time::Instant::now();
        while start.elapsed().as_secs_f64() * 1000.0 < ms {
            std::hint::spin_loop();
        }
        ms as f32
    }
}

#[wasm_bindgen]
impl Runtime {
    /// Draws one frame; `now_ms` is the animation-frame timestamp. Returns the governor's
    /// step as JSON when the rung changed (the host shows it, sends it, and hands Canvas
    /// 2D or the paused frame to the page).
    pub fn frame(&mut self, now_ms: f64) -> Result<Option<String>, JsError> {
        let interval = self.last_ms.map(|last| (now_ms - last) as f32);
        let dt = interval.map_or(0.0, |ms| (ms / 1000.0).clamp(0.0, 0.25));
        // A paused page draws one frame on demand (input, a resize): no interval runs
        // from one such frame to the next.
        self.last_ms = (!self.paused).then_some(now_ms);
        if let (Some(ms), Some(t)) = (interval, &mut self.telemetry) {
            // A frame that took longer than two display intervals skipped at least one.
            let display = 1000.0 / self.governor.display_hz();
            if ms > 2.0 * display && ms.is_finite() {
                t.add_dropped_frames((ms / display) as u32 - 1);
            }
        }
        if !self.still && !self.paused {
            self.time += dt;
            self.orbit.advance(dt);
        }
        let (width, height) = self.driver.backend().size();
        let camera = self.orbit.camera(width as f32 / height.max(1) as f32);
        let record = self
            .driver
            .render_frame(self.time, &camera)
            .map_err(|e| JsError::new(&e.to_string()))?;
        let arrived = self.driver.gpu_arrived();
        if let Some(&(_, gpu)) = arrived.iter().max_by_key(|(frame, _)| *frame) {
            self.gpu_ms = Some(gpu);
        }
        if let Some(t) = &mut self.telemetry {
            t.record(interval, &record, arrived);
        }
        let (Some(interval), true) = (interval, self.governed) else {
            return Ok(None);
        };
        let work = record.cpu_total_ms()
            + self.gpu_ms.unwrap_or(0.0)
            + self.emulate_load(record.triangles);
        let Some(step) = self.governor.frame(now_ms, interval, work) else {
            return Ok(None);
        };
        self.record_step(step);
        self.apply_rung().map_err(|e| JsError::new(&e))?;
        Ok(Some(step_json(&step)))
    }

    /// The canvas's size on the page (CSS pixels) and the device pixel ratio; the
    /// drawing buffer follows with the rung's scale.
    pub fn resize(&mut self, css_width: f32, css_height: f32, dpr: f32) {
        let ok = |v: f32, max: f32| {
            if v.is_finite() {
                v.max(1.0).min(max)
            } else {
                1.0
            }
        };
        self.css = (ok(css_width, 16384.0), ok(css_height, 16384.0));
        self.dpr = if dpr.is_finite() {
            dpr.clamp(0.25, 8.0)
        } else {
            1.0
        };
        self.apply_size();
    }

    /// The tab was hidden or shown: nothing is drawn or measured while hidden, and the
    /// hidden time never counts as a frame.
    #[wasm_bindgen(js_name = setHidden)]
    pub fn set_hidden(&mut self, hidden: bool, now_ms: f64) {
        self.last_ms = None;
        if hidden {
            self.governor.suspend();
        } else {
            self.governor.resume(now_ms);
        }
    }

    /// Pauses or resumes all motion (the page's Pause/Play control). Playing on the
    /// governor's paused rung returns to Canvas 2D; the step is returned as JSON.
    #[wasm_bindgen(js_name = setPaused)]
    pub fn set_paused(&mut self, paused: bool, now_ms: f64) -> Option<String> {
        self.paused = paused;
        self.last_ms = None;
        if paused {
            self.governor.suspend();
            return None;
        }
        self.governor.resume(now_ms);
        if LADDER[self.rung()].kind != RungKind::Paused {
            return None;
        }
        let canvas = LADDER.iter().position(|r| r.kind == RungKind::Canvas)?;
        let step = self.governor.force(canvas, StepReason::User, now_ms)?;
        self.record_step(step);
        Some(step_json(&step))
    }

    /// Emulates a GPU that needs `ns_per_triangle` nanoseconds per triangle (0 turns it
    /// off): each frame then takes that long more, and counts it as work. For the
    /// browser tests of the frame governor, with the null backend.
    #[wasm_bindgen(js_name = setTestLoad)]
    pub fn set_test_load(&mut self, ns_per_triangle: f64) {
        self.test_load_ns = if ns_per_triangle.is_finite() {
            ns_per_triangle.clamp(0.0, 1000.0)
        } else {
            0.0
        };
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
        self.orbit.auto_rotate = if on && !self.still {
            self.auto_rotate
        } else {
            0.0
        };
    }

    /// Why the GPU device or context was lost for good, or `None` while it is fine (the
    /// loader then restarts or steps down).
    #[wasm_bindgen(js_name = deviceLost)]
    pub fn device_lost(&self) -> Option<String> {
        self.driver.backend().lost()
    }

    /// `webgpu`, `webgl` or `canvas`.
    pub fn mode(&self) -> String {
        self.driver.backend().mode().name().to_owned()
    }

    /// A JSON snapshot for the page and tests: mode, thread, rung, adapter, frame
    /// counts, timing percentiles (ms), the governor, what was drawn, the camera.
    pub fn stats(&mut self) -> String {
        let backend = self.driver.backend();
        let (mode, size, msaa) = (backend.mode(), backend.size(), backend.msaa_samples());
        let (adapter, software) = (backend.adapter().to_owned(), backend.software());
        let rung = LADDER[self.rung()];
        let (preset, orbit) = (self.driver.preset(), self.orbit);
        let (budget, hz, p90, work_p90) = (
            self.governor.budget_ms(),
            self.governor.display_hz(),
            self.governor.p90_ms(),
            self.governor.work_p90_ms(),
        );
        let t = &mut self.driver.timings;
        let frames = t.frames_in_mode(mode);
        let cpu = t.cpu_total();
        let gpu = t.gpu();
        let last = t.records().last().copied().unwrap_or_default();
        let mut o = json::Object::new();
        o.str("mode", mode.name())
            .str("thread", self.thread.as_str())
            .str("adapter", &adapter)
            .boolean("software", software)
            .str("preset", preset.name())
            .str("rung", rung.name)
            .num("rungIndex", self.governor.rung() as f64)
            .boolean("governor", self.governed)
            .num("budgetMs", f64::from(budget))
            .num("displayHz", f64::from(hz))
            .num("p90Ms", f64::from(p90))
            .num("workP90Ms", f64::from(work_p90))
            .num("steps", f64::from(self.governor.steps()))
            .boolean("paused", self.paused)
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
            .num("time", f64::from(self.time))
            .num("yaw", f64::from(orbit.yaw))
            .num("pitch", f64::from(orbit.pitch))
            .num("distance", f64::from(orbit.distance))
            .boolean("autoRotate", orbit.auto_rotate != 0.0);
        if let Some(step) = &self.last_step {
            o.raw("lastStep", &step_json(step));
        }
        o.finish()
    }

    /// Every finished telemetry batch (`frames` messages, see `server/PROTOCOL.md`),
    /// oldest first, one JSON text per line; `None` when there is nothing to send. The
    /// page's queue delivers them as they are.
    #[wasm_bindgen(js_name = telemetryBatches)]
    pub fn telemetry_batches(&mut self) -> Option<String> {
        self.telemetry.as_mut()?.take_json()
    }

    /// An error the page saw (`kind`: `panic`, `device_lost`, `backend_fallback`,
    /// `shader`, `asset` or `other`); it goes out with the next batch. `false` when it
    /// could not be kept (no telemetry, or too many waiting).
    #[wasm_bindgen(js_name = addError)]
    pub fn add_error(&mut self, kind: &str, message: &str) -> bool {
        self.telemetry
            .as_mut()
            .is_some_and(|t| t.add_error(kind, message))
    }

    /// Batches the page's queue had to drop: reported in the next batch.
    #[wasm_bindgen(js_name = addDroppedBatches)]
    pub fn add_dropped_batches(&mut self, n: u32) {
        if let Some(t) = &mut self.telemetry {
            t.batch_mut().add_dropped_batches(n);
        }
    }

    /// The memory in use now, bytes: wasm linear memory plus the JS heap.
    #[wasm_bindgen(js_name = setMemory)]
    pub fn set_memory(&mut self, bytes: f64) {
        if let Some(t) = &mut self.telemetry
            && bytes.is_finite()
            && bytes >= 0.0
        {
            t.batch_mut().set_memory(bytes as u64);
        }
    }

    /// Load timings, ms since navigation start (each optional): sent once, and again
    /// only when one changes.
    #[wasm_bindgen(js_name = setLoad)]
    pub fn set_load(
        &mut self,
        fetch: Option<f64>,
        compile: Option<f64>,
        init: Option<f64>,
        first_frame: Option<f64>,
    ) {
        if let Some(t) = &mut self.telemetry {
            t.batch_mut().set_load(LoadTimes {
                fetch: fetch.map(|v| v as f32),
                compile: compile.map(|v| v as f32),
                init: init.map(|v| v as f32),
                first_frame: first_frame.map(|v| v as f32),
            });
        }
    }

    /// Web vitals (LCP, INP and TTFB in ms, CLS unitless; each optional): sent once,
    /// and again only when one changes.
    #[wasm_bindgen(js_name = setVitals)]
    pub fn set_vitals(
        &mut self,
        lcp_ms: Option<f64>,
        inp_ms: Option<f64>,
        cls: Option<f64>,
        ttfb_ms: Option<f64>,
    ) {
        if let Some(t) = &mut self.telemetry {
            t.batch_mut().set_vitals(Vitals {
                lcp_ms: lcp_ms.map(|v| v as f32),
                inp_ms: inp_ms.map(|v| v as f32),
                cls: cls.map(|v| v as f32),
                ttfb_ms: ttfb_ms.map(|v| v as f32),
            });
        }
    }
}

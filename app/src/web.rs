//! The runtime exported to the page's JavaScript: a [`Runtime`] per canvas (a canvas
//! element, or an `OffscreenCanvas` in a Worker), started on this bundle's GPU backend
//! (wgpu on WebGPU in the `webgpu` bundle, the web-sys WebGL2 backend in the `webgl`
//! bundle) or on the Canvas-2D backend, and driven by the host's animation-frame loop
//! (`www/runtime.js`). Every backend sits behind the renderer's `Backend` trait, under
//! one `FrameDriver`, with the frame governor above it.

mod canvas;
// Canvas 2D runs in the small, wgpu-free WebGL2 bundle only (the loader fetches that
// bundle for it): the WebGPU bundle stays within its size budget.
#[cfg(not(feature = "webgpu"))]
mod canvas2d;
#[cfg(feature = "webgpu")]
mod gpu;
mod json;
mod panic;
mod runtime;
mod telemetry;
#[cfg(all(feature = "webgl", not(feature = "webgpu")))]
mod webgl;

use candlefish_renderer::assets::pack::{self, PackDescription};
use candlefish_renderer::preset::LADDER;
use candlefish_renderer::{Preset, Scene};
use wasm_bindgen::prelude::*;

use crate::web::canvas::Canvas;
pub use crate::web::runtime::Runtime;
use crate::web::runtime::{MAX_FISH, StartOptions};
use crate::web::telemetry::SessionOptions;
use candlefish_protocol::RenderThread;
use candlefish_protocol::limits::MAX_SEQ;

/// A field of the host's options object.
fn field(options: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(options, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn number(options: &JsValue, name: &str) -> Option<f64> {
    field(options, name).as_f64().filter(|v| v.is_finite())
}

/// Reads the options object the host passes (`www/runtime.js`): every field is
/// checked, and anything missing or malformed takes its default.
fn start_options(options: &JsValue) -> Result<StartOptions, JsError> {
    let preset = match field(options, "preset").as_string() {
        Some(name) => name
            .parse::<Preset>()
            .map_err(|e| JsError::new(&e.to_string()))?,
        None => Preset::Quality,
    };
    let flag = |name: &str| field(options, name).as_bool().unwrap_or(false);
    let rung = number(options, "rung")
        .filter(|r| *r >= 0.0 && (*r as usize) < LADDER.len())
        .map(|r| r as usize);
    Ok(StartOptions {
        preset,
        fish: number(options, "fish").map_or(0, |f| f.clamp(0.0, f64::from(MAX_FISH)) as u32),
        software: flag("software"),
        preset_forced: flag("presetForced"),
        governor: field(options, "governor").as_bool().unwrap_or(true),
        rung,
        reduced_motion: flag("reducedMotion"),
        still: number(options, "still").map(|t| t.clamp(0.0, 3600.0) as f32),
        css: (
            number(options, "cssWidth").unwrap_or(640.0) as f32,
            number(options, "cssHeight").unwrap_or(360.0) as f32,
        ),
        dpr: number(options, "dpr").unwrap_or(1.0) as f32,
        thread: match field(options, "thread").as_string().as_deref() {
            Some("worker") => RenderThread::Worker,
            _ => RenderThread::Main,
        },
        session: SessionOptions {
            release: field(options, "release").as_string().unwrap_or_default(),
            session: field(options, "session").as_string().unwrap_or_default(),
            next_seq: number(options, "nextSeq")
                .filter(|s| *s >= 1.0)
                .map_or(1, |s| s.min(MAX_SEQ as f64) as u64),
        },
    })
}

/// The preset the scene is laid out for first: the starting rung's.
fn first_preset(options: &StartOptions) -> Preset {
    options.rung.map_or(options.preset, |r| LADDER[r].preset)
}

/// What both start functions need: the canvas, the options, the laid-out scene and
/// the pack's description (for other presets' layouts). The pack's bytes are released
/// before the GPU or canvas work starts.
fn prepare(
    canvas: JsValue,
    pack_bytes: Vec<u8>,
    options: &JsValue,
) -> Result<(Canvas, StartOptions, Scene, PackDescription), JsError> {
    let canvas = Canvas::from_js(canvas).map_err(|e| JsError::new(&e))?;
    let options = start_options(options)?;
    let pack = pack::load(&pack_bytes)
        .map_err(|e| JsError::new(&format!("the scene pack is unusable: {e}")))?;
    drop(pack_bytes);
    let description = pack.description.clone();
    let mut layout = description.for_preset(first_preset(&options));
    if options.fish > 0 {
        layout.fish = options.fish;
    }
    let scene = pack
        .into_scene_with(&layout)
        .map_err(|e| JsError::new(&format!("the scene pack cannot be laid out: {e}")))?;
    Ok((canvas, options, scene, description))
}

/// Starts the GPU renderer of this bundle (WebGPU or WebGL2) on `canvas` (a canvas
/// element or an `OffscreenCanvas`) with the host's `options` (preset, fish, software,
/// governor, rung, reducedMotion, still, cssWidth, cssHeight, dpr, thread, and for
/// telemetry release, session and nextSeq).
#[wasm_bindgen(js_name = startGpu)]
pub async fn start_gpu(
    canvas: JsValue,
    pack_bytes: Vec<u8>,
    options: JsValue,
) -> Result<Runtime, JsError> {
    let (canvas, options, scene, description) = prepare(canvas, pack_bytes, &options)?;
    let preset = first_preset(&options);
    #[cfg(feature = "webgpu")]
    let backend = gpu::start(canvas, &scene, preset).await;
    #[cfg(all(feature = "webgl", not(feature = "webgpu")))]
    let backend = webgl::WebGlBackend::new(canvas, &scene, preset)
        .map(|b| Box::new(b) as Box<dyn candlefish_renderer::Backend>);
    #[cfg(not(any(feature = "webgl", feature = "webgpu")))]
    let backend: Result<Box<dyn candlefish_renderer::Backend>, String> = {
        let _ = (canvas, preset);
        Err("this build has no GPU backend (build with --features webgpu or webgl)".to_owned())
    };
    let backend = backend.map_err(|e| JsError::new(&e))?;
    Runtime::new(scene, description, backend, &options).map_err(|e| JsError::new(&e))
}

/// Starts the runtime on the null backend (it plans every frame and draws nothing):
/// for the browser tests of the frame governor and for benchmarks of the CPU frame.
/// `canvas` only gives the size the frame is planned for.
#[wasm_bindgen(js_name = startNull)]
pub fn start_null(
    canvas: JsValue,
    pack_bytes: Vec<u8>,
    options: JsValue,
) -> Result<Runtime, JsError> {
    let (canvas, options, scene, description) = prepare(canvas, pack_bytes, &options)?;
    let (width, height) = canvas.size();
    let backend = candlefish_renderer::backend::null::NullBackend::new(width, height);
    Runtime::new(scene, description, Box::new(backend), &options).map_err(|e| JsError::new(&e))
}

/// Starts the Canvas-2D renderer on `canvas`; `options` as for [`start_gpu`].
#[cfg(not(feature = "webgpu"))]
#[wasm_bindgen(js_name = startCanvas)]
pub fn start_canvas(
    canvas: JsValue,
    pack_bytes: Vec<u8>,
    options: JsValue,
) -> Result<Runtime, JsError> {
    let (canvas, mut options, scene, description) = prepare(canvas, pack_bytes, &options)?;
    if options.rung.is_none() {
        options.rung = LADDER.iter().position(|r| r.preset == Preset::Canvas);
    }
    let backend = canvas2d::CanvasBackend::new(canvas, &scene).map_err(|e| JsError::new(&e))?;
    Runtime::new(scene, description, Box::new(backend), &options).map_err(|e| JsError::new(&e))
}

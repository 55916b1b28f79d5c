//! The Canvas-2D fallback: the same planner (culling, LOD choice) as the GPU path, its
//! plan turned into depth-sorted sprites and then into `drawImage` calls of a sprite
//! sheet baked from the scene's own meshes and atlas, lit and fogged as the GPU path
//! is ([`candlefish_renderer::backend::canvas`]). This file only uploads the sheet and
//! issues the calls with `CanvasRenderingContext2d`.

use candlefish_renderer::backend::canvas::sheet::SheetBaker;
use candlefish_renderer::backend::canvas::{
    SpriteDraw, SpriteSheet, plan_draws, plan_sprites, water_stops,
};
use candlefish_renderer::frame::lap;
use candlefish_renderer::frame::timings::{FrameRecord, Phase, RenderMode};
use candlefish_renderer::{Backend, BackendError, Camera, FrameContext, FramePlan, Scene};
use wasm_bindgen::{Clamped, JsCast, JsValue};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageBitmap, ImageData};

use super::canvas::{Canvas, describe};
use web_time::{Duration, Instant};

/// Stops of the water gradient (see [`water_stops`]).
const WATER_STOPS: usize = 9;
/// While the camera keeps turning, a new sheet is started at most this often.
const REBAKE_INTERVAL: Duration = Duration::from_millis(500);
/// Time a frame spends on baking the next sheet: pieces are baked until it is spent
/// (at least one a frame).
const BAKE_BUDGET: Duration = Duration::from_millis(2);

/// The sheet as something `drawImage` takes.
enum SheetImage {
    /// An `ImageBitmap` from an `OffscreenCanvas` (in a Worker, and in most browsers'
    /// main threads).
    Bitmap(ImageBitmap),
    /// A `<canvas>` element, where there is no `OffscreenCanvas`.
    Element(HtmlCanvasElement),
}

impl SheetImage {
    /// Puts `sheet`'s pixels into an image the canvas can draw from.
    fn upload(sheet: &SpriteSheet) -> Result<Self, String> {
        let data = ImageData::new_with_u8_clamped_array_and_sh(
            Clamped(&sheet.pixels),
            sheet.width,
            sheet.height,
        )
        .map_err(|e| format!("the sprite sheet cannot be made: {}", describe(&e)))?;
        match web_sys::OffscreenCanvas::new(sheet.width, sheet.height) {
            Ok(offscreen) => {
                let canvas = Canvas::Offscreen(offscreen.clone());
                context_2d(&canvas)?
                    .put_image_data(&data, 0.0, 0.0)
                    .map_err(|e| format!("the sprite sheet cannot be drawn: {}", describe(&e)))?;
                offscreen
                    .transfer_to_image_bitmap()
                    .map(Self::Bitmap)
                    .map_err(|e| format!("the sprite sheet cannot be kept: {}", describe(&e)))
            }
            // No OffscreenCanvas: the runtime runs on the main thread, with a document.
            Err(_) => {
                let element = web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.create_element("canvas").ok())
                    .and_then(|e| e.dyn_into::<HtmlCanvasElement>().ok())
                    .ok_or("neither OffscreenCanvas nor a document to draw the sprite sheet")?;
                element.set_width(sheet.width);
                element.set_height(sheet.height);
                let canvas = Canvas::Element(element.clone());
                context_2d(&canvas)?
                    .put_image_data(&data, 0.0, 0.0)
                    .map_err(|e| format!("the sprite sheet cannot be drawn: {}", describe(&e)))?;
                Ok(Self::Element(element))
            }
        }
    }

    fn draw(&self, ctx: &CanvasRenderingContext2d, d: &SpriteDraw) -> Result<(), JsValue> {
        let [sx, sy, sw, sh] = d.src.map(f64::from);
        let [dx, dy, dw, dh] = d.dst.map(f64::from);
        match self {
            Self::Bitmap(b) => ctx
                .draw_image_with_image_bitmap_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
                    b, sx, sy, sw, sh, dx, dy, dw, dh,
                ),
            Self::Element(c) => ctx
                .draw_image_with_html_canvas_element_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
                    c, sx, sy, sw, sh, dx, dy, dw, dh,
                ),
        }
    }
}

/// A canvas's 2D context. An `OffscreenCanvas` gives an
/// `OffscreenCanvasRenderingContext2D`, which has every method used here under the
/// same names; web-sys binds them structurally (by name), so the element's type serves
/// for both.
fn context_2d(canvas: &Canvas) -> Result<CanvasRenderingContext2d, String> {
    Ok(canvas
        .context("2d", &JsValue::UNDEFINED)?
        .unchecked_into::<CanvasRenderingContext2d>())
}

/// The baked sheet and its uploaded image.
struct Sheet {
    sheet: SpriteSheet,
    image: SheetImage,
    baked_at: Instant,
}

/// Canvas 2D drawing of the scene.
pub struct CanvasBackend {
    ctx: CanvasRenderingContext2d,
    canvas: Canvas,
    sprites: Vec<candlefish_renderer::backend::canvas::Sprite>,
    draws: Vec<SpriteDraw>,
    sheet: Option<Sheet>,
    /// The next sheet, being baked a piece per frame while the current one is drawn.
    baker: Option<SheetBaker>,
    water: Vec<(f32, String)>,
    /// The water gradient for the current canvas height (rebuilt only on resize).
    gradient: Option<(u32, web_sys::CanvasGradient)>,
}

impl CanvasBackend {
    /// Takes `canvas`'s 2D context. The sprite sheet is baked at the first frame,
    /// when the camera is known.
    pub fn new(canvas: Canvas, scene: &Scene) -> Result<Self, String> {
        let ctx = context_2d(&canvas)?;
        let water = water_stops(&scene.environment, WATER_STOPS)
            .into_iter()
            .map(|(t, [r, g, b])| (t, format!("rgb({r},{g},{b})")))
            .collect();
        Ok(Self {
            ctx,
            canvas,
            sprites: Vec::new(),
            draws: Vec::new(),
            sheet: None,
            baker: None,
            water,
            gradient: None,
        })
    }

    /// Bakes the sheet at once when there is none. When the camera has turned far
    /// enough to change the lighting (at most every [`REBAKE_INTERVAL`]) a new sheet is
    /// baked over the next frames, within [`BAKE_BUDGET`] each, and replaces the old
    /// one when done.
    fn prepare_sheet(&mut self, scene: &Scene, camera: &Camera) -> Result<(), BackendError> {
        let start = Instant::now();
        if self.sheet.is_none() {
            return self.install(SpriteSheet::bake(scene, camera));
        }
        if self.baker.is_none()
            && self
                .sheet
                .as_ref()
                .is_some_and(|s| s.baked_at.elapsed() >= REBAKE_INTERVAL && s.sheet.stale(camera))
        {
            self.baker = Some(SheetBaker::new(scene, camera));
        }
        let Some(baker) = &mut self.baker else {
            return Ok(());
        };
        while !baker.step(scene) && start.elapsed() < BAKE_BUDGET {}
        if baker.done()
            && let Some(baker) = self.baker.take()
        {
            return self.install(baker.finish());
        }
        Ok(())
    }

    /// Uploads `sheet` and draws with it from now on.
    fn install(&mut self, sheet: SpriteSheet) -> Result<(), BackendError> {
        let image = SheetImage::upload(&sheet).map_err(BackendError::Draw)?;
        self.sheet = Some(Sheet {
            sheet,
            image,
            baked_at: Instant::now(),
        });
        Ok(())
    }
}

impl Backend for CanvasBackend {
    fn mode(&self) -> RenderMode {
        RenderMode::Canvas
    }

    fn adapter(&self) -> &str {
        "canvas2d"
    }

    fn size(&self) -> (u32, u32) {
        self.canvas.size()
    }

    fn resize(&mut self, width: u32, height: u32) {
        self.canvas.set_size(width, height);
    }

    /// Baking the sheet and planning the draws count as the upload phase, drawing as
    /// the encode phase.
    fn execute(
        &mut self,
        plan: &FramePlan,
        frame: &FrameContext<'_>,
        record: &mut FrameRecord,
    ) -> Result<(), BackendError> {
        let (w, h) = self.size();
        let t = Instant::now();
        self.prepare_sheet(frame.scene, frame.camera)?;
        let Some(sheet) = &self.sheet else {
            return Ok(());
        };
        plan_sprites(
            plan,
            &frame.scene.meshes,
            frame.camera,
            &frame.scene.environment,
            (w, h),
            &mut self.sprites,
        );
        plan_draws(
            &self.sprites,
            &sheet.sheet,
            &frame.scene.environment,
            (w, h),
            frame.time,
            &mut self.draws,
        );
        let t = lap(t, record, Phase::Upload);
        if self
            .gradient
            .as_ref()
            .is_none_or(|(height, _)| *height != h)
        {
            let g = self.ctx.create_linear_gradient(0.0, 0.0, 0.0, f64::from(h));
            for (offset, colour) in &self.water {
                g.add_color_stop(*offset, colour).map_err(|_| {
                    BackendError::Draw("building the water gradient failed".to_owned())
                })?;
            }
            self.gradient = Some((h, g));
        }
        self.draw(f64::from(w), f64::from(h)).map_err(|e| {
            BackendError::Draw(format!("drawing on the 2D canvas failed: {}", describe(&e)))
        })?;
        lap(t, record, Phase::Encode);
        Ok(())
    }
}

impl CanvasBackend {
    fn draw(&self, w: f64, h: f64) -> Result<(), JsValue> {
        let ctx = &self.ctx;
        ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0)?;
        ctx.set_global_alpha(1.0);
        ctx.set_global_composite_operation("source-over")?;
        match &self.gradient {
            Some((_, gradient)) => ctx.set_fill_style_canvas_gradient(gradient),
            None => ctx.set_fill_style_str(self.water.last().map_or("#000", |(_, c)| c)),
        }
        ctx.fill_rect(0.0, 0.0, w, h);
        let Some(sheet) = &self.sheet else {
            return Ok(());
        };
        let mut additive = false;
        for d in &self.draws {
            if d.additive != additive {
                additive = d.additive;
                ctx.set_global_composite_operation(if additive {
                    "lighter"
                } else {
                    "source-over"
                })?;
            }
            ctx.set_global_alpha(f64::from(d.alpha));
            let [a, b, c, e, f, g] = d.transform.map(f64::from);
            ctx.set_transform(a, b, c, e, f, g)?;
            sheet.image.draw(ctx, d)?;
        }
        ctx.set_global_composite_operation("source-over")?;
        ctx.set_global_alpha(1.0);
        ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0)?;
        Ok(())
    }
}

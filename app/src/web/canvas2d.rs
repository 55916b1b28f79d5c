//! The Canvas-2D fallback: the same planner (culling, LOD choice) as the GPU path,
//! its plan turned into depth-sorted sprites ([`candlefish_renderer::backend::canvas`]) and
//! drawn with `CanvasRenderingContext2d`, faded into the water by fog.

use candlefish_renderer::backend::canvas::{Sprite, plan_sprites};
use candlefish_renderer::frame::lap;
use candlefish_renderer::frame::timings::{FrameRecord, Phase, RenderMode};
use candlefish_renderer::scene::mesh::MeshKind;
use candlefish_renderer::{Backend, BackendError, FrameContext, FramePlan, Scene};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::CanvasRenderingContext2d;

use super::canvas::Canvas;
use web_time::Instant;

/// Colours of a material, as CSS strings.
struct MaterialColours {
    body: String,
    back: String,
}

/// Canvas 2D drawing of the scene.
pub struct CanvasBackend {
    ctx: CanvasRenderingContext2d,
    canvas: Canvas,
    sprites: Vec<Sprite>,
    colours: Vec<MaterialColours>,
    water: [String; 2],
    /// The water gradient for the current canvas height (rebuilt only on resize).
    gradient: Option<(u32, web_sys::CanvasGradient)>,
}

fn css(rgb: [f32; 3], scale: f32) -> String {
    let enc = |c: f32| ((c * scale).clamp(0.0, 1.0).powf(1.0 / 2.2) * 255.0).round() as u8;
    format!("rgb({},{},{})", enc(rgb[0]), enc(rgb[1]), enc(rgb[2]))
}

/// Mean linear colour of a material's atlas rectangle (level 0).
fn mean_colour(scene: &Scene, material: usize) -> [f32; 3] {
    let Some(m) = scene.materials.get(material) else {
        return [0.5; 3];
    };
    let Some(page) = scene
        .atlas
        .get(m.atlas_page as usize)
        .and_then(|p| p.mips.first())
    else {
        return [0.5; 3];
    };
    let (w, h) = (page.width as f32, page.height as f32);
    let [u0, v0, u1, v1] = m.atlas_rect;
    let (x0, x1) = ((u0 * w) as u32, ((u1 * w) as u32).min(page.width));
    let (y0, y1) = ((v0 * h) as u32, ((v1 * h) as u32).min(page.height));
    let mut sum = [0.0f64; 3];
    let mut n = 0u32;
    // Every fourth texel each way is plenty for a mean.
    for y in (y0..y1).step_by(4) {
        for x in (x0..x1).step_by(4) {
            let p = page.get(x, y);
            for c in 0..3 {
                sum[c] += f64::from((f32::from(p[c]) / 255.0).powf(2.2));
            }
            n += 1;
        }
    }
    if n == 0 {
        return [0.5; 3];
    }
    let tint = m.tint;
    [0, 1, 2].map(|c| (sum[c] / f64::from(n)) as f32 * tint[c])
}

impl CanvasBackend {
    /// Takes `canvas`'s 2D context.
    pub fn new(canvas: Canvas, scene: &Scene) -> Result<Self, String> {
        let ctx = canvas.context("2d", &JsValue::UNDEFINED)?;
        // An OffscreenCanvas gives an OffscreenCanvasRenderingContext2D, which has every
        // method used here under the same names; web-sys binds them structurally (by
        // name), so the element's type serves for both.
        let ctx = ctx.unchecked_into::<CanvasRenderingContext2d>();
        let colours = (0..scene.materials.len())
            .map(|i| {
                let c = mean_colour(scene, i);
                MaterialColours {
                    body: css(c, 2.2),
                    back: css(c, 1.1),
                }
            })
            .collect();
        let fog = scene.environment.fog_color;
        // Matches `water()` in shaders/scene.wgsl: 0.6 at the bottom, 2.2 at the top.
        let water = [css(fog, 2.2), css(fog, 0.6)];
        Ok(Self {
            ctx,
            canvas,
            sprites: Vec::new(),
            colours,
            water,
            gradient: None,
        })
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

    /// Sprite planning counts as the upload phase, drawing as the encode phase.
    fn execute(
        &mut self,
        plan: &FramePlan,
        frame: &FrameContext<'_>,
        record: &mut FrameRecord,
    ) -> Result<(), BackendError> {
        let (w, h) = self.size();
        let t = Instant::now();
        plan_sprites(
            plan,
            &frame.scene.meshes,
            frame.camera,
            &frame.scene.environment,
            (w, h),
            &mut self.sprites,
        );
        let t = lap(t, record, Phase::Upload);
        if self
            .gradient
            .as_ref()
            .is_none_or(|(height, _)| *height != h)
        {
            let g = self.ctx.create_linear_gradient(0.0, 0.0, 0.0, f64::from(h));
            g.add_color_stop(0.0, &self.water[0])
                .and_then(|()| g.add_color_stop(1.0, &self.water[1]))
                .map_err(|_| BackendError::Draw("building the water gradient failed".to_owned()))?;
            self.gradient = Some((h, g));
        }
        self.draw(frame.time, f64::from(w), f64::from(h))
            .map_err(|_| BackendError::Draw("drawing on the 2D canvas failed".to_owned()))?;
        lap(t, record, Phase::Encode);
        Ok(())
    }
}

impl CanvasBackend {
    fn draw(&self, time: f32, w: f64, h: f64) -> Result<(), wasm_bindgen::JsValue> {
        let ctx = &self.ctx;
        ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0)?;
        ctx.set_global_alpha(1.0);
        match &self.gradient {
            Some((_, gradient)) => ctx.set_fill_style_canvas_gradient(gradient),
            None => ctx.set_fill_style_str(&self.water[1]),
        }
        ctx.fill_rect(0.0, 0.0, w, h);
        for s in &self.sprites {
            let ppu = f64::from(s.pixels_per_unit);
            // Skip what would be smaller than a tenth of a pixel, or past the edges.
            if ppu < 0.05 || s.x < -ppu as f32 * 2.0 - 50.0 || s.x > w as f32 + 50.0 {
                continue;
            }
            ctx.set_global_alpha(f64::from(s.opacity));
            let colours = self.colours.get(usize::from(s.material));
            let body = colours.map_or("#889", |c| c.body.as_str());
            let back = colours.map_or("#556", |c| c.back.as_str());
            match s.kind {
                MeshKind::Fish => self.draw_fish(s, body, back, time)?,
                MeshKind::Rock => {
                    ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0)?;
                    ctx.set_fill_style_str(body);
                    ctx.begin_path();
                    ctx.ellipse(
                        f64::from(s.x),
                        f64::from(s.y) - 0.25 * ppu,
                        0.55 * ppu,
                        0.32 * ppu,
                        0.0,
                        0.0,
                        std::f64::consts::TAU,
                    )?;
                    ctx.fill();
                }
                MeshKind::Kelp => {
                    ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0)?;
                    let sway = f64::from((time * 0.7 + s.phase * std::f32::consts::TAU).sin())
                        * 0.14
                        * ppu;
                    let (x, y) = (f64::from(s.x), f64::from(s.y));
                    ctx.set_stroke_style_str(body);
                    ctx.set_line_width((0.09 * ppu).max(1.0));
                    ctx.begin_path();
                    ctx.move_to(x, y);
                    ctx.quadratic_curve_to(x - sway * 0.3, y - 0.5 * ppu, x + sway, y - ppu);
                    ctx.stroke();
                }
                MeshKind::Snow => {
                    ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0)?;
                    ctx.set_fill_style_str("#cfe8f0");
                    let size = ppu.clamp(1.0, 4.0);
                    ctx.fill_rect(
                        f64::from(s.x) - size / 2.0,
                        f64::from(s.y) - size / 2.0,
                        size,
                        size,
                    );
                }
            }
        }
        ctx.set_global_alpha(1.0);
        ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0)?;
        Ok(())
    }

    /// A fish seen from the side: body, forked tail, darker back and (at the finest
    /// tiers, when large enough) glowing photophores.
    fn draw_fish(
        &self,
        s: &Sprite,
        body: &str,
        back: &str,
        time: f32,
    ) -> Result<(), wasm_bindgen::JsValue> {
        let ctx = &self.ctx;
        let ppu = f64::from(s.pixels_per_unit);
        let len = 0.5 * ppu * f64::from(s.side.max(0.3));
        let height = 0.11 * ppu;
        let (sin, cos) = f64::from(s.angle).sin_cos();
        // Mirror swimmers heading left so their belly stays down.
        if cos >= 0.0 {
            ctx.set_transform(cos, sin, -sin, cos, f64::from(s.x), f64::from(s.y))?;
        } else {
            ctx.set_transform(cos, sin, sin, -cos, f64::from(s.x), f64::from(s.y))?;
        }
        ctx.set_fill_style_str(body);
        ctx.begin_path();
        ctx.ellipse(0.0, 0.0, len, height, 0.0, 0.0, std::f64::consts::TAU)?;
        ctx.fill();
        if s.tier >= 2 || len < 3.0 {
            return Ok(());
        }
        // Tail, beating.
        let beat = f64::from((time * 9.0 + s.phase * std::f32::consts::TAU).sin()) * 0.15 * height;
        ctx.begin_path();
        ctx.move_to(-0.85 * len, 0.0);
        ctx.line_to(-1.25 * len, -1.2 * height + beat);
        ctx.line_to(-1.1 * len, beat);
        ctx.line_to(-1.25 * len, 1.2 * height + beat);
        ctx.close_path();
        ctx.fill();
        ctx.set_fill_style_str(back);
        ctx.begin_path();
        ctx.ellipse(
            0.05 * len,
            -0.35 * height,
            0.8 * len,
            0.45 * height,
            0.0,
            std::f64::consts::PI,
            std::f64::consts::TAU,
        )?;
        ctx.fill();
        if s.tier == 0 && len > 12.0 {
            ctx.set_fill_style_str("#5fe0ff");
            let r = (0.08 * height).max(0.8);
            for k in 0..6 {
                let x = len * (0.45 - 0.15 * f64::from(k));
                ctx.fill_rect(x - r, 0.5 * height - r, 2.0 * r, 2.0 * r);
            }
        }
        Ok(())
    }
}

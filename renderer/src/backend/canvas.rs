//! The Canvas-2D fallback's frame: the same [`FramePlan`] (same culling, same LOD
//! choice) turned into depth-sorted screen-space sprites with a fog factor
//! ([`plan_sprites`]), then into `drawImage` calls of the baked [`SpriteSheet`]
//! ([`plan_draws`]): the meshes and atlas of the GPU path, lit the same way, fogged
//! into the same water gradient. Pure data, so it is tested natively; the browser only
//! issues the calls with `CanvasRenderingContext2d`.

pub mod sheet;

use std::f32::consts::TAU;

use glam::{Mat4, Quat, Vec3, Vec4};

pub use sheet::SpriteSheet;
use sheet::{BakedHeading, SheetRect, srgb_encode};

use crate::frame::plan::FramePlan;
use crate::scene::Environment;
use crate::scene::camera::Camera;
use crate::scene::mesh::{MeshKind, MeshLibrary};

/// One sprite to draw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sprite {
    /// Centre, pixels from the left.
    pub x: f32,
    /// Centre, pixels from the top.
    pub y: f32,
    /// View depth (distance along the view direction); larger is farther.
    pub depth: f32,
    /// Size in pixels of one object-space unit at this depth times the instance scale.
    pub pixels_per_unit: f32,
    /// Screen-space angle of the object's forward (+z) axis, radians, clockwise from +x
    /// (canvas convention, y down).
    pub angle: f32,
    /// How much of the forward axis is seen (1 broadside, 0 head-on).
    pub side: f32,
    /// View yaw of the forward axis: its direction in the view's horizontal plane,
    /// radians (0 towards the viewer, +π/2 to the right, ±π away).
    pub yaw: f32,
    /// World height of the object's origin (the depth light depends on it).
    pub height: f32,
    /// Opacity after fog, 0..1.
    pub opacity: f32,
    /// What to draw.
    pub kind: MeshKind,
    /// Material id.
    pub material: u16,
    /// LOD tier (the sprite's level of detail).
    pub tier: u8,
    /// Animation phase in 0..1.
    pub phase: f32,
}

/// Builds sprites for `plan`, back to front, into `out` (cleared first). Sprites whose
/// centre falls behind the eye are skipped.
pub fn plan_sprites(
    plan: &FramePlan,
    meshes: &MeshLibrary,
    camera: &Camera,
    environment: &Environment,
    viewport: (u32, u32),
    out: &mut Vec<Sprite>,
) {
    out.clear();
    let (w, h) = (viewport.0.max(1) as f32, viewport.1.max(1) as f32);
    let clip_from_world: Mat4 = camera.clip_from_world();
    let view_from_world = camera.view_from_world();
    let ppu = camera.pixels_per_unit_at_unit_distance(h);
    for batch in &plan.batches {
        let Some(mesh) = meshes.meshes.get(usize::from(batch.mesh)) else {
            continue;
        };
        let start = batch.first_instance as usize;
        let end = (start + batch.instance_count as usize).min(plan.instances.len());
        for d in &plan.instances[start..end] {
            let p = Vec3::from_array(d.position);
            let clip = clip_from_world * p.extend(1.0);
            if clip.w <= 1e-4 {
                continue;
            }
            let ndc = clip.truncate() / clip.w;
            let x = (ndc.x * 0.5 + 0.5) * w;
            let y = (0.5 - ndc.y * 0.5) * h;
            let depth = clip.w;
            // Screen direction of the forward axis: project a point a little ahead.
            let q = Quat::from_xyzw(
                f32::from(d.orientation[0]),
                f32::from(d.orientation[1]),
                f32::from(d.orientation[2]),
                f32::from(d.orientation[3]),
            )
            .normalize();
            let forward = q * Vec3::Z;
            let ahead: Vec4 = clip_from_world * (p + forward * 0.1).extend(1.0);
            let view_forward = (view_from_world * forward.extend(0.0)).truncate();
            let yaw = view_forward.x.atan2(view_forward.z);
            let (mut angle, mut side) = (0.0, 1.0);
            if ahead.w > 1e-4 {
                let a = ahead.truncate() / ahead.w;
                let (dx, dy) = ((a.x - ndc.x) * w, (ndc.y - a.y) * h);
                angle = dy.atan2(dx);
                side = view_forward.truncate().length().clamp(0.0, 1.0);
            }
            let distance = (p - camera.eye).length();
            out.push(Sprite {
                x,
                y,
                depth,
                pixels_per_unit: d.scale * ppu / depth,
                angle,
                side,
                yaw,
                height: p.y,
                opacity: (-environment.fog_density * distance).exp().clamp(0.0, 1.0),
                kind: mesh.kind,
                material: d.material(),
                tier: d.tier(),
                phase: d.phase,
            });
        }
    }
    // Painter's algorithm: far first.
    out.sort_unstable_by(|a, b| b.depth.total_cmp(&a.depth));
}

/// One `drawImage` of a rectangle of the [`SpriteSheet`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpriteDraw {
    /// Source rectangle in the sheet: x, y, width, height (pixels).
    pub src: [f32; 4],
    /// Destination rectangle in the transformed space: x, y, width, height (the
    /// sheet rectangle's own pixels, so that the transform says everything).
    pub dst: [f32; 4],
    /// `setTransform(a, b, c, d, e, f)`: x' = a·x + c·y + e, y' = b·x + d·y + f.
    pub transform: [f32; 6],
    /// `globalAlpha`.
    pub alpha: f32,
    /// Added with `globalCompositeOperation = "lighter"` (glow) rather than drawn over.
    pub additive: bool,
}

/// The narrowest a fish seen head-on is drawn, as a fraction of its broadside length
/// (the body is about a tenth as wide as it is long; the fins add some).
const MIN_SIDE: f32 = 0.12;
/// A fish at least this long on screen (pixels), and not seen broadside, bends in the
/// travelling wave of the vertex shader, in four pieces (its tail moves some 7 pixels;
/// a smaller fish's wave is not worth four draws).
const WAVE_MIN_PX: f32 = 64.0;
/// Kelp at least this tall on screen (pixels) sways in three horizontal strips.
const SWAY_MIN_PX: f32 = 16.0;

/// `m · n` for affine 2D transforms in canvas order (a, b, c, d, e, f).
fn compose(m: [f32; 6], n: [f32; 6]) -> [f32; 6] {
    [
        m[0] * n[0] + m[2] * n[1],
        m[1] * n[0] + m[3] * n[1],
        m[0] * n[2] + m[2] * n[3],
        m[1] * n[2] + m[3] * n[3],
        m[0] * n[4] + m[2] * n[5] + m[4],
        m[1] * n[4] + m[3] * n[5] + m[5],
    ]
}

/// Colour of the water at screen row `y` of a viewport `height` pixels high, linear:
/// `water()` in `shaders/scene.wgsl` (must be kept in sync with it).
pub fn water(environment: &Environment, y: f32, height: f32) -> Vec3 {
    let up = 1.0 - y / height.max(1.0);
    Vec3::from_array(environment.fog_color) * (0.6 + 1.6 * up * up)
}

/// The water gradient as `stops` canvas colour stops, top to bottom: (offset, sRGB
/// bytes). A canvas gradient interpolates encoded values linearly between stops, the
/// shader's gradient is quadratic in linear light: nine stops keep the two within a
/// unit of 8-bit colour.
pub fn water_stops(environment: &Environment, stops: usize) -> Vec<(f32, [u8; 3])> {
    let n = stops.max(2);
    (0..n)
        .map(|i| {
            let t = i as f32 / (n - 1) as f32;
            let c = water(environment, t, 1.0);
            (
                t,
                [c.x, c.y, c.z].map(|v| (srgb_encode(v) * 255.0).round() as u8),
            )
        })
        .collect()
}

/// The `globalAlpha` that blends a sprite of mean linear colour `mean` over `water` as
/// the shader's `mix(water, colour, fog)` does in linear light: the canvas blends
/// sRGB-encoded values, which at the same alpha would come out darker.
pub fn fog_alpha(fog: f32, water: Vec3, mean: Vec3) -> f32 {
    let fog = fog.clamp(0.0, 1.0);
    let enc = |v: Vec3| Vec3::new(srgb_encode(v.x), srgb_encode(v.y), srgb_encode(v.z));
    let (w, c) = (enc(water), enc(mean));
    let target = enc(water + (mean - water) * fog);
    let span = (c - w).element_sum();
    if span.abs() < 0.02 {
        return fog;
    }
    ((target - w).element_sum() / span).clamp(0.0, 1.0)
}

/// A piece of a sprite drawn under its own warp: the rectangle's pixels
/// `[x0, y0, x1, y1]` and the affine map applied to them before the sprite's
/// transform.
#[derive(Clone, Copy, Debug)]
struct Piece {
    area: [f32; 4],
    warp: [f32; 6],
}

const IDENTITY: [f32; 6] = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// Kelp swaying (`vs_main`: x += 0.14·h²·sin(0.7 t + φ), z += 0.08·h²·cos(0.55 t + φ),
/// h the height in the frond) as three sheared horizontal strips (h² within half a
/// pixel for the tallest fronds), their borders on whole
/// screen rows so that no seam shows; one sheared strip when small.
fn sway_pieces(
    s: &Sprite,
    heading: &BakedHeading,
    rect: &SheetRect,
    k: f32,
    time: f32,
    pieces: &mut [Piece; 4],
) -> usize {
    let phase = s.phase * TAU;
    let (sin_yaw, cos_yaw) = s.yaw.sin_cos();
    let rise = heading.rise.max(0.1) * rect.pixels_per_unit;
    let oy = rect.origin[1];
    // Sideways displacement on screen of height h, in the rectangle's pixels.
    let offset = |h: f32| {
        let h = h.max(0.0);
        (0.14 * (time * 0.7 + phase).sin() * cos_yaw + 0.08 * (time * 0.55 + phase).cos() * sin_yaw)
            * h
            * h
            * rect.pixels_per_unit
    };
    let height = rect.height as f32;
    let strips = if oy * k >= SWAY_MIN_PX { 3 } else { 1 };
    let mut bottom = height;
    for (i, piece) in pieces.iter_mut().enumerate().take(strips) {
        let top = if i + 1 == strips {
            0.0
        } else {
            let y = oy - (i + 1) as f32 / strips as f32 * oy;
            // On a whole screen row (no rotation: screen y = s.y + k·(y − oy)).
            (oy + ((s.y + k * (y - oy)).round() - s.y) / k).clamp(0.0, bottom)
        };
        let (o_top, o_bottom) = (offset((oy - top) / rise), offset((oy - bottom) / rise));
        let shear = if bottom - top > 1e-3 {
            (o_top - o_bottom) / (top - bottom)
        } else {
            0.0
        };
        *piece = Piece {
            area: [0.0, top, rect.width as f32, bottom],
            warp: [1.0, 0.0, shear, 1.0, o_bottom - shear * bottom, 0.0],
        };
        bottom = top;
    }
    strips
}

/// A fish's travelling wave (`vs_main`: x += 0.11·w²·sin(9 t + φ − 7 z), w = 0.45 − z)
/// as four vertical pieces stretched along the body, for a large fish seen obliquely
/// (broadside, the bend is towards the viewer and shows nothing).
fn wave_pieces(
    s: &Sprite,
    heading: &BakedHeading,
    rect: &SheetRect,
    time: f32,
    pieces: &mut [Piece; 4],
) -> usize {
    let ppu = rect.pixels_per_unit;
    let ox = rect.origin[0];
    let dir = if heading.angle == 0.0 { 1.0 } else { -1.0 };
    // The lateral bend seen along the body's screen axis, in the rectangle's pixels
    // (the sprite is narrowed by `side` afterwards).
    let amplitude = 0.11 * s.yaw.cos() * ppu / s.side.max(MIN_SIDE);
    let wave = time * 9.0 + s.phase * TAU;
    let offset = |x: f32| {
        let z = (x - ox) * dir / ppu;
        let w = (0.45 - z).clamp(0.0, 1.0);
        amplitude * w * w * (wave - z * 7.0).sin()
    };
    let width = rect.width as f32;
    let mut edges = [0.0, ox - 0.3 * dir * ppu, ox, ox + 0.25 * dir * ppu, width];
    edges[1..4].sort_by(f32::total_cmp);
    for (i, piece) in pieces.iter_mut().enumerate() {
        let (x0, x1) = (edges[i].clamp(0.0, width), edges[i + 1].clamp(0.0, width));
        let (o0, o1) = (offset(x0), offset(x1));
        let stretch = if x1 - x0 > 1e-3 {
            ((o1 - o0) / (x1 - x0)).max(-0.7)
        } else {
            0.0
        };
        *piece = Piece {
            area: [x0, 0.0, x1, rect.height as f32],
            warp: [1.0 + stretch, 0.0, 0.0, 1.0, o0 - stretch * x0, 0.0],
        };
    }
    4
}

/// Pushes one draw per piece of `rect` under `transform`.
fn push_pieces(
    out: &mut Vec<SpriteDraw>,
    rect: &SheetRect,
    transform: [f32; 6],
    pieces: &[Piece],
    alpha: f32,
    additive: bool,
) {
    for p in pieces {
        let [x0, y0, x1, y1] = p.area;
        if x1 - x0 <= 0.0 || y1 - y0 <= 0.0 {
            continue;
        }
        out.push(SpriteDraw {
            src: [rect.x as f32 + x0, rect.y as f32 + y0, x1 - x0, y1 - y0],
            dst: [x0, y0, x1 - x0, y1 - y0],
            transform: compose(transform, p.warp),
            alpha,
            additive,
        });
    }
}

/// Turns sorted sprites into `drawImage` calls of `sheet`, back to front, into `out`
/// (cleared first): each sprite's baked image at the mip level nearest its size, turned
/// with a fish, fogged into the water behind it, with its glow added after it. A
/// sprite of a (mesh, material) pair the sheet has no image of is left out.
pub fn plan_draws(
    sprites: &[Sprite],
    sheet: &SpriteSheet,
    environment: &Environment,
    viewport: (u32, u32),
    time: f32,
    out: &mut Vec<SpriteDraw>,
) {
    out.clear();
    let (w, h) = (viewport.0.max(1) as f32, viewport.1.max(1) as f32);
    let mut pieces = [Piece {
        area: [0.0; 4],
        warp: IDENTITY,
    }; 4];
    for s in sprites {
        let Some((heading, baked)) = sheet.find(s.kind, s.material, s.yaw, s.height) else {
            continue;
        };
        let spu = s.pixels_per_unit;
        if !(spu > 1e-3 && s.opacity > 1e-3) {
            continue;
        }
        let level = baked.level(spu);
        let Some(rect) = baked.colour.get(level) else {
            continue;
        };
        let k = spu / rect.pixels_per_unit;
        let fish = s.kind == MeshKind::Fish;
        let (turn, kx) = if fish {
            (s.angle - heading.angle, k * s.side.max(MIN_SIDE))
        } else {
            (0.0, k)
        };
        let reach = rect.width.max(rect.height) as f32 * k;
        if s.x + reach < 0.0 || s.x - reach > w || s.y + reach < 0.0 || s.y - reach > h {
            continue;
        }
        let (sin, cos) = turn.sin_cos();
        let [ox, oy] = rect.origin;
        let (a, b, c, d) = (cos * kx, sin * kx, -sin * k, cos * k);
        let transform = [a, b, c, d, s.x - (a * ox + c * oy), s.y - (b * ox + d * oy)];
        let count = match s.kind {
            MeshKind::Kelp => sway_pieces(s, heading, rect, k, time, &mut pieces),
            MeshKind::Fish
                if rect.width as f32 * kx >= WAVE_MIN_PX && s.side < 0.97 && s.side > 0.3 =>
            {
                wave_pieces(s, heading, rect, time, &mut pieces)
            }
            _ => {
                pieces[0] = Piece {
                    area: [0.0, 0.0, rect.width as f32, rect.height as f32],
                    warp: IDENTITY,
                };
                1
            }
        };
        let alpha = fog_alpha(s.opacity, water(environment, s.y, h), baked.mean);
        push_pieces(out, rect, transform, &pieces[..count], alpha, false);
        if let Some(glow) = baked.glow.get(level) {
            // The glow layer holds what full glow adds to the body (sRGB increments);
            // the pulse and the glow fog scale it. Bioluminescence carries further:
            // glow fog is exp(−density·distance/2).
            let pulse = 0.75 + 0.25 * (time * 2.0 + s.phase * TAU).sin();
            let alpha = (pulse * s.opacity.sqrt()).clamp(0.0, 1.0);
            push_pieces(out, glow, transform, &pieces[..count], alpha, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::plan::{DrawBatch, InstanceData};
    use crate::scene::mesh::{LodTier, Mesh};

    fn library() -> MeshLibrary {
        MeshLibrary {
            meshes: vec![Mesh {
                name: "fish".into(),
                kind: MeshKind::Fish,
                bounds_min: Vec3::splat(-0.5),
                bounds_max: Vec3::splat(0.5),
                radius: 0.5,
                first_vertex: 0,
                vertex_count: 3,
                tiers: vec![LodTier {
                    first_index: 0,
                    index_count: 3,
                    error: 0.0,
                }],
            }],
            ..MeshLibrary::default()
        }
    }

    fn camera() -> Camera {
        Camera {
            eye: Vec3::new(0.0, 0.0, 10.0),
            target: Vec3::ZERO,
            up: Vec3::Y,
            fov_y: 1.0,
            aspect: 2.0,
            near: 0.1,
            far: 100.0,
        }
    }

    fn plan(positions: &[[f32; 3]], yaw: f32) -> FramePlan {
        let instances: Vec<InstanceData> = positions
            .iter()
            .enumerate()
            .map(|(i, &p)| InstanceData::new(p, 1.0, Quat::from_rotation_y(yaw), 0.0, i as u16, 0))
            .collect();
        FramePlan {
            batches: vec![DrawBatch {
                mesh: 0,
                tier: 0,
                first_instance: 0,
                instance_count: instances.len() as u32,
            }],
            total_instances: instances.len() as u32,
            triangles: 0,
            instances,
        }
    }

    #[test]
    fn sprites_are_sorted_back_to_front_and_fogged() {
        let mut out = Vec::new();
        let p = plan(&[[0.0, 0.0, 5.0], [0.0, 0.0, -20.0], [0.0, 0.0, 0.0]], 0.0);
        plan_sprites(
            &p,
            &library(),
            &camera(),
            &Environment::default(),
            (200, 100),
            &mut out,
        );
        let materials: Vec<u16> = out.iter().map(|s| s.material).collect();
        assert_eq!(materials, vec![1, 2, 0]);
        assert!(out[0].opacity < out[2].opacity);
        assert!(out[0].pixels_per_unit < out[2].pixels_per_unit);
        // The centre of the view lands in the middle of the viewport.
        assert!((out[1].x - 100.0).abs() < 1e-3 && (out[1].y - 50.0).abs() < 1e-3);
    }

    #[test]
    fn heading_is_projected_to_the_screen() {
        let mut out = Vec::new();
        // Yaw +90°: forward (+z) turns to +x, i.e. to the right on screen.
        let p = plan(&[[0.0, 0.0, 0.0]], std::f32::consts::FRAC_PI_2);
        plan_sprites(
            &p,
            &library(),
            &camera(),
            &Environment::default(),
            (200, 100),
            &mut out,
        );
        assert!(out[0].angle.abs() < 1e-3, "angle {}", out[0].angle);
        assert!(out[0].side > 0.99);
        // Yaw 0: swimming at the camera, seen head-on.
        let p = plan(&[[0.0, 0.0, 0.0]], 0.0);
        plan_sprites(
            &p,
            &library(),
            &camera(),
            &Environment::default(),
            (200, 100),
            &mut out,
        );
        assert!(out[0].side < 0.01);
    }

    #[test]
    fn behind_the_eye_is_skipped() {
        let mut out = Vec::new();
        let p = plan(&[[0.0, 0.0, 20.0]], 0.0);
        plan_sprites(
            &p,
            &library(),
            &camera(),
            &Environment::default(),
            (200, 100),
            &mut out,
        );
        assert!(out.is_empty());
    }

    fn apply(t: [f32; 6], x: f32, y: f32) -> (f32, f32) {
        (t[0] * x + t[2] * y + t[4], t[1] * x + t[3] * y + t[5])
    }

    fn standard() -> (crate::Scene, SpriteSheet) {
        let scene = crate::assets::standard::standard_scene(&crate::SceneDescription::for_preset(
            crate::Preset::Canvas,
        ))
        .expect("standard scene");
        let sheet = SpriteSheet::bake(&scene, &crate::OrbitCamera::default().camera(2.0));
        (scene, sheet)
    }

    fn sprite(scene: &crate::Scene, kind: MeshKind) -> Sprite {
        let mesh = scene.meshes.find_kind(kind).expect("mesh");
        let i = scene
            .instances
            .mesh
            .iter()
            .position(|&m| m == mesh)
            .expect("instance");
        Sprite {
            x: 300.0,
            y: 200.0,
            depth: 10.0,
            pixels_per_unit: 40.0,
            angle: 0.0,
            side: 1.0,
            yaw: std::f32::consts::FRAC_PI_2,
            height: scene.instances.y[i],
            opacity: 1.0,
            kind,
            material: scene.instances.material[i],
            tier: 0,
            phase: 0.3,
        }
    }

    #[test]
    fn fish_are_placed_on_their_origin_facing_their_heading_with_glow_after() {
        let (scene, sheet) = standard();
        let env = scene.environment;
        let mut out = Vec::new();
        for (angle, yaw) in [(0.1f32, 1.4f32), (3.0, -1.5)] {
            let s = Sprite {
                angle,
                yaw,
                ..sprite(&scene, MeshKind::Fish)
            };
            plan_draws(&[s], &sheet, &env, (640, 400), 1.0, &mut out);
            assert_eq!(out.len(), 2, "body and glow: {out:?}");
            assert!(!out[0].additive && out[1].additive);
            assert!((out[0].alpha - 1.0).abs() < 1e-6, "unfogged is opaque");
            let (heading, baked) = sheet
                .find(MeshKind::Fish, s.material, yaw, s.height)
                .expect("baked");
            let rect = baked.colour[baked.level(s.pixels_per_unit)];
            let [ox, oy] = rect.origin;
            let (x, y) = apply(out[0].transform, ox, oy);
            assert!((x - s.x).abs() < 1e-3 && (y - s.y).abs() < 1e-3, "{x},{y}");
            // The head is 0.4 units ahead of the origin: on screen, along `angle`.
            let ahead = 0.4 * rect.pixels_per_unit * heading.angle.cos();
            let (hx, hy) = apply(out[0].transform, ox + ahead, oy);
            let along = (hx - s.x) * angle.cos() + (hy - s.y) * angle.sin();
            assert!((along - 0.4 * s.pixels_per_unit).abs() < 0.5, "{along}");
            assert_eq!(out[0].transform, out[1].transform);
        }
        // A material the sheet has no image of draws nothing.
        let s = Sprite {
            material: 999,
            ..sprite(&scene, MeshKind::Fish)
        };
        plan_draws(&[s], &sheet, &env, (640, 400), 1.0, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn kelp_sways_in_strips_that_meet_on_whole_rows() {
        let (scene, sheet) = standard();
        let mut out = Vec::new();
        let s = Sprite {
            pixels_per_unit: 120.0,
            yaw: 0.4,
            ..sprite(&scene, MeshKind::Kelp)
        };
        plan_draws(&[s], &sheet, &scene.environment, (640, 400), 2.7, &mut out);
        assert_eq!(out.len(), 3, "{out:?}");
        for pair in out.windows(2) {
            let (lower, upper) = (pair[0], pair[1]);
            let seam = lower.dst[1];
            assert!((upper.dst[1] + upper.dst[3] - seam).abs() < 1e-3);
            for x in [0.0, lower.dst[2]] {
                let (a, b) = (
                    apply(lower.transform, x, seam),
                    apply(upper.transform, x, seam),
                );
                assert!(
                    (a.0 - b.0).abs() < 1e-2 && (a.1 - b.1).abs() < 1e-2,
                    "{a:?} {b:?}"
                );
                assert!((a.1 - a.1.round()).abs() < 1e-2, "seam off a row: {}", a.1);
            }
        }
        // The top sways, the root does not.
        let root = out[0].dst[1] + out[0].dst[3];
        let top = out[2].dst[1];
        let still = apply(out[0].transform, 0.0, root).0 - apply(IDENTITY, 0.0, 0.0).0;
        let swayed = apply(out[2].transform, 0.0, top).0;
        let (_, baked) = sheet
            .find(MeshKind::Kelp, s.material, s.yaw, s.height)
            .expect("kelp");
        let k = s.pixels_per_unit / baked.colour[0].pixels_per_unit;
        assert!((still - (s.x - baked.colour[0].origin[0] * k)).abs() < 1e-2);
        assert!(
            (swayed - still).abs() > 1.0,
            "the top did not move: {swayed} {still}"
        );
    }

    #[test]
    fn large_oblique_fish_bend_without_gaps() {
        let (scene, sheet) = standard();
        let mut out = Vec::new();
        let s = Sprite {
            side: 0.6,
            yaw: 0.64,
            pixels_per_unit: 120.0,
            ..sprite(&scene, MeshKind::Fish)
        };
        plan_draws(&[s], &sheet, &scene.environment, (640, 400), 0.4, &mut out);
        assert_eq!(out.len(), 8, "four pieces, body and glow");
        for pair in out[..4].windows(2) {
            let x = pair[0].dst[0] + pair[0].dst[2];
            assert!((pair[1].dst[0] - x).abs() < 1e-3);
            let (a, b) = (
                apply(pair[0].transform, x, 3.0),
                apply(pair[1].transform, x, 3.0),
            );
            assert!(
                (a.0 - b.0).abs() < 1e-2 && (a.1 - b.1).abs() < 1e-2,
                "{a:?} {b:?}"
            );
        }
    }

    #[test]
    fn fog_blends_as_linear_light_does() {
        let water = Vec3::new(0.004, 0.018, 0.04);
        let fish = Vec3::new(0.2, 0.25, 0.3);
        assert_eq!(fog_alpha(1.0, water, fish), 1.0);
        assert_eq!(fog_alpha(0.0, water, fish), 0.0);
        let mut last = 0.0;
        for i in 1..10 {
            let f = i as f32 / 10.0;
            let a = fog_alpha(f, water, fish);
            // sRGB blending darkens the middle: the alpha makes up for it.
            assert!(a > f && a > last, "{f}: {a}");
            // And the blended encoded colour is the encoded linear mix.
            let enc = |v: f32| srgb_encode(v);
            let got = enc(water.y) + (enc(fish.y) - enc(water.y)) * a;
            let want = enc(water.y + (fish.y - water.y) * f);
            assert!((got - want).abs() < 0.01, "{f}: {got} vs {want}");
            last = a;
        }
        // Nothing to blend: the fog as is.
        assert_eq!(fog_alpha(0.4, water, water), 0.4);
    }

    #[test]
    fn the_water_gradient_is_the_shaders() {
        let env = Environment::default();
        let stops = water_stops(&env, 9);
        assert_eq!(stops.len(), 9);
        assert_eq!(stops[0].0, 0.0);
        assert_eq!(stops[8].0, 1.0);
        let top = water(&env, 0.0, 100.0);
        assert!((top.y - env.fog_color[1] * 2.2).abs() < 1e-6);
        let bottom = water(&env, 100.0, 100.0);
        assert!((bottom.y - env.fog_color[1] * 0.6).abs() < 1e-6);
        assert!(
            stops.windows(2).all(|p| p[0].1[2] >= p[1].1[2]),
            "brighter at the top"
        );
        // Interpolated between stops as a canvas does (encoded values, linearly), the
        // gradient stays within a unit of the shader's at every row.
        for row in 0..=100 {
            let t = row as f32 / 100.0;
            let i = ((t * 8.0) as usize).min(7);
            let f = (t - stops[i].0) / (stops[i + 1].0 - stops[i].0);
            let exact = water(&env, t, 1.0);
            for (c, e) in [exact.x, exact.y, exact.z].into_iter().enumerate() {
                let (a, b) = (f32::from(stops[i].1[c]), f32::from(stops[i + 1].1[c]));
                let drawn = a + (b - a) * f;
                assert!(
                    (drawn - srgb_encode(e) * 255.0).abs() <= 1.0,
                    "row {t}: {drawn} vs {e}"
                );
            }
        }
    }
}

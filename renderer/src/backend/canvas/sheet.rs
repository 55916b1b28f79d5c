//! The Canvas-2D fallback's sprite sheet: each (mesh, material) pair of the scene
//! drawn once on the CPU from the same quantized meshes and the same atlas the GPU
//! path uses, shaded as `fs_main` in `shaders/scene.wgsl` shades it (atlas texel ×
//! tint × (ambient + diffuse × depth light) + rim; the glow apart), seen from where the
//! camera sees it, at a few headings and depths, with a mip chain. The browser uploads
//! the sheet once as an image and draws every sprite as one `drawImage` of a
//! rectangle under a transform ([`super::plan_draws`]); it bakes again, a piece per
//! frame ([`SheetBaker`]), when the camera has turned far enough to change the
//! lighting.
//!
//! Cost: the standard scene bakes in about 5 ms natively, 10–25 ms in the browser (a
//! G-buffer per mesh and heading, shaded once per material and depth), in 11 pieces.

use std::f32::consts::{FRAC_PI_2, PI, TAU};

use glam::{Mat3, Vec2, Vec3};

use crate::assets::atlas::Image;
use crate::scene::camera::Camera;
use crate::scene::mesh::{MeshKind, decode_octahedral};
use crate::scene::{Environment, Scene};

// Must be kept in sync with fs_main in shaders/scene.wgsl.
/// Colour of the light from above (times the diffuse term).
pub const DIFFUSE: Vec3 = Vec3::new(0.55, 0.75, 0.85);
/// Colour of the rim light.
pub const RIM: Vec3 = Vec3::new(0.2, 0.45, 0.6);
/// Colour of bioluminescence (times the texture's alpha and the emissive strength).
pub const GLOW: Vec3 = Vec3::new(0.25, 0.85, 1.0);

/// Light from above fading with depth below the surface: `depth_light` in `fs_main`.
pub fn depth_light(world_y: f32) -> f32 {
    (-(20.0 - world_y) * 0.03).exp().clamp(0.15, 1.0)
}

/// Linear to sRGB (IEC 61966-2-1), as `output()` in the shader and sRGB targets do.
pub fn srgb_encode(c: f32) -> f32 {
    let c = c.clamp(0.0, 1.0);
    if c <= 0.003_130_8 {
        c * 12.92
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    }
}

/// sRGB to linear, as sampling an `Rgba8UnormSrgb` / `SRGB8_ALPHA8` texture does.
pub fn srgb_decode(e: f32) -> f32 {
    if e <= 0.040_45 {
        e / 12.92
    } else {
        ((e + 0.055) / 1.055).powf(2.4)
    }
}

/// Supersampling per side when rasterizing (edges are anti-aliased by the box filter).
const SUPERSAMPLE: usize = 2;
/// Transparent pixels around every rectangle in the sheet: bilinear filtering at a
/// sprite's edge fades to nothing, and never reads a neighbour.
const GUTTER: u32 = 1;
/// Entries of the table that encodes linear light to sRGB bytes (fine enough that
/// every byte of the dark end is reached).
const ENCODE_STEPS: usize = 4096;
/// Width of the sheet, pixels.
const SHEET_WIDTH: u32 = 512;
/// Mip levels with a glow layer of their own (drawn additively, pulsing): the finest,
/// for sprites drawn larger than half of it (a fish over ~32 pixels long). Coarser
/// levels carry the glow inside the colour: one `drawImage` for most sprites.
pub const GLOW_LEVELS: usize = 1;
/// The mean of the shader's pulse, `0.75 + 0.25·sin(…)`.
const GLOW_PULSE: f32 = 0.75;
/// Largest step of [`depth_light`] between two baked depths of one sprite.
const LIGHT_STEP: f32 = 0.1;
/// Most baked depths per sprite.
const MAX_LIGHTS: usize = 4;
/// The camera may turn this far (radians, seen from a group of objects) before the
/// sheet is baked again: the horizontal part of the light moves across the objects.
pub const REBAKE_ANGLE: f32 = 0.12;

/// How a kind of mesh is baked.
struct KindBake {
    /// Level-0 size of the mesh's longest side, pixels.
    long_side: f32,
    /// Headings baked: the view yaw of the object's forward (+z) axis, radians
    /// (0 towards the viewer, +π/2 to the right).
    headings: &'static [f32],
}

fn kind_bake(kind: MeshKind) -> KindBake {
    match kind {
        // Seen broadside, heading right or left; the sprite turns with the fish.
        MeshKind::Fish => KindBake {
            long_side: 64.0,
            headings: &[FRAC_PI_2, -FRAC_PI_2],
        },
        MeshKind::Rock => KindBake {
            long_side: 64.0,
            headings: &[0.0, FRAC_PI_2, PI, -FRAC_PI_2],
        },
        MeshKind::Kelp => KindBake {
            long_side: 128.0,
            headings: &[0.0, FRAC_PI_2, PI, -FRAC_PI_2],
        },
        MeshKind::Snow => KindBake {
            long_side: 8.0,
            headings: &[0.0],
        },
    }
}

/// A rectangle of the sheet: one mip level of one baked image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SheetRect {
    /// Left edge in the sheet, pixels (a transparent border of one pixel included).
    pub x: u32,
    /// Top edge in the sheet, pixels.
    pub y: u32,
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// Where the object's origin lies, pixels from the rectangle's top-left corner.
    pub origin: [f32; 2],
    /// Pixels per object-space unit at this level.
    pub pixels_per_unit: f32,
}

/// One (mesh, material, heading, depth) drawn: the lit colour and, for emissive
/// materials, the glow, each as a mip chain (finest first; both chains have the same
/// rectangles' sizes and origins).
#[derive(Clone, Debug, PartialEq)]
pub struct BakedSprite {
    /// The world height whose depth light the colour was lit with.
    pub y: f32,
    /// The lit colour, straight alpha (coverage).
    pub colour: Vec<SheetRect>,
    /// The glow at full pulse (drawn additively), or empty.
    pub glow: Vec<SheetRect>,
    /// Mean linear colour over the covered pixels (the fog blend needs it).
    pub mean: Vec3,
}

impl BakedSprite {
    /// The mip level to draw at `pixels_per_unit` on screen: the smallest level at least
    /// that fine, else the finest.
    pub fn level(&self, pixels_per_unit: f32) -> usize {
        self.colour
            .iter()
            .rposition(|r| r.pixels_per_unit >= pixels_per_unit)
            .unwrap_or(0)
    }
}

/// One heading of a (mesh, material) pair.
#[derive(Clone, Debug, PartialEq)]
pub struct BakedHeading {
    /// View yaw of the object's forward axis (see [`KindBake::headings`]).
    pub yaw: f32,
    /// Screen direction of the baked forward axis: 0 (right) or π (left).
    pub angle: f32,
    /// Entry pixels per object-space unit of height (+y), over pixels per unit: the
    /// cosine of the elevation the object was seen from.
    pub rise: f32,
    /// By baked height, lowest first.
    pub depths: Vec<BakedSprite>,
}

/// All the bakes of one (mesh kind, material) pair.
#[derive(Clone, Debug, PartialEq)]
struct Group {
    kind: MeshKind,
    material: u16,
    headings: Vec<BakedHeading>,
}

/// The sprites of a scene, baked, in one RGBA8 image.
#[derive(Clone, Debug, PartialEq)]
pub struct SpriteSheet {
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// Row-major RGBA8, sRGB-encoded colour with straight (not premultiplied) alpha,
    /// as `ImageData` wants it.
    pub pixels: Vec<u8>,
    groups: Vec<Group>,
    /// Per mesh drawn: the centre of its instances and the direction towards the eye
    /// it was baked for.
    views: Vec<(Vec3, Vec3)>,
}

/// Per-mesh statistics of the scene's instances.
#[derive(Clone, Copy, Debug, Default)]
struct MeshStats {
    count: u32,
    sum: Vec3,
    y_min: f32,
    y_max: f32,
    scale_sum: f32,
}

/// A baked image of one mip level, premultiplied linear RGB and coverage.
#[derive(Clone, Debug)]
struct Level {
    width: usize,
    height: usize,
    /// `[r, g, b, a]` premultiplied by a.
    texels: Vec<[f32; 4]>,
    /// Whether rgb is already sRGB-encoded (a glow's increments) rather than linear.
    encoded: bool,
    origin: Vec2,
    pixels_per_unit: f32,
}

impl Level {
    /// Half the size (a 2×2 box filter), the origin and scale following.
    fn half(&self) -> Level {
        let (w, h) = (self.width.div_ceil(2), self.height.div_ceil(2));
        let mut texels = vec![[0.0; 4]; w * h];
        for y in 0..h {
            for x in 0..w {
                let mut sum = [0.0; 4];
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let (sx, sy) = (2 * x + dx, 2 * y + dy);
                    if sx < self.width && sy < self.height {
                        let t = self.texels[sy * self.width + sx];
                        for c in 0..4 {
                            sum[c] += t[c] * 0.25;
                        }
                    }
                }
                texels[y * w + x] = sum;
            }
        }
        Level {
            width: w,
            height: h,
            texels,
            encoded: self.encoded,
            origin: self.origin * 0.5,
            pixels_per_unit: self.pixels_per_unit * 0.5,
        }
    }
}

/// One rasterized sample of the G-buffer.
#[derive(Clone, Copy, Debug)]
struct Sample {
    depth: f32,
    uv: Vec2,
    normal: Vec3,
    local_y: f32,
}

/// A mesh rasterized from one direction: what shading needs, per supersample.
#[derive(Debug)]
struct GBuffer {
    width: usize,
    height: usize,
    samples: Vec<Option<Sample>>,
    origin: Vec2,
    pixels_per_unit: f32,
}

/// The view of an object at one heading: view-space axes of its local axes.
#[derive(Clone, Copy, Debug)]
struct BakeView {
    /// `view_from_local`: columns are the local axes in view space (x right, y up,
    /// z towards the viewer).
    view_from_local: Mat3,
    /// Direction towards the light, view space.
    light: Vec3,
    /// Cosine of the elevation the object is seen from.
    rise: f32,
}

/// The view of an object at `centre` from `eye`, its forward axis at view yaw `yaw`.
fn bake_view(centre: Vec3, eye: Vec3, yaw: f32, light: Vec3) -> BakeView {
    let to_eye = (eye - centre).try_normalize().unwrap_or(Vec3::Z);
    let flat = Vec3::new(to_eye.x, 0.0, to_eye.z)
        .try_normalize()
        .unwrap_or(Vec3::Z);
    // Seen from within ±60° of the horizon: from straight above, a sprite of the side
    // is as good as any.
    let elevation = to_eye.y.clamp(-1.0, 1.0).asin().clamp(-1.05, 1.05);
    let toward = flat * elevation.cos() + Vec3::Y * elevation.sin();
    let right = Vec3::Y.cross(flat).normalize_or(Vec3::X);
    let up = toward.cross(right);
    let (s, c) = yaw.sin_cos();
    let forward = right * s + flat * c;
    let local_x = Vec3::Y.cross(forward);
    let to_view = |w: Vec3| Vec3::new(w.dot(right), w.dot(up), w.dot(toward));
    BakeView {
        view_from_local: Mat3::from_cols(to_view(local_x), to_view(Vec3::Y), to_view(forward)),
        light: to_view(light.normalize_or(Vec3::Y)),
        rise: elevation.cos(),
    }
}

/// Rasterizes the finest tier of `mesh` as seen through `view`; back faces too when
/// `two_sided` (an open mesh such as a kelp ribbon).
fn rasterize(
    scene: &Scene,
    mesh: usize,
    view: &BakeView,
    long_side: f32,
    two_sided: bool,
) -> Option<GBuffer> {
    let lib = &scene.meshes;
    let m = lib.meshes.get(mesh)?;
    let tier = m.tiers.first()?;
    let extent = (m.bounds_max - m.bounds_min).max(Vec3::splat(1e-6));
    let first = m.first_vertex as usize;
    let vertices = lib.vertices.get(first..first + m.vertex_count as usize)?;
    let decoded: Vec<(Vec3, Vec3, Vec2, f32)> = vertices
        .iter()
        .map(|v| {
            let q = Vec3::new(
                f32::from(v.position[0]),
                f32::from(v.position[1]),
                f32::from(v.position[2]),
            ) / 65535.0;
            let local = m.bounds_min + q * extent;
            let normal = view.view_from_local * decode_octahedral(v.normal);
            let uv = Vec2::new(f32::from(v.uv[0]), f32::from(v.uv[1])) / 65535.0;
            (view.view_from_local * local, normal, uv, local.y)
        })
        .collect();
    let (lo, hi) = decoded.iter().fold(
        (Vec2::splat(f32::MAX), Vec2::splat(f32::MIN)),
        |(lo, hi), (p, ..)| (lo.min(p.truncate()), hi.max(p.truncate())),
    );
    if lo.x > hi.x {
        return None;
    }
    let size = (hi - lo).max(Vec2::splat(1e-4));
    let pixels_per_unit = long_side / size.x.max(size.y);
    let ss = SUPERSAMPLE as f32;
    // Whole output pixels, so the supersamples box-filter evenly.
    let width = (size.x * pixels_per_unit).ceil() as usize + 1;
    let height = (size.y * pixels_per_unit).ceil() as usize + 1;
    let (sw, sh) = (width * SUPERSAMPLE, height * SUPERSAMPLE);
    let to_screen = |p: Vec3| {
        Vec2::new(
            (p.x - lo.x) * pixels_per_unit * ss + 0.5 * ss,
            (hi.y - p.y) * pixels_per_unit * ss + 0.5 * ss,
        )
    };
    let mut samples: Vec<Option<Sample>> = vec![None; sw * sh];
    let start = tier.first_index as usize;
    let indices = lib.indices.get(start..start + tier.index_count as usize)?;
    for t in indices.chunks_exact(3) {
        let vertex = |i: u32| (i as usize).checked_sub(first).and_then(|i| decoded.get(i));
        let (Some(a), Some(b), Some(c)) = (vertex(t[0]), vertex(t[1]), vertex(t[2])) else {
            continue;
        };
        // Counter-clockwise in view space (y up) faces the viewer, as wgpu's default
        // front face; the shader turns the normal of a back face around. A closed
        // mesh's back faces are hidden: skip them.
        let facing = (b.0 - a.0).truncate().perp_dot((c.0 - a.0).truncate());
        if facing < 0.0 && !two_sided {
            continue;
        }
        let flip = if facing >= 0.0 { 1.0 } else { -1.0 };
        let (sa, sb, sc) = (to_screen(a.0), to_screen(b.0), to_screen(c.0));
        let area = (sb - sa).perp_dot(sc - sa);
        if area.abs() < 1e-9 {
            continue;
        }
        // Barycentric weights as affine functions of the pixel centre.
        let inv = 1.0 / area;
        let edge = |from: Vec2, to: Vec2| {
            let d = (to - from) * inv;
            // perp_dot(d, p - from) = d.x·(p.y − from.y) − d.y·(p.x − from.x)
            (-d.y, d.x, d.y * from.x - d.x * from.y)
        };
        let (e0, e1) = (edge(sb, sc), edge(sc, sa));
        let min = sa.min(sb).min(sc).max(Vec2::ZERO);
        let max = sa.max(sb).max(sc).min(Vec2::new(sw as f32, sh as f32));
        let (x0, x1) = (min.x.floor() as usize, (max.x.ceil() as usize).min(sw));
        for y in (min.y.floor() as usize)..(max.y.ceil() as usize).min(sh) {
            let py = y as f32 + 0.5;
            for x in x0..x1 {
                let px = x as f32 + 0.5;
                let w0 = e0.0 * px + e0.1 * py + e0.2;
                let w1 = e1.0 * px + e1.1 * py + e1.2;
                let w2 = 1.0 - w0 - w1;
                if w0 < 0.0 || w1 < 0.0 || w2 < 0.0 {
                    continue;
                }
                let depth = a.0.z * w0 + b.0.z * w1 + c.0.z * w2;
                let slot = &mut samples[y * sw + x];
                if slot.is_some_and(|s| s.depth >= depth) {
                    continue;
                }
                *slot = Some(Sample {
                    depth,
                    uv: a.2 * w0 + b.2 * w1 + c.2 * w2,
                    normal: (a.1 * w0 + b.1 * w1 + c.1 * w2) * flip,
                    local_y: a.3 * w0 + b.3 * w1 + c.3 * w2,
                });
            }
        }
    }
    Some(GBuffer {
        width: sw,
        height: sh,
        samples,
        origin: Vec2::new(-lo.x * pixels_per_unit + 0.5, hi.y * pixels_per_unit + 0.5),
        pixels_per_unit,
    })
}

/// Bilinear, linear-light sampling of a material's atlas rectangle (level 0), as the
/// GPU samples it: RGB decoded from sRGB, alpha as is.
struct Texture<'a> {
    image: &'a Image,
    rect: [f32; 4],
    decode: &'a [f32; 256],
}

impl Texture<'_> {
    fn texel(&self, x: i64, y: i64) -> [f32; 4] {
        let w = i64::from(self.image.width);
        let h = i64::from(self.image.height);
        let (x, y) = (x.clamp(0, w - 1) as u32, y.clamp(0, h - 1) as u32);
        let p = self.image.get(x, y);
        [
            self.decode[usize::from(p[0])],
            self.decode[usize::from(p[1])],
            self.decode[usize::from(p[2])],
            f32::from(p[3]) / 255.0,
        ]
    }

    fn sample(&self, uv: Vec2) -> [f32; 4] {
        if self.image.width == 0 || self.image.height == 0 {
            return [0.5, 0.5, 0.5, 0.0];
        }
        let uv = uv.clamp(Vec2::ZERO, Vec2::ONE);
        let [u0, v0, u1, v1] = self.rect;
        let u = (u0 + (u1 - u0) * uv.x) * self.image.width as f32 - 0.5;
        let v = (v0 + (v1 - v0) * uv.y) * self.image.height as f32 - 0.5;
        let (fx, fy) = (u.floor(), v.floor());
        let (tx, ty) = (u - fx, v - fy);
        let (x, y) = (fx as i64, fy as i64);
        let [a, b, c, d] = [
            self.texel(x, y),
            self.texel(x + 1, y),
            self.texel(x, y + 1),
            self.texel(x + 1, y + 1),
        ];
        std::array::from_fn(|i| {
            let top = a[i] + (b[i] - a[i]) * tx;
            let bottom = c[i] + (d[i] - c[i]) * tx;
            top + (bottom - top) * ty
        })
    }
}

/// A G-buffer box-filtered to output pixels: coverage and the mean attributes of the
/// covered samples (shading once per pixel rather than per sample: the supersamples
/// only smooth the edges).
#[derive(Debug)]
struct Resolved {
    width: usize,
    height: usize,
    /// `(coverage, sample)` per pixel.
    pixels: Vec<Option<(f32, Sample)>>,
    origin: Vec2,
    pixels_per_unit: f32,
}

fn resolve(g: &GBuffer) -> Resolved {
    let (w, h) = (g.width / SUPERSAMPLE, g.height / SUPERSAMPLE);
    let mut pixels = vec![None; w * h];
    for (i, pixel) in pixels.iter_mut().enumerate() {
        let (x, y) = (i % w, i / w);
        let mut n = 0;
        let mut sum = Sample {
            depth: 0.0,
            uv: Vec2::ZERO,
            normal: Vec3::ZERO,
            local_y: 0.0,
        };
        for sy in 0..SUPERSAMPLE {
            for sx in 0..SUPERSAMPLE {
                let j = (y * SUPERSAMPLE + sy) * g.width + x * SUPERSAMPLE + sx;
                if let Some(s) = g.samples[j] {
                    n += 1;
                    sum.uv += s.uv;
                    sum.normal += s.normal;
                    sum.local_y += s.local_y;
                }
            }
        }
        if n > 0 {
            let inv = 1.0 / n as f32;
            sum.uv *= inv;
            sum.local_y *= inv;
            *pixel = Some((n as f32 / (SUPERSAMPLE * SUPERSAMPLE) as f32, sum));
        }
    }
    Resolved {
        width: w,
        height: h,
        pixels,
        origin: g.origin,
        pixels_per_unit: g.pixels_per_unit,
    }
}

/// One material's shading terms at a pixel: the lit colour is
/// `ambient_term + light_term × depth light` (linear in the depth light, so one
/// texture lookup serves every baked depth).
#[derive(Clone, Copy, Debug)]
struct Terms {
    coverage: f32,
    ambient_term: Vec3,
    light_term: Vec3,
    glow: Vec3,
    /// `exp(0.03 · local height × scale)`: the depth light's change along the object.
    rise: f32,
}

/// A material as the shader sees it.
struct Shade<'a> {
    texture: Texture<'a>,
    tint: Vec3,
    emissive: f32,
    ambient: Vec3,
    light: Vec3,
    /// Mean instance scale (for the depth light along a tall object such as kelp).
    scale: f32,
}

/// `fs_main`'s terms for every pixel of `r` in material `s`.
fn shade(r: &Resolved, s: &Shade<'_>) -> Vec<Option<Terms>> {
    r.pixels
        .iter()
        .map(|p| {
            let (coverage, sample) = (*p)?;
            let tex = s.texture.sample(sample.uv);
            let n = sample.normal.normalize_or(Vec3::Z);
            let diffuse = n.dot(s.light).max(0.0);
            let rim = (1.0 - n.z.max(0.0)).powi(3) * 0.25;
            let albedo = Vec3::new(tex[0], tex[1], tex[2]) * s.tint;
            Some(Terms {
                coverage,
                ambient_term: albedo * s.ambient,
                light_term: albedo * DIFFUSE * diffuse + RIM * rim,
                glow: GLOW * tex[3] * s.emissive,
                rise: (0.03 * sample.local_y * s.scale).exp(),
            })
        })
        .collect()
}

/// The lit colour of `terms` for an object whose origin is at world height `y`, as a
/// level-0 image, and its mean linear colour.
fn light(r: &Resolved, terms: &[Option<Terms>], y: f32) -> (Level, Vec3) {
    // depth_light(y + local height × scale), unclamped at the origin, then clamped.
    let base = (-(20.0 - y) * 0.03).exp();
    let (mut mean, mut covered) = (Vec3::ZERO, 0.0);
    let texels = terms
        .iter()
        .map(|t| {
            let Some(t) = t else {
                return [0.0; 4];
            };
            let dl = (base * t.rise).clamp(0.15, 1.0);
            let c = t.ambient_term + t.light_term * dl;
            mean += c * t.coverage;
            covered += t.coverage;
            [
                c.x * t.coverage,
                c.y * t.coverage,
                c.z * t.coverage,
                t.coverage,
            ]
        })
        .collect();
    (
        Level {
            width: r.width,
            height: r.height,
            texels,
            encoded: false,
            origin: r.origin,
            pixels_per_unit: r.pixels_per_unit,
        },
        if covered > 0.0 {
            mean / covered
        } else {
            Vec3::ZERO
        },
    )
}

/// The glow of `terms` at full pulse as a level-0 image, or `None` when nothing glows.
fn glow(r: &Resolved, terms: &[Option<Terms>]) -> Option<Level> {
    let mut any = false;
    let texels = terms
        .iter()
        .map(|t| {
            let Some(t) = t else {
                return [0.0; 4];
            };
            any |= t.glow.element_sum() > 1e-3;
            let g = t.glow * t.coverage;
            [g.x, g.y, g.z, t.coverage]
        })
        .collect();
    any.then_some(Level {
        width: r.width,
        height: r.height,
        texels,
        encoded: false,
        origin: r.origin,
        pixels_per_unit: r.pixels_per_unit,
    })
}

/// A glow chain turned into what `lighter` must add: the shader adds the glow to the
/// fogged body colour in linear light and encodes the sum, so the canvas adds
/// `enc(base + glow) − enc(base)`, with `base` the body colour of the same pixel of
/// `colour` fogged by `fog` into `water` (the group's typical distance and the middle
/// of the screen). Added at full strength this is the glow at full pulse, unfogged.
fn glow_increments(glow: &mut [Level], colour: &[Level], water: Vec3, fog: f32) {
    let enc = |v: Vec3| Vec3::new(srgb_encode(v.x), srgb_encode(v.y), srgb_encode(v.z));
    for (g, c) in glow.iter_mut().zip(colour) {
        for (gt, ct) in g.texels.iter_mut().zip(&c.texels) {
            let a = gt[3];
            if a <= 0.0 || ct[3] <= 0.0 {
                *gt = [0.0; 4];
                continue;
            }
            let body = Vec3::new(ct[0], ct[1], ct[2]) / ct[3];
            let base = water + (body - water) * fog;
            let glow = Vec3::new(gt[0], gt[1], gt[2]) / a;
            let inc = (enc(base + glow) - enc(base)) * a;
            *gt = [inc.x, inc.y, inc.z, a];
        }
        g.encoded = true;
    }
}

/// Adds `glow` × `strength` into the coarse levels (from [`GLOW_LEVELS`] on) of
/// `colour`: for a small sprite one `drawImage` instead of two. Fogged with the body
/// (alpha ≈ fog), the glow then comes out as `glow × strength × fog`; the shader's is
/// `glow × pulse × √fog`, so `strength` is the mean pulse over the group's typical
/// `√fog`. Small sprites lose the pulse.
fn add_glow(colour: &mut [Level], glow: &[Level], strength: f32) {
    for (c, g) in colour.iter_mut().zip(glow).skip(GLOW_LEVELS) {
        for (ct, gt) in c.texels.iter_mut().zip(&g.texels) {
            for i in 0..3 {
                ct[i] += gt[i] * strength;
            }
        }
    }
}

/// The mip chain of a level-0 image: halving until the longer side is under 4 pixels.
fn mips(level0: Level) -> Vec<Level> {
    let mut chain = vec![level0];
    while let Some(last) = chain.last() {
        if last.width.max(last.height) < 4 {
            break;
        }
        let next = last.half();
        chain.push(next);
    }
    chain
}

/// Images waiting to be packed into the sheet.
#[derive(Debug, Default)]
struct Packer {
    images: Vec<Level>,
}

impl Packer {
    /// Adds a mip chain; returns the indices its levels will have.
    fn add(&mut self, chain: Vec<Level>) -> Vec<usize> {
        let first = self.images.len();
        self.images.extend(chain);
        (first..self.images.len()).collect()
    }

    /// Shelf-packs every image (tallest first) and encodes it; returns the sheet's
    /// size, pixels and each image's rectangle.
    fn pack(self) -> (u32, u32, Vec<u8>, Vec<SheetRect>) {
        let size = |l: &Level| (l.width as u32 + 2 * GUTTER, l.height as u32 + 2 * GUTTER);
        let mut order: Vec<usize> = (0..self.images.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(size(&self.images[i]).1));
        let mut rects = vec![
            SheetRect {
                x: 0,
                y: 0,
                width: 0,
                height: 0,
                origin: [0.0; 2],
                pixels_per_unit: 0.0,
            };
            self.images.len()
        ];
        let (mut x, mut y, mut shelf) = (0u32, 0u32, 0u32);
        for &i in &order {
            let l = &self.images[i];
            let (w, h) = size(l);
            let w = w.min(SHEET_WIDTH);
            if x + w > SHEET_WIDTH {
                x = 0;
                y += shelf;
                shelf = 0;
            }
            rects[i] = SheetRect {
                x,
                y,
                width: w,
                height: h,
                origin: [l.origin.x + GUTTER as f32, l.origin.y + GUTTER as f32],
                pixels_per_unit: l.pixels_per_unit,
            };
            x += w;
            shelf = shelf.max(h);
        }
        let height = (y + shelf).max(1);
        // Encoding through a table: a power per channel of every texel is most of
        // the packing time otherwise.
        let encode: Vec<u8> = (0..ENCODE_STEPS)
            .map(|i| (srgb_encode(i as f32 / (ENCODE_STEPS - 1) as f32) * 255.0).round() as u8)
            .collect();
        let mut pixels = vec![0u8; (SHEET_WIDTH * height * 4) as usize];
        for (l, r) in self.images.iter().zip(&rects) {
            for ly in 0..l.height {
                for lx in 0..l.width.min((r.width - 2 * GUTTER) as usize) {
                    let t = l.texels[ly * l.width + lx];
                    if t[3] <= 0.0 {
                        continue;
                    }
                    let enc = |c: f32| {
                        let c = (c / t[3]).clamp(0.0, 1.0);
                        if l.encoded {
                            return (c * 255.0).round() as u8;
                        }
                        encode[(c * (ENCODE_STEPS - 1) as f32).round() as usize]
                    };
                    let px = (r.x + GUTTER) as usize + lx;
                    let py = (r.y + GUTTER) as usize + ly;
                    let o = (py * SHEET_WIDTH as usize + px) * 4;
                    pixels[o..o + 4].copy_from_slice(&[
                        enc(t[0]),
                        enc(t[1]),
                        enc(t[2]),
                        (t[3].min(1.0) * 255.0).round() as u8,
                    ]);
                }
            }
        }
        (SHEET_WIDTH, height, pixels, rects)
    }
}

/// One piece of baking: a mesh seen at one heading, shaded in each of its materials
/// at each of its depths.
#[derive(Clone, Debug)]
struct Job {
    mesh: usize,
    kind: MeshKind,
    yaw: f32,
    centre: Vec3,
    /// Mean instance scale.
    scale: f32,
    /// The group's typical fog (at its centre's distance).
    fog: f32,
    depths: Vec<f32>,
    /// `(group index, material)` of each material of the mesh.
    groups: Vec<(usize, u16)>,
}

/// A baked sprite waiting for its rectangles: where it goes, and the packer's indices
/// of its colour and glow levels.
#[derive(Clone, Debug)]
struct Pending {
    group: usize,
    heading: usize,
    depth: usize,
    colour: Vec<usize>,
    glow: Vec<usize>,
}

/// A sprite sheet baked a piece at a time (one mesh at one heading per
/// [`SheetBaker::step`]), so that baking again as the camera turns spreads over
/// frames instead of stalling one.
#[derive(Debug)]
pub struct SheetBaker {
    eye: Vec3,
    jobs: Vec<Job>,
    next: usize,
    packer: Packer,
    pending: Vec<Pending>,
    groups: Vec<Group>,
    views: Vec<(Vec3, Vec3)>,
    decode: [f32; 256],
}

impl SheetBaker {
    /// Plans the bake of every (mesh, material) pair that `scene`'s instances use,
    /// seen from `camera`'s eye.
    pub fn new(scene: &Scene, camera: &Camera) -> Self {
        let n_meshes = scene.meshes.meshes.len();
        let mut stats = vec![MeshStats::default(); n_meshes];
        let mut pairs: Vec<(u16, u16)> = Vec::new();
        let inst = &scene.instances;
        for i in 0..inst.len() {
            let mesh = inst.mesh[i];
            let Some(s) = stats.get_mut(usize::from(mesh)) else {
                continue;
            };
            let y = inst.y[i];
            if s.count == 0 {
                (s.y_min, s.y_max) = (y, y);
            }
            s.count += 1;
            s.sum += inst.position(i);
            s.y_min = s.y_min.min(y);
            s.y_max = s.y_max.max(y);
            s.scale_sum += inst.scale[i];
            let pair = (mesh, inst.material[i]);
            if !pairs.contains(&pair) {
                pairs.push(pair);
            }
        }
        let env: &Environment = &scene.environment;
        let mut jobs = Vec::new();
        let mut groups: Vec<Group> = Vec::new();
        let mut views = Vec::new();
        for (mesh, s) in stats.iter().enumerate() {
            if s.count == 0 {
                continue;
            }
            let centre = s.sum / s.count as f32;
            if let Some(dir) = (camera.eye - centre).try_normalize() {
                views.push((centre, dir));
            }
            let kind = scene.meshes.meshes[mesh].kind;
            let span = depth_light(s.y_max) - depth_light(s.y_min);
            let n_depths = ((span / LIGHT_STEP).ceil() as usize).clamp(1, MAX_LIGHTS);
            let depths: Vec<f32> = (0..n_depths)
                .map(|d| s.y_min + (d as f32 + 0.5) / n_depths as f32 * (s.y_max - s.y_min))
                .collect();
            let mut mesh_groups = Vec::new();
            for &(_, material) in pairs.iter().filter(|p| usize::from(p.0) == mesh) {
                mesh_groups.push((groups.len(), material));
                groups.push(Group {
                    kind,
                    material,
                    headings: Vec::new(),
                });
            }
            for &yaw in kind_bake(kind).headings {
                jobs.push(Job {
                    mesh,
                    kind,
                    yaw,
                    centre,
                    scale: s.scale_sum / s.count as f32,
                    fog: (-env.fog_density * (camera.eye - centre).length()).exp(),
                    depths: depths.clone(),
                    groups: mesh_groups.clone(),
                });
            }
        }
        Self {
            eye: camera.eye,
            jobs,
            next: 0,
            packer: Packer::default(),
            pending: Vec::new(),
            groups,
            views,
            decode: std::array::from_fn(|i| srgb_decode(i as f32 / 255.0)),
        }
    }

    /// Whether every piece is baked.
    pub fn done(&self) -> bool {
        self.next >= self.jobs.len()
    }

    /// Bakes the next piece from `scene` (the scene the bake was planned on); returns
    /// whether every piece is baked.
    pub fn step(&mut self, scene: &Scene) -> bool {
        let Some(job) = self.jobs.get(self.next).cloned() else {
            return true;
        };
        self.next += 1;
        let env = &scene.environment;
        let bake = kind_bake(job.kind);
        let view = bake_view(job.centre, self.eye, job.yaw, env.light_dir);
        let two_sided = job.kind == MeshKind::Kelp;
        let Some(g) = rasterize(scene, job.mesh, &view, bake.long_side, two_sided) else {
            return self.done();
        };
        let r = resolve(&g);
        // The water mid-screen, for the glow.
        let water = Vec3::from_array(env.fog_color);
        for &(group, material) in &job.groups {
            let Some(m) = scene.materials.get(usize::from(material)) else {
                continue;
            };
            let Some(image) = scene
                .atlas
                .get(m.atlas_page as usize)
                .and_then(|p| p.mips.first())
            else {
                continue;
            };
            let terms = shade(
                &r,
                &Shade {
                    texture: Texture {
                        image,
                        rect: m.atlas_rect,
                        decode: &self.decode,
                    },
                    tint: Vec3::from_array(m.tint),
                    emissive: m.emissive,
                    ambient: Vec3::from_array(env.ambient),
                    light: view.light,
                    scale: job.scale,
                },
            );
            let Some(headings) = self.groups.get_mut(group).map(|g| &mut g.headings) else {
                continue;
            };
            let heading = headings.len();
            let mut baked = BakedHeading {
                yaw: job.yaw,
                angle: if job.yaw.sin() >= 0.0 { 0.0 } else { PI },
                rise: view.rise,
                depths: Vec::new(),
            };
            let mut colours: Vec<(Vec<Level>, Vec3)> = job
                .depths
                .iter()
                .map(|&y| {
                    let (colour, mean) = light(&r, &terms, y);
                    (mips(colour), mean)
                })
                .collect();
            // One glow for every depth, over the middle depth's colour: the fine
            // levels as a layer of its own, the coarse ones inside the colour.
            let glows = match (glow(&r, &terms), colours.get(colours.len() / 2)) {
                (Some(g), Some((middle, _))) => {
                    let chain = mips(g);
                    let mut layer = chain[..GLOW_LEVELS.min(chain.len())].to_vec();
                    glow_increments(&mut layer, middle, water, job.fog);
                    for (colour, _) in &mut colours {
                        add_glow(colour, &chain, GLOW_PULSE / job.fog.max(1e-3).sqrt());
                    }
                    self.packer.add(layer)
                }
                _ => Vec::new(),
            };
            for (&y, (colour, mean)) in job.depths.iter().zip(colours) {
                self.pending.push(Pending {
                    group,
                    heading,
                    depth: baked.depths.len(),
                    colour: self.packer.add(colour),
                    glow: glows.clone(),
                });
                baked.depths.push(BakedSprite {
                    y,
                    colour: Vec::new(),
                    glow: Vec::new(),
                    mean,
                });
            }
            headings.push(baked);
        }
        self.done()
    }

    /// Packs what was baked into a sheet (pieces not yet baked are left out).
    pub fn finish(self) -> SpriteSheet {
        let mut groups = self.groups;
        let (width, height, pixels, rects) = self.packer.pack();
        for p in self.pending {
            let Some(sprite) = groups
                .get_mut(p.group)
                .and_then(|g| g.headings.get_mut(p.heading))
                .and_then(|h| h.depths.get_mut(p.depth))
            else {
                continue;
            };
            sprite.colour = p.colour.iter().map(|&i| rects[i]).collect();
            sprite.glow = p.glow.iter().map(|&i| rects[i]).collect();
        }
        SpriteSheet {
            width,
            height,
            pixels,
            groups,
            views: self.views,
        }
    }
}

impl SpriteSheet {
    /// Bakes every (mesh, material) pair that `scene`'s instances use, lit as the GPU
    /// path lights them and seen from `camera`'s eye, all at once.
    pub fn bake(scene: &Scene, camera: &Camera) -> Self {
        let mut baker = SheetBaker::new(scene, camera);
        while !baker.step(scene) {}
        baker.finish()
    }

    /// The baked sprite for an object of `kind` and `material` whose forward axis has
    /// view yaw `yaw`, at world height `y`: the nearest heading, then the nearest depth.
    pub fn find(
        &self,
        kind: MeshKind,
        material: u16,
        yaw: f32,
        y: f32,
    ) -> Option<(&BakedHeading, &BakedSprite)> {
        let group = self
            .groups
            .iter()
            .find(|g| g.kind == kind && g.material == material)?;
        let turn = |a: f32| {
            let d = (a - yaw).rem_euclid(TAU);
            d.min(TAU - d)
        };
        let heading = group
            .headings
            .iter()
            .min_by(|a, b| turn(a.yaw).total_cmp(&turn(b.yaw)))?;
        let sprite = heading
            .depths
            .iter()
            .min_by(|a, b| (a.y - y).abs().total_cmp(&(b.y - y).abs()))?;
        Some((heading, sprite))
    }

    /// Whether the camera has turned far enough, seen from some group of objects, for
    /// the baked lighting to be out of date.
    pub fn stale(&self, camera: &Camera) -> bool {
        let limit = REBAKE_ANGLE.cos();
        self.views.iter().any(|&(centre, dir)| {
            (camera.eye - centre)
                .try_normalize()
                .is_some_and(|now| now.dot(dir) < limit)
        })
    }

    /// Number of baked images (every heading, depth and layer, without mips).
    pub fn sprite_count(&self) -> usize {
        self.groups
            .iter()
            .flat_map(|g| &g.headings)
            .flat_map(|h| &h.depths)
            .map(|s| 1 + usize::from(!s.glow.is_empty()))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::standard::standard_scene;
    use crate::preset::Preset;
    use crate::scene::SceneDescription;
    use crate::scene::camera::OrbitCamera;

    fn scene() -> Scene {
        standard_scene(&SceneDescription::for_preset(Preset::Canvas)).expect("standard scene")
    }

    fn camera() -> Camera {
        OrbitCamera::default().camera(16.0 / 9.0)
    }

    /// Mean encoded colour and coverage of a rectangle.
    fn stats(sheet: &SpriteSheet, r: &SheetRect, rows: std::ops::Range<u32>) -> ([f32; 3], f32) {
        let (mut sum, mut alpha) = ([0.0f32; 3], 0.0f32);
        for y in rows {
            for x in r.x..r.x + r.width {
                let o = ((r.y + y) * sheet.width + x) as usize * 4;
                let a = f32::from(sheet.pixels[o + 3]) / 255.0;
                for (c, s) in sum.iter_mut().enumerate() {
                    *s += f32::from(sheet.pixels[o + c]) * a;
                }
                alpha += a;
            }
        }
        (sum.map(|v| v / alpha.max(1e-6)), alpha)
    }

    #[test]
    fn srgb_round_trips_and_depth_light_follows_the_shader() {
        for i in 0..=255u8 {
            let e = f32::from(i) / 255.0;
            assert!((srgb_encode(srgb_decode(e)) - e).abs() < 1e-4);
        }
        assert!((depth_light(20.0) - 1.0).abs() < 1e-6);
        assert!((depth_light(-7.0) - (-0.81f32).exp()).abs() < 1e-6);
        assert_eq!(depth_light(-200.0), 0.15);
    }

    #[test]
    fn every_pair_of_the_scene_is_baked_with_a_mip_chain() {
        let scene = scene();
        let sheet = SpriteSheet::bake(&scene, &camera());
        assert!(
            sheet.width <= 1024 && sheet.height <= 2048,
            "{}×{}",
            sheet.width,
            sheet.height
        );
        assert_eq!(
            sheet.pixels.len(),
            (sheet.width * sheet.height * 4) as usize
        );
        let inst = &scene.instances;
        for i in 0..inst.len() {
            let kind = scene.meshes.meshes[usize::from(inst.mesh[i])].kind;
            let (_, sprite) = sheet
                .find(kind, inst.material[i], 0.3, inst.y[i])
                .expect("every instance has a sprite");
            assert!(sprite.colour.len() >= 2, "{kind:?} has no mips");
            for pair in sprite.colour.windows(2) {
                assert!((pair[1].pixels_per_unit * 2.0 - pair[0].pixels_per_unit).abs() < 1e-3);
                assert!(pair[1].width < pair[0].width || pair[1].width <= 3);
            }
            // Emissive materials glow; rocks and kelp do not.
            let emissive = scene.materials[usize::from(inst.material[i])].emissive > 0.0;
            assert_eq!(!sprite.glow.is_empty(), emissive, "{kind:?}");
            for r in sprite.colour.iter().chain(&sprite.glow) {
                assert!(r.x + r.width <= sheet.width && r.y + r.height <= sheet.height);
                let (_, coverage) = stats(&sheet, r, 0..r.height);
                assert!(coverage > 0.0, "{kind:?}: an empty rectangle");
            }
        }
    }

    #[test]
    fn fish_face_their_heading_and_glow_low_on_the_flank() {
        let scene = scene();
        let sheet = SpriteSheet::bake(&scene, &camera());
        let fish = scene.meshes.find_kind(MeshKind::Fish).expect("a fish mesh");
        let i = scene
            .instances
            .mesh
            .iter()
            .position(|&m| m == fish)
            .expect("a fish");
        let material = scene.instances.material[i];
        let (right, sprite) = sheet
            .find(MeshKind::Fish, material, FRAC_PI_2 - 0.2, 0.0)
            .expect("a fish heading right");
        assert_eq!(
            right.angle, 0.0,
            "a fish heading right is drawn facing right"
        );
        let (left, _) = sheet
            .find(MeshKind::Fish, material, -FRAC_PI_2 + 0.3, 0.0)
            .expect("a fish heading left");
        assert_eq!(left.angle, PI);
        // The photophores sit low on the flank: more glow in the lower half.
        let g = sprite.glow[0];
        let (upper, _) = stats(&sheet, &g, 0..g.height / 2);
        let (lower, _) = stats(&sheet, &g, g.height / 2..g.height);
        assert!(lower[1] > upper[1], "glow upper {upper:?} lower {lower:?}");
        // The tail fin is behind the origin (left of it, heading right): coverage there.
        let c = sprite.colour[0];
        let tail = (c.origin[0] - 0.5 * c.pixels_per_unit).max(0.0) as u32;
        let column: f32 = (0..c.height)
            .map(|y| {
                f32::from(
                    sheet.pixels[(((c.y + y) * sheet.width + c.x + tail + 1) * 4 + 3) as usize],
                )
            })
            .sum();
        assert!(column > 0.0, "no tail fin");
    }

    #[test]
    fn lighting_follows_depth_and_the_light_from_above() {
        let scene = scene();
        let fish = usize::from(scene.meshes.find_kind(MeshKind::Fish).expect("a fish mesh"));
        let m = &scene.materials[usize::from(scene.instances.material[0])];
        let decode: [f32; 256] = std::array::from_fn(|i| srgb_decode(i as f32 / 255.0));
        let env = &scene.environment;
        let mean_at = |towards_light: Vec3, y: f32| {
            let view = bake_view(
                Vec3::ZERO,
                Vec3::new(0.0, 0.0, 30.0),
                FRAC_PI_2,
                towards_light,
            );
            let g = rasterize(&scene, fish, &view, 64.0, false).expect("rasterized");
            let r = resolve(&g);
            let terms = shade(
                &r,
                &Shade {
                    texture: Texture {
                        image: &scene.atlas[m.atlas_page as usize].mips[0],
                        rect: m.atlas_rect,
                        decode: &decode,
                    },
                    tint: Vec3::from_array(m.tint),
                    emissive: m.emissive,
                    ambient: Vec3::from_array(env.ambient),
                    light: view.light,
                    scale: 1.0,
                },
            );
            // Mean of the upper and of the lower half.
            let (level, mean) = light(&r, &terms, y);
            let half = |rows: std::ops::Range<usize>| {
                let (mut sum, mut n) = (0.0, 0.0);
                for y in rows {
                    for x in 0..level.width {
                        let t = level.texels[y * level.width + x];
                        sum += t[0] + t[1] + t[2];
                        n += t[3];
                    }
                }
                sum / n
            };
            (
                mean,
                half(0..level.height / 2),
                half(level.height / 2..level.height),
            )
        };
        let (deep, ..) = mean_at(Vec3::Y, -10.0);
        let (high, top, bottom) = mean_at(Vec3::Y, 10.0);
        assert!(
            high.element_sum() > deep.element_sum() * 1.1,
            "{high} vs {deep}"
        );
        // Lit from above the back is brighter relative to the belly than lit from below.
        let (_, top_below, bottom_below) = mean_at(Vec3::NEG_Y, 10.0);
        assert!(
            top / bottom > 1.5 * top_below / bottom_below,
            "{top}/{bottom} vs {top_below}/{bottom_below}"
        );
    }

    #[test]
    fn baking_in_pieces_gives_the_same_sheet() {
        let scene = scene();
        let camera = camera();
        let mut baker = SheetBaker::new(&scene, &camera);
        let mut pieces = 1;
        while !baker.step(&scene) {
            pieces += 1;
        }
        // Fish at 2 headings, rocks and kelp at 4, snow at 1.
        assert_eq!(pieces, 11);
        assert!(baker.step(&scene), "done stays done");
        assert_eq!(baker.finish(), SpriteSheet::bake(&scene, &camera));
    }

    #[test]
    fn a_turning_camera_makes_the_sheet_stale() {
        let scene = scene();
        let mut orbit = OrbitCamera::default();
        let sheet = SpriteSheet::bake(&scene, &orbit.camera(1.5));
        assert!(!sheet.stale(&orbit.camera(1.5)));
        orbit.rotate(REBAKE_ANGLE * 0.5, 0.0);
        assert!(!sheet.stale(&orbit.camera(1.5)));
        orbit.rotate(REBAKE_ANGLE, 0.0);
        assert!(sheet.stale(&orbit.camera(1.5)));
    }

    #[test]
    fn the_level_is_the_coarsest_that_is_fine_enough() {
        let rect = |ppu| SheetRect {
            x: 0,
            y: 0,
            width: 4,
            height: 4,
            origin: [0.0; 2],
            pixels_per_unit: ppu,
        };
        let s = BakedSprite {
            y: 0.0,
            colour: vec![rect(64.0), rect(32.0), rect(16.0)],
            glow: Vec::new(),
            mean: Vec3::ZERO,
        };
        assert_eq!(s.level(100.0), 0);
        assert_eq!(s.level(40.0), 0);
        assert_eq!(s.level(32.0), 1);
        assert_eq!(s.level(20.0), 1);
        assert_eq!(s.level(3.0), 2);
    }
}

//! Procedural material textures for the standard scene. Alpha carries the emissive
//! mask (the candlefish's photophores, glowing marine snow).

use crate::assets::atlas::Image;
use crate::rng::Rng;

fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
}

/// sRGB-encoded RGBA from linear-ish components in 0..1.
fn rgba(r: f32, g: f32, b: f32, a: f32) -> [u8; 4] {
    let enc = |c: f32| c.clamp(0.0, 1.0).powf(1.0 / 2.2);
    [to_u8(enc(r)), to_u8(enc(g)), to_u8(enc(b)), to_u8(a)]
}

/// Smooth value noise in 0..1 on a periodic `period`-cell lattice.
fn value_noise(x: f32, y: f32, period: u32, seed: u64) -> f32 {
    let hash = |ix: i64, iy: i64| -> f32 {
        let ix = ix.rem_euclid(i64::from(period)) as u64;
        let iy = iy.rem_euclid(i64::from(period)) as u64;
        let mut r = Rng::new(seed ^ (ix * 0x9E37_79B9) ^ (iy << 32));
        r.unit()
    };
    let (fx, fy) = (x.floor(), y.floor());
    let (tx, ty) = (x - fx, y - fy);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let (ix, iy) = (fx as i64, fy as i64);
    let a = hash(ix, iy) + (hash(ix + 1, iy) - hash(ix, iy)) * sx;
    let b = hash(ix, iy + 1) + (hash(ix + 1, iy + 1) - hash(ix, iy + 1)) * sx;
    a + (b - a) * sy
}

/// The standard scene's textures by name (`fish-skin-0`, `fish-skin-1`, `rock`,
/// `rock-moss`, `kelp`, `snow`): the one place that fixes their sizes (the PNG
/// sources in `assets/textures` are generated from these). Sizes are small on
/// purpose: they ship in the first route's 200 KB.
pub fn standard_texture(name: &str) -> Option<Image> {
    Some(match name {
        "fish-skin-0" => fish_skin(128, 64, 0),
        "fish-skin-1" => fish_skin(128, 64, 1),
        "rock" => rock(64, false, 3),
        "rock-moss" => rock(64, true, 4),
        "kelp" => kelp(32, 64),
        "snow" => snow(16),
        _ => return None,
    })
}

/// Fish skin: dark blue-green back, silver belly, faint scales, a row of photophores
/// along the belly in alpha. `variant` shifts the pattern.
pub fn fish_skin(width: u32, height: u32, variant: u32) -> Image {
    let mut img = Image::new(width, height);
    for y in 0..height {
        for x in 0..width {
            let u = (x as f32 + 0.5) / width as f32;
            let v = (y as f32 + 0.5) / height as f32;
            if u > 0.8 {
                // Tail fin region: translucent grey with rays.
                let ray = 0.5 + 0.5 * (v * 60.0).sin();
                img.set(x, y, rgba(0.35 + 0.1 * ray, 0.4 + 0.1 * ray, 0.45, 0.0));
                continue;
            }
            // u runs around the body: 0.25 * 0.8 is the top (back), 0.75 * 0.8 the belly.
            let around = u / 0.8;
            let back = (around * std::f32::consts::TAU).sin() * 0.5 + 0.5;
            let scales = 0.9 + 0.1 * ((u * 90.0).sin() * (v * 70.0).sin());
            let (r, g, b) = if variant == 0 {
                (
                    0.08 + 0.55 * (1.0 - back),
                    0.16 + 0.55 * (1.0 - back),
                    0.22 + 0.5 * (1.0 - back),
                )
            } else {
                (
                    0.12 + 0.5 * (1.0 - back),
                    0.14 + 0.45 * (1.0 - back),
                    0.16 + 0.35 * (1.0 - back),
                )
            };
            // Photophores: spots in a line low on each flank.
            let flank = ((around - 0.62).abs().min((around - 0.88).abs()) * 40.0).min(1.0);
            let along = ((v * (14.0 + variant as f32 * 3.0)).fract() - 0.5).abs() * 2.0;
            let spot = ((1.0 - flank) * (1.0 - along * 1.4)).clamp(0.0, 1.0);
            let glow = if v > 0.15 && v < 0.9 { spot } else { 0.0 };
            img.set(x, y, rgba(r * scales, g * scales, b * scales, glow));
        }
    }
    img
}

/// Rock: mottled grey-brown, optionally mossy.
pub fn rock(size: u32, mossy: bool, seed: u64) -> Image {
    let mut img = Image::new(size, size);
    for y in 0..size {
        for x in 0..size {
            let (fx, fy) = (x as f32 / size as f32, y as f32 / size as f32);
            let n = 0.55 * value_noise(fx * 8.0, fy * 8.0, 8, seed)
                + 0.3 * value_noise(fx * 16.0, fy * 16.0, 16, seed + 1)
                + 0.15 * value_noise(fx * 32.0, fy * 32.0, 32, seed + 2);
            let (mut r, mut g, mut b) = (0.18 + 0.25 * n, 0.16 + 0.22 * n, 0.14 + 0.2 * n);
            if mossy {
                let m =
                    ((value_noise(fx * 6.0, fy * 6.0, 6, seed + 9) - 0.45) * 4.0).clamp(0.0, 1.0);
                r = r * (1.0 - m) + 0.1 * m;
                g = g * (1.0 - m) + 0.3 * m;
                b = b * (1.0 - m) + 0.12 * m;
            }
            img.set(x, y, rgba(r, g, b, 0.0));
        }
    }
    img
}

/// Kelp: olive-green blade with a lighter midrib along v.
pub fn kelp(width: u32, height: u32) -> Image {
    let mut img = Image::new(width, height);
    for y in 0..height {
        for x in 0..width {
            let u = (x as f32 + 0.5) / width as f32;
            let v = (y as f32 + 0.5) / height as f32;
            let rib = (1.0 - ((u - 0.5).abs() * 12.0)).max(0.0);
            let streak = 0.85 + 0.15 * (u * 40.0 + v * 6.0).sin();
            let r = (0.14 + 0.12 * rib) * streak;
            let g = (0.22 + 0.18 * rib + 0.1 * v) * streak;
            let b = (0.05 + 0.04 * rib) * streak;
            img.set(x, y, rgba(r, g, b, 0.0));
        }
    }
    img
}

/// Marine snow: pale, softly glowing.
pub fn snow(size: u32) -> Image {
    let mut img = Image::new(size, size);
    for y in 0..size {
        for x in 0..size {
            let d =
                ((x as f32 + 0.5) / size as f32 - 0.5).hypot((y as f32 + 0.5) / size as f32 - 0.5);
            let glow = (1.0 - d * 2.0).clamp(0.0, 1.0);
            img.set(x, y, rgba(0.7, 0.8, 0.85, 0.4 + 0.6 * glow));
        }
    }
    img
}

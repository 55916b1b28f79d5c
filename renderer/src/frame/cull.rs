//! Per-instance frustum culling over structure-of-arrays bounding spheres.
//!
//! The hot loop works on lanes of [`LANES`] instances with plain `f32` arithmetic and
//! a branch-free compaction, so LLVM turns it into SSE/AVX natively and `simd128` on
//! wasm32 (built with `-C target-feature=+simd128`). [`cull_spheres_scalar`] is the
//! obvious one-at-a-time reference it is tested and benchmarked against.

use glam::{Mat4, Vec3, Vec4};

/// Instances processed together by the vectorised loop.
pub const LANES: usize = 8;

/// The six planes of a view frustum, each `(normal, d)` with the normal pointing
/// inwards and normalised, so `dot(normal, p) + d` is the signed distance of `p`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frustum {
    /// Left, right, bottom, top, near, far.
    pub planes: [Vec4; 6],
}

impl Frustum {
    /// Extracts the planes of `clip_from_world`, for wgpu's clip space
    /// (x and y in -1..1, depth in 0..1).
    pub fn from_clip_from_world(clip_from_world: Mat4) -> Self {
        let r0 = clip_from_world.row(0);
        let r1 = clip_from_world.row(1);
        let r2 = clip_from_world.row(2);
        let r3 = clip_from_world.row(3);
        let planes = [r3 + r0, r3 - r0, r3 + r1, r3 - r1, r2, r3 - r2].map(|p| {
            let len = p.truncate().length();
            if len > 0.0 && len.is_finite() {
                p / len
            } else {
                // A degenerate projection: a plane that rejects everything.
                Vec4::new(0.0, 0.0, 0.0, -1.0)
            }
        });
        Self { planes }
    }

    /// Whether a sphere lies at least partly inside. Non-finite input is outside.
    pub fn intersects_sphere(&self, center: Vec3, radius: f32) -> bool {
        if !(center.is_finite() && radius.is_finite()) {
            return false;
        }
        self.planes
            .iter()
            .all(|p| p.truncate().dot(center) + p.w + radius >= 0.0)
    }
}

/// Bounding spheres in structure-of-arrays form: the slices must have equal lengths.
#[derive(Clone, Copy, Debug)]
pub struct Spheres<'a> {
    /// Centre x coordinates.
    pub x: &'a [f32],
    /// Centre y coordinates.
    pub y: &'a [f32],
    /// Centre z coordinates.
    pub z: &'a [f32],
    /// Radii.
    pub radius: &'a [f32],
}

impl Spheres<'_> {
    /// Number of spheres (the shortest slice, should they differ).
    pub fn len(&self) -> usize {
        self.x
            .len()
            .min(self.y.len())
            .min(self.z.len())
            .min(self.radius.len())
    }

    /// Whether there are no spheres.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reference implementation: one sphere at a time. Writes the indices of visible
/// spheres to `visible` (cleared first).
pub fn cull_spheres_scalar(frustum: &Frustum, spheres: Spheres<'_>, visible: &mut Vec<u32>) {
    visible.clear();
    for i in 0..spheres.len() {
        let center = Vec3::new(spheres.x[i], spheres.y[i], spheres.z[i]);
        if frustum.intersects_sphere(center, spheres.radius[i]) {
            visible.push(i as u32);
        }
    }
}

/// Vectorised culling: same result as [`cull_spheres_scalar`], in index order.
pub fn cull_spheres(frustum: &Frustum, spheres: Spheres<'_>, visible: &mut Vec<u32>) {
    let n = spheres.len();
    visible.clear();
    // Room for the branch-free writes, which may store up to LANES past the count.
    visible.resize(n + LANES, 0);
    let planes = frustum.planes.map(|p| p.to_array());
    let (xs, ys, zs, rs) = (
        &spheres.x[..n],
        &spheres.y[..n],
        &spheres.z[..n],
        &spheres.radius[..n],
    );
    let mut count = 0usize;
    let full = n / LANES * LANES;
    let mut base = 0;
    while base < full {
        let mask = lane_mask(
            &planes,
            lane(xs, base),
            lane(ys, base),
            lane(zs, base),
            lane(rs, base),
        );
        for (j, &m) in mask.iter().enumerate() {
            visible[count] = (base + j) as u32;
            count += usize::from(m);
        }
        base += LANES;
    }
    // The tail goes through the same lane code, padded with spheres that never pass.
    if base < n {
        let mut tail = [[f32::NAN; LANES]; 4];
        let rest = n - base;
        tail[0][..rest].copy_from_slice(&xs[base..]);
        tail[1][..rest].copy_from_slice(&ys[base..]);
        tail[2][..rest].copy_from_slice(&zs[base..]);
        tail[3][..rest].copy_from_slice(&rs[base..]);
        let mask = lane_mask(&planes, tail[0], tail[1], tail[2], tail[3]);
        for (j, &m) in mask.iter().enumerate() {
            visible[count] = (base + j) as u32;
            count += usize::from(m);
        }
    }
    visible.truncate(count);
}

#[inline(always)]
fn lane(values: &[f32], base: usize) -> [f32; LANES] {
    let mut out = [0.0; LANES];
    out.copy_from_slice(&values[base..base + LANES]);
    out
}

#[inline(always)]
fn lane_mask(
    planes: &[[f32; 4]; 6],
    x: [f32; LANES],
    y: [f32; LANES],
    z: [f32; LANES],
    r: [f32; LANES],
) -> [bool; LANES] {
    let mut inside = [true; LANES];
    for j in 0..LANES {
        // v * 0 is NaN for NaN and infinities, 0 otherwise: the sum is 0 only when
        // every component is finite, and NaN fails every comparison below.
        let finite = x[j] * 0.0 + y[j] * 0.0 + z[j] * 0.0 + r[j] * 0.0;
        inside[j] = finite == 0.0;
    }
    for p in planes {
        for j in 0..LANES {
            let d = p[0] * x[j] + p[1] * y[j] + p[2] * z[j] + p[3] + r[j];
            inside[j] &= d >= 0.0;
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::camera::Camera;

    fn test_frustum() -> (Frustum, Camera) {
        // Looking down -z from the origin, 90° vertical fov, square viewport.
        let camera = Camera {
            eye: Vec3::ZERO,
            target: Vec3::NEG_Z,
            up: Vec3::Y,
            fov_y: std::f32::consts::FRAC_PI_2,
            aspect: 1.0,
            near: 1.0,
            far: 100.0,
        };
        (
            Frustum::from_clip_from_world(camera.clip_from_world()),
            camera,
        )
    }

    fn both(frustum: &Frustum, xs: &[f32], ys: &[f32], zs: &[f32], rs: &[f32]) -> Vec<u32> {
        let spheres = Spheres {
            x: xs,
            y: ys,
            z: zs,
            radius: rs,
        };
        let mut a = Vec::new();
        let mut b = Vec::new();
        cull_spheres_scalar(frustum, spheres, &mut a);
        cull_spheres(frustum, spheres, &mut b);
        assert_eq!(a, b, "vectorised and scalar culling disagree");
        b
    }

    fn visible_one(frustum: &Frustum, c: Vec3, r: f32) -> bool {
        !both(frustum, &[c.x], &[c.y], &[c.z], &[r]).is_empty()
    }

    #[test]
    fn planes_are_normalised_and_point_inwards() {
        let (f, _) = test_frustum();
        let inside = Vec3::new(0.0, 0.0, -10.0);
        for p in f.planes {
            assert!((p.truncate().length() - 1.0).abs() < 1e-5);
            assert!(p.truncate().dot(inside) + p.w > 0.0);
        }
    }

    #[test]
    fn spheres_just_inside_and_outside_each_plane() {
        let (f, _) = test_frustum();
        let eps = 1e-2;
        // At depth 10 the side planes are at |x| = 10 and |y| = 10 (fov 90°). The
        // distance from a point to a 45° plane is (|x| - 10) / sqrt(2).
        let s = std::f32::consts::SQRT_2;
        for (dir, name) in [
            (Vec3::X, "right"),
            (Vec3::NEG_X, "left"),
            (Vec3::Y, "top"),
            (Vec3::NEG_Y, "bottom"),
        ] {
            let r = 1.0;
            let just_in = Vec3::new(0.0, 0.0, -10.0) + dir * (10.0 + r * s - eps);
            let just_out = Vec3::new(0.0, 0.0, -10.0) + dir * (10.0 + r * s + eps);
            assert!(visible_one(&f, just_in, r), "{name}: just inside culled");
            assert!(!visible_one(&f, just_out, r), "{name}: just outside kept");
        }
        // Near plane at z = -1, far at z = -100.
        assert!(visible_one(&f, Vec3::new(0.0, 0.0, -1.0 + 0.5 - eps), 0.5));
        assert!(!visible_one(&f, Vec3::new(0.0, 0.0, -1.0 + 0.5 + eps), 0.5));
        assert!(visible_one(
            &f,
            Vec3::new(0.0, 0.0, -100.0 - 0.5 + eps),
            0.5
        ));
        assert!(!visible_one(
            &f,
            Vec3::new(0.0, 0.0, -100.0 - 0.5 - eps),
            0.5
        ));
    }

    #[test]
    fn behind_the_camera_is_culled() {
        let (f, _) = test_frustum();
        assert!(!visible_one(&f, Vec3::new(0.0, 0.0, 10.0), 1.0));
        assert!(!visible_one(&f, Vec3::new(3.0, -2.0, 50.0), 5.0));
    }

    #[test]
    fn straddling_and_huge_spheres_are_kept() {
        let (f, _) = test_frustum();
        // Centre outside the right plane, radius reaching in.
        assert!(visible_one(&f, Vec3::new(12.0, 0.0, -10.0), 2.0));
        // Straddling the near plane with the centre behind the camera.
        assert!(visible_one(&f, Vec3::new(0.0, 0.0, 0.5), 2.0));
        // A sphere containing the whole frustum.
        assert!(visible_one(&f, Vec3::ZERO, 1.0e6));
    }

    #[test]
    fn non_finite_input_is_culled_without_panic() {
        let (f, _) = test_frustum();
        for (c, r) in [
            (Vec3::new(f32::NAN, 0.0, -10.0), 1.0),
            (Vec3::new(0.0, f32::INFINITY, -10.0), 1.0),
            (Vec3::new(0.0, 0.0, f32::NEG_INFINITY), 1.0),
            (Vec3::new(0.0, 0.0, -10.0), f32::INFINITY),
            (Vec3::new(0.0, 0.0, -10.0), f32::NAN),
        ] {
            assert!(!visible_one(&f, c, r), "non-finite {c:?} r={r} kept");
        }
    }

    #[test]
    fn vectorised_matches_scalar_on_many_random_spheres() {
        let (f, _) = test_frustum();
        let mut rng = crate::rng::Rng::new(7);
        // Odd length so the padded tail is exercised, with a sprinkle of NaN.
        let n = 10_003;
        let mut cols = [vec![], vec![], vec![], vec![]];
        for i in 0..n {
            cols[0].push(rng.range(-120.0, 120.0));
            cols[1].push(rng.range(-120.0, 120.0));
            cols[2].push(rng.range(-150.0, 30.0));
            cols[3].push(if i % 97 == 0 {
                f32::NAN
            } else {
                rng.range(0.0, 8.0)
            });
        }
        let visible = both(&f, &cols[0], &cols[1], &cols[2], &cols[3]);
        assert!(!visible.is_empty() && visible.len() < n);
        assert!(visible.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn mismatched_slices_use_the_shortest() {
        let (f, _) = test_frustum();
        let v = both(&f, &[0.0, 0.0], &[0.0], &[-10.0, -10.0], &[1.0, 1.0]);
        assert_eq!(v, vec![0]);
    }
}

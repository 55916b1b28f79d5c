//! The impostor tier: for a fish that covers a few pixels, a dozen textured
//! triangles instead of a mesh. It is an ordinary extra LOD tier, made at pack time
//! (and for the procedural standard scene) from the mesh itself, so no shader or
//! backend knows about it:
//!
//! - the side silhouette along the body axis (+z): at [`ImpostorOptions::stations`]
//!   stations from tail to snout, the lowest and highest vertex near the station;
//! - drawn twice, as two vertical strips a little either side of the midplane
//!   (x = ±half the mesh's half-width), each wound to face outwards, so whichever side
//!   the camera is on, the nearer strip faces it (the pipeline culls no faces and the
//!   fragment shader flips back-facing normals: one strip alone would be lit on one
//!   side and dark on the other);
//! - each strip's normal is the mean normal of the mesh's vertices on its side, and
//!   each corner's texture coordinate is that of the nearest mesh vertex on its side,
//!   so it samples the same part of the material's atlas rectangle (the skin's back,
//!   belly and fin).
//!
//! The extra vertices lie inside the mesh's bounds, so they quantize with it. The
//! tier's error is the largest distance from a mesh vertex to the impostor, but at
//! least [`ImpostorOptions::error_factor`] times the previous tier's: the flat strips
//! do not shade like the body, so they are only taken where the previous tier's error
//! is well below a pixel.

use glam::{Vec2, Vec3};

use crate::scene::mesh::{MAX_TIERS, SourceMesh};

/// How the impostor is made.
#[derive(Clone, Debug, PartialEq)]
pub struct ImpostorOptions {
    /// Stations along the body (at least 2): `2 × (stations − 1)` triangles a strip.
    pub stations: usize,
    /// The tier's error is at least this times the previous tier's.
    pub error_factor: f32,
}

impl Default for ImpostorOptions {
    fn default() -> Self {
        Self {
            stations: 4,
            error_factor: 2.0,
        }
    }
}

/// Appends the impostor's vertices to `mesh` and its tier to `tiers` (indices
/// relative to `mesh`, as [`crate::assets::simplify::build_tiers`] makes them).
/// Returns `false`, changing nothing, when there is no room for another tier or the
/// mesh is empty or flat along z.
pub fn add_impostor_tier(
    mesh: &mut SourceMesh,
    tiers: &mut Vec<(Vec<u32>, f32)>,
    options: &ImpostorOptions,
) -> bool {
    let n = mesh.positions.len();
    if tiers.len() >= MAX_TIERS || n == 0 || mesh.uvs.len() != n || mesh.normals.len() != n {
        return false;
    }
    let stations = options.stations.max(2);
    let (lo, hi) = mesh.bounds();
    let length = hi.z - lo.z;
    if length <= 1e-6 {
        return false;
    }
    let half_width = mesh
        .positions
        .iter()
        .map(|p| p.x.abs())
        .fold(0.0f32, f32::max);
    let offset = 0.5 * half_width;
    let spacing = length / (stations - 1) as f32;

    // The silhouette: lowest and highest y near each station.
    let extents: Vec<(f32, f32, f32)> = (0..stations)
        .map(|s| {
            let z = lo.z + spacing * s as f32;
            let near = mesh
                .positions
                .iter()
                .filter(|p| (p.z - z).abs() <= 0.5 * spacing + 1e-6);
            let (y_lo, y_hi) =
                near.fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p.y), b.max(p.y)));
            if y_lo <= y_hi {
                (z, y_lo, y_hi)
            } else {
                (z, 0.5 * (lo.y + hi.y), 0.5 * (lo.y + hi.y))
            }
        })
        .collect();

    let mut indices = Vec::with_capacity(2 * 6 * (stations - 1));
    let mut added: Vec<(Vec3, Vec3, Vec2)> = Vec::with_capacity(4 * stations);
    for side in [1.0f32, -1.0] {
        let on_side: Vec<usize> = (0..n)
            .filter(|&i| mesh.positions[i].x * side >= 0.0)
            .collect();
        let normal = on_side
            .iter()
            .map(|&i| mesh.normals[i])
            .fold(Vec3::ZERO, |a, b| a + b)
            .try_normalize()
            .unwrap_or(Vec3::X * side);
        let base = (n + added.len()) as u32;
        for &(z, y_lo, y_hi) in &extents {
            for y in [y_hi, y_lo] {
                let p = Vec3::new(side * offset, y, z);
                let uv = on_side
                    .iter()
                    .copied()
                    .min_by(|&a, &b| {
                        let da = (mesh.positions[a] - p).truncate_x().length_squared();
                        let db = (mesh.positions[b] - p).truncate_x().length_squared();
                        da.total_cmp(&db)
                    })
                    .map_or(Vec2::splat(0.5), |i| mesh.uvs[i]);
                added.push((p, normal, uv));
            }
        }
        for s in 0..stations as u32 - 1 {
            let (top, bottom) = (base + 2 * s, base + 2 * s + 1);
            let (next_top, next_bottom) = (top + 2, bottom + 2);
            // Counter-clockwise seen from the side the strip faces (+x or -x).
            if side > 0.0 {
                indices.extend([top, next_top, bottom, bottom, next_top, next_bottom]);
            } else {
                indices.extend([top, bottom, next_top, bottom, next_bottom, next_top]);
            }
        }
    }
    for (p, normal, uv) in added {
        mesh.positions.push(p);
        mesh.normals.push(normal);
        mesh.uvs.push(uv);
    }

    let triangles: Vec<[Vec3; 3]> = indices
        .chunks_exact(3)
        .map(|t| [t[0], t[1], t[2]].map(|i| mesh.positions[i as usize]))
        .collect();
    let distance = mesh.positions[..n]
        .iter()
        .map(|&p| {
            triangles
                .iter()
                .map(|t| distance_to_triangle(p, t))
                .fold(f32::INFINITY, f32::min)
        })
        .fold(0.0f32, f32::max);
    let previous = tiers.last().map_or(0.0, |t| t.1);
    tiers.push((indices, distance.max(previous * options.error_factor)));
    true
}

trait TruncateX {
    /// The (y, z) part.
    fn truncate_x(self) -> Vec2;
}

impl TruncateX for Vec3 {
    fn truncate_x(self) -> Vec2 {
        Vec2::new(self.y, self.z)
    }
}

/// Distance from `p` to the triangle `t` (Ericson, *Real-Time Collision Detection*,
/// 5.1.5, closest point on a triangle).
fn distance_to_triangle(p: Vec3, t: &[Vec3; 3]) -> f32 {
    let [a, b, c] = *t;
    let (ab, ac, ap) = (b - a, c - a, p - a);
    let (d1, d2) = (ab.dot(ap), ac.dot(ap));
    if d1 <= 0.0 && d2 <= 0.0 {
        return p.distance(a);
    }
    let bp = p - b;
    let (d3, d4) = (ab.dot(bp), ac.dot(bp));
    if d3 >= 0.0 && d4 <= d3 {
        return p.distance(b);
    }
    let vc = d1 * d4 - d3 * d2;
    if vc <= 0.0 && d1 >= 0.0 && d3 <= 0.0 {
        let v = d1 / (d1 - d3);
        return p.distance(a + ab * v);
    }
    let cp = p - c;
    let (d5, d6) = (ab.dot(cp), ac.dot(cp));
    if d6 >= 0.0 && d5 <= d6 {
        return p.distance(c);
    }
    let vb = d5 * d2 - d1 * d6;
    if vb <= 0.0 && d2 >= 0.0 && d6 <= 0.0 {
        let w = d2 / (d2 - d6);
        return p.distance(a + ac * w);
    }
    let va = d3 * d6 - d5 * d4;
    if va <= 0.0 && (d4 - d3) >= 0.0 && (d5 - d6) >= 0.0 {
        let w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
        return p.distance(b + (c - b) * w);
    }
    let denom = va + vb + vc;
    if denom.abs() <= f32::MIN_POSITIVE {
        // Degenerate (a line or a point): the nearest of its corners.
        return p.distance(a).min(p.distance(b)).min(p.distance(c));
    }
    let (v, w) = (vb / denom, vc / denom);
    p.distance(a + ab * v + ac * w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::procedural;
    use crate::assets::simplify::{LodOptions, build_tiers, optimize_mesh};

    fn fish_with_impostor() -> (SourceMesh, usize, Vec<(Vec<u32>, f32)>) {
        let mut fish = procedural::fish(32, 16);
        optimize_mesh(&mut fish);
        let mut tiers = build_tiers(&fish, &LodOptions::default());
        let before = fish.positions.len();
        assert!(add_impostor_tier(
            &mut fish,
            &mut tiers,
            &ImpostorOptions::default()
        ));
        (fish, before, tiers)
    }

    #[test]
    fn the_impostor_is_a_few_triangles_inside_the_bounds_with_a_larger_error() {
        let mesh_before = {
            let mut f = procedural::fish(32, 16);
            optimize_mesh(&mut f);
            f
        };
        let (fish, before, tiers) = fish_with_impostor();
        let (impostor, error) = tiers.last().cloned().unwrap_or_default();
        assert_eq!(impostor.len() / 3, 12);
        assert!(impostor.iter().all(|&i| i as usize >= before));
        assert_eq!(fish.positions.len(), before + 16);
        // Inside the mesh's bounds: the quantization box and the radius do not grow.
        let (lo, hi) = mesh_before.bounds();
        for p in &fish.positions[before..] {
            assert!(p.cmpge(lo - 1e-6).all() && p.cmple(hi + 1e-6).all(), "{p}");
        }
        let previous = tiers[tiers.len() - 2].1;
        assert!(
            error >= 2.0 * previous && error < 0.5,
            "{error} vs {previous}"
        );
        // The silhouette spans the fish: tail fin to snout, fin tips included.
        let ys: Vec<f32> = fish.positions[before..].iter().map(|p| p.y).collect();
        let max_y = ys.iter().copied().fold(f32::MIN, f32::max);
        assert!(max_y > 0.1, "{max_y}");
    }

    #[test]
    fn each_strip_faces_outwards_and_samples_its_own_side() {
        let (fish, before, tiers) = fish_with_impostor();
        let (impostor, _) = tiers.last().cloned().unwrap_or_default();
        for t in impostor.chunks_exact(3) {
            let [a, b, c] = [t[0], t[1], t[2]].map(|i| fish.positions[i as usize]);
            let face = (b - a).cross(c - a);
            if face.length() < 1e-9 {
                continue; // the snout's pinched corner
            }
            // Counter-clockwise seen from outside: the face normal points away from
            // the midplane, like the strip's shading normal.
            assert!(face.x * a.x > 0.0, "strip at x={} faces {face}", a.x);
            let n = fish.normals[t[0] as usize];
            assert!(n.x * a.x > 0.0, "normal {n} at x={}", a.x);
        }
        // Texture coordinates come from the mesh (not the default 0.5, 0.5).
        assert!(
            fish.uvs[before..]
                .iter()
                .any(|uv| (*uv - Vec2::splat(0.5)).length() > 0.05)
        );
    }

    #[test]
    fn no_room_or_no_mesh_changes_nothing() {
        let mut empty = SourceMesh::default();
        let mut tiers = vec![(vec![], 0.0)];
        assert!(!add_impostor_tier(
            &mut empty,
            &mut tiers,
            &ImpostorOptions::default()
        ));
        let mut fish = procedural::fish(8, 6);
        let mut full = vec![(fish.indices.clone(), 0.0); MAX_TIERS];
        let before = fish.clone();
        assert!(!add_impostor_tier(
            &mut fish,
            &mut full,
            &ImpostorOptions::default()
        ));
        assert_eq!(fish, before);
    }

    #[test]
    fn point_triangle_distance() {
        let t = [Vec3::ZERO, Vec3::X, Vec3::Y];
        assert!((distance_to_triangle(Vec3::new(0.2, 0.2, 1.0), &t) - 1.0).abs() < 1e-6);
        assert!((distance_to_triangle(Vec3::new(-1.0, 0.0, 0.0), &t) - 1.0).abs() < 1e-6);
        assert!((distance_to_triangle(Vec3::new(1.0, 1.0, 0.0), &t) - 0.5f32.sqrt()).abs() < 1e-6);
    }
}

//! Procedurally generated source meshes: the candlefish, a rock, a kelp frond and a
//! marine-snow flake. Used until (and alongside) meshes imported by the asset
//! pipeline; they go through the same simplification and quantization.

use glam::{Vec2, Vec3};

use crate::rng::Rng;
use crate::scene::mesh::{MeshKind, SourceMesh};

/// The standard scene's mesh of each kind: the one place that fixes their
/// tessellation (the asset sources in `assets/` are generated from these).
pub fn standard_mesh(kind: MeshKind) -> SourceMesh {
    match kind {
        // About a thousand triangles: LOD tiers take it down for distant fish.
        MeshKind::Fish => fish(32, 16),
        MeshKind::Rock => rock(3, 17),
        MeshKind::Kelp => kelp(32),
        MeshKind::Snow => snow(),
    }
}

/// A candlefish (eulachon): slim, laterally flattened body along +z (head) with a
/// forked tail fin, about 1 unit long. UV v runs head (1) to tail (0); u around the
/// body. The fin uses the right part of its texture (u > 0.8).
pub fn fish(rings: u32, segments: u32) -> SourceMesh {
    let rings = rings.max(4);
    let segments = segments.max(4);
    let mut m = SourceMesh::default();
    // Body: rings from tail (z = -0.4) to snout (z = 0.5).
    for r in 0..=rings {
        let t = r as f32 / rings as f32;
        let z = -0.4 + 0.9 * t;
        // Profile: thin at the tail stalk, widest a third from the head, rounded snout.
        let s = (t * std::f32::consts::PI).sin().max(0.0).powf(0.7);
        let half_h = 0.02 + 0.10 * s;
        let half_w = 0.012 + 0.045 * s;
        for k in 0..segments {
            let a = k as f32 / segments as f32 * std::f32::consts::TAU;
            let (sa, ca) = a.sin_cos();
            m.positions.push(Vec3::new(half_w * ca, half_h * sa, z));
            m.uvs.push(Vec2::new(k as f32 / segments as f32 * 0.8, t));
        }
    }
    for r in 0..rings {
        for k in 0..segments {
            let a = r * segments + k;
            let b = r * segments + (k + 1) % segments;
            let c = a + segments;
            let d = b + segments;
            m.indices.extend([a, b, d, a, d, c]);
        }
    }
    // Close the snout with a fan to a tip vertex.
    let tip = m.positions.len() as u32;
    m.positions.push(Vec3::new(0.0, 0.0, 0.52));
    m.uvs.push(Vec2::new(0.4, 1.0));
    let last = rings * segments;
    for k in 0..segments {
        m.indices.extend([last + (k + 1) % segments, last + k, tip]);
    }
    // Close the tail stalk the same way.
    let stalk = m.positions.len() as u32;
    m.positions.push(Vec3::new(0.0, 0.0, -0.41));
    m.uvs.push(Vec2::new(0.4, 0.0));
    for k in 0..segments {
        m.indices.extend([k, (k + 1) % segments, stalk]);
    }
    // Forked tail fin: a thin double-sided wedge in the y-z plane.
    let fin: [(f32, f32); 5] = [
        (0.0, -0.38),
        (0.13, -0.54),
        (0.04, -0.47),
        (-0.04, -0.47),
        (-0.13, -0.54),
    ];
    for side in [-1.0f32, 1.0] {
        let base = m.positions.len() as u32;
        for (y, z) in fin {
            m.positions.push(Vec3::new(0.004 * side, y, z));
            m.uvs
                .push(Vec2::new(0.85 + (y + 0.13) * 0.5, 0.1 + (z + 0.54) * 0.5));
        }
        let tris: [[u32; 3]; 3] = [[0, 1, 2], [0, 2, 3], [0, 3, 4]];
        for t in tris {
            if side > 0.0 {
                m.indices.extend([base + t[0], base + t[1], base + t[2]]);
            } else {
                m.indices.extend([base + t[0], base + t[2], base + t[1]]);
            }
        }
    }
    m.compute_normals();
    m
}

/// A lumpy rock: an icosphere pushed in and out by seeded noise, about 1 unit across,
/// resting on y = 0.
pub fn rock(subdivisions: u32, seed: u64) -> SourceMesh {
    let mut m = icosphere(subdivisions.min(5));
    let mut rng = Rng::new(seed);
    // A few random bumps, summed: smooth and seamless, unlike per-vertex noise.
    let bumps: Vec<(Vec3, f32)> = (0..9)
        .map(|_| {
            let d = Vec3::new(
                rng.range(-1.0, 1.0),
                rng.range(-1.0, 1.0),
                rng.range(-1.0, 1.0),
            )
            .normalize_or(Vec3::Y);
            (d, rng.range(-0.18, 0.22))
        })
        .collect();
    for p in &mut m.positions {
        let d = *p;
        let mut r = 0.5;
        for (dir, amp) in &bumps {
            r += amp * d.dot(*dir).max(0.0).powi(3);
        }
        *p = Vec3::new(d.x * r, (d.y * r * 0.7).max(-0.08) + 0.28, d.z * r);
    }
    for (p, uv) in m.positions.iter().zip(m.uvs.iter_mut()) {
        *uv = Vec2::new(0.5 + 0.45 * p.x, 0.5 + 0.45 * p.z);
    }
    m.compute_normals();
    m
}

/// A kelp frond: a twisting vertical ribbon from y = 0 to 1, with uv v along it.
pub fn kelp(segments: u32) -> SourceMesh {
    let segments = segments.max(2);
    let mut m = SourceMesh::default();
    for s in 0..=segments {
        let t = s as f32 / segments as f32;
        let twist = t * 2.4;
        let width = 0.07 * (1.0 - 0.6 * t) * (0.4 + 0.6 * (t * 9.0).sin().abs());
        let (sa, ca) = twist.sin_cos();
        let side = Vec3::new(ca, 0.0, sa) * width;
        let center = Vec3::new(0.05 * (t * 5.0).sin() * t, t, 0.0);
        m.positions.push(center - side);
        m.positions.push(center + side);
        m.uvs.push(Vec2::new(0.0, t));
        m.uvs.push(Vec2::new(1.0, t));
    }
    for s in 0..segments {
        let a = s * 2;
        m.indices.extend([a, a + 1, a + 3, a, a + 3, a + 2]);
    }
    m.compute_normals();
    m
}

/// A marine-snow flake: a small octahedron, 1 unit across.
pub fn snow() -> SourceMesh {
    let mut m = SourceMesh::default();
    let dirs = [
        Vec3::X,
        Vec3::NEG_X,
        Vec3::Y,
        Vec3::NEG_Y,
        Vec3::Z,
        Vec3::NEG_Z,
    ];
    for d in dirs {
        m.positions.push(d * 0.5);
        m.uvs.push(Vec2::new(0.5 + d.x * 0.5, 0.5 + d.z * 0.5));
    }
    let faces: [[u32; 3]; 8] = [
        [0, 2, 4],
        [2, 1, 4],
        [1, 3, 4],
        [3, 0, 4],
        [2, 0, 5],
        [1, 2, 5],
        [3, 1, 5],
        [0, 3, 5],
    ];
    for f in faces {
        m.indices.extend(f);
    }
    m.compute_normals();
    m
}

/// A unit-radius icosphere with `subdivisions` rounds of splitting.
pub fn icosphere(subdivisions: u32) -> SourceMesh {
    let t = (1.0 + 5f32.sqrt()) / 2.0;
    let mut positions: Vec<Vec3> = [
        (-1.0, t, 0.0),
        (1.0, t, 0.0),
        (-1.0, -t, 0.0),
        (1.0, -t, 0.0),
        (0.0, -1.0, t),
        (0.0, 1.0, t),
        (0.0, -1.0, -t),
        (0.0, 1.0, -t),
        (t, 0.0, -1.0),
        (t, 0.0, 1.0),
        (-t, 0.0, -1.0),
        (-t, 0.0, 1.0),
    ]
    .iter()
    .map(|&(x, y, z)| Vec3::new(x, y, z).normalize())
    .collect();
    let mut faces: Vec<[u32; 3]> = vec![
        [0, 11, 5],
        [0, 5, 1],
        [0, 1, 7],
        [0, 7, 10],
        [0, 10, 11],
        [1, 5, 9],
        [5, 11, 4],
        [11, 10, 2],
        [10, 7, 6],
        [7, 1, 8],
        [3, 9, 4],
        [3, 4, 2],
        [3, 2, 6],
        [3, 6, 8],
        [3, 8, 9],
        [4, 9, 5],
        [2, 4, 11],
        [6, 2, 10],
        [8, 6, 7],
        [9, 8, 1],
    ];
    for _ in 0..subdivisions {
        let mut midpoints = std::collections::HashMap::new();
        let mut mid = |a: u32, b: u32, positions: &mut Vec<Vec3>| -> u32 {
            let key = (a.min(b), a.max(b));
            *midpoints.entry(key).or_insert_with(|| {
                let p = (positions[a as usize] + positions[b as usize]).normalize();
                positions.push(p);
                (positions.len() - 1) as u32
            })
        };
        let mut next = Vec::with_capacity(faces.len() * 4);
        for [a, b, c] in faces {
            let ab = mid(a, b, &mut positions);
            let bc = mid(b, c, &mut positions);
            let ca = mid(c, a, &mut positions);
            next.extend([[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]);
        }
        faces = next;
    }
    let uvs = vec![Vec2::ZERO; positions.len()];
    let mut m = SourceMesh {
        normals: positions.clone(),
        positions,
        uvs,
        indices: faces.into_iter().flatten().collect(),
    };
    m.compute_normals();
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(m: &SourceMesh) {
        assert_eq!(m.positions.len(), m.normals.len());
        assert_eq!(m.positions.len(), m.uvs.len());
        assert_eq!(m.indices.len() % 3, 0);
        assert!(m.indices.iter().all(|&i| (i as usize) < m.positions.len()));
        assert!(m.positions.iter().all(|p| p.is_finite()));
        assert!(
            m.uvs
                .iter()
                .all(|uv| uv.cmpge(Vec2::ZERO).all() && uv.cmple(Vec2::ONE).all())
        );
    }

    #[test]
    fn generated_meshes_are_well_formed() {
        check(&fish(32, 20));
        check(&rock(3, 1));
        check(&kelp(24));
        check(&snow());
        assert_eq!(icosphere(2).triangle_count(), 320);
    }

    #[test]
    fn fish_points_along_z_and_is_about_one_unit_long() {
        let (lo, hi) = fish(16, 12).bounds();
        assert!((hi.z - lo.z - 1.06).abs() < 0.01);
        assert!(hi.y - lo.y < 0.3 && hi.x - lo.x < 0.12);
    }
}

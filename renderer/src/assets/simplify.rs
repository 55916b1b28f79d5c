//! Asset-build-time mesh optimization and LOD tier generation with meshoptimizer.
//!
//! Native only: the C++ library is not built for wasm32, and the browser only ever
//! loads finished tiers.

use crate::scene::mesh::{MAX_TIERS, SourceMesh};

/// How tiers are built.
#[derive(Clone, Debug, PartialEq)]
pub struct LodOptions {
    /// Target triangle ratios for tiers after the first, relative to the source.
    pub ratios: Vec<f32>,
    /// A tier with fewer triangles than this is not built.
    pub min_triangles: usize,
    /// Largest acceptable error, relative to the mesh extent; coarser tiers stop here.
    pub max_relative_error: f32,
    /// Keep open borders (fins, ribbons) in place so silhouettes never open up.
    pub lock_border: bool,
}

impl Default for LodOptions {
    fn default() -> Self {
        Self {
            ratios: vec![0.5, 0.2, 0.05],
            min_triangles: 12,
            max_relative_error: 0.2,
            lock_border: true,
        }
    }
}

/// Optimizes `mesh` in place for the GPU (vertex cache, overdraw, vertex fetch order).
pub fn optimize_mesh(mesh: &mut SourceMesh) {
    let n = mesh.positions.len();
    if n == 0 || mesh.indices.is_empty() {
        return;
    }
    let positions: Vec<[f32; 3]> = mesh.positions.iter().map(|p| p.to_array()).collect();
    let mut indices = meshopt::optimize_vertex_cache(&mesh.indices, n);
    meshopt::optimize_overdraw_in_place_decoder(&mut indices, &positions, 1.05);
    let remap = meshopt::optimize_vertex_fetch_remap(&indices, n);
    mesh.indices = meshopt::remap_index_buffer(Some(&indices), n, &remap);
    // Vertices no longer referenced map to u32::MAX and are dropped by the remap.
    let used = remap.iter().filter(|&&r| r != u32::MAX).count();
    let apply = |src: &[glam::Vec3]| -> Vec<glam::Vec3> {
        let mut out = vec![glam::Vec3::ZERO; used];
        for (i, &r) in remap.iter().enumerate() {
            if let Some(slot) = out.get_mut(r as usize) {
                *slot = src[i];
            }
        }
        out
    };
    mesh.positions = apply(&mesh.positions);
    mesh.normals = apply(&mesh.normals);
    let mut uvs = vec![glam::Vec2::ZERO; used];
    for (i, &r) in remap.iter().enumerate() {
        if let Some(slot) = uvs.get_mut(r as usize) {
            *slot = mesh.uvs[i];
        }
    }
    mesh.uvs = uvs;
}

/// Builds the LOD chain of an (optimized) mesh: tier 0 is the mesh itself with error 0,
/// then one tier per ratio while triangle counts keep falling by at least 10% and the
/// error stays acceptable. Errors are absolute, in object-space units.
pub fn build_tiers(mesh: &SourceMesh, options: &LodOptions) -> Vec<(Vec<u32>, f32)> {
    let mut tiers = vec![(mesh.indices.clone(), 0.0f32)];
    if mesh.positions.is_empty() {
        return tiers;
    }
    let positions: Vec<[f32; 3]> = mesh.positions.iter().map(|p| p.to_array()).collect();
    let (lo, hi) = mesh.bounds();
    let extent = (hi - lo).max_element().max(1e-6);
    let mut flags = meshopt::SimplifyOptions::ErrorAbsolute;
    if options.lock_border {
        flags |= meshopt::SimplifyOptions::LockBorder;
    }
    let source_triangles = mesh.triangle_count();
    for &ratio in &options.ratios {
        if tiers.len() >= MAX_TIERS {
            break;
        }
        // meshoptimizer asserts that the target does not exceed the input.
        let target = (((source_triangles as f32 * ratio) as usize).max(options.min_triangles) * 3)
            .min(mesh.indices.len());
        let mut error = 0.0f32;
        let indices = meshopt::simplify_decoder(
            &mesh.indices,
            &positions,
            target,
            options.max_relative_error * extent,
            flags,
            Some(&mut error),
        );
        let previous = tiers.last().map_or(usize::MAX, |t| t.0.len());
        let fewer_enough = indices.len() * 10 <= previous * 9;
        if indices.len() < options.min_triangles * 3 || !fewer_enough {
            break;
        }
        let indices = meshopt::optimize_vertex_cache(&indices, mesh.positions.len());
        // Errors must increase along the chain even when meshopt reports a tie.
        let previous_error = tiers.last().map_or(0.0, |t| t.1);
        tiers.push((indices, error.max(previous_error + extent * 1e-4)));
    }
    tiers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::procedural;

    #[test]
    fn fish_tiers_decrease_in_triangles_and_increase_in_error() {
        let mut fish = procedural::fish(32, 20);
        optimize_mesh(&mut fish);
        let tiers = build_tiers(&fish, &LodOptions::default());
        assert!(tiers.len() >= 3, "only {} tiers", tiers.len());
        for w in tiers.windows(2) {
            assert!(w[1].0.len() < w[0].0.len());
            assert!(w[1].1 > w[0].1);
        }
        for (indices, _) in &tiers {
            assert!(indices.iter().all(|&i| (i as usize) < fish.positions.len()));
        }
    }

    #[test]
    fn tiny_meshes_get_a_single_tier() {
        let mut snow = procedural::snow();
        optimize_mesh(&mut snow);
        assert_eq!(build_tiers(&snow, &LodOptions::default()).len(), 1);
    }

    #[test]
    fn optimize_keeps_the_triangles() {
        let mut rock = procedural::rock(3, 5);
        let before = rock.triangle_count();
        optimize_mesh(&mut rock);
        assert_eq!(rock.triangle_count(), before);
        assert_eq!(rock.positions.len(), rock.uvs.len());
    }
}

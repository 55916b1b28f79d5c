//! Screen-space LOD selection with hysteresis.
//!
//! Each tier records its simplification error in object units. Projected to the
//! screen (error × scale × pixels-per-unit ÷ distance) it must stay under the preset's
//! threshold; the coarsest tier that does is chosen. To move to a coarser tier the
//! error must be under `threshold × (1 − hysteresis)`, so an instance hovering near a
//! boundary keeps its tier instead of flipping every frame.

use glam::Vec3;

use crate::scene::Instances;
use crate::scene::mesh::{MAX_TIERS, MeshLibrary};

/// Tier value meaning "no tier chosen yet".
pub const NO_TIER: u8 = u8::MAX;

/// Inputs of LOD selection for one frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LodParams {
    /// Camera position.
    pub eye: Vec3,
    /// Pixels per world unit at distance 1 ([`crate::scene::camera::Camera::pixels_per_unit_at_unit_distance`]).
    pub pixels_per_unit: f32,
    /// Largest error allowed on screen, pixels.
    pub threshold_px: f32,
    /// Fraction below the threshold needed to move to a coarser tier (e.g. 0.2).
    pub hysteresis: f32,
}

/// Per-mesh tier errors, flattened for the hot loop.
#[derive(Clone, Debug, Default)]
pub struct TierTable {
    errors: Vec<[f32; MAX_TIERS]>,
    counts: Vec<u8>,
}

impl TierTable {
    /// Builds the table from a mesh library.
    pub fn new(meshes: &MeshLibrary) -> Self {
        let mut table = Self::default();
        for mesh in &meshes.meshes {
            let mut e = [f32::INFINITY; MAX_TIERS];
            for (slot, tier) in e.iter_mut().zip(&mesh.tiers) {
                *slot = tier.error;
            }
            table.errors.push(e);
            table.counts.push(mesh.tiers.len().min(MAX_TIERS) as u8);
        }
        table
    }
}

/// Chooses a tier for each visible instance, updating `tiers` (one entry per instance,
/// holding the tier chosen last time it was visible, or [`NO_TIER`]).
pub fn select_lods(
    params: &LodParams,
    table: &TierTable,
    instances: &Instances,
    visible: &[u32],
    tiers: &mut Vec<u8>,
) {
    if tiers.len() != instances.len() {
        tiers.resize(instances.len(), NO_TIER);
    }
    let strict = params.threshold_px * (1.0 - params.hysteresis.clamp(0.0, 0.95));
    let loose = params.threshold_px;
    for &i in visible {
        let i = i as usize;
        let mesh = usize::from(instances.mesh[i]);
        let (Some(errors), Some(&count)) = (table.errors.get(mesh), table.counts.get(mesh)) else {
            tiers[i] = 0;
            continue;
        };
        let center = Vec3::new(instances.x[i], instances.y[i], instances.z[i]);
        let distance = (center.distance(params.eye) - instances.radius[i]).max(1e-3);
        let px_per_error = instances.scale[i] * params.pixels_per_unit / distance;
        let (mut t_strict, mut t_loose) = (0u8, 0u8);
        for t in 1..count {
            let px = errors[usize::from(t)] * px_per_error;
            if px <= loose {
                t_loose = t;
            }
            if px <= strict {
                t_strict = t;
            }
        }
        let prev = tiers[i];
        tiers[i] = if prev == NO_TIER || prev > t_loose {
            // First sight, or the current tier got too coarse: refine at once.
            t_loose
        } else if prev < t_strict {
            // Clearly far enough for a coarser tier.
            t_strict
        } else {
            prev
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::mesh::{LodTier, Mesh, MeshKind};
    use glam::Quat;

    fn library() -> MeshLibrary {
        let tier = |error| LodTier {
            first_index: 0,
            index_count: 3,
            error,
        };
        MeshLibrary {
            meshes: vec![Mesh {
                name: "m".into(),
                kind: MeshKind::Rock,
                bounds_min: Vec3::ZERO,
                bounds_max: Vec3::ONE,
                radius: 1.0,
                first_vertex: 0,
                vertex_count: 3,
                tiers: vec![tier(0.0), tier(0.01), tier(0.04), tier(0.16)],
            }],
            ..MeshLibrary::default()
        }
    }

    fn at(distance: f32) -> Instances {
        let mut inst = Instances::default();
        inst.push(
            Vec3::new(0.0, 0.0, -distance),
            0.0,
            Quat::IDENTITY,
            1.0,
            0,
            0,
            0.0,
        );
        inst
    }

    fn params() -> LodParams {
        // 1000 px per unit at distance 1, 1 px threshold: tier t is allowed from
        // distance error_t * 1000.
        LodParams {
            eye: Vec3::ZERO,
            pixels_per_unit: 1000.0,
            threshold_px: 1.0,
            hysteresis: 0.2,
        }
    }

    fn tier_at(distance: f32, tiers: &mut Vec<u8>) -> u8 {
        let table = TierTable::new(&library());
        select_lods(&params(), &table, &at(distance), &[0], tiers);
        tiers[0]
    }

    #[test]
    fn thresholds_pick_the_coarsest_tier_under_the_limit() {
        for (distance, expected) in [
            (5.0, 0),
            (10.5, 1),
            (39.0, 1),
            (41.0, 2),
            (170.0, 3),
            (1e6, 3),
        ] {
            let mut tiers = Vec::new();
            assert_eq!(
                tier_at(distance, &mut tiers),
                expected,
                "at distance {distance}"
            );
        }
    }

    #[test]
    fn hysteresis_keeps_the_tier_near_a_boundary() {
        let mut tiers = Vec::new();
        // Tier 2 becomes allowed at 40 (loose) but only taken from 50 (strict, 40/0.8).
        assert_eq!(tier_at(30.0, &mut tiers), 1);
        assert_eq!(
            tier_at(45.0, &mut tiers),
            1,
            "coarsened inside the hysteresis band"
        );
        assert_eq!(tier_at(51.0, &mut tiers), 2);
        // Coming back in: stays at 2 until its error exceeds the loose threshold.
        assert_eq!(
            tier_at(41.0, &mut tiers),
            2,
            "refined inside the hysteresis band"
        );
        assert_eq!(tier_at(39.0, &mut tiers), 1);
        // Oscillating across the boundary does not flip.
        let flips = (0..20)
            .map(|k| tier_at(if k % 2 == 0 { 38.0 } else { 42.0 }, &mut tiers))
            .collect::<Vec<_>>();
        assert!(flips.iter().all(|&t| t == 1), "{flips:?}");
    }

    #[test]
    fn invisible_instances_keep_their_state_and_bad_mesh_ids_are_safe() {
        let table = TierTable::new(&library());
        let mut inst = at(100.0);
        inst.mesh[0] = 7;
        let mut tiers = Vec::new();
        select_lods(&params(), &table, &inst, &[0], &mut tiers);
        assert_eq!(tiers, vec![0]);
        select_lods(&params(), &table, &inst, &[], &mut tiers);
        assert_eq!(tiers, vec![0]);
    }
}

//! The frame plan: visible instances bucketed by (mesh, tier) and packed into one
//! compacted instance array, with one draw batch per non-empty bucket. Built on the
//! CPU, executed by a backend; testable and benchable without a GPU.

use bytemuck::{Pod, Zeroable};
use glam::Quat;

use crate::frame::lod::SKIP;
use crate::scene::Instances;
use crate::scene::mesh::{MAX_TIERS, MeshLibrary};

/// Per-instance GPU data, 32 bytes, uploaded every frame as an instance-step vertex
/// buffer (WebGL2 has no storage buffers in the vertex stage).
/// Must be kept in sync with `InstanceIn` in `shaders/scene.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct InstanceData {
    /// World position of the object origin.
    pub position: [f32; 3],
    /// Uniform scale.
    pub scale: f32,
    /// Orientation quaternion (x, y, z, w) as snorm16.
    pub orientation: [i16; 4],
    /// Animation phase in 0..1.
    pub phase: f32,
    /// Material id (bits 0..16), LOD tier (bits 16..24), reserved (24..32).
    pub packed: u32,
}

impl InstanceData {
    /// Packs one instance. The orientation is normalised (identity when it cannot
    /// be) and rounded to snorm16 without a libm call per component.
    pub fn new(
        position: [f32; 3],
        scale: f32,
        orientation: Quat,
        phase: f32,
        material: u16,
        tier: u8,
    ) -> Self {
        let len = orientation.length();
        let q = if len.is_finite() && len > 1e-12 {
            (orientation / len).to_array()
        } else {
            Quat::IDENTITY.to_array()
        };
        Self {
            position,
            scale,
            orientation: q.map(snorm16),
            phase,
            packed: u32::from(material) | (u32::from(tier) << 16),
        }
    }

    /// Material id.
    pub fn material(&self) -> u16 {
        (self.packed & 0xFFFF) as u16
    }

    /// LOD tier.
    pub fn tier(&self) -> u8 {
        ((self.packed >> 16) & 0xFF) as u8
    }
}

/// `c` in -1..=1 as snorm16, rounded half away from zero (`f32::round` would be a
/// libm call per component on baseline x86-64).
#[inline(always)]
fn snorm16(c: f32) -> i16 {
    let v = c.clamp(-1.0, 1.0) * 32767.0;
    (v + 0.5f32.copysign(v)) as i16
}

/// One instanced draw: a tier of a mesh over a run of the plan's instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DrawBatch {
    /// Mesh id.
    pub mesh: u16,
    /// Tier index.
    pub tier: u8,
    /// First instance in [`FramePlan::instances`].
    pub first_instance: u32,
    /// Number of instances.
    pub instance_count: u32,
}

/// Everything a backend needs to draw one frame's instances.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FramePlan {
    /// Compacted instance data, grouped by batch.
    pub instances: Vec<InstanceData>,
    /// Draw batches, ordered by (mesh, tier).
    pub batches: Vec<DrawBatch>,
    /// Instances considered before culling.
    pub total_instances: u32,
    /// Triangles the batches draw.
    pub triangles: u64,
}

/// Reusable scratch for bucketing (no allocation per frame once warmed up).
#[derive(Clone, Debug, Default)]
pub struct Bucketer {
    counts: Vec<u32>,
}

impl Bucketer {
    /// Buckets `visible` instances by their `keys` (one per visible instance,
    /// `mesh × MAX_TIERS + tier` as LOD selection writes them; [`SKIP`] or an unknown
    /// mesh leaves the instance out, a tier past the mesh's last is clamped) with a
    /// counting sort, and writes the compacted instance data and batches into `plan`.
    /// Both passes read `visible` and `keys` in order; only the instance columns are
    /// gathered.
    pub fn build(
        &mut self,
        meshes: &MeshLibrary,
        instances: &Instances,
        visible: &[u32],
        keys: &[u32],
        plan: &mut FramePlan,
    ) {
        profiling::scope!("Bucketer::build");
        let buckets = meshes.meshes.len() * MAX_TIERS;
        self.counts.clear();
        self.counts.resize(buckets + 1, 0);
        let valid = |key: u32| -> Option<usize> {
            let (mesh, tier) = (key as usize / MAX_TIERS, key as usize % MAX_TIERS);
            let last = meshes.meshes.get(mesh)?.tiers.len().checked_sub(1)?;
            Some(mesh * MAX_TIERS + tier.min(last))
        };
        let n = visible.len().min(keys.len());
        for &key in &keys[..n] {
            if let Some(k) = valid(key) {
                self.counts[k + 1] += 1;
            }
        }
        // Exclusive prefix sums: counts[k] becomes bucket k's start.
        for k in 1..=buckets {
            self.counts[k] += self.counts[k - 1];
        }
        let drawn = self.counts[buckets] as usize;
        plan.batches.clear();
        plan.triangles = 0;
        plan.total_instances = instances.len() as u32;
        for k in 0..buckets {
            let (start, end) = (self.counts[k], self.counts[k + 1]);
            if end > start {
                let (mesh, tier) = (k / MAX_TIERS, k % MAX_TIERS);
                plan.batches.push(DrawBatch {
                    mesh: mesh as u16,
                    tier: tier as u8,
                    first_instance: start,
                    instance_count: end - start,
                });
                let tri = meshes.meshes[mesh].tiers[tier].index_count / 3;
                plan.triangles += u64::from(tri) * u64::from(end - start);
            }
        }
        plan.instances.clear();
        plan.instances.resize(drawn, InstanceData::default());
        let columns = (
            &instances.x,
            &instances.y,
            &instances.z,
            &instances.scale,
            &instances.orientation,
            &instances.phase,
            &instances.material,
        );
        for (&i, &key) in visible[..n].iter().zip(&keys[..n]) {
            let Some(k) = valid(key) else { continue };
            let i = i as usize;
            let slot = self.counts[k] as usize;
            self.counts[k] += 1;
            let (x, y, z, scale, orientation, phase, material) = columns;
            plan.instances[slot] = InstanceData::new(
                [x[i], y[i], z[i]],
                scale[i],
                orientation[i],
                phase[i],
                material[i],
                (k % MAX_TIERS) as u8,
            );
        }
    }
}

/// Bucket keys (`mesh × MAX_TIERS + tier`) for `visible` instances with per-instance
/// `tiers`, for callers that choose tiers themselves (tests, tools).
pub fn keys_from_tiers(instances: &Instances, visible: &[u32], tiers: &[u8]) -> Vec<u32> {
    visible
        .iter()
        .map(|&i| {
            let i = i as usize;
            match (instances.mesh.get(i), tiers.get(i)) {
                (Some(&mesh), Some(&tier)) => {
                    (usize::from(mesh) * MAX_TIERS) as u32
                        + u32::from(tier).min(MAX_TIERS as u32 - 1)
                }
                _ => SKIP,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::mesh::{LodTier, Mesh, MeshKind};
    use glam::Vec3;

    fn library(tiers_per_mesh: &[usize]) -> MeshLibrary {
        let meshes = tiers_per_mesh
            .iter()
            .enumerate()
            .map(|(m, &n)| Mesh {
                name: format!("m{m}"),
                kind: MeshKind::Rock,
                bounds_min: Vec3::ZERO,
                bounds_max: Vec3::ONE,
                radius: 1.0,
                first_vertex: 0,
                vertex_count: 3,
                tiers: (0..n)
                    .map(|t| LodTier {
                        first_index: 0,
                        index_count: 3 * (10 - t as u32),
                        error: t as f32,
                    })
                    .collect(),
            })
            .collect();
        MeshLibrary {
            meshes,
            ..MeshLibrary::default()
        }
    }

    #[test]
    fn instance_data_is_32_bytes_and_packs_fields() {
        assert_eq!(std::mem::size_of::<InstanceData>(), 32);
        let d = InstanceData::new(
            [1.0, 2.0, 3.0],
            0.5,
            Quat::from_rotation_y(1.0),
            0.25,
            513,
            3,
        );
        assert_eq!((d.material(), d.tier()), (513, 3));
        let q = Quat::from_xyzw(
            f32::from(d.orientation[0]) / 32767.0,
            f32::from(d.orientation[1]) / 32767.0,
            f32::from(d.orientation[2]) / 32767.0,
            f32::from(d.orientation[3]) / 32767.0,
        );
        assert!(q.dot(Quat::from_rotation_y(1.0)).abs() > 0.9999);
    }

    #[test]
    fn snorm16_rounds_like_f32_round() {
        for k in -40_000..=40_000 {
            let c = k as f32 / 40_000.0 * 1.01;
            let expected = (c.clamp(-1.0, 1.0) * 32767.0).round() as i16;
            assert_eq!(snorm16(c), expected, "{c}");
        }
        assert_eq!(
            (snorm16(f32::NAN), snorm16(5.0), snorm16(-5.0)),
            (0, 32767, -32767)
        );
    }

    #[test]
    fn bucketing_groups_by_mesh_and_tier_and_keeps_every_visible_instance() {
        let meshes = library(&[3, 2]);
        let mut inst = Instances::default();
        // (mesh, tier) per instance.
        let spec = [
            (1, 0),
            (0, 2),
            (0, 0),
            (1, 1),
            (0, 2),
            (0, 0),
            (1, 0),
            (0, 1),
        ];
        for (k, &(m, _)) in spec.iter().enumerate() {
            inst.push(
                Vec3::splat(k as f32),
                1.0,
                Quat::IDENTITY,
                1.0,
                m,
                k as u16,
                0.0,
            );
        }
        let tiers: Vec<u8> = spec.iter().map(|&(_, t)| t).collect();
        // Instance 3 is culled.
        let visible = [0, 1, 2, 4, 5, 6, 7];
        let mut plan = FramePlan::default();
        let keys = keys_from_tiers(&inst, &visible, &tiers);
        Bucketer::default().build(&meshes, &inst, &visible, &keys, &mut plan);
        let keys: Vec<(u16, u8, u32)> = plan
            .batches
            .iter()
            .map(|b| (b.mesh, b.tier, b.instance_count))
            .collect();
        assert_eq!(keys, vec![(0, 0, 2), (0, 1, 1), (0, 2, 2), (1, 0, 2)]);
        assert_eq!(plan.instances.len(), 7);
        // Every batch's instances carry its tier, and material ids identify instances.
        for b in &plan.batches {
            for d in &plan.instances
                [b.first_instance as usize..(b.first_instance + b.instance_count) as usize]
            {
                let k = usize::from(d.material());
                assert_eq!((spec[k].0, spec[k].1), (b.mesh, b.tier));
            }
        }
        let mut seen: Vec<u16> = plan.instances.iter().map(|d| d.material()).collect();
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2, 4, 5, 6, 7]);
        assert_eq!(plan.triangles, 2 * 10 + 9 + 2 * 8 + 2 * 10);
    }

    #[test]
    fn out_of_range_mesh_ids_and_tiers_are_safe() {
        let meshes = library(&[2]);
        let mut inst = Instances::default();
        inst.push(Vec3::ZERO, 1.0, Quat::IDENTITY, 1.0, 9, 0, 0.0);
        inst.push(Vec3::ZERO, 1.0, Quat::IDENTITY, 1.0, 0, 1, 0.0);
        let mut plan = FramePlan::default();
        let keys = keys_from_tiers(&inst, &[0, 1], &[0, 200]);
        Bucketer::default().build(&meshes, &inst, &[0, 1], &keys, &mut plan);
        // A SKIP key, and a key past the end, leave the instance out.
        let mut skipped = FramePlan::default();
        Bucketer::default().build(&meshes, &inst, &[1, 1], &[SKIP, 99], &mut skipped);
        assert!(skipped.instances.is_empty());
        assert_eq!(plan.instances.len(), 1);
        assert_eq!(plan.batches[0].tier, 1, "tier clamped to the coarsest");
    }
}

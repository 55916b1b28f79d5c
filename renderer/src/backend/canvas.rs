//! The Canvas-2D fallback's frame: the same [`FramePlan`] (same culling, same LOD
//! choice) turned into depth-sorted screen-space sprites with a fog factor. Pure data,
//! so it is tested natively; the browser draws the sprites with
//! `CanvasRenderingContext2d`.

use glam::{Mat4, Quat, Vec3, Vec4};

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
            let (mut angle, mut side) = (0.0, 1.0);
            if ahead.w > 1e-4 {
                let a = ahead.truncate() / ahead.w;
                let (dx, dy) = ((a.x - ndc.x) * w, (ndc.y - a.y) * h);
                angle = dy.atan2(dx);
                let view_forward = (view_from_world * forward.extend(0.0)).truncate();
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
}

//! Cheap deterministic motion, evaluated from time alone, so that a frame at time `t`
//! is reproducible (image tests, benchmarks) and needs no simulation state.

use glam::{Quat, Vec3};

use crate::rng::Rng;
use crate::scene::Instances;

/// The school: fish circling a vertical axis in a loose torus, bobbing up and down.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SwimGroup {
    /// First instance of the group.
    pub start: usize,
    /// Centre of the school.
    pub center: Vec3,
    /// Ring radius per fish.
    pub orbit_radius: Vec<f32>,
    /// Height above the centre per fish.
    pub height: Vec<f32>,
    /// Angle on the ring at time 0.
    pub angle0: Vec<f32>,
    /// Angular speed, radians per second.
    pub angular_speed: Vec<f32>,
    /// Vertical bob amplitude.
    pub bob: Vec<f32>,
}

impl SwimGroup {
    /// Appends `count` fish to `instances` and returns their motion.
    pub(crate) fn layout(
        instances: &mut Instances,
        rng: &mut Rng,
        count: usize,
        school_radius: f32,
        mesh: u16,
        mesh_radius: f32,
        materials: &[u16],
    ) -> Self {
        // A bigger school spreads out so density stays about the same.
        let spread = (count as f32 / 12_000.0).cbrt().max(0.35);
        let mut group = Self {
            start: instances.len(),
            center: Vec3::new(0.0, 2.0, 0.0),
            ..Self::default()
        };
        for _ in 0..count {
            let r = school_radius * spread * (0.55 + 0.9 * rng.unit().sqrt());
            let thickness = 6.0 * spread;
            let h = (rng.unit() + rng.unit() + rng.unit() - 1.5) * thickness;
            let speed = rng.range(2.0, 2.8);
            let scale = rng.range(0.75, 1.15);
            let material = materials[rng.below(materials.len() as u32) as usize];
            group.orbit_radius.push(r);
            group.height.push(h);
            group.angle0.push(rng.range(0.0, std::f32::consts::TAU));
            group.angular_speed.push(speed / r.max(0.5));
            group.bob.push(rng.range(0.1, 0.5));
            instances.push(
                Vec3::ZERO,
                mesh_radius * scale,
                Quat::IDENTITY,
                scale,
                mesh,
                material,
                rng.unit(),
            );
        }
        group
    }

    /// Number of fish.
    pub fn len(&self) -> usize {
        self.orbit_radius.len()
    }

    /// Whether the group is empty.
    pub fn is_empty(&self) -> bool {
        self.orbit_radius.is_empty()
    }

    /// Writes positions and orientations at `time`.
    pub fn update(&self, time: f32, instances: &mut Instances) {
        let end = (self.start + self.len()).min(instances.len());
        let range = self.start..end;
        let (xs, ys, zs) = (
            &mut instances.x[range.clone()],
            &mut instances.y[range.clone()],
            &mut instances.z[range.clone()],
        );
        let orientation = &mut instances.orientation[range.clone()];
        let phase = &instances.phase[range];
        for i in 0..xs.len() {
            let a = self.angle0[i] + self.angular_speed[i] * time;
            let (sa, ca) = a.sin_cos();
            let breathe = 1.0 + 0.06 * (0.4 * time + self.angle0[i] * 3.0).sin();
            let r = self.orbit_radius[i] * breathe;
            let bob_arg = 1.3 * time + phase[i] * std::f32::consts::TAU;
            let (sb, cb) = bob_arg.sin_cos();
            xs[i] = self.center.x + r * ca;
            ys[i] = self.center.y + self.height[i] + self.bob[i] * sb;
            zs[i] = self.center.z + r * sa;
            // Heading along the ring (d/da of the position), pitched by the bob.
            let horizontal = r * self.angular_speed[i];
            let vertical = self.bob[i] * 1.3 * cb;
            let pitch = -(vertical / horizontal.max(1e-3)).atan();
            orientation[i] = Quat::from_rotation_y(-a) * Quat::from_rotation_x(pitch);
        }
    }
}

/// Marine snow: flakes sinking slowly and swaying, wrapping from the floor to the top.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DriftGroup {
    /// First instance of the group.
    pub start: usize,
    /// Bottom of the column.
    pub floor: f32,
    /// Height of the column.
    pub height: f32,
    /// Position at time 0.
    pub origin: Vec<Vec3>,
    /// Sinking speed, units per second.
    pub speed: Vec<f32>,
}

impl DriftGroup {
    /// Appends `count` flakes to `instances` and returns their motion.
    #[expect(clippy::too_many_arguments, reason = "layout parameters")]
    pub(crate) fn layout(
        instances: &mut Instances,
        rng: &mut Rng,
        count: usize,
        floor: f32,
        extent: f32,
        mesh: u16,
        mesh_radius: f32,
        materials: &[u16],
    ) -> Self {
        let height = 26.0;
        let mut group = Self {
            start: instances.len(),
            floor,
            height,
            ..Self::default()
        };
        for _ in 0..count {
            let p = Vec3::new(
                rng.range(-extent, extent),
                rng.range(0.0, height),
                rng.range(-extent, extent),
            );
            let scale = rng.range(0.03, 0.07);
            let material = materials[rng.below(materials.len() as u32) as usize];
            group.origin.push(p);
            group.speed.push(rng.range(0.12, 0.4));
            let q = Quat::from_rotation_y(rng.range(0.0, 1.5));
            instances.push(p, mesh_radius * scale, q, scale, mesh, material, rng.unit());
        }
        group
    }

    /// Number of flakes.
    pub fn len(&self) -> usize {
        self.origin.len()
    }

    /// Whether the group is empty.
    pub fn is_empty(&self) -> bool {
        self.origin.is_empty()
    }

    /// Writes positions at `time`.
    pub fn update(&self, time: f32, instances: &mut Instances) {
        let end = (self.start + self.len()).min(instances.len());
        let range = self.start..end;
        let phase = &instances.phase[range.clone()];
        let (xs, ys) = (&mut instances.x[range.clone()], &mut instances.y[range]);
        for i in 0..xs.len() {
            let o = self.origin[i];
            let sway = (0.5 * time + phase[i] * std::f32::consts::TAU).sin();
            xs[i] = o.x + 0.3 * sway;
            ys[i] = self.floor + (o.y - self.speed[i] * time).rem_euclid(self.height);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn school(n: usize) -> (SwimGroup, Instances) {
        let mut instances = Instances::default();
        let g = SwimGroup::layout(&mut instances, &mut Rng::new(1), n, 10.0, 0, 0.5, &[0]);
        (g, instances)
    }

    #[test]
    fn motion_is_deterministic_in_time() {
        let (g, mut a) = school(100);
        let mut b = a.clone();
        g.update(3.5, &mut a);
        g.update(1.0, &mut b);
        g.update(3.5, &mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn fish_face_the_way_they_swim() {
        let (g, mut inst) = school(50);
        let dt = 1e-2;
        g.update(2.0, &mut inst);
        let before: Vec<Vec3> = (0..inst.len()).map(|i| inst.position(i)).collect();
        let facing: Vec<Vec3> = inst.orientation.iter().map(|q| *q * Vec3::Z).collect();
        g.update(2.0 + dt, &mut inst);
        for i in 0..inst.len() {
            let v = (inst.position(i) - before[i]).normalize();
            assert!(
                v.dot(facing[i]) > 0.95,
                "fish {i}: moves {v}, faces {}",
                facing[i]
            );
        }
    }

    #[test]
    fn snow_stays_in_its_column() {
        let mut inst = Instances::default();
        let g = DriftGroup::layout(&mut inst, &mut Rng::new(2), 200, -5.0, 20.0, 0, 0.5, &[0]);
        for t in [0.0, 10.0, 1000.0] {
            g.update(t, &mut inst);
            assert!(inst.y.iter().all(|&y| (-5.0..21.0).contains(&y)));
        }
    }
}

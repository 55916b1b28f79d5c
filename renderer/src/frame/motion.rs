//! Cheap deterministic motion, evaluated from time alone, so that a frame at time `t`
//! is reproducible (image tests, benchmarks) and needs no simulation state.

use glam::{Quat, Vec3};

use crate::frame::simd::{self, F32s, LANES};
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
    /// Sine and cosine (two columns) of the bob's phase (τ × the instance's phase at
    /// layout), so the per-frame bob is an angle addition with the frame's
    /// `sin_cos(1.3 t)`.
    pub bob_phase: [Vec<f32>; 2],
    /// Sine and cosine of the breathing's phase (3 × `angle0`), likewise.
    pub breathe_phase: [Vec<f32>; 2],
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
            let phase = rng.unit();
            instances.push(
                Vec3::ZERO,
                mesh_radius * scale,
                Quat::IDENTITY,
                scale,
                mesh,
                material,
                phase,
            );
        }
        group.set_phases(&instances.phase[group.start..]);
        group
    }

    /// Recomputes [`SwimGroup::bob_phase`] and [`SwimGroup::breathe_phase`] from
    /// `angle0` and the fish's instance phases (`phase[i]` for fish `i`).
    pub fn set_phases(&mut self, phase: &[f32]) {
        let columns = |angles: &mut dyn Iterator<Item = f32>| {
            let (s, c): (Vec<f32>, Vec<f32>) = angles.map(f32::sin_cos).unzip();
            [s, c]
        };
        self.bob_phase = columns(&mut phase.iter().map(|&p| p * std::f32::consts::TAU));
        self.breathe_phase = columns(&mut self.angle0.iter().map(|&a| 3.0 * a));
    }

    /// Number of fish.
    pub fn len(&self) -> usize {
        self.orbit_radius.len()
    }

    /// Whether the group is empty.
    pub fn is_empty(&self) -> bool {
        self.orbit_radius.is_empty()
    }

    /// Writes positions and orientations at `time`, eight fish at a time: one
    /// [`simd::sin_cos`] per fish (of half its angle on the ring; error bound in
    /// [`crate::frame::simd`]), the breathing and the bob by angle addition with
    /// phases precomputed at layout, and the pitch's half-angle quaternion from square
    /// roots instead of `atan`. Agrees with [`SwimGroup::update_scalar`] to about 1e-5
    /// units and 1e-5 in the quaternion (more at large times, where the reference's
    /// own `f32` arguments lose precision).
    pub fn update(&self, time: f32, instances: &mut Instances) {
        profiling::scope!("SwimGroup::update");
        let n = self.clamped_len(instances.len());
        let range = self.start..self.start + n;
        let (xs, ys, zs) = (
            &mut instances.x[range.clone()],
            &mut instances.y[range.clone()],
            &mut instances.z[range.clone()],
        );
        let orientation = &mut instances.orientation[range];
        let columns = [
            &self.orbit_radius[..n],
            &self.height[..n],
            &self.angle0[..n],
            &self.angular_speed[..n],
            &self.bob[..n],
            &self.bob_phase[0][..n],
            &self.bob_phase[1][..n],
            &self.breathe_phase[0][..n],
            &self.breathe_phase[1][..n],
        ];
        let frame = SwimFrame::new(self.center, time);
        let full = n / LANES * LANES;
        let mut base = 0;
        while base < full {
            let out = frame.lanes(columns.map(|c| simd::load(c, base)));
            xs[base..base + LANES].copy_from_slice(&out.x);
            ys[base..base + LANES].copy_from_slice(&out.y);
            zs[base..base + LANES].copy_from_slice(&out.z);
            orientation[base..base + LANES].copy_from_slice(&out.orientation);
            base += LANES;
        }
        if base < n {
            // The tail through the same lanes, padded with harmless values.
            let fill = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0];
            let mut k = 0;
            let out = frame.lanes(columns.map(|c| {
                k += 1;
                simd::load_partial(c, base, fill[k - 1])
            }));
            let rest = n - base;
            xs[base..].copy_from_slice(&out.x[..rest]);
            ys[base..].copy_from_slice(&out.y[..rest]);
            zs[base..].copy_from_slice(&out.z[..rest]);
            orientation[base..].copy_from_slice(&out.orientation[..rest]);
        }
    }

    /// The reference update, one fish at a time with the standard library's `sin_cos`
    /// and `atan`: what [`SwimGroup::update`] is tested and benchmarked against.
    pub fn update_scalar(&self, time: f32, instances: &mut Instances) {
        let n = self.clamped_len(instances.len());
        let range = self.start..self.start + n;
        let (xs, ys, zs) = (
            &mut instances.x[range.clone()],
            &mut instances.y[range.clone()],
            &mut instances.z[range.clone()],
        );
        let orientation = &mut instances.orientation[range.clone()];
        let phase = &instances.phase[range];
        for i in 0..n {
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

    /// Fish that both the group's columns and `instances` hold.
    fn clamped_len(&self, instances: usize) -> usize {
        let columns = self
            .orbit_radius
            .len()
            .min(self.height.len())
            .min(self.angle0.len())
            .min(self.angular_speed.len())
            .min(self.bob.len())
            .min(self.bob_phase[0].len().min(self.bob_phase[1].len()))
            .min(self.breathe_phase[0].len().min(self.breathe_phase[1].len()));
        columns.min(instances.saturating_sub(self.start))
    }
}

/// What one frame of the school's motion shares across fish.
struct SwimFrame {
    time: F32s,
    center: [F32s; 3],
    /// sin and cos of 0.4 t (breathing) and of 1.3 t (bob).
    breathe_t: [F32s; 2],
    bob_t: [F32s; 2],
}

/// Eight fish moved.
struct SwimLanes {
    x: [f32; LANES],
    y: [f32; LANES],
    z: [f32; LANES],
    orientation: [Quat; LANES],
}

impl SwimFrame {
    fn new(center: Vec3, time: f32) -> Self {
        // The time terms once a frame, in f64 (exact for any scene time), then an
        // angle addition per fish.
        let sin_cos = |a: f64| {
            let (s, c) = a.sin_cos();
            [F32s::splat(s as f32), F32s::splat(c as f32)]
        };
        let time64 = f64::from(time);
        Self {
            time: F32s::splat(time),
            center: [center.x, center.y, center.z].map(F32s::splat),
            breathe_t: sin_cos(0.4 * time64),
            bob_t: sin_cos(1.3 * time64),
        }
    }

    /// Columns: orbit radius, height, angle0, angular speed, bob, bob phase sin, cos,
    /// breathing phase sin, cos.
    #[inline(always)]
    fn lanes(&self, columns: [F32s; 9]) -> SwimLanes {
        let splat = F32s::splat;
        let [r0, h, a0, w, b, bob_ps, bob_pc, breathe_ps, breathe_pc] = columns;
        let [cx, cy, cz] = self.center;
        let a = w.mul_add(self.time, a0);
        // Half-angle sine and cosine give the position's sin a, cos a too.
        let (s, c) = simd::sin_cos(a * splat(0.5));
        let sa = splat(2.0) * s * c;
        let ca = (splat(-2.0) * s).mul_add(s, splat(1.0));
        // sin(0.4 t + 3 a0) and sin, cos(1.3 t + τ phase) by angle addition.
        let [breathe_ts, breathe_tc] = self.breathe_t;
        let breathe = breathe_ts.mul_add(breathe_pc, breathe_tc * breathe_ps);
        let r = r0 * breathe.mul_add(splat(0.06), splat(1.0));
        let [bob_ts, bob_tc] = self.bob_t;
        let sb = bob_ts.mul_add(bob_pc, bob_tc * bob_ps);
        let cb = bob_tc.mul_add(bob_pc, -(bob_ts * bob_ps));
        let x = r.mul_add(ca, cx);
        let y = b.mul_add(sb, cy + h);
        let z = r.mul_add(sa, cz);
        // Heading along the ring, pitched by the bob: pitch = -atan(v / h), so the
        // half-angle rotation about x is proportional to (-v, |(h, v)| + h).
        let horizontal = (r * w).max(splat(1e-3));
        let vertical = b * splat(1.3) * cb;
        let length_sq = horizontal.mul_add(horizontal, vertical * vertical);
        let length = length_sq * simd::rsqrt(length_sq);
        let (px, pw) = (-vertical, length + horizontal);
        let inv = simd::rsqrt(px.mul_add(px, pw * pw));
        let (sx, cxh) = (px * inv, pw * inv);
        // from_rotation_y(-a) * from_rotation_x(pitch), with sin(-a/2) = -s.
        let qx = (c * sx).to_array();
        let qy = (-(cxh * s)).to_array();
        let qz = (s * sx).to_array();
        let qw = (c * cxh).to_array();
        SwimLanes {
            x: x.to_array(),
            y: y.to_array(),
            z: z.to_array(),
            orientation: std::array::from_fn(|j| Quat::from_xyzw(qx[j], qy[j], qz[j], qw[j])),
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
    /// Sine and cosine (two columns) of the sway's phase (τ × the instance's phase at
    /// layout).
    pub sway_phase: [Vec<f32>; 2],
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
            let phase = rng.unit();
            instances.push(p, mesh_radius * scale, q, scale, mesh, material, phase);
            let (s, c) = (phase * std::f32::consts::TAU).sin_cos();
            group.sway_phase[0].push(s);
            group.sway_phase[1].push(c);
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

    /// Writes positions at `time`, eight flakes at a time, the sway by angle addition
    /// (see [`SwimGroup::update`]).
    pub fn update(&self, time: f32, instances: &mut Instances) {
        profiling::scope!("DriftGroup::update");
        let n = self
            .origin
            .len()
            .min(self.speed.len())
            .min(self.sway_phase[0].len().min(self.sway_phase[1].len()))
            .min(instances.len().saturating_sub(self.start));
        let range = self.start..self.start + n;
        let (xs, ys) = (&mut instances.x[range.clone()], &mut instances.y[range]);
        let splat = F32s::splat;
        let t = splat(time);
        let (sway_ts, sway_tc) = (0.5 * f64::from(time)).sin_cos();
        let (sway_ts, sway_tc) = (splat(sway_ts as f32), splat(sway_tc as f32));
        let (floor, height) = (splat(self.floor), splat(self.height));
        let inv_height = splat(1.0 / self.height);
        let mut base = 0;
        while base < n {
            let count = (n - base).min(LANES);
            let mut ox = [0.0; LANES];
            let mut oy = [0.0; LANES];
            for (j, o) in self.origin[base..base + count].iter().enumerate() {
                ox[j] = o.x;
                oy[j] = o.y;
            }
            let [v, ps, pc] = [&self.speed, &self.sway_phase[0], &self.sway_phase[1]].map(|c| {
                if count == LANES {
                    simd::load(c, base)
                } else {
                    simd::load_partial(c, base, 0.0)
                }
            });
            let sway = sway_ts.mul_add(pc, sway_tc * ps);
            let x = sway.mul_add(splat(0.3), F32s::new(ox));
            // rem_euclid(h): what falls past the floor re-enters at the top.
            let fall = v.mul_neg_add(t, F32s::new(oy));
            let wrapped = simd::floor(fall * inv_height).mul_neg_add(height, fall);
            let wrapped = wrapped.max(splat(0.0)).min(height);
            let y = floor + wrapped;
            let (x, y) = (x.to_array(), y.to_array());
            if count == LANES {
                xs[base..base + LANES].copy_from_slice(&x);
                ys[base..base + LANES].copy_from_slice(&y);
            } else {
                xs[base..].copy_from_slice(&x[..count]);
                ys[base..].copy_from_slice(&y[..count]);
            }
            base += LANES;
        }
    }

    /// The reference update, one flake at a time with the standard library.
    pub fn update_scalar(&self, time: f32, instances: &mut Instances) {
        let end = (self.start + self.len()).min(instances.len());
        let range = self.start..end.max(self.start);
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
    fn vectorised_motion_matches_the_scalar_reference() {
        // 1003 fish: the padded tail of the last eight lanes is exercised too.
        let (g, mut fast) = school(1003);
        let mut reference = fast.clone();
        for t in [0.0, 3.5, 61.25, 3600.0] {
            g.update(t, &mut fast);
            g.update_scalar(t, &mut reference);
            for i in 0..fast.len() {
                // The reference's f32 arguments (1.3 t + τ phase) lose precision with t.
                let tolerance = 1e-4 + 1e-7 * t;
                let d = fast.position(i).distance(reference.position(i));
                assert!(d < tolerance, "t={t} fish {i}: positions {d} apart");
                let dot = fast.orientation[i].dot(reference.orientation[i]).abs();
                assert!(
                    dot > 1.0 - 1e-5,
                    "t={t} fish {i}: orientations differ ({dot})"
                );
                assert!((fast.orientation[i].length() - 1.0).abs() < 1e-5);
            }
        }
        let mut snow = Instances::default();
        let d = DriftGroup::layout(&mut snow, &mut Rng::new(5), 203, -7.0, 30.0, 0, 0.5, &[0]);
        let mut snow_reference = snow.clone();
        for t in [0.0, 3.5, 1000.0] {
            d.update(t, &mut snow);
            d.update_scalar(t, &mut snow_reference);
            for i in 0..snow.len() {
                let dx = (snow.x[i] - snow_reference.x[i]).abs();
                // Wrapping at the floor may land a hair either side: compare mod height.
                let dy = (snow.y[i] - snow_reference.y[i]).abs();
                let dy = dy.min((dy - d.height).abs());
                assert!(
                    dx < 1e-4 + 1e-7 * t && dy < 1e-3,
                    "t={t} flake {i}: {dx} {dy}"
                );
            }
        }
    }

    #[test]
    fn groups_longer_than_the_instances_are_clamped() {
        let (g, mut inst) = school(20);
        for column in [&mut inst.x, &mut inst.y, &mut inst.z, &mut inst.phase] {
            column.truncate(13);
        }
        inst.orientation.truncate(13);
        g.update(1.0, &mut inst);
        assert!(inst.x.iter().all(|x| x.is_finite()));
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

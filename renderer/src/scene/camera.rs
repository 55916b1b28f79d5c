//! Camera: view and projection for wgpu's clip space, and an orbit controller that the
//! native window, the web page and the tests drive the same way.

use glam::{Mat4, Vec3};

/// A perspective camera.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Camera {
    /// Eye position in world space.
    pub eye: Vec3,
    /// Point looked at.
    pub target: Vec3,
    /// World up direction.
    pub up: Vec3,
    /// Vertical field of view, radians.
    pub fov_y: f32,
    /// Width over height of the viewport.
    pub aspect: f32,
    /// Near plane distance (> 0).
    pub near: f32,
    /// Far plane distance (> near).
    pub far: f32,
}

impl Camera {
    /// Maps world space to view space (right-handed, looking down -z).
    pub fn view_from_world(&self) -> Mat4 {
        let forward = self.target - self.eye;
        let forward = if forward.length_squared() > 1e-12 {
            forward
        } else {
            Vec3::NEG_Z
        };
        let up = if forward.cross(self.up).length_squared() > 1e-12 {
            self.up
        } else {
            Vec3::Z
        };
        glam::camera::rh::view::look_at_mat4(self.eye, self.eye + forward, up)
    }

    /// Maps view space to clip space with depth in 0..1 (wgpu's convention).
    pub fn clip_from_view(&self) -> Mat4 {
        let near = self.near.max(1e-4);
        let far = self.far.max(near * 1.001);
        let fov = self.fov_y.clamp(0.01, 3.1);
        let aspect = if self.aspect.is_finite() && self.aspect > 0.0 {
            self.aspect
        } else {
            1.0
        };
        glam::camera::rh::proj::directx::perspective(fov, aspect, near, far)
    }

    /// Maps world space to clip space.
    pub fn clip_from_world(&self) -> Mat4 {
        self.clip_from_view() * self.view_from_world()
    }

    /// Pixels covered by one world unit at distance 1, for a viewport `height_px` high:
    /// the factor that turns an object-space error into screen pixels.
    pub fn pixels_per_unit_at_unit_distance(&self, height_px: f32) -> f32 {
        height_px / (2.0 * (self.fov_y.clamp(0.01, 3.1) * 0.5).tan())
    }
}

/// Orbit controls: yaw/pitch around a target at a distance, plus optional automatic
/// rotation (off for `prefers-reduced-motion`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrbitCamera {
    /// Point orbited.
    pub target: Vec3,
    /// Distance from the target.
    pub distance: f32,
    /// Rotation around the vertical axis, radians.
    pub yaw: f32,
    /// Elevation, radians (clamped short of the poles).
    pub pitch: f32,
    /// Automatic rotation speed, radians per second (0 to stop).
    pub auto_rotate: f32,
    /// Vertical field of view, radians.
    pub fov_y: f32,
    /// Closest allowed distance.
    pub min_distance: f32,
    /// Farthest allowed distance.
    pub max_distance: f32,
}

impl Default for OrbitCamera {
    fn default() -> Self {
        Self {
            target: Vec3::new(0.0, 2.0, 0.0),
            distance: 30.0,
            yaw: 0.6,
            pitch: 0.06,
            auto_rotate: 0.05,
            fov_y: 50f32.to_radians(),
            min_distance: 2.0,
            max_distance: 160.0,
        }
    }
}

impl OrbitCamera {
    const PITCH_LIMIT: f32 = 1.45;

    /// Rotates by the given angles (radians), e.g. from a mouse or touch drag.
    pub fn rotate(&mut self, d_yaw: f32, d_pitch: f32) {
        if d_yaw.is_finite() {
            self.yaw = (self.yaw + d_yaw).rem_euclid(std::f32::consts::TAU);
        }
        if d_pitch.is_finite() {
            self.pitch = (self.pitch + d_pitch).clamp(-Self::PITCH_LIMIT, Self::PITCH_LIMIT);
        }
    }

    /// Zooms by a factor (< 1 moves closer), e.g. from a wheel or pinch.
    pub fn zoom(&mut self, factor: f32) {
        if factor.is_finite() && factor > 0.0 {
            // max/min, not `clamp`: its panic message for bad bounds would bring core's
            // float formatting into the browser bundles (about 8 KB gzip).
            self.distance = (self.distance * factor)
                .max(self.min_distance)
                .min(self.max_distance);
        }
    }

    /// Advances automatic motion by `dt` seconds.
    pub fn advance(&mut self, dt: f32) {
        if dt.is_finite() && dt > 0.0 {
            self.rotate(self.auto_rotate * dt, 0.0);
        }
    }

    /// The camera for a viewport of the given aspect ratio.
    pub fn camera(&self, aspect: f32) -> Camera {
        let (sy, cy) = self.yaw.sin_cos();
        let (sp, cp) = self.pitch.sin_cos();
        let offset = Vec3::new(cp * sy, sp, cp * cy) * self.distance;
        Camera {
            eye: self.target + offset,
            target: self.target,
            up: Vec3::Y,
            fov_y: self.fov_y,
            aspect,
            near: 0.1,
            far: 400.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_projects_to_the_centre_with_depth_in_range() {
        let cam = OrbitCamera::default().camera(16.0 / 9.0);
        let clip = cam.clip_from_world() * cam.target.extend(1.0);
        let ndc = clip.truncate() / clip.w;
        assert!(ndc.x.abs() < 1e-4 && ndc.y.abs() < 1e-4);
        assert!(ndc.z > 0.0 && ndc.z < 1.0);
    }

    #[test]
    fn orbit_controls_clamp() {
        let mut orbit = OrbitCamera::default();
        orbit.rotate(0.0, 10.0);
        assert!(orbit.pitch <= OrbitCamera::PITCH_LIMIT);
        orbit.zoom(1e-9);
        assert_eq!(orbit.distance, orbit.min_distance);
        orbit.zoom(f32::NAN);
        orbit.rotate(f32::INFINITY, f32::NAN);
        assert!(orbit.camera(1.0).clip_from_world().is_finite());
    }

    #[test]
    fn degenerate_camera_gives_finite_matrices() {
        let cam = Camera {
            eye: Vec3::ZERO,
            target: Vec3::ZERO,
            up: Vec3::Y,
            fov_y: 0.0,
            aspect: 0.0,
            near: 0.0,
            far: 0.0,
        };
        assert!(cam.clip_from_world().is_finite());
    }
}

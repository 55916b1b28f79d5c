//! Uniform data as the shaders see it: the same bytes for wgpu's uniform buffers and
//! WebGL2's uniform blocks (std140: every member is a vec4 or an array of them).

use bytemuck::{Pod, Zeroable};

use crate::scene::camera::Camera;
use crate::scene::mesh::Mesh;
use crate::scene::{Environment, Material};

/// Material table size. Must match `MAX_MATERIALS` in `shaders/scene.wgsl`.
pub const MAX_MATERIALS: usize = 64;

/// Must be kept in sync with `Material` in `shaders/scene.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct MaterialUniform {
    /// u0, v0, u1, v1.
    pub rect: [f32; 4],
    /// Linear RGB tint and emissive strength.
    pub tint_emissive: [f32; 4],
    /// x: atlas page.
    pub page: [f32; 4],
}

/// Must be kept in sync with `Frame` in `shaders/scene.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct FrameUniforms {
    /// World to clip space.
    pub clip_from_world: [[f32; 4]; 4],
    /// Camera position and time.
    pub camera_time: [f32; 4],
    /// Fog colour and density.
    pub fog: [f32; 4],
    /// Light direction and debug view flag.
    pub light: [f32; 4],
    /// Ambient light; w: 1 when the fragment shader must encode sRGB itself (the target
    /// is not an sRGB format).
    pub ambient: [f32; 4],
    /// Width, height and their reciprocals.
    pub viewport: [f32; 4],
    /// The material table.
    pub materials: [MaterialUniform; MAX_MATERIALS],
}

impl FrameUniforms {
    /// Fills the uniforms for one frame.
    pub fn new(
        camera: &Camera,
        time: f32,
        environment: &Environment,
        materials: &[MaterialUniform; MAX_MATERIALS],
        viewport: (u32, u32),
        debug_tiers: bool,
        encode_srgb: bool,
    ) -> Self {
        let (w, h) = (viewport.0.max(1) as f32, viewport.1.max(1) as f32);
        let [fr, fg, fb] = environment.fog_color;
        let [ar, ag, ab] = environment.ambient;
        let l = environment.light_dir.normalize_or(glam::Vec3::Y);
        Self {
            clip_from_world: camera.clip_from_world().to_cols_array_2d(),
            camera_time: camera.eye.extend(time).to_array(),
            fog: [fr, fg, fb, environment.fog_density],
            light: [l.x, l.y, l.z, if debug_tiers { 1.0 } else { 0.0 }],
            ambient: [ar, ag, ab, if encode_srgb { 1.0 } else { 0.0 }],
            viewport: [w, h, 1.0 / w, 1.0 / h],
            materials: *materials,
        }
    }
}

/// The material table for the shader (materials past [`MAX_MATERIALS`] are dropped;
/// instances clamp their id in the shader).
pub fn material_table(materials: &[Material]) -> [MaterialUniform; MAX_MATERIALS] {
    let mut table = [MaterialUniform::default(); MAX_MATERIALS];
    for (slot, m) in table.iter_mut().zip(materials) {
        let [r, g, b] = m.tint;
        *slot = MaterialUniform {
            rect: m.atlas_rect,
            tint_emissive: [r, g, b, m.emissive],
            page: [m.atlas_page as f32, 0.0, 0.0, 0.0],
        };
    }
    table
}

/// Per-mesh uniforms, bound with a dynamic offset per draw. Must be kept in sync with
/// `MeshInfo` in `shaders/scene.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct MeshUniforms {
    /// Quantization origin and mesh kind.
    pub bounds_min_kind: [f32; 4],
    /// Quantization extent.
    pub bounds_extent: [f32; 4],
}

impl MeshUniforms {
    /// Uniforms decoding `mesh`'s vertices.
    pub fn new(mesh: &Mesh) -> Self {
        let extent = (mesh.bounds_max - mesh.bounds_min).max(glam::Vec3::splat(1e-6));
        Self {
            bounds_min_kind: mesh.bounds_min.extend(mesh.kind as u32 as f32).to_array(),
            bounds_extent: extent.extend(0.0).to_array(),
        }
    }
}

//! The scene as plain data: meshes, materials, the texture atlas, instances in
//! structure-of-arrays form, and the motion that moves them. Nothing here touches the
//! GPU; backends turn a [`Scene`] into GPU resources.

pub mod camera;
pub mod mesh;

use glam::{Quat, Vec3};

use crate::assets::atlas::AtlasImage;
use crate::frame::motion::{DriftGroup, SwimGroup};
use crate::preset::Preset;
use crate::rng::Rng;
use crate::scene::mesh::{MeshKind, MeshLibrary};

/// Most instances a scene may hold.
pub const MAX_INSTANCES: usize = 1 << 24;

/// Instances in structure-of-arrays form: every vector has the same length.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Instances {
    /// Bounding-sphere centre x (world).
    pub x: Vec<f32>,
    /// Bounding-sphere centre y (world).
    pub y: Vec<f32>,
    /// Bounding-sphere centre z (world).
    pub z: Vec<f32>,
    /// Bounding-sphere radius (world).
    pub radius: Vec<f32>,
    /// Orientation (object to world rotation).
    pub orientation: Vec<Quat>,
    /// Uniform scale.
    pub scale: Vec<f32>,
    /// Mesh id in the scene's [`MeshLibrary`].
    pub mesh: Vec<u16>,
    /// Material id in the scene's material table.
    pub material: Vec<u16>,
    /// Animation phase in 0..1.
    pub phase: Vec<f32>,
}

impl Instances {
    /// Number of instances.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Appends one instance. The object origin is the bounding-sphere centre.
    #[expect(clippy::too_many_arguments, reason = "one argument per SoA column")]
    pub fn push(
        &mut self,
        position: Vec3,
        radius: f32,
        orientation: Quat,
        scale: f32,
        mesh: u16,
        material: u16,
        phase: f32,
    ) {
        self.x.push(position.x);
        self.y.push(position.y);
        self.z.push(position.z);
        self.radius.push(radius);
        self.orientation.push(orientation);
        self.scale.push(scale);
        self.mesh.push(mesh);
        self.material.push(material);
        self.phase.push(phase);
    }

    /// Position of instance `i`.
    pub fn position(&self, i: usize) -> Vec3 {
        Vec3::new(self.x[i], self.y[i], self.z[i])
    }

    /// Bytes of CPU memory per instance (all columns).
    pub const BYTES_PER_INSTANCE: usize = 4 * 4 + 16 + 4 + 2 + 2 + 4;
}

/// A material: where its texture lies in the atlas, and how it is lit.
#[derive(Clone, Debug, PartialEq)]
pub struct Material {
    /// Name, unique in the scene.
    pub name: String,
    /// Atlas page holding the texture.
    pub atlas_page: u32,
    /// Atlas rectangle in normalized coordinates: u0, v0, u1, v1.
    pub atlas_rect: [f32; 4],
    /// Colour multiplied with the texture (linear RGB).
    pub tint: [f32; 3],
    /// Strength of self-illumination (bioluminescence) from the texture's alpha.
    pub emissive: f32,
}

/// Lighting and fog.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Environment {
    /// Clear colour and fog colour (linear RGB).
    pub fog_color: [f32; 3],
    /// Exponential fog density per world unit.
    pub fog_density: f32,
    /// Direction towards the light (from the surface above).
    pub light_dir: Vec3,
    /// Ambient light (linear RGB).
    pub ambient: [f32; 3],
}

impl Default for Environment {
    fn default() -> Self {
        Self {
            fog_color: [0.004, 0.018, 0.040],
            fog_density: 0.022,
            light_dir: Vec3::new(0.25, 1.0, 0.15).normalize(),
            ambient: [0.05, 0.09, 0.13],
        }
    }
}

/// What the scene contains and how it is laid out: the scene description, kept apart
/// from where meshes and textures come from (procedural code or a scene pack).
#[derive(Clone, Debug, PartialEq)]
pub struct SceneDescription {
    /// Fish in the school.
    pub fish: u32,
    /// Rocks on the sea floor.
    pub rocks: u32,
    /// Kelp fronds.
    pub kelp: u32,
    /// Marine-snow particles.
    pub snow: u32,
    /// Layout seed.
    pub seed: u64,
    /// Radius of the school's ring, world units; the school spreads with instance count.
    pub school_radius: f32,
    /// Height of the sea floor.
    pub floor_y: f32,
    /// Half-size of the square sea floor area.
    pub floor_extent: f32,
    /// Lighting and fog.
    pub environment: Environment,
}

impl SceneDescription {
    /// The standard school scene at a preset's instance counts.
    pub fn for_preset(preset: Preset) -> Self {
        let s = preset.settings();
        Self {
            fish: s.fish,
            rocks: s.rocks,
            kelp: s.kelp,
            snow: s.snow,
            seed: 0xCA0D_1EF1,
            school_radius: 11.0,
            floor_y: -7.0,
            floor_extent: 60.0,
            environment: Environment::default(),
        }
    }

    /// Total instances.
    pub fn instance_count(&self) -> u64 {
        u64::from(self.fish) + u64::from(self.rocks) + u64::from(self.kelp) + u64::from(self.snow)
    }
}

/// Errors building a scene.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SceneError {
    /// The description asks for more instances than [`MAX_INSTANCES`].
    #[error("the scene asks for {0} instances; at most {MAX_INSTANCES} are supported")]
    TooManyInstances(u64),
    /// A kind of mesh the description needs is missing from the mesh library.
    #[error("the mesh library has no {0} mesh")]
    MissingMesh(&'static str),
    /// A material the layout needs is missing.
    #[error("the scene has no material named {0:?}")]
    MissingMaterial(String),
}

/// A complete scene: meshes, materials, atlas, instances and motion.
#[derive(Clone, Debug)]
pub struct Scene {
    /// Mesh library.
    pub meshes: MeshLibrary,
    /// Material table (instances index it).
    pub materials: Vec<Material>,
    /// Atlas pages with their mip chains (materials point into them).
    pub atlas: Vec<AtlasImage>,
    /// Instances.
    pub instances: Instances,
    /// Fish motion.
    pub swim: SwimGroup,
    /// Marine-snow motion.
    pub drift: DriftGroup,
    /// Lighting and fog.
    pub environment: Environment,
}

impl Scene {
    /// Lays out `description` with the given meshes, materials and atlas. Fish use
    /// materials whose names start with `fish`, the others `rock`, `kelp`, `snow`.
    pub fn build(
        description: &SceneDescription,
        meshes: MeshLibrary,
        materials: Vec<Material>,
        atlas: Vec<AtlasImage>,
    ) -> Result<Self, SceneError> {
        let total = description.instance_count();
        if total > MAX_INSTANCES as u64 {
            return Err(SceneError::TooManyInstances(total));
        }
        let find_mesh = |kind: MeshKind| {
            meshes
                .find_kind(kind)
                .ok_or(SceneError::MissingMesh(kind.name()))
        };
        let find_materials = |prefix: &str| -> Result<Vec<u16>, SceneError> {
            let ids: Vec<u16> = materials
                .iter()
                .enumerate()
                .filter(|(_, m)| m.name.starts_with(prefix))
                .map(|(i, _)| i as u16)
                .collect();
            if ids.is_empty() {
                Err(SceneError::MissingMaterial(prefix.to_owned()))
            } else {
                Ok(ids)
            }
        };
        let mut rng = Rng::new(description.seed);
        let mut instances = Instances::default();
        let d = description;

        // The school first: motion groups address contiguous ranges.
        let fish_mesh = find_mesh(MeshKind::Fish)?;
        let fish_materials = find_materials("fish")?;
        let fish_radius = meshes.meshes[usize::from(fish_mesh)].radius;
        let swim = SwimGroup::layout(
            &mut instances,
            &mut rng,
            d.fish as usize,
            d.school_radius,
            fish_mesh,
            fish_radius,
            &fish_materials,
        );

        let rock_mesh = find_mesh(MeshKind::Rock)?;
        let rock_materials = find_materials("rock")?;
        let rock_radius = meshes.meshes[usize::from(rock_mesh)].radius;
        for _ in 0..d.rocks {
            let scale = rng.range(1.2, 4.5);
            let p = Vec3::new(
                rng.range(-d.floor_extent, d.floor_extent) * 0.6,
                d.floor_y - 0.3 * scale,
                rng.range(-d.floor_extent, d.floor_extent) * 0.6,
            );
            let m = rock_materials[rng.below(rock_materials.len() as u32) as usize];
            let q = Quat::from_rotation_y(rng.range(0.0, std::f32::consts::TAU));
            instances.push(p, rock_radius * scale, q, scale, rock_mesh, m, rng.unit());
        }

        let kelp_mesh = find_mesh(MeshKind::Kelp)?;
        let kelp_materials = find_materials("kelp")?;
        let kelp_radius = meshes.meshes[usize::from(kelp_mesh)].radius;
        for _ in 0..d.kelp {
            // Kelp grows in clumps around a few anchors.
            let anchor = rng.below(12) as f32;
            let a = anchor * 2.39996;
            let r = 14.0 + (anchor * 3.7) % 20.0;
            let p = Vec3::new(
                a.cos() * r + rng.range(-2.5, 2.5),
                d.floor_y - 0.2,
                a.sin() * r + rng.range(-2.5, 2.5),
            );
            let scale = rng.range(4.0, 10.0);
            let m = kelp_materials[rng.below(kelp_materials.len() as u32) as usize];
            let q = Quat::from_rotation_y(rng.range(0.0, std::f32::consts::TAU));
            instances.push(p, kelp_radius * scale, q, scale, kelp_mesh, m, rng.unit());
        }

        let snow_mesh = find_mesh(MeshKind::Snow)?;
        let snow_materials = find_materials("snow")?;
        let snow_radius = meshes.meshes[usize::from(snow_mesh)].radius;
        let drift = DriftGroup::layout(
            &mut instances,
            &mut rng,
            d.snow as usize,
            d.floor_y,
            d.floor_extent * 0.5,
            snow_mesh,
            snow_radius,
            &snow_materials,
        );

        Ok(Self {
            meshes,
            materials,
            atlas,
            instances,
            swim,
            drift,
            environment: d.environment,
        })
    }

    /// Moves everything to where it is at `time` seconds. Deterministic: the same time
    /// always gives the same state.
    pub fn update(&mut self, time: f32) {
        self.swim.update(time, &mut self.instances);
        self.drift.update(time, &mut self.instances);
    }
}

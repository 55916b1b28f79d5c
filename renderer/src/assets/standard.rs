//! The standard school scene with procedurally generated meshes and textures, LOD
//! tiers built by meshoptimizer. Native only (meshoptimizer is C++); the web loads
//! the same content from a scene pack.

use crate::assets::atlas::{self, AtlasError};
use crate::assets::impostor::{ImpostorOptions, add_impostor_tier};
use crate::assets::procedural;
use crate::assets::simplify::{LodOptions, build_tiers, optimize_mesh};
use crate::assets::textures;
use crate::scene::mesh::{MeshKind, MeshLibrary};
use crate::scene::{Material, Scene, SceneDescription, SceneError};

/// Gutter around each atlas rectangle, texels. 8 allows 4 clean mip levels.
pub const ATLAS_PADDING: u32 = 8;

/// Errors building the standard content.
#[derive(Debug, thiserror::Error)]
pub enum StandardError {
    /// Atlas packing failed.
    #[error(transparent)]
    Atlas(#[from] AtlasError),
    /// Scene layout failed.
    #[error(transparent)]
    Scene(#[from] SceneError),
}

/// The standard meshes: optimized, with LOD tiers.
pub fn standard_meshes() -> MeshLibrary {
    let mut lib = MeshLibrary::default();
    let options = LodOptions::default();
    let sources = [
        ("candlefish", MeshKind::Fish),
        ("rock", MeshKind::Rock),
        ("kelp", MeshKind::Kelp),
        ("snow", MeshKind::Snow),
    ];
    for (name, kind) in sources {
        let mut source = procedural::standard_mesh(kind);
        optimize_mesh(&mut source);
        let options = if kind == MeshKind::Kelp {
            // A ribbon is all border: let the simplifier move it, or it stays as is.
            LodOptions {
                lock_border: false,
                ..options.clone()
            }
        } else {
            options.clone()
        };
        let mut tiers = build_tiers(&source, &options);
        if kind == MeshKind::Fish {
            add_impostor_tier(&mut source, &mut tiers, &ImpostorOptions::default());
        }
        lib.push(name, kind, &source, &tiers);
    }
    lib
}

/// The standard materials and their atlas.
pub fn standard_materials() -> Result<(Vec<Material>, Vec<atlas::AtlasImage>), AtlasError> {
    let images: Vec<atlas::Image> = [
        "fish-skin-0",
        "fish-skin-1",
        "rock",
        "rock-moss",
        "kelp",
        "snow",
    ]
    .into_iter()
    .filter_map(textures::standard_texture)
    .collect();
    let atlas = atlas::build(&images, 1024, ATLAS_PADDING)?;
    let defs: [(&str, [f32; 3], f32); 7] = [
        ("fish-silver", [0.95, 1.0, 1.05], 1.6),
        ("fish-dusk", [1.0, 0.95, 0.9], 1.3),
        ("fish-blue", [0.8, 0.95, 1.2], 1.8),
        ("rock", [1.0, 1.0, 1.0], 0.0),
        ("rock-moss", [1.0, 1.0, 1.0], 0.0),
        ("kelp", [1.0, 1.0, 1.0], 0.0),
        ("snow", [1.0, 1.0, 1.0], 0.9),
    ];
    // fish-blue reuses the first skin with another tint.
    let image_of = [0usize, 1, 0, 2, 3, 4, 5];
    let materials = defs
        .iter()
        .zip(image_of)
        .map(|(&(name, tint, emissive), image)| Material {
            name: name.to_owned(),
            atlas_page: atlas.placements[image].page,
            atlas_rect: atlas.uv_rect(image),
            tint,
            emissive,
        })
        .collect();
    Ok((materials, atlas.pages))
}

/// The standard scene laid out from `description`.
pub fn standard_scene(description: &SceneDescription) -> Result<Scene, StandardError> {
    let (materials, atlas) = standard_materials()?;
    Ok(Scene::build(
        description,
        standard_meshes(),
        materials,
        atlas,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_meshes_have_lod_chains() {
        let lib = standard_meshes();
        let fish = &lib.meshes[usize::from(lib.find_kind(MeshKind::Fish).unwrap_or(0))];
        assert!(fish.tiers.len() >= 3);
    }
}

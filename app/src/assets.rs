//! The asset pipeline behind `candlefish pack`: reads a scene description
//! (`assets/scene.toml`), imports and optimizes every mesh (meshoptimizer: vertex
//! cache, overdraw, fetch), builds its LOD tiers, quantizes it, packs all textures
//! into atlas pages, and writes one scene pack plus a report.

pub mod import;
pub mod report;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use candlefish_renderer::assets::atlas::{self, Atlas};
use candlefish_renderer::assets::impostor::{ImpostorOptions, add_impostor_tier};
use candlefish_renderer::assets::pack::{self, PackDescription, PresetCounts, ScenePack};
use candlefish_renderer::assets::simplify::{LodOptions, build_tiers, optimize_mesh};
use candlefish_renderer::scene::mesh::{MeshKind, MeshLibrary};
use candlefish_renderer::scene::{Environment, Material};
use serde::Deserialize;

/// `scene.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SceneFile {
    /// Atlas page bound and gutters.
    pub atlas: AtlasConfig,
    /// Layout parameters.
    pub layout: Layout,
    /// Lighting and fog.
    pub environment: EnvironmentConfig,
    /// Instance counts by preset name (performance, quality, canvas).
    pub presets: HashMap<String, Counts>,
    /// Meshes.
    pub meshes: Vec<MeshEntry>,
    /// Textures.
    pub textures: Vec<TextureEntry>,
    /// Materials.
    pub materials: Vec<MaterialEntry>,
}

/// `[atlas]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtlasConfig {
    /// Largest page side (2048 works everywhere, 4096 on most desktop GPUs).
    pub max_page_size: u32,
    /// Gutter around each texture, texels.
    pub padding: u32,
}

/// `[layout]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// Layout seed.
    pub seed: u64,
    /// Radius of the school's ring.
    pub school_radius: f32,
    /// Height of the sea floor.
    pub floor_y: f32,
    /// Half-size of the sea floor area.
    pub floor_extent: f32,
}

/// `[environment]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// Fog and clear colour (linear RGB).
    pub fog_color: [f32; 3],
    /// Fog density per world unit.
    pub fog_density: f32,
    /// Direction towards the light (normalized here).
    pub light_dir: [f32; 3],
    /// Ambient light (linear RGB).
    pub ambient: [f32; 3],
}

/// `[presets.<name>]`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Fish.
    pub fish: u32,
    /// Rocks.
    pub rocks: u32,
    /// Kelp fronds.
    pub kelp: u32,
    /// Marine snow.
    pub snow: u32,
}

/// `[[meshes]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshEntry {
    /// Unique name.
    pub name: String,
    /// fish, rock, kelp or snow.
    pub kind: String,
    /// `procedural:<name>` or a glTF file relative to scene.toml.
    pub source: String,
    /// Keep open borders fixed while simplifying (default true; ribbons want false).
    #[serde(default = "yes")]
    pub lock_border: bool,
}

fn yes() -> bool {
    true
}

/// `[[textures]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextureEntry {
    /// Unique name.
    pub name: String,
    /// `procedural:<name>` or a PNG file relative to scene.toml.
    pub source: String,
}

/// `[[materials]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialEntry {
    /// Unique name; the layout picks fish materials by the prefix `fish`, and so on.
    pub name: String,
    /// Texture name.
    pub texture: String,
    /// Linear RGB multiplier.
    #[serde(default = "white")]
    pub tint: [f32; 3],
    /// Self-illumination from the texture's alpha.
    #[serde(default)]
    pub emissive: f32,
}

fn white() -> [f32; 3] {
    [1.0; 3]
}

/// A built pack with what the report needs.
#[derive(Debug)]
pub struct Built {
    /// The pack content.
    pub pack: ScenePack,
    /// The atlas as packed (placements and occupancy).
    pub atlas: Atlas,
    /// Per mesh: name and source.
    pub sources: Vec<(String, String)>,
}

/// Reads and checks `scene.toml`.
pub fn read_scene_file(path: &Path) -> Result<SceneFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn parse_kind(name: &str) -> Result<MeshKind> {
    MeshKind::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .with_context(|| format!("unknown mesh kind {name:?} (fish, rock, kelp, snow)"))
}

fn description(file: &SceneFile) -> Result<PackDescription> {
    let mut presets = [PresetCounts::default(); 3];
    for (slot, preset) in presets.iter_mut().zip(candlefish_renderer::Preset::ALL) {
        let c = file
            .presets
            .get(preset.name())
            .with_context(|| format!("[presets.{}] is missing", preset.name()))?;
        *slot = PresetCounts {
            fish: c.fish,
            rocks: c.rocks,
            kelp: c.kelp,
            snow: c.snow,
        };
    }
    if let Some(extra) = file
        .presets
        .keys()
        .find(|k| k.parse::<candlefish_renderer::Preset>().is_err())
    {
        bail!("unknown preset [presets.{extra}]");
    }
    let e = &file.environment;
    let light = glam::Vec3::from(e.light_dir)
        .try_normalize()
        .context("environment.light_dir must be a non-zero vector")?;
    Ok(PackDescription {
        presets,
        seed: file.layout.seed,
        school_radius: file.layout.school_radius,
        floor_y: file.layout.floor_y,
        floor_extent: file.layout.floor_extent,
        environment: Environment {
            fog_color: e.fog_color,
            fog_density: e.fog_density,
            light_dir: light,
            ambient: e.ambient,
        },
    })
}

/// Runs the pipeline on `scene.toml` at `path` (sources relative to its folder).
pub fn build(path: &Path) -> Result<Built> {
    let file = read_scene_file(path)?;
    let base = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let description = description(&file)?;

    let mut meshes = MeshLibrary::default();
    let mut sources = Vec::new();
    for entry in &file.meshes {
        ensure!(
            meshes.find(&entry.name).is_none(),
            "mesh {:?} is defined twice",
            entry.name
        );
        let kind = parse_kind(&entry.kind).with_context(|| format!("mesh {:?}", entry.name))?;
        let mut source = import::load_mesh(&entry.source, &base)
            .with_context(|| format!("mesh {:?} from {:?}", entry.name, entry.source))?;
        optimize_mesh(&mut source);
        let options = LodOptions {
            lock_border: entry.lock_border,
            ..LodOptions::default()
        };
        let mut tiers = build_tiers(&source, &options);
        if kind == MeshKind::Fish {
            // A few textured triangles for fish that cover a few pixels.
            add_impostor_tier(&mut source, &mut tiers, &ImpostorOptions::default());
        }
        meshes.push(&entry.name, kind, &source, &tiers);
        sources.push((entry.name.clone(), entry.source.clone()));
    }

    let mut images = Vec::new();
    let mut texture_ids = HashMap::new();
    for t in &file.textures {
        ensure!(
            texture_ids.insert(t.name.as_str(), images.len()).is_none(),
            "texture {:?} is defined twice",
            t.name
        );
        images.push(
            import::load_texture(&t.source, &base)
                .with_context(|| format!("texture {:?} from {:?}", t.name, t.source))?,
        );
    }
    let atlas = atlas::build_fitted(&images, file.atlas.max_page_size, file.atlas.padding)
        .context("packing the texture atlas")?;
    let mut materials = Vec::new();
    for m in &file.materials {
        ensure!(
            materials.iter().all(|x: &Material| x.name != m.name),
            "material {:?} is defined twice",
            m.name
        );
        let &image = texture_ids.get(m.texture.as_str()).with_context(|| {
            format!("material {:?} uses unknown texture {:?}", m.name, m.texture)
        })?;
        materials.push(Material {
            name: m.name.clone(),
            atlas_page: atlas.placements[image].page,
            atlas_rect: atlas.uv_rect(image),
            tint: m.tint,
            emissive: m.emissive,
        });
    }
    let pack = ScenePack {
        description,
        meshes,
        materials,
        atlas: atlas.pages.clone(),
    };
    // The layout needs a mesh and a material of every kind: fail here, not at load.
    for preset in candlefish_renderer::Preset::ALL {
        pack.scene(preset)
            .with_context(|| format!("laying out preset {preset}"))?;
    }
    Ok(Built {
        pack,
        atlas,
        sources,
    })
}

/// `candlefish pack`: builds, writes `<out>/scene.pack` and `<out>/pack-report.json`,
/// prints the report.
pub fn run(scene: &Path, out: &Path) -> Result<()> {
    let built = build(scene)?;
    let bytes = pack::write(&built.pack);
    // What is written must load: the reader's checks are the format's definition.
    pack::load(&bytes).context("the written pack does not load back")?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let pack_path = out.join("scene.pack");
    std::fs::write(&pack_path, &bytes)
        .with_context(|| format!("writing {}", pack_path.display()))?;
    let report = report::Report::new(&built, &bytes)?;
    let json_path = out.join("pack-report.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report.json())?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    print!("{}", report.text());
    println!("wrote {} and {}", pack_path.display(), json_path.display());
    Ok(())
}

//! The scene pack: one versioned binary file holding everything a scene needs —
//! quantized meshes with their LOD tiers, materials, atlas pages with mip chains and
//! the scene description (instance counts per preset, layout, environment).
//!
//! Built natively at asset-build time (`candlefish pack`), loaded natively from a file
//! and in the browser from fetched bytes. [`parse`] validates a pack and casts its
//! sections in place with bytemuck (copying once only when the caller's buffer is
//! misaligned); [`load`] turns the result into an owned [`ScenePack`]; [`write`] is the
//! inverse. The layout is described in [`format`].
//!
//! The reader trusts nothing: every length, offset, count, index and float is checked,
//! every allocation is bounded by the input's length, and each problem has its own
//! [`PackError`] variant.

use crate::assets::atlas::AtlasImage;
use crate::preset::Preset;
use crate::scene::mesh::MeshLibrary;
use crate::scene::{Environment, Material, Scene, SceneDescription, SceneError};

pub mod codec;
pub mod format;
mod read;
mod write;

pub use read::{PackView, parse};
pub use write::{AtlasEncoding, write, write_with};

// Sections are cast with bytemuck, which reads in host byte order; the format is
// little-endian.
#[cfg(target_endian = "big")]
compile_error!("scene packs are little-endian; big-endian hosts are not supported");

/// Instance counts of one preset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PresetCounts {
    /// Fish in the school.
    pub fish: u32,
    /// Rocks on the sea floor.
    pub rocks: u32,
    /// Kelp fronds.
    pub kelp: u32,
    /// Marine-snow particles.
    pub snow: u32,
}

impl PresetCounts {
    /// The counts of `preset`'s built-in settings.
    pub fn of_preset(preset: Preset) -> Self {
        let s = preset.settings();
        Self {
            fish: s.fish,
            rocks: s.rocks,
            kelp: s.kelp,
            snow: s.snow,
        }
    }

    /// All instances.
    pub fn total(&self) -> u64 {
        [self.fish, self.rocks, self.kelp, self.snow]
            .into_iter()
            .map(u64::from)
            .sum()
    }
}

/// The scene description a pack carries: counts per preset plus one layout.
#[derive(Clone, Debug, PartialEq)]
pub struct PackDescription {
    /// Counts per preset, in [`Preset::ALL`] order.
    pub presets: [PresetCounts; 3],
    /// Layout seed.
    pub seed: u64,
    /// Radius of the school's ring, world units.
    pub school_radius: f32,
    /// Height of the sea floor.
    pub floor_y: f32,
    /// Half-size of the square sea floor area.
    pub floor_extent: f32,
    /// Lighting and fog.
    pub environment: Environment,
}

impl Default for PackDescription {
    /// The built-in presets and the standard layout.
    fn default() -> Self {
        let base = SceneDescription::for_preset(Preset::Quality);
        Self {
            presets: Preset::ALL.map(PresetCounts::of_preset),
            seed: base.seed,
            school_radius: base.school_radius,
            floor_y: base.floor_y,
            floor_extent: base.floor_extent,
            environment: base.environment,
        }
    }
}

impl PackDescription {
    /// Counts of `preset`.
    pub fn counts(&self, preset: Preset) -> PresetCounts {
        let i = Preset::ALL.iter().position(|p| *p == preset).unwrap_or(0);
        self.presets[i]
    }

    /// The scene description of `preset`.
    pub fn for_preset(&self, preset: Preset) -> SceneDescription {
        let c = self.counts(preset);
        SceneDescription {
            fish: c.fish,
            rocks: c.rocks,
            kelp: c.kelp,
            snow: c.snow,
            seed: self.seed,
            school_radius: self.school_radius,
            floor_y: self.floor_y,
            floor_extent: self.floor_extent,
            environment: self.environment,
        }
    }
}

/// A loaded (or to-be-written) scene pack.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenePack {
    /// Instance counts per preset, layout and environment.
    pub description: PackDescription,
    /// Quantized meshes with LOD tiers.
    pub meshes: MeshLibrary,
    /// Materials (atlas page and rectangle, tint, emissive).
    pub materials: Vec<Material>,
    /// Atlas pages with their mip chains; all pages have the same size.
    pub atlas: Vec<AtlasImage>,
}

impl ScenePack {
    /// Lays the pack's content out as `preset`'s scene (copies meshes and atlas).
    pub fn scene(&self, preset: Preset) -> Result<Scene, SceneError> {
        self.clone().into_scene(preset)
    }

    /// Like [`ScenePack::scene`], without copying.
    pub fn into_scene(self, preset: Preset) -> Result<Scene, SceneError> {
        Scene::build(
            &self.description.for_preset(preset),
            self.meshes,
            self.materials,
            self.atlas,
        )
    }

    /// Lays the pack out with an explicit description (e.g. a fish-count override).
    pub fn into_scene_with(self, description: &SceneDescription) -> Result<Scene, SceneError> {
        Scene::build(description, self.meshes, self.materials, self.atlas)
    }
}

/// Validates `bytes` as a scene pack and returns its content.
pub fn load(bytes: &[u8]) -> Result<ScenePack, PackError> {
    parse(bytes).map(|view| view.to_pack())
}

/// An atlas rectangle `[u0, v0, u1, v1]` in an error message, each side written with
/// four decimals by integer arithmetic: `{:?}` of an `f32` would pull core's float
/// formatting (about 8 KB gzip) into every browser bundle, for one error message.
/// Its `Debug` is its `Display`, for the same reason.
#[derive(Clone, Copy, PartialEq)]
pub struct UnitRect(pub [f32; 4]);

impl std::fmt::Debug for UnitRect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::fmt::Display for UnitRect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[")?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if v.is_nan() {
                f.write_str("NaN")?;
            } else if v.abs() > 1e9 {
                f.write_str(if *v > 0.0 { "huge" } else { "-huge" })?;
            } else {
                let scaled = (f64::from(*v) * 1e4).round() as i64;
                let sign = if scaled < 0 { "-" } else { "" };
                let a = scaled.unsigned_abs();
                write!(f, "{sign}{}.{:04}", a / 10_000, a % 10_000)?;
            }
        }
        f.write_str("]")
    }
}

/// Why a pack was rejected.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PackError {
    /// The input ends before a structure it must hold.
    #[error("pack truncated: the {what} needs {needed} bytes but the input has {available}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Bytes present.
        available: u64,
    },
    /// The first eight bytes are not [`format::MAGIC`].
    #[error("not a candlefish scene pack (magic is {found:02x?})")]
    BadMagic {
        /// The bytes found.
        found: [u8; 8],
    },
    /// The pack was written in another format version.
    #[error("pack format version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// Version in the header.
        found: u32,
        /// [`format::VERSION`].
        supported: u32,
    },
    /// The input is longer than the length in the header.
    #[error("{extra} unexpected bytes follow the {file_len}-byte pack")]
    TrailingBytes {
        /// Length in the header.
        file_len: u64,
        /// Bytes past it.
        extra: u64,
    },
    /// The crc32 over the contents does not match the header.
    #[error(
        "pack checksum mismatch: the header says {stored:#010x}, the contents give {computed:#010x}"
    )]
    ChecksumMismatch {
        /// crc32 in the header.
        stored: u32,
        /// crc32 of the bytes.
        computed: u32,
    },
    /// The header declares more sections than any valid pack has.
    #[error("the pack declares {0} sections; at most {max} are allowed", max = format::MAX_SECTIONS)]
    TooManySections(u32),
    /// A section table entry has a kind this version does not know.
    #[error("section table entry {index} has unknown kind {kind}")]
    UnknownSection {
        /// Entry index.
        index: usize,
        /// Its kind.
        kind: u32,
    },
    /// A section kind appears twice.
    #[error("the {0} section appears more than once")]
    DuplicateSection(&'static str),
    /// A required section is absent.
    #[error("the pack has no {0} section")]
    MissingSection(&'static str),
    /// A section's alignment is not a power of two at least what its records need,
    /// or its offset is not a multiple of it.
    #[error(
        "the {section} section at offset {offset} has alignment {align} (must be a power of two, at least {min}, dividing the offset)"
    )]
    BadAlignment {
        /// Section name.
        section: &'static str,
        /// Its offset.
        offset: u64,
        /// Declared alignment.
        align: u32,
        /// Least alignment its records need.
        min: u32,
    },
    /// A section reaches outside the file (or into the header and section table).
    #[error(
        "the {section} section (offset {offset}, length {length}) lies outside bytes {start}..{file_len} of the pack"
    )]
    SectionOutOfBounds {
        /// Section name.
        section: &'static str,
        /// Its offset.
        offset: u64,
        /// Its length.
        length: u64,
        /// First byte after the section table.
        start: u64,
        /// File length.
        file_len: u64,
    },
    /// Two sections share bytes.
    #[error("the {first} and {second} sections overlap")]
    SectionsOverlap {
        /// One section.
        first: &'static str,
        /// The other.
        second: &'static str,
    },
    /// A section's length is not a whole number of records (or, for the description,
    /// not exactly one).
    #[error(
        "the {section} section is {length} bytes, which is not a valid number of {record_size}-byte records"
    )]
    BadSectionLength {
        /// Section name.
        section: &'static str,
        /// Its length.
        length: u64,
        /// Record size.
        record_size: u64,
    },
    /// More records than ids can address.
    #[error("the {section} section holds {count} records; at most {max} are allowed")]
    TooManyRecords {
        /// Section name.
        section: &'static str,
        /// Records found.
        count: u64,
        /// Limit.
        max: u64,
    },
    /// A name's bytes lie outside the strings section, or it is too long.
    #[error("the name of {record} {index} (offset {offset}, length {len}) lies outside the {strings_len}-byte strings section or exceeds {max} bytes", max = read::MAX_NAME_LEN)]
    NameOutOfBounds {
        /// Record kind ("mesh", "material").
        record: &'static str,
        /// Record index.
        index: usize,
        /// Name offset.
        offset: u32,
        /// Name length.
        len: u32,
        /// Strings section length.
        strings_len: u64,
    },
    /// A name is not UTF-8.
    #[error("the name of {record} {index} is not valid UTF-8")]
    NameNotUtf8 {
        /// Record kind.
        record: &'static str,
        /// Record index.
        index: usize,
    },
    /// A float that must be finite (and, where it says so, non-negative) is not.
    #[error("{what} of {record} {index} is not a finite value in range")]
    BadFloat {
        /// The field.
        what: &'static str,
        /// Record kind.
        record: &'static str,
        /// Record index.
        index: usize,
    },
    /// A preset asks for more instances than a scene may hold.
    #[error("preset {preset} asks for {count} instances; at most {max} are supported", max = crate::scene::MAX_INSTANCES)]
    TooManyInstances {
        /// Preset name.
        preset: &'static str,
        /// Instances asked for.
        count: u64,
    },
    /// A mesh's kind is not a [`crate::scene::mesh::MeshKind`].
    #[error("mesh {mesh} has unknown kind {kind}")]
    BadMeshKind {
        /// Mesh index.
        mesh: usize,
        /// Kind found.
        kind: u32,
    },
    /// A mesh has no tiers or more than [`crate::scene::mesh::MAX_TIERS`].
    #[error("mesh {mesh} declares {count} LOD tiers (1..={max} allowed)", max = crate::scene::mesh::MAX_TIERS)]
    BadTierCount {
        /// Mesh index.
        mesh: usize,
        /// Tiers declared.
        count: u32,
    },
    /// A mesh's vertex range overflows or lies outside the vertex section.
    #[error("mesh {mesh} uses vertices {first}..{first}+{count} but the pack has {total}")]
    VertexRangeOutOfBounds {
        /// Mesh index.
        mesh: usize,
        /// First vertex.
        first: u32,
        /// Vertex count.
        count: u32,
        /// Vertices in the pack.
        total: u64,
    },
    /// A tier's index range overflows or lies outside the index section.
    #[error(
        "tier {tier} of mesh {mesh} uses indices {first}..{first}+{count} but the pack has {total}"
    )]
    TierOutOfBounds {
        /// Mesh index.
        mesh: usize,
        /// Tier index.
        tier: usize,
        /// First index.
        first: u32,
        /// Index count.
        count: u32,
        /// Indices in the pack.
        total: u64,
    },
    /// A tier's index count is zero or not a multiple of three.
    #[error("tier {tier} of mesh {mesh} has {count} indices, not a positive multiple of 3")]
    BadTierLength {
        /// Mesh index.
        mesh: usize,
        /// Tier index.
        tier: usize,
        /// Index count.
        count: u32,
    },
    /// All tiers together reference more indices than the index section holds
    /// (tiers may not share indices; this also bounds the validation work).
    #[error("the tiers reference {referenced} indices in all but the pack has {total}")]
    TiersExceedIndices {
        /// Sum of all tiers' index counts.
        referenced: u64,
        /// Indices in the pack.
        total: u64,
    },
    /// An index points outside its mesh's vertex range.
    #[error(
        "tier {tier} of mesh {mesh} has index {index}, outside the mesh's vertices {first}..{end}"
    )]
    IndexOutOfRange {
        /// Mesh index.
        mesh: usize,
        /// Tier index.
        tier: usize,
        /// The index.
        index: u32,
        /// First vertex of the mesh.
        first: u32,
        /// One past its last vertex.
        end: u64,
    },
    /// A material points at an atlas page that does not exist.
    #[error("material {material} uses atlas page {page} but the pack has {pages} pages")]
    AtlasPageOutOfRange {
        /// Material index.
        material: usize,
        /// Page asked for.
        page: u32,
        /// Pages in the pack.
        pages: u64,
    },
    /// A material's atlas rectangle is not within 0..1 with u0 ≤ u1 and v0 ≤ v1.
    #[error("material {material} has atlas rectangle {rect}, not inside the unit square")]
    BadAtlasRect {
        /// Material index.
        material: usize,
        /// The rectangle.
        rect: UnitRect,
    },
    /// A page's size is zero or larger than [`read::MAX_PAGE_SIZE`].
    #[error("atlas page {page} is {width}x{height}; sides must be 1..={max}", max = read::MAX_PAGE_SIZE)]
    BadPageSize {
        /// Page index.
        page: usize,
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// A page differs in size or mip count from the first (they form one texture array).
    #[error(
        "atlas page {page} is {width}x{height} with {mips} mips but page 0 is {first_width}x{first_height} with {first_mips}"
    )]
    PageSizeMismatch {
        /// Page index.
        page: usize,
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
        /// Its mip count.
        mips: u32,
        /// Page 0's width.
        first_width: u32,
        /// Page 0's height.
        first_height: u32,
        /// Page 0's mip count.
        first_mips: u32,
    },
    /// A page's mip count is zero or more than its size allows.
    #[error("atlas page {page} declares {mips} mip levels; {max} at most")]
    BadMipCount {
        /// Page index.
        page: usize,
        /// Declared.
        mips: u32,
        /// Most possible for its size.
        max: u32,
    },
    /// A page's pixel encoding is unknown.
    #[error("atlas page {page} has unknown pixel encoding {encoding}")]
    UnknownPageEncoding {
        /// Page index.
        page: usize,
        /// Encoding found.
        encoding: u32,
    },
    /// A page's pixel data does not have the length its size and mips need.
    #[error("atlas page {page} has {found} bytes of pixels; its size and mips need {expected}")]
    PageDataLength {
        /// Page index.
        page: usize,
        /// Bytes needed.
        expected: u64,
        /// Bytes declared.
        found: u64,
    },
    /// A page's pixel data lies outside the page-data section, or does not start
    /// where the previous page's ends (pages are stored back to back, in order).
    #[error(
        "atlas page {page}'s pixels (offset {offset}, length {len}) lie outside the {section_len}-byte page data or do not follow the previous page's"
    )]
    PageDataOutOfBounds {
        /// Page index.
        page: usize,
        /// Offset in the section.
        offset: u64,
        /// Length.
        len: u64,
        /// Section length.
        section_len: u64,
    },
}

//! The on-disk layout of a scene pack: header, section table and the fixed-size
//! records of each section. Every record is `Pod` with no padding, so a section is
//! cast from the file's bytes with bytemuck (or copied once when the caller's buffer
//! is misaligned).
//!
//! ```text
//! offset 0   Header (32 bytes): magic, version, section count, file length, crc32
//! offset 32  SectionEntry × section_count (24 bytes each)
//!            sections, each at a multiple of its alignment (the writer uses 16)
//! ```
//! All integers and floats are little-endian. The crc32 covers every byte after the
//! header (section table and sections); the header's own fields are checked one by
//! one.

use bytemuck::{Pod, Zeroable};

/// First eight bytes of every pack.
pub const MAGIC: [u8; 8] = *b"CFSHPACK";

/// Format version this build reads and writes. Bump on any layout change.
///
/// Version 2: the vertices and indices sections hold [`super::codec::encode_stream`]
/// byte planes (same lengths), and pages may be [`PAGE_ENCODING_YCOCG420`].
/// 3: five tier records per mesh (the impostor tier).
pub const VERSION: u32 = 3;

/// Size of [`Header`] in bytes.
pub const HEADER_LEN: usize = size_of::<Header>();

/// Size of one [`SectionEntry`] in bytes.
pub const SECTION_ENTRY_LEN: usize = size_of::<SectionEntry>();

/// Alignment the writer gives every section (the largest any record needs is 8).
pub const SECTION_ALIGN: u32 = 16;

/// Most sections a pack may declare.
pub const MAX_SECTIONS: u32 = 16;

/// The file header.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Header {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`VERSION`].
    pub version: u32,
    /// Entries in the section table that follows the header.
    pub section_count: u32,
    /// Length of the whole file in bytes.
    pub file_len: u64,
    /// crc32 (IEEE) of every byte after the header.
    pub checksum: u32,
    /// Reserved, zero.
    pub flags: u32,
}

/// One entry of the section table.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct SectionEntry {
    /// A [`SectionKind`] discriminant.
    pub kind: u32,
    /// Alignment of `offset`: a power of two, at least what the records need.
    pub align: u32,
    /// Offset from the start of the file.
    pub offset: u64,
    /// Length in bytes.
    pub length: u64,
}

/// What a section holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum SectionKind {
    /// One [`DescriptionRecord`].
    Description = 1,
    /// UTF-8 names, addressed by (offset, length) from other records.
    Strings = 2,
    /// [`MeshRecord`] array.
    Meshes = 3,
    /// [`crate::scene::mesh::MeshVertex`] array.
    Vertices = 4,
    /// `u32` index array (absolute vertex indices).
    Indices = 5,
    /// [`MaterialRecord`] array.
    Materials = 6,
    /// [`PageRecord`] array.
    Pages = 7,
    /// Pixel data of all atlas pages, addressed by [`PageRecord`].
    PageData = 8,
}

impl SectionKind {
    /// All kinds; every pack holds each exactly once.
    pub const ALL: [SectionKind; 8] = [
        Self::Description,
        Self::Strings,
        Self::Meshes,
        Self::Vertices,
        Self::Indices,
        Self::Materials,
        Self::Pages,
        Self::PageData,
    ];

    /// Parses a discriminant.
    pub fn from_u32(v: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|k| *k as u32 == v)
    }

    /// Name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Description => "description",
            Self::Strings => "strings",
            Self::Meshes => "meshes",
            Self::Vertices => "vertices",
            Self::Indices => "indices",
            Self::Materials => "materials",
            Self::Pages => "atlas pages",
            Self::PageData => "atlas page data",
        }
    }

    /// Size of one record (1 for byte sections).
    pub fn record_size(self) -> usize {
        match self {
            Self::Description => size_of::<DescriptionRecord>(),
            Self::Strings | Self::PageData => 1,
            Self::Meshes => size_of::<MeshRecord>(),
            Self::Vertices => size_of::<crate::scene::mesh::MeshVertex>(),
            Self::Indices => 4,
            Self::Materials => size_of::<MaterialRecord>(),
            Self::Pages => size_of::<PageRecord>(),
        }
    }

    /// Alignment the records need.
    pub fn min_align(self) -> u32 {
        match self {
            Self::Description | Self::Pages => 8,
            Self::Strings | Self::PageData => 1,
            Self::Vertices => 2,
            Self::Meshes | Self::Indices | Self::Materials => 4,
        }
    }
}

/// The scene description: instance counts per preset (in [`crate::Preset::ALL`]
/// order: fish, rocks, kelp, snow), layout parameters and environment.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct DescriptionRecord {
    /// `[fish, rocks, kelp, snow]` per preset.
    pub counts: [[u32; 4]; 3],
    /// Layout seed.
    pub seed: u64,
    /// Radius of the school's ring.
    pub school_radius: f32,
    /// Height of the sea floor.
    pub floor_y: f32,
    /// Half-size of the sea floor area.
    pub floor_extent: f32,
    /// Fog density per world unit.
    pub fog_density: f32,
    /// Fog and clear colour (linear RGB).
    pub fog_color: [f32; 3],
    /// Direction towards the light.
    pub light_dir: [f32; 3],
    /// Ambient light (linear RGB).
    pub ambient: [f32; 3],
    /// Reserved, zero.
    pub reserved: u32,
}

/// One LOD tier of a [`MeshRecord`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct TierRecord {
    /// First index in the index section.
    pub first_index: u32,
    /// Number of indices (a multiple of 3).
    pub index_count: u32,
    /// Simplification error, object-space units.
    pub error: f32,
}

/// A mesh.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct MeshRecord {
    /// Name: offset into the strings section.
    pub name_offset: u32,
    /// Name: length in bytes.
    pub name_len: u32,
    /// A [`crate::scene::mesh::MeshKind`] discriminant.
    pub kind: u32,
    /// Number of valid entries in `tiers` (1..=[`crate::scene::mesh::MAX_TIERS`]).
    pub tier_count: u32,
    /// First vertex in the vertex section.
    pub first_vertex: u32,
    /// Number of vertices.
    pub vertex_count: u32,
    /// Bounding-sphere radius around the object origin.
    pub radius: f32,
    /// Bounds minimum (the quantization origin).
    pub bounds_min: [f32; 3],
    /// Bounds maximum.
    pub bounds_max: [f32; 3],
    /// Tiers, finest first; entries past `tier_count` are zero.
    pub tiers: [TierRecord; crate::scene::mesh::MAX_TIERS],
}

/// A material.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct MaterialRecord {
    /// Name: offset into the strings section.
    pub name_offset: u32,
    /// Name: length in bytes.
    pub name_len: u32,
    /// Atlas page.
    pub atlas_page: u32,
    /// Self-illumination strength.
    pub emissive: f32,
    /// Normalized atlas rectangle u0, v0, u1, v1.
    pub atlas_rect: [f32; 4],
    /// Tint (linear RGB).
    pub tint: [f32; 3],
    /// Reserved, zero.
    pub reserved: u32,
}

/// How a page's pixels are stored: every mip level, raw RGBA8.
pub const PAGE_ENCODING_RAW_RGBA8: u32 = 0;
/// Only level 0, raw RGBA8; the reader rebuilds the `mip_count` levels with
/// [`crate::assets::atlas::mip_chain`]. Mips are a third of a page's bytes and cost more than
/// that after brotli, while rebuilding them takes milliseconds.
pub const PAGE_ENCODING_RGBA8_BASE_LEVEL: u32 = 1;
/// Only level 0, as [`super::codec::encode_ycocg420`] planes (luma and alpha exact,
/// chroma at half resolution); the reader decodes it and rebuilds the mips. What the
/// site ships: less than half the gzip bytes of [`PAGE_ENCODING_RGBA8_BASE_LEVEL`].
pub const PAGE_ENCODING_YCOCG420: u32 = 2;

/// An atlas page: its mip chain, level 0 first, stored back to back.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct PageRecord {
    /// Width of level 0.
    pub width: u32,
    /// Height of level 0.
    pub height: u32,
    /// Mip levels (each half the previous, at least 1 pixel).
    pub mip_count: u32,
    /// [`PAGE_ENCODING_RAW_RGBA8`], [`PAGE_ENCODING_RGBA8_BASE_LEVEL`] or
    /// [`PAGE_ENCODING_YCOCG420`].
    pub encoding: u32,
    /// Offset into the page-data section.
    pub data_offset: u64,
    /// Length in bytes.
    pub data_len: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_sizes_are_fixed() {
        assert_eq!(HEADER_LEN, 32);
        assert_eq!(SECTION_ENTRY_LEN, 24);
        assert_eq!(size_of::<DescriptionRecord>(), 112);
        assert_eq!(size_of::<MeshRecord>(), 112);
        assert_eq!(size_of::<MaterialRecord>(), 48);
        assert_eq!(size_of::<PageRecord>(), 32);
    }
}

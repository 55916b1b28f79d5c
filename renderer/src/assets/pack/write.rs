//! Writing a pack: records and sections in [`SectionKind::ALL`] order, each at a
//! multiple of [`SECTION_ALIGN`], then the crc32 into the header.

use super::ScenePack;
use super::format::{
    DescriptionRecord, HEADER_LEN, Header, MAGIC, MaterialRecord, MeshRecord,
    PAGE_ENCODING_RAW_RGBA8, PAGE_ENCODING_RGBA8_BASE_LEVEL, PAGE_ENCODING_YCOCG420, PageRecord,
    SECTION_ALIGN, SECTION_ENTRY_LEN, SectionEntry, SectionKind, TierRecord, VERSION,
};
use crate::scene::mesh::MAX_TIERS;

/// Saturating conversion: a value past `u32::MAX` (never produced by the pipeline)
/// makes the reader reject the pack rather than wrap silently.
fn u32_of(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Appends `name` to `strings`, returning its offset and length.
fn push_name(strings: &mut Vec<u8>, name: &str) -> (u32, u32) {
    let offset = u32_of(strings.len());
    strings.extend_from_slice(name.as_bytes());
    (offset, u32_of(name.len()))
}

/// How atlas pages are stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AtlasEncoding {
    /// Exact RGBA8 (the base level alone when the mips are the ones the reader
    /// rebuilds): the pack loads back equal.
    #[default]
    Exact,
    /// The base level as [`super::codec::encode_ycocg420`]: chroma at half resolution,
    /// less than half the compressed bytes. What the site ships.
    Ycocg420,
}

/// Serializes `pack`. The result loads back with [`super::load`] as an equal pack
/// (given names within [`super::read::MAX_NAME_LEN`] and valid content).
pub fn write(pack: &ScenePack) -> Vec<u8> {
    write_with(pack, AtlasEncoding::Exact)
}

/// Serializes `pack` with its atlas pages stored as `atlas` says.
pub fn write_with(pack: &ScenePack, atlas: AtlasEncoding) -> Vec<u8> {
    let d = &pack.description;
    let env = &d.environment;
    let description = DescriptionRecord {
        counts: d.presets.map(|c| [c.fish, c.rocks, c.kelp, c.snow]),
        seed: d.seed,
        school_radius: d.school_radius,
        floor_y: d.floor_y,
        floor_extent: d.floor_extent,
        fog_density: env.fog_density,
        fog_color: env.fog_color,
        light_dir: env.light_dir.to_array(),
        ambient: env.ambient,
        reserved: 0,
    };
    let mut strings = Vec::new();
    let meshes: Vec<MeshRecord> = pack
        .meshes
        .meshes
        .iter()
        .map(|m| {
            let (name_offset, name_len) = push_name(&mut strings, &m.name);
            let mut tiers = [TierRecord::default(); MAX_TIERS];
            for (slot, t) in tiers.iter_mut().zip(&m.tiers) {
                *slot = TierRecord {
                    first_index: t.first_index,
                    index_count: t.index_count,
                    error: t.error,
                };
            }
            MeshRecord {
                name_offset,
                name_len,
                kind: m.kind as u32,
                tier_count: u32_of(m.tiers.len()),
                first_vertex: m.first_vertex,
                vertex_count: m.vertex_count,
                radius: m.radius,
                bounds_min: m.bounds_min.to_array(),
                bounds_max: m.bounds_max.to_array(),
                tiers,
            }
        })
        .collect();
    let materials: Vec<MaterialRecord> = pack
        .materials
        .iter()
        .map(|m| {
            let (name_offset, name_len) = push_name(&mut strings, &m.name);
            MaterialRecord {
                name_offset,
                name_len,
                atlas_page: m.atlas_page,
                emissive: m.emissive,
                atlas_rect: m.atlas_rect,
                tint: m.tint,
                reserved: 0,
            }
        })
        .collect();
    let mut page_data = Vec::new();
    let pages: Vec<PageRecord> = pack
        .atlas
        .iter()
        .map(|page| {
            let data_offset = page_data.len() as u64;
            if let (AtlasEncoding::Ycocg420, Some(base)) = (atlas, page.mips.first()) {
                page_data.extend(super::codec::encode_ycocg420(
                    &base.pixels,
                    base.width,
                    base.height,
                ));
                return PageRecord {
                    width: page.width(),
                    height: page.height(),
                    mip_count: u32_of(page.mips.len()),
                    encoding: PAGE_ENCODING_YCOCG420,
                    data_offset,
                    data_len: page_data.len() as u64 - data_offset,
                };
            }
            // Only the base level when the mips are exactly what the reader rebuilds.
            let rebuildable = page.mips.first().is_some_and(|base| {
                crate::assets::atlas::mip_chain(base.clone(), u32_of(page.mips.len())) == page.mips
            });
            let stored = if rebuildable {
                &page.mips[..1]
            } else {
                &page.mips[..]
            };
            for mip in stored {
                page_data.extend_from_slice(&mip.pixels);
            }
            PageRecord {
                width: page.width(),
                height: page.height(),
                mip_count: u32_of(page.mips.len()),
                encoding: if rebuildable {
                    PAGE_ENCODING_RGBA8_BASE_LEVEL
                } else {
                    PAGE_ENCODING_RAW_RGBA8
                },
                data_offset,
                data_len: page_data.len() as u64 - data_offset,
            }
        })
        .collect();

    let vertices = super::codec::encode_stream(
        bytemuck::cast_slice(&pack.meshes.vertices),
        size_of::<crate::scene::mesh::MeshVertex>(),
        2,
    );
    let indices = super::codec::encode_stream(bytemuck::cast_slice(&pack.meshes.indices), 4, 4);
    let sections: [(SectionKind, &[u8]); 8] = [
        (SectionKind::Description, bytemuck::bytes_of(&description)),
        (SectionKind::Strings, &strings),
        (SectionKind::Meshes, bytemuck::cast_slice(&meshes)),
        (SectionKind::Vertices, &vertices),
        (SectionKind::Indices, &indices),
        (SectionKind::Materials, bytemuck::cast_slice(&materials)),
        (SectionKind::Pages, bytemuck::cast_slice(&pages)),
        (SectionKind::PageData, &page_data),
    ];
    let align = SECTION_ALIGN as usize;
    let table_end = HEADER_LEN + sections.len() * SECTION_ENTRY_LEN;
    let total: usize = sections
        .iter()
        .map(|(_, b)| b.len().next_multiple_of(align))
        .sum::<usize>()
        + table_end.next_multiple_of(align);
    let mut out = Vec::with_capacity(total);
    out.resize(table_end, 0);
    let mut entries = Vec::with_capacity(sections.len());
    for (kind, bytes) in sections {
        out.resize(out.len().next_multiple_of(align), 0);
        entries.push(SectionEntry {
            kind: kind as u32,
            align: SECTION_ALIGN,
            offset: out.len() as u64,
            length: bytes.len() as u64,
        });
        out.extend_from_slice(bytes);
    }
    out[HEADER_LEN..table_end].copy_from_slice(bytemuck::cast_slice(&entries));
    let header = Header {
        magic: MAGIC,
        version: VERSION,
        section_count: u32_of(entries.len()),
        file_len: out.len() as u64,
        checksum: crc32fast::hash(&out[HEADER_LEN..]),
        flags: 0,
    };
    out[..HEADER_LEN].copy_from_slice(bytemuck::bytes_of(&header));
    out
}

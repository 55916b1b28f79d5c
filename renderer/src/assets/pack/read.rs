//! Reading a pack: the header and section table first, then each section cast in
//! place and validated record by record. Nothing is allocated before the sizes it
//! depends on have been checked against the input's length.

use std::borrow::Cow;

use bytemuck::Pod;
use glam::Vec3;

use super::format::{
    DescriptionRecord, HEADER_LEN, Header, MAGIC, MAX_SECTIONS, MaterialRecord, MeshRecord,
    PAGE_ENCODING_RAW_RGBA8, PAGE_ENCODING_RGBA8_BASE_LEVEL, PAGE_ENCODING_YCOCG420, PageRecord,
    SECTION_ENTRY_LEN, SectionEntry, SectionKind, VERSION,
};
use super::{PackDescription, PackError, PresetCounts, ScenePack};
use crate::assets::atlas::{AtlasImage, Image};
use crate::preset::Preset;
use crate::scene::mesh::{LodTier, MAX_TIERS, Mesh, MeshKind, MeshLibrary, MeshVertex};
use crate::scene::{Environment, MAX_INSTANCES, Material};

/// Longest mesh or material name, bytes.
pub const MAX_NAME_LEN: u32 = 256;
/// Largest atlas page side (the largest texture any preset asks for is 4096).
pub const MAX_PAGE_SIZE: u32 = 8192;
/// Most atlas pages (texture-array layers WebGL2 guarantees: 256).
pub const MAX_PAGES: u64 = 256;

/// A validated pack, its sections cast from the input bytes without copying (or
/// copied once, when the input is not aligned for a record type).
#[derive(Clone, Debug)]
pub struct PackView<'a> {
    /// The scene description record.
    pub description: DescriptionRecord,
    /// Mesh records.
    pub meshes: Cow<'a, [MeshRecord]>,
    /// All vertices, ready to upload.
    pub vertices: Cow<'a, [MeshVertex]>,
    /// All indices (absolute), ready to upload.
    pub indices: Cow<'a, [u32]>,
    /// Material records.
    pub materials: Cow<'a, [MaterialRecord]>,
    /// Atlas page records.
    pub pages: Cow<'a, [PageRecord]>,
    strings: &'a [u8],
    page_data: &'a [u8],
}

/// Casts `bytes` (already a whole number of `T`) in place, or copies when misaligned.
fn cast<T: Pod>(bytes: &[u8]) -> Cow<'_, [T]> {
    match bytemuck::try_cast_slice(bytes) {
        Ok(slice) => Cow::Borrowed(slice),
        Err(_) => Cow::Owned(bytemuck::pod_collect_to_vec(bytes)),
    }
}

/// Decodes a section of [`super::codec::encode_stream`] planes (`width`-byte
/// components) into records. The section's length was checked to be a whole number
/// of records.
fn decode_stream<T: Pod>(bytes: &[u8], width: usize) -> Cow<'static, [T]> {
    let decoded = super::codec::decode_stream(bytes, size_of::<T>(), width);
    Cow::Owned(bytemuck::pod_collect_to_vec(&decoded))
}

/// Validates `bytes` as a scene pack and returns a view of its sections.
pub fn parse(bytes: &[u8]) -> Result<PackView<'_>, PackError> {
    let sections = read_sections(bytes)?;
    let section = |kind: SectionKind| sections[kind as usize - 1];
    let description: DescriptionRecord =
        bytemuck::pod_read_unaligned(section(SectionKind::Description));
    let strings = section(SectionKind::Strings);
    let view = PackView {
        description,
        meshes: cast(section(SectionKind::Meshes)),
        vertices: decode_stream::<MeshVertex>(section(SectionKind::Vertices), 2),
        indices: decode_stream::<u32>(section(SectionKind::Indices), 4),
        materials: cast(section(SectionKind::Materials)),
        pages: cast(section(SectionKind::Pages)),
        strings,
        page_data: section(SectionKind::PageData),
    };
    check_description(&view.description)?;
    check_counts(&view)?;
    check_meshes(&view)?;
    check_materials(&view)?;
    check_pages(&view)?;
    Ok(view)
}

/// Header, checksum and section table; returns each section's bytes by kind.
fn read_sections(bytes: &[u8]) -> Result<[&[u8]; SectionKind::ALL.len()], PackError> {
    let available = bytes.len() as u64;
    let truncated = |what, needed: u64| PackError::Truncated {
        what,
        needed,
        available,
    };
    let Some(head) = bytes.get(..HEADER_LEN) else {
        return Err(truncated("header", HEADER_LEN as u64));
    };
    let header: Header = bytemuck::pod_read_unaligned(head);
    if header.magic != MAGIC {
        return Err(PackError::BadMagic {
            found: header.magic,
        });
    }
    if header.version != VERSION {
        return Err(PackError::UnsupportedVersion {
            found: header.version,
            supported: VERSION,
        });
    }
    if header.file_len > available {
        return Err(truncated("pack", header.file_len));
    }
    if header.file_len < available {
        return Err(PackError::TrailingBytes {
            file_len: header.file_len,
            extra: available - header.file_len,
        });
    }
    if header.section_count > MAX_SECTIONS {
        return Err(PackError::TooManySections(header.section_count));
    }
    let table_end = HEADER_LEN + header.section_count as usize * SECTION_ENTRY_LEN;
    let Some(table) = bytes.get(HEADER_LEN..table_end) else {
        return Err(truncated("section table", table_end as u64));
    };
    let computed = crc32fast::hash(&bytes[HEADER_LEN..]);
    if computed != header.checksum {
        return Err(PackError::ChecksumMismatch {
            stored: header.checksum,
            computed,
        });
    }
    let mut found: [Option<(u64, u64)>; SectionKind::ALL.len()] = Default::default();
    for (index, raw) in table.chunks_exact(SECTION_ENTRY_LEN).enumerate() {
        let entry: SectionEntry = bytemuck::pod_read_unaligned(raw);
        let kind = SectionKind::from_u32(entry.kind).ok_or(PackError::UnknownSection {
            index,
            kind: entry.kind,
        })?;
        let section = kind.name();
        if found[kind as usize - 1].is_some() {
            return Err(PackError::DuplicateSection(section));
        }
        let min = kind.min_align();
        if !entry.align.is_power_of_two()
            || entry.align < min
            || !entry.offset.is_multiple_of(u64::from(entry.align))
        {
            return Err(PackError::BadAlignment {
                section,
                offset: entry.offset,
                align: entry.align,
                min,
            });
        }
        let end = entry.offset.checked_add(entry.length);
        if entry.offset < table_end as u64 || end.is_none_or(|end| end > header.file_len) {
            return Err(PackError::SectionOutOfBounds {
                section,
                offset: entry.offset,
                length: entry.length,
                start: table_end as u64,
                file_len: header.file_len,
            });
        }
        let record_size = kind.record_size() as u64;
        let exact_one = kind == SectionKind::Description && entry.length != record_size;
        if !entry.length.is_multiple_of(record_size) || exact_one {
            return Err(PackError::BadSectionLength {
                section,
                length: entry.length,
                record_size,
            });
        }
        found[kind as usize - 1] = Some((entry.offset, entry.length));
    }
    // Sorted by offset, each section must end before the next starts.
    let mut ranges: Vec<(u64, u64, SectionKind)> = Vec::with_capacity(found.len());
    for kind in SectionKind::ALL {
        let (offset, length) =
            found[kind as usize - 1].ok_or(PackError::MissingSection(kind.name()))?;
        ranges.push((offset, length, kind));
    }
    ranges.sort_by_key(|r| (r.0, r.1));
    for pair in ranges.windows(2) {
        if pair[0].0 + pair[0].1 > pair[1].0 {
            return Err(PackError::SectionsOverlap {
                first: pair[0].2.name(),
                second: pair[1].2.name(),
            });
        }
    }
    // Bounds were checked above: offsets and lengths fit in the input.
    let mut out: [&[u8]; SectionKind::ALL.len()] = [&[]; SectionKind::ALL.len()];
    for (offset, length, kind) in ranges {
        out[kind as usize - 1] = &bytes[offset as usize..(offset + length) as usize];
    }
    Ok(out)
}

fn finite(values: &[f32]) -> bool {
    values.iter().all(|v| v.is_finite())
}

fn check_description(d: &DescriptionRecord) -> Result<(), PackError> {
    let bad = |what| PackError::BadFloat {
        what,
        record: "description",
        index: 0,
    };
    if !(d.school_radius.is_finite() && d.school_radius >= 0.0) {
        return Err(bad("school radius"));
    }
    if !d.floor_y.is_finite() {
        return Err(bad("floor height"));
    }
    if !(d.floor_extent.is_finite() && d.floor_extent >= 0.0) {
        return Err(bad("floor extent"));
    }
    if !(d.fog_density.is_finite() && d.fog_density >= 0.0) {
        return Err(bad("fog density"));
    }
    if !finite(&d.fog_color) || !finite(&d.ambient) {
        return Err(bad("fog or ambient colour"));
    }
    if !finite(&d.light_dir) || Vec3::from(d.light_dir).try_normalize().is_none() {
        return Err(bad("light direction"));
    }
    for (preset, c) in Preset::ALL.iter().zip(d.counts) {
        let count: u64 = c.iter().map(|&v| u64::from(v)).sum();
        if count > MAX_INSTANCES as u64 {
            return Err(PackError::TooManyInstances {
                preset: preset.name(),
                count,
            });
        }
    }
    Ok(())
}

fn check_counts(view: &PackView<'_>) -> Result<(), PackError> {
    let limits = [
        ("meshes", view.meshes.len(), u64::from(u16::MAX)),
        ("materials", view.materials.len(), u64::from(u16::MAX)),
        ("atlas pages", view.pages.len(), MAX_PAGES),
    ];
    for (section, count, max) in limits {
        if count as u64 > max {
            return Err(PackError::TooManyRecords {
                section,
                count: count as u64,
                max,
            });
        }
    }
    Ok(())
}

fn check_name<'a>(
    strings: &'a [u8],
    record: &'static str,
    index: usize,
    offset: u32,
    len: u32,
) -> Result<&'a str, PackError> {
    let bytes = (len <= MAX_NAME_LEN)
        .then(|| strings.get(offset as usize..(offset as usize).checked_add(len as usize)?))
        .flatten()
        .ok_or(PackError::NameOutOfBounds {
            record,
            index,
            offset,
            len,
            strings_len: strings.len() as u64,
        })?;
    std::str::from_utf8(bytes).map_err(|_| PackError::NameNotUtf8 { record, index })
}

fn check_meshes(view: &PackView<'_>) -> Result<(), PackError> {
    let total_vertices = view.vertices.len() as u64;
    let total_indices = view.indices.len() as u64;
    let mut referenced = 0u64;
    for (mesh, m) in view.meshes.iter().enumerate() {
        check_name(view.strings, "mesh", mesh, m.name_offset, m.name_len)?;
        if MeshKind::from_u32(m.kind).is_none() {
            return Err(PackError::BadMeshKind { mesh, kind: m.kind });
        }
        let bounds_ok = finite(&m.bounds_min)
            && finite(&m.bounds_max)
            && m.bounds_min
                .iter()
                .zip(&m.bounds_max)
                .all(|(lo, hi)| lo <= hi);
        if !bounds_ok {
            return Err(PackError::BadFloat {
                what: "bounds",
                record: "mesh",
                index: mesh,
            });
        }
        if !(m.radius.is_finite() && m.radius >= 0.0) {
            return Err(PackError::BadFloat {
                what: "radius",
                record: "mesh",
                index: mesh,
            });
        }
        let end = u64::from(m.first_vertex) + u64::from(m.vertex_count);
        if end > total_vertices {
            return Err(PackError::VertexRangeOutOfBounds {
                mesh,
                first: m.first_vertex,
                count: m.vertex_count,
                total: total_vertices,
            });
        }
        if m.tier_count == 0 || m.tier_count as usize > MAX_TIERS {
            return Err(PackError::BadTierCount {
                mesh,
                count: m.tier_count,
            });
        }
        for (tier, t) in m.tiers[..m.tier_count as usize].iter().enumerate() {
            if !(t.error.is_finite() && t.error >= 0.0) {
                return Err(PackError::BadFloat {
                    what: "tier error",
                    record: "mesh",
                    index: mesh,
                });
            }
            if t.index_count == 0 || t.index_count % 3 != 0 {
                return Err(PackError::BadTierLength {
                    mesh,
                    tier,
                    count: t.index_count,
                });
            }
            let start = t.first_index as usize;
            let range = start
                .checked_add(t.index_count as usize)
                .map(|end| start..end);
            let Some(indices) = range.and_then(|r| view.indices.get(r)) else {
                return Err(PackError::TierOutOfBounds {
                    mesh,
                    tier,
                    first: t.first_index,
                    count: t.index_count,
                    total: total_indices,
                });
            };
            referenced += u64::from(t.index_count);
            if referenced > total_indices {
                return Err(PackError::TiersExceedIndices {
                    referenced,
                    total: total_indices,
                });
            }
            let bad = indices
                .iter()
                .find(|&&i| i < m.first_vertex || u64::from(i) >= end);
            if let Some(&index) = bad {
                return Err(PackError::IndexOutOfRange {
                    mesh,
                    tier,
                    index,
                    first: m.first_vertex,
                    end,
                });
            }
        }
    }
    Ok(())
}

fn check_materials(view: &PackView<'_>) -> Result<(), PackError> {
    let pages = view.pages.len() as u64;
    for (material, m) in view.materials.iter().enumerate() {
        check_name(
            view.strings,
            "material",
            material,
            m.name_offset,
            m.name_len,
        )?;
        if u64::from(m.atlas_page) >= pages {
            return Err(PackError::AtlasPageOutOfRange {
                material,
                page: m.atlas_page,
                pages,
            });
        }
        let [u0, v0, u1, v1] = m.atlas_rect;
        let unit = |v: f32| (0.0..=1.0).contains(&v);
        if !(unit(u0) && unit(v0) && unit(u1) && unit(v1) && u0 <= u1 && v0 <= v1) {
            return Err(PackError::BadAtlasRect {
                material,
                rect: super::UnitRect(m.atlas_rect),
            });
        }
        if !(finite(&m.tint) && m.emissive.is_finite() && m.emissive >= 0.0) {
            return Err(PackError::BadFloat {
                what: "tint or emissive",
                record: "material",
                index: material,
            });
        }
    }
    Ok(())
}

/// Bytes of an RGBA8 mip chain of `mips` levels from `width`×`height`.
fn mip_chain_len(width: u32, height: u32, mips: u32) -> u64 {
    (0..mips)
        .map(|l| u64::from((width >> l).max(1)) * u64::from((height >> l).max(1)) * 4)
        .sum()
}

fn check_pages(view: &PackView<'_>) -> Result<(), PackError> {
    let section_len = view.page_data.len() as u64;
    let mut used = 0u64;
    let first = view.pages.first().copied().unwrap_or_default();
    for (page, p) in view.pages.iter().enumerate() {
        let (width, height) = (p.width, p.height);
        if !(1..=MAX_PAGE_SIZE).contains(&width) || !(1..=MAX_PAGE_SIZE).contains(&height) {
            return Err(PackError::BadPageSize {
                page,
                width,
                height,
            });
        }
        let max = width.max(height).ilog2() + 1;
        if p.mip_count == 0 || p.mip_count > max {
            return Err(PackError::BadMipCount {
                page,
                mips: p.mip_count,
                max,
            });
        }
        if (width, height, p.mip_count) != (first.width, first.height, first.mip_count) {
            return Err(PackError::PageSizeMismatch {
                page,
                width,
                height,
                mips: p.mip_count,
                first_width: first.width,
                first_height: first.height,
                first_mips: first.mip_count,
            });
        }
        let expected = match p.encoding {
            PAGE_ENCODING_RAW_RGBA8 => mip_chain_len(width, height, p.mip_count),
            PAGE_ENCODING_RGBA8_BASE_LEVEL => mip_chain_len(width, height, 1),
            PAGE_ENCODING_YCOCG420 => super::codec::ycocg420_len(width, height),
            encoding => return Err(PackError::UnknownPageEncoding { page, encoding }),
        };
        if p.data_len != expected {
            return Err(PackError::PageDataLength {
                page,
                expected,
                found: p.data_len,
            });
        }
        // Pages follow each other without sharing bytes: the owned copy is then
        // bounded by the input.
        let end = p.data_offset.checked_add(p.data_len);
        if p.data_offset != used || end.is_none_or(|e| e > section_len) {
            return Err(PackError::PageDataOutOfBounds {
                page,
                offset: p.data_offset,
                len: p.data_len,
                section_len,
            });
        }
        used += p.data_len;
    }
    Ok(())
}

impl PackView<'_> {
    /// Name of mesh `i` (validated by [`parse`]).
    pub fn mesh_name(&self, i: usize) -> &str {
        self.meshes
            .get(i)
            .map_or("", |m| self.name(m.name_offset, m.name_len))
    }

    /// Name of material `i` (validated by [`parse`]).
    pub fn material_name(&self, i: usize) -> &str {
        self.materials
            .get(i)
            .map_or("", |m| self.name(m.name_offset, m.name_len))
    }

    fn name(&self, offset: u32, len: u32) -> &str {
        let start = offset as usize;
        start
            .checked_add(len as usize)
            .and_then(|end| self.strings.get(start..end))
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    /// The stored mip levels of page `i` as RGBA8 bytes, level 0 first (one level for
    /// the base-level encodings; [`PackView::to_pack`] rebuilds the rest).
    pub fn page_mips(&self, i: usize) -> Vec<(u32, u32, Cow<'_, [u8]>)> {
        let Some(p) = self.pages.get(i) else {
            return Vec::new();
        };
        let mut offset = p.data_offset as usize;
        if p.encoding == PAGE_ENCODING_YCOCG420 {
            let len = super::codec::ycocg420_len(p.width, p.height) as usize;
            return offset
                .checked_add(len)
                .and_then(|end| self.page_data.get(offset..end))
                .and_then(|data| super::codec::decode_ycocg420(data, p.width, p.height))
                .map(|rgba| vec![(p.width, p.height, Cow::Owned(rgba))])
                .unwrap_or_default();
        }
        let stored = if p.encoding == PAGE_ENCODING_RGBA8_BASE_LEVEL {
            1
        } else {
            p.mip_count
        };
        let mut out = Vec::with_capacity(stored as usize);
        for level in 0..stored {
            let (w, h) = ((p.width >> level).max(1), (p.height >> level).max(1));
            let len = w as usize * h as usize * 4;
            let Some(bytes) = offset
                .checked_add(len)
                .and_then(|end| self.page_data.get(offset..end))
            else {
                break;
            };
            out.push((w, h, Cow::Borrowed(bytes)));
            offset += len;
        }
        out
    }

    /// The scene description.
    pub fn pack_description(&self) -> PackDescription {
        let d = &self.description;
        let counts = |c: [u32; 4]| PresetCounts {
            fish: c[0],
            rocks: c[1],
            kelp: c[2],
            snow: c[3],
        };
        PackDescription {
            presets: d.counts.map(counts),
            seed: d.seed,
            school_radius: d.school_radius,
            floor_y: d.floor_y,
            floor_extent: d.floor_extent,
            environment: Environment {
                fog_color: d.fog_color,
                fog_density: d.fog_density,
                light_dir: Vec3::from(d.light_dir),
                ambient: d.ambient,
            },
        }
    }

    /// Copies the pack into owned form.
    pub fn to_pack(&self) -> ScenePack {
        let meshes = self
            .meshes
            .iter()
            .enumerate()
            .map(|(i, m)| Mesh {
                name: self.mesh_name(i).to_owned(),
                kind: MeshKind::from_u32(m.kind).unwrap_or(MeshKind::Rock),
                bounds_min: Vec3::from(m.bounds_min),
                bounds_max: Vec3::from(m.bounds_max),
                radius: m.radius,
                first_vertex: m.first_vertex,
                vertex_count: m.vertex_count,
                tiers: m.tiers[..(m.tier_count as usize).min(MAX_TIERS)]
                    .iter()
                    .map(|t| LodTier {
                        first_index: t.first_index,
                        index_count: t.index_count,
                        error: t.error,
                    })
                    .collect(),
            })
            .collect();
        let materials = self
            .materials
            .iter()
            .enumerate()
            .map(|(i, m)| Material {
                name: self.material_name(i).to_owned(),
                atlas_page: m.atlas_page,
                atlas_rect: m.atlas_rect,
                tint: m.tint,
                emissive: m.emissive,
            })
            .collect();
        let atlas = (0..self.pages.len())
            .map(|i| {
                let mut mips: Vec<Image> = self
                    .page_mips(i)
                    .into_iter()
                    .map(|(width, height, bytes)| Image {
                        width,
                        height,
                        pixels: bytes.into_owned(),
                    })
                    .collect();
                let wanted = self.pages[i].mip_count;
                if self.pages[i].encoding != PAGE_ENCODING_RAW_RGBA8
                    && let Some(base) = mips.pop()
                {
                    mips = crate::assets::atlas::mip_chain(base, wanted);
                }
                AtlasImage { mips }
            })
            .collect();
        ScenePack {
            description: self.pack_description(),
            meshes: MeshLibrary {
                meshes,
                vertices: self.vertices.to_vec(),
                indices: self.indices.to_vec(),
            },
            materials,
            atlas,
        }
    }
}

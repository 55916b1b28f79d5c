//! Scene packs: round trips, and corrupt, truncated or hostile packs each rejected
//! with their own error (table-driven), plus the committed fuzz corpus.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::borrow::Cow;
use std::path::PathBuf;

use bytemuck::Pod;
use candlefish_renderer::Preset;
use candlefish_renderer::assets::atlas::{self, Image};
use candlefish_renderer::assets::pack::format::{
    DescriptionRecord, HEADER_LEN, Header, MaterialRecord, MeshRecord, PageRecord,
    SECTION_ENTRY_LEN, SectionEntry, SectionKind,
};
use candlefish_renderer::assets::pack::{self, PackDescription, PackError, ScenePack};
use candlefish_renderer::assets::procedural;
use candlefish_renderer::assets::simplify::{LodOptions, build_tiers, optimize_mesh};
use candlefish_renderer::assets::standard::{standard_materials, standard_meshes};
use candlefish_renderer::scene::Material;
use candlefish_renderer::scene::mesh::{MeshKind, MeshLibrary};

/// The standard content as a pack (meshes with LOD tiers, 1024² atlas with mips).
fn standard_pack() -> ScenePack {
    let (materials, atlas) = standard_materials().unwrap();
    ScenePack {
        description: PackDescription::default(),
        meshes: standard_meshes(),
        materials,
        atlas,
    }
}

/// A small but complete pack: every kind of mesh, tiers on the fish, two 16² pages.
fn small_pack() -> ScenePack {
    let mut meshes = MeshLibrary::default();
    let mut fish = procedural::fish(8, 6);
    optimize_mesh(&mut fish);
    meshes.push(
        "fish",
        MeshKind::Fish,
        &fish,
        &build_tiers(&fish, &LodOptions::default()),
    );
    for (name, kind, mesh) in [
        ("rock", MeshKind::Rock, procedural::rock(0, 1)),
        ("kelp", MeshKind::Kelp, procedural::kelp(2)),
        ("snow", MeshKind::Snow, procedural::snow()),
    ] {
        meshes.push(name, kind, &mesh, &[(mesh.indices.clone(), 0.0)]);
    }
    // Two 12² textures with 2-texel gutters fill two 16² pages.
    let mut image = Image::new(12, 12);
    image.set(1, 2, [200, 100, 50, 255]);
    let built = atlas::build(&[image.clone(), image], 16, 2).unwrap();
    assert_eq!(built.pages.len(), 2);
    let materials = ["fish", "rock", "kelp", "snow"]
        .iter()
        .enumerate()
        .map(|(i, name)| Material {
            name: (*name).to_owned(),
            atlas_page: 0,
            atlas_rect: built.uv_rect(i % 2),
            tint: [1.0, 0.9, 0.8],
            emissive: i as f32 * 0.5,
        })
        .collect();
    ScenePack {
        description: PackDescription::default(),
        meshes,
        materials,
        atlas: built.pages,
    }
}

#[test]
fn standard_pack_round_trips() {
    let pack = standard_pack();
    let bytes = pack::write(&pack);
    let loaded = pack::load(&bytes).unwrap();
    // (Not assert_eq: the Debug form of megabytes of pixels helps no one.)
    assert_eq!(loaded.description, pack.description);
    assert_eq!(loaded.meshes.meshes, pack.meshes.meshes);
    assert_eq!(loaded.materials, pack.materials);
    assert!(
        loaded.meshes.vertices == pack.meshes.vertices,
        "vertices differ"
    );
    assert!(
        loaded.meshes.indices == pack.meshes.indices,
        "indices differ"
    );
    assert!(loaded.atlas == pack.atlas, "atlas pages differ");
    assert!(
        pack::write(&loaded) == bytes,
        "writing is not deterministic"
    );
    let scene = loaded.scene(Preset::Performance).unwrap();
    let counts = Preset::Performance.settings();
    let expected = counts.fish + counts.rocks + counts.kelp + counts.snow;
    assert_eq!(scene.instances.len(), expected as usize);
}

#[test]
fn aligned_input_is_cast_in_place_and_misaligned_input_is_copied() {
    // Records are cast in place; the vertex and index streams are always decoded
    // (they are stored as byte planes).
    let bytes = pack::write(&small_pack());
    // A u64-backed buffer is aligned for every record type.
    let mut words = vec![0u64; bytes.len().div_ceil(8) + 1];
    let aligned = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()];
    aligned.copy_from_slice(&bytes);
    let view = pack::parse(aligned).unwrap();
    assert!(matches!(view.meshes, Cow::Borrowed(_)));
    assert!(matches!(view.materials, Cow::Borrowed(_)));
    let expected = view.to_pack();

    let mut shifted = vec![0u8; bytes.len() + 1];
    shifted[1..].copy_from_slice(&bytes);
    let view = pack::parse(&shifted[1..]).unwrap();
    assert!(matches!(view.meshes, Cow::Owned(_)));
    assert_eq!(view.to_pack(), expected);
}

/// Index of the table entry of `kind`.
fn entry_index(bytes: &[u8], kind: SectionKind) -> usize {
    (0..SectionKind::ALL.len())
        .find(|&i| {
            read::<SectionEntry>(bytes, HEADER_LEN + i * SECTION_ENTRY_LEN).kind == kind as u32
        })
        .unwrap()
}

fn read<T: Pod>(bytes: &[u8], at: usize) -> T {
    bytemuck::pod_read_unaligned(&bytes[at..at + size_of::<T>()])
}

fn write_at<T: Pod>(bytes: &mut [u8], at: usize, value: &T) {
    bytes[at..at + size_of::<T>()].copy_from_slice(bytemuck::bytes_of(value));
}

/// Edits the table entry of `kind`.
fn edit_entry(bytes: &mut [u8], kind: SectionKind, f: impl FnOnce(&mut SectionEntry)) {
    let at = HEADER_LEN + entry_index(bytes, kind) * SECTION_ENTRY_LEN;
    let mut e: SectionEntry = read(bytes, at);
    f(&mut e);
    write_at(bytes, at, &e);
}

/// Edits record `i` of section `kind`.
fn edit_record<T: Pod>(bytes: &mut [u8], kind: SectionKind, i: usize, f: impl FnOnce(&mut T)) {
    let e: SectionEntry = read(
        bytes,
        HEADER_LEN + entry_index(bytes, kind) * SECTION_ENTRY_LEN,
    );
    let at = e.offset as usize + i * size_of::<T>();
    let mut r: T = read(bytes, at);
    f(&mut r);
    write_at(bytes, at, &r);
}

fn edit_header(bytes: &mut [u8], f: impl FnOnce(&mut Header)) {
    let mut h: Header = read(bytes, 0);
    f(&mut h);
    write_at(bytes, 0, &h);
}

/// Recomputes the checksum, so that a semantic error is what the reader meets.
fn reseal(bytes: &mut [u8]) {
    let crc = crc32fast::hash(&bytes[HEADER_LEN..]);
    edit_header(bytes, |h| h.checksum = crc);
}

type Corruption = fn(&mut Vec<u8>);

/// (what, how to break a valid pack, the variant the reader must answer with).
const CASES: &[(&str, Corruption, &str)] = &[
    ("empty input", |b| b.clear(), "Truncated"),
    ("cut in the header", |b| b.truncate(20), "Truncated"),
    ("cut in half", |b| b.truncate(b.len() / 2), "Truncated"),
    (
        "last byte missing",
        |b| {
            b.pop();
        },
        "Truncated",
    ),
    ("bad magic", |b| b[0] = b'X', "BadMagic"),
    (
        "newer version",
        |b| edit_header(b, |h| h.version = pack::format::VERSION + 1),
        "UnsupportedVersion",
    ),
    ("trailing garbage", |b| b.push(0), "TrailingBytes"),
    (
        "flipped bit in the vertices",
        |b| {
            let e: SectionEntry = read(
                b,
                HEADER_LEN + entry_index(b, SectionKind::Vertices) * SECTION_ENTRY_LEN,
            );
            b[e.offset as usize + 5] ^= 0x10;
        },
        "ChecksumMismatch",
    ),
    (
        "flipped bit in the section table",
        |b| b[HEADER_LEN + 9] ^= 1,
        "ChecksumMismatch",
    ),
    (
        "huge section count",
        |b| edit_header(b, |h| h.section_count = u32::MAX),
        "TooManySections",
    ),
    (
        "no sections",
        |b| {
            edit_header(b, |h| h.section_count = 0);
            reseal(b)
        },
        "MissingSection",
    ),
    (
        "unknown section kind",
        |b| {
            edit_entry(b, SectionKind::Strings, |e| e.kind = 99);
            reseal(b)
        },
        "UnknownSection",
    ),
    (
        "duplicate section",
        |b| {
            edit_entry(b, SectionKind::Meshes, |e| {
                e.kind = SectionKind::Strings as u32
            });
            reseal(b)
        },
        "DuplicateSection",
    ),
    (
        "misaligned offset",
        |b| {
            edit_entry(b, SectionKind::Indices, |e| e.offset += 2);
            reseal(b)
        },
        "BadAlignment",
    ),
    (
        "alignment not a power of two",
        |b| {
            edit_entry(b, SectionKind::Meshes, |e| e.align = 12);
            reseal(b)
        },
        "BadAlignment",
    ),
    (
        "section past the end",
        |b| {
            edit_entry(b, SectionKind::PageData, |e| e.length += 16);
            reseal(b)
        },
        "SectionOutOfBounds",
    ),
    (
        "section length overflows",
        |b| {
            edit_entry(b, SectionKind::PageData, |e| e.length = u64::MAX - 8);
            reseal(b)
        },
        "SectionOutOfBounds",
    ),
    (
        "section inside the table",
        |b| {
            edit_entry(b, SectionKind::Strings, |e| e.offset = 16);
            reseal(b)
        },
        "SectionOutOfBounds",
    ),
    (
        "overlapping sections",
        |b| {
            let e: SectionEntry = read(
                b,
                HEADER_LEN + entry_index(b, SectionKind::Vertices) * SECTION_ENTRY_LEN,
            );
            edit_entry(b, SectionKind::Strings, |s| s.offset = e.offset + 16);
            reseal(b)
        },
        "SectionsOverlap",
    ),
    (
        "partial mesh record",
        |b| {
            edit_entry(b, SectionKind::Meshes, |e| e.length -= 4);
            reseal(b)
        },
        "BadSectionLength",
    ),
    (
        "two descriptions",
        |b| {
            edit_entry(b, SectionKind::Description, |e| e.length *= 2);
            reseal(b)
        },
        "BadSectionLength",
    ),
    (
        "too many instances",
        |b| {
            edit_record::<DescriptionRecord>(b, SectionKind::Description, 0, |d| {
                d.counts[1] = [u32::MAX; 4]
            });
            reseal(b)
        },
        "TooManyInstances",
    ),
    (
        "NaN fog",
        |b| {
            edit_record::<DescriptionRecord>(b, SectionKind::Description, 0, |d| {
                d.fog_density = f32::NAN
            });
            reseal(b)
        },
        "BadFloat",
    ),
    (
        "name past the strings",
        |b| {
            edit_record::<MeshRecord>(b, SectionKind::Meshes, 1, |m| m.name_offset = 1 << 30);
            reseal(b)
        },
        "NameOutOfBounds",
    ),
    (
        "name too long",
        |b| {
            edit_record::<MeshRecord>(b, SectionKind::Meshes, 1, |m| m.name_len = u32::MAX);
            reseal(b)
        },
        "NameOutOfBounds",
    ),
    (
        "name not UTF-8",
        |b| {
            let e: SectionEntry = read(
                b,
                HEADER_LEN + entry_index(b, SectionKind::Strings) * SECTION_ENTRY_LEN,
            );
            b[e.offset as usize] = 0xFF;
            reseal(b)
        },
        "NameNotUtf8",
    ),
    (
        "unknown mesh kind",
        |b| {
            edit_record::<MeshRecord>(b, SectionKind::Meshes, 0, |m| m.kind = 7);
            reseal(b)
        },
        "BadMeshKind",
    ),
    (
        "infinite bounds",
        |b| {
            edit_record::<MeshRecord>(b, SectionKind::Meshes, 0, |m| {
                m.bounds_max[1] = f32::INFINITY
            });
            reseal(b)
        },
        "BadFloat",
    ),
    (
        "no tiers",
        |b| {
            edit_record::<MeshRecord>(b, SectionKind::Meshes, 2, |m| m.tier_count = 0);
            reseal(b)
        },
        "BadTierCount",
    ),
    (
        "too many tiers",
        |b| {
            edit_record::<MeshRecord>(b, SectionKind::Meshes, 0, |m| m.tier_count = 1000);
            reseal(b)
        },
        "BadTierCount",
    ),
    (
        "vertex range overflows",
        |b| {
            edit_record::<MeshRecord>(b, SectionKind::Meshes, 1, |m| m.first_vertex = u32::MAX);
            reseal(b)
        },
        "VertexRangeOutOfBounds",
    ),
    (
        "tier past the indices",
        |b| {
            edit_record::<MeshRecord>(b, SectionKind::Meshes, 1, |m| {
                m.tiers[0].first_index = u32::MAX - 2
            });
            reseal(b)
        },
        "TierOutOfBounds",
    ),
    (
        "tier not whole triangles",
        |b| {
            edit_record::<MeshRecord>(b, SectionKind::Meshes, 1, |m| m.tiers[0].index_count -= 1);
            reseal(b)
        },
        "BadTierLength",
    ),
    (
        "tiers sharing the index buffer",
        |b| {
            let (vertices, indices) = section_counts(b);
            edit_record::<MeshRecord>(b, SectionKind::Meshes, 0, |m| {
                m.first_vertex = 0;
                m.vertex_count = vertices;
                m.tiers[0].first_index = 0;
                m.tiers[0].index_count = indices;
            });
            reseal(b)
        },
        "TiersExceedIndices",
    ),
    (
        "index past the mesh's vertices",
        |b| {
            let e: SectionEntry = read(
                b,
                HEADER_LEN + entry_index(b, SectionKind::Indices) * SECTION_ENTRY_LEN,
            );
            write_at(b, e.offset as usize + 8, &u32::MAX);
            reseal(b)
        },
        "IndexOutOfRange",
    ),
    (
        "index into another mesh",
        |b| {
            let e: SectionEntry = read(
                b,
                HEADER_LEN + entry_index(b, SectionKind::Indices) * SECTION_ENTRY_LEN,
            );
            let (vertices, _) = section_counts(b);
            write_at(b, e.offset as usize, &(vertices - 1));
            reseal(b)
        },
        "IndexOutOfRange",
    ),
    (
        "material page out of range",
        |b| {
            edit_record::<MaterialRecord>(b, SectionKind::Materials, 3, |m| m.atlas_page = 2);
            reseal(b)
        },
        "AtlasPageOutOfRange",
    ),
    (
        "material rect outside the page",
        |b| {
            edit_record::<MaterialRecord>(b, SectionKind::Materials, 0, |m| m.atlas_rect[2] = 1.5);
            reseal(b)
        },
        "BadAtlasRect",
    ),
    (
        "material rect NaN",
        |b| {
            edit_record::<MaterialRecord>(b, SectionKind::Materials, 0, |m| {
                m.atlas_rect[0] = f32::NAN
            });
            reseal(b)
        },
        "BadAtlasRect",
    ),
    (
        "negative emissive",
        |b| {
            edit_record::<MaterialRecord>(b, SectionKind::Materials, 0, |m| m.emissive = -1.0);
            reseal(b)
        },
        "BadFloat",
    ),
    (
        "page of zero width",
        |b| {
            edit_record::<PageRecord>(b, SectionKind::Pages, 0, |p| p.width = 0);
            reseal(b)
        },
        "BadPageSize",
    ),
    (
        "huge page",
        |b| {
            edit_record::<PageRecord>(b, SectionKind::Pages, 0, |p| p.height = 1 << 20);
            reseal(b)
        },
        "BadPageSize",
    ),
    (
        "too many mips",
        |b| {
            edit_record::<PageRecord>(b, SectionKind::Pages, 0, |p| p.mip_count = 40);
            reseal(b)
        },
        "BadMipCount",
    ),
    (
        "unknown encoding",
        |b| {
            edit_record::<PageRecord>(b, SectionKind::Pages, 0, |p| p.encoding = 9);
            reseal(b)
        },
        "UnknownPageEncoding",
    ),
    (
        "page data length wrong",
        |b| {
            edit_record::<PageRecord>(b, SectionKind::Pages, 0, |p| p.data_len += 4);
            reseal(b)
        },
        "PageDataLength",
    ),
    (
        "page data outside",
        |b| {
            edit_record::<PageRecord>(b, SectionKind::Pages, 0, |p| p.data_offset = u64::MAX - 3);
            reseal(b)
        },
        "PageDataOutOfBounds",
    ),
    (
        "second page shares the first's pixels",
        |b| {
            edit_record::<PageRecord>(b, SectionKind::Pages, 1, |p| p.data_offset = 0);
            reseal(b)
        },
        "PageDataOutOfBounds",
    ),
];

/// Vertices and indices in the pack.
fn section_counts(bytes: &[u8]) -> (u32, u32) {
    let len = |k| {
        read::<SectionEntry>(
            bytes,
            HEADER_LEN + entry_index(bytes, k) * SECTION_ENTRY_LEN,
        )
        .length as u32
    };
    (
        len(SectionKind::Vertices) / 16,
        len(SectionKind::Indices) / 4,
    )
}

fn variant(e: &PackError) -> String {
    let debug = format!("{e:?}");
    debug
        .split([' ', '(', '{'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn each_corruption_gives_its_own_error() {
    let valid = pack::write(&small_pack());
    pack::load(&valid).unwrap();
    let mut failures = Vec::new();
    for (what, corrupt, expected) in CASES {
        let mut bytes = valid.clone();
        corrupt(&mut bytes);
        match pack::load(&bytes) {
            Ok(_) => failures.push(format!("{what}: loaded")),
            Err(e) if variant(&e) != *expected => {
                failures.push(format!("{what}: expected {expected}, got {e:?} ({e})"));
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_truncation_is_rejected_without_panicking() {
    let valid = pack::write(&small_pack());
    for len in 0..valid.len() {
        let e = pack::load(&valid[..len]).unwrap_err();
        assert_eq!(variant(&e), "Truncated", "length {len}: {e}");
    }
}

#[test]
fn fuzz_corpus_never_panics() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/pack_load");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        // Either result is fine; a panic fails the test.
        let _ = pack::load(&bytes);
        seen += 1;
    }
    assert!(seen >= 3, "only {seen} corpus files in {}", dir.display());
}

/// Regenerates the committed seed corpus of the fuzz target:
/// `cargo test -p candlefish-renderer --test pack -- --ignored write_fuzz_corpus`.
#[test]
#[ignore = "writes fuzz/corpus/pack_load"]
fn write_fuzz_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/pack_load");
    std::fs::create_dir_all(&dir).unwrap();
    let valid = pack::write(&small_pack());
    std::fs::write(dir.join("small-pack"), &valid).unwrap();
    std::fs::write(dir.join("header-only"), &valid[..HEADER_LEN]).unwrap();
    std::fs::write(
        dir.join("table-only"),
        &valid[..HEADER_LEN + 8 * SECTION_ENTRY_LEN],
    )
    .unwrap();
    std::fs::write(dir.join("truncated-half"), &valid[..valid.len() / 2]).unwrap();
    let mut resealed = valid.clone();
    edit_record::<MeshRecord>(&mut resealed, SectionKind::Meshes, 0, |m| {
        m.tiers[1].index_count += 3
    });
    reseal(&mut resealed);
    std::fs::write(dir.join("bad-tier-resealed"), &resealed).unwrap();
}

#[test]
fn the_site_encoding_keeps_meshes_exact_and_the_atlas_close() {
    let exact = small_pack();
    let bytes = pack::write_with(&exact, pack::AtlasEncoding::Ycocg420);
    let loaded = pack::load(&bytes).unwrap();
    assert_eq!(loaded.meshes, exact.meshes);
    assert_eq!(loaded.materials, exact.materials);
    assert_eq!(loaded.description, exact.description);
    assert_eq!(loaded.atlas.len(), exact.atlas.len());
    for (a, b) in loaded.atlas.iter().zip(&exact.atlas) {
        assert_eq!(a.mips.len(), b.mips.len(), "the mips are rebuilt");
        let (a, b) = (&a.mips[0].pixels, &b.mips[0].pixels);
        assert_eq!(a.len(), b.len());
        let mean = a
            .iter()
            .zip(b)
            .map(|(x, y)| f64::from(x.abs_diff(*y)))
            .sum::<f64>()
            / a.len() as f64;
        assert!(mean < 4.0, "mean error {mean}");
    }
    assert!(
        bytes.len() < pack::write(&exact).len(),
        "the encoding is not smaller"
    );
}

/// The atlas rectangle of an error reads as numbers, written without core's float
/// formatting (kept out of the browser bundles).
#[test]
fn a_bad_atlas_rectangle_reads_in_the_error() {
    let e = PackError::BadAtlasRect {
        material: 3,
        rect: pack::UnitRect([0.25, -0.000_04, 1.5, f32::NAN]),
    };
    assert_eq!(
        e.to_string(),
        "material 3 has atlas rectangle [0.2500, 0.0000, 1.5000, NaN], not inside the unit square"
    );
    let big = pack::UnitRect([-2.0e12, 0.0, 1.0, -0.5]).to_string();
    assert_eq!(big, "[-huge, 0.0000, 1.0000, -0.5000]");
}

//! The pack report: triangles and error per LOD tier, atlas occupancy per page, and the
//! pack's size raw, gzipped and brotli-compressed (what a visitor downloads), with the
//! atlas pages' cost as raw RGBA8 mips against PNG for comparison.

use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::Built;

/// Compressed sizes of some bytes.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Uncompressed.
    pub raw: usize,
    /// gzip, level 9.
    pub gzip: usize,
    /// brotli, quality 11, 16 MiB window (as a static server precompresses).
    pub brotli: usize,
}

impl Sizes {
    /// Measures `bytes`.
    pub fn of(bytes: &[u8]) -> Result<Self> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(bytes).context("gzip")?;
        let gzip = gz.finish().context("gzip")?.len();
        let mut br = Vec::new();
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            lgwin: 24,
            ..Default::default()
        };
        brotli::BrotliCompress(&mut &bytes[..], &mut br, &params).context("brotli")?;
        Ok(Self {
            raw: bytes.len(),
            gzip,
            brotli: br.len(),
        })
    }

    fn json(&self) -> Value {
        json!({ "raw": self.raw, "gzip": self.gzip, "brotli": self.brotli })
    }
}

/// Everything the report shows.
#[derive(Debug)]
pub struct Report {
    meshes: Vec<Value>,
    page_occupancy: Vec<f64>,
    page_size: u32,
    padding_used: f64,
    pack: Sizes,
    atlas_raw: Sizes,
    atlas_png: usize,
    built_json: Value,
}

impl Report {
    /// Measures `built` and its serialized `bytes`.
    pub fn new(built: &Built, bytes: &[u8]) -> Result<Self> {
        let lib = &built.pack.meshes;
        let meshes = lib
            .meshes
            .iter()
            .zip(&built.sources)
            .map(|(m, (_, source))| {
                json!({
                    "name": m.name,
                    "kind": m.kind.name(),
                    "source": source,
                    "vertices": m.vertex_count,
                    "radius": m.radius,
                    "tiers": m.tiers.iter().map(|t| json!({
                        "triangles": t.index_count / 3,
                        "error": t.error,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let stats = built.atlas.stats;
        let page_area = f64::from(stats.page_size) * f64::from(stats.page_size);
        let mut per_page = vec![0u64; stats.pages as usize];
        let pad = u64::from(built.atlas.placements.first().map_or(0, |p| p.x.min(p.y)));
        for p in &built.atlas.placements {
            if let Some(slot) = per_page.get_mut(p.page as usize) {
                *slot += (u64::from(p.width) + 2 * pad) * (u64::from(p.height) + 2 * pad);
            }
        }
        let page_occupancy = per_page.iter().map(|&a| a as f64 / page_area).collect();
        let mut raw = Vec::new();
        let mut png_len = 0;
        for page in &built.pack.atlas {
            for mip in &page.mips {
                raw.extend_from_slice(&mip.pixels);
                png_len += encode_png(mip)?.len();
            }
        }
        Ok(Self {
            meshes,
            page_occupancy,
            page_size: stats.page_size,
            padding_used: stats.occupancy_used(),
            pack: Sizes::of(bytes)?,
            atlas_raw: Sizes::of(&raw)?,
            atlas_png: png_len,
            built_json: json!({ "materials": built.pack.materials.len(), "textures": built.atlas.placements.len() }),
        })
    }

    /// The report as JSON (`pack-report.json`).
    pub fn json(&self) -> Value {
        json!({
            "meshes": self.meshes,
            "atlas": {
                "page_size": self.page_size,
                "pages": self.page_occupancy.len(),
                "occupancy_per_page": self.page_occupancy,
                "occupancy_of_used_region": self.padding_used,
                "raw_rgba8_mips": self.atlas_raw.json(),
                "png_mips_bytes": self.atlas_png,
            },
            "content": self.built_json,
            "pack": self.pack.json(),
        })
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "meshes (triangles / object-space error per tier):");
        for m in &self.meshes {
            let tiers: Vec<String> = m["tiers"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .map(|t| {
                            format!(
                                "{} / {:.5}",
                                t["triangles"],
                                t["error"].as_f64().unwrap_or(0.0)
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  {:<12} {}",
                m["name"].as_str().unwrap_or("?"),
                tiers.join("  →  ")
            );
        }
        let _ = writeln!(
            s,
            "atlas: {} page(s) of {}²",
            self.page_occupancy.len(),
            self.page_size
        );
        for (i, o) in self.page_occupancy.iter().enumerate() {
            let _ = writeln!(
                s,
                "  page {i}: {:.1}% occupied (textures + gutters / page area)",
                o * 100.0
            );
        }
        let _ = writeln!(
            s,
            "  pages as raw RGBA8 mips: {} B raw, {} B brotli; as PNG mips: {} B",
            self.atlas_raw.raw, self.atlas_raw.brotli, self.atlas_png
        );
        let _ = writeln!(
            s,
            "pack: {} B raw, {} B gzip, {} B brotli",
            self.pack.raw, self.pack.gzip, self.pack.brotli
        );
        s
    }
}

fn encode_png(image: &candlefish_renderer::assets::atlas::Image) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, image.width, image.height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().context("png")?;
    writer.write_image_data(&image.pixels).context("png")?;
    writer.finish().context("png")?;
    Ok(out)
}

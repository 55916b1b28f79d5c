//! Source meshes and textures: glTF 2.0 (`.glb`, `.gltf` with external buffers) through
//! the `gltf` crate, PNG through the `png` crate, and the renderer's procedural
//! generators. Everything from outside is checked before meshoptimizer sees it (its C++
//! asserts would abort the process).

use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use candlefish_renderer::assets::atlas::Image;
use candlefish_renderer::assets::{procedural, textures};
use candlefish_renderer::scene::mesh::{MeshKind, SourceMesh};
use glam::{Mat4, Vec2, Vec3};

/// Largest texture side accepted.
const MAX_TEXTURE_SIZE: u32 = 4096;

/// Loads a mesh source: `procedural:<name>` or a glTF file relative to `base`.
pub fn load_mesh(source: &str, base: &Path) -> Result<SourceMesh> {
    let mesh = match source.strip_prefix("procedural:") {
        Some("fish") => procedural::standard_mesh(MeshKind::Fish),
        Some("rock") => procedural::standard_mesh(MeshKind::Rock),
        Some("kelp") => procedural::standard_mesh(MeshKind::Kelp),
        Some("snow") => procedural::standard_mesh(MeshKind::Snow),
        Some(other) => bail!("unknown procedural mesh {other:?} (fish, rock, kelp, snow)"),
        None => {
            let path = base.join(source);
            import_gltf(&path).with_context(|| format!("importing {}", path.display()))?
        }
    };
    check_mesh(&mesh)?;
    Ok(mesh)
}

/// Loads a texture source: `procedural:<name>` or a PNG file relative to `base`.
pub fn load_texture(source: &str, base: &Path) -> Result<Image> {
    match source.strip_prefix("procedural:") {
        Some(name) => textures::standard_texture(name).with_context(|| {
            format!("unknown procedural texture {name:?} (fish-skin-0, fish-skin-1, rock, rock-moss, kelp, snow)")
        }),
        None => {
            let path = base.join(source);
            decode_png(&path).with_context(|| format!("decoding {}", path.display()))
        }
    }
}

/// Checks what meshoptimizer assumes: whole triangles, indices in range, finite data.
fn check_mesh(mesh: &SourceMesh) -> Result<()> {
    let n = mesh.positions.len();
    ensure!(
        n > 0 && !mesh.indices.is_empty(),
        "the mesh has no triangles"
    );
    ensure!(
        mesh.normals.len() == n && mesh.uvs.len() == n,
        "the mesh has {n} positions but {} normals and {} uvs",
        mesh.normals.len(),
        mesh.uvs.len()
    );
    ensure!(
        mesh.indices.len().is_multiple_of(3),
        "{} indices do not make whole triangles",
        mesh.indices.len()
    );
    if let Some(i) = mesh.indices.iter().find(|&&i| i as usize >= n) {
        bail!("index {i} is out of range of the {n} vertices");
    }
    ensure!(
        mesh.positions.iter().all(|p| p.is_finite()),
        "a vertex position is not finite"
    );
    Ok(())
}

/// Imports every triangle primitive of the default scene (or of all meshes when there
/// is no scene), with node transforms applied, as one mesh.
pub fn import_gltf(path: &Path) -> Result<SourceMesh> {
    let bytes = std::fs::read(path).context("reading the file")?;
    let gltf = gltf::Gltf::from_slice(&bytes).context("parsing glTF")?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut buffers = Vec::new();
    for buffer in gltf.buffers() {
        let data = match buffer.source() {
            gltf::buffer::Source::Bin => gltf
                .blob
                .clone()
                .context("the glTF refers to a GLB binary chunk it does not have")?,
            gltf::buffer::Source::Uri(uri) => {
                ensure!(
                    !uri.starts_with("data:"),
                    "buffer {} is a data URI; use .glb or an external .bin",
                    buffer.index()
                );
                let rel = Path::new(uri);
                ensure!(
                    rel.components()
                        .all(|c| matches!(c, std::path::Component::Normal(_))),
                    "buffer uri {uri:?} must be a relative path inside the asset's folder"
                );
                std::fs::read(dir.join(rel)).with_context(|| format!("reading buffer {uri:?}"))?
            }
        };
        ensure!(
            data.len() >= buffer.length(),
            "buffer {} has {} bytes but declares {}",
            buffer.index(),
            data.len(),
            buffer.length()
        );
        buffers.push(data);
    }
    check_accessors(&gltf, &buffers)?;
    let mut out = SourceMesh::default();
    let mut any_normals = true;
    let mut visit = |node: gltf::Node<'_>, world: Mat4, out: &mut SourceMesh| -> Result<()> {
        if let Some(mesh) = node.mesh() {
            for primitive in mesh.primitives() {
                any_normals &= append_primitive(&primitive, &buffers, world, out)?;
            }
        }
        Ok(())
    };
    let roots: Vec<gltf::Node<'_>> = match gltf.default_scene().or_else(|| gltf.scenes().next()) {
        Some(scene) => scene.nodes().collect(),
        None => gltf.nodes().collect(),
    };
    // Depth-first with a bounded stack (a hostile file may nest deeply or cycle).
    let mut stack: Vec<(gltf::Node<'_>, Mat4, usize)> =
        roots.into_iter().map(|n| (n, Mat4::IDENTITY, 0)).collect();
    while let Some((node, parent, depth)) = stack.pop() {
        ensure!(
            depth < 64,
            "the node hierarchy is deeper than 64 (or cyclic)"
        );
        let world = parent * Mat4::from_cols_array_2d(&node.transform().matrix());
        for child in node.children() {
            stack.push((child, world, depth + 1));
        }
        visit(node, world, &mut out)?;
    }
    ensure!(!out.indices.is_empty(), "no triangle primitives found");
    if !any_normals {
        out.compute_normals();
    }
    Ok(out)
}

/// Every accessor must lie inside its buffer view, and every view inside its buffer:
/// the `gltf` reader slices without checking.
fn check_accessors(gltf: &gltf::Gltf, buffers: &[Vec<u8>]) -> Result<()> {
    for view in gltf.views() {
        let end = view.offset().checked_add(view.length());
        let len = buffers.get(view.buffer().index()).map_or(0, Vec::len);
        ensure!(
            end.is_some_and(|e| e <= len),
            "buffer view {} (offset {}, length {}) lies outside its {len}-byte buffer",
            view.index(),
            view.offset(),
            view.length()
        );
    }
    for accessor in gltf.accessors() {
        let Some(view) = accessor.view() else {
            bail!(
                "accessor {} has no buffer view (sparse accessors are not supported)",
                accessor.index()
            );
        };
        let size = accessor.size();
        let stride = view.stride().unwrap_or(size);
        let needed = accessor
            .count()
            .checked_sub(1)
            .map_or(Some(0), |n| n.checked_mul(stride)?.checked_add(size))
            .and_then(|n| n.checked_add(accessor.offset()));
        ensure!(
            needed.is_some_and(|n| n <= view.length()),
            "accessor {} ({} elements) reaches past its {}-byte buffer view",
            accessor.index(),
            accessor.count(),
            view.length()
        );
    }
    Ok(())
}

/// Appends one primitive transformed by `world`; returns whether it had normals.
fn append_primitive(
    primitive: &gltf::Primitive<'_>,
    buffers: &[Vec<u8>],
    world: Mat4,
    out: &mut SourceMesh,
) -> Result<bool> {
    ensure!(
        primitive.mode() == gltf::mesh::Mode::Triangles,
        "primitive mode {:?} is not supported (triangles only)",
        primitive.mode()
    );
    let reader = primitive.reader(|b| buffers.get(b.index()).map(Vec::as_slice));
    let positions: Vec<Vec3> = reader
        .read_positions()
        .context("a primitive has no POSITION")?
        .map(|p| world.transform_point3(Vec3::from(p)))
        .collect();
    let n = positions.len();
    let normal_matrix = world.inverse().transpose();
    let normals: Option<Vec<Vec3>> = reader.read_normals().map(|it| {
        it.map(|v| {
            normal_matrix
                .transform_vector3(Vec3::from(v))
                .normalize_or(Vec3::Y)
        })
        .collect()
    });
    let uvs: Vec<Vec2> = match reader.read_tex_coords(0) {
        Some(t) => t.into_f32().map(Vec2::from).collect(),
        None => vec![Vec2::ZERO; n],
    };
    let indices: Vec<u32> = match reader.read_indices() {
        Some(i) => i.into_u32().collect(),
        None => (0..n as u32).collect(),
    };
    ensure!(
        normals.as_ref().is_none_or(|v| v.len() == n) && uvs.len() == n,
        "a primitive's attributes have different lengths"
    );
    if let Some(i) = indices.iter().find(|&&i| i as usize >= n) {
        bail!("index {i} is out of range of the primitive's {n} vertices");
    }
    let had_normals = normals.is_some();
    let base = out.positions.len() as u32;
    out.positions.extend(positions);
    out.normals
        .extend(normals.unwrap_or_else(|| vec![Vec3::Y; n]));
    out.uvs.extend(uvs);
    out.indices.extend(indices.iter().map(|i| i + base));
    Ok(had_normals)
}

/// Decodes a PNG into RGBA8 (grey, grey+alpha and RGB are expanded; 16-bit is
/// stripped to 8).
pub fn decode_png(path: &Path) -> Result<Image> {
    let file = std::fs::File::open(path).context("opening the file")?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().context("reading the PNG header")?;
    let (width, height) = (reader.info().width, reader.info().height);
    ensure!(
        (1..=MAX_TEXTURE_SIZE).contains(&width) && (1..=MAX_TEXTURE_SIZE).contains(&height),
        "the texture is {width}x{height}; sides must be 1..={MAX_TEXTURE_SIZE}"
    );
    let size = reader
        .output_buffer_size()
        .context("the PNG's decoded size overflows")?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).context("decoding the PNG")?;
    buf.truncate(info.buffer_size());
    let pixels: Vec<u8> = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        png::ColorType::GrayscaleAlpha => buf
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        png::ColorType::Indexed => bail!("indexed PNG was not expanded"),
    };
    ensure!(
        pixels.len() == width as usize * height as usize * 4,
        "the PNG decoded to {} bytes, not {width}x{height} RGBA",
        pixels.len()
    );
    Ok(Image {
        width,
        height,
        pixels,
    })
}

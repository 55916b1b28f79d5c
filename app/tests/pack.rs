//! `candlefish pack`: the committed `assets/scene.toml` builds a pack whose tiers and
//! atlas are sound; both glTF forms import alike; broken sources give clear errors.
//! The source assets themselves come from [`write_source_assets`] (run once, ignored).

#![expect(clippy::unwrap_used, reason = "tests")]

use std::path::{Path, PathBuf};
use std::process::Command;

use candlefish_renderer::Preset;
use candlefish_renderer::assets::{pack, procedural, textures};
use candlefish_renderer::scene::mesh::{MeshKind, MeshLibrary, SourceMesh};

fn assets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("candlefish-pack-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `candlefish pack`; returns (success, stdout + stderr).
fn run_pack(scene: &Path, out: &Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_candlefish"))
        .arg("pack")
        .arg(scene)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

/// Edges used by one triangle only, by quantized position (uv seams split vertices,
/// so indices alone would count seams as holes).
fn boundary_edges(lib: &MeshLibrary, mesh: usize, tier: usize) -> usize {
    let m = &lib.meshes[mesh];
    let t = m.tiers[tier];
    let key = |i: u32| lib.vertices[i as usize].position;
    let mut edges = std::collections::HashMap::new();
    let indices = &lib.indices[t.first_index as usize..(t.first_index + t.index_count) as usize];
    for tri in indices.chunks_exact(3) {
        for (a, b) in [(tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0])] {
            let (a, b) = (key(a), key(b));
            if a == b {
                continue;
            }
            *edges
                .entry(if a < b { (a, b) } else { (b, a) })
                .or_insert(0) += 1;
        }
    }
    edges.values().filter(|&&n| n == 1).count()
}

#[test]
fn the_committed_scene_builds_a_sound_pack() {
    let out = temp_dir("scene");
    let (ok, text) = run_pack(&assets().join("scene.toml"), &out);
    assert!(ok, "{text}");
    assert!(text.contains("brotli"), "no size report: {text}");
    let bytes = std::fs::read(out.join("scene.pack")).unwrap();
    let loaded = pack::load(&bytes).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("pack-report.json")).unwrap())
            .unwrap();
    assert!(report["pack"]["brotli"].as_u64().unwrap() < bytes.len() as u64);

    let lib = &loaded.meshes;
    for m in &lib.meshes {
        for w in m.tiers.windows(2) {
            assert!(
                w[1].index_count < w[0].index_count,
                "{}: triangles must decrease",
                m.name
            );
            assert!(w[1].error > w[0].error, "{}: errors must increase", m.name);
        }
    }
    let fish = usize::from(lib.find_kind(MeshKind::Fish).unwrap());
    assert!(
        lib.meshes[fish].tiers.len() >= 3,
        "the fish needs a LOD chain"
    );
    // The last fish tier is the impostor: a dozen triangles in two open strips.
    let tiers = &lib.meshes[fish].tiers;
    let impostor = tiers[tiers.len() - 1];
    assert!(
        impostor.index_count / 3 <= 16 && impostor.error > tiers[tiers.len() - 2].error,
        "the fish's last tier should be the impostor: {impostor:?}"
    );
    // The coarsest simplified fish tier closes its silhouette wherever the full mesh
    // does.
    let holes = boundary_edges(lib, fish, 0);
    let last = lib.meshes[fish].tiers.len() - 2;
    assert!(
        boundary_edges(lib, fish, last) <= holes,
        "tier {last} opens {} boundary edges (source {holes})",
        boundary_edges(lib, fish, last)
    );
    let scene = loaded.scene(Preset::Quality).unwrap();
    assert_eq!(scene.instances.len() as u32, {
        let s = Preset::Quality.settings();
        s.fish + s.rocks + s.kelp + s.snow
    });
}

#[test]
fn glb_and_gltf_with_external_buffer_import_alike() {
    let dir = temp_dir("forms");
    for (name, source) in [
        ("glb", "meshes/candlefish.glb"),
        ("gltf", "meshes/candlefish.gltf"),
    ] {
        let scene = std::fs::read_to_string(assets().join("scene.toml"))
            .unwrap()
            .replace(
                "meshes/candlefish.glb",
                &assets().join(source).display().to_string(),
            );
        std::fs::write(dir.join(format!("{name}.toml")), scene).unwrap();
    }
    // Other sources stay relative to the assets folder: copy the descriptions there.
    let mut packs = Vec::new();
    for name in ["glb", "gltf"] {
        let scene = assets().join(format!(".test-{name}-{}.toml", std::process::id()));
        std::fs::copy(dir.join(format!("{name}.toml")), &scene).unwrap();
        let (ok, text) = run_pack(&scene, &dir.join(name));
        let _ = std::fs::remove_file(&scene);
        assert!(ok, "{name}: {text}");
        packs.push(std::fs::read(dir.join(name).join("scene.pack")).unwrap());
    }
    assert!(
        packs[0] == packs[1],
        "the .glb and .gltf forms give different packs"
    );
}

/// (what, how to break the scene folder, a phrase the error must contain).
type Breakage = (&'static str, fn(&Path), &'static str);

const BROKEN: &[Breakage] = &[
    (
        "truncated glb",
        |d| truncate(&d.join("meshes/candlefish.glb"), 100),
        "parsing glTF",
    ),
    (
        "missing external buffer",
        |d| std::fs::remove_file(d.join("meshes/rock.bin")).unwrap(),
        "reading buffer \"rock.bin\"",
    ),
    (
        "short external buffer",
        |d| truncate(&d.join("meshes/rock.bin"), 64),
        "buffer 0 has 64 bytes",
    ),
    (
        "index out of range",
        |d| {
            // The last index of the rock (u16) points far past its vertices.
            let path = d.join("meshes/rock.bin");
            let mut bin = std::fs::read(&path).unwrap();
            let n = bin.len();
            bin[n - 2..].copy_from_slice(&u16::MAX.to_le_bytes());
            std::fs::write(path, bin).unwrap();
        },
        "out of range",
    ),
    (
        "buffer path escaping the folder",
        |d| {
            edit(
                &d.join("meshes/rock.gltf"),
                "\"rock.bin\"",
                "\"../../etc/passwd\"",
            )
        },
        "relative path inside",
    ),
    (
        "truncated png",
        |d| truncate(&d.join("textures/kelp.png"), 60),
        "decoding",
    ),
    (
        "not a png",
        |d| std::fs::write(d.join("textures/kelp.png"), b"GIF89a not a png").unwrap(),
        "PNG header",
    ),
    (
        "unknown texture",
        |d| {
            edit(
                &d.join("scene.toml"),
                "texture = \"kelp\"",
                "texture = \"kelp-typo\"",
            )
        },
        "unknown texture \"kelp-typo\"",
    ),
    (
        "unknown mesh kind",
        |d| {
            edit(
                &d.join("scene.toml"),
                "kind = \"rock\"",
                "kind = \"boulder\"",
            )
        },
        "unknown mesh kind",
    ),
    (
        "missing preset",
        |d| edit(&d.join("scene.toml"), "[presets.canvas]", "[presets.ultra]"),
        "presets.canvas",
    ),
];

fn truncate(path: &Path, len: usize) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..len.min(bytes.len())]).unwrap();
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn broken_sources_give_clear_errors() {
    let mut failures = Vec::new();
    for (i, (what, breakage, phrase)) in BROKEN.iter().enumerate() {
        let dir = temp_dir(&format!("broken-{i}"));
        copy_dir(&assets(), &dir.join("assets"));
        breakage(&dir.join("assets"));
        let (ok, text) = run_pack(&dir.join("assets/scene.toml"), &dir.join("out"));
        if ok || !text.contains(phrase) || text.contains("panicked") {
            failures.push(format!(
                "{what}: expected an error containing {phrase:?}, got (ok={ok}): {text}"
            ));
        }
        let _ = std::fs::remove_dir_all(dir);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Writes a glTF 2.0 asset of `mesh`: `<stem>.glb`, or `<stem>.gltf` + `<stem>.bin`.
fn write_gltf(mesh: &SourceMesh, dir: &Path, stem: &str, glb: bool) {
    let mut bin = Vec::new();
    for p in &mesh.positions {
        bin.extend(p.to_array().iter().flat_map(|v| v.to_le_bytes()));
    }
    for n in &mesh.normals {
        bin.extend(n.to_array().iter().flat_map(|v| v.to_le_bytes()));
    }
    for t in &mesh.uvs {
        bin.extend(t.to_array().iter().flat_map(|v| v.to_le_bytes()));
    }
    for &i in &mesh.indices {
        bin.extend(u16::try_from(i).unwrap().to_le_bytes());
    }
    let n = mesh.positions.len();
    let (lo, hi) = mesh.bounds();
    let views = [
        (0, n * 12, 34962),
        (n * 12, n * 12, 34962),
        (n * 24, n * 8, 34962),
        (n * 32, mesh.indices.len() * 2, 34963),
    ];
    let mut buffer = serde_json::json!({ "byteLength": bin.len() });
    if !glb {
        buffer["uri"] = format!("{stem}.bin").into();
    }
    let json = serde_json::json!({
        "asset": { "version": "2.0", "generator": "candlefish app/tests/pack.rs write_source_assets" },
        "scene": 0,
        "scenes": [{ "nodes": [0] }],
        "nodes": [{ "mesh": 0, "name": stem }],
        "meshes": [{ "name": stem, "primitives": [{
            "attributes": { "POSITION": 0, "NORMAL": 1, "TEXCOORD_0": 2 }, "indices": 3, "mode": 4
        }] }],
        "buffers": [buffer],
        "bufferViews": views.iter().map(|&(o, l, t)| serde_json::json!({ "buffer": 0, "byteOffset": o, "byteLength": l, "target": t })).collect::<Vec<_>>(),
        "accessors": [
            { "bufferView": 0, "componentType": 5126, "count": n, "type": "VEC3", "min": lo.to_array(), "max": hi.to_array() },
            { "bufferView": 1, "componentType": 5126, "count": n, "type": "VEC3" },
            { "bufferView": 2, "componentType": 5126, "count": n, "type": "VEC2" },
            { "bufferView": 3, "componentType": 5123, "count": mesh.indices.len(), "type": "SCALAR" },
        ],
    });
    let mut text = serde_json::to_vec(&json).unwrap();
    if !glb {
        std::fs::write(dir.join(format!("{stem}.gltf")), &text).unwrap();
        std::fs::write(dir.join(format!("{stem}.bin")), &bin).unwrap();
        return;
    }
    text.resize(text.len().next_multiple_of(4), b' ');
    bin.resize(bin.len().next_multiple_of(4), 0);
    let total = 12 + 8 + text.len() + 8 + bin.len();
    let mut out = Vec::with_capacity(total);
    out.extend(b"glTF");
    out.extend(2u32.to_le_bytes());
    out.extend((total as u32).to_le_bytes());
    out.extend((text.len() as u32).to_le_bytes());
    out.extend(b"JSON");
    out.extend(&text);
    out.extend((bin.len() as u32).to_le_bytes());
    out.extend(b"BIN\0");
    out.extend(&bin);
    std::fs::write(dir.join(format!("{stem}.glb")), out).unwrap();
}

fn write_png(image: &candlefish_renderer::assets::atlas::Image, path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), image.width, image.height);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::High);
    enc.write_header()
        .unwrap()
        .write_image_data(&image.pixels)
        .unwrap();
}

/// Regenerates the committed source assets from the procedural generators:
/// `cargo test -p candlefish-app --test pack -- --ignored write_source_assets`.
#[test]
#[ignore = "writes assets/meshes and assets/textures"]
fn write_source_assets() {
    let meshes = assets().join("meshes");
    let tex = assets().join("textures");
    std::fs::create_dir_all(&meshes).unwrap();
    std::fs::create_dir_all(&tex).unwrap();
    let fish = procedural::standard_mesh(MeshKind::Fish);
    write_gltf(&fish, &meshes, "candlefish", true);
    write_gltf(&fish, &meshes, "candlefish", false);
    write_gltf(
        &procedural::standard_mesh(MeshKind::Rock),
        &meshes,
        "rock",
        false,
    );
    write_png(
        &textures::standard_texture("fish-skin-0").unwrap(),
        &tex.join("fish-skin-0.png"),
    );
    write_png(
        &textures::standard_texture("fish-skin-1").unwrap(),
        &tex.join("fish-skin-1.png"),
    );
    write_png(
        &textures::standard_texture("rock").unwrap(),
        &tex.join("rock.png"),
    );
    write_png(
        &textures::standard_texture("rock-moss").unwrap(),
        &tex.join("rock-moss.png"),
    );
    write_png(
        &textures::standard_texture("kelp").unwrap(),
        &tex.join("kelp.png"),
    );
}

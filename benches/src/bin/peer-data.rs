//! Writes the data the three.js side of the peer comparison reads (benches/peers):
//!
//! - `cull-spheres.f32`: the bounding spheres of the 1M-instance scene the criterion
//!   culling benchmark uses, as four little-endian f32 columns (x, y, z, radius);
//! - `cull-case.json`: their count, the frustum planes of the benchmark camera (inward
//!   normals, `dot(n, p) + d` = signed distance, as three.js `Plane` has them) and how
//!   many spheres our culling keeps, so that every peer checks it does the same work;
//! - `meshes.json`: the standard meshes (decoded from their quantized form) with
//!   their LOD tiers, so that the three.js scene draws the same geometry;
//! - `layout-check.json`: positions of sample instances of the quality preset's scene
//!   at t = 3.5 s, which `check-layout.mjs` compares with the three.js port.
//!
//! Usage: `cargo run --release -p candlefish-benches --bin peer-data -- [OUT_DIR]
//! [INSTANCES]` (defaults `target/peer-data`, 1000000).

use std::fmt::Write as _;
use std::path::PathBuf;

use candlefish_benches::{culling_camera, scene_with, spheres};
use candlefish_renderer::assets::standard::{standard_meshes, standard_scene};
use candlefish_renderer::frame::cull::{Frustum, cull_spheres};
use candlefish_renderer::scene::mesh::{MeshLibrary, decode_octahedral};
use candlefish_renderer::{Preset, SceneDescription};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "target/peer-data".into()));
    let n: usize = match args.next() {
        Some(s) => s
            .parse()
            .map_err(|_| format!("{s:?} is not an instance count"))?,
        None => 1_000_000,
    };
    std::fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;

    let scene = scene_with(n)?;
    let (camera, fraction) = culling_camera(&scene);
    let frustum = Frustum::from_clip_from_world(camera.clip_from_world());
    let s = spheres(&scene);
    let mut visible = Vec::new();
    cull_spheres(&frustum, s, &mut visible);
    let mut bytes = Vec::with_capacity(16 * n);
    for column in [s.x, s.y, s.z, s.radius] {
        for v in column {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    std::fs::write(out.join("cull-spheres.f32"), bytes)?;
    let planes: Vec<String> = frustum
        .planes
        .iter()
        .map(|p| format!("[{:?}, {:?}, {:?}, {:?}]", p.x, p.y, p.z, p.w))
        .collect();
    let case = format!(
        "{{\n  \"n\": {},\n  \"planes\": [{}],\n  \"visible\": {},\n  \"visible_fraction\": {:?}\n}}\n",
        s.len(),
        planes.join(", "),
        visible.len(),
        fraction
    );
    std::fs::write(out.join("cull-case.json"), case)?;
    std::fs::write(out.join("meshes.json"), meshes_json(&standard_meshes()))?;
    std::fs::write(out.join("layout-check.json"), layout_check()?)?;
    println!(
        "wrote {} ({} spheres, {} visible = {:.1}%)",
        out.display(),
        s.len(),
        visible.len(),
        100.0 * fraction
    );
    Ok(())
}

/// Sample positions of the quality scene at t = 3.5 s, for checking the JS port.
fn layout_check() -> Result<String, Box<dyn std::error::Error>> {
    let mut scene = standard_scene(&SceneDescription::for_preset(Preset::Quality))?;
    let time = 3.5;
    scene.update(time);
    let n = scene.instances.len();
    let samples: Vec<String> = (0..n)
        .step_by(97)
        .chain([n - 1])
        .map(|i| {
            let p = scene.instances.position(i);
            format!(
                "[{i}, {:?}, {:?}, {:?}, {:?}, {}]",
                p.x, p.y, p.z, scene.instances.radius[i], scene.instances.material[i]
            )
        })
        .collect();
    Ok(format!(
        "{{\"preset\": \"quality\", \"time\": {time:?}, \"instances\": {n}, \"samples\": [{}]}}\n",
        samples.join(",\n")
    ))
}

/// The mesh library as JSON: per mesh its float vertices and per-tier local indices.
fn meshes_json(lib: &MeshLibrary) -> String {
    let mut out = String::from("{\"meshes\": [\n");
    for (m, mesh) in lib.meshes.iter().enumerate() {
        let first = mesh.first_vertex as usize;
        let vertices = &lib.vertices[first..first + mesh.vertex_count as usize];
        let extent = mesh.bounds_max - mesh.bounds_min;
        let (mut pos, mut nrm, mut uv) = (Vec::new(), Vec::new(), Vec::new());
        for v in vertices {
            let q = glam::Vec3::new(
                f32::from(v.position[0]),
                f32::from(v.position[1]),
                f32::from(v.position[2]),
            ) / 65535.0;
            let p = mesh.bounds_min + q * extent;
            let n = decode_octahedral(v.normal);
            pos.extend([p.x, p.y, p.z]);
            nrm.extend([n.x, n.y, n.z]);
            uv.extend([f32::from(v.uv[0]) / 65535.0, f32::from(v.uv[1]) / 65535.0]);
        }
        let list = |v: &[f32]| {
            v.iter()
                .map(|x| format!("{x:.5}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let tiers: Vec<String> = mesh
            .tiers
            .iter()
            .map(|t| {
                let range = t.first_index as usize..(t.first_index + t.index_count) as usize;
                let idx: Vec<String> = lib.indices[range]
                    .iter()
                    .map(|&i| (i as usize - first).to_string())
                    .collect();
                format!(
                    "{{\"error\": {:?}, \"indices\": [{}]}}",
                    t.error,
                    idx.join(",")
                )
            })
            .collect();
        let _ = write!(
            out,
            "{}{{\"name\": {:?}, \"kind\": {:?}, \"radius\": {:?}, \"positions\": [{}], \"normals\": [{}], \"uvs\": [{}], \"tiers\": [{}]}}",
            if m > 0 { ",\n" } else { "" },
            mesh.name,
            mesh.kind.name(),
            mesh.radius,
            list(&pos),
            list(&nrm),
            list(&uv),
            tiers.join(", ")
        );
    }
    out.push_str("\n]}\n");
    out
}

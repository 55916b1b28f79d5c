//! `cargo xtask dist`: the site build, and its gates.
//!
//! After the build, every first route (WebGPU, WebGL2, Canvas 2D) is measured gzip and
//! brotli, and `dist` fails when one is over the 200 KB gzip budget or when the `webgl`
//! bundle contains naga or wgpu-core (`size`, `wasm_names`). `--no-size-gate` turns the
//! failure into a warning, for local iteration only.

mod size;
mod wasm_names;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use wasm_names::BundleNames;

/// The two browser bundles: (name, cargo feature).
const BUNDLES: [(&str, &str); 2] = [("webgpu", "webgpu"), ("webgl", "webgl")];

/// Options of `dist`.
#[derive(Debug)]
pub struct Options {
    out: PathBuf,
    release: String,
    wasm_opt: bool,
    /// Whether failing a gate fails `dist` (`--no-size-gate` turns it off).
    size_gate: bool,
}

impl Options {
    /// Parses `--out DIR`, `--release ID`, `--no-wasm-opt`, `--no-size-gate`.
    pub fn parse(args: &[String]) -> Result<Self> {
        let root = crate::workspace_root();
        let mut options = Self {
            out: root.join("www/dist"),
            release: default_release(&root),
            wasm_opt: true,
            size_gate: true,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--out" => {
                    options.out = PathBuf::from(it.next().context("--out needs a directory")?)
                }
                "--release" => {
                    let r = it.next().context("--release needs an id")?;
                    if r.is_empty()
                        || r.len() > 64
                        || !r
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                    {
                        bail!("--release must be 1-64 characters of [A-Za-z0-9._-]");
                    }
                    options.release = r.clone();
                }
                "--no-wasm-opt" => options.wasm_opt = false,
                // For local iteration on a site that is not there yet: the report is
                // written and the failures printed, but `dist` succeeds. CI never passes it.
                "--no-size-gate" => options.size_gate = false,
                other => bail!(
                    "unknown option {other:?} (options: --out DIR, --release ID, \
                     --no-wasm-opt, --no-size-gate)"
                ),
            }
        }
        Ok(options)
    }
}

fn default_release(root: &Path) -> String {
    Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "dev".to_owned())
}

fn run_command(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(env!("CARGO"))
}

/// Builds the site.
pub fn run(options: &Options) -> Result<()> {
    let root = crate::workspace_root();
    let staging = root.join("target/dist-staging");
    if staging.exists() {
        fs::remove_dir_all(&staging).with_context(|| format!("clearing {}", staging.display()))?;
    }
    fs::create_dir_all(&staging)?;

    // The native tool builds the pack and renders the poster. CANDLEFISH_BIN reuses a
    // binary already built (the test script's, whose feature set differs from a plain
    // `cargo build` and would otherwise rebuild half the dependency tree).
    eprintln!("xtask: building the scene pack and the poster");
    let candlefish = match std::env::var_os("CANDLEFISH_BIN") {
        Some(bin) => root.join(bin),
        None => {
            run_command(cargo().current_dir(&root).args([
                "build",
                "--locked",
                "-p",
                "candlefish-app",
                "--bin",
                "candlefish",
            ]))?;
            root.join("target/debug/candlefish")
        }
    };
    run_command(
        Command::new(&candlefish)
            .current_dir(&root)
            .args(["pack", "assets/scene.toml", "-o"])
            .arg(&staging),
    )?;
    encode_pack_for_the_site(&staging.join("scene.pack"))?;
    run_command(
        Command::new(&candlefish)
            .current_dir(&root)
            .args([
                "render", "--time", "3.5", "--width", "640", "--height", "360", "--preset",
                "quality", "--out",
            ])
            .arg(staging.join("poster.png")),
    )?;

    let mut names = Vec::new();
    for (name, feature) in BUNDLES {
        names.push(build_bundle(
            &root,
            &staging,
            name,
            feature,
            options.wasm_opt,
        )?);
    }
    assemble(&root, &staging, options, &names)
}

fn build_bundle(
    root: &Path,
    staging: &Path,
    name: &str,
    feature: &str,
    wasm_opt: bool,
) -> Result<BundleNames> {
    eprintln!("xtask: building the {name} bundle");
    let target_dir = root.join(format!("target/wasm-{name}"));
    run_command(
        cargo()
            .current_dir(root)
            .args([
                "build",
                "--locked",
                "-p",
                "candlefish-app",
                "--lib",
                "--target",
                "wasm32-unknown-unknown",
            ])
            .args([
                "--profile",
                "wasm-release",
                "--no-default-features",
                "--features",
                feature,
            ])
            .arg("--target-dir")
            .arg(&target_dir)
            .env(
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
                wasm_rustflags(root),
            ),
    )?;
    let wasm = target_dir.join("wasm32-unknown-unknown/wasm-release/candlefish_app.wasm");
    let out = staging.join(name);
    run_command(
        Command::new("wasm-bindgen")
            .args(["--target", "web", "--no-typescript", "--out-name"])
            .arg(format!("candlefish-{name}"))
            .arg("--out-dir")
            .arg(&out)
            .arg(&wasm),
    )
    .context("wasm-bindgen (scripts/setup.sh installs the matching wasm-bindgen-cli)")?;
    let bg = out.join(format!("candlefish-{name}_bg.wasm"));
    // Read the names now: wasm-bindgen keeps (and demangles) the `name` section, and
    // wasm-opt's --strip-debug below removes it.
    let names = BundleNames::inspect(name, &read(&bg)?)
        .with_context(|| format!("reading the name section of {}", bg.display()))?;
    if wasm_opt {
        // npm binaryen 132: Debian's binaryen 108 emits wasm that fails to load.
        let tool = root.join("node_modules/.bin/wasm-opt");
        if !tool.exists() {
            bail!(
                "{} is missing: run scripts/setup.sh (npm ci)",
                tool.display()
            );
        }
        run_command(
            Command::new(tool)
                .args(["-Oz", "--strip-debug", "--strip-producers"])
                .args([
                    "--enable-simd",
                    "--enable-bulk-memory",
                    "--enable-nontrapping-float-to-int",
                    "--enable-sign-ext",
                    "--enable-mutable-globals",
                    "--enable-reference-types",
                    "--enable-multivalue",
                ])
                .arg(&bg)
                .arg("-o")
                .arg(&bg),
        )?;
    }
    Ok(names)
}

/// A file of the site and its sizes.
#[derive(Debug)]
struct Built {
    name: String,
    raw: u64,
    gzip: u64,
    brotli: u64,
}

fn hashed_name(name: &str, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
        None => format!("{name}.{hash}"),
    }
}

fn write_compressed(out: &Path, name: &str, bytes: &[u8]) -> Result<Built> {
    let path = out.join(name);
    fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    // Zopfli: a standard gzip stream every browser reads, 4-8% smaller than gzip -9
    // (the first-route budget is counted in the gzip bytes served). Slow to make, once
    // per build.
    let mut gz = Vec::new();
    zopfli::compress(
        zopfli::Options::default(),
        zopfli::Format::Gzip,
        bytes,
        &mut gz,
    )
    .with_context(|| format!("gzip-compressing {name}"))?;
    let mut br = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut br, 4096, 11, 22);
        w.write_all(bytes)?;
    }
    // Images are already compressed: no variants, sizes as they are.
    let precompress = !name.ends_with(".png") && !name.ends_with(".webp");
    if precompress {
        fs::write(out.join(format!("{name}.gz")), &gz)?;
        fs::write(out.join(format!("{name}.br")), &br)?;
    }
    let size = |v: &[u8]| {
        if precompress {
            v.len() as u64
        } else {
            bytes.len() as u64
        }
    };
    Ok(Built {
        name: name.to_owned(),
        raw: bytes.len() as u64,
        gzip: size(&gz),
        brotli: size(&br),
    })
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn assemble(root: &Path, staging: &Path, options: &Options, names: &[BundleNames]) -> Result<()> {
    let out = &options.out;
    if out.exists() {
        fs::remove_dir_all(out).with_context(|| format!("clearing {}", out.display()))?;
    }
    fs::create_dir_all(out)?;
    let www = root.join("www");
    let mut built = Vec::new();
    let mut place = |name: &str, bytes: Vec<u8>| -> Result<String> {
        let hashed = hashed_name(name, &bytes);
        built.push(write_compressed(out, &hashed, &bytes)?);
        Ok(hashed)
    };
    let style = place("style.css", read(&www.join("style.css"))?)?;
    let loader = place("loader.js", minify(root, &www.join("loader.js"))?)?;
    let runtime = place("runtime.js", minify(root, &www.join("runtime.js"))?)?;
    let poster_png = read(&staging.join("poster.png"))?;
    let poster_webp = place("poster.webp", webp_from_png(&poster_png)?)?;
    let poster = place("poster.png", poster_png)?;
    let favicon = place("favicon.svg", read(&www.join("favicon.svg"))?)?;
    let pack = place("scene.pack", read(&staging.join("scene.pack"))?)?;
    let mut bundles = serde_json::Map::new();
    let mut bundle_files = std::collections::BTreeMap::new();
    for (name, _) in BUNDLES {
        let dir = staging.join(name);
        // wasm-bindgen's glue is an ES module like ours: minified the same way.
        let js = place(
            &format!("candlefish-{name}.js"),
            minify(root, &dir.join(format!("candlefish-{name}.js")))?,
        )?;
        let wasm = place(
            &format!("candlefish-{name}_bg.wasm"),
            read(&dir.join(format!("candlefish-{name}_bg.wasm")))?,
        )?;
        bundles.insert(
            name.to_owned(),
            serde_json::json!({ "js": format!("./{js}"), "wasm": format!("./{wasm}") }),
        );
        bundle_files.insert(name.to_owned(), vec![js, wasm]);
    }
    let manifest = serde_json::json!({
        "release": options.release,
        "pack": format!("./{pack}"),
        "runtime": format!("./{runtime}"),
        "bundles": bundles,
    });
    let html =
        String::from_utf8(read(&www.join("index.html"))?).context("index.html is not UTF-8")?;
    let html = replace_once(&html, "href=\"style.css\"", &format!("href=\"{style}\""))?;
    let html = replace_once(&html, "src=\"loader.js\"", &format!("src=\"{loader}\""))?;
    let html = html.replace("src=\"poster.png\"", &format!("src=\"{poster}\""));
    let html = html.replace(
        "srcset=\"poster.webp\"",
        &format!("srcset=\"{poster_webp}\""),
    );
    let html = replace_once(
        &html,
        "href=\"favicon.svg\"",
        &format!("href=\"{favicon}\""),
    )?;
    // `</` cannot occur in serde_json output of these plain names, so the JSON cannot
    // close its script element early.
    let html = replace_once(
        &html,
        "<script type=\"application/json\" id=\"cf-manifest\">{}</script>",
        &format!("<script type=\"application/json\" id=\"cf-manifest\">{manifest}</script>"),
    )?;
    built.push(write_compressed(out, "index.html", html.as_bytes())?);
    // Preload what every route needs; the wasm bundle depends on the mode the page
    // detects, so it is not preloaded.
    let preload = serde_json::json!({ "preload": [
        { "href": format!("/{style}"), "as": "style" },
        { "href": format!("/{pack}"), "as": "fetch" },
    ]});
    fs::write(
        out.join("manifest.json"),
        serde_json::to_vec_pretty(&preload)?,
    )?;
    let files = size::SiteFiles {
        shared: vec!["index.html".to_owned(), style, loader, runtime, pack],
        bundles: bundle_files,
    };
    report(out, &built, &files, names, options.size_gate)
}

/// Flags of the wasm builds: simd128 (all current browsers have it; the culling loop
/// vectorises to it), and short source paths in panic locations (the workspace and the
/// cargo registry, which would otherwise spell out this machine's paths in every
/// bundle).
fn wasm_rustflags(root: &Path) -> String {
    let mut flags = format!(
        "-C target-feature=+simd128 --remap-path-prefix={}=.",
        root.display()
    );
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = cargo_home {
        flags.push_str(&format!(
            " --remap-path-prefix={}=cargo",
            home.join("registry/src").display()
        ));
    }
    flags
}

/// Rewrites the staged pack with its atlas as YCoCg 4:2:0 (luma and the glow mask
/// exact, chroma at half resolution): less than half the atlas's gzip bytes, which the
/// first-route budget counts. The poster and the parity reference are rendered from
/// this same pack, so every backend draws the same texels.
fn encode_pack_for_the_site(path: &Path) -> Result<()> {
    use candlefish_renderer::assets::pack;
    let exact = read(path)?;
    let loaded = pack::load(&exact).with_context(|| format!("reading {}", path.display()))?;
    let encoded = pack::write_with(&loaded, pack::AtlasEncoding::Ycocg420);
    eprintln!(
        "xtask: scene pack {} -> {} bytes with the atlas as YCoCg 4:2:0",
        exact.len(),
        encoded.len()
    );
    fs::write(path, encoded).with_context(|| format!("writing {}", path.display()))
}

/// Minifies an ES module with terser (npm, installed by `scripts/setup.sh`).
fn minify(root: &Path, path: &Path) -> Result<Vec<u8>> {
    let tool = root.join("node_modules/.bin/terser");
    if !tool.exists() {
        bail!(
            "{} is missing: run scripts/setup.sh (npm ci)",
            tool.display()
        );
    }
    let output = Command::new(&tool)
        .arg(path)
        .args(["--module", "--compress", "--mangle", "--comments", "false"])
        .output()
        .with_context(|| format!("starting {}", tool.display()))?;
    if !output.status.success() {
        bail!(
            "terser failed on {}: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output.stdout)
}

/// The poster as lossy WebP (quality 80): a fraction of the PNG's bytes, for the
/// browsers that show it (no JavaScript, no working renderer, the paused rung).
fn webp_from_png(png_bytes: &[u8]) -> Result<Vec<u8>> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().context("reading the poster PNG")?;
    let mut pixels = vec![
        0;
        reader
            .output_buffer_size()
            .context("the poster is too large")?
    ];
    let info = reader
        .next_frame(&mut pixels)
        .context("decoding the poster PNG")?;
    pixels.truncate(info.buffer_size());
    let encoder = match info.color_type {
        png::ColorType::Rgba => webp::Encoder::from_rgba(&pixels, info.width, info.height),
        png::ColorType::Rgb => webp::Encoder::from_rgb(&pixels, info.width, info.height),
        other => bail!("the poster PNG is {other:?}, not RGB or RGBA"),
    };
    let encoded = encoder
        .encode_simple(false, 80.0)
        .map_err(|e| anyhow::anyhow!("encoding the poster as WebP: {e:?}"))?;
    Ok(encoded.to_vec())
}

fn replace_once(haystack: &str, from: &str, to: &str) -> Result<String> {
    if haystack.matches(from).count() != 1 {
        bail!("www/index.html must contain {from:?} exactly once");
    }
    Ok(haystack.replacen(from, to, 1))
}

/// Prints the sizes, writes `size-report.json`, then applies the gates.
fn report(
    out: &Path,
    built: &[Built],
    files: &size::SiteFiles,
    names: &[BundleNames],
    gate: bool,
) -> Result<()> {
    let routes = size::measure(built, files)?;
    print!("{}", size::table(built, &routes, names));
    let mut json = size::report_json(&routes, names);
    json["size_gate"] = gate.into();
    let path = out.join("size-report.json");
    fs::write(&path, serde_json::to_vec_pretty(&json)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("site written to {}", out.display());
    size::enforce(&size::violations(&routes, names), gate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Options {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        match Options::parse(&args) {
            Ok(o) => o,
            Err(e) => panic!("{e:#}"),
        }
    }

    #[test]
    fn the_size_gate_is_on_unless_turned_off() {
        assert!(parse(&[]).size_gate);
        assert!(parse(&["--no-wasm-opt"]).size_gate);
        assert!(!parse(&["--no-size-gate"]).size_gate);
    }
}

//! `cargo xtask`: Candlefish build tasks.
//!
//! - `cargo xtask dist [--out DIR] [--release ID] [--no-wasm-opt] [--no-size-gate]`
//!   builds the site into `www/dist`: two wasm bundles (WebGPU-only, WebGL2) through
//!   wasm-bindgen and wasm-opt, the scene pack, a poster frame, content-hashed names,
//!   `.br`/`.gz` next to each file, a manifest for the server's preload headers, and a
//!   size report (`size-report.json`). It fails when a first route (WebGPU, WebGL2,
//!   Canvas 2D) is over 200 KB gzip or the WebGL2 bundle contains naga or wgpu-core;
//!   `--no-size-gate` only warns then, for local iteration (CI never passes it).
//! - `cargo xtask glsl [--check]` writes the WebGL2 backend's GLSL ES 3.00, generated
//!   by naga from `shaders/scene.wgsl`, to `app/src/web/webgl/shaders.rs` (`--check`:
//!   fail when that file is stale).
//! - `cargo xtask flip REFERENCE.png TEST.png [--max-mean X] [--diff OUT.png]`: the
//!   perceptual (ꟻLIP) difference of two frames; the browser parity test uses it.
//! - `cargo xtask serve [server args…]` runs the site server on the built site.

mod dist;
mod flip;
mod glsl;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("dist") => dist::run(&dist::Options::parse(&args[1..])?),
        Some("glsl") => glsl::run(&args[1..]),
        Some("flip") => flip::run(&args[1..]),
        Some("serve") => {
            let status = std::process::Command::new(env!("CARGO"))
                .args([
                    "run",
                    "--release",
                    "--locked",
                    "-p",
                    "candlefish-server",
                    "--",
                ])
                .args(&args[1..])
                .status()?;
            if status.success() {
                Ok(())
            } else {
                bail!("the server exited with {status}")
            }
        }
        Some(other) => bail!("unknown task {other:?} (tasks: dist, glsl, flip, serve)"),
        None => bail!("usage: cargo xtask <dist|glsl|flip|serve> [options]"),
    }
}

/// The workspace root (this crate's parent folder).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

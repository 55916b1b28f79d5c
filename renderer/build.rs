//! Writes `scene.min.wgsl`: `shaders/scene.wgsl` without comments and indentation, for
//! the browser bundles, where every byte counts against the first route's budget.
//! Native builds (and naga's error spans) use the source as written.

use std::path::PathBuf;

fn main() {
    let source = PathBuf::from("../shaders/scene.wgsl");
    println!("cargo::rerun-if-changed={}", source.display());
    let text = match std::fs::read_to_string(&source) {
        Ok(text) => text,
        Err(e) => panic!("reading {}: {e}", source.display()),
    };
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        // WGSL has no string literals, so `//` always starts a comment.
        let code = line.split("//").next().unwrap_or("").trim();
        if !code.is_empty() {
            out.push_str(code);
            out.push('\n');
        }
    }
    let Some(dir) = std::env::var_os("OUT_DIR") else {
        panic!("OUT_DIR is not set");
    };
    let target = PathBuf::from(dir).join("scene.min.wgsl");
    if let Err(e) = std::fs::write(&target, out) {
        panic!("writing {}: {e}", target.display());
    }
}

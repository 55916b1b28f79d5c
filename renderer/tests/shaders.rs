//! Every WGSL shader parses and validates with naga, with source spans on error.

use naga::valid::{Capabilities, ValidationFlags, Validator};

fn validate(name: &str, source: &str) {
    let module = match naga::front::wgsl::parse_str(source) {
        Ok(m) => m,
        Err(e) => panic!("{name} does not parse:\n{}", e.emit_to_string(source)),
    };
    // Only what WebGL2 (downlevel) offers, so the shader runs on every backend.
    let mut validator = Validator::new(ValidationFlags::all(), Capabilities::empty());
    if let Err(e) = validator.validate(&module) {
        panic!("{name} does not validate:\n{}", e.emit_to_string(source));
    }
}

#[test]
fn scene_shader_validates() {
    validate("scene.wgsl", candlefish_renderer::gpu::SCENE_WGSL);
}

#[test]
fn a_broken_shader_is_reported() {
    let broken = candlefish_renderer::gpu::SCENE_WGSL.replace("fn vs_main", "fn vs_main(");
    assert!(std::panic::catch_unwind(|| validate("broken", &broken)).is_err());
}

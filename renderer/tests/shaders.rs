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
    validate(
        "scene.wgsl",
        candlefish_renderer::backend::layout::SCENE_WGSL,
    );
}

#[test]
fn a_broken_shader_is_reported() {
    let broken =
        candlefish_renderer::backend::layout::SCENE_WGSL.replace("fn vs_main", "fn vs_main(");
    assert!(std::panic::catch_unwind(|| validate("broken", &broken)).is_err());
}

/// The vertex inputs of `vs_main` as (location, components, is float).
fn vertex_inputs(source: &str) -> Vec<(u32, u32, bool)> {
    let module = naga::front::wgsl::parse_str(source).expect("the scene shader parses");
    let entry = module
        .entry_points
        .iter()
        .find(|e| e.name == "vs_main")
        .expect("vs_main exists");
    let mut inputs = Vec::new();
    let mut push = |binding: &Option<naga::Binding>, ty: naga::Handle<naga::Type>| {
        let Some(naga::Binding::Location { location, .. }) = binding else {
            return;
        };
        let (components, scalar) = match module.types[ty].inner {
            naga::TypeInner::Scalar(s) => (1, s),
            naga::TypeInner::Vector { size, scalar } => (size as u32, scalar),
            ref other => panic!("unexpected vertex input type {other:?}"),
        };
        inputs.push((
            *location,
            components,
            scalar.kind == naga::ScalarKind::Float,
        ));
    };
    for argument in &entry.function.arguments {
        match &module.types[argument.ty].inner {
            naga::TypeInner::Struct { members, .. } => {
                for m in members {
                    push(&m.binding, m.ty);
                }
            }
            _ => push(&argument.binding, argument.ty),
        }
    }
    inputs.sort_unstable();
    inputs
}

/// The buffer layouts both backends use (wgpu's vertex buffers, WebGL2's
/// `vertexAttribPointer` calls) match what the shader reads.
#[test]
fn buffer_layouts_match_the_shader_inputs() {
    use candlefish_renderer::backend::layout::{INSTANCE, MESH_VERTEX, SCENE_WGSL};
    let mut expected: Vec<(u32, u32, bool)> = MESH_VERTEX
        .attributes
        .iter()
        .chain(INSTANCE.attributes)
        .map(|a| {
            // float32x4 carries position and scale together.
            (a.location, a.format.components(), !a.format.is_integer())
        })
        .collect();
    expected.sort_unstable();
    assert_eq!(vertex_inputs(SCENE_WGSL), expected);
    // And the check can fail: a shader reading the material from another location, or
    // a colour as two components, does not match.
    let drifted = SCENE_WGSL.replace("@location(6) packed: u32", "@location(7) packed: u32");
    assert_ne!(vertex_inputs(&drifted), expected);
    let drifted = SCENE_WGSL.replace(
        "@location(4) orientation: vec4<f32>",
        "@location(4) orientation: vec2<f32>",
    );
    assert_ne!(vertex_inputs(&drifted), expected);
}

#[test]
fn the_minified_shader_of_the_browser_bundles_validates() {
    let minified = include_str!(concat!(env!("OUT_DIR"), "/scene.min.wgsl"));
    assert!(!minified.contains("//"));
    assert!(minified.len() < candlefish_renderer::backend::layout::SCENE_WGSL.len());
    validate("scene.min.wgsl", minified);
}

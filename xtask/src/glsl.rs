//! `cargo xtask glsl`: GLSL ES 3.00 for the WebGL2 backend, generated from the WGSL.
//!
//! The WebGL2 backend runs without naga inside the wasm, so naga runs here, at build
//! time: `shaders/scene.wgsl` is parsed, validated at WebGL2 (downlevel) capability and
//! written out per entry point with the options wgpu's GL backend uses. The result is
//! `app/src/web/webgl/shaders.rs`: the GLSL in raw strings and what the backend binds by
//! name (uniform blocks, combined samplers, vertex attributes). `--check` fails when the
//! committed file differs from what would be generated, and so does a test.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use naga::back::glsl;
use naga::valid::{Capabilities, ModuleInfo, ValidationFlags, Validator};
use naga::{AddressSpace, Binding, Module, ShaderStage, TypeInner};

/// The only hand-written shader source, relative to the workspace root.
const WGSL_PATH: &str = "shaders/scene.wgsl";
/// The generated file, relative to the workspace root.
pub const OUTPUT_PATH: &str = "app/src/web/webgl/shaders.rs";

/// One GLSL program: a vertex and a fragment entry point of the WGSL.
struct Program {
    /// Name of the generated `ProgramSource` constant.
    name: &'static str,
    /// Its doc comment (one line).
    doc: &'static str,
    vertex: &'static str,
    fragment: &'static str,
}

const PROGRAMS: [Program; 2] = [
    Program {
        name: "SCENE",
        doc: "The instanced scene: every mesh kind, one pipeline.",
        vertex: "vs_main",
        fragment: "fs_main",
    },
    Program {
        name: "BACKGROUND",
        doc: "The full-screen triangle painting the water gradient (no vertex buffers).",
        vertex: "vs_background",
        fragment: "fs_background",
    },
];

/// `cargo xtask glsl [--check]`.
pub fn run(args: &[String]) -> Result<()> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => bail!("usage: cargo xtask glsl [--check]"),
    };
    let root = crate::workspace_root();
    let generated = generate(&root)?;
    let out = root.join(OUTPUT_PATH);
    if check {
        let on_disk = match fs::read_to_string(&out) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                bail!("{OUTPUT_PATH} is missing: run `cargo xtask glsl` and commit it")
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", out.display())),
        };
        compare(&on_disk, &generated)?;
        println!("{OUTPUT_PATH} is up to date with {WGSL_PATH}");
    } else {
        if let Some(dir) = out.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        // Leave the file (and its mtime, which cargo watches) alone when nothing changed.
        if fs::read_to_string(&out).ok().as_deref() != Some(generated.as_str()) {
            fs::write(&out, &generated).with_context(|| format!("writing {}", out.display()))?;
        }
        println!("wrote {OUTPUT_PATH} from {WGSL_PATH}");
    }
    Ok(())
}

/// Fails, naming the first differing line, when the file on disk is not `generated`.
fn compare(on_disk: &str, generated: &str) -> Result<()> {
    if on_disk == generated {
        return Ok(());
    }
    let line = on_disk
        .lines()
        .zip(generated.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| on_disk.lines().count().min(generated.lines().count()))
        + 1;
    bail!(
        "{OUTPUT_PATH} is stale: it differs from what {WGSL_PATH} generates, first at line \
         {line}; run `cargo xtask glsl` and commit the result"
    )
}

/// The contents of the generated file, from the WGSL in the workspace at `root`.
pub fn generate(root: &Path) -> Result<String> {
    let path = root.join(WGSL_PATH);
    let source =
        fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    generate_from(&source)
}

/// A program translated: its GLSL and what the backend binds by name.
struct Translated {
    program: &'static Program,
    vertex: String,
    fragment: String,
    uniform_blocks: Vec<UniformBlock>,
    samplers: Vec<SamplerBinding>,
    attributes: Vec<VertexAttribute>,
}

struct UniformBlock {
    name: String,
    group: u32,
    binding: u32,
}

struct SamplerBinding {
    name: String,
    group: u32,
    texture_binding: u32,
    sampler_binding: u32,
}

struct VertexAttribute {
    name: String,
    location: u32,
}

fn generate_from(source: &str) -> Result<String> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| {
        anyhow!(
            "{WGSL_PATH} does not parse:\n{}",
            e.emit_to_string_with_path(source, WGSL_PATH)
        )
    })?;
    // Only what WebGL2 (downlevel) offers, as renderer/tests/shaders.rs validates it.
    let info = Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .map_err(|e| {
            anyhow!(
                "{WGSL_PATH} does not validate:\n{}",
                e.emit_to_string_with_path(source, WGSL_PATH)
            )
        })?;
    let options = glsl::Options {
        version: glsl::Version::Embedded {
            version: 300,
            is_webgl: true,
        },
        // As wgpu's GL backend: flip Y and map depth 0..1 to -1..1 in the vertex shader.
        writer_flags: glsl::WriterFlags::ADJUST_COORDINATE_SPACE,
        binding_map: binding_map(&module),
        zero_initialize_workgroup_memory: true,
    };
    let translated = PROGRAMS
        .iter()
        .map(|program| translate_program(&module, &info, &options, program))
        .collect::<Result<Vec<_>>>()?;
    Ok(render(&translated))
}

/// Binding slots numbered per kind (uniform buffers, textures, samplers) in (group,
/// binding) order, as wgpu's GL backend numbers them. GLSL ES 3.00 has no
/// `layout(binding = N)`, so naga writes none: the backend binds by name.
fn binding_map(module: &Module) -> glsl::BindingMap {
    let mut bindings: Vec<_> = module
        .global_variables
        .iter()
        .filter_map(|(_, var)| Some((var.binding?, &module.types[var.ty].inner, var.space)))
        .collect();
    bindings.sort_by_key(|(br, _, _)| (br.group, br.binding));
    let mut counters = [0u8; 4];
    let mut map = glsl::BindingMap::default();
    for (br, inner, space) in bindings {
        let kind = match (inner, space) {
            (TypeInner::Sampler { .. }, _) => 0,
            (TypeInner::Image { .. }, _) => 1,
            (_, AddressSpace::Uniform) => 2,
            _ => 3,
        };
        map.insert(br, counters[kind]);
        counters[kind] = counters[kind].saturating_add(1);
    }
    map
}

fn translate_stage(
    module: &Module,
    info: &ModuleInfo,
    options: &glsl::Options,
    stage: ShaderStage,
    entry_point: &str,
) -> Result<(String, glsl::ReflectionInfo)> {
    let pipeline_options = glsl::PipelineOptions {
        shader_stage: stage,
        entry_point: entry_point.to_owned(),
        multiview: None,
    };
    let mut out = String::new();
    // As wgpu's GL backend on GLES: no bounds-check polyfills (WebGL implementations keep
    // out-of-range accesses in bounds themselves, and the shader clamps its one dynamic
    // index, the material).
    let policies = naga::proc::BoundsCheckPolicies::default();
    let reflection =
        glsl::Writer::new(&mut out, module, info, options, &pipeline_options, policies)
            .and_then(|mut writer| writer.write())
            .map_err(|e| anyhow!("naga cannot write {entry_point} as GLSL ES 3.00: {e}"))?;
    // Trailing spaces would survive in the raw strings and upset rustfmt.
    let mut trimmed: String = out.lines().map(|l| format!("{}\n", l.trim_end())).collect();
    if trimmed.is_empty() {
        trimmed.push('\n');
    }
    Ok((trimmed, reflection))
}

fn translate_program(
    module: &Module,
    info: &ModuleInfo,
    options: &glsl::Options,
    program: &'static Program,
) -> Result<Translated> {
    let (vertex, vs) = translate_stage(module, info, options, ShaderStage::Vertex, program.vertex)?;
    let (fragment, fs) = translate_stage(
        module,
        info,
        options,
        ShaderStage::Fragment,
        program.fragment,
    )?;
    let binding_of = |handle: naga::Handle<naga::GlobalVariable>| {
        let var = &module.global_variables[handle];
        var.binding
            .with_context(|| format!("global {:?} has no binding", var.name))
    };

    let mut uniform_blocks = Vec::new();
    let mut samplers = Vec::new();
    for reflection in [&vs, &fs] {
        // Each stage names its own blocks (`…_block_<id><Stage>`): every one of them is
        // bound, in a stable order.
        let mut blocks = Vec::new();
        for (&handle, name) in &reflection.uniforms {
            let br = binding_of(handle)?;
            blocks.push(UniformBlock {
                name: name.clone(),
                group: br.group,
                binding: br.binding,
            });
        }
        blocks.sort_by_key(|b| (b.group, b.binding));
        uniform_blocks.extend(blocks);

        let mut combined = Vec::new();
        for (name, mapping) in &reflection.texture_mapping {
            let texture = binding_of(mapping.texture)?;
            let sampler = mapping
                .sampler
                .with_context(|| format!("texture {name} is used without a sampler"))?;
            let sampler = binding_of(sampler)?;
            if sampler.group != texture.group {
                bail!("texture {name} and its sampler are in different bind groups");
            }
            combined.push(SamplerBinding {
                name: name.clone(),
                group: texture.group,
                texture_binding: texture.binding,
                sampler_binding: sampler.binding,
            });
        }
        combined.sort_by_key(|s| (s.group, s.texture_binding));
        samplers.extend(combined);
    }
    // ES 3.00 takes `layout(location = N)` on vertex inputs, so naga reflects no
    // `varying` for them: they come from the entry point and are checked against the text.
    let attributes = vertex_attributes(module, program.vertex)?;
    for a in &attributes {
        let declared = vertex.lines().any(|l| {
            l.starts_with(&format!("layout(location = {}) in ", a.location))
                && l.ends_with(&format!(" {};", a.name))
        });
        if !declared {
            bail!(
                "{}: naga's GLSL does not declare vertex input {} at location {}; has naga's \
                 naming changed?",
                program.vertex,
                a.name,
                a.location
            );
        }
    }
    Ok(Translated {
        program,
        vertex,
        fragment,
        uniform_blocks,
        samplers,
        attributes,
    })
}

/// The `@location` inputs of a vertex entry point, under the names naga's GLSL writer
/// gives them (`_p2vs_location<N>`: pipeline to vertex stage).
fn vertex_attributes(module: &Module, entry_point: &str) -> Result<Vec<VertexAttribute>> {
    let ep = module
        .entry_points
        .iter()
        .find(|ep| ep.stage == ShaderStage::Vertex && ep.name == entry_point)
        .with_context(|| format!("no vertex entry point {entry_point} in {WGSL_PATH}"))?;
    let mut locations = BTreeMap::new();
    for arg in &ep.function.arguments {
        let bindings: Vec<&Binding> = match (&arg.binding, &module.types[arg.ty].inner) {
            (Some(binding), _) => vec![binding],
            (None, TypeInner::Struct { members, .. }) => {
                members.iter().filter_map(|m| m.binding.as_ref()).collect()
            }
            (None, _) => bail!("{entry_point}: an argument has no binding"),
        };
        for binding in bindings {
            if let Binding::Location { location, .. } = *binding {
                locations.insert(location, format!("_p2vs_location{location}"));
            }
        }
    }
    Ok(locations
        .into_iter()
        .map(|(location, name)| VertexAttribute { name, location })
        .collect())
}

/// The fixed part of the generated file: header and types.
const PREAMBLE: &str = r#"//! GLSL ES 3.00 for the WebGL2 backend.
//!
//! GENERATED by `cargo xtask glsl` from `shaders/scene.wgsl`, by naga: do not edit.
//! Change the WGSL and run `cargo xtask glsl`; `cargo xtask glsl --check` and
//! `cargo test -p xtask` fail while this file is stale.
//!
//! Coordinate space: as in wgpu's GL backend (naga's `ADJUST_COORDINATE_SPACE`), every
//! vertex shader flips clip-space Y and maps depth from 0..1 to -1..1. So render into a
//! framebuffer of the backend's own with the front face reversed (`gl.frontFace(CW)` for
//! WGSL's counter-clockwise), and flip Y when blitting it to the canvas. Rows then run
//! top-down as in WebGPU, and `gl_FragCoord.y` matches WGSL's `@builtin(position).y`.
//!
//! Bindings: GLSL ES 3.00 has no `layout(binding = N)`. Bind each uniform block by name
//! (`getUniformBlockIndex` + `uniformBlockBinding`; each stage has its own name for the
//! same WGSL buffer) and each sampler by name (`uniform1i` with a texture unit). Vertex
//! inputs carry `layout(location = N)` in the shader; varyings link by name.

/// A vertex and a fragment shader and what the backend binds by name.
#[derive(Clone, Copy, Debug)]
pub struct ProgramSource {
    /// The vertex shader, GLSL ES 3.00.
    pub vertex: &'static str,
    /// The fragment shader, GLSL ES 3.00.
    pub fragment: &'static str,
    /// Every uniform block of both stages.
    pub uniform_blocks: &'static [UniformBlock],
    /// Every combined texture + sampler uniform of both stages.
    pub samplers: &'static [SamplerBinding],
    /// The vertex inputs.
    pub attributes: &'static [VertexAttribute],
}

/// A uniform block and the WGSL buffer it stands for.
#[derive(Clone, Copy, Debug)]
pub struct UniformBlock {
    /// The block's name in the GLSL (for `getUniformBlockIndex`).
    pub name: &'static str,
    /// `@group` of the WGSL buffer.
    pub group: u32,
    /// `@binding` of the WGSL buffer.
    pub binding: u32,
}

/// A combined texture + sampler uniform (`sampler2DArray` …) and the WGSL texture and
/// sampler it stands for.
#[derive(Clone, Copy, Debug)]
pub struct SamplerBinding {
    /// The uniform's name in the GLSL (for `getUniformLocation`).
    pub name: &'static str,
    /// `@group` of the WGSL texture and sampler.
    pub group: u32,
    /// `@binding` of the WGSL texture.
    pub texture_binding: u32,
    /// `@binding` of the WGSL sampler.
    pub sampler_binding: u32,
}

/// A vertex input.
#[derive(Clone, Copy, Debug)]
pub struct VertexAttribute {
    /// The input's name in the GLSL.
    pub name: &'static str,
    /// Its `layout(location = N)`, the WGSL `@location`.
    pub location: u32,
}
"#;

/// A raw string literal of `text`, with as few `#` as it needs.
fn raw_string(text: &str) -> String {
    let mut hashes = String::new();
    while text.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    format!("r{hashes}\"{text}\"{hashes}")
}

/// Renders the file as rustfmt would format it (a test runs `rustfmt --check` on it).
fn render(programs: &[Translated]) -> String {
    let mut out = String::from(PREAMBLE);
    for p in programs {
        let name = p.program.name;
        let _ = write!(
            out,
            "\n/// {doc}\npub const {name}: ProgramSource = ProgramSource {{\n    \
             vertex: {name}_VERTEX,\n    fragment: {name}_FRAGMENT,\n",
            doc = p.program.doc,
        );
        render_slice(
            &mut out,
            "uniform_blocks",
            "UniformBlock",
            &p.uniform_blocks,
            |b| {
                vec![
                    format!("name: {:?}", b.name),
                    format!("group: {}", b.group),
                    format!("binding: {}", b.binding),
                ]
            },
        );
        render_slice(&mut out, "samplers", "SamplerBinding", &p.samplers, |s| {
            vec![
                format!("name: {:?}", s.name),
                format!("group: {}", s.group),
                format!("texture_binding: {}", s.texture_binding),
                format!("sampler_binding: {}", s.sampler_binding),
            ]
        });
        render_slice(
            &mut out,
            "attributes",
            "VertexAttribute",
            &p.attributes,
            |a| {
                vec![
                    format!("name: {:?}", a.name),
                    format!("location: {}", a.location),
                ]
            },
        );
        out.push_str("};\n");
        for (stage, entry, glsl) in [
            ("VERTEX", p.program.vertex, &p.vertex),
            ("FRAGMENT", p.program.fragment, &p.fragment),
        ] {
            let _ = write!(
                out,
                "\n/// `{entry}` of `shaders/scene.wgsl`.\nconst {name}_{stage}: &str = {};\n",
                raw_string(glsl)
            );
        }
    }
    out
}

/// One `field: &[Type { … }, …],` of a `ProgramSource`, in rustfmt's layout: an empty
/// slice on one line, a single element hugging the brackets, several one per line.
fn render_slice<T>(
    out: &mut String,
    field: &str,
    ty: &str,
    items: &[T],
    fields: impl Fn(&T) -> Vec<String>,
) {
    let body = |item: &T, indent: &str| -> String {
        fields(item)
            .iter()
            .map(|f| format!("{indent}    {f},\n"))
            .collect()
    };
    match items {
        [] => {
            let _ = writeln!(out, "    {field}: &[],");
        }
        [item] => {
            let _ = write!(
                out,
                "    {field}: &[{ty} {{\n{}    }}],\n",
                body(item, "    ")
            );
        }
        _ => {
            let _ = writeln!(out, "    {field}: &[");
            for item in items {
                let _ = write!(
                    out,
                    "        {ty} {{\n{}        }},\n",
                    body(item, "        ")
                );
            }
            let _ = writeln!(out, "    ],");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn error_of<T>(result: Result<T>) -> String {
        match result {
            Ok(_) => panic!("expected an error"),
            Err(e) => format!("{e:#}"),
        }
    }

    fn generated() -> String {
        match generate(&crate::workspace_root()) {
            Ok(text) => text,
            Err(e) => panic!("generating the GLSL failed: {e:#}"),
        }
    }

    #[test]
    fn committed_file_is_current() {
        let path = crate::workspace_root().join(OUTPUT_PATH);
        let on_disk = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{OUTPUT_PATH} unreadable ({e}): run `cargo xtask glsl`"));
        if let Err(e) = compare(&on_disk, &generated()) {
            panic!("{e:#}");
        }
    }

    #[test]
    fn a_stale_file_is_reported_with_its_line() {
        let fresh = generated();
        let stale = fresh.replacen("GLSL ES 3.00", "GLSL ES 1.00", 1);
        let err = error_of(compare(&stale, &fresh));
        assert!(err.contains("stale"), "{err}");
        assert!(err.contains("line 1;"), "{err}");
        assert!(compare(&fresh, &fresh).is_ok());
    }

    #[test]
    fn broken_wgsl_is_reported_with_source_spans() {
        let Ok(source) = fs::read_to_string(crate::workspace_root().join(WGSL_PATH)) else {
            panic!("{WGSL_PATH} unreadable");
        };
        let broken = source.replacen("fn vs_main", "fn vs_main(", 1);
        let err = error_of(generate_from(&broken));
        assert!(err.contains("does not parse"), "{err}");
        assert!(
            err.contains(&format!("{WGSL_PATH}:")),
            "no source span: {err}"
        );
        // Parses, but does not validate at WebGL2 capability: per-sample shading.
        let invalid = source.replacen(
            "@builtin(front_facing) front: bool)",
            "@builtin(front_facing) front: bool, @builtin(sample_index) sample: u32)",
            1,
        );
        let err = error_of(generate_from(&invalid));
        assert!(err.contains("does not validate"), "{err}");
        // naga's diagnostic, through `emit_to_string` (this error carries no span).
        assert!(err.contains("MULTISAMPLED_SHADING"), "{err}");
    }

    /// The names the WebGL2 backend binds by: each must occur in its program's GLSL.
    #[test]
    fn reflected_names_occur_in_the_glsl() {
        let Ok(source) = fs::read_to_string(crate::workspace_root().join(WGSL_PATH)) else {
            panic!("{WGSL_PATH} unreadable");
        };
        let Ok(module) = naga::front::wgsl::parse_str(&source) else {
            panic!("{WGSL_PATH} does not parse");
        };
        let Ok(info) =
            Validator::new(ValidationFlags::all(), Capabilities::empty()).validate(&module)
        else {
            panic!("{WGSL_PATH} does not validate");
        };
        let options = glsl::Options {
            version: glsl::Version::Embedded {
                version: 300,
                is_webgl: true,
            },
            writer_flags: glsl::WriterFlags::ADJUST_COORDINATE_SPACE,
            binding_map: binding_map(&module),
            zero_initialize_workgroup_memory: true,
        };
        let scene = match translate_program(&module, &info, &options, &PROGRAMS[0]) {
            Ok(t) => t,
            Err(e) => panic!("{e:#}"),
        };
        // Frame in both stages, MeshInfo in the vertex stage only.
        let blocks: Vec<_> = scene
            .uniform_blocks
            .iter()
            .map(|b| (b.group, b.binding))
            .collect();
        assert_eq!(blocks, [(0, 0), (1, 0), (0, 0)]);
        for b in &scene.uniform_blocks[..2] {
            assert!(
                scene.vertex.contains(&format!("uniform {} {{", b.name)),
                "{}",
                b.name
            );
        }
        assert!(
            scene
                .fragment
                .contains(&format!("uniform {} {{", scene.uniform_blocks[2].name))
        );
        assert_eq!(scene.samplers.len(), 1);
        let atlas = &scene.samplers[0];
        assert_eq!(
            (atlas.group, atlas.texture_binding, atlas.sampler_binding),
            (0, 1, 2)
        );
        assert!(
            scene
                .fragment
                .contains(&format!("uniform highp sampler2DArray {};", atlas.name))
        );
        let locations: Vec<u32> = scene.attributes.iter().map(|a| a.location).collect();
        assert_eq!(locations, [0, 1, 2, 3, 4, 5, 6]);

        let background = match translate_program(&module, &info, &options, &PROGRAMS[1]) {
            Ok(t) => t,
            Err(e) => panic!("{e:#}"),
        };
        assert!(background.attributes.is_empty());
        assert!(background.samplers.is_empty());
        assert_eq!(background.uniform_blocks.len(), 1);
    }

    #[test]
    fn generated_file_is_rustfmt_clean() {
        let root = crate::workspace_root();
        // From stdin, `rustfmt --check` prints a diff but exits 0: compare the output.
        let child = Command::new("rustfmt")
            .args(["--edition", "2024", "--config-path"])
            .arg(root.join("rustfmt.toml"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let Ok(mut child) = child else {
            eprintln!("NOTE: rustfmt not found: the generated file's formatting is not checked");
            return;
        };
        let text = generated();
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write as _;
            if let Err(e) = stdin.write_all(text.as_bytes()) {
                panic!("writing to rustfmt: {e}");
            }
        }
        let output = match child.wait_with_output() {
            Ok(o) => o,
            Err(e) => panic!("rustfmt: {e}"),
        };
        assert!(
            output.status.success(),
            "rustfmt failed on the generated file:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let formatted = String::from_utf8_lossy(&output.stdout);
        if formatted != text {
            let (line, (ours, theirs)) = text
                .lines()
                .zip(formatted.lines())
                .enumerate()
                .find(|(_, (a, b))| a != b)
                .unwrap_or((0, ("(length differs)", "")));
            panic!(
                "the generated file is not rustfmt-clean; line {}:\n  ours:    {ours}\n  rustfmt: {theirs}",
                line + 1
            );
        }
    }

    /// Every generated stage compiles as GLSL ES 3.00 in Khronos' reference compiler,
    /// where it is installed (Debian: `apt-get install glslang-tools`).
    #[test]
    fn glslang_accepts_every_stage() {
        if Command::new("glslangValidator")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!(
                "NOTE: glslangValidator not found (apt-get install glslang-tools): the \
                 generated GLSL was NOT compiled"
            );
            return;
        }
        let Ok(source) = fs::read_to_string(crate::workspace_root().join(WGSL_PATH)) else {
            panic!("{WGSL_PATH} unreadable");
        };
        let text = match generate_from(&source) {
            Ok(t) => t,
            Err(e) => panic!("{e:#}"),
        };
        let dir = std::env::temp_dir().join(format!("xtask-glsl-{}", std::process::id()));
        if let Err(e) = fs::create_dir_all(&dir) {
            panic!("creating {}: {e}", dir.display());
        }
        let mut checked = 0;
        for program in &PROGRAMS {
            for (stage, ext) in [("VERTEX", "vert"), ("FRAGMENT", "frag")] {
                let glsl = raw_string_of(&text, &format!("{}_{stage}", program.name));
                assert!(glsl.starts_with("#version 300 es\n"), "{glsl}");
                let path = dir.join(format!("{}.{ext}", program.name.to_lowercase()));
                if let Err(e) = fs::write(&path, glsl) {
                    panic!("writing {}: {e}", path.display());
                }
                let output = match Command::new("glslangValidator").arg(&path).output() {
                    Ok(o) => o,
                    Err(e) => panic!("glslangValidator: {e}"),
                };
                assert!(
                    output.status.success(),
                    "glslangValidator rejects {}_{stage}:\n{}{}\n{glsl}",
                    program.name,
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
                checked += 1;
            }
        }
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(checked, 4);
        eprintln!("glslangValidator accepted {checked} stages as GLSL ES 3.00");
    }

    /// The text of the raw string constant `name` in the generated file.
    fn raw_string_of<'a>(file: &'a str, name: &str) -> &'a str {
        let start = format!("const {name}: &str = r");
        let Some(at) = file.find(&start) else {
            panic!("no constant {name}");
        };
        let rest = &file[at + start.len()..];
        let hashes = rest.len() - rest.trim_start_matches('#').len();
        let body = &rest[hashes + 1..];
        let end = format!("\"{};", "#".repeat(hashes));
        let Some(len) = body.find(&end) else {
            panic!("unterminated constant {name}");
        };
        &body[..len]
    }

    #[test]
    fn raw_strings_use_as_few_hashes_as_they_need() {
        assert_eq!(raw_string("a\nb"), "r\"a\nb\"");
        assert_eq!(raw_string("say \"hi\""), "r#\"say \"hi\"\"#");
        assert_eq!(raw_string("\"#"), "r##\"\"#\"##");
    }
}

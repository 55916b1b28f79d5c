//! Compiling and linking the generated GLSL ([`super::shaders`]), and binding what
//! GLSL ES 3.00 cannot bind in the source (it has no `layout(binding = N)`): each
//! uniform block to its binding point and each sampler to its texture unit, by the
//! names [`ProgramSource`] lists.

use super::loss::Context;
use candlefish_renderer::BackendError;
use candlefish_renderer::backend::layout::{INSTANCE, MESH_VERTEX};
use web_sys::{WebGl2RenderingContext as Gl, WebGlProgram, WebGlShader};

use super::shaders::ProgramSource;

/// Uniform-buffer binding point of the frame uniforms (WGSL `@group(0) @binding(0)`).
pub const FRAME_BLOCK: u32 = 0;
/// Uniform-buffer binding point of the mesh uniforms (WGSL `@group(1) @binding(0)`),
/// rebound per draw with `bindBufferRange`.
pub const MESH_BLOCK: u32 = 1;
/// Texture unit of the atlas (WGSL `@group(0) @binding(1)` with its sampler).
pub const ATLAS_UNIT: u32 = 0;

/// The binding point standing for a WGSL uniform buffer.
fn block_binding(group: u32, binding: u32) -> Option<u32> {
    match (group, binding) {
        (0, 0) => Some(FRAME_BLOCK),
        (1, 0) => Some(MESH_BLOCK),
        _ => None,
    }
}

/// The texture unit standing for a WGSL texture.
fn texture_unit(group: u32, texture_binding: u32) -> Option<u32> {
    match (group, texture_binding) {
        (0, 1) => Some(ATLAS_UNIT),
        _ => None,
    }
}

/// A linked program, deleted on drop.
#[derive(Debug)]
pub struct Program {
    gl: Context,
    program: WebGlProgram,
}

fn setup(message: String) -> BackendError {
    BackendError::Setup(message)
}

fn compile(gl: &Gl, kind: u32, source: &str, what: &str) -> Result<WebGlShader, BackendError> {
    let shader = gl
        .create_shader(kind)
        .ok_or_else(|| setup(format!("cannot create the {what} shader")))?;
    gl.shader_source(&shader, source);
    gl.compile_shader(&shader);
    if gl
        .get_shader_parameter(&shader, Gl::COMPILE_STATUS)
        .as_bool()
        != Some(true)
    {
        let log = gl.get_shader_info_log(&shader).unwrap_or_default();
        gl.delete_shader(Some(&shader));
        return Err(setup(format!(
            "the {what} shader does not compile: {}",
            log.trim()
        )));
    }
    Ok(shader)
}

impl Program {
    /// Compiles and links `source`, binds its uniform blocks and samplers, and checks
    /// that its vertex inputs sit at the locations of [`MESH_VERTEX`] and
    /// [`INSTANCE`] (the tables the vertex arrays are set up from). `name` is for
    /// error text.
    pub fn new(gl: &Context, name: &str, source: &ProgramSource) -> Result<Self, BackendError> {
        let vertex = compile(
            gl,
            Gl::VERTEX_SHADER,
            source.vertex,
            &format!("{name} vertex"),
        )?;
        let fragment = match compile(
            gl,
            Gl::FRAGMENT_SHADER,
            source.fragment,
            &format!("{name} fragment"),
        ) {
            Ok(f) => f,
            Err(e) => {
                gl.delete_shader(Some(&vertex));
                return Err(e);
            }
        };
        let program = gl.create_program();
        if let Some(program) = &program {
            gl.attach_shader(program, &vertex);
            gl.attach_shader(program, &fragment);
            gl.link_program(program);
            gl.detach_shader(program, &vertex);
            gl.detach_shader(program, &fragment);
        }
        gl.delete_shader(Some(&vertex));
        gl.delete_shader(Some(&fragment));
        let program = Self {
            gl: gl.clone(),
            program: program.ok_or_else(|| setup(format!("cannot create the {name} program")))?,
        };
        if gl
            .get_program_parameter(&program.program, Gl::LINK_STATUS)
            .as_bool()
            != Some(true)
        {
            let log = gl
                .get_program_info_log(&program.program)
                .unwrap_or_default();
            return Err(setup(format!(
                "the {name} program does not link: {}",
                log.trim()
            )));
        }
        program.bind_blocks(name, source)?;
        program.check_attributes(name, source)?;
        Ok(program)
    }

    fn bind_blocks(&self, name: &str, source: &ProgramSource) -> Result<(), BackendError> {
        let (gl, program) = (&self.gl, &self.program);
        for block in source.uniform_blocks {
            let point = block_binding(block.group, block.binding).ok_or_else(|| {
                setup(format!(
                    "{name}: the uniform block {} (@group({}) @binding({})) has no binding \
                     point in the WebGL2 backend",
                    block.name, block.group, block.binding
                ))
            })?;
            let index = gl.get_uniform_block_index(program, block.name);
            if index == Gl::INVALID_INDEX {
                return Err(setup(format!(
                    "{name}: the program has no uniform block {}",
                    block.name
                )));
            }
            gl.uniform_block_binding(program, index, point);
        }
        gl.use_program(Some(program));
        for sampler in source.samplers {
            let unit = texture_unit(sampler.group, sampler.texture_binding).ok_or_else(|| {
                setup(format!(
                    "{name}: the texture {} (@group({}) @binding({})) has no texture unit in \
                     the WebGL2 backend",
                    sampler.name, sampler.group, sampler.texture_binding
                ))
            })?;
            let location = gl
                .get_uniform_location(program, sampler.name)
                .ok_or_else(|| setup(format!("{name}: the program has no {}", sampler.name)))?;
            gl.uniform1i(Some(&location), unit as i32);
        }
        Ok(())
    }

    /// Every vertex input is one of the layout tables' attributes, at its location.
    fn check_attributes(&self, name: &str, source: &ProgramSource) -> Result<(), BackendError> {
        for input in source.attributes {
            let in_layout = MESH_VERTEX
                .attributes
                .iter()
                .chain(INSTANCE.attributes)
                .any(|a| a.location == input.location);
            let linked = self.gl.get_attrib_location(&self.program, input.name);
            // -1: the linker dropped an input the shader does not use.
            if !in_layout || (linked != -1 && linked != input.location as i32) {
                return Err(setup(format!(
                    "{name}: the vertex input {} at location {} (linked at {linked}) is not \
                     in the vertex or instance layout",
                    input.name, input.location
                )));
            }
        }
        Ok(())
    }

    /// `useProgram`.
    pub fn bind(&self) {
        self.gl.use_program(Some(&self.program));
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        // Objects of a lost context died with it (even once it is restored).
        if self.gl.alive() {
            self.gl.delete_program(Some(&self.program));
        }
    }
}

//! The scene's GL objects and the per-frame draw: vertex, index and instance buffers,
//! the vertex arrays, the uniform buffers and the atlas texture array, then one
//! instanced draw per batch of a [`FramePlan`] and the water background behind.
//!
//! The vertex arrays are set up from the renderer's layout tables
//! ([`layout::MESH_VERTEX`], [`layout::INSTANCE`]), the same data the wgpu backend
//! builds its vertex buffer layouts from, so both read [`InstanceData`] and
//! `MeshVertex` the same way; `buffer_layouts_match_the_shader_inputs` in
//! `renderer/tests/shaders.rs` and the tests in `renderer/src/backend/layout.rs` check
//! those tables against the structs and the WGSL vertex inputs.

use std::ops::Range;

use super::loss::Context;
use candlefish_renderer::backend::layout::{self, BufferLayout, ComponentType};
use candlefish_renderer::backend::uniforms::{
    FrameUniforms, MAX_MATERIALS, MaterialUniform, MeshUniforms, material_table,
};
use candlefish_renderer::{BackendError, FramePlan, InstanceData, Scene};
use web_sys::{WebGl2RenderingContext as Gl, WebGlBuffer, WebGlTexture, WebGlVertexArrayObject};

use super::program::{ATLAS_UNIT, FRAME_BLOCK, MESH_BLOCK, Program};
use super::shaders;
use crate::web::canvas::describe;

/// Instance slots allocated at first (grown by doubling).
const INITIAL_INSTANCES: u32 = 1024;

/// The scene's GL objects, deleted on drop.
#[derive(Debug)]
pub struct SceneObjects {
    gl: Context,
    scene_program: Program,
    background_program: Program,
    vertices: WebGlBuffer,
    indices: WebGlBuffer,
    instances: WebGlBuffer,
    /// Instance slots allocated in `instances`.
    instance_capacity: u32,
    frame_uniforms: WebGlBuffer,
    mesh_uniforms: WebGlBuffer,
    /// Bytes between two meshes' uniforms (`UNIFORM_BUFFER_OFFSET_ALIGNMENT`-aligned).
    mesh_stride: u32,
    /// Mesh and instance attributes.
    scene_vao: WebGlVertexArrayObject,
    /// No attributes (the background's full-screen triangle).
    background_vao: WebGlVertexArrayObject,
    atlas: WebGlTexture,
    /// Index ranges per mesh, per tier.
    tiers: Vec<Vec<Range<u32>>>,
    /// The material table of the frame uniforms.
    materials: [MaterialUniform; MAX_MATERIALS],
}

fn setup(message: impl Into<String>) -> BackendError {
    BackendError::Setup(message.into())
}

fn create_buffer(gl: &Gl, what: &str) -> Result<WebGlBuffer, BackendError> {
    gl.create_buffer()
        .ok_or_else(|| setup(format!("cannot create the {what} buffer")))
}

fn component_type(t: ComponentType) -> u32 {
    match t {
        ComponentType::U16 => Gl::UNSIGNED_SHORT,
        ComponentType::I16 => Gl::SHORT,
        ComponentType::F32 => Gl::FLOAT,
        ComponentType::U32 => Gl::UNSIGNED_INT,
    }
}

/// Enables `layout`'s attributes with their divisors (on the bound vertex array).
fn enable_attributes(gl: &Gl, layout: &BufferLayout) {
    for a in layout.attributes {
        gl.enable_vertex_attrib_array(a.location);
        gl.vertex_attrib_divisor(a.location, u32::from(layout.per_instance));
    }
}

/// Points `layout`'s attributes at the bound `ARRAY_BUFFER`, starting `base` bytes in.
fn point_attributes(gl: &Gl, layout: &BufferLayout, base: u32) {
    let stride = layout.stride as i32;
    for a in layout.attributes {
        let (size, ty) = (
            a.format.components() as i32,
            component_type(a.format.component_type()),
        );
        let offset = (base + a.offset) as i32;
        if a.format.is_integer() {
            gl.vertex_attrib_i_pointer_with_i32(a.location, size, ty, stride, offset);
        } else {
            gl.vertex_attrib_pointer_with_i32(
                a.location,
                size,
                ty,
                a.format.normalized(),
                stride,
                offset,
            );
        }
    }
}

impl SceneObjects {
    /// Compiles the programs and uploads `scene`'s meshes, mesh uniforms and atlas.
    pub fn new(gl: &Context, scene: &Scene) -> Result<Self, BackendError> {
        if scene.meshes.meshes.is_empty() || scene.meshes.indices.is_empty() {
            return Err(setup("the scene has no meshes"));
        }
        if scene.atlas.is_empty() {
            return Err(setup("the scene has no atlas page"));
        }
        let scene_program = Program::new(gl, "scene", &shaders::SCENE)?;
        let background_program = Program::new(gl, "background", &shaders::BACKGROUND)?;

        let vertices = create_buffer(gl, "vertex")?;
        gl.bind_buffer(Gl::ARRAY_BUFFER, Some(&vertices));
        gl.buffer_data_with_u8_array(
            Gl::ARRAY_BUFFER,
            bytemuck::cast_slice(&scene.meshes.vertices),
            Gl::STATIC_DRAW,
        );
        let instances = create_buffer(gl, "instance")?;
        gl.bind_buffer(Gl::ARRAY_BUFFER, Some(&instances));
        gl.buffer_data_with_i32(
            Gl::ARRAY_BUFFER,
            (INITIAL_INSTANCES * layout::INSTANCE.stride) as i32,
            Gl::DYNAMIC_DRAW,
        );

        let scene_vao = gl
            .create_vertex_array()
            .ok_or_else(|| setup("cannot create a vertex array"))?;
        let background_vao = gl
            .create_vertex_array()
            .ok_or_else(|| setup("cannot create a vertex array"))?;
        gl.bind_vertex_array(Some(&scene_vao));
        let indices = create_buffer(gl, "index")?;
        gl.bind_buffer(Gl::ELEMENT_ARRAY_BUFFER, Some(&indices));
        gl.buffer_data_with_u8_array(
            Gl::ELEMENT_ARRAY_BUFFER,
            bytemuck::cast_slice(&scene.meshes.indices),
            Gl::STATIC_DRAW,
        );
        gl.bind_buffer(Gl::ARRAY_BUFFER, Some(&vertices));
        enable_attributes(gl, &layout::MESH_VERTEX);
        point_attributes(gl, &layout::MESH_VERTEX, 0);
        gl.bind_buffer(Gl::ARRAY_BUFFER, Some(&instances));
        enable_attributes(gl, &layout::INSTANCE);
        point_attributes(gl, &layout::INSTANCE, 0);
        gl.bind_vertex_array(None);

        let frame_uniforms = create_buffer(gl, "frame uniform")?;
        gl.bind_buffer(Gl::UNIFORM_BUFFER, Some(&frame_uniforms));
        gl.buffer_data_with_i32(
            Gl::UNIFORM_BUFFER,
            size_of::<FrameUniforms>() as i32,
            Gl::DYNAMIC_DRAW,
        );
        let align = gl
            .get_parameter(Gl::UNIFORM_BUFFER_OFFSET_ALIGNMENT)
            .ok()
            .and_then(|v| v.as_f64())
            .map_or(256, |v| v as u32)
            .max(1);
        let mesh_stride = (size_of::<MeshUniforms>() as u32).div_ceil(align) * align;
        let mut mesh_bytes = vec![0u8; mesh_stride as usize * scene.meshes.meshes.len()];
        for (i, mesh) in scene.meshes.meshes.iter().enumerate() {
            let at = i * mesh_stride as usize;
            mesh_bytes[at..at + size_of::<MeshUniforms>()]
                .copy_from_slice(bytemuck::bytes_of(&MeshUniforms::new(mesh)));
        }
        let mesh_uniforms = create_buffer(gl, "mesh uniform")?;
        gl.bind_buffer(Gl::UNIFORM_BUFFER, Some(&mesh_uniforms));
        gl.buffer_data_with_u8_array(Gl::UNIFORM_BUFFER, &mesh_bytes, Gl::STATIC_DRAW);
        gl.bind_buffer(Gl::UNIFORM_BUFFER, None);

        let atlas = upload_atlas(gl, scene)?;
        let tiers = scene
            .meshes
            .meshes
            .iter()
            .map(|m| {
                m.tiers
                    .iter()
                    .map(|t| t.first_index..t.first_index + t.index_count)
                    .collect()
            })
            .collect();
        Ok(Self {
            gl: gl.clone(),
            scene_program,
            background_program,
            vertices,
            indices,
            instances,
            instance_capacity: INITIAL_INSTANCES,
            frame_uniforms,
            mesh_uniforms,
            mesh_stride,
            scene_vao,
            background_vao,
            atlas,
            tiers,
            materials: material_table(&scene.materials),
        })
    }

    /// The material table for [`FrameUniforms::new`].
    pub fn materials(&self) -> &[MaterialUniform; MAX_MATERIALS] {
        &self.materials
    }

    /// Writes the frame uniforms and the plan's instances (the instance buffer grows
    /// by doubling; nothing is allocated on the Rust side).
    pub fn upload(&mut self, plan: &FramePlan, uniforms: &FrameUniforms) {
        let gl = &self.gl;
        gl.bind_buffer(Gl::UNIFORM_BUFFER, Some(&self.frame_uniforms));
        gl.buffer_sub_data_with_i32_and_u8_array(
            Gl::UNIFORM_BUFFER,
            0,
            bytemuck::bytes_of(uniforms),
        );
        gl.bind_buffer(Gl::UNIFORM_BUFFER, None);
        let needed = plan.instances.len().min(u32::MAX as usize) as u32;
        gl.bind_buffer(Gl::ARRAY_BUFFER, Some(&self.instances));
        if needed > self.instance_capacity {
            let mut capacity = self.instance_capacity.max(1);
            while capacity < needed {
                capacity = capacity.saturating_mul(2);
            }
            gl.buffer_data_with_f64(
                Gl::ARRAY_BUFFER,
                f64::from(capacity) * f64::from(layout::INSTANCE.stride),
                Gl::DYNAMIC_DRAW,
            );
            self.instance_capacity = capacity;
        }
        if !plan.instances.is_empty() {
            gl.buffer_sub_data_with_i32_and_u8_array(
                Gl::ARRAY_BUFFER,
                0,
                bytemuck::cast_slice(&plan.instances),
            );
        }
    }

    /// Draws the plan's batches, then the background where nothing was drawn, into
    /// the bound framebuffer (colour and depth already cleared).
    pub fn draw(&self, plan: &FramePlan) {
        let gl = &self.gl;
        gl.enable(Gl::DEPTH_TEST);
        gl.depth_mask(true);
        gl.depth_func(Gl::LESS);
        gl.bind_buffer_base(Gl::UNIFORM_BUFFER, FRAME_BLOCK, Some(&self.frame_uniforms));
        gl.active_texture(Gl::TEXTURE0 + ATLAS_UNIT);
        gl.bind_texture(Gl::TEXTURE_2D_ARRAY, Some(&self.atlas));
        self.scene_program.bind();
        gl.bind_vertex_array(Some(&self.scene_vao));
        gl.bind_buffer(Gl::ARRAY_BUFFER, Some(&self.instances));
        let stride = size_of::<InstanceData>() as u32;
        let index_size = size_of::<u32>() as u32;
        for batch in &plan.batches {
            let Some(range) = self
                .tiers
                .get(usize::from(batch.mesh))
                .and_then(|m| m.get(usize::from(batch.tier)))
            else {
                continue;
            };
            gl.bind_buffer_range_with_i32_and_i32(
                Gl::UNIFORM_BUFFER,
                MESH_BLOCK,
                Some(&self.mesh_uniforms),
                (u32::from(batch.mesh) * self.mesh_stride) as i32,
                size_of::<MeshUniforms>() as i32,
            );
            // WebGL2 has no base instance: point the instance attributes at the batch.
            point_attributes(gl, &layout::INSTANCE, batch.first_instance * stride);
            gl.draw_elements_instanced_with_i32(
                Gl::TRIANGLES,
                range.len() as i32,
                Gl::UNSIGNED_INT,
                (range.start * index_size) as i32,
                batch.instance_count as i32,
            );
        }
        // The water: a full-screen triangle at the far plane, behind everything drawn.
        gl.depth_mask(false);
        gl.depth_func(Gl::LEQUAL);
        self.background_program.bind();
        gl.bind_vertex_array(Some(&self.background_vao));
        gl.draw_arrays(Gl::TRIANGLES, 0, 3);
        gl.bind_vertex_array(None);
    }
}

impl Drop for SceneObjects {
    fn drop(&mut self) {
        let gl = &self.gl;
        // Objects of a lost context died with it (even once it is restored).
        if !gl.alive() {
            return;
        }
        for buffer in [
            &self.vertices,
            &self.indices,
            &self.instances,
            &self.frame_uniforms,
            &self.mesh_uniforms,
        ] {
            gl.delete_buffer(Some(buffer));
        }
        gl.delete_vertex_array(Some(&self.scene_vao));
        gl.delete_vertex_array(Some(&self.background_vao));
        gl.delete_texture(Some(&self.atlas));
    }
}

/// The atlas pages as one `TEXTURE_2D_ARRAY` with every mip level, in
/// `SRGB8_ALPHA8` (wgpu's `Rgba8UnormSrgb`): sampling decodes to linear.
fn upload_atlas(gl: &Gl, scene: &Scene) -> Result<WebGlTexture, BackendError> {
    let first = scene
        .atlas
        .first()
        .ok_or_else(|| setup("the scene has no atlas page"))?;
    let (width, height) = (first.width().max(1), first.height().max(1));
    let mips = scene
        .atlas
        .iter()
        .map(|p| p.mips.len())
        .min()
        .unwrap_or(1)
        .max(1);
    // As in the wgpu backend: a one-layer array could be taken for a plain 2D texture;
    // always allocate at least two layers.
    let layers = scene.atlas.len().max(2);
    let texture = gl
        .create_texture()
        .ok_or_else(|| setup("cannot create the atlas texture"))?;
    gl.active_texture(Gl::TEXTURE0 + ATLAS_UNIT);
    gl.bind_texture(Gl::TEXTURE_2D_ARRAY, Some(&texture));
    gl.tex_storage_3d(
        Gl::TEXTURE_2D_ARRAY,
        mips as i32,
        Gl::SRGB8_ALPHA8,
        width as i32,
        height as i32,
        layers as i32,
    );
    gl.pixel_storei(Gl::UNPACK_ALIGNMENT, 4);
    for (layer, page) in scene.atlas.iter().enumerate() {
        for (level, mip) in page.mips.iter().take(mips).enumerate() {
            let size_ok = mip.width == (width >> level).max(1)
                && mip.height == (height >> level).max(1)
                && mip.pixels.len() >= mip.width as usize * mip.height as usize * 4;
            // Pages of another size than the first are skipped rather than mis-copied.
            if !size_ok {
                log::warn!("atlas page {layer} level {level} has the wrong size; skipped");
                continue;
            }
            gl.tex_sub_image_3d_with_opt_u8_array(
                Gl::TEXTURE_2D_ARRAY,
                level as i32,
                0,
                0,
                layer as i32,
                mip.width as i32,
                mip.height as i32,
                1,
                Gl::RGBA,
                Gl::UNSIGNED_BYTE,
                Some(&mip.pixels),
            )
            .map_err(|e| setup(format!("uploading the atlas failed: {}", describe(&e))))?;
        }
    }
    for (parameter, value) in [
        (Gl::TEXTURE_MIN_FILTER, Gl::LINEAR_MIPMAP_LINEAR),
        (Gl::TEXTURE_MAG_FILTER, Gl::LINEAR),
        (Gl::TEXTURE_WRAP_S, Gl::CLAMP_TO_EDGE),
        (Gl::TEXTURE_WRAP_T, Gl::CLAMP_TO_EDGE),
    ] {
        gl.tex_parameteri(Gl::TEXTURE_2D_ARRAY, parameter, value as i32);
    }
    Ok(texture)
}

//! The scene's GPU resources and the per-frame draw: one instanced draw per batch of a
//! [`FramePlan`], then the water background where nothing was drawn.
//!
//! Nothing GPU-side is created per frame: the instance buffer grows by doubling, the
//! MSAA and depth targets are re-created only on resize, the pipelines only when the
//! MSAA sample count changes. Output goes to any texture view of the configured format.

use web_time::Instant;
use wgpu::util::DeviceExt;

use super::timer::GpuTimer;
use super::{DEPTH_FORMAT, GpuError};
use crate::backend::layout::{self, AttributeFormat, BufferLayout, SCENE_WGSL};
use crate::backend::uniforms::{
    FrameUniforms, MAX_MATERIALS, MaterialUniform, MeshUniforms, material_table,
};
use crate::frame::lap;
use crate::frame::plan::{FramePlan, InstanceData};
use crate::frame::timings::{FrameRecord, Phase};
use crate::scene::Scene;
use crate::scene::camera::Camera;

/// Output configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetConfig {
    /// Format of the views passed to [`GpuRenderer::render`]. A non-sRGB format gets
    /// its sRGB encoding in the fragment shader, so every target shows the same colours.
    pub format: wgpu::TextureFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// MSAA samples (1 or 4; lowered to what the format supports).
    pub msaa_samples: u32,
}

/// The scene and background pipelines for one sample count.
#[derive(Debug)]
struct Pipelines {
    scene: wgpu::RenderPipeline,
    background: wgpu::RenderPipeline,
}

/// GPU resources of a scene and the per-frame draw.
#[derive(Debug)]
pub struct GpuRenderer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    config: TargetConfig,
    /// Sample counts the target format supports (bit n set: 2^n samples).
    supported_samples: u32,
    shader: wgpu::ShaderModule,
    layout: wgpu::PipelineLayout,
    pipelines: Pipelines,
    frame_buffer: wgpu::Buffer,
    frame_bind_group: wgpu::BindGroup,
    mesh_bind_group: wgpu::BindGroup,
    mesh_stride: u32,
    vertex_buffer: wgpu::Buffer,
    index_buffer: wgpu::Buffer,
    instance_buffer: wgpu::Buffer,
    instance_capacity: u64,
    /// Index ranges per mesh, per tier.
    meshes: Vec<Vec<std::ops::Range<u32>>>,
    materials: [MaterialUniform; MAX_MATERIALS],
    depth_view: wgpu::TextureView,
    msaa_view: Option<wgpu::TextureView>,
    timer: Option<GpuTimer>,
    /// Colour every instance by its LOD tier instead of shading it.
    pub debug_tiers: bool,
}

fn vertex_format(format: AttributeFormat) -> wgpu::VertexFormat {
    match format {
        AttributeFormat::Unorm16x4 => wgpu::VertexFormat::Unorm16x4,
        AttributeFormat::Snorm16x2 => wgpu::VertexFormat::Snorm16x2,
        AttributeFormat::Unorm16x2 => wgpu::VertexFormat::Unorm16x2,
        AttributeFormat::Snorm16x4 => wgpu::VertexFormat::Snorm16x4,
        AttributeFormat::Float32x4 => wgpu::VertexFormat::Float32x4,
        AttributeFormat::Float32 => wgpu::VertexFormat::Float32,
        AttributeFormat::Uint32 => wgpu::VertexFormat::Uint32,
    }
}

fn vertex_attributes(layout: &BufferLayout) -> Vec<wgpu::VertexAttribute> {
    layout
        .attributes
        .iter()
        .map(|a| wgpu::VertexAttribute {
            format: vertex_format(a.format),
            offset: u64::from(a.offset),
            shader_location: a.location,
        })
        .collect()
}

impl Pipelines {
    fn new(
        device: &wgpu::Device,
        shader: &wgpu::ShaderModule,
        layout: &wgpu::PipelineLayout,
        format: wgpu::TextureFormat,
        samples: u32,
    ) -> Self {
        let mesh_attributes = vertex_attributes(&layout::MESH_VERTEX);
        let instance_attributes = vertex_attributes(&layout::INSTANCE);
        let step = |l: &BufferLayout| {
            if l.per_instance {
                wgpu::VertexStepMode::Instance
            } else {
                wgpu::VertexStepMode::Vertex
            }
        };
        let buffers = [
            Some(wgpu::VertexBufferLayout {
                array_stride: u64::from(layout::MESH_VERTEX.stride),
                step_mode: step(&layout::MESH_VERTEX),
                attributes: &mesh_attributes,
            }),
            Some(wgpu::VertexBufferLayout {
                array_stride: u64::from(layout::INSTANCE.stride),
                step_mode: step(&layout::INSTANCE),
                attributes: &instance_attributes,
            }),
        ];
        let multisample = wgpu::MultisampleState {
            count: samples,
            ..wgpu::MultisampleState::default()
        };
        let targets = [Some(wgpu::ColorTargetState {
            format,
            blend: None,
            write_mask: wgpu::ColorWrites::ALL,
        })];
        let scene = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("scene"),
            layout: Some(layout),
            vertex: wgpu::VertexState {
                module: shader,
                entry_point: Some("vs_main"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                buffers: &buffers,
            },
            primitive: wgpu::PrimitiveState {
                // Fins and kelp are single sheets: draw both faces, flip normals in the
                // fragment shader.
                cull_mode: None,
                ..wgpu::PrimitiveState::default()
            },
            depth_stencil: Some(wgpu::DepthStencilState {
                format: DEPTH_FORMAT,
                depth_write_enabled: Some(true),
                depth_compare: Some(wgpu::CompareFunction::Less),
                stencil: wgpu::StencilState::default(),
                bias: wgpu::DepthBiasState::default(),
            }),
            multisample,
            fragment: Some(wgpu::FragmentState {
                module: shader,
                entry_point: Some("fs_main"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                targets: &targets,
            }),
            multiview_mask: None,
            cache: None,
        });
        let background = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("background"),
            layout: Some(layout),
            vertex: wgpu::VertexState {
                module: shader,
                entry_point: Some("vs_background"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState::default(),
            // Drawn last at the far plane: only where nothing else was drawn.
            depth_stencil: Some(wgpu::DepthStencilState {
                format: DEPTH_FORMAT,
                depth_write_enabled: Some(false),
                depth_compare: Some(wgpu::CompareFunction::LessEqual),
                stencil: wgpu::StencilState::default(),
                bias: wgpu::DepthBiasState::default(),
            }),
            multisample,
            fragment: Some(wgpu::FragmentState {
                module: shader,
                entry_point: Some("fs_background"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                targets: &targets,
            }),
            multiview_mask: None,
            cache: None,
        });
        Self { scene, background }
    }
}

fn supported_sample_counts(adapter: &wgpu::Adapter, format: wgpu::TextureFormat) -> u32 {
    let flags = adapter.get_texture_format_features(format).flags;
    let depth = adapter.get_texture_format_features(DEPTH_FORMAT).flags;
    [1u32, 2, 4, 8]
        .into_iter()
        .filter(|&n| n == 1 || (flags.sample_count_supported(n) && depth.sample_count_supported(n)))
        .fold(0, |bits, n| bits | n)
}

impl GpuRenderer {
    /// Uploads `scene`'s meshes and atlas and builds the pipelines for `config`.
    pub fn new(
        adapter: &wgpu::Adapter,
        device: wgpu::Device,
        queue: wgpu::Queue,
        scene: &Scene,
        mut config: TargetConfig,
    ) -> Result<Self, GpuError> {
        if scene.meshes.meshes.is_empty() || scene.meshes.indices.is_empty() {
            return Err(GpuError::EmptyScene("meshes"));
        }
        if scene.atlas.is_empty() {
            return Err(GpuError::EmptyScene("atlas page"));
        }
        let supported_samples = supported_sample_counts(adapter, config.format);
        config.msaa_samples = fit_samples(config.msaa_samples, supported_samples, config.format);
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("scene.wgsl"),
            source: wgpu::ShaderSource::Wgsl(SCENE_WGSL.into()),
        });

        let frame_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("frame"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: wgpu::BufferSize::new(size_of::<FrameUniforms>() as u64),
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: true },
                        view_dimension: wgpu::TextureViewDimension::D2Array,
                        multisampled: false,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 2,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let mesh_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("mesh"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: wgpu::BufferSize::new(size_of::<MeshUniforms>() as u64),
                },
                count: None,
            }],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("scene"),
            bind_group_layouts: &[Some(&frame_layout), Some(&mesh_layout)],
            immediate_size: 0,
        });
        let pipelines = Pipelines::new(
            &device,
            &shader,
            &layout,
            config.format,
            config.msaa_samples,
        );

        let materials = material_table(&scene.materials);
        let frame_buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("frame uniforms"),
            size: size_of::<FrameUniforms>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let atlas_view = upload_atlas(&device, &queue, scene);
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("atlas"),
            address_mode_u: wgpu::AddressMode::ClampToEdge,
            address_mode_v: wgpu::AddressMode::ClampToEdge,
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            mipmap_filter: wgpu::MipmapFilterMode::Linear,
            ..wgpu::SamplerDescriptor::default()
        });
        let frame_bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("frame"),
            layout: &frame_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: frame_buffer.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(&atlas_view),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::Sampler(&sampler),
                },
            ],
        });

        let align = device.limits().min_uniform_buffer_offset_alignment.max(1);
        let mesh_stride = (size_of::<MeshUniforms>() as u32).div_ceil(align) * align;
        let mut mesh_bytes = vec![0u8; mesh_stride as usize * scene.meshes.meshes.len()];
        for (i, mesh) in scene.meshes.meshes.iter().enumerate() {
            let at = i * mesh_stride as usize;
            mesh_bytes[at..at + size_of::<MeshUniforms>()]
                .copy_from_slice(bytemuck::bytes_of(&MeshUniforms::new(mesh)));
        }
        let mesh_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("mesh uniforms"),
            contents: &mesh_bytes,
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let mesh_bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("mesh"),
            layout: &mesh_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &mesh_buffer,
                    offset: 0,
                    size: wgpu::BufferSize::new(size_of::<MeshUniforms>() as u64),
                }),
            }],
        });
        let vertex_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("vertices"),
            contents: bytemuck::cast_slice(&scene.meshes.vertices),
            usage: wgpu::BufferUsages::VERTEX,
        });
        let index_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("indices"),
            contents: bytemuck::cast_slice(&scene.meshes.indices),
            usage: wgpu::BufferUsages::INDEX,
        });
        let instance_capacity = 1024;
        let instance_buffer = create_instance_buffer(&device, instance_capacity);
        let meshes = scene
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
        let (depth_view, msaa_view) = create_targets(&device, &config);
        let timer = GpuTimer::new(&device, &queue);
        Ok(Self {
            device,
            queue,
            config,
            supported_samples,
            shader,
            layout,
            pipelines,
            frame_buffer,
            frame_bind_group,
            mesh_bind_group,
            mesh_stride,
            vertex_buffer,
            index_buffer,
            instance_buffer,
            instance_capacity,
            meshes,
            materials,
            depth_view,
            msaa_view,
            timer,
            debug_tiers: false,
        })
    }

    /// The device.
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// The output configuration in effect (MSAA possibly lowered).
    pub fn config(&self) -> TargetConfig {
        self.config
    }

    /// Whether GPU time is measured (the adapter has timestamp queries).
    pub fn measures_gpu_time(&self) -> bool {
        self.timer.is_some()
    }

    /// Instance slots currently allocated on the GPU.
    pub fn instance_capacity(&self) -> u64 {
        self.instance_capacity
    }

    /// Re-creates the size-dependent targets. Zero sizes are ignored.
    pub fn resize(&mut self, width: u32, height: u32) {
        if width == 0 || height == 0 || (width, height) == (self.config.width, self.config.height) {
            return;
        }
        self.config.width = width;
        self.config.height = height;
        (self.depth_view, self.msaa_view) = create_targets(&self.device, &self.config);
    }

    /// Switches MSAA to `samples` (lowered to what the format supports), rebuilding the
    /// pipelines and targets when it changes. Returns the count in effect.
    pub fn set_msaa_samples(&mut self, samples: u32) -> u32 {
        let samples = fit_samples(samples, self.supported_samples, self.config.format);
        if samples != self.config.msaa_samples {
            self.config.msaa_samples = samples;
            self.pipelines = Pipelines::new(
                &self.device,
                &self.shader,
                &self.layout,
                self.config.format,
                samples,
            );
            (self.depth_view, self.msaa_view) = create_targets(&self.device, &self.config);
        }
        self.config.msaa_samples
    }

    /// Uploads and draws `plan` into `target` (a view of the configured format and
    /// size), recording upload/encode/submit times in `record`. Returns the frame's
    /// command submission index.
    pub fn render(
        &mut self,
        plan: &FramePlan,
        camera: &Camera,
        time: f32,
        environment: &crate::scene::Environment,
        target: &wgpu::TextureView,
        record: &mut FrameRecord,
    ) -> wgpu::SubmissionIndex {
        let t = Instant::now();
        let uniforms = FrameUniforms::new(
            camera,
            time,
            environment,
            &self.materials,
            (self.config.width, self.config.height),
            self.debug_tiers,
            !self.config.format.is_srgb(),
        );
        self.queue
            .write_buffer(&self.frame_buffer, 0, bytemuck::bytes_of(&uniforms));
        let needed = plan.instances.len() as u64;
        if needed > self.instance_capacity {
            let mut capacity = self.instance_capacity.max(1);
            while capacity < needed {
                capacity *= 2;
            }
            self.instance_buffer = create_instance_buffer(&self.device, capacity);
            self.instance_capacity = capacity;
        }
        if !plan.instances.is_empty() {
            self.queue.write_buffer(
                &self.instance_buffer,
                0,
                bytemuck::cast_slice(&plan.instances),
            );
        }
        let t = lap(t, record, Phase::Upload);

        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("frame"),
            });
        let timestamps = self
            .timer
            .as_mut()
            .and_then(|timer| timer.begin_frame(record.frame));
        {
            let (view, resolve_target) = match &self.msaa_view {
                Some(msaa) => (msaa, Some(target)),
                None => (target, None),
            };
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("scene"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view,
                    depth_slice: None,
                    resolve_target,
                    ops: wgpu::Operations {
                        // Every pixel is written (the background fills the rest).
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: if resolve_target.is_some() {
                            wgpu::StoreOp::Discard
                        } else {
                            wgpu::StoreOp::Store
                        },
                    },
                })],
                depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                    view: &self.depth_view,
                    depth_ops: Some(wgpu::Operations {
                        load: wgpu::LoadOp::Clear(1.0),
                        store: wgpu::StoreOp::Discard,
                    }),
                    stencil_ops: None,
                }),
                timestamp_writes: timestamps.as_ref().map(|ts| ts.pass_writes()),
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_pipeline(&self.pipelines.scene);
            pass.set_bind_group(0, &self.frame_bind_group, &[]);
            // The layout is shared with the background pipeline, which needs group 1
            // set even when no batch is drawn.
            pass.set_bind_group(1, &self.mesh_bind_group, &[0]);
            pass.set_vertex_buffer(0, self.vertex_buffer.slice(..));
            pass.set_index_buffer(self.index_buffer.slice(..), wgpu::IndexFormat::Uint32);
            let stride = size_of::<InstanceData>() as u64;
            for batch in &plan.batches {
                let Some(range) = self
                    .meshes
                    .get(usize::from(batch.mesh))
                    .and_then(|m| m.get(usize::from(batch.tier)))
                else {
                    continue;
                };
                pass.set_bind_group(
                    1,
                    &self.mesh_bind_group,
                    &[u32::from(batch.mesh) * self.mesh_stride],
                );
                // Offset the instance buffer rather than using first_instance, which
                // WebGL2 lacks.
                let start = u64::from(batch.first_instance) * stride;
                let end = start + u64::from(batch.instance_count) * stride;
                pass.set_vertex_buffer(1, self.instance_buffer.slice(start..end));
                pass.draw_indexed(range.clone(), 0, 0..batch.instance_count);
            }
            pass.set_pipeline(&self.pipelines.background);
            pass.draw(0..3, 0..1);
        }
        if let (Some(timer), Some(ts)) = (self.timer.as_mut(), timestamps) {
            timer.resolve(&mut encoder, ts);
        }
        let commands = encoder.finish();
        let t = lap(t, record, Phase::Encode);
        let index = self.queue.submit([commands]);
        if let Some(timer) = self.timer.as_mut() {
            timer.after_submit();
        }
        lap(t, record, Phase::Submit);
        index
    }

    /// Hands each GPU time that has become available to `f(frame, ms)`, without
    /// allocating (the per-frame path).
    pub fn drain_gpu_times(&mut self, f: impl FnMut(u64, f32)) {
        if let Some(timer) = self.timer.as_mut() {
            // Lets finished map callbacks run (a no-op on the web, where the browser does).
            let _ = self.device.poll(wgpu::PollType::Poll);
            timer.drain_results(f);
        }
    }
}

/// The largest supported count at most `wanted` (1, 2, 4 or 8).
fn fit_samples(wanted: u32, supported: u32, format: wgpu::TextureFormat) -> u32 {
    let fitted = [8u32, 4, 2, 1]
        .into_iter()
        .find(|&n| n <= wanted.max(1) && supported & n != 0)
        .unwrap_or(1);
    if fitted != wanted.max(1) {
        log::warn!("{wanted}x MSAA unsupported for {format:?}; using {fitted}x");
    }
    fitted
}

fn create_instance_buffer(device: &wgpu::Device, capacity: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("instances"),
        size: capacity * size_of::<InstanceData>() as u64,
        usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

fn create_targets(
    device: &wgpu::Device,
    config: &TargetConfig,
) -> (wgpu::TextureView, Option<wgpu::TextureView>) {
    let size = wgpu::Extent3d {
        width: config.width.max(1),
        height: config.height.max(1),
        depth_or_array_layers: 1,
    };
    let depth = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("depth"),
        size,
        mip_level_count: 1,
        sample_count: config.msaa_samples,
        dimension: wgpu::TextureDimension::D2,
        format: DEPTH_FORMAT,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
        view_formats: &[],
    });
    let msaa = (config.msaa_samples > 1).then(|| {
        device
            .create_texture(&wgpu::TextureDescriptor {
                label: Some("msaa colour"),
                size,
                mip_level_count: 1,
                sample_count: config.msaa_samples,
                dimension: wgpu::TextureDimension::D2,
                format: config.format,
                usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
                view_formats: &[],
            })
            .create_view(&wgpu::TextureViewDescriptor::default())
    });
    (
        depth.create_view(&wgpu::TextureViewDescriptor::default()),
        msaa,
    )
}

fn upload_atlas(device: &wgpu::Device, queue: &wgpu::Queue, scene: &Scene) -> wgpu::TextureView {
    let first = &scene.atlas[0];
    let (width, height) = (first.width().max(1), first.height().max(1));
    let mips = scene
        .atlas
        .iter()
        .map(|p| p.mips.len())
        .min()
        .unwrap_or(1)
        .max(1) as u32;
    // WebGL2 makes a one-layer texture a plain 2D texture, which cannot be viewed as
    // an array: always allocate at least two layers.
    let layers = (scene.atlas.len() as u32).max(2);
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("atlas"),
        size: wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: layers,
        },
        mip_level_count: mips,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba8UnormSrgb,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    for (layer, page) in scene.atlas.iter().enumerate() {
        for (level, mip) in page.mips.iter().take(mips as usize).enumerate() {
            // Pages of another size than the first are skipped rather than mis-copied.
            if mip.width != (width >> level).max(1) || mip.height != (height >> level).max(1) {
                log::warn!("atlas page {layer} level {level} has the wrong size; skipped");
                continue;
            }
            queue.write_texture(
                wgpu::TexelCopyTextureInfo {
                    texture: &texture,
                    mip_level: level as u32,
                    origin: wgpu::Origin3d {
                        x: 0,
                        y: 0,
                        z: layer as u32,
                    },
                    aspect: wgpu::TextureAspect::All,
                },
                &mip.pixels,
                wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(mip.width * 4),
                    rows_per_image: Some(mip.height),
                },
                wgpu::Extent3d {
                    width: mip.width,
                    height: mip.height,
                    depth_or_array_layers: 1,
                },
            );
        }
    }
    texture.create_view(&wgpu::TextureViewDescriptor {
        dimension: Some(wgpu::TextureViewDimension::D2Array),
        ..wgpu::TextureViewDescriptor::default()
    })
}

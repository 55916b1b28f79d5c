// The instanced scene: quantized meshes, per-instance transforms from an instance-step
// vertex buffer, swimming/swaying in the vertex shader, atlas textures, bioluminescence
// and depth fog. One pipeline for every mesh kind; the kind comes from the mesh uniform.

const KIND_FISH: u32 = 0u;
const KIND_ROCK: u32 = 1u;
const KIND_KELP: u32 = 2u;
const KIND_SNOW: u32 = 3u;
const MAX_MATERIALS: u32 = 64u;
const TAU: f32 = 6.28318530718;

// Must be kept in sync with MaterialUniform in renderer/src/backend/uniforms.rs.
struct Material {
    rect: vec4<f32>,          // u0, v0, u1, v1 in the atlas page
    tint_emissive: vec4<f32>, // linear rgb tint, emissive strength
    page: vec4<f32>,          // x: atlas page (array layer)
}

// Must be kept in sync with FrameUniforms in renderer/src/backend/uniforms.rs.
struct Frame {
    clip_from_world: mat4x4<f32>,
    camera_time: vec4<f32>,   // xyz camera position, w time in seconds
    fog: vec4<f32>,           // rgb fog colour (linear), w density
    light: vec4<f32>,         // xyz direction towards the light, w debug view (1 = LOD tiers)
    ambient: vec4<f32>,       // rgb ambient, w 1 = encode sRGB here (non-sRGB target)
    viewport: vec4<f32>,      // width, height, 1/width, 1/height
    materials: array<Material, MAX_MATERIALS>,
}

// Must be kept in sync with MeshUniforms in renderer/src/backend/uniforms.rs.
struct MeshInfo {
    bounds_min_kind: vec4<f32>,  // xyz quantization origin, w kind
    bounds_extent: vec4<f32>,    // xyz quantization extent
}

@group(0) @binding(0) var<uniform> frame: Frame;
@group(0) @binding(1) var atlas: texture_2d_array<f32>;
@group(0) @binding(2) var atlas_sampler: sampler;
@group(1) @binding(0) var<uniform> mesh: MeshInfo;

// Must be kept in sync with MeshVertex in renderer/src/scene/mesh.rs and MESH_VERTEX in
// renderer/src/backend/layout.rs.
struct VertexIn {
    @location(0) position: vec4<f32>, // unorm16x4 within mesh bounds
    @location(1) normal: vec2<f32>,   // octahedral snorm16x2
    @location(2) uv: vec2<f32>,       // unorm16x2
}

// Must be kept in sync with InstanceData in renderer/src/frame/plan.rs and INSTANCE in
// renderer/src/backend/layout.rs.
struct InstanceIn {
    @location(3) position_scale: vec4<f32>,
    @location(4) orientation: vec4<f32>, // snorm16x4 quaternion
    @location(5) phase: f32,
    @location(6) packed: u32,            // material | tier << 16
}

struct VertexOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) world: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) uv: vec2<f32>,
    @location(3) @interpolate(flat) material: u32,
    @location(4) @interpolate(flat) tier: u32,
    @location(5) glow_phase: f32,
}

fn decode_octahedral(e: vec2<f32>) -> vec3<f32> {
    var n = vec3<f32>(e.x, e.y, 1.0 - abs(e.x) - abs(e.y));
    let t = max(-n.z, 0.0);
    n.x = n.x + select(t, -t, n.x >= 0.0);
    n.y = n.y + select(t, -t, n.y >= 0.0);
    return normalize(n);
}

fn rotate(q: vec4<f32>, v: vec3<f32>) -> vec3<f32> {
    let t = 2.0 * cross(q.xyz, v);
    return v + q.w * t + cross(q.xyz, t);
}

@vertex
fn vs_main(v: VertexIn, inst: InstanceIn) -> VertexOut {
    let kind = u32(mesh.bounds_min_kind.w + 0.5);
    var local = mesh.bounds_min_kind.xyz + v.position.xyz * mesh.bounds_extent.xyz;
    var normal = decode_octahedral(v.normal);
    let time = frame.camera_time.w;
    let phase = inst.phase * TAU;
    if kind == KIND_FISH {
        // A travelling wave down the body, growing towards the tail (-z).
        let w = clamp(0.45 - local.z, 0.0, 1.0);
        let wave = time * 9.0 + phase - local.z * 7.0;
        local.x = local.x + 0.11 * w * w * sin(wave);
        // Tilt the normal with the bend's slope so the flanks catch the light.
        normal = normalize(normal + vec3<f32>(0.0, 0.0, -0.77 * w * w * cos(wave)) * sign(normal.x));
    } else if kind == KIND_KELP {
        let h = local.y * local.y;
        local.x = local.x + 0.14 * h * sin(time * 0.7 + phase);
        local.z = local.z + 0.08 * h * cos(time * 0.55 + phase);
    }
    let q = normalize(inst.orientation);
    let world = inst.position_scale.xyz + rotate(q, local * inst.position_scale.w);
    var out: VertexOut;
    out.clip = frame.clip_from_world * vec4<f32>(world, 1.0);
    out.world = world;
    out.normal = rotate(q, normal);
    out.uv = v.uv;
    out.material = min(inst.packed & 0xffffu, MAX_MATERIALS - 1u);
    out.tier = (inst.packed >> 16u) & 0xffu;
    out.glow_phase = phase;
    return out;
}

// Colour of the water behind everything at a screen row: brighter towards the surface.
fn water(frag_y: f32) -> vec3<f32> {
    let up = 1.0 - frag_y * frame.viewport.w; // 1 at the top, 0 at the bottom
    return frame.fog.rgb * (0.6 + 1.6 * up * up);
}

// Linear to sRGB (IEC 61966-2-1), for targets without an sRGB format: WebGPU canvases
// (Bgra8Unorm/Rgba8Unorm) and WebGL2's framebuffer. sRGB targets encode on store.
fn output(rgb: vec3<f32>) -> vec4<f32> {
    if frame.ambient.w < 0.5 {
        return vec4<f32>(rgb, 1.0);
    }
    let c = clamp(rgb, vec3<f32>(0.0), vec3<f32>(1.0));
    let low = c * 12.92;
    let high = 1.055 * pow(c, vec3<f32>(1.0 / 2.4)) - vec3<f32>(0.055);
    return vec4<f32>(select(high, low, c <= vec3<f32>(0.0031308)), 1.0);
}

fn tier_colour(tier: u32) -> vec3<f32> {
    switch tier {
        case 0u: { return vec3<f32>(0.1, 0.9, 0.2); }
        case 1u: { return vec3<f32>(0.95, 0.85, 0.1); }
        case 2u: { return vec3<f32>(0.95, 0.4, 0.1); }
        default: { return vec3<f32>(0.9, 0.1, 0.6); }
    }
}

@fragment
fn fs_main(in: VertexOut, @builtin(front_facing) front: bool) -> @location(0) vec4<f32> {
    let m = frame.materials[in.material];
    let uv = mix(m.rect.xy, m.rect.zw, clamp(in.uv, vec2<f32>(0.0), vec2<f32>(1.0)));
    let tex = textureSample(atlas, atlas_sampler, uv, i32(m.page.x + 0.5));
    var n = normalize(in.normal);
    if !front {
        n = -n;
    }
    let to_eye = frame.camera_time.xyz - in.world;
    let distance = length(to_eye);
    let l = normalize(frame.light.xyz);
    let diffuse = max(dot(n, l), 0.0);
    // Light from above fades with depth below the surface (y = 30).
    let depth_light = clamp(exp(-(20.0 - in.world.y) * 0.03), 0.15, 1.0);
    let rim = pow(1.0 - max(dot(n, to_eye / max(distance, 1e-4)), 0.0), 3.0) * 0.25;
    var colour = tex.rgb * m.tint_emissive.rgb * (frame.ambient.rgb + vec3<f32>(0.55, 0.75, 0.85) * diffuse * depth_light)
        + vec3<f32>(0.2, 0.45, 0.6) * rim * depth_light;
    let pulse = 0.75 + 0.25 * sin(frame.camera_time.w * 2.0 + in.glow_phase);
    let glow = vec3<f32>(0.25, 0.85, 1.0) * tex.a * m.tint_emissive.w * pulse;
    if frame.light.w > 0.5 {
        // The LOD view is unfogged so distant tiers stay readable.
        return output(tier_colour(in.tier) * (0.35 + 0.65 * diffuse));
    }
    let fog = exp(-frame.fog.w * distance);
    // Bioluminescence carries further through the water than reflected light.
    let glow_fog = exp(-frame.fog.w * 0.5 * distance);
    return output(mix(water(in.clip.y), colour, fog) + glow * glow_fog);
}

struct BackgroundOut {
    @builtin(position) clip: vec4<f32>,
}

// A full-screen triangle painting the water gradient where nothing is drawn.
@vertex
fn vs_background(@builtin(vertex_index) i: u32) -> BackgroundOut {
    let x = f32(i32(i & 1u) * 4 - 1);
    let y = f32(i32(i >> 1u) * 4 - 1);
    var out: BackgroundOut;
    out.clip = vec4<f32>(x, y, 1.0, 1.0);
    return out;
}

@fragment
fn fs_background(in: BackgroundOut) -> @location(0) vec4<f32> {
    return output(water(in.clip.y));
}

//! Meshes as the GPU wants them: quantized vertices, one shared index buffer, and a
//! chain of LOD tiers per mesh, each with its simplification error.
//!
//! Vertex layout (16 bytes), decoded in `shaders/scene.wgsl`:
//! position as unorm16x4 within the mesh bounds, normal octahedral snorm16x2, uv
//! unorm16x2.

use bytemuck::{Pod, Zeroable};
use glam::{Vec2, Vec3};

/// Most LOD tiers a mesh may have: the mesh, three meshoptimizer simplifications and,
/// for fish, the impostor ([`crate::assets::impostor`]).
pub const MAX_TIERS: usize = 5;

/// A vertex as uploaded. Must be kept in sync with `VertexIn` in `shaders/scene.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct MeshVertex {
    /// Position within the mesh bounds, unorm16 (w unused, 0).
    pub position: [u16; 4],
    /// Octahedral-encoded unit normal, snorm16.
    pub normal: [i16; 2],
    /// Texture coordinate within the material's atlas rectangle, unorm16.
    pub uv: [u16; 2],
}

/// How the vertex shader animates a mesh. Must match `KIND_*` in `shaders/scene.wgsl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum MeshKind {
    /// Swims: the body bends in a travelling wave along +z.
    Fish = 0,
    /// Static.
    Rock = 1,
    /// Sways, more towards the top (+y).
    Kelp = 2,
    /// Drifting particle, self-lit.
    Snow = 3,
}

impl MeshKind {
    /// All kinds, in discriminant order.
    pub const ALL: [MeshKind; 4] = [Self::Fish, Self::Rock, Self::Kelp, Self::Snow];

    /// Parses a discriminant.
    pub fn from_u32(v: u32) -> Option<Self> {
        Self::ALL.get(v as usize).copied()
    }

    /// Name used in scene descriptions.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fish => "fish",
            Self::Rock => "rock",
            Self::Kelp => "kelp",
            Self::Snow => "snow",
        }
    }
}

/// One level of detail: a range of the library's index buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LodTier {
    /// First index in [`MeshLibrary::indices`].
    pub first_index: u32,
    /// Number of indices (3 per triangle).
    pub index_count: u32,
    /// Simplification error in object-space units (0 for the full mesh).
    pub error: f32,
}

/// A mesh in the library.
#[derive(Clone, Debug, PartialEq)]
pub struct Mesh {
    /// Name, unique in the library.
    pub name: String,
    /// Animation kind.
    pub kind: MeshKind,
    /// Object-space bounds minimum (the quantization origin).
    pub bounds_min: Vec3,
    /// Object-space bounds maximum.
    pub bounds_max: Vec3,
    /// Radius of a sphere around the object origin containing the mesh, before any
    /// vertex-shader bending (which stays inside [`Mesh::radius`] by construction).
    pub radius: f32,
    /// First vertex in [`MeshLibrary::vertices`].
    pub first_vertex: u32,
    /// Number of vertices.
    pub vertex_count: u32,
    /// Tiers from finest (0) to coarsest; errors increase, triangle counts decrease.
    pub tiers: Vec<LodTier>,
}

/// All meshes of a scene, sharing one vertex and one index buffer. Indices are
/// absolute (already offset by the mesh's first vertex), because WebGL2 has no base
/// vertex.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MeshLibrary {
    /// The meshes, indexed by mesh id.
    pub meshes: Vec<Mesh>,
    /// All vertices.
    pub vertices: Vec<MeshVertex>,
    /// All indices.
    pub indices: Vec<u32>,
}

impl MeshLibrary {
    /// Looks a mesh up by name.
    pub fn find(&self, name: &str) -> Option<u16> {
        self.meshes
            .iter()
            .position(|m| m.name == name)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// Looks up the first mesh of a kind.
    pub fn find_kind(&self, kind: MeshKind) -> Option<u16> {
        self.meshes
            .iter()
            .position(|m| m.kind == kind)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// Appends a mesh from unquantized data and its tier index lists (tier 0 first,
    /// indices relative to `source`). Returns the mesh id.
    pub fn push(
        &mut self,
        name: &str,
        kind: MeshKind,
        source: &SourceMesh,
        tiers: &[(Vec<u32>, f32)],
    ) -> u16 {
        let (bounds_min, bounds_max) = source.bounds();
        let radius = source
            .positions
            .iter()
            .map(|p| p.length())
            .fold(0.0f32, f32::max);
        let first_vertex = self.vertices.len() as u32;
        let extent = (bounds_max - bounds_min).max(Vec3::splat(1e-6));
        for ((p, n), uv) in source
            .positions
            .iter()
            .zip(&source.normals)
            .zip(&source.uvs)
        {
            let q = ((*p - bounds_min) / extent).clamp(Vec3::ZERO, Vec3::ONE) * 65535.0;
            let uvq = uv.clamp(Vec2::ZERO, Vec2::ONE) * 65535.0;
            self.vertices.push(MeshVertex {
                position: [
                    q.x.round() as u16,
                    q.y.round() as u16,
                    q.z.round() as u16,
                    0,
                ],
                normal: encode_octahedral(*n),
                uv: [uvq.x.round() as u16, uvq.y.round() as u16],
            });
        }
        let mut lod = Vec::new();
        for (indices, error) in tiers.iter().take(MAX_TIERS) {
            let first_index = self.indices.len() as u32;
            self.indices
                .extend(indices.iter().map(|&i| i + first_vertex));
            lod.push(LodTier {
                first_index,
                index_count: indices.len() as u32,
                error: *error,
            });
        }
        self.meshes.push(Mesh {
            name: name.to_owned(),
            kind,
            bounds_min,
            bounds_max,
            radius,
            first_vertex,
            vertex_count: source.positions.len() as u32,
            tiers: lod,
        });
        (self.meshes.len() - 1) as u16
    }
}

/// An unquantized indexed triangle mesh, as generated or imported.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceMesh {
    /// Positions.
    pub positions: Vec<Vec3>,
    /// Unit normals, one per position.
    pub normals: Vec<Vec3>,
    /// Texture coordinates in 0..1, one per position.
    pub uvs: Vec<Vec2>,
    /// Triangle list.
    pub indices: Vec<u32>,
}

impl SourceMesh {
    /// Axis-aligned bounds (zero-sized at the origin for an empty mesh).
    pub fn bounds(&self) -> (Vec3, Vec3) {
        if self.positions.is_empty() {
            return (Vec3::ZERO, Vec3::ZERO);
        }
        self.positions.iter().fold(
            (Vec3::splat(f32::MAX), Vec3::splat(f32::MIN)),
            |(lo, hi), p| (lo.min(*p), hi.max(*p)),
        )
    }

    /// Number of triangles.
    pub fn triangle_count(&self) -> usize {
        self.indices.len() / 3
    }

    /// Recomputes smooth normals from the triangles (area weighted).
    pub fn compute_normals(&mut self) {
        let mut normals = vec![Vec3::ZERO; self.positions.len()];
        for t in self.indices.chunks_exact(3) {
            let [a, b, c] = [t[0], t[1], t[2]].map(|i| i as usize);
            let n = (self.positions[b] - self.positions[a])
                .cross(self.positions[c] - self.positions[a]);
            for i in [a, b, c] {
                normals[i] += n;
            }
        }
        self.normals = normals
            .into_iter()
            .map(|n| n.try_normalize().unwrap_or(Vec3::Y))
            .collect();
    }
}

/// Octahedral encoding of a unit vector into two snorm16 values.
pub fn encode_octahedral(n: Vec3) -> [i16; 2] {
    let n = n.try_normalize().unwrap_or(Vec3::Y);
    let n = n / (n.x.abs() + n.y.abs() + n.z.abs());
    let mut p = Vec2::new(n.x, n.y);
    if n.z < 0.0 {
        p = (Vec2::ONE - Vec2::new(p.y.abs(), p.x.abs())) * Vec2::new(sign(p.x), sign(p.y));
    }
    [
        (p.x.clamp(-1.0, 1.0) * 32767.0).round() as i16,
        (p.y.clamp(-1.0, 1.0) * 32767.0).round() as i16,
    ]
}

/// Inverse of [`encode_octahedral`] (mirrors `decode_octahedral` in the shader).
pub fn decode_octahedral(e: [i16; 2]) -> Vec3 {
    let p = Vec2::new(f32::from(e[0]), f32::from(e[1])) / 32767.0;
    let mut n = Vec3::new(p.x, p.y, 1.0 - p.x.abs() - p.y.abs());
    let t = (-n.z).max(0.0);
    n.x += if n.x >= 0.0 { -t } else { t };
    n.y += if n.y >= 0.0 { -t } else { t };
    n.normalize_or(Vec3::Y)
}

fn sign(v: f32) -> f32 {
    if v >= 0.0 { 1.0 } else { -1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vertex_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<MeshVertex>(), 16);
    }

    #[test]
    fn octahedral_round_trip_is_accurate() {
        let mut rng = crate::rng::Rng::new(3);
        for _ in 0..2000 {
            let v = Vec3::new(
                rng.range(-1.0, 1.0),
                rng.range(-1.0, 1.0),
                rng.range(-1.0, 1.0),
            );
            let Some(n) = v.try_normalize() else { continue };
            let back = decode_octahedral(encode_octahedral(n));
            assert!(n.dot(back) > 0.99999, "{n} -> {back}");
        }
        for n in [
            Vec3::X,
            Vec3::NEG_X,
            Vec3::Y,
            Vec3::NEG_Y,
            Vec3::Z,
            Vec3::NEG_Z,
        ] {
            assert!(n.dot(decode_octahedral(encode_octahedral(n))) > 0.9999);
        }
    }
}

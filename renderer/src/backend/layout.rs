//! The vertex and instance buffer layouts, defined once as data. The wgpu backend turns
//! them into `wgpu::VertexBufferLayout`s, the WebGL2 backend into
//! `vertexAttribPointer`/`vertexAttribIPointer` and `vertexAttribDivisor` calls, so
//! both read the same bytes the same way. Tests check them against [`MeshVertex`],
//! [`InstanceData`] and the vertex inputs of `shaders/scene.wgsl`.

use crate::frame::plan::InstanceData;
use crate::scene::mesh::MeshVertex;

/// The scene shader (`shaders/scene.wgsl`), the only hand-written shader source.
#[cfg(not(target_arch = "wasm32"))]
pub const SCENE_WGSL: &str = include_str!("../../../shaders/scene.wgsl");
/// The scene shader without comments and indentation (written by `build.rs`): the
/// browser bundles carry it.
#[cfg(target_arch = "wasm32")]
pub const SCENE_WGSL: &str = include_str!(concat!(env!("OUT_DIR"), "/scene.min.wgsl"));

/// A vertex attribute format both backends can express.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttributeFormat {
    /// Four u16, normalised to 0..1.
    Unorm16x4,
    /// Two i16, normalised to -1..1.
    Snorm16x2,
    /// Two u16, normalised to 0..1.
    Unorm16x2,
    /// Four i16, normalised to -1..1.
    Snorm16x4,
    /// Four f32.
    Float32x4,
    /// One f32.
    Float32,
    /// One u32, read as an integer.
    Uint32,
}

/// The scalar type of an attribute's components.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComponentType {
    /// u16.
    U16,
    /// i16.
    I16,
    /// f32.
    F32,
    /// u32.
    U32,
}

impl AttributeFormat {
    /// Components per attribute.
    pub fn components(self) -> u32 {
        match self {
            Self::Unorm16x4 | Self::Snorm16x4 | Self::Float32x4 => 4,
            Self::Snorm16x2 | Self::Unorm16x2 => 2,
            Self::Float32 | Self::Uint32 => 1,
        }
    }

    /// Component type.
    pub fn component_type(self) -> ComponentType {
        match self {
            Self::Unorm16x4 | Self::Unorm16x2 => ComponentType::U16,
            Self::Snorm16x2 | Self::Snorm16x4 => ComponentType::I16,
            Self::Float32x4 | Self::Float32 => ComponentType::F32,
            Self::Uint32 => ComponentType::U32,
        }
    }

    /// Size in bytes.
    pub fn size(self) -> u32 {
        let component = match self.component_type() {
            ComponentType::U16 | ComponentType::I16 => 2,
            ComponentType::F32 | ComponentType::U32 => 4,
        };
        component * self.components()
    }

    /// Whether integer components are normalised to floats.
    pub fn normalized(self) -> bool {
        matches!(
            self,
            Self::Unorm16x4 | Self::Snorm16x2 | Self::Unorm16x2 | Self::Snorm16x4
        )
    }

    /// Whether the shader reads it as an integer (`vertexAttribIPointer` in WebGL2).
    pub fn is_integer(self) -> bool {
        self == Self::Uint32
    }
}

/// One attribute of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// Shader location.
    pub location: u32,
    /// Format.
    pub format: AttributeFormat,
    /// Byte offset in the element.
    pub offset: u32,
}

/// A vertex buffer's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferLayout {
    /// Bytes per element.
    pub stride: u32,
    /// Advances per instance (divisor 1) rather than per vertex.
    pub per_instance: bool,
    /// Attributes.
    pub attributes: &'static [Attribute],
}

/// [`MeshVertex`]: position unorm16x4 in the mesh bounds, octahedral normal
/// snorm16x2, uv unorm16x2. Must be kept in sync with `VertexIn` in
/// `shaders/scene.wgsl`.
pub const MESH_VERTEX: BufferLayout = BufferLayout {
    stride: size_of::<MeshVertex>() as u32,
    per_instance: false,
    attributes: &[
        Attribute {
            location: 0,
            format: AttributeFormat::Unorm16x4,
            offset: std::mem::offset_of!(MeshVertex, position) as u32,
        },
        Attribute {
            location: 1,
            format: AttributeFormat::Snorm16x2,
            offset: std::mem::offset_of!(MeshVertex, normal) as u32,
        },
        Attribute {
            location: 2,
            format: AttributeFormat::Unorm16x2,
            offset: std::mem::offset_of!(MeshVertex, uv) as u32,
        },
    ],
};

/// [`InstanceData`]: position and scale as one float32x4, the orientation quaternion
/// snorm16x4, the animation phase, material | tier << 16. Must be kept in sync with
/// `InstanceIn` in `shaders/scene.wgsl`.
pub const INSTANCE: BufferLayout = BufferLayout {
    stride: size_of::<InstanceData>() as u32,
    per_instance: true,
    attributes: &[
        Attribute {
            location: 3,
            format: AttributeFormat::Float32x4,
            offset: std::mem::offset_of!(InstanceData, position) as u32,
        },
        Attribute {
            location: 4,
            format: AttributeFormat::Snorm16x4,
            offset: std::mem::offset_of!(InstanceData, orientation) as u32,
        },
        Attribute {
            location: 5,
            format: AttributeFormat::Float32,
            offset: std::mem::offset_of!(InstanceData, phase) as u32,
        },
        Attribute {
            location: 6,
            format: AttributeFormat::Uint32,
            offset: std::mem::offset_of!(InstanceData, packed) as u32,
        },
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte of the element is read exactly once, attributes in offset order.
    fn covers_every_byte(layout: &BufferLayout) {
        let mut at = 0;
        for a in layout.attributes {
            assert_eq!(a.offset, at, "attribute at location {}", a.location);
            at += a.format.size();
        }
        assert_eq!(at, layout.stride);
    }

    #[test]
    fn layouts_cover_their_structs() {
        covers_every_byte(&MESH_VERTEX);
        covers_every_byte(&INSTANCE);
        // position (vec3) + scale are read as one float32x4.
        assert_eq!(
            std::mem::offset_of!(InstanceData, scale),
            std::mem::offset_of!(InstanceData, position) + 12
        );
        const { assert!(INSTANCE.per_instance && !MESH_VERTEX.per_instance) };
    }

    #[test]
    fn locations_are_unique_across_buffers() {
        let mut locations: Vec<u32> = MESH_VERTEX
            .attributes
            .iter()
            .chain(INSTANCE.attributes)
            .map(|a| a.location)
            .collect();
        locations.sort_unstable();
        locations.dedup();
        assert_eq!(locations.len(), 7);
    }
}

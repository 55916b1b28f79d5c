//! The renderer's frustum culling, compiled alone to a bare wasm module (no
//! wasm-bindgen, no imports) so that node can time it beside three.js on the same
//! spheres. `renderer/src/frame/cull.rs` is included verbatim, so this measures the very
//! code the runtime runs; build it with `-C target-feature=+simd128` to measure the
//! vectorised path as the browser bundle gets it.
//!
//! The module owns its buffers: JS asks for room with [`reserve`], writes the planes
//! and the four sphere columns through the pointers it gets back, calls [`cull`] and
//! reads the visible indices at [`visible_ptr`].

use std::sync::Mutex;

#[path = "../../../renderer/src/frame/cull.rs"]
#[allow(dead_code, reason = "the module's tests and unused helpers come along")]
mod cull;

use cull::{Frustum, Spheres, cull_spheres, cull_spheres_scalar};

#[derive(Default)]
struct Buffers {
    planes: [f32; 24],
    columns: [Vec<f32>; 4],
    visible: Vec<u32>,
}

static BUFFERS: Mutex<Buffers> = Mutex::new(Buffers {
    planes: [0.0; 24],
    columns: [Vec::new(), Vec::new(), Vec::new(), Vec::new()],
    visible: Vec::new(),
});

fn with<R>(f: impl FnOnce(&mut Buffers) -> R) -> R {
    let mut guard = BUFFERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(&mut guard)
}

/// Makes room for `n` spheres (zeroed).
#[unsafe(no_mangle)]
pub extern "C" fn reserve(n: usize) {
    with(|b| {
        for c in &mut b.columns {
            c.clear();
            c.resize(n, 0.0);
        }
        b.visible.reserve(n + cull::LANES);
    });
}

/// Where to write column `i` (0 x, 1 y, 2 z, 3 radius) of `n` f32; 4 gives the 24
/// plane coefficients (six `[a, b, c, d]`).
#[unsafe(no_mangle)]
pub extern "C" fn column_ptr(i: usize) -> *mut f32 {
    with(|b| match b.columns.get_mut(i) {
        Some(c) => c.as_mut_ptr(),
        None => b.planes.as_mut_ptr(),
    })
}

/// Culls the spheres against the planes; returns the visible count. `scalar` picks
/// the one-at-a-time reference instead of the vectorised path.
#[unsafe(no_mangle)]
pub extern "C" fn cull(scalar: u32) -> usize {
    with(|b| {
        let p = b.planes;
        let plane = |k: usize| glam::Vec4::new(p[4 * k], p[4 * k + 1], p[4 * k + 2], p[4 * k + 3]);
        let frustum = Frustum {
            planes: [plane(0), plane(1), plane(2), plane(3), plane(4), plane(5)],
        };
        let [x, y, z, radius] = &b.columns;
        let spheres = Spheres { x, y, z, radius };
        if scalar != 0 {
            cull_spheres_scalar(&frustum, spheres, &mut b.visible);
        } else {
            cull_spheres(&frustum, spheres, &mut b.visible);
        }
        b.visible.len()
    })
}

/// The visible indices of the last [`cull`].
#[unsafe(no_mangle)]
pub extern "C" fn visible_ptr() -> *const u32 {
    with(|b| b.visible.as_ptr())
}

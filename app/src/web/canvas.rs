//! The canvas a backend draws into: the page's `<canvas>` element, or an
//! `OffscreenCanvas` transferred to a Worker. Context creation, sizing and the
//! context-loss events are the same calls on both; this is the one place that knows
//! there are two kinds.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{EventTarget, HtmlCanvasElement, OffscreenCanvas};

/// A canvas of either kind.
#[derive(Clone, Debug)]
pub enum Canvas {
    /// A `<canvas>` element on the page (the runtime runs on the main thread).
    Element(HtmlCanvasElement),
    /// An `OffscreenCanvas` (the runtime runs in a Worker).
    Offscreen(OffscreenCanvas),
}

impl Canvas {
    /// Wraps a JS value holding either kind of canvas.
    pub fn from_js(value: JsValue) -> Result<Self, String> {
        match value.dyn_into::<HtmlCanvasElement>() {
            Ok(c) => Ok(Self::Element(c)),
            Err(value) => value
                .dyn_into::<OffscreenCanvas>()
                .map(Self::Offscreen)
                .map_err(|_| "expected a canvas element or an OffscreenCanvas".to_owned()),
        }
    }

    /// Drawing-buffer width in pixels.
    pub fn width(&self) -> u32 {
        match self {
            Self::Element(c) => c.width(),
            Self::Offscreen(c) => c.width(),
        }
    }

    /// Drawing-buffer height in pixels.
    pub fn height(&self) -> u32 {
        match self {
            Self::Element(c) => c.height(),
            Self::Offscreen(c) => c.height(),
        }
    }

    /// Drawing-buffer size in pixels (at least 1×1).
    pub fn size(&self) -> (u32, u32) {
        (self.width().max(1), self.height().max(1))
    }

    /// Sets the drawing-buffer size.
    #[cfg(not(feature = "webgpu"))]
    pub fn set_size(&self, width: u32, height: u32) {
        match self {
            Self::Element(c) => {
                c.set_width(width);
                c.set_height(height);
            }
            Self::Offscreen(c) => {
                c.set_width(width);
                c.set_height(height);
            }
        }
    }

    /// The canvas as an event target (for `webglcontextlost` and
    /// `webglcontextrestored`, which both kinds fire).
    #[cfg_attr(
        feature = "webgpu",
        allow(dead_code, reason = "only the WebGL2 backend listens for context loss")
    )]
    pub fn event_target(&self) -> EventTarget {
        match self {
            Self::Element(c) => c.clone().into(),
            Self::Offscreen(c) => c.clone().into(),
        }
    }

    /// `getContext(kind, options)`: the context object, or an error saying why there is
    /// none (another kind of context was made on this canvas, or the browser refused).
    #[cfg(not(feature = "webgpu"))]
    pub fn context(&self, kind: &str, options: &JsValue) -> Result<js_sys::Object, String> {
        let context = match self {
            Self::Element(c) => c.get_context_with_context_options(kind, options),
            Self::Offscreen(c) => c.get_context_with_context_options(kind, options),
        };
        context
            .map_err(|e| format!("the canvas refused a {kind} context: {}", describe(&e)))?
            .ok_or_else(|| format!("the canvas has no {kind} context (another context is active, or {kind} is unavailable)"))
    }
}

/// A JS error's message, for error text.
#[cfg(not(feature = "webgpu"))]
pub fn describe(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

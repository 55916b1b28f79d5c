//! Context loss: listens for `webglcontextlost` and `webglcontextrestored` on the canvas
//! (a `<canvas>` element or an `OffscreenCanvas`; both fire them). The lost handler
//! calls `preventDefault()`, which tells the browser we can rebuild, so it may restore
//! the context; the backend then rebuilds every GL object from the scene and carries on
//! with the same runtime.

use std::cell::Cell;
use std::rc::Rc;

use candlefish_renderer::BackendError;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Event, EventTarget, WebGl2RenderingContext as Gl};
use web_time::Instant;

use crate::web::canvas::describe;

/// What the event handlers saw, shared with the backend.
#[derive(Debug, Default)]
struct LossState {
    /// When the context was lost, while it is; `None` once it is restored.
    lost_at: Cell<Option<Instant>>,
    /// Losses so far: GL objects made before the last loss are dead even once the
    /// context is back, including when it was lost and restored between two frames.
    losses: Cell<u32>,
}

impl LossState {
    fn mark_lost(&self) {
        if self.lost_at.get().is_none() {
            self.lost_at.set(Some(Instant::now()));
            self.losses.set(self.losses.get().wrapping_add(1));
        }
    }
}

type Handler = Closure<dyn FnMut(Event)>;

/// The two listeners, removed again on drop.
pub struct ContextLoss {
    target: EventTarget,
    state: Rc<LossState>,
    on_lost: Handler,
    on_restored: Handler,
}

impl std::fmt::Debug for ContextLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextLoss")
            .field("lost_at", &self.state.lost_at.get())
            .finish_non_exhaustive()
    }
}

const LOST: &str = "webglcontextlost";
const RESTORED: &str = "webglcontextrestored";

impl ContextLoss {
    /// Starts listening on `target` (the canvas).
    pub fn listen(target: EventTarget) -> Result<Self, BackendError> {
        let state = Rc::new(LossState::default());
        let lost_state = state.clone();
        let on_lost = Handler::new(move |event: Event| {
            // Without this the browser never restores the context.
            event.prevent_default();
            lost_state.mark_lost();
            log::warn!("the WebGL2 context was lost; waiting for the browser to restore it");
        });
        let restored_state = state.clone();
        let on_restored = Handler::new(move |_: Event| {
            restored_state.lost_at.set(None);
            log::info!("the WebGL2 context was restored; rebuilding the GL objects");
        });
        for (kind, handler) in [(LOST, &on_lost), (RESTORED, &on_restored)] {
            target
                .add_event_listener_with_callback(kind, handler.as_ref().unchecked_ref())
                .map_err(|e| {
                    BackendError::Setup(format!("cannot listen for {kind}: {}", describe(&e)))
                })?;
        }
        Ok(Self {
            target,
            state,
            on_lost,
            on_restored,
        })
    }

    /// Since when the context has been lost, or `None` while it is not (as far as the
    /// events tell).
    pub fn lost_since(&self) -> Option<Instant> {
        self.state.lost_at.get()
    }

    /// Records a loss the context reports (`isContextLost()`) before its event has
    /// arrived.
    pub fn mark_lost(&self) {
        self.state.mark_lost();
    }
}

/// The GL context as its objects see it: the handle, and whether the objects made
/// under it are still alive (no loss since), so that they are deleted only then.
#[derive(Clone, Debug)]
pub struct Context {
    gl: Gl,
    state: Rc<LossState>,
    generation: u32,
}

impl Context {
    /// Whether objects made under this context are alive: it has not been lost since.
    pub fn alive(&self) -> bool {
        !self.gl.is_context_lost()
            && self.state.lost_at.get().is_none()
            && self.state.losses.get() == self.generation
    }
}

impl std::ops::Deref for Context {
    type Target = Gl;

    fn deref(&self) -> &Gl {
        &self.gl
    }
}

impl ContextLoss {
    /// `gl` for objects made from now until the next loss.
    pub fn context(&self, gl: &Gl) -> Context {
        Context {
            gl: gl.clone(),
            state: self.state.clone(),
            generation: self.state.losses.get(),
        }
    }
}

impl Drop for ContextLoss {
    fn drop(&mut self) {
        for (kind, handler) in [(LOST, &self.on_lost), (RESTORED, &self.on_restored)] {
            // Removing a listener that is there cannot fail; if the target refuses,
            // the closure is freed anyway and the browser drops the dead listener.
            let _ = self
                .target
                .remove_event_listener_with_callback(kind, handler.as_ref().unchecked_ref());
        }
    }
}

//! GPU time per frame with `EXT_disjoint_timer_query_webgl2`, where the browser offers
//! it: a small ring of `TIME_ELAPSED` queries around each frame's drawing. A result
//! becomes available a few frames later (never within the frame's own task); when
//! `GPU_DISJOINT` says the timer was disturbed, the results in flight are dropped.

use super::loss::Context;
use web_sys::{WebGl2RenderingContext as Gl, WebGlQuery};

/// `TIME_ELAPSED_EXT` of the extension.
const TIME_ELAPSED: u32 = 0x88BF;
/// `GPU_DISJOINT_EXT` of the extension.
const GPU_DISJOINT: u32 = 0x8FBB;
/// Queries in flight at most; a frame finding every slot busy is not measured.
const SLOTS: usize = 4;

/// The timer queries, deleted on drop.
#[derive(Debug)]
pub struct GpuTimer {
    gl: Context,
    queries: [WebGlQuery; SLOTS],
    /// The frame each slot measures, while its result is pending.
    pending: [Option<u64>; SLOTS],
    /// The slot the next frame uses.
    next: usize,
    /// The oldest pending slot.
    oldest: usize,
    /// The frame whose query is open.
    open: Option<u64>,
}

impl GpuTimer {
    /// The timer, or `None` where the extension (or a query object) is missing.
    pub fn new(gl: &Context) -> Option<Self> {
        gl.get_extension("EXT_disjoint_timer_query_webgl2")
            .ok()
            .flatten()?;
        let queries = [
            gl.create_query()?,
            gl.create_query()?,
            gl.create_query()?,
            gl.create_query()?,
        ];
        // Clear a disjoint flag left from before.
        let _ = gl.get_parameter(GPU_DISJOINT);
        Some(Self {
            gl: gl.clone(),
            queries,
            pending: [None; SLOTS],
            next: 0,
            oldest: 0,
            open: None,
        })
    }

    /// Starts timing `frame`, if a slot is free.
    pub fn begin(&mut self, frame: u64) {
        if self.open.is_none() && self.pending[self.next].is_none() {
            self.gl.begin_query(TIME_ELAPSED, &self.queries[self.next]);
            self.open = Some(frame);
        }
    }

    /// Ends the frame's timing.
    pub fn end(&mut self) {
        if let Some(frame) = self.open.take() {
            self.gl.end_query(TIME_ELAPSED);
            self.pending[self.next] = Some(frame);
            self.next = (self.next + 1) % SLOTS;
        }
    }

    /// Hands every finished frame's GPU time to `sink(frame, ms)`, oldest first.
    pub fn drain(&mut self, sink: &mut dyn FnMut(u64, f32)) {
        while let Some(frame) = self.pending[self.oldest] {
            let query = &self.queries[self.oldest];
            let available = self
                .gl
                .get_query_parameter(query, Gl::QUERY_RESULT_AVAILABLE)
                .as_bool()
                .unwrap_or(false);
            if !available {
                return;
            }
            let disjoint = self
                .gl
                .get_parameter(GPU_DISJOINT)
                .map_or(true, |v| v.as_bool().unwrap_or(true));
            if disjoint {
                // Every result in flight may be wrong: drop them all.
                self.pending = [None; SLOTS];
                self.oldest = self.next;
                return;
            }
            let ns = self
                .gl
                .get_query_parameter(query, Gl::QUERY_RESULT)
                .as_f64();
            self.pending[self.oldest] = None;
            self.oldest = (self.oldest + 1) % SLOTS;
            if let Some(ns) = ns {
                sink(frame, (ns / 1e6) as f32);
            }
        }
    }
}

impl Drop for GpuTimer {
    fn drop(&mut self) {
        // Objects of a lost context died with it (even once it is restored).
        if !self.gl.alive() {
            return;
        }
        if self.open.is_some() {
            self.gl.end_query(TIME_ELAPSED);
        }
        for query in &self.queries {
            self.gl.delete_query(Some(query));
        }
    }
}

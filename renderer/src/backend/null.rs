//! The null backend: executes a plan by looking at it, drawing nothing. The criterion
//! benches drive the full CPU frame through it, and tests check what a backend would
//! have been asked to draw.

use web_time::Instant;

use super::{Backend, BackendError, FrameContext};
use crate::frame::lap;
use crate::frame::plan::FramePlan;
use crate::frame::timings::{FrameRecord, Phase, RenderMode};

/// What the last plan asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanSummary {
    /// Instances.
    pub instances: u32,
    /// Draw batches.
    pub batches: u32,
    /// Triangles.
    pub triangles: u64,
    /// A checksum of the instance data (so the work of building it cannot be skipped).
    pub checksum: u32,
}

/// A backend that draws nothing.
#[derive(Clone, Debug)]
pub struct NullBackend {
    size: (u32, u32),
    frames: u64,
    last: PlanSummary,
    msaa: u32,
}

impl NullBackend {
    /// A null backend with a `width` × `height` "output" (for screen-space LOD).
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            size: (width.max(1), height.max(1)),
            frames: 0,
            last: PlanSummary::default(),
            msaa: 1,
        }
    }

    /// Frames executed.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// What the last plan asked for.
    pub fn last(&self) -> PlanSummary {
        self.last
    }
}

impl Backend for NullBackend {
    fn mode(&self) -> RenderMode {
        RenderMode::Null
    }

    fn adapter(&self) -> &str {
        "null"
    }

    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn resize(&mut self, width: u32, height: u32) {
        self.size = (width.max(1), height.max(1));
    }

    fn execute(
        &mut self,
        plan: &FramePlan,
        _frame: &FrameContext<'_>,
        record: &mut FrameRecord,
    ) -> Result<(), BackendError> {
        let t = Instant::now();
        // What an upload reads: every instance's bytes, once.
        let checksum = bytemuck::cast_slice::<_, u32>(&plan.instances)
            .iter()
            .fold(0u32, |acc, &w| acc.rotate_left(5) ^ w);
        lap(t, record, Phase::Upload);
        self.last = PlanSummary {
            instances: plan.instances.len() as u32,
            batches: plan.batches.len() as u32,
            triangles: plan.triangles,
            checksum,
        };
        self.frames += 1;
        Ok(())
    }

    fn msaa_samples(&self) -> u32 {
        self.msaa
    }

    fn set_msaa_samples(&mut self, samples: u32) -> u32 {
        self.msaa = if samples >= 4 { 4 } else { 1 };
        self.msaa
    }
}

//! The CPU side of a frame: update → cull → LOD select → bucket, producing a
//! [`FramePlan`] and the CPU time of each phase.

use web_time::Instant;

use crate::camera::Camera;
use crate::cull::{Frustum, Spheres, cull_spheres};
use crate::lod::{LodParams, TierTable, select_lods};
use crate::plan::{Bucketer, FramePlan};
use crate::scene::Scene;
use crate::timings::{FrameRecord, Phase};

/// Hysteresis used for LOD selection (see [`crate::lod`]).
pub const LOD_HYSTERESIS: f32 = 0.2;

/// Per-frame CPU work with scratch buffers reused across frames.
#[derive(Debug, Default)]
pub struct FramePlanner {
    visible: Vec<u32>,
    tiers: Vec<u8>,
    table: TierTable,
    table_meshes: usize,
    bucketer: Bucketer,
    /// The plan of the last frame.
    pub plan: FramePlan,
}

/// What a frame is planned for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameInput {
    /// Scene time, seconds.
    pub time: f32,
    /// The camera.
    pub camera: Camera,
    /// Viewport height in pixels (for screen-space LOD).
    pub viewport_height: f32,
    /// LOD threshold, pixels.
    pub lod_threshold_px: f32,
}

impl FramePlanner {
    /// A planner with empty scratch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs the CPU phases for one frame, recording their times in `record`.
    pub fn plan(
        &mut self,
        scene: &mut Scene,
        input: &FrameInput,
        record: &mut FrameRecord,
    ) -> &FramePlan {
        if self.table_meshes != scene.meshes.meshes.len()
            || self.tiers.len() != scene.instances.len()
        {
            self.table = TierTable::new(&scene.meshes);
            self.table_meshes = scene.meshes.meshes.len();
            self.tiers.clear();
        }
        let t = Instant::now();
        scene.update(input.time);
        let t = lap(t, record, Phase::Update);

        let frustum = Frustum::from_clip_from_world(input.camera.clip_from_world());
        let inst = &scene.instances;
        let spheres = Spheres {
            x: &inst.x,
            y: &inst.y,
            z: &inst.z,
            radius: &inst.radius,
        };
        cull_spheres(&frustum, spheres, &mut self.visible);
        let t = lap(t, record, Phase::Cull);

        let params = LodParams {
            eye: input.camera.eye,
            pixels_per_unit: input
                .camera
                .pixels_per_unit_at_unit_distance(input.viewport_height),
            threshold_px: input.lod_threshold_px,
            hysteresis: LOD_HYSTERESIS,
        };
        select_lods(&params, &self.table, inst, &self.visible, &mut self.tiers);
        let t = lap(t, record, Phase::Lod);

        self.bucketer.build(
            &scene.meshes,
            inst,
            &self.visible,
            &self.tiers,
            &mut self.plan,
        );
        lap(t, record, Phase::Bucket);
        record.drawn = self.plan.instances.len() as u32;
        record.draw_calls = self.plan.batches.len() as u32;
        &self.plan
    }

    /// Indices of the instances visible in the last frame.
    pub fn visible(&self) -> &[u32] {
        &self.visible
    }

    /// The tier each instance had when last visible.
    pub fn tiers(&self) -> &[u8] {
        &self.tiers
    }
}

/// Records the time since `start` for `phase` and returns a new start.
pub fn lap(start: Instant, record: &mut FrameRecord, phase: Phase) -> Instant {
    let now = Instant::now();
    record.cpu_ms[phase as usize] = (now - start).as_secs_f32() * 1000.0;
    now
}

//! The CPU side of a frame: update → cull → LOD select → bucket, producing a
//! [`FramePlan`] and the CPU time of each phase. [`driver::FrameDriver`] runs a whole
//! frame: this planner, then a backend.

pub mod cull;
pub mod driver;
pub mod governor;
pub mod lod;
pub mod motion;
pub mod plan;
pub mod simd;
pub mod timings;

use web_time::Instant;

use crate::frame::cull::{Frustum, Spheres, cull_spheres};
use crate::frame::lod::{LodOutcome, LodParams, LodScratch, TierTable, select_lods};
use crate::frame::plan::{Bucketer, FramePlan};
use crate::frame::timings::{FrameRecord, Phase};
use crate::scene::Scene;
use crate::scene::camera::Camera;

/// Hysteresis used for LOD selection (see [`crate::frame::lod`]).
pub const LOD_HYSTERESIS: f32 = 0.2;

/// Per-frame CPU work with scratch buffers reused across frames.
///
/// [`FramePlanner::plan`] runs every phase; the phases are also callable one by one
/// ([`FramePlanner::cull`], [`FramePlanner::select_lods`], [`FramePlanner::bucket`])
/// so that benchmarks measure one phase without wiring the pipeline themselves.
#[derive(Debug, Default)]
pub struct FramePlanner {
    visible: Vec<u32>,
    tiers: Vec<u8>,
    /// Bucket key per visible instance, written by LOD selection.
    keys: Vec<u32>,
    lod_scratch: LodScratch,
    lod_outcome: LodOutcome,
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
    /// Most triangles a frame may draw ([`crate::preset::PresetSettings::max_triangles`];
    /// `u64::MAX` for no cap): past it, LOD raises the threshold.
    pub max_triangles: u64,
}

impl FrameInput {
    /// The LOD parameters this input implies.
    pub fn lod_params(&self) -> LodParams {
        LodParams {
            eye: self.camera.eye,
            pixels_per_unit: self
                .camera
                .pixels_per_unit_at_unit_distance(self.viewport_height),
            threshold_px: self.lod_threshold_px,
            hysteresis: LOD_HYSTERESIS,
            max_triangles: self.max_triangles,
        }
    }
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
        profiling::scope!("plan");
        let t = Instant::now();
        {
            profiling::scope!("update");
            scene.update(input.time);
        }
        let t = lap(t, record, Phase::Update);
        {
            profiling::scope!("cull");
            self.cull(scene, &input.camera);
        }
        let t = lap(t, record, Phase::Cull);
        {
            profiling::scope!("lod");
            self.select_lods(scene, input);
        }
        let t = lap(t, record, Phase::Lod);
        {
            profiling::scope!("bucket");
            self.bucket(scene);
        }
        lap(t, record, Phase::Bucket);
        record.drawn = self.plan.instances.len() as u32;
        record.draw_calls = self.plan.batches.len() as u32;
        record.triangles = self.plan.triangles;
        &self.plan
    }

    /// Culling: the indices of the instances whose bounding spheres meet `camera`'s
    /// frustum, into [`FramePlanner::visible`].
    pub fn cull(&mut self, scene: &Scene, camera: &Camera) {
        let frustum = Frustum::from_clip_from_world(camera.clip_from_world());
        let inst = &scene.instances;
        let spheres = Spheres {
            x: &inst.x,
            y: &inst.y,
            z: &inst.z,
            radius: &inst.radius,
        };
        cull_spheres(&frustum, spheres, &mut self.visible);
    }

    /// LOD selection for the visible instances (after [`FramePlanner::cull`]).
    pub fn select_lods(&mut self, scene: &Scene, input: &FrameInput) {
        if self.table_meshes != scene.meshes.meshes.len()
            || self.tiers.len() != scene.instances.len()
        {
            self.table = TierTable::new(&scene.meshes);
            self.table_meshes = scene.meshes.meshes.len();
            self.tiers.clear();
        }
        self.lod_outcome = select_lods(
            &input.lod_params(),
            &self.table,
            &scene.instances,
            &self.visible,
            &mut self.tiers,
            &mut self.keys,
            &mut self.lod_scratch,
        );
    }

    /// Bucketing: the visible instances grouped by (mesh, tier) into
    /// [`FramePlanner::plan`] (after [`FramePlanner::select_lods`]).
    pub fn bucket(&mut self, scene: &Scene) -> &FramePlan {
        self.bucketer.build(
            &scene.meshes,
            &scene.instances,
            &self.visible,
            &self.keys,
            &mut self.plan,
        );
        &self.plan
    }

    /// What LOD selection did in the last frame: the threshold it applied (raised
    /// past the preset's when the triangle cap needed it), the triangles it chose and
    /// the instances it left out.
    pub fn lod_outcome(&self) -> LodOutcome {
        self.lod_outcome
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

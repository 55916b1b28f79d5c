//! The frame driver: one object that runs whole frames. It owns the scene, the
//! planner, the timing ring and the preset, plans each frame on the CPU and hands the
//! [`FramePlan`](crate::FramePlan) to a [`Backend`]. The native window, the headless
//! CLI, the benchmark harness, the browser runtime, the criterion benches (with the
//! null backend) and the image tests all drive frames through it.

use crate::backend::{Backend, BackendError, FrameContext};
use crate::frame::plan::FramePlan;
use crate::frame::timings::{FrameRecord, FrameTimings};
use crate::frame::{FrameInput, FramePlanner};
use crate::preset::Preset;
use crate::scene::camera::Camera;
use crate::scene::{Scene, SceneDescription, SceneError};

/// Frames kept in the timing ring (10 s at 60 Hz).
pub const TIMING_FRAMES: usize = 600;

/// A scene with its planner, timings, preset and backend.
#[derive(Debug)]
pub struct FrameDriver<B> {
    /// The scene.
    pub scene: Scene,
    /// CPU frame planning.
    pub planner: FramePlanner,
    /// Recent frame timings (GPU times arrive a few frames late).
    pub timings: FrameTimings,
    /// LOD threshold in pixels (the preset's, unless changed).
    pub lod_threshold_px: f32,
    preset: Preset,
    frame: u64,
    /// GPU times (frame, ms) that arrived during the last frame (kept allocated).
    gpu_arrived: Vec<(u64, f32)>,
    backend: B,
}

impl<B: Backend> FrameDriver<B> {
    /// Drives `backend` over `scene` at `preset`'s LOD threshold.
    pub fn new(scene: Scene, preset: Preset, backend: B) -> Self {
        Self {
            scene,
            planner: FramePlanner::new(),
            timings: FrameTimings::new(TIMING_FRAMES),
            lod_threshold_px: preset.settings().lod_threshold_px,
            preset,
            frame: 0,
            gpu_arrived: Vec::new(),
            backend,
        }
    }

    /// Plans and draws one frame at scene time `time`, and returns its record (its GPU
    /// time, when measured, arrives later, into [`FrameDriver::timings`]).
    pub fn render_frame(
        &mut self,
        time: f32,
        camera: &Camera,
    ) -> Result<FrameRecord, BackendError> {
        let mut record = FrameRecord {
            frame: self.frame,
            mode: self.backend.mode(),
            ..FrameRecord::default()
        };
        self.frame += 1;
        let (_, height) = self.backend.size();
        let input = FrameInput {
            time,
            camera: *camera,
            viewport_height: height.max(1) as f32,
            lod_threshold_px: self.lod_threshold_px,
            max_triangles: self.preset.settings().max_triangles,
        };
        let plan = self.planner.plan(&mut self.scene, &input, &mut record);
        let context = FrameContext {
            scene: &self.scene,
            camera,
            time,
        };
        self.backend.execute(plan, &context, &mut record)?;
        self.timings.push(record);
        let (timings, arrived) = (&mut self.timings, &mut self.gpu_arrived);
        arrived.clear();
        self.backend.drain_gpu_times(&mut |frame, ms| {
            timings.set_gpu_ms(frame, ms);
            arrived.push((frame, ms));
        });
        Ok(record)
    }

    /// The GPU times (frame, ms) that arrived during the last [`Self::render_frame`],
    /// in the order the backend gave them: each measured frame's time appears once, so
    /// a consumer need not scan [`Self::timings`] for new ones.
    pub fn gpu_arrived(&self) -> &[(u64, f32)] {
        &self.gpu_arrived
    }

    /// Resizes the backend's output (pixels; zero sizes are ignored).
    pub fn resize(&mut self, width: u32, height: u32) {
        if width > 0 && height > 0 {
            self.backend.resize(width, height);
        }
    }

    /// The preset the scene was built for.
    pub fn preset(&self) -> Preset {
        self.preset
    }

    /// Lays the scene out again for `description` (e.g. the `performance` preset's
    /// smaller school, when the frame governor steps down), keeping the meshes,
    /// materials and atlas the backend already holds: nothing is copied. The LOD
    /// threshold becomes `preset`'s. On error the scene is left empty (and draws
    /// nothing): the errors are those that building it the first time would have given.
    pub fn relayout(
        &mut self,
        description: &SceneDescription,
        preset: Preset,
    ) -> Result<(), SceneError> {
        let meshes = std::mem::take(&mut self.scene.meshes);
        let materials = std::mem::take(&mut self.scene.materials);
        let atlas = std::mem::take(&mut self.scene.atlas);
        self.scene.instances = Default::default();
        self.scene = Scene::build(description, meshes, materials, atlas)?;
        self.preset = preset;
        self.lod_threshold_px = preset.settings().lod_threshold_px;
        Ok(())
    }

    /// Frames rendered so far.
    pub fn frames(&self) -> u64 {
        self.frame
    }

    /// The last frame's plan.
    pub fn plan(&self) -> &FramePlan {
        &self.planner.plan
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The backend, mutably.
    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }

    /// Takes the driver apart: the scene and the backend.
    pub fn into_parts(self) -> (Scene, B) {
        (self.scene, self.backend)
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::backend::null::NullBackend;
    use crate::frame::timings::{Phase, RenderMode};
    use crate::scene::camera::OrbitCamera;

    fn driver() -> FrameDriver<NullBackend> {
        let description = SceneDescription::for_preset(Preset::Performance);
        let scene = crate::assets::standard::standard_scene(&description).unwrap();
        FrameDriver::new(scene, Preset::Performance, NullBackend::new(640, 360))
    }

    #[test]
    fn a_frame_plans_then_executes_on_the_backend() {
        let mut d = driver();
        let camera = OrbitCamera::default().camera(16.0 / 9.0);
        let record = d.render_frame(1.0, &camera).unwrap();
        assert_eq!(record.mode, RenderMode::Null);
        assert!(record.drawn > 0 && record.draw_calls > 0);
        assert_eq!(record.drawn as usize, d.plan().instances.len());
        assert_eq!(record.triangles, d.plan().triangles);
        // The backend saw exactly the plan the planner made.
        let seen = d.backend().last();
        assert_eq!(
            (seen.instances, seen.batches, seen.triangles),
            (record.drawn, record.draw_calls, record.triangles)
        );
        assert_eq!(d.backend().frames(), 1);
        assert_eq!(d.timings.len(), 1);
        assert!(record.cpu_ms[Phase::Update as usize] >= 0.0);
        d.render_frame(1.1, &camera).unwrap();
        assert_eq!((d.frames(), d.backend().frames()), (2, 2));
    }

    #[test]
    fn a_new_layout_is_drawn_from_the_next_frame() {
        let mut d = driver();
        let camera = OrbitCamera::default().camera(16.0 / 9.0);
        let before = d.render_frame(1.0, &camera).unwrap();
        let atlas_pages = d.scene.atlas.len();
        let small = SceneDescription::for_preset(Preset::Canvas);
        d.relayout(&small, Preset::Canvas).unwrap();
        assert_eq!(d.scene.instances.len() as u64, small.instance_count());
        assert_eq!(d.scene.atlas.len(), atlas_pages);
        let after = d.render_frame(1.0, &camera).unwrap();
        assert_eq!(u64::from(d.plan().total_instances), small.instance_count());
        assert!(after.drawn < before.drawn);
        assert_eq!(
            (d.preset(), d.lod_threshold_px),
            (Preset::Canvas, Preset::Canvas.settings().lod_threshold_px)
        );
    }

    #[test]
    fn the_viewport_height_drives_lod() {
        // A taller viewport makes every object bigger on screen: never coarser tiers.
        let camera = OrbitCamera::default().camera(16.0 / 9.0);
        let mut small = driver();
        small.resize(64, 36);
        small.render_frame(1.0, &camera).unwrap();
        let mut large = driver();
        large.resize(3840, 2160);
        large.render_frame(1.0, &camera).unwrap();
        assert!(large.plan().triangles > small.plan().triangles);
    }
}

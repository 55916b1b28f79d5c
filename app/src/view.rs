//! `candlefish view`: a native window for profiling on developer GPUs.
//!
//! Controls: drag with the left mouse button to orbit, wheel to zoom; arrow keys or
//! WASD orbit, `+`/`-` zoom, space toggles automatic rotation, `L` the LOD tier view,
//! Escape quits. The title shows fps, the CPU time of each phase (p50 over the last
//! frames), GPU time, triangles and draw calls; `--trace FILE` writes a Chrome trace
//! when the window closes.

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::{Context, Result};
use candlefish_renderer::backend::gpu::{
    AdapterPreference, GpuContext, Presentation, SurfaceTarget, WgpuBackend, native_backends,
};
use candlefish_renderer::frame::timings::FrameTimings;
use candlefish_renderer::{
    Backend, FrameDriver, FrameRecord, OrbitCamera, Phase, RenderMode, Scene,
};
use web_time::Instant;
use winit::application::ApplicationHandler;
use winit::event::{ElementState, MouseButton, MouseScrollDelta, WindowEvent};
use winit::event_loop::{ActiveEventLoop, EventLoop};
use winit::keyboard::{Key, NamedKey};
use winit::window::{Window, WindowId};

use crate::cli::ViewArgs;

/// Opens the window and runs until it is closed.
pub fn run(args: &ViewArgs) -> Result<()> {
    let scene = args.scene.build_scene()?;
    let event_loop =
        EventLoop::new().context("no window system (is DISPLAY or WAYLAND_DISPLAY set?)")?;
    let mut app = App {
        args,
        scene: Some(scene),
        state: None,
        error: None,
    };
    event_loop.run_app(&mut app).context("event loop")?;
    if let Some(trace) = app.state.as_ref().and_then(|s| s.trace.as_ref()) {
        trace.write()?;
    }
    match app.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

struct App<'a> {
    args: &'a ViewArgs,
    scene: Option<Scene>,
    state: Option<State>,
    error: Option<anyhow::Error>,
}

struct State {
    window: Arc<Window>,
    driver: FrameDriver<WgpuBackend<SurfaceTarget>>,
    debug_tiers: bool,
    orbit: OrbitCamera,
    start: Instant,
    last_frame: Instant,
    last_title: Instant,
    dragging: bool,
    cursor: Option<(f64, f64)>,
    telemetry: Option<crate::telemetry_feed::TelemetryFeed>,
    trace: Option<crate::trace::Trace>,
}

impl App<'_> {
    fn init(&mut self, event_loop: &ActiveEventLoop) -> Result<()> {
        let Some(scene) = self.scene.take() else {
            return Ok(());
        };
        let window = Arc::new(
            event_loop
                .create_window(Window::default_attributes().with_title("Candlefish"))
                .context("creating the window")?,
        );
        let mut desc = wgpu::InstanceDescriptor::new_with_display_handle(Box::new(
            event_loop.owned_display_handle(),
        ));
        desc.backends = native_backends();
        let instance = wgpu::Instance::new(desc);
        let surface = instance
            .create_surface(window.clone())
            .context("creating the window surface")?;
        let gpu = pollster::block_on(GpuContext::for_surface(
            instance,
            &surface,
            AdapterPreference::HighPerformance,
            self.args.scene.adapter.as_deref(),
        ))?;
        let size = window.inner_size();
        let presentation = if self.args.no_vsync {
            Presentation::Immediate
        } else {
            Presentation::Vsync
        };
        let target = SurfaceTarget::new(
            surface,
            &gpu.adapter,
            &gpu.device,
            (size.width, size.height),
            presentation,
        )?;
        let preset = self.args.scene.preset;
        let backend = WgpuBackend::new(gpu, &scene, target, preset, RenderMode::Native)?;
        let info = backend.adapter_info();
        let driver = FrameDriver::new(scene, preset, backend);
        let telemetry = match &self.args.scene.telemetry {
            Some(url) => Some(crate::telemetry_feed::TelemetryFeed::connect(
                url,
                &info.name,
                self.args.scene.preset.name(),
            )?),
            None => None,
        };
        let mut orbit = OrbitCamera::default();
        if self.args.reduced_motion {
            orbit.auto_rotate = 0.0;
        }
        let now = Instant::now();
        self.state = Some(State {
            window,
            driver,
            debug_tiers: false,
            orbit,
            start: now,
            last_frame: now,
            last_title: now,
            dragging: false,
            cursor: None,
            telemetry,
            trace: self.args.trace.as_deref().map(crate::trace::Trace::new),
        });
        Ok(())
    }
}

impl State {
    fn redraw(&mut self) {
        let now = Instant::now();
        let dt = (now - self.last_frame).as_secs_f32();
        self.last_frame = now;
        self.orbit.advance(dt);
        let (width, height) = self.driver.backend().size();
        let camera = self.orbit.camera(width as f32 / height.max(1) as f32);
        let time = (now - self.start).as_secs_f32();
        profiling::scope!("frame");
        let record = match self.driver.render_frame(time, &camera) {
            Ok(record) => record,
            Err(e) => {
                log::error!("{e}; skipping frame");
                return;
            }
        };
        profiling::finish_frame!();
        if let Some(feed) = self.telemetry.as_mut() {
            feed.record(&record, dt * 1000.0);
        }
        if let Some(trace) = self.trace.as_mut() {
            trace.frame(now, &record);
            // GPU times arrive a few frames late: look at the newest frames only.
            let skip = self.driver.timings.len().saturating_sub(16);
            for r in self.driver.timings.records().skip(skip) {
                if let Some(ms) = r.gpu_ms {
                    trace.gpu(r.frame, ms);
                }
            }
        }
        if (now - self.last_title).as_secs_f32() >= 1.0 {
            self.last_title = now;
            let title = title(&mut self.driver.timings, &record, dt);
            self.window.set_title(&title);
        }
    }
}

/// The window title: fps, each CPU phase's p50 over the timing ring, GPU p50, and
/// what the last frame drew.
fn title(timings: &mut FrameTimings, record: &FrameRecord, dt: f32) -> String {
    let mut text = format!("Candlefish · {:.0} fps · CPU", 1.0 / dt.max(1e-6));
    for phase in Phase::ALL {
        let p = timings.phase(phase);
        let _ = write!(text, " {} {:.2}", phase.name(), p.p50);
    }
    let cpu = timings.cpu_total();
    let _ = write!(text, " = {:.2} ms (p95 {:.2})", cpu.p50, cpu.p95);
    let gpu = timings.gpu();
    if gpu.count > 0 {
        let _ = write!(text, " · GPU {:.2} ms", gpu.p50);
    }
    let _ = write!(
        text,
        " · {:.2} M triangles · {} draws · {} drawn",
        record.triangles as f64 / 1e6,
        record.draw_calls,
        record.drawn
    );
    text
}

impl ApplicationHandler for App<'_> {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.state.is_none()
            && let Err(e) = self.init(event_loop)
        {
            self.error = Some(e);
            event_loop.exit();
        }
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        let Some(state) = self.state.as_mut() else {
            return;
        };
        match event {
            WindowEvent::CloseRequested => event_loop.exit(),
            WindowEvent::Resized(size) => state.driver.resize(size.width, size.height),
            WindowEvent::RedrawRequested => {
                state.redraw();
                if let Some(limit) = self.args.seconds
                    && (Instant::now() - state.start).as_secs_f32() >= limit
                {
                    event_loop.exit();
                }
                state.window.request_redraw();
            }
            WindowEvent::MouseInput {
                state: s,
                button: MouseButton::Left,
                ..
            } => {
                state.dragging = s == ElementState::Pressed;
            }
            WindowEvent::CursorMoved { position, .. } => {
                if let Some((x, y)) = state.cursor
                    && state.dragging
                {
                    state.orbit.rotate(
                        -(position.x - x) as f32 * 0.005,
                        (position.y - y) as f32 * 0.005,
                    );
                }
                state.cursor = Some((position.x, position.y));
            }
            WindowEvent::MouseWheel { delta, .. } => {
                let lines = match delta {
                    MouseScrollDelta::LineDelta(_, y) => y,
                    MouseScrollDelta::PixelDelta(p) => p.y as f32 / 40.0,
                };
                state.orbit.zoom(0.9f32.powf(lines));
            }
            WindowEvent::KeyboardInput { event, .. } if event.state == ElementState::Pressed => {
                let step = 0.06;
                match event.logical_key.as_ref() {
                    Key::Named(NamedKey::Escape) => event_loop.exit(),
                    Key::Named(NamedKey::ArrowLeft) => state.orbit.rotate(step, 0.0),
                    Key::Named(NamedKey::ArrowRight) => state.orbit.rotate(-step, 0.0),
                    Key::Named(NamedKey::ArrowUp) => state.orbit.rotate(0.0, step),
                    Key::Named(NamedKey::ArrowDown) => state.orbit.rotate(0.0, -step),
                    Key::Named(NamedKey::Space) => {
                        state.orbit.auto_rotate = if state.orbit.auto_rotate == 0.0 {
                            OrbitCamera::default().auto_rotate
                        } else {
                            0.0
                        };
                    }
                    Key::Character(c) => match c.to_ascii_lowercase().as_str() {
                        "a" => state.orbit.rotate(step, 0.0),
                        "d" => state.orbit.rotate(-step, 0.0),
                        "w" => state.orbit.rotate(0.0, step),
                        "s" => state.orbit.rotate(0.0, -step),
                        "+" | "=" => state.orbit.zoom(0.9),
                        "-" => state.orbit.zoom(1.0 / 0.9),
                        "l" => {
                            state.debug_tiers = !state.debug_tiers;
                            state
                                .driver
                                .backend_mut()
                                .set_debug_tiers(state.debug_tiers);
                        }
                        _ => {}
                    },
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn about_to_wait(&mut self, _event_loop: &ActiveEventLoop) {
        if let Some(state) = &self.state {
            state.window.request_redraw();
        }
    }
}

//! Command-line interface.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use candlefish_renderer::{Preset, SceneDescription};
use clap::{Args, Parser, Subcommand};

/// Candlefish: a school of candlefish, rendered with wgpu.
#[derive(Debug, Parser)]
#[command(name = "candlefish", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Render one frame headless to a PNG file.
    Render(RenderArgs),
    /// Open a native window with orbit/zoom controls.
    View(ViewArgs),
    /// Render the standard scene headless for N frames and report frame-time percentiles.
    Bench(crate::bench::BenchArgs),
    /// Build a scene pack from a scene description (meshes, LOD tiers, atlases).
    Pack(PackArgs),
}

/// What to draw: shared by every command.
#[derive(Debug, Args)]
pub struct SceneArgs {
    /// Scene to draw (only `school`, the standard scene, so far).
    #[arg(long, default_value = "school")]
    pub scene: String,
    /// Quality preset: performance, quality or canvas.
    #[arg(long, default_value = "quality")]
    pub preset: Preset,
    /// Override the number of fish (1..=1000000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub fish: Option<u32>,
    /// Adapter name filter (case-insensitive substring), e.g. `llvmpipe`.
    #[arg(long)]
    pub adapter: Option<String>,
    /// Draw the content of a scene pack (`candlefish pack`) instead of the procedural
    /// standard scene; its counts for `--preset` apply (`--fish` still overrides).
    #[arg(long, value_name = "FILE")]
    pub pack: Option<PathBuf>,
    /// Send frame timings to a telemetry server, e.g. `ws://127.0.0.1:8080/telemetry`.
    #[arg(long, value_name = "URL")]
    pub telemetry: Option<String>,
}

impl SceneArgs {
    /// The scene these arguments ask for: from `--pack` when given, else the
    /// procedural standard scene.
    pub fn build_scene(&self) -> Result<candlefish_renderer::Scene> {
        let Some(path) = &self.pack else {
            let description = self.description()?;
            return candlefish_renderer::assets::standard::standard_scene(&description)
                .context("building the scene");
        };
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let pack = candlefish_renderer::assets::pack::load(&bytes)
            .with_context(|| format!("loading the scene pack {}", path.display()))?;
        let mut description = pack.description.for_preset(self.preset);
        if let Some(fish) = self.fish {
            description.fish = fish;
        }
        pack.into_scene_with(&description)
            .with_context(|| format!("laying out {}", path.display()))
    }

    /// The scene description these arguments ask for.
    pub fn description(&self) -> Result<SceneDescription> {
        if self.scene != "school" {
            bail!("unknown scene {:?} (available: school)", self.scene);
        }
        let mut description = SceneDescription::for_preset(self.preset);
        if let Some(fish) = self.fish {
            description.fish = fish;
        }
        Ok(description)
    }
}

/// Arguments of `candlefish render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub scene: SceneArgs,
    /// Scene time in seconds.
    #[arg(long, default_value_t = 3.5, value_parser = parse_time)]
    pub time: f32,
    /// Image width in pixels.
    #[arg(long, default_value_t = 1280, value_parser = clap::value_parser!(u32).range(1..=8192))]
    pub width: u32,
    /// Image height in pixels.
    #[arg(long, default_value_t = 720, value_parser = clap::value_parser!(u32).range(1..=8192))]
    pub height: u32,
    /// Output PNG path.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Colour instances by LOD tier (green finest, then yellow, orange, magenta).
    #[arg(long)]
    pub debug_lods: bool,
}

/// Arguments of `candlefish pack`.
#[derive(Debug, Args)]
pub struct PackArgs {
    /// The scene description, e.g. `assets/scene.toml`.
    pub scene: PathBuf,
    /// Output folder for `scene.pack` and `pack-report.json`.
    #[arg(long, short)]
    pub out: PathBuf,
}

/// Arguments of `candlefish view`.
#[derive(Debug, Args)]
pub struct ViewArgs {
    #[command(flatten)]
    pub scene: SceneArgs,
    /// Present without vsync, to see the real frame cost.
    #[arg(long)]
    pub no_vsync: bool,
    /// Start without automatic camera motion.
    #[arg(long)]
    pub reduced_motion: bool,
    /// Close after this many seconds (for scripted profiling runs).
    #[arg(long, value_parser = parse_time)]
    pub seconds: Option<f32>,
    /// Write a Chrome trace (Perfetto, chrome://tracing) of every frame's CPU phases
    /// and GPU time to this file when the window closes.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
}

fn parse_time(s: &str) -> Result<f32, String> {
    let v: f32 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && (0.0..=1.0e6).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{s} must be between 0 and 1000000 seconds"))
    }
}

/// Parses the command line and runs the command.
pub fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Render(args) => crate::headless::render(&args).context("render failed"),
        Command::View(args) => crate::view::run(&args).context("view failed"),
        Command::Bench(args) => crate::bench::run(&args).context("bench failed"),
        Command::Pack(args) => crate::assets::run(&args.scene, &args.out).context("pack failed"),
    }
}

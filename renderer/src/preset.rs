//! Quality presets, chosen by name (`performance`, `quality`, and the reduced
//! `canvas` set used by the Canvas-2D fallback), and the ladder of rungs the frame
//! governor ([`crate::frame::governor`]) steps along. This is the one table of preset
//! numbers: the browser loader reads it through the wasm API ([`preset_table_json`]),
//! the server and the telemetry protocol only know the names.

use std::fmt;
use std::str::FromStr;

/// A named quality preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Preset {
    /// Phones, integrated GPUs, Save-Data: fewer instances, no MSAA, lower scale.
    Performance,
    /// Desktop GPUs: the full school, 4x MSAA, tighter LOD threshold.
    Quality,
    /// The Canvas-2D fallback: a small school drawn as sprites.
    Canvas,
}

/// What a preset sets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PresetSettings {
    /// Fish in the school.
    pub fish: u32,
    /// Rocks on the sea floor.
    pub rocks: u32,
    /// Kelp fronds.
    pub kelp: u32,
    /// Marine-snow particles.
    pub snow: u32,
    /// MSAA sample count (1 or 4).
    pub msaa_samples: u32,
    /// LOD threshold: the largest simplification error allowed on screen, in pixels.
    pub lod_threshold_px: f32,
    /// Render resolution relative to the output (e.g. 0.75).
    pub render_scale: f32,
    /// Cap on `devicePixelRatio` on the web.
    pub max_device_pixel_ratio: f32,
    /// Most triangles a frame may draw, whatever the school size: LOD raises its
    /// threshold for the whole frame to stay under it ([`crate::frame::lod`]).
    pub max_triangles: u64,
}

impl Preset {
    /// All presets.
    pub const ALL: [Preset; 3] = [Self::Performance, Self::Quality, Self::Canvas];

    /// The name used on the command line, in URLs and in telemetry.
    pub fn name(self) -> &'static str {
        match self {
            Self::Performance => "performance",
            Self::Quality => "quality",
            Self::Canvas => "canvas",
        }
    }

    /// The preset's settings.
    pub const fn settings(self) -> PresetSettings {
        match self {
            Self::Quality => PresetSettings {
                fish: 12_000,
                rocks: 60,
                kelp: 360,
                snow: 3_000,
                msaa_samples: 4,
                lod_threshold_px: 0.75,
                render_scale: 1.0,
                max_device_pixel_ratio: 2.0,
                max_triangles: 4_000_000,
            },
            Self::Performance => PresetSettings {
                fish: 3_000,
                rocks: 30,
                kelp: 140,
                snow: 800,
                msaa_samples: 1,
                lod_threshold_px: 2.0,
                render_scale: 0.75,
                max_device_pixel_ratio: 1.5,
                max_triangles: 1_000_000,
            },
            Self::Canvas => PresetSettings {
                fish: 500,
                rocks: 16,
                kelp: 60,
                snow: 200,
                msaa_samples: 1,
                lod_threshold_px: 3.0,
                render_scale: 1.0,
                max_device_pixel_ratio: 1.0,
                max_triangles: 1_000_000,
            },
        }
    }
}

/// How a rung of the ladder draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RungKind {
    /// A GPU backend (WebGPU, WebGL2, native).
    Gpu,
    /// The Canvas-2D backend.
    Canvas,
    /// Nothing moves: a still frame with a visible Play button.
    Paused,
}

/// One rung of the quality ladder: what the frame governor can step to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rung {
    /// Short name for the stats overlay and telemetry (e.g. `quality-msaa-off`).
    pub name: &'static str,
    /// How it draws.
    pub kind: RungKind,
    /// The preset whose scene (instance counts) it draws.
    pub preset: Preset,
    /// Render resolution relative to the output, after the preset's DPR cap.
    pub render_scale: f32,
    /// MSAA samples.
    pub msaa_samples: u32,
    /// The LOD threshold in pixels (larger: coarser tiers sooner).
    pub lod_threshold_px: f32,
}

/// The ladder, best first. The governor steps down one rung at a time on sustained
/// overrun (render scale, then MSAA, then LOD, then the `performance` preset, then
/// Canvas 2D, then a paused frame) and back up on sustained headroom.
pub const LADDER: [Rung; 8] = {
    let q = Preset::Quality.settings();
    let p = Preset::Performance.settings();
    let c = Preset::Canvas.settings();
    [
        Rung {
            name: "quality",
            kind: RungKind::Gpu,
            preset: Preset::Quality,
            render_scale: q.render_scale,
            msaa_samples: q.msaa_samples,
            lod_threshold_px: q.lod_threshold_px,
        },
        Rung {
            name: "quality-scale-0.75",
            kind: RungKind::Gpu,
            preset: Preset::Quality,
            render_scale: 0.75,
            msaa_samples: q.msaa_samples,
            lod_threshold_px: q.lod_threshold_px,
        },
        Rung {
            name: "quality-msaa-off",
            kind: RungKind::Gpu,
            preset: Preset::Quality,
            render_scale: 0.75,
            msaa_samples: 1,
            lod_threshold_px: q.lod_threshold_px,
        },
        Rung {
            name: "quality-coarse-lod",
            kind: RungKind::Gpu,
            preset: Preset::Quality,
            render_scale: 0.75,
            msaa_samples: 1,
            lod_threshold_px: p.lod_threshold_px,
        },
        Rung {
            name: "performance",
            kind: RungKind::Gpu,
            preset: Preset::Performance,
            render_scale: p.render_scale,
            msaa_samples: p.msaa_samples,
            lod_threshold_px: p.lod_threshold_px,
        },
        Rung {
            name: "performance-scale-0.5",
            kind: RungKind::Gpu,
            preset: Preset::Performance,
            render_scale: 0.5,
            msaa_samples: 1,
            lod_threshold_px: 2.0 * p.lod_threshold_px,
        },
        Rung {
            name: "canvas",
            kind: RungKind::Canvas,
            preset: Preset::Canvas,
            render_scale: c.render_scale,
            msaa_samples: 1,
            lod_threshold_px: c.lod_threshold_px,
        },
        Rung {
            name: "paused",
            kind: RungKind::Paused,
            preset: Preset::Canvas,
            render_scale: c.render_scale,
            msaa_samples: 1,
            lod_threshold_px: c.lod_threshold_px,
        },
    ]
};

/// The rung a preset starts at.
pub fn start_rung(preset: Preset) -> usize {
    LADDER.iter().position(|r| r.preset == preset).unwrap_or(0)
}

/// The lowest GPU rung: where a software rasteriser starts.
pub fn lowest_gpu_rung() -> usize {
    LADDER
        .iter()
        .rposition(|r| r.kind == RungKind::Gpu)
        .unwrap_or(0)
}

/// The preset table and the ladder as JSON, for the page's loader (which keeps no copy
/// of the numbers): `{"presets":{"quality":{…},…},"ladder":[{…},…]}`.
pub fn preset_table_json() -> String {
    use fmt::Write;
    let mut out = String::from("{\"presets\":{");
    for (i, p) in Preset::ALL.into_iter().enumerate() {
        let s = p.settings();
        let _ = write!(
            out,
            "{}\"{}\":{{\"fish\":{},\"msaa\":{},\"lodThresholdPx\":{},\"renderScale\":{},\"maxDevicePixelRatio\":{},\"maxTriangles\":{}}}",
            if i > 0 { "," } else { "" },
            p.name(),
            s.fish,
            s.msaa_samples,
            s.lod_threshold_px,
            s.render_scale,
            s.max_device_pixel_ratio,
            s.max_triangles
        );
    }
    out.push_str("},\"ladder\":[");
    for (i, r) in LADDER.iter().enumerate() {
        let kind = match r.kind {
            RungKind::Gpu => "gpu",
            RungKind::Canvas => "canvas",
            RungKind::Paused => "paused",
        };
        let _ = write!(
            out,
            "{}{{\"name\":\"{}\",\"kind\":\"{kind}\",\"preset\":\"{}\",\"renderScale\":{},\"msaa\":{},\"lodThresholdPx\":{}}}",
            if i > 0 { "," } else { "" },
            r.name,
            r.preset.name(),
            r.render_scale,
            r.msaa_samples,
            r.lod_threshold_px
        );
    }
    out.push_str("]}");
    out
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A preset name that is not one of [`Preset::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown quality preset {0:?} (expected performance, quality or canvas)")]
pub struct UnknownPreset(pub String);

impl FromStr for Preset {
    type Err = UnknownPreset;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownPreset(s.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_an_error() {
        for p in Preset::ALL {
            assert_eq!(p.name().parse::<Preset>(), Ok(p));
        }
        assert_eq!("Quality".parse::<Preset>(), Ok(Preset::Quality));
        assert!("ultra".parse::<Preset>().is_err());
    }

    #[test]
    fn the_ladder_only_ever_gets_cheaper() {
        for pair in LADDER.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let (pa, pb) = (a.preset.settings(), b.preset.settings());
            // Canvas 2D draws sprites: its scale and LOD threshold are its own.
            let same = b.kind == a.kind;
            assert!(
                (b.render_scale <= a.render_scale || !same)
                    && b.msaa_samples <= a.msaa_samples
                    && (b.lod_threshold_px >= a.lod_threshold_px || !same)
                    && pb.fish <= pa.fish,
                "{} -> {}",
                a.name,
                b.name
            );
            assert_ne!(a, b, "every rung changes something");
        }
        assert_eq!(LADDER[0].preset, Preset::Quality);
        assert_eq!(LADDER[start_rung(Preset::Performance)].name, "performance");
        assert_eq!(LADDER[start_rung(Preset::Canvas)].kind, RungKind::Canvas);
        assert_eq!(LADDER[lowest_gpu_rung()].name, "performance-scale-0.5");
        assert_eq!(LADDER[LADDER.len() - 1].kind, RungKind::Paused);
    }

    #[test]
    fn the_table_json_carries_every_preset_and_rung() {
        let json = preset_table_json();
        for p in Preset::ALL {
            assert!(json.contains(&format!(
                "\"{}\":{{\"fish\":{}",
                p.name(),
                p.settings().fish
            )));
        }
        for r in LADDER {
            assert!(json.contains(&format!("\"name\":\"{}\"", r.name)), "{json}");
        }
        assert!(json.contains("\"maxDevicePixelRatio\":2"));
        assert!(json.contains("\"maxTriangles\":4000000"));
        assert_eq!(json.matches('{').count(), json.matches('}').count());
    }

    #[test]
    fn quality_draws_more_than_performance() {
        let (q, p) = (Preset::Quality.settings(), Preset::Performance.settings());
        assert!(q.fish > p.fish && q.msaa_samples > p.msaa_samples);
        assert!(q.lod_threshold_px < p.lod_threshold_px);
    }

    #[test]
    fn triangle_caps_are_the_issues() {
        assert_eq!(Preset::Quality.settings().max_triangles, 4_000_000);
        assert_eq!(Preset::Performance.settings().max_triangles, 1_000_000);
        for p in Preset::ALL {
            assert!(p.settings().max_triangles > 0);
        }
    }
}

//! Quality presets, chosen by name (`performance`, `quality`, and the reduced
//! `canvas` set used by the Canvas-2D fallback).

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
    pub fn settings(self) -> PresetSettings {
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
            },
        }
    }
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
    fn quality_draws_more_than_performance() {
        let (q, p) = (Preset::Quality.settings(), Preset::Performance.settings());
        assert!(q.fish > p.fish && q.msaa_samples > p.msaa_samples);
        assert!(q.lod_threshold_px < p.lod_threshold_px);
    }
}

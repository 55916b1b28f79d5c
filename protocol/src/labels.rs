//! The closed sets of the protocol: render mode, preset, frame phase, error kind, render
//! thread and governor step reason. Each has its wire name ([`as_str`](Mode::as_str)),
//! which is also its metric label, and a parser.

macro_rules! label_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $label:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "serde", derive(serde::Deserialize))]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[cfg_attr(feature = "serde", serde(rename = $label))]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in wire (and metric) order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The wire name, also the metric label.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $label,)+
                }
            }

            /// The value with wire name `s`.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($label => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// Position in [`Self::ALL`].
            pub fn index(self) -> usize {
                self as usize
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

label_enum! {
    /// The render mode a client actually runs in.
    Mode {
        /// WebGPU in a browser.
        Webgpu = "webgpu",
        /// WebGL2 in a browser.
        Webgl = "webgl",
        /// The Canvas-2D fallback in a browser.
        Canvas = "canvas",
        /// A native or headless build (wgpu on Vulkan, Metal, DX12 or GL).
        Native = "native",
    }
}

label_enum! {
    /// The quality preset a client runs with.
    Preset {
        /// Full quality.
        Quality = "quality",
        /// Reduced quality.
        Performance = "performance",
        /// The Canvas-2D fallback's reduced scene.
        Canvas = "canvas",
    }
}

label_enum! {
    /// The CPU phases of a frame, in order.
    // Must be kept in sync with `Phase` in renderer/src/frame/timings.rs (same order,
    // same names): a `FrameRecord`'s `cpu_ms` array indexes both.
    Phase {
        /// Motion update.
        Update = "update",
        /// Frustum culling.
        Cull = "cull",
        /// LOD selection.
        Lod = "lod",
        /// Bucketing and packing instance data.
        Bucket = "bucket",
        /// Writing buffers to the GPU queue.
        Upload = "upload",
        /// Recording the command buffer.
        Encode = "encode",
        /// Submitting (and presenting).
        Submit = "submit",
    }
}

/// Number of [`Phase`]s.
pub const PHASES: usize = 7;

label_enum! {
    /// Kinds of client error.
    ErrorKind {
        /// A Rust panic.
        Panic = "panic",
        /// The GPU device was lost.
        DeviceLost = "device_lost",
        /// A backend could not start and the next one was tried (not a failure: the
        /// page still runs, so it does not count towards the session error rate).
        BackendFallback = "backend_fallback",
        /// Shader or pipeline creation failed.
        Shader = "shader",
        /// An asset failed to load.
        Asset = "asset",
        /// Anything else.
        Other = "other",
    }
}

impl ErrorKind {
    /// Whether the error counts as a failure in the per-session client error rate.
    pub fn is_failure(self) -> bool {
        self != Self::BackendFallback
    }
}

label_enum! {
    /// Where the runtime runs its frames.
    RenderThread {
        /// A dedicated Worker drawing to an `OffscreenCanvas`.
        Worker = "worker",
        /// The page's main thread.
        Main = "main",
    }
}

label_enum! {
    /// Why the frame governor changed rung.
    StepReason {
        /// Frames overran the budget: one rung down.
        Overrun = "overrun",
        /// Sustained headroom: one rung up.
        Headroom = "headroom",
        /// The starting rung, chosen from the adapter (a software rasteriser starts low).
        Start = "start",
        /// The visitor chose (pause, play, a forced mode).
        User = "user",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Mode::ALL {
            assert_eq!(Mode::parse(m.as_str()), Some(*m));
        }
        for (i, p) in Phase::ALL.iter().enumerate() {
            assert_eq!(p.index(), i);
            assert_eq!(Phase::parse(p.as_str()), Some(*p));
        }
        assert_eq!(Phase::ALL.len(), PHASES);
        assert_eq!(ErrorKind::parse("device_lost"), Some(ErrorKind::DeviceLost));
        assert_eq!(Preset::parse("ultra"), None);
        assert!(!ErrorKind::BackendFallback.is_failure());
    }
}

//! Every limit of the protocol, defined once. The validator enforces them, the batch
//! builder keeps within them, and `server/PROTOCOL.md` shows them in a table generated
//! from [`TABLE`] (`protocol/tests/protocol_md.rs` checks that the table is current).

/// The protocol version (`v`); messages with another version are refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// Shortest frame accepted, milliseconds. Shorter intervals are not frames a display
/// can show (2000 Hz); `1e-45` would otherwise put ~7e47 into an FPS sum.
pub const MIN_FRAME_MS: f32 = 0.5;
/// Longest frame accepted, milliseconds. A longer interval is a pause (hidden tab,
/// suspended laptop), not a frame: the batch builder leaves it out.
pub const MAX_FRAME_MS: f32 = 60_000.0;
/// Highest frame rate of a batch (frames ÷ the time they took), frames per second.
pub const MAX_FPS: f64 = 1000.0;
/// Most frame-time samples in `frame_ms` (a 1 s batch at 240 Hz is 240).
pub const MAX_SAMPLES: usize = 1024;
/// Most buckets in a client histogram (`frame_hist`).
pub const MAX_HIST_BUCKETS: usize = 64;
/// Longest wall time one batch may cover (`span_ms`, or the sum of `frame_ms`),
/// milliseconds.
pub const MAX_BATCH_SPAN_MS: f32 = 60_000.0;
/// Most frames in one batch: [`MAX_BATCH_SPAN_MS`] at [`MAX_FPS`].
pub const MAX_BATCH_FRAMES: u64 = 60_000;
/// Relative tolerance when a histogram's frames are compared with its `span_ms`.
pub const SPAN_TOLERANCE: f64 = 0.05;
/// Absolute tolerance of the same comparison, milliseconds (timer resolution).
pub const SPAN_SLACK_MS: f64 = 5.0;
/// Longest load timing or web vital (LCP, INP, TTFB), milliseconds.
pub const MAX_LOAD_MS: f32 = 600_000.0;
/// Largest Cumulative Layout Shift.
pub const MAX_CLS: f32 = 100.0;
/// Largest memory figure, bytes (1 TiB).
pub const MAX_MEMORY_BYTES: u64 = 1 << 40;
/// Most draw calls per frame (mean over the batch).
pub const MAX_DRAW_CALLS: f32 = 1_000_000.0;
/// Most triangles per frame (mean over the batch).
pub const MAX_TRIANGLES: f64 = 1e10;
/// Most instances drawn per frame (mean over the batch).
pub const MAX_DRAWN: f32 = 1e8;
/// Most frames reported dropped in one batch.
pub const MAX_DROPPED_FRAMES: u32 = 100_000;
/// Most batches reported dropped by the client in one batch.
pub const MAX_DROPPED_BATCHES: u32 = 1_000_000;
/// Most errors in one batch.
pub const MAX_ERRORS: usize = 16;
/// Most governor steps in one batch.
pub const MAX_GOVERNOR_STEPS: usize = 16;
/// Longest adapter name, characters.
pub const MAX_ADAPTER_CHARS: usize = 128;
/// Longest error message, characters.
pub const MAX_ERROR_CHARS: usize = 512;
/// Longest governor rung name (`from`, `to`), characters.
pub const MAX_RUNG_CHARS: usize = 32;
/// Longest release id, bytes.
pub const MAX_RELEASE_LEN: usize = 64;
/// Shortest session id, bytes.
pub const MIN_SESSION_LEN: usize = 8;
/// Longest session id, bytes.
pub const MAX_SESSION_LEN: usize = 64;
/// Largest `seq` (JavaScript's largest exact integer, 2^53 − 1).
pub const MAX_SEQ: u64 = (1 << 53) - 1;
/// Release labels a `frames` message may not use: the server's own.
pub const RESERVED_RELEASES: [&str; 2] = ["legacy", "other"];
/// Largest `data.memoryUsage` of the `performance` message, MiB (= [`MAX_MEMORY_BYTES`]).
pub const LEGACY_MAX_MEMORY_MIB: f64 = 1_048_576.0;
/// Largest `timestamp` of the `performance` message, ms since the Unix epoch.
pub const LEGACY_MAX_TIMESTAMP_MS: f64 = 1e13;

/// Bucket upper bounds for frame times, milliseconds: the server's frame-time
/// histograms (in seconds) and the batch builder's `frame_hist`. Steps of about 8 %
/// between 8 and 50 ms, so that a 15 % change moves a distribution by two buckets,
/// with the display budgets (240/144/120/90/60/30 Hz) as edges.
#[rustfmt::skip]
pub const FRAME_EDGES_MS: [f64; 52] = [
    1.0, 2.0, 3.0, 4.0, 4.17, 5.0, 6.0, 6.94, 7.5, 8.33, 9.0, 10.0, 11.1, 12.0, 13.0, 14.0,
    15.0, 16.0, 16.7, 18.0, 19.5, 21.0, 22.5, 24.0, 26.0, 28.0, 30.0, 33.4, 36.0, 39.0, 42.0,
    46.0, 50.0, 55.0, 60.0, 66.7, 75.0, 83.4, 100.0, 125.0, 150.0, 200.0, 250.0, 333.0,
    500.0, 750.0, 1000.0, 2000.0, 5000.0, 10_000.0, 30_000.0, 60_000.0,
];

/// One row of the limits table in `server/PROTOCOL.md`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// The constant's name.
    pub name: &'static str,
    /// Its value, as written in the document.
    pub value: &'static str,
    /// What it bounds.
    pub meaning: &'static str,
}

macro_rules! row {
    ($name:ident, $value:expr, $meaning:expr) => {
        Limit {
            name: stringify!($name),
            value: $value,
            meaning: $meaning,
        }
    };
}

/// The limits as documented; `tests/limits.rs` checks each value against its constant.
pub const TABLE: &[Limit] = &[
    row!(PROTOCOL_VERSION, "1", "the only `v`"),
    row!(MIN_FRAME_MS, "0.5", "shortest frame, ms"),
    row!(MAX_FRAME_MS, "60000", "longest frame, ms"),
    row!(
        MAX_FPS,
        "1000",
        "highest frame rate of a batch (frames ÷ their time), 1/s"
    ),
    row!(MAX_SAMPLES, "1024", "entries in `frame_ms`"),
    row!(MAX_HIST_BUCKETS, "64", "buckets in `frame_hist`"),
    row!(MAX_BATCH_SPAN_MS, "60000", "wall time one batch covers, ms"),
    row!(MAX_BATCH_FRAMES, "60000", "frames in one batch"),
    row!(
        SPAN_TOLERANCE,
        "0.05",
        "relative tolerance of the histogram/span check"
    ),
    row!(
        SPAN_SLACK_MS,
        "5",
        "absolute tolerance of the same check, ms"
    ),
    row!(MAX_LOAD_MS, "600000", "load timings and LCP, INP, TTFB, ms"),
    row!(MAX_CLS, "100", "Cumulative Layout Shift"),
    row!(MAX_MEMORY_BYTES, "1099511627776 (2^40)", "`memory_bytes`"),
    row!(MAX_DRAW_CALLS, "1000000", "`draw_calls` per frame"),
    row!(MAX_TRIANGLES, "10000000000", "`triangles` per frame"),
    row!(MAX_DRAWN, "100000000", "`drawn` instances per frame"),
    row!(MAX_DROPPED_FRAMES, "100000", "`dropped_frames` per batch"),
    row!(
        MAX_DROPPED_BATCHES,
        "1000000",
        "`dropped_batches` per batch"
    ),
    row!(MAX_ERRORS, "16", "entries in `errors`"),
    row!(MAX_GOVERNOR_STEPS, "16", "entries in `governor`"),
    row!(MAX_ADAPTER_CHARS, "128", "characters of `adapter`"),
    row!(MAX_ERROR_CHARS, "512", "characters of an error `message`"),
    row!(MAX_RUNG_CHARS, "32", "characters of a governor rung"),
    row!(MAX_RELEASE_LEN, "64", "bytes of `release`"),
    row!(MIN_SESSION_LEN, "8", "shortest `session`, bytes"),
    row!(MAX_SESSION_LEN, "64", "longest `session`, bytes"),
    row!(MAX_SEQ, "9007199254740991 (2^53 − 1)", "largest `seq`"),
    row!(
        RESERVED_RELEASES,
        "`legacy`, `other`",
        "releases a `frames` message may not use"
    ),
    row!(
        LEGACY_MAX_MEMORY_MIB,
        "1048576",
        "`performance` `data.memoryUsage`, MiB"
    ),
    row!(
        LEGACY_MAX_TIMESTAMP_MS,
        "1e13",
        "`performance` `timestamp`, ms"
    ),
];

/// The limits table as Markdown, as it appears in `server/PROTOCOL.md`.
pub fn markdown_table() -> String {
    let mut out = String::from("| Limit | Value | Bounds |\n|---|---|---|\n");
    for l in TABLE {
        out.push_str(&format!("| `{}` | {} | {} |\n", l.name, l.value, l.meaning));
    }
    out.push_str("\nFrame-time bucket edges (`FRAME_EDGES_MS`, ms): ");
    let edges: Vec<String> = FRAME_EDGES_MS.iter().map(|e| format!("{e}")).collect();
    out.push_str(&edges.join(", "));
    out.push_str(".\n");
    out
}

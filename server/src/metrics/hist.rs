//! Cumulative histograms with explicit buckets (Prometheus `histogram` type, which,
//! unlike a summary, can be aggregated across replicas) and their bucket boundaries.

use std::fmt::Write as _;

use candlefish_protocol::limits::FRAME_EDGES_MS;

/// Frame-time buckets, seconds: the protocol's [`FRAME_EDGES_MS`] (steps of about 8 %
/// between 8 and 50 ms, display budgets as edges), so a 15 % change moves a
/// distribution by two buckets.
pub const FRAME_SECONDS: [f64; FRAME_EDGES_MS.len()] = {
    let mut out = [0.0; FRAME_EDGES_MS.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = FRAME_EDGES_MS[i] / 1000.0;
        i += 1;
    }
    out
};
/// GPU time buckets, seconds: around 240/144/120/60/30/15 Hz frame budgets.
pub const GPU_SECONDS: &[f64] = &[
    0.001, 0.002, 0.004, 0.00694, 0.00833, 0.0111, 0.0167, 0.0222, 0.0333, 0.05, 0.0667, 0.1, 0.25,
    0.5, 1.0,
];
/// Frames-per-second buckets (per session window).
pub const FPS: &[f64] = &[
    5.0, 10.0, 15.0, 20.0, 24.0, 30.0, 40.0, 45.0, 50.0, 55.0, 58.0, 60.0, 75.0, 90.0, 120.0,
    144.0, 240.0,
];
/// Memory buckets, bytes: decimal megabytes, finest around the 50 MB gate.
pub const MEMORY_BYTES: &[f64] = &[
    10e6, 20e6, 30e6, 40e6, 45e6, 50e6, 55e6, 60e6, 80e6, 100e6, 150e6, 200e6, 300e6, 500e6, 1e9,
    2e9, 4e9, 8e9, 16e9,
];
/// HTTP request duration buckets, seconds (time to the response head), with 0.1 s as
/// an edge for the 100 ms gate.
pub const HTTP_SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
];
/// Triangles per frame buckets.
pub const TRIANGLES: &[f64] = &[1e3, 1e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 2.5e6, 5e6, 1e7, 1e8];
/// Instances drawn per frame buckets.
pub const DRAWN: &[f64] = &[10.0, 100.0, 500.0, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 1e6];
/// Draw calls per frame buckets.
pub const DRAW_CALLS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0, 10000.0,
];
/// CPU phase buckets, seconds (0.1 ms to 100 ms).
pub const CPU_SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.033, 0.1,
];
/// Load and web-vital time buckets, seconds.
pub const LOAD_SECONDS: &[f64] = &[
    0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 2.5, 4.0, 8.0, 15.0, 30.0, 60.0,
];
/// Cumulative Layout Shift buckets (unitless).
pub const CLS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0];

/// One histogram series: per-bucket counts (the last is `+Inf`), sum and count.
#[derive(Debug, Clone)]
pub struct Hist {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Hist {
    /// An empty histogram over `bounds` (ascending upper bounds; `+Inf` is implicit).
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    /// Records `n` observations of `value`.
    pub fn observe_n(&mut self, value: f64, n: u64) {
        self.count_n(value, n);
        self.sum += value * n as f64;
    }

    /// Counts `n` observations in `value`'s bucket without adding to the sum (which
    /// the caller adds with [`Self::add_sum`], e.g. a histogram batch's span).
    pub fn count_n(&mut self, value: f64, n: u64) {
        let i = self.bounds.partition_point(|b| *b < value);
        self.counts[i] += n;
        self.count += n;
    }

    /// Adds to the sum.
    pub fn add_sum(&mut self, value: f64) {
        self.sum += value;
    }

    /// Records one observation.
    pub fn observe(&mut self, value: f64) {
        self.observe_n(value, 1);
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Appends the `_bucket`, `_sum` and `_count` lines for `name` with `labels`
    /// (already formatted as `k="v",…`, possibly empty).
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count;
            let le = self
                .bounds
                .get(i)
                // Rounded to 1e-9 so that 16.7 ms / 1000 prints as 0.0167.
                .map_or_else(
                    || "+Inf".to_owned(),
                    |b| format!("{}", (b * 1e9).round() / 1e9),
                );
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// Escapes a label value for the text exposition format.
pub fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_le_inclusive() {
        let mut h = Hist::new(&[1.0, 2.0]);
        h.observe(1.0);
        h.observe_n(1.5, 2);
        h.observe(9.0);
        let mut s = String::new();
        h.render(&mut s, "x", "a=\"b\"");
        assert_eq!(
            s,
            "x_bucket{a=\"b\",le=\"1\"} 1\nx_bucket{a=\"b\",le=\"2\"} 3\nx_bucket{a=\"b\",le=\"+Inf\"} 4\n\
             x_sum{a=\"b\"} 13\nx_count{a=\"b\"} 4\n"
        );
    }

    #[test]
    fn bounds_ascending() {
        for b in [
            &FRAME_SECONDS[..],
            GPU_SECONDS,
            FPS,
            MEMORY_BYTES,
            HTTP_SECONDS,
            TRIANGLES,
            DRAWN,
            DRAW_CALLS,
            CPU_SECONDS,
            LOAD_SECONDS,
            CLS,
        ] {
            assert!(b.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn frame_edges_print_as_written() {
        let mut h = Hist::new(&FRAME_SECONDS);
        h.observe(0.0167);
        let mut s = String::new();
        h.render(&mut s, "x", "");
        assert!(s.contains("x_bucket{le=\"0.0167\"} 1\n"), "{s}");
        assert!(s.contains("x_bucket{le=\"0.00417\"} 0\n"), "{s}");
    }

    #[test]
    fn escapes() {
        assert_eq!(escape_label("a\"b\\c\n"), "a\\\"b\\\\c\\n");
    }
}

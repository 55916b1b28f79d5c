//! The statistics of the verdict, on binned data as Prometheus returns it: histogram
//! quantiles (as `histogram_quantile` computes them), a one-sided Mann-Whitney test on
//! two binned distributions with a correction for observations that come in clusters
//! (windows of the same session), and an exact binomial tail for proportions.

/// A histogram as bucket upper bounds (ascending, the last may be `+Inf`) and the
/// count in each bucket (not cumulative). Counts are floats: Prometheus's `increase`
/// extrapolates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Binned {
    /// Upper bounds.
    pub le: Vec<f64>,
    /// Counts per bucket.
    pub counts: Vec<f64>,
}

impl Binned {
    /// From cumulative `(le, count)` pairs in any order (`sum by (le) (increase(…))`).
    pub fn from_cumulative(mut pairs: Vec<(f64, f64)>) -> Self {
        pairs.retain(|(le, c)| !le.is_nan() && c.is_finite());
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut prev = 0.0;
        let mut out = Self::default();
        for (le, cumulative) in pairs {
            // Extrapolated counters can make a cumulative series dip slightly.
            let c = (cumulative - prev).max(0.0);
            prev = prev.max(cumulative);
            out.le.push(le);
            out.counts.push(c);
        }
        out
    }

    /// Observations in all buckets.
    pub fn total(&self) -> f64 {
        self.counts.iter().sum()
    }

    /// The `q` quantile, linearly interpolated inside its bucket (the lowest bucket
    /// starts at 0), as Prometheus's `histogram_quantile`; `None` when empty. A
    /// quantile in the `+Inf` bucket is the highest finite bound.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.total();
        if total <= 0.0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total;
        let mut below = 0.0;
        for (i, (&le, &c)) in self.le.iter().zip(&self.counts).enumerate() {
            if below + c >= rank && c > 0.0 {
                if le.is_infinite() {
                    return self.le[..i].iter().rev().copied().find(|b| b.is_finite());
                }
                let lo = if i == 0 { 0.0 } else { self.le[i - 1] };
                return Some(lo + (le - lo) * (rank - below) / c);
            }
            below += c;
        }
        self.le.iter().rev().copied().find(|b| b.is_finite())
    }

    /// The counts of `self` and `other` over the union of their bounds (a bound one
    /// side lacks gets 0 there).
    pub fn aligned(&self, other: &Self) -> (Vec<f64>, Vec<f64>) {
        let mut bounds: Vec<f64> = self.le.iter().chain(&other.le).copied().collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let pick = |h: &Self| {
            bounds
                .iter()
                .map(|b| {
                    h.le.iter()
                        .position(|x| x == b)
                        .map_or(0.0, |i| h.counts[i])
                })
                .collect()
        };
        (pick(self), pick(other))
    }
}

/// One-sided Mann-Whitney test that `a`'s observations tend to be larger than `b`'s,
/// on binned data (observations in one bin are ties), corrected for clustering: each
/// observation's variance is inflated by the design effect `deff` (≥ 1; the mean
/// number of observations per independent unit, which assumes observations of one
/// unit are perfectly correlated, the worst case). Returns z; `None` if either side is
/// empty.
pub fn mann_whitney_z(a: &Binned, b: &Binned, deff: f64) -> Option<f64> {
    let (ca, cb) = a.aligned(b);
    let (na, nb): (f64, f64) = (ca.iter().sum(), cb.iter().sum());
    if na <= 0.0 || nb <= 0.0 {
        return None;
    }
    let n = na + nb;
    // U: pairs where a's observation is larger, ties counting a half.
    let mut below_b = 0.0;
    let mut u = 0.0;
    let mut ties = 0.0;
    for (x, y) in ca.iter().zip(&cb) {
        u += x * (below_b + y / 2.0);
        below_b += y;
        let t = x + y;
        ties += t * t * t - t;
    }
    let mean = na * nb / 2.0;
    let var = na * nb / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)).max(1.0));
    if var <= 0.0 {
        return Some(0.0);
    }
    Some((u - mean) / (var * deff.max(1.0)).sqrt())
}

/// The standard normal quantile (Acklam's rational approximation, relative error
/// below 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// P(X ≥ `x`) for X ~ Binomial(`n`, `p`): how likely this many failures or more are if
/// the true rate were `p`. Exact (summed in log space, so large `n` does not
/// underflow); `x` and `n` are rounded (Prometheus's `increase` extrapolates).
pub fn binomial_tail(x: f64, n: f64, p: f64) -> f64 {
    let (x, n) = (x.round().max(0.0), n.round().max(0.0));
    if x <= 0.0 {
        return 1.0;
    }
    if x > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let mean = n * p;
    let sd = (n * p * (1.0 - p)).sqrt();
    if x > mean + 40.0 * sd + 40.0 {
        return 0.0;
    }
    // P(X < x) = Σ_{k<x} pmf(k), pmf in log space: ln pmf(k+1) = ln pmf(k) +
    // ln((n − k) / (k + 1)) + ln(p / (1 − p)).
    let step = (p / (1.0 - p)).ln();
    let mut ln_pmf = n * (1.0 - p).ln();
    let mut terms = Vec::with_capacity(x as usize);
    let mut k = 0.0;
    while k < x {
        terms.push(ln_pmf);
        ln_pmf += ((n - k) / (k + 1.0)).ln() + step;
        k += 1.0;
    }
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let below = max.exp() * terms.iter().map(|t| (t - max).exp()).sum::<f64>();
    (1.0 - below).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_matches_histogram_quantile() {
        // 100 observations, all in (0.15, 0.25]: p95 = 0.15 + 0.95 × 0.1.
        let h = Binned::from_cumulative(vec![
            (0.1, 0.0),
            (0.15, 0.0),
            (0.25, 100.0),
            (f64::INFINITY, 100.0),
        ]);
        assert!((h.quantile(0.95).unwrap() - 0.245).abs() < 1e-12);
        let h = Binned::from_cumulative(vec![(1.0, 0.0), (f64::INFINITY, 5.0)]);
        assert_eq!(h.quantile(0.5), Some(1.0));
        assert_eq!(Binned::default().quantile(0.5), None);
    }

    #[test]
    fn normal_quantiles() {
        assert!((normal_quantile(0.99) - 2.326_347_874).abs() < 1e-8);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((normal_quantile(0.001) + 3.090_232_306).abs() < 1e-8);
    }

    #[test]
    fn mann_whitney_on_bins() {
        let a = Binned {
            le: vec![1.0, 2.0, 3.0],
            counts: vec![0.0, 10.0, 10.0],
        };
        let b = Binned {
            le: vec![1.0, 2.0, 3.0],
            counts: vec![10.0, 10.0, 0.0],
        };
        let z = mann_whitney_z(&a, &b, 1.0).unwrap();
        assert!(z > 4.0, "{z}");
        assert!(mann_whitney_z(&b, &a, 1.0).unwrap() < -4.0);
        assert!(mann_whitney_z(&a, &a, 1.0).unwrap().abs() < 1e-12);
        // Ten observations per unit: a tenth of the evidence in variance terms.
        let z10 = mann_whitney_z(&a, &b, 10.0).unwrap();
        assert!((z10 - z / 10f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn binomial_tails() {
        // One failure in 31 sessions happens 3.1 % of the time at a true 0.1 %: not
        // evidence at 1 %. Two happen 0.05 % of the time: evidence.
        assert!((binomial_tail(1.0, 31.0, 0.001) - (1.0 - 0.999f64.powi(31))).abs() < 1e-12);
        assert!(binomial_tail(2.0, 31.0, 0.001) < 0.001);
        assert_eq!(binomial_tail(0.0, 10.0, 0.5), 1.0);
        assert!((binomial_tail(5.0, 10.0, 0.5) - 0.623_046_875).abs() < 1e-12);
        // Ten million sessions at exactly the rate: about half the time at least the mean.
        let t = binomial_tail(10_000.0, 1e7, 0.001);
        assert!((0.45..0.55).contains(&t), "{t}");
        assert_eq!(binomial_tail(20_000.0, 1e7, 0.001), 0.0);
    }
}

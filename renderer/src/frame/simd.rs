//! Portable SIMD for the frame's hot loops: eight `f32` lanes ([`wide::f32x8`]: SSE2
//! pairs on baseline x86-64, one AVX register where the build enables AVX, two
//! `v128` on wasm32 with `simd128`), and the trigonometry the motion update needs.
//!
//! # Error bound of [`sin_cos`]
//! Cody–Waite reduction by π/2 with a three-part constant, then Cephes' minimax
//! polynomials for `sin` and `cos` on [−π/4, π/4] (Moshier, *Cephes Math Library*,
//! `sinf.c`). Measured against `f64` over |x| ≤ 10,000 (the test
//! `sin_cos_error_bound` sweeps 2 million points): absolute error at most
//! [`SIN_COS_MAX_ERROR`] (4e-7, a few ulps of 1). Past |x| ≈ 2^22 · π/2 the rounding
//! trick in [`round`] no longer holds; scene arguments stay far below that (an angle
//! of 6.6 million radians is more than a day of the fastest fish's swimming).

use wide::f32x8;

/// Lanes per vector.
pub const LANES: usize = 8;

/// The vector type.
pub type F32s = f32x8;

/// Largest absolute error of [`sin_cos`] for |x| ≤ 10,000 (tested).
pub const SIN_COS_MAX_ERROR: f32 = 4e-7;

/// Adding then subtracting 1.5 · 2^23 rounds an `f32` of magnitude below 2^22 to the
/// nearest integer (ties to even) with plain additions: no SSE4.1 `roundps`, no libm
/// call on baseline x86-64.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// Rounds each lane to the nearest integer (ties to even), for |x| < 2^22.
#[inline(always)]
pub fn round(x: F32s) -> F32s {
    (x + F32s::splat(ROUND_MAGIC)) - F32s::splat(ROUND_MAGIC)
}

/// Rounds each lane down, for |x| < 2^22.
#[inline(always)]
pub fn floor(x: F32s) -> F32s {
    let r = round(x);
    r - r.simd_gt(x).select(F32s::splat(1.0), F32s::splat(0.0))
}

/// 1/√x of each lane, for x > 0 (normal floats): the hardware estimate (`rsqrtps`,
/// 12 bits) refined by one Newton–Raphson step, relative error below 5e-6 (tested);
/// no divider and no square-root unit, which the motion update would otherwise wait
/// on. Where the target has no estimate (wasm32), `wide` computes it exactly.
#[inline(always)]
pub fn rsqrt(x: F32s) -> F32s {
    let y = x.recip_sqrt();
    // y' = y (3 - x y²) / 2
    let xy2 = x * y * y;
    y * (F32s::splat(1.5) - F32s::splat(0.5) * xy2)
}

/// Sine and cosine of each lane (see the module docs for the error bound).
#[inline(always)]
#[expect(
    clippy::excessive_precision,
    reason = "Cephes' coefficients as published; the f32 rounding is deliberate"
)]
pub fn sin_cos(x: F32s) -> (F32s, F32s) {
    // π/2 in three parts whose products with a small integer are exact (Cephes).
    const DP1: f32 = 1.570_312_5;
    const DP2: f32 = 4.837_512_969_970_703e-4;
    const DP3: f32 = 7.549_789_948_768_648e-8;
    let j = round(x * F32s::splat(std::f32::consts::FRAC_2_PI));
    let r = j.mul_neg_add(F32s::splat(DP1), x);
    let r = j.mul_neg_add(F32s::splat(DP2), r);
    let r = j.mul_neg_add(F32s::splat(DP3), r);
    let z = r * r;
    // sin r on [-π/4, π/4].
    let sp = z
        .mul_add(
            F32s::splat(-1.951_529_589_1e-4),
            F32s::splat(8.332_160_873_6e-3),
        )
        .mul_add(z, F32s::splat(-1.666_665_461_1e-1));
    let s = (sp * z).mul_add(r, r);
    // cos r on [-π/4, π/4].
    let cp = z
        .mul_add(
            F32s::splat(2.443_315_711_809_948e-5),
            F32s::splat(-1.388_731_625_493_765e-3),
        )
        .mul_add(z, F32s::splat(4.166_664_568_298_827e-2));
    let c = (cp * z).mul_add(z, z.mul_neg_add(F32s::splat(0.5), F32s::splat(1.0)));
    // Quadrant q = j mod 4, as a float in {0, 1, 2, 3}: floor(j / 4) is
    // round(j / 4 - 3/8) for integer j (no ties).
    let q = j - F32s::splat(4.0) * round(j.mul_add(F32s::splat(0.25), F32s::splat(-0.375)));
    let (half, one_half, two_half) = (F32s::splat(0.5), F32s::splat(1.5), F32s::splat(2.5));
    // q = 1 or 3: sine and cosine swap.
    let odd = (q.simd_ge(half) & q.simd_lt(one_half)) | q.simd_ge(two_half);
    let (sin_r, cos_r) = (odd.select(c, s), odd.select(s, c));
    // sin is negative in quadrants 2 and 3, cos in 1 and 2.
    let sin_neg = q.simd_ge(one_half);
    let cos_neg = q.simd_ge(half) & q.simd_lt(two_half);
    (sin_neg.select(-sin_r, sin_r), cos_neg.select(-cos_r, cos_r))
}

/// Eight lanes from `values[base..base + LANES]`.
#[inline(always)]
pub fn load(values: &[f32], base: usize) -> F32s {
    let mut out = [0.0; LANES];
    out.copy_from_slice(&values[base..base + LANES]);
    F32s::new(out)
}

/// Up to eight lanes from `values[base..]`, the missing ones set to `fill`.
#[inline(always)]
pub fn load_partial(values: &[f32], base: usize, fill: f32) -> F32s {
    let mut out = [fill; LANES];
    let rest = &values[base.min(values.len())..];
    let n = rest.len().min(LANES);
    out[..n].copy_from_slice(&rest[..n]);
    F32s::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sin_cos_error_bound() {
        // A dense sweep of |x| <= 10,000 plus the quadrant boundaries, checked in f64.
        let mut worst = (0.0f64, 0.0f32);
        let mut check = |xs: [f32; LANES]| {
            let (s, c) = sin_cos(F32s::new(xs));
            for ((x, s), c) in xs.iter().zip(s.to_array()).zip(c.to_array()) {
                let x64 = f64::from(*x);
                let err = (f64::from(s) - x64.sin())
                    .abs()
                    .max((f64::from(c) - x64.cos()).abs());
                if err > worst.0 {
                    worst = (err, *x);
                }
            }
        };
        let n = 2_000_000;
        for k in 0..n / LANES {
            let xs =
                std::array::from_fn(|j| -10_000.0 + 20_000.0 * ((k * LANES + j) as f32 / n as f32));
            check(xs);
        }
        for k in -64i32..64 {
            let b = k as f32 * std::f32::consts::FRAC_PI_4;
            check([
                b,
                b.next_up(),
                b.next_down(),
                b + 1e-3,
                b - 1e-3,
                b * 0.5,
                -b,
                b + 0.3,
            ]);
        }
        assert!(
            worst.0 <= f64::from(SIN_COS_MAX_ERROR),
            "error {:e} at x = {}",
            worst.0,
            worst.1
        );
    }

    #[test]
    fn rsqrt_error_bound() {
        let mut worst = 0.0f64;
        for k in 0..100_000 {
            let x = 1e-6 * 1.0003f32.powi(k);
            let y = rsqrt(F32s::splat(x)).to_array()[0];
            let exact = 1.0 / f64::from(x).sqrt();
            worst = worst.max((f64::from(y) - exact).abs() / exact);
        }
        assert!(worst < 5e-6, "relative error {worst:e}");
    }

    #[test]
    fn round_and_floor_match_std() {
        let xs = [-3.5f32, -2.5, -0.2, 0.0, 0.5, 1.5, 2.7, -1e5 - 0.25];
        let r = round(F32s::new(xs)).to_array();
        let f = floor(F32s::new(xs)).to_array();
        for (i, x) in xs.iter().enumerate() {
            assert_eq!(r[i], x.round_ties_even(), "round {x}");
            assert_eq!(f[i], x.floor(), "floor {x}");
        }
    }

    #[test]
    fn partial_loads_fill_the_missing_lanes() {
        let v = [1.0, 2.0, 3.0];
        assert_eq!(
            load_partial(&v, 1, 9.0).to_array(),
            [2.0, 3.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0]
        );
        assert_eq!(load_partial(&v, 7, 0.0).to_array(), [0.0; LANES]);
    }
}

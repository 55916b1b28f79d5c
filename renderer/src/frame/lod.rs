//! Screen-space LOD selection with hysteresis, under a triangle budget.
//!
//! Each tier records its simplification error in object units. Projected to the
//! screen (error × scale × pixels-per-unit ÷ distance) it must stay under the
//! threshold; the coarsest tier that does is chosen. To move to a coarser tier the
//! error must be under `threshold × (1 − hysteresis)`, so an instance hovering near a
//! boundary keeps its tier instead of flipping every frame.
//!
//! **The triangle budget.** Screen-space error decides first, at the preset's
//! threshold. When the tiers it picks add up to more than [`LodParams::max_triangles`],
//! the threshold is raised for the whole frame, as little as needed: a histogram of
//! every visible instance's projected scale (8 bins an octave, per mesh) gives an
//! upper bound on the triangles at any threshold, and bisection finds the lowest
//! threshold whose bound fits. Because the bound counts each instance at the finest
//! tier the hysteresis could leave it at, and at the largest scale of its bin, the
//! frame's real total is within the cap. When even the coarsest tiers of everything
//! visible exceed the cap (a million fish on screen), the instances smallest on
//! screen are left out, whole histogram bins at a time, and counted in
//! [`LodOutcome::dropped`].

use glam::Vec3;

use crate::scene::Instances;
use crate::scene::mesh::{MAX_TIERS, MeshLibrary};

/// Tier value meaning "no tier chosen yet".
pub const NO_TIER: u8 = u8::MAX;

/// Bucket key of a visible instance that is not drawn (unknown mesh, or left out by
/// the triangle budget).
pub const SKIP: u32 = u32::MAX;

/// Histogram bins per octave of projected scale.
const BINS_PER_OCTAVE_LOG2: u32 = 3;
/// The first bin starts at 2^-24 pixels per unit of error; bins run to 2^40.
const FIRST_BIN_BITS: u32 = (127 - 24) << 23;
/// Number of bins; the last also takes everything larger (and NaN).
const BINS: usize = 64 << BINS_PER_OCTAVE_LOG2;

/// Inputs of LOD selection for one frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LodParams {
    /// Camera position.
    pub eye: Vec3,
    /// Pixels per world unit at distance 1 ([`crate::scene::camera::Camera::pixels_per_unit_at_unit_distance`]).
    pub pixels_per_unit: f32,
    /// Largest error allowed on screen, pixels.
    pub threshold_px: f32,
    /// Fraction below the threshold needed to move to a coarser tier (e.g. 0.2).
    pub hysteresis: f32,
    /// Most triangles the chosen tiers may add up to (`u64::MAX`: no cap).
    pub max_triangles: u64,
}

/// What LOD selection did in one frame.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LodOutcome {
    /// The threshold applied, pixels: the requested one, or higher where the triangle
    /// budget needed it.
    pub threshold_px: f32,
    /// Triangles of the chosen tiers.
    pub triangles: u64,
    /// Visible instances left out because even the coarsest tiers exceeded the
    /// budget.
    pub dropped: u32,
}

/// Per-mesh tier errors and triangle counts, flattened for the hot loop.
#[derive(Clone, Debug, Default)]
pub struct TierTable {
    errors: Vec<[f32; MAX_TIERS]>,
    triangles: Vec<[u32; MAX_TIERS]>,
    counts: Vec<u8>,
}

impl TierTable {
    /// Builds the table from a mesh library.
    pub fn new(meshes: &MeshLibrary) -> Self {
        let mut table = Self::default();
        for mesh in &meshes.meshes {
            let mut e = [f32::INFINITY; MAX_TIERS];
            let mut t = [0; MAX_TIERS];
            for ((slot, tris), tier) in e.iter_mut().zip(&mut t).zip(&mesh.tiers) {
                *slot = tier.error;
                *tris = tier.index_count / 3;
            }
            table.errors.push(e);
            table.triangles.push(t);
            table.counts.push(mesh.tiers.len().min(MAX_TIERS) as u8);
        }
        table
    }

    /// Meshes in the table.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// Scratch reused across frames (no allocation per frame once warmed up).
#[derive(Clone, Debug, Default)]
pub struct LodScratch {
    /// Projected scale (pixels per unit of object-space error) per visible instance.
    scale: Vec<f32>,
    /// Each visible instance's tier before this frame.
    previous: Vec<u8>,
    /// Visible instances per (mesh, bin of projected scale).
    histogram: Vec<u32>,
}

/// The bin of a projected scale: the float's exponent and top mantissa bits, so bins
/// are 1/8 octave wide and monotonic in the value.
#[inline(always)]
fn bin_of(scale: f32) -> usize {
    let bits = scale.to_bits();
    if bits >= 0x7F80_0000 {
        // Negative, infinite or NaN: the last bin, whose bound is infinite.
        return BINS - 1;
    }
    (((bits >> (23 - BINS_PER_OCTAVE_LOG2)) as usize)
        .saturating_sub((FIRST_BIN_BITS >> (23 - BINS_PER_OCTAVE_LOG2)) as usize))
    .min(BINS - 1)
}

/// The largest projected scale a bin holds (its upper edge; infinite for the last).
fn bin_upper(bin: usize) -> f32 {
    if bin + 1 >= BINS {
        f32::INFINITY
    } else {
        f32::from_bits(FIRST_BIN_BITS + ((bin as u32 + 1) << (23 - BINS_PER_OCTAVE_LOG2)))
    }
}

/// The tier an instance with projected scale `scale` gets, given its previous tier.
#[inline(always)]
fn choose(
    previous: u8,
    errors: &[f32; MAX_TIERS],
    count: u8,
    scale: f32,
    strict: f32,
    loose: f32,
) -> u8 {
    let (mut t_strict, mut t_loose) = (0u8, 0u8);
    for t in 1..count {
        let px = errors[usize::from(t)] * scale;
        if px <= loose {
            t_loose = t;
        }
        if px <= strict {
            t_strict = t;
        }
    }
    if previous == NO_TIER || previous > t_loose {
        // First sight, or the current tier got too coarse: refine at once.
        t_loose
    } else if previous < t_strict {
        // Clearly far enough for a coarser tier.
        t_strict
    } else {
        previous
    }
}

/// The finest tier the hysteresis may leave an instance of scale `scale` at, for a
/// threshold whose strict part is `strict`.
#[inline(always)]
fn finest(errors: &[f32; MAX_TIERS], count: u8, scale: f32, strict: f32) -> usize {
    (1..usize::from(count))
        .rev()
        .find(|&t| errors[t] * scale <= strict)
        .unwrap_or(0)
}

/// Chooses a tier for each visible instance, updating `tiers` (one entry per instance,
/// holding the tier chosen last time it was visible, or [`NO_TIER`]), and writes each
/// visible instance's bucket key (`mesh × MAX_TIERS + tier`, or [`SKIP`]) to `keys`.
pub fn select_lods(
    params: &LodParams,
    table: &TierTable,
    instances: &Instances,
    visible: &[u32],
    tiers: &mut Vec<u8>,
    keys: &mut Vec<u32>,
    scratch: &mut LodScratch,
) -> LodOutcome {
    profiling::scope!("select_lods");
    if tiers.len() != instances.len() {
        tiers.resize(instances.len(), NO_TIER);
    }
    let hysteresis = params.hysteresis.clamp(0.0, 0.95);
    keys.clear();
    keys.resize(visible.len(), SKIP);
    scratch.scale.clear();
    scratch.scale.resize(visible.len(), f32::NAN);
    scratch.previous.clear();
    scratch.previous.resize(visible.len(), NO_TIER);
    let mut outcome = LodOutcome {
        threshold_px: params.threshold_px,
        ..LodOutcome::default()
    };
    let strict = params.threshold_px * (1.0 - hysteresis);
    let loose = params.threshold_px;
    let key_of = |mesh: usize, tier: u8| (mesh * MAX_TIERS) as u32 + u32::from(tier);
    for (j, &i) in visible.iter().enumerate() {
        let i = i as usize;
        let mesh = usize::from(instances.mesh[i]);
        if mesh >= table.len() || table.counts[mesh] == 0 {
            tiers[i] = 0;
            continue;
        }
        let center = Vec3::new(instances.x[i], instances.y[i], instances.z[i]);
        let distance = (center.distance(params.eye) - instances.radius[i]).max(1e-3);
        let scale = instances.scale[i] * params.pixels_per_unit / distance;
        let previous = tiers[i];
        let tier = choose(
            previous,
            &table.errors[mesh],
            table.counts[mesh],
            scale,
            strict,
            loose,
        );
        scratch.scale[j] = scale;
        scratch.previous[j] = previous;
        tiers[i] = tier;
        keys[j] = key_of(mesh, tier);
        outcome.triangles += u64::from(table.triangles[mesh][usize::from(tier)]);
    }
    if outcome.triangles <= params.max_triangles {
        return outcome;
    }

    // Over budget: raise the threshold for everything.
    profiling::scope!("triangle_budget");
    let histogram = &mut scratch.histogram;
    histogram.clear();
    histogram.resize(table.len() * BINS, 0);
    for (j, &key) in keys.iter().enumerate() {
        if key != SKIP {
            let mesh = key as usize / MAX_TIERS;
            histogram[mesh * BINS + bin_of(scratch.scale[j])] += 1;
        }
    }
    let bound = |threshold: f32, skip_below: usize| -> u64 {
        let strict = threshold * (1.0 - hysteresis);
        let mut total = 0u64;
        for mesh in 0..table.len() {
            let row = &histogram[mesh * BINS..(mesh + 1) * BINS];
            for (bin, &count) in row.iter().enumerate().skip(skip_below) {
                if count > 0 {
                    let t = finest(
                        &table.errors[mesh],
                        table.counts[mesh],
                        bin_upper(bin),
                        strict,
                    );
                    total += u64::from(count) * u64::from(table.triangles[mesh][t]);
                }
            }
        }
        total
    };
    // The highest threshold that still changes anything: every finite bin at its
    // coarsest tier.
    let mut ceiling = params.threshold_px;
    for mesh in 0..table.len() {
        let count = usize::from(table.counts[mesh]);
        let coarsest = table.errors[mesh][count.saturating_sub(1)];
        if let Some(top) = (0..BINS - 1)
            .rev()
            .find(|&b| histogram[mesh * BINS + b] > 0)
        {
            let needed = coarsest * bin_upper(top) / (1.0 - hysteresis);
            if needed.is_finite() {
                ceiling = ceiling.max(needed * 1.0001);
            }
        }
    }
    let mut skip_below = 0;
    let threshold = if bound(ceiling, 0) <= params.max_triangles {
        // Bisection in log space between the requested threshold and the ceiling.
        let (mut lo, mut hi) = (params.threshold_px.max(1e-6).ln(), ceiling.ln());
        for _ in 0..32 {
            let mid = 0.5 * (lo + hi);
            if bound(mid.exp(), 0) <= params.max_triangles {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi.exp().max(params.threshold_px)
    } else {
        // Even the coarsest tiers do not fit: leave out the smallest on screen, a
        // whole bin (across meshes) at a time.
        let strict = ceiling * (1.0 - hysteresis);
        let mut total = bound(ceiling, 0);
        while skip_below < BINS && total > params.max_triangles {
            for mesh in 0..table.len() {
                let count = histogram[mesh * BINS + skip_below];
                if count > 0 {
                    let upper = bin_upper(skip_below);
                    let t = finest(&table.errors[mesh], table.counts[mesh], upper, strict);
                    total -= u64::from(count) * u64::from(table.triangles[mesh][t]);
                }
            }
            skip_below += 1;
        }
        ceiling
    };
    let strict = threshold * (1.0 - hysteresis);
    outcome = LodOutcome {
        threshold_px: threshold,
        triangles: 0,
        dropped: 0,
    };
    for (j, &i) in visible.iter().enumerate() {
        let key = keys[j];
        if key == SKIP {
            continue;
        }
        let i = i as usize;
        let mesh = key as usize / MAX_TIERS;
        let (scale, previous) = (scratch.scale[j], scratch.previous[j]);
        if bin_of(scale) < skip_below {
            keys[j] = SKIP;
            tiers[i] = previous;
            outcome.dropped += 1;
            continue;
        }
        let tier = choose(
            previous,
            &table.errors[mesh],
            table.counts[mesh],
            scale,
            strict,
            threshold,
        );
        tiers[i] = tier;
        keys[j] = key_of(mesh, tier);
        outcome.triangles += u64::from(table.triangles[mesh][usize::from(tier)]);
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::mesh::{LodTier, Mesh, MeshKind};
    use glam::Quat;

    fn library() -> MeshLibrary {
        let tier = |error| LodTier {
            first_index: 0,
            index_count: 3,
            error,
        };
        MeshLibrary {
            meshes: vec![Mesh {
                name: "m".into(),
                kind: MeshKind::Rock,
                bounds_min: Vec3::ZERO,
                bounds_max: Vec3::ONE,
                radius: 1.0,
                first_vertex: 0,
                vertex_count: 3,
                tiers: vec![tier(0.0), tier(0.01), tier(0.04), tier(0.16)],
            }],
            ..MeshLibrary::default()
        }
    }

    fn at(distance: f32) -> Instances {
        let mut inst = Instances::default();
        inst.push(
            Vec3::new(0.0, 0.0, -distance),
            0.0,
            Quat::IDENTITY,
            1.0,
            0,
            0,
            0.0,
        );
        inst
    }

    fn params() -> LodParams {
        // 1000 px per unit at distance 1, 1 px threshold: tier t is allowed from
        // distance error_t * 1000.
        LodParams {
            eye: Vec3::ZERO,
            pixels_per_unit: 1000.0,
            threshold_px: 1.0,
            hysteresis: 0.2,
            max_triangles: u64::MAX,
        }
    }

    fn select(
        params: &LodParams,
        meshes: &MeshLibrary,
        inst: &Instances,
        visible: &[u32],
        tiers: &mut Vec<u8>,
    ) -> (LodOutcome, Vec<u32>) {
        let mut keys = Vec::new();
        let outcome = select_lods(
            params,
            &TierTable::new(meshes),
            inst,
            visible,
            tiers,
            &mut keys,
            &mut LodScratch::default(),
        );
        (outcome, keys)
    }

    fn tier_at(distance: f32, tiers: &mut Vec<u8>) -> u8 {
        select(&params(), &library(), &at(distance), &[0], tiers);
        tiers[0]
    }

    #[test]
    fn thresholds_pick_the_coarsest_tier_under_the_limit() {
        for (distance, expected) in [
            (5.0, 0),
            (10.5, 1),
            (39.0, 1),
            (41.0, 2),
            (170.0, 3),
            (1e6, 3),
        ] {
            let mut tiers = Vec::new();
            assert_eq!(
                tier_at(distance, &mut tiers),
                expected,
                "at distance {distance}"
            );
        }
    }

    #[test]
    fn hysteresis_keeps_the_tier_near_a_boundary() {
        let mut tiers = Vec::new();
        // Tier 2 becomes allowed at 40 (loose) but only taken from 50 (strict, 40/0.8).
        assert_eq!(tier_at(30.0, &mut tiers), 1);
        assert_eq!(
            tier_at(45.0, &mut tiers),
            1,
            "coarsened inside the hysteresis band"
        );
        assert_eq!(tier_at(51.0, &mut tiers), 2);
        // Coming back in: stays at 2 until its error exceeds the loose threshold.
        assert_eq!(
            tier_at(41.0, &mut tiers),
            2,
            "refined inside the hysteresis band"
        );
        assert_eq!(tier_at(39.0, &mut tiers), 1);
        // Oscillating across the boundary does not flip.
        let flips = (0..20)
            .map(|k| tier_at(if k % 2 == 0 { 38.0 } else { 42.0 }, &mut tiers))
            .collect::<Vec<_>>();
        assert!(flips.iter().all(|&t| t == 1), "{flips:?}");
    }

    #[test]
    fn invisible_instances_keep_their_state_and_bad_mesh_ids_are_safe() {
        let mut inst = at(100.0);
        inst.mesh[0] = 7;
        let mut tiers = Vec::new();
        let (_, keys) = select(&params(), &library(), &inst, &[0], &mut tiers);
        assert_eq!((tiers.clone(), keys), (vec![0], vec![SKIP]));
        select(&params(), &library(), &inst, &[], &mut tiers);
        assert_eq!(tiers, vec![0]);
    }

    /// Tiers of 100, 50, 20 and 5 triangles (errors 0, 0.01, 0.04, 0.16), and `n`
    /// instances spread from distance 2 to 400.
    fn crowd(n: usize) -> (MeshLibrary, Instances, Vec<u32>) {
        let mut meshes = library();
        for (tier, tris) in meshes.meshes[0].tiers.iter_mut().zip([100, 50, 20, 5]) {
            tier.index_count = 3 * tris;
        }
        let mut inst = Instances::default();
        for k in 0..n {
            let d = 2.0 + 398.0 * (k as f32 / n as f32).powi(2);
            inst.push(Vec3::new(0.0, 0.0, -d), 0.0, Quat::IDENTITY, 1.0, 0, 0, 0.0);
        }
        let visible = (0..n as u32).collect();
        (meshes, inst, visible)
    }

    fn total(meshes: &MeshLibrary, keys: &[u32]) -> u64 {
        keys.iter()
            .filter(|&&k| k != SKIP)
            .map(|&k| {
                let tier = &meshes.meshes[k as usize / MAX_TIERS].tiers[k as usize % MAX_TIERS];
                u64::from(tier.index_count / 3)
            })
            .sum()
    }

    #[test]
    fn under_the_budget_nothing_changes() {
        let (meshes, inst, visible) = crowd(1000);
        let mut free = Vec::new();
        let (a, keys) = select(&params(), &meshes, &inst, &visible, &mut free);
        let capped = LodParams {
            max_triangles: a.triangles,
            ..params()
        };
        let mut tiers = Vec::new();
        let (b, _) = select(&capped, &meshes, &inst, &visible, &mut tiers);
        assert_eq!((a, tiers), (b, free));
        assert_eq!(a.threshold_px, 1.0);
        assert_eq!(total(&meshes, &keys), a.triangles);
    }

    #[test]
    fn the_budget_raises_the_threshold_just_enough() {
        let (meshes, inst, visible) = crowd(1000);
        let mut tiers = Vec::new();
        let (free, _) = select(&params(), &meshes, &inst, &visible, &mut tiers);
        for cap in [
            free.triangles * 3 / 4,
            free.triangles / 2,
            free.triangles / 5,
        ] {
            let capped = LodParams {
                max_triangles: cap,
                ..params()
            };
            let mut tiers = Vec::new();
            let (out, keys) = select(&capped, &meshes, &inst, &visible, &mut tiers);
            assert!(out.triangles <= cap, "{} over the cap {cap}", out.triangles);
            assert_eq!(total(&meshes, &keys), out.triangles);
            assert!(out.threshold_px > 1.0 && out.dropped == 0);
            // Not raised much more than needed: the bound is conservative by at most
            // the hysteresis (1 / 0.8) and a bin's width (2^(1/8)), so a threshold
            // lower by more than that would not fit.
            let lower = LodParams {
                threshold_px: out.threshold_px / (1.25 * 1.0905) * 0.99,
                max_triangles: u64::MAX,
                ..params()
            };
            let (more, _) = select(&lower, &meshes, &inst, &visible, &mut Vec::new());
            assert!(
                more.triangles > cap,
                "threshold {} higher than needed",
                out.threshold_px
            );
            // Frame after frame (with hysteresis) it stays within the cap.
            let (again, _) = select(&capped, &meshes, &inst, &visible, &mut tiers);
            assert!(again.triangles <= cap);
        }
    }

    #[test]
    fn past_the_coarsest_tiers_the_smallest_are_left_out() {
        let (meshes, inst, visible) = crowd(1000);
        // Everything at 5 triangles would be 5000.
        let capped = LodParams {
            max_triangles: 2000,
            ..params()
        };
        let (out, keys) = select(&capped, &meshes, &inst, &visible, &mut Vec::new());
        assert!(out.triangles <= 2000 && out.triangles > 1000, "{out:?}");
        assert_eq!(
            keys.iter().filter(|&&k| k == SKIP).count(),
            out.dropped as usize
        );
        // The ones left out are the farthest (smallest on screen).
        let first_dropped = keys.iter().position(|&k| k == SKIP).unwrap_or(keys.len());
        assert!(keys[first_dropped..].iter().all(|&k| k == SKIP));
        assert!(out.dropped > 500);
    }

    #[test]
    fn histogram_bins_are_ordered_and_bound_their_values() {
        let mut last = 0;
        for k in 0..4000 {
            let v = 1e-6 * 1.01f32.powi(k);
            let b = bin_of(v);
            assert!(b >= last && v <= bin_upper(b), "{v} in bin {b}");
            last = b;
        }
        assert_eq!(bin_of(f32::NAN), BINS - 1);
        assert_eq!(bin_of(-1.0), BINS - 1);
        assert_eq!(bin_upper(BINS - 1), f32::INFINITY);
    }
}

//! Forward operators `A` of inverse problems `y = A(x) + n` on one-channel vertex signals.
//!
//! # Layout
//! Every operator maps a signal `x` of length [`ForwardOperator::input_len`] (`[V]`, one
//! value per vertex in the discretisation's vertex order) to `y` of length
//! [`ForwardOperator::output_len`]. The operators here keep the full length `V`:
//!
//! * **masking** sets hidden entries to 0 and keeps observed ones, so networks see a
//!   fixed-size input together with the mask ([`ForwardOperator::observed_mask`]). As a
//!   matrix it is the diagonal 0/1 projection `P`, so its adjoint is itself;
//! * **heat blur** `x ↦ (M + tL)⁻¹ M x` smooths along the surface ([`HeatBlurOperator`]).
//!
//! Adjoints are with respect to the **Euclidean** inner product on vertex values,
//! `⟨a, b⟩ = Σᵢ aᵢbᵢ` (not the mass-weighted one), so that `⟨Ax, y⟩ = ⟨x, Aᵀy⟩` for the
//! plain vectors a network and a data-consistency step exchange.
//!
//! Degradations are named on the command line by [`Degradation`] specs (`mask:0.5`,
//! `blind:0.3:0.7`, `band:-30:30`, `cap:45:10:20`, `blur:0.001`, joined by `+`), prepared once
//! per discretisation and then instantiated per sample from a seed:
//!
//! ```
//! use meshflow_datasets::degrade::{Degradation, Domain, ForwardOperator};
//! use meshflow_geometry::sphere::SphereGrid;
//!
//! let grid = SphereGrid::latlon(61, 120).unwrap();
//! let spec: Degradation = "blur:0.001+mask:0.5".parse().unwrap();
//! let prepared = spec.prepare(&Domain::sphere(&grid)).unwrap(); // factorises the blur once
//! let op = prepared.operator(17); // sample 17's mask, reproducible from the seed
//! let x = vec![1.0_f32; grid.num_vertices()];
//! let y = op.apply(&x);
//! assert_eq!(y.len(), grid.num_vertices());
//! let mask = op.observed_mask().unwrap();
//! assert_eq!(mask.len() - mask.num_observed(), (0.5 * grid.num_vertices() as f64).round() as usize);
//! ```

mod region;
mod spec;

pub use region::{LatLon, Region};
pub use spec::{sample_seed, Degradation, Domain, PreparedDegradation};

use std::fmt::Debug;
use std::sync::Arc;

use meshflow_geometry::operators::{cotan_laplacian, vertex_lumped_mass_matrix, HeatSmoother};
use meshflow_geometry::signal::Mask;
use meshflow_geometry::TriMesh;
use rand::Rng;

use crate::error::{DatasetError, Result};

/// A linear forward operator on one-channel vertex signals (see the [module docs](self) for
/// the layout and the inner product). Object safe.
pub trait ForwardOperator: Send + Sync + Debug {
    /// `y = A x`.
    ///
    /// # Shapes
    /// `x`: `[input_len]` → `[output_len]`.
    ///
    /// # Panics
    /// If `x.len() != input_len()` (a programming error; [`ForwardOperator::try_apply`]
    /// returns an error instead).
    fn apply(&self, x: &[f32]) -> Vec<f32>;

    /// `x = Aᵀ y` in the Euclidean inner product.
    ///
    /// # Shapes
    /// `y`: `[output_len]` → `[input_len]`.
    ///
    /// # Panics
    /// If `y.len() != output_len()`.
    fn adjoint(&self, y: &[f32]) -> Vec<f32>;

    /// Length of the input `x` (the vertex count `V`).
    fn input_len(&self) -> usize;

    /// Length of the output `y` (`V` for every operator here).
    fn output_len(&self) -> usize;

    /// Which output entries carry data (`None` when all do, e.g. a blur).
    fn observed_mask(&self) -> Option<&Mask>;

    /// A short human-readable description, e.g. `mask(hidden 3541/7082)`.
    fn name(&self) -> String;

    /// [`ForwardOperator::apply`] with a length check.
    fn try_apply(&self, x: &[f32]) -> Result<Vec<f32>> {
        check_len("forward operator input", self.input_len(), x.len())?;
        Ok(self.apply(x))
    }

    /// [`ForwardOperator::adjoint`] with a length check.
    fn try_adjoint(&self, y: &[f32]) -> Result<Vec<f32>> {
        check_len("forward operator adjoint input", self.output_len(), y.len())?;
        Ok(self.adjoint(y))
    }
}

fn check_len(what: &str, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(DatasetError::ShapeMismatch {
            what: what.into(),
            expected,
            got,
        })
    }
}

fn assert_len(what: &str, expected: usize, got: usize) {
    assert_eq!(
        expected, got,
        "{what}: expected a signal of length {expected}, got {got}"
    );
}

/// Masking `y = P x`: observed entries are kept, hidden entries set to 0 (self-adjoint).
#[derive(Debug, Clone, PartialEq)]
pub struct MaskingOperator {
    mask: Mask,
}

impl MaskingOperator {
    /// Masking with a given mask (`true` = observed).
    pub fn new(mask: Mask) -> Self {
        Self { mask }
    }

    /// Hides exactly `round(rate · n)` of `n` vertices chosen uniformly without replacement.
    /// `rate` must lie in `[0, 1]`.
    pub fn random<R: Rng + ?Sized>(n: usize, rate: f64, rng: &mut R) -> Result<Self> {
        Ok(Self::new(Mask::random(n, rate, rng)?))
    }

    /// **Blind** masking: draws the rate `p ~ U[lo, hi]` (inclusive), then hides exactly
    /// `round(p · n)` vertices as [`MaskingOperator::random`] does; the rate is not told to
    /// the model. Requires `0 ≤ lo ≤ hi ≤ 1`.
    pub fn blind<R: Rng + ?Sized>(n: usize, lo: f64, hi: f64, rng: &mut R) -> Result<Self> {
        check_rate_range(lo, hi)?;
        let p = if lo == hi {
            lo
        } else {
            rng.random_range(lo..=hi)
        };
        Self::random(n, p, rng)
    }

    /// Hides the vertices inside `region` (and keeps the rest) on a discretisation with the
    /// given per-vertex coordinates.
    pub fn hiding_region(region: &Region, coords: &LatLon) -> Self {
        Self::new(Mask::new(
            region
                .select(coords)
                .into_iter()
                .map(|inside| !inside)
                .collect(),
        ))
    }

    /// The mask (`true` = observed).
    pub fn mask(&self) -> &Mask {
        &self.mask
    }

    /// Number of hidden vertices.
    pub fn num_hidden(&self) -> usize {
        self.mask.len() - self.mask.num_observed()
    }
}

/// Checks `0 ≤ lo ≤ hi ≤ 1` for a blind-masking rate range.
pub(crate) fn check_rate_range(lo: f64, hi: f64) -> Result<()> {
    if (0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi) && lo <= hi {
        Ok(())
    } else {
        Err(DatasetError::InvalidArgument(format!(
            "blind masking needs 0 ≤ LO ≤ HI ≤ 1, got LO = {lo}, HI = {hi}"
        )))
    }
}

impl ForwardOperator for MaskingOperator {
    fn apply(&self, x: &[f32]) -> Vec<f32> {
        assert_len("masking", self.mask.len(), x.len());
        x.iter()
            .zip(self.mask.observed())
            .map(|(&v, &o)| if o { v } else { 0.0 })
            .collect()
    }

    fn adjoint(&self, y: &[f32]) -> Vec<f32> {
        self.apply(y)
    }

    fn input_len(&self) -> usize {
        self.mask.len()
    }

    fn output_len(&self) -> usize {
        self.mask.len()
    }

    fn observed_mask(&self) -> Option<&Mask> {
        Some(&self.mask)
    }

    fn name(&self) -> String {
        format!("mask(hidden {}/{})", self.num_hidden(), self.mask.len())
    }
}

/// The union of the **hidden** sets of several masks over the same vertices: a vertex is
/// observed only if every mask observes it.
pub fn hide_union(masks: &[&Mask]) -> Result<Mask> {
    combine(masks, |a, b| a && b)
}

/// The intersection of the **hidden** sets: a vertex is hidden only if every mask hides it.
pub fn hide_intersection(masks: &[&Mask]) -> Result<Mask> {
    combine(masks, |a, b| a || b)
}

fn combine(masks: &[&Mask], f: impl Fn(bool, bool) -> bool) -> Result<Mask> {
    let first = masks.first().ok_or_else(|| {
        DatasetError::InvalidArgument("combining masks needs at least one mask".into())
    })?;
    let mut observed = first.observed().to_vec();
    for m in &masks[1..] {
        check_len("masks to combine", observed.len(), m.len())?;
        for (o, &n) in observed.iter_mut().zip(m.observed()) {
            *o = f(*o, n);
        }
    }
    Ok(Mask::new(observed))
}

/// Heat-kernel blur on a surface: `x ↦ S x`, `S = (M + tL)⁻¹ M` (one implicit heat step of
/// time `t`, in squared mesh length units; `L` the cotangent Laplacian, `M` the lumped mass),
/// through `meshflow_geometry::operators::HeatSmoother` factorised once.
///
/// `S` is self-adjoint in the mass inner product `⟨a, b⟩_M = aᵀMb`; in the Euclidean inner
/// product used by [`ForwardOperator::adjoint`] its adjoint is `Sᵀ = M (M + tL)⁻¹`, computed
/// as `M · S(M⁻¹ y)`. `S` preserves the mass-weighted mean (`1ᵀ M S x = 1ᵀ M x`).
///
/// Cloning is cheap (the factorisation is shared).
#[derive(Debug, Clone)]
pub struct HeatBlurOperator {
    smoother: Arc<HeatSmoother>,
    mass: Arc<Vec<f64>>,
}

impl HeatBlurOperator {
    /// Factorises `M + tL` on `mesh` for a time `t ≥ 0`. Errors when a vertex belongs to no
    /// face (zero dual area) or the factorisation fails.
    pub fn new(mesh: &TriMesh, time: f64) -> Result<Self> {
        if !(time.is_finite() && time >= 0.0) {
            return Err(DatasetError::InvalidArgument(format!(
                "blur time must be finite and ≥ 0, got {time}"
            )));
        }
        let mass = mesh.vertex_dual_areas();
        if let Some(i) = mass.iter().position(|&a| !(a > 0.0 && a.is_finite())) {
            return Err(DatasetError::InvalidArgument(format!(
                "vertex {i} has dual area {} (it belongs to no non-degenerate face); the heat \
                 blur needs every vertex in a face — remove unreferenced vertices first",
                mass[i]
            )));
        }
        let smoother = HeatSmoother::new(
            &cotan_laplacian(mesh),
            &vertex_lumped_mass_matrix(mesh),
            time,
        )?;
        Ok(Self {
            smoother: Arc::new(smoother),
            mass: Arc::new(mass),
        })
    }

    /// The diffusion time `t`.
    pub fn time(&self) -> f64 {
        self.smoother.time()
    }

    /// The lumped mass (vertex dual areas), `[V]`.
    pub fn mass(&self) -> &[f64] {
        &self.mass
    }

    fn smooth(&self, x: Vec<f64>) -> Vec<f64> {
        self.smoother
            .smooth(&x)
            .expect("length checked against the mass vector")
    }
}

impl ForwardOperator for HeatBlurOperator {
    fn apply(&self, x: &[f32]) -> Vec<f32> {
        assert_len("heat blur", self.mass.len(), x.len());
        let y = self.smooth(x.iter().map(|&v| v as f64).collect());
        y.into_iter().map(|v| v as f32).collect()
    }

    fn adjoint(&self, y: &[f32]) -> Vec<f32> {
        assert_len("heat blur adjoint", self.mass.len(), y.len());
        let scaled = y.iter().zip(self.mass.iter()).map(|(&v, m)| v as f64 / m);
        let s = self.smooth(scaled.collect());
        s.iter()
            .zip(self.mass.iter())
            .map(|(v, m)| (v * m) as f32)
            .collect()
    }

    fn input_len(&self) -> usize {
        self.mass.len()
    }

    fn output_len(&self) -> usize {
        self.mass.len()
    }

    fn observed_mask(&self) -> Option<&Mask> {
        None
    }

    fn name(&self) -> String {
        format!("heat_blur(t={})", self.time())
    }
}

/// Composition `A = Aₖ ∘ … ∘ A₁` of operators applied in the given order (e.g. blur then
/// mask); the adjoint is `A₁ᵀ ∘ … ∘ Aₖᵀ`.
///
/// Its [`ForwardOperator::observed_mask`] is the intersection of the stages' observed sets
/// (`None` when no stage masks). For blur-then-mask that is exactly the set of output entries
/// that carry data.
#[derive(Debug)]
pub struct ComposedOperator {
    stages: Vec<Box<dyn ForwardOperator>>,
    mask: Option<Mask>,
}

impl ComposedOperator {
    /// Composes `stages` (first applied first). Errors when the list is empty or a stage's
    /// output length differs from the next stage's input length.
    pub fn new(stages: Vec<Box<dyn ForwardOperator>>) -> Result<Self> {
        if stages.is_empty() {
            return Err(DatasetError::InvalidArgument(
                "a composed operator needs at least one stage".into(),
            ));
        }
        for w in stages.windows(2) {
            check_len(
                &format!("composition `{}` then `{}`", w[0].name(), w[1].name()),
                w[0].output_len(),
                w[1].input_len(),
            )?;
        }
        let masks: Vec<&Mask> = stages.iter().filter_map(|s| s.observed_mask()).collect();
        let mask = if masks.is_empty() {
            None
        } else {
            Some(hide_union(&masks)?)
        };
        Ok(Self { stages, mask })
    }

    /// The stages, first applied first.
    pub fn stages(&self) -> &[Box<dyn ForwardOperator>] {
        &self.stages
    }
}

impl ForwardOperator for ComposedOperator {
    fn apply(&self, x: &[f32]) -> Vec<f32> {
        let mut v = self.stages[0].apply(x);
        for s in &self.stages[1..] {
            v = s.apply(&v);
        }
        v
    }

    fn adjoint(&self, y: &[f32]) -> Vec<f32> {
        let mut v = y.to_vec();
        for s in self.stages.iter().rev() {
            v = s.adjoint(&v);
        }
        v
    }

    fn input_len(&self) -> usize {
        self.stages[0].input_len()
    }

    fn output_len(&self) -> usize {
        self.stages[self.stages.len() - 1].output_len()
    }

    fn observed_mask(&self) -> Option<&Mask> {
        self.mask.as_ref()
    }

    fn name(&self) -> String {
        self.stages
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(" then ")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use meshflow_geometry::sphere::SphereGrid;
    use rand::{rngs::StdRng, SeedableRng};
    use rand_distr::{Distribution, StandardNormal};

    fn random_vec(n: usize, rng: &mut StdRng) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let v: f64 = StandardNormal.sample(rng);
                v as f32
            })
            .collect()
    }

    /// Asserts `⟨Ax, y⟩ = ⟨x, Aᵀy⟩` on a few random vector pairs (relative 1e-5: f32 data).
    pub(crate) fn assert_adjoint_identity(op: &dyn ForwardOperator, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..3 {
            let x = random_vec(op.input_len(), &mut rng);
            let y = random_vec(op.output_len(), &mut rng);
            let dot = |a: &[f32], b: &[f32]| {
                a.iter()
                    .zip(b)
                    .map(|(p, q)| *p as f64 * *q as f64)
                    .sum::<f64>()
            };
            let ax = op.apply(&x);
            let aty = op.adjoint(&y);
            let (lhs, rhs) = (dot(&ax, &y), dot(&x, &aty));
            let scale =
                (dot(&ax, &ax) * dot(&y, &y)).sqrt() + (dot(&x, &x) * dot(&aty, &aty)).sqrt();
            assert!(
                (lhs - rhs).abs() <= 1e-5 * scale,
                "{}: ⟨Ax, y⟩ = {lhs}, ⟨x, Aᵀy⟩ = {rhs}",
                op.name()
            );
        }
    }

    #[test]
    fn random_masking_hides_exactly_round_p_v() {
        let mut rng = StdRng::seed_from_u64(1);
        for (n, p) in [(7082, 0.5), (1000, 0.333), (10, 0.25), (5, 0.0), (5, 1.0)] {
            let op = MaskingOperator::random(n, p, &mut rng).unwrap();
            assert_eq!(op.num_hidden(), (p * n as f64).round() as usize, "{n} {p}");
            let y = op.apply(&vec![1.0; n]);
            assert_eq!(y.iter().filter(|&&v| v == 0.0).count(), op.num_hidden());
            assert_adjoint_identity(&op, 2);
        }
        assert!(MaskingOperator::random(10, 1.5, &mut rng).is_err());
    }

    #[test]
    fn blind_masking_rates_fall_in_the_range() {
        let n = 2000;
        let mut rng = StdRng::seed_from_u64(4);
        let mut seen = Vec::new();
        for _ in 0..300 {
            let op = MaskingOperator::blind(n, 0.2, 0.6, &mut rng).unwrap();
            let rate = op.num_hidden() as f64 / n as f64;
            assert!((0.2..=0.6).contains(&rate), "{rate}");
            seen.push(rate);
        }
        // Spread over the range, not a constant.
        let (lo, hi) = seen
            .iter()
            .fold((1.0_f64, 0.0_f64), |(a, b), &r| (a.min(r), b.max(r)));
        assert!(lo < 0.25 && hi > 0.55, "{lo} {hi}");
        assert!(MaskingOperator::blind(n, 0.6, 0.2, &mut rng).is_err());
        assert!(MaskingOperator::blind(n, -0.1, 0.2, &mut rng).is_err());
        assert_eq!(
            MaskingOperator::blind(n, 0.3, 0.3, &mut rng)
                .unwrap()
                .num_hidden(),
            600
        );
    }

    #[test]
    fn mask_unions_and_intersections() {
        let a = Mask::new(vec![true, false, true, false]);
        let b = Mask::new(vec![true, true, false, false]);
        assert_eq!(
            hide_union(&[&a, &b]).unwrap().observed(),
            &[true, false, false, false]
        );
        assert_eq!(
            hide_intersection(&[&a, &b]).unwrap().observed(),
            &[true, true, true, false]
        );
        assert!(hide_union(&[&a, &Mask::all_observed(3)]).is_err());
        assert!(hide_union(&[]).is_err());
    }

    #[test]
    fn blur_adjoint_identity_and_mean_preservation() {
        for grid in [
            SphereGrid::latlon(61, 120).unwrap(),
            SphereGrid::icosphere(3),
        ] {
            let op = HeatBlurOperator::new(grid.mesh(), 0.01).unwrap();
            assert_adjoint_identity(&op, 5);
            let mut rng = StdRng::seed_from_u64(6);
            let x = random_vec(grid.num_vertices(), &mut rng);
            let y = op.apply(&x);
            let weighted = |v: &[f32]| {
                v.iter()
                    .zip(op.mass())
                    .map(|(a, m)| *a as f64 * m)
                    .sum::<f64>()
            };
            let total: f64 = op.mass().iter().sum();
            assert!(
                (weighted(&x) - weighted(&y)).abs() / total < 1e-6,
                "{} vs {}",
                weighted(&x),
                weighted(&y)
            );
            // It does smooth: the mass-weighted variance drops.
            let var = |v: &[f32]| {
                let m = weighted(v) / total;
                v.iter()
                    .zip(op.mass())
                    .map(|(a, w)| w * (*a as f64 - m).powi(2))
                    .sum::<f64>()
            };
            assert!(var(&y) < 0.5 * var(&x), "{} vs {}", var(&y), var(&x));
            // The adjoint is not the operator itself in the Euclidean product.
            let aty = op.adjoint(&y);
            assert_ne!(aty, op.apply(&y));
        }
        let g = SphereGrid::icosphere(1);
        assert!(HeatBlurOperator::new(g.mesh(), -1.0).is_err());
        assert!(HeatBlurOperator::new(g.mesh(), f64::NAN).is_err());
    }

    #[test]
    fn composition_adjoint_and_mask() {
        let grid = SphereGrid::icosphere(3);
        let n = grid.num_vertices();
        let mut rng = StdRng::seed_from_u64(8);
        let blur = HeatBlurOperator::new(grid.mesh(), 0.01).unwrap();
        let mask = MaskingOperator::random(n, 0.4, &mut rng).unwrap();
        let expected_mask = mask.mask().clone();
        let op = ComposedOperator::new(vec![Box::new(blur.clone()), Box::new(mask)]).unwrap();
        assert_adjoint_identity(&op, 9);
        assert_eq!(op.observed_mask(), Some(&expected_mask));
        let x = random_vec(n, &mut rng);
        let direct = MaskingOperator::new(expected_mask.clone()).apply(&blur.apply(&x));
        assert_eq!(op.apply(&x), direct);
        assert_eq!(
            op.name(),
            format!(
                "heat_blur(t=0.01) then mask(hidden {}/{n})",
                (0.4 * n as f64).round()
            )
        );
        let short = MaskingOperator::new(Mask::all_observed(n - 1));
        assert!(ComposedOperator::new(vec![Box::new(blur), Box::new(short)]).is_err());
        assert!(ComposedOperator::new(vec![]).is_err());
    }

    #[test]
    fn length_errors_and_panics() {
        let op = MaskingOperator::new(Mask::all_observed(4));
        assert!(op.try_apply(&[1.0; 3]).is_err());
        assert!(op.try_adjoint(&[1.0; 5]).is_err());
        assert_eq!(op.try_apply(&[1.0; 4]).unwrap(), vec![1.0; 4]);
        let caught = std::panic::catch_unwind(|| op.apply(&[1.0; 3]));
        assert!(caught.is_err());
    }
}

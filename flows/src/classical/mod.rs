//! Classical baselines for reconstructing a signal on a surface from masked, noisy
//! measurements, so a user can see when the deep model does not pay off.
//!
//! # Problem
//! A surface with `V` vertices carries an unknown signal `x` (`[V]`, normalised units). The
//! measurement is `y = A(x) + n`: `A` keeps the vertices a [`Mask`] marks observed, and
//! `n ~ N(0, σ² I)` on those vertices. Values of `y` at missing vertices are **ignored** (they
//! may be anything, NaN included). Every method returns a [`Reconstruction`]: the estimate
//! `[V]` and, where the method defines one, a per-vertex posterior standard deviation `[V]`.
//!
//! # Methods
//! - [`NearestFill`]: observed vertices keep `y`; each missing vertex copies its nearest
//!   observed vertex (3-D Euclidean distance, chordal on the sphere).
//! - [`HarmonicFill`]: Tikhonov regularisation with the cotan Laplacian,
//!   `x̂ = argmin ‖P(x − y)‖² + α xᵀLx`, i.e. `(P + αL) x̂ = P y`; `α → 0` is harmonic
//!   interpolation. [`HarmonicFill::fit_alpha`] picks `α` on training fields.
//! - [`GmrfKriging`]: exact Bayesian inference (Gaussian-process kriging) under a Matérn prior
//!   discretised as a Gaussian Markov random field through the SPDE approach
//!   ([`SpdeGmrf`], [`MaternParams`]); returns the posterior mean and std.
//!   [`MaternParams::fit`] fits the prior by maximum likelihood on training fields.
//!
//! Denoising without clean data (no mask; the noise model is known): [`heat_denoise`] with its
//! heat time chosen by SURE ([`sure_heat_time`], white Gaussian noise) or by noisier-to-noisy
//! validation ([`noisier_heat_time`], any noise model that can be resampled).
//!
//! All three reconstructors implement [`Reconstructor`], so a caller can run every method in one loop.
//! The numerics are plain sparse linear algebra (`sprs` matrices, the geometry crate's sparse
//! Cholesky); nothing here uses burn.
//!
//! ```
//! use meshflow_flows::classical::*;
//! use meshflow_geometry::{signal::Mask, sphere::SphereGrid};
//!
//! let grid = SphereGrid::icosphere(2); // 162 vertices on the unit sphere
//! let mesh = grid.mesh();
//! let x: Vec<f32> = mesh.positions().iter().map(|p| p.z as f32).collect();
//! let mask = Mask::new((0..x.len()).map(|i| i % 3 != 0).collect());
//!
//! let prior = SpdeGmrf::new(mesh, MaternParams::from_range_and_std(1.0, 1.0, 0.0).unwrap())
//!     .unwrap();
//! let methods: Vec<Box<dyn Reconstructor>> = vec![
//!     Box::new(NearestFill::new(mesh)),
//!     Box::new(HarmonicFill::new(mesh, 1e-3).unwrap()),
//!     Box::new(GmrfKriging::new(prior, 0.01, StdMethod::Exact).unwrap()),
//! ];
//! for m in &methods {
//!     let r = m.reconstruct(&x, &mask).unwrap();
//!     let err = hidden_rmse(&r.mean, &x, &mask).unwrap().expect("some vertices hidden");
//!     assert!(err < 0.2, "{}: {err}", m.name());
//! }
//! ```

mod envelope;
mod gmrf;
mod harmonic;
mod heat_denoise;
mod nearest;
mod repaired;
#[cfg(test)]
mod tests;

pub use gmrf::{
    GmrfFit, GmrfFitOptions, GmrfKriging, GmrfPosterior, MaternParams, SpdeGmrf, StdMethod,
};
pub use harmonic::{AlphaFit, HarmonicFill};
pub use heat_denoise::{heat_denoise, noisier_heat_time, sure_heat_time, HeatTimeChoice};
pub use nearest::NearestFill;
pub use repaired::{MeshRepair, OnRepairedMesh};

use meshflow_geometry::signal::Mask;
use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::{FlowError, Result};

/// The output of a [`Reconstructor`].
#[derive(Debug, Clone, PartialEq)]
pub struct Reconstruction {
    /// The estimate of the signal, `[V]`.
    pub mean: Vec<f32>,
    /// Per-vertex posterior standard deviation, `[V]`, for methods with a probabilistic model
    /// (`None` otherwise).
    pub std: Option<Vec<f32>>,
}

/// A method that reconstructs a signal from a masked, noisy measurement.
pub trait Reconstructor {
    /// A short name for tables and command lines (`nearest`, `harmonic`, `gmrf-kriging`).
    fn name(&self) -> &str;

    /// Reconstructs the signal from the measurement `y` (`[V]`; values at missing vertices
    /// are ignored) and the `mask` (`[V]`, `true` = observed).
    ///
    /// # Errors
    /// [`FlowError::InvalidArgument`] if the lengths disagree with the mesh or an observed
    /// value is not finite; method-specific errors otherwise.
    fn reconstruct(&self, y: &[f32], mask: &Mask) -> Result<Reconstruction>;
}

/// The degradation protocol used to fit hyper-parameters on training fields: hide a random
/// fraction of the vertices, add Gaussian noise to the observed ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Degradation {
    /// Fraction of vertices hidden, in `[0, 1)` (`Mask::random`: exactly `round(rate·V)`).
    pub mask_rate: f64,
    /// Standard deviation of the noise on observed vertices, ≥ 0, in normalised units.
    pub sigma: f64,
}

impl Degradation {
    /// Checks `mask_rate ∈ [0, 1)` and `sigma ≥ 0` (both finite).
    pub fn new(mask_rate: f64, sigma: f64) -> Result<Self> {
        if !(mask_rate.is_finite() && (0.0..1.0).contains(&mask_rate)) {
            return Err(FlowError::InvalidArgument(format!(
                "mask rate must be in [0, 1), got {mask_rate}"
            )));
        }
        if !(sigma.is_finite() && sigma >= 0.0) {
            return Err(FlowError::InvalidArgument(format!(
                "noise sigma must be finite and non-negative, got {sigma}"
            )));
        }
        Ok(Self { mask_rate, sigma })
    }

    /// Degrades one field `x` (`[V]`): draws the mask, then the noise, from `rng` in that
    /// order. Returns `(y, mask)`, `y[i] = x[i] + σ·ε_i` at observed vertices and `0` at
    /// missing ones.
    pub fn apply<R: Rng + ?Sized>(&self, x: &[f32], rng: &mut R) -> Result<(Vec<f32>, Mask)> {
        let mask = Mask::random(x.len(), self.mask_rate, rng)?;
        let y = x
            .iter()
            .zip(mask.observed())
            .map(|(&v, &o)| {
                if o {
                    let e: f64 = rng.sample(StandardNormal);
                    (v as f64 + self.sigma * e) as f32
                } else {
                    0.0
                }
            })
            .collect();
        Ok((y, mask))
    }
}

/// RMSE over the vertices the mask marks **missing** (unweighted); `None` when none is missing.
///
/// # Errors
/// [`FlowError::InvalidArgument`] if the three lengths differ.
pub fn hidden_rmse(pred: &[f32], truth: &[f32], mask: &Mask) -> Result<Option<f64>> {
    if pred.len() != truth.len() || mask.len() != truth.len() {
        return Err(FlowError::InvalidArgument(format!(
            "hidden_rmse: prediction ({}), truth ({}) and mask ({}) lengths differ",
            pred.len(),
            truth.len(),
            mask.len()
        )));
    }
    let (sse, n) = hidden_sse(pred, truth, mask);
    Ok((n > 0).then(|| (sse / n as f64).sqrt()))
}

/// Sum of squared errors over the missing vertices and their count.
fn hidden_sse<P: Copy + Into<f64>>(pred: &[P], truth: &[f32], mask: &Mask) -> (f64, usize) {
    let mut sse = 0.0;
    let mut n = 0;
    for i in 0..truth.len() {
        if !mask.observed()[i] {
            sse += (pred[i].into() - truth[i] as f64).powi(2);
            n += 1;
        }
    }
    (sse, n)
}

/// `n` values spaced evenly in log scale from `lo` to `hi` inclusive (both > 0), e.g.
/// `log_grid(1e-4, 1e2, 13)` for half-decade steps.
///
/// # Errors
/// [`FlowError::InvalidArgument`] unless `0 < lo ≤ hi` (finite) and `n ≥ 1`.
pub fn log_grid(lo: f64, hi: f64, n: usize) -> Result<Vec<f64>> {
    if !(lo > 0.0 && hi >= lo && hi.is_finite()) || n == 0 {
        return Err(FlowError::InvalidArgument(format!(
            "log_grid needs 0 < lo ≤ hi and n ≥ 1, got lo = {lo}, hi = {hi}, n = {n}"
        )));
    }
    if n == 1 {
        return Ok(vec![lo]);
    }
    let (a, b) = (lo.ln(), hi.ln());
    Ok((0..n)
        .map(|i| (a + (b - a) * i as f64 / (n - 1) as f64).exp())
        .collect())
}

/// Checks a measurement against a mesh of `n` vertices and returns it in f64 with the values at
/// missing vertices set to 0.
fn observed_f64<T: Copy + Into<f64>>(y: &[T], mask: &Mask, n: usize) -> Result<Vec<f64>> {
    if y.len() != n || mask.len() != n {
        return Err(FlowError::InvalidArgument(format!(
            "measurement has {} values and the mask {} flags, but the mesh has {n} vertices",
            y.len(),
            mask.len()
        )));
    }
    y.iter()
        .zip(mask.observed())
        .enumerate()
        .map(|(i, (&v, &o))| {
            let v: f64 = v.into();
            match (o, v.is_finite()) {
                (false, _) => Ok(0.0),
                (true, true) => Ok(v),
                (true, false) => Err(FlowError::InvalidArgument(format!(
                    "observed value at vertex {i} is not finite ({v}); mark it missing in the mask"
                ))),
            }
        })
        .collect()
}

fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

fn check_fields(fields: &[Vec<f32>], n: usize, what: &str) -> Result<()> {
    if fields.is_empty() {
        return Err(FlowError::InvalidArgument(format!(
            "{what}: no training fields"
        )));
    }
    for (k, f) in fields.iter().enumerate() {
        if f.len() != n {
            return Err(FlowError::InvalidArgument(format!(
                "{what}: training field {k} has {} values, the mesh has {n} vertices",
                f.len()
            )));
        }
        if let Some(i) = f.iter().position(|v| !v.is_finite()) {
            return Err(FlowError::InvalidArgument(format!(
                "{what}: training field {k} is not finite at vertex {i}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod unit_tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn degradation_masks_and_noises() {
        let d = Degradation::new(0.25, 0.0).unwrap();
        let x: Vec<f32> = (0..100).map(|i| i as f32).collect();
        let (y, m) = d.apply(&x, &mut StdRng::seed_from_u64(1)).unwrap();
        assert_eq!(m.num_observed(), 75);
        for i in 0..100 {
            assert_eq!(y[i], if m.observed()[i] { x[i] } else { 0.0 });
        }
        assert!(Degradation::new(1.0, 0.1).is_err());
        assert!(Degradation::new(0.5, -1.0).is_err());
    }

    #[test]
    fn log_grid_endpoints() {
        let g = log_grid(1e-3, 1e3, 7).unwrap();
        assert_eq!(g.len(), 7);
        assert!((g[0] - 1e-3).abs() < 1e-15 && (g[6] - 1e3).abs() < 1e-9);
        assert!((g[3] - 1.0).abs() < 1e-12);
        assert!(log_grid(0.0, 1.0, 3).is_err());
    }
}

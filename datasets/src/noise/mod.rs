//! Noise models `p(x₁ | x₀)`: the corruption that inverse flows (IFM/ICM) learn to undo from
//! noisy data only, and that the synthetic benchmarks apply to clean fields.
//!
//! # Conventions
//! * Signals are **normalised to `[0, 1]`** (see `meshflow_geometry::signal::Normalisation`),
//!   so every noise level (`σ`, `K`, `T`) is in those normalised units.
//! * Every model maps `x₀` to a sample `x₁` of the **same length**. Pointwise models accept a
//!   slice of any length; the spatially correlated model accepts `[B × V]` row-major (`B ≥ 1`
//!   signals on its `V` vertices, one after the other).
//! * Sampling takes `&mut dyn RngCore`; pass a seeded `StdRng` for reproducible noise.
//! * [`NoiseModel::sample`] is the hot path (called on every training step) and never fails:
//!   a non-finite input entry gives a non-finite output entry. [`NoiseModel::try_sample`] checks the
//!   input first and returns a [`DatasetError`] instead.
//!
//! # Models and their specs
//! | spec | model | `x₁` | mean | variance |
//! | --- | --- | --- | --- | --- |
//! | `gaussian:SIGMA` | [`GaussianNoise`] | `x₀ + σε` | `x₀` | `σ²` |
//! | `correlated:SIGMA:LENGTH` | [`CorrelatedGaussianNoise`] | `x₀ + σ·(heat-smoothed white noise, unit marginal variance)` | `x₀` | `σ²` |
//! | `poisson:K` | [`PoissonNoise`] | `Poisson(K·x₀)/K` | `x₀` | `x₀/K` |
//! | `gamma:SIGMA` | [`GammaNoise`] | `x₀·g`, `g ~ Gamma(1/σ², σ²)` | `x₀` | `σ²x₀²` |
//! | `jacobi:T` | [`JacobiNoise`] | Jacobi diffusion run for time `T` | see [`JacobiNoise`] | see [`JacobiNoise`] |
//!
//! ```
//! use meshflow_datasets::noise::{NoiseModel, NoiseSpec};
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! let spec: NoiseSpec = "poisson:50".parse().unwrap();
//! let model = spec.build(None).unwrap(); // only `correlated` needs a mesh
//! let x0 = vec![0.2_f32, 0.5, 0.8];
//! let x1 = model.sample(&x0, &mut StdRng::seed_from_u64(7));
//! assert_eq!(x1.len(), 3);
//! assert_eq!(model.mean(&x0), x0);
//! assert_eq!(model.spec(), "poisson:50");
//! ```

mod correlated;
mod jacobi;
mod pointwise;
mod recorrupt;
mod spec;

pub use correlated::{CorrelatedGaussianNoise, VarianceMethod};
pub use jacobi::JacobiNoise;
pub use pointwise::{GammaNoise, GaussianNoise, PoissonNoise};
pub use recorrupt::{recorrupt, Recorrupted, GAUSSIAN_ALPHA, POISSON_KEEP};
pub use spec::NoiseSpec;

use rand::RngCore;

use crate::error::{DatasetError, Result};

/// A conditional noise distribution `p(x₁ | x₀)` on normalised signals.
///
/// Object safe: training code holds a `Box<dyn NoiseModel>` built from a [`NoiseSpec`].
pub trait NoiseModel: Send + Sync + std::fmt::Debug {
    /// Draws `x₁ ~ p(· | x₀)`, same length as `x₀`.
    ///
    /// # Shapes
    /// `x₀`: `[N]` for pointwise models (any `N`), `[B × V]` row-major for a model with a fixed
    /// vertex count `V` ([`NoiseModel::num_vertices`]); the output has the shape of `x₀`.
    ///
    /// Non-finite entries of `x₀` give non-finite outputs (NaN or ±∞; use
    /// [`NoiseModel::try_sample`] to reject them).
    ///
    /// # Panics
    /// If a model with a fixed vertex count gets a length that is not a multiple of it (a
    /// programming error: the signal and the model were built for different discretisations).
    fn sample(&self, x0: &[f32], rng: &mut dyn RngCore) -> Vec<f32>;

    /// The conditional mean `E[x₁ | x₀]`, elementwise, same shape as `x₀`.
    fn mean(&self, x0: &[f32]) -> Vec<f32>;

    /// The conditional marginal variance `Var[x₁ᵢ | x₀]`, elementwise, same shape as `x₀`.
    fn variance(&self, x0: &[f32]) -> Vec<f32>;

    /// The spec string that rebuilds this model (`NoiseSpec::to_string`), e.g. `gaussian:0.1`.
    fn spec(&self) -> String;

    /// True for additive Gaussian noise `x₁ = x₀ + n`, `n ~ N(0, C)` independent of `x₀`
    /// (white or correlated), for which closed-form baselines (Wiener filter, known-covariance
    /// posteriors) apply.
    fn is_additive_gaussian(&self) -> bool;

    /// The number of vertices `V` the model is tied to (the correlated model), or `None` for a
    /// pointwise model that accepts any length.
    fn num_vertices(&self) -> Option<usize> {
        None
    }

    /// Checks that `x₀` has a valid length (a positive multiple of
    /// [`NoiseModel::num_vertices`] when there is one) and only finite values.
    fn check_input(&self, x0: &[f32]) -> Result<()> {
        if let Some(v) = self.num_vertices() {
            if x0.is_empty() || !x0.len().is_multiple_of(v) {
                return Err(DatasetError::ShapeMismatch {
                    what: format!("input of `{}` ([B × V] with V = {v})", self.spec()),
                    expected: v * (x0.len() / v).max(1),
                    got: x0.len(),
                });
            }
        }
        check_finite(x0)
    }

    /// [`NoiseModel::sample`] after [`NoiseModel::check_input`].
    fn try_sample(&self, x0: &[f32], rng: &mut dyn RngCore) -> Result<Vec<f32>> {
        self.check_input(x0)?;
        Ok(self.sample(x0, rng))
    }
}

/// Errors on the first non-finite value.
pub(crate) fn check_finite(x: &[f32]) -> Result<()> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(DatasetError::NonFinite {
            what: "signal value",
            index,
        }),
        None => Ok(()),
    }
}

/// Errors unless `value` is finite and `value > 0` (or `≥ 0` when `allow_zero`).
pub(crate) fn check_level(name: &str, value: f64, allow_zero: bool) -> Result<()> {
    let ok = value.is_finite() && (value > 0.0 || (allow_zero && value == 0.0));
    if ok {
        Ok(())
    } else {
        let bound = if allow_zero { "≥ 0" } else { "> 0" };
        Err(DatasetError::InvalidArgument(format!(
            "{name} must be finite and {bound}, got {value}"
        )))
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Monte-Carlo moment checks shared by the noise-model tests.

    use super::NoiseModel;
    use rand::{rngs::StdRng, SeedableRng};

    /// A fixed `x₀` of `n` values spread over `(0, 1)`, including values near both ends.
    pub fn fixed_x0(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| 0.02 + 0.96 * ((i * 37) % n) as f32 / (n - 1) as f32)
            .collect()
    }

    /// Per-entry sample mean, variance and fourth central moment over `draws` samples.
    pub fn moments(model: &dyn NoiseModel, x0: &[f32], draws: usize, seed: u64) -> Moments {
        let mut rng = StdRng::seed_from_u64(seed);
        let samples: Vec<Vec<f32>> = (0..draws).map(|_| model.sample(x0, &mut rng)).collect();
        let n = draws as f64;
        let mean: Vec<f64> = (0..x0.len())
            .map(|i| samples.iter().map(|s| s[i] as f64).sum::<f64>() / n)
            .collect();
        let central = |i: usize, p: i32| {
            samples
                .iter()
                .map(|s| (s[i] as f64 - mean[i]).powi(p))
                .sum::<f64>()
                / n
        };
        let var: Vec<f64> = (0..x0.len())
            .map(|i| central(i, 2) * n / (n - 1.0))
            .collect();
        let m4: Vec<f64> = (0..x0.len()).map(|i| central(i, 4)).collect();
        Moments {
            mean,
            var,
            m4,
            draws,
        }
    }

    /// Sample moments of a noise model at a fixed input.
    pub struct Moments {
        pub mean: Vec<f64>,
        pub var: Vec<f64>,
        pub m4: Vec<f64>,
        pub draws: usize,
    }

    impl Moments {
        /// Asserts that every entry's sample mean and variance match the model's stated ones
        /// within 5 Monte-Carlo standard errors (mean: `√(v/n)`; variance: `√((m₄ − v²)/n)`),
        /// plus a small absolute slack for f32 rounding.
        pub fn assert_match(&self, model: &dyn NoiseModel, x0: &[f32]) {
            let n = self.draws as f64;
            let mean = model.mean(x0);
            let var = model.variance(x0);
            for i in 0..x0.len() {
                let (m, v) = (mean[i] as f64, var[i] as f64);
                let se_mean = (self.var[i] / n).sqrt();
                let se_var = ((self.m4[i] - self.var[i].powi(2)).max(0.0) / n).sqrt();
                assert!(
                    (self.mean[i] - m).abs() <= 5.0 * se_mean + 1e-6,
                    "{}: entry {i} (x0 = {}): sample mean {} vs stated {m} (5 SE = {})",
                    model.spec(),
                    x0[i],
                    self.mean[i],
                    5.0 * se_mean
                );
                assert!(
                    (self.var[i] - v).abs() <= 5.0 * se_var + 1e-9,
                    "{}: entry {i} (x0 = {}): sample variance {} vs stated {v} (5 SE = {})",
                    model.spec(),
                    x0[i],
                    self.var[i],
                    5.0 * se_var
                );
            }
        }
    }
}

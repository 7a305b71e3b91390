//! Recorrupted pairs: estimating a denoiser's mean squared error from noisy data alone.
//!
//! From one noisy observation `y` of an unknown clean `x`, draw an `input` and a `target`
//! whose noises are independent given `x` and whose `target` is unbiased for `x`. Then for any
//! denoiser `D` applied to `input`,
//!
//! `E‖D(input) − target‖² / V = E‖D(input) − x‖² / V + target_noise_variance`,
//!
//! so `mean((D(input) − target)²) − target_noise_variance` estimates the denoiser's MSE
//! without `x`, at the (slightly higher) noise level of `input`. Differences between denoisers
//! scored on the **same** pairs do not carry the target noise at all, which makes the estimate
//! good for ranking models and checkpoints.
//!
//! * Additive Gaussian noise, white or correlated (Pang et al. 2021, "Recorrupted-to-
//!   Recorrupted"): `input = y + αz`, `target = y − z/α` with `z` a fresh draw of the noise;
//!   `input` carries `(1 + α²)` times the noise variance, `target` `(1 + 1/α²)` times it.
//! * Poisson counts (binomial thinning): the `c = K·y` counts split into `c₁ ~ Bin(c, p)` and
//!   `c₂ = c − c₁`, independent `Poisson(pKx)` and `Poisson((1 − p)Kx)`; `input = c₁/(pK)` is
//!   the `poisson:pK` observation of `x`, `target = c₂/((1 − p)K)`.
//!
//! Gamma and Jacobi noise have no such split here (`None`).

use rand::{Rng, RngCore};

use super::{NoiseModel, NoiseSpec};
use crate::error::{DatasetError, Result};

/// The `α` of the Gaussian recorruption: the input carries 1.25× the noise variance.
pub const GAUSSIAN_ALPHA: f64 = 0.5;

/// The kept fraction `p` of Poisson thinning: the input is a `poisson:0.9K` observation.
pub const POISSON_KEEP: f64 = 0.9;

/// One recorrupted pair of a noisy signal (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Recorrupted {
    /// What the denoiser gets, same shape as the noisy signal.
    pub input: Vec<f32>,
    /// The unbiased, independently noisy target, same shape.
    pub target: Vec<f32>,
    /// Unbiased estimates of the target's noise variance, one per value (average them with
    /// the weights of the squared error).
    pub target_noise_variance: Vec<f32>,
}

/// A recorrupted pair of `noisy` under `spec` (`model` is its built model, used to draw the
/// additive noise); `None` where the noise model has no split (gamma, jacobi).
///
/// # Errors
/// An empty signal, a non-finite value, or for Poisson noise a value that is not a whole
/// number of counts `c / K` (an input that was not drawn from `poisson:K`).
pub fn recorrupt(
    spec: &NoiseSpec,
    model: &dyn NoiseModel,
    noisy: &[f32],
    rng: &mut dyn RngCore,
) -> Result<Option<Recorrupted>> {
    if noisy.is_empty() {
        return Err(DatasetError::InvalidArgument(
            "recorrupt: empty signal".into(),
        ));
    }
    if let Some(i) = noisy.iter().position(|v| !v.is_finite()) {
        return Err(DatasetError::InvalidArgument(format!(
            "recorrupt: value {i} is {}",
            noisy[i]
        )));
    }
    Ok(match *spec {
        NoiseSpec::Gaussian { .. } | NoiseSpec::Correlated { .. } => {
            let a = GAUSSIAN_ALPHA;
            let z = model.sample(&vec![0.0; noisy.len()], rng);
            Some(Recorrupted {
                input: noisy
                    .iter()
                    .zip(&z)
                    .map(|(&y, &z)| (f64::from(y) + a * f64::from(z)) as f32)
                    .collect(),
                target: noisy
                    .iter()
                    .zip(&z)
                    .map(|(&y, &z)| (f64::from(y) - f64::from(z) / a) as f32)
                    .collect(),
                target_noise_variance: z
                    .iter()
                    .map(|&v| (f64::from(v).powi(2) * (1.0 + 1.0 / (a * a))) as f32)
                    .collect(),
            })
        }
        NoiseSpec::Poisson { k } => {
            let p = POISSON_KEEP;
            let (mut input, mut target) = (Vec::with_capacity(noisy.len()), Vec::new());
            target.reserve(noisy.len());
            for (i, &y) in noisy.iter().enumerate() {
                let c = f64::from(y) * k;
                let counts = c.round();
                if (c - counts).abs() > 1e-3 * counts.max(1.0) || counts < 0.0 {
                    return Err(DatasetError::InvalidArgument(format!(
                        "recorrupt: value {i} ({y}) is not a whole number of counts / {k}; \
                         Poisson thinning needs the noisy `poisson:{k}` observation itself"
                    )));
                }
                let kept = (0..counts as u64).filter(|_| rng.random_bool(p)).count() as f64;
                input.push((kept / (p * k)) as f32);
                target.push(((counts - kept) / ((1.0 - p) * k)) as f32);
            }
            // E[y] = x and Var[target] = x / ((1 − p)K).
            Some(Recorrupted {
                input,
                target,
                target_noise_variance: noisy
                    .iter()
                    .map(|&y| (f64::from(y) / ((1.0 - p) * k)) as f32)
                    .collect(),
            })
        }
        NoiseSpec::Gamma { .. } | NoiseSpec::Jacobi { .. } => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    /// Monte-Carlo over many recorruptions of many noisy draws of one clean signal: the target
    /// is unbiased for `x`, its noise is uncorrelated with the input's, and the estimate of the
    /// identity denoiser's MSE at the input's level matches that level's variance.
    fn check(spec: &str, x0: &[f32], input_variance: impl Fn(f64) -> f64) {
        let spec: NoiseSpec = spec.parse().unwrap();
        let model = spec.build(None).unwrap();
        let mut rng = StdRng::seed_from_u64(5);
        let reps = 6000;
        let (mut bias, mut cross, mut est, mut truth) = (0.0, 0.0, 0.0, 0.0);
        for _ in 0..reps {
            let y = model.sample(x0, &mut rng);
            let r = recorrupt(&spec, model.as_ref(), &y, &mut rng)
                .unwrap()
                .unwrap();
            for ((&i, &t), &x) in r.input.iter().zip(&r.target).zip(x0) {
                let (i, t, x) = (f64::from(i), f64::from(t), f64::from(x));
                bias += t - x;
                cross += (i - x) * (t - x);
            }
            // The identity denoiser: D(input) = input.
            let sq = r
                .input
                .iter()
                .zip(&r.target)
                .map(|(&i, &t)| f64::from(i - t).powi(2))
                .sum::<f64>()
                / x0.len() as f64;
            let var = r
                .target_noise_variance
                .iter()
                .map(|&v| f64::from(v))
                .sum::<f64>();
            est += sq - var / x0.len() as f64;
            truth += x0
                .iter()
                .map(|&x| input_variance(f64::from(x)))
                .sum::<f64>()
                / x0.len() as f64;
        }
        let m = (reps * x0.len()) as f64;
        assert!((bias / m).abs() < 0.01, "{spec}: target bias {}", bias / m);
        assert!(
            (cross / m).abs() < 0.005,
            "{spec}: input/target covariance {}",
            cross / m
        );
        let (est, truth) = (est / reps as f64, truth / reps as f64);
        assert!(
            (est - truth).abs() < 0.06 * truth,
            "{spec}: estimated MSE {est} vs the input's noise variance {truth}"
        );
    }

    #[test]
    fn recorrupted_pairs_give_unbiased_mse_estimates() {
        // 256 values cycling through [0, 1]: enough samples that the Monte-Carlo error of the
        // estimate (dominated by the target's heavy Poisson noise) is ≈ 1.5 % of it.
        let levels = [0.0_f32, 0.1, 0.3, 0.5, 0.9, 1.0, 0.2, 0.7];
        let x0: Vec<f32> = (0..256).map(|i| levels[i % 8]).collect();
        check("gaussian:0.1", &x0, |_| {
            0.01 * (1.0 + GAUSSIAN_ALPHA.powi(2))
        });
        check("poisson:10", &x0, |x| x / (POISSON_KEEP * 10.0));
    }

    #[test]
    fn bad_input_and_unsplittable_noise() {
        let mut rng = StdRng::seed_from_u64(0);
        let poisson: NoiseSpec = "poisson:10".parse().unwrap();
        let model = poisson.build(None).unwrap();
        let err = recorrupt(&poisson, model.as_ref(), &[0.1, 0.25], &mut rng).unwrap_err();
        assert!(
            err.to_string().contains("not a whole number of counts"),
            "{err}"
        );
        let err = recorrupt(&poisson, model.as_ref(), &[f32::NAN], &mut rng).unwrap_err();
        assert!(err.to_string().contains("NaN"), "{err}");
        assert!(recorrupt(&poisson, model.as_ref(), &[], &mut rng).is_err());
        let gamma: NoiseSpec = "gamma:0.1".parse().unwrap();
        let model = gamma.build(None).unwrap();
        assert!(recorrupt(&gamma, model.as_ref(), &[0.5], &mut rng)
            .unwrap()
            .is_none());
    }
}

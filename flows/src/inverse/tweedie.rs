//! Noise2Score / Tweedie: a denoiser from a score model of the **noisy** data, the deep
//! no-clean-data baseline of the inverse flows.
//!
//! For additive Gaussian noise `x₁ = x₀ + n`, `n ~ N(0, C)`, Tweedie's formula gives the
//! posterior mean from the score of the noisy marginal: `E[x₀ | x₁] = x₁ + C ∇log p(x₁)`.
//! Train a score prior on the noisy signals with [`crate::train::ScorePriorTrainer`] and
//! evaluate it at the diffusion's smallest time (where `p_t ≈ p`).

use burn::tensor::{backend::Backend, Tensor};

use crate::score::ScoreNetwork;
use crate::util;

/// The covariance `C` of additive Gaussian noise.
pub enum NoiseCovariance<'a> {
    /// White noise, `C = σ² I` (the variance `σ²`).
    Isotropic(f64),
    /// Any covariance, as the map `v ↦ C v` on one signal `[D]` (correlated noise: the
    /// known smoothing covariance).
    Apply(&'a dyn Fn(&[f32]) -> Vec<f32>),
}

/// Tweedie's estimate `x̂₀ = x₁ + C s(x₁, t)` with the score model evaluated at time `t`
/// (use the diffusion's `eps`).
///
/// # Shapes
/// - `x1`: `[N, D]` → `[N, D]`
pub fn tweedie_denoise<B: Backend, S: ScoreNetwork<B>>(
    score: &S,
    x1: Tensor<B, 2>,
    t: f64,
    covariance: &NoiseCovariance,
) -> Tensor<B, 2> {
    let [n, d] = x1.dims();
    let device = x1.device();
    let s = score.forward(x1.clone(), Tensor::full([n], t, &device));
    let correction = match covariance {
        NoiseCovariance::Isotropic(var) => s.mul_scalar(*var),
        NoiseCovariance::Apply(apply) => {
            let host = util::to_vec(s);
            let cs: Vec<f32> = host.chunks(d).flat_map(apply).collect();
            util::tensor2(cs, n, d, &device)
        }
    };
    x1 + correction
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::GaussianScore;
    use crate::sde::VpSde;
    use crate::util::to_vec;
    use burn::backend::NdArray;
    use rand::{rngs::StdRng, SeedableRng};

    type B = NdArray<f32>;

    /// With the exact score of the noisy marginal `N(μ, s² + c)` Tweedie is the Wiener filter
    /// `μ + s²/(s² + c)(x₁ − μ)`, for white and for (diagonal, non-uniform) known covariance.
    #[test]
    fn tweedie_with_the_exact_score_is_the_wiener_filter() {
        let dev = Default::default();
        let mu = [0.5f32, -1.0, 0.0];
        let s = [0.4f32, 1.0, 0.2];
        for c in [[0.09f32, 0.09, 0.09], [0.01, 0.25, 0.04]] {
            let std1: Vec<f32> = (0..3).map(|j| (s[j] * s[j] + c[j]).sqrt()).collect();
            let sde = VpSde::new();
            let score = GaussianScore::<B>::new(&mu, &std1, sde, &dev);
            let mut rng = StdRng::seed_from_u64(1);
            let x1 = util::randn::<B, _>(&mut rng, 50, 3, &dev);
            let apply =
                move |v: &[f32]| -> Vec<f32> { v.iter().zip(&c).map(|(a, b)| a * b).collect() };
            let cov = if c[0] == c[1] {
                NoiseCovariance::Isotropic(c[0] as f64)
            } else {
                NoiseCovariance::Apply(&apply)
            };
            let out = to_vec(tweedie_denoise(&score, x1.clone(), sde.eps, &cov));
            let x = to_vec(x1);
            for i in 0..x.len() {
                let j = i % 3;
                let w = mu[j] + s[j] * s[j] / (s[j] * s[j] + c[j]) * (x[i] - mu[j]);
                assert!(
                    (out[i] - w).abs() < 2e-3 * (1.0 + w.abs()),
                    "{} vs {w}",
                    out[i]
                );
            }
        }
    }
}

//! Diffusion posterior sampling for masked measurements `y = mask ⊙ (x + n)`: DPS (Chung,
//! Kim, McCann, Klasky & Ye 2023, "Diffusion posterior sampling for general noisy inverse
//! problems") and MCG (Chung, Sim, Ryu & Ye 2022, "Improving diffusion models for inverse
//! problems using manifold constraints"). The slow, per-measurement reference for the amortised
//! sampler of [`crate::amortized`].
//!
//! # Algorithm
//! On the time grid `tᵢ = T + i (eps − T)/N`, `i = 0..N`, starting from `x₀ ~ N(0, I)`, every
//! step evaluates the score once (one network evaluation, NFE, plus its vector-Jacobian
//! product) and:
//!
//! ```text
//! x̂₀      = (xᵢ + σ(tᵢ)² s_θ(xᵢ, tᵢ)) / α(tᵢ)                      (Tweedie)
//! βᵢ      = 1 − (α(tᵢ)/α(tᵢ₊₁))²
//! x'      = (xᵢ + βᵢ s_θ) / √(1 − βᵢ) + √βᵢ ε                      (ancestral VP step)
//! xᵢ₊₁    = x' − ζ ∇_{xᵢ} ‖y − mask ⊙ x̂₀(xᵢ)‖                      (DPS guidance)
//! MCG only: observed entries of xᵢ₊₁ ← α(tᵢ₊₁) y + σ(tᵢ₊₁) ε'       (projection)
//! ```
//!
//! The norm is taken per measurement (row), not squared: this is Chung et al.'s step size
//! `ζᵢ = ζ/‖y − A(x̂₀)‖` applied to the gradient of the *squared* residual, up to a factor 2
//! absorbed in `ζ`. The last step adds no noise. The step length in `x` is about `ζ` per step
//! once `x̂₀ ≈ xᵢ` (late times), so `ζ` should be small compared with the signal scale for small
//! `D`; Chung et al. use `ζ = 1` for images with `D ≈ 2·10⁵`.

use burn::config::Config;
use burn::tensor::{backend::AutodiffBackend, Tensor};
use rand::Rng;

use crate::score::ScoreNetwork;
use crate::sde::VpSde;
use crate::util;

/// Which guided sampler [`dps_sample`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DpsVariant {
    /// Diffusion posterior sampling: gradient step only.
    Dps,
    /// Manifold-constrained gradient: gradient step, then projection of the observed entries
    /// onto the noised measurement.
    Mcg,
}

/// Configuration of [`dps_sample`].
#[derive(Config, Debug)]
pub struct DpsConfig {
    /// Number of ancestral steps `N` (= NFE).
    #[config(default = 1000)]
    pub steps: usize,
    /// Guidance step size `ζ` (multiplies `∇‖y − A(x̂₀)‖`).
    #[config(default = 1.0)]
    pub step_size: f64,
    /// DPS or MCG.
    #[config(default = "DpsVariant::Dps")]
    pub variant: DpsVariant,
    /// The diffusion of the prior.
    #[config(default = "VpSde::new()")]
    pub sde: VpSde,
}

impl DpsConfig {
    /// Checks ranges: `steps ≥ 1` and a finite `step_size ≥ 0` (ζ = 0 samples the prior
    /// unconditionally; a negative ζ would push samples away from the measurement).
    pub fn validate(&self) -> crate::Result<()> {
        self.sde.validate()?;
        if self.steps == 0 {
            return Err(crate::FlowError::InvalidConfig(
                "DPS/MCG need at least 1 step, got 0".into(),
            ));
        }
        if !(self.step_size >= 0.0 && self.step_size.is_finite()) {
            return Err(crate::FlowError::InvalidConfig(format!(
                "the DPS/MCG guidance step size must be finite and >= 0, got {}",
                self.step_size
            )));
        }
        Ok(())
    }
}

/// Samples and cost of [`dps_sample`].
#[derive(Clone, Debug)]
pub struct DpsOutput<B: burn::tensor::backend::Backend> {
    /// One posterior sample per measurement row, `[N, D]`.
    pub samples: Tensor<B, 2>,
    /// Network evaluations per sample (each with a backward pass through the network).
    pub nfe: usize,
}

/// Draws one posterior sample per row of `(y, mask)` by DPS or MCG (see the module docs),
/// batched over rows. To draw several samples of one measurement, repeat its row. Check a
/// user-given `config` with [`DpsConfig::validate`] first (here `steps = 0` runs one step).
///
/// `model` lives on the autodiff backend and should be frozen (`model.no_grad()`): only the
/// gradient with respect to `x` is used.
///
/// # Shapes
/// - `y`, `mask`: `[N, D]` (hidden entries of `y` are ignored) → samples `[N, D]`
pub fn dps_sample<B, M, R>(
    model: &M,
    config: &DpsConfig,
    y: Tensor<B::InnerBackend, 2>,
    mask: Tensor<B::InnerBackend, 2>,
    rng: &mut R,
) -> DpsOutput<B::InnerBackend>
where
    B: AutodiffBackend,
    M: ScoreNetwork<B>,
    R: Rng + ?Sized,
{
    let [n, d] = y.dims();
    let device = y.device();
    let sde = &config.sde;
    let steps = config.steps.max(1);
    let y = y * mask.clone();
    let y_ad = Tensor::<B, 2>::from_inner(y.clone());
    let mask_ad = Tensor::<B, 2>::from_inner(mask.clone());
    let time = |i: usize| sde.t_end + i as f64 * (sde.eps - sde.t_end) / steps as f64;
    let mut x = util::randn::<B::InnerBackend, _>(rng, n, d, &device);
    for i in 0..steps {
        let (t, t_next) = (time(i), time(i + 1));
        let (a, s) = (sde.alpha(t), sde.sigma(t));
        let a_next = sde.alpha(t_next);

        // Score and the gradient of the per-row residual norm at x̂₀(xᵢ).
        let x_ad = Tensor::<B, 2>::from_inner(x.clone()).require_grad();
        let tt = util::tensor1::<B>(vec![t as f32; n], &device);
        let score = model.forward(x_ad.clone(), tt);
        let score_val = score.clone().inner();
        let x0_hat = (x_ad.clone() + score.mul_scalar(s * s)).div_scalar(a);
        let r = (y_ad.clone() - x0_hat) * mask_ad.clone();
        let norm = (r.clone() * r).sum_dim(1).add_scalar(1e-20).sqrt();
        let grads = norm.sum().backward();
        let g = x_ad.grad(&grads).expect("x requires grad");

        let beta = 1.0 - (a / a_next).powi(2);
        let mut next = (x + score_val.mul_scalar(beta)).div_scalar((1.0 - beta).sqrt());
        if i + 1 < steps {
            next = next
                + util::randn::<B::InnerBackend, _>(rng, n, d, &device).mul_scalar(beta.sqrt());
        }
        next = next - g.mul_scalar(config.step_size);
        if config.variant == DpsVariant::Mcg {
            let noise = util::randn::<B::InnerBackend, _>(rng, n, d, &device);
            let y_t = y.clone().mul_scalar(a_next) + noise.mul_scalar(sde.sigma(t_next));
            next = next * mask.clone().neg().add_scalar(1.0) + y_t * mask.clone();
        }
        x = next;
    }
    DpsOutput {
        samples: x,
        nfe: steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::{GaussianScore, MlpScoreConfig};
    use crate::util::to_vec;
    use burn::backend::{Autodiff, NdArray};
    use burn::module::Module;
    use rand::{rngs::StdRng, SeedableRng};

    type B = NdArray<f32>;
    type AB = Autodiff<NdArray<f32>>;

    const MEAN: [f32; 6] = [1.0, -0.5, 2.0, 0.0, 0.5, -1.0];
    const STD: [f32; 6] = [0.5, 1.0, 0.3, 0.8, 0.6, 0.4];

    /// Linear-Gaussian problem with the exact prior score: the DPS/MCG sample mean over many
    /// draws of one measurement approaches the analytic posterior mean.
    fn check_variant(variant: DpsVariant, step_size: f64) {
        let dev = Default::default();
        let prior = GaussianScore::<AB>::new(&MEAN, &STD, VpSde::new(), &dev);
        let x_true = [1.4f32, 0.3, 1.7, -0.9, 0.5, -0.6];
        let mask = [1.0f32, 0.0, 1.0, 1.0, 0.0, 0.0];
        let sigma = 0.1f32;
        let noise = [0.05f32, 0.0, -0.1, 0.08, 0.0, 0.0];
        let y: Vec<f32> = (0..6).map(|j| mask[j] * (x_true[j] + noise[j])).collect();
        let n = 400;
        let yt = util::tensor1::<B>(y.clone(), &dev)
            .unsqueeze_dim::<2>(0)
            .expand([n, 6]);
        let mt = util::tensor1::<B>(mask.to_vec(), &dev)
            .unsqueeze_dim::<2>(0)
            .expand([n, 6]);
        let config = DpsConfig::new()
            .with_steps(500)
            .with_step_size(step_size)
            .with_variant(variant);
        let mut rng = StdRng::seed_from_u64(5);
        let out = dps_sample::<AB, _, _>(&prior, &config, yt, mt, &mut rng);
        assert_eq!(out.nfe, 500);
        let v = to_vec(out.samples);
        for j in 0..6 {
            let col: Vec<f32> = (0..n).map(|i| v[6 * i + j]).collect();
            let m = col.iter().sum::<f32>() / n as f32;
            let (mu, s2) = (MEAN[j], STD[j] * STD[j]);
            let (m_true, s_true) = if mask[j] > 0.5 {
                let prec = 1.0 / s2 + 1.0 / (sigma * sigma);
                (
                    (mu / s2 + y[j] / (sigma * sigma)) / prec,
                    prec.recip().sqrt(),
                )
            } else {
                (mu, STD[j])
            };
            eprintln!("{variant:?} coord {j}: mean {m:.3} (analytic {m_true:.3}, std {s_true:.3})");
            // Hidden coordinates: the prior is diagonal, so the guidance does not touch them and
            // the sampler draws the prior: Monte-Carlo error s/√400 = 0.05 s (4 σ = 0.2 s).
            // Observed: DPS/MCG are approximate (they target x̂₀ ≈ y, not the shrunk posterior
            // mean); tolerated deviation 0.05 (half the noise σ) + 4 Monte-Carlo σ.
            let tol = if mask[j] > 0.5 {
                0.05 + 4.0 * s_true / (n as f32).sqrt()
            } else {
                0.2 * s_true
            };
            assert!(
                (m - m_true).abs() < tol,
                "{variant:?} coord {j}: mean {m} vs analytic {m_true} (tol {tol})"
            );
        }
    }

    #[test]
    fn dps_approaches_analytic_posterior_mean() {
        check_variant(DpsVariant::Dps, 0.05);
    }

    #[test]
    fn mcg_approaches_analytic_posterior_mean() {
        check_variant(DpsVariant::Mcg, 0.05);
    }

    /// Timing at the benchmark size with an untrained MLP prior. Run with
    /// `cargo test -p meshflow-flows --release -- --ignored dps_timing --nocapture`.
    #[test]
    #[ignore]
    fn dps_timing() {
        let dev = Default::default();
        let d = 1890;
        let prior = MlpScoreConfig::new(d).init::<AB>(&dev).no_grad();
        let mut rng = StdRng::seed_from_u64(0);
        for n in [1usize, 16] {
            let y = util::randn::<B, _>(&mut rng, n, d, &dev);
            let mask = Tensor::<B, 2>::ones([n, d], &dev);
            let steps = 100;
            let config = DpsConfig::new().with_steps(steps);
            let t0 = std::time::Instant::now();
            let _ = dps_sample::<AB, _, _>(&prior, &config, y, mask, &mut rng);
            eprintln!(
                "DPS at D={d}, batch {n}: {:.2} s per 1000 steps",
                t0.elapsed().as_secs_f64() * 1000.0 / steps as f64
            );
        }
    }
}

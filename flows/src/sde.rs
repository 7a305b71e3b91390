//! Stochastic differential equations for score-based generative modelling, after score_sde
//! (Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
//! Equations").
//!
//! A forward SDE `dx = f(x, t) dt + g(t) dw` on `t ∈ [0, T]` diffuses data into a simple prior.
//! Given a score `s(x, t) ≈ ∇ₓ log p_t(x)`, the reverse-time SDE has drift `f − g² s` and the
//! probability-flow ODE has drift `f − ½ g² s`; both are provided as default methods of [`Sde`].
//!
//! Batches are `[N, D]` tensors (one row per signal, `D` vertices); times are `[N]` tensors
//! (one time per row).

use burn::config::Config;
use burn::tensor::{backend::Backend, Tensor};
use rand::Rng;

use crate::util;

/// A forward diffusion, in score_sde's interface.
///
/// Methods are generic over the backend so that one SDE value serves training (autodiff
/// backend) and sampling (inner backend).
pub trait Sde {
    /// End time `T` of the diffusion.
    fn t_max(&self) -> f64;

    /// Smallest time used in training and sampling (`eps`); the score is never evaluated below.
    fn t_min(&self) -> f64;

    /// Drift `f(x, t)`.
    ///
    /// # Shapes
    /// - `x`: `[N, D]`, `t`: `[N]` → `[N, D]`
    fn drift<B: Backend>(&self, x: Tensor<B, 2>, t: Tensor<B, 1>) -> Tensor<B, 2>;

    /// Diffusion coefficient `g(t)` (scalar per row).
    ///
    /// # Shapes
    /// - `t`: `[N]` → `[N]`
    fn diffusion<B: Backend>(&self, t: Tensor<B, 1>) -> Tensor<B, 1>;

    /// Mean and standard deviation of the transition kernel `p_0t(x_t | x_0)`.
    ///
    /// # Shapes
    /// - `x0`: `[N, D]`, `t`: `[N]` → (mean `[N, D]`, std `[N]`)
    fn marginal_prob<B: Backend>(
        &self,
        x0: Tensor<B, 2>,
        t: Tensor<B, 1>,
    ) -> (Tensor<B, 2>, Tensor<B, 1>);

    /// Samples from the prior `p_T` (approximately the marginal at `T`).
    ///
    /// # Shapes
    /// - output: `[n, dim]`
    fn prior_sample<B: Backend, R: Rng + ?Sized>(
        &self,
        n: usize,
        dim: usize,
        rng: &mut R,
        device: &B::Device,
    ) -> Tensor<B, 2>;

    /// Log-density of the prior, one value per row.
    ///
    /// # Shapes
    /// - `z`: `[N, D]` → `[N]`
    fn prior_log_prob<B: Backend>(&self, z: Tensor<B, 2>) -> Tensor<B, 1>;

    /// Drift of the reverse-time SDE, `f(x, t) − g(t)² s(x, t)`, to be integrated from `T`
    /// down to `eps` with noise `g(t) dw̄`.
    ///
    /// # Shapes
    /// - `x`, `score`: `[N, D]`, `t`: `[N]` → `[N, D]`
    fn reverse_drift<B: Backend>(
        &self,
        x: Tensor<B, 2>,
        t: Tensor<B, 1>,
        score: Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        let g = self.diffusion(t.clone());
        let g2 = (g.clone() * g).unsqueeze_dim::<2>(1);
        self.drift(x, t) - score * g2
    }

    /// Drift of the probability-flow ODE, `f(x, t) − ½ g(t)² s(x, t)`: a deterministic flow
    /// with the same marginals as the SDE.
    ///
    /// # Shapes
    /// - `x`, `score`: `[N, D]`, `t`: `[N]` → `[N, D]`
    fn probability_flow_drift<B: Backend>(
        &self,
        x: Tensor<B, 2>,
        t: Tensor<B, 1>,
        score: Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        let g = self.diffusion(t.clone());
        let g2 = (g.clone() * g).unsqueeze_dim::<2>(1).mul_scalar(0.5);
        self.drift(x, t) - score * g2
    }
}

/// The variance-preserving SDE (the continuous DDPM):
/// `dx = −½ β(t) x dt + √β(t) dw`, with `β(t) = β_min + t (β_max − β_min)` on `t ∈ [0, T]`.
///
/// Closed forms used throughout, with `B(t) = ∫₀ᵗ β = β_min t + ½ (β_max − β_min) t²`:
/// - mean coefficient `α(t) = exp(−½ B(t))`, so `E[x_t | x_0] = α(t) x_0`;
/// - standard deviation `σ(t) = √(1 − exp(−B(t)))`;
/// - prior `N(0, I)`.
///
/// This is a burn [`Config`]: `VpSde::new()` gives score_sde's defaults
/// (`β_min = 0.1`, `β_max = 20`, `T = 1`, `eps = 1e-3`); change them with `with_beta_max` etc.
#[derive(Config, Debug, Copy, PartialEq)]
pub struct VpSde {
    /// `β(0)`.
    #[config(default = 0.1)]
    pub beta_min: f64,
    /// `β(1)`.
    #[config(default = 20.0)]
    pub beta_max: f64,
    /// End time `T`.
    #[config(default = 1.0)]
    pub t_end: f64,
    /// Smallest time `eps` for training and sampling.
    #[config(default = 1e-3)]
    pub eps: f64,
}

impl VpSde {
    /// `β(t)`.
    pub fn beta(&self, t: f64) -> f64 {
        self.beta_min + t * (self.beta_max - self.beta_min)
    }

    /// `B(t) = ∫₀ᵗ β(s) ds`.
    pub fn integrated_beta(&self, t: f64) -> f64 {
        self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t
    }

    /// Mean coefficient `α(t) = exp(−½ B(t))`.
    pub fn alpha(&self, t: f64) -> f64 {
        (-0.5 * self.integrated_beta(t)).exp()
    }

    /// Marginal standard deviation `σ(t) = √(1 − exp(−B(t)))`, accurate for small `t`.
    pub fn sigma(&self, t: f64) -> f64 {
        (-(-self.integrated_beta(t)).exp_m1()).sqrt()
    }

    /// Checks that the parameters describe a valid diffusion.
    pub fn validate(&self) -> crate::Result<()> {
        let ok = self.beta_min > 0.0
            && self.beta_max >= self.beta_min
            && self.t_end > 0.0
            && self.eps > 0.0
            && self.eps < self.t_end
            && self.beta_max.is_finite();
        if ok {
            Ok(())
        } else {
            Err(crate::FlowError::InvalidConfig(format!(
                "VP-SDE needs 0 < beta_min <= beta_max and 0 < eps < T; got {self:?}"
            )))
        }
    }

    /// `(α(t), σ(t))` as `[N]` tensors for host times, computed in `f64` (more accurate than
    /// the tensor path near `t = 0`).
    pub fn alpha_sigma_tensors<B: Backend>(
        &self,
        t: &[f64],
        device: &B::Device,
    ) -> (Tensor<B, 1>, Tensor<B, 1>) {
        let a = t.iter().map(|&t| self.alpha(t) as f32).collect();
        let s = t.iter().map(|&t| self.sigma(t) as f32).collect();
        (util::tensor1(a, device), util::tensor1(s, device))
    }

    fn integrated_beta_tensor<B: Backend>(&self, t: Tensor<B, 1>) -> Tensor<B, 1> {
        t.clone().mul_scalar(self.beta_min)
            + (t.clone() * t).mul_scalar(0.5 * (self.beta_max - self.beta_min))
    }

    /// `σ(t)` for a tensor of times.
    ///
    /// # Shapes
    /// - `t`: `[N]` → `[N]`
    pub fn sigma_tensor<B: Backend>(&self, t: Tensor<B, 1>) -> Tensor<B, 1> {
        let b = self.integrated_beta_tensor(t);
        (b.neg().exp().neg().add_scalar(1.0)).clamp_min(0.0).sqrt()
    }

    /// `α(t)` for a tensor of times.
    ///
    /// # Shapes
    /// - `t`: `[N]` → `[N]`
    pub fn alpha_tensor<B: Backend>(&self, t: Tensor<B, 1>) -> Tensor<B, 1> {
        self.integrated_beta_tensor(t).mul_scalar(-0.5).exp()
    }
}

impl Sde for VpSde {
    fn t_max(&self) -> f64 {
        self.t_end
    }

    fn t_min(&self) -> f64 {
        self.eps
    }

    fn drift<B: Backend>(&self, x: Tensor<B, 2>, t: Tensor<B, 1>) -> Tensor<B, 2> {
        let beta = t
            .mul_scalar(self.beta_max - self.beta_min)
            .add_scalar(self.beta_min);
        x * beta.unsqueeze_dim::<2>(1).mul_scalar(-0.5)
    }

    fn diffusion<B: Backend>(&self, t: Tensor<B, 1>) -> Tensor<B, 1> {
        t.mul_scalar(self.beta_max - self.beta_min)
            .add_scalar(self.beta_min)
            .sqrt()
    }

    fn marginal_prob<B: Backend>(
        &self,
        x0: Tensor<B, 2>,
        t: Tensor<B, 1>,
    ) -> (Tensor<B, 2>, Tensor<B, 1>) {
        let alpha = self.alpha_tensor(t.clone());
        let std = self.sigma_tensor(t);
        (x0 * alpha.unsqueeze_dim::<2>(1), std)
    }

    fn prior_sample<B: Backend, R: Rng + ?Sized>(
        &self,
        n: usize,
        dim: usize,
        rng: &mut R,
        device: &B::Device,
    ) -> Tensor<B, 2> {
        util::randn(rng, n, dim, device)
    }

    fn prior_log_prob<B: Backend>(&self, z: Tensor<B, 2>) -> Tensor<B, 1> {
        let d = z.dims()[1] as f64;
        let sq = (z.clone() * z).sum_dim(1).squeeze_dim::<1>(1);
        sq.mul_scalar(-0.5)
            .add_scalar(-0.5 * d * (2.0 * std::f64::consts::PI).ln())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::{tensor1, tensor2, to_vec};
    use burn::backend::NdArray;
    use rand::{rngs::StdRng, SeedableRng};

    type B = NdArray<f32>;

    #[test]
    fn marginal_prob_matches_closed_form() {
        let sde = VpSde::new();
        let dev = Default::default();
        let ts = [1e-3, 0.05, 0.3, 0.7, 1.0];
        let x0 = tensor2::<B>(
            vec![1.0, -2.0, 0.5, 3.0, 0.0, 1.5, 2.0, -1.0, 4.0, 0.25],
            5,
            2,
            &dev,
        );
        let t = tensor1::<B>(ts.iter().map(|&t| t as f32).collect(), &dev);
        let (mean, std) = sde.marginal_prob(x0.clone(), t);
        let mean = to_vec(mean);
        let std = to_vec(std);
        let x0 = to_vec(x0);
        for (i, &t) in ts.iter().enumerate() {
            // Independent closed form: B(t) = 0.1 t + 9.95 t².
            let b: f64 = 0.1 * t + 9.95 * t * t;
            let alpha = (-0.5 * b).exp();
            let sigma = (1.0 - (-b).exp()).sqrt();
            assert!(
                (std[i] as f64 - sigma).abs() < 2e-4 * sigma.max(0.05),
                "t={t}"
            );
            assert!((sde.sigma(t) - sigma).abs() < 1e-9);
            for j in 0..2 {
                assert!((mean[2 * i + j] as f64 - alpha * x0[2 * i + j] as f64).abs() < 1e-5);
            }
        }
        // Variance preserving: α² + σ² = 1.
        for &t in &ts {
            assert!((sde.alpha(t).powi(2) + sde.sigma(t).powi(2) - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn euler_maruyama_from_point_mass_matches_marginal() {
        // Simulate dx = -β/2 x dt + √β dw from x0 = (2, -1) and compare the sample mean and std
        // at several times with α(t) x0 and σ(t).
        let sde = VpSde::new();
        let dev = Default::default();
        let n = 4000;
        let x0 = [2.0f32, -1.0];
        let mut rng = StdRng::seed_from_u64(7);
        let steps = 400;
        let dt = 1.0 / steps as f64;
        let mut x = tensor2::<B>(x0.repeat(n), n, 2, &dev);
        for k in 0..steps {
            let t = k as f64 * dt;
            let tt = tensor1::<B>(vec![t as f32; n], &dev);
            let g = sde.diffusion(tt.clone()).unsqueeze_dim::<2>(1);
            let noise = util::randn::<B, _>(&mut rng, n, 2, &dev);
            x = x.clone() + sde.drift(x, tt).mul_scalar(dt) + noise * g.mul_scalar(dt.sqrt());
            let t_next = (k + 1) as f64 * dt;
            if [40, 100, 200, 400].contains(&(k + 1)) {
                let v = to_vec(x.clone());
                for j in 0..2 {
                    let col: Vec<f64> = (0..n).map(|i| v[2 * i + j] as f64).collect();
                    let m = col.iter().sum::<f64>() / n as f64;
                    let s = (col.iter().map(|c| (c - m).powi(2)).sum::<f64>() / n as f64).sqrt();
                    let m_true = sde.alpha(t_next) * x0[j] as f64;
                    let s_true = sde.sigma(t_next);
                    // Monte-Carlo error of the mean: s/√n ≈ 0.016; of the std: s/√(2n) ≈ 0.011;
                    // Euler discretisation error with 400 steps is O(dt·β) ≈ 0.02 at worst.
                    assert!((m - m_true).abs() < 0.06, "t={t_next} mean {m} vs {m_true}");
                    assert!((s - s_true).abs() < 0.05, "t={t_next} std {s} vs {s_true}");
                }
            }
        }
    }

    #[test]
    fn prior_log_prob_is_standard_normal() {
        let sde = VpSde::new();
        let dev = Default::default();
        let z = tensor2::<B>(vec![0.0, 0.0, 1.0, -2.0], 2, 2, &dev);
        let lp = to_vec(sde.prior_log_prob(z));
        let c = -(2.0 * std::f64::consts::PI).ln();
        assert!((lp[0] as f64 - c).abs() < 1e-5);
        assert!((lp[1] as f64 - (c - 2.5)).abs() < 1e-5);
    }

    #[test]
    fn validate_rejects_bad_parameters() {
        assert!(VpSde::new().validate().is_ok());
        assert!(VpSde::new().with_eps(0.0).validate().is_err());
        assert!(VpSde::new().with_beta_max(0.01).validate().is_err());
    }
}

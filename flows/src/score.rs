//! Score networks `s_θ(x_t, t) ≈ ∇ₓ log p_t(x_t)`.
//!
//! [`ScoreNetwork`] is the interface every prior implements. The baseline shipped here,
//! [`MlpScore`], treats the vertex signal as a flat vector (no geometry). A geometry-aware
//! network (spectral or heat-diffusion layers on a Laplacian eigenbasis) drops in by
//! implementing the same trait; it should store its eigenbasis as a plain `Tensor` field of the
//! module, which burn treats as a constant (not a `Param`, not saved, not optimised).
//! [`GaussianScore`] is the exact score of a diffused Gaussian, for tests and baselines.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{activation::silu, backend::Backend, Tensor};
use rand::{rngs::StdRng, SeedableRng};

use crate::basis::{DataBasis, PrincipalBasis};
use crate::sde::VpSde;
use crate::util::{self, LinearInit};

/// A time-dependent score model.
///
/// Implementations must be pure functions of their inputs (no hidden randomness) so that the
/// DSM losses and samplers are reproducible from their own seeded RNGs.
pub trait ScoreNetwork<B: Backend> {
    /// Signal dimension `D` (number of vertices).
    fn dim(&self) -> usize;

    /// The score at noisy signals `x_t` and times `t`.
    ///
    /// # Shapes
    /// - `x_t`: `[N, D]`
    /// - `t`: `[N]`, in `[eps, T]`
    /// - output: `[N, D]`
    fn forward(&self, x_t: Tensor<B, 2>, t: Tensor<B, 1>) -> Tensor<B, 2>;

    /// The principal basis of the training data the network is preconditioned with, if any
    /// (an amortised sampler trained against this prior maps its output through it).
    fn data_basis(&self) -> Option<&DataBasis<B>> {
        None
    }
}

/// Configuration of [`MlpScore`].
#[derive(Config, Debug)]
pub struct MlpScoreConfig {
    /// Signal dimension `D`.
    pub dim: usize,
    /// Width of the hidden layers.
    #[config(default = 256)]
    pub hidden: usize,
    /// Number of residual blocks.
    #[config(default = 2)]
    pub blocks: usize,
    /// Size of the sinusoidal time embedding (even).
    #[config(default = 64)]
    pub time_embedding: usize,
    /// Divide the output by `σ(t)` (score_sde's `scale_by_sigma`), so the network predicts
    /// `−noise` and its output has unit scale at every `t`.
    #[config(default = true)]
    pub scale_by_sigma: bool,
    /// The diffusion whose `σ(t)` scales the output.
    #[config(default = "VpSde::new()")]
    pub sde: VpSde,
    /// EDM-style preconditioning (Karras et al. 2022) with data standard deviation `σ_d` (in
    /// the data's units, e.g. 0.5 for fields normalised to `[0, 1]`); 0 = off.
    ///
    /// With `q = √(σ² + α²σ_d²)` the network `F` sees `x_t / q` and the score is
    /// `−(x_t − α D)/σ²` with the denoiser `α D = (α²σ_d²/q²) x_t + (σ σ_d / q) F`. The skip
    /// term carries the full-rank part of the score, so `F` only has to represent the data
    /// (a plain MLP with a `hidden < D` bottleneck otherwise cannot predict the `D`-dimensional
    /// noise: its DSM loss stalls near `(1 − hidden/D)·D`). `scale_by_sigma` is ignored when on.
    #[config(default = 0.0)]
    pub sigma_data: f64,
    /// Number of principal directions of the training data the network works in (0 = off,
    /// the network sees the whole vertex vector). When on, it replaces `sigma_data` with the
    /// data's own standard deviation per direction (see [`DataBasis`]); the trainer fits the
    /// basis ([`MlpScore::with_data_basis`]) and records the rank it found here.
    /// `None` (the default, and what a `config.json` from before this field loads as) is off.
    #[config(default = "None")]
    pub data_basis_rank: Option<usize>,
    /// Seed of the weight initialisation.
    #[config(default = 0)]
    pub seed: u64,
}

impl MlpScoreConfig {
    /// Builds the network with freshly initialised weights (deterministic in `seed`).
    ///
    /// # Panics
    /// If `dim`, `hidden` or `time_embedding` is zero or `time_embedding` is odd; use
    /// [`MlpScoreConfig::validate`] first on user input.
    pub fn init<B: Backend>(&self, device: &B::Device) -> MlpScore<B> {
        self.validate().expect("invalid MlpScoreConfig");
        let mut rng = StdRng::seed_from_u64(self.seed);
        let h = self.hidden;
        let blocks = (0..self.blocks)
            .map(|_| ResidualBlock {
                fc1: util::linear(&mut rng, h, h, LinearInit::Uniform, device),
                time: util::linear(&mut rng, h, h, LinearInit::Uniform, device),
                // Zero-initialised second layer: every block starts as the identity, which keeps
                // the initial output scale independent of the depth.
                fc2: util::linear(&mut rng, h, h, LinearInit::Zeros, device),
            })
            .collect();
        let r = self.data_basis_rank.unwrap_or(0);
        let (width, output_init) = if r > 0 {
            // Zero output: the untrained network is exactly the Gaussian prior of the basis.
            (r, LinearInit::Zeros)
        } else {
            (self.dim, LinearInit::Uniform)
        };
        MlpScore {
            input: util::linear(&mut rng, width, h, LinearInit::Uniform, device),
            time1: util::linear(
                &mut rng,
                self.time_embedding,
                h,
                LinearInit::Uniform,
                device,
            ),
            time2: util::linear(&mut rng, h, h, LinearInit::Uniform, device),
            blocks,
            output: util::linear(&mut rng, h, width, output_init, device),
            basis: (r > 0).then(|| DataBasis::placeholder(r, self.dim, device)),
            dim: self.dim,
            time_embedding: self.time_embedding,
            scale_by_sigma: self.scale_by_sigma,
            sde: self.sde,
            sigma_data: self.sigma_data,
        }
    }

    /// Checks the sizes.
    pub fn validate(&self) -> crate::Result<()> {
        if !(self.sigma_data >= 0.0 && self.sigma_data.is_finite()) {
            return Err(crate::FlowError::InvalidConfig(format!(
                "MlpScoreConfig.sigma_data must be finite and >= 0 (0 = no preconditioning), got {}",
                self.sigma_data
            )));
        }
        if self.data_basis_rank.unwrap_or(0) > self.dim {
            return Err(crate::FlowError::InvalidConfig(format!(
                "MlpScoreConfig.data_basis_rank ({:?}) exceeds dim ({})",
                self.data_basis_rank, self.dim
            )));
        }
        if self.dim == 0
            || self.hidden == 0
            || self.time_embedding < 2
            || !self.time_embedding.is_multiple_of(2)
        {
            return Err(crate::FlowError::InvalidConfig(format!(
                "MlpScoreConfig needs dim > 0, hidden > 0 and an even time_embedding >= 2; got \
                 dim={}, hidden={}, time_embedding={}",
                self.dim, self.hidden, self.time_embedding
            )));
        }
        self.sde.validate()
    }
}

/// One pre-activation residual block: `h + fc2(silu(fc1(silu(h)) + time(temb)))`.
#[derive(Module, Debug)]
pub struct ResidualBlock<B: Backend> {
    fc1: Linear<B>,
    time: Linear<B>,
    fc2: Linear<B>,
}

/// Vectorised baseline score network: an MLP over the vertex vector with a sinusoidal time
/// embedding, SiLU residual blocks and output scaled by `1/σ(t)`.
///
/// ```text
/// temb = silu(time2(silu(time1(sinusoidal(999 t)))))
/// h    = input(x)
/// h    = h + fc2(silu(fc1(silu(h)) + time(temb)))      (× blocks)
/// s    = output(silu(h)) / σ(t)
/// ```
#[derive(Module, Debug)]
pub struct MlpScore<B: Backend> {
    input: Linear<B>,
    time1: Linear<B>,
    time2: Linear<B>,
    blocks: Vec<ResidualBlock<B>>,
    output: Linear<B>,
    basis: Option<DataBasis<B>>,
    dim: usize,
    time_embedding: usize,
    scale_by_sigma: bool,
    sde: VpSde,
    sigma_data: f64,
}

/// DDPM/transformer sinusoidal embedding of `t` (score_sde's `get_timestep_embedding` applied
/// to `999 t`): `[sin(τ ωᵢ), cos(τ ωᵢ)]` with `ωᵢ = 10000^(−i/(k−1))`, `k = size/2`.
///
/// # Shapes
/// - `t`: `[N]` → `[N, size]`
pub fn sinusoidal_embedding<B: Backend>(t: Tensor<B, 1>, size: usize) -> Tensor<B, 2> {
    let half = size / 2;
    let denom = (half.max(2) - 1) as f64;
    let freqs: Vec<f32> = (0..half)
        .map(|i| (-(10000f64.ln()) * i as f64 / denom).exp() as f32)
        .collect();
    let device = t.device();
    let freqs = util::tensor1::<B>(freqs, &device).unsqueeze_dim::<2>(0);
    let arg = t.mul_scalar(999.0).unsqueeze_dim::<2>(1) * freqs;
    Tensor::cat(vec![arg.clone().sin(), arg.cos()], 1)
}

impl<B: Backend> MlpScore<B> {
    /// The diffusion the output is scaled for.
    pub fn sde(&self) -> VpSde {
        self.sde
    }
}

impl<B: Backend> ScoreNetwork<B> for MlpScore<B> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn data_basis(&self) -> Option<&DataBasis<B>> {
        self.basis.as_ref()
    }

    /// # Shapes
    /// - `x_t`: `[N, D]`, `t`: `[N]` → `[N, D]`
    fn forward(&self, x_t: Tensor<B, 2>, t: Tensor<B, 1>) -> Tensor<B, 2> {
        if let Some(basis) = &self.basis {
            return self.forward_in_basis(basis, x_t, t);
        }
        if self.sigma_data > 0.0 {
            let sd = self.sigma_data;
            let (alpha, sigma) = (
                self.sde.alpha_tensor(t.clone()).unsqueeze_dim::<2>(1),
                self.sde.sigma_tensor(t.clone()).unsqueeze_dim::<2>(1),
            );
            let a2 = alpha.clone() * alpha.clone();
            let s2 = sigma.clone() * sigma.clone();
            let q2 = s2.clone() + a2.clone().mul_scalar(sd * sd);
            let q = q2.clone().sqrt();
            let f = self.network(x_t.clone() / q.clone(), t);
            let alpha_d =
                x_t.clone() * (a2.mul_scalar(sd * sd) / q2) + f * (sigma / q).mul_scalar(sd);
            return (alpha_d - x_t) / s2;
        }
        let out = self.network(x_t, t.clone());
        if self.scale_by_sigma {
            let sigma = self.sde.sigma_tensor(t).unsqueeze_dim::<2>(1);
            out / sigma
        } else {
            out
        }
    }
}

impl<B: Backend> MlpScore<B> {
    /// Installs the principal basis `fit` (whose rank must equal the config's
    /// `data_basis_rank` this network was built with).
    ///
    /// # Errors
    /// [`crate::FlowError::InvalidConfig`] if the network has no basis or the sizes differ.
    pub fn with_data_basis(mut self, fit: &PrincipalBasis) -> crate::Result<Self> {
        let Some(basis) = &self.basis else {
            return Err(crate::FlowError::InvalidConfig(
                "this score network was built with data_basis_rank = 0".into(),
            ));
        };
        let [r, d] = basis.vectors().dims();
        if fit.rank() != r || fit.dim != d {
            return Err(crate::FlowError::InvalidConfig(format!(
                "the network expects a basis of {r} directions in {d} dimensions, got {} in {}",
                fit.rank(),
                fit.dim
            )));
        }
        let device = basis.vectors().device();
        self.basis = Some(DataBasis::from_fit(fit, &device));
        Ok(self)
    }

    /// The score in the data basis (see [`DataBasis`]).
    fn forward_in_basis(
        &self,
        basis: &DataBasis<B>,
        x_t: Tensor<B, 2>,
        t: Tensor<B, 1>,
    ) -> Tensor<B, 2> {
        let alpha = self.sde.alpha_tensor(t.clone()).unsqueeze_dim::<2>(1); // [N, 1]
        let sigma = self.sde.sigma_tensor(t.clone()).unsqueeze_dim::<2>(1);
        let s2 = sigma.clone() * sigma.clone();
        let a2 = alpha.clone() * alpha.clone();
        let v = basis.vectors(); // [r, D]
        let centred = x_t - alpha.clone() * basis.mean().unsqueeze_dim::<2>(0);
        let u = centred.clone().matmul(v.clone().transpose()); // [N, r]
        let residual = centred - u.clone().matmul(v.clone());
        let std = basis.std().unsqueeze_dim::<2>(0); // [1, r]
        let q2 = s2.clone() + a2.clone() * (std.clone() * std.clone()); // [N, r]
        let q = q2.clone().sqrt();
        let f = self.network(u.clone() / q.clone(), t);
        let alpha_d =
            u.clone() * (a2.clone() * std.clone() * std.clone() / q2) + f * (sigma * std / q);
        let score_u = (alpha_d - u) / s2.clone();
        let sp = basis.residual_std().unsqueeze_dim::<2>(0); // [1, 1]
        let q_perp2 = s2 + a2 * (sp.clone() * sp);
        score_u.matmul(v) - residual / q_perp2
    }

    /// The raw MLP `F(x, t)` (before any output scaling or preconditioning).
    fn network(&self, x_t: Tensor<B, 2>, t: Tensor<B, 1>) -> Tensor<B, 2> {
        let temb = sinusoidal_embedding(t, self.time_embedding);
        let temb = silu(self.time2.forward(silu(self.time1.forward(temb))));
        let mut h = self.input.forward(x_t);
        for block in &self.blocks {
            let u = silu(block.fc1.forward(silu(h.clone())) + block.time.forward(temb.clone()));
            h = h + block.fc2.forward(u);
        }
        self.output.forward(silu(h))
    }
}

/// The exact score of Gaussian data `N(μ, diag(s²))` diffused by a VP-SDE:
/// `p_t = N(α(t) μ, diag(α(t)² s² + σ(t)²))`, so `∇ log p_t(x) = −(x − α μ) / (α² s² + σ²)`.
#[derive(Clone, Debug)]
pub struct GaussianScore<B: Backend> {
    mean: Tensor<B, 1>,
    var: Tensor<B, 1>,
    sde: VpSde,
}

impl<B: Backend> GaussianScore<B> {
    /// Data mean `μ` and per-dimension standard deviation `s`.
    pub fn new(mean: &[f32], std: &[f32], sde: VpSde, device: &B::Device) -> Self {
        assert_eq!(mean.len(), std.len(), "mean and std lengths differ");
        Self {
            mean: util::tensor1(mean.to_vec(), device),
            var: util::tensor1(std.iter().map(|s| s * s).collect(), device),
            sde,
        }
    }

    /// `log p_t(x)` of the diffused Gaussian, one value per row.
    ///
    /// # Shapes
    /// - `x`: `[N, D]`, `t`: `[N]` → `[N]`
    pub fn log_prob(&self, x: Tensor<B, 2>, t: Tensor<B, 1>) -> Tensor<B, 1> {
        let (mean, var) = self.moments(t);
        let d = x.dims()[1] as f64;
        let r = x - mean;
        let quad = (r.clone() * r / var.clone()).sum_dim(1).squeeze_dim::<1>(1);
        let logdet = var.log().sum_dim(1).squeeze_dim::<1>(1);
        (quad + logdet)
            .mul_scalar(-0.5)
            .add_scalar(-0.5 * d * (2.0 * std::f64::consts::PI).ln())
    }

    fn moments(&self, t: Tensor<B, 1>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let alpha = self.sde.alpha_tensor(t.clone()).unsqueeze_dim::<2>(1);
        let sigma = self.sde.sigma_tensor(t).unsqueeze_dim::<2>(1);
        let mean = alpha.clone() * self.mean.clone().unsqueeze_dim::<2>(0);
        let var =
            alpha.clone() * alpha * self.var.clone().unsqueeze_dim::<2>(0) + sigma.clone() * sigma;
        (mean, var)
    }
}

impl<B: Backend> ScoreNetwork<B> for GaussianScore<B> {
    fn dim(&self) -> usize {
        self.mean.dims()[0]
    }

    /// # Shapes
    /// - `x_t`: `[N, D]`, `t`: `[N]` → `[N, D]`
    fn forward(&self, x_t: Tensor<B, 2>, t: Tensor<B, 1>) -> Tensor<B, 2> {
        let (mean, var) = self.moments(t);
        (mean - x_t) / var
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::{tensor1, to_vec};
    use burn::backend::NdArray;
    use rand::rngs::StdRng;

    type B = NdArray<f32>;

    /// `n` signals `0.5 + Σ_k c_k e_k` of `d` values in a fixed 3-dimensional subspace
    /// (`e_k(i) = sin(0.3 (i + 1)(k + 1))`), `c_k ~ U(−0.3, 0.3)`.
    fn subspace_rows(d: usize, n: usize, seed: u64) -> Vec<Vec<f32>> {
        use rand::Rng;
        let mut rng = StdRng::seed_from_u64(seed);
        let dirs: Vec<Vec<f32>> = (0..3)
            .map(|k| {
                (0..d)
                    .map(|i| ((i as f32 + 1.0) * (k as f32 + 1.0) * 0.3).sin())
                    .collect()
            })
            .collect();
        (0..n)
            .map(|_| {
                let c: Vec<f32> = (0..3).map(|_| rng.random_range(-0.3..0.3)).collect();
                (0..d)
                    .map(|i| 0.5 + (0..3).map(|k| c[k] * dirs[k][i]).sum::<f32>())
                    .collect()
            })
            .collect()
    }

    /// A bottlenecked MLP (hidden 8 < D = 48) on data in a 3-dimensional subspace: without
    /// preconditioning its DSM loss cannot fall below about `(1 − 8/48)·D` at large t (it
    /// cannot represent the identity part of the noise); with the EDM skip it learns the data
    /// and the loss drops far below, in the same number of steps, same seed.
    #[test]
    fn preconditioning_lifts_the_rank_floor_of_a_bottlenecked_mlp() {
        use crate::train::{ScorePriorTrainer, SignalDataset, TrainConfig};
        use burn::backend::Autodiff;
        use std::ops::ControlFlow;
        let d = 48;
        let rows = subspace_rows(d, 64, 5);
        let data = SignalDataset::from_rows(&rows).unwrap();
        let final_loss = |sigma_data: f64| {
            let model = MlpScoreConfig::new(d)
                .with_hidden(8)
                .with_time_embedding(8)
                .with_sigma_data(sigma_data);
            let config = TrainConfig::new(model)
                .with_steps(400)
                .with_batch_size(32)
                .with_learning_rate(3e-3)
                .with_checkpoint_every(0);
            let mut t =
                ScorePriorTrainer::<Autodiff<B>>::new(config, &data, None, &Default::default())
                    .unwrap();
            let mut losses = Vec::new();
            t.run(|p| {
                losses.push(p.loss);
                ControlFlow::Continue(())
            })
            .unwrap();
            losses[300..].iter().sum::<f32>() / 100.0
        };
        let plain = final_loss(0.0);
        let edm = final_loss(0.5);
        assert!(plain > 0.5 * d as f32, "plain MLP loss {plain}");
        assert!(edm < 0.3 * plain, "preconditioned {edm} vs plain {plain}");
    }

    /// With the zero-initialised output layer, a network with a data basis is the exact score
    /// of the Gaussian `N(μ, Vᵀ diag(s²) V + s_⊥² (I − VᵀV))` diffused by the VP-SDE.
    #[test]
    fn an_untrained_network_with_a_data_basis_is_the_gaussian_score() {
        let d = 6;
        let h = std::f32::consts::FRAC_1_SQRT_2;
        let vectors = vec![
            h, h, 0.0, 0.0, 0.0, 0.0, //
            0.0, 0.0, 0.6, 0.8, 0.0, 0.0,
        ];
        let fit = PrincipalBasis {
            mean: vec![0.5, -0.2, 0.1, 0.0, 0.3, 0.7],
            vectors: vectors.clone(),
            std: vec![0.8, 0.3],
            residual_std: 0.05,
            dim: d,
        };
        let dev = Default::default();
        let net = MlpScoreConfig::new(d)
            .with_hidden(16)
            .with_time_embedding(8)
            .with_data_basis_rank(Some(2))
            .init::<B>(&dev)
            .with_data_basis(&fit)
            .unwrap();
        let sde = VpSde::new();
        let x: Vec<f32> = vec![0.9, 0.1, -0.4, 0.7, 0.2, 1.1];
        for t in [0.01f64, 0.3, 0.9] {
            let (a, s) = (sde.alpha(t) as f32, sde.sigma(t) as f32);
            let c: Vec<f32> = (0..d).map(|i| x[i] - a * fit.mean[i]).collect();
            let mut expected: Vec<f32> = c
                .iter()
                .map(|ci| -ci / (s * s + a * a * 0.05 * 0.05))
                .collect();
            for k in 0..2 {
                let v = &vectors[k * d..(k + 1) * d];
                let u: f32 = v.iter().zip(&c).map(|(p, q)| p * q).sum();
                let var = s * s + a * a * fit.std[k] * fit.std[k];
                let perp = s * s + a * a * 0.05 * 0.05;
                for i in 0..d {
                    expected[i] += v[i] * u * (1.0 / perp - 1.0 / var);
                }
            }
            let got = to_vec(net.forward(
                tensor1::<B>(x.clone(), &dev).unsqueeze_dim(0),
                tensor1::<B>(vec![t as f32], &dev),
            ));
            for i in 0..d {
                let tol = 1e-3 * expected[i].abs().max(1.0);
                assert!(
                    (got[i] - expected[i]).abs() < tol,
                    "t={t} i={i}: {} vs {}",
                    got[i],
                    expected[i]
                );
            }
        }
        // A basis of the wrong size is refused.
        let small = MlpScoreConfig::new(d)
            .with_data_basis_rank(Some(1))
            .init::<B>(&dev);
        assert!(small.with_data_basis(&fit).is_err());
    }

    /// Data in a 3-dimensional subspace of R⁴⁸: a prior with a data basis survives its
    /// checkpoint, and its probability-flow samples stay in the data's span, where the same
    /// budget with a single `σ_d` leaves noise of order `σ_d` in the other 45 directions.
    #[test]
    fn a_prior_with_a_data_basis_samples_in_the_data_span_and_reloads() {
        use crate::sample::{sample_probability_flow, OdeSolver};
        use crate::train::{load_trained_prior, ScorePriorTrainer, SignalDataset, TrainConfig};
        use burn::backend::Autodiff;
        use std::ops::ControlFlow;
        let d = 48;
        let rows = subspace_rows(d, 64, 6);
        let mut rng = StdRng::seed_from_u64(6);
        let data = SignalDataset::from_rows(&rows).unwrap();
        let flat: Vec<f32> = rows.concat();
        let span = PrincipalBasis::fit(&flat, 64, d, 3).unwrap();
        // RMS distance of samples from the data's affine span.
        let off_span = |samples: Vec<f32>| {
            let mut sum = 0.0f32;
            for row in samples.chunks(d) {
                let mut c: Vec<f32> = row.iter().zip(&span.mean).map(|(x, m)| x - m).collect();
                for k in 0..3 {
                    let v = &span.vectors[k * d..(k + 1) * d];
                    let u: f32 = v.iter().zip(&c).map(|(p, q)| p * q).sum();
                    c.iter_mut().zip(v).for_each(|(ci, vi)| *ci -= u * vi);
                }
                sum += c.iter().map(|v| v * v).sum::<f32>();
            }
            (sum / samples.len() as f32).sqrt()
        };
        let dev = Default::default();
        let dir = std::env::temp_dir().join(format!("meshflow-basis-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut results = Vec::new();
        for (rank, sigma_data) in [(8usize, 0.0f64), (0, 0.5)] {
            let model = MlpScoreConfig::new(d)
                .with_hidden(16)
                .with_time_embedding(8)
                .with_sigma_data(sigma_data)
                .with_data_basis_rank(Some(rank));
            let config = TrainConfig::new(model)
                .with_steps(100)
                .with_batch_size(32)
                .with_learning_rate(3e-3)
                .with_checkpoint_every(0);
            let run = dir.join(format!("rank{rank}"));
            let mut t =
                ScorePriorTrainer::<Autodiff<B>>::new(config, &data, Some(&run), &dev).unwrap();
            t.run(|_| ControlFlow::Continue(())).unwrap();
            let (loaded, config) = load_trained_prior::<B>(&run, &dev).unwrap();
            if rank > 0 {
                assert_eq!(
                    config.model.data_basis_rank,
                    Some(3),
                    "the rank found is recorded"
                );
            }
            let x = crate::util::randn::<B, _>(&mut rng, 4, d, &dev);
            let tt = tensor1::<B>(vec![0.2; 4], &dev);
            let (a, b) = (
                to_vec(loaded.forward(x.clone(), tt.clone())),
                to_vec(t.ema_model().forward(x, tt)),
            );
            assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-4));
            let mut srng = StdRng::seed_from_u64(7);
            let samples = sample_probability_flow(
                &loaded,
                &loaded.sde(),
                32,
                100,
                OdeSolver::Heun,
                &mut srng,
                &dev,
            );
            results.push(off_span(to_vec(samples)));
        }
        let _ = std::fs::remove_dir_all(&dir);
        let (with_basis, scalar) = (results[0], results[1]);
        assert!(
            with_basis < 0.02,
            "off-span RMS with the basis: {with_basis}"
        );
        assert!(
            scalar > 5.0 * with_basis,
            "off-span RMS with σ_d: {scalar} vs {with_basis}"
        );
    }

    #[test]
    fn mlp_score_shapes_and_determinism() {
        let dev = Default::default();
        let cfg = MlpScoreConfig::new(5)
            .with_hidden(16)
            .with_time_embedding(8)
            .with_seed(3);
        let a: MlpScore<B> = cfg.init(&dev);
        let b: MlpScore<B> = cfg.init(&dev);
        let mut rng = StdRng::seed_from_u64(1);
        let x = util::randn::<B, _>(&mut rng, 3, 5, &dev);
        let t = tensor1::<B>(vec![0.01, 0.5, 1.0], &dev);
        let sa = to_vec(a.forward(x.clone(), t.clone()));
        let sb = to_vec(b.forward(x, t));
        assert_eq!(sa.len(), 15);
        assert_eq!(sa, sb, "same seed must give the same network");
        assert!(sa.iter().all(|v| v.is_finite()));
        let c: MlpScore<B> = cfg.with_seed(4).init(&dev);
        let x = util::randn::<B, _>(&mut rng, 3, 5, &dev);
        let t = tensor1::<B>(vec![0.01, 0.5, 1.0], &dev);
        assert_ne!(
            to_vec(a.forward(x.clone(), t.clone())),
            to_vec(c.forward(x, t))
        );
    }

    #[test]
    fn invalid_config_is_an_error() {
        assert!(MlpScoreConfig::new(0).validate().is_err());
        // A config.json from before the principal basis loads with it off.
        let old = serde_json::to_string(&MlpScoreConfig::new(4)).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&old).unwrap();
        v.as_object_mut().unwrap().remove("data_basis_rank");
        let cfg: MlpScoreConfig = serde_json::from_value(v).unwrap();
        assert_eq!(cfg.data_basis_rank, None);
        assert!(MlpScoreConfig::new(4)
            .with_time_embedding(7)
            .validate()
            .is_err());
    }

    #[test]
    fn gaussian_score_is_gradient_of_log_prob() {
        use burn::backend::Autodiff;
        type AB = Autodiff<NdArray<f32>>;
        let dev = Default::default();
        let g = GaussianScore::<AB>::new(&[1.0, -0.5, 2.0], &[0.5, 1.0, 0.3], VpSde::new(), &dev);
        let mut rng = StdRng::seed_from_u64(2);
        let x = util::randn::<AB, _>(&mut rng, 4, 3, &dev).require_grad();
        let t = tensor1::<AB>(vec![0.01, 0.2, 0.5, 0.9], &dev);
        let grads = g.log_prob(x.clone(), t.clone()).sum().backward();
        let auto = to_vec(x.grad(&grads).unwrap());
        let analytic = to_vec(g.forward(x, t));
        for (a, b) in auto.iter().zip(&analytic) {
            assert!((a - b).abs() < 1e-3 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
}

//! Inverse flows: denoisers learned from **noisy signals only** (Zhang & Zhou, *Inverse Flow
//! and Consistency Models*, ICML 2025): Inverse Flow Matching (IFM) and the Inverse
//! Consistency Model (ICM).
//!
//! Given noisy signals `x₁ ~ ∫ p(x₁ | x₀) p(x₀) dx₀` and a known noise model `p(x₁ | x₀)`
//! ([`ConditionalNoise`]), each training step ([`InverseFlowTrainer`]):
//!
//! 1. takes the Karras grid `t_min = t₀ < … < t_{n−1} = t_max` ([`karras_schedule`], 11 points,
//!    `ρ = 7`);
//! 2. estimates, without gradients, `x̂₀` from a batch of noisy `x₁`: ICM one evaluation
//!    `f_θ(x₁, t_max)`; IFM the Euler solve of `dx/dt = v_θ(x, t)` from `t_max` to `t_min`;
//! 3. draws fresh `x₁' ~ p(· | x̂₀)` and forms the conditional path
//!    `x_t = x̂₀ + (t/t_max)(x₁' − x̂₀)`;
//! 4. picks `k` uniformly per signal and minimises the pseudo-Huber distance
//!    (`c = 0.00054·√D`) — ICM: between `f_θ(x_{t_{k+1}}, t_{k+1})` and the stop-gradient
//!    `f_θ(x_{t_k}, t_k)`, weighted by `1/(t_{k+1} − t_k)`; IFM: between
//!    `v_θ(x_{t_{k+1}}, t_{k+1})` and `(x_{t_{k+1}} − x_{t_k})/(t_{k+1} − t_k)`;
//! 5. takes an AdamW step (with an EMA of the weights for inference).
//!
//! At the fixed point `x̂₀` is distributed like the clean data, and the network maps a noisy
//! signal to the end of the (learned) flow. Inference ([`InverseDenoiser`]): ICM one network
//! evaluation, IFM the ODE solve.
//!
//! The deep no-clean-data baseline, Noise2Score/Tweedie with a score model of the noisy data,
//! is [`tweedie_denoise`]; the classical one is heat smoothing with a SURE-chosen time
//! ([`crate::classical::sure_heat_time`]).
//!
//! # Networks
//! Both `F_θ` (ICM, in the consistency parametrisation
//! `f = c_skip(t)·x + c_out(t)·F_θ(x, t)`, [`consistency_scalings`]) and `v_θ` (IFM) take
//! `(x, t)` exactly like a score network ([`InverseNetwork`]): by default an [`MlpScore`](crate::score::MlpScore) with
//! `scale_by_sigma = false` ([`InverseFlowConfig::network`]); with
//! [`InverseFlowConfig::spectral`] set, a [`SpectralFilter`] in the surface's Laplace–Beltrami
//! eigenbasis (learned per-mode gains, a coefficient MLP and a residual gain), whose basis is
//! computed from the mesh ([`InverseFlowConfig::basis`]) when a run starts, resumes or loads
//! ([`InverseDenoiser::load_on_mesh`]).
//!
//! # Non-additive noise
//! Where the noise is not additive on the real line (the Jacobi process on `(0, 1)`), the path
//! and the network live in logit space ([`FlowSpace::Logit`]): the network sees and returns
//! `logit(x)`, `x̂₀ = sigmoid(·)` is what the noise model resamples from, and the ICM distance is
//! measured on `(0, 1)` (as the paper's reference implementation does).
//!
//! # What the denoiser converges to
//! Not the posterior mean `E[x₀ | x₁]` in general. For Gaussian data `N(μ, s²)` and Gaussian
//! noise `σ²`, the exact ODE map is `μ + s/√(s² + σ²)·(x₁ − μ)` (a transport map: its outputs
//! have the data's variance), the Wiener filter is `μ + s²/(s² + σ²)·(x₁ − μ)`, and ICM on the
//! 11-point grid lands between the two (closer to the Wiener filter: each grid step regresses
//! onto a conditional expectation). The tests check the trained model against that analytic
//! fixed point and bound its excess MSE over the Wiener filter.
//!
//! ```
//! use burn::backend::{Autodiff, NdArray};
//! use meshflow_flows::prelude::*;
//! use rand::{Rng, RngCore};
//! use rand_distr::StandardNormal;
//!
//! type B = Autodiff<NdArray<f32>>;
//! # fn main() -> meshflow_flows::Result<()> {
//! let device = Default::default();
//! let noisy = SignalDataset::new(vec![0.5; 32 * 4], 32, 4)?; // noisy signals only
//! // p(x₁ | x₀): Gaussian noise of σ = 0.1 (any closure over a [B × D] batch works).
//! let noise = |x0: &[f32], rng: &mut dyn RngCore| -> Vec<f32> {
//!     x0.iter().map(|v| v + 0.1 * rng.sample::<f32, _>(StandardNormal)).collect()
//! };
//! let config = InverseFlowConfig::new(InverseFlowConfig::network(4).with_hidden(16))
//!     .with_method(InverseMethod::Icm)
//!     .with_steps(5);
//! let mut trainer = InverseFlowTrainer::<B, _>::new(config, noise, &noisy, None, &device)?;
//! trainer.run(|_| std::ops::ControlFlow::Continue(()))?;
//! let denoised = trainer.denoiser().denoise(noisy.to_tensor::<NdArray<f32>>(&device));
//! assert_eq!(denoised.dims(), [32, 4]);
//! # Ok(()) }
//! ```

mod loss;
mod network;
mod schedule;
mod trainer;
mod tweedie;

pub use network::{InverseNetwork, SpectralFilter, SpectralFilterConfig};
pub use schedule::{consistency_scalings, karras_schedule};
pub use trainer::{InverseFlowTrainer, InverseProgress};
pub use tweedie::{tweedie_denoise, NoiseCovariance};

use std::path::Path;

use burn::config::Config;
use burn::optim::AdamWConfig;
use burn::tensor::{activation::sigmoid, backend::Backend, Tensor};
use meshflow_geometry::TriMesh;
use rand::RngCore;

use crate::error::FlowError;
use crate::score::{MlpScoreConfig, ScoreNetwork};
use crate::spectral::SpectralBasis;
use crate::train::{check_run_settings, load_latest_record, load_run_config};

/// A conditional noise distribution `p(x₁ | x₀)` that training resamples from.
///
/// Any `Fn(&[f32], &mut dyn RngCore) -> Vec<f32>` is one (the signature of
/// `meshflow_datasets::noise::NoiseModel::sample`, so a boxed noise model adapts with a
/// closure); wrap it in [`InLogitSpace`] for noise on `(0, 1)` such as the Jacobi process.
pub trait ConditionalNoise {
    /// Draws `x₁ ~ p(· | x₀)` for every signal of a batch, all randomness from `rng`.
    ///
    /// # Shapes
    /// - `x0`: `[B × D]` row-major → `[B × D]`
    fn sample(&self, x0: &[f32], rng: &mut dyn RngCore) -> Vec<f32>;

    /// The space in which the conditional path is a straight line and the network operates.
    fn space(&self) -> FlowSpace {
        FlowSpace::Identity
    }
}

impl<F> ConditionalNoise for F
where
    F: Fn(&[f32], &mut dyn RngCore) -> Vec<f32>,
{
    fn sample(&self, x0: &[f32], rng: &mut dyn RngCore) -> Vec<f32> {
        self(x0, rng)
    }
}

/// A noise model on `(0, 1)` whose flow runs in logit space ([`FlowSpace::Logit`]).
#[derive(Clone, Debug)]
pub struct InLogitSpace<N>(pub N);

impl<N: ConditionalNoise> ConditionalNoise for InLogitSpace<N> {
    fn sample(&self, x0: &[f32], rng: &mut dyn RngCore) -> Vec<f32> {
        self.0.sample(x0, rng)
    }
    fn space(&self) -> FlowSpace {
        FlowSpace::Logit
    }
}

/// Which inverse flow.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum InverseMethod {
    /// Inverse Consistency Model: one network evaluation at inference.
    Icm,
    /// Inverse Flow Matching: an ODE solve at inference.
    Ifm,
}

impl InverseMethod {
    /// `"icm"` or `"ifm"`.
    pub fn name(&self) -> &'static str {
        match self {
            InverseMethod::Icm => "icm",
            InverseMethod::Ifm => "ifm",
        }
    }
}

/// How IFM's velocity `v_θ(u, t)` is formed from the network.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum IfmVelocity {
    /// The network output is the velocity (the paper's parametrisation).
    Direct,
    /// The network is a denoiser `D_θ(u, t)` in the consistency parametrisation
    /// ([`consistency_function`]) and `v_θ(u, t) = (u − D_θ(u, t)) / t`: on the straight path
    /// `u_t = u₀ + (t/t_max)(u₁ − u₀)` the regression target of `v` at `u_t` is
    /// `(u_t − E[u₀ | u_t]) / t`, so `D_θ` learns the posterior mean, as ICM's `f_θ` does.
    Denoiser,
}

/// Where the conditional path is straight and the network operates.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum FlowSpace {
    /// The signal values themselves.
    Identity,
    /// `logit(x)` of values in `(0, 1)`, clamped to `[ε, 1 − ε]` with `ε` = [`LOGIT_EPS`]
    /// first; the output is mapped back with the sigmoid.
    Logit,
}

/// The clamp of [`FlowSpace::Logit`] (the Jacobi noise model's `ε`).
pub const LOGIT_EPS: f64 = 1e-5;

impl FlowSpace {
    /// Signal values → flow space.
    ///
    /// # Shapes
    /// - `x`: `[N, D]` → `[N, D]`
    pub fn to_flow<B: Backend>(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            FlowSpace::Identity => x,
            FlowSpace::Logit => {
                let x = x.clamp(LOGIT_EPS, 1.0 - LOGIT_EPS);
                (x.clone() / (x.neg().add_scalar(1.0))).log()
            }
        }
    }

    /// Flow space → signal values.
    ///
    /// # Shapes
    /// - `u`: `[N, D]` → `[N, D]`
    pub fn from_flow<B: Backend>(&self, u: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            FlowSpace::Identity => u,
            FlowSpace::Logit => sigmoid(u),
        }
    }
}

/// Configuration of an inverse-flow training run; saved as `config.json` in the run directory
/// and in every checkpoint, and read back by [`InverseDenoiser::load`].
#[derive(Config, Debug)]
pub struct InverseFlowConfig {
    /// The network `F_θ` (ICM) or `v_θ` (IFM); `scale_by_sigma` must be false (build it with
    /// [`InverseFlowConfig::network`]). Its `dim` is the signal dimension `D`. With
    /// [`Self::spectral`] it configures the MLP on the spectral coefficients (hidden width,
    /// blocks, time embedding, seed).
    pub model: MlpScoreConfig,
    /// `None` (the default; absent in older `config.json` files): `model` is the network.
    /// `Some`: the network is a [`SpectralFilter`] on the mesh's Laplace–Beltrami eigenbasis.
    pub spectral: Option<SpectralFilterConfig>,
    /// ICM or IFM.
    #[config(default = "InverseMethod::Icm")]
    pub method: InverseMethod,
    /// Where the path is straight; must match the noise model's [`ConditionalNoise::space`].
    #[config(default = "FlowSpace::Identity")]
    pub space: FlowSpace,
    /// Smallest time of the grid.
    #[config(default = 0.002)]
    pub t_min: f64,
    /// Largest time of the grid (the noisy end of the path).
    #[config(default = 0.2)]
    pub t_max: f64,
    /// Points of the Karras training grid.
    #[config(default = 11)]
    pub grid_points: usize,
    /// Exponent `ρ` of the Karras grid.
    #[config(default = 7.0)]
    pub rho: f64,
    /// `σ_d` of the consistency parametrisation (ICM).
    #[config(default = 0.5)]
    pub sigma_data: f64,
    /// Euler steps of the IFM ODE solve (on a Karras grid of `ode_steps + 1` points).
    #[config(default = 10)]
    pub ode_steps: usize,
    /// IFM: how the velocity is formed from the network ([`IfmVelocity`]); `None` (the
    /// default, and what older `config.json` files without the key read as) is `Direct`.
    pub ifm_velocity: Option<IfmVelocity>,
    /// Pseudo-Huber constant per `√D`: `c = huber_factor · √D`.
    #[config(default = 0.00054)]
    pub huber_factor: f64,
    /// The optimiser (AdamW).
    #[config(default = "AdamWConfig::new().with_weight_decay(0.0)")]
    pub optimizer: AdamWConfig,
    /// Total number of optimiser steps.
    #[config(default = 10_000)]
    pub steps: usize,
    /// Noisy signals per batch (drawn with replacement).
    #[config(default = 64)]
    pub batch_size: usize,
    /// Learning rate (at step 0).
    #[config(default = 5e-4)]
    pub learning_rate: f64,
    /// Cosine decay of the learning rate to `final_lr_fraction · learning_rate` at the last
    /// step; `None` keeps it constant (also what a `config.json` from before this field loads
    /// as); see [`crate::train::cosine_learning_rate`].
    #[config(default = "None")]
    pub final_lr_fraction: Option<f64>,
    /// EMA decay (see [`crate::train::TrainConfig::ema_decay`]); the EMA weights denoise.
    #[config(default = 0.999)]
    pub ema_decay: f64,
    /// Seed of batches, noise draws and grid indices.
    #[config(default = 0)]
    pub seed: u64,
    /// Write a checkpoint every this many steps (and after the last step); 0 = only at the end.
    #[config(default = 1000)]
    pub checkpoint_every: usize,
    /// Number of most recent checkpoints kept on disk (≥ 1).
    #[config(default = 2)]
    pub keep_checkpoints: usize,
}

impl InverseFlowConfig {
    /// The default network for signals of dimension `dim`: an [`MlpScoreConfig`] with
    /// `scale_by_sigma = false`.
    pub fn network(dim: usize) -> MlpScoreConfig {
        MlpScoreConfig::new(dim).with_scale_by_sigma(false)
    }

    /// Checks ranges.
    pub fn validate(&self) -> crate::Result<()> {
        self.model.validate()?;
        if let Some(spectral) = &self.spectral {
            spectral.validate()?;
        }
        let bad = |m: String| Err(FlowError::InvalidConfig(m));
        if self.model.scale_by_sigma {
            return bad(
                "model.scale_by_sigma must be false for inverse flows (the network is \
                        not a score): build it with InverseFlowConfig::network"
                    .into(),
            );
        }
        if !(self.t_min > 0.0 && self.t_min < self.t_max && self.t_max.is_finite()) {
            return bad(format!(
                "need 0 < t_min < t_max, got t_min = {}, t_max = {}",
                self.t_min, self.t_max
            ));
        }
        if self.grid_points < 2 || self.ode_steps == 0 {
            return bad(format!(
                "grid_points must be >= 2 and ode_steps >= 1, got {} and {}",
                self.grid_points, self.ode_steps
            ));
        }
        let positive = |v: f64| v > 0.0 && v.is_finite();
        if !(positive(self.rho) && positive(self.sigma_data) && positive(self.huber_factor)) {
            return bad(format!(
                "rho, sigma_data and huber_factor must be positive, got {}, {}, {}",
                self.rho, self.sigma_data, self.huber_factor
            ));
        }
        check_run_settings(
            self.batch_size,
            self.learning_rate,
            self.final_lr_fraction,
            self.ema_decay,
            self.keep_checkpoints,
        )
    }

    /// Learning rate of step `k` (0-based) under the run's cosine schedule.
    pub fn learning_rate_at(&self, k: usize) -> f64 {
        crate::train::cosine_learning_rate(
            self.learning_rate,
            self.final_lr_fraction,
            self.steps,
            k,
        )
    }

    /// The training grid `t_0 < … < t_{n−1}`.
    pub fn grid(&self) -> Vec<f64> {
        karras_schedule(self.t_min, self.t_max, self.grid_points, self.rho)
    }

    /// The eigenbasis the network needs on `mesh`: `Some` for a [`SpectralFilter`], `None` for
    /// the MLP (nothing is computed).
    pub fn basis(&self, mesh: &TriMesh) -> crate::Result<Option<SpectralBasis>> {
        self.spectral.as_ref().map(|s| s.basis(mesh)).transpose()
    }

    /// A freshly initialised network of this configuration; `basis` is the spectral filter's
    /// (from [`Self::basis`]) and ignored for the MLP.
    ///
    /// # Errors
    /// A spectral configuration without a basis, or a basis whose size or vertex count does
    /// not match.
    pub fn init_network<B: Backend>(
        &self,
        basis: Option<&SpectralBasis>,
        device: &B::Device,
    ) -> crate::Result<InverseNetwork<B>> {
        self.validate()?;
        let Some(spectral) = &self.spectral else {
            return Ok(InverseNetwork::Mlp(self.model.init(device)));
        };
        let basis = basis.ok_or_else(|| {
            FlowError::InvalidArgument(
                "the spectral network needs its eigenbasis: pass InverseFlowConfig::basis(mesh)"
                    .into(),
            )
        })?;
        if basis.num_vertices() != self.model.dim {
            return Err(FlowError::InvalidArgument(format!(
                "the eigenbasis has {} vertices but the signals have dim = {}",
                basis.num_vertices(),
                self.model.dim
            )));
        }
        Ok(InverseNetwork::Spectral(spectral.init(
            &self.model,
            basis,
            device,
        )?))
    }
}

/// The consistency function `f(x, t) = c_skip(t)·x + c_out(t)·F(x, t)`
/// ([`consistency_scalings`]); `f(x, t_min) = x` exactly.
///
/// # Shapes
/// - `x`: `[N, D]`, `t`: `[N]` → `[N, D]`
pub fn consistency_function<B: Backend, F: ScoreNetwork<B>>(
    net: &F,
    x: Tensor<B, 2>,
    t: Tensor<B, 1>,
    t_min: f64,
    sigma_data: f64,
) -> Tensor<B, 2> {
    let s2 = sigma_data * sigma_data;
    let d = t.clone().sub_scalar(t_min);
    // σ_d² / (d² + σ_d²) as a quotient of equal numbers at d = 0, so c_skip(t_min) = 1 exactly.
    let c_skip = d.clone().ones_like().mul_scalar(s2) / (d.clone() * d.clone()).add_scalar(s2);
    let c_out = d.mul_scalar(sigma_data) / (t.clone() * t.clone()).add_scalar(s2).sqrt();
    let out = net.forward(x.clone(), t);
    x * c_skip.unsqueeze_dim::<2>(1) + out * c_out.unsqueeze_dim::<2>(1)
}

/// The pseudo-Huber distance `√((a − b)² + c²) − c`, elementwise.
///
/// # Shapes
/// - `a`, `b`: `[N, D]` → `[N, D]`
pub fn pseudo_huber<B: Backend>(a: Tensor<B, 2>, b: Tensor<B, 2>, c: f64) -> Tensor<B, 2> {
    let r = a - b;
    (r.clone() * r).add_scalar(c * c).sqrt().sub_scalar(c)
}

/// A trained inverse-flow denoiser: the network and its configuration.
#[derive(Debug, Clone)]
pub struct InverseDenoiser<B: Backend> {
    net: InverseNetwork<B>,
    config: InverseFlowConfig,
}

impl<B: Backend> InverseDenoiser<B> {
    /// Wraps a network trained with `config`.
    pub fn new(net: InverseNetwork<B>, config: InverseFlowConfig) -> crate::Result<Self> {
        config.validate()?;
        if matches!(net, InverseNetwork::Spectral(_)) != config.spectral.is_some() {
            return Err(FlowError::InvalidConfig(
                "the network kind (MLP or spectral) differs from the configuration's".into(),
            ));
        }
        if net.dim() != config.model.dim {
            return Err(FlowError::InvalidConfig(format!(
                "network dim {} differs from config dim {}",
                net.dim(),
                config.model.dim
            )));
        }
        Ok(Self { net, config })
    }

    /// The EMA weights of the most recent checkpoint of the run in `dir` (with its
    /// `config.json`). A spectral network needs the mesh: use [`Self::load_on_mesh`].
    pub fn load(dir: &Path, device: &B::Device) -> crate::Result<Self> {
        Self::load_with_basis(dir, None, device)
    }

    /// Like [`Self::load`], computing the spectral network's eigenbasis from `mesh` (the mesh
    /// the run was trained on); for an MLP run the mesh is not used.
    pub fn load_on_mesh(dir: &Path, mesh: &TriMesh, device: &B::Device) -> crate::Result<Self> {
        let config: InverseFlowConfig = load_run_config(dir)?;
        config.validate()?;
        Self::load_with_basis(dir, config.basis(mesh)?.as_ref(), device)
    }

    /// Like [`Self::load`] with the spectral network's eigenbasis given
    /// ([`InverseFlowConfig::basis`]).
    pub fn load_with_basis(
        dir: &Path,
        basis: Option<&SpectralBasis>,
        device: &B::Device,
    ) -> crate::Result<Self> {
        let config: InverseFlowConfig = load_run_config(dir)?;
        let net = load_latest_record(dir, config.init_network(basis, device)?, "ema", device)?;
        Self::new(net, config)
    }

    /// Like [`Self::load_with_basis`], with the EMA weights of the checkpoint directory
    /// `checkpoint` (e.g. `dir/checkpoint-000003600`, one kept by `keep_checkpoints`) instead of
    /// the latest one.
    pub fn load_checkpoint_with_basis(
        dir: &Path,
        checkpoint: &Path,
        basis: Option<&SpectralBasis>,
        device: &B::Device,
    ) -> crate::Result<Self> {
        let config: InverseFlowConfig = load_run_config(dir)?;
        let net = config.init_network(basis, device)?;
        let net = crate::train::load_module(net, &checkpoint.join("ema"), device)?;
        Self::new(net, config)
    }

    /// The configuration the network was trained with.
    pub fn config(&self) -> &InverseFlowConfig {
        &self.config
    }

    /// The network.
    pub fn network(&self) -> &InverseNetwork<B> {
        &self.net
    }

    /// Denoises a batch of noisy signals: ICM `f_θ(x₁, t_max)`, IFM the Euler solve of the
    /// learned ODE from `t_max` to `t_min` (in the configured [`FlowSpace`]).
    ///
    /// # Shapes
    /// - `x1`: `[N, D]` → `[N, D]`
    pub fn denoise(&self, x1: Tensor<B, 2>) -> Tensor<B, 2> {
        let space = self.config.space;
        space.from_flow(estimate_clean(&self.net, &self.config, space.to_flow(x1)))
    }
}

/// `x̂₀` in flow space from `u₁` in flow space: ICM one evaluation at `t_max`, IFM the Euler
/// solve of `du/dt = v(u, t)` backwards over a Karras grid of `ode_steps + 1` points.
///
/// # Shapes
/// - `u1`: `[N, D]` → `[N, D]`
pub(crate) fn estimate_clean<B: Backend, F: ScoreNetwork<B>>(
    net: &F,
    config: &InverseFlowConfig,
    u1: Tensor<B, 2>,
) -> Tensor<B, 2> {
    let n = u1.dims()[0];
    let device = u1.device();
    let at = |t: f64| Tensor::<B, 1>::full([n], t, &device);
    match config.method {
        InverseMethod::Icm => {
            consistency_function(net, u1, at(config.t_max), config.t_min, config.sigma_data)
        }
        InverseMethod::Ifm => {
            let ts = karras_schedule(config.t_min, config.t_max, config.ode_steps + 1, config.rho);
            loss::euler_backward(&Velocity { net, config }, u1, &ts)
        }
    }
}

/// IFM's velocity field `v_θ(u, t)` of a network under `config.ifm_velocity`.
pub(crate) struct Velocity<'a, F> {
    pub(crate) net: &'a F,
    pub(crate) config: &'a InverseFlowConfig,
}

impl<B: Backend, F: ScoreNetwork<B>> ScoreNetwork<B> for Velocity<'_, F> {
    fn dim(&self) -> usize {
        self.net.dim()
    }

    /// # Shapes
    /// - `u`: `[N, D]`, `t`: `[N]` → `[N, D]`
    fn forward(&self, u: Tensor<B, 2>, t: Tensor<B, 1>) -> Tensor<B, 2> {
        match self.config.ifm_velocity.unwrap_or(IfmVelocity::Direct) {
            IfmVelocity::Direct => self.net.forward(u, t),
            IfmVelocity::Denoiser => {
                let (t_min, sd) = (self.config.t_min, self.config.sigma_data);
                let denoised = consistency_function(self.net, u.clone(), t.clone(), t_min, sd);
                (u - denoised) / t.unsqueeze_dim::<2>(1)
            }
        }
    }
}

#[cfg(test)]
mod tests;

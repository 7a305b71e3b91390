//! Amortised posterior sampling with diffusion-prior distillation: a conditional RealNVP
//! `G(z; y)` trained by variational inference against a frozen score-based prior, amortised
//! over all measurements `y`.
//!
//! # Problem
//! `y = A(x) + n`, `n ~ N(0, σ² I)`. The default operator is masking ([`RandomMask`]): every
//! measurement has its own 0/1 mask `[D]`, and hidden entries of `y` are 0, so
//! `‖y − A(x)‖² = ‖mask ⊙ (y − x)‖²`. Other forward operators plug in by implementing
//! [`MeasurementModel`] (or passing a closure for the simulation part).
//!
//! # Objective
//! For measurements simulated on the fly from clean training signals and `z ~ N(0, I)`
//! (`z_per_y` draws per measurement), with `x = G(z; y)`:
//!
//! ```text
//! L = E_y E_z [ ‖y − A(x)‖² / (2σ²) + λ · ELBO_θ(x) − log|det ∂G/∂z| ]
//! ```
//!
//! where `ELBO_θ(x) ≥ −log p_θ(x)` is the DSM bound of the frozen prior
//! ([`dsm_elbo_surrogate`]). With `λ = 1` this is `KL(q(·|y) ‖ p(·|y))` up to terms constant in
//! the flow, so its minimiser is the posterior for every `y` at once. The condition of `G` is
//! `[y, mask]` ([`ConditionalRealNvp::context`]).
//!
//! # Training
//! [`AmortizedTrainer`] mirrors [`crate::train::ScorePriorTrainer`]: a [`SamplerTrainConfig`]
//! saved as `config.json`, atomic checkpoints `checkpoint-<step>/{flow,optimizer}.mpk` plus
//! `state.json` and `config.json`, and per-step RNGs seeded by `(seed, step)` so a resumed run is
//! bit-identical to an uninterrupted one. The prior must be frozen: pass `model.no_grad()` (an
//! autodiff module whose parameters do not require gradients) or a constant score such as
//! [`crate::score::GaussianScore`]; only the flow's parameters are optimised.
//!
//! # Posterior
//! [`sample_posterior`] draws `n` samples for one measurement in one batched pass;
//! [`posterior_summary`] gives the per-vertex mean and standard deviation and [`coverage`]
//! the fraction of true values inside `mean ± k·std` (≈ 95.4 % for `k = 2` when calibrated).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::{backend::AutodiffBackend, backend::Backend, Tensor};
use rand::{rngs::StdRng, Rng};

use crate::dsm::{dsm_elbo_surrogate, ElboOptions};
use crate::error::FlowError;
use crate::optim::{fused_adamw, FusedAdamW};
// NB: no `crate::Result` import: burn's `#[derive(Config)]` names `Result<T, E>` unqualified.
use crate::basis::DataBasis;
use crate::realnvp::{ConditionalRealNvp, ConditionalRealNvpConfig};
use crate::score::ScoreNetwork;
use crate::sde::VpSde;
use crate::train::{
    finite_loss, load_latest_record, load_module, load_optimizer, load_run_config, prepare_run_dir,
    read_state, require_latest_checkpoint, run_with_progress, save_module, save_optimizer,
    step_rng, write_checkpoint, CheckpointState, GradNormClip, SignalDataset, SteppedTrainer,
    TrainingData,
};
use crate::util;

/// A batch of measurements: values `y` (0 where hidden) and the 0/1 mask of observed entries.
#[derive(Clone, Debug)]
pub struct Measurements<B: Backend> {
    /// Measured values `[N, D]`, 0 at hidden entries.
    pub y: Tensor<B, 2>,
    /// 1 where observed, 0 where hidden, `[N, D]`.
    pub mask: Tensor<B, 2>,
}

impl<B: Backend> Measurements<B> {
    /// Number of measurements `N`.
    pub fn len(&self) -> usize {
        self.y.dims()[0]
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `times` copies stacked along rows (row `r·N + i` is measurement `i`).
    pub fn tile(&self, times: usize) -> Self {
        Self {
            y: util::tile_rows(self.y.clone(), times),
            mask: util::tile_rows(self.mask.clone(), times),
        }
    }

    /// The flow's condition `[y, mask]`.
    ///
    /// # Shapes
    /// - output: `[N, 2D]`
    pub fn context(&self) -> Tensor<B, 2> {
        ConditionalRealNvp::context(self.y.clone(), self.mask.clone())
    }
}

/// A forward operator with its noise: simulates measurements of clean signals and applies the
/// (noise-free) operator to candidate signals.
///
/// Any `Fn(Tensor<B, 2>, &mut StdRng) -> Measurements<B>` is a masking measurement model.
pub trait MeasurementModel<B: Backend> {
    /// Simulates `y = A(x) + n` for clean signals, drawing all randomness from `rng`.
    ///
    /// # Shapes
    /// - `x`: `[N, D]` → `y`, `mask`: `[N, D]`
    fn simulate(&self, x: Tensor<B, 2>, rng: &mut StdRng) -> Measurements<B>;

    /// `A(x)` for the operator that produced `m` (differentiable in `x`). The default is
    /// masking, `mask ⊙ x`.
    ///
    /// # Shapes
    /// - `x`: `[N, D]` → `[N, D]`
    fn apply(&self, x: Tensor<B, 2>, m: &Measurements<B>) -> Tensor<B, 2> {
        x * m.mask.clone()
    }
}

impl<B: Backend, F> MeasurementModel<B> for F
where
    F: Fn(Tensor<B, 2>, &mut StdRng) -> Measurements<B>,
{
    fn simulate(&self, x: Tensor<B, 2>, rng: &mut StdRng) -> Measurements<B> {
        self(x, rng)
    }
}

/// Random masking with Gaussian noise: each entry is observed independently with probability
/// `observed_fraction`; `y = mask ⊙ (x + σ n)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RandomMask {
    /// Probability that an entry is observed.
    pub observed_fraction: f64,
    /// Noise standard deviation `σ`.
    pub noise_std: f64,
}

impl<B: Backend> MeasurementModel<B> for RandomMask {
    fn simulate(&self, x: Tensor<B, 2>, rng: &mut StdRng) -> Measurements<B> {
        let [n, d] = x.dims();
        let device = x.device();
        let mask: Vec<f32> = (0..n * d)
            .map(|_| f32::from(u8::from(rng.random::<f64>() < self.observed_fraction)))
            .collect();
        let mask = util::tensor2::<B>(mask, n, d, &device);
        let noise = util::randn::<B, _>(rng, n, d, &device).mul_scalar(self.noise_std);
        Measurements {
            y: (x + noise) * mask.clone(),
            mask,
        }
    }
}

/// Default of [`SamplerTrainConfig::clip_factor`].
pub const DEFAULT_CLIP_FACTOR: f64 = 5.0;

/// Configuration of an amortised-sampler training run; saved as `config.json` in the run
/// directory and in every checkpoint.
#[derive(Config, Debug)]
pub struct SamplerTrainConfig {
    /// The conditional flow; its `context_dim` must be `2 · dim`.
    pub flow: ConditionalRealNvpConfig,
    /// The diffusion of the prior (used by the ELBO surrogate).
    #[config(default = "VpSde::new()")]
    pub sde: VpSde,
    /// The optimiser. The default is Adam (AdamW with zero weight decay).
    #[config(default = "AdamWConfig::new().with_weight_decay(0.0)")]
    pub optimizer: AdamWConfig,
    /// Total number of optimiser steps.
    #[config(default = 10_000)]
    pub steps: usize,
    /// Measurements per step (clean signals drawn with replacement).
    #[config(default = 64)]
    pub batch_size: usize,
    /// Draws of `z` per measurement per step.
    #[config(default = 4)]
    pub z_per_y: usize,
    /// Learning rate (at step 0).
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Cosine decay of the learning rate to `final_lr_fraction · learning_rate` at the last
    /// step; `None` keeps it constant (see [`crate::train::cosine_learning_rate`]). Decaying
    /// removes most of the SGD jitter of the final flow.
    #[config(default = "None")]
    pub final_lr_fraction: Option<f64>,
    /// Weight `λ` of the prior term (1 = exact posterior).
    #[config(default = 1.0)]
    pub prior_weight: f64,
    /// Noise standard deviation `σ` of the likelihood (and of the default [`RandomMask`]).
    #[config(default = 0.1)]
    pub noise_std: f64,
    /// Observed fraction of the default [`RandomMask`] measurement model.
    #[config(default = 0.5)]
    pub observed_fraction: f64,
    /// Gradient clipping relative to the run's typical gradient norm: a step's gradient is
    /// scaled down to at most this multiple of the running mean of the (clipped) global norms
    /// (see `GradNormClip` in `train.rs`). `None` turns it off. A `config.json` written before
    /// this field existed loads with the default.
    #[config(default = "Some(DEFAULT_CLIP_FACTOR)")]
    pub clip_factor: Option<f64>,
    /// Monte-Carlo time samples of the ELBO surrogate per flow sample.
    #[config(default = 1)]
    pub elbo_time_samples: usize,
    /// Antithetic noise in the ELBO surrogate (see [`ElboOptions::antithetic`]).
    #[config(default = true)]
    pub elbo_antithetic: bool,
    /// Data-dependent ActNorm initialisation from simulated measurements of training signals.
    #[config(default = true)]
    pub data_init: bool,
    /// Seed of measurement simulation, `z` and ELBO draws.
    #[config(default = 0)]
    pub seed: u64,
    /// Write a checkpoint every this many steps (and after the last step); 0 = only at the end.
    #[config(default = 1000)]
    pub checkpoint_every: usize,
    /// Number of most recent checkpoints kept on disk (≥ 1).
    #[config(default = 2)]
    pub keep_checkpoints: usize,
}

impl SamplerTrainConfig {
    /// Checks ranges.
    pub fn validate(&self) -> crate::Result<()> {
        self.flow.validate()?;
        self.sde.validate()?;
        let bad = |m: String| Err(FlowError::InvalidConfig(m));
        if self.flow.context_dim != 2 * self.flow.dim {
            return bad(format!(
                "flow.context_dim must be 2 · dim = {} (measurement and mask), got {}",
                2 * self.flow.dim,
                self.flow.context_dim
            ));
        }
        if self.batch_size == 0 || self.z_per_y == 0 || self.elbo_time_samples == 0 {
            return bad("batch_size, z_per_y and elbo_time_samples must be >= 1".into());
        }
        crate::train::check_learning_rate(self.learning_rate, self.final_lr_fraction)?;
        if !(self.noise_std > 0.0 && self.noise_std.is_finite()) {
            return bad(format!(
                "noise_std must be positive (the likelihood divides by σ²), got {}",
                self.noise_std
            ));
        }
        if let Some(f) = self.clip_factor {
            if !(f > 1.0 && f.is_finite()) {
                return bad(format!(
                    "clip_factor must be > 1 (a multiple of the typical gradient norm), got {f}"
                ));
            }
        }
        if !(self.prior_weight >= 0.0 && self.prior_weight.is_finite()) {
            return bad(format!(
                "prior_weight must be >= 0, got {}",
                self.prior_weight
            ));
        }
        if !(0.0..=1.0).contains(&self.observed_fraction) {
            return bad(format!(
                "observed_fraction must be in [0, 1], got {}",
                self.observed_fraction
            ));
        }
        if self.keep_checkpoints == 0 {
            return bad("keep_checkpoints must be >= 1".into());
        }
        Ok(())
    }

    /// Learning rate of step `k` (0-based) under the cosine schedule.
    pub fn learning_rate_at(&self, k: usize) -> f64 {
        crate::train::cosine_learning_rate(
            self.learning_rate,
            self.final_lr_fraction,
            self.steps,
            k,
        )
    }

    /// The default measurement model of this configuration.
    pub fn random_mask(&self) -> RandomMask {
        RandomMask {
            observed_fraction: self.observed_fraction,
            noise_std: self.noise_std,
        }
    }
}

/// Reported to the progress callback after every step (`loss`: the VI loss of the batch just
/// used, in nats per sample, up to the constant entropy of `z`).
pub type SamplerProgress = crate::train::TrainProgress;

/// The optimiser type of [`AmortizedTrainer`].
pub type SamplerOptimizer<B> = OptimizerAdaptor<FusedAdamW, ConditionalRealNvp<B>, B>;

/// Trains a [`ConditionalRealNvp`] posterior sampler against a frozen score prior; see the
/// module docs.
///
/// ```no_run
/// use burn::backend::{Autodiff, NdArray};
/// use burn::module::Module;
/// use meshflow_flows::prelude::*;
///
/// type B = Autodiff<NdArray<f32>>;
/// # fn main() -> meshflow_flows::Result<()> {
/// let device = Default::default();
/// let data = SignalDataset::new(vec![0.0; 100 * 16], 100, 16)?;
/// let prior = MlpScoreConfig::new(16).init::<B>(&device).no_grad(); // a trained prior
/// let config = SamplerTrainConfig::new(ConditionalRealNvpConfig::new(16, 32)).with_steps(500);
/// let dir = std::path::Path::new("runs/sampler");
/// let mut trainer = AmortizedTrainer::new(config, prior.clone(), &data, Some(dir), &device)?;
/// trainer.run(|_| std::ops::ControlFlow::Continue(()))?;
/// // After a kill: AmortizedTrainer::resume(dir, prior, &data, &device)?.run(...)
/// # Ok(()) }
/// ```
pub struct AmortizedTrainer<B, P, M = RandomMask>
where
    B: AutodiffBackend,
    P: ScoreNetwork<B>,
    M: MeasurementModel<B>,
{
    config: SamplerTrainConfig,
    flow: ConditionalRealNvp<B>,
    optim: SamplerOptimizer<B>,
    prior: P,
    measurements: M,
    step: usize,
    last_loss: Option<f32>,
    clip: GradNormClip,
    data: TrainingData<B>,
    device: B::Device,
    dir: Option<PathBuf>,
    last_checkpoint: Option<PathBuf>,
}

impl<B: AutodiffBackend, P: ScoreNetwork<B>> AmortizedTrainer<B, P, RandomMask> {
    /// Starts a new run with the configuration's [`RandomMask`] measurements. With
    /// `checkpoint_dir`, the directory is created, must not already hold checkpoints, and
    /// receives `config.json`.
    pub fn new(
        config: SamplerTrainConfig,
        prior: P,
        data: &SignalDataset,
        checkpoint_dir: Option<&Path>,
        device: &B::Device,
    ) -> crate::Result<Self> {
        let m = config.random_mask();
        Self::with_measurement_model(config, prior, m, data, checkpoint_dir, device)
    }

    /// Continues the run in `dir` from its most recent complete checkpoint (configuration from
    /// `dir/config.json`, whose `steps` may have been raised), with [`RandomMask`] measurements.
    pub fn resume(
        dir: &Path,
        prior: P,
        data: &SignalDataset,
        device: &B::Device,
    ) -> crate::Result<Self> {
        let config: SamplerTrainConfig = load_run_config(dir)?;
        let m = config.random_mask();
        Self::resume_with_measurement_model(dir, prior, m, data, device)
    }
}

impl<B, P, M> SteppedTrainer for AmortizedTrainer<B, P, M>
where
    B: AutodiffBackend,
    P: ScoreNetwork<B>,
    M: MeasurementModel<B>,
{
    fn completed_steps(&self) -> usize {
        self.step
    }
    fn total_steps(&self) -> usize {
        self.config.steps
    }
    fn checkpoint_every(&self) -> usize {
        self.config.checkpoint_every
    }
    fn has_checkpoint_dir(&self) -> bool {
        self.dir.is_some()
    }
    fn step_once(&mut self) -> crate::Result<f32> {
        self.train_step()
    }
    fn checkpoint(&mut self) -> crate::Result<PathBuf> {
        self.save_checkpoint()
    }
}

impl<B, P, M> AmortizedTrainer<B, P, M>
where
    B: AutodiffBackend,
    P: ScoreNetwork<B>,
    M: MeasurementModel<B>,
{
    /// Like [`AmortizedTrainer::new`] with any measurement model.
    ///
    /// When the prior has a principal basis ([`ScoreNetwork::data_basis`]), the flow maps its
    /// output through it (see [`ConditionalRealNvpConfig::output_basis_rank`]), so it starts
    /// from the prior's Gaussian instead of `N(0, I)`.
    pub fn with_measurement_model(
        mut config: SamplerTrainConfig,
        prior: P,
        measurements: M,
        data: &SignalDataset,
        checkpoint_dir: Option<&Path>,
        device: &B::Device,
    ) -> crate::Result<Self> {
        config.validate()?;
        check_dims(&config, &prior, data)?;
        let basis = prior.data_basis().cloned();
        config.flow.output_basis_rank = basis.as_ref().map(DataBasis::rank);
        if let Some(dir) = checkpoint_dir {
            prepare_run_dir(dir, &config)?;
        }
        let data_t = TrainingData::<B>::new(data, device);
        let mut flow = config.flow.init::<B>(device);
        if let Some(basis) = basis {
            flow = flow.with_output_basis(basis)?;
        }
        if config.data_init {
            // A fixed RNG stream distinct from every step's.
            let mut rng = step_rng(config.seed, u64::MAX);
            let n = data.len().min(256);
            let idx: Vec<usize> = (0..n).map(|_| rng.random_range(0..data.len())).collect();
            let x = data_t
                .values
                .clone()
                .select(0, util::index_tensor::<B>(&idx, device));
            let m = measurements.simulate(x.clone(), &mut rng);
            flow = flow.data_init(x, m.context());
        }
        let optim = fused_adamw::<B, ConditionalRealNvp<B>>(&config.optimizer);
        Ok(Self {
            flow,
            optim,
            prior,
            measurements,
            step: 0,
            last_loss: None,
            clip: GradNormClip::default(),
            data: data_t,
            device: device.clone(),
            dir: checkpoint_dir.map(Path::to_path_buf),
            last_checkpoint: None,
            config,
        })
    }

    /// Like [`AmortizedTrainer::resume`] with any measurement model (the same one as the
    /// interrupted run, for an exact continuation).
    pub fn resume_with_measurement_model(
        dir: &Path,
        prior: P,
        measurements: M,
        data: &SignalDataset,
        device: &B::Device,
    ) -> crate::Result<Self> {
        let config: SamplerTrainConfig = load_run_config(dir)?;
        config.validate()?;
        check_dims(&config, &prior, data)?;
        let ckpt = require_latest_checkpoint(dir)?;
        let flow = load_module(config.flow.init::<B>(device), &ckpt.join("flow"), device)?;
        let optim = load_optimizer(
            fused_adamw::<B, ConditionalRealNvp<B>>(&config.optimizer),
            &ckpt.join("optimizer"),
            device,
        )?;
        let state = read_state(&ckpt)?;
        Ok(Self {
            flow,
            optim,
            prior,
            measurements,
            step: state.step,
            last_loss: state.loss,
            clip: GradNormClip {
                mean: state.grad_norm,
            },
            data: TrainingData::new(data, device),
            device: device.clone(),
            dir: Some(dir.to_path_buf()),
            last_checkpoint: Some(ckpt),
            config,
        })
    }

    /// Runs until `config.steps`, calling `progress` after every step; a `ControlFlow::Break`
    /// and a NaN/Inf loss stop as in [`crate::train::ScorePriorTrainer::run`].
    pub fn run(
        &mut self,
        progress: impl FnMut(SamplerProgress) -> ControlFlow<()>,
    ) -> crate::Result<()> {
        run_with_progress(self, progress)
    }

    /// The VI loss (see the module docs) for simulated measurements of `x0`, averaged over the
    /// batch and the `z` draws; all randomness from `rng`.
    ///
    /// # Shapes
    /// - `x0`: `[N, D]` clean signals → `[1]`
    pub fn loss(&self, x0: Tensor<B, 2>, rng: &mut StdRng) -> Tensor<B, 1> {
        let times = self.config.z_per_y;
        let distinct = self.measurements.simulate(x0, rng);
        let m = distinct.tile(times);
        let [n, d] = m.y.dims();
        let z = util::randn::<B, _>(rng, n, d, &self.device);
        // The condition is encoded once per measurement, not once per draw of z.
        let (x, log_det) = self.flow.inverse_tiled(z, distinct.context(), times);
        let r = m.y.clone() - self.measurements.apply(x.clone(), &m);
        let sigma2 = self.config.noise_std * self.config.noise_std;
        let data_term = (r.clone() * r)
            .sum_dim(1)
            .reshape([n])
            .div_scalar(2.0 * sigma2);
        let opts = ElboOptions {
            time_samples: self.config.elbo_time_samples,
            importance_sampling: true,
            include_constants: true,
            antithetic: self.config.elbo_antithetic,
        };
        let prior_term = dsm_elbo_surrogate(&self.prior, &self.config.sde, x, &opts, rng);
        (data_term + prior_term.mul_scalar(self.config.prior_weight) - log_det).mean()
    }

    /// One optimiser step; returns the batch loss.
    fn train_step(&mut self) -> crate::Result<f32> {
        let (x0, mut rng) =
            self.data
                .step_batch(self.config.seed, self.step, self.config.batch_size);
        let loss = self.loss(x0, &mut rng);
        let value = finite_loss(&loss, self.step, &self.last_checkpoint)?;
        let mut grads = GradientsParams::from_grads(loss.backward(), &self.flow);
        if let Some(factor) = self.config.clip_factor {
            self.clip.apply(&self.flow, &mut grads, factor);
        }
        let lr = self.config.learning_rate_at(self.step);
        self.flow = self.optim.step(lr, self.flow.clone(), grads);
        self.step += 1;
        self.last_loss = Some(value);
        Ok(value)
    }

    /// Writes a checkpoint of the current state atomically and prunes old ones; returns its
    /// directory. Errors if the trainer has no checkpoint directory.
    pub fn save_checkpoint(&mut self) -> crate::Result<PathBuf> {
        let state = CheckpointState {
            step: self.step,
            loss: self.last_loss,
            grad_norm: self.clip.mean,
        };
        let path = write_checkpoint(
            self.dir.as_deref(),
            &self.config,
            &state,
            self.config.keep_checkpoints,
            |tmp| {
                save_module(&self.flow, &tmp.join("flow"))?;
                save_optimizer(&self.optim, &tmp.join("optimizer"))
            },
        )?;
        self.last_checkpoint = Some(path.clone());
        Ok(path)
    }

    /// Completed steps.
    pub fn step(&self) -> usize {
        self.step
    }

    /// The run's configuration.
    pub fn config(&self) -> &SamplerTrainConfig {
        &self.config
    }

    /// The flow being trained (autodiff backend).
    pub fn flow(&self) -> &ConditionalRealNvp<B> {
        &self.flow
    }

    /// The flow on the inner backend, for sampling without recording a graph.
    pub fn sampler(&self) -> ConditionalRealNvp<B::InnerBackend> {
        self.flow.valid()
    }

    /// The most recent checkpoint written or resumed from.
    pub fn last_checkpoint(&self) -> Option<&Path> {
        self.last_checkpoint.as_deref()
    }

    /// Loss of the last completed step.
    pub fn last_loss(&self) -> Option<f32> {
        self.last_loss
    }
}

/// Loads a trained sampler from a run directory: its `config.json` and the flow of its most
/// recent complete checkpoint, on any backend.
///
/// # Errors
/// [`FlowError::NoCheckpoint`] when `dir` has none; I/O or parse errors naming the file.
pub fn load_trained_sampler<B: Backend>(
    dir: &Path,
    device: &B::Device,
) -> crate::Result<(ConditionalRealNvp<B>, SamplerTrainConfig)> {
    let config: SamplerTrainConfig = load_run_config(dir)?;
    config.validate()?;
    let flow = load_latest_record(dir, config.flow.init::<B>(device), "flow", device)?;
    Ok((flow, config))
}

fn check_dims<B: Backend, P: ScoreNetwork<B>>(
    config: &SamplerTrainConfig,
    prior: &P,
    data: &SignalDataset,
) -> crate::Result<()> {
    let d = config.flow.dim;
    if data.dim() != d || prior.dim() != d {
        return Err(FlowError::InvalidData(format!(
            "dimension mismatch: flow dim = {d}, dataset signals have {} values, prior dim = {}",
            data.dim(),
            prior.dim()
        )));
    }
    Ok(())
}

/// `n` posterior samples `x = G(z; y)` for one measurement, in one batched pass.
///
/// # Shapes
/// - `y`, `mask`: `[D]` → `[n, D]`
pub fn sample_posterior<B: Backend, R: Rng + ?Sized>(
    flow: &ConditionalRealNvp<B>,
    y: Tensor<B, 1>,
    mask: Tensor<B, 1>,
    n: usize,
    rng: &mut R,
) -> Tensor<B, 2> {
    let d = flow.dim();
    let device = y.device();
    let context = ConditionalRealNvp::context(y.unsqueeze_dim::<2>(0), mask.unsqueeze_dim::<2>(0));
    let z = util::randn::<B, _>(rng, n, d, &device);
    flow.inverse_tiled(z, context, n).0
}

/// Per-vertex posterior mean and standard deviation.
#[derive(Clone, Debug)]
pub struct PosteriorSummary<B: Backend> {
    /// Sample mean, `[D]`.
    pub mean: Tensor<B, 1>,
    /// Sample standard deviation (`n − 1` normalisation), `[D]`.
    pub std: Tensor<B, 1>,
}

/// Mean and per-vertex standard deviation of posterior samples.
///
/// # Shapes
/// - `samples`: `[n, D]` (`n ≥ 2`) → mean `[D]`, std `[D]`
pub fn posterior_summary<B: Backend>(samples: Tensor<B, 2>) -> PosteriorSummary<B> {
    let [n, d] = samples.dims();
    let mean = samples.clone().mean_dim(0);
    let var = (samples - mean.clone())
        .powi_scalar(2)
        .sum_dim(0)
        .div_scalar((n.max(2) - 1) as f64);
    PosteriorSummary {
        mean: mean.reshape([d]),
        std: var.sqrt().reshape([d]),
    }
}

/// Fraction of `truth` values inside `mean ± k·std` (element-wise; a calibrated Gaussian
/// posterior gives ≈ 0.954 for `k = 2`).
///
/// # Panics
/// If the slices have different lengths or are empty.
pub fn coverage(truth: &[f32], mean: &[f32], std: &[f32], k: f32) -> f64 {
    assert!(
        !truth.is_empty() && truth.len() == mean.len() && truth.len() == std.len(),
        "coverage needs equally long, non-empty slices"
    );
    let inside = truth
        .iter()
        .zip(mean.iter().zip(std))
        .filter(|(t, (m, s))| (**t - **m).abs() <= k * **s)
        .count();
    inside as f64 / truth.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::{GaussianScore, MlpScore, MlpScoreConfig};
    use crate::train::test_support::{check_resumed_run, params, Interruption};
    use crate::util::to_vec;
    use burn::backend::{Autodiff, NdArray};
    use burn::module::Module;
    use rand::SeedableRng;

    type B = NdArray<f32>;
    type AB = Autodiff<NdArray<f32>>;

    const MEAN: [f32; 6] = [1.0, -0.5, 2.0, 0.0, 0.5, -1.0];
    const STD: [f32; 6] = [0.5, 1.0, 0.3, 0.8, 0.6, 0.4];

    fn gaussian_dataset(n: usize, mean: &[f32], std: &[f32], seed: u64) -> SignalDataset {
        let mut rng = StdRng::seed_from_u64(seed);
        let d = mean.len();
        let v = (0..n * d)
            .map(|i| mean[i % d] + std[i % d] * rng.sample::<f32, _>(rand_distr::StandardNormal))
            .collect();
        SignalDataset::new(v, n, d).unwrap()
    }

    /// Exact posterior of `x ~ N(μ, diag(s²))`, `y = mask ⊙ (x + σ n)`: per coordinate,
    /// observed: precision `1/s² + 1/σ²`, mean `(μ/s² + y/σ²)/precision`; hidden: the prior.
    fn analytic_posterior(y: &[f32], mask: &[f32], sigma: f32) -> (Vec<f32>, Vec<f32>) {
        let mut m = Vec::new();
        let mut s = Vec::new();
        for j in 0..y.len() {
            let (mu, s2) = (MEAN[j], STD[j] * STD[j]);
            if mask[j] > 0.5 {
                let prec = 1.0 / s2 + 1.0 / (sigma * sigma);
                m.push((mu / s2 + y[j] / (sigma * sigma)) / prec);
                s.push(prec.recip().sqrt());
            } else {
                m.push(mu);
                s.push(s2.sqrt());
            }
        }
        (m, s)
    }

    #[test]
    fn random_mask_hides_and_noises() {
        let dev = Default::default();
        let x = Tensor::<B, 2>::ones([200, 50], &dev);
        let mut rng = StdRng::seed_from_u64(0);
        let m = RandomMask {
            observed_fraction: 0.3,
            noise_std: 0.1,
        }
        .simulate(x, &mut rng);
        let (y, mask) = (to_vec(m.y), to_vec(m.mask));
        let frac = mask.iter().sum::<f32>() / mask.len() as f32;
        assert!((frac - 0.3).abs() < 0.02, "{frac}");
        let (mut s1, mut s2, mut k) = (0.0f64, 0.0f64, 0.0f64);
        for (yv, mv) in y.iter().zip(&mask) {
            if *mv == 0.0 {
                assert_eq!(*yv, 0.0);
            } else {
                s1 += (*yv - 1.0) as f64;
                s2 += ((*yv - 1.0) as f64).powi(2);
                k += 1.0;
            }
        }
        let sd = (s2 / k - (s1 / k).powi(2)).sqrt();
        assert!((sd - 0.1).abs() < 0.01, "{sd}");
    }

    /// Exact posterior draws summarised by `posterior_summary` cover their truth ≈ 95.4 % of the
    /// time with `k = 2`. With 600 × 8 = 4800 truths the binomial standard error is 0.003; the
    /// estimated mean/std from 4000 samples move the interval edges by < 2 %, so ± 0.015.
    #[test]
    fn coverage_of_exact_posterior_draws_is_95_percent() {
        let dev = Default::default();
        let mut rng = StdRng::seed_from_u64(3);
        let (d, n, trials) = (8, 4000, 600);
        let (mut truth, mut means, mut stds) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..trials {
            let m: Vec<f32> = (0..d).map(|_| rng.random::<f32>() * 4.0 - 2.0).collect();
            let s: Vec<f32> = (0..d).map(|_| 0.1 + rng.random::<f32>()).collect();
            let mt = util::tensor1::<B>(m.clone(), &dev).unsqueeze_dim::<2>(0);
            let st = util::tensor1::<B>(s.clone(), &dev).unsqueeze_dim::<2>(0);
            let samples = util::randn::<B, _>(&mut rng, n, d, &dev) * st + mt;
            let summary = posterior_summary(samples);
            means.extend(to_vec(summary.mean));
            stds.extend(to_vec(summary.std));
            truth.extend(
                (0..d).map(|j| m[j] + s[j] * rng.sample::<f32, _>(rand_distr::StandardNormal)),
            );
        }
        let c = coverage(&truth, &means, &stds, 2.0);
        assert!((c - 0.9545).abs() < 0.015, "coverage {c}");
        // Over-confident intervals (std / 2) cover ≈ 68 %.
        let half: Vec<f32> = stds.iter().map(|s| s / 2.0).collect();
        let c1 = coverage(&truth, &means, &half, 2.0);
        assert!((c1 - 0.6827).abs() < 0.03, "coverage {c1}");
    }

    fn linear_gaussian_config(steps: usize) -> SamplerTrainConfig {
        SamplerTrainConfig::new(
            ConditionalRealNvpConfig::new(6, 12)
                .with_steps(4)
                .with_hidden(Some(64)),
        )
        .with_steps(steps)
        .with_batch_size(32)
        .with_z_per_y(4)
        .with_learning_rate(5e-3)
        .with_final_lr_fraction(Some(0.1))
        .with_elbo_time_samples(2)
        .with_noise_std(0.1)
        .with_observed_fraction(0.5)
        .with_checkpoint_every(0)
        .with_seed(1)
    }

    /// Linear-Gaussian inverse problem with the exact prior score: the amortised flow must
    /// recover the analytic per-coordinate posterior for held-out measurements, and the VI loss
    /// must decrease.
    #[test]
    fn amortized_flow_matches_analytic_gaussian_posterior() {
        let dev = Default::default();
        let sde = VpSde::new();
        let prior = GaussianScore::<AB>::new(&MEAN, &STD, sde, &dev);
        let data = gaussian_dataset(2000, &MEAN, &STD, 1);
        let config = linear_gaussian_config(800);
        let mut trainer = AmortizedTrainer::new(config, prior, &data, None, &dev).unwrap();
        let mut losses = Vec::new();
        let t0 = std::time::Instant::now();
        trainer
            .run(|p| {
                losses.push(p.loss);
                ControlFlow::Continue(())
            })
            .unwrap();
        let first = losses[..20].iter().sum::<f32>() / 20.0;
        let last = losses[losses.len() - 20..].iter().sum::<f32>() / 20.0;
        eprintln!(
            "{} steps in {:.1} s; loss first 20 {first:.3}, last 20 {last:.3}",
            losses.len(),
            t0.elapsed().as_secs_f64()
        );
        assert!(last < first, "loss did not decrease: {first} → {last}");

        let flow = trainer.sampler();
        let held_out = gaussian_dataset(5, &MEAN, &STD, 777);
        let mut rng = StdRng::seed_from_u64(9);
        let m = trainer
            .config()
            .random_mask()
            .simulate(held_out.to_tensor::<B>(&dev), &mut rng);
        let (ys, masks) = (to_vec(m.y), to_vec(m.mask));
        let n = 4000;
        let (mut worst_mean, mut worst_std) = (0.0f32, 0.0f32);
        let (mut sq_mean, mut sq_log_std) = (0.0f32, 0.0f32);
        for i in 0..5 {
            let y = ys[6 * i..6 * i + 6].to_vec();
            let mask = masks[6 * i..6 * i + 6].to_vec();
            let samples = sample_posterior(
                &flow,
                util::tensor1::<B>(y.clone(), &dev),
                util::tensor1::<B>(mask.clone(), &dev),
                n,
                &mut rng,
            );
            let s = posterior_summary(samples);
            let (m_hat, s_hat) = (to_vec(s.mean), to_vec(s.std));
            let (m_true, s_true) = analytic_posterior(&y, &mask, 0.1);
            for j in 0..6 {
                // Mean error in units of the true posterior std: the Monte-Carlo part is
                // 1/√4000 ≈ 0.016; a Gaussian q with mean error δ·s pays δ²/2 nats of KL, and
                // 0.25 s (0.03 nats per coordinate) is what a few hundred noisy VI steps reach.
                let dm = (m_hat[j] - m_true[j]).abs() / s_true[j];
                let ds = (s_hat[j] / s_true[j] - 1.0).abs();
                worst_mean = worst_mean.max(dm);
                worst_std = worst_std.max(ds);
                sq_mean += dm * dm / 30.0;
                sq_log_std += (s_hat[j] / s_true[j]).ln().powi(2) / 30.0;
                eprintln!(
                    "y{i} coord {j} obs={} mean {:.3} (true {:.3}) std {:.3} (true {:.3})",
                    mask[j], m_hat[j], m_true[j], s_hat[j], s_true[j]
                );
            }
        }
        let rms_mean = sq_mean.sqrt();
        let rms_log_std = sq_log_std.sqrt();
        eprintln!(
            "|Δmean|/std: worst {worst_mean:.3}, rms {rms_mean:.3}; |std ratio − 1|: worst \
             {worst_std:.3}, rms log ratio {rms_log_std:.3}"
        );
        // Observed coordinates of measurements in the prior's tails carry most of the
        // amortisation error (measured worst ≈ 0.45 posterior stds, i.e. 0.045 in absolute
        // terms, below the noise σ = 0.1); 0.6 stds costs 0.18 nats of KL per coordinate. The
        // typical (rms) error must be well below that.
        assert!(worst_mean < 0.6, "posterior mean off by {worst_mean} stds");
        assert!(rms_mean < 0.25, "rms posterior mean error {rms_mean} stds");
        assert!(worst_std < 0.25, "posterior std off by {worst_std}");
        assert!(rms_log_std < 0.1, "rms log std ratio {rms_log_std}");
    }

    /// With a frozen (untrained) network prior, the VI loss decreases and the prior's weights
    /// are untouched.
    #[test]
    fn vi_loss_decreases_with_frozen_network_prior() {
        let dev = Default::default();
        let prior: MlpScore<AB> = MlpScoreConfig::new(8)
            .with_hidden(32)
            .with_blocks(1)
            .with_time_embedding(8)
            .init(&dev);
        let prior = prior.no_grad();
        let before = params(&prior);
        let data = gaussian_dataset(256, &[0.0; 8], &[1.0; 8], 2);
        let config = SamplerTrainConfig::new(ConditionalRealNvpConfig::new(8, 16).with_steps(2))
            .with_steps(80)
            .with_batch_size(16)
            .with_z_per_y(2)
            .with_learning_rate(3e-3)
            .with_checkpoint_every(0);
        let mut trainer = AmortizedTrainer::new(config, prior, &data, None, &dev).unwrap();
        let mut losses = Vec::new();
        trainer
            .run(|p| {
                losses.push(p.loss);
                ControlFlow::Continue(())
            })
            .unwrap();
        let first = losses[..20].iter().sum::<f32>() / 20.0;
        let last = losses[60..].iter().sum::<f32>() / 20.0;
        eprintln!("loss first 20 {first:.3}, last 20 {last:.3}");
        assert!(last < first, "loss did not decrease: {first} → {last}");
        let after = params(&trainer.prior);
        assert_eq!(before, after, "the prior must stay frozen");
    }

    #[test]
    fn resumed_run_equals_uninterrupted_run() {
        let dev = Default::default();
        let data = gaussian_dataset(64, &MEAN, &STD, 3);
        let prior = || GaussianScore::<AB>::new(&MEAN, &STD, VpSde::new(), &dev);
        let config = || {
            linear_gaussian_config(20)
                .with_batch_size(8)
                .with_checkpoint_every(5)
        };
        let (a, b, _dir) = check_resumed_run(
            &Interruption {
                name: "sampler",
                kill_at: 13,
                resumed_at: 10,
                kept: &[15, 20],
                files: &["flow.mpk", "optimizer.mpk", "state.json", "config.json"],
            },
            |dir| AmortizedTrainer::new(config(), prior(), &data, Some(dir), &dev),
            |dir| AmortizedTrainer::resume(dir, prior(), &data, &dev),
        );
        assert_eq!(params(a.flow()), params(b.flow()), "flow weights differ");
        // The clipping state travels with the checkpoint (a fresh one would restart the mean).
        assert!(a.clip.mean.is_some());
        assert_eq!(a.clip, b.clip, "running gradient norm differs after resume");
    }

    #[test]
    fn invalid_config_is_an_error() {
        let c = SamplerTrainConfig::new(ConditionalRealNvpConfig::new(6, 6));
        assert!(c.validate().is_err());
        let c = linear_gaussian_config(1).with_noise_std(0.0);
        assert!(c.validate().is_err());
        assert!(linear_gaussian_config(1).validate().is_ok());
        for f in [0.5, 1.0, f64::NAN] {
            let c = linear_gaussian_config(1).with_clip_factor(Some(f));
            assert!(c
                .validate()
                .unwrap_err()
                .to_string()
                .contains("clip_factor"));
        }
        assert!(linear_gaussian_config(1)
            .with_clip_factor(None)
            .validate()
            .is_ok());
    }

    /// Timing at the benchmark size (D = 1890, K = 8, coupling width D/8, untrained MLP prior
    /// with hidden 256), side by side in one process so machine load hits every variant alike:
    /// the raw `[y, mask]` context in every coupling (`context_embedding = None`, the layout
    /// before the encoder) and the default 128-wide context encoder, at batch 64 × 4 z per y
    /// and at 16 × 4 (64 flow rows, the JAX reference's batch). Run with `cargo test -p
    /// meshflow-flows --lib -- --ignored vi_step_timing --nocapture` (`MESHFLOW_TIMING_ROUNDS`
    /// sets the rounds, default 2; `MESHFLOW_TIMING_VARIANTS=0,2` runs only those).
    #[test]
    #[ignore]
    fn vi_step_timing() {
        let dev = Default::default();
        let d = 1890;
        let prior = MlpScoreConfig::new(d).init::<AB>(&dev).no_grad();
        let data = gaussian_dataset(256, &vec![0.0; d], &vec![1.0; d], 0);
        let variants = [
            ("raw context", None, 64),
            ("encoder 128", Some(128), 64),
            ("raw context", None, 16),
            ("encoder 128", Some(128), 16),
        ];
        // MESHFLOW_TIMING_VARIANTS=1,3 keeps some (for callgrind: `--toggle-collect` on
        // `*train_step*` counts the warm-up and every timed step).
        let keep: Option<Vec<usize>> = std::env::var("MESHFLOW_TIMING_VARIANTS")
            .ok()
            .map(|v| v.split(',').filter_map(|i| i.trim().parse().ok()).collect());
        let variants: Vec<_> = variants
            .into_iter()
            .enumerate()
            .filter(|(i, _)| keep.as_ref().is_none_or(|k| k.contains(i)))
            .map(|(_, v)| v)
            .collect();
        let mut trainers: Vec<_> = variants
            .iter()
            .map(|&(_, embedding, batch)| {
                let flow =
                    ConditionalRealNvpConfig::new(d, 2 * d).with_context_embedding(embedding);
                let config = SamplerTrainConfig::new(flow)
                    .with_steps(1)
                    .with_batch_size(batch)
                    .with_checkpoint_every(0);
                let mut t =
                    AmortizedTrainer::new(config, prior.clone(), &data, None, &dev).unwrap();
                t.run(|_| ControlFlow::Continue(())).unwrap(); // warm-up
                t
            })
            .collect();
        let rounds: usize = std::env::var("MESHFLOW_TIMING_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2);
        let mut seconds = vec![Vec::new(); trainers.len()];
        for _ in 0..rounds {
            for (t, s) in trainers.iter_mut().zip(&mut seconds) {
                t.config.steps += 1;
                let t0 = std::time::Instant::now();
                t.run(|_| ControlFlow::Continue(())).unwrap();
                s.push(t0.elapsed().as_secs_f64());
            }
        }
        for ((name, _, batch), s) in variants.iter().zip(&seconds) {
            let min = s.iter().cloned().fold(f64::INFINITY, f64::min);
            let mean = s.iter().sum::<f64>() / s.len() as f64;
            eprintln!(
                "VI step D={d}, K=8, {name}, batch {batch} x 4 z: min {:.1} ms, mean {:.1} ms \
                 over {rounds} rounds",
                min * 1e3,
                mean * 1e3
            );
        }
    }
}

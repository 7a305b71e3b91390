//! Training a score-based prior by denoising score matching, with EMA weights and atomic,
//! exactly resumable checkpoints.
//!
//! ```text
//! run_dir/
//!   config.json                  the TrainConfig (edit `steps` here to extend a run)
//!   checkpoint-000001000/        one complete checkpoint per directory
//!     model.mpk  ema.mpk  optimizer.mpk  state.json  config.json
//!   checkpoint-000002000/
//! ```
//!
//! A checkpoint is written into a hidden temporary directory, flushed to disk and renamed into
//! place, so a kill at any moment leaves either the previous or the new checkpoint complete,
//! never a torn one. Records use full precision (`NamedMpkFileRecorder<FullPrecisionSettings>`,
//! not burn's `CompactRecorder`, which stores f16 and would make resumption inexact).
//!
//! All randomness of step `k` (batch indices, diffusion times, noise) comes from an RNG seeded
//! by `(seed, k)`, so a resumed run continues bit-for-bit like an uninterrupted one.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::module::{AutodiffModule, Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};

use crate::optim::{fused_adamw, FusedAdamW};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::{backend::AutodiffBackend, backend::Backend, ElementConversion, Tensor};
use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::dsm::dsm_loss;
use crate::error::FlowError;
// NB: do not import `crate::Result` here: burn's `#[derive(Config)]` expands to code that names
// `Result<T, E>` unqualified, which a one-parameter alias in scope breaks.
use crate::basis::PrincipalBasis;
use crate::score::{MlpScore, MlpScoreConfig};
use crate::util;

/// Configuration of a prior-training run; saved as `config.json` in the run directory and in
/// every checkpoint.
#[derive(Config, Debug)]
pub struct TrainConfig {
    /// The score network (including its VP-SDE).
    pub model: MlpScoreConfig,
    /// The optimiser. The default is Adam (AdamW with zero weight decay).
    #[config(default = "AdamWConfig::new().with_weight_decay(0.0)")]
    pub optimizer: AdamWConfig,
    /// Total number of optimiser steps.
    #[config(default = 10_000)]
    pub steps: usize,
    /// Signals per batch (drawn with replacement).
    #[config(default = 64)]
    pub batch_size: usize,
    /// Learning rate (at step 0).
    #[config(default = 2e-4)]
    pub learning_rate: f64,
    /// Cosine decay of the learning rate to `final_lr_fraction · learning_rate` at the last
    /// step; `None` keeps it constant (also what a `config.json` from before this field loads
    /// as); see [`cosine_learning_rate`].
    #[config(default = "None")]
    pub final_lr_fraction: Option<f64>,
    /// EMA decay `d`; the effective decay at step `k` is `min(d, (1 + k)/(10 + k))` so the
    /// average is not dominated by the initial weights in short runs.
    #[config(default = 0.999)]
    pub ema_decay: f64,
    /// Seed of the batch and noise sampling.
    #[config(default = 0)]
    pub seed: u64,
    /// Write a checkpoint every this many steps (and after the last step); 0 = only at the end.
    #[config(default = 1000)]
    pub checkpoint_every: usize,
    /// Number of most recent checkpoints kept on disk (≥ 1).
    #[config(default = 2)]
    pub keep_checkpoints: usize,
}

impl TrainConfig {
    /// Checks ranges.
    pub fn validate(&self) -> crate::Result<()> {
        self.model.validate()?;
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
        cosine_learning_rate(self.learning_rate, self.final_lr_fraction, self.steps, k)
    }
}

/// Learning rate of step `k` (0-based) of a `steps`-step run under cosine decay:
/// `base · (f + (1 − f)·½(1 + cos(π k / steps)))` with `f = final_fraction`, so `base` at step
/// 0, `f · base` at the end (and after it, when a resumed run goes on); constant for `None`.
/// Raising `steps` on resume stretches the curve: the rate of the remaining steps jumps up to
/// where the longer schedule is at step `k`.
pub fn cosine_learning_rate(base: f64, final_fraction: Option<f64>, steps: usize, k: usize) -> f64 {
    let Some(final_fraction) = final_fraction else {
        return base;
    };
    let progress = (k as f64 / steps.max(1) as f64).min(1.0);
    let cos = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
    base * (final_fraction + (1.0 - final_fraction) * cos)
}

/// Checks a learning-rate schedule: a positive finite `learning_rate` and
/// `final_lr_fraction ∈ (0, 1]` where given.
pub(crate) fn check_learning_rate(
    learning_rate: f64,
    final_lr_fraction: Option<f64>,
) -> crate::Result<()> {
    if !(learning_rate > 0.0 && learning_rate.is_finite()) {
        return Err(FlowError::InvalidConfig(format!(
            "learning_rate must be positive, got {learning_rate}"
        )));
    }
    if let Some(f) = final_lr_fraction.filter(|f| !(*f > 0.0 && *f <= 1.0)) {
        return Err(FlowError::InvalidConfig(format!(
            "final_lr_fraction must be in (0, 1], got {f}"
        )));
    }
    Ok(())
}

/// Checks the settings every MLP training run has: `batch_size ≥ 1`, the learning-rate
/// schedule ([`check_learning_rate`]), `ema_decay ∈ [0, 1)` and `keep_checkpoints ≥ 1`.
pub(crate) fn check_run_settings(
    batch_size: usize,
    learning_rate: f64,
    final_lr_fraction: Option<f64>,
    ema_decay: f64,
    keep_checkpoints: usize,
) -> crate::Result<()> {
    let bad = |m: String| Err(FlowError::InvalidConfig(m));
    if batch_size == 0 || keep_checkpoints == 0 {
        return bad(format!(
            "batch_size and keep_checkpoints must be >= 1, got {batch_size} and {keep_checkpoints}"
        ));
    }
    check_learning_rate(learning_rate, final_lr_fraction)?;
    if !(0.0..1.0).contains(&ema_decay) {
        return bad(format!("ema_decay must be in [0, 1), got {ema_decay}"));
    }
    Ok(())
}

/// Clean training signals `[N, D]` (f32, normalised units), row-major.
#[derive(Clone, Debug)]
pub struct SignalDataset {
    values: Vec<f32>,
    len: usize,
    dim: usize,
}

impl SignalDataset {
    /// Wraps `len` signals of dimension `dim`; errors on a size mismatch or a non-finite value
    /// (naming the first bad signal and vertex).
    pub fn new(values: Vec<f32>, len: usize, dim: usize) -> crate::Result<Self> {
        if len == 0 || dim == 0 || values.len() != len * dim {
            return Err(FlowError::InvalidData(format!(
                "expected {len} × {dim} = {} values (both non-zero), got {}",
                len * dim,
                values.len()
            )));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(FlowError::InvalidData(format!(
                "signal {} vertex {} is {}: clean the data or mask it out before training",
                i / dim,
                i % dim,
                values[i]
            )));
        }
        Ok(Self { values, len, dim })
    }

    /// Stacks equally long signals (e.g. vertex signals in normalised units) into a dataset,
    /// with the checks of [`SignalDataset::new`].
    ///
    /// # Shapes
    /// `rows`: `N` signals of `D` values each → `[N, D]`
    pub fn from_rows(rows: &[Vec<f32>]) -> crate::Result<Self> {
        let dim = rows.first().map_or(0, Vec::len);
        if let Some(i) = rows.iter().position(|r| r.len() != dim) {
            return Err(FlowError::InvalidData(format!(
                "signal {i} has {} values, signal 0 has {dim}: all signals must live on one \
                 discretisation",
                rows[i].len()
            )));
        }
        Self::new(rows.concat(), rows.len(), dim)
    }

    /// Like [`SignalDataset::new`] without the finiteness scan (sizes are still asserted).
    pub fn new_unchecked(values: Vec<f32>, len: usize, dim: usize) -> Self {
        assert_eq!(values.len(), len * dim, "dataset size mismatch");
        Self { values, len, dim }
    }

    /// Number of signals.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the dataset is empty (never, for a validated one).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Signal dimension `D`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The data as a `[N, D]` tensor.
    pub fn to_tensor<B: Backend>(&self, device: &B::Device) -> Tensor<B, 2> {
        util::tensor2(self.values.clone(), self.len, self.dim, device)
    }
}

/// Loads a trained prior from a run directory: its `config.json` and the EMA weights of its
/// most recent complete checkpoint (the weights to sample with), on any backend.
///
/// # Errors
/// [`FlowError::NoCheckpoint`] when `dir` has none; I/O or parse errors naming the file.
pub fn load_trained_prior<B: Backend>(
    dir: &Path,
    device: &B::Device,
) -> crate::Result<(MlpScore<B>, TrainConfig)> {
    let config: TrainConfig = load_run_config(dir)?;
    config.validate()?;
    let model = load_latest_record(dir, config.model.init::<B>(device), "ema", device)?;
    Ok((model, config))
}

/// Loads the record `name` (`model`, `ema`, `flow`, …) of the most recent complete checkpoint
/// of the run in `dir` into a freshly initialised `module`.
///
/// # Errors
/// [`FlowError::NoCheckpoint`] when `dir` has none; record errors naming the file.
pub(crate) fn load_latest_record<B: Backend, M: Module<B>>(
    dir: &Path,
    module: M,
    name: &str,
    device: &B::Device,
) -> crate::Result<M> {
    load_module(module, &require_latest_checkpoint(dir)?.join(name), device)
}

/// Reported to the progress callback after every step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainProgress {
    /// Number of completed steps.
    pub step: usize,
    /// Total steps of the run.
    pub total_steps: usize,
    /// Loss of the batch just used (the DSM loss of a prior; see each trainer's progress type).
    pub loss: f32,
}

/// `state.json` of a checkpoint (shared by every trainer of the crate).
#[derive(serde::Serialize, serde::Deserialize, Debug)]
pub(crate) struct CheckpointState {
    /// Completed steps.
    pub(crate) step: usize,
    /// Loss of the last completed step.
    pub(crate) loss: Option<f32>,
    /// Running mean of the global gradient norm ([`GradNormClip`]); absent in checkpoints
    /// of runs without clipping and in those written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) grad_norm: Option<f32>,
}

/// Gradient clipping relative to the run's own typical gradient norm, so no threshold has to
/// be tuned to the loss's scale: a step whose global gradient norm `‖g‖` (over all trained
/// parameters) exceeds `factor · ḡ` is scaled down to `factor · ḡ`, where `ḡ` is the running
/// mean (decay 0.99, starting at the first step's norm) of the norms after clipping. A
/// single outlier batch then moves Adam's moments no more than a typical one would; without
/// it one such step can throw a flow into a region where its loss explodes (seen on
/// Bunny-MNIST: loss 1.3·10⁴ → 10¹¹ within 20 steps).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct GradNormClip {
    /// The running mean `ḡ` (none before the first step). Kept in `f32`, which `state.json`
    /// round-trips exactly, so a resumed run clips exactly like an uninterrupted one.
    pub(crate) mean: Option<f32>,
}

impl GradNormClip {
    const DECAY: f64 = 0.99;

    /// Clips `grads` (the gradients of `module`'s parameters) in place when their global
    /// norm exceeds `factor · ḡ`, updates `ḡ`, and returns the norm before clipping.
    pub(crate) fn apply<B: AutodiffBackend, M: AutodiffModule<B>>(
        &mut self,
        module: &M,
        grads: &mut GradientsParams,
        factor: f64,
    ) -> f64 {
        let norm = global_grad_norm(module, grads);
        let limit = self.mean.map_or(f64::INFINITY, |m| factor * f64::from(m));
        let kept = if norm > limit && norm.is_finite() {
            module.visit(&mut ScaleGrads {
                grads,
                factor: limit / norm,
                _backend: std::marker::PhantomData::<B>,
            });
            limit
        } else {
            norm
        };
        if kept.is_finite() {
            let mean = self.mean.map_or(kept, |m| {
                Self::DECAY * f64::from(m) + (1.0 - Self::DECAY) * kept
            });
            self.mean = Some(mean as f32);
        }
        norm
    }
}

/// `sqrt(Σ ‖g_p‖²)` over the parameters of `module` that have a gradient in `grads`.
pub(crate) fn global_grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &GradientsParams,
) -> f64 {
    /// The squared norms add up on the device; one read-back per step, not one per tensor.
    struct SumSquares<'a, B: AutodiffBackend> {
        grads: &'a GradientsParams,
        total: Option<Tensor<B::InnerBackend, 1>>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for SumSquares<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
                let s = g.powi_scalar(2).sum();
                self.total = Some(match self.total.take() {
                    Some(t) => t + s,
                    None => s,
                });
            }
        }
    }
    let mut v = SumSquares::<B> { grads, total: None };
    module.visit(&mut v);
    v.total
        .map_or(0.0, |t| t.into_scalar().elem::<f64>())
        .sqrt()
}

/// Multiplies every gradient of the visited module's parameters by `factor`.
struct ScaleGrads<'a, B> {
    grads: &'a mut GradientsParams,
    factor: f64,
    _backend: std::marker::PhantomData<B>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for ScaleGrads<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.factor));
        }
    }
}

type Rec = NamedMpkFileRecorder<FullPrecisionSettings>;

/// The optimiser type of [`ScorePriorTrainer`].
pub type TrainOptimizer<B> = OptimizerAdaptor<FusedAdamW, MlpScore<B>, B>;

/// The trained state of a network `M` optimised with AdamW: weights, their EMA, the
/// optimiser, the step counter and the checkpoint bookkeeping. Shared by the trainers of
/// single-network models ([`ScorePriorTrainer`], [`crate::inverse::InverseFlowTrainer`]); a
/// checkpoint holds `model.mpk`, `ema.mpk`, `optimizer.mpk`, `state.json` and `config.json`.
pub(crate) struct TrainState<B: AutodiffBackend, M: AutodiffModule<B>> {
    pub(crate) model: M,
    pub(crate) ema: M::InnerModule,
    pub(crate) optim: OptimizerAdaptor<FusedAdamW, M, B>,
    pub(crate) step: usize,
    pub(crate) last_loss: Option<f32>,
    pub(crate) dir: Option<PathBuf>,
    pub(crate) last_checkpoint: Option<PathBuf>,
}

/// The state of an [`MlpScore`] run.
pub(crate) type MlpTrainState<B> = TrainState<B, MlpScore<B>>;

impl<B: AutodiffBackend, M: AutodiffModule<B>> TrainState<B, M> {
    /// A fresh state for the freshly initialised `model` (EMA = weights) and optimiser. With
    /// `checkpoint_dir`, the directory is created, must not already hold checkpoints, and
    /// receives `config.json`.
    pub(crate) fn fresh<C: Config>(
        run_config: &C,
        model: M,
        optimizer: &AdamWConfig,
        checkpoint_dir: Option<&Path>,
    ) -> crate::Result<Self> {
        if let Some(dir) = checkpoint_dir {
            prepare_run_dir(dir, run_config)?;
        }
        Ok(Self {
            ema: model.valid(),
            model,
            optim: fused_adamw::<B, M>(optimizer),
            step: 0,
            last_loss: None,
            dir: checkpoint_dir.map(Path::to_path_buf),
            last_checkpoint: None,
        })
    }

    /// The state of the most recent complete checkpoint in `dir`, loaded into the freshly
    /// initialised `model` (of the run's configuration).
    pub(crate) fn resume(
        dir: &Path,
        model: M,
        optimizer: &AdamWConfig,
        device: &B::Device,
    ) -> crate::Result<Self> {
        let ckpt = require_latest_checkpoint(dir)?;
        let state = read_state(&ckpt)?;
        let ema = model.valid();
        Ok(Self {
            model: load_module(model, &ckpt.join("model"), device)?,
            ema: load_module(ema, &ckpt.join("ema"), device)?,
            optim: load_optimizer(
                fused_adamw::<B, M>(optimizer),
                &ckpt.join("optimizer"),
                device,
            )?,
            step: state.step,
            last_loss: state.loss,
            dir: Some(dir.to_path_buf()),
            last_checkpoint: Some(ckpt),
        })
    }

    /// Applies one optimiser step for `loss` (a one-element tensor) and updates the EMA with
    /// decay `min(ema_decay, (1 + k)/(10 + k))`; returns the loss value. A NaN/Inf loss is
    /// [`FlowError::NonFiniteLoss`] and leaves the state untouched.
    pub(crate) fn apply(
        &mut self,
        loss: Tensor<B, 1>,
        learning_rate: f64,
        ema_decay: f64,
    ) -> crate::Result<f32> {
        let value = finite_loss(&loss, self.step, &self.last_checkpoint)?;
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.optim.step(learning_rate, self.model.clone(), grads);
        let k = self.step as f64;
        let decay = ema_decay.min((1.0 + k) / (10.0 + k));
        self.ema = ema_update(self.ema.clone(), &self.model.valid(), decay);
        self.step += 1;
        self.last_loss = Some(value);
        Ok(value)
    }

    /// Writes a checkpoint atomically (with `run_config` as its `config.json`) and prunes all
    /// but `keep`; errors if there is no checkpoint directory.
    pub(crate) fn save<C: Config>(
        &mut self,
        run_config: &C,
        keep: usize,
    ) -> crate::Result<PathBuf> {
        let state = CheckpointState {
            step: self.step,
            loss: self.last_loss,
            grad_norm: None,
        };
        let path = write_checkpoint(self.dir.as_deref(), run_config, &state, keep, |tmp| {
            save_module(&self.model, &tmp.join("model"))?;
            save_module(&self.ema, &tmp.join("ema"))?;
            save_optimizer(&self.optim, &tmp.join("optimizer"))
        })?;
        self.last_checkpoint = Some(path.clone());
        Ok(path)
    }
}

/// The value of a one-element loss tensor, or [`FlowError::NonFiniteLoss`] for step
/// `completed + 1` naming the last good checkpoint.
pub(crate) fn finite_loss<B: Backend>(
    loss: &Tensor<B, 1>,
    completed: usize,
    last_checkpoint: &Option<PathBuf>,
) -> crate::Result<f32> {
    let value = util::scalar(loss.clone());
    if value.is_finite() {
        Ok(value)
    } else {
        Err(FlowError::NonFiniteLoss {
            step: completed + 1,
            loss: value,
            last_checkpoint: last_checkpoint.clone(),
        })
    }
}

/// The training signals of a run on the device, from which every step draws its batch.
pub(crate) struct TrainingData<B: Backend> {
    /// The signals, `[N, D]`.
    pub(crate) values: Tensor<B, 2>,
    /// `N`.
    pub(crate) len: usize,
}

impl<B: Backend> TrainingData<B> {
    /// `data` on `device`.
    pub(crate) fn new(data: &SignalDataset, device: &B::Device) -> Self {
        Self {
            values: data.to_tensor(device),
            len: data.len(),
        }
    }

    /// The `batch` signals `[batch, D]` of step `k` (0-based) of a run with `seed`, drawn with
    /// replacement from the step's RNG ([`step_rng`]), and that RNG for the rest of the step.
    pub(crate) fn step_batch(&self, seed: u64, k: usize, batch: usize) -> (Tensor<B, 2>, StdRng) {
        let mut rng = step_rng(seed, k as u64);
        let x = random_batch(&self.values, self.len, batch, &mut rng);
        (x, rng)
    }
}

/// `batch` rows of `data` (`[N, D]`, `N = len`) drawn with replacement from `rng`.
///
/// # Shapes
/// - `data`: `[N, D]` → `[batch, D]`
fn random_batch<B: Backend, R: Rng + ?Sized>(
    data: &Tensor<B, 2>,
    len: usize,
    batch: usize,
    rng: &mut R,
) -> Tensor<B, 2> {
    let idx: Vec<usize> = (0..batch).map(|_| rng.random_range(0..len)).collect();
    let device = data.device();
    data.clone()
        .select(0, util::index_tensor::<B>(&idx, &device))
}

/// Trains an [`MlpScore`] prior; see the module docs.
///
/// ```no_run
/// use burn::backend::{Autodiff, NdArray};
/// use meshflow_flows::{score::MlpScoreConfig, train::*};
///
/// type B = Autodiff<NdArray<f32>>;
/// # fn main() -> meshflow_flows::Result<()> {
/// let data = SignalDataset::new(vec![0.0; 100 * 16], 100, 16)?;
/// let config = TrainConfig::new(MlpScoreConfig::new(16)).with_steps(500);
/// let dir = std::path::Path::new("runs/prior");
/// let mut trainer = ScorePriorTrainer::<B>::new(config, &data, Some(dir), &Default::default())?;
/// trainer.run(|p| {
///     if p.step % 100 == 0 {
///         eprintln!("step {} loss {:.4}", p.step, p.loss);
///     }
///     std::ops::ControlFlow::Continue(())
/// })?;
/// // After a kill: ScorePriorTrainer::<B>::resume(dir, &data, &Default::default())?.run(...)
/// # Ok(()) }
/// ```
pub struct ScorePriorTrainer<B: AutodiffBackend> {
    config: TrainConfig,
    state: MlpTrainState<B>,
    data: TrainingData<B>,
}

impl<B: AutodiffBackend> ScorePriorTrainer<B> {
    /// Starts a new run. With `checkpoint_dir`, the directory is created, must not already hold
    /// checkpoints, and receives `config.json`.
    ///
    /// With `config.model.data_basis_rank > 0` the principal directions of `data` are fitted
    /// first ([`PrincipalBasis::fit`]) and the rank found is what `config.json` records.
    pub fn new(
        mut config: TrainConfig,
        data: &SignalDataset,
        checkpoint_dir: Option<&Path>,
        device: &B::Device,
    ) -> crate::Result<Self> {
        config.validate()?;
        check_dim(&config, data)?;
        let basis = match config.model.data_basis_rank.unwrap_or(0) {
            0 => None,
            rank => {
                let fit = PrincipalBasis::fit(&data.values, data.len, data.dim, rank)?;
                config.model.data_basis_rank = Some(fit.rank());
                Some(fit)
            }
        };
        let mut state = MlpTrainState::fresh(
            &config,
            config.model.init::<B>(device),
            &config.optimizer,
            checkpoint_dir,
        )?;
        if let Some(fit) = &basis {
            state.model = state.model.with_data_basis(fit)?;
            state.ema = state.model.valid();
        }
        Ok(Self {
            state,
            data: TrainingData::new(data, device),
            config,
        })
    }

    /// Continues the run in `dir` from its most recent complete checkpoint, with the
    /// configuration in `dir/config.json` (whose `steps` may have been raised).
    pub fn resume(dir: &Path, data: &SignalDataset, device: &B::Device) -> crate::Result<Self> {
        let config: TrainConfig = load_run_config(dir)?;
        config.validate()?;
        check_dim(&config, data)?;
        let state = MlpTrainState::resume(
            dir,
            config.model.init::<B>(device),
            &config.optimizer,
            device,
        )?;
        Ok(Self {
            state,
            data: TrainingData::new(data, device),
            config,
        })
    }

    /// Runs until `config.steps`, calling `progress` after every step. Returning
    /// `ControlFlow::Break` stops immediately *without* writing a checkpoint (like a kill);
    /// call [`Self::save_checkpoint`] yourself to keep the current state.
    ///
    /// A NaN/Inf loss stops training with [`FlowError::NonFiniteLoss`] before the bad step
    /// is applied; the checkpoints on disk are left as they were.
    pub fn run(
        &mut self,
        progress: impl FnMut(TrainProgress) -> ControlFlow<()>,
    ) -> crate::Result<()> {
        run_with_progress(self, progress)
    }

    /// One optimiser step; returns the batch loss.
    fn train_step(&mut self) -> crate::Result<f32> {
        let (x0, mut rng) =
            self.data
                .step_batch(self.config.seed, self.state.step, self.config.batch_size);
        let sde = self.state.model.sde();
        let loss = dsm_loss(&self.state.model, &sde, x0, &mut rng);
        let lr = self.config.learning_rate_at(self.state.step);
        self.state.apply(loss, lr, self.config.ema_decay)
    }

    /// Writes a checkpoint of the current state atomically (temporary directory + rename) and
    /// prunes old ones; returns its directory. Errors if the trainer has no checkpoint directory.
    pub fn save_checkpoint(&mut self) -> crate::Result<PathBuf> {
        self.state.save(&self.config, self.config.keep_checkpoints)
    }

    /// Completed steps.
    pub fn step(&self) -> usize {
        self.state.step
    }

    /// The run's configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The model being trained (autodiff backend).
    pub fn model(&self) -> &MlpScore<B> {
        &self.state.model
    }

    /// The EMA of the weights (inner backend), the model to sample from.
    pub fn ema_model(&self) -> &MlpScore<B::InnerBackend> {
        &self.state.ema
    }

    /// The most recent checkpoint written or resumed from.
    pub fn last_checkpoint(&self) -> Option<&Path> {
        self.state.last_checkpoint.as_deref()
    }

    /// Loss of the last completed step.
    pub fn last_loss(&self) -> Option<f32> {
        self.state.last_loss
    }
}

fn check_dim(config: &TrainConfig, data: &SignalDataset) -> crate::Result<()> {
    if config.model.dim != data.dim() {
        return Err(FlowError::InvalidData(format!(
            "dataset signals have {} values but the model expects dim = {}",
            data.dim(),
            config.model.dim
        )));
    }
    Ok(())
}

/// A trainer driven step by step with periodic checkpoints (the prior and the amortized
/// sampler trainers share [`run_steps`] through it).
pub(crate) trait SteppedTrainer {
    /// Completed steps.
    fn completed_steps(&self) -> usize;
    /// Total steps of the run.
    fn total_steps(&self) -> usize;
    /// Checkpoint period in steps (0: only at the end).
    fn checkpoint_every(&self) -> usize;
    /// Whether the trainer writes checkpoints at all.
    fn has_checkpoint_dir(&self) -> bool;
    /// One optimisation step; returns its loss.
    fn step_once(&mut self) -> crate::Result<f32>;
    /// Writes a checkpoint of the current state.
    fn checkpoint(&mut self) -> crate::Result<PathBuf>;
}

/// Runs `trainer` until its total steps, checkpointing every `checkpoint_every` steps and at
/// the end, and calling `progress(step, total_steps, loss)` after every step. Returning
/// `ControlFlow::Break` stops at once without a checkpoint (like a kill).
pub(crate) fn run_steps<T: SteppedTrainer>(
    trainer: &mut T,
    mut progress: impl FnMut(usize, usize, f32) -> ControlFlow<()>,
) -> crate::Result<()> {
    while trainer.completed_steps() < trainer.total_steps() {
        let loss = trainer.step_once()?;
        let (step, total) = (trainer.completed_steps(), trainer.total_steps());
        let every = trainer.checkpoint_every();
        let due = (every > 0 && step.is_multiple_of(every)) || step == total;
        if due && trainer.has_checkpoint_dir() {
            trainer.checkpoint()?;
        }
        if progress(step, total, loss).is_break() {
            break;
        }
    }
    Ok(())
}

/// [`run_steps`] reporting a [`TrainProgress`] after every step.
pub(crate) fn run_with_progress<T: SteppedTrainer>(
    trainer: &mut T,
    mut progress: impl FnMut(TrainProgress) -> ControlFlow<()>,
) -> crate::Result<()> {
    run_steps(trainer, |step, total_steps, loss| {
        progress(TrainProgress {
            step,
            total_steps,
            loss,
        })
    })
}

impl<B: AutodiffBackend> SteppedTrainer for ScorePriorTrainer<B> {
    fn completed_steps(&self) -> usize {
        self.state.step
    }
    fn total_steps(&self) -> usize {
        self.config.steps
    }
    fn checkpoint_every(&self) -> usize {
        self.config.checkpoint_every
    }
    fn has_checkpoint_dir(&self) -> bool {
        self.state.dir.is_some()
    }
    fn step_once(&mut self) -> crate::Result<f32> {
        self.train_step()
    }
    fn checkpoint(&mut self) -> crate::Result<PathBuf> {
        self.save_checkpoint()
    }
}

/// RNG for step `k` of a run with `seed` (SplitMix64 mixing of the pair).
pub(crate) fn step_rng(seed: u64, k: u64) -> StdRng {
    let mut z = seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    StdRng::seed_from_u64(z ^ (z >> 31))
}

/// Complete checkpoints (`checkpoint-<step>` directories with a `state.json`) in `dir`.
pub(crate) fn list_checkpoints(dir: &Path) -> crate::Result<Vec<(usize, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FlowError::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| FlowError::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(step) = name
            .strip_prefix("checkpoint-")
            .and_then(|s| s.parse().ok())
        else {
            continue;
        };
        if entry.path().join("state.json").is_file() {
            out.push((step, entry.path()));
        }
    }
    Ok(out)
}

/// The most recent complete checkpoint directory in `dir`, if any.
pub fn latest_checkpoint(dir: &Path) -> crate::Result<Option<PathBuf>> {
    Ok(list_checkpoints(dir)?.into_iter().max().map(|(_, p)| p))
}

/// [`latest_checkpoint`], or [`FlowError::NoCheckpoint`] when `dir` has none.
pub(crate) fn require_latest_checkpoint(dir: &Path) -> crate::Result<PathBuf> {
    latest_checkpoint(dir)?.ok_or_else(|| FlowError::NoCheckpoint(dir.into()))
}

fn save_config_atomic<C: Config>(config: &C, path: &Path) -> crate::Result<()> {
    let tmp = path.with_extension("json.tmp");
    config.save(&tmp).map_err(|e| FlowError::io(&tmp, e))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| FlowError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| FlowError::io(path, e))
}

/// Prepares `dir` for a new run: refuses a directory that already holds checkpoints, creates
/// it and writes `config.json` atomically.
pub(crate) fn prepare_run_dir<C: Config>(dir: &Path, config: &C) -> crate::Result<()> {
    if latest_checkpoint(dir)?.is_some() {
        return Err(FlowError::CheckpointDirNotEmpty(dir.to_path_buf()));
    }
    std::fs::create_dir_all(dir).map_err(|e| FlowError::io(dir, e))?;
    save_config_atomic(config, &dir.join("config.json"))
}

/// Loads `dir/config.json` (the run's configuration, whose `steps` may have been raised).
pub(crate) fn load_run_config<C: Config>(dir: &Path) -> crate::Result<C> {
    let path = dir.join("config.json");
    C::load(&path).map_err(|e| FlowError::Parse {
        path: path.clone(),
        message: e.to_string(),
    })
}

/// Reads `state.json` of a checkpoint directory.
pub(crate) fn read_state(ckpt: &Path) -> crate::Result<CheckpointState> {
    let path = ckpt.join("state.json");
    let text = std::fs::read_to_string(&path).map_err(|e| FlowError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| FlowError::Parse {
        path: path.clone(),
        message: e.to_string(),
    })
}

fn record_err(path: &Path) -> impl FnOnce(burn::record::RecorderError) -> FlowError + '_ {
    move |e| FlowError::Record {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Saves a module's weights in full precision to `path` (+ `.mpk`).
pub(crate) fn save_module<B: Backend, M: Module<B>>(module: &M, path: &Path) -> crate::Result<()> {
    module
        .clone()
        .save_file(path.to_path_buf(), &Rec::new())
        .map_err(record_err(path))
}

/// Loads weights saved by [`save_module`] into a freshly initialised `module`.
pub(crate) fn load_module<B: Backend, M: Module<B>>(
    module: M,
    path: &Path,
    device: &B::Device,
) -> crate::Result<M> {
    module
        .load_file(path.to_path_buf(), &Rec::new(), device)
        .map_err(record_err(path))
}

/// Saves an optimiser's state in full precision to `path` (+ `.mpk`).
pub(crate) fn save_optimizer<B, M, O>(optim: &O, path: &Path) -> crate::Result<()>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    Recorder::<B>::record(&Rec::new(), optim.to_record(), path.to_path_buf())
        .map_err(record_err(path))
}

/// Loads optimiser state saved by [`save_optimizer`] into a fresh optimiser.
pub(crate) fn load_optimizer<B, M, O>(optim: O, path: &Path, device: &B::Device) -> crate::Result<O>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    let record =
        Recorder::<B>::load(&Rec::new(), path.to_path_buf(), device).map_err(record_err(path))?;
    Ok(optim.load_record(record))
}

/// Writes `dir/checkpoint-<state.step>` atomically and prunes all but the `keep` most recent
/// checkpoints; returns the checkpoint directory.
///
/// `write` saves the records (model, optimiser, …) into the temporary directory it is given;
/// `config.json` and `state.json` are added here. The directory is flushed and renamed into
/// place, so a kill at any moment leaves either the previous or the new checkpoint complete.
///
/// `dir` is the trainer's checkpoint directory; a trainer made without one gets
/// [`FlowError::InvalidConfig`].
pub(crate) fn write_checkpoint<C: Config>(
    dir: Option<&Path>,
    config: &C,
    state: &CheckpointState,
    keep: usize,
    write: impl FnOnce(&Path) -> crate::Result<()>,
) -> crate::Result<PathBuf> {
    let dir = dir.ok_or_else(|| {
        FlowError::InvalidConfig("this trainer was created without a checkpoint directory".into())
    })?;
    let name = format!("checkpoint-{:09}", state.step);
    let final_path = dir.join(&name);
    let tmp = dir.join(format!(".tmp-{name}-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| FlowError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| FlowError::io(&tmp, e))?;
    write(&tmp)?;
    config
        .save(tmp.join("config.json"))
        .map_err(|e| FlowError::io(tmp.join("config.json"), e))?;
    let state_json = serde_json::to_string_pretty(state).expect("state serialises");
    std::fs::write(tmp.join("state.json"), state_json)
        .map_err(|e| FlowError::io(tmp.join("state.json"), e))?;
    sync_dir_contents(&tmp)?;

    // Replace an existing checkpoint of the same step (re-save) without a torn window:
    // move it aside first, rename the new one in, then delete the old.
    let mut trash = None;
    if final_path.exists() {
        let t = dir.join(format!(".old-{name}-{}", std::process::id()));
        std::fs::rename(&final_path, &t).map_err(|e| FlowError::io(&final_path, e))?;
        trash = Some(t);
    }
    std::fs::rename(&tmp, &final_path).map_err(|e| FlowError::io(&final_path, e))?;
    sync_dir(dir)?;
    if let Some(t) = trash {
        std::fs::remove_dir_all(&t).map_err(|e| FlowError::io(&t, e))?;
    }
    prune_checkpoints(dir, keep)?;
    Ok(final_path)
}

/// Deletes all but the `keep` most recent complete checkpoints in `dir`.
fn prune_checkpoints(dir: &Path, keep: usize) -> crate::Result<()> {
    let mut all = list_checkpoints(dir)?;
    all.sort();
    let excess = all.len().saturating_sub(keep);
    for (_, path) in all.into_iter().take(excess) {
        std::fs::remove_dir_all(&path).map_err(|e| FlowError::io(&path, e))?;
    }
    Ok(())
}

fn sync_dir_contents(dir: &Path) -> crate::Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| FlowError::io(dir, e))? {
        let path = entry.map_err(|e| FlowError::io(dir, e))?.path();
        std::fs::File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(|e| FlowError::io(&path, e))?;
    }
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> crate::Result<()> {
    // Directory fsync makes the rename durable on Linux; other platforms may refuse to open a
    // directory, which is harmless.
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
    Ok(())
}

/// Collects every float parameter, flattened, in visiting order.
struct CollectParams<B: Backend> {
    tensors: Vec<Tensor<B, 1>>,
}

impl<B: Backend> ModuleVisitor<B> for CollectParams<B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let t = param.val();
        let n = t.shape().num_elements();
        self.tensors.push(t.reshape([n]));
    }
}

/// `ema ← decay · ema + (1 − decay) · source`, parameter by parameter in visiting order.
struct EmaMapper<B: Backend> {
    source: std::vec::IntoIter<Tensor<B, 1>>,
    decay: f64,
}

impl<B: Backend> ModuleMapper<B> for EmaMapper<B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let src = self
            .source
            .next()
            .expect("EMA and model have the same parameters")
            .reshape(tensor.shape());
        let updated = tensor.mul_scalar(self.decay) + src.mul_scalar(1.0 - self.decay);
        Param::from_mapped_value(id, updated, mapper)
    }
}

/// Exponential moving average of module weights: `decay · ema + (1 − decay) · current`.
/// Both modules must have the same structure.
pub fn ema_update<B: Backend, M: Module<B>>(ema: M, current: &M, decay: f64) -> M {
    let mut collect = CollectParams {
        tensors: Vec::new(),
    };
    current.visit(&mut collect);
    let mut mapper = EmaMapper {
        source: collect.tensors.into_iter(),
        decay,
    };
    ema.map(&mut mapper)
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers shared by the tests of the crate's trainers.

    use super::*;
    use crate::util::{test_support::TempDir, to_vec};

    /// The files of a [`TrainState`] checkpoint (prior and inverse-flow trainers).
    pub(crate) const MODEL_CHECKPOINT_FILES: &[&str] = &[
        "model.mpk",
        "ema.mpk",
        "optimizer.mpk",
        "state.json",
        "config.json",
    ];

    /// Every float parameter of `m`, flattened, in visiting order.
    pub(crate) fn params<B: Backend, M: Module<B>>(m: &M) -> Vec<f32> {
        let mut c = CollectParams {
            tensors: Vec::new(),
        };
        m.visit(&mut c);
        c.tensors.into_iter().flat_map(to_vec).collect()
    }

    /// The interruption of a [`check_resumed_run`] test.
    pub(crate) struct Interruption<'a> {
        /// Prefix of the run directories' names.
        pub(crate) name: &'a str,
        /// The step after which the interrupted run stops (`ControlFlow::Break`, like a kill).
        pub(crate) kill_at: usize,
        /// The step of the last checkpoint before the kill, where the resumed run starts.
        pub(crate) resumed_at: usize,
        /// Steps of the checkpoints kept on disk at the end of the resumed run.
        pub(crate) kept: &'a [usize],
        /// Files every kept checkpoint holds.
        pub(crate) files: &'a [&'a str],
    }

    /// Trains run A uninterrupted in one directory and run B, killed after step
    /// `kill_at`, in another; resumes B from its last checkpoint and runs it to the end.
    /// Asserts that B resumes at `resumed_at` and repeats A's losses from there, that B's
    /// directory keeps exactly the checkpoints `kept`, each with `files`, beside the run's
    /// `config.json`, and that a new run refuses B's directory. Returns A, the resumed B and
    /// B's directory, for the comparison of the trained weights.
    pub(crate) fn check_resumed_run<T: SteppedTrainer>(
        case: &Interruption,
        new: impl Fn(&Path) -> crate::Result<T>,
        resume: impl Fn(&Path) -> crate::Result<T>,
    ) -> (T, T, TempDir) {
        let losses = |t: &mut T, stop: Option<usize>| {
            let mut losses = Vec::new();
            run_steps(t, |step, _, loss| {
                losses.push(loss);
                if Some(step) == stop {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
            losses
        };
        let dir_a = TempDir::new(&format!("{}-uninterrupted", case.name));
        let mut a = new(&dir_a.0).unwrap();
        let losses_a = losses(&mut a, None);
        let total = a.total_steps();
        assert_eq!(a.completed_steps(), total);

        let dir_b = TempDir::new(&format!("{}-killed", case.name));
        {
            let mut b = new(&dir_b.0).unwrap();
            losses(&mut b, Some(case.kill_at));
            assert_eq!(b.completed_steps(), case.kill_at);
        }
        let mut b = resume(&dir_b.0).unwrap();
        assert_eq!(b.completed_steps(), case.resumed_at);
        let losses_b = losses(&mut b, None);
        assert_eq!(b.completed_steps(), total);
        assert_eq!(
            losses_b,
            losses_a[case.resumed_at..].to_vec(),
            "losses after resume differ"
        );

        let mut kept = list_checkpoints(&dir_b.0).unwrap();
        kept.sort();
        assert_eq!(kept.iter().map(|(s, _)| *s).collect::<Vec<_>>(), case.kept);
        for (_, p) in &kept {
            for f in case.files {
                assert!(p.join(f).is_file(), "{} missing", p.join(f).display());
            }
        }
        assert!(dir_b.0.join("config.json").is_file());
        // A new run refuses a directory that already has checkpoints.
        assert!(matches!(
            new(&dir_b.0),
            Err(FlowError::CheckpointDirNotEmpty(_))
        ));
        (a, b, dir_b)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::params;
    use super::*;
    use crate::sample::{sample_probability_flow, OdeSolver};
    use crate::score::{GaussianScore, ScoreNetwork};
    use crate::sde::VpSde;
    use crate::util::{test_support::TempDir, to_vec};
    use burn::backend::{Autodiff, NdArray};

    type B = NdArray<f32>;
    type AB = Autodiff<NdArray<f32>>;

    #[test]
    fn cosine_schedule_decays_from_the_base_to_the_final_fraction() {
        let lr = |k| cosine_learning_rate(2e-3, Some(0.1), 100, k);
        assert_eq!(lr(0), 2e-3);
        assert!((lr(50) - 2e-3 * 0.55).abs() < 1e-15, "half-way: {}", lr(50));
        assert!((lr(100) - 2e-4).abs() < 1e-15);
        // Past the end (a resumed run with the same total) it stays at the floor.
        assert_eq!(lr(150), lr(100));
        assert!((1..=100).all(|k| lr(k) < lr(k - 1)), "strictly decreasing");
        // f = 1 and no schedule are constant.
        for f in [Some(1.0), None] {
            assert!((0..120).all(|k| cosine_learning_rate(1e-3, f, 100, k) == 1e-3));
        }
        // Every trainer's configuration checks the fraction.
        for f in [0.0, -0.5, 1.5, f64::NAN] {
            let err = check_learning_rate(1e-3, Some(f)).unwrap_err().to_string();
            assert!(err.contains("final_lr_fraction"), "{err}");
        }
    }

    #[test]
    fn gradient_clipping_is_relative_to_the_running_norm() {
        let dev = Default::default();
        let mut rng = StdRng::seed_from_u64(0);
        let layer = util::linear::<AB, _>(&mut rng, 3, 2, util::LinearInit::Uniform, &dev);
        // Gradients of `scale · Σ layer(x)`: proportional to `scale`.
        let grads_at = |scale: f32| {
            let x = Tensor::<AB, 2>::ones([4, 3], &dev);
            let loss = layer.forward(x).sum().mul_scalar(scale);
            GradientsParams::from_grads(loss.backward(), &layer)
        };
        let base = global_grad_norm(&layer, &grads_at(1.0));
        assert!(base > 0.0);
        let mut clip = GradNormClip::default();
        // The first step sets the running mean and is never clipped.
        let mut g = grads_at(1.0);
        assert!((clip.apply(&layer, &mut g, 5.0) - base).abs() < 1e-9 * base);
        assert!((global_grad_norm(&layer, &g) - base).abs() < 1e-6 * base);
        assert_eq!(clip.mean, Some(base as f32));
        // Within the factor: untouched.
        let mut g = grads_at(3.0);
        clip.apply(&layer, &mut g, 5.0);
        assert!((global_grad_norm(&layer, &g) - 3.0 * base).abs() < 1e-5 * base);
        let mean = 0.99 * base + 0.01 * 3.0 * base;
        let running = |c: &GradNormClip| f64::from(c.mean.unwrap());
        assert!((running(&clip) - mean).abs() < 1e-6 * base);
        // An outlier 100x the norm is scaled to 5x the running mean, in every parameter alike.
        let mut g = grads_at(100.0);
        let before = clip.apply(&layer, &mut g, 5.0);
        assert!((before - 100.0 * base).abs() < 1e-4 * before);
        let after = global_grad_norm(&layer, &g);
        assert!(
            (after - 5.0 * mean).abs() < 1e-5 * after,
            "{after} vs {}",
            5.0 * mean
        );
        let w = |g: &GradientsParams| to_vec(g.get::<B, 2>(layer.weight.id).unwrap());
        let ratio = 5.0 * mean / (100.0 * base);
        for (a, b) in w(&g).iter().zip(w(&grads_at(100.0))) {
            assert!((*a as f64 - b as f64 * ratio).abs() < 1e-4 * (b.abs() as f64 + 1e-3));
        }
        // The running mean moves with the clipped norm, not the outlier.
        assert!((running(&clip) - (0.99 * mean + 0.01 * 5.0 * mean)).abs() < 1e-5 * mean);
    }

    fn gaussian_dataset(n: usize, mean: &[f32], std: &[f32], seed: u64) -> SignalDataset {
        let mut rng = StdRng::seed_from_u64(seed);
        let d = mean.len();
        let mut v = Vec::with_capacity(n * d);
        for _ in 0..n {
            for j in 0..d {
                let z: f32 = rng.sample(rand_distr::StandardNormal);
                v.push(mean[j] + std[j] * z);
            }
        }
        SignalDataset::new(v, n, d).unwrap()
    }

    fn small_config(dim: usize) -> TrainConfig {
        TrainConfig::new(
            MlpScoreConfig::new(dim)
                .with_hidden(16)
                .with_blocks(1)
                .with_time_embedding(8),
        )
        .with_steps(20)
        .with_batch_size(8)
        .with_learning_rate(1e-3)
        .with_checkpoint_every(5)
        .with_seed(42)
    }

    #[test]
    fn dataset_validation_names_the_bad_value() {
        let err = SignalDataset::new(vec![0.0, 1.0, f32::NAN, 2.0], 2, 2).unwrap_err();
        assert!(err.to_string().contains("signal 1 vertex 0"), "{err}");
        assert!(SignalDataset::new(vec![0.0; 5], 2, 2).is_err());
    }

    /// Train on N(μ, diag(s²)) data and compare with the analytic diffused score.
    ///
    /// Tolerance: the metric is the relative squared error Σ‖s_θ − s‖² / Σ‖s‖² over samples of
    /// the true marginal p_t. An untrained network scores ≈ 1 or worse, the zero score exactly 1;
    /// after 600 steps the measured errors are a few percent (see the report in the assertion
    /// message), so 0.1 catches any real regression while leaving room for optimisation noise.
    #[test]
    fn trained_score_matches_analytic_gaussian_score() {
        let dev = Default::default();
        let mean = [1.0f32, -0.5, 2.0, 0.0];
        let std = [0.5f32, 1.0, 0.3, 1.5];
        let data = gaussian_dataset(4000, &mean, &std, 1);
        let config = TrainConfig::new(
            MlpScoreConfig::new(4)
                .with_hidden(64)
                .with_blocks(2)
                .with_time_embedding(16),
        )
        .with_steps(800)
        .with_batch_size(128)
        .with_learning_rate(3e-3)
        .with_ema_decay(0.995)
        .with_seed(7);
        let mut trainer = ScorePriorTrainer::<AB>::new(config, &data, None, &dev).unwrap();
        let mut losses = Vec::new();
        trainer
            .run(|p| {
                losses.push(p.loss);
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(losses.len(), 800);
        let sde = VpSde::new();
        let exact = GaussianScore::<B>::new(&mean, &std, sde, &dev);
        let model = trainer.ema_model();
        let mut rng = StdRng::seed_from_u64(99);
        let mut report = Vec::new();
        for &t in &[0.01f32, 0.05, 0.2, 0.5, 0.9] {
            let n = 1000;
            let a = sde.alpha(t as f64) as f32;
            let s = sde.sigma(t as f64) as f32;
            let mut v = Vec::with_capacity(4 * n);
            for _ in 0..n {
                for j in 0..4 {
                    let z: f32 = rng.sample(rand_distr::StandardNormal);
                    v.push(a * mean[j] + (a * a * std[j] * std[j] + s * s).sqrt() * z);
                }
            }
            let x = util::tensor2::<B>(v, n, 4, &dev);
            let tt = util::tensor1::<B>(vec![t; n], &dev);
            let s_model = to_vec(model.forward(x.clone(), tt.clone()));
            let s_exact = to_vec(exact.forward(x, tt));
            let num: f32 = s_model
                .iter()
                .zip(&s_exact)
                .map(|(a, b)| (a - b).powi(2))
                .sum();
            let den: f32 = s_exact.iter().map(|b| b * b).sum();
            report.push((t, num / den));
        }
        eprintln!("relative squared score error by t: {report:?}");
        for &(t, rel) in report.iter().filter(|(t, _)| *t >= 0.05) {
            assert!(
                rel < 0.1,
                "t={t}: relative squared error {rel}; all: {report:?}"
            );
        }

        // PF-ODE samples from the trained prior reproduce μ and s.
        let n = 2000;
        let x = sample_probability_flow(model, &sde, n, 100, OdeSolver::Heun, &mut rng, &dev);
        let v = to_vec(x);
        for j in 0..4 {
            let col: Vec<f32> = (0..n).map(|i| v[4 * i + j]).collect();
            let m = col.iter().sum::<f32>() / n as f32;
            let sd = (col.iter().map(|c| (c - m).powi(2)).sum::<f32>() / n as f32).sqrt();
            eprintln!(
                "dim {j}: sample mean {m:.3} (true {}), std {sd:.3} (true {})",
                mean[j], std[j]
            );
            assert!(
                (m - mean[j]).abs() < 0.1 + 0.1 * std[j],
                "dim {j}: mean {m} vs {}",
                mean[j]
            );
            assert!(
                (sd / std[j] - 1.0).abs() < 0.15,
                "dim {j}: std {sd} vs {}",
                std[j]
            );
        }
    }

    #[test]
    fn resumed_run_equals_uninterrupted_run() {
        let dev = Default::default();
        let data = gaussian_dataset(64, &[0.0, 1.0, -1.0], &[1.0, 0.5, 0.2], 3);
        let (a, b, _dir) = test_support::check_resumed_run(
            &test_support::Interruption {
                name: "prior",
                kill_at: 13,
                resumed_at: 10,
                // keep_checkpoints = 2 and config.json beside every checkpoint.
                kept: &[15, 20],
                files: test_support::MODEL_CHECKPOINT_FILES,
            },
            |dir| ScorePriorTrainer::<AB>::new(small_config(3), &data, Some(dir), &dev),
            |dir| ScorePriorTrainer::<AB>::resume(dir, &data, &dev),
        );
        assert_eq!(params(a.model()), params(b.model()), "model weights differ");
        assert_eq!(
            params(a.ema_model()),
            params(b.ema_model()),
            "EMA weights differ"
        );
    }

    #[test]
    fn non_finite_loss_stops_and_keeps_last_checkpoint() {
        let dev = Default::default();
        let data = gaussian_dataset(32, &[0.0, 1.0], &[1.0, 0.5], 4);
        let dir = TempDir::new("prior-nan");
        let mut t =
            ScorePriorTrainer::<AB>::new(small_config(2).with_steps(10), &data, Some(&dir.0), &dev)
                .unwrap();
        t.run(|_| ControlFlow::Continue(())).unwrap();
        let ckpt = latest_checkpoint(&dir.0).unwrap().unwrap();
        assert!(ckpt.ends_with("checkpoint-000000010"));
        let before = std::fs::read(ckpt.join("model.mpk")).unwrap();

        // Extend the run and feed corrupted data (as from a bad file).
        let cfg_path = dir.0.join("config.json");
        TrainConfig::load(&cfg_path)
            .unwrap()
            .with_steps(20)
            .save(&cfg_path)
            .unwrap();
        let bad = SignalDataset::new_unchecked(vec![f32::NAN; 64], 32, 2);
        let mut t = ScorePriorTrainer::<AB>::resume(&dir.0, &bad, &dev).unwrap();
        let err = t.run(|_| ControlFlow::Continue(())).unwrap_err();
        match &err {
            FlowError::NonFiniteLoss {
                step,
                last_checkpoint,
                ..
            } => {
                assert_eq!(*step, 11);
                assert_eq!(last_checkpoint.as_deref(), Some(ckpt.as_path()));
            }
            other => panic!("unexpected error {other}"),
        }
        assert!(err.to_string().contains("step 11"), "{err}");
        assert_eq!(t.step(), 10, "the bad step must not be applied");
        assert_eq!(latest_checkpoint(&dir.0).unwrap().unwrap(), ckpt);
        assert_eq!(std::fs::read(ckpt.join("model.mpk")).unwrap(), before);
        // The good checkpoint still resumes.
        let t = ScorePriorTrainer::<AB>::resume(&dir.0, &data, &dev).unwrap();
        assert_eq!(t.step(), 10);
    }

    #[test]
    fn ema_update_interpolates() {
        let dev = Default::default();
        let cfg = MlpScoreConfig::new(2)
            .with_hidden(4)
            .with_blocks(0)
            .with_time_embedding(2);
        let a: MlpScore<B> = cfg.clone().with_seed(1).init(&dev);
        let b: MlpScore<B> = cfg.with_seed(2).init(&dev);
        let pa = params(&a);
        let pb = params(&b);
        let e = params(&ema_update(a, &b, 0.75));
        for i in 0..pa.len() {
            assert!((e[i] - (0.75 * pa[i] + 0.25 * pb[i])).abs() < 1e-6);
        }
    }
}

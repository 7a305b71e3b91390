//! [`InverseFlowTrainer`]: the training loop of ICM and IFM on noisy signals, on the crate's
//! shared step/checkpoint machinery ([`crate::train`]).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use rand::Rng;

use super::loss::{inverse_flow_loss, PathPair};
use super::{estimate_clean, ConditionalNoise, InverseDenoiser, InverseFlowConfig, InverseNetwork};
use crate::error::FlowError;
use crate::spectral::SpectralBasis;
use crate::train::{
    load_run_config, run_with_progress, SignalDataset, SteppedTrainer, TrainState, TrainingData,
};
use crate::util;

/// Reported to the progress callback after every step (`loss`: the ICM/IFM loss of the batch
/// just used).
pub type InverseProgress = crate::train::TrainProgress;

/// Trains an ICM or IFM denoiser on noisy signals only; see the [module docs](super).
///
/// Checkpoints, `config.json`, EMA, exact resumption and the NaN/Inf stop work as in
/// [`crate::train::ScorePriorTrainer`] (`checkpoint-<step>/{model,ema,optimizer}.mpk`,
/// `state.json`, `config.json`); all randomness of step `k` (batch, `k` indices, noise draws)
/// comes from an RNG seeded by `(seed, k)`.
pub struct InverseFlowTrainer<B: AutodiffBackend, N: ConditionalNoise> {
    config: InverseFlowConfig,
    noise: N,
    state: TrainState<B, InverseNetwork<B>>,
    grid: Vec<f64>,
    data: TrainingData<B::InnerBackend>,
}

impl<B: AutodiffBackend, N: ConditionalNoise> InverseFlowTrainer<B, N> {
    /// Starts a new run of an MLP network on the noisy signals `noisy`. With
    /// `checkpoint_dir`, the directory is created, must not already hold checkpoints, and
    /// receives `config.json`. A spectral configuration needs its basis:
    /// [`Self::new_with_basis`].
    pub fn new(
        config: InverseFlowConfig,
        noise: N,
        noisy: &SignalDataset,
        checkpoint_dir: Option<&Path>,
        device: &B::Device,
    ) -> crate::Result<Self> {
        Self::new_with_basis(config, None, noise, noisy, checkpoint_dir, device)
    }

    /// [`Self::new`] for any network: `basis` is the spectral filter's eigenbasis
    /// ([`InverseFlowConfig::basis`] of the signals' mesh), ignored for the MLP.
    pub fn new_with_basis(
        config: InverseFlowConfig,
        basis: Option<&SpectralBasis>,
        noise: N,
        noisy: &SignalDataset,
        checkpoint_dir: Option<&Path>,
        device: &B::Device,
    ) -> crate::Result<Self> {
        check(&config, &noise, noisy)?;
        let net = config.init_network(basis, device)?;
        let state = TrainState::fresh(&config, net, &config.optimizer, checkpoint_dir)?;
        Ok(Self::assemble(config, noise, state, noisy, device))
    }

    /// Continues the MLP run in `dir` from its most recent complete checkpoint (configuration
    /// from `dir/config.json`, whose `steps` may have been raised), with the same noise model
    /// and data as the interrupted run for an exact continuation. A spectral run needs its
    /// basis: [`Self::resume_with_basis`].
    pub fn resume(
        dir: &Path,
        noise: N,
        noisy: &SignalDataset,
        device: &B::Device,
    ) -> crate::Result<Self> {
        Self::resume_with_basis(dir, None, noise, noisy, device)
    }

    /// [`Self::resume`] for any network, with the spectral filter's eigenbasis as in
    /// [`Self::new_with_basis`].
    pub fn resume_with_basis(
        dir: &Path,
        basis: Option<&SpectralBasis>,
        noise: N,
        noisy: &SignalDataset,
        device: &B::Device,
    ) -> crate::Result<Self> {
        let config: InverseFlowConfig = load_run_config(dir)?;
        check(&config, &noise, noisy)?;
        let net = config.init_network(basis, device)?;
        let state = TrainState::resume(dir, net, &config.optimizer, device)?;
        Ok(Self::assemble(config, noise, state, noisy, device))
    }

    fn assemble(
        config: InverseFlowConfig,
        noise: N,
        state: TrainState<B, InverseNetwork<B>>,
        noisy: &SignalDataset,
        device: &B::Device,
    ) -> Self {
        Self {
            grid: config.grid(),
            data: TrainingData::new(noisy, device),
            config,
            noise,
            state,
        }
    }

    /// Runs until `config.steps`, calling `progress` after every step; a `ControlFlow::Break`
    /// and a NaN/Inf loss stop as in [`crate::train::ScorePriorTrainer::run`].
    pub fn run(
        &mut self,
        progress: impl FnMut(InverseProgress) -> ControlFlow<()>,
    ) -> crate::Result<()> {
        run_with_progress(self, progress)
    }

    /// One optimiser step; returns the batch loss.
    fn train_step(&mut self) -> crate::Result<f32> {
        let (x1, mut rng) =
            self.data
                .step_batch(self.config.seed, self.state.step, self.config.batch_size);
        let [n, d] = x1.dims();
        let device = x1.device();
        let space = self.config.space;
        // 1–2. x̂₀ from the current weights, without a graph.
        let frozen = self.state.model.valid();
        let u0 = estimate_clean(&frozen, &self.config, space.to_flow(x1));
        // 3. Fresh x₁' ~ p(· | x̂₀).
        let x0_hat = util::to_vec(space.from_flow(u0.clone()));
        let x1_new = self.noise.sample(&x0_hat, &mut rng);
        if x1_new.len() != n * d {
            return Err(FlowError::InvalidData(format!(
                "the noise model returned {} values for a batch of {n} × {d}",
                x1_new.len()
            )));
        }
        let u1 = space.to_flow(util::tensor2(x1_new, n, d, &device));
        // 4. Per-signal grid index k and the path points at t_k, t_{k+1}.
        let last = self.grid.len() - 1;
        let t_max = self.config.t_max;
        let k: Vec<usize> = (0..n).map(|_| rng.random_range(0..last)).collect();
        let times =
            |shift: usize| -> Vec<f32> { k.iter().map(|&i| self.grid[i + shift] as f32).collect() };
        let (t_lo, t_hi) = (times(0), times(1));
        let point = |t: &[f32]| {
            let r = util::tensor1(t.iter().map(|v| v / t_max as f32).collect(), &device);
            u0.clone() + (u1.clone() - u0.clone()) * r.unsqueeze_dim::<2>(1)
        };
        let pair = PathPair {
            lo: point(&t_lo),
            hi: point(&t_hi),
            t_lo: util::tensor1(t_lo, &device),
            t_hi: util::tensor1(t_hi, &device),
        };
        let loss = inverse_flow_loss(&self.state.model, &frozen, &self.config, pair);
        let lr = self.config.learning_rate_at(self.state.step);
        self.state.apply(loss, lr, self.config.ema_decay)
    }

    /// Writes a checkpoint of the current state atomically and prunes old ones; returns its
    /// directory. Errors if the trainer has no checkpoint directory.
    pub fn save_checkpoint(&mut self) -> crate::Result<PathBuf> {
        self.state.save(&self.config, self.config.keep_checkpoints)
    }

    /// The denoiser with the EMA weights (inner backend).
    pub fn denoiser(&self) -> InverseDenoiser<B::InnerBackend> {
        InverseDenoiser::new(self.state.ema.clone(), self.config.clone())
            .expect("the trainer's configuration was validated")
    }

    /// Completed steps.
    pub fn step(&self) -> usize {
        self.state.step
    }

    /// The run's configuration.
    pub fn config(&self) -> &InverseFlowConfig {
        &self.config
    }

    /// The network being trained (autodiff backend).
    pub fn model(&self) -> &InverseNetwork<B> {
        &self.state.model
    }

    /// The EMA of the weights (inner backend), the network that denoises.
    pub fn ema_model(&self) -> &InverseNetwork<B::InnerBackend> {
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

impl<B: AutodiffBackend, N: ConditionalNoise> SteppedTrainer for InverseFlowTrainer<B, N> {
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

fn check<N: ConditionalNoise>(
    config: &InverseFlowConfig,
    noise: &N,
    noisy: &SignalDataset,
) -> crate::Result<()> {
    config.validate()?;
    if config.model.dim != noisy.dim() {
        return Err(FlowError::InvalidData(format!(
            "noisy signals have {} values but the model expects dim = {}",
            noisy.dim(),
            config.model.dim
        )));
    }
    if noise.space() != config.space {
        return Err(FlowError::InvalidConfig(format!(
            "the noise model runs its flow in {:?} space but the configuration says {:?}: set \
             InverseFlowConfig::space to the noise model's",
            noise.space(),
            config.space
        )));
    }
    Ok(())
}

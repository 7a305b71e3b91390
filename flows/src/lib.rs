//! # meshflow-flows
//!
//! Probabilistic building blocks for signals on surfaces (a temperature field on the sphere
//! grid, a texture on a mesh), flattened to vectors of `D` vertex values:
//!
//! - [`sde`]: the variance-preserving SDE ([`sde::VpSde`]) behind score-based priors, in
//!   score_sde's interface ([`sde::Sde`]);
//! - [`score`]: score networks ([`score::ScoreNetwork`]); the vectorised baseline
//!   [`score::MlpScore`] and the exact Gaussian score [`score::GaussianScore`];
//! - [`spectral`]: a geometry-aware, resolution-independent score network
//!   ([`spectral::SpectralScore`]): DiffusionNet-style learned heat diffusion on a
//!   Laplace–Beltrami eigenbasis;
//! - [`dsm`]: the denoising score-matching loss and the DSM ELBO surrogate for `−log p(x)`
//!   (a differentiable prior term for variational inference);
//! - [`optim`]: Adam(W) whose update is one fused pass over host memory on the CPU backend
//!   ([`optim::FusedAdamW`], burn's `AdamW` elsewhere), used by every trainer here;
//! - [`train`]: a prior-training loop with EMA and atomic, exactly resumable checkpoints;
//! - [`sample`]: probability-flow ODE (Euler, Heun) and Euler–Maruyama samplers;
//! - [`realnvp`]: a conditional RealNVP `G(z; y)` for amortised posteriors, and
//!   [`realnvp::CpuRealNvp`], its trained noise → data map on host buffers for fast CPU sampling;
//! - [`amortized`]: variational training of `G(z; y)` against a frozen score prior, amortised
//!   over measurements, and posterior summaries;
//! - [`inverse`]: inverse flows (IFM, ICM): denoisers trained on noisy signals only, for any
//!   noise model `p(x₁ | x₀)` that can be sampled, with an MLP or a spectral filter in the
//!   Laplace–Beltrami eigenbasis ([`inverse::SpectralFilter`]) as the network;
//! - [`dps`]: diffusion posterior sampling (DPS, MCG), the slow per-measurement reference;
//! - [`classical`]: classical baselines (nearest fill, harmonic/Tikhonov fill, SPDE–GMRF
//!   kriging with posterior std), plain sparse numerics without burn.
//!
//! Everything is generic over a burn [`Backend`](burn::tensor::backend::Backend); the CPU
//! backend is `burn::backend::NdArray<f32>`, wrapped in `burn::backend::Autodiff` to train.
//! The `cuda` feature enables burn's CUDA backend.
//!
//! ```
//! use burn::backend::NdArray;
//! use meshflow_flows::prelude::*;
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! type B = NdArray<f32>;
//! let device = Default::default();
//! let sde = VpSde::new(); // β ∈ [0.1, 20], T = 1, eps = 1e-3
//!
//! // The exact score of N(μ, diag(s²)) data stands in for a trained network here.
//! let prior = GaussianScore::<B>::new(&[1.0, -1.0], &[0.5, 0.2], sde, &device);
//! let mut rng = StdRng::seed_from_u64(0);
//! let x = sample_probability_flow(&prior, &sde, 256, 50, OdeSolver::Heun, &mut rng, &device);
//! assert_eq!(x.dims(), [256, 2]);
//!
//! // A per-signal upper bound on −log p(x), differentiable in x.
//! let nll = dsm_elbo_surrogate(&prior, &sde, x, &ElboOptions::default(), &mut rng);
//! assert_eq!(nll.dims(), [256]);
//!
//! // A conditional flow conditioned on a measurement and its mask; fresh = identity.
//! let flow = ConditionalRealNvpConfig::new(2, 4).with_steps(2).init::<B>(&device);
//! let z = burn::tensor::Tensor::<B, 2>::zeros([3, 2], &device);
//! let context = burn::tensor::Tensor::<B, 2>::ones([3, 4], &device);
//! let (x, log_det) = flow.inverse(z, context);
//! assert_eq!((x.dims(), log_det.dims()), ([3, 2], [3]));
//! ```
//!
//! All randomness is drawn from caller-supplied seeded RNGs (not burn's global backend RNG),
//! so results are reproducible and training resumes exactly.

pub mod amortized;
pub mod basis;
pub mod classical;
pub mod dps;
pub mod dsm;
pub mod error;
pub mod inverse;
pub mod optim;
pub mod realnvp;
pub mod sample;
pub mod score;
pub mod sde;
pub mod spectral;
pub mod train;
pub mod util;

pub use error::{FlowError, Result};

/// The commonly used items.
pub mod prelude {
    pub use crate::amortized::{
        coverage, load_trained_sampler, posterior_summary, sample_posterior, AmortizedTrainer,
        MeasurementModel, Measurements, PosteriorSummary, RandomMask, SamplerProgress,
        SamplerTrainConfig,
    };
    pub use crate::dps::{dps_sample, DpsConfig, DpsOutput, DpsVariant};
    pub use crate::dsm::{dsm_elbo_surrogate, dsm_loss, ElboOptions, VpImportanceSampler};
    pub use crate::error::{FlowError, Result};
    pub use crate::inverse::{
        consistency_function, karras_schedule, ConditionalNoise, FlowSpace, InLogitSpace,
        InverseDenoiser, InverseFlowConfig, InverseFlowTrainer, InverseMethod, InverseProgress,
    };
    pub use crate::realnvp::{ConditionalRealNvp, ConditionalRealNvpConfig, CpuRealNvp};
    pub use crate::sample::{
        probability_flow_solve, sample_euler_maruyama, sample_probability_flow, OdeSolver,
    };
    pub use crate::score::{GaussianScore, MlpScore, MlpScoreConfig, ScoreNetwork};
    pub use crate::sde::{Sde, VpSde};
    pub use crate::spectral::{SpectralBasis, SpectralScore, SpectralScoreConfig};
    pub use crate::train::{
        load_trained_prior, ScorePriorTrainer, SignalDataset, TrainConfig, TrainProgress,
    };
}

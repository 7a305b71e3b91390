//! The networks of inverse flows: the vectorised [`MlpScore`] (the default) and the
//! geometry-aware [`SpectralFilter`], behind one module type, [`InverseNetwork`].
//!
//! [`SpectralFilter`] works in the `K` lowest Laplace–Beltrami eigenmodes of the surface
//! ([`SpectralBasis`], `Φ` `M`-orthonormal): a learned, time-dependent Wiener-like gain per
//! eigenmode (the one-parameter heat family `e^{−λ_k τ}` is one such gain curve), a small MLP
//! on the coefficients, and a learned gain on the residual beyond `K` modes (mostly noise):
//!
//! ```text
//! temb = silu(time2(silu(time1(sinusoidal(999 t)))))                        [N, H]
//! c    = Φᵀ M x,   r = x − Φ c                                               [N, K], [N, V]
//! F    = Φ (gain(temb) ⊙ c + γ · s · MLP(c / s, t)) + residual(temb) · r     [N, V]
//! ```
//!
//! `gain`, `residual` and the gate `γ` start at zero, so a fresh filter is `F = 0` (in the
//! consistency parametrisation a fresh ICM denoiser is `c_skip(t)·x`, a fresh IFM velocity is
//! zero); `s = √area` puts the coefficients on the signal's scale for the MLP. The basis is a
//! constant of the module (not saved): it is recomputed from the mesh when a run is loaded
//! ([`super::InverseDenoiser::load_on_mesh`]).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{activation::silu, backend::Backend, Tensor};
use meshflow_geometry::{eigen::EigenOptions, TriMesh};
use rand::{rngs::StdRng, SeedableRng};

use crate::error::FlowError;
use crate::score::{sinusoidal_embedding, MlpScore, MlpScoreConfig, ScoreNetwork};
use crate::spectral::{SpectralBasis, SpectralTensors};
use crate::util::{self, LinearInit};

/// Configuration of the [`SpectralFilter`] of an inverse flow
/// ([`super::InverseFlowConfig::spectral`]).
#[derive(Config, Debug, PartialEq)]
pub struct SpectralFilterConfig {
    /// Number `K` of Laplace–Beltrami eigenmodes (the basis is computed from the mesh).
    #[config(default = 128)]
    pub modes: usize,
    /// Width `H` of the time embedding the gains are read from.
    #[config(default = 64)]
    pub time_hidden: usize,
    /// Add the MLP on the `K` coefficients (configured by [`super::InverseFlowConfig::model`]
    /// with `dim = K`); false = a purely linear, time-dependent spectral filter.
    #[config(default = true)]
    pub coefficient_mlp: bool,
}

impl SpectralFilterConfig {
    /// Checks the sizes.
    pub fn validate(&self) -> crate::Result<()> {
        if self.modes == 0 || self.time_hidden == 0 {
            return Err(FlowError::InvalidConfig(format!(
                "SpectralFilterConfig needs modes > 0 and time_hidden > 0, got {} and {}",
                self.modes, self.time_hidden
            )));
        }
        Ok(())
    }

    /// The basis of `K = modes` eigenpairs of `mesh` this filter runs on (default
    /// [`EigenOptions`], so the same mesh always gives the same basis).
    pub fn basis(&self, mesh: &TriMesh) -> crate::Result<SpectralBasis> {
        SpectralBasis::from_mesh(mesh, self.modes, &EigenOptions::default())
    }

    /// Builds the filter on `basis` with freshly initialised weights (deterministic in
    /// `mlp.seed`); `mlp` configures the coefficient MLP and the time embedding (its `dim` is
    /// ignored: the MLP runs on the `K` coefficients).
    ///
    /// # Errors
    /// On an invalid configuration or a basis of another size than `modes`.
    pub fn init<B: Backend>(
        &self,
        mlp: &MlpScoreConfig,
        basis: &SpectralBasis,
        device: &B::Device,
    ) -> crate::Result<SpectralFilter<B>> {
        self.validate()?;
        let k = self.modes;
        let mut mlp = mlp.clone();
        mlp.dim = k;
        mlp.validate()?;
        if basis.len() != k || basis.vectors.len() != k * basis.num_vertices() {
            return Err(FlowError::InvalidConfig(format!(
                "the spectral filter has {k} modes but the basis has {} eigenpairs",
                basis.len()
            )));
        }
        let mut rng = StdRng::seed_from_u64(mlp.seed ^ 0x5bec_7a1f);
        let h = self.time_hidden;
        let e = mlp.time_embedding;
        let area: f64 = basis.mass.iter().sum();
        Ok(SpectralFilter {
            basis: basis.tensors(device),
            time1: util::linear(&mut rng, e, h, LinearInit::Uniform, device),
            time2: util::linear(&mut rng, h, h, LinearInit::Uniform, device),
            mode_gain: util::linear(&mut rng, h, k, LinearInit::Zeros, device),
            residual_gain: util::linear(&mut rng, h, 1, LinearInit::Zeros, device),
            mlp: self.coefficient_mlp.then(|| mlp.init(device)),
            mlp_gate: Param::from_tensor(Tensor::zeros([1], device)),
            time_embedding: e,
            scale: area.sqrt(),
        })
    }
}

/// A time-conditioned filter in a truncated Laplace–Beltrami eigenbasis ([`SpectralBasis`],
/// `Φ` `M`-orthonormal, `K` modes): a learned gain per eigenmode, an MLP on the coefficients
/// and a learned gain on the residual beyond `K` modes (mostly noise):
///
/// ```text
/// temb = silu(time2(silu(time1(sinusoidal(999 t)))))                        [N, H]
/// c    = Φᵀ M x,   r = x − Φ c                                               [N, K], [N, V]
/// F    = Φ (gain(temb) ⊙ c + γ · s · MLP(c / s, t)) + residual(temb) · r     [N, V]
/// ```
///
/// `gain`, `residual` and the gate `γ` start at zero, so a fresh filter is `F = 0`;
/// `s = √area`. The basis is a constant of the module (not saved).
#[derive(Module, Debug)]
pub struct SpectralFilter<B: Backend> {
    basis: SpectralTensors<B>,
    time1: Linear<B>,
    time2: Linear<B>,
    mode_gain: Linear<B>,
    residual_gain: Linear<B>,
    mlp: Option<MlpScore<B>>,
    mlp_gate: Param<Tensor<B, 1>>,
    time_embedding: usize,
    scale: f64,
}

impl<B: Backend> SpectralFilter<B> {
    /// The basis tensors the filter runs on.
    pub fn basis(&self) -> &SpectralTensors<B> {
        &self.basis
    }

    /// The per-mode gains and the residual gain at times `t`.
    ///
    /// # Shapes
    /// - `t`: `[N]` → (`[N, K]`, `[N, 1]`)
    pub fn gains(&self, t: Tensor<B, 1>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let temb = sinusoidal_embedding(t, self.time_embedding);
        let temb = silu(self.time2.forward(silu(self.time1.forward(temb))));
        (
            self.mode_gain.forward(temb.clone()),
            self.residual_gain.forward(temb),
        )
    }
}

impl<B: Backend> ScoreNetwork<B> for SpectralFilter<B> {
    fn dim(&self) -> usize {
        self.basis.num_vertices()
    }

    /// # Shapes
    /// - `x_t`: `[N, V]`, `t`: `[N]` → `[N, V]`
    fn forward(&self, x_t: Tensor<B, 2>, t: Tensor<B, 1>) -> Tensor<B, 2> {
        let (gain, residual_gain) = self.gains(t.clone());
        let c = self.basis.coefficients(x_t.clone());
        let residual = x_t - self.basis.synthesise(c.clone());
        let mut out = gain * c.clone();
        if let Some(mlp) = &self.mlp {
            let s = self.scale;
            let gate = self.mlp_gate.val().unsqueeze_dim::<2>(0).mul_scalar(s);
            out = out + mlp.forward(c.div_scalar(s), t) * gate;
        }
        self.basis.synthesise(out) + residual * residual_gain
    }
}

/// The network `F_θ` (ICM) or `v_θ` (IFM) of an inverse flow, built by
/// [`super::InverseFlowConfig::init_network`].
// One network per trainer/denoiser, never in bulk: the size difference does not matter, and
// burn's `Module` is not implemented for `Box`, so the large variant cannot be boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum InverseNetwork<B: Backend> {
    /// The vectorised MLP over the vertex values (no geometry).
    Mlp(MlpScore<B>),
    /// The filter in the surface's Laplace–Beltrami eigenbasis.
    Spectral(SpectralFilter<B>),
}

impl<B: Backend> ScoreNetwork<B> for InverseNetwork<B> {
    fn dim(&self) -> usize {
        match self {
            InverseNetwork::Mlp(n) => n.dim(),
            InverseNetwork::Spectral(n) => n.dim(),
        }
    }

    /// # Shapes
    /// - `x_t`: `[N, D]`, `t`: `[N]` → `[N, D]`
    fn forward(&self, x_t: Tensor<B, 2>, t: Tensor<B, 1>) -> Tensor<B, 2> {
        match self {
            InverseNetwork::Mlp(n) => n.forward(x_t, t),
            InverseNetwork::Spectral(n) => n.forward(x_t, t),
        }
    }
}

//! Conditional RealNVP `G(z; y)`: a stack of affine coupling flows conditioned on a context
//! (for inverse problems: the measurement `y` and its mask, both `[N, D]`).
//!
//! Each of the `K` steps is
//!
//! ```text
//! ActNorm → coupling A (transforms the second part given the first and the context)
//!         → coupling B (transforms the first part given the second and the context)
//!         → reversal of the D coordinates
//! ```
//!
//! so both parts change in every step and the reversal mixes which coordinates are grouped.
//!
//! **Odd `D`** is handled by exact splitting, not padding: the first part has `⌈D/2⌉`
//! coordinates and the second `⌊D/2⌋`; the coupling networks are sized accordingly. (The
//! reference implementation pads 1889 → 1890 with a zero; exact splitting gives the same
//! expressiveness without a dummy dimension whose log-density would need special care.)
//!
//! **Coupling**: for the transformed part `u` and the conditioner input
//! `c = [unchanged part, context]`, an MLP (SiLU, `hidden` units) outputs `(shift, raw)`;
//! `log_scale = scale ⊙ tanh(raw)` with a learned per-coordinate `scale` (initialised to 1),
//! bounding each log-scale in `(−scale, scale)`; then `u' = u ⊙ exp(log_scale) + shift`. The
//! last layer is zero-initialised, so a fresh flow is exactly the identity.
//!
//! **Context encoder** (default on, [`ConditionalRealNvpConfig::context_embedding`]): as nflows'
//! `embedding_net`, an MLP maps the context (`C = 2D` wide for `[y, mask]`) to an embedding of
//! `E` values (default 128), computed once per call and shared by all `2K` couplings, which then
//! read `[unchanged part, embedding]`. Without it every coupling reads the raw `2D`-wide context,
//! which at `D = 1890` is 80 % of the coupling FLOPs. The condition's share of each coupling's
//! first layer is computed once per distinct condition: [`ConditionalRealNvp::inverse_tiled`]
//! takes `N` contexts for `times · N` rows (several `z` per measurement; `N = 1` for posterior
//! samples of one measurement).
//!
//! **Conventions (nflows)**: [`ConditionalRealNvp::forward`] maps data → noise and returns
//! `(z, log|det ∂z/∂x|)`; [`ConditionalRealNvp::inverse`] maps noise → data and returns
//! `(x, log|det ∂x/∂z|)`; both take the context; composites sum log-dets.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{activation::silu, backend::Backend, Tensor};
use rand::{rngs::StdRng, SeedableRng};

use crate::basis::DataBasis;
use crate::util::{self, LinearInit};

mod cpu;
pub use cpu::CpuRealNvp;

/// Default width `E` of the context embedding ([`ConditionalRealNvpConfig::context_embedding`]).
pub const DEFAULT_CONTEXT_EMBEDDING: usize = 128;

/// Default hidden units of the context encoder ([`ConditionalRealNvpConfig::context_hidden`]).
pub const DEFAULT_CONTEXT_HIDDEN: usize = 256;

/// Configuration of [`ConditionalRealNvp`].
#[derive(Config, Debug)]
pub struct ConditionalRealNvpConfig {
    /// Signal dimension `D`.
    pub dim: usize,
    /// Context width `C` (`2 D` for a measurement and its mask).
    pub context_dim: usize,
    /// Number of flow steps `K`.
    #[config(default = 8)]
    pub steps: usize,
    /// Hidden units of each coupling network; `None` gives the benchmark setting
    /// `max(D/8, 8)`.
    #[config(default = "None")]
    pub hidden: Option<usize>,
    /// Hidden layers of each coupling network (≥ 1).
    #[config(default = 2)]
    pub hidden_layers: usize,
    /// Include an ActNorm layer at the start of every step.
    #[config(default = true)]
    pub actnorm: bool,
    /// Learn the per-coordinate bound of the log-scales (otherwise it stays at its initial value).
    #[config(default = true)]
    pub learn_scale: bool,
    /// Initial bound of `|log_scale|` (the factor in front of `tanh`).
    #[config(default = 1.0)]
    pub initial_scale: f32,
    /// Seed of the weight initialisation.
    #[config(default = 0)]
    pub seed: u64,
    /// Width `E` of the context embedding: an MLP encoder (nflows' `embedding_net`) maps the
    /// context `[N, C]` to `[N, E]` once per distinct condition, and every coupling reads the
    /// embedding instead of the raw context. `None` feeds the raw context to every coupling
    /// (the layout of flows saved before the encoder existed: a `config.json` without this
    /// field loads as `None`).
    #[config(default = "Some(DEFAULT_CONTEXT_EMBEDDING)")]
    pub context_embedding: Option<usize>,
    /// Hidden units of the context encoder (one hidden layer, SiLU); `None` gives
    /// [`DEFAULT_CONTEXT_HIDDEN`].
    #[config(default = "None")]
    pub context_hidden: Option<usize>,
    /// Rank of the prior's principal basis the output is mapped through (0 = none): with a
    /// basis, `x = μ + A G(z; y)` ([`DataBasis::to_data`]), so the couplings work in whitened
    /// units where the prior is close to `N(0, I)`. Set by the amortised trainer from its
    /// prior; recorded so a saved flow reloads with the right shapes.
    /// `None` (also what a `config.json` from before this field loads as) means no basis.
    #[config(default = "None")]
    pub output_basis_rank: Option<usize>,
}

impl ConditionalRealNvpConfig {
    /// The effective width of the coupling networks.
    pub fn hidden_units(&self) -> usize {
        self.hidden.unwrap_or((self.dim / 8).max(8))
    }

    /// Width of what the couplings read as their condition: the embedding width `E`, or the raw
    /// context width `C` without an encoder.
    pub fn coupling_context_dim(&self) -> usize {
        self.context_embedding.unwrap_or(self.context_dim)
    }

    /// Checks the sizes.
    pub fn validate(&self) -> crate::Result<()> {
        if self.context_embedding == Some(0) || self.context_hidden == Some(0) {
            return Err(crate::FlowError::InvalidConfig(
                "ConditionalRealNvpConfig: context_embedding and context_hidden must be >= 1 \
                 (use context_embedding = None for no encoder)"
                    .into(),
            ));
        }
        if self.dim < 2 || self.steps == 0 || self.hidden_layers == 0 || self.hidden_units() == 0 {
            return Err(crate::FlowError::InvalidConfig(format!(
                "ConditionalRealNvpConfig needs dim >= 2, steps >= 1, hidden_layers >= 1 and \
                 hidden >= 1; got dim={}, steps={}, hidden_layers={}, hidden={}",
                self.dim,
                self.steps,
                self.hidden_layers,
                self.hidden_units()
            )));
        }
        Ok(())
    }

    /// Builds a fresh flow (the identity map, deterministic in `seed`).
    ///
    /// # Panics
    /// On an invalid configuration; call [`Self::validate`] first on user input.
    pub fn init<B: Backend>(&self, device: &B::Device) -> ConditionalRealNvp<B> {
        self.validate().expect("invalid ConditionalRealNvpConfig");
        let mut rng = StdRng::seed_from_u64(self.seed);
        let d1 = self.dim.div_ceil(2);
        let d2 = self.dim / 2;
        let steps = (0..self.steps)
            .map(|_| FlowStep {
                actnorm: self.actnorm.then(|| ActNorm::identity(self.dim, device)),
                coupling_a: self.coupling(&mut rng, d1, d2, true, device),
                coupling_b: self.coupling(&mut rng, d2, d1, false, device),
            })
            .collect();
        // Drawn after the couplings, so flows without an encoder keep their old initialisation.
        let encoder = self.context_embedding.map(|e| {
            let hidden = self.context_hidden.unwrap_or(DEFAULT_CONTEXT_HIDDEN);
            ContextEncoder {
                input: util::linear(
                    &mut rng,
                    self.context_dim,
                    hidden,
                    LinearInit::Uniform,
                    device,
                ),
                output: util::linear(&mut rng, hidden, e, LinearInit::Uniform, device),
            }
        });
        ConditionalRealNvp {
            steps,
            encoder,
            output_basis: self
                .output_basis_rank
                .filter(|&r| r > 0)
                .map(|r| DataBasis::placeholder(r, self.dim, device)),
            dim: self.dim,
            context_dim: self.context_dim,
        }
    }

    fn coupling<B: Backend>(
        &self,
        rng: &mut StdRng,
        d_cond: usize,
        d_trans: usize,
        transform_second: bool,
        device: &B::Device,
    ) -> AffineCoupling<B> {
        let h = self.hidden_units();
        let mut layers = Vec::with_capacity(self.hidden_layers + 1);
        let mut d_in = d_cond + self.coupling_context_dim();
        for _ in 0..self.hidden_layers {
            layers.push(util::linear(rng, d_in, h, LinearInit::Uniform, device));
            d_in = h;
        }
        layers.push(util::linear(
            rng,
            d_in,
            2 * d_trans,
            LinearInit::Zeros,
            device,
        ));
        let scale = Tensor::full([d_trans], self.initial_scale, device);
        let scale = Param::from_tensor(scale).set_require_grad(self.learn_scale);
        AffineCoupling {
            layers,
            scale,
            d_trans,
            transform_second,
        }
    }
}

/// The context encoder `E(c) = output(silu(input(c)))`, `[N, C] → [N, E]`.
#[derive(Module, Debug)]
pub struct ContextEncoder<B: Backend> {
    input: Linear<B>,
    output: Linear<B>,
}

impl<B: Backend> ContextEncoder<B> {
    /// # Shapes
    /// - `context`: `[N, C]` → `[N, E]`
    pub fn forward(&self, context: Tensor<B, 2>) -> Tensor<B, 2> {
        self.output.forward(silu(self.input.forward(context)))
    }
}

/// A condition prepared for the couplings: the (encoded) context of the distinct conditions,
/// `[N, E]`, used by `times` consecutive blocks of rows (row `r·N + i` of the flow's input
/// uses condition `i`, the layout of [`util::tile_rows`]).
#[derive(Clone, Debug)]
struct Condition<B: Backend> {
    features: Tensor<B, 2>,
    times: usize,
}

/// Per-coordinate affine normalisation `z = x ⊙ exp(log_scale) + shift` (Glow's ActNorm).
#[derive(Module, Debug)]
pub struct ActNorm<B: Backend> {
    log_scale: Param<Tensor<B, 1>>,
    shift: Param<Tensor<B, 1>>,
}

impl<B: Backend> ActNorm<B> {
    fn identity(dim: usize, device: &B::Device) -> Self {
        Self {
            log_scale: Param::from_tensor(Tensor::zeros([dim], device)),
            shift: Param::from_tensor(Tensor::zeros([dim], device)),
        }
    }

    fn forward(&self, x: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 1>) {
        let n = x.dims()[0];
        let ls = self.log_scale.val();
        let z = x * ls.clone().exp().unsqueeze_dim::<2>(0) + self.shift.val().unsqueeze_dim::<2>(0);
        (z, ls.sum().expand([n]))
    }

    fn inverse(&self, z: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 1>) {
        let n = z.dims()[0];
        let ls = self.log_scale.val();
        let x = (z - self.shift.val().unsqueeze_dim::<2>(0))
            * ls.clone().neg().exp().unsqueeze_dim::<2>(0);
        (x, ls.sum().neg().expand([n]))
    }

    /// Data-dependent initialisation: the output of `x` gets zero mean, unit variance per
    /// coordinate.
    fn data_init(self, x: Tensor<B, 2>) -> Self {
        let mean = x.clone().mean_dim(0);
        let var = (x - mean.clone()).powi_scalar(2).mean_dim(0);
        let ls = var.add_scalar(1e-6).log().mul_scalar(-0.5);
        let shift = mean.neg() * ls.clone().exp();
        let dim = ls.dims()[1];
        Self {
            log_scale: Param::from_tensor(ls.reshape([dim]).detach()),
            shift: Param::from_tensor(shift.reshape([dim]).detach()),
        }
    }
}

/// Conditional affine coupling layer (see the module docs).
#[derive(Module, Debug)]
pub struct AffineCoupling<B: Backend> {
    layers: Vec<Linear<B>>,
    scale: Param<Tensor<B, 1>>,
    d_trans: usize,
    transform_second: bool,
}

impl<B: Backend> AffineCoupling<B> {
    /// Splits `x` into (conditioning part, transformed part).
    fn split(&self, x: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let [n, d] = x.dims();
        if self.transform_second {
            let d_cond = d - self.d_trans;
            (
                x.clone().slice([0..n, 0..d_cond]),
                x.slice([0..n, d_cond..d]),
            )
        } else {
            (
                x.clone().slice([0..n, self.d_trans..d]),
                x.slice([0..n, 0..self.d_trans]),
            )
        }
    }

    fn join(&self, cond: Tensor<B, 2>, trans: Tensor<B, 2>) -> Tensor<B, 2> {
        if self.transform_second {
            Tensor::cat(vec![cond, trans], 1)
        } else {
            Tensor::cat(vec![trans, cond], 1)
        }
    }

    /// `(shift, log_scale)`, each `[N, d_trans]`.
    ///
    /// The first layer acts on `[cond, condition]`; its weight is applied in two parts so the
    /// condition's share (plus the bias) is computed once per distinct condition and then
    /// tiled, instead of once per row and with a gradient for the constant condition.
    fn params(&self, cond: Tensor<B, 2>, c: &Condition<B>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let first = &self.layers[0];
        let [d_in, width] = first.weight.dims();
        let d_cond = cond.dims()[1];
        let w = first.weight.val();
        let mut c_part = c
            .features
            .clone()
            .matmul(w.clone().slice([d_cond..d_in, 0..width]));
        if let Some(b) = &first.bias {
            c_part = c_part + b.val().unsqueeze_dim::<2>(0);
        }
        let mut h = cond.matmul(w.slice([0..d_cond, 0..width])) + util::tile_rows(c_part, c.times);
        for layer in &self.layers[1..] {
            h = layer.forward(silu(h));
        }
        let n = h.dims()[0];
        let shift = h.clone().slice([0..n, 0..self.d_trans]);
        let raw = h.slice([0..n, self.d_trans..2 * self.d_trans]);
        let log_scale = raw.tanh() * self.scale.val().unsqueeze_dim::<2>(0);
        (shift, log_scale)
    }

    fn forward(&self, x: Tensor<B, 2>, c: &Condition<B>) -> (Tensor<B, 2>, Tensor<B, 1>) {
        let (cond, u) = self.split(x);
        let (shift, ls) = self.params(cond.clone(), c);
        let n = u.dims()[0];
        let u = u * ls.clone().exp() + shift;
        (self.join(cond, u), ls.sum_dim(1).reshape([n]))
    }

    fn inverse(&self, z: Tensor<B, 2>, c: &Condition<B>) -> (Tensor<B, 2>, Tensor<B, 1>) {
        let (cond, u) = self.split(z);
        let (shift, ls) = self.params(cond.clone(), c);
        let n = u.dims()[0];
        let u = (u - shift) * ls.clone().neg().exp();
        (self.join(cond, u), ls.sum_dim(1).reshape([n]).neg())
    }
}

/// One flow step: ActNorm → coupling A → coupling B → reversal.
#[derive(Module, Debug)]
pub struct FlowStep<B: Backend> {
    actnorm: Option<ActNorm<B>>,
    coupling_a: AffineCoupling<B>,
    coupling_b: AffineCoupling<B>,
}

/// Conditional RealNVP `G(z; y)` (see the module docs).
#[derive(Module, Debug)]
pub struct ConditionalRealNvp<B: Backend> {
    steps: Vec<FlowStep<B>>,
    encoder: Option<ContextEncoder<B>>,
    output_basis: Option<DataBasis<B>>,
    dim: usize,
    context_dim: usize,
}

impl<B: Backend> ConditionalRealNvp<B> {
    /// Signal dimension `D`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Context width `C`.
    pub fn context_dim(&self) -> usize {
        self.context_dim
    }

    /// The context for a measurement `y` and its mask: `[y, mask]`.
    ///
    /// # Shapes
    /// - `y`, `mask`: `[N, D]` → `[N, 2D]`
    pub fn context(y: Tensor<B, 2>, mask: Tensor<B, 2>) -> Tensor<B, 2> {
        Tensor::cat(vec![y, mask], 1)
    }

    /// The couplings' view of a context: encoded when the flow has an encoder.
    fn condition(&self, context: Tensor<B, 2>, times: usize) -> Condition<B> {
        let features = match &self.encoder {
            Some(encoder) => encoder.forward(context),
            None => context,
        };
        Condition { features, times }
    }

    fn check_rows(&self, rows: usize, context: &Tensor<B, 2>, times: usize) {
        let [n, c] = context.dims();
        assert_eq!(c, self.context_dim, "context width");
        assert_eq!(rows, n * times, "rows must be times × context rows");
    }

    /// Data → noise: `z = G⁻¹(x; context)` and `log|det ∂z/∂x|` per row.
    ///
    /// # Shapes
    /// - `x`: `[N, D]`, `context`: `[N, C]` → (`z`: `[N, D]`, log-det: `[N]`)
    pub fn forward(&self, x: Tensor<B, 2>, context: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 1>) {
        self.forward_tiled(x, context, 1)
    }

    /// [`Self::forward`] for `times` signals per context: row `r·N + i` of `x` is conditioned
    /// on row `i` of `context` (the layout of [`util::tile_rows`]). The context is encoded
    /// once per distinct row, not once per signal.
    ///
    /// # Shapes
    /// - `x`: `[times·N, D]`, `context`: `[N, C]` → (`z`: `[times·N, D]`, log-det: `[times·N]`)
    ///
    /// # Panics
    /// If the row counts or the context width disagree.
    pub fn forward_tiled(
        &self,
        x: Tensor<B, 2>,
        context: Tensor<B, 2>,
        times: usize,
    ) -> (Tensor<B, 2>, Tensor<B, 1>) {
        let n = x.dims()[0];
        self.check_rows(n, &context, times);
        let c = self.condition(context, times);
        let mut logdet = Tensor::<B, 1>::zeros([n], &x.device());
        let mut h = x;
        if let Some(basis) = &self.output_basis {
            h = basis.from_data(h);
            logdet = logdet - basis.log_det().expand([n]);
        }
        for step in &self.steps {
            if let Some(an) = &step.actnorm {
                let (o, ld) = an.forward(h);
                h = o;
                logdet = logdet + ld;
            }
            let (o, ld) = step.coupling_a.forward(h, &c);
            logdet = logdet + ld;
            let (o, ld) = step.coupling_b.forward(o, &c);
            logdet = logdet + ld;
            h = o.flip([1]);
        }
        (h, logdet)
    }

    /// Noise → data: `x = G(z; context)` and `log|det ∂x/∂z|` per row.
    ///
    /// # Shapes
    /// - `z`: `[N, D]`, `context`: `[N, C]` → (`x`: `[N, D]`, log-det: `[N]`)
    pub fn inverse(&self, z: Tensor<B, 2>, context: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 1>) {
        self.inverse_tiled(z, context, 1)
    }

    /// [`Self::inverse`] for `times` noise draws per context: row `r·N + i` of `z` is
    /// conditioned on row `i` of `context` (the layout of [`util::tile_rows`]). The context is
    /// encoded, and its share of every coupling's first layer computed, once per distinct row.
    ///
    /// # Shapes
    /// - `z`: `[times·N, D]`, `context`: `[N, C]` → (`x`: `[times·N, D]`, log-det: `[times·N]`)
    ///
    /// # Panics
    /// If the row counts or the context width disagree.
    pub fn inverse_tiled(
        &self,
        z: Tensor<B, 2>,
        context: Tensor<B, 2>,
        times: usize,
    ) -> (Tensor<B, 2>, Tensor<B, 1>) {
        let n = z.dims()[0];
        self.check_rows(n, &context, times);
        let c = self.condition(context, times);
        let mut logdet = Tensor::<B, 1>::zeros([n], &z.device());
        let mut h = z;
        for step in self.steps.iter().rev() {
            let (o, ld) = step.coupling_b.inverse(h.flip([1]), &c);
            logdet = logdet + ld;
            let (o, ld) = step.coupling_a.inverse(o, &c);
            logdet = logdet + ld;
            h = o;
            if let Some(an) = &step.actnorm {
                let (o, ld) = an.inverse(h);
                h = o;
                logdet = logdet + ld;
            }
        }
        if let Some(basis) = &self.output_basis {
            h = basis.to_data(h);
            logdet = logdet + basis.log_det().expand([n]);
        }
        (h, logdet)
    }

    /// Installs the prior's principal basis (see
    /// [`ConditionalRealNvpConfig::output_basis_rank`], which must equal its rank).
    ///
    /// # Errors
    /// [`crate::FlowError::InvalidConfig`] if the flow was built without a basis of that rank
    /// or the dimensions differ.
    pub fn with_output_basis(mut self, basis: DataBasis<B>) -> crate::Result<Self> {
        let expected = self.output_basis.as_ref().map(|b| b.vectors().dims());
        if expected != Some(basis.vectors().dims()) {
            return Err(crate::FlowError::InvalidConfig(format!(
                "the flow expects an output basis of shape {expected:?}, got {:?}",
                basis.vectors().dims()
            )));
        }
        self.output_basis = Some(basis);
        Ok(self)
    }

    /// Data-dependent ActNorm initialisation (Glow): passes the batch through the flow and sets
    /// every ActNorm so its output has zero mean and unit variance per coordinate. Call once,
    /// before training, with a representative batch (≥ a few dozen rows).
    ///
    /// # Shapes
    /// - `x`: `[N, D]`, `context`: `[N, C]`
    pub fn data_init(mut self, x: Tensor<B, 2>, context: Tensor<B, 2>) -> Self {
        let mut h = match &self.output_basis {
            Some(basis) => basis.from_data(x.detach()),
            None => x.detach(),
        };
        self.check_rows(h.dims()[0], &context, 1);
        let c = self.condition(context.detach(), 1);
        let c = Condition {
            features: c.features.detach(),
            times: 1,
        };
        for step in self.steps.iter_mut() {
            if let Some(an) = step.actnorm.take() {
                let an = an.data_init(h.clone());
                h = an.forward(h).0;
                step.actnorm = Some(an);
            }
            let o = step.coupling_a.forward(h, &c).0;
            let o = step.coupling_b.forward(o, &c).0;
            h = o.flip([1]).detach();
        }
        self
    }

    /// `log p(x | context)` under a standard-normal base distribution:
    /// `log N(z; 0, I) + log|det ∂z/∂x|`.
    ///
    /// # Shapes
    /// - `x`: `[N, D]`, `context`: `[N, C]` → `[N]`
    pub fn log_prob(&self, x: Tensor<B, 2>, context: Tensor<B, 2>) -> Tensor<B, 1> {
        let (z, logdet) = self.forward(x, context);
        let [n, d] = z.dims();
        let sq = (z.clone() * z).sum_dim(1).reshape([n]);
        sq.mul_scalar(-0.5)
            .add_scalar(-0.5 * d as f64 * (2.0 * std::f64::consts::PI).ln())
            + logdet
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::{randn, to_vec};
    use burn::backend::{Autodiff, NdArray};
    use burn::module::ModuleMapper;
    use rand::Rng;

    type B = NdArray<f32>;
    type AB = Autodiff<NdArray<f32>>;

    /// Adds `scale · U(−1, 1)` noise to every parameter so the flow is far from the identity.
    struct Perturb {
        rng: StdRng,
        scale: f32,
    }

    impl<B: Backend> ModuleMapper<B> for Perturb {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            let (id, tensor, mapper) = param.consume();
            let shape = tensor.shape();
            let n = shape.num_elements();
            let noise: Vec<f32> = (0..n)
                .map(|_| self.scale * (self.rng.random::<f32>() * 2.0 - 1.0))
                .collect();
            let noise = Tensor::<B, 1>::from_data(
                burn::tensor::TensorData::new(noise, [n]),
                &tensor.device(),
            )
            .reshape(shape);
            Param::from_mapped_value(id, tensor + noise, mapper)
        }
    }

    pub(super) fn perturbed<Bk: Backend>(
        cfg: &ConditionalRealNvpConfig,
        seed: u64,
        dev: &Bk::Device,
    ) -> ConditionalRealNvp<Bk> {
        perturbed_by(cfg, seed, 0.3, dev)
    }

    /// A fresh flow with `scale · U(−1, 1)` added to every parameter (wide layers need a
    /// smaller `scale` to stay well-conditioned).
    pub(super) fn perturbed_by<Bk: Backend>(
        cfg: &ConditionalRealNvpConfig,
        seed: u64,
        scale: f32,
        dev: &Bk::Device,
    ) -> ConditionalRealNvp<Bk> {
        cfg.init::<Bk>(dev).map(&mut Perturb {
            rng: StdRng::seed_from_u64(seed),
            scale,
        })
    }

    pub(super) fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn fresh_flow_is_identity() {
        let dev = Default::default();
        for (dim, embedding) in [(5, Some(128)), (8, None), (8, Some(4))] {
            let flow: ConditionalRealNvp<B> = ConditionalRealNvpConfig::new(dim, 2 * dim)
                .with_context_embedding(embedding)
                .init(&dev);
            let mut rng = StdRng::seed_from_u64(1);
            let x = randn::<B, _>(&mut rng, 7, dim, &dev);
            let c = randn::<B, _>(&mut rng, 7, 2 * dim, &dev);
            let (z, ld) = flow.forward(x.clone(), c.clone());
            // K = 8 reversals compose to the identity permutation.
            assert_eq!(to_vec(z), to_vec(x.clone()));
            assert!(to_vec(ld).iter().all(|&v| v == 0.0));
            let (x2, ld2) = flow.inverse(x.clone(), c);
            assert_eq!(to_vec(x2), to_vec(x));
            assert!(to_vec(ld2).iter().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn inverse_of_forward_is_identity_for_perturbed_flows() {
        let dev = Default::default();
        for (dim, steps, actnorm, embedding) in [
            (6, 8, true, Some(8)),
            (7, 3, true, None),
            (33, 4, false, Some(16)),
            (2, 2, true, None),
        ] {
            let cfg = ConditionalRealNvpConfig::new(dim, 2 * dim)
                .with_steps(steps)
                .with_actnorm(actnorm)
                .with_hidden(Some(16))
                .with_context_embedding(embedding);
            let flow = perturbed::<B>(&cfg, dim as u64, &dev);
            let mut rng = StdRng::seed_from_u64(2);
            let x = randn::<B, _>(&mut rng, 16, dim, &dev);
            let c = randn::<B, _>(&mut rng, 16, 2 * dim, &dev);
            let (z, ld_f) = flow.forward(x.clone(), c.clone());
            assert!(
                max_abs_diff(&to_vec(z.clone()), &to_vec(x.clone())) > 1e-2,
                "flow should not be the identity"
            );
            let (x2, ld_i) = flow.inverse(z.clone(), c.clone());
            let err = max_abs_diff(&to_vec(x2), &to_vec(x));
            assert!(err < 1e-4, "dim={dim}: reconstruction error {err}");
            // forward and inverse log-dets cancel.
            let sum: Vec<f32> = to_vec(ld_f + ld_i);
            assert!(sum.iter().all(|v| v.abs() < 1e-4), "{sum:?}");
            // and the other direction.
            let (z2, _) = flow.forward(flow.inverse(z.clone(), c.clone()).0, c);
            assert!(max_abs_diff(&to_vec(z2), &to_vec(z)) < 1e-4);
        }
    }

    /// Jacobian of `f` at each row by autodiff (one backward pass per output coordinate),
    /// returned as row-major `[N][D·D]` in f64.
    fn jacobians(
        f: impl Fn(Tensor<AB, 2>) -> Tensor<AB, 2>,
        x: &[f32],
        n: usize,
        d: usize,
    ) -> Vec<Vec<f64>> {
        let dev = Default::default();
        let mut jac = vec![vec![0.0f64; d * d]; n];
        for i in 0..d {
            let xt = util::tensor2::<AB>(x.to_vec(), n, d, &dev).require_grad();
            let y = f(xt.clone());
            let yi = y.slice([0..n, i..i + 1]).sum();
            let g = to_vec(xt.grad(&yi.backward()).unwrap());
            for r in 0..n {
                for j in 0..d {
                    jac[r][i * d + j] = g[r * d + j] as f64;
                }
            }
        }
        jac
    }

    /// log|det| of a dense matrix by LU with partial pivoting.
    fn log_abs_det(mut a: Vec<f64>, d: usize) -> f64 {
        let mut out = 0.0;
        for k in 0..d {
            let p = (k..d)
                .max_by(|&i, &j| a[i * d + k].abs().total_cmp(&a[j * d + k].abs()))
                .unwrap();
            if p != k {
                for j in 0..d {
                    a.swap(k * d + j, p * d + j);
                }
            }
            let piv = a[k * d + k];
            out += piv.abs().ln();
            for i in k + 1..d {
                let f = a[i * d + k] / piv;
                for j in k..d {
                    a[i * d + j] -= f * a[k * d + j];
                }
            }
        }
        out
    }

    #[test]
    fn log_det_matches_brute_force_jacobian() {
        let dev = Default::default();
        for (dim, steps, embedding) in [(4, 3, Some(6)), (5, 2, None), (8, 2, Some(3))] {
            let cfg = ConditionalRealNvpConfig::new(dim, 2 * dim)
                .with_steps(steps)
                .with_hidden(Some(12))
                .with_context_embedding(embedding);
            let flow = perturbed::<AB>(&cfg, 10 + dim as u64, &dev);
            let mut rng = StdRng::seed_from_u64(3);
            let n = 3;
            let x: Vec<f32> = (0..n * dim)
                .map(|_| rng.random::<f32>() * 2.0 - 1.0)
                .collect();
            let c = randn::<AB, _>(&mut rng, n, 2 * dim, &dev);
            let xt = util::tensor2::<AB>(x.clone(), n, dim, &dev);

            let (z, ld_f) = flow.forward(xt, c.clone());
            let jf = jacobians(|x| flow.forward(x, c.clone()).0, &x, n, dim);
            let ld_f = to_vec(ld_f);
            for r in 0..n {
                let brute = log_abs_det(jf[r].clone(), dim);
                assert!(
                    (brute - ld_f[r] as f64).abs() < 1e-3,
                    "forward dim={dim} row {r}: {brute} vs {}",
                    ld_f[r]
                );
            }

            let zv = to_vec(z.inner());
            let (_, ld_i) = flow.inverse(util::tensor2::<AB>(zv.clone(), n, dim, &dev), c.clone());
            let ji = jacobians(|z| flow.inverse(z, c.clone()).0, &zv, n, dim);
            let ld_i = to_vec(ld_i);
            for r in 0..n {
                let brute = log_abs_det(ji[r].clone(), dim);
                assert!(
                    (brute - ld_i[r] as f64).abs() < 1e-3,
                    "inverse dim={dim} row {r}: {brute} vs {}",
                    ld_i[r]
                );
                assert!((ld_i[r] + ld_f[r]).abs() < 1e-4);
            }
        }
    }

    /// A flow mapped through a principal basis (`x = μ + A G(z)`) stays exactly invertible and
    /// its log-det still equals the brute-force Jacobian's, which includes `log|det A|`.
    #[test]
    fn an_output_basis_keeps_the_flow_invertible_with_exact_log_det() {
        use crate::basis::{DataBasis, PrincipalBasis};
        let dev = Default::default();
        let dim = 5;
        let h = std::f32::consts::FRAC_1_SQRT_2;
        let fit = PrincipalBasis {
            mean: vec![0.3, -0.1, 0.5, 0.0, 0.2],
            vectors: vec![h, 0.0, h, 0.0, 0.0, 0.0, 0.6, 0.0, 0.8, 0.0],
            std: vec![2.0, 0.5],
            residual_std: 0.1,
            dim,
        };
        let cfg = ConditionalRealNvpConfig::new(dim, 2 * dim)
            .with_steps(2)
            .with_hidden(Some(12))
            .with_output_basis_rank(Some(2));
        let flow = perturbed::<AB>(&cfg, 21, &dev)
            .with_output_basis(DataBasis::from_fit(&fit, &dev))
            .unwrap();
        let mut rng = StdRng::seed_from_u64(4);
        let n = 3;
        let zv: Vec<f32> = (0..n * dim)
            .map(|_| rng.random::<f32>() * 2.0 - 1.0)
            .collect();
        let c = randn::<AB, _>(&mut rng, n, 2 * dim, &dev);
        let (x, ld_i) = flow.inverse(util::tensor2::<AB>(zv.clone(), n, dim, &dev), c.clone());
        let (z2, ld_f) = flow.forward(x.clone(), c.clone());
        assert!(max_abs_diff(&to_vec(z2), &zv) < 1e-4);
        let ji = jacobians(|z| flow.inverse(z, c.clone()).0, &zv, n, dim);
        let (ld_i, ld_f) = (to_vec(ld_i), to_vec(ld_f));
        let basis_ld = (2.0f64 * 0.5 * 0.1f64.powi(3)).ln();
        for r in 0..n {
            let brute = log_abs_det(ji[r].clone(), dim);
            assert!(
                (brute - ld_i[r] as f64).abs() < 1e-3,
                "{brute} vs {}",
                ld_i[r]
            );
            assert!((ld_i[r] + ld_f[r]).abs() < 1e-4);
        }
        // With identity couplings the flow is the basis's Gaussian map: the mean of G(0) is μ.
        let fresh = cfg
            .init::<B>(&dev)
            .with_output_basis(DataBasis::from_fit(&fit, &dev))
            .unwrap();
        let (x0, ld0) = fresh.inverse(
            Tensor::zeros([1, dim], &dev),
            randn::<B, _>(&mut rng, 1, 2 * dim, &dev),
        );
        assert!(max_abs_diff(&to_vec(x0), &fit.mean) < 1e-6);
        assert!((to_vec(ld0)[0] as f64 - basis_ld).abs() < 1e-4);
        // A basis of another shape is refused.
        assert!(cfg
            .init::<B>(&dev)
            .with_output_basis(DataBasis::placeholder(3, dim, &dev))
            .is_err());
    }

    /// `inverse_tiled`/`forward_tiled` with `N` contexts for `times · N` rows equal the plain
    /// calls with the context tiled, with and without the encoder.
    #[test]
    fn tiled_context_matches_repeated_context() {
        let dev = Default::default();
        for embedding in [None, Some(5)] {
            let cfg = ConditionalRealNvpConfig::new(7, 14)
                .with_steps(3)
                .with_hidden(Some(16))
                .with_context_embedding(embedding);
            let flow = perturbed::<B>(&cfg, 21, &dev);
            let mut rng = StdRng::seed_from_u64(6);
            let (n, times) = (4, 3);
            let z = randn::<B, _>(&mut rng, n * times, 7, &dev);
            let c = randn::<B, _>(&mut rng, n, 14, &dev);
            let (x_t, ld_t) = flow.inverse_tiled(z.clone(), c.clone(), times);
            let (x_r, ld_r) = flow.inverse(z, util::tile_rows(c.clone(), times));
            assert!(max_abs_diff(&to_vec(x_t.clone()), &to_vec(x_r)) < 1e-5);
            assert!(max_abs_diff(&to_vec(ld_t.clone()), &to_vec(ld_r)) < 1e-4);
            let (z2, ld_f) = flow.forward_tiled(x_t, c, times);
            let (zv, ldf) = (to_vec(z2), to_vec(ld_f + ld_t));
            assert!(zv.iter().all(|v| v.is_finite()));
            assert!(ldf.iter().all(|v| v.abs() < 1e-4), "{ldf:?}");
        }
    }

    /// A `config.json` written before the context encoder existed (no `context_embedding`
    /// field) loads as a flow without encoder, the layout of its weights.
    #[test]
    fn config_without_embedding_field_loads_without_encoder() {
        let json = r#"{"dim": 6, "context_dim": 12, "steps": 2, "hidden": null,
            "hidden_layers": 2, "actnorm": true, "learn_scale": true, "initial_scale": 1.0,
            "seed": 0}"#;
        let cfg: ConditionalRealNvpConfig = serde_json::from_str(json).unwrap();
        assert_eq!(cfg.context_embedding, None);
        assert_eq!(
            cfg.output_basis_rank, None,
            "flows saved before the output basis"
        );
        assert_eq!(cfg.coupling_context_dim(), 12);
        let fresh = ConditionalRealNvpConfig::new(6, 12);
        assert_eq!(fresh.context_embedding, Some(128));
        let round: ConditionalRealNvpConfig =
            serde_json::from_str(&serde_json::to_string(&fresh).unwrap()).unwrap();
        assert_eq!(round.context_embedding, Some(128));
        assert!(fresh.with_context_embedding(Some(0)).validate().is_err());
    }

    #[test]
    fn data_init_normalises_first_actnorm_output() {
        let dev = Default::default();
        let cfg = ConditionalRealNvpConfig::new(6, 12).with_steps(2);
        let flow: ConditionalRealNvp<B> = cfg.init(&dev);
        let mut rng = StdRng::seed_from_u64(4);
        let x = randn::<B, _>(&mut rng, 256, 6, &dev)
            .mul_scalar(3.0)
            .add_scalar(2.0);
        let c = randn::<B, _>(&mut rng, 256, 12, &dev);
        let flow = flow.data_init(x.clone(), c.clone());
        // Fresh couplings are the identity, so z is the normalised (reversed) data.
        let (z, _) = flow.forward(x.clone(), c.clone());
        let zv = to_vec(z.clone());
        for j in 0..6 {
            let col: Vec<f32> = (0..256).map(|i| zv[i * 6 + j]).collect();
            let m = col.iter().sum::<f32>() / 256.0;
            let v = col.iter().map(|c| (c - m).powi(2)).sum::<f32>() / 256.0;
            assert!(
                m.abs() < 1e-4 && (v - 1.0).abs() < 1e-3,
                "coord {j}: mean {m} var {v}"
            );
        }
        let (x2, _) = flow.inverse(z, c);
        assert!(max_abs_diff(&to_vec(x2), &to_vec(x)) < 1e-4);
    }
}

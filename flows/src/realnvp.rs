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
//! **Conventions (nflows)**: [`ConditionalRealNvp::forward`] maps data → noise and returns
//! `(z, log|det ∂z/∂x|)`; [`ConditionalRealNvp::inverse`] maps noise → data and returns
//! `(x, log|det ∂x/∂z|)`; both take the context; composites sum log-dets.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{activation::silu, backend::Backend, Tensor};
use rand::{rngs::StdRng, SeedableRng};

use crate::util::{self, LinearInit};

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
}

impl ConditionalRealNvpConfig {
    /// The effective width of the coupling networks.
    pub fn hidden_units(&self) -> usize {
        self.hidden.unwrap_or((self.dim / 8).max(8))
    }

    /// Checks the sizes.
    pub fn validate(&self) -> crate::Result<()> {
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
        ConditionalRealNvp {
            steps,
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
        let mut d_in = d_cond + self.context_dim;
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
    fn params(&self, cond: Tensor<B, 2>, context: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let mut h = Tensor::cat(vec![cond, context], 1);
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = silu(h);
            }
        }
        let n = h.dims()[0];
        let shift = h.clone().slice([0..n, 0..self.d_trans]);
        let raw = h.slice([0..n, self.d_trans..2 * self.d_trans]);
        let log_scale = raw.tanh() * self.scale.val().unsqueeze_dim::<2>(0);
        (shift, log_scale)
    }

    fn forward(&self, x: Tensor<B, 2>, context: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 1>) {
        let (cond, u) = self.split(x);
        let (shift, ls) = self.params(cond.clone(), context);
        let n = u.dims()[0];
        let u = u * ls.clone().exp() + shift;
        (self.join(cond, u), ls.sum_dim(1).reshape([n]))
    }

    fn inverse(&self, z: Tensor<B, 2>, context: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 1>) {
        let (cond, u) = self.split(z);
        let (shift, ls) = self.params(cond.clone(), context);
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

    /// Data → noise: `z = G⁻¹(x; context)` and `log|det ∂z/∂x|` per row.
    ///
    /// # Shapes
    /// - `x`: `[N, D]`, `context`: `[N, C]` → (`z`: `[N, D]`, log-det: `[N]`)
    pub fn forward(&self, x: Tensor<B, 2>, context: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 1>) {
        let n = x.dims()[0];
        let mut logdet = Tensor::<B, 1>::zeros([n], &x.device());
        let mut h = x;
        for step in &self.steps {
            if let Some(an) = &step.actnorm {
                let (o, ld) = an.forward(h);
                h = o;
                logdet = logdet + ld;
            }
            let (o, ld) = step.coupling_a.forward(h, context.clone());
            logdet = logdet + ld;
            let (o, ld) = step.coupling_b.forward(o, context.clone());
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
        let n = z.dims()[0];
        let mut logdet = Tensor::<B, 1>::zeros([n], &z.device());
        let mut h = z;
        for step in self.steps.iter().rev() {
            let (o, ld) = step.coupling_b.inverse(h.flip([1]), context.clone());
            logdet = logdet + ld;
            let (o, ld) = step.coupling_a.inverse(o, context.clone());
            logdet = logdet + ld;
            h = o;
            if let Some(an) = &step.actnorm {
                let (o, ld) = an.inverse(h);
                h = o;
                logdet = logdet + ld;
            }
        }
        (h, logdet)
    }

    /// Data-dependent ActNorm initialisation (Glow): passes the batch through the flow and sets
    /// every ActNorm so its output has zero mean and unit variance per coordinate. Call once,
    /// before training, with a representative batch (≥ a few dozen rows).
    ///
    /// # Shapes
    /// - `x`: `[N, D]`, `context`: `[N, C]`
    pub fn data_init(mut self, x: Tensor<B, 2>, context: Tensor<B, 2>) -> Self {
        let mut h = x.detach();
        let context = context.detach();
        for step in self.steps.iter_mut() {
            if let Some(an) = step.actnorm.take() {
                let an = an.data_init(h.clone());
                h = an.forward(h).0;
                step.actnorm = Some(an);
            }
            let o = step.coupling_a.forward(h, context.clone()).0;
            let o = step.coupling_b.forward(o, context.clone()).0;
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

    /// Adds `scale · N(0, 1)` noise to every parameter so the flow is far from the identity.
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

    fn perturbed<Bk: Backend>(
        cfg: &ConditionalRealNvpConfig,
        seed: u64,
        dev: &Bk::Device,
    ) -> ConditionalRealNvp<Bk> {
        cfg.init::<Bk>(dev).map(&mut Perturb {
            rng: StdRng::seed_from_u64(seed),
            scale: 0.3,
        })
    }

    fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn fresh_flow_is_identity() {
        let dev = Default::default();
        for dim in [5, 8] {
            let flow: ConditionalRealNvp<B> =
                ConditionalRealNvpConfig::new(dim, 2 * dim).init(&dev);
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
        for (dim, steps, actnorm) in [(6, 8, true), (7, 3, true), (33, 4, false), (2, 2, true)] {
            let cfg = ConditionalRealNvpConfig::new(dim, 2 * dim)
                .with_steps(steps)
                .with_actnorm(actnorm)
                .with_hidden(Some(16));
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
        for (dim, steps) in [(4, 3), (5, 2), (8, 2)] {
            let cfg = ConditionalRealNvpConfig::new(dim, 2 * dim)
                .with_steps(steps)
                .with_hidden(Some(12));
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

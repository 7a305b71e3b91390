//! Adam(W) with the per-parameter update fused into one pass over host memory on the CPU.
//!
//! burn's [`AdamW`] updates each parameter tensor through about fifteen element-wise tensor
//! operations (moment updates, bias corrections, square root, division, the step), each a
//! fresh allocation and a pass over the tensor. On the GPU burn's fusion merges them; on the
//! ndarray CPU backend they run one by one, and for the 13 M parameters of the D = 1890
//! benchmark flow that was a quarter of a training step. [`FusedAdamW`] computes the same
//! update in a single loop over the parameter, its gradient and the two moments on the host
//! backends (`NdArray<f32>`, and burn's `Flex` with the `flex` feature), and hands every other
//! backend (CUDA) to burn's own [`AdamW`].
//!
//! The optimiser state is burn's [`AdamWState`] in both cases, so checkpoints written with
//! burn's `AdamW` resume with [`FusedAdamW`] and the reverse. AMSGrad and cautious weight
//! decay, which the fused loop does not implement, also go to burn's `AdamW`.

use std::any::TypeId;

use burn::backend::NdArray;
use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{
    AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, LearningRate, SimpleOptimizer,
};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use serde::Deserialize;

use crate::util;

/// Adam with decoupled weight decay (Loshchilov & Hutter), the update of burn's [`AdamW`]:
///
/// ```text
/// m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²,   t ← t + 1
/// θ ← θ (1 − lr·λ) − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
/// ```
///
/// fused into one loop per parameter tensor on the host backends (`NdArray<f32>`, `Flex`),
/// split across two threads for tensors of 2¹⁷ values or more; on any other backend, or with
/// AMSGrad or cautious weight decay, burn's `AdamW` does the step. Build it with
/// [`fused_adamw`].
#[derive(Clone)]
pub struct FusedAdamW {
    hyper: AdamWHyper,
    burn: AdamW,
}

// `AdamWConfig` keeps its fields private; its serde form (what `config.json` holds) is how
// they are read.
#[derive(Clone, Copy, Debug, Deserialize)]
struct AdamWHyper {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    weight_decay: f32,
    cautious_weight_decay: bool,
    amsgrad: bool,
}

/// `AdamWConfig` as its serde form spells it: the hyper-parameters and the clipping.
#[derive(Deserialize)]
struct AdamWFields {
    #[serde(flatten)]
    hyper: AdamWHyper,
    grad_clipping: Option<GradientClippingConfig>,
}

impl AdamWFields {
    fn of(config: &AdamWConfig) -> Self {
        serde_json::to_value(config)
            .and_then(Self::deserialize)
            .expect("AdamWConfig's serde form names its hyper-parameters")
    }
}

impl std::fmt::Debug for FusedAdamW {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FusedAdamW")
            .field("hyper", &self.hyper)
            .finish()
    }
}

impl FusedAdamW {
    /// The optimiser for `config` (the same hyper-parameters as `config.build()`).
    pub fn new(config: &AdamWConfig) -> Self {
        Self {
            hyper: AdamWFields::of(config).hyper,
            burn: config.build(),
        }
    }

    /// Whether the fused host loop serves backend `B` (otherwise burn's `AdamW` does).
    pub fn fuses<B: Backend>(&self) -> bool {
        let host = TypeId::of::<B>() == TypeId::of::<NdArray<f32>>();
        #[cfg(feature = "flex")]
        let host = host || TypeId::of::<B>() == TypeId::of::<burn::backend::Flex>();
        host && !self.hyper.amsgrad && !self.hyper.cautious_weight_decay
    }
}

impl<B: Backend> SimpleOptimizer<B> for FusedAdamW {
    type State<const D: usize> = AdamWState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        if !self.fuses::<B>() {
            return SimpleOptimizer::<B>::step(&self.burn, lr, tensor, grad, state);
        }
        let shape = tensor.shape();
        let device = tensor.device();
        // The parameter may share its buffer with the module the caller still holds; the
        // gradient and the moments are owned here, so reading them back is a move.
        let mut theta = util::param_to_vec(tensor);
        let g = util::to_vec(grad);
        let (time, mut m, mut v) = match state {
            Some(s) => (
                s.momentum.time + 1,
                util::to_vec(s.momentum.moment_1),
                util::to_vec(s.momentum.moment_2),
            ),
            None => (1, vec![0.0; g.len()], vec![0.0; g.len()]),
        };
        let n = g.len();
        if n >= 1 << 17 {
            let h = n / 2;
            let (t0, t1) = theta.split_at_mut(h);
            let (m0, m1) = m.split_at_mut(h);
            let (v0, v1) = v.split_at_mut(h);
            let (g0, g1) = g.split_at(h);
            let hyper = self.hyper;
            std::thread::scope(|s| {
                s.spawn(move || hyper.update(lr, time, t1, g1, m1, v1));
                hyper.update(lr, time, t0, g0, m0, v0);
            });
        } else {
            self.hyper.update(lr, time, &mut theta, &g, &mut m, &mut v);
        }
        let back = |values: Vec<f32>| {
            Tensor::<B, D>::from_data(TensorData::new(values, shape.clone()), &device)
        };
        let momentum = AdaptiveMomentumState::new(time, back(m), back(v));
        (back(theta), Some(AdamWState::new(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        <AdamW as SimpleOptimizer<B>>::to_device(state, device)
    }
}

impl AdamWHyper {
    /// One AdamW step in place, in burn's operation order (so the two paths agree to
    /// rounding); `time` is the step count after this step (1 for the first).
    fn update(
        &self,
        lr: LearningRate,
        time: usize,
        theta: &mut [f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
    ) {
        let (b1, b2) = (self.beta_1, self.beta_2);
        let (f1, f2) = (1.0 - b1, 1.0 - b2);
        let t = i32::try_from(time).unwrap_or(i32::MAX);
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        // As burn: the decay factor in f64, then both to f32.
        let decay = (1.0 - lr * f64::from(self.weight_decay)) as f32;
        let lr = lr as f32;
        let decayed = self.weight_decay != 0.0;
        for (((p, &g), m), v) in theta.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            *m = *m * b1 + g * f1;
            *v = *v * b2 + g * g * f2;
            let delta = (*m / c1) / ((*v / c2).sqrt() + self.epsilon);
            let base = if decayed { *p * decay } else { *p };
            *p = base - delta * lr;
        }
    }
}

/// [`FusedAdamW`] for module `M`, with `config`'s gradient clipping (if any) applied by burn
/// before the update, as `config.init()` does for burn's `AdamW`.
pub fn fused_adamw<B: AutodiffBackend, M: AutodiffModule<B>>(
    config: &AdamWConfig,
) -> OptimizerAdaptor<FusedAdamW, M, B> {
    let AdamWFields {
        hyper,
        grad_clipping,
    } = AdamWFields::of(config);
    let mut optim = OptimizerAdaptor::from(FusedAdamW {
        hyper,
        burn: config.build(),
    });
    if let Some(clipping) = grad_clipping {
        optim = optim.with_grad_clipping(clipping.init());
    }
    optim
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::{load_optimizer, save_optimizer};
    use crate::util::{self, LinearInit};
    use burn::backend::Autodiff;
    use burn::module::Module;
    use burn::nn::Linear;
    use burn::optim::{GradientsParams, Optimizer};
    use rand::{rngs::StdRng, SeedableRng};

    #[derive(Module, Debug)]
    struct Net<B: Backend> {
        // 512 × 320 = 163 840 weights: above the size where the update splits across threads.
        wide: Linear<B>,
        narrow: Linear<B>,
    }

    impl<B: Backend> Net<B> {
        fn new(device: &B::Device) -> Self {
            let mut rng = StdRng::seed_from_u64(7);
            Self {
                wide: util::linear(&mut rng, 512, 320, LinearInit::Uniform, device),
                narrow: util::linear(&mut rng, 320, 3, LinearInit::Uniform, device),
            }
        }

        fn loss(&self, x: Tensor<B, 2>) -> Tensor<B, 1> {
            let h = self.narrow.forward(self.wide.forward(x).tanh());
            (h.clone() * h).sum()
        }

        fn values(&self) -> Vec<f32> {
            [
                util::param_to_vec(self.wide.weight.val()),
                util::param_to_vec(self.wide.bias.as_ref().expect("bias").val()),
                util::param_to_vec(self.narrow.weight.val()),
            ]
            .concat()
        }
    }

    /// Runs `steps` optimiser steps from the same start on the same inputs and returns the
    /// parameter values after each step.
    fn trajectory<B, O>(mut optim: O, mut net: Net<B>, steps: usize) -> (Vec<Vec<f32>>, O, Net<B>)
    where
        B: AutodiffBackend,
        O: Optimizer<Net<B>, B>,
    {
        let device = Default::default();
        let mut rng = StdRng::seed_from_u64(11);
        let mut out = Vec::new();
        for k in 0..steps {
            let x = util::randn::<B, _>(&mut rng, 8, 512, &device);
            let grads = GradientsParams::from_grads(net.loss(x).backward(), &net);
            net = optim.step(1e-2 / (1.0 + k as f64), net, grads);
            out.push(net.valid().values());
        }
        (out, optim, net)
    }

    fn max_rel_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(1e-3))
            .fold(0.0, f32::max)
    }

    type AB = Autodiff<NdArray<f32>>;

    /// The fused step on host backend `I` against burn's AdamW, step by step.
    fn fused_equals_burn<I: Backend>() {
        type A<I> = Autodiff<I>;
        let device = Default::default();
        for config in [
            AdamWConfig::new().with_weight_decay(0.0),
            AdamWConfig::new()
                .with_weight_decay(0.05)
                .with_epsilon(1e-8),
        ] {
            assert!(FusedAdamW::new(&config).fuses::<I>());
            let start = Net::<A<I>>::new(&device);
            let (ours, ..) = trajectory(fused_adamw::<A<I>, Net<A<I>>>(&config), start.clone(), 6);
            let (burns, ..) = trajectory(config.init::<A<I>, Net<A<I>>>(), start.clone(), 6);
            let moved = max_rel_diff(&ours[5], &start.valid().values());
            assert!(moved > 1e-2, "the parameters hardly moved ({moved})");
            for (step, (a, b)) in ours.iter().zip(&burns).enumerate() {
                let d = max_rel_diff(a, b);
                assert!(
                    d < 2e-5,
                    "step {step}: fused and burn's AdamW differ by {d}"
                );
            }
        }
    }

    #[test]
    fn fused_update_equals_burns_adamw() {
        fused_equals_burn::<NdArray<f32>>();
    }

    #[cfg(feature = "flex")]
    #[test]
    fn fused_update_equals_burns_adamw_on_flex() {
        fused_equals_burn::<burn::backend::Flex>();
    }

    #[test]
    fn other_backends_and_amsgrad_use_burns_adamw() {
        let config = AdamWConfig::new().with_weight_decay(0.0);
        assert!(!FusedAdamW::new(&config).fuses::<NdArray<f64>>());
        assert!(!FusedAdamW::new(&config.clone().with_amsgrad(true)).fuses::<NdArray<f32>>());
        // On f64 the step is burn's own, bit for bit.
        type AB64 = Autodiff<NdArray<f64>>;
        let start = Net::<AB64>::new(&Default::default());
        let (ours, ..) = trajectory(fused_adamw::<AB64, Net<AB64>>(&config), start.clone(), 3);
        let (burns, ..) = trajectory(config.init::<AB64, Net<AB64>>(), start, 3);
        assert_eq!(ours, burns);
    }

    #[test]
    fn state_is_interchangeable_with_burns_adamw_checkpoints() {
        // A run checkpointed by burn's AdamW resumes under the fused optimiser (and back),
        // continuing as an uninterrupted burn run does.
        let device = Default::default();
        let config = AdamWConfig::new().with_weight_decay(0.0);
        let dir = std::env::temp_dir().join(format!("meshflow-optim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("optimizer");
        let (_, burn_optim, net) =
            trajectory(config.init::<AB, Net<AB>>(), Net::<AB>::new(&device), 3);
        save_optimizer::<AB, Net<AB>, _>(&burn_optim, &path).expect("save");
        let resumed =
            load_optimizer::<AB, Net<AB>, _>(fused_adamw::<AB, Net<AB>>(&config), &path, &device)
                .expect("burn's AdamW state loads into FusedAdamW");
        let (ours, fused_optim, _) = trajectory(resumed, net.clone(), 3);
        let (burns, ..) = trajectory(burn_optim, net.clone(), 3);
        for (a, b) in ours.iter().zip(&burns) {
            assert!(max_rel_diff(a, b) < 2e-5);
        }
        // A cold start from the same weights takes a different first step: the moments and
        // the step count really were resumed.
        let (cold, ..) = trajectory(fused_adamw::<AB, Net<AB>>(&config), net.clone(), 1);
        assert!(max_rel_diff(&cold[0], &ours[0]) > 1e-3);
        save_optimizer::<AB, Net<AB>, _>(&fused_optim, &path).expect("save");
        load_optimizer::<AB, Net<AB>, _>(config.init::<AB, Net<AB>>(), &path, &device)
            .expect("FusedAdamW state loads into burn's AdamW");
        std::fs::remove_dir_all(&dir).ok();
    }
}

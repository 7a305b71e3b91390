//! The training losses of ICM and IFM on one batch of conditional-path pairs, and the IFM
//! ODE solve.

use burn::tensor::{backend::AutodiffBackend, backend::Backend, Tensor};

use super::{consistency_function, pseudo_huber, InverseFlowConfig, InverseMethod, Velocity};
use crate::score::ScoreNetwork;

/// Points `u_{t_k}` and `u_{t_{k+1}}` of the conditional paths of a batch (flow space, no
/// gradient), with their times.
pub(crate) struct PathPair<B: Backend> {
    /// `[N, D]` at the lower time `t_k`.
    pub(crate) lo: Tensor<B, 2>,
    /// `[N, D]` at the upper time `t_{k+1}`.
    pub(crate) hi: Tensor<B, 2>,
    /// `[N]`: `t_k`.
    pub(crate) t_lo: Tensor<B, 1>,
    /// `[N]`: `t_{k+1}`.
    pub(crate) t_hi: Tensor<B, 1>,
}

/// The ICM or IFM loss (a one-element tensor) of `model` on `pair`; the ICM target is the
/// stop-gradient network `frozen` (the same weights on the inner backend).
pub(crate) fn inverse_flow_loss<B, F, G>(
    model: &F,
    frozen: &G,
    config: &InverseFlowConfig,
    pair: PathPair<B::InnerBackend>,
) -> Tensor<B, 1>
where
    B: AutodiffBackend,
    F: ScoreNetwork<B>,
    G: ScoreNetwork<B::InnerBackend>,
{
    let d = pair.hi.dims()[1];
    let c = config.huber_factor * (d as f64).sqrt();
    let dt = pair.t_hi.clone() - pair.t_lo.clone();
    let hi = Tensor::<B, 2>::from_inner(pair.hi.clone());
    let t_hi = Tensor::<B, 1>::from_inner(pair.t_hi.clone());
    match config.method {
        InverseMethod::Icm => {
            let space = config.space;
            let (t_min, sd) = (config.t_min, config.sigma_data);
            let pred = space.from_flow(consistency_function(model, hi, t_hi, t_min, sd));
            let target =
                space.from_flow(consistency_function(frozen, pair.lo, pair.t_lo, t_min, sd));
            let weight = Tensor::<B, 1>::from_inner(dt.recip()).unsqueeze_dim::<2>(1);
            (pseudo_huber(pred, Tensor::from_inner(target), c) * weight).mean()
        }
        InverseMethod::Ifm => {
            let pred = Velocity { net: model, config }.forward(hi, t_hi);
            let target = (pair.hi - pair.lo) / dt.unsqueeze_dim::<2>(1);
            pseudo_huber(pred, Tensor::from_inner(target), c).mean()
        }
    }
}

/// Euler solve of `du/dt = v(u, t)` backwards from `ts[last]` to `ts[0]` (ascending `ts`),
/// evaluating `v` at the start of every step.
///
/// # Shapes
/// - `u`: `[N, D]` at `t = ts[last]` → `[N, D]` at `t = ts[0]`
pub(crate) fn euler_backward<B: Backend, F: ScoreNetwork<B>>(
    net: &F,
    mut u: Tensor<B, 2>,
    ts: &[f64],
) -> Tensor<B, 2> {
    let n = u.dims()[0];
    let device = u.device();
    for w in ts.windows(2).rev() {
        let v = net.forward(u.clone(), Tensor::full([n], w[1], &device));
        u = u - v.mul_scalar(w[1] - w[0]);
    }
    u
}

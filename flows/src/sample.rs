//! Samplers for score-based priors: the probability-flow ODE (Euler or Heun) and
//! Euler–Maruyama on the reverse-time SDE. All are batched: one call integrates `N` signals.
//!
//! Time runs on the uniform grid `tᵢ = T + i (eps − T)/steps`, `i = 0..steps`. Use the model
//! on a non-autodiff backend (`model.valid()`) to avoid recording a graph.

use burn::tensor::{backend::Backend, Tensor};
use rand::Rng;

use crate::score::ScoreNetwork;
use crate::sde::Sde;
use crate::util;

/// Integrator of the probability-flow ODE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OdeSolver {
    /// Explicit Euler: one score evaluation per step.
    Euler,
    /// Heun's method (explicit trapezoid): two score evaluations per step, second order.
    Heun,
}

fn time_tensor<B: Backend>(t: f64, n: usize, device: &B::Device) -> Tensor<B, 1> {
    util::tensor1(vec![t as f32; n], device)
}

/// Integrates the probability-flow ODE `dx/dt = f − ½ g² s_θ` from `t_start` to `t_end` (either
/// direction: `T → eps` generates, `eps → T` encodes) in `steps` uniform steps.
///
/// # Shapes
/// - `x`: `[N, D]` → `[N, D]`
pub fn probability_flow_solve<B: Backend, M: ScoreNetwork<B>, S: Sde>(
    model: &M,
    sde: &S,
    x: Tensor<B, 2>,
    t_start: f64,
    t_end: f64,
    steps: usize,
    solver: OdeSolver,
) -> Tensor<B, 2> {
    let [n, _] = x.dims();
    let device = x.device();
    let steps = steps.max(1);
    let h = (t_end - t_start) / steps as f64;
    let drift = |x: Tensor<B, 2>, t: f64| {
        let tt = time_tensor::<B>(t, n, &device);
        let s = model.forward(x.clone(), tt.clone());
        sde.probability_flow_drift(x, tt, s)
    };
    let mut x = x;
    for i in 0..steps {
        let t = t_start + i as f64 * h;
        let d1 = drift(x.clone(), t);
        x = match solver {
            OdeSolver::Euler => x + d1.mul_scalar(h),
            OdeSolver::Heun => {
                let x_pred = x.clone() + d1.clone().mul_scalar(h);
                let d2 = drift(x_pred, t + h);
                x + (d1 + d2).mul_scalar(0.5 * h)
            }
        };
    }
    x
}

/// Draws `n` samples by integrating the probability-flow ODE from prior samples at `T` down to
/// `eps`.
///
/// # Shapes
/// - output: `[n, model.dim()]`
pub fn sample_probability_flow<B: Backend, M: ScoreNetwork<B>, S: Sde, R: Rng + ?Sized>(
    model: &M,
    sde: &S,
    n: usize,
    steps: usize,
    solver: OdeSolver,
    rng: &mut R,
    device: &B::Device,
) -> Tensor<B, 2> {
    let x = sde.prior_sample::<B, R>(n, model.dim(), rng, device);
    probability_flow_solve(model, sde, x, sde.t_max(), sde.t_min(), steps, solver)
}

/// Draws `n` samples with Euler–Maruyama on the reverse-time SDE
/// `dx = [f − g² s_θ] dt + g dw̄` from `T` to `eps` (score_sde's `EulerMaruyamaPredictor`
/// without corrector). The last step returns the noise-free mean, as score_sde does.
///
/// # Shapes
/// - output: `[n, model.dim()]`
pub fn sample_euler_maruyama<B: Backend, M: ScoreNetwork<B>, S: Sde, R: Rng + ?Sized>(
    model: &M,
    sde: &S,
    n: usize,
    steps: usize,
    rng: &mut R,
    device: &B::Device,
) -> Tensor<B, 2> {
    let d = model.dim();
    let steps = steps.max(1);
    let mut x = sde.prior_sample::<B, R>(n, d, rng, device);
    let (t0, t1) = (sde.t_max(), sde.t_min());
    let dt = (t1 - t0) / steps as f64; // negative
    for i in 0..steps {
        let t = t0 + i as f64 * dt;
        let tt = time_tensor::<B>(t, n, device);
        let s = model.forward(x.clone(), tt.clone());
        let g = sde.diffusion(tt.clone()).unsqueeze_dim::<2>(1);
        let mean = x.clone() + sde.reverse_drift(x, tt, s).mul_scalar(dt);
        x = if i + 1 == steps {
            mean
        } else {
            let z = util::randn::<B, R>(rng, n, d, device);
            mean + z * g.mul_scalar((-dt).sqrt())
        };
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::GaussianScore;
    use crate::sde::VpSde;
    use burn::backend::NdArray;
    use rand::{rngs::StdRng, SeedableRng};

    type B = NdArray<f32>;

    fn moments(v: &[f32], n: usize, d: usize) -> (Vec<f64>, Vec<f64>) {
        let mut m = vec![0.0; d];
        let mut s = vec![0.0; d];
        for i in 0..n {
            for j in 0..d {
                m[j] += v[i * d + j] as f64 / n as f64;
            }
        }
        for i in 0..n {
            for j in 0..d {
                s[j] += (v[i * d + j] as f64 - m[j]).powi(2) / n as f64;
            }
        }
        (m, s.into_iter().map(f64::sqrt).collect())
    }

    #[test]
    fn samplers_with_exact_score_reproduce_gaussian() {
        let sde = VpSde::new();
        let dev = Default::default();
        let mean = [1.0f32, -0.5, 2.0, 0.0];
        let std = [0.5f32, 1.0, 0.3, 2.0];
        let g = GaussianScore::<B>::new(&mean, &std, sde, &dev);
        let n = 3000;
        let mut rng = StdRng::seed_from_u64(3);
        for (name, x) in [
            (
                "heun",
                sample_probability_flow(&g, &sde, n, 100, OdeSolver::Heun, &mut rng, &dev),
            ),
            (
                "euler",
                sample_probability_flow(&g, &sde, n, 400, OdeSolver::Euler, &mut rng, &dev),
            ),
            (
                "em",
                sample_euler_maruyama(&g, &sde, n, 400, &mut rng, &dev),
            ),
        ] {
            let (m, s) = moments(&util::to_vec(x), n, 4);
            for j in 0..4 {
                // MC error of the mean ≈ s/√3000 ≤ 0.04; of the std ≈ 1.3 % of s.
                assert!(
                    (m[j] - mean[j] as f64).abs() < 0.1 * (1.0 + std[j] as f64),
                    "{name} mean {j}: {m:?}"
                );
                assert!(
                    (s[j] / std[j] as f64 - 1.0).abs() < 0.08,
                    "{name} std {j}: {s:?}"
                );
            }
        }
    }

    #[test]
    fn probability_flow_round_trip() {
        // Encoding eps → T then decoding T → eps with Heun returns close to the start.
        let sde = VpSde::new();
        let dev = Default::default();
        let g = GaussianScore::<B>::new(&[0.5, -1.0], &[0.7, 0.4], sde, &dev);
        let mut rng = StdRng::seed_from_u64(9);
        let x0 = util::randn::<B, _>(&mut rng, 64, 2, &dev).mul_scalar(0.5);
        let z = probability_flow_solve(&g, &sde, x0.clone(), sde.eps, 1.0, 200, OdeSolver::Heun);
        let x1 = probability_flow_solve(&g, &sde, z, 1.0, sde.eps, 200, OdeSolver::Heun);
        let err = util::to_vec((x1 - x0).abs().max());
        assert!(err[0] < 2e-2, "round-trip error {}", err[0]);
    }
}

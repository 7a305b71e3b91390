//! Tests of the inverse flows: analytic fixed points, the paper's toy, non-collapse, exact
//! resumption.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use burn::backend::{Autodiff, NdArray};
use rand::{rngs::StdRng, Rng, RngCore, SeedableRng};
use rand_distr::StandardNormal;

use super::*;
use crate::train::{latest_checkpoint, SignalDataset};
use crate::util::{self, to_vec};
use burn::tensor::Tensor;

type B = NdArray<f32>;
type AB = Autodiff<NdArray<f32>>;

/// A fresh, empty directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);
impl TempDir {
    fn new(name: &str) -> Self {
        let p =
            std::env::temp_dir().join(format!("meshflow-inverse-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        Self(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Additive white Gaussian noise of standard deviation `sigma`.
fn gaussian(sigma: f32) -> impl Fn(&[f32], &mut dyn RngCore) -> Vec<f32> {
    move |x0: &[f32], rng: &mut dyn RngCore| {
        x0.iter()
            .map(|v| v + sigma * rng.sample::<f32, _>(StandardNormal))
            .collect()
    }
}

/// The paper's toy: `n` clean 2-D points drawn uniformly from the 8 points
/// `(cos 2πj/8, sin 2πj/8)`.
fn circle_points(n: usize, rng: &mut StdRng) -> Vec<f32> {
    (0..n)
        .flat_map(|_| {
            let a = std::f32::consts::TAU * rng.random_range(0..8) as f32 / 8.0;
            [a.cos(), a.sin()]
        })
        .collect()
}

fn std_of_column(v: &[f32], d: usize, j: usize) -> f32 {
    let col: Vec<f32> = v.iter().skip(j).step_by(d).copied().collect();
    let m = col.iter().sum::<f32>() / col.len() as f32;
    (col.iter().map(|c| (c - m).powi(2)).sum::<f32>() / col.len() as f32).sqrt()
}

fn toy_config(method: InverseMethod, steps: usize) -> InverseFlowConfig {
    InverseFlowConfig::new(
        InverseFlowConfig::network(2)
            .with_hidden(128)
            .with_blocks(2)
            .with_time_embedding(32)
            .with_seed(1),
    )
    .with_method(method)
    .with_steps(steps)
    .with_batch_size(256)
    .with_learning_rate(1e-3)
    .with_ema_decay(0.99)
    .with_seed(3)
}

#[test]
fn consistency_function_is_the_identity_at_t_min() {
    let dev = Default::default();
    let net = InverseFlowConfig::network(5)
        .with_hidden(16)
        .with_seed(2)
        .init::<B>(&dev);
    let mut rng = StdRng::seed_from_u64(0);
    let x = util::randn::<B, _>(&mut rng, 7, 5, &dev).mul_scalar(3.0);
    for (t_min, sd) in [(0.002, 0.5), (0.01, 0.1), (1e-4, 2.0)] {
        let t = Tensor::<B, 1>::full([7], t_min, &dev);
        let f = consistency_function(&net, x.clone(), t, t_min, sd);
        assert_eq!(to_vec(f), to_vec(x.clone()), "t_min = {t_min}, σ_d = {sd}");
    }
    // Away from t_min the network does contribute.
    let t = Tensor::<B, 1>::full([7], 0.2, &dev);
    assert_ne!(
        to_vec(consistency_function(&net, x.clone(), t, 0.002, 0.5)),
        to_vec(x)
    );
}

#[test]
fn logit_space_round_trips() {
    let dev = Default::default();
    let x = util::tensor2::<B>(vec![1e-3, 0.2, 0.5, 0.999], 2, 2, &dev);
    let back = to_vec(FlowSpace::Logit.from_flow(FlowSpace::Logit.to_flow(x.clone())));
    for (a, b) in back.iter().zip(to_vec(x)) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    let u = to_vec(FlowSpace::Logit.to_flow(util::tensor2::<B>(vec![0.0, 1.0], 1, 2, &dev)));
    assert!(u.iter().all(|v| v.is_finite() && v.abs() < 12.0), "{u:?}");
}

#[test]
fn invalid_configurations_are_errors() {
    let dev = burn::backend::ndarray::NdArrayDevice::default();
    let data = SignalDataset::new(vec![0.5; 8], 4, 2).unwrap();
    // A score network (scaled by 1/σ(t)) is not an inverse-flow network.
    let cfg = InverseFlowConfig::new(crate::score::MlpScoreConfig::new(2));
    assert!(cfg
        .validate()
        .unwrap_err()
        .to_string()
        .contains("scale_by_sigma"));
    let cfg = InverseFlowConfig::new(InverseFlowConfig::network(2)).with_t_max(0.001);
    assert!(cfg.validate().is_err());
    // Noise in logit space with an identity-space configuration.
    let cfg = InverseFlowConfig::new(InverseFlowConfig::network(2).with_hidden(8));
    let err = InverseFlowTrainer::<AB, _>::new(
        cfg.clone(),
        InLogitSpace(gaussian(0.1)),
        &data,
        None,
        &dev,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("Logit"), "{err}");
    // Wrong dimension.
    let cfg3 = InverseFlowConfig::new(InverseFlowConfig::network(3).with_hidden(8));
    assert!(InverseFlowTrainer::<AB, _>::new(cfg3, gaussian(0.1), &data, None, &dev).is_err());
}

/// Trains on the noisy toy and returns (PSNR of the noisy input, PSNR of the denoiser, output
/// std / clean std per coordinate, seconds).
fn train_toy(method: InverseMethod, steps: usize) -> (f64, f64, [f32; 2], f64) {
    let dev = Default::default();
    let sigma = 0.2;
    let mut rng = StdRng::seed_from_u64(11);
    let noise = gaussian(sigma);
    let clean = circle_points(4000, &mut rng);
    let noisy = SignalDataset::new(noise(&clean, &mut rng), 4000, 2).unwrap();
    let start = Instant::now();
    let mut trainer =
        InverseFlowTrainer::<AB, _>::new(toy_config(method, steps), noise, &noisy, None, &dev)
            .unwrap();
    trainer.run(|_| ControlFlow::Continue(())).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    // Fresh test set.
    let test_clean = circle_points(2000, &mut rng);
    let test_noisy = gaussian(sigma)(&test_clean, &mut rng);
    let x1 = util::tensor2::<B>(test_noisy.clone(), 2000, 2, &dev);
    let out = to_vec(trainer.denoiser().denoise(x1));
    let psnr = |p: &[f32]| meshflow_geometry::metrics::psnr(p, &test_clean, 2.0, None).unwrap();
    let ratio = [0, 1].map(|j| std_of_column(&out, 2, j) / std_of_column(&test_clean, 2, j));
    (psnr(&test_noisy), psnr(&out), ratio, seconds)
}

/// The paper's toy (8 points on the unit circle, σ = 0.2; PSNR with data range 2): the noisy
/// input is at 20 dB, the reference implementation reaches ≈ 31.9 dB. Also the non-collapse
/// check: the objective has a degenerate constant solution, so the outputs must keep the
/// spread of the clean data (per-coordinate std within 15 % of it; a collapsed map gives 0).
#[test]
fn icm_denoises_the_circle_toy_without_collapsing() {
    let (noisy, psnr, ratio, secs) = train_toy(InverseMethod::Icm, 1500);
    eprintln!("ICM toy: noisy {noisy:.2} dB → {psnr:.2} dB; std ratio {ratio:?}; {secs:.1} s");
    assert!((noisy - 20.0).abs() < 0.5, "noisy PSNR {noisy}");
    assert!(psnr >= 25.0, "ICM reached only {psnr:.2} dB");
    for r in ratio {
        assert!((r - 1.0).abs() < 0.15, "output/clean std ratio {ratio:?}");
    }
}

#[test]
fn ifm_denoises_the_circle_toy_without_collapsing() {
    let (noisy, psnr, ratio, secs) = train_toy(InverseMethod::Ifm, 1500);
    eprintln!("IFM toy: noisy {noisy:.2} dB → {psnr:.2} dB; std ratio {ratio:?}; {secs:.1} s");
    assert!(psnr >= 25.0, "IFM reached only {psnr:.2} dB");
    for r in ratio {
        assert!((r - 1.0).abs() < 0.15, "output/clean std ratio {ratio:?}");
    }
}

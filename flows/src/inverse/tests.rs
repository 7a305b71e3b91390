//! Tests of the inverse flows: analytic fixed points, the paper's toy, non-collapse, exact
//! resumption.

use std::ops::ControlFlow;
use std::time::Instant;

use burn::backend::{Autodiff, NdArray};
use rand::{rngs::StdRng, Rng, RngCore, SeedableRng};
use rand_distr::StandardNormal;

use super::*;
use crate::score::ScoreNetwork;
use crate::spectral::SpectralBasis;
use crate::train::test_support::{check_resumed_run, Interruption, MODEL_CHECKPOINT_FILES};
use crate::train::SignalDataset;
use crate::util::{self, test_support::TempDir, to_vec};
use burn::tensor::Tensor;

type B = NdArray<f32>;
type AB = Autodiff<NdArray<f32>>;

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
            .with_hidden(64)
            .with_blocks(1)
            .with_time_embedding(32)
            .with_seed(1),
    )
    .with_method(method)
    .with_steps(steps)
    .with_batch_size(256)
    .with_learning_rate(2e-3)
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

/// The denoiser-parametrised IFM velocity: `u − t·v(u, t)` is the consistency function's
/// denoised estimate at every `t`, so `v(u, t_min) = 0`; the direct one is the network itself.
#[test]
fn ifm_velocity_from_a_denoiser_points_at_the_denoised_estimate() {
    let dev = Default::default();
    let net = InverseFlowConfig::network(5)
        .with_hidden(16)
        .with_seed(2)
        .init::<B>(&dev);
    let mut rng = StdRng::seed_from_u64(1);
    let u = util::randn::<B, _>(&mut rng, 7, 5, &dev);
    let config = toy_config(InverseMethod::Ifm, 1).with_ifm_velocity(Some(IfmVelocity::Denoiser));
    let velocity = Velocity {
        net: &net,
        config: &config,
    };
    for t in [config.t_min, 0.05, config.t_max] {
        let ts = Tensor::<B, 1>::full([7], t, &dev);
        let v = to_vec(velocity.forward(u.clone(), ts.clone()));
        let f = to_vec(consistency_function(
            &net,
            u.clone(),
            ts.clone(),
            config.t_min,
            config.sigma_data,
        ));
        let endpoint: Vec<f32> = to_vec(u.clone())
            .iter()
            .zip(&v)
            .map(|(x, v)| x - t as f32 * v)
            .collect();
        for (a, b) in endpoint.iter().zip(&f) {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "t = {t}: {a} vs {b}"
            );
        }
        if t == config.t_min {
            assert!(v.iter().all(|x| *x == 0.0), "v(u, t_min) = {v:?}");
        }
    }
    let direct = config.with_ifm_velocity(None);
    let ts = Tensor::<B, 1>::full([7], 0.05, &dev);
    let v = Velocity {
        net: &net,
        config: &direct,
    };
    assert_eq!(
        to_vec(v.forward(u.clone(), ts.clone())),
        to_vec(net.forward(u, ts))
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

/// The inverse-flow paper's toy metric (its reference code's `TrainLoop.evaluate`): for each
/// point the PSNR with peak 1 of its own mean squared error over the coordinates,
/// `−10 log₁₀(mean_j (p_ij − t_ij)²)`, averaged over the points (`d` coordinates each). The
/// mean of per-point logarithms rewards the many nearly exact points far more than one PSNR of
/// the overall MSE does: it is how the paper's toy reaches ≈ 31.9 dB where the posterior
/// mean's overall PSNR (range 2) is 25.1 dB.
fn mean_per_point_psnr(pred: &[f32], truth: &[f32], d: usize) -> f64 {
    let points = pred.len() / d;
    pred.chunks_exact(d)
        .zip(truth.chunks_exact(d))
        .map(|(p, t)| meshflow_geometry::metrics::psnr(p, t, 1.0, None).unwrap())
        .sum::<f64>()
        / points as f64
}

/// What one toy run scored on its fresh test set.
struct ToyScores {
    /// PSNR (overall MSE, data range 2) of the noisy input.
    noisy: f64,
    /// PSNR (overall MSE, data range 2) of the denoiser's output.
    denoised: f64,
    /// The paper's per-point metric ([`mean_per_point_psnr`]) of the noisy input.
    noisy_per_point: f64,
    /// The paper's per-point metric of the denoiser's output.
    denoised_per_point: f64,
    /// Output std / clean std per coordinate.
    std_ratio: [f32; 2],
    seconds: f64,
}

/// Trains on the noisy toy and scores the denoiser on a fresh test set.
fn train_toy(config: InverseFlowConfig, train_points: usize) -> ToyScores {
    let dev = Default::default();
    let sigma = 0.2;
    let mut rng = StdRng::seed_from_u64(11);
    let noise = gaussian(sigma);
    let clean = circle_points(train_points, &mut rng);
    let noisy = SignalDataset::new(noise(&clean, &mut rng), train_points, 2).unwrap();
    let start = Instant::now();
    let mut trainer = InverseFlowTrainer::<AB, _>::new(config, noise, &noisy, None, &dev).unwrap();
    trainer.run(|_| ControlFlow::Continue(())).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    // Fresh test set.
    let test_clean = circle_points(2000, &mut rng);
    let test_noisy = gaussian(sigma)(&test_clean, &mut rng);
    let x1 = util::tensor2::<B>(test_noisy.clone(), 2000, 2, &dev);
    let out = to_vec(trainer.denoiser().denoise(x1));
    let psnr = |p: &[f32]| meshflow_geometry::metrics::psnr(p, &test_clean, 2.0, None).unwrap();
    ToyScores {
        noisy: psnr(&test_noisy),
        denoised: psnr(&out),
        noisy_per_point: mean_per_point_psnr(&test_noisy, &test_clean, 2),
        denoised_per_point: mean_per_point_psnr(&out, &test_clean, 2),
        std_ratio: [0, 1].map(|j| std_of_column(&out, 2, j) / std_of_column(&test_clean, 2, j)),
        seconds,
    }
}

/// The toy's checks shared by both methods: the noisy input scores what σ = 0.2 gives, the
/// denoiser reaches `min_psnr` dB of overall PSNR and `min_per_point` dB in the paper's
/// per-point metric, and it does not collapse (per-coordinate std within 15 % of the clean
/// data's; a collapsed map gives 0).
fn check_toy(name: &str, r: &ToyScores, min_psnr: f64, min_per_point: f64) {
    eprintln!(
        "{name} toy: noisy {:.2} dB → {:.2} dB (per-point metric {:.2} → {:.2} dB); std ratio \
         {:?}; {:.1} s",
        r.noisy, r.denoised, r.noisy_per_point, r.denoised_per_point, r.std_ratio, r.seconds
    );
    assert!((r.noisy - 20.0).abs() < 0.5, "noisy PSNR {}", r.noisy);
    // Per point the noise's MSE is σ² E with E ~ Exp(1): E[−10 log₁₀(σ² E)] = −10 log₁₀ σ² +
    // 10 γ / ln 10 = 13.98 + 2.51 dB (γ Euler's constant).
    assert!(
        (r.noisy_per_point - 16.49).abs() < 0.3,
        "noisy per-point PSNR {}",
        r.noisy_per_point
    );
    assert!(
        r.denoised >= min_psnr,
        "{name} reached only {:.2} dB",
        r.denoised
    );
    assert!(
        r.denoised_per_point >= min_per_point,
        "{name} reached only {:.2} dB in the per-point metric",
        r.denoised_per_point
    );
    for q in r.std_ratio {
        assert!(
            (q - 1.0).abs() < 0.15,
            "output/clean std ratio {:?}",
            r.std_ratio
        );
    }
}

/// The paper's toy (8 points on the unit circle, σ = 0.2), scored two ways on a fresh test set.
///
/// PSNR of the overall MSE with the clean data's range 2 — reference levels (Monte Carlo,
/// 2·10⁵ draws): noisy input 20.0 dB; nearest circle point 23.9 dB; the posterior mean (the
/// MMSE optimum, which nothing trained without clean data can beat) 25.1 dB.
///
/// The paper's own metric ([`mean_per_point_psnr`], with which its reference code reports
/// ≈ 31.9 dB on its training points): the noisy input scores 16.5 dB; issue #5 asks for
/// ≥ 25 dB.
///
/// Training goes through two phases: within ≈ 1500 steps the outputs reach the ring (≈ 21 dB
/// per point, 22.7 dB overall) and stay there while ICM's fixed-point iteration slowly
/// concentrates them on the 8 points; then, between ≈ 3500 and 7000 steps depending on the
/// seed, they collapse onto the points and the per-point metric jumps to 27–29 dB (5 seeds,
/// `toy_tuning`, see `docs/benchmarks.md`). 8000 steps of a 64-wide network (≈ 1 min in the
/// dev profile) are past that jump for every seed tried, so this test asserts issue #5's
/// 25 dB per point and ≥ 24 dB overall (within 1.1 dB of the MMSE bound), where the first
/// phase alone gives ≈ 21 / 22.7 dB and an untrained or collapsed network ≤ 20 dB.
///
/// Also the non-collapse check: the objective has a degenerate constant solution, so the
/// outputs must keep the spread of the clean data.
#[test]
fn icm_denoises_the_circle_toy_without_collapsing() {
    check_toy(
        "ICM",
        &train_toy(toy_config(InverseMethod::Icm, 8000), 4000),
        24.0,
        25.0,
    );
}

/// IFM on the same toy with a small budget: the first phase only (the ring, ≈ 19.5 dB per
/// point). IFM reaches the second phase too, but later and less predictably than ICM (of three
/// seeds, one jumps between 6400 and 12 800 steps and scores 30.3 dB per point at 16 000, one
/// is midway at 16 000 with 24.5 dB, one still on the ring with 22.0 dB; `docs/benchmarks.md`),
/// beyond a test budget, with a training step 2.6× ICM's (it also runs the 10-step ODE solve).
#[test]
fn ifm_denoises_the_circle_toy_without_collapsing() {
    check_toy(
        "IFM",
        &train_toy(toy_config(InverseMethod::Ifm, 600), 4000),
        21.5,
        18.5,
    );
}

/// The toy with the settings of the paper's reference notebook (8000 noisy points, batch 1000,
/// 3200 steps at lr 1e-3, σ_d 0.7, t_max 0.2, a 256-wide network), both methods, both metrics;
/// a benchmark, not a test: `cargo test -p meshflow-flows --release --lib -- --ignored
/// toy_with_reference_settings --nocapture`.
#[test]
#[ignore = "benchmark: minutes on a CPU"]
fn toy_with_reference_settings() {
    for method in [InverseMethod::Icm, InverseMethod::Ifm] {
        let config = InverseFlowConfig::new(
            InverseFlowConfig::network(2)
                .with_hidden(256)
                .with_blocks(2)
                .with_seed(1),
        )
        .with_method(method)
        .with_sigma_data(0.7)
        .with_steps(3200)
        .with_batch_size(1000)
        .with_learning_rate(1e-3)
        .with_seed(3);
        let r = train_toy(config, 8000);
        eprintln!(
            "{method:?}, reference settings: noisy {:.2} → {:.2} dB; per-point metric {:.2} → \
             {:.2} dB; std ratio {:?}; {:.0} s",
            r.noisy, r.denoised, r.noisy_per_point, r.denoised_per_point, r.std_ratio, r.seconds
        );
    }
}

/// The gain `g` of the population fixed point of ICM for Gaussian data `N(μ, s²)` and
/// Gaussian noise `σ²` on the grid `ts` (the map is `μ + g (x₁ − μ)`). With `f_k(x) = c_k x`
/// (`c_0 = 1`, the boundary condition) each grid step regresses onto a conditional expectation
/// along the path `x̂₀ + (t/t_max) σ ε`, `x̂₀ ~ N(0, s_q²)`:
/// `c_{k+1} = c_k (s_q² + r_k r_{k+1} σ²)/(s_q² + r_{k+1}² σ²)`, `r = t/t_max`; self-consistency
/// requires `s_q² = g² (s² + σ²)`, iterated to convergence.
fn icm_gaussian_fixed_point(s: f64, sigma: f64, ts: &[f64]) -> f64 {
    let t_max = ts[ts.len() - 1];
    let r: Vec<f64> = ts.iter().map(|t| t / t_max).collect();
    let (mut sq2, mut g) = (s * s, 1.0);
    for _ in 0..500 {
        g = 1.0;
        for k in 0..r.len() - 1 {
            g *= (sq2 + r[k] * r[k + 1] * sigma * sigma) / (sq2 + r[k + 1].powi(2) * sigma * sigma);
        }
        sq2 = g * g * (s * s + sigma * sigma);
    }
    g
}

/// Gaussian data `x₀ ~ N(μ, diag(s²))`, Gaussian noise σ = 0.3, trained on noisy data only.
/// The learned map is affine per coordinate; its gain must match the analytic ICM fixed point
/// (between the Wiener filter `s²/(s² + σ²)` and the transport map `s/√(s² + σ²)`, see the
/// module docs) within 0.04 — which tells it apart from both for the coordinate with s = 0.2
/// (fixed point 0.40, Wiener 0.31, transport 0.55) — and its MSE against the clean signals must
/// be within 15 % of the posterior mean's (the analytic fixed point is 4–7 % above it; the noisy
/// input is 36–225 % above it).
#[test]
fn icm_matches_the_analytic_gaussian_fixed_point_near_the_wiener_filter() {
    let dev = Default::default();
    let mu = [0.3f32, -0.2, 0.5, 0.0];
    let s = [0.5f32, 0.3, 0.2, 0.4];
    let sigma = 0.3f32;
    let mut rng = StdRng::seed_from_u64(5);
    let draw = |n: usize, rng: &mut StdRng| -> Vec<f32> {
        (0..n * 4)
            .map(|i| mu[i % 4] + s[i % 4] * rng.sample::<f32, _>(StandardNormal))
            .collect()
    };
    let clean = draw(4000, &mut rng);
    let noise = gaussian(sigma);
    let noisy = SignalDataset::new(noise(&clean, &mut rng), 4000, 4).unwrap();
    let config = InverseFlowConfig::new(
        InverseFlowConfig::network(4)
            .with_hidden(64)
            .with_blocks(1)
            .with_time_embedding(32),
    )
    .with_steps(1500)
    .with_batch_size(256)
    .with_learning_rate(2e-3)
    .with_ema_decay(0.99)
    .with_seed(9);
    let ts = config.grid();
    let mut trainer = InverseFlowTrainer::<AB, _>::new(config, noise, &noisy, None, &dev).unwrap();
    trainer.run(|_| ControlFlow::Continue(())).unwrap();

    let n = 4000;
    let test_clean = draw(n, &mut rng);
    let test_noisy = gaussian(sigma)(&test_clean, &mut rng);
    let out = to_vec(trainer.denoiser().denoise(util::tensor2::<B>(
        test_noisy.clone(),
        n,
        4,
        &dev,
    )));
    let (mut mse_model, mut mse_wiener) = (0.0f64, 0.0f64);
    for j in 0..4 {
        let (m, sj, sg) = (mu[j] as f64, s[j] as f64, sigma as f64);
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for i in 0..n {
            let x = test_noisy[4 * i + j] as f64 - m;
            sxy += x * (out[4 * i + j] as f64 - m);
            sxx += x * x;
            let wiener = m + sj * sj / (sj * sj + sg * sg) * x;
            mse_wiener += (wiener - test_clean[4 * i + j] as f64).powi(2);
            mse_model += (out[4 * i + j] as f64 - test_clean[4 * i + j] as f64).powi(2);
        }
        let gain = sxy / sxx;
        let fixed = icm_gaussian_fixed_point(sj, sg, &ts);
        eprintln!(
            "dim {j}: learned gain {gain:.3}, ICM fixed point {fixed:.3}, Wiener {:.3}, \
             transport {:.3}",
            sj * sj / (sj * sj + sg * sg),
            sj / (sj * sj + sg * sg).sqrt()
        );
        assert!(
            (gain - fixed).abs() < 0.07,
            "dim {j}: gain {gain} vs fixed point {fixed}"
        );
    }
    let ratio = mse_model / mse_wiener;
    eprintln!("MSE(ICM) / MSE(Wiener) = {ratio:.3}");
    assert!(ratio < 1.15, "MSE(ICM) / MSE(Wiener) = {ratio}");
}

fn resume_config() -> InverseFlowConfig {
    InverseFlowConfig::new(
        InverseFlowConfig::network(3)
            .with_hidden(16)
            .with_blocks(1)
            .with_time_embedding(8),
    )
    .with_method(InverseMethod::Ifm)
    .with_ode_steps(3)
    .with_steps(12)
    .with_batch_size(8)
    .with_final_lr_fraction(Some(0.2))
    .with_checkpoint_every(4)
    .with_seed(4)
}

#[test]
fn resumed_run_equals_uninterrupted_run() {
    let dev = Default::default();
    let mut rng = StdRng::seed_from_u64(6);
    let data =
        SignalDataset::new((0..3 * 64).map(|_| rng.random::<f32>()).collect(), 64, 3).unwrap();
    let probe = util::tensor2::<B>((0..30).map(|i| i as f32 / 30.0).collect(), 10, 3, &dev);

    let (a, b, dir_b) = check_resumed_run(
        &Interruption {
            name: "inverse",
            kill_at: 10,
            resumed_at: 8,
            kept: &[8, 12],
            files: MODEL_CHECKPOINT_FILES,
        },
        |dir| {
            InverseFlowTrainer::<AB, _>::new(resume_config(), gaussian(0.1), &data, Some(dir), &dev)
        },
        |dir| InverseFlowTrainer::<AB, _>::resume(dir, gaussian(0.1), &data, &dev),
    );
    let out_a = to_vec(a.denoiser().denoise(probe.clone()));
    assert_eq!(out_a, to_vec(b.denoiser().denoise(probe.clone())));
    // The saved run loads as a denoiser with its configuration (EMA weights).
    let loaded = InverseDenoiser::<B>::load(&dir_b.0, &dev).unwrap();
    assert_eq!(loaded.config().method, InverseMethod::Ifm);
    assert_eq!(to_vec(loaded.denoise(probe.clone())), out_a);
    // A config.json from before the spectral network, the learning-rate schedule and the IFM
    // velocity choice (no `spectral`, `final_lr_fraction` or `ifm_velocity` key) loads as a
    // constant-rate MLP run with the direct velocity.
    let path = dir_b.0.join("config.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let fields = json.as_object_mut().unwrap();
    assert!(fields.remove("spectral").is_some());
    assert_eq!(fields.remove("ifm_velocity"), Some(serde_json::Value::Null));
    assert_eq!(
        fields.remove("final_lr_fraction"),
        Some(serde_json::json!(0.2))
    );
    std::fs::write(&path, json.to_string()).unwrap();
    let old = InverseDenoiser::<B>::load(&dir_b.0, &dev).unwrap();
    assert!(old.config().spectral.is_none());
    assert_eq!(old.config().final_lr_fraction, None);
    assert_eq!(old.config().ifm_velocity, None);
    assert_eq!(to_vec(old.denoise(probe)), out_a);
}

/// Noise on (0, 1) in logit space (the Jacobi set-up): training runs and the denoiser's output
/// stays in (0, 1).
#[test]
fn logit_space_training_stays_in_the_unit_interval() {
    let dev = Default::default();
    let mut rng = StdRng::seed_from_u64(8);
    let data = SignalDataset::new(
        (0..2 * 64)
            .map(|_| 0.05 + 0.9 * rng.random::<f32>())
            .collect(),
        64,
        2,
    )
    .unwrap();
    let beta = |x0: &[f32], rng: &mut dyn RngCore| -> Vec<f32> {
        x0.iter()
            .map(|v| (v + 0.05 * rng.sample::<f32, _>(StandardNormal)).clamp(1e-3, 1.0 - 1e-3))
            .collect()
    };
    let config = InverseFlowConfig::new(InverseFlowConfig::network(2).with_hidden(16))
        .with_space(FlowSpace::Logit)
        .with_steps(20)
        .with_batch_size(16);
    let mut t =
        InverseFlowTrainer::<AB, _>::new(config, InLogitSpace(beta), &data, None, &dev).unwrap();
    t.run(|p| {
        assert!(p.loss.is_finite());
        ControlFlow::Continue(())
    })
    .unwrap();
    let out = to_vec(t.denoiser().denoise(data.to_tensor::<B>(&dev)));
    assert!(out.iter().all(|v| *v > 0.0 && *v < 1.0));
}

/// Tuning aid (not a check): `TOY="method=icm steps=1500 hidden=128 blocks=2 lr=1e-3 batch=256
/// sigma_d=0.5 final_lr=0.1 ema=0.99 points=4000 velocity=denoiser" cargo test … toy_tuning --
/// --ignored`
/// (any key may be left out); prints both toy metrics five times during training.
#[test]
#[ignore]
fn toy_tuning() {
    let spec = std::env::var("TOY").unwrap_or_default();
    let get = |key: &str, default: &str| -> String {
        spec.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=').map(str::to_owned))
            .unwrap_or_else(|| default.to_owned())
    };
    let num = |key: &str, default: &str| -> f64 { get(key, default).parse().unwrap() };
    let method = match get("method", "icm").as_str() {
        "ifm" => InverseMethod::Ifm,
        _ => InverseMethod::Icm,
    };
    let steps = num("steps", "500") as usize;
    let points = num("points", "4000") as usize;
    let final_lr = get("final_lr", "none").parse::<f64>().ok();
    let cfg = InverseFlowConfig::new(
        InverseFlowConfig::network(2)
            .with_hidden(num("hidden", "64") as usize)
            .with_blocks(num("blocks", "1") as usize)
            .with_time_embedding(32)
            .with_seed(num("net_seed", "1") as u64),
    )
    .with_method(method)
    .with_steps(steps)
    .with_batch_size(num("batch", "256") as usize)
    .with_learning_rate(num("lr", "1e-3"))
    .with_final_lr_fraction(final_lr)
    .with_sigma_data(num("sigma_d", "0.5"))
    .with_t_max(num("t_max", "0.2"))
    .with_ema_decay(num("ema", "0.99"))
    .with_huber_factor(num("huber", "0.00054"))
    .with_ode_steps(num("ode_steps", "10") as usize)
    .with_ifm_velocity(match get("velocity", "direct").as_str() {
        "denoiser" => Some(IfmVelocity::Denoiser),
        _ => None,
    })
    .with_seed(num("seed", "3") as u64);
    let dev = Default::default();
    let mut rng = StdRng::seed_from_u64(11);
    let noise = gaussian(0.2);
    let clean = circle_points(points, &mut rng);
    let noisy = SignalDataset::new(noise(&clean, &mut rng), points, 2).unwrap();
    let test_clean = circle_points(2000, &mut rng);
    let test_noisy = gaussian(0.2)(&test_clean, &mut rng);
    let mut trainer = InverseFlowTrainer::<AB, _>::new(cfg, noise, &noisy, None, &dev).unwrap();
    let start = Instant::now();
    let mut done = 0;
    while done < steps {
        let stop = (done + steps / 5).min(steps);
        trainer
            .run(|p| {
                if p.step >= stop {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
        done = trainer.step();
        let x1 = util::tensor2::<B>(test_noisy.clone(), 2000, 2, &dev);
        let out = to_vec(trainer.denoiser().denoise(x1));
        let psnr = meshflow_geometry::metrics::psnr(&out, &test_clean, 2.0, None).unwrap();
        eprintln!(
            "{spec} step {done}: {psnr:.2} dB, per-point {:.2} dB, loss {:?}, {:.1} ms/step",
            mean_per_point_psnr(&out, &test_clean, 2),
            trainer.last_loss(),
            start.elapsed().as_secs_f64() * 1e3 / done as f64
        );
    }
}

/// A spectral configuration on an icosphere of `level` with `modes` eigenmodes.
fn spectral_setup(
    level: u32,
    modes: usize,
    coefficient_mlp: bool,
) -> (
    meshflow_geometry::sphere::SphereGrid,
    SpectralBasis,
    InverseFlowConfig,
) {
    let grid = meshflow_geometry::sphere::SphereGrid::icosphere(level);
    let spectral = SpectralFilterConfig::new()
        .with_modes(modes)
        .with_time_hidden(16)
        .with_coefficient_mlp(coefficient_mlp);
    let config = InverseFlowConfig::new(
        InverseFlowConfig::network(grid.num_vertices())
            .with_hidden(32)
            .with_blocks(1)
            .with_time_embedding(16)
            .with_seed(1),
    )
    .with_spectral(Some(spectral.clone()));
    let basis = spectral.basis(grid.mesh()).unwrap();
    (grid, basis, config)
}

/// A fresh spectral filter is `F = 0`: ICM denoises to `c_skip(t_max)·x`, IFM is the identity,
/// for any input (in or out of the span of the modes). Training moves it away from zero.
#[test]
fn fresh_spectral_filter_is_zero_so_icm_is_the_skip_and_ifm_the_identity() {
    let dev = Default::default();
    let (grid, basis, config) = spectral_setup(2, 16, true);
    let v = grid.num_vertices();
    let mut rng = StdRng::seed_from_u64(2);
    let x = util::randn::<B, _>(&mut rng, 5, v, &dev);
    let net = config.init_network::<B>(Some(&basis), &dev).unwrap();
    assert!(matches!(net, InverseNetwork::Spectral(_)));
    let t = Tensor::<B, 1>::full([5], 0.1, &dev);
    assert!(to_vec(net.forward(x.clone(), t)).iter().all(|&o| o == 0.0));
    let icm = InverseDenoiser::new(net.clone(), config.clone()).unwrap();
    let (skip, _) = consistency_scalings(config.t_max, config.t_min, config.sigma_data);
    for (o, i) in to_vec(icm.denoise(x.clone())).iter().zip(to_vec(x.clone())) {
        assert!((o - skip as f32 * i).abs() < 1e-6, "{o} vs {skip}·{i}");
    }
    let ifm = InverseDenoiser::new(net, config.clone().with_method(InverseMethod::Ifm)).unwrap();
    assert_eq!(to_vec(ifm.denoise(x.clone())), to_vec(x));
    // A spectral configuration without its basis, or with another mesh's, is an error; so is
    // a network of the other kind.
    assert!(config.init_network::<B>(None, &dev).is_err());
    let other = SpectralBasis::from_mesh(
        meshflow_geometry::sphere::SphereGrid::icosphere(1).mesh(),
        16,
        &Default::default(),
    )
    .unwrap();
    assert!(config.init_network::<B>(Some(&other), &dev).is_err());
    let mlp = InverseFlowConfig::network(v).init::<B>(&dev);
    assert!(InverseDenoiser::new(InverseNetwork::Mlp(mlp), config).is_err());
}

/// Smooth random fields on an icosphere (degree ≤ 3: the 16 lowest eigenmodes, amplitudes
/// falling with λ, mean 0.5) plus white noise σ = 0.1, 64 noisy training fields. ICM with a
/// spectral filter of 25 modes must beat the noisy input by ≥ 7 dB on fresh fields (projecting
/// onto the 16 true modes would give ~16 dB; an untrained filter is the skip, ≤ the noisy
/// input) and must not collapse: the output keeps ≥ 80 % of the clean fields' spread around
/// their mean. The run is saved and reloads on the mesh to the same denoiser.
#[test]
fn icm_with_the_spectral_filter_denoises_smooth_sphere_fields() {
    let dev = Default::default();
    let (grid, basis, config) = spectral_setup(3, 25, false);
    let v = grid.num_vertices();
    let sigma = 0.1f32;
    let mut rng = StdRng::seed_from_u64(21);
    let draw = |n: usize, rng: &mut StdRng| -> Vec<f32> {
        let mut out = vec![0.5f32; n * v];
        for s in 0..n {
            for k in 1..16 {
                let a = 0.6 / (1.0 + basis.values[k]).sqrt() * rng.sample::<f64, _>(StandardNormal);
                for r in 0..v {
                    out[s * v + r] += (a * basis.vectors[k * v + r]) as f32;
                }
            }
        }
        out
    };
    let clean = draw(64, &mut rng);
    let noise = gaussian(sigma);
    let noisy = SignalDataset::new(noise(&clean, &mut rng), 64, v).unwrap();
    let config = config
        .with_steps(300)
        .with_batch_size(32)
        .with_learning_rate(3e-3)
        .with_ema_decay(0.95)
        .with_checkpoint_every(0)
        .with_seed(5);
    let dir = TempDir::new("inverse-spectral");
    let start = Instant::now();
    let mut trainer = InverseFlowTrainer::<AB, _>::new_with_basis(
        config,
        Some(&basis),
        noise,
        &noisy,
        Some(&dir.0),
        &dev,
    )
    .unwrap();
    trainer.run(|_| ControlFlow::Continue(())).unwrap();
    let n = 32;
    let test_clean = draw(n, &mut rng);
    let test_noisy = gaussian(sigma)(&test_clean, &mut rng);
    let x1 = util::tensor2::<B>(test_noisy.clone(), n, v, &dev);
    let out = to_vec(trainer.denoiser().denoise(x1.clone()));
    let psnr = |p: &[f32]| meshflow_geometry::metrics::psnr(p, &test_clean, 1.0, None).unwrap();
    let spread = |p: &[f32]| {
        let m = p.iter().sum::<f32>() / p.len() as f32;
        (p.iter().map(|a| (a - m).powi(2)).sum::<f32>() / p.len() as f32).sqrt()
    };
    let (p_noisy, p_out) = (psnr(&test_noisy), psnr(&out));
    let ratio = spread(&out) / spread(&test_clean);
    eprintln!(
        "spectral ICM: noisy {p_noisy:.2} dB → {p_out:.2} dB, spread ratio {ratio:.3}, {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert!(p_out >= p_noisy + 7.0, "{p_noisy:.2} dB → {p_out:.2} dB");
    assert!(ratio > 0.8, "output/clean spread {ratio}");
    let loaded = InverseDenoiser::<B>::load_on_mesh(&dir.0, grid.mesh(), &dev).unwrap();
    assert!(loaded.config().spectral.is_some());
    assert_eq!(to_vec(loaded.denoise(x1)), out);
    // Without the mesh the spectral run cannot be loaded.
    assert!(InverseDenoiser::<B>::load(&dir.0, &dev).is_err());
}

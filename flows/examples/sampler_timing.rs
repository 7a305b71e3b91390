//! Speed of the amortised sampler against the JAX reference of issue #4 (same architecture:
//! K = 8 flow steps, coupling width D/8): one batched pass of 64 posterior samples for one
//! measurement and a single sample, each with burn's backend and with the host engine
//! [`CpuRealNvp`] (on one thread and on every core), and one amortised VI training step (flow
//! forward, frozen MLP prior in the ELBO, backward, Adam) at 64 flow rows, for D = 1890 (the
//! res3 bunny, padded) and D = 4140. Prints a Markdown table; every figure is the median of
//! `rounds` timed calls after a warm-up.
//!
//! Run: `cargo run --release -p meshflow-flows --example sampler_timing [-- ROUNDS]`
//! (add `--features simd,multi-threads` for the ndarray backend's SIMD and threaded kernels).
//! `scripts/jax_reference_timing.py` times the same architecture and work with JAX (XLA), so the
//! two can be compared on one machine.

use std::ops::ControlFlow;
use std::time::Instant;

use burn::backend::Autodiff;
#[cfg(not(feature = "flex"))]
use burn::backend::NdArray;
use burn::module::Module;
use burn::tensor::Tensor;
use meshflow_flows::prelude::*;
use meshflow_flows::util;
use rand::{rngs::StdRng, SeedableRng};

#[cfg(not(feature = "flex"))]
type B = NdArray<f32>;
#[cfg(feature = "flex")]
type B = burn::backend::Flex;
type AB = Autodiff<B>;

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn median_ms(mut f: impl FnMut(), rounds: usize) -> f64 {
    f(); // warm-up
    median(
        (0..rounds)
            .map(|_| {
                let t0 = Instant::now();
                f();
                t0.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    )
}

fn main() -> meshflow_flows::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let dev = Default::default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut rng = StdRng::seed_from_u64(0);
    println!("| D | what | setting | median ms |");
    println!("|---|---|---|---|");
    for d in [1890, 4140] {
        let flow_config = ConditionalRealNvpConfig::new(d, 2 * d);
        let flow = flow_config.init::<B>(&dev);
        let ms = median_ms(
            || {
                let _ = CpuRealNvp::from_flow(&flow);
            },
            rounds.min(3),
        );
        println!("| {d} | CpuRealNvp::from_flow | the weights copied out of burn, once per run | {ms:.1} |");
        let y: Tensor<B, 1> = util::randn::<B, _>(&mut rng, 1, d, &dev).reshape([d]);
        let mask = Tensor::<B, 1>::ones([d], &dev);
        for n in [64, 1] {
            let ms = median_ms(
                || {
                    let x = sample_posterior(&flow, y.clone(), mask.clone(), n, &mut rng);
                    let _ = x.into_data(); // forces the computation
                },
                rounds,
            );
            println!("| {d} | sample, burn | {n} sample(s) of one measurement | {ms:.1} |");
            let (yv, mv) = (util::to_vec(y.clone()), util::to_vec(mask.clone()));
            for threads in [1, cores] {
                let engine = CpuRealNvp::from_flow(&flow).with_threads(threads);
                let ms = median_ms(
                    || {
                        engine
                            .sample_posterior(&yv, &mv, n, &mut rng)
                            .expect("valid shapes");
                    },
                    rounds,
                );
                println!(
                    "| {d} | sample, CpuRealNvp, {threads} thread(s) | {n} sample(s) of one \
                     measurement | {ms:.1} |"
                );
            }
        }
        let prior = MlpScoreConfig::new(d).init::<AB>(&dev).no_grad();
        let data = SignalDataset::new(
            util::to_vec(util::randn::<B, _>(&mut rng, 256, d, &dev)),
            256,
            d,
        )?;
        for (batch, z_per_y) in [(64, 1), (16, 4)] {
            let config = SamplerTrainConfig::new(flow_config.clone())
                .with_steps(rounds + 1)
                .with_batch_size(batch)
                .with_z_per_y(z_per_y)
                .with_checkpoint_every(0);
            let mut trainer = AmortizedTrainer::new(config, prior.clone(), &data, None, &dev)?;
            // The callback runs after every step: the differences of its timestamps are step
            // times (the first step is the warm-up).
            let mut stamps = vec![Instant::now()];
            trainer.run(|_| {
                stamps.push(Instant::now());
                ControlFlow::Continue(())
            })?;
            let ms = median(
                stamps
                    .windows(2)
                    .skip(1)
                    .map(|w| (w[1] - w[0]).as_secs_f64() * 1e3)
                    .collect(),
            );
            println!(
                "| {d} | VI training step | {batch} y × {z_per_y} z = 64 flow rows, MLP prior \
                 hidden 256 | {ms:.1} |"
            );
        }
    }
    Ok(())
}

//! Time per Adam step on the ndarray CPU backend for the benchmark MLP 1890 → 512 → 512 → 1890
//! (SiLU) at batch 64, with burn's Adam and with `FusedAdamW` side by side (two rounds,
//! alternating), and for a DSM training step of the `MlpScore` prior of the same size.
//!
//! Run: `cargo run --release -p meshflow-flows --example adam_step_timing`
//! (or without `--release`: the dev profile builds dependencies with opt-level 3 already).

use std::ops::ControlFlow;
use std::time::Instant;

use burn::backend::{Autodiff, NdArray};
use burn::module::Module;
use burn::nn::Linear;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::{activation::silu, backend::Backend, Tensor};
use meshflow_flows::optim::fused_adamw;
use meshflow_flows::prelude::*;
use meshflow_flows::util::{self, LinearInit};
use rand::{rngs::StdRng, SeedableRng};

type AB = Autodiff<NdArray<f32>>;

#[derive(Module, Debug)]
struct Mlp<B: Backend> {
    l1: Linear<B>,
    l2: Linear<B>,
    l3: Linear<B>,
}

impl<B: Backend> Mlp<B> {
    fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.l3
            .forward(silu(self.l2.forward(silu(self.l1.forward(x)))))
    }
}

/// Mean milliseconds per training step (forward, backward, optimiser) of a fresh MLP under
/// `optim`, after a warm-up.
fn ms_per_step<O: Optimizer<Mlp<AB>, AB>>(mut optim: O, d: usize, h: usize, batch: usize) -> f64 {
    let dev = Default::default();
    let mut rng = StdRng::seed_from_u64(0);
    let mut model = Mlp::<AB> {
        l1: util::linear(&mut rng, d, h, LinearInit::Uniform, &dev),
        l2: util::linear(&mut rng, h, h, LinearInit::Uniform, &dev),
        l3: util::linear(&mut rng, h, d, LinearInit::Uniform, &dev),
    };
    let x = util::randn::<AB, _>(&mut rng, batch, d, &dev);
    let y = util::randn::<AB, _>(&mut rng, batch, d, &dev);
    let (warmup, steps) = (3, 20);
    let mut start = Instant::now();
    for i in 0..warmup + steps {
        if i == warmup {
            start = Instant::now();
        }
        let r = model.forward(x.clone()) - y.clone();
        let loss = (r.clone() * r).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model, grads);
    }
    start.elapsed().as_secs_f64() / steps as f64 * 1e3
}

fn main() -> meshflow_flows::Result<()> {
    let dev = Default::default();
    let (d, h, batch) = (1890, 512, 64);
    let params = 2 * d * h + h * h + 2 * h + d;
    let adam = AdamWConfig::new().with_weight_decay(0.0);
    for round in 0..2 {
        println!(
            "MLP {d}->{h}->{h}->{d}, batch {batch}, {params} params, round {round}: \
             {:.1} ms per step with burn's Adam, {:.1} ms with FusedAdamW",
            ms_per_step(AdamConfig::new().init::<AB, Mlp<AB>>(), d, h, batch),
            ms_per_step(fused_adamw::<AB, Mlp<AB>>(&adam), d, h, batch),
        );
    }
    let (warmup, steps) = (3, 20);
    let mut rng = StdRng::seed_from_u64(0);

    // One DSM step of the score prior (1 residual block = two 512×512 layers + time MLP).
    let data = SignalDataset::new(
        util::to_vec(util::randn::<AB, _>(&mut rng, 256, d, &dev)),
        256,
        d,
    )?;
    let config = TrainConfig::new(MlpScoreConfig::new(d).with_hidden(h).with_blocks(1))
        .with_steps(warmup + steps)
        .with_batch_size(batch);
    let mut trainer = ScorePriorTrainer::<AB>::new(config, &data, None, &dev)?;
    let mut t0 = Instant::now();
    trainer.run(|p| {
        if p.step == warmup {
            t0 = Instant::now();
        }
        ControlFlow::Continue(())
    })?;
    let per_step = t0.elapsed().as_secs_f64() / steps as f64;
    println!(
        "MlpScore D={d}, hidden {h}, 1 block, batch {batch}, {} params: {:.1} ms per DSM+Adam+EMA step",
        trainer.model().num_params(),
        per_step * 1e3
    );
    Ok(())
}

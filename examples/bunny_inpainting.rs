//! Bunny-MNIST inpainting (the paper's mesh task): MNIST digits projected onto the 1889-vertex
//! Stanford bunny, 30 % of the vertices hidden and σ = 0.1 noise on the rest; the amortized
//! sampler's posterior mean against the harmonic fill.
//!
//! Run: `cargo run --example bunny_inpainting` after `meshflow fetch mnist` and
//! `meshflow fetch bunny` (or with `$MESHFLOW_DATA` pointing at a folder holding
//! `bunny/bun_zipper_res3.ply` and `mnist/train-images-idx3-ubyte.gz`).

use std::ops::ControlFlow;

use burn::backend::{Autodiff, NdArray};
use burn::module::Module;
use meshflow::builtin::find_data_file;
use meshflow::datasets::bunny_mnist::{
    bunny_placement, load_mesh, MeshImageDataset, BUNNY_RES3, MNIST_TRAIN_IMAGES,
};
use meshflow::datasets::tasks::BUNNY_MNIST;
use meshflow::flows::classical::{hidden_rmse, log_grid, Degradation, HarmonicFill, Reconstructor};
use meshflow::flows::prelude::*;
use meshflow::flows::util;
use rand::{rngs::StdRng, SeedableRng};

type B = Autodiff<NdArray<f32>>;

fn main() -> anyhow::Result<()> {
    let (Some(mesh_path), Some(images)) = (
        find_data_file(BUNNY_RES3),
        find_data_file(MNIST_TRAIN_IMAGES),
    ) else {
        println!(
            "this example needs {BUNNY_RES3} and {MNIST_TRAIN_IMAGES}: run `meshflow fetch bunny` \
             and `meshflow fetch mnist` (or set MESHFLOW_DATA)"
        );
        return Ok(());
    };
    let device = Default::default();
    let digits = MeshImageDataset::from_mnist(
        load_mesh(&mesh_path)?,
        &images,
        None::<&std::path::Path>,
        0..520,
        bunny_placement(),
    )?;
    let (train, test) = (&digits.fields()[..512], &digits.fields()[512..]);
    let data = SignalDataset::from_rows(train)?;
    let dim = data.dim();

    let prior_config = TrainConfig::new(
        // Work in (at most 512) principal directions of the training fields; the sampler
        // below maps its output through the same basis.
        MlpScoreConfig::new(dim)
            .with_hidden(256)
            .with_data_basis_rank(Some(512.min(dim))),
    )
    .with_steps(400)
    .with_learning_rate(1e-3)
    .with_checkpoint_every(0);
    let mut prior = ScorePriorTrainer::<B>::new(prior_config, &data, None, &device)?;
    prior.run(|_| ControlFlow::Continue(()))?;

    let task = BUNNY_MNIST;
    let config = SamplerTrainConfig::new(ConditionalRealNvpConfig::new(dim, 2 * dim).with_steps(4))
        .with_noise_std(task.noise_sigma)
        .with_observed_fraction(1.0 - task.mask_rate)
        .with_steps(100)
        .with_batch_size(16)
        .with_z_per_y(2)
        .with_checkpoint_every(0);
    let score = prior.model().clone().no_grad();
    let mut sampler = AmortizedTrainer::new(config, score, &data, None, &device)?;
    sampler.run(|_| ControlFlow::Continue(()))?;
    let flow = sampler.sampler();

    let degradation = Degradation::new(task.mask_rate, task.noise_sigma)?;
    let harmonic = HarmonicFill::new(digits.mesh(), 1.0)?;
    let alpha = harmonic.fit_alpha(&train[..16], &degradation, 0, &log_grid(1e-4, 1e2, 13)?)?;
    let harmonic = harmonic.with_alpha(alpha.alpha)?;
    let mut rng = StdRng::seed_from_u64(3);
    for (k, truth) in test.iter().enumerate() {
        let (y, mask) = degradation.apply(truth, &mut rng)?;
        let samples = sample_posterior(
            &flow,
            util::tensor1(y.clone(), &device),
            util::tensor1(mask.as_weights(), &device),
            32,
            &mut rng,
        );
        let mean = util::to_vec(posterior_summary(samples).mean);
        let fill = harmonic.reconstruct(&y, &mask)?.mean;
        println!(
            "digit {k}: hidden RMSE flow {:.4}, harmonic {:.4}",
            hidden_rmse(&mean, truth, &mask)?.unwrap_or(0.0),
            hidden_rmse(&fill, truth, &mask)?.unwrap_or(0.0)
        );
    }
    Ok(())
}

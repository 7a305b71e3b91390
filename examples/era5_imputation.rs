//! ERA5 temperature imputation with the amortized posterior sampler, on the library API
//! (what `meshflow demo` does, in one readable program to copy).
//!
//! Run: `cargo run --example era5_imputation` (offline: uses the ERA5 sample built into
//! meshflow). Prints the hidden-vertex RMSE of the flow's posterior mean and of SPDE–GMRF
//! kriging on one held-out field, and the coverage of the flow's ±2σ band.

use std::ops::ControlFlow;

use burn::backend::{Autodiff, NdArray};
use burn::module::Module;
use meshflow::builtin::resolve_data_source;
use meshflow::datasets::field::{read_variable, FieldSet};
use meshflow::datasets::tasks::ERA5_IMPUTATION;
use meshflow::flows::classical::{
    hidden_rmse, Degradation, GmrfFitOptions, GmrfKriging, MaternParams, Reconstructor, SpdeGmrf,
    StdMethod,
};
use meshflow::flows::prelude::*;
use meshflow::flows::util;
use meshflow::geometry::resample::Resampler;
use meshflow::geometry::signal::Normalisation;
use meshflow::geometry::sphere::SphereGrid;
use rand::{rngs::StdRng, SeedableRng};

type B = Autodiff<NdArray<f32>>;

fn main() -> anyhow::Result<()> {
    let device = Default::default();

    // 1. ERA5 temperature (80 fields on the 3° grid), resampled to 6° to train quickly.
    let var = read_variable(resolve_data_source("era5")?, Some("t"))?;
    let fields = FieldSet::new(&var, None)?;
    let grid = SphereGrid::latlon(31, 60)?;
    let regrid = Resampler::barycentric(fields.grid.mesh(), grid.mesh().positions())?;
    let norm = Normalisation::ERA5_TEMPERATURE;
    let normalised: Vec<Vec<f32>> = fields
        .fields
        .iter()
        .map(|f| {
            let mut v = regrid.apply(f, 1)?;
            norm.apply(&mut v);
            Ok(v)
        })
        .collect::<anyhow::Result<_>>()?;

    // 2. Split by time: all members and levels of one time stay on one side.
    let (train, test) = fields.train_test_split(0.25, 0)?;
    let train_rows: Vec<Vec<f32>> = train.iter().map(|&i| normalised[i].clone()).collect();
    let data = SignalDataset::from_rows(&train_rows)?;
    let dim = data.dim();

    // 3. A VP-SDE prior (an MLP preconditioned in the data's principal basis), then the amortized sampler against it.
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
    let score = prior.model().clone().no_grad();

    let task = ERA5_IMPUTATION;
    let sampler_config =
        SamplerTrainConfig::new(ConditionalRealNvpConfig::new(dim, 2 * dim).with_steps(4))
            .with_noise_std(task.noise_sigma)
            .with_observed_fraction(1.0 - task.mask_rate)
            .with_steps(100)
            .with_batch_size(16)
            .with_z_per_y(2)
            .with_checkpoint_every(0);
    let mut sampler = AmortizedTrainer::new(sampler_config, score, &data, None, &device)?;
    sampler.run(|p| {
        if p.step % 25 == 0 {
            println!("sampler step {} loss {:.1}", p.step, p.loss);
        }
        ControlFlow::Continue(())
    })?;
    let flow = sampler.sampler();

    // 4. One held-out field: hide 60 %, add noise, draw 64 posterior samples in one pass.
    let truth = &normalised[test[0]];
    let degradation = Degradation::new(task.mask_rate, task.noise_sigma)?;
    let mut rng = StdRng::seed_from_u64(1);
    let (y, mask) = degradation.apply(truth, &mut rng)?;
    let samples = sample_posterior(
        &flow,
        util::tensor1(y.clone(), &device),
        util::tensor1(mask.as_weights(), &device),
        64,
        &mut rng,
    );
    let summary = posterior_summary(samples);
    let (mean, std) = (util::to_vec(summary.mean), util::to_vec(summary.std));

    // 5. The classical reference: kriging with a Matérn field fitted on the training fields.
    let params = MaternParams::fit(grid.mesh(), &train_rows, &GmrfFitOptions::default())?.params;
    let kriging = GmrfKriging::new(
        SpdeGmrf::new(grid.mesh(), params)?,
        task.noise_sigma,
        StdMethod::default(),
    )?;
    let krig = kriging.reconstruct(&y, &mask)?;

    let kelvin = norm.offset_scale().1;
    let rmse = |x: &[f32]| -> anyhow::Result<f64> {
        Ok(hidden_rmse(x, truth, &mask)?.unwrap_or(0.0) * kelvin)
    };
    println!(
        "field {}: {}",
        test[0],
        fields.labels[test[0]].time.as_deref().unwrap_or("-")
    );
    println!("flow posterior mean, hidden RMSE {:.3} K", rmse(&mean)?);
    println!(
        "GMRF kriging,        hidden RMSE {:.3} K",
        rmse(&krig.mean)?
    );
    let hidden: Vec<usize> = (0..dim).filter(|&i| !mask.observed()[i]).collect();
    let pick = |v: &[f32]| hidden.iter().map(|&i| v[i]).collect::<Vec<f32>>();
    println!(
        "flow ±2σ coverage of the hidden truth: {:.3}",
        coverage(&pick(truth), &pick(&mean), &pick(&std), 2.0)
    );
    Ok(())
}

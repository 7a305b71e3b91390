//! Learning a denoiser from noisy fields only: the Inverse Consistency Model (ICM) on ERA5
//! temperature with Gaussian noise, compared with heat-kernel smoothing whose time SURE picks
//! (also without clean data). The clean fields are used only to score.
//!
//! Run: `cargo run --example inverse_flow_denoising` (offline: the built-in ERA5 sample).

use std::ops::ControlFlow;

use burn::backend::{Autodiff, NdArray};
use meshflow::builtin::resolve_data_source;
use meshflow::datasets::field::{read_variable, FieldSet};
use meshflow::datasets::noise::{GaussianNoise, NoiseModel};
use meshflow::flows::classical::{heat_denoise, log_grid, sure_heat_time};
use meshflow::flows::inverse::{InverseFlowConfig, InverseFlowTrainer, InverseMethod};
use meshflow::flows::prelude::*;
use meshflow::flows::util;
use meshflow::geometry::metrics::psnr;
use meshflow::geometry::operators::{cotan_laplacian, vertex_lumped_mass_matrix};
use meshflow::geometry::resample::Resampler;
use meshflow::geometry::signal::Normalisation;
use meshflow::geometry::sphere::SphereGrid;
use rand::{rngs::StdRng, RngCore, SeedableRng};

type B = Autodiff<NdArray<f32>>;

fn main() -> anyhow::Result<()> {
    let device = Default::default();
    let sigma = 0.05; // noise std in normalised units (≈ 5.9 K)

    // ERA5 t on a 6° grid, normalised with the GASP convention.
    let var = read_variable(resolve_data_source("era5")?, Some("t"))?;
    let set = FieldSet::new(&var, None)?;
    let grid = SphereGrid::latlon(31, 60)?;
    let regrid = Resampler::barycentric(set.grid.mesh(), grid.mesh().positions())?;
    let clean: Vec<Vec<f32>> = set
        .fields
        .iter()
        .map(|f| {
            let mut v = regrid.apply(f, 1)?;
            Normalisation::ERA5_TEMPERATURE.apply(&mut v);
            Ok(v)
        })
        .collect::<anyhow::Result<_>>()?;
    let (train, test) = set.train_test_split(0.25, 0)?;

    // What the user has: one noisy observation of every field.
    let noise = GaussianNoise::new(sigma)?;
    let mut rng = StdRng::seed_from_u64(7);
    let noisy: Vec<Vec<f32>> = clean.iter().map(|x| noise.sample(x, &mut rng)).collect();
    let noisy_train: Vec<Vec<f32>> = train.iter().map(|&i| noisy[i].clone()).collect();
    let data = SignalDataset::from_rows(&noisy_train)?;
    let dim = data.dim();

    // ICM, trained on the noisy fields and the noise model only.
    let config = InverseFlowConfig::new(InverseFlowConfig::network(dim).with_hidden(256))
        .with_method(InverseMethod::Icm)
        .with_steps(300)
        .with_learning_rate(1e-3)
        .with_checkpoint_every(0);
    let sample_noise = move |x0: &[f32], r: &mut dyn RngCore| noise.sample(x0, r);
    let mut trainer = InverseFlowTrainer::<B, _>::new(config, sample_noise, &data, None, &device)?;
    trainer.run(|_| ControlFlow::Continue(()))?;
    let icm = trainer.denoiser();

    // Heat smoothing with the time SURE picks on the noisy training fields.
    let l = cotan_laplacian(grid.mesh());
    let m = vertex_lumped_mass_matrix(grid.mesh());
    let choice = sure_heat_time(
        &l,
        &m,
        &noisy_train.concat(),
        sigma,
        &log_grid(1e-5, 1e-1, 17)?,
        4,
        &mut rng,
    )?;

    let (mut p_noisy, mut p_icm, mut p_heat) = (0.0, 0.0, 0.0);
    for &i in &test {
        let x1 = util::tensor2::<NdArray<f32>>(noisy[i].clone(), 1, dim, &device);
        let denoised = util::to_vec(icm.denoise(x1));
        let smoothed = heat_denoise(&l, &m, &noisy[i], choice.time)?;
        p_noisy += psnr(&noisy[i], &clean[i], 1.0, None)?;
        p_icm += psnr(&denoised, &clean[i], 1.0, None)?;
        p_heat += psnr(&smoothed, &clean[i], 1.0, None)?;
    }
    let n = test.len() as f64;
    println!("PSNR over {} held-out fields (data range 1):", test.len());
    println!("  noisy input            {:.2} dB", p_noisy / n);
    println!("  ICM (300 steps)        {:.2} dB", p_icm / n);
    println!(
        "  heat, SURE time {:.1e}  {:.2} dB",
        choice.time,
        p_heat / n
    );
    Ok(())
}

//! `meshflow impute`: degrade held-out fields as the sampler's task does (random mask,
//! Gaussian noise), reconstruct them with every method side by side on the same
//! measurements, score them against the truth, and write the results in the users' formats.
//!
//! Methods (`--methods`, comma-separated):
//! - `cnf-mean`, `cnf-sample`: the amortized conditional RealNVP: `--samples` posterior
//!   samples in one batched pass; their mean, one sample, and the per-vertex std;
//! - `dps`, `mcg`: diffusion posterior sampling with the same prior (`--dps-steps` network
//!   evaluations with gradients per field);
//! - `noisy`: the measurement itself (hidden vertices at 0 in normalised units);
//! - `nearest`, `harmonic`, `kriging`: classical fills; harmonic's α and kriging's Matérn
//!   parameters are fitted on the training fields.
//!
//! The result directory holds `result.json`, `result.npz` (see `docs/result-format.md`),
//! `mesh.ply` (meshes) and the imputed fields: `imputed.nc` (CF NetCDF, grids) or
//! `imputed_<field>.ply` (meshes). `denoise eval --out` writes the same directory for its
//! denoisers ([`ResultTask::Denoise`]: `denoised.nc` / `denoised_<field>.ply`, no `infilled`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::module::Module;
use burn::tensor::backend::AutodiffBackend;
use rand::{rngs::StdRng, SeedableRng};
use serde::Serialize;

use super::backend::{with_backend, DeviceArg};
use super::progress::Progress;
use super::select::{Domain, Selected, SelectionArgs};
use super::train::{RunMeta, ScoredFields};
use crate::datasets::netcdf::writer::{write_cf_grid, CfGrid, DataVar, LeadingAxis};
use crate::datasets::npy::{write_npz, NpyArray};
use crate::datasets::NdArray;
use crate::flows::classical::{
    log_grid, Degradation, GmrfFitOptions, GmrfKriging, HarmonicFill, MaternParams, MeshRepair,
    NearestFill, Reconstructor, SpdeGmrf, StdMethod,
};
use crate::flows::prelude::*;
use crate::flows::util;
use crate::geometry::io::write_ply;
use crate::geometry::metrics;
use crate::geometry::signal::{Mask, Normalisation};

/// Every method `impute` knows, in table order.
pub const METHODS: &[&str] = &[
    "cnf-mean",
    "cnf-sample",
    "dps",
    "mcg",
    "noisy",
    "nearest",
    "harmonic",
    "kriging",
];

/// Arguments of `meshflow impute`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImputeArgs {
    /// The sampler run directory (`meshflow train-sampler --out DIR`); its prior, data
    /// selection, split and task are used.
    #[arg(long, value_name = "DIR")]
    pub sampler: PathBuf,
    /// Fields to impute (default: the held-out test fields of the sampler's selection).
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Impute at most this many fields.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Methods to run, comma-separated (default all).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "cnf-mean,cnf-sample,dps,mcg,noisy,nearest,harmonic,kriging"
    )]
    pub methods: Vec<String>,
    /// Posterior samples per field for the flow (mean, std).
    #[arg(long, default_value_t = 64)]
    pub samples: usize,
    /// Steps (network evaluations) of DPS and MCG.
    #[arg(long, default_value_t = 1000)]
    pub dps_steps: usize,
    /// Guidance step size ζ of DPS and MCG.
    #[arg(long, default_value_t = 1.0)]
    pub dps_step_size: f64,
    /// Seed of the degradation and of the samplers.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Where to run the networks.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Print one JSON object (the metrics table) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// The metrics of one method over all imputed fields.
#[derive(Debug, Clone, Serialize)]
pub struct MethodScore {
    /// Method name.
    pub name: String,
    /// Area-weighted (grids) RMSE over the hidden vertices, physical units, mean over fields.
    pub rmse: f64,
    /// PSNR (dB) over all vertices in normalised units (data range 1), mean over fields.
    pub psnr: f64,
    /// SSIM in normalised units (grid SSIM on lat-lon grids, k-NN SSIM on meshes).
    pub ssim: Option<f64>,
    /// Fraction of hidden true values inside mean ± 2 std (methods with an uncertainty).
    pub coverage_2std: Option<f64>,
    /// Mean predicted std over the hidden vertices, physical units.
    pub mean_std: Option<f64>,
    /// Wall-clock seconds per field.
    pub seconds_per_field: f64,
    /// `denoise eval`: the PSNR estimated from the noisy fields alone, on recorrupted pairs
    /// (`meshflow_datasets::noise::recorrupt`), at the slightly higher noise level of the
    /// pairs' inputs; `None` where the noise has no recorruption or for `impute`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psnr_from_noisy: Option<f64>,
}

/// What a result directory holds the reconstructions of: it names the written fields
/// (`imputed.nc` / `denoised.nc`, `imputed_<i>.ply` / `denoised_<i>.ply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultTask {
    /// `meshflow impute`: hidden vertices filled in; the `infilled` flag is written.
    Impute,
    /// `meshflow denoise eval`: every vertex observed (noisy) and denoised.
    Denoise,
}

impl ResultTask {
    /// The participle that names the written fields.
    pub fn participle(self) -> &'static str {
        match self {
            ResultTask::Impute => "imputed",
            ResultTask::Denoise => "denoised",
        }
    }
}

/// Everything `impute` (or `denoise eval`) produced, in normalised units, `[F][V]` per method.
pub struct ImputeOutput {
    /// Imputation or denoising.
    pub task: ResultTask,
    /// The selection the fields came from.
    pub selected: Selected,
    /// Imputed fields (indices into the selection).
    pub fields: Vec<usize>,
    /// Normalisation (physical → network units).
    pub normalisation: Normalisation,
    /// Measurements, hidden vertices 0.
    pub measurements: Vec<Vec<f32>>,
    /// Masks (true = observed).
    pub masks: Vec<Mask>,
    /// Reconstructions per method name.
    pub recon: Vec<(String, Vec<Vec<f32>>)>,
    /// Posterior std per field (flow), normalised units.
    pub std: Option<Vec<Vec<f32>>>,
    /// Posterior samples per field (flow), `[F][S][V]` (at most 8 kept).
    pub samples: Vec<Vec<Vec<f32>>>,
    /// The scores.
    pub scores: Vec<MethodScore>,
}

/// `meshflow impute`.
pub fn impute(args: &ImputeArgs) -> Result<()> {
    for m in &args.methods {
        if !METHODS.contains(&m.as_str()) {
            bail!("unknown method `{m}`; known: {}", METHODS.join(", "));
        }
    }
    if args.samples < 2 {
        bail!(
            "--samples must be >= 2 (the posterior mean and standard deviation come from the \
             samples), got {}",
            args.samples
        );
    }
    dps_config(args, DpsVariant::Dps, VpSde::new())
        .validate()
        .context("--dps-steps / --dps-step-size")?;
    let out = with_backend!(args.device, |device| run_impute::<B>(args, &device))?;
    write_result(&args.out, &out)?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "fields": out.fields.iter().map(|&i| &out.selected.labels[i]).collect::<Vec<_>>(),
                "methods": out.scores,
                "out": args.out,
            })
        );
    } else {
        print!(
            "{}",
            score_table(&out.scores, out.selected.units.as_deref())
        );
        println!("results written to {}", args.out.display());
    }
    Ok(())
}

/// The DPS/MCG settings of `args` for a prior with diffusion `sde`.
fn dps_config(args: &ImputeArgs, variant: DpsVariant, sde: VpSde) -> DpsConfig {
    DpsConfig::new()
        .with_steps(args.dps_steps)
        .with_step_size(args.dps_step_size)
        .with_variant(variant)
        .with_sde(sde)
}

/// A plain-text table of scores; the method column is as wide as the longest name.
pub fn score_table(scores: &[MethodScore], units: Option<&str>) -> String {
    let u = units.unwrap_or("");
    let w = scores
        .iter()
        .map(|m| m.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(12);
    // The no-clean-data estimate gets a column only where some method has one.
    let estimated = scores.iter().any(|m| m.psnr_from_noisy.is_some());
    let opt = |v: Option<f64>, p: usize| v.map_or("-".into(), |v| format!("{v:.p$}"));
    let mut s = format!(
        "{:<w$} {:>12} {:>9} {:>7} {:>10} {:>10}",
        "method",
        format!("rmse[{u}]"),
        "psnr[dB]",
        "ssim",
        "cover±2σ",
        "s/field"
    );
    if estimated {
        s += &format!(" {:>12}", "psnr~noisy");
    }
    s.push('\n');
    for m in scores {
        s += &format!(
            "{:<w$} {:>12.4} {:>9.2} {:>7} {:>10} {:>10.3}",
            m.name,
            m.rmse,
            m.psnr,
            opt(m.ssim, 3),
            opt(m.coverage_2std, 3),
            m.seconds_per_field
        );
        if estimated {
            s += &format!(" {:>12}", opt(m.psnr_from_noisy, 2));
        }
        s.push('\n');
    }
    s
}

fn run_impute<B: AutodiffBackend>(args: &ImputeArgs, device: &B::Device) -> Result<ImputeOutput> {
    let meta = RunMeta::load(&args.sampler)?;
    let (mask_rate, sigma) = match (meta.mask_rate, meta.noise_sigma) {
        (Some(r), Some(s)) => (r, s),
        _ => bail!(
            "{} is not a sampler run (no task in meshflow.json); give the directory written \
             by `meshflow train-sampler`",
            args.sampler.display()
        ),
    };
    let ScoredFields {
        selected,
        fields,
        truth,
        ..
    } = meta.scored_fields(&args.selection, args.limit, "the sampler")?;
    let norm = meta.normalisation;
    let degradation = Degradation::new(mask_rate, sigma)?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut measurements = Vec::new();
    let mut masks = Vec::new();
    for x in &truth {
        let (y, m) = degradation.apply(x, &mut rng)?;
        measurements.push(y);
        masks.push(m);
    }
    let want = |m: &str| args.methods.iter().any(|x| x == m);
    let mut recon: Vec<(String, Vec<Vec<f32>>)> = Vec::new();
    let mut seconds: Vec<(String, f64)> = Vec::new();
    let mut std_out = None;
    let mut samples_out = Vec::new();
    let f = fields.len();
    let mut bar = Progress::new("impute", args.methods.len(), 0, args.quiet || args.json);

    if want("noisy") {
        recon.push(("noisy".into(), measurements.clone()));
        seconds.push(("noisy".into(), 0.0));
    }
    // The flow.
    if want("cnf-mean") || want("cnf-sample") {
        let t0 = Instant::now();
        let (flow, _) = load_trained_sampler::<B::InnerBackend>(&args.sampler, device)
            .with_context(|| format!("loading the sampler in {}", args.sampler.display()))?;
        // On the CPU the host engine draws the samples (same noise, same map, several times
        // faster than burn's CPU backend); on a GPU the flow itself.
        let engine = (args.device == DeviceArg::Cpu).then(|| CpuRealNvp::from_flow(&flow));
        let (mut means, mut stds, mut firsts) = (Vec::new(), Vec::new(), Vec::new());
        let d = meta.dim;
        for (y, m) in measurements.iter().zip(&masks) {
            let s = match &engine {
                Some(engine) => util::tensor2::<B::InnerBackend>(
                    engine.sample_posterior(y, &m.as_weights(), args.samples, &mut rng)?,
                    args.samples,
                    d,
                    device,
                ),
                None => {
                    let yt = util::tensor1::<B::InnerBackend>(y.clone(), device);
                    let mt = util::tensor1::<B::InnerBackend>(m.as_weights(), device);
                    sample_posterior(&flow, yt, mt, args.samples, &mut rng)
                }
            };
            let all = util::to_vec(s.clone());
            samples_out.push(
                all.chunks(d)
                    .take(8)
                    .map(<[f32]>::to_vec)
                    .collect::<Vec<_>>(),
            );
            firsts.push(all[..d].to_vec());
            let summary = posterior_summary(s);
            means.push(util::to_vec(summary.mean));
            stds.push(util::to_vec(summary.std));
        }
        let per = t0.elapsed().as_secs_f64() / f as f64;
        if want("cnf-mean") {
            recon.push(("cnf-mean".into(), means));
            seconds.push(("cnf-mean".into(), per));
        }
        if want("cnf-sample") {
            recon.push(("cnf-sample".into(), firsts));
            seconds.push(("cnf-sample".into(), per / args.samples as f64));
        }
        std_out = Some(stds);
        bar.tick("cnf");
    }
    // DPS / MCG with the sampler's prior.
    // The sampler's prior, loaded once for both guided samplers.
    let guided_prior = if want("dps") || want("mcg") {
        let prior_dir = meta
            .prior
            .clone()
            .context("the sampler's meshflow.json names no prior")?;
        let (prior, prior_config) = load_trained_prior::<B>(&prior_dir, device)
            .with_context(|| format!("loading the prior in {}", prior_dir.display()))?;
        Some((prior.no_grad(), prior_config))
    } else {
        None
    };
    for (name, variant) in [("dps", DpsVariant::Dps), ("mcg", DpsVariant::Mcg)] {
        let Some((prior, prior_config)) = guided_prior.as_ref().filter(|_| want(name)) else {
            continue;
        };
        let config = dps_config(args, variant, prior_config.model.sde);
        let d = meta.dim;
        let y = util::tensor2::<B::InnerBackend>(measurements.concat(), f, d, device);
        let m = util::tensor2::<B::InnerBackend>(
            masks.iter().flat_map(Mask::as_weights).collect(),
            f,
            d,
            device,
        );
        let t0 = Instant::now();
        let out = dps_sample::<B, _, _>(prior, &config, y, m, &mut rng);
        let per = t0.elapsed().as_secs_f64() / f as f64;
        let all = util::to_vec(out.samples);
        recon.push((name.into(), all.chunks(d).map(<[f32]>::to_vec).collect()));
        seconds.push((name.into(), per));
        bar.tick(name);
    }
    // Classical fills, hyper-parameters fitted on the training fields.
    let train = super::train::normalised_rows(&selected, &meta.train, &norm)?;
    let mesh = selected.domain.mesh();
    let mut classical: Vec<(String, Box<dyn Reconstructor>)> = Vec::new();
    if want("nearest") {
        classical.push(("nearest".into(), Box::new(NearestFill::new(mesh))));
    }
    // The Laplacian methods run on the repaired mesh (scans carry unused vertices and
    // duplicate faces); removed vertices are filled from their nearest observed vertex.
    let repair = MeshRepair::new(mesh);
    if repair.removed_vertices() > 0 {
        eprintln!(
            "note: harmonic and kriging run on the repaired mesh ({} unused vertices filled \
             from their nearest observed vertex)",
            repair.removed_vertices()
        );
    }
    let train_kept = train
        .iter()
        .map(|row| repair.restrict(row))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    if want("harmonic") {
        let fit = HarmonicFill::new(&repair.mesh, 1.0).and_then(|h| {
            let fit = h.fit_alpha(
                &train_kept[..train_kept.len().min(16)],
                &degradation,
                args.seed,
                &log_grid(1e-4, 1e2, 13)?,
            )?;
            h.with_alpha(fit.alpha)
        });
        match fit {
            Ok(h) => classical.push(("harmonic".into(), Box::new(repair.clone().wrap(h)))),
            Err(e) => eprintln!("warning: harmonic fill unavailable: {e}"),
        }
    }
    if want("kriging") {
        let fit = MaternParams::fit(&repair.mesh, &train_kept, &GmrfFitOptions::default())
            .and_then(|fit| SpdeGmrf::new(&repair.mesh, fit.params))
            .and_then(|model| GmrfKriging::new(model, sigma, StdMethod::default()));
        match fit {
            Ok(k) => classical.push(("kriging".into(), Box::new(repair.clone().wrap(k)))),
            Err(e) => eprintln!("warning: kriging unavailable: {e}"),
        }
    }
    let mut kriging_std = None;
    for (name, method) in &classical {
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut stds = Vec::new();
        for (y, m) in measurements.iter().zip(&masks) {
            match method.reconstruct(y, m) {
                Ok(r) => {
                    out.push(r.mean);
                    if let Some(s) = r.std {
                        stds.push(s);
                    }
                }
                Err(e) => {
                    eprintln!("warning: {name} failed: {e}");
                    out.clear();
                    break;
                }
            }
        }
        if out.len() == f {
            seconds.push((name.clone(), t0.elapsed().as_secs_f64() / f as f64));
            recon.push((name.clone(), out));
            if stds.len() == f {
                kriging_std = Some(stds);
            }
        }
        bar.tick(name);
    }
    bar.finish();

    // Scores.
    let scale = norm.offset_scale().1;
    let scores = recon
        .iter()
        .map(|(name, preds)| {
            let std = match name.as_str() {
                "cnf-mean" | "cnf-sample" => std_out.as_ref(),
                "kriging" => kriging_std.as_ref(),
                _ => None,
            };
            score(
                name,
                preds,
                &truth,
                Some(&masks),
                std,
                &selected.domain,
                scale,
                seconds.iter().find(|(n, _)| n == name).map_or(0.0, |s| s.1),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ImputeOutput {
        task: ResultTask::Impute,
        selected,
        fields,
        normalisation: norm,
        measurements,
        masks,
        recon,
        std: std_out,
        samples: samples_out,
        scores,
    })
}

/// Scores one method's reconstructions (normalised units) against the truth: RMSE (physical
/// units, `scale` = the normalisation's scale) over the hidden vertices of `masks`, or over
/// every vertex without masks; PSNR and SSIM over every vertex.
#[allow(clippy::too_many_arguments)]
pub(crate) fn score(
    name: &str,
    preds: &[Vec<f32>],
    truth: &[Vec<f32>],
    masks: Option<&[Mask]>,
    std: Option<&Vec<Vec<f32>>>,
    domain: &Domain,
    scale: f64,
    seconds_per_field: f64,
) -> Result<MethodScore> {
    let area = domain.area_weights();
    let (mut rmse, mut psnr, mut ssim, mut cover, mut mstd) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut ssim_ok = true;
    let f = preds.len() as f64;
    for (i, (p, t)) in preds.iter().zip(truth).enumerate() {
        let hidden: Vec<bool> = match masks {
            Some(m) => m[i].observed().iter().map(|o| !o).collect(),
            None => vec![true; t.len()],
        };
        let w = metrics::masked_weights(area, &hidden);
        rmse += metrics::rmse(p, t, Some(&w))? * scale;
        psnr += metrics::psnr(p, t, 1.0, area)?;
        match field_ssim(p, t, domain) {
            Some(s) => ssim += s,
            None => ssim_ok = false,
        }
        if let Some(s) = std {
            let idx: Vec<usize> = (0..t.len()).filter(|&j| hidden[j]).collect();
            let pick = |v: &[f32]| idx.iter().map(|&j| v[j]).collect::<Vec<f32>>();
            if !idx.is_empty() {
                cover += coverage(&pick(t), &pick(p), &pick(&s[i]), 2.0);
                mstd +=
                    pick(&s[i]).iter().map(|&v| v as f64).sum::<f64>() / idx.len() as f64 * scale;
            }
        }
    }
    Ok(MethodScore {
        name: name.into(),
        rmse: rmse / f,
        psnr: psnr / f,
        ssim: ssim_ok.then_some(ssim / f),
        coverage_2std: std.map(|_| cover / f),
        mean_std: std.map(|_| mstd / f),
        seconds_per_field,
        psnr_from_noisy: None,
    })
}

/// SSIM on the grid image (lat-lon/Gaussian grids of at least 11 × 11) or k-NN SSIM on a mesh.
fn field_ssim(pred: &[f32], truth: &[f32], domain: &Domain) -> Option<f64> {
    match domain {
        Domain::Grid { grid } => {
            let layout = grid.layout()?;
            let p = grid.to_grid_order(pred).ok()?;
            let t = grid.to_grid_order(truth).ok()?;
            metrics::ssim_grid(&p, &t, layout.nlat, layout.nlon, 1.0).ok()
        }
        Domain::Mesh { mesh } => {
            metrics::ssim_mesh(pred, truth, mesh.positions(), 1.0, 25, None).ok()
        }
    }
}

/// Normalised values back in physical units.
pub(crate) fn physical(v: &[f32], norm: &Normalisation) -> Vec<f32> {
    let mut v = v.to_vec();
    norm.invert(&mut v);
    v
}

fn f32_array(shape: Vec<usize>, data: Vec<f32>) -> Result<NpyArray> {
    Ok(NpyArray::F32(NdArray::new(shape, data)?))
}

/// Writes the result directory (see the module docs).
pub fn write_result(dir: &Path, out: &ImputeOutput) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let norm = &out.normalisation;
    let f = out.fields.len();
    let v = out.selected.domain.num_vertices();
    let std_scale = norm.offset_scale().1 as f32;
    let mut arrays: Vec<(String, NpyArray)> = Vec::new();
    let truth: Vec<f32> = out
        .fields
        .iter()
        .flat_map(|&i| out.selected.fields[i].iter().copied())
        .collect();
    arrays.push(("truth".into(), f32_array(vec![f, v], truth)?));
    let measurement: Vec<f32> = out
        .measurements
        .iter()
        .zip(&out.masks)
        .flat_map(|(y, m)| {
            let p = physical(y, norm);
            p.into_iter()
                .zip(m.observed().to_vec())
                .map(|(x, o)| if o { x } else { f32::NAN })
                .collect::<Vec<_>>()
        })
        .collect();
    arrays.push(("measurement".into(), f32_array(vec![f, v], measurement)?));
    let mask: Vec<u8> = out
        .masks
        .iter()
        .flat_map(|m| m.observed().iter().map(|&o| o as u8).collect::<Vec<_>>())
        .collect();
    arrays.push(("mask".into(), NpyArray::U8(NdArray::new(vec![f, v], mask)?)));
    for (name, preds) in &out.recon {
        let data: Vec<f32> = preds.iter().flat_map(|p| physical(p, norm)).collect();
        arrays.push((format!("recon_{name}"), f32_array(vec![f, v], data)?));
    }
    if let Some((_, mean)) = best_recon(out) {
        let data: Vec<f32> = mean.iter().flat_map(|p| physical(p, norm)).collect();
        arrays.push(("mean".into(), f32_array(vec![f, v], data)?));
    }
    if let Some(std) = &out.std {
        let data: Vec<f32> = std.iter().flatten().map(|s| s * std_scale).collect();
        arrays.push(("std".into(), f32_array(vec![f, v], data)?));
    }
    let s = out.samples.first().map_or(0, Vec::len);
    if s > 0 {
        let data: Vec<f32> = out
            .samples
            .iter()
            .flat_map(|fs| fs.iter().flat_map(|x| physical(x, norm)))
            .collect();
        arrays.push(("samples".into(), f32_array(vec![f, s, v], data)?));
    }
    let kind = match &out.selected.domain {
        Domain::Grid { grid } => {
            if let Some(layout) = grid.layout() {
                arrays.push((
                    "lat".into(),
                    NpyArray::F64(NdArray::new(vec![layout.nlat], layout.lats_deg.clone())?),
                ));
                arrays.push((
                    "lon".into(),
                    NpyArray::F64(NdArray::new(vec![layout.nlon], layout.lons_deg.clone())?),
                ));
            }
            write_reconstruction_nc(dir, out)?;
            "grid"
        }
        Domain::Mesh { mesh } => {
            write_ply(&dir.join("mesh.ply"), mesh, &[], None)?;
            write_reconstruction_ply(dir, out)?;
            "mesh"
        }
    };
    let refs: Vec<(&str, &NpyArray)> = arrays.iter().map(|(k, a)| (k.as_str(), a)).collect();
    write_npz(dir.join("result.npz"), &refs)?;
    let json = serde_json::json!({
        "discretisation": {"kind": kind},
        "fields": out.fields.iter().map(|&i| &out.selected.labels[i]).collect::<Vec<_>>(),
        "methods": out.recon.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        "units": out.selected.units.clone().unwrap_or_default(),
        "variable": out.selected.name,
        "samples": s,
        "scores": out.scores,
        "task": match out.task {
            ResultTask::Impute => "impute",
            ResultTask::Denoise => "denoise",
        },
        "mean_method": best_recon(out).map(|(name, _)| name),
    });
    crate::geometry::io::write_atomic(
        &dir.join("result.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    Ok(())
}

/// The reconstruction written to the user's format (and as `mean` in `result.npz`): the flow's
/// posterior mean when it ran, else the first method that is not the unfilled `noisy` input.
fn best_recon(out: &ImputeOutput) -> Option<(&str, &Vec<Vec<f32>>)> {
    out.recon
        .iter()
        .find(|(n, _)| n == "cnf-mean")
        .or_else(|| out.recon.iter().find(|(n, _)| n != "noisy"))
        .map(|(n, p)| (n.as_str(), p))
}

/// `imputed.nc` / `denoised.nc`: the best reconstruction, the flow's std when it ran, and (for
/// imputation) the `infilled` flag.
fn write_reconstruction_nc(dir: &Path, out: &ImputeOutput) -> Result<()> {
    let Some((method, recon)) = best_recon(out) else {
        return Ok(());
    };
    let norm = &out.normalisation;
    let sel = &out.selected;
    let mut variables = vec![GridVar {
        name: sel.name.clone(),
        fields: recon.iter().map(|p| physical(p, norm)).collect(),
        long_name: format!(
            "{} {} by meshflow ({method})",
            sel.long_name.as_deref().unwrap_or(&sel.name),
            out.task.participle()
        ),
        units: sel.units.clone(),
        standard_name: sel.standard_name.clone(),
    }];
    if let (Some(std), "cnf-mean") = (&out.std, method) {
        let s = norm.offset_scale().1 as f32;
        variables.push(GridVar {
            name: format!("{}_std", sel.name),
            fields: std
                .iter()
                .map(|v| v.iter().map(|x| x * s).collect())
                .collect(),
            long_name: "posterior standard deviation of the imputed field".into(),
            units: sel.units.clone(),
            standard_name: None,
        });
    }
    if out.task == ResultTask::Impute {
        variables.push(GridVar {
            name: "infilled".into(),
            fields: out
                .masks
                .iter()
                .map(|m| {
                    m.observed()
                        .iter()
                        .map(|&o| if o { 0.0 } else { 1.0 })
                        .collect()
                })
                .collect(),
            long_name: "1 where the value was hidden and imputed, 0 where it was observed".into(),
            units: None,
            standard_name: None,
        });
    }
    let file = format!("{}.nc", out.task.participle());
    let command = match out.task {
        ResultTask::Impute => "impute",
        ResultTask::Denoise => "denoise eval",
    };
    if !write_grid_nc(
        &dir.join(&file),
        sel,
        &out.fields,
        variables,
        format!("meshflow {command} ({method})"),
    )? {
        eprintln!("warning: the grid has no lat-lon layout; {file} not written");
    }
    Ok(())
}

/// One variable of [`write_grid_nc`]: `[F][V]` values in vertex order, physical units.
pub(crate) struct GridVar {
    /// Variable name.
    pub name: String,
    /// One field per written field, in vertex order.
    pub fields: Vec<Vec<f32>>,
    /// `long_name` attribute.
    pub long_name: String,
    /// `units` attribute.
    pub units: Option<String>,
    /// `standard_name` attribute.
    pub standard_name: Option<String>,
}

/// Writes `variables` over the fields `fields` of `sel` (their labels go into the `fields`
/// attribute) as CF NetCDF `[field, lat, lon]`. Returns false, writing nothing, when the
/// selection is not on a grid with a lat-lon layout.
pub(crate) fn write_grid_nc(
    path: &Path,
    sel: &Selected,
    fields: &[usize],
    variables: Vec<GridVar>,
    history: String,
) -> Result<bool> {
    let Domain::Grid { grid } = &sel.domain else {
        return Ok(false);
    };
    let Some(layout) = grid.layout() else {
        return Ok(false);
    };
    let variables = variables
        .into_iter()
        .map(|v| {
            let mut data = Vec::new();
            for f in &v.fields {
                data.extend(grid.to_grid_order(f)?);
            }
            Ok(DataVar {
                name: v.name,
                data,
                units: v.units,
                standard_name: v.standard_name,
                long_name: Some(v.long_name),
                fill_value: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let labels: Vec<&str> = fields.iter().map(|&i| sel.labels[i].as_str()).collect();
    write_cf_grid(
        path,
        &CfGrid {
            leading: LeadingAxis::Field {
                count: labels.len(),
            },
            lat: layout.lats_deg.clone(),
            lon: layout.lons_deg.clone(),
            variables,
            history,
            attributes: vec![("fields".into(), labels.join("; "))],
        },
    )
    .with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

/// One `imputed_<i>.ply` / `denoised_<i>.ply` per field: vertex properties `value`, `infilled`
/// (imputation) and `std` (when the flow ran).
fn write_reconstruction_ply(dir: &Path, out: &ImputeOutput) -> Result<()> {
    let Domain::Mesh { mesh } = &out.selected.domain else {
        return Ok(());
    };
    let Some((_, recon)) = best_recon(out) else {
        return Ok(());
    };
    for (k, p) in recon.iter().enumerate() {
        let value: Vec<f64> = physical(p, &out.normalisation)
            .iter()
            .map(|&x| x as f64)
            .collect();
        let infilled: Vec<f64> = out.masks[k]
            .observed()
            .iter()
            .map(|&o| if o { 0.0 } else { 1.0 })
            .collect();
        let mut props: Vec<(&str, &[f64])> = vec![("value", &value)];
        if out.task == ResultTask::Impute {
            props.push(("infilled", &infilled));
        }
        let std: Vec<f64>;
        if let Some(s) = &out.std {
            let scale = out.normalisation.offset_scale().1;
            std = s[k].iter().map(|&x| x as f64 * scale).collect();
            props.push(("std", &std));
        }
        write_ply(
            &dir.join(format!("{}_{}.ply", out.task.participle(), out.fields[k])),
            mesh,
            &props,
            None,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A long method name (`ifm-spectral:DIR`) widens the method column instead of pushing its
    /// row's numbers out of line: every line of the table has the same width.
    #[test]
    fn score_table_columns_stay_aligned_with_long_names() {
        let row = |name: &str, ssim: Option<f64>| MethodScore {
            name: name.into(),
            rmse: 0.05,
            psnr: 25.5,
            ssim,
            coverage_2std: None,
            mean_std: None,
            seconds_per_field: 0.01,
            psnr_from_noisy: None,
        };
        let table = score_table(
            &[
                row("noisy", Some(0.9)),
                row("ifm-spectral:runs/ifm1024-lr1-1200", None),
            ],
            None,
        );
        let widths: Vec<usize> = table.lines().map(|l| l.chars().count()).collect();
        assert_eq!(widths.len(), 3, "{table}");
        assert!(widths.iter().all(|w| *w == widths[0]), "{table}");
        assert!(table.lines().nth(2).unwrap().contains("25.50"), "{table}");
        assert!(
            !table.contains("psnr~noisy"),
            "no estimates, no column: {table}"
        );
        // With an estimate for one method the column appears, "-" where there is none.
        let estimated = MethodScore {
            psnr_from_noisy: Some(24.125),
            ..row("icm-spectral", Some(0.97))
        };
        let table = score_table(&[row("noisy", None), estimated], None);
        let widths: Vec<usize> = table.lines().map(|l| l.chars().count()).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{table}");
        assert!(
            table.lines().next().unwrap().ends_with("psnr~noisy"),
            "{table}"
        );
        assert!(table.lines().nth(1).unwrap().ends_with(" -"), "{table}");
        assert!(table.lines().nth(2).unwrap().ends_with("24.12"), "{table}");
    }
}

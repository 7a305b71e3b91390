//! `meshflow denoise`: inverse flows (ICM, IFM) trained on **noisy fields only**, scored
//! against no-clean-data baselines, and applied to new fields.
//!
//! - `denoise train --method icm|ifm <selection> --noise SPEC --out DIR`: the training fields
//!   (the split of `train-prior`) are normalised, corrupted once with the noise model (seeded by
//!   `--seed`), and only those noisy fields are shown to the trainer. Jacobi noise lives on
//!   `(0, 1)`: the min–max-normalised fields are clamped to `[1e-3, 1 − 1e-3]` first and the
//!   flow runs in logit space.
//! - `denoise eval --model DIR [--model DIR …] --noise SPEC [--baselines]`: corrupts the held-out
//!   fields, denoises them with every model and, with `--baselines`, with heat smoothing whose
//!   time is chosen without clean data (SURE for white Gaussian noise, noisier-to-noisy
//!   validation otherwise) and Noise2Score/Tweedie (a score prior trained on the noisy training
//!   fields; additive Gaussian noise only, white or with the correlated model's covariance).
//!   Clean fields are used only to score: PSNR and SSIM over all vertices in normalised units
//!   (data range 1), RMSE area-weighted in physical units, as `impute` scores. A baseline's
//!   `seconds_per_field` includes fitting it (choosing the heat time; training the score prior).
//!   Next to the clean-data scores, every model's (and the noisy input's and heat smoothing's)
//!   PSNR is estimated from the noisy fields alone on recorrupted pairs
//!   ([`crate::datasets::noise::recorrupt`]; Gaussian and Poisson noise): the `psnr~noisy`
//!   column, `psnr_from_noisy` in JSON — what a user without clean data can rank models and
//!   checkpoints by.
//!   `--out DIR` also writes the clean, noisy and denoised fields as a result directory (the
//!   format of `meshflow impute`, see `docs/result-format.md`) for `meshflow render` / `view`.
//! - `denoise apply --model DIR <selection> --out FILE.nc|FILE.npz|FILE.ply`: treats the
//!   selected fields as noisy observations and writes the denoised fields.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::config::Config;
use burn::tensor::backend::{AutodiffBackend, Backend};
use rand::{rngs::StdRng, RngCore, SeedableRng};
use serde::Serialize;

use super::backend::{with_backend, DeviceArg};
use super::eigenbasis::{compute_basis, resume_basis, save_basis, BasisCache};
use super::impute::{
    physical, score, score_table, write_grid_nc, write_result, GridVar, ImputeOutput, MethodScore,
    ResultTask,
};
use super::progress::Progress;
use super::select::{Selected, SelectionArgs};
use super::train::{
    apply_common_overrides, check_same_meta, fixed_on_resume, normalised_rows, prepare,
    prepare_resume, track_trainer, CommonTrainArgs, PreparedData, RunMeta, ScoredFields,
};
use crate::datasets::noise::{
    recorrupt, CorrelatedGaussianNoise, NoiseModel, NoiseSpec, GAUSSIAN_ALPHA, POISSON_KEEP,
};
use crate::datasets::npy::{write_npz, NpyArray};
use crate::datasets::NdArray;
use crate::flows::classical::{heat_denoise, log_grid, noisier_heat_time, sure_heat_time};
use crate::flows::inverse::{
    tweedie_denoise, IfmVelocity, InverseNetwork, NoiseCovariance, SpectralFilterConfig,
};
use crate::flows::prelude::*;
use crate::flows::util;
use crate::geometry::io::write_ply;
use crate::geometry::operators::{cotan_laplacian, diagonal_matrix};
use crate::geometry::signal::{Mask, Normalisation};
use crate::geometry::TriMesh;

/// The clamp that puts min–max-normalised fields inside `(0, 1)` for Jacobi noise.
pub const JACOBI_CLAMP: f32 = 1e-3;

/// The `kind` of a denoiser run in `meshflow.json`.
const KIND: &str = "denoiser";

/// Arguments of `meshflow denoise`.
#[derive(Debug, clap::Args)]
pub struct DenoiseArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: DenoiseCommand,
}

/// The `meshflow denoise` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DenoiseCommand {
    /// Train an ICM or IFM denoiser on noisy versions of the training fields only.
    Train(DenoiseTrainArgs),
    /// Corrupt held-out fields, denoise them with each model (and baselines) and score them.
    Eval(DenoiseEvalArgs),
    /// Denoise the selected fields (taken as noisy observations) and write them.
    Apply(DenoiseApplyArgs),
}

/// Arguments of `meshflow denoise train`.
#[derive(Debug, Clone, clap::Args)]
pub struct DenoiseTrainArgs {
    /// `icm` (Inverse Consistency Model: one network evaluation) or `ifm` (Inverse Flow
    /// Matching: an ODE solve).
    #[arg(long, default_value = "icm")]
    pub method: String,
    /// The fields; the training split is corrupted with `--noise` and only the noisy versions
    /// are trained on.
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// The noise model in normalised units: gaussian:SIGMA, correlated:SIGMA:LENGTH,
    /// poisson:K, gamma:SIGMA or jacobi:T.
    #[arg(long, value_name = "SPEC")]
    pub noise: String,
    /// Fraction of the times held out for testing (never trained on).
    #[arg(long, default_value_t = 0.25)]
    pub test_fraction: f64,
    /// The noisy end `t_max` of the flow's time grid [default: 0.2]. Like the network options
    /// below, fixed when the run starts: on `--resume` it may only repeat the saved value.
    #[arg(long)]
    pub t_max: Option<f64>,
    /// The network: `mlp` (over the vertex values) or `spectral` (per-eigenmode gains, a
    /// coefficient MLP and a residual gain in the mesh's Laplace–Beltrami eigenbasis)
    /// [default: mlp].
    #[arg(long, value_enum)]
    pub network: Option<NetworkArg>,
    /// Eigenmodes `K` of the spectral network [default: 128].
    #[arg(long)]
    pub modes: Option<usize>,
    /// Spectral network without the MLP on the coefficients (a linear, time-dependent filter).
    #[arg(long)]
    pub no_coefficient_mlp: bool,
    /// Width of the network's hidden layers (spectral: of the coefficient MLP) [default: 512].
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Residual blocks of the network (spectral: of the coefficient MLP) [default: 2].
    #[arg(long)]
    pub blocks: Option<usize>,
    /// IFM: the network is the velocity (`direct`, the paper's) or a denoiser `D` in the
    /// consistency parametrisation with velocity `(u − D(u, t)) / t` (`denoiser`)
    /// [default: direct].
    #[arg(long, value_enum)]
    pub ifm_velocity: Option<IfmVelocityArg>,
    /// Training options.
    #[command(flatten)]
    pub common: CommonTrainArgs,
}

/// The network of `meshflow denoise train --network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NetworkArg {
    /// An MLP over the vertex values (no geometry).
    Mlp,
    /// A filter in the mesh's Laplace–Beltrami eigenbasis.
    Spectral,
}

/// Refuses `--resume` options that would change the saved network or time grid (they are
/// fixed when a run starts and would otherwise be silently ignored); repeating the saved
/// values is fine.
fn check_resume_network(
    args: &DenoiseTrainArgs,
    saved: &InverseFlowConfig,
    path: &Path,
) -> Result<()> {
    let name = |v: &dyn std::fmt::Debug| format!("{v:?}").to_lowercase();
    let spectral = saved.spectral.as_ref();
    let network = match spectral {
        Some(_) => NetworkArg::Spectral,
        None => NetworkArg::Mlp,
    };
    fixed_on_resume(
        "--network",
        args.network.map(|n| name(&n)),
        name(&network),
        path,
    )?;
    if let Some(s) = spectral {
        fixed_on_resume("--modes", args.modes, s.modes, path)?;
        let linear = args.no_coefficient_mlp.then_some(true);
        fixed_on_resume("--no-coefficient-mlp", linear, !s.coefficient_mlp, path)?;
    }
    fixed_on_resume("--t-max", args.t_max, saved.t_max, path)?;
    fixed_on_resume("--hidden", args.hidden, saved.model.hidden, path)?;
    fixed_on_resume("--blocks", args.blocks, saved.model.blocks, path)?;
    let velocity = match saved.ifm_velocity {
        Some(IfmVelocity::Denoiser) => IfmVelocityArg::Denoiser,
        _ => IfmVelocityArg::Direct,
    };
    let given = args.ifm_velocity.map(|v| name(&v));
    fixed_on_resume("--ifm-velocity", given, name(&velocity), path)
}

/// The IFM velocity of `meshflow denoise train --ifm-velocity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IfmVelocityArg {
    /// The network output is the velocity.
    Direct,
    /// The network is a denoiser; the velocity points from the input to its output.
    Denoiser,
}

/// Arguments of `meshflow denoise eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct DenoiseEvalArgs {
    /// A denoiser run directory (`meshflow denoise train --out DIR`; its latest checkpoint) or
    /// one of its checkpoint directories (`DIR/checkpoint-000003600`, see `--keep-checkpoints`);
    /// repeat to compare several, e.g. the checkpoints of one run by `psnr~noisy`. The first
    /// one's held-out test fields are scored unless a selection of other data is given (giving
    /// the model's own selection again still scores its held-out split).
    #[arg(long = "model", value_name = "DIR", required = true)]
    pub models: Vec<PathBuf>,
    /// Fields to evaluate on (default: the held-out test fields of the first model).
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// The noise model to corrupt the clean fields with (default: the first model's).
    #[arg(long, value_name = "SPEC")]
    pub noise: Option<String>,
    /// Also run the no-clean-data baselines: heat smoothing (SURE or noisier-to-noisy time)
    /// and Noise2Score/Tweedie.
    #[arg(long)]
    pub baselines: bool,
    /// Training steps of the Tweedie baseline's score prior on the noisy training fields.
    #[arg(long, default_value_t = 300)]
    pub tweedie_steps: usize,
    /// Hidden width of the Tweedie baseline's score network.
    #[arg(long, default_value_t = 256)]
    pub tweedie_hidden: usize,
    /// Seed of the noise draws (and of the baselines).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Evaluate at most this many fields.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Where to run the networks.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Also write a result directory, as `meshflow impute --out` does (`result.json`,
    /// `result.npz` with `truth`, the noisy input as `measurement`, one `recon_<method>` per
    /// model and baseline; `denoised.nc` for grids, `mesh.ply` and `denoised_<i>.ply` for
    /// meshes, holding the first model's output): `meshflow view` and `render` show it.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print one JSON object (`{"methods": [...]}`) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Arguments of `meshflow denoise apply`.
#[derive(Debug, Clone, clap::Args)]
pub struct DenoiseApplyArgs {
    /// The denoiser run directory (`meshflow denoise train --out DIR`; its latest checkpoint),
    /// or one of its checkpoint directories (`DIR/checkpoint-000003600`).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// The noisy fields to denoise (same discretisation as the model's training fields).
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Output: `.nc` (CF NetCDF on the grid, grids only), `.npz` (`[F, V]` in vertex order) or
    /// `.ply` (the mesh, or the grid's sphere mesh, with one float vertex property per field,
    /// named after the field's label with whitespace replaced by `_`).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Where to run the network.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
}

/// `meshflow denoise`.
pub fn denoise(args: &DenoiseArgs) -> Result<()> {
    match &args.command {
        DenoiseCommand::Train(a) => {
            with_backend!(a.common.device, |device| train_on::<B>(a, &device))
        }
        DenoiseCommand::Eval(a) => with_backend!(a.device, |device| eval_on::<B>(a, &device)),
        DenoiseCommand::Apply(a) => with_backend!(a.device, |device| apply_on::<B>(a, &device)),
    }
}

fn parse_method(name: &str) -> Result<InverseMethod> {
    match name.to_ascii_lowercase().as_str() {
        "icm" => Ok(InverseMethod::Icm),
        "ifm" => Ok(InverseMethod::Ifm),
        _ => bail!("unknown method `{name}`; expected `icm` or `ifm`"),
    }
}

fn parse_noise(spec: &str) -> Result<NoiseSpec> {
    spec.parse::<NoiseSpec>()
        .map_err(|e| anyhow::anyhow!("--noise: {e}"))
}

/// Puts normalised fields inside `(0, 1)` for Jacobi noise (no-op for other noise models).
fn fit_to_noise(spec: &NoiseSpec, rows: &mut [Vec<f32>]) {
    if matches!(spec, NoiseSpec::Jacobi { .. }) {
        for v in rows.iter_mut().flatten() {
            *v = v.clamp(JACOBI_CLAMP, 1.0 - JACOBI_CLAMP);
        }
    }
}

/// The seed of the one-off corruption of the training fields.
fn training_noise_seed(seed: u64) -> u64 {
    seed ^ 0x6e6f_6973_795f_7831 // "noisy_x1"
}

/// The noisy training fields a denoiser run sees: the training split of `meta`, normalised,
/// fitted to the noise model's domain, corrupted once with a seed derived from the run's.
fn noisy_training_set(
    selected: &Selected,
    meta: &RunMeta,
    spec: &NoiseSpec,
    model: &dyn NoiseModel,
) -> Result<SignalDataset> {
    let mut rows = normalised_rows(selected, &meta.train, &meta.normalisation)?;
    fit_to_noise(spec, &mut rows);
    let mut rng = StdRng::seed_from_u64(training_noise_seed(meta.split_seed));
    let noisy = model
        .try_sample(&rows.concat(), &mut rng)
        .context("corrupting the training fields")?;
    Ok(SignalDataset::new(noisy, rows.len(), meta.dim)?)
}

fn train_on<B: AutodiffBackend>(args: &DenoiseTrainArgs, device: &B::Device) -> Result<()> {
    let c = &args.common;
    let method = parse_method(&args.method)?;
    let spec = parse_noise(&args.noise)?;
    let mut data = prepare(&args.selection, args.test_fraction, c.seed, KIND)?;
    data.meta.noise = Some(spec.to_string());
    data.meta.method = Some(method.name().into());
    let model = spec.build(Some(data.selected.domain.mesh()))?;
    if matches!(spec, NoiseSpec::Jacobi { .. }) {
        eprintln!(
            "jacobi noise lives on (0, 1): the min-max-normalised fields are clamped to \
             [{JACOBI_CLAMP}, {}] and the flow runs in logit space",
            1.0 - JACOBI_CLAMP
        );
    }
    let noisy = noisy_training_set(&data.selected, &data.meta, &spec, model.as_ref())?;
    eprintln!(
        "{}: {} noisy training fields ({} held out) of {} values, noise {spec}",
        method.name(),
        noisy.len(),
        data.meta.test.len(),
        noisy.dim()
    );
    let sample = move |x0: &[f32], rng: &mut dyn RngCore| -> Vec<f32> { model.sample(x0, rng) };
    if matches!(spec, NoiseSpec::Jacobi { .. }) {
        train_with::<B, _>(args, method, InLogitSpace(sample), &noisy, &data, device)
    } else {
        train_with::<B, _>(args, method, sample, &noisy, &data, device)
    }
}

fn train_with<B: AutodiffBackend, N: ConditionalNoise>(
    args: &DenoiseTrainArgs,
    method: InverseMethod,
    noise: N,
    noisy: &SignalDataset,
    data: &PreparedData,
    device: &B::Device,
) -> Result<()> {
    let c = &args.common;
    let meta = &data.meta;
    let mesh = data.selected.domain.mesh();
    let mut trainer = if c.resume {
        check_same_meta(&c.out, meta)?;
        let saved = RunMeta::load(&c.out)?;
        if saved.noise != meta.noise || saved.method != meta.method {
            bail!(
                "--resume: {} was trained with method {:?} and noise {:?}, not {:?} and {:?}",
                c.out.display(),
                saved.method,
                saved.noise,
                meta.method,
                meta.noise
            );
        }
        prepare_resume(c)?;
        let path = c.out.join("config.json");
        let saved = InverseFlowConfig::load(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        check_resume_network(args, &saved, &path)?;
        let basis = resume_basis(&c.out, &saved, mesh)?;
        InverseFlowTrainer::<B, N>::resume_with_basis(&c.out, basis.as_ref(), noise, noisy, device)?
    } else {
        let network = InverseFlowConfig::network(noisy.dim())
            .with_hidden(args.hidden.unwrap_or(512))
            .with_blocks(args.blocks.unwrap_or(2))
            .with_seed(c.seed);
        let spectral = (args.network == Some(NetworkArg::Spectral)).then(|| {
            SpectralFilterConfig::new()
                .with_modes(args.modes.unwrap_or(128))
                .with_coefficient_mlp(!args.no_coefficient_mlp)
        });
        let mut config = InverseFlowConfig::new(network)
            .with_spectral(spectral)
            .with_method(method)
            .with_space(noise.space())
            .with_t_max(args.t_max.unwrap_or(0.2))
            .with_ifm_velocity(match args.ifm_velocity {
                None | Some(IfmVelocityArg::Direct) => None,
                Some(IfmVelocityArg::Denoiser) => Some(IfmVelocity::Denoiser),
            })
            .with_seed(c.seed)
            .with_checkpoint_every(c.checkpoint_every);
        apply_common_overrides!(config, c);
        config.validate()?;
        let basis = compute_basis(&config, mesh)?;
        let t = InverseFlowTrainer::<B, N>::new_with_basis(
            config,
            basis.as_ref(),
            noise,
            noisy,
            Some(&c.out),
            device,
        )?;
        if let Some(b) = &basis {
            save_basis(&c.out, b, mesh)?;
        }
        meta.save(&c.out)?;
        t
    };
    track_trainer!(c, method.name(), trainer)
}

/// A `--model` path: a run directory (its latest checkpoint), or one of its checkpoint
/// directories (`RUN/checkpoint-000003600`, kept by `--keep-checkpoints`). Returns the run
/// directory and the checkpoint, if one was named.
fn split_model_path(path: &Path) -> (&Path, Option<&Path>) {
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("checkpoint-"));
    match path.parent() {
        Some(run) if named && run.join("meshflow.json").is_file() => (run, Some(path)),
        _ => (path, None),
    }
}

/// `meshflow.json` of a denoiser run (or of the run of a checkpoint directory), with its
/// noise spec.
fn load_denoiser_meta(path: &Path) -> Result<(RunMeta, NoiseSpec)> {
    let (dir, _) = split_model_path(path);
    let meta = RunMeta::load(dir)?;
    match (&meta.noise, meta.kind.as_str()) {
        (Some(noise), KIND) => {
            let spec = noise
                .parse()
                .with_context(|| format!("the noise spec in {}/meshflow.json", dir.display()))?;
            Ok((meta, spec))
        }
        _ => bail!(
            "{} is not a denoiser run (its meshflow.json says kind `{}`); give a directory \
             written by `meshflow denoise train`",
            dir.display(),
            meta.kind
        ),
    }
}

/// A trained denoiser, loaded once for every batch it denoises.
struct LoadedDenoiser<B: Backend> {
    denoiser: InverseDenoiser<B>,
    /// `mlp` or `spectral`.
    network: &'static str,
    /// Seconds a spectral eigenbasis taken from the cache cost when it was computed (0
    /// otherwise), charged to this run's timing.
    cached_basis_secs: f64,
}

impl<B: Backend> LoadedDenoiser<B> {
    /// Loads the denoiser of `--model` `path` (a run or one of its checkpoints) on `mesh`.
    fn load(
        path: &Path,
        mesh: &TriMesh,
        bases: &mut BasisCache,
        device: &B::Device,
    ) -> Result<Self> {
        let (dir, checkpoint) = split_model_path(path);
        let config_path = dir.join("config.json");
        let config = InverseFlowConfig::load(&config_path)
            .with_context(|| format!("reading {}", config_path.display()))?;
        let (basis, cached_basis_secs) = bases.get(dir, &config, mesh)?;
        let denoiser = match checkpoint {
            Some(c) => InverseDenoiser::<B>::load_checkpoint_with_basis(dir, c, basis, device),
            None => InverseDenoiser::<B>::load_with_basis(dir, basis, device),
        }
        .with_context(|| format!("loading the denoiser in {}", path.display()))?;
        let network = match denoiser.network() {
            InverseNetwork::Mlp(_) => "mlp",
            InverseNetwork::Spectral(_) => "spectral",
        };
        Ok(Self {
            denoiser,
            network,
            cached_basis_secs,
        })
    }

    /// Denoises `[F][V]` normalised fields, projected onto the support of the clean signal
    /// the noise model assumes ([`project_to_support`]).
    fn denoise(&self, spec: &NoiseSpec, noisy: &[Vec<f32>], device: &B::Device) -> Vec<Vec<f32>> {
        let (f, d) = (noisy.len(), noisy[0].len());
        let out = self
            .denoiser
            .denoise(util::tensor2::<B>(noisy.concat(), f, d, device));
        let mut out = util::to_vec(out);
        project_to_support(spec, &mut out);
        out.chunks(d).map(<[f32]>::to_vec).collect()
    }
}

/// Loads the denoiser of `path` and denoises `noisy` with it; returns the denoiser, the
/// denoised fields and the seconds per field (loading, including a spectral network's
/// eigenbasis even when `bases` already held it, included).
fn run_denoiser<B: Backend>(
    path: &Path,
    spec: &NoiseSpec,
    mesh: &TriMesh,
    noisy: &[Vec<f32>],
    bases: &mut BasisCache,
    device: &B::Device,
) -> Result<(LoadedDenoiser<B>, Vec<Vec<f32>>, f64)> {
    let t0 = Instant::now();
    let loaded = LoadedDenoiser::<B>::load(path, mesh, bases, device)?;
    let out = loaded.denoise(spec, noisy, device);
    let secs = t0.elapsed().as_secs_f64() + loaded.cached_basis_secs;
    Ok((loaded, out, secs / noisy.len() as f64))
}

/// Projects clean-signal estimates onto the support the noise model assumes for `x₀`: a
/// Poisson rate is non-negative (the noise model clamps a negative `x₀` to 0), so negative
/// estimates are set to 0. The other models put no bound on `x₀` (multiplicative Gamma noise
/// keeps any sign; Jacobi estimates already lie in `(0, 1)`, the flow runs in logit space).
fn project_to_support(spec: &NoiseSpec, values: &mut [f32]) {
    if matches!(spec, NoiseSpec::Poisson { .. }) {
        values.iter_mut().for_each(|v| *v = v.max(0.0));
    }
}

/// Recorrupted pairs drawn per evaluation field.
const RECORRUPTIONS: usize = 2;

/// [`RECORRUPTIONS`] recorrupted pairs of each noisy field (`[F·R][V]`, field-major), drawn
/// once and shared by every method of an evaluation.
struct RecorruptedFields {
    inputs: Vec<Vec<f32>>,
    targets: Vec<Vec<f32>>,
    target_variances: Vec<Vec<f32>>,
}

impl RecorruptedFields {
    /// `None` where the noise has no recorruption (gamma, jacobi).
    fn draw(
        spec: &NoiseSpec,
        model: &dyn NoiseModel,
        noisy: &[Vec<f32>],
        seed: u64,
    ) -> Result<Option<Self>> {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x7265_636f_7272_7570); // "recorrup"
        let mut out = Self {
            inputs: Vec::new(),
            targets: Vec::new(),
            target_variances: Vec::new(),
        };
        for y in noisy {
            for _ in 0..RECORRUPTIONS {
                let Some(r) = recorrupt(spec, model, y, &mut rng)? else {
                    return Ok(None);
                };
                out.inputs.push(r.input);
                out.targets.push(r.target);
                out.target_variances.push(r.target_noise_variance);
            }
        }
        Ok(Some(out))
    }

    /// `−10·log10` of the estimated MSE of `outputs` (one per input; data range 1, weighted
    /// by `area` where given); `None` when the estimate is not positive (too few values).
    fn psnr(&self, outputs: &[Vec<f32>], area: Option<&[f64]>) -> Option<f64> {
        let mut mse = 0.0;
        for ((o, t), var) in outputs
            .iter()
            .zip(&self.targets)
            .zip(&self.target_variances)
        {
            let (mut num, mut den) = (0.0, 0.0);
            for i in 0..t.len() {
                let w = area.map_or(1.0, |a| a[i]);
                num += w * (f64::from(o[i] - t[i]).powi(2) - f64::from(var[i]));
                den += w;
            }
            mse += num / den;
        }
        let mse = mse / outputs.len() as f64;
        (mse > 0.0).then(|| -10.0 * mse.log10())
    }
}

/// What `denoise eval` prints with `--json`.
#[derive(Debug, Serialize)]
struct EvalReport<'a> {
    fields: Vec<&'a str>,
    noise: String,
    methods: &'a [MethodScore],
    notes: &'a [String],
    /// The result directory (`--out`), when one was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    out: Option<&'a Path>,
}

fn eval_on<B: AutodiffBackend>(args: &DenoiseEvalArgs, device: &B::Device) -> Result<()> {
    let (meta, model_spec) = load_denoiser_meta(&args.models[0])?;
    let spec = match &args.noise {
        Some(s) => parse_noise(s)?,
        None => model_spec,
    };
    let run = args.models[0].display().to_string();
    let ScoredFields {
        selected,
        fields,
        own_split,
        mut truth,
    } = meta.scored_fields(&args.selection, args.limit, &run)?;
    let norm = meta.normalisation;
    fit_to_noise(&spec, &mut truth);
    let mesh = selected.domain.mesh();
    let model = spec.build(Some(mesh))?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let noisy_flat = model
        .try_sample(&truth.concat(), &mut rng)
        .context("corrupting the evaluation fields")?;
    let v = meta.dim;
    let noisy: Vec<Vec<f32>> = noisy_flat.chunks(v).map(<[f32]>::to_vec).collect();
    let f = fields.len();

    let mut recon: Vec<(String, Vec<Vec<f32>>, f64)> = vec![("noisy".into(), noisy.clone(), 0.0)];
    // Recorrupted pairs of the same noisy fields, shared by every method: each method's PSNR
    // estimated without the clean fields, next to the one scored with them.
    let weights = selected.domain.area_weights();
    let pairs = RecorruptedFields::draw(&spec, model.as_ref(), &noisy, args.seed)?;
    let mut estimated: Vec<Option<f64>> =
        vec![pairs.as_ref().and_then(|p| p.psnr(&p.inputs, weights))];
    let mut notes = Vec::new();
    let steps = args.models.len() + if args.baselines { 2 } else { 0 };
    let mut bases = BasisCache::default();
    let mut bar = Progress::new("eval", steps, 0, args.quiet || args.json);
    for dir in &args.models {
        let (m, _) = load_denoiser_meta(dir)?;
        if m.dim != meta.dim || m.normalisation != meta.normalisation {
            bail!(
                "{} was trained on other fields ({} values, normalisation {:?}) than {} \
                 ({} values, {:?}); compare models trained on the same selection",
                dir.display(),
                m.dim,
                m.normalisation,
                args.models[0].display(),
                meta.dim,
                meta.normalisation
            );
        }
        let (loaded, out, per) =
            run_denoiser::<B::InnerBackend>(dir, &spec, mesh, &noisy, &mut bases, device)?;
        let network = loaded.network;
        let method = m.method.clone().unwrap_or_else(|| "denoiser".into());
        let base = match network {
            "mlp" => method,
            _ => format!("{method}-{network}"),
        };
        let name = if recon.iter().any(|(n, _, _)| *n == base) {
            format!("{base}:{}", dir.display())
        } else {
            base
        };
        bar.tick(&name);
        recon.push((name, out, per));
        estimated.push(
            pairs
                .as_ref()
                .and_then(|p| p.psnr(&loaded.denoise(&spec, &p.inputs, device), weights)),
        );
    }

    if args.baselines {
        // Heat smoothing, its time chosen from the noisy fields alone.
        let t0 = Instant::now();
        let (l, m) = heat_operators(mesh);
        let area: f64 = mesh.vertex_dual_areas().iter().sum();
        let times = log_grid(1e-6 * area, 1e-1 * area, 21)?;
        let (name, choice) = match spec {
            NoiseSpec::Gaussian { sigma } if sigma > 0.0 => (
                "heat-sure",
                sure_heat_time(&l, &m, &noisy_flat, sigma, &times, 8, &mut rng)?,
            ),
            _ => {
                let resample = |x: &[f32], r: &mut dyn RngCore| -> Vec<f32> { model.sample(x, r) };
                (
                    "heat-n2n",
                    noisier_heat_time(&l, &m, &noisy_flat, &resample, &times, &mut rng)?,
                )
            }
        };
        let smoothed = heat_denoise(&l, &m, &noisy_flat, choice.time)?;
        let per = t0.elapsed().as_secs_f64() / f as f64;
        notes.push(format!("{name}: heat time {:.3e}", choice.time));
        recon.push((
            name.into(),
            smoothed.chunks(v).map(<[f32]>::to_vec).collect(),
            per,
        ));
        estimated.push(match &pairs {
            Some(p) => {
                let out = heat_denoise(&l, &m, &p.inputs.concat(), choice.time)?;
                p.psnr(
                    &out.chunks(v).map(<[f32]>::to_vec).collect::<Vec<_>>(),
                    weights,
                )
            }
            None => None,
        });
        bar.tick(name);
        // Noise2Score / Tweedie with a score prior of the noisy training fields.
        match tweedie_baseline::<B>(args, &meta, &spec, model.as_ref(), &noisy, device)? {
            Ok((out, per)) => {
                recon.push(("tweedie".into(), out, per));
                estimated.push(None);
            }
            Err(why) => notes.push(format!("tweedie: not run: {why}")),
        }
        bar.tick("tweedie");
    }
    bar.finish();

    let scale = norm.offset_scale().1;
    let scores = recon
        .iter()
        .zip(&estimated)
        .map(|((name, preds, per), est)| {
            let s = score(
                name,
                preds,
                &truth,
                None,
                None,
                &selected.domain,
                scale,
                *per,
            )?;
            Ok(MethodScore {
                psnr_from_noisy: *est,
                ..s
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if pairs.is_some() {
        notes.push(format!(
            "psnr~noisy: PSNR estimated from the noisy fields alone ({RECORRUPTIONS} recorrupted \
             pairs per field: {}), for choosing models and checkpoints without clean data",
            match spec {
                NoiseSpec::Poisson { k } =>
                    format!("Poisson thinning, inputs at poisson:{}", POISSON_KEEP * k),
                _ => format!(
                    "Gaussian recorruption, inputs at {:.3}× the noise std",
                    (1.0 + GAUSSIAN_ALPHA * GAUSSIAN_ALPHA).sqrt()
                ),
            }
        ));
    }
    let labels: Vec<String> = fields.iter().map(|&i| selected.labels[i].clone()).collect();
    let units = selected.units.clone();
    if let Some(dir) = &args.out {
        let result = ImputeOutput {
            task: ResultTask::Denoise,
            masks: vec![Mask::all_observed(v); f],
            measurements: noisy,
            recon: recon.into_iter().map(|(name, p, _)| (name, p)).collect(),
            std: None,
            samples: Vec::new(),
            scores: scores.clone(),
            selected,
            fields,
            normalisation: norm,
        };
        write_result(dir, &result)?;
    }
    if args.json {
        let report = EvalReport {
            fields: labels.iter().map(String::as_str).collect(),
            noise: spec.to_string(),
            methods: &scores,
            notes: &notes,
            out: args.out.as_deref(),
        };
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let which = if own_split {
            "held-out fields of the model's split"
        } else {
            "fields of the given selection"
        };
        println!("{f} {which}, noise {spec}");
        print!("{}", score_table(&scores, units.as_deref()));
        for n in &notes {
            println!("{n}");
        }
        if let Some(dir) = &args.out {
            println!("results written to {}", dir.display());
        }
    }
    Ok(())
}

/// Noise2Score: a VP-SDE score prior trained on the noisy training fields of the first model's
/// selection, then Tweedie's formula with the known noise covariance. `Ok(Err(why))` when the
/// noise is not additive Gaussian (Tweedie's formula does not apply).
#[allow(clippy::type_complexity)]
fn tweedie_baseline<B: AutodiffBackend>(
    args: &DenoiseEvalArgs,
    meta: &RunMeta,
    spec: &NoiseSpec,
    model: &dyn NoiseModel,
    noisy: &[Vec<f32>],
    device: &B::Device,
) -> Result<std::result::Result<(Vec<Vec<f32>>, f64), String>> {
    let correlated = match *spec {
        NoiseSpec::Gaussian { sigma } if sigma > 0.0 => None,
        NoiseSpec::Correlated { sigma, length } if sigma > 0.0 => Some((sigma, length)),
        _ => {
            return Ok(Err(format!(
                "Tweedie's formula needs additive Gaussian noise, not `{spec}`"
            )))
        }
    };
    let train_sel = meta.selection.load()?;
    let train = noisy_training_set(&train_sel, meta, spec, model)?;
    let t0 = Instant::now();
    let net = MlpScoreConfig::new(meta.dim)
        .with_hidden(args.tweedie_hidden)
        .with_seed(args.seed);
    let config = TrainConfig::new(net)
        .with_steps(args.tweedie_steps)
        .with_seed(args.seed)
        .with_checkpoint_every(0);
    let mut trainer = ScorePriorTrainer::<B>::new(config, &train, None, device)?;
    trainer.run(|_| ControlFlow::Continue(()))?;
    let score_net = trainer.ema_model().clone();
    let eps = trainer.config().model.sde.eps;
    let (f, d) = (noisy.len(), meta.dim);
    let x1 = util::tensor2::<B::InnerBackend>(noisy.concat(), f, d, device);
    let out = match (correlated, spec) {
        (None, NoiseSpec::Gaussian { sigma }) => tweedie_denoise(
            &score_net,
            x1,
            eps,
            &NoiseCovariance::Isotropic(sigma * sigma),
        ),
        (Some((sigma, length)), _) => {
            let noise = CorrelatedGaussianNoise::new(train_sel.domain.mesh(), sigma, length)?;
            let apply = |v: &[f32]| -> Vec<f32> {
                let x: Vec<f64> = v.iter().map(|&a| a as f64).collect();
                noise
                    .apply_covariance(&x)
                    .expect("one field of the mesh's vertex count")
                    .into_iter()
                    .map(|a| a as f32)
                    .collect()
            };
            tweedie_denoise(&score_net, x1, eps, &NoiseCovariance::Apply(&apply))
        }
        _ => unreachable!("checked above"),
    };
    let out = util::to_vec(out);
    let per = t0.elapsed().as_secs_f64() / f as f64;
    Ok(Ok((out.chunks(d).map(<[f32]>::to_vec).collect(), per)))
}

fn apply_on<B: AutodiffBackend>(args: &DenoiseApplyArgs, device: &B::Device) -> Result<()> {
    let (meta, spec) = load_denoiser_meta(&args.model)?;
    let ext = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("nc" | "npz" | "ply")) {
        bail!(
            "--out {}: write `.nc` (CF NetCDF, grids), `.npz` or `.ply`",
            args.out.display()
        );
    }
    let selected = args.selection.load()?;
    meta.check_dim(selected.domain.num_vertices(), "the denoiser")?;
    let fields: Vec<usize> = (0..selected.fields.len()).collect();
    let norm: Normalisation = meta.normalisation;
    let mut noisy = normalised_rows(&selected, &fields, &norm)?;
    fit_to_noise(&spec, &mut noisy);
    let mesh = selected.domain.mesh();
    let mut bases = BasisCache::default();
    let (_, out, per) =
        run_denoiser::<B::InnerBackend>(&args.model, &spec, mesh, &noisy, &mut bases, device)?;
    let denoised: Vec<Vec<f32>> = out.iter().map(|p| physical(p, &norm)).collect();
    let method = meta.method.as_deref().unwrap_or("denoiser");
    if ext.as_deref() == Some("nc") {
        let var = GridVar {
            name: selected.name.clone(),
            fields: denoised,
            long_name: format!(
                "{} denoised by meshflow ({method}, trained for {spec})",
                selected.long_name.as_deref().unwrap_or(&selected.name)
            ),
            units: selected.units.clone(),
            standard_name: selected.standard_name.clone(),
        };
        let history = format!("meshflow denoise apply ({method}, {spec})");
        if !write_grid_nc(&args.out, &selected, &fields, vec![var], history)? {
            bail!("NetCDF output needs fields on a latitude-longitude grid; write `.npz` instead");
        }
    } else if ext.as_deref() == Some("ply") {
        let names: Vec<String> = fields
            .iter()
            .map(|&i| {
                selected.labels[i]
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join("_")
            })
            .collect();
        let values: Vec<Vec<f64>> = denoised
            .iter()
            .map(|d| d.iter().map(|&x| f64::from(x)).collect())
            .collect();
        let props: Vec<(&str, &[f64])> = names
            .iter()
            .zip(&values)
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        write_ply(&args.out, mesh, &props, None)
            .with_context(|| format!("writing {}", args.out.display()))?;
    } else {
        let (f, v) = (denoised.len(), meta.dim);
        let array = NpyArray::F32(NdArray::new(vec![f, v], denoised.concat())?);
        write_npz(&args.out, &[(selected.name.as_str(), &array)])
            .with_context(|| format!("writing {}", args.out.display()))?;
    }
    eprintln!(
        "{} fields denoised with {method} ({per:.4} s/field), written to {}",
        fields.len(),
        args.out.display()
    );
    Ok(())
}

/// The cotan Laplacian and lumped mass for heat smoothing. A vertex no face uses (scans have
/// them: the Stanford `bun_zipper_res3.ply` has 2) has zero mass and no neighbours, which
/// makes `M + tL` singular; it gets the mean vertex mass, so smoothing leaves it unchanged.
fn heat_operators(mesh: &crate::geometry::TriMesh) -> (sprs::CsMat<f64>, sprs::CsMat<f64>) {
    let mut mass = mesh.vertex_dual_areas();
    let positive: Vec<f64> = mass.iter().copied().filter(|&a| a > 0.0).collect();
    let mean = positive.iter().sum::<f64>() / positive.len().max(1) as f64;
    mass.iter_mut()
        .filter(|a| **a <= 0.0)
        .for_each(|a| *a = mean);
    (cotan_laplacian(mesh), diagonal_matrix(mass))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{sphere::SphereGrid, TriMesh};

    /// Heat smoothing on a scan with an unused vertex: it runs (the plain lumped mass is
    /// singular there), leaves that vertex's value as it was, and smooths the rest as on the
    /// clean mesh.
    #[test]
    fn heat_smoothing_runs_on_a_mesh_with_an_unused_vertex() {
        let clean = SphereGrid::icosphere(2).mesh().clone();
        let v = clean.num_vertices();
        let mut positions = clean.positions().to_vec();
        positions.push(positions[0] * 1.05);
        let scan = TriMesh::new(positions, clean.faces().to_vec()).unwrap();
        let field: Vec<f32> = (0..=v).map(|i| ((i * 7919) % 13) as f32 / 13.0).collect();
        let (l, m) = heat_operators(&scan);
        let smoothed = heat_denoise(&l, &m, &field, 1e-2).unwrap();
        assert_eq!(smoothed[v], field[v]);
        let (lc, mc) = heat_operators(&clean);
        let expected = heat_denoise(&lc, &mc, &field[..v], 1e-2).unwrap();
        for (a, b) in smoothed[..v].iter().zip(&expected) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        let plain = crate::geometry::operators::vertex_lumped_mass_matrix(&scan);
        assert!(heat_denoise(&l, &plain, &field, 1e-2).is_err());
    }

    #[test]
    fn poisson_estimates_are_projected_onto_non_negative_rates() {
        let mut v = vec![-0.2f32, 0.0, 0.3];
        project_to_support(&parse_noise("poisson:10").unwrap(), &mut v);
        assert_eq!(v, [0.0, 0.0, 0.3]);
        for spec in ["gaussian:0.1", "gamma:0.2"] {
            let mut v = vec![-0.2f32, 0.3];
            project_to_support(&parse_noise(spec).unwrap(), &mut v);
            assert_eq!(v, [-0.2, 0.3], "{spec}");
        }
    }
}

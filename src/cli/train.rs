//! `meshflow train-prior` (a VP-SDE score prior on clean fields) and `meshflow train-sampler`
//! (the amortized conditional RealNVP posterior sampler against that frozen prior).
//!
//! A run directory holds the flows crate's `config.json` and checkpoints, plus `meshflow.json`
//! ([`RunMeta`]: the data selection, the train/test split, the normalisation and the task) and
//! `history.csv` (`step,loss`). Re-running the same command with `--resume` continues from
//! the last checkpoint after a kill.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::config::Config;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use super::backend::{with_backend, DeviceArg};
use super::progress::Progress;
use super::select::{Selected, SelectionArgs};
use crate::datasets::tasks;
use crate::flows::amortized::DEFAULT_CLIP_FACTOR;
use crate::flows::prelude::*;
use crate::flows::realnvp::DEFAULT_CONTEXT_HIDDEN;
use crate::geometry::io::write_atomic;
use crate::geometry::signal::Normalisation;

/// What `meshflow` records beside a model (`meshflow.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// `prior`, `sampler` or `denoiser`.
    pub kind: String,
    /// The data the model was trained on.
    pub selection: SelectionArgs,
    /// Fraction of the selected times held out for testing.
    pub test_fraction: f64,
    /// Seed of the split.
    pub split_seed: u64,
    /// Training fields (indices into the selection).
    pub train: Vec<usize>,
    /// Held-out fields (indices into the selection).
    pub test: Vec<usize>,
    /// Signal dimension (vertices).
    pub dim: usize,
    /// Physical units → network units.
    pub normalisation: Normalisation,
    /// Variable name and units.
    pub variable: String,
    /// Units of the variable, if known.
    pub units: Option<String>,
    /// The prior a sampler was trained against.
    pub prior: Option<PathBuf>,
    /// Fraction of vertices hidden (sampler).
    pub mask_rate: Option<f64>,
    /// Noise standard deviation in normalised units (sampler).
    pub noise_sigma: Option<f64>,
    /// The noise model `p(x₁ | x₀)` a denoiser was trained for, as a spec (`gaussian:0.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<String>,
    /// `icm` or `ifm` (denoiser).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

impl RunMeta {
    /// Reads `dir/meshflow.json`.
    pub fn load(dir: &Path) -> Result<RunMeta> {
        let path = dir.join("meshflow.json");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {}: is {} a directory written by `meshflow train-prior`, \
                 `train-sampler` or `denoise train`?",
                path.display(),
                dir.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join("meshflow.json");
        write_atomic(&path, serde_json::to_string_pretty(self)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// Options shared by both trainers.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonTrainArgs {
    /// Run directory (created; must be new unless `--resume`).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Optimiser steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Batch size.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate (at the first step).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Cosine decay of the learning rate to this fraction of `--lr` at the last step, in
    /// (0, 1]; 1 keeps it constant. Defaults: 0.1 for `train-sampler`, 1 otherwise.
    #[arg(long, value_name = "F")]
    pub final_lr_fraction: Option<f64>,
    /// Seed of initialisation, batches and noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write a checkpoint every this many steps.
    #[arg(long, default_value_t = 500)]
    pub checkpoint_every: usize,
    /// How many of the most recent checkpoints to keep on disk (≥ 1; default 2); raise it to
    /// score intermediate checkpoints later. May change on `--resume`.
    #[arg(long, value_name = "N")]
    pub keep_checkpoints: Option<usize>,
    /// Continue the run in `--out` from its last checkpoint (the data selection must be the
    /// same); `--steps` may raise the total.
    #[arg(long)]
    pub resume: bool,
    /// Where to train.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// No progress bar; print one JSON object (`model`, `out`, `steps`, `last_loss`,
    /// `checkpoint`, `seconds`) when training ends.
    #[arg(long)]
    pub json: bool,
}

impl CommonTrainArgs {
    /// Whether progress bars are hidden.
    pub fn silent(&self) -> bool {
        self.quiet || self.json
    }
}

/// Where a training run ended: what [`track_steps`] reports.
pub(crate) struct Trained {
    /// Completed steps.
    pub steps: usize,
    /// Loss of the last step.
    pub last_loss: Option<f32>,
    /// The last checkpoint written.
    pub checkpoint: Option<PathBuf>,
}

/// The end-of-training report of every trainer: one line on stderr, or with `--json` one
/// object on stdout.
fn report_trained(c: &CommonTrainArgs, what: &str, trained: &Trained, seconds: f64) -> Result<()> {
    let Trained {
        steps,
        last_loss,
        checkpoint,
    } = trained;
    if c.json {
        let v = serde_json::json!({
            "model": what,
            "out": c.out,
            "steps": steps,
            "last_loss": last_loss,
            "checkpoint": checkpoint,
            "seconds": seconds,
        });
        println!("{}", serde_json::to_string(&v)?);
    } else {
        eprintln!(
            "{what} trained: {steps} steps in {seconds:.1} s, last loss {:.4}, checkpoint {}",
            last_loss.unwrap_or(f32::NAN),
            checkpoint
                .as_ref()
                .map_or("-".into(), |p| p.display().to_string())
        );
    }
    Ok(())
}

/// Arguments of `meshflow train-prior`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainPriorArgs {
    /// The clean training fields.
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Fraction of the times held out for testing (never trained on).
    #[arg(long, default_value_t = 0.25)]
    pub test_fraction: f64,
    /// Width of the score network's hidden layers [default: 512]. Like the other network
    /// options, fixed when the run starts: on `--resume` it may only repeat the saved value.
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Residual blocks of the score network [default: 2].
    #[arg(long)]
    pub blocks: Option<usize>,
    /// β_max of the VP-SDE (β_min = 0.1) [default: 20].
    #[arg(long)]
    pub beta_max: Option<f64>,
    /// Data standard deviation σ_d of the network's EDM-style preconditioning (normalised
    /// units); 0 turns it off (the plain noise-predicting MLP, which cannot represent the
    /// noise when --hidden is below the number of vertices) [default: 0.5].
    #[arg(long)]
    pub sigma_data: Option<f64>,
    /// The network works in at most this many principal directions (EOFs) of the training
    /// fields, each preconditioned with its own standard deviation, and treats the rest as a
    /// Gaussian with a cross-validated variance; 0 = off (one σ_d for every vertex, see
    /// --sigma-data). With few training fields the prior is then sharp where they say nothing
    /// [default: 512].
    #[arg(long)]
    pub basis_rank: Option<usize>,
    /// Training options.
    #[command(flatten)]
    pub common: CommonTrainArgs,
}

/// Arguments of `meshflow train-sampler`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainSamplerArgs {
    /// The prior run directory (`meshflow train-prior --out DIR`); its data selection and
    /// split are used unless a selection is given here.
    #[arg(long, value_name = "DIR")]
    pub prior: PathBuf,
    /// The clean fields whose simulated measurements the sampler is amortized over (default:
    /// the prior's training fields).
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// A built-in task giving the mask rate and noise (`era5-imputation`: 60 %, σ 0.05;
    /// `bunny-mnist`: 30 %, σ 0.1).
    #[arg(long, value_name = "NAME")]
    pub task: Option<String>,
    /// Fraction of vertices hidden in the simulated measurements.
    #[arg(long)]
    pub mask_rate: Option<f64>,
    /// Noise standard deviation in normalised units.
    #[arg(long)]
    pub sigma: Option<f64>,
    /// Flow steps K of the conditional RealNVP [default: 8]. Like the other flow and loss
    /// options, fixed when the run starts: on `--resume` it may only repeat the saved value.
    #[arg(long)]
    pub flow_steps: Option<usize>,
    /// Hidden units of the coupling networks (default max(D/8, 8)).
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Width E of the context embedding: every coupling sees the measurement and its mask
    /// through E numbers from a shared encoder; 0 feeds the raw `[y, mask]` (2 D values) to
    /// every coupling instead (exact, and far more weights). Default: 0 for `--task
    /// bunny-mnist`, 128 otherwise.
    #[arg(long, value_name = "E")]
    pub context_embedding: Option<usize>,
    /// Hidden units of the context encoder (one SiLU layer) [default: 256].
    #[arg(long)]
    pub context_hidden: Option<usize>,
    /// Draws of z per measurement per step [default: 4].
    #[arg(long)]
    pub z_per_y: Option<usize>,
    /// Weight λ of the prior term [default: 1].
    #[arg(long)]
    pub prior_weight: Option<f64>,
    /// Clip each step's gradient to this multiple of the run's running mean gradient norm
    /// (guards against a single outlier batch derailing the flow); 0 turns clipping off
    /// [default: 5].
    #[arg(long)]
    pub clip_factor: Option<f64>,
    /// Training options.
    #[command(flatten)]
    pub common: CommonTrainArgs,
}

/// `meshflow train-prior`.
pub fn train_prior(args: &TrainPriorArgs) -> Result<()> {
    with_backend!(args.common.device, |device| train_prior_on::<B>(
        args, &device
    ))
}

/// `meshflow train-sampler`.
pub fn train_sampler(args: &TrainSamplerArgs) -> Result<()> {
    with_backend!(args.common.device, |device| train_sampler_on::<B>(
        args, &device
    ))
}

/// The training fields of a selection in normalised units, with the metadata to save.
pub(crate) struct PreparedData {
    pub selected: Selected,
    pub meta: RunMeta,
    pub dataset: SignalDataset,
}

/// Loads a selection, splits it and normalises the training fields.
pub(crate) fn prepare(
    selection: &SelectionArgs,
    test_fraction: f64,
    split_seed: u64,
    kind: &str,
) -> Result<PreparedData> {
    let selected = selection.load()?;
    let (train, test) = selected.split(test_fraction, split_seed)?;
    if train.is_empty() {
        bail!("no training fields left after holding out the test times");
    }
    let normalisation = selected.normalisation(&train)?;
    let rows = normalised_rows(&selected, &train, &normalisation)?;
    let dataset = SignalDataset::from_rows(&rows)?;
    let meta = RunMeta {
        kind: kind.into(),
        selection: selection.clone(),
        test_fraction,
        split_seed,
        dim: selected.domain.num_vertices(),
        normalisation,
        variable: selected.name.clone(),
        units: selected.units.clone(),
        prior: None,
        mask_rate: None,
        noise_sigma: None,
        noise: None,
        method: None,
        train,
        test,
    };
    Ok(PreparedData {
        selected,
        meta,
        dataset,
    })
}

/// The clean fields a command scores a trained run on (`impute`, `denoise eval`).
pub(crate) struct ScoredFields {
    /// The selection read (the run's own, or the command's).
    pub selected: Selected,
    /// Indices of the scored fields in `selected`.
    pub fields: Vec<usize>,
    /// Whether `fields` is the run's held-out split (else all fields of another selection).
    pub own_split: bool,
    /// The scored fields in the run's normalised units, `[fields.len()][dim]`.
    pub truth: Vec<Vec<f32>>,
}

impl RunMeta {
    /// Errors unless a selection of `dim` values per field fits this run (`run` names it).
    pub(crate) fn check_dim(&self, dim: usize, run: &str) -> Result<()> {
        if dim != self.dim {
            bail!(
                "the selection has {dim} values per field but {run} was trained on {}",
                self.dim
            );
        }
        Ok(())
    }

    /// Reads the fields to score this run on: its held-out split when `selection` (the
    /// command's) is empty or selects the run's own data, so training fields are never scored
    /// by accident; otherwise every field of `selection`; at most `limit`. Errors when the
    /// fields have another dimension than the run (`run` names it in the message), when none
    /// is left, or on a missing value.
    pub(crate) fn scored_fields(
        &self,
        selection: &SelectionArgs,
        limit: Option<usize>,
        run: &str,
    ) -> Result<ScoredFields> {
        let given = *selection != SelectionArgs::default();
        let own_split = !given || selection.selects_same_as(&self.selection);
        let selected = if given {
            selection.load()?
        } else {
            self.selection.load()?
        };
        self.check_dim(selected.domain.num_vertices(), run)?;
        let mut fields: Vec<usize> = if own_split {
            self.test.clone()
        } else {
            (0..selected.fields.len()).collect()
        };
        if let Some(n) = limit {
            fields.truncate(n);
        }
        if fields.is_empty() {
            bail!("no field to score ({run}'s selection has no held-out test field)");
        }
        let truth = normalised_rows(&selected, &fields, &self.normalisation)?;
        Ok(ScoredFields {
            selected,
            fields,
            own_split,
            truth,
        })
    }
}

/// The fields `indices` in normalised units; errors on a missing value (training needs
/// complete fields).
pub(crate) fn normalised_rows(
    selected: &Selected,
    indices: &[usize],
    normalisation: &Normalisation,
) -> Result<Vec<Vec<f32>>> {
    indices
        .iter()
        .map(|&i| {
            let mut v = selected.fields[i].clone();
            if let Some(j) = v.iter().position(|x| !x.is_finite()) {
                bail!(
                    "field {i} ({}) has a missing value at vertex {j}: training needs complete \
                     fields (select others with --fields)",
                    selected.labels[i]
                );
            }
            normalisation.apply(&mut v);
            Ok(v)
        })
        .collect()
}

fn train_prior_on<B: AutodiffBackend>(args: &TrainPriorArgs, device: &B::Device) -> Result<()> {
    let c = &args.common;
    let data = prepare(&args.selection, args.test_fraction, c.seed, "prior")?;
    let dim = data.dataset.dim();
    eprintln!(
        "prior: {} training fields ({} held out) of {} values",
        data.dataset.len(),
        data.meta.test.len(),
        dim
    );
    let mut trainer = if c.resume {
        check_same_meta(&c.out, &data.meta)?;
        prepare_resume(c)?;
        let path = c.out.join("config.json");
        let saved = TrainConfig::load(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .model;
        let rank = saved.data_basis_rank.unwrap_or(0);
        fixed_on_resume("--hidden", args.hidden, saved.hidden, &path)?;
        fixed_on_resume("--blocks", args.blocks, saved.blocks, &path)?;
        fixed_on_resume("--beta-max", args.beta_max, saved.sde.beta_max, &path)?;
        fixed_on_resume("--sigma-data", args.sigma_data, saved.sigma_data, &path)?;
        fixed_on_resume(
            "--basis-rank",
            args.basis_rank.map(|r| r.min(dim)),
            rank,
            &path,
        )?;
        ScorePriorTrainer::<B>::resume(&c.out, &data.dataset, device)?
    } else {
        let sde = VpSde::new().with_beta_max(args.beta_max.unwrap_or(20.0));
        let model = MlpScoreConfig::new(dim)
            .with_hidden(args.hidden.unwrap_or(512))
            .with_blocks(args.blocks.unwrap_or(2))
            .with_sigma_data(args.sigma_data.unwrap_or(0.5))
            .with_data_basis_rank(Some(args.basis_rank.unwrap_or(512).min(dim)))
            .with_sde(sde)
            .with_seed(c.seed);
        let mut config = TrainConfig::new(model)
            .with_seed(c.seed)
            .with_checkpoint_every(c.checkpoint_every);
        apply_common_overrides!(config, c);
        let t = ScorePriorTrainer::<B>::new(config, &data.dataset, Some(&c.out), device)?;
        data.meta.save(&c.out)?;
        t
    };
    if let Some(r) = trainer.config().model.data_basis_rank.filter(|&r| r > 0) {
        eprintln!("prior: the network works in {r} principal directions of the training fields");
    }
    track_trainer!(c, "prior", trainer)
}

/// Prepares `--resume`: the run continues with its saved `config.json`, so a `--batch-size`,
/// `--lr` or `--final-lr-fraction` that differs from the saved value is refused (rather than
/// silently ignored; repeating the original command with `--resume` is fine); `--steps` may
/// raise the saved total and `--keep-checkpoints` change the saved count (both written back to
/// `config.json`).
pub(crate) fn prepare_resume(c: &CommonTrainArgs) -> Result<()> {
    let path = c.out.join("config.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let fixed = [
        ("--batch-size", "batch_size", c.batch_size.map(|b| b as f64)),
        ("--lr", "learning_rate", c.lr),
        (
            "--final-lr-fraction",
            "final_lr_fraction",
            c.final_lr_fraction,
        ),
    ];
    for (flag, key, given) in fixed {
        let saved = v[key].as_f64();
        if given.is_some_and(|g| Some(g) != saved) {
            bail!(
                "{flag} cannot change on --resume: the run continues with the {key} in {} \
                 ({}); only --steps (raised) and --keep-checkpoints may change",
                path.display(),
                saved.map_or("none".to_string(), |x| x.to_string())
            );
        }
    }
    let mut changed = false;
    if let Some(k) = c.keep_checkpoints {
        if k == 0 {
            bail!("--keep-checkpoints must be >= 1");
        }
        changed |= v["keep_checkpoints"].as_u64() != Some(k as u64);
        v["keep_checkpoints"] = serde_json::json!(k);
    }
    if let Some(s) = c.steps {
        let saved = v["steps"].as_u64().unwrap_or(0) as usize;
        if s < saved {
            bail!("--steps {s} is below the run's {saved} steps; resume with --steps >= {saved}");
        }
        changed |= s > saved;
        v["steps"] = serde_json::json!(s.max(saved));
    }
    if changed {
        write_atomic(&path, serde_json::to_string_pretty(&v)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Refuses an option that fixes a run's model, loss or task when `--resume` gives it another
/// value than the run's saved `config` (it would be silently ignored: the run continues with
/// its saved configuration); not giving it, or repeating the saved value, is fine.
pub(crate) fn fixed_on_resume<T: PartialEq + std::fmt::Display>(
    flag: &str,
    given: Option<T>,
    saved: T,
    config: &Path,
) -> Result<()> {
    match given {
        Some(g) if g != saved => bail!(
            "{flag} cannot change on --resume: the run continues with {flag} {saved} as saved in              {} (given {g}); start a new run with another --out to change it",
            config.display()
        ),
        _ => Ok(()),
    }
}

pub(crate) fn check_same_meta(dir: &Path, meta: &RunMeta) -> Result<()> {
    let saved = RunMeta::load(dir)?;
    if saved.selection != meta.selection || saved.train != meta.train {
        bail!(
            "--resume: the data selection differs from the one {} was trained on \
             (saved: {:?})",
            dir.display(),
            saved.selection
        );
    }
    Ok(())
}

fn train_sampler_on<B: AutodiffBackend>(args: &TrainSamplerArgs, device: &B::Device) -> Result<()> {
    let c = &args.common;
    let prior_meta = RunMeta::load(&args.prior)?;
    let (prior, _) = load_trained_prior::<B>(&args.prior, device)
        .with_context(|| format!("loading the prior in {}", args.prior.display()))?;
    let prior = burn::module::Module::no_grad(prior);
    let selection = if args.selection == SelectionArgs::default() {
        prior_meta.selection.clone()
    } else {
        args.selection.clone()
    };
    let mut data = prepare(
        &selection,
        prior_meta.test_fraction,
        prior_meta.split_seed,
        "sampler",
    )?;
    prior_meta.check_dim(data.meta.dim, "the prior")?;
    check_same_variable(&data.meta, &prior_meta)?;
    // The prior's normalisation is the network's unit system.
    if data.meta.normalisation != prior_meta.normalisation {
        data.meta.normalisation = prior_meta.normalisation;
        let rows = normalised_rows(&data.selected, &data.meta.train, &prior_meta.normalisation)?;
        data.dataset = SignalDataset::from_rows(&rows)?;
    }
    let (mask_rate, sigma) = task_degradation(args.task.as_deref(), args.mask_rate, args.sigma)?;
    data.meta.prior = Some(std::path::absolute(&args.prior)?);
    data.meta.mask_rate = Some(mask_rate);
    data.meta.noise_sigma = Some(sigma);
    let dim = data.meta.dim;
    eprintln!(
        "sampler: {} training fields of {dim} values, {:.0} % hidden, sigma {sigma}",
        data.dataset.len(),
        100.0 * mask_rate
    );
    let mut trainer = if c.resume {
        check_same_meta(&c.out, &data.meta)?;
        prepare_resume(c)?;
        let path = c.out.join("config.json");
        let saved = SamplerTrainConfig::load(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let f = &saved.flow;
        let fixed = |flag, given: Option<usize>, saved| fixed_on_resume(flag, given, saved, &path);
        fixed("--flow-steps", args.flow_steps, f.steps)?;
        fixed("--hidden", args.hidden, f.hidden_units())?;
        fixed(
            "--context-embedding",
            args.context_embedding,
            f.context_embedding.unwrap_or(0),
        )?;
        fixed(
            "--context-hidden",
            args.context_hidden,
            f.context_hidden.unwrap_or(DEFAULT_CONTEXT_HIDDEN),
        )?;
        fixed("--z-per-y", args.z_per_y, saved.z_per_y)?;
        let fixed = |flag, given: Option<f64>, saved| fixed_on_resume(flag, given, saved, &path);
        fixed("--prior-weight", args.prior_weight, saved.prior_weight)?;
        fixed(
            "--clip-factor",
            args.clip_factor,
            saved.clip_factor.unwrap_or(0.0),
        )?;
        // The saved observed fraction is `1 − mask_rate`, computed the same way.
        if 1.0 - mask_rate != saved.observed_fraction {
            bail!(
                "--mask-rate cannot change on --resume: the run continues with --mask-rate {} as                  saved in {} (given {mask_rate}); start a new run with another --out to change it",
                1.0 - saved.observed_fraction,
                path.display()
            );
        }
        fixed("--sigma", Some(sigma), saved.noise_std)?;
        AmortizedTrainer::<B, _, RandomMask>::resume(&c.out, prior, &data.dataset, device)?
    } else {
        let flow = ConditionalRealNvpConfig::new(dim, 2 * dim)
            .with_steps(args.flow_steps.unwrap_or(8))
            .with_hidden(args.hidden)
            .with_context_embedding(
                Some(
                    args.context_embedding
                        .unwrap_or_else(|| default_context_embedding(args.task.as_deref())),
                )
                .filter(|&e| e > 0),
            )
            .with_context_hidden(Some(args.context_hidden.unwrap_or(DEFAULT_CONTEXT_HIDDEN)))
            .with_seed(c.seed);
        let mut config = SamplerTrainConfig::new(flow)
            .with_sde(prior_sde(&args.prior)?)
            .with_noise_std(sigma)
            .with_observed_fraction(1.0 - mask_rate)
            .with_z_per_y(args.z_per_y.unwrap_or(4))
            .with_prior_weight(args.prior_weight.unwrap_or(1.0))
            .with_clip_factor(
                Some(args.clip_factor.unwrap_or(DEFAULT_CLIP_FACTOR)).filter(|&f| f > 0.0),
            )
            .with_final_lr_fraction(Some(0.1))
            .with_seed(c.seed)
            .with_checkpoint_every(c.checkpoint_every);
        apply_common_overrides!(config, c);
        let t = AmortizedTrainer::new(config, prior, &data.dataset, Some(&c.out), device)?;
        data.meta.save(&c.out)?;
        t
    };
    track_trainer!(c, "sampler", trainer)
}

/// Refuses a sampler selection whose variable has other units than the prior's (it would be
/// normalised with the prior's statistics into values far outside what the prior knows, and
/// train to a meaningless loss); a different name with the same units (`t` in one file,
/// `ta` in another) only gets a warning.
fn check_same_variable(sampler: &RunMeta, prior: &RunMeta) -> Result<()> {
    if let (Some(a), Some(b)) = (&sampler.units, &prior.units) {
        if a != b {
            bail!(
                "the selection's variable `{}` is in {a} but the prior was trained on `{}` in \
                 {b}; select the prior's variable (--var)",
                sampler.variable,
                prior.variable
            );
        }
    }
    if sampler.variable != prior.variable {
        eprintln!(
            "warning: the selection's variable `{}` is not the prior's `{}`",
            sampler.variable, prior.variable
        );
    }
    Ok(())
}

/// The VP-SDE a prior was trained with.
fn prior_sde(dir: &Path) -> Result<VpSde> {
    let config = <TrainConfig as burn::config::Config>::load(dir.join("config.json"))
        .map_err(|e| anyhow::anyhow!("reading {}/config.json: {e}", dir.display()))?;
    Ok(config.model.sde)
}

/// The context-embedding width `E` a sampler gets when `--context-embedding` is not given:
/// 0 (the raw `[y, mask]` in every coupling) for the `bunny-mnist` task, whose digit strokes do
/// not fit through a narrow embedding (cnf-mean 23.69 dB with the raw context against 22.35 dB
/// with E = 128 on the same 20 held-out images after 6000 steps, `docs/benchmarks.md`), and
/// [`DEFAULT_CONTEXT_EMBEDDING`](crate::flows::realnvp::DEFAULT_CONTEXT_EMBEDDING) otherwise
/// (smooth fields such as ERA5 temperature fit through 128 numbers, and train 2.3× faster).
pub(crate) fn default_context_embedding(task: Option<&str>) -> usize {
    match task {
        Some("bunny-mnist") => 0,
        _ => crate::flows::realnvp::DEFAULT_CONTEXT_EMBEDDING,
    }
}

/// `(mask_rate, sigma)` from a task name and/or explicit values (explicit values win).
pub(crate) fn task_degradation(
    task: Option<&str>,
    mask_rate: Option<f64>,
    sigma: Option<f64>,
) -> Result<(f64, f64)> {
    let base = match task {
        Some(name) => {
            let t = tasks::task(name)?;
            Some((t.mask_rate, t.noise_sigma))
        }
        None => None,
    };
    let mask_rate = mask_rate.or(base.map(|b| b.0)).context(
        "give the degradation: --task era5-imputation|bunny-mnist, or --mask-rate R --sigma S",
    )?;
    let sigma = sigma.or(base.map(|b| b.1)).context(
        "give the noise level: --task era5-imputation|bunny-mnist, or --sigma S (normalised units)",
    )?;
    if !(0.0..1.0).contains(&mask_rate) {
        bail!("--mask-rate must be in [0, 1), got {mask_rate}");
    }
    if !(sigma > 0.0 && sigma.is_finite()) {
        bail!("--sigma must be positive, got {sigma}");
    }
    Ok((mask_rate, sigma))
}

/// Runs a training loop with a progress bar and `c.out/history.csv`, then reports it
/// ([`report_trained`]): `run` gets a callback to call with `(step, loss)` after every step and
/// returns where the run ended. The history is written even when `run` fails (rows past the
/// last checkpoint are dropped again on `--resume`).
pub(crate) fn track_steps(
    c: &CommonTrainArgs,
    what: &str,
    total: usize,
    done: usize,
    run: impl FnOnce(&mut dyn FnMut(usize, f32)) -> Result<Trained>,
) -> Result<()> {
    let t0 = Instant::now();
    let mut history = History::open(&c.out, done)?;
    let mut bar = Progress::new(what, total, done, c.silent());
    let result = run(&mut |step, loss| {
        history.push(step, loss);
        bar.update(step, loss);
    });
    history.flush()?;
    bar.finish();
    report_trained(c, what, &result?, t0.elapsed().as_secs_f64())
}

/// Runs a trainer of the flows crate (`ScorePriorTrainer`, `AmortizedTrainer`,
/// `InverseFlowTrainer`: the same `config().steps`, `step`, `run`, `last_loss` and
/// `last_checkpoint`) to its configured steps through [`track_steps`].
macro_rules! track_trainer {
    ($common:expr, $what:expr, $trainer:ident) => {{
        let (total, done) = ($trainer.config().steps, $trainer.step());
        $crate::cli::train::track_steps($common, $what, total, done, |on_step| {
            $trainer.run(|p| {
                on_step(p.step, p.loss);
                std::ops::ControlFlow::Continue(())
            })?;
            Ok($crate::cli::train::Trained {
                steps: $trainer.step(),
                last_loss: $trainer.last_loss(),
                checkpoint: $trainer.last_checkpoint().map(std::path::Path::to_path_buf),
            })
        })
    }};
}
pub(crate) use track_trainer;

/// Applies the `--steps`, `--batch-size`, `--lr` and `--final-lr-fraction` overrides of
/// [`CommonTrainArgs`] to a training config (any of the flows crate's configs with those
/// builder methods); `--steps 0` is refused.
macro_rules! apply_common_overrides {
    ($config:ident, $common:expr) => {
        if let Some(s) = $common.steps {
            if s == 0 {
                anyhow::bail!("--steps must be >= 1 (a run of 0 steps writes no checkpoint)");
            }
            $config = $config.with_steps(s);
        }
        if let Some(b) = $common.batch_size {
            $config = $config.with_batch_size(b);
        }
        if let Some(lr) = $common.lr {
            $config = $config.with_learning_rate(lr);
        }
        if let Some(f) = $common.final_lr_fraction {
            $config = $config.with_final_lr_fraction(Some(f));
        }
        if let Some(k) = $common.keep_checkpoints {
            $config = $config.with_keep_checkpoints(k);
        }
    };
}
pub(crate) use apply_common_overrides;

/// `history.csv` (`step,loss`) of a run; on resume, rows past the checkpoint are dropped so
/// the file matches the resumed run.
pub(crate) struct History {
    path: PathBuf,
    rows: Vec<(usize, f32)>,
    /// When the file was last written: it is rewritten every [`History::FLUSH_EVERY`] so a
    /// killed run keeps its curve.
    last_flush: Instant,
    /// The first failed periodic write, reported by [`History::flush`].
    write_error: Option<anyhow::Error>,
}

impl History {
    /// Opens `dir/history.csv`, keeping rows up to `step`.
    pub(crate) fn open(dir: &Path, step: usize) -> Result<Self> {
        let path = dir.join("history.csv");
        let rows = match std::fs::read_to_string(&path) {
            Ok(text) => text
                .lines()
                .skip(1)
                .filter_map(|l| {
                    let (s, v) = l.split_once(',')?;
                    Some((s.parse().ok()?, v.parse().ok()?))
                })
                .filter(|&(s, _)| s <= step)
                .collect(),
            Err(_) => Vec::new(),
        };
        Ok(Self {
            path,
            rows,
            last_flush: Instant::now(),
            write_error: None,
        })
    }

    const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

    /// Records one step; rewrites the file when the last write is older than
    /// [`History::FLUSH_EVERY`].
    pub(crate) fn push(&mut self, step: usize, loss: f32) {
        self.rows.push((step, loss));
        if self.write_error.is_none() && self.last_flush.elapsed() >= Self::FLUSH_EVERY {
            self.last_flush = Instant::now();
            self.write_error = self.write().err();
        }
    }

    /// Writes the file atomically; reports a failed periodic write too.
    pub(crate) fn flush(&mut self) -> Result<()> {
        if let Some(e) = self.write_error.take() {
            return Err(e);
        }
        self.write()
    }

    fn write(&self) -> Result<()> {
        let mut out = Vec::with_capacity(16 * self.rows.len() + 10);
        writeln!(out, "step,loss")?;
        for (s, l) in &self.rows {
            writeln!(out, "{s},{l}")?;
        }
        write_atomic(&self.path, &out).with_context(|| format!("writing {}", self.path.display()))
    }
}

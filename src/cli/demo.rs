//! `meshflow demo`: the whole pipeline in one command, offline, on built-in data.
//!
//! `demo era5` (the default) uses the ERA5 sample compiled into the binary: temperature at
//! 500 and 850 hPa, 4 times × 10 members, resampled from 3° (61 × 120) to 6° (31 × 60, 1742
//! vertices) so it trains on two CPU cores in minutes. It trains a VP-SDE prior on 3 of the 4
//! times and the amortized conditional RealNVP sampler for the ERA5 task (60 % hidden,
//! σ = 0.05), imputes fields of the held-out time with every method side by side, prints the
//! metrics table, and writes under `--out` the model runs, `result/` (npz, CF NetCDF), PNG
//! figures and a rerun recording.
//!
//! `demo bunny` does Bunny-MNIST (30 % hidden, σ = 0.1 on the 1889-vertex Stanford bunny)
//! when MNIST and the bunny are available (`meshflow fetch mnist`, `meshflow fetch bunny`).
//!
//! Re-running a demo reuses (resumes) the finished model runs in `--out`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};

use super::backend::DeviceArg;
use super::impute::{impute, ImputeArgs};
use super::select::SelectionArgs;
use super::train::{train_prior, train_sampler, CommonTrainArgs, TrainPriorArgs, TrainSamplerArgs};
use crate::builtin::find_data_file;
use crate::datasets::bunny_mnist::{BUNNY_RES3, MNIST_TRAIN_IMAGES};

/// Which demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DemoKind {
    /// ERA5 temperature imputation on the built-in sample (offline).
    #[default]
    Era5,
    /// Bunny-MNIST inpainting (needs `meshflow fetch mnist` and `meshflow fetch bunny`).
    Bunny,
}

/// Arguments of `meshflow demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// The demo to run.
    #[arg(value_enum, default_value_t = DemoKind::Era5)]
    pub which: DemoKind,
    /// Output directory.
    #[arg(long, value_name = "DIR", default_value = "meshflow-out")]
    pub out: PathBuf,
    /// A much smaller run (a minute; for tests and a first look), not a meaningful result.
    #[arg(long)]
    pub quick: bool,
    /// Seed of everything.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to run the networks.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

/// Sizes of one demo run.
struct Plan {
    selection: SelectionArgs,
    task: &'static str,
    prior_steps: usize,
    prior_hidden: usize,
    sampler_steps: usize,
    sampler_batch: usize,
    flow_steps: usize,
    z_per_y: usize,
    fields: usize,
    samples: usize,
    dps_steps: usize,
}

impl Plan {
    /// The sizes both demos share; `--quick` shrinks every one of them.
    fn new(
        selection: SelectionArgs,
        task: &'static str,
        quick: bool,
        prior_steps: usize,
        sampler_steps: usize,
    ) -> Self {
        let q = quick;
        Self {
            selection,
            task,
            prior_steps: if q { 40 } else { prior_steps },
            prior_hidden: if q { 64 } else { 512 },
            sampler_steps: if q { 10 } else { sampler_steps },
            sampler_batch: if q { 4 } else { 16 },
            flow_steps: if q { 2 } else { 6 },
            z_per_y: 2,
            fields: if q { 2 } else { 4 },
            samples: if q { 8 } else { 64 },
            dps_steps: if q { 20 } else { 500 },
        }
    }
}

fn plan(args: &DemoArgs) -> Result<Plan> {
    let q = args.quick;
    Ok(match args.which {
        DemoKind::Era5 => Plan::new(
            SelectionArgs {
                data: Some("era5".into()),
                var: Some("t".into()),
                regrid: Some(if q { "latlon:13x24" } else { "latlon:31x60" }.into()),
                ..SelectionArgs::default()
            },
            "era5-imputation",
            q,
            1500,
            400,
        ),
        DemoKind::Bunny => {
            let missing = |what: &str, fetch: &str| {
                format!(
                    "the Bunny-MNIST demo needs {what}: run `meshflow fetch {fetch}` (or set \
                     MESHFLOW_DATA to a folder holding {BUNNY_RES3} and {MNIST_TRAIN_IMAGES})"
                )
            };
            let mesh = find_data_file(BUNNY_RES3).with_context(|| missing("the bunny", "bunny"))?;
            let images =
                find_data_file(MNIST_TRAIN_IMAGES).with_context(|| missing("MNIST", "mnist"))?;
            Plan::new(
                SelectionArgs {
                    mesh: Some(mesh.to_string_lossy().into_owned()),
                    images: Some(images),
                    fields: Some(if q { "0:16" } else { "0:2000" }.into()),
                    ..SelectionArgs::default()
                },
                "bunny-mnist",
                q,
                4000,
                600,
            )
        }
    })
}

fn common(
    args: &DemoArgs,
    out: &Path,
    steps: usize,
    batch: usize,
    lr: Option<f64>,
) -> CommonTrainArgs {
    CommonTrainArgs {
        out: out.to_path_buf(),
        steps: Some(steps),
        batch_size: Some(batch),
        lr,
        final_lr_fraction: None,
        seed: args.seed,
        checkpoint_every: (steps / 4).max(1),
        keep_checkpoints: None,
        resume: out.join("meshflow.json").is_file(),
        device: args.device,
        quiet: args.quiet,
        json: false,
    }
}

/// `meshflow demo`.
pub fn demo(args: &DemoArgs) -> Result<()> {
    let t0 = Instant::now();
    let p = plan(args)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let prior_dir = args.out.join("prior");
    let sampler_dir = args.out.join("sampler");
    let result_dir = args.out.join("result");

    eprintln!(
        "[1/4] training the diffusion prior ({} steps)",
        p.prior_steps
    );
    train_prior(&TrainPriorArgs {
        selection: p.selection.clone(),
        test_fraction: 0.25,
        hidden: Some(p.prior_hidden),
        blocks: None,
        beta_max: None,
        sigma_data: None,
        basis_rank: None,
        common: common(args, &prior_dir, p.prior_steps, 64, Some(1e-3)),
    })?;

    eprintln!(
        "[2/4] training the amortized posterior sampler ({} steps)",
        p.sampler_steps
    );
    train_sampler(&TrainSamplerArgs {
        prior: prior_dir.clone(),
        selection: SelectionArgs::default(),
        task: Some(p.task.into()),
        mask_rate: None,
        sigma: None,
        flow_steps: Some(p.flow_steps),
        hidden: None,
        context_embedding: None,
        context_hidden: None,
        z_per_y: Some(p.z_per_y),
        prior_weight: None,
        clip_factor: None,
        common: common(args, &sampler_dir, p.sampler_steps, p.sampler_batch, None),
    })?;

    eprintln!(
        "[3/4] imputing {} held-out fields with every method",
        p.fields
    );
    impute(&ImputeArgs {
        sampler: sampler_dir.clone(),
        selection: SelectionArgs::default(),
        limit: Some(p.fields),
        methods: super::impute::METHODS
            .iter()
            .map(|m| m.to_string())
            .collect(),
        samples: p.samples,
        dps_steps: p.dps_steps,
        dps_step_size: 1.0,
        seed: args.seed,
        out: result_dir.clone(),
        device: args.device,
        json: false,
        quiet: args.quiet,
    })?;

    eprintln!("[4/4] writing figures and the rerun recording");
    let figures = args.out.join("figures");
    super::view::render(&super::view::RenderArgs {
        result: result_dir.clone(),
        out: Some(figures.clone()),
        camera: meshflow_viewers::figure::View::Oblique,
        fields: None,
        quiet: args.quiet,
        json: false,
    })?;
    let rrd = args.out.join("meshflow.rrd");
    super::view::view(&super::view::ViewArgs {
        result: result_dir.clone(),
        save: Some(rrd.clone()),
        spawn: false,
        fields: None,
        model: Some(sampler_dir.clone()),
        quiet: args.quiet,
        json: false,
    })?;
    println!(
        "done in {:.0} s: figures in {}, recording {} (open it with `rerun {}`), \
         imputed fields in {}",
        t0.elapsed().as_secs_f64(),
        figures.display(),
        rrd.display(),
        rrd.display(),
        result_dir.display()
    );
    Ok(())
}

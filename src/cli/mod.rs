//! The `meshflow` command line: argument definitions and command implementations.
//!
//! Each command prints a human-readable report, or exactly one JSON object with `--json`.
//! Mesh and grid commands live in `mesh`, data-file commands (GRIB, NetCDF, NPZ) in `data`.

pub(crate) mod backend;
pub mod config;
mod data;
pub mod demo;
pub mod denoise;
mod eigenbasis;
mod fetch;
pub mod impute;
mod mesh;
mod progress;
pub mod select;
pub mod train;
mod view;

pub use view::{RenderArgs, ViewArgs};

use clap::{Parser, Subcommand, ValueEnum};

use anyhow::Result;

use crate::datasets::cf::Calendar;

/// meshflow: probabilistic deep learning on signals that live on surfaces.
#[derive(Debug, Parser)]
#[command(name = "meshflow", version, about, long_about = None)]
pub struct Cli {
    /// Read options from a TOML file: keys are long option names (`steps = 4000`), top-level
    /// keys apply to every command that has the option, `[train-prior]`-style tables to one
    /// command; options on the command line win.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report on a mesh file (OBJ, PLY), a built-in mesh or grid (bunny, icosphere:L,
    /// latlon:NxM, gaussian:NxM), or a data file (GRIB, NetCDF, NPZ: format, grid, variables).
    Info(InfoArgs),
    /// The smallest eigenvalues of the Laplace–Beltrami operator (L φ = λ M φ).
    Spectrum(SpectrumArgs),
    /// Convert one variable of a GRIB, NetCDF or NPZ file to CF NetCDF (.nc) or NumPy (.npz).
    Convert(ConvertArgs),
    /// Train a diffusion (VP-SDE) score prior on clean fields.
    TrainPrior(train::TrainPriorArgs),
    /// Train the amortized conditional RealNVP posterior sampler against a trained prior.
    TrainSampler(train::TrainSamplerArgs),
    /// Impute degraded held-out fields with the sampler, DPS/MCG and classical baselines,
    /// score them side by side and write the results (NetCDF, PLY, npz).
    Impute(impute::ImputeArgs),
    /// The whole pipeline on built-in data, offline: train a prior and the amortized
    /// sampler on ERA5, impute held-out fields against the baselines, write NetCDF, PNG
    /// figures and a rerun recording (`demo bunny`: Bunny-MNIST).
    Demo(demo::DemoArgs),
    /// Inverse-flow denoisers (ICM, IFM) trained on noisy fields only: `train`, `eval`
    /// against no-clean-data baselines, `apply`.
    Denoise(denoise::DenoiseArgs),
    /// Download MNIST or the Stanford bunny into the data directory, verifying sha256.
    Fetch(FetchArgs),
    /// Draw a result directory (from `meshflow impute`) as PNG figures: truth, measurement,
    /// mean, std, error and baselines side by side, one figure per field.
    Render(RenderArgs),
    /// Turn a result directory into a rerun recording: `--save FILE.rrd` or `--spawn`.
    View(ViewArgs),
}

/// Arguments of `meshflow fetch`.
#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// The data set: `mnist` (the four IDX .gz files) or `bunny` (bun_zipper*.ply from the
    /// Stanford bunny.tar.gz).
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(fetch::FETCHABLE))]
    pub name: String,
    /// The data directory; files go into its `mnist/` or `bunny/` folder. Default:
    /// `$MESHFLOW_DATA`, else `~/.cache/meshflow/data`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
    /// Base URL to download from instead of the canonical location (or `$MESHFLOW_MIRROR`).
    #[arg(long, value_name = "URL")]
    pub mirror: Option<String>,
}

/// Arguments of `meshflow info`.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// A mesh file (.obj, .ply), a built-in mesh (`bunny`), a grid spec such as
    /// `icosphere:4`, `latlon:61x120`, `gaussian:64x128`, a data file (GRIB 1/2,
    /// NetCDF-3/4, NumPy .npz; recognised by its first bytes, whatever its extension) or a
    /// built-in data set (`era5`, `era5-2t`, `a1b`).
    pub source: String,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Decode a NetCDF file's times in this calendar instead of its own `calendar` attribute
    /// (standard, proleptic_gregorian, julian, noleap/365_day, all_leap/366_day, 360_day).
    #[arg(long, value_name = "NAME", value_parser = data::parse_calendar)]
    pub calendar: Option<Calendar>,
}

/// Mass matrix used by `meshflow spectrum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MassKind {
    /// Diagonal (lumped) barycentric areas.
    Lumped,
    /// Consistent P1 finite-element mass.
    Galerkin,
    /// The grid's quadrature weights (sphere grids only).
    Quadrature,
}

/// Arguments of `meshflow spectrum`.
#[derive(Debug, clap::Args)]
pub struct SpectrumArgs {
    /// A mesh file (.obj, .ply) or a grid spec (see `meshflow info --help`).
    pub source: String,
    /// Number of eigenvalues.
    #[arg(long, short = 'k', default_value_t = 16)]
    pub k: usize,
    /// Mass matrix of the generalised problem.
    #[arg(long, value_enum, default_value_t = MassKind::Lumped)]
    pub mass: MassKind,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `meshflow convert`.
#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// The input: GRIB 1/2, NetCDF-3/4 or NumPy .npz (recognised by its first bytes), or a
    /// built-in data set (era5, era5-2t, a1b).
    pub input: String,
    /// The output: `.nc` (CF NetCDF, float32 [time or field, lat, lon]) or `.npz`.
    pub output: std::path::PathBuf,
    /// The variable to convert (GRIB short name, NetCDF variable, NPZ key); needed when the
    /// file holds several. `meshflow info FILE` lists them.
    #[arg(long, value_name = "NAME")]
    pub var: Option<String>,
    /// The fields to keep, Python slice syntax over the file's fields in file order: `0:10`,
    /// `-5:`, `::2`, `7`.
    #[arg(long, value_name = "A:B", allow_hyphen_values = true)]
    pub fields: Option<String>,
    /// Decode a NetCDF file's times in this calendar instead of its own (see `meshflow info
    /// --help`).
    #[arg(long, value_name = "NAME", value_parser = data::parse_calendar)]
    pub calendar: Option<Calendar>,
    /// Print one JSON object instead of a one-line summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Info(a) => match data::data_file(&a.source)? {
            Some(source) => data::info(source, &a),
            None => mesh::info(&a),
        },
        Command::Spectrum(a) => mesh::spectrum(&a),
        Command::Convert(a) => data::convert(&a),
        Command::TrainPrior(a) => train::train_prior(&a),
        Command::TrainSampler(a) => train::train_sampler(&a),
        Command::Impute(a) => impute::impute(&a),
        Command::Denoise(a) => denoise::denoise(&a),
        Command::Fetch(a) => fetch::fetch(&a),
        Command::Demo(a) => demo::demo(&a),
        Command::Render(a) => view::render(&a),
        Command::View(a) => view::view(&a),
    }
}

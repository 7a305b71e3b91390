//! The `meshflow` command line: argument definitions and command implementations.
//!
//! Each command prints a human-readable report, or exactly one JSON object with `--json`.
//! Mesh and grid commands live in `mesh`, data-file commands (GRIB, NetCDF, NPZ) in `data`.

mod data;
mod mesh;
mod view;

pub use view::{RenderArgs, ViewArgs};

use clap::{Parser, Subcommand, ValueEnum};

use anyhow::Result;

/// meshflow: probabilistic deep learning on signals that live on surfaces.
#[derive(Debug, Parser)]
#[command(name = "meshflow", version, about, long_about = None)]
pub struct Cli {
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
    /// Draw a result directory (from `meshflow impute`) as PNG figures: truth, measurement,
    /// mean, std, error and baselines side by side, one figure per field.
    Render(RenderArgs),
    /// Turn a result directory into a rerun recording: `--save FILE.rrd` or `--spawn`.
    View(ViewArgs),
}

/// Arguments of `meshflow info`.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// A mesh file (.obj, .ply), a built-in mesh (`bunny`), a grid spec such as
    /// `icosphere:4`, `latlon:61x120`, `gaussian:64x128`, or a data file (GRIB 1/2,
    /// NetCDF-3/4, NumPy .npz; recognised by its first bytes, whatever its extension).
    pub source: String,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
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
    /// The input: GRIB 1/2, NetCDF-3/4 or NumPy .npz (recognised by its first bytes).
    pub input: std::path::PathBuf,
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
    /// Print one JSON object instead of a one-line summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Info(a) => match data::data_file(&a.source)? {
            Some(path) => data::info(path, a.json),
            None => mesh::info(&a),
        },
        Command::Spectrum(a) => mesh::spectrum(&a),
        Command::Convert(a) => data::convert(&a),
        Command::Render(a) => view::render(&a),
        Command::View(a) => view::view(&a),
    }
}

//! # meshflow
//!
//! Probabilistic deep learning on signals that live on surfaces: temperature on the globe,
//! textures on a scanned mesh. This facade crate re-exports the member crates and hosts the
//! `meshflow` command-line tool.
//!
//! - [`geometry`]: meshes, sphere discretisations, Laplacians, spectra, resampling, metrics.
//! - [`datasets`]: readers and writers for GRIB, NetCDF, NumPy and MNIST files; gridded
//!   fields of any format ([`datasets::field`]).
//! - [`flows`]: diffusion priors, the amortized conditional RealNVP posterior sampler, DPS
//!   and classical baselines, on burn.
//! - [`viewers`]: colormaps, PNG figures and rerun recordings of signals on surfaces.

pub use meshflow_datasets as datasets;
pub use meshflow_flows as flows;
pub use meshflow_geometry as geometry;
pub use meshflow_viewers as viewers;

pub mod builtin;
pub mod cli;

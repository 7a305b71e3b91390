//! # meshflow-datasets
//!
//! Readers for the files users really have (GRIB 1/2, NetCDF-3/-4, NumPy `.npy`/`.npz`,
//! MNIST IDX), turned into fields on a `meshflow-geometry` discretisation; the paper's tasks
//! (Bunny-MNIST, ERA5 imputation); forward operators and noise models for inverse problems.

pub mod array;
pub mod bunny_mnist;
pub mod cf;
pub mod degrade;
pub mod error;
pub mod field;
pub mod grib;
pub mod idx;
pub mod netcdf;
pub mod noise;
pub mod npy;
mod spec_args;
pub mod tasks;
pub mod testdata;

pub use array::NdArray;
pub use error::{DatasetError, Result};

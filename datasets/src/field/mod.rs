//! One entry point over every gridded data format: GRIB 1/2, NetCDF-3/-4 and NumPy `.npz`,
//! recognised by their magic bytes.
//!
//! A climate scientist's file goes in, a [`GriddedVariable`] comes out: every 2-D
//! `(lat, lon)` field of one variable as `f32` (NaN = missing), the coordinates in file order,
//! and a [`FieldLabel`] (time, level, member) per field.
//!
//! ```no_run
//! use meshflow_datasets::field::{
//!     convert, describe, read_variable, FieldRange, FieldSet, NormalisationChoice,
//! };
//!
//! # fn main() -> meshflow_datasets::Result<()> {
//! // What is in a file?
//! let info = describe("era5-levels-members.grib")?;
//! println!("{:?} grid {}x{}", info.grid.kind, info.grid.nlat, info.grid.nlon);
//! for v in &info.variables {
//!     println!("{} [{:?}] {} fields", v.name, v.units, v.fields);
//! }
//!
//! // One variable, every field: 4 times x 2 levels x 10 members.
//! let t = read_variable("era5-levels-members.grib", Some("t"))?;
//! assert_eq!(t.num_fields(), 80);
//! println!("{:?}", t.labels[0]); // time 2017-01-01T00:00:00, level 500, member 0
//!
//! // On the sphere: vertex order, masks, a split that keeps each time on one side, and
//! // min-max statistics fitted on the training fields only.
//! let set = FieldSet::new(&t, Some(&"0:40".parse::<FieldRange>().unwrap()))?;
//! let (train, test) = set.train_test_split(0.25, 42)?;
//! let norm = set.normalisation(NormalisationChoice::FitOnTrain, &train)?;
//! # let _ = (test, norm);
//!
//! // To CF NetCDF or NumPy, float32 values unchanged.
//! let summary = convert("era5-levels-members.grib", "t.npz", Some("t"), None)?;
//! println!("{summary}");
//! # Ok(()) }
//! ```
//!
//! Every entry point takes `impl Into<`[`DataSource`]`>`: a path (`&str`, `&Path`, `PathBuf`)
//! or bytes in memory (`DataSource::from_static(name, include_bytes!(..))`, as the `meshflow`
//! binary does for its built-in `era5`, `era5-2t` and `a1b`), read without temporary files.
//! [`DataFile`] opens a file once for several reads and holds read options:
//! `DataFile::open(p)?.with_calendar(Some(Calendar::NoLeap))?` decodes a time axis whose
//! `calendar` attribute is missing or wrong.
//!
//! The same calls read `TREFHT.B06.57.atm.1890-1999ANN.nc` (NetCDF-3, Gaussian T42, 110
//! times), `A1B_north_america.nc` (NetCDF-4, a regional patch, 360-day calendar) and the
//! GASP ERA5 `.npz` files (`latitude`, `longitude`, `temperature`).

mod convert;
mod describe;
mod format;
mod range;
mod read;
mod set;
mod source;
#[cfg(test)]
mod tests;

pub use convert::{convert, ConvertSummary, OutputFormat};
pub use describe::{describe, grid_family, DataFileInfo, GridFamily, GridInfo, VariableInfo};
pub use format::DataFormat;
pub use range::{FieldRange, FieldRangeError};
pub use read::{
    gridded_variable_names, read_variable, sphere_grid, DataFile, FieldLabel, GriddedVariable,
    TimeCoordinate,
};
pub use set::{group_split, FieldSet, NormalisationChoice};
pub use source::DataSource;

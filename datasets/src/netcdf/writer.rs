//! A CF-1.8 NetCDF-3 writer for gridded fields: dimensions `(time, lat, lon)` or
//! `(field, lat, lon)`, coordinate variables with CF attributes, float32 data variables with
//! `_FillValue`.
//!
//! Files are 64-bit offset NetCDF-3 (`CDF\x02`), which netCDF-C, netCDF4-python, xarray
//! (with either the netCDF4 or the scipy engine) and the reader in this crate all open, and
//! which has no 2 GiB limit on variable offsets. They are written atomically: to a temporary
//! file in the same folder, synced, then renamed over the target, so a crash never leaves a
//! half-written file under the final name.
//!
//! ```no_run
//! use meshflow_datasets::cf::Calendar;
//! use meshflow_datasets::netcdf::writer::{write_cf_grid, CfGrid, DataVar, LeadingAxis};
//!
//! # fn main() -> meshflow_datasets::Result<()> {
//! let grid = CfGrid {
//!     leading: LeadingAxis::Time {
//!         values: vec![0.0, 8640.0],
//!         units: "hours since 1970-01-01 00:00:00".into(),
//!         calendar: Calendar::Day360,
//!     },
//!     lat: vec![15.0, 16.25],
//!     lon: vec![225.0, 226.875, 228.75],
//!     variables: vec![DataVar {
//!         units: Some("K".into()),
//!         standard_name: Some("air_temperature".into()),
//!         ..DataVar::new("air_temperature", vec![280.0f32; 2 * 2 * 3])
//!     }],
//!     history: "sampled by meshflow".into(),
//!     attributes: vec![],
//! };
//! write_cf_grid("samples.nc", &grid)?;
//! # Ok(()) }
//! ```
//!
//! The byte layout is produced by the `netcdf-writer` crate (pure Rust, the sibling of the
//! reader used by [`crate::netcdf`]); this module decides the CF schema.

use crate::cf::{Calendar, TimeAxis};
use crate::{DatasetError, Result};
use netcdf_writer as ncw;
use std::path::Path;

/// The netCDF default fill value for float (`NC_FILL_FLOAT`, 9.96921e36).
pub const DEFAULT_FILL_F32: f32 = ncw::NC_FILL_FLOAT;

/// The first dimension of the written grid.
#[derive(Debug, Clone, PartialEq)]
pub enum LeadingAxis {
    /// A time axis: dimension and coordinate variable `time` (float64) with `units`
    /// (`<unit> since <date>`, checked) and `calendar`.
    Time {
        /// Time values in `units`.
        values: Vec<f64>,
        /// CF time units, e.g. `days since 1850-01-01 00:00:00`.
        units: String,
        /// The calendar the values are in.
        calendar: Calendar,
    },
    /// Unordered fields (e.g. samples): dimension `field` with an int32 coordinate `field`
    /// holding 0..count.
    Field {
        /// Number of fields.
        count: usize,
    },
}

impl LeadingAxis {
    fn len(&self) -> usize {
        match self {
            LeadingAxis::Time { values, .. } => values.len(),
            LeadingAxis::Field { count } => *count,
        }
    }
}

/// A float32 data variable on the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct DataVar {
    /// Variable name.
    pub name: String,
    /// Values, row-major `[leading, lat, lon]`; NaN means missing and is written as the fill
    /// value.
    pub data: Vec<f32>,
    /// `units` (copy it from the source variable).
    pub units: Option<String>,
    /// `standard_name`.
    pub standard_name: Option<String>,
    /// `long_name`.
    pub long_name: Option<String>,
    /// `_FillValue`; `None` writes [`DEFAULT_FILL_F32`].
    pub fill_value: Option<f32>,
}

impl DataVar {
    /// A variable with no attributes but the default `_FillValue`.
    pub fn new(name: impl Into<String>, data: Vec<f32>) -> DataVar {
        DataVar {
            name: name.into(),
            data,
            units: None,
            standard_name: None,
            long_name: None,
            fill_value: None,
        }
    }
}

/// Everything written by [`write_cf_grid`].
#[derive(Debug, Clone, PartialEq)]
pub struct CfGrid {
    /// The first dimension.
    pub leading: LeadingAxis,
    /// Latitudes in degrees north (dimension and coordinate `lat`).
    pub lat: Vec<f64>,
    /// Longitudes in degrees east (dimension and coordinate `lon`).
    pub lon: Vec<f64>,
    /// Data variables, each `[leading, lat, lon]`.
    pub variables: Vec<DataVar>,
    /// The global `history` attribute (what made the file).
    pub history: String,
    /// Extra global text attributes (e.g. `title`, `source`); `Conventions` and `history`
    /// are set by the writer.
    pub attributes: Vec<(String, String)>,
}

fn invalid(path: &Path, msg: String) -> DatasetError {
    DatasetError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, msg),
    }
}

fn text(s: &str) -> ncw::NcAttrValue {
    ncw::NcAttrValue::Chars(s.to_string())
}

/// Builds the file in memory (big-endian CDF-2 bytes).
pub fn encode_cf_grid(grid: &CfGrid) -> Result<Vec<u8>> {
    encode_at(Path::new("<memory>"), grid)
}

fn encode_at(path: &Path, grid: &CfGrid) -> Result<Vec<u8>> {
    let n = grid.leading.len();
    let cells = n
        .checked_mul(grid.lat.len())
        .and_then(|v| v.checked_mul(grid.lon.len()))
        .ok_or_else(|| invalid(path, "grid size overflows".into()))?;
    for v in &grid.variables {
        if v.data.len() != cells {
            return Err(invalid(
                path,
                format!(
                    "variable `{}` has {} values, but the grid {}x{}x{} needs {cells}",
                    v.name,
                    v.data.len(),
                    n,
                    grid.lat.len(),
                    grid.lon.len()
                ),
            ));
        }
        if ["time", "field", "lat", "lon"].contains(&v.name.as_str()) {
            return Err(invalid(
                path,
                format!("variable name `{}` is taken by a coordinate", v.name),
            ));
        }
    }
    let werr = |e: ncw::Error| invalid(path, format!("cannot encode NetCDF: {e}"));
    let mut b = ncw::NcFileBuilder::new();
    let lead_name = match grid.leading {
        LeadingAxis::Time { .. } => "time",
        LeadingAxis::Field { .. } => "field",
    };
    let d0 = b.add_dimension(lead_name, n as u64).map_err(werr)?;
    let dlat = b
        .add_dimension("lat", grid.lat.len() as u64)
        .map_err(werr)?;
    let dlon = b
        .add_dimension("lon", grid.lon.len() as u64)
        .map_err(werr)?;

    match &grid.leading {
        LeadingAxis::Time {
            values,
            units,
            calendar,
        } => {
            // Refuse units a reader could not decode.
            TimeAxis::new(units, Some(calendar.name()))?;
            let t = b.add_variable::<f64>("time", &[d0]).map_err(werr)?;
            for (k, v) in [
                ("standard_name", "time"),
                ("long_name", "time"),
                ("units", units.as_str()),
                ("calendar", calendar.name()),
                ("axis", "T"),
            ] {
                b.add_variable_attribute(t, k, text(v)).map_err(werr)?;
            }
            b.write_variable(t, values).map_err(werr)?;
        }
        LeadingAxis::Field { count } => {
            let f = b.add_variable::<i32>("field", &[d0]).map_err(werr)?;
            b.add_variable_attribute(f, "long_name", text("field index"))
                .map_err(werr)?;
            let idx: Vec<i32> = (0..*count)
                .map(|i| i32::try_from(i).map_err(|_| invalid(path, "too many fields".into())))
                .collect::<Result<_>>()?;
            b.write_variable(f, &idx).map_err(werr)?;
        }
    }
    for (name, dim, units, standard, axis, values) in [
        ("lat", dlat, "degrees_north", "latitude", "Y", &grid.lat),
        ("lon", dlon, "degrees_east", "longitude", "X", &grid.lon),
    ] {
        let id = b.add_variable::<f64>(name, &[dim]).map_err(werr)?;
        for (k, v) in [
            ("standard_name", standard),
            ("long_name", standard),
            ("units", units),
            ("axis", axis),
        ] {
            b.add_variable_attribute(id, k, text(v)).map_err(werr)?;
        }
        b.write_variable(id, values).map_err(werr)?;
    }
    for v in &grid.variables {
        let id = b
            .add_variable::<f32>(v.name.as_str(), &[d0, dlat, dlon])
            .map_err(werr)?;
        let fill = v.fill_value.unwrap_or(DEFAULT_FILL_F32);
        b.set_variable_fill_value(id, fill).map_err(werr)?;
        for (k, val) in [
            ("standard_name", &v.standard_name),
            ("long_name", &v.long_name),
            ("units", &v.units),
        ] {
            if let Some(val) = val {
                b.add_variable_attribute(id, k, text(val)).map_err(werr)?;
            }
        }
        if v.data.iter().any(|x| x.is_nan()) && !fill.is_nan() {
            let filled: Vec<f32> = v
                .data
                .iter()
                .map(|&x| if x.is_nan() { fill } else { x })
                .collect();
            b.write_variable(id, &filled).map_err(werr)?;
        } else {
            b.write_variable(id, &v.data).map_err(werr)?;
        }
    }
    b.add_attribute("Conventions", text("CF-1.8"))
        .map_err(werr)?;
    b.add_attribute("history", text(&grid.history))
        .map_err(werr)?;
    for (k, v) in &grid.attributes {
        if k == "Conventions" || k == "history" {
            continue;
        }
        b.add_attribute(k.as_str(), text(v)).map_err(werr)?;
    }
    let (_, bytes) = b.to_vec(ncw::NcWriteOptions::offset64()).map_err(werr)?;
    Ok(bytes)
}

/// Writes `grid` to `path` as a CF-1.8 NetCDF-3 64-bit offset file, atomically (temporary
/// file in the same folder, then rename). Mismatched data lengths, coordinate name clashes
/// and undecodable time units are errors and leave `path` untouched.
pub fn write_cf_grid(path: impl AsRef<Path>, grid: &CfGrid) -> Result<()> {
    let path = path.as_ref();
    let bytes = encode_at(path, grid)?;
    Ok(meshflow_geometry::io::write_atomic(path, &bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cf::{Axis, CfDateTime};
    use crate::netcdf::{CfData, NcFile, NcFormat, NcType};

    fn tmpdir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("meshflow-ncw-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn sample_grid() -> CfGrid {
        let (n, nlat, nlon) = (3, 4, 5);
        let mut data: Vec<f32> = (0..n * nlat * nlon)
            .map(|i| 200.0 + i as f32 * 0.25)
            .collect();
        data[7] = f32::NAN;
        CfGrid {
            leading: LeadingAxis::Time {
                values: vec![-946800.0, -938160.0, 1118160.0],
                units: "hours since 1970-01-01 00:00:00".into(),
                calendar: Calendar::Day360,
            },
            lat: vec![60.0, 30.0, 0.0, -30.0],
            lon: vec![0.0, 72.0, 144.0, 216.0, 288.0],
            variables: vec![
                DataVar {
                    units: Some("K".into()),
                    standard_name: Some("air_temperature".into()),
                    long_name: Some("Air temperature".into()),
                    ..DataVar::new("tas", data)
                },
                DataVar {
                    fill_value: Some(-999.0),
                    ..DataVar::new("noise", vec![f32::NAN; n * nlat * nlon])
                },
            ],
            history: "meshflow test".into(),
            attributes: vec![("title".into(), "round trip".into())],
        }
    }

    #[test]
    fn round_trip() {
        let dir = tmpdir("rt");
        let path = dir.join("out.nc");
        let grid = sample_grid();
        write_cf_grid(&path, &grid).unwrap();
        let nc = NcFile::open(&path).unwrap();
        assert_eq!(nc.format(), NcFormat::Offset64);
        assert_eq!(
            nc.attribute("Conventions").unwrap().as_str(),
            Some("CF-1.8")
        );
        assert_eq!(
            nc.attribute("history").unwrap().as_str(),
            Some("meshflow test")
        );
        assert_eq!(nc.attribute("title").unwrap().as_str(), Some("round trip"));

        let tas = nc.variable("tas").unwrap();
        assert_eq!(tas.dtype, NcType::Float);
        assert_eq!(tas.dims, ["time", "lat", "lon"]);
        assert_eq!(tas.attr_str("units"), Some("K"));
        assert_eq!(
            tas.attribute("_FillValue").unwrap().as_f64(),
            Some(f64::from(DEFAULT_FILL_F32))
        );
        let cf = nc.read_cf("tas").unwrap();
        let CfData::F32(got) = &cf.data else {
            panic!("float32 data")
        };
        assert_eq!(got.shape, [3, 4, 5]);
        for (i, (g, w)) in got.data.iter().zip(&grid.variables[0].data).enumerate() {
            assert_eq!(g.to_bits(), w.to_bits(), "{i}");
            assert_eq!(cf.mask[i], i == 7);
        }
        assert_eq!(cf.standard_name.as_deref(), Some("air_temperature"));
        assert_eq!(cf.long_name.as_deref(), Some("Air temperature"));
        let noise = nc.read_cf("noise").unwrap();
        assert_eq!(noise.missing_count(), 60);
        assert_eq!(nc.read_f32("noise").unwrap().data[0], -999.0);

        assert_eq!(nc.read_f64("lat").unwrap().data, grid.lat);
        assert_eq!(nc.read_f64("lon").unwrap().data, grid.lon);
        let lat = nc.variable("lat").unwrap();
        assert_eq!(lat.attr_str("units"), Some("degrees_north"));
        assert_eq!(lat.attr_str("axis"), Some("Y"));
        assert_eq!(
            nc.variable("lon").unwrap().attr_str("units"),
            Some("degrees_east")
        );
        let dates = nc.read_time("time", None).unwrap();
        assert_eq!(dates[0], CfDateTime::ymd_hms(1860, 6, 1, 0, 0, 0));
        assert_eq!(dates[1], CfDateTime::ymd_hms(1861, 6, 1, 0, 0, 0));
        assert_eq!(dates[2], CfDateTime::ymd_hms(2099, 6, 1, 0, 0, 0));
        assert_eq!(
            nc.coordinate_axes("tas").unwrap(),
            [
                ("time".to_string(), Some(Axis::Time)),
                ("lat".to_string(), Some(Axis::Latitude)),
                ("lon".to_string(), Some(Axis::Longitude))
            ]
        );
        // Only the target is left in the folder.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn field_axis_and_in_memory() {
        let grid = CfGrid {
            leading: LeadingAxis::Field { count: 2 },
            lat: vec![-45.0, 45.0],
            lon: vec![90.0],
            variables: vec![DataVar::new("x", vec![1.0, 2.0, 3.0, 4.0])],
            history: "h".into(),
            attributes: vec![],
        };
        let nc = NcFile::from_bytes(encode_cf_grid(&grid).unwrap()).unwrap();
        assert_eq!(nc.variable("x").unwrap().dims, ["field", "lat", "lon"]);
        assert_eq!(nc.read_f64("field").unwrap().data, [0.0, 1.0]);
        assert_eq!(nc.read_f32("x").unwrap().data, [1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn bad_input_leaves_the_target_untouched() {
        let dir = tmpdir("bad");
        let path = dir.join("keep.nc");
        write_cf_grid(&path, &sample_grid()).unwrap();
        let before = std::fs::read(&path).unwrap();
        let mut g = sample_grid();
        g.variables[0].data.pop();
        let e = write_cf_grid(&path, &g).unwrap_err().to_string();
        assert!(e.contains("tas") && e.contains("needs 60"), "{e}");
        let mut g = sample_grid();
        g.variables[1].name = "lat".into();
        assert!(write_cf_grid(&path, &g).is_err());
        let mut g = sample_grid();
        g.leading = LeadingAxis::Time {
            values: vec![0.0; 3],
            units: "months since 2000-01-01".into(),
            calendar: Calendar::Standard,
        };
        assert!(write_cf_grid(&path, &g).is_err());
        assert!(write_cf_grid(dir.join("no/such/dir/x.nc"), &sample_grid()).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

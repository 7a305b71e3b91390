//! A summary of a data file: format, grid and variables (`meshflow info`).

use std::path::PathBuf;

use meshflow_geometry::sphere::gauss_legendre;

use super::format::DataFormat;
use super::read::{DataFile, GriddedVariable};
use super::source::DataSource;
use crate::{DatasetError, Result};

/// The family of a file's latitude/longitude grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GridFamily {
    /// Global, latitudes that are not Gaussian (regular, with or without pole rows).
    LatLon,
    /// Global, latitudes at the Gauss–Legendre nodes.
    Gaussian,
    /// Longitudes that do not close around the globe: a regional patch.
    Regional,
}

impl std::fmt::Display for GridFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GridFamily::LatLon => "latlon",
            GridFamily::Gaussian => "gaussian",
            GridFamily::Regional => "regional",
        })
    }
}

/// A file's grid.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GridInfo {
    /// `latlon`, `gaussian` or `regional`.
    pub kind: GridFamily,
    /// Number of latitude rows.
    pub nlat: usize,
    /// Number of longitude columns.
    pub nlon: usize,
    /// First latitude in file order, degrees.
    pub lat_first: f64,
    /// Last latitude in file order, degrees.
    pub lat_last: f64,
    /// First longitude in file order, degrees.
    pub lon_first: f64,
    /// Last longitude in file order, degrees.
    pub lon_last: f64,
}

impl GridInfo {
    /// The grid of a variable's coordinates (see [`grid_family`]).
    pub fn of(var: &GriddedVariable) -> GridInfo {
        let first_last = |v: &[f64]| (v.first().copied(), v.last().copied());
        let (lat_first, lat_last) = first_last(&var.lat_deg);
        let (lon_first, lon_last) = first_last(&var.lon_deg);
        GridInfo {
            kind: grid_family(&var.lat_deg, &var.lon_deg),
            nlat: var.nlat(),
            nlon: var.nlon(),
            lat_first: lat_first.unwrap_or(f64::NAN),
            lat_last: lat_last.unwrap_or(f64::NAN),
            lon_first: lon_first.unwrap_or(f64::NAN),
            lon_last: lon_last.unwrap_or(f64::NAN),
        }
    }
}

/// One variable of a file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VariableInfo {
    /// Name in the file.
    pub name: String,
    /// Long name, if given.
    pub long_name: Option<String>,
    /// Units, if given.
    pub units: Option<String>,
    /// Number of 2-D fields (times × levels × members).
    pub fields: usize,
    /// Number of distinct times (or of groups along the outermost dimension without a time
    /// coordinate).
    pub times: usize,
    /// Distinct levels, in order of first appearance (empty without a vertical dimension).
    pub levels: Vec<f64>,
    /// Number of distinct ensemble members (0 without an ensemble dimension).
    pub members: usize,
    /// First time, ISO 8601.
    pub time_first: Option<String>,
    /// Last time, ISO 8601.
    pub time_last: Option<String>,
    /// Smallest value, ignoring missing ones (`None` when all are missing).
    pub min: Option<f64>,
    /// Largest value, ignoring missing ones.
    pub max: Option<f64>,
    /// Number of missing values over all fields.
    pub missing: usize,
}

impl VariableInfo {
    /// The summary of a variable read by [`super::read_variable`].
    pub fn of(var: &GriddedVariable) -> VariableInfo {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        let mut missing = 0;
        for &v in &var.values {
            if v.is_nan() {
                missing += 1;
            } else {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        let any = lo <= hi;
        let mut levels: Vec<f64> = Vec::new();
        let mut members: Vec<i64> = Vec::new();
        let mut times: Vec<usize> = Vec::new();
        for l in &var.labels {
            if let Some(x) = l.level {
                if !levels.iter().any(|y| y.to_bits() == x.to_bits()) {
                    levels.push(x);
                }
            }
            if let Some(m) = l.member {
                if !members.contains(&m) {
                    members.push(m);
                }
            }
            if !times.contains(&l.time_index) {
                times.push(l.time_index);
            }
        }
        VariableInfo {
            name: var.name.clone(),
            long_name: var.long_name.clone(),
            units: var.units.clone(),
            fields: var.num_fields(),
            times: times.len(),
            levels,
            members: members.len(),
            time_first: var.labels.first().and_then(|l| l.time.clone()),
            time_last: var.labels.last().and_then(|l| l.time.clone()),
            min: any.then_some(f64::from(lo)),
            max: any.then_some(f64::from(hi)),
            missing,
        }
    }
}

/// What `meshflow info` reports on a data file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DataFileInfo {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: DataFormat,
    /// The grid (of the first variable; variables on other grids are named in `warnings`).
    pub grid: GridInfo,
    /// Every variable on a latitude/longitude grid, in file order.
    pub variables: Vec<VariableInfo>,
    /// Problems that did not stop the read (skipped damaged messages, other grids, ...).
    pub warnings: Vec<String>,
}

/// Reads every gridded variable of a GRIB, NetCDF or NPZ file (a path or bytes in memory)
/// and summarises it; [`DataFile::describe`] with read options.
///
/// # Errors
/// As [`super::read_variable`]; a file without any variable on a latitude/longitude grid.
pub fn describe(source: impl Into<DataSource>) -> Result<DataFileInfo> {
    DataFile::open(source)?.describe()
}

impl DataFile {
    /// Reads every gridded variable and summarises the file (`meshflow info`), as
    /// [`describe`] does.
    pub fn describe(&self) -> Result<DataFileInfo> {
        describe_file(self)
    }
}

fn describe_file(file: &DataFile) -> Result<DataFileInfo> {
    let path = file.source().name();
    let (format, names) = (file.format(), file.names()?);
    let mut grid: Option<(GridInfo, Vec<f64>, Vec<f64>)> = None;
    let mut variables = Vec::with_capacity(names.len());
    let mut warnings = Vec::new();
    for name in &names {
        let var = match file.read(Some(name)) {
            Ok(v) => v,
            // Describe what can be read; fail only when nothing can.
            Err(e) if names.len() > 1 => {
                warnings.push(format!("variable {name} not read: {e}"));
                continue;
            }
            Err(e) => return Err(e),
        };
        for w in &var.warnings {
            if !warnings.contains(w) {
                warnings.push(w.clone());
            }
        }
        match &grid {
            None => grid = Some((GridInfo::of(&var), var.lat_deg.clone(), var.lon_deg.clone())),
            Some((g, lat, lon)) if *lat != var.lat_deg || *lon != var.lon_deg => {
                warnings.push(format!(
                    "variable {name} is on another grid ({}x{}) than the one reported \
                     ({}x{})",
                    var.nlat(),
                    var.nlon(),
                    g.nlat,
                    g.nlon
                ));
            }
            Some(_) => {}
        }
        variables.push(VariableInfo::of(&var));
    }
    let Some((grid, _, _)) = grid else {
        let message = if warnings.is_empty() {
            "no variable on a latitude/longitude grid (a gridded variable's last two \
             dimensions have latitude and longitude coordinates)"
                .to_string()
        } else {
            format!("no variable could be read: {}", warnings.join("; "))
        };
        return Err(DatasetError::Format {
            path: path.to_path_buf(),
            location: "variables".into(),
            message,
        });
    };
    Ok(DataFileInfo {
        path: path.to_path_buf(),
        format,
        grid,
        variables,
        warnings,
    })
}

/// Tolerance (degrees) on longitude steps and on `nlon · Δλ = 360`, as
/// `SphereGrid::from_latlon_coords` uses it.
const LON_TOL_DEG: f64 = 1e-4;
/// Tolerance (degrees) for latitudes to count as Gauss–Legendre nodes.
const GAUSS_TOL_DEG: f64 = 1e-3;

/// Classifies coordinates: [`GridFamily::Regional`] unless the longitudes are uniformly
/// spaced with `nlon · Δλ = 360` (within 1e-4°, the rule of
/// `SphereGrid::from_latlon_coords`); otherwise [`GridFamily::Gaussian`] when the latitudes
/// equal `asin` of the Gauss–Legendre nodes of their count within 1e-3° (north→south or
/// south→north), else [`GridFamily::LatLon`].
pub fn grid_family(lat_deg: &[f64], lon_deg: &[f64]) -> GridFamily {
    if !covers_globe(lon_deg) {
        return GridFamily::Regional;
    }
    if is_gaussian(lat_deg) {
        GridFamily::Gaussian
    } else {
        GridFamily::LatLon
    }
}

fn covers_globe(lon: &[f64]) -> bool {
    let n = lon.len();
    if n < 3 || lon.iter().any(|x| !x.is_finite()) {
        return false;
    }
    let wrap = |d: f64| {
        let r = d.rem_euclid(360.0);
        if r > 180.0 {
            r - 360.0
        } else {
            r
        }
    };
    let steps: Vec<f64> = lon.windows(2).map(|w| wrap(w[1] - w[0])).collect();
    let span: f64 = steps.iter().sum::<f64>().abs();
    let mean = span / (n - 1) as f64;
    steps.iter().all(|d| (d.abs() - mean).abs() <= LON_TOL_DEG)
        && (n as f64 * mean - 360.0).abs() <= LON_TOL_DEG
}

fn is_gaussian(lat: &[f64]) -> bool {
    let n = lat.len();
    if n < 2 {
        return false;
    }
    let (nodes, _) = gauss_legendre(n);
    let gl: Vec<f64> = nodes.iter().map(|x| x.asin().to_degrees()).collect();
    let close =
        |a: &mut dyn Iterator<Item = &f64>| a.zip(lat).all(|(g, l)| (g - l).abs() <= GAUSS_TOL_DEG);
    close(&mut gl.iter()) || close(&mut gl.iter().rev())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_families() {
        let lon: Vec<f64> = (0..128).map(|j| j as f64 * 2.8125).collect();
        let (nodes, _) = gauss_legendre(64);
        let gauss: Vec<f64> = nodes.iter().map(|x| x.asin().to_degrees()).collect();
        assert_eq!(grid_family(&gauss, &lon), GridFamily::Gaussian);
        // South→north, rounded to f32 as files store them.
        let south: Vec<f64> = gauss.iter().rev().map(|&x| x as f32 as f64).collect();
        assert_eq!(grid_family(&south, &lon), GridFamily::Gaussian);
        let regular: Vec<f64> = (0..64).map(|i| 90.0 - i as f64 * 180.0 / 63.0).collect();
        assert_eq!(grid_family(&regular, &lon), GridFamily::LatLon);
        // -180..179.25 wraps; a 0.25° window does not.
        let wrapped: Vec<f64> = (0..480).map(|j| -180.0 + j as f64 * 0.75).collect();
        assert_eq!(grid_family(&regular, &wrapped), GridFamily::LatLon);
        let window: Vec<f64> = (0..201).map(|j| -10.0 + j as f64 * 0.25).collect();
        assert_eq!(grid_family(&regular, &window), GridFamily::Regional);
    }
}

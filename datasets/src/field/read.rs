//! Reading one gridded variable from GRIB, NetCDF or NPZ into a [`GriddedVariable`].

use std::path::{Path, PathBuf};

use meshflow_geometry::sphere::SphereGrid;

use super::format::DataFormat;
use super::source::DataSource;
use crate::cf::{Axis, Calendar, CfDateTime, TimeAxis};
use crate::grib::{GribFile, GribVariable, Mode};
use crate::netcdf::{NcFile, Variable};
use crate::npy::{read_npz, read_npz_bytes, NpyArray, Npz};
use crate::{DatasetError, Result};

/// Units of the time coordinate meshflow gives GRIB fields and `.npz` `time` arrays.
pub(crate) const UNIX_UNITS: &str = "seconds since 1970-01-01 00:00:00";

/// What one 2-D field of a [`GriddedVariable`] is: its time, level and ensemble member.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FieldLabel {
    /// Valid time, ISO 8601 (`2017-01-01T12:00:00`), decoded with the file's calendar;
    /// `None` when the file has no (decodable) time coordinate.
    pub time: Option<String>,
    /// Index of the field's time among the variable's distinct times (see
    /// [`GriddedVariable::time`]). Fields with equal `time_index` share a time, so they must
    /// stay on one side of a train/test split. Without a time coordinate it numbers the
    /// distinct times of the labels (a `.nc` written by [`super::convert`] with a `field`
    /// axis), else indexes the outermost non-level, non-member dimension (0 for a single
    /// field).
    pub time_index: usize,
    /// Vertical level (in the file's units: hPa for pressure levels), if the variable has a
    /// vertical dimension.
    pub level: Option<f64>,
    /// Ensemble member number, if the variable has an ensemble dimension.
    pub member: Option<i64>,
}

/// The distinct times of a variable, as numbers in CF units with their calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeCoordinate {
    /// CF units (`hours since 1970-01-01 00:00:00`).
    pub units: String,
    /// The calendar the values are in.
    pub calendar: Calendar,
    /// One value per distinct time, indexed by [`FieldLabel::time_index`].
    pub values: Vec<f64>,
    /// The same times decoded to dates.
    pub dates: Vec<CfDateTime>,
}

/// One variable of a data file: every 2-D `(lat, lon)` field, its coordinates and labels.
///
/// `values` is `[F × nlat × nlon]` row-major `f32` in the file's own row and column order
/// (`lat_deg`, `lon_deg`), NaN where a value is missing; `labels[f]` describes field `f`.
#[derive(Debug, Clone, PartialEq)]
pub struct GriddedVariable {
    /// Name in the file (GRIB short name, NetCDF variable name, NPZ key).
    pub name: String,
    /// Long name, if the file gives one.
    pub long_name: Option<String>,
    /// CF standard name, if the file gives one.
    pub standard_name: Option<String>,
    /// Units, if the file gives them.
    pub units: Option<String>,
    /// Latitude of every row in file order, degrees north, `[nlat]`.
    pub lat_deg: Vec<f64>,
    /// Longitude of every column in file order, degrees east, `[nlon]`.
    pub lon_deg: Vec<f64>,
    /// One label per field, in file order, `[F]`.
    pub labels: Vec<FieldLabel>,
    /// Values, `[F × nlat × nlon]`, NaN = missing.
    pub values: Vec<f32>,
    /// The distinct times, when the file has a decodable time coordinate.
    pub time: Option<TimeCoordinate>,
    /// The file read.
    pub source: PathBuf,
    /// Its format.
    pub format: DataFormat,
    /// Problems that did not stop the read (e.g. a damaged GRIB message that was skipped).
    pub warnings: Vec<String>,
}

impl GriddedVariable {
    /// Number of latitude rows.
    pub fn nlat(&self) -> usize {
        self.lat_deg.len()
    }

    /// Number of longitude columns.
    pub fn nlon(&self) -> usize {
        self.lon_deg.len()
    }

    /// Number of 2-D fields `F`.
    pub fn num_fields(&self) -> usize {
        self.labels.len()
    }

    /// Field `f`, `[nlat × nlon]` in file order.
    ///
    /// # Panics
    /// If `f >= num_fields()`.
    pub fn field(&self, f: usize) -> &[f32] {
        let plane = self.nlat() * self.nlon();
        &self.values[f * plane..(f + 1) * plane]
    }

    /// Number of missing (NaN) values over all fields.
    pub fn missing_count(&self) -> usize {
        self.values.iter().filter(|v| v.is_nan()).count()
    }
}

/// The [`SphereGrid`] of a variable's coordinates, via [`SphereGrid::from_latlon_coords`]: a
/// global grid when the longitudes close around the globe, else a regional patch. Map a field
/// to vertex order with `grid.to_vertex_order(var.field(f))`.
///
/// # Errors
/// [`DatasetError::Format`] (location `grid`) when the coordinates cannot make a grid
/// (non-monotonic, overlapping longitudes, fewer than two rows or columns, ...).
pub fn sphere_grid(var: &GriddedVariable) -> Result<SphereGrid> {
    SphereGrid::from_latlon_coords(&var.lat_deg, &var.lon_deg).map_err(|e| DatasetError::Format {
        path: var.source.clone(),
        location: "grid".into(),
        message: format!("the latitude/longitude coordinates do not form a grid: {e}"),
    })
}

/// Reads one variable of a GRIB, NetCDF or NPZ file (the format is recognised from the magic
/// bytes, see [`DataFormat`]); the file is a path or bytes in memory ([`DataSource`]).
///
/// * GRIB: every message with the short name `var`, grouped by (member, time, level); fields
///   come in message order. Damaged messages are skipped and named in
///   [`GriddedVariable::warnings`].
/// * NetCDF: the variable's last two dimensions must have latitude and longitude coordinate
///   variables (found by CF axis detection); every leading dimension (time, level, member)
///   is flattened in file order. Times are decoded with the time coordinate's units and
///   calendar (overridable with [`DataFile::with_calendar`]); `_FillValue`/`missing_value`
///   become NaN.
/// * NPZ: `latitude`/`lat` and `longitude`/`lon` arrays and a data array `[F, nlat, nlon]` or
///   `[nlat, nlon]` (the GASP ERA5 files: `temperature`). Optional `[F]` arrays `time`
///   (int64 seconds since 1970, as [`super::convert`] writes them), `level` and `member`
///   label the fields.
///
/// `var = None` picks the only variable on a latitude/longitude grid.
///
/// # Errors
/// An unknown format; [`DatasetError::NoSuchVariable`] (listing the gridded variables) when
/// `var` names nothing; a [`DatasetError::Format`] error listing the variables when `var` is
/// `None` and there are several; reader errors with their file and location.
pub fn read_variable(source: impl Into<DataSource>, var: Option<&str>) -> Result<GriddedVariable> {
    DataFile::open(source)?.read(var)
}

/// The names of the variables of a file that lie on a latitude/longitude grid, in file order,
/// with the file's format.
pub fn gridded_variable_names(source: impl Into<DataSource>) -> Result<(DataFormat, Vec<String>)> {
    let file = DataFile::open(source)?;
    Ok((file.format, file.names()?))
}

/// A data file (GRIB, NetCDF or NPZ) opened once, so that several variables can be read, or
/// the file described and converted, without re-reading it; and the place for read options
/// such as a calendar override.
///
/// ```no_run
/// use meshflow_datasets::{cf::Calendar, field::DataFile};
///
/// # fn main() -> meshflow_datasets::Result<()> {
/// // The file's time axis has no `calendar` attribute, but the model used 365-day years.
/// let file = DataFile::open("TREFHT.B06.57.atm.1890-1999ANN.nc")?
///     .with_calendar(Some(Calendar::NoLeap))?;
/// let t = file.read(Some("TREFHT"))?;
/// assert_eq!(t.labels[0].time.as_deref(), Some("1890-07-16T22:00:00"));
/// # Ok(()) }
/// ```
pub struct DataFile {
    source: DataSource,
    pub(crate) format: DataFormat,
    calendar: Option<Calendar>,
    inner: Opened,
}

impl std::fmt::Debug for DataFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataFile")
            .field("source", &self.source.name())
            .field("format", &self.format)
            .field("calendar", &self.calendar)
            .finish()
    }
}

enum Opened {
    Grib(GribFile),
    NetCdf(NcFile),
    Npz(NpzContents),
}

impl DataFile {
    /// Opens a file (a path, or bytes in memory) and recognises its format by its magic
    /// bytes. GRIB is opened leniently: damaged messages are skipped with a warning.
    ///
    /// # Errors
    /// I/O errors; a [`DatasetError::Format`] error naming the first bytes of a file in no
    /// supported format; [`DatasetError::Unsupported`] for a `.npy` (no coordinates);
    /// header errors of the format's reader.
    pub fn open(source: impl Into<DataSource>) -> Result<DataFile> {
        let source = source.into();
        let format = DataFormat::detect(&source)?;
        let path = source.name();
        let inner = match (format, &source) {
            (DataFormat::Grib1 | DataFormat::Grib2, DataSource::Path(p)) => {
                Opened::Grib(GribFile::open(p, Mode::Lenient)?)
            }
            (DataFormat::Grib1 | DataFormat::Grib2, DataSource::Bytes { name, bytes }) => {
                Opened::Grib(GribFile::from_bytes(bytes.clone(), name, Mode::Lenient)?)
            }
            (f, DataSource::Path(p)) if f.is_netcdf() => Opened::NetCdf(NcFile::open(p)?),
            (f, DataSource::Bytes { name, bytes }) if f.is_netcdf() => {
                Opened::NetCdf(NcFile::from_named_bytes(bytes.clone(), name)?)
            }
            (DataFormat::Npz, DataSource::Path(p)) => Opened::Npz(npz_candidates(&read_npz(p)?)?),
            (DataFormat::Npz, DataSource::Bytes { name, bytes }) => {
                Opened::Npz(npz_candidates(&read_npz_bytes(bytes.clone(), name)?)?)
            }
            _ => return Err(npy_unsupported(path)),
        };
        Ok(DataFile {
            source,
            format,
            calendar: None,
            inner,
        })
    }

    /// Decodes the file's time coordinate with `calendar` instead of its `calendar`
    /// attribute (or CF's default `standard` when it has none): for files whose calendar is
    /// missing or wrong, such as model output in 365-day years without `calendar = "noleap"`.
    /// `None` restores the file's own calendar.
    ///
    /// # Errors
    /// [`DatasetError::InvalidArgument`] for GRIB and NPZ files, whose times are dates in
    /// the Gregorian calendar, not numbers in a calendar.
    pub fn with_calendar(mut self, calendar: Option<Calendar>) -> Result<DataFile> {
        if let (Some(c), false) = (calendar, self.format.is_netcdf()) {
            return Err(DatasetError::InvalidArgument(format!(
                "{}: a calendar override ({}) applies to NetCDF time coordinates; this {} \
                 file stores its times as Gregorian dates",
                self.source.name().display(),
                c.name(),
                self.format
            )));
        }
        self.calendar = calendar;
        Ok(self)
    }

    /// The source the file was opened from.
    pub fn source(&self) -> &DataSource {
        &self.source
    }

    /// The file's format.
    pub fn format(&self) -> DataFormat {
        self.format
    }

    /// The gridded variables, in file order.
    pub fn names(&self) -> Result<Vec<String>> {
        match &self.inner {
            Opened::Grib(f) => f.variable_names(),
            Opened::NetCdf(nc) => Ok(netcdf_candidates(nc)),
            Opened::Npz(c) => Ok(c.1.clone()),
        }
    }

    /// One variable (`None`: the only one), as [`read_variable`] describes.
    pub fn read(&self, var: Option<&str>) -> Result<GriddedVariable> {
        let (path, format) = (self.source.name(), self.format);
        match &self.inner {
            Opened::Grib(f) => read_grib(f, path, format, var),
            Opened::NetCdf(nc) => read_netcdf(nc, path, format, var, self.calendar),
            Opened::Npz(c) => read_npz_variable(c, path, format, var),
        }
    }
}

fn npy_unsupported(path: &Path) -> DatasetError {
    DatasetError::Unsupported {
        path: path.to_path_buf(),
        location: "file".into(),
        feature: "a .npy file holds one array and no latitude/longitude coordinates; save it \
                  as .npz with them, e.g. numpy.savez(out, temperature=a, latitude=lat, \
                  longitude=lon)"
            .into(),
    }
}

/// The variable to read: `var` if it is among `names`, else the only name.
fn choose(path: &Path, names: &[String], var: Option<&str>) -> Result<String> {
    match var {
        Some(v) if names.iter().any(|n| n == v) => Ok(v.to_string()),
        Some(v) => Err(DatasetError::NoSuchVariable {
            path: path.to_path_buf(),
            name: v.to_string(),
            available: names.join(", "),
        }),
        None => match names {
            [one] => Ok(one.clone()),
            [] => Err(DatasetError::Format {
                path: path.to_path_buf(),
                location: "variables".into(),
                message: "no variable on a latitude/longitude grid".into(),
            }),
            many => Err(DatasetError::Format {
                path: path.to_path_buf(),
                location: "variables".into(),
                message: format!(
                    "the file holds {} gridded variables ({}); name the one to read (`--var \
                     NAME` on the command line)",
                    many.len(),
                    many.join(", ")
                ),
            }),
        },
    }
}

fn unix_axis() -> Result<TimeAxis> {
    TimeAxis::new(UNIX_UNITS, Some(Calendar::ProlepticGregorian.name()))
}

fn nonempty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

// ---------------------------------------------------------------------------------------------
// GRIB.

fn read_grib(
    file: &GribFile,
    path: &Path,
    format: DataFormat,
    var: Option<&str>,
) -> Result<GriddedVariable> {
    let warnings: Vec<String> = file
        .warnings()
        .iter()
        .map(|w| format!("skipped damaged GRIB {w}"))
        .collect();
    let names = file.variable_names()?;
    let name = choose(path, &names, var)?;
    let v = file.variable(&name)?;
    from_grib(path, format, v, warnings)
}

fn from_grib(
    path: &Path,
    format: DataFormat,
    v: GribVariable,
    warnings: Vec<String>,
) -> Result<GriddedVariable> {
    let nn = v.number.as_ref().map_or(1, Vec::len);
    let (nt, nl) = (v.time.len(), v.level.len());
    let plane = v.lat.len() * v.lon.len();
    // Cells of the (number, time, level) block, in message order.
    let mut cells: Vec<usize> = (0..nn * nt * nl).collect();
    cells.sort_by_key(|&c| v.sources.get(c).copied().unwrap_or((usize::MAX, c)));
    let axis = unix_axis()?;
    let dates: Vec<CfDateTime> = v
        .time
        .iter()
        .map(|&t| axis.decode(t as f64))
        .collect::<Result<_>>()?;
    let has_level = v.type_of_level != "surface" || nl > 1;
    let mut labels = Vec::with_capacity(cells.len());
    let mut values = Vec::with_capacity(cells.len() * plane);
    for &c in &cells {
        let (n, t, l) = (c / (nt * nl), (c / nl) % nt, c % nl);
        labels.push(FieldLabel {
            time: Some(dates[t].to_string()),
            time_index: t,
            level: has_level.then(|| v.level[l]),
            member: v.number.as_ref().map(|m| i64::from(m[n])),
        });
        values.extend(
            v.data.data[c * plane..(c + 1) * plane]
                .iter()
                .map(|&x| x as f32),
        );
    }
    Ok(GriddedVariable {
        name: v.short_name.clone(),
        long_name: nonempty(&v.name),
        standard_name: None,
        units: nonempty(&v.units),
        lat_deg: v.lat.clone(),
        lon_deg: v.lon.clone(),
        labels,
        values,
        time: Some(TimeCoordinate {
            units: UNIX_UNITS.into(),
            calendar: Calendar::ProlepticGregorian,
            values: v.time.iter().map(|&t| t as f64).collect(),
            dates,
        }),
        source: path.to_path_buf(),
        format,
        warnings,
    })
}

// ---------------------------------------------------------------------------------------------
// NetCDF.

/// Variables whose last two dimensions have latitude and longitude coordinates.
fn netcdf_candidates(nc: &NcFile) -> Vec<String> {
    nc.variables()
        .iter()
        .filter(|v| v.dims.len() >= 2 && !v.dims.contains(&v.name) && v.dtype.is_numeric())
        .filter(|v| {
            nc.coordinate_axes(&v.name).is_ok_and(|axes| {
                let k = axes.len();
                axes[k - 2].1 == Some(Axis::Latitude) && axes[k - 1].1 == Some(Axis::Longitude)
            })
        })
        .map(|v| v.name.clone())
        .collect()
}

const MEMBER_NAMES: [&str; 7] = [
    "number",
    "member",
    "members",
    "realization",
    "realisation",
    "ensemble",
    "ens",
];

fn is_member_dim(nc: &NcFile, dim: &str) -> bool {
    let lower = dim.to_ascii_lowercase();
    MEMBER_NAMES.contains(&lower.as_str())
        || lower == "member_id"
        || nc
            .variables()
            .iter()
            .find(|v| v.name == dim)
            .and_then(|v| v.attr_str("standard_name"))
            .is_some_and(|s| s.trim() == "realization")
}

/// The role of a leading dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Time,
    Level,
    Member,
    Other,
}

fn read_netcdf(
    nc: &NcFile,
    path: &Path,
    format: DataFormat,
    var: Option<&str>,
    calendar: Option<Calendar>,
) -> Result<GriddedVariable> {
    let candidates = netcdf_candidates(nc);
    let name = match var {
        Some(v) if !candidates.iter().any(|c| c == v) => {
            return Err(match nc.variables().iter().find(|x| x.name == v) {
                Some(x) => not_gridded(nc, x),
                None => DatasetError::NoSuchVariable {
                    path: path.to_path_buf(),
                    name: v.to_string(),
                    available: candidates.join(", "),
                },
            });
        }
        _ => choose(path, &candidates, var)?,
    };
    let variable = nc.variable(&name)?.clone();
    let axes = nc.coordinate_axes(&name)?;
    let k = axes.len();
    let lat_deg = nc.read_f64(&axes[k - 2].0)?.data;
    let lon_deg = nc.read_f64(&axes[k - 1].0)?.data;
    let cf = nc.read_cf(&name)?;
    let mut values = cf.data.to_f32().data;
    for (v, &m) in values.iter_mut().zip(&cf.mask) {
        if m {
            *v = f32::NAN;
        }
    }
    let mut warnings = Vec::new();

    // Leading dimensions and what they are.
    let lead = &axes[..k - 2];
    let shape = &variable.shape[..k - 2];
    let mut roles: Vec<Role> = lead
        .iter()
        .map(|(dim, axis)| match axis {
            Some(Axis::Time) => Role::Time,
            Some(Axis::Vertical) => Role::Level,
            _ if is_member_dim(nc, dim) => Role::Member,
            _ => Role::Other,
        })
        .collect();
    // Only the first dimension of each role labels fields.
    for r in [Role::Time, Role::Level, Role::Member] {
        let mut seen = false;
        for role in roles.iter_mut().filter(|x| **x == r) {
            if seen {
                *role = Role::Other;
            }
            seen = true;
        }
    }
    let mut time = None;
    if let Some(d) = roles.iter().position(|&r| r == Role::Time) {
        match netcdf_time(nc, &lead[d].0, calendar) {
            Ok(t) => {
                if calendar.is_none() && nc.variable(&lead[d].0)?.attr_str("calendar").is_none() {
                    warnings.push(format!(
                        "time coordinate `{}` has no calendar attribute, so it was decoded in \
                         CF's default `standard` calendar; if the model used another (365-day \
                         years: noleap), override it (`--calendar noleap`)",
                        lead[d].0
                    ));
                }
                time = Some(t)
            }
            Err(e) => {
                warnings.push(format!(
                    "time coordinate `{}` not decoded ({e}); fields are labelled by index",
                    lead[d].0
                ));
                roles[d] = Role::Other;
            }
        }
    }
    let coord = |d: usize| -> Result<Vec<f64>> {
        let dim = &lead[d].0;
        if nc
            .variables()
            .iter()
            .any(|v| &v.name == dim && v.dims.len() == 1)
        {
            Ok(nc.read_f64(dim)?.data)
        } else {
            Ok((0..shape[d]).map(|i| i as f64).collect())
        }
    };
    let level_dim = roles.iter().position(|&r| r == Role::Level);
    let member_dim = roles.iter().position(|&r| r == Role::Member);
    let time_dim = roles.iter().position(|&r| r == Role::Time);
    let group_dim = time_dim.or_else(|| roles.iter().position(|&r| r == Role::Other));
    let levels = level_dim.map(coord).transpose()?;
    let members = member_dim.map(coord).transpose()?;

    let count: usize = shape.iter().product();
    // A file written by `convert` with a `field` axis keeps its labels (and has no time
    // coordinate); otherwise the labels come from the leading multi-index.
    let (labels, time) = match written_labels(nc, lead, count) {
        Some(labels) => (labels, None),
        None => {
            let mut labels = Vec::with_capacity(count);
            let mut index = vec![0usize; shape.len()];
            for _ in 0..count {
                labels.push(FieldLabel {
                    time: time_dim
                        .zip(time.as_ref())
                        .map(|(d, t): (usize, &TimeCoordinate)| t.dates[index[d]].to_string()),
                    time_index: group_dim.map_or(0, |d| index[d]),
                    level: level_dim.zip(levels.as_ref()).map(|(d, l)| l[index[d]]),
                    member: member_dim
                        .zip(members.as_ref())
                        .map(|(d, m)| m[index[d]].round() as i64),
                });
                // Row-major increment of the leading multi-index.
                for d in (0..shape.len()).rev() {
                    index[d] += 1;
                    if index[d] < shape[d] {
                        break;
                    }
                    index[d] = 0;
                }
            }
            (labels, time)
        }
    };
    Ok(GriddedVariable {
        name,
        long_name: cf.long_name,
        standard_name: cf.standard_name,
        units: cf.units,
        lat_deg,
        lon_deg,
        labels,
        values,
        time,
        source: path.to_path_buf(),
        format,
        warnings,
    })
}

/// The labels `convert` writes into a `.nc` with a `field` leading dimension (global
/// attributes `field_time`, `field_level`, `field_member`, one entry per field), so that a
/// converted file keeps its times, levels and members, and fields of one time stay grouped.
fn written_labels(
    nc: &NcFile,
    lead: &[(String, Option<Axis>)],
    count: usize,
) -> Option<Vec<FieldLabel>> {
    if lead.len() != 1 || lead[0].0 != "field" {
        return None;
    }
    let entries = |key: &str| -> Option<Vec<String>> {
        let text = nc.attribute(key)?.as_str()?;
        let v: Vec<String> = text.split_whitespace().map(str::to_string).collect();
        (v.len() == count).then_some(v)
    };
    let (times, levels, members) = (
        entries("field_time"),
        entries("field_level"),
        entries("field_member"),
    );
    if times.is_none() && levels.is_none() && members.is_none() {
        return None;
    }
    let mut distinct: Vec<&str> = Vec::new();
    let mut labels = Vec::with_capacity(count);
    for f in 0..count {
        let time = times
            .as_ref()
            .map(|t| t[f].as_str())
            .filter(|t| *t != "NaT");
        let time_index = match &times {
            Some(t) => match distinct.iter().position(|d| *d == t[f]) {
                Some(i) => i,
                None => {
                    distinct.push(&t[f]);
                    distinct.len() - 1
                }
            },
            None => f,
        };
        labels.push(FieldLabel {
            time: time.map(str::to_string),
            time_index,
            level: levels.as_ref().and_then(|l| l[f].parse().ok()),
            member: members.as_ref().and_then(|m| m[f].parse().ok()),
        });
    }
    Some(labels)
}

fn not_gridded(nc: &NcFile, v: &Variable) -> DatasetError {
    let axes = nc.coordinate_axes(&v.name).unwrap_or_default();
    let described: Vec<String> = axes
        .iter()
        .map(|(d, a)| match a {
            Some(a) => format!("{d} ({a:?})").to_lowercase(),
            None => format!("{d} (no coordinate axis)"),
        })
        .collect();
    DatasetError::Format {
        path: nc.path().to_path_buf(),
        location: format!("variable {}", v.name),
        message: format!(
            "its last two dimensions must be latitude and longitude coordinates, but its \
             dimensions are [{}]; gridded variables: {}",
            described.join(", "),
            netcdf_candidates(nc).join(", ")
        ),
    }
}

fn netcdf_time(nc: &NcFile, dim: &str, calendar: Option<Calendar>) -> Result<TimeCoordinate> {
    let axis = nc.time_axis(dim, calendar)?;
    let values = nc.read_f64(dim)?.data;
    let dates = nc.read_time(dim, calendar)?;
    let units = nc
        .variable(dim)?
        .attr_str("units")
        .unwrap_or_default()
        .trim()
        .to_string();
    Ok(TimeCoordinate {
        units,
        calendar: axis.calendar,
        values,
        dates,
    })
}

// ---------------------------------------------------------------------------------------------
// NPZ.

const NPZ_LAT: [&str; 2] = ["latitude", "lat"];
const NPZ_LON: [&str; 2] = ["longitude", "lon"];

type NpzContents = (Vec<(String, NpyArray)>, Vec<String>, Vec<f64>, Vec<f64>);

/// Reads an archive: all arrays, the gridded candidates, latitudes and longitudes.
fn npz_candidates(npz: &Npz) -> Result<NpzContents> {
    let path = npz.path();
    let arrays = npz.read_all()?;
    let find = |keys: &[&str]| {
        arrays
            .iter()
            .find(|(k, _)| keys.contains(&k.as_str()))
            .map(|(k, a)| (k.clone(), a))
    };
    let coord = |keys: &[&str], what: &str| -> Result<Vec<f64>> {
        let Some((k, a)) = find(keys) else {
            return Err(DatasetError::Format {
                path: path.to_path_buf(),
                location: "archive".into(),
                message: format!(
                    "no `{}` array (keys: {}); a gridded .npz needs 1-D `latitude` and \
                     `longitude` arrays beside the data, as in the GASP ERA5 files",
                    keys[0],
                    npz.keys().join(", ")
                ),
            });
        };
        if a.shape().len() != 1 || matches!(a, NpyArray::Bool(_)) {
            return Err(DatasetError::Format {
                path: path.to_path_buf(),
                location: format!("array {k}"),
                message: format!(
                    "{what} must be a 1-D numeric array, got shape {:?}",
                    a.shape()
                ),
            });
        }
        Ok(a.to_f64().data)
    };
    let lat = coord(&NPZ_LAT, "latitude")?;
    let lon = coord(&NPZ_LON, "longitude")?;
    let (nlat, nlon) = (lat.len(), lon.len());
    let candidates = arrays
        .iter()
        .filter(|(k, a)| {
            let s = a.shape();
            !NPZ_LAT.contains(&k.as_str())
                && !NPZ_LON.contains(&k.as_str())
                && !matches!(a, NpyArray::Bool(_))
                && s.len() >= 2
                && s[s.len() - 2..] == [nlat, nlon]
        })
        .map(|(k, _)| k.clone())
        .collect();
    Ok((arrays, candidates, lat, lon))
}

fn read_npz_variable(
    contents: &NpzContents,
    path: &Path,
    format: DataFormat,
    var: Option<&str>,
) -> Result<GriddedVariable> {
    let (arrays, candidates, lat_deg, lon_deg) = contents;
    let (lat_deg, lon_deg) = (lat_deg.clone(), lon_deg.clone());
    let name = choose(path, candidates, var)?;
    let get = |k: &str| arrays.iter().find(|(n, _)| n == k).map(|(_, a)| a);
    let data = get(&name).expect("chosen among the archive's keys");
    let shape = data.shape();
    let count = match shape.len() {
        2 => 1,
        3 => shape[0],
        n => {
            return Err(DatasetError::Unsupported {
                path: path.to_path_buf(),
                location: format!("array {name}"),
                feature: format!(
                    "a {n}-D data array {shape:?}: meshflow reads [field, lat, lon] or [lat, \
                     lon] arrays from .npz; reshape it to [-1, {}, {}] first",
                    lat_deg.len(),
                    lon_deg.len()
                ),
            })
        }
    };
    let values = data.to_f32().data;
    let mut warnings = Vec::new();
    // Optional per-field labels, as `convert` writes them.
    let per_field = |k: &str| -> Option<&NpyArray> {
        get(k).filter(|a| a.shape() == [count] && !matches!(a, NpyArray::Bool(_)))
    };
    let mut time = None;
    let mut time_index: Vec<usize> = (0..count).collect();
    if let Some(t) = get("time") {
        match (t, per_field("time")) {
            (NpyArray::I64(a), Some(_)) => {
                let axis = unix_axis()?;
                let mut distinct: Vec<i64> = Vec::new();
                for (f, &s) in a.data.iter().enumerate() {
                    time_index[f] = match distinct.iter().position(|&d| d == s) {
                        Some(i) => i,
                        None => {
                            distinct.push(s);
                            distinct.len() - 1
                        }
                    };
                }
                let dates = distinct
                    .iter()
                    .map(|&s| axis.decode(s as f64))
                    .collect::<Result<Vec<_>>>()?;
                time = Some(TimeCoordinate {
                    units: UNIX_UNITS.into(),
                    calendar: Calendar::ProlepticGregorian,
                    values: distinct.iter().map(|&s| s as f64).collect(),
                    dates,
                });
            }
            _ => warnings.push(format!(
                "array `time` ({}, shape {:?}) not used: field times are read from an int64 \
                 [{count}] array of seconds since 1970-01-01",
                t.dtype(),
                t.shape()
            )),
        }
    }
    let levels = per_field("level").map(|a| a.to_f64().data);
    let members = per_field("member")
        .or_else(|| per_field("number"))
        .map(|a| a.to_f64().data);
    let labels = (0..count)
        .map(|f| FieldLabel {
            time: time
                .as_ref()
                .map(|t: &TimeCoordinate| t.dates[time_index[f]].to_string()),
            time_index: time_index[f],
            level: levels.as_ref().map(|l| l[f]),
            member: members.as_ref().map(|m| m[f].round() as i64),
        })
        .collect();
    Ok(GriddedVariable {
        name,
        long_name: None,
        standard_name: None,
        units: None,
        lat_deg,
        lon_deg,
        labels,
        values,
        time,
        source: path.to_path_buf(),
        format,
        warnings,
    })
}

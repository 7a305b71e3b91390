//! Converting a variable of any supported file to CF NetCDF or NumPy `.npz` (`meshflow
//! convert`).

use std::path::{Path, PathBuf};

use super::format::DataFormat;
use super::range::FieldRange;
use super::read::{DataFile, GriddedVariable, UNIX_UNITS};
use super::source::DataSource;
use crate::cf::{Calendar, CfDateTime, TimeAxis};
use crate::netcdf::writer::{write_cf_grid, CfGrid, DataVar, LeadingAxis};
use crate::npy::{write_npz, NpyArray};
use crate::{DatasetError, NdArray, Result};

/// What [`convert`] writes, chosen by the output's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// `.nc`: CF-1.8 NetCDF-3 (64-bit offset), see [`write_cf_grid`].
    NetCdf,
    /// `.npz`: uncompressed NumPy archive, see [`write_npz`].
    Npz,
}

impl OutputFormat {
    /// The format for an output path's extension (`.nc`, `.npz`, case-insensitive).
    ///
    /// # Errors
    /// [`DatasetError::Unsupported`] for any other extension.
    pub fn from_path(path: &Path) -> Result<OutputFormat> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("nc") => Ok(OutputFormat::NetCdf),
            Some("npz") => Ok(OutputFormat::Npz),
            other => Err(DatasetError::Unsupported {
                path: path.to_path_buf(),
                location: "output".into(),
                feature: format!(
                    "output {}: write `.nc` (CF NetCDF) or `.npz` (NumPy)",
                    match other {
                        Some(e) => format!("extension `.{e}`"),
                        None => "without an extension".into(),
                    }
                ),
            }),
        }
    }
}

/// What [`convert`] did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConvertSummary {
    /// The file read.
    pub input: PathBuf,
    /// Its format.
    pub input_format: DataFormat,
    /// The file written.
    pub output: PathBuf,
    /// Its format.
    pub output_format: OutputFormat,
    /// The variable converted.
    pub variable: String,
    /// Its units, if known.
    pub units: Option<String>,
    /// Number of fields written.
    pub fields: usize,
    /// Latitude rows.
    pub nlat: usize,
    /// Longitude columns.
    pub nlon: usize,
    /// The first dimension of a `.nc` output: `time` (every field has its own time) or
    /// `field`; `None` for `.npz`.
    pub leading_axis: Option<String>,
    /// Missing values written (as `_FillValue` in `.nc`, NaN in `.npz`).
    pub missing: usize,
    /// What the output does not keep, and why.
    pub notes: Vec<String>,
    /// Problems met while reading the input.
    pub warnings: Vec<String>,
}

impl std::fmt::Display for ConvertSummary {
    /// One line: `wrote 80 fields of t (K, 61x120) from GRIB1 a.grib to b.nc (time axis)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "wrote {} field{} of {}",
            self.fields,
            if self.fields == 1 { "" } else { "s" },
            self.variable
        )?;
        match &self.units {
            Some(u) => write!(f, " ({u}, {}x{})", self.nlat, self.nlon)?,
            None => write!(f, " ({}x{})", self.nlat, self.nlon)?,
        }
        write!(
            f,
            " from {} {} to {}",
            self.input_format,
            self.input.display(),
            self.output.display()
        )?;
        if let Some(a) = &self.leading_axis {
            write!(f, " (leading axis {a})")?;
        }
        if self.missing > 0 {
            write!(f, ", {} missing values", self.missing)?;
        }
        Ok(())
    }
}

/// Reads variable `var` of `input` (any format [`super::read_variable`] reads, a path or
/// bytes in memory), keeps the fields
/// `fields` selects (all by default), and writes `[field, lat, lon]` float32 values with their
/// coordinates to `output`:
///
/// * `.nc`: CF NetCDF via [`write_cf_grid`], leading dimension `time` (CF units and calendar
///   of the input) when every field has a distinct time, else `field` with the fields' times,
///   levels and members in the global attributes `field_time`, `field_level`,
///   `field_member`; units, standard and long name copied; NaN written as `_FillValue`.
/// * `.npz`: `<var>` `[F, nlat, nlon]` float32 (NaN = missing), `latitude`, `longitude`
///   (float64), and, when present, `time` (int64 seconds since 1970-01-01 UTC; only for the
///   `standard`/`proleptic_gregorian` calendars, otherwise left out and said so in
///   [`ConvertSummary::notes`]), `level` (float64 `[F]`) and `member` (int64 `[F]`).
///
/// Values are the input's float32 decode, unchanged: reading the output back with
/// [`super::read_variable`] gives them bit for bit. The output is written atomically.
///
/// # Errors
/// Reader errors; an empty or out-of-range selection; an output extension other than `.nc`
/// or `.npz`; a variable name that clashes with a coordinate name of the output.
pub fn convert(
    input: impl Into<DataSource>,
    output: impl AsRef<Path>,
    var: Option<&str>,
    fields: Option<FieldRange>,
) -> Result<ConvertSummary> {
    DataFile::open(input)?.convert(output, var, fields)
}

impl DataFile {
    /// Converts variable `var` of this file, as [`convert`] does (with this file's read
    /// options, such as a calendar override).
    pub fn convert(
        &self,
        output: impl AsRef<Path>,
        var: Option<&str>,
        fields: Option<FieldRange>,
    ) -> Result<ConvertSummary> {
        let output = output.as_ref();
        let output_format = OutputFormat::from_path(output)?;
        let mut v = self.read(var)?;
        if let Some(range) = fields {
            v = v.select_range(&range)?;
        }
        let mut notes = Vec::new();
        let leading_axis = match output_format {
            OutputFormat::NetCdf => Some(write_nc(&v, output, &mut notes)?),
            OutputFormat::Npz => {
                write_npz_fields(&v, output, &mut notes)?;
                None
            }
        };
        Ok(ConvertSummary {
            input: self.source().name().to_path_buf(),
            input_format: v.format,
            output: output.to_path_buf(),
            output_format,
            variable: v.name.clone(),
            units: v.units.clone(),
            fields: v.num_fields(),
            nlat: v.nlat(),
            nlon: v.nlon(),
            leading_axis,
            missing: v.missing_count(),
            notes,
            warnings: v.warnings.clone(),
        })
    }
}

impl GriddedVariable {
    /// The fields at `indices` (in that order), with their labels; coordinates and the time
    /// coordinate are kept whole.
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn select(&self, indices: &[usize]) -> GriddedVariable {
        let mut values = Vec::with_capacity(indices.len() * self.nlat() * self.nlon());
        for &i in indices {
            values.extend_from_slice(self.field(i));
        }
        GriddedVariable {
            labels: indices.iter().map(|&i| self.labels[i].clone()).collect(),
            values,
            ..self.clone_without_values()
        }
    }

    /// The fields a [`FieldRange`] selects.
    ///
    /// # Errors
    /// [`DatasetError::Format`] (location `field selection`) for a single index out of range
    /// or a selection of no field.
    pub fn select_range(&self, range: &FieldRange) -> Result<GriddedVariable> {
        let err = |message: String| DatasetError::Format {
            path: self.source.clone(),
            location: "field selection".into(),
            message,
        };
        let n = self.num_fields();
        let idx = range.resolve(n).map_err(|e| err(e.to_string()))?;
        if idx.is_empty() {
            return Err(err(format!(
                "`{range}` selects none of the {n} fields of {}",
                self.name
            )));
        }
        Ok(self.select(&idx))
    }

    fn clone_without_values(&self) -> GriddedVariable {
        GriddedVariable {
            name: self.name.clone(),
            long_name: self.long_name.clone(),
            standard_name: self.standard_name.clone(),
            units: self.units.clone(),
            lat_deg: self.lat_deg.clone(),
            lon_deg: self.lon_deg.clone(),
            labels: Vec::new(),
            values: Vec::new(),
            time: self.time.clone(),
            source: self.source.clone(),
            format: self.format,
            warnings: self.warnings.clone(),
        }
    }

    /// Whether every field has a time and no two share one.
    fn distinct_times(&self) -> bool {
        if self.time.is_none() || self.labels.iter().any(|l| l.time.is_none()) {
            return false;
        }
        let mut seen: Vec<usize> = self.labels.iter().map(|l| l.time_index).collect();
        seen.sort_unstable();
        seen.windows(2).all(|w| w[0] != w[1])
    }
}

fn joined<T>(items: impl Iterator<Item = T>, f: impl Fn(T) -> String) -> String {
    items.map(f).collect::<Vec<_>>().join(" ")
}

fn write_nc(v: &GriddedVariable, output: &Path, notes: &mut Vec<String>) -> Result<String> {
    let mut attributes = vec![(
        "source".to_string(),
        format!("{} ({})", v.source.display(), v.format),
    )];
    let leading = match (&v.time, v.distinct_times()) {
        (Some(t), true) => LeadingAxis::Time {
            values: v.labels.iter().map(|l| t.values[l.time_index]).collect(),
            units: t.units.clone(),
            calendar: t.calendar,
        },
        _ => {
            if v.labels.iter().any(|l| l.time.is_some()) {
                attributes.push((
                    "field_time".into(),
                    joined(v.labels.iter(), |l| l.time.clone().unwrap_or("NaT".into())),
                ));
            }
            if v.labels.iter().any(|l| l.level.is_some()) {
                attributes.push((
                    "field_level".into(),
                    joined(v.labels.iter(), |l| {
                        l.level.map_or("nan".into(), |x| x.to_string())
                    }),
                ));
            }
            if v.labels.iter().any(|l| l.member.is_some()) {
                attributes.push((
                    "field_member".into(),
                    joined(v.labels.iter(), |l| {
                        l.member.map_or("-".into(), |x| x.to_string())
                    }),
                ));
            }
            if attributes.len() > 1 {
                notes.push(
                    "fields share times, so the leading dimension is `field`; each field's \
                     time, level and member are in the global attributes field_time, \
                     field_level, field_member"
                        .into(),
                );
            }
            LeadingAxis::Field {
                count: v.num_fields(),
            }
        }
    };
    let axis = match leading {
        LeadingAxis::Time { .. } => "time",
        LeadingAxis::Field { .. } => "field",
    };
    let grid = CfGrid {
        leading,
        lat: v.lat_deg.clone(),
        lon: v.lon_deg.clone(),
        variables: vec![DataVar {
            units: v.units.clone(),
            standard_name: v.standard_name.clone(),
            long_name: v.long_name.clone(),
            ..DataVar::new(v.name.clone(), v.values.clone())
        }],
        history: format!(
            "meshflow convert: variable {} of {}",
            v.name,
            v.source.display()
        ),
        attributes,
    };
    write_cf_grid(output, &grid)?;
    Ok(axis.into())
}

/// Seconds since 1970 of every field, when the calendar agrees with numpy's (proleptic
/// Gregorian) for every date.
fn unix_seconds(v: &GriddedVariable, notes: &mut Vec<String>) -> Result<Option<Vec<i64>>> {
    let Some(t) = &v.time else {
        return Ok(None);
    };
    if v.labels.iter().any(|l| l.time.is_none()) {
        return Ok(None);
    }
    let gregorian_start = CfDateTime::ymd_hms(1582, 10, 15, 0, 0, 0);
    let before = |d: &CfDateTime| {
        (d.year, d.month, d.day)
            < (
                gregorian_start.year,
                gregorian_start.month,
                gregorian_start.day,
            )
    };
    let compatible = match t.calendar {
        Calendar::ProlepticGregorian => true,
        Calendar::Standard => !t.dates.iter().any(before),
        _ => false,
    };
    if !compatible {
        notes.push(format!(
            "`time` not written: the {} calendar of {} has no int64 seconds-since-1970 \
             equivalent (numpy datetime64 is proleptic Gregorian); write .nc to keep the times",
            t.calendar.name(),
            v.name
        ));
        return Ok(None);
    }
    let axis = TimeAxis::new(UNIX_UNITS, Some(Calendar::ProlepticGregorian.name()))?;
    let mut rounded = false;
    let secs = v
        .labels
        .iter()
        .map(|l| {
            let s = axis.encode(&t.dates[l.time_index])?;
            rounded |= s.fract() != 0.0;
            Ok(s.round() as i64)
        })
        .collect::<Result<Vec<_>>>()?;
    if rounded {
        notes.push("sub-second times were rounded to whole seconds in `time`".into());
    }
    Ok(Some(secs))
}

fn write_npz_fields(v: &GriddedVariable, output: &Path, notes: &mut Vec<String>) -> Result<()> {
    let f = v.num_fields();
    let reserved = ["latitude", "longitude", "time", "level", "member"];
    if reserved.contains(&v.name.as_str()) {
        return Err(DatasetError::Format {
            path: output.to_path_buf(),
            location: "output".into(),
            message: format!(
                "variable name `{}` clashes with a coordinate array of the .npz ({})",
                v.name,
                reserved.join(", ")
            ),
        });
    }
    let data = NpyArray::F32(NdArray::new(vec![f, v.nlat(), v.nlon()], v.values.clone())?);
    let lat = NpyArray::F64(NdArray::new(vec![v.nlat()], v.lat_deg.clone())?);
    let lon = NpyArray::F64(NdArray::new(vec![v.nlon()], v.lon_deg.clone())?);
    let mut arrays: Vec<(&str, NpyArray)> = vec![
        (v.name.as_str(), data),
        ("latitude", lat),
        ("longitude", lon),
    ];
    if let Some(secs) = unix_seconds(v, notes)? {
        arrays.push(("time", NpyArray::I64(NdArray::new(vec![f], secs)?)));
    }
    if let Some(l) = v
        .labels
        .iter()
        .map(|l| l.level)
        .collect::<Option<Vec<f64>>>()
    {
        arrays.push(("level", NpyArray::F64(NdArray::new(vec![f], l)?)));
    }
    if let Some(m) = v
        .labels
        .iter()
        .map(|l| l.member)
        .collect::<Option<Vec<i64>>>()
    {
        arrays.push(("member", NpyArray::I64(NdArray::new(vec![f], m)?)));
    }
    let kept: Vec<String> = [
        ("units", &v.units),
        ("long_name", &v.long_name),
        ("standard_name", &v.standard_name),
    ]
    .iter()
    .filter_map(|(k, x)| x.as_ref().map(|x| format!("{k} `{x}`")))
    .collect();
    if !kept.is_empty() {
        notes.push(format!(
            ".npz holds no attributes: {} not stored",
            kept.join(", ")
        ));
    }
    let refs: Vec<(&str, &NpyArray)> = arrays.iter().map(|(k, a)| (*k, a)).collect();
    write_npz(output, &refs)
}

//! Grouping the fields of one variable into an n-d array.

use super::{GribField, Grid};
use crate::{DatasetError, NdArray, Result};
use std::path::Path;

/// One variable of a GRIB file as an n-d array.
///
/// `data` has dims `dims`: `["number", "time", "level", "lat", "lon"]`, without `"number"`
/// when all fields have the same (or no) ensemble member. `time` and `level` are always
/// present (length 1 if constant). Coordinates are listed in order of first appearance in the
/// file; `lat`/`lon` follow the message's scanning directions (see [`Grid`]). Every
/// (number, time, level) combination must occur exactly once and all fields must share one
/// grid; otherwise grouping fails naming the offending messages.
#[derive(Debug, Clone, PartialEq)]
pub struct GribVariable {
    /// ecCodes short name.
    pub short_name: String,
    /// Long name (empty if unknown).
    pub name: String,
    /// Units (empty if unknown).
    pub units: String,
    /// ecCodes `typeOfLevel` of the fields.
    pub type_of_level: String,
    /// Dimension names, outermost first.
    pub dims: Vec<&'static str>,
    /// Values, NaN where missing.
    pub data: NdArray<f64>,
    /// Ensemble member of each `number` index; `None` when there is no `number` dim.
    pub number: Option<Vec<u32>>,
    /// Valid time of each `time` index, seconds since 1970 UTC.
    pub time: Vec<i64>,
    /// Level value of each `level` index.
    pub level: Vec<f64>,
    /// Latitude of each row.
    pub lat: Vec<f64>,
    /// Longitude of each column.
    pub lon: Vec<f64>,
    /// The grid shared by every field.
    pub grid: Grid,
    /// `(message index, field index)` of each cell of the (number, time, level) block, in
    /// row-major order: where each 2-d slice came from.
    pub sources: Vec<(usize, usize)>,
}

fn position<T: PartialEq>(v: &mut Vec<T>, x: T) -> usize {
    match v.iter().position(|y| *y == x) {
        Some(i) => i,
        None => {
            v.push(x);
            v.len() - 1
        }
    }
}

impl GribVariable {
    /// Groups decoded fields of one variable (all with the same short name). `path` names the
    /// source in errors.
    pub fn from_fields(path: impl AsRef<Path>, fields: Vec<GribField>) -> Result<Self> {
        let path = path.as_ref();
        let Some(first) = fields.first() else {
            return Err(DatasetError::Format {
                path: path.to_path_buf(),
                location: "variable".into(),
                message: "no fields to group".into(),
            });
        };
        let name = first.meta.parameter.short_name.clone();
        if let Some(f) = fields.iter().find(|f| f.meta.parameter.short_name != name) {
            return Err(DatasetError::Format {
                path: path.to_path_buf(),
                location: format!("message {} (byte {})", f.meta.message_index, f.meta.offset),
                message: format!(
                    "field is {}, not {name}: group one variable at a time",
                    f.meta.parameter.short_name
                ),
            });
        }
        group(path, fields)
    }
}

pub(crate) fn group(path: &Path, fields: Vec<GribField>) -> Result<GribVariable> {
    let err = |location: String, message: String| DatasetError::Format {
        path: path.to_path_buf(),
        location,
        message,
    };
    let first = &fields[0];
    let loc = |f: &GribField| {
        format!(
            "variable {} message {} (byte {})",
            f.meta.parameter.short_name, f.meta.message_index, f.meta.offset
        )
    };
    let (mut numbers, mut times, mut levels) = (Vec::new(), Vec::new(), Vec::<u64>::new());
    let mut keys = Vec::with_capacity(fields.len());
    for f in &fields {
        if f.meta.grid != first.meta.grid {
            return Err(err(
                loc(f),
                format!(
                    "grid differs from that of message {}; fields of one variable must share \
                     a grid",
                    first.meta.message_index
                ),
            ));
        }
        if f.meta.level.type_of_level != first.meta.level.type_of_level {
            return Err(err(
                loc(f),
                format!(
                    "level type {} differs from {} of message {}",
                    f.meta.level.type_of_level,
                    first.meta.level.type_of_level,
                    first.meta.message_index
                ),
            ));
        }
        let t = f.meta.valid_time().ok_or_else(|| {
            err(
                loc(f),
                "valid time unknown (step missing or in calendar units)".into(),
            )
        })?;
        let n = position(&mut numbers, f.meta.number);
        let ti = position(&mut times, t);
        let li = position(&mut levels, f.meta.level.value.to_bits());
        keys.push((n, ti, li));
    }
    let has_number = numbers.len() > 1;
    let (nn, nt, nl) = (numbers.len(), times.len(), levels.len());
    let (nj, ni) = (first.lats.len(), first.lons.len());
    let cells = nn * nt * nl;
    let plane = nj * ni;
    let mut data = vec![f64::NAN; cells * plane];
    let mut sources: Vec<Option<(usize, usize)>> = vec![None; cells];
    for (f, &(n, t, l)) in fields.iter().zip(&keys) {
        let c = (n * nt + t) * nl + l;
        if let Some((m, _)) = sources[c] {
            return Err(err(
                loc(f),
                format!("duplicate field: message {m} has the same number, time and level"),
            ));
        }
        sources[c] = Some((f.meta.message_index, f.meta.field_index));
        data[c * plane..(c + 1) * plane].copy_from_slice(&f.values);
    }
    if let Some(c) = sources.iter().position(|s| s.is_none()) {
        let (n, rest) = (c / (nt * nl), c % (nt * nl));
        let (t, l) = (rest / nl, rest % nl);
        return Err(err(
            format!("variable {}", first.meta.parameter.short_name),
            format!(
                "fields do not fill a (number, time, level) grid: none for number {:?}, \
                 time {}, level {}",
                numbers[n],
                times[t],
                f64::from_bits(levels[l])
            ),
        ));
    }
    let mut shape = vec![nt, nl, nj, ni];
    let mut dims = vec!["time", "level", "lat", "lon"];
    if has_number {
        shape.insert(0, nn);
        dims.insert(0, "number");
    }
    let m = &first.meta;
    Ok(GribVariable {
        short_name: m.parameter.short_name.clone(),
        name: m.parameter.name.clone(),
        units: m.parameter.units.clone(),
        type_of_level: m.level.type_of_level.clone(),
        dims,
        data: NdArray { shape, data },
        number: has_number.then(|| numbers.iter().map(|n| n.unwrap_or(0)).collect()),
        time: times,
        level: levels.into_iter().map(f64::from_bits).collect(),
        lat: first.lats.clone(),
        lon: first.lons.clone(),
        grid: m.grid.clone(),
        sources: sources.into_iter().flatten().collect(),
    })
}

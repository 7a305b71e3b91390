//! GRIB editions 1 and 2: a pure-Rust reader for grid-point fields.
//!
//! ```no_run
//! use meshflow_datasets::grib::{GribFile, Mode};
//!
//! # fn main() -> meshflow_datasets::Result<()> {
//! // Lenient: damaged messages are skipped and reported as warnings.
//! let file = GribFile::open("era5-levels-members.grib", Mode::Lenient)?;
//! for w in file.warnings() {
//!     eprintln!("warning: {w}");
//! }
//! for field in file.fields() {
//!     let field = field?;
//!     let m = &field.meta;
//!     println!(
//!         "{} {} {} {} number={:?} {}x{}",
//!         m.parameter.short_name,
//!         m.level.type_of_level,
//!         m.level.value,
//!         m.reference_time,
//!         m.number,
//!         m.grid.nj,
//!         m.grid.ni
//!     );
//! }
//! // One variable as an n-d array: dims (number, time, level, lat, lon).
//! let t = file.variable("t")?;
//! assert_eq!(t.dims, ["number", "time", "level", "lat", "lon"]);
//! assert_eq!(t.data.shape, [10, 4, 2, 61, 120]);
//! # Ok(()) }
//! ```
//!
//! # What is decoded
//!
//! - Messages are found by their `GRIB` magic, so padding between messages (ERA5 files from
//!   MARS pad each message to a multiple of 8 bytes) is skipped. A message whose declared
//!   length does not end on `7777` (or runs past the end of the file) is *damaged*: in
//!   [`Mode::Strict`] opening the file fails naming the message and byte offset; in
//!   [`Mode::Lenient`] it is skipped and listed in [`GribFile::warnings`], and reading
//!   resumes at the next `GRIB`. Nothing is decoded from a damaged message.
//! - Metadata: parameter (ecCodes short names for ECMWF table 128 and common WMO/GRIB2
//!   parameters, `param<N>` / `param<d>_<c>_<n>` otherwise), level type and value (ecCodes
//!   `typeOfLevel` names: `isobaricInhPa`, `surface`, ...), reference time, forecast step,
//!   ensemble member (`number`: GRIB1 ECMWF local definitions 1, 15, 26, 30, 36; GRIB2
//!   product templates 4.1 and 4.11).
//! - Grids: regular lat-lon (GRIB1 type 0, GRIB2 template 3.0) and regular Gaussian (GRIB1
//!   type 4, GRIB2 template 3.40), all scanning modes (GRIB2's alternating rows included).
//!   Values come out as `[nj][ni]` rows in the message's own j/i directions, with a latitude
//!   per row and a longitude per column ([`GribField::lats`], [`GribField::lons`]);
//!   [`GribField::orient_north_south_west_east`] flips them into the usual order.
//! - Bitmaps (GRIB1 section 3, GRIB2 section 6, including GRIB2's "same bitmap as before"):
//!   missing points are NaN and [`GribField::mask`] says which points are present.
//! - Simple packing only, any width 0–32 bits: `value = (R + X·2^E)·10^−D`, computed in
//!   `f64` in the same order as ecCodes so that values match ecCodes bit for bit (R is an
//!   IBM float in GRIB1, IEEE in GRIB2). A constant field (0 bits) is `R`, unscaled, again
//!   as ecCodes decodes it. Other packings (GRIB2 5.2/5.3 complex, 5.40 JPEG 2000, 5.41 PNG,
//!   5.42 CCSDS, spherical harmonics, GRIB1 second-order) and other grids (rotated, Lambert,
//!   reduced Gaussian, ...) give [`DatasetError::Unsupported`] naming the message and the
//!   template; their metadata is still available from [`GribFile::inventory`].
//!
//! # Why not a crate
//!
//! There is no pure-Rust GRIB1 decoder on crates.io. The `grib` crate (grib-rs) reads
//! GRIB2 only, decodes to `f32` (computing `(R + X·2^E)·10^−D` in single precision, so it
//! cannot match ecCodes' `f64` values), and its default features build C libraries
//! (OpenJPEG, libaec). GRIB1 needs its own grid, scanning-mode, bitmap and simple-packing
//! code anyway, and GRIB2 simple packing shares all of it, so both editions are decoded
//! here; `eccodes` bindings would need the C library, which the default build must not.

mod bits;
mod edition1;
mod edition2;
mod grid;
mod tables;
mod variable;

pub use grid::{gaussian_latitudes, Grid, GridKind, ScanningMode};
pub use variable::GribVariable;

use crate::{DatasetError, Result};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// Fields larger than this many points are rejected as implausible (a damaged header must not
/// make the reader allocate gigabytes). 2^28 points is a 0.014° global grid.
pub(crate) const MAX_POINTS: usize = 1 << 28;

/// How damaged messages (wrong declared length, no `7777` end marker, cut off by the end of
/// the file) are treated when a file is opened. Errors inside a well-framed message show up
/// when it is decoded, in either mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Any damaged message is an error.
    Strict,
    /// Damaged messages are skipped and reported by [`GribFile::warnings`].
    Lenient,
}

/// Where a message is in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// Position among all messages found in the file, damaged ones included (so indices match
    /// the file even when a damaged message is skipped).
    pub index: usize,
    /// Byte offset of the `GRIB` magic.
    pub offset: u64,
    /// Total length in bytes, `GRIB` to `7777`.
    pub length: u64,
    /// GRIB edition (1 or 2).
    pub edition: u8,
}

/// A damaged message that was skipped in [`Mode::Lenient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GribWarning {
    /// Index of the damaged message (counting every message found, as [`MessageInfo::index`]).
    pub message_index: usize,
    /// Byte offset of its `GRIB` magic.
    pub offset: u64,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for GribWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "message {} (byte {}): {}",
            self.message_index, self.offset, self.message
        )
    }
}

/// A parameter (variable).
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// ecCodes short name (`t`, `z`, `2t`, ...), or `param<N>` (GRIB1) /
    /// `param<discipline>_<category>_<number>` (GRIB2) when unknown.
    pub short_name: String,
    /// Long name; empty when unknown.
    pub name: String,
    /// Units as ecCodes writes them (`K`, `m**2 s**-2`); empty when unknown.
    pub units: String,
    /// The numbers it was looked up from.
    pub id: ParameterId,
}

impl Parameter {
    fn new(short_name: &str, name: &str, units: &str, id: ParameterId) -> Self {
        Self {
            short_name: short_name.into(),
            name: name.into(),
            units: units.into(),
            id,
        }
    }
}

/// The coded parameter numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterId {
    /// GRIB1: `table2Version` and `indicatorOfParameter` (section 1 octets 4 and 9).
    Grib1 {
        /// Table 2 version.
        table_version: u8,
        /// Parameter number in that table.
        number: u8,
    },
    /// GRIB2: discipline (section 0), parameter category and number (section 4).
    Grib2 {
        /// Discipline.
        discipline: u8,
        /// Parameter category.
        category: u8,
        /// Parameter number.
        number: u8,
    },
}

/// A vertical level.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// ecCodes `typeOfLevel` (`isobaricInhPa`, `surface`, `heightAboveGround`, ...;
    /// `typeOfLevel<code>` when unknown, `unknown` when the product template has none).
    pub type_of_level: String,
    /// The coded level type (GRIB1 table 3 / GRIB2 table 4.5).
    pub code: u8,
    /// Level value in the unit of `type_of_level` (hPa for `isobaricInhPa`; for layers, the
    /// first/top value).
    pub value: f64,
    /// Second value of a layer.
    pub second_value: Option<f64>,
}

/// A date and time (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    /// Year.
    pub year: i32,
    /// Month, 1–12.
    pub month: u8,
    /// Day, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59.
    pub second: u8,
}

impl DateTime {
    /// Validates the fields.
    pub fn new(
        year: i32,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    ) -> Result<Self, String> {
        let dim = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
            2 => 28,
            _ => return Err(format!("month {month}")),
        };
        if day == 0 || day > dim || hour > 23 || minute > 59 || second > 59 {
            return Err(format!(
                "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} is not a valid \
                 time"
            ));
        }
        Ok(Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    /// Seconds since 1970-01-01T00:00:00 UTC.
    pub fn unix_seconds(&self) -> i64 {
        // Days from civil (proleptic Gregorian), H. Hinnant's algorithm.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// ecCodes `dataDate`: YYYYMMDD.
    pub fn data_date(&self) -> i64 {
        i64::from(self.year) * 10_000 + i64::from(self.month) * 100 + i64::from(self.day)
    }

    /// ecCodes `dataTime`: HHMM.
    pub fn data_time(&self) -> i64 {
        i64::from(self.hour) * 100 + i64::from(self.minute)
    }
}

impl std::fmt::Display for DateTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// A unit of forecast time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum TimeUnit {
    Second,
    Minute,
    Minutes15,
    Minutes30,
    Hour,
    Hours3,
    Hours6,
    Hours12,
    Day,
    Month,
    Year,
    Decade,
    /// 30 years.
    Normal,
    Century,
    /// A code this reader does not know.
    Other(u8),
}

impl TimeUnit {
    /// Length in seconds; `None` for calendar units (month and longer) and unknown codes.
    pub fn seconds(self) -> Option<i64> {
        Some(match self {
            TimeUnit::Second => 1,
            TimeUnit::Minute => 60,
            TimeUnit::Minutes15 => 900,
            TimeUnit::Minutes30 => 1800,
            TimeUnit::Hour => 3600,
            TimeUnit::Hours3 => 3 * 3600,
            TimeUnit::Hours6 => 6 * 3600,
            TimeUnit::Hours12 => 12 * 3600,
            TimeUnit::Day => 86_400,
            _ => return None,
        })
    }
}

/// Forecast step: the field is valid at (or accumulated/averaged over) reference time +
/// `start`..`end` units; `start == end` for instantaneous fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Start of the range.
    pub start: i64,
    /// End of the range (the step ecCodes reports as `step`/`endStep`).
    pub end: i64,
    /// Unit of both.
    pub unit: TimeUnit,
}

/// How the values are packed.
#[derive(Debug, Clone, PartialEq)]
pub enum PackingKind {
    /// Simple packing (GRIB1 grid-point simple, GRIB2 template 5.0): decoded here.
    Simple,
    /// Anything else, described (e.g. `GRIB2 data representation template 5.42 (CCSDS)`).
    Unsupported(String),
}

/// Packing parameters (zero for templates that do not have them).
#[derive(Debug, Clone, PartialEq)]
pub struct Packing {
    /// Simple or not.
    pub kind: PackingKind,
    /// R, exactly as coded (IBM float in GRIB1, IEEE single in GRIB2).
    pub reference_value: f64,
    /// E.
    pub binary_scale_factor: i32,
    /// D.
    pub decimal_scale_factor: i32,
    /// Bits per packed value.
    pub bits_per_value: u8,
}

/// Everything about a field except its values.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMeta {
    /// Index of the message in the file (see [`MessageInfo::index`]).
    pub message_index: usize,
    /// Index of the field within its message (GRIB2 messages can hold several; 0 otherwise).
    pub field_index: usize,
    /// Byte offset of the message.
    pub offset: u64,
    /// GRIB edition.
    pub edition: u8,
    /// Originating centre (98 = ECMWF).
    pub centre: u16,
    /// Sub-centre.
    pub sub_centre: u16,
    /// The variable.
    pub parameter: Parameter,
    /// The vertical level.
    pub level: Level,
    /// Reference (analysis or forecast start) time.
    pub reference_time: DateTime,
    /// Forecast step; `None` for GRIB2 product templates this reader does not interpret.
    pub step: Option<Step>,
    /// Ensemble member number, where the message carries one.
    pub number: Option<u32>,
    /// Number of members in the ensemble, where the message carries it.
    pub ensemble_size: Option<u32>,
    /// The horizontal grid.
    pub grid: Grid,
    /// Packing parameters.
    pub packing: Packing,
}

impl FieldMeta {
    /// Valid time in seconds since 1970 UTC: reference time + end of the step; `None` when the
    /// step is unknown or in calendar units (months, years).
    pub fn valid_time(&self) -> Option<i64> {
        let step = self.step?;
        let unit = step.unit.seconds()?;
        Some(self.reference_time.unix_seconds() + step.end.checked_mul(unit)?)
    }
}

/// A decoded field.
#[derive(Debug, Clone, PartialEq)]
pub struct GribField {
    /// Metadata.
    pub meta: FieldMeta,
    /// `nj * ni` values, row-major `[row][column]`, NaN where the bitmap says missing.
    pub values: Vec<f64>,
    /// Same layout as `values`: `true` where a value is present. `None` without a bitmap.
    pub mask: Option<Vec<bool>>,
    /// Latitude of each row (`nj`), degrees.
    pub lats: Vec<f64>,
    /// Longitude of each column (`ni`), degrees.
    pub lons: Vec<f64>,
}

impl GribField {
    /// `[nj, ni]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.lats.len(), self.lons.len()]
    }

    /// The value at row `j`, column `i`.
    pub fn value(&self, j: usize, i: usize) -> Option<f64> {
        if i >= self.lons.len() {
            return None;
        }
        self.values.get(j * self.lons.len() + i).copied()
    }

    /// Reorders rows north→south and columns by increasing longitude (ERA5's usual layout),
    /// whatever the scanning mode was. `meta.grid` keeps describing the message as coded.
    pub fn orient_north_south_west_east(&mut self) {
        let (nj, ni) = (self.lats.len(), self.lons.len());
        let flip_rows = nj > 1 && self.lats[0] < self.lats[nj - 1];
        let flip_cols = ni > 1 && self.lons[0] > self.lons[ni - 1];
        if flip_rows {
            self.lats.reverse();
        }
        if flip_cols {
            self.lons.reverse();
        }
        fn apply<T: Copy>(v: &mut [T], nj: usize, ni: usize, rows: bool, cols: bool) {
            if rows {
                for j in 0..nj / 2 {
                    let (a, b) = v.split_at_mut((nj - 1 - j) * ni);
                    a[j * ni..(j + 1) * ni].swap_with_slice(&mut b[..ni]);
                }
            }
            if cols {
                for row in v.chunks_exact_mut(ni) {
                    row.reverse();
                }
            }
        }
        apply(&mut self.values, nj, ni, flip_rows, flip_cols);
        if let Some(m) = &mut self.mask {
            apply(m, nj, ni, flip_rows, flip_cols);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Internals shared by the edition decoders.

/// Error context for one message.
pub(crate) struct Ctx<'p> {
    pub path: &'p Path,
    pub index: usize,
    pub offset: u64,
}

impl Ctx<'_> {
    fn location(&self) -> String {
        format!("message {} (byte {})", self.index, self.offset)
    }

    pub fn format(&self, message: String) -> DatasetError {
        DatasetError::Format {
            path: self.path.to_path_buf(),
            location: self.location(),
            message,
        }
    }

    pub fn unsupported(&self, feature: String) -> DatasetError {
        DatasetError::Unsupported {
            path: self.path.to_path_buf(),
            location: self.location(),
            feature,
        }
    }
}

/// Where a field's packed data lives.
pub(crate) struct DataRef<'a> {
    /// The packed bit stream.
    pub packed: &'a [u8],
    /// Usable bits in `packed`.
    pub available_bits: usize,
    /// Number of packed values, when the message states it (GRIB2).
    pub coded_values: Option<usize>,
    /// One bit per grid point, in storage order.
    pub bitmap: Option<&'a [u8]>,
    /// Grid points.
    pub npoints: usize,
}

/// A parsed field, ready to unpack.
pub(crate) struct Decoded<'a> {
    pub meta: FieldMeta,
    pub units: grid::GridUnits,
    pub data: DataRef<'a>,
}

fn bit(bm: &[u8], k: usize) -> bool {
    bm[k / 8] & (0x80 >> (k % 8)) != 0
}

impl Decoded<'_> {
    fn unpack(self, ctx: &Ctx) -> Result<GribField> {
        let Decoded { meta, units, data } = self;
        if let PackingKind::Unsupported(what) = &meta.packing.kind {
            return Err(ctx.unsupported(what.clone()));
        }
        let (lats, lons) = units.coordinates().map_err(|e| ctx.format(e))?;
        let p = &meta.packing;
        let npoints = data.npoints;
        let present = match data.bitmap {
            Some(bm) => (0..npoints).filter(|&k| bit(bm, k)).count(),
            None => npoints,
        };
        if let Some(n) = data.coded_values {
            if n != present {
                return Err(ctx.format(format!(
                    "section 5 declares {n} packed values but the {} has {present}",
                    if data.bitmap.is_some() {
                        "bitmap"
                    } else {
                        "grid"
                    }
                )));
            }
        }
        let bits = u32::from(p.bits_per_value);
        if bits > 32 {
            return Err(ctx.unsupported(format!("simple packing with {bits} bits per value")));
        }
        let mut packed = Vec::with_capacity(present);
        if bits == 0 {
            // ecCodes returns R itself for constant fields, without decimal scaling.
            packed.resize(present, p.reference_value);
        } else {
            if (present as u128) * u128::from(bits) > data.available_bits as u128 {
                return Err(ctx.format(format!(
                    "data section holds {} bits, too few for {present} values of {bits} bits",
                    data.available_bits
                )));
            }
            let s = bits::pow2(p.binary_scale_factor);
            let d = bits::codes_power(-p.decimal_scale_factor, 10.0);
            let r = p.reference_value;
            bits::unpack_bits(data.packed, present, bits, |x| {
                packed.push((f64::from(x) * s + r) * d);
            })
            .ok_or_else(|| ctx.format("data section too short".into()))?;
        }
        let (values, mask) = match data.bitmap {
            None => (packed, None),
            Some(bm) => {
                let mut values = Vec::with_capacity(npoints);
                let mut mask = Vec::with_capacity(npoints);
                let mut it = packed.into_iter();
                for k in 0..npoints {
                    let on = bit(bm, k);
                    mask.push(on);
                    values.push(if on {
                        it.next().unwrap_or(f64::NAN)
                    } else {
                        f64::NAN
                    });
                }
                (values, Some(mask))
            }
        };
        let s = meta.grid.scanning;
        let (ni, nj) = (meta.grid.ni, meta.grid.nj);
        let values = grid::reorder(values, ni, nj, s);
        let mask = mask.map(|m| grid::reorder(m, ni, nj, s));
        Ok(GribField {
            meta,
            values,
            mask,
            lats,
            lons,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Files.

/// A GRIB file held in memory, with its message index.
#[derive(Debug, Clone)]
pub struct GribFile {
    path: PathBuf,
    data: Cow<'static, [u8]>,
    messages: Vec<MessageInfo>,
    warnings: Vec<GribWarning>,
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if from >= hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

impl GribFile {
    /// Reads a whole file and indexes its messages.
    pub fn open(path: impl AsRef<Path>, mode: Mode) -> Result<Self> {
        let path = path.as_ref();
        let data = std::fs::read(path).map_err(|source| DatasetError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(data, path, mode)
    }

    /// Indexes messages in memory (a `Vec<u8>`, or `&'static [u8]` compiled into a binary,
    /// which is not copied); `path` names the data in errors.
    pub fn from_bytes(
        data: impl Into<Cow<'static, [u8]>>,
        path: impl Into<PathBuf>,
        mode: Mode,
    ) -> Result<Self> {
        let (data, path) = (data.into(), path.into());
        let mut messages = Vec::new();
        let mut warnings = Vec::new();
        let mut pos = 0usize;
        let mut index = 0usize;
        while let Some(start) = find(&data, pos, b"GRIB") {
            let left = data.len() - start;
            let edition = data.get(start + 7).copied();
            let declared: Option<u64> = match edition {
                Some(1) => bits::u24_at(&data, start + 4)
                    .and_then(|d| edition1::total_length(&data[start..], d)),
                Some(2) => bits::uint(&data, start + 8, 8),
                Some(_) => {
                    // "GRIB" inside other bytes, not a message start.
                    pos = start + 4;
                    continue;
                }
                None => None,
            };
            let problem = match declared {
                None => Some(format!(
                    "file ends inside section 0 ({left} bytes left after the GRIB magic)"
                )),
                Some(len) if len < 16 => Some(format!("declared length {len} is too small")),
                Some(len) if len > left as u64 => Some(format!(
                    "declared length {len} runs past the end of the file ({left} bytes left)"
                )),
                Some(len) => {
                    let end = start + len as usize;
                    if &data[end - 4..end] != b"7777" {
                        Some(format!(
                            "declared length {len} does not end on the 7777 end marker \
                             (wrong length or damaged message)"
                        ))
                    } else {
                        None
                    }
                }
            };
            match problem {
                None => {
                    let len = declared.unwrap_or(0);
                    messages.push(MessageInfo {
                        index,
                        offset: start as u64,
                        length: len,
                        edition: edition.unwrap_or(0),
                    });
                    pos = start + len as usize;
                }
                Some(message) => {
                    let w = GribWarning {
                        message_index: index,
                        offset: start as u64,
                        message,
                    };
                    if mode == Mode::Strict {
                        return Err(DatasetError::Format {
                            path,
                            location: format!("message {} (byte {})", w.message_index, w.offset),
                            message: format!(
                                "{} (open in lenient mode to skip damaged messages)",
                                w.message
                            ),
                        });
                    }
                    warnings.push(w);
                    pos = start + 4; // resynchronise on the next "GRIB"
                }
            }
            index += 1;
        }
        Ok(Self {
            path,
            data,
            messages,
            warnings,
        })
    }

    /// The file's path (or the name given to [`GribFile::from_bytes`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The good messages, in file order.
    pub fn messages(&self) -> &[MessageInfo] {
        &self.messages
    }

    /// Damaged messages skipped in [`Mode::Lenient`] (empty in strict mode).
    pub fn warnings(&self) -> &[GribWarning] {
        &self.warnings
    }

    fn parse(&self, info: &MessageInfo) -> Result<Vec<Decoded<'_>>> {
        let start = info.offset as usize;
        let msg = &self.data[start..start + info.length as usize];
        let ctx = Ctx {
            path: &self.path,
            index: info.index,
            offset: info.offset,
        };
        match info.edition {
            1 => Ok(vec![edition1::decode(msg, &ctx)?]),
            _ => edition2::decode(msg, &ctx),
        }
    }

    fn ctx(&self, info: &MessageInfo) -> Ctx<'_> {
        Ctx {
            path: &self.path,
            index: info.index,
            offset: info.offset,
        }
    }

    /// Decodes every field of one message (GRIB1: exactly one). `position` indexes
    /// [`GribFile::messages`].
    pub fn decode_message(&self, position: usize) -> Result<Vec<GribField>> {
        let info = self
            .messages
            .get(position)
            .ok_or_else(|| DatasetError::Format {
                path: self.path.clone(),
                location: format!("message position {position}"),
                message: format!("the file has {} good messages", self.messages.len()),
            })?;
        let ctx = self.ctx(info);
        self.parse(info)?
            .into_iter()
            .map(|d| d.unpack(&ctx))
            .collect()
    }

    /// Every field of every good message, decoded lazily in file order.
    pub fn fields(&self) -> impl Iterator<Item = Result<GribField>> + '_ {
        self.messages.iter().flat_map(move |info| {
            let ctx = self.ctx(info);
            let parsed: Vec<Result<GribField>> = match self.parse(info) {
                Ok(ds) => ds.into_iter().map(|d| d.unpack(&ctx)).collect(),
                Err(e) => vec![Err(e)],
            };
            parsed
        })
    }

    /// Decodes every field; the first failure (e.g. an unsupported packing) is returned.
    pub fn read_all(&self) -> Result<Vec<GribField>> {
        self.fields().collect()
    }

    /// Decodes what can be decoded: the good fields, and a warning for every damaged message
    /// skipped when the file was opened ([`GribFile::warnings`]) and for every message that
    /// fails to decode (bad sections, unsupported packing or grid), naming its index and byte
    /// offset. Never fails.
    pub fn read_all_lenient(&self) -> (Vec<GribField>, Vec<GribWarning>) {
        let mut fields = Vec::new();
        let mut warnings = self.warnings.clone();
        for info in &self.messages {
            let ctx = self.ctx(info);
            let decoded: Result<Vec<GribField>> = self
                .parse(info)
                .and_then(|ds| ds.into_iter().map(|d| d.unpack(&ctx)).collect());
            match decoded {
                Ok(fs) => fields.extend(fs),
                Err(e) => warnings.push(GribWarning {
                    message_index: info.index,
                    offset: info.offset,
                    message: match e {
                        DatasetError::Format { message, .. } => message,
                        DatasetError::Unsupported { feature, .. } => {
                            format!("unsupported: {feature}")
                        }
                        other => other.to_string(),
                    },
                }),
            }
        }
        warnings.sort_by_key(|w| w.message_index);
        (fields, warnings)
    }

    /// Metadata of every field without unpacking values (works for unsupported packings too).
    pub fn inventory(&self) -> Result<Vec<FieldMeta>> {
        let mut out = Vec::new();
        for info in &self.messages {
            out.extend(self.parse(info)?.into_iter().map(|d| d.meta));
        }
        Ok(out)
    }

    /// Short names of the variables in the file, in order of first appearance.
    pub fn variable_names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = Vec::new();
        for m in self.inventory()? {
            if !names.contains(&m.parameter.short_name) {
                names.push(m.parameter.short_name);
            }
        }
        Ok(names)
    }

    /// All fields of one variable as an n-d array with dims (number, time, level, lat, lon);
    /// see [`GribVariable`]. Only that variable's messages are unpacked, but every message
    /// must parse: to group around bad messages, filter [`GribFile::read_all_lenient`]'s
    /// fields and call [`GribVariable::from_fields`].
    pub fn variable(&self, short_name: &str) -> Result<GribVariable> {
        let mut fields = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for info in &self.messages {
            let ctx = self.ctx(info);
            for d in self.parse(info)? {
                let sn = &d.meta.parameter.short_name;
                if sn == short_name {
                    fields.push(d.unpack(&ctx)?);
                } else if !names.contains(sn) {
                    names.push(sn.clone());
                }
            }
        }
        if fields.is_empty() {
            return Err(DatasetError::NoSuchVariable {
                path: self.path.clone(),
                name: short_name.to_string(),
                available: names.join(", "),
            });
        }
        variable::group(&self.path, fields)
    }
}

/// Reads every field of a GRIB file in strict mode (any damaged or undecodable message is an
/// error; see [`GribFile::read_all_lenient`] for the forgiving alternative).
pub fn read_grib(path: impl AsRef<Path>) -> Result<Vec<GribField>> {
    GribFile::open(path, Mode::Strict)?.read_all()
}

#[cfg(test)]
mod tests;

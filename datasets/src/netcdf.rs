//! NetCDF files: NetCDF-3 (classic CDF-1, 64-bit offset CDF-2, CDF-5) and NetCDF-4 (HDF5),
//! behind one API, with CF decoding; and a CF NetCDF-3 writer ([`writer`]).
//!
//! ```no_run
//! use meshflow_datasets::netcdf::NcFile;
//! use meshflow_datasets::cf::Calendar;
//!
//! # fn main() -> meshflow_datasets::Result<()> {
//! let nc = NcFile::open("eraint_uvz.nc")?;
//! for v in nc.variables() {
//!     println!("{} {:?} {:?} {:?}", v.name, v.dims, v.shape, v.dtype);
//! }
//! let raw = nc.read_f64("z")?; // stored int16 values, as f64
//! let z = nc.read_cf("z")?; // scale_factor/add_offset applied, missing values masked
//! println!("{} {:?}: {:?}", z.name, z.units, z.data.shape());
//! let july = nc.read_cf_slab("z", 1..2)?; // second month only
//! # let _ = (raw, july);
//! let t = NcFile::open("TREFHT.B06.57.atm.1890-1999ANN.nc")?;
//! let years: Vec<i64> = t
//!     .read_time("time", Some(Calendar::NoLeap))? // no calendar attribute: override it
//!     .iter()
//!     .map(|d| d.year)
//!     .collect();
//! # let _ = years;
//! # Ok(()) }
//! ```
//!
//! # Implementation
//! Parsing is done by the pure-Rust `netcdf-reader` crate (with its `hdf5-reader`): it covers
//! CDF-1/2/5 (record variables located by their `begin` offsets, with the one-record-variable
//! padding rule), and for NetCDF-4 superblocks v0-v3, object headers v1/v2 with continuation
//! blocks, symbol-table and link-message groups, compact/contiguous/chunked layouts with every
//! chunk index (v1/v2 B-tree, single chunk, fixed and extensible arrays), deflate, shuffle and
//! fletcher32 filters, dense attribute storage and dimension scales. This module maps its
//! types and errors onto meshflow's ([`NdArray`], [`DatasetError`]) and adds the CF decoding
//! rules of [`crate::cf`]. Files are read with positional reads, not memory-mapped (a mapped
//! file truncated by another process would crash the reader). Only the root group of a
//! NetCDF-4 file is listed.

pub mod writer;

use crate::cf::{self, Axis, Calendar, CfDateTime, Packing, TimeAxis};
use crate::{DatasetError, NdArray, Result};
use netcdf_reader as ncr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The on-disk format of an opened file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NcFormat {
    /// NetCDF-3 classic (`CDF\x01`).
    Classic,
    /// NetCDF-3 64-bit offset (`CDF\x02`).
    Offset64,
    /// NetCDF-3 64-bit data, CDF-5 (`CDF\x05`).
    Cdf5,
    /// NetCDF-4 (HDF5 container, `\x89HDF\r\n\x1a\n`).
    Netcdf4,
    /// NetCDF-4 restricted to the classic data model.
    Netcdf4Classic,
}

/// The external type of a variable or attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NcType {
    /// 8-bit signed integer.
    Byte,
    /// 8-bit character.
    Char,
    /// 16-bit signed integer.
    Short,
    /// 32-bit signed integer.
    Int,
    /// 32-bit IEEE float.
    Float,
    /// 64-bit IEEE float.
    Double,
    /// 8-bit unsigned integer (CDF-5, NetCDF-4).
    UByte,
    /// 16-bit unsigned integer (CDF-5, NetCDF-4).
    UShort,
    /// 32-bit unsigned integer (CDF-5, NetCDF-4).
    UInt,
    /// 64-bit signed integer (CDF-5, NetCDF-4).
    Int64,
    /// 64-bit unsigned integer (CDF-5, NetCDF-4).
    UInt64,
    /// Variable-length string (NetCDF-4).
    String,
    /// A user-defined type (compound, enum, opaque, vlen, array): listed but not readable
    /// through this API.
    UserDefined,
}

impl NcType {
    fn from_ncr(t: &ncr::NcType) -> NcType {
        match t {
            ncr::NcType::Byte => NcType::Byte,
            ncr::NcType::Char => NcType::Char,
            ncr::NcType::Short => NcType::Short,
            ncr::NcType::Int => NcType::Int,
            ncr::NcType::Float => NcType::Float,
            ncr::NcType::Double => NcType::Double,
            ncr::NcType::UByte => NcType::UByte,
            ncr::NcType::UShort => NcType::UShort,
            ncr::NcType::UInt => NcType::UInt,
            ncr::NcType::Int64 => NcType::Int64,
            ncr::NcType::UInt64 => NcType::UInt64,
            ncr::NcType::String => NcType::String,
            _ => NcType::UserDefined,
        }
    }

    /// The CDL name (`short`, `float`, ...).
    pub fn name(self) -> &'static str {
        match self {
            NcType::Byte => "byte",
            NcType::Char => "char",
            NcType::Short => "short",
            NcType::Int => "int",
            NcType::Float => "float",
            NcType::Double => "double",
            NcType::UByte => "ubyte",
            NcType::UShort => "ushort",
            NcType::UInt => "uint",
            NcType::Int64 => "int64",
            NcType::UInt64 => "uint64",
            NcType::String => "string",
            NcType::UserDefined => "user-defined",
        }
    }

    /// Whether values of this type can be read as numbers.
    pub fn is_numeric(self) -> bool {
        !matches!(self, NcType::Char | NcType::String | NcType::UserDefined)
    }
}

/// An attribute value, keeping its external type.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// `byte`.
    Byte(Vec<i8>),
    /// `char` text.
    Text(String),
    /// `short`.
    Short(Vec<i16>),
    /// `int`.
    Int(Vec<i32>),
    /// `float`.
    Float(Vec<f32>),
    /// `double`.
    Double(Vec<f64>),
    /// `ubyte`.
    UByte(Vec<u8>),
    /// `ushort`.
    UShort(Vec<u16>),
    /// `uint`.
    UInt(Vec<u32>),
    /// `int64`.
    Int64(Vec<i64>),
    /// `uint64`.
    UInt64(Vec<u64>),
    /// `string` (NetCDF-4 variable-length strings).
    Strings(Vec<String>),
    /// A user-defined type, shown as its debug text.
    Other(String),
}

impl AttrValue {
    fn from_ncr(v: &ncr::NcAttrValue) -> AttrValue {
        use ncr::NcAttrValue as A;
        match v {
            A::Bytes(x) => AttrValue::Byte(x.clone()),
            A::Chars(s) => AttrValue::Text(s.trim_end_matches('\0').to_string()),
            A::Shorts(x) => AttrValue::Short(x.clone()),
            A::Ints(x) => AttrValue::Int(x.clone()),
            A::Floats(x) => AttrValue::Float(x.clone()),
            A::Doubles(x) => AttrValue::Double(x.clone()),
            A::UBytes(x) => AttrValue::UByte(x.clone()),
            A::UShorts(x) => AttrValue::UShort(x.clone()),
            A::UInts(x) => AttrValue::UInt(x.clone()),
            A::Int64s(x) => AttrValue::Int64(x.clone()),
            A::UInt64s(x) => AttrValue::UInt64(x.clone()),
            A::Strings(x) => AttrValue::Strings(x.clone()),
            other => AttrValue::Other(format!("{other:?}")),
        }
    }

    /// The text of a `char` attribute or of a single-element string attribute.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Text(s) => Some(s),
            AttrValue::Strings(v) if v.len() == 1 => Some(&v[0]),
            _ => None,
        }
    }

    /// Numeric values widened to f64 (`None` for text). 64-bit integers beyond ±2^53 round.
    pub fn as_f64s(&self) -> Option<Vec<f64>> {
        fn w<T: Copy + Into<f64>>(v: &[T]) -> Vec<f64> {
            v.iter().map(|&x| x.into()).collect()
        }
        Some(match self {
            AttrValue::Byte(v) => w(v),
            AttrValue::Short(v) => w(v),
            AttrValue::Int(v) => w(v),
            AttrValue::Float(v) => w(v),
            AttrValue::Double(v) => v.clone(),
            AttrValue::UByte(v) => w(v),
            AttrValue::UShort(v) => w(v),
            AttrValue::UInt(v) => w(v),
            AttrValue::Int64(v) => v.iter().map(|&x| x as f64).collect(),
            AttrValue::UInt64(v) => v.iter().map(|&x| x as f64).collect(),
            AttrValue::Text(_) | AttrValue::Strings(_) | AttrValue::Other(_) => return None,
        })
    }

    /// The first numeric value.
    pub fn as_f64(&self) -> Option<f64> {
        self.as_f64s().and_then(|v| v.first().copied())
    }

    /// The external type.
    pub fn nc_type(&self) -> NcType {
        match self {
            AttrValue::Byte(_) => NcType::Byte,
            AttrValue::Text(_) => NcType::Char,
            AttrValue::Short(_) => NcType::Short,
            AttrValue::Int(_) => NcType::Int,
            AttrValue::Float(_) => NcType::Float,
            AttrValue::Double(_) => NcType::Double,
            AttrValue::UByte(_) => NcType::UByte,
            AttrValue::UShort(_) => NcType::UShort,
            AttrValue::UInt(_) => NcType::UInt,
            AttrValue::Int64(_) => NcType::Int64,
            AttrValue::UInt64(_) => NcType::UInt64,
            AttrValue::Strings(_) => NcType::String,
            AttrValue::Other(_) => NcType::UserDefined,
        }
    }
}

/// A named attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// Name.
    pub name: String,
    /// Value.
    pub value: AttrValue,
}

fn find_attr<'a>(attrs: &'a [Attribute], name: &str) -> Option<&'a AttrValue> {
    attrs.iter().find(|a| a.name == name).map(|a| &a.value)
}

/// A dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dimension {
    /// Name.
    pub name: String,
    /// Current length (for the unlimited dimension of a NetCDF-3 file: the record count).
    pub len: usize,
    /// Whether the dimension is unlimited.
    pub unlimited: bool,
}

/// A variable's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// Name.
    pub name: String,
    /// Dimension names, outermost first (empty for a scalar). For NetCDF-4 files these come
    /// from the dimension scales (`DIMENSION_LIST`, `_Netcdf4Dimid`, or a variable named like
    /// the dimension).
    pub dims: Vec<String>,
    /// Dimension lengths.
    pub shape: Vec<usize>,
    /// Stored type.
    pub dtype: NcType,
    /// Attributes, in file order.
    pub attributes: Vec<Attribute>,
}

impl Variable {
    /// An attribute by name.
    pub fn attribute(&self, name: &str) -> Option<&AttrValue> {
        find_attr(&self.attributes, name)
    }

    /// A text attribute by name.
    pub fn attr_str(&self, name: &str) -> Option<&str> {
        self.attribute(name).and_then(AttrValue::as_str)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when some dimension has length 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A variable's stored values in their own type.
#[derive(Debug, Clone, PartialEq)]
pub enum RawArray {
    /// `byte`.
    Byte(NdArray<i8>),
    /// `short`.
    Short(NdArray<i16>),
    /// `int`.
    Int(NdArray<i32>),
    /// `float`.
    Float(NdArray<f32>),
    /// `double`.
    Double(NdArray<f64>),
    /// `ubyte`.
    UByte(NdArray<u8>),
    /// `ushort`.
    UShort(NdArray<u16>),
    /// `uint`.
    UInt(NdArray<u32>),
    /// `int64`.
    Int64(NdArray<i64>),
    /// `uint64`.
    UInt64(NdArray<u64>),
}

macro_rules! raw_each {
    ($self:expr, $a:ident => $body:expr) => {
        match $self {
            RawArray::Byte($a) => $body,
            RawArray::Short($a) => $body,
            RawArray::Int($a) => $body,
            RawArray::Float($a) => $body,
            RawArray::Double($a) => $body,
            RawArray::UByte($a) => $body,
            RawArray::UShort($a) => $body,
            RawArray::UInt($a) => $body,
            RawArray::Int64($a) => $body,
            RawArray::UInt64($a) => $body,
        }
    };
}

impl RawArray {
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        raw_each!(self, a => &a.shape)
    }

    /// Values widened to f64 (exact except 64-bit integers beyond ±2^53).
    #[allow(clippy::unnecessary_cast)] // the macro also casts f64 to f64
    pub fn to_f64(&self) -> NdArray<f64> {
        raw_each!(self, a => a.map(|&v| v as f64))
    }

    /// Values converted to f32 (exact for byte, short, float; rounded to nearest otherwise).
    #[allow(clippy::unnecessary_cast)] // the macro also casts f32 to f32
    pub fn to_f32(&self) -> NdArray<f32> {
        raw_each!(self, a => a.map(|&v| v as f32))
    }

    /// Values as f64, reinterpreting signed integers as unsigned (`_Unsigned = "true"`).
    fn to_f64_unsigned(&self) -> NdArray<f64> {
        match self {
            RawArray::Byte(a) => a.map(|&v| f64::from(v as u8)),
            RawArray::Short(a) => a.map(|&v| f64::from(v as u16)),
            RawArray::Int(a) => a.map(|&v| f64::from(v as u32)),
            RawArray::Int64(a) => a.map(|&v| v as u64 as f64),
            other => other.to_f64(),
        }
    }
}

/// Decoded CF values of a variable, in f32 or f64 (see [`Packing`] for which).
#[derive(Debug, Clone, PartialEq)]
pub enum CfData {
    /// Single precision.
    F32(NdArray<f32>),
    /// Double precision.
    F64(NdArray<f64>),
}

impl CfData {
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            CfData::F32(a) => &a.shape,
            CfData::F64(a) => &a.shape,
        }
    }

    /// As f64 (exact).
    pub fn to_f64(&self) -> NdArray<f64> {
        match self {
            CfData::F32(a) => a.map(|&v| f64::from(v)),
            CfData::F64(a) => a.clone(),
        }
    }

    /// As f32 (f64 values rounded to nearest, like numpy's `astype(float32)`).
    pub fn to_f32(&self) -> NdArray<f32> {
        match self {
            CfData::F32(a) => a.clone(),
            CfData::F64(a) => a.map(|&v| v as f32),
        }
    }
}

/// A variable decoded by the CF rules ([`NcFile::read_cf`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CfVariable {
    /// Variable name.
    pub name: String,
    /// Dimension names.
    pub dims: Vec<String>,
    /// Decoded values, row-major; missing values are NaN.
    pub data: CfData,
    /// `true` where a value is missing, same length as the data. Never use a masked value
    /// as a number.
    pub mask: Vec<bool>,
    /// `units`.
    pub units: Option<String>,
    /// `standard_name`.
    pub standard_name: Option<String>,
    /// `long_name`.
    pub long_name: Option<String>,
}

impl CfVariable {
    /// Number of missing values.
    pub fn missing_count(&self) -> usize {
        self.mask.iter().filter(|&&m| m).count()
    }
}

/// An open NetCDF-3 or NetCDF-4 file.
pub struct NcFile {
    path: PathBuf,
    format: NcFormat,
    inner: ncr::NcFile,
    dimensions: Vec<Dimension>,
    variables: Vec<Variable>,
    attributes: Vec<Attribute>,
}

impl std::fmt::Debug for NcFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NcFile")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("dimensions", &self.dimensions)
            .field(
                "variables",
                &self.variables.iter().map(|v| &v.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

const HDF5_MAGIC: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Describes the first bytes of a file that is not NetCDF, for the error message.
fn describe_magic(head: &[u8]) -> String {
    if head.is_empty() {
        return "the file is empty".into();
    }
    let hex: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let text: String = head
        .iter()
        .take(8)
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
        .collect();
    let hint = if head.starts_with(b"GRIB") {
        " (a GRIB file: use meshflow_datasets::grib)"
    } else if head.starts_with(b"\x93NUMPY") {
        " (a NumPy .npy file: use meshflow_datasets::npy)"
    } else if head.starts_with(b"PK\x03\x04") {
        " (a zip archive, e.g. .npz: use meshflow_datasets::npy)"
    } else if head.starts_with(b"\x1f\x8b") {
        " (gzip-compressed: decompress it first)"
    } else if head.starts_with(b"CDF") {
        " (NetCDF-3 magic with an unknown version byte)"
    } else {
        ""
    };
    format!("found {} (\"{text}\"){hint}", hex.join(" "))
}

impl NcFile {
    /// Opens a NetCDF-3 or NetCDF-4 file, detecting the format from its magic bytes
    /// (`CDF\x01`, `CDF\x02`, `CDF\x05`, or the HDF5 signature, also after a user block).
    /// Anything else is a [`DatasetError::Format`] error that names what was found.
    pub fn open(path: impl AsRef<Path>) -> Result<NcFile> {
        let path = path.as_ref();
        let io = |e: std::io::Error| DatasetError::Io {
            path: path.to_path_buf(),
            source: e,
        };
        let mut head = Vec::with_capacity(8);
        {
            use std::io::Read;
            let f = std::fs::File::open(path).map_err(io)?;
            f.take(8).read_to_end(&mut head).map_err(io)?;
        }
        let storage =
            ncr::FileStorage::open(path).map_err(|e| map_err(path, "open", ncr::Error::Hdf5(e)))?;
        Self::from_parts(path.to_path_buf(), &head, Arc::new(storage))
    }

    /// Opens a file held in memory (errors name the path `<memory>`).
    pub fn from_bytes(bytes: impl Into<std::borrow::Cow<'static, [u8]>>) -> Result<NcFile> {
        Self::from_named_bytes(bytes, "<memory>")
    }

    /// Opens a file held in memory (a `Vec<u8>`, or `&'static [u8]` compiled into a binary,
    /// which is not copied); `name` stands for its path in errors.
    pub fn from_named_bytes(
        bytes: impl Into<std::borrow::Cow<'static, [u8]>>,
        name: impl Into<PathBuf>,
    ) -> Result<NcFile> {
        let bytes = bytes.into();
        let head: Vec<u8> = bytes.iter().take(8).copied().collect();
        let storage = ncr::BytesStorage::from_owner(bytes);
        Self::from_parts(name.into(), &head, Arc::new(storage))
    }

    fn from_parts(path: PathBuf, head: &[u8], storage: ncr::DynStorage) -> Result<NcFile> {
        let known = head.len() >= 4
            && (head[..4] == *b"CDF\x01" || head[..4] == *b"CDF\x02" || head[..4] == *b"CDF\x05")
            || head.starts_with(HDF5_MAGIC);
        let inner = match ncr::NcFile::from_storage(storage) {
            Ok(f) => f,
            Err(ncr::Error::InvalidMagic) | Err(ncr::Error::UnsupportedVersion(_)) if !known => {
                return Err(DatasetError::Format {
                    path,
                    location: "magic bytes".into(),
                    message: format!(
                        "not a NetCDF file: expected `CDF\\x01`, `CDF\\x02`, `CDF\\x05` or the \
                         HDF5 signature `\\x89HDF\\r\\n\\x1a\\n`; {}",
                        describe_magic(head)
                    ),
                });
            }
            Err(e) => return Err(map_err(&path, "header", e)),
        };
        let format = match inner.format() {
            ncr::NcFormat::Classic => NcFormat::Classic,
            ncr::NcFormat::Offset64 => NcFormat::Offset64,
            ncr::NcFormat::Cdf5 => NcFormat::Cdf5,
            ncr::NcFormat::Nc4 => NcFormat::Netcdf4,
            ncr::NcFormat::Nc4Classic => NcFormat::Netcdf4Classic,
        };
        let conv_attrs = |a: &[ncr::NcAttribute]| -> Vec<Attribute> {
            a.iter()
                .map(|a| Attribute {
                    name: a.name.clone(),
                    value: AttrValue::from_ncr(&a.value),
                })
                .collect()
        };
        let too_big = |what: &str| DatasetError::Format {
            path: path.clone(),
            location: what.to_string(),
            message: "length does not fit in memory addresses".into(),
        };
        let mut dimensions = Vec::new();
        for d in inner
            .dimensions()
            .map_err(|e| map_err(&path, "dimensions", e))?
        {
            dimensions.push(Dimension {
                name: d.name.clone(),
                len: usize::try_from(d.size).map_err(|_| too_big(&d.name))?,
                unlimited: d.is_unlimited,
            });
        }
        let mut variables = Vec::new();
        for v in inner
            .variables()
            .map_err(|e| map_err(&path, "variables", e))?
        {
            let mut shape = Vec::new();
            for s in v.shape() {
                shape.push(usize::try_from(s).map_err(|_| too_big(&v.name))?);
            }
            variables.push(Variable {
                name: v.name.clone(),
                dims: v.dimensions.iter().map(|d| d.name.clone()).collect(),
                shape,
                dtype: NcType::from_ncr(&v.dtype),
                attributes: conv_attrs(&v.attributes),
            });
        }
        let attributes = conv_attrs(
            inner
                .global_attributes()
                .map_err(|e| map_err(&path, "global attributes", e))?,
        );
        Ok(NcFile {
            path,
            format,
            inner,
            dimensions,
            variables,
            attributes,
        })
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The on-disk format.
    pub fn format(&self) -> NcFormat {
        self.format
    }

    /// Dimensions (of the root group).
    pub fn dimensions(&self) -> &[Dimension] {
        &self.dimensions
    }

    /// Variables (of the root group), in file order.
    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }

    /// Global attributes.
    pub fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }

    /// A global attribute by name.
    pub fn attribute(&self, name: &str) -> Option<&AttrValue> {
        find_attr(&self.attributes, name)
    }

    /// A variable by name; [`DatasetError::NoSuchVariable`] lists the names that exist.
    pub fn variable(&self, name: &str) -> Result<&Variable> {
        self.variables
            .iter()
            .find(|v| v.name == name)
            .ok_or_else(|| DatasetError::NoSuchVariable {
                path: self.path.clone(),
                name: name.to_string(),
                available: self
                    .variables
                    .iter()
                    .map(|v| v.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Reads a variable's stored values in their own type (no attribute applied).
    pub fn read_raw(&self, name: &str) -> Result<RawArray> {
        self.read_raw_impl(name, None)
    }

    /// Reads records `range` (indices along the first dimension) of a variable's stored
    /// values. The first dimension of the result has length `range.len()`.
    pub fn read_raw_slab(&self, name: &str, range: Range<usize>) -> Result<RawArray> {
        self.read_raw_impl(name, Some(range))
    }

    /// Stored values as f64 (no scale, offset or mask applied).
    pub fn read_f64(&self, name: &str) -> Result<NdArray<f64>> {
        Ok(self.read_raw(name)?.to_f64())
    }

    /// Stored values as f32 (no scale, offset or mask applied; rounded when the stored type
    /// is wider than f32).
    pub fn read_f32(&self, name: &str) -> Result<NdArray<f32>> {
        Ok(self.read_raw(name)?.to_f32())
    }

    /// [`NcFile::read_f64`] for records `range` along the first dimension.
    pub fn read_f64_slab(&self, name: &str, range: Range<usize>) -> Result<NdArray<f64>> {
        Ok(self.read_raw_slab(name, range)?.to_f64())
    }

    /// [`NcFile::read_f32`] for records `range` along the first dimension.
    pub fn read_f32_slab(&self, name: &str, range: Range<usize>) -> Result<NdArray<f32>> {
        Ok(self.read_raw_slab(name, range)?.to_f32())
    }

    /// Reads a text variable: a `char` array (the last dimension is the string length;
    /// trailing NULs are removed) or a NetCDF-4 `string` variable, flattened.
    pub fn read_strings(&self, name: &str) -> Result<Vec<String>> {
        let var = self.variable(name)?;
        let loc = format!("variable {name}");
        if !matches!(var.dtype, NcType::Char | NcType::String) {
            return Err(DatasetError::Unsupported {
                path: self.path.clone(),
                location: loc,
                feature: format!("reading a {} variable as text", var.dtype.name()),
            });
        }
        let strings = self
            .inner
            .read_variable_as_strings(name)
            .map_err(|e| map_err(&self.path, &loc, e))?;
        Ok(strings
            .into_iter()
            .map(|s| s.trim_end_matches('\0').to_string())
            .collect())
    }

    /// Reads a variable and decodes it by the CF rules of [`Packing`]: `_Unsigned`,
    /// `_FillValue` / `missing_value` / `valid_*` masking, then `scale_factor` and
    /// `add_offset` in f64. Missing values are NaN and flagged in the mask.
    pub fn read_cf(&self, name: &str) -> Result<CfVariable> {
        self.read_cf_impl(name, None)
    }

    /// [`NcFile::read_cf`] for records `range` along the first dimension.
    pub fn read_cf_slab(&self, name: &str, range: Range<usize>) -> Result<CfVariable> {
        self.read_cf_impl(name, Some(range))
    }

    /// What each dimension of a variable is, from the coordinate variable of the same name
    /// ([`cf::detect_axis`]); `None` where there is no coordinate variable or it is not
    /// recognised.
    pub fn coordinate_axes(&self, name: &str) -> Result<Vec<(String, Option<Axis>)>> {
        let var = self.variable(name)?;
        Ok(var
            .dims
            .iter()
            .map(|d| {
                let axis = self
                    .variables
                    .iter()
                    .find(|v| &v.name == d)
                    .and_then(cf::detect_axis);
                (d.clone(), axis)
            })
            .collect())
    }

    /// The first variable (in file order) detected as `axis`, preferring one-dimensional
    /// coordinate variables (named like their dimension).
    pub fn find_coordinate(&self, axis: Axis) -> Option<&Variable> {
        let is_coord = |v: &&Variable| v.dims.len() == 1 && v.dims[0] == v.name;
        self.variables
            .iter()
            .filter(is_coord)
            .find(|v| cf::detect_axis(v) == Some(axis))
            .or_else(|| {
                self.variables
                    .iter()
                    .find(|v| cf::detect_axis(v) == Some(axis))
            })
    }

    /// The time axis (units and calendar) of a time variable. `calendar` overrides the
    /// variable's `calendar` attribute; without either, CF's default `standard` applies.
    pub fn time_axis(&self, name: &str, calendar: Option<Calendar>) -> Result<TimeAxis> {
        let var = self.variable(name)?;
        let loc = format!("variable {name}");
        let units = var.attr_str("units").ok_or_else(|| DatasetError::Format {
            path: self.path.clone(),
            location: loc.clone(),
            message: "no `units` attribute, so it cannot be decoded as time".into(),
        })?;
        let axis = match calendar {
            Some(cal) => TimeAxis::from_units(cf::TimeUnits::parse(units)?, cal),
            None => TimeAxis::new(units, var.attr_str("calendar")),
        };
        axis.map_err(|e| self.repath(e, &loc))
    }

    /// Decodes a time variable to dates ([`NcFile::time_axis`] explains `calendar`).
    pub fn read_time(&self, name: &str, calendar: Option<Calendar>) -> Result<Vec<CfDateTime>> {
        let axis = self.time_axis(name, calendar)?;
        let loc = format!("variable {name}");
        self.read_f64(name)?
            .data
            .iter()
            .map(|&v| axis.decode(v).map_err(|e| self.repath(e, &loc)))
            .collect()
    }

    /// Replaces the `<memory>` path and location of errors from [`crate::cf`].
    fn repath(&self, e: DatasetError, location: &str) -> DatasetError {
        match e {
            DatasetError::Format {
                location: l,
                message,
                ..
            } => DatasetError::Format {
                path: self.path.clone(),
                location: format!("{location}: {l}"),
                message,
            },
            DatasetError::Unsupported {
                location: l,
                feature,
                ..
            } => DatasetError::Unsupported {
                path: self.path.clone(),
                location: format!("{location}: {l}"),
                feature,
            },
            other => other,
        }
    }

    fn read_cf_impl(&self, name: &str, range: Option<Range<usize>>) -> Result<CfVariable> {
        let var = self.variable(name)?;
        let raw = self.read_raw_impl(name, range)?;
        let packing = Packing::of(var);
        let mut values = if packing.unsigned {
            raw.to_f64_unsigned()
        } else {
            raw.to_f64()
        };
        let mask = packing.decode_in_place(&mut values.data);
        let data = if packing.output_f64 {
            CfData::F64(values)
        } else {
            CfData::F32(values.map(|&v| v as f32))
        };
        let text = |n: &str| var.attr_str(n).map(str::to_string);
        Ok(CfVariable {
            name: name.to_string(),
            dims: var.dims.clone(),
            data,
            mask,
            units: text("units"),
            standard_name: text("standard_name"),
            long_name: text("long_name"),
        })
    }

    fn read_raw_impl(&self, name: &str, range: Option<Range<usize>>) -> Result<RawArray> {
        let var = self.variable(name)?;
        let loc = format!("variable {name}");
        if !var.dtype.is_numeric() {
            return Err(DatasetError::Unsupported {
                path: self.path.clone(),
                location: loc,
                feature: match var.dtype {
                    NcType::UserDefined => "reading a user-defined type (compound, enum, opaque, \
                                            vlen or array) as numbers"
                        .to_string(),
                    t => format!(
                        "reading a {} variable as numbers (use read_strings)",
                        t.name()
                    ),
                },
            });
        }
        let slice = match &range {
            None => None,
            Some(r) => {
                let Some(&n0) = var.shape.first() else {
                    return Err(DatasetError::Format {
                        path: self.path.clone(),
                        location: loc,
                        message: "a scalar variable has no first dimension to slice".into(),
                    });
                };
                if r.start > r.end || r.end > n0 {
                    return Err(DatasetError::Format {
                        path: self.path.clone(),
                        location: loc,
                        message: format!(
                            "records {}..{} out of range: the first dimension `{}` has length \
                             {n0}",
                            r.start, r.end, var.dims[0]
                        ),
                    });
                }
                let mut sel = ncr::NcSliceInfo::all(var.shape.len());
                sel.selections[0] = ncr::NcSliceInfoElem::Slice {
                    start: r.start as u64,
                    end: r.end as u64,
                    step: 1,
                };
                Some(sel)
            }
        };
        let path = &self.path;
        macro_rules! read_as {
            ($t:ty, $variant:ident) => {{
                let arr = match &slice {
                    None => self.inner.read_variable::<$t>(name),
                    Some(s) => self.inner.read_variable_slice::<$t>(name, s),
                }
                .map_err(|e| map_err(path, &loc, e))?;
                let shape = arr.shape().to_vec();
                let data: Vec<$t> = if arr.is_standard_layout() {
                    arr.into_raw_vec_and_offset().0
                } else {
                    arr.iter().copied().collect()
                };
                RawArray::$variant(NdArray::new(shape, data).map_err(|_| DatasetError::Format {
                    path: path.clone(),
                    location: loc.clone(),
                    message: "decoded data does not match the variable's shape".into(),
                })?)
            }};
        }
        Ok(match var.dtype {
            NcType::Byte => read_as!(i8, Byte),
            NcType::Short => read_as!(i16, Short),
            NcType::Int => read_as!(i32, Int),
            NcType::Float => read_as!(f32, Float),
            NcType::Double => read_as!(f64, Double),
            NcType::UByte => read_as!(u8, UByte),
            NcType::UShort => read_as!(u16, UShort),
            NcType::UInt => read_as!(u32, UInt),
            NcType::Int64 => read_as!(i64, Int64),
            NcType::UInt64 => read_as!(u64, UInt64),
            NcType::Char | NcType::String | NcType::UserDefined => unreachable!("checked above"),
        })
    }
}

/// Maps the reader crate's errors onto [`DatasetError`].
fn map_err(path: &Path, location: &str, e: ncr::Error) -> DatasetError {
    let path = path.to_path_buf();
    let location = location.to_string();
    match e {
        ncr::Error::Io(source) => DatasetError::Io { path, source },
        ncr::Error::UnsupportedFeature(feature) => DatasetError::Unsupported {
            path,
            location,
            feature,
        },
        ncr::Error::UnsupportedVersion(v) => DatasetError::Unsupported {
            path,
            location,
            feature: format!("NetCDF format version {v}"),
        },
        ncr::Error::Nc4NotEnabled => DatasetError::Unsupported {
            path,
            location,
            feature: "NetCDF-4".into(),
        },
        ncr::Error::Hdf5(h) => {
            let message = h.to_string();
            if message.to_ascii_lowercase().contains("unsupported") {
                DatasetError::Unsupported {
                    path,
                    location,
                    feature: format!("HDF5: {message}"),
                }
            } else {
                DatasetError::Format {
                    path,
                    location,
                    message: format!("HDF5: {message}"),
                }
            }
        }
        other => DatasetError::Format {
            path,
            location,
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test value: type code and big-endian bytes.
    #[derive(Clone)]
    struct Vals(u32, Vec<u8>);

    fn shorts(v: &[i16]) -> Vals {
        Vals(3, v.iter().flat_map(|x| x.to_be_bytes()).collect())
    }
    fn ints(v: &[i32]) -> Vals {
        Vals(4, v.iter().flat_map(|x| x.to_be_bytes()).collect())
    }
    fn floats(v: &[f32]) -> Vals {
        Vals(5, v.iter().flat_map(|x| x.to_be_bytes()).collect())
    }
    fn doubles(v: &[f64]) -> Vals {
        Vals(6, v.iter().flat_map(|x| x.to_be_bytes()).collect())
    }
    fn bytes(v: &[i8]) -> Vals {
        Vals(1, v.iter().map(|&x| x as u8).collect())
    }
    fn chars(s: &str) -> Vals {
        Vals(2, s.as_bytes().to_vec())
    }
    fn type_size(code: u32) -> usize {
        [0, 1, 1, 2, 4, 4, 8][code as usize]
    }

    struct TVar {
        name: &'static str,
        dims: Vec<usize>,
        attrs: Vec<(&'static str, Vals)>,
        data: Vals,
    }

    fn put_name(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u32).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
        out.resize(out.len().next_multiple_of(4), 0);
    }

    fn put_attrs(out: &mut Vec<u8>, attrs: &[(&str, Vals)]) {
        if attrs.is_empty() {
            out.extend_from_slice(&[0; 8]);
            return;
        }
        out.extend_from_slice(&0x0Cu32.to_be_bytes());
        out.extend_from_slice(&(attrs.len() as u32).to_be_bytes());
        for (name, Vals(t, b)) in attrs {
            put_name(out, name);
            out.extend_from_slice(&t.to_be_bytes());
            out.extend_from_slice(&((b.len() / type_size(*t)) as u32).to_be_bytes());
            out.extend_from_slice(b);
            out.resize(out.len().next_multiple_of(4), 0);
        }
    }

    /// Builds a CDF-1 (`version` 1) or CDF-2 (2) file by hand, independently of any writer:
    /// dims `(name, len)` with len 0 = unlimited (`numrecs` records); data of fixed and
    /// record variables is laid out in REVERSE header order, so a reader that ignores
    /// `begin` fails.
    fn build_cdf(
        version: u8,
        dims: &[(&str, usize)],
        numrecs: usize,
        gatts: &[(&str, Vals)],
        vars: &[TVar],
    ) -> Vec<u8> {
        let is_rec = |v: &TVar| v.dims.first().is_some_and(|&d| dims[d].1 == 0);
        let slab = |v: &TVar| -> usize {
            let n: usize = v
                .dims
                .iter()
                .filter(|&&d| dims[d].1 != 0)
                .map(|&d| dims[d].1)
                .product();
            n * type_size(v.data.0)
        };
        let nrec_vars = vars.iter().filter(|v| is_rec(v)).count();
        let header = |begins: &[u64]| -> Vec<u8> {
            let mut h = b"CDF".to_vec();
            h.push(version);
            h.extend_from_slice(&(numrecs as u32).to_be_bytes());
            h.extend_from_slice(&0x0Au32.to_be_bytes());
            h.extend_from_slice(&(dims.len() as u32).to_be_bytes());
            for (name, len) in dims {
                put_name(&mut h, name);
                h.extend_from_slice(&(*len as u32).to_be_bytes());
            }
            put_attrs(&mut h, gatts);
            h.extend_from_slice(&0x0Bu32.to_be_bytes());
            h.extend_from_slice(&(vars.len() as u32).to_be_bytes());
            for (v, &begin) in vars.iter().zip(begins) {
                put_name(&mut h, v.name);
                h.extend_from_slice(&(v.dims.len() as u32).to_be_bytes());
                for &d in &v.dims {
                    h.extend_from_slice(&(d as u32).to_be_bytes());
                }
                put_attrs(&mut h, &v.attrs);
                h.extend_from_slice(&v.data.0.to_be_bytes());
                h.extend_from_slice(&(slab(v).next_multiple_of(4) as u32).to_be_bytes());
                if version == 1 {
                    h.extend_from_slice(&(begin as u32).to_be_bytes());
                } else {
                    h.extend_from_slice(&begin.to_be_bytes());
                }
            }
            h
        };
        let hlen = header(&vec![0; vars.len()]).len();
        let mut begins = vec![0u64; vars.len()];
        let mut pos = hlen;
        for (i, v) in vars.iter().enumerate().rev() {
            if !is_rec(v) {
                begins[i] = pos as u64;
                pos += slab(v).next_multiple_of(4);
            }
        }
        let rec_start = pos;
        let rec_len = |v: &TVar| {
            if nrec_vars == 1 {
                slab(v)
            } else {
                slab(v).next_multiple_of(4)
            }
        };
        let mut in_rec = 0;
        for (i, v) in vars.iter().enumerate().rev() {
            if is_rec(v) {
                begins[i] = (rec_start + in_rec) as u64;
                in_rec += rec_len(v);
            }
        }
        let recsize = in_rec;
        let mut out = header(&begins);
        out.resize(rec_start + recsize * numrecs, 0);
        for (v, &b) in vars.iter().zip(&begins) {
            let b = b as usize;
            if is_rec(v) {
                let s = slab(v);
                for r in 0..numrecs {
                    let at = b + r * recsize;
                    out[at..at + s].copy_from_slice(&v.data.1[r * s..(r + 1) * s]);
                }
            } else {
                out[b..b + v.data.1.len()].copy_from_slice(&v.data.1);
            }
        }
        out
    }

    /// One short record variable (3 records of 3 shorts = 6 bytes, no padding between
    /// records) plus fixed variables of every classic type, data in reverse header order.
    fn single_record_var_file(version: u8) -> Vec<u8> {
        build_cdf(
            version,
            &[("time", 0), ("x", 3), ("n", 5)],
            3,
            &[("title", chars("test file"))],
            &[
                TVar {
                    name: "s",
                    dims: vec![0, 1],
                    attrs: vec![("units", chars("m"))],
                    data: shorts(&[1, 2, 3, 4, 5, 6, 7, 8, 9]),
                },
                TVar {
                    name: "b",
                    dims: vec![1],
                    attrs: vec![],
                    data: bytes(&[-1, 0, 1]),
                },
                TVar {
                    name: "c",
                    dims: vec![2],
                    attrs: vec![],
                    data: chars("hello"),
                },
                TVar {
                    name: "i",
                    dims: vec![1],
                    attrs: vec![],
                    data: ints(&[-70000, 0, 70000]),
                },
                TVar {
                    name: "f",
                    dims: vec![1],
                    attrs: vec![],
                    data: floats(&[1.5, -2.25, 3e30]),
                },
                TVar {
                    name: "d",
                    dims: vec![],
                    attrs: vec![("long_name", chars("a scalar"))],
                    data: doubles(&[std::f64::consts::PI]),
                },
            ],
        )
    }

    #[test]
    fn classic_every_type_and_single_record_var() {
        for version in [1, 2] {
            let nc = NcFile::from_bytes(single_record_var_file(version)).unwrap();
            assert_eq!(
                nc.format(),
                [NcFormat::Classic, NcFormat::Offset64][version as usize - 1]
            );
            assert_eq!(nc.attribute("title").unwrap().as_str(), Some("test file"));
            assert_eq!(
                nc.dimensions()[0],
                Dimension {
                    name: "time".into(),
                    len: 3,
                    unlimited: true
                }
            );
            let s = nc.variable("s").unwrap();
            assert_eq!((s.dtype, &s.shape[..]), (NcType::Short, &[3usize, 3][..]));
            assert_eq!(s.dims, ["time", "x"]);
            assert_eq!(s.attr_str("units"), Some("m"));
            match nc.read_raw("s").unwrap() {
                RawArray::Short(a) => assert_eq!(a.data, [1, 2, 3, 4, 5, 6, 7, 8, 9]),
                other => panic!("{other:?}"),
            }
            assert_eq!(
                nc.read_f64_slab("s", 1..3).unwrap().data,
                [4., 5., 6., 7., 8., 9.]
            );
            assert_eq!(nc.read_f64_slab("s", 1..3).unwrap().shape, [2, 3]);
            assert_eq!(nc.read_f64_slab("s", 2..2).unwrap().shape, [0, 3]);
            assert!(nc.read_f64_slab("s", 2..4).is_err());
            assert_eq!(
                nc.read_raw("b").unwrap(),
                RawArray::Byte(NdArray::new(vec![3], vec![-1, 0, 1]).unwrap())
            );
            assert_eq!(nc.read_strings("c").unwrap(), ["hello"]);
            assert!(nc.read_strings("s").is_err());
            assert_eq!(nc.read_f64("i").unwrap().data, [-70000.0, 0.0, 70000.0]);
            assert_eq!(nc.read_f32("f").unwrap().data, [1.5, -2.25, 3e30]);
            let d = nc.read_f64("d").unwrap();
            assert_eq!((d.shape.len(), d.data[0]), (0, std::f64::consts::PI));
            assert!(
                nc.read_f64_slab("d", 0..1).is_err(),
                "scalar has no records"
            );
        }
    }

    #[test]
    fn classic_two_record_vars_are_padded_and_interleaved() {
        // byte r(time, 3) takes 4 bytes per record (padded), double t(time) 8: recsize 12.
        let file = build_cdf(
            1,
            &[("time", 0), ("x", 3)],
            4,
            &[],
            &[
                TVar {
                    name: "r",
                    dims: vec![0, 1],
                    attrs: vec![],
                    data: bytes(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
                },
                TVar {
                    name: "time",
                    dims: vec![0],
                    attrs: vec![("units", chars("days since 2000-01-01"))],
                    data: doubles(&[0.0, 1.5, 31.0, 59.0]),
                },
            ],
        );
        let nc = NcFile::from_bytes(file).unwrap();
        assert_eq!(
            nc.read_f64("r").unwrap().data,
            (1..=12).map(f64::from).collect::<Vec<_>>()
        );
        assert_eq!(nc.read_f64("time").unwrap().data, [0.0, 1.5, 31.0, 59.0]);
        assert_eq!(
            nc.read_f64_slab("r", 3..4).unwrap().data,
            [10.0, 11.0, 12.0]
        );
        let dates = nc.read_time("time", None).unwrap();
        assert_eq!(dates[1], CfDateTime::ymd_hms(2000, 1, 2, 12, 0, 0));
        assert_eq!(dates[3], CfDateTime::ymd_hms(2000, 2, 29, 0, 0, 0));
        let noleap = nc.read_time("time", Some(Calendar::NoLeap)).unwrap();
        assert_eq!(noleap[3], CfDateTime::ymd_hms(2000, 3, 1, 0, 0, 0));
        assert_eq!(
            nc.coordinate_axes("r").unwrap(),
            [
                ("time".to_string(), Some(Axis::Time)),
                ("x".to_string(), None)
            ]
        );
    }

    fn cf_file() -> Vec<u8> {
        build_cdf(
            2,
            &[("n", 6)],
            0,
            &[],
            &[
                TVar {
                    name: "packed",
                    dims: vec![0],
                    attrs: vec![
                        ("scale_factor", doubles(&[-0.5])),
                        ("add_offset", doubles(&[10.0])),
                        ("_FillValue", shorts(&[-1])),
                        ("missing_value", shorts(&[7])),
                        ("valid_max", shorts(&[100])),
                        ("units", chars("K")),
                        ("standard_name", chars("air_temperature")),
                    ],
                    data: shorts(&[-1, 7, 3, 200, 0, -32767]),
                },
                TVar {
                    name: "nanfill",
                    dims: vec![0],
                    attrs: vec![
                        ("_FillValue", doubles(&[f64::NAN])),
                        ("scale_factor", doubles(&[2.0])),
                    ],
                    data: shorts(&[-32768, -32767, -1, 0, 1, 32767]),
                },
                TVar {
                    name: "plain",
                    dims: vec![0],
                    attrs: vec![],
                    data: floats(&[1.0, 9.969_21e36, f32::NAN, -0.0, 2.5, 1e-40]),
                },
                TVar {
                    name: "unsigned",
                    dims: vec![0],
                    attrs: vec![("_Unsigned", chars("true")), ("_FillValue", bytes(&[-1]))],
                    data: bytes(&[-1, -2, 0, 1, 127, -128]),
                },
                TVar {
                    name: "ranged",
                    dims: vec![0],
                    attrs: vec![("valid_range", floats(&[0.0, 1.0]))],
                    data: doubles(&[-0.1, 0.0, 0.5, 1.0, 1.1, 9.969_209_968_386_869e36]),
                },
            ],
        )
    }

    #[test]
    fn cf_decoding_rules() {
        let nc = NcFile::from_bytes(cf_file()).unwrap();
        let p = nc.read_cf("packed").unwrap();
        assert_eq!(p.units.as_deref(), Some("K"));
        assert_eq!(p.standard_name.as_deref(), Some("air_temperature"));
        // -1 fill, 7 missing_value, 200 > valid_max; -32767 is a plain value here (an
        // explicit _FillValue replaces the default one).
        assert_eq!(p.mask, [true, true, false, true, false, false]);
        let CfData::F64(a) = &p.data else {
            panic!("f64 scale factor gives f64 data")
        };
        assert!(a.data[0].is_nan() && a.data[1].is_nan() && a.data[3].is_nan());
        assert_eq!(a.data[2], 3.0 * -0.5 + 10.0);
        assert_eq!(a.data[4], 10.0);
        assert_eq!(a.data[5], -32767.0 * -0.5 + 10.0);
        assert_eq!(p.missing_count(), 3);

        // A NaN _FillValue cannot apply to int16: nothing masked (eraint_uvz.nc's case).
        let q = nc.read_cf("nanfill").unwrap();
        assert_eq!(q.missing_count(), 0);
        assert_eq!(
            q.data.to_f64().data,
            [-65536.0, -65534.0, -2.0, 0.0, 2.0, 65534.0]
        );

        // No _FillValue: the default float fill and NaN are masked; output stays f32.
        let r = nc.read_cf("plain").unwrap();
        assert_eq!(r.mask, [false, true, true, false, false, false]);
        let CfData::F32(a) = &r.data else {
            panic!("float stays f32")
        };
        assert_eq!(a.data[5], 1e-40);
        assert!(a.data[3] == 0.0 && a.data[3].is_sign_negative());

        let u = nc.read_cf("unsigned").unwrap();
        assert_eq!(u.mask, [true, false, false, false, false, false]);
        assert_eq!(u.data.to_f64().data[1..], [254.0, 0.0, 1.0, 127.0, 128.0]);

        let v = nc.read_cf("ranged").unwrap();
        assert_eq!(v.mask, [true, false, false, false, true, true]);
        // Every masked value is NaN and every NaN is masked.
        for var in [&p, &q, &r, &u, &v] {
            let d = var.data.to_f64();
            for (x, m) in d.data.iter().zip(&var.mask) {
                assert_eq!(x.is_nan(), *m, "{}", var.name);
            }
        }
        let slab = nc.read_cf_slab("packed", 2..4).unwrap();
        assert_eq!(slab.mask, [false, true]);
    }

    #[test]
    fn errors_name_the_problem() {
        let nc = NcFile::from_bytes(single_record_var_file(1)).unwrap();
        match nc.variable("temperature") {
            Err(DatasetError::NoSuchVariable {
                name, available, ..
            }) => {
                assert_eq!(name, "temperature");
                assert_eq!(available, "s, b, c, i, f, d");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            nc.read_cf("zzz"),
            Err(DatasetError::NoSuchVariable { .. })
        ));
        assert!(matches!(
            nc.read_cf("c"),
            Err(DatasetError::Unsupported { .. })
        ));
        assert!(
            nc.read_time("s", None).is_err(),
            "units `m` are not time units"
        );

        for (bytes, expect) in [
            (b"GRIB\x00\x00\x01\x01".to_vec(), "GRIB"),
            (b"CDF\x07\x00\x00\x00\x00".to_vec(), "unknown version"),
            (b"hello world".to_vec(), "68 65 6c 6c"),
            (Vec::new(), "empty"),
        ] {
            let e = NcFile::from_bytes(bytes).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains(expect) && msg.contains("not a NetCDF"),
                "{msg}"
            );
        }
        let e = NcFile::open("/nonexistent/meshflow/x.nc").unwrap_err();
        assert!(matches!(e, DatasetError::Io { .. }), "{e}");
    }

    #[test]
    fn truncated_classic_files_error_never_panic() {
        for file in [
            single_record_var_file(1),
            single_record_var_file(2),
            cf_file(),
        ] {
            for len in 0..file.len() {
                if let Ok(nc) = NcFile::from_bytes(file[..len].to_vec()) {
                    // A file cut inside the data may still open; reads must not panic.
                    for v in nc.variables().to_vec() {
                        let _ = nc.read_raw(&v.name);
                        let _ = nc.read_cf(&v.name);
                    }
                }
            }
        }
    }

    #[test]
    fn corrupted_headers_error_never_panic() {
        let file = single_record_var_file(2);
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..3000 {
            let mut b = file.clone();
            for _ in 0..2 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let i = (state % 200.min(b.len() as u64)) as usize;
                b[i] ^= (state >> 40) as u8 | 1;
            }
            if let Ok(nc) = NcFile::from_bytes(b) {
                for v in nc.variables().to_vec() {
                    let _ = nc.read_cf(&v.name);
                }
            }
        }
    }
}

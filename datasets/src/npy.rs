//! NumPy `.npy` arrays and `.npz` archives: read and write.
//!
//! Reading accepts format versions 1.0, 2.0 and 3.0, the numeric dtypes `b1 i1 i2 i4 i8 u1 u2
//! u4 u8 f4 f8` in either byte order, and C or Fortran order (Fortran-ordered data is
//! transposed, so every [`NdArray`] returned is row-major). Structured, string, complex, half
//! and object dtypes give [`DatasetError::Unsupported`].
//!
//! ```no_run
//! use meshflow_datasets::npy::{read_npz, write_npz, NpyArray};
//! use meshflow_datasets::NdArray;
//!
//! # fn main() -> meshflow_datasets::Result<()> {
//! let npz = read_npz("era5_t_members.npz")?;
//! println!("{:?}", npz.keys());
//! let t = npz.get("t_f64")?.to_f64(); // NdArray<f64>, shape [10, 4, 2, 61, 120]
//! assert_eq!(t.shape, [10, 4, 2, 61, 120]);
//!
//! let lat = NpyArray::from(NdArray::new(vec![3], vec![90.0, 0.0, -90.0])?);
//! write_npz("out.npz", &[("lat", &lat)])?; // numpy.load("out.npz")["lat"] reads it back
//! # Ok(()) }
//! ```
//!
//! Writers always produce little-endian C-order arrays, format 1.0 (2.0 only when the header
//! needs it), and write atomically: to a temporary file in the same folder, then renamed.
//! `.npz` archives are written uncompressed (stored), like `numpy.savez`.
//!
//! The zip container is handled by the `zip` crate (pure Rust, with only its `deflate-flate2`
//! feature, backed by flate2's pure-Rust miniz_oxide backend), which also handles zip64 for
//! members over 4 GiB.

use crate::array::shape_len;
use crate::{DatasetError, NdArray, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A typed n-d array read from (or to be written to) a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyArray {
    /// `|b1`
    Bool(NdArray<bool>),
    /// `i1`
    I8(NdArray<i8>),
    /// `i2`
    I16(NdArray<i16>),
    /// `i4`
    I32(NdArray<i32>),
    /// `i8`
    I64(NdArray<i64>),
    /// `u1`
    U8(NdArray<u8>),
    /// `u2`
    U16(NdArray<u16>),
    /// `u4`
    U32(NdArray<u32>),
    /// `u8`
    U64(NdArray<u64>),
    /// `f4`
    F32(NdArray<f32>),
    /// `f8`
    F64(NdArray<f64>),
}

/// Runs `$body` with `$a` bound to the inner array of a numeric (non-bool) variant, or
/// evaluates `$bool` for `Bool`.
macro_rules! each_numeric {
    ($self:expr, $a:ident => $body:expr, $b:ident => $bool:expr) => {
        match $self {
            NpyArray::Bool($b) => $bool,
            NpyArray::I8($a) => $body,
            NpyArray::I16($a) => $body,
            NpyArray::I32($a) => $body,
            NpyArray::I64($a) => $body,
            NpyArray::U8($a) => $body,
            NpyArray::U16($a) => $body,
            NpyArray::U32($a) => $body,
            NpyArray::U64($a) => $body,
            NpyArray::F32($a) => $body,
            NpyArray::F64($a) => $body,
        }
    };
}

/// Runs `$body` with `$a` bound to the inner `NdArray` of any variant.
macro_rules! each_variant {
    ($self:expr, $a:ident => $body:expr) => {
        each_numeric!($self, $a => $body, $a => $body)
    };
}

macro_rules! npy_from_and_as {
    ($($variant:ident $t:ty, $as_fn:ident;)*) => {
        $(
            impl From<NdArray<$t>> for NpyArray {
                fn from(a: NdArray<$t>) -> Self {
                    NpyArray::$variant(a)
                }
            }
        )*
        impl NpyArray {
            $(
                #[doc = concat!("The array if its dtype is `", stringify!($t), "`.")]
                pub fn $as_fn(&self) -> Option<&NdArray<$t>> {
                    match self {
                        NpyArray::$variant(a) => Some(a),
                        _ => None,
                    }
                }
            )*
        }
    };
}

npy_from_and_as! {
    Bool bool, as_bool;
    I8 i8, as_i8;
    I16 i16, as_i16;
    I32 i32, as_i32;
    I64 i64, as_i64;
    U8 u8, as_u8;
    U16 u16, as_u16;
    U32 u32, as_u32;
    U64 u64, as_u64;
    F32 f32, as_f32;
    F64 f64, as_f64;
}

impl NpyArray {
    /// The shape, outermost dimension first.
    pub fn shape(&self) -> &[usize] {
        each_variant!(self, a => &a.shape)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        each_variant!(self, a => a.len())
    }

    /// True when the array has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// numpy's name of the dtype (`"float64"`, `"int32"`, `"bool"`, ...).
    pub fn dtype(&self) -> &'static str {
        match self {
            NpyArray::Bool(_) => "bool",
            NpyArray::I8(_) => "int8",
            NpyArray::I16(_) => "int16",
            NpyArray::I32(_) => "int32",
            NpyArray::I64(_) => "int64",
            NpyArray::U8(_) => "uint8",
            NpyArray::U16(_) => "uint16",
            NpyArray::U32(_) => "uint32",
            NpyArray::U64(_) => "uint64",
            NpyArray::F32(_) => "float32",
            NpyArray::F64(_) => "float64",
        }
    }

    /// Converts to `f64` (booleans become 0 and 1). Exact except for 64-bit integers beyond
    /// ±2^53, which are rounded to the nearest `f64`.
    #[allow(clippy::unnecessary_cast)] // the macro casts every variant, f64 included
    pub fn to_f64(&self) -> NdArray<f64> {
        each_numeric!(self, a => a.map(|&v| v as f64), b => b.map(|&v| f64::from(u8::from(v))))
    }

    /// Converts to `f32` (booleans become 0 and 1), rounding to nearest like numpy's
    /// `astype(np.float32)`.
    #[allow(clippy::unnecessary_cast)] // the macro casts every variant, f32 included
    pub fn to_f32(&self) -> NdArray<f32> {
        each_numeric!(self, a => a.map(|&v| v as f32), b => b.map(|&v| f32::from(u8::from(v))))
    }
}

// ---------------------------------------------------------------------------------------------
// Element encoding.

/// Element types that `.npy` can hold.
trait Element: Copy {
    const SIZE: usize;
    /// The kind character (`f`, `i`, `u`, `b`).
    const KIND: char;
    fn from_le(b: &[u8]) -> Self;
    fn from_be(b: &[u8]) -> Self;
    fn put_le(self, out: &mut Vec<u8>);
}

macro_rules! element_num {
    ($($t:ty, $kind:expr;)*) => {$(
        impl Element for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            const KIND: char = $kind;
            fn from_le(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_le_bytes(a)
            }
            fn from_be(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_be_bytes(a)
            }
            fn put_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}

element_num! {
    i8, 'i'; i16, 'i'; i32, 'i'; i64, 'i';
    u8, 'u'; u16, 'u'; u32, 'u'; u64, 'u';
    f32, 'f'; f64, 'f';
}

impl Element for bool {
    const SIZE: usize = 1;
    const KIND: char = 'b';
    fn from_le(b: &[u8]) -> Self {
        b[0] != 0
    }
    fn from_be(b: &[u8]) -> Self {
        b[0] != 0
    }
    fn put_le(self, out: &mut Vec<u8>) {
        out.push(u8::from(self));
    }
}

/// Decodes `n` elements (`bytes.len() == n * T::SIZE` is checked by the caller).
fn decode_elements<T: Element>(bytes: &[u8], big_endian: bool) -> Vec<T> {
    if big_endian {
        bytes.chunks_exact(T::SIZE).map(T::from_be).collect()
    } else {
        bytes.chunks_exact(T::SIZE).map(T::from_le).collect()
    }
}

/// Reorders Fortran-order (column-major) data into row-major order.
fn fortran_to_c<T: Copy>(shape: &[usize], data: Vec<T>) -> Vec<T> {
    let nd = shape.len();
    if nd < 2 || data.len() < 2 {
        return data;
    }
    // Column-major strides.
    let mut fstride = vec![1usize; nd];
    for i in 1..nd {
        fstride[i] = fstride[i - 1] * shape[i - 1];
    }
    let mut out = Vec::with_capacity(data.len());
    let mut idx = vec![0usize; nd];
    let mut off = 0usize;
    for _ in 0..data.len() {
        out.push(data[off]);
        // Advance the row-major multi-index (last dimension fastest), keeping `off` in step.
        for d in (0..nd).rev() {
            idx[d] += 1;
            off += fstride[d];
            if idx[d] < shape[d] {
                break;
            }
            off -= fstride[d] * shape[d];
            idx[d] = 0;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Header parsing.

/// A value of the tiny Python-literal subset used by `.npy` headers.
#[derive(Debug, PartialEq)]
enum PyValue {
    Str(String),
    Bool(bool),
    Int(u64),
    Tuple(Vec<PyValue>),
    List(Vec<PyValue>),
    Dict(Vec<(PyValue, PyValue)>),
}

struct PyParser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> PyParser<'a> {
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.pos).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!(
                "expected `{}` at header byte {}",
                c as char, self.pos
            ))
        }
    }

    fn value(&mut self, depth: usize) -> Result<PyValue, String> {
        if depth > 16 {
            return Err("header nested too deeply".into());
        }
        match self.peek() {
            Some(q @ (b'\'' | b'"')) => {
                self.pos += 1;
                let start = self.pos;
                while self.pos < self.s.len() && self.s[self.pos] != q {
                    if self.s[self.pos] == b'\\' {
                        return Err("escape sequences in header strings are not supported".into());
                    }
                    self.pos += 1;
                }
                if self.pos >= self.s.len() {
                    return Err("unterminated string in header".into());
                }
                let text = String::from_utf8_lossy(&self.s[start..self.pos]).into_owned();
                self.pos += 1;
                Ok(PyValue::Str(text))
            }
            Some(open @ (b'(' | b'[' | b'{')) => {
                self.pos += 1;
                let close = match open {
                    b'(' => b')',
                    b'[' => b']',
                    _ => b'}',
                };
                let mut items = Vec::new();
                let mut pairs = Vec::new();
                loop {
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        break;
                    }
                    let v = self.value(depth + 1)?;
                    if open == b'{' {
                        self.expect(b':')?;
                        let w = self.value(depth + 1)?;
                        pairs.push((v, w));
                    } else {
                        items.push(v);
                    }
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(c) if c == close => {}
                        _ => return Err(format!("expected `,` at header byte {}", self.pos)),
                    }
                }
                Ok(match open {
                    b'(' => PyValue::Tuple(items),
                    b'[' => PyValue::List(items),
                    _ => PyValue::Dict(pairs),
                })
            }
            Some(c) if c.is_ascii_digit() => {
                let start = self.pos;
                while self.pos < self.s.len() && self.s[self.pos].is_ascii_digit() {
                    self.pos += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
                let v = text
                    .parse::<u64>()
                    .map_err(|_| format!("bad integer `{text}` in header"))?;
                // Python 2 long suffix, written by very old numpy.
                if matches!(self.s.get(self.pos), Some(b'L' | b'l')) {
                    self.pos += 1;
                }
                Ok(PyValue::Int(v))
            }
            Some(_) => {
                let rest = &self.s[self.pos..];
                for (word, v) in [("True", true), ("False", false)] {
                    if rest.starts_with(word.as_bytes()) {
                        self.pos += word.len();
                        return Ok(PyValue::Bool(v));
                    }
                }
                Err(format!("unexpected character at header byte {}", self.pos))
            }
            None => Err("header ends early".into()),
        }
    }
}

/// The element type named by a `descr` string.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Dtype {
    Bool,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::Bool | Dtype::I8 | Dtype::U8 => 1,
            Dtype::I16 | Dtype::U16 => 2,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 4,
            Dtype::I64 | Dtype::U64 | Dtype::F64 => 8,
        }
    }
}

/// Parses a descr such as `<f8`; returns the dtype and whether it is big-endian, or `None`
/// for a dtype this reader does not support.
fn parse_descr(descr: &str) -> Option<(Dtype, bool)> {
    let b = descr.as_bytes();
    if b.len() < 3 {
        return None;
    }
    let big = match b[0] {
        b'<' | b'|' => false,
        b'>' => true,
        b'=' => cfg!(target_endian = "big"),
        _ => return None,
    };
    let size: usize = std::str::from_utf8(&b[2..]).ok()?.parse().ok()?;
    let dt = match (b[1], size) {
        (b'b', 1) => Dtype::Bool,
        (b'i', 1) => Dtype::I8,
        (b'i', 2) => Dtype::I16,
        (b'i', 4) => Dtype::I32,
        (b'i', 8) => Dtype::I64,
        (b'u', 1) => Dtype::U8,
        (b'u', 2) => Dtype::U16,
        (b'u', 4) => Dtype::U32,
        (b'u', 8) => Dtype::U64,
        (b'f', 4) => Dtype::F32,
        (b'f', 8) => Dtype::F64,
        _ => return None,
    };
    Some((dt, big))
}

/// Parsed `.npy` header.
struct Header {
    dtype: Dtype,
    big_endian: bool,
    fortran_order: bool,
    shape: Vec<usize>,
    /// Offset of the first data byte.
    data_offset: usize,
}

fn format_err(path: &Path, location: &str, message: impl Into<String>) -> DatasetError {
    DatasetError::Format {
        path: path.to_path_buf(),
        location: location.to_string(),
        message: message.into(),
    }
}

fn parse_header(bytes: &[u8], path: &Path, loc: &str) -> Result<Header> {
    let loc_h = format!("{loc}header");
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(format_err(
            path,
            &loc_h,
            "not a .npy file (missing the \\x93NUMPY magic)",
        ));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (hlen, hstart): (usize, usize) = match major {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(format_err(path, &loc_h, "file ends inside the header"));
            }
            let n = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (n as usize, 12)
        }
        _ => {
            return Err(DatasetError::Unsupported {
                path: path.to_path_buf(),
                location: loc_h,
                feature: format!(".npy format version {major}.{minor}"),
            })
        }
    };
    let hend = hstart
        .checked_add(hlen)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| {
            format_err(
                path,
                &loc_h,
                format!(
                    "header declares {hlen} bytes but the file has {}",
                    bytes.len()
                ),
            )
        })?;
    let text = &bytes[hstart..hend];
    let mut p = PyParser { s: text, pos: 0 };
    let dict = match p.value(0) {
        Ok(PyValue::Dict(d)) => d,
        Ok(_) => return Err(format_err(path, &loc_h, "header is not a dict")),
        Err(e) => return Err(format_err(path, &loc_h, e)),
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (k, v) in dict {
        let PyValue::Str(k) = k else {
            return Err(format_err(path, &loc_h, "header key is not a string"));
        };
        match (k.as_str(), v) {
            ("descr", PyValue::Str(s)) => descr = Some(s),
            ("descr", other) => {
                return Err(DatasetError::Unsupported {
                    path: path.to_path_buf(),
                    location: loc_h,
                    feature: format!("structured dtype {other:?}"),
                })
            }
            ("fortran_order", PyValue::Bool(b)) => fortran = Some(b),
            ("shape", PyValue::Tuple(items)) => {
                let mut dims = Vec::with_capacity(items.len());
                for it in items {
                    match it {
                        PyValue::Int(n) => dims.push(usize::try_from(n).map_err(|_| {
                            format_err(path, &loc_h, format!("dimension {n} too large"))
                        })?),
                        _ => return Err(format_err(path, &loc_h, "shape holds a non-integer")),
                    }
                }
                shape = Some(dims);
            }
            (key, _) => {
                return Err(format_err(
                    path,
                    &loc_h,
                    format!("unexpected or malformed header key `{key}`"),
                ))
            }
        }
    }
    let (Some(descr), Some(fortran_order), Some(shape)) = (descr, fortran, shape) else {
        return Err(format_err(
            path,
            &loc_h,
            "header lacks one of descr, fortran_order, shape",
        ));
    };
    let (dtype, big_endian) = parse_descr(&descr).ok_or_else(|| DatasetError::Unsupported {
        path: path.to_path_buf(),
        location: loc_h.clone(),
        feature: format!(
            "dtype `{descr}` (supported: b1, i1-i8, u1-u8, f4, f8 in either byte order)"
        ),
    })?;
    Ok(Header {
        dtype,
        big_endian,
        fortran_order,
        shape,
        data_offset: hend,
    })
}

/// Parses the bytes of a `.npy` file. `path` is used in error messages only.
pub fn parse_npy(bytes: &[u8], path: &Path) -> Result<NpyArray> {
    parse_npy_at(bytes, path, "")
}

/// `loc` prefixes error locations (e.g. `member t.npy: `).
fn parse_npy_at(bytes: &[u8], path: &Path, loc: &str) -> Result<NpyArray> {
    let h = parse_header(bytes, path, loc)?;
    let n = shape_len(&h.shape)
        .ok_or_else(|| format_err(path, &format!("{loc}header"), "shape overflows"))?;
    let need = n
        .checked_mul(h.dtype.size())
        .ok_or_else(|| format_err(path, &format!("{loc}header"), "shape overflows"))?;
    let data = &bytes[h.data_offset..];
    if data.len() != need {
        return Err(format_err(
            path,
            &format!("{loc}data"),
            format!(
                "shape {:?} of {} needs {need} data bytes but the file has {}{}",
                h.shape,
                dtype_name(h.dtype),
                data.len(),
                if data.len() < need {
                    " (truncated)"
                } else {
                    ""
                }
            ),
        ));
    }
    fn build<T: Element>(h: &Header, data: &[u8]) -> NdArray<T> {
        let v = decode_elements::<T>(data, h.big_endian);
        let v = if h.fortran_order {
            fortran_to_c(&h.shape, v)
        } else {
            v
        };
        NdArray {
            shape: h.shape.clone(),
            data: v,
        }
    }
    Ok(match h.dtype {
        Dtype::Bool => NpyArray::Bool(build(&h, data)),
        Dtype::I8 => NpyArray::I8(build(&h, data)),
        Dtype::I16 => NpyArray::I16(build(&h, data)),
        Dtype::I32 => NpyArray::I32(build(&h, data)),
        Dtype::I64 => NpyArray::I64(build(&h, data)),
        Dtype::U8 => NpyArray::U8(build(&h, data)),
        Dtype::U16 => NpyArray::U16(build(&h, data)),
        Dtype::U32 => NpyArray::U32(build(&h, data)),
        Dtype::U64 => NpyArray::U64(build(&h, data)),
        Dtype::F32 => NpyArray::F32(build(&h, data)),
        Dtype::F64 => NpyArray::F64(build(&h, data)),
    })
}

fn dtype_name(d: Dtype) -> &'static str {
    match d {
        Dtype::Bool => "bool",
        Dtype::I8 => "int8",
        Dtype::I16 => "int16",
        Dtype::I32 => "int32",
        Dtype::I64 => "int64",
        Dtype::U8 => "uint8",
        Dtype::U16 => "uint16",
        Dtype::U32 => "uint32",
        Dtype::U64 => "uint64",
        Dtype::F32 => "float32",
        Dtype::F64 => "float64",
    }
}

fn io_err(path: &Path, source: std::io::Error) -> DatasetError {
    DatasetError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads a `.npy` file.
pub fn read_npy(path: impl AsRef<Path>) -> Result<NpyArray> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    parse_npy(&bytes, path)
}

// ---------------------------------------------------------------------------------------------
// Writing.

/// Encodes an array as the bytes of a `.npy` file (little-endian, C order).
pub fn encode_npy(array: &NpyArray) -> Vec<u8> {
    fn descr<T: Element>() -> String {
        let order = if T::SIZE == 1 { '|' } else { '<' };
        format!("{order}{}{}", T::KIND, T::SIZE)
    }
    fn body<T: Element>(a: &NdArray<T>) -> (String, Vec<u8>) {
        let mut out = Vec::with_capacity(a.data.len() * T::SIZE);
        for &v in &a.data {
            v.put_le(&mut out);
        }
        (descr::<T>(), out)
    }
    let (descr, data) = each_variant!(array, a => body(a));
    let shape = array.shape();
    let shape_txt = match shape.len() {
        0 => "()".to_string(),
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_txt}, }}");
    // Pad with spaces so that magic + length field + header (ending in '\n') is a multiple of
    // 64 bytes, as numpy does.
    let (major, prefix) = if header.len() + 1 + 10 <= usize::from(u16::MAX) {
        (1u8, 10usize)
    } else {
        (2u8, 12usize)
    };
    let total = (prefix + header.len() + 1).div_ceil(64) * 64;
    while prefix + header.len() + 1 < total {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(total + data.len());
    out.extend_from_slice(b"\x93NUMPY");
    out.push(major);
    out.push(0);
    if major == 1 {
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    out
}

/// Writes a `.npy` file (little-endian, C order) atomically.
pub fn write_npy(path: impl AsRef<Path>, array: &NpyArray) -> Result<()> {
    let path = path.as_ref();
    let bytes = encode_npy(array);
    Ok(meshflow_geometry::io::write_atomic_with(path, |f| {
        f.write_all(&bytes)
    })?)
}

/// Writes an uncompressed `.npz` archive atomically, one member `<name>.npy` per array, in
/// the order given. Names must be unique and non-empty.
pub fn write_npz(path: impl AsRef<Path>, arrays: &[(&str, &NpyArray)]) -> Result<()> {
    let path = path.as_ref();
    for (i, (name, _)) in arrays.iter().enumerate() {
        if name.is_empty() || arrays[..i].iter().any(|(n, _)| n == name) {
            return Err(io_err(
                path,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("npz member names must be unique and non-empty (`{name}`)"),
                ),
            ));
        }
    }
    Ok(meshflow_geometry::io::write_atomic_with(path, |f| {
        let mut zw = zip::ZipWriter::new(std::io::BufWriter::new(f));
        for (name, array) in arrays {
            let bytes = encode_npy(array);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .large_file(bytes.len() as u64 >= u64::from(u32::MAX));
            zw.start_file(format!("{name}.npy"), opts)
                .map_err(std::io::Error::other)?;
            zw.write_all(&bytes)?;
        }
        let mut w = zw.finish().map_err(std::io::Error::other)?;
        w.flush()
    })?)
}

// ---------------------------------------------------------------------------------------------
// npz reading.

/// An open `.npz` archive. Members are read on demand by [`Npz::get`].
pub struct Npz {
    path: PathBuf,
    keys: Vec<String>,
    /// Member file name for each key.
    members: Vec<String>,
    archive: Mutex<zip::ZipArchive<Box<dyn ReadSeek>>>,
}

/// What an [`Npz`] reads its archive from: a file or bytes in memory.
trait ReadSeek: Read + std::io::Seek + Send {}
impl<T: Read + std::io::Seek + Send> ReadSeek for T {}

impl std::fmt::Debug for Npz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Npz")
            .field("path", &self.path)
            .field("keys", &self.keys)
            .finish()
    }
}

/// Opens a `.npz` archive (stored or deflated members) and lists its arrays.
pub fn read_npz(path: impl AsRef<Path>) -> Result<Npz> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    open_npz(Box::new(std::io::BufReader::new(file)), path)
}

/// Opens a `.npz` archive held in memory (an archive compiled into a binary, a download);
/// `name` stands for its path in errors.
pub fn read_npz_bytes(
    bytes: impl Into<std::borrow::Cow<'static, [u8]>>,
    name: impl AsRef<Path>,
) -> Result<Npz> {
    open_npz(Box::new(std::io::Cursor::new(bytes.into())), name.as_ref())
}

fn open_npz(reader: Box<dyn ReadSeek>, path: &Path) -> Result<Npz> {
    let archive = zip::ZipArchive::new(reader).map_err(|e| zip_err(path, "archive", e))?;
    // `file_names` yields central-directory order, which is numpy's `files` order.
    let mut keys = Vec::new();
    let mut members = Vec::new();
    for name in archive.file_names() {
        let name = name.map_err(|e| zip_err(path, "archive", e))?;
        if name.ends_with('/') {
            continue;
        }
        let key = name.strip_suffix(".npy").unwrap_or(&name);
        keys.push(key.to_string());
        members.push(name.to_string());
    }
    Ok(Npz {
        path: path.to_path_buf(),
        keys,
        members,
        archive: Mutex::new(archive),
    })
}

fn zip_err(path: &Path, location: &str, e: zip::result::ZipError) -> DatasetError {
    match e {
        zip::result::ZipError::Io(source) => io_err(path, source),
        zip::result::ZipError::UnsupportedArchive(what) => DatasetError::Unsupported {
            path: path.to_path_buf(),
            location: location.to_string(),
            feature: format!("zip archive feature: {what}"),
        },
        other => format_err(path, location, format!("bad zip archive: {other}")),
    }
}

impl Npz {
    /// The archive's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The array names (member names without `.npy`), in archive order.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// True if the archive holds an array of this name.
    pub fn contains(&self, name: &str) -> bool {
        self.keys.iter().any(|k| k == name)
    }

    /// Reads one array. A missing name gives [`DatasetError::NoSuchVariable`] listing the
    /// names that exist.
    pub fn get(&self, name: &str) -> Result<NpyArray> {
        let Some(i) = self.keys.iter().position(|k| k == name) else {
            return Err(DatasetError::NoSuchVariable {
                path: self.path.clone(),
                name: name.to_string(),
                available: self.keys.join(", "),
            });
        };
        let member = &self.members[i];
        let loc = format!("member {member}");
        let mut archive = self.archive.lock().unwrap_or_else(|p| p.into_inner());
        let mut file = archive
            .by_name(member)
            .map_err(|e| zip_err(&self.path, &loc, e))?;
        // The declared size only sizes the first allocation; a lying header cannot make us
        // allocate more than the archive can hold.
        let cap = file.size().min(1 << 30) as usize;
        let mut bytes = Vec::with_capacity(cap);
        file.read_to_end(&mut bytes).map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidData || e.kind() == std::io::ErrorKind::Other
            {
                format_err(&self.path, &loc, format!("cannot read member: {e}"))
            } else {
                io_err(&self.path, e)
            }
        })?;
        drop(file);
        drop(archive);
        parse_npy_at(&bytes, &self.path, &format!("{loc}: "))
    }

    /// Reads every array, in archive order.
    pub fn read_all(&self) -> Result<Vec<(String, NpyArray)>> {
        self.keys
            .iter()
            .map(|k| Ok((k.clone(), self.get(k)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("meshflow-npy-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn npy_with_header(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn roundtrip_all_dtypes() {
        let arrays: Vec<NpyArray> = vec![
            NdArray::new(vec![2, 2], vec![true, false, false, true])
                .unwrap()
                .into(),
            NdArray::new(vec![3], vec![-1i8, 0, 127]).unwrap().into(),
            NdArray::new(vec![3], vec![-1i16, 0, 300]).unwrap().into(),
            NdArray::new(vec![1, 3], vec![-1i32, 0, 70000])
                .unwrap()
                .into(),
            NdArray::new(vec![3], vec![i64::MIN, 0, i64::MAX])
                .unwrap()
                .into(),
            NdArray::new(vec![3, 1], vec![0u8, 1, 255]).unwrap().into(),
            NdArray::new(vec![3], vec![0u16, 1, 65535]).unwrap().into(),
            NdArray::new(vec![3], vec![0u32, 1, u32::MAX])
                .unwrap()
                .into(),
            NdArray::new(vec![3], vec![0u64, 1, u64::MAX])
                .unwrap()
                .into(),
            NdArray::new(vec![2, 1, 2], vec![1.5f32, f32::NAN, -0.0, 1e30])
                .unwrap()
                .into(),
            NdArray::new(vec![], vec![std::f64::consts::PI])
                .unwrap()
                .into(),
            NdArray::new(vec![0, 4], Vec::<f64>::new()).unwrap().into(),
        ];
        for a in &arrays {
            let bytes = encode_npy(a);
            assert_eq!((bytes.len() - a.len() * elem_size(a)) % 64, 0);
            let b = parse_npy(&bytes, Path::new("<memory>")).unwrap();
            assert_eq!(format!("{a:?}"), format!("{b:?}")); // NaN-tolerant equality
        }
    }

    fn elem_size(a: &NpyArray) -> usize {
        match a {
            NpyArray::Bool(_) | NpyArray::I8(_) | NpyArray::U8(_) => 1,
            NpyArray::I16(_) | NpyArray::U16(_) => 2,
            NpyArray::I32(_) | NpyArray::U32(_) | NpyArray::F32(_) => 4,
            _ => 8,
        }
    }

    #[test]
    fn big_endian_and_fortran() {
        // 2x3 f8 big-endian, Fortran order: column-major storage of [[1,2,3],[4,5,6]].
        let vals = [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0];
        let data: Vec<u8> = vals.iter().flat_map(|v| v.to_be_bytes()).collect();
        let bytes = npy_with_header(
            "{'descr': '>f8', 'fortran_order': True, 'shape': (2, 3), }\n",
            &data,
        );
        let a = parse_npy(&bytes, Path::new("x.npy")).unwrap();
        let a = a.as_f64().unwrap();
        assert_eq!(a.shape, [2, 3]);
        assert_eq!(a.data, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);

        // 3-d Fortran order: element (i,j,k) at i + 2*(j + 3*k).
        let shape = [2usize, 3, 4];
        let mut f = vec![0i32; 24];
        for i in 0..2 {
            for j in 0..3 {
                for k in 0..4 {
                    f[i + 2 * (j + 3 * k)] = (100 * i + 10 * j + k) as i32;
                }
            }
        }
        let c = fortran_to_c(&shape, f);
        let expect: Vec<i32> = (0..24)
            .map(|n| 100 * (n / 12) + 10 * ((n / 4) % 3) + n % 4)
            .collect();
        assert_eq!(c, expect);
    }

    #[test]
    fn header_variants() {
        // Version 3.0 (utf8 header), double-quoted keys, no trailing comma, python2 longs.
        let mut bytes = b"\x93NUMPY\x03\x00".to_vec();
        let h = "{\"descr\": \"<i2\", \"shape\": (2L,), \"fortran_order\": False}\n";
        bytes.extend_from_slice(&(h.len() as u32).to_le_bytes());
        bytes.extend_from_slice(h.as_bytes());
        bytes.extend_from_slice(&[1, 0, 2, 0]);
        let a = parse_npy(&bytes, Path::new("v3.npy")).unwrap();
        assert_eq!(a.as_i16().unwrap().data, [1, 2]);
    }

    #[test]
    fn errors_are_clear() {
        let p = Path::new("bad.npy");
        let e = parse_npy(b"hello", p).unwrap_err().to_string();
        assert!(e.contains("bad.npy") && e.contains("magic"), "{e}");
        let trunc = npy_with_header(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }\n",
            &[0u8; 20],
        );
        let e = parse_npy(&trunc, p).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        let u = npy_with_header(
            "{'descr': '<U5', 'fortran_order': False, 'shape': (1,), }\n",
            &[0u8; 20],
        );
        assert!(matches!(
            parse_npy(&u, p),
            Err(DatasetError::Unsupported { .. })
        ));
        let s = npy_with_header(
            "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }\n",
            &[0u8; 8],
        );
        assert!(matches!(
            parse_npy(&s, p),
            Err(DatasetError::Unsupported { .. })
        ));
        let huge = npy_with_header(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (18446744073709551615, 3), }\n",
            &[],
        );
        assert!(parse_npy(&huge, p).is_err());
    }

    #[test]
    fn truncations_and_flips_never_panic() {
        let a: NpyArray = NdArray::new(vec![2, 3], vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0])
            .unwrap()
            .into();
        let bytes = encode_npy(&a);
        for n in 0..bytes.len() {
            let _ = parse_npy(&bytes[..n], Path::new("t.npy"));
        }
        let mut state = 0x2545F4914F6CDD1Du64;
        for _ in 0..2000 {
            let mut b = bytes.clone();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let i = (state % b.len() as u64) as usize;
                b[i] ^= (state >> 32) as u8 | 1;
            }
            let _ = parse_npy(&b, Path::new("t.npy"));
        }
    }

    #[test]
    fn npz_roundtrip_and_missing_key() {
        let dir = tmpdir("npz");
        let path = dir.join("a.npz");
        let x: NpyArray = NdArray::new(vec![2], vec![1.0f64, 2.0]).unwrap().into();
        let y: NpyArray = NdArray::new(vec![3], vec![1i64, 2, 3]).unwrap().into();
        write_npz(&path, &[("x", &x), ("y", &y)]).unwrap();
        let npz = read_npz(&path).unwrap();
        assert_eq!(npz.keys(), ["x", "y"]);
        assert_eq!(npz.get("y").unwrap(), y);
        match npz.get("z") {
            Err(DatasetError::NoSuchVariable {
                name, available, ..
            }) => {
                assert_eq!(name, "z");
                assert_eq!(available, "x, y");
            }
            other => panic!("{other:?}"),
        }
        assert!(write_npz(&path, &[("x", &x), ("x", &y)]).is_err());
        // No temporary files left behind.
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn npz_deflated_member() {
        // A deflated member, as numpy.savez_compressed writes.
        let dir = tmpdir("deflate");
        let path = dir.join("c.npz");
        let a: NpyArray = NdArray::new(vec![1000], vec![7u16; 1000]).unwrap().into();
        {
            let f = std::fs::File::create(&path).unwrap();
            let mut zw = zip::ZipWriter::new(f);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            zw.start_file("a.npy", opts).unwrap();
            zw.write_all(&encode_npy(&a)).unwrap();
            zw.finish().unwrap();
        }
        assert!(std::fs::metadata(&path).unwrap().len() < 500);
        assert_eq!(read_npz(&path).unwrap().get("a").unwrap(), a);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn npy_file_roundtrip_atomic() {
        let dir = tmpdir("npy");
        let path = dir.join("v.npy");
        let a: NpyArray = NdArray::new(vec![2, 2], vec![1u8, 2, 3, 4]).unwrap().into();
        write_npy(&path, &a).unwrap();
        write_npy(&path, &a).unwrap(); // overwrite
        assert_eq!(read_npy(&path).unwrap(), a);
        assert!(read_npy(dir.join("missing.npy")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn conversions() {
        let a: NpyArray = NdArray::new(vec![2], vec![true, false]).unwrap().into();
        assert_eq!(a.to_f64().data, [1.0, 0.0]);
        let b: NpyArray = NdArray::new(vec![2], vec![-3i16, 4]).unwrap().into();
        assert_eq!(b.to_f32().data, [-3.0, 4.0]);
        assert_eq!(b.dtype(), "int16");
        assert!(b.as_f64().is_none());
    }
}

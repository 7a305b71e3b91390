//! Stanford PLY reader and writer.
//!
//! meshflow has its own PLY code rather than using the `ply-rs` crate: `ply-rs` is
//! unmaintained, its errors carry no element or line context (a user with a broken scan gets
//! "unexpected end of file" and no idea where), and we need a writer anyway.
//!
//! The reader handles `ascii 1.0`, `binary_little_endian 1.0` and `binary_big_endian 1.0`;
//! `comment` and `obj_info` header lines; any elements in any order (elements other than
//! `vertex` and `face`, such as `edge` or `material`, are parsed and skipped); the scalar types
//! `char uchar short ushort int uint float double` and their aliases
//! `int8 uint8 int16 uint16 int32 uint32 float32 float64`; and list properties. Faces are read
//! from the list property `vertex_indices` (or `vertex_index`) and fan-triangulated. Every
//! vertex scalar property other than `x y z` is returned as a vertex property.
//!
//! Every error names where the problem is: `header line 4`, or an element and its 0-based
//! index (`vertex 37`, `face 12`), with the line number for ASCII bodies. The reader never
//! panics and never allocates more than the input can fill, whatever the bytes.

use std::path::Path;

use nalgebra::Point3;

use super::{parse_error, read_file, LoadedMesh};
use crate::error::{GeometryError, Result};
use crate::mesh::TriMesh;

/// Reads a PLY file (ASCII or binary) into a triangle mesh plus its extra vertex properties.
///
/// # Errors
/// [`GeometryError::Io`] if the file cannot be read; otherwise as [`parse_ply`].
pub fn read_ply(path: &Path) -> Result<LoadedMesh> {
    let bytes = read_file(path)?;
    parse_ply(&bytes, path)
}

/// Parses a PLY file held in memory; `path_for_errors` only labels error messages.
///
/// Vertex properties keep the file's header order and values as stored (colours as 0..255
/// for `uchar`). ASCII numbers are converted to their declared type, as a binary file would
/// store them (a `float` is rounded to 32 bits), so the same data reads identically from
/// ASCII and binary files.
///
/// # Errors
/// [`GeometryError::Parse`] naming the header line, or the element and its 0-based index, and
/// what is wrong: unknown format or type, missing `x y z` or `vertex_indices`, wrong number of
/// values, a file that ends early, data after the last element, NaN or infinite coordinates,
/// faces with fewer than 3 vertices or indices out of range. [`GeometryError::EmptyMesh`] when
/// the file declares no vertices.
pub fn parse_ply(bytes: &[u8], path_for_errors: &Path) -> Result<LoadedMesh> {
    let path = path_for_errors;
    let header = parse_header(bytes, path)?;
    let body = &bytes[header.body_start..];
    match header.format {
        Format::Ascii => {
            let source = AsciiSource::new(body, header.lines);
            read_body(&header, source, path)
        }
        Format::BinaryLittleEndian => read_body(
            &header,
            BinarySource::new(body, false, header.body_start),
            path,
        ),
        Format::BinaryBigEndian => read_body(
            &header,
            BinarySource::new(body, true, header.body_start),
            path,
        ),
    }
}

/// Writes `mesh` as a `binary_little_endian` PLY: `float x y z`, then each extra vertex
/// property as `float`, then `uchar red green blue` when colours are given; faces as
/// `list uchar int vertex_indices`. Values are stored as `float32`.
///
/// The file is written atomically: to a temporary file in the same directory, which is then
/// renamed over `path`, so readers never see a half-written mesh.
///
/// # Errors
/// [`GeometryError::ShapeMismatch`] if a property or the colours do not have one entry per
/// vertex; [`GeometryError::InvalidArgument`] for a property name that is empty, contains
/// whitespace or repeats `x y z` (or `red green blue` with colours) or another name, for a
/// finite value too large for `float32`, or for more than `i32::MAX` vertices;
/// [`GeometryError::Io`] if the file cannot be written.
pub fn write_ply(
    path: &Path,
    mesh: &TriMesh,
    vertex_properties: &[(&str, &[f64])],
    vertex_colors: Option<&[[u8; 3]]>,
) -> Result<()> {
    let bytes = encode_ply(mesh, vertex_properties, vertex_colors, false)?;
    super::write_atomic(path, &bytes)
}

/// As [`write_ply`], but in the `ascii 1.0` format (each `float32` printed with the fewest
/// digits that read back to the same value).
///
/// # Errors
/// As [`write_ply`].
pub fn write_ply_ascii(
    path: &Path,
    mesh: &TriMesh,
    vertex_properties: &[(&str, &[f64])],
    vertex_colors: Option<&[[u8; 3]]>,
) -> Result<()> {
    let bytes = encode_ply(mesh, vertex_properties, vertex_colors, true)?;
    super::write_atomic(path, &bytes)
}

// ---------------------------------------------------------------------------------------------
// Header

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Ascii,
    BinaryLittleEndian,
    BinaryBigEndian,
}

/// A PLY scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    F32,
    F64,
}

impl Scalar {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "char" | "int8" => Self::I8,
            "uchar" | "uint8" => Self::U8,
            "short" | "int16" => Self::I16,
            "ushort" | "uint16" => Self::U16,
            "int" | "int32" => Self::I32,
            "uint" | "uint32" => Self::U32,
            "float" | "float32" => Self::F32,
            "double" | "float64" => Self::F64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Self::I8 | Self::U8 => 1,
            Self::I16 | Self::U16 => 2,
            Self::I32 | Self::U32 | Self::F32 => 4,
            Self::F64 => 8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::I8 => "char",
            Self::U8 => "uchar",
            Self::I16 => "short",
            Self::U16 => "ushort",
            Self::I32 => "int",
            Self::U32 => "uint",
            Self::F32 => "float",
            Self::F64 => "double",
        }
    }

    /// The value range of an integer type; `None` for floating-point types.
    fn integer_range(self) -> Option<(f64, f64)> {
        Some(match self {
            Self::I8 => (i8::MIN as f64, i8::MAX as f64),
            Self::U8 => (0.0, u8::MAX as f64),
            Self::I16 => (i16::MIN as f64, i16::MAX as f64),
            Self::U16 => (0.0, u16::MAX as f64),
            Self::I32 => (i32::MIN as f64, i32::MAX as f64),
            Self::U32 => (0.0, u32::MAX as f64),
            Self::F32 | Self::F64 => return None,
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Scalar(Scalar),
    List { count: Scalar, item: Scalar },
}

#[derive(Debug)]
struct Property {
    name: String,
    kind: Kind,
}

#[derive(Debug)]
struct Element {
    name: String,
    count: usize,
    properties: Vec<Property>,
    /// 1-based header line of the `element` line.
    line: usize,
}

#[derive(Debug)]
struct Header {
    format: Format,
    elements: Vec<Element>,
    /// Byte offset of the body.
    body_start: usize,
    /// Number of header lines (for ASCII body line numbers).
    lines: usize,
}

fn parse_header(bytes: &[u8], path: &Path) -> Result<Header> {
    let mut format = None;
    let mut elements: Vec<Element> = Vec::new();
    let mut pos = 0;
    let mut line_no = 0;
    loop {
        if pos >= bytes.len() {
            return Err(parse_error(
                path,
                "header",
                if line_no == 0 {
                    "empty file (not a PLY file)".to_string()
                } else {
                    "no `end_header` line (truncated file, or not a PLY file)".to_string()
                },
            ));
        }
        let end = bytes[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |n| pos + n);
        let raw = &bytes[pos..end];
        pos = (end + 1).min(bytes.len());
        line_no += 1;
        let at = |message: String| parse_error(path, format!("header line {line_no}"), message);
        if line_no == 1 {
            if raw.strip_suffix(b"\r").unwrap_or(raw) != b"ply" {
                return Err(at("not a PLY file (the first line must be `ply`)".into()));
            }
            continue;
        }
        let text = std::str::from_utf8(raw)
            .map_err(|_| at("not text (a binary body before `end_header`?)".into()))?;
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.first().copied() {
            None | Some("comment") | Some("obj_info") => {}
            Some("format") => {
                if format.is_some() {
                    return Err(at("a second `format` line".into()));
                }
                let [_, name, version] = words[..] else {
                    return Err(at(
                        "expected `format <ascii|binary_little_endian|binary_big_endian> 1.0`"
                            .into(),
                    ));
                };
                format = Some(match name {
                    "ascii" => Format::Ascii,
                    "binary_little_endian" => Format::BinaryLittleEndian,
                    "binary_big_endian" => Format::BinaryBigEndian,
                    other => {
                        return Err(at(format!(
                            "unknown format `{other}` (expected ascii, binary_little_endian or \
                             binary_big_endian)"
                        )))
                    }
                });
                if version != "1.0" {
                    return Err(at(format!(
                        "unsupported PLY version `{version}` (expected 1.0)"
                    )));
                }
            }
            Some("element") => {
                let [_, name, count] = words[..] else {
                    return Err(at("expected `element <name> <count>`".into()));
                };
                let count: usize = count.parse().map_err(|_| {
                    at(format!(
                        "element count `{count}` is not a non-negative integer"
                    ))
                })?;
                if elements.iter().any(|e| e.name == name) {
                    return Err(at(format!("element `{name}` is declared twice")));
                }
                elements.push(Element {
                    name: name.to_string(),
                    count,
                    properties: Vec::new(),
                    line: line_no,
                });
            }
            Some("property") => {
                let Some(element) = elements.last_mut() else {
                    return Err(at("`property` before any `element`".into()));
                };
                let scalar = |name: &str| {
                    Scalar::parse(name).ok_or_else(|| {
                        at(format!(
                            "unknown property type `{name}` (expected char, uchar, short, \
                             ushort, int, uint, float, double or int8 ... float64)"
                        ))
                    })
                };
                let (kind, name) = match words[..] {
                    [_, "list", count, item, name] => {
                        let count = scalar(count)?;
                        if count.integer_range().is_none() {
                            return Err(at(format!(
                                "list count type must be an integer type, not `{}`",
                                count.name()
                            )));
                        }
                        (
                            Kind::List {
                                count,
                                item: scalar(item)?,
                            },
                            name,
                        )
                    }
                    [_, "list", ..] => {
                        return Err(at(
                            "expected `property list <count type> <item type> <name>`".into(),
                        ))
                    }
                    [_, ty, name] => (Kind::Scalar(scalar(ty)?), name),
                    _ => return Err(at("expected `property <type> <name>`".into())),
                };
                if element.properties.iter().any(|p| p.name == name) {
                    return Err(at(format!(
                        "property `{name}` appears twice in element `{}`",
                        element.name
                    )));
                }
                element.properties.push(Property {
                    name: name.to_string(),
                    kind,
                });
            }
            Some("end_header") => break,
            Some(other) => {
                return Err(at(format!(
                    "unknown header keyword `{other}` (expected format, comment, obj_info, \
                     element, property or end_header)"
                )))
            }
        }
    }
    let format = format
        .ok_or_else(|| parse_error(path, "header", "no `format` line before `end_header`"))?;
    Ok(Header {
        format,
        elements,
        body_start: pos,
        lines: line_no,
    })
}

// ---------------------------------------------------------------------------------------------
// Body

/// Why a value could not be read.
enum Fail {
    /// The data ended.
    Truncated,
    /// ASCII: the current line has no more values.
    EndOfLine,
    /// ASCII: the line is too short for the element.
    Short {
        /// Values the element needs (a lower bound unless `exact`).
        expected: usize,
        /// Whether every list length was known.
        exact: bool,
    },
    /// ASCII: the line has values left over after the element; carries the number consumed.
    ExtraValues(usize),
    /// A value that is not valid for its type.
    Invalid(String),
}

/// A stream of PLY values, one element instance at a time.
trait Source {
    /// Starts the next element instance (ASCII: the next non-blank line).
    fn start(&mut self) -> std::result::Result<(), Fail>;
    /// Reads one value of type `ty`.
    fn value(&mut self, ty: Scalar) -> std::result::Result<f64, Fail>;
    /// Skips `n` values of type `ty` (still checking that they are there).
    fn skip(&mut self, ty: Scalar, n: usize) -> std::result::Result<(), Fail>;
    /// Whether `n` more values of type `ty` can be read in this instance.
    fn has(&self, ty: Scalar, n: usize) -> bool;
    /// Ends the instance (ASCII: checks that nothing is left on the line).
    fn finish(&mut self) -> std::result::Result<(), Fail>;
    /// Values on the current ASCII line (0 for binary).
    fn found(&self) -> usize;
    /// Where the reader is, for messages: ` (line N)` or ` (byte N)`.
    fn position(&self) -> String;
    /// Checks that nothing but whitespace (ASCII) or nothing at all (binary) is left.
    fn check_end(&mut self) -> std::result::Result<(), String>;
    /// Bytes left, to bound allocations.
    fn remaining_bytes(&self) -> usize;
}

struct BinarySource<'a> {
    data: &'a [u8],
    pos: usize,
    big_endian: bool,
    /// File offset of `data`, for messages.
    offset: usize,
}

impl<'a> BinarySource<'a> {
    fn new(data: &'a [u8], big_endian: bool, offset: usize) -> Self {
        Self {
            data,
            pos: 0,
            big_endian,
            offset,
        }
    }

    fn take<const N: usize>(&mut self) -> std::result::Result<[u8; N], Fail> {
        let bytes = self
            .data
            .get(self.pos..self.pos + N)
            .ok_or(Fail::Truncated)?;
        self.pos += N;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        if self.big_endian {
            out.reverse();
        }
        Ok(out)
    }
}

impl Source for BinarySource<'_> {
    fn start(&mut self) -> std::result::Result<(), Fail> {
        Ok(())
    }

    fn value(&mut self, ty: Scalar) -> std::result::Result<f64, Fail> {
        // `take` has already put the bytes in little-endian order.
        Ok(match ty {
            Scalar::I8 => i8::from_le_bytes(self.take()?) as f64,
            Scalar::U8 => u8::from_le_bytes(self.take()?) as f64,
            Scalar::I16 => i16::from_le_bytes(self.take()?) as f64,
            Scalar::U16 => u16::from_le_bytes(self.take()?) as f64,
            Scalar::I32 => i32::from_le_bytes(self.take()?) as f64,
            Scalar::U32 => u32::from_le_bytes(self.take()?) as f64,
            Scalar::F32 => f32::from_le_bytes(self.take()?) as f64,
            Scalar::F64 => f64::from_le_bytes(self.take()?),
        })
    }

    fn skip(&mut self, ty: Scalar, n: usize) -> std::result::Result<(), Fail> {
        if !self.has(ty, n) {
            return Err(Fail::Truncated);
        }
        self.pos += n * ty.size();
        Ok(())
    }

    fn has(&self, ty: Scalar, n: usize) -> bool {
        n.checked_mul(ty.size())
            .is_some_and(|len| len <= self.data.len() - self.pos)
    }

    fn finish(&mut self) -> std::result::Result<(), Fail> {
        Ok(())
    }

    fn found(&self) -> usize {
        0
    }

    fn position(&self) -> String {
        format!(" (byte {})", self.offset + self.pos)
    }

    fn check_end(&mut self) -> std::result::Result<(), String> {
        let left = self.data.len() - self.pos;
        if left == 0 {
            Ok(())
        } else {
            Err(format!(
                "{left} bytes of unexpected data after the last element (are the element \
                 counts in the header too small?)"
            ))
        }
    }

    fn remaining_bytes(&self) -> usize {
        self.data.len() - self.pos
    }
}

struct AsciiSource<'a> {
    data: &'a [u8],
    /// Start of the next line.
    pos: usize,
    /// 1-based file line number of the current line.
    line: usize,
    tokens: Vec<&'a [u8]>,
    next: usize,
}

impl<'a> AsciiSource<'a> {
    fn new(data: &'a [u8], header_lines: usize) -> Self {
        Self {
            data,
            pos: 0,
            line: header_lines,
            tokens: Vec::new(),
            next: 0,
        }
    }

    /// The next line that is not blank, or `None` at the end of the data.
    fn next_line(&mut self) -> Option<&'a [u8]> {
        let data: &'a [u8] = self.data;
        while self.pos < data.len() {
            let end = data[self.pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(data.len(), |n| self.pos + n);
            let line = &data[self.pos..end];
            self.pos = end + 1;
            self.line += 1;
            if line.iter().any(|b| !b.is_ascii_whitespace()) {
                return Some(line);
            }
        }
        None
    }
}

impl Source for AsciiSource<'_> {
    fn start(&mut self) -> std::result::Result<(), Fail> {
        let line = self.next_line().ok_or(Fail::Truncated)?;
        self.tokens.clear();
        self.tokens.extend(
            line.split(u8::is_ascii_whitespace)
                .filter(|t| !t.is_empty()),
        );
        self.next = 0;
        Ok(())
    }

    fn value(&mut self, ty: Scalar) -> std::result::Result<f64, Fail> {
        let token = *self.tokens.get(self.next).ok_or(Fail::EndOfLine)?;
        self.next += 1;
        let text = String::from_utf8_lossy(token);
        let value: f64 = text
            .parse()
            .map_err(|_| Fail::Invalid(format!("`{text}` is not a number")))?;
        if let Some((lo, hi)) = ty.integer_range() {
            if value.fract() != 0.0 || !(lo..=hi).contains(&value) {
                return Err(Fail::Invalid(format!(
                    "`{text}` is not a valid {}",
                    ty.name()
                )));
            }
        }
        // The declared type decides the value, as in a binary file.
        Ok(if ty == Scalar::F32 {
            value as f32 as f64
        } else {
            value
        })
    }

    fn skip(&mut self, ty: Scalar, n: usize) -> std::result::Result<(), Fail> {
        for _ in 0..n {
            self.value(ty)?;
        }
        Ok(())
    }

    fn has(&self, _ty: Scalar, n: usize) -> bool {
        n <= self.tokens.len() - self.next
    }

    fn finish(&mut self) -> std::result::Result<(), Fail> {
        if self.next < self.tokens.len() {
            Err(Fail::ExtraValues(self.next))
        } else {
            Ok(())
        }
    }

    fn found(&self) -> usize {
        self.tokens.len()
    }

    fn position(&self) -> String {
        format!(" (line {})", self.line)
    }

    fn check_end(&mut self) -> std::result::Result<(), String> {
        match self.next_line() {
            None => Ok(()),
            Some(_) => Err(format!(
                "unexpected data after the last element at line {} (are the element counts \
                 in the header too small?)",
                self.line
            )),
        }
    }

    fn remaining_bytes(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
}

/// What a property is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Coordinate(usize),
    Extra(usize),
    Indices,
    Skip,
}

fn read_body(header: &Header, mut src: impl Source, path: &Path) -> Result<LoadedMesh> {
    let at_header = |e: &Element, message: String| {
        parse_error(path, format!("header line {}", e.line), message)
    };
    let vertex = header
        .elements
        .iter()
        .find(|e| e.name == "vertex")
        .ok_or_else(|| parse_error(path, "header", "no `vertex` element"))?;
    let num_vertices = vertex.count;

    // Assign a role to every property of every element.
    let mut extra_names: Vec<String> = Vec::new();
    let mut roles: Vec<Vec<Role>> = Vec::with_capacity(header.elements.len());
    for e in &header.elements {
        let mut r = Vec::with_capacity(e.properties.len());
        for p in &e.properties {
            let role = match (e.name.as_str(), p.name.as_str(), p.kind) {
                ("vertex", "x" | "y" | "z", Kind::Scalar(_)) => {
                    Role::Coordinate((p.name.as_bytes()[0] - b'x') as usize)
                }
                ("vertex", "x" | "y" | "z", Kind::List { .. }) => {
                    return Err(at_header(
                        e,
                        format!("vertex property `{}` is a list", p.name),
                    ))
                }
                ("vertex", name, Kind::Scalar(_)) => {
                    extra_names.push(name.to_string());
                    Role::Extra(extra_names.len() - 1)
                }
                ("face", "vertex_indices" | "vertex_index", Kind::List { item, .. }) => {
                    if item.integer_range().is_none() {
                        return Err(at_header(
                            e,
                            format!("face property `{}` must hold integers", p.name),
                        ));
                    }
                    if r.contains(&Role::Indices) {
                        return Err(at_header(
                            e,
                            "face has both `vertex_indices` and `vertex_index`".into(),
                        ));
                    }
                    Role::Indices
                }
                _ => Role::Skip,
            };
            r.push(role);
        }
        if e.name == "vertex" {
            for (k, axis) in ["x", "y", "z"].iter().enumerate() {
                if !r.contains(&Role::Coordinate(k)) {
                    return Err(at_header(
                        e,
                        format!("element vertex has no property `{axis}`"),
                    ));
                }
            }
        }
        if e.name == "face" && !r.contains(&Role::Indices) {
            return Err(at_header(
                e,
                "element face has no `vertex_indices` list property".into(),
            ));
        }
        roles.push(r);
    }
    if num_vertices == 0 {
        return Err(GeometryError::EmptyMesh(format!(
            "{}: the vertex element has 0 vertices",
            path.display()
        )));
    }

    let mut positions: Vec<Point3<f64>> = Vec::new();
    let mut extras: Vec<Vec<f64>> = vec![Vec::new(); extra_names.len()];
    let mut faces: Vec<[usize; 3]> = Vec::new();
    let mut corners: Vec<i64> = Vec::new();

    for (e, roles) in header.elements.iter().zip(&roles) {
        if e.properties.is_empty() {
            continue; // nothing stored per instance
        }
        // Never reserve more than the remaining bytes could hold.
        let cap = e.count.min(src.remaining_bytes());
        if e.name == "vertex" {
            positions.reserve_exact(cap);
            for x in &mut extras {
                x.reserve_exact(cap);
            }
        } else if e.name == "face" {
            faces.reserve(cap);
        }
        for i in 0..e.count {
            let at = |message: String| parse_error(path, format!("{} {i}", e.name), message);
            let mut xyz = [0.0; 3];
            corners.clear();
            let result = read_instance(&mut src, e, roles, &mut xyz, &mut extras, &mut corners);
            if let Err(fail) = result {
                let position = src.position();
                return Err(at(match fail {
                    Fail::Truncated => format!(
                        "truncated: file ends in element {} {i} (the header declares {})",
                        e.name, e.count
                    ),
                    Fail::Short { expected, exact } => format!(
                        "expected {}{expected} values, found {}{position}",
                        if exact { "" } else { "at least " },
                        src.found()
                    ),
                    Fail::EndOfLine => format!("line too short{position}"),
                    Fail::ExtraValues(n) => {
                        format!("expected {n} values, found {}{position}", src.found())
                    }
                    Fail::Invalid(m) => format!("{m}{position}"),
                }));
            }
            if e.name == "vertex" {
                for (k, c) in xyz.iter().enumerate() {
                    if !c.is_finite() {
                        return Err(at(format!(
                            "coordinate {} is {}{}",
                            ["x", "y", "z"][k],
                            if c.is_nan() { "NaN" } else { "infinite" },
                            src.position()
                        )));
                    }
                }
                positions.push(Point3::from(xyz));
            } else if e.name == "face" {
                if corners.len() < 3 {
                    return Err(at(format!(
                        "face has {} vertices (need at least 3){}",
                        corners.len(),
                        src.position()
                    )));
                }
                if let Some(&bad) = corners
                    .iter()
                    .find(|&&c| c < 0 || c as u64 >= num_vertices as u64)
                {
                    return Err(at(if bad < 0 {
                        format!("negative vertex index {bad}{}", src.position())
                    } else {
                        format!(
                            "index {bad} out of range ({num_vertices} vertices){}",
                            src.position()
                        )
                    }));
                }
                let c = |k: usize| corners[k] as usize;
                for k in 1..corners.len() - 1 {
                    faces.push([c(0), c(k), c(k + 1)]);
                }
            }
        }
    }
    src.check_end()
        .map_err(|m| parse_error(path, "end of data", m))?;

    let mesh = TriMesh::new(positions, faces)?;
    let vertex_properties = extra_names.into_iter().zip(extras).collect();
    Ok(LoadedMesh {
        mesh,
        vertex_properties,
    })
}

/// Reads one element instance. Face corners go to `corners`.
fn read_instance(
    src: &mut impl Source,
    e: &Element,
    roles: &[Role],
    xyz: &mut [f64; 3],
    extras: &mut [Vec<f64>],
    corners: &mut Vec<i64>,
) -> std::result::Result<(), Fail> {
    src.start()?;
    // Values this instance needs: one per scalar and one length per list, plus the items of
    // the lists read so far. Exact once every list length is known.
    let mut needed = e.properties.len();
    let mut unread_lists = e
        .properties
        .iter()
        .filter(|p| matches!(p.kind, Kind::List { .. }))
        .count();
    for (p, &role) in e.properties.iter().zip(roles) {
        let short = |needed: usize, unread_lists: usize| {
            move |fail| match fail {
                Fail::EndOfLine => Fail::Short {
                    expected: needed,
                    exact: unread_lists == 0,
                },
                other => other,
            }
        };
        match (p.kind, role) {
            (Kind::Scalar(ty), role) => {
                let v = src.value(ty).map_err(short(needed, unread_lists))?;
                match role {
                    Role::Coordinate(k) => xyz[k] = v,
                    Role::Extra(k) => extras[k].push(v),
                    _ => {}
                }
            }
            (Kind::List { count, item }, role) => {
                let n = src.value(count).map_err(short(needed, unread_lists))?;
                if n < 0.0 {
                    return Err(Fail::Invalid(format!(
                        "list `{}` has negative length {n}",
                        p.name
                    )));
                }
                // Integral and at most u32::MAX: checked by the source for integer types.
                let n = n as usize;
                unread_lists -= 1;
                needed += n;
                if role == Role::Indices && src.has(item, n) {
                    for _ in 0..n {
                        corners.push(src.value(item)? as i64);
                    }
                } else {
                    // Also the path for a bogus length: fails without looping or allocating.
                    src.skip(item, n).map_err(short(needed, unread_lists))?;
                }
            }
        }
    }
    src.finish()
}

// ---------------------------------------------------------------------------------------------
// Writer

fn encode_ply(
    mesh: &TriMesh,
    vertex_properties: &[(&str, &[f64])],
    vertex_colors: Option<&[[u8; 3]]>,
    ascii: bool,
) -> Result<Vec<u8>> {
    let nv = mesh.num_vertices();
    if nv > i32::MAX as usize {
        return Err(GeometryError::InvalidArgument(format!(
            "PLY stores vertex indices as int: {nv} vertices is too many"
        )));
    }
    let mut reserved: Vec<&str> = vec!["x", "y", "z"];
    if vertex_colors.is_some() {
        reserved.extend(["red", "green", "blue"]);
    }
    for (k, (name, values)) in vertex_properties.iter().enumerate() {
        if values.len() != nv {
            return Err(GeometryError::ShapeMismatch {
                what: format!("vertex property `{name}`"),
                expected: nv,
                got: values.len(),
            });
        }
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_graphic()) {
            return Err(GeometryError::InvalidArgument(format!(
                "vertex property name `{name}` must be non-empty printable ASCII without spaces"
            )));
        }
        if reserved.contains(name) || vertex_properties[..k].iter().any(|(n, _)| n == name) {
            return Err(GeometryError::InvalidArgument(format!(
                "vertex property name `{name}` is used twice (x y z, and red green blue with \
                 colours, are taken)"
            )));
        }
        if let Some(i) = values
            .iter()
            .position(|v| v.is_finite() && v.abs() > f32::MAX as f64)
        {
            return Err(GeometryError::InvalidArgument(format!(
                "vertex property `{name}`, vertex {i}: {} does not fit in float32",
                values[i]
            )));
        }
    }
    if let Some(colors) = vertex_colors {
        if colors.len() != nv {
            return Err(GeometryError::ShapeMismatch {
                what: "vertex colours".into(),
                expected: nv,
                got: colors.len(),
            });
        }
    }
    if let Some(i) = mesh.positions().iter().position(|p| {
        p.iter()
            .any(|c| !c.is_finite() || c.abs() > f32::MAX as f64)
    }) {
        return Err(GeometryError::InvalidArgument(format!(
            "vertex {i}: a coordinate does not fit in float32"
        )));
    }

    let mut out = Vec::with_capacity(
        64 + nv * (12 + 4 * vertex_properties.len() + 3) + mesh.num_faces() * 13,
    );
    let format = if ascii {
        "ascii"
    } else {
        "binary_little_endian"
    };
    let mut header = format!(
        "ply\nformat {format} 1.0\ncomment written by meshflow-geometry\nelement vertex {nv}\n\
         property float x\nproperty float y\nproperty float z\n"
    );
    for (name, _) in vertex_properties {
        header += &format!("property float {name}\n");
    }
    if vertex_colors.is_some() {
        header += "property uchar red\nproperty uchar green\nproperty uchar blue\n";
    }
    header += &format!(
        "element face {}\nproperty list uchar int vertex_indices\nend_header\n",
        mesh.num_faces()
    );
    out.extend_from_slice(header.as_bytes());

    for (i, p) in mesh.positions().iter().enumerate() {
        let floats = p
            .iter()
            .copied()
            .chain(vertex_properties.iter().map(|(_, v)| v[i]));
        if ascii {
            let mut line = String::new();
            for v in floats {
                line += &format!("{} ", v as f32);
            }
            if let Some(c) = vertex_colors {
                line += &format!("{} {} {} ", c[i][0], c[i][1], c[i][2]);
            }
            line.pop();
            line.push('\n');
            out.extend_from_slice(line.as_bytes());
        } else {
            for v in floats {
                out.extend_from_slice(&(v as f32).to_le_bytes());
            }
            if let Some(c) = vertex_colors {
                out.extend_from_slice(&c[i]);
            }
        }
    }
    for f in mesh.faces() {
        if ascii {
            out.extend_from_slice(format!("3 {} {} {}\n", f[0], f[1], f[2]).as_bytes());
        } else {
            out.push(3);
            for &v in f {
                out.extend_from_slice(&(v as i32).to_le_bytes());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One triangle in the `z = 0` plane.
    fn triangle() -> TriMesh {
        TriMesh::new(
            vec![
                Point3::origin(),
                Point3::new(1.0, 0.0, 0.0),
                Point3::new(0.0, 1.0, 0.0),
            ],
            vec![[0, 1, 2]],
        )
        .unwrap()
    }

    fn parse(bytes: &[u8]) -> Result<LoadedMesh> {
        parse_ply(bytes, Path::new("test.ply"))
    }

    fn parse_err(bytes: &[u8]) -> (String, String) {
        match parse(bytes).unwrap_err() {
            GeometryError::Parse {
                location, message, ..
            } => (location, message),
            other => panic!("expected a parse error, got {other}"),
        }
    }

    /// One value of a hand-written PLY body, written independently of the reader.
    fn encode(out: &mut Vec<u8>, format: &str, ty: &str, v: f64) {
        if format == "ascii" {
            out.extend_from_slice(format!("{v} ").as_bytes());
            return;
        }
        let mut b: Vec<u8> = match ty {
            "char" | "int8" => (v as i8).to_le_bytes().to_vec(),
            "uchar" | "uint8" => (v as u8).to_le_bytes().to_vec(),
            "short" | "int16" => (v as i16).to_le_bytes().to_vec(),
            "ushort" | "uint16" => (v as u16).to_le_bytes().to_vec(),
            "int" | "int32" => (v as i32).to_le_bytes().to_vec(),
            "uint" | "uint32" => (v as u32).to_le_bytes().to_vec(),
            "float" | "float32" => (v as f32).to_le_bytes().to_vec(),
            "double" | "float64" => v.to_le_bytes().to_vec(),
            _ => unreachable!("{ty}"),
        };
        if format == "binary_big_endian" {
            b.reverse();
        }
        out.extend_from_slice(&b);
    }

    /// A PLY with every scalar type, aliases, lists on several elements, extra elements before
    /// and between `vertex` and `face`, a quad, comments and obj_info, in the given format.
    fn sample(format: &str) -> Vec<u8> {
        let mut out = format!(
            "ply\nformat {format} 1.0\ncomment hand made\nobj_info any text here\n\
             element material 2\nproperty uchar ambient_red\nproperty float32 shininess\n\
             element vertex 5\nproperty double x\nproperty float32 y\nproperty float z\n\
             property uchar red\nproperty char tilt\nproperty short t16\nproperty ushort u16\n\
             property int32 i32\nproperty uint u32\nproperty list uint8 int16 neighbours\n\
             property float64 confidence\n\
             element edge 2\nproperty int vertex1\nproperty int vertex2\n\
             element face 2\nproperty uchar flags\nproperty list uint8 uint32 vertex_indices\n\
             property float quality\n\
             end_header\n"
        )
        .into_bytes();
        let ascii = format == "ascii";
        let newline = |out: &mut Vec<u8>| {
            if ascii {
                out.push(b'\n');
            }
        };
        for m in 0..2 {
            encode(&mut out, format, "uchar", 200.0 + m as f64);
            encode(&mut out, format, "float32", 0.5);
            newline(&mut out);
        }
        let xyz = [
            [0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [1.0, 1.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.5, 0.5, 1.25],
        ];
        for (i, p) in xyz.iter().enumerate() {
            let fi = i as f64;
            encode(&mut out, format, "double", p[0]);
            encode(&mut out, format, "float32", p[1]);
            encode(&mut out, format, "float", p[2]);
            encode(&mut out, format, "uchar", 250.0 + fi);
            encode(&mut out, format, "char", -100.0 - fi);
            encode(&mut out, format, "short", -30000.0 + fi);
            encode(&mut out, format, "ushort", 60000.0 + fi);
            encode(&mut out, format, "int32", -2_000_000_000.0 + fi);
            encode(&mut out, format, "uint", 4_000_000_000.0 + fi);
            encode(&mut out, format, "uint8", i as f64); // list of i neighbours
            for k in 0..i {
                encode(&mut out, format, "int16", k as f64);
            }
            encode(&mut out, format, "float64", 0.25 * fi);
            newline(&mut out);
        }
        for (a, b) in [(0.0, 1.0), (1.0, 2.0)] {
            encode(&mut out, format, "int", a);
            encode(&mut out, format, "int", b);
            newline(&mut out);
        }
        for face in [&[0.0, 1.0, 2.0, 3.0][..], &[2.0, 4.0, 3.0]] {
            encode(&mut out, format, "uchar", 7.0);
            encode(&mut out, format, "uint8", face.len() as f64);
            for &v in face {
                encode(&mut out, format, "uint32", v);
            }
            encode(&mut out, format, "float", 0.75);
            newline(&mut out);
        }
        out
    }

    #[test]
    fn ascii_and_binary_formats_agree() {
        let ascii = parse(&sample("ascii")).unwrap();
        let le = parse(&sample("binary_little_endian")).unwrap();
        let be = parse(&sample("binary_big_endian")).unwrap();
        assert_eq!(ascii, le);
        assert_eq!(ascii, be);

        let m = &ascii.mesh;
        assert_eq!(m.num_vertices(), 5);
        assert_eq!(
            m.faces(),
            &[[0, 1, 2], [0, 2, 3], [2, 4, 3]],
            "quad fan-triangulated"
        );
        assert_eq!(m.positions()[4], Point3::new(0.5, 0.5, 1.25));
        let names: Vec<&str> = ascii
            .vertex_properties
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(
            names,
            ["red", "tilt", "t16", "u16", "i32", "u32", "confidence"]
        );
        assert_eq!(
            ascii.property("red").unwrap(),
            &[250.0, 251.0, 252.0, 253.0, 254.0]
        );
        assert_eq!(ascii.property("tilt").unwrap()[4], -104.0);
        assert_eq!(ascii.property("t16").unwrap()[0], -30000.0);
        assert_eq!(ascii.property("u16").unwrap()[1], 60001.0);
        assert_eq!(ascii.property("i32").unwrap()[2], -1_999_999_998.0);
        assert_eq!(ascii.property("u32").unwrap()[3], 4_000_000_003.0);
        assert_eq!(ascii.property("confidence").unwrap()[4], 1.0);
    }

    #[test]
    fn crlf_header_and_blank_lines_are_accepted() {
        let text = "ply\r\nformat ascii 1.0\r\nelement vertex 3\r\nproperty float x\r\n\
                    property float y\r\nproperty float z\r\nelement face 1\r\n\
                    property list uchar int vertex_index\r\nend_header\r\n\
                    0 0 0\r\n1 0 0\r\n\r\n0 1 0\r\n3 0 1 2\r\n\r\n";
        let loaded = parse(text.as_bytes()).unwrap();
        assert_eq!(loaded.mesh.faces(), &[[0, 1, 2]]);
        // A point cloud (no face element) is fine.
        let cloud = "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\n\
                     property float z\nend_header\n1 2 3";
        assert_eq!(parse(cloud.as_bytes()).unwrap().mesh.num_faces(), 0);
    }

    const HEAD: &str = "ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\n\
                        property float y\nproperty float z\nproperty float c\nelement face 2\n\
                        property list uchar int vertex_indices\nend_header\n";
    const VERTS: &str = "0 0 0 1\n1 0 0 1\n1 1 0 1\n0 1 0 1\n";

    #[test]
    fn errors_name_the_element_or_header_line() {
        let h = |body: &str| format!("{HEAD}{body}");
        let cases: Vec<(String, &str, &str)> = vec![
            ("plx\n".into(), "header line 1", "not a PLY file"),
            ("".into(), "header", "empty"),
            (
                "ply\nformat ascii 1.0\nelement vertex 1\n".into(),
                "header",
                "end_header",
            ),
            (
                "ply\nformat foo 1.0\nend_header\n".into(),
                "header line 2",
                "unknown format",
            ),
            (
                "ply\nformat ascii 2.0\nend_header\n".into(),
                "header line 2",
                "version",
            ),
            (
                "ply\nformat ascii 1.0\nproperty float x\n".into(),
                "header line 3",
                "before any",
            ),
            (
                "ply\nformat ascii 1.0\nelement vertex 1\nproperty float16 x\n".into(),
                "header line 4",
                "unknown property type",
            ),
            (
                "ply\nformat ascii 1.0\nelement vertex -3\n".into(),
                "header line 3",
                "count",
            ),
            (
                "ply\nformat ascii 1.0\nelement vertex 1\nproperty list float int x\n".into(),
                "header line 4",
                "integer",
            ),
            (
                "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float x\n"
                    .into(),
                "header line 5",
                "twice",
            ),
            (
                "ply\nformat ascii 1.0\nbogus\n".into(),
                "header line 3",
                "unknown header keyword",
            ),
            (
                "ply\nelement vertex 0\nend_header\n".into(),
                "header",
                "format",
            ),
            (
                "ply\nformat ascii 1.0\nelement face 0\nproperty list uchar int vertex_indices\n\
              end_header\n"
                    .into(),
                "header",
                "no `vertex` element",
            ),
            (
                "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\n\
              end_header\n0 0\n"
                    .into(),
                "header line 3",
                "no property `z`",
            ),
            (
                "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\n\
              property float z\nelement face 1\nproperty list uchar float vertex_indices\n\
              end_header\n"
                    .into(),
                "header line 7",
                "integers",
            ),
            (
                "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\n\
              property float z\nelement face 1\nproperty uchar n\nend_header\n"
                    .into(),
                "header line 7",
                "vertex_indices",
            ),
            (
                h("0 0 0 1\n1 0 0\n"),
                "vertex 1",
                "expected 4 values, found 3 (line 12)",
            ),
            (
                h("0 0 0 1\n1 0 0 1 7\n"),
                "vertex 1",
                "expected 4 values, found 5",
            ),
            (
                h("0 0 0 1\n1 0 0 1\n1 nan 0 1\n"),
                "vertex 2",
                "coordinate y is NaN",
            ),
            (h("0 0 0 1\n1 0 0 1\n1 1 -inf 1\n"), "vertex 2", "infinite"),
            (h("0 0 0 1\n1 0 0 x\n"), "vertex 1", "`x` is not a number"),
            (
                h(&format!("{VERTS}3 0 1 2\n3 0 2 4\n")),
                "face 1",
                "index 4 out of range (4 vertices)",
            ),
            (
                h(&format!("{VERTS}3 0 1 2\n3 0 -1 2\n")),
                "face 1",
                "negative vertex index -1",
            ),
            (h(&format!("{VERTS}2 0 1\n")), "face 0", "2 vertices"),
            (
                h(&format!("{VERTS}3 0 1\n")),
                "face 0",
                "expected 4 values, found 3",
            ),
            (
                h(&format!("{VERTS}3 0 1.5 2\n")),
                "face 0",
                "not a valid int",
            ),
            (
                h(&format!("{VERTS}300 0 1 2\n")),
                "face 0",
                "not a valid uchar",
            ),
            (
                h(&format!("{VERTS}3 0 1 2\n")),
                "face 1",
                "truncated: file ends in element face 1",
            ),
            (h("0 0 0 1\n"), "vertex 1", "truncated"),
            (
                h(&format!("{VERTS}3 0 1 2\n3 0 2 3\n3 0 1 2\n")),
                "end of data",
                "line 17",
            ),
        ];
        for (text, location, needle) in &cases {
            let (loc, msg) = parse_err(text.as_bytes());
            assert_eq!(&loc, location, "{text:?}: {msg}");
            assert!(msg.contains(needle), "{text:?}: `{msg}` lacks `{needle}`");
        }
        // Binary: truncation and trailing bytes.
        let bin = sample("binary_little_endian");
        let (loc, msg) = parse_err(&bin[..bin.len() - 3]);
        assert_eq!(
            (loc.as_str(), msg.contains("truncated")),
            ("face 1", true),
            "{msg}"
        );
        let mut longer = bin.clone();
        longer.push(0);
        assert!(parse_err(&longer).1.contains("1 bytes of unexpected data"));
        // No vertices at all.
        let empty = "ply\nformat ascii 1.0\nelement vertex 0\nproperty float x\nproperty float y\n\
                     property float z\nend_header\n";
        assert!(matches!(
            parse(empty.as_bytes()).unwrap_err(),
            GeometryError::EmptyMesh(_)
        ));
        // The display form names the file, the place and the problem.
        let err = parse(h("0 0 0 1\n1 0 0\n").as_bytes())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "test.ply: vertex 1: expected 4 values, found 3 (line 12)"
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mesh = triangle();
        let bin = encode_ply(
            &mesh,
            &[("c", &[1.0, 2.0, 3.0])],
            Some(&[[1, 2, 3]; 3]),
            false,
        )
        .unwrap();
        assert!(parse(&bin).is_ok());
        for cut in 0..bin.len() {
            assert!(parse(&bin[..cut]).is_err(), "prefix of {cut} bytes parsed");
        }
        for format in ["ascii", "binary_little_endian", "binary_big_endian"] {
            let full = sample(format);
            // An ASCII prefix that only shortens the last line can still be a valid file.
            let must_fail = if format == "ascii" {
                full[..full.len() - 1]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .unwrap()
                    + 1
            } else {
                full.len()
            };
            for cut in 0..full.len() {
                let result = parse(&full[..cut]);
                assert!(
                    cut >= must_fail || result.is_err(),
                    "{format}: {cut}-byte prefix parsed"
                );
            }
            // Every single-byte change, to a few nasty values.
            for at in 0..full.len() {
                for b in [0u8, b'9', 0xff, b'\n', b'-'] {
                    let mut bytes = full.clone();
                    bytes[at] = b;
                    let _ = parse(&bytes);
                }
            }
        }
        // Huge counts with tiny bodies must fail fast, without allocating.
        let huge = "ply\nformat binary_little_endian 1.0\nelement vertex 18446744073709551615\n\
                    property float x\nproperty float y\nproperty float z\nelement face 9999999999\n\
                    property list uint int vertex_indices\nend_header\n";
        assert!(parse(huge.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("truncated"));
        let mut list =
            b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\n\
                        property float y\nproperty float z\nelement face 1\n\
                        property list uint int vertex_indices\nend_header\n"
                .to_vec();
        list.extend_from_slice(&[0u8; 36]);
        list.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&list).unwrap_err().to_string().contains("truncated"));
        // Random garbage behind a plausible header.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..300 {
            let mut bytes = if round % 2 == 0 {
                sample("ascii")
            } else {
                sample("binary_big_endian")
            };
            let header_end = bytes
                .windows(11)
                .position(|w| w == b"end_header\n")
                .unwrap()
                + 11;
            bytes.truncate(header_end);
            for _ in 0..(round * 7 % 400) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bytes.push((state >> 32) as u8);
            }
            let _ = parse(&bytes);
        }
    }

    #[test]
    fn write_then_read_round_trips() {
        let positions = vec![
            Point3::new(0.1, -0.2, 0.3),
            Point3::new(1.0e-3, 2.5, -7.125),
            Point3::new(-0.0, 1.0 / 3.0, 123456.789),
            Point3::new(3.0, 1.0, 4.0),
        ];
        let mesh = TriMesh::new(positions, vec![[0, 1, 2], [0, 2, 3], [3, 2, 1]]).unwrap();
        let confidence = [0.9, 0.1, f64::NAN, 1.0 / 7.0];
        let intensity = [0.5, -1.0, 2.0, 1e-20];
        let colors = [[255u8, 0, 0], [0, 255, 0], [0, 0, 255], [12, 34, 56]];
        let dir = std::env::temp_dir().join(format!("meshflow-ply-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let props: [(&str, &[f64]); 2] = [("confidence", &confidence), ("intensity", &intensity)];
        let f32_round = |v: f64| v as f32 as f64;
        for ascii in [false, true] {
            let path = dir.join(if ascii {
                "round_ascii.ply"
            } else {
                "round.ply"
            });
            for _ in 0..2 {
                // The second pass overwrites the first file.
                if ascii {
                    write_ply_ascii(&path, &mesh, &props, Some(&colors)).unwrap();
                } else {
                    write_ply(&path, &mesh, &props, Some(&colors)).unwrap();
                }
            }
            let back = read_ply(&path).unwrap();
            assert_eq!(back.mesh.faces(), mesh.faces());
            for (p, q) in back.mesh.positions().iter().zip(mesh.positions()) {
                assert_eq!(*p, q.map(f32_round), "ascii = {ascii}");
            }
            let names: Vec<&str> = back
                .vertex_properties
                .iter()
                .map(|(n, _)| n.as_str())
                .collect();
            assert_eq!(names, ["confidence", "intensity", "red", "green", "blue"]);
            for (name, values) in props {
                let got = back.property(name).unwrap();
                for (g, v) in got.iter().zip(values) {
                    assert!(
                        *g == f32_round(*v) || (g.is_nan() && v.is_nan()),
                        "{name}: {g} {v}"
                    );
                }
            }
            assert_eq!(back.property("green").unwrap(), &[0.0, 255.0, 0.0, 34.0]);
            // Without properties or colours.
            write_ply(&path, &mesh, &[], None).unwrap();
            assert!(read_ply(&path).unwrap().vertex_properties.is_empty());
        }
        // Atomic writes leave no temporary files behind.
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writer_rejects_bad_arguments() {
        let mesh = triangle();
        let short = [1.0, 2.0];
        let ok = [1.0, 2.0, 3.0];
        let big = [1.0, 1e300, 3.0];
        let p = Path::new("/nonexistent-dir-meshflow/x.ply");
        assert!(matches!(
            write_ply(p, &mesh, &[("c", &short)], None).unwrap_err(),
            GeometryError::ShapeMismatch {
                expected: 3,
                got: 2,
                ..
            }
        ));
        assert!(matches!(
            write_ply(p, &mesh, &[], Some(&[[0, 0, 0]])).unwrap_err(),
            GeometryError::ShapeMismatch { .. }
        ));
        for bad in [
            vec![("x", &ok[..])],
            vec![("two words", &ok[..])],
            vec![("", &ok[..])],
            vec![("c", &ok[..]), ("c", &ok[..])],
            vec![("c", &big[..])],
        ] {
            assert!(matches!(
                write_ply(p, &mesh, &bad, None).unwrap_err(),
                GeometryError::InvalidArgument(_)
            ));
        }
        assert!(matches!(
            write_ply(p, &mesh, &[("red", &ok[..])], Some(&[[0, 0, 0]; 3])).unwrap_err(),
            GeometryError::InvalidArgument(_)
        ));
        // A directory that does not exist is an I/O error naming the file.
        let err = write_ply(p, &mesh, &[("red", &ok[..])], None).unwrap_err();
        assert!(matches!(err, GeometryError::Io { .. }) && err.to_string().contains("x.ply"));
    }

    #[test]
    fn stanford_bunny_plys() {
        let Some(dir) = crate::io::require_shared_data() else {
            return;
        };
        let dir = dir.join("bunny");
        for (file, v, f) in [
            ("bun_zipper_res4.ply", 453, 948),
            ("bun_zipper_res3.ply", 1889, 3851),
            ("bun_zipper.ply", 35947, 69451),
        ] {
            let loaded = read_ply(&dir.join(file)).unwrap();
            assert_eq!(loaded.mesh.num_vertices(), v, "{file}");
            assert_eq!(loaded.mesh.num_faces(), f, "{file}");
            let names: Vec<&str> = loaded
                .vertex_properties
                .iter()
                .map(|(n, _)| n.as_str())
                .collect();
            assert_eq!(names, ["confidence", "intensity"], "{file}");
            let (lo, hi) = loaded.mesh.bounding_box();
            // Data README: bbox about [-0.095, 0.033, -0.062]..[0.061, 0.187, 0.059].
            assert!(
                (lo.x + 0.095).abs() < 0.003 && (hi.y - 0.187).abs() < 0.006,
                "{file}"
            );
        }
        // The first vertex of res3, as printed in the file, as `float`s.
        let res3 = read_ply(&dir.join("bun_zipper_res3.ply")).unwrap();
        let first = Point3::new(-0.0369122f32, 0.127512, 0.00276757).cast::<f64>();
        assert_eq!(res3.mesh.positions()[0], first);
        assert_eq!(res3.property("confidence").unwrap()[0], 0.850855f32 as f64);
        assert_eq!(res3.property("intensity").unwrap()[0], 0.5);
    }
}

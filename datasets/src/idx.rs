//! IDX files (the MNIST format), raw or gzip-compressed.
//!
//! An IDX file is a 4-byte magic `0x00 0x00 <type> <ndims>`, then `ndims` big-endian `u32`
//! dimensions, then the elements big-endian in row-major order. Types: `0x08` u8, `0x09` i8,
//! `0x0B` i16, `0x0C` i32, `0x0D` f32, `0x0E` f64. MNIST images are `0x00000803` (u8, 3-d:
//! `[n, 28, 28]`) and labels `0x00000801` (u8, 1-d: `[n]`).
//!
//! Compression is detected from the content (gzip magic `1f 8b`), not the file name.
//!
//! ```no_run
//! use meshflow_datasets::idx::read_mnist;
//! # fn main() -> meshflow_datasets::Result<()> {
//! let (images, labels) = read_mnist(
//!     "mnist/train-images-idx3-ubyte.gz",
//!     "mnist/train-labels-idx1-ubyte.gz",
//! )?;
//! assert_eq!(images.shape, [60000, 28, 28]);
//! assert_eq!(labels.shape, [60000]);
//! # Ok(()) }
//! ```

use crate::array::shape_len;
use crate::{DatasetError, NdArray, Result};
use std::io::Read;
use std::path::Path;

/// A typed array read from an IDX file.
#[derive(Debug, Clone, PartialEq)]
pub enum IdxArray {
    /// Type code `0x08`.
    U8(NdArray<u8>),
    /// Type code `0x09`.
    I8(NdArray<i8>),
    /// Type code `0x0B`.
    I16(NdArray<i16>),
    /// Type code `0x0C`.
    I32(NdArray<i32>),
    /// Type code `0x0D`.
    F32(NdArray<f32>),
    /// Type code `0x0E`.
    F64(NdArray<f64>),
}

impl IdxArray {
    /// The shape, outermost dimension first.
    pub fn shape(&self) -> &[usize] {
        match self {
            IdxArray::U8(a) => &a.shape,
            IdxArray::I8(a) => &a.shape,
            IdxArray::I16(a) => &a.shape,
            IdxArray::I32(a) => &a.shape,
            IdxArray::F32(a) => &a.shape,
            IdxArray::F64(a) => &a.shape,
        }
    }

    /// Converts every element to `f64` (exact for all IDX types).
    pub fn to_f64(&self) -> NdArray<f64> {
        match self {
            IdxArray::U8(a) => a.map(|&v| f64::from(v)),
            IdxArray::I8(a) => a.map(|&v| f64::from(v)),
            IdxArray::I16(a) => a.map(|&v| f64::from(v)),
            IdxArray::I32(a) => a.map(|&v| f64::from(v)),
            IdxArray::F32(a) => a.map(|&v| f64::from(v)),
            IdxArray::F64(a) => a.clone(),
        }
    }

    /// The array if its element type is `u8` (as in MNIST).
    pub fn into_u8(self) -> Option<NdArray<u8>> {
        match self {
            IdxArray::U8(a) => Some(a),
            _ => None,
        }
    }
}

/// MNIST image files: u8, 3 dimensions.
pub const MNIST_IMAGES_MAGIC: u32 = 0x0000_0803;
/// MNIST label files: u8, 1 dimension.
pub const MNIST_LABELS_MAGIC: u32 = 0x0000_0801;

fn format_err(path: &Path, location: &str, message: impl Into<String>) -> DatasetError {
    DatasetError::Format {
        path: path.to_path_buf(),
        location: location.to_string(),
        message: message.into(),
    }
}

fn io_err(path: &Path, source: std::io::Error) -> DatasetError {
    DatasetError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads from `r` until `buf` is full or the stream ends; returns the number of bytes read.
/// Decompression errors (corrupt gzip) become format errors.
fn read_full(r: &mut impl Read, buf: &mut [u8], path: &Path, loc: &str) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::InvalidInput
                    || e.kind() == std::io::ErrorKind::InvalidData
                    || e.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                return Err(format_err(path, loc, format!("corrupt gzip stream: {e}")))
            }
            Err(e) => return Err(io_err(path, e)),
        }
    }
    Ok(n)
}

/// Parses an IDX stream (already decompressed). `path` is used in messages only.
pub fn read_idx_from(mut r: impl Read, path: &Path) -> Result<IdxArray> {
    let mut magic = [0u8; 4];
    if read_full(&mut r, &mut magic, path, "header")? < 4 {
        return Err(format_err(
            path,
            "header",
            "file ends inside the 4-byte magic",
        ));
    }
    if magic[0] != 0 || magic[1] != 0 {
        return Err(format_err(
            path,
            "header",
            format!(
                "not an IDX file: magic {:#010x} should start with two zero bytes",
                u32::from_be_bytes(magic)
            ),
        ));
    }
    let (code, ndims) = (magic[2], usize::from(magic[3]));
    let size = match code {
        0x08 | 0x09 => 1,
        0x0B => 2,
        0x0C | 0x0D => 4,
        0x0E => 8,
        _ => {
            return Err(format_err(
                path,
                "header",
                format!(
                    "unknown IDX element type {code:#04x} in magic {:#010x}",
                    u32::from_be_bytes(magic)
                ),
            ))
        }
    };
    let mut dims_raw = vec![0u8; 4 * ndims];
    if read_full(&mut r, &mut dims_raw, path, "header")? < dims_raw.len() {
        return Err(format_err(
            path,
            "header",
            format!("file ends inside the {ndims} dimension sizes"),
        ));
    }
    let shape: Vec<usize> = dims_raw
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let need = shape_len(&shape)
        .and_then(|n| n.checked_mul(size))
        .ok_or_else(|| format_err(path, "header", format!("shape {shape:?} overflows")))?;
    // Read at most `need` bytes; the buffer grows with the data actually present, so a lying
    // header cannot force a huge allocation.
    let mut data = Vec::new();
    (&mut r)
        .take(need as u64)
        .read_to_end(&mut data)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidInput
            | std::io::ErrorKind::InvalidData
            | std::io::ErrorKind::UnexpectedEof => {
                format_err(path, "data", format!("corrupt gzip stream: {e}"))
            }
            _ => io_err(path, e),
        })?;
    if data.len() < need {
        return Err(format_err(
            path,
            "data",
            format!(
                "truncated: shape {shape:?} needs {need} data bytes but only {} are present",
                data.len()
            ),
        ));
    }
    let mut extra = [0u8; 1];
    if read_full(&mut r, &mut extra, path, "data")? != 0 {
        return Err(format_err(
            path,
            "data",
            format!("bytes follow the {need} data bytes of shape {shape:?} (count mismatch)"),
        ));
    }
    fn conv<T, const N: usize>(d: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
        d.chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                f(a)
            })
            .collect()
    }
    let arr = |v| NdArray {
        shape: shape.clone(),
        data: v,
    };
    Ok(match code {
        0x08 => IdxArray::U8(arr(data)),
        0x09 => IdxArray::I8(NdArray {
            shape: shape.clone(),
            data: conv(&data, i8::from_be_bytes),
        }),
        0x0B => IdxArray::I16(NdArray {
            shape: shape.clone(),
            data: conv(&data, i16::from_be_bytes),
        }),
        0x0C => IdxArray::I32(NdArray {
            shape: shape.clone(),
            data: conv(&data, i32::from_be_bytes),
        }),
        0x0D => IdxArray::F32(NdArray {
            shape: shape.clone(),
            data: conv(&data, f32::from_be_bytes),
        }),
        _ => IdxArray::F64(NdArray {
            shape: shape.clone(),
            data: conv(&data, f64::from_be_bytes),
        }),
    })
}

/// Reads an IDX file, raw or gzip-compressed (detected from the first two bytes).
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let mut f = std::io::BufReader::new(std::fs::File::open(path).map_err(|e| io_err(path, e))?);
    let mut head = [0u8; 2];
    let n = read_full(&mut f, &mut head, path, "header")?;
    let start = std::io::Cursor::new(head[..n].to_vec()).chain(f);
    if n == 2 && head == [0x1f, 0x8b] {
        read_idx_from(flate2::read::MultiGzDecoder::new(start), path)
    } else {
        read_idx_from(start, path)
    }
}

/// Reads an IDX file and checks its magic number (e.g. [`MNIST_IMAGES_MAGIC`]), returning
/// the `u8` array.
fn read_u8_with_magic(path: &Path, magic: u32, what: &str) -> Result<NdArray<u8>> {
    let a = read_idx(path)?;
    let ndims = a.shape().len();
    let code = match &a {
        IdxArray::U8(_) => 0x08u32,
        IdxArray::I8(_) => 0x09,
        IdxArray::I16(_) => 0x0B,
        IdxArray::I32(_) => 0x0C,
        IdxArray::F32(_) => 0x0D,
        IdxArray::F64(_) => 0x0E,
    };
    let found = (code << 8) | ndims as u32;
    if found != magic {
        return Err(format_err(
            path,
            "header",
            format!("expected MNIST {what} (magic {magic:#010x}) but found magic {found:#010x}"),
        ));
    }
    Ok(a.into_u8().expect("magic checked"))
}

/// Reads an MNIST image file (magic `0x00000803`): `u8`, shape `[n, rows, cols]`.
pub fn read_mnist_images(path: impl AsRef<Path>) -> Result<NdArray<u8>> {
    read_u8_with_magic(path.as_ref(), MNIST_IMAGES_MAGIC, "images")
}

/// Reads an MNIST label file (magic `0x00000801`): `u8`, shape `[n]`.
pub fn read_mnist_labels(path: impl AsRef<Path>) -> Result<NdArray<u8>> {
    read_u8_with_magic(path.as_ref(), MNIST_LABELS_MAGIC, "labels")
}

/// Reads a matching pair of MNIST image and label files, checking that the counts agree and
/// that every label is a digit 0–9.
pub fn read_mnist(
    images: impl AsRef<Path>,
    labels: impl AsRef<Path>,
) -> Result<(NdArray<u8>, NdArray<u8>)> {
    let (ip, lp) = (images.as_ref(), labels.as_ref());
    let im = read_mnist_images(ip)?;
    let lb = read_mnist_labels(lp)?;
    if im.shape[0] != lb.shape[0] {
        return Err(format_err(
            lp,
            "header",
            format!(
                "count mismatch: {} labels but {} has {} images",
                lb.shape[0],
                ip.display(),
                im.shape[0]
            ),
        ));
    }
    if let Some(i) = lb.data.iter().position(|&l| l > 9) {
        return Err(format_err(
            lp,
            &format!("label {i}"),
            format!("label value {} is not a digit 0-9", lb.data[i]),
        ));
    }
    Ok((im, lb))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn idx_bytes(code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, code, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn parses_types_and_dims() {
        let p = Path::new("m");
        let a = read_idx_from(&idx_bytes(8, &[2, 3], &[1, 2, 3, 4, 5, 6])[..], p).unwrap();
        assert_eq!(a.shape(), [2, 3]);
        let b = read_idx_from(&idx_bytes(0x0B, &[2], &[0xff, 0xfe, 0, 5])[..], p).unwrap();
        assert_eq!(
            b,
            IdxArray::I16(NdArray::new(vec![2], vec![-2, 5]).unwrap())
        );
        let f = read_idx_from(&idx_bytes(0x0E, &[1], &1.5f64.to_be_bytes())[..], p).unwrap();
        assert_eq!(f.to_f64().data, [1.5]);
        let s = read_idx_from(&idx_bytes(0x0D, &[], &2.0f32.to_be_bytes())[..], p).unwrap();
        assert_eq!(s.shape(), [] as [usize; 0]);
    }

    #[test]
    fn errors() {
        let p = Path::new("bad-idx");
        let msg = |r: Result<IdxArray>| r.unwrap_err().to_string();
        let e = msg(read_idx_from(&[1u8, 0, 8, 1, 0, 0, 0, 1, 7][..], p));
        assert!(e.contains("bad-idx") && e.contains("magic"), "{e}");
        let e = msg(read_idx_from(&[0u8, 0, 0x0A, 1][..], p));
        assert!(e.contains("element type"), "{e}");
        let e = msg(read_idx_from(&idx_bytes(8, &[10], &[1, 2, 3])[..], p));
        assert!(e.contains("truncated"), "{e}");
        let e = msg(read_idx_from(&idx_bytes(8, &[2], &[1, 2, 3])[..], p));
        assert!(e.contains("count mismatch"), "{e}");
        let e = msg(read_idx_from(&[0u8, 0, 8, 3, 0, 0][..], p));
        assert!(e.contains("dimension"), "{e}");
        // A huge declared shape with no data is a truncation error, not an allocation.
        let e = msg(read_idx_from(
            &idx_bytes(0x0E, &[u32::MAX, u32::MAX], &[0; 8])[..],
            p,
        ));
        assert!(e.contains("truncated") || e.contains("overflows"), "{e}");
    }

    #[test]
    fn gzip_and_mnist_magic_checks() {
        let dir = std::env::temp_dir().join(format!("meshflow-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let labels = dir.join("labels.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&idx_bytes(8, &[3], &[7, 2, 1])).unwrap();
        std::fs::write(&labels, gz.finish().unwrap()).unwrap();
        assert_eq!(read_mnist_labels(&labels).unwrap().data, [7, 2, 1]);
        // Wrong magic for images.
        let e = read_mnist_images(&labels).unwrap_err().to_string();
        assert!(e.contains("0x00000801") && e.contains("0x00000803"), "{e}");
        // Count mismatch between images and labels.
        let images = dir.join("images");
        std::fs::write(&images, idx_bytes(8, &[2, 1, 1], &[0, 255])).unwrap();
        let e = read_mnist(&images, &labels).unwrap_err().to_string();
        assert!(e.contains("count mismatch"), "{e}");
        // Corrupt gzip stream: a format error, not a panic.
        let mut bytes = std::fs::read(&labels).unwrap();
        let n = bytes.len();
        bytes[n / 2] ^= 0xff;
        bytes.truncate(n - 3);
        std::fs::write(&labels, &bytes).unwrap();
        assert!(read_mnist_labels(&labels).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn truncations_never_panic() {
        let full = idx_bytes(
            0x0C,
            &[2, 2],
            &[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4],
        );
        for n in 0..full.len() {
            assert!(read_idx_from(&full[..n], Path::new("t")).is_err());
        }
        assert!(read_idx_from(&full[..], Path::new("t")).is_ok());
    }
}

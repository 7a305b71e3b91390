//! Recognising a data file by its magic bytes.

use std::io::{Read, Seek, SeekFrom};

use super::source::DataSource;
use crate::{DatasetError, Result};

/// The on-disk format of a data file, recognised from its first bytes (never its extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum DataFormat {
    /// GRIB edition 1 (`GRIB`, edition octet 1).
    #[serde(rename = "grib1")]
    Grib1,
    /// GRIB edition 2 (`GRIB`, edition octet 2).
    #[serde(rename = "grib2")]
    Grib2,
    /// NetCDF-3 classic (`CDF\x01`).
    #[serde(rename = "netcdf3-classic")]
    NetCdf3Classic,
    /// NetCDF-3 64-bit offset (`CDF\x02`).
    #[serde(rename = "netcdf3-64bit-offset")]
    NetCdf3Offset64,
    /// NetCDF-3 64-bit data, CDF-5 (`CDF\x05`).
    #[serde(rename = "netcdf3-64bit-data")]
    NetCdf3Data64,
    /// NetCDF-4: an HDF5 container (`\x89HDF\r\n\x1a\n`, at byte 0 or after a user block).
    #[serde(rename = "netcdf4")]
    NetCdf4,
    /// A NumPy `.npz` archive (a zip file, `PK\x03\x04`).
    #[serde(rename = "npz")]
    Npz,
    /// A NumPy `.npy` array (`\x93NUMPY`).
    #[serde(rename = "npy")]
    Npy,
}

/// The formats [`DataFormat::detect`] recognises, for error messages.
pub(crate) const SUPPORTED: &str = "GRIB 1/2 (`GRIB`), NetCDF-3 (`CDF\\x01`, `CDF\\x02`, \
     `CDF\\x05`), NetCDF-4/HDF5 (`\\x89HDF\\r\\n\\x1a\\n`), NumPy .npz (zip, `PK\\x03\\x04`) \
     and .npy (`\\x93NUMPY`)";

const HDF5_MAGIC: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

impl DataFormat {
    /// The format whose magic starts `head` (the first bytes of a file), if any. An HDF5
    /// signature after a user block is not seen here; [`DataFormat::detect`] looks for it.
    pub fn from_magic(head: &[u8]) -> Option<DataFormat> {
        if head.starts_with(b"GRIB") {
            return match head.get(7) {
                Some(1) => Some(DataFormat::Grib1),
                Some(2) => Some(DataFormat::Grib2),
                _ => None,
            };
        }
        if head.starts_with(HDF5_MAGIC) {
            return Some(DataFormat::NetCdf4);
        }
        if head.starts_with(b"\x93NUMPY") {
            return Some(DataFormat::Npy);
        }
        // An empty archive starts with its end-of-central-directory record.
        if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            return Some(DataFormat::Npz);
        }
        match head.get(..4) {
            Some(b"CDF\x01") => Some(DataFormat::NetCdf3Classic),
            Some(b"CDF\x02") => Some(DataFormat::NetCdf3Offset64),
            Some(b"CDF\x05") => Some(DataFormat::NetCdf3Data64),
            _ => None,
        }
    }

    /// Reads the first bytes of a file (a path or bytes in memory) and recognises its format;
    /// `Ok(None)` when no magic matches. HDF5 signatures after a user block (at byte 512,
    /// 1024, 2048, ...) count.
    pub fn sniff(source: impl Into<DataSource>) -> Result<Option<DataFormat>> {
        Ok(sniff_source(&source.into())?.0)
    }

    /// Like [`DataFormat::sniff`], but a file in no known format is a
    /// [`DatasetError::Format`] error naming its first bytes and the supported formats.
    pub fn detect(source: impl Into<DataSource>) -> Result<DataFormat> {
        let source = source.into();
        match sniff_source(&source)? {
            (Some(f), _) => Ok(f),
            (None, head) => Err(DatasetError::Format {
                path: source.name().to_path_buf(),
                location: "magic bytes".into(),
                message: format!(
                    "not a recognised data file: {}; supported formats are {SUPPORTED}",
                    describe_bytes(&head)
                ),
            }),
        }
    }

    /// A short human name (`GRIB1`, `NetCDF-3 classic`, `NumPy .npz`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DataFormat::Grib1 => "GRIB1",
            DataFormat::Grib2 => "GRIB2",
            DataFormat::NetCdf3Classic => "NetCDF-3 classic",
            DataFormat::NetCdf3Offset64 => "NetCDF-3 64-bit offset",
            DataFormat::NetCdf3Data64 => "NetCDF-3 64-bit data (CDF-5)",
            DataFormat::NetCdf4 => "NetCDF-4 (HDF5)",
            DataFormat::Npz => "NumPy .npz",
            DataFormat::Npy => "NumPy .npy",
        }
    }

    /// Whether the format is GRIB (either edition).
    pub fn is_grib(self) -> bool {
        matches!(self, DataFormat::Grib1 | DataFormat::Grib2)
    }

    /// Whether the format is NetCDF (3 or 4).
    pub fn is_netcdf(self) -> bool {
        matches!(
            self,
            DataFormat::NetCdf3Classic
                | DataFormat::NetCdf3Offset64
                | DataFormat::NetCdf3Data64
                | DataFormat::NetCdf4
        )
    }
}

impl std::fmt::Display for DataFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The format (if recognised) and the first (up to 8) bytes of a source.
fn sniff_source(source: &DataSource) -> Result<(Option<DataFormat>, Vec<u8>)> {
    let io = |e| DatasetError::Io {
        path: source.name().to_path_buf(),
        source: e,
    };
    match source {
        DataSource::Path(p) => sniff_head(std::fs::File::open(p).map_err(io)?).map_err(io),
        DataSource::Bytes { bytes, .. } => {
            sniff_head(std::io::Cursor::new(bytes.as_ref())).map_err(io)
        }
    }
}

fn sniff_head(mut f: impl Read + Seek) -> std::io::Result<(Option<DataFormat>, Vec<u8>)> {
    let mut head = Vec::with_capacity(8);
    (&mut f).take(8).read_to_end(&mut head)?;
    if let Some(fmt) = DataFormat::from_magic(&head) {
        return Ok((Some(fmt), head));
    }
    // HDF5 allows a user block of 512·2^k bytes before the signature.
    let len = f.seek(SeekFrom::End(0))?;
    let mut offset = 512u64;
    while offset + 8 <= len && offset <= 1 << 20 {
        f.seek(SeekFrom::Start(offset))?;
        let mut sig = [0u8; 8];
        f.read_exact(&mut sig)?;
        if &sig == HDF5_MAGIC {
            return Ok((Some(DataFormat::NetCdf4), head));
        }
        offset *= 2;
    }
    Ok((None, head))
}

/// `the file is empty`, or `the first bytes are 7b 22 61 ... ("{"a...")`.
fn describe_bytes(head: &[u8]) -> String {
    if head.is_empty() {
        return "the file is empty".into();
    }
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    let text: String = head
        .iter()
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
        .collect();
    let hint = if head.starts_with(b"\x1f\x8b") {
        " (gzip-compressed: decompress it first)"
    } else if head.starts_with(b"GRIB") {
        " (GRIB magic with an unsupported edition)"
    } else if head.starts_with(b"CDF") {
        " (NetCDF-3 magic with an unknown version byte)"
    } else {
        ""
    };
    format!("the first bytes are {} (\"{text}\"){hint}", hex.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_decide_the_format() {
        let cases: [(&[u8], Option<DataFormat>); 10] = [
            (b"GRIB\x00\x39\x80\x01", Some(DataFormat::Grib1)),
            (b"GRIB\xff\xff\x00\x02", Some(DataFormat::Grib2)),
            (b"GRIB\x00\x00\x00\x03", None),
            (b"CDF\x01\x00\x00\x00\x00", Some(DataFormat::NetCdf3Classic)),
            (b"CDF\x02", Some(DataFormat::NetCdf3Offset64)),
            (b"CDF\x05", Some(DataFormat::NetCdf3Data64)),
            (b"\x89HDF\r\n\x1a\n", Some(DataFormat::NetCdf4)),
            (b"PK\x03\x04\x14\x00", Some(DataFormat::Npz)),
            (b"\x93NUMPY\x01\x00", Some(DataFormat::Npy)),
            (b"ply\nformat", None),
        ];
        for (head, want) in cases {
            assert_eq!(DataFormat::from_magic(head), want, "{head:?}");
        }
    }

    #[test]
    fn unknown_files_are_named_by_their_bytes() {
        let dir = std::env::temp_dir().join(format!("mf-format-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("data.grib");
        std::fs::write(&p, b"{\"not\": \"grib\"}").unwrap();
        let e = DataFormat::detect(&p).unwrap_err().to_string();
        assert!(e.contains("7b 22 6e 6f"), "{e}");
        assert!(e.contains("GRIB 1/2") && e.contains("NetCDF-4"), "{e}");
        std::fs::write(&p, b"").unwrap();
        let e = DataFormat::detect(&p).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        // An HDF5 signature after a 512-byte user block.
        let mut bytes = vec![0u8; 512];
        bytes.extend_from_slice(HDF5_MAGIC);
        bytes.extend_from_slice(&[0; 64]);
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(DataFormat::sniff(&p).unwrap(), Some(DataFormat::NetCdf4));
        std::fs::remove_dir_all(dir).ok();
    }
}

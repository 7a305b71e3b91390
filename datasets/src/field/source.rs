//! Where a data file's bytes come from: a path, or bytes in memory (data compiled into a
//! binary, a download).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// A data file to read: a path on disk, or bytes in memory with a name.
///
/// Every reader in [`crate::field`] takes `impl Into<DataSource>`, so a `&str`, `String`,
/// `&Path` or `PathBuf` works as before, and bytes compiled into a binary are read without
/// being copied or written to a temporary file:
///
/// ```
/// use meshflow_datasets::field::DataSource;
///
/// static BYTES: &[u8] = b"CDF\x01";
/// let src = DataSource::from_static("<builtin demo>", BYTES);
/// assert_eq!(src.name().to_str(), Some("<builtin demo>"));
/// assert!(matches!(DataSource::from("t.nc"), DataSource::Path(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// A file on disk.
    Path(PathBuf),
    /// Bytes in memory.
    Bytes {
        /// What errors and reports call the data (a path-like name such as
        /// `<builtin era5: era5-levels-members.grib>`).
        name: PathBuf,
        /// The file's bytes: borrowed for data compiled in with `include_bytes!`, owned
        /// otherwise.
        bytes: Cow<'static, [u8]>,
    },
}

impl DataSource {
    /// Bytes with `'static` lifetime (from `include_bytes!`), named `name` in errors.
    pub fn from_static(name: impl Into<PathBuf>, bytes: &'static [u8]) -> DataSource {
        DataSource::Bytes {
            name: name.into(),
            bytes: Cow::Borrowed(bytes),
        }
    }

    /// Owned bytes, named `name` in errors.
    pub fn from_vec(name: impl Into<PathBuf>, bytes: Vec<u8>) -> DataSource {
        DataSource::Bytes {
            name: name.into(),
            bytes: Cow::Owned(bytes),
        }
    }

    /// The path, or the name of in-memory bytes: what errors and reports call the source.
    pub fn name(&self) -> &Path {
        match self {
            DataSource::Path(p) => p,
            DataSource::Bytes { name, .. } => name,
        }
    }
}

impl std::fmt::Display for DataSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name().display())
    }
}

impl From<PathBuf> for DataSource {
    fn from(p: PathBuf) -> Self {
        DataSource::Path(p)
    }
}

impl From<&PathBuf> for DataSource {
    fn from(p: &PathBuf) -> Self {
        DataSource::Path(p.clone())
    }
}

impl From<&Path> for DataSource {
    fn from(p: &Path) -> Self {
        DataSource::Path(p.to_path_buf())
    }
}

impl From<&str> for DataSource {
    fn from(p: &str) -> Self {
        DataSource::Path(p.into())
    }
}

impl From<String> for DataSource {
    fn from(p: String) -> Self {
        DataSource::Path(p.into())
    }
}

impl From<&String> for DataSource {
    fn from(p: &String) -> Self {
        DataSource::Path(p.into())
    }
}

impl From<&DataSource> for DataSource {
    /// A copy; in-memory `'static` bytes are shared, not copied.
    fn from(s: &DataSource) -> Self {
        s.clone()
    }
}

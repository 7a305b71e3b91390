//! The error type of the datasets crate.

use std::path::PathBuf;

/// Everything that can go wrong while reading or writing data files.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file's bytes do not follow its format; `location` names the message, variable,
    /// byte offset or record.
    #[error("{path}: {location}: {message}")]
    Format {
        /// The file (`<memory>` for in-memory input).
        path: PathBuf,
        /// Where (e.g. `message 3 (byte 44264)`, `variable t`, `header`).
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A valid file using a feature meshflow does not implement.
    #[error("{path}: {location}: unsupported: {feature}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// Where.
        location: String,
        /// The feature (e.g. `GRIB2 data representation template 5.40 (JPEG 2000)`).
        feature: String,
    },
    /// A variable or key that is not in the file.
    #[error("{path}: no variable `{name}` (available: {available})")]
    NoSuchVariable {
        /// The file.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// Comma-separated names that exist.
        available: String,
    },
}

/// Result alias for the datasets crate.
pub type Result<T, E = DatasetError> = std::result::Result<T, E>;

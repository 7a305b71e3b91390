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
    /// A malformed degradation or noise spec such as `mask:1.5` or `gaussian:x`; `message`
    /// says what is wrong and lists the accepted forms.
    #[error("invalid {what} spec `{spec}`: {message}")]
    InvalidSpec {
        /// What kind of spec (`degradation`, `noise`).
        what: &'static str,
        /// The spec as given.
        spec: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// An argument outside its valid range (a mask rate above 1, a negative noise level).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Array sizes that do not agree (a signal whose length is not the operator's `V`).
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// What was being checked.
        what: String,
        /// The expected size.
        expected: usize,
        /// The size found.
        got: usize,
    },
    /// A NaN or infinite value where finite data is required.
    #[error("{what} {index} is not finite")]
    NonFinite {
        /// What kind of item (`signal value`, ...).
        what: &'static str,
        /// Its index.
        index: usize,
    },
    /// An error from the geometry crate (a Laplacian that cannot be factorised, ...).
    #[error(transparent)]
    Geometry(#[from] meshflow_geometry::GeometryError),
}

/// Result alias for the datasets crate.
pub type Result<T, E = DatasetError> = std::result::Result<T, E>;

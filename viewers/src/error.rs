//! The error type of the viewers crate.

use std::path::PathBuf;

use meshflow_geometry::GeometryError;

/// Everything that can go wrong in `meshflow-viewers`.
#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    /// Array sizes that do not agree (values per vertex, samples, mask).
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// What was being checked.
        what: String,
        /// The expected size.
        expected: usize,
        /// The size found.
        got: usize,
    },
    /// An argument outside its valid range (an empty image, a bad colour range, an unknown
    /// camera name).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A PNG could not be encoded.
    #[error("{path}: cannot encode PNG: {message}")]
    Png {
        /// The file being written (`<memory>` for in-memory encoding).
        path: PathBuf,
        /// What the encoder said.
        message: String,
    },
    /// An error from the geometry crate (writing a file atomically, an invalid mesh).
    #[error(transparent)]
    Geometry(#[from] GeometryError),
    /// The rerun SDK could not create the recording (file sink, spawning the viewer).
    #[error("rerun: {0}")]
    Rerun(String),
}

/// Result alias for the viewers crate.
pub type Result<T, E = ViewerError> = std::result::Result<T, E>;

/// Checks that `got == expected`, naming `what` in the error.
pub(crate) fn check_len(what: &str, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(ViewerError::ShapeMismatch {
            what: what.to_string(),
            expected,
            got,
        })
    }
}

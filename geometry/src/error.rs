//! The error type of the geometry crate.

use std::path::PathBuf;

/// Everything that can go wrong in `meshflow-geometry`.
///
/// Every variant carries enough context (file, line, element, index) for a user to find the
/// problem in their own data.
#[derive(Debug, thiserror::Error)]
pub enum GeometryError {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be parsed; `location` names the line, element or byte offset.
    #[error("{path}: {location}: {message}")]
    Parse {
        /// The file (or `<memory>` for in-memory input).
        path: PathBuf,
        /// Where in the file, e.g. `line 12` or `vertex 37`.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A file extension or format that meshflow does not read.
    #[error("{path}: unsupported mesh format (expected .obj or .ply)")]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
    },
    /// A face refers to a vertex that does not exist.
    #[error("face {face} refers to vertex {index}, but the mesh has only {vertices} vertices")]
    IndexOutOfRange {
        /// Face number (0-based).
        face: usize,
        /// The offending vertex index (0-based).
        index: usize,
        /// Number of vertices.
        vertices: usize,
    },
    /// A coordinate or value is NaN or infinite.
    #[error("{what} {index} is not finite")]
    NonFinite {
        /// What kind of item (`vertex`, `value`, ...).
        what: &'static str,
        /// Its index.
        index: usize,
    },
    /// A mesh without vertices or faces where one is required.
    #[error("empty mesh: {0}")]
    EmptyMesh(String),
    /// Array sizes that do not agree.
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// What was being checked.
        what: String,
        /// The expected size.
        expected: usize,
        /// The size found.
        got: usize,
    },
    /// A malformed discretisation spec such as `icosphere:x`.
    #[error("invalid grid spec `{spec}`: {message}")]
    InvalidSpec {
        /// The spec as given.
        spec: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// An argument outside its valid range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A numerical method failed (singular matrix, no convergence).
    #[error("numerical failure: {0}")]
    Numerical(String),
}

/// Result alias for the geometry crate.
pub type Result<T, E = GeometryError> = std::result::Result<T, E>;

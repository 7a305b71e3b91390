//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in `meshflow-flows`.
///
/// Variants carry enough context (file, step, what was expected) to act on the message
/// without a debugger.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The loss became NaN or infinite during training. Training stopped before the
    /// optimiser applied that step; the last checkpoint written (if any) is untouched.
    #[error(
        "non-finite loss ({loss}) at step {step}: training stopped; last good checkpoint: {}. \
         Lower the learning rate, check the data for NaN/Inf, or enable gradient clipping",
        last_checkpoint.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "none".into())
    )]
    NonFiniteLoss {
        /// 1-based index of the step whose loss was not finite.
        step: usize,
        /// The offending loss value.
        loss: f32,
        /// The most recent complete checkpoint directory, if one was written.
        last_checkpoint: Option<PathBuf>,
    },

    /// A dataset or tensor argument was malformed.
    #[error("invalid data: {0}")]
    InvalidData(String),

    /// A configuration value was out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// Reading or writing a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A burn record (model, EMA model, optimiser state) could not be saved or loaded.
    #[error("record error on {path}: {message}")]
    Record {
        /// The record file (without the extension burn adds).
        path: PathBuf,
        /// burn's message.
        message: String,
    },

    /// A `config.json` or `state.json` file could not be parsed.
    #[error("cannot parse {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },

    /// `resume` found no complete checkpoint.
    #[error("no complete checkpoint in {0}: start a new run with `train` instead of `resume`")]
    NoCheckpoint(PathBuf),

    /// `train` was asked to write into a directory that already holds checkpoints.
    #[error(
        "{0} already holds checkpoints: use `resume` to continue that run, or pick an empty directory"
    )]
    CheckpointDirNotEmpty(PathBuf),

    /// An argument outside its valid range (a negative noise level, a mask of the wrong
    /// length, an empty list of candidates).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A connected component of the mesh has no observed vertex, so a reconstruction that only
    /// propagates observations along the surface (harmonic fill) is undefined there.
    #[error(
        "mesh component {component} ({vertices} vertices, including vertex {first_vertex}) has \
         no observed vertex: the fill is undefined there. Observe at least one vertex per \
         component, drop the component (topology::connected_components), or use a method with \
         a prior (GMRF kriging)"
    )]
    UnobservedComponent {
        /// Component label (as in `topology::connected_components`).
        component: usize,
        /// Number of vertices in the component.
        vertices: usize,
        /// Its lowest-numbered vertex.
        first_vertex: usize,
    },

    /// A numerical method failed (a matrix that should be positive definite was not).
    #[error("numerical failure: {0}")]
    Numerical(String),

    /// An error from the geometry crate (mesh operators, sparse factorisations, masks).
    #[error(transparent)]
    Geometry(#[from] meshflow_geometry::GeometryError),
}

/// `Result` with [`FlowError`].
pub type Result<T> = std::result::Result<T, FlowError>;

impl FlowError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FlowError::Io {
            path: path.into(),
            source,
        }
    }
}

//! # meshflow-geometry
//!
//! Plain-Rust numerics for signals on surfaces: triangle meshes (OBJ, PLY), sphere
//! discretisations (regular lat-lon, Gaussian, icosphere), vertex signals and masks, the
//! cotangent Laplacian and mass matrices, generalised Laplacian eigenpairs, resampling between
//! discretisations, and metrics. No deep-learning or viewer dependency lives here.
//!
//! ```
//! use meshflow_geometry::{sphere::SphereGrid, operators, eigen};
//!
//! // An icosphere with 642 vertices; its Laplace–Beltrami spectrum approaches l(l+1).
//! let grid = SphereGrid::icosphere(3);
//! let l = operators::cotan_laplacian(grid.mesh());
//! let m = operators::vertex_lumped_mass_matrix(grid.mesh());
//! let pairs = eigen::smallest_generalized_eigenpairs(&l, &m, 4, &Default::default()).unwrap();
//! assert!(pairs.values[0].abs() < 1e-8);
//! assert!((pairs.values[1] - 2.0).abs() < 0.05);
//! ```

pub mod eigen;
pub mod error;
pub mod io;
pub mod linalg;
pub mod mesh;
pub mod metrics;
pub mod operators;
pub mod primitives;
pub mod resample;
pub mod signal;
pub mod sphere;
pub mod topology;

pub use error::{GeometryError, Result};
pub use mesh::TriMesh;

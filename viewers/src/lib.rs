//! # meshflow-viewers
//!
//! See what meshflow did: signals on surfaces as colours, in static PNG figures and in
//! [rerun](https://rerun.io) recordings.
//!
//! - [`colormap`]: perceptual colormaps (viridis, magma, diverging RdBu) and
//!   [`ColorScale`](colormap::ColorScale)s fitted to the observed, finite values; missing
//!   vertices in grey.
//! - [`figure`]: PNG figures without rerun: a z-buffered, shaded orthographic renderer for
//!   mesh signals with camera presets, equirectangular maps of sphere fields with
//!   latitude/longitude ticks, and figures of titled panels with colour bars.
//! - [`recording`]: rerun recordings (saved `.rrd`, a spawned viewer, or memory for tests):
//!   surface signals as `Mesh3D` with per-vertex colours, a whole reconstruction (truth,
//!   measurement, samples on a `sample` timeline, mean, std, errors, baselines) as one entity
//!   tree, training curves as `Scalars` on a `step` timeline.
//!
//! This crate depends on `meshflow-geometry` and rerun only: it knows nothing of tensors or
//! data files, so every function takes plain slices of per-vertex values.
//!
//! ```
//! use meshflow_geometry::sphere::SphereGrid;
//! use meshflow_viewers::colormap::{ColorScale, Colormap};
//! use meshflow_viewers::figure::{render_mesh, Camera, MeshRenderOptions, UpAxis, VertexField};
//!
//! // Height on a globe, seen from the front (z is up on sphere grids).
//! let grid = SphereGrid::icosphere(3);
//! let z: Vec<f32> = grid.mesh().positions().iter().map(|p| p.z as f32).collect();
//! let scale = ColorScale::fit(Colormap::Viridis, &z, None);
//! let opts = MeshRenderOptions {
//!     camera: Camera { up: UpAxis::Z, ..Default::default() },
//!     ..Default::default()
//! };
//! let img = render_mesh(grid.mesh(), &VertexField::new(&z, None, scale), &opts).unwrap();
//! assert_eq!((img.width(), img.height()), (320, 320));
//! ```

pub mod colormap;
pub mod error;
pub mod figure;
pub mod reconstruction;
pub mod recording;

pub use error::{Result, ViewerError};
pub use reconstruction::{Reconstruction, ReconstructionScales};
/// The rerun SDK this crate logs with (0.36.3), for callers that hold a `RecordingStream`.
pub use rerun;

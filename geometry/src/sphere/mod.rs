//! Sphere discretisations: regular latitude–longitude grids, Gaussian grids, icosphere meshes
//! and regional latitude–longitude patches.
//!
//! Every discretisation is a [`SphereGrid`]: points on the **unit** sphere with
//!
//! * a triangulation ([`SphereGrid::mesh`]), counter-clockwise seen from outside (outward
//!   normals); global grids are closed, edge-manifold surfaces with Euler characteristic 2, a
//!   regional patch is a disc with a boundary;
//! * latitude and longitude of every vertex **in degrees** ([`SphereGrid::lat_deg`],
//!   [`SphereGrid::lon_deg`]); the position of a vertex is
//!   `(cos φ cos λ, cos φ sin λ, sin φ)`, so the north pole is `+z` and `λ = 0` is `+x`;
//! * per-vertex quadrature weights ([`SphereGrid::quadrature_weights`]) that sum to `4π` for a
//!   global grid (the area of a regional patch for a patch), so `Σ w_i f_i ≈ ∫ f dA`;
//! * for grids that come from a 2-D `(lat, lon)` array, the [`GridLayout`] of that array and the
//!   conversions [`SphereGrid::to_vertex_order`] / [`SphereGrid::to_grid_order`].
//!
//! Vertex order of lat-lon and Gaussian grids: the north pole vertex (if any), then the rings
//! from north to south, each ring by increasing (eastward) longitude, then the south pole vertex
//! (if any), whatever the order of the source array.
//!
//! ```
//! use meshflow_geometry::sphere::{GridSpec, SphereGrid};
//!
//! // ERA5 at 3°: 61 latitudes from 90 to −90, 120 longitudes from 0 to 357.
//! let grid = SphereGrid::latlon(61, 120).unwrap();
//! assert_eq!(grid.num_vertices(), 59 * 120 + 2); // each pole row is one vertex
//! let total: f64 = grid.quadrature_weights().iter().sum();
//! assert!((total - 4.0 * std::f64::consts::PI).abs() < 1e-12);
//!
//! // A field stored as a [61][120] array, row-major, north to south.
//! let field = vec![1.0_f32; 61 * 120];
//! let on_vertices = grid.to_vertex_order(&field).unwrap();
//! assert_eq!(on_vertices.len(), grid.num_vertices());
//! assert_eq!(grid.to_grid_order(&on_vertices).unwrap(), field);
//!
//! // Grids can be named by a spec string, e.g. on a command line.
//! let spec: GridSpec = "icosphere:3".parse().unwrap();
//! assert_eq!(spec.build().unwrap().num_vertices(), 642);
//! ```

mod gauss;
mod icosphere;
mod rings;
mod spec;
#[cfg(test)]
mod tests;

use std::ops::Range;

pub use gauss::gauss_legendre;
pub use spec::{looks_like_grid_spec, GridSpec};

use crate::error::{GeometryError, Result};
use crate::mesh::TriMesh;

/// Which family a [`SphereGrid`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GridKind {
    /// A global regular latitude–longitude grid (equally spaced latitudes and longitudes, or any
    /// global grid read with [`SphereGrid::from_latlon_coords`]).
    LatLon,
    /// A regular Gaussian grid: Gauss–Legendre latitudes, equally spaced longitudes.
    Gaussian,
    /// A subdivided icosahedron.
    Icosphere,
    /// A latitude–longitude patch that does not cover the globe (a mesh with a boundary).
    RegionalLatLon,
}

impl std::fmt::Display for GridKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GridKind::LatLon => "latlon",
            GridKind::Gaussian => "gaussian",
            GridKind::Icosphere => "icosphere",
            GridKind::RegionalLatLon => "regional-latlon",
        })
    }
}

/// The order of the latitude rows in a source array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LatitudeOrder {
    /// Row 0 is the northernmost latitude (ERA5, WeatherBench as stored by ECMWF).
    NorthToSouth,
    /// Row 0 is the southernmost latitude (many CMIP and NetCDF files).
    SouthToNorth,
}

/// Whether a regular latitude–longitude grid has rows at the poles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Poles {
    /// Rows 0 and `nlat − 1` lie on the poles: `lat_i = 90 − i·180/(nlat − 1)` (ERA5:
    /// 721×1440 at 0.25°, 61×120 at 3°). Each pole row becomes one vertex.
    Included,
    /// Rows at cell centres: `lat_i = 90 − (i + ½)·180/nlat` (WeatherBench 32×64 at 5.625°).
    /// The polar caps are closed by one added vertex per pole.
    Excluded,
}

impl Poles {
    /// The pole convention of a global `nlat × nlon` regular grid, inferred from its shape:
    /// [`Poles::Included`] if `180/(nlat − 1) = 360/nlon` (square cells with pole rows),
    /// [`Poles::Excluded`] if `180/nlat = 360/nlon` (square cells, no pole rows), and
    /// [`Poles::Included`] for every other shape.
    pub fn infer(nlat: usize, nlon: usize) -> Poles {
        if nlat >= 2 && (nlat - 1).checked_mul(2) == Some(nlon) {
            Poles::Included
        } else if nlat.checked_mul(2) == Some(nlon) {
            Poles::Excluded
        } else {
            Poles::Included
        }
    }
}

/// The 2-D `(lat, lon)` array a lat-lon or Gaussian [`SphereGrid`] was made from.
///
/// A field on the grid is stored as `nlat × nlon` values, row-major, row `i` at latitude
/// `lats_deg[i]` and column `j` at longitude `lons_deg[j]`, rows in the source's order.
#[derive(Debug, Clone, PartialEq)]
pub struct GridLayout {
    /// Number of latitude rows.
    pub nlat: usize,
    /// Number of longitude columns.
    pub nlon: usize,
    /// Latitude of every row in source order, degrees, `[nlat]`.
    pub lats_deg: Vec<f64>,
    /// Longitude of every column as given, degrees, `[nlon]` (for example `0, 0.25, …, 359.75`
    /// or `−180, …, 179.25`).
    pub lons_deg: Vec<f64>,
    /// The order of the rows in the source array.
    pub order: LatitudeOrder,
    /// The vertex of every grid point, `[nlat · nlon]`, row-major (`i · nlon + j`, row `i` in
    /// source order). All points of a pole row map to the one pole vertex.
    pub grid_to_vertex: Vec<usize>,
    /// Vertices without a grid point (added pole vertices) and the ring whose mean they take.
    fill: Vec<(usize, Range<usize>)>,
}

impl GridLayout {
    /// Number of grid points `nlat · nlon`.
    pub fn num_points(&self) -> usize {
        self.nlat * self.nlon
    }
}

/// A scalar type that grid fields may hold (`f32` or `f64`).
pub trait GridValue: Copy + sealed::Sealed {
    /// Widens to `f64` (for accumulating means).
    fn to_f64(self) -> f64;
    /// Narrows from `f64`.
    fn from_f64(x: f64) -> Self;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

impl GridValue for f32 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(x: f64) -> Self {
        x as f32
    }
}

impl GridValue for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(x: f64) -> Self {
        x
    }
}

/// A discretisation of the unit sphere (or of a patch of it): a triangle mesh with latitude,
/// longitude and a quadrature weight per vertex. See the [module docs](self) for conventions.
#[derive(Debug, Clone)]
pub struct SphereGrid {
    mesh: TriMesh,
    lat_deg: Vec<f64>,
    lon_deg: Vec<f64>,
    weights: Vec<f64>,
    kind: GridKind,
    layout: Option<GridLayout>,
}

impl SphereGrid {
    /// The triangulation: unit-length positions, faces counter-clockwise seen from outside.
    pub fn mesh(&self) -> &TriMesh {
        &self.mesh
    }

    /// Consumes the grid and returns its mesh.
    pub fn into_mesh(self) -> TriMesh {
        self.mesh
    }

    /// Latitude of every vertex in degrees, `[V]`, in `[−90, 90]` (positive north).
    pub fn lat_deg(&self) -> &[f64] {
        &self.lat_deg
    }

    /// Longitude of every vertex in degrees, `[V]`, positive east. Lat-lon and Gaussian grids
    /// report the source longitudes as given (`latlon`/`gaussian` use `j·360/nlon ∈ [0, 360)`);
    /// icosphere vertices lie in `(−180, 180]`; pole vertices report 0.
    pub fn lon_deg(&self) -> &[f64] {
        &self.lon_deg
    }

    /// Quadrature weight of every vertex, `[V]`, in steradians: they sum to `4π` for a global
    /// grid and to the patch area for a regional grid. See each constructor for the rule.
    pub fn quadrature_weights(&self) -> &[f64] {
        &self.weights
    }

    /// The family of this grid.
    pub fn kind(&self) -> GridKind {
        self.kind
    }

    /// Number of vertices `V`.
    pub fn num_vertices(&self) -> usize {
        self.lat_deg.len()
    }

    /// The source `(lat, lon)` array layout, for lat-lon, Gaussian and regional grids; `None`
    /// for an icosphere.
    pub fn layout(&self) -> Option<&GridLayout> {
        self.layout.as_ref()
    }

    fn require_layout(&self) -> Result<&GridLayout> {
        self.layout.as_ref().ok_or_else(|| {
            GeometryError::InvalidArgument(format!(
                "a {} grid has no 2-D (lat, lon) layout; its fields are already in vertex order",
                self.kind
            ))
        })
    }

    /// Converts a field from source-array order (`[nlat · nlon]`, row-major, rows as in the
    /// source) to vertex order (`[V]`).
    ///
    /// Where several grid points map to one vertex (a pole row) the vertex takes their mean;
    /// a vertex without a grid point (a pole added to close a grid without pole rows) takes the
    /// mean of its adjacent ring.
    ///
    /// # Errors
    /// [`GeometryError::ShapeMismatch`] if `grid.len() != nlat · nlon`;
    /// [`GeometryError::InvalidArgument`] for an icosphere (no layout).
    pub fn to_vertex_order<T: GridValue>(&self, grid: &[T]) -> Result<Vec<T>> {
        let layout = self.require_layout()?;
        if grid.len() != layout.num_points() {
            return Err(GeometryError::ShapeMismatch {
                what: format!("grid field for a {}x{} grid", layout.nlat, layout.nlon),
                expected: layout.num_points(),
                got: grid.len(),
            });
        }
        let nv = self.num_vertices();
        let mut sum = vec![0.0f64; nv];
        let mut count = vec![0u32; nv];
        for (&v, &x) in layout.grid_to_vertex.iter().zip(grid) {
            sum[v] += x.to_f64();
            count[v] += 1;
        }
        for (s, &c) in sum.iter_mut().zip(&count) {
            if c > 1 {
                *s /= c as f64;
            }
        }
        for (v, ring) in &layout.fill {
            let n = ring.len() as f64;
            sum[*v] = sum[ring.clone()].iter().sum::<f64>() / n;
        }
        Ok(sum.into_iter().map(T::from_f64).collect())
    }

    /// Converts a field from vertex order (`[V]`) to source-array order (`[nlat · nlon]`,
    /// row-major, rows as in the source): every grid point takes the value of its vertex.
    ///
    /// # Errors
    /// [`GeometryError::ShapeMismatch`] if `vertex_values.len() != V`;
    /// [`GeometryError::InvalidArgument`] for an icosphere (no layout).
    pub fn to_grid_order<T: GridValue>(&self, vertex_values: &[T]) -> Result<Vec<T>> {
        let layout = self.require_layout()?;
        if vertex_values.len() != self.num_vertices() {
            return Err(GeometryError::ShapeMismatch {
                what: "vertex field".into(),
                expected: self.num_vertices(),
                got: vertex_values.len(),
            });
        }
        Ok(layout
            .grid_to_vertex
            .iter()
            .map(|&v| vertex_values[v])
            .collect())
    }
}

//! Latitude–longitude and Gaussian grids: rings of points joined by split quads, each pole a
//! single vertex joined to its ring by a triangle fan.

use std::f64::consts::PI;

use nalgebra::Point3;

use super::{gauss_legendre, GridKind, GridLayout, LatitudeOrder, Poles, SphereGrid};
use crate::error::{GeometryError, Result};
use crate::mesh::TriMesh;

/// A latitude within this many degrees of ±90 is a pole row.
const POLE_TOL_DEG: f64 = 1e-9;
/// Tolerance (degrees) on longitude steps and on `nlon · Δλ = 360` when detecting a global
/// grid; loose enough for coordinates stored as `f32`.
const LON_TOL_DEG: f64 = 1e-4;
/// The largest grid (`nlat · nlon`) the constructors accept.
pub(crate) const MAX_GRID_POINTS: usize = 100_000_000;

/// Longitudes analysed: direction, unwrapped values and whether they close around the globe.
struct Lons {
    /// Source column order is eastward (increasing longitude).
    increasing: bool,
    /// Longitudes in source order, unwrapped so that they are strictly monotonic (degrees).
    unwrapped: Vec<f64>,
    /// Uniform spacing with `nlon · Δλ = 360`.
    global: bool,
}

/// Wraps a longitude difference into `(−180, 180]`.
fn wrap180(d: f64) -> f64 {
    let r = d.rem_euclid(360.0);
    if r > 180.0 {
        r - 360.0
    } else {
        r
    }
}

fn check_size(nlat: usize, nlon: usize) -> Result<()> {
    match nlat.checked_mul(nlon) {
        Some(n) if n <= MAX_GRID_POINTS => Ok(()),
        _ => Err(GeometryError::InvalidArgument(format!(
            "a {nlat}x{nlon} grid is too large (at most {MAX_GRID_POINTS} points)"
        ))),
    }
}

/// Checks the shape of a global regular grid; shared with the spec parser.
pub(crate) fn validate_latlon(nlat: usize, nlon: usize, poles: Poles) -> Result<()> {
    let min_lat = match poles {
        Poles::Included => 3,
        Poles::Excluded => 1,
    };
    if nlat < min_lat {
        return Err(GeometryError::InvalidArgument(format!(
            "a lat-lon grid with pole rows needs nlat >= 3 (two poles and a ring), got {nlat}"
        )));
    }
    if nlon < 3 {
        return Err(GeometryError::InvalidArgument(format!(
            "a global grid needs nlon >= 3 longitudes, got {nlon}"
        )));
    }
    check_size(nlat, nlon)
}

/// Checks the shape of a Gaussian grid; shared with the spec parser.
pub(crate) fn validate_gaussian(nlat: usize, nlon: usize) -> Result<()> {
    if nlat < 2 || !nlat.is_multiple_of(2) {
        return Err(GeometryError::InvalidArgument(format!(
            "a Gaussian grid needs an even number of latitudes >= 2, got {nlat}"
        )));
    }
    if nlon < 3 {
        return Err(GeometryError::InvalidArgument(format!(
            "a global grid needs nlon >= 3 longitudes, got {nlon}"
        )));
    }
    check_size(nlat, nlon)
}

fn validate_lats(lats: &[f64]) -> Result<()> {
    if lats.len() < 2 {
        return Err(GeometryError::InvalidArgument(format!(
            "a lat-lon grid needs at least 2 latitudes, got {}",
            lats.len()
        )));
    }
    if let Some(i) = lats.iter().position(|x| !x.is_finite()) {
        return Err(GeometryError::NonFinite {
            what: "latitude",
            index: i,
        });
    }
    if let Some(i) = lats.iter().position(|x| x.abs() > 90.0 + POLE_TOL_DEG) {
        return Err(GeometryError::InvalidArgument(format!(
            "latitude {i} is {} degrees, outside [-90, 90]",
            lats[i]
        )));
    }
    let descending = lats[0] > lats[1];
    if let Some(i) = lats.windows(2).position(|w| {
        if descending {
            w[1] >= w[0]
        } else {
            w[1] <= w[0]
        }
    }) {
        return Err(GeometryError::InvalidArgument(format!(
            "latitudes must be strictly increasing or strictly decreasing, but rows {i} and {} \
             are {} and {} degrees",
            i + 1,
            lats[i],
            lats[i + 1]
        )));
    }
    let n = lats.len();
    if n == 2 && lats.iter().all(|x| x.abs() >= 90.0 - POLE_TOL_DEG) {
        return Err(GeometryError::InvalidArgument(
            "the latitudes are only the two poles; a grid needs a row between them".into(),
        ));
    }
    Ok(())
}

fn analyse_lons(lons: &[f64]) -> Result<Lons> {
    let n = lons.len();
    if n < 2 {
        return Err(GeometryError::InvalidArgument(format!(
            "a lat-lon grid needs at least 2 longitudes, got {n}"
        )));
    }
    if let Some(i) = lons.iter().position(|x| !x.is_finite()) {
        return Err(GeometryError::NonFinite {
            what: "longitude",
            index: i,
        });
    }
    let steps: Vec<f64> = lons.windows(2).map(|w| wrap180(w[1] - w[0])).collect();
    let increasing = steps[0] > 0.0;
    if let Some(i) = steps
        .iter()
        .position(|&d| d == 0.0 || (d > 0.0) != increasing)
    {
        return Err(GeometryError::InvalidArgument(format!(
            "longitudes must be strictly increasing or strictly decreasing (modulo 360), but \
             columns {i} and {} are {} and {} degrees",
            i + 1,
            lons[i],
            lons[i + 1]
        )));
    }
    let mut unwrapped = Vec::with_capacity(n);
    unwrapped.push(lons[0]);
    for (j, d) in steps.iter().enumerate() {
        unwrapped.push(unwrapped[j] + d);
    }
    let span = (unwrapped[n - 1] - unwrapped[0]).abs();
    let mean_step = span / (n - 1) as f64;
    let uniform = steps
        .iter()
        .all(|d| (d.abs() - mean_step).abs() <= LON_TOL_DEG);
    let global = uniform && (n as f64 * mean_step - 360.0).abs() <= LON_TOL_DEG;
    if !global && span >= 360.0 - LON_TOL_DEG {
        return Err(GeometryError::InvalidArgument(format!(
            "the longitudes span {span} degrees: columns overlap (if the last column repeats the \
             first, as in 0..=360, drop it)"
        )));
    }
    if global && n < 3 {
        return Err(GeometryError::InvalidArgument(format!(
            "a global grid needs at least 3 longitudes, got {n}"
        )));
    }
    Ok(Lons {
        increasing,
        unwrapped,
        global,
    })
}

impl SphereGrid {
    /// A global regular latitude–longitude grid of `nlat × nlon` points, latitudes north→south
    /// as in ERA5, longitudes `λ_j = j·360/nlon` degrees (`0 ≤ λ < 360`).
    ///
    /// Pole rows are inferred by [`Poles::infer`]: `180/(nlat−1) = 360/nlon` (ERA5 721×1440,
    /// 61×120, 46×90) means pole rows, `lat_i = 90 − i·180/(nlat−1)`; `180/nlat = 360/nlon`
    /// (WeatherBench 32×64) means no pole rows, `lat_i = 90 − (i+½)·180/nlat`; **every other
    /// shape is taken to include the poles**. Use [`SphereGrid::latlon_with`] to say which.
    ///
    /// See [`SphereGrid::latlon_with`] for the mesh and the quadrature weights.
    ///
    /// # Errors
    /// [`GeometryError::InvalidArgument`] for `nlon < 3`, too few latitudes or more than
    /// 10⁸ points.
    pub fn latlon(nlat: usize, nlon: usize) -> Result<Self> {
        Self::latlon_with(nlat, nlon, Poles::infer(nlat, nlon))
    }

    /// A global regular latitude–longitude grid with an explicit pole convention; latitudes
    /// north→south, longitudes `λ_j = j·360/nlon` degrees.
    ///
    /// * [`Poles::Included`]: `lat_i = 90 − i·180/(nlat−1)`; each pole row becomes one vertex
    ///   (all `nlon` grid points map to it), so `V = (nlat−2)·nlon + 2`.
    /// * [`Poles::Excluded`]: `lat_i = 90 − (i+½)·180/nlat`; one vertex is added at each pole to
    ///   close the caps (it has no grid point, weight 0, and [`SphereGrid::to_vertex_order`]
    ///   gives it the mean of its ring), so `V = nlat·nlon + 2`.
    ///
    /// Neighbouring rings are joined by quads split into two triangles, longitudes wrap, and
    /// each pole vertex is joined to its ring by a fan.
    ///
    /// Quadrature weights are cell areas `Δλ·(sin φ_upper − sin φ_lower)` with `Δλ = 2π/nlon`,
    /// cell edges halfway between rows and the outermost edges at ±90°; a pole vertex gets
    /// the whole polar cap. They sum to `4π`.
    ///
    /// # Errors
    /// [`GeometryError::InvalidArgument`] for `nlon < 3`, `nlat < 3` with poles (`< 1`
    /// without), or more than 10⁸ points.
    pub fn latlon_with(nlat: usize, nlon: usize, poles: Poles) -> Result<Self> {
        validate_latlon(nlat, nlon, poles)?;
        let lats: Vec<f64> = match poles {
            Poles::Included => (0..nlat)
                .map(|i| 90.0 - 180.0 * i as f64 / (nlat - 1) as f64)
                .collect(),
            Poles::Excluded => (0..nlat)
                .map(|i| 90.0 - 180.0 * (i as f64 + 0.5) / nlat as f64)
                .collect(),
        };
        let lons = uniform_lons(nlon);
        let info = Lons {
            increasing: true,
            unwrapped: lons.clone(),
            global: true,
        };
        Ok(build_rings(lats, lons, &info, GridKind::LatLon, None))
    }

    /// A regular Gaussian grid: `nlat` Gauss–Legendre latitudes north→south (`nlat` even),
    /// longitudes `λ_j = j·360/nlon` degrees. T42 is `gaussian(64, 128)`, whose first latitude
    /// is 87.8638° and whose rows next to the equator are at ±1.395307°.
    ///
    /// There are no pole rows: one vertex is added at each pole to close the caps (weight 0,
    /// filled with its ring's mean by [`SphereGrid::to_vertex_order`]), so `V = nlat·nlon + 2`.
    /// Quadrature weights are the Gauss–Legendre weights times `2π/nlon` (see
    /// [`gauss_legendre`]); they sum to `4π` and integrate spherical harmonics up to degree
    /// `2·nlat − 1` in latitude exactly (given enough longitudes).
    ///
    /// # Errors
    /// [`GeometryError::InvalidArgument`] for an odd or zero `nlat`, `nlon < 3`, or more than
    /// 10⁸ points.
    pub fn gaussian(nlat: usize, nlon: usize) -> Result<Self> {
        validate_gaussian(nlat, nlon)?;
        let (x, w) = gauss_legendre(nlat);
        let lats: Vec<f64> = x.iter().map(|x| x.asin().to_degrees()).collect();
        let lons = uniform_lons(nlon);
        let info = Lons {
            increasing: true,
            unwrapped: lons.clone(),
            global: true,
        };
        Ok(build_rings(lats, lons, &info, GridKind::Gaussian, Some(w)))
    }

    /// A grid from the coordinate arrays of a data file: `lats_deg` per row and `lons_deg` per
    /// column of an `nlat × nlon` array, in the file's order.
    ///
    /// * Latitudes may run north→south or south→north (recorded in
    ///   [`GridLayout::order`]); the vertices are the same either way. A row at ±90° (within
    ///   1e-9) is a pole row and becomes one vertex.
    /// * Longitudes may increase or decrease and may wrap (`…, 359, 0, 1, …`). If they are
    ///   uniformly spaced with `nlon·Δλ = 360` (within 1e-4 degrees, so `f32` coordinates
    ///   pass) the grid is **global**: longitudes wrap and missing poles are added as for
    ///   [`SphereGrid::latlon_with`] with [`Poles::Excluded`]; its kind is [`GridKind::LatLon`]
    ///   and its weights are the cell-area rule with outermost edges at ±90° (summing to `4π`),
    ///   whatever the latitudes (Gaussian latitudes included).
    /// * Otherwise the grid is a regional patch, as built by [`SphereGrid::regional_latlon`].
    ///
    /// # Errors
    /// [`GeometryError::NonFinite`] for a NaN or infinite coordinate;
    /// [`GeometryError::InvalidArgument`] for fewer than 2 rows or columns, a latitude outside
    /// `[−90, 90]`, non-monotonic coordinates, longitudes that overlap (span ≥ 360°, e.g. a
    /// repeated 360° column), or more than 10⁸ points.
    pub fn from_latlon_coords(lats_deg: &[f64], lons_deg: &[f64]) -> Result<Self> {
        validate_lats(lats_deg)?;
        let info = analyse_lons(lons_deg)?;
        check_size(lats_deg.len(), lons_deg.len())?;
        let kind = if info.global {
            GridKind::LatLon
        } else {
            GridKind::RegionalLatLon
        };
        Ok(build_rings(
            lats_deg.to_vec(),
            lons_deg.to_vec(),
            &info,
            kind,
            None,
        ))
    }

    /// A regional latitude–longitude patch (for example 33×49 over the UK): the points of the
    /// `nlat × nlon` array triangulated as a disc with a boundary, no longitude wrap and no
    /// added pole vertices (a row at ±90° still collapses to one vertex). Coordinates may be in
    /// either order, as for [`SphereGrid::from_latlon_coords`]; longitudes are never treated as
    /// global here, but must span less than 360°.
    ///
    /// Quadrature weights use the cell-area rule with half cells at the boundary: cell edges
    /// halfway between neighbouring rows and columns, and the outer edges on the outermost
    /// rows and columns themselves, so the weights sum to the patch area
    /// `(λ_max − λ_min)·(sin φ_max − sin φ_min)`.
    ///
    /// # Errors
    /// As [`SphereGrid::from_latlon_coords`].
    pub fn regional_latlon(lats_deg: &[f64], lons_deg: &[f64]) -> Result<Self> {
        validate_lats(lats_deg)?;
        let mut info = analyse_lons(lons_deg)?;
        check_size(lats_deg.len(), lons_deg.len())?;
        info.global = false;
        Ok(build_rings(
            lats_deg.to_vec(),
            lons_deg.to_vec(),
            &info,
            GridKind::RegionalLatLon,
            None,
        ))
    }
}

fn uniform_lons(nlon: usize) -> Vec<f64> {
    (0..nlon).map(|j| 360.0 * j as f64 / nlon as f64).collect()
}

/// Builds a ring grid from validated coordinates in source order.
///
/// `bands`, if given, holds `sin φ_upper − sin φ_lower` of every row in north→south order
/// (the Gauss–Legendre weights for a Gaussian grid); otherwise the cell-area rule is used.
fn build_rings(
    lats_src: Vec<f64>,
    lons_src: Vec<f64>,
    info: &Lons,
    kind: GridKind,
    bands: Option<Vec<f64>>,
) -> SphereGrid {
    let nlat = lats_src.len();
    let nlon = lons_src.len();
    let wrap = info.global;
    let order = if lats_src[0] > lats_src[nlat - 1] {
        LatitudeOrder::NorthToSouth
    } else {
        LatitudeOrder::SouthToNorth
    };
    // Canonical order: rows north→south, columns eastward. Both maps are involutions, so they
    // also take a source index to its canonical index.
    let row_src = |k: usize| match order {
        LatitudeOrder::NorthToSouth => k,
        LatitudeOrder::SouthToNorth => nlat - 1 - k,
    };
    let col_src = |c: usize| if info.increasing { c } else { nlon - 1 - c };
    let lat: Vec<f64> = (0..nlat)
        .map(|k| lats_src[row_src(k)].clamp(-90.0, 90.0))
        .collect();
    let lon_unwrapped: Vec<f64> = (0..nlon).map(|c| info.unwrapped[col_src(c)]).collect();

    let north_row = lat[0] >= 90.0 - POLE_TOL_DEG;
    let south_row = lat[nlat - 1] <= -90.0 + POLE_TOL_DEG;
    let has_north = north_row || wrap;
    let has_south = south_row || wrap;
    let k_start = usize::from(north_row);
    let k_end = nlat - usize::from(south_row);
    let rings = k_end - k_start;
    let base = usize::from(has_north);
    let nv = base + rings * nlon + usize::from(has_south);
    let south_vertex = nv - 1;
    let ring_vertex = |k: usize, c: usize| base + (k - k_start) * nlon + c;

    // Quadrature: row bands (sin difference) and column widths (radians).
    let bands = bands.unwrap_or_else(|| {
        let mut edges = Vec::with_capacity(nlat + 1);
        edges.push(if wrap { 90.0 } else { lat[0] });
        edges.extend(lat.windows(2).map(|w| 0.5 * (w[0] + w[1])));
        edges.push(if wrap { -90.0 } else { lat[nlat - 1] });
        edges
            .windows(2)
            .map(|e| e[0].to_radians().sin() - e[1].to_radians().sin())
            .collect()
    });
    let widths: Vec<f64> = if wrap {
        vec![2.0 * PI / nlon as f64; nlon]
    } else {
        let u = &lon_unwrapped;
        (0..nlon)
            .map(|c| {
                let lo = if c == 0 {
                    u[0]
                } else {
                    0.5 * (u[c - 1] + u[c])
                };
                let hi = if c == nlon - 1 {
                    u[nlon - 1]
                } else {
                    0.5 * (u[c] + u[c + 1])
                };
                (hi - lo).to_radians()
            })
            .collect()
    };
    let total_width: f64 = widths.iter().sum();

    // Vertices.
    let mut positions = Vec::with_capacity(nv);
    let mut lat_deg = Vec::with_capacity(nv);
    let mut lon_deg = Vec::with_capacity(nv);
    let mut weights = Vec::with_capacity(nv);
    if has_north {
        positions.push(Point3::new(0.0, 0.0, 1.0));
        lat_deg.push(90.0);
        lon_deg.push(0.0);
        weights.push(if north_row {
            bands[0] * total_width
        } else {
            0.0
        });
    }
    let lon_trig: Vec<(f64, f64)> = (0..nlon)
        .map(|c| {
            let (s, co) = lons_src[col_src(c)].to_radians().sin_cos();
            (co, s)
        })
        .collect();
    for k in k_start..k_end {
        let (sin_p, cos_p) = lat[k].to_radians().sin_cos();
        for c in 0..nlon {
            let (cos_l, sin_l) = lon_trig[c];
            positions.push(Point3::new(cos_p * cos_l, cos_p * sin_l, sin_p));
            lat_deg.push(lat[k]);
            lon_deg.push(lons_src[col_src(c)]);
            weights.push(bands[k] * widths[c]);
        }
    }
    if has_south {
        positions.push(Point3::new(0.0, 0.0, -1.0));
        lat_deg.push(-90.0);
        lon_deg.push(0.0);
        weights.push(if south_row {
            bands[nlat - 1] * total_width
        } else {
            0.0
        });
    }
    debug_assert_eq!(positions.len(), nv);

    // Faces: split quads between rings, fans at the poles; counter-clockwise from outside
    // (east × north = outward).
    let quads = if wrap { nlon } else { nlon - 1 };
    let next = |c: usize| if c + 1 == nlon { 0 } else { c + 1 };
    let nfaces =
        2 * (rings - 1) * quads + quads * (usize::from(has_north) + usize::from(has_south));
    let mut faces = Vec::with_capacity(nfaces);
    if has_north {
        for c in 0..quads {
            faces.push([ring_vertex(k_start, c), ring_vertex(k_start, next(c)), 0]);
        }
    }
    for k in k_start..k_end - 1 {
        for c0 in 0..quads {
            let c1 = next(c0);
            let (a, b) = (ring_vertex(k, c0), ring_vertex(k, c1));
            let (c, d) = (ring_vertex(k + 1, c0), ring_vertex(k + 1, c1));
            faces.push([c, d, b]);
            faces.push([c, b, a]);
        }
    }
    if has_south {
        for c in 0..quads {
            faces.push([
                south_vertex,
                ring_vertex(k_end - 1, next(c)),
                ring_vertex(k_end - 1, c),
            ]);
        }
    }
    debug_assert_eq!(faces.len(), nfaces);

    // Source array → vertex map.
    let mut grid_to_vertex = Vec::with_capacity(nlat * nlon);
    for i in 0..nlat {
        let k = row_src(i);
        for j in 0..nlon {
            let v = if k == 0 && north_row {
                0
            } else if k == nlat - 1 && south_row {
                south_vertex
            } else {
                ring_vertex(k, col_src(j))
            };
            grid_to_vertex.push(v);
        }
    }
    let mut fill = Vec::new();
    if has_north && !north_row {
        fill.push((0, ring_vertex(k_start, 0)..ring_vertex(k_start, 0) + nlon));
    }
    if has_south && !south_row {
        fill.push((
            south_vertex,
            ring_vertex(k_end - 1, 0)..ring_vertex(k_end - 1, 0) + nlon,
        ));
    }

    SphereGrid {
        mesh: TriMesh::new_unchecked(positions, faces),
        lat_deg,
        lon_deg,
        weights,
        kind,
        layout: Some(GridLayout {
            nlat,
            nlon,
            lats_deg: lats_src,
            lons_deg: lons_src,
            order,
            grid_to_vertex,
            fill,
        }),
    }
}

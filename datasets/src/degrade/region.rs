//! Geographic regions (latitude bands, spherical caps, lat/lon polygons) and the per-vertex
//! coordinates they are evaluated on.

use meshflow_geometry::sphere::SphereGrid;
use meshflow_geometry::TriMesh;

use crate::error::{DatasetError, Result};

/// Boundaries are inclusive up to this many degrees, so grid rows that lie exactly on a band
/// edge (up to floating-point rounding of the grid construction) count as inside.
const BOUNDARY_TOL_DEG: f64 = 1e-9;

/// Latitude and longitude of every vertex, in degrees (`[V]` each; latitude in `[−90, 90]`,
/// positive north; longitude positive east, any range — regions handle the wrap).
#[derive(Debug, Clone, PartialEq)]
pub struct LatLon {
    lat_deg: Vec<f64>,
    lon_deg: Vec<f64>,
}

impl LatLon {
    /// Validated coordinates: equal lengths, finite values, `|lat| ≤ 90`.
    pub fn new(lat_deg: Vec<f64>, lon_deg: Vec<f64>) -> Result<Self> {
        if lat_deg.len() != lon_deg.len() {
            return Err(DatasetError::ShapeMismatch {
                what: "longitudes vs latitudes".into(),
                expected: lat_deg.len(),
                got: lon_deg.len(),
            });
        }
        if let Some(i) = lat_deg
            .iter()
            .position(|l| !(l.is_finite() && l.abs() <= 90.0))
        {
            return Err(DatasetError::InvalidArgument(format!(
                "latitude {i} is {} (must be finite, in [−90, 90] degrees)",
                lat_deg[i]
            )));
        }
        if let Some(i) = lon_deg.iter().position(|l| !l.is_finite()) {
            return Err(DatasetError::NonFinite {
                what: "longitude",
                index: i,
            });
        }
        Ok(Self { lat_deg, lon_deg })
    }

    /// The coordinates of a sphere grid's vertices.
    pub fn from_sphere_grid(grid: &SphereGrid) -> Self {
        Self {
            lat_deg: grid.lat_deg().to_vec(),
            lon_deg: grid.lon_deg().to_vec(),
        }
    }

    /// Directions of a mesh's vertices seen from the centre of its bounding box, as latitude
    /// `asin(z/r)` and longitude `atan2(y, x)` (so `+z` is north and `+x` is longitude 0, the
    /// convention of `meshflow_geometry::sphere`). A vertex at the centre gets `(0, 0)`. For a
    /// unit-sphere mesh centred at the origin these are its geographic coordinates.
    pub fn from_mesh(mesh: &TriMesh) -> Self {
        let (lo, hi) = mesh.bounding_box();
        let c = [
            0.5 * (lo.x + hi.x),
            0.5 * (lo.y + hi.y),
            0.5 * (lo.z + hi.z),
        ];
        let (lat_deg, lon_deg) = mesh
            .positions()
            .iter()
            .map(|p| {
                let (x, y, z) = (p.x - c[0], p.y - c[1], p.z - c[2]);
                let r = (x * x + y * y + z * z).sqrt();
                if r == 0.0 {
                    (0.0, 0.0)
                } else {
                    let lat = (z / r).clamp(-1.0, 1.0).asin().to_degrees();
                    let lon = if x == 0.0 && y == 0.0 {
                        0.0
                    } else {
                        y.atan2(x).to_degrees()
                    };
                    (lat, lon)
                }
            })
            .unzip();
        Self { lat_deg, lon_deg }
    }

    /// Latitudes in degrees, `[V]`.
    pub fn lat_deg(&self) -> &[f64] {
        &self.lat_deg
    }

    /// Longitudes in degrees, `[V]`.
    pub fn lon_deg(&self) -> &[f64] {
        &self.lon_deg
    }

    /// Number of vertices `V`.
    pub fn len(&self) -> usize {
        self.lat_deg.len()
    }

    /// True when there are no vertices.
    pub fn is_empty(&self) -> bool {
        self.lat_deg.is_empty()
    }
}

/// A region of the sphere in latitude/longitude (degrees), built by validated constructors
/// and combined by union, intersection and complement.
///
/// * [`Region::band`]: `lat0 ≤ lat ≤ lat1`.
/// * [`Region::cap`]: great-circle distance to a centre `≤ radius`.
/// * [`Region::polygon`]: inside a polygon whose edges are straight lines in the
///   (longitude, latitude) plane (not great circles); see its docs for the longitude wrap.
///
/// Boundaries are inclusive (up to 1e-9°).
#[derive(Debug, Clone, PartialEq)]
pub struct Region(Kind);

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Band {
        lo: f64,
        hi: f64,
    },
    Cap {
        /// Unit vector of the centre.
        centre: [f64; 3],
        radius_rad: f64,
    },
    Polygon {
        /// Vertices `(lon, lat)` with longitudes unwrapped so consecutive ones differ by less
        /// than 180°.
        vertices: Vec<(f64, f64)>,
        lon_min: f64,
    },
    Union(Vec<Region>),
    Intersection(Vec<Region>),
    Complement(Box<Region>),
}

fn check_lat(name: &str, lat: f64) -> Result<()> {
    if lat.is_finite() && lat.abs() <= 90.0 {
        Ok(())
    } else {
        Err(DatasetError::InvalidArgument(format!(
            "{name} must be a latitude in [−90, 90] degrees, got {lat}"
        )))
    }
}

fn unit_vector(lat_deg: f64, lon_deg: f64) -> [f64; 3] {
    let (phi, lambda) = (lat_deg.to_radians(), lon_deg.to_radians());
    [
        phi.cos() * lambda.cos(),
        phi.cos() * lambda.sin(),
        phi.sin(),
    ]
}

/// Wraps a longitude difference into `(−180, 180]`.
fn wrap_delta(d: f64) -> f64 {
    let w = (d + 180.0).rem_euclid(360.0) - 180.0;
    if w == -180.0 {
        180.0
    } else {
        w
    }
}

impl Region {
    /// The latitude band between `lat0` and `lat1` degrees (either order), boundaries
    /// included.
    pub fn band(lat0: f64, lat1: f64) -> Result<Self> {
        check_lat("band latitude LAT0", lat0)?;
        check_lat("band latitude LAT1", lat1)?;
        Ok(Self(Kind::Band {
            lo: lat0.min(lat1),
            hi: lat0.max(lat1),
        }))
    }

    /// The spherical cap of angular radius `radius_deg` (in `(0, 180]`) around the centre
    /// (`lat_deg`, `lon_deg`): the points whose great-circle distance to the centre is at most
    /// the radius.
    pub fn cap(lat_deg: f64, lon_deg: f64, radius_deg: f64) -> Result<Self> {
        check_lat("cap centre latitude", lat_deg)?;
        if !lon_deg.is_finite() {
            return Err(DatasetError::InvalidArgument(format!(
                "cap centre longitude must be finite, got {lon_deg}"
            )));
        }
        if !(radius_deg > 0.0 && radius_deg <= 180.0) {
            return Err(DatasetError::InvalidArgument(format!(
                "cap radius must be in (0, 180] degrees, got {radius_deg}"
            )));
        }
        Ok(Self(Kind::Cap {
            centre: unit_vector(lat_deg, lon_deg),
            radius_rad: radius_deg.to_radians(),
        }))
    }

    /// The polygon with vertices `(lat, lon)` in degrees (at least 3; closed automatically),
    /// tested by the even–odd rule in the (longitude, latitude) plane.
    ///
    /// # Longitude wrap
    /// Each edge goes the **short way** round in longitude (its longitude change is wrapped
    /// into `(−180, 180)`), so `[(0, 350), (0, 10), (10, 10), (10, 350)]` is a 20°-wide box
    /// across the 0° meridian, and any longitude convention (`[0, 360)` or `(−180, 180]`)
    /// works for both the polygon and the tested points. Consequently an edge may not span
    /// exactly 180° of longitude, and polygons that wind around a pole (whose edges add up to
    /// ±360° of longitude) are rejected: use a [`Region::band`] or [`Region::cap`] (or their
    /// union) for polar regions.
    pub fn polygon(vertices: &[(f64, f64)]) -> Result<Self> {
        if vertices.len() < 3 {
            return Err(DatasetError::InvalidArgument(format!(
                "a polygon needs at least 3 vertices, got {}",
                vertices.len()
            )));
        }
        for (i, &(lat, lon)) in vertices.iter().enumerate() {
            check_lat(&format!("polygon vertex {i} latitude"), lat)?;
            if !lon.is_finite() {
                return Err(DatasetError::InvalidArgument(format!(
                    "polygon vertex {i} longitude must be finite, got {lon}"
                )));
            }
        }
        let mut unwrapped = Vec::with_capacity(vertices.len());
        let mut lon = vertices[0].1;
        unwrapped.push((lon, vertices[0].0));
        let n = vertices.len();
        for i in 1..=n {
            let (lat, next_lon) = vertices[i % n];
            let d = wrap_delta(next_lon - vertices[i - 1].1);
            if d.abs() >= 180.0 {
                return Err(DatasetError::InvalidArgument(format!(
                    "polygon edge {} → {} spans 180° of longitude; which way round it goes is \
                     ambiguous (add a vertex in between)",
                    i - 1,
                    i % n
                )));
            }
            lon += d;
            if i < n {
                unwrapped.push((lon, lat));
            }
        }
        // `lon` is now the first vertex's longitude after going once round the polygon.
        if (lon - vertices[0].1).abs() > 1e-6 {
            return Err(DatasetError::InvalidArgument(
                "the polygon winds around a pole (its edges span 360° of longitude); use a \
                 latitude band or a cap for polar regions"
                    .into(),
            ));
        }
        let lon_min = unwrapped.iter().map(|v| v.0).fold(f64::INFINITY, f64::min);
        let lon_max = unwrapped
            .iter()
            .map(|v| v.0)
            .fold(f64::NEG_INFINITY, f64::max);
        if lon_max - lon_min >= 360.0 {
            return Err(DatasetError::InvalidArgument(
                "the polygon spans 360° of longitude or more".into(),
            ));
        }
        Ok(Self(Kind::Polygon {
            vertices: unwrapped,
            lon_min,
        }))
    }

    /// The points in any of `regions` (empty union: nowhere).
    pub fn union(regions: Vec<Region>) -> Self {
        Self(Kind::Union(regions))
    }

    /// The points in all of `regions` (empty intersection: everywhere).
    pub fn intersection(regions: Vec<Region>) -> Self {
        Self(Kind::Intersection(regions))
    }

    /// The points not in `self`.
    pub fn complement(self) -> Self {
        Self(Kind::Complement(Box::new(self)))
    }

    /// Whether the point (`lat_deg`, `lon_deg`) lies in the region.
    pub fn contains(&self, lat_deg: f64, lon_deg: f64) -> bool {
        match &self.0 {
            Kind::Band { lo, hi } => {
                lat_deg >= lo - BOUNDARY_TOL_DEG && lat_deg <= hi + BOUNDARY_TOL_DEG
            }
            Kind::Cap { centre, radius_rad } => {
                let p = unit_vector(lat_deg, lon_deg);
                // Angle between unit vectors via atan2(|p × c|, p · c): accurate at all angles.
                let cross = [
                    p[1] * centre[2] - p[2] * centre[1],
                    p[2] * centre[0] - p[0] * centre[2],
                    p[0] * centre[1] - p[1] * centre[0],
                ];
                let sin = (cross[0].powi(2) + cross[1].powi(2) + cross[2].powi(2)).sqrt();
                let cos = p[0] * centre[0] + p[1] * centre[1] + p[2] * centre[2];
                sin.atan2(cos) <= radius_rad + BOUNDARY_TOL_DEG.to_radians()
            }
            Kind::Polygon { vertices, lon_min } => {
                let x = lon_min + (lon_deg - lon_min).rem_euclid(360.0);
                point_in_polygon(vertices, x, lat_deg)
            }
            Kind::Union(rs) => rs.iter().any(|r| r.contains(lat_deg, lon_deg)),
            Kind::Intersection(rs) => rs.iter().all(|r| r.contains(lat_deg, lon_deg)),
            Kind::Complement(r) => !r.contains(lat_deg, lon_deg),
        }
    }

    /// Per-vertex membership, `[V]` (`true` = inside).
    pub fn select(&self, coords: &LatLon) -> Vec<bool> {
        coords
            .lat_deg()
            .iter()
            .zip(coords.lon_deg())
            .map(|(&la, &lo)| self.contains(la, lo))
            .collect()
    }
}

/// Even–odd rule for the point `(x, y)` against a closed polygon of `(x, y)` vertices.
fn point_in_polygon(vertices: &[(f64, f64)], x: f64, y: f64) -> bool {
    let mut inside = false;
    let n = vertices.len();
    let mut j = n - 1;
    for i in 0..n {
        let (xi, yi) = vertices[i];
        let (xj, yj) = vertices[j];
        if (yi > y) != (yj > y) {
            let x_cross = xi + (y - yi) * (xj - xi) / (yj - yi);
            if x < x_cross {
                inside = !inside;
            }
        }
        j = i;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> (SphereGrid, LatLon) {
        let g = SphereGrid::latlon(61, 120).unwrap();
        let c = LatLon::from_sphere_grid(&g);
        (g, c)
    }

    fn count(v: &[bool]) -> usize {
        v.iter().filter(|&&b| b).count()
    }

    #[test]
    fn band_selects_the_right_rings() {
        let (g, c) = grid();
        let sel = Region::band(-30.0, 30.0).unwrap().select(&c);
        // Brute force: rings at 90 − 3i degrees, 120 vertices each; |lat| ≤ 30 is i = 20..=40.
        let brute = g
            .lat_deg()
            .iter()
            .filter(|l| l.abs() <= 30.0 + 1e-9)
            .count();
        assert_eq!(count(&sel), brute);
        assert_eq!(brute, 21 * 120);
        // Reversed order, and a band containing a pole vertex.
        assert_eq!(Region::band(30.0, -30.0).unwrap().select(&c), sel);
        assert_eq!(
            count(&Region::band(80.0, 90.0).unwrap().select(&c)),
            1 + 3 * 120
        );
        assert!(Region::band(-91.0, 0.0).is_err());
        assert!(Region::band(f64::NAN, 0.0).is_err());
    }

    #[test]
    fn cap_matches_brute_force_distances() {
        let (g, c) = grid();
        for (lat, lon, r) in [(45.0, 10.0, 20.0), (90.0, 0.0, 15.0), (-10.0, 355.0, 30.0)] {
            let sel = Region::cap(lat, lon, r).unwrap().select(&c);
            let centre = unit_vector(lat, lon);
            let brute: Vec<bool> = g
                .mesh()
                .positions()
                .iter()
                .map(|p| {
                    let d = (p.x * centre[0] + p.y * centre[1] + p.z * centre[2])
                        .clamp(-1.0, 1.0)
                        .acos()
                        .to_degrees();
                    d <= r + 1e-7
                })
                .collect();
            assert_eq!(sel, brute, "cap {lat} {lon} {r}");
            assert!(count(&sel) > 0);
        }
        // A polar cap of 15° holds the pole and the rings at 87 … 75 degrees.
        let polar = Region::cap(90.0, 0.0, 15.0).unwrap().select(&c);
        assert_eq!(count(&polar), 1 + 5 * 120);
        // A cap of 180° is the whole sphere.
        assert_eq!(
            count(&Region::cap(0.0, 0.0, 180.0).unwrap().select(&c)),
            g.num_vertices()
        );
        assert!(Region::cap(0.0, 0.0, 0.0).is_err());
        assert!(Region::cap(0.0, 0.0, 181.0).is_err());
    }

    #[test]
    fn polygon_across_the_dateline_and_the_prime_meridian() {
        let (g, c) = grid();
        let brute = |lat_half: f64, lon_c: f64, lon_half: f64| {
            g.lat_deg()
                .iter()
                .zip(g.lon_deg())
                .filter(|(la, lo)| {
                    la.abs() < 90.0
                        && la.abs() <= lat_half
                        && wrap_delta(*lo - lon_c).abs() <= lon_half
                })
                .count()
        };
        // A box of ±10.5° latitude × ±20.5° longitude around 0°E, in −180..180 convention
        // while the grid uses 0..360.
        let b =
            Region::polygon(&[(-10.5, -20.5), (-10.5, 20.5), (10.5, 20.5), (10.5, -20.5)]).unwrap();
        let n = count(&b.select(&c));
        assert_eq!(n, brute(10.5, 0.0, 20.5));
        assert_eq!(n, 7 * 13); // rings −9..9 and longitudes −18..18, step 3
                               // The same box written with 0..360 longitudes, and around the dateline.
        let b2 =
            Region::polygon(&[(-10.5, 339.5), (-10.5, 20.5), (10.5, 20.5), (10.5, 339.5)]).unwrap();
        assert_eq!(b2.select(&c), b.select(&c));
        let d = Region::polygon(&[
            (-10.5, 170.0),
            (-10.5, -170.0),
            (10.5, -170.0),
            (10.5, 170.0),
        ])
        .unwrap();
        assert_eq!(count(&d.select(&c)), brute(10.5, 180.0, 10.0));
        // A triangle: every selected vertex is below the hypotenuse.
        let t = Region::polygon(&[(0.5, 0.5), (0.5, 30.5), (30.5, 0.5)]).unwrap();
        for (i, &inside) in t.select(&c).iter().enumerate() {
            let (la, lo) = (g.lat_deg()[i], g.lon_deg()[i]);
            let expect = la >= 0.5 && (0.5..=30.5).contains(&lo) && la - 0.5 <= 30.0 - (lo - 0.5);
            assert_eq!(inside, expect, "{la} {lo}");
        }
    }

    #[test]
    fn polygon_errors() {
        assert!(Region::polygon(&[(0.0, 0.0), (1.0, 1.0)]).is_err());
        assert!(Region::polygon(&[(0.0, 0.0), (0.0, 180.0), (10.0, 90.0)]).is_err());
        // Winding around the north pole.
        let err = Region::polygon(&[(60.0, 0.0), (60.0, 120.0), (60.0, 240.0)]).unwrap_err();
        assert!(err.to_string().contains("winds around a pole"), "{err}");
        assert!(Region::polygon(&[(95.0, 0.0), (0.0, 1.0), (1.0, 1.0)]).is_err());
    }

    #[test]
    fn unions_intersections_complements() {
        let (_, c) = grid();
        let band = Region::band(-30.0, 30.0).unwrap();
        let cap = Region::cap(0.0, 0.0, 40.0).unwrap();
        let sb = band.select(&c);
        let sc = cap.select(&c);
        let u = Region::union(vec![band.clone(), cap.clone()]).select(&c);
        let i = Region::intersection(vec![band.clone(), cap.clone()]).select(&c);
        let k = band.clone().complement().select(&c);
        for v in 0..c.len() {
            assert_eq!(u[v], sb[v] || sc[v]);
            assert_eq!(i[v], sb[v] && sc[v]);
            assert_eq!(k[v], !sb[v]);
        }
        assert!(count(&u) > count(&sb) && count(&i) < count(&sc));
    }

    #[test]
    fn coordinates_from_a_mesh_match_the_grid() {
        let g = SphereGrid::icosphere(2);
        let c = LatLon::from_mesh(g.mesh());
        for v in 0..g.num_vertices() {
            assert!((c.lat_deg()[v] - g.lat_deg()[v]).abs() < 1e-9);
            if g.lat_deg()[v].abs() < 89.0 {
                assert!(wrap_delta(c.lon_deg()[v] - g.lon_deg()[v]).abs() < 1e-9);
            }
        }
        assert!(LatLon::new(vec![0.0], vec![]).is_err());
        assert!(LatLon::new(vec![91.0], vec![0.0]).is_err());
        assert!(LatLon::new(vec![0.0], vec![f64::NAN]).is_err());
    }
}

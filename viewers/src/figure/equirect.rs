//! Equirectangular (plate carrée) maps of fields on sphere grids: longitude left to right,
//! latitude top (north) to bottom (south), the grid's triangles rasterised in `(lon, lat)` with
//! the values interpolated linearly (so a field linear in latitude or longitude is drawn
//! exactly).

use meshflow_geometry::sphere::{GridKind, SphereGrid};

use super::canvas::{RgbImage, WHITE};
use super::VertexField;
use crate::error::{Result, ViewerError};

/// The longitude–latitude box a map shows, degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapExtent {
    /// Longitude at the left edge.
    pub lon_min: f64,
    /// Longitude at the right edge (`> lon_min`, at most `lon_min + 360`).
    pub lon_max: f64,
    /// Latitude at the bottom edge.
    pub lat_min: f64,
    /// Latitude at the top edge.
    pub lat_max: f64,
}

impl MapExtent {
    /// The whole globe, centred on the Greenwich meridian: `[−180, 180] × [−90, 90]`.
    pub const GLOBAL: MapExtent = MapExtent {
        lon_min: -180.0,
        lon_max: 180.0,
        lat_min: -90.0,
        lat_max: 90.0,
    };

    /// The extent that shows a grid: [`MapExtent::GLOBAL`] for a global grid, the bounding
    /// box of the vertices for a regional patch (longitudes unwrapped around the patch).
    pub fn of_grid(grid: &SphereGrid) -> MapExtent {
        if grid.kind() != GridKind::RegionalLatLon || grid.num_vertices() == 0 {
            return MapExtent::GLOBAL;
        }
        let (lat, lon) = (grid.lat_deg(), grid.lon_deg());
        let centre = lon[lon.len() / 2];
        let mut e = MapExtent {
            lon_min: f64::INFINITY,
            lon_max: f64::NEG_INFINITY,
            lat_min: f64::INFINITY,
            lat_max: f64::NEG_INFINITY,
        };
        for (&la, &lo) in lat.iter().zip(lon) {
            let lo = centre + wrap180(lo - centre);
            e.lon_min = e.lon_min.min(lo);
            e.lon_max = e.lon_max.max(lo);
            e.lat_min = e.lat_min.min(la);
            e.lat_max = e.lat_max.max(la);
        }
        if e.lon_max - e.lon_min < 1e-9 {
            e.lon_max = e.lon_min + 1.0;
        }
        if e.lat_max - e.lat_min < 1e-9 {
            e.lat_max = e.lat_min + 1.0;
        }
        e
    }

    /// Width over height in degrees.
    pub fn aspect(&self) -> f64 {
        (self.lon_max - self.lon_min) / (self.lat_max - self.lat_min)
    }
}

/// `x` wrapped into `[−180, 180)`.
fn wrap180(x: f64) -> f64 {
    (x + 180.0).rem_euclid(360.0) - 180.0
}

/// A map of a field: the picture and the box it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct EquirectMap {
    /// The picture, `width × height`.
    pub image: RgbImage,
    /// The longitude–latitude box of the picture.
    pub extent: MapExtent,
}

/// Renders `field` on `grid` as a `width × height` equirectangular map over
/// [`MapExtent::of_grid`]. Missing values (NaN or masked) show in
/// [`MISSING_COLOR`](crate::colormap::MISSING_COLOR) (a pixel in a triangle with a missing
/// corner takes its nearest corner's value); pixels outside the grid are white.
///
/// # Errors
/// [`ViewerError::ShapeMismatch`] if the values or the mask do not have one entry per vertex;
/// [`ViewerError::InvalidArgument`] for an empty image.
pub fn render_equirect(
    grid: &SphereGrid,
    field: &VertexField<'_>,
    width: u32,
    height: u32,
) -> Result<EquirectMap> {
    let extent = MapExtent::of_grid(grid);
    let values = field.masked_values(grid.num_vertices())?;
    let raster = equirect_values(grid, &values, &extent, width, height)?;
    let mut image = RgbImage::new(width, height, WHITE);
    for (i, v) in raster.iter().enumerate() {
        if let Some(v) = v {
            let (x, y) = (i % width as usize, i / width as usize);
            image.put(x as i64, y as i64, field.scale.color(*v));
        }
    }
    Ok(EquirectMap { image, extent })
}

/// A pixel size that shows a grid's resolution without being huge: about two pixels per
/// grid column for lat-lon grids, clamped to `[360, 720]` pixels wide for the globe; the
/// height follows the extent's aspect ratio.
pub fn default_map_size(grid: &SphereGrid) -> (u32, u32) {
    let extent = MapExtent::of_grid(grid);
    let w = match grid.layout() {
        Some(l) => (2 * l.nlon).clamp(360, 720) as u32,
        None => 480,
    };
    let h = ((w as f64 / extent.aspect()).round() as u32).clamp(60, 720);
    (w, h)
}

/// One corner of a triangle in map space: longitude, latitude (degrees) and the vertex whose
/// value it carries.
#[derive(Clone, Copy)]
struct Corner {
    lon: f64,
    lat: f64,
    v: usize,
}

/// The interpolated value at every pixel (row-major), `None` where no triangle covers it,
/// `Some(NaN)` where the value is missing.
pub(crate) fn equirect_values(
    grid: &SphereGrid,
    values: &[f32],
    extent: &MapExtent,
    width: u32,
    height: u32,
) -> Result<Vec<Option<f32>>> {
    if width == 0 || height == 0 {
        return Err(ViewerError::InvalidArgument(format!(
            "map size {width}x{height} is empty"
        )));
    }
    let (lat, lon) = (grid.lat_deg(), grid.lon_deg());
    let mut out = vec![None; width as usize * height as usize];
    let sx = width as f64 / (extent.lon_max - extent.lon_min);
    let sy = height as f64 / (extent.lat_max - extent.lat_min);
    let is_pole = |v: usize| lat[v].abs() > 90.0 - 1e-9;
    let mut draw = |tri: [Corner; 3]| {
        // Draw at the shifts by whole turns that bring the triangle into view.
        let lo = tri.iter().map(|c| c.lon).fold(f64::INFINITY, f64::min);
        let hi = tri.iter().map(|c| c.lon).fold(f64::NEG_INFINITY, f64::max);
        for turn in -1..=1 {
            let shift = 360.0 * turn as f64;
            if hi + shift < extent.lon_min || lo + shift > extent.lon_max {
                continue;
            }
            let px = tri.map(|c| {
                [
                    (c.lon + shift - extent.lon_min) * sx,
                    (extent.lat_max - c.lat) * sy,
                ]
            });
            fill_triangle(&px, width, height, |i, b| {
                let vs = [values[tri[0].v], values[tri[1].v], values[tri[2].v]];
                out[i] = Some(super::interpolate_or_nearest(vs, b));
            });
        }
    };
    for f in grid.mesh().faces() {
        let poles: Vec<usize> = (0..3).filter(|&k| is_pole(f[k])).collect();
        if poles.len() >= 2 {
            continue; // a sliver along the pole line: no area on the map
        }
        // Unwrap the longitudes of the non-pole corners around the first of them.
        let first = (0..3).find(|&k| !is_pole(f[k])).unwrap_or(0);
        let base = lon[f[first]];
        let corner = |k: usize| Corner {
            lon: base + wrap180(lon[f[k]] - base),
            lat: lat[f[k]],
            v: f[k],
        };
        match poles.first() {
            None => draw([corner(0), corner(1), corner(2)]),
            Some(&p) => {
                // The pole is a whole edge of the map: the triangle (A, B, P) becomes the
                // quad A, B, (lon_B, ±90), (lon_A, ±90) carrying P's value on the pole edge.
                let (a, b) = (corner((p + 1) % 3), corner((p + 2) % 3));
                let pole_lat = lat[f[p]].signum() * 90.0;
                let pb = Corner {
                    lon: b.lon,
                    lat: pole_lat,
                    v: f[p],
                };
                let pa = Corner {
                    lon: a.lon,
                    lat: pole_lat,
                    v: f[p],
                };
                draw([a, b, pb]);
                draw([a, pb, pa]);
            }
        }
    }
    Ok(out)
}

/// Calls `set(pixel index, barycentric weights)` for every pixel whose centre lies in the
/// triangle `px` (pixel coordinates, any orientation).
fn fill_triangle(
    px: &[[f64; 2]; 3],
    width: u32,
    height: u32,
    mut set: impl FnMut(usize, [f32; 3]),
) {
    let [a, b, c] = *px;
    let edge = |a: [f64; 2], b: [f64; 2], p: [f64; 2]| {
        (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
    };
    let area = edge(a, b, c);
    if area.abs() < 1e-12 {
        return;
    }
    let x0 = a[0].min(b[0]).min(c[0]).floor().max(0.0) as i64;
    let x1 = (a[0].max(b[0]).max(c[0]).ceil() as i64).min(width as i64);
    let y0 = a[1].min(b[1]).min(c[1]).floor().max(0.0) as i64;
    let y1 = (a[1].max(b[1]).max(c[1]).ceil() as i64).min(height as i64);
    for y in y0..y1 {
        for x in x0..x1 {
            let p = [x as f64 + 0.5, y as f64 + 0.5];
            let w0 = edge(b, c, p) / area;
            let w1 = edge(c, a, p) / area;
            let w2 = 1.0 - w0 - w1;
            const EPS: f64 = -1e-9;
            if w0 >= EPS && w1 >= EPS && w2 >= EPS {
                set(
                    y as usize * width as usize + x as usize,
                    [w0 as f32, w1 as f32, w2 as f32],
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::colormap::{ColorScale, Colormap, MISSING_COLOR};

    /// Latitude at the centre of pixel row `y` of a map `height` rows high over `e`.
    fn row_lat(e: &MapExtent, y: u32, height: u32) -> f64 {
        e.lat_max - (y as f64 + 0.5) / height as f64 * (e.lat_max - e.lat_min)
    }

    fn assert_latitude_map(grid: &SphereGrid, w: u32, h: u32, tol: f64) {
        let values: Vec<f32> = grid.lat_deg().iter().map(|&l| l as f32).collect();
        let e = MapExtent::of_grid(grid);
        let raster = equirect_values(grid, &values, &e, w, h).unwrap();
        for y in 0..h {
            let expect = row_lat(&e, y, h);
            for x in 0..w {
                let v = raster[(y * w + x) as usize]
                    .unwrap_or_else(|| panic!("pixel ({x}, {y}) not covered on {}", grid.kind()));
                assert!(
                    (v as f64 - expect).abs() < tol,
                    "{}: pixel ({x}, {y}) = {v}, expected {expect}",
                    grid.kind()
                );
            }
        }
    }

    #[test]
    fn a_latitude_field_decreases_from_top_to_bottom_exactly() {
        // Linear interpolation in (lon, lat) reproduces a field linear in latitude, on every
        // kind of global grid, including the pole fans and the seam at 0°/360°.
        assert_latitude_map(&SphereGrid::latlon(7, 12).unwrap(), 72, 36, 1e-3);
        assert_latitude_map(&SphereGrid::latlon(32, 64).unwrap(), 128, 64, 1e-3);
        assert_latitude_map(&SphereGrid::gaussian(8, 16).unwrap(), 64, 32, 1e-3);
        assert_latitude_map(&SphereGrid::icosphere(2), 90, 45, 1e-3);
    }

    #[test]
    fn a_longitude_field_is_continuous_across_the_seam() {
        // cos(lon) is smooth across the 0°/360° seam of the source grid and the ±180° edge.
        let grid = SphereGrid::latlon(19, 36).unwrap();
        let values: Vec<f32> = grid
            .lon_deg()
            .iter()
            .map(|&l| l.to_radians().cos() as f32)
            .collect();
        let e = MapExtent::GLOBAL;
        let (w, h) = (180, 90);
        let r = equirect_values(&grid, &values, &e, w, h).unwrap();
        let y = h / 3; // away from the poles (where the pole vertex carries a ring mean)
        for x in 0..w {
            let lon = e.lon_min + (x as f64 + 0.5) * 2.0;
            let v = r[(y * w + x) as usize].unwrap();
            assert!(
                (v as f64 - lon.to_radians().cos()).abs() < 0.02,
                "x = {x}: {v}"
            );
        }
    }

    #[test]
    fn coloured_map_puts_north_on_top_and_missing_in_grey() {
        let grid = SphereGrid::latlon(7, 12).unwrap();
        let values: Vec<f32> = grid.lat_deg().iter().map(|&l| l as f32).collect();
        let scale = ColorScale::fit(Colormap::Viridis, &values, None);
        let map = render_equirect(&grid, &VertexField::new(&values, None, scale), 120, 60).unwrap();
        assert_eq!((map.image.width(), map.image.height()), (120, 60));
        assert_eq!(map.extent, MapExtent::GLOBAL);
        assert_eq!(
            map.image.pixel(60, 0),
            scale.color(row_lat(&map.extent, 0, 60) as f32)
        );
        assert_eq!(
            map.image.pixel(60, 59),
            scale.color(row_lat(&map.extent, 59, 60) as f32)
        );
        // Mask the northern hemisphere's vertices: the top of the map is grey.
        let mask: Vec<bool> = grid.lat_deg().iter().map(|&l| l < 1.0).collect();
        let map = render_equirect(
            &grid,
            &VertexField::new(&values, Some(&mask), scale),
            120,
            60,
        )
        .unwrap();
        assert_eq!(map.image.pixel(30, 2), MISSING_COLOR);
        assert_ne!(map.image.pixel(30, 57), MISSING_COLOR);
    }

    #[test]
    fn a_regional_patch_fills_its_own_box() {
        let lats: Vec<f64> = (0..9).map(|i| 60.0 - 2.0 * i as f64).collect();
        let lons: Vec<f64> = (0..13).map(|j| 350.0 + 2.0 * j as f64).collect(); // wraps at 0°
        let grid = SphereGrid::regional_latlon(&lats, &lons).unwrap();
        let e = MapExtent::of_grid(&grid);
        assert!((e.lon_max - e.lon_min - 24.0).abs() < 1e-9, "{e:?}");
        assert_eq!((e.lat_min, e.lat_max), (44.0, 60.0));
        assert_latitude_map(&grid, 48, 32, 1e-3);
        let (w, h) = default_map_size(&grid);
        assert_eq!(w, 360);
        assert_eq!(h, 240);
    }
}

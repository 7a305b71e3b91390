//! Grid-level tests: counts, weights, mesh validity, layouts.

use std::f64::consts::PI;

use super::*;

const FOUR_PI: f64 = 4.0 * PI;

/// Compensated (Neumaier) sum, so that the tests measure the weights, not the summation.
fn sum(xs: &[f64]) -> f64 {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for &x in xs {
        let t = s + x;
        c += if s.abs() >= x.abs() {
            (s - t) + x
        } else {
            (x - t) + s
        };
        s = t;
    }
    s + c
}

/// Directed edges of a mesh, sorted.
fn directed_edges(mesh: &TriMesh) -> Vec<(usize, usize)> {
    let mut e: Vec<(usize, usize)> = mesh
        .faces()
        .iter()
        .flat_map(|&[a, b, c]| [(a, b), (b, c), (c, a)])
        .collect();
    e.sort_unstable();
    e
}

/// Checks orientation consistency; returns (undirected edges, boundary edges).
fn check_oriented(mesh: &TriMesh) -> (usize, usize) {
    for (f, &[a, b, c]) in mesh.faces().iter().enumerate() {
        assert!(
            a != b && b != c && c != a,
            "degenerate face {f}: {:?}",
            [a, b, c]
        );
    }
    let e = directed_edges(mesh);
    assert!(
        e.windows(2).all(|w| w[0] != w[1]),
        "a directed edge is used twice"
    );
    let mut undirected = 0;
    let mut boundary = 0;
    for &(a, b) in &e {
        let paired = e.binary_search(&(b, a)).is_ok();
        if !paired {
            boundary += 1;
            undirected += 1;
        } else if a < b {
            undirected += 1;
        }
    }
    let mut used = vec![false; mesh.num_vertices()];
    mesh.faces().iter().flatten().for_each(|&v| used[v] = true);
    assert!(used.iter().all(|&u| u), "an unused vertex");
    (undirected, boundary)
}

/// A closed, edge-manifold, outward-oriented sphere mesh with χ = 2 and unit-length vertices.
fn check_closed_sphere(grid: &SphereGrid) {
    let mesh = grid.mesh();
    let (edges, boundary) = check_oriented(mesh);
    assert_eq!(boundary, 0, "a global grid must be closed");
    let chi = mesh.num_vertices() as i64 - edges as i64 + mesh.num_faces() as i64;
    assert_eq!(chi, 2, "Euler characteristic");
    for p in mesh.positions() {
        assert!((p.coords.norm() - 1.0).abs() < 1e-14);
    }
    let vol = mesh.signed_volume();
    assert!(vol > 0.0 && vol < FOUR_PI / 3.0, "signed volume {vol}");
    assert!(
        mesh.face_areas().iter().all(|&a| a > 0.0),
        "a zero-area face"
    );
    let area = mesh.total_area();
    assert!(area < FOUR_PI && area > 0.3 * FOUR_PI, "area {area}");
    assert_eq!(grid.lat_deg().len(), mesh.num_vertices());
    assert_eq!(grid.lon_deg().len(), mesh.num_vertices());
    assert_eq!(grid.quadrature_weights().len(), mesh.num_vertices());
    for (v, p) in mesh.positions().iter().enumerate() {
        assert!(
            (p.z - grid.lat_deg()[v].to_radians().sin()).abs() < 1e-12,
            "lat of vertex {v}"
        );
    }
}

fn assert_weights_sum(grid: &SphereGrid, expected: f64) {
    let s = sum(grid.quadrature_weights());
    assert!(
        ((s - expected) / expected).abs() < 1e-12,
        "{:?}: weights sum {s}, expected {expected}",
        grid.kind()
    );
    assert!(grid.quadrature_weights().iter().all(|&w| w >= 0.0));
}

#[test]
fn latlon_counts_weights_and_meshes() {
    // (nlat, nlon, vertices, poles)
    for (nlat, nlon, nv, poles) in [
        (61, 120, 59 * 120 + 2, Poles::Included),
        (46, 90, 44 * 90 + 2, Poles::Included),
        (32, 64, 32 * 64 + 2, Poles::Excluded),
        (19, 40, 17 * 40 + 2, Poles::Included), // neither square shape: poles assumed
    ] {
        assert_eq!(Poles::infer(nlat, nlon), poles);
        let grid = SphereGrid::latlon(nlat, nlon).unwrap();
        assert_eq!(grid.kind(), GridKind::LatLon);
        assert_eq!(grid.num_vertices(), nv, "{nlat}x{nlon}");
        assert_weights_sum(&grid, FOUR_PI);
        check_closed_sphere(&grid);
        let layout = grid.layout().unwrap();
        assert_eq!((layout.nlat, layout.nlon), (nlat, nlon));
        assert_eq!(layout.order, LatitudeOrder::NorthToSouth);
        assert_eq!(layout.grid_to_vertex.len(), nlat * nlon);
        assert!(layout.lats_deg.windows(2).all(|w| w[0] > w[1]));
        assert_eq!(layout.lons_deg[1], 360.0 / nlon as f64);
    }
    let g = SphereGrid::latlon(32, 64).unwrap();
    assert!((g.layout().unwrap().lats_deg[0] - 87.1875).abs() < 1e-12);
    // Added pole vertices carry no weight; pole rows carry the polar cap.
    assert_eq!(g.quadrature_weights()[0], 0.0);
    let g = SphereGrid::latlon(61, 120).unwrap();
    let cap = 2.0 * PI * (1.0 - 88.5f64.to_radians().sin());
    assert!((g.quadrature_weights()[0] - cap).abs() < 1e-15);
    assert!((g.mesh().total_area() - FOUR_PI).abs() < 0.01 * FOUR_PI);
}

#[test]
fn latlon_era5_quarter_degree_is_fast_and_valid() {
    let t = std::time::Instant::now();
    let grid = SphereGrid::latlon(721, 1440).unwrap();
    let built = t.elapsed();
    eprintln!("latlon(721, 1440) built in {built:?} (test profile)");
    assert_eq!(grid.num_vertices(), 719 * 1440 + 2); // 1,038,240 grid points
    assert_eq!(grid.mesh().num_faces(), 2 * 719 * 1440);
    assert_weights_sum(&grid, FOUR_PI);
    check_closed_sphere(&grid);
    assert!((grid.mesh().total_area() - FOUR_PI).abs() < 1e-4 * FOUR_PI);
}

#[test]
fn latlon_rejects_degenerate_shapes() {
    assert!(SphereGrid::latlon(61, 2).is_err());
    assert!(SphereGrid::latlon_with(2, 8, Poles::Included).is_err());
    assert!(SphereGrid::latlon_with(0, 8, Poles::Excluded).is_err());
    assert!(SphereGrid::latlon(usize::MAX, 3).is_err());
    // One ring and two added poles is the smallest closed lat-lon grid.
    let g = SphereGrid::latlon_with(1, 3, Poles::Excluded).unwrap();
    check_closed_sphere(&g);
    let g = SphereGrid::latlon_with(3, 3, Poles::Included).unwrap();
    check_closed_sphere(&g);
}

#[test]
fn gaussian_grid_t42() {
    let grid = SphereGrid::gaussian(64, 128).unwrap();
    assert_eq!(grid.kind(), GridKind::Gaussian);
    assert_eq!(grid.num_vertices(), 64 * 128 + 2);
    assert_weights_sum(&grid, FOUR_PI);
    check_closed_sphere(&grid);
    let lats = &grid.layout().unwrap().lats_deg;
    assert!((lats[0] - 87.8638).abs() < 5e-5);
    assert!((lats[31] - 1.395307).abs() < 5e-7);
    assert!((lats[32] + 1.395307).abs() < 5e-7);
    // Integrates sin^k φ exactly up to k = 2·64 − 1.
    for k in [0, 1, 2, 10, 127] {
        let q: f64 = grid
            .quadrature_weights()
            .iter()
            .zip(grid.lat_deg())
            .map(|(w, lat)| w * lat.to_radians().sin().powi(k))
            .sum();
        let exact = if k % 2 == 0 {
            FOUR_PI / (k as f64 + 1.0)
        } else {
            0.0
        };
        assert!((q - exact).abs() < 1e-12, "k={k}: {q} vs {exact}");
    }
    assert!(SphereGrid::gaussian(63, 128).is_err());
    assert!(SphereGrid::gaussian(0, 128).is_err());
}

#[test]
fn icosphere_levels() {
    for level in 0..=4u32 {
        let grid = SphereGrid::icosphere(level);
        let f = 20 * 4usize.pow(level);
        assert_eq!(grid.num_vertices(), f / 2 + 2);
        assert_eq!(grid.mesh().num_faces(), f);
        assert_eq!(grid.kind(), GridKind::Icosphere);
        assert!(grid.layout().is_none());
        assert_weights_sum(&grid, FOUR_PI);
        check_closed_sphere(&grid);
        assert!(grid.lon_deg().iter().all(|&l| l > -180.0 && l <= 180.0));
    }
    let g = SphereGrid::icosphere(4);
    assert_eq!((g.num_vertices(), g.mesh().num_faces()), (2562, 5120));
    assert!((g.mesh().total_area() - FOUR_PI).abs() < 0.01 * FOUR_PI);
    // Nested: level 4 starts with the level-3 vertices.
    let g3 = SphereGrid::icosphere(3);
    assert_eq!(&g.mesh().positions()[..642], g3.mesh().positions());
    assert!(g.to_vertex_order(&[0.0f32; 4]).is_err());
}

#[test]
fn vertex_and_grid_order_round_trip() {
    for grid in [
        SphereGrid::latlon(61, 120).unwrap(),
        SphereGrid::latlon(32, 64).unwrap(),
        SphereGrid::gaussian(16, 32).unwrap(),
    ] {
        let layout = grid.layout().unwrap().clone();
        // A smooth field, exactly constant on pole rows.
        let field: Vec<f32> = (0..layout.nlat)
            .flat_map(|i| {
                let lat = layout.lats_deg[i];
                layout.lons_deg.iter().map(move |&lon| {
                    if lat.abs() == 90.0 {
                        lat.signum() as f32
                    } else {
                        (lat.to_radians().sin() + lat.to_radians().cos() * lon.to_radians().cos())
                            as f32
                    }
                })
            })
            .collect();
        let v = grid.to_vertex_order(&field).unwrap();
        assert_eq!(v.len(), grid.num_vertices());
        assert_eq!(grid.to_grid_order(&v).unwrap(), field);
        // The f64 path agrees.
        let field64: Vec<f64> = field.iter().map(|&x| x as f64).collect();
        let v64 = grid.to_vertex_order(&field64).unwrap();
        assert!(v64
            .iter()
            .zip(&v)
            .all(|(a, &b)| (a - b as f64).abs() < 1e-6));
        // Vertex values sit at the right place: compare with the vertex coordinates.
        for (k, (&lat, &lon)) in grid
            .lat_deg()
            .iter()
            .zip(grid.lon_deg())
            .enumerate()
            .skip(1)
            .take(500)
        {
            let expect = lat.to_radians().sin() + lat.to_radians().cos() * lon.to_radians().cos();
            assert!((v64[k] - expect).abs() < 1e-6, "vertex {k}");
        }
        // Length mismatches are errors.
        assert!(matches!(
            grid.to_vertex_order(&field[1..]),
            Err(GeometryError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            grid.to_grid_order(&v[1..]),
            Err(GeometryError::ShapeMismatch { .. })
        ));
    }
    // Added poles take the mean of their ring; pole rows the mean of the row.
    let g = SphereGrid::latlon(32, 64).unwrap();
    let field: Vec<f32> = (0..32 * 64)
        .map(|i| (i % 64) as f32 + if i < 64 { 100.0 } else { 0.0 })
        .collect();
    let v = g.to_vertex_order(&field).unwrap();
    assert_eq!(v[0], 131.5);
    assert_eq!(v[g.num_vertices() - 1], 31.5);
    let g = SphereGrid::latlon(61, 120).unwrap();
    let field: Vec<f64> = (0..61 * 120).map(|i| (i % 120) as f64).collect();
    assert_eq!(g.to_vertex_order(&field).unwrap()[0], 59.5);
}

fn steps(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let n = ((stop - start) / step).round() as usize;
    (0..=n).map(|i| start + step * i as f64).collect()
}

#[test]
fn from_coords_handles_either_latitude_order() {
    let lats_ns = steps(90.0, -90.0, -3.0);
    let lats_sn: Vec<f64> = lats_ns.iter().rev().copied().collect();
    let lons = steps(-180.0, 177.0, 3.0);
    let ns = SphereGrid::from_latlon_coords(&lats_ns, &lons).unwrap();
    let sn = SphereGrid::from_latlon_coords(&lats_sn, &lons).unwrap();
    assert_eq!(ns.kind(), GridKind::LatLon);
    assert_eq!(ns.num_vertices(), 7082);
    assert_eq!(ns.mesh().positions(), sn.mesh().positions());
    assert_eq!(ns.mesh().faces(), sn.mesh().faces());
    assert_eq!(ns.quadrature_weights(), sn.quadrature_weights());
    assert_eq!(ns.layout().unwrap().order, LatitudeOrder::NorthToSouth);
    assert_eq!(sn.layout().unwrap().order, LatitudeOrder::SouthToNorth);
    assert_eq!(sn.layout().unwrap().lats_deg, lats_sn);
    check_closed_sphere(&sn);
    assert_weights_sum(&sn, FOUR_PI);
    // The same physical field in both storage orders lands on the same vertices.
    let field = |lats: &[f64]| -> Vec<f32> {
        lats.iter()
            .flat_map(|&lat| {
                lons.iter()
                    .map(move |&lon| (lat + 0.01 * lon * (90.0 - lat.abs())) as f32)
            })
            .collect()
    };
    assert_eq!(
        ns.to_vertex_order(&field(&lats_ns)).unwrap(),
        sn.to_vertex_order(&field(&lats_sn)).unwrap()
    );
    assert_eq!(
        sn.to_grid_order(&sn.to_vertex_order(&field(&lats_sn)).unwrap())
            .unwrap(),
        field(&lats_sn)
    );
    // Same vertices as the built-in 61x120 grid up to the longitude labels.
    let builtin = SphereGrid::latlon(61, 120).unwrap();
    assert_eq!(builtin.num_vertices(), ns.num_vertices());
}

#[test]
fn from_coords_detects_global_and_wrapping_longitudes() {
    // WeatherBench 5.625°, decreasing longitudes, south→north.
    let lats: Vec<f64> = (0..32).map(|i| -90.0 + (i as f64 + 0.5) * 5.625).collect();
    let lons: Vec<f64> = (0..64).rev().map(|j| j as f64 * 5.625).collect();
    let g = SphereGrid::from_latlon_coords(&lats, &lons).unwrap();
    assert_eq!(g.kind(), GridKind::LatLon);
    assert_eq!(g.num_vertices(), 32 * 64 + 2);
    check_closed_sphere(&g);
    assert_weights_sum(&g, FOUR_PI);
    // Same weights as the built-in WeatherBench grid.
    let builtin = SphereGrid::latlon(32, 64).unwrap();
    let (mut a, mut b) = (
        g.quadrature_weights().to_vec(),
        builtin.quadrature_weights().to_vec(),
    );
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-15));
    let field: Vec<f64> = (0..32 * 64).map(|i| i as f64).collect();
    assert_eq!(
        g.to_grid_order(&g.to_vertex_order(&field).unwrap())
            .unwrap(),
        field
    );
    // Longitudes that cross 360 → 0, stored as f32.
    let lons: Vec<f64> = (0..90)
        .map(|j| ((180.0 + 4.0 * j as f64) % 360.0) as f32 as f64)
        .collect();
    let lats: Vec<f64> = (0..46)
        .map(|i| (90.0 - 4.0 * i as f64) as f32 as f64)
        .collect();
    let g = SphereGrid::from_latlon_coords(&lats, &lons).unwrap();
    assert_eq!(g.kind(), GridKind::LatLon);
    assert_eq!(g.num_vertices(), 44 * 90 + 2);
    check_closed_sphere(&g);
    // 0.1° stored as f32 is still global.
    let lons: Vec<f64> = (0..3600).map(|j| (0.1 * j as f64) as f32 as f64).collect();
    let g = SphereGrid::from_latlon_coords(&[10.0, 0.0, -10.0], &lons).unwrap();
    assert_eq!(g.kind(), GridKind::LatLon);
    check_closed_sphere(&g);
}

#[test]
fn from_coords_regional_patch_has_a_boundary() {
    let lats = steps(60.0, 30.0, -0.25);
    let lons = steps(-10.0, 40.0, 0.25);
    assert_eq!((lats.len(), lons.len()), (121, 201));
    let g = SphereGrid::from_latlon_coords(&lats, &lons).unwrap();
    assert_eq!(g.kind(), GridKind::RegionalLatLon);
    assert_eq!(g.num_vertices(), 121 * 201);
    let (edges, boundary) = check_oriented(g.mesh());
    assert_eq!(boundary, 2 * (120 + 200));
    let chi = g.num_vertices() as i64 - edges as i64 + g.mesh().num_faces() as i64;
    assert_eq!(chi, 1, "a disc");
    assert!(g.mesh().signed_volume() > 0.0);
    let area = 50f64.to_radians() * (60f64.to_radians().sin() - 30f64.to_radians().sin());
    assert_weights_sum(&g, area);
    assert!((g.mesh().total_area() - area).abs() < 1e-3 * area);
    let f: Vec<f32> = (0..121 * 201).map(|i| i as f32).collect();
    assert_eq!(g.to_grid_order(&g.to_vertex_order(&f).unwrap()).unwrap(), f);

    // The UK patch (33x49), south→north with decreasing longitudes, and one crossing 0°.
    let lats = steps(48.0, 56.0, 0.25);
    let lons: Vec<f64> = steps(-8.0, 4.0, 0.25).into_iter().rev().collect();
    let uk = SphereGrid::regional_latlon(&lats, &lons).unwrap();
    assert_eq!(uk.num_vertices(), 33 * 49);
    assert!(uk.mesh().signed_volume() > 0.0);
    check_oriented(uk.mesh());
    let lons: Vec<f64> = steps(352.0, 364.0, 0.25)
        .into_iter()
        .map(|l| l % 360.0)
        .collect();
    let uk2 = SphereGrid::from_latlon_coords(&lats, &lons).unwrap();
    assert_eq!(uk2.kind(), GridKind::RegionalLatLon);
    assert!((sum(uk.quadrature_weights()) - sum(uk2.quadrature_weights())).abs() < 1e-15);
    assert!(uk2.mesh().signed_volume() > 0.0);

    // A patch touching the pole: the pole row is one vertex joined by a partial fan.
    let lats = steps(90.0, 60.0, -1.0);
    let lons = steps(0.0, 90.0, 1.0);
    let cap = SphereGrid::from_latlon_coords(&lats, &lons).unwrap();
    assert_eq!(cap.num_vertices(), 30 * 91 + 1);
    let (_, boundary) = check_oriented(cap.mesh());
    assert!(boundary > 0);
    let area = 90f64.to_radians() * (1.0 - 60f64.to_radians().sin());
    assert_weights_sum(&cap, area);
}

#[test]
fn from_coords_rejects_bad_coordinates() {
    let lons = steps(0.0, 357.0, 3.0);
    let err = |lats: &[f64], lons: &[f64]| {
        SphereGrid::from_latlon_coords(lats, lons)
            .unwrap_err()
            .to_string()
    };
    assert!(err(&[10.0], &lons).contains("at least 2 latitudes"));
    assert!(err(&[10.0, f64::NAN], &lons).contains("latitude 1 is not finite"));
    assert!(err(&[10.0, 0.0, 5.0], &lons).contains("strictly"));
    assert!(err(&[10.0, 10.0], &lons).contains("strictly"));
    assert!(err(&[91.0, 0.0], &lons).contains("outside [-90, 90]"));
    assert!(err(&[90.0, -90.0], &lons).contains("only the two poles"));
    assert!(err(&[10.0, 0.0], &[0.0]).contains("at least 2 longitudes"));
    assert!(err(&[10.0, 0.0], &[0.0, 1.0, 1.0]).contains("strictly"));
    assert!(err(&[10.0, 0.0], &[0.0, 2.0, 1.0]).contains("strictly"));
    assert!(err(&[10.0, 0.0], &steps(0.0, 360.0, 3.0)).contains("overlap"));
    assert!(err(&[10.0, 0.0], &[0.0, f64::INFINITY]).contains("longitude 1 is not finite"));
}

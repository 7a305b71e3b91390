//! Subdivided icosahedra.

use std::collections::HashMap;
use std::f64::consts::PI;

use nalgebra::Point3;

use super::{GridKind, SphereGrid};
use crate::mesh::TriMesh;

impl SphereGrid {
    /// An icosphere: the regular icosahedron subdivided `level` times, every triangle split
    /// into four at its edge midpoints and the new vertices projected to the unit sphere, so
    /// `V = 10·4^level + 2` and `F = 20·4^level` (level 3: 642 vertices, level 6: 40,962).
    ///
    /// The icosahedron has a vertex at each pole and ten at latitudes ±atan(½) ≈ ±26.57°
    /// (longitudes 0°, 72°, … in the north, 36°, 108°, … in the south). Vertex order: the 12
    /// icosahedron vertices, then the vertices of each level in creation order (so the first
    /// `10·4^l + 2` vertices of any icosphere form the level-`l` icosphere). Longitudes lie in
    /// `(−180, 180]` (0 at the poles).
    ///
    /// Quadrature weights: the barycentric dual areas of the mesh
    /// ([`TriMesh::vertex_dual_areas`]) rescaled so that they sum to exactly `4π`.
    ///
    /// Memory grows as `4^level`: level 9 has 2.6 million vertices; level 11 needs several GiB.
    pub fn icosphere(level: u32) -> Self {
        let (positions, faces) = subdivided_icosahedron(level);
        let mesh = TriMesh::new_unchecked(positions, faces);
        let mut weights = mesh.vertex_dual_areas();
        let scale = 4.0 * PI / weights.iter().sum::<f64>();
        weights.iter_mut().for_each(|w| *w *= scale);
        let (lat_deg, lon_deg) = mesh
            .positions()
            .iter()
            .map(|p| {
                let lat = p.z.clamp(-1.0, 1.0).asin().to_degrees();
                let lon = if p.x == 0.0 && p.y == 0.0 {
                    0.0
                } else {
                    p.y.atan2(p.x).to_degrees()
                };
                (lat, if lon == -180.0 { 180.0 } else { lon })
            })
            .unzip();
        SphereGrid {
            mesh,
            lat_deg,
            lon_deg,
            weights,
            kind: GridKind::Icosphere,
            layout: None,
        }
    }
}

/// Positions and faces of the icosahedron subdivided `level` times.
fn subdivided_icosahedron(level: u32) -> (Vec<Point3<f64>>, Vec<[usize; 3]>) {
    let factor = 4usize.pow(level);
    let nv = 10 * factor + 2;
    let mut positions = Vec::with_capacity(nv);
    let from_lat_lon = |lat: f64, lon: f64| {
        let (sp, cp) = lat.sin_cos();
        let (sl, cl) = lon.sin_cos();
        Point3::new(cp * cl, cp * sl, sp)
    };
    let band = 0.5f64.atan();
    positions.push(Point3::new(0.0, 0.0, 1.0));
    for i in 0..5 {
        positions.push(from_lat_lon(band, (72.0 * i as f64).to_radians()));
    }
    for i in 0..5 {
        positions.push(from_lat_lon(-band, (72.0 * i as f64 + 36.0).to_radians()));
    }
    positions.push(Point3::new(0.0, 0.0, -1.0));
    let up = |i: usize| 1 + i % 5;
    let lo = |i: usize| 6 + i % 5;
    let mut faces = Vec::with_capacity(20 * factor);
    for i in 0..5 {
        faces.push([0, up(i), up(i + 1)]);
        faces.push([up(i), lo(i), up(i + 1)]);
        faces.push([up(i + 1), lo(i), lo(i + 1)]);
        faces.push([11, lo(i + 1), lo(i)]);
    }
    for _ in 0..level {
        let mut midpoint: HashMap<(usize, usize), usize> =
            HashMap::with_capacity(faces.len() * 3 / 2);
        let mut mid = |a: usize, b: usize, positions: &mut Vec<Point3<f64>>| {
            let key = if a < b { (a, b) } else { (b, a) };
            *midpoint.entry(key).or_insert_with(|| {
                let m = (positions[a].coords + positions[b].coords).normalize();
                positions.push(Point3::from(m));
                positions.len() - 1
            })
        };
        let mut refined = Vec::with_capacity(faces.len() * 4);
        for &[a, b, c] in &faces {
            let ab = mid(a, b, &mut positions);
            let bc = mid(b, c, &mut positions);
            let ca = mid(c, a, &mut positions);
            refined.extend_from_slice(&[[a, ab, ca], [ab, b, bc], [ca, bc, c], [ab, bc, ca]]);
        }
        faces = refined;
    }
    debug_assert_eq!(positions.len(), nv);
    (positions, faces)
}

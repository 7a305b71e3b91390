//! Small meshes with known topology, used by tests across the workspace and handy for users:
//! a closed tetrahedron and octahedron, a planar grid with boundary, a genus-1 torus and a
//! non-manifold "fin".

use nalgebra::Point3;
use std::f64::consts::TAU;

use crate::mesh::TriMesh;

/// A regular tetrahedron inscribed in the unit sphere (4 vertices, 4 faces, closed, χ = 2),
/// faces oriented outward.
pub fn tetrahedron() -> TriMesh {
    let s = 1.0 / 3f64.sqrt();
    let p = vec![
        Point3::new(s, s, s),
        Point3::new(s, -s, -s),
        Point3::new(-s, s, -s),
        Point3::new(-s, -s, s),
    ];
    TriMesh::new_unchecked(p, vec![[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]])
}

/// The unit octahedron (6 vertices, 8 faces, closed, χ = 2), faces oriented outward.
pub fn octahedron() -> TriMesh {
    let p = vec![
        Point3::new(1.0, 0.0, 0.0),
        Point3::new(-1.0, 0.0, 0.0),
        Point3::new(0.0, 1.0, 0.0),
        Point3::new(0.0, -1.0, 0.0),
        Point3::new(0.0, 0.0, 1.0),
        Point3::new(0.0, 0.0, -1.0),
    ];
    let f = vec![
        [0, 2, 4],
        [2, 1, 4],
        [1, 3, 4],
        [3, 0, 4],
        [2, 0, 5],
        [1, 2, 5],
        [3, 1, 5],
        [0, 3, 5],
    ];
    TriMesh::new_unchecked(p, f)
}

/// A planar `nx × ny`-vertex grid over `[0, width] × [0, height]` in the z = 0 plane, each cell
/// split into two triangles (normals +z). It has `2(nx − 1) + 2(ny − 1)` boundary edges.
///
/// # Panics
/// If `nx < 2` or `ny < 2`.
pub fn plane_grid(nx: usize, ny: usize, width: f64, height: f64) -> TriMesh {
    assert!(nx >= 2 && ny >= 2, "plane_grid needs at least 2×2 vertices");
    let mut p = Vec::with_capacity(nx * ny);
    for j in 0..ny {
        for i in 0..nx {
            p.push(Point3::new(
                width * i as f64 / (nx - 1) as f64,
                height * j as f64 / (ny - 1) as f64,
                0.0,
            ));
        }
    }
    let mut f = Vec::with_capacity(2 * (nx - 1) * (ny - 1));
    for j in 0..ny - 1 {
        for i in 0..nx - 1 {
            let a = j * nx + i;
            let (b, c, d) = (a + 1, a + nx, a + nx + 1);
            f.push([a, b, d]);
            f.push([a, d, c]);
        }
    }
    TriMesh::new_unchecked(p, f)
}

/// A torus with `n_major × n_minor` vertices, major radius `r_major`, minor radius `r_minor`,
/// closed, genus 1 (χ = 0), faces oriented outward.
///
/// # Panics
/// If `n_major < 3` or `n_minor < 3`.
pub fn torus(n_major: usize, n_minor: usize, r_major: f64, r_minor: f64) -> TriMesh {
    assert!(
        n_major >= 3 && n_minor >= 3,
        "torus needs at least 3×3 vertices"
    );
    let mut p = Vec::with_capacity(n_major * n_minor);
    for i in 0..n_major {
        let u = TAU * i as f64 / n_major as f64;
        for j in 0..n_minor {
            let v = TAU * j as f64 / n_minor as f64;
            let r = r_major + r_minor * v.cos();
            p.push(Point3::new(r * u.cos(), r * u.sin(), r_minor * v.sin()));
        }
    }
    let idx = |i: usize, j: usize| (i % n_major) * n_minor + (j % n_minor);
    let mut f = Vec::with_capacity(2 * n_major * n_minor);
    for i in 0..n_major {
        for j in 0..n_minor {
            let (a, b, c, d) = (idx(i, j), idx(i + 1, j), idx(i, j + 1), idx(i + 1, j + 1));
            f.push([a, b, d]);
            f.push([a, d, c]);
        }
    }
    TriMesh::new_unchecked(p, f)
}

/// Three triangles sharing the edge (0, 1): one non-manifold edge, six boundary edges.
pub fn fin() -> TriMesh {
    let p = vec![
        Point3::new(0.0, 0.0, 0.0),
        Point3::new(1.0, 0.0, 0.0),
        Point3::new(0.5, 1.0, 0.0),
        Point3::new(0.5, -1.0, 0.0),
        Point3::new(0.5, 0.0, 1.0),
    ];
    TriMesh::new_unchecked(p, vec![[0, 1, 2], [1, 0, 3], [0, 1, 4]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_primitives_enclose_positive_volume() {
        // Outward orientation ⇒ positive signed volume.
        assert!(tetrahedron().signed_volume() > 0.0);
        let oct = octahedron();
        assert!((oct.signed_volume() - 4.0 / 3.0).abs() < 1e-12);
        let t = torus(24, 12, 2.0, 0.5);
        // Inscribed polyhedral torus: volume a bit below 2π²Rr².
        let exact = 2.0 * std::f64::consts::PI.powi(2) * 2.0 * 0.25;
        let v = t.signed_volume();
        assert!(v > 0.9 * exact && v < exact, "torus volume {v} vs {exact}");
    }

    #[test]
    fn plane_grid_area() {
        let g = plane_grid(5, 4, 2.0, 3.0);
        assert_eq!(g.num_vertices(), 20);
        assert_eq!(g.num_faces(), 24);
        assert!((g.total_area() - 6.0).abs() < 1e-12);
        assert!(g.vertex_normals().iter().all(|n| (n.z - 1.0).abs() < 1e-12));
    }
}

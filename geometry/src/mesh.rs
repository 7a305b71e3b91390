//! Triangle meshes: vertex positions plus triangle connectivity.
//!
//! Connectivity (faces) and geometry (positions) are kept apart, as in geometry-central: the
//! [`TriMesh`] stores both, while derived quantities (edges, report, operators) are computed by
//! free functions in [`crate::topology`] and [`crate::operators`].

use nalgebra::{Point3, Vector3};

use crate::error::{GeometryError, Result};

/// A triangle mesh with `V` vertices and `F` faces.
///
/// Faces are vertex-index triples, counter-clockwise seen from outside for oriented surfaces
/// (the outward normal is `(p1 − p0) × (p2 − p0)`).
#[derive(Debug, Clone, PartialEq)]
pub struct TriMesh {
    positions: Vec<Point3<f64>>,
    faces: Vec<[usize; 3]>,
}

impl TriMesh {
    /// Builds a mesh after checking that every coordinate is finite and every face index is in
    /// range. An empty face list is allowed (a point cloud); an empty vertex list is not.
    pub fn new(positions: Vec<Point3<f64>>, faces: Vec<[usize; 3]>) -> Result<Self> {
        if positions.is_empty() {
            return Err(GeometryError::EmptyMesh("the mesh has no vertices".into()));
        }
        if let Some(i) = positions
            .iter()
            .position(|p| !(p.x.is_finite() && p.y.is_finite() && p.z.is_finite()))
        {
            return Err(GeometryError::NonFinite {
                what: "vertex",
                index: i,
            });
        }
        let n = positions.len();
        for (f, face) in faces.iter().enumerate() {
            if let Some(&index) = face.iter().find(|&&i| i >= n) {
                return Err(GeometryError::IndexOutOfRange {
                    face: f,
                    index,
                    vertices: n,
                });
            }
        }
        Ok(Self { positions, faces })
    }

    /// Builds a mesh without validation. The caller guarantees finite coordinates and in-range
    /// indices (used by the built-in generators, which construct valid meshes by design).
    pub fn new_unchecked(positions: Vec<Point3<f64>>, faces: Vec<[usize; 3]>) -> Self {
        debug_assert!(faces.iter().all(|f| f.iter().all(|&i| i < positions.len())));
        Self { positions, faces }
    }

    /// Number of vertices `V`.
    pub fn num_vertices(&self) -> usize {
        self.positions.len()
    }

    /// Number of faces `F`.
    pub fn num_faces(&self) -> usize {
        self.faces.len()
    }

    /// Vertex positions, `[V]`.
    pub fn positions(&self) -> &[Point3<f64>] {
        &self.positions
    }

    /// Faces as vertex-index triples, `[F]`.
    pub fn faces(&self) -> &[[usize; 3]] {
        &self.faces
    }

    /// Splits the mesh into its positions and faces.
    pub fn into_parts(self) -> (Vec<Point3<f64>>, Vec<[usize; 3]>) {
        (self.positions, self.faces)
    }

    /// The three corner positions of face `f`.
    pub fn face_corners(&self, f: usize) -> [Point3<f64>; 3] {
        let [a, b, c] = self.faces[f];
        [self.positions[a], self.positions[b], self.positions[c]]
    }

    /// Unnormalised face normal `(p1 − p0) × (p2 − p0)`; its norm is twice the face area.
    pub fn face_normal_scaled(&self, f: usize) -> Vector3<f64> {
        let [p0, p1, p2] = self.face_corners(f);
        (p1 - p0).cross(&(p2 - p0))
    }

    /// Area of every face, `[F]`.
    pub fn face_areas(&self) -> Vec<f64> {
        (0..self.faces.len())
            .map(|f| 0.5 * self.face_normal_scaled(f).norm())
            .collect()
    }

    /// Total surface area (sum of face areas).
    pub fn total_area(&self) -> f64 {
        self.face_areas().iter().sum()
    }

    /// Barycentric dual area of every vertex, `[V]`: one third of the area of each incident
    /// face. These are the diagonal entries of the lumped mass matrix and sum to the total area.
    pub fn vertex_dual_areas(&self) -> Vec<f64> {
        let mut areas = vec![0.0; self.positions.len()];
        for (f, face) in self.faces.iter().enumerate() {
            let third = 0.5 * self.face_normal_scaled(f).norm() / 3.0;
            for &v in face {
                areas[v] += third;
            }
        }
        areas
    }

    /// Area-weighted unit vertex normals, `[V]` (zero for vertices without faces).
    pub fn vertex_normals(&self) -> Vec<Vector3<f64>> {
        let mut normals = vec![Vector3::zeros(); self.positions.len()];
        for (f, face) in self.faces.iter().enumerate() {
            let n = self.face_normal_scaled(f);
            for &v in face {
                normals[v] += n;
            }
        }
        for n in &mut normals {
            let len = n.norm();
            if len > 0.0 {
                *n /= len;
            }
        }
        normals
    }

    /// Axis-aligned bounding box `(min, max)`.
    pub fn bounding_box(&self) -> (Point3<f64>, Point3<f64>) {
        let mut lo = self.positions[0];
        let mut hi = self.positions[0];
        for p in &self.positions {
            for k in 0..3 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        (lo, hi)
    }

    /// Signed volume enclosed by the surface (positive for a closed mesh with outward normals).
    pub fn signed_volume(&self) -> f64 {
        self.faces
            .iter()
            .map(|&[a, b, c]| {
                let (p0, p1, p2) = (self.positions[a], self.positions[b], self.positions[c]);
                p0.coords.dot(&p1.coords.cross(&p2.coords)) / 6.0
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_indices_and_nan() {
        let p = vec![
            Point3::origin(),
            Point3::new(1.0, 0.0, 0.0),
            Point3::new(0.0, 1.0, 0.0),
        ];
        let err = TriMesh::new(p.clone(), vec![[0, 1, 3]]).unwrap_err();
        assert!(matches!(
            err,
            GeometryError::IndexOutOfRange {
                face: 0,
                index: 3,
                vertices: 3
            }
        ));
        let mut q = p.clone();
        q[1].y = f64::NAN;
        assert!(matches!(
            TriMesh::new(q, vec![[0, 1, 2]]).unwrap_err(),
            GeometryError::NonFinite { index: 1, .. }
        ));
        assert!(TriMesh::new(vec![], vec![]).is_err());
    }

    #[test]
    fn areas_of_a_right_triangle() {
        let p = vec![
            Point3::origin(),
            Point3::new(2.0, 0.0, 0.0),
            Point3::new(0.0, 2.0, 0.0),
        ];
        let m = TriMesh::new(p, vec![[0, 1, 2]]).unwrap();
        assert!((m.total_area() - 2.0).abs() < 1e-15);
        let dual: f64 = m.vertex_dual_areas().iter().sum();
        assert!((dual - 2.0).abs() < 1e-15);
        assert!((m.vertex_normals()[0].z - 1.0).abs() < 1e-15);
    }
}

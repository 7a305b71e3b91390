//! Discrete differential operators on triangle meshes and point clouds.
//!
//! # Sign convention
//! meshflow's Laplacian `L` is the **weak form** and **positive semi-definite**:
//! `xᵀ L x = ½ Σ_ij w_ij (x_i − x_j)² ≥ 0` and `L·1 = 0`. It approximates `−Δ` integrated
//! against hat functions, so the continuous eigenproblem `−Δφ = λφ` becomes the generalised
//! problem `L φ = λ M φ` with a mass matrix `M` ([`vertex_lumped_mass_matrix`] or
//! [`vertex_galerkin_mass_matrix`]). libigl's `cotmatrix` has the opposite sign.

use nalgebra::Point3;
use sprs::CsMat;

use crate::error::{GeometryError, Result};
use crate::linalg::{check_square, SparseCholesky};
use crate::mesh::TriMesh;
use crate::resample::PointIndex;

/// Builds a symmetric CSR matrix from off-diagonal entries `(i, j, w)` (each unordered pair
/// given once, duplicates summed, mirrored to `(j, i)`) and a diagonal.
///
/// Assembly is a counting sort by row, O(nnz), which keeps it fast on million-vertex grids.
pub(crate) fn assemble_symmetric(
    n: usize,
    off_diagonal: &[(usize, usize, f64)],
    diagonal: &[f64],
) -> CsMat<f64> {
    debug_assert_eq!(diagonal.len(), n);
    let mut counts = vec![0usize; n + 1];
    for &(i, j, _) in off_diagonal {
        counts[i + 1] += 1;
        counts[j + 1] += 1;
    }
    for i in 0..n {
        counts[i + 1] += counts[i];
    }
    let mut fill = counts.clone();
    let mut cols = vec![0usize; counts[n]];
    let mut vals = vec![0.0f64; counts[n]];
    for &(i, j, w) in off_diagonal {
        cols[fill[i]] = j;
        vals[fill[i]] = w;
        fill[i] += 1;
        cols[fill[j]] = i;
        vals[fill[j]] = w;
        fill[j] += 1;
    }
    // Per row: sort by column, merge duplicates, insert the diagonal.
    let mut indptr = Vec::with_capacity(n + 1);
    let mut indices = Vec::with_capacity(counts[n] / 2 + n);
    let mut data = Vec::with_capacity(counts[n] / 2 + n);
    let mut row: Vec<(usize, f64)> = Vec::new();
    indptr.push(0);
    for i in 0..n {
        row.clear();
        row.extend((counts[i]..counts[i + 1]).map(|k| (cols[k], vals[k])));
        row.push((i, diagonal[i]));
        row.sort_unstable_by_key(|e| e.0);
        let mut k = 0;
        while k < row.len() {
            let (c, mut v) = row[k];
            k += 1;
            while k < row.len() && row[k].0 == c {
                v += row[k].1;
                k += 1;
            }
            indices.push(c);
            data.push(v);
        }
        indptr.push(indices.len());
    }
    CsMat::new((n, n), indptr, indices, data)
}

/// Cotangent of the angle at `apex` in the triangle (`apex`, `a`, `b`); `None` for a
/// degenerate (zero-area) triangle.
fn cot_at(apex: &Point3<f64>, a: &Point3<f64>, b: &Point3<f64>) -> Option<f64> {
    let (u, v) = (a - apex, b - apex);
    let cross = u.cross(&v).norm();
    (cross > 0.0 && cross.is_finite()).then(|| u.dot(&v) / cross)
}

/// The cotangent Laplacian `L` (`V × V`, CSR), symmetric positive semi-definite, weak form:
/// `L_ij = −½ (cot α_ij + cot β_ij)` for every edge (i, j), where α and β are the angles
/// opposite the edge, and `L_ii = −Σ_{j≠i} L_ij`, so `L·1 = 0`.
///
/// Zero-area (degenerate) faces contribute nothing. Boundary edges have a single opposite
/// angle (natural Neumann boundary). Non-manifold edges sum over all incident faces.
pub fn cotan_laplacian(mesh: &TriMesh) -> CsMat<f64> {
    let p = mesh.positions();
    let mut off = Vec::with_capacity(3 * mesh.num_faces());
    let mut diag = vec![0.0; mesh.num_vertices()];
    for &[a, b, c] in mesh.faces() {
        for (apex, i, j) in [(a, b, c), (b, c, a), (c, a, b)] {
            if let Some(cot) = cot_at(&p[apex], &p[i], &p[j]) {
                let w = 0.5 * cot;
                off.push((i, j, -w));
                diag[i] += w;
                diag[j] += w;
            }
        }
    }
    assemble_symmetric(mesh.num_vertices(), &off, &diag)
}

/// The lumped (diagonal) mass matrix `M_ii` = barycentric dual area of vertex `i` (one third
/// of its incident face areas), `V × V`. Its trace is the total surface area.
pub fn vertex_lumped_mass_matrix(mesh: &TriMesh) -> CsMat<f64> {
    diagonal_matrix(mesh.vertex_dual_areas())
}

/// Builds a diagonal CSR matrix from its diagonal, e.g. a lumped mass from quadrature weights.
pub fn diagonal_matrix(diagonal: Vec<f64>) -> CsMat<f64> {
    let n = diagonal.len();
    CsMat::new((n, n), (0..=n).collect(), (0..n).collect(), diagonal)
}

/// The consistent (Galerkin, P1 finite-element) mass matrix `M_ij = ∫ φ_i φ_j`, `V × V`:
/// per face of area A, `A/6` on the diagonal and `A/12` off the diagonal. Its entries sum to
/// the total area and its row sums equal the lumped masses.
pub fn vertex_galerkin_mass_matrix(mesh: &TriMesh) -> CsMat<f64> {
    let mut off = Vec::with_capacity(3 * mesh.num_faces());
    let mut diag = vec![0.0; mesh.num_vertices()];
    for (f, &[a, b, c]) in mesh.faces().iter().enumerate() {
        let area = 0.5 * mesh.face_normal_scaled(f).norm();
        for (i, j) in [(a, b), (b, c), (c, a)] {
            off.push((i, j, area / 12.0));
        }
        for v in [a, b, c] {
            diag[v] += area / 6.0;
        }
    }
    assemble_symmetric(mesh.num_vertices(), &off, &diag)
}

/// A k-nearest-neighbour graph Laplacian for a point cloud, `L = D − W` (`N × N`, CSR,
/// symmetric positive semi-definite, `L·1 = 0`).
///
/// `W` is the symmetrised kNN graph (an edge when either point is among the other's `k`
/// nearest) with heat-kernel weights `exp(−d²/h²)`, `h` the mean distance to the k-th
/// neighbour. Returns an error when `k == 0`, `k ≥ N`, or a point is not finite.
pub fn knn_graph_laplacian(points: &[Point3<f64>], k: usize) -> Result<CsMat<f64>> {
    let n = points.len();
    if k == 0 || k >= n {
        return Err(GeometryError::InvalidArgument(format!(
            "knn_graph_laplacian needs 0 < k < number of points ({n}), got k = {k}"
        )));
    }
    if let Some(i) = points
        .iter()
        .position(|p| !p.coords.iter().all(|c| c.is_finite()))
    {
        return Err(GeometryError::NonFinite {
            what: "point",
            index: i,
        });
    }
    let index = PointIndex::new(points)?;
    let mut pairs: Vec<(usize, usize, f64)> = Vec::with_capacity(n * k);
    let mut kth_sum = 0.0;
    for (i, q) in points.iter().enumerate() {
        let mut kth: f64 = 0.0;
        for (j, d2) in index.nearest_k(q, k + 1) {
            if j != i {
                pairs.push((i.min(j), i.max(j), d2));
                kth = kth.max(d2);
            }
        }
        kth_sum += kth.sqrt();
    }
    let h = (kth_sum / n as f64).max(f64::MIN_POSITIVE);
    pairs.sort_unstable_by_key(|a| (a.0, a.1));
    pairs.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    let mut diag = vec![0.0; n];
    let off: Vec<(usize, usize, f64)> = pairs
        .into_iter()
        .map(|(i, j, d2)| {
            let w = (-d2 / (h * h)).exp();
            diag[i] += w;
            diag[j] += w;
            (i, j, -w)
        })
        .collect();
    Ok(assemble_symmetric(n, &off, &diag))
}

/// Implicit heat-flow smoothing on a surface: `x ↦ (M + tL)⁻¹ M x`, one backward-Euler step
/// of the heat equation `∂u/∂t = Δu` for time `t` (in squared length units of the mesh).
///
/// The factorisation of `M + tL` is computed once in [`HeatSmoother::new`] and reused for
/// every right-hand side. Smoothing preserves the mass-weighted mean `1ᵀ M x`.
#[derive(Debug, Clone)]
pub struct HeatSmoother {
    chol: SparseCholesky,
    mass: CsMat<f64>,
    time: f64,
}

impl HeatSmoother {
    /// Factorises `M + tL`. `t` must be finite and ≥ 0; `l` and `m` square of the same size.
    pub fn new(l: &CsMat<f64>, m: &CsMat<f64>, time: f64) -> Result<Self> {
        if !(time.is_finite() && time >= 0.0) {
            return Err(GeometryError::InvalidArgument(format!(
                "heat smoothing time must be finite and non-negative, got {time}"
            )));
        }
        check_square(l, l.rows(), "Laplacian")?;
        check_square(m, l.rows(), "mass matrix")?;
        let a = m + &l.map(|v| v * time);
        let chol = SparseCholesky::factor(&a.to_csr())?;
        Ok(Self {
            chol,
            mass: m.to_csr(),
            time,
        })
    }

    /// The diffusion time `t`.
    pub fn time(&self) -> f64 {
        self.time
    }

    /// Smooths one signal `x` (`[V]`), returning `(M + tL)⁻¹ M x`.
    pub fn smooth(&self, x: &[f64]) -> Result<Vec<f64>> {
        if x.len() != self.chol.dim() {
            return Err(GeometryError::ShapeMismatch {
                what: "signal to smooth".into(),
                expected: self.chol.dim(),
                got: x.len(),
            });
        }
        let mut b = crate::linalg::spmv(&self.mass, x);
        self.chol.solve_in_place(&mut b);
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::{quadratic_form, spmv};
    use crate::primitives;
    use proptest::prelude::*;

    fn is_symmetric(a: &CsMat<f64>, tol: f64) -> bool {
        let t = a.transpose_view().to_csr();
        (a - &t).data().iter().all(|v| v.abs() <= tol)
    }

    #[test]
    fn planar_grid_laplacian_is_the_five_point_stencil() {
        // On a regular right-triangle grid the cotan Laplacian of an interior vertex is the
        // 5-point stencil (weights −1 to the axis neighbours, 0 to the diagonal one).
        let g = primitives::plane_grid(5, 5, 4.0, 4.0);
        let l = cotan_laplacian(&g);
        let centre = 12;
        assert!((l.get(centre, centre).unwrap() - 4.0).abs() < 1e-12);
        for nb in [11, 13, 7, 17] {
            assert!((l.get(centre, nb).unwrap() + 1.0).abs() < 1e-12);
        }
        assert!(l.get(centre, 18).is_none_or(|v| v.abs() < 1e-12));
        // Linear functions are harmonic at interior vertices.
        let x: Vec<f64> = g
            .positions()
            .iter()
            .map(|p| 2.0 * p.x - 3.0 * p.y)
            .collect();
        assert!(spmv(&l, &x)[centre].abs() < 1e-12);
    }

    #[test]
    fn dirichlet_energy_of_a_linear_function_is_exact() {
        // For f = a·x + b·y on a planar mesh, xᵀLx = |∇f|² · area exactly.
        let g = primitives::plane_grid(7, 4, 3.0, 2.0);
        let f: Vec<f64> = g
            .positions()
            .iter()
            .map(|p| 0.5 * p.x + 2.0 * p.y)
            .collect();
        let energy = quadratic_form(&cotan_laplacian(&g), &f);
        assert!((energy - (0.25 + 4.0) * 6.0).abs() < 1e-10, "{energy}");
    }

    #[test]
    fn galerkin_mass_sums_to_area_and_rows_to_lumped() {
        let t = primitives::torus(16, 8, 2.0, 0.7);
        let mg = vertex_galerkin_mass_matrix(&t);
        let ml = vertex_lumped_mass_matrix(&t);
        let total: f64 = mg.data().iter().sum();
        assert!((total - t.total_area()).abs() < 1e-10);
        let ones = vec![1.0; t.num_vertices()];
        let rows = spmv(&mg, &ones);
        for (i, r) in rows.iter().enumerate() {
            assert!((r - ml.get(i, i).unwrap()).abs() < 1e-12);
        }
    }

    #[test]
    fn heat_smoothing_preserves_mass_and_reduces_energy() {
        let s = primitives::torus(20, 10, 2.0, 0.6);
        let l = cotan_laplacian(&s);
        let m = vertex_lumped_mass_matrix(&s);
        let x: Vec<f64> = (0..s.num_vertices())
            .map(|i| ((i * 7919) % 13) as f64)
            .collect();
        let h = HeatSmoother::new(&l, &m, 0.05).unwrap();
        let y = h.smooth(&x).unwrap();
        let mass = |v: &[f64]| spmv(&m, v).iter().sum::<f64>();
        assert!((mass(&x) - mass(&y)).abs() < 1e-9 * mass(&x).abs());
        assert!(quadratic_form(&l, &y) < 0.5 * quadratic_form(&l, &x));
        assert!(h.smooth(&x[1..]).is_err());
        assert!(HeatSmoother::new(&l, &m, f64::NAN).is_err());
    }

    #[test]
    fn knn_laplacian_of_a_point_cloud() {
        let s = primitives::torus(12, 6, 2.0, 0.5);
        let l = knn_graph_laplacian(s.positions(), 6).unwrap();
        assert!(is_symmetric(&l, 1e-14));
        let ones = vec![1.0; s.num_vertices()];
        assert!(spmv(&l, &ones).iter().all(|v| v.abs() < 1e-12));
        // Each point has at least k neighbours in the symmetrised graph.
        assert!(l.outer_iterator().all(|row| row.nnz() > 6));
        assert!(knn_graph_laplacian(s.positions(), 0).is_err());
        assert!(knn_graph_laplacian(&s.positions()[..3], 3).is_err());
    }

    /// Random small meshes: a jittered planar grid lifted onto a random height field, so
    /// triangles have arbitrary (including obtuse) angles.
    fn random_mesh() -> impl Strategy<Value = TriMesh> {
        (2usize..7, 2usize..7)
            .prop_flat_map(|(nx, ny)| {
                (
                    Just((nx, ny)),
                    proptest::collection::vec(-0.3f64..0.3, nx * ny * 3),
                )
            })
            .prop_map(|((nx, ny), jitter)| {
                let g = primitives::plane_grid(nx, ny, 1.0, 1.0);
                let (mut p, f) = g.into_parts();
                for (i, q) in p.iter_mut().enumerate() {
                    q.x += jitter[3 * i] / nx as f64;
                    q.y += jitter[3 * i + 1] / ny as f64;
                    q.z += jitter[3 * i + 2];
                }
                TriMesh::new(p, f).unwrap()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn laplacian_properties_on_random_meshes(
            mesh in random_mesh(),
            x in proptest::collection::vec(-1.0f64..1.0, 49),
        ) {
            let l = cotan_laplacian(&mesh);
            let n = mesh.num_vertices();
            prop_assert!(is_symmetric(&l, 1e-12));
            let ones = vec![1.0; n];
            let l1 = spmv(&l, &ones);
            prop_assert!(l1.iter().all(|v| v.abs() < 1e-9), "L·1 = {:?}", l1);
            // xᵀLx = ½ Σ_faces Σ_edges cot·(x_i − x_j)² equals the P1 Dirichlet energy ≥ 0.
            prop_assert!(quadratic_form(&l, &x[..n]) >= -1e-10);
            let m = vertex_lumped_mass_matrix(&mesh);
            let trace: f64 = (0..n).map(|i| m.get(i, i).copied().unwrap_or(0.0)).sum();
            prop_assert!((trace - mesh.total_area()).abs() < 1e-12 * (1.0 + mesh.total_area()));
        }
    }
}

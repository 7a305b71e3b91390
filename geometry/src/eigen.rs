//! The smallest eigenpairs of the generalised problem `L φ = λ M φ` (Laplacian `L` symmetric
//! positive semi-definite, mass `M` symmetric positive definite): the spectral basis of a
//! surface.
//!
//! # Method
//! Shift-and-invert **block** subspace iteration with Rayleigh–Ritz projection:
//! `K = L + σM` (σ > 0 small, so `K` is positive definite even though `L` is singular) is
//! factorised once by sparse Cholesky; each iteration applies `K⁻¹M` to a block of `p > k`
//! vectors, M-orthonormalises it (Cholesky-QR, twice), solves the projected `p × p`
//! eigenproblem and checks the residuals `‖Lφ − λMφ‖` of the wanted `k` pairs. Because the
//! whole block is iterated, eigenvalues of any multiplicity below `p` are found with a full
//! M-orthonormal eigenbasis — the sphere's `l(l+1)` with multiplicity `2l + 1`, for example,
//! where single-vector Lanczos would miss copies. Small problems (`V ≤ dense_threshold`)
//! are solved densely.
//!
//! Eigenvectors are M-orthonormal: `Φᵀ M Φ = I`. Their signs are fixed so that the entry of
//! largest magnitude is positive (reproducible across runs).

use faer::{Mat, Side};
use rand::{rngs::StdRng, Rng, SeedableRng};
use sprs::CsMat;

use crate::error::{GeometryError, Result};
use crate::linalg::{check_square, spmm, SparseCholesky};

/// Options for [`smallest_generalized_eigenpairs`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EigenOptions {
    /// Relative residual tolerance: a pair is converged when
    /// `‖Lφ − λMφ‖ ≤ tol · (‖Lφ‖ + |λ|‖Mφ‖ + σ‖Mφ‖)`.
    pub tolerance: f64,
    /// Maximum number of block iterations before giving up with an error.
    pub max_iterations: usize,
    /// Block size as a function of k: `max(2k, k + 16)`, unless set here.
    pub block_size: Option<usize>,
    /// Problems with at most this many vertices are solved with dense linear algebra.
    pub dense_threshold: usize,
    /// Seed of the random starting block.
    pub seed: u64,
}

impl Default for EigenOptions {
    fn default() -> Self {
        Self {
            tolerance: 1e-8,
            max_iterations: 500,
            block_size: None,
            dense_threshold: 400,
            seed: 0x5eed,
        }
    }
}

/// `k` eigenpairs, eigenvalues ascending.
#[derive(Debug, Clone)]
pub struct EigenPairs {
    /// Eigenvalues `λ_0 ≤ λ_1 ≤ …`, `[k]`.
    pub values: Vec<f64>,
    /// Eigenvectors, column-major `[V × k]`: vector `i` is `vectors[i*V .. (i+1)*V]`.
    pub vectors: Vec<f64>,
    /// Number of vertices `V`.
    pub num_vertices: usize,
    /// Block iterations used (0 for the dense path).
    pub iterations: usize,
}

impl EigenPairs {
    /// Number of pairs `k`.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no pair was requested.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Eigenvector `i`, `[V]`.
    pub fn vector(&self, i: usize) -> &[f64] {
        &self.vectors[i * self.num_vertices..(i + 1) * self.num_vertices]
    }
}

/// Computes the `k` smallest eigenpairs of `L φ = λ M φ`.
///
/// `l`: `V × V` symmetric positive semi-definite (e.g. [`crate::operators::cotan_laplacian`]);
/// `m`: `V × V` symmetric positive definite (lumped or Galerkin mass). Errors when the shapes
/// disagree, `k` is 0 or larger than `V`, `M` is not positive definite, or the iteration does
/// not converge within `max_iterations`.
pub fn smallest_generalized_eigenpairs(
    l: &CsMat<f64>,
    m: &CsMat<f64>,
    k: usize,
    options: &EigenOptions,
) -> Result<EigenPairs> {
    let n = l.rows();
    check_square(l, n, "Laplacian")?;
    check_square(m, n, "mass matrix")?;
    if k == 0 || k > n {
        return Err(GeometryError::InvalidArgument(format!(
            "number of eigenpairs must be in 1..={n} (the number of vertices), got {k}"
        )));
    }
    let (l, m) = (l.to_csr(), m.to_csr());
    if n <= options.dense_threshold.max(k + 1) {
        return dense_eigenpairs(&l, &m, k);
    }
    block_iteration(&l, &m, k, options)
}

fn to_dense(a: &CsMat<f64>) -> Mat<f64> {
    let mut d = Mat::<f64>::zeros(a.rows(), a.cols());
    for (i, row) in a.outer_iterator().enumerate() {
        for (j, v) in row.iter() {
            d[(i, j)] += *v;
        }
    }
    d
}

/// Dense path: `M = RRᵀ` (Cholesky), solve the standard problem `R⁻¹ L R⁻ᵀ`.
fn dense_eigenpairs(l: &CsMat<f64>, m: &CsMat<f64>, k: usize) -> Result<EigenPairs> {
    let n = l.rows();
    let md = to_dense(m);
    let chol = md.llt(Side::Lower).map_err(|e| {
        GeometryError::Numerical(format!("mass matrix is not positive definite ({e:?})"))
    })?;
    let r = chol.L().to_owned();
    // C = R⁻¹ L R⁻ᵀ
    let mut c = to_dense(l);
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(
        r.as_ref(),
        c.as_mut(),
        faer::Par::Seq,
    );
    let mut ct = c.transpose().to_owned();
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(
        r.as_ref(),
        ct.as_mut(),
        faer::Par::Seq,
    );
    let sym = Mat::from_fn(n, n, |i, j| 0.5 * (ct[(i, j)] + ct[(j, i)]));
    let evd = sym
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| GeometryError::Numerical(format!("dense eigensolver failed ({e:?})")))?;
    // φ = R⁻ᵀ u
    let mut u = evd.U().subcols(0, k).to_owned();
    faer::linalg::triangular_solve::solve_upper_triangular_in_place(
        r.transpose(),
        u.as_mut(),
        faer::Par::Seq,
    );
    let values = (0..k).map(|i| evd.S()[i]).collect();
    Ok(finish(values, u, 0))
}

/// Fixes signs and flattens.
fn finish(values: Vec<f64>, mut vecs: Mat<f64>, iterations: usize) -> EigenPairs {
    let n = vecs.nrows();
    let k = values.len();
    let mut flat = Vec::with_capacity(n * k);
    for j in 0..k {
        let col = vecs.col_as_slice_mut(j);
        let big = col
            .iter()
            .copied()
            .fold(0.0f64, |a, b| if b.abs() > a.abs() { b } else { a });
        if big < 0.0 {
            col.iter_mut().for_each(|x| *x = -*x);
        }
        flat.extend_from_slice(col);
    }
    EigenPairs {
        values,
        vectors: flat,
        num_vertices: n,
        iterations,
    }
}

/// `Y ← Y G⁻ᵀ` with `YᵀMY = GGᵀ`: M-orthonormalises the columns of `y` (Cholesky-QR).
fn m_orthonormalize(y: &mut Mat<f64>, m: &CsMat<f64>) -> Result<()> {
    for _ in 0..2 {
        let my = spmm(m, y);
        let gram = y.transpose() * &my;
        let gram = Mat::from_fn(gram.nrows(), gram.ncols(), |i, j| {
            0.5 * (gram[(i, j)] + gram[(j, i)])
        });
        let chol = gram.llt(Side::Lower).map_err(|_| {
            GeometryError::Numerical(
                "the iteration block lost rank (M-Gram matrix not positive definite)".into(),
            )
        })?;
        // Y Gᵀ⁻¹ = (G⁻¹ Yᵀ)ᵀ
        let mut yt = y.transpose().to_owned();
        faer::linalg::triangular_solve::solve_lower_triangular_in_place(
            chol.L(),
            yt.as_mut(),
            faer::Par::Seq,
        );
        *y = yt.transpose().to_owned();
    }
    Ok(())
}

fn block_iteration(
    l: &CsMat<f64>,
    m: &CsMat<f64>,
    k: usize,
    options: &EigenOptions,
) -> Result<EigenPairs> {
    let n = l.rows();
    let p = options
        .block_size
        .unwrap_or((2 * k).max(k + 16))
        .clamp(k + 1, n);
    // Shift σ: a small fraction of the typical diagonal ratio, so K = L + σM is positive
    // definite (L is only semi-definite) without slowing convergence of the smallest pairs.
    let diag = |a: &CsMat<f64>| {
        (0..n)
            .map(|i| a.get(i, i).copied().unwrap_or(0.0).abs())
            .sum::<f64>()
    };
    let (tl, tm) = (diag(l), diag(m));
    if !(tm > 0.0 && tm.is_finite()) {
        return Err(GeometryError::Numerical(
            "mass matrix has a zero or non-finite diagonal".into(),
        ));
    }
    let sigma = 1e-6 * (tl / tm).max(f64::MIN_POSITIVE);
    let shifted = l + &m.map(|v| v * sigma);
    let chol = SparseCholesky::factor(&shifted.to_csr())?;

    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut x = Mat::from_fn(n, p, |_, _| rng.random::<f64>() - 0.5);
    m_orthonormalize(&mut x, m)?;
    let mut worst = f64::INFINITY;
    for it in 1..=options.max_iterations {
        // Y = K⁻¹ M X
        let mut y = spmm(m, &x);
        chol.solve_mat_in_place(y.as_mut());
        m_orthonormalize(&mut y, m)?;
        // Rayleigh–Ritz: A = Yᵀ L Y (Y is M-orthonormal, so the projected problem is standard).
        let ly = spmm(l, &y);
        let a = y.transpose() * &ly;
        let a = Mat::from_fn(p, p, |i, j| 0.5 * (a[(i, j)] + a[(j, i)]));
        let evd = a.self_adjoint_eigen(Side::Lower).map_err(|e| {
            GeometryError::Numerical(format!("projected eigensolver failed ({e:?})"))
        })?;
        x = &y * evd.U();
        let values: Vec<f64> = (0..p).map(|i| evd.S()[i]).collect();
        // Residuals of the wanted pairs: LX − MXΛ = (LY)U − M X Λ.
        let lx = &ly * evd.U().subcols(0, k);
        let mx = spmm(m, &x.subcols(0, k).to_owned());
        worst = 0.0;
        for j in 0..k {
            let (lc, mc) = (lx.col_as_slice(j), mx.col_as_slice(j));
            let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
            let r: f64 = lc
                .iter()
                .zip(mc)
                .map(|(a, b)| (a - values[j] * b).powi(2))
                .sum::<f64>()
                .sqrt();
            let scale = norm(lc) + (values[j].abs() + sigma) * norm(mc);
            worst = worst.max(r / scale);
        }
        if worst <= options.tolerance {
            let vecs = x.subcols(0, k).to_owned();
            return Ok(finish(values[..k].to_vec(), vecs, it));
        }
    }
    Err(GeometryError::Numerical(format!(
        "eigensolver did not converge in {} iterations (worst relative residual {worst:.2e}); \
         raise max_iterations or the block size",
        options.max_iterations
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operators::{cotan_laplacian, vertex_lumped_mass_matrix};
    use crate::primitives;

    #[test]
    fn iterative_and_dense_paths_agree_on_a_torus() {
        let t = primitives::torus(24, 12, 2.0, 0.6);
        let (l, m) = (cotan_laplacian(&t), vertex_lumped_mass_matrix(&t));
        let dense = smallest_generalized_eigenpairs(
            &l,
            &m,
            12,
            &EigenOptions {
                dense_threshold: 10_000,
                ..Default::default()
            },
        )
        .unwrap();
        let iter = smallest_generalized_eigenpairs(
            &l,
            &m,
            12,
            &EigenOptions {
                dense_threshold: 0,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(iter.iterations > 0 && dense.iterations == 0);
        for (a, b) in dense.values.iter().zip(&iter.values) {
            assert!((a - b).abs() < 1e-7 * (1.0 + a.abs()), "{a} vs {b}");
        }
        assert!(dense.values[0].abs() < 1e-9);
        // M-orthonormality of the iterative eigenvectors.
        for i in 0..12 {
            for j in 0..12 {
                let mv = crate::linalg::spmv(&m, iter.vector(j));
                let dot: f64 = iter.vector(i).iter().zip(&mv).map(|(a, b)| a * b).sum();
                let expect = if i == j { 1.0 } else { 0.0 };
                assert!((dot - expect).abs() < 1e-8, "<φ{i}, φ{j}>_M = {dot}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

        /// On randomly perturbed closed surfaces (radially jittered icospheres) every
        /// eigenvalue is ≥ 0, the smallest is 0 (constants), and the M-orthonormal
        /// eigenvectors satisfy L φ = λ M φ.
        #[test]
        fn eigenvalues_are_non_negative_on_random_closed_meshes(
            jitter in proptest::collection::vec(-0.25f64..0.25, 162),
        ) {
            let g = crate::sphere::SphereGrid::icosphere(2);
            let (p, f) = g.into_mesh().into_parts();
            let p = p.into_iter().zip(&jitter).map(|(q, j)| nalgebra::Point3::from(q.coords * (1.0 + j))).collect();
            let mesh = crate::TriMesh::new(p, f).unwrap();
            let (l, m) = (cotan_laplacian(&mesh), vertex_lumped_mass_matrix(&mesh));
            let pairs = smallest_generalized_eigenpairs(&l, &m, 10, &EigenOptions::default()).unwrap();
            proptest::prop_assert!(pairs.values[0].abs() < 1e-9);
            proptest::prop_assert!(pairs.values.iter().all(|&v| v >= -1e-9), "{:?}", pairs.values);
            proptest::prop_assert!(pairs.values[1] > 1e-3);
            for i in 0..10 {
                let lv = crate::linalg::spmv(&l, pairs.vector(i));
                let mv = crate::linalg::spmv(&m, pairs.vector(i));
                let res: f64 = lv.iter().zip(&mv).map(|(a, b)| (a - pairs.values[i] * b).abs()).fold(0.0, f64::max);
                proptest::prop_assert!(res < 1e-8 * (1.0 + pairs.values[i]), "residual {} for pair {}", res, i);
            }
        }
    }

    #[test]
    fn bad_arguments_are_errors() {
        let t = primitives::tetrahedron();
        let (l, m) = (cotan_laplacian(&t), vertex_lumped_mass_matrix(&t));
        assert!(smallest_generalized_eigenpairs(&l, &m, 0, &Default::default()).is_err());
        assert!(smallest_generalized_eigenpairs(&l, &m, 5, &Default::default()).is_err());
        let m2 = vertex_lumped_mass_matrix(&primitives::octahedron());
        assert!(smallest_generalized_eigenpairs(&l, &m2, 2, &Default::default()).is_err());
    }
}

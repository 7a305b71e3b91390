//! Log-determinants of sparse symmetric positive-definite matrices by an envelope (profile,
//! "skyline") Cholesky factorisation in reverse Cuthill–McKee order.
//!
//! The geometry crate's `SparseCholesky` solves but does not expose its factor, so the GMRF
//! likelihood computes `log det` here. In RCM order the fill of `L` stays inside the envelope
//! of `A` (row `i` from its first non-zero column to the diagonal), so the factorisation costs
//! `O(Σ_i w_i²)` for row widths `w_i`: milliseconds for 10³ vertices, seconds for ~10⁵ on a
//! sphere grid. The envelope size is checked before allocating.

use sprs::CsMat;

use crate::error::{FlowError, Result};

/// The symbolic part: an RCM ordering and the envelope of a sparsity pattern.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    /// `inv[old] = new` position of each row/column.
    inv: Vec<usize>,
    /// First column (new numbering) of each row's envelope.
    first: Vec<usize>,
    /// Start of each row in the packed storage; `offsets[n]` is the total size.
    offsets: Vec<usize>,
}

impl Envelope {
    /// The envelope of the symmetric pattern of `a` (CSR, square) in RCM order.
    pub(crate) fn new(a: &CsMat<f64>) -> Self {
        let n = a.rows();
        let perm = sprs::linalg::reverse_cuthill_mckee(a.view()).perm.vec();
        let mut inv = vec![0; n];
        for (new, &old) in perm.iter().enumerate() {
            inv[old] = new;
        }
        let mut first: Vec<usize> = (0..n).collect();
        for (old_i, row) in a.outer_iterator().enumerate() {
            let i = inv[old_i];
            for (old_j, _) in row.iter() {
                let j = inv[old_j];
                // Symmetric pattern: record both orientations.
                if j < i {
                    first[i] = first[i].min(j);
                } else {
                    first[j] = first[j].min(i);
                }
            }
        }
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        for i in 0..n {
            offsets.push(offsets[i] + (i - first[i] + 1));
        }
        Self {
            inv,
            first,
            offsets,
        }
    }

    /// Number of stored entries of the factor.
    pub(crate) fn size(&self) -> usize {
        self.offsets[self.inv.len()]
    }

    /// `log det A` for a symmetric positive-definite `a` whose pattern lies inside this
    /// envelope (e.g. the matrix the envelope was built from, with other values).
    ///
    /// # Errors
    /// [`FlowError::Numerical`] when a pivot is not positive (`a` not positive definite).
    pub(crate) fn log_det(&self, a: &CsMat<f64>) -> Result<f64> {
        let n = self.inv.len();
        let mut env = vec![0.0f64; self.size()];
        for (old_i, row) in a.outer_iterator().enumerate() {
            let i = self.inv[old_i];
            for (old_j, &v) in row.iter() {
                let j = self.inv[old_j];
                if j <= i {
                    debug_assert!(j >= self.first[i], "entry outside the envelope");
                    env[self.offsets[i] + j - self.first[i]] = v;
                }
            }
        }
        let mut log_det = 0.0;
        for i in 0..n {
            let fi = self.first[i];
            let (done, rest) = env.split_at_mut(self.offsets[i]);
            let row_i = &mut rest[..i - fi + 1];
            for j in fi..i {
                let fj = self.first[j];
                let k0 = fi.max(fj);
                let row_j = &done[self.offsets[j]..self.offsets[j + 1]];
                let dot: f64 = row_i[k0 - fi..j - fi]
                    .iter()
                    .zip(&row_j[k0 - fj..j - fj])
                    .map(|(a, b)| a * b)
                    .sum();
                row_i[j - fi] = (row_i[j - fi] - dot) / row_j[j - fj];
            }
            let d = row_i[i - fi] - row_i[..i - fi].iter().map(|v| v * v).sum::<f64>();
            if !(d > 0.0 && d.is_finite()) {
                return Err(FlowError::Numerical(format!(
                    "envelope Cholesky: pivot {d} at row {i}; the matrix is not positive definite"
                )));
            }
            row_i[i - fi] = d.sqrt();
            log_det += d.ln();
        }
        Ok(log_det)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshflow_geometry::operators::{cotan_laplacian, vertex_lumped_mass_matrix};
    use meshflow_geometry::sphere::SphereGrid;

    /// Dense log det by Cholesky, for checking.
    fn dense_log_det(a: &CsMat<f64>) -> f64 {
        let n = a.rows();
        let mut d = vec![0.0; n * n];
        for (i, row) in a.outer_iterator().enumerate() {
            for (j, &v) in row.iter() {
                d[i * n + j] = v;
            }
        }
        let mut ld = 0.0;
        for j in 0..n {
            let s = d[j * n + j] - (0..j).map(|k| d[j * n + k].powi(2)).sum::<f64>();
            let l = s.sqrt();
            ld += 2.0 * l.ln();
            d[j * n + j] = l;
            for i in j + 1..n {
                let s = d[i * n + j] - (0..j).map(|k| d[i * n + k] * d[j * n + k]).sum::<f64>();
                d[i * n + j] = s / l;
            }
        }
        ld
    }

    #[test]
    fn envelope_log_det_matches_dense_and_rcm_shrinks_the_envelope() {
        let g = SphereGrid::icosphere(2);
        let l = cotan_laplacian(g.mesh());
        let m = vertex_lumped_mass_matrix(g.mesh());
        let k = &m.map(|v| 9.0 * v) + &l;
        let env = Envelope::new(&k);
        let n = k.rows();
        assert!(
            env.size() < n * (n + 1) / 4,
            "envelope {} of {n}",
            env.size()
        );
        // RCM keeps a fine icosphere's envelope small (identity order: ~40% of n²/2).
        let fine = cotan_laplacian(SphereGrid::icosphere(4).mesh());
        let nf = fine.rows();
        assert!(Envelope::new(&fine).size() < nf * nf / 20);
        let ld = env.log_det(&k).unwrap();
        let want = dense_log_det(&k);
        assert!(
            (ld - want).abs() < 1e-9 * want.abs().max(1.0),
            "{ld} vs {want}"
        );
        // Indefinite: L − 0.1·M has a negative eigenvalue (the constant vector).
        assert!(env.log_det(&(&l - &m.map(|v| 0.1 * v))).is_err());
    }
}

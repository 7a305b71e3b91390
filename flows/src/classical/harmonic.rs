//! Harmonic / Tikhonov fill with the cotan Laplacian.

use meshflow_geometry::linalg::SparseCholesky;
use meshflow_geometry::operators::{cotan_laplacian, diagonal_matrix};
use meshflow_geometry::signal::Mask;
use meshflow_geometry::topology::connected_components;
use meshflow_geometry::TriMesh;
use rand::{rngs::StdRng, SeedableRng};
use sprs::CsMat;

use super::{
    check_fields, hidden_sse, observed_f64, to_f32, Degradation, Reconstruction, Reconstructor,
};
use crate::error::{FlowError, Result};

/// Tikhonov (harmonic) fill: `x̂ = argmin_x ‖P(x − y)‖² + α xᵀLx`, the solution of the sparse
/// symmetric positive-definite system `(P + αL) x̂ = P y`, solved by sparse Cholesky.
///
/// `P = diag(mask)` (1 observed, 0 missing) and `L` is meshflow's cotan Laplacian (weak form,
/// positive semi-definite, see `geometry::operators`). As `α → 0` the observed values are
/// interpolated and the missing ones are harmonic (`(Lx)_i = 0`), which reproduces linear
/// functions on a planar mesh; a larger `α` also smooths the noisy observations.
///
/// `α` has units of (value² per unit Dirichlet energy) and its best value depends on the mesh
/// resolution and the noise: fit it with [`HarmonicFill::fit_alpha`] on training data degraded
/// like the test data. `P + αL` is positive definite exactly when every connected component of
/// the mesh has an observed vertex; otherwise [`FlowError::UnobservedComponent`].
///
/// No uncertainty: [`Reconstruction::std`] is `None`.
#[derive(Debug, Clone)]
pub struct HarmonicFill {
    laplacian: CsMat<f64>,
    /// Component label of every vertex and the number of labels.
    labels: Vec<usize>,
    num_labels: usize,
    alpha: f64,
}

/// The result of [`HarmonicFill::fit_alpha`].
#[derive(Debug, Clone, PartialEq)]
pub struct AlphaFit {
    /// The candidate with the smallest pooled hidden-vertex RMSE.
    pub alpha: f64,
    /// Every candidate with its pooled hidden-vertex RMSE over the training fields, in the
    /// order given.
    pub hidden_rmse: Vec<(f64, f64)>,
}

impl HarmonicFill {
    /// A fill on `mesh` with regularisation weight `alpha` (finite, > 0).
    pub fn new(mesh: &TriMesh, alpha: f64) -> Result<Self> {
        check_alpha(alpha)?;
        let (_, labels) = connected_components(mesh);
        let num_labels = labels.iter().max().map_or(0, |m| m + 1);
        Ok(Self {
            laplacian: cotan_laplacian(mesh),
            labels,
            num_labels,
            alpha,
        })
    }

    /// The same fill with another `alpha` (reuses the Laplacian).
    pub fn with_alpha(&self, alpha: f64) -> Result<Self> {
        check_alpha(alpha)?;
        Ok(Self {
            alpha,
            ..self.clone()
        })
    }

    /// The regularisation weight `α`.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Solves `(P + αL) x = P y` for `y` (`[V]`, f64; missing values ignored), returning `x`
    /// (`[V]`).
    ///
    /// # Errors
    /// [`FlowError::InvalidArgument`] for wrong lengths or a non-finite observed value;
    /// [`FlowError::UnobservedComponent`] when a connected component has no observed vertex.
    pub fn solve(&self, y: &[f64], mask: &Mask) -> Result<Vec<f64>> {
        let mut rhs = observed_f64(y, mask, self.laplacian.rows())?;
        self.check_components(mask)?;
        let p: Vec<f64> = mask
            .observed()
            .iter()
            .map(|&o| if o { 1.0 } else { 0.0 })
            .collect();
        let a = &self.laplacian.map(|v| self.alpha * v) + &diagonal_matrix(p);
        SparseCholesky::factor(&a)?.solve_in_place(&mut rhs);
        Ok(rhs)
    }

    fn check_components(&self, mask: &Mask) -> Result<()> {
        let mut seen = vec![false; self.num_labels];
        for (&l, &o) in self.labels.iter().zip(mask.observed()) {
            seen[l] |= o;
        }
        if let Some(c) = seen.iter().position(|s| !s) {
            let members: Vec<usize> = (0..self.labels.len())
                .filter(|&i| self.labels[i] == c)
                .collect();
            return Err(FlowError::UnobservedComponent {
                component: c,
                vertices: members.len(),
                first_vertex: members[0],
            });
        }
        Ok(())
    }

    /// Picks `α` on training data.
    ///
    /// # Protocol
    /// Each training field (`[V]`, in order) is degraded once with `degradation` from one
    /// `StdRng::seed_from_u64(seed)` stream (mask first, then noise, as
    /// [`Degradation::apply`]); every candidate `α` reconstructs every degraded field and is
    /// scored by the RMSE over **all hidden vertices of all fields pooled**
    /// (`√(Σ SSE / Σ #hidden)`). The smallest score wins; ties go to the earlier candidate.
    /// A log grid ([`super::log_grid`], e.g. `1e-6 … 1e3`) is the intended candidate set; an
    /// optimum on the grid's edge means the grid should be widened.
    ///
    /// Cost: one sparse factorisation per (field, candidate).
    ///
    /// # Errors
    /// [`FlowError::InvalidArgument`] for no fields, fields of the wrong length or non-finite,
    /// no or invalid candidates, or a degradation that hides nothing;
    /// [`FlowError::UnobservedComponent`] as in [`HarmonicFill::solve`].
    pub fn fit_alpha(
        &self,
        train_fields: &[Vec<f32>],
        degradation: &Degradation,
        seed: u64,
        candidates: &[f64],
    ) -> Result<AlphaFit> {
        let n = self.laplacian.rows();
        check_fields(train_fields, n, "fit_alpha")?;
        if candidates.is_empty() {
            return Err(FlowError::InvalidArgument(
                "fit_alpha: no candidate alphas".into(),
            ));
        }
        let fills = candidates
            .iter()
            .map(|&a| self.with_alpha(a))
            .collect::<Result<Vec<_>>>()?;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut sse = vec![0.0; candidates.len()];
        let mut count = 0;
        for x in train_fields {
            let (y, mask) = degradation.apply(x, &mut rng)?;
            let y: Vec<f64> = y.iter().map(|&v| v as f64).collect();
            for (k, fill) in fills.iter().enumerate() {
                let (s, c) = hidden_sse(&fill.solve(&y, &mask)?, x, &mask);
                sse[k] += s;
                if k == 0 {
                    count += c;
                }
            }
        }
        if count == 0 {
            return Err(FlowError::InvalidArgument(
                "fit_alpha: the degradation hides no vertex, so there is nothing to score; \
                 raise mask_rate"
                    .into(),
            ));
        }
        let hidden_rmse: Vec<(f64, f64)> = candidates
            .iter()
            .zip(&sse)
            .map(|(&a, &s)| (a, (s / count as f64).sqrt()))
            .collect();
        let best = hidden_rmse
            .iter()
            .copied()
            .reduce(|b, c| if c.1 < b.1 { c } else { b })
            .expect("candidates is not empty");
        Ok(AlphaFit {
            alpha: best.0,
            hidden_rmse,
        })
    }
}

fn check_alpha(alpha: f64) -> Result<()> {
    if !(alpha.is_finite() && alpha > 0.0) {
        return Err(FlowError::InvalidArgument(format!(
            "harmonic fill needs a finite alpha > 0, got {alpha}"
        )));
    }
    Ok(())
}

impl Reconstructor for HarmonicFill {
    fn name(&self) -> &str {
        "harmonic"
    }

    fn reconstruct(&self, y: &[f32], mask: &Mask) -> Result<Reconstruction> {
        let y: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        Ok(Reconstruction {
            mean: to_f32(&self.solve(&y, mask)?),
            std: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshflow_geometry::primitives;

    #[test]
    fn harmonic_fill_is_linear_exact_from_the_boundary() {
        let (nx, ny) = (9, 7);
        let mesh = primitives::plane_grid(nx, ny, 2.0, 1.5);
        let f: Vec<f64> = mesh
            .positions()
            .iter()
            .map(|p| 0.7 * p.x - 1.3 * p.y + 0.2)
            .collect();
        let boundary: Vec<bool> = (0..nx * ny)
            .map(|k| {
                let (i, j) = (k % nx, k / nx);
                i == 0 || j == 0 || i == nx - 1 || j == ny - 1
            })
            .collect();
        let mask = Mask::new(boundary);
        let y: Vec<f64> = (0..f.len())
            .map(|i| if mask.observed()[i] { f[i] } else { f64::NAN })
            .collect();
        let x = HarmonicFill::new(&mesh, 1e-9)
            .unwrap()
            .solve(&y, &mask)
            .unwrap();
        let err = x
            .iter()
            .zip(&f)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-7, "max error {err}");
    }

    #[test]
    fn unobserved_component_is_an_error() {
        // Two disjoint grids: observe only the first.
        let (p1, f1) = primitives::plane_grid(3, 3, 1.0, 1.0).into_parts();
        let (mut p2, f2) = primitives::plane_grid(3, 3, 1.0, 1.0).into_parts();
        for q in &mut p2 {
            q.z += 5.0;
        }
        let mut p = p1;
        p.extend(p2);
        let mut f = f1;
        f.extend(f2.iter().map(|t| t.map(|v| v + 9)));
        let mesh = TriMesh::new(p, f).unwrap();
        let mask = Mask::new((0..18).map(|i| i < 9).collect());
        let err = HarmonicFill::new(&mesh, 0.1)
            .unwrap()
            .solve(&[1.0; 18], &mask)
            .unwrap_err();
        assert!(
            matches!(
                err,
                FlowError::UnobservedComponent {
                    component: 1,
                    vertices: 9,
                    first_vertex: 9
                }
            ),
            "{err}"
        );
        assert!(HarmonicFill::new(&mesh, 0.0).is_err());
    }
}

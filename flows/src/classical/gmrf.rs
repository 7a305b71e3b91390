//! Gaussian-process kriging with a Matérn prior discretised as a GMRF (the SPDE approach).

use meshflow_geometry::linalg::{spmv, SparseCholesky};
use meshflow_geometry::operators::{cotan_laplacian, diagonal_matrix};
use meshflow_geometry::signal::Mask;
use meshflow_geometry::TriMesh;
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;
use sprs::CsMat;

use super::envelope::Envelope;
use super::{check_fields, observed_f64, to_f32, Reconstruction, Reconstructor};
use crate::error::{FlowError, Result};

/// Hyper-parameters of the SPDE–Matérn prior (smoothness `ν = 1` on a surface, SPDE order
/// `α = 2`): `(κ² − Δ)(τ x) = W` with white noise `W`, plus a constant mean.
///
/// - `kappa` (`κ`, per unit length of the mesh): inverse correlation length; the practical
///   range (correlation ≈ 0.13) is `ρ = √8 / κ`.
/// - `tau` (`τ`): precision scale; on a plane the marginal variance is `1 / (4π κ² τ²)`
///   (on a closed surface of size comparable to `ρ` it is larger).
/// - `mean` (`μ`): the constant prior mean, in signal units.
///
/// `κ` and `τ` are continuum quantities, so parameters fitted on a coarse mesh transfer to a
/// finer discretisation of the same surface.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MaternParams {
    /// Inverse correlation length `κ` (> 0).
    pub kappa: f64,
    /// Precision scale `τ` (> 0).
    pub tau: f64,
    /// Constant prior mean `μ`.
    pub mean: f64,
}

impl MaternParams {
    /// Checks `κ > 0`, `τ > 0` and a finite mean.
    pub fn new(kappa: f64, tau: f64, mean: f64) -> Result<Self> {
        if !(kappa.is_finite() && kappa > 0.0 && tau.is_finite() && tau > 0.0 && mean.is_finite()) {
            return Err(FlowError::InvalidArgument(format!(
                "Matérn parameters need finite kappa > 0, tau > 0 and a finite mean, got \
                 kappa = {kappa}, tau = {tau}, mean = {mean}"
            )));
        }
        Ok(Self { kappa, tau, mean })
    }

    /// From the practical range `ρ` (`κ = √8/ρ`) and the planar marginal standard deviation
    /// `s` (`τ = 1 / (√(4π) κ s)`).
    pub fn from_range_and_std(range: f64, std: f64, mean: f64) -> Result<Self> {
        let kappa = 8f64.sqrt() / range;
        let tau = 1.0 / ((4.0 * std::f64::consts::PI).sqrt() * kappa * std);
        Self::new(kappa, tau, mean)
    }

    /// The practical range `ρ = √8 / κ`.
    pub fn range(&self) -> f64 {
        8f64.sqrt() / self.kappa
    }

    /// The planar marginal standard deviation `1 / (√(4π) κ τ)`.
    pub fn marginal_std(&self) -> f64 {
        1.0 / ((4.0 * std::f64::consts::PI).sqrt() * self.kappa * self.tau)
    }

    /// Fits `κ`, `τ` and `μ` by maximum likelihood on fully observed training fields
    /// (`[V]` each, on `mesh`).
    ///
    /// # Method
    /// For `N` fields the GMRF log-likelihood is
    /// `ℓ = N/2 · log det Q − ½ Σ_n (x_n − μ)ᵀ Q (x_n − μ) − NV/2 · log 2π`, with
    /// `Q = τ² K M⁻¹ K`, `K = κ²M + L` (see [`SpdeGmrf`]). Two of the three parameters have
    /// closed forms:
    /// - `Q·1 = τ²κ⁴ M·1`, so the optimal mean is the **area-weighted mean** of the training
    ///   fields, whatever `κ` and `τ`;
    /// - for fixed `κ`, `τ̂² = NV / Σ_n ‖M^{-1/2} K r_n‖²` (`r_n = x_n − μ̂`).
    ///
    /// The profile likelihood in `κ` uses `log det Q = V log τ² + 2 log det K − log det M`;
    /// `log det K` comes from an exact envelope Cholesky factorisation in reverse
    /// Cuthill–McKee order. It is maximised over `log κ` by a grid
    /// ([`GmrfFitOptions::grid_points`] values) and golden-section refinement around the best
    /// grid point. [`GmrfFit::at_bound`] reports an optimum on the edge of the search range.
    ///
    /// # Large meshes
    /// The envelope factorisation costs `O(V·b²)` for RCM bandwidth `b` (`b ≈ 70` on
    /// `icosphere(4)`, `≈ 60` on a 31 × 60 lat-lon grid, growing like `√V`), once per
    /// evaluated `κ` (about 60 evaluations with the default options); above
    /// [`GmrfFitOptions::max_envelope_entries`] the fit refuses with an error. Fit on a coarser
    /// discretisation of the same surface instead (resample the training fields with
    /// `geometry::resample::Resampler::barycentric` onto, say, `SphereGrid::icosphere(5)`) and
    /// use the parameters on the fine mesh: `κ` and `τ` are continuum quantities.
    ///
    /// # Errors
    /// [`FlowError::InvalidArgument`] for no fields, fields of the wrong length, non-finite or
    /// constant fields, a bad search range, or a mesh too large for the exact fit.
    pub fn fit(mesh: &TriMesh, fields: &[Vec<f32>], options: &GmrfFitOptions) -> Result<GmrfFit> {
        let (l, mass) = spde_parts(mesh)?;
        let n = mass.len();
        check_fields(fields, n, "GMRF fit")?;
        let area: f64 = mass.iter().sum();
        let mean = fields
            .iter()
            .map(|f| f.iter().zip(&mass).map(|(&v, m)| v as f64 * m).sum::<f64>())
            .sum::<f64>()
            / (fields.len() as f64 * area);
        let residuals: Vec<Vec<f64>> = fields
            .iter()
            .map(|f| f.iter().map(|&v| v as f64 - mean).collect())
            .collect();
        let (kappa_lo, kappa_hi) = match options.kappa_range {
            Some(r) => r,
            None => default_kappa_range(mesh),
        };
        if !(kappa_lo > 0.0 && kappa_hi > kappa_lo && kappa_hi.is_finite()) {
            return Err(FlowError::InvalidArgument(format!(
                "GMRF fit: kappa range must satisfy 0 < lo < hi, got ({kappa_lo}, {kappa_hi})"
            )));
        }
        let envelope = Envelope::new(&k_matrix(&l, &mass, 1.0));
        if envelope.size() > options.max_envelope_entries {
            return Err(FlowError::InvalidArgument(format!(
                "GMRF fit: the exact log-determinant needs a {}-entry envelope factor for \
                 {n} vertices (limit {}); fit on a coarser discretisation of the surface \
                 (resample the training fields, e.g. to an icosphere) and reuse kappa and tau, \
                 or raise max_envelope_entries",
                envelope.size(),
                options.max_envelope_entries
            )));
        }
        let nf = fields.len() as f64;
        let vf = n as f64;
        let log_det_m: f64 = mass.iter().map(|m| m.ln()).sum();
        let mut profile: Vec<(f64, f64, f64)> = Vec::new();
        let mut eval = |log_kappa: f64| -> Result<f64> {
            let kappa = log_kappa.exp();
            let k = k_matrix(&l, &mass, kappa);
            let log_det_k = envelope.log_det(&k)?;
            let s: f64 = residuals
                .iter()
                .map(|r| {
                    spmv(&k, r)
                        .iter()
                        .zip(&mass)
                        .map(|(v, m)| v * v / m)
                        .sum::<f64>()
                })
                .sum();
            if !(s.is_finite() && s > 0.0) {
                return Err(FlowError::InvalidArgument(
                    "GMRF fit: the training fields are constant; the prior scale cannot be \
                     estimated"
                        .into(),
                ));
            }
            let tau2 = nf * vf / s;
            let ll = 0.5 * nf * (vf * tau2.ln() + 2.0 * log_det_k - log_det_m)
                - 0.5 * nf * vf * (1.0 + (2.0 * std::f64::consts::PI).ln());
            profile.push((kappa, ll, tau2.sqrt()));
            Ok(ll)
        };
        let points = options.grid_points.max(3);
        let (a, b) = (kappa_lo.ln(), kappa_hi.ln());
        let grid: Vec<f64> = (0..points)
            .map(|i| a + (b - a) * i as f64 / (points - 1) as f64)
            .collect();
        let values = grid.iter().map(|&g| eval(g)).collect::<Result<Vec<_>>>()?;
        let best = (0..points)
            .reduce(|i, j| if values[j] > values[i] { j } else { i })
            .expect("at least three grid points");
        let at_bound = best == 0 || best == points - 1;
        // Golden-section search for the maximum on the bracket around the best grid point.
        let (mut lo, mut hi) = (
            grid[best.saturating_sub(1)],
            grid[(best + 1).min(points - 1)],
        );
        let r = (5f64.sqrt() - 1.0) / 2.0;
        let (mut c, mut d) = (hi - r * (hi - lo), lo + r * (hi - lo));
        let (mut fc, mut fd) = (eval(c)?, eval(d)?);
        for _ in 0..options.refine_iterations {
            if fc > fd {
                hi = d;
                (d, fd) = (c, fc);
                c = hi - r * (hi - lo);
                fc = eval(c)?;
            } else {
                lo = c;
                (c, fc) = (d, fd);
                d = lo + r * (hi - lo);
                fd = eval(d)?;
            }
        }
        profile.sort_by(|x, y| x.0.total_cmp(&y.0));
        let &(kappa, log_likelihood, tau) = profile
            .iter()
            .reduce(|x, y| if y.1 > x.1 { y } else { x })
            .expect("evaluated at least once");
        Ok(GmrfFit {
            params: MaternParams::new(kappa, tau, mean)?,
            log_likelihood,
            profile: profile.iter().map(|&(k, ll, _)| (k, ll)).collect(),
            at_bound,
        })
    }
}

/// Options for [`MaternParams::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct GmrfFitOptions {
    /// Search range of `κ`; `None` = from a range of one mean edge length (`κ = √8/h`) to
    /// twice the bounding-box diagonal `D` (`κ = √8/(2D)`).
    pub kappa_range: Option<(f64, f64)>,
    /// Number of log-spaced grid values of `κ` (≥ 3; default 25).
    pub grid_points: usize,
    /// Golden-section iterations after the grid (default 30: the bracket shrinks by 0.618³⁰).
    pub refine_iterations: usize,
    /// Largest envelope factor (stored entries) the exact fit may allocate (default 5·10⁷,
    /// 400 MB).
    pub max_envelope_entries: usize,
}

impl Default for GmrfFitOptions {
    fn default() -> Self {
        Self {
            kappa_range: None,
            grid_points: 25,
            refine_iterations: 30,
            max_envelope_entries: 50_000_000,
        }
    }
}

/// The result of [`MaternParams::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct GmrfFit {
    /// The maximum-likelihood parameters.
    pub params: MaternParams,
    /// The maximised log-likelihood of all training fields together (nats).
    pub log_likelihood: f64,
    /// Every evaluated `(κ, profile log-likelihood)`, sorted by `κ`.
    pub profile: Vec<(f64, f64)>,
    /// True when the best grid value was at the edge of the `κ` range (widen the range).
    pub at_bound: bool,
}

/// How [`SpdeGmrf::posterior`] computes the per-vertex posterior standard deviation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdMethod {
    /// No std (only the mean; one factorisation and one solve).
    None,
    /// Exact `√diag(Q_post⁻¹)` by blocked solves against unit vectors (`V` solves in blocks of
    /// 64): `O(V · nnz(factor))`, fine for `V ≲ 10⁴`.
    Exact,
    /// Monte-Carlo: `s` exact posterior samples by perturbation (`u = B z₁ + P z₂/σ` has
    /// covariance `Q_post`, so `Q_post⁻¹ u ~ N(0, Q_post⁻¹)`); the variance estimate
    /// `(1/s) Σ_k x_k,i²` is unbiased with relative standard error `√(2/s)` (about `1/√(2s)`
    /// on the std).
    MonteCarlo {
        /// Number of samples `s` (≥ 2).
        samples: usize,
        /// Seed of the sample stream.
        seed: u64,
    },
    /// [`StdMethod::Exact`] up to `max_exact_vertices`, [`StdMethod::MonteCarlo`] beyond.
    Auto {
        /// Largest `V` for the exact method.
        max_exact_vertices: usize,
        /// Monte-Carlo samples beyond.
        samples: usize,
        /// Monte-Carlo seed.
        seed: u64,
    },
}

impl Default for StdMethod {
    /// `Auto` with 10⁴ vertices, 500 samples, seed 0.
    fn default() -> Self {
        StdMethod::Auto {
            max_exact_vertices: 10_000,
            samples: 500,
            seed: 0,
        }
    }
}

/// Posterior mean and std from [`SpdeGmrf::posterior`], f64, `[V]` each.
#[derive(Debug, Clone, PartialEq)]
pub struct GmrfPosterior {
    /// Posterior mean `μ_post`, `[V]`.
    pub mean: Vec<f64>,
    /// Posterior std `√diag(Q_post⁻¹)`, `[V]`, unless [`StdMethod::None`].
    pub std: Option<Vec<f64>>,
}

/// The SPDE–Matérn Gaussian Markov random field on a mesh (Lindgren, Rue & Lindström 2011,
/// `α = 2`, lumped mass):
///
/// `x ~ N(μ·1, Q⁻¹)`, `Q = τ² K M⁻¹ K`, `K = κ²M + L`,
///
/// `L` the cotan Laplacian (weak form, PSD), `M` the lumped (diagonal) mass matrix, so `Q` is
/// sparse (two-ring stencil), symmetric positive definite for `κ > 0`. With
/// `B = τ K M^{-1/2}`, `Q = B Bᵀ`; prior samples are `μ + Bᵀ⁻¹ z = μ + K⁻¹ M^{1/2} z / τ`.
///
/// Every vertex must have positive dual area (repair meshes with unused vertices or only
/// degenerate faces first).
#[derive(Debug, Clone)]
pub struct SpdeGmrf {
    params: MaternParams,
    mass: Vec<f64>,
    precision: CsMat<f64>,
    /// `K = κ²M + L` and its factor (for sampling and Monte-Carlo std).
    k: CsMat<f64>,
    k_chol: SparseCholesky,
}

impl SpdeGmrf {
    /// Builds `Q` for `mesh` and factorises `K` (for sampling).
    ///
    /// # Errors
    /// [`FlowError::InvalidArgument`] for a vertex with zero dual area.
    pub fn new(mesh: &TriMesh, params: MaternParams) -> Result<Self> {
        let (l, mass) = spde_parts(mesh)?;
        let params = MaternParams::new(params.kappa, params.tau, params.mean)?;
        let k = k_matrix(&l, &mass, params.kappa);
        let inv_m = diagonal_matrix(mass.iter().map(|m| 1.0 / m).collect());
        let tau2 = params.tau * params.tau;
        let precision = (&(&k * &inv_m) * &k).map(|v| tau2 * v);
        let k_chol = SparseCholesky::factor(&k)?;
        Ok(Self {
            params,
            mass,
            precision,
            k,
            k_chol,
        })
    }

    /// The parameters.
    pub fn params(&self) -> &MaternParams {
        &self.params
    }

    /// Number of vertices `V`.
    pub fn num_vertices(&self) -> usize {
        self.mass.len()
    }

    /// The prior precision `Q` (`V × V`, CSR, symmetric positive definite).
    pub fn precision(&self) -> &CsMat<f64> {
        &self.precision
    }

    /// One exact sample from the prior, `[V]`.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        let mut x: Vec<f64> = self
            .mass
            .iter()
            .map(|m| m.sqrt() * rng.sample::<f64, _>(StandardNormal))
            .collect();
        self.k_chol.solve_in_place(&mut x);
        for v in &mut x {
            *v = self.params.mean + *v / self.params.tau;
        }
        x
    }

    /// The exact prior std `√diag(Q⁻¹)`, `[V]` (blocked solves, see [`StdMethod::Exact`]).
    pub fn prior_std(&self) -> Result<Vec<f64>> {
        let chol = SparseCholesky::factor(&self.precision)?;
        Ok(exact_diag_inverse(&chol)
            .into_iter()
            .map(f64::sqrt)
            .collect())
    }

    /// The exact posterior given `y = P x + n`, `n ~ N(0, σ² I)` on the observed vertices:
    ///
    /// `Q_post = Q + P/σ²`, `μ_post = Q_post⁻¹ (Q μ·1 + P y / σ²)`, std `√diag(Q_post⁻¹)`
    /// computed as `method` says.
    ///
    /// `y` is `[V]` (values at missing vertices ignored); `sigma > 0`.
    ///
    /// # Errors
    /// [`FlowError::InvalidArgument`] for wrong lengths, non-finite observed values, or
    /// `sigma ≤ 0`.
    pub fn posterior(
        &self,
        y: &[f64],
        mask: &Mask,
        sigma: f64,
        method: StdMethod,
    ) -> Result<GmrfPosterior> {
        check_sigma(sigma)?;
        let n = self.num_vertices();
        let y = observed_f64(y, mask, n)?;
        let s2 = sigma * sigma;
        let p_over_s2: Vec<f64> = mask
            .observed()
            .iter()
            .map(|&o| if o { 1.0 / s2 } else { 0.0 })
            .collect();
        let q_post = &self.precision + &diagonal_matrix(p_over_s2.clone());
        let chol = SparseCholesky::factor(&q_post)?;
        let mut mean = spmv(&self.precision, &vec![self.params.mean; n]);
        for i in 0..n {
            mean[i] += p_over_s2[i] * y[i];
        }
        chol.solve_in_place(&mut mean);
        let method = match method {
            StdMethod::Auto {
                max_exact_vertices,
                samples,
                seed,
            } => {
                if n <= max_exact_vertices {
                    StdMethod::Exact
                } else {
                    StdMethod::MonteCarlo { samples, seed }
                }
            }
            m => m,
        };
        let var = match method {
            StdMethod::None => None,
            StdMethod::Exact => Some(exact_diag_inverse(&chol)),
            StdMethod::MonteCarlo { samples, seed } => {
                if samples < 2 {
                    return Err(FlowError::InvalidArgument(format!(
                        "Monte-Carlo posterior std needs at least 2 samples, got {samples}"
                    )));
                }
                Some(self.mc_diag_inverse(&chol, &p_over_s2, samples, seed))
            }
            StdMethod::Auto { .. } => unreachable!("resolved above"),
        };
        Ok(GmrfPosterior {
            mean,
            std: var.map(|v| v.into_iter().map(f64::sqrt).collect()),
        })
    }

    /// Unbiased Monte-Carlo estimate of `diag(Q_post⁻¹)` (see [`StdMethod::MonteCarlo`]).
    fn mc_diag_inverse(
        &self,
        chol: &SparseCholesky,
        p_over_s2: &[f64],
        samples: usize,
        seed: u64,
    ) -> Vec<f64> {
        const BLOCK: usize = 64;
        let n = self.num_vertices();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut acc = vec![0.0; n];
        let k = &self.k;
        let mut done = 0;
        while done < samples {
            let r = BLOCK.min(samples - done);
            let mut block = Vec::with_capacity(n * r);
            for _ in 0..r {
                // u = τ K M^{-1/2} z₁ + (√p / σ) z₂.
                let z: Vec<f64> = self
                    .mass
                    .iter()
                    .map(|m| rng.sample::<f64, _>(StandardNormal) / m.sqrt())
                    .collect();
                let mut u = spmv(k, &z);
                for (i, ui) in u.iter_mut().enumerate() {
                    *ui = self.params.tau * *ui
                        + p_over_s2[i].sqrt() * rng.sample::<f64, _>(StandardNormal);
                }
                block.extend(u);
            }
            chol.solve_many_in_place(&mut block, r);
            for col in block.chunks(n) {
                for (a, v) in acc.iter_mut().zip(col) {
                    *a += v * v;
                }
            }
            done += r;
        }
        acc.iter().map(|a| a / samples as f64).collect()
    }
}

/// GMRF kriging as a [`Reconstructor`]: the posterior mean of an [`SpdeGmrf`] prior under
/// Gaussian noise `σ` on the observed vertices, with the posterior std.
#[derive(Debug, Clone)]
pub struct GmrfKriging {
    model: SpdeGmrf,
    sigma: f64,
    std_method: StdMethod,
}

impl GmrfKriging {
    /// Kriging with prior `model`, noise std `sigma` (> 0, normalised units) and a std
    /// method.
    pub fn new(model: SpdeGmrf, sigma: f64, std_method: StdMethod) -> Result<Self> {
        check_sigma(sigma)?;
        Ok(Self {
            model,
            sigma,
            std_method,
        })
    }

    /// The prior.
    pub fn model(&self) -> &SpdeGmrf {
        &self.model
    }

    /// The noise standard deviation `σ`.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
}

impl Reconstructor for GmrfKriging {
    fn name(&self) -> &str {
        "gmrf-kriging"
    }

    fn reconstruct(&self, y: &[f32], mask: &Mask) -> Result<Reconstruction> {
        let y: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        let post = self
            .model
            .posterior(&y, mask, self.sigma, self.std_method)?;
        Ok(Reconstruction {
            mean: to_f32(&post.mean),
            std: post.std.as_deref().map(to_f32),
        })
    }
}

fn check_sigma(sigma: f64) -> Result<()> {
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(FlowError::InvalidArgument(format!(
            "GMRF kriging needs a noise std sigma > 0, got {sigma} (use a small value such as \
             1e-3 for nearly exact observations)"
        )));
    }
    Ok(())
}

/// The cotan Laplacian and the lumped masses, checking every mass is positive.
fn spde_parts(mesh: &TriMesh) -> Result<(CsMat<f64>, Vec<f64>)> {
    let mass = mesh.vertex_dual_areas();
    if let Some(i) = mass.iter().position(|m| !(*m > 0.0 && m.is_finite())) {
        return Err(FlowError::InvalidArgument(format!(
            "vertex {i} has zero dual area (unused, or only in degenerate faces): the SPDE prior \
             needs a positive lumped mass everywhere; repair the mesh (topology::repair) first"
        )));
    }
    Ok((cotan_laplacian(mesh), mass))
}

/// `K = κ²M + L`.
fn k_matrix(l: &CsMat<f64>, mass: &[f64], kappa: f64) -> CsMat<f64> {
    let k2 = kappa * kappa;
    l + &diagonal_matrix(mass.iter().map(|m| k2 * m).collect())
}

/// `κ` from a range of one mean edge length to twice the bounding-box diagonal.
fn default_kappa_range(mesh: &TriMesh) -> (f64, f64) {
    let p = mesh.positions();
    let (mut sum, mut count) = (0.0, 0usize);
    for f in mesh.faces() {
        for (a, b) in [(f[0], f[1]), (f[1], f[2]), (f[2], f[0])] {
            sum += (p[a] - p[b]).norm();
            count += 1;
        }
    }
    let h = sum / count.max(1) as f64;
    let (lo, hi) = mesh.bounding_box();
    let diag = (hi - lo).norm();
    (8f64.sqrt() / (2.0 * diag), 8f64.sqrt() / h)
}

/// Exact `diag(A⁻¹)` by blocked solves against unit vectors.
fn exact_diag_inverse(chol: &SparseCholesky) -> Vec<f64> {
    const BLOCK: usize = 64;
    let n = chol.dim();
    let mut diag = vec![0.0; n];
    let mut start = 0;
    while start < n {
        let r = BLOCK.min(n - start);
        let mut block = vec![0.0; n * r];
        for c in 0..r {
            block[c * n + start + c] = 1.0;
        }
        chol.solve_many_in_place(&mut block, r);
        for c in 0..r {
            diag[start + c] = block[c * n + start + c];
        }
        start += r;
    }
    diag
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshflow_geometry::sphere::SphereGrid;

    /// Dense inverse of an SPD matrix (Gauss–Jordan with partial pivoting).
    fn dense_inverse(a: &CsMat<f64>) -> Vec<Vec<f64>> {
        let n = a.rows();
        let mut m = vec![vec![0.0; 2 * n]; n];
        for (i, row) in a.outer_iterator().enumerate() {
            for (j, &v) in row.iter() {
                m[i][j] = v;
            }
            m[i][n + i] = 1.0;
        }
        for c in 0..n {
            let p = (c..n)
                .max_by(|&x, &y| m[x][c].abs().total_cmp(&m[y][c].abs()))
                .unwrap();
            m.swap(c, p);
            let d = m[c][c];
            for v in m[c].iter_mut() {
                *v /= d;
            }
            let pivot = m[c].clone();
            for (r, row) in m.iter_mut().enumerate() {
                if r != c && row[c] != 0.0 {
                    let f = row[c];
                    for (v, pv) in row.iter_mut().zip(&pivot) {
                        *v -= f * pv;
                    }
                }
            }
        }
        m.into_iter().map(|r| r[n..].to_vec()).collect()
    }

    fn small_model() -> SpdeGmrf {
        let g = SphereGrid::icosphere(2); // V = 162
        SpdeGmrf::new(
            g.mesh(),
            MaternParams::from_range_and_std(0.8, 1.0, 0.3).unwrap(),
        )
        .unwrap()
    }

    fn observe(x: &[f64], mask: &Mask, sigma: f64, rng: &mut StdRng) -> Vec<f64> {
        x.iter()
            .zip(mask.observed())
            .map(|(&v, &o)| {
                if o {
                    v + sigma * rng.sample::<f64, _>(StandardNormal)
                } else {
                    f64::NAN
                }
            })
            .collect()
    }

    #[test]
    fn kriging_matches_dense_bayesian_inference() {
        let model = small_model();
        let n = model.num_vertices();
        assert!(n <= 200);
        let mut rng = StdRng::seed_from_u64(7);
        let x = model.sample(&mut rng);
        let mask = Mask::random(n, 0.6, &mut rng).unwrap();
        let sigma = 0.2;
        let y = observe(&x, &mask, sigma, &mut rng);
        let post = model.posterior(&y, &mask, sigma, StdMethod::Exact).unwrap();

        // Dense: Q_post⁻¹ (Q μ1 + P y/σ²).
        let q = model.precision();
        let mut q_post = vec![vec![0.0; n]; n];
        for (i, row) in q.outer_iterator().enumerate() {
            for (j, &v) in row.iter() {
                q_post[i][j] = v;
            }
        }
        let mut b = vec![0.0; n];
        for i in 0..n {
            b[i] = q_post[i].iter().sum::<f64>() * model.params().mean;
            if mask.observed()[i] {
                q_post[i][i] += 1.0 / (sigma * sigma);
                b[i] += y[i] / (sigma * sigma);
            }
        }
        let mut t = sprs::TriMat::new((n, n));
        for i in 0..n {
            for j in 0..n {
                if q_post[i][j] != 0.0 {
                    t.add_triplet(i, j, q_post[i][j]);
                }
            }
        }
        let cov = dense_inverse(&t.to_csr());
        let std = post.std.as_ref().unwrap();
        for i in 0..n {
            let mean: f64 = (0..n).map(|j| cov[i][j] * b[j]).sum();
            assert!(
                (mean - post.mean[i]).abs() < 1e-8,
                "mean {i}: {mean} vs {}",
                post.mean[i]
            );
            let s = cov[i][i].sqrt();
            assert!((s - std[i]).abs() < 1e-8, "std {i}: {s} vs {}", std[i]);
        }

        // Conditioning never increases the variance, and observed vertices gain the most.
        let prior = model.prior_std().unwrap();
        let cov_prior = dense_inverse(q);
        for i in 0..n {
            assert!((prior[i] - cov_prior[i][i].sqrt()).abs() < 1e-8);
            assert!(std[i] <= prior[i] + 1e-12);
            if mask.observed()[i] {
                assert!(std[i] < prior[i] && std[i] <= sigma);
            }
        }
    }

    #[test]
    fn posterior_intervals_are_calibrated_on_prior_samples() {
        let model = small_model();
        let n = model.num_vertices();
        let mut rng = StdRng::seed_from_u64(11);
        let (mut inside, mut total) = (0usize, 0usize);
        let fields = 60;
        for _ in 0..fields {
            let x = model.sample(&mut rng);
            let mask = Mask::random(n, 0.5, &mut rng).unwrap();
            let y = observe(&x, &mask, 0.1, &mut rng);
            let post = model.posterior(&y, &mask, 0.1, StdMethod::Exact).unwrap();
            let std = post.std.unwrap();
            for i in 0..n {
                inside += usize::from((x[i] - post.mean[i]).abs() <= 2.0 * std[i]);
                total += 1;
            }
        }
        let p = 0.9545;
        let rate = inside as f64 / total as f64;
        // Errors within a field are correlated: a binomial tolerance with one effective
        // sample per 10 vertices, 4 standard deviations.
        let tol = 4.0 * (p * (1.0 - p) / (total as f64 / 10.0)).sqrt();
        eprintln!("±2 std coverage {rate:.4} over {total} values (tolerance {tol:.4})");
        assert!((rate - p).abs() < tol, "coverage {rate}, tolerance {tol}");
    }

    #[test]
    fn monte_carlo_std_agrees_with_exact() {
        let model = small_model();
        let n = model.num_vertices();
        let mut rng = StdRng::seed_from_u64(5);
        let x = model.sample(&mut rng);
        let mask = Mask::random(n, 0.5, &mut rng).unwrap();
        let y = observe(&x, &mask, 0.1, &mut rng);
        let exact = model.posterior(&y, &mask, 0.1, StdMethod::Exact).unwrap();
        let samples = 2000;
        let mc = model
            .posterior(&y, &mask, 0.1, StdMethod::MonteCarlo { samples, seed: 1 })
            .unwrap();
        assert_eq!(exact.mean, mc.mean);
        let (e, m) = (exact.std.unwrap(), mc.std.unwrap());
        // Relative std error of each estimate ≈ 1/√(2s) ≈ 0.016; allow ~6 of them.
        let worst = e
            .iter()
            .zip(&m)
            .map(|(a, b)| (b / a - 1.0).abs())
            .fold(0.0, f64::max);
        assert!(worst < 0.1, "worst relative error {worst}");
        let mean_ratio: f64 =
            e.iter().zip(&m).map(|(a, b)| b * b / (a * a)).sum::<f64>() / n as f64;
        assert!(
            (mean_ratio - 1.0).abs() < 0.02,
            "mean variance ratio {mean_ratio}"
        );
    }

    #[test]
    fn fit_recovers_kappa_and_tau() {
        let grid = SphereGrid::icosphere(3); // V = 642
        let truth = MaternParams::from_range_and_std(0.6, 1.0, -0.5).unwrap();
        let model = SpdeGmrf::new(grid.mesh(), truth).unwrap();
        let mut rng = StdRng::seed_from_u64(2024);
        let fields: Vec<Vec<f32>> = (0..50)
            .map(|_| model.sample(&mut rng).iter().map(|&v| v as f32).collect())
            .collect();
        let fit = MaternParams::fit(grid.mesh(), &fields, &GmrfFitOptions::default()).unwrap();
        let p = fit.params;
        eprintln!(
            "fit: kappa {:.3} (true {:.3}), tau {:.4} (true {:.4}), mean {:.3} (true {:.3})",
            p.kappa, truth.kappa, p.tau, truth.tau, p.mean, truth.mean
        );
        assert!(!fit.at_bound);
        let within = |a: f64, b: f64| a / b < 1.5 && b / a < 1.5;
        assert!(
            within(p.kappa, truth.kappa),
            "kappa {} vs {}",
            p.kappa,
            truth.kappa
        );
        assert!(within(p.tau, truth.tau), "tau {} vs {}", p.tau, truth.tau);
        assert!((p.mean - truth.mean).abs() < 0.3, "mean {}", p.mean);
        // The profile peaks at the fitted κ.
        assert!(fit.profile.iter().all(|&(_, ll)| ll <= fit.log_likelihood));
    }

    #[test]
    fn invalid_arguments_are_errors() {
        let model = small_model();
        let n = model.num_vertices();
        let y = vec![0.0; n];
        let mask = Mask::all_observed(n);
        assert!(model.posterior(&y, &mask, 0.0, StdMethod::None).is_err());
        assert!(model
            .posterior(&y[1..], &mask, 0.1, StdMethod::None)
            .is_err());
        assert!(MaternParams::new(-1.0, 1.0, 0.0).is_err());
        let g = SphereGrid::icosphere(1);
        let constant = vec![vec![1.0f32; g.num_vertices()]; 3];
        assert!(MaternParams::fit(g.mesh(), &constant, &GmrfFitOptions::default()).is_err());
    }
}

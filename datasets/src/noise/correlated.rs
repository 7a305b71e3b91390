//! Spatially correlated Gaussian noise on a surface: heat-smoothed white noise with unit
//! marginal variance, scaled by `σ`.

use meshflow_geometry::linalg::SparseCholesky;
use meshflow_geometry::operators::{cotan_laplacian, vertex_lumped_mass_matrix};
use meshflow_geometry::TriMesh;
use rand::{rngs::StdRng, RngCore, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

use super::{check_level, NoiseModel, NoiseSpec};
use crate::error::{DatasetError, Result};

/// How [`CorrelatedGaussianNoise`] finds the per-vertex variance it normalises by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VarianceMethod {
    /// [`VarianceMethod::Exact`] up to [`VarianceMethod::AUTO_EXACT_LIMIT`] vertices, else
    /// [`VarianceMethod::MonteCarlo`] with 1024 probes and seed 0.
    #[default]
    Auto,
    /// One sparse solve per vertex (`V` solves at construction): exact to rounding.
    Exact,
    /// The mean of `z²` over `probes` independent fields `z` drawn with a fixed `seed`:
    /// relative standard error `√(2/probes)` on each variance (2.2 % on the standard
    /// deviation for 1024 probes), independent of `V`.
    MonteCarlo {
        /// Number of random fields averaged.
        probes: usize,
        /// Seed of the probe fields.
        seed: u64,
    },
}

impl VarianceMethod {
    /// Largest vertex count for which [`VarianceMethod::Auto`] computes the exact variance.
    ///
    /// Exact costs `V` solves, Monte Carlo `probes` solves: on the 61 × 120 grid (7,082
    /// vertices) exact took 20 s and 1024 probes 2.8 s on a loaded 2-core machine; on the
    /// 181 × 360 grid (64,442 vertices) 1024 probes took 52 s.
    pub const AUTO_EXACT_LIMIT: usize = 10_000;
}

/// Additive Gaussian noise correlated along the surface (spec `correlated:SIGMA:LENGTH`):
/// `x₁ = x₀ + n`, `n ~ N(0, C)` with `Cᵢᵢ = σ²` at every vertex.
///
/// # Construction of `C`
/// With the cotangent Laplacian `L` (positive semi-definite, weak form), the lumped mass `M`
/// (vertex dual areas) and `A = M + tL`, a raw field is drawn as
///
/// ```text
/// z = A⁻¹ M^{1/2} ε,   ε ~ N(0, I_V),      Cov(z) = C₀ = A⁻¹ M A⁻¹,
/// ```
///
/// i.e. discrete white noise on the surface (`M^{1/2}ε` has covariance `M`, the mass-weighted
/// integral of unit-intensity white noise against each hat function) smoothed by one implicit
/// heat step `(M + tL)⁻¹` (the operator of `meshflow_geometry::operators::HeatSmoother`). In
/// the continuum this is the SPDE field `(1 − tΔ) z = W` (Lindgren, Rue & Lindström 2011):
/// a Matérn field of smoothness `ν = 1` with correlation `ρ(r) = κr·K₁(κr)`, `κ = 1/√t`.
///
/// Its variance `Dᵢ = (C₀)ᵢᵢ` varies from vertex to vertex on an irregular mesh (it grows
/// where cells are small, e.g. near the poles of a lat-lon grid), so each vertex is rescaled:
///
/// ```text
/// n = σ D^{−1/2} z,    C = σ² D^{−1/2} A⁻¹ M A⁻¹ D^{−1/2},    Cᵢᵢ = σ².
/// ```
///
/// `D` is computed once at construction ([`VarianceMethod`]): exactly by one solve per vertex
/// (`Dᵢ = Σⱼ Mⱼ (A⁻¹eᵢ)ⱼ²`), or by a fixed-seed Monte-Carlo average on large meshes (then
/// `Cᵢᵢ = σ²` up to the stated relative error).
///
/// # Correlation length
/// `LENGTH = ℓ` maps to the diffusion time `t = ℓ²/4`, the time at which the exact heat kernel
/// `e^{tΔ}` is a Gaussian `exp(−r²/ℓ²)` of width `ℓ`. `ℓ` is in the **length units of the
/// mesh**: radians on the unit-sphere grids of `meshflow_geometry::sphere` (`ℓ = 0.1` ≈ 5.7°
/// ≈ 640 km on the Earth). With `κ = 2/ℓ` the continuum correlation (on the plane, and on the
/// sphere for `ℓ ≪ 1`) is `ρ(ℓ/2) ≈ 0.60`, `ρ(ℓ) ≈ 0.28`, `ρ(2ℓ) ≈ 0.05`.
///
/// # Cost
/// `A` is factorised once (sparse Cholesky); a draw costs one forward/backward solve per
/// signal, and a `[B × V]` batch is one blocked multi-right-hand-side solve.
/// Construction also computes the per-vertex variance (see [`VarianceMethod`] for its cost):
/// build the model once, outside the training loop.
#[derive(Debug, Clone)]
pub struct CorrelatedGaussianNoise {
    sigma: f64,
    length: f64,
    time: f64,
    chol: SparseCholesky,
    sqrt_mass: Vec<f64>,
    raw_std: Vec<f64>,
    exact: bool,
}

impl CorrelatedGaussianNoise {
    /// Correlated noise of marginal standard deviation `sigma` (`≥ 0`) and correlation length
    /// `length` (`> 0`, mesh units) on `mesh`, with [`VarianceMethod::Auto`].
    pub fn new(mesh: &TriMesh, sigma: f64, length: f64) -> Result<Self> {
        Self::with_method(mesh, sigma, length, VarianceMethod::Auto)
    }

    /// As [`CorrelatedGaussianNoise::new`], choosing how the per-vertex variance is computed.
    ///
    /// Errors when a vertex belongs to no face (zero dual area: remove unreferenced vertices
    /// first), when `M + tL` cannot be factorised, or for invalid `sigma`, `length` or probes.
    pub fn with_method(
        mesh: &TriMesh,
        sigma: f64,
        length: f64,
        method: VarianceMethod,
    ) -> Result<Self> {
        check_level("correlated noise sigma", sigma, true)?;
        check_level("correlated noise length", length, false)?;
        let areas = mesh.vertex_dual_areas();
        if areas.is_empty() {
            return Err(DatasetError::InvalidArgument(
                "correlated noise needs a mesh with vertices".into(),
            ));
        }
        if let Some(i) = areas.iter().position(|&a| !(a > 0.0 && a.is_finite())) {
            return Err(DatasetError::InvalidArgument(format!(
                "vertex {i} has dual area {} (it belongs to no non-degenerate face); correlated \
                 noise needs every vertex in a face — remove unreferenced vertices first",
                areas[i]
            )));
        }
        let time = length * length / 4.0;
        let l = cotan_laplacian(mesh);
        let m = vertex_lumped_mass_matrix(mesh);
        let a = &m + &l.map(|v| v * time);
        let chol = SparseCholesky::factor(&a.to_csr())?;
        let sqrt_mass: Vec<f64> = areas.iter().map(|a| a.sqrt()).collect();
        let n = areas.len();
        let (variance, exact) = match method {
            VarianceMethod::Exact => (exact_variance(&chol, &areas), true),
            VarianceMethod::Auto if n <= VarianceMethod::AUTO_EXACT_LIMIT => {
                (exact_variance(&chol, &areas), true)
            }
            VarianceMethod::Auto => (monte_carlo_variance(&chol, &sqrt_mass, 1024, 0), false),
            VarianceMethod::MonteCarlo { probes, seed } => {
                if probes < 2 {
                    return Err(DatasetError::InvalidArgument(format!(
                        "Monte-Carlo variance needs at least 2 probes, got {probes}"
                    )));
                }
                (monte_carlo_variance(&chol, &sqrt_mass, probes, seed), false)
            }
        };
        if let Some(i) = variance.iter().position(|&d| !(d > 0.0 && d.is_finite())) {
            return Err(DatasetError::Geometry(
                meshflow_geometry::GeometryError::Numerical(format!(
                    "smoothed white noise has variance {} at vertex {i}",
                    variance[i]
                )),
            ));
        }
        Ok(Self {
            sigma,
            length,
            time,
            chol,
            sqrt_mass,
            raw_std: variance.iter().map(|d| d.sqrt()).collect(),
            exact,
        })
    }

    /// The marginal standard deviation `σ`.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// The correlation length `ℓ` (mesh units).
    pub fn length(&self) -> f64 {
        self.length
    }

    /// The diffusion time `t = ℓ²/4` of the smoothing step `(M + tL)⁻¹`.
    pub fn diffusion_time(&self) -> f64 {
        self.time
    }

    /// Whether the per-vertex variance was computed exactly (else by Monte Carlo).
    pub fn is_exact(&self) -> bool {
        self.exact
    }

    /// `√Dᵢ`, the standard deviation of the raw smoothed field at each vertex, `[V]`.
    pub fn raw_std(&self) -> &[f64] {
        &self.raw_std
    }

    /// Applies the square root `B = σ D^{−1/2} A⁻¹ M^{1/2}` of the covariance (`C = BBᵀ`) to
    /// `ε` (`[V]`): `Bε ~ N(0, C)` for `ε ~ N(0, I)`.
    pub fn apply_sqrt(&self, eps: &[f64]) -> Result<Vec<f64>> {
        self.check_len(eps.len())?;
        let mut z: Vec<f64> = eps
            .iter()
            .zip(&self.sqrt_mass)
            .map(|(e, s)| e * s)
            .collect();
        self.chol.solve_in_place(&mut z);
        for (zi, d) in z.iter_mut().zip(&self.raw_std) {
            *zi *= self.sigma / d;
        }
        Ok(z)
    }

    /// Applies `Bᵀ = σ M^{1/2} A⁻¹ D^{−1/2}` to `v` (`[V]`).
    pub fn apply_sqrt_transpose(&self, v: &[f64]) -> Result<Vec<f64>> {
        self.check_len(v.len())?;
        let mut z: Vec<f64> = v
            .iter()
            .zip(&self.raw_std)
            .map(|(x, d)| self.sigma * x / d)
            .collect();
        self.chol.solve_in_place(&mut z);
        for (zi, s) in z.iter_mut().zip(&self.sqrt_mass) {
            *zi *= s;
        }
        Ok(z)
    }

    /// Applies the covariance `C = BBᵀ` to `v` (`[V]`), in the Euclidean inner product on
    /// vertex values (two solves).
    pub fn apply_covariance(&self, v: &[f64]) -> Result<Vec<f64>> {
        self.apply_sqrt(&self.apply_sqrt_transpose(v)?)
    }

    fn check_len(&self, got: usize) -> Result<()> {
        if got != self.raw_std.len() {
            return Err(DatasetError::ShapeMismatch {
                what: "vector for the correlated-noise covariance".into(),
                expected: self.raw_std.len(),
                got,
            });
        }
        Ok(())
    }
}

impl NoiseModel for CorrelatedGaussianNoise {
    fn sample(&self, x0: &[f32], rng: &mut dyn RngCore) -> Vec<f32> {
        let v = self.raw_std.len();
        assert!(
            !x0.is_empty() && x0.len().is_multiple_of(v),
            "correlated noise on {v} vertices got a signal of length {} (not [B × {v}])",
            x0.len()
        );
        // All the white noise is drawn first, in row order; the rows are then solved as one
        // blocked multi-right-hand-side solve.
        let mut z: Vec<f64> = x0
            .iter()
            .enumerate()
            .map(|(i, _)| {
                let e: f64 = StandardNormal.sample(rng);
                e * self.sqrt_mass[i % v]
            })
            .collect();
        self.chol.solve_many_in_place(&mut z, x0.len() / v);
        x0.iter()
            .zip(&z)
            .enumerate()
            .map(|(i, (&x, &zi))| (x as f64 + self.sigma * zi / self.raw_std[i % v]) as f32)
            .collect()
    }

    fn mean(&self, x0: &[f32]) -> Vec<f32> {
        x0.to_vec()
    }

    fn variance(&self, x0: &[f32]) -> Vec<f32> {
        vec![(self.sigma * self.sigma) as f32; x0.len()]
    }

    fn spec(&self) -> String {
        NoiseSpec::Correlated {
            sigma: self.sigma,
            length: self.length,
        }
        .to_string()
    }

    fn is_additive_gaussian(&self) -> bool {
        true
    }

    fn num_vertices(&self) -> Option<usize> {
        Some(self.raw_std.len())
    }
}

/// Right-hand sides per blocked solve when estimating the variance.
const BLOCK: usize = 64;

/// `Dᵢ = (A⁻¹MA⁻¹)ᵢᵢ = Σⱼ Mⱼ (A⁻¹eᵢ)ⱼ²`: solves for the unit vectors, `BLOCK` at a time.
fn exact_variance(chol: &SparseCholesky, mass: &[f64]) -> Vec<f64> {
    let n = mass.len();
    let mut out = vec![0.0; n];
    let mut buf = vec![0.0; n * BLOCK];
    for start in (0..n).step_by(BLOCK) {
        let r = BLOCK.min(n - start);
        let cols = &mut buf[..n * r];
        cols.iter_mut().for_each(|c| *c = 0.0);
        for k in 0..r {
            cols[k * n + start + k] = 1.0;
        }
        chol.solve_many_in_place(cols, r);
        for (k, col) in cols.chunks(n).enumerate() {
            out[start + k] = col.iter().zip(mass).map(|(c, m)| m * c * c).sum();
        }
    }
    out
}

/// Mean of `z²` over `probes` fields `z = A⁻¹M^{1/2}ε`; probe `k` uses the seed `seed + k` and
/// the probes are summed in order, so the result depends only on `seed` and `probes`.
fn monte_carlo_variance(
    chol: &SparseCholesky,
    sqrt_mass: &[f64],
    probes: usize,
    seed: u64,
) -> Vec<f64> {
    let n = sqrt_mass.len();
    let mut acc = vec![0.0; n];
    let mut buf = vec![0.0; n * BLOCK];
    for start in (0..probes).step_by(BLOCK) {
        let r = BLOCK.min(probes - start);
        let cols = &mut buf[..n * r];
        for (k, col) in cols.chunks_mut(n).enumerate() {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_add((start + k) as u64));
            for (zi, s) in col.iter_mut().zip(sqrt_mass) {
                let e: f64 = StandardNormal.sample(&mut rng);
                *zi = e * s;
            }
        }
        chol.solve_many_in_place(cols, r);
        for col in cols.chunks(n) {
            for (a, zi) in acc.iter_mut().zip(col) {
                *a += zi * zi;
            }
        }
    }
    acc.iter().map(|a| a / probes.max(1) as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::moments;
    use super::*;
    use meshflow_geometry::sphere::SphereGrid;

    fn grid() -> SphereGrid {
        SphereGrid::latlon(31, 60).unwrap() // 6° grid, 1742 vertices
    }

    /// A fixed x₀ in (0, 1) that varies over the sphere.
    fn x0_on(grid: &SphereGrid) -> Vec<f32> {
        grid.lat_deg()
            .iter()
            .zip(grid.lon_deg())
            .map(|(la, lo)| (0.5 + 0.3 * la.to_radians().sin() * lo.to_radians().cos()) as f32)
            .collect()
    }

    #[test]
    fn marginal_variance_is_sigma_squared_exactly() {
        let g = grid();
        let noise = CorrelatedGaussianNoise::new(g.mesh(), 0.1, 0.3).unwrap();
        assert!(noise.is_exact());
        let n = g.num_vertices();
        // Poles, mid-latitudes, equator: Cᵢᵢ = eᵢᵀ C eᵢ = σ².
        for i in [0, 1, 500, 870, n / 2, n - 1] {
            let mut e = vec![0.0; n];
            e[i] = 1.0;
            let c = noise.apply_covariance(&e).unwrap();
            assert!((c[i] - 0.01).abs() < 1e-12, "vertex {i}: {}", c[i]);
        }
        // The raw variance really does vary (pole vertices differ from the equator).
        let s = noise.raw_std();
        let (lo, hi) = s
            .iter()
            .fold((f64::MAX, 0.0_f64), |(a, b), &x| (a.min(x), b.max(x)));
        assert!(hi / lo > 1.05, "{lo} {hi}");
    }

    #[test]
    fn covariance_is_symmetric_and_sqrt_consistent() {
        let g = SphereGrid::icosphere(2);
        let noise = CorrelatedGaussianNoise::new(g.mesh(), 0.2, 0.4).unwrap();
        let n = g.num_vertices();
        let mut rng = StdRng::seed_from_u64(3);
        let mut rand_vec = || -> Vec<f64> {
            (0..n)
                .map(|_| StandardNormal.sample(&mut rng))
                .collect::<Vec<f64>>()
        };
        let (x, y) = (rand_vec(), rand_vec());
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
        // ⟨Bx, y⟩ = ⟨x, Bᵀy⟩ and ⟨Cx, y⟩ = ⟨x, Cy⟩.
        let bx = noise.apply_sqrt(&x).unwrap();
        let bty = noise.apply_sqrt_transpose(&y).unwrap();
        assert!((dot(&bx, &y) - dot(&x, &bty)).abs() < 1e-10 * dot(&bx, &bx).sqrt() * 10.0);
        let cx = noise.apply_covariance(&x).unwrap();
        let cy = noise.apply_covariance(&y).unwrap();
        assert!((dot(&cx, &y) - dot(&x, &cy)).abs() < 1e-10);
        assert!(noise.apply_sqrt(&x[1..]).is_err());
    }

    #[test]
    fn sampled_moments_and_correlations() {
        let g = grid();
        let sigma = 0.1;
        let noise = CorrelatedGaussianNoise::new(g.mesh(), sigma, 0.3).unwrap();
        let x0 = x0_on(&g);
        let draws = 2000;
        let m = moments(&noise, &x0, draws, 21);
        m.assert_match(&noise, &x0);

        // Correlation between vertex pairs, from the same draws.
        let mut rng = StdRng::seed_from_u64(22);
        let samples: Vec<Vec<f32>> = (0..draws).map(|_| noise.sample(&x0, &mut rng)).collect();
        let corr = |i: usize, j: usize| {
            let c: f64 = samples
                .iter()
                .map(|s| (s[i] - x0[i]) as f64 * (s[j] - x0[j]) as f64)
                .sum::<f64>()
                / draws as f64;
            c / (sigma * sigma)
        };
        // Vertex 0 is the north pole, then rings of 60 from 84° N; the equator (ring 15)
        // starts at vertex 1 + 14·60. Neighbours on it are 6° apart.
        let eq = 1 + 14 * 60;
        assert_eq!(g.lat_deg()[eq], 0.0);
        let near = corr(eq, eq + 1);
        let far = corr(eq, eq + 30); // antipodal on the equator
        let pole_to_equator = corr(0, eq);
        // 6° ≈ 0.105 rad: continuum Matérn gives ρ ≈ 0.74 for ℓ = 0.3.
        assert!(near > 0.5, "neighbour correlation {near}");
        let tol = 5.0 / (draws as f64).sqrt();
        assert!(far.abs() < tol, "antipodal correlation {far}");
        assert!(
            pole_to_equator.abs() < tol,
            "pole–equator correlation {pole_to_equator}"
        );
    }

    #[test]
    fn batches_equal_consecutive_single_draws() {
        let g = SphereGrid::icosphere(2);
        let noise = CorrelatedGaussianNoise::new(g.mesh(), 0.1, 0.5).unwrap();
        let n = g.num_vertices();
        let x0: Vec<f32> = (0..3 * n).map(|i| (i % 7) as f32 / 7.0).collect();
        let batch = noise.sample(&x0, &mut StdRng::seed_from_u64(9));
        let mut rng = StdRng::seed_from_u64(9);
        let mut rows = Vec::new();
        for r in 0..3 {
            rows.extend(noise.sample(&x0[r * n..(r + 1) * n], &mut rng));
        }
        assert_eq!(batch, rows);
        assert_eq!(batch, noise.sample(&x0, &mut StdRng::seed_from_u64(9)));
        assert!(noise.try_sample(&x0[1..], &mut rng).is_err());
    }

    #[test]
    fn monte_carlo_variance_is_close_to_exact() {
        let g = SphereGrid::icosphere(3);
        let exact = CorrelatedGaussianNoise::with_method(g.mesh(), 0.1, 0.3, VarianceMethod::Exact)
            .unwrap();
        let mc = CorrelatedGaussianNoise::with_method(
            g.mesh(),
            0.1,
            0.3,
            VarianceMethod::MonteCarlo {
                probes: 512,
                seed: 1,
            },
        )
        .unwrap();
        assert!(!mc.is_exact());
        // Relative SE of the variance is √(2/512) = 6.25 %, so 3.1 % on the std; 5 SE.
        for (e, m) in exact.raw_std().iter().zip(mc.raw_std()) {
            assert!(
                (m / e - 1.0).abs() < 5.0 * (0.5f64 / 512.0).sqrt(),
                "{m} vs {e}"
            );
        }
    }

    #[test]
    fn invalid_inputs_are_rejected() {
        let g = SphereGrid::icosphere(1);
        assert!(CorrelatedGaussianNoise::new(g.mesh(), -0.1, 0.3).is_err());
        assert!(CorrelatedGaussianNoise::new(g.mesh(), 0.1, 0.0).is_err());
        let mut positions = g.mesh().positions().to_vec();
        positions.push(positions[0]); // an unreferenced vertex
        let mesh = TriMesh::new(positions, g.mesh().faces().to_vec()).unwrap();
        let err = CorrelatedGaussianNoise::new(&mesh, 0.1, 0.3).unwrap_err();
        assert!(err.to_string().contains("vertex 42"), "{err}");
    }
}

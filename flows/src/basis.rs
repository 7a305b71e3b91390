//! Principal directions of a training set (PCA; empirical orthogonal functions, EOFs, in
//! climate science), used by [`crate::score::MlpScore`] to precondition the score per direction.
//!
//! A prior learned from few fields (the ERA5 sample has 60 training fields of 1742 values) has
//! no information about the directions its data do not span. A network whose preconditioning
//! assumes one data scale `σ_d` for every direction treats those directions as `N(0, σ_d²)`:
//! samples carry noise of scale `σ_d` there (on ERA5, ≈ 40 K per vertex). With the data's own
//! variance per principal direction, and a small, cross-validated variance for the rest, the
//! untrained network is already the Gaussian (EOF) prior, and training adds what is not
//! Gaussian.

use burn::module::{Module, Param};
use burn::tensor::{backend::Backend, Tensor};
use nalgebra::{DMatrix, SymmetricEigen};

use crate::util;

/// The principal directions of a set of signals.
#[derive(Clone, Debug, PartialEq)]
pub struct PrincipalBasis {
    /// Mean signal, `[D]`.
    pub mean: Vec<f32>,
    /// Orthonormal principal directions, row-major `[r, D]`, by decreasing variance.
    pub vectors: Vec<f32>,
    /// Standard deviation of the data along each direction, `[r]` (population, `1/N`).
    pub std: Vec<f32>,
    /// Standard deviation per dimension of held-out signals outside the directions
    /// (estimated by 5-fold cross-validation, so it is not the zero of the training fit).
    pub residual_std: f32,
    /// Signal dimension `D`.
    pub dim: usize,
}

/// At most this many signals enter the decomposition (evenly strided), bounding its cost.
pub const MAX_PCA_SIGNALS: usize = 2048;

/// At most this many signals enter the cross-validation of the residual variance.
pub const MAX_RESIDUAL_SIGNALS: usize = 400;

impl PrincipalBasis {
    /// Number of directions `r`.
    pub fn rank(&self) -> usize {
        self.std.len()
    }

    /// Fits at most `max_rank` directions to `len` signals of `dim` values (`data` row-major
    /// `[len, dim]`). Directions with variance below `1e-10` of the largest are dropped.
    ///
    /// # Errors
    /// [`crate::FlowError::InvalidConfig`] for fewer than 2 signals, a size mismatch, or
    /// `max_rank == 0`.
    pub fn fit(data: &[f32], len: usize, dim: usize, max_rank: usize) -> crate::Result<Self> {
        if len < 2 || dim == 0 || data.len() != len * dim || max_rank == 0 {
            return Err(crate::FlowError::InvalidConfig(format!(
                "a principal basis needs at least 2 signals, matching sizes and a rank >= 1 \
                 (got {len} signals of {dim} values in {} numbers, rank {max_rank})",
                data.len()
            )));
        }
        let rows: Vec<usize> = strided(len, MAX_PCA_SIGNALS);
        let (mean, vectors, variances) = decompose(data, dim, &rows, max_rank);
        // Residual variance outside the directions, from 5 folds of held-out signals.
        let cv_rows: Vec<usize> = strided(len, MAX_RESIDUAL_SIGNALS);
        let folds = cv_rows.len().min(5);
        let (mut sum_sq, mut count) = (0.0f64, 0usize);
        if folds >= 2 {
            for f in 0..folds {
                let train: Vec<usize> = cv_rows
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % folds != f)
                    .map(|(_, &j)| j)
                    .collect();
                let (m, v, var) = decompose(data, dim, &train, max_rank);
                let k = var.len();
                if k >= dim {
                    continue;
                }
                for (i, &j) in cv_rows.iter().enumerate() {
                    if i % folds != f {
                        continue;
                    }
                    let mut x: Vec<f64> =
                        (0..dim).map(|c| data[j * dim + c] as f64 - m[c]).collect();
                    for a in 0..k {
                        let dir = &v[a * dim..(a + 1) * dim];
                        let c: f64 = dir.iter().zip(&x).map(|(p, q)| p * q).sum();
                        x.iter_mut().zip(dir).for_each(|(xi, di)| *xi -= c * di);
                    }
                    sum_sq += x.iter().map(|v| v * v).sum::<f64>();
                    count += dim - k;
                }
            }
        }
        let smallest = variances.last().copied().unwrap_or(0.0).sqrt();
        let residual_std = if count > 0 {
            (sum_sq / count as f64).sqrt()
        } else {
            smallest
        };
        // Never exactly zero: the score outside the directions is −x/(σ² + α² s²).
        let floor = 1e-4 * variances.first().copied().unwrap_or(1.0).sqrt();
        Ok(Self {
            mean: mean.iter().map(|&v| v as f32).collect(),
            vectors: vectors.iter().map(|&v| v as f32).collect(),
            std: variances.iter().map(|v| v.sqrt() as f32).collect(),
            residual_std: residual_std.max(floor).max(1e-12) as f32,
            dim,
        })
    }
}

/// The training data's principal directions inside an [`crate::score::MlpScore`] (see
/// [`PrincipalBasis`]): constants of the module, saved with its weights and never
/// optimised.
///
/// With `u = V (x_t − α μ)` (coordinates along the `r` directions `V`, `[r, D]`), the residual
/// `p = (x_t − α μ) − Vᵀ u`, `q_k = √(σ² + α² s_k²)` per direction and `q_⊥ = √(σ² + α² s_⊥²)`:
///
/// ```text
/// α D_u  = (α² s² / q²) ⊙ u + (σ s / q) ⊙ F(u / q, t)          (EDM, per direction)
/// score  = Vᵀ (α D_u − u) / σ²  −  p / q_⊥²
/// ```
///
/// With `F = 0` (the zero-initialised output layer) this is the exact score of the Gaussian
/// `N(μ, Vᵀ diag(s²) V + s_⊥² (I − VᵀV))` diffused by the VP-SDE; the network learns the rest.
#[derive(Module, Debug)]
pub struct DataBasis<B: Backend> {
    mean: Param<Tensor<B, 1>>,
    vectors: Param<Tensor<B, 2>>,
    std: Param<Tensor<B, 1>>,
    residual_std: Param<Tensor<B, 1>>,
}

fn constant<B: Backend, const D: usize>(t: Tensor<B, D>) -> Param<Tensor<B, D>> {
    Param::from_tensor(t).set_require_grad(false)
}

impl<B: Backend> DataBasis<B> {
    /// Zeros of the right shapes (`r` directions in `dim` dimensions), to load a record into.
    pub fn placeholder(r: usize, dim: usize, device: &B::Device) -> Self {
        Self {
            mean: constant(Tensor::zeros([dim], device)),
            vectors: constant(Tensor::zeros([r, dim], device)),
            std: constant(Tensor::ones([r], device)),
            residual_std: constant(Tensor::ones([1], device)),
        }
    }

    /// The fitted basis as constant tensors.
    pub fn from_fit(fit: &PrincipalBasis, device: &B::Device) -> Self {
        let (r, d) = (fit.rank(), fit.dim);
        Self {
            mean: constant(util::tensor1(fit.mean.clone(), device)),
            vectors: constant(util::tensor2(fit.vectors.clone(), r, d, device)),
            std: constant(util::tensor1(fit.std.clone(), device)),
            residual_std: constant(util::tensor1(vec![fit.residual_std], device)),
        }
    }

    /// Number of directions `r`.
    pub fn rank(&self) -> usize {
        self.std.val().dims()[0]
    }

    /// Mean signal `μ`, `[D]`.
    pub fn mean(&self) -> Tensor<B, 1> {
        self.mean.val()
    }

    /// Orthonormal directions `V`, `[r, D]`.
    pub fn vectors(&self) -> Tensor<B, 2> {
        self.vectors.val()
    }

    /// Standard deviation along each direction `s`, `[r]`.
    pub fn std(&self) -> Tensor<B, 1> {
        self.std.val()
    }

    /// Standard deviation per dimension outside the directions `s_⊥`, `[1]`.
    pub fn residual_std(&self) -> Tensor<B, 1> {
        self.residual_std.val()
    }

    /// The data-shaped image of a whitened signal: `x = μ + A g` with
    /// `A = Vᵀ diag(s) V + s_⊥ (I − VᵀV)` (symmetric positive definite). A standard-normal `g`
    /// maps to the Gaussian of the basis.
    ///
    /// # Shapes
    /// - `g`: `[N, D]` → `[N, D]`
    pub fn to_data(&self, g: Tensor<B, 2>) -> Tensor<B, 2> {
        let v = self.vectors();
        let sp = self.residual_std().unsqueeze_dim::<2>(0); // [1, 1]
        let u = g.clone().matmul(v.clone().transpose()); // [N, r]
        let gain = self.std().unsqueeze_dim::<2>(0) - sp.clone(); // [1, r]
        self.mean().unsqueeze_dim::<2>(0) + (u * gain).matmul(v) + g * sp
    }

    /// The inverse of [`DataBasis::to_data`]: `g = A⁻¹ (x − μ)`.
    ///
    /// # Shapes
    /// - `x`: `[N, D]` → `[N, D]`
    pub fn from_data(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let v = self.vectors();
        let inv_sp = self.residual_std().recip().unsqueeze_dim::<2>(0); // [1, 1]
        let c = x - self.mean().unsqueeze_dim::<2>(0);
        let u = c.clone().matmul(v.clone().transpose());
        let gain = self.std().recip().unsqueeze_dim::<2>(0) - inv_sp.clone();
        (u * gain).matmul(v) + c * inv_sp
    }

    /// `log|det A|` of [`DataBasis::to_data`]: `Σ log s_k + (D − r) log s_⊥`, `[1]`.
    pub fn log_det(&self) -> Tensor<B, 1> {
        let d = self.vectors().dims()[1];
        let r = self.rank();
        self.std().log().sum() + self.residual_std().log().mul_scalar((d - r) as f64)
    }
}

/// `len` indices, at most `max` of them, evenly strided.
fn strided(len: usize, max: usize) -> Vec<usize> {
    if len <= max {
        (0..len).collect()
    } else {
        (0..max).map(|i| i * len / max).collect()
    }
}

/// Mean, directions (row-major `[k, dim]`) and variances of the signals `rows` of `data`, via
/// the eigen-decomposition of the `rows × rows` Gram matrix.
fn decompose(
    data: &[f32],
    dim: usize,
    rows: &[usize],
    max_rank: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = rows.len();
    let mut mean = vec![0.0f64; dim];
    for &j in rows {
        for (m, &v) in mean.iter_mut().zip(&data[j * dim..(j + 1) * dim]) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let x = DMatrix::from_fn(n, dim, |i, c| data[rows[i] * dim + c] as f64 - mean[c]);
    let mut vectors = Vec::new();
    let mut variances = Vec::new();
    // Eigen-decompose the smaller of the covariance (D × D) and the Gram matrix (N × N).
    let by_gram = n < dim;
    let eig = if by_gram {
        SymmetricEigen::new(&x * x.transpose() / n as f64)
    } else {
        SymmetricEigen::new(x.transpose() * &x / n as f64)
    };
    let m = eig.eigenvalues.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let top = eig.eigenvalues[order[0]].max(0.0);
    for &k in order.iter().take(max_rank.min(dim)) {
        let lambda = eig.eigenvalues[k];
        if lambda.is_nan() || lambda <= 1e-10 * top || top == 0.0 {
            break;
        }
        if by_gram {
            // X Xᵀ e = nλ e, so Xᵀ e has norm √(nλ).
            let dir = x.transpose() * eig.eigenvectors.column(k) / (n as f64 * lambda).sqrt();
            vectors.extend(dir.iter().copied());
        } else {
            vectors.extend(eig.eigenvectors.column(k).iter().copied());
        }
        variances.push(lambda);
    }
    (mean, vectors, variances)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};
    use rand_distr::StandardNormal;

    /// Signals `μ + Σ_k s_k z_k e_k + ρ w` with orthonormal `e_k` (coordinate axes 0..3) and
    /// white `w`: the fit finds the axes, their standard deviations and `ρ`.
    #[test]
    fn finds_directions_their_scales_and_the_residual() {
        let (n, d) = (4000, 40);
        let scales = [3.0f64, 2.0, 1.0];
        let rho = 0.05;
        let mut rng = StdRng::seed_from_u64(1);
        let mut data = Vec::with_capacity(n * d);
        for _ in 0..n {
            for c in 0..d {
                let mut v = 0.5 + rho * rng.sample::<f64, _>(StandardNormal);
                if c < 3 {
                    v += scales[c] * rng.sample::<f64, _>(StandardNormal);
                }
                data.push(v as f32);
            }
        }
        let b = PrincipalBasis::fit(&data, n, d, 3).unwrap();
        assert_eq!(b.rank(), 3);
        for k in 0..3 {
            let dir = &b.vectors[k * d..(k + 1) * d];
            assert!(
                dir[k].abs() > 0.99,
                "direction {k} is axis {k}: {:?}",
                &dir[..4]
            );
            let rel = (b.std[k] as f64 - scales[k]).abs() / scales[k];
            assert!(rel < 0.05, "std {k}: {} vs {}", b.std[k], scales[k]);
        }
        let norm: f32 = b.vectors[..d].iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(
            b.mean.iter().all(|m| (m - 0.5).abs() < 0.2),
            "{:?}",
            &b.mean[..4]
        );
        let rel = (b.residual_std as f64 - rho).abs() / rho;
        assert!(rel < 0.1, "residual std {} vs {rho}", b.residual_std);
    }

    /// Signals in a 2-dimensional subspace: only 2 directions are kept whatever the requested
    /// rank, and the residual is the floor (not zero).
    #[test]
    fn a_low_rank_set_keeps_its_rank() {
        let (n, d) = (30, 12);
        let mut rng = StdRng::seed_from_u64(2);
        let data: Vec<f32> = (0..n)
            .flat_map(|_| {
                let (a, b): (f32, f32) = (rng.sample(StandardNormal), rng.sample(StandardNormal));
                (0..d).map(move |c| a * (c as f32).cos() + b * (c as f32 * 0.3).sin())
            })
            .collect();
        let b = PrincipalBasis::fit(&data, n, d, 10).unwrap();
        assert_eq!(b.rank(), 2);
        assert!(b.residual_std > 0.0 && b.residual_std < 1e-3 * b.std[0]);
        assert!(PrincipalBasis::fit(&data[..d], 1, d, 2).is_err());
    }
}

//! Error metrics for vertex signals: MSE, RMSE, PSNR, their area-weighted versions, and SSIM
//! for grids (2-D Gaussian window) and for meshes (k-NN neighbourhoods).
//!
//! Every function takes the prediction and the truth as `[V]` slices (one channel) and,
//! where it says so, optional non-negative per-vertex `weights` `[V]`: area weights (the
//! lumped mass or a grid's quadrature weights, see [`latitude_weights`] for WeatherBench's
//! cos-latitude weights), 0/1 weights to score only some vertices (e.g. the masked ones), or
//! both multiplied. With `weights = None` every vertex counts equally.
//!
//! Definitions (sums over vertices `i`, `w_i` the weights):
//! - `MSE = Σ w_i (p_i − t_i)² / Σ w_i`, `RMSE = √MSE`;
//! - `PSNR = 10 log₁₀(R² / MSE)` in dB with an explicit data range `R` (e.g. 1 for signals
//!   normalised to [0, 1]; never inferred from the data, so scores are comparable);
//! - SSIM: see [`ssim_grid`] and [`ssim_mesh`].

use nalgebra::Point3;

use crate::error::{GeometryError, Result};
use crate::resample::PointIndex;

fn check_pair(pred: &[f32], truth: &[f32], weights: Option<&[f64]>) -> Result<()> {
    if pred.len() != truth.len() {
        return Err(GeometryError::ShapeMismatch {
            what: "prediction vs truth".into(),
            expected: truth.len(),
            got: pred.len(),
        });
    }
    if pred.is_empty() {
        return Err(GeometryError::InvalidArgument(
            "cannot score an empty signal".into(),
        ));
    }
    if let Some(i) = pred.iter().position(|v| !v.is_finite()) {
        return Err(GeometryError::NonFinite {
            what: "predicted value",
            index: i,
        });
    }
    if let Some(i) = truth.iter().position(|v| !v.is_finite()) {
        return Err(GeometryError::NonFinite {
            what: "true value",
            index: i,
        });
    }
    if let Some(w) = weights {
        if w.len() != pred.len() {
            return Err(GeometryError::ShapeMismatch {
                what: "metric weights".into(),
                expected: pred.len(),
                got: w.len(),
            });
        }
        if let Some(i) = w.iter().position(|x| !(x.is_finite() && *x >= 0.0)) {
            return Err(GeometryError::InvalidArgument(format!(
                "metric weight {i} is negative or not finite"
            )));
        }
        if w.iter().sum::<f64>() <= 0.0 {
            return Err(GeometryError::InvalidArgument(
                "metric weights are all zero (empty mask?)".into(),
            ));
        }
    }
    Ok(())
}

/// Weighted mean squared error (see the module docs).
pub fn mse(pred: &[f32], truth: &[f32], weights: Option<&[f64]>) -> Result<f64> {
    check_pair(pred, truth, weights)?;
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for i in 0..pred.len() {
        let w = weights.map_or(1.0, |w| w[i]);
        num += w * (pred[i] as f64 - truth[i] as f64).powi(2);
        den += w;
    }
    Ok(num / den)
}

/// Weighted root mean squared error.
pub fn rmse(pred: &[f32], truth: &[f32], weights: Option<&[f64]>) -> Result<f64> {
    mse(pred, truth, weights).map(f64::sqrt)
}

/// Peak signal-to-noise ratio in dB for data range `data_range` (> 0). A perfect prediction
/// gives `+∞`.
pub fn psnr(pred: &[f32], truth: &[f32], data_range: f64, weights: Option<&[f64]>) -> Result<f64> {
    if !(data_range > 0.0 && data_range.is_finite()) {
        return Err(GeometryError::InvalidArgument(format!(
            "PSNR data range must be positive, got {data_range}"
        )));
    }
    let e = mse(pred, truth, weights)?;
    Ok(10.0 * (data_range * data_range / e).log10())
}

/// WeatherBench latitude weights `cos φ_i / mean(cos φ)` for per-vertex latitudes in
/// degrees, `[V]`. (For grids with quadrature weights, those are the better area weights.)
pub fn latitude_weights(lat_deg: &[f64]) -> Vec<f64> {
    let c: Vec<f64> = lat_deg
        .iter()
        .map(|l| l.to_radians().cos().max(0.0))
        .collect();
    let mean = c.iter().sum::<f64>() / c.len().max(1) as f64;
    c.into_iter()
        .map(|x| if mean > 0.0 { x / mean } else { 1.0 })
        .collect()
}

/// Multiplies area weights by a 0/1 mask (`true` keeps the vertex): scores only the selected
/// vertices, area-weighted.
pub fn masked_weights(weights: Option<&[f64]>, keep: &[bool]) -> Vec<f64> {
    keep.iter()
        .enumerate()
        .map(|(i, &k)| {
            if k {
                weights.map_or(1.0, |w| w[i])
            } else {
                0.0
            }
        })
        .collect()
}

const SSIM_K1: f64 = 0.01;
const SSIM_K2: f64 = 0.03;

fn ssim_from_moments(mx: f64, my: f64, vx: f64, vy: f64, cxy: f64, data_range: f64) -> f64 {
    let c1 = (SSIM_K1 * data_range).powi(2);
    let c2 = (SSIM_K2 * data_range).powi(2);
    ((2.0 * mx * my + c1) * (2.0 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
}

/// 1-D Gaussian kernel, σ = 1.5, radius 5 (truncated at 3.5σ): the 11-tap window of Wang et
/// al. (2004).
fn gaussian_kernel() -> [f64; 11] {
    let mut k = [0.0; 11];
    for (i, v) in k.iter_mut().enumerate() {
        let x = i as f64 - 5.0;
        *v = (-x * x / (2.0 * 1.5 * 1.5)).exp();
    }
    let s: f64 = k.iter().sum();
    k.map(|v| v / s)
}

/// Index reflection `d c b a | a b c d | d c b a` (scipy.ndimage's `reflect` mode).
fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let period = 2 * n;
    let mut j = i.rem_euclid(period);
    if j >= n {
        j = period - 1 - j;
    }
    j as usize
}

fn gaussian_filter(img: &[f64], nrow: usize, ncol: usize) -> Vec<f64> {
    let k = gaussian_kernel();
    let mut tmp = vec![0.0; img.len()];
    for r in 0..nrow {
        for c in 0..ncol {
            tmp[r * ncol + c] = (0..11)
                .map(|t| k[t] * img[r * ncol + reflect(c as isize + t as isize - 5, ncol)])
                .sum();
        }
    }
    let mut out = vec![0.0; img.len()];
    for r in 0..nrow {
        for c in 0..ncol {
            out[r * ncol + c] = (0..11)
                .map(|t| k[t] * tmp[reflect(r as isize + t as isize - 5, nrow) * ncol + c])
                .sum();
        }
    }
    out
}

/// Mean SSIM of two `nrow × ncol` row-major grids (Wang et al. 2004, as computed by
/// scikit-image's `structural_similarity(gaussian_weights=True, sigma=1.5,
/// use_sample_covariance=False, data_range=R)`):
/// local means, variances and covariance from an 11×11 Gaussian window (σ = 1.5 pixels)
/// with reflected boundaries; `C₁ = (0.01R)²`, `C₂ = (0.03R)²`; the SSIM map is averaged
/// over all pixels at least 5 pixels from the border. Longitude is not wrapped.
/// Needs at least 11 × 11 pixels.
pub fn ssim_grid(
    pred: &[f32],
    truth: &[f32],
    nrow: usize,
    ncol: usize,
    data_range: f64,
) -> Result<f64> {
    check_pair(pred, truth, None)?;
    if pred.len() != nrow * ncol {
        return Err(GeometryError::ShapeMismatch {
            what: format!("{nrow}×{ncol} grid"),
            expected: nrow * ncol,
            got: pred.len(),
        });
    }
    if nrow < 11 || ncol < 11 {
        return Err(GeometryError::InvalidArgument(format!(
            "grid SSIM needs at least 11×11 points, got {nrow}×{ncol}"
        )));
    }
    if !(data_range > 0.0 && data_range.is_finite()) {
        return Err(GeometryError::InvalidArgument(format!(
            "SSIM data range must be positive, got {data_range}"
        )));
    }
    let x: Vec<f64> = pred.iter().map(|&v| v as f64).collect();
    let y: Vec<f64> = truth.iter().map(|&v| v as f64).collect();
    let prod = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).collect::<Vec<f64>>();
    let mx = gaussian_filter(&x, nrow, ncol);
    let my = gaussian_filter(&y, nrow, ncol);
    let mxx = gaussian_filter(&prod(&x, &x), nrow, ncol);
    let myy = gaussian_filter(&prod(&y, &y), nrow, ncol);
    let mxy = gaussian_filter(&prod(&x, &y), nrow, ncol);
    let (mut total, mut count) = (0.0, 0usize);
    for r in 5..nrow - 5 {
        for c in 5..ncol - 5 {
            let i = r * ncol + c;
            total += ssim_from_moments(
                mx[i],
                my[i],
                mxx[i] - mx[i] * mx[i],
                myy[i] - my[i] * my[i],
                mxy[i] - mx[i] * my[i],
                data_range,
            );
            count += 1;
        }
    }
    Ok(total / count as f64)
}

/// Mean SSIM of two signals on an unstructured point set (mesh vertices), `[V]`.
///
/// Each vertex's window is its `k` nearest vertices (itself included; Euclidean distance)
/// with Gaussian weights `exp(−d²/(2h_i²))`, `h_i` half the distance to its k-th neighbour
/// (so the window adapts to the local resolution, like a fixed pixel window on a grid).
/// Weighted local means, variances and covariance feed the SSIM formula with
/// `C₁ = (0.01R)²`, `C₂ = (0.03R)²`; the per-vertex SSIM is averaged with `weights` (e.g.
/// areas) or uniformly. `k = 25` is a good default (≈ a 5×5 pixel window).
pub fn ssim_mesh(
    pred: &[f32],
    truth: &[f32],
    points: &[Point3<f64>],
    data_range: f64,
    k: usize,
    weights: Option<&[f64]>,
) -> Result<f64> {
    check_pair(pred, truth, weights)?;
    if points.len() != pred.len() {
        return Err(GeometryError::ShapeMismatch {
            what: "SSIM points vs values".into(),
            expected: pred.len(),
            got: points.len(),
        });
    }
    if k < 2 {
        return Err(GeometryError::InvalidArgument(format!(
            "mesh SSIM needs k ≥ 2 neighbours, got {k}"
        )));
    }
    if !(data_range > 0.0 && data_range.is_finite()) {
        return Err(GeometryError::InvalidArgument(format!(
            "SSIM data range must be positive, got {data_range}"
        )));
    }
    let index = PointIndex::new(points)?;
    let (mut total, mut wsum) = (0.0, 0.0);
    for (i, q) in points.iter().enumerate() {
        let nn = index.nearest_k(q, k);
        let h2 = (nn.last().map_or(0.0, |x| x.1) / 4.0).max(f64::MIN_POSITIVE);
        let (mut s, mut mx, mut my) = (0.0, 0.0, 0.0);
        let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
        for &(j, d2) in &nn {
            let w = (-d2 / (2.0 * h2)).exp();
            let (a, b) = (pred[j] as f64, truth[j] as f64);
            s += w;
            mx += w * a;
            my += w * b;
            sxx += w * a * a;
            syy += w * b * b;
            sxy += w * a * b;
        }
        let (mx, my) = (mx / s, my / s);
        let local = ssim_from_moments(
            mx,
            my,
            sxx / s - mx * mx,
            syy / s - my * my,
            sxy / s - mx * my,
            data_range,
        );
        let w = weights.map_or(1.0, |w| w[i]);
        total += w * local;
        wsum += w;
    }
    Ok(total / wsum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mse_psnr_and_weights() {
        let t = [0.0f32, 0.0, 0.0, 0.0];
        let p = [0.1f32, -0.1, 0.1, -0.1];
        assert!((mse(&p, &t, None).unwrap() - 0.01).abs() < 1e-9);
        assert!((psnr(&p, &t, 1.0, None).unwrap() - 20.0).abs() < 1e-5);
        let w = [1.0, 1.0, 0.0, 0.0];
        let p2 = [0.1f32, 0.1, 5.0, 5.0];
        assert!((rmse(&p2, &t, Some(&w)).unwrap() - 0.1).abs() < 1e-7);
        assert!(mse(&p, &t[..3], None).is_err());
        assert!(mse(&p, &t, Some(&[0.0; 4])).is_err());
        assert!(mse(&[f32::NAN], &[0.0], None).is_err());
        assert!(psnr(&p, &t, 0.0, None).is_err());
        let lw = latitude_weights(&[90.0, 0.0, -90.0]);
        assert!(lw[0].abs() < 1e-12 && (lw[1] - 3.0).abs() < 1e-12);
        assert_eq!(masked_weights(None, &[true, false]), vec![1.0, 0.0]);
    }

    #[test]
    fn ssim_is_one_for_identical_and_drops_with_noise() {
        let (nr, nc) = (32, 48);
        let img: Vec<f32> = (0..nr * nc)
            .map(|i| (((i / nc) as f32 * 0.3).sin() + ((i % nc) as f32 * 0.2).cos()) * 0.25 + 0.5)
            .collect();
        assert!((ssim_grid(&img, &img, nr, nc, 1.0).unwrap() - 1.0).abs() < 1e-12);
        let noisy: Vec<f32> = img
            .iter()
            .enumerate()
            .map(|(i, v)| v + if (i * 7919) % 3 == 0 { 0.2 } else { -0.1 })
            .collect();
        let s = ssim_grid(&noisy, &img, nr, nc, 1.0).unwrap();
        assert!(s < 0.9 && s > 0.0, "{s}");
        // A constant offset lowers only the luminance term.
        let shifted: Vec<f32> = img.iter().map(|v| v + 0.05).collect();
        let s2 = ssim_grid(&shifted, &img, nr, nc, 1.0).unwrap();
        assert!(s2 > s && s2 < 1.0);
        assert!(ssim_grid(&img[..100], &img[..100], 10, 10, 1.0).is_err());

        let pts: Vec<Point3<f64>> = (0..nr * nc)
            .map(|i| Point3::new((i % nc) as f64, (i / nc) as f64, 0.0))
            .collect();
        assert!((ssim_mesh(&img, &img, &pts, 1.0, 25, None).unwrap() - 1.0).abs() < 1e-12);
        let sm = ssim_mesh(&noisy, &img, &pts, 1.0, 25, None).unwrap();
        assert!(sm < 0.9, "{sm}");
    }

    #[test]
    fn ssim_grid_matches_scikit_image() {
        // Reference values from scripts/ssim_reference.py (scikit-image 0.26.0,
        // gaussian_weights=True, sigma=1.5, use_sample_covariance=False).
        let (nr, nc) = (24, 37);
        let mut truth = Vec::new();
        let mut pred = Vec::new();
        for r in 0..nr {
            for c in 0..nc {
                let (rf, cf) = (r as f64, c as f64);
                let t = (0.5 + 0.25 * (0.3 * rf).sin() + 0.2 * (0.2 * cf).cos()) as f32;
                truth.push(t);
                pred.push((t as f64 + 0.1 * (0.7 * rf * cf + 0.1 * rf).sin()) as f32);
            }
        }
        let s1 = ssim_grid(&pred, &truth, nr, nc, 1.0).unwrap();
        let s2 = ssim_grid(&pred, &truth, nr, nc, 2.0).unwrap();
        assert!((s1 - 0.7024865639752114).abs() < 1e-9, "{s1}");
        assert!((s2 - 0.7485289972098674).abs() < 1e-9, "{s2}");
    }

    #[test]
    fn reflect_matches_scipy_convention() {
        let got: Vec<usize> = (-3..7).map(|i| reflect(i, 4)).collect();
        assert_eq!(got, vec![2, 1, 0, 0, 1, 2, 3, 3, 2, 1]);
    }
}

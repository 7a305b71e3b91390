//! Time grids and the consistency-model parametrisation of inverse flows.

/// The Karras et al. (2022) grid of `n ≥ 2` times from `t_min` to `t_max` (ascending):
/// `tᵢ = (t_min^{1/ρ} + i/(n−1) · (t_max^{1/ρ} − t_min^{1/ρ}))^ρ`, so steps are short near
/// `t_min` and long near `t_max`. The ends are exactly `t_min` and `t_max`.
///
/// # Panics
/// If `n < 2` or not `0 < t_min < t_max` (checked by [`super::InverseFlowConfig::validate`]).
pub fn karras_schedule(t_min: f64, t_max: f64, n: usize, rho: f64) -> Vec<f64> {
    assert!(n >= 2 && 0.0 < t_min && t_min < t_max, "bad Karras grid");
    let (lo, hi) = (t_min.powf(1.0 / rho), t_max.powf(1.0 / rho));
    (0..n)
        .map(|i| match i {
            0 => t_min,
            i if i == n - 1 => t_max,
            i => (lo + i as f64 / (n - 1) as f64 * (hi - lo)).powf(rho),
        })
        .collect()
}

/// The consistency-model scalings `(c_skip(t), c_out(t))` of `f(x, t) = c_skip x + c_out F(x, t)`:
///
/// ```text
/// c_skip = σ_d² / ((t − t_min)² + σ_d²),   c_out = σ_d (t − t_min) / √(σ_d² + t²)
/// ```
///
/// so `c_skip(t_min) = 1` and `c_out(t_min) = 0`: `f(x, t_min) = x` exactly (the boundary
/// condition of a consistency model).
pub fn consistency_scalings(t: f64, t_min: f64, sigma_data: f64) -> (f64, f64) {
    let s2 = sigma_data * sigma_data;
    let d = t - t_min;
    (s2 / (d * d + s2), sigma_data * d / (s2 + t * t).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn karras_grid_is_ascending_with_exact_ends() {
        let t = karras_schedule(0.002, 0.2, 11, 7.0);
        assert_eq!(t.len(), 11);
        assert_eq!((t[0], t[10]), (0.002, 0.2));
        assert!(t.windows(2).all(|w| w[0] < w[1]));
        // Steps grow towards t_max (ρ = 7 concentrates points near t_min).
        assert!(t.windows(3).all(|w| w[2] - w[1] > w[1] - w[0]));
        // Reference value of the interior point i = 9 (from the closed form).
        assert!((t[9] - 0.141_525).abs() < 1e-5, "{}", t[9]);
    }

    #[test]
    fn scalings_satisfy_the_boundary_condition() {
        assert_eq!(consistency_scalings(0.002, 0.002, 0.5), (1.0, 0.0));
        let (skip, out) = consistency_scalings(0.2, 0.002, 0.5);
        assert!(skip < 1.0 && out > 0.0);
    }
}

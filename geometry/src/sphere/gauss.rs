//! Gauss–Legendre quadrature nodes and weights, the latitudes of Gaussian grids.

use std::f64::consts::PI;

/// Gauss–Legendre nodes and weights on `[-1, 1]` for `n` points.
///
/// Returns `(nodes, weights)`, both of length `n`. The nodes are the roots of the Legendre
/// polynomial `P_n`, sorted in **descending** order (`x = sin φ` from near the north pole to
/// near the south pole, the north→south order of Gaussian grids); `weights[i] =
/// 2 / ((1 − x_i²) P_n'(x_i)²)` sum to 2. The rule integrates polynomials of degree up to
/// `2n − 1` exactly.
///
/// The roots are found by Newton iteration on the three-term recurrence from Tricomi's initial
/// guess, to about 1e-15; nodes and weights are mirrored so that `x_{n−1−i} = −x_i` exactly.
/// `n = 0` gives two empty vectors.
pub fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut nodes = vec![0.0; n];
    let mut weights = vec![0.0; n];
    let nf = n as f64;
    for i in 0..n.div_ceil(2) {
        // Tricomi's approximation of the (i+1)-th largest root.
        let theta = PI * (4.0 * i as f64 + 3.0) / (4.0 * nf + 2.0);
        let mut x = (1.0 - (nf - 1.0) / (8.0 * nf * nf * nf)) * theta.cos();
        let mut dp = 0.0;
        for _ in 0..100 {
            let (p, d) = legendre_and_derivative(n, x);
            dp = d;
            let dx = p / d;
            x -= dx;
            if dx.abs() <= 1e-15 {
                break;
            }
        }
        // Derivative at the converged root for the weight.
        let (_, d) = legendre_and_derivative(n, x);
        if d.is_finite() && d != 0.0 {
            dp = d;
        }
        let w = 2.0 / ((1.0 - x * x) * dp * dp);
        nodes[i] = x;
        weights[i] = w;
        nodes[n - 1 - i] = -x;
        weights[n - 1 - i] = w;
    }
    if n % 2 == 1 {
        // The middle root of an odd-degree polynomial is exactly zero.
        nodes[n / 2] = 0.0;
    }
    (nodes, weights)
}

/// `(P_n(x), P_n'(x))` by the three-term recurrence.
fn legendre_and_derivative(n: usize, x: f64) -> (f64, f64) {
    if n == 0 {
        return (1.0, 0.0);
    }
    let (mut p_prev, mut p) = (1.0, x);
    for k in 2..=n {
        let kf = k as f64;
        let p_next = ((2.0 * kf - 1.0) * x * p - (kf - 1.0) * p_prev) / kf;
        p_prev = p;
        p = p_next;
    }
    let d = n as f64 * (x * p - p_prev) / (x * x - 1.0);
    (p, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_t42_latitudes() {
        let (x, w) = gauss_legendre(64);
        let lat: Vec<f64> = x.iter().map(|x| x.asin().to_degrees()).collect();
        assert!((lat[0] - 87.8638).abs() < 5e-5, "{}", lat[0]);
        assert!((lat[31] - 1.395307).abs() < 5e-7, "{}", lat[31]);
        assert!((lat[32] + 1.395307).abs() < 5e-7, "{}", lat[32]);
        assert!(lat.windows(2).all(|p| p[0] > p[1]));
        assert!((w.iter().sum::<f64>() - 2.0).abs() < 1e-14);
    }

    #[test]
    fn gauss_legendre_roots_are_accurate() {
        for n in [1usize, 2, 3, 7, 64, 320, 1280] {
            let (x, _) = gauss_legendre(n);
            for &xi in &x {
                let (p, d) = legendre_and_derivative(n, xi);
                // Newton step size bounds the root error.
                assert!((p / d).abs() < 1e-14, "n={n} x={xi} step={}", p / d);
            }
        }
        let (x, w) = gauss_legendre(2);
        assert!((x[0] - 1.0 / 3f64.sqrt()).abs() < 1e-15);
        assert!((w[0] - 1.0).abs() < 1e-15);
    }

    #[test]
    fn gauss_legendre_integrates_polynomials_exactly() {
        for n in [1usize, 4, 8, 32, 64] {
            let (x, w) = gauss_legendre(n);
            for k in 0..2 * n {
                let q: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(k as i32)).sum();
                let exact = if k % 2 == 0 {
                    2.0 / (k as f64 + 1.0)
                } else {
                    0.0
                };
                assert!((q - exact).abs() < 1e-13, "n={n} k={k} q={q} exact={exact}");
            }
            if n <= 8 {
                // Degree 2n is not integrated exactly (sanity check of the test itself).
                let k = 2 * n as i32;
                let q: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(k)).sum();
                assert!((q - 2.0 / (k as f64 + 1.0)).abs() > 1e-10);
            }
        }
    }
}

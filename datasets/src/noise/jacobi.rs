//! Jacobi (Wright–Fisher) diffusion noise on `(0, 1)`, sampled exactly.

use rand::{Rng, RngCore};
use rand_distr::{Binomial, Distribution, Gamma};

use super::{check_level, NoiseModel, NoiseSpec};
use crate::error::{DatasetError, Result};

/// Noise from the Jacobi diffusion (spec `jacobi:T`):
///
/// ```text
/// dX = ½ (a(1 − X) − bX) dt + √(X(1 − X)) dW,   X(0) = x₀,
/// ```
///
/// run for time `T`: `x₁ = X(T)`. This is the process, parametrisation and default
/// `a = b = 1` of the Jacobi noise in Zhang & Zhou, *Inverse Flow and Consistency Models*
/// (ICML 2025; their `JacobiFlow`, `alpha = beta = 1`, `tmax = 0.2`).
///
/// # Why `a = b = 1`
/// * The stationary law is `Beta(a, b)` = uniform on `(0, 1)`: long times forget `x₀` without
///   favouring either end.
/// * With `a, b ≥ 1` the boundaries 0 and 1 are never reached (Feller), so `x₁ ∈ (0, 1)`
///   and `logit(x₁)` (which IFM's network sees) is finite.
/// * The process is symmetric under `x ↦ 1 − x`. (For `a = b = 1`, `X = (1 − cos Θ)/2`
///   where `Θ` is the polar angle of a Brownian motion on the 2-sphere.)
///
/// # Domain
/// The data must lie in `(0, 1)`: every `x₀` is **clamped to `[ε, 1 − ε]`** with
/// `ε = 1e-5` (IFM's value) before sampling and in [`NoiseModel::mean`] /
/// [`NoiseModel::variance`]; samples are clamped to the same interval too (which moves a
/// sample by less than `ε` and is rare unless `x₀` lies within a few `ε` of an end). Non-finite
/// `x₀` gives NaN.
///
/// # Exact sampling
/// The transition law of this diffusion is a mixture (Griffiths 1979; Tavaré 1984; Jenkins &
/// Spanò 2017, *Exact simulation of the Wright–Fisher diffusion*):
///
/// ```text
/// M ~ q(T),   L | M ~ Binomial(M, x₀),   X(T) | M, L ~ Beta(a + L, b + M − L),
/// ```
///
/// where `q_m(T)` is the law at time `T` of the number of lineages of a coalescent with
/// mutation (a pure-death process from ∞ with rates `m(m + θ − 1)/2`, `θ = a + b`):
///
/// ```text
/// q_m(T) = Σ_{k ≥ m} (−1)^{k−m} (2k + θ − 1) (θ + m)_{(k−1)} / (m! (k − m)!) · e^{−k(k+θ−1)T/2}.
/// ```
///
/// `q(T)` does not depend on `x₀`, so it is tabulated once at construction; a draw then costs
/// one table look-up, one binomial and two gamma variates per entry. The table is computed
/// from the series by an exact term-ratio recurrence; the alternating sum still cancels badly
/// for small `T` (its terms grow like `e^{1/T}`), so it is accepted only if it passes three
/// checks to `1e-9` (probabilities non-negative and summing to 1, and the exact identity
/// `E[M/(M + θ)] = e^{−θT/2}`). Below that (for `a = b = 1`, `T < 0.09`; there `M ≈ 2/T > 20`)
/// `M` is drawn from a discretised normal law: Griffiths' (1984) small-`T` approximation
/// (which Jenkins & Spanò also use for small `T`) with its mean and standard deviation adjusted so that the
/// two spectral identities which the first two moments of `x₁` depend on hold exactly. So the
/// samples have the exact mean and variance below for every `T`; only higher moments carry
/// the (small) approximation error there (total-variation distance between the adjusted and
/// the exact law of `M`, measured where both exist: 0.011 at `T = 0.1`, 0.017 at `T = 0.2`;
/// a normal law fits better the larger `M` is, i.e. the smaller `T`).
/// [`JacobiNoise::is_exact`] reports which law is used.
///
/// # Moments (exact, from the generator)
/// With `θ = a + b` and `x₀` clamped:
///
/// ```text
/// E[x₁]  = x₀ e^{−θT/2} + a/θ (1 − e^{−θT/2})
/// E[x₁²] = x₀² e^{−(1+θ)T} + (1 + a) [ a/θ (1 − e^{−(1+θ)T})/(1 + θ)
///                                      + (x₀ − a/θ)(e^{−θT/2} − e^{−(1+θ)T})/(1 + θ/2) ]
/// ```
///
/// and `Var[x₁] = E[x₁²] − E[x₁]²`.
#[derive(Debug, Clone)]
pub struct JacobiNoise {
    time: f64,
    a: f64,
    b: f64,
    /// Cumulative distribution of the lineage count `M`, `cdf[m] = P(M ≤ offset + m)`.
    cdf: Vec<f64>,
    /// Probabilities `P(M = offset + m)`.
    pmf: Vec<f64>,
    offset: usize,
    exact: bool,
}

/// The clamp `ε` applied to inputs and samples.
const EPS: f64 = 1e-5;
/// Tolerance of the checks that accept the exact lineage-count table.
const TABLE_TOL: f64 = 1e-9;

impl JacobiNoise {
    /// The clamp `ε`: inputs and samples are kept in `[ε, 1 − ε]`.
    pub const EPS: f64 = EPS;

    /// Jacobi noise with `a = b = 1` run for time `time` (finite, `> 0`).
    pub fn new(time: f64) -> Result<Self> {
        Self::with_parameters(time, 1.0, 1.0)
    }

    /// Jacobi noise with general mutation parameters `a, b > 0` (`a, b ≥ 1` keeps samples away
    /// from the boundaries; smaller values are allowed but then samples pile up at the clamp).
    pub fn with_parameters(time: f64, a: f64, b: f64) -> Result<Self> {
        check_level("jacobi noise time T", time, false)?;
        check_level("jacobi parameter a", a, false)?;
        check_level("jacobi parameter b", b, false)?;
        let theta = a + b;
        let (offset, pmf, exact) = match exact_lineage_law(theta, time) {
            Some(pmf) => (0, pmf, true),
            None => {
                let (offset, pmf) = approximate_lineage_law(theta, time).ok_or_else(|| {
                    DatasetError::InvalidArgument(format!(
                        "jacobi noise time T = {time} is too small to tabulate (use T ≥ 1e-6)"
                    ))
                })?;
                (offset, pmf, false)
            }
        };
        let mut cdf = Vec::with_capacity(pmf.len());
        let mut acc = 0.0;
        for p in &pmf {
            acc += p;
            cdf.push(acc);
        }
        Ok(Self {
            time,
            a,
            b,
            cdf,
            pmf,
            offset,
            exact,
        })
    }

    /// The diffusion time `T`.
    pub fn time(&self) -> f64 {
        self.time
    }

    /// The parameters `(a, b)`.
    pub fn parameters(&self) -> (f64, f64) {
        (self.a, self.b)
    }

    /// True when the lineage-count law is the exact series, false when it is the
    /// moment-matched normal approximation (small `T`).
    pub fn is_exact(&self) -> bool {
        self.exact
    }

    /// The tabulated lineage-count law: `(m₀, p)` with `p[i] = P(M = m₀ + i)`.
    pub fn lineage_law(&self) -> (usize, &[f64]) {
        (self.offset, &self.pmf)
    }

    /// Draws the lineage count `M` by inverting the tabulated CDF.
    fn draw_lineages(&self, rng: &mut dyn RngCore) -> u64 {
        let u: f64 = rng.random::<f64>() * self.cdf[self.cdf.len() - 1];
        let i = self
            .cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1);
        (self.offset + i) as u64
    }

    /// One exact draw of `X(T)` given `X(0) = x` (`x` already clamped).
    fn draw(&self, x: f64, rng: &mut dyn RngCore) -> f64 {
        let m = self.draw_lineages(rng);
        let l = if m == 0 {
            0
        } else {
            // `x` is in [ε, 1 − ε], so the binomial parameters are valid.
            Binomial::new(m, x).map_or(0, |b| b.sample(rng))
        };
        let g1 = gamma_variate(self.a + l as f64, rng);
        let g2 = gamma_variate(self.b + (m - l) as f64, rng);
        let y = g1 / (g1 + g2);
        if y.is_finite() {
            y.clamp(EPS, 1.0 - EPS)
        } else {
            // Both gamma variates underflowed (tiny shapes): the Beta law is then concentrated
            // at an end; pick it by the shapes' ratio.
            if self.a + (l as f64) >= self.b + (m - l) as f64 {
                1.0 - EPS
            } else {
                EPS
            }
        }
    }

    /// `(E[x₁], Var[x₁])` for a clamped `x`.
    fn moments(&self, x: f64) -> (f64, f64) {
        let (a, theta, t) = (self.a, self.a + self.b, self.time);
        let c = a / theta;
        let d = x - c;
        let e1 = (-theta * t / 2.0).exp();
        let k = 1.0 + theta;
        let ek = (-k * t).exp();
        let mean = x * e1 + c * (1.0 - e1);
        let m2 = x * x * ek
            + (1.0 + a) * (c * (-(-k * t).exp_m1()) / k + d * (e1 - ek) / (1.0 + theta / 2.0));
        (mean, (m2 - mean * mean).max(0.0))
    }
}

/// A Gamma(shape, 1) variate (`shape > 0`).
fn gamma_variate(shape: f64, rng: &mut dyn RngCore) -> f64 {
    Gamma::new(shape, 1.0).map_or(f64::NAN, |g| g.sample(rng))
}

/// Clamps `x` to `[ε, 1 − ε]`; non-finite values become NaN.
fn clamp_unit(x: f32) -> f64 {
    if !x.is_finite() {
        f64::NAN
    } else {
        (x as f64).clamp(EPS, 1.0 - EPS)
    }
}

impl NoiseModel for JacobiNoise {
    fn sample(&self, x0: &[f32], rng: &mut dyn RngCore) -> Vec<f32> {
        x0.iter()
            .map(|&x| {
                let x = clamp_unit(x);
                if x.is_nan() {
                    f32::NAN
                } else {
                    self.draw(x, rng) as f32
                }
            })
            .collect()
    }

    fn mean(&self, x0: &[f32]) -> Vec<f32> {
        x0.iter()
            .map(|&x| self.moments(clamp_unit(x)).0 as f32)
            .collect()
    }

    fn variance(&self, x0: &[f32]) -> Vec<f32> {
        x0.iter()
            .map(|&x| self.moments(clamp_unit(x)).1 as f32)
            .collect()
    }

    fn spec(&self) -> String {
        NoiseSpec::Jacobi { time: self.time }.to_string()
    }

    fn is_additive_gaussian(&self) -> bool {
        false
    }
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, n = 9; relative error ~1e-15).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1 − x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The exact law `q_m(t)`, `m = 0, 1, …`, of the lineage count by its alternating series, or
/// `None` when cancellation makes it inaccurate (see [`JacobiNoise`]).
fn exact_lineage_law(theta: f64, t: f64) -> Option<Vec<f64>> {
    // q_m = b_m(m) · Σ_{k ≥ m} (−1)^{k−m} r_k with r_m = 1 and the exact term ratio
    //   r_{k+1}/r_k = (2k + θ + 1)/(2k + θ − 1) · (θ + m + k − 1)/(k − m + 1) · e^{−(2k+θ)t/2},
    // so only the common factor b_m(m) goes through ln Γ (whose absolute error of ~1e-13
    // would otherwise be amplified by the cancellation) and each term carries a relative
    // error of about k·1e-16.
    let ln_first = |m: usize| -> f64 {
        if m == 0 {
            return 0.0; // b_0(0) = 1
        }
        let mf = m as f64;
        (2.0 * mf + theta - 1.0).ln() + ln_gamma(theta + 2.0 * mf - 1.0)
            - ln_gamma(theta + mf)
            - ln_gamma(mf + 1.0)
            - mf * (mf + theta - 1.0) * t / 2.0
    };
    const MAX_M: usize = 20_000;
    // The rounding error of the alternating sum is ~1e-16 of its largest terms: give up early
    // when that alone would exceed the tolerance (the checks at the end catch subtler losses).
    let max_ln_term = (TABLE_TOL / f64::EPSILON).ln();
    let mut pmf: Vec<f64> = Vec::new();
    let mut total = 0.0;
    for m in 0..MAX_M {
        let ln_b = ln_first(m);
        let (mut sum, mut compensation) = (0.0_f64, 0.0_f64);
        let mut r = 1.0_f64;
        let mut largest = 1.0_f64;
        let mut k = m;
        loop {
            let ln_term = ln_b + r.ln();
            if ln_term.is_nan() || ln_term > max_ln_term {
                return None; // too much cancellation (or overflow)
            }
            // Kahan summation of the alternating terms.
            let y = if (k - m) % 2 == 0 { r } else { -r } - compensation;
            let s_new = sum + y;
            compensation = (s_new - sum) - y;
            sum = s_new;
            let (kf, mf) = (k as f64, m as f64);
            let ratio = if m == 0 && k == 0 {
                (theta + 1.0) * (-theta * t / 2.0).exp()
            } else {
                (2.0 * kf + theta + 1.0) / (2.0 * kf + theta - 1.0) * (theta + mf + kf - 1.0)
                    / (kf - mf + 1.0)
                    * (-(2.0 * kf + theta) * t / 2.0).exp()
            };
            let next = r * ratio;
            // Stop once the terms decrease and are negligible against the largest one.
            if next < r && next < largest * 1e-26 {
                break;
            }
            r = next;
            largest = largest.max(r);
            k += 1;
            if k > m + 1_000_000 {
                return None;
            }
        }
        let sum = sum * ln_b.exp();
        if sum < -TABLE_TOL {
            return None;
        }
        let q = sum.max(0.0);
        let previous_q = pmf.last().copied().unwrap_or(f64::INFINITY);
        pmf.push(q);
        total += q;
        // Done once we are past the mode and the remaining terms are negligible (q_m decays
        // faster than geometrically beyond the mode).
        if total > 0.5 && q < 1e-18 && q <= previous_q {
            break;
        }
        if m + 1 == MAX_M {
            return None;
        }
    }
    let mean_ratio: f64 = pmf
        .iter()
        .enumerate()
        .map(|(m, q)| q * m as f64 / (m as f64 + theta))
        .sum();
    if (total - 1.0).abs() > TABLE_TOL || (mean_ratio - (-theta * t / 2.0).exp()).abs() > TABLE_TOL
    {
        return None;
    }
    pmf.iter_mut().for_each(|q| *q /= total);
    Some(pmf)
}

/// A discretised normal law for the lineage count at small `t`, returned as `(m₀, p)` with
/// `p[i] = P(M = m₀ + i)`, or `None` when the table would be too large.
///
/// Start: Griffiths' (1984) normal approximation, mean `2η/t`, variance
/// `(2η/t)(η + β)²(1 + η/(η + β) − 2η)/β²` with `β = (θ − 1)t/2`, `η = β/(e^β − 1)` (limit
/// `2/(3t)` as `β → 0`). Then its mean and standard deviation are adjusted (Newton) so that
/// the discretised law satisfies the first two exact spectral identities of the lineage count,
///
/// ```text
/// E[θ/(θ + M)] = 1 − e^{−θt/2},
/// E[((2θ + 2)M + θ(θ + 1)) / ((θ + M)(θ + M + 1))] = 1 − e^{−(1+θ)t},
/// ```
///
/// which are exactly what the mixture's first two moments depend on: with them the sampled
/// `x₁` has the exact mean and variance for every `x₀`. If Newton does not converge, the plain
/// Griffiths law is used.
fn approximate_lineage_law(theta: f64, t: f64) -> Option<(usize, Vec<f64>)> {
    let beta = (theta - 1.0) * t / 2.0;
    let (mu, var) = if beta.abs() < 1e-6 {
        (2.0 / t, 2.0 / (3.0 * t))
    } else {
        let eta = beta / beta.exp_m1();
        let mu = 2.0 * eta / t;
        let var = mu * (eta + beta).powi(2) * (1.0 + eta / (eta + beta) - 2.0 * eta) / beta.powi(2);
        (mu, var)
    };
    if !(mu.is_finite() && var.is_finite() && var > 0.0) || mu > 1e8 {
        return None;
    }
    let griffiths = (mu, var.sqrt());
    let targets = [-(-theta * t / 2.0).exp_m1(), -(-(1.0 + theta) * t).exp_m1()];
    let residual = |(mu, sd): (f64, f64)| -> [f64; 2] {
        let (lo, p) = discretised_normal(mu, sd);
        let (mut g1, mut g2) = (0.0, 0.0);
        for (i, q) in p.iter().enumerate() {
            let m = (lo + i) as f64;
            g1 += q * theta / (theta + m);
            g2 += q * ((2.0 * theta + 2.0) * m + theta * (theta + 1.0))
                / ((theta + m) * (theta + m + 1.0));
        }
        [g1 / targets[0] - 1.0, g2 / targets[1] - 1.0]
    };
    // Newton on (μ, ln σ) with a finite-difference Jacobian.
    let mut x = [griffiths.0, griffiths.1.ln()];
    let mut converged = false;
    for _ in 0..50 {
        let at = |x: [f64; 2]| residual((x[0], x[1].exp()));
        let f = at(x);
        if f[0].abs().max(f[1].abs()) < 1e-13 {
            converged = true;
            break;
        }
        let h = [1e-6 * x[0].abs().max(1.0), 1e-6];
        let f_mu = at([x[0] + h[0], x[1]]);
        let f_s = at([x[0], x[1] + h[1]]);
        let j = [
            [(f_mu[0] - f[0]) / h[0], (f_s[0] - f[0]) / h[1]],
            [(f_mu[1] - f[1]) / h[0], (f_s[1] - f[1]) / h[1]],
        ];
        let det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
        if !(det.is_finite() && det != 0.0) {
            break;
        }
        let step = [
            (j[1][1] * f[0] - j[0][1] * f[1]) / det,
            (j[0][0] * f[1] - j[1][0] * f[0]) / det,
        ];
        // Damp steps that would move the mean by more than a few standard deviations.
        let limit = 3.0 * x[1].exp();
        let scale = (limit / step[0].abs())
            .min(1.0)
            .min(0.5 / step[1].abs().max(1e-300));
        x = [x[0] - scale * step[0], x[1] - scale * step[1]];
        if !(x[0].is_finite() && x[1].is_finite()) {
            break;
        }
    }
    let (mu, sd) = if converged {
        (x[0], x[1].exp())
    } else {
        griffiths
    };
    Some(discretised_normal(mu, sd))
}

/// `N(μ, σ²)` restricted to the integers `m ≥ 0` within 10σ of `μ`, normalised: `(m₀, p)`.
fn discretised_normal(mu: f64, sd: f64) -> (usize, Vec<f64>) {
    let lo = (mu - 10.0 * sd).floor().max(0.0) as usize;
    let hi = ((mu + 10.0 * sd).ceil().max(0.0) as usize).max(lo);
    let mut pmf: Vec<f64> = (lo..=hi)
        .map(|m| (-(m as f64 - mu).powi(2) / (2.0 * sd * sd)).exp())
        .collect();
    let total: f64 = pmf.iter().sum();
    pmf.iter_mut().for_each(|p| *p /= total);
    (lo, pmf)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{fixed_x0, moments};
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0_f64;
        for n in 1..30 {
            f *= n as f64;
            assert!((ln_gamma(n as f64 + 1.0) - f.ln()).abs() < 1e-12 * f.ln().max(1.0));
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
        assert!((ln_gamma(0.25) - 3.625_609_908_221_908_f64.ln()).abs() < 1e-13);
    }

    /// Mean and variance of the mixture `Beta(a + L, b + M − L)`, `L ~ Bin(M, x)`, `M ~ table`,
    /// computed from the table without Monte Carlo.
    fn mixture_moments(noise: &JacobiNoise, x: f64) -> (f64, f64) {
        let (a, b) = noise.parameters();
        let theta = a + b;
        let (m0, p) = noise.lineage_law();
        let (mut m1, mut m2) = (0.0, 0.0);
        for (i, q) in p.iter().enumerate() {
            let mf = (m0 + i) as f64;
            // E[L] = m x, E[L²] = m x (1 − x) + m² x².
            let el = mf * x;
            let el2 = mf * x * (1.0 - x) + el * el;
            m1 += q * (a + el) / (theta + mf);
            // E[(a + L)(a + L + 1)] = a(a + 1) + (2a + 1)E[L] + E[L²].
            m2 += q * (a * (a + 1.0) + (2.0 * a + 1.0) * el + el2)
                / ((theta + mf) * (theta + mf + 1.0));
        }
        (m1, m2 - m1 * m1)
    }

    /// The tabulated mixture reproduces the closed-form mean and variance (no Monte Carlo):
    /// for the exact series an independent check of `q_m(T)` against the generator, for the
    /// small-`T` law a check of the moment matching.
    #[test]
    fn mixture_moments_equal_closed_form() {
        for (t, a, b, exact) in [
            (0.2, 1.0, 1.0, true),
            (0.5, 1.0, 1.0, true),
            (3.0, 1.0, 1.0, true),
            (0.1, 2.0, 0.5, true),
            (0.08, 1.0, 1.0, false),
            (0.02, 1.0, 1.0, false),
            (0.001, 1.0, 1.0, false),
            (0.01, 3.0, 0.5, false),
        ] {
            let noise = JacobiNoise::with_parameters(t, a, b).unwrap();
            assert_eq!(noise.is_exact(), exact, "T = {t}");
            for x in [0.01, 0.3, 0.5, 0.9] {
                let (m1, v1) = mixture_moments(&noise, x);
                let (mean, var) = noise.moments(x);
                assert!((m1 - mean).abs() < 1e-9, "T {t} x {x}: {m1} vs {mean}");
                assert!((v1 / var - 1.0).abs() < 1e-8, "T {t} x {x}: {v1} vs {var}");
            }
        }
    }

    /// Where both exist, the moment-matched normal law is close to the exact one.
    #[test]
    fn approximate_law_is_close_to_the_exact_one() {
        for t in [0.1, 0.2] {
            let exact = exact_lineage_law(2.0, t).unwrap();
            let (m0, approx) = approximate_lineage_law(2.0, t).unwrap();
            let mut tv = 0.0;
            for m in 0..exact.len().max(m0 + approx.len()) {
                let p = exact.get(m).copied().unwrap_or(0.0);
                let q = m
                    .checked_sub(m0)
                    .and_then(|i| approx.get(i))
                    .copied()
                    .unwrap_or(0.0);
                tv += 0.5 * (p - q).abs();
            }
            // Measured: 0.011 at T = 0.1, 0.017 at T = 0.2.
            assert!(tv < 0.03, "T {t}: total variation {tv}");
        }
    }

    #[test]
    fn small_times_fall_back_to_the_normal_approximation() {
        let noise = JacobiNoise::new(0.01).unwrap();
        assert!(!noise.is_exact());
        let (m0, p) = noise.lineage_law();
        let mean: f64 = p.iter().enumerate().map(|(i, q)| q * (m0 + i) as f64).sum();
        assert!((mean - 200.0).abs() < 2.0, "{mean}"); // ≈ 2/T for θ = 2
    }

    #[test]
    fn sampled_moments_match_at_ifm_time() {
        let noise = JacobiNoise::new(0.2).unwrap();
        let x0 = fixed_x0(300);
        moments(&noise, &x0, 2000, 11).assert_match(&noise, &x0);
    }

    #[test]
    fn sampled_moments_match_with_the_approximate_law() {
        let noise = JacobiNoise::new(0.02).unwrap();
        assert!(!noise.is_exact());
        let x0 = fixed_x0(300);
        moments(&noise, &x0, 2000, 12).assert_match(&noise, &x0);
    }

    #[test]
    fn long_times_approach_the_uniform_law() {
        let noise = JacobiNoise::new(20.0).unwrap();
        let m = noise.mean(&[0.05, 0.95]);
        let v = noise.variance(&[0.05, 0.95]);
        for i in 0..2 {
            assert!((m[i] - 0.5).abs() < 1e-4);
            assert!((v[i] - 1.0 / 12.0).abs() < 1e-4);
        }
    }

    #[test]
    fn inputs_are_clamped_and_samples_stay_inside() {
        let noise = JacobiNoise::new(0.2).unwrap();
        let mut rng = StdRng::seed_from_u64(5);
        let x0 = vec![-1.0, 0.0, 1.0, 2.0, 0.5];
        for _ in 0..200 {
            let x1 = noise.sample(&x0, &mut rng);
            assert!(x1
                .iter()
                .all(|&v| v >= JacobiNoise::EPS as f32 && v <= 1.0 - JacobiNoise::EPS as f32));
        }
        assert_eq!(noise.mean(&[-1.0]), noise.mean(&[0.0]));
        assert!(noise.sample(&[f32::NAN], &mut rng)[0].is_nan());
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        assert!(JacobiNoise::new(0.0).is_err());
        assert!(JacobiNoise::new(-1.0).is_err());
        assert!(JacobiNoise::with_parameters(0.2, 0.0, 1.0).is_err());
    }
}

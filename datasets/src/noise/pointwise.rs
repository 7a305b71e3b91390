//! Pointwise noise models: white Gaussian, Poisson (shot) and multiplicative Gamma noise.

use rand::RngCore;
use rand_distr::{Distribution, Gamma, Poisson, StandardNormal};

use super::{check_level, NoiseModel, NoiseSpec};
use crate::error::Result;

/// White additive Gaussian noise `x₁ = x₀ + σε`, `ε ~ N(0, I)` (spec `gaussian:SIGMA`).
#[derive(Debug, Clone)]
pub struct GaussianNoise {
    sigma: f64,
}

impl GaussianNoise {
    /// White noise of standard deviation `sigma` (normalised units, finite, `≥ 0`).
    pub fn new(sigma: f64) -> Result<Self> {
        check_level("gaussian noise sigma", sigma, true)?;
        Ok(Self { sigma })
    }

    /// The standard deviation `σ`.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
}

impl NoiseModel for GaussianNoise {
    fn sample(&self, x0: &[f32], rng: &mut dyn RngCore) -> Vec<f32> {
        x0.iter()
            .map(|&x| {
                let e: f64 = StandardNormal.sample(rng);
                (x as f64 + self.sigma * e) as f32
            })
            .collect()
    }

    fn mean(&self, x0: &[f32]) -> Vec<f32> {
        x0.to_vec()
    }

    fn variance(&self, x0: &[f32]) -> Vec<f32> {
        vec![(self.sigma * self.sigma) as f32; x0.len()]
    }

    fn spec(&self) -> String {
        NoiseSpec::Gaussian { sigma: self.sigma }.to_string()
    }

    fn is_additive_gaussian(&self) -> bool {
        true
    }
}

/// Poisson (shot) noise `x₁ = Poisson(K·x₀)/K` (spec `poisson:K`): mean `x₀`, variance
/// `x₀/K`, so a larger `K` (more photons per unit intensity) means less noise.
///
/// A Poisson rate cannot be negative: negative `x₀` is **clamped to 0** (output 0, mean 0,
/// variance 0). Rates above `Poisson::MAX_LAMBDA` (≈1.8·10¹⁹) are clamped to it; non-finite
/// `x₀` gives NaN.
///
/// IFM's `PoissonFlow` uses `Poisson(x/k)·k`, i.e. their `k` is `1/K` here.
#[derive(Debug, Clone)]
pub struct PoissonNoise {
    k: f64,
}

impl PoissonNoise {
    /// Poisson noise with `K` counts per unit intensity (finite, `> 0`).
    pub fn new(k: f64) -> Result<Self> {
        check_level("poisson noise K", k, false)?;
        Ok(Self { k })
    }

    /// Counts per unit intensity `K`.
    pub fn k(&self) -> f64 {
        self.k
    }
}

impl NoiseModel for PoissonNoise {
    fn sample(&self, x0: &[f32], rng: &mut dyn RngCore) -> Vec<f32> {
        x0.iter()
            .map(|&x| {
                if !x.is_finite() {
                    return f32::NAN;
                }
                let rate = (self.k * (x as f64).max(0.0)).min(Poisson::<f64>::MAX_LAMBDA);
                if rate > 0.0 {
                    // `rate` is finite and positive here, so construction cannot fail.
                    match Poisson::new(rate) {
                        Ok(p) => (p.sample(rng) / self.k) as f32,
                        Err(_) => f32::NAN,
                    }
                } else {
                    0.0
                }
            })
            .collect()
    }

    fn mean(&self, x0: &[f32]) -> Vec<f32> {
        x0.iter().map(|&x| x.max(0.0)).collect()
    }

    fn variance(&self, x0: &[f32]) -> Vec<f32> {
        x0.iter()
            .map(|&x| ((x as f64).max(0.0) / self.k) as f32)
            .collect()
    }

    fn spec(&self) -> String {
        NoiseSpec::Poisson { k: self.k }.to_string()
    }

    fn is_additive_gaussian(&self) -> bool {
        false
    }
}

/// Multiplicative Gamma (speckle-like) noise `x₁ = x₀·g`, `g ~ Gamma(shape 1/σ², scale σ²)`
/// (spec `gamma:SIGMA`): `E[g] = 1`, `Var[g] = σ²`, so `x₁` has mean `x₀` and variance
/// `σ²x₀²`. This is IFM's `GammaFlow` (concentration = rate = `1/σ²`).
#[derive(Debug, Clone)]
pub struct GammaNoise {
    sigma: f64,
    gamma: Gamma<f64>,
}

impl GammaNoise {
    /// Multiplicative noise with relative standard deviation `sigma` (finite, `> 0`).
    pub fn new(sigma: f64) -> Result<Self> {
        check_level("gamma noise sigma", sigma, false)?;
        let s2 = sigma * sigma;
        let gamma = Gamma::new(1.0 / s2, s2).map_err(|e| {
            crate::error::DatasetError::InvalidArgument(format!(
                "gamma noise sigma {sigma} gives an invalid Gamma(1/σ², σ²): {e}"
            ))
        })?;
        Ok(Self { sigma, gamma })
    }

    /// The relative standard deviation `σ`.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }
}

impl NoiseModel for GammaNoise {
    fn sample(&self, x0: &[f32], rng: &mut dyn RngCore) -> Vec<f32> {
        x0.iter()
            .map(|&x| (x as f64 * self.gamma.sample(rng)) as f32)
            .collect()
    }

    fn mean(&self, x0: &[f32]) -> Vec<f32> {
        x0.to_vec()
    }

    fn variance(&self, x0: &[f32]) -> Vec<f32> {
        x0.iter()
            .map(|&x| (self.sigma * self.sigma * (x as f64).powi(2)) as f32)
            .collect()
    }

    fn spec(&self) -> String {
        NoiseSpec::Gamma { sigma: self.sigma }.to_string()
    }

    fn is_additive_gaussian(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{fixed_x0, moments};
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn gaussian_moments_match() {
        let m = GaussianNoise::new(0.1).unwrap();
        let x0 = fixed_x0(300);
        moments(&m, &x0, 2000, 1).assert_match(&m, &x0);
    }

    #[test]
    fn poisson_moments_match() {
        for k in [5.0, 100.0] {
            let m = PoissonNoise::new(k).unwrap();
            let x0 = fixed_x0(300);
            moments(&m, &x0, 2000, 2).assert_match(&m, &x0);
        }
    }

    #[test]
    fn gamma_moments_match() {
        for sigma in [0.1, 0.5] {
            let m = GammaNoise::new(sigma).unwrap();
            let x0 = fixed_x0(300);
            moments(&m, &x0, 2000, 3).assert_match(&m, &x0);
        }
    }

    #[test]
    fn poisson_clamps_negative_and_propagates_nan() {
        let m = PoissonNoise::new(10.0).unwrap();
        let mut rng = StdRng::seed_from_u64(0);
        let out = m.sample(&[-0.5, 0.0, f32::NAN], &mut rng);
        assert_eq!(&out[..2], &[0.0, 0.0]);
        assert!(out[2].is_nan());
        assert_eq!(m.mean(&[-0.5]), vec![0.0]);
        assert_eq!(m.variance(&[-0.5]), vec![0.0]);
        assert!(m.try_sample(&[0.5, f32::INFINITY], &mut rng).is_err());
    }

    #[test]
    fn invalid_levels_are_rejected() {
        assert!(GaussianNoise::new(-0.1).is_err());
        assert!(GaussianNoise::new(f64::NAN).is_err());
        assert!(GaussianNoise::new(0.0).is_ok());
        assert!(PoissonNoise::new(0.0).is_err());
        assert!(GammaNoise::new(0.0).is_err());
        assert!(GammaNoise::new(f64::INFINITY).is_err());
    }

    #[test]
    fn seeded_sampling_is_reproducible() {
        let x0 = fixed_x0(50);
        let models: Vec<Box<dyn NoiseModel>> = vec![
            Box::new(GaussianNoise::new(0.1).unwrap()),
            Box::new(PoissonNoise::new(20.0).unwrap()),
            Box::new(GammaNoise::new(0.2).unwrap()),
            Box::new(super::super::JacobiNoise::new(0.2).unwrap()),
            Box::new(super::super::JacobiNoise::new(0.02).unwrap()),
        ];
        for m in &models {
            let a = m.sample(&x0, &mut StdRng::seed_from_u64(42));
            let b = m.sample(&x0, &mut StdRng::seed_from_u64(42));
            let c = m.sample(&x0, &mut StdRng::seed_from_u64(43));
            assert_eq!(a, b, "{}", m.spec());
            assert_ne!(a, c, "{}", m.spec());
            assert_eq!(a.len(), x0.len());
        }
    }
}

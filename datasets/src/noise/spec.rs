//! Noise specs: the strings that name a noise model on a command line.

use std::fmt;
use std::str::FromStr;

use meshflow_geometry::TriMesh;

use super::{
    CorrelatedGaussianNoise, GammaNoise, GaussianNoise, JacobiNoise, NoiseModel, PoissonNoise,
};
use crate::error::{DatasetError, Result};

/// A noise model named by a spec string; `Display` writes the same form, and parsing it back
/// gives an equal value (numbers are written with Rust's shortest round-trip formatting).
///
/// | spec | model |
/// | --- | --- |
/// | `gaussian:SIGMA` | [`GaussianNoise`], `SIGMA ≥ 0` |
/// | `correlated:SIGMA:LENGTH` | [`CorrelatedGaussianNoise`], `SIGMA ≥ 0`, `LENGTH > 0` in mesh units (radians on the unit sphere); needs a mesh |
/// | `poisson:K` | [`PoissonNoise`], `K > 0` |
/// | `gamma:SIGMA` | [`GammaNoise`], `SIGMA > 0` |
/// | `jacobi:T` | [`JacobiNoise`] with `a = b = 1`, `T > 0` |
///
/// ```
/// use meshflow_datasets::noise::NoiseSpec;
///
/// let spec: NoiseSpec = "correlated:0.05:0.2".parse().unwrap();
/// assert!(spec.needs_mesh());
/// assert_eq!(spec.to_string(), "correlated:0.05:0.2");
/// let err = "gaussian".parse::<NoiseSpec>().unwrap_err().to_string();
/// assert!(err.contains("gaussian:SIGMA"), "{err}");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoiseSpec {
    /// `gaussian:SIGMA`.
    Gaussian {
        /// Standard deviation (normalised units).
        sigma: f64,
    },
    /// `correlated:SIGMA:LENGTH`.
    Correlated {
        /// Marginal standard deviation (normalised units).
        sigma: f64,
        /// Correlation length (mesh units; radians on the unit sphere).
        length: f64,
    },
    /// `poisson:K`.
    Poisson {
        /// Counts per unit intensity.
        k: f64,
    },
    /// `gamma:SIGMA`.
    Gamma {
        /// Relative standard deviation of the multiplicative factor.
        sigma: f64,
    },
    /// `jacobi:T`.
    Jacobi {
        /// Diffusion time.
        time: f64,
    },
}

impl NoiseSpec {
    /// The accepted forms, for help texts and error messages.
    pub const FORMS: &'static str =
        "gaussian:SIGMA, correlated:SIGMA:LENGTH, poisson:K, gamma:SIGMA or jacobi:T";

    /// True when [`NoiseSpec::build`] needs the mesh (`correlated`).
    pub fn needs_mesh(&self) -> bool {
        matches!(self, NoiseSpec::Correlated { .. })
    }

    /// Builds the model. `mesh` is the discretisation the signals live on; only `correlated`
    /// uses it (and errors without it). Building `correlated` factorises `M + tL` and computes
    /// the per-vertex variance once; do it once, outside the training loop.
    pub fn build(&self, mesh: Option<&TriMesh>) -> Result<Box<dyn NoiseModel>> {
        Ok(match *self {
            NoiseSpec::Gaussian { sigma } => Box::new(GaussianNoise::new(sigma)?),
            NoiseSpec::Correlated { sigma, length } => {
                let mesh = mesh.ok_or_else(|| DatasetError::InvalidSpec {
                    what: "noise",
                    spec: self.to_string(),
                    message: "correlated noise lives on a surface: a mesh is needed to build it"
                        .into(),
                })?;
                Box::new(CorrelatedGaussianNoise::new(mesh, sigma, length)?)
            }
            NoiseSpec::Poisson { k } => Box::new(PoissonNoise::new(k)?),
            NoiseSpec::Gamma { sigma } => Box::new(GammaNoise::new(sigma)?),
            NoiseSpec::Jacobi { time } => Box::new(JacobiNoise::new(time)?),
        })
    }

    /// Checks the parameter ranges (the constructors' rules) without building anything.
    fn validate(&self) -> std::result::Result<(), String> {
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("{name} must be a finite number > 0, got {v}"))
            }
        };
        let non_negative = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(format!("{name} must be a finite number ≥ 0, got {v}"))
            }
        };
        match *self {
            NoiseSpec::Gaussian { sigma } => non_negative("SIGMA", sigma),
            NoiseSpec::Correlated { sigma, length } => {
                non_negative("SIGMA", sigma)?;
                positive("LENGTH", length)
            }
            NoiseSpec::Poisson { k } => positive("K", k),
            NoiseSpec::Gamma { sigma } => positive("SIGMA", sigma),
            NoiseSpec::Jacobi { time } => positive("T", time),
        }
    }
}

impl fmt::Display for NoiseSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoiseSpec::Gaussian { sigma } => write!(f, "gaussian:{sigma}"),
            NoiseSpec::Correlated { sigma, length } => write!(f, "correlated:{sigma}:{length}"),
            NoiseSpec::Poisson { k } => write!(f, "poisson:{k}"),
            NoiseSpec::Gamma { sigma } => write!(f, "gamma:{sigma}"),
            NoiseSpec::Jacobi { time } => write!(f, "jacobi:{time}"),
        }
    }
}

impl FromStr for NoiseSpec {
    type Err = DatasetError;

    fn from_str(s: &str) -> Result<Self> {
        let err = |message: String| DatasetError::InvalidSpec {
            what: "noise",
            spec: s.to_string(),
            message,
        };
        let mut parts = s.trim().split(':');
        let kind = parts.next().unwrap_or("").to_ascii_lowercase();
        let args: Vec<&str> = parts.collect();
        let (form, arity) = match kind.as_str() {
            "gaussian" => ("gaussian:SIGMA", 1),
            "correlated" => ("correlated:SIGMA:LENGTH", 2),
            "poisson" => ("poisson:K", 1),
            "gamma" => ("gamma:SIGMA", 1),
            "jacobi" => ("jacobi:T", 1),
            _ => {
                return Err(err(format!(
                    "unknown noise `{kind}`; expected {}",
                    Self::FORMS
                )))
            }
        };
        if args.len() != arity {
            return Err(err(format!(
                "`{kind}` takes {arity} number(s): expected `{form}`"
            )));
        }
        let nums = crate::spec_args::finite_numbers(&args)
            .map_err(|a| err(format!("`{a}` is not a finite number; expected `{form}`")))?;
        let spec = match kind.as_str() {
            "gaussian" => NoiseSpec::Gaussian { sigma: nums[0] },
            "correlated" => NoiseSpec::Correlated {
                sigma: nums[0],
                length: nums[1],
            },
            "poisson" => NoiseSpec::Poisson { k: nums[0] },
            "gamma" => NoiseSpec::Gamma { sigma: nums[0] },
            _ => NoiseSpec::Jacobi { time: nums[0] },
        };
        spec.validate()
            .map_err(|m| err(format!("{m} (in `{form}`)")))?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshflow_geometry::sphere::SphereGrid;
    use proptest::prelude::*;

    #[test]
    fn specs_round_trip_and_build() {
        let g = SphereGrid::icosphere(2);
        for s in [
            "gaussian:0.1",
            "gaussian:0",
            "correlated:0.05:0.3",
            "poisson:100",
            "gamma:0.2",
            "jacobi:0.2",
        ] {
            let spec: NoiseSpec = s.parse().unwrap();
            assert_eq!(spec.to_string(), s);
            let model = spec.build(Some(g.mesh())).unwrap();
            assert_eq!(model.spec(), s);
            assert_eq!(
                model.is_additive_gaussian(),
                s.starts_with("gaussian") || s.starts_with("correlated")
            );
        }
    }

    #[test]
    fn errors_name_the_spec_and_the_accepted_forms() {
        let cases = [
            ("blur:3", "unknown noise `blur`"),
            ("gaussian", "expected `gaussian:SIGMA`"),
            ("gaussian:0.1:2", "takes 1 number"),
            ("gaussian:abc", "`abc` is not a finite number"),
            ("gaussian:-0.1", "SIGMA must be a finite number ≥ 0"),
            ("poisson:0", "K must be a finite number > 0"),
            ("jacobi:nan", "not a finite number"),
            ("correlated:0.1", "expected `correlated:SIGMA:LENGTH`"),
            ("correlated:0.1:0", "LENGTH must be"),
        ];
        for (s, needle) in cases {
            let msg = s.parse::<NoiseSpec>().unwrap_err().to_string();
            assert!(msg.contains(&format!("`{s}`")), "{msg}");
            assert!(msg.contains(needle), "{s}: {msg}");
        }
        let msg = "x:1".parse::<NoiseSpec>().unwrap_err().to_string();
        assert!(msg.contains(NoiseSpec::FORMS), "{msg}");
    }

    #[test]
    fn correlated_needs_a_mesh() {
        let spec: NoiseSpec = "correlated:0.1:0.2".parse().unwrap();
        let msg = spec.build(None).unwrap_err().to_string();
        assert!(msg.contains("a mesh is needed"), "{msg}");
    }

    proptest! {
        #[test]
        fn display_round_trips(sigma in 0.0f64..10.0, length in 1e-6f64..10.0, k in 1e-3f64..1e6) {
            for spec in [
                NoiseSpec::Gaussian { sigma },
                NoiseSpec::Correlated { sigma, length },
                NoiseSpec::Poisson { k },
                NoiseSpec::Gamma { sigma: sigma + 1e-3 },
                NoiseSpec::Jacobi { time: length },
            ] {
                prop_assert_eq!(spec.to_string().parse::<NoiseSpec>().unwrap(), spec);
            }
        }
    }
}

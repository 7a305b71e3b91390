//! Grid specs: short strings such as `icosphere:5` or `latlon:721x1440` that name a sphere
//! discretisation (on a command line or in a config file).

use std::fmt;
use std::str::FromStr;

use super::rings::{validate_gaussian, validate_latlon};
use super::{Poles, SphereGrid};
use crate::error::{GeometryError, Result};

/// The largest icosphere level a spec accepts (level 9 has 2,621,442 vertices).
const MAX_ICOSPHERE_LEVEL: u32 = 9;

const ACCEPTED: &str = "expected `icosphere:LEVEL` (LEVEL 0 to 9), `latlon:NLATxNLON` (e.g. \
                        latlon:721x1440) or `gaussian:NLATxNLON` (e.g. gaussian:64x128)";

/// A named sphere discretisation, parsed from and displayed as a spec string.
///
/// | spec                | grid                                      |
/// |---------------------|-------------------------------------------|
/// | `icosphere:LEVEL`   | [`SphereGrid::icosphere`], LEVEL 0 to 9   |
/// | `latlon:NLATxNLON`  | [`SphereGrid::latlon`] (poles inferred)   |
/// | `gaussian:NLATxNLON`| [`SphereGrid::gaussian`] (NLAT even)      |
///
/// Parsing is case-insensitive and ignores surrounding whitespace; [`fmt::Display`] writes the
/// canonical lower-case form, which parses back to the same value. Serialised (serde) as that
/// string.
///
/// ```
/// use meshflow_geometry::sphere::GridSpec;
///
/// let spec: GridSpec = "LatLon:61X120".parse().unwrap();
/// assert_eq!(spec, GridSpec::LatLon { nlat: 61, nlon: 120 });
/// assert_eq!(spec.to_string(), "latlon:61x120");
/// assert!("latlon:10".parse::<GridSpec>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum GridSpec {
    /// `icosphere:LEVEL`.
    Icosphere {
        /// Number of subdivisions of the icosahedron (0 to 9).
        level: u32,
    },
    /// `latlon:NLATxNLON`, a global regular grid, latitudes north→south.
    LatLon {
        /// Number of latitude rows.
        nlat: usize,
        /// Number of longitude columns.
        nlon: usize,
    },
    /// `gaussian:NLATxNLON`, a regular Gaussian grid, latitudes north→south.
    Gaussian {
        /// Number of Gauss–Legendre latitudes (even).
        nlat: usize,
        /// Number of longitude columns.
        nlon: usize,
    },
}

impl GridSpec {
    /// Builds the grid.
    ///
    /// # Errors
    /// As the constructor it calls (only for a `GridSpec` built by hand with bad sizes; parsed
    /// specs are already validated).
    pub fn build(&self) -> Result<SphereGrid> {
        match *self {
            GridSpec::Icosphere { level } => Ok(SphereGrid::icosphere(level)),
            GridSpec::LatLon { nlat, nlon } => SphereGrid::latlon(nlat, nlon),
            GridSpec::Gaussian { nlat, nlon } => SphereGrid::gaussian(nlat, nlon),
        }
    }
}

/// Whether `s` looks like a grid spec rather than a file path: it starts (case-insensitively,
/// after leading whitespace) with `icosphere:`, `latlon:` or `gaussian:`. It does not check
/// the rest; parse it to validate.
pub fn looks_like_grid_spec(s: &str) -> bool {
    let s = s.trim_start();
    ["icosphere:", "latlon:", "gaussian:"].iter().any(|p| {
        s.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    })
}

impl fmt::Display for GridSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GridSpec::Icosphere { level } => write!(f, "icosphere:{level}"),
            GridSpec::LatLon { nlat, nlon } => write!(f, "latlon:{nlat}x{nlon}"),
            GridSpec::Gaussian { nlat, nlon } => write!(f, "gaussian:{nlat}x{nlon}"),
        }
    }
}

impl FromStr for GridSpec {
    type Err = GeometryError;

    fn from_str(spec: &str) -> Result<Self> {
        let invalid = |message: String| GeometryError::InvalidSpec {
            spec: spec.to_string(),
            message,
        };
        let lower = spec.trim().to_ascii_lowercase();
        let Some((kind, rest)) = lower.split_once(':') else {
            return Err(invalid(format!("missing `:`; {ACCEPTED}")));
        };
        let rest = rest.trim();
        match kind.trim() {
            "icosphere" => {
                let level: u32 = rest
                    .parse()
                    .map_err(|_| invalid(format!("`{rest}` is not a level; {ACCEPTED}")))?;
                if level > MAX_ICOSPHERE_LEVEL {
                    return Err(invalid(format!(
                        "icosphere level {level} is too large (at most {MAX_ICOSPHERE_LEVEL}, \
                         which has 2,621,442 vertices)"
                    )));
                }
                Ok(GridSpec::Icosphere { level })
            }
            "latlon" => {
                let (nlat, nlon) =
                    parse_size(rest).map_err(|m| invalid(format!("{m}; {ACCEPTED}")))?;
                validate_latlon(nlat, nlon, Poles::infer(nlat, nlon))
                    .map_err(|e| invalid(reason(e)))?;
                Ok(GridSpec::LatLon { nlat, nlon })
            }
            "gaussian" => {
                let (nlat, nlon) =
                    parse_size(rest).map_err(|m| invalid(format!("{m}; {ACCEPTED}")))?;
                validate_gaussian(nlat, nlon).map_err(|e| invalid(reason(e)))?;
                Ok(GridSpec::Gaussian { nlat, nlon })
            }
            other => Err(invalid(format!("unknown grid kind `{other}`; {ACCEPTED}"))),
        }
    }
}

/// The message of a validation error, without the `invalid argument:` prefix.
fn reason(e: GeometryError) -> String {
    match e {
        GeometryError::InvalidArgument(m) => m,
        other => other.to_string(),
    }
}

/// Parses `NLATxNLON`.
fn parse_size(s: &str) -> std::result::Result<(usize, usize), String> {
    let Some((a, b)) = s.split_once('x') else {
        return Err(format!("`{s}` is not a size NLATxNLON"));
    };
    let parse = |t: &str, what: &str| {
        t.trim()
            .parse::<usize>()
            .map_err(|_| format!("`{}` is not a number of {what}", t.trim()))
    };
    Ok((parse(a, "latitudes")?, parse(b, "longitudes")?))
}

impl TryFrom<String> for GridSpec {
    type Error = GeometryError;

    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<GridSpec> for String {
    fn from(spec: GridSpec) -> String {
        spec.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_spec_round_trips() {
        for s in [
            "icosphere:0",
            "icosphere:9",
            "latlon:721x1440",
            "latlon:32x64",
            "gaussian:64x128",
        ] {
            let spec: GridSpec = s.parse().unwrap();
            assert_eq!(spec.to_string(), s);
            assert_eq!(spec.to_string().parse::<GridSpec>().unwrap(), spec);
        }
        assert_eq!(
            " Gaussian:64X128 ".parse::<GridSpec>().unwrap(),
            GridSpec::Gaussian {
                nlat: 64,
                nlon: 128
            }
        );
        let json = serde_json::to_string(&GridSpec::Icosphere { level: 4 }).unwrap();
        assert_eq!(json, "\"icosphere:4\"");
        assert_eq!(
            serde_json::from_str::<GridSpec>(&json).unwrap(),
            GridSpec::Icosphere { level: 4 }
        );
        assert!(serde_json::from_str::<GridSpec>("\"icosphere:10\"").is_err());
    }

    #[test]
    fn grid_spec_errors_name_the_spec_and_the_accepted_forms() {
        for bad in [
            "latlon:10",
            "icosphere:x",
            "foo:3",
            "icosphere",
            "icosphere:10",
            "latlon:0x0",
            "latlon:2x2",
            "gaussian:63x128",
            "latlon:100000x100000",
            "latlon:axb",
            "icosphere:-1",
        ] {
            let err = bad.parse::<GridSpec>().unwrap_err();
            let GeometryError::InvalidSpec { spec, message } = &err else {
                panic!("{bad}: wrong error {err:?}");
            };
            assert_eq!(spec, bad);
            assert!(!message.is_empty());
            assert!(err.to_string().contains(bad), "{err}");
        }
        let msg = "foo:3".parse::<GridSpec>().unwrap_err().to_string();
        assert!(
            msg.contains("icosphere:LEVEL") && msg.contains("latlon:NLATxNLON"),
            "{msg}"
        );
        let msg = "latlon:10".parse::<GridSpec>().unwrap_err().to_string();
        assert!(msg.contains("NLATxNLON"), "{msg}");
        let msg = "icosphere:x".parse::<GridSpec>().unwrap_err().to_string();
        assert!(msg.contains("`x` is not a level"), "{msg}");
    }

    #[test]
    fn grid_spec_builds_and_detects_specs() {
        assert_eq!(
            "icosphere:2"
                .parse::<GridSpec>()
                .unwrap()
                .build()
                .unwrap()
                .num_vertices(),
            162
        );
        assert_eq!(
            "latlon:61x120"
                .parse::<GridSpec>()
                .unwrap()
                .build()
                .unwrap()
                .num_vertices(),
            7082
        );
        assert_eq!(
            "gaussian:4x8"
                .parse::<GridSpec>()
                .unwrap()
                .build()
                .unwrap()
                .num_vertices(),
            34
        );
        assert!(looks_like_grid_spec("icosphere:3"));
        assert!(looks_like_grid_spec("  LATLON:721x1440"));
        assert!(looks_like_grid_spec("gaussian:"));
        assert!(!looks_like_grid_spec("data/bunny.obj"));
        assert!(!looks_like_grid_spec("C:\\meshes\\a.obj"));
        assert!(!looks_like_grid_spec("ico"));
        assert!(!looks_like_grid_spec("é"));
    }
}

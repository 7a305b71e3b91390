//! Degradation specs (`mask:0.5`, `blur:0.001+mask:0.5`, …), the discretisation they are
//! prepared on, and per-sample instantiation from seeds.

use std::fmt;
use std::str::FromStr;

use meshflow_geometry::sphere::SphereGrid;
use meshflow_geometry::TriMesh;
use rand::{rngs::StdRng, SeedableRng};

use super::{
    check_rate_range, ComposedOperator, ForwardOperator, HeatBlurOperator, LatLon, MaskingOperator,
    Region,
};
use crate::error::{DatasetError, Result};

/// A degradation named by a spec string; `Display` writes the same form back (numbers in
/// Rust's shortest round-trip formatting), so `s.parse::<Degradation>()?.to_string()`
/// round-trips.
///
/// | spec | operator |
/// | --- | --- |
/// | `mask:RATE` | hide exactly `round(RATE·V)` random vertices, `RATE ∈ [0, 1]` |
/// | `blind:LO:HI` | blind masking: rate drawn uniformly in `[LO, HI]` per sample |
/// | `band:LAT0:LAT1` | hide the latitude band between `LAT0` and `LAT1` degrees |
/// | `cap:LAT:LON:RADIUS_DEG` | hide the spherical cap of that centre and angular radius |
/// | `blur:T` | heat blur `(M + tL)⁻¹M` with `t = T ≥ 0` (squared mesh units) |
/// | `A+B+…` | apply `A`, then `B`, … (e.g. `blur:0.001+mask:0.5`) |
///
/// ```
/// use meshflow_datasets::degrade::Degradation;
///
/// let d: Degradation = "blur:0.001+band:-30:30".parse().unwrap();
/// assert_eq!(d.to_string(), "blur:0.001+band:-30:30");
/// let err = "mask:1.5".parse::<Degradation>().unwrap_err().to_string();
/// assert!(err.contains("`mask:1.5`") && err.contains("[0, 1]"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Degradation {
    /// `mask:RATE`.
    Mask {
        /// Fraction of vertices hidden.
        rate: f64,
    },
    /// `blind:LO:HI`.
    Blind {
        /// Smallest rate.
        lo: f64,
        /// Largest rate.
        hi: f64,
    },
    /// `band:LAT0:LAT1` (degrees, either order).
    Band {
        /// One edge of the band.
        lat0: f64,
        /// The other edge.
        lat1: f64,
    },
    /// `cap:LAT:LON:RADIUS_DEG`.
    Cap {
        /// Centre latitude (degrees).
        lat: f64,
        /// Centre longitude (degrees).
        lon: f64,
        /// Angular radius (degrees, in `(0, 180]`).
        radius_deg: f64,
    },
    /// `blur:T`.
    Blur {
        /// Diffusion time (squared mesh units).
        time: f64,
    },
    /// `A+B+…`: stages applied in order (never nested, at least two).
    Compose(Vec<Degradation>),
}

impl Degradation {
    /// The accepted forms, for help texts and error messages.
    pub const FORMS: &'static str = "mask:RATE, blind:LO:HI, band:LAT0:LAT1, \
        cap:LAT:LON:RADIUS_DEG or blur:T, joined by `+` to apply several in order \
        (e.g. `blur:0.001+mask:0.5`)";

    /// Prepares the degradation on a discretisation: builds fixed masks and factorises blurs
    /// once. Errors when the domain lacks what a stage needs (coordinates for `band`/`cap`, a
    /// mesh for `blur`) or a parameter is out of range.
    pub fn prepare(&self, domain: &Domain<'_>) -> Result<PreparedDegradation> {
        let parts: Vec<&Degradation> = match self {
            Degradation::Compose(parts) => parts.iter().collect(),
            single => vec![single],
        };
        let mut stages = Vec::with_capacity(parts.len());
        for part in parts {
            stages.push(prepare_stage(part, domain)?);
        }
        if stages.is_empty() {
            return Err(DatasetError::InvalidArgument(
                "an empty composition of degradations".into(),
            ));
        }
        Ok(PreparedDegradation {
            spec: self.clone(),
            stages,
            num_vertices: domain.num_vertices,
        })
    }

    /// Checks parameter ranges (the operators' rules).
    fn validate(&self) -> Result<()> {
        match *self {
            Degradation::Mask { rate } => {
                if (0.0..=1.0).contains(&rate) {
                    Ok(())
                } else {
                    Err(DatasetError::InvalidArgument(format!(
                        "RATE must be in [0, 1], got {rate}"
                    )))
                }
            }
            Degradation::Blind { lo, hi } => check_rate_range(lo, hi),
            Degradation::Band { lat0, lat1 } => Region::band(lat0, lat1).map(drop),
            Degradation::Cap {
                lat,
                lon,
                radius_deg,
            } => Region::cap(lat, lon, radius_deg).map(drop),
            Degradation::Blur { time } => {
                if time.is_finite() && time >= 0.0 {
                    Ok(())
                } else {
                    Err(DatasetError::InvalidArgument(format!(
                        "T must be finite and ≥ 0, got {time}"
                    )))
                }
            }
            Degradation::Compose(ref parts) => parts.iter().try_for_each(|p| p.validate()),
        }
    }
}

fn prepare_stage(part: &Degradation, domain: &Domain<'_>) -> Result<Stage> {
    part.validate()?;
    let coords = || {
        domain.coords.as_ref().ok_or_else(|| {
            DatasetError::InvalidArgument(format!(
                "degradation `{part}` needs the latitude/longitude of every vertex: build the \
                 domain with Domain::sphere or Domain::mesh"
            ))
        })
    };
    Ok(match *part {
        Degradation::Mask { rate } => Stage::Random { rate },
        Degradation::Blind { lo, hi } => Stage::Blind { lo, hi },
        Degradation::Band { lat0, lat1 } => Stage::Fixed(MaskingOperator::hiding_region(
            &Region::band(lat0, lat1)?,
            coords()?,
        )),
        Degradation::Cap {
            lat,
            lon,
            radius_deg,
        } => Stage::Fixed(MaskingOperator::hiding_region(
            &Region::cap(lat, lon, radius_deg)?,
            coords()?,
        )),
        Degradation::Blur { time } => {
            let mesh = domain.mesh.ok_or_else(|| {
                DatasetError::InvalidArgument(format!(
                    "degradation `{part}` blurs along a surface and needs a mesh: build the \
                     domain with Domain::sphere or Domain::mesh"
                ))
            })?;
            Stage::Blur(HeatBlurOperator::new(mesh, time)?)
        }
        Degradation::Compose(_) => {
            return Err(DatasetError::InvalidArgument(
                "nested composition of degradations".into(),
            ))
        }
    })
}

impl fmt::Display for Degradation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Degradation::Mask { rate } => write!(f, "mask:{rate}"),
            Degradation::Blind { lo, hi } => write!(f, "blind:{lo}:{hi}"),
            Degradation::Band { lat0, lat1 } => write!(f, "band:{lat0}:{lat1}"),
            Degradation::Cap {
                lat,
                lon,
                radius_deg,
            } => write!(f, "cap:{lat}:{lon}:{radius_deg}"),
            Degradation::Blur { time } => write!(f, "blur:{time}"),
            Degradation::Compose(parts) => {
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str("+")?;
                    }
                    write!(f, "{p}")?;
                }
                Ok(())
            }
        }
    }
}

/// Splits `a+b` at each `+` except those of exponents such as `1e+3` (after `e`/`E`, before a
/// digit).
fn split_stages(s: &str) -> Vec<&str> {
    let bytes = s.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 0..bytes.len() {
        let exponent = i > 0
            && matches!(bytes[i - 1], b'e' | b'E')
            && bytes.get(i + 1).is_some_and(|c| c.is_ascii_digit());
        if bytes[i] == b'+' && !exponent {
            parts.push(&s[start..i]);
            start = i + 1;
        }
    }
    parts.push(&s[start..]);
    parts
}

fn parse_stage(stage: &str, whole: &str) -> Result<Degradation> {
    let err = |message: String| DatasetError::InvalidSpec {
        what: "degradation",
        spec: whole.to_string(),
        message,
    };
    let mut fields = stage.trim().split(':');
    let kind = fields.next().unwrap_or("").trim().to_ascii_lowercase();
    let args: Vec<&str> = fields.collect();
    let (form, arity) = match kind.as_str() {
        "mask" => ("mask:RATE", 1),
        "blind" => ("blind:LO:HI", 2),
        "band" => ("band:LAT0:LAT1", 2),
        "cap" => ("cap:LAT:LON:RADIUS_DEG", 3),
        "blur" => ("blur:T", 1),
        "" => return Err(err(format!("empty stage; expected {}", Degradation::FORMS))),
        _ => {
            return Err(err(format!(
                "unknown degradation `{kind}`; expected {}",
                Degradation::FORMS
            )))
        }
    };
    if args.len() != arity {
        return Err(err(format!(
            "`{kind}` takes {arity} number(s), got {}: expected `{form}`",
            args.len()
        )));
    }
    let x = crate::spec_args::finite_numbers(&args)
        .map_err(|a| err(format!("`{a}` is not a finite number; expected `{form}`")))?;
    let d = match kind.as_str() {
        "mask" => Degradation::Mask { rate: x[0] },
        "blind" => Degradation::Blind { lo: x[0], hi: x[1] },
        "band" => Degradation::Band {
            lat0: x[0],
            lat1: x[1],
        },
        "cap" => Degradation::Cap {
            lat: x[0],
            lon: x[1],
            radius_deg: x[2],
        },
        _ => Degradation::Blur { time: x[0] },
    };
    d.validate().map_err(|e| {
        let detail = match e {
            DatasetError::InvalidArgument(m) => m,
            other => other.to_string(),
        };
        err(format!("{detail} (in `{form}`)"))
    })?;
    Ok(d)
}

impl FromStr for Degradation {
    type Err = DatasetError;

    fn from_str(s: &str) -> Result<Self> {
        let mut stages = split_stages(s)
            .into_iter()
            .map(|stage| parse_stage(stage, s))
            .collect::<Result<Vec<_>>>()?;
        Ok(if stages.len() == 1 {
            stages.remove(0)
        } else {
            Degradation::Compose(stages)
        })
    }
}

/// The discretisation a degradation is prepared on: the vertex count, and where available
/// the mesh (for blurs) and per-vertex latitude/longitude (for bands and caps).
#[derive(Debug, Clone)]
pub struct Domain<'a> {
    num_vertices: usize,
    mesh: Option<&'a TriMesh>,
    coords: Option<LatLon>,
}

impl<'a> Domain<'a> {
    /// A sphere grid: its mesh and its vertices' latitude/longitude.
    pub fn sphere(grid: &'a SphereGrid) -> Self {
        Self {
            num_vertices: grid.num_vertices(),
            mesh: Some(grid.mesh()),
            coords: Some(LatLon::from_sphere_grid(grid)),
        }
    }

    /// A mesh, with coordinates from [`LatLon::from_mesh`] (directions from the centre of its
    /// bounding box).
    pub fn mesh(mesh: &'a TriMesh) -> Self {
        Self {
            num_vertices: mesh.num_vertices(),
            mesh: Some(mesh),
            coords: Some(LatLon::from_mesh(mesh)),
        }
    }

    /// Just `n` vertices (enough for `mask` and `blind`).
    pub fn vertices(n: usize) -> Self {
        Self {
            num_vertices: n,
            mesh: None,
            coords: None,
        }
    }

    /// Replaces the per-vertex coordinates; errors when their length is not `V`.
    pub fn with_coords(mut self, coords: LatLon) -> Result<Self> {
        if coords.len() != self.num_vertices {
            return Err(DatasetError::ShapeMismatch {
                what: "coordinates of the domain's vertices".into(),
                expected: self.num_vertices,
                got: coords.len(),
            });
        }
        self.coords = Some(coords);
        Ok(self)
    }

    /// Number of vertices `V`.
    pub fn num_vertices(&self) -> usize {
        self.num_vertices
    }
}

#[derive(Debug, Clone)]
enum Stage {
    Fixed(MaskingOperator),
    Random { rate: f64 },
    Blind { lo: f64, hi: f64 },
    Blur(HeatBlurOperator),
}

/// A [`Degradation`] prepared on a [`Domain`]: deterministic parts (region masks, blur
/// factorisations) are built once; random masks are drawn per sample by
/// [`PreparedDegradation::operator`].
#[derive(Debug, Clone)]
pub struct PreparedDegradation {
    spec: Degradation,
    stages: Vec<Stage>,
    num_vertices: usize,
}

impl PreparedDegradation {
    /// The operator for one sample. Stage `i` draws its randomness from
    /// `StdRng::seed_from_u64(sample_seed(seed, i))`, so the same seed always gives the same
    /// operator; use e.g. `sample_seed(run_seed, sample_index)` as `seed`. Cheap: blurs share
    /// their factorisation and fixed masks are cloned.
    pub fn operator(&self, seed: u64) -> Box<dyn ForwardOperator> {
        let n = self.num_vertices;
        let mut ops: Vec<Box<dyn ForwardOperator>> = self
            .stages
            .iter()
            .enumerate()
            .map(|(i, stage)| -> Box<dyn ForwardOperator> {
                let mut rng = StdRng::seed_from_u64(sample_seed(seed, i as u64));
                match stage {
                    Stage::Fixed(m) => Box::new(m.clone()),
                    Stage::Random { rate } => Box::new(
                        MaskingOperator::random(n, *rate, &mut rng)
                            .expect("rate validated when prepared"),
                    ),
                    Stage::Blind { lo, hi } => Box::new(
                        MaskingOperator::blind(n, *lo, *hi, &mut rng)
                            .expect("rates validated when prepared"),
                    ),
                    Stage::Blur(b) => Box::new(b.clone()),
                }
            })
            .collect();
        if ops.len() == 1 {
            ops.remove(0)
        } else {
            Box::new(ComposedOperator::new(ops).expect("every stage has V inputs and outputs"))
        }
    }

    /// True when [`PreparedDegradation::operator`] depends on the seed (random or blind masks).
    pub fn is_random(&self) -> bool {
        self.stages
            .iter()
            .any(|s| matches!(s, Stage::Random { .. } | Stage::Blind { .. }))
    }

    /// The spec this was prepared from.
    pub fn spec(&self) -> &Degradation {
        &self.spec
    }

    /// Number of vertices `V` of the domain.
    pub fn num_vertices(&self) -> usize {
        self.num_vertices
    }
}

/// A well-mixed seed for item `index` of a run seeded with `base` (SplitMix64 finaliser of
/// both), so neighbouring sample indices get unrelated masks.
pub fn sample_seed(base: u64, index: u64) -> u64 {
    fn mix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    mix(base ^ mix(index))
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_adjoint_identity;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn specs_round_trip() {
        for s in [
            "mask:0.5",
            "blind:0.1:0.9",
            "band:-30:30",
            "cap:45:-120.5:20",
            "blur:0.001",
            "blur:0.001+mask:0.5",
            "blur:1e-5+band:60:90+cap:0:0:10",
        ] {
            let d: Degradation = s.parse().unwrap();
            let again: Degradation = d.to_string().parse().unwrap();
            assert_eq!(again, d, "{s}");
        }
        assert_eq!(
            "blur:0.001+mask:0.5".parse::<Degradation>().unwrap(),
            Degradation::Compose(vec![
                Degradation::Blur { time: 0.001 },
                Degradation::Mask { rate: 0.5 }
            ])
        );
        // `+` inside an exponent is not a stage separator.
        assert_eq!(
            "blur:1e+0".parse::<Degradation>().unwrap(),
            Degradation::Blur { time: 1.0 }
        );
    }

    #[test]
    fn errors_are_clear() {
        let cases = [
            ("mask", "expected `mask:RATE`"),
            ("mask:1.5", "RATE must be in [0, 1]"),
            ("mask:x", "`x` is not a finite number"),
            ("mask:inf", "not a finite number"),
            ("blind:0.7:0.2", "0 ≤ LO ≤ HI ≤ 1"),
            ("band:-100:0", "[−90, 90]"),
            ("cap:0:0", "expected `cap:LAT:LON:RADIUS_DEG`"),
            ("cap:0:0:0", "radius must be in (0, 180]"),
            ("blur:-1", "T must be finite and ≥ 0"),
            ("blurr:1", "unknown degradation `blurr`"),
            ("blur:0.1+", "empty stage"),
        ];
        for (s, needle) in cases {
            let msg = s.parse::<Degradation>().unwrap_err().to_string();
            assert!(
                msg.starts_with(&format!("invalid degradation spec `{s}`")),
                "{msg}"
            );
            assert!(msg.contains(needle), "{s}: {msg}");
        }
        let msg = "noise:1".parse::<Degradation>().unwrap_err().to_string();
        assert!(msg.contains(Degradation::FORMS), "{msg}");
    }

    #[test]
    fn prepared_operators_are_reproducible_and_adjoint() {
        let grid = SphereGrid::latlon(61, 120).unwrap();
        let domain = Domain::sphere(&grid);
        for s in [
            "mask:0.3",
            "blind:0.2:0.8",
            "band:-30:30",
            "cap:45:10:20",
            "blur:0.001+mask:0.5",
        ] {
            let d: Degradation = s.parse().unwrap();
            let p = d.prepare(&domain).unwrap();
            let (a, b, c) = (p.operator(1), p.operator(1), p.operator(2));
            assert_eq!(a.observed_mask(), b.observed_mask(), "{s}");
            assert_eq!(p.is_random(), a.observed_mask() != c.observed_mask(), "{s}");
            assert_adjoint_identity(a.as_ref(), 3);
        }
        // Region stages hide exactly the region: 21 rings of 120 for |lat| ≤ 30.
        let band = "band:-30:30".parse::<Degradation>().unwrap();
        let op = band.prepare(&domain).unwrap().operator(0);
        let m = op.observed_mask().unwrap();
        assert_eq!(m.len() - m.num_observed(), 21 * 120);
    }

    #[test]
    fn domains_without_coordinates_or_mesh_are_rejected_clearly() {
        let d = Domain::vertices(100);
        assert!("mask:0.5"
            .parse::<Degradation>()
            .unwrap()
            .prepare(&d)
            .is_ok());
        let err = "band:0:10"
            .parse::<Degradation>()
            .unwrap()
            .prepare(&d)
            .unwrap_err();
        assert!(err.to_string().contains("latitude/longitude"), "{err}");
        let err = "blur:0.1"
            .parse::<Degradation>()
            .unwrap()
            .prepare(&d)
            .unwrap_err();
        assert!(err.to_string().contains("needs a mesh"), "{err}");
        let grid = SphereGrid::icosphere(2);
        let dm = Domain::mesh(grid.mesh());
        let p = "cap:90:0:30"
            .parse::<Degradation>()
            .unwrap()
            .prepare(&dm)
            .unwrap();
        let hidden = grid.lat_deg().iter().filter(|&&l| l >= 60.0 - 1e-9).count();
        let m = p.operator(0).observed_mask().unwrap().clone();
        assert_eq!(m.len() - m.num_observed(), hidden);
        assert!(Domain::vertices(3)
            .with_coords(LatLon::new(vec![0.0], vec![0.0]).unwrap())
            .is_err());
    }

    #[test]
    fn sample_seeds_differ() {
        let seeds: std::collections::HashSet<u64> = (0..1000).map(|i| sample_seed(42, i)).collect();
        assert_eq!(seeds.len(), 1000);
        assert_ne!(sample_seed(1, 0), sample_seed(0, 1));
    }

    proptest! {
        #[test]
        fn display_round_trips(rate in 0.0f64..=1.0, lat in -90.0f64..=90.0, lon in -540.0f64..540.0,
                               r in 1e-3f64..=180.0, t in 0.0f64..10.0) {
            let d = Degradation::Compose(vec![
                Degradation::Blur { time: t },
                Degradation::Mask { rate },
                Degradation::Blind { lo: rate * 0.5, hi: rate },
                Degradation::Band { lat0: lat, lat1: -lat },
                Degradation::Cap { lat, lon, radius_deg: r },
            ]);
            prop_assert_eq!(d.to_string().parse::<Degradation>().unwrap(), d);
        }
    }
}

//! Vertex signals, observation masks and normalisation statistics.
//!
//! A [`VertexSignal`] holds `C` channels per vertex, row-major `[V × C]` in `f32` (the
//! precision of the data files and of the networks), and knows its vertex count so a signal
//! cannot silently be paired with the wrong discretisation.

use std::path::Path;

use rand::Rng;

use crate::error::{GeometryError, Result};
use crate::sphere::SphereGrid;

/// A signal on the `V` vertices of a discretisation, `C` channels, row-major `[V × C]`.
#[derive(Debug, Clone, PartialEq)]
pub struct VertexSignal {
    values: Vec<f32>,
    num_vertices: usize,
    channels: usize,
}

impl VertexSignal {
    /// Wraps `values` (`[V × C]`), checking the length and that every value is finite
    /// (missing data belongs in a [`Mask`], never in NaN values).
    pub fn new(num_vertices: usize, channels: usize, values: Vec<f32>) -> Result<Self> {
        if channels == 0 || values.len() != num_vertices * channels {
            return Err(GeometryError::ShapeMismatch {
                what: format!("vertex signal with {channels} channel(s)"),
                expected: num_vertices * channels.max(1),
                got: values.len(),
            });
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(GeometryError::NonFinite {
                what: "signal value",
                index: i,
            });
        }
        Ok(Self {
            values,
            num_vertices,
            channels,
        })
    }

    /// A one-channel signal from `[V]` values.
    pub fn scalar(values: Vec<f32>) -> Result<Self> {
        Self::new(values.len(), 1, values)
    }

    /// Splits values that may contain NaN (missing) into a signal, with missing entries
    /// replaced by `fill`, and a mask that is `false` wherever any channel of a vertex was
    /// missing.
    pub fn with_missing(
        num_vertices: usize,
        channels: usize,
        mut values: Vec<f32>,
        fill: f32,
    ) -> Result<(Self, Mask)> {
        if channels == 0 || values.len() != num_vertices * channels {
            return Err(GeometryError::ShapeMismatch {
                what: format!("vertex signal with {channels} channel(s)"),
                expected: num_vertices * channels.max(1),
                got: values.len(),
            });
        }
        let mut observed = vec![true; num_vertices];
        for (i, v) in values.iter_mut().enumerate() {
            if !v.is_finite() {
                observed[i / channels] = false;
                *v = fill;
            }
        }
        Ok((
            Self::new(num_vertices, channels, values)?,
            Mask::new(observed),
        ))
    }

    /// A one-channel signal from a field in the source array order of a sphere grid
    /// (`[nlat × nlon]`, rows as in the file), via [`SphereGrid::to_vertex_order`]: points
    /// of a collapsed pole row are averaged, added pole vertices take the adjacent ring's mean.
    pub fn from_grid_field(grid: &SphereGrid, field: &[f32]) -> Result<Self> {
        Self::scalar(grid.to_vertex_order(field)?)
    }

    /// Channel `c` back in the source array order of `grid` (`[nlat × nlon]`).
    pub fn to_grid_field(&self, grid: &SphereGrid, c: usize) -> Result<Vec<f32>> {
        self.check_vertices(grid.num_vertices())?;
        grid.to_grid_order(&self.channel(c))
    }

    /// Number of vertices `V`.
    pub fn num_vertices(&self) -> usize {
        self.num_vertices
    }

    /// Number of channels `C`.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Values, `[V × C]` row-major.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Consumes the signal, returning its values.
    pub fn into_values(self) -> Vec<f32> {
        self.values
    }

    /// Channel `c` as a `[V]` vector.
    pub fn channel(&self, c: usize) -> Vec<f32> {
        self.values
            .iter()
            .skip(c)
            .step_by(self.channels)
            .copied()
            .collect()
    }

    /// Errors unless the signal has `num_vertices` vertices (e.g. a discretisation's count).
    pub fn check_vertices(&self, num_vertices: usize) -> Result<()> {
        if self.num_vertices != num_vertices {
            return Err(GeometryError::ShapeMismatch {
                what: "signal vertices vs discretisation vertices".into(),
                expected: num_vertices,
                got: self.num_vertices,
            });
        }
        Ok(())
    }
}

/// Which vertices are observed (`true`) or missing (`false`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mask {
    observed: Vec<bool>,
}

impl Mask {
    /// A mask from per-vertex flags (`true` = observed).
    pub fn new(observed: Vec<bool>) -> Self {
        Self { observed }
    }

    /// All `n` vertices observed.
    pub fn all_observed(n: usize) -> Self {
        Self {
            observed: vec![true; n],
        }
    }

    /// Hides exactly `round(rate · n)` vertices chosen uniformly at random (without
    /// replacement) with `rng`. `rate` must lie in `[0, 1]`.
    pub fn random<R: Rng + ?Sized>(n: usize, rate: f64, rng: &mut R) -> Result<Self> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(GeometryError::InvalidArgument(format!(
                "mask rate must be in [0, 1], got {rate}"
            )));
        }
        let hidden = (rate * n as f64).round() as usize;
        let chosen = rand::seq::index::sample(rng, n, hidden);
        let mut observed = vec![true; n];
        for i in chosen {
            observed[i] = false;
        }
        Ok(Self { observed })
    }

    /// Per-vertex flags, `[V]`.
    pub fn observed(&self) -> &[bool] {
        &self.observed
    }

    /// Number of vertices `V`.
    pub fn len(&self) -> usize {
        self.observed.len()
    }

    /// True for a mask over zero vertices.
    pub fn is_empty(&self) -> bool {
        self.observed.is_empty()
    }

    /// Number of observed vertices.
    pub fn num_observed(&self) -> usize {
        self.observed.iter().filter(|&&o| o).count()
    }

    /// Fraction of vertices that are missing.
    pub fn missing_fraction(&self) -> f64 {
        if self.observed.is_empty() {
            0.0
        } else {
            1.0 - self.num_observed() as f64 / self.observed.len() as f64
        }
    }

    /// The complement: observed ↔ missing.
    pub fn complement(&self) -> Self {
        Self {
            observed: self.observed.iter().map(|o| !o).collect(),
        }
    }

    /// Mask as 0/1 weights, `[V]` (1 = observed).
    pub fn as_weights(&self) -> Vec<f32> {
        self.observed
            .iter()
            .map(|&o| if o { 1.0 } else { 0.0 })
            .collect()
    }
}

/// Normalisation statistics, fitted on training data, saved beside a model and re-applied to
/// new data. `apply` maps physical units to network units, `invert` maps back.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Normalisation {
    /// `(x − min) / (max − min)`: data in `[min, max]` maps to `[0, 1]`.
    MinMax {
        /// Value mapped to 0.
        min: f64,
        /// Value mapped to 1.
        max: f64,
    },
    /// `(x − mean) / std`.
    Standard {
        /// Mean.
        mean: f64,
        /// Standard deviation (> 0).
        std: f64,
    },
}

impl Normalisation {
    /// The GASP ERA5 temperature convention: `T_MIN = 202.66 K`, `T_MAX = 320.93 K`.
    pub const ERA5_TEMPERATURE: Normalisation = Normalisation::MinMax {
        min: 202.66,
        max: 320.93,
    };

    /// Min–max statistics of all finite values. Errors when there are none or all are equal.
    pub fn fit_min_max<'a>(values: impl IntoIterator<Item = &'a f32>) -> Result<Self> {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &v in values {
            if v.is_finite() {
                lo = lo.min(v as f64);
                hi = hi.max(v as f64);
            }
        }
        let n = Normalisation::MinMax { min: lo, max: hi };
        n.validate()?;
        Ok(n)
    }

    /// Mean/standard-deviation statistics of all finite values.
    pub fn fit_standard<'a>(values: impl IntoIterator<Item = &'a f32>) -> Result<Self> {
        let (mut n, mut mean, mut m2) = (0u64, 0.0f64, 0.0f64);
        for &v in values {
            if v.is_finite() {
                n += 1;
                let d = v as f64 - mean;
                mean += d / n as f64;
                m2 += d * (v as f64 - mean);
            }
        }
        let s = Normalisation::Standard {
            mean,
            std: if n > 1 {
                (m2 / (n - 1) as f64).sqrt()
            } else {
                0.0
            },
        };
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> Result<()> {
        let ok = match *self {
            Normalisation::MinMax { min, max } => min.is_finite() && max.is_finite() && max > min,
            Normalisation::Standard { mean, std } => {
                mean.is_finite() && std.is_finite() && std > 0.0
            }
        };
        if ok {
            Ok(())
        } else {
            Err(GeometryError::InvalidArgument(format!(
                "degenerate normalisation statistics {self:?}: the data are empty or constant"
            )))
        }
    }

    /// `(offset, scale)` with `normalised = (x − offset) / scale`.
    pub fn offset_scale(&self) -> (f64, f64) {
        match *self {
            Normalisation::MinMax { min, max } => (min, max - min),
            Normalisation::Standard { mean, std } => (mean, std),
        }
    }

    /// Physical → normalised units, in place.
    pub fn apply(&self, values: &mut [f32]) {
        let (o, s) = self.offset_scale();
        values
            .iter_mut()
            .for_each(|v| *v = ((*v as f64 - o) / s) as f32);
    }

    /// Normalised → physical units, in place.
    pub fn invert(&self, values: &mut [f32]) {
        let (o, s) = self.offset_scale();
        values
            .iter_mut()
            .for_each(|v| *v = (*v as f64 * s + o) as f32);
    }

    /// A standard deviation (or any scale-only quantity) from normalised to physical units.
    pub fn invert_scale(&self, values: &mut [f32]) {
        let (_, s) = self.offset_scale();
        values.iter_mut().for_each(|v| *v = (*v as f64 * s) as f32);
    }

    /// Writes the statistics as JSON (atomically: temp file, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).expect("normalisation serialises");
        write_atomic(path, json.as_bytes())
    }

    /// Reads statistics written by [`Normalisation::save`].
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| GeometryError::Io {
            path: path.into(),
            source,
        })?;
        let n: Normalisation = serde_json::from_str(&text).map_err(|e| GeometryError::Parse {
            path: path.into(),
            location: format!("line {}", e.line()),
            message: e.to_string(),
        })?;
        n.validate()?;
        Ok(n)
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed, then
/// renamed over the target, so readers never see a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let io = |source| GeometryError::Io {
        path: path.into(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn signal_shapes_and_missing_values() {
        assert!(VertexSignal::new(3, 2, vec![0.0; 5]).is_err());
        assert!(VertexSignal::new(2, 1, vec![0.0, f32::NAN]).is_err());
        let (s, m) =
            VertexSignal::with_missing(3, 2, vec![1.0, 2.0, f32::NAN, 4.0, 5.0, 6.0], 0.0).unwrap();
        assert_eq!(m.observed(), &[true, false, true]);
        assert_eq!(s.channel(0), vec![1.0, 0.0, 5.0]);
        assert!(s.check_vertices(4).is_err());
    }

    #[test]
    fn grid_fields_round_trip_through_vertex_order() {
        let g = SphereGrid::latlon(7, 12).unwrap();
        // Constant on each pole row, varying elsewhere.
        let field: Vec<f32> = (0..7 * 12)
            .map(|i| {
                if i < 12 {
                    5.0
                } else if i >= 72 {
                    -5.0
                } else {
                    i as f32
                }
            })
            .collect();
        let s = VertexSignal::from_grid_field(&g, &field).unwrap();
        assert_eq!(s.num_vertices(), 5 * 12 + 2);
        assert_eq!(s.to_grid_field(&g, 0).unwrap(), field);
        assert!(VertexSignal::from_grid_field(&g, &field[1..]).is_err());
    }

    #[test]
    fn random_mask_hides_the_requested_fraction_reproducibly() {
        let a = Mask::random(1000, 0.3, &mut StdRng::seed_from_u64(7)).unwrap();
        let b = Mask::random(1000, 0.3, &mut StdRng::seed_from_u64(7)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.num_observed(), 700);
        assert!((a.missing_fraction() - 0.3).abs() < 1e-12);
        assert!(Mask::random(10, 1.5, &mut StdRng::seed_from_u64(0)).is_err());
    }

    #[test]
    fn normalisation_round_trips_and_persists() {
        let data = [250.0f32, 260.0, 300.0];
        let n = Normalisation::fit_min_max(&data).unwrap();
        let mut x = data.to_vec();
        n.apply(&mut x);
        assert_eq!(x, vec![0.0, 0.2, 1.0]);
        n.invert(&mut x);
        assert!(x.iter().zip(&data).all(|(a, b)| (a - b).abs() < 1e-4));
        let dir = std::env::temp_dir().join(format!("mf-norm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("normalisation.json");
        Normalisation::ERA5_TEMPERATURE.save(&path).unwrap();
        assert_eq!(
            Normalisation::load(&path).unwrap(),
            Normalisation::ERA5_TEMPERATURE
        );
        assert!(Normalisation::fit_min_max(&[1.0f32, 1.0]).is_err());
        let s = Normalisation::fit_standard(&[1.0f32, 2.0, 3.0]).unwrap();
        assert_eq!(
            s,
            Normalisation::Standard {
                mean: 2.0,
                std: 1.0
            }
        );
        std::fs::remove_dir_all(dir).ok();
    }
}

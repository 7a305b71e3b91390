//! One field's imputation result, the input of both the figures and the recordings.

use meshflow_geometry::sphere::SphereGrid;
use meshflow_geometry::TriMesh;

use crate::colormap::{ColorScale, Colormap};
use crate::error::{check_len, Result};

/// What an imputation produced on one field, ready to be logged: every slice has one value
/// per vertex of `discretisation`, in physical units.
#[derive(Debug, Clone, Copy)]
pub struct Reconstruction<'a> {
    /// The surface.
    pub discretisation: &'a TriMesh,
    /// The sphere grid of the surface, if it is one: its fields are also logged as
    /// equirectangular images, and its up axis is `+z`.
    pub grid: Option<&'a SphereGrid>,
    /// The ground truth, if known.
    pub truth: Option<&'a [f32]>,
    /// The measurement; its values at unobserved vertices are ignored.
    pub measurement: &'a [f32],
    /// `true` where the measurement is observed.
    pub mask: &'a [bool],
    /// Posterior samples, each one value per vertex.
    pub samples: &'a [Vec<f32>],
    /// The posterior mean (or the method's reconstruction).
    pub mean: &'a [f32],
    /// The posterior standard deviation, if known.
    pub std: Option<&'a [f32]>,
    /// Other methods' reconstructions, `(name, values)`.
    pub baselines: &'a [(String, Vec<f32>)],
    /// The units of the values (`K`), or empty.
    pub units: &'a str,
    /// The figure title of `measurement` (`measurement`; a denoising result's is the noisy
    /// input).
    pub measurement_name: &'a str,
    /// The figure title of `mean` (`mean`; a denoising result's is its method's name).
    pub mean_name: &'a str,
}

impl<'a> Reconstruction<'a> {
    /// A reconstruction with only a measurement: fill in the rest with struct-update syntax.
    /// The mean defaults to the measurement.
    pub fn new(discretisation: &'a TriMesh, measurement: &'a [f32], mask: &'a [bool]) -> Self {
        Reconstruction {
            discretisation,
            grid: None,
            truth: None,
            measurement,
            mask,
            samples: &[],
            mean: measurement,
            std: None,
            baselines: &[],
            units: "",
            measurement_name: "measurement",
            mean_name: "mean",
        }
    }

    /// The same reconstruction on a sphere grid (sets `grid` and `discretisation`).
    pub fn with_grid(mut self, grid: &'a SphereGrid) -> Self {
        self.grid = Some(grid);
        self.discretisation = grid.mesh();
        self
    }

    /// Checks that every slice has one value per vertex.
    ///
    /// # Errors
    /// [`ViewerError::ShapeMismatch`](crate::ViewerError::ShapeMismatch) naming the first
    /// slice that does not.
    pub fn check(&self) -> Result<()> {
        let n = self.discretisation.num_vertices();
        check_len("measurement", n, self.measurement.len())?;
        check_len("mask", n, self.mask.len())?;
        check_len("mean", n, self.mean.len())?;
        if let Some(t) = self.truth {
            check_len("truth", n, t.len())?;
        }
        if let Some(s) = self.std {
            check_len("std", n, s.len())?;
        }
        for (i, s) in self.samples.iter().enumerate() {
            check_len(&format!("sample {i}"), n, s.len())?;
        }
        for (name, b) in self.baselines {
            check_len(&format!("baseline {name}"), n, b.len())?;
        }
        if let Some(g) = self.grid {
            check_len("sphere grid vertices", n, g.num_vertices())?;
        }
        Ok(())
    }
}

/// The colour scales of a reconstruction: one for the field (truth, measurement, samples,
/// mean, baselines), one for the std, one for all absolute errors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReconstructionScales {
    /// Viridis over every field that compares.
    pub field: ColorScale,
    /// Magma over the posterior std.
    pub std: Option<ColorScale>,
    /// Magma over the absolute errors of the mean and every baseline, from 0.
    pub abs_error: Option<ColorScale>,
}

impl ReconstructionScales {
    /// Fits the scales to a reconstruction (finite values only; the measurement at observed
    /// vertices only).
    pub fn fit(r: &Reconstruction<'_>) -> Self {
        let observed: Vec<f32> = r
            .measurement
            .iter()
            .zip(r.mask)
            .map(|(&v, &o)| if o { v } else { f32::NAN })
            .collect();
        // The value range comes from the data (truth and observed values) and the posterior
        // mean only: a diverging baseline must not wash out every panel's contrast (values
        // outside the range saturate at the ends of the colour bar).
        let mut fields: Vec<&[f32]> = vec![&observed, r.mean];
        fields.extend(r.truth);
        let field = ColorScale::fit_many(Colormap::Viridis, &fields, None);
        let std = r.std.map(|s| ColorScale::fit(Colormap::Magma, s, None));
        let abs_error = r.truth.map(|t| {
            // Scaled to the posterior mean's error, for the same reason.
            let errors = abs_errors(r, t);
            let refs: Vec<&[f32]> = errors.iter().take(1).map(|(_, e)| e.as_slice()).collect();
            let fitted = ColorScale::fit_many(Colormap::Magma, &refs, None);
            ColorScale::new(Colormap::Magma, 0.0, fitted.vmax)
        });
        ReconstructionScales {
            field,
            std,
            abs_error,
        }
    }
}

/// `|estimate − truth|` for the mean and every baseline, `(name, errors)`.
pub(crate) fn abs_errors(r: &Reconstruction<'_>, truth: &[f32]) -> Vec<(String, Vec<f32>)> {
    let err = |x: &[f32]| x.iter().zip(truth).map(|(a, b)| (a - b).abs()).collect();
    let mut out = vec![("mean".to_string(), err(r.mean))];
    out.extend(r.baselines.iter().map(|(n, b)| (n.clone(), err(b))));
    out
}

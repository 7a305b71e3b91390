//! Nearest-neighbour fill.

use meshflow_geometry::resample::PointIndex;
use meshflow_geometry::signal::Mask;
use meshflow_geometry::TriMesh;

use super::{observed_f64, to_f32, Reconstruction, Reconstructor};
use crate::error::{FlowError, Result};

/// Nearest-neighbour fill: observed vertices keep their measured value (no denoising); each
/// missing vertex copies the value of the nearest observed vertex, by 3-D Euclidean distance
/// between vertex positions (chordal distance on the sphere, which orders neighbours as the
/// great-circle distance does). Ties go to whichever the k-d tree returns first.
///
/// No uncertainty: [`Reconstruction::std`] is `None`.
#[derive(Debug, Clone)]
pub struct NearestFill {
    mesh: TriMesh,
}

impl NearestFill {
    /// A nearest fill on the vertices of `mesh` (only the positions are used).
    pub fn new(mesh: &TriMesh) -> Self {
        Self { mesh: mesh.clone() }
    }

    /// Fills `y` (`[V]`) in f64. See [`Reconstructor::reconstruct`].
    ///
    /// # Errors
    /// [`FlowError::InvalidArgument`] for wrong lengths, a non-finite observed value, or a
    /// mask with no observed vertex.
    pub fn fill(&self, y: &[f64], mask: &Mask) -> Result<Vec<f64>> {
        let mut x = observed_f64(y, mask, self.mesh.num_vertices())?;
        let p = self.mesh.positions();
        let observed: Vec<usize> = (0..p.len()).filter(|&i| mask.observed()[i]).collect();
        if observed.is_empty() {
            return Err(FlowError::InvalidArgument(
                "nearest fill needs at least one observed vertex; the mask observes none".into(),
            ));
        }
        let missing: Vec<usize> = (0..p.len()).filter(|&i| !mask.observed()[i]).collect();
        if missing.is_empty() {
            return Ok(x);
        }
        let points: Vec<_> = observed.iter().map(|&i| p[i]).collect();
        let index = PointIndex::new(&points)?;
        let queries: Vec<_> = missing.iter().map(|&i| p[i]).collect();
        for (&i, k) in missing.iter().zip(index.nearest_batch(&queries)) {
            x[i] = x[observed[k]];
        }
        Ok(x)
    }
}

impl Reconstructor for NearestFill {
    fn name(&self) -> &str {
        "nearest"
    }

    fn reconstruct(&self, y: &[f32], mask: &Mask) -> Result<Reconstruction> {
        let y: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        Ok(Reconstruction {
            mean: to_f32(&self.fill(&y, mask)?),
            std: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshflow_geometry::primitives;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    #[test]
    fn nearest_fill_matches_brute_force() {
        // A jittered grid so no two observed vertices are equally close to a missing one.
        let mut rng = StdRng::seed_from_u64(3);
        let (mut p, f) = primitives::plane_grid(15, 11, 2.0, 1.0).into_parts();
        for q in p.iter_mut() {
            q.x += rng.random_range(-0.03..0.03);
            q.y += rng.random_range(-0.03..0.03);
            q.z += rng.random_range(-0.03..0.03);
        }
        let mesh = TriMesh::new(p, f).unwrap();
        let n = mesh.num_vertices();
        let mask = Mask::random(n, 0.6, &mut rng).unwrap();
        let mut y: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        for i in 0..n {
            if !mask.observed()[i] {
                y[i] = f32::NAN; // ignored
            }
        }
        let r = NearestFill::new(&mesh).reconstruct(&y, &mask).unwrap();
        assert!(r.std.is_none());
        let p = mesh.positions();
        for i in 0..n {
            if mask.observed()[i] {
                assert_eq!(r.mean[i], y[i]);
            } else {
                let best = (0..n)
                    .filter(|&j| mask.observed()[j])
                    .min_by(|&a, &b| {
                        let da = (p[a] - p[i]).norm_squared();
                        let db = (p[b] - p[i]).norm_squared();
                        da.total_cmp(&db)
                    })
                    .unwrap();
                assert_eq!(r.mean[i], y[best], "vertex {i}");
            }
        }
    }

    #[test]
    fn nearest_fill_rejects_bad_input() {
        let mesh = primitives::plane_grid(3, 3, 1.0, 1.0);
        let nf = NearestFill::new(&mesh);
        let y = vec![0.0f32; 9];
        assert!(nf.reconstruct(&y, &Mask::new(vec![false; 9])).is_err());
        assert!(nf.reconstruct(&y[..8], &Mask::all_observed(9)).is_err());
        let mut bad = y.clone();
        bad[4] = f32::NAN;
        assert!(nf.reconstruct(&bad, &Mask::all_observed(9)).is_err());
    }
}

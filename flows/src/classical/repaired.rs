//! Running a mesh method on the repaired mesh of a scan.

use meshflow_geometry::resample::PointIndex;
use meshflow_geometry::signal::Mask;
use meshflow_geometry::topology::repair;
use meshflow_geometry::TriMesh;

use super::{NearestFill, Reconstruction, Reconstructor};
use crate::error::{FlowError, Result};

/// A scanned mesh and its repaired version ([`meshflow_geometry::topology::repair`]:
/// degenerate and duplicate faces and unused vertices removed), with the maps between their
/// vertices.
///
/// Scans carry such defects (the Stanford `bun_zipper_res3.ply` has 2 unused vertices and
/// duplicate faces). Unused vertices have no area and no neighbours, so the Laplacian-based
/// methods ([`super::HarmonicFill`], [`super::GmrfKriging`]) are undefined there; built on
/// [`MeshRepair::mesh`] and wrapped with [`MeshRepair::wrap`] they run on the repaired mesh and
/// the removed vertices take the value of their nearest observed vertex.
#[derive(Debug, Clone)]
pub struct MeshRepair {
    /// The repaired mesh.
    pub mesh: TriMesh,
    /// For each vertex of the original mesh, its index in [`MeshRepair::mesh`] (`None` if
    /// removed).
    vertex_map: Vec<Option<usize>>,
    nearest: NearestFill,
}

impl MeshRepair {
    /// Repairs `mesh`.
    pub fn new(mesh: &TriMesh) -> Self {
        let (repaired, summary) = repair(mesh);
        Self {
            mesh: repaired,
            vertex_map: summary.vertex_map,
            nearest: NearestFill::new(mesh),
        }
    }

    /// Number of vertices of the original mesh that the repair removed.
    pub fn removed_vertices(&self) -> usize {
        self.vertex_map.iter().filter(|m| m.is_none()).count()
    }

    /// The values of the kept vertices, in the repaired mesh's order (`[V]` → `[V']`).
    ///
    /// # Errors
    /// [`FlowError::InvalidArgument`] if `values` does not have one value per original vertex.
    pub fn restrict<T: Copy>(&self, values: &[T]) -> Result<Vec<T>> {
        if values.len() != self.vertex_map.len() {
            return Err(FlowError::InvalidArgument(format!(
                "expected {} values (one per vertex of the original mesh), got {}",
                self.vertex_map.len(),
                values.len()
            )));
        }
        Ok(values
            .iter()
            .zip(&self.vertex_map)
            .filter(|(_, m)| m.is_some())
            .map(|(v, _)| *v)
            .collect())
    }

    /// Values on [`MeshRepair::mesh`] (`[V']`) on the original vertices (`[V]`), `removed` at
    /// the vertices the repair removed.
    pub fn extend<T: Copy>(&self, repaired: &[T], removed: T) -> Vec<T> {
        self.vertex_map
            .iter()
            .map(|m| m.map_or(removed, |i| repaired[i]))
            .collect()
    }

    /// For every vertex of the original mesh, the vertex of [`MeshRepair::mesh`] it reads from:
    /// its own if kept, else the nearest kept one (3-D Euclidean distance).
    ///
    /// # Errors
    /// A geometry error if the repaired mesh has no vertex.
    pub fn source_vertices(&self, original: &TriMesh) -> Result<Vec<usize>> {
        let mut source: Vec<usize> = self.vertex_map.iter().map(|m| m.unwrap_or(0)).collect();
        if self.removed_vertices() == 0 {
            return Ok(source);
        }
        let index = PointIndex::new(self.mesh.positions())?;
        let removed: Vec<usize> = (0..self.vertex_map.len())
            .filter(|&v| self.vertex_map[v].is_none())
            .collect();
        let queries: Vec<_> = removed.iter().map(|&v| original.positions()[v]).collect();
        for (&v, n) in removed.iter().zip(index.nearest_batch(&queries)) {
            source[v] = n;
        }
        Ok(source)
    }

    /// `inner` (built on [`MeshRepair::mesh`]) as a reconstructor on the original mesh.
    pub fn wrap<R: Reconstructor>(self, inner: R) -> OnRepairedMesh<R> {
        OnRepairedMesh {
            repair: self,
            inner,
        }
    }
}

/// A reconstructor built on a repaired mesh, applied to signals on the original mesh: the kept
/// vertices get the inner method's estimate (and std), the removed ones their nearest observed
/// vertex's value (and the largest std of the inner estimate, as a conservative band).
#[derive(Debug, Clone)]
pub struct OnRepairedMesh<R> {
    repair: MeshRepair,
    inner: R,
}

impl<R: Reconstructor> Reconstructor for OnRepairedMesh<R> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn reconstruct(&self, y: &[f32], mask: &Mask) -> Result<Reconstruction> {
        let r = &self.repair;
        if r.removed_vertices() == 0 {
            return self.inner.reconstruct(y, mask);
        }
        if mask.len() != r.vertex_map.len() {
            return Err(FlowError::InvalidArgument(format!(
                "mask has {} entries for a mesh of {} vertices",
                mask.len(),
                r.vertex_map.len()
            )));
        }
        let inner = self
            .inner
            .reconstruct(&r.restrict(y)?, &Mask::new(r.restrict(mask.observed())?))?;
        let fill = r.nearest.reconstruct(y, mask)?;
        let mean = r
            .vertex_map
            .iter()
            .zip(&fill.mean)
            .map(|(m, &f)| m.map_or(f, |i| inner.mean[i]))
            .collect();
        let std = inner.std.map(|s| {
            let widest = s.iter().copied().fold(0.0f32, f32::max);
            r.vertex_map
                .iter()
                .map(|m| m.map_or(widest, |i| s[i]))
                .collect()
        });
        Ok(Reconstruction { mean, std })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classical::HarmonicFill;
    use meshflow_geometry::sphere::SphereGrid;
    use nalgebra::Point3;

    /// An icosphere with two extra vertices no face uses: the harmonic fill cannot be built on
    /// it, but on the repaired mesh it runs, and the wrapped result equals the fill on the clean
    /// icosphere, with the stray vertices filled from their nearest observed vertex.
    #[test]
    fn unused_vertices_are_filled_from_the_nearest_observed_vertex() {
        let clean = SphereGrid::icosphere(2).mesh().clone();
        let mut positions = clean.positions().to_vec();
        positions.push(Point3::new(0.0, 0.0, 1.05)); // beside a pole vertex
        positions.push(Point3::new(1.05, 0.0, 0.0));
        let scan = TriMesh::new(positions, clean.faces().to_vec()).unwrap();
        let v = clean.num_vertices();
        let x: Vec<f32> = scan.positions().iter().map(|p| p.z as f32).collect();
        let observed: Vec<bool> = (0..v + 2).map(|i| i % 3 != 0 && i < v).collect();
        let mask = Mask::new(observed.clone());
        assert!(HarmonicFill::new(&scan, 1e-3)
            .and_then(|h| h.reconstruct(&x, &mask))
            .is_err());

        let repair = MeshRepair::new(&scan);
        assert_eq!(repair.removed_vertices(), 2);
        assert_eq!(repair.mesh.num_vertices(), v);
        let h = HarmonicFill::new(&repair.mesh, 1e-3).unwrap();
        let wrapped = repair.wrap(h.clone());
        let got = wrapped.reconstruct(&x, &mask).unwrap();
        let expected = h
            .reconstruct(&x[..v], &Mask::new(observed[..v].to_vec()))
            .unwrap();
        assert_eq!(&got.mean[..v], &expected.mean[..]);
        let nearest = NearestFill::new(&scan).reconstruct(&x, &mask).unwrap();
        assert_eq!(&got.mean[v..], &nearest.mean[v..]);
        assert!(wrapped.reconstruct(&x[..v], &mask).is_err(), "wrong length");
    }
}

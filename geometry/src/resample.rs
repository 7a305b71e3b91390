//! Resampling vertex signals between discretisations, and projecting 2-D images onto meshes.
//!
//! A [`Resampler`] is a sparse linear map `R` (`V_target × V_source`, each row's weights sum
//! to 1) built once from the two point sets and applied to any number of signals. Three
//! schemes:
//! - [`Resampler::nearest`]: each target vertex copies its nearest source vertex;
//! - [`Resampler::inverse_distance`]: k nearest source vertices weighted by `1/d^power`
//!   (an exact hit copies that vertex);
//! - [`Resampler::barycentric`]: the target point is projected onto the closest triangle of the
//!   source mesh and takes the barycentric interpolation of its corners (exact for signals that
//!   are linear on each triangle).
//!
//! Distances are Euclidean in 3-D (chordal on the unit sphere, which orders neighbours exactly
//! as great-circle distance does).

use std::num::NonZeroUsize;

use kiddo::{ImmutableKdTree, SquaredEuclidean};
use nalgebra::{Point3, Vector3};
use sprs::{CsMat, TriMat};

use crate::error::{GeometryError, Result};
use crate::mesh::TriMesh;

/// A k-d tree over 3-D points for nearest-neighbour queries.
pub struct PointIndex {
    tree: ImmutableKdTree<f64, 3>,
    len: usize,
}

impl std::fmt::Debug for PointIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PointIndex")
            .field("len", &self.len)
            .finish()
    }
}

fn to_array(p: &Point3<f64>) -> [f64; 3] {
    [p.x, p.y, p.z]
}

impl PointIndex {
    /// Builds the index. Errors on an empty set or non-finite coordinates.
    pub fn new(points: &[Point3<f64>]) -> Result<Self> {
        if points.is_empty() {
            return Err(GeometryError::EmptyMesh("no points to index".into()));
        }
        if let Some(i) = points
            .iter()
            .position(|p| !p.coords.iter().all(|c| c.is_finite()))
        {
            return Err(GeometryError::NonFinite {
                what: "point",
                index: i,
            });
        }
        let coords: Vec<[f64; 3]> = points.iter().map(to_array).collect();
        let tree = ImmutableKdTree::new_from_slice(&coords)
            .map_err(|e| GeometryError::Numerical(format!("k-d tree construction: {e:?}")))?;
        Ok(Self {
            tree,
            len: points.len(),
        })
    }

    /// Number of indexed points.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: an index holds at least one point.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The nearest indexed point to `q`: `(index, squared distance)`.
    pub fn nearest(&self, q: &Point3<f64>) -> (usize, f64) {
        let r = self
            .tree
            .query(&to_array(q))
            .nearest_one::<SquaredEuclidean<f64>>()
            .execute();
        (r.item as usize, r.distance)
    }

    /// The `k` nearest indexed points to `q`, closest first: `(index, squared distance)`.
    /// Returns fewer when the index holds fewer than `k` points.
    pub fn nearest_k(&self, q: &Point3<f64>, k: usize) -> Vec<(usize, f64)> {
        let Some(k) = NonZeroUsize::new(k.min(self.len)) else {
            return Vec::new();
        };
        self.tree
            .query(&to_array(q))
            .nearest_n::<SquaredEuclidean<f64>>(k)
            .execute()
            .into_iter()
            .map(|r| (r.item as usize, r.distance))
            .collect()
    }

    /// Nearest indexed point of every query, in parallel: `[Q]` indices.
    pub fn nearest_batch(&self, queries: &[Point3<f64>]) -> Vec<usize> {
        let q: Vec<[f64; 3]> = queries.iter().map(to_array).collect();
        self.tree
            .query_batch(&q)
            .nearest_one::<SquaredEuclidean<f64>>()
            .execute()
            .into_iter()
            .map(|r| r.item as usize)
            .collect()
    }
}

/// A sparse linear resampling map from a source discretisation (`V_source` vertices) to a
/// target one (`V_target`). Rows sum to one, so constants are reproduced exactly.
#[derive(Debug, Clone)]
pub struct Resampler {
    weights: CsMat<f64>,
}

impl Resampler {
    /// Nearest-neighbour resampling.
    pub fn nearest(source: &[Point3<f64>], target: &[Point3<f64>]) -> Result<Self> {
        check_finite(target)?;
        let index = PointIndex::new(source)?;
        let nn = index.nearest_batch(target);
        let indptr: Vec<usize> = (0..=target.len()).collect();
        let weights = CsMat::new(
            (target.len(), source.len()),
            indptr,
            nn,
            vec![1.0; target.len()],
        );
        Ok(Self { weights })
    }

    /// Inverse-distance weighting over the `k` nearest source points with weights
    /// `1 / d^power` (`power` > 0, typically 2); a target that coincides with a source point
    /// (d < 1e-12) copies it.
    pub fn inverse_distance(
        source: &[Point3<f64>],
        target: &[Point3<f64>],
        k: usize,
        power: f64,
    ) -> Result<Self> {
        if k == 0 || !(power > 0.0 && power.is_finite()) {
            return Err(GeometryError::InvalidArgument(format!(
                "inverse-distance resampling needs k ≥ 1 and a positive power, got k = {k}, power = {power}"
            )));
        }
        check_finite(target)?;
        let index = PointIndex::new(source)?;
        let mut t = TriMat::with_capacity((target.len(), source.len()), target.len() * k);
        for (i, q) in target.iter().enumerate() {
            let nn = index.nearest_k(q, k);
            if nn[0].1.sqrt() < 1e-12 {
                t.add_triplet(i, nn[0].0, 1.0);
                continue;
            }
            let w: Vec<f64> = nn.iter().map(|&(_, d2)| d2.sqrt().powf(-power)).collect();
            let total: f64 = w.iter().sum();
            for (&(j, _), wj) in nn.iter().zip(&w) {
                t.add_triplet(i, j, wj / total);
            }
        }
        Ok(Self {
            weights: t.to_csr(),
        })
    }

    /// Barycentric interpolation on the source mesh's triangles. For each target point the
    /// closest point on the source surface is found among the faces incident to its
    /// `candidates` nearest source vertices (8 is plenty for reasonably shaped meshes), and
    /// the barycentric coordinates of that closest point become the weights.
    pub fn barycentric(source: &TriMesh, target: &[Point3<f64>]) -> Result<Self> {
        if source.num_faces() == 0 {
            return Err(GeometryError::EmptyMesh(
                "barycentric resampling needs a source mesh with faces".into(),
            ));
        }
        check_finite(target)?;
        let candidates = 8;
        let index = PointIndex::new(source.positions())?;
        let incident = vertex_faces(source);
        let mut t = TriMat::with_capacity((target.len(), source.num_vertices()), 3 * target.len());
        let mut faces: Vec<usize> = Vec::new();
        for (i, q) in target.iter().enumerate() {
            faces.clear();
            for (v, _) in index.nearest_k(q, candidates) {
                faces.extend_from_slice(&incident[v]);
            }
            faces.sort_unstable();
            faces.dedup();
            let best = faces
                .iter()
                .map(|&f| {
                    let bary = closest_point_barycentric(q, &source.face_corners(f));
                    let c = source.face_corners(f);
                    let p = c[0].coords * bary[0] + c[1].coords * bary[1] + c[2].coords * bary[2];
                    ((p - q.coords).norm_squared(), f, bary)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0));
            match best {
                Some((_, f, bary)) => {
                    for (v, w) in source.faces()[f].iter().zip(bary) {
                        if w != 0.0 {
                            t.add_triplet(i, *v, w);
                        }
                    }
                }
                None => {
                    // The nearest vertices are all isolated: fall back to the nearest vertex.
                    t.add_triplet(i, index.nearest(q).0, 1.0);
                }
            }
        }
        Ok(Self {
            weights: t.to_csr(),
        })
    }

    /// Number of source vertices.
    pub fn source_len(&self) -> usize {
        self.weights.cols()
    }

    /// Number of target vertices.
    pub fn target_len(&self) -> usize {
        self.weights.rows()
    }

    /// The weight matrix (`V_target × V_source`, CSR).
    pub fn weights(&self) -> &CsMat<f64> {
        &self.weights
    }

    /// Resamples a signal of `C` channels stored row-major as `[V_source × C]`, returning
    /// `[V_target × C]`.
    pub fn apply<T: Copy + Into<f64> + FromF64>(
        &self,
        values: &[T],
        channels: usize,
    ) -> Result<Vec<T>> {
        if channels == 0 || values.len() != self.source_len() * channels {
            return Err(GeometryError::ShapeMismatch {
                what: format!("signal to resample ({channels} channel(s))"),
                expected: self.source_len() * channels.max(1),
                got: values.len(),
            });
        }
        let mut out = Vec::with_capacity(self.target_len() * channels);
        for row in self.weights.outer_iterator() {
            for c in 0..channels {
                let v: f64 = row
                    .iter()
                    .map(|(j, w)| w * values[j * channels + c].into())
                    .sum();
                out.push(T::from_f64(v));
            }
        }
        Ok(out)
    }
}

/// Conversion from `f64` used by generic signal code (`f32` rounds, `f64` is the identity).
pub trait FromF64 {
    /// Converts from `f64`.
    fn from_f64(v: f64) -> Self;
}
impl FromF64 for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}
impl FromF64 for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
}

fn check_finite(points: &[Point3<f64>]) -> Result<()> {
    match points
        .iter()
        .position(|p| !p.coords.iter().all(|c| c.is_finite()))
    {
        Some(i) => Err(GeometryError::NonFinite {
            what: "target point",
            index: i,
        }),
        None => Ok(()),
    }
}

/// Faces incident to each vertex.
fn vertex_faces(mesh: &TriMesh) -> Vec<Vec<usize>> {
    let mut inc = vec![Vec::new(); mesh.num_vertices()];
    for (f, face) in mesh.faces().iter().enumerate() {
        for &v in face {
            inc[v].push(f);
        }
    }
    inc
}

/// Barycentric coordinates (non-negative, summing to 1) of the point of triangle `t` closest
/// to `p` (Ericson, *Real-Time Collision Detection*, §5.1.5).
fn closest_point_barycentric(p: &Point3<f64>, t: &[Point3<f64>; 3]) -> [f64; 3] {
    let (a, b, c) = (t[0], t[1], t[2]);
    let ab: Vector3<f64> = b - a;
    let ac = c - a;
    let ap = p - a;
    let d1 = ab.dot(&ap);
    let d2 = ac.dot(&ap);
    if d1 <= 0.0 && d2 <= 0.0 {
        return [1.0, 0.0, 0.0];
    }
    let bp = p - b;
    let d3 = ab.dot(&bp);
    let d4 = ac.dot(&bp);
    if d3 >= 0.0 && d4 <= d3 {
        return [0.0, 1.0, 0.0];
    }
    let vc = d1 * d4 - d3 * d2;
    if vc <= 0.0 && d1 >= 0.0 && d3 <= 0.0 {
        let v = d1 / (d1 - d3);
        return [1.0 - v, v, 0.0];
    }
    let cp = p - c;
    let d5 = ab.dot(&cp);
    let d6 = ac.dot(&cp);
    if d6 >= 0.0 && d5 <= d6 {
        return [0.0, 0.0, 1.0];
    }
    let vb = d5 * d2 - d1 * d6;
    if vb <= 0.0 && d2 >= 0.0 && d6 <= 0.0 {
        let w = d2 / (d2 - d6);
        return [1.0 - w, 0.0, w];
    }
    let va = d3 * d6 - d5 * d4;
    if va <= 0.0 && (d4 - d3) >= 0.0 && (d5 - d6) >= 0.0 {
        let w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
        return [0.0, 1.0 - w, w];
    }
    let denom = va + vb + vc;
    if denom.abs() < f64::MIN_POSITIVE {
        // Degenerate triangle: fall back to its first corner.
        return [1.0, 0.0, 0.0];
    }
    let v = vb / denom;
    let w = vc / denom;
    [1.0 - v - w, v, w]
}

/// How a 2-D image is laid onto a mesh by [`project_image`].
///
/// The projection is orthographic along `view_axis` (0 = x, 1 = y, 2 = z) looking from `+axis`
/// towards the mesh; image columns run along `right_axis` and image rows run *down* along
/// `−up_axis`. The image square is centred on the mesh's bounding-box centre and sized to
/// the larger of the two projected extents times `1 + 2·margin`. Every vertex takes the
/// bilinearly interpolated pixel value at its projected position (pixels outside the image read
/// as `background`). With `front_only`, vertices whose normal points away from the viewer
/// (normal · view direction ≤ 0) take `background` instead, so the image appears once, on the
/// visible side.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageProjection {
    /// Axis the viewer looks along (from +axis towards −axis).
    pub view_axis: usize,
    /// Axis that points up in the image.
    pub up_axis: usize,
    /// Fractional margin around the mesh's projected bounding box.
    pub margin: f64,
    /// Only vertices facing the viewer receive the image.
    pub front_only: bool,
    /// Value for vertices outside the image or facing away.
    pub background: f32,
}

impl Default for ImageProjection {
    /// Front view of a y-up mesh (the Stanford bunny's convention): look along −z from +z,
    /// x to the right, y up, 5 % margin, front-facing vertices only, background 0.
    fn default() -> Self {
        Self {
            view_axis: 2,
            up_axis: 1,
            margin: 0.05,
            front_only: true,
            background: 0.0,
        }
    }
}

/// Projects a row-major grey-scale image (`[height × width]`, row 0 at the top) onto the
/// vertices of `mesh` as described by [`ImageProjection`]. Returns `[V]` values.
pub fn project_image(
    mesh: &TriMesh,
    image: &[f32],
    width: usize,
    height: usize,
    projection: &ImageProjection,
) -> Result<Vec<f32>> {
    if width == 0 || height == 0 || image.len() != width * height {
        return Err(GeometryError::ShapeMismatch {
            what: format!("image of {width}×{height} pixels"),
            expected: width * height,
            got: image.len(),
        });
    }
    let (view, up) = (projection.view_axis, projection.up_axis);
    if view > 2 || up > 2 || view == up {
        return Err(GeometryError::InvalidArgument(format!(
            "image projection needs two different axes in 0..=2, got view {view}, up {up}"
        )));
    }
    let right = 3 - view - up;
    // Right-handed screen: right × up = towards the viewer (+view). Flip `right` otherwise.
    let mut e = [Vector3::zeros(); 3];
    for (k, ek) in e.iter_mut().enumerate() {
        ek[k] = 1.0;
    }
    let right_sign = if e[right].cross(&e[up]).dot(&e[view]) > 0.0 {
        1.0
    } else {
        -1.0
    };
    let (lo, hi) = mesh.bounding_box();
    let centre = nalgebra::center(&lo, &hi);
    let extent = (hi[right] - lo[right]).max(hi[up] - lo[up]) * (1.0 + 2.0 * projection.margin);
    let extent = if extent > 0.0 { extent } else { 1.0 };
    let normals = projection.front_only.then(|| mesh.vertex_normals());
    let sample = |x: f64, y: f64| -> f32 {
        // Pixel centres at integer + 0.5; bilinear with background outside.
        let px = |i: isize, j: isize| -> f32 {
            if i < 0 || j < 0 || i >= width as isize || j >= height as isize {
                projection.background
            } else {
                image[j as usize * width + i as usize]
            }
        };
        let (fx, fy) = (x - 0.5, y - 0.5);
        let (i0, j0) = (fx.floor() as isize, fy.floor() as isize);
        let (tx, ty) = ((fx - i0 as f64) as f32, (fy - j0 as f64) as f32);
        let top = px(i0, j0) * (1.0 - tx) + px(i0 + 1, j0) * tx;
        let bottom = px(i0, j0 + 1) * (1.0 - tx) + px(i0 + 1, j0 + 1) * tx;
        top * (1.0 - ty) + bottom * ty
    };
    Ok(mesh
        .positions()
        .iter()
        .enumerate()
        .map(|(v, p)| {
            if let Some(n) = &normals {
                if n[v][view] <= 0.0 {
                    return projection.background;
                }
            }
            let u = 0.5 + right_sign * (p[right] - centre[right]) / extent;
            let w = 0.5 - (p[up] - centre[up]) / extent;
            sample(u * width as f64, w * height as f64)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives;

    #[test]
    fn barycentric_is_exact_for_linear_signals() {
        let src = primitives::plane_grid(6, 6, 1.0, 1.0);
        let f = |p: &Point3<f64>| 1.0 + 2.0 * p.x - 0.5 * p.y;
        let values: Vec<f64> = src.positions().iter().map(f).collect();
        let targets: Vec<Point3<f64>> = (0..50)
            .map(|i| Point3::new((i as f64 * 0.137) % 1.0, (i as f64 * 0.291) % 1.0, 0.01))
            .collect();
        let r = Resampler::barycentric(&src, &targets).unwrap();
        let out = r.apply(&values, 1).unwrap();
        for (t, o) in targets.iter().zip(&out) {
            assert!((o - f(t)).abs() < 1e-12, "{o} vs {}", f(t));
        }
    }

    #[test]
    fn nearest_and_idw_reproduce_source_points_and_constants() {
        let src = primitives::torus(10, 6, 2.0, 0.5);
        let vals: Vec<f32> = (0..src.num_vertices()).map(|i| i as f32).collect();
        let r = Resampler::nearest(src.positions(), src.positions()).unwrap();
        assert_eq!(r.apply(&vals, 1).unwrap(), vals);
        let idw = Resampler::inverse_distance(src.positions(), src.positions(), 4, 2.0).unwrap();
        assert_eq!(idw.apply(&vals, 1).unwrap(), vals);
        let shifted: Vec<Point3<f64>> = src
            .positions()
            .iter()
            .map(|p| p + Vector3::new(0.01, 0.02, 0.0))
            .collect();
        let idw = Resampler::inverse_distance(src.positions(), &shifted, 4, 2.0).unwrap();
        let ones = vec![3.0f64; 2 * src.num_vertices()];
        assert!(idw
            .apply(&ones, 2)
            .unwrap()
            .iter()
            .all(|v| (v - 3.0).abs() < 1e-12));
        assert!(idw.apply(&ones[1..], 2).is_err());
    }

    #[test]
    fn image_projection_is_upright_and_front_only() {
        // A 4×4 image whose top-left quadrant is bright, projected onto a plane facing +z.
        let mut img = vec![0.0f32; 16];
        for j in 0..2 {
            for i in 0..2 {
                img[j * 4 + i] = 1.0;
            }
        }
        let plane = primitives::plane_grid(21, 21, 1.0, 1.0);
        let proj = ImageProjection {
            margin: 0.0,
            ..Default::default()
        };
        let v = project_image(&plane, &img, 4, 4, &proj).unwrap();
        let at = |x: f64, y: f64| {
            let i = plane
                .positions()
                .iter()
                .position(|p| (p.x - x).abs() < 1e-9 && (p.y - y).abs() < 1e-9)
                .unwrap();
            v[i]
        };
        assert_eq!(
            at(0.25, 0.75),
            1.0,
            "top-left of the image is top-left on the mesh"
        );
        assert_eq!(at(0.75, 0.25), 0.0);
        assert_eq!(at(0.75, 0.75), 0.0);
        // Seen from −z the plane faces away: everything is background.
        let back = ImageProjection {
            view_axis: 2,
            up_axis: 1,
            ..proj
        };
        let flipped = TriMesh::new(
            plane.positions().to_vec(),
            plane.faces().iter().map(|&[a, b, c]| [a, c, b]).collect(),
        )
        .unwrap();
        assert!(project_image(&flipped, &img, 4, 4, &back)
            .unwrap()
            .iter()
            .all(|&x| x == 0.0));
        assert!(project_image(&plane, &img, 3, 4, &proj).is_err());
    }
}

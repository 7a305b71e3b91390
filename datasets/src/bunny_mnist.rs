//! Bunny-MNIST: MNIST digits projected onto the Stanford bunny (or any mesh), one scalar field
//! per digit, as in the manifold experiments of *Amortized posterior sampling with diffusion
//! prior distillation* (Mammadov, Chung & Ye, 2024).
//!
//! # The protocol
//!
//! - **Mesh**: `bunny/bun_zipper_res3.ply` ([`BUNNY_RES3`]), read by [`load_mesh`] with every
//!   one of its [`BUNNY_RES3_VERTICES`] = 1889 vertices in file order, including the 2 that no
//!   face uses (the paper's fields are 1889-dimensional vectors). Any other mesh works the same.
//! - **Images**: `u8` arrays `[N, rows, cols]` (MNIST: `[N, 28, 28]`, row 0 at the top), read
//!   with [`crate::idx::read_mnist_images`]; a pixel `q` becomes the value `q / 255` in `[0, 1]`.
//! - **Mapping**: an [`ImagePlacement`] (for the bunny [`bunny_placement`]): an orthographic
//!   [`ImageProjection`] (see [`project_image`]) whose image square may be moved by whole
//!   pixels. Every vertex takes the image bilinearly interpolated at its image coordinates;
//!   vertices that face away from the viewer, and pixels outside the image, give the
//!   background. Exactly, for a vertex `p` with area-weighted unit normal `n`, the bounding box
//!   `[lo, hi]` of *all* vertices with centre `c = (lo + hi) / 2`, view axis `a`, up axis `b`,
//!   right axis `r` (the third axis, with sign `s = ±1` such that right × up points towards
//!   the viewer at `+a`), square side `e = max(hi_r − lo_r, hi_b − lo_b) · (1 + 2·margin)` and
//!   shift `(dx, dy) = (shift_right, shift_down)`:
//!
//!   ```text
//!   value(p) = background                           if front_only and n_a ≤ 0
//!            = bilinear(image / 255, x, y)          otherwise, with
//!   x = cols · (1/2 + s · (p_r − c_r) / e) − dx     (column coordinate; pixel j spans [j, j+1))
//!   y = rows · (1/2 − (p_b − c_b) / e) − dy         (row coordinate; row 0 at the top)
//!   ```
//!
//!   where `bilinear` interpolates between pixel centres `(j + ½, i + ½)` and reads pixels
//!   outside the image as `background`.
//!
//! The fields are stored `[N][V]` in `f32`. Nothing is random: the same files, index range,
//! mesh and placement always give bit-identical fields.
//!
//! ```no_run
//! use meshflow_datasets::bunny_mnist::{self, MeshImageDataset};
//! # fn main() -> meshflow_datasets::Result<()> {
//! let mesh = bunny_mnist::load_mesh("data/bunny/bun_zipper_res3.ply")?;
//! let data = MeshImageDataset::from_mnist(
//!     mesh,
//!     "data/mnist/t10k-images-idx3-ubyte.gz",
//!     Some("data/mnist/t10k-labels-idx1-ubyte.gz"),
//!     0..16,
//!     bunny_mnist::bunny_placement(),
//! )?;
//! assert_eq!(data.len(), 16);
//! assert_eq!(data.field(0).len(), 1889);
//! println!("first digit: {:?}", data.label(0));
//! # Ok(()) }
//! ```
//!
//! The example `bunny_mnist_render` draws the fields to a PNG for a check by eye.

use std::ops::{Bound, Range, RangeBounds};
use std::path::{Path, PathBuf};

use meshflow_geometry::resample::{project_image, ImageProjection};
use meshflow_geometry::{GeometryError, TriMesh};

use crate::idx::{read_mnist, read_mnist_images};
use crate::{DatasetError, NdArray, Result};

/// The paper's bunny, relative to the shared data root.
pub const BUNNY_RES3: &str = "bunny/bun_zipper_res3.ply";
/// Number of vertices of [`BUNNY_RES3`], all kept (2 of them belong to no face).
pub const BUNNY_RES3_VERTICES: usize = 1889;
/// MNIST test images (10000 × 28 × 28), relative to the shared data root.
pub const MNIST_TEST_IMAGES: &str = "mnist/t10k-images-idx3-ubyte.gz";
/// MNIST test labels, relative to the shared data root.
pub const MNIST_TEST_LABELS: &str = "mnist/t10k-labels-idx1-ubyte.gz";
/// MNIST training images (60000 × 28 × 28), relative to the shared data root.
pub const MNIST_TRAIN_IMAGES: &str = "mnist/train-images-idx3-ubyte.gz";
/// MNIST training labels, relative to the shared data root.
pub const MNIST_TRAIN_LABELS: &str = "mnist/train-labels-idx1-ubyte.gz";

/// How an image is laid onto a mesh: an orthographic [`ImageProjection`] whose image square is
/// moved by whole pixels, `shift_right` along the image columns and `shift_down` along the
/// rows, before the vertices sample it (see the [module docs](self) for the exact mapping).
/// Nothing is cropped: the whole image stays on the surface wherever the surface is.
///
/// A non-zero shift needs a square image. A plain [`ImageProjection`] converts into a placement
/// without shift.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImagePlacement {
    /// Orthographic view, image square size and background.
    pub projection: ImageProjection,
    /// Pixels the image moves to the right (negative: left).
    pub shift_right: i32,
    /// Pixels the image moves down (negative: up).
    pub shift_down: i32,
}

impl From<ImageProjection> for ImagePlacement {
    fn from(projection: ImageProjection) -> Self {
        Self {
            projection,
            shift_right: 0,
            shift_down: 0,
        }
    }
}

/// The placement of MNIST digits on the Stanford bunny PLYs (Bunny-MNIST's default).
///
/// The PLYs are y-up; seen from `+z` (x to the right) the bunny shows its whole left flank in
/// profile, head and ears towards `−x`, tail towards `+x`: the largest silhouette, so the view
/// is along `z` with `y` up, front-facing vertices only, background 0. The bounding-box centre
/// lies above the body (the ears are tall), so the image square, 80 % of the bunny's larger
/// extent (`margin = −0.1`), is moved 4 pixels down and 1 right: then a 28 × 28 MNIST digit
/// covers the flank and haunch. On the first 1000 test digits 94 % of the ink lands on
/// visible triangles (77 % without the shift; larger squares push strokes onto the ears and
/// off the back, smaller ones make strokes one vertex wide).
pub fn bunny_placement() -> ImagePlacement {
    ImagePlacement {
        projection: ImageProjection {
            view_axis: 2,
            up_axis: 1,
            margin: -0.1,
            front_only: true,
            background: 0.0,
        },
        shift_right: 1,
        shift_down: 4,
    }
}

/// Converts a geometry error about `path` (or `<memory>`) into a dataset error.
fn geometry_error(path: &Path, location: &str, e: GeometryError) -> DatasetError {
    match e {
        GeometryError::Io { path, source } => DatasetError::Io { path, source },
        GeometryError::Parse {
            path,
            location,
            message,
        } => DatasetError::Format {
            path,
            location,
            message,
        },
        GeometryError::UnsupportedFormat { path } => DatasetError::Unsupported {
            path,
            location: "file name".into(),
            feature: "mesh format (meshflow reads .obj and .ply)".into(),
        },
        other => DatasetError::Format {
            path: path.to_path_buf(),
            location: location.into(),
            message: other.to_string(),
        },
    }
}

fn memory() -> PathBuf {
    PathBuf::from("<memory>")
}

/// Reads a mesh (`.ply` or `.obj`) keeping every vertex in file order, including vertices no
/// face uses, so that fields on it have exactly as many values as the file has vertices.
///
/// # Errors
/// A missing or unreadable file, an unknown extension, a malformed file, or a mesh without
/// faces (nothing to project an image onto).
pub fn load_mesh(path: impl AsRef<Path>) -> Result<TriMesh> {
    let path = path.as_ref();
    let loaded =
        meshflow_geometry::io::load_mesh(path).map_err(|e| geometry_error(path, "mesh", e))?;
    if loaded.mesh.num_faces() == 0 {
        return Err(DatasetError::Format {
            path: path.to_path_buf(),
            location: "faces".into(),
            message: "the mesh has no faces: images can only be projected onto a surface".into(),
        });
    }
    Ok(loaded.mesh)
}

fn check_placement(placement: &ImagePlacement) -> Result<()> {
    let p = &placement.projection;
    let bad = |message: String| DatasetError::Format {
        path: memory(),
        location: "image placement".into(),
        message,
    };
    if p.view_axis > 2 || p.up_axis > 2 || p.view_axis == p.up_axis {
        return Err(bad(format!(
            "view_axis and up_axis must be two different axes in 0..=2 (0 = x, 1 = y, 2 = z), got {} and {}",
            p.view_axis, p.up_axis
        )));
    }
    if !(p.margin.is_finite() && p.margin > -0.5) {
        return Err(bad(format!(
            "margin must be a finite number > -0.5 (the image side is (1 + 2·margin) times the mesh extent), got {}",
            p.margin
        )));
    }
    if !p.background.is_finite() {
        return Err(bad(format!(
            "background must be finite, got {}",
            p.background
        )));
    }
    if placement.shift_right.unsigned_abs() > 1 << 16
        || placement.shift_down.unsigned_abs() > 1 << 16
    {
        return Err(bad(format!(
            "shifts of more than 65536 pixels are not supported, got right {} and down {}",
            placement.shift_right, placement.shift_down
        )));
    }
    Ok(())
}

/// Projects one `u8` grey-scale image (`[rows × cols]`, row-major, row 0 at the top) onto the
/// vertices of `mesh`: `[V]` values `pixel / 255` mapped as the [module docs](self) describe.
///
/// # Errors
/// An image whose length is not `rows · cols` (or with a zero side), or an invalid placement.
pub fn project_u8_image(
    mesh: &TriMesh,
    image: &[u8],
    rows: usize,
    cols: usize,
    placement: &ImagePlacement,
) -> Result<Vec<f32>> {
    check_placement(placement)?;
    if rows == 0 || cols == 0 || image.len() != rows * cols {
        return Err(DatasetError::Format {
            path: memory(),
            location: "image".into(),
            message: format!(
                "a {rows} × {cols} image needs {} pixels, got {} (rows and cols must be positive)",
                rows * cols,
                image.len()
            ),
        });
    }
    let p = placement.projection;
    let (dx, dy) = (placement.shift_right, placement.shift_down);
    if dx == 0 && dy == 0 {
        let pixels: Vec<f32> = image.iter().map(|&q| f32::from(q) / 255.0).collect();
        return project_image(mesh, &pixels, cols, rows, &p)
            .map_err(|e| geometry_error(&memory(), "image projection", e));
    }
    if rows != cols {
        // The canvas below grows by 2·pad on every side, which would change the aspect ratio
        // of a non-square image (the projection maps any image onto a square).
        return Err(DatasetError::Format {
            path: memory(),
            location: "image placement".into(),
            message: format!(
                "a shifted placement needs a square image, got {rows} × {cols}; use shift 0"
            ),
        });
    }
    // A shift is a wider canvas filled with the background: `pad` pixels on every side, the
    // image moved by (dx, dy) inside it, and the square enlarged by the same factor so that
    // pixels keep their size on the surface: (1 + 2 m') · cols = (1 + 2 m) · C with C the
    // canvas side.
    // Then canvas coordinate X = C/2 + cols·s(p_r − c_r)/e and image column x = X − pad − dx,
    // which is the documented mapping.
    let pad = dx.unsigned_abs().max(dy.unsigned_abs()) as usize;
    let (crow, ccol) = (rows + 2 * pad, cols + 2 * pad);
    let mut canvas = vec![p.background; crow * ccol];
    let (top, left) = (
        (pad as i64 + i64::from(dy)) as usize,
        (pad as i64 + i64::from(dx)) as usize,
    );
    for (i, row) in image.chunks_exact(cols).enumerate() {
        let start = (top + i) * ccol + left;
        for (c, &q) in canvas[start..start + cols].iter_mut().zip(row) {
            *c = f32::from(q) / 255.0;
        }
    }
    let factor = ccol as f64 / cols as f64;
    let shifted = ImageProjection {
        margin: ((1.0 + 2.0 * p.margin) * factor - 1.0) / 2.0,
        ..p
    };
    project_image(mesh, &canvas, ccol, crow, &shifted)
        .map_err(|e| geometry_error(&memory(), "image projection", e))
}

/// Resolves `range` against `n` items, with a clear error when it does not fit.
fn resolve_range(range: impl RangeBounds<usize>, n: usize, path: &Path) -> Result<Range<usize>> {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e.saturating_add(1),
        Bound::Excluded(&e) => e,
        Bound::Unbounded => n,
    };
    if start > end || end > n {
        return Err(DatasetError::Format {
            path: path.to_path_buf(),
            location: "image indices".into(),
            message: format!(
                "index range {start}..{end} does not fit the {n} images in the file (valid: a..b with a ≤ b ≤ {n})"
            ),
        });
    }
    Ok(start..end)
}

/// Scalar fields on a mesh made by projecting grey-scale images onto it (Bunny-MNIST when the
/// mesh is [`BUNNY_RES3`], the images MNIST and the placement [`bunny_placement`]), with their
/// labels when known.
#[derive(Debug, Clone)]
pub struct MeshImageDataset {
    mesh: TriMesh,
    placement: ImagePlacement,
    image_shape: [usize; 2],
    indices: Range<usize>,
    fields: Vec<Vec<f32>>,
    labels: Option<Vec<u8>>,
}

impl MeshImageDataset {
    /// Projects images `range` (indices into the file, e.g. `0..16` or `..`) of an MNIST IDX
    /// image file (raw or gzip) onto `mesh`. With `labels_path`, the label file is read too and
    /// must hold one digit per image.
    ///
    /// # Errors
    /// Unreadable or malformed files, a label count that differs from the image count, a
    /// range beyond the file's images, or an invalid placement.
    pub fn from_mnist(
        mesh: TriMesh,
        images_path: impl AsRef<Path>,
        labels_path: Option<impl AsRef<Path>>,
        range: impl RangeBounds<usize>,
        placement: impl Into<ImagePlacement>,
    ) -> Result<Self> {
        let images_path = images_path.as_ref();
        let placement = placement.into();
        check_placement(&placement)?;
        let (images, labels) = match labels_path {
            Some(lp) => {
                let (im, lb) = read_mnist(images_path, lp)?;
                (im, Some(lb.data))
            }
            None => (read_mnist_images(images_path)?, None),
        };
        Self::build(
            mesh,
            &images,
            labels.as_deref(),
            range,
            placement,
            images_path,
        )
    }

    /// Projects images `range` of an in-memory `u8` array `[N, rows, cols]` onto `mesh`;
    /// `labels`, when given, holds one label per image (`[N]`).
    ///
    /// # Errors
    /// An array that is not `[N, rows, cols]` with positive sides, a label count other than
    /// `N`, a range beyond `N`, or an invalid placement.
    pub fn from_images(
        mesh: TriMesh,
        images: &NdArray<u8>,
        labels: Option<&[u8]>,
        range: impl RangeBounds<usize>,
        placement: impl Into<ImagePlacement>,
    ) -> Result<Self> {
        Self::build(mesh, images, labels, range, placement.into(), &memory())
    }

    fn build(
        mesh: TriMesh,
        images: &NdArray<u8>,
        labels: Option<&[u8]>,
        range: impl RangeBounds<usize>,
        placement: ImagePlacement,
        path: &Path,
    ) -> Result<Self> {
        check_placement(&placement)?;
        let &[n, rows, cols] = images.shape.as_slice() else {
            return Err(DatasetError::Format {
                path: path.to_path_buf(),
                location: "images".into(),
                message: format!(
                    "expected images of shape [N, rows, cols] (MNIST: [N, 28, 28]), got shape {:?}",
                    images.shape
                ),
            });
        };
        if rows == 0 || cols == 0 || images.data.len() != n * rows * cols {
            return Err(DatasetError::Format {
                path: path.to_path_buf(),
                location: "images".into(),
                message: format!(
                    "images of shape {:?} must have positive rows and cols and {} pixels, got {}",
                    images.shape,
                    n * rows * cols,
                    images.data.len()
                ),
            });
        }
        if let Some(l) = labels {
            if l.len() != n {
                return Err(DatasetError::Format {
                    path: path.to_path_buf(),
                    location: "labels".into(),
                    message: format!("{} labels for {n} images", l.len()),
                });
            }
        }
        let indices = resolve_range(range, n, path)?;
        let size = rows * cols;
        let fields = indices
            .clone()
            .map(|i| {
                project_u8_image(
                    &mesh,
                    &images.data[i * size..(i + 1) * size],
                    rows,
                    cols,
                    &placement,
                )
                .map_err(|e| match e {
                    DatasetError::Format { message, .. } => DatasetError::Format {
                        path: path.to_path_buf(),
                        location: format!("image {i}"),
                        message,
                    },
                    other => other,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            mesh,
            placement,
            image_shape: [rows, cols],
            labels: labels.map(|l| l[indices.clone()].to_vec()),
            indices,
            fields,
        })
    }

    /// Number of fields `N`.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when the dataset holds no field (an empty index range).
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Field `i` (`0 ≤ i < len`), `[V]` values in `[0, 1]` (or the background). Panics when `i`
    /// is out of range, as slice indexing does.
    pub fn field(&self, i: usize) -> &[f32] {
        &self.fields[i]
    }

    /// All fields, `[N][V]`.
    pub fn fields(&self) -> &[Vec<f32>] {
        &self.fields
    }

    /// All fields as one row-major array of shape `[N, V]`.
    pub fn to_ndarray(&self) -> NdArray<f32> {
        NdArray {
            shape: vec![self.len(), self.mesh.num_vertices()],
            data: self.fields.concat(),
        }
    }

    /// The labels `[N]`, when a label file was given.
    pub fn labels(&self) -> Option<&[u8]> {
        self.labels.as_deref()
    }

    /// The label of field `i`, when labels are known and `i < len`.
    pub fn label(&self, i: usize) -> Option<u8> {
        self.labels.as_ref().and_then(|l| l.get(i).copied())
    }

    /// The mesh the fields live on (`V` vertices).
    pub fn mesh(&self) -> &TriMesh {
        &self.mesh
    }

    /// The placement used.
    pub fn placement(&self) -> &ImagePlacement {
        &self.placement
    }

    /// The image size `[rows, cols]` of the source images.
    pub fn image_shape(&self) -> [usize; 2] {
        self.image_shape
    }

    /// Indices into the source file of the projected images: field `i` is image
    /// `source_indices().start + i`.
    pub fn source_indices(&self) -> Range<usize> {
        self.indices.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::data_file;
    use meshflow_geometry::primitives;

    /// The res3 bunny and the MNIST test images/labels, or `None` (skip) without shared data.
    fn res3_and_mnist() -> Option<(TriMesh, PathBuf, PathBuf)> {
        let mesh = data_file(BUNNY_RES3)?;
        let images = data_file(MNIST_TEST_IMAGES)?;
        let labels = data_file(MNIST_TEST_LABELS)?;
        Some((load_mesh(mesh).unwrap(), images, labels))
    }

    /// Pearson correlation.
    fn correlation(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = a.iter().map(|x| (x - ma) * (x - ma)).sum();
        let vb: f64 = b.iter().map(|y| (y - mb) * (y - mb)).sum();
        cov / (va * vb).sqrt()
    }

    /// The documented image coordinates `(x, y)` (column, row) of every vertex for a
    /// `rows × cols` image, written out from the module docs for the bunny's view (along z,
    /// y up, so the right axis is +x with s = +1), independently of `project_u8_image`.
    fn image_coords(
        mesh: &TriMesh,
        pl: &ImagePlacement,
        rows: usize,
        cols: usize,
    ) -> Vec<(f64, f64)> {
        let p = &pl.projection;
        assert_eq!(
            (p.view_axis, p.up_axis),
            (2, 1),
            "written for the bunny's view"
        );
        let (lo, hi) = mesh.bounding_box();
        let (cx, cy) = ((lo.x + hi.x) / 2.0, (lo.y + hi.y) / 2.0);
        let e = (hi.x - lo.x).max(hi.y - lo.y) * (1.0 + 2.0 * p.margin);
        mesh.positions()
            .iter()
            .map(|q| {
                (
                    cols as f64 * (0.5 + (q.x - cx) / e) - f64::from(pl.shift_right),
                    rows as f64 * (0.5 - (q.y - cy) / e) - f64::from(pl.shift_down),
                )
            })
            .collect()
    }

    /// Reads a field back into image space: every front-facing vertex lands in the pixel
    /// containing its documented image coordinates; a pixel's value is the mean of the
    /// vertices in it (`None` where no vertex landed).
    fn back_project(
        mesh: &TriMesh,
        field: &[f32],
        pl: &ImagePlacement,
        rows: usize,
        cols: usize,
    ) -> Vec<Option<f64>> {
        let normals = mesh.vertex_normals();
        let mut sum = vec![(0.0, 0usize); rows * cols];
        for (v, (x, y)) in image_coords(mesh, pl, rows, cols).into_iter().enumerate() {
            if normals[v].z > 0.0 && x >= 0.0 && y >= 0.0 && x < cols as f64 && y < rows as f64 {
                let s = &mut sum[y as usize * cols + x as usize];
                s.0 += f64::from(field[v]);
                s.1 += 1;
            }
        }
        sum.into_iter()
            .map(|(s, k)| (k > 0).then(|| s / k as f64))
            .collect()
    }

    /// Pixels whose centre falls on a front-facing triangle: the part of the image that lands
    /// on the visible surface.
    fn front_silhouette(
        mesh: &TriMesh,
        pl: &ImagePlacement,
        rows: usize,
        cols: usize,
    ) -> Vec<bool> {
        let px = image_coords(mesh, pl, rows, cols);
        let cross = |o: (f64, f64), s: (f64, f64), t: (f64, f64)| {
            (s.0 - o.0) * (t.1 - o.1) - (s.1 - o.1) * (t.0 - o.0)
        };
        let mut on = vec![false; rows * cols];
        for (f, &[a, b, c]) in mesh.faces().iter().enumerate() {
            if mesh.face_normal_scaled(f).z <= 0.0 {
                continue;
            }
            for j in 0..rows {
                for i in 0..cols {
                    let q = (i as f64 + 0.5, j as f64 + 0.5);
                    let e = [
                        cross(px[a], px[b], q),
                        cross(px[b], px[c], q),
                        cross(px[c], px[a], q),
                    ];
                    if e.iter().all(|&x| x >= 0.0) || e.iter().all(|&x| x <= 0.0) {
                        on[j * cols + i] = true;
                    }
                }
            }
        }
        on
    }

    #[test]
    fn res3_first_16_test_digits_are_1889_dim_fields_in_unit_range() {
        let Some((mesh, images, labels)) = res3_and_mnist() else {
            return;
        };
        assert_eq!(mesh.num_vertices(), BUNNY_RES3_VERTICES);
        let p = bunny_placement();
        let d =
            MeshImageDataset::from_mnist(mesh.clone(), &images, Some(&labels), 0..16, p).unwrap();
        assert_eq!(d.len(), 16);
        assert_eq!(d.image_shape(), [28, 28]);
        assert_eq!(d.source_indices(), 0..16);
        assert_eq!(
            d.labels().unwrap(),
            [7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6, 9, 0, 1, 5]
        );
        for f in d.fields() {
            assert_eq!(f.len(), 1889);
            assert!(f.iter().all(|v| (0.0..=1.0).contains(v)));
            assert!(f.iter().any(|&v| v > 0.9), "ink reaches the surface");
        }
        // The 2 vertices no face uses have no normal: they count as facing away (value 0).
        let mut used = vec![false; mesh.num_vertices()];
        mesh.faces().iter().flatten().for_each(|&v| used[v] = true);
        let unused: Vec<usize> = (0..used.len()).filter(|&v| !used[v]).collect();
        assert_eq!(unused.len(), 2);
        assert!(d
            .fields()
            .iter()
            .all(|f| unused.iter().all(|&v| f[v] == 0.0)));
        // Reproducible: a second run gives bit-identical fields; a sub-range the same rows.
        let again =
            MeshImageDataset::from_mnist(mesh.clone(), &images, None::<&Path>, ..16, p).unwrap();
        assert_eq!(again.fields(), d.fields());
        assert!(again.labels().is_none());
        let tail = MeshImageDataset::from_mnist(mesh, &images, Some(&labels), 10..=15, p).unwrap();
        assert_eq!(tail.fields(), &d.fields()[10..16]);
        assert_eq!(tail.label(0), Some(0));
        let a = d.to_ndarray();
        assert_eq!(a.shape, [16, 1889]);
        assert_eq!(&a.data[1889..2 * 1889], d.field(1));
    }

    #[test]
    fn projected_digits_are_recognisable_from_the_front() {
        let Some((mesh, images, _)) = res3_and_mnist() else {
            return;
        };
        let p = bunny_placement();
        let n = 16;
        let d = MeshImageDataset::from_mnist(mesh.clone(), &images, None::<&Path>, ..n, p).unwrap();
        let raw = read_mnist_images(&images).unwrap();
        let img = |i: usize| -> Vec<f64> {
            raw.data[i * 784..(i + 1) * 784]
                .iter()
                .map(|&v| f64::from(v) / 255.0)
                .collect()
        };
        // 1. Read back from the front, each field matches its own image (correlation over the
        //    pixels that received vertices), and matches it better than any other of the 16:
        //    the digit can be identified from the surface alone.
        for i in 0..n {
            let back = back_project(&mesh, d.field(i), &p, 28, 28);
            let covered: Vec<usize> = (0..784).filter(|&k| back[k].is_some()).collect();
            assert!(
                covered.len() > 300,
                "the bunny covers {} pixels",
                covered.len()
            );
            let b: Vec<f64> = covered.iter().map(|&k| back[k].unwrap()).collect();
            let corr: Vec<f64> = (0..n)
                .map(|j| {
                    let im = img(j);
                    correlation(&b, &covered.iter().map(|&k| im[k]).collect::<Vec<_>>())
                })
                .collect();
            assert!(corr[i] > 0.9, "digit {i}: correlation {:.3}", corr[i]);
            let best = (0..n).max_by(|&a, &b| corr[a].total_cmp(&corr[b])).unwrap();
            assert_eq!(best, i, "digit {i} is read back as image {best}: {corr:?}");
        }
        // 2. The digit lands on the visible surface: over the first 1000 test digits, at least
        //    90 % of the ink falls on pixels covered by front-facing triangles, and at least
        //    60 % for every single digit.
        let on = front_silhouette(&mesh, &p, 28, 28);
        let (mut total, mut inside, mut worst) = (0.0, 0.0, 1.0f64);
        for i in 0..1000 {
            let im = &raw.data[i * 784..(i + 1) * 784];
            let t: f64 = im.iter().map(|&v| f64::from(v)).sum();
            let s: f64 = im
                .iter()
                .zip(&on)
                .filter(|(_, &o)| o)
                .map(|(&v, _)| f64::from(v))
                .sum();
            (total, inside, worst) = (total + t, inside + s, worst.min(s / t));
        }
        assert!(
            inside / total > 0.9 && worst > 0.6,
            "ink on the surface: {:.3} overall, worst digit {worst:.3}",
            inside / total
        );
        // 3. The front vertex nearest the image centre takes the bilinear value there.
        let normals = mesh.vertex_normals();
        let coords = image_coords(&mesh, &p, 28, 28);
        let centre_v = (0..mesh.num_vertices())
            .filter(|&v| normals[v].z > 0.0)
            .min_by(|&a, &b| {
                let r = |v: usize| (coords[v].0 - 14.0).hypot(coords[v].1 - 14.0);
                r(a).total_cmp(&r(b))
            })
            .unwrap();
        let (x, y) = (coords[centre_v].0 - 0.5, coords[centre_v].1 - 0.5);
        assert!(
            (x - 13.5).hypot(y - 13.5) < 1.0,
            "a vertex within a pixel of the centre"
        );
        let (i0, j0) = (x.floor() as usize, y.floor() as usize);
        let (tx, ty) = (x - i0 as f64, y - j0 as f64);
        for i in 0..n {
            let im = img(i);
            let at = |i: usize, j: usize| im[j * 28 + i];
            let expected = (at(i0, j0) * (1.0 - tx) + at(i0 + 1, j0) * tx) * (1.0 - ty)
                + (at(i0, j0 + 1) * (1.0 - tx) + at(i0 + 1, j0 + 1) * tx) * ty;
            let got = f64::from(d.field(i)[centre_v]);
            assert!(
                (got - expected).abs() < 1e-5,
                "image {i}: {got} vs {expected}"
            );
        }
        // 4. The amount of ink on the surface follows the amount in the image (over the
        //    covered pixels).
        let ink_image: Vec<f64> = (0..n)
            .map(|i| {
                img(i)
                    .iter()
                    .zip(&on)
                    .filter(|(_, &o)| o)
                    .map(|(v, _)| v)
                    .sum()
            })
            .collect();
        let ink_field: Vec<f64> = (0..n)
            .map(|i| d.field(i).iter().map(|&v| f64::from(v)).sum())
            .collect();
        let r = correlation(&ink_image, &ink_field);
        assert!(r > 0.9, "ink correlation {r:.3}");
        // 5. Different digits give clearly different fields: a 1 and a 0 (images 2 and 3)
        //    differ by more than half the norm of the larger field.
        let norm = |f: &[f32]| f.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
        let diff: Vec<f32> = d
            .field(2)
            .iter()
            .zip(d.field(3))
            .map(|(a, b)| a - b)
            .collect();
        assert!(norm(&diff) > 0.5 * norm(d.field(2)).max(norm(d.field(3))));
    }

    #[test]
    fn image_orientation_and_shift_on_the_bunny() {
        let Some(path) = data_file(BUNNY_RES3) else {
            return;
        };
        let mesh = load_mesh(path).unwrap();
        let normals = mesh.vertex_normals();
        // Left half white, top half white.
        let mut left = [0u8; 784];
        let mut top = [0u8; 784];
        for j in 0..28 {
            for i in 0..28 {
                left[j * 28 + i] = if i < 14 { 255 } else { 0 };
                top[j * 28 + i] = if j < 14 { 255 } else { 0 };
            }
        }
        let images = NdArray::new(vec![2, 28, 28], [left, top].concat()).unwrap();
        let unshifted = ImagePlacement::from(bunny_placement().projection);
        for p in [bunny_placement(), unshifted] {
            let d = MeshImageDataset::from_images(mesh.clone(), &images, None, .., p).unwrap();
            // One pixel of slack for the bilinear blend at the image's edges and middle.
            let inside = |a: f64| (1.0..27.0).contains(&a);
            let outside = |a: f64| !(-1.0..29.0).contains(&a);
            let (mut lit, mut dark) = (0, 0);
            for (v, (x, y)) in image_coords(&mesh, &p, 28, 28).into_iter().enumerate() {
                let (l, t) = (d.field(0)[v], d.field(1)[v]);
                if normals[v].z <= 0.0 || outside(x) || outside(y) {
                    assert_eq!(
                        (l, t),
                        (0.0, 0.0),
                        "vertex {v} faces away or is off the image"
                    );
                } else if inside(x) && inside(y) {
                    if (x - 14.0).abs() > 1.0 {
                        // Image left (column < 14) is the bunny's −x (head) side.
                        assert_eq!(l, if x < 14.0 { 1.0 } else { 0.0 }, "vertex {v}");
                        (lit, dark) = if x < 14.0 {
                            (lit + 1, dark)
                        } else {
                            (lit, dark + 1)
                        };
                    }
                    if (y - 14.0).abs() > 1.0 {
                        // Image top is the bunny's +y side.
                        assert_eq!(t, if y < 14.0 { 1.0 } else { 0.0 }, "vertex {v}");
                    }
                }
            }
            assert!(
                lit > 100 && dark > 100,
                "{lit} lit and {dark} dark vertices"
            );
        }
        // The shift moves the image right and down: with it, a pixel lands exactly where,
        // without it, the pixel (shift_right, shift_down) further right and down lands.
        let p = bunny_placement();
        let mut dot = [0u8; 784];
        dot[14 * 28 + 14] = 255;
        let mut moved = [0u8; 784];
        moved[(14 + p.shift_down as usize) * 28 + 14 + p.shift_right as usize] = 255;
        let a = project_u8_image(&mesh, &moved, 28, 28, &unshifted).unwrap();
        let b = project_u8_image(&mesh, &dot, 28, 28, &p).unwrap();
        assert!(a.iter().any(|&v| v > 0.1));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
    }

    #[test]
    fn a_user_mesh_works_too() {
        let Some((res3, images, labels)) = res3_and_mnist() else {
            return;
        };
        let Some(res4) = data_file("bunny/bun_zipper_res4.ply") else {
            return;
        };
        let res4 = load_mesh(res4).unwrap();
        assert_eq!(res4.num_vertices(), 453);
        let p = bunny_placement();
        let d4 =
            MeshImageDataset::from_mnist(res4.clone(), &images, Some(&labels), 0..8, p).unwrap();
        assert_eq!(d4.len(), 8);
        assert_eq!(d4.mesh().num_vertices(), 453);
        assert!(d4
            .fields()
            .iter()
            .all(|f| f.len() == 453 && f.iter().all(|v| (0.0..=1.0).contains(v))));
        // The same digit on the two resolutions agrees: res4's vertices, looked up at the
        // nearest res3 vertex, correlate strongly.
        let d3 =
            MeshImageDataset::from_mnist(res3.clone(), &images, None::<&Path>, 0..8, p).unwrap();
        let index = meshflow_geometry::resample::PointIndex::new(res3.positions()).unwrap();
        let nearest: Vec<usize> = res4
            .positions()
            .iter()
            .map(|q| index.nearest(q).0)
            .collect();
        for i in 0..8 {
            let a: Vec<f64> = d4.field(i).iter().map(|&v| f64::from(v)).collect();
            let b: Vec<f64> = nearest.iter().map(|&v| f64::from(d3.field(i)[v])).collect();
            let r = correlation(&a, &b);
            assert!(r > 0.8, "digit {i}: res4 vs res3 correlation {r:.3}");
        }
    }

    #[test]
    fn bad_input_gives_clear_errors() {
        let mesh = primitives::plane_grid(8, 8, 1.0, 1.0);
        let p = bunny_placement();
        let msg = |r: Result<MeshImageDataset>| r.unwrap_err().to_string();
        // Wrong image shape.
        let flat = NdArray::new(vec![2, 784], vec![0u8; 2 * 784]).unwrap();
        let e = msg(MeshImageDataset::from_images(
            mesh.clone(),
            &flat,
            None,
            ..,
            p,
        ));
        assert!(
            e.contains("[N, rows, cols]") && e.contains("[2, 784]"),
            "{e}"
        );
        let empty = NdArray::new(vec![2, 0, 28], vec![]).unwrap();
        let e = msg(MeshImageDataset::from_images(
            mesh.clone(),
            &empty,
            None,
            ..,
            p,
        ));
        assert!(e.contains("positive rows and cols"), "{e}");
        let wide = NdArray::new(vec![1, 4, 6], vec![0u8; 24]).unwrap();
        let e = msg(MeshImageDataset::from_images(
            mesh.clone(),
            &wide,
            None,
            ..,
            p,
        ));
        assert!(e.contains("image 0") && e.contains("square"), "{e}");
        let proj = p.projection;
        assert_eq!(
            MeshImageDataset::from_images(mesh.clone(), &wide, None, .., proj)
                .unwrap()
                .len(),
            1,
            "without shift, any image shape works"
        );
        // Index range beyond N, and reversed.
        let three = NdArray::new(vec![3, 4, 4], vec![0u8; 48]).unwrap();
        let e = msg(MeshImageDataset::from_images(
            mesh.clone(),
            &three,
            None,
            2..5,
            p,
        ));
        assert!(e.contains("2..5") && e.contains("3 images"), "{e}");
        #[allow(clippy::reversed_empty_ranges)]
        let e = msg(MeshImageDataset::from_images(
            mesh.clone(),
            &three,
            None,
            2..1,
            p,
        ));
        assert!(e.contains("2..1"), "{e}");
        let none = MeshImageDataset::from_images(mesh.clone(), &three, None, 1..1, p).unwrap();
        assert!(none.is_empty());
        // Labels that do not match the images.
        let e = msg(MeshImageDataset::from_images(
            mesh.clone(),
            &three,
            Some(&[1, 2]),
            ..,
            p,
        ));
        assert!(e.contains("2 labels for 3 images"), "{e}");
        // Invalid placements.
        let same = ImageProjection { up_axis: 2, ..proj };
        let e = msg(MeshImageDataset::from_images(
            mesh.clone(),
            &three,
            None,
            ..,
            same,
        ));
        assert!(e.contains("view_axis and up_axis"), "{e}");
        let tiny = ImageProjection {
            margin: -0.5,
            ..proj
        };
        let e = msg(MeshImageDataset::from_images(
            mesh.clone(),
            &three,
            None,
            ..,
            tiny,
        ));
        assert!(e.contains("margin"), "{e}");
        let far = ImagePlacement {
            shift_down: i32::MIN,
            ..p
        };
        let e = msg(MeshImageDataset::from_images(
            mesh.clone(),
            &three,
            None,
            ..,
            far,
        ));
        assert!(e.contains("65536"), "{e}");
        assert!(project_u8_image(&mesh, &[0; 15], 4, 4, &p).is_err());
        // Missing files name the file.
        let missing = Path::new("/nonexistent/meshflow/t10k-images.gz");
        let e = msg(MeshImageDataset::from_mnist(
            mesh.clone(),
            missing,
            None::<&Path>,
            ..,
            p,
        ));
        assert!(e.contains("t10k-images.gz"), "{e}");
        let e = load_mesh("/nonexistent/bunny.ply").unwrap_err();
        assert!(
            matches!(e, DatasetError::Io { .. }) && e.to_string().contains("bunny.ply"),
            "{e}"
        );
        let e = load_mesh("bunny.stl").unwrap_err().to_string();
        assert!(e.contains("bunny.stl") && e.contains(".obj"), "{e}");
        // A point cloud cannot carry an image.
        let dir = std::env::temp_dir().join(format!("meshflow-bunny-mnist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cloud = dir.join("cloud.obj");
        std::fs::write(&cloud, "v 0 0 0\nv 1 0 0\nv 0 1 0\n").unwrap();
        let e = load_mesh(&cloud).unwrap_err().to_string();
        assert!(e.contains("no faces"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn index_range_beyond_the_mnist_file() {
        let Some((mesh, images, labels)) = res3_and_mnist() else {
            return;
        };
        let e = MeshImageDataset::from_mnist(
            mesh,
            &images,
            Some(&labels),
            9990..10001,
            bunny_placement(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("9990..10001") && e.contains("10000 images") && e.contains("t10k-images"),
            "{e}"
        );
    }
}

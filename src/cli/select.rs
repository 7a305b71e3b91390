//! Data selection shared by the training, imputation and denoising commands:
//! `--data FILE [--var NAME] [--fields A:B] [--regrid GRID]` for gridded fields, or
//! `--mesh FILE --images IDX [--fields A:B]` for images projected onto a mesh.
//!
//! A selection is saved (as [`SelectionArgs`] in JSON) beside every model, so a later command
//! can re-read the same fields and the same train/test split.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::builtin::{builtin_mesh, find_data_file, resolve_data_source};
use crate::datasets::bunny_mnist::{self, bunny_placement, MeshImageDataset};
use crate::datasets::field::{self, group_split, FieldRange, FieldSet};
use crate::geometry::mesh::TriMesh;
use crate::geometry::resample::Resampler;
use crate::geometry::signal::Normalisation;
use crate::geometry::sphere::{GridSpec, SphereGrid};

/// Which fields a command works on.
#[derive(Debug, Clone, Default, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct SelectionArgs {
    /// Gridded data: a GRIB 1/2, NetCDF-3/4 or NumPy .npz file on a latitude-longitude or
    /// Gaussian grid, or a built-in data set (`era5`: ERA5 t and z, 61x120, 80 fields each).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["mesh", "images"])]
    pub data: Option<String>,
    /// The variable to use (GRIB short name, NetCDF variable, NPZ key); needed when the file
    /// holds several (`meshflow info FILE` lists them).
    #[arg(long, value_name = "NAME", requires = "data")]
    pub var: Option<String>,
    /// The fields to use, a Python slice over the fields in file order (`0:40`, `-10:`,
    /// `::2`); all when absent. For images, the image indices.
    #[arg(long, value_name = "A:B", allow_hyphen_values = true)]
    pub fields: Option<String>,
    /// Resample the gridded fields onto another grid first (`latlon:31x60`, `gaussian:32x64`,
    /// `icosphere:4`), e.g. to train at a coarser resolution; barycentric interpolation.
    #[arg(long, value_name = "GRID", requires = "data")]
    pub regrid: Option<String>,
    /// A mesh (.ply, .obj, or the built-in `bunny`) to project images onto.
    #[arg(long, value_name = "FILE", requires = "images")]
    pub mesh: Option<String>,
    /// MNIST-style IDX images (`.gz` or raw) projected onto `--mesh` (values pixel / 255).
    #[arg(long, value_name = "IDX", requires = "mesh")]
    pub images: Option<PathBuf>,
}

/// What the fields live on.
#[derive(Debug, Clone)]
pub enum Domain {
    /// A sphere grid (the file's own, or the `--regrid` target).
    Grid {
        /// The grid the fields are on.
        grid: SphereGrid,
    },
    /// A mesh.
    Mesh {
        /// The mesh the fields are on.
        mesh: TriMesh,
    },
}

impl Domain {
    /// The triangulation.
    pub fn mesh(&self) -> &TriMesh {
        match self {
            Domain::Grid { grid } => grid.mesh(),
            Domain::Mesh { mesh } => mesh,
        }
    }

    /// Number of vertices `V`.
    pub fn num_vertices(&self) -> usize {
        self.mesh().num_vertices()
    }

    /// Area (quadrature) weights for metrics on a sphere grid, `None` on a mesh.
    pub fn area_weights(&self) -> Option<&[f64]> {
        match self {
            Domain::Grid { grid } => Some(grid.quadrature_weights()),
            Domain::Mesh { .. } => None,
        }
    }
}

/// The selected fields, in physical units and vertex order.
#[derive(Debug, Clone)]
pub struct Selected {
    /// What they live on.
    pub domain: Domain,
    /// `[F][V]`, NaN = missing.
    pub fields: Vec<Vec<f32>>,
    /// One label per field (time/level/member, or the image index).
    pub labels: Vec<String>,
    /// Fields with equal group share a time: they stay on one side of a split.
    pub groups: Vec<usize>,
    /// Variable name.
    pub name: String,
    /// Units, if known.
    pub units: Option<String>,
    /// CF standard name, if known.
    pub standard_name: Option<String>,
    /// Long name, if known.
    pub long_name: Option<String>,
    /// The normalisation the data imply (images: pixel / 255 is already in `[0, 1]`); `None`
    /// means fit min–max on the training fields.
    pub fixed_normalisation: Option<Normalisation>,
}

impl Selected {
    /// Splits the fields into `(train, test)` indices without leaking a time across sides.
    pub fn split(&self, test_fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
        group_split(&self.groups, test_fraction, seed)
            .map_err(|m| anyhow::anyhow!("cannot split the {} fields: {m}", self.fields.len()))
    }

    /// The normalisation to train with: the data's own convention, or min–max over the
    /// finite values of the `train` fields.
    pub fn normalisation(&self, train: &[usize]) -> Result<Normalisation> {
        if let Some(n) = self.fixed_normalisation {
            return Ok(n);
        }
        Normalisation::fit_min_max(train.iter().flat_map(|&i| self.fields[i].iter()))
            .context("fitting the min-max normalisation on the training fields")
    }
}

impl SelectionArgs {
    /// True when `self` and `other` select the same fields of the same files: equal options,
    /// with file paths compared after making them absolute (relative to the current
    /// directory), so `./a.nc` and `a.nc` match.
    pub fn selects_same_as(&self, other: &SelectionArgs) -> bool {
        fn abs<P: AsRef<Path>>(p: &Option<P>) -> Option<PathBuf> {
            p.as_ref().map(|p| {
                let p = p.as_ref();
                std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
            })
        }
        abs(&self.data) == abs(&other.data)
            && abs(&self.mesh) == abs(&other.mesh)
            && abs(&self.images) == abs(&other.images)
            && self.var == other.var
            && self.fields == other.fields
            && self.regrid == other.regrid
    }

    /// Reads the selected fields.
    pub fn load(&self) -> Result<Selected> {
        match (&self.data, &self.mesh, &self.images) {
            (Some(data), None, None) => self.load_grid(data),
            (None, Some(mesh), Some(images)) => self.load_images(mesh, images),
            (None, None, None) => bail!(
                "no data selected: give `--data FILE` (GRIB, NetCDF, NPZ) or \
                 `--mesh FILE --images IDX`"
            ),
            _ => bail!("give either `--data FILE` or both `--mesh FILE` and `--images IDX`"),
        }
    }

    fn range(&self) -> Result<Option<FieldRange>> {
        self.fields
            .as_deref()
            .map(|s| {
                s.parse::<FieldRange>()
                    .map_err(|e| anyhow::anyhow!("--fields `{s}`: {e}"))
            })
            .transpose()
    }

    fn load_grid(&self, data: &str) -> Result<Selected> {
        let source = resolve_data_source(data)?;
        let var = field::read_variable(source, self.var.as_deref())
            .with_context(|| format!("reading {data}"))?;
        for w in &var.warnings {
            eprintln!("warning: {w}");
        }
        let set = FieldSet::new(&var, self.range()?.as_ref())
            .with_context(|| format!("selecting fields of `{}` in {data}", var.name))?;
        let groups = set.labels.iter().map(|l| l.time_index).collect();
        let labels = set.labels.iter().map(label_text).collect();
        let (grid, fields) = match &self.regrid {
            None => (set.grid, set.fields),
            Some(spec) => regrid(&set.grid, &set.fields, spec)?,
        };
        Ok(Selected {
            domain: Domain::Grid { grid },
            fields,
            labels,
            groups,
            name: set.name,
            units: set.units,
            standard_name: set.standard_name,
            long_name: set.long_name,
            fixed_normalisation: None,
        })
    }

    fn load_images(&self, mesh: &str, images: &Path) -> Result<Selected> {
        let mesh = load_named_mesh(mesh)?;
        let images = &find_data_file(images).with_context(|| {
            format!(
                "no images at {} (nor under $MESHFLOW_DATA or the download folder); \
                 `meshflow fetch mnist` downloads MNIST",
                images.display()
            )
        })?;
        // The IDX file is read once: its image count resolves the slice, then the images
        // are projected.
        let pixels = crate::datasets::idx::read_mnist_images(images)
            .with_context(|| format!("reading {}", images.display()))?;
        let n = pixels.shape[0];
        let range = match self.range()? {
            None => 0..n,
            Some(r) => {
                let idx = r.resolve(n).map_err(|e| anyhow::anyhow!("--fields: {e}"))?;
                match (idx.first(), idx.last()) {
                    (Some(&a), Some(&b)) if b + 1 - a == idx.len() => a..b + 1,
                    _ => bail!("--fields must select a contiguous range of images (`A:B`)"),
                }
            }
        };
        let set =
            MeshImageDataset::from_images(mesh, &pixels, None, range.clone(), bunny_placement())
                .with_context(|| format!("projecting {} onto the mesh", images.display()))?;
        Ok(Selected {
            labels: range.clone().map(|i| format!("image {i}")).collect(),
            groups: range.collect(),
            fields: set.fields().to_vec(),
            domain: Domain::Mesh {
                mesh: set.mesh().clone(),
            },
            name: "intensity".into(),
            units: None,
            standard_name: None,
            long_name: Some("image intensity (pixel / 255)".into()),
            fixed_normalisation: Some(Normalisation::MinMax { min: 0.0, max: 1.0 }),
        })
    }
}

/// A mesh file, or a built-in mesh by name (`bunny`), keeping every vertex in file order.
pub fn load_named_mesh(name: &str) -> Result<TriMesh> {
    if let Some(m) = builtin_mesh(name) {
        return Ok(m?.mesh);
    }
    let path = find_data_file(name).unwrap_or_else(|| PathBuf::from(name));
    bunny_mnist::load_mesh(&path).with_context(|| format!("reading mesh {name}"))
}

fn label_text(l: &field::FieldLabel) -> String {
    let mut parts = Vec::new();
    if let Some(t) = &l.time {
        parts.push(t.clone());
    }
    if let Some(v) = l.level {
        parts.push(format!("level {v}"));
    }
    if let Some(m) = l.member {
        parts.push(format!("member {m}"));
    }
    if parts.is_empty() {
        parts.push(format!("time {}", l.time_index));
    }
    parts.join(", ")
}

fn regrid(
    source: &SphereGrid,
    fields: &[Vec<f32>],
    spec: &str,
) -> Result<(SphereGrid, Vec<Vec<f32>>)> {
    let spec: GridSpec = spec
        .parse()
        .map_err(|e| anyhow::anyhow!("--regrid `{spec}`: {e}"))?;
    let target = spec.build()?;
    let resampler = Resampler::barycentric(source.mesh(), target.mesh().positions())
        .context("building the regridding weights")?;
    let out = fields
        .iter()
        .map(|f| resampler.apply(f, 1))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((target, out))
}

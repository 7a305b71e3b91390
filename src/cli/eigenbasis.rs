//! The Laplace–Beltrami eigenbasis of a spectral denoiser, stored beside its checkpoints.
//!
//! A spectral network's weights are tied to its basis: the per-mode gains and the coefficient
//! MLP act on `Φᵀ M x`. Recomputing the basis when a run is loaded costs time (73 s for 256
//! modes at 8194 vertices) and is reproducible only up to rotations inside a degenerate
//! eigenspace (a sphere's `l(l+1)` has multiplicity `2l + 1`; which orthonormal basis of it
//! the solver returns depends on floating-point rounding, which may differ between CPUs). So
//! `denoise train` writes the basis it trained with to `DIR/eigenbasis.npz`, and `resume`,
//! `eval` and `apply` read it back whenever it was computed on the same mesh (same SHA-256 of
//! vertex positions and faces); runs without the file (written before it existed) get the
//! basis recomputed from the mesh, as before.
//!
//! `eigenbasis.npz`: `values` `[K]`, `vectors` `[K, V]` (row `i` is eigenvector `i`), `mass`
//! `[V]`, all float64, and `mesh_sha256` `[32]` uint8.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::datasets::npy::{read_npz, write_npz, NpyArray};
use crate::datasets::NdArray;
use crate::flows::prelude::*;
use crate::geometry::TriMesh;

/// The file in a run directory that holds its eigenbasis.
pub const BASIS_FILE: &str = "eigenbasis.npz";

/// SHA-256 of a mesh's vertex positions (float64, little-endian) and faces (uint64).
fn mesh_sha256(mesh: &TriMesh) -> Vec<u8> {
    let mut h = Sha256::new();
    for p in mesh.positions() {
        for c in [p.x, p.y, p.z] {
            h.update(c.to_le_bytes());
        }
    }
    for f in mesh.faces() {
        for &i in f {
            h.update((i as u64).to_le_bytes());
        }
    }
    h.finalize().to_vec()
}

/// Writes `basis`, computed on `mesh`, to `dir/eigenbasis.npz` (atomically).
pub fn save_basis(dir: &Path, basis: &SpectralBasis, mesh: &TriMesh) -> Result<()> {
    let (k, v) = (basis.len(), basis.num_vertices());
    let f64s = |shape: Vec<usize>, data: &[f64]| -> Result<NpyArray> {
        Ok(NpyArray::F64(NdArray::new(shape, data.to_vec())?))
    };
    let values = f64s(vec![k], &basis.values)?;
    let vectors = f64s(vec![k, v], &basis.vectors)?;
    let mass = f64s(vec![v], &basis.mass)?;
    let digest = NpyArray::U8(NdArray::new(vec![32], mesh_sha256(mesh))?);
    let path = dir.join(BASIS_FILE);
    write_npz(
        &path,
        &[
            ("values", &values),
            ("vectors", &vectors),
            ("mass", &mass),
            ("mesh_sha256", &digest),
        ],
    )
    .with_context(|| format!("writing {}", path.display()))
}

/// The basis stored in `dir/eigenbasis.npz` when the file exists, was computed on `mesh` and
/// has `modes` eigenpairs; `None` when there is no file or it belongs to another mesh (said on
/// stderr). A file that cannot be read or whose arrays do not fit together is an error.
fn read_basis(dir: &Path, modes: usize, mesh: &TriMesh) -> Result<Option<SpectralBasis>> {
    let path = dir.join(BASIS_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let what = || format!("{} (delete it to recompute the basis)", path.display());
    let npz = read_npz(&path).with_context(what)?;
    let array = |name: &str| npz.get(name).with_context(what);
    let same_mesh = match array("mesh_sha256")? {
        NpyArray::U8(a) => a.data == mesh_sha256(mesh),
        other => bail!("{}: mesh_sha256 is {}, not uint8", what(), other.dtype()),
    };
    if !same_mesh {
        eprintln!(
            "note: {} was computed on another mesh than this selection's; recomputing the basis",
            path.display()
        );
        return Ok(None);
    }
    let values = array("values")?.to_f64();
    let vectors = array("vectors")?.to_f64();
    let mass = array("mass")?.to_f64();
    let v = mesh.num_vertices();
    if values.shape != [modes] || vectors.shape != [modes, v] || mass.shape != [v] {
        bail!(
            "{}: values {:?}, vectors {:?} and mass {:?} do not hold {modes} eigenpairs on {v} \
             vertices",
            what(),
            values.shape,
            vectors.shape,
            mass.shape
        );
    }
    if [&values.data, &vectors.data, &mass.data]
        .iter()
        .any(|d| d.iter().any(|x| !x.is_finite()))
    {
        bail!("{}: non-finite values", what());
    }
    Ok(Some(SpectralBasis {
        values: values.data,
        vectors: vectors.data,
        mass: mass.data,
    }))
}

/// The eigenbasis of a spectral network on `mesh` (`None` for the MLP), computed, with its
/// cost on stderr.
pub fn compute_basis(config: &InverseFlowConfig, mesh: &TriMesh) -> Result<Option<SpectralBasis>> {
    let t0 = Instant::now();
    let basis = config
        .basis(mesh)
        .context("computing the Laplace-Beltrami eigenbasis of the spectral network")?;
    if let Some(b) = &basis {
        eprintln!(
            "spectral network: {} eigenmodes (lambda up to {:.1}) in {:.2} s",
            b.len(),
            b.values.last().copied().unwrap_or(0.0),
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(basis)
}

/// The basis a resumed run continues with: the one it trained with (`eigenbasis.npz`), or for
/// a run from before that file, the basis computed now and saved, so the rest of its training
/// keeps it.
pub fn resume_basis(
    dir: &Path,
    config: &InverseFlowConfig,
    mesh: &TriMesh,
) -> Result<Option<SpectralBasis>> {
    let Some(spectral) = &config.spectral else {
        return Ok(None);
    };
    if let Some(b) = read_basis(dir, spectral.modes, mesh)? {
        return Ok(Some(b));
    }
    let basis = compute_basis(config, mesh)?;
    if let Some(b) = &basis {
        save_basis(dir, b, mesh)?;
    }
    Ok(basis)
}

/// The eigenbases of spectral runs on one mesh: each run's stored one, or one computed basis
/// per number of modes for runs without a stored basis (`denoise eval` compares several runs
/// on the same mesh), with the seconds each computation took.
#[derive(Default)]
pub struct BasisCache {
    computed: Vec<(usize, SpectralBasis, f64)>,
    stored: Option<SpectralBasis>,
}

impl BasisCache {
    /// The basis the run in `dir` (configuration `config`) needs on `mesh` (`None` for the
    /// MLP) and, when it is a computed basis taken from the cache, the seconds computing it
    /// took (0 otherwise), so that every run is charged its own basis.
    pub fn get(
        &mut self,
        dir: &Path,
        config: &InverseFlowConfig,
        mesh: &TriMesh,
    ) -> Result<(Option<&SpectralBasis>, f64)> {
        let Some(modes) = config.spectral.as_ref().map(|s| s.modes) else {
            return Ok((None, 0.0));
        };
        if let Some(b) = read_basis(dir, modes, mesh)? {
            self.stored = Some(b);
            return Ok((self.stored.as_ref(), 0.0));
        }
        let (i, cached) = match self.computed.iter().position(|(k, _, _)| *k == modes) {
            Some(i) => (i, true),
            None => {
                let t0 = Instant::now();
                let basis = compute_basis(config, mesh)?.expect("a spectral configuration");
                let secs = t0.elapsed().as_secs_f64();
                self.computed.push((modes, basis, secs));
                (self.computed.len() - 1, false)
            }
        };
        let (_, basis, secs) = &self.computed[i];
        Ok((Some(basis), if cached { *secs } else { 0.0 }))
    }
}

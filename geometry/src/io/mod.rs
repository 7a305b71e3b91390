//! Reading and writing triangle meshes: Wavefront OBJ (read) and Stanford PLY (read and write).
//!
//! [`load_mesh`] picks the reader from the file extension and returns a [`LoadedMesh`]: the
//! [`TriMesh`] plus any extra per-vertex scalar values stored in the file (PLY properties such
//! as the Stanford scans' `confidence` and `intensity`, colours, normals, ...).
//!
//! ```no_run
//! use meshflow_geometry::io;
//! use std::path::Path;
//!
//! let loaded = io::load_mesh(Path::new("bun_zipper_res3.ply"))?;
//! println!("{} vertices, {} faces", loaded.mesh.num_vertices(), loaded.mesh.num_faces());
//! if let Some(confidence) = loaded.property("confidence") {
//!     println!("mean confidence {}", confidence.iter().sum::<f64>() / confidence.len() as f64);
//! }
//! io::write_ply(Path::new("copy.ply"), &loaded.mesh, &[], None)?;
//! # Ok::<(), meshflow_geometry::GeometryError>(())
//! ```
//!
//! Every parse error is a [`GeometryError::Parse`] naming the file and the place (`line 12`,
//! `vertex 37`, `face 12`, `header line 4`), so a user can find the problem in their own data.

mod obj;
mod ply;

pub use obj::{parse_obj, read_obj};
pub use ply::{parse_ply, read_ply, write_ply, write_ply_ascii};

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{GeometryError, Result};
use crate::mesh::TriMesh;

/// A mesh read from a file, with the per-vertex scalar properties found beside the positions.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedMesh {
    /// The triangle mesh (polygons are fan-triangulated; vertex order is the file's).
    pub mesh: TriMesh,
    /// Extra per-vertex scalar properties in file order, each `(name, values)` with one value
    /// per vertex: every PLY vertex property besides `x y z` (colours `red green blue` as the
    /// numbers stored, e.g. 0..255 for `uchar`), and OBJ vertex colours (`v x y z r g b`) as
    /// `red green blue` in the file's 0..1 scale.
    pub vertex_properties: Vec<(String, Vec<f64>)>,
}

impl LoadedMesh {
    /// The values of the vertex property called `name`, if the file had one.
    pub fn property(&self, name: &str) -> Option<&[f64]> {
        self.vertex_properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// Reads a mesh, choosing the reader from the extension (`.obj` or `.ply`, case-insensitive).
///
/// # Errors
/// [`GeometryError::UnsupportedFormat`] for any other extension, and whatever [`read_obj`] or
/// [`read_ply`] return.
pub fn load_mesh(path: &Path) -> Result<LoadedMesh> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("obj") => read_obj(path),
        Some("ply") => read_ply(path),
        _ => Err(GeometryError::UnsupportedFormat {
            path: path.to_path_buf(),
        }),
    }
}

/// Reads a whole file, mapping failures to [`GeometryError::Io`].
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| GeometryError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// A [`GeometryError::Parse`] for `path` at `location`.
pub(crate) fn parse_error(
    path: &Path,
    location: impl Into<String>,
    message: impl Into<String>,
) -> GeometryError {
    GeometryError::Parse {
        path: path.to_path_buf(),
        location: location.into(),
        message: message.into(),
    }
}

/// The directory of meshflow's test/benchmark data: `$MESHFLOW_DATA`, else `../shared/data`
/// beside the workspace. `None` when that directory does not exist.
pub fn shared_data_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("MESHFLOW_DATA") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("..")
            .join("shared")
            .join("data"),
    };
    dir.is_dir().then_some(dir)
}

/// For tests on the shared data: returns [`shared_data_dir`], or, when it is missing, panics if
/// the environment variable `CI` is set (so that CI cannot silently skip), and otherwise prints
/// `skipping: ...` and returns `None`.
#[doc(hidden)]
pub fn require_shared_data() -> Option<PathBuf> {
    if let Some(dir) = shared_data_dir() {
        return Some(dir);
    }
    let why = match std::env::var_os("MESHFLOW_DATA") {
        Some(d) if !d.is_empty() => {
            format!(
                "MESHFLOW_DATA={} is not a directory",
                Path::new(&d).display()
            )
        }
        _ => format!(
            "no shared data at {} (set MESHFLOW_DATA to the data directory)",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/data")
                .display()
        ),
    };
    if std::env::var_os("CI").is_some() {
        panic!("meshflow test data missing and CI is set, so this test fails instead of skipping: {why}");
    }
    eprintln!("skipping: {why}");
    None
}

/// Writes `bytes` to `path` atomically; see [`write_atomic_with`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |file| file.write_all(bytes))
}

/// Writes `path` atomically: `write` fills a uniquely named temporary file in the same
/// directory, which is flushed to disk and then renamed over `path`, so readers (and a crash
/// mid-write) never see a half-written file. The temporary file is removed on error.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);

    let io_err = |source| GeometryError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| {
        GeometryError::InvalidArgument(format!("{} is not a file path", path.display()))
    })?;
    let tmp = dir.join(format!(
        ".{}.{}-{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        write(&mut file)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_mesh_rejects_unknown_extensions() {
        for name in ["mesh.stl", "mesh", "mesh.obj.gz"] {
            let err = load_mesh(Path::new(name)).unwrap_err();
            assert!(
                matches!(err, GeometryError::UnsupportedFormat { .. }),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn load_mesh_dispatches_case_insensitively() {
        let dir = std::env::temp_dir().join(format!("meshflow-io-dispatch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let obj = dir.join("tri.OBJ");
        std::fs::write(&obj, "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n").unwrap();
        assert_eq!(load_mesh(&obj).unwrap().mesh.num_faces(), 1);
        let ply = dir.join("tri.Ply");
        let mesh = load_mesh(&obj).unwrap().mesh;
        write_ply(&ply, &mesh, &[], None).unwrap();
        assert_eq!(load_mesh(&ply).unwrap().mesh, mesh);
        // A missing file is an I/O error naming the file.
        let err = load_mesh(&dir.join("missing.ply")).unwrap_err();
        assert!(matches!(err, GeometryError::Io { .. }), "{err}");
        assert!(err.to_string().contains("missing.ply"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! Data compiled into the binary so the CLI works offline on a fresh clone.
//!
//! Meshes: `bunny`. Data files, usable wherever a data file is accepted
//! (`meshflow info era5`, `meshflow convert era5 t.nc --var t`): `era5`, `era5-2t` and `a1b`
//! ([`BUILTIN_DATA`]); see `data/README.md` for their provenance and licences.

use std::path::{Path, PathBuf};

use crate::datasets::field::DataSource;
use crate::geometry::{io::parse_obj, io::LoadedMesh, Result};

/// The Stanford bunny from the npm package `bunny` 1.0.1 (public domain; Stanford 3D Scanning
/// Repository, Turk & Levoy 1994): 1839 vertices, 3674 faces, closed, genus 0.
pub const BUNNY_NPM_OBJ: &str = include_str!("../data/bunny_npm.obj");

/// Names of the built-in meshes accepted wherever a mesh file is.
pub const BUILTIN_MESHES: &[&str] = &["bunny"];

/// Loads a built-in mesh by name (`bunny`), or `None` for an unknown name.
pub fn builtin_mesh(name: &str) -> Option<Result<LoadedMesh>> {
    match name {
        "bunny" => Some(parse_obj(
            BUNNY_NPM_OBJ.as_bytes(),
            Path::new("<builtin bunny>"),
        )),
        _ => None,
    }
}

/// A data file compiled into the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinData {
    /// The name that stands for it wherever a data file is accepted (`era5`).
    pub name: &'static str,
    /// The original file name (`era5-levels-members.grib`).
    pub file: &'static str,
    /// One line on what it holds.
    pub about: &'static str,
    /// The file's bytes.
    pub bytes: &'static [u8],
}

impl BuiltinData {
    /// The data as a [`DataSource`] named `<builtin NAME: FILE>`, read without copying.
    pub fn source(&self) -> DataSource {
        DataSource::from_static(
            format!("<builtin {}: {}>", self.name, self.file),
            self.bytes,
        )
    }
}

/// The data files compiled into the binary (provenance, sha256 and licences in
/// `data/README.md`).
pub const BUILTIN_DATA: &[BuiltinData] = &[
    BuiltinData {
        name: "era5",
        file: "era5-levels-members.grib",
        about: "ERA5 GRIB1, t and z on 500/850 hPa, 4 times x 10 members, 3° lat-lon 61x120 \
                (cfgrib 0.9.15.1 sample data; Copernicus C3S)",
        bytes: include_bytes!("../data/era5-levels-members.grib"),
    },
    BuiltinData {
        name: "era5-2t",
        file: "era5-single-level-scalar-time.grib",
        about: "ERA5 GRIB1, 2 m temperature, one time, 0.25° Europe patch 121x201 \
                (cfgrib 0.9.15.1 sample data; Copernicus C3S)",
        bytes: include_bytes!("../data/era5-single-level-scalar-time.grib"),
    },
    BuiltinData {
        name: "a1b",
        file: "A1B_north_america.nc",
        about: "NetCDF-4, Met Office UM 1.5 m air temperature, A1B scenario, 240 annual means \
                1860-2099 (360_day), North America 37x49 (iris-sample-data 2.5.2; OGL)",
        bytes: include_bytes!("../data/A1B_north_america.nc"),
    },
];

/// The built-in data file called `name` (`era5`, `era5-2t`, `a1b`), if any.
pub fn builtin_data(name: &str) -> Option<&'static BuiltinData> {
    BUILTIN_DATA.iter().find(|d| d.name == name)
}

fn env_dir(key: &str) -> Option<PathBuf> {
    std::env::var_os(key)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The platform cache folder for meshflow's data: `$XDG_CACHE_HOME/meshflow/data`, else
/// `~/.cache/meshflow/data`, else `%LOCALAPPDATA%\meshflow\data` (Windows).
fn cache_data_dir() -> Option<PathBuf> {
    env_dir("XDG_CACHE_HOME")
        .or_else(|| env_dir("HOME").map(|h| h.join(".cache")))
        .or_else(|| env_dir("LOCALAPPDATA"))
        .map(|c| c.join("meshflow").join("data"))
}

/// Where `meshflow fetch` puts downloads by default: `$MESHFLOW_DATA` when set, else the
/// platform cache folder (`$XDG_CACHE_HOME/meshflow/data`, `~/.cache/meshflow/data`;
/// `%LOCALAPPDATA%\meshflow\data` on Windows). `None` when none of these is set.
pub fn default_fetch_dir() -> Option<PathBuf> {
    env_dir("MESHFLOW_DATA").or_else(cache_data_dir)
}

/// Finds a data file the way every loader does, in this order:
/// 1. `rel` itself, when it names an existing file (an explicit path);
/// 2. `$MESHFLOW_DATA/rel`;
/// 3. the fetch folder `~/.cache/meshflow/data/rel` (see [`default_fetch_dir`]).
///
/// `rel` follows the data directory's layout, e.g. `mnist/train-images-idx3-ubyte.gz` or
/// `bunny/bun_zipper_res3.ply` (what `meshflow fetch mnist|bunny` writes).
pub fn find_data_file(rel: impl AsRef<Path>) -> Option<PathBuf> {
    let rel = rel.as_ref();
    if rel.is_file() {
        return Some(rel.to_path_buf());
    }
    if rel.is_absolute() {
        return None;
    }
    [env_dir("MESHFLOW_DATA"), cache_data_dir()]
        .into_iter()
        .flatten()
        .map(|d| d.join(rel))
        .find(|p| p.is_file())
}

/// Resolves what a user typed where a data file is expected: a built-in name (`era5`,
/// `era5-2t`, `a1b`; compiled in, works offline) or a path, looked up as
/// [`find_data_file`] does (the path itself, `$MESHFLOW_DATA/PATH`, the fetch directory).
/// Built-in names win over a file of the same name in the working directory; write `./era5`
/// for the file.
///
/// # Errors
/// A name that is neither built in nor an existing file, with the built-in names listed.
pub fn resolve_data_source(name_or_path: &str) -> anyhow::Result<DataSource> {
    if let Some(d) = builtin_data(name_or_path) {
        return Ok(d.source());
    }
    if let Some(path) = find_data_file(name_or_path) {
        return Ok(DataSource::Path(path));
    }
    let names: Vec<&str> = BUILTIN_DATA.iter().map(|d| d.name).collect();
    anyhow::bail!(
        "`{name_or_path}` is neither a data file nor a built-in data set (built in: {}); give \
         the path of a GRIB, NetCDF or .npz file",
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_bunny_parses() {
        let m = super::builtin_mesh("bunny").unwrap().unwrap();
        assert_eq!(m.mesh.num_vertices(), 1839);
        assert!(super::builtin_mesh("dragon").is_none());
    }

    #[test]
    fn builtin_data_resolve_and_unknown_names_are_errors() {
        for d in super::BUILTIN_DATA {
            let src = super::resolve_data_source(d.name).unwrap();
            assert!(src.name().to_string_lossy().contains(d.file));
        }
        let e = super::resolve_data_source("no/such/file.grib")
            .unwrap_err()
            .to_string();
        assert!(e.contains("era5, era5-2t, a1b"), "{e}");
    }
}

//! Locating the shared real-data folder for tests (not part of the stable API).
//!
//! Tests that read real files call [`data_dir`] and return early when it gives `None`:
//!
//! ```no_run
//! let Some(dir) = meshflow_datasets::testdata::data_dir("era5") else { return };
//! let path = dir.join("era5-levels-members.grib");
//! # let _ = path;
//! ```
//!
//! The folder is `$MESHFLOW_DATA/<sub>` when `MESHFLOW_DATA` is set, else
//! `<CARGO_MANIFEST_DIR>/../../shared/data/<sub>` (the layout of the development machines).
//! When it is missing, the test is skipped with a `skipping: ...` line on stderr, unless the
//! environment variable `CI` is set: then it panics, so CI never silently skips real-data
//! tests.

use std::path::PathBuf;

/// The shared data root: `$MESHFLOW_DATA`, else `<CARGO_MANIFEST_DIR>/../../shared/data`.
#[doc(hidden)]
pub fn data_root() -> PathBuf {
    match std::env::var_os("MESHFLOW_DATA") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    }
}

/// The folder `<data root>/<sub>` if it exists. If it does not: panics when the environment
/// variable `CI` is set (real-data tests must not be skipped there), otherwise prints
/// `skipping: ...` to stderr and returns `None`.
#[doc(hidden)]
pub fn data_dir(sub: &str) -> Option<PathBuf> {
    let dir = data_root().join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "test data folder {} not found (set MESHFLOW_DATA to the shared data root)",
        dir.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}; CI is set, so real-data tests may not be skipped");
    }
    eprintln!("skipping: {msg}");
    None
}

/// The file `<data root>/<rel>` if it exists, with the same CI/skip rule as [`data_dir`].
#[doc(hidden)]
pub fn data_file(rel: &str) -> Option<PathBuf> {
    let f = data_root().join(rel);
    if f.is_file() {
        return Some(f);
    }
    let msg = format!(
        "test data file {} not found (set MESHFLOW_DATA to the shared data root)",
        f.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}; CI is set, so real-data tests may not be skipped");
    }
    eprintln!("skipping: {msg}");
    None
}

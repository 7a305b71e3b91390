//! Helpers shared by the end-to-end tests of the `meshflow` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use meshflow::datasets::npy::{write_npz, NpyArray};
use meshflow::datasets::NdArray;

use serde_json::Value;

/// Runs the `meshflow` binary built for these tests.
pub fn meshflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshflow"))
        .args(args)
        .output()
        .expect("run meshflow")
}

/// Runs a command that must succeed; returns its standard output.
pub fn succeeds(args: &[&str]) -> String {
    let out = meshflow(args);
    assert!(
        out.status.success(),
        "meshflow {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 on stdout")
}

/// Runs a command that must succeed and print exactly one JSON object.
pub fn json_of(args: &[&str]) -> Value {
    serde_json::from_str(&succeeds(args)).expect("one JSON object on stdout")
}

/// Runs a command that must fail with exit code 1, no panic, and every one of `needles` in
/// its error output; returns that output.
pub fn fails_cleanly(args: &[&str], needles: &[&str]) -> String {
    let out = meshflow(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "meshflow {args:?} should fail with exit code 1: {err}"
    );
    assert!(
        !err.contains("panicked"),
        "meshflow {args:?} panicked: {err}"
    );
    for n in needles {
        assert!(
            err.contains(n),
            "meshflow {args:?}: expected `{n}` in: {err}"
        );
    }
    err
}

/// A fresh, empty directory `meshflow-{tag}-{pid}` under the system temp dir.
#[allow(dead_code)] // not every test binary uses it
pub fn tmp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("meshflow-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A path as a command-line argument.
#[allow(dead_code)] // not every test binary uses it
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Borrowed arguments of an owned argument list.
#[allow(dead_code)] // not every test binary uses it
pub fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The JSON file at `path`.
#[allow(dead_code)] // not every test binary uses it
pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Trains a tiny prior (2 steps, hidden width 16) on the fields in `data` into `out`.
#[allow(dead_code)] // not every test binary uses it
pub fn train_tiny_prior(data: &Path, out: &Path) {
    succeeds(&[
        "train-prior",
        "--data",
        s(data),
        "--out",
        s(out),
        "--steps",
        "2",
        "--hidden",
        "16",
        "--quiet",
    ]);
}

/// Runs the `meshflow` binary with `MESHFLOW_DATA` set to `data_dir`.
#[allow(dead_code)] // not every test binary uses it
pub fn meshflow_env(args: &[&str], data_dir: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshflow"))
        .args(args)
        .env("MESHFLOW_DATA", data_dir)
        .output()
        .expect("run meshflow")
}

/// The entry `name` of the `methods` array of a command's JSON output.
#[allow(dead_code)] // not every test binary uses it
pub fn method<'a>(out: &'a Value, name: &str) -> &'a Value {
    out["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no method {name} in {out}"))
}

/// Latitudes of the synthetic grid of [`write_fields`].
#[allow(dead_code)]
pub const NLAT: usize = 13;
/// Longitudes of the synthetic grid of [`write_fields`].
#[allow(dead_code)]
pub const NLON: usize = 24;
/// Times (fields) written by [`write_fields`].
#[allow(dead_code)]
pub const TIMES: usize = 8;

/// `TIMES` smooth fields (K) on a 13 × 24 global grid: a pole-to-equator gradient plus
/// low-degree waves whose phase moves with time.
#[allow(dead_code)] // not every test binary uses it
pub fn write_fields(path: &Path) {
    let lat: Vec<f64> = (0..NLAT)
        .map(|i| 90.0 - 180.0 * i as f64 / (NLAT - 1) as f64)
        .collect();
    let lon: Vec<f64> = (0..NLON).map(|j| 360.0 * j as f64 / NLON as f64).collect();
    let mut t = Vec::new();
    for k in 0..TIMES {
        let phase = 0.7 * k as f64;
        for &la in &lat {
            for &lo in &lon {
                let (p, l) = (la.to_radians(), lo.to_radians());
                let v = 250.0
                    + 40.0 * p.cos()
                    + 6.0 * (l + phase).cos() * p.cos()
                    + 3.0 * (2.0 * l - phase).sin() * p.cos().powi(2);
                t.push(v as f32);
            }
        }
    }
    let time: Vec<i64> = (0..TIMES as i64)
        .map(|k| 1_483_228_800 + 43_200 * k)
        .collect();
    let arrays = [
        (
            "temperature",
            NpyArray::F32(NdArray::new(vec![TIMES, NLAT, NLON], t).unwrap()),
        ),
        (
            "latitude",
            NpyArray::F64(NdArray::new(vec![NLAT], lat).unwrap()),
        ),
        (
            "longitude",
            NpyArray::F64(NdArray::new(vec![NLON], lon).unwrap()),
        ),
        (
            "time",
            NpyArray::I64(NdArray::new(vec![TIMES], time).unwrap()),
        ),
    ];
    let refs: Vec<(&str, &NpyArray)> = arrays.iter().map(|(k, a)| (*k, a)).collect();
    write_npz(path, &refs).unwrap();
}

//! End-to-end tests of `meshflow info` and `meshflow convert` on data files (GRIB, NetCDF,
//! NPZ) through the binary: reports on the shared real data, lossless conversion, and clear
//! errors (exit code 1, never a panic) on damaged or wrong input.
//!
//! Real data comes from `$MESHFLOW_DATA` (else `../shared/data`); without it the tests print
//! `skipping: ...`, unless `CI` is set, where they fail.

use meshflow::datasets::field::read_variable;
use meshflow::datasets::testdata::data_file;
use serde_json::Value;

mod common;
use common::{fails_cleanly, json_of, meshflow, s, tmp_dir};

fn variable<'a>(info: &'a Value, name: &str) -> &'a Value {
    info["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no variable {name} in {info}"))
}

fn assert_grid(info: &Value, kind: &str, nlat: u64, nlon: u64) {
    let g = &info["grid"];
    assert_eq!(g["kind"], kind, "{g}");
    assert_eq!(
        (g["nlat"].as_u64(), g["nlon"].as_u64()),
        (Some(nlat), Some(nlon))
    );
}

#[test]
fn info_on_the_era5_ensemble_grib() {
    let Some(p) = data_file("era5/era5-levels-members.grib") else {
        return;
    };
    let info = json_of(&["info", s(&p), "--json"]);
    assert_eq!(info["format"], "grib1");
    assert_grid(&info, "latlon", 61, 120);
    assert_eq!(info["grid"]["lat_first"], 90.0);
    assert_eq!(info["grid"]["lon_last"], 357.0);
    for (name, units, lo, hi) in [
        ("t", "K", 224.1296, 305.8412),
        ("z", "m**2 s**-2", 9238.090, 58148.145),
    ] {
        let v = variable(&info, name);
        assert_eq!(v["units"], units);
        // 4 times x 2 levels x 10 members.
        assert_eq!(v["fields"], 80);
        assert_eq!(
            (v["times"].as_u64(), v["members"].as_u64()),
            (Some(4), Some(10))
        );
        assert_eq!(v["levels"], serde_json::json!([500.0, 850.0]));
        assert_eq!(v["missing"], 0);
        assert!((v["min"].as_f64().unwrap() - lo).abs() < 1e-3, "{v}");
        assert!((v["max"].as_f64().unwrap() - hi).abs() < 1e-3, "{v}");
    }
    // The human table names both variables.
    let out = meshflow(&["info", s(&p)]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("GRIB1") && text.contains("latlon 61x120"),
        "{text}"
    );
}

#[test]
fn info_on_a_gaussian_netcdf3_file() {
    let Some(p) = data_file("reanalysis/TREFHT.B06.57.atm.1890-1999ANN.nc") else {
        return;
    };
    let info = json_of(&["info", s(&p), "--json"]);
    assert_eq!(info["format"], "netcdf3-classic");
    assert_grid(&info, "gaussian", 64, 128);
    let v = variable(&info, "TREFHT");
    assert_eq!(
        (v["fields"].as_u64(), v["units"].as_str()),
        (Some(110), Some("K"))
    );
}

#[test]
fn info_on_a_regional_netcdf4_file() {
    let Some(p) = data_file("reanalysis/A1B_north_america.nc") else {
        return;
    };
    let info = json_of(&["info", s(&p), "--json"]);
    assert_eq!(info["format"], "netcdf4");
    assert_grid(&info, "regional", 37, 49);
    let v = variable(&info, "air_temperature");
    assert_eq!(v["fields"], 240);
    // 360-day calendar: every year on 1 June.
    assert_eq!(v["time_first"], "1860-06-01T00:00:00");
    assert_eq!(v["time_last"], "2099-06-01T00:00:00");
}

#[test]
fn info_on_a_regional_single_field_grib() {
    let Some(p) = data_file("era5/era5-single-level-scalar-time.grib") else {
        return;
    };
    let info = json_of(&["info", s(&p), "--json"]);
    assert_grid(&info, "regional", 121, 201);
    assert_eq!(info["grid"]["lon_first"], -10.0);
    let v = variable(&info, "2t");
    assert_eq!(v["fields"], 1);
    assert_eq!(v["time_first"], "2017-01-01T12:00:00");
}

#[test]
fn convert_grib_to_netcdf_and_npz_round_trips() {
    let Some(p) = data_file("era5/era5-levels-members.grib") else {
        return;
    };
    let dir = tmp_dir("cli-data-convert");
    let want = read_variable(&p, Some("t")).unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for name in ["t.nc", "t.npz"] {
        let out = dir.join(name);
        let summary = json_of(&["convert", s(&p), s(&out), "--var", "t", "--json"]);
        assert_eq!(summary["fields"], 80);
        assert_eq!(summary["variable"], "t");
        let info = json_of(&["info", s(&out), "--json"]);
        assert_grid(&info, "latlon", 61, 120);
        let v = variable(&info, "t");
        assert_eq!(v["fields"], 80);
        assert_eq!(
            (v["times"].as_u64(), v["members"].as_u64()),
            (Some(4), Some(10))
        );
        let got = read_variable(&out, None).unwrap();
        assert!(
            bits(&got.values) == bits(&want.values),
            "{name}: values differ"
        );
        assert_eq!(got.labels, want.labels, "{name}: labels differ");
    }
    // A selection, and the one-line summary.
    let out = meshflow(&[
        "convert",
        s(&p),
        s(&dir.join("last.nc")),
        "--var",
        "z",
        "--fields",
        "-20:",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.starts_with("wrote 20 fields of z"), "{line}");
    let z = read_variable(dir.join("last.nc"), None).unwrap();
    assert!(z
        .labels
        .iter()
        .all(|l| l.time.as_deref() == Some("2017-01-02T12:00:00")));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_damaged_grib_message_is_named() {
    let Some(p) = data_file("era5/era5-levels-corrupted.grib") else {
        return;
    };
    // The first message declares a wrong length: it is skipped with a warning naming it, and
    // the intact second message is still read.
    let out = meshflow(&["info", s(&p), "--json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("warning") && err.contains("message 0 (byte 0)"),
        "{err}"
    );
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(info["warnings"][0].as_str().unwrap().contains("message 0"));
    assert_eq!(variable(&info, "t")["fields"], 1);
}

#[test]
fn truncated_netcdf_files_fail_cleanly() {
    let dir = tmp_dir("cli-data-truncated");
    for (rel, name) in [
        ("reanalysis/TREFHT.B06.57.atm.1890-1999ANN.nc", "trefht.nc"),
        ("reanalysis/A1B_north_america.nc", "a1b.nc"),
    ] {
        let Some(p) = data_file(rel) else {
            return;
        };
        let bytes = std::fs::read(&p).unwrap();
        let cut = dir.join(name);
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        fails_cleanly(&["info", s(&cut), "--json"], &[name]);
        fails_cleanly(&["convert", s(&cut), s(&dir.join("out.npz"))], &[name]);
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn wrong_magic_names_the_bytes_and_the_formats() {
    let dir = tmp_dir("cli-data-magic");
    let p = dir.join("temperature.nc");
    std::fs::write(&p, b"hello, world: not a NetCDF file").unwrap();
    fails_cleanly(
        &["info", s(&p)],
        &[
            "68 65 6c 6c 6f",
            "not a recognised data file",
            "GRIB",
            "NetCDF-4",
        ],
    );
    fails_cleanly(
        &["convert", s(&p), s(&dir.join("out.nc"))],
        &["68 65 6c 6c 6f"],
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_variable_fields_and_output_are_explained() {
    let Some(p) = data_file("era5/era5-levels-members.grib") else {
        return;
    };
    let dir = tmp_dir("cli-data-args");
    let out = dir.join("out.nc");
    fails_cleanly(
        &["convert", s(&p), s(&out), "--var", "nosuch"],
        &["nosuch", "z, t"],
    );
    fails_cleanly(
        &["convert", s(&p), s(&out), "--var", "t", "--fields", "5:2:0"],
        &["--fields", "5:2:0", "step must not be zero"],
    );
    fails_cleanly(
        &["convert", s(&p), s(&out), "--var", "t", "--fields", "5:2"],
        &["selects none of the 80 fields"],
    );
    fails_cleanly(
        &["convert", s(&p), s(&out), "--var", "t", "--fields", "80"],
        &["out of range"],
    );
    fails_cleanly(&["convert", s(&p), s(&out)], &["z, t", "--var"]);
    fails_cleanly(
        &["convert", s(&p), s(&dir.join("out.csv")), "--var", "t"],
        &[".csv", ".nc", ".npz"],
    );
    assert!(!out.exists(), "no output is written on error");
    std::fs::remove_dir_all(dir).ok();
}

// ---------------------------------------------------------------------------------------------
// Built-in data (compiled into the binary, no data directory needed).

#[test]
fn builtin_era5_reports_without_any_data_directory() {
    let out = common::meshflow_env(&["info", "era5", "--json"], "/nonexistent/meshflow-data");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["format"], "grib1");
    assert_grid(&info, "latlon", 61, 120);
    assert!(info["path"]
        .as_str()
        .unwrap()
        .contains("era5-levels-members.grib"));
    for (name, lo, hi) in [("t", 224.1296, 305.8412), ("z", 9238.090, 58148.145)] {
        let v = variable(&info, name);
        assert_eq!(v["fields"], 80, "{v}");
        assert_eq!(
            (v["times"].as_u64(), v["members"].as_u64()),
            (Some(4), Some(10))
        );
        assert!((v["min"].as_f64().unwrap() - lo).abs() < 1e-3, "{v}");
        assert!((v["max"].as_f64().unwrap() - hi).abs() < 1e-3, "{v}");
    }
    let a1b = json_of(&["info", "a1b", "--json"]);
    assert_eq!(a1b["format"], "netcdf4");
    assert_grid(&a1b, "regional", 37, 49);
    let v = variable(&a1b, "air_temperature");
    assert_eq!(v["fields"], 240);
    assert_eq!(v["time_first"], "1860-06-01T00:00:00");
    let t2 = json_of(&["info", "era5-2t", "--json"]);
    assert_grid(&t2, "regional", 121, 201);
    assert_eq!(variable(&t2, "2t")["fields"], 1);
}

#[test]
fn builtin_era5_converts_losslessly() {
    let dir = tmp_dir("cli-data-builtin-convert");
    let out = dir.join("t.nc");
    let summary = json_of(&[
        "convert",
        "era5",
        s(&out),
        "--var",
        "t",
        "--fields",
        "0:8",
        "--json",
    ]);
    assert_eq!(summary["fields"], 8);
    let src = meshflow::builtin::resolve_data_source("era5").unwrap();
    let want = read_variable(&src, Some("t")).unwrap();
    let got = read_variable(&out, None).unwrap();
    assert_eq!(got.values[..], want.values[..8 * 61 * 120]);
    assert_eq!(got.labels[..], want.labels[..8]);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn builtin_bytes_equal_the_shared_files() {
    for (d, rel) in meshflow::builtin::BUILTIN_DATA.iter().zip([
        "era5/era5-levels-members.grib",
        "era5/era5-single-level-scalar-time.grib",
        "reanalysis/A1B_north_america.nc",
    ]) {
        let Some(p) = data_file(rel) else {
            return;
        };
        assert!(rel.ends_with(d.file));
        assert!(
            std::fs::read(&p).unwrap() == d.bytes,
            "{} differs from {rel}",
            d.name
        );
    }
}

#[test]
fn unknown_data_names_list_the_builtins() {
    fails_cleanly(
        &["convert", "era6", "out.nc"],
        &["era6", "era5, era5-2t, a1b"],
    );
}

// ---------------------------------------------------------------------------------------------
// Calendar override.

#[test]
fn calendar_override_decodes_noleap_model_years() {
    let Some(p) = data_file("reanalysis/TREFHT.B06.57.atm.1890-1999ANN.nc") else {
        return;
    };
    // Without a calendar attribute the CF default drifts off mid-July, and says so.
    let out = meshflow(&["info", s(&p), "--json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no calendar attribute") && err.contains("--calendar"),
        "{err}"
    );
    let info = json_of(&["info", s(&p), "--calendar", "noleap", "--json"]);
    let v = variable(&info, "TREFHT");
    assert_eq!(v["time_first"], "1890-07-16T22:00:00");
    assert_eq!(v["time_last"], "1999-07-16T22:00:00");
    assert!(info["warnings"].as_array().unwrap().is_empty(), "{info}");

    // Converted with the override, the .nc carries the calendar and the same dates.
    let dir = tmp_dir("cli-data-calendar");
    let out = dir.join("trefht.nc");
    json_of(&["convert", s(&p), s(&out), "--calendar", "365_day", "--json"]);
    let back = read_variable(&out, None).unwrap();
    let t = back.time.as_ref().unwrap();
    assert_eq!(t.calendar.name(), "noleap");
    assert_eq!(
        back.labels[109].time.as_deref(),
        Some("1999-07-16T22:00:00")
    );
    std::fs::remove_dir_all(dir).ok();

    // A bad value is a usage error (clap's exit code 2) that lists the calendars.
    let out = meshflow(&["info", s(&p), "--calendar", "gregorain"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for n in ["unknown calendar `gregorain`", "noleap", "360_day"] {
        assert!(err.contains(n), "{err}");
    }
    fails_cleanly(
        &["info", "era5", "--calendar", "noleap"],
        &["NetCDF", "GRIB1"],
    );
    fails_cleanly(&["info", "bunny", "--calendar", "noleap"], &["data files"]);
}

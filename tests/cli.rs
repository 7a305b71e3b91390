//! End-to-end tests of the `meshflow` binary: JSON reports on real meshes and built-in grids,
//! and clear errors (never a panic) on bad input.

use std::path::PathBuf;

use meshflow::geometry::io::require_shared_data;

mod common;
use common::{fails_cleanly, json_of};

fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("meshflow-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn info_on_the_stanford_res3_bunny() {
    let Some(data) = require_shared_data() else {
        return;
    };
    let path = data.join("bunny/bun_zipper_res3.ply");
    let v = json_of(&["info", path.to_str().unwrap(), "--json"]);
    assert_eq!(v["vertices"], 1889);
    assert_eq!(v["faces"], 3851);
    assert_eq!(v["unused_vertices"], 2);
    assert!(v["duplicate_faces"].as_u64().unwrap() > 0);
    assert!(v["non_manifold_edges"].as_u64().unwrap() > 0);
    assert_eq!(v["boundary_edges"], 60);
    assert_eq!(v["degenerate_faces"], 0);
    for key in ["components", "euler_characteristic", "area"] {
        assert!(!v[key].is_null(), "missing key {key}");
    }
}

#[test]
fn info_on_the_embedded_and_committed_npm_bunny() {
    for source in [
        "bunny",
        concat!(env!("CARGO_MANIFEST_DIR"), "/data/bunny_npm.obj"),
    ] {
        let v = json_of(&["info", source, "--json"]);
        assert_eq!(v["vertices"], 1839, "{source}");
        assert_eq!(v["faces"], 3674);
        assert_eq!(v["boundary_edges"], 0);
        assert_eq!(v["non_manifold_edges"], 0);
        assert_eq!(v["components"], 1);
        assert_eq!(v["euler_characteristic"], 2);
    }
}

#[test]
fn info_and_spectrum_on_grid_specs() {
    let v = json_of(&["info", "icosphere:3", "--json"]);
    assert_eq!(v["vertices"], 642);
    assert_eq!(v["euler_characteristic"], 2);
    let area = v["area"].as_f64().unwrap();
    assert!((area - 4.0 * std::f64::consts::PI).abs() < 0.05 * area);
    let s = json_of(&["spectrum", "icosphere:3", "--k", "4", "--json"]);
    let ev: Vec<f64> = s["eigenvalues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(ev.len(), 4);
    assert!(
        ev[0].abs() < 1e-8 && ev.iter().skip(1).all(|x| (x - 2.0).abs() < 0.05),
        "{ev:?}"
    );
    assert!(ev.windows(2).all(|w| w[0] <= w[1]), "ascending");
}

#[test]
fn spectrum_of_a_mesh_with_defects_repairs_first() {
    let Some(data) = require_shared_data() else {
        return;
    };
    let path = data.join("bunny/bun_zipper_res4.ply");
    let s = json_of(&["spectrum", path.to_str().unwrap(), "--k", "6", "--json"]);
    // res4 has 31 vertex triples that occur more than once (data README): at least one copy
    // of each must have been removed.
    assert!(s["repair"]["duplicate_faces_removed"].as_u64().unwrap() >= 31);
    let ev: Vec<f64> = s["eigenvalues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!(ev[0].abs() < 1e-6 * ev[5], "constant mode first: {ev:?}");
    assert!(ev.iter().all(|&x| x >= -1e-9));
}

#[test]
fn bad_input_gives_clear_errors() {
    fails_cleanly(
        &["info", "/nonexistent/mesh.ply"],
        &["neither an existing file"],
    );
    fails_cleanly(&["info", "icosphere:x"], &["icosphere"]);
    fails_cleanly(&["spectrum", "icosphere:2", "--k", "0"], &["--k"]);
    let truncated = tmp("truncated.ply", b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n");
    fails_cleanly(&["info", truncated.to_str().unwrap()], &["truncated.ply"]);
    let nan = tmp("nan.obj", b"v 0 0 0\nv 1 nan 0\nv 0 1 0\nf 1 2 3\n");
    fails_cleanly(&["info", nan.to_str().unwrap()], &["line 2"]);
    let oob = tmp("oob.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n");
    fails_cleanly(&["info", oob.to_str().unwrap()], &["oob.obj"]);
    let garbage = tmp("garbage.ply", &[0xff; 64]);
    fails_cleanly(&["info", garbage.to_str().unwrap()], &["garbage.ply"]);
    let unknown = tmp("mesh.stl", b"solid x\n");
    fails_cleanly(&["info", unknown.to_str().unwrap()], &["unsupported"]);
}

#[test]
fn a_config_file_sets_options_and_the_command_line_overrides_them() {
    let eigenvalue_count = |v: &serde_json::Value| v["eigenvalues"].as_array().unwrap().len();
    let cfg = tmp("spectrum.toml", b"json = true\n[spectrum]\nk = 3\n");
    let cfg = cfg.to_str().unwrap();
    let v = json_of(&["spectrum", "icosphere:2", "--config", cfg]);
    assert_eq!(eigenvalue_count(&v), 3);
    let v = json_of(&["--config", cfg, "spectrum", "icosphere:2", "-k", "5"]);
    assert_eq!(eigenvalue_count(&v), 5, "the command line wins");

    for (name, text, needle) in [
        (
            "typo.toml",
            "[spectrum]\nkk = 3\n",
            "`kk` is not an option of `meshflow spectrum`",
        ),
        (
            "broken.toml",
            "[spectrum\nk = 3\n",
            "is not a valid TOML file",
        ),
        (
            "kind.toml",
            "[spectrum]\nk = \"many\"\n",
            "invalid value 'many' for '--k",
        ),
    ] {
        let path = tmp(name, text.as_bytes());
        let out = common::meshflow(&[
            "spectrum",
            "icosphere:2",
            "--config",
            path.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: a usage error: {err}");
        assert!(
            err.contains(needle),
            "{name}: expected `{needle}` in: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let missing = std::env::temp_dir().join("meshflow-no-such-config.toml");
    let out = common::meshflow(&["info", "bunny", "--config", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading the config file"));
}

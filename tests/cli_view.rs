//! End-to-end tests of `meshflow render` and `meshflow view` on small result directories
//! written here in the format of `meshflow impute`.

use std::path::{Path, PathBuf};

use meshflow::datasets::npy::{write_npz, NpyArray};
use meshflow::datasets::NdArray;
use meshflow::geometry::{io::write_ply, sphere::SphereGrid, TriMesh};
use meshflow::viewers::figure::RgbImage;

mod common;
use common::{fails_cleanly, json_of, meshflow, succeeds, tmp_dir};

fn fresh_dir(name: &str) -> PathBuf {
    tmp_dir(&format!("cli-view-{name}"))
}

fn f32s(shape: &[usize], data: Vec<f32>) -> NpyArray {
    NdArray::new(shape.to_vec(), data).unwrap().into()
}

/// Writes result.json and result.npz for `fields` fields of a signal on `nv` vertices whose
/// truth is `truth(v)` (+ field index); `extra` arrays are added (grid coordinates).
fn write_result(
    dir: &Path,
    kind: &str,
    nv: usize,
    truth: impl Fn(usize) -> f32,
    extra: Vec<(&str, NpyArray)>,
) {
    let (nf, ns) = (2usize, 3usize);
    let methods = ["cnf-mean", "nearest"];
    let t: Vec<f32> = (0..nf)
        .flat_map(|f| (0..nv).map(|v| truth(v) + f as f32).collect::<Vec<_>>())
        .collect();
    let mask: Vec<u8> = (0..nf * nv).map(|i| (i % 5 < 3) as u8).collect();
    let meas: Vec<f32> = t
        .iter()
        .zip(&mask)
        .map(|(&x, &m)| if m == 1 { x } else { f32::NAN })
        .collect();
    let mean: Vec<f32> = t.iter().map(|x| x + 0.1).collect();
    let std = vec![0.2f32; nf * nv];
    let samples: Vec<f32> = (0..nf)
        .flat_map(|f| (0..ns).flat_map(move |s| (0..nv).map(move |v| (f, s, v))))
        .map(|(f, s, v)| t[f * nv + v] + 0.05 * s as f32)
        .collect();
    let near: Vec<f32> = t.iter().map(|x| x - 0.5).collect();
    let mut arrays = vec![
        ("measurement", f32s(&[nf, nv], meas)),
        ("mask", NdArray::new(vec![nf, nv], mask).unwrap().into()),
        ("truth", f32s(&[nf, nv], t)),
        ("mean", f32s(&[nf, nv], mean.clone())),
        ("std", f32s(&[nf, nv], std)),
        ("samples", f32s(&[nf, ns, nv], samples)),
        ("recon_cnf-mean", f32s(&[nf, nv], mean)),
        ("recon_nearest", f32s(&[nf, nv], near)),
    ];
    arrays.extend(extra);
    let refs: Vec<(&str, &NpyArray)> = arrays.iter().map(|(n, a)| (*n, a)).collect();
    write_npz(dir.join("result.npz"), &refs).unwrap();
    let json = serde_json::json!({
        "discretisation": {"kind": kind},
        "fields": ["t2m 2020-01-01", "t2m 2020-01-02"],
        "methods": methods,
        "units": if kind == "grid" { "K" } else { "" },
        "samples": ns,
    });
    std::fs::write(dir.join("result.json"), json.to_string()).unwrap();
}

fn grid_result(name: &str) -> PathBuf {
    let dir = fresh_dir(name);
    let grid = SphereGrid::latlon(7, 12).unwrap();
    // The grid spec `latlon:7x12` names this grid.
    assert_eq!(
        json_of(&["info", "latlon:7x12", "--json"])["vertices"],
        grid.num_vertices()
    );
    let lat: Vec<f64> = (0..7).map(|i| 90.0 - 30.0 * i as f64).collect();
    let lon: Vec<f64> = (0..12).map(|j| 30.0 * j as f64).collect();
    let lats = grid.lat_deg().to_vec();
    write_result(
        &dir,
        "grid",
        grid.num_vertices(),
        move |v| 280.0 + lats[v] as f32 / 5.0,
        vec![
            ("lat", NdArray::new(vec![7], lat).unwrap().into()),
            ("lon", NdArray::new(vec![12], lon).unwrap().into()),
        ],
    );
    dir
}

fn png_size(path: &Path) -> (u32, u32) {
    let img = RgbImage::decode_png(&std::fs::read(path).unwrap()).unwrap();
    (img.width(), img.height())
}

#[test]
fn render_draws_one_figure_per_grid_field() {
    let dir = grid_result("render-grid");
    let out = dir.join("png");
    let stdout = succeeds(&[
        "render",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let files: Vec<&str> = stdout.lines().collect();
    assert_eq!(files.len(), 2, "{stdout}");
    for (f, file) in files.iter().enumerate() {
        let p = Path::new(file);
        assert!(p.starts_with(&out));
        assert!(p
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(&format!("{f:03}_t2m")));
        // Three rows (main panels, baselines, their errors) of five 360×180 maps at most.
        let (w, h) = png_size(p);
        assert!((5 * 360..5 * 500).contains(&w), "width {w}");
        assert!((3 * 180..3 * 320).contains(&h), "height {h}");
    }
    // One field, to the default directory.
    let stdout = succeeds(&["render", dir.to_str().unwrap(), "--fields", "-1"]);
    assert_eq!(
        stdout.trim(),
        dir.join("figures/001_t2m_2020-01-02.png").to_str().unwrap()
    );
    assert!(dir.join("figures/001_t2m_2020-01-02.png").is_file());
    // With --json: one object listing the figures.
    let stdout = succeeds(&["render", dir.to_str().unwrap(), "--fields", "0", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        v["figures"],
        serde_json::json!([dir.join("figures/000_t2m_2020-01-01.png")])
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn render_draws_mesh_results_with_each_camera() {
    let dir = fresh_dir("render-mesh");
    let grid = SphereGrid::icosphere(2);
    let (p, f) = grid.mesh().clone().into_parts();
    // A squashed sphere: a mesh result, y-up.
    let mesh = TriMesh::new(p.iter().map(|q| [q.x, 0.6 * q.z, q.y].into()).collect(), f).unwrap();
    write_ply(&dir.join("mesh.ply"), &mesh, &[], None).unwrap();
    let ys: Vec<f32> = mesh.positions().iter().map(|q| q.y as f32).collect();
    write_result(&dir, "mesh", mesh.num_vertices(), move |v| ys[v], vec![]);
    for camera in ["front", "top", "oblique"] {
        let out = dir.join(camera);
        let stdout = succeeds(&[
            "render",
            dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--camera",
            camera,
            "--fields",
            "0",
        ]);
        let (w, h) = png_size(Path::new(stdout.trim()));
        assert!(
            (5 * 320..5 * 400).contains(&w) && (3 * 320..3 * 420).contains(&h),
            "{w}x{h}"
        );
    }
    // A bad option value is a usage error (clap's exit code 2) that names the choices.
    let out = meshflow(&["render", dir.to_str().unwrap(), "--camera", "diagonal"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("unknown camera `diagonal`") && err.contains("oblique"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn view_saves_a_recording() {
    let dir = grid_result("view");
    std::fs::write(
        dir.join("history.csv"),
        "step,loss\n0,1.5\n10,0.7\n20,0.4\n",
    )
    .unwrap();
    let rrd = dir.join("out.rrd");
    let stdout = succeeds(&[
        "view",
        dir.to_str().unwrap(),
        "--save",
        rrd.to_str().unwrap(),
        "--model",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(stdout.trim(), rrd.to_str().unwrap());
    let bytes = std::fs::read(&rrd).unwrap();
    assert!(bytes.len() > 10_000, "{} bytes", bytes.len());
    assert_eq!(&bytes[..3], b"RRF", "an rrd file starts with its magic");
    let stdout = succeeds(&[
        "view",
        dir.to_str().unwrap(),
        "--save",
        rrd.to_str().unwrap(),
        "--fields",
        "1",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["recording"], rrd.to_str().unwrap());
    assert_eq!(v["fields"], 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_result_directories_fail_cleanly() {
    let dir = fresh_dir("bad");
    fails_cleanly(
        &["render", dir.to_str().unwrap()],
        &["result.json", "meshflow impute"],
    );
    std::fs::write(dir.join("result.json"), "{\"fields\": []}").unwrap();
    fails_cleanly(
        &["view", dir.to_str().unwrap(), "--save", "x.rrd"],
        &["not a meshflow result"],
    );
    let grid = grid_result("bad-fields");
    fails_cleanly(
        &["render", grid.to_str().unwrap(), "--fields", "7"],
        &["--fields"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&grid).unwrap();
}

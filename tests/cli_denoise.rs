//! End-to-end tests of `meshflow denoise train`, `eval` and `apply` through the binary, on the
//! synthetic smooth fields of `common::write_fields` (offline everywhere): ICM and IFM trained
//! on noisy fields only, the metrics table against the no-clean-data baselines, the denoised
//! fields in CF NetCDF, and clear errors on bad input.

use std::path::Path;

use meshflow::datasets::field::read_variable;

mod common;
use common::{
    fails_cleanly, json_of, meshflow, method, read_json, refs, s, succeeds, tmp_dir,
    train_tiny_prior, write_fields, NLAT, NLON,
};

/// `denoise train --method METHOD --data DATA --noise gaussian:0.1 --out OUT --steps STEPS
/// --quiet` followed by `extra` (e.g. `--hidden 32`).
fn train_args(data: &Path, method: &str, out: &Path, steps: &str, extra: &[&str]) -> Vec<String> {
    [
        "denoise",
        "train",
        "--method",
        method,
        "--data",
        s(data),
        "--noise",
        "gaussian:0.1",
        "--out",
        s(out),
        "--steps",
        steps,
        "--quiet",
    ]
    .iter()
    .chain(extra)
    .map(|a| a.to_string())
    .collect()
}

fn train(data: &Path, method: &str, out: &Path, steps: &str) {
    let extra = ["--hidden", "32", "--batch-size", "8"];
    succeeds(&refs(&train_args(data, method, out, steps, &extra)));
}

/// `denoise apply` of the model in `model` to the fields `fields` of `data`, written to `out`.
fn apply(model: &Path, data: &Path, fields: &str, out: &Path) {
    succeeds(&[
        "denoise",
        "apply",
        "--model",
        s(model),
        "--data",
        s(data),
        "--fields",
        fields,
        "--out",
        s(out),
    ]);
}

#[test]
fn denoise_train_eval_and_apply_end_to_end() {
    let dir = tmp_dir("cli-denoise-e2e");
    let data = dir.join("fields.npz");
    write_fields(&data);
    let icm = dir.join("icm");
    let ifm = dir.join("ifm");
    train(&data, "icm", &icm, "12");
    train(&data, "ifm", &ifm, "6");
    // IFM with the velocity through a denoiser: recorded in config.json (the default run
    // records none, the paper's direct velocity) and fixed for the rest of the run.
    let ifm_den = dir.join("ifm-den");
    let extra = [
        "--hidden",
        "32",
        "--batch-size",
        "8",
        "--ifm-velocity",
        "denoiser",
    ];
    succeeds(&refs(&train_args(&data, "ifm", &ifm_den, "4", &extra)));
    assert_eq!(
        read_json(&ifm_den.join("config.json"))["ifm_velocity"],
        "Denoiser"
    );
    assert!(read_json(&ifm.join("config.json"))["ifm_velocity"].is_null());
    let change = ["--resume", "--ifm-velocity", "direct"];
    fails_cleanly(
        &refs(&train_args(&data, "ifm", &ifm_den, "6", &change)),
        &["--ifm-velocity cannot change on --resume", "denoiser"],
    );
    let meta = read_json(&icm.join("meshflow.json"));
    assert_eq!(meta["kind"], "denoiser");
    assert_eq!(meta["noise"], "gaussian:0.1");
    assert_eq!(meta["method"], "icm");
    assert_eq!(meta["test"].as_array().unwrap().len(), 2);
    let history = std::fs::read_to_string(icm.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 1 + 12);
    // Resuming raises the step count and keeps the history in step; the saved schedule
    // cannot be changed on the way (the flag would otherwise be silently ignored).
    let resume = train_args(&data, "icm", &icm, "16", &["--resume"]);
    let resume = refs(&resume);
    fails_cleanly(
        &[&resume[..], &["--lr", "1e-2"]].concat(),
        &["--lr cannot change on --resume", "config.json"],
    );
    succeeds(&resume);
    let history = std::fs::read_to_string(icm.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 1 + 16);

    // Both models and the baselines on the same noisy held-out fields, with a result directory.
    let result = dir.join("result");
    let out = json_of(&[
        "denoise",
        "eval",
        "--model",
        s(&icm),
        "--model",
        s(&ifm),
        "--baselines",
        "--tweedie-steps",
        "30",
        "--tweedie-hidden",
        "32",
        "--out",
        s(&result),
        "--json",
    ]);
    for name in ["icm", "ifm", "noisy", "heat-sure", "tweedie"] {
        let m = method(&out, name);
        for key in ["psnr", "ssim", "rmse", "seconds_per_field"] {
            let v = m[key].as_f64();
            assert!(
                v.is_some_and(f64::is_finite),
                "{name}.{key} = {} in {out}",
                m[key]
            );
        }
    }
    assert_eq!(out["fields"].as_array().unwrap().len(), 2);
    check_eval_result_dir(&result, &out);
    // Giving the training selection again (as `./fields.npz`) still scores only the
    // held-out split; other data (a slice of it) is scored whole.
    let same = dir.join(".").join(data.file_name().unwrap());
    let fields_of = |extra: &[&str]| {
        let mut a = vec![
            "denoise",
            "eval",
            "--model",
            s(&icm),
            "--data",
            s(&same),
            "--json",
        ];
        a.extend_from_slice(extra);
        json_of(&a)["fields"].clone()
    };
    assert_eq!(fields_of(&[]), out["fields"]);
    let sliced = fields_of(&["--fields", "0:3"]);
    assert_eq!(sliced.as_array().unwrap().len(), 3, "{sliced}");
    // The fields are smooth: SURE-timed heat smoothing must beat the noisy input clearly.
    let psnr = |name: &str| method(&out, name)["psnr"].as_f64().unwrap();
    assert!(
        psnr("heat-sure") > psnr("noisy") + 3.0,
        "heat-sure {} dB vs noisy {} dB",
        psnr("heat-sure"),
        psnr("noisy")
    );
    // σ = 0.1 with data range 1: the noisy input sits near 20 dB.
    assert!((17.0..23.0).contains(&psnr("noisy")), "{}", psnr("noisy"));
    // The PSNR estimated from the noisy fields alone (recorrupted pairs): the identity's is the
    // noisy input's at 1.118 σ (0.97 dB lower), it ranks heat smoothing above the noisy input
    // as the clean-data score does, and Tweedie (not recorrupted) has none.
    let est = |name: &str| method(&out, name)["psnr_from_noisy"].as_f64();
    let noisy_est = est("noisy").expect("gaussian noise has recorrupted pairs");
    assert!(
        (noisy_est - (psnr("noisy") - 0.97)).abs() < 1.5,
        "estimated {noisy_est} dB for the noisy input scored {} dB",
        psnr("noisy")
    );
    assert!(est("heat-sure").unwrap() > noisy_est + 2.0, "{out}");
    assert!(est("icm").is_some() && est("ifm").is_some(), "{out}");
    assert!(method(&out, "tweedie").get("psnr_from_noisy").is_none());

    // Apply: the first three fields, as noisy observations, to CF NetCDF.
    let nc = dir.join("denoised.nc");
    apply(&icm, &data, "0:3", &nc);
    let var = read_variable(&nc, Some("temperature")).unwrap();
    assert_eq!((var.nlat(), var.nlon(), var.num_fields()), (NLAT, NLON, 3));
    assert!(var.field(2).iter().all(|v| v.is_finite()));
    let npz = dir.join("denoised.npz");
    apply(&ifm, &data, "0:2", &npz);
    let arrays = meshflow::datasets::npy::read_npz(&npz).unwrap();
    let v = (NLAT - 2) * NLON + 2;
    let denoised = arrays.get("temperature").unwrap().to_f32();
    assert_eq!(denoised.shape, [2, v]);
    // PLY: the sphere mesh with one property per field, the same values as the npz.
    let ply = dir.join("denoised.ply");
    apply(&ifm, &data, "0:2", &ply);
    let loaded = meshflow::geometry::io::load_mesh(&ply).unwrap();
    assert_eq!(loaded.mesh.num_vertices(), v);
    assert_eq!(loaded.vertex_properties.len(), 2);
    for (k, (name, values)) in loaded.vertex_properties.iter().enumerate() {
        let row = &denoised.data[k * v..(k + 1) * v];
        let same = values.iter().zip(row).all(|(a, &b)| *a == f64::from(b));
        assert!(same, "property {name} differs from the npz's field {k}");
    }
    fails_cleanly(
        &[
            "denoise",
            "apply",
            "--model",
            s(&ifm),
            "--data",
            s(&data),
            "--out",
            s(&dir.join("denoised.csv")),
        ],
        &["denoised.csv", ".nc", ".npz", ".ply"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The result directory of `denoise eval --out` holds what was scored: its scores are the
/// printed ones, `measurement` is the noisy input (`recon_noisy`, nothing hidden), the heat
/// baseline's written fields are closer to the truth than the noisy input by the printed PSNR
/// gap, `denoised.nc` holds the first model's fields, and `meshflow render` draws it.
fn check_eval_result_dir(result: &Path, printed: &serde_json::Value) {
    let meta = read_json(&result.join("result.json"));
    assert_eq!(meta["scores"], printed["methods"]);
    assert_eq!(meta["fields"], printed["fields"]);
    assert_eq!(printed["out"], s(result));
    assert_eq!(meta["task"], "denoise");
    assert_eq!(
        meta["mean_method"], "icm",
        "the first model is the written field"
    );
    let arrays = meshflow::datasets::npy::read_npz(result.join("result.npz")).unwrap();
    let get = |k: &str| {
        arrays
            .get(k)
            .unwrap_or_else(|e| panic!("result.npz lacks {k}: {e}"))
            .to_f32()
    };
    let v = (NLAT - 2) * NLON + 2;
    let truth = get("truth");
    assert_eq!(truth.shape, [2, v]);
    let noisy = get("measurement");
    assert_eq!(noisy.data, get("recon_noisy").data);
    assert!(get("mask").data.iter().all(|&m| m == 1.0));
    for name in ["icm", "ifm", "heat-sure", "tweedie"] {
        assert_eq!(get(&format!("recon_{name}")).shape, [2, v], "{name}");
    }
    // Plain (unweighted) mean squared errors of the written fields: the ratio must follow the
    // printed PSNR gap (area weights move it a little, not by decibels).
    let mse = |a: &[f32]| {
        let t = &truth.data;
        a.iter()
            .zip(t)
            .map(|(x, y)| ((x - y) as f64).powi(2))
            .sum::<f64>()
            / t.len() as f64
    };
    let psnr = |name: &str| method(printed, name)["psnr"].as_f64().unwrap();
    let written_gap = 10.0 * (mse(&noisy.data) / mse(&get("recon_heat-sure").data)).log10();
    let printed_gap = psnr("heat-sure") - psnr("noisy");
    assert!(
        (written_gap - printed_gap).abs() < 1.0,
        "written fields give a {written_gap:.2} dB gain, the table {printed_gap:.2} dB"
    );
    // The grid file holds the first model (icm), in physical units as result.npz.
    let nc = read_variable(result.join("denoised.nc"), Some("temperature")).unwrap();
    assert_eq!(nc.num_fields(), 2);
    assert!(!result.join("imputed.nc").exists());
    let icm = get("recon_icm");
    let mean = get("mean");
    assert_eq!(mean.data, icm.data);
    let figures = result.join("figures");
    succeeds(&["render", s(result), "--out", s(&figures), "--quiet"]);
    let pngs = std::fs::read_dir(&figures).unwrap().count();
    assert_eq!(pngs, 2, "one figure per field");
}

/// The eigenbasis a spectral run trained with is stored in `eigenbasis.npz` and read back by
/// `eval` (no recomputation; a doctored file changes the scores, so it is really used);
/// without the file, two runs with the same number of modes share one recomputed basis and
/// score as the stored one did; a corrupt file is a clear error.
fn check_stored_eigenbasis(run: &Path, psnr: f64) {
    use meshflow::datasets::npy::{read_npz, write_npz, NpyArray};
    let file = run.join("eigenbasis.npz");
    let npz = read_npz(&file).unwrap();
    let v = (NLAT - 2) * NLON + 2;
    assert_eq!(npz.get("values").unwrap().shape(), &[16]);
    assert_eq!(npz.get("vectors").unwrap().shape(), &[16, v]);
    assert_eq!(npz.get("mesh_sha256").unwrap().shape(), &[32]);
    let eval = |models: &[&Path]| {
        let mut args = vec!["denoise", "eval", "--json"];
        for m in models {
            args.extend(["--model", s(m)]);
        }
        let out = meshflow(&args);
        assert!(out.status.success(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (json, stderr.matches("eigenmodes").count())
    };
    let (_, computed) = eval(&[run]);
    assert_eq!(computed, 0, "the stored basis is read, not recomputed");
    // Swap eigenvectors 1 and 5 in the file: the per-mode gains now act on other modes.
    let original = std::fs::read(&file).unwrap();
    let mut vectors = npz.get("vectors").unwrap().to_f64();
    for r in 0..v {
        vectors.data.swap(v + r, 5 * v + r);
    }
    let (values, mass, digest) = (
        npz.get("values").unwrap(),
        npz.get("mass").unwrap(),
        npz.get("mesh_sha256").unwrap(),
    );
    let vectors = NpyArray::F64(vectors);
    let members = [
        ("values", &values),
        ("vectors", &vectors),
        ("mass", &mass),
        ("mesh_sha256", &digest),
    ];
    write_npz(&file, &members).unwrap();
    let (doctored, _) = eval(&[run]);
    let doctored = method(&doctored, "icm-spectral")["psnr"].as_f64().unwrap();
    assert!((doctored - psnr).abs() > 1e-6, "{doctored} vs {psnr}");
    // A corrupt file is named, with what to do about it.
    std::fs::write(&file, b"not a zip archive").unwrap();
    fails_cleanly(
        &["denoise", "eval", "--model", s(run)],
        &["eigenbasis.npz", "delete it"],
    );
    // Without the file the basis is recomputed, once for two runs, and gives the same scores.
    std::fs::remove_file(&file).unwrap();
    let (twice, computed) = eval(&[run, run]);
    assert_eq!(computed, 1, "one basis computed for both runs");
    let second = format!("icm-spectral:{}", s(run));
    for name in ["icm-spectral", second.as_str()] {
        assert_eq!(method(&twice, name)["psnr"].as_f64(), Some(psnr), "{twice}");
    }
    std::fs::write(&file, original).unwrap();
}

/// `--network spectral`: the run records the network in its config.json, resumes (the
/// eigenbasis is recomputed from the mesh), is scored as `icm-spectral` by `eval` and applies.
#[test]
fn spectral_denoiser_trains_resumes_evaluates_and_applies() {
    let dir = tmp_dir("cli-denoise-spectral");
    let data = dir.join("fields.npz");
    write_fields(&data);
    let run = dir.join("icm-spectral");
    let extra = [
        "--network",
        "spectral",
        "--modes",
        "16",
        "--hidden",
        "16",
        "--batch-size",
        "8",
    ];
    let train_args = |steps| train_args(&data, "icm", &run, steps, &extra);
    succeeds(&refs(&train_args("6")));
    let config = read_json(&run.join("config.json"));
    assert_eq!(config["spectral"]["modes"], 16, "{config}");
    let mut resume = train_args("9");
    resume.push("--resume".into());
    // The network and time grid are fixed at the start: changing one on --resume is refused
    // (it would be silently ignored), repeating them (as `resume` does) is fine.
    for change in [
        &["--modes", "8"][..],
        &["--t-max", "0.5"],
        &["--network", "mlp"],
    ] {
        let flag = change[0];
        let args = crate::train_args(&data, "icm", &run, "9", &[&["--resume"], change].concat());
        fails_cleanly(
            &refs(&args),
            &[&format!("{flag} cannot change on --resume"), "config.json"],
        );
    }
    succeeds(&refs(&resume));
    let history = std::fs::read_to_string(run.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 1 + 9);
    let out = json_of(&["denoise", "eval", "--model", s(&run), "--json"]);
    let psnr = method(&out, "icm-spectral")["psnr"].as_f64();
    assert!(psnr.is_some_and(f64::is_finite), "{out}");
    check_stored_eigenbasis(&run, psnr.unwrap());
    let npz = dir.join("denoised.npz");
    apply(&run, &data, "0:2", &npz);
    let arrays = meshflow::datasets::npy::read_npz(&npz).unwrap();
    assert_eq!(arrays.get("temperature").unwrap().shape()[0], 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_denoise_input_is_explained() {
    let dir = tmp_dir("cli-denoise-bad");
    let data = dir.join("fields.npz");
    write_fields(&data);
    let out = dir.join("m");
    let train_with = |method: &str, noise: &str| {
        vec![
            "denoise".to_string(),
            "train".into(),
            "--method".into(),
            method.into(),
            "--data".into(),
            s(&data).into(),
            "--noise".into(),
            noise.into(),
            "--out".into(),
            s(&out).into(),
        ]
    };
    let args = train_with("icm", "blur:3");
    fails_cleanly(
        &refs(&args),
        &["--noise", "unknown noise `blur`", "gaussian:SIGMA"],
    );
    let args = train_with("icm", "gaussian:-1");
    fails_cleanly(&refs(&args), &["SIGMA must be"]);
    let args = train_with("magic", "gaussian:0.1");
    fails_cleanly(&refs(&args), &["unknown method `magic`", "icm", "ifm"]);
    assert!(!out.join("meshflow.json").exists());
    // A directory without a run, and a prior run, are not denoisers.
    fails_cleanly(
        &[
            "denoise",
            "eval",
            "--model",
            s(&dir),
            "--noise",
            "gaussian:0.1",
        ],
        &["meshflow.json", "denoise train"],
    );
    let prior = dir.join("prior");
    train_tiny_prior(&data, &prior);
    fails_cleanly(
        &["denoise", "eval", "--model", s(&prior)],
        &["not a denoiser run", "meshflow denoise train"],
    );
    fails_cleanly(
        &[
            "denoise",
            "apply",
            "--model",
            s(&prior),
            "--data",
            s(&data),
            "--out",
            s(&dir.join("x.nc")),
        ],
        &["not a denoiser run"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--keep-checkpoints` keeps that many of the latest checkpoints (the default keeps 2), may
/// change on `--resume` (written to `config.json`), and 0 is refused.
#[test]
fn keep_checkpoints_is_honoured_and_may_change_on_resume() {
    let dir = tmp_dir("cli-denoise-keep");
    let data = dir.join("fields.npz");
    write_fields(&data);
    let out = dir.join("icm");
    let args = |steps: &str, keep: &str| {
        let extra = [
            "--hidden",
            "16",
            "--batch-size",
            "4",
            "--checkpoint-every",
            "1",
            "--keep-checkpoints",
            keep,
        ];
        train_args(&data, "icm", &out, steps, &extra)
    };
    let checkpoints = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("checkpoint-"))
            .collect();
        names.sort();
        names
    };
    fails_cleanly(&refs(&args("4", "0")), &["keep_checkpoints must be >= 1"]);
    let _ = std::fs::remove_dir_all(&out);
    succeeds(&refs(&args("4", "3")));
    assert_eq!(
        checkpoints(),
        [
            "checkpoint-000000002",
            "checkpoint-000000003",
            "checkpoint-000000004"
        ]
    );
    // A kept checkpoint is a model of its own for eval: the latest one scores as the run,
    // an earlier one (other weights) differently.
    let ckpt = |n: &str| out.join(format!("checkpoint-00000000{n}"));
    let (early, last) = (ckpt("2"), ckpt("4"));
    let scored = json_of(&[
        "denoise",
        "eval",
        "--model",
        s(&out),
        "--model",
        s(&last),
        "--model",
        s(&early),
        "--json",
    ]);
    let psnr = |name: String| method(&scored, &name)["psnr"].as_f64().unwrap();
    let run = psnr("icm".into());
    assert_eq!(psnr(format!("icm:{}", s(&last))), run, "{scored}");
    assert_ne!(psnr(format!("icm:{}", s(&early))), run, "{scored}");
    let mut resume = args("6", "1");
    resume.push("--resume".into());
    succeeds(&refs(&resume));
    assert_eq!(checkpoints(), ["checkpoint-000000006"]);
    assert_eq!(read_json(&out.join("config.json"))["keep_checkpoints"], 1);
    let mut zero = args("6", "0");
    zero.push("--resume".into());
    fails_cleanly(&refs(&zero), &["--keep-checkpoints must be >= 1"]);
}

//! End-to-end tests of `meshflow train-prior`, `train-sampler` and `impute` through the binary,
//! on synthetic smooth temperature-like fields written as a GASP-style `.npz` (so they run
//! offline everywhere): the run directories, resuming, the metrics table, the result files in
//! the users' formats, and clear errors on bad input.

use std::path::Path;

use meshflow::datasets::field::read_variable;
use meshflow::datasets::npy::read_npz;

mod common;
use common::{
    fails_cleanly, json_of, method, read_json, s, succeeds, tmp_dir, train_tiny_prior,
    write_fields, NLAT, NLON, TIMES,
};

fn history_rows(dir: &Path) -> Vec<(usize, f64)> {
    std::fs::read_to_string(dir.join("history.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let (a, b) = l.split_once(',').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect()
}

#[test]
fn train_prior_sampler_and_impute_end_to_end() {
    let dir = tmp_dir("cli-flows-e2e");
    let data = dir.join("fields.npz");
    write_fields(&data);
    let prior = dir.join("prior");
    let sampler = dir.join("sampler");
    let result = dir.join("result");

    // Prior: 12 steps, then resumed to 20 (as after a kill); history follows the run.
    succeeds(&[
        "train-prior",
        "--data",
        s(&data),
        "--out",
        s(&prior),
        "--steps",
        "12",
        "--checkpoint-every",
        "6",
        "--hidden",
        "64",
        "--quiet",
    ]);
    assert_eq!(history_rows(&prior).len(), 12);
    // The resume's options come from a config file (`--data` stays on the command line and
    // overrides the file's), and `--json` reports the run.
    let config = dir.join("resume.toml");
    std::fs::write(
        &config,
        "data = \"not-this-file.npz\"\n[train-prior]\nsteps = 20\nresume = true\njson = true\n",
    )
    .unwrap();
    let report = json_of(&[
        "train-prior",
        "--data",
        s(&data),
        "--out",
        s(&prior),
        "--config",
        s(&config),
    ]);
    assert_eq!(report["model"], "prior");
    assert_eq!(report["steps"], 20);
    assert!(report["last_loss"].as_f64().unwrap().is_finite());
    assert!(report["checkpoint"]
        .as_str()
        .unwrap()
        .ends_with("checkpoint-000000020"));
    let rows = history_rows(&prior);
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        (1..=20).collect::<Vec<_>>()
    );
    assert!(prior.join("checkpoint-000000020").is_dir());
    // The network is fixed when the run starts: another width on --resume is refused.
    fails_cleanly(
        &[
            "train-prior",
            "--data",
            s(&data),
            "--out",
            s(&prior),
            "--resume",
            "--hidden",
            "32",
        ],
        &["--hidden cannot change on --resume", "64", "config.json"],
    );
    let meta = read_json(&prior.join("meshflow.json"));
    let train: Vec<u64> = meta["train"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let test: Vec<u64> = meta["test"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(train.len() + test.len(), TIMES);
    assert_eq!(test.len(), 2, "25 % of 8 times held out");
    assert!(test.iter().all(|t| !train.contains(t)));

    // Sampler on the ERA5 task's degradation.
    succeeds(&[
        "train-sampler",
        "--prior",
        s(&prior),
        "--task",
        "era5-imputation",
        "--out",
        s(&sampler),
        "--steps",
        "4",
        "--batch-size",
        "4",
        "--flow-steps",
        "2",
        "--context-embedding",
        "16",
        "--quiet",
    ]);
    let config = read_json(&sampler.join("config.json"));
    assert_eq!(config["flow"]["context_embedding"], 16, "{config}");
    // Resuming with another flow depth or another task's degradation is refused.
    for (change, needle) in [
        (
            ["--flow-steps", "3", "--task", "era5-imputation"],
            "--flow-steps",
        ),
        (
            ["--flow-steps", "2", "--task", "bunny-mnist"],
            "--mask-rate",
        ),
    ] {
        let mut args = vec![
            "train-sampler",
            "--prior",
            s(&prior),
            "--out",
            s(&sampler),
            "--resume",
        ];
        args.extend(change);
        fails_cleanly(&args, &[&format!("{needle} cannot change on --resume")]);
    }
    let meta = read_json(&sampler.join("meshflow.json"));
    assert_eq!(meta["mask_rate"], 0.6);
    assert_eq!(meta["noise_sigma"], 0.05);
    // Without --context-embedding the task picks it: the raw context (no encoder) for
    // Bunny-MNIST, the 128-wide embedding for any other degradation.
    for (task, embedding) in [
        ("bunny-mnist", serde_json::Value::Null),
        ("era5-imputation", 128.into()),
    ] {
        let out = dir.join(format!("sampler-{task}"));
        succeeds(&[
            "train-sampler",
            "--prior",
            s(&prior),
            "--task",
            task,
            "--out",
            s(&out),
            "--steps",
            "1",
            "--batch-size",
            "2",
            "--flow-steps",
            "1",
            "--quiet",
        ]);
        let config = read_json(&out.join("config.json"));
        assert_eq!(
            config["flow"]["context_embedding"], embedding,
            "{task}: {config}"
        );
    }

    // Impute the two held-out fields with every method on the same measurements.
    let out = json_of(&[
        "impute",
        "--sampler",
        s(&sampler),
        "--out",
        s(&result),
        "--samples",
        "8",
        "--dps-steps",
        "20",
        "--json",
    ]);
    let names: Vec<&str> = out["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for m in [
        "cnf-mean",
        "cnf-sample",
        "dps",
        "mcg",
        "noisy",
        "nearest",
        "harmonic",
        "kriging",
    ] {
        assert!(names.contains(&m), "{m} missing from {names:?}");
    }
    // On smooth fields the classical fills must beat the raw measurement by far, and the
    // kriging posterior must report a calibrated-ish uncertainty.
    let noisy = method(&out, "noisy")["rmse"].as_f64().unwrap();
    for m in ["nearest", "harmonic", "kriging"] {
        let r = method(&out, m)["rmse"].as_f64().unwrap();
        assert!(r < 0.25 * noisy, "{m}: rmse {r} vs noisy {noisy}");
    }
    let cover = method(&out, "kriging")["coverage_2std"].as_f64().unwrap();
    assert!((0.7..=1.0).contains(&cover), "kriging coverage {cover}");
    assert!(method(&out, "cnf-mean")["coverage_2std"].as_f64().is_some());
    // The training selection given again still imputes only the held-out fields.
    let again = json_of(&[
        "impute",
        "--sampler",
        s(&sampler),
        "--data",
        s(&data),
        "--methods",
        "nearest",
        "--out",
        s(&dir.join("again")),
        "--json",
    ]);
    assert_eq!(again["fields"], out["fields"]);

    // Result files: the npz for render/view, and CF NetCDF that reads back on the same grid.
    let npz = read_npz(result.join("result.npz")).unwrap();
    let v = (NLAT - 2) * NLON + 2;
    for key in [
        "truth",
        "measurement",
        "mask",
        "mean",
        "std",
        "samples",
        "recon_kriging",
        "lat",
        "lon",
    ] {
        assert!(npz.contains(key), "{key} missing: {:?}", npz.keys());
    }
    assert_eq!(npz.get("truth").unwrap().shape(), &[2, v]);
    assert_eq!(npz.get("samples").unwrap().shape(), &[2, 8, v]);
    let mask = npz.get("mask").unwrap();
    let mask = mask.as_u8().unwrap();
    let hidden = mask.data.iter().filter(|&&m| m == 0).count();
    assert_eq!(hidden, 2 * (0.6 * v as f64).round() as usize);
    let mean = npz.get("recon_cnf-mean").unwrap().to_f32();
    let nc = read_variable(result.join("imputed.nc"), Some("temperature")).unwrap();
    assert_eq!((nc.nlat(), nc.nlon(), nc.num_fields()), (NLAT, NLON, 2));
    // Equator row, first column: vertex 1 + 5 · NLON (row 6 of 13, pole rows collapsed).
    let vertex = 1 + 5 * NLON;
    let grid_value = nc.field(1)[6 * NLON];
    assert!((grid_value - mean.data[v + vertex]).abs() < 1e-3);
    let flags = read_variable(result.join("imputed.nc"), Some("infilled")).unwrap();
    assert_eq!(
        flags.field(1)[6 * NLON],
        (mask.data[v + vertex] == 0) as u8 as f32
    );
    let json = read_json(&result.join("result.json"));
    assert_eq!(json["discretisation"]["kind"], "grid");
    assert_eq!(json["fields"].as_array().unwrap().len(), 2);
    assert_eq!(json["task"], "impute");
    assert_eq!(json["mean_method"], "cnf-mean");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_training_and_imputation_input_is_explained() {
    let dir = tmp_dir("cli-flows-bad");
    let data = dir.join("fields.npz");
    write_fields(&data);
    fails_cleanly(
        &["train-prior", "--out", s(&dir.join("p"))],
        &["no data selected", "--data"],
    );
    fails_cleanly(
        &[
            "train-prior",
            "--data",
            s(&dir.join("missing.grib")),
            "--out",
            s(&dir.join("p")),
        ],
        &["missing.grib"],
    );
    fails_cleanly(
        &[
            "train-prior",
            "--data",
            s(&data),
            "--fields",
            "40:50",
            "--out",
            s(&dir.join("p")),
        ],
        &["`40:50` selects none of the 8 fields"],
    );
    fails_cleanly(
        &[
            "train-prior",
            "--data",
            s(&data),
            "--regrid",
            "latlon:7",
            "--out",
            s(&dir.join("p")),
        ],
        &["--regrid", "latlon:7"],
    );
    fails_cleanly(
        &[
            "train-sampler",
            "--prior",
            s(&dir),
            "--task",
            "era5-imputation",
            "--out",
            s(&dir.join("s")),
        ],
        &["meshflow.json"],
    );
    fails_cleanly(
        &[
            "impute",
            "--sampler",
            s(&dir),
            "--methods",
            "magic",
            "--out",
            s(&dir.join("r")),
        ],
        &["unknown method `magic`", "cnf-mean"],
    );
    // A prior is not a sampler.
    let prior = dir.join("prior");
    train_tiny_prior(&data, &prior);
    fails_cleanly(
        &["impute", "--sampler", s(&prior), "--out", s(&dir.join("r"))],
        &["not a sampler run"],
    );
    fails_cleanly(
        &[
            "train-sampler",
            "--prior",
            s(&prior),
            "--out",
            s(&dir.join("s")),
            "--mask-rate",
            "1.5",
            "--sigma",
            "0.1",
        ],
        &["--mask-rate"],
    );
    // A run directory is never overwritten by a fresh run.
    fails_cleanly(
        &[
            "train-prior",
            "--data",
            s(&data),
            "--out",
            s(&prior),
            "--steps",
            "2",
        ],
        &["checkpoint"],
    );
    // Settings that would give a run without a checkpoint, or results that are no posterior
    // mean, std or DPS sample, are refused up front.
    fails_cleanly(
        &[
            "train-prior",
            "--data",
            s(&data),
            "--out",
            s(&dir.join("p0")),
            "--steps",
            "0",
        ],
        &["--steps must be >= 1"],
    );
    let r = dir.join("r");
    for (flag, value, needle) in [
        ("--samples", "1", "--samples must be >= 2"),
        ("--dps-steps", "0", "at least 1 step"),
        (
            "--dps-step-size=-1",
            "",
            "step size must be finite and >= 0",
        ),
    ] {
        let mut args = vec!["impute", "--sampler", s(&dir), "--out", s(&r), flag];
        if !value.is_empty() {
            args.push(value);
        }
        fails_cleanly(&args, &[needle]);
    }
    // A sampler selection of another variable than the prior's (geopotential against a
    // temperature prior: both on the built-in ERA5 grid, so only the units tell).
    let era5_prior = dir.join("era5-prior");
    succeeds(&[
        "train-prior",
        "--data",
        "era5",
        "--var",
        "t",
        "--out",
        s(&era5_prior),
        "--steps",
        "1",
        "--hidden",
        "8",
        "--quiet",
    ]);
    fails_cleanly(
        &[
            "train-sampler",
            "--prior",
            s(&era5_prior),
            "--data",
            "era5",
            "--var",
            "z",
            "--task",
            "era5-imputation",
            "--out",
            s(&dir.join("s-z")),
        ],
        &["`z` is in m**2 s**-2", "`t` in K"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

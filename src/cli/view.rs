//! `meshflow render` (PNG figures) and `meshflow view` (a rerun recording) of a result
//! directory written by `meshflow impute` or `meshflow denoise eval --out`.
//!
//! A result directory holds `result.json` (`discretisation.kind` `grid` or `mesh`, `fields`,
//! `methods`, `units`, `samples`), `result.npz` (`measurement`, `mask`, optional `truth`,
//! `mean`, `std`, `samples`, one `recon_<method>` per method, and `lat`/`lon` for grids) and,
//! for meshes, `mesh.ply`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::progress::Progress;
use crate::datasets::field::FieldRange;
use crate::datasets::npy::read_npz;
use crate::datasets::NdArray;
use crate::geometry::{io::load_mesh, sphere::SphereGrid, TriMesh};
use meshflow_viewers::figure::{camera_for, reconstruction_figure, SummaryOptions, View};
use meshflow_viewers::recording::{
    entity_name, log_reconstruction, log_training_curve, send_reconstruction_blueprint,
    RecordingOptions,
};
use meshflow_viewers::Reconstruction;

/// Arguments of `meshflow render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// A result directory written by `meshflow impute` or `denoise eval --out` (result.json,
    /// result.npz, and mesh.ply for mesh results).
    pub result: PathBuf,
    /// Where to write the PNGs (one per field); default `RESULT/figures`.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Camera for mesh results: front, side, top, back or oblique. Grid results are drawn as
    /// latitude–longitude maps.
    #[arg(long, default_value = "oblique", value_parser = parse_view)]
    pub camera: View,
    /// The fields to draw, Python slice syntax over the result's fields: `0:4`, `-1`, `::2`.
    #[arg(long, value_name = "A:B", allow_hyphen_values = true)]
    pub fields: Option<String>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// No progress bar; print one JSON object `{"figures": [PNG paths]}` instead of one path
    /// per line.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `meshflow view`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("sink").required(true).multiple(true).args(["save", "spawn"])))]
pub struct ViewArgs {
    /// A result directory written by `meshflow impute` or `denoise eval --out`.
    pub result: PathBuf,
    /// Save the recording to this file (open it later with `rerun FILE.rrd`).
    #[arg(long, value_name = "FILE.rrd")]
    pub save: Option<PathBuf>,
    /// Open the rerun viewer (the `rerun` executable, rerun-sdk 0.36.3) and stream to it.
    #[arg(long)]
    pub spawn: bool,
    /// The fields to show, Python slice syntax over the result's fields.
    #[arg(long, value_name = "A:B", allow_hyphen_values = true)]
    pub fields: Option<String>,
    /// A model directory whose training history (`history.csv`, columns `step,loss`) is
    /// shown as a curve on the `step` timeline.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// No progress bar; print one JSON object `{"recording": FILE.rrd or null, "fields": N}`.
    #[arg(long)]
    pub json: bool,
}

fn parse_view(s: &str) -> std::result::Result<View, String> {
    s.parse::<View>().map_err(|e| e.to_string())
}

/// `result.json`.
#[derive(Debug, Deserialize)]
struct ResultMeta {
    discretisation: Discretisation,
    fields: Vec<String>,
    #[serde(default)]
    methods: Vec<String>,
    #[serde(default)]
    units: String,
    /// `impute` (absent in older results) or `denoise`.
    #[serde(default)]
    task: Option<String>,
    /// The method whose reconstruction `mean` holds.
    #[serde(default)]
    mean_method: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Discretisation {
    Grid,
    Mesh,
}

/// The surface of a result.
enum Surface {
    Grid(SphereGrid),
    Mesh(TriMesh),
}

/// A result directory, opened: its metadata, surface and arrays.
struct ResultDir {
    meta: ResultMeta,
    surface: Surface,
    measurement: NdArray<f32>,
    mask: NdArray<f32>,
    truth: Option<NdArray<f32>>,
    mean: Option<NdArray<f32>>,
    std: Option<NdArray<f32>>,
    samples: Option<NdArray<f32>>,
    methods: Vec<(String, NdArray<f32>)>,
}

/// One field of a result, owned.
struct FieldResult {
    truth: Option<Vec<f32>>,
    measurement: Vec<f32>,
    mask: Vec<bool>,
    mean: Vec<f32>,
    std: Option<Vec<f32>>,
    samples: Vec<Vec<f32>>,
    methods: Vec<(String, Vec<f32>)>,
}

impl ResultDir {
    fn open(dir: &Path) -> Result<Self> {
        let json_path = dir.join("result.json");
        let text = std::fs::read_to_string(&json_path).with_context(|| {
            format!(
                "{} is not a result directory (no readable result.json; `meshflow impute` \
                 writes one)",
                dir.display()
            )
        })?;
        let meta: ResultMeta = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a meshflow result", json_path.display()))?;
        let npz_path = dir.join("result.npz");
        let npz = read_npz(&npz_path).with_context(|| format!("reading {}", npz_path.display()))?;
        let surface =
            match meta.discretisation {
                Discretisation::Grid => {
                    let lat = npz.get("lat")?.to_f64().data;
                    let lon = npz.get("lon")?.to_f64().data;
                    Surface::Grid(SphereGrid::from_latlon_coords(&lat, &lon).with_context(
                        || format!("{}: the lat/lon coordinates", npz_path.display()),
                    )?)
                }
                Discretisation::Mesh => {
                    let p = dir.join("mesh.ply");
                    Surface::Mesh(
                        load_mesh(&p)
                            .with_context(|| format!("reading {}", p.display()))?
                            .mesh,
                    )
                }
            };
        let nf = meta.fields.len();
        let nv = match &surface {
            Surface::Grid(g) => g.num_vertices(),
            Surface::Mesh(m) => m.num_vertices(),
        };
        let get = |name: &str, required: bool| -> Result<Option<NdArray<f32>>> {
            if !npz.contains(name) {
                if required {
                    bail!("{}: no array `{name}`", npz_path.display());
                }
                return Ok(None);
            }
            let a = npz.get(name)?.to_f32();
            let ok = match name {
                "samples" => a.shape.len() == 3 && a.shape[0] == nf && a.shape[2] == nv,
                _ => a.shape == [nf, nv],
            };
            if !ok {
                bail!(
                    "{}: `{name}` has shape {:?}, expected [{nf}{}, {nv}] ({nf} fields, {nv} vertices)",
                    npz_path.display(),
                    a.shape,
                    if name == "samples" { ", S" } else { "" }
                );
            }
            Ok(Some(a))
        };
        let measurement = get("measurement", true)?.expect("required");
        let mask = get("mask", true)?.expect("required");
        let (truth, mean, std, samples) = (
            get("truth", false)?,
            get("mean", false)?,
            get("std", false)?,
            get("samples", false)?,
        );
        let methods = meta
            .methods
            .iter()
            .map(|m| Ok(get(&format!("recon_{m}"), false)?.map(|a| (m.clone(), a))))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        if mean.is_none() && methods.is_empty() {
            bail!(
                "{}: neither `mean` nor any `recon_<method>` array",
                npz_path.display()
            );
        }
        Ok(ResultDir {
            meta,
            surface,
            measurement,
            mask,
            truth,
            mean,
            std,
            samples,
            methods,
        })
    }

    fn mesh(&self) -> &TriMesh {
        match &self.surface {
            Surface::Grid(g) => g.mesh(),
            Surface::Mesh(m) => m,
        }
    }

    fn grid(&self) -> Option<&SphereGrid> {
        match &self.surface {
            Surface::Grid(g) => Some(g),
            Surface::Mesh(_) => None,
        }
    }

    /// The fields selected by `--fields` (all by default).
    fn selection(&self, fields: Option<&str>) -> Result<Vec<usize>> {
        let range = fields
            .map(str::parse::<FieldRange>)
            .transpose()
            .context("--fields")?
            .unwrap_or_else(FieldRange::all);
        range.resolve(self.meta.fields.len()).context("--fields")
    }

    fn field(&self, f: usize) -> FieldResult {
        let nv = self.mesh().num_vertices();
        let row = |a: &NdArray<f32>| a.data[f * nv..(f + 1) * nv].to_vec();
        let methods: Vec<(String, Vec<f32>)> = self
            .methods
            .iter()
            .map(|(m, a)| (m.clone(), row(a)))
            .collect();
        let samples = self
            .samples
            .as_ref()
            .map(|a| {
                let s = a.shape[1];
                (0..s)
                    .map(|k| a.data[(f * s + k) * nv..(f * s + k + 1) * nv].to_vec())
                    .collect()
            })
            .unwrap_or_default();
        FieldResult {
            truth: self.truth.as_ref().map(row),
            measurement: row(&self.measurement),
            mask: row(&self.mask).iter().map(|&m| m != 0.0).collect(),
            mean: self.mean.as_ref().map_or_else(|| methods[0].1.clone(), row),
            std: self.std.as_ref().map(row),
            samples,
            methods,
        }
    }

    fn reconstruction<'a>(&'a self, r: &'a FieldResult) -> Reconstruction<'a> {
        let base = Reconstruction {
            truth: r.truth.as_deref(),
            samples: &r.samples,
            mean: &r.mean,
            std: r.std.as_deref(),
            baselines: &r.methods,
            units: &self.meta.units,
            ..Reconstruction::new(self.mesh(), &r.measurement, &r.mask)
        };
        // A denoising result: the measurement is the noisy input, the mean one model's output.
        let base = match (self.meta.task.as_deref(), &self.meta.mean_method) {
            (Some("denoise"), Some(method)) => Reconstruction {
                measurement_name: "noisy input",
                mean_name: method,
                ..base
            },
            _ => base,
        };
        match self.grid() {
            Some(g) => base.with_grid(g),
            None => base,
        }
    }
}

/// `meshflow render RESULT [--out DIR] [--camera VIEW] [--fields A:B]`.
pub(crate) fn render(args: &RenderArgs) -> Result<()> {
    let result = ResultDir::open(&args.result)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.result.join("figures"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let fields = result.selection(args.fields.as_deref())?;
    let mut bar = Progress::new("render", fields.len(), 0, args.quiet || args.json);
    let mut written = Vec::with_capacity(fields.len());
    for f in fields {
        let label = &result.meta.fields[f];
        let field = result.field(f);
        let r = result.reconstruction(&field);
        let title = if result.meta.units.is_empty() {
            label.clone()
        } else {
            format!("{label} ({})", result.meta.units)
        };
        let opts = SummaryOptions {
            camera: camera_for(&r, args.camera),
            ..Default::default()
        };
        let fig = reconstruction_figure(&r, &title, &opts)
            .with_context(|| format!("drawing field {f} ({label})"))?;
        let path = out.join(format!("{f:03}_{}.png", entity_name(label)));
        fig.save_png(&path)?;
        bar.tick(label);
        written.push(path);
    }
    bar.finish();
    if args.json {
        println!("{}", serde_json::json!({ "figures": written }));
    } else {
        for p in &written {
            println!("{}", p.display());
        }
    }
    Ok(())
}

/// `meshflow view RESULT (--save FILE.rrd | --spawn) [--fields A:B] [--model DIR]`.
pub(crate) fn view(args: &ViewArgs) -> Result<()> {
    let result = ResultDir::open(&args.result)?;
    let fields = result.selection(args.fields.as_deref())?;
    let rec = RecordingOptions {
        save: args.save.clone(),
        spawn: args.spawn,
        application_id: "meshflow".into(),
    }
    .open()?;
    let mut tabs = Vec::new();
    let mut used = std::collections::HashSet::new();
    let mut bar = Progress::new("record", fields.len(), 0, args.quiet || args.json);
    let count = fields.len();
    for f in fields {
        let label = &result.meta.fields[f];
        let mut name = entity_name(label);
        if !used.insert(name.clone()) {
            name = format!("{name}_{f}");
            used.insert(name.clone());
        }
        let root = format!("fields/{name}");
        let field = result.field(f);
        let logged = log_reconstruction(&rec, &root, &result.reconstruction(&field))
            .with_context(|| format!("logging field {f} ({label})"))?;
        tabs.push((root, logged));
        bar.tick(label);
    }
    bar.finish();
    let mut curves = None;
    if let Some(model) = &args.model {
        let history = model.join("history.csv");
        if history.is_file() {
            log_history(&rec, &history)?;
            curves = Some("training");
        } else {
            eprintln!(
                "note: {} not found; no training curve shown",
                history.display()
            );
        }
    }
    send_reconstruction_blueprint(&rec, &tabs, curves)?;
    rec.flush_blocking().context("writing the recording")?;
    drop(rec);
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "recording": args.save, "fields": count })
        );
    } else if let Some(p) = &args.save {
        println!("{}", p.display());
    }
    Ok(())
}

/// Logs `history.csv` (`step,loss[,…]`: every column after `step` is a curve) under
/// `training/`.
fn log_history(rec: &meshflow_viewers::rerun::RecordingStream, path: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .collect();
    if header.first() != Some(&"step") || header.len() < 2 {
        bail!("{}: expected a header `step,loss`", path.display());
    }
    for (i, line) in lines.enumerate() {
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        let bad = || {
            format!(
                "{}: line {}: expected {} numbers",
                path.display(),
                i + 2,
                header.len()
            )
        };
        if cols.len() != header.len() {
            bail!(bad());
        }
        let step: u64 = cols[0].parse().with_context(bad)?;
        for (name, v) in header.iter().zip(&cols).skip(1) {
            let v: f64 = v.parse().with_context(bad)?;
            log_training_curve(rec, &format!("training/{}", entity_name(name)), step, v)?;
        }
    }
    Ok(())
}

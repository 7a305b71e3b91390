//! rerun recordings of signals on surfaces.
//!
//! A signal is logged as a `Mesh3D` whose vertex colours come from a [`ColorScale`] (rerun has
//! no scalar colormap on meshes), with the scale's colormap, range and units beside it as
//! `AnyValues` (`colormap`, `vmin`, `vmax`, `units`) so the legend travels with the data. A
//! whole [`Reconstruction`] becomes one entity tree:
//!
//! ```text
//! ROOT/truth                     Mesh3D            (when the truth is known)
//! ROOT/measurement               Mesh3D            unobserved vertices grey
//! ROOT/samples                   Mesh3D            one per index on the `sample` timeline
//! ROOT/mean, ROOT/std            Mesh3D            std in magma
//! ROOT/abs_error/mean            Mesh3D            |mean − truth|, magma
//! ROOT/abs_error/<baseline>      Mesh3D            one scale for all errors
//! ROOT/baselines/<baseline>      Mesh3D
//! ROOT/maps/<name>               Image             equirectangular maps of sphere fields
//! ROOT/legend                    TextDocument      every colour scale in one table
//! ```
//!
//! Fields that compare (truth, measurement, samples, mean, baselines) share one viridis scale.
//! Everything but the samples is static. [`reconstruction_blueprint`] lays the entities out as
//! one view each, so the meshes do not overlap in one 3-D scene.
//!
//! ```
//! use meshflow_geometry::sphere::SphereGrid;
//! use meshflow_viewers::recording::{log_reconstruction, memory_recording, Reconstruction};
//!
//! let grid = SphereGrid::latlon(7, 12).unwrap();
//! let truth: Vec<f32> = grid.lat_deg().iter().map(|&l| l as f32).collect();
//! let mask: Vec<bool> = (0..truth.len()).map(|i| i % 3 == 0).collect();
//! let measurement: Vec<f32> =
//!     truth.iter().zip(&mask).map(|(&t, &m)| if m { t } else { f32::NAN }).collect();
//! let (rec, storage) = memory_recording("meshflow_doc").unwrap();
//! let r = Reconstruction {
//!     truth: Some(&truth),
//!     mean: &truth,
//!     ..Reconstruction::new(grid.mesh(), &measurement, &mask)
//! };
//! let logged = log_reconstruction(&rec, "t2m", &r.with_grid(&grid)).unwrap();
//! assert!(logged.iter().any(|p| p == "t2m/maps/truth"));
//! rec.flush_blocking().unwrap();
//! assert!(storage.num_msgs() > 0);
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use meshflow_geometry::TriMesh;
use rerun::external::arrow::array::{Float32Array, StringArray};
use rerun::{RecordingStream, RecordingStreamBuilder};

use crate::colormap::ColorScale;
use crate::error::{check_len, Result, ViewerError};
use crate::figure::{default_map_size, render_equirect, VertexField};
use crate::reconstruction::abs_errors;
pub use crate::reconstruction::{Reconstruction, ReconstructionScales};

/// Where a recording goes, in the manner of rerun's `RerunArgs`: saved to an `.rrd` file,
/// streamed to a spawned viewer, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingOptions {
    /// Save the recording to this `.rrd` file.
    pub save: Option<PathBuf>,
    /// Spawn the rerun viewer (the `rerun` executable on `PATH`) and stream to it.
    pub spawn: bool,
    /// The application id shown in the viewer.
    pub application_id: String,
}

impl Default for RecordingOptions {
    fn default() -> Self {
        RecordingOptions {
            save: None,
            spawn: false,
            application_id: "meshflow".into(),
        }
    }
}

impl RecordingOptions {
    /// Opens the recording.
    ///
    /// # Errors
    /// [`ViewerError::InvalidArgument`] when neither `save` nor `spawn` is set;
    /// [`ViewerError::Rerun`] when the file cannot be created or the viewer cannot be
    /// spawned (the message says how to install it).
    pub fn open(&self) -> Result<RecordingStream> {
        let builder = RecordingStreamBuilder::new(rerun::ApplicationId::new_or_unknown(
            self.application_id.clone(),
        ));
        let rerun_err = |e: &dyn std::fmt::Display| ViewerError::Rerun(e.to_string());
        match (&self.save, self.spawn) {
            (None, false) => Err(ViewerError::InvalidArgument(
                "nowhere to send the recording: give a file to save it to (--save FILE.rrd) \
                 or spawn the viewer (--spawn)"
                    .into(),
            )),
            (Some(path), false) => builder.save(path).map_err(|e| rerun_err(&e)),
            (None, true) => builder.spawn().map_err(|e| spawn_error(&e)),
            (Some(path), true) => {
                rerun::spawn(&rerun::SpawnOptions::default()).map_err(|e| spawn_error(&e))?;
                let file = rerun::sink::FileSink::new(path).map_err(|e| rerun_err(&e))?;
                builder
                    .set_sinks((file, rerun::sink::GrpcSink::default()))
                    .map_err(|e| rerun_err(&e))
            }
        }
    }
}

fn spawn_error(e: &dyn std::fmt::Display) -> ViewerError {
    ViewerError::Rerun(format!(
        "cannot spawn the rerun viewer: {e}\nInstall the viewer that matches this build \
         (`pip install rerun-sdk==0.36.3` or `cargo install rerun-cli@0.36.3 --locked`), \
         or save the recording with --save FILE.rrd and open it later with `rerun FILE.rrd`."
    ))
}

/// A recording that logs into memory, for tests: the stream and the storage that collects
/// its messages.
///
/// # Errors
/// [`ViewerError::Rerun`] if the SDK cannot create the stream.
pub fn memory_recording(
    application_id: &str,
) -> Result<(RecordingStream, rerun::sink::MemorySinkStorage)> {
    RecordingStreamBuilder::new(rerun::ApplicationId::new_or_unknown(application_id))
        .memory()
        .map_err(|e| ViewerError::Rerun(e.to_string()))
}

fn rerun_err(e: impl std::fmt::Display) -> ViewerError {
    ViewerError::Rerun(e.to_string())
}

/// The `Mesh3D` of a signal: positions, triangles, vertex normals and the colours of
/// `values` under `scale` (unobserved vertices grey).
fn colored_mesh(
    mesh: &TriMesh,
    values: &[f32],
    mask: Option<&[bool]>,
    scale: &ColorScale,
) -> Result<rerun::Mesh3D> {
    let n = mesh.num_vertices();
    check_len("vertex values", n, values.len())?;
    if let Some(m) = mask {
        check_len("vertex mask", n, m.len())?;
    }
    let positions = mesh
        .positions()
        .iter()
        .map(|p| [p.x as f32, p.y as f32, p.z as f32]);
    let triangles = mesh
        .faces()
        .iter()
        .map(|f| [f[0] as u32, f[1] as u32, f[2] as u32]);
    let normals = mesh
        .vertex_normals()
        .into_iter()
        .map(|v| [v.x as f32, v.y as f32, v.z as f32]);
    let colors = scale.colors(values, mask);
    Ok(rerun::Mesh3D::new(positions)
        .with_triangle_indices(triangles)
        .with_vertex_normals(normals)
        .with_vertex_colors(colors))
}

/// The legend of a scale as `AnyValues`: `colormap`, `vmin`, `vmax`, `units`.
fn legend_values(scale: &ColorScale, units: &str) -> rerun::AnyValues {
    rerun::AnyValues::default()
        .with_component_from_data(
            "colormap",
            Arc::new(StringArray::from(vec![scale.map.name()])),
        )
        .with_component_from_data("vmin", Arc::new(Float32Array::from(vec![scale.vmin])))
        .with_component_from_data("vmax", Arc::new(Float32Array::from(vec![scale.vmax])))
        .with_component_from_data("units", Arc::new(StringArray::from(vec![units])))
}

/// Logs a signal on a surface as a static `Mesh3D` at `entity_path`: one colour per vertex
/// from `scale`, vertices that `mask` marks `false` (not observed) and non-finite values in
/// grey, with vertex normals; and the scale as `AnyValues` (`colormap`, `vmin`, `vmax`,
/// `units`) on the same entity.
///
/// # Errors
/// [`ViewerError::ShapeMismatch`] if `values` or `mask` do not have one entry per vertex;
/// [`ViewerError::Rerun`] if logging fails.
pub fn log_surface_signal(
    rec: &RecordingStream,
    entity_path: &str,
    mesh: &TriMesh,
    values: &[f32],
    mask: Option<&[bool]>,
    scale: &ColorScale,
) -> Result<()> {
    log_signal(rec, entity_path, mesh, values, mask, scale, "", true)
}

fn log_signal(
    rec: &RecordingStream,
    entity_path: &str,
    mesh: &TriMesh,
    values: &[f32],
    mask: Option<&[bool]>,
    scale: &ColorScale,
    units: &str,
    is_static: bool,
) -> Result<()> {
    let m = colored_mesh(mesh, values, mask, scale)?;
    let legend = legend_values(scale, units);
    if is_static {
        rec.log_static(entity_path, &m).map_err(rerun_err)?;
        rec.log_static(entity_path, &legend).map_err(rerun_err)?;
    } else {
        rec.log(entity_path, &m).map_err(rerun_err)?;
        rec.log(entity_path, &legend).map_err(rerun_err)?;
    }
    Ok(())
}

/// Logs one scalar of a training curve (a loss, a metric) at `step` on the `step` timeline,
/// as `Scalars` at `entity_path`.
///
/// # Errors
/// [`ViewerError::Rerun`] if logging fails.
pub fn log_training_curve(
    rec: &RecordingStream,
    entity_path: &str,
    step: u64,
    value: f64,
) -> Result<()> {
    rec.set_time_sequence(STEP_TIMELINE, step as i64);
    let r = rec.log(entity_path, &rerun::Scalars::single(value));
    rec.disable_timeline(STEP_TIMELINE);
    r.map_err(rerun_err)
}

/// The timeline of training curves.
pub const STEP_TIMELINE: &str = "step";
/// The timeline of posterior samples.
pub const SAMPLE_TIMELINE: &str = "sample";

/// An entity-path part made of a user's name: letters, digits, `-`, `_` and `.` kept, every
/// other character replaced by `_`.
pub fn entity_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "_".into()
    } else {
        s
    }
}

/// A static signal to log: entity name, values, mask (true = observed) and colour scale.
type SignalToLog<'a> = (String, &'a [f32], Option<&'a [bool]>, ColorScale);

/// Logs a reconstruction under `root` as described in the [module docs](self); returns the
/// entity paths of the signals logged (meshes and maps, not the legend), in layout order.
///
/// # Errors
/// [`ViewerError::ShapeMismatch`] if a slice does not have one value per vertex;
/// [`ViewerError::Rerun`] if logging fails.
pub fn log_reconstruction(
    rec: &RecordingStream,
    root: &str,
    r: &Reconstruction<'_>,
) -> Result<Vec<String>> {
    r.check()?;
    let root = root.trim_end_matches('/');
    let scales = ReconstructionScales::fit(r);
    let mesh = r.discretisation;
    let units = r.units;
    let coords = if r.grid.is_some() {
        rerun::ViewCoordinates::RIGHT_HAND_Z_UP()
    } else {
        rerun::ViewCoordinates::RIGHT_HAND_Y_UP()
    };
    rec.log_static(root, &coords).map_err(rerun_err)?;

    let mut logged = Vec::new();
    // (name, values, mask, scale) of every static signal, in layout order.
    let mut signals: Vec<SignalToLog<'_>> = Vec::new();
    if let Some(t) = r.truth {
        signals.push(("truth".into(), t, None, scales.field));
    }
    signals.push((
        "measurement".into(),
        r.measurement,
        Some(r.mask),
        scales.field,
    ));
    signals.push(("mean".into(), r.mean, None, scales.field));
    if let (Some(s), Some(scale)) = (r.std, scales.std) {
        signals.push(("std".into(), s, None, scale));
    }
    let errors = match r.truth {
        Some(t) => abs_errors(r, t),
        None => Vec::new(),
    };
    if let Some(scale) = scales.abs_error {
        for (name, e) in &errors {
            signals.push((format!("abs_error/{}", entity_name(name)), e, None, scale));
        }
    }
    for (name, b) in r.baselines {
        signals.push((
            format!("baselines/{}", entity_name(name)),
            b,
            None,
            scales.field,
        ));
    }

    for (name, values, mask, scale) in &signals {
        let path = format!("{root}/{name}");
        log_signal(rec, &path, mesh, values, *mask, scale, units, true)?;
        logged.push(path);
    }

    if !r.samples.is_empty() {
        let path = format!("{root}/samples");
        for (i, s) in r.samples.iter().enumerate() {
            rec.set_time_sequence(SAMPLE_TIMELINE, i as i64);
            let res = log_signal(rec, &path, mesh, s, None, &scales.field, units, false);
            if res.is_err() {
                rec.disable_timeline(SAMPLE_TIMELINE);
                return res.map(|_| Vec::new());
            }
        }
        rec.disable_timeline(SAMPLE_TIMELINE);
        // After the mean in the layout.
        let at = logged
            .iter()
            .position(|p| p.ends_with("/mean"))
            .map_or(logged.len(), |i| i + 1);
        logged.insert(at, path);
    }

    if let Some(grid) = r.grid {
        let (w, h) = default_map_size(grid);
        for (name, values, mask, scale) in &signals {
            if name.starts_with("baselines/")
                || (name.starts_with("abs_error/") && name != "abs_error/mean")
            {
                continue; // the globe has them; the maps show the main panels
            }
            let map = render_equirect(grid, &VertexField::new(values, *mask, *scale), w, h)?;
            let path = format!("{root}/maps/{}", name.replace('/', "_"));
            let image = rerun::Image::from_rgb24(map.image.as_raw().to_vec(), [w, h]);
            rec.log_static(path.as_str(), &image).map_err(rerun_err)?;
            rec.log_static(path.as_str(), &legend_values(scale, units))
                .map_err(rerun_err)?;
            logged.push(path);
        }
    }

    let legend = legend_markdown(&scales, units);
    rec.log_static(
        format!("{root}/legend"),
        &rerun::TextDocument::from_markdown(legend),
    )
    .map_err(rerun_err)?;
    Ok(logged)
}

/// The colour scales as a markdown table.
fn legend_markdown(s: &ReconstructionScales, units: &str) -> String {
    let mut md = String::from(
        "Colour scales (grey: not observed)\n\n| signals | colormap | min | max |\n|---|---|---|---|\n",
    );
    let mut row = |what: &str, c: &ColorScale| {
        md.push_str(&format!(
            "| {what} | {} | {} {units} | {} {units} |\n",
            c.map.name(),
            c.vmin,
            c.vmax
        ));
    };
    row("truth, measurement, samples, mean, baselines", &s.field);
    if let Some(c) = &s.std {
        row("std", c);
    }
    if let Some(c) = &s.abs_error {
        row("absolute errors", c);
    }
    md
}

/// A viewer layout for reconstructions logged by [`log_reconstruction`]: one tab per
/// reconstruction `(root, logged entity paths)`, in it a grid of one view per signal (3-D for
/// meshes, 2-D for maps) and the legend, so that no two meshes share a scene; and, when
/// `curves` names an entity, a tab with its time series (training curves).
pub fn reconstruction_blueprint(
    tabs: &[(String, Vec<String>)],
    curves: Option<&str>,
) -> rerun::blueprint::Blueprint {
    use rerun::blueprint::{
        ContainerLike, Grid, Spatial2DView, Spatial3DView, Tabs, TextDocumentView, TimeSeriesView,
    };
    let mut all: Vec<ContainerLike> = tabs
        .iter()
        .map(|(root, paths)| {
            let mut views: Vec<ContainerLike> = paths
                .iter()
                .map(|p| {
                    let name = p
                        .strip_prefix(root.as_str())
                        .unwrap_or(p)
                        .trim_start_matches('/');
                    if name.starts_with("maps/") {
                        Spatial2DView::new(name).with_origin(p.as_str()).into()
                    } else {
                        Spatial3DView::new(name).with_origin(p.as_str()).into()
                    }
                })
                .collect();
            views.push(
                TextDocumentView::new("legend")
                    .with_origin(format!("{root}/legend"))
                    .into(),
            );
            Grid::new(views).with_name(root.as_str()).into()
        })
        .collect();
    if let Some(c) = curves {
        all.push(TimeSeriesView::new(c).with_origin(c).into());
    }
    rerun::blueprint::Blueprint::new(Tabs::new(all))
}

/// Sends [`reconstruction_blueprint`] to the recording, as the active and default layout.
///
/// # Errors
/// [`ViewerError::Rerun`] if sending fails.
pub fn send_reconstruction_blueprint(
    rec: &RecordingStream,
    tabs: &[(String, Vec<String>)],
    curves: Option<&str>,
) -> Result<()> {
    reconstruction_blueprint(tabs, curves)
        .send(rec, rerun::blueprint::BlueprintActivation::default())
        .map_err(rerun_err)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use meshflow_geometry::sphere::SphereGrid;
    use rerun::external::arrow::array::{Array, Float32Array};
    use rerun::log::{Chunk, LogMsg};
    use rerun::{Loggable, Mesh3D};

    use super::*;
    use crate::colormap::{Colormap, MISSING_COLOR};

    /// Every chunk logged so far, by entity path.
    fn chunks(
        rec: &RecordingStream,
        storage: &rerun::sink::MemorySinkStorage,
    ) -> BTreeMap<String, Vec<Chunk>> {
        rec.flush_blocking().unwrap();
        let mut out: BTreeMap<String, Vec<Chunk>> = BTreeMap::new();
        for msg in storage.take() {
            if let LogMsg::ArrowMsg(_, arrow) = msg {
                let chunk = Chunk::from_arrow_msg(&arrow).unwrap();
                let path = chunk.entity_path().to_string();
                out.entry(path.trim_start_matches('/').to_string())
                    .or_default()
                    .push(chunk);
            }
        }
        out
    }

    /// All values of one component of an entity, over all its chunks and rows.
    fn values<C: Loggable>(chunks: &[Chunk], component: &rerun::ComponentDescriptor) -> Vec<C> {
        chunks
            .iter()
            .filter_map(|c| c.raw_component_array(component.component))
            .flat_map(|a| C::from_arrow(a).unwrap())
            .collect()
    }

    fn rows_with(chunks: &[Chunk], component: &rerun::ComponentDescriptor) -> usize {
        chunks
            .iter()
            .filter(|c| c.components().contains_component(component.component))
            .map(|c| c.num_rows())
            .sum()
    }

    fn any_f32(chunks: &[Chunk], field: &'static str) -> Vec<f32> {
        chunks
            .iter()
            .filter_map(|c| c.raw_component_array(field.into()))
            .flat_map(|a| {
                let a = a.as_any().downcast_ref::<Float32Array>().unwrap();
                a.values().to_vec()
            })
            .collect()
    }

    fn colors(chunks: &[Chunk]) -> Vec<[u8; 3]> {
        values::<rerun::components::Color>(chunks, &Mesh3D::descriptor_vertex_colors())
            .into_iter()
            .map(|c| {
                let [r, g, b, _] = c.to_array();
                [r, g, b]
            })
            .collect()
    }

    #[test]
    fn a_surface_signal_is_a_coloured_mesh_with_its_legend() {
        let grid = SphereGrid::icosphere(1);
        let mesh = grid.mesh();
        let n = mesh.num_vertices();
        let field: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let mask: Vec<bool> = (0..n).map(|i| i % 2 == 0).collect();
        let scale = ColorScale::fit(Colormap::Viridis, &field, Some(&mask));
        let (rec, storage) = memory_recording("test").unwrap();
        log_surface_signal(&rec, "globe/field", mesh, &field, Some(&mask), &scale).unwrap();
        let all = chunks(&rec, &storage);
        let c = &all["globe/field"];
        assert!(c.iter().all(Chunk::is_static));
        let pos =
            values::<rerun::components::Position3D>(c, &Mesh3D::descriptor_vertex_positions());
        assert_eq!(pos.len(), n);
        let tri =
            values::<rerun::components::TriangleIndices>(c, &Mesh3D::descriptor_triangle_indices());
        assert_eq!(tri.len(), mesh.num_faces());
        let normals =
            values::<rerun::components::Vector3D>(c, &Mesh3D::descriptor_vertex_normals());
        assert_eq!(normals.len(), n);
        let col = colors(c);
        assert_eq!(col.len(), n);
        for i in 0..n {
            if mask[i] {
                assert_eq!(col[i], scale.color(field[i]));
            } else {
                assert_eq!(col[i], MISSING_COLOR);
            }
        }
        assert_eq!(any_f32(c, "vmin"), [scale.vmin]);
        assert_eq!(any_f32(c, "vmax"), [scale.vmax]);
        // A wrong length is an error, not a panic.
        assert!(log_surface_signal(&rec, "x", mesh, &field[1..], None, &scale).is_err());
        assert!(log_surface_signal(&rec, "x", mesh, &field, Some(&mask[1..]), &scale).is_err());
    }

    #[test]
    fn training_curves_are_scalars_on_the_step_timeline() {
        let (rec, storage) = memory_recording("test").unwrap();
        for step in 0..5 {
            log_training_curve(&rec, "train/loss", step * 10, 1.0 / (step + 1) as f64).unwrap();
        }
        let all = chunks(&rec, &storage);
        let c = &all["train/loss"];
        let d = rerun::Scalars::descriptor_scalars();
        assert_eq!(rows_with(c, &d), 5);
        let mut steps: Vec<i64> = c
            .iter()
            .flat_map(|c| {
                c.timelines()
                    .get(&STEP_TIMELINE.into())
                    .unwrap()
                    .times_raw()
                    .to_vec()
            })
            .collect();
        steps.sort();
        assert_eq!(steps, [0, 10, 20, 30, 40]);
        let v = values::<rerun::components::Scalar>(c, &d);
        assert_eq!(v.len(), 5);
    }

    #[test]
    fn a_reconstruction_is_one_entity_tree() {
        let grid = SphereGrid::latlon(7, 12).unwrap();
        let n = grid.num_vertices();
        let truth: Vec<f32> = grid
            .lat_deg()
            .iter()
            .map(|&l| 280.0 + l as f32 / 10.0)
            .collect();
        let mask: Vec<bool> = (0..n).map(|i| i % 3 != 0).collect();
        let measurement: Vec<f32> = truth
            .iter()
            .zip(&mask)
            .map(|(&t, &m)| if m { t } else { f32::NAN })
            .collect();
        let samples: Vec<Vec<f32>> = (0..4)
            .map(|k| truth.iter().map(|t| t + k as f32 * 0.1).collect())
            .collect();
        let mean: Vec<f32> = truth.iter().map(|t| t + 0.15).collect();
        let std = vec![0.1f32; n];
        let baselines = vec![(
            "nearest".to_string(),
            truth.iter().map(|t| t - 1.0).collect::<Vec<f32>>(),
        )];
        let r = Reconstruction {
            truth: Some(&truth),
            samples: &samples,
            mean: &mean,
            std: Some(&std),
            baselines: &baselines,
            units: "K",
            ..Reconstruction::new(grid.mesh(), &measurement, &mask)
        }
        .with_grid(&grid);
        let (rec, storage) = memory_recording("test").unwrap();
        let logged = log_reconstruction(&rec, "t2m/", &r).unwrap();
        let expect = [
            "t2m/truth",
            "t2m/measurement",
            "t2m/mean",
            "t2m/samples",
            "t2m/std",
            "t2m/abs_error/mean",
            "t2m/abs_error/nearest",
            "t2m/baselines/nearest",
            "t2m/maps/truth",
            "t2m/maps/measurement",
            "t2m/maps/mean",
            "t2m/maps/std",
            "t2m/maps/abs_error_mean",
        ];
        assert_eq!(logged, expect);
        let all = chunks(&rec, &storage);
        for p in expect.iter().filter(|p| !p.contains("/maps/")) {
            let c = &all[*p];
            let rows = rows_with(c, &Mesh3D::descriptor_vertex_colors());
            assert!(rows >= 1, "{p}");
            assert_eq!(colors(c).len(), rows * n, "{p}");
        }
        // Measurement: unobserved vertices grey, observed ones in the shared field scale.
        let scales = ReconstructionScales::fit(&r);
        let col = colors(&all["t2m/measurement"]);
        for i in 0..n {
            if mask[i] {
                assert_eq!(col[i], scales.field.color(truth[i]));
            } else {
                assert_eq!(col[i], MISSING_COLOR);
            }
        }
        assert_eq!(colors(&all["t2m/truth"])[0], scales.field.color(truth[0]));
        // Errors: 0.15 for the mean, 1 for the baseline, on one scale from 0 to the mean's
        // largest error (a worse baseline saturates instead of washing out the mean's map).
        let err = scales.abs_error.unwrap();
        assert_eq!(err.vmin, 0.0);
        assert!((err.vmax - 0.15).abs() < 1e-3, "{}", err.vmax);
        assert_eq!(any_f32(&all["t2m/abs_error/nearest"], "vmax"), [err.vmax]);
        // Samples: S rows on the `sample` timeline, not static.
        let s = &all["t2m/samples"];
        assert!(s.iter().all(|c| !c.is_static()));
        assert_eq!(rows_with(s, &Mesh3D::descriptor_vertex_colors()), 4);
        let mut idx: Vec<i64> = s
            .iter()
            .flat_map(|c| {
                c.timelines()
                    .get(&SAMPLE_TIMELINE.into())
                    .unwrap()
                    .times_raw()
                    .to_vec()
            })
            .collect();
        idx.sort();
        idx.dedup(); // the mesh and its legend are separate rows at the same index
        assert_eq!(idx, [0, 1, 2, 3]);
        assert!(all["t2m/truth"].iter().all(Chunk::is_static));
        // Maps: RGB images of the default size.
        let (w, h) = default_map_size(&grid);
        let img = &all["t2m/maps/truth"];
        let buf = values::<rerun::components::ImageBuffer>(img, &rerun::Image::descriptor_buffer());
        assert_eq!(buf.len(), 1);
        assert_eq!(buf[0].0.len(), (w * h * 3) as usize);
        let fmt = values::<rerun::components::ImageFormat>(img, &rerun::Image::descriptor_format());
        assert_eq!((fmt[0].width, fmt[0].height), (w, h));
        assert!(all.contains_key("t2m/legend"));
        assert!(all.contains_key("t2m"), "view coordinates at the root");
        // The layout has one view per signal.
        send_reconstruction_blueprint(&rec, &[("t2m".into(), logged)], Some("training")).unwrap();
    }

    #[test]
    fn a_mesh_reconstruction_without_truth_skips_truth_and_errors() {
        let grid = SphereGrid::icosphere(1);
        let n = grid.num_vertices();
        let m = vec![1.0f32; n];
        let mask = vec![true; n];
        let r = Reconstruction::new(grid.mesh(), &m, &mask);
        let (rec, storage) = memory_recording("test").unwrap();
        let logged = log_reconstruction(&rec, "bunny", &r).unwrap();
        assert_eq!(logged, ["bunny/measurement", "bunny/mean"]);
        let all = chunks(&rec, &storage);
        assert!(!all
            .keys()
            .any(|k| k.contains("maps") || k.contains("error")));
        let bad = vec![1.0f32; n + 1];
        let r = Reconstruction { mean: &bad, ..r };
        assert!(matches!(
            log_reconstruction(&rec, "b", &r),
            Err(ViewerError::ShapeMismatch { .. })
        ));
    }

    #[test]
    fn entity_names_are_sanitised() {
        assert_eq!(entity_name("cnf-mean"), "cnf-mean");
        assert_eq!(entity_name("2m temp/K"), "2m_temp_K");
        assert_eq!(entity_name(""), "_");
    }

    #[test]
    fn options_without_a_destination_are_an_error_and_save_writes_an_rrd() {
        let err = RecordingOptions::default().open().unwrap_err();
        assert!(err.to_string().contains("--save"));
        let dir = std::env::temp_dir().join(format!("meshflow-viewers-rrd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.rrd");
        let opts = RecordingOptions {
            save: Some(path.clone()),
            ..Default::default()
        };
        let rec = opts.open().unwrap();
        log_training_curve(&rec, "loss", 1, 0.5).unwrap();
        rec.flush_blocking().unwrap();
        drop(rec);
        assert!(std::fs::metadata(&path).unwrap().len() > 100);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

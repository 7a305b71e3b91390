//! The standard figure of a reconstruction: truth | measurement | mean | std | |error| over
//! the baselines and their errors.

use super::equirect::{default_map_size, render_equirect};
use super::layout::{Figure, Panel};
use super::mesh::{render_mesh, Camera, MeshRenderOptions, UpAxis};
use super::VertexField;
use crate::colormap::ColorScale;
use crate::error::Result;
use crate::reconstruction::{abs_errors, Reconstruction, ReconstructionScales};

/// How [`reconstruction_figure`] draws each panel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SummaryOptions {
    /// The camera for meshes (ignored for sphere grids, which are drawn as maps); its up axis
    /// is the mesh's.
    pub camera: Camera,
    /// Size of each mesh view in pixels (square).
    pub mesh_size: u32,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        SummaryOptions {
            camera: Camera::default(),
            mesh_size: 320,
        }
    }
}

/// The figure of one reconstruction, titled `title`:
///
/// 1. truth (if known) | measurement (unobserved in grey) | mean | std (if known) |
///    |mean − truth| (if the truth is known);
/// 2. every baseline;
/// 3. |baseline − truth| for every baseline (if the truth is known).
///
/// Sphere grids are drawn as equirectangular maps, other meshes with the software renderer.
/// The fields share one colour scale, the errors another (see [`ReconstructionScales`]);
/// every panel has its colour bar.
///
/// # Errors
/// [`ViewerError::ShapeMismatch`](crate::ViewerError::ShapeMismatch) if a slice does not
/// have one value per vertex.
pub fn reconstruction_figure(
    r: &Reconstruction<'_>,
    title: &str,
    opts: &SummaryOptions,
) -> Result<Figure> {
    r.check()?;
    let scales = ReconstructionScales::fit(r);
    let panel = |name: &str, values: &[f32], mask: Option<&[bool]>, scale: ColorScale| {
        let field = VertexField::new(values, mask, scale);
        Ok::<_, crate::ViewerError>(match r.grid {
            Some(grid) => {
                let (w, h) = default_map_size(grid);
                Panel::map(name, render_equirect(grid, &field, w, h)?, scale, r.units)
            }
            None => {
                let ropts = MeshRenderOptions {
                    width: opts.mesh_size,
                    height: opts.mesh_size,
                    camera: opts.camera,
                    ..Default::default()
                };
                let image = render_mesh(r.discretisation, &field, &ropts)?;
                Panel::new(name, image).with_colorbar(scale, r.units)
            }
        })
    };
    let errors = r.truth.map(|t| abs_errors(r, t)).unwrap_or_default();
    let mut first = Vec::new();
    if let Some(t) = r.truth {
        first.push(panel("truth", t, None, scales.field)?);
    }
    first.push(panel(
        r.measurement_name,
        r.measurement,
        Some(r.mask),
        scales.field,
    )?);
    first.push(panel(r.mean_name, r.mean, None, scales.field)?);
    if let (Some(s), Some(scale)) = (r.std, scales.std) {
        first.push(panel("std", s, None, scale)?);
    }
    if let (Some((_, e)), Some(scale)) = (errors.first(), scales.abs_error) {
        first.push(panel(
            &format!("|{} - truth|", r.mean_name),
            e,
            None,
            scale,
        )?);
    }
    let mut second = Vec::new();
    for (name, b) in r.baselines {
        second.push(panel(name, b, None, scales.field)?);
    }
    let mut third = Vec::new();
    if let Some(scale) = scales.abs_error {
        for (name, e) in errors.iter().skip(1) {
            third.push(panel(&format!("|{name} - truth|"), e, None, scale)?);
        }
    }
    let mut fig = Figure::new(title);
    fig.push_row(first);
    fig.push_row(second);
    fig.push_row(third);
    Ok(fig)
}

/// The camera for a reconstruction's meshes: `view` around `+z` for sphere grids, `+y`
/// otherwise.
pub fn camera_for(r: &Reconstruction<'_>, view: super::View) -> Camera {
    Camera {
        view,
        up: if r.grid.is_some() {
            UpAxis::Z
        } else {
            UpAxis::Y
        },
    }
}

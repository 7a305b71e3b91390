//! Static figures without rerun: software-rendered views of mesh signals, equirectangular
//! maps of sphere fields, and figures of titled panels with colour bars, written as PNG.
//!
//! ```
//! use meshflow_geometry::sphere::SphereGrid;
//! use meshflow_viewers::colormap::{ColorScale, Colormap};
//! use meshflow_viewers::figure::{render_equirect, Figure, Panel, VertexField};
//!
//! let grid = SphereGrid::latlon(19, 36).unwrap();
//! let t: Vec<f32> = grid.lat_deg().iter().map(|&l| 288.0 - 0.5 * l.abs() as f32).collect();
//! let scale = ColorScale::fit(Colormap::Viridis, &t, None);
//! let map = render_equirect(&grid, &VertexField::new(&t, None, scale), 360, 180).unwrap();
//! let mut fig = Figure::new("2 m temperature");
//! fig.push_row(vec![Panel::map("truth", map, scale, "K")]);
//! let png = fig.render().encode_png().unwrap(); // or fig.save_png(path)
//! assert!(png.len() > 1000);
//! ```

mod canvas;
mod equirect;
mod layout;
mod mesh;
mod summary;

pub use canvas::{text_width, RgbImage, BLACK, WHITE};
pub use equirect::{default_map_size, render_equirect, EquirectMap, MapExtent};
pub use layout::{format_value, Figure, Panel};
pub use mesh::{render_mesh, render_mesh_colors, Camera, MeshRenderOptions, UpAxis, View};
pub use summary::{camera_for, reconstruction_figure, SummaryOptions};

use crate::colormap::ColorScale;
use crate::error::{check_len, Result};

/// A scalar field on the vertices of a discretisation with the colour scale to draw it in.
#[derive(Debug, Clone, Copy)]
pub struct VertexField<'a> {
    /// One value per vertex; NaN where there is none.
    pub values: &'a [f32],
    /// `true` where the value is observed; vertices marked `false` are drawn as missing.
    pub mask: Option<&'a [bool]>,
    /// The colour scale.
    pub scale: ColorScale,
}

impl<'a> VertexField<'a> {
    /// A field with an optional observation mask.
    pub fn new(values: &'a [f32], mask: Option<&'a [bool]>, scale: ColorScale) -> Self {
        VertexField {
            values,
            mask,
            scale,
        }
    }

    /// The values with masked-out entries replaced by NaN, checked to have `n` entries.
    pub(crate) fn masked_values(&self, n: usize) -> Result<Vec<f32>> {
        check_len("vertex values", n, self.values.len())?;
        match self.mask {
            None => Ok(self.values.to_vec()),
            Some(m) => {
                check_len("vertex mask", n, m.len())?;
                Ok(self
                    .values
                    .iter()
                    .zip(m)
                    .map(|(&v, &o)| if o { v } else { f32::NAN })
                    .collect())
            }
        }
    }
}

/// The value at barycentric weights `b` in a triangle with corner values `v`: linear
/// interpolation when all three are finite, otherwise the value of the nearest corner (so a
/// missing vertex shows as a patch around it, not as a smear over its faces).
pub(crate) fn interpolate_or_nearest(v: [f32; 3], b: [f32; 3]) -> f32 {
    if v.iter().all(|x| x.is_finite()) {
        v[0] * b[0] + v[1] * b[1] + v[2] * b[2]
    } else {
        let k = if b[0] >= b[1] && b[0] >= b[2] {
            0
        } else if b[1] >= b[2] {
            1
        } else {
            2
        };
        v[k]
    }
}

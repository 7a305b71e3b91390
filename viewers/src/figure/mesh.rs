//! A small software renderer for signals on triangle meshes: orthographic projection,
//! z-buffer, per-vertex values interpolated across faces, Lambert + ambient shading from the
//! vertex normals, fixed camera presets, auto-fit to the bounding box.

use std::str::FromStr;

use meshflow_geometry::TriMesh;
use nalgebra::Vector3;

use super::canvas::{RgbImage, WHITE};
use super::VertexField;
use crate::colormap::ColorScale;
use crate::error::{check_len, Result, ViewerError};

/// Where the camera looks from, relative to the mesh's up axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum View {
    /// From the front (`+z` for a y-up mesh, longitude 0 for a z-up globe).
    Front,
    /// From the right-hand side (`+x` for a y-up mesh, longitude 90° E for a globe).
    Side,
    /// From above, the front at the bottom of the picture.
    Top,
    /// From behind (`−z` for a y-up mesh, longitude 180° for a globe).
    Back,
    /// Three-quarter view from the front-left (`+z`/`−x` for a y-up mesh), 20° above: the
    /// default, which shows the Stanford bunny's face (it looks towards `−x`), ears and flank.
    #[default]
    Oblique,
}

impl View {
    /// Every view, in the order of [`View::NAMES`].
    pub const ALL: [View; 5] = [
        View::Front,
        View::Side,
        View::Top,
        View::Back,
        View::Oblique,
    ];
    /// The names accepted by [`View::from_str`].
    pub const NAMES: [&'static str; 5] = ["front", "side", "top", "back", "oblique"];

    /// Azimuth around the up axis and elevation above the horizon, degrees.
    fn angles(self) -> (f64, f64) {
        match self {
            View::Front => (0.0, 0.0),
            View::Side => (90.0, 0.0),
            View::Top => (0.0, 90.0),
            View::Back => (180.0, 0.0),
            View::Oblique => (-45.0, 20.0),
        }
    }

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        Self::NAMES[Self::ALL.iter().position(|&v| v == self).unwrap_or(0)]
    }
}

impl FromStr for View {
    type Err = ViewerError;

    fn from_str(s: &str) -> Result<Self> {
        let lower = s.to_ascii_lowercase();
        Self::NAMES
            .iter()
            .position(|n| *n == lower)
            .map(|i| Self::ALL[i])
            .ok_or_else(|| {
                ViewerError::InvalidArgument(format!(
                    "unknown camera `{s}`: expected one of {}",
                    Self::NAMES.join(", ")
                ))
            })
    }
}

/// Which coordinate axis points up in the mesh's own coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UpAxis {
    /// `+y` is up and `+z` faces the viewer in the front view (scanned meshes such as the
    /// Stanford bunny, most OBJ/PLY files).
    #[default]
    Y,
    /// `+z` is up and `+x` faces the viewer in the front view (sphere grids: north pole up,
    /// longitude 0 in front).
    Z,
}

/// An orthographic camera: a view preset around an up axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Camera {
    /// Where the camera looks from.
    pub view: View,
    /// The mesh's up axis.
    pub up: UpAxis,
}

impl Camera {
    /// The screen basis in mesh coordinates: `(right, up, toward_viewer)`, orthonormal and
    /// right-handed (`right × up = toward_viewer`).
    pub fn basis(&self) -> (Vector3<f64>, Vector3<f64>, Vector3<f64>) {
        let (az, el) = self.view.angles();
        let (az, el) = (az.to_radians(), el.to_radians());
        // Coordinates in a frame (front, right, up) of the mesh, then mapped to its axes.
        let (front, right, up) = match self.up {
            UpAxis::Y => (Vector3::z(), Vector3::x(), Vector3::y()),
            UpAxis::Z => (Vector3::x(), Vector3::y(), Vector3::z()),
        };
        let toward = (front * az.cos() + right * az.sin()) * el.cos() + up * el.sin();
        // The screen's up: the mesh's up projected off the view direction; looking straight
        // down, the direction away from the front instead.
        let horizontal = front * az.cos() + right * az.sin();
        let screen_up = if el.cos() < 1e-6 {
            -horizontal
        } else {
            (up - toward * up.dot(&toward)).normalize()
        };
        let screen_right = screen_up.cross(&toward);
        (screen_right, screen_up, toward)
    }
}

/// How [`render_mesh`] draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeshRenderOptions {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// The camera.
    pub camera: Camera,
    /// Colour where no face is drawn.
    pub background: [u8; 3],
    /// Lambert + ambient shading from the vertex normals; `false` draws the colours flat.
    pub shading: bool,
    /// The light that reaches faces turned away from the lamp, in `[0, 1]`.
    pub ambient: f32,
    /// Empty border around the fitted mesh, as a fraction of the image size.
    pub margin: f32,
}

impl Default for MeshRenderOptions {
    fn default() -> Self {
        MeshRenderOptions {
            width: 320,
            height: 320,
            camera: Camera::default(),
            background: WHITE,
            shading: true,
            ambient: 0.35,
            margin: 0.04,
        }
    }
}

/// Renders a vertex field on a mesh: the values are interpolated across each face and mapped
/// through `field.scale`; in a face with a missing vertex (NaN or masked) each pixel takes the
/// colour of its nearest corner, so missing vertices show as grey patches.
///
/// # Errors
/// [`ViewerError::ShapeMismatch`] if the values or the mask do not have one entry per vertex;
/// [`ViewerError::InvalidArgument`] for an empty image or a mesh without faces.
pub fn render_mesh(
    mesh: &TriMesh,
    field: &VertexField<'_>,
    opts: &MeshRenderOptions,
) -> Result<RgbImage> {
    let values = field.masked_values(mesh.num_vertices())?;
    let scale: &ColorScale = &field.scale;
    rasterise(mesh, opts, |corners, b| {
        scale.color(super::interpolate_or_nearest(
            [values[corners[0]], values[corners[1]], values[corners[2]]],
            b,
        ))
    })
}

/// Renders a mesh with one colour per vertex, interpolated linearly across faces.
///
/// # Errors
/// As [`render_mesh`].
pub fn render_mesh_colors(
    mesh: &TriMesh,
    colors: &[[u8; 3]],
    opts: &MeshRenderOptions,
) -> Result<RgbImage> {
    check_len("vertex colours", mesh.num_vertices(), colors.len())?;
    rasterise(mesh, opts, |corners, b| {
        std::array::from_fn(|c| {
            let v: f32 = (0..3).map(|k| b[k] * colors[corners[k]][c] as f32).sum();
            v.round().clamp(0.0, 255.0) as u8
        })
    })
}

/// The z-buffered rasteriser: `shade(face corners, barycentric weights)` gives the unlit
/// colour of a pixel; lighting is applied here.
fn rasterise(
    mesh: &TriMesh,
    opts: &MeshRenderOptions,
    shade: impl Fn([usize; 3], [f32; 3]) -> [u8; 3],
) -> Result<RgbImage> {
    let (w, h) = (opts.width, opts.height);
    if w == 0 || h == 0 {
        return Err(ViewerError::InvalidArgument(format!(
            "image size {w}x{h} is empty"
        )));
    }
    if mesh.num_faces() == 0 {
        return Err(ViewerError::InvalidArgument(
            "the mesh has no faces to draw".into(),
        ));
    }
    let (right, up, toward) = opts.camera.basis();
    let pos = mesh.positions();
    let proj: Vec<[f64; 3]> = pos
        .iter()
        .map(|p| {
            let v = p.coords;
            [v.dot(&right), v.dot(&up), v.dot(&toward)]
        })
        .collect();
    // Fit the projected bounding box of the vertices that faces use.
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for f in mesh.faces() {
        for &v in f {
            for k in 0..2 {
                lo[k] = lo[k].min(proj[v][k]);
                hi[k] = hi[k].max(proj[v][k]);
            }
        }
    }
    let m = opts.margin.clamp(0.0, 0.45) as f64;
    let (wf, hf) = (w as f64, h as f64);
    let span = [(hi[0] - lo[0]).max(1e-12), (hi[1] - lo[1]).max(1e-12)];
    let s = (wf * (1.0 - 2.0 * m) / span[0]).min(hf * (1.0 - 2.0 * m) / span[1]);
    let cx = 0.5 * (lo[0] + hi[0]);
    let cy = 0.5 * (lo[1] + hi[1]);
    let screen: Vec<[f64; 3]> = proj
        .iter()
        .map(|p| [0.5 * wf + s * (p[0] - cx), 0.5 * hf - s * (p[1] - cy), p[2]])
        .collect();

    let normals = mesh.vertex_normals();
    // The lamp: in front of the viewer, above and to the left.
    let light = (toward * 0.8 + up * 0.5 - right * 0.35).normalize();

    let mut img = RgbImage::new(w, h, opts.background);
    let mut zbuf = vec![f64::NEG_INFINITY; w as usize * h as usize];
    for f in mesh.faces() {
        let [a, b, c] = [screen[f[0]], screen[f[1]], screen[f[2]]];
        let area = edge(a, b, c);
        if area.abs() < 1e-12 {
            continue; // seen edge-on
        }
        let x0 = a[0].min(b[0]).min(c[0]).floor().max(0.0) as u32;
        let x1 = (a[0].max(b[0]).max(c[0]).ceil() as i64).clamp(0, w as i64) as u32;
        let y0 = a[1].min(b[1]).min(c[1]).floor().max(0.0) as u32;
        let y1 = (a[1].max(b[1]).max(c[1]).ceil() as i64).clamp(0, h as i64) as u32;
        for y in y0..y1 {
            for x in x0..x1 {
                let p = [x as f64 + 0.5, y as f64 + 0.5, 0.0];
                let w0 = edge(b, c, p) / area;
                let w1 = edge(c, a, p) / area;
                let w2 = 1.0 - w0 - w1;
                const EPS: f64 = -1e-9;
                if w0 < EPS || w1 < EPS || w2 < EPS {
                    continue;
                }
                let depth = w0 * a[2] + w1 * b[2] + w2 * c[2];
                let zi = y as usize * w as usize + x as usize;
                if depth <= zbuf[zi] {
                    continue;
                }
                zbuf[zi] = depth;
                let bary = [w0 as f32, w1 as f32, w2 as f32];
                let mut color = shade(*f, bary);
                if opts.shading {
                    let n = normals[f[0]] * w0 + normals[f[1]] * w1 + normals[f[2]] * w2;
                    let mut n = n.try_normalize(1e-12).unwrap_or(toward);
                    if n.dot(&toward) < 0.0 {
                        n = -n; // lit from the viewer's side either way
                    }
                    let amb = opts.ambient.clamp(0.0, 1.0) as f64;
                    let k = amb + (1.0 - amb) * n.dot(&light).max(0.0);
                    color = color.map(|u| (u as f64 * k).round().clamp(0.0, 255.0) as u8);
                }
                img.put(x as i64, y as i64, color);
            }
        }
    }
    Ok(img)
}

/// Twice the signed area of the screen triangle `(a, b, p)`.
fn edge(a: [f64; 3], b: [f64; 3], p: [f64; 3]) -> f64 {
    (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::colormap::{Colormap, MISSING_COLOR};
    use nalgebra::Point3;

    fn flat(shading: bool, w: u32, h: u32) -> MeshRenderOptions {
        MeshRenderOptions {
            width: w,
            height: h,
            camera: Camera {
                view: View::Front,
                up: UpAxis::Y,
            },
            shading,
            ..Default::default()
        }
    }

    /// The square [−1, 1]² at z = `z`, two triangles, facing +z.
    fn square(z: f64) -> (Vec<Point3<f64>>, Vec<[usize; 3]>) {
        (
            vec![
                Point3::new(-1.0, -1.0, z),
                Point3::new(1.0, -1.0, z),
                Point3::new(1.0, 1.0, z),
                Point3::new(-1.0, 1.0, z),
            ],
            vec![[0, 1, 2], [0, 2, 3]],
        )
    }

    #[test]
    fn camera_bases_are_orthonormal_and_right_handed() {
        for view in View::ALL {
            for up in [UpAxis::Y, UpAxis::Z] {
                let (r, u, t) = Camera { view, up }.basis();
                for (a, b) in [(r, u), (u, t), (r, t)] {
                    assert!(a.dot(&b).abs() < 1e-12, "{view:?} {up:?}");
                }
                for v in [r, u, t] {
                    assert!((v.norm() - 1.0).abs() < 1e-12);
                }
                assert!((r.cross(&u) - t).norm() < 1e-12, "{view:?} {up:?}");
            }
        }
        let (r, u, t) = Camera::default().basis();
        assert!(
            t.z > 0.5 && t.x < -0.3 && t.y > 0.2,
            "oblique looks from front-left-above"
        );
        assert!(u.y > 0.9 && r.x > 0.5);
        let (_, u, t) = Camera {
            view: View::Top,
            up: UpAxis::Y,
        }
        .basis();
        assert_eq!((t.y, u.z), (1.0, -1.0));
        let (r, u, t) = Camera {
            view: View::Front,
            up: UpAxis::Z,
        }
        .basis();
        assert_eq!((t.x, u.z, r.y), (1.0, 1.0, 1.0));
        assert_eq!("SIDE".parse::<View>().unwrap(), View::Side);
        assert!("diagonal".parse::<View>().is_err());
    }

    #[test]
    fn a_flat_coloured_square_fills_the_fitted_pixels() {
        let (p, f) = square(0.0);
        let mesh = TriMesh::new(p, f).unwrap();
        let scale = ColorScale::new(Colormap::Viridis, 0.0, 1.0);
        let field = VertexField::new(&[0.25; 4], None, scale);
        // 100×100 with a 4 % margin: the square covers pixel centres 4.5 … 95.5.
        let img = render_mesh(&mesh, &field, &flat(false, 100, 100)).unwrap();
        let expect = Colormap::Viridis.sample(0.25);
        for y in 0..100 {
            for x in 0..100 {
                let inside = (4..96).contains(&x) && (4..96).contains(&y);
                let c = img.pixel(x, y);
                if inside {
                    assert_eq!(c, expect, "({x}, {y})");
                } else {
                    assert_eq!(c, WHITE, "({x}, {y})");
                }
            }
        }
        // Shaded: one uniform, darker colour (a plane has one normal), same footprint.
        let img = render_mesh(&mesh, &field, &flat(true, 100, 100)).unwrap();
        let c = img.pixel(50, 50);
        assert_ne!(c, expect);
        assert!(c.iter().zip(&expect).all(|(a, b)| a <= b));
        assert_eq!(img.pixel(10, 90), c);
        assert_eq!(img.pixel(2, 50), WHITE);
        // A wide image centres the square horizontally.
        let img = render_mesh(&mesh, &field, &flat(false, 200, 100)).unwrap();
        assert_eq!(img.pixel(53, 50), WHITE);
        assert_eq!(img.pixel(55, 50), expect);
        assert_eq!(img.pixel(144, 50), expect);
        assert_eq!(img.pixel(146, 50), WHITE);
    }

    #[test]
    fn z_buffer_keeps_the_nearer_square_in_either_order() {
        for near_first in [true, false] {
            // A small red square at z = +1 (nearer to a front camera) and a larger blue one
            // at z = −1, in either order in the face list.
            let (near, nf) = square(1.0);
            let (far, ff) = square(-1.0);
            let far: Vec<_> = far
                .iter()
                .map(|q| Point3::new(q.x * 2.0, q.y * 2.0, q.z))
                .collect();
            let (first, second) = if near_first {
                ((near, nf), (far, ff))
            } else {
                ((far, ff), (near, nf))
            };
            let mut p = first.0;
            let mut f = first.1;
            f.extend(second.1.iter().map(|t| t.map(|i| i + 4)));
            p.extend(second.0);
            let mesh = TriMesh::new(p, f).unwrap();
            let (red, blue) = ([255, 0, 0], [0, 0, 255]);
            let mut colors = if near_first {
                vec![red; 4]
            } else {
                vec![blue; 4]
            };
            colors.extend(if near_first {
                vec![blue; 4]
            } else {
                vec![red; 4]
            });
            let img = render_mesh_colors(&mesh, &colors, &flat(false, 101, 101)).unwrap();
            assert_eq!(img.pixel(50, 50), [255, 0, 0], "near_first = {near_first}");
            assert_eq!(img.pixel(10, 10), [0, 0, 255]);
            // Seen from the back, the other one wins.
            let mut back = flat(false, 101, 101);
            back.camera.view = View::Back;
            let img = render_mesh_colors(&mesh, &colors, &back).unwrap();
            assert_eq!(img.pixel(50, 50), [0, 0, 255]);
        }
    }

    #[test]
    fn masked_vertices_show_grey_and_values_interpolate() {
        let (p, f) = square(0.0);
        let mesh = TriMesh::new(p, f).unwrap();
        let scale = ColorScale::new(Colormap::Viridis, 0.0, 1.0);
        // Left edge 0, right edge 1: interpolated left to right.
        let values = [0.0, 1.0, 1.0, 0.0];
        let img = render_mesh(
            &mesh,
            &VertexField::new(&values, None, scale),
            &flat(false, 100, 100),
        )
        .unwrap();
        // Pixel centre x + 0.5 lies at (x + 0.5 − 50) / 46 in mesh units.
        for x in [5u32, 30, 50, 70, 94] {
            let expect = scale.color(0.5 + 0.5 * (x as f32 + 0.5 - 50.0) / 46.0);
            let got = img.pixel(x, 50);
            assert!(
                (0..3).all(|c| (got[c] as i32 - expect[c] as i32).abs() <= 2),
                "x = {x}: {got:?} vs {expect:?}"
            );
        }
        // Vertex 3 (top-left) masked: the pixels nearest to it are grey.
        let mask = [true, true, true, false];
        let img = render_mesh(
            &mesh,
            &VertexField::new(&values, Some(&mask), scale),
            &flat(false, 100, 100),
        )
        .unwrap();
        assert_eq!(img.pixel(6, 6), MISSING_COLOR);
        assert_ne!(img.pixel(94, 94), MISSING_COLOR);
        let bad = [true; 3];
        assert!(render_mesh(
            &mesh,
            &VertexField::new(&values, Some(&bad), scale),
            &flat(false, 10, 10)
        )
        .is_err());
    }
}

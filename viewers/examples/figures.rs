//! Static figures from the library API: a mesh coloured by height from every camera preset,
//! and an equirectangular map of a field on a lat-lon grid.
//!
//! Run: `cargo run -p meshflow-viewers --example figures -- data/bunny_npm.obj OUT_DIR`
//! (any OBJ/PLY; y is taken as up). Writes `OUT_DIR/mesh_views.png` and `OUT_DIR/map.png`.

use std::path::PathBuf;

use meshflow_geometry::{io::load_mesh, sphere::SphereGrid};
use meshflow_viewers::colormap::{ColorScale, Colormap};
use meshflow_viewers::figure::{
    render_equirect, render_mesh, Camera, Figure, MeshRenderOptions, Panel, UpAxis, VertexField,
    View,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let (Some(mesh_path), Some(out)) = (args.next(), args.next()) else {
        return Err("usage: figures MESH.obj|ply OUT_DIR".into());
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out)?;

    // Height (y) on the mesh, from every camera.
    let mesh = load_mesh(PathBuf::from(mesh_path).as_path())?.mesh;
    let height: Vec<f32> = mesh.positions().iter().map(|p| p.y as f32).collect();
    let scale = ColorScale::fit(Colormap::Viridis, &height, None);
    let field = VertexField::new(&height, None, scale);
    let mut panels = Vec::new();
    for view in View::ALL {
        let opts = MeshRenderOptions {
            camera: Camera {
                view,
                up: UpAxis::Y,
            },
            ..Default::default()
        };
        panels.push(
            Panel::new(view.name(), render_mesh(&mesh, &field, &opts)?).with_colorbar(scale, "m"),
        );
    }
    let mut fig = Figure::new("height");
    fig.push_row(panels);
    fig.save_png(&out.join("mesh_views.png"))?;

    // A smooth field on the ERA5 3° grid with a third of the vertices unobserved, as a map.
    let grid = SphereGrid::latlon(61, 120)?;
    let t: Vec<f32> = grid
        .lat_deg()
        .iter()
        .zip(grid.lon_deg())
        .map(|(&la, &lo)| {
            (288.0 - 30.0 * la.to_radians().sin().powi(2) + 5.0 * (2.0 * lo.to_radians()).cos())
                as f32
        })
        .collect();
    let mask: Vec<bool> = (0..t.len()).map(|i| (i * 7919) % 3 != 0).collect();
    let scale = ColorScale::fit(Colormap::Viridis, &t, None);
    let full = render_equirect(&grid, &VertexField::new(&t, None, scale), 360, 180)?;
    let masked = render_equirect(&grid, &VertexField::new(&t, Some(&mask), scale), 360, 180)?;
    let err: Vec<f32> = t.iter().map(|x| x - 283.0).collect();
    let div = ColorScale::symmetric(Colormap::RdBu, &err, None);
    let signed = render_equirect(&grid, &VertexField::new(&err, None, div), 360, 180)?;
    let mut fig = Figure::new("synthetic 2 m temperature");
    fig.push_row(vec![
        Panel::map("field", full, scale, "K"),
        Panel::map("observed", masked, scale, "K"),
        Panel::map("field - 283 K", signed, div, "K"),
    ]);
    fig.save_png(&out.join("map.png"))?;
    println!(
        "wrote {} and {}",
        out.join("mesh_views.png").display(),
        out.join("map.png").display()
    );
    Ok(())
}

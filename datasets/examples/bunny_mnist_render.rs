//! Renders Bunny-MNIST fields to a PNG, to check by eye that the projected digits are readable.
//!
//! ```text
//! cargo run -p meshflow-datasets --example bunny_mnist_render -- \
//!     [--data DIR] [--mesh MESH] [--out FILE.png] [--count N] [--margin M] [--shift DX,DY]
//! ```
//!
//! `--data` defaults to `$MESHFLOW_DATA` (else `../shared/data`), `--mesh` to the res3 bunny in
//! it, `--out` to `target/bunny_mnist.png`, `--count` to 8 (the first MNIST test images) and
//! `--margin`/`--shift` (pixels right, down) to those of [`bunny_mnist::bunny_placement`].
//! Each row of the output shows the MNIST image, then the field on the mesh seen from the
//! projection's viewer and turned by −45°, +45°, 90° and 180° about the up axis. The renderer
//! is a small software rasteriser: orthographic, z-buffered, the vertex values interpolated
//! over each triangle, coloured from dark blue (0) to yellow (1) and shaded by the triangle's
//! facing.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use meshflow_datasets::bunny_mnist::{self, MeshImageDataset};
use meshflow_datasets::testdata::data_root;
use meshflow_geometry::TriMesh;
use nalgebra::Vector3;

const CELL: usize = 220;

struct Args {
    data: PathBuf,
    mesh: Option<PathBuf>,
    out: PathBuf,
    count: usize,
    margin: Option<f64>,
    shift: Option<(i32, i32)>,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        data: data_root(),
        mesh: None,
        out: PathBuf::from("target/bunny_mnist.png"),
        count: 8,
        margin: None,
        shift: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--data" => a.data = value()?.into(),
            "--mesh" => a.mesh = Some(value()?.into()),
            "--out" => a.out = value()?.into(),
            "--count" => a.count = value()?.parse().context("--count")?,
            "--margin" => a.margin = Some(value()?.parse().context("--margin")?),
            "--shift" => {
                let v = value()?;
                let (dx, dy) = v.split_once(',').context("--shift takes DX,DY")?;
                a.shift = Some((dx.parse()?, dy.parse()?));
            }
            _ => bail!("unknown argument {flag}; see the header of this example for usage"),
        }
    }
    Ok(a)
}

/// An RGB image being drawn.
struct Canvas {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            rgb: vec![255; 3 * width * height],
        }
    }

    fn put(&mut self, x: usize, y: usize, c: [u8; 3]) {
        let i = 3 * (y * self.width + x);
        self.rgb[i..i + 3].copy_from_slice(&c);
    }

    /// Writes an 8-bit RGB PNG (zlib via flate2, CRC-32 by table).
    fn save_png(&self, path: &std::path::Path) -> Result<()> {
        fn crc32(bytes: &[u8]) -> u32 {
            let table: Vec<u32> = (0..256u32)
                .map(|n| {
                    (0..8).fold(n, |c, _| {
                        if c & 1 == 1 {
                            0xEDB8_8320 ^ (c >> 1)
                        } else {
                            c >> 1
                        }
                    })
                })
                .collect();
            !bytes.iter().fold(!0u32, |c, &b| {
                table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
            })
        }
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            out.extend_from_slice(&body);
            out.extend_from_slice(&crc32(&body).to_be_bytes());
        }
        let mut raw = Vec::with_capacity((3 * self.width + 1) * self.height);
        for row in self.rgb.chunks(3 * self.width) {
            raw.push(0); // filter: none
            raw.extend_from_slice(row);
        }
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&raw)?;
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&(self.width as u32).to_be_bytes());
        ihdr.extend_from_slice(&(self.height as u32).to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit, RGB, deflate, filter 0, no interlace
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut png, b"IHDR", &ihdr);
        chunk(&mut png, b"IDAT", &z.finish()?);
        chunk(&mut png, b"IEND", &[]);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }
}

/// Dark blue (0) → teal → yellow (1).
fn colormap(v: f32) -> [f32; 3] {
    let v = v.clamp(0.0, 1.0);
    let stops = [[0.10, 0.10, 0.35], [0.10, 0.55, 0.55], [1.0, 0.92, 0.15]];
    let t = v * 2.0;
    let (a, b, f) = if t < 1.0 {
        (stops[0], stops[1], t)
    } else {
        (stops[1], stops[2], t - 1.0)
    };
    [0, 1, 2].map(|k| a[k] + (b[k] - a[k]) * f)
}

/// Draws `values` on `mesh` into the `CELL`×`CELL` square at `(x0, y0)`, seen orthographically
/// along `-towards` with `up` up.
fn render(
    canvas: &mut Canvas,
    x0: usize,
    y0: usize,
    mesh: &TriMesh,
    values: &[f32],
    towards: Vector3<f64>,
    up: Vector3<f64>,
) {
    let right = up.cross(&towards);
    let (lo, hi) = mesh.bounding_box();
    let c = nalgebra::center(&lo, &hi);
    let radius = mesh
        .positions()
        .iter()
        .map(|p| (p - c).norm())
        .fold(0.0, f64::max);
    let scale = 0.48 * CELL as f64 / radius;
    let screen: Vec<[f64; 3]> = mesh
        .positions()
        .iter()
        .map(|p| {
            let d = p - c;
            [
                0.5 * CELL as f64 + scale * d.dot(&right),
                0.5 * CELL as f64 - scale * d.dot(&up),
                d.dot(&towards),
            ]
        })
        .collect();
    let mut depth = vec![f64::NEG_INFINITY; CELL * CELL];
    for (f, &[a, b, cc]) in mesh.faces().iter().enumerate() {
        let (pa, pb, pc) = (screen[a], screen[b], screen[cc]);
        let area = (pb[0] - pa[0]) * (pc[1] - pa[1]) - (pb[1] - pa[1]) * (pc[0] - pa[0]);
        if area.abs() < 1e-12 {
            continue;
        }
        let n = mesh.face_normal_scaled(f).normalize();
        let shade = 0.35 + 0.65 * n.dot(&towards).abs() as f32;
        let xmin = pa[0].min(pb[0]).min(pc[0]).floor().max(0.0) as usize;
        let xmax = (pa[0].max(pb[0]).max(pc[0]).ceil() as usize).min(CELL - 1);
        let ymin = pa[1].min(pb[1]).min(pc[1]).floor().max(0.0) as usize;
        let ymax = (pa[1].max(pb[1]).max(pc[1]).ceil() as usize).min(CELL - 1);
        for y in ymin..=ymax {
            for x in xmin..=xmax {
                let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                let edge = |p: [f64; 3], q: [f64; 3]| {
                    ((q[0] - p[0]) * (py - p[1]) - (q[1] - p[1]) * (px - p[0])) / area
                };
                let (wa, wb, wc) = (edge(pb, pc), edge(pc, pa), edge(pa, pb));
                if wa < 0.0 || wb < 0.0 || wc < 0.0 {
                    continue;
                }
                let z = wa * pa[2] + wb * pb[2] + wc * pc[2];
                if z <= depth[y * CELL + x] {
                    continue;
                }
                depth[y * CELL + x] = z;
                let v = wa as f32 * values[a] + wb as f32 * values[b] + wc as f32 * values[cc];
                let col = colormap(v).map(|k| (255.0 * k * shade).round() as u8);
                canvas.put(x0 + x, y0 + y, col);
            }
        }
    }
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let mesh_path = args
        .mesh
        .clone()
        .unwrap_or_else(|| args.data.join(bunny_mnist::BUNNY_RES3));
    let mesh = bunny_mnist::load_mesh(&mesh_path)?;
    let mut placement = bunny_mnist::bunny_placement();
    if let Some(m) = args.margin {
        placement.projection.margin = m;
    }
    if let Some((dx, dy)) = args.shift {
        (placement.shift_right, placement.shift_down) = (dx, dy);
    }
    let data = MeshImageDataset::from_mnist(
        mesh,
        args.data.join(bunny_mnist::MNIST_TEST_IMAGES),
        Some(args.data.join(bunny_mnist::MNIST_TEST_LABELS)),
        ..args.count,
        placement,
    )?;
    let images =
        meshflow_datasets::idx::read_mnist_images(args.data.join(bunny_mnist::MNIST_TEST_IMAGES))?;
    let mut axis = [Vector3::zeros(); 3];
    for (k, e) in axis.iter_mut().enumerate() {
        e[k] = 1.0;
    }
    let projection = placement.projection;
    let (view, up) = (axis[projection.view_axis], axis[projection.up_axis]);
    let side = up.cross(&view);
    let angles = [0.0f64, -45.0, 45.0, 90.0, 180.0];
    let mut canvas = Canvas::new(CELL * (1 + angles.len()), CELL * data.len());
    let [rows, cols] = data.image_shape();
    for i in 0..data.len() {
        // The MNIST image itself, scaled up, grey.
        let img = &images.data[i * rows * cols..(i + 1) * rows * cols];
        for y in 0..CELL {
            for x in 0..CELL {
                let p = img[(y * rows / CELL) * cols + x * cols / CELL];
                canvas.put(x, i * CELL + y, [255 - p; 3]);
            }
        }
        for (k, deg) in angles.iter().enumerate() {
            let t = deg.to_radians();
            let towards = view * t.cos() + side * t.sin();
            render(
                &mut canvas,
                (k + 1) * CELL,
                i * CELL,
                data.mesh(),
                data.field(i),
                towards,
                up,
            );
        }
        println!("row {i}: digit {:?}", data.label(i));
    }
    canvas.save_png(&args.out)?;
    println!(
        "{} fields on {} ({} vertices), placement {:?}: wrote {}",
        data.len(),
        mesh_path.display(),
        data.mesh().num_vertices(),
        placement,
        args.out.display()
    );
    Ok(())
}

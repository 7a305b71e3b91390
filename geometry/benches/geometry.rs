//! Geometry benchmarks (targets on a 2-core CPU: assembly < 1 s, 64 eigenpairs < 30 s,
//! 1 M nearest-neighbour queries < 2 s). Run with
//! `cargo bench -p meshflow-geometry --bench geometry`; results go to docs/benchmarks.md.
//!
//! Uses the full-resolution Stanford bunny from `$MESHFLOW_DATA` (default
//! `../shared/data`) when present, else an icosphere of similar size.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use meshflow_geometry::{
    eigen::{smallest_generalized_eigenpairs, EigenOptions},
    io::{load_mesh, shared_data_dir},
    operators::{cotan_laplacian, vertex_lumped_mass_matrix},
    resample::PointIndex,
    sphere::SphereGrid,
    topology::repair,
    TriMesh,
};
use nalgebra::Point3;
use rand::{rngs::StdRng, Rng, SeedableRng};

fn bunny_or_icosphere() -> (String, TriMesh) {
    if let Some(dir) = shared_data_dir() {
        let path = dir.join("bunny/bun_zipper.ply");
        if let Ok(m) = load_mesh(&path) {
            return ("bun_zipper (35947 v, repaired)".into(), repair(&m.mesh).0);
        }
    }
    (
        "icosphere:6 (40962 v)".into(),
        SphereGrid::icosphere(6).mesh().clone(),
    )
}

fn benches(c: &mut Criterion) {
    let era5 = SphereGrid::latlon(721, 1440).expect("ERA5 0.25° grid");
    let mut g = c.benchmark_group("geometry");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(1));

    g.bench_function("cotan_laplacian ERA5 0.25° (1038240 v)", |b| {
        b.iter(|| black_box(cotan_laplacian(era5.mesh())))
    });

    let (name, mesh) = bunny_or_icosphere();
    g.bench_function(format!("cotan_laplacian {name}"), |b| {
        b.iter(|| black_box(cotan_laplacian(&mesh)))
    });

    let l = cotan_laplacian(&mesh);
    let m = vertex_lumped_mass_matrix(&mesh);
    g.bench_function(format!("64 eigenpairs {name}"), |b| {
        b.iter(|| {
            black_box(
                smallest_generalized_eigenpairs(&l, &m, 64, &EigenOptions::default()).unwrap(),
            )
        })
    });

    let index = PointIndex::new(era5.mesh().positions()).unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    let queries: Vec<Point3<f64>> = (0..1_000_000)
        .map(|_| {
            let z: f64 = rng.random_range(-1.0..1.0);
            let phi: f64 = rng.random_range(0.0..std::f64::consts::TAU);
            let r = (1.0 - z * z).sqrt();
            Point3::new(r * phi.cos(), r * phi.sin(), z)
        })
        .collect();
    g.bench_function("1M nearest-neighbour queries, ERA5 0.25° grid", |b| {
        b.iter(|| black_box(index.nearest_batch(&queries)))
    });
    g.bench_function("k-d tree build, ERA5 0.25° grid", |b| {
        b.iter(|| black_box(PointIndex::new(era5.mesh().positions()).unwrap()))
    });
    g.finish();
}

criterion_group!(geometry, benches);
criterion_main!(geometry);

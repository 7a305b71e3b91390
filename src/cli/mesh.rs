//! `meshflow info` on meshes and built-in grids, and `meshflow spectrum`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::{InfoArgs, MassKind, SpectrumArgs};
use crate::geometry::{
    eigen::{smallest_generalized_eigenpairs, EigenOptions},
    io::load_mesh,
    operators::{
        cotan_laplacian, diagonal_matrix, vertex_galerkin_mass_matrix, vertex_lumped_mass_matrix,
    },
    sphere::{looks_like_grid_spec, GridSpec, SphereGrid},
    topology::{mesh_report, repair},
    TriMesh,
};

/// A mesh or grid named on the command line.
enum Source {
    Mesh(PathBuf, TriMesh),
    Grid(GridSpec, SphereGrid),
}

fn open_source(source: &str) -> Result<Source> {
    if looks_like_grid_spec(source) {
        let spec: GridSpec = source.parse()?;
        let grid = spec.build()?;
        return Ok(Source::Grid(spec, grid));
    }
    if let Some(mesh) = crate::builtin::builtin_mesh(source) {
        return Ok(Source::Mesh(PathBuf::from(source), mesh?.mesh));
    }
    let Some(path) = crate::builtin::find_data_file(source) else {
        bail!(
            "`{source}` is neither an existing file (looked in the working directory, \
             $MESHFLOW_DATA and ~/.cache/meshflow/data), a built-in mesh ({}) nor a grid spec \
             (icosphere:LEVEL, latlon:NLATxNLON, gaussian:NLATxNLON)",
            crate::builtin::BUILTIN_MESHES.join(", ")
        );
    };
    let loaded = load_mesh(&path).with_context(|| format!("reading mesh {}", path.display()))?;
    Ok(Source::Mesh(path, loaded.mesh))
}

pub(super) fn info(args: &InfoArgs) -> Result<()> {
    if let Some(c) = args.calendar {
        anyhow::bail!(
            "--calendar {} applies to data files (GRIB, NetCDF, .npz); `{}` is a mesh or grid",
            c.name(),
            args.source
        );
    }
    let src = open_source(&args.source)?;
    let (mesh, grid_json, label) = match &src {
        Source::Mesh(p, m) => (m, serde_json::Value::Null, format!("mesh {}", p.display())),
        Source::Grid(spec, g) => {
            let w: f64 = g.quadrature_weights().iter().sum();
            (
                g.mesh(),
                json!({"spec": spec.to_string(), "kind": format!("{:?}", g.kind()), "quadrature_weight_sum": w}),
                format!("grid {spec}"),
            )
        }
    };
    let report = mesh_report(mesh);
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        v["source"] = json!(args.source);
        if !grid_json.is_null() {
            v["grid"] = grid_json;
        }
        println!("{}", serde_json::to_string(&v)?);
    } else {
        println!("{label}");
        println!("{report}");
        if !grid_json.is_null() {
            println!(
                "quadrature weights sum to {:.12} (4π = {:.12})",
                grid_json["quadrature_weight_sum"]
                    .as_f64()
                    .unwrap_or(f64::NAN),
                4.0 * std::f64::consts::PI
            );
        }
    }
    Ok(())
}

pub(super) fn spectrum(args: &SpectrumArgs) -> Result<()> {
    let src = open_source(&args.source)?;
    let (mesh, weights, note) = match src {
        Source::Mesh(_, m) => {
            // Unused vertices have no area (singular mass) and duplicate/degenerate faces
            // double-count: repair first and say so.
            let (fixed, summary) = repair(&m);
            (fixed, None, Some(summary))
        }
        Source::Grid(_, g) => {
            let w = g.quadrature_weights().to_vec();
            (g.mesh().clone(), Some(w), None)
        }
    };
    if args.k == 0 || args.k > mesh.num_vertices() {
        bail!(
            "--k must be between 1 and the number of vertices ({}), got {}",
            mesh.num_vertices(),
            args.k
        );
    }
    let l = cotan_laplacian(&mesh);
    let m = match args.mass {
        MassKind::Lumped => vertex_lumped_mass_matrix(&mesh),
        MassKind::Galerkin => vertex_galerkin_mass_matrix(&mesh),
        MassKind::Quadrature => match weights {
            Some(w) if w.iter().all(|&x| x > 0.0) => diagonal_matrix(w),
            Some(_) => bail!("--mass quadrature: this grid has vertices with zero quadrature weight (closed polar caps); use --mass lumped"),
            None => bail!("--mass quadrature is only defined for built-in grids; use --mass lumped or galerkin for meshes"),
        },
    };
    let started = std::time::Instant::now();
    let pairs = smallest_generalized_eigenpairs(&l, &m, args.k, &EigenOptions::default())
        .context("computing the Laplacian spectrum")?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        let mut v = json!({
            "source": args.source,
            "vertices": mesh.num_vertices(),
            "k": args.k,
            "mass": format!("{:?}", args.mass).to_lowercase(),
            "eigenvalues": pairs.values,
            "iterations": pairs.iterations,
            "seconds": seconds,
        });
        if let Some(s) = &note {
            v["repair"] = json!({
                "degenerate_faces_removed": s.degenerate_faces_removed,
                "duplicate_faces_removed": s.duplicate_faces_removed,
                "unused_vertices_removed": s.unused_vertices_removed,
            });
        }
        println!("{}", serde_json::to_string(&v)?);
    } else {
        if let Some(s) = &note {
            println!("repaired before solving: {s}");
        }
        println!(
            "{} smallest eigenvalues of L φ = λ M φ ({} vertices, {:?} mass, {:.2} s):",
            args.k,
            mesh.num_vertices(),
            args.mass,
            seconds
        );
        for (i, v) in pairs.values.iter().enumerate() {
            println!("{i:>5}  {v:>16.8}");
        }
    }
    Ok(())
}

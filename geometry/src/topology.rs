//! Mesh connectivity: edges with their face counts, a health report (boundary, non-manifold
//! edges, duplicates, degenerate faces, components, Euler characteristic, genus), vertex
//! adjacency, connected components, and repairs.
//!
//! Everything here is computed from the face list alone (plus positions where areas matter),
//! with sort-based algorithms that stay fast on multi-million-face meshes.
//!
//! ```
//! use meshflow_geometry::{topology, TriMesh};
//! use nalgebra::Point3;
//!
//! // Two triangles forming a square: 5 edges, 4 of them on the boundary.
//! let p = vec![
//!     Point3::new(0.0, 0.0, 0.0),
//!     Point3::new(1.0, 0.0, 0.0),
//!     Point3::new(1.0, 1.0, 0.0),
//!     Point3::new(0.0, 1.0, 0.0),
//! ];
//! let square = TriMesh::new(p, vec![[0, 1, 2], [0, 2, 3]]).unwrap();
//! let report = topology::mesh_report(&square);
//! assert_eq!((report.edges, report.boundary_edges, report.genus), (5, 4, None));
//! println!("{report}");
//! ```
//!
//! Conventions: an *edge* is an unordered vertex pair `[a, b]` with `a < b` that is a side of
//! at least one face. Faces that repeat a vertex contribute only their sides between distinct
//! vertices (a face `[a, a, b]` adds the edge `[a, b]` twice). Duplicate faces are counted as
//! many times as they appear, so a doubled face makes its edges non-manifold.

use std::fmt;

use crate::mesh::TriMesh;

/// Every edge of the mesh with the number of faces that have it as a side, sorted by vertex
/// pair; each pair is `[a, b]` with `a < b`.
///
/// An edge with 1 face is a boundary edge, with 2 an interior (manifold) edge, with more a
/// non-manifold edge.
pub fn edge_face_counts(mesh: &TriMesh) -> Vec<([usize; 2], usize)> {
    let faces = mesh.faces();
    let mut out = Vec::new();
    if mesh.num_vertices() <= u32::MAX as usize {
        // Pack each pair into one u64: sorting 3F integers is the fastest route.
        let mut keys: Vec<u64> = Vec::with_capacity(3 * faces.len());
        for_each_side(faces, |a, b| keys.push(((a as u64) << 32) | b as u64));
        keys.sort_unstable();
        run_lengths(&keys, |&k, n| {
            out.push(([(k >> 32) as usize, (k & 0xffff_ffff) as usize], n))
        });
    } else {
        let mut keys: Vec<[usize; 2]> = Vec::with_capacity(3 * faces.len());
        for_each_side(faces, |a, b| keys.push([a, b]));
        keys.sort_unstable();
        run_lengths(&keys, |&k, n| out.push((k, n)));
    }
    out
}

/// Calls `f(min, max)` for the three sides of every face, skipping sides whose two ends are
/// the same vertex.
fn for_each_side(faces: &[[usize; 3]], mut f: impl FnMut(usize, usize)) {
    for &[a, b, c] in faces {
        for (i, j) in [(a, b), (b, c), (c, a)] {
            if i != j {
                f(i.min(j), i.max(j));
            }
        }
    }
}

/// Calls `f(value, count)` for every run of equal values in a sorted slice.
fn run_lengths<T: PartialEq>(sorted: &[T], mut f: impl FnMut(&T, usize)) {
    let mut start = 0;
    for i in 1..=sorted.len() {
        if i == sorted.len() || sorted[i] != sorted[start] {
            f(&sorted[start], i - start);
            start = i;
        }
    }
}

/// A summary of a mesh's connectivity and health, from [`mesh_report`].
///
/// Serialises to JSON for `--json` output; [`fmt::Display`] prints an aligned table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MeshReport {
    /// Number of vertices `V` (used or not).
    pub vertices: usize,
    /// Number of faces `F`.
    pub faces: usize,
    /// Number of distinct edges `E` (see [`edge_face_counts`]).
    pub edges: usize,
    /// Edges with exactly one face.
    pub boundary_edges: usize,
    /// Edges with more than two faces.
    pub non_manifold_edges: usize,
    /// Vertices that no face refers to.
    pub unused_vertices: usize,
    /// Faces whose sorted vertex triple equals that of an earlier face (extra copies only;
    /// orientation is ignored).
    pub duplicate_faces: usize,
    /// Distinct (sorted) vertex triples that occur on more than one face. This is the
    /// "duplicated faces" figure of the Stanford data README; [`Self::duplicate_faces`] counts
    /// the extra copies instead (what [`remove_duplicate_faces`] removes).
    pub duplicated_triples: usize,
    /// Faces with a repeated vertex index, or with area `<= 1e-14 · d²` where `d` is the
    /// bounding-box diagonal.
    pub degenerate_faces: usize,
    /// Connected components of the vertices used by faces, connected through edges (unused
    /// vertices are not counted).
    pub components: usize,
    /// `V_used − E + F`, with `V_used` the vertices referenced by faces.
    pub euler_characteristic: i64,
    /// `(2 − χ) / 2`, only for a closed (no boundary edges), edge-manifold mesh with one
    /// component; `None` otherwise, and also when `2 − χ` is odd or negative (non-orientable
    /// surfaces, or vertices pinching two sheets together).
    pub genus: Option<i64>,
    /// Number of closed loops formed by the boundary edges, when they are unambiguous: the mesh
    /// is edge-manifold and every boundary vertex has exactly two boundary edges. `Some(0)` for
    /// a closed edge-manifold mesh; `None` otherwise.
    pub boundary_loops: Option<usize>,
    /// Total surface area (degenerate and duplicate faces included).
    pub area: f64,
    /// Minimum corner of the axis-aligned bounding box of all vertices.
    pub bbox_min: [f64; 3],
    /// Maximum corner of the axis-aligned bounding box of all vertices.
    pub bbox_max: [f64; 3],
}

/// Computes the [`MeshReport`] of a mesh: one edge sort, one face sort and a union-find.
pub fn mesh_report(mesh: &TriMesh) -> MeshReport {
    let edges = edge_face_counts(mesh);
    let boundary_edges = edges.iter().filter(|e| e.1 == 1).count();
    let non_manifold_edges = edges.iter().filter(|e| e.1 > 2).count();
    let (duplicates, duplicated_triples) = duplicate_faces(mesh);
    let used = used_vertices(mesh);
    let used_count = used.iter().filter(|&&u| u).count();
    let (components, _) = connected_components(mesh);
    let euler_characteristic = used_count as i64 - edges.len() as i64 + mesh.num_faces() as i64;
    let genus = (boundary_edges == 0 && non_manifold_edges == 0 && components == 1)
        .then_some(2 - euler_characteristic)
        .filter(|twice| *twice >= 0 && twice % 2 == 0)
        .map(|twice| twice / 2);
    let boundary_loops = if non_manifold_edges == 0 {
        count_boundary_loops(mesh.num_vertices(), &edges)
    } else {
        None
    };
    let (bbox_min, bbox_max) = if mesh.num_vertices() == 0 {
        ([0.0; 3], [0.0; 3])
    } else {
        let (lo, hi) = mesh.bounding_box();
        ([lo.x, lo.y, lo.z], [hi.x, hi.y, hi.z])
    };
    MeshReport {
        vertices: mesh.num_vertices(),
        faces: mesh.num_faces(),
        edges: edges.len(),
        boundary_edges,
        non_manifold_edges,
        unused_vertices: mesh.num_vertices() - used_count,
        duplicate_faces: duplicates.iter().filter(|&&d| d).count(),
        duplicated_triples,
        degenerate_faces: degenerate_face_mask(mesh).iter().filter(|&&d| d).count(),
        components,
        euler_characteristic,
        genus,
        boundary_loops,
        area: mesh.total_area(),
        bbox_min,
        bbox_max,
    }
}

/// Loops of boundary edges, if every vertex on the boundary has exactly two boundary edges.
fn count_boundary_loops(num_vertices: usize, edges: &[([usize; 2], usize)]) -> Option<usize> {
    let mut degree = vec![0u32; num_vertices];
    let mut sets = DisjointSets::new(num_vertices);
    for &([a, b], _) in edges.iter().filter(|e| e.1 == 1) {
        degree[a] += 1;
        degree[b] += 1;
        sets.union(a, b);
    }
    if degree.iter().any(|&d| d != 0 && d != 2) {
        return None;
    }
    Some(
        (0..num_vertices)
            .filter(|&v| degree[v] > 0 && sets.find(v) == v)
            .count(),
    )
}

impl fmt::Display for MeshReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn row(f: &mut fmt::Formatter<'_>, name: &str, value: impl fmt::Display) -> fmt::Result {
            writeln!(f, "{name:<24}{value:>12}")
        }
        fn opt<T: fmt::Display>(v: Option<T>) -> String {
            v.map_or_else(|| "-".to_string(), |v| v.to_string())
        }
        fn num(x: f64) -> String {
            if x == 0.0 || (1e-3..1e6).contains(&x.abs()) {
                format!("{x:.6}")
            } else {
                format!("{x:.4e}")
            }
        }
        row(f, "vertices", self.vertices)?;
        row(f, "  unused", self.unused_vertices)?;
        row(f, "faces", self.faces)?;
        row(f, "  duplicate", self.duplicate_faces)?;
        row(f, "  duplicated triples", self.duplicated_triples)?;
        row(f, "  degenerate", self.degenerate_faces)?;
        row(f, "edges", self.edges)?;
        row(f, "  boundary", self.boundary_edges)?;
        row(f, "  non-manifold", self.non_manifold_edges)?;
        row(f, "boundary loops", opt(self.boundary_loops))?;
        row(f, "components", self.components)?;
        row(f, "euler characteristic", self.euler_characteristic)?;
        row(f, "genus", opt(self.genus))?;
        row(f, "area", num(self.area))?;
        let corner = |c: [f64; 3]| format!("[{}, {}, {}]", num(c[0]), num(c[1]), num(c[2]));
        writeln!(f, "{:<24}{}", "bbox min", corner(self.bbox_min))?;
        write!(f, "{:<24}{}", "bbox max", corner(self.bbox_max))
    }
}

/// `true` for every vertex that some face refers to.
fn used_vertices(mesh: &TriMesh) -> Vec<bool> {
    let mut used = vec![false; mesh.num_vertices()];
    for f in mesh.faces() {
        for &v in f {
            used[v] = true;
        }
    }
    used
}

/// `true` for every face whose sorted vertex triple equals that of an earlier face, and the
/// number of distinct triples that occur more than once.
fn duplicate_faces(mesh: &TriMesh) -> (Vec<bool>, usize) {
    let mut keyed: Vec<([usize; 3], usize)> = mesh
        .faces()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut k = *f;
            k.sort_unstable();
            (k, i)
        })
        .collect();
    // Sorting by (triple, index) puts the earliest copy first in each run.
    keyed.sort_unstable();
    let mut mask = vec![false; keyed.len()];
    let mut groups = 0;
    for w in keyed.windows(2) {
        if w[1].0 == w[0].0 {
            // The first copy of a run is never marked: a new group starts here.
            if !mask[w[0].1] {
                groups += 1;
            }
            mask[w[1].1] = true;
        }
    }
    (mask, groups)
}

/// `true` for every face with a repeated vertex or an area `<= 1e-14 · d²` (`d` the bounding
/// box diagonal).
fn degenerate_face_mask(mesh: &TriMesh) -> Vec<bool> {
    if mesh.num_faces() == 0 {
        return Vec::new();
    }
    let (lo, hi) = mesh.bounding_box();
    let tolerance = 1e-14 * (hi - lo).norm_squared();
    mesh.faces()
        .iter()
        .enumerate()
        .map(|(i, &[a, b, c])| {
            a == b || b == c || a == c || 0.5 * mesh.face_normal_scaled(i).norm() <= tolerance
        })
        .collect()
}

/// Sorted neighbour lists: `adjacency[v]` holds every vertex that shares an edge with `v`
/// (never `v` itself), in increasing order. Unused vertices get an empty list.
pub fn vertex_adjacency(mesh: &TriMesh) -> Vec<Vec<usize>> {
    let edges = edge_face_counts(mesh);
    let mut degree = vec![0usize; mesh.num_vertices()];
    for &([a, b], _) in &edges {
        degree[a] += 1;
        degree[b] += 1;
    }
    let mut adjacency: Vec<Vec<usize>> = degree.iter().map(|&d| Vec::with_capacity(d)).collect();
    // Edges are sorted by (a, b) with a < b, so each list receives its smaller neighbours (from
    // edges (u, v), in increasing u) before its larger ones (from edges (v, w), increasing w):
    // the lists come out sorted.
    for &([a, b], _) in &edges {
        adjacency[a].push(b);
        adjacency[b].push(a);
    }
    adjacency
}

/// Connected components of the vertices through the faces' edges.
///
/// Returns `(count, labels)` with one label per vertex. The `count` components are those of
/// the vertices used by faces; they are labelled `0..count` in the order of their
/// lowest-numbered vertex. Each unused vertex gets a label of its own, `count`, `count + 1`,
/// ... in vertex order, and is not included in `count`.
pub fn connected_components(mesh: &TriMesh) -> (usize, Vec<usize>) {
    let n = mesh.num_vertices();
    let mut sets = DisjointSets::new(n);
    for &[a, b, c] in mesh.faces() {
        sets.union(a, b);
        sets.union(b, c);
    }
    let used = used_vertices(mesh);
    const NONE: usize = usize::MAX;
    let mut label_of_root = vec![NONE; n];
    let mut labels = vec![NONE; n];
    let mut count = 0;
    for v in 0..n {
        if used[v] {
            let r = sets.find(v);
            if label_of_root[r] == NONE {
                label_of_root[r] = count;
                count += 1;
            }
            labels[v] = label_of_root[r];
        }
    }
    let mut next = count;
    for v in 0..n {
        if !used[v] {
            labels[v] = next;
            next += 1;
        }
    }
    (count, labels)
}

/// Union-find with path halving and union by size.
struct DisjointSets {
    parent: Vec<usize>,
    size: Vec<u32>,
}

impl DisjointSets {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n).collect(),
            size: vec![1; n],
        }
    }

    fn find(&mut self, mut v: usize) -> usize {
        while self.parent[v] != v {
            self.parent[v] = self.parent[self.parent[v]];
            v = self.parent[v];
        }
        v
    }

    fn union(&mut self, a: usize, b: usize) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a] < self.size[b] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b] = a;
        self.size[a] += self.size[b];
    }
}

/// Removes the vertices that no face uses, keeping the order of the others.
///
/// Returns the new mesh and the map from old to new vertex index (`None` for a removed
/// vertex), to carry per-vertex signals along. A mesh without faces loses every vertex; the
/// result then has no vertices, which [`TriMesh::new`] would refuse, so check
/// [`TriMesh::num_vertices`] before using it.
pub fn remove_unused_vertices(mesh: &TriMesh) -> (TriMesh, Vec<Option<usize>>) {
    let used = used_vertices(mesh);
    let mut map = vec![None; mesh.num_vertices()];
    let mut positions = Vec::with_capacity(used.iter().filter(|&&u| u).count());
    for (v, p) in mesh.positions().iter().enumerate() {
        if used[v] {
            map[v] = Some(positions.len());
            positions.push(*p);
        }
    }
    let faces = mesh
        .faces()
        .iter()
        .map(|f| f.map(|v| map[v].expect("a face vertex is used")))
        .collect();
    (TriMesh::new_unchecked(positions, faces), map)
}

/// Removes faces whose sorted vertex triple repeats an earlier face's (the first copy stays,
/// whatever the orientation of the others). Returns the new mesh and the number removed.
pub fn remove_duplicate_faces(mesh: &TriMesh) -> (TriMesh, usize) {
    keep_faces(mesh, &duplicate_faces(mesh).0)
}

/// Removes faces with a repeated vertex or (near-)zero area (see
/// [`MeshReport::degenerate_faces`]). Returns the new mesh and the number removed.
pub fn remove_degenerate_faces(mesh: &TriMesh) -> (TriMesh, usize) {
    keep_faces(mesh, &degenerate_face_mask(mesh))
}

fn keep_faces(mesh: &TriMesh, remove: &[bool]) -> (TriMesh, usize) {
    let faces: Vec<[usize; 3]> = mesh
        .faces()
        .iter()
        .zip(remove)
        .filter(|(_, &r)| !r)
        .map(|(f, _)| *f)
        .collect();
    let removed = mesh.num_faces() - faces.len();
    (
        TriMesh::new_unchecked(mesh.positions().to_vec(), faces),
        removed,
    )
}

/// What [`repair`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairSummary {
    /// Faces removed as degenerate.
    pub degenerate_faces_removed: usize,
    /// Faces removed as duplicates (after the degenerate ones were gone).
    pub duplicate_faces_removed: usize,
    /// Vertices removed as unused (after the face removals).
    pub unused_vertices_removed: usize,
    /// Old vertex index → new vertex index (`None` if removed), to carry signals along.
    pub vertex_map: Vec<Option<usize>>,
}

impl fmt::Display for RepairSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "removed {} degenerate faces, {} duplicate faces, {} unused vertices",
            self.degenerate_faces_removed,
            self.duplicate_faces_removed,
            self.unused_vertices_removed
        )
    }
}

/// Removes degenerate faces, then duplicate faces, then unused vertices.
pub fn repair(mesh: &TriMesh) -> (TriMesh, RepairSummary) {
    let (mesh, degenerate_faces_removed) = remove_degenerate_faces(mesh);
    let (mesh, duplicate_faces_removed) = remove_duplicate_faces(&mesh);
    let (mesh, vertex_map) = remove_unused_vertices(&mesh);
    let unused_vertices_removed = vertex_map.iter().filter(|m| m.is_none()).count();
    let summary = RepairSummary {
        degenerate_faces_removed,
        duplicate_faces_removed,
        unused_vertices_removed,
        vertex_map,
    };
    (mesh, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Point3;

    fn mesh(p: &[[f64; 3]], f: &[[usize; 3]]) -> TriMesh {
        TriMesh::new(p.iter().map(|&c| Point3::from(c)).collect(), f.to_vec()).unwrap()
    }

    fn tetrahedron() -> TriMesh {
        let s = 1.0 / 3f64.sqrt();
        mesh(
            &[[s, s, s], [s, -s, -s], [-s, s, -s], [-s, -s, s]],
            &[[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]],
        )
    }

    /// An `n × m` grid wrapped in both directions into a torus (radii 2 and 1).
    fn torus(n: usize, m: usize) -> TriMesh {
        let tau = std::f64::consts::TAU;
        let mut p = Vec::new();
        for i in 0..n {
            for j in 0..m {
                let (u, v) = (tau * i as f64 / n as f64, tau * j as f64 / m as f64);
                p.push([
                    (2.0 + v.cos()) * u.cos(),
                    (2.0 + v.cos()) * u.sin(),
                    v.sin(),
                ]);
            }
        }
        let id = |i: usize, j: usize| (i % n) * m + (j % m);
        let mut f = Vec::new();
        for i in 0..n {
            for j in 0..m {
                f.push([id(i, j), id(i + 1, j), id(i + 1, j + 1)]);
                f.push([id(i, j), id(i + 1, j + 1), id(i, j + 1)]);
            }
        }
        mesh(&p, &f)
    }

    fn square() -> TriMesh {
        mesh(
            &[
                [0.0, 0.0, 0.0],
                [1.0, 0.0, 0.0],
                [1.0, 1.0, 0.0],
                [0.0, 1.0, 0.0],
            ],
            &[[0, 1, 2], [0, 2, 3]],
        )
    }

    /// Three triangles sharing the edge 0–1.
    fn fin() -> TriMesh {
        mesh(
            &[
                [0.0, 0.0, 0.0],
                [1.0, 0.0, 0.0],
                [0.5, 1.0, 0.0],
                [0.5, -1.0, 0.0],
                [0.5, 0.0, 1.0],
            ],
            &[[0, 1, 2], [1, 0, 3], [0, 1, 4]],
        )
    }

    #[test]
    fn tetrahedron_is_a_closed_sphere() {
        let r = mesh_report(&tetrahedron());
        assert_eq!((r.vertices, r.faces, r.edges), (4, 4, 6));
        assert_eq!(
            (r.boundary_edges, r.non_manifold_edges, r.components),
            (0, 0, 1)
        );
        assert_eq!(
            (r.euler_characteristic, r.genus, r.boundary_loops),
            (2, Some(0), Some(0))
        );
        assert_eq!(
            (r.unused_vertices, r.duplicate_faces, r.degenerate_faces),
            (0, 0, 0)
        );
        let side = (8.0f64 / 3.0).sqrt();
        assert!((r.area - 4.0 * 3f64.sqrt() / 4.0 * side * side).abs() < 1e-12);
        assert_eq!(edge_face_counts(&tetrahedron()).first(), Some(&([0, 1], 2)));
    }

    #[test]
    fn torus_has_genus_one() {
        for (n, m) in [(3, 3), (8, 5), (20, 12)] {
            let r = mesh_report(&torus(n, m));
            assert_eq!(
                (r.vertices, r.faces, r.edges),
                (n * m, 2 * n * m, 3 * n * m)
            );
            assert_eq!((r.euler_characteristic, r.genus), (0, Some(1)), "{n}x{m}");
            assert_eq!(
                (r.boundary_edges, r.non_manifold_edges, r.components),
                (0, 0, 1)
            );
        }
    }

    #[test]
    fn square_has_four_boundary_edges() {
        let r = mesh_report(&square());
        assert_eq!((r.edges, r.boundary_edges, r.non_manifold_edges), (5, 4, 0));
        assert_eq!(
            (r.euler_characteristic, r.genus, r.boundary_loops),
            (1, None, Some(1))
        );
        assert_eq!((r.bbox_min, r.bbox_max), ([0.0; 3], [1.0, 1.0, 0.0]));
        assert!((r.area - 1.0).abs() < 1e-15);
        assert_eq!(
            edge_face_counts(&square()),
            vec![
                ([0, 1], 1),
                ([0, 2], 2),
                ([0, 3], 1),
                ([1, 2], 1),
                ([2, 3], 1)
            ]
        );
    }

    #[test]
    fn fin_has_one_non_manifold_edge() {
        let r = mesh_report(&fin());
        assert_eq!((r.edges, r.non_manifold_edges, r.boundary_edges), (7, 1, 6));
        assert_eq!((r.genus, r.boundary_loops, r.components), (None, None, 1));
        assert_eq!(edge_face_counts(&fin())[0], ([0, 1], 3));
    }

    /// A square plus: two copies of face 0 (one reversed), a face with a repeated vertex, a
    /// zero-area face on three collinear vertices, and two vertices no face uses.
    fn messy() -> TriMesh {
        mesh(
            &[
                [0.0, 0.0, 0.0],
                [1.0, 0.0, 0.0],
                [1.0, 1.0, 0.0],
                [0.0, 1.0, 0.0],
                [5.0, 5.0, 5.0], // 4: unused
                [2.0, 0.0, 0.0],
                [3.0, 0.0, 0.0],
                [4.0, 0.0, 0.0],
                [9.0, 9.0, 9.0], // 8: unused
            ],
            &[
                [0, 1, 2],
                [0, 2, 3],
                [1, 2, 0],
                [2, 1, 0],
                [0, 0, 3],
                [5, 6, 7],
            ],
        )
    }

    #[test]
    fn counts_duplicates_degenerates_and_unused() {
        let r = mesh_report(&messy());
        assert_eq!((r.duplicate_faces, r.duplicated_triples), (2, 1));
        assert_eq!(r.degenerate_faces, 2);
        assert_eq!(r.unused_vertices, 2);
        // Components of the used vertices: the square and the collinear triple.
        assert_eq!(r.components, 2);
        let (m, removed) = remove_duplicate_faces(&messy());
        assert_eq!(removed, 2);
        assert_eq!(m.faces(), &[[0, 1, 2], [0, 2, 3], [0, 0, 3], [5, 6, 7]]);
        let (m, removed) = remove_degenerate_faces(&messy());
        assert_eq!(removed, 2);
        assert_eq!(m.faces(), &[[0, 1, 2], [0, 2, 3], [1, 2, 0], [2, 1, 0]]);
        let (m, map) = remove_unused_vertices(&messy());
        assert_eq!(m.num_vertices(), 7);
        assert_eq!(map[4], None);
        assert_eq!(map[5], Some(4));
        assert_eq!(m.faces()[5], [4, 5, 6]);
    }

    #[test]
    fn repair_removes_exactly_the_problems() {
        let (m, s) = repair(&messy());
        assert_eq!(
            (
                s.degenerate_faces_removed,
                s.duplicate_faces_removed,
                s.unused_vertices_removed
            ),
            (2, 2, 5),
            "the collinear vertices become unused once their face is gone"
        );
        assert_eq!(m.faces(), &[[0, 1, 2], [0, 2, 3]]);
        assert_eq!(m.num_vertices(), 4);
        assert_eq!(
            &s.vertex_map[..5],
            &[Some(0), Some(1), Some(2), Some(3), None]
        );
        let r = mesh_report(&m);
        assert_eq!(
            (r.duplicate_faces, r.degenerate_faces, r.unused_vertices),
            (0, 0, 0)
        );
        assert_eq!(r, mesh_report(&square()));
        assert!(s.to_string().contains("2 duplicate faces"));
        // A clean mesh is left alone.
        let (t, s) = repair(&tetrahedron());
        assert_eq!(t, tetrahedron());
        assert_eq!(s.vertex_map, vec![Some(0), Some(1), Some(2), Some(3)]);
    }

    #[test]
    fn tiny_but_valid_faces_are_not_degenerate() {
        // Area 1e-12 on a mesh of diagonal ~1: well above 1e-14 · d².
        let p = [
            [0.0, 0.0, 0.0],
            [1e-6, 0.0, 0.0],
            [0.0, 2e-6, 0.0],
            [1.0, 1.0, 0.0],
        ];
        let m = mesh(&p, &[[0, 1, 2], [1, 3, 2]]);
        assert_eq!(mesh_report(&m).degenerate_faces, 0);
        let p = [
            [0.0, 0.0, 0.0],
            [1e-8, 0.0, 0.0],
            [0.0, 1e-8, 0.0],
            [1.0, 1.0, 0.0],
        ];
        let m = mesh(&p, &[[0, 1, 2], [1, 3, 2]]);
        assert_eq!(mesh_report(&m).degenerate_faces, 1);
    }

    #[test]
    fn adjacency_and_components() {
        let adj = vertex_adjacency(&square());
        assert_eq!(
            adj,
            vec![vec![1, 2, 3], vec![0, 2], vec![0, 1, 3], vec![0, 2]]
        );
        for (v, n) in vertex_adjacency(&torus(6, 5)).iter().enumerate() {
            assert_eq!(n.len(), 6, "vertex {v}");
            assert!(n.windows(2).all(|w| w[0] < w[1]) && !n.contains(&v));
        }
        // Two triangles and an unused vertex between them.
        let m = mesh(
            &[
                [0.0; 3],
                [1.0, 0.0, 0.0],
                [0.0, 1.0, 0.0],
                [7.0; 3],
                [2.0; 3],
                [3.0, 2.0, 2.0],
                [2.0, 3.0, 2.0],
            ],
            &[[4, 5, 6], [0, 1, 2]],
        );
        assert_eq!(connected_components(&m), (2, vec![0, 0, 0, 2, 1, 1, 1]));
        assert_eq!(vertex_adjacency(&m)[3], Vec::<usize>::new());
        let r = mesh_report(&m);
        assert_eq!((r.components, r.unused_vertices, r.genus), (2, 1, None));
        // Two separate triangles: two boundary loops.
        assert_eq!(r.boundary_loops, Some(2));
    }

    #[test]
    fn degenerate_sides_are_not_edges() {
        let m = mesh(&[[0.0; 3], [1.0, 0.0, 0.0]], &[[0, 0, 1]]);
        assert_eq!(edge_face_counts(&m), vec![([0, 1], 2)]);
        // A mesh without faces has every vertex unused and no components.
        let cloud = TriMesh::new(vec![Point3::origin(); 3], vec![]).unwrap();
        let r = mesh_report(&cloud);
        assert_eq!(
            (r.unused_vertices, r.components, r.edges, r.genus),
            (3, 0, 0, None)
        );
        assert_eq!(connected_components(&cloud), (0, vec![0, 1, 2]));
        let (empty, map) = remove_unused_vertices(&cloud);
        assert_eq!((empty.num_vertices(), map), (0, vec![None; 3]));
        let r = mesh_report(&empty);
        assert_eq!((r.vertices, r.faces, r.bbox_min), (0, 0, [0.0; 3]));
    }

    #[test]
    fn report_prints_and_serialises() {
        let r = mesh_report(&torus(4, 3));
        let text = r.to_string();
        assert!(
            text.lines()
                .any(|l| l.starts_with("genus") && l.trim_end().ends_with('1')),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("  boundary ") && l.ends_with(" 0")),
            "{text}"
        );
        let widths: Vec<usize> = text.lines().take(14).map(str::len).collect();
        assert!(
            widths.iter().all(|&w| w == 36),
            "aligned columns: {widths:?}\n{text}"
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["genus"], 1);
        assert_eq!(json["edges"], 36);
        let genus_row = mesh_report(&square())
            .to_string()
            .lines()
            .nth(12)
            .unwrap()
            .to_string();
        assert_eq!(genus_row, format!("{:<24}{:>12}", "genus", "-"));
    }

    fn bunny(file: &str) -> Option<TriMesh> {
        let dir = crate::io::require_shared_data()?;
        Some(
            crate::io::load_mesh(&dir.join("bunny").join(file))
                .unwrap()
                .mesh,
        )
    }

    #[test]
    fn stanford_bunny_res3_report() {
        let Some(m) = bunny("bun_zipper_res3.ply") else {
            return;
        };
        let r = mesh_report(&m);
        assert_eq!((r.vertices, r.faces), (1889, 3851));
        assert_eq!(r.unused_vertices, 2);
        // The data README's "69 duplicated faces" are 69 distinct vertex triples that occur
        // more than once (56 twice, 12 three times, 1 four times): 83 extra copies.
        assert_eq!(r.duplicated_triples, 69);
        assert_eq!(r.duplicate_faces, 83);
        assert_eq!(r.non_manifold_edges, 141);
        assert_eq!(r.boundary_edges, 60);
        assert_eq!(r.degenerate_faces, 0);
        let (fixed, s) = repair(&m);
        assert_eq!(
            (s.degenerate_faces_removed, s.duplicate_faces_removed),
            (0, 83)
        );
        assert_eq!(s.unused_vertices_removed, 2);
        assert_eq!((fixed.num_vertices(), fixed.num_faces()), (1887, 3768));
        let r = mesh_report(&fixed);
        assert_eq!((r.duplicate_faces, r.unused_vertices), (0, 0));
    }

    #[test]
    fn stanford_bunny_res4_report() {
        let Some(m) = bunny("bun_zipper_res4.ply") else {
            return;
        };
        let r = mesh_report(&m);
        assert_eq!((r.vertices, r.faces), (453, 948));
        assert_eq!(
            (r.boundary_edges, r.non_manifold_edges, r.duplicated_triples),
            (26, 70, 31)
        );
        assert_eq!(
            r.duplicate_faces, 40,
            "23 triples twice, 7 three times, 1 four times"
        );
    }

    #[test]
    fn stanford_bunny_npm_obj_is_a_closed_sphere() {
        let Some(m) = bunny("bunny_npm.obj") else {
            return;
        };
        let r = mesh_report(&m);
        assert_eq!((r.vertices, r.faces), (1839, 3674));
        assert_eq!(
            (r.boundary_edges, r.non_manifold_edges, r.components),
            (0, 0, 1)
        );
        assert_eq!((r.euler_characteristic, r.genus), (2, Some(0)));
        assert_eq!(
            (r.unused_vertices, r.duplicate_faces, r.degenerate_faces),
            (0, 0, 0)
        );
        assert!((r.bbox_min[0] + 4.958).abs() < 1e-3 && (r.bbox_max[1] - 9.655).abs() < 1e-3);
    }

    #[test]
    fn stanford_bunny_full_report() {
        let Some(m) = bunny("bun_zipper.ply") else {
            return;
        };
        let r = mesh_report(&m);
        assert_eq!((r.vertices, r.faces), (35947, 69451));
        assert_eq!(r.unused_vertices, 1113);
        assert_eq!((r.boundary_edges, r.non_manifold_edges), (223, 0));
        assert_eq!(r.euler_characteristic, -3);
        // Genus 0 with 5 holes in the base: χ = 2 − 2g − b.
        assert_eq!(
            (r.genus, r.boundary_loops, r.components),
            (None, Some(5), 1)
        );
    }

    /// Timing on a 2-million-face torus: `cargo test -p meshflow-geometry --release --lib
    /// topology::tests::large -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn large_mesh_report_timing() {
        let m = torus(1000, 1000);
        let t = std::time::Instant::now();
        let edges = edge_face_counts(&m);
        let t_edges = t.elapsed();
        let r = mesh_report(&m);
        println!(
            "{} faces: edges in {t_edges:?}, full report in {:?}",
            m.num_faces(),
            t.elapsed() - t_edges
        );
        assert_eq!((edges.len(), r.genus), (3_000_000, Some(1)));
    }
}

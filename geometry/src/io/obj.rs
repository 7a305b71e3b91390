//! Wavefront OBJ reader.
//!
//! The file is parsed by the `tobj` crate (`triangulate: true`, `single_index: false`, so
//! vertices are never split at UV or normal seams, and the *position* indices are used). tobj
//! has three limits that matter for signals on surfaces, and this module works around them:
//!
//! * its errors carry no line number, so the text is first checked by a small scanner of our
//!   own that reports `line N` and what is wrong (bad numbers, NaN/inf coordinates, faces with
//!   fewer than 3 vertices, indices out of range); the scanner is at least as strict as tobj,
//!   so tobj never sees input that could make it fail (or, for some bad `vt`/`vn` indices,
//!   overflow);
//! * it renumbers the vertices of every object/group in order of first use and drops unused
//!   ones, so vertices shared between groups would be duplicated and per-vertex data would no
//!   longer line up with the file; we keep the file's global vertex numbering (all `v` lines,
//!   in order) and translate tobj's per-object indices back to it, checking that the two
//!   parses agree;
//! * without its `use_f64` feature it parses coordinates as `f32`; positions are taken from our
//!   own `f64` parse of the same `v` lines.
//!
//! Polylines (`l`) and points (`p`) are ignored; faces are fan-triangulated from their first
//! vertex, which is exact for convex polygons.

use std::io::Cursor;
use std::path::Path;

use nalgebra::Point3;

use super::{parse_error, read_file, LoadedMesh};
use crate::error::{GeometryError, Result};
use crate::mesh::TriMesh;

/// Reads a Wavefront OBJ file into one triangle mesh.
///
/// Faces may be written `v`, `v/vt`, `v//vn` or `v/vt/vn`, with 1-based or negative (relative)
/// indices; polygons are fan-triangulated. Several objects or groups in one file are merged
/// into one mesh with the file's global vertex numbering (shared vertices stay shared, unused
/// vertices are kept). Vertex colours (`v x y z r g b`) become the vertex properties `red`,
/// `green`, `blue` in the file's scale; a homogeneous `w` (`v x y z w`) divides the position.
///
/// # Errors
/// [`GeometryError::Io`] if the file cannot be read; [`GeometryError::EmptyMesh`] if it has no
/// vertices; otherwise [`GeometryError::Parse`] with `location: "line N"` and what is wrong.
pub fn read_obj(path: &Path) -> Result<LoadedMesh> {
    let bytes = read_file(path)?;
    parse_obj(&bytes, path)
}

/// Parses OBJ text held in memory; `path` only labels error messages. See [`read_obj`].
///
/// # Errors
/// As [`read_obj`], without the I/O errors.
pub fn parse_obj(bytes: &[u8], path: &Path) -> Result<LoadedMesh> {
    let scan = Scan::run(bytes, path)?;
    if scan.positions.is_empty() {
        return Err(GeometryError::EmptyMesh(format!(
            "{} contains no vertices (`v` lines)",
            path.display()
        )));
    }

    // The scanner has checked every line, so the text is valid UTF-8. Polylines are blanked
    // (keeping line numbers) because tobj would turn `l a b c` into a triangle.
    let text = std::str::from_utf8(bytes).map_err(|e| {
        parse_error(
            path,
            "file",
            format!("not valid UTF-8 text at byte {}", e.valid_up_to()),
        )
    })?;
    let text = if scan.has_polylines {
        blank_polylines(text)
    } else {
        text.to_owned()
    };
    let options = tobj::LoadOptions {
        single_index: false,
        triangulate: true,
        ignore_points: true,
        ignore_lines: true,
    };
    let (models, _materials) =
        tobj::load_obj_buf(&mut Cursor::new(text.as_bytes()), &options, |_| {
            // Materials are not needed; never touch the file system for them.
            Err(tobj::LoadError::OpenFileFailed)
        })
        .map_err(|e| {
            parse_error(
                path,
                "unknown line",
                format!("the OBJ parser (tobj) rejected the file: {e}"),
            )
        })?;

    let faces = scan.triangles();
    check_against_tobj(&scan, &faces, &models, path)?;

    let vertex_properties = match scan.colors {
        Some(colors) if !colors.is_empty() => ["red", "green", "blue"]
            .iter()
            .enumerate()
            .map(|(k, name)| (name.to_string(), colors.iter().map(|c| c[k]).collect()))
            .collect(),
        _ => Vec::new(),
    };
    let mesh = TriMesh::new(scan.positions, faces)?;
    Ok(LoadedMesh {
        mesh,
        vertex_properties,
    })
}

/// What our own pass over the text found.
struct Scan {
    /// Every `v` line, in order, `f64`.
    positions: Vec<Point3<f64>>,
    /// Vertex colours, when every `v` line has them.
    colors: Option<Vec<[f64; 3]>>,
    /// Face corners (0-based global position indices), all faces concatenated.
    corners: Vec<usize>,
    /// Start of each face in `corners`, plus a final end marker.
    face_starts: Vec<usize>,
    /// Whether any `l` line was seen.
    has_polylines: bool,
}

impl Scan {
    fn run(bytes: &[u8], path: &Path) -> Result<Self> {
        let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();

        // Pass 1: totals, so that positive (forward) indices can be range-checked.
        let (mut total_v, mut total_vt, mut total_vn) = (0usize, 0usize, 0usize);
        for line in &lines {
            let mut words = line
                .split(u8::is_ascii_whitespace)
                .filter(|w| !w.is_empty());
            match words.next() {
                Some(b"v") => total_v += 1,
                Some(b"vt") => total_vt += 1,
                Some(b"vn") => total_vn += 1,
                _ => {}
            }
        }

        let mut scan = Scan {
            positions: Vec::with_capacity(total_v),
            colors: None,
            corners: Vec::new(),
            face_starts: vec![0],
            has_polylines: false,
        };
        let mut colors: Vec<[f64; 3]> = Vec::new();
        let mut first_v_has_color: Option<bool> = None;
        let (mut seen_vt, mut seen_vn) = (0usize, 0usize);

        for (i, raw) in lines.iter().enumerate() {
            let at = |message: String| parse_error(path, format!("line {}", i + 1), message);
            let line = std::str::from_utf8(raw)
                .map_err(|e| at(format!("not valid UTF-8 text (byte {})", e.valid_up_to())))?;
            let mut words = line.split_whitespace();
            match words.next() {
                Some("v") => {
                    let values = parse_numbers(words, "vertex").map_err(at)?;
                    let (p, color) = match values.as_slice() {
                        [x, y, z] => (Point3::new(*x, *y, *z), None),
                        [x, y, z, w] => {
                            if *w == 0.0 {
                                return Err(at("vertex has homogeneous coordinate w = 0".into()));
                            }
                            (Point3::new(x / w, y / w, z / w), None)
                        }
                        [x, y, z, r, g, b] => (Point3::new(*x, *y, *z), Some([*r, *g, *b])),
                        other => {
                            return Err(at(format!(
                                "vertex has {} numbers; expected `x y z`, `x y z w` or \
                                 `x y z r g b`",
                                other.len()
                            )))
                        }
                    };
                    for (k, c) in p.iter().enumerate() {
                        if !c.is_finite() {
                            return Err(at(format!(
                                "vertex {}: coordinate {} is {}",
                                scan.positions.len() + 1,
                                ["x", "y", "z"][k],
                                if c.is_nan() { "NaN" } else { "infinite" }
                            )));
                        }
                    }
                    let has_color = color.is_some();
                    match first_v_has_color {
                        None => first_v_has_color = Some(has_color),
                        Some(first) if first != has_color => {
                            return Err(at(
                                "vertex colours must be given on every `v` line or on none".into(),
                            ))
                        }
                        _ => {}
                    }
                    if let Some(c) = color {
                        colors.push(c);
                    }
                    scan.positions.push(p);
                }
                Some("vt") => {
                    let values: Vec<&str> = words.take(2).collect();
                    if values.len() < 2 || values.iter().any(|w| w.parse::<f64>().is_err()) {
                        return Err(at("texture coordinate needs 2 numbers (`vt u v`)".into()));
                    }
                    seen_vt += 1;
                }
                Some("vn") => {
                    let values: Vec<&str> = words.take(3).collect();
                    if values.len() < 3 || values.iter().any(|w| w.parse::<f64>().is_err()) {
                        return Err(at("normal needs 3 numbers (`vn x y z`)".into()));
                    }
                    seen_vn += 1;
                }
                Some("f") => {
                    let start = scan.corners.len();
                    for token in words {
                        let v = parse_face_vertex(
                            token,
                            [scan.positions.len(), seen_vt, seen_vn],
                            [total_v, total_vt, total_vn],
                        )
                        .map_err(&at)?;
                        scan.corners.push(v);
                    }
                    let n = scan.corners.len() - start;
                    if n < 3 {
                        return Err(at(format!("face has {n} vertices (need at least 3)")));
                    }
                    scan.face_starts.push(scan.corners.len());
                }
                Some("l") => scan.has_polylines = true,
                Some("usemtl") => {
                    // tobj splits on the first space and rejects an empty name.
                    let name = line.split_once(' ').map(|(_, n)| n.trim()).unwrap_or("");
                    if name.is_empty() {
                        return Err(at("`usemtl` needs a material name".into()));
                    }
                }
                _ => {}
            }
        }
        if first_v_has_color == Some(true) {
            scan.colors = Some(colors);
        }
        Ok(scan)
    }

    fn num_faces(&self) -> usize {
        self.face_starts.len() - 1
    }

    fn face(&self, f: usize) -> &[usize] {
        &self.corners[self.face_starts[f]..self.face_starts[f + 1]]
    }

    /// Fan triangulation of every face, in file order (the same fan tobj builds).
    fn triangles(&self) -> Vec<[usize; 3]> {
        let mut out = Vec::with_capacity(self.corners.len().saturating_sub(2 * self.num_faces()));
        for f in 0..self.num_faces() {
            let c = self.face(f);
            for k in 1..c.len() - 1 {
                out.push([c[0], c[k], c[k + 1]]);
            }
        }
        out
    }
}

/// Parses the numbers after a keyword, naming the first one that is not a number.
fn parse_numbers<'a>(
    words: impl Iterator<Item = &'a str>,
    what: &str,
) -> std::result::Result<Vec<f64>, String> {
    words
        .map(|w| {
            w.parse::<f64>()
                .map_err(|_| format!("{what}: `{w}` is not a number"))
        })
        .collect()
}

/// Parses one face corner `v`, `v/vt`, `v//vn` or `v/vt/vn` and returns the 0-based position
/// index. `seen` are the counts of `v`, `vt`, `vn` before this line (for negative indices),
/// `total` the counts in the whole file (for positive ones).
fn parse_face_vertex(
    token: &str,
    seen: [usize; 3],
    total: [usize; 3],
) -> std::result::Result<usize, String> {
    const WHAT: [&str; 3] = ["vertex", "texture coordinate", "normal"];
    let bad =
        || format!("`{token}` is not a valid face vertex (expected v, v/vt, v//vn or v/vt/vn)");
    let parts: Vec<&str> = token.split('/').collect();
    if parts.len() > 3 || parts[0].is_empty() {
        return Err(bad());
    }
    let mut position = 0;
    for (k, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        let x: i64 = part.parse().map_err(|_| bad())?;
        // tobj ignores texture/normal indices when the file has no `vt`/`vn` lines.
        if k > 0 && total[k] == 0 {
            continue;
        }
        let index = if x > 0 {
            let i = (x - 1) as usize;
            if i >= total[k] {
                return Err(format!(
                    "{} index {x} out of range (the file has {} {}s)",
                    WHAT[k], total[k], WHAT[k]
                ));
            }
            i
        } else if x < 0 {
            let back = x.unsigned_abs() as usize;
            if back > seen[k] {
                return Err(format!(
                    "relative {} index {x} out of range ({} {}s defined before this line)",
                    WHAT[k], seen[k], WHAT[k]
                ));
            }
            seen[k] - back
        } else {
            return Err(format!(
                "{} index 0 is invalid (OBJ indices start at 1)",
                WHAT[k]
            ));
        };
        if k == 0 {
            position = index;
        }
    }
    Ok(position)
}

/// Replaces every `l` (polyline) line by an empty line.
fn blank_polylines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if line.split_whitespace().next() != Some("l") {
            out.push_str(line);
        }
    }
    out
}

/// Checks that tobj's per-object triangles, translated back to global vertex numbers, are
/// exactly our fan triangles, and that its (`f32`) positions match ours.
fn check_against_tobj(
    scan: &Scan,
    triangles: &[[usize; 3]],
    models: &[tobj::Model],
    path: &Path,
) -> Result<()> {
    let mismatch = |what: String| {
        parse_error(
            path,
            "file",
            format!(
                "internal error: tobj and meshflow's OBJ scan disagree ({what}); please report"
            ),
        )
    };
    const UNSET: u32 = u32::MAX;
    let mut local_of = vec![UNSET; scan.positions.len()];
    let mut global_of_local: Vec<usize> = Vec::new();
    let (mut face, mut tri) = (0usize, 0usize);
    for model in models {
        let m = &model.mesh;
        let model_tris = m.indices.len() / 3;
        // The faces of this model: the next ones in file order, until the triangles add up.
        let mut count = 0;
        for &g in &global_of_local {
            local_of[g] = UNSET;
        }
        global_of_local.clear();
        while count < model_tris {
            if face >= scan.num_faces() {
                return Err(mismatch("tobj has more triangles".into()));
            }
            for &g in scan.face(face) {
                if local_of[g] == UNSET {
                    local_of[g] = global_of_local.len() as u32;
                    global_of_local.push(g);
                }
            }
            count += scan.face(face).len() - 2;
            face += 1;
        }
        if count != model_tris || global_of_local.len() * 3 != m.positions.len() {
            return Err(mismatch(format!("object `{}`", model.name)));
        }
        for t in m.indices.chunks_exact(3) {
            let mapped = [t[0], t[1], t[2]].map(|i| global_of_local[i as usize]);
            if mapped != triangles[tri] {
                return Err(mismatch(format!("triangle {tri}")));
            }
            tri += 1;
        }
        for (local, &g) in global_of_local.iter().enumerate() {
            for k in 0..3 {
                // tobj stores f32 (f64 with its `use_f64` feature); compare at f32 precision.
                let ours = scan.positions[g][k] as f32 as f64;
                let theirs = f64::from(m.positions[3 * local + k]) as f32 as f64;
                let close = ours == theirs
                    || (ours - theirs).abs() <= 1e-5 * ours.abs().max(theirs.abs())
                    || (ours - theirs).abs() < 1e-35;
                if !close {
                    return Err(mismatch(format!("position of vertex {}", g + 1)));
                }
            }
        }
    }
    if face != scan.num_faces() {
        return Err(mismatch("tobj has fewer faces".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn parse(text: &str) -> Result<LoadedMesh> {
        parse_obj(text.as_bytes(), Path::new("test.obj"))
    }

    fn parse_err(text: &str) -> (String, String) {
        match parse(text).unwrap_err() {
            GeometryError::Parse {
                location, message, ..
            } => (location, message),
            other => panic!("expected a parse error, got {other}"),
        }
    }

    const SQUARE_V: &str = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\n";

    #[test]
    fn every_face_syntax_gives_the_same_mesh() {
        let extras = "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nvn 0 0 1\n";
        let variants = [
            "f 1 2 3\nf 1 3 4\n",
            "f 1/1 2/2 3/3\nf 1/1 3/3 4/4\n",
            "f 1//1 2//1 3//1\nf 1//1 3//1 4//1\n",
            "f 1/1/1 2/2/1 3/3/1\nf 1/1/1 3/3/1 4/4/1\n",
            "f -4/-4/-1 -3/-3/-1 -2/-2/-1\nf -4 -2 -1\n",
            "f 1/4/1 2 3//1 4/2\n", // a quad, mixed syntax, fan-triangulated
        ];
        for body in variants {
            let loaded = parse(&format!("{SQUARE_V}{extras}{body}")).unwrap();
            assert_eq!(loaded.mesh.num_vertices(), 4, "{body}");
            assert_eq!(loaded.mesh.faces(), &[[0, 1, 2], [0, 2, 3]], "{body}");
            assert!(loaded.vertex_properties.is_empty());
        }
    }

    #[test]
    fn uv_seams_do_not_split_vertices() {
        // Vertex 1 and 3 appear with two different texture coordinates each.
        let text = format!(
            "{SQUARE_V}vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nvt 0.5 0.5\nf 1/1 2/2 3/3\nf 1/5 3/5 4/4\n"
        );
        let loaded = parse(&text).unwrap();
        assert_eq!(loaded.mesh.num_vertices(), 4);
        assert_eq!(loaded.mesh.faces(), &[[0, 1, 2], [0, 2, 3]]);
    }

    #[test]
    fn polygons_are_fan_triangulated() {
        let text = "v 0 0 0\nv 1 0 0\nv 2 1 0\nv 1 2 0\nv 0 1 0\nf 1 2 3 4 5\n";
        let loaded = parse(text).unwrap();
        assert_eq!(loaded.mesh.faces(), &[[0, 1, 2], [0, 2, 3], [0, 3, 4]]);
    }

    #[test]
    fn objects_and_groups_merge_with_global_numbering() {
        // Two groups share the edge 1–3; a third object refers back with relative indices;
        // vertex 6 is unused and kept; points and polylines are ignored.
        let text = "# two squares\no first\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\n\
                    g a\nf 3 4 1\ng b\nusemtl red\nf 1 2 3\nl 1 2 3\np 1\n\
                    o second\nv 2 0 0\nv 9 9 9\nv 2 1 0\nf -5 -3 -1\nf 2 5 7 3\n";
        let loaded = parse(text).unwrap();
        let m = &loaded.mesh;
        assert_eq!(m.num_vertices(), 7);
        assert_eq!(
            m.faces(),
            &[[2, 3, 0], [0, 1, 2], [2, 4, 6], [1, 4, 6], [1, 6, 2]],
            "global vertex numbers, file order"
        );
        assert_eq!(m.positions()[5], Point3::new(9.0, 9.0, 9.0));
    }

    #[test]
    fn colours_and_homogeneous_w() {
        let text = "v 0 0 0 1 0 0\nv 2 0 0 0 1 0\nv 0 2 0 0 0 0.5\nf 1 2 3\n";
        let loaded = parse(text).unwrap();
        assert_eq!(loaded.property("red"), Some(&[1.0, 0.0, 0.0][..]));
        assert_eq!(loaded.property("blue"), Some(&[0.0, 0.0, 0.5][..]));
        let loaded = parse("v 0 0 0\nv 2 0 0 2\nv 0 4 0 2\nf 1 2 3\n").unwrap();
        assert_eq!(loaded.mesh.positions()[2], Point3::new(0.0, 2.0, 0.0));
        assert!(loaded.vertex_properties.is_empty());
    }

    #[test]
    fn coordinates_keep_f64_precision() {
        let text = "v 0.1234567890123 1e-300 -4.958123456789\nv 1 0 0\nv 0 1 0\nf 1 2 3\n";
        let p = parse(text).unwrap().mesh.positions()[0];
        assert_eq!(p, Point3::new(0.1234567890123, 1e-300, -4.958123456789));
    }

    #[test]
    fn errors_name_the_line() {
        let cases: &[(&str, &str, &str)] = &[
            ("v 0 0 0\nv 1 0 0\nv 0 nan 0\nf 1 2 3\n", "line 3", "NaN"),
            (
                "v 0 0 0\nv 1 0 inf\nv 0 1 0\nf 1 2 3\n",
                "line 2",
                "infinite",
            ),
            (
                "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n",
                "line 4",
                "out of range",
            ),
            (
                "v 0 0 0\nv 1 0 0\nv 0 1 0\n\nf 1 2 -4\n",
                "line 5",
                "out of range",
            ),
            ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n", "line 4", "index 0"),
            ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2\n", "line 4", "2 vertices"),
            ("v 0 0 0\nv 1 0 x\n", "line 2", "`x` is not a number"),
            ("v 0 0\n", "line 1", "2 numbers"),
            ("v 0 0 0 1 2\n", "line 1", "5 numbers"),
            ("v 0 0 0 0\n", "line 1", "w = 0"),
            (
                "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1/1/1/1 2 3\n",
                "line 4",
                "not a valid face vertex",
            ),
            (
                "v 0 0 0\nv 1 0 0\nv 0 1 0\nf a b c\n",
                "line 4",
                "not a valid face vertex",
            ),
            (
                "v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nf 1/2 2/1 3/1\n",
                "line 5",
                "texture",
            ),
            (
                "v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nf 1/0 2/-9 3/1\n",
                "line 5",
                "texture",
            ),
            (
                "v 0 0 0\nv 1 0 0\nv 0 1 0\nvn 0 0 1\nf 1//2 2//1 3//1\n",
                "line 5",
                "normal",
            ),
            ("vt 0\n", "line 1", "texture coordinate"),
            ("vn 0 0\n", "line 1", "normal"),
            ("v 0 0 0 1 1 1\nv 1 0 0\n", "line 2", "colours"),
            ("v 0 0 0\nusemtl\n", "line 2", "material"),
        ];
        for &(text, location, needle) in cases {
            let (loc, msg) = parse_err(text);
            assert_eq!(loc, location, "{text:?}: {msg}");
            assert!(msg.contains(needle), "{text:?}: `{msg}` lacks `{needle}`");
        }
        let bytes = b"v 0 0 0\nv 1 \xff 0\n";
        let err = parse_obj(bytes, Path::new("x.obj")).unwrap_err();
        assert!(
            err.to_string().contains("line 2") && err.to_string().contains("UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn empty_file_is_an_error() {
        for text in ["", "# nothing\n", "f 1 2 3\n"] {
            match parse(text) {
                Err(GeometryError::EmptyMesh(m)) => assert!(m.contains("test.obj")),
                Err(GeometryError::Parse { .. }) => {} // f 1 2 3: index out of range
                other => panic!("{text:?}: {other:?}"),
            }
        }
        assert!(matches!(
            parse("").unwrap_err(),
            GeometryError::EmptyMesh(_)
        ));
    }

    #[test]
    fn truncated_and_garbage_inputs_do_not_panic() {
        let text = format!(
            "{SQUARE_V}vt 0 0\nvt 1 0\nvt 1 1\nvn 0 0 1\nf 1/1/1 2/2/1 3/3/1\nf -4//-1 -2//1 -1/1/1\n"
        );
        for cut in 0..=text.len() {
            let _ = parse(&text[..cut]);
        }
        // A file that ends mid-line without a newline is still read.
        assert_eq!(parse(&text[..text.len() - 1]).unwrap().mesh.num_faces(), 2);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let mut bytes = text.clone().into_bytes();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state % bytes.len() as u64) as usize;
                bytes[at] = b"0123456789-/ \nvf.e#lx\xff"[(state >> 40) as usize % 22];
            }
            let _ = parse_obj(&bytes, Path::new("fuzz.obj"));
        }
    }

    #[test]
    fn reads_a_file_and_reports_io_errors() {
        let dir = std::env::temp_dir().join(format!("meshflow-obj-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("quad.obj");
        std::fs::write(
            &file,
            format!("mtllib missing.mtl\n{SQUARE_V}usemtl m\nf 1 2 3 4\n"),
        )
        .unwrap();
        assert_eq!(read_obj(&file).unwrap().mesh.num_faces(), 2);
        let err = read_obj(&dir.join("nope.obj")).unwrap_err();
        assert!(matches!(err, GeometryError::Io { .. }));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stanford_bunny_obj() {
        let Some(dir) = crate::io::require_shared_data() else {
            return;
        };
        let path: PathBuf = dir.join("bunny").join("bunny_npm.obj");
        let loaded = read_obj(&path).unwrap();
        assert_eq!(loaded.mesh.num_vertices(), 1839);
        assert_eq!(loaded.mesh.num_faces(), 3674);
        assert!(loaded.vertex_properties.is_empty());
        // Consistently oriented outward (data README: signed volume +194.29).
        assert!((loaded.mesh.signed_volume() - 194.29).abs() < 0.01);
        assert_eq!(
            loaded.mesh.positions()[0],
            Point3::new(1.301895, 0.122622, 2.550061)
        );
    }
}

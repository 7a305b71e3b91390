//! Data compiled into the binary so the CLI works offline on a fresh clone.

use std::path::Path;

use crate::geometry::{io::parse_obj, io::LoadedMesh, Result};

/// The Stanford bunny from the npm package `bunny` 1.0.1 (public domain; Stanford 3D Scanning
/// Repository, Turk & Levoy 1994): 1839 vertices, 3674 faces, closed, genus 0.
pub const BUNNY_NPM_OBJ: &str = include_str!("../data/bunny_npm.obj");

/// Names of the built-in meshes accepted wherever a mesh file is.
pub const BUILTIN_MESHES: &[&str] = &["bunny"];

/// Loads a built-in mesh by name (`bunny`), or `None` for an unknown name.
pub fn builtin_mesh(name: &str) -> Option<Result<LoadedMesh>> {
    match name {
        "bunny" => Some(parse_obj(
            BUNNY_NPM_OBJ.as_bytes(),
            Path::new("<builtin bunny>"),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_bunny_parses() {
        let m = super::builtin_mesh("bunny").unwrap().unwrap();
        assert_eq!(m.mesh.num_vertices(), 1839);
        assert!(super::builtin_mesh("dragon").is_none());
    }
}

//! Mesh file input/output (in progress).

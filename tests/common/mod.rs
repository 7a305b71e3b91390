//! Helpers shared by the end-to-end tests of the `meshflow` binary.

use std::process::{Command, Output};

use serde_json::Value;

/// Runs the `meshflow` binary built for these tests.
pub fn meshflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshflow"))
        .args(args)
        .output()
        .expect("run meshflow")
}

/// Runs a command that must succeed and print exactly one JSON object.
pub fn json_of(args: &[&str]) -> Value {
    let out = meshflow(args);
    assert!(
        out.status.success(),
        "meshflow {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

/// Runs a command that must fail with exit code 1, no panic, and every one of `needles` in
/// its error output; returns that output.
pub fn fails_cleanly(args: &[&str], needles: &[&str]) -> String {
    let out = meshflow(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "meshflow {args:?} should fail with exit code 1: {err}"
    );
    assert!(
        !err.contains("panicked"),
        "meshflow {args:?} panicked: {err}"
    );
    for n in needles {
        assert!(
            err.contains(n),
            "meshflow {args:?}: expected `{n}` in: {err}"
        );
    }
    err
}

/// Runs the `meshflow` binary with `MESHFLOW_DATA` set to `data_dir`.
#[allow(dead_code)] // not every test binary uses it
pub fn meshflow_env(args: &[&str], data_dir: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshflow"))
        .args(args)
        .env("MESHFLOW_DATA", data_dir)
        .output()
        .expect("run meshflow")
}

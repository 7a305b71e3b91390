//! `meshflow fetch` against a loopback HTTP server (std `TcpListener`, no network): downloads
//! are verified and written, present files are skipped, a corrupted file is rejected with a
//! sha256 error, and an unreachable server gives the offline message with the manual steps.
//!
//! The served files are the shared data's MNIST and bunny files (skipped without them,
//! failing under `CI`); the bunny is served as a `bunny.tar.gz` built here in the layout of
//! Stanford's archive.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use meshflow::datasets::testdata::data_dir;

/// Serves `files` (URL path → bytes) on 127.0.0.1 until the test process ends; returns the
/// base URL.
fn serve(files: HashMap<String, Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&req);
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let _ = match files.get(&path) {
                Some(body) => s
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|_| s.write_all(body)),
                None => s.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
        }
    });
    base
}

fn fetch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshflow"))
        .arg("fetch")
        .args(args)
        .env_remove("MESHFLOW_MIRROR")
        .output()
        .expect("run meshflow")
}

fn tmp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("meshflow-fetch-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const MNIST: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

fn read(dir: &Path, f: &str) -> Vec<u8> {
    std::fs::read(dir.join(f)).unwrap()
}

#[test]
fn mnist_downloads_verifies_skips_and_rejects_corruption() {
    let Some(src) = data_dir("mnist") else {
        return;
    };
    let mut files: HashMap<String, Vec<u8>> = MNIST
        .iter()
        .map(|f| (format!("/mnist/{f}"), read(&src, f)))
        .collect();
    let mut bad = read(&src, MNIST[1]);
    bad[100] ^= 0xff;
    files.insert(format!("/corrupt/{}", MNIST[1]), bad);
    let base = serve(files);
    let dir = tmp_dir("mnist");
    let d = dir.to_str().unwrap();

    let out = fetch(&["mnist", "--dir", d, "--mirror", &format!("{base}/mnist")]);
    assert!(out.status.success(), "{}", stderr(&out));
    for f in MNIST {
        assert!(read(&dir.join("mnist"), f) == read(&src, f), "{f}");
    }
    // Everything present and valid: nothing is downloaded (an unreachable mirror is fine).
    let out = fetch(&["mnist", "--dir", d, "--mirror", "http://127.0.0.1:9"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("present and verified"));

    // A damaged local file is fetched again; a corrupted download is refused, not written.
    std::fs::write(dir.join("mnist").join(MNIST[1]), b"junk").unwrap();
    let out = fetch(&["mnist", "--dir", d, "--mirror", &format!("{base}/corrupt")]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("sha256 mismatch") && err.contains(MNIST[1]),
        "{err}"
    );
    assert_eq!(read(&dir.join("mnist"), MNIST[1]), b"junk");
    // The environment variable works as the mirror too.
    let out = Command::new(env!("CARGO_BIN_EXE_meshflow"))
        .args(["fetch", "mnist", "--dir", d])
        .env("MESHFLOW_MIRROR", format!("{base}/mnist/"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(read(&dir.join("mnist"), MNIST[1]) == read(&src, MNIST[1]));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bunny_is_extracted_from_the_tarball() {
    let Some(src) = data_dir("bunny") else {
        return;
    };
    // Stanford's layout: bunny/reconstruction/bun_zipper*.ply among other files.
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut add = |name: &str, bytes: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, bytes).unwrap();
    };
    add("bunny/README", b"Stanford bunny");
    for f in [
        "bun_zipper.ply",
        "bun_zipper_res3.ply",
        "bun_zipper_res4.ply",
    ] {
        add(&format!("bunny/reconstruction/{f}"), &read(&src, f));
    }
    let tgz = tar.into_inner().unwrap().finish().unwrap();
    let base = serve(HashMap::from([("/bunny.tar.gz".to_string(), tgz)]));
    let dir = tmp_dir("bunny");
    let out = fetch(&["bunny", "--dir", dir.to_str().unwrap(), "--mirror", &base]);
    assert!(out.status.success(), "{}", stderr(&out));
    for f in [
        "bun_zipper.ply",
        "bun_zipper_res3.ply",
        "bun_zipper_res4.ply",
    ] {
        assert!(read(&dir.join("bunny"), f) == read(&src, f), "{f}");
    }
    assert!(!dir.join("bunny").join("README").exists());
    // The loaders find fetched files through MESHFLOW_DATA by their data-directory path.
    let out = Command::new(env!("CARGO_BIN_EXE_meshflow"))
        .args(["info", "bunny/bun_zipper_res4.ply", "--json"])
        .env("MESHFLOW_DATA", &dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["vertices"], 453);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn unreachable_server_explains_the_manual_download() {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused.
    let dir = tmp_dir("offline");
    let out = fetch(&[
        "mnist",
        "--dir",
        dir.to_str().unwrap(),
        "--mirror",
        "http://127.0.0.1:9",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for needle in [
        "cannot download http://127.0.0.1:9/train-images-idx3-ubyte.gz",
        "offline",
        "by hand",
        "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",
        "MESHFLOW_DATA",
    ] {
        assert!(err.contains(needle), "expected `{needle}` in: {err}");
    }
    assert!(
        err.contains(&dir.join("mnist").display().to_string()),
        "{err}"
    );
    // A server that does not have the file.
    let base = serve(HashMap::new());
    let out = fetch(&["bunny", "--dir", dir.to_str().unwrap(), "--mirror", &base]);
    let err = stderr(&out);
    assert!(
        err.contains("HTTP 404") && err.contains("bunny.tar.gz"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

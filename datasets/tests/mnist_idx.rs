//! MNIST IDX reader against the canonical files in the shared data folder
//! (`$MESHFLOW_DATA/mnist`, see its README for the figures checked here).

use meshflow_datasets::idx::{read_idx, read_mnist};
use meshflow_datasets::testdata::data_dir;

fn check_split(prefix: &str, n: usize, first: [u8; 10], counts: [usize; 10], mean: f64) {
    let Some(dir) = data_dir("mnist") else { return };
    let (images, labels) = read_mnist(
        dir.join(format!("{prefix}-images-idx3-ubyte.gz")),
        dir.join(format!("{prefix}-labels-idx1-ubyte.gz")),
    )
    .unwrap();
    assert_eq!(images.shape, [n, 28, 28]);
    assert_eq!(labels.shape, [n]);
    assert_eq!(labels.data[..10], first);
    let mut c = [0usize; 10];
    for &l in &labels.data {
        c[usize::from(l)] += 1;
    }
    assert_eq!(c, counts);
    let sum: u64 = images.data.iter().map(|&p| u64::from(p)).sum();
    let m = sum as f64 / images.len() as f64;
    assert!((m - mean).abs() < 5e-5, "mean pixel {m} vs README {mean}");
}

#[test]
fn mnist_train() {
    check_split(
        "train",
        60000,
        [5, 0, 4, 1, 9, 2, 1, 3, 1, 4],
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
        33.3184,
    );
}

#[test]
fn mnist_test() {
    check_split(
        "t10k",
        10000,
        [7, 2, 1, 0, 4, 1, 4, 9, 5, 9],
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
        33.7912,
    );
}

#[test]
fn generic_reader_reports_magic_shape() {
    let Some(dir) = data_dir("mnist") else { return };
    let a = read_idx(dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    assert_eq!(a.shape(), [10000]);
}

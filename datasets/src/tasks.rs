//! The paper's two inverse problems as named, serialisable specifications.
//!
//! A [`TaskSpec`] is plain data: which fraction of the vertices (or grid points) is hidden,
//! how much Gaussian noise is added to what stays observed, which data the task is defined on
//! and how those data are normalised. It reads no file; later code combines a spec with a
//! dataset (e.g. [`crate::bunny_mnist`]) and a degradation (e.g.
//! [`meshflow_geometry::signal::Mask::random`]).
//!
//! The degradation of a clean field `x` (`[V]`, already in normalised units) is
//!
//! ```text
//! y_v = x_v + noise_sigma · ε_v,  ε_v ~ N(0, 1),   for the observed vertices v,
//! ```
//!
//! with `round(mask_rate · V)` vertices hidden uniformly at random without replacement.
//!
//! ```
//! use meshflow_datasets::tasks::{self, TaskSpec};
//!
//! let t = tasks::task("bunny-mnist").unwrap();
//! assert_eq!((t.mask_rate, t.noise_sigma), (0.3, 0.1));
//! let json = serde_json::to_string(&t).unwrap();
//! assert_eq!(serde_json::from_str::<TaskSpec>(&json).unwrap(), t);
//! assert!(tasks::task("bunny").unwrap_err().to_string().contains("era5-imputation"));
//! ```

use std::borrow::Cow;
use std::path::PathBuf;

use meshflow_geometry::signal::Normalisation;
use serde::{Deserialize, Serialize};

use crate::{DatasetError, Result};

/// The data a task is defined on, by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSpec {
    /// What the data are, in words.
    pub description: Cow<'static, str>,
    /// The domain the fields live on: a mesh file relative to the shared data root
    /// (`mesh:bunny/bun_zipper_res3.ply`) or a grid (`grid:latlon`).
    pub domain: Cow<'static, str>,
    /// The source of the fields, relative to the shared data root where it is a file.
    pub source: Cow<'static, str>,
    /// Number of values of one field (`V`), when the default data fix it.
    pub num_values: Option<usize>,
    /// Physical (or raw) units → the normalised units in which `noise_sigma` is given.
    pub normalisation: Normalisation,
}

/// One inverse problem: random masking plus additive Gaussian noise in normalised units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// The task's built-in name (see [`TASK_NAMES`]).
    pub name: Cow<'static, str>,
    /// What the task is, in words.
    pub description: Cow<'static, str>,
    /// Fraction of vertices (grid points) hidden, in `[0, 1]`.
    pub mask_rate: f64,
    /// Standard deviation of the Gaussian noise added to the observed values, in normalised
    /// units.
    pub noise_sigma: f64,
    /// The default data.
    pub data: DataSpec,
}

/// Bunny-MNIST inpainting: MNIST digits on the 1889-vertex res3 Stanford bunny, 30 % of the
/// vertices hidden, noise σ = 0.1 on values in `[0, 1]` (pixel / 255).
pub const BUNNY_MNIST: TaskSpec = TaskSpec {
    name: Cow::Borrowed("bunny-mnist"),
    description: Cow::Borrowed(
        "Inpaint MNIST digits projected onto the Stanford bunny: 30 % of the vertices are \
         hidden at random and Gaussian noise with sigma 0.1 is added to the rest.",
    ),
    mask_rate: 0.3,
    noise_sigma: 0.1,
    data: DataSpec {
        description: Cow::Borrowed(
            "MNIST digits (pixel / 255, in [0, 1]) projected onto the 1889 vertices of the res3 \
             Stanford bunny with meshflow_datasets::bunny_mnist::bunny_projection",
        ),
        domain: Cow::Borrowed("mesh:bunny/bun_zipper_res3.ply"),
        source: Cow::Borrowed("mnist/t10k-images-idx3-ubyte.gz"),
        num_values: Some(1889),
        // The fields are already pixel / 255: the identity.
        normalisation: Normalisation::MinMax { min: 0.0, max: 1.0 },
    },
};

/// ERA5 temperature imputation: 60 % of the grid points hidden, noise σ = 0.05 on
/// temperatures normalised with the GASP convention `(T − 202.66 K) / (320.93 K − 202.66 K)`.
pub const ERA5_IMPUTATION: TaskSpec = TaskSpec {
    name: Cow::Borrowed("era5-imputation"),
    description: Cow::Borrowed(
        "Impute ERA5 temperature fields on their latitude-longitude grid: 60 % of the grid \
         points are hidden at random and Gaussian noise with sigma 0.05 (normalised units) is \
         added to the rest.",
    ),
    mask_rate: 0.6,
    noise_sigma: 0.05,
    data: DataSpec {
        description: Cow::Borrowed(
            "ERA5 temperature (K) on its regular latitude-longitude grid, normalised with \
             T_MIN = 202.66 K and T_MAX = 320.93 K (the GASP convention)",
        ),
        domain: Cow::Borrowed("grid:latlon"),
        source: Cow::Borrowed("era5/era5-levels-members.grib"),
        num_values: None,
        normalisation: Normalisation::ERA5_TEMPERATURE,
    },
};

/// The built-in task names, in the order [`builtin_tasks`] returns them.
pub const TASK_NAMES: [&str; 2] = ["bunny-mnist", "era5-imputation"];

/// Every built-in task.
pub fn builtin_tasks() -> [TaskSpec; 2] {
    [BUNNY_MNIST, ERA5_IMPUTATION]
}

/// The built-in task called `name` (exact, lower-case, e.g. `bunny-mnist`).
///
/// # Errors
/// An unknown name: the message lists the known ones.
pub fn task(name: &str) -> Result<TaskSpec> {
    builtin_tasks()
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| DatasetError::Format {
            path: PathBuf::from("<task>"),
            location: format!("task name `{name}`"),
            message: format!(
                "unknown task; the built-in tasks are {}",
                TASK_NAMES.join(", ")
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tasks_match_the_paper() {
        let b = task("bunny-mnist").unwrap();
        assert_eq!(b, BUNNY_MNIST);
        assert_eq!((b.mask_rate, b.noise_sigma), (0.3, 0.1));
        assert_eq!(b.data.num_values, Some(1889));
        let e = task("era5-imputation").unwrap();
        assert_eq!((e.mask_rate, e.noise_sigma), (0.6, 0.05));
        assert_eq!(
            e.data.normalisation,
            Normalisation::MinMax {
                min: 202.66,
                max: 320.93
            }
        );
        // 261.795 K is the middle of the GASP range.
        let mut t = [202.66f32, 261.795, 320.93];
        e.data.normalisation.apply(&mut t);
        assert!(t
            .iter()
            .zip([0.0, 0.5, 1.0])
            .all(|(a, b)| (a - b).abs() < 1e-6));
        for (spec, name) in builtin_tasks().iter().zip(TASK_NAMES) {
            assert_eq!(spec.name, name);
            assert!((0.0..=1.0).contains(&spec.mask_rate) && spec.noise_sigma > 0.0);
        }
    }

    #[test]
    fn unknown_task_lists_the_names() {
        let msg = task("Bunny-MNIST").unwrap_err().to_string();
        assert!(
            msg.contains("Bunny-MNIST") && msg.contains("bunny-mnist, era5-imputation"),
            "{msg}"
        );
    }

    #[test]
    fn serde_round_trip_and_user_specs() {
        for t in builtin_tasks() {
            let json = serde_json::to_string_pretty(&t).unwrap();
            assert_eq!(serde_json::from_str::<TaskSpec>(&json).unwrap(), t);
        }
        // A user's own task, written by hand.
        let json = r#"{
            "name": "my-task", "description": "d", "mask_rate": 0.5, "noise_sigma": 0.2,
            "data": {"description": "x", "domain": "mesh:m.ply", "source": "s",
                     "num_values": null,
                     "normalisation": {"kind": "standard", "mean": 1.0, "std": 2.0}}
        }"#;
        let t: TaskSpec = serde_json::from_str(json).unwrap();
        assert_eq!(t.name, "my-task");
        assert_eq!(t.data.normalisation.offset_scale(), (1.0, 2.0));
    }
}

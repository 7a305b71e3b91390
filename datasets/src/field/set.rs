//! Fields on a sphere grid, ready for training: vertex order, masks, a leak-free split and
//! normalisation fitted on the training fields.

use std::path::PathBuf;

use meshflow_geometry::signal::{Mask, Normalisation};
use meshflow_geometry::sphere::SphereGrid;

use super::range::FieldRange;
use super::read::{sphere_grid, FieldLabel, GriddedVariable};
use crate::{DatasetError, Result};

/// How a [`FieldSet`]'s values are normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormalisationChoice {
    /// Min–max statistics of the training fields only ([`Normalisation::fit_min_max`]).
    FitOnTrain,
    /// The fixed GASP ERA5 temperature convention ([`Normalisation::ERA5_TEMPERATURE`]).
    Era5Temperature,
}

/// The fields of one variable on the [`SphereGrid`] of its coordinates, in vertex order.
#[derive(Debug, Clone)]
pub struct FieldSet {
    /// The grid (see [`sphere_grid`]).
    pub grid: SphereGrid,
    /// Variable name.
    pub name: String,
    /// Long name, if known.
    pub long_name: Option<String>,
    /// CF standard name, if known.
    pub standard_name: Option<String>,
    /// Units, if known.
    pub units: Option<String>,
    /// The file the fields came from.
    pub source: PathBuf,
    /// One label per field.
    pub labels: Vec<FieldLabel>,
    /// Each field in vertex order, `[V]`; NaN where missing (a pole vertex is missing when
    /// any point of its row is).
    pub fields: Vec<Vec<f32>>,
    /// Each field's observed vertices (`false` = missing), `[V]`.
    pub missing: Vec<Mask>,
}

impl FieldSet {
    /// The fields `range` selects (all for `None`) of `var`, mapped to vertex order with
    /// [`SphereGrid::to_vertex_order`].
    ///
    /// # Errors
    /// Coordinates that make no grid; an empty or out-of-range selection.
    pub fn new(var: &GriddedVariable, range: Option<&FieldRange>) -> Result<FieldSet> {
        let grid = sphere_grid(var)?;
        let selected;
        let var = match range {
            Some(r) => {
                selected = var.select_range(r)?;
                &selected
            }
            None => var,
        };
        let mut fields = Vec::with_capacity(var.num_fields());
        let mut missing = Vec::with_capacity(var.num_fields());
        for f in 0..var.num_fields() {
            let v = grid
                .to_vertex_order(var.field(f))
                .map_err(|e| DatasetError::Format {
                    path: var.source.clone(),
                    location: format!("field {f}"),
                    message: e.to_string(),
                })?;
            missing.push(Mask::new(v.iter().map(|x| !x.is_nan()).collect()));
            fields.push(v);
        }
        Ok(FieldSet {
            grid,
            name: var.name.clone(),
            long_name: var.long_name.clone(),
            standard_name: var.standard_name.clone(),
            units: var.units.clone(),
            source: var.source.clone(),
            labels: var.labels.clone(),
            fields,
            missing,
        })
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when there is no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Splits the fields into `(train, test)` indices (ascending) without leaking: fields
    /// that share a time ([`FieldLabel::time_index`]: every member and level of one time) go
    /// to the same side. Whole times are shuffled with `seed` (a SplitMix64 stream, stable
    /// across platforms and versions) and `round(test_fraction · times)` of them, at least
    /// one when `test_fraction > 0`, go to the test side.
    ///
    /// # Errors
    /// `test_fraction` outside `[0, 1)`, or a positive fraction with fewer than two distinct
    /// times (every split would leak or leave one side empty).
    pub fn train_test_split(
        &self,
        test_fraction: f64,
        seed: u64,
    ) -> Result<(Vec<usize>, Vec<usize>)> {
        let groups: Vec<usize> = self.labels.iter().map(|l| l.time_index).collect();
        group_split(&groups, test_fraction, seed).map_err(|message| DatasetError::Format {
            path: self.source.clone(),
            location: "train/test split".into(),
            message,
        })
    }

    /// The normalisation to apply to every field (and to save beside a model): the fixed
    /// ERA5 convention, or min–max of the finite values of the `train` fields only, so the
    /// test fields never influence it.
    ///
    /// # Errors
    /// An index out of range; training fields with no finite value or a constant value.
    pub fn normalisation(
        &self,
        choice: NormalisationChoice,
        train: &[usize],
    ) -> Result<Normalisation> {
        match choice {
            NormalisationChoice::Era5Temperature => Ok(Normalisation::ERA5_TEMPERATURE),
            NormalisationChoice::FitOnTrain => {
                if let Some(&i) = train.iter().find(|&&i| i >= self.len()) {
                    return Err(DatasetError::Format {
                        path: self.source.clone(),
                        location: "normalisation".into(),
                        message: format!("training field {i} is out of range ({})", self.len()),
                    });
                }
                Normalisation::fit_min_max(train.iter().flat_map(|&i| self.fields[i].iter()))
                    .map_err(|e| DatasetError::Format {
                        path: self.source.clone(),
                        location: "normalisation".into(),
                        message: e.to_string(),
                    })
            }
        }
    }
}

/// Splits items `0..groups.len()` into `(train, test)` indices (ascending) so that items of
/// one group (e.g. every member and level of one time) land on the same side. Whole groups
/// are shuffled with `seed` (a SplitMix64 stream, stable across platforms and versions) and
/// `round(test_fraction · groups)` of them, at least one when `test_fraction > 0`, go to the
/// test side.
///
/// # Errors
/// A message when `test_fraction` is outside `[0, 1)`, or positive with fewer than two
/// distinct groups (every split would leak or leave one side empty).
pub fn group_split(
    groups: &[usize],
    test_fraction: f64,
    seed: u64,
) -> std::result::Result<(Vec<usize>, Vec<usize>), String> {
    if !(0.0..1.0).contains(&test_fraction) {
        return Err(format!(
            "the test fraction must be in [0, 1), got {test_fraction}"
        ));
    }
    let mut distinct = groups.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let g = distinct.len();
    let n_test = if test_fraction == 0.0 {
        0
    } else if g < 2 {
        return Err(format!(
            "the {} fields share {g} time(s): a test set needs at least two distinct \
             times, or fields of one time would be on both sides",
            groups.len()
        ));
    } else {
        ((test_fraction * g as f64).round() as usize).clamp(1, g - 1)
    };
    // Fisher–Yates with SplitMix64.
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..g).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        distinct.swap(i, j);
    }
    let test_groups = &distinct[..n_test];
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (i, grp) in groups.iter().enumerate() {
        if test_groups.contains(grp) {
            test.push(i);
        } else {
            train.push(i);
        }
    }
    Ok((train, test))
}

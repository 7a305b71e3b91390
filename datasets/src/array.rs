//! A minimal owned n-dimensional array, row-major (C order), shared by the readers.
//!
//! Readers return [`NdArray`] so that callers get the shape together with the flat data;
//! conversion to tensors happens in `flows`, not here.

use crate::{DatasetError, Result};
use std::path::PathBuf;

/// An owned n-d array in row-major (C) order: the last index varies fastest.
///
/// A 0-d array (scalar) has `shape == []` and one element.
#[derive(Debug, Clone, PartialEq)]
pub struct NdArray<T> {
    /// Extent of each dimension, outermost first.
    pub shape: Vec<usize>,
    /// The elements, row-major; `data.len()` is the product of `shape`.
    pub data: Vec<T>,
}

impl<T> NdArray<T> {
    /// Builds an array, checking that `data.len()` equals the product of `shape`
    /// (and that the product does not overflow).
    pub fn new(shape: Vec<usize>, data: Vec<T>) -> Result<Self> {
        let n = shape_len(&shape).ok_or_else(|| DatasetError::Format {
            path: PathBuf::from("<memory>"),
            location: "array".into(),
            message: format!("shape {shape:?} overflows usize"),
        })?;
        if n != data.len() {
            return Err(DatasetError::Format {
                path: PathBuf::from("<memory>"),
                location: "array".into(),
                message: format!(
                    "shape {shape:?} needs {n} elements but {} were given",
                    data.len()
                ),
            });
        }
        Ok(Self { shape, data })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the array holds no element (some dimension is 0).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Row-major strides in elements.
    pub fn strides(&self) -> Vec<usize> {
        let mut s = vec![1usize; self.shape.len()];
        for i in (0..self.shape.len().saturating_sub(1)).rev() {
            s[i] = s[i + 1] * self.shape[i + 1];
        }
        s
    }

    /// The element at a multi-index, or `None` if the index has the wrong rank or is out of
    /// bounds.
    pub fn get(&self, index: &[usize]) -> Option<&T> {
        if index.len() != self.shape.len() {
            return None;
        }
        let mut flat = 0usize;
        for (&i, &n) in index.iter().zip(&self.shape) {
            if i >= n {
                return None;
            }
            flat = flat * n + i;
        }
        self.data.get(flat)
    }

    /// Applies `f` to every element, keeping the shape.
    pub fn map<U>(&self, f: impl FnMut(&T) -> U) -> NdArray<U> {
        NdArray {
            shape: self.shape.clone(),
            data: self.data.iter().map(f).collect(),
        }
    }
}

/// Product of a shape, `None` on overflow. The empty shape has one element.
pub(crate) fn shape_len(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_checks_product() {
        assert!(NdArray::new(vec![2, 3], vec![0u8; 6]).is_ok());
        assert!(NdArray::new(vec![2, 3], vec![0u8; 5]).is_err());
        assert!(NdArray::new(vec![usize::MAX, 3], Vec::<u8>::new()).is_err());
        let s = NdArray::new(vec![], vec![1.0f64]).unwrap();
        assert_eq!((s.len(), s.ndim()), (1, 0));
    }

    #[test]
    fn get_and_strides() {
        let a = NdArray::new(vec![2, 3], (0..6).collect::<Vec<i32>>()).unwrap();
        assert_eq!(a.strides(), vec![3, 1]);
        assert_eq!(a.get(&[1, 2]), Some(&5));
        assert_eq!(a.get(&[2, 0]), None);
        assert_eq!(a.get(&[0]), None);
    }
}

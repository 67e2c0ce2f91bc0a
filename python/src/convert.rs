//! Arrays across the boundary: each goes to Python as `(bytearray, shape, dtype)`, which
//! `numpy.frombuffer(...).reshape(shape)` reads without a library binding (no second numpy
//! ABI to match), and comes back the same way.

use ndarray::{ArrayBase, Data, Dimension};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyTuple};

/// A plain-old-data element type numpy knows by a dtype string.
pub trait Element: Copy {
    /// numpy's name of the type.
    const DTYPE: &'static str;
    /// The value's little-endian bytes.
    fn le_bytes(self, out: &mut Vec<u8>);
}

impl Element for f32 {
    const DTYPE: &'static str = "<f4";
    fn le_bytes(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Element for i32 {
    const DTYPE: &'static str = "<i4";
    fn le_bytes(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// `(bytearray, shape, dtype)` of an array, in C order (a bytearray, so numpy may write to it).
pub fn array<'py, T: Element, S: Data<Elem = T>, D: Dimension>(
    py: Python<'py>,
    a: &ArrayBase<S, D>,
) -> PyResult<Bound<'py, PyTuple>> {
    let mut bytes = Vec::with_capacity(a.len() * std::mem::size_of::<T>());
    // `iter` walks in logical (C) order whatever the memory layout.
    for &v in a.iter() {
        v.le_bytes(&mut bytes);
    }
    let shape: Vec<usize> = a.shape().to_vec();
    (PyByteArray::new(py, &bytes), shape, T::DTYPE).into_pyobject(py)
}

/// float32 values from little-endian bytes, or `None` when the length is not a multiple of 4.
pub fn f32_from_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
    bytes.len().is_multiple_of(4).then(|| {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
}

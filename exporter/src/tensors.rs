//! Safetensors files: the one reader and writer of epc's weight, parameter and checkpoint
//! files (the trainer's checkpoints go through it too).

use crate::error::{Error, Result};
use epc_core::arch::NamedArray;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Writes named float32 arrays (one tensor per [`NamedArray`], under its name and with its
/// shape) and optional string metadata as a safetensors file, atomically (temp file, then
/// rename). Errors, naming `path`, for an array whose values do not fill its shape or a name
/// given twice.
pub fn write_arrays(
    path: &Path,
    arrays: &[NamedArray],
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    let mut raw = Vec::with_capacity(arrays.len());
    for (k, a) in arrays.iter().enumerate() {
        if a.data.len() != a.shape.iter().product::<usize>() {
            return Err(Error::format(
                path,
                format!(
                    "cannot write {} values as {} {:?}",
                    a.data.len(),
                    a.name,
                    a.shape
                ),
            ));
        }
        if arrays[..k].iter().any(|b| b.name == a.name) {
            return Err(Error::format(
                path,
                format!("cannot write two tensors named {}", a.name),
            ));
        }
        raw.push(
            a.data
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>(),
        );
    }
    let mut views = Vec::with_capacity(arrays.len());
    for (a, bytes) in arrays.iter().zip(&raw) {
        let view = safetensors::tensor::TensorView::new(Dtype::F32, a.shape.clone(), bytes)
            .map_err(|e| Error::safetensors(path, &format!("cannot build tensor {}", a.name), e))?;
        views.push((a.name.as_str(), view));
    }
    let bytes = safetensors::serialize(views, &metadata)
        .map_err(|e| Error::safetensors(path, "cannot serialise the tensors", e))?;
    crate::error::write_atomic(path, &bytes)?;
    Ok(())
}

/// One tensor of a [`TensorFile`].
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTensor {
    /// Its name.
    pub name: String,
    /// Its dtype as safetensors names it (`F32`, `F64`, ...).
    pub dtype: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values where it is float32 (`None` for any other dtype).
    pub values: Option<Vec<f32>>,
}

/// A safetensors file read whole: its tensors (sorted by name) and its metadata.
#[derive(Debug, Clone)]
pub struct TensorFile {
    /// Where it was read from (for errors).
    pub path: PathBuf,
    /// The string metadata of its header.
    pub metadata: HashMap<String, String>,
    /// Its tensors, sorted by name.
    pub tensors: Vec<StoredTensor>,
}

impl TensorFile {
    /// Reads `path`; a file that is not safetensors is an error naming it.
    pub fn read(path: &Path) -> Result<TensorFile> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let not_safetensors = |e| Error::safetensors(path, "not a valid safetensors file", e);
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(not_safetensors)?;
        let file = SafeTensors::deserialize(&bytes).map_err(not_safetensors)?;
        let mut tensors = Vec::new();
        for (name, view) in file.tensors() {
            tensors.push(StoredTensor {
                dtype: format!("{:?}", view.dtype()),
                shape: view.shape().to_vec(),
                values: (view.dtype() == Dtype::F32).then(|| {
                    view.data()
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect()
                }),
                name,
            });
        }
        tensors.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(TensorFile {
            path: path.to_path_buf(),
            metadata: header.metadata().clone().unwrap_or_default(),
            tensors,
        })
    }

    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Option<&StoredTensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The names of the tensors, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.tensors.iter().map(|t| t.name.as_str()).collect()
    }

    /// The float32 tensor `name` of shape `shape` as a [`NamedArray`] called `as_name`; a
    /// missing tensor, another dtype or another shape is `Err` with the reason in words (the
    /// caller names the file).
    pub fn array(
        &self,
        name: &str,
        shape: &[usize],
        as_name: &str,
    ) -> std::result::Result<NamedArray, String> {
        let t = self.get(name).ok_or_else(|| {
            format!(
                "tensor {name} missing (it holds [{}])",
                self.names().join(", ")
            )
        })?;
        match &t.values {
            Some(values) if t.shape == shape => Ok(NamedArray {
                name: as_name.into(),
                shape: t.shape.clone(),
                data: values.clone(),
            }),
            _ => Err(format!(
                "tensor {name} is {} {:?}, expected F32 {shape:?}",
                t.dtype, t.shape
            )),
        }
    }
}

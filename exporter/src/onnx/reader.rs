//! Reading ONNX files: metadata and float initializers, on the same generated protobuf types
//! the writer uses (this crate's one ONNX reader; the analyzer reads through it too).

use crate::error::{Error, Result};
use onnx_protobuf::tensor_proto::{DataLocation, DataType};
use onnx_protobuf::{ModelProto, TensorProto};
use protobuf::Message;
use std::path::{Path, PathBuf};

/// A float32 tensor read from a model's initializers.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatTensor {
    /// Dimensions.
    pub dims: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f32>,
}

/// What [`ModelFile::initializer_f32`] found under a name.
#[derive(Debug, Clone, PartialEq)]
pub enum Initializer {
    /// No initializer of that name.
    Missing,
    /// It exists but is not a float32 tensor held in the file (the text says why).
    Unusable(String),
    /// The tensor.
    Tensor(FloatTensor),
}

/// A parsed ONNX model file.
pub struct ModelFile {
    path: PathBuf,
    pub(super) proto: ModelProto,
}

impl std::fmt::Debug for ModelFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelFile")
            .field("path", &self.path)
            .finish()
    }
}

impl ModelFile {
    /// Reads and parses `path`; a file that is not an ONNX model (no graph, bad protobuf,
    /// empty) is an error naming it.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(path, &bytes)
    }

    /// Parses `bytes`, read from `path` (named in errors).
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let not_onnx = |why: String| Error::format(path, format!("not an ONNX model ({why})"));
        if bytes.is_empty() {
            return Err(not_onnx("empty file".into()));
        }
        let proto = ModelProto::parse_from_bytes(bytes).map_err(|e| not_onnx(e.to_string()))?;
        if proto.graph.is_none() {
            return Err(not_onnx("no graph".into()));
        }
        if proto.ir_version == 0 {
            return Err(not_onnx("no IR version".into()));
        }
        Ok(Self {
            path: path.to_path_buf(),
            proto,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The metadata properties (key, value), in file order.
    pub fn metadata(&self) -> Vec<(String, String)> {
        self.proto
            .metadata_props
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect()
    }

    /// The float32 initializer `name` of the main graph.
    pub fn initializer_f32(&self, name: &str) -> Initializer {
        let graph = self.proto.graph.as_ref().expect("checked when read");
        match graph.initializer.iter().find(|t| t.name == name) {
            None => Initializer::Missing,
            Some(t) => float_tensor(t),
        }
    }
}

pub(super) fn float_tensor(t: &TensorProto) -> Initializer {
    if t.data_type != DataType::FLOAT as i32 {
        return Initializer::Unusable(format!(
            "data type {} is not float32 ({})",
            t.data_type,
            DataType::FLOAT as i32
        ));
    }
    if t.data_location.enum_value_or_default() == DataLocation::EXTERNAL {
        return Initializer::Unusable("its data is stored in an external file".into());
    }
    if t.dims.iter().any(|&d| d < 0) {
        return Initializer::Unusable("negative dimension".into());
    }
    let dims: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
    let count: usize = dims.iter().product();
    let data: Vec<f32> = if t.raw_data.is_empty() {
        t.float_data.clone()
    } else {
        if t.raw_data.len() != count * 4 {
            return Initializer::Unusable(format!(
                "raw_data holds {} bytes, dims {dims:?} need {}",
                t.raw_data.len(),
                count * 4
            ));
        }
        t.raw_data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    if data.len() != count {
        return Initializer::Unusable(format!("{} values, dims {dims:?} need {count}", data.len()));
    }
    Initializer::Tensor(FloatTensor { dims, data })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use onnx_protobuf::GraphProto;
    use protobuf::MessageField;

    fn model_with(inits: Vec<TensorProto>) -> Vec<u8> {
        ModelProto {
            ir_version: 8,
            graph: MessageField::some(GraphProto {
                initializer: inits,
                ..Default::default()
            }),
            ..Default::default()
        }
        .write_to_bytes()
        .unwrap()
    }

    /// A float32 tensor, its values as raw bytes or as `float_data`.
    pub(crate) fn tensor(name: &str, dims: &[i64], values: &[f32], raw: bool) -> TensorProto {
        let mut t = TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: DataType::FLOAT as i32,
            ..Default::default()
        };
        if raw {
            t.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        } else {
            t.float_data = values.to_vec();
        }
        t
    }

    #[test]
    fn finds_raw_and_float_data_initializers() {
        let w = [1.0f32, -2.0, 3.5, 0.25, 5.0, 6.0];
        let bytes = model_with(vec![
            tensor("b", &[2], &[9.0, 9.0], false),
            tensor("W", &[2, 3], &w, true),
            tensor("bad", &[2, 2], &[1.0, 2.0, 3.0], true),
        ]);
        let m = ModelFile::from_bytes(Path::new("m.onnx"), &bytes).unwrap();
        assert_eq!(
            m.initializer_f32("W"),
            Initializer::Tensor(FloatTensor {
                dims: vec![2, 3],
                data: w.to_vec()
            })
        );
        assert_eq!(
            m.initializer_f32("b"),
            Initializer::Tensor(FloatTensor {
                dims: vec![2],
                data: vec![9.0, 9.0]
            })
        );
        assert_eq!(m.initializer_f32("V"), Initializer::Missing);
        assert!(
            matches!(m.initializer_f32("bad"), Initializer::Unusable(s) if s.contains("12 bytes"))
        );
        let mut int = tensor("i", &[1], &[1.0], true);
        int.data_type = DataType::INT64 as i32;
        let m = ModelFile::from_bytes(Path::new("m.onnx"), &model_with(vec![int])).unwrap();
        assert!(
            matches!(m.initializer_f32("i"), Initializer::Unusable(s) if s.contains("not float32"))
        );
    }

    #[test]
    fn non_models_are_refused_with_the_file_name() {
        for bytes in [&b""[..], b"this is not a model\n", &[0xff, 0xff, 0xff]] {
            let e = ModelFile::from_bytes(Path::new("x.onnx"), bytes)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("x.onnx: not an ONNX model"), "{e}");
        }
        let good = model_with(vec![tensor("W", &[1], &[1.0], true)]);
        assert!(ModelFile::from_bytes(Path::new("t.onnx"), &good[..good.len() - 3]).is_err());
    }
}

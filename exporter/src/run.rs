//! Exporting a training run's folder: `config.json` + `weights.safetensors` -> ONNX.

use crate::error::{Error, Result};
use crate::onnx::{self, ModelSpec};
use epc_core::config::{Architecture, RunConfig};
use epc_core::contract::{
    META_ARCHITECTURE, META_CONFIG, META_DATASET, META_EPOCHS, META_LOSS, META_SEED, META_TOOLKIT,
};
use epc_core::run::InstanceDir;
use safetensors::{Dtype, SafeTensors};
use std::path::{Path, PathBuf};

/// Name of the recurrent-weight tensor in a weights file.
pub const WEIGHTS_TENSOR: &str = "W";

/// Writes `w` (row-major `[units, units]`) as a safetensors file holding one float32
/// tensor named [`WEIGHTS_TENSOR`], atomically (temp file, then rename).
pub fn write_weights_safetensors(path: &Path, w: &[f32], units: usize) -> Result<()> {
    if units.checked_mul(units) != Some(w.len()) {
        return Err(Error::format(
            path,
            format!(
                "cannot write {} values as a {units} x {units} weight matrix",
                w.len()
            ),
        ));
    }
    let raw: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = safetensors::tensor::TensorView::new(Dtype::F32, vec![units, units], &raw)
        .map_err(|e| Error::safetensors(path, "cannot build the weight tensor", e))?;
    let bytes = safetensors::serialize([(WEIGHTS_TENSOR, view)], &None)
        .map_err(|e| Error::safetensors(path, "cannot serialise the weights", e))?;
    crate::error::write_atomic(path, &bytes)?;
    Ok(())
}

/// Reads the float32 tensor [`WEIGHTS_TENSOR`] of shape `[units, units]` from a safetensors
/// file; any other name, dtype or shape is an error naming the file.
pub fn read_weights_safetensors(path: &Path, units: usize) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let tensors = SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::safetensors(path, "not a valid safetensors file", e))?;
    let view = tensors.tensor(WEIGHTS_TENSOR).map_err(|_| {
        let mut names: Vec<String> = tensors.names().into_iter().cloned().collect();
        names.sort();
        Error::format(
            path,
            format!(
                "no tensor named {WEIGHTS_TENSOR} (tensors: [{}])",
                names.join(", ")
            ),
        )
    })?;
    if view.dtype() != Dtype::F32 {
        return Err(Error::format(
            path,
            format!(
                "tensor {WEIGHTS_TENSOR} has dtype {:?}, expected F32",
                view.dtype()
            ),
        ));
    }
    if view.shape() != [units, units] {
        return Err(Error::format(
            path,
            format!(
                "tensor {WEIGHTS_TENSOR} has shape {:?}, but the config asks for [{units}, {units}]",
                view.shape()
            ),
        ));
    }
    Ok(view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// The `epc.*` metadata properties of a model trained with `cfg` for `epochs_trained` epochs.
pub fn run_metadata(cfg: &RunConfig, epochs_trained: u64) -> Result<Vec<(String, String)>> {
    let config_json = serde_json::to_string(cfg)
        .map_err(|e| Error::invalid("run config", format!("cannot serialise it as JSON: {e}")))?;
    Ok(vec![
        (META_LOSS.into(), cfg.train.loss.name().into()),
        (META_SEED.into(), cfg.seed.to_string()),
        (META_DATASET.into(), cfg.data.dataset.name().into()),
        (
            META_ARCHITECTURE.into(),
            cfg.model.architecture.name().into(),
        ),
        (META_EPOCHS.into(), epochs_trained.to_string()),
        (META_TOOLKIT.into(), epc_core::TOOLKIT_VERSION.into()),
        (META_CONFIG.into(), config_json),
    ])
}

/// Exports an instance folder as an ONNX model and returns the path written.
///
/// Reads the instance's resolved config (newer config versions are refused), its final
/// weights (tensor `W`, float32 `[units, units]`) and, when present, its training summary
/// (the epochs trained; otherwise the config's epoch count is recorded). Writes the `step-v1`
/// model (or `sequence-v1` when `sequence`) to `out`, by default the instance's
/// [`InstanceDir::step_model`] (or [`InstanceDir::sequence_model`]), atomically.
pub fn export_run(instance: &InstanceDir, out: Option<&Path>, sequence: bool) -> Result<PathBuf> {
    let format = if sequence {
        ExportFormat::SequenceV1
    } else {
        ExportFormat::StepV1
    };
    export_run_as(instance, out, format)
}

/// Which contract an exported model follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// `step-v1` (default file `model.onnx`).
    StepV1,
    /// `step-v2`, the same network with its layout in the metadata (default `model.v2.onnx`).
    StepV2,
    /// `sequence-v1`, an ONNX Scan over the whole sequence (default `model.sequence.onnx`).
    SequenceV1,
}

/// [`export_run`] in any [`ExportFormat`].
pub fn export_run_as(
    instance: &InstanceDir,
    out: Option<&Path>,
    format: ExportFormat,
) -> Result<PathBuf> {
    let cfg = instance.read_config()?;
    match cfg.model.architecture {
        Architecture::Rnn => {}
    }
    let units = cfg.units();
    let w = read_weights_safetensors(&instance.weights(), units)?;
    let epochs = instance
        .read_state()?
        .map_or(cfg.train.epochs, |s| s.epochs_trained) as u64;
    let spec = ModelSpec {
        w,
        units,
        metadata: run_metadata(&cfg, epochs)?,
    };
    let out = match (out, format) {
        (Some(p), _) => p.to_path_buf(),
        (None, ExportFormat::StepV1) => instance.step_model(),
        (None, ExportFormat::StepV2) => instance.step_v2_model(),
        (None, ExportFormat::SequenceV1) => instance.sequence_model(),
    };
    match format {
        ExportFormat::StepV1 => onnx::write_step_model(&spec, &out)?,
        ExportFormat::StepV2 => onnx::write_step_v2_model(&spec, &out)?,
        ExportFormat::SequenceV1 => onnx::write_sequence_model(&spec, &out)?,
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_round_trip_and_check_shape() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.safetensors");
        let w: Vec<f32> = (0..9).map(|i| i as f32 - 4.5).collect();
        write_weights_safetensors(&p, &w, 3).unwrap();
        assert_eq!(read_weights_safetensors(&p, 3).unwrap(), w);
        let e = read_weights_safetensors(&p, 4).unwrap_err().to_string();
        assert!(
            e.contains("w.safetensors") && e.contains("[3, 3]") && e.contains("[4, 4]"),
            "{e}"
        );
        assert!(write_weights_safetensors(&p, &w, 2).is_err());
        assert_eq!(read_weights_safetensors(&p, 3).unwrap(), w);
    }

    #[test]
    fn wrong_dtype_and_name_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.safetensors");
        let raw = vec![0u8; 4 * 8];
        let v = safetensors::tensor::TensorView::new(Dtype::F64, vec![2, 2], &raw).unwrap();
        std::fs::write(&p, safetensors::serialize([("W", v)], &None).unwrap()).unwrap();
        let e = read_weights_safetensors(&p, 2).unwrap_err().to_string();
        assert!(e.contains("dtype F64"), "{e}");
        let v = safetensors::tensor::TensorView::new(Dtype::F32, vec![2, 4], &raw).unwrap();
        std::fs::write(&p, safetensors::serialize([("weights", v)], &None).unwrap()).unwrap();
        let e = read_weights_safetensors(&p, 2).unwrap_err().to_string();
        assert!(e.contains("no tensor named W (tensors: [weights])"), "{e}");
        std::fs::write(&p, b"garbage").unwrap();
        let e = read_weights_safetensors(&p, 2).unwrap_err().to_string();
        assert!(e.contains("not a valid safetensors file"), "{e}");
    }
}

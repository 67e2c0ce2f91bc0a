//! Exporting a training run's folder: `config.json` + `weights.safetensors` -> ONNX.

use crate::error::{Error, Result};
use crate::onnx::{self, ModelSpec};
use crate::tensors::{write_arrays, StoredTensor, TensorFile};
use epc_core::arch::{ArchSpec, NamedArray};
use epc_core::config::{Architecture, RunConfig};
use epc_core::contract::{
    META_ARCHITECTURE, META_CONFIG, META_DATASET, META_EPOCHS, META_LOSS, META_SEED, META_TOOLKIT,
    META_UNTRAINED,
};
use epc_core::run::InstanceDir;
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
    let weights = NamedArray {
        name: WEIGHTS_TENSOR.into(),
        shape: vec![units, units],
        data: w.to_vec(),
    };
    write_arrays(path, &[weights], None)
}

/// Reads the float32 tensor [`WEIGHTS_TENSOR`] of shape `[units, units]` from a safetensors
/// file; any other name, dtype or shape is an error naming the file.
pub fn read_weights_safetensors(path: &Path, units: usize) -> Result<Vec<f32>> {
    let file = TensorFile::read(path)?;
    let Some(t) = file.get(WEIGHTS_TENSOR) else {
        return Err(Error::format(
            path,
            format!(
                "no tensor named {WEIGHTS_TENSOR} (tensors: [{}])",
                file.names().join(", ")
            ),
        ));
    };
    let Some(values) = &t.values else {
        return Err(Error::format(
            path,
            format!(
                "tensor {WEIGHTS_TENSOR} has dtype {}, expected F32",
                t.dtype
            ),
        ));
    };
    if t.shape != [units, units] {
        return Err(Error::format(
            path,
            format!(
                "tensor {WEIGHTS_TENSOR} has shape {:?}, but the config asks for [{units}, {units}]",
                t.shape
            ),
        ));
    }
    Ok(values.clone())
}

/// Writes named float32 parameters (one tensor per [`NamedArray`], under its name and with
/// its shape) as a safetensors file, atomically (temp file, then rename). Errors, naming
/// `path`, for an array whose values do not fill its shape or a name given twice.
pub fn write_params_safetensors(path: &Path, params: &[NamedArray]) -> Result<()> {
    write_arrays(path, params, None)
}

/// Reads the parameters of `spec` from a safetensors file, in `spec.params` order. The file
/// must hold exactly those tensors (names and shapes), float32; anything else is a one-line
/// error naming the file and saying what it holds and what `spec` needs (for a weights file
/// of another architecture: `...: holds [W [64, 64]], but dale as configured has [P [64, 64]]`).
pub fn read_params_safetensors(path: &Path, spec: &ArchSpec) -> Result<Vec<NamedArray>> {
    let file = TensorFile::read(path)?;
    // The spec's tensors first (in its order), then any others the file holds, sorted, so
    // that the message of a mismatch lists them comparably.
    let mut tensors: Vec<&StoredTensor> = file.tensors.iter().collect();
    let rank = |n: &str| spec.params.iter().position(|p| p.name == n);
    tensors.sort_by(|a, b| match (rank(&a.name), rank(&b.name)) {
        (Some(i), Some(j)) => i.cmp(&j),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.name.cmp(&b.name),
    });
    let arrays: Vec<NamedArray> = tensors
        .iter()
        .map(|t| NamedArray {
            name: t.name.clone(),
            shape: t.shape.clone(),
            data: t
                .values
                .clone()
                .unwrap_or_else(|| vec![0.0; t.shape.iter().product()]),
        })
        .collect();
    spec.check_arrays(&arrays)
        .map_err(|reason| Error::format(path, reason))?;
    if let Some(t) = tensors.iter().find(|t| t.values.is_none()) {
        return Err(Error::format(
            path,
            format!("tensor {} has dtype {}, expected F32", t.name, t.dtype),
        ));
    }
    Ok(arrays)
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
/// weights and, when present, its training summary (the epochs trained; otherwise the
/// config's epoch count is recorded). For the paper's `rnn` (weights: tensor `W`, float32
/// `[units, units]`) it writes the `step-v1` model (or `sequence-v1` when `sequence`) to `out`,
/// by default the instance's [`InstanceDir::step_model`] (or [`InstanceDir::sequence_model`]),
/// atomically; any other architecture is written as step-v2 (see [`export_run_as`]).
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
    /// `step-v2`, the network with its layout in the metadata (default `model.v2.onnx` for
    /// `rnn`; other architectures always write step-v2, by default to `model.onnx`).
    StepV2,
    /// `sequence-v1`, an ONNX Scan over the whole sequence (default `model.sequence.onnx`).
    SequenceV1,
}

/// [`export_run`] in any [`ExportFormat`].
///
/// `rnn`: the requested contract, by default to the file of [`ExportFormat`]'s docs. Every
/// other architecture (docs/NETWORKS.md) can only be described by step-v2: for
/// [`ExportFormat::StepV1`] and [`ExportFormat::StepV2`] alike it reads the named parameters
/// of its [`ArchSpec`] from the instance's weights file ([`read_params_safetensors`]) and writes
/// [`onnx::arch_step_v2_model_bytes`] to `out`, by default [`InstanceDir::step_model`]
/// (`model.onnx`, the file `epc train` leaves and the analyses look for), with the
/// [`run_metadata`]; [`ExportFormat::SequenceV1`] is refused with a one-line error.
pub fn export_run_as(
    instance: &InstanceDir,
    out: Option<&Path>,
    format: ExportFormat,
) -> Result<PathBuf> {
    export_weights(instance, out, format, Weights::Final)
}

/// Exports the instance's untrained network, its initial weights
/// ([`InstanceDir::initial_weights`]), exactly as [`export_run_as`] exports the final weights
/// (the same contract, graph and metadata), with `epc.epochs_trained = 0` and
/// [`META_UNTRAINED`] `= "true"` added, by default to [`InstanceDir::untrained_model`]
/// (`model.untrained.onnx`; for `rnn` with [`ExportFormat::StepV2`],
/// [`InstanceDir::untrained_step_v2_model`]). Returns the path written, or `None`, writing
/// nothing, when the instance has no initial weights (a run from before they were kept).
/// [`ExportFormat::SequenceV1`] is refused with a one-line error naming the instance; other
/// errors as [`export_run_as`].
pub fn export_untrained(
    instance: &InstanceDir,
    out: Option<&Path>,
    format: ExportFormat,
) -> Result<Option<PathBuf>> {
    if !instance.initial_weights().is_file() {
        return Ok(None);
    }
    export_weights(instance, out, format, Weights::Initial).map(Some)
}

/// Which of an instance's weights a model is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weights {
    /// `weights.safetensors`, the result of training.
    Final,
    /// `initial.safetensors`, the untrained network.
    Initial,
}

fn export_weights(
    instance: &InstanceDir,
    out: Option<&Path>,
    format: ExportFormat,
    which: Weights,
) -> Result<PathBuf> {
    let cfg = instance.read_config()?;
    let arch = cfg.model.architecture;
    if which == Weights::Initial && format == ExportFormat::SequenceV1 {
        return Err(Error::format(
            instance.path(),
            "the untrained network is exported as a step model only (step-v1 or step-v2)",
        ));
    }
    if arch != Architecture::Rnn && format == ExportFormat::SequenceV1 {
        return Err(Error::format(
            instance.path(),
            format!(
                "sequence-v1 describes the paper's rnn only; {} exports as step-v2",
                arch.name()
            ),
        ));
    }
    let (weights, epochs) = match which {
        Weights::Final => (
            instance.weights(),
            instance
                .read_state()?
                .map_or(cfg.train.epochs, |s| s.epochs_trained) as u64,
        ),
        Weights::Initial => (instance.initial_weights(), 0),
    };
    let mut metadata = run_metadata(&cfg, epochs)?;
    if which == Weights::Initial {
        metadata.push((META_UNTRAINED.into(), "true".into()));
    }
    let default_out = match (which, arch == Architecture::Rnn, format) {
        (Weights::Final, false, _) | (Weights::Final, true, ExportFormat::StepV1) => {
            instance.step_model()
        }
        (Weights::Final, true, ExportFormat::StepV2) => instance.step_v2_model(),
        (Weights::Final, true, ExportFormat::SequenceV1) => instance.sequence_model(),
        (Weights::Initial, true, ExportFormat::StepV2) => instance.untrained_step_v2_model(),
        (Weights::Initial, _, _) => instance.untrained_model(),
    };
    let out = out.map_or(default_out, Path::to_path_buf);
    if arch != Architecture::Rnn {
        let spec = ArchSpec::of(&cfg).map_err(|e| {
            Error::format(
                instance.config(),
                format!("cannot lay out {}: {e}", arch.name()),
            )
        })?;
        let params = read_params_safetensors(&weights, &spec)?;
        onnx::write_arch_step_v2_model(&spec, &params, &metadata, &out)?;
        return Ok(out);
    }
    let units = cfg.units();
    let w = read_weights_safetensors(&weights, units)?;
    let spec = ModelSpec { w, units, metadata };
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
    use safetensors::Dtype;

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

    fn lstm_spec(units: usize) -> ArchSpec {
        let mut cfg = RunConfig::default();
        cfg.data.dataset = epc_core::data::DatasetKind::Digits;
        cfg.model.architecture = Architecture::LstmErr;
        cfg.model.units = units;
        ArchSpec::of(&cfg.resolve().unwrap()).unwrap()
    }

    fn arrays(spec: &ArchSpec) -> Vec<NamedArray> {
        spec.params
            .iter()
            .map(|p| NamedArray {
                name: p.name.clone(),
                shape: p.shape.clone(),
                data: (0..p.numel()).map(|i| i as f32 * 0.25 - 3.0).collect(),
            })
            .collect()
    }

    #[test]
    fn params_round_trip_in_spec_order_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.safetensors");
        let spec = lstm_spec(3);
        let params = arrays(&spec);
        let mut shuffled = params.clone();
        shuffled.reverse();
        write_params_safetensors(&p, &shuffled).unwrap();
        assert_eq!(read_params_safetensors(&p, &spec).unwrap(), params);
        let e = read_params_safetensors(&p, &lstm_spec(4))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("{}: holds [W_pred [3, 64]", p.display()))
                && e.contains("but lstm-err as configured has [W_pred [4, 64]")
                && !e.contains('\n'),
            "{e}"
        );
        // A tensor too many is listed after the spec's own.
        let mut extra = params.clone();
        extra.push(NamedArray {
            name: "A".into(),
            shape: vec![1],
            data: vec![0.0],
        });
        write_params_safetensors(&p, &extra).unwrap();
        let e = read_params_safetensors(&p, &spec).unwrap_err().to_string();
        assert!(e.contains("b [12], A [1]], but"), "{e}");
        // Bad arrays are refused before anything is written.
        let mut short = params.clone();
        short[0].data.pop();
        assert!(write_params_safetensors(&p, &short).is_err());
        let twice = vec![params[0].clone(), params[0].clone()];
        let e = write_params_safetensors(&p, &twice)
            .unwrap_err()
            .to_string();
        assert!(e.contains("two tensors named W_pred"), "{e}");
        assert_eq!(
            read_params_safetensors(&p, &spec)
                .unwrap_err()
                .to_string()
                .lines()
                .count(),
            1
        );
    }

    #[test]
    fn params_of_another_dtype_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.safetensors");
        let mut cfg = RunConfig::default();
        cfg.data.dataset = epc_core::data::DatasetKind::Digits;
        cfg.model.architecture = Architecture::Dale;
        let spec = ArchSpec::of(&cfg.resolve().unwrap()).unwrap();
        let raw = vec![0u8; 8 * 64 * 64];
        let v = safetensors::tensor::TensorView::new(Dtype::F64, vec![64, 64], &raw).unwrap();
        std::fs::write(&p, safetensors::serialize([("P", v)], &None).unwrap()).unwrap();
        let e = read_params_safetensors(&p, &spec).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("{}: tensor P has dtype F64, expected F32", p.display())
        );
    }
}

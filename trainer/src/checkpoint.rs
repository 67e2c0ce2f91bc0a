//! Per-instance checkpoints: weights, Adam state, best weights and the loop state in
//! one safetensors file, written atomically, so a killed run resumes exactly.

use crate::{Error, Result};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::path::Path;

pub use epc_core::run::{EpochRecord, StopReason};

/// The training-loop state of one instance.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoopState {
    /// Epochs completed.
    pub epochs_done: usize,
    /// Lowest validation loss so far (infinite before the first epoch).
    #[serde(with = "epc_core::fsutil::json_f64")]
    pub best_val: f64,
    /// Epoch (1-based) that reached `best_val`; 0 before any.
    pub best_epoch: usize,
    /// Epochs since the last improvement of the smoothed validation loss.
    pub since_improvement: usize,
    /// Lowest smoothed validation loss so far (what early stopping judges).
    #[serde(default = "infinity", with = "epc_core::fsutil::json_f64")]
    pub best_smoothed: f64,
    /// Why the instance stopped before the last epoch, if it did.
    pub stopped: Option<StopReason>,
    /// Adam updates taken.
    pub adam_step: u64,
    /// The history so far.
    pub history: Vec<EpochRecord>,
}

fn infinity() -> f64 {
    f64::INFINITY
}

impl Default for LoopState {
    fn default() -> Self {
        Self {
            epochs_done: 0,
            best_smoothed: f64::INFINITY,
            best_val: f64::INFINITY,
            best_epoch: 0,
            since_improvement: 0,
            stopped: None,
            adam_step: 0,
            history: Vec::new(),
        }
    }
}

/// Everything a checkpoint holds, as host arrays of `units * units` values.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Current weights.
    pub w: Vec<f32>,
    /// Adam first moment.
    pub m: Vec<f32>,
    /// Adam second moment.
    pub v: Vec<f32>,
    /// Weights of the best validation epoch.
    pub best_w: Vec<f32>,
    /// Loop state.
    pub state: LoopState,
}

fn bytes_of(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes a checkpoint atomically.
pub fn save(path: &Path, units: usize, ck: &Checkpoint) -> Result<()> {
    let arrays = [
        ("W", bytes_of(&ck.w)),
        ("adam_m", bytes_of(&ck.m)),
        ("adam_v", bytes_of(&ck.v)),
        ("best_W", bytes_of(&ck.best_w)),
    ];
    let mut views = Vec::new();
    for (name, bytes) in &arrays {
        let view = TensorView::new(Dtype::F32, vec![units, units], bytes).map_err(|e| {
            epc_exporter::Error::safetensors(path, &format!("cannot build tensor {name}"), e)
        })?;
        views.push((*name, view));
    }
    let state = serde_json::to_string(&ck.state).expect("loop state serialises");
    let meta = HashMap::from([("epc.loop_state".to_string(), state)]);
    let bytes = safetensors::serialize(views, &Some(meta)).map_err(|e| {
        epc_exporter::Error::safetensors(path, "cannot serialise the checkpoint", e)
    })?;
    epc_core::fsutil::write_atomic(path, &bytes)?;
    Ok(())
}

/// Reads a checkpoint written by [`save`], checking every tensor's shape.
pub fn load(path: &Path, units: usize) -> Result<Checkpoint> {
    let bad = |reason: String| Error::Checkpoint {
        path: path.into(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| epc_core::Error::io(path, e))?;
    let not_safetensors = |e| epc_exporter::Error::safetensors(path, "not a safetensors file", e);
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).map_err(not_safetensors)?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(not_safetensors)?;
    let get = |name: &str| -> Result<Vec<f32>> {
        let t = st
            .tensor(name)
            .map_err(|_| bad(format!("tensor {name} missing")))?;
        if t.dtype() != Dtype::F32 || t.shape() != [units, units] {
            return Err(bad(format!(
                "tensor {name} is {:?} {:?}, expected F32 [{units}, {units}]",
                t.dtype(),
                t.shape()
            )));
        }
        Ok(t.data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    };
    let state_json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("epc.loop_state").cloned())
        .ok_or_else(|| bad("loop state missing from metadata".into()))?;
    let state: LoopState =
        serde_json::from_str(&state_json).map_err(|e| bad(format!("loop state: {e}")))?;
    Ok(Checkpoint {
        w: get("W")?,
        m: get("adam_m")?,
        v: get("adam_v")?,
        best_w: get("best_W")?,
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trips_and_checks_shape() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("checkpoint.safetensors");
        let mut state = LoopState {
            stopped: Some(StopReason::EarlyStop {
                epochs_without_improvement: 2,
            }),
            epochs_done: 3,
            best_val: 1.5,
            best_epoch: 2,
            adam_step: 12,
            ..Default::default()
        };
        state.history.push(EpochRecord {
            epoch: 1,
            train_loss: 2.0,
            val_loss: 1.9,
            mean_abs_w: 0.1,
            mean_sq_w: 0.02,
            seconds: 0.5,
            lr: Some(1e-4),
        });
        let ck = Checkpoint {
            w: vec![1.0, 2.0, 3.0, 4.0],
            m: vec![0.1; 4],
            v: vec![0.2; 4],
            best_w: vec![-1.0; 4],
            state,
        };
        save(&p, 2, &ck).unwrap();
        assert_eq!(load(&p, 2).unwrap(), ck);
        let e = load(&p, 3).unwrap_err().to_string();
        assert!(
            e.contains("checkpoint.safetensors") && e.contains("expected F32 [3, 3]"),
            "{e}"
        );
    }
}

//! Per-instance checkpoints: weights, Adam state, best weights and the loop state in
//! one safetensors file, written atomically, so a killed run resumes exactly.

use crate::{Error, Result};
use epc_core::arch::{NamedArray, ParamSpec};
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

/// Everything a checkpoint holds: per trained parameter (in the architecture's order) its
/// current values, Adam's two moments and the values of the best validation epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Current parameters.
    pub params: Vec<NamedArray>,
    /// Adam first moments, one per parameter.
    pub m: Vec<NamedArray>,
    /// Adam second moments, one per parameter.
    pub v: Vec<NamedArray>,
    /// Parameters of the best validation epoch.
    pub best: Vec<NamedArray>,
    /// Loop state.
    pub state: LoopState,
}

impl Checkpoint {
    /// A fresh start from `params`: zero moments, no epoch done.
    pub fn fresh(params: Vec<NamedArray>) -> Self {
        let zeros: Vec<NamedArray> = params
            .iter()
            .map(|p| NamedArray {
                data: vec![0.0; p.data.len()],
                ..p.clone()
            })
            .collect();
        Self {
            best: params.clone(),
            params,
            m: zeros.clone(),
            v: zeros,
            state: LoopState::default(),
        }
    }
}

/// The four file keys of parameter `name`: itself, its moments, its best values. The paper's
/// `W` keeps the names checkpoints had before there were other architectures (`adam_m`,
/// `adam_v`, `best_W`), so older runs resume.
fn keys(name: &str) -> [String; 4] {
    if name == "W" {
        [
            "W".into(),
            "adam_m".into(),
            "adam_v".into(),
            "best_W".into(),
        ]
    } else {
        [
            name.into(),
            format!("adam_m.{name}"),
            format!("adam_v.{name}"),
            format!("best.{name}"),
        ]
    }
}

/// Writes a checkpoint atomically.
pub fn save(path: &Path, ck: &Checkpoint) -> Result<()> {
    let mut arrays = Vec::new();
    for (i, p) in ck.params.iter().enumerate() {
        let [k, km, kv, kb] = keys(&p.name);
        for (key, a) in [(k, p), (km, &ck.m[i]), (kv, &ck.v[i]), (kb, &ck.best[i])] {
            arrays.push(NamedArray {
                name: key,
                ..a.clone()
            });
        }
    }
    let state = serde_json::to_string(&ck.state).expect("loop state serialises");
    let meta = HashMap::from([(LOOP_STATE.to_string(), state)]);
    epc_exporter::tensors::write_arrays(path, &arrays, Some(meta))?;
    Ok(())
}

/// The metadata key of the loop state.
const LOOP_STATE: &str = "epc.loop_state";

/// Reads a checkpoint of the paper's RNN of `units` units (one parameter `W`).
pub fn load(path: &Path, units: usize) -> Result<Checkpoint> {
    load_params(
        path,
        &[ParamSpec {
            name: "W".into(),
            shape: vec![units, units],
            init_bound: 0.0,
        }],
    )
}

/// Reads a checkpoint written by [`save`] for the parameters `specs`, checking every
/// tensor's name and shape (a checkpoint of another architecture is refused).
pub fn load_params(path: &Path, specs: &[ParamSpec]) -> Result<Checkpoint> {
    let bad = |reason: String| Error::Checkpoint {
        path: path.into(),
        reason,
    };
    let file = epc_exporter::tensors::TensorFile::read(path)?;
    let get = |name: &str, spec: &ParamSpec| -> Result<NamedArray> {
        file.array(name, &spec.shape, &spec.name).map_err(|reason| {
            if file.get(name).is_none() {
                bad(format!("{reason}; was it written by another architecture?"))
            } else {
                bad(reason)
            }
        })
    };
    let state_json = file
        .metadata
        .get(LOOP_STATE)
        .ok_or_else(|| bad("loop state missing from metadata".into()))?;
    let state: LoopState =
        serde_json::from_str(state_json).map_err(|e| bad(format!("loop state: {e}")))?;
    let mut ck = Checkpoint {
        params: Vec::new(),
        m: Vec::new(),
        v: Vec::new(),
        best: Vec::new(),
        state,
    };
    for spec in specs {
        let [k, km, kv, kb] = keys(&spec.name);
        ck.params.push(get(&k, spec)?);
        ck.m.push(get(&km, spec)?);
        ck.v.push(get(&kv, spec)?);
        ck.best.push(get(&kb, spec)?);
    }
    Ok(ck)
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
            sequences: None,
            drawn: None,
        });
        let arr = |name: &str, data: Vec<f32>| NamedArray {
            name: name.into(),
            shape: vec![2, 2],
            data,
        };
        let ck = Checkpoint {
            params: vec![arr("W", vec![1.0, 2.0, 3.0, 4.0])],
            m: vec![arr("W", vec![0.1; 4])],
            v: vec![arr("W", vec![0.2; 4])],
            best: vec![arr("W", vec![-1.0; 4])],
            state,
        };
        save(&p, &ck).unwrap();
        assert_eq!(load(&p, 2).unwrap(), ck);
        let e = load(&p, 3).unwrap_err().to_string();
        assert!(
            e.contains("checkpoint.safetensors") && e.contains("expected F32 [3, 3]"),
            "{e}"
        );
        let other = ParamSpec {
            name: "W_pred".into(),
            shape: vec![2, 2],
            init_bound: 0.0,
        };
        let e = load_params(&p, &[other]).unwrap_err().to_string();
        assert!(
            e.contains("tensor W_pred missing") && e.contains("another architecture"),
            "{e}"
        );
    }
}

//! The end of a run: the final weights, the training summary and the exports of every
//! instance (the trained model and, where the initial weights were kept, the untrained one),
//! and the outcome the caller reports.

use super::Instance;
use crate::checkpoint::{self, LoopState};
use crate::{Error, Result};
use epc_core::arch::{ArchSpec, NamedArray};
use epc_core::config::{FinalWeights, RunConfig};
use epc_core::run::{InstanceDir, StopReason, TrainState};
use std::path::PathBuf;

/// How one instance ended.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceOutcome {
    /// The instance's seed.
    pub seed: u64,
    /// Its folder.
    pub dir: PathBuf,
    /// Epochs completed.
    pub epochs_trained: usize,
    /// Epoch with the lowest validation loss (its weights are the final weights unless the
    /// config keeps the last epoch's).
    pub best_epoch: usize,
    /// The lowest validation loss.
    pub best_val_loss: f64,
    /// Why it stopped before the last epoch (patience, non-finite loss), if it did.
    pub stopped: Option<StopReason>,
    /// The device it trained on.
    pub device: String,
}

/// Writes every instance's final files and returns the outcomes; an instance that stopped on
/// a non-finite loss makes the whole call an error (after the others' files are written).
pub(super) fn finish(
    cfg: &RunConfig,
    instances: &[Instance],
    states: &[LoopState],
    best: &[Vec<NamedArray>],
    device: &str,
    export_onnx: bool,
) -> Result<Vec<InstanceOutcome>> {
    let spec = ArchSpec::of(cfg)?;
    let mut outcomes = Vec::new();
    let mut failures = Vec::new();
    for ((inst, st), best_w) in instances.iter().zip(states).zip(best) {
        if let Some(reason) = st.stopped.as_ref().filter(|r| r.is_failure()) {
            failures.push(format!("seed {}: {reason}", inst.seed));
        }
        // With 0 epochs asked for, the untrained network is the result (no checkpoint exists).
        let untrained = cfg.train.epochs == 0;
        if st.epochs_done > 0 || untrained {
            let last = if untrained {
                inst.ck.params.clone()
            } else {
                checkpoint::load_params(&inst.dir.checkpoint(), &spec.params)?.params
            };
            let result = InstanceResult {
                state: st,
                last: &last,
                best: best_w,
                device,
                export_onnx,
            };
            write_result(cfg, &inst.dir, &result)?;
            if st.stopped.is_none() {
                super::snapshots::write_remaining(cfg, inst, &result)?;
            }
        }
        outcomes.push(InstanceOutcome {
            seed: inst.seed,
            dir: inst.dir.path().to_path_buf(),
            epochs_trained: st.epochs_done,
            best_epoch: st.best_epoch,
            best_val_loss: st.best_val,
            stopped: st.stopped.clone(),
            device: device.to_string(),
        });
    }
    if !failures.is_empty() {
        return Err(Error::NonFinite(failures.join("; ")));
    }
    Ok(outcomes)
}

/// What an instance's result is made of, at the end of a run or at a patience snapshot.
pub(super) struct InstanceResult<'a> {
    /// The loop's state when it ended.
    pub state: &'a LoopState,
    /// The weights of the last epoch.
    pub last: &'a [NamedArray],
    /// The weights of the best validation epoch.
    pub best: &'a [NamedArray],
    /// Where it trained, in words.
    pub device: &'a str,
    /// Whether to export the ONNX models.
    pub export_onnx: bool,
}

/// Writes an instance's result into `dir`: the last and the final weights (best or last, as
/// `cfg` says), the training state and, where asked, the trained model and the untrained one
/// (where `dir` holds the initial weights).
pub(super) fn write_result(cfg: &RunConfig, dir: &InstanceDir, r: &InstanceResult) -> Result<()> {
    let st = r.state;
    epc_exporter::write_params_safetensors(&dir.last_weights(), r.last)?;
    let final_w = match cfg.train.final_weights {
        FinalWeights::Best => r.best,
        FinalWeights::Last => r.last,
    };
    epc_exporter::write_params_safetensors(&dir.weights(), final_w)?;
    dir.write_state(&TrainState {
        epochs_trained: st.epochs_done,
        best_epoch: st.best_epoch,
        best_val_loss: st.best_val,
        stopped: st.stopped.clone(),
        device: r.device.to_string(),
    })?;
    if r.export_onnx {
        epc_exporter::export_run(dir, None, false)?;
        // The untrained network beside it, where the initial weights were kept.
        epc_exporter::export_untrained(dir, None, epc_exporter::ExportFormat::StepV1)?;
    }
    Ok(())
}

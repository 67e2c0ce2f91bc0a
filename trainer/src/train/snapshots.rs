//! Patience snapshots (`train.patience_snapshots`): what runs with shorter patiences would
//! have ended with, written from one run without training again.
//!
//! Every epoch's draw and learning rate depend only on the seed, the epoch and the maximum
//! number of epochs, so a run with patience p follows a longer run's trajectory exactly until
//! the first epoch at which its smoothed validation loss has gone p epochs without improving
//! (and early stopping may stop); it then keeps its best weights. The longer run's state at
//! that epoch *is* the patience-p run's result, and is written as such to
//! [`InstanceDir::patience_snapshot`]: config (with `patience = p`), history, weights, state and
//! exports, as a complete instance folder.

use super::outcome::{write_result, InstanceResult};
use super::Instance;
use crate::checkpoint::StopReason;
use crate::{Error, Result};
use epc_core::config::RunConfig;
use epc_core::run::InstanceDir;

/// The patiences of `cfg` that reach their stopping point with `state` (after its latest
/// epoch) and have not been written for `inst` yet.
pub(super) fn due(cfg: &RunConfig, result: &InstanceResult, inst: &Instance) -> Vec<usize> {
    let st = result.state;
    if st.epochs_done < min_epochs(cfg) {
        return Vec::new();
    }
    pending(cfg, inst)
        .into_iter()
        .filter(|&p| st.since_improvement >= p)
        .collect()
}

/// The epoch before which early stopping never stops.
pub(super) fn min_epochs(cfg: &RunConfig) -> usize {
    cfg.train
        .min_epochs
        .unwrap_or_else(|| cfg.optim.schedule.min_epochs(cfg.train.epochs))
}

/// The patiences of `cfg` not written for `inst` yet.
fn pending(cfg: &RunConfig, inst: &Instance) -> Vec<usize> {
    cfg.train
        .patience_snapshots
        .iter()
        .copied()
        .filter(|&p| !inst.dir.patience_snapshot(p).path().is_dir())
        .collect()
}

/// Writes the patience-`p` result of `inst`: `result` as a run with `patience = p` that
/// stopped now (`stopped`: true) or ran every epoch. Built beside its place and renamed into
/// it, so that an interrupted write leaves no folder that looks finished.
pub(super) fn write(
    inst: &Instance,
    p: usize,
    result: &InstanceResult,
    stopped: bool,
) -> Result<()> {
    let target = inst.dir.patience_snapshot(p);
    let partial = InstanceDir::new(target.path().with_extension("partial"));
    let io = |path: &std::path::Path, e| Error::Core(epc_core::Error::io(path, e));
    if partial.path().exists() {
        std::fs::remove_dir_all(partial.path()).map_err(|e| io(partial.path(), e))?;
    }
    std::fs::create_dir_all(partial.path()).map_err(|e| io(partial.path(), e))?;
    // The instance's own config (its seed), as the trainer wrote it.
    let mut own = inst.dir.read_config()?;
    own.train.patience = Some(p);
    own.train.patience_snapshots.clear();
    let mut state = result.state.clone();
    if stopped {
        state.stopped = Some(StopReason::EarlyStop {
            epochs_without_improvement: state.since_improvement,
        });
    }
    partial.write_config(&own)?;
    partial.write_history(&state.history)?;
    if inst.dir.initial_weights().is_file() {
        std::fs::copy(inst.dir.initial_weights(), partial.initial_weights())
            .map_err(|e| io(&inst.dir.initial_weights(), e))?;
    }
    write_result(
        &own,
        &partial,
        &InstanceResult {
            state: &state,
            ..*result
        },
    )?;
    std::fs::rename(partial.path(), target.path()).map_err(|e| io(target.path(), e))?;
    Ok(())
}

/// At the end of a run that used every epoch: the patiences that never triggered would have
/// run every epoch too, so the run's own result is theirs.
pub(super) fn write_remaining(
    cfg: &RunConfig,
    inst: &Instance,
    result: &InstanceResult,
) -> Result<()> {
    for p in pending(cfg, inst) {
        write(inst, p, result, false)?;
    }
    Ok(())
}

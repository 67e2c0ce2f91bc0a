//! How a training run reports what it does: events to an observer that the caller chooses
//! (the command line draws a progress bar or prints plain lines; tests stay silent).

use epc_core::run::StopReason;

/// One thing that happened during a run, in the order they happen.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainEvent<'a> {
    /// The run starts (or resumes).
    Started {
        /// Instances trained in this command.
        instances: usize,
        /// The architecture's name.
        architecture: &'a str,
        /// The data set's name.
        dataset: &'a str,
        /// The device, in words (`cpu, 1 thread(s)`, `cuda:0`).
        device: &'a str,
        /// The loss's name.
        loss: &'a str,
        /// The epoch count the run goes up to.
        epochs: usize,
        /// Epochs already done before this command (a resumed run), else 0.
        done: usize,
        /// Whether a validation split is held out; without one the epoch's validation loss
        /// is its training loss (what early stopping and `best` then judge).
        validation: bool,
    },
    /// Epoch `epoch` (1-based) starts with `batches` optimisation steps in all.
    EpochStarted {
        /// The epoch, 1-based.
        epoch: usize,
        /// Batches of this epoch over all instance groups.
        batches: usize,
    },
    /// One optimisation step finished.
    Batch,
    /// An instance stopped for good (early stop or a non-finite loss).
    InstanceStopped {
        /// Its seed.
        seed: u64,
        /// Why.
        reason: &'a StopReason,
        /// The epoch whose checkpoint is kept.
        kept_epoch: usize,
    },
    /// An instance reached the stopping point of one of its patience snapshots
    /// (`train.patience_snapshots`), whose result was written to `dir`; training goes on.
    PatienceSnapshot {
        /// Its seed.
        seed: u64,
        /// The patience.
        patience: usize,
        /// The epoch at which a run with that patience stops.
        epoch: usize,
        /// The snapshot's instance folder.
        dir: &'a std::path::Path,
    },
    /// Epoch `epoch` finished.
    EpochFinished {
        /// The epoch, 1-based.
        epoch: usize,
        /// `(train loss, validation loss)` of every instance that was active in it.
        losses: &'a [(f64, f64)],
        /// Wall time of the epoch.
        seconds: f64,
    },
    /// The loop ended (the final files are written next).
    Finished,
}

/// Receives a run's [`TrainEvent`]s.
pub trait TrainObserver {
    /// Called for every event, on the training thread.
    fn on_event(&mut self, event: TrainEvent<'_>);
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl TrainObserver for Silent {
    fn on_event(&mut self, _event: TrainEvent<'_>) {}
}

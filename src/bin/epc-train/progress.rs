//! How `epc train` shows a run: a progress bar on a terminal, plain log lines otherwise.

use epc_trainer::{TrainEvent, TrainObserver};
use indicatif::{ProgressBar, ProgressStyle};

/// Shows the events of one run.
///
/// The bar counts every batch of the run, so its ETA is the run's. Epoch lines are printed
/// about 20 times per run, the first and the last epoch always, above the bar or, without a
/// terminal (a log file, CI, Slurm), as plain lines: a 400-epoch run logs about 21 lines, not
/// 400.
pub struct Progress {
    bar: Option<ProgressBar>,
    epochs: usize,
    done_before: usize,
    batches_done: u64,
    validation: bool,
    /// The last epoch's line, while it has not been printed (printed when the run ends).
    unprinted: Option<String>,
}

impl Progress {
    /// A bar (`bar`) or plain lines.
    pub fn new(bar: bool) -> Self {
        let bar = bar.then(|| {
            let pb = ProgressBar::new(0);
            pb.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {msg} (elapsed {elapsed}, ETA {eta})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            pb
        });
        Self {
            bar,
            epochs: 0,
            done_before: 0,
            batches_done: 0,
            validation: true,
            unprinted: None,
        }
    }

    /// Whether the line of `epoch` is shown: the first and last epoch of this invocation and
    /// about 20 evenly spaced ones between.
    fn shows_epoch(&self, epoch: usize) -> bool {
        let run = self.epochs.saturating_sub(self.done_before);
        let k = epoch.saturating_sub(self.done_before);
        k <= 1 || epoch >= self.epochs || k.is_multiple_of((run / 20).max(1))
    }

    /// Whether the run being shown holds out a validation split (known once it started).
    pub fn has_validation(&self) -> bool {
        self.validation
    }

    /// Prints a line without breaking the bar.
    fn line(&self, text: &str) {
        match &self.bar {
            Some(pb) => pb.println(format!("epc: {text}")),
            None => eprintln!("epc: {text}"),
        }
    }
}

impl TrainObserver for Progress {
    fn on_event(&mut self, event: TrainEvent<'_>) {
        match event {
            TrainEvent::Started {
                instances,
                architecture,
                dataset,
                device,
                loss,
                epochs,
                done,
                validation,
            } => {
                self.epochs = epochs;
                self.done_before = done;
                self.validation = validation;
                let judged = if validation {
                    ""
                } else {
                    " (no validation split: early stopping and `best` judge the training loss)"
                };
                self.line(&format!(
                    "training {instances} instance(s) of {architecture} on {dataset} ({device}), loss {loss}, up to {epochs} epochs{judged}"
                ));
                if done > 0 {
                    self.line(&format!("resuming after epoch {done} of {epochs}"));
                }
            }
            TrainEvent::EpochStarted { epoch, batches } => {
                if let Some(pb) = &self.bar {
                    // Epochs of one run have the same number of batches (up to the last few
                    // sequences).
                    let left = (self.epochs + 1).saturating_sub(epoch) as u64;
                    pb.set_length(self.batches_done + left * batches as u64);
                    pb.set_prefix(format!("epoch {epoch}/{}", self.epochs));
                }
            }
            TrainEvent::Batch => {
                self.batches_done += 1;
                if let Some(pb) = &self.bar {
                    pb.set_position(self.batches_done);
                }
            }
            TrainEvent::InstanceStopped {
                seed,
                reason,
                kept_epoch,
            } => {
                let kept = if reason.is_failure() {
                    format!("; keeping the checkpoint of epoch {kept_epoch}")
                } else {
                    String::new()
                };
                self.line(&format!("seed {seed}: {reason}{kept}"));
            }
            TrainEvent::PatienceSnapshot {
                seed,
                patience,
                epoch,
                dir,
            } => self.line(&format!(
                "seed {seed}: patience {patience} would stop at epoch {epoch}; its result is in {}",
                dir.display()
            )),
            TrainEvent::EpochFinished {
                epoch,
                losses,
                seconds,
            } => {
                let n = losses.len().max(1) as f64;
                let train = losses.iter().map(|l| l.0).sum::<f64>() / n;
                let val = losses.iter().map(|l| l.1).sum::<f64>() / n;
                let val_part = if self.validation {
                    format!(", validation loss {val:.5}")
                } else {
                    String::new()
                };
                let line = format!(
                    "epoch {epoch}/{}: train loss {train:.5}{val_part} (mean of {} instance(s)), {seconds:.2} s",
                    self.epochs,
                    losses.len()
                );
                if let Some(pb) = &self.bar {
                    pb.set_message(if self.validation {
                        format!("loss {train:.4} / val {val:.4}")
                    } else {
                        format!("loss {train:.4}")
                    });
                }
                if self.shows_epoch(epoch) {
                    self.unprinted = None;
                    self.line(&line);
                } else {
                    self.unprinted = Some(line);
                }
            }
            TrainEvent::Finished => {
                // A run that stopped early still shows its last epoch.
                if let Some(line) = self.unprinted.take() {
                    self.line(&line);
                }
                if let Some(pb) = &self.bar {
                    pb.finish_and_clear();
                }
            }
        }
    }
}

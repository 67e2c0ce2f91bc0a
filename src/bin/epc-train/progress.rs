//! How `epc train` shows a run: a progress bar on a terminal, plain log lines otherwise.

use epc_trainer::{TrainEvent, TrainObserver};
use indicatif::{ProgressBar, ProgressStyle};

/// Shows the events of one run.
///
/// The bar counts every batch of the run, so its ETA is the run's; epoch lines are printed
/// above it about 20 times per run (every line in plain mode).
pub struct Progress {
    bar: Option<ProgressBar>,
    epochs: usize,
    done_before: usize,
    batches_done: u64,
    validation: bool,
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
        }
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
                match &self.bar {
                    Some(pb) => {
                        pb.set_message(if self.validation {
                            format!("loss {train:.4} / val {val:.4}")
                        } else {
                            format!("loss {train:.4}")
                        });
                        let every = ((self.epochs - self.done_before) / 20).max(1);
                        if (epoch - self.done_before).is_multiple_of(every) || epoch == self.epochs
                        {
                            pb.println(line);
                        }
                    }
                    None => eprintln!("epc: {line}"),
                }
            }
            TrainEvent::Finished => {
                if let Some(pb) = &self.bar {
                    pb.finish_and_clear();
                }
            }
        }
    }
}

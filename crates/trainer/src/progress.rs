//! Progress reporting: a bar on a terminal, plain log lines otherwise.

use indicatif::{ProgressBar, ProgressStyle};

/// Reports epochs and batches of one run.
///
/// The bar counts every batch of the run, so its ETA is the run's; epoch lines are printed
/// above it about 20 times per run (every line in plain mode).
pub struct Progress {
    bar: Option<ProgressBar>,
    epochs: usize,
    done_before: usize,
    batches_done: u64,
}

impl Progress {
    /// A reporter for `epochs` epochs of which `done` are already done; `bar` picks the bar.
    pub fn new(bar: bool, epochs: usize, done: usize) -> Self {
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
        if done > 0 {
            eprintln!("epc: resuming after epoch {done} of {epochs}");
        }
        Self {
            bar,
            epochs,
            done_before: done,
            batches_done: 0,
        }
    }

    /// Marks the start of epoch `epoch` (1-based) with `batches` batches.
    pub fn start_epoch(&mut self, epoch: usize, batches: usize) {
        if let Some(pb) = &self.bar {
            // Epochs of one run have the same number of batches (up to the last few sequences).
            let left = (self.epochs + 1).saturating_sub(epoch) as u64;
            pb.set_length(self.batches_done + left * batches as u64);
            pb.set_prefix(format!("epoch {epoch}/{}", self.epochs));
        }
    }

    /// Marks one more batch as done.
    pub fn batch(&mut self) {
        self.batches_done += 1;
        if let Some(pb) = &self.bar {
            pb.set_position(self.batches_done);
        }
    }

    /// Reports the end of an epoch with the (train, validation) loss of each active instance.
    pub fn end_epoch(&mut self, epoch: usize, losses: &[(f64, f64)], seconds: f64) {
        let n = losses.len().max(1) as f64;
        let train = losses.iter().map(|l| l.0).sum::<f64>() / n;
        let val = losses.iter().map(|l| l.1).sum::<f64>() / n;
        let line = format!(
            "epoch {epoch}/{}: train loss {train:.5}, validation loss {val:.5} (mean of {} instance(s)), {seconds:.2} s",
            self.epochs,
            losses.len()
        );
        match &self.bar {
            Some(pb) => {
                pb.set_message(format!("loss {train:.4} / val {val:.4}"));
                let every = ((self.epochs - self.done_before) / 20).max(1);
                if (epoch - self.done_before) % every == 0 || epoch == self.epochs {
                    pb.println(line);
                }
            }
            None => eprintln!("epc: {line}"),
        }
    }

    /// Prints a note without breaking the bar.
    pub fn note(&self, text: &str) {
        match &self.bar {
            Some(pb) => pb.println(format!("epc: {text}")),
            None => eprintln!("epc: {text}"),
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(pb) = &self.bar {
            pb.finish_and_clear();
        }
    }
}

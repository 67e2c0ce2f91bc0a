//! Learning-rate schedules: the rate as a function of the epoch alone, so that a resumed run
//! continues mid-schedule bit-identically.

use crate::{Error, Result};

/// How the learning rate changes over the epochs (it is constant within an epoch).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Default)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Schedule {
    /// The paper's: `lr` at every epoch.
    #[default]
    Constant,
    /// Linear warm-up from `lr / warmup_epochs` to `lr` over `warmup_epochs` epochs, then a
    /// cosine decay from `lr` to `min_lr` over `decay_epochs` epochs (default: the rest of the
    /// run), then `min_lr`.
    Cosine {
        /// Warm-up epochs (0: none).
        #[serde(default)]
        warmup_epochs: usize,
        /// The final learning rate.
        min_lr: f64,
        /// Epochs of the decay; `None`: `epochs - warmup_epochs`.
        #[serde(default)]
        decay_epochs: Option<usize>,
    },
    /// `lr * factor^floor(epoch / every)`.
    Step {
        /// Epochs between decays.
        every: usize,
        /// The factor at each decay.
        factor: f64,
    },
}

impl Schedule {
    /// The learning rate of epoch `epoch` (0-based) of a run of `epochs` epochs at base `lr`.
    pub fn lr(&self, lr: f64, epoch: usize, epochs: usize) -> f64 {
        match *self {
            Schedule::Constant => lr,
            Schedule::Cosine {
                warmup_epochs,
                min_lr,
                decay_epochs,
            } => {
                if epoch < warmup_epochs {
                    return lr * (epoch + 1) as f64 / warmup_epochs as f64;
                }
                let decay = decay_epochs
                    .unwrap_or(epochs.saturating_sub(warmup_epochs))
                    .max(1);
                let t = (epoch - warmup_epochs).min(decay) as f64;
                min_lr
                    + 0.5 * (lr - min_lr) * (1.0 + (std::f64::consts::PI * t / decay as f64).cos())
            }
            Schedule::Step { every, factor } => lr * factor.powi((epoch / every.max(1)) as i32),
        }
    }

    /// Epochs before which early stopping is never judged: the warm-up and the decay of a
    /// cosine schedule (stopping inside them wastes the schedule), 0 otherwise.
    pub fn min_epochs(&self, epochs: usize) -> usize {
        match *self {
            Schedule::Cosine {
                warmup_epochs,
                decay_epochs,
                ..
            } => warmup_epochs + decay_epochs.unwrap_or(epochs.saturating_sub(warmup_epochs)),
            _ => 0,
        }
    }

    /// Refuses parameters that make no schedule (a negative `min_lr`, no decay epochs, a step
    /// schedule without a period or with a factor that is not positive).
    pub(super) fn check(&self) -> Result<()> {
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Cosine {
                min_lr,
                decay_epochs,
                ..
            } => {
                if !(min_lr.is_finite() && min_lr >= 0.0) {
                    return Err(Error::Config(format!(
                        "min_lr {min_lr} must be a number >= 0"
                    )));
                }
                if decay_epochs == Some(0) {
                    return Err(Error::Config("decay_epochs must be at least 1".into()));
                }
                Ok(())
            }
            Schedule::Step { every, factor } => {
                if every == 0 {
                    return Err(Error::Config(
                        "a step schedule needs every >= 1 epoch".into(),
                    ));
                }
                if !(factor.is_finite() && factor > 0.0) {
                    return Err(Error::Config(format!(
                        "step factor {factor} must be positive"
                    )));
                }
                Ok(())
            }
        }
    }
}

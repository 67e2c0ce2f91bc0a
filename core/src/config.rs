//! The run configuration: one serde struct per concern, each with the paper's defaults.
//!
//! A run writes its resolved config (`config.json`) before it starts; every later
//! step (export, dump, analysis) reads that file back instead of re-deriving it.

use crate::data::DatasetKind;
use crate::sequence::SequenceConfig;
use crate::{Error, Result, TOOLKIT_VERSION};
use std::path::{Path, PathBuf};

/// The version of this config schema; files from a newer version are refused.
pub const CONFIG_VERSION: u32 = 1;

/// The training objectives of SPEC.md section 3.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// sum_t mean|a_t| (the paper's model).
    L1Pre,
    /// sum_t mean relu(a_t) (control: over-inhibits).
    L1Post,
    /// sum_t [mean relu(a_t) + c * mean(W^2)] (control; c = 3708).
    L1PostL2w,
}

impl Loss {
    /// The name used on the command line, in configs and in model metadata.
    pub fn name(self) -> &'static str {
        match self {
            Loss::L1Pre => "l1-pre",
            Loss::L1Post => "l1-post",
            Loss::L1PostL2w => "l1-post-l2w",
        }
    }
}

/// Network architectures the trainer can fit.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
    Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// The paper's RNN: `a_t = h_{t-1} W + x_t`, `h_t = relu(a_t)`, only W trained.
    #[default]
    Rnn,
}

impl Architecture {
    /// The name used in configs and model metadata.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Rnn => "rnn",
        }
    }
}

/// Where to train.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
    Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceChoice {
    /// CUDA if available, else MPS, else CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// The first CUDA GPU.
    Cuda,
    /// Apple Metal (MPS).
    Mps,
}

/// Which data and how much of it is held out for validation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// The data set.
    pub dataset: DatasetKind,
    /// Folder with the data files (`None`: embedded digits or the download cache).
    pub data_dir: Option<PathBuf>,
    /// Fraction of the official training split held out for early stopping (0.1).
    pub val_fraction: f64,
    /// Seed of the validation split; shared by all instances so they validate on the same images.
    pub split_seed: u64,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            dataset: DatasetKind::Digits,
            data_dir: None,
            val_fraction: 0.1,
            split_seed: 0,
        }
    }
}

/// The network.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// The architecture.
    pub architecture: Architecture,
    /// Number of units; 0 means "the input size of the data set" (the paper's choice).
    pub units: usize,
}

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

    fn check(&self) -> Result<()> {
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

/// Adam's settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimConfig {
    /// Learning rate (1e-4); the schedule's base rate.
    pub lr: f64,
    /// How the learning rate changes over the epochs (constant, as in the paper).
    pub schedule: Schedule,
    /// First-moment decay (0.9).
    pub beta1: f64,
    /// Second-moment decay (0.999).
    pub beta2: f64,
    /// Denominator epsilon (1e-8).
    pub eps: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            lr: 1e-4,
            schedule: Schedule::Constant,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Which weights a run keeps as its final `weights.safetensors`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
    Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum FinalWeights {
    /// The epoch with the lowest validation loss (ours: never the test set).
    #[default]
    Best,
    /// The last epoch's (the published code's choice; with no validation split, "best" would
    /// be judged on the training loss).
    Last,
}

/// The training loop.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// The objective (l1-pre).
    pub loss: Loss,
    /// Maximum number of epochs (200, as the paper's MNIST runs); 0 writes the untrained
    /// network (the baseline of the published figures).
    pub epochs: usize,
    /// Stop after this many epochs without a validation improvement; `None` runs all epochs.
    pub patience: Option<usize>,
    /// An improvement must lower the (smoothed) validation loss by more than this.
    pub min_delta: f64,
    /// Early stopping judges the mean of the last `smoothing` validation losses (1: the loss
    /// itself), so that one noisy epoch neither stops nor prolongs a run.
    pub smoothing: usize,
    /// Early stopping never stops before this epoch; `None`: the schedule's minimum (a cosine
    /// schedule's warm-up and decay).
    pub min_epochs: Option<usize>,
    /// Coefficient of the L2 weight term of `l1-post-l2w` (3708, the published value).
    pub l2_coefficient: f64,
    /// Where to train.
    pub device: DeviceChoice,
    /// Which weights become the final model.
    pub final_weights: FinalWeights,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            final_weights: FinalWeights::Best,
            loss: Loss::L1Pre,
            epochs: 200,
            patience: None,
            min_delta: 0.0,
            smoothing: 1,
            min_epochs: None,
            l2_coefficient: 3708.0,
            device: DeviceChoice::Auto,
        }
    }
}

/// One change made to a run's config after it started (`epc train --resume RUN --epochs N`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigChange {
    /// When, ISO 8601 UTC.
    pub utc: String,
    /// The toolkit version that made it.
    pub toolkit_version: String,
    /// The field, dotted (`train.epochs`).
    pub field: String,
    /// The old value, as JSON.
    pub from: serde_json::Value,
    /// The new value, as JSON.
    pub to: serde_json::Value,
}

/// Everything that defines one training run; written as `config.json` in its folder.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Schema version of this file ([`CONFIG_VERSION`]).
    pub config_version: u32,
    /// The toolkit version that wrote it.
    pub toolkit_version: String,
    /// Seed of the weights' initialisation and of the training sequences.
    pub seed: u64,
    /// Data settings.
    pub data: DataConfig,
    /// Sequence settings.
    pub sequence: SequenceConfig,
    /// Network settings.
    pub model: ModelConfig,
    /// Optimiser settings.
    pub optim: OptimConfig,
    /// Training-loop settings.
    pub train: TrainConfig,
    /// Changes made after the run started, oldest first (empty for most runs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ConfigChange>,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            config_version: CONFIG_VERSION,
            toolkit_version: TOOLKIT_VERSION.to_string(),
            seed: 0,
            data: DataConfig::default(),
            sequence: SequenceConfig::default(),
            model: ModelConfig::default(),
            optim: OptimConfig::default(),
            train: TrainConfig::default(),
            changes: Vec::new(),
        }
    }
}

impl RunConfig {
    /// Reads a TOML config file; absent fields keep their defaults, unknown fields are errors.
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let cfg: RunConfig = toml::from_str(&text).map_err(|e| {
            // toml's messages can span lines; the CLI's errors are one line.
            let msg = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
            let at = e
                .span()
                .and_then(|s| text.get(..s.start))
                .map(|before| format!(" (line {})", before.lines().count().max(1)))
                .unwrap_or_default();
            Error::format(path, format!("invalid config{at}: {msg}"))
        })?;
        cfg.check_version(path)?;
        Ok(cfg)
    }

    /// Reads a resolved `config.json` written by a run.
    pub fn from_json_file(path: &Path) -> Result<Self> {
        let cfg: RunConfig = crate::fsutil::read_json(path)?;
        cfg.check_version(path)?;
        Ok(cfg)
    }

    fn check_version(&self, path: &Path) -> Result<()> {
        if self.config_version > CONFIG_VERSION || self.config_version == 0 {
            return Err(Error::format(
                path,
                format!("config version {} is not supported (this epc {} reads version {CONFIG_VERSION})", self.config_version, TOOLKIT_VERSION),
            ));
        }
        Ok(())
    }

    /// The config extended to `epochs` epochs, with the change recorded. A cosine schedule
    /// whose decay length followed the epoch count keeps its old length (the epochs already
    /// trained followed it); the added epochs run at its final rate. Fewer epochs than the
    /// run has are refused.
    pub fn extended(&self, epochs: usize) -> Result<Self> {
        if epochs < self.train.epochs {
            return Err(Error::Config(format!(
                "--epochs {epochs} is fewer than the run's {}; a run can only be extended",
                self.train.epochs
            )));
        }
        let mut c = self.clone();
        if epochs == self.train.epochs {
            return Ok(c);
        }
        let utc = crate::clock::utc_now();
        let change = |field: &str, from: serde_json::Value, to: serde_json::Value| ConfigChange {
            utc: utc.clone(),
            toolkit_version: TOOLKIT_VERSION.to_string(),
            field: field.into(),
            from,
            to,
        };
        if let Schedule::Cosine {
            warmup_epochs,
            decay_epochs: ref mut decay @ None,
            ..
        } = c.optim.schedule
        {
            let pinned = self.train.epochs.saturating_sub(warmup_epochs);
            *decay = Some(pinned);
            c.changes.push(change(
                "optim.schedule.decay_epochs",
                serde_json::Value::Null,
                pinned.into(),
            ));
        }
        c.changes.push(change(
            "train.epochs",
            self.train.epochs.into(),
            epochs.into(),
        ));
        c.train.epochs = epochs;
        Ok(c)
    }

    /// The number of units, resolving 0 to the data set's input size.
    pub fn units(&self) -> usize {
        if self.model.units == 0 {
            self.data.dataset.shape().len()
        } else {
            self.model.units
        }
    }

    /// Fills derived fields (units, versions) and checks consistency.
    pub fn resolve(mut self) -> Result<Self> {
        self.model.units = self.units();
        self.toolkit_version = TOOLKIT_VERSION.to_string();
        self.config_version = CONFIG_VERSION;
        self.sequence.validate()?;
        if self.model.architecture == Architecture::Rnn
            && self.model.units != self.data.dataset.shape().len()
        {
            return Err(Error::Config(format!(
                "the rnn architecture has one unit per pixel: {} units for {}, not {}",
                self.data.dataset.shape().len(),
                self.data.dataset,
                self.model.units
            )));
        }
        let o = &self.optim;
        if !(o.lr.is_finite() && o.lr > 0.0) {
            return Err(Error::Config(format!(
                "learning rate {} must be positive",
                o.lr
            )));
        }
        for (name, beta) in [("beta1", o.beta1), ("beta2", o.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(Error::Config(format!(
                    "Adam {name} {beta} must be in [0, 1)"
                )));
            }
        }
        if !(o.eps.is_finite() && o.eps > 0.0) {
            return Err(Error::Config(format!(
                "Adam eps {} must be positive",
                o.eps
            )));
        }
        if !(0.0..1.0).contains(&self.data.val_fraction) {
            return Err(Error::Config(format!(
                "validation fraction {} must be in [0, 1)",
                self.data.val_fraction
            )));
        }
        let t = &self.train;
        if !(t.min_delta.is_finite() && t.min_delta >= 0.0) {
            return Err(Error::Config(format!(
                "min_delta {} must be a number >= 0",
                t.min_delta
            )));
        }
        if !(t.l2_coefficient.is_finite() && t.l2_coefficient >= 0.0) {
            return Err(Error::Config(format!(
                "l2_coefficient {} must be a number >= 0",
                t.l2_coefficient
            )));
        }
        self.optim.schedule.check()?;
        if t.smoothing == 0 {
            return Err(Error::Config("smoothing must be at least 1 epoch".into()));
        }
        if t.patience == Some(0) {
            return Err(Error::Config("patience must be at least 1 epoch".into()));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_only_given_fields() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "seed = 7\n[train]\nloss = \"l1-post\"\nepochs = 3\n[optim]\nlr = 0.01\n",
        )
        .unwrap();
        let c = RunConfig::from_toml_file(&p).unwrap();
        assert_eq!(c.seed, 7);
        assert_eq!(c.train.loss, Loss::L1Post);
        assert_eq!(c.train.epochs, 3);
        assert_eq!(c.optim.lr, 0.01);
        assert_eq!(c.sequence.batch_size, 32);
        assert_eq!(c.train.l2_coefficient, 3708.0);
    }

    #[test]
    fn unknown_field_and_newer_version_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "sead = 7\n").unwrap();
        let e = RunConfig::from_toml_file(&p).unwrap_err().to_string();
        assert!(e.contains("c.toml") && e.contains("sead"), "{e}");
        std::fs::write(&p, "config_version = 99\n").unwrap();
        let e = RunConfig::from_toml_file(&p).unwrap_err().to_string();
        assert!(e.contains("version 99"), "{e}");
    }

    #[test]
    fn resolve_refuses_bad_numbers() {
        type Breaker = fn(&mut RunConfig);
        let cases: [(Breaker, &str); 10] = [
            (|c| c.optim.lr = 0.0, "learning rate"),
            (|c| c.optim.lr = f64::NAN, "learning rate"),
            (|c| c.optim.lr = f64::INFINITY, "learning rate"),
            (|c| c.optim.beta1 = 1.0, "beta1"),
            (|c| c.optim.beta2 = -0.5, "beta2"),
            (|c| c.optim.eps = 0.0, "eps"),
            (|c| c.data.val_fraction = 1.0, "validation fraction"),
            (|c| c.train.min_delta = -1.0, "min_delta"),
            (|c| c.train.patience = Some(0), "patience"),
            (|c| c.model.units = 10, "one unit per pixel"),
        ];
        for (break_it, needle) in cases {
            let mut c = RunConfig::default();
            break_it(&mut c);
            let e = c.resolve().unwrap_err().to_string();
            assert!(e.contains(needle) && !e.contains('\n'), "{needle}: {e}");
        }
        let mut c = RunConfig::default();
        c.train.epochs = 0;
        assert_eq!(
            c.resolve().unwrap().train.epochs,
            0,
            "0 epochs: the untrained network"
        );
        let c = RunConfig::default().resolve().unwrap();
        assert_eq!(c.model.units, 64);
    }

    #[test]
    fn schedules_follow_their_formulas() {
        let c = Schedule::Cosine {
            warmup_epochs: 0,
            min_lr: 1e-5,
            decay_epochs: None,
        };
        assert_eq!(c.lr(1e-3, 0, 40), 1e-3);
        // Half way the cosine is at the midpoint of lr and min_lr.
        assert!((c.lr(1e-3, 20, 40) - (1e-3 + 1e-5) / 2.0).abs() < 1e-15);
        assert!((c.lr(1e-3, 40, 40) - 1e-5).abs() < 1e-15);
        assert!(c.lr(1e-3, 39, 40) < 2e-5);
        assert_eq!(c.min_epochs(40), 40);
        let w = Schedule::Cosine {
            warmup_epochs: 4,
            min_lr: 0.0,
            decay_epochs: Some(10),
        };
        assert!((w.lr(1.0, 0, 100) - 0.25).abs() < 1e-15);
        assert!((w.lr(1.0, 3, 100) - 1.0).abs() < 1e-15);
        assert_eq!(w.lr(1.0, 4, 100), 1.0);
        assert!((w.lr(1.0, 9, 100) - 0.5).abs() < 1e-15);
        assert_eq!(w.lr(1.0, 50, 100), 0.0);
        assert_eq!(w.min_epochs(100), 14);
        let s = Schedule::Step {
            every: 10,
            factor: 0.5,
        };
        assert_eq!(
            (s.lr(1.0, 9, 0), s.lr(1.0, 10, 0), s.lr(1.0, 25, 0)),
            (1.0, 0.5, 0.25)
        );
        assert_eq!(Schedule::Constant.lr(0.1, 77, 100), 0.1);
        // TOML spelling.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[optim]\nlr = 1e-3\n[optim.schedule]\nkind = \"cosine\"\nmin_lr = 1e-5\n",
        )
        .unwrap();
        let cfg = RunConfig::from_toml_file(&p).unwrap();
        assert_eq!(cfg.optim.schedule, c);
        std::fs::write(
            &p,
            "[optim.schedule]\nkind = \"step\"\nevery = 0\nfactor = 0.5\n",
        )
        .unwrap();
        let e = RunConfig::from_toml_file(&p)
            .unwrap()
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(e.contains("every >= 1"), "{e}");
    }

    #[test]
    fn extending_records_the_change_and_pins_a_cosine_decay() {
        let mut c = RunConfig::default();
        c.optim.schedule = Schedule::Cosine {
            warmup_epochs: 2,
            min_lr: 1e-5,
            decay_epochs: None,
        };
        c.train.epochs = 40;
        let e = c.extended(80).unwrap();
        assert_eq!(e.train.epochs, 80);
        assert_eq!(
            e.optim.schedule,
            Schedule::Cosine {
                warmup_epochs: 2,
                min_lr: 1e-5,
                decay_epochs: Some(38)
            }
        );
        // The learning rate of every epoch already trained is unchanged.
        for epoch in 0..40 {
            assert_eq!(
                e.optim.schedule.lr(1e-3, epoch, 80),
                c.optim.schedule.lr(1e-3, epoch, 40)
            );
        }
        assert_eq!(e.changes.len(), 2);
        assert_eq!(e.changes[1].field, "train.epochs");
        assert_eq!(
            (e.changes[1].from.as_u64(), e.changes[1].to.as_u64()),
            (Some(40), Some(80))
        );
        assert_eq!(c.extended(40).unwrap(), c);
        let err = c.extended(10).unwrap_err().to_string();
        assert!(err.contains("fewer than the run's 40"), "{err}");
        // It round-trips through config.json.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        crate::fsutil::write_json_atomic(&p, &e).unwrap();
        assert_eq!(RunConfig::from_json_file(&p).unwrap(), e);
    }

    #[test]
    fn resolve_fills_units_and_json_round_trips() {
        let mut c = RunConfig::default();
        c.data.dataset = DatasetKind::Mnist;
        let c = c.resolve().unwrap();
        assert_eq!(c.model.units, 784);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        crate::fsutil::write_json_atomic(&p, &c).unwrap();
        assert_eq!(RunConfig::from_json_file(&p).unwrap(), c);
    }
}

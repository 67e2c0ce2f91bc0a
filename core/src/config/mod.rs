//! The run configuration: one serde struct per concern, each with the paper's defaults.
//!
//! A run writes its resolved config (`config.json`) before it starts; every later
//! step (export, dump, analysis) reads that file back instead of re-deriving it.

use crate::data::DatasetKind;
use crate::sequence::SequenceConfig;
use crate::{Error, Result, TOOLKIT_VERSION};
use std::path::{Path, PathBuf};

mod model;
mod schedule;
pub mod vocabulary;
mod weights_precision;
pub use model::EnergyScope;
pub use schedule::Schedule;
pub use weights_precision::{FinalWeights, Precision};

/// The version of this config schema; files from a newer version are refused.
pub const CONFIG_VERSION: u32 = 1;

/// The training objectives of SPEC.md section 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// The paper's RNN: `a_t = h_{t-1} W + x_t`, `h_t = relu(a_t)`, only W trained.
    #[default]
    Rnn,
    /// The paper's RNN plus `--latent` recurrent units that get no direct input.
    RnnLatent,
    /// A sensory population (the frame, identity weights) under `--layers` recurrent layers of
    /// `--units` units with bottom-up, lateral and top-down weights (Nortmann et al. 2025).
    Hierarchical,
    /// One unit per pixel, excitatory or inhibitory (`--inhibitory`): outgoing weights keep
    /// their sign (Dale's law).
    Dale,
    /// Error units `e = x + h W_pred` (one per pixel) feeding an LSTM of `--units` units.
    LstmErr,
    /// Error units `e = x + h W_pred` (one per pixel) feeding a GRU of `--units` units.
    GruErr,
}

impl Architecture {
    /// The name used in configs and model metadata.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Rnn => "rnn",
            Architecture::RnnLatent => "rnn-latent",
            Architecture::Hierarchical => "hierarchical",
            Architecture::Dale => "dale",
            Architecture::LstmErr => "lstm-err",
            Architecture::GruErr => "gru-err",
        }
    }
}

/// Where to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
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

/// The network. The optional fields apply to some architectures only (docs/NETWORKS.md);
/// one given for another architecture is an error, and resolving fills the defaults of those
/// that apply.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// The architecture.
    pub architecture: Architecture,
    /// `rnn`, `dale`: the number of units, which must be the input size (0 means that size);
    /// `hierarchical`, `lstm-err`, `gru-err`: units per recurrent layer (0: 64); `rnn-latent`:
    /// the input size (its extra units are `latent`).
    pub units: usize,
    /// `rnn-latent`: recurrent units that get no direct input (32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latent: Option<usize>,
    /// `hierarchical`: recurrent layers above the sensory population (2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<usize>,
    /// `dale`: fraction of inhibitory units (0.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inhibitory: Option<f64>,
    /// `rnn-latent`, `hierarchical`, `lstm-err`, `gru-err`: which units the loss covers (all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy: Option<EnergyScope>,
    /// `lstm-err`, `gru-err`: whether the gates have learned biases (true, as PyTorch's LSTM
    /// and GRU); false drops them (the bias ablation: the other architectures have none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<bool>,
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

fn is_zero(v: &f64) -> bool {
    *v == 0.0
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
    /// ... and by more than this fraction of the best (smoothed) loss so far (0: any drop
    /// beyond `min_delta` counts). Written only when set, so configs from before read the same.
    #[serde(skip_serializing_if = "is_zero")]
    pub min_rel_delta: f64,
    /// Patiences whose result this run also writes, without training again: when the smoothed
    /// validation loss has gone `p` epochs without improving (and early stopping may stop), the
    /// run as a `patience = p` run would have ended is written to `RUN/patience-<p>/seed-<N>`
    /// (weights, state, history, exports), and training goes on. Each must be below
    /// `patience` where that is set. A patience that never triggers is written at the end, as a
    /// run that used every epoch. Empty: none (the default; written only when set).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patience_snapshots: Vec<usize>,
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
    /// The arithmetic of the matrix products (fp32; checkpoints and models stay float32).
    /// Configs written before it existed read as fp32.
    pub precision: Precision,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            final_weights: FinalWeights::Best,
            precision: Precision::Fp32,
            loss: Loss::L1Pre,
            epochs: 200,
            patience: None,
            min_delta: 0.0,
            min_rel_delta: 0.0,
            patience_snapshots: Vec::new(),
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

    /// Reads a config file: JSON (`.json`, such as a run's or a study cell's `config.json`) or
    /// TOML (anything else).
    pub fn from_file(path: &Path) -> Result<Self> {
        if path.extension().is_some_and(|e| e == "json") {
            Self::from_json_file(path)
        } else {
            Self::from_toml_file(path)
        }
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

    /// The number of units of the paper's RNN (and of `dale`, `rnn-latent`'s input units),
    /// resolving 0 to the data set's input size. Other architectures: [`crate::arch::ArchSpec`].
    pub fn units(&self) -> usize {
        if self.model.units == 0 && !self.model.architecture.has_hidden_layers() {
            self.frame_shape().len()
        } else {
            self.model.units
        }
    }

    /// The shape of one input frame: the data set's images, or the canvas of a moving stream.
    pub fn frame_shape(&self) -> crate::data::ImageShape {
        self.sequence.frame_shape(self.data.dataset.shape())
    }

    /// Fills derived fields (units, versions, the architecture's defaults) and checks
    /// consistency.
    pub fn resolve(mut self) -> Result<Self> {
        // The canvas decides the unit count, so it is checked before the model is resolved.
        if let Some(m) = &self.sequence.motion {
            m.check(self.data.dataset.shape())?;
        }
        self.resolve_model()?;
        self.train.patience_snapshots.sort_unstable();
        self.train.patience_snapshots.dedup();
        self.toolkit_version = TOOLKIT_VERSION.to_string();
        self.config_version = CONFIG_VERSION;
        self.sequence.validate()?;
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
        if !(t.min_rel_delta.is_finite() && (0.0..1.0).contains(&t.min_rel_delta)) {
            return Err(Error::Config(format!(
                "min_rel_delta {} must be a fraction in [0, 1)",
                t.min_rel_delta
            )));
        }
        if let Some(&p) = t.patience_snapshots.iter().find(|&&p| p == 0) {
            return Err(Error::Config(format!(
                "patience snapshot {p} must be at least 1 epoch"
            )));
        }
        if let (Some(q), Some(&p)) = (
            t.patience,
            t.patience_snapshots
                .iter()
                .find(|&&p| Some(p) >= t.patience),
        ) {
            return Err(Error::Config(format!(
                "patience snapshot {p} is not below the run's patience {q} (the run stops before it could trigger)"
            )));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests;

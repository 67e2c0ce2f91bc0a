//! The run folder: the one owner of its layout and of the typed files in it.
//!
//! A *run* folder holds one *instance* folder per seed (`RUN/seed-<n>/`). The trainer writes
//! an instance folder; the exporter, the analyzer and the command line read it back through
//! [`InstanceDir`] and never spell a file name themselves.
//!
//! | file | content | written by |
//! |---|---|---|
//! | `config.json` | the resolved [`RunConfig`] | trainer, before the first epoch |
//! | `initial.safetensors` | the initial weights (the untrained network of the seed) | trainer, before the first epoch, once |
//! | `history.jsonl` | one [`EpochRecord`] per line | trainer, every epoch |
//! | `checkpoint.safetensors` | weights, optimiser state, best weights, loop state | trainer, every epoch |
//! | `weights.safetensors` | the final weights (the best validation epoch) | trainer, at the end |
//! | `last.safetensors` | the last epoch's weights | trainer, at the end |
//! | `train_state.json` | the [`TrainState`] | trainer, at the end |
//! | `model.onnx` | the step-contract export | exporter |
//! | `model.sequence.onnx` | the whole-sequence export | exporter |
//! | `model.v2.onnx` | the step-v2 export of the paper's `rnn` | exporter |
//! | `model.untrained.onnx` | the step-contract export of the initial weights | exporter |
//! | `model.untrained.v2.onnx` | the step-v2 export of the initial weights (`rnn`) | exporter |
//!
//! A run written before the initial weights were kept has no `initial.safetensors` and no
//! untrained model; [`untrained_model_for`] says so with `None`.

use crate::config::RunConfig;
use crate::{fsutil, Error, Result};
use std::fmt;
use std::path::{Path, PathBuf};

const CONFIG_FILE: &str = "config.json";
const HISTORY_FILE: &str = "history.jsonl";
const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
const WEIGHTS_FILE: &str = "weights.safetensors";
const LAST_WEIGHTS_FILE: &str = "last.safetensors";
const STATE_FILE: &str = "train_state.json";
const STEP_MODEL_FILE: &str = "model.onnx";
const SEQUENCE_MODEL_FILE: &str = "model.sequence.onnx";
const STEP_V2_MODEL_FILE: &str = "model.v2.onnx";
const INITIAL_WEIGHTS_FILE: &str = "initial.safetensors";
const UNTRAINED_MODEL_FILE: &str = "model.untrained.onnx";
const UNTRAINED_V2_MODEL_FILE: &str = "model.untrained.v2.onnx";
const INSTANCE_PREFIX: &str = "seed-";
const PATIENCE_PREFIX: &str = "patience-";
const LOCK_FILE: &str = ".epc-lock";

/// How long [`RunDir::lock`] waits for a holder to let go before it reports the folder busy.
pub const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// An exclusive lock on a run folder (`RUN/.epc-lock`, `flock`), held while a process trains
/// into it. The operating system releases it when the process ends, however it ends, so a
/// killed run never leaves a stale lock behind.
#[derive(Debug)]
pub struct RunLock {
    _file: std::fs::File,
}

/// A run folder: one [`InstanceDir`] per seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// The run folder at `path` (nothing is checked or created).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the run folder's lock (creating the folder), or fails with a line that says
    /// another process is training into it. A holder that lets go within [`LOCK_PATIENCE`]
    /// (a [`RunDir::is_busy`] probe from `epc sweep status`) is waited for, so that asking
    /// where a study stands never makes a starting task fail.
    pub fn lock(&self) -> Result<RunLock> {
        std::fs::create_dir_all(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let path = self.path.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let start = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => {
                    // The holder's pid, for a user who wonders which process it is.
                    let _ = file.set_len(0);
                    let _ = std::io::Write::write_all(
                        &mut &file,
                        std::process::id().to_string().as_bytes(),
                    );
                    return Ok(RunLock { _file: file });
                }
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < LOCK_PATIENCE => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    let holder = holder.trim();
                    return Err(Error::io(
                        &self.path,
                        std::io::Error::new(
                            std::io::ErrorKind::ResourceBusy,
                            format!(
                                "another process{} is training into this run folder; wait for it or stop it",
                                if holder.is_empty() { String::new() } else { format!(" (pid {holder})") }
                            ),
                        ),
                    ));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
        }
    }

    /// Whether a process holds the run folder's lock (is training into it). The probe takes a
    /// shared lock for an instant and writes nothing; [`RunDir::lock`] waits such probes out.
    pub fn is_busy(&self) -> Result<bool> {
        let path = self.path.join(LOCK_FILE);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io(&path, e)),
        };
        match file.try_lock_shared() {
            Ok(()) => Ok(false),
            Err(std::fs::TryLockError::WouldBlock) => Ok(true),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }

    /// The instance folder of `seed`: `RUN/seed-<seed>`.
    pub fn instance(&self, seed: u64) -> InstanceDir {
        InstanceDir::new(self.path.join(format!("{INSTANCE_PREFIX}{seed}")))
    }

    /// The patience snapshots of this run (`patience-*` folders holding instances), sorted by
    /// patience.
    pub fn patience_snapshots(&self) -> Result<Vec<(usize, RunDir)>> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.path).map_err(|e| Error::io(&self.path, e))? {
            let path = entry.map_err(|e| Error::io(&self.path, e))?.path();
            let p = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix(PATIENCE_PREFIX))
                .and_then(|n| n.parse::<usize>().ok());
            if let Some(p) = p.filter(|_| path.is_dir()) {
                found.push((p, RunDir::new(path)));
            }
        }
        found.sort_by_key(|(p, _)| *p);
        Ok(found)
    }

    /// The existing instance folders (`seed-*`), sorted by name.
    pub fn instances(&self) -> Result<Vec<InstanceDir>> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&self.path)
            .map_err(|e| Error::io(&self.path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_dir()
                    && p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(INSTANCE_PREFIX))
            })
            .collect();
        dirs.sort();
        Ok(dirs.into_iter().map(InstanceDir::new).collect())
    }

    /// The instances a path names: the path itself when it is an instance folder (it holds
    /// `config.json`), else every `seed-*` folder inside it. An error when there is neither.
    pub fn resolve_instances(path: &Path) -> Result<Vec<InstanceDir>> {
        let single = InstanceDir::new(path);
        if single.config().is_file() {
            return Ok(vec![single]);
        }
        let dirs = RunDir::new(path).instances()?;
        if dirs.is_empty() {
            return Err(Error::format(
                path,
                "neither an instance folder (config.json) nor a run folder with seed-* instances",
            ));
        }
        Ok(dirs)
    }

    /// The step models of a run folder (`seed-*/model.onnx`), or the folder's own
    /// `model.onnx`; an error naming the folder when it holds neither.
    pub fn step_models(path: &Path) -> Result<Vec<PathBuf>> {
        let mut found: Vec<PathBuf> = RunDir::new(path)
            .instances()?
            .into_iter()
            .map(|i| i.step_model())
            .filter(|m| m.is_file())
            .collect();
        let own = InstanceDir::new(path).step_model();
        if found.is_empty() && own.is_file() {
            found.push(own);
        }
        if found.is_empty() {
            return Err(Error::format(
                path,
                format!(
                    "a folder without {STEP_MODEL_FILE} or {INSTANCE_PREFIX}*/{STEP_MODEL_FILE}"
                ),
            ));
        }
        Ok(found)
    }
}

/// The untrained sibling of a trained step model: for `DIR/model.onnx` the file
/// `DIR/model.untrained.onnx`, for `DIR/model.v2.onnx` the file `DIR/model.untrained.v2.onnx`
/// ([`InstanceDir::untrained_model`], [`InstanceDir::untrained_step_v2_model`]), when that file
/// exists. `None` for any other file name (an untrained model has no untrained sibling) and
/// for an instance folder without the untrained export (a run written before the initial
/// weights were kept, or exported with `--no-export`). Touches nothing but the file system's
/// metadata.
pub fn untrained_model_for(model: &Path) -> Option<PathBuf> {
    let dir = InstanceDir::new(model.parent()?);
    let sibling = match model.file_name()?.to_str()? {
        STEP_MODEL_FILE => dir.untrained_model(),
        STEP_V2_MODEL_FILE => dir.untrained_step_v2_model(),
        _ => return None,
    };
    sibling.is_file().then_some(sibling)
}

/// One instance (one seed) of a run: the files the trainer and the exporter write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceDir {
    path: PathBuf,
}

impl InstanceDir {
    /// The instance folder at `path` (nothing is checked or created).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where a run's patience snapshot `p` of this instance goes (`train.patience_snapshots`):
    /// `RUN/patience-<p>/seed-<N>` for the instance `RUN/seed-<N>`, so that `RUN/patience-<p>`
    /// is itself a run folder (`epc analyze --model RUN/patience-5`) and `RUN`'s own
    /// instances stay the `seed-*` folders.
    pub fn patience_snapshot(&self, p: usize) -> InstanceDir {
        let run = self.path.parent().unwrap_or(Path::new("."));
        let name = self.path.file_name().unwrap_or_default();
        InstanceDir::new(run.join(format!("{PATIENCE_PREFIX}{p}")).join(name))
    }

    /// `config.json`: the resolved run config.
    pub fn config(&self) -> PathBuf {
        self.path.join(CONFIG_FILE)
    }

    /// `history.jsonl`: one [`EpochRecord`] per line.
    pub fn history(&self) -> PathBuf {
        self.path.join(HISTORY_FILE)
    }

    /// `checkpoint.safetensors`: everything needed to resume.
    pub fn checkpoint(&self) -> PathBuf {
        self.path.join(CHECKPOINT_FILE)
    }

    /// `weights.safetensors`: the final weights (the best validation epoch).
    pub fn weights(&self) -> PathBuf {
        self.path.join(WEIGHTS_FILE)
    }

    /// `last.safetensors`: the weights after the last epoch.
    pub fn last_weights(&self) -> PathBuf {
        self.path.join(LAST_WEIGHTS_FILE)
    }

    /// `train_state.json`: the [`TrainState`].
    pub fn state(&self) -> PathBuf {
        self.path.join(STATE_FILE)
    }

    /// `model.onnx`: the step-contract export.
    pub fn step_model(&self) -> PathBuf {
        self.path.join(STEP_MODEL_FILE)
    }

    /// `model.v2.onnx`: the step-v2 export (`epc export --contract step-v2`).
    pub fn step_v2_model(&self) -> PathBuf {
        self.path.join(STEP_V2_MODEL_FILE)
    }

    /// `model.sequence.onnx`: the whole-sequence export.
    pub fn sequence_model(&self) -> PathBuf {
        self.path.join(SEQUENCE_MODEL_FILE)
    }

    /// `initial.safetensors`: the parameters the instance started from, before any optimiser
    /// step (the same seed and config give the same values). Written once when the instance
    /// starts and never overwritten, not by a resumed run either; absent in runs written
    /// before it existed.
    pub fn initial_weights(&self) -> PathBuf {
        self.path.join(INITIAL_WEIGHTS_FILE)
    }

    /// `model.untrained.onnx`: the initial weights exported like [`InstanceDir::step_model`]
    /// (the same contract and metadata, with `epc.untrained = true` and 0 epochs trained).
    pub fn untrained_model(&self) -> PathBuf {
        self.path.join(UNTRAINED_MODEL_FILE)
    }

    /// `model.untrained.v2.onnx`: the initial weights exported like
    /// [`InstanceDir::step_v2_model`].
    pub fn untrained_step_v2_model(&self) -> PathBuf {
        self.path.join(UNTRAINED_V2_MODEL_FILE)
    }

    /// True when a run config has been written here.
    pub fn has_config(&self) -> bool {
        self.config().is_file()
    }

    /// Reads the resolved config (newer config versions are refused).
    pub fn read_config(&self) -> Result<RunConfig> {
        RunConfig::from_json_file(&self.config())
    }

    /// Writes the resolved config atomically.
    pub fn write_config(&self, cfg: &RunConfig) -> Result<()> {
        fsutil::write_json_atomic(&self.config(), cfg)
    }

    /// The training summary, or `None` before the run has finished once.
    pub fn read_state(&self) -> Result<Option<TrainState>> {
        let p = self.state();
        if !p.exists() {
            return Ok(None);
        }
        fsutil::read_json(&p).map(Some)
    }

    /// Writes the training summary atomically.
    pub fn write_state(&self, state: &TrainState) -> Result<()> {
        fsutil::write_json_atomic(&self.state(), state)
    }

    /// Writes the whole history (one JSON line per epoch) atomically.
    pub fn write_history(&self, history: &[EpochRecord]) -> Result<()> {
        let mut text = String::new();
        for r in history {
            let line = serde_json::to_string(r)
                .map_err(|e| Error::format(self.history(), format!("cannot serialise: {e}")))?;
            text.push_str(&line);
            text.push('\n');
        }
        fsutil::write_atomic(&self.history(), text.as_bytes())
    }

    /// Reads the history; a line that is not an [`EpochRecord`] is an error naming the line.
    pub fn read_history(&self) -> Result<Vec<EpochRecord>> {
        let p = self.history();
        let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .map_err(|e| Error::format(&p, format!("line {}: {e}", i + 1)))
            })
            .collect()
    }
}

/// One epoch of the training history (a line of `history.jsonl`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Loss on the validation sequences after the epoch.
    pub val_loss: f64,
    /// Mean |W| after the epoch.
    pub mean_abs_w: f64,
    /// Mean W^2 after the epoch.
    pub mean_sq_w: f64,
    /// Wall-clock seconds the epoch took (shared by all instances trained together).
    pub seconds: f64,
    /// The learning rate of the epoch (absent in histories written before schedules existed).
    #[serde(default)]
    pub lr: Option<f64>,
    /// Training sequences the epoch used: as many as the shortest draw among the instances
    /// trained together in one group (`--batch-instances`; absent in older histories).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequences: Option<usize>,
    /// Training sequences this instance's sampler drew for the epoch (more than `sequences`
    /// when a member of its group drew fewer: a separate run would have used them all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drawn: Option<usize>,
}

/// Why an instance stopped before its last epoch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum StopReason {
    /// Early stopping: the validation loss did not improve for `patience` epochs.
    EarlyStop {
        /// Epochs without improvement when it stopped.
        epochs_without_improvement: usize,
    },
    /// A loss became NaN or infinite; the checkpoint of the epoch before is kept.
    NonFinite {
        /// The epoch (1-based) whose loss was not finite.
        epoch: usize,
        /// Its training loss.
        #[serde(with = "crate::fsutil::json_f64")]
        train_loss: f64,
        /// Its validation loss.
        #[serde(with = "crate::fsutil::json_f64")]
        val_loss: f64,
    },
}

impl StopReason {
    /// True for a failure (the command exits non-zero), false for a planned stop.
    pub fn is_failure(&self) -> bool {
        matches!(self, StopReason::NonFinite { .. })
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::EarlyStop {
                epochs_without_improvement,
            } => write!(
                f,
                "early stop: no validation improvement for {epochs_without_improvement} epochs"
            ),
            StopReason::NonFinite {
                epoch,
                train_loss,
                val_loss,
            } => write!(
                f,
                "non-finite loss at epoch {epoch} (train {train_loss}, validation {val_loss})"
            ),
        }
    }
}

/// The training summary of one instance (`train_state.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainState {
    /// Epochs completed.
    pub epochs_trained: usize,
    /// Epoch with the lowest validation loss (its weights are `weights.safetensors`).
    pub best_epoch: usize,
    /// The lowest validation loss (infinite when no epoch finished).
    #[serde(with = "crate::fsutil::json_f64")]
    pub best_val_loss: f64,
    /// Why it stopped before the last epoch, if it did.
    pub stopped: Option<StopReason>,
    /// The device it trained on.
    pub device: String,
}

#[cfg(test)]
mod tests;

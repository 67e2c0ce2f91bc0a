//! The config vocabulary: every setting a user can change, defined once.
//!
//! Each [`Setting`] names a dotted key into [`RunConfig`] (`optim.lr`), the short name that
//! `epc train` takes as a flag and a plan file as an axis (`lr`), what it means and how
//! the analysis groups models by it. The command line's flags, plan files (`[grid]`, `[set]`),
//! `epc analyze --group-by` and a study's groups all resolve through [`SETTINGS`]; adding a
//! setting is a field in the config struct plus one entry here.
//!
//! Values are applied to the config's serialised form and read back through serde, so the
//! config types stay the only place that knows a field's type and range.

use super::{RunConfig, Schedule};
use crate::motion::DEFAULT_MAX_SPEED;
use crate::{Error, Result};

/// What values a setting takes (for the command line's parsing and `--help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A number with a fraction (`1e-4`).
    Float,
    /// A whole number >= 0.
    Int,
    /// `true` or `false`; a flag given alone means `true`.
    Bool,
    /// One of these names.
    Choice(&'static [&'static str]),
    /// A file-system path.
    Path,
    /// Whole numbers >= 0, comma-separated on the command line (`5,10,20`), an array in a
    /// plan or config.
    IntList,
}

/// One setting of the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// Dotted key into the run config (`optim.lr`).
    pub key: &'static str,
    /// The short name: `epc train --NAME`, a plan's axis or shared setting (`lr`).
    pub name: &'static str,
    /// The values it takes.
    pub kind: Kind,
    /// The analysis's grouping key for it where it is not `config.<key>` (the settings that
    /// make the stream are grouped by the stream's name, `order`).
    pub group: Option<&'static str>,
    /// What it means, with its default (the first line of `--help`).
    pub help: &'static str,
}

impl Setting {
    /// The key `epc analyze --group-by` uses for it: its named group, else `config.<key>`.
    pub fn group_key(&self) -> String {
        match self.group {
            Some(g) => g.to_string(),
            None => format!("config.{}", self.key),
        }
    }

    /// Parses a command-line value into the config's value type; the error says what is
    /// wrong with it (range checks belong to the config).
    pub fn parse(&self, text: &str) -> std::result::Result<toml::Value, String> {
        self.kind.parse(text)
    }
}

impl Kind {
    /// Parses a command-line value of this kind into the config's value type.
    pub fn parse(self, text: &str) -> std::result::Result<toml::Value, String> {
        Ok(match self {
            Kind::Float => toml::Value::Float(
                text.trim()
                    .parse()
                    .map_err(|_| "not a number".to_string())?,
            ),
            Kind::Int => toml::Value::Integer(
                text.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|i| *i >= 0)
                    .ok_or("not a whole number >= 0")?,
            ),
            Kind::Bool => toml::Value::Boolean(match text.trim() {
                "true" => true,
                "false" => false,
                _ => return Err("not true or false".into()),
            }),
            Kind::Choice(names) => {
                if !names.contains(&text) {
                    return Err(format!("expected one of {}", names.join(", ")));
                }
                toml::Value::String(text.into())
            }
            Kind::Path => toml::Value::String(text.into()),
            Kind::IntList => toml::Value::Array(
                text.split(',')
                    .map(|t| Kind::Int.parse(t))
                    .collect::<std::result::Result<_, _>>()?,
            ),
        })
    }
}

const fn s(
    key: &'static str,
    name: &'static str,
    kind: Kind,
    group: Option<&'static str>,
    help: &'static str,
) -> Setting {
    Setting {
        key,
        name,
        kind,
        group,
        help,
    }
}

const DATASETS: &[&str] = &["digits", "mnist", "fashion-mnist", "cifar10"];
const ARCHITECTURES: &[&str] = &[
    "rnn",
    "rnn-latent",
    "hierarchical",
    "dale",
    "lstm-err",
    "gru-err",
];
const ORDERS: &[&str] = &["ascending", "random", "permutation", "markov", "successors"];
const STREAM: Option<&str> = Some("order");

/// Every setting, in the order `epc train --help` lists them.
pub const SETTINGS: &[Setting] = &[
    s("data.dataset", "dataset", Kind::Choice(DATASETS), Some("dataset"),
      "Data set [default: digits, embedded in the binary]"),
    s("data.data_dir", "data-dir", Kind::Path, None,
      "Folder with the data set's files (MNIST/Fashion-MNIST: the four IDX files, .gz or raw; CIFAR-10: data_batch_1..5.bin and test_batch.bin). Missing MNIST files are downloaded into ~/.cache/epc/datasets (see EPC_MIRRORS, EPC_CACHE_DIR)"),
    s("model.architecture", "arch", Kind::Choice(ARCHITECTURES), Some("architecture"),
      "Network (docs/NETWORKS.md) [default: rnn, the paper's]"),
    s("model.units", "units", Kind::Int, None,
      "Units per recurrent layer of hierarchical, lstm-err and gru-err [default: 64]; for rnn and dale it must be the frame size (one unit per pixel)"),
    s("model.latent", "latent", Kind::Int, None,
      "rnn-latent: recurrent units that get no direct input [default: 32]"),
    s("model.layers", "layers", Kind::Int, None,
      "hierarchical: recurrent layers above the sensory population [default: 2]"),
    s("model.inhibitory", "inhibitory", Kind::Float, None,
      "dale: fraction of inhibitory units [default: 0.2]"),
    s("model.bias", "bias", Kind::Bool, None,
      "lstm-err, gru-err: learned gate biases (true, as PyTorch's) or none (false: the bias ablation) [default: true]"),
    s("model.energy", "energy", Kind::Choice(&["all", "input"]), None,
      "Units the energy loss covers: all, or input (the pixel-mapped ones; rnn-latent's published variant) [default: all]"),
    s("train.loss", "loss", Kind::Choice(&["l1-pre", "l1-post", "l1-post-l2w"]), Some("loss"),
      "Objective: l1-pre (the paper's model), l1-post or l1-post-l2w (controls) [default: l1-pre]"),
    s("train.epochs", "epochs", Kind::Int, None,
      "Maximum number of epochs [default: 200]; 0 writes and exports the untrained network (the baseline of the published figures)"),
    s("train.patience", "patience", Kind::Int, None,
      "Stop an instance after this many epochs without validation improvement (the best weights are restored); without it every epoch runs"),
    s("train.min_delta", "min-delta", Kind::Float, None,
      "Smallest drop of the validation loss that counts as an improvement [default: 0]"),
    s("train.min_rel_delta", "min-rel-delta", Kind::Float, None,
      "Smallest drop of the validation loss, as a fraction of the best so far, that counts as an improvement (with --min-delta: both must be exceeded) [default: 0]"),
    s("train.patience_snapshots", "patience-snapshots", Kind::IntList, None,
      "Also write, without training again, what a run with each of these patiences (comma-separated, below --patience) would have ended with, to RUN/patience-P/seed-N (the patience study of docs/results/mnist-patience.md) [default: none]"),
    s("train.device", "device", Kind::Choice(&["auto", "cpu", "cuda", "mps"]), None,
      "auto picks CUDA, then MPS, then CPU [default: auto]"),
    s("optim.lr", "lr", Kind::Float, None, "Adam learning rate [default: 1e-4]"),
    s("optim.schedule.kind", "lr-schedule", Kind::Choice(&["constant", "cosine", "step"]), None,
      "Learning-rate schedule: constant (the paper), cosine (optional linear warm-up, then a cosine decay to --min-lr) or step (times --step-factor every --step-every epochs) [default: constant]"),
    s("optim.schedule.min_lr", "min-lr", Kind::Float, None,
      "Final learning rate of a cosine schedule [default: lr / 100]"),
    s("optim.schedule.warmup_epochs", "warmup-epochs", Kind::Int, None,
      "Warm-up epochs of a cosine schedule [default: 0]"),
    s("optim.schedule.decay_epochs", "decay-epochs", Kind::Int, None,
      "Epochs of a cosine schedule's decay [default: the epochs after the warm-up]"),
    s("optim.schedule.every", "step-every", Kind::Int, None,
      "Epochs between the decays of a step schedule [default: 10]"),
    s("optim.schedule.factor", "step-factor", Kind::Float, None,
      "Factor of each decay of a step schedule [default: 0.1]"),
    s("train.smoothing", "smoothing", Kind::Int, None,
      "Early stopping judges the mean of the last N validation losses [default: 1]"),
    s("train.min_epochs", "min-epochs", Kind::Int, None,
      "Early stopping never stops before this epoch [default: the end of a cosine schedule's decay; 0 otherwise]"),
    s("optim.beta1", "adam-beta1", Kind::Float, None, "Adam's first-moment decay [default: 0.9]"),
    s("optim.beta2", "adam-beta2", Kind::Float, None, "Adam's second-moment decay [default: 0.999]"),
    s("optim.eps", "adam-eps", Kind::Float, None, "Adam's epsilon [default: 1e-8]"),
    s("train.l2_coefficient", "l2-coefficient", Kind::Float, None,
      "Coefficient of the weight term of l1-post-l2w [default: 3708, the published value]"),
    s("data.split_seed", "split-seed", Kind::Int, None,
      "Seed of the validation split (shared by all instances) [default: 0]"),
    s("sequence.batch_size", "batch-size", Kind::Int, None, "Sequences per batch [default: 32]"),
    s("sequence.length", "seq-len", Kind::Int, None, "Frames per sequence [default: 10]"),
    s("sequence.order", "order", Kind::Choice(ORDERS), STREAM,
      "Class order: ascending (the paper), random (the control), permutation (a fixed random cycle, --order-seed) markov (--entropy bits of uncertainty per step: one likely successor, the rest uniform) or successors (--successors K equally likely next classes, log2 K bits) [default: ascending]"),
    s("sequence.order_seed", "order-seed", Kind::Int, None,
      "Seed of the class cycle of `--order permutation` [default: 0]"),
    s("sequence.entropy", "entropy", Kind::Float, None,
      "Conditional entropy in bits of `--order markov`: 0 (ascending) to 3.32 (random)"),
    s("sequence.successors", "successors", Kind::Int, STREAM,
      "Number of equally likely successors of `--order successors`: class c is followed by one of c+1, ..., c+K (log2 K bits; 1: ascending, 10: random)"),
    s("sequence.motion.canvas", "canvas", Kind::Int, STREAM,
      "The moving-digit stream: paste every frame onto a blank CANVAS x CANVAS canvas along a track that bounces off the edges (spatial predictability; docs/STREAMS.md). The network gets one unit per canvas pixel [default: off]"),
    s("sequence.motion.max_speed", "max-speed", Kind::Int, STREAM,
      "Largest speed per axis of --canvas, in pixels per frame; each sequence draws its velocity per axis from -MAX_SPEED..=MAX_SPEED [default: 2]"),
    s("sequence.motion.teleport", "teleport", Kind::Bool, STREAM,
      "The control of --canvas: every frame at a fresh random position, so that where the digit is cannot be predicted (`--teleport false` turns a config's teleport off, so that a sweep can take it as an axis)"),
    s("data.val_fraction", "val-fraction", Kind::Float, None,
      "Fraction of the training split held out for validation [default: 0.1]"),
    s("train.precision", "precision", Kind::Choice(&["fp32", "bf16"]), None,
      "Arithmetic of the matrix products: fp32, or bf16 (bfloat16 operands, float32 accumulation; weights, Adam's state and the loss stay float32; needs AVX512-BF16 on a CPU or a GPU with bf16) [default: fp32]"),
    s("train.final_weights", "final-weights", Kind::Choice(&["best", "last"]), None,
      "Which weights become the final model: best (the lowest validation loss) or last (the published code's choice) [default: best]"),
];

/// The setting called `name`: its short name (`lr`, `min-lr`), the same with underscores, or
/// its dotted key (`optim.lr`).
pub fn lookup(name: &str) -> Option<&'static Setting> {
    let dashed = name.replace('_', "-");
    SETTINGS.iter().find(|s| s.key == name || s.name == dashed)
}

/// The setting called `name`, or an error that lists the known names.
pub fn setting(name: &str) -> Result<&'static Setting> {
    lookup(name).ok_or_else(|| {
        let known: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        Error::Config(format!(
            "`{name}` is not a setting (known: {}; or their dotted keys such as optim.lr)",
            known.join(", ")
        ))
    })
}

/// Whether `s` is a schedule setting: those are applied to the typed schedule afterwards
/// (their defaults depend on the kind and on the final learning rate).
fn is_schedule(s: &Setting) -> bool {
    s.key.starts_with("optim.schedule.")
}

/// `base` with `values` set, resolved (defaults filled, consistency checked). Later values of
/// the same setting win. A value of the wrong type or out of range is an error naming the
/// setting.
pub fn apply(base: RunConfig, values: &[(&'static Setting, toml::Value)]) -> Result<RunConfig> {
    // The changes of a resumed run hold JSON nulls, which TOML cannot; they are kept aside.
    let mut base = base;
    let changes = std::mem::take(&mut base.changes);
    let mut tree = toml::Value::try_from(&base)
        .map_err(|e| Error::Config(format!("cannot serialise the config: {e}")))?;
    let motion_before = base.sequence.motion;
    for (setting, value) in values.iter().filter(|(s, _)| !is_schedule(s)) {
        let value = match (setting.kind, value) {
            // Plans write `lr = 1` as readily as `lr = 1.0`.
            (Kind::Float, toml::Value::Integer(i)) => toml::Value::Float(*i as f64),
            _ => value.clone(),
        };
        set_path(&mut tree, setting.key, value);
    }
    fill_motion(&mut tree, motion_before.is_some())?;
    let mut config: RunConfig = tree.try_into().map_err(|e: toml::de::Error| {
        Error::Config(format!(
            "invalid setting: {}",
            e.message().split_whitespace().collect::<Vec<_>>().join(" ")
        ))
    })?;
    let schedule: Vec<(&str, &toml::Value)> = values
        .iter()
        .filter(|(s, _)| is_schedule(s))
        .map(|(s, v)| (s.key.trim_start_matches("optim.schedule."), v))
        .collect();
    config.optim.schedule = apply_schedule(&config, &schedule)?;
    config.changes = changes;
    config.resolve()
}

/// Sets `key` (dotted) in a TOML tree, making the tables on the way.
fn set_path(tree: &mut toml::Value, key: &str, value: toml::Value) {
    let mut node = tree;
    let parts: Vec<&str> = key.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        let table = node
            .as_table_mut()
            .expect("the config serialises to tables");
        node = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()));
    }
    let table = node
        .as_table_mut()
        .expect("the config serialises to tables");
    table.insert(parts[parts.len() - 1].to_string(), value);
}

/// A stream made by `canvas` alone gets the default speed; `max-speed` or `teleport` without a
/// canvas is an error (they only mean something for the moving stream).
fn fill_motion(tree: &mut toml::Value, had_motion: bool) -> Result<()> {
    let Some(motion) = tree
        .get_mut("sequence")
        .and_then(|s| s.get_mut("motion"))
        .and_then(toml::Value::as_table_mut)
    else {
        return Ok(());
    };
    if !motion.contains_key("canvas") {
        return Err(Error::Config(
            "--max-speed and --teleport are settings of the moving stream; give --canvas as well"
                .into(),
        ));
    }
    if !had_motion {
        motion
            .entry("max_speed")
            .or_insert(toml::Value::Integer(DEFAULT_MAX_SPEED as i64));
    }
    Ok(())
}

/// The config's schedule with the schedule settings applied: a new kind starts from its
/// defaults (cosine: `lr / 100` at the end, no warm-up; step: times 0.1 every 10 epochs), and a
/// parameter that the kind does not take is an error.
fn apply_schedule(c: &RunConfig, given: &[(&str, &toml::Value)]) -> Result<Schedule> {
    let get = |k: &str| given.iter().rev().find(|(n, _)| *n == k).map(|(_, v)| *v);
    let float = |k: &str| -> Result<Option<f64>> {
        get(k)
            .map(|v| {
                v.as_float()
                    .or_else(|| v.as_integer().map(|i| i as f64))
                    .ok_or_else(|| Error::Config(format!("optim.schedule.{k}: not a number")))
            })
            .transpose()
    };
    let int = |k: &str| -> Result<Option<usize>> {
        get(k)
            .map(|v| {
                v.as_integer()
                    .and_then(|i| usize::try_from(i).ok())
                    .ok_or_else(|| {
                        Error::Config(format!("optim.schedule.{k}: not a whole number >= 0"))
                    })
            })
            .transpose()
    };
    let kind = match get("kind") {
        Some(v) => v.as_str().unwrap_or_default().to_string(),
        None => match c.optim.schedule {
            Schedule::Constant => "constant",
            Schedule::Cosine { .. } => "cosine",
            Schedule::Step { .. } => "step",
        }
        .to_string(),
    };
    let cos_given = ["min_lr", "warmup_epochs", "decay_epochs"]
        .iter()
        .any(|k| get(k).is_some());
    let step_given = ["every", "factor"].iter().any(|k| get(k).is_some());
    Ok(match kind.as_str() {
        "constant" => {
            if cos_given || step_given {
                return Err(Error::Config("--min-lr, --warmup-epochs, --decay-epochs, --step-every and --step-factor need --lr-schedule cosine or step".into()));
            }
            Schedule::Constant
        }
        "cosine" => {
            if step_given {
                return Err(Error::Config(
                    "--step-every and --step-factor apply to --lr-schedule step, not cosine".into(),
                ));
            }
            let (w0, m0, d0) = match c.optim.schedule {
                Schedule::Cosine {
                    warmup_epochs,
                    min_lr,
                    decay_epochs,
                } => (warmup_epochs, min_lr, decay_epochs),
                _ => (0, c.optim.lr / 100.0, None),
            };
            Schedule::Cosine {
                warmup_epochs: int("warmup_epochs")?.unwrap_or(w0),
                min_lr: float("min_lr")?.unwrap_or(m0),
                decay_epochs: int("decay_epochs")?.or(d0),
            }
        }
        "step" => {
            if cos_given {
                return Err(Error::Config("--min-lr, --warmup-epochs and --decay-epochs apply to --lr-schedule cosine, not step".into()));
            }
            let (e0, f0) = match c.optim.schedule {
                Schedule::Step { every, factor } => (every, factor),
                _ => (10, 0.1),
            };
            Schedule::Step {
                every: int("every")?.unwrap_or(e0),
                factor: float("factor")?.unwrap_or(f0),
            }
        }
        other => {
            return Err(Error::Config(format!(
                "--lr-schedule {other}: expected constant, cosine or step"
            )))
        }
    })
}

#[cfg(test)]
mod tests;

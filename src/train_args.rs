//! The options of `epc train`, parsed by `epc` (so that `epc train --help` and bad flags need
//! no libtorch) and by `epc-train`, which does the training.

use anyhow::{bail, Result};
use clap::{Args, Parser};
use epc_core::config::{
    Architecture, DeviceChoice, EnergyScope, FinalWeights, Loss, RunConfig, Schedule,
};
use epc_core::data::DatasetKind;
use epc_core::motion::{Motion, DEFAULT_MAX_SPEED};
use epc_core::sequence::ClassOrder;
use std::path::PathBuf;

/// `epc train` as a whole command line: what `epc-train` parses, and what `epc sweep` checks
/// each cell's flags against before anything runs.
#[derive(Parser, Debug)]
#[command(name = "epc train", version)]
pub struct TrainCommand {
    /// The options.
    #[command(flatten)]
    pub args: TrainArgs,
}

/// Options of `epc train`. Flags override the `--config` file, which overrides the defaults.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  epc train --epochs 300 --out runs/digits            # embedded 8x8 digits, seed 0\n  epc train --dataset mnist --data-dir DIR --instances 10 --out runs/mnist\n  epc train --arch lstm-err --units 32 --out runs/lstm # another network (docs/NETWORKS.md)\n  epc train --resume runs/mnist                        # continue a killed run\n\nShort --patience gives clearly worse networks: the loss plateaus for a long time\nbefore improving again (docs/SPEC.md, section 4). The paper trains MNIST for 200 epochs."
)]
pub struct TrainArgs {
    /// Data set [default: digits, embedded in the binary]
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetKind>,
    /// Folder with the data set's files (MNIST/Fashion-MNIST: the four IDX files, .gz or raw;
    /// CIFAR-10: data_batch_1..5.bin and test_batch.bin). Missing MNIST files are downloaded
    /// into ~/.cache/epc/datasets (see EPC_MIRRORS, EPC_CACHE_DIR).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Network (docs/NETWORKS.md): rnn (the paper's), rnn-latent, hierarchical, dale,
    /// lstm-err or gru-err [default: rnn]
    #[arg(long, value_enum)]
    pub arch: Option<Architecture>,
    /// Units per recurrent layer of hierarchical, lstm-err and gru-err [default: 64]; for rnn
    /// and dale it must be the frame size (one unit per pixel)
    #[arg(long)]
    pub units: Option<usize>,
    /// rnn-latent: recurrent units that get no direct input [default: 32]
    #[arg(long)]
    pub latent: Option<usize>,
    /// hierarchical: recurrent layers above the sensory population [default: 2]
    #[arg(long)]
    pub layers: Option<usize>,
    /// dale: fraction of inhibitory units [default: 0.2]
    #[arg(long)]
    pub inhibitory: Option<f64>,
    /// Units the energy loss covers: all, or input (the pixel-mapped ones; rnn-latent's
    /// published variant) [default: all]
    #[arg(long, value_enum)]
    pub energy: Option<EnergyScope>,
    /// Objective: l1-pre (the paper's model), l1-post or l1-post-l2w (controls) [default: l1-pre]
    #[arg(long, value_enum)]
    pub loss: Option<Loss>,
    /// Maximum number of epochs [default: 200]; 0 writes and exports the untrained network
    /// (the baseline of the published figures)
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Stop an instance after this many epochs without validation improvement
    /// (the best weights are restored); without it every epoch runs.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Smallest drop of the validation loss that counts as an improvement [default: 0]
    #[arg(long)]
    pub min_delta: Option<f64>,
    /// Comma-separated seeds, one instance each (e.g. 0,1,2) [default: 0]
    #[arg(long, value_delimiter = ',', conflicts_with = "instances")]
    pub seeds: Option<Vec<u64>>,
    /// Train K instances with seeds 0..K-1 (batched into one computation)
    #[arg(long)]
    pub instances: Option<u64>,
    /// auto picks CUDA, then MPS, then CPU [default: auto]
    #[arg(long, value_enum)]
    pub device: Option<DeviceChoice>,
    /// Adam learning rate [default: 1e-4]
    #[arg(long)]
    pub lr: Option<f64>,
    /// Learning-rate schedule: constant (the paper), cosine (optional linear warm-up, then a
    /// cosine decay to --min-lr) or step (times --step-factor every --step-every epochs)
    /// [default: constant]
    #[arg(long, value_enum)]
    pub lr_schedule: Option<ScheduleKind>,
    /// Final learning rate of a cosine schedule [default: lr / 100]
    #[arg(long)]
    pub min_lr: Option<f64>,
    /// Warm-up epochs of a cosine schedule [default: 0]
    #[arg(long)]
    pub warmup_epochs: Option<usize>,
    /// Epochs of a cosine schedule's decay [default: the epochs after the warm-up]
    #[arg(long)]
    pub decay_epochs: Option<usize>,
    /// Epochs between the decays of a step schedule [default: 10]
    #[arg(long)]
    pub step_every: Option<usize>,
    /// Factor of each decay of a step schedule [default: 0.1]
    #[arg(long)]
    pub step_factor: Option<f64>,
    /// Early stopping judges the mean of the last N validation losses [default: 1]
    #[arg(long)]
    pub smoothing: Option<usize>,
    /// Early stopping never stops before this epoch [default: the end of a cosine schedule's
    /// decay; 0 otherwise]
    #[arg(long)]
    pub min_epochs: Option<usize>,
    /// Adam's first-moment decay [default: 0.9]
    #[arg(long)]
    pub adam_beta1: Option<f64>,
    /// Adam's second-moment decay [default: 0.999]
    #[arg(long)]
    pub adam_beta2: Option<f64>,
    /// Adam's epsilon [default: 1e-8]
    #[arg(long)]
    pub adam_eps: Option<f64>,
    /// Coefficient of the weight term of l1-post-l2w [default: 3708, the published value]
    #[arg(long)]
    pub l2_coefficient: Option<f64>,
    /// Seed of the validation split (shared by all instances) [default: 0]
    #[arg(long)]
    pub split_seed: Option<u64>,
    /// Sequences per batch [default: 32]
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Frames per sequence [default: 10]
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Class order: ascending (the paper), random (the control), permutation (a fixed random
    /// cycle, --order-seed) or markov (--entropy bits of uncertainty per step) [default: ascending]
    #[arg(long, value_enum)]
    pub order: Option<ClassOrder>,
    /// Seed of the class cycle of `--order permutation` [default: 0]
    #[arg(long)]
    pub order_seed: Option<u64>,
    /// Conditional entropy in bits of `--order markov`: 0 (ascending) to 3.32 (random)
    #[arg(long)]
    pub entropy: Option<f64>,
    /// The moving-digit stream: paste every frame onto a blank CANVAS x CANVAS canvas along a
    /// track that bounces off the edges (spatial predictability; docs/STREAMS.md). The
    /// network gets one unit per canvas pixel [default: off]
    #[arg(long, value_name = "CANVAS")]
    pub canvas: Option<usize>,
    /// Largest speed per axis of --canvas, in pixels per frame; each sequence draws its
    /// velocity per axis from -SPEED..=SPEED [default: 2]
    #[arg(long, value_name = "SPEED")]
    pub max_speed: Option<usize>,
    /// The control of --canvas: every frame at a fresh random position, so that where the
    /// digit is cannot be predicted (`--teleport false` turns a config's teleport off, so that
    /// a sweep can take it as an axis)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub teleport: Option<bool>,
    /// Fraction of the training split held out for validation [default: 0.1]
    #[arg(long)]
    pub val_fraction: Option<f64>,
    /// Which weights become the final model: best (the lowest validation loss) or last (the
    /// published code's choice) [default: best]
    #[arg(long, value_enum)]
    pub final_weights: Option<FinalWeights>,
    /// TOML file with any of the config's sections (see configs/ in the repository)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run folder; each instance goes to RUN_DIR/seed-<n>/
    #[arg(long, required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// Continue a killed or interrupted run from its checkpoints; with --epochs larger than
    /// the run's, train it further (recorded in each config's `changes`). Every other setting
    /// comes from the run.
    #[arg(long, conflicts_with_all = ["out", "config", "arch", "units", "latent", "layers", "inhibitory", "energy", "dataset", "data_dir", "loss", "patience", "min_delta", "seeds", "instances", "device", "lr", "lr_schedule", "min_lr", "warmup_epochs", "decay_epochs", "step_every", "step_factor", "smoothing", "min_epochs", "adam_beta1", "adam_beta2", "adam_eps", "l2_coefficient", "split_seed", "batch_size", "seq_len", "order", "order_seed", "entropy", "canvas", "max_speed", "teleport", "val_fraction", "final_weights"])]
    pub resume: Option<PathBuf>,
    /// Do not write model.onnx for each instance at the end
    #[arg(long)]
    pub no_export: bool,
    /// Plain log lines instead of a progress bar
    #[arg(long)]
    pub plain: bool,
    /// libtorch CPU threads (0: 1 thread for networks of at most 256 units, else all cores)
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Instances stacked into one batched computation (0: all of them; 1: one after another,
    /// less memory at once); never changes the result
    #[arg(long, default_value_t = 0)]
    pub batch_instances: usize,
}

impl TrainArgs {
    /// The run's config: the defaults, then `--config`, then the flags.
    pub fn resolve(&self) -> Result<RunConfig> {
        let mut c = match &self.config {
            Some(p) => RunConfig::from_toml_file(p)?,
            None => RunConfig::default(),
        };
        macro_rules! set {
            ($field:expr, $flag:expr) => {
                if let Some(v) = $flag.clone() {
                    $field = v;
                }
            };
        }
        set!(c.data.dataset, self.dataset);
        if self.data_dir.is_some() {
            c.data.data_dir = self.data_dir.clone();
        }
        set!(c.model.architecture, self.arch);
        set!(c.model.units, self.units);
        for (given, field) in [
            (self.latent, &mut c.model.latent),
            (self.layers, &mut c.model.layers),
        ] {
            if given.is_some() {
                *field = given;
            }
        }
        if self.inhibitory.is_some() {
            c.model.inhibitory = self.inhibitory;
        }
        if self.energy.is_some() {
            c.model.energy = self.energy;
        }
        set!(c.train.loss, self.loss);
        set!(c.train.epochs, self.epochs);
        if self.patience.is_some() {
            c.train.patience = self.patience;
        }
        set!(c.train.min_delta, self.min_delta);
        set!(c.train.device, self.device);
        set!(c.optim.lr, self.lr);
        set!(c.optim.beta1, self.adam_beta1);
        set!(c.optim.beta2, self.adam_beta2);
        set!(c.optim.eps, self.adam_eps);
        set!(c.train.l2_coefficient, self.l2_coefficient);
        set!(c.data.split_seed, self.split_seed);
        set!(c.sequence.batch_size, self.batch_size);
        set!(c.sequence.length, self.seq_len);
        set!(c.sequence.order, self.order);
        set!(c.sequence.order_seed, self.order_seed);
        if self.entropy.is_some() {
            c.sequence.entropy = self.entropy;
        }
        let configured = c.sequence.motion;
        if let Some(canvas) = self.canvas {
            c.sequence.motion = Some(Motion {
                canvas,
                max_speed: configured.map_or(DEFAULT_MAX_SPEED, |m| m.max_speed),
                teleport: configured.is_some_and(|m| m.teleport),
            });
        }
        if self.max_speed.is_some() || self.teleport.is_some() {
            let Some(m) = c.sequence.motion.as_mut() else {
                bail!("--max-speed and --teleport are settings of the moving stream; give --canvas as well")
            };
            m.max_speed = self.max_speed.unwrap_or(m.max_speed);
            m.teleport = self.teleport.unwrap_or(m.teleport);
        }
        set!(c.data.val_fraction, self.val_fraction);
        set!(c.train.final_weights, self.final_weights);
        set!(c.train.smoothing, self.smoothing);
        if self.min_epochs.is_some() {
            c.train.min_epochs = self.min_epochs;
        }
        c.optim.schedule = self.schedule(&c)?;
        Ok(c.resolve()?)
    }

    /// The schedule of the config with the schedule flags applied; a parameter flag that the
    /// schedule does not take is an error.
    fn schedule(&self, c: &RunConfig) -> Result<Schedule> {
        let kind = self.lr_schedule.unwrap_or(match c.optim.schedule {
            Schedule::Constant => ScheduleKind::Constant,
            Schedule::Cosine { .. } => ScheduleKind::Cosine,
            Schedule::Step { .. } => ScheduleKind::Step,
        });
        let (cos_given, step_given) = (
            self.min_lr.is_some() || self.warmup_epochs.is_some() || self.decay_epochs.is_some(),
            self.step_every.is_some() || self.step_factor.is_some(),
        );
        Ok(match kind {
            ScheduleKind::Constant => {
                if cos_given || step_given {
                    bail!("--min-lr, --warmup-epochs, --decay-epochs, --step-every and --step-factor need --lr-schedule cosine or step");
                }
                Schedule::Constant
            }
            ScheduleKind::Cosine => {
                if step_given {
                    bail!("--step-every and --step-factor apply to --lr-schedule step, not cosine");
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
                    warmup_epochs: self.warmup_epochs.unwrap_or(w0),
                    min_lr: self.min_lr.unwrap_or(m0),
                    decay_epochs: self.decay_epochs.or(d0),
                }
            }
            ScheduleKind::Step => {
                if cos_given {
                    bail!("--min-lr, --warmup-epochs and --decay-epochs apply to --lr-schedule cosine, not step");
                }
                let (e0, f0) = match c.optim.schedule {
                    Schedule::Step { every, factor } => (every, factor),
                    _ => (10, 0.1),
                };
                Schedule::Step {
                    every: self.step_every.unwrap_or(e0),
                    factor: self.step_factor.unwrap_or(f0),
                }
            }
        })
    }

    /// The seeds to train: `--seeds`, else `0..--instances`, else the config's seed.
    pub fn seeds(&self, cfg: &RunConfig) -> Result<Vec<u64>> {
        Ok(match (&self.seeds, self.instances) {
            (Some(s), _) => s.clone(),
            (None, Some(0)) => bail!("--instances must be at least 1"),
            (None, Some(k)) => (0..k).collect(),
            (None, None) => vec![cfg.seed],
        })
    }
}

/// The kinds of learning-rate schedule (their parameters have flags of their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScheduleKind {
    /// The paper's constant rate.
    Constant,
    /// Warm-up, then cosine decay.
    Cosine,
    /// Decay by a factor every few epochs.
    Step,
}

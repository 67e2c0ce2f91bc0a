//! The options of `epc train`, parsed by `epc` (so that `epc train --help` and bad flags need
//! no libtorch) and by `epc-train`, which does the training.

use anyhow::{bail, Result};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Arg, ArgMatches, Args, FromArgMatches, Parser};
use epc_core::config::vocabulary::{self, Kind, Setting, SETTINGS};
use epc_core::config::RunConfig;
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
    /// The settings (one flag per entry of the config vocabulary,
    /// `epc_core::config::vocabulary`).
    #[command(flatten)]
    pub settings: SettingFlags,
    /// Comma-separated seeds, one instance each (e.g. 0,1,2) [default: 0]
    #[arg(long, value_delimiter = ',', conflicts_with = "instances")]
    pub seeds: Option<Vec<u64>>,
    /// Train K instances with seeds 0..K-1 (batched into one computation)
    #[arg(long)]
    pub instances: Option<u64>,
    /// Config file with any of the config's sections: TOML (see configs/ in the repository) or
    /// a run's or study cell's config.json
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run folder; each instance goes to RUN_DIR/seed-<n>/
    #[arg(long, required_unless_present = "resume")]
    pub out: Option<PathBuf>,
    /// Continue a killed or interrupted run from its checkpoints; with --epochs larger than
    /// the run's, train it further (recorded in each config's `changes`). Every other setting
    /// comes from the run.
    #[arg(long, conflicts_with_all = ["out", "config", "seeds", "instances"])]
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
        let base = match &self.config {
            Some(p) => RunConfig::from_file(p)?,
            None => RunConfig::default(),
        };
        Ok(vocabulary::apply(base, &self.settings.0)?)
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

/// The settings given as flags, each with its parsed value.
#[derive(Debug, Clone, Default)]
pub struct SettingFlags(pub Vec<(&'static Setting, toml::Value)>);

const EPOCHS: &str = "train.epochs";

impl SettingFlags {
    /// `--epochs`, where given (what extends a resumed run).
    pub fn epochs(&self) -> Option<usize> {
        self.0
            .iter()
            .find(|(s, _)| s.key == EPOCHS)
            .and_then(|(_, v)| v.as_integer())
            .map(|e| e as usize)
    }
}

impl FromArgMatches for SettingFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut given = Vec::new();
        for s in SETTINGS {
            if let Some(v) = matches.get_one::<toml::Value>(s.name) {
                given.push((s, v.clone()));
            }
        }
        Ok(Self(given))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for SettingFlags {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        SETTINGS.iter().fold(cmd, |cmd, s| cmd.arg(flag(s)))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// The flag of a setting: `--NAME VALUE`, parsed by the setting's kind. Every setting but the
/// epochs (which extend a resumed run) comes from the run when resuming.
fn flag(s: &'static Setting) -> Arg {
    // clap keeps &'static names; the upper-case value names are made once per process.
    let value_name: &'static str =
        Box::leak(s.name.to_uppercase().replace('-', "_").into_boxed_str());
    let arg = Arg::new(s.name)
        .long(s.name)
        .help(s.help)
        .value_name(value_name);
    let arg = if s.key == EPOCHS {
        arg
    } else {
        arg.conflicts_with("resume")
    };
    match s.kind {
        Kind::Choice(names) => arg
            .value_parser(PossibleValuesParser::new(names).map(|v: String| toml::Value::String(v))),
        Kind::Bool => arg
            .num_args(0..=1)
            .default_missing_value("true")
            .value_name("BOOL")
            .value_parser(move |t: &str| s.parse(t)),
        _ => arg.value_parser(move |t: &str| s.parse(t)),
    }
}

/// The value parser of a flag that takes one of a choice setting's values as its typed enum
/// (`epc analyze --dataset`): the names come from the vocabulary, the type from serde, so the
/// config types need no command-line derive.
pub fn choice_of<T>(name: &str) -> impl clap::builder::TypedValueParser<Value = T>
where
    T: serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
{
    let names = match vocabulary::lookup(name).map(|s| s.kind) {
        Some(Kind::Choice(names)) => names,
        _ => panic!("`{name}` is not a choice setting of the vocabulary"),
    };
    PossibleValuesParser::new(names).try_map(|v: String| {
        serde_json::from_value::<T>(serde_json::Value::String(v)).map_err(|e| e.to_string())
    })
}

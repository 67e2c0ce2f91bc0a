//! What an analysis is asked to do, and which units a lesioned run silences.

use crate::engine::EngineOptions;
use crate::intervals::CiMethod;
use crate::pipeline::NullOptions;
use crate::stats::BootstrapMethod;
use crate::{Error, Result};
use epc_core::data::DatasetKind;
use std::path::PathBuf;
use std::str::FromStr;

/// What [`crate::analyze`] does.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisOptions {
    /// The step-v1 ONNX models (several: instances of one run, summarised with CIs).
    pub models: Vec<PathBuf>,
    /// The data set the models were trained on (`None`: the first model's `epc.dataset`,
    /// else the digits).
    pub dataset: Option<DatasetKind>,
    /// Where the data set's files are (`None`: embedded digits or the download cache).
    pub data_dir: Option<PathBuf>,
    /// The report folder (replaced atomically when everything succeeded).
    pub out: PathBuf,
    /// Engine settings.
    pub engine: EngineOptions,
    /// Seed of the sequences, the random lesion and the bootstrap.
    pub seed: u64,
    /// Bootstrap resamples of the across-model CIs (10,000).
    pub bootstrap: usize,
    /// How the intervals are read off the resamples (basic, as published).
    pub bootstrap_method: BootstrapMethod,
    /// How models are grouped for the comparisons.
    pub group_by: GroupBy,
    /// The digit of Fig 4B and 4C (0, as published).
    pub target: usize,
    /// Draw the figures (PNG and SVG).
    pub figures: bool,
    /// How the intervals across instances are computed (`t` by default).
    pub ci: CiMethod,
    /// How the lesion nulls are drawn.
    pub nulls: NullOptions,
    /// Which network baselines the unit rules also run on (the input baseline always runs).
    pub baselines: Baselines,
    /// A folder of index files that replace the drawn sets they are named after (test,
    /// ordered-start-S, shuffled-start-S, distractor-C; `crate::sequence_files`): how
    /// sequences drawn elsewhere, such as by the published code, are analysed.
    pub sequence_sets: Option<PathBuf>,
}

/// The network baselines of the unit rules (`--baselines`): each costs one pass of the unit
/// rules over the class sets per model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Baselines {
    /// Every weight initializer permuted (any ONNX model).
    pub shuffled: bool,
    /// The initial weights of the same seed (models whose run folder has them).
    pub untrained: bool,
}

impl Default for Baselines {
    fn default() -> Self {
        Self {
            shuffled: true,
            untrained: true,
        }
    }
}

impl FromStr for Baselines {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let mut b = Baselines {
            shuffled: false,
            untrained: false,
        };
        for k in s.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            match k {
                "shuffled" => b.shuffled = true,
                "untrained" => b.untrained = true,
                "input" | "none" => {}
                other => {
                    return Err(Error::Input(format!(
                        "unknown baseline {other:?} (choose from input, shuffled, untrained, none)"
                    )))
                }
            }
        }
        Ok(b)
    }
}

impl AnalysisOptions {
    /// Options with the defaults: seed 0, 10,000 resamples, figures on, default engine.
    pub fn new(models: Vec<PathBuf>, dataset: Option<DatasetKind>, out: PathBuf) -> Self {
        Self {
            models,
            dataset,
            data_dir: None,
            out,
            engine: EngineOptions::default(),
            seed: 0,
            bootstrap: 10_000,
            bootstrap_method: BootstrapMethod::Basic,
            group_by: GroupBy::Auto,
            target: 0,
            figures: true,
            ci: CiMethod::T,
            nulls: NullOptions::default(),
            baselines: Baselines::default(),
            sequence_sets: None,
        }
    }
}

/// Which units a run silences.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Lesion {
    /// Intact network.
    #[default]
    None,
    /// All prediction units zeroed before every step.
    Prediction,
    /// As many random non-prediction units zeroed (seeded).
    Random,
}

impl Lesion {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Lesion::None => "none",
            Lesion::Prediction => "prediction",
            Lesion::Random => "random",
        }
    }
}

impl std::fmt::Display for Lesion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Lesion {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" | "intact" => Ok(Lesion::None),
            "prediction" => Ok(Lesion::Prediction),
            "random" => Ok(Lesion::Random),
            other => Err(Error::Input(format!(
                "unknown lesion {other:?} (choose none, prediction or random)"
            ))),
        }
    }
}

/// How [`crate::analyze`] groups models for the comparisons (Fig 2A, Fig 4A, the group table).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum GroupBy {
    /// The keys among `loss`, `architecture`, `dataset` and `order` whose values differ across
    /// the models (none when they are all alike: one group).
    #[default]
    Auto,
    /// These keys: `loss`, `architecture`, `dataset`, `order`, `seed`, any metadata property
    /// (`epc.loss`, ...), or `config.<path>` into the model's `epc.config` JSON
    /// (`config.optim.lr`).
    Keys(Vec<String>),
}

/// The keys [`GroupBy::Auto`] considers.
pub const AUTO_GROUP_KEYS: [&str; 4] = ["loss", "architecture", "dataset", "order"];

impl FromStr for GroupBy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "auto" => Ok(GroupBy::Auto),
            "none" | "" => Ok(GroupBy::Keys(Vec::new())),
            // A setting's name or dotted key (`lr`, `optim.lr`) means its grouping key
            // (`config.optim.lr`), through the config vocabulary.
            list => Ok(GroupBy::Keys(
                list.split(',')
                    .map(|k| {
                        let k = k.trim();
                        epc_core::config::vocabulary::lookup(k)
                            .map_or_else(|| k.to_string(), |s| s.group_key())
                    })
                    .collect(),
            )),
        }
    }
}

/// The value of grouping key `key` in a model's metadata (`?` where it has none).
pub fn group_value(metadata: &std::collections::BTreeMap<String, String>, key: &str) -> String {
    let config = || {
        metadata
            .get(epc_core::contract::META_CONFIG)
            .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
    };
    let from_config = |path: &str| {
        let pointer = format!("/{}", path.replace('.', "/"));
        config().and_then(|c| {
            c.pointer(&pointer).map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        })
    };
    let value = match key {
        "loss" | "architecture" | "dataset" | "seed" => {
            metadata.get(&format!("epc.{key}")).cloned()
        }
        // The whole stream: markov entropies and permutation seeds are groups of their own.
        "order" => from_config("sequence.order")
            .and_then(|_| crate::sequences::Stream::of_metadata(metadata).ok())
            .map(|s| s.describe()),
        k if k.starts_with("config.") => from_config(&k["config.".len()..]),
        k => metadata.get(k).cloned(),
    };
    value.unwrap_or_else(|| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn group_values_come_from_metadata_and_the_config_json() {
        let mut m = BTreeMap::new();
        m.insert("epc.loss".to_string(), "l1-pre".to_string());
        m.insert(
            epc_core::contract::META_CONFIG.to_string(),
            r#"{"train":{"epochs":40},"optim":{"lr":0.001,"schedule":{"kind":"cosine"}},"sequence":{"order":"ascending"}}"#
                .to_string(),
        );
        assert_eq!(group_value(&m, "loss"), "l1-pre");
        assert_eq!(group_value(&m, "config.train.epochs"), "40");
        assert_eq!(group_value(&m, "config.optim.lr"), "0.001");
        assert_eq!(group_value(&m, "config.optim.schedule.kind"), "cosine");
        assert_eq!(group_value(&m, "order"), "ascending");
        assert_eq!(group_value(&m, "config.train.missing"), "?");
        assert_eq!(group_value(&m, "architecture"), "?");
        assert_eq!(
            "loss, config.train.epochs".parse::<GroupBy>().unwrap(),
            GroupBy::Keys(vec!["loss".into(), "config.train.epochs".into()])
        );
        assert_eq!(
            "lr, arch, canvas, optim.schedule.kind"
                .parse::<GroupBy>()
                .unwrap(),
            GroupBy::Keys(vec![
                "config.optim.lr".into(),
                "architecture".into(),
                "order".into(),
                "config.optim.schedule.kind".into()
            ])
        );
        assert_eq!("auto".parse::<GroupBy>().unwrap(), GroupBy::Auto);
        assert_eq!("none".parse::<GroupBy>().unwrap(), GroupBy::Keys(vec![]));
    }
}

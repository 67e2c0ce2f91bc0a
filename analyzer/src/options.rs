//! What an analysis is asked to do, and which units a lesioned run silences.

use crate::engine::EngineOptions;
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
    /// Draw the figures (PNG and SVG).
    pub figures: bool,
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
            figures: true,
        }
    }
}

/// Which units a run silences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
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

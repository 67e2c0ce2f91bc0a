//! The typed result of an analysis: everything `summary.json` holds (its schema is in the
//! crate's README).

use crate::analysis::{self, DriveCurves, ReferenceCurves};
use crate::sequences::SetInfo;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A model's identity in the summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelInfo {
    /// Short unique name used as the key everywhere else.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// Execution provider used.
    pub provider: String,
    /// Values per frame.
    pub n_in: usize,
    /// State entries.
    pub n_state: usize,
    /// Units.
    pub n_units: usize,
    /// Whether the file has the recurrent weights `W` (needed for `st`, `ec`, postsynaptic drive).
    pub has_w: bool,
    /// The model's metadata (`epc.*`).
    pub metadata: BTreeMap<String, String>,
}

/// Units flagged per class.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UnitSet {
    /// Units flagged for at least one class.
    pub count: usize,
    /// Those units, ascending.
    pub indices: Vec<usize>,
    /// Units flagged for each class 0..9.
    pub per_class: Vec<usize>,
}

impl UnitSet {
    /// The set of units flagged in `flags` (`[class][unit]`).
    pub fn from_flags(flags: &[Vec<bool>]) -> Self {
        let indices = analysis::any_class(flags);
        Self {
            count: indices.len(),
            indices,
            per_class: flags
                .iter()
                .map(|f| f.iter().filter(|&&b| b).count())
                .collect(),
        }
    }
}

/// A per-step mean with its bootstrap 95% CI across models.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CiCurve {
    /// Mean across models.
    pub mean: Vec<f64>,
    /// Lower bound.
    pub lo: Vec<f64>,
    /// Upper bound.
    pub hi: Vec<f64>,
}

/// Curves per measure, then per model.
pub type MeasureCurves = BTreeMap<String, BTreeMap<String, Vec<f64>>>;

/// The lesion study.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LesionSummary {
    /// Units silenced per model (= its prediction-unit count).
    pub size: BTreeMap<String, usize>,
    /// The random non-prediction units silenced per model.
    pub random_units: BTreeMap<String, Vec<usize>>,
    /// Energy per measure, per model, with the prediction units lesioned.
    pub prediction: MeasureCurves,
    /// Energy per measure, per model, with random units lesioned.
    pub random: MeasureCurves,
    /// With several models: condition (`intact`, `prediction`, `random`) → measure → CI curve.
    pub ci: Option<BTreeMap<String, BTreeMap<String, CiCurve>>>,
}

/// Drive curves of one model on the deterministic set.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DriveSummary {
    /// Intact network.
    pub intact: DriveCurves,
    /// Prediction units lesioned.
    pub prediction_lesion: Option<DriveCurves>,
    /// Random units lesioned.
    pub random_lesion: Option<DriveCurves>,
}

/// Postsynaptic drive h_i * sum_j W_ij after k = 0..9 preceding frames (deterministic set).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Postsynaptic {
    /// Mean over the prediction units (`None` when there are none).
    pub prediction: Option<Vec<f64>>,
    /// Mean over the error units of class 0 (`None` when there are none).
    pub error_class0: Option<Vec<f64>>,
}

/// Numbers of sequences analysed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SequenceCounts {
    /// Test sequences (random start class).
    pub test: usize,
    /// Distractor sequences.
    pub distractor: usize,
    /// Deterministic sequences 0..9.
    pub deterministic: usize,
}

/// Everything `summary.json` holds (its schema; see the README).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Toolkit version.
    pub toolkit_version: String,
    /// Data set name.
    pub dataset: String,
    /// Seed of sequences, random lesions and bootstrap.
    pub seed: u64,
    /// Steps per sequence.
    pub steps: usize,
    /// Sequences analysed.
    pub sequences: SequenceCounts,
    /// How each sequence set was drawn (role, sampler settings, seed, epochs, count).
    pub sequence_sets: Vec<SetInfo>,
    /// The models.
    pub models: Vec<ModelInfo>,
    /// Energy per measure (`pre`, `ap`, `st`, `ec`), per model, one value per step.
    pub energy: MeasureCurves,
    /// With several models: measure → mean and bootstrap 95% CI across models.
    pub energy_ci: Option<BTreeMap<String, CiCurve>>,
    /// Reference curves (`input`, `dataset_median`, `category_median`).
    pub reference: ReferenceCurves,
    /// Prediction units per model.
    pub prediction_units: BTreeMap<String, UnitSet>,
    /// Error units per model.
    pub error_units: BTreeMap<String, UnitSet>,
    /// Count per unit type, per model.
    pub unit_types: BTreeMap<String, BTreeMap<String, usize>>,
    /// Median input-pixel variance (test images) per unit type, per model.
    pub input_variance: BTreeMap<String, BTreeMap<String, Option<f64>>>,
    /// The lesion study.
    pub lesion: LesionSummary,
    /// Input, internal and total drive per step on the deterministic set, per model.
    pub drive: BTreeMap<String, DriveSummary>,
    /// Postsynaptic drive per model.
    pub postsynaptic: BTreeMap<String, Postsynaptic>,
    /// With several models: group (`prediction`, `error_class0`) → mean and bootstrap 95% CI
    /// across the models that have the group.
    pub postsynaptic_ci: Option<BTreeMap<String, CiCurve>>,
    /// Analyses skipped and why.
    pub notes: Vec<String>,
    /// Wall time of the analysis in seconds.
    pub elapsed_s: f64,
}

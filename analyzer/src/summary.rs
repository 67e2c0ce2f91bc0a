//! The typed result of an analysis: everything `summary.json` holds (its schema is in the
//! crate's README).

use crate::analysis::{self, DriveCurves, InputVariance, ReferenceCurves};
use crate::controls::{LesionControls, SpatialRule, UnitBaselines};
use crate::intervals::{CiMethod, Estimate};
use crate::sequences::SetInfo;
use crate::stats::BootstrapMethod;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A model's identity in the summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
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
    /// The class order the model was trained on, which its analysis sequences follow
    /// (`ascending`, `permutation (seed 3)`, `markov (1.50 bits)`, `random`).
    #[serde(default)]
    pub stream: String,
    /// Whether the file has the recurrent weights `W` (needed for `st`, `ec`, postsynaptic drive).
    pub has_w: bool,
    /// The model's metadata (`epc.*`).
    pub metadata: BTreeMap<String, String>,
}

/// Units flagged per class.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
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

/// A per-step mean with its 95% interval across models (none with fewer than two).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct CiCurve {
    /// Mean across models.
    pub mean: Vec<f64>,
    /// Lower bound (absent with fewer than two models).
    pub lo: Option<Vec<f64>>,
    /// Upper bound (absent with fewer than two models).
    pub hi: Option<Vec<f64>>,
    /// The models it is over.
    #[serde(default)]
    pub n: usize,
}

/// Curves per measure, then per model.
pub type MeasureCurves = BTreeMap<String, BTreeMap<String, Vec<f64>>>;

/// The lesion study.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct LesionSummary {
    /// Units silenced per model (= its prediction-unit count).
    pub size: BTreeMap<String, usize>,
    /// The random non-prediction units silenced per model.
    pub random_units: BTreeMap<String, Vec<usize>>,
    /// The prediction units of the class before the target (the class lesion), per model.
    pub class_units: BTreeMap<String, Vec<usize>>,
    /// Energy per measure, per model, with the prediction units lesioned.
    pub prediction: MeasureCurves,
    /// Energy per measure, per model, with random units lesioned.
    pub random: MeasureCurves,
    /// Energy per measure, per model, with the weights from error to prediction units cut
    /// (the published connection lesion; models with `W`).
    pub connection: MeasureCurves,
    /// With several models: condition (`intact`, `prediction`, `random`, `connection`) →
    /// measure → CI curve.
    pub ci: Option<BTreeMap<String, BTreeMap<String, CiCurve>>>,
}

/// Drive curves of one model on the class set starting at 0 (the sequences 0..9).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct DriveSummary {
    /// Intact network.
    pub intact: DriveCurves,
    /// Prediction units lesioned.
    pub prediction_lesion: Option<DriveCurves>,
    /// Random units lesioned.
    pub random_lesion: Option<DriveCurves>,
}

/// Fig 4C: postsynaptic drive h_i * sum_j W_ij of the state after the target preceded by
/// k = 0..8 frames.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Postsynaptic {
    /// Mean over the prediction units of the class before the target (`None`: there are none).
    pub prediction: Option<Vec<f64>>,
    /// Mean over the target's error units that are not among them (`None`: there are none).
    pub error: Option<Vec<f64>>,
    /// Number of those prediction units.
    pub prediction_units: usize,
    /// Number of those error units.
    pub error_units: usize,
}

/// Numbers of sequences analysed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct SequenceCounts {
    /// Test sequences (random start class).
    pub test: usize,
    /// Sequences of each ordered set (by start class; the set starting at c + 1 ends on c).
    pub class: Vec<usize>,
    /// Sequences of each shuffled set (by start class; the set starting at c + 2 shows c at
    /// index 8).
    pub shuffled: Vec<usize>,
    /// Sequences of each distractor set (by the class expected at the distractor).
    pub distractor: Vec<usize>,
}

/// A unit statistic of a group beside its baselines: fractions of units, mean across the
/// group's models with intervals; `excess_*` is the model's fraction minus the baseline's,
/// per model (the pixel-mapped units against the input baseline).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct BaselineEstimates {
    /// The models, over all their units.
    pub network: Estimate,
    /// The models over their pixel-mapped units.
    pub network_pixels: Option<Estimate>,
    /// The input baseline.
    pub input: Option<Estimate>,
    /// The shuffled-weights networks.
    pub shuffled: Option<Estimate>,
    /// The untrained networks.
    pub untrained: Option<Estimate>,
    /// `network_pixels - input`.
    pub excess_input: Option<Estimate>,
    /// `network - shuffled`.
    pub excess_shuffled: Option<Estimate>,
    /// `network - untrained`.
    pub excess_untrained: Option<Estimate>,
}

/// One dose of a group's dose-response curve.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct GroupDose {
    /// The dose as a fraction of the lesionable units.
    pub fraction: f64,
    /// Units silenced.
    pub units: Estimate,
    /// Effect of the top units by the prediction statistic.
    pub top: Estimate,
    /// Mean effect of the matched random draws (models that have them).
    pub random: Option<Estimate>,
    /// Per model, the top units' effect minus its random draws' mean (models that have them).
    pub difference: Option<Estimate>,
}

/// The models that share the values of the grouping keys, summarised across them. Every
/// value is the mean across the group's models with its interval over them (`summary.ci`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Group {
    /// `key=value` pairs joined by `, ` (`all` without grouping keys).
    pub name: String,
    /// The grouping keys and this group's values.
    pub keys: BTreeMap<String, String>,
    /// The models of the group.
    pub models: Vec<String>,
    /// Energy per measure: mean across the group's models and its interval.
    pub energy: BTreeMap<String, CiCurve>,
    /// Lesion curves: condition (`prediction`, `random`, `connection`) → measure → curve.
    pub lesion: BTreeMap<String, BTreeMap<String, CiCurve>>,
    /// The reference curves of the stream the group's models share (`None` when they were
    /// trained on different streams): what its savings are measured against.
    pub reference: Option<ReferenceCurves>,
    /// Share of the attainable saving at the last step:
    /// `(static prior - pre) / (static prior - bound)` (`None` where the stream leaves nothing
    /// to attain beyond the static prior, or the stream has no bound).
    pub share_of_attainable: Option<Estimate>,
    /// Energy saving at the last step relative to the static prior: `1 - pre / dataset
    /// median`.
    pub saving_vs_static: Estimate,
    /// Energy saving at the last step relative to the input: `1 - pre / input`.
    pub saving_vs_input: Estimate,
    /// Energy saving at the last step relative to the category-median reference's saving:
    /// `(input - pre) / (input - category_median)` (1: as good as knowing the class).
    pub saving_vs_category_median: Estimate,
    /// Fraction of the units that are prediction units.
    pub prediction_fraction: Estimate,
    /// Fraction of the units that are error units (the published test).
    pub error_fraction: Estimate,
    /// Fraction of the units that are error units by the stimulus-matched test.
    pub error_matched_fraction: Estimate,
    /// The unit fractions beside their baselines: `prediction`, `error`, `error_matched`.
    pub unit_baselines: BTreeMap<String, BaselineEstimates>,
    /// Lesion effect as published: mean over steps 2..10 of `pre` with the prediction units
    /// lesioned minus `pre` with as many random units lesioned (models with a lesion study).
    pub lesion_effect: Option<Estimate>,
    /// The prediction lesion's effect minus the mean of its activity-matched null.
    pub matched_lesion_effect: Option<Estimate>,
    /// The prediction lesion's z against its matched null.
    pub lesion_z: Option<Estimate>,
    /// The percentage of null draws below the prediction lesion.
    pub lesion_percentile: Option<Estimate>,
    /// The dose-response curve (the same grid of doses for every model).
    pub dose_response: Vec<GroupDose>,
    /// On a moving-digit stream, the spatial unit rule: held-out R^2 of the position readout
    /// from the units ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spatial_r2: Option<Estimate>,
    /// ... and from the frames' pixels (the input baseline) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spatial_input_r2: Option<Estimate>,
    /// ... and the position units' lesion effect beyond its activity-matched null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spatial_matched_effect: Option<Estimate>,
    /// The conditional entropy (bits) of the stream its models were trained on, where they
    /// share one (the predictability figure's x axis).
    #[serde(default)]
    pub entropy: Option<f64>,
}

/// A model's training history, read from its run folder.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct LearningCurve {
    /// The epochs (1-based).
    pub epoch: Vec<usize>,
    /// Mean training loss of each epoch.
    pub train_loss: Vec<f64>,
    /// Validation loss after each epoch.
    pub val_loss: Vec<f64>,
}

/// Energy curves by measure name (`pre`, `ap`, `st`, `ec`).
pub type Curves = BTreeMap<String, Vec<f64>>;

/// One population of a multi-population (step-v2) model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct PopulationSummary {
    /// Its name in `epc.populations`.
    pub name: String,
    /// Its layer (0 nearest the input).
    pub layer: usize,
    /// Its units `[start, end)`.
    pub units: [usize; 2],
    /// Whether its units have pixels as receptive fields.
    pub pixels: bool,
    /// Whether its units own state (a lesion can silence them).
    pub lesionable: bool,
    /// Energy curves over its units, intact, on the test set.
    pub energy: Curves,
    /// How many of its units are prediction units (any class).
    pub prediction_units: usize,
    /// How many of its units are error units (any class).
    pub error_units: usize,
    /// Its units by type (e1, e2, p1, p2, h1, h2, unspecified).
    pub unit_types: BTreeMap<String, usize>,
}

/// One layer of a multi-population (step-v2) model: its populations together.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct LayerSummary {
    /// The layer (0 nearest the input).
    pub layer: usize,
    /// Its units.
    pub units: usize,
    /// Energy curves over its units, intact, on the test set.
    pub energy: Curves,
    /// How many of its units are prediction units (any class).
    pub prediction_units: usize,
    /// How many of its units are error units (any class).
    pub error_units: usize,
}

/// A lesion within one layer: its lesionable prediction units, and as many random lesionable
/// non-prediction units of the same layer, silenced; energy over the headline units.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct LayerLesion {
    /// The layer.
    pub layer: usize,
    /// Lesionable units in the layer.
    pub lesionable_units: usize,
    /// The prediction units silenced.
    pub prediction_units: Vec<usize>,
    /// The random control's units.
    pub random_units: Vec<usize>,
    /// Headline energy with the prediction units silenced (empty when there are none).
    pub prediction: Curves,
    /// Headline energy with the random units silenced (empty when there are none).
    pub random: Curves,
}

/// The analyses of a multi-population model by population and by layer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct PopulationReport {
    /// The populations the headline energy (`energy` of the summary) averages over.
    pub energy_populations: Vec<String>,
    /// Energy curves over all units.
    pub all_units: Curves,
    /// Each population.
    pub populations: Vec<PopulationSummary>,
    /// Each layer (its populations together).
    pub layers: Vec<LayerSummary>,
    /// Lesions within each layer (models with more than one layer).
    pub layer_lesions: Vec<LayerLesion>,
}

/// Everything `summary.json` holds (its schema; see the README).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Summary {
    /// Toolkit version.
    pub toolkit_version: String,
    /// Data set name.
    pub dataset: String,
    /// Seed of sequences, random lesions and bootstrap.
    pub seed: u64,
    /// Steps per sequence.
    pub steps: usize,
    /// The digit of Fig 4B and 4C.
    pub target: usize,
    /// How the intervals across models are computed (`t`, `hierarchical`, `published`).
    pub ci: CiMethod,
    /// The published bootstrap's method (used with `ci = published`).
    pub bootstrap: BootstrapMethod,
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Sequences analysed.
    pub sequences: SequenceCounts,
    /// How each sequence set was drawn (role, sampler settings, seed, epochs, count).
    pub sequence_sets: Vec<SetInfo>,
    /// The models.
    pub models: Vec<ModelInfo>,
    /// The grouping keys (empty: one group of all models).
    pub group_by: Vec<String>,
    /// The groups, in order of first appearance.
    pub groups: Vec<Group>,
    /// Energy per measure (`pre`, `ap`, `st`, `ec`), per model, one value per step.
    pub energy: MeasureCurves,
    /// With several models: measure → mean and bootstrap 95% CI across models.
    pub energy_ci: Option<BTreeMap<String, CiCurve>>,
    /// Reference curves (`input`, `dataset_median`, `category_median`).
    pub reference: ReferenceCurves,
    /// Prediction units per model.
    pub prediction_units: BTreeMap<String, UnitSet>,
    /// Error units per model (the published test).
    pub error_units: BTreeMap<String, UnitSet>,
    /// Error units per model by the stimulus-matched test.
    pub error_units_matched: BTreeMap<String, UnitSet>,
    /// Per model, its unit counts beside the same rules' counts on its baselines.
    pub unit_baselines: BTreeMap<String, UnitBaselines>,
    /// Per model with lesionable units: the matched lesion null, the dose-response curve and
    /// the closed-loop connection lesion.
    pub lesion_controls: BTreeMap<String, LesionControls>,
    /// Per model analysed on a moving-digit stream: the spatial unit rule.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub spatial_rules: BTreeMap<String, SpatialRule>,
    /// Per model, the share of the attainable saving at each step (`None` at steps where
    /// nothing is attainable beyond the static prior).
    pub share_of_attainable: BTreeMap<String, Vec<Option<f64>>>,
    /// Count per unit type, per model.
    pub unit_types: BTreeMap<String, BTreeMap<String, usize>>,
    /// Fig 3B: median input variance of each group of units, per model.
    pub input_variance: BTreeMap<String, InputVariance>,
    /// With several models: `prediction` and `error` → mean of the per-model medians and CI.
    pub input_variance_ci: Option<BTreeMap<String, Estimate>>,
    /// The lesion study.
    pub lesion: LesionSummary,
    /// Input, internal and total drive per step on the sequences 0..9, per model.
    pub drive: BTreeMap<String, DriveSummary>,
    /// Fig 4B: mean over units of the internal drive after k = 0..9 frames leading up to the
    /// target, per model and condition (`intact`, `prediction`, `class`); the images are in
    /// `internal_drive.csv`.
    pub internal_drive: BTreeMap<String, BTreeMap<String, Vec<f64>>>,
    /// Postsynaptic drive per model.
    pub postsynaptic: BTreeMap<String, Postsynaptic>,
    /// With several models: group (`prediction`, `error`) → mean and bootstrap 95% CI
    /// across the models that have the group.
    pub postsynaptic_ci: Option<BTreeMap<String, CiCurve>>,
    /// Per model with more than one population (step-v2): the breakdown by population and
    /// layer. Absent for models of one population (every step-v1 model).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub populations: BTreeMap<String, PopulationReport>,
    /// Where the models were trained on different class orders: the reference curves of each
    /// stream (by its description, as in each model's `stream`); `reference` is the first's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub references: BTreeMap<String, ReferenceCurves>,
    /// Per model trained by epc (its folder has a `history.jsonl`): the loss per epoch.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub learning_curves: BTreeMap<String, LearningCurve>,
    /// The class before `target` on the first model's stream (Fig 4B and 4C's class lesion).
    #[serde(default)]
    pub target_previous: usize,
    /// Analyses skipped, and what was drawn on small test splits.
    pub notes: Vec<String>,
    /// Wall time of the analysis in seconds.
    pub elapsed_s: f64,
}

//! The controls every statistic of a model is reported with (docs/STATISTICS.md): the unit
//! rules' baselines (the input alone, a shuffled-weights network, the untrained network), the
//! matched null distribution of the prediction lesion and its dose-response curve. These are
//! the summary's types; the pipeline computes them.

/// How many units the rules flag among a set of units.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct UnitCounts {
    /// Units counted over.
    pub units: usize,
    /// Prediction units (the published rule, any class).
    pub prediction: usize,
    /// Error units by the published z-test (normal against distractor sequences: different
    /// images in the two groups).
    pub error: usize,
    /// Error units by the stimulus-matched test (the same images of class c at index 8,
    /// expected against unexpected).
    pub error_matched: usize,
}

impl UnitCounts {
    /// The counts of the flags `pred`, `err` and `err_matched` (`[class][unit]`) over `units`.
    pub fn of(
        pred: &[Vec<bool>],
        err: &[Vec<bool>],
        err_matched: &[Vec<bool>],
        units: &[usize],
    ) -> Self {
        let count = |flags: &[Vec<bool>]| {
            units
                .iter()
                .filter(|&&u| flags.iter().any(|f| f[u]))
                .count()
        };
        Self {
            units: units.len(),
            prediction: count(pred),
            error: count(err),
            error_matched: count(err_matched),
        }
    }

    /// A count as a fraction of [`UnitCounts::units`].
    pub fn fraction(&self, count: usize) -> f64 {
        count as f64 / self.units.max(1) as f64
    }
}

/// A model's unit counts beside the same rules' counts on its baselines, on the same
/// sequences.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct UnitBaselines {
    /// The network, over all its units.
    pub network: UnitCounts,
    /// The model over its pixel-mapped units (one unit per pixel), where it has them: what
    /// the input baseline is compared with.
    pub network_pixels: Option<UnitCounts>,
    /// The rules applied to the frames themselves (a network whose activity is its input),
    /// over the pixels.
    pub input: Option<UnitCounts>,
    /// The same network with every weight initializer permuted (seeded), over all units.
    pub shuffled: Option<UnitCounts>,
    /// The seed of that permutation (`epc_exporter::onnx::ModelFile::shuffled_bytes`).
    #[serde(default)]
    pub shuffled_seed: Option<u64>,
    /// The network at its initial weights (the same seed, before training), over all units,
    /// where its run folder has it.
    pub untrained: Option<UnitCounts>,
}

/// The prediction lesion against a null distribution of lesions of as many units, matched
/// in mean activity, drawn from the lesionable units that are not prediction units.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct LesionNull {
    /// Units silenced by every lesion (the lesionable prediction units).
    pub units: usize,
    /// Units the null draws are taken from.
    pub eligible: usize,
    /// Draws of the null.
    pub draws: usize,
    /// Test sequences every lesion runs on (the first of the test set).
    pub sequences: usize,
    /// The prediction lesion's effect: mean over steps 2..10 of the headline `pre` lesioned
    /// minus intact.
    pub prediction_effect: f64,
    /// Each null draw's effect, measured the same way.
    pub null_effects: Vec<f64>,
    /// Mean of the null effects.
    pub null_mean: f64,
    /// Sample standard deviation of the null effects.
    pub null_sd: f64,
    /// `prediction_effect - null_mean`: the effect beyond what silencing as many equally
    /// active units costs.
    pub matched_effect: f64,
    /// `(prediction_effect - null_mean) / null_sd` (`None` when the null has no spread, or
    /// when fewer than twice as many units are eligible as are lesioned: the draws then share
    /// most of their units).
    pub z: Option<f64>,
    /// Percentage of null draws whose effect is below the prediction lesion's.
    pub percentile: f64,
}

/// One dose of the dose-response curve: the top `units` lesionable units by the prediction
/// rule's statistic silenced, against as many activity-matched random units.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct DosePoint {
    /// The dose as a fraction of the lesionable units (the same grid for every model).
    pub fraction: f64,
    /// Units silenced.
    pub units: usize,
    /// Effect (mean over steps 2..10 of headline `pre`, lesioned minus intact) of the top
    /// units.
    pub top_effect: f64,
    /// Mean effect of the random matched draws (`None`: too few eligible units).
    pub random_effect: Option<f64>,
    /// Random draws at this dose.
    pub random_draws: usize,
}

/// The lesion controls of one model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct LesionControls {
    /// The matched null (`None`: no prediction unit, or too few eligible units; the notes
    /// say which).
    pub null: Option<LesionNull>,
    /// The dose-response curve on the fixed grid of fractions.
    pub dose: Vec<DosePoint>,
    /// The connection lesion in closed loop: the network run with the error-to-prediction
    /// weights cut (`pre` per step on the test set), beside the published open-loop one.
    pub closed_loop: Option<Vec<f64>>,
}

/// The spatial unit rule of a moving-digit stream (after Nortmann, Sulewski & Kietzmann,
/// Patterns 2025): a ridge readout of the digit's position (the centre of its image on the
/// canvas, per frame) from the lesionable units' activity at every step, fitted on the first
/// half of the test sequences and scored on the second; the units with the largest readout
/// weights lesioned against activity-matched random units.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct SpatialRule {
    /// Held-out R^2 of the readout from the units (mean over the two coordinates).
    pub r2: f64,
    /// The same readout from the frames' pixels: the input baseline (the position is in the
    /// input; the network's R^2 says what its units keep of it).
    pub input_r2: f64,
    /// Sequences the readouts were fitted on, and scored on.
    pub fit_sequences: usize,
    /// Held-out sequences.
    pub eval_sequences: usize,
    /// The ridge penalty on standardised features.
    pub lambda: f64,
    /// The lesioned share of the lesionable units (0.005, the published 0.5%).
    pub fraction: f64,
    /// The position units' lesion against its matched null (`None`: too few eligible units;
    /// the notes say so).
    pub null: Option<LesionNull>,
    /// The dose-response curve of the units ranked by readout weight.
    pub dose: Vec<DosePoint>,
}

/// The dose grid, as fractions of a model's lesionable units: the same for every model, so
/// that networks of different sizes are lesioned at the same dose.
pub const DOSE_FRACTIONS: [f64; 6] = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2];

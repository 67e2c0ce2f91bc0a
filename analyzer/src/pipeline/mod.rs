//! The analysis of one model: every measure, unit set, lesion and drive of docs/SPEC.md,
//! sections 5 and 6, on the shared sequence sets ([`Context`]), computed the way the published
//! code computes them.
//!
//! Order: the ordered sets give the prediction units; the shuffled and distractor sets the
//! error units (and, on the way, the internal drive and the states of Fig 4B and 4C); the test
//! set gives the energy curves and the connection lesion; then the prediction, random and class
//! lesions run.

mod context;
mod model;
mod nulls;
mod passes;
mod pixels;
mod populations;
mod references;
mod rules;
mod spatial;

pub(crate) use crate::lesion_units::lesion_seed;
pub(crate) use context::{weighted_mean, Context};
pub(crate) use model::analyze_model;
pub use nulls::NullOptions;
pub(crate) use passes::InputFrames;
pub(crate) use rules::{unit_rules, UnitRules};

use crate::analysis::{self, EnergyCurves, InputVariance, ReferenceCurves, UnitType};
use crate::controls::{LesionControls, SpatialRule, UnitBaselines};
use crate::engine::StepModel;
use crate::summary::{DriveSummary, ModelInfo, PopulationReport, Postsynaptic};
use crate::{Error, Result};
use epc_core::data::Images;

/// The seed of a model's shuffled-weights baseline (its random lesion's seed, salted).
pub(crate) fn shuffle_seed(seed: u64, model_sha256: &str) -> u64 {
    lesion_seed(seed, model_sha256) ^ 0x054f_f1ed
}

/// An error unless the model takes frames of its stream's size (`stream`, read from the
/// model's metadata by the caller): the images', or the canvas of a moving stream.
pub(crate) fn check_fit(
    model: &StepModel,
    images: &Images,
    stream: &crate::sequences::Stream,
) -> Result<()> {
    let frame = stream.frame_shape(images.shape);
    if model.n_in() != frame.len() {
        let what = match stream.motion {
            None => format!(
                "the data set's images have {} pixels ({:?})",
                frame.len(),
                images.shape
            ),
            Some(m) => format!(
                "its stream's frames ({0}x{0} canvas, {1} channel(s)) have {2} values",
                m.canvas,
                frame.channels,
                frame.len()
            ),
        };
        return Err(Error::Input(format!(
            "{}: the model takes {} values per frame but {what}",
            model.path().display(),
            model.n_in(),
        )));
    }
    Ok(())
}

/// The prediction units of `model` (any class) by the published rule on the ordered sets
/// `class` (one per start class, as [`crate::sequences::AnalysisSets`] draws them): what
/// `analyze` lesions, for callers that need only them.
pub(crate) fn prediction_units_of(
    model: &mut StepModel,
    images: &Images,
    class: &[crate::sequences::SeqSpec],
) -> Result<Vec<usize>> {
    let stream = crate::sequences::Stream::of_model(model)?;
    let (pred, _) = rules::prediction_rule(model, images, class, &stream.cycle())?;
    Ok(analysis::any_class(&pred))
}

/// Images of the first sequence 0..9 of the class set starting at 0, one per step (Fig 2C).
pub(crate) struct DriveImages {
    pub input: Vec<Vec<f32>>,
    pub internal: Vec<Vec<f32>>,
    pub total: Vec<Vec<f32>>,
    pub internal_prediction: Option<Vec<Vec<f32>>>,
    pub internal_random: Option<Vec<Vec<f32>>>,
}

/// Mean internal drive `h_k W` after k = 0..9 frames leading up to each digit:
/// `[digit][k][unit]` (Fig 4B and its supplementary grid).
pub(crate) type DriveGrid = Vec<Vec<Vec<f32>>>;

/// The internal-drive grids of one model.
pub(crate) struct InternalDrive {
    pub intact: DriveGrid,
    /// All prediction units lesioned.
    pub prediction: Option<DriveGrid>,
    /// The prediction units of one class lesioned (those of the class before the target, as
    /// the published `pred_class_mask` selects them).
    pub class: Option<DriveGrid>,
}

/// The lesion study of one model.
pub(crate) struct LesionResult {
    /// How many prediction units were silenced (those that own state).
    pub size: usize,
    /// The random non-prediction units silenced.
    pub random_units: Vec<usize>,
    pub prediction: EnergyCurves,
    pub random: EnergyCurves,
    /// The connection lesion (error-to-prediction weights cut), where the model has `W`.
    pub connection: Option<EnergyCurves>,
    /// The units of the class lesion.
    pub class_units: Vec<usize>,
}

/// Everything computed for one model, before it is assembled into the summary.
pub(crate) struct ModelResult {
    pub info: ModelInfo,
    pub energy: EnergyCurves,
    pub pred: Vec<Vec<bool>>,
    pub err: Vec<Vec<bool>>,
    /// Error units by the stimulus-matched test.
    pub err_matched: Vec<Vec<bool>>,
    /// The unit counts beside their baselines.
    pub baselines: UnitBaselines,
    /// The matched lesion null and the dose-response curve (models with lesionable units).
    pub controls: Option<LesionControls>,
    /// The spatial unit rule, on a moving-digit stream.
    pub spatial: Option<SpatialRule>,
    pub types: Vec<UnitType>,
    /// The types by pixel, where every pixel is one unit's receptive field (the unit map).
    pub pixel_types: Option<Vec<UnitType>>,
    pub input_variance: Option<InputVariance>,
    pub lesion: Option<LesionResult>,
    pub drive: Option<DriveSummary>,
    pub images: Option<DriveImages>,
    pub internal: Option<InternalDrive>,
    pub postsynaptic: Option<Postsynaptic>,
    /// The breakdown by population and layer (models with more than one population).
    pub populations: Option<PopulationReport>,
    /// The reference curves of the stream the model was analysed on.
    pub reference: ReferenceCurves,
    /// The stream the model was trained and analysed on.
    pub stream: crate::sequences::Stream,
    /// Per test sequence, the headline mean |preact| at the last step.
    pub last_pre: Vec<f64>,
    /// Per test sequence, the references at the last step (the model's stream's).
    pub last_refs: references::LastRefs,
}

/// What a model's analysis gets beyond the shared sets: the unit rules of its
/// shuffled-weights and untrained networks (where asked for and available) and how its lesion
/// nulls are drawn.
pub(crate) struct Derived {
    pub shuffled: Option<UnitRules>,
    pub untrained: Option<UnitRules>,
    pub nulls: NullOptions,
    /// How the closed-loop connection lesion's model (W with the cut weights) is run.
    pub engine: crate::engine::EngineOptions,
}

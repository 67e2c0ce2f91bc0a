//! The analysis of one model: every measure, unit set, lesion and drive of docs/SPEC.md,
//! sections 5 and 6, on the shared sequence sets ([`Context`]), computed the way the published
//! code computes them.
//!
//! Order: the ordered sets give the prediction units; the shuffled and distractor sets the
//! error units (and, on the way, the internal drive and the states of Fig 4B and 4C); the test
//! set gives the energy curves and the connection lesion; then the prediction, random and class
//! lesions run.

mod context;
mod nulls;
mod passes;
mod pixels;
mod populations;
mod references;
mod rules;

pub(crate) use context::{weighted_mean, Context};
pub use nulls::NullOptions;
pub(crate) use passes::InputFrames;
pub(crate) use rules::{unit_rules, UnitRules};

use crate::analysis::{self, EnergyCurves, InputVariance, ReferenceCurves, UnitType};
use crate::controls::{LesionControls, UnitBaselines};
use crate::engine::StepModel;
use crate::engine::Version;
use crate::summary::{DriveSummary, ModelInfo, PopulationReport, Postsynaptic};
use crate::{Error, Result};
use epc_core::contract;
use epc_core::data::Images;
use epc_core::NUM_CLASSES;
use passes::{LesionedClassPass, SequencePass};
use pixels::{postsynaptic, PixelView};

/// The seed of a model's random lesion: the analysis seed mixed with the model file's
/// SHA-256 (hex, [`StepModel::sha256`]), so that a model gets the same random units wherever it
/// stands in an analysis (alone, in a group, compared with other runs) and in
/// `epc dump --lesion random`.
pub(crate) fn lesion_seed(seed: u64, model_sha256: &str) -> u64 {
    let model_key = u64::from_str_radix(&model_sha256[..16], 16).expect("hex digest");
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ model_key
}

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

/// The prediction units of `model` (any class) by the published rule on the class sets of
/// `images` drawn with `seed`: what `analyze` lesions, for callers that need only them.
pub(crate) fn prediction_units_of(
    model: &mut StepModel,
    images: &Images,
    seed: u64,
) -> Result<Vec<usize>> {
    let stream = crate::sequences::Stream::of_model(model)?;
    let ordered = (0..NUM_CLASSES)
        .map(|start| crate::sequences::class_set(images, start, seed, &stream))
        .collect::<Result<Vec<_>>>()?;
    let rows = passes::last_step_rows(model, images, &ordered, &stream.cycle())?;
    Ok(analysis::any_class(&rules::prediction_flags(&rows).0))
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

/// Runs every analysis on one model.
pub(crate) fn analyze_model(
    name: String,
    model: &mut StepModel,
    seed: u64,
    ctx: &Context,
    derived: &Derived,
    notes: &mut Vec<String>,
) -> Result<ModelResult> {
    check_fit(model, ctx.images, &ctx.stream)?;
    let dim = ctx.shape.len();
    let n = model.n_units();
    let v1 = model.version() == Version::V1;
    let layout = model.layout().clone();
    // The analyses that take `preact - x` as the internal drive and read `W` unit to unit
    // (drive figures, Fig 4B/4C, connection lesion, postsynaptic drive) need the paper's shape;
    // step-v1 keeps its historical rules (square state; units = pixels for the drives).
    let square = if v1 {
        n == model.n_state()
    } else {
        model.paper_shaped()
    };
    let pixel_mapped = if v1 { n == dim } else { model.paper_shaped() };
    let w = model.recurrent_weights().cloned();
    if w.is_none()
        && !model
            .optional_outputs()
            .contains(&contract::OUTPUT_TRANSMISSION)
    {
        notes.push(format!(
            "{name}: no initializer W (nor a transmission output), so st and ec are omitted, and with them the connection lesion and the postsynaptic drive"
        ));
    }
    if !pixel_mapped {
        if v1 {
            notes.push(format!("{name}: {n} units but {dim} pixels, so the drive images, unit map and input variance are omitted"));
        } else {
            notes.push(format!("{name}: a {} model of {} population(s): the drive figures, the connection lesion and the postsynaptic drive (which assume the paper's one pixel-mapped population) are omitted", model.version().name(), layout.populations.len()));
        }
    }
    let info = ModelInfo {
        name: name.clone(),
        path: model.path().to_path_buf(),
        provider: model.provider().to_string(),
        n_in: model.n_in(),
        n_state: model.n_state(),
        n_units: n,
        stream: ctx.stream.describe(),
        has_w: w.is_some(),
        metadata: model.metadata().clone(),
    };

    // The unit rules: prediction units from the ordered sets; error units from the shuffled
    // sets against the distractor sets (published) and the unexpected sets (matched).
    let rows = passes::last_step_rows(model, ctx.images, &ctx.class, &ctx.cycle)?;
    let (pred, margin) = rules::prediction_flags(&rows);
    drop(rows);
    let class_pass = SequencePass::run(model, ctx, pixel_mapped)?;
    let (err, err_matched) = rules::error_tests(model, ctx, &class_pass.normal)?;
    let rules = UnitRules {
        pred,
        margin,
        err,
        err_matched,
    };
    let (pred, err) = (&rules.pred, &rules.err);
    let types = analysis::classify(pred, err);
    let pixel_view = PixelView::new(v1, &layout, dim, n, &types, pred, err);
    let input_variance = pixel_view.as_ref().map(|p| {
        analysis::input_variance(&p.types, &p.pred, &p.err, &ctx.class_var, |c| {
            ctx.cycle.previous(c)
        })
    });
    let pred_units = analysis::any_class(pred);
    let err_units = analysis::any_class(err);
    let all_units: Vec<usize> = (0..n).collect();
    let baselines = UnitBaselines {
        network: rules.counts(&all_units),
        network_pixels: pixel_view.as_ref().map(|p| rules.counts(&p.units)),
        input: pixel_view
            .as_ref()
            .map(|_| ctx.input_rules.counts(&(0..dim).collect::<Vec<_>>())),
        shuffled: derived.shuffled.as_ref().map(|r| r.counts(&all_units)),
        shuffled_seed: derived
            .shuffled
            .as_ref()
            .map(|_| shuffle_seed(seed, model.sha256())),
        untrained: derived.untrained.as_ref().map(|r| r.counts(&all_units)),
    };

    // Energy on the test set, intact and with the connection lesion.
    let removed = w
        .as_ref()
        .filter(|_| square)
        .map(|w| analysis::connection_lesion_removed(w.view(), &pred_units, &err_units));
    let headline: Vec<usize> = if v1 {
        (0..n).collect()
    } else {
        layout.energy_units()
    };
    let passes::TestEnergy {
        sums,
        connection,
        last_pre,
    } = passes::test_energy(model, ctx, w.as_ref(), removed.as_ref(), &headline)?;
    let energy = sums.finish_over(&headline);
    let activity = sums.unit_activity();
    let mut populations = (layout.populations.len() > 1)
        .then(|| populations::breakdown(&layout, &sums, &pred_units, &err_units, &types));
    drop(sums);

    let mut drive = class_pass.drive.map(|intact| DriveSummary {
        intact,
        prediction_lesion: None,
        random_lesion: None,
    });
    let mut images = class_pass.images;
    let mut internal = class_pass.grid.map(|intact| InternalDrive {
        intact,
        prediction: None,
        class: None,
    });
    let lesionable: Vec<usize> = match (v1, square) {
        (true, true) => (0..n).collect(),
        (true, false) => Vec::new(),
        (false, _) => layout.lesionable_units(),
    };
    let lesioned: Vec<usize> = pred_units
        .iter()
        .copied()
        .filter(|u| lesionable.binary_search(u).is_ok())
        .collect();
    let lesion = if !lesionable.is_empty() {
        let random = analysis::random_units_from(
            &lesionable,
            &pred_units,
            lesioned.len(),
            lesion_seed(seed, model.sha256()),
        );
        let class_units: Vec<usize> = lesionable
            .iter()
            .copied()
            .filter(|&i| rules.pred[ctx.cycle.previous(ctx.target)][i])
            .collect();
        let mp = layout.lesion_mask(&lesioned);
        let mr = layout.lesion_mask(&random);
        let wv = w.as_ref().map(|w| w.view());
        let prediction = passes::lesioned_energy(model, ctx, &mp, wv)?.finish_over(&headline);
        let random_energy = passes::lesioned_energy(model, ctx, &mr, wv)?.finish_over(&headline);
        if pixel_mapped {
            let lp = LesionedClassPass::run(model, ctx, &mp, true)?;
            let lr = LesionedClassPass::run(model, ctx, &mr, false)?;
            let lc = LesionedClassPass::run(model, ctx, &layout.lesion_mask(&class_units), true)?;
            if let Some(d) = drive.as_mut() {
                d.prediction_lesion = Some(lp.drive);
                d.random_lesion = Some(lr.drive);
            }
            if let Some(im) = images.as_mut() {
                im.internal_prediction = Some(lp.first_internal);
                im.internal_random = Some(lr.first_internal);
            }
            if let Some(g) = internal.as_mut() {
                g.prediction = lp.grid;
                g.class = lc.grid;
            }
        }
        if let Some(p) = populations.as_mut().filter(|_| layout.layers().len() > 1) {
            p.layer_lesions = populations::layer_lesions(
                model,
                ctx,
                &pred_units,
                lesion_seed(seed, model.sha256()),
            )?;
        }
        if lesioned.len() < pred_units.len() {
            notes.push(format!(
                "{name}: {} of its {} prediction units own no state and cannot be lesioned; the lesion silences the other {}",
                pred_units.len() - lesioned.len(),
                pred_units.len(),
                lesioned.len()
            ));
        }
        Some(LesionResult {
            size: lesioned.len(),
            random_units: random,
            prediction,
            random: random_energy,
            connection,
            class_units,
        })
    } else {
        notes.push(if v1 {
            format!(
                "{name}: {n} units but {} state entries, so the lesion study is omitted",
                model.n_state()
            )
        } else {
            format!("{name}: no population owns state, so the lesion study is omitted")
        });
        None
    };
    let controls = if lesionable.is_empty() {
        None
    } else {
        let found = nulls::lesion_nulls(
            model,
            ctx,
            &layout,
            &lesionable,
            &lesioned,
            &rules.margin,
            &activity,
            &headline,
            lesion_seed(seed, model.sha256()),
            derived.nulls,
        )?;
        notes.extend(found.notes.iter().map(|n| format!("{name}: {n}")));
        // The connection lesion in closed loop: the network itself runs with the cut weights.
        let closed_loop = match (&w, &removed) {
            (Some(w), Some(r)) => {
                let cut = w - r;
                let how = crate::engine::Derive::Initializer {
                    name: contract::INITIALIZER_W,
                    data: cut.as_slice().expect("standard layout"),
                };
                let mut m = StepModel::derive(model.path(), how, &derived.engine)?;
                let run = passes::test_energy(&mut m, ctx, Some(&cut), None, &headline)?;
                Some(run.sums.finish_over(&headline).pre)
            }
            _ => None,
        };
        Some(LesionControls {
            null: found.null,
            dose: found.dose,
            closed_loop,
        })
    };
    let postsynaptic = match (&w, square) {
        (Some(w), true) => Some(postsynaptic(
            w.view(),
            &class_pass.state_means,
            pred,
            err,
            ctx.target,
            ctx.cycle.previous(ctx.target),
        )),
        _ => None,
    };
    Ok(ModelResult {
        info,
        energy,
        pred: rules.pred,
        err: rules.err,
        err_matched: rules.err_matched,
        baselines,
        controls,
        pixel_types: pixel_view.map(|p| p.types),
        types,
        input_variance,
        lesion,
        drive,
        images,
        internal,
        postsynaptic,
        populations,
        reference: ctx.reference.clone(),
        last_pre,
        last_refs: ctx.last_refs.clone(),
        stream: ctx.stream.clone(),
    })
}

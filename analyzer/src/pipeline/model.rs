//! The analysis of one model as named stages: what the model is ([`describe`]), its unit
//! rules and their baselines ([`unit_stage`]), its energy on the test set ([`energy_stage`]),
//! its lesions ([`lesion_stage`]) and their controls ([`controls_stage`]).

use super::passes::{self, LesionedClassPass, SequencePass};
use super::pixels::{postsynaptic, PixelView};
use super::{
    nulls, populations, rules, shuffle_seed, spatial, Context, Derived, InternalDrive,
    LesionResult, ModelResult, UnitRules,
};
use crate::analysis::{self, EnergyCurves, InputVariance, UnitType};
use crate::controls::{LesionControls, UnitBaselines};
use crate::engine::{StepModel, Version};
use crate::lesion_units::{lesion_seed, LesionUnits};
use crate::summary::{DriveSummary, ModelInfo, PopulationReport};
use crate::Result;
use epc_core::contract;
use epc_core::layout::Layout;
use ndarray::Array2;

/// What the stages need to know of a model's shape.
struct Shape {
    /// Values per frame.
    dim: usize,
    /// Units in `preact`.
    n: usize,
    v1: bool,
    /// The analyses that take `preact - x` as the internal drive and read `W` unit to unit
    /// (drive figures, Fig 4B/4C, connection lesion, postsynaptic drive) need the paper's
    /// shape; step-v1 keeps its historical rules (square state; units = pixels for the drives).
    square: bool,
    pixel_mapped: bool,
    w: Option<Array2<f32>>,
    layout: Layout,
    /// The units of the headline energy curve.
    headline: Vec<usize>,
}

/// The model's shape and summary entry; notes what its shape leaves out.
fn describe(
    name: &str,
    model: &StepModel,
    ctx: &Context,
    notes: &mut Vec<String>,
) -> (Shape, ModelInfo) {
    let dim = ctx.shape.len();
    let n = model.n_units();
    let v1 = model.version() == Version::V1;
    let layout = model.layout().clone();
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
        name: name.to_string(),
        path: model.path().to_path_buf(),
        provider: model.provider().to_string(),
        n_in: model.n_in(),
        n_state: model.n_state(),
        n_units: n,
        stream: ctx.stream.describe(),
        has_w: w.is_some(),
        metadata: model.metadata().clone(),
    };
    let headline = if v1 {
        (0..n).collect()
    } else {
        layout.energy_units()
    };
    let shape = Shape {
        dim,
        n,
        v1,
        square,
        pixel_mapped,
        w,
        layout,
        headline,
    };
    (shape, info)
}

/// The unit rules and what follows from them.
struct Units {
    rules: UnitRules,
    /// The intact pass over the shuffled sets (error test, drives, Fig 4B/4C states).
    class_pass: SequencePass,
    types: Vec<UnitType>,
    pixel_view: Option<PixelView>,
    input_variance: Option<InputVariance>,
    pred_units: Vec<usize>,
    err_units: Vec<usize>,
    baselines: UnitBaselines,
}

/// Prediction units from the ordered sets; error units from the shuffled sets against the
/// distractor sets (published) and the unexpected sets (matched); the counts beside their
/// baselines.
fn unit_stage(
    model: &mut StepModel,
    ctx: &Context,
    s: &Shape,
    derived: &Derived,
    seed: u64,
) -> Result<Units> {
    let (pred, margin) = rules::prediction_rule(model, ctx.images, &ctx.sets.class, &ctx.cycle)?;
    let class_pass = SequencePass::run(model, ctx, s.pixel_mapped)?;
    let (err, err_matched) = rules::error_tests(model, ctx, &class_pass.normal)?;
    let rules = UnitRules {
        pred,
        margin,
        err,
        err_matched,
    };
    let types = analysis::classify(&rules.pred, &rules.err);
    let pixel_view = PixelView::new(s.v1, &s.layout, s.dim, s.n, &types, &rules.pred, &rules.err);
    let input_variance = pixel_view.as_ref().map(|p| {
        analysis::input_variance(&p.types, &p.pred, &p.err, &ctx.class_var, |c| {
            ctx.cycle.previous(c)
        })
    });
    let all_units: Vec<usize> = (0..s.n).collect();
    let baselines = UnitBaselines {
        network: rules.counts(&all_units),
        network_pixels: pixel_view.as_ref().map(|p| rules.counts(&p.units)),
        input: pixel_view
            .as_ref()
            .map(|_| ctx.input_rules.counts(&(0..s.dim).collect::<Vec<_>>())),
        shuffled: derived.shuffled.as_ref().map(|r| r.counts(&all_units)),
        shuffled_seed: derived
            .shuffled
            .as_ref()
            .map(|_| shuffle_seed(seed, model.sha256())),
        untrained: derived.untrained.as_ref().map(|r| r.counts(&all_units)),
    };
    Ok(Units {
        pred_units: analysis::any_class(&rules.pred),
        err_units: analysis::any_class(&rules.err),
        rules,
        class_pass,
        types,
        pixel_view,
        input_variance,
        baselines,
    })
}

/// The test set's energy, intact and with the (open-loop) connection lesion.
struct Energy {
    energy: EnergyCurves,
    /// Mean |preact| per unit (what the lesion nulls match).
    activity: Vec<f64>,
    populations: Option<PopulationReport>,
    /// The error-to-prediction weights the connection lesion cuts, where the model has `W`.
    removed: Option<Array2<f32>>,
    connection: Option<EnergyCurves>,
    last_pre: Vec<f64>,
}

fn energy_stage(model: &mut StepModel, ctx: &Context, s: &Shape, u: &Units) -> Result<Energy> {
    let removed =
        s.w.as_ref()
            .filter(|_| s.square)
            .map(|w| analysis::connection_lesion_removed(w.view(), &u.pred_units, &u.err_units));
    let passes::TestEnergy {
        sums,
        connection,
        last_pre,
    } = passes::test_energy(model, ctx, s.w.as_ref(), removed.as_ref(), &s.headline)?;
    let populations = (s.layout.populations.len() > 1)
        .then(|| populations::breakdown(&s.layout, &sums, &u.pred_units, &u.err_units, &u.types));
    Ok(Energy {
        energy: sums.finish_over(&s.headline),
        activity: sums.unit_activity(),
        populations,
        removed,
        connection,
        last_pre,
    })
}

/// The drive figures, filled in by the lesion stage.
struct Drives {
    drive: Option<DriveSummary>,
    images: Option<super::DriveImages>,
    internal: Option<InternalDrive>,
}

/// The prediction, random and class lesions (and the layers' lesions of a layered model).
#[allow(clippy::too_many_arguments)]
fn lesion_stage(
    name: &str,
    model: &mut StepModel,
    ctx: &Context,
    s: &Shape,
    u: &Units,
    lesions: &LesionUnits,
    e: &mut Energy,
    d: &mut Drives,
    seed: u64,
    notes: &mut Vec<String>,
) -> Result<Option<LesionResult>> {
    if lesions.lesionable.is_empty() {
        notes.push(if s.v1 {
            format!(
                "{name}: {} units but {} state entries, so the lesion study is omitted",
                s.n,
                model.n_state()
            )
        } else {
            format!("{name}: no population owns state, so the lesion study is omitted")
        });
        return Ok(None);
    }
    let class_units: Vec<usize> = lesions
        .lesionable
        .iter()
        .copied()
        .filter(|&i| u.rules.pred[ctx.cycle.previous(ctx.target)][i])
        .collect();
    let mp = s.layout.lesion_mask(&lesions.prediction);
    let mr = s.layout.lesion_mask(&lesions.random);
    let wv = s.w.as_ref().map(|w| w.view());
    let prediction = passes::lesioned_energy(model, ctx, &mp, wv)?.finish_over(&s.headline);
    let random = passes::lesioned_energy(model, ctx, &mr, wv)?.finish_over(&s.headline);
    if s.pixel_mapped {
        let lp = LesionedClassPass::run(model, ctx, &mp, true)?;
        let lr = LesionedClassPass::run(model, ctx, &mr, false)?;
        let lc = LesionedClassPass::run(model, ctx, &s.layout.lesion_mask(&class_units), true)?;
        if let Some(dr) = d.drive.as_mut() {
            dr.prediction_lesion = Some(lp.drive);
            dr.random_lesion = Some(lr.drive);
        }
        if let Some(im) = d.images.as_mut() {
            im.internal_prediction = Some(lp.first_internal);
            im.internal_random = Some(lr.first_internal);
        }
        if let Some(g) = d.internal.as_mut() {
            g.prediction = lp.grid;
            g.class = lc.grid;
        }
    }
    if let Some(p) = e
        .populations
        .as_mut()
        .filter(|_| s.layout.layers().len() > 1)
    {
        p.layer_lesions = populations::layer_lesions(
            model,
            ctx,
            &u.pred_units,
            lesion_seed(seed, model.sha256()),
        )?;
    }
    if lesions.prediction.len() < u.pred_units.len() {
        notes.push(format!(
            "{name}: {} of its {} prediction units own no state and cannot be lesioned; the lesion silences the other {}",
            u.pred_units.len() - lesions.prediction.len(),
            u.pred_units.len(),
            lesions.prediction.len()
        ));
    }
    Ok(Some(LesionResult {
        size: lesions.prediction.len(),
        random_units: lesions.random.clone(),
        prediction,
        random,
        connection: e.connection.take(),
        class_units,
    }))
}

/// The matched lesion null, the dose-response curve and the closed-loop connection lesion.
#[allow(clippy::too_many_arguments)]
fn controls_stage(
    name: &str,
    model: &mut StepModel,
    ctx: &Context,
    s: &Shape,
    u: &Units,
    lesions: &LesionUnits,
    e: &Energy,
    derived: &Derived,
    seed: u64,
    notes: &mut Vec<String>,
) -> Result<Option<LesionControls>> {
    if lesions.lesionable.is_empty() {
        return Ok(None);
    }
    let found = nulls::lesion_nulls(
        model,
        ctx,
        &s.layout,
        &lesions.lesionable,
        &lesions.prediction,
        &u.rules.margin,
        &e.activity,
        &s.headline,
        lesion_seed(seed, model.sha256()),
        derived.nulls,
        "prediction units",
    )?;
    notes.extend(found.notes.iter().map(|n| format!("{name}: {n}")));
    // The connection lesion in closed loop: the network itself runs with the cut weights.
    let closed_loop = match (&s.w, &e.removed) {
        (Some(w), Some(r)) => {
            let cut = w - r;
            let how = crate::engine::Derive::Initializer {
                name: contract::INITIALIZER_W,
                data: cut.as_slice().expect("standard layout"),
            };
            let mut m = StepModel::derive(model.path(), how, &derived.engine)?;
            let run = passes::test_energy(&mut m, ctx, Some(&cut), None, &s.headline)?;
            Some(run.sums.finish_over(&s.headline).pre)
        }
        _ => None,
    };
    Ok(Some(LesionControls {
        null: found.null,
        dose: found.dose,
        closed_loop,
    }))
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
    super::check_fit(model, ctx.images, &ctx.stream)?;
    let (shape, info) = describe(&name, model, ctx, notes);
    let mut units = unit_stage(model, ctx, &shape, derived, seed)?;
    let mut energy = energy_stage(model, ctx, &shape, &units)?;
    let mut drives = Drives {
        drive: units.class_pass.drive.take().map(|intact| DriveSummary {
            intact,
            prediction_lesion: None,
            random_lesion: None,
        }),
        images: units.class_pass.images.take(),
        internal: units.class_pass.grid.take().map(|intact| InternalDrive {
            intact,
            prediction: None,
            class: None,
        }),
    };
    let lesions = LesionUnits::choose(model, &units.pred_units, seed);
    let lesion = lesion_stage(
        &name,
        model,
        ctx,
        &shape,
        &units,
        &lesions,
        &mut energy,
        &mut drives,
        seed,
        notes,
    )?;
    let controls = controls_stage(
        &name, model, ctx, &shape, &units, &lesions, &energy, derived, seed, notes,
    )?;
    let spatial_inputs = spatial::SpatialInputs {
        layout: &shape.layout,
        headline: &shape.headline,
        lesionable: &lesions.lesionable,
        activity: &energy.activity,
        seed: lesion_seed(seed, model.sha256()),
        nulls: derived.nulls,
    };
    let spatial = spatial::spatial_rule(model, ctx, &spatial_inputs, notes)?;
    let postsynaptic = match (&shape.w, shape.square) {
        (Some(w), true) => Some(postsynaptic(
            w.view(),
            &units.class_pass.state_means,
            &units.rules.pred,
            &units.rules.err,
            ctx.target,
            ctx.cycle.previous(ctx.target),
        )),
        _ => None,
    };
    Ok(ModelResult {
        info,
        energy: energy.energy,
        pred: units.rules.pred,
        err: units.rules.err,
        err_matched: units.rules.err_matched,
        baselines: units.baselines,
        controls,
        spatial,
        pixel_types: units.pixel_view.map(|p| p.types),
        types: units.types,
        input_variance: units.input_variance,
        lesion,
        drive: drives.drive,
        images: drives.images,
        internal: drives.internal,
        postsynaptic,
        populations: energy.populations,
        reference: ctx.reference.clone(),
        last_pre: energy.last_pre,
        last_refs: ctx.last_refs.clone(),
        stream: ctx.stream.clone(),
    })
}

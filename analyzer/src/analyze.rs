//! The complete analysis of one or several models: computed first, then written atomically.
//!
//! Data: the official test split for every analysis; the official training split (all of it)
//! for the median images of the reference curves. Sequences: see [`crate::sequences`].

use crate::aggregate::{self, model_names};
use crate::engine::StepModel;
use crate::groups::Ci;
use crate::options::AnalysisOptions;
use crate::pipeline::{analyze_model, Context, Derived};
use crate::report;
use crate::sequences::Stream;
use crate::summary::Summary;
use crate::{Error, Result};
use epc_core::data::{DataSource, Dataset, DatasetKind};
use epc_core::fsutil::StagedDir;
use std::time::Instant;

/// Runs every analysis of SPEC sections 5-6 on `opts.models` and writes the report to
/// `opts.out` (see [`analyze_data`]); loads the data set first (`opts.dataset`, else the first
/// model's `epc.dataset`, else the digits).
pub fn analyze(opts: &AnalysisOptions) -> Result<Summary> {
    let models = load_models(opts)?;
    let out = StagedDir::prepare(&opts.out, report::MARKER).map_err(Error::output)?;
    let kind = dataset_kind(opts, &models);
    let data = epc_core::data::load(&DataSource::new(kind, opts.data_dir.clone()))?;
    analyze_into(opts, &data, models, out)
}

/// [`analyze`] on a data set already in memory (`opts.dataset` and `opts.data_dir` are not
/// used to load it).
///
/// Everything is computed first; the files are then written into a temporary folder beside
/// `opts.out`, which replaces `opts.out` in one rename. On any error nothing is left behind.
pub fn analyze_data(opts: &AnalysisOptions, data: &Dataset) -> Result<Summary> {
    let models = load_models(opts)?;
    let out = StagedDir::prepare(&opts.out, report::MARKER).map_err(Error::output)?;
    analyze_into(opts, data, models, out)
}

/// The data set to analyse on: the one asked for, else the first model's, else the digits.
fn dataset_kind(opts: &AnalysisOptions, models: &[StepModel]) -> DatasetKind {
    opts.dataset
        .or_else(|| epc_core::contract::dataset_of(models[0].metadata()))
        .unwrap_or(DatasetKind::Digits)
}

/// Loads and checks every model before any heavy work, so a bad file fails fast.
fn load_models(opts: &AnalysisOptions) -> Result<Vec<StepModel>> {
    if opts.models.is_empty() {
        return Err(Error::Input(
            "no model to analyse (give at least one --model)".into(),
        ));
    }
    opts.models
        .iter()
        .map(|p| StepModel::load(p, &opts.engine))
        .collect()
}

fn analyze_into(
    opts: &AnalysisOptions,
    data: &Dataset,
    mut models: Vec<StepModel>,
    out: StagedDir,
) -> Result<Summary> {
    let start = Instant::now();
    if opts.target >= epc_core::NUM_CLASSES {
        return Err(Error::Input(format!(
            "target digit {} is not a class 0..9",
            opts.target
        )));
    }
    // Each model is analysed on the class order it was trained on: one context per stream.
    let streams: Vec<Stream> = models.iter().map(Stream::of_model).collect::<Result<_>>()?;
    let mut contexts: Vec<Context> = Vec::new();
    for s in &streams {
        if !contexts.iter().any(|c| &c.stream == s) {
            contexts.push(Context::build(
                data,
                opts.seed,
                opts.target,
                s.clone(),
                opts.sequence_sets.as_deref(),
            )?);
        }
    }
    if contexts.is_empty() {
        contexts.push(Context::build(
            data,
            opts.seed,
            opts.target,
            Stream::default(),
            opts.sequence_sets.as_deref(),
        )?);
    }
    let ctx = &contexts[0];
    // The unit maps and per-unit tables of one report share one frame shape.
    if let Some(other) = contexts.iter().find(|c| c.shape != ctx.shape) {
        return Err(Error::Input(format!(
            "the models take frames of different shapes ({} on {:?}, {} on {:?}); analyse them separately",
            ctx.stream.describe(),
            ctx.shape,
            other.stream.describe(),
            other.shape
        )));
    }
    let names = model_names(&opts.models);
    let mut notes: Vec<String> = models.iter().flat_map(|m| m.notes().to_vec()).collect();
    notes.extend(set_notes(ctx));
    if contexts.len() > 1 {
        let all: Vec<String> = contexts.iter().map(|c| c.stream.describe()).collect();
        notes.push(format!(
            "the models were trained on {} class orders ({}): each is analysed on its own stream; the reference curves and sequence sets shown are those of the first ({}), the others are in summary.json's `references`",
            contexts.len(),
            all.join(", "),
            all[0]
        ));
    }
    let mut results = Vec::new();
    for ((model, name), stream) in models.iter_mut().zip(&names).zip(&streams) {
        let c = contexts
            .iter()
            .find(|c| &c.stream == stream)
            .expect("a context per stream");
        // A model that does not fit the stream fails as itself, not as its baseline.
        crate::pipeline::check_fit(model, c.images, &c.stream)?;
        let derived = Derived {
            shuffled: baseline(opts, model, name, Baseline::Shuffled, c, &mut notes)?,
            untrained: baseline(opts, model, name, Baseline::Untrained, c, &mut notes)?,
            nulls: opts.nulls,
            engine: opts.engine.clone(),
        };
        results.push(analyze_model(
            name.clone(),
            model,
            opts.seed,
            c,
            &derived,
            &mut notes,
        )?);
    }
    let ci = Ci {
        method: opts.ci,
        resamples: opts.bootstrap,
        seed: opts.seed,
    };
    if results.len() < 2 {
        notes.push("one model: no interval across instances can be given (the paper used 10 instances per condition)".into());
    }
    let mut summary = aggregate::summary(
        data.kind.name(),
        ci,
        opts.bootstrap_method,
        &opts.group_by,
        ctx,
        &results,
        notes,
    );
    if contexts.len() > 1 {
        summary.references = contexts
            .iter()
            .map(|c| (c.stream.describe(), c.reference.clone()))
            .collect();
    }
    summary.learning_curves = learning_curves(&summary.models, &mut summary.notes);
    summary.elapsed_s = start.elapsed().as_secs_f64();
    report::write(out, &opts.out, &summary, &results, ctx, opts.figures)?;
    Ok(summary)
}

/// The training history of every model whose folder is an epc instance folder (it has a
/// `history.jsonl`), keyed by model name; a history that cannot be read is left out with a
/// note.
fn learning_curves(
    models: &[crate::summary::ModelInfo],
    notes: &mut Vec<String>,
) -> std::collections::BTreeMap<String, crate::summary::LearningCurve> {
    let mut out = std::collections::BTreeMap::new();
    for m in models {
        let Some(dir) = m.path.parent() else { continue };
        let inst = epc_core::run::InstanceDir::new(dir);
        if !inst.history().is_file() {
            continue;
        }
        match inst.read_history() {
            Ok(h) if !h.is_empty() => {
                out.insert(
                    m.name.clone(),
                    crate::summary::LearningCurve {
                        epoch: h.iter().map(|r| r.epoch).collect(),
                        train_loss: h.iter().map(|r| r.train_loss).collect(),
                        val_loss: h.iter().map(|r| r.val_loss).collect(),
                    },
                );
            }
            Ok(_) => {}
            Err(e) => notes.push(format!("{}: no learning curve: {e}", m.name)),
        }
    }
    out
}

/// A network baseline of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Baseline {
    Shuffled,
    Untrained,
}

/// The unit rules on a network baseline of `model`, where asked for and available (a note
/// says why not otherwise): its weights shuffled (seeded from the analysis seed and the model
/// file), or its run's initial weights.
fn baseline(
    opts: &AnalysisOptions,
    model: &StepModel,
    name: &str,
    which: Baseline,
    ctx: &Context,
    notes: &mut Vec<String>,
) -> Result<Option<crate::pipeline::UnitRules>> {
    use crate::engine::Derive;
    let loaded = match which {
        Baseline::Shuffled if opts.baselines.shuffled => {
            let seed = crate::pipeline::shuffle_seed(opts.seed, model.sha256());
            match StepModel::derive(model.path(), Derive::Shuffled { seed }, &opts.engine) {
                Ok(m) => Some(m),
                Err(e) => {
                    notes.push(format!("{name}: no shuffled-weights baseline: {e}"));
                    None
                }
            }
        }
        Baseline::Untrained if opts.baselines.untrained => {
            let m = StepModel::untrained(model.path(), &opts.engine)?;
            if m.is_none() {
                notes.push(format!("{name}: no untrained baseline (its folder has no model.untrained.onnx: trained before epc kept initial weights, or not an epc run)"));
            }
            m
        }
        _ => None,
    };
    loaded
        .map(|mut m| crate::pipeline::unit_rules(&mut m, ctx))
        .transpose()
}

/// What was drawn, in words, where the test split is small or the test set was drawn over
/// several epochs.
fn set_notes(ctx: &Context) -> Vec<String> {
    let mut notes = Vec::new();
    let per_class = ctx.sets.class.iter().map(|s| s.len()).min().unwrap_or(0);
    if per_class < 500 {
        notes.push(format!(
            "the test split has {per_class} images of its rarest class, so each class set (the prediction rule, the error-unit test) has {per_class} sequences; with so few, the z-test of the error units flags only large effects"
        ));
    }
    if ctx.sets.test.len() > per_class {
        notes.push(format!(
            "the test set has {} sequences but the rarest class only {per_class} images, so it shows images more than once",
            ctx.sets.test.len()
        ));
    }
    let given: Vec<String> = ctx
        .sets
        .infos()
        .into_iter()
        .filter(|i| i.file.is_some())
        .map(|i| i.name)
        .collect();
    if !given.is_empty() {
        notes.push(format!(
            "{} set(s) read from files instead of drawn: {} (the unexpected sets are made from the shuffled sets in use)",
            given.len(),
            given.join(", ")
        ));
    }
    notes
}

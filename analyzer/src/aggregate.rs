//! From per-model results to the [`Summary`]: unique model names, per-measure maps and the
//! bootstrap intervals across models (computed here once; the figures read them back).

use crate::analysis::{self, EnergyCurves, ReferenceCurves, MEASURES};
use crate::pipeline::{Context, ModelResult};
use crate::sequences::STEPS;
use crate::stats::{self, Interval};
use crate::summary::{CiCurve, LesionSummary, MeasureCurves, SequenceCounts, Summary, UnitSet};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Short unique names: file stems, else parent/stem, else numbered.
pub(crate) fn model_names(paths: &[PathBuf]) -> Vec<String> {
    let stem = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into())
    };
    let unique = |v: &[String]| {
        let mut s = v.to_vec();
        s.sort();
        s.dedup();
        s.len() == v.len()
    };
    let stems: Vec<String> = paths.iter().map(|p| stem(p)).collect();
    if unique(&stems) {
        return stems;
    }
    let with_parent: Vec<String> = paths
        .iter()
        .map(|p| match p.parent().and_then(|d| d.file_name()) {
            Some(d) => format!("{}/{}", d.to_string_lossy(), stem(p)),
            None => stem(p),
        })
        .collect();
    if unique(&with_parent) {
        return with_parent;
    }
    stems
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{i}-{s}"))
        .collect()
}

/// Per-step CI across models of curves that all models have.
pub(crate) fn ci_curve(curves: &[&Vec<f64>], resamples: usize, seed: u64) -> CiCurve {
    let steps = curves.first().map_or(0, |c| c.len());
    let mut out = CiCurve {
        mean: Vec::new(),
        lo: Vec::new(),
        hi: Vec::new(),
    };
    for t in 0..steps {
        let v: Vec<f64> = curves.iter().map(|c| c[t]).collect();
        let Interval { mean, lo, hi } =
            stats::bootstrap_mean_ci(&v, resamples, seed.wrapping_add(t as u64));
        out.mean.push(mean);
        out.lo.push(lo);
        out.hi.push(hi);
    }
    out
}

fn measure_map<'a>(
    names: &[String],
    curves: impl Fn(usize) -> Option<&'a EnergyCurves>,
) -> MeasureCurves {
    let mut out = MeasureCurves::new();
    for m in MEASURES {
        let mut per = BTreeMap::new();
        for (i, name) in names.iter().enumerate() {
            if let Some(c) = curves(i).and_then(|e| e.get(m)) {
                per.insert(name.clone(), c.clone());
            }
        }
        if !per.is_empty() {
            out.insert(m.to_string(), per);
        }
    }
    out
}

/// CI per measure over the models that have the measure, where at least two do.
fn measure_ci(map: &MeasureCurves, resamples: usize, seed: u64) -> BTreeMap<String, CiCurve> {
    map.iter()
        .filter(|(_, per)| per.len() > 1)
        .map(|(m, per)| {
            (
                m.clone(),
                ci_curve(&per.values().collect::<Vec<_>>(), resamples, seed),
            )
        })
        .collect()
}

/// The CI of each group of curves that at least two models have; `None` with one model.
fn group_ci<'a>(
    groups: impl IntoIterator<Item = (&'static str, Vec<&'a Vec<f64>>)>,
    n_models: usize,
    resamples: usize,
    seed: u64,
) -> Option<BTreeMap<String, CiCurve>> {
    (n_models > 1).then(|| {
        groups
            .into_iter()
            .filter(|(_, curves)| curves.len() > 1)
            .map(|(k, curves)| (k.to_string(), ci_curve(&curves, resamples, seed)))
            .collect()
    })
}

/// Assembles the summary of `results` (in model order, named `names`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn summary(
    dataset: &str,
    seed: u64,
    resamples: usize,
    ctx: &Context,
    reference: ReferenceCurves,
    names: &[String],
    results: &[ModelResult],
    notes: Vec<String>,
) -> Summary {
    let nm = results.len();
    let energy = measure_map(names, |i| Some(&results[i].energy));
    let lesion_pred = measure_map(names, |i| results[i].lesion.as_ref().map(|l| &l.1));
    let lesion_rand = measure_map(names, |i| results[i].lesion.as_ref().map(|l| &l.2));
    let energy_ci = (nm > 1).then(|| measure_ci(&energy, resamples, seed));
    let lesion_ci = (nm > 1).then(|| {
        [
            ("intact", &energy),
            ("prediction", &lesion_pred),
            ("random", &lesion_rand),
        ]
        .into_iter()
        .map(|(k, m)| (k.to_string(), measure_ci(m, resamples, seed)))
        .collect()
    });
    let postsynaptic: BTreeMap<_, _> = results
        .iter()
        .filter_map(|r| Some((r.info.name.clone(), r.postsynaptic.clone()?)))
        .collect();
    let postsynaptic_ci = group_ci(
        [
            (
                "prediction",
                postsynaptic
                    .values()
                    .filter_map(|p| p.prediction.as_ref())
                    .collect(),
            ),
            (
                "error_class0",
                postsynaptic
                    .values()
                    .filter_map(|p| p.error_class0.as_ref())
                    .collect(),
            ),
        ],
        nm,
        resamples,
        seed,
    );
    Summary {
        toolkit_version: epc_core::TOOLKIT_VERSION.to_string(),
        dataset: dataset.to_string(),
        seed,
        steps: STEPS,
        sequences: SequenceCounts {
            test: ctx.test.info.sequences,
            distractor: ctx.distractor.info.sequences,
            deterministic: ctx.det.info.sequences,
        },
        sequence_sets: vec![
            ctx.test.info.clone(),
            ctx.distractor.info.clone(),
            ctx.det.info.clone(),
        ],
        models: results.iter().map(|r| r.info.clone()).collect(),
        energy,
        energy_ci,
        reference,
        prediction_units: per_model(results, |r| Some(UnitSet::from_flags(&r.pred))),
        error_units: per_model(results, |r| Some(UnitSet::from_flags(&r.err))),
        unit_types: per_model(results, |r| Some(analysis::type_counts(&r.types))),
        input_variance: per_model(results, |r| r.variance.clone()),
        lesion: LesionSummary {
            size: per_model(results, |r| {
                r.lesion
                    .as_ref()
                    .map(|_| analysis::any_class(&r.pred).len())
            }),
            random_units: per_model(results, |r| Some(r.lesion.as_ref()?.0.clone())),
            prediction: lesion_pred,
            random: lesion_rand,
            ci: lesion_ci,
        },
        drive: per_model(results, |r| r.drive.clone()),
        postsynaptic,
        postsynaptic_ci,
        notes,
        elapsed_s: 0.0,
    }
}

/// `f` of every model that has it, keyed by model name.
fn per_model<T>(
    results: &[ModelResult],
    f: impl Fn(&ModelResult) -> Option<T>,
) -> BTreeMap<String, T> {
    results
        .iter()
        .filter_map(|r| Some((r.info.name.clone(), f(r)?)))
        .collect()
}
